//! Where `kez-verify replay` spends its time on a large suite (docs/SUITES.md, "Performance").
//!
//! `cargo bench -p kez-suite --bench replay` builds a 10,000-case suite in a temporary
//! folder — claims in all four encodings, 10% BIP-340, 1% with a broken signature, 12.5%
//! bound by a three-link sigchain of their own, and 2% chain-only cases — signs its
//! manifest, replays it with the key (as an auditor would) several times, and prints for
//! the median run:
//!
//! 1. the total, the time in the signature phases and its share (target: at least 70%),
//!    and every phase ([`kez_suite::replay::Timings::phases`]);
//! 2. a calibration: the bare signature checks (`Claim::verify_signature`,
//!    `Link::verify_signatures`, the manifest signature) on the same inputs, timed alone in
//!    CPU time and compared with the replay's CPU time, which other processes on the
//!    machine do not inflate as they do wall-clock phases;
//! 3. what batch verification (`claim::verify_signatures`, which bisects a failed batch)
//!    would take for the same claims.
//!
//! The target (issue 4 §6) is judged on (2): signature verification alone, for exactly
//! the signatures replay verifies, as a share of the replay's CPU time.
//!
//! Files are grouped one folder per 100 cases; `KEZ_BENCH_LAYOUT=nested` puts every case
//! in a folder of its own, as the floor suite does (listing 10,000 folders costs more than
//! listing 100). `KEZ_BENCH_QUICK=1` builds 1,000 cases and replays once;
//! `KEZ_BENCH_CASES=N` sets the size.

use std::time::{Duration, Instant};

use kez_core::claim::{verify_signatures, Claim, ClaimBuilder};
use kez_core::sigchain::{JsonlLines, Link, LinkBuilder, Op};
use kez_core::verdict::{InvalidReason, Outcome};
use kez_core::{encoding, Algorithm, Encoding, Identity, SecretKey};
use kez_suite::build::SuiteBuilder;
use kez_suite::manifest::{Case, CaseBody, ChainExpectation, ExpectedVerdict};
use kez_suite::path::SuitePath;
use kez_suite::replay::{percent, Timings};
use kez_suite::report::time_split;
use kez_suite::{signature, Suite};

const T0: u64 = 1_767_225_600;
const AT: u64 = T0 + 86_400;

fn key(alg: Algorithm, i: u32) -> SecretKey {
    let mut seed = [0x42u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_bytes(alg, &seed).expect("fixed seeds are valid keys")
}

fn path(text: &str) -> SuitePath {
    SuitePath::parse(text).expect("bench paths are valid")
}

fn valid() -> Vec<ExpectedVerdict> {
    vec![ExpectedVerdict {
        outcome: Outcome::Valid,
        reason: None,
    }]
}

/// Builds the suite in memory: cases and files, with expectations known by construction.
fn build(cases: u32, nested: bool) -> SuiteBuilder {
    let ed: Vec<SecretKey> = (0..64).map(|i| key(Algorithm::Ed25519, i)).collect();
    let bip: Vec<SecretKey> = (0..16).map(|i| key(Algorithm::Bip340, 1000 + i)).collect();
    let mut b = SuiteBuilder::new("bench", "1", AT);
    for i in 0..cases {
        // One folder per 100 cases; with `nested`, one folder per case as in the floor suite.
        let stem = if nested {
            format!("cases/g{:03}/c{i:05}/", i / 100)
        } else {
            format!("cases/g{:03}/c{i:05}.", i / 100)
        };
        let id = format!("c{i:05}");
        let bip340 = i % 10 == 0;
        let signer = if bip340 {
            &bip[i as usize % bip.len()]
        } else {
            &ed[i as usize % ed.len()]
        };
        let subject: Identity = format!("dns:host{i}.example")
            .parse()
            .expect("valid identity");
        let mut claim = ClaimBuilder::new(subject.clone(), T0 + u64::from(i % 1000))
            .nonce(format!("nonce-{i:016}"))
            .expires_at(AT + 365 * 86_400)
            .sign(signer, Some(&[7; 32]))
            .expect("claim signs");
        let mut expect = valid();
        if i % 100 == 3 {
            // A broken signature: change a signed member after signing.
            let mut object = claim.as_object().clone();
            object.insert("created_at".into(), (T0 + 5).into());
            claim = Claim::from_value(object.into()).expect("still well-formed");
            expect = vec![ExpectedVerdict {
                outcome: Outcome::Invalid,
                reason: Some(InvalidReason::BadSignature),
            }];
        }
        let encoding = Encoding::ALL[i as usize % 4];
        let ext = match encoding {
            Encoding::Json => "json",
            Encoding::Compact => "txt",
            Encoding::Markdown => "md",
            Encoding::Dns => "zone",
        };
        let input = path(&format!("{stem}claim.{ext}"));
        b.add_file(
            input.clone(),
            encoding::encode(&claim, encoding).into_bytes(),
        )
        .expect("unique path");

        let with_chain = i % 10 == 5 || i % 40 == 0;
        let chain_only = i % 50 == 7;
        let mut chains = Vec::new();
        if with_chain || chain_only {
            let next = key(Algorithm::Ed25519, 10_000 + i);
            let init = LinkBuilder::init(T0).sign(signer, None).expect("init");
            let add = LinkBuilder::after(
                &init,
                Op::Add {
                    claim: claim.id(),
                    subject: subject.clone(),
                },
                T0 + 1000,
            )
            .sign(signer, None)
            .expect("add");
            let device = LinkBuilder::after(
                &add,
                Op::AddDevice {
                    device: next.public_key(),
                    name: Some("laptop".into()),
                },
                T0 + 2000,
            )
            .sign(signer, None)
            .expect("add_device");
            let mut jsonl = Vec::new();
            for link in [&init, &add, &device] {
                jsonl.extend_from_slice(link.to_jcs());
                jsonl.push(b'\n');
            }
            let chain = path(&format!("{stem}chain.jsonl"));
            b.add_file(chain.clone(), jsonl).expect("unique path");
            chains.push(chain);
        }
        if chain_only {
            b.add_case(Case {
                id: format!("{id}-chain"),
                description: None,
                requirements: vec![],
                at: None,
                body: CaseBody::Chain {
                    chains: chains.clone(),
                    expect: ChainExpectation::Ok { length: 3 },
                },
            });
            chains.clear();
        }
        b.add_case(Case {
            id,
            description: None,
            requirements: vec![],
            at: None,
            body: CaseBody::Claim {
                input,
                chains,
                subject: Some(subject),
                expect,
            },
        });
        if b.cases().len() as u32 >= cases {
            break;
        }
    }
    b
}

/// CPU time of `f` where there is a per-thread CPU clock, else wall-clock time.
fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    let before = cpu_time();
    f();
    match (before, cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => start.elapsed(),
    }
}

/// The bare signature checks of the suite, timed alone (CPU time): every claim signature, every
/// link's signatures (parsed beforehand, untimed) and the manifest signature.
fn calibrate(suite: &Suite, key: &kez_core::PublicKey) -> (Duration, Duration, Duration, Duration) {
    let mut claims = Vec::new();
    let mut links = Vec::new();
    for case in &suite.manifest().cases {
        for file in case.body.files() {
            let bytes = suite.contents().get(file).expect("checked file");
            if file.as_str().ends_with(".jsonl") {
                for line in JsonlLines::new(bytes) {
                    links.push(Link::parse_line(line.expect("line")).expect("link"));
                }
            } else if let Ok(e) = encoding::detect(bytes) {
                for item in encoding::decode(bytes, e).expect("decodes") {
                    claims.push(item.item.expect("claim"));
                }
            }
        }
    }
    let single = timed(|| {
        for claim in &claims {
            let _ = std::hint::black_box(claim.verify_signature());
        }
    });
    let batch = timed(|| {
        let _ = std::hint::black_box(verify_signatures(&claims));
    });
    let chain = timed(|| {
        for link in &links {
            let _ = std::hint::black_box(link.verify_signatures());
        }
    });
    let manifest = std::fs::read(suite.root().join("manifest.json")).expect("manifest");
    let sig = std::fs::read(suite.root().join("manifest.json.sig")).expect("signature");
    let jcs = signature::signed_bytes(&manifest).expect("jcs");
    let manifest_sig = timed(|| {
        signature::verify_jcs(&jcs, Some(&sig), key).expect("manifest signature");
    });
    (single, batch, chain, manifest_sig)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux); wall-clock
/// phases are inflated when other processes share the cores, CPU time is not.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn cpu_of(f: impl FnOnce()) -> Option<Duration> {
    let before = cpu_time()?;
    f();
    Some(cpu_time()?.saturating_sub(before))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    // `cargo test --benches` runs this without `--bench`; keep that quick.
    let quick =
        std::env::var_os("KEZ_BENCH_QUICK").is_some() || !std::env::args().any(|a| a == "--bench");
    let cases: u32 = std::env::var("KEZ_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 10_000 });
    let rounds = if quick { 1 } else { 5 };

    let start = Instant::now();
    let signer = key(Algorithm::Ed25519, 4242);
    let nested = std::env::var_os("KEZ_BENCH_LAYOUT").is_some_and(|v| v == "nested");
    let built = build(cases, nested)
        .finish(Some(&signer))
        .expect("suite builds");
    let dir = tempfile::tempdir().expect("temp dir");
    let suite_dir = dir.path().join("bench");
    built.write(&suite_dir, false).expect("suite writes");
    println!(
        "built a {}-case suite ({} files, {}, {:.1} MB manifest) in {:.1} s",
        built.manifest.cases.len(),
        built.files.len(),
        if nested {
            "one folder per case"
        } else {
            "one folder per 100 cases"
        },
        built.manifest_json.len() as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );

    let public = signer.public_key();
    let mut runs: Vec<Timings> = Vec::new();
    let mut replay_cpu = Vec::new();
    let mut calibrations = Vec::new();
    for _ in 0..rounds {
        let mut timings = None;
        let cpu = cpu_of(|| {
            let suite = Suite::open(&suite_dir, Some(&public)).expect("suite opens");
            let report = suite.replay(|_, _| {});
            assert!(
                report.is_success(),
                "bench suite has differences: {:?}",
                report.differences().map(|c| &c.case.id).collect::<Vec<_>>()
            );
            timings = Some(report.timings);
        });
        runs.extend(timings);
        replay_cpu.extend(cpu);
        let suite = Suite::open(&suite_dir, Some(&public)).expect("suite opens");
        calibrations.push(calibrate(&suite, &public));
    }
    let totals: Vec<String> = runs.iter().map(|t| format!("{:.0}", ms(t.total))).collect();
    runs.sort_by_key(|t| t.total);
    let median_run = runs[runs.len() / 2];
    println!(
        "replay with --key, {rounds} run(s), wall-clock totals {} ms; the median run:",
        totals.join(", ")
    );
    print!("{}", time_split(&median_run));
    let share = median_run.signature_percent();
    println!("signature phases: {share:.1}% of the wall-clock total");

    // The calibration, in CPU time so that it compares with the replay's CPU time.
    let (single, batch, chain, manifest_sig): (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = (
        calibrations.iter().map(|c| c.0).collect(),
        calibrations.iter().map(|c| c.1).collect(),
        calibrations.iter().map(|c| c.2).collect(),
        calibrations.iter().map(|c| c.3).collect(),
    );
    let (single, batch, chain, manifest_sig) = (
        median(single),
        median(batch),
        median(chain),
        median(manifest_sig),
    );
    let bare = single + chain + manifest_sig;
    match replay_cpu.is_empty() {
        false => {
            let replay_cpu = median(replay_cpu);
            let ratio = percent(bare, replay_cpu);
            println!(
                "CPU time of one replay (median): {:.1} ms; signature verification alone (the bare checks of exactly the signatures replay verifies, same inputs, same run): claims {:.1} ms, links {:.1} ms, manifest {:.1} ms = {:.1} ms",
                ms(replay_cpu),
                ms(single),
                ms(chain),
                ms(manifest_sig),
                ms(bare),
            );
            println!(
                "signature verification alone / replay: {:.1} ms / {:.1} ms = {ratio:.1}% (target >= 70%): {}",
                ms(bare),
                ms(replay_cpu),
                if ratio >= 70.0 { "met" } else { "NOT MET" }
            );
        }
        true => println!(
            "bare signature checks of the same inputs: claims {:.1} ms, links {:.1} ms, manifest {:.1} ms (no per-thread CPU clock here to compare with)",
            ms(single),
            ms(chain),
            ms(manifest_sig)
        ),
    }
    println!(
        "claims batch-verified instead (claim::verify_signatures, bisecting a failed batch): {:.1} ms vs {:.1} ms one by one ({:.2}x)",
        ms(batch),
        ms(single),
        single.as_secs_f64() / batch.as_secs_f64().max(1e-9)
    );
}
