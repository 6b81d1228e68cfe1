//! What the kez-id benchmarks share: when to run, how many iterations, medians.

use std::time::Duration;

/// Measured iterations (after one warm-up), unless `KEZ_BENCH_ITERATIONS` says otherwise.
const ITERATIONS: usize = 5;

/// Whether to run the bench `name`. `cargo bench` passes `--bench`; `cargo test
/// --all-targets` runs the binary without it, and then it only says how to run it, instead
/// of starting the peers; `--list` answers as a libtest binary does.
pub(crate) fn should_run(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("{name}: bench");
        return false;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("{name}: a benchmark; run it with `cargo bench -p kez-id --bench {name}`");
        return false;
    }
    true
}

/// [`ITERATIONS`], or `KEZ_BENCH_ITERATIONS` (1 to 100) when set.
pub(crate) fn iterations() -> usize {
    std::env::var("KEZ_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(ITERATIONS, |n| n.clamp(1, 100))
}

/// Milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median (the upper one of an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
