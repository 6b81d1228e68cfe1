//! Benchmark (issue 3 §6): replaying an evidence bundle is bounded by signature checks.
//!
//! Replaying a recorded bundle of 1,000 identities offline must cost at most 1.5 times the
//! signature checks alone, measured in the same run.
//!
//! Setup records the bundle against real peers on loopback (`kez_peers`): 800 github
//! accounts (recorded GitHub responses on wiremock, a gist with a `kez.md` each) and 200 dns
//! names (knot, one `_kez` TXT record each), every claim signed by its own Ed25519 key whose
//! two-link sigchain (init, add) is served by the sigchain source. The live run goes through
//! `kez_net::Recorder` around `LiveNet`, and the evidence is written with the `Bundle` API to
//! temporary directories twice: as format 1 (`bodies/`, a file per body: 2,600 files) and as
//! format 2 (`bodies.tar`, the layout `kez-verify id --record DIR --pack` writes for bundles
//! of many bodies). Opening and reading 2,600 small files costs about as much as the
//! signature checks of 150 identities, so both are measured and reported; the bound is
//! judged on format 2, the layout for a bundle this size.
//!
//! Each iteration then times, on one thread, (a) reading the bundle from disk, `ReplayNet`
//! and `Verifier::identity` for all 1,000 identities, on a fresh thread as a fresh process
//! would run it (no keys remembered from the previous iteration), once per layout, and (b)
//! exactly the signature work that replay does — decoding each signer's public key once
//! (RFC 8032 §5.1.7 step 1) and checking each proof's claim and each sigchain link —
//! directly with kez-core. The evaluation time is pinned.
//!
//! Cost is CPU time: each phase runs on one thread, and that thread's CPU time (user and
//! kernel, `CLOCK_THREAD_CPUTIME_ID`) is what it cost. Wall-clock time is printed beside
//! it, but on a shared machine it also counts other processes holding the cores and waits for
//! the disk, which are not the replay's cost. Where there is no per-thread clock, wall-clock
//! time is used throughout. The median of each and, per layout, the median ratio are
//! printed.
//!
//! ```sh
//! cargo bench -p kez-id --bench replay
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{iterations, median, ms};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use kez_channels::ChannelsConfig;
use kez_core::encoding::{dns_txt, encode, Encoding};
use kez_core::sigchain::{to_jsonl, Link, LinkBuilder, Op};
use kez_core::verdict::Outcome;
use kez_core::{Algorithm, Claim, ClaimBuilder, Identity, SecretKey};
use kez_id::{ChainSources, Verifier};
use kez_net::{Bundle, Layout, LiveNet, NetConfig, Recorder, ReplayNet};
use kez_peers::chains::ChainSource;
use kez_peers::github::GithubPeer;
use kez_peers::knot::KnotPeer;

/// Identities on github and on dns.
const GITHUB: usize = 800;
const DNS: usize = 200;
/// The bound of issue 3 §6.
const BOUND: f64 = 1.5;
/// Chains start here (2026-01-01T00:00:00Z).
const T0: u64 = 1_767_225_600;
/// The pinned evaluation time (and recording time): 2026-02-01T00:00:00Z.
const AT: u64 = T0 + 31 * 86_400;
/// Identities recorded at a time.
const RECORD_BATCH: usize = 50;

fn main() {
    if !support::should_run("replay") {
        return;
    }
    if let Err(e) = run() {
        eprintln!("replay bench failed: {e}");
        std::process::exit(1);
    }
}

/// What was published, and what replay needs.
struct Published {
    identities: Vec<Identity>,
    claims: Vec<Claim>,
    links: Vec<Link>,
    channels: ChannelsConfig,
    sources: ChainSources,
}

fn key(n: usize) -> SecretKey {
    // Deterministic, distinct, and never zero: the first bytes carry n.
    let mut seed = [0x5a_u8; 32];
    seed[..8].copy_from_slice(&(n as u64 + 1).to_be_bytes());
    SecretKey::from_bytes(Algorithm::Ed25519, &seed).expect("a 32-byte Ed25519 seed")
}

/// Publishes the identities on the peers, records verifying them, writes the bundle.
fn record(dir: &Path, packed: &Path) -> Result<Published, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (github, chains) =
        runtime.block_on(async { (GithubPeer::start().await, ChainSource::start().await) });
    let mut zone = String::from(
        "$ORIGIN test.\n$TTL 60\n@ IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60\n\
         @ IN NS ns1.test.\nns1 IN A 127.0.0.1\n",
    );
    let mut identities = Vec::new();
    let mut claims = Vec::new();
    let mut links = Vec::new();
    for n in 0..GITHUB + DNS {
        let subject = if n < GITHUB {
            format!("github:user{n}")
        } else {
            format!("dns:name{n}.test")
        };
        let identity = Identity::parse(&subject).map_err(|e| format!("{subject}: {e}"))?;
        let k = key(n);
        let claim = ClaimBuilder::new(identity.clone(), T0 + 100)
            .sign(&k, None)
            .map_err(|e| e.to_string())?;
        let init = LinkBuilder::init(T0)
            .sign(&k, None)
            .map_err(|e| e.to_string())?;
        let add = Op::Add {
            claim: claim.id(),
            subject: identity.clone(),
        };
        let add = LinkBuilder::after(&init, add, T0 + 200)
            .sign(&k, None)
            .map_err(|e| e.to_string())?;
        let chain = [init, add];
        runtime.block_on(chains.put(&k.public_key().to_string(), to_jsonl(&chain)));
        if n < GITHUB {
            let gist = github.add_gist(
                &format!("user{n}"),
                &[("kez.md", &encode(&claim, Encoding::Markdown))],
            );
            github.set_times(&gist, T0 + 500, T0 + 500);
        } else {
            zone.push_str(&dns_txt::encode_zone_line(&claim));
        }
        identities.push(identity);
        claims.push(claim);
        links.extend(chain);
    }
    let knot = KnotPeer::start("test", &zone)?;

    let channels = ChannelsConfig {
        github_api: github.api_base(),
        nostr_relays: vec![],
        plc_directory: "http://plc.invalid".into(),
    };
    let sources = ChainSources {
        http: vec![chains.base()],
        ..ChainSources::default()
    };
    let config = NetConfig {
        dns_servers: vec![knot.addr()],
        ..NetConfig::danger_loopback_testing()
    };
    let recorder = runtime.block_on(async {
        let live = LiveNet::new(config).map_err(|e| e.to_string())?;
        let recorder = Arc::new(Recorder::new(Arc::new(live)));
        let verifier = Verifier::new(
            kez_channels::default_registry(&channels),
            recorder.clone(),
            sources.clone(),
            AT,
        );
        for batch in identities.chunks(RECORD_BATCH) {
            let reports = join_all(batch.iter().map(|id| verifier.identity(id))).await;
            for (identity, report) in batch.iter().zip(reports) {
                let report = report.map_err(|e| format!("{identity}: {e}"))?;
                if report.outcome != Outcome::Valid {
                    return Err(format!(
                        "recording: {identity} is {:?}: {}",
                        report.outcome, report.detail
                    ));
                }
            }
        }
        Ok::<_, String>(recorder)
    })?;
    let bundle = Bundle {
        recorded_at: AT,
        tool: concat!("kez-id replay bench ", env!("CARGO_PKG_VERSION")).into(),
        context: serde_json::json!({
            "command": "bench",
            "identities": identities.len(),
            "channels": channels,
            "sources": sources,
        }),
        evidence: recorder.evidence(),
    };
    bundle.write(dir).map_err(|e| e.to_string())?;
    bundle
        .write_as(packed, Layout::Packed)
        .map_err(|e| e.to_string())?;
    drop((knot, github, chains));
    Ok(Published {
        identities,
        claims,
        links,
        channels,
        sources,
    })
}

/// What one phase cost: its thread's CPU time, and wall-clock time.
#[derive(Clone, Copy)]
struct Cost {
    cpu: Duration,
    wall: Duration,
}

/// A point on the calling thread's CPU clock and on the wall clock.
struct Clock {
    cpu: Option<Duration>,
    wall: Instant,
}

impl Clock {
    fn start() -> Self {
        Self {
            cpu: thread_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// The cost since `self`, on the same thread. CPU time falls back to wall-clock time
    /// where the thread has no CPU clock.
    fn cost(&self) -> Cost {
        let wall = self.wall.elapsed();
        let cpu = match (self.cpu, thread_cpu_time()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => wall,
        };
        Cost { cpu, wall }
    }
}

/// CPU time the calling thread has run so far (user and kernel): `CLOCK_THREAD_CPUTIME_ID`,
/// which the kernel brings up to date when asked (unlike `/proc/thread-self/schedstat`,
/// which lags by up to a scheduler tick). `None` where there is no such clock.
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// What a replay cost: reading the bundle, then verifying from it.
struct ReplayCost {
    read: Cost,
    verify: Cost,
}

/// Reads the bundle and verifies every identity from it, on a thread of its own.
fn replay(dir: &Path, published: &Published) -> Result<ReplayCost, String> {
    // One thread, as the signature checks run on one; a fresh thread each time, as in a
    // fresh `kez-verify id --replay` process: kez-core remembers the keys a thread has
    // decoded, and a warm memo from the previous iteration would spare replay the key
    // decoding that a real run does.
    std::thread::scope(|scope| {
        scope
            .spawn(|| replay_on_this_thread(dir, published))
            .join()
            .map_err(|_| "the replay thread panicked".to_string())?
    })
}

/// The replay thread's work. Never inlined, so that a profile can single it out: in
/// `perf record -g --call-graph dwarf`, the samples under `replay::replay_on_this_thread`.
#[inline(never)]
fn replay_on_this_thread(dir: &Path, published: &Published) -> Result<ReplayCost, String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(replay_async(dir, published))
}

async fn replay_async(dir: &Path, published: &Published) -> Result<ReplayCost, String> {
    let clock = Clock::start();
    let bundle = Bundle::read(dir).map_err(|e| e.to_string())?;
    let net = ReplayNet::from(bundle);
    let read = clock.cost();
    let clock = Clock::start();
    let verifier = Verifier::new(
        kez_channels::default_registry(&published.channels),
        Arc::new(net),
        published.sources.clone(),
        AT,
    );
    for identity in &published.identities {
        let report = verifier
            .identity(identity)
            .await
            .map_err(|e| format!("replay: {identity}: {e}"))?;
        if report.outcome != Outcome::Valid {
            return Err(format!(
                "replay: {identity} is {:?}: {}",
                report.outcome, report.detail
            ));
        }
    }
    Ok(ReplayCost {
        read,
        verify: clock.cost(),
    })
}

/// The same signature work, done directly: decoding each signer's public key once (RFC 8032
/// §5.1.7 step 1; replay decodes each distinct key once too) and checking every claim's and
/// every link's signature. The keys are decoded with the uncached decoder: kez-core's
/// `PublicKey::from_bytes` remembers keys it has seen, and this thread has seen them all.
#[inline(never)]
fn signatures(published: &Published) -> Result<usize, String> {
    let mut checked = 0;
    for claim in &published.claims {
        let decoded = kez_core::ed25519::Ed25519PublicKey::from_bytes(&claim.key().to_bytes())
            .map_err(|e| format!("{e:?}"))?;
        std::hint::black_box(decoded);
    }
    for claim in &published.claims {
        claim.verify_signature().map_err(|e| e.to_string())?;
        checked += 1;
    }
    for link in &published.links {
        link.verify_signatures()?;
        checked += 1;
    }
    Ok(checked)
}

/// The measurements of one layout across iterations (CPU time, ms).
#[derive(Default)]
struct Series {
    replay: Vec<f64>,
    read: Vec<f64>,
    verify: Vec<f64>,
    ratio: Vec<f64>,
    verify_ratio: Vec<f64>,
    wall_ratio: Vec<f64>,
}

impl Series {
    /// Adds one replay, against the signature checks of the same iteration.
    fn push(&mut self, cost: &ReplayCost, sigs: Cost) {
        let (cpu, wall) = (
            cost.read.cpu + cost.verify.cpu,
            cost.read.wall + cost.verify.wall,
        );
        self.replay.push(ms(cpu));
        self.read.push(ms(cost.read.cpu));
        self.verify.push(ms(cost.verify.cpu));
        self.ratio.push(cpu.as_secs_f64() / sigs.cpu.as_secs_f64());
        self.verify_ratio
            .push(cost.verify.cpu.as_secs_f64() / sigs.cpu.as_secs_f64());
        self.wall_ratio
            .push(wall.as_secs_f64() / sigs.wall.as_secs_f64());
    }

    fn report(self, layout: &str, iterations: usize) {
        let verdict = |ratio: f64| if ratio <= BOUND { "met" } else { "NOT MET" };
        let (ratio, verify_ratio) = (median(self.ratio), median(self.verify_ratio));
        println!("  {layout}:");
        println!(
            "    median replay, read + verify     : {:>7.1} ms (read {:.1} + verify {:.1})",
            median(self.replay),
            median(self.read),
            median(self.verify)
        );
        println!(
            "    ratio replay / signatures        : {ratio:>6.3}  (median of {iterations}; bound \
             {BOUND}: {})",
            verdict(ratio)
        );
        println!(
            "    ratio, verify only               : {verify_ratio:>6.3}  (bound {BOUND}: {})",
            verdict(verify_ratio)
        );
        println!(
            "    ratio, wall clock                : {:>6.3}  (for reference: includes waits \
             for the disk and other processes)",
            median(self.wall_ratio)
        );
    }
}

/// Files and bytes under `dir`, recursively.
fn disk_usage(dir: &Path) -> (u64, u64) {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            let (files, bytes) = disk_usage(&path);
            total = (total.0 + files, total.1 + bytes);
        } else {
            total = (
                total.0 + 1,
                total.1 + entry.metadata().map(|m| m.len()).unwrap_or(0),
            );
        }
    }
    total
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = temp.path().join("bundle");
    let packed = temp.path().join("packed");
    let published = record(&dir, &packed)?;
    let exchanges = Bundle::read(&dir)
        .map(|b| b.evidence.records.len())
        .unwrap_or(0);
    let (dir_files, dir_bytes) = disk_usage(&dir);
    let (packed_files, packed_bytes) = disk_usage(&packed);
    println!(
        "replay bench: {} identities ({GITHUB} github, {DNS} dns), each with its own Ed25519 \
         key and 2-link sigchain; {exchanges} exchanges and {} bodies, recorded in {:.1} s; \
         written as format 1 (directory: {dir_files} files, {} KiB) and format 2 (packed: \
         {packed_files} files, {} KiB)",
        published.identities.len(),
        dir_files.saturating_sub(1),
        started.elapsed().as_secs_f64(),
        dir_bytes / 1024,
        packed_bytes / 1024,
    );
    let clock_kind = if thread_cpu_time().is_some() {
        "CPU time per thread"
    } else {
        "wall-clock time (no per-thread CPU clock here)"
    };
    println!("  cost measured as {clock_kind}; wall-clock time in brackets");
    let (mut directory, mut packed_series) = (Series::default(), Series::default());
    let mut sigs_ms = Vec::new();
    let mut checked = 0;
    let iterations = iterations();
    for iteration in 0..=iterations {
        let from_directory = replay(&dir, &published)?;
        let from_packed = replay(&packed, &published)?;
        let clock = Clock::start();
        checked = signatures(&published)?;
        let sigs = clock.cost();
        let label = if iteration == 0 {
            "warm-up".to_string()
        } else {
            format!("iteration {iteration}")
        };
        let line = |cost: &ReplayCost| {
            let (cpu, wall) = (
                cost.read.cpu + cost.verify.cpu,
                cost.read.wall + cost.verify.wall,
            );
            format!(
                "{:>6.1} [{:>6.1}] = read {:>5.1} + verify {:>6.1}, ratio {:.3}",
                ms(cpu),
                ms(wall),
                ms(cost.read.cpu),
                ms(cost.verify.cpu),
                cpu.as_secs_f64() / sigs.cpu.as_secs_f64()
            )
        };
        println!(
            "  {label:<12} signatures alone {:>6.1} ms [{:>6.1}]; replay from format 1 {}; \
             from format 2 {}",
            ms(sigs.cpu),
            ms(sigs.wall),
            line(&from_directory),
            line(&from_packed)
        );
        if iteration > 0 {
            sigs_ms.push(ms(sigs.cpu));
            directory.push(&from_directory, sigs);
            packed_series.push(&from_packed, sigs);
        }
    }
    let n = published.identities.len();
    println!(
        "  median {n} key decodings + {checked} signature checks alone : {:>7.1} ms",
        median(sigs_ms)
    );
    println!(
        "  the bound applies to format 2, the layout for a bundle of this size \
         (`--record DIR --pack`); format 1, the default for small bundles, for comparison:"
    );
    packed_series.report("format 2 (packed: bodies in one bodies.tar)", iterations);
    directory.report("format 1 (directory: a file per body)", iterations);
    Ok(())
}
