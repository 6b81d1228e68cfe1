//! The NATS operations of the adapter protocol (docs/ADAPTER.md, "NATS operations"),
//! each a call into `kez_nats` (docs/NATS.md): nkeys, v2 JWTs, `.creds` files and the
//! check of a credential set.
//!
//! Rejections carry a *reason code*: a `kez_nats::check` finding code (`jwt.malformed`,
//! `chain.account_self_signed`, …) or, for nkeys, an `nkey.*` code naming the
//! [`NkeyError`] variant. A check answers `rejected` when it has findings of severity
//! error; its reason is their distinct codes, sorted and joined with `+`.
//!
//! Where docs/ADAPTER.md leaves a choice open this adapter decides as follows:
//!
//! * `nats_jwt_encode`: the claims are `kez_nats`' defaults for the type (nats-io/jwt's
//!   `New…Claims`) with the `nats` members given merged in as Go's `json.Unmarshal` into
//!   them would (objects member by member, everything else replaced). A member the claim
//!   type does not know is `usage`.
//! * `nats_check`: the set is staged as an nsc home in a private temporary directory
//!   (a nats-server config preloading the accounts, the `.creds` files under `keys/creds`,
//!   mode 0600) and checked with `kez_nats::check::check_with`, so what is reported is
//!   exactly what `kez-verify nats check` reports for those files.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kez_nats::check::{self, CheckOptions, Severity};
use kez_nats::claims::{AccountClaims, ClaimType, Claims, OperatorClaims, UserClaims};
use kez_nats::jwt::{self, Jwt, JwtError, HEADER_JSON};
use kez_nats::nkey::{NkeyError, PublicNkey, Role, Seed};
use kez_nats::{creds, interop};
use serde_json::{json, Value};

use super::args::Args;
use super::protocol::OpError;

/// The result of an op, before it is framed.
type OpResult = Result<Value, OpError>;

/// `{"status": "rejected", "reason", "message"}`.
fn rejected(reason: &str, message: impl std::fmt::Display) -> Value {
    json!({"status": "rejected", "reason": reason, "message": message.to_string()})
}

/// The reason code of an nkey that does not decode.
pub(crate) fn nkey_reason(error: &NkeyError) -> &'static str {
    match error {
        NkeyError::Empty => "nkey.empty",
        NkeyError::Whitespace { .. } => "nkey.whitespace",
        NkeyError::Padding { .. } => "nkey.padding",
        NkeyError::Length { .. } => "nkey.length",
        NkeyError::Base32 { .. } => "nkey.base32",
        NkeyError::Crc => "nkey.crc",
        NkeyError::UnsupportedRole { .. } => "nkey.role",
        NkeyError::WrongForm { .. } => "nkey.form",
        NkeyError::WrongRole { .. } => "nkey.wrong_role",
        _ => "nkey.malformed",
    }
}

/// The reason code (a `kez_nats::check` finding code) of a JWT that does not decode,
/// verify or encode.
pub(crate) fn jwt_reason(error: &JwtError) -> &'static str {
    match error {
        JwtError::LegacyV1 => "jwt.v1",
        JwtError::Version { .. } => "jwt.version_unsupported",
        JwtError::ClaimType { found, .. } if found == "none" => "jwt.type_missing",
        JwtError::ClaimType { .. } => "jwt.type_other",
        JwtError::Claims(_) => "jwt.claims_invalid",
        JwtError::Issuer(_) | JwtError::IssuerRole { .. } => "jwt.issuer_invalid",
        JwtError::Subject(_) => "jwt.subject_invalid",
        JwtError::BadSignature => "jwt.signature_invalid",
        _ => "jwt.malformed",
    }
}

/// A role argument: `operator`, `account` or `user`; another name is unsupported.
fn role(args: &Args<'_>, name: &str) -> Result<Role, OpError> {
    match args.string(name)? {
        "operator" => Ok(Role::Operator),
        "account" => Ok(Role::Account),
        "user" => Ok(Role::User),
        other => Err(OpError::unsupported(format!(
            "argument {}: unsupported role {:?} (expected operator, account or user)",
            args.name(name),
            other.chars().take(24).collect::<String>()
        ))),
    }
}

/// A claim type argument; another name is unsupported.
fn claim_type(args: &Args<'_>, name: &str) -> Result<ClaimType, OpError> {
    let text = args.string(name)?;
    ClaimType::parse(text).ok_or_else(|| {
        OpError::unsupported(format!(
            "argument {}: unsupported claim type {:?} (expected operator, account or user)",
            args.name(name),
            text.chars().take(24).collect::<String>()
        ))
    })
}

/// A seed argument (`S…`). A seed that does not parse is the caller's mistake.
fn seed(args: &Args<'_>, name: &str) -> Result<Seed, OpError> {
    Seed::parse(args.string(name)?).map_err(|e| {
        OpError::usage(format!(
            "argument {}: not an nkey seed: {e}",
            args.name(name)
        ))
    })
}

/// An integer time argument as nats-io/jwt's `int64`.
fn time(args: &Args<'_>, name: &str) -> Result<Option<i64>, OpError> {
    Ok(args
        .opt_time(name)?
        // Times are at most 2^53 - 1, so they fit.
        .map(|t| i64::try_from(t).unwrap_or(i64::MAX)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

// ---------------------------------------------------------------------------------------
// nkeys

/// `nats_nkey_create`: `{role, raw}` → `{seed, public}`.
pub(crate) fn nkey_create(args: &Args<'_>) -> OpResult {
    let role = role(args, "role")?;
    let raw = args
        .opt_aux("raw")?
        .ok_or_else(|| OpError::usage("missing argument raw"))?;
    let seed = interop::seed_from_raw(role, &raw)
        .map_err(|e| OpError::internal(format!("cannot build the seed: {e}")))?;
    Ok(json!({
        "seed": seed.to_text().as_str(),
        "public": seed.public_key().to_string(),
    }))
}

/// `nats_nkey_decode`: `{text, role?}` → the key's form, role, public key and bytes.
pub(crate) fn nkey_decode(args: &Args<'_>) -> OpResult {
    let text = args.string("text")?;
    let wanted = match args.opt_string("role")? {
        Some(_) => Some(role(args, "role")?),
        None => None,
    };
    let decoded = if text.starts_with('S') {
        Seed::parse(text).map(|seed| {
            let raw = seed_raw(&seed);
            (seed.public_key(), Some(raw))
        })
    } else {
        PublicNkey::parse(text).map(|key| (key, None))
    };
    let (public, raw) = match decoded {
        Ok(found) => found,
        Err(e) => return Ok(rejected(nkey_reason(&e), e)),
    };
    if let Some(expected) = wanted.filter(|r| *r != public.role()) {
        let e = NkeyError::WrongRole {
            expected,
            found: public.role(),
        };
        return Ok(rejected(nkey_reason(&e), e));
    }
    let mut result = json!({
        "status": "ok",
        "form": if raw.is_some() { "seed" } else { "public" },
        "role": public.role().name(),
        "public": public.to_string(),
        "key": hex(public.as_bytes()),
    });
    if let Some(raw) = raw {
        result["raw"] = Value::String(raw);
    }
    Ok(result)
}

/// The 32 raw seed bytes in hex: the seed text decoded, without prefix and CRC.
fn seed_raw(seed: &Seed) -> String {
    let text = seed.to_text();
    // A seed that parsed re-encodes to 58 valid base32 characters: 36 bytes.
    let bytes = base32_decode(text.as_bytes());
    hex(bytes.get(2..34).unwrap_or_default())
}

/// RFC 4648 base32 without padding, decoded; trailing bits are dropped.
fn base32_decode(text: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// JWTs

/// Merges `overlay` into `base` as Go's `json.Unmarshal` into a struct does: objects
/// member by member, everything else replaced.
fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (name, value) in overlay {
                match base.get_mut(name) {
                    Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                    _ => {
                        base.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// Whether a JSON value is what Go's `omitempty` leaves out.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// Builds claims of type `C` from `claims` and the arguments, then signs them.
fn encode_typed<C: Claims>(mut claims: C, args: &Args<'_>, signer: &Seed, iat: i64) -> OpResult {
    {
        let data = claims.data_mut();
        if let Some(name) = args.opt_string("name")? {
            data.name = name.to_string();
        }
        if let Some(t) = time(args, "expires")? {
            data.expires = t;
        }
        if let Some(t) = time(args, "not_before")? {
            data.not_before = t;
        }
        if let Some(aud) = args.opt_string("audience")? {
            data.audience = aud.to_string();
        }
    }
    if let Some(nats) = args.opt_object("nats")? {
        let internal = |e: serde_json::Error| OpError::internal(format!("claims: {e}"));
        let mut value = serde_json::to_value(&claims).map_err(internal)?;
        merge(&mut value["nats"], &Value::Object(nats.clone()));
        claims = serde_json::from_value(value)
            .map_err(|e| OpError::usage(format!("argument nats: not {} claims: {e}", C::TYPE)))?;
        let back = serde_json::to_value(&claims).map_err(internal)?;
        let known = back.get("nats").and_then(Value::as_object);
        let generic = ["type", "version"];
        if let Some(name) = nats.iter().find_map(|(name, value)| {
            let dropped = !known.is_some_and(|k| k.contains_key(name));
            (dropped && !is_empty(value) && !generic.contains(&name.as_str())).then_some(name)
        }) {
            return Err(OpError::usage(format!(
                "argument nats: {} claims have no member {:?}",
                C::TYPE,
                name.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(match jwt::encode(&mut claims, signer, iat) {
        Ok(token) => json!({"status": "ok", "jwt": token}),
        Err(JwtError::Encode(e)) => return Err(OpError::internal(e)),
        Err(e) => rejected(jwt_reason(&e), e),
    })
}

/// `nats_jwt_encode`: `{type, signer, subject, iat, name?, expires?, not_before?,
/// audience?, nats?}` → `{status, jwt}`.
pub(crate) fn jwt_encode(args: &Args<'_>) -> OpResult {
    let kind = claim_type(args, "type")?;
    let signer = seed(args, "signer")?;
    let subject = args.string("subject")?;
    let iat = time(args, "iat")?.ok_or_else(|| OpError::usage("missing argument iat"))?;
    match kind {
        ClaimType::Operator => encode_typed(OperatorClaims::new(subject), args, &signer, iat),
        ClaimType::Account => encode_typed(AccountClaims::new(subject), args, &signer, iat),
        ClaimType::User => encode_typed(UserClaims::new(subject), args, &signer, iat),
    }
}

/// `nats_jwt_sign_raw`: `{signer, payload, header?, over?}` → `{jwt}`: exactly these
/// bytes, signed over `header.payload` (`over = "jwt"`, the default) or the payload
/// segment alone (`"payload"`, what nats-io/jwt checks for v1 and untyped claims).
pub(crate) fn jwt_sign_raw(args: &Args<'_>) -> OpResult {
    let signer = seed(args, "signer")?;
    let payload = URL_SAFE_NO_PAD.encode(args.string("payload")?);
    let header = URL_SAFE_NO_PAD.encode(args.opt_string("header")?.unwrap_or(HEADER_JSON));
    let signing_input = match args.opt_string("over")?.unwrap_or("jwt") {
        "jwt" => format!("{header}.{payload}"),
        "payload" => payload.clone(),
        _ => {
            return Err(OpError::usage(
                "argument over: expected \"jwt\" or \"payload\"",
            ))
        }
    };
    let signature = URL_SAFE_NO_PAD.encode(signer.sign(signing_input.as_bytes()));
    Ok(json!({"jwt": format!("{header}.{payload}.{signature}")}))
}

/// Decodes and verifies `text` as claims of type `C`, as nats-io/jwt's `Decode` does.
fn decode_typed<C: Claims>(text: &str, at: Option<i64>) -> Result<Value, JwtError> {
    let (claims, issuer) = Jwt::decode_verified::<C>(text)?;
    let data = claims.data();
    if let Some(at) = at {
        if data.expires > 0 && at > data.expires {
            return Ok(rejected(
                "jwt.expired",
                format!("expired at {}", data.expires),
            ));
        }
        if data.not_before > 0 && data.not_before > at {
            return Ok(rejected(
                "jwt.not_yet_valid",
                format!("not valid before {}", data.not_before),
            ));
        }
    }
    Ok(json!({
        "status": "ok",
        "type": C::TYPE.as_str(),
        "issuer": issuer.to_string(),
        "subject": data.subject,
    }))
}

/// `nats_jwt_decode`: `{jwt, at?}` → `{status, type, issuer, subject, claims}`.
pub(crate) fn jwt_decode(args: &Args<'_>) -> OpResult {
    let text = args.string("jwt")?;
    let at = time(args, "at")?;
    let jwt = match Jwt::decode_v2(text) {
        Ok(jwt) => jwt,
        Err(e) => return Ok(rejected(jwt_reason(&e), e)),
    };
    let decoded = match jwt.claim_type_text() {
        None => Err(JwtError::ClaimType {
            expected: ClaimType::User,
            found: "none".into(),
        }),
        Some(found) => match ClaimType::parse(found) {
            Some(ClaimType::Operator) => decode_typed::<OperatorClaims>(text, at),
            Some(ClaimType::Account) => decode_typed::<AccountClaims>(text, at),
            Some(ClaimType::User) => decode_typed::<UserClaims>(text, at),
            None => {
                return Ok(rejected(
                    "jwt.type_other",
                    format!(
                        "claim type {:?} is not operator, account or user",
                        found.chars().take(24).collect::<String>()
                    ),
                ))
            }
        },
    };
    Ok(match decoded {
        Ok(mut result) => {
            if result["status"] == "ok" {
                result["claims"] = Value::Object(jwt.payload().clone());
            }
            result
        }
        Err(JwtError::ClaimType { found, .. }) if found == "none" => rejected(
            "jwt.type_missing",
            "no nats.type: nats-io/jwt reads generic claims",
        ),
        Err(e) => rejected(jwt_reason(&e), e),
    })
}

// ---------------------------------------------------------------------------------------
// .creds files

/// `nats_creds_format`: `{jwt, seed}` → `{status, creds}`, as nats-io/jwt
/// `FormatUserConfig` (which refuses a JWT that is not a user JWT and a seed that is not
/// a user seed).
pub(crate) fn creds_format(args: &Args<'_>) -> OpResult {
    let token = args.string("jwt")?;
    let seed = match Seed::parse(args.string("seed")?) {
        Ok(seed) if seed.role() == Role::User => seed,
        Ok(seed) => {
            return Ok(rejected(
                "creds.malformed",
                format!("expected a user seed, found a seed of role {}", seed.role()),
            ))
        }
        Err(e) => return Ok(rejected("creds.malformed", format!("the seed: {e}"))),
    };
    match Jwt::decode(token) {
        Err(e) => return Ok(rejected(jwt_reason(&e), e)),
        Ok(jwt) if jwt.claim_type_text() != Some("user") => {
            return Ok(rejected("creds.not_user", "the JWT is not a user JWT"))
        }
        Ok(_) => {}
    }
    let text = creds::format(token, &seed);
    Ok(json!({"status": "ok", "creds": text.as_str()}))
}

/// `nats_creds_parse`: `{creds}` → `{status, jwt, seed, public, canonical}`.
pub(crate) fn creds_parse(args: &Args<'_>) -> OpResult {
    Ok(match creds::parse(args.string("creds")?) {
        Ok(parsed) => json!({
            "status": "ok",
            "jwt": parsed.jwt(),
            "seed": parsed.seed().to_text().as_str(),
            "public": parsed.seed().public_key().to_string(),
            "canonical": parsed.deviations().is_empty(),
        }),
        Err(e) => rejected("creds.malformed", e),
    })
}

// ---------------------------------------------------------------------------------------
// Checking a credential set

/// Writes the set as an nsc home: `stores/` (empty), a memory-resolver config with the
/// operator and the accounts, and each `.creds` under `keys/creds/`.
fn stage(home: &Path, operator: &str, accounts: &[&str], creds: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir(home.join("stores"))?;
    let mut conf = format!(
        "operator: {}\nresolver: MEMORY\nresolver_preload: {{\n",
        kez_nats::serverconf::quote(operator.trim())
    );
    for (i, account) in accounts.iter().enumerate() {
        let subject = Jwt::decode(account.trim())
            .map(|j| j.subject().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("UNDECODABLE{i}"));
        let _ = writeln!(
            conf,
            "  {}: {}",
            kez_nats::serverconf::quote(&subject),
            kez_nats::serverconf::quote(account.trim())
        );
    }
    conf.push_str("}\n");
    std::fs::write(home.join("nats-server.conf"), conf)?;
    let dir = home.join("keys").join("creds").join("set").join("set");
    std::fs::create_dir_all(&dir)?;
    for (i, text) in creds.iter().enumerate() {
        let path = dir.join(format!("user{i}.creds"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())?;
    }
    Ok(())
}

/// `nats_check`: `{operator, accounts?, creds?, at}` → `{status, reason?, errors,
/// codes, findings}`.
pub(crate) fn check_set(args: &Args<'_>) -> OpResult {
    let operator = args.string("operator")?;
    let accounts = args.opt_strings("accounts")?.unwrap_or_default();
    let creds = args.opt_strings("creds")?.unwrap_or_default();
    let at = time(args, "at")?.ok_or_else(|| OpError::usage("missing argument at"))?;
    let internal =
        |e: &dyn std::fmt::Display| OpError::internal(format!("cannot stage the set: {e}"));
    let home = tempfile::Builder::new()
        .prefix("kez-adapter-nats-")
        .tempdir()
        .map_err(|e| internal(&e))?;
    stage(home.path(), operator, &accounts, &creds).map_err(|e| internal(&e))?;
    let report = check::check_with(home.path(), CheckOptions::at(at)).map_err(|e| internal(&e))?;
    let findings: Vec<Value> = report
        .findings()
        .iter()
        .map(|f| {
            json!({
                "code": f.code().id(),
                "severity": f.severity(),
                "kind": f.kind(),
                "message": f.message(),
            })
        })
        .collect();
    let codes: BTreeSet<&str> = report.findings().iter().map(|f| f.code().id()).collect();
    let errors: BTreeSet<&str> = report
        .findings()
        .iter()
        .filter(|f| f.severity() == Severity::Error)
        .map(|f| f.code().id())
        .collect();
    let mut result = json!({
        "status": if errors.is_empty() { "ok" } else { "rejected" },
        "errors": errors,
        "codes": codes,
        "findings": findings,
    });
    if !errors.is_empty() {
        let reason: Vec<&str> = errors.iter().copied().collect();
        result["reason"] = Value::String(reason.join("+"));
        result["message"] = Value::String(format!("{} error finding(s)", errors.len()));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: fn(&Args<'_>) -> OpResult, args: Value) -> Value {
        let Value::Object(map) = args else {
            unreachable!("test arguments are objects")
        };
        op(&Args::new(&map)).unwrap()
    }

    #[test]
    fn merge_is_go_unmarshal_into_a_struct() {
        let mut base = json!({"limits": {"subs": -1, "conn": -1}, "pub": {"allow": ["a"]}});
        merge(
            &mut base,
            &json!({"limits": {"conn": 5}, "pub": {"allow": ["b", "c"]}, "tags": ["x"]}),
        );
        assert_eq!(
            base,
            json!({"limits": {"subs": -1, "conn": 5}, "pub": {"allow": ["b", "c"]}, "tags": ["x"]})
        );
    }

    #[test]
    fn seed_raw_bytes_round_trip_through_create_and_decode() {
        let raw = "07".repeat(32);
        let created = call(nkey_create, json!({"role": "account", "raw": raw}));
        let decoded = call(nkey_decode, json!({"text": created["seed"]}));
        assert_eq!(decoded["raw"], raw);
        assert_eq!(decoded["role"], "account");
        assert_eq!(decoded["public"], created["public"]);
        let public = call(
            nkey_decode,
            json!({"text": created["public"], "role": "user"}),
        );
        assert_eq!(public["reason"], "nkey.wrong_role");
    }

    #[test]
    fn unknown_nats_members_are_usage_errors() {
        let seed = call(
            nkey_create,
            json!({"role": "operator", "raw": "01".repeat(32)}),
        );
        let map = json!({
            "type": "operator", "signer": seed["seed"], "subject": seed["public"], "iat": 1,
            "nats": {"signing_key": ["O"]},
        });
        let Value::Object(map) = map else {
            unreachable!()
        };
        let err = jwt_encode(&Args::new(&map)).unwrap_err();
        assert_eq!(err.kind, super::super::protocol::ErrorKind::Usage);
        assert!(err.message.contains("signing_key"), "{}", err.message);
    }
}
