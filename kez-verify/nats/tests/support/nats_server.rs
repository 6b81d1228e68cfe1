//! The real nats-server for the integration tests (`tests/server.rs`,
//! `tests/callout.rs`): found in `.venv-nats/` (from `crosstest/nats/setup.sh`), started
//! on loopback with a ports file, every wait bounded; and the client steps both use.
//! Without the venv the tests fail, they never skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::{ConnectError, ConnectErrorKind, ServerError};
use futures_util::StreamExt as _;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Bound on the server start-up and on every client step.
pub const WAIT: Duration = Duration::from_secs(10);
pub const STEP: Duration = Duration::from_secs(5);

const SETUP_HINT: &str = "run crosstest/nats/setup.sh";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A program of the NATS venv; fails (never skips) when the venv is missing.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = repo_root().join(".venv-nats/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: {SETUP_HINT}",
        path.display()
    );
    path
}

/// A nats-server on 127.0.0.1 and a free port, with `-D` logging to a file; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: TempDir,
}

impl Server {
    pub fn start(config: &Path) -> Self {
        let bin = venv_bin("nats-server");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("nats-server.log");
        let ports = dir.path().join("ports");
        fs::create_dir(&ports).unwrap();
        let child = Command::new(&bin)
            .arg("-c")
            .arg(config)
            .args(["-a", "127.0.0.1", "-p", "-1", "-D", "--ports_file_dir"])
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {SETUP_HINT}", bin.display()));
        let mut server = Server {
            child,
            url: String::new(),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(url) = read_ports(&ports) {
                server.url = url;
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("nats-server exited ({status}):\n{}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "nats-server wrote no ports file within {WAIT:?}:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Lines of the server log containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits (bounded) for more than `before` lines containing `needle` in the server
    /// log; the log on failure.
    pub fn expect_log(&self, needle: &str, before: usize) {
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(needle)).collect();
            if lines.len() > before {
                eprintln!("nats-server: {}", lines[before]);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{needle:?} not in the server log:\n{}", self.log_text());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `{"nats":["nats://127.0.0.1:N"], …}` from `nats-server_<pid>.ports`, once complete.
fn read_ports(dir: &Path) -> Option<String> {
    for entry in fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        let name = path.file_name()?.to_str()?;
        if name.starts_with("nats-server_") && name.ends_with(".ports") {
            let json: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(&path).ok()?).ok()?;
            return json["nats"][0].as_str().map(str::to_owned);
        }
    }
    None
}

/// A publish and subscribe round trip on `subject`.
pub async fn round_trip(client: &async_nats::Client, subject: &str) {
    let mut sub = timeout(STEP, client.subscribe(subject.to_owned()))
        .await
        .unwrap()
        .unwrap();
    timeout(STEP, client.flush()).await.unwrap().unwrap();
    timeout(STEP, client.publish(subject.to_owned(), "ping".into()))
        .await
        .unwrap()
        .unwrap();
    let message = timeout(STEP, sub.next())
        .await
        .expect("no message within the bound")
        .expect("subscription ended");
    assert_eq!(message.subject.as_str(), subject);
    assert_eq!(&message.payload[..], b"ping");
}

/// Waits (bounded) for a server error containing `needle`.
pub async fn expect_server_error(rx: &mut mpsc::UnboundedReceiver<ServerError>, needle: &str) {
    let found = timeout(STEP, async {
        while let Some(error) = rx.recv().await {
            if error.to_string().contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no server error containing {needle:?}");
}

/// A client allowed exactly `allowed`: a round trip on it works; publishing to
/// `denied_pub` and subscribing to `denied_sub` each bring a permissions violation
/// (on `errors`); and violations do not cost the connection: `allowed` still works.
pub async fn expect_permissions(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<ServerError>,
    allowed: &str,
    denied_pub: &str,
    denied_sub: &str,
) {
    round_trip(client, allowed).await;
    expect_publish_denied(client, errors, denied_pub).await;

    let _denied = timeout(STEP, client.subscribe(denied_sub.to_owned()))
        .await
        .unwrap()
        .unwrap();
    expect_violation(client, errors, "Subscription to", denied_sub).await;

    round_trip(client, allowed).await;
}

/// Publishes to `subject`, expecting a permissions violation on `errors`.
pub async fn expect_publish_denied(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<ServerError>,
    subject: &str,
) {
    timeout(STEP, client.publish(subject.to_owned(), "no".into()))
        .await
        .unwrap()
        .unwrap();
    expect_violation(client, errors, "Publish to", subject).await;
}

/// Flushes, then waits (bounded) for nats-server's permissions violation for `what`
/// (`Publish to`, `Subscription to`) `subject`.
async fn expect_violation(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<ServerError>,
    what: &str,
    subject: &str,
) {
    timeout(STEP, client.flush()).await.unwrap().unwrap();
    expect_server_error(
        errors,
        &format!("Permissions Violation for {what} \"{subject}\""),
    )
    .await;
}

/// Fails unless nats-server refused the connection (authorization violation), naming
/// `what` and the server log.
pub fn assert_refused<T>(
    result: Result<T, ConnectError>,
    server: &Server,
    what: &dyn std::fmt::Display,
) {
    match result {
        Ok(_) => panic!("{what} was admitted; server log:\n{}", server.log_text()),
        Err(e) => assert_eq!(
            e.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "{e}; server log:\n{}",
            server.log_text()
        ),
    }
}
