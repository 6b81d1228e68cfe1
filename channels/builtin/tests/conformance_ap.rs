//! The channel conformance suite (kez-channel-conformance) for the ap channel, against a
//! Fedify ActivityPub server on 127.0.0.1 answering for the host `social.example`.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{Channel, Net};
use kez_channel_conformance::{trials, Peer};
use kez_channels::ap::ApChannel;
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::fedify::{Actor, FedifyPeer, NoteSpec};

/// The account host, mapped to the server's port.
const HOST: &str = "social.example";

struct Ap {
    fedify: FedifyPeer,
    actors: BTreeSet<String>,
}

impl Ap {
    fn start() -> Box<dyn Peer> {
        match tokio::task::block_in_place(|| FedifyPeer::start(HOST)) {
            Ok(fedify) => Box::new(Self {
                fedify,
                actors: BTreeSet::new(),
            }),
            Err(e) => panic!("fedify: {e}"),
        }
    }
}

fn live(config: NetConfig) -> Arc<dyn Net> {
    match LiveNet::new(config) {
        Ok(net) => Arc::new(net),
        Err(e) => panic!("network setup: {e}"),
    }
}

/// A loopback TCP port nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr,
        Err(e) => panic!("binding a TCP socket: {e}"),
    }
}

/// `text` as HTML text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[async_trait]
impl Peer for Ap {
    fn channel(&self) -> Arc<dyn Channel> {
        Arc::new(ApChannel::new())
    }

    fn net(&self) -> Arc<dyn Net> {
        live(NetConfig::danger_loopback_testing().with_resolve(HOST, self.fedify.addr()))
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        live(NetConfig::danger_loopback_testing().with_resolve(HOST, closed_port()))
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        if self.actors.insert(label.to_string()) {
            let fedify = &mut self.fedify;
            tokio::task::block_in_place(|| fedify.add_actor(&Actor::new(label)))?;
        }
        Identity::parse(&format!("ap:{label}@{HOST}")).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        let user = publisher
            .account()
            .strip_suffix(&format!("@{HOST}"))
            .ok_or_else(|| format!("{publisher} is not on {HOST}"))?
            .to_string();
        let note = NoteSpec::new(user, format!("<p>{}</p>", escape(text)));
        let fedify = &mut self.fedify;
        tokio::task::block_in_place(|| fedify.add_note(&note)).map(|_| ())
    }

    fn bad_accounts(&self) -> Vec<String> {
        [
            "alice",
            "alice@b@social.example",
            "аlice@social.example",
            "ａlice@social.example",
            "alice@аррӏе.com",
            "alice@localhost",
            "alice@127.0.0.1",
            ".alice@social.example",
            "al ice@social.example",
            "@@alice@social.example",
        ]
        .map(String::from)
        .to_vec()
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        [
            ("@Alice@Social.Example.", "alice@social.example"),
            ("alice@bücher.example", "alice@xn--bcher-kva.example"),
            ("a_b.c-d@social.example", "a_b.c-d@social.example"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec()
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = trials("ap", Ap::start);
    libtest_mimic::run(&args, trials).exit();
}
