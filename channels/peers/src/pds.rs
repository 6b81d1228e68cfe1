//! A real ATProto PDS with an in-memory PLC directory, on loopback (the bluesky channel's peer).
//!
//! [`PdsPeer::start`] runs `channels/peers/pds/start.mjs` with Node: `@atproto/dev-env`'s
//! `TestNetworkNoAppView` (a sqlite PDS and an in-memory PLC directory), every listener forced
//! onto 127.0.0.1, the PDS hostname `localhost`. Accounts get handles under `.test`
//! (`alice.test`), the PDS's service domain, so their `/.well-known/atproto-did` answers
//! (given a `Host:` header naming the handle) without any DNS.
//!
//! The PDS and PLC URLs name `http://localhost:PORT` (the PDS refuses loopback IPs as its
//! hostname), and DID documents point at that URL: clients map `localhost` (and the handle
//! hosts) to 127.0.0.1 themselves, for example with `kez_net::NetConfig::resolve`.
//!
//! The peer is driven synchronously (`std::process`, a reader thread and bounded waits), so
//! it works from plain tests and from inside an async runtime alike; calls block for at most
//! [`COMMAND_TIMEOUT`]. Dropping the peer closes the script's stdin (it then shuts the
//! network down and removes its files), waits briefly and kills it if it is still running.
//! The script also exits on its own after ten minutes, so a test that crashes never leaves
//! it behind.
//!
//! The Node packages are installed by `channels/peers/pds/setup.sh` (about 2 minutes the
//! first time). [`PdsPeer::start`] says so when they are missing.
//!
//! ```no_run
//! use kez_peers::pds::PdsPeer;
//! let pds = PdsPeer::start().unwrap();
//! let alice = pds.create_account("alice.test").unwrap();
//! let record = serde_json::json!({
//!     "$type": "dev.kez.proof",
//!     "claim": "kez:z1:…",
//!     "createdAt": "2026-01-01T00:00:00Z",
//! });
//! let written = pds.put_record(&alice.did, "dev.kez.proof", None, &record).unwrap();
//! println!("{} at {}", written.uri, pds.pds_url());
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

/// How long [`PdsPeer::start`] waits for the PDS to say it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one command (create an account, write a record) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the script may run before it stops itself, in seconds.
const SELF_TIMEOUT_SECS: u64 = 600;

/// A running PDS and PLC directory on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct PdsPeer {
    child: Child,
    io: Mutex<Io>,
    pds_url: String,
    plc_url: String,
    pds_port: u16,
    plc_port: u16,
    stderr: StderrTail,
    // Holds the PDS's sqlite files, blobs and log (the script's TMPDIR); the script removes
    // it when it exits (also when the peer sits in a static and is never dropped), and so
    // does dropping the peer.
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Io {
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

/// An account created on the PDS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    /// Its DID (`did:plc:…`).
    pub did: String,
    /// Its handle (`alice.test`).
    pub handle: String,
}

/// A record written to a repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordRef {
    /// Its `at://<did>/<collection>/<rkey>` URI.
    pub uri: String,
    /// The CID of the record.
    pub cid: String,
}

impl RecordRef {
    /// The record key: the last segment of the URI.
    pub fn rkey(&self) -> &str {
        self.uri.rsplit('/').next().unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
struct Ready {
    pds: String,
    plc: String,
    pds_port: u16,
    plc_port: u16,
}

/// The directory of the Node project (`channels/peers/pds`).
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pds")
}

impl PdsPeer {
    /// Starts the PDS and PLC directory and waits (at most [`READY_TIMEOUT`]) until they
    /// answer. Node is taken from `$KEZ_NODE` or `node` on `PATH`.
    pub fn start() -> Result<PdsPeer, String> {
        let project = project_dir();
        let script = project.join("start.mjs");
        let installed = project.join("node_modules/@atproto/dev-env/package.json");
        if !installed.is_file() {
            return Err(format!(
                "the PDS peer is not installed ({} is missing): run {}",
                installed.display(),
                project.join("setup.sh").display()
            ));
        }
        let node = std::env::var_os("KEZ_NODE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("node"));
        let dir = tempfile::Builder::new()
            .prefix("kez-pds-peer-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        let mut child = Command::new(&node)
            .arg(&script)
            .current_dir(&project)
            .env("TMPDIR", dir.path())
            .env("KEZ_PDS_REMOVE_ON_EXIT", dir.path())
            .env("KEZ_PDS_TIMEOUT_SECS", SELF_TIMEOUT_SECS.to_string())
            .env("LOG_ENABLED", "false")
            .env("NODE_ENV", "development")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "starting {} {}: {e} (is Node 20 installed? set KEZ_NODE to its path)",
                    node.display(),
                    script.display()
                )
            })?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(stdin), Some(stdout), Some(stderr)) => (stdin, stdout, stderr),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("the PDS script's stdio was not captured".into());
                }
            };
        let stderr = StderrTail::spawn(stderr);
        let lines = spawn_reader(stdout);
        let mut peer_io = Io {
            stdin: Some(stdin),
            lines,
            next_id: 0,
        };
        let ready = match wait_line(&mut peer_io.lines, READY_TIMEOUT) {
            Ok(line) => serde_json::from_str::<Ready>(&line)
                .map_err(|e| format!("the PDS script's ready line {line:?}: {e}")),
            Err(e) => Err(e),
        };
        let ready = match ready {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the PDS peer did not start: {e}; its stderr ends:\n{}",
                    stderr.text()
                ));
            }
        };
        Ok(PdsPeer {
            child,
            io: Mutex::new(peer_io),
            pds_url: ready.pds,
            plc_url: ready.plc,
            pds_port: ready.pds_port,
            plc_port: ready.plc_port,
            stderr,
            dir,
        })
    }

    /// The PDS's URL, `http://localhost:PORT` (what DID documents name).
    pub fn pds_url(&self) -> &str {
        &self.pds_url
    }

    /// The PLC directory's URL, `http://localhost:PORT`.
    pub fn plc_url(&self) -> &str {
        &self.plc_url
    }

    /// The PDS's port on 127.0.0.1.
    pub fn pds_port(&self) -> u16 {
        self.pds_port
    }

    /// The PLC directory's port on 127.0.0.1.
    pub fn plc_port(&self) -> u16 {
        self.plc_port
    }

    /// The temporary directory holding the PDS's files (removed when the peer is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates an account with `handle` (under `.test`, such as `alice.test`), with a DID
    /// registered in the PLC directory.
    pub fn create_account(&self, handle: &str) -> Result<Account, String> {
        let answer = self.command(json!({"op": "createAccount", "handle": handle}))?;
        serde_json::from_value(answer).map_err(|e| format!("createAccount answer: {e}"))
    }

    /// Writes `record` into the repository of `did` (an account created by this peer).
    /// With `rkey`, `com.atproto.repo.putRecord` at that key; without, `createRecord`, so the
    /// PDS picks a TID. The record is not validated against a lexicon.
    pub fn put_record(
        &self,
        did: &str,
        collection: &str,
        rkey: Option<&str>,
        record: &Value,
    ) -> Result<RecordRef, String> {
        let mut command = json!({
            "op": "putRecord",
            "did": did,
            "collection": collection,
            "record": record,
        });
        if let (Some(rkey), Some(object)) = (rkey, command.as_object_mut()) {
            object.insert("rkey".into(), Value::String(rkey.to_owned()));
        }
        let answer = self.command(command)?;
        serde_json::from_value(answer).map_err(|e| format!("putRecord answer: {e}"))
    }

    /// Deletes a record from the repository of `did`.
    pub fn delete_record(&self, did: &str, collection: &str, rkey: &str) -> Result<(), String> {
        self.command(json!({
            "op": "deleteRecord",
            "did": did,
            "collection": collection,
            "rkey": rkey,
        }))
        .map(|_| ())
    }

    /// Changes the handle of `did` (to another handle under `.test`); the PDS updates the
    /// DID document's `alsoKnownAs`.
    pub fn update_handle(&self, did: &str, handle: &str) -> Result<(), String> {
        self.command(json!({"op": "updateHandle", "did": did, "handle": handle}))
            .map(|_| ())
    }

    /// Sends one command and waits for its answer.
    fn command(&self, mut command: Value) -> Result<Value, String> {
        let mut io = self
            .io
            .lock()
            .map_err(|_| "the PDS peer's lock is poisoned".to_string())?;
        io.next_id += 1;
        let id = io.next_id;
        if let Some(object) = command.as_object_mut() {
            object.insert("id".into(), json!(id));
        }
        let op = command["op"].as_str().unwrap_or("?").to_owned();
        let stdin = io
            .stdin
            .as_mut()
            .ok_or_else(|| "the PDS peer is shutting down".to_string())?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{op}: writing to the PDS script: {e}{}", self.stderr_hint()))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = wait_line(&mut io.lines, left)
                .map_err(|e| format!("{op}: {e}{}", self.stderr_hint()))?;
            let answer: Value = serde_json::from_str(&line)
                .map_err(|e| format!("{op}: the PDS script answered {line:?}: {e}"))?;
            if answer["id"] != json!(id) {
                // An answer to an earlier command that timed out: skip it.
                continue;
            }
            if answer["ok"] == json!(true) {
                return Ok(answer);
            }
            let error = answer["error"].as_str().unwrap_or("no reason given");
            return Err(format!("{op}: {error}"));
        }
    }

    fn stderr_hint(&self) -> String {
        format!("; the PDS script's stderr ends:\n{}", self.stderr.text())
    }
}

impl Drop for PdsPeer {
    fn drop(&mut self) {
        // EOF on stdin: the script closes the network and removes its files.
        if let Ok(mut io) = self.io.lock() {
            io.stdin = None;
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the script's stdout line by line on a thread; the receiver sees each line.
fn spawn_reader(stdout: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    receiver
}

fn wait_line(lines: &mut Receiver<String>, timeout: Duration) -> Result<String, String> {
    match lines.recv_timeout(timeout) {
        Ok(line) => Ok(line),
        Err(RecvTimeoutError::Timeout) => Err(format!("no answer within {timeout:?}")),
        Err(RecvTimeoutError::Disconnected) => Err("the PDS script exited".into()),
    }
}

/// The last lines the script wrote to stderr, kept for error messages. A thread drains the
/// pipe so the script never blocks on it.
#[derive(Debug, Clone)]
struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// How many lines are kept.
    const LINES: usize = 40;

    fn spawn(stderr: impl Read + Send + 'static) -> Self {
        let tail = StderrTail(Arc::new(Mutex::new(VecDeque::new())));
        let keep = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut lines) = keep.0.lock() {
                    if lines.len() == Self::LINES {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            }
        });
        tail
    }

    fn text(&self) -> String {
        self.0
            .lock()
            .map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rkey_is_the_last_uri_segment() {
        let record = RecordRef {
            uri: "at://did:plc:abc/dev.kez.proof/3n2ugisygwk2k".into(),
            cid: "bafy".into(),
        };
        assert_eq!(record.rkey(), "3n2ugisygwk2k");
    }

    #[test]
    fn starts_serves_and_stops() {
        let pds = match PdsPeer::start() {
            Ok(pds) => pds,
            Err(e) => panic!("{e}"),
        };
        assert!(pds.pds_url().starts_with("http://localhost:"));
        assert!(pds.plc_url().starts_with("http://localhost:"));
        let alice = pds.create_account("alice.test").expect("account");
        assert!(alice.did.starts_with("did:plc:"), "{alice:?}");
        assert_eq!(alice.handle, "alice.test");
        let record =
            json!({"$type": "dev.kez.proof", "claim": "x", "createdAt": "2026-01-01T00:00:00Z"});
        let written = pds
            .put_record(&alice.did, "dev.kez.proof", None, &record)
            .expect("record");
        assert!(written
            .uri
            .starts_with(&format!("at://{}/dev.kez.proof/", alice.did)));
        let named = pds
            .put_record(&alice.did, "dev.kez.proof", Some("self"), &record)
            .expect("record at a key");
        assert_eq!(named.rkey(), "self");
        pds.delete_record(&alice.did, "dev.kez.proof", "self")
            .expect("delete");
        let err = pds
            .put_record("did:plc:nobody", "dev.kez.proof", None, &record)
            .unwrap_err();
        assert!(err.contains("no account"), "{err}");
        // Both listeners answer on 127.0.0.1.
        for port in [pds.pds_port(), pds.plc_port()] {
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        }
        let dir = pds.dir().to_path_buf();
        drop(pds);
        assert!(!dir.exists());
    }
}
