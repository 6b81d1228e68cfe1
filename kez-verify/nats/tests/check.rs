//! Each defect injected into a generated home (or a file of its own) yields its
//! finding, above all those nats-server lets through without a word.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use kez_core::{Algorithm, SecretKey};
use kez_nats::check::{Code, Kind, Severity};
use kez_nats::claims::{AccountClaims, OperatorClaims, UserClaims};
use kez_nats::generate::{generate, GenerateOptions, Generated};
use kez_nats::jwt::{self, Jwt};
use kez_nats::layout::Layout;
use kez_nats::nkey::{PublicNkey, Role, Seed};
use kez_nats::spec::Spec;
use serde_json::json;
use support::{check, codes, sign_payload, spec_text, NOW};

struct Home {
    _dir: tempfile::TempDir,
    g: Generated,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kez = SecretKey::generate(Algorithm::Ed25519)
            .public_key()
            .to_string();
        let spec = Spec::parse(&spec_text(&kez)).unwrap();
        let g = generate(&spec, &dir.path().join("out"), &GenerateOptions::at(NOW)).unwrap();
        Self { _dir: dir, g }
    }

    fn root(&self) -> PathBuf {
        self.g.layout.root().to_owned()
    }

    fn store(&self) -> PathBuf {
        self.g.layout.store("acme")
    }

    fn seed(&self, public: &str) -> Seed {
        let key = PublicNkey::parse(public).unwrap();
        Seed::parse(
            std::fs::read_to_string(self.g.layout.key(&key))
                .unwrap()
                .trim(),
        )
        .unwrap()
    }

    fn operator(&self) -> OperatorClaims {
        let text = std::fs::read_to_string(self.g.layout.operator_jwt("acme")).unwrap();
        Jwt::decode(&text).unwrap().claims().unwrap()
    }

    fn account(&self, name: &str) -> AccountClaims {
        let text = std::fs::read_to_string(self.g.layout.account_jwt("acme", name)).unwrap();
        Jwt::decode(&text).unwrap().claims().unwrap()
    }

    /// ORDERS' unscoped signing key.
    fn orders_signing(&self) -> Seed {
        let account = self.account("ORDERS");
        let key = account
            .nats
            .signing_keys
            .iter()
            .find(|k| k.scope().is_none())
            .unwrap();
        self.seed(key.key())
    }

    fn put_user(&self, name: &str, jwt: &str) -> PathBuf {
        let path = self.g.layout.user_jwt("acme", "ORDERS", name);
        std::fs::write(&path, jwt).unwrap();
        path
    }

    fn put_account(&self, name: &str, jwt: &str) {
        std::fs::write(self.g.layout.account_jwt("acme", name), jwt).unwrap();
    }

    fn user_claims(&self, name: &str) -> UserClaims {
        let user = Seed::generate(Role::User).unwrap();
        let mut claims = UserClaims::new(user.public_key().to_string());
        claims.data.name = name.to_string();
        claims.nats.issuer_account = self.account("ORDERS").data.subject;
        claims.nats.permissions.permissions.publish.allow = vec!["x".into()];
        claims
    }
}

fn only(report: &kez_nats::check::Report, code: Code) {
    assert_eq!(codes(report), [code], "{:#?}", report.findings());
}

// --- What nats-server lets through ---------------------------------------------------

#[test]
fn operator_jwt_not_self_signed() {
    let home = Home::new();
    let mut claims = home.operator();
    let other = Seed::generate(Role::Operator).unwrap();
    let token = jwt::encode(&mut claims, &other, NOW).unwrap();
    std::fs::write(home.g.layout.operator_jwt("acme"), token).unwrap();
    let report = check(&home.store());
    only(&report, Code::ChainOperatorNotSelfSigned);
    assert_eq!(report.findings()[0].kind(), Kind::Untrusted);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn permission_members_under_names_the_server_ignores() {
    let home = Home::new();
    let account = home.account("ORDERS").data.subject;
    let user = Seed::generate(Role::User).unwrap();
    let mut payload = json!({
        "iat": NOW, "iss": "", "name": "mallory", "sub": user.public_key().to_string(),
        "nats": {
            "publish": {"allow": ["orders.lookup"]},
            "sub": {"allow": ["orders.events.>"], "allw": ["x"]},
            "pub": {},
            "issuer_account": account, "type": "user", "version": 2
        }
    });
    let signer = home.orders_signing();
    payload["iss"] = json!(signer.public_key().to_string());
    let mut data: kez_nats::claims::ClaimsData = serde_json::from_value(payload.clone()).unwrap();
    payload["jti"] = json!(jwt::jti(&data));
    data.id.clear();
    home.put_user("mallory", &sign_payload(&payload, &signer));
    let report = check(&home.store());
    let found = codes(&report);
    assert_eq!(
        found
            .iter()
            .filter(|c| **c == Code::PermUnknownField)
            .count(),
        2,
        "{:#?}",
        report.findings()
    );
    let messages: Vec<&str> = report.findings().iter().map(|f| f.message()).collect();
    assert!(
        messages.iter().any(|m| m.starts_with("nats.publish ")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("nats.sub.allw ")),
        "{messages:?}"
    );
    assert!(report
        .findings()
        .iter()
        .all(|f| f.code() != Code::PermUnknownField || f.severity() == Severity::Error));
}

#[test]
fn self_signed_account() {
    let home = Home::new();
    let mut claims = home.account("ORDERS");
    let identity = home.seed(&claims.data.subject.clone());
    let token = jwt::encode(&mut claims, &identity, NOW).unwrap();
    home.put_account("ORDERS", &token);
    only(&check(&home.store()), Code::ChainAccountSelfSigned);
}

#[test]
fn missing_nats_type() {
    let home = Home::new();
    let signer = home.orders_signing();
    let payload = json!({
        "iat": NOW, "iss": signer.public_key().to_string(), "name": "typeless",
        "sub": Seed::generate(Role::User).unwrap().public_key().to_string(),
        "nats": {"pub": {}, "sub": {}, "version": 2}
    });
    home.put_user("typeless", &sign_payload(&payload, &signer));
    let report = check(&home.store());
    only(&report, Code::JwtTypeMissing);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn v1_jwt_in_a_store() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let home = Home::new();
    let signer = home.orders_signing();
    let payload = json!({
        "iat": NOW, "iss": signer.public_key().to_string(), "name": "old",
        "sub": Seed::generate(Role::User).unwrap().public_key().to_string(),
        "type": "user", "issuer_account": home.account("ORDERS").data.subject,
        "nats": {"pub": {"allow": ["x"]}, "sub": {}}
    });
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"jwt","alg":"ed25519"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(body.as_bytes()));
    home.put_user("old", &format!("{header}.{body}.{sig}"));
    // Signature (over the payload only), issuer_account at the top, chain: all fine;
    // what remains is that it is v1.
    only(&check(&home.store()), Code::JwtV1);
}

#[test]
fn missing_nats_version_and_a_v1_header_on_v2_claims() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let home = Home::new();
    let signer = home.orders_signing();
    let payload = json!({
        "iat": NOW, "iss": signer.public_key().to_string(), "name": "unversioned",
        "sub": Seed::generate(Role::User).unwrap().public_key().to_string(),
        "nats": {"pub": {"allow": ["x"]}, "sub": {}, "type": "user",
                 "issuer_account": home.account("ORDERS").data.subject}
    });
    home.put_user("unversioned", &sign_payload(&payload, &signer));
    only(&check(&home.store()), Code::JwtVersionUnsupported);
    std::fs::remove_file(home.g.layout.user_jwt("acme", "ORDERS", "unversioned")).unwrap();

    // v2 claims under the v1 header: nats-io/jwt verifies header.payload and accepts.
    let mut claims = home.user_claims("oldhead");
    let token = jwt::encode(&mut claims, &signer, NOW).unwrap();
    let body = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"jwt","alg":"ed25519"}"#);
    let input = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(input.as_bytes()));
    home.put_user("oldhead", &format!("{input}.{sig}"));
    only(&check(&home.store()), Code::JwtHeaderNonCanonical);
}

// --- Plain errors ----------------------------------------------------------------------

#[test]
fn bad_signature_in_creds() {
    let home = Home::new();
    let path = home.g.layout.creds("acme", "ORDERS", "bob");
    let text = std::fs::read_to_string(&path).unwrap();
    let jwt = text.lines().nth(1).unwrap();
    let mut broken = jwt.to_string();
    let last = broken.pop().unwrap();
    broken.push(if last == 'A' { 'Q' } else { 'A' });
    std::fs::write(&path, text.replace(jwt, &broken)).unwrap();
    let report = check(&path);
    assert!(
        codes(&report).contains(&Code::JwtSignatureInvalid),
        "{:#?}",
        report.findings()
    );
}

#[test]
fn expired_and_not_yet_valid_users() {
    let home = Home::new();
    let signer = home.orders_signing();
    let mut claims = home.user_claims("late");
    claims.data.expires = NOW - 1;
    home.put_user(
        "late",
        &jwt::encode(&mut claims, &signer, NOW - 10).unwrap(),
    );
    let mut claims = home.user_claims("early");
    claims.data.not_before = NOW + 100;
    home.put_user("early", &jwt::encode(&mut claims, &signer, NOW).unwrap());
    assert_eq!(
        codes(&check(&home.store())),
        [Code::JwtNotYetValid, Code::JwtExpired]
    );
}

#[test]
fn scoped_user_with_its_own_permissions() {
    let home = Home::new();
    let account = home.account("ORDERS");
    let scope = account
        .nats
        .signing_keys
        .iter()
        .find_map(|k| k.scope())
        .unwrap();
    let signer = home.seed(&scope.key);
    let mut claims = home.user_claims("wide");
    home.put_user("wide", &jwt::encode(&mut claims, &signer, NOW).unwrap());
    only(&check(&home.store()), Code::ChainScopedUserHasPermissions);
}

#[test]
fn signing_key_user_without_issuer_account() {
    let home = Home::new();
    let mut claims = home.user_claims("lost");
    claims.nats.issuer_account.clear();
    home.put_user(
        "lost",
        &jwt::encode(&mut claims, &home.orders_signing(), NOW).unwrap(),
    );
    only(&check(&home.store()), Code::ChainIssuerAccountMissing);
}

#[test]
fn user_signed_by_a_stranger_key() {
    let home = Home::new();
    let mut claims = home.user_claims("forged");
    let stranger = Seed::generate(Role::Account).unwrap();
    home.put_user("forged", &jwt::encode(&mut claims, &stranger, NOW).unwrap());
    only(&check(&home.store()), Code::ChainUserUntrusted);
}

#[test]
fn account_signed_by_an_unknown_operator_and_by_the_identity_under_strict_usage() {
    let home = Home::new();
    let mut claims = home.account("BILLING");
    let stranger = Seed::generate(Role::Operator).unwrap();
    home.put_account(
        "BILLING",
        &jwt::encode(&mut claims, &stranger, NOW).unwrap(),
    );
    only(&check(&home.store()), Code::ChainAccountUntrusted);

    let identity = home.seed(&home.operator().data.subject);
    home.put_account(
        "BILLING",
        &jwt::encode(&mut claims, &identity, NOW).unwrap(),
    );
    only(&check(&home.store()), Code::ChainStrictSigningKey);
}

/// Regression (issue 5): a user signed by its account's identity key under an operator
/// with `strict_signing_key_usage` checked clean, though nats-server refuses it.
#[test]
fn user_signed_by_the_account_identity_key_under_strict_usage() {
    let home = Home::new();
    let mut claims = home.user_claims("direct");
    claims.nats.issuer_account.clear();
    let identity = home.seed(&home.account("ORDERS").data.subject);
    let path = home.put_user("direct", &jwt::encode(&mut claims, &identity, NOW).unwrap());
    let report = check(&home.store());
    only(&report, Code::ChainStrictSigningKey);
    let finding = &report.findings()[0];
    assert!(
        finding.message().contains("strict_signing_key_usage"),
        "{finding:?}"
    );
    assert!(
        finding
            .location()
            .contains(&*path.file_name().unwrap().to_string_lossy()),
        "{finding:?}"
    );
    assert_eq!(report.exit_code(), 1);

    // The same user under an operator that does not require signing keys is fine.
    let mut operator = home.operator();
    operator.nats.strict_signing_key_usage = false;
    let operator_seed = home.seed(&operator.data.subject);
    std::fs::write(
        home.g.layout.operator_jwt("acme"),
        jwt::encode(&mut operator, &operator_seed, NOW).unwrap(),
    )
    .unwrap();
    let report = check(&home.store());
    assert!(report.findings().is_empty(), "{:#?}", report.findings());
}

#[test]
fn scope_of_an_unknown_kind() {
    let home = Home::new();
    let text = std::fs::read_to_string(home.g.layout.account_jwt("acme", "ORDERS")).unwrap();
    let jwt = Jwt::decode(&text).unwrap();
    let mut payload = serde_json::Value::Object(jwt.payload().clone());
    let keys = payload["nats"]["signing_keys"].as_array_mut().unwrap();
    let scoped = keys.iter_mut().find(|k| k.is_object()).unwrap();
    scoped["kind"] = json!("user_template");
    let operator = home.operator();
    let signer = home.seed(&operator.nats.signing_keys[0]);
    home.put_account("ORDERS", &sign_payload(&payload, &signer));
    let report = check(&home.store());
    assert!(
        codes(&report).contains(&Code::ChainScopeKindUnknown),
        "{:#?}",
        report.findings()
    );
}

#[test]
fn jti_that_nats_io_jwt_would_not_compute() {
    let home = Home::new();
    let signer = home.orders_signing();
    let mut claims = home.user_claims("edited");
    let token = jwt::encode(&mut claims, &signer, NOW).unwrap();
    let mut payload = serde_json::Value::Object(Jwt::decode(&token).unwrap().payload().clone());
    payload["name"] = json!("renamed");
    home.put_user("edited", &sign_payload(&payload, &signer));
    let report = check(&home.store());
    assert_eq!(
        codes(&report),
        [Code::JwtIdMismatch, Code::StoreNameMismatch],
        "{:#?}",
        report.findings()
    );
}

#[test]
fn bearer_token_in_an_account_that_disallows_them() {
    let home = Home::new();
    let mut account = home.account("ORDERS");
    account.nats.limits.account.disallow_bearer = true;
    let signer = home.seed(&home.operator().nats.signing_keys[0]);
    home.put_account("ORDERS", &jwt::encode(&mut account, &signer, NOW).unwrap());
    let mut claims = home.user_claims("bearer");
    claims.nats.permissions.bearer_token = true;
    home.put_user(
        "bearer",
        &jwt::encode(&mut claims, &home.orders_signing(), NOW).unwrap(),
    );
    only(&check(&home.store()), Code::ChainBearerDisallowed);
}

// --- Files -------------------------------------------------------------------------

/// Puts order-service's seed into bob's creds file; returns both creds paths (bob's, then
/// order-service's).
fn give_bob_the_order_services_seed(layout: &Layout) -> (PathBuf, PathBuf) {
    let bob = layout.creds("acme", "ORDERS", "bob");
    let svc = layout.creds("acme", "ORDERS", "order-service");
    let bob_text = std::fs::read_to_string(&bob).unwrap();
    let svc_text = std::fs::read_to_string(&svc).unwrap();
    let seed_line = |t: &str| t.lines().nth(9).unwrap().to_string();
    std::fs::write(
        &bob,
        bob_text.replace(&seed_line(&bob_text), &seed_line(&svc_text)),
    )
    .unwrap();
    (bob, svc)
}

#[test]
fn creds_with_another_users_seed_and_with_crlf() {
    let home = Home::new();
    let (bob, svc) = give_bob_the_order_services_seed(&home.g.layout);
    let svc_text = std::fs::read_to_string(&svc).unwrap();
    assert_eq!(
        codes(&check(&bob)),
        [Code::CredsSeedMismatch, Code::ChainIncomplete]
    );

    std::fs::write(&svc, svc_text.replace('\n', "\r\n")).unwrap();
    let report = check(&svc);
    assert_eq!(codes(&report), [Code::CredsLayout, Code::ChainIncomplete]);
    assert!(report.findings()[0].message().contains("CRLF"));
}

#[cfg(unix)]
#[test]
fn key_files_readable_by_others_or_misnamed() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = Home::new();
    let operator = PublicNkey::parse(&home.operator().data.subject).unwrap();
    let path = home.g.layout.key(&operator);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    only(&check(&home.root()), Code::StoreFileMode);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let other = Seed::generate(Role::Operator).unwrap();
    std::fs::write(&path, other.to_text().as_str()).unwrap();
    only(&check(&home.root()), Code::StoreKeyMismatch);
}

/// The walk over a home uses what was read, derived and verified ahead on several
/// threads; the report is the same whatever their number, and the same as checking each
/// file on its own finds.
#[test]
fn a_home_checks_the_same_on_any_number_of_threads() {
    let home = Home::new();
    let layout = &home.g.layout;
    // A creds file with another user's seed (its key file is not that seed, so the
    // seed's key is derived and compared), a user JWT with a broken signature, a key
    // file readable by others.
    let (bob, _) = give_bob_the_order_services_seed(layout);
    let user_jwt = layout.user_jwt("acme", "ORDERS", "order-service");
    let text = std::fs::read_to_string(&user_jwt).unwrap();
    let (head, signature) = text.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    std::fs::write(&user_jwt, format!("{head}.{flipped}{}", &signature[1..])).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let operator = PublicNkey::parse(&home.operator().data.subject).unwrap();
        std::fs::set_permissions(
            layout.key(&operator),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
    }
    let run = |threads: usize| {
        let mut options = kez_nats::check::CheckOptions::at(NOW);
        options.threads = threads;
        let report = kez_nats::check::check_with(home.root(), options).unwrap();
        serde_json::to_value(&report).unwrap()
    };
    let one = run(1);
    for threads in [2, 5] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
    let found = codes(&check(&home.root()));
    for code in [
        Code::CredsSeedMismatch,
        Code::JwtSignatureInvalid,
        #[cfg(unix)]
        Code::StoreFileMode,
    ] {
        assert!(found.contains(&code), "{code:?} not in {found:?}");
    }
    // The same findings as the files checked one by one.
    assert!(codes(&check(&bob)).contains(&Code::CredsSeedMismatch));
    assert!(codes(&check(&user_jwt)).contains(&Code::JwtSignatureInvalid));
}

#[test]
fn preload_entry_under_the_wrong_key() {
    let home = Home::new();
    let conf = std::fs::read_to_string(&home.g.memory_config).unwrap();
    let orders = home.account("ORDERS").data.subject;
    let billing = home.account("BILLING").data.subject;
    let swapped = conf
        .replace(&format!("  {orders}:"), "  SWAP_A:")
        .replace(&format!("  {billing}:"), &format!("  {orders}:"))
        .replace("  SWAP_A:", &format!("  {billing}:"));
    std::fs::write(&home.g.memory_config, swapped).unwrap();
    let report = check(&home.g.memory_config);
    assert_eq!(
        codes(&report),
        [Code::ConfigPreloadMismatch, Code::ConfigPreloadMismatch]
    );
}

#[test]
fn config_without_resolver_and_with_an_unreadable_operator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, "port: 4222\noperator: ./missing.jwt\n").unwrap();
    let report = check(&path);
    assert_eq!(
        codes(&report),
        [Code::ConfigOperatorMissing, Code::ConfigResolverMissing]
    );
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/NATS.md"),
    )
    .unwrap();
    for code in Code::ALL {
        assert!(
            doc.contains(&format!("`{}`", code.id())),
            "{} is not in docs/NATS.md",
            code.id()
        );
    }
}
