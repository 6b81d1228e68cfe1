//! End-to-end tests of `kez-verify nats generate|check|user` (docs/NATS.md).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use kez_nats::claims::AccountClaims;
use kez_nats::jwt::Jwt;
use kez_nats::nkey::PublicNkey;
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_kez-verify"))
        .args(args)
        .current_dir(dir)
        .env_remove("KEZ_PASSPHRASE")
        .env("KEZ_NOW", "2026-01-01T00:00:00Z")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

fn ok(dir: &Path, args: &[&str]) -> Out {
    let out = run(dir, args);
    assert_eq!(out.code, 0, "{args:?}\n{}\n{}", out.stdout, out.stderr);
    out
}

fn public_key(dir: &Path, key_file: &str) -> String {
    let out = ok(dir, &["key", "show", key_file, "--format", "json"]);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    json["public_key"].as_str().unwrap().to_string()
}

const SPEC: &str = r#"
[operator]
name = "acme"

[[accounts]]
name = "ORDERS"
[accounts.roles.reader]
sub_allow = ["orders.>"]
[accounts.roles.writer]
pub_allow = ["orders.>"]
[[accounts.users]]
name = "alice"
kind = "person"
roles = ["reader"]
kez_key = "KEZ_KEY"
[[accounts.users]]
name = "svc"
kind = "service"
roles = ["reader", "writer"]
"#;

fn setup(dir: &Path) {
    ok(
        dir,
        &["key", "new", "--alg", "ed25519", "--out", "alice.key"],
    );
    let alice = public_key(dir, "alice.key");
    std::fs::write(dir.join("org.toml"), SPEC.replace("KEZ_KEY", &alice)).unwrap();
}

#[test]
fn generate_then_check_is_clean_and_regeneration_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let out = ok(
        dir,
        &["nats", "generate", "--spec", "org.toml", "--out", "nats"],
    );
    assert!(out.stdout.starts_with("operator O"), "{}", out.stdout);
    assert!(
        out.stdout.contains("(KEZ key: no .creds)"),
        "{}",
        out.stdout
    );

    let out = ok(dir, &["nats", "check", "nats"]);
    assert!(
        out.stdout
            .starts_with("ok: 1 operator, 2 account, 3 user JWTs"),
        "{}",
        out.stdout
    );
    let out = ok(dir, &["nats", "check", "nats", "--format", "json"]);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["input"], "home");
    assert_eq!(json["findings"], Value::Array(vec![]));

    let out = run(
        dir,
        &["nats", "generate", "--spec", "org.toml", "--out", "nats"],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    let out = ok(
        dir,
        &[
            "nats", "generate", "--spec", "org.toml", "--out", "nats", "--force", "--format",
            "json",
        ],
    );
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["written"], 0);

    // A spec with a typo is refused with its field.
    std::fs::write(dir.join("bad.toml"), "[operator]\nnme = \"x\"\n").unwrap();
    let out = run(
        dir,
        &["nats", "generate", "--spec", "bad.toml", "--out", "other"],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown field `nme`"), "{}", out.stderr);
}

#[test]
fn check_exit_codes_follow_the_worst_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    ok(
        dir,
        &["nats", "generate", "--spec", "org.toml", "--out", "nats"],
    );
    let creds = "nats/keys/creds/acme/ORDERS/svc.creds";
    let text = std::fs::read_to_string(dir.join(creds)).unwrap();
    // A broken signature: exit 1.
    let jwt = text.lines().nth(1).unwrap();
    let broken = format!(
        "{}{}",
        &jwt[..jwt.len() - 2],
        if jwt.ends_with("AA") { "BA" } else { "AA" }
    );
    std::fs::write(dir.join("broken.creds"), text.replace(jwt, &broken)).unwrap();
    let out = run(dir, &["nats", "check", "broken.creds"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("error jwt.signature_invalid"),
        "{}",
        out.stdout
    );
    // Not a credential at all: exit 2.
    std::fs::write(dir.join("notes.txt"), "hello\n").unwrap();
    assert_eq!(run(dir, &["nats", "check", "notes.txt"]).code, 2);
    assert_eq!(run(dir, &["nats", "check", "missing"]).code, 2);
}

#[test]
fn user_issues_creds_for_a_kez_key_and_sigchain_rotation_revokes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    ok(
        dir,
        &["nats", "generate", "--spec", "org.toml", "--out", "nats"],
    );
    let account_jwt = "nats/stores/acme/accounts/ORDERS/ORDERS.jwt";
    let text = std::fs::read_to_string(dir.join(account_jwt)).unwrap();
    let (account, _) = Jwt::decode_verified::<AccountClaims>(&text).unwrap();
    let key_file = |public: &str| {
        let key = PublicNkey::parse(public).unwrap();
        format!("nats/keys/keys/{}/{}/{key}.nk", &public[..1], &public[1..3])
    };
    let reader = account
        .nats
        .signing_keys
        .iter()
        .find_map(|k| k.scope().filter(|s| s.role == "reader"))
        .unwrap();
    let unscoped = account
        .nats
        .signing_keys
        .iter()
        .find(|k| k.scope().is_none())
        .unwrap();

    let out = ok(
        dir,
        &[
            "nats",
            "user",
            "--kez-key",
            "alice.key",
            "--account-seed",
            &key_file(&reader.key),
            "--account-jwt",
            account_jwt,
            "--name",
            "alice",
            "--out",
            "alice.creds",
        ],
    );
    let alice = public_key(dir, "alice.key");
    let kez = alice.parse::<kez_core::PublicKey>().unwrap();
    assert_eq!(
        out.stdout.trim(),
        PublicNkey::from_kez(&kez).unwrap().to_string()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("alice.creds"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = ok(dir, &["nats", "check", "alice.creds"]);
    assert!(
        out.stdout.contains("note chain.incomplete"),
        "{}",
        out.stdout
    );

    // Unscoped key without permissions: refused (exit 2); existing file: refused.
    let args = |out: &str| {
        vec![
            "nats".to_string(),
            "user".into(),
            "--kez-key".into(),
            "alice.key".into(),
            "--account-seed".into(),
            key_file(unscoped.key()),
            "--account-jwt".into(),
            account_jwt.into(),
            "--name".into(),
            "alice".into(),
            "--out".into(),
            out.into(),
        ]
    };
    let refused = run(
        dir,
        &args("other.creds")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("no permissions given"),
        "{}",
        refused.stderr
    );
    let mut with_perms = args("alice.creds");
    with_perms.extend(["--allow-sub".into(), "orders.>".into()]);
    let exists = run(
        dir,
        &with_perms.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(exists.code, 2);

    // Alice rotates her KEZ key: her old key is revoked at the next generate.
    std::fs::create_dir(dir.join("chains")).unwrap();
    ok(
        dir,
        &[
            "sigchain",
            "init",
            "--key",
            "alice.key",
            "--out",
            "chains/alice.jsonl",
        ],
    );
    ok(
        dir,
        &["key", "new", "--alg", "ed25519", "--out", "alice2.key"],
    );
    ok(
        dir,
        &[
            "sigchain",
            "rotate",
            "--chain",
            "chains/alice.jsonl",
            "--key",
            "alice.key",
            "--new-key",
            "alice2.key",
        ],
    );
    let out = ok(
        dir,
        &[
            "nats",
            "generate",
            "--spec",
            "org.toml",
            "--out",
            "nats",
            "--force",
            "--sigchain",
            "chains",
        ],
    );
    assert!(out.stdout.contains("revoked"), "{}", out.stdout);
    let out = run(dir, &["nats", "check", "nats"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("chain.user_revoked"), "{}", out.stdout);
    // And issuing for the revoked key is refused (exit 1).
    let again = run(
        dir,
        &[
            "nats",
            "user",
            "--kez-key",
            "alice.key",
            "--account-seed",
            &key_file(&reader.key),
            "--account-jwt",
            account_jwt,
            "--name",
            "alice",
            "--out",
            "again.creds",
        ],
    );
    assert_eq!(again.code, 1, "{}", again.stderr);
}
