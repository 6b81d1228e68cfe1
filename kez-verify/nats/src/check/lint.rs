//! Members nats-io/jwt does not know. Go's `json.Unmarshal` drops them without a word,
//! so a permission spelt as in a server config (`publish`, `subscribe`, `allow_pub`…)
//! silently restricts nothing.

use serde_json::{Map, Value};

use super::findings::Code;
use super::token::Sink;
use crate::claims::ClaimType;

const TOP: &[&str] = &[
    "aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub", "nats",
];
const TOP_V1: &[&str] = &["type", "tags", "issuer_account"];
const GENERIC: &[&str] = &["tags", "type", "version"];
const PERMISSIONS: &[&str] = &["pub", "sub", "resp"];
const USER_LIMITS: &[&str] = &[
    "src",
    "times",
    "times_location",
    "subs",
    "data",
    "payload",
    "bearer_token",
    "allowed_connection_types",
];
const PERMISSION: &[&str] = &["allow", "deny"];
const RESPONSE: &[&str] = &["max", "ttl"];
const OPERATOR: &[&str] = &[
    "signing_keys",
    "account_server_url",
    "operator_service_urls",
    "system_account",
    "assert_server_version",
    "strict_signing_key_usage",
    "identity",
];
const ACCOUNT: &[&str] = &[
    "imports",
    "exports",
    "limits",
    "signing_keys",
    "revocations",
    "default_permissions",
    "mappings",
    "authorization",
    "trace",
    "cluster_traffic",
    "description",
    "info_url",
];
const LIMITS: &[&str] = &[
    "subs",
    "data",
    "payload",
    "imports",
    "exports",
    "wildcards",
    "disallow_bearer",
    "conn",
    "leaf",
    "mem_storage",
    "disk_storage",
    "streams",
    "consumer",
    "max_ack_pending",
    "mem_max_stream_bytes",
    "disk_max_stream_bytes",
    "max_bytes_required",
    "tiered_limits",
];
const SCOPE: &[&str] = &["kind", "key", "role", "template", "description"];

fn unknown<'a>(object: &'a Map<String, Value>, known: &[&[&str]]) -> Vec<&'a str> {
    object
        .keys()
        .filter(|k| !known.iter().any(|set| set.contains(&k.as_str())))
        .map(String::as_str)
        .collect()
}

fn report(ctx: &mut impl Sink, code: Code, location: &str, path: &str, keys: Vec<&str>) {
    for key in keys {
        let name = if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        };
        let message = match code {
            Code::PermUnknownField => format!(
                "{name} is not a member nats-io/jwt knows; nats-server ignores it, so it restricts nothing"
            ),
            _ => format!("{name} is not a member nats-io/jwt knows; nats-server ignores it"),
        };
        ctx.push(code, location, message);
    }
}

/// Checks `pub`/`sub`/`resp` inside `object` (a user `nats`, a scope template, default
/// permissions).
fn permissions(ctx: &mut impl Sink, location: &str, path: &str, object: &Map<String, Value>) {
    for (name, known) in [("pub", PERMISSION), ("sub", PERMISSION), ("resp", RESPONSE)] {
        if let Some(Value::Object(inner)) = object.get(name) {
            let keys = unknown(inner, &[known]);
            report(
                ctx,
                Code::PermUnknownField,
                location,
                &format!("{path}.{name}"),
                keys,
            );
        }
    }
}

/// Reports unknown members of a decoded JWT payload of type `kind`.
pub(crate) fn payload(
    ctx: &mut impl Sink,
    location: &str,
    kind: ClaimType,
    payload: &Map<String, Value>,
    v1: bool,
) {
    let top: &[&[&str]] = if v1 { &[TOP, TOP_V1] } else { &[TOP] };
    let keys = unknown(payload, top);
    report(ctx, Code::JwtUnknownField, location, "", keys);
    let Some(Value::Object(nats)) = payload.get("nats") else {
        return;
    };
    match kind {
        ClaimType::User => {
            let keys = unknown(
                nats,
                &[PERMISSIONS, USER_LIMITS, &["issuer_account"], GENERIC],
            );
            report(ctx, Code::PermUnknownField, location, "nats", keys);
            permissions(ctx, location, "nats", nats);
        }
        ClaimType::Operator => {
            let keys = unknown(nats, &[OPERATOR, GENERIC]);
            report(ctx, Code::JwtUnknownField, location, "nats", keys);
        }
        ClaimType::Account => {
            let keys = unknown(nats, &[ACCOUNT, GENERIC]);
            report(ctx, Code::JwtUnknownField, location, "nats", keys);
            if let Some(Value::Object(limits)) = nats.get("limits") {
                let keys = unknown(limits, &[LIMITS]);
                report(ctx, Code::JwtUnknownField, location, "nats.limits", keys);
            }
            if let Some(Value::Object(defaults)) = nats.get("default_permissions") {
                let keys = unknown(defaults, &[PERMISSIONS]);
                let path = "nats.default_permissions";
                report(ctx, Code::PermUnknownField, location, path, keys);
                permissions(ctx, location, path, defaults);
            }
            if let Some(Value::Array(keys)) = nats.get("signing_keys") {
                for (i, entry) in keys.iter().enumerate() {
                    let Value::Object(scope) = entry else {
                        continue;
                    };
                    let path = format!("nats.signing_keys[{i}]");
                    let unknown_keys = unknown(scope, &[SCOPE]);
                    report(ctx, Code::JwtUnknownField, location, &path, unknown_keys);
                    if let Some(Value::Object(template)) = scope.get("template") {
                        let path = format!("{path}.template");
                        let keys = unknown(template, &[PERMISSIONS, USER_LIMITS]);
                        report(ctx, Code::PermUnknownField, location, &path, keys);
                        permissions(ctx, location, &path, template);
                    }
                }
            }
        }
    }
}
