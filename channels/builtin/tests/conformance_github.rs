//! The channel conformance suite (kez-channel-conformance) for the github channel, against
//! recorded GitHub responses served on 127.0.0.1.

use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{Channel, Net};
use kez_channel_conformance::{trials, Peer};
use kez_channels::github::GithubChannel;
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::github::GithubPeer;

struct Github {
    peer: GithubPeer,
}

impl Github {
    /// Starts the peer. The suite calls the factory inside its tokio runtime, synchronously.
    fn start() -> Box<dyn Peer> {
        let peer = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(GithubPeer::start())
        });
        Box::new(Self { peer })
    }
}

fn live(config: NetConfig) -> Arc<dyn Net> {
    match LiveNet::new(config) {
        Ok(net) => Arc::new(net),
        Err(e) => panic!("network setup: {e}"),
    }
}

#[async_trait]
impl Peer for Github {
    fn channel(&self) -> Arc<dyn Channel> {
        Arc::new(GithubChannel::new(self.peer.api_base()))
    }

    fn net(&self) -> Arc<dyn Net> {
        live(NetConfig::danger_loopback_testing())
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        // The default policy refuses loopback: the peer cannot be reached.
        live(NetConfig::default())
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        self.peer.add_user(label);
        Identity::parse(&format!("github:{label}")).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        self.peer
            .add_gist(publisher.account(), &[("kez.txt", text)]);
        Ok(())
    }

    fn bad_accounts(&self) -> Vec<String> {
        [
            "j\u{0430}son",
            "\u{ff4a}ason",
            "ja\u{200b}son",
            "-jason",
            "jason-",
            "ja--son",
            "ja son",
            "ja_son",
            "",
            "@",
            &"a".repeat(40),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        [("@Jason", "jason"), ("Alice-Bob", "alice-bob"), ("x", "x")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    libtest_mimic::run(&args, trials("github", Github::start)).exit();
}
