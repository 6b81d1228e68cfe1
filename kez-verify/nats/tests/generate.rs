//! generate → check round trips, idempotent regeneration, file modes, revocations.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use kez_core::{Algorithm, SecretKey};
use kez_nats::check::{Code, InputKind};
use kez_nats::claims::{AccountClaims, UserClaims};
use kez_nats::generate::{generate, GenerateError, GenerateOptions, Generated};
use kez_nats::jwt::Jwt;
use kez_nats::nkey::PublicNkey;
use kez_nats::spec::Spec;
use support::{check, codes, snapshot, spec_text, NOW};

fn kez_key() -> (SecretKey, String) {
    let key = SecretKey::generate(Algorithm::Ed25519);
    let text = key.public_key().to_string();
    (key, text)
}

fn build(out: &Path, spec: &Spec, force: bool) -> Generated {
    let mut options = GenerateOptions::at(NOW);
    options.force = force;
    generate(spec, out, &options).unwrap()
}

fn user<'a>(
    generated: &'a Generated,
    account: &str,
    name: &str,
) -> &'a kez_nats::generate::GeneratedUser {
    generated
        .accounts
        .iter()
        .find(|a| a.name == account)
        .and_then(|a| a.users.iter().find(|u| u.name == name))
        .unwrap()
}

#[test]
fn generated_output_checks_clean_with_no_findings_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (kez, kez_text) = kez_key();
    let spec = Spec::parse(&spec_text(&kez_text)).unwrap();
    let generated = build(&out, &spec, false);

    let report = check(&out);
    assert_eq!(report.input(), InputKind::Home);
    assert!(report.findings().is_empty(), "{:#?}", report.findings());
    let counts = report.counts();
    assert_eq!(
        (counts.operators, counts.accounts, counts.configs),
        (1, 3, 2)
    );
    // sys, alice (KEZ key, no creds), bob, order-service, billing-service
    assert_eq!((counts.users, counts.creds), (5, 4));
    assert_eq!(report.exit_code(), 0);

    // Every input kind on its own checks clean too.
    let layout = &generated.layout;
    for path in [
        layout.store("acme"),
        generated.memory_config.clone(),
        generated.full_config.clone(),
        user(&generated, "ORDERS", "bob").creds.clone().unwrap(),
        layout.operator_jwt("acme"),
    ] {
        let report = check(&path);
        let errors: Vec<_> = report
            .findings()
            .iter()
            .filter(|f| f.code() != kez_nats::check::Code::ChainIncomplete)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }

    // The KEZ person's user key is their KEZ key.
    let alice = user(&generated, "ORDERS", "alice");
    assert_eq!(
        alice.public_key,
        PublicNkey::from_kez(&kez.public_key()).unwrap()
    );
    assert!(alice.creds.is_none());

    // A single-role user is scoped: no permissions of its own, issued by the role key.
    let text = std::fs::read_to_string(
        user(&generated, "ORDERS", "order-service")
            .jwt
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let (claims, issuer) = Jwt::decode_verified::<UserClaims>(&text).unwrap();
    assert!(claims.nats.permissions.is_empty());
    let account_text = std::fs::read_to_string(layout.account_jwt("acme", "ORDERS")).unwrap();
    let (account, _) = Jwt::decode_verified::<AccountClaims>(&account_text).unwrap();
    let scope = account
        .nats
        .signing_key(&issuer.to_string())
        .unwrap()
        .scope()
        .unwrap();
    assert_eq!(scope.role, "writer");
    assert_eq!(
        scope.template.permissions.publish.deny,
        ["orders.events.audit"]
    );
    assert_eq!(account.nats.limits.jetstream.disk_storage, 1_073_741_824);
    assert_eq!(account.nats.limits.account.conn, 100);

    // A multi-role user carries the union, signed by the unscoped key.
    let text =
        std::fs::read_to_string(user(&generated, "ORDERS", "bob").jwt.as_ref().unwrap()).unwrap();
    let (bob, _) = Jwt::decode_verified::<UserClaims>(&text).unwrap();
    assert_eq!(
        bob.nats.permissions.permissions.publish.allow,
        ["orders.lookup", "orders.events.>"]
    );
    assert_eq!(bob.data.expires, 1_893_456_000);

    // The import names the exporting account's key.
    let billing = std::fs::read_to_string(layout.account_jwt("acme", "BILLING")).unwrap();
    let (billing, _) = Jwt::decode_verified::<AccountClaims>(&billing).unwrap();
    assert_eq!(billing.nats.imports[0].account, account.data.subject);
}

#[test]
fn existing_output_is_refused_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::parse(&spec_text(&kez_key().1)).unwrap();
    std::fs::write(dir.path().join("something"), b"x").unwrap();
    let err = generate(&spec, dir.path(), &GenerateOptions::at(NOW)).unwrap_err();
    assert!(matches!(err, GenerateError::Exists { .. }), "{err:?}");
    assert_eq!(err.kind(), "usage");
}

#[test]
fn regeneration_keeps_keys_and_unchanged_files_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let kez_text = kez_key().1;
    let spec = Spec::parse(&spec_text(&kez_text)).unwrap();
    let first = build(&out, &spec, false);
    let before = snapshot(&out);

    // Later, same spec: nothing changes, nothing is written.
    let mut options = GenerateOptions::at(NOW + 3600);
    options.force = true;
    let second = generate(&spec, &out, &options).unwrap();
    assert!(second.written.is_empty(), "{:#?}", second.written);
    assert_eq!(snapshot(&out), before);
    assert_eq!(second.operator, first.operator);

    // Change one role: only that account's JWT and the configs are re-signed; the
    // scoped users, whose JWTs carry no permissions, are untouched.
    let changed = spec_text(&kez_text).replace(
        "sub_allow = [\"orders.events.>\", \"_INBOX.>\"]",
        "sub_allow = [\"orders.events.>\"]",
    );
    let spec2 = Spec::parse(&changed).unwrap();
    let third = generate(&spec2, &out, &options).unwrap();
    let layout = &third.layout;
    let mut written: Vec<_> = third.written.clone();
    written.sort();
    let mut expected = vec![
        layout.account_jwt("acme", "ORDERS"),
        third.memory_config.clone(),
        third.full_config.clone(),
        // bob holds reader and writer: his merged permissions changed.
        layout.user_jwt("acme", "ORDERS", "bob"),
        layout.creds("acme", "ORDERS", "bob"),
    ];
    expected.sort();
    assert_eq!(written, expected);
    let after = snapshot(&out);
    assert_eq!(after.len(), before.len());
    assert!(check(&out).findings().is_empty());
    // Every key is the same file with the same seed.
    for ((path, bytes), (path2, bytes2)) in before.iter().zip(&after) {
        assert_eq!(path, path2);
        if path.extension().is_some_and(|e| e == "nk") {
            assert_eq!(bytes, bytes2);
        }
    }
}

#[cfg(unix)]
#[test]
fn secrets_and_store_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = Spec::parse(&spec_text(&kez_key().1)).unwrap();
    build(&out, &spec, false);
    let mut keys = 0;
    for (path, _) in snapshot(&out) {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "conf" => assert_eq!(mode, 0o644, "{}", path.display()),
            _ => assert_eq!(mode, 0o600, "{}", path.display()),
        }
        keys += usize::from(ext == "nk");
        let parent = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(parent, 0o700, "{}", path.parent().unwrap().display());
    }
    // operator + signing key, 3 accounts × (identity + signing), 3 role keys, 4 user seeds
    assert_eq!(keys, 2 + 6 + 3 + 4);
}

#[test]
fn revoked_keys_land_in_revocations_and_revoked_users_are_never_resigned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (kez, kez_text) = kez_key();
    let spec = Spec::parse(&spec_text(&kez_text)).unwrap();
    let first = build(&out, &spec, false);
    let service = user(&first, "ORDERS", "order-service").clone();
    let first_jwt = std::fs::read(service.jwt.as_ref().unwrap()).unwrap();
    let stranger =
        PublicNkey::from_kez(&SecretKey::generate(Algorithm::Ed25519).public_key()).unwrap();

    let mut options = GenerateOptions::at(NOW + 60);
    options.force = true;
    options.revoked = vec![
        PublicNkey::from_kez(&kez.public_key()).unwrap(),
        service.public_key,
        stranger,
    ];
    let second = generate(&spec, &out, &options).unwrap();
    let alice = user(&second, "ORDERS", "alice");
    assert!(alice.revoked && alice.creds.is_none());
    let svc = user(&second, "ORDERS", "order-service");
    assert!(svc.revoked && svc.creds.is_none());
    assert!(!service.creds.as_ref().unwrap().exists());
    // The revoked users' JWTs are kept as they were, never re-signed.
    assert_eq!(
        std::fs::read(service.jwt.as_ref().unwrap()).unwrap(),
        first_jwt
    );
    assert_eq!(second.removed, [service.creds.clone().unwrap()]);

    let layout = &second.layout;
    let text = std::fs::read_to_string(layout.account_jwt("acme", "ORDERS")).unwrap();
    let (orders, _) = Jwt::decode_verified::<AccountClaims>(&text).unwrap();
    assert_eq!(
        orders.nats.revocations.get(&service.public_key.to_string()),
        Some(&(NOW + 60))
    );
    assert!(orders
        .nats
        .revocations
        .contains_key(&alice.public_key.to_string()));
    // A key no user has is revoked everywhere; keys of ORDERS users only in ORDERS.
    let text = std::fs::read_to_string(layout.account_jwt("acme", "BILLING")).unwrap();
    let (billing, _) = Jwt::decode_verified::<AccountClaims>(&text).unwrap();
    assert!(billing.nats.revocations.contains_key(&stranger.to_string()));
    assert!(!billing
        .nats
        .revocations
        .contains_key(&service.public_key.to_string()));
    // check reports the two revoked users, and nothing else.
    let report = check(&out);
    assert_eq!(
        codes(&report),
        [Code::ChainUserRevoked, Code::ChainUserRevoked]
    );
    assert_eq!(report.exit_code(), 1);

    // Revocations are sticky: a run without the list keeps them, timestamps and all.
    let mut options = GenerateOptions::at(NOW + 120);
    options.force = true;
    let third = generate(&spec, &out, &options).unwrap();
    assert!(third.written.is_empty(), "{:#?}", third.written);
    assert!(user(&third, "ORDERS", "order-service").revoked);
}

#[test]
fn a_store_jwt_whose_key_file_is_gone_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = Spec::parse(&spec_text(&kez_key().1)).unwrap();
    let first = build(&out, &spec, false);
    let account = first.accounts.iter().find(|a| a.name == "ORDERS").unwrap();
    std::fs::remove_file(first.layout.key(&account.public_key)).unwrap();
    let mut options = GenerateOptions::at(NOW);
    options.force = true;
    let err = generate(&spec, &out, &options).unwrap_err();
    assert!(matches!(err, GenerateError::MissingKey { .. }), "{err}");
}

/// A person's sigchain, as JSONL links signed with their KEZ keys.
struct Chain {
    path: std::path::PathBuf,
    links: Vec<kez_core::sigchain::Link>,
}

impl Chain {
    fn init(path: std::path::PathBuf, key: &SecretKey, at: i64) -> Self {
        let link = kez_core::sigchain::LinkBuilder::init(at as u64)
            .sign(key, None)
            .unwrap();
        let chain = Chain {
            path,
            links: vec![link],
        };
        chain.write();
        chain
    }

    fn push(
        &mut self,
        op: kez_core::sigchain::Op,
        at: i64,
        key: &SecretKey,
        new: Option<&SecretKey>,
    ) {
        let link =
            kez_core::sigchain::LinkBuilder::after(self.links.last().unwrap(), op, at as u64)
                .sign(key, new)
                .unwrap();
        self.links.push(link);
        self.write();
    }

    fn write(&self) {
        let mut jsonl = Vec::new();
        for link in &self.links {
            jsonl.extend_from_slice(link.to_jcs());
            jsonl.push(b'\n');
        }
        std::fs::write(&self.path, jsonl).unwrap();
    }
}

/// `spec_text` with alice's entry naming her sigchain (and subject).
fn spec_with_chain(kez_text: &str, chain: &Path, subject: Option<&str>) -> Spec {
    let mut extra = format!("\nsigchain = {:?}", chain.display().to_string());
    if let Some(subject) = subject {
        extra.push_str(&format!("\nsubject = {subject:?}"));
    }
    let text = spec_text(kez_text).replace(
        &format!("kez_key = \"{kez_text}\""),
        &format!("kez_key = \"{kez_text}\"{extra}"),
    );
    assert!(text.contains("sigchain = "));
    Spec::parse(&text).unwrap()
}

fn account_claims(generated: &Generated, name: &str) -> AccountClaims {
    let text = std::fs::read_to_string(generated.layout.account_jwt("acme", name)).unwrap();
    Jwt::decode_verified::<AccountClaims>(&text).unwrap().0
}

#[test]
fn a_sigchain_rotating_the_kez_key_away_revokes_the_user_at_the_links_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (first_key, kez_text) = kez_key();
    let second_key = SecretKey::generate(Algorithm::Ed25519);
    let mut chain = Chain::init(dir.path().join("alice.jsonl"), &first_key, NOW - 1000);
    let spec = spec_with_chain(&kez_text, &chain.path, None);

    // The chain vouches for the key: nothing is revoked.
    let first = build(&out, &spec, false);
    let alice = user(&first, "ORDERS", "alice").clone();
    assert!(!alice.revoked);
    assert!(account_claims(&first, "ORDERS").nats.revocations.is_empty());
    assert!(check(&out).findings().is_empty());

    // Alice rotates to a new key; the next run revokes the old one at the link's time
    // and re-signs the account JWT.
    chain.push(
        kez_core::sigchain::Op::Rotate {
            new_key: second_key.public_key(),
        },
        NOW + 100,
        &first_key,
        Some(&second_key),
    );
    let mut options = GenerateOptions::at(NOW + 200);
    options.force = true;
    let second = generate(&spec, &out, &options).unwrap();
    assert!(user(&second, "ORDERS", "alice").revoked);
    let orders = account_claims(&second, "ORDERS");
    assert_eq!(
        orders.nats.revocations.get(&alice.public_key.to_string()),
        Some(&(NOW + 100))
    );
    assert_eq!(
        orders.data.issued_at,
        NOW + 200,
        "the account JWT is re-signed"
    );
    assert!(second
        .written
        .contains(&second.layout.account_jwt("acme", "ORDERS")));
    // Alice is not in BILLING, whose JWT is untouched.
    assert!(account_claims(&second, "BILLING")
        .nats
        .revocations
        .is_empty());
    assert!(second
        .unchanged
        .contains(&second.layout.account_jwt("acme", "BILLING")));
    let report = check(&out);
    assert_eq!(codes(&report), [Code::ChainUserRevoked]);
    assert!(report.findings()[0].location().contains("alice"));

    // Stable: the next run writes nothing.
    let mut options = GenerateOptions::at(NOW + 300);
    options.force = true;
    let third = generate(&spec, &out, &options).unwrap();
    assert!(third.written.is_empty(), "{:#?}", third.written);
}

#[test]
fn a_sigchain_revoking_the_subject_revokes_the_user_and_covers_its_store_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (key, kez_text) = kez_key();
    let subject: kez_core::Identity = "github:alice".parse().unwrap();
    let claim = kez_core::ClaimBuilder::new(subject.clone(), (NOW - 950) as u64)
        .sign(&key, None)
        .unwrap();
    let mut chain = Chain::init(dir.path().join("alice.jsonl"), &key, NOW - 1000);
    chain.push(
        kez_core::sigchain::Op::Add {
            claim: claim.id(),
            subject: subject.clone(),
        },
        NOW - 900,
        &key,
        None,
    );
    let spec = spec_with_chain(&kez_text, &chain.path, Some("github:alice"));
    let first = build(&out, &spec, false);
    let alice = user(&first, "ORDERS", "alice").clone();
    assert!(!alice.revoked);

    // The subject is revoked by a link dated before the store JWT was issued (NOW): the
    // revocation is raised to that JWT's iat, so that nats-server refuses it.
    chain.push(
        kez_core::sigchain::Op::Revoke(kez_core::sigchain::RevokeTarget::Subject(subject)),
        NOW - 500,
        &key,
        None,
    );
    let mut options = GenerateOptions::at(NOW + 60);
    options.force = true;
    let second = generate(&spec, &out, &options).unwrap();
    assert!(user(&second, "ORDERS", "alice").revoked);
    assert_eq!(
        account_claims(&second, "ORDERS")
            .nats
            .revocations
            .get(&alice.public_key.to_string()),
        Some(&NOW)
    );
    assert_eq!(codes(&check(&out)), [Code::ChainUserRevoked]);
}

#[test]
fn a_sigchain_that_does_not_vouch_for_the_user_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (key, kez_text) = kez_key();
    let stranger = SecretKey::generate(Algorithm::Ed25519);
    let chain = Chain::init(dir.path().join("other.jsonl"), &stranger, NOW - 1000);
    let vouch_error = |spec: &Spec, name: &str| {
        let err = generate(spec, &dir.path().join(name), &GenerateOptions::at(NOW)).unwrap_err();
        assert_eq!(err.kind(), "malformed");
        match err {
            GenerateError::Sigchain { user, error, .. } => {
                assert_eq!(user, "alice");
                *error
            }
            other => panic!("{other:?}"),
        }
    };
    // Someone else's chain.
    let spec = spec_with_chain(&kez_text, &chain.path, None);
    assert!(matches!(
        vouch_error(&spec, "a"),
        kez_nats::sigchain::VouchError::KeyNotInChain(_)
    ));
    // Her own chain, which never claimed the subject.
    let own = Chain::init(dir.path().join("alice.jsonl"), &key, NOW - 1000);
    let spec = spec_with_chain(&kez_text, &own.path, Some("github:alice"));
    assert!(matches!(
        vouch_error(&spec, "b"),
        kez_nats::sigchain::VouchError::SubjectNotClaimed(_)
    ));
    // A tampered chain.
    let mut bytes = std::fs::read(&own.path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&own.path, bytes).unwrap();
    let spec = spec_with_chain(&kez_text, &own.path, None);
    assert!(matches!(
        vouch_error(&spec, "c"),
        kez_nats::sigchain::VouchError::Chain(_)
    ));
    // Nothing was written.
    assert!(!dir.path().join("a/stores").exists());
}

/// A fresh output is built beside its place and renamed into place once complete: a
/// run that fails leaves neither the output nor the staging directory behind.
#[test]
fn a_failed_fresh_run_leaves_no_output_and_no_staging_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_, kez_text) = kez_key();
    let spec = spec_with_chain(&kez_text, &dir.path().join("missing.jsonl"), None);
    let out = dir.path().join("out");
    let err = generate(&spec, &out, &GenerateOptions::at(NOW)).unwrap_err();
    assert!(matches!(err, GenerateError::Io { .. }), "{err:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "{names:?}");

    // Into an existing empty directory: it stays, empty.
    std::fs::create_dir(&out).unwrap();
    generate(&spec, &out, &GenerateOptions::at(NOW)).unwrap_err();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out"]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// A fresh run into an existing empty directory replaces it with the complete output;
/// the output's shape does not depend on the thread count; re-running with `--force`
/// keeps every key and rewrites nothing.
#[test]
fn fresh_output_is_the_same_on_any_number_of_threads_and_reruns_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::parse(&spec_text(&kez_key().1)).unwrap();
    let relative = |g: &Generated| -> Vec<String> {
        g.written
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(g.layout.root()).unwrap();
                // Key files are named by their (random) public keys.
                if rel.extension().is_some_and(|e| e == "nk") {
                    "key".to_string()
                } else {
                    rel.display().to_string()
                }
            })
            .collect()
    };
    let mut shapes = Vec::new();
    for threads in [1, 3] {
        let out = dir.path().join(format!("out{threads}"));
        std::fs::create_dir(&out).unwrap();
        let mut options = GenerateOptions::at(NOW);
        options.threads = threads;
        let generated = generate(&spec, &out, &options).unwrap();
        assert_eq!(generated.timings.threads, threads);
        assert!(check(&out).findings().is_empty());
        shapes.push(relative(&generated));

        let before = snapshot(&out);
        options.force = true;
        let again = generate(&spec, &out, &options).unwrap();
        assert!(again.written.is_empty(), "{:#?}", again.written);
        assert_eq!(again.unchanged.len(), generated.written.len());
        assert_eq!(snapshot(&out), before);
    }
    assert_eq!(shapes[0], shapes[1]);
    // Nothing but the outputs beside them.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["out1", "out3"]);
}
