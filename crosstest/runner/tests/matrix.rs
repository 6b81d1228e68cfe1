//! The interop matrix as a test: every expanded scenario case is one libtest-mimic trial named
//! by its case id, so `cargo test -p kez-crosstest --test matrix -- <filter>`, `--list`,
//! `--exact`, `--skip` and nextest (including partitioning) work on it (docs/SCENARIOS.md).
//!
//! Options come from the environment, because cargo owns argv:
//! `KEZ_CROSSTEST_BASELINE` (an earlier results.json), `KEZ_CROSSTEST_REQUIRED` (a required
//! list), `KEZ_CROSSTEST_OUT` (report directory, default `<target>/crosstest`), plus
//! `KEZ_CROSSTEST_IMPLS`, `KEZ_CROSSTEST_SKIP`, `KEZ_CROSSTEST_TIMEOUT` and `KEZ_VERIFY_BIN`.
//!
//! After the trials, the runner writes results.json, junit.xml, matrix.md and matrix.html
//! (not under nextest, which runs one process per trial) and applies the baseline gate.

use kez_crosstest::adapter::Mode;
use kez_crosstest::gate::{self, CaseResult, RequiredList, Status};
use kez_crosstest::report::{self, Report};
use kez_crosstest::{env, matrix, run, scenario, Harness};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

fn root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&p).unwrap_or(p)
}

fn out_dir(root: &Path) -> PathBuf {
    match std::env::var_os(env::OUT) {
        Some(p) => root.join(p),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map(|t| t.join("crosstest"))
            .unwrap_or_else(|| root.join("target/crosstest")),
    }
}

fn under_nextest() -> bool {
    std::env::var_os("NEXTEST").is_some() || std::env::var_os("NEXTEST_EXECUTION_MODE").is_some()
}

type Collected = Arc<Mutex<Vec<(usize, CaseResult)>>>;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = root();
    let harness = match Harness::load(&root) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("kez-crosstest: {e}");
            return ExitCode::from(101);
        }
    };
    let required = match std::env::var_os(env::REQUIRED) {
        Some(p) => match RequiredList::load(&root.join(p)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("kez-crosstest: {}: {e}", env::REQUIRED);
                return ExitCode::from(101);
            }
        },
        None => RequiredList::default(),
    };
    let baseline = match std::env::var_os(env::BASELINE) {
        Some(p) => match gate::load_baseline(&root.join(p)) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("kez-crosstest: {}: {e}", env::BASELINE);
                return ExitCode::from(101);
            }
        },
        None => None,
    };

    let mut trials = Vec::new();
    let mut cases = Vec::new();
    let loaded = match scenario::load_each(
        &root.join(kez_crosstest::paths::SCENARIOS),
        &harness.registry,
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kez-crosstest: {e}");
            return ExitCode::from(101);
        }
    };
    for (path, parsed) in loaded {
        match parsed {
            Ok(file) => cases.extend(matrix::expand_all(
                std::slice::from_ref(&file),
                &harness.registry,
            )),
            Err(problems) => {
                let msg = problems.join("\n");
                trials.push(Trial::test(
                    format!("lint::{path}"),
                    move || Err(msg.into()),
                ));
            }
        }
    }
    let stale = harness.skip.stale_ids(&cases);
    if !stale.is_empty() {
        let msg = stale.join("\n");
        trials.push(Trial::test("lint::skip.toml", move || Err(msg.into())));
    }
    let unmatched = required.unmatched(&cases);
    if !unmatched.is_empty() {
        let msg = format!("required patterns that match no case: {unmatched:?}");
        trials.push(Trial::test("lint::required", move || Err(msg.into())));
    }

    let pool = Arc::new(harness.pool(Mode::Persistent));
    for imp in &harness.registry.impls {
        let pool = Arc::clone(&pool);
        let name = imp.name.clone();
        trials.push(Trial::test(
            format!("impls.toml::{name}::start"),
            move || pool.start(&name).map(|_| ()).map_err(Failed::from),
        ));
    }

    let collected: Collected = Arc::new(Mutex::new(Vec::new()));
    let skip = Arc::new(harness.skip.clone());
    let required = Arc::new(required);
    let cases = Arc::new(cases);
    for (i, case) in cases.iter().enumerate() {
        let pool = Arc::clone(&pool);
        let cases = Arc::clone(&cases);
        let skip = Arc::clone(&skip);
        let required = Arc::clone(&required);
        let collected = Arc::clone(&collected);
        trials.push(Trial::ignorable_test(case.id.clone(), move || {
            let case = &cases[i];
            let run = run::execute(case, &pool);
            let result = gate::classify(case, &run, &skip, &required);
            let outcome = match result.status {
                Status::Pass => Ok(Completion::Completed),
                Status::Fail => Err(Failed::from(format!(
                    "expected {}, observed {}\n{}",
                    result.expected,
                    result.observed.as_deref().unwrap_or("-"),
                    result.message
                ))),
                Status::Skip => Ok(Completion::ignored_with(format!(
                    "skip: {}",
                    result.skip_reason.as_deref().unwrap_or("")
                ))),
                Status::Unsupported => Ok(Completion::ignored_with(
                    result
                        .message
                        .lines()
                        .next()
                        .unwrap_or("unsupported")
                        .to_string(),
                )),
            };
            collected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((i, result));
            outcome
        }));
    }

    let start = Instant::now();
    let conclusion = libtest_mimic::run(&args, trials);
    let elapsed = start.elapsed();
    pool.shutdown();
    if args.list {
        return ExitCode::SUCCESS;
    }

    let mut results =
        std::mem::take(&mut *collected.lock().unwrap_or_else(PoisonError::into_inner));
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<CaseResult> = results.into_iter().map(|(_, r)| r).collect();
    let diff = baseline.as_ref().map(|b| gate::diff(b, &results));
    if let Some(d) = &diff {
        eprint!("{d}");
    }
    if !results.is_empty() && !under_nextest() {
        let descriptions: BTreeMap<String, String> = cases
            .iter()
            .map(|c| (c.scenario_key(), c.scenario.description.clone()))
            .collect();
        let report = Report {
            registry: &harness.registry,
            hellos: pool.hellos(),
            results: &results,
            descriptions,
            baseline: diff.as_ref(),
            elapsed,
        };
        let dir = out_dir(&root);
        match report::write_all(&report, &dir) {
            Ok(files) => {
                let c = report::Counts::of(&results);
                eprintln!(
                    "kez-crosstest: {} cases: {} pass, {} fail, {} skip, {} unsupported in {:.1} s; reports in {}",
                    c.total(),
                    c.pass,
                    c.fail,
                    c.skip,
                    c.unsupported,
                    elapsed.as_secs_f64(),
                    dir.display()
                );
                debug_assert_eq!(files.len(), report::FILES.len());
            }
            Err(e) => {
                eprintln!("kez-crosstest: cannot write reports: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if conclusion.has_failed() || diff.as_ref().is_some_and(|d| d.fails_run()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
