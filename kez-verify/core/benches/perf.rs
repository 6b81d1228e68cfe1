//! Performance figures for SPEC.md's hot paths, printed as ratios against a baseline
//! measured in the same run (machines here are noisy; absolute times are not compared).
//!
//! `cargo bench -p kez-core --bench perf` prints:
//! 1. compact-claim verification (base64url, zstd, strict JSON, JCS, Ed25519) against a
//!    bare ed25519-dalek `verify_strict` of the same signed bytes — target at most 1.3×;
//! 2. 10,000 Ed25519 claims verified as a batch against one by one — target at least 1.8×;
//! 3. sigchain verification of 10,000 and 100,000 links: time per link and peak memory,
//!    each measured in a child process of its own — target linear time, flat memory.
//!
//! `KEZ_BENCH_QUICK=1` shrinks the sizes for a smoke run.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kez_core::claim::{verify_signatures, Claim, ClaimBuilder};
use kez_core::encoding::compact;
use kez_core::sigchain::{ChainVerifier, Digest256, Link, LinkBuilder, Op, Track};
use kez_core::{Algorithm, SecretKey};

const T0: u64 = 1_767_225_600;
const CHILD_ENV: &str = "KEZ_BENCH_CHAIN_CHILD";

fn quick() -> bool {
    std::env::var_os("KEZ_BENCH_QUICK").is_some()
}

fn key(i: u32) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0x4b;
    SecretKey::from_bytes(Algorithm::Ed25519, &seed).expect("fixed seed is a valid key")
}

fn claim(i: u32, signer: &SecretKey) -> Claim {
    ClaimBuilder::new(
        format!("dns:host{i}.example")
            .parse()
            .expect("valid identity"),
        T0 + u64::from(i),
    )
    .nonce(format!("nonce-{i:016}"))
    .sign(signer, None)
    .expect("claim signs")
}

/// Runs `a` and `b` alternately for `rounds` rounds and returns the median time of each.
fn side_by_side(rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let start = Instant::now();
        a();
        ta.push(start.elapsed());
        let start = Instant::now();
        b();
        tb.push(start.elapsed());
    }
    ta.sort();
    tb.sort();
    (ta[rounds / 2], tb[rounds / 2])
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn bench_compact_vs_bare() {
    let signer = key(1);
    let c = claim(1, &signer);
    let text = compact::encode(&c);
    let pk = signer.public_key().to_bytes();
    let signed = c.signed_bytes().to_vec();
    let sig = c.signature().0;
    let per_round = if quick() { 200 } else { 2_000 };
    let rounds = if quick() { 5 } else { 15 };
    let (bare, ours) = side_by_side(
        rounds,
        || {
            for _ in 0..per_round {
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("valid key");
                let s = ed25519_dalek::Signature::from_bytes(&sig);
                assert!(vk.verify_strict(std::hint::black_box(&signed), &s).is_ok());
            }
        },
        || {
            for _ in 0..per_round {
                let claim = compact::decode(std::hint::black_box(&text)).expect("decodes");
                assert!(claim.verify_signature().is_ok());
            }
        },
    );
    let ratio = ours.as_secs_f64() / bare.as_secs_f64();
    println!("1. compact claim verify vs bare ed25519-dalek verify_strict of the same bytes");
    println!(
        "   bare {:.1} us/op, compact claim {:.1} us/op ({} bytes of text), ratio {ratio:.3} (target <= 1.30: {})",
        bare.as_secs_f64() * 1e6 / per_round as f64,
        ours.as_secs_f64() * 1e6 / per_round as f64,
        text.len(),
        verdict(ratio <= 1.30)
    );
}

fn bench_batch() {
    let n: u32 = if quick() { 1_000 } else { 10_000 };
    let claims: Vec<Claim> = (0..n).map(|i| claim(i, &key(i))).collect();
    let rounds = if quick() { 3 } else { 7 };
    let (single, batch) = side_by_side(
        rounds,
        || {
            for c in &claims {
                assert!(c.verify_signature().is_ok());
            }
        },
        || {
            assert!(verify_signatures(std::hint::black_box(&claims))
                .iter()
                .all(Result::is_ok));
        },
    );
    let speedup = single.as_secs_f64() / batch.as_secs_f64();
    println!("2. {n} Ed25519 claims (distinct keys): one by one vs batch");
    println!(
        "   one by one {:.1} ms, batch {:.1} ms, speedup {speedup:.2}x (target >= 1.80x: {})",
        single.as_secs_f64() * 1e3,
        batch.as_secs_f64() * 1e3,
        verdict(speedup >= 1.8)
    );
}

/// Writes a chain of `links` links: init, then adds of distinct claim ids with a revoke
/// every tenth link, all signed by one key. Returns the id of one claim to track.
fn write_chain(path: &Path, links: u32) -> Digest256 {
    let signer = key(7);
    let file = std::fs::File::create(path).expect("create chain file");
    let mut out = BufWriter::new(file);
    let mut last: Link = LinkBuilder::init(T0)
        .sign(&signer, None)
        .expect("init signs");
    out.write_all(last.to_jcs()).expect("write");
    out.write_all(b"\n").expect("write");
    let tracked = Digest256::of(b"claim 1");
    for i in 1..links {
        let id = Digest256::of(format!("claim {i}").as_bytes());
        let op = if i % 10 == 0 {
            Op::Revoke(kez_core::sigchain::RevokeTarget::Claim(Digest256::of(
                format!("claim {}", i - 5).as_bytes(),
            )))
        } else {
            Op::Add {
                claim: id,
                subject: format!("dns:host{}.example", i % 1000)
                    .parse()
                    .expect("identity"),
            }
        };
        last = LinkBuilder::after(&last, op, T0 + u64::from(i))
            .sign(&signer, None)
            .expect("link signs");
        out.write_all(last.to_jcs()).expect("write");
        out.write_all(b"\n").expect("write");
    }
    out.flush().expect("flush");
    tracked
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Child mode: stream-verify the chain at the path in `CHILD_ENV`; print nanoseconds and
/// the growth of peak RSS in KiB.
fn chain_child(path: &str) {
    let tracked = Digest256::of(b"claim 1");
    let before = peak_rss_kib();
    let start = Instant::now();
    let file = std::fs::File::open(path).expect("open chain");
    let mut reader = BufReader::new(file);
    let mut verifier = ChainVerifier::new(Track::Claims([tracked].into_iter().collect()), None);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).expect("read");
        if n == 0 {
            break;
        }
        assert_eq!(line.pop(), Some(b'\n'), "every line ends in a newline");
        verifier.push_line(&line).expect("link verifies");
    }
    let chain = verifier.finish().expect("chain verifies");
    let elapsed = start.elapsed();
    assert!(chain.state().claim(&tracked).is_some());
    println!(
        "{} {}",
        elapsed.as_nanos(),
        peak_rss_kib().saturating_sub(before)
    );
}

fn bench_chain() {
    let sizes: [u32; 2] = if quick() {
        [1_000, 10_000]
    } else {
        [10_000, 100_000]
    };
    let dir = std::env::temp_dir().join(format!("kez-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exe = std::env::current_exe().expect("bench binary path");
    println!("3. sigchain streaming verification (child process per size, tracking one claim)");
    let mut figures = Vec::new();
    for links in sizes {
        let path: PathBuf = dir.join(format!("chain-{links}.jsonl"));
        write_chain(&path, links);
        let out = Command::new(&exe)
            .env(CHILD_ENV, &path)
            .output()
            .expect("run child");
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace();
        let nanos: f64 = parts.next().and_then(|v| v.parse().ok()).expect("nanos");
        let kib: u64 = parts.next().and_then(|v| v.parse().ok()).expect("kib");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "   {links:>7} links ({:.1} MiB): {:.2} s, {:.1} us/link, peak memory growth {kib} KiB",
            size as f64 / 1048576.0,
            nanos / 1e9,
            nanos / 1e3 / f64::from(links)
        );
        figures.push((links, nanos, kib));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (small, large) = (figures[0], figures[1]);
    let time_ratio = large.1 / small.1;
    let size_ratio = f64::from(large.0) / f64::from(small.0);
    let per_link_ratio = time_ratio / size_ratio;
    println!(
        "   time ratio {time_ratio:.2} for {size_ratio:.0}x the links: per-link cost ratio {per_link_ratio:.2} (target ~1.0, linear: {})",
        verdict((0.7..=1.3).contains(&per_link_ratio))
    );
    println!(
        "   peak memory growth {} KiB vs {} KiB (target: independent of length: {})",
        small.2,
        large.2,
        verdict(large.2 <= small.2.max(1024) * 2)
    );
}

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        chain_child(&path);
        return;
    }
    // `cargo test --benches` runs this binary with --test-ish flags; do the smallest run.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("kez-core benchmarks (ratios against baselines measured in the same run)");
    bench_compact_vs_bare();
    bench_batch();
    bench_chain();
}
