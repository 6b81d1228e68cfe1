//! nostr relays on 127.0.0.1 for the nostr channel's tests.
//!
//! - [`RelayPeer`] is a real relay: nostr-relay-builder 0.44's [`LocalRelay`] with an
//!   in-memory database, on a free port. [`RelayPeer::publish`] sends an event over the
//!   websocket exactly as a client does, so the relay's own checks apply (it refuses an event
//!   whose id or signature is wrong); [`RelayPeer::store_raw`] puts an event straight into its
//!   database, past those checks, for relays that hold bad events.
//! - [`LyingRelay`] is a few lines of websocket server that answers every `REQ` with the
//!   event texts it was given, byte for byte and whatever the filter, then `EOSE`: a relay
//!   that lies, for the adversarial tests.
//! - [`NostrKey`] signs NIP-01 events with kez-core's BIP-340 code.
//!
//! Both relays stop when dropped. Every wait here is bounded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kez_core::nostr_event::Event;
use kez_core::{Algorithm, SecretKey, Signature};
use nostr_relay_builder::prelude::{
    JsonUtil, MemoryDatabase, MemoryDatabaseOptions, NostrDatabase, RelayBuilder,
};
use nostr_relay_builder::LocalRelay;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How long a publish waits for the relay's `OK`.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// A nostr secret key for tests, derived from a label so that runs repeat.
#[derive(Debug)]
pub struct NostrKey {
    secret: SecretKey,
}

impl NostrKey {
    /// The key for `label` (the SHA-256 of `kez-peers nostr key <label>`, retried until it is
    /// a valid secp256k1 scalar).
    pub fn from_label(label: &str) -> Self {
        let mut counter = 0u32;
        loop {
            let digest: [u8; 32] =
                Sha256::digest(format!("kez-peers nostr key {label} {counter}").as_bytes()).into();
            if let Ok(secret) = SecretKey::from_bytes(Algorithm::Bip340, &digest) {
                return Self { secret };
            }
            counter += 1;
        }
    }

    /// The 64-hex-digit x-only public key.
    pub fn hex(&self) -> String {
        hex::encode(self.secret.public_key().to_bytes())
    }

    /// The NIP-19 `npub1…` of the key.
    pub fn npub(&self) -> String {
        self.secret
            .public_key()
            .to_npub()
            .unwrap_or_else(|| self.hex())
    }

    /// A signed event by this key.
    pub fn sign(&self, created_at: u64, kind: u16, tags: Vec<Vec<String>>, content: &str) -> Event {
        let mut event = Event {
            id: [0; 32],
            pubkey: self.secret.public_key().to_bytes(),
            created_at,
            kind,
            tags,
            content: content.to_string(),
            sig: Signature([0; 64]),
        };
        event.id = event.compute_id();
        event.sig = self.secret.sign_raw(&event.id, Some(&[0u8; 32]));
        event
    }

    /// A signed text note (kind 1), as JSON text.
    pub fn note(&self, created_at: u64, content: &str) -> String {
        self.sign(created_at, 1, Vec::new(), content).to_json()
    }

    /// A signed NIP-09 deletion (kind 5) of the events with ids `ids` (hex), as JSON text.
    pub fn deletion(&self, created_at: u64, ids: &[&str]) -> String {
        let tags = ids
            .iter()
            .map(|id| vec!["e".to_string(), (*id).to_string()])
            .collect();
        self.sign(created_at, 5, tags, "retracted").to_json()
    }

    /// A signed NIP-65 relay list (kind 10002) naming `relays` (each `r` tag without a
    /// marker, so read and write), as JSON text.
    pub fn relay_list(&self, created_at: u64, relays: &[&str]) -> String {
        let tags = relays
            .iter()
            .map(|url| vec!["r".to_string(), (*url).to_string()])
            .collect();
        self.sign(created_at, 10002, tags, "").to_json()
    }
}

/// The id (hex) of an event text, as stated in it.
pub fn event_id(event_json: &str) -> Option<String> {
    serde_json::from_str::<Value>(event_json)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// A real nostr relay (nostr-relay-builder's [`LocalRelay`]) on 127.0.0.1.
#[derive(Debug)]
pub struct RelayPeer {
    relay: LocalRelay,
    database: Arc<MemoryDatabase>,
    url: String,
}

impl RelayPeer {
    /// Starts a relay with an in-memory database on a free port of 127.0.0.1.
    pub async fn start() -> Result<Self, String> {
        let database = Arc::new(MemoryDatabase::with_opts(MemoryDatabaseOptions {
            events: true,
            max_events: Some(100_000),
        }));
        let builder = RelayBuilder::default()
            .addr(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
            .database(database.clone());
        let relay = LocalRelay::new(builder);
        relay
            .run()
            .await
            .map_err(|e| format!("nostr relay did not start: {e}"))?;
        let url = relay.url().await.to_string();
        Ok(Self {
            relay,
            database,
            url,
        })
    }

    /// The relay's `ws://127.0.0.1:PORT` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes an event text over the websocket, as a client does, and waits (at most 5 s)
    /// for the relay's `OK`. `Err` holds the relay's reason when it refuses the event.
    pub async fn publish(&self, event_json: &str) -> Result<(), String> {
        let url = self.url.clone();
        let exchange = async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(|e| format!("connect to {url}: {e}"))?;
            socket
                .send(Message::text(format!("[\"EVENT\",{event_json}]")))
                .await
                .map_err(|e| format!("send to {url}: {e}"))?;
            while let Some(message) = socket.next().await {
                let message = message.map_err(|e| format!("read from {url}: {e}"))?;
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if items.first().and_then(Value::as_str) == Some("OK") {
                    let _ = socket.close(None).await;
                    return match items.get(2).and_then(Value::as_bool) {
                        Some(true) => Ok(()),
                        _ => Err(items
                            .get(3)
                            .and_then(Value::as_str)
                            .unwrap_or("refused")
                            .to_string()),
                    };
                }
            }
            Err(format!("{url} closed the connection without an OK"))
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no OK from {} within 5 s", self.url))?
    }

    /// Puts an event text straight into the relay's database, past the relay's own id and
    /// signature checks, so that the relay serves it as stored. The text must still be an
    /// event that nostr 0.44 can read; for exact bytes use a [`LyingRelay`].
    pub async fn store_raw(&self, event_json: &str) -> Result<(), String> {
        let event = nostr_relay_builder::prelude::Event::from_json(event_json)
            .map_err(|e| format!("not an event nostr can store: {e}"))?;
        self.database
            .save_event(&event)
            .await
            .map_err(|e| format!("relay database: {e}"))?;
        Ok(())
    }
}

impl Drop for RelayPeer {
    fn drop(&mut self) {
        self.relay.shutdown();
    }
}

/// A websocket "relay" on 127.0.0.1 that answers every `REQ` with its canned event texts,
/// unchanged and unfiltered, then `EOSE`.
#[derive(Debug)]
pub struct LyingRelay {
    url: String,
    events: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl LyingRelay {
    /// Starts a lying relay serving `events` (each a JSON text sent as it is).
    pub async fn start(events: Vec<String>) -> Result<Self, String> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("bind 127.0.0.1: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let events = Arc::new(Mutex::new(events));
        let served = events.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve_lies(stream, served.clone()));
                // Reap finished connections so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            url: format!("ws://{addr}"),
            events,
            task,
        })
    }

    /// The relay's `ws://127.0.0.1:PORT` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds an event text to those served.
    pub fn push(&self, event_json: impl Into<String>) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event_json.into());
        }
    }
}

impl Drop for LyingRelay {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// One connection to a [`LyingRelay`].
async fn serve_lies(stream: tokio::net::TcpStream, events: Arc<Mutex<Vec<String>>>) {
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if items.first().and_then(Value::as_str) != Some("REQ") {
            continue;
        }
        let Some(subscription) = items.get(1).map(Value::to_string) else {
            continue;
        };
        let canned = events.lock().map(|e| e.clone()).unwrap_or_default();
        for event in canned {
            let frame = format!("[\"EVENT\",{subscription},{event}]");
            if socket.send(Message::text(frame)).await.is_err() {
                return;
            }
        }
        if socket
            .send(Message::text(format!("[\"EOSE\",{subscription}]")))
            .await
            .is_err()
        {
            return;
        }
    }
}
