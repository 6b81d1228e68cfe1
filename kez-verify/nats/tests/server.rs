//! Generated credentials against the real nats-server (loopback only): what it accepts,
//! what it refuses, and the same output read by the Python NATS implementations
//! (`crosstest/nats/check_py.py`). The server and Python packages come from
//! `crosstest/nats/setup.sh` (`.venv-nats/` at the repository root); without them these
//! tests fail, they never skip.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::{Event, ServerError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kez_core::{Algorithm, SecretKey};
use kez_nats::claims::{AccountClaims, SigningKey, UserClaims};
use kez_nats::generate::{generate, GenerateOptions, Generated};
use kez_nats::issue::{self, UserOptions};
use kez_nats::jwt::{self, Jwt};
use kez_nats::nkey::{PublicNkey, Role, Seed};
use kez_nats::spec::Spec;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::timeout;

use support::nats_server::{
    assert_refused, expect_permissions, expect_publish_denied, repo_root, round_trip, venv_bin,
    Server, STEP, WAIT,
};

const ALLOWED: &str = "app.ok.ping";
/// Inside the allowed `app.ok.>`, but denied for publishing.
const DENIED_PUB: &str = "app.ok.audit";
/// Outside the allowed subjects altogether.
const DENIED_SUB: &str = "app.secret";

/// What nats-server logs (with `-D`) for a refused JWT, whatever the reason.
const AUTH_FAILURE: &str = "Client connection closed: Authentication Failure";

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

const DAY: i64 = 86_400;

/// One organisation, generated two days ago: APP (users `worker`, `leaver`, `temp` who
/// expired yesterday) and OTHER; `leaver` revoked by a second run, whose old `.creds` is
/// kept in `leaver-old.creds`.
struct Org {
    dir: TempDir,
    generated: Generated,
    now: i64,
}

const OPERATOR: &str = "acme";

/// A spec of [`OPERATOR`] whose account APP has the role `worker` (`app.ok.>` to
/// publish and subscribe, then `worker_extra`), followed by `rest` (APP's users, other
/// accounts).
fn app_spec(worker_extra: &str, rest: &str) -> Spec {
    Spec::parse(&format!(
        r#"
[operator]
name = "{OPERATOR}"

[[accounts]]
name = "APP"
[accounts.roles.worker]
pub_allow = ["app.ok.>"]
sub_allow = ["app.ok.>"]
{worker_extra}{rest}"#
    ))
    .unwrap()
}

impl Org {
    fn new() -> Self {
        let now = unix_now() - 2 * DAY;
        let expired = humantime::format_rfc3339_seconds(
            UNIX_EPOCH + Duration::from_secs(u64::try_from(now + DAY).unwrap()),
        );
        let spec = app_spec(
            &format!("pub_deny = [\"{DENIED_PUB}\"]\n"),
            &format!(
                r#"[[accounts.users]]
name = "worker"
kind = "service"
roles = ["worker"]
[[accounts.users]]
name = "leaver"
kind = "service"
roles = ["worker"]
[[accounts.users]]
name = "temp"
kind = "service"
roles = ["worker"]
expires = "{expired}"

[[accounts]]
name = "OTHER"
[accounts.roles.all]
allow_all = true
[[accounts.users]]
name = "other"
kind = "service"
roles = ["all"]
"#
            ),
        );
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = generate(&spec, &out, &GenerateOptions::at(now)).unwrap();
        let leaver = user(&first, "APP", "leaver");
        fs::copy(
            leaver.creds.as_ref().unwrap(),
            dir.path().join("leaver-old.creds"),
        )
        .unwrap();
        let mut options = GenerateOptions::at(now);
        options.force = true;
        options.revoked = vec![leaver.public_key];
        let generated = generate(&spec, &out, &options).unwrap();
        assert!(user(&generated, "APP", "leaver").revoked);
        Org {
            dir,
            generated,
            now,
        }
    }

    fn server(&self) -> Server {
        Server::start(&self.generated.memory_config)
    }

    fn creds(&self, account: &str, name: &str) -> PathBuf {
        user(&self.generated, account, name).creds.clone().unwrap()
    }

    fn account_key(&self, name: &str) -> PublicNkey {
        self.generated
            .accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .public_key
    }

    fn seed_file(&self, key: &PublicNkey) -> PathBuf {
        self.generated.layout.key(key)
    }

    fn seed(&self, key: &PublicNkey) -> Seed {
        Seed::parse(fs::read_to_string(self.seed_file(key)).unwrap().trim()).unwrap()
    }

    fn account_jwt(&self, name: &str) -> String {
        fs::read_to_string(self.generated.layout.account_jwt(OPERATOR, name))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Writes `.creds` text next to the generated output.
    fn write_creds(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }
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

/// A client on `creds`, its server errors on a channel.
async fn connect(
    server: &Server,
    creds: &Path,
) -> Result<(async_nats::Client, mpsc::UnboundedReceiver<ServerError>), async_nats::ConnectError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = async_nats::ConnectOptions::with_credentials_file(creds)
        .await
        .unwrap()
        .connection_timeout(STEP)
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(e) = event {
                    let _ = tx.send(e);
                }
            }
        });
    let client = timeout(WAIT, options.connect(server.url.as_str()))
        .await
        .expect("connect timed out")?;
    Ok((client, rx))
}

/// Connects, expecting nats-server to refuse, and the reason in its log.
async fn expect_refused(server: &Server, creds: &Path, reason: &str) {
    let before = server.count(reason);
    assert_refused(connect(server, creds).await, server, &creds.display());
    server.expect_log(reason, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_user_may_use_exactly_its_permitted_subjects() {
    let org = Org::new();
    let server = org.server();
    let (client, mut errors) = connect(&server, &org.creds("APP", "worker"))
        .await
        .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log_text()));
    expect_permissions(&client, &mut errors, ALLOWED, DENIED_PUB, DENIED_SUB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_user_is_refused() {
    let org = Org::new();
    let server = org.server();
    let old = org.dir.path().join("leaver-old.creds");
    expect_refused(&server, &old, "User authentication revoked").await;
    // The account's other users are unaffected.
    connect(&server, &org.creds("APP", "worker")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_user_is_refused() {
    let org = Org::new();
    let server = org.server();
    expect_refused(&server, &org.creds("APP", "temp"), "claim is expired").await;
}

/// A user of APP's permissions whose JWT is signed by `signer`, in a `.creds` file.
fn foreign_user(
    org: &Org,
    file: &str,
    signer: &Seed,
    issuer_account: Option<&PublicNkey>,
) -> PathBuf {
    let user_seed = Seed::generate(Role::User).unwrap();
    let mut claims = UserClaims::new(user_seed.public_key().to_string());
    claims.data.name = file.to_owned();
    let permissions = &mut claims.nats.permissions.permissions;
    permissions.publish.allow = vec![ALLOWED.to_owned()];
    permissions.subscribe.allow = vec![ALLOWED.to_owned()];
    if let Some(account) = issuer_account {
        claims.nats.issuer_account = account.to_string();
    }
    let token = jwt::encode(&mut claims, signer, org.now).unwrap();
    org.write_creds(file, &kez_nats::creds::format(&token, &user_seed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signed_by_the_wrong_account_is_refused() {
    let org = Org::new();
    let server = org.server();
    let app = org.account_key("APP");
    let other = org.seed(&org.account_key("OTHER"));

    // OTHER's key claiming to issue for APP: not one of APP's signing keys.
    let claimed = foreign_user(&org, "claims-app.creds", &other, Some(&app));
    expect_refused(&server, &claimed, AUTH_FAILURE).await;

    // An account key the operator never signed.
    let stranger = Seed::generate(Role::Account).unwrap();
    let unknown = foreign_user(&org, "unknown-account.creds", &stranger, None);
    expect_refused(&server, &unknown, AUTH_FAILURE).await;

    // Control: the same construction with APP's unscoped signing key is accepted.
    let own = foreign_user(&org, "own.creds", &unscoped_signing_key(&org), Some(&app));
    let (client, _) = connect(&server, &own).await.unwrap();
    round_trip(&client, ALLOWED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_jwt_is_refused() {
    let org = Org::new();
    let server = org.server();
    let text = fs::read_to_string(org.creds("APP", "worker")).unwrap();
    let token = text
        .lines()
        .find(|l| l.starts_with("eyJ"))
        .unwrap()
        .to_owned();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    // One character of the payload flipped.
    let mut chars: Vec<char> = payload.chars().collect();
    let at = chars.len() / 2;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let flipped: String = chars.into_iter().collect();
    let flipped_token = format!("{header}.{flipped}.{signature}");
    assert!(Jwt::decode_verified::<UserClaims>(&flipped_token).is_err());
    let path = org.write_creds("flipped.creds", &text.replace(&token, &flipped_token));
    expect_refused(&server, &path, AUTH_FAILURE).await;

    // Still valid JSON, another name, the old signature kept.
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let widened = json.replace("\"name\":\"worker\"", "\"name\":\"admin\"");
    assert_ne!(widened, json);
    let widened_token = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(widened.as_bytes())
    );
    assert!(Jwt::decode_verified::<UserClaims>(&widened_token).is_err());
    let path = org.write_creds("renamed.creds", &text.replace(&token, &widened_token));
    expect_refused(&server, &path, AUTH_FAILURE).await;
}

/// APP's signing key without a scope.
fn unscoped_signing_key(org: &Org) -> Seed {
    let (account, _) = Jwt::decode_verified::<AccountClaims>(&org.account_jwt("APP")).unwrap();
    let key = account
        .nats
        .signing_keys
        .iter()
        .find_map(|k| match k {
            SigningKey::Key(key) => Some(PublicNkey::parse_role(key, Role::Account).unwrap()),
            SigningKey::Scoped(_) => None,
        })
        .unwrap();
    org.seed(&key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_issued_for_a_kez_key_connects() {
    let org = Org::new();
    let server = org.server();
    let key = SecretKey::generate(Algorithm::Ed25519);
    let account_jwt = org.account_jwt("APP");
    let mut options = UserOptions::new("kez-person", unix_now());
    options.pub_allow = vec![ALLOWED.to_owned()];
    options.sub_allow = vec![ALLOWED.to_owned()];
    let signer = unscoped_signing_key(&org);
    let issued = issue::user(&key, &signer, Some(&account_jwt), &options).unwrap();
    assert_eq!(
        issued.public_key.as_bytes(),
        PublicNkey::from_kez(&key.public_key()).unwrap().as_bytes()
    );
    let path = org.write_creds("kez.creds", &issued.creds);
    let (client, mut errors) = connect(&server, &path)
        .await
        .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log_text()));
    server.expect_log("claim-name: \"kez-person\"", 0);
    round_trip(&client, ALLOWED).await;
    expect_publish_denied(&client, &mut errors, DENIED_SUB).await;
}

/// Regression (issue 5): `issue::user` signed users with the account's identity seed
/// although the operator sets `strict_signing_key_usage` (the spec's default), and
/// nats-server does not take that key as a user issuer (`UpdateAccountClaimsWithRefresh`
/// in nats-server `server/accounts.go` adds it to the signing keys only when not strict).
/// Now `issue::user` refuses the seed, with or without the operator JWT; what it used to
/// sign is refused by the server, and `check` reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_user_with_the_identity_seed_under_strict_signing_key_usage() {
    let org = Org::new();
    let server = org.server();
    let key = SecretKey::generate(Algorithm::Ed25519);
    let app = org.account_key("APP");
    let mut options = UserOptions::new("kez-person", unix_now());
    options.pub_allow = vec![ALLOWED.to_owned()];
    options.sub_allow = vec![ALLOWED.to_owned()];
    let account_jwt = org.account_jwt("APP");
    let refused = issue::user(&key, &org.seed(&app), Some(&account_jwt), &options).unwrap_err();
    assert!(
        matches!(refused, issue::IssueError::StrictSigningKeys { .. }),
        "{refused:?}"
    );
    options.operator_jwt =
        Some(fs::read_to_string(org.generated.layout.operator_jwt(OPERATOR)).unwrap());
    let refused = issue::user(&key, &org.seed(&app), Some(&account_jwt), &options).unwrap_err();
    assert!(
        matches!(
            refused,
            issue::IssueError::StrictSigningKeys {
                operator_known: true,
                ..
            }
        ),
        "{refused:?}"
    );
    // The signing key still works for the same person.
    let issued = issue::user(
        &key,
        &unscoped_signing_key(&org),
        Some(&account_jwt),
        &options,
    )
    .unwrap();
    let path = org.write_creds("kez-signing.creds", &issued.creds);
    connect(&server, &path).await.unwrap();

    // What the identity seed signs, nats-server refuses; check says so.
    let user_seed = Seed::from_kez(&key).unwrap();
    let mut claims = UserClaims::new(user_seed.public_key().to_string());
    claims.data.name = "kez-person".into();
    claims.nats.permissions.permissions.publish.allow = vec![ALLOWED.to_owned()];
    let token = jwt::encode(&mut claims, &org.seed(&app), unix_now()).unwrap();
    let path = org.write_creds(
        "kez-identity.creds",
        &kez_nats::creds::format(&token, &user_seed),
    );
    expect_refused(&server, &path, AUTH_FAILURE).await;
    let user_jwt = org.generated.layout.user_jwt(OPERATOR, "APP", "kez-person");
    fs::write(&user_jwt, &token).unwrap();
    let report = kez_nats::check::check(org.generated.layout.store(OPERATOR)).unwrap();
    assert!(
        report
            .findings()
            .iter()
            .any(|f| f.code() == kez_nats::check::Code::ChainStrictSigningKey
                && f.location().contains("kez-person")),
        "{:#?}",
        report.findings()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn nats_py_and_python_nkeys_agree_with_our_output() {
    let python = venv_bin("python");
    let script = repo_root().join("crosstest/nats/check_py.py");
    let org = Org::new();
    let server = org.server();

    let creds_path = org.creds("APP", "worker");
    let creds = kez_nats::creds::parse(&fs::read_to_string(&creds_path).unwrap()).unwrap();
    let user_seed = creds.seed();
    let user_seed_file = org.write_creds("worker.nk", &user_seed.to_text());
    let app = org.account_key("APP");
    let keys: Vec<serde_json::Value> = [
        (
            "operator",
            org.generated.operator,
            org.seed_file(&org.generated.operator),
        ),
        ("account", app, org.seed_file(&app)),
        ("user", user_seed.public_key(), user_seed_file),
    ]
    .into_iter()
    .map(|(role, public, seed_file)| {
        assert!(seed_file.is_file(), "{}", seed_file.display());
        serde_json::json!({
            "role": role,
            "seed_file": seed_file,
            "public": public.to_string(),
            "raw_hex": hex(public.as_bytes()),
        })
    })
    .collect();
    let message = b"kez-nats cross-check";
    let input = serde_json::json!({
        "url": server.url,
        "creds": creds_path,
        "allowed": ALLOWED,
        "denied_pub": DENIED_PUB,
        "denied_sub": DENIED_SUB,
        "keys": keys,
        "message_hex": hex(message),
        "signature_hex": hex(&user_seed.sign(message)),
        "jwt": creds.jwt(),
        "jwt_signer": org.seed_file(&Jwt::decode(creds.jwt()).unwrap().issuer().unwrap()),
    });
    let input_path = org.dir.path().join("check_py.json");
    fs::write(&input_path, serde_json::to_vec(&input).unwrap()).unwrap();

    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&input_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("check_py.py did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "check_py.py failed:\n{stderr}");
    let out: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let context = format!("{out:#}\nserver log:\n{}", server.log_text());

    // (b) nkeys: the same public keys and raw bytes from our seeds, for every role.
    let checked = out["keys"].as_array().unwrap();
    assert_eq!(checked.len(), 3, "{context}");
    for key in checked {
        for field in ["public_matches", "raw_matches", "prefix_matches"] {
            assert_eq!(key[field], true, "{field}: {context}");
        }
    }
    let signatures = &out["signatures"];
    assert_eq!(signatures["ours_verifies"], true, "{context}");
    assert_eq!(signatures["tampered_verifies"], false, "{context}");
    assert_eq!(signatures["jwt_verifies"], true, "{context}");
    assert_eq!(signatures["jwt_iss_matches"], true, "{context}");
    let theirs = unhex(signatures["python_signature_hex"].as_str().unwrap());
    assert!(user_seed.public_key().verify(message, &theirs), "{context}");
    assert_eq!(theirs, user_seed.sign(message), "Ed25519 is deterministic");

    // (a) nats-py: round trip allowed, publish and subscribe denied.
    let client = &out["client"];
    assert_eq!(client["connected"], true, "{context}");
    assert_eq!(client["round_trip"], "hello from nats-py", "{context}");
    assert!(
        client["denied_pub_error"]
            .as_str()
            .is_some_and(|e| e.contains(DENIED_PUB)),
        "{context}"
    );
    assert!(
        client["denied_sub_error"]
            .as_str()
            .is_some_and(|e| e.contains(DENIED_SUB)),
        "{context}"
    );
    assert_eq!(client["still_connected"], true, "{context}");
}

/// A person's KEZ key whose spec entry names their sigchain: once the chain rotates the
/// key away, the next `generate` revokes it (at the link's time, in the re-signed
/// account JWT), and nats-server started on the regenerated config refuses the `.creds`
/// it accepted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_sigchain_rotates_its_kez_key_away_is_refused_after_regeneration() {
    use kez_core::sigchain::{LinkBuilder, Op};
    let now = unix_now();
    let dir = tempfile::tempdir().unwrap();
    let first = SecretKey::generate(Algorithm::Ed25519);
    let second = SecretKey::generate(Algorithm::Ed25519);
    let chain_path = dir.path().join("person.jsonl");
    let init = LinkBuilder::init(u64::try_from(now - 2 * DAY).unwrap())
        .sign(&first, None)
        .unwrap();
    let line = |link: &kez_core::sigchain::Link| {
        let mut bytes = link.to_jcs().to_vec();
        bytes.push(b'\n');
        bytes
    };
    fs::write(&chain_path, line(&init)).unwrap();
    let spec = app_spec(
        "",
        &format!(
            r#"[[accounts.users]]
name = "person"
kind = "person"
roles = ["worker"]
kez_key = "{}"
sigchain = {:?}
"#,
            first.public_key(),
            chain_path.display().to_string()
        ),
    );
    let out = dir.path().join("out");
    let generated = generate(&spec, &out, &GenerateOptions::at(now - DAY)).unwrap();
    let person = user(&generated, "APP", "person").clone();
    assert!(!person.revoked);
    // The person's `.creds`: the store JWT and their own KEZ key.
    let token = fs::read_to_string(person.jwt.as_ref().unwrap()).unwrap();
    let creds = dir.path().join("person.creds");
    fs::write(
        &creds,
        kez_nats::creds::format(&token, &Seed::from_kez(&first).unwrap()).as_bytes(),
    )
    .unwrap();
    {
        let server = Server::start(&generated.memory_config);
        let (client, _) = connect(&server, &creds)
            .await
            .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log_text()));
        round_trip(&client, ALLOWED).await;
    }

    // The person rotates to a new key.
    let rotate = LinkBuilder::after(
        &init,
        Op::Rotate {
            new_key: second.public_key(),
        },
        u64::try_from(now - 60).unwrap(),
    )
    .sign(&first, Some(&second))
    .unwrap();
    let mut jsonl = line(&init);
    jsonl.extend(line(&rotate));
    fs::write(&chain_path, jsonl).unwrap();
    let mut options = GenerateOptions::at(now);
    options.force = true;
    let regenerated = generate(&spec, &out, &options).unwrap();
    assert!(user(&regenerated, "APP", "person").revoked);
    let (account, _) = Jwt::decode_verified::<AccountClaims>(
        fs::read_to_string(regenerated.layout.account_jwt(OPERATOR, "APP"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        account.nats.revocations.get(&person.public_key.to_string()),
        Some(&(now - 60))
    );

    let server = Server::start(&regenerated.memory_config);
    expect_refused(&server, &creds, "User authentication revoked").await;
}
