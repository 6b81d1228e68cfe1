//! The KEZ interop harness: data-driven scenarios run across implementations.
//!
//! Scenarios are TOML files under `crosstest/scenarios/` (schema: `docs/SCENARIOS.md`). Each
//! names its steps — *produce* with one implementation (sign, encode, build a sigchain),
//! optionally *transform* the artifact in the runner (tamper a byte, truncate, re-encode,
//! reorder lines), *consume* with another (decode, verify, show) — and the expected result.
//! A scenario ranges over a matrix (producer × consumer × algorithm × encoding …); every
//! expanded case has a stable id such as
//! `floor/claims.toml::sign-verify[producer=rust,consumer=node,alg=bip340,enc=markdown]`.
//!
//! Implementations are declared in `crosstest/impls.toml` and driven through one long-lived
//! adapter process each, speaking the JSON-lines protocol of `docs/ADAPTER.md`.
//!
//! | module | does |
//! |---|---|
//! | [`scenario`] | parses scenario files, checks them against the schema, lints |
//! | [`template`] | `$name.path` references and `${…}` interpolation inside step arguments |
//! | [`impls`] | the implementation registry (`crosstest/impls.toml`) |
//! | [`matrix`] | expands scenarios into cases with stable ids |
//! | [`adapter`] | adapter processes: a pool with one process per implementation, timeouts |
//! | [`transform`] | what the runner itself does to artifacts between steps |
//! | [`expect`] | verdicts read from adapter results, compared with the expectation |
//! | [`run`] | executes one case, or all of them on worker threads |
//! | [`gate`] | skip list, required list, baseline comparison |
//! | [`report`] | results JSON, JUnit XML, Markdown and HTML matrices |
//!
//! ```no_run
//! use kez_crosstest::{Harness, adapter::Mode};
//!
//! let harness = Harness::discover(std::path::Path::new("."))?;
//! let cases = harness.cases()?;
//! let pool = harness.pool(Mode::Persistent);
//! let results = kez_crosstest::run::run_all(&cases, &pool, 2, |_| {});
//! println!("{} cases run", results.len());
//! # Ok::<(), kez_crosstest::Error>(())
//! ```

pub mod adapter;
pub mod expect;
pub mod gate;
pub mod impls;
pub mod matrix;
pub mod report;
pub mod run;
pub mod scenario;
pub mod template;
pub mod transform;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where things are, relative to the workspace root.
pub mod paths {
    /// The implementation registry.
    pub const IMPLS: &str = "crosstest/impls.toml";
    /// The scenario directory.
    pub const SCENARIOS: &str = "crosstest/scenarios";
    /// The skip list.
    pub const SKIP: &str = "crosstest/skip.toml";
    /// Reports, under the cargo target directory.
    pub const OUT_UNDER_TARGET: &str = "crosstest";
}

/// Environment variables the runner reads (documented in `docs/SCENARIOS.md`).
pub mod env {
    /// A results file of an earlier run to compare with (fixed / broken / new).
    pub const BASELINE: &str = "KEZ_CROSSTEST_BASELINE";
    /// A list of case ids (or `prefix*` patterns) that must pass.
    pub const REQUIRED: &str = "KEZ_CROSSTEST_REQUIRED";
    /// The output directory for reports (default `<target>/crosstest`).
    pub const OUT: &str = "KEZ_CROSSTEST_OUT";
    /// Another implementation registry instead of `crosstest/impls.toml`.
    pub const IMPLS: &str = "KEZ_CROSSTEST_IMPLS";
    /// Another skip list instead of `crosstest/skip.toml`.
    pub const SKIP: &str = "KEZ_CROSSTEST_SKIP";
    /// Per-request timeout in seconds (default 20).
    pub const TIMEOUT: &str = "KEZ_CROSSTEST_TIMEOUT";
}

/// Errors that stop the harness before any case runs (a caller or data mistake).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Scenario files failed the schema or the lint; one message per problem.
    #[error("{} problem(s) in scenario data:\n  {}", .0.len(), .0.join("\n  "))]
    Lint(Vec<String>),
    /// The implementation registry, skip list, required list or baseline is malformed.
    #[error("{0}")]
    Config(String),
    /// No workspace root (a directory holding `crosstest/impls.toml`) was found.
    #[error("no workspace root with {} above {}", paths::IMPLS, .0.display())]
    NoRoot(PathBuf),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Read a file to a string, naming the file in the error.
pub(crate) fn read_to_string(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// The harness as configured for one workspace: registry, scenarios, skip list.
#[derive(Debug)]
pub struct Harness {
    /// The workspace root (commands run from here).
    pub root: PathBuf,
    /// The implementation registry.
    pub registry: impls::Registry,
    /// The path the registry was read from.
    pub registry_path: PathBuf,
    /// The skip list.
    pub skip: gate::SkipList,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Harness {
    /// Find the workspace root at or above `start`, and load the registry and the skip list
    /// (honouring `KEZ_CROSSTEST_IMPLS`, `KEZ_CROSSTEST_SKIP`, `KEZ_CROSSTEST_TIMEOUT`).
    pub fn discover(start: &Path) -> Result<Self, Error> {
        let root = find_root(start)?;
        Self::load(&root)
    }

    /// Load the harness for the workspace at `root`.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let registry_path = match std::env::var_os(env::IMPLS) {
            Some(p) => root.join(p),
            None => root.join(paths::IMPLS),
        };
        let registry = impls::Registry::load(&registry_path)?;
        let skip_path = match std::env::var_os(env::SKIP) {
            Some(p) => root.join(p),
            None => root.join(paths::SKIP),
        };
        let skip = gate::SkipList::load(&skip_path)?;
        let timeout = match std::env::var(env::TIMEOUT) {
            Ok(s) => {
                let secs: u64 = s.trim().parse().map_err(|_| {
                    Error::Config(format!(
                        "{}: expected a whole number of seconds, found {s:?}",
                        env::TIMEOUT
                    ))
                })?;
                Duration::from_secs(secs.max(1))
            }
            Err(_) => adapter::DEFAULT_TIMEOUT,
        };
        Ok(Harness {
            root: root.to_path_buf(),
            registry,
            registry_path,
            skip,
            timeout,
        })
    }

    /// Parse and lint every scenario file under `crosstest/scenarios`.
    pub fn scenario_files(&self) -> Result<Vec<scenario::ScenarioFile>, Error> {
        scenario::load_dir(&self.root.join(paths::SCENARIOS), &self.registry)
    }

    /// Every expanded case of every scenario file, in file, scenario and matrix order.
    pub fn cases(&self) -> Result<Vec<matrix::Case>, Error> {
        let files = self.scenario_files()?;
        Ok(matrix::expand_all(&files, &self.registry))
    }

    /// The full lint: scenario files, plus skip-list ids that name no case.
    pub fn lint(&self) -> Result<Vec<matrix::Case>, Error> {
        let cases = self.cases()?;
        let problems = self.skip.stale_ids(&cases);
        if problems.is_empty() {
            Ok(cases)
        } else {
            Err(Error::Lint(problems))
        }
    }

    /// An adapter pool for this registry.
    pub fn pool(&self, mode: adapter::Mode) -> adapter::Pool {
        adapter::Pool::new(&self.registry, &self.root, mode, self.timeout)
    }

    /// The default report directory: `$KEZ_CROSSTEST_OUT`, else `<target>/crosstest` where
    /// `<target>` is `$CARGO_TARGET_DIR` or `<root>/target`.
    pub fn default_out_dir(&self) -> PathBuf {
        if let Some(p) = std::env::var_os(env::OUT) {
            return self.root.join(p);
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(|p| self.root.join(p))
            .unwrap_or_else(|| self.root.join("target"));
        target.join(paths::OUT_UNDER_TARGET)
    }
}

/// The nearest directory at or above `start` that holds `crosstest/impls.toml`.
pub fn find_root(start: &Path) -> Result<PathBuf, Error> {
    let start = std::fs::canonicalize(start).map_err(|e| Error::io(start, e))?;
    let mut dir: Option<&Path> = Some(&start);
    while let Some(d) = dir {
        if d.join(paths::IMPLS).is_file() {
            return Ok(d.to_path_buf());
        }
        dir = d.parent();
    }
    Err(Error::NoRoot(start))
}
