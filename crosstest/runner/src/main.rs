//! `kez-crosstest`: run, lint and list the interop scenarios (docs/SCENARIOS.md).
//!
//! Exit codes: 0 every case passed (or was skipped/unsupported) and the gates hold; 1 a case
//! failed or a gate (required list, baseline, stale skip entry) failed; 2 usage error or
//! malformed scenario data.

use clap::{Parser, Subcommand};
use kez_crosstest::adapter::Mode;
use kez_crosstest::gate::{self, RequiredList};
use kez_crosstest::report::{self, Counts, Report};
use kez_crosstest::{run, Error, Harness};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "kez-crosstest",
    version,
    about = "The KEZ interop harness (docs/SCENARIOS.md)"
)]
struct Cli {
    /// The workspace root (default: the nearest directory above the current one that holds
    /// crosstest/impls.toml).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every case (or those whose id contains FILTER) and write the reports.
    Run {
        /// Compare with this earlier results.json: report fixed, broken and new cases; a broken
        /// case fails the run.
        #[arg(long, env = "KEZ_CROSSTEST_BASELINE")]
        baseline: Option<PathBuf>,
        /// Case ids (or `prefix*`), one per line, that must pass.
        #[arg(long, env = "KEZ_CROSSTEST_REQUIRED")]
        required: Option<PathBuf>,
        /// Where to write results.json, junit.xml, matrix.md and matrix.html
        /// (default: <target>/crosstest).
        #[arg(long, env = "KEZ_CROSSTEST_OUT")]
        out: Option<PathBuf>,
        /// Only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Start a new adapter process for every step instead of one per implementation.
        #[arg(long)]
        per_step: bool,
    },
    /// Check every scenario file and the skip list; print one line per problem.
    Lint {
        /// Also check that every pattern of this required list matches a case.
        #[arg(long, env = "KEZ_CROSSTEST_REQUIRED")]
        required: Option<PathBuf>,
    },
    /// Print every case id.
    List {
        /// Only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> Result<ExitCode, Error> {
    let harness = match &cli.root {
        Some(r) => Harness::load(r)?,
        None => {
            Harness::discover(&std::env::current_dir().map_err(|e| Error::Config(e.to_string()))?)?
        }
    };
    match cli.command {
        Command::Lint { required } => {
            let cases = harness.lint()?;
            if let Some(p) = required {
                let req = RequiredList::load(&harness.root.join(p))?;
                let unmatched = req.unmatched(&cases);
                if !unmatched.is_empty() {
                    return Err(Error::Lint(
                        unmatched
                            .into_iter()
                            .map(|p| format!("required pattern {p:?} matches no case"))
                            .collect(),
                    ));
                }
            }
            println!("{} scenario cases, no problems", cases.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::List { filter } => {
            let mut out = std::io::stdout().lock();
            for c in harness.cases()? {
                // A closed pipe (`| head`) is not an error: stop quietly.
                if filter.as_deref().is_none_or(|f| c.id.contains(f))
                    && writeln!(out, "{}", c.id).is_err()
                {
                    break;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            baseline,
            required,
            out,
            filter,
            jobs,
            per_step,
        } => {
            let all = harness.lint()?;
            let cases: Vec<_> = all
                .into_iter()
                .filter(|c| filter.as_deref().is_none_or(|f| c.id.contains(f)))
                .collect();
            let required = match required {
                Some(p) => RequiredList::load(&harness.root.join(p))?,
                None => RequiredList::default(),
            };
            let baseline = match baseline {
                Some(p) => Some(gate::load_baseline(&harness.root.join(p))?),
                None => None,
            };
            let pool = harness.pool(if per_step {
                Mode::PerStep
            } else {
                Mode::Persistent
            });
            let start = Instant::now();
            let done = std::sync::atomic::AtomicUsize::new(0);
            let total = cases.len();
            let runs = run::run_all(&cases, &pool, jobs, |_| {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n % 50 == 0 || n == total {
                    eprintln!("kez-crosstest: {n}/{total} cases");
                }
            });
            let elapsed = start.elapsed();
            pool.shutdown();
            let results: Vec<_> = cases
                .iter()
                .zip(&runs)
                .map(|(c, r)| gate::classify(c, r, &harness.skip, &required))
                .collect();
            let diff = baseline.as_ref().map(|b| gate::diff(b, &results));
            let descriptions = cases
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
            let dir = out
                .map(|o| harness.root.join(o))
                .unwrap_or_else(|| harness.default_out_dir());
            let files = report::write_all(&report, &dir)?;
            for r in results.iter().filter(|r| r.fails_run()) {
                println!("FAIL {}\n  {}", r.id, r.message.replace('\n', "\n  "));
            }
            let c = Counts::of(&results);
            println!(
                "{} cases: {} pass, {} fail, {} skip, {} unsupported in {:.1} s",
                c.total(),
                c.pass,
                c.fail,
                c.skip,
                c.unsupported,
                elapsed.as_secs_f64()
            );
            if let Some(d) = &diff {
                print!("{d}");
            }
            for f in files {
                println!("wrote {}", f.display());
            }
            let failed = c.fail > 0 || diff.as_ref().is_some_and(|d| d.fails_run());
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
