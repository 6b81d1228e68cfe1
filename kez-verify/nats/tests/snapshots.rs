//! insta snapshots of the claims `generate` writes for `fixtures/nats/org.toml`: the
//! operator, every account and every user JWT, header and payload decoded to JSON, one
//! snapshot per JWT (`tests/snapshots/<kind>_<name>.snap`).
//!
//! Keys are replaced by what they are (`[operator]`, `[account ORDERS]`,
//! `[ORDERS signing key]`, `[ORDERS role reader]`, `[user ORDERS/bob]`), wherever they
//! appear, member names included (revocations); `jti` by `[jti]`; times (`iat`, `exp`,
//! `nbf`, revocation times) relative to the generation time, as `[now]` or
//! `[now+<seconds>s]`. Checked in CI with
//! `cargo insta test --check --unreferenced=reject` (docs/TESTING.md).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kez_nats::claims::{AccountClaims, OperatorClaims, SigningKey};
use kez_nats::generate::{generate, GenerateOptions, Generated};
use kez_nats::jwt::Jwt;
use kez_nats::nkey::PublicNkey;
use kez_nats::spec::Spec;
use serde_json::{Map, Value};

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nats/org.toml")
}

fn read_jwt(path: &Path) -> Jwt {
    Jwt::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// Every key of the generated organisation, by what it is.
fn key_names(generated: &Generated, operator: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    names.insert(generated.operator.to_string(), "[operator]".to_string());
    let op: OperatorClaims = read_jwt(&generated.layout.operator_jwt(operator))
        .claims()
        .unwrap();
    for key in &op.nats.signing_keys {
        names.insert(key.clone(), "[operator signing key]".to_string());
    }
    for account in &generated.accounts {
        let name = &account.name;
        names.insert(account.public_key.to_string(), format!("[account {name}]"));
        let claims: AccountClaims = read_jwt(&generated.layout.account_jwt(operator, name))
            .claims()
            .unwrap();
        for key in &claims.nats.signing_keys {
            let label = match key {
                SigningKey::Key(_) => format!("[{name} signing key]"),
                SigningKey::Scoped(scope) => format!("[{name} role {}]", scope.role),
            };
            names.insert(key.key().to_string(), label);
        }
        for user in &account.users {
            names.insert(
                user.public_key.to_string(),
                format!("[user {name}/{}]", user.name),
            );
        }
    }
    names
}

fn relative(time: i64) -> String {
    match time - NOW {
        0 => "[now]".to_string(),
        d if d > 0 => format!("[now+{d}s]"),
        d => format!("[now{d}s]"),
    }
}

/// Replaces keys, `jti` and times (see the module docs).
fn redact(value: Value, names: &BTreeMap<String, String>, member: Option<&str>) -> Value {
    let key = |text: &str| -> Option<String> {
        PublicNkey::parse(text).ok().map(|_| {
            names
                .get(text)
                .cloned()
                .unwrap_or_else(|| "[unknown key]".to_string())
        })
    };
    match value {
        Value::String(text) => {
            if member == Some("jti") {
                return Value::String("[jti]".to_string());
            }
            Value::String(key(&text).unwrap_or(text))
        }
        Value::Number(n) if matches!(member, Some("iat" | "exp" | "nbf" | "revoked")) => {
            Value::String(relative(n.as_i64().unwrap()))
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| redact(v, names, member))
                .collect(),
        ),
        Value::Object(map) => {
            let revocations = member == Some("revocations");
            let mut out = Map::new();
            for (name, v) in map {
                let child = if revocations {
                    "revoked"
                } else {
                    name.as_str()
                };
                let v = redact(v, names, Some(child));
                out.insert(key(&name).unwrap_or(name), v);
            }
            Value::Object(out)
        }
        other => other,
    }
}

#[test]
fn generated_claims_of_the_fixture_organisation() {
    let spec = Spec::from_file(fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&spec, &dir.path().join("out"), &GenerateOptions::at(NOW)).unwrap();
    let op = spec.operator.name.as_str();
    let names = key_names(&generated, op);
    let layout = &generated.layout;

    let mut jwts = vec![("operator".to_string(), layout.operator_jwt(op))];
    for account in &generated.accounts {
        jwts.push((
            format!("account_{}", account.name),
            layout.account_jwt(op, &account.name),
        ));
        for user in &account.users {
            jwts.push((
                format!("user_{}_{}", account.name, user.name),
                user.jwt.clone().unwrap(),
            ));
        }
    }
    assert_eq!(jwts.len(), 1 + 3 + 5, "operator, 3 accounts, 5 users");

    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(fixture());
    settings.set_omit_expression(true);
    let _guard = settings.bind_to_scope();
    for (name, path) in jwts {
        let jwt = read_jwt(&path);
        let relative_path = path.strip_prefix(layout.root()).unwrap();
        let snapshot = serde_json::json!({
            "file": relative_path.to_string_lossy(),
            "header_canonical": jwt.header_is_canonical(),
            "signed_by": redact(Value::String(jwt.verify().unwrap().to_string()), &names, None),
            "payload": redact(Value::Object(jwt.payload().clone()), &names, None),
        });
        insta::assert_json_snapshot!(name, snapshot);
    }
}
