//! A Fedify ActivityPub server on loopback (the ap channel's peer).
//!
//! [`FedifyPeer::start`] runs `channels/peers/fedify/server.mjs` (Fedify 1.5.9 on Node 20,
//! installed by `channels/peers/fedify/setup.sh`) on a free port of 127.0.0.1 and waits,
//! bounded, for its ready line. The server writes every URL as `https://<host>/…` for the
//! account host it is given (`social.example`); clients reach it over plain HTTP with that
//! host mapped to [`FedifyPeer::addr`].
//!
//! It serves WebFinger, actors (`application/activity+json`) with a summary and
//! `PropertyValue` fields, outboxes of `Create{Note}` activities, and notes. Tests add actors
//! and notes, override what WebFinger answers for an account (an actor on another host) and
//! serve raw documents at any path (a forged actor). Dropping the peer closes the server's
//! stdin, which stops it; it is killed as well, and it stops itself after a hard timeout.
//!
//! ```no_run
//! use kez_peers::fedify::{Actor, FedifyPeer, NoteSpec};
//! let mut peer = FedifyPeer::start("social.example").unwrap();
//! let alice = peer.add_actor(&Actor::new("alice").summary("<p>kez:z1:…</p>")).unwrap();
//! peer.add_note(&NoteSpec::new("alice", "<p>hello</p>")).unwrap();
//! println!("{alice} on {}", peer.addr());
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

/// How long [`FedifyPeer::start`] waits for the ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// The server stops itself after this many seconds whatever happens.
const SELF_TIMEOUT_SECS: u32 = 900;

/// How to start the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FedifyOptions {
    /// The account host every URL names (`social.example`).
    pub host: String,
    /// Activities per outbox page.
    pub page_size: u32,
}

impl FedifyOptions {
    /// Options for `host` with 20 activities per outbox page.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            page_size: 20,
        }
    }
}

/// An actor to add: a `Person` with a summary and `PropertyValue` fields (HTML allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The user name (`alice`): the actor is `https://<host>/users/alice`.
    pub username: String,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The profile text (HTML).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The profile fields, each a `PropertyValue` (`name`, HTML `value`).
    pub fields: Vec<Field>,
}

/// One profile field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// The field's value (HTML).
    pub value: String,
}

impl Actor {
    /// An actor with no summary and no fields.
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            ..Self::default()
        }
    }

    /// Sets the summary.
    pub fn summary(mut self, html: impl Into<String>) -> Self {
        self.summary = Some(html.into());
        self
    }

    /// Adds a profile field.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
        self
    }
}

/// A note to add to an actor's outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteSpec {
    /// The user name whose outbox gets the note.
    pub actor: String,
    /// The content (HTML).
    pub content: String,
    /// When it was published (RFC 3339); the server's clock if unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// The note it replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// The actor it is attributed to (and the `Create`'s actor), if not the outbox's owner:
    /// another account's post or reply in the collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<String>,
}

impl NoteSpec {
    /// A note by `actor` with `content`, published now.
    pub fn new(actor: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            content: content.into(),
            ..Self::default()
        }
    }

    /// Sets the publication time (RFC 3339).
    pub fn published(mut self, time: impl Into<String>) -> Self {
        self.published = Some(time.into());
        self
    }

    /// Makes it a reply to `note`.
    pub fn in_reply_to(mut self, note: impl Into<String>) -> Self {
        self.in_reply_to = Some(note.into());
        self
    }

    /// Attributes it to another actor.
    pub fn attributed_to(mut self, actor: impl Into<String>) -> Self {
        self.attributed_to = Some(actor.into());
        self
    }
}

/// A running Fedify server on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub struct FedifyPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    url: String,
    addr: SocketAddr,
    host: String,
}

/// The directory of the server (`channels/peers/fedify`).
pub fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fedify")
}

impl FedifyPeer {
    /// Starts the server for the account host `host` with default options.
    pub fn start(host: &str) -> Result<FedifyPeer, String> {
        Self::start_with(&FedifyOptions::new(host))
    }

    /// Starts the server with `options`.
    pub fn start_with(options: &FedifyOptions) -> Result<FedifyPeer, String> {
        let dir = server_dir();
        if !dir.join("node_modules/@fedify/fedify").is_dir() {
            return Err(format!(
                "fedify is not installed in {}: run channels/peers/fedify/setup.sh",
                dir.display()
            ));
        }
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg("--host")
            .arg(&options.host)
            .arg("--page-size")
            .arg(options.page_size.to_string())
            .arg("--timeout")
            .arg(SELF_TIMEOUT_SECS.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting node server.mjs: {e}"))?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("node server.mjs has no stdout".into());
        };
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = FedifyPeer {
            child,
            stdin,
            lines,
            url: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            host: options.host.clone(),
        };
        let ready = peer.read_line(READY_TIMEOUT)?;
        let ready: Value = serde_json::from_str(&ready)
            .map_err(|e| format!("fedify ready line {ready:?} is not JSON: {e}"))?;
        let url = ready
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("fedify ready line has no url: {ready}"))?;
        let addr = url
            .strip_prefix("http://")
            .and_then(|rest| rest.parse::<SocketAddr>().ok())
            .filter(|addr| addr.ip().is_loopback())
            .ok_or_else(|| format!("fedify ready url {url:?} is not http://127.0.0.1:PORT"))?;
        peer.url = url.to_string();
        peer.addr = addr;
        Ok(peer)
    }

    /// The server's own URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address to map the account host to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The account host every URL names.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The id of the actor `username` (`https://<host>/users/<username>`).
    pub fn actor_id(&self, username: &str) -> String {
        format!("https://{}/users/{username}", self.host)
    }

    /// Adds (or replaces) an actor; returns its id.
    pub fn add_actor(&mut self, actor: &Actor) -> Result<String, String> {
        let mut command = serde_json::to_value(actor).map_err(|e| e.to_string())?;
        command["op"] = json!("actor");
        let answer = self.command(&command)?;
        id_of(answer)
    }

    /// Adds a note to an actor's outbox; returns the note's id.
    pub fn add_note(&mut self, note: &NoteSpec) -> Result<String, String> {
        let mut command = serde_json::to_value(note).map_err(|e| e.to_string())?;
        command["op"] = json!("note");
        let answer = self.command(&command)?;
        id_of(answer)
    }

    /// Makes WebFinger answer `self_link` (an actor URL on any host) as the ActivityPub
    /// actor of `resource` (`acct:alice@social.example`), or 404 when `None`.
    pub fn set_webfinger(&mut self, resource: &str, self_link: Option<&str>) -> Result<(), String> {
        let command = match self_link {
            Some(link) => json!({"op": "webfinger", "resource": resource, "self": link}),
            None => json!({"op": "webfinger", "resource": resource, "status": 404}),
        };
        self.command(&command).map(|_| ())
    }

    /// Serves `body` with `content_type` at `path` (starting with `/`), ahead of Fedify.
    pub fn set_raw(&mut self, path: &str, content_type: &str, body: &str) -> Result<(), String> {
        let command = json!({"op": "raw", "path": path, "contentType": content_type, "body": body});
        self.command(&command).map(|_| ())
    }

    /// Sends one JSON command (see server.mjs) and returns its answer.
    pub fn command(&mut self, command: &Value) -> Result<Value, String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| "fedify server stdin is closed".to_string())?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to the fedify server: {e}"))?;
        let line = self.read_line(COMMAND_TIMEOUT)?;
        let answer: Value = serde_json::from_str(&line)
            .map_err(|e| format!("fedify answer {line:?} is not JSON: {e}"))?;
        if answer.get("ok") == Some(&Value::Bool(true)) {
            Ok(answer)
        } else {
            Err(format!("fedify refused {command}: {answer}"))
        }
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("fedify server did not answer within {timeout:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                Err(format!("fedify server exited ({status:?})"))
            }
        }
    }
}

fn id_of(answer: Value) -> Result<String, String> {
    answer
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("fedify answer has no id: {answer}"))
}

impl Drop for FedifyPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
