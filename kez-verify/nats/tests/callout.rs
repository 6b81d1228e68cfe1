//! The auth callout service (`kez_nats::callout`) against the real nats-server
//! (loopback only), in config mode (`authorization { auth_callout { … } }`) and in
//! operator mode (the callout in the account JWT's `authorization`, clients without a
//! JWT bound to it by `default_sentinel`): a KEZ key in good standing is admitted with
//! its role's permissions; a device key revoked in the sigchain, a key in no chain and a
//! nonce signed by the wrong key are refused; with an xkey the requests and responses
//! are sealed; two instances in the queue group share the requests. The server comes
//! from `crosstest/nats/setup.sh` (`.venv-nats/`); without it these tests fail, they
//! never skip.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_nats::{Auth, Event, ServerError};
use kez_core::sigchain::{Link, LinkBuilder, Op};
use kez_core::{Algorithm, PublicKey, SecretKey};
use kez_nats::callout::chains::ChainSource;
use kez_nats::callout::roles::Roles;
use kez_nats::callout::service::{self, ClientAuth, ServeOptions, Stats};
use kez_nats::callout::{Authorizer, Decision, Refusal, XKeySeed};
use kez_nats::claims::{AccountClaims, OperatorClaims, Permission, UserClaims};
use kez_nats::creds;
use kez_nats::jwt;
use kez_nats::nkey::{PublicNkey, Role, Seed};
use tempfile::TempDir;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use support::nats_server::{assert_refused, expect_permissions, round_trip, Server, STEP, WAIT};

const ALLOWED: &str = "app.ok.ping";
/// Inside the allowed `app.ok.>`, but denied for publishing.
const DENIED_PUB: &str = "app.ok.audit";
/// Outside the allowed subjects altogether.
const DENIED: &str = "app.secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `authorization { auth_callout { issuer, auth_users, account, xkey } }`.
    Config,
    /// The callout in the AUTH account JWT's `authorization`.
    Operator,
}

/// A person: a primary key and a device key, in a sigchain file the service reads.
struct Person {
    primary: SecretKey,
    device: SecretKey,
    links: Vec<Link>,
    path: PathBuf,
}

impl Person {
    fn new(chains: &Path) -> Self {
        let primary = SecretKey::generate(Algorithm::Ed25519);
        let device = SecretKey::generate(Algorithm::Ed25519);
        let init = LinkBuilder::init(1_700_000_000)
            .sign(&primary, None)
            .unwrap();
        let add = LinkBuilder::after(
            &init,
            Op::AddDevice {
                device: device.public_key(),
                name: Some("laptop".into()),
            },
            1_700_000_001,
        )
        .sign(&primary, None)
        .unwrap();
        // Named after the primary key, as `kez-verify sigchain` users keep them.
        let path = chains.join(format!("{}.jsonl", primary.public_key()));
        let person = Person {
            primary,
            device,
            links: vec![init, add],
            path,
        };
        person.write();
        person
    }

    fn write(&self) {
        let mut bytes = Vec::new();
        for link in &self.links {
            bytes.extend_from_slice(link.to_jcs());
            bytes.push(b'\n');
        }
        fs::write(&self.path, bytes).unwrap();
    }

    fn revoke_device(&mut self) {
        let revoke = LinkBuilder::after(
            self.links.last().unwrap(),
            Op::RevokeDevice {
                device: self.device.public_key(),
            },
            1_700_000_002,
        )
        .sign(&self.primary, None)
        .unwrap();
        self.links.push(revoke);
        self.write();
    }
}

/// A server configured for the callout, the keys and files the service needs, and one
/// person (alice) whose primary key has the `worker` role.
struct Fixture {
    dir: TempDir,
    issuer: Seed,
    service_auth: ClientAuthSpec,
    xkey: Option<XKeySeed>,
    roles: String,
    alice: Person,
    server: Server,
}

/// How the service connects (kept as data so several instances can connect).
enum ClientAuthSpec {
    Nkey(Seed),
    Creds(PathBuf),
}

impl ClientAuthSpec {
    fn auth(&self) -> ClientAuth {
        match self {
            ClientAuthSpec::Nkey(seed) => ClientAuth::NkeySeed(seed.to_text()),
            ClientAuthSpec::Creds(path) => ClientAuth::Creds(path.clone()),
        }
    }
}

fn roles_text(mode: Mode, alice: &PublicKey) -> String {
    let account = match mode {
        Mode::Config => "account = \"APP\"\n",
        Mode::Operator => "",
    };
    format!(
        r#"{account}user_ttl = "10m"
[roles.worker]
pub_allow = ["app.ok.>"]
pub_deny = ["{DENIED_PUB}"]
sub_allow = ["app.ok.>", "_INBOX.>"]
[[members]]
key = "{alice}"
roles = ["worker"]
name = "alice"
"#
    )
}

impl Fixture {
    fn new(mode: Mode, with_xkey: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chains = dir.path().join("chains");
        fs::create_dir(&chains).unwrap();
        let alice = Person::new(&chains);
        let issuer = Seed::generate(Role::Account).unwrap();
        let service = Seed::generate(Role::User).unwrap();
        let xkey = with_xkey.then(XKeySeed::generate);
        let xkey_line = |key: &str| match &xkey {
            Some(x) => format!("{key}: \"{}\"\n", x.public_key()),
            None => String::new(),
        };
        let config = dir.path().join("nats-server.conf");
        let service_auth = match mode {
            Mode::Config => {
                // The service's own nkey user also makes the server send nonces, which
                // it does only when some nkey user is configured.
                let text = format!(
                    r#"accounts {{
  AUTH {{ users: [ {{ nkey: "{service}" }} ] }}
  APP {{ }}
}}
authorization {{
  auth_callout {{
    issuer: "{issuer}"
    auth_users: [ "{service}" ]
    account: AUTH
    {xkey}  }}
}}
"#,
                    service = service.public_key(),
                    issuer = issuer.public_key(),
                    xkey = xkey_line("xkey"),
                );
                fs::write(&config, text).unwrap();
                ClientAuthSpec::Nkey(service)
            }
            Mode::Operator => {
                let now = 1_700_000_000;
                let operator = Seed::generate(Role::Operator).unwrap();
                let system = Seed::generate(Role::Account).unwrap();
                let mut op = OperatorClaims::new(operator.public_key().to_string());
                op.data.name = "acme".into();
                op.nats.system_account = system.public_key().to_string();
                let op_jwt = jwt::encode(&mut op, &operator, now).unwrap();
                let mut sys = AccountClaims::new(system.public_key().to_string());
                sys.data.name = "SYS".into();
                let sys_jwt = jwt::encode(&mut sys, &operator, now).unwrap();
                let mut auth = AccountClaims::new(issuer.public_key().to_string());
                auth.data.name = "AUTH".into();
                auth.nats.authorization.auth_users = vec![service.public_key().to_string()];
                if let Some(x) = &xkey {
                    auth.nats.authorization.xkey = x.public_key();
                }
                let auth_jwt = jwt::encode(&mut auth, &operator, now).unwrap();
                // The service's user in AUTH.
                let mut user = UserClaims::new(service.public_key().to_string());
                user.data.name = "callout".into();
                let user_jwt = jwt::encode(&mut user, &issuer, now).unwrap();
                let creds_path = dir.path().join("callout.creds");
                fs::write(&creds_path, creds::format(&user_jwt, &service).as_bytes()).unwrap();
                // The sentinel every client without a JWT connects as: a bearer user of
                // AUTH allowed nothing, replaced by what the callout issues.
                let sentinel_key = Seed::generate(Role::User).unwrap();
                let mut sentinel = UserClaims::new(sentinel_key.public_key().to_string());
                sentinel.data.name = "sentinel".into();
                sentinel.nats.permissions.bearer_token = true;
                let deny_all = {
                    let mut p = Permission::default();
                    p.deny = vec![">".into()];
                    p
                };
                sentinel.nats.permissions.permissions.publish = deny_all.clone();
                sentinel.nats.permissions.permissions.subscribe = deny_all;
                let sentinel_jwt = jwt::encode(&mut sentinel, &issuer, now).unwrap();
                let text = format!(
                    "operator: \"{op_jwt}\"\nsystem_account: \"{sys}\"\nresolver: MEMORY\nresolver_preload: {{\n  {sys}: \"{sys_jwt}\"\n  {auth}: \"{auth_jwt}\"\n}}\ndefault_sentinel: \"{sentinel_jwt}\"\n",
                    sys = system.public_key(),
                    auth = issuer.public_key(),
                );
                fs::write(&config, text).unwrap();
                ClientAuthSpec::Creds(creds_path)
            }
        };
        let roles = roles_text(mode, &alice.primary.public_key());
        let server = Server::start(&config);
        Fixture {
            dir,
            issuer,
            service_auth,
            xkey,
            roles,
            alice,
            server,
        }
    }

    fn authorizer(&self) -> Authorizer {
        let seed = Seed::parse(&self.issuer.to_text()).unwrap();
        let mut authorizer = Authorizer::new(seed, Roles::parse(&self.roles).unwrap());
        if let Some(x) = &self.xkey {
            authorizer = authorizer.xkey(XKeySeed::parse(&x.to_text()).unwrap());
        }
        authorizer.validate().unwrap();
        authorizer
    }

    fn chains(&self) -> ChainSource {
        ChainSource::directory(self.dir.path().join("chains"))
    }

    /// Starts one service instance; its decisions arrive on the returned channel.
    async fn start_service(&self) -> Instance {
        let client = timeout(
            WAIT,
            service::connect(&self.server.url, &self.service_auth.auth()),
        )
        .await
        .expect("service connect timed out")
        .unwrap_or_else(|e| panic!("{e}; server log:\n{}", self.server.log_text()));
        let authorizer = self.authorizer();
        let chains = self.chains();
        let (decisions_tx, decisions) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let options = ServeOptions::default();
            let mut ready_tx = Some(ready_tx);
            // `serve` flushes its subscription before waiting for requests; signal
            // readiness from a probe future polled first by `select!` inside it.
            let shutdown = async move {
                if let Some(tx) = ready_tx.take() {
                    let _ = tx.send(());
                }
                let _ = stopped.await;
            };
            let stats = service::serve(
                &client,
                &authorizer,
                &chains,
                &options,
                move |d: &Decision| {
                    let _ = decisions_tx.send(d.clone());
                },
                shutdown,
            )
            .await
            .unwrap();
            let _ = client.drain().await;
            stats
        });
        timeout(STEP, ready).await.unwrap().unwrap();
        Instance {
            decisions,
            stop: Some(stop),
            task,
        }
    }
}

struct Instance {
    decisions: mpsc::UnboundedReceiver<Decision>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Stats>,
}

impl Instance {
    /// The next decision, within the bound.
    async fn decision(&mut self) -> Decision {
        timeout(STEP, self.decisions.recv())
            .await
            .expect("no decision within the bound")
            .expect("the service stopped")
    }

    async fn stop(mut self) -> Stats {
        let _ = self.stop.take().unwrap().send(());
        timeout(WAIT, self.task).await.unwrap().unwrap()
    }
}

/// Client options with server errors collected on a channel.
fn with_errors(
    options: async_nats::ConnectOptions,
) -> (
    async_nats::ConnectOptions,
    mpsc::UnboundedReceiver<ServerError>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = options
        .connection_timeout(STEP)
        .max_reconnects(Some(1))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(e) = event {
                    let _ = tx.send(e);
                }
            }
        });
    (options, rx)
}

/// Connects with a KEZ key as the user nkey.
async fn connect_kez(
    server: &Server,
    key: &SecretKey,
) -> Result<(async_nats::Client, mpsc::UnboundedReceiver<ServerError>), async_nats::ConnectError> {
    let seed = Seed::from_kez(key).unwrap();
    let (options, rx) = with_errors(async_nats::ConnectOptions::with_nkey(
        seed.to_text().to_string(),
    ));
    let client = timeout(WAIT, options.connect(server.url.as_str()))
        .await
        .expect("connect timed out")?;
    Ok((client, rx))
}

/// Connects claiming `claimed`'s key but signing the nonce with `signer`.
async fn connect_forged(
    server: &Server,
    claimed: &SecretKey,
    signer: &SecretKey,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let nkey = PublicNkey::from_kez(&claimed.public_key())
        .unwrap()
        .to_string();
    let signer = Arc::new(Seed::from_kez(signer).unwrap());
    let (options, _rx) = with_errors(async_nats::ConnectOptions::with_auth_callback(
        move |nonce| {
            let nkey = nkey.clone();
            let signer = Arc::clone(&signer);
            async move {
                let mut auth = Auth::new();
                auth.nkey = Some(nkey);
                auth.signature = Some(signer.sign(&nonce).to_vec());
                Ok(auth)
            }
        },
    ));
    timeout(WAIT, options.connect(server.url.as_str()))
        .await
        .expect("connect timed out")
}

/// The cases every mode runs: admitted with the role's permissions (primary key and
/// device key), refused with a forged proof, refused when unknown, refused after the
/// device is revoked in the sigchain.
async fn admits_and_refuses(mode: Mode, with_xkey: bool) {
    let mut fixture = Fixture::new(mode, with_xkey);
    let mut service = fixture.start_service().await;
    let server = &fixture.server;

    // Admitted: the primary key has the worker role.
    let (client, mut errors) = connect_kez(server, &fixture.alice.primary)
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}; server log:\n{}", server.log_text()));
    match service.decision().await {
        Decision::Admitted { key, roles, .. } => {
            assert_eq!(key, fixture.alice.primary.public_key());
            assert_eq!(roles, ["worker"]);
        }
        other => panic!("{other}"),
    }
    expect_permissions(&client, &mut errors, ALLOWED, DENIED_PUB, DENIED).await;
    drop(client);

    // Admitted: the device key, through the chain's primary key.
    let (device_client, _) = connect_kez(server, &fixture.alice.device)
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}; server log:\n{}", server.log_text()));
    assert!(service.decision().await.is_admitted());
    round_trip(&device_client, ALLOWED).await;
    drop(device_client);

    // Refused: the nonce signed by another key than the one claimed.
    let mallory = SecretKey::generate(Algorithm::Ed25519);
    assert_refused(
        connect_forged(server, &fixture.alice.primary, &mallory).await,
        server,
        &"the client",
    );
    match service.decision().await {
        Decision::Refused {
            reason: Refusal::BadProof(key),
            ..
        } => assert_eq!(key, fixture.alice.primary.public_key()),
        other => panic!("{other}"),
    }

    // Refused: a key in no sigchain.
    assert_refused(connect_kez(server, &mallory).await, server, &"the client");
    match service.decision().await {
        Decision::Refused {
            reason: Refusal::UnknownKey(key),
            ..
        } => assert_eq!(key, mallory.public_key()),
        other => panic!("{other}"),
    }

    // Refused: the device key after the chain revokes it.
    fixture.alice.revoke_device();
    assert_refused(
        connect_kez(server, &fixture.alice.device).await,
        server,
        &"the client",
    );
    match service.decision().await {
        Decision::Refused {
            reason: Refusal::Revoked { key, .. },
            ..
        } => assert_eq!(key, fixture.alice.device.public_key()),
        other => panic!("{other}"),
    }
    // The primary key is unaffected.
    let (client, _) = connect_kez(server, &fixture.alice.primary)
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}; server log:\n{}", server.log_text()));
    assert!(service.decision().await.is_admitted());
    round_trip(&client, ALLOWED).await;

    let stats = service.stop().await;
    assert_eq!((stats.admitted, stats.refused, stats.dropped), (3, 3, 0));
    // With an xkey the server sealed every request, and every response was sealed back.
    assert_eq!(stats.sealed, if with_xkey { 6 } else { 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_mode_admits_by_sigchain_and_role_and_refuses_the_rest() {
    admits_and_refuses(Mode::Config, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_mode_with_xkey_encryption() {
    admits_and_refuses(Mode::Config, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_mode_admits_by_sigchain_and_role_and_refuses_the_rest() {
    admits_and_refuses(Mode::Operator, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_mode_with_xkey_encryption() {
    admits_and_refuses(Mode::Operator, true).await;
}

/// Two instances in the queue group: each request goes to one of them, and both get
/// some (bounded: at most 40 connections, where both answering by chance fails with
/// probability 2^-39).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_queue_group() {
    let fixture = Fixture::new(Mode::Config, false);
    let mut first = fixture.start_service().await;
    let mut second = fixture.start_service().await;
    let server = &fixture.server;
    let (mut by_first, mut by_second) = (0, 0);
    for _ in 0..40 {
        let (client, _) = connect_kez(server, &fixture.alice.primary)
            .await
            .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log_text()));
        drop(client);
        // Exactly one instance answers each request.
        let answered = timeout(STEP, async {
            tokio::select! {
                d = first.decisions.recv() => (1, d),
                d = second.decisions.recv() => (2, d),
            }
        })
        .await
        .expect("no instance answered");
        assert!(answered.1.unwrap().is_admitted());
        if answered.0 == 1 {
            by_first += 1;
        } else {
            by_second += 1;
        }
        if by_first > 0 && by_second > 0 {
            break;
        }
    }
    assert!(by_first > 0 && by_second > 0, "{by_first} / {by_second}");
    let (a, b) = (first.stop().await, second.stop().await);
    assert_eq!(a.admitted, by_first);
    assert_eq!(b.admitted, by_second);
}
