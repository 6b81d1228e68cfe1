//! The channel conformance suite (kez-channel-conformance) for the nostr channel, against a
//! real nostr relay on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{Channel, Net};
use kez_channel_conformance::{trials, Peer};
use kez_channels::nostr::NostrChannel;
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::relay::{NostrKey, RelayPeer};

struct Nostr {
    relay: RelayPeer,
    keys: BTreeMap<String, NostrKey>,
    clock: u64,
}

impl Nostr {
    /// Starts the relay. The suite calls the factory inside its tokio runtime, synchronously.
    fn start() -> Box<dyn Peer> {
        let relay = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(RelayPeer::start())
        });
        match relay {
            Ok(relay) => Box::new(Self {
                relay,
                keys: BTreeMap::new(),
                clock: 1_714_600_000,
            }),
            Err(e) => panic!("relay: {e}"),
        }
    }
}

fn live(config: NetConfig) -> Arc<dyn Net> {
    match LiveNet::new(config) {
        Ok(net) => Arc::new(net),
        Err(e) => panic!("network setup: {e}"),
    }
}

#[async_trait]
impl Peer for Nostr {
    fn channel(&self) -> Arc<dyn Channel> {
        Arc::new(NostrChannel::new(vec![self.relay.url().to_string()]))
    }

    fn net(&self) -> Arc<dyn Net> {
        live(NetConfig::danger_loopback_testing())
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        // The default policy refuses loopback: the relay cannot be reached.
        live(NetConfig::default())
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        let key = self
            .keys
            .entry(label.to_string())
            .or_insert_with(|| NostrKey::from_label(label));
        Identity::parse(&format!("nostr:{}", key.npub())).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        let key = self
            .keys
            .values()
            .find(|k| k.npub() == publisher.account())
            .ok_or_else(|| format!("{publisher} is not an account of this peer"))?;
        self.clock += 1;
        self.relay.publish(&key.note(self.clock, text)).await
    }

    fn bad_accounts(&self) -> Vec<String> {
        let npub = NostrKey::from_label("alice").npub();
        let mut flipped = npub.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'q' { b'p' } else { b'q' };
        vec![
            "alice".into(),
            npub.to_uppercase(),
            String::from_utf8_lossy(&flipped).into_owned(),
            NostrKey::from_label("alice").hex()[2..].to_string(),
            "npub1".into(),
            format!("@{npub}"),
        ]
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        let alice = NostrKey::from_label("alice");
        vec![
            (alice.hex(), alice.npub()),
            (alice.hex().to_uppercase(), alice.npub()),
            (alice.npub(), alice.npub()),
        ]
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials("nostr", Nostr::start)).exit();
}
