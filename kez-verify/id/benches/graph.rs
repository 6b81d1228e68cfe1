//! Benchmark (issue 3 §6): an identity graph is verified concurrently.
//!
//! With 100 ms of latency injected into every answer of every local peer, verifying the
//! identity graph of one key — 20 linked accounts, four on each of dns, github, nostr,
//! bluesky and ap — must take at most 1.25 times the slowest single account's own chain of
//! sequential requests.
//!
//! The peers are the real ones the channel tests use (`kez_peers`): knot, a nostr relay, a
//! PDS with its PLC directory, Fedify, recorded GitHub responses and a sigchain source, each
//! behind a [`kez_peers::latency`] proxy. Every account publishes a claim signed by one
//! Ed25519 key, whose sigchain (served by the sigchain source) adds all 20 claims.
//!
//! Each iteration verifies every account alone (`Verifier::identity`, a fresh network each
//! time) and takes the slowest, then the whole graph (`Verifier::graph`); it prints both,
//! the ratio, and what the slowest account asked for. A warm-up iteration is not counted.
//!
//! ```sh
//! cargo bench -p kez-id --bench graph
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{iterations, median, ms};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kez_channels::bluesky::COLLECTION;
use kez_channels::ChannelsConfig;
use kez_core::encoding::{dns_txt, encode, Encoding};
use kez_core::sigchain::{to_jsonl, LinkBuilder, Op};
use kez_core::verdict::Outcome;
use kez_core::{Algorithm, Claim, ClaimBuilder, Identity, SecretKey};
use kez_id::{ChainSources, Verifier};
use kez_net::{LiveNet, NetConfig, Recorder};
use kez_peers::chains::ChainSource;
use kez_peers::fedify::{Actor, FedifyPeer};
use kez_peers::github::GithubPeer;
use kez_peers::knot::KnotPeer;
use kez_peers::latency::{DnsLatencyProxy, LatencyProxy};
use kez_peers::pds::PdsPeer;
use kez_peers::relay::{NostrKey, RelayPeer};

/// The latency added to every answer of every peer.
const DELAY: Duration = Duration::from_millis(100);
/// Accounts per channel (five channels).
const PER_CHANNEL: usize = 4;
/// The bound of issue 3 §6.
const BOUND: f64 = 1.25;
/// No single verification here may take longer (a hang fails the bench instead).
const HANG: Duration = Duration::from_secs(60);

/// The key's chain starts here (2026-01-01T00:00:00Z); claims and posts follow.
const T0: u64 = 1_767_225_600;
/// The account host of the ActivityPub server.
const AP_HOST: &str = "social.example";
/// The loopback address the PDS and PLC proxies listen on, at the PDS's own port numbers, so
/// that the `http://localhost:PORT` URLs in DID documents reach them.
const PDS_PROXY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn main() {
    if !support::should_run("graph") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("graph bench failed: {e}");
        std::process::exit(1);
    }
}

/// The peers, their proxies and what was published.
struct Bench {
    // Kept alive for the run; dropped (and stopped) at the end.
    _knot: KnotPeer,
    _relay: RelayPeer,
    _pds: PdsPeer,
    _fedify: FedifyPeer,
    _github: GithubPeer,
    _chains: ChainSource,
    dns_proxy: DnsLatencyProxy,
    proxies: Vec<(&'static str, LatencyProxy)>,
    config: NetConfig,
    channels: ChannelsConfig,
    sources: ChainSources,
    key: SecretKey,
    identities: Vec<Identity>,
    at: u64,
}

impl Bench {
    fn bursts(&self) -> usize {
        self.dns_proxy.bursts() + self.proxies.iter().map(|(_, p)| p.bursts()).sum::<usize>()
    }

    fn verifier(&self) -> (Verifier, Arc<Recorder>) {
        let live = LiveNet::new(self.config.clone()).expect("loopback network");
        let recorder = Arc::new(Recorder::new(Arc::new(live)));
        let registry = kez_channels::default_registry(&self.channels);
        let verifier = Verifier::new(registry, recorder.clone(), self.sources.clone(), self.at);
        (verifier, recorder)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(T0)
}

fn loopback(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{url}: no scheme"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = hostport
        .parse()
        .map_err(|e| format!("{url}: not IP:PORT: {e}"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!("{url} is not on loopback"))
    }
}

fn sign(key: &SecretKey, subject: &Identity, created_at: u64) -> Claim {
    ClaimBuilder::new(subject.clone(), created_at)
        .sign(key, None)
        .expect("sign claim")
}

async fn setup() -> Result<Bench, String> {
    let key = SecretKey::from_bytes(Algorithm::Ed25519, &[0x42; 32]).map_err(|e| e.to_string())?;
    let mut claims: Vec<Claim> = Vec::new();
    let mut identities: Vec<Identity> = Vec::new();
    let mut next_claim = |subject: &str| -> Result<Claim, String> {
        let identity = Identity::parse(subject).map_err(|e| format!("{subject}: {e}"))?;
        let claim = sign(&key, &identity, T0 + 100 + claims.len() as u64);
        claims.push(claim.clone());
        identities.push(identity);
        Ok(claim)
    };

    // dns: `_kez.dnsN.test` in the zone `test.`, which also answers NXDOMAIN for the
    // bluesky handles' `_atproto` names.
    let mut zone = String::from(
        "$ORIGIN test.\n$TTL 60\n@ IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.test.\nns1 IN A 127.0.0.1\n",
    );
    for n in 0..PER_CHANNEL {
        let claim = next_claim(&format!("dns:dns{n}.test"))?;
        zone.push_str(&dns_txt::encode_zone_line(&claim));
    }
    let knot = KnotPeer::start("test", &zone)?;

    // github: one gist with a kez.md per user.
    let github = GithubPeer::start().await;
    for n in 0..PER_CHANNEL {
        let login = format!("gh{n}");
        let claim = next_claim(&format!("github:{login}"))?;
        let gist = github.add_gist(&login, &[("kez.md", &encode(&claim, Encoding::Markdown))]);
        github.set_times(&gist, T0 + 500, T0 + 500);
    }

    // nostr: a note with the compact claim per key.
    let relay = RelayPeer::start().await?;
    for n in 0..PER_CHANNEL {
        let nostr = NostrKey::from_label(&format!("graph bench {n}"));
        let claim = next_claim(&format!("nostr:{}", nostr.npub()))?;
        let note = nostr.note(
            T0 + 500,
            &format!("my KEZ proof: {}", encode(&claim, Encoding::Compact)),
        );
        relay.publish(&note).await?;
    }

    // bluesky: a dev.kez.proof record per account on the PDS.
    let pds = PdsPeer::start()?;
    let mut handles = Vec::new();
    for n in 0..PER_CHANNEL {
        let handle = format!("bsky{n}.test");
        let account = pds.create_account(&handle)?;
        let claim = next_claim(&format!("bluesky:{handle}"))?;
        let record = serde_json::json!({
            "$type": COLLECTION,
            "claim": encode(&claim, Encoding::Compact),
            "createdAt": "2026-01-01T00:10:00Z",
        });
        pds.put_record(&account.did, COLLECTION, None, &record)?;
        handles.push(handle);
    }

    // ap: the compact claim in each actor's summary.
    let mut fedify = FedifyPeer::start(AP_HOST)?;
    for n in 0..PER_CHANNEL {
        let user = format!("ap{n}");
        let claim = next_claim(&format!("ap:{user}@{AP_HOST}"))?;
        fedify.add_actor(&Actor::new(&user).summary(format!(
            "<p>My KEZ proof: {}</p>",
            encode(&claim, Encoding::Compact)
        )))?;
    }

    // The key's sigchain adds every claim.
    let mut links = vec![LinkBuilder::init(T0)
        .sign(&key, None)
        .map_err(|e| e.to_string())?];
    for (i, claim) in claims.iter().enumerate() {
        let op = Op::Add {
            claim: claim.id(),
            subject: claim.subject().clone(),
        };
        let previous = links.last().ok_or("empty chain")?;
        let link = LinkBuilder::after(previous, op, T0 + 200 + i as u64)
            .sign(&key, None)
            .map_err(|e| e.to_string())?;
        links.push(link);
    }
    let chains = ChainSource::start().await;
    chains
        .put(&key.public_key().to_string(), to_jsonl(&links))
        .await;

    // Every peer behind a proxy adding DELAY to each answer.
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| format!("{what} proxy: {e}")
    };
    let dns_proxy = DnsLatencyProxy::start(knot.addr(), DELAY)
        .await
        .map_err(io("dns"))?;
    let github_proxy = LatencyProxy::start(loopback(&github.api_base())?, DELAY)
        .await
        .map_err(io("github"))?;
    let chains_proxy = LatencyProxy::start(loopback(&chains.base())?, DELAY)
        .await
        .map_err(io("sigchain"))?;
    let relay_proxy = LatencyProxy::start(loopback(relay.url())?, DELAY)
        .await
        .map_err(io("relay"))?;
    let fedify_proxy = LatencyProxy::start(fedify.addr(), DELAY)
        .await
        .map_err(io("fedify"))?;
    let at_port = |port: u16| SocketAddr::from((PDS_PROXY_IP, port));
    let upstream = |port: u16| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let pds_proxy =
        LatencyProxy::start_on(at_port(pds.pds_port()), upstream(pds.pds_port()), DELAY)
            .await
            .map_err(io("pds"))?;
    let plc_proxy =
        LatencyProxy::start_on(at_port(pds.plc_port()), upstream(pds.plc_port()), DELAY)
            .await
            .map_err(io("plc"))?;

    let mut config = NetConfig::danger_loopback_testing()
        .with_resolve("localhost", SocketAddr::new(IpAddr::V4(PDS_PROXY_IP), 0))
        .with_resolve(AP_HOST, fedify_proxy.addr());
    for handle in &handles {
        config = config.with_resolve(handle.as_str(), pds_proxy.addr());
    }
    config.dns_servers = vec![dns_proxy.addr()];
    let channels = ChannelsConfig {
        github_api: github_proxy.url("http"),
        nostr_relays: vec![relay_proxy.url("ws")],
        plc_directory: pds.plc_url().to_string(),
    };
    let sources = ChainSources {
        http: vec![chains_proxy.url("http")],
        ..ChainSources::default()
    };
    Ok(Bench {
        _knot: knot,
        _relay: relay,
        _pds: pds,
        _fedify: fedify,
        _github: github,
        _chains: chains,
        dns_proxy,
        proxies: vec![
            ("github", github_proxy),
            ("sigchain", chains_proxy),
            ("relay", relay_proxy),
            ("fedify", fedify_proxy),
            ("pds", pds_proxy),
            ("plc", plc_proxy),
        ],
        config,
        channels,
        sources,
        key,
        identities,
        // Bluesky records are timestamped by the PDS (now): evaluate a little later.
        at: now() + 3600,
    })
}

/// One account verified alone.
struct Single {
    identity: String,
    elapsed: Duration,
    exchanges: usize,
    bursts: usize,
}

async fn single(bench: &Bench, identity: &Identity) -> Result<Single, String> {
    let (verifier, recorder) = bench.verifier();
    let bursts = bench.bursts();
    let started = Instant::now();
    let report = tokio::time::timeout(HANG, verifier.identity(identity))
        .await
        .map_err(|_| format!("{identity}: no answer within {HANG:?}"))?
        .map_err(|e| format!("{identity}: {e}"))?;
    let elapsed = started.elapsed();
    if report.outcome != Outcome::Valid {
        return Err(format!(
            "{identity} is {:?}, not valid: {}",
            report.outcome, report.detail
        ));
    }
    Ok(Single {
        identity: identity.to_string(),
        elapsed,
        exchanges: recorder.evidence().records.len(),
        bursts: bench.bursts() - bursts,
    })
}

async fn graph(bench: &Bench) -> Result<(Duration, usize, usize), String> {
    let (verifier, recorder) = bench.verifier();
    let bursts = bench.bursts();
    let key = bench.key.public_key();
    let started = Instant::now();
    let report = tokio::time::timeout(HANG, verifier.graph(&key, &|_, _, _| {}))
        .await
        .map_err(|_| format!("graph: no answer within {HANG:?}"))?
        .map_err(|e| format!("graph: {e}"))?;
    let elapsed = started.elapsed();
    if report.outcome != Outcome::Valid || report.identities.len() != bench.identities.len() {
        let bad: Vec<String> = report
            .identities
            .iter()
            .filter(|r| r.outcome != Outcome::Valid)
            .map(|r| format!("{} {:?}: {}", r.identity, r.outcome, r.detail))
            .collect();
        return Err(format!(
            "graph is {:?} with {} identities: {} {bad:?}",
            report.outcome,
            report.identities.len(),
            report.detail
        ));
    }
    Ok((
        elapsed,
        recorder.evidence().records.len(),
        bench.bursts() - bursts,
    ))
}

async fn run() -> Result<(), String> {
    let started = Instant::now();
    let bench = setup().await?;
    println!(
        "graph bench: {} accounts ({PER_CHANNEL} each on dns, github, nostr, bluesky, ap), \
         one Ed25519 key, a {}-link sigchain; {} ms added to every peer answer; setup {:.1} s",
        bench.identities.len(),
        bench.identities.len() + 1,
        DELAY.as_millis(),
        started.elapsed().as_secs_f64()
    );
    let mut slowest_ms = Vec::new();
    let mut graph_ms = Vec::new();
    let mut ratios = Vec::new();
    let mut per_identity: Vec<Vec<f64>> = vec![Vec::new(); bench.identities.len()];
    // What each account asked for (the same every iteration): requests, delayed answers.
    let mut asked: Vec<(usize, usize)> = vec![(0, 0); bench.identities.len()];
    let iterations = iterations();
    for iteration in 0..=iterations {
        let mut singles = Vec::new();
        for identity in &bench.identities {
            singles.push(single(&bench, identity).await?);
        }
        let (graph_time, graph_exchanges, graph_bursts) = graph(&bench).await?;
        let slowest = singles
            .iter()
            .enumerate()
            .max_by_key(|(_, s)| s.elapsed)
            .map(|(i, _)| i)
            .ok_or("no accounts")?;
        let ratio = graph_time.as_secs_f64() / singles[slowest].elapsed.as_secs_f64();
        let label = if iteration == 0 {
            "warm-up".to_string()
        } else {
            format!("iteration {iteration}")
        };
        println!(
            "  {label:<12} slowest single {:>7.1} ms ({}), graph {:>7.1} ms \
             ({graph_exchanges} requests, {graph_bursts} delayed answers), ratio {ratio:.3}",
            ms(singles[slowest].elapsed),
            singles[slowest].identity,
            ms(graph_time),
        );
        if iteration == 0 {
            continue;
        }
        for (i, s) in singles.iter().enumerate() {
            per_identity[i].push(ms(s.elapsed));
            asked[i] = asked[i].max((s.exchanges, s.bursts));
        }
        slowest_ms.push(ms(singles[slowest].elapsed));
        graph_ms.push(ms(graph_time));
        ratios.push(ratio);
    }
    println!("  median time of each account alone:");
    let medians: Vec<f64> = per_identity.iter().map(|t| median(t.clone())).collect();
    for (identity, times) in bench.identities.iter().zip(per_identity) {
        let text = identity.to_string();
        let short = if text.len() > 40 {
            format!("{}…", &text[..39])
        } else {
            text
        };
        println!(
            "    {short:<41} {:>7.1} ms  (≈ {:.1} round trips of {} ms)",
            median(times.clone()),
            median(times) / ms(DELAY),
            DELAY.as_millis()
        );
    }
    let slowest = median(slowest_ms);
    let whole = median(graph_ms);
    let ratio = median(ratios);
    if let Some((i, time)) = medians
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        let (requests, answers) = asked[i];
        println!(
            "  slowest account: {} — {requests} requests through the network layer, \
             {answers} delayed peer answers, median {time:.1} ms: {} sequential round trips \
             of {} ms",
            bench.identities[i],
            (time / ms(DELAY)).floor(),
            DELAY.as_millis()
        );
    }
    println!("  median slowest single account : {slowest:>8.1} ms");
    println!("  median whole graph (20)       : {whole:>8.1} ms");
    println!(
        "  ratio graph / slowest account : {ratio:>8.3}  (median of {iterations} iterations; \
         bound {BOUND}: {})",
        if ratio <= BOUND { "met" } else { "NOT MET" }
    );
    Ok(())
}
