//! Running a case: its steps in order, then the expectation and the checks
//! (`docs/SCENARIOS.md`, "How a case runs").
//!
//! - A step whose implementation does not declare its op, or that the adapter answers with
//!   error kind `unsupported`, makes the case *unsupported* (not failed) — unless it is the
//!   verdict step of a scenario that expects exactly that error.
//! - Any other adapter error, and any rejection by a step before or after the verdict step,
//!   fails the case: producing steps must succeed.
//! - The verdict step's answer is read as verdicts ([`crate::expect::verdicts`]) and compared
//!   with `expect`; then every check must hold.

use crate::adapter::{clip, Pool};
use crate::expect::{self, Expected};
use crate::matrix::Case;
use crate::scenario::StepKind;
use crate::transform;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a case went, before the skip and required lists are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Everything as expected.
    Pass,
    /// Something was not.
    Fail,
    /// An implementation does not support what the case needs.
    Unsupported,
}

/// The run of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRun {
    /// How it went.
    pub status: RunStatus,
    /// What the verdict step reported (`valid`, `invalid:malformed`, `error:unsupported`).
    pub observed: Option<String>,
    /// Why it failed or is unsupported, with a transcript of the steps.
    pub message: String,
    /// Wall time.
    pub duration: Duration,
}

struct Ctx {
    transcript: Vec<String>,
    scope: BTreeMap<String, Value>,
}

impl Ctx {
    fn finish(
        self,
        status: RunStatus,
        observed: Option<String>,
        why: &str,
        start: Instant,
    ) -> CaseRun {
        let mut message = why.to_string();
        if status != RunStatus::Pass && !self.transcript.is_empty() {
            message.push_str("\n  steps:");
            for t in &self.transcript {
                let _ = write!(message, "\n    {t}");
            }
        }
        CaseRun {
            status,
            observed,
            message,
            duration: start.elapsed(),
        }
    }
}

fn short(v: &Value) -> String {
    clip(&v.to_string(), 240)
}

/// Run one case against the pool.
pub fn execute(case: &Case, pool: &Pool) -> CaseRun {
    let start = Instant::now();
    let sc = &case.scenario;
    let mut ctx = Ctx {
        transcript: Vec::new(),
        scope: case.scope(),
    };
    let mut observed: Option<String> = None;
    for (i, step) in sc.steps.iter().enumerate() {
        let is_verdict = i == sc.verdict_step;
        match &step.kind {
            StepKind::Transform { kind, params } => {
                let mut resolved = BTreeMap::new();
                for (k, t) in params {
                    match t.resolve_value(&ctx.scope) {
                        Ok(v) => {
                            resolved.insert(k.clone(), v);
                        }
                        Err(e) => {
                            let why = format!("step `{}` ({}).{k}: {e}", step.id, kind.name());
                            return ctx.finish(RunStatus::Fail, observed, &why, start);
                        }
                    }
                }
                match transform::apply(*kind, &resolved) {
                    Ok(out) => {
                        ctx.transcript.push(format!(
                            "{}: transform {} → {}",
                            step.id,
                            kind.name(),
                            clip(&out, 240)
                        ));
                        ctx.scope.insert(step.id.clone(), Value::String(out));
                    }
                    Err(e) => {
                        let why = format!("step `{}`: transform {}: {e}", step.id, kind.name());
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                }
            }
            StepKind::Call { by, op, args } => {
                let who = match by.resolve_value(&ctx.scope) {
                    Ok(Value::String(s)) => s,
                    Ok(other) => {
                        let why = format!(
                            "step `{}`.by: expected an implementation name, found {other}",
                            step.id
                        );
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                    Err(e) => {
                        let why = format!("step `{}`.by: {e}", step.id);
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                };
                let expects_error = match &sc.expect.expected {
                    Expected::Error(k) if is_verdict => Some(k.clone()),
                    _ => None,
                };
                let declared = pool
                    .registry()
                    .by_name(&who)
                    .is_some_and(|imp| imp.ops.iter().any(|o| o == op));
                if !declared && expects_error.is_none() {
                    let why = format!(
                        "{who} does not declare op `{op}` in {} (step `{}`)",
                        crate::paths::IMPLS,
                        step.id
                    );
                    return ctx.finish(RunStatus::Unsupported, observed, &why, start);
                }
                let args_v = match args.resolve_value(&ctx.scope) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(other) => {
                        let why = format!(
                            "step `{}`.args: expected an object, found {}",
                            step.id,
                            short(&other)
                        );
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                    Err(e) => {
                        let why = format!("step `{}`.args: {e}", step.id);
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                };
                let answer = pool.call(&who, op, args_v.clone());
                match answer {
                    Ok(result) => {
                        ctx.transcript.push(format!(
                            "{}: {op} by {who} {} → {}",
                            step.id,
                            short(&args_v),
                            short(&result)
                        ));
                        let verdicts = match expect::verdicts(op, &result) {
                            Ok(v) => v,
                            Err(e) => {
                                let why = format!(
                                    "step `{}`: {who} answered `{op}` with a result that breaks docs/ADAPTER.md: {e}",
                                    step.id
                                );
                                return ctx.finish(RunStatus::Fail, observed, &why, start);
                            }
                        };
                        if is_verdict {
                            let obs = expect::summarize(&verdicts);
                            observed = Some(obs);
                            if let Err(e) = expect::check(&sc.expect, &verdicts) {
                                let why = format!("{who} ({op}): {e}");
                                return ctx.finish(RunStatus::Fail, observed, &why, start);
                            }
                        } else if let Some(bad) = verdicts.iter().find(|v| v.outcome != "valid") {
                            let why = format!(
                                "step `{}` ({op} by {who}) must succeed to set the case up, but answered {bad}",
                                step.id
                            );
                            return ctx.finish(RunStatus::Fail, observed, &why, start);
                        }
                        ctx.scope.insert(step.id.clone(), result);
                    }
                    Err(e) => {
                        ctx.transcript.push(format!(
                            "{}: {op} by {who} {} → {}",
                            step.id,
                            short(&args_v),
                            e.to_string().lines().next().unwrap_or("")
                        ));
                        let kind = e.adapter_kind().map(str::to_string);
                        if let (Some(want), true) = (&expects_error, is_verdict) {
                            observed = Some(format!("error:{}", e.label()));
                            if kind.as_deref() == Some(want.as_str()) {
                                ctx.scope.insert(step.id.clone(), Value::Null);
                                continue;
                            }
                            let why =
                                format!("{who} ({op}): expected error kind {want:?}, found {e}");
                            return ctx.finish(RunStatus::Fail, observed, &why, start);
                        }
                        if kind.as_deref() == Some("unsupported") {
                            if is_verdict {
                                observed = Some("error:unsupported".into());
                            }
                            let why = format!(
                                "{who} answered `{op}` (step `{}`) with unsupported: {}",
                                step.id, e.message
                            );
                            return ctx.finish(RunStatus::Unsupported, observed, &why, start);
                        }
                        if is_verdict {
                            observed = Some(format!("error:{}", e.label()));
                        }
                        let why = format!("step `{}` ({op} by {who}): {e}", step.id);
                        return ctx.finish(RunStatus::Fail, observed, &why, start);
                    }
                }
            }
        }
    }
    if let Expected::Acceptable { flags } = &sc.expect.expected {
        ctx.transcript.push(format!(
            "acceptable ({}): observed {}",
            flags.join(", "),
            observed.as_deref().unwrap_or("-")
        ));
    }
    for check in &sc.checks {
        let mut values = Vec::new();
        for t in &check.equal {
            match t.resolve_value(&ctx.scope) {
                Ok(v) => values.push(v),
                Err(e) => {
                    let why = format!("check {}: {e}", check.name);
                    return ctx.finish(RunStatus::Fail, observed, &why, start);
                }
            }
        }
        if let Some((j, v)) = values
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, v)| **v != values[0])
        {
            let why = format!(
                "check {} failed: value {} differs from value 0\n  value 0: {}\n  value {j}: {}",
                check.name,
                j,
                clip(&values[0].to_string(), 2000),
                clip(&v.to_string(), 2000)
            );
            return ctx.finish(RunStatus::Fail, observed, &why, start);
        }
    }
    ctx.finish(RunStatus::Pass, observed, "", start)
}

/// Run every case on `jobs` worker threads (at least one); `progress` is called after each
/// case. Results come back in case order.
pub fn run_all(
    cases: &[Case],
    pool: &Pool,
    jobs: usize,
    progress: impl Fn(&CaseRun) + Sync,
) -> Vec<CaseRun> {
    let next = Mutex::new(0usize);
    let slots: Vec<Mutex<Option<CaseRun>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(case) = cases.get(i) else { break };
                let r = execute(case, pool);
                progress(&r);
                *slots[i]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or(CaseRun {
                    status: RunStatus::Fail,
                    observed: None,
                    message: "the case did not run (a worker thread panicked)".into(),
                    duration: Duration::ZERO,
                })
        })
        .collect()
}
