//! The full scenario matrix, run twice in one process: with persistent adapters (one process per
//! implementation) and with a fresh adapter process for every step. Prints both wall times, the
//! ratio (target ≥ 10×) and whether the persistent run is under 60 s (targets of issue 4 §6).
//! A benchmark that prints, not a timed test: `cargo bench -p kez-crosstest --bench matrix`.
//!
//! Without `--bench` (as `cargo test --benches` runs it) it only smoke-runs two cases per mode.
//! `KEZ_CROSSTEST_BENCH_JOBS` sets the worker threads (default 2, the CI machine's cores).

use kez_crosstest::adapter::Mode;
use kez_crosstest::run::{self, CaseRun, RunStatus};
use kez_crosstest::Harness;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Measured {
    wall: Duration,
    runs: Vec<CaseRun>,
    spawns: u64,
}

fn measure(
    h: &Harness,
    cases: &[kez_crosstest::matrix::Case],
    mode: Mode,
    jobs: usize,
) -> Measured {
    let pool = h.pool(mode);
    let start = Instant::now();
    let runs = run::run_all(cases, &pool, jobs, |_| {});
    pool.shutdown();
    Measured {
        wall: start.elapsed(),
        runs,
        spawns: pool.spawn_count(),
    }
}

fn passed(runs: &[CaseRun]) -> usize {
    runs.iter().filter(|r| r.status == RunStatus::Pass).count()
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let h = match Harness::load(&root) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("kez-crosstest bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cases = match h.lint() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kez-crosstest bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let jobs = std::env::var("KEZ_CROSSTEST_BENCH_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2usize);
    if !bench {
        cases.truncate(2);
    }
    println!(
        "kez-crosstest matrix bench: {} cases, {jobs} worker threads{}",
        cases.len(),
        if bench {
            ""
        } else {
            " (smoke run; pass --bench for the full matrix)"
        }
    );

    let persistent = measure(&h, &cases, Mode::Persistent, jobs);
    println!(
        "  persistent adapters : {:>8.2} s  ({} processes started, {}/{} cases pass)",
        persistent.wall.as_secs_f64(),
        persistent.spawns,
        passed(&persistent.runs),
        cases.len()
    );
    let per_step = measure(&h, &cases, Mode::PerStep, jobs);
    println!(
        "  process per step    : {:>8.2} s  ({} processes started, {}/{} cases pass)",
        per_step.wall.as_secs_f64(),
        per_step.spawns,
        passed(&per_step.runs),
        cases.len()
    );
    let ratio = per_step.wall.as_secs_f64() / persistent.wall.as_secs_f64().max(1e-9);
    let differing = persistent
        .runs
        .iter()
        .zip(&per_step.runs)
        .filter(|(a, b)| a.status != b.status)
        .count();
    println!(
        "  ratio               : {ratio:>8.1}×   (target ≥ 10×: {})",
        if ratio >= 10.0 { "met" } else { "NOT met" }
    );
    println!(
        "  persistent wall time: {:>8.2} s  (target < 60 s on 2 cores: {})",
        persistent.wall.as_secs_f64(),
        if persistent.wall < Duration::from_secs(60) {
            "met"
        } else {
            "NOT met"
        }
    );
    if persistent.wall.as_secs_f64() > 0.0 {
        println!(
            "  per case            : {:>8.1} ms persistent, {:.1} ms per step",
            persistent.wall.as_secs_f64() * 1000.0 / cases.len().max(1) as f64,
            per_step.wall.as_secs_f64() * 1000.0 / cases.len().max(1) as f64
        );
    }
    if differing > 0 {
        println!("  WARNING: {differing} cases ended differently in the two modes");
    }
    ExitCode::SUCCESS
}
