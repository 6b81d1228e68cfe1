//! The channel conformance suite (kez-channel-conformance) for the bluesky channel, against a
//! real ATProto PDS and PLC directory (`kez_peers::pds`) and knot answering DNS for the `test.`
//! zone (`kez_peers::knot`), all on 127.0.0.1. Each case gets a fresh PDS (started when the
//! case first needs it, so cases that only normalise accounts start none) and a fresh knot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use kez_channel::{Channel, Net};
use kez_channel_conformance::{trials, Peer};
use kez_channels::bluesky::{BlueskyChannel, COLLECTION};
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::knot::KnotPeer;
use kez_peers::pds::PdsPeer;
use serde_json::json;

/// An empty `test.` zone: every `_atproto.<handle>` is NXDOMAIN, so handles resolve by HTTPS.
const TEST_ZONE: &str = "$ORIGIN test.\n$TTL 60\n\
    @ IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n\
    @ IN NS ns1.test.\nns1 IN A 127.0.0.1\n";

struct Bluesky {
    pds: OnceLock<Result<PdsPeer, String>>,
    knot: Result<KnotPeer, String>,
    /// Handle → DID of the accounts made so far.
    dids: HashMap<String, String>,
}

impl Bluesky {
    /// Starts knot. The suite calls the factory inside its tokio runtime, synchronously; a
    /// failure to start shows when the case first needs the peer.
    fn start() -> Box<dyn Peer> {
        let knot = tokio::task::block_in_place(|| {
            KnotPeer::start("test", TEST_ZONE)
                .map_err(|e| format!("{e} (run channels/peers/knot/setup.sh)"))
        });
        Box::new(Self {
            pds: OnceLock::new(),
            knot,
            dids: HashMap::new(),
        })
    }

    /// The PDS, started on first use.
    fn pds(&self) -> Result<&PdsPeer, String> {
        self.pds
            .get_or_init(|| tokio::task::block_in_place(PdsPeer::start))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A loopback network that sends `localhost` and every handle made so far to `ip` (the
    /// URL's port, or the PDS's port for a handle), with DNS from knot.
    fn net_via(&self, ip: [u8; 4]) -> Arc<dyn Net> {
        let pds_port = self.pds().map(PdsPeer::pds_port).unwrap_or(1);
        let mut config = NetConfig::danger_loopback_testing()
            .with_resolve("localhost", SocketAddr::from((ip, 0)));
        for handle in self.dids.keys() {
            config = config.with_resolve(handle.clone(), SocketAddr::from((ip, pds_port)));
        }
        if let Ok(knot) = &self.knot {
            config.dns_servers = vec![knot.addr()];
        }
        match LiveNet::new(config) {
            Ok(net) => Arc::new(net),
            Err(e) => panic!("network setup: {e}"),
        }
    }
}

#[async_trait]
impl Peer for Bluesky {
    fn channel(&self) -> Arc<dyn Channel> {
        // Lookups need an account, and making one starts the PDS; before that (cases that
        // only normalise) the directory is never asked, and a closed port stands in for it.
        let plc = match self.pds.get() {
            Some(Ok(pds)) => pds.plc_url().to_string(),
            _ => "http://localhost:1".into(),
        };
        Arc::new(BlueskyChannel::new(plc))
    }

    fn net(&self) -> Arc<dyn Net> {
        self.net_via([127, 0, 0, 1])
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        // The PDS and PLC listen on 127.0.0.1 only: on 127.0.0.2 every connection is refused.
        self.net_via([127, 0, 0, 2])
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        let handle = format!("{label}.test");
        if !self.dids.contains_key(&handle) {
            let pds = self.pds()?;
            let account = tokio::task::block_in_place(|| pds.create_account(&handle))?;
            self.dids.insert(handle.clone(), account.did);
        }
        Identity::parse(&format!("bluesky:{handle}")).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        let did = self
            .dids
            .get(publisher.account())
            .ok_or_else(|| format!("{publisher} is no account of this peer"))?;
        let record = json!({
            "$type": COLLECTION,
            "claim": text,
            "createdAt": "2026-01-01T00:00:00Z",
        });
        let pds = self.pds()?;
        tokio::task::block_in_place(|| pds.put_record(did, COLLECTION, None, &record))?;
        Ok(())
    }

    fn bad_accounts(&self) -> Vec<String> {
        [
            "\u{0430}lice.bsky.social",  // Cyrillic а
            "\u{ff41}lice.bsky.social",  // fullwidth ａ
            "ali\u{200b}ce.bsky.social", // zero-width space
            "xn--pple-43d.com",          // Cyrillic а + pple
            "alice",
            "localhost",
            "127.0.0.1",
            "alice.123",
            "alice..test",
            "al ice.test",
            "-alice.test",
            "a_b.test",
            "",
            "@",
            "@@alice.test",
            &format!("{}.test", "a".repeat(64)),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        [
            ("@Alice.BSKY.social", "alice.bsky.social"),
            ("alice.test.", "alice.test"),
            ("x.y.z", "x.y.z"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials("bluesky", Bluesky::start)).exit();
}
