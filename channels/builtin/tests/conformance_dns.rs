//! The channel conformance suite (kez-channel-conformance) for the dns channel, against knot
//! on 127.0.0.1 serving a zone the suite publishes TXT records into.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

use async_trait::async_trait;
use kez_channel::{Channel, Net};
use kez_channel_conformance::{trials, Peer};
use kez_channels::dns::DnsChannel;
use kez_core::encoding::dns_txt;
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::knot::KnotPeer;

/// The zone accounts live in: `dns:<label>.conformance.test`.
const ZONE: &str = "conformance.test";

struct Dns {
    knot: KnotPeer,
    zone: String,
}

impl Dns {
    fn start() -> Box<dyn Peer> {
        let zone = format!(
            "$ORIGIN {ZONE}.\n$TTL 60\n\
             @ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n\
             @ IN NS ns1.{ZONE}.\nns1 IN A 127.0.0.1\n"
        );
        match KnotPeer::start(ZONE, &zone) {
            Ok(knot) => Box::new(Self { knot, zone }),
            Err(e) => panic!("knot: {e}"),
        }
    }
}

fn live(config: NetConfig) -> Arc<dyn Net> {
    match LiveNet::new(config) {
        Ok(net) => Arc::new(net),
        Err(e) => panic!("network setup: {e}"),
    }
}

/// A loopback UDP port nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    match UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|s| s.local_addr()) {
        Ok(addr) => addr,
        Err(e) => panic!("binding a UDP socket: {e}"),
    }
}

#[async_trait]
impl Peer for Dns {
    fn channel(&self) -> Arc<dyn Channel> {
        Arc::new(DnsChannel::new())
    }

    fn net(&self) -> Arc<dyn Net> {
        live(NetConfig {
            dns_servers: vec![self.knot.addr()],
            ..NetConfig::danger_loopback_testing()
        })
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        live(NetConfig {
            dns_servers: vec![closed_port()],
            ..NetConfig::danger_loopback_testing()
        })
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        Identity::parse(&format!("dns:{label}.{ZONE}")).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        let label = publisher
            .account()
            .strip_suffix(&format!(".{ZONE}"))
            .ok_or_else(|| format!("{publisher} is not in {ZONE}"))?;
        let strings: Vec<Vec<u8>> = dns_txt::split_strings(text.as_bytes())
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        self.zone.push_str(&format!(
            "_kez.{label} IN TXT {}\n",
            dns_txt::quote_strings(&strings)
        ));
        let knot = &self.knot;
        let zone = &self.zone;
        tokio::task::block_in_place(|| knot.set_zone(zone))
    }

    fn bad_accounts(&self) -> Vec<String> {
        [
            "localhost",
            "127.0.0.1",
            "аррӏе.com",
            "xn--80ak6aa92e.com",
            "раураl.com",
            "exa_mple.com",
            "ab--c.com",
            "example.com..",
            "exa mple.com",
        ]
        .map(String::from)
        .to_vec()
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        [
            ("Example.COM.", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("ｅxample.com", "example.com"),
            ("例子.测试", "xn--fsqu00a.xn--0zwm56d"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec()
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let trials = trials("dns", Dns::start);
    libtest_mimic::run(&args, trials).exit();
}
