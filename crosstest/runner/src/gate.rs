//! Gating (`docs/SCENARIOS.md`, "Gating"): the skip list, the required list and the baseline.
//!
//! - **Skip list** (`crosstest/skip.toml`): case id → reason. A skipped case still runs; if it
//!   fails it is reported as skipped, and if it passes the run fails, so the entry is removed
//!   as soon as it is stale.
//! - **Required list** (`--required FILE` / `KEZ_CROSSTEST_REQUIRED`): case ids, or prefixes
//!   ending in `*`, that must pass; a required case that is skipped or unsupported fails the run.
//! - **Baseline** (`--baseline FILE` / `KEZ_CROSSTEST_BASELINE`): the results file of an earlier
//!   run. Cases that passed there and do not pass now are *broken* and fail the run; cases that
//!   pass now and did not are *fixed*; ids not in the baseline are *new*.

use crate::matrix::Case;
use crate::run::{CaseRun, RunStatus};
use crate::Error;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The final status of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed (including a skipped case that passes, and a required case that did not pass).
    Fail,
    /// An implementation does not support an op the case needs.
    Unsupported,
    /// Listed in the skip list, and still not passing.
    Skip,
}

impl Status {
    /// `pass`, `fail`, `unsupported`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unsupported => "unsupported",
            Status::Skip => "skip",
        }
    }

    /// Read [`Status::as_str`] back.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pass,
            Status::Fail,
            Status::Unsupported,
            Status::Skip,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The skip list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipList {
    /// Case id → reason.
    pub entries: BTreeMap<String, String>,
}

impl SkipList {
    /// Read `crosstest/skip.toml`: `schema = 1` and a `[skip]` table of id → reason. A missing
    /// file is an empty list.
    pub fn load(path: &Path) -> Result<Self, Error> {
        if !path.exists() {
            return Ok(SkipList::default());
        }
        let text = crate::read_to_string(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse skip-list text.
    pub fn parse(text: &str, name: &str) -> Result<Self, Error> {
        let err = |m: String| Error::Config(format!("{name}: {m}"));
        let t: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if let Some(k) = t.keys().find(|k| *k != "schema" && *k != "skip") {
            return Err(err(format!(
                "unknown field `{k}` (expected `schema`, `skip`)"
            )));
        }
        if t.get("schema").and_then(toml::Value::as_integer) != Some(1) {
            return Err(err("schema: expected `schema = 1`".into()));
        }
        let mut entries = BTreeMap::new();
        if let Some(s) = t.get("skip") {
            let s = s
                .as_table()
                .ok_or_else(|| err("skip: expected a table of \"case id\" = \"reason\"".into()))?;
            for (id, reason) in s {
                let r = reason
                    .as_str()
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| {
                        err(format!(
                            "skip.{id:?}: the reason must be a non-empty string"
                        ))
                    })?;
                entries.insert(id.clone(), r.to_string());
            }
        }
        Ok(SkipList { entries })
    }

    /// The reason `id` is skipped.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.entries.get(id).map(String::as_str)
    }

    /// Lint: entries that name no case.
    pub fn stale_ids(&self, cases: &[Case]) -> Vec<String> {
        let ids: std::collections::HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        self.entries
            .keys()
            .filter(|id| !ids.contains(id.as_str()))
            .map(|id| format!("{}: skip entry {id:?} names no case", crate::paths::SKIP))
            .collect()
    }
}

/// The required list: exact ids, or prefixes ending in `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredList {
    /// The patterns, as written.
    pub patterns: Vec<String>,
}

impl RequiredList {
    /// Read a required list: one id or `prefix*` per line; `#` starts a comment.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = crate::read_to_string(path)?;
        Ok(Self::parse(&text))
    }

    /// Parse required-list text.
    pub fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        RequiredList { patterns }
    }

    /// Whether `id` is required.
    pub fn requires(&self, id: &str) -> bool {
        self.patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => id.starts_with(prefix),
            None => p == id,
        })
    }

    /// Lint: patterns that match no case.
    pub fn unmatched(&self, cases: &[Case]) -> Vec<String> {
        self.patterns
            .iter()
            .filter(|p| {
                !cases.iter().any(|c| match p.strip_suffix('*') {
                    Some(prefix) => c.id.starts_with(prefix),
                    None => c.id == **p,
                })
            })
            .cloned()
            .collect()
    }
}

/// A case's final result, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// `<file>`.
    pub file: String,
    /// The scenario name.
    pub scenario: String,
    /// Parameters, in id order.
    pub params: Vec<(String, String)>,
    /// The final status.
    pub status: Status,
    /// The expectation, as text.
    pub expected: String,
    /// What the verdict step reported, when it ran.
    pub observed: Option<String>,
    /// Why it failed, was skipped or is unsupported; empty on a plain pass.
    pub message: String,
    /// How long the case took.
    pub duration_ms: u64,
    /// The skip-list reason, when listed.
    pub skip_reason: Option<String>,
    /// Whether the required list names it.
    pub required: bool,
}

impl CaseResult {
    /// Whether this result fails the run.
    pub fn fails_run(&self) -> bool {
        self.status == Status::Fail
    }
}

/// Apply the skip and required lists to a case's run.
pub fn classify(
    case: &Case,
    run: &CaseRun,
    skip: &SkipList,
    required: &RequiredList,
) -> CaseResult {
    let skip_reason = skip.reason(&case.id).map(str::to_string);
    let is_required = required.requires(&case.id);
    let (mut status, mut message) = match (&run.status, &skip_reason) {
        (RunStatus::Pass, None) => (Status::Pass, String::new()),
        (RunStatus::Pass, Some(r)) => (
            Status::Fail,
            format!(
                "listed in {} but passes now: remove the entry (its reason was: {r})",
                crate::paths::SKIP
            ),
        ),
        (RunStatus::Fail, None) => (Status::Fail, run.message.clone()),
        (RunStatus::Unsupported, None) => (Status::Unsupported, run.message.clone()),
        (RunStatus::Fail | RunStatus::Unsupported, Some(r)) => {
            (Status::Skip, format!("skipped: {r}\n{}", run.message))
        }
    };
    if is_required && status != Status::Pass && status != Status::Fail {
        message = format!("required case is {status}, not pass: {message}");
        status = Status::Fail;
    }
    CaseResult {
        id: case.id.clone(),
        file: case.scenario.file.clone(),
        scenario: case.scenario.name.clone(),
        params: case
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        status,
        expected: case.scenario.expect.to_string(),
        observed: run.observed.clone(),
        message,
        duration_ms: u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
        skip_reason,
        required: is_required,
    }
}

/// The difference between a baseline results file and this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaselineDiff {
    /// Did not pass in the baseline, pass now.
    pub fixed: Vec<String>,
    /// Passed in the baseline, do not pass now: (id, status now).
    pub broken: Vec<(String, Status)>,
    /// Not in the baseline.
    pub new: Vec<String>,
    /// In the baseline, not run now (filtered out or removed).
    pub not_run: Vec<String>,
}

impl BaselineDiff {
    /// Whether the baseline gate fails the run.
    pub fn fails_run(&self) -> bool {
        !self.broken.is_empty()
    }
}

/// Case id → status, read from a results file (`kez-crosstest/results/v1`).
pub fn load_baseline(path: &Path) -> Result<BTreeMap<String, Status>, Error> {
    let text = crate::read_to_string(path)?;
    let err = |m: String| Error::Config(format!("{}: {m}", path.display()));
    let v: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
    if v.get("schema").and_then(Value::as_str) != Some(crate::report::RESULTS_SCHEMA) {
        return Err(err(format!(
            "expected a results file with \"schema\": {:?}",
            crate::report::RESULTS_SCHEMA
        )));
    }
    let mut out = BTreeMap::new();
    for c in v
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no `cases` array".into()))?
    {
        let id = c.get("id").and_then(Value::as_str);
        let st = c
            .get("status")
            .and_then(Value::as_str)
            .and_then(Status::parse);
        match (id, st) {
            (Some(id), Some(st)) => {
                out.insert(id.to_string(), st);
            }
            _ => return Err(err(format!("a case without id or status: {c}"))),
        }
    }
    Ok(out)
}

/// Compare this run with a baseline.
pub fn diff(baseline: &BTreeMap<String, Status>, results: &[CaseResult]) -> BaselineDiff {
    let mut d = BaselineDiff::default();
    let now: BTreeMap<&str, Status> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
    for r in results {
        match baseline.get(&r.id) {
            None => d.new.push(r.id.clone()),
            Some(Status::Pass) if r.status != Status::Pass => {
                d.broken.push((r.id.clone(), r.status))
            }
            Some(b) if *b != Status::Pass && r.status == Status::Pass => d.fixed.push(r.id.clone()),
            Some(_) => {}
        }
    }
    for id in baseline.keys() {
        if !now.contains_key(id.as_str()) {
            d.not_run.push(id.clone());
        }
    }
    d
}

impl fmt::Display for BaselineDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "baseline: {} fixed, {} broken, {} new, {} not run",
            self.fixed.len(),
            self.broken.len(),
            self.new.len(),
            self.not_run.len()
        )?;
        for id in &self.fixed {
            writeln!(f, "  fixed   {id}")?;
        }
        for (id, st) in &self.broken {
            writeln!(f, "  BROKEN  {id} (now {st})")?;
        }
        for id in &self.new {
            writeln!(f, "  new     {id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: Status) -> CaseResult {
        CaseResult {
            id: id.into(),
            file: "f.toml".into(),
            scenario: "s".into(),
            params: vec![],
            status,
            expected: "valid".into(),
            observed: None,
            message: String::new(),
            duration_ms: 0,
            skip_reason: None,
            required: false,
        }
    }

    #[test]
    fn baseline_diff() {
        let mut base = BTreeMap::new();
        base.insert("a".to_string(), Status::Pass);
        base.insert("b".to_string(), Status::Fail);
        base.insert("gone".to_string(), Status::Pass);
        let now = vec![
            result("a", Status::Skip),
            result("b", Status::Pass),
            result("c", Status::Pass),
        ];
        let d = diff(&base, &now);
        assert_eq!(d.broken, vec![("a".to_string(), Status::Skip)]);
        assert_eq!(d.fixed, vec!["b".to_string()]);
        assert_eq!(d.new, vec!["c".to_string()]);
        assert_eq!(d.not_run, vec!["gone".to_string()]);
        assert!(d.fails_run());
    }

    #[test]
    fn required_patterns() {
        let r = RequiredList::parse("# floor\nfloor/*\nother.toml::x  # one case\n");
        assert!(r.requires("floor/claims.toml::a[x=1]"));
        assert!(r.requires("other.toml::x"));
        assert!(!r.requires("other.toml::xy"));
    }

    #[test]
    fn skip_list_parse() {
        let s =
            SkipList::parse("schema = 1\n[skip]\n\"a::b[x=1]\" = \"why\"\n", "skip.toml").unwrap();
        assert_eq!(s.reason("a::b[x=1]"), Some("why"));
        assert!(SkipList::parse("schema = 1\n[skip]\n\"a\" = \"\"\n", "skip.toml").is_err());
        assert!(SkipList::parse("[skip]\n", "skip.toml").is_err());
    }
}
