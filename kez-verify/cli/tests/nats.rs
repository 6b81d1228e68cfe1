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

/// A Python NATS client (nats-py, from crosstest/nats/setup.sh's venv) connecting with the
/// nkey seed on stdin; exit 0 when admitted and a publish went through, 1 when refused.
const PY_CLIENT: &str = r#"
import asyncio, sys, nats
async def main(url, seed):
    try:
        nc = await nats.connect(url, nkeys_seed_str=seed, connect_timeout=5,
                                allow_reconnect=False, max_reconnect_attempts=0)
    except Exception as e:
        print("refused:", type(e).__name__, e)
        return 1
    await nc.publish("app.ok.ping", b"hi")
    await nc.flush(timeout=5)
    await nc.close()
    print("admitted")
    return 0
sys.exit(asyncio.run(main(sys.argv[1], sys.stdin.read().strip())))
"#;

fn py_connect(venv: &Path, url: &str, seed: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = Command::new(venv.join("bin/python"))
        .args(["-c", PY_CLIENT, url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(seed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Waits, bounded, for `ready(text)` of a growing file; panics with `what` otherwise.
fn wait_for_file(path: &Path, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if ready(&text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within 10 s:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `nats callout` against nats-server in config mode: a KEZ key whose sigchain is known
/// and that has a role is admitted, a key in no sigchain is refused, and the service
/// stops by itself after --max-requests, printing its counts.
#[test]
fn callout_admits_a_kez_key_with_a_role_and_refuses_a_stranger() {
    use kez_core::sigchain::LinkBuilder;
    use kez_core::{Algorithm, SecretKey};
    use kez_nats::nkey::{Role, Seed};
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Child;

    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv-nats")
        .canonicalize()
        .expect(".venv-nats is missing: run crosstest/nats/setup.sh");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let secret = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    };

    let alice = SecretKey::generate(Algorithm::Ed25519);
    let stranger = SecretKey::generate(Algorithm::Ed25519);
    std::fs::create_dir(dir.join("chains")).unwrap();
    let init = LinkBuilder::init(1_700_000_000).sign(&alice, None).unwrap();
    let mut chain = init.to_jcs().to_vec();
    chain.push(b'\n');
    std::fs::write(dir.join("chains/alice.jsonl"), chain).unwrap();
    std::fs::write(
        dir.join("roles.toml"),
        format!(
            "account = \"APP\"\n[roles.worker]\npub_allow = [\"app.ok.>\"]\n[[members]]\nkey = \"{}\"\nroles = [\"worker\"]\n",
            alice.public_key()
        ),
    )
    .unwrap();
    let issuer = Seed::generate(Role::Account).unwrap();
    let service = Seed::generate(Role::User).unwrap();
    let issuer_file = secret("issuer.nk", &issuer.to_text());
    let service_file = secret("service.nk", &service.to_text());
    std::fs::write(
        dir.join("server.conf"),
        format!(
            "accounts {{\n  AUTH {{ users: [ {{ nkey: \"{s}\" }} ] }}\n  APP {{ }}\n}}\nauthorization {{\n  auth_callout {{\n    issuer: \"{i}\"\n    auth_users: [ \"{s}\" ]\n    account: AUTH\n  }}\n}}\n",
            s = service.public_key(),
            i = issuer.public_key()
        ),
    )
    .unwrap();

    // nats-server on loopback, a free port, trace logging (to see the service subscribe).
    std::fs::create_dir(dir.join("ports")).unwrap();
    let log = dir.join("server.log");
    let _server = Kill(
        Command::new(venv.join("bin/nats-server"))
            .arg("-c")
            .arg(dir.join("server.conf"))
            .args(["-a", "127.0.0.1", "-p", "-1", "-DV", "--ports_file_dir"])
            .arg(dir.join("ports"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // `nats-server_<pid>.ports` appears, then holds `{"nats":["nats://127.0.0.1:N"], …}`.
    let ports = wait_for_file(&dir.join("ports/x"), "no ports file", |_| {
        std::fs::read_dir(dir.join("ports"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .is_some_and(|t| serde_json::from_str::<Value>(&t).is_ok())
    });
    assert!(ports.is_empty());
    let ports_file = std::fs::read_dir(dir.join("ports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ports = std::fs::read_to_string(ports_file).unwrap();
    let url = serde_json::from_str::<Value>(&ports).unwrap()["nats"][0]
        .as_str()
        .unwrap()
        .to_string();

    let callout_err = dir.join("callout.err");
    let callout = Kill(
        Command::new(env!("CARGO_BIN_EXE_kez-verify"))
            .args([
                "nats",
                "callout",
                "--nats",
                &url,
                "--nkey-seed",
                &service_file,
            ])
            .args(["--issuer-seed", &issuer_file, "--chains", "chains"])
            .args([
                "--roles",
                "roles.toml",
                "--max-requests",
                "2",
                "--format",
                "json",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&callout_err).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_file(&log, "the callout never subscribed", |t| {
        t.contains("SUB $SYS.REQ.USER.AUTH kez-auth-callout")
    });

    let alice_seed = Seed::from_kez(&alice).unwrap().to_text();
    let (code, out) = py_connect(&venv, &url, &alice_seed);
    assert_eq!(code, 0, "{out}");
    let stranger_seed = Seed::from_kez(&stranger).unwrap().to_text();
    let (code, out) = py_connect(&venv, &url, &stranger_seed);
    assert_eq!(code, 1, "{out}");

    // Two requests answered: the service stops by itself.
    let mut callout = callout;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = callout.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the callout did not stop after --max-requests 2:\n{}",
            std::fs::read_to_string(&callout_err).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut callout.0.stdout.take().unwrap(), &mut stdout).unwrap();
    let stderr = std::fs::read_to_string(&callout_err).unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    let counts: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(counts["admitted"], 1, "{stdout}");
    assert_eq!(counts["refused"], 1, "{stdout}");
    assert!(
        stderr.contains(&format!("admitted {} roles [worker]", alice.public_key())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "refused (unknown): {} is in no known sigchain",
            stranger.public_key()
        )),
        "{stderr}"
    );
    // No seed reaches the log.
    for seed in [issuer.to_text(), service.to_text(), alice_seed] {
        assert!(!stderr.contains(seed.as_str()) && !stdout.contains(seed.as_str()));
    }
}
