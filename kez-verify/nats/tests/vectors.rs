//! The upstream NATS test credentials (`../shared/vectors/nats`, SOURCES.md): decoding,
//! verification with the issuer, seeds deriving subjects, and `check` accepting them.
#![allow(clippy::unwrap_used)]

mod support;

use kez_nats::check::{self, CheckError, Code, InputKind, Severity};
use kez_nats::claims::{OperatorClaims, UserClaims};
use kez_nats::creds;
use kez_nats::jwt::{self, Algorithm, Jwt};
use kez_nats::nkey::{self, Role};
use support::{check, codes, vectors};

fn read(name: &str) -> String {
    std::fs::read_to_string(vectors().join(name)).unwrap()
}

#[test]
fn nats_rs_test_user_verifies_with_its_issuer_and_its_seed_derives_sub() {
    let text = read("nats.rs_TestUser.creds");
    let parsed = creds::parse(&text).unwrap();
    assert!(parsed.deviations().is_empty());
    let (claims, issuer) = Jwt::decode_verified::<UserClaims>(parsed.jwt()).unwrap();
    assert_eq!(issuer.role(), Role::Account);
    assert_eq!(issuer.to_string(), claims.data.issuer);
    assert_eq!(parsed.seed().public_key().to_string(), claims.data.subject);
    // jti = base32-nopad(SHA-512/256(JSON of aud, exp, iat, iss, name, nbf, sub)).
    assert_eq!(jwt::jti(&claims.data), claims.data.id);
    // Re-formatting reproduces the file byte for byte.
    assert_eq!(creds::format(parsed.jwt(), parsed.seed()).as_str(), text);
}

#[test]
fn nats_server_one_creds_verifies_and_derives_sub() {
    let text = read("nats-server_one.creds");
    let parsed = creds::parse(&text).unwrap();
    let (claims, _) = Jwt::decode_verified::<UserClaims>(parsed.jwt()).unwrap();
    assert_eq!(parsed.seed().public_key().to_string(), claims.data.subject);
    assert_eq!(jwt::jti(&claims.data), claims.data.id);
}

#[test]
fn check_accepts_the_upstream_creds() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["nats.rs_TestUser.creds", "nats-server_one.creds"] {
        // A private copy: the shared vectors are world-readable, which check reports.
        let copy = dir.path().join(name);
        std::fs::write(&copy, read(name)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let report = check(&copy);
        assert_eq!(report.input(), InputKind::Creds);
        assert!(report.is_clean(), "{name}: {:#?}", report.findings());
        // Only the account JWT is missing to follow the chain.
        assert_eq!(codes(&report), [Code::ChainIncomplete], "{name}");
        assert_eq!(report.exit_code(), 0);

        let shared = check(&vectors().join(name));
        assert!(shared.is_clean(), "{name}: {:#?}", shared.findings());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(vectors().join(name))
                .unwrap()
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                assert_eq!(codes(&shared), [Code::StoreFileMode, Code::ChainIncomplete]);
            }
        }
    }
}

#[test]
fn the_legacy_v1_operator_jwt_is_reported_as_such() {
    let text = read("nats-server_op.jwt");
    let block = *creds_blocks(&text).first().unwrap();
    let jwt = Jwt::decode(block).unwrap();
    assert_eq!(jwt.algorithm(), Algorithm::LegacyEd25519);
    assert!(jwt.is_v1());
    assert_eq!(Jwt::decode_v2(block).unwrap_err(), jwt::JwtError::LegacyV1);
    // The v1 signature covers the payload segment alone, by the operator itself.
    let issuer = jwt.verify().unwrap();
    assert_eq!(issuer.to_string(), jwt.subject());
    let claims: OperatorClaims = jwt.claims().unwrap();
    assert_eq!(claims.nats.signing_keys.len(), 3);

    // test.seed is the operator's seed.
    let seed = nkey::seed_from_decorated(&read("nats-server_test.seed")).unwrap();
    assert_eq!(seed.role(), Role::Operator);
    assert_eq!(seed.public_key().to_string(), jwt.subject());

    let report = check(&vectors().join("nats-server_op.jwt"));
    assert_eq!(report.input(), InputKind::Jwt);
    assert_eq!(codes(&report), [Code::JwtV1]);
    assert_eq!(report.findings()[0].severity(), Severity::Warning);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn a_seed_file_is_not_a_checkable_input() {
    let err = check::check(vectors().join("nats-server_test.seed")).unwrap_err();
    assert!(matches!(err, CheckError::UnknownInput { .. }), "{err}");
    assert!(!err.to_string().contains("SOAF"));
}

fn creds_blocks(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("eyJ")).collect()
}
