//! The replay report, in three forms (docs/SUITES.md, "Reports"): a table for people
//! ([`Report::to_human`]), JSON with schema `kez-verify/replay/v1` ([`Report::to_json`])
//! and JUnit XML for CI systems ([`Report::to_junit`]).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::evidence::{ObservedEvidence, ObservedIdentity};
use crate::manifest::{
    CaseBody, ChainExpectation, EvidenceExpectation, ExpectedVerdict, IdentityExpectation,
};
use crate::replay::{percent, CaseResult, Observed, ObservedChain, Timings};
use crate::suite::SignatureCheck;

/// The schema name of the JSON report.
pub const JSON_SCHEMA: &str = "kez-verify/replay/v1";

/// What the report says about the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteInfo {
    /// The suite's name.
    pub name: String,
    /// The suite's version.
    pub version: String,
    /// The SPEC.md version.
    pub spec: String,
    /// The pinned evaluation time.
    pub at: u64,
    /// The folder it was read from.
    pub path: String,
    /// Number of files checked.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The result of a replay.
#[derive(Debug, Clone)]
pub struct Report {
    /// The suite.
    pub suite: SuiteInfo,
    /// Whether its signature was checked.
    pub signature: SignatureCheck,
    /// One result per case, in manifest order.
    pub cases: Vec<CaseResult>,
    /// Where the time went.
    pub timings: Timings,
}

/// How a line of the human report is marked, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A case that matched.
    Pass,
    /// A case that differed.
    Fail,
    /// A note.
    Note,
}

impl Report {
    /// Cases that matched.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    /// Cases that differed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// True when every case matched.
    pub fn is_success(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }

    /// The cases that differed.
    pub fn differences(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.passed)
    }

    /// The human report: a header, a table of every case, the differences' details, a
    /// summary and the time split. `paint` colours a piece of text (identity for none).
    pub fn to_human(&self, paint: &dyn Fn(&str, Mark) -> String) -> String {
        let mut out = String::new();
        let s = &self.suite;
        let _ = writeln!(
            out,
            "suite {} version {} (SPEC.md {}), {} cases, {} files ({} bytes), evaluated at {} ({}) unless a case pins its own time",
            s.name,
            s.version,
            s.spec,
            self.cases.len(),
            s.files,
            s.bytes,
            rfc3339(s.at),
            s.at
        );
        let note = match &self.signature {
            SignatureCheck::Verified(_) => self.signature.to_string(),
            SignatureCheck::NotChecked => {
                "manifest signature not checked (pass --key ed25519:… to require it)".into()
            }
        };
        let _ = writeln!(out, "{}\n", paint(&note, Mark::Note));

        let rows: Vec<[String; 4]> = self
            .cases
            .iter()
            .map(|c| {
                [
                    if c.passed { "ok" } else { "DIFF" }.to_string(),
                    c.case.id.clone(),
                    expected_text(&c.case.body),
                    observed_text(&c.observed),
                ]
            })
            .collect();
        let header = [
            "result".to_string(),
            "case".into(),
            "expected".into(),
            "got".into(),
        ];
        let width = |i: usize| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .min(60)
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            header[0], header[1], header[2], header[3]
        );
        for (row, c) in rows.iter().zip(&self.cases) {
            let mark = if c.passed { Mark::Pass } else { Mark::Fail };
            let cell = format!("{:w0$}", row[0]);
            let _ = writeln!(
                out,
                "{}  {:w1$}  {:w2$}  {}",
                paint(&cell, mark),
                row[1],
                row[2],
                row[3]
            );
        }

        let differences: Vec<&CaseResult> = self.differences().collect();
        if !differences.is_empty() {
            let _ = writeln!(out, "\ndifferences:");
            for c in differences {
                let _ = writeln!(out, "  {} (at {})", paint(&c.case.id, Mark::Fail), c.at);
                let _ = writeln!(out, "    expected {}", expected_text(&c.case.body));
                let _ = writeln!(out, "    got      {}", observed_text(&c.observed));
                for line in details(&c.observed) {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }

        let summary = format!(
            "{} cases: {} matched, {} differ",
            self.cases.len(),
            self.passed(),
            self.failed()
        );
        let mark = if self.is_success() {
            Mark::Pass
        } else {
            Mark::Fail
        };
        let _ = writeln!(out, "\n{}", paint(&summary, mark));
        out.push_str(&time_split(&self.timings));
        out
    }

    /// The JSON report (schema `kez-verify/replay/v1`, documented in docs/SUITES.md).
    pub fn to_json(&self) -> Value {
        let t = &self.timings;
        let s = &self.suite;
        json!({
            "schema": JSON_SCHEMA,
            "suite": {
                "name": s.name,
                "version": s.version,
                "spec": s.spec,
                "at": s.at,
                "path": s.path,
                "files": s.files,
                "bytes": s.bytes,
                "cases": self.cases.len(),
            },
            "signature": match &self.signature {
                SignatureCheck::Verified(key) => json!({ "checked": true, "key": key.to_string() }),
                SignatureCheck::NotChecked => json!({ "checked": false, "key": null, "note": "manifest signature not checked" }),
            },
            "passed": self.is_success(),
            "summary": { "cases": self.cases.len(), "matched": self.passed(), "differ": self.failed() },
            "cases": self.cases.iter().map(case_json).collect::<Vec<_>>(),
            "timings": {
                "total_ms": ms(t.total),
                "signature_ms": ms(t.signature()),
                "signature_percent": round1(t.signature_percent()),
                "phases": t.phases().iter().map(|p| json!({
                    "name": p.name,
                    "signature": p.signature,
                    "ms": ms(p.time),
                    "percent": round1(percent(p.time, t.total)),
                    "what": p.what,
                })).collect::<Vec<_>>(),
            },
        })
    }

    /// The JUnit XML report: one `testsuite` named after the suite, one `testcase` per
    /// case (class `<suite>.<first segment of the id>`), a `failure` for each difference.
    pub fn to_junit(&self) -> String {
        let t = &self.timings;
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let (n, f, secs) = (self.cases.len(), self.failed(), t.total.as_secs_f64());
        let _ = writeln!(
            out,
            "<testsuites name=\"kez-verify replay\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" time=\"{secs:.6}\">"
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"0\" time=\"{secs:.6}\">",
            xml(&self.suite.name)
        );
        out.push_str("    <properties>\n");
        let signature = self.signature.to_string();
        let properties = [
            ("suite.version", self.suite.version.clone()),
            ("suite.path", self.suite.path.clone()),
            ("spec", self.suite.spec.clone()),
            ("at", self.suite.at.to_string()),
            ("signature", signature),
            (
                "time.signature_percent",
                format!("{:.1}", t.signature_percent()),
            ),
        ];
        for (name, value) in properties {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml(name),
                xml(&value)
            );
        }
        out.push_str("    </properties>\n");
        for c in &self.cases {
            let group = c.case.id.split('/').next().unwrap_or("");
            let _ = write!(
                out,
                "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.6}\"",
                xml(&self.suite.name),
                xml(group),
                xml(&c.case.id),
                c.elapsed.as_secs_f64()
            );
            if c.passed {
                out.push_str("/>\n");
                continue;
            }
            let message = format!(
                "expected {}, got {}",
                expected_text(&c.case.body),
                observed_text(&c.observed)
            );
            let mut body = format!("{message}\nevaluated at {}\n", c.at);
            for line in details(&c.observed) {
                body.push_str(&line);
                body.push('\n');
            }
            let _ = writeln!(
                out,
                ">\n      <failure type=\"difference\" message=\"{}\">{}</failure>\n    </testcase>",
                xml(&message),
                xml(&body)
            );
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// The expectation of a case as short text: `[valid, invalid (bad_signature)]` or
/// `ok (4 links)`.
pub fn expected_text(body: &CaseBody) -> String {
    match body {
        CaseBody::Claim { expect, .. } => verdict_list(expect.iter().copied()),
        CaseBody::Chain { expect, .. } => expect.to_string(),
        CaseBody::Evidence { expect, .. } => match expect {
            EvidenceExpectation::Identity(e) => identity_expected_text(e),
            EvidenceExpectation::Key {
                outcome,
                identities,
            } => graph_text(
                *outcome,
                identities
                    .iter()
                    .map(|l| format!("{} {}", l.identity, identity_expected_text(&l.expect))),
            ),
        },
    }
}

/// `valid, proofs [valid] [invalid (bad_signature)], rejected [wrong_publisher]`.
fn identity_text(
    outcome: &str,
    reason: Option<&str>,
    proofs: impl Iterator<Item = String>,
    rejected: impl Iterator<Item = String>,
) -> String {
    let mut out = match reason {
        Some(reason) => format!("{outcome} ({reason})"),
        None => outcome.to_string(),
    };
    let proofs: Vec<String> = proofs.collect();
    out.push_str(", proofs ");
    out.push_str(&if proofs.is_empty() {
        "none".to_string()
    } else {
        proofs.join(" ")
    });
    let rejected: Vec<String> = rejected.collect();
    if !rejected.is_empty() {
        out.push_str(&format!(", rejected [{}]", rejected.join(", ")));
    }
    out
}

fn identity_expected_text(e: &IdentityExpectation) -> String {
    identity_text(
        e.outcome.name(),
        e.reason.as_deref(),
        e.proofs
            .iter()
            .map(|p| verdict_list(p.outcomes.iter().copied())),
        e.rejected.iter().map(|r| r.reason.clone()),
    )
}

fn identity_observed_text(o: &ObservedIdentity) -> String {
    identity_text(
        o.outcome.name(),
        o.reason.as_deref(),
        o.proofs
            .iter()
            .map(|p| verdict_list(p.verdicts.iter().map(|v| v.verdict()))),
        o.rejected.iter().map(|r| r.reason.clone()),
    )
}

/// `valid; github:jason valid, proofs [valid]; dns:example.com …`.
fn graph_text(outcome: kez_core::verdict::Outcome, items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        format!("{outcome}; no identities")
    } else {
        format!("{outcome}; {}", items.join("; "))
    }
}

fn evidence_observed_text(o: &ObservedEvidence) -> String {
    match o {
        ObservedEvidence::Identity(i) => identity_observed_text(i),
        ObservedEvidence::Key {
            outcome,
            identities,
            ..
        } => graph_text(
            *outcome,
            identities
                .iter()
                .map(|i| format!("{} {}", i.identity, identity_observed_text(i))),
        ),
    }
}

fn identity_details(i: &ObservedIdentity, out: &mut Vec<String>) {
    out.push(format!("{}: {}: {}", i.identity, i.outcome, i.detail));
    for p in &i.proofs {
        out.push(format!("  proof {}", p.location));
        for v in &p.verdicts {
            out.push(format!("    {}: {}", v.verdict(), v.detail));
        }
    }
    for r in &i.rejected {
        out.push(format!(
            "  rejected {} {}: {}",
            r.location, r.reason, r.detail
        ));
    }
}

fn identity_expected_json(e: &IdentityExpectation) -> Value {
    json!({
        "outcome": e.outcome.name(),
        "reason": e.reason,
        "proofs": e.proofs.iter().map(|p| json!({
            "location": p.location,
            "outcomes": p.outcomes.iter().map(|v| json!({ "outcome": v.outcome.name(), "reason": v.reason.map(|r| r.name()) })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rejected": e.rejected.iter().map(|r| json!({ "location": r.location, "reason": r.reason })).collect::<Vec<_>>(),
    })
}

fn identity_observed_json(i: &ObservedIdentity) -> Value {
    json!({
        "identity": i.identity,
        "outcome": i.outcome.name(),
        "reason": i.reason,
        "detail": i.detail,
        "proofs": i.proofs.iter().map(|p| json!({
            "location": p.location,
            "outcomes": p.verdicts.iter().map(|v| json!({ "outcome": v.outcome.name(), "reason": v.reason.map(|r| r.name()), "detail": v.detail })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rejected": i.rejected.iter().map(|r| json!({ "location": r.location, "reason": r.reason, "detail": r.detail })).collect::<Vec<_>>(),
    })
}

/// What a case observed as short text, in the form of [`expected_text`].
pub fn observed_text(observed: &Observed) -> String {
    match observed {
        Observed::Verdicts(v) => verdict_list(v.iter().map(|v| v.verdict())),
        Observed::Chain(ObservedChain::Ok { length }) => {
            ChainExpectation::Ok { length: *length }.to_string()
        }
        Observed::Chain(ObservedChain::Failed { kind, .. }) => (*kind).to_string(),
        Observed::Evidence(o) => evidence_observed_text(o),
        Observed::EvidenceFailed(failure) => format!("error ({})", failure.kind),
        Observed::Error(_) => "error".into(),
    }
}

fn verdict_list(items: impl Iterator<Item = ExpectedVerdict>) -> String {
    let parts: Vec<String> = items.map(|v| v.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The sentences explaining what was observed.
fn details(observed: &Observed) -> Vec<String> {
    match observed {
        Observed::Verdicts(v) => v
            .iter()
            .map(|v| format!("{}: {}", v.verdict(), v.detail))
            .collect(),
        Observed::Chain(ObservedChain::Ok { length }) => {
            vec![format!("the chain verified ({length} links)")]
        }
        Observed::Chain(ObservedChain::Failed { kind, detail }) => {
            vec![format!("{kind}: {detail}")]
        }
        Observed::Evidence(ObservedEvidence::Identity(i)) => {
            let mut out = Vec::new();
            identity_details(i, &mut out);
            out
        }
        Observed::Evidence(ObservedEvidence::Key {
            outcome,
            detail,
            identities,
        }) => {
            let mut out = vec![format!("graph: {outcome}: {detail}")];
            for i in identities {
                identity_details(i, &mut out);
            }
            out
        }
        Observed::EvidenceFailed(failure) => vec![failure.to_string()],
        Observed::Error(message) => vec![message.clone()],
    }
}

fn case_json(c: &CaseResult) -> Value {
    let expected = match &c.case.body {
        CaseBody::Claim { expect, .. } => Value::Array(
            expect
                .iter()
                .map(|v| json!({ "outcome": v.outcome.name(), "reason": v.reason.map(|r| r.name()) }))
                .collect(),
        ),
        CaseBody::Chain { expect, .. } => match expect {
            ChainExpectation::Ok { length } => json!({ "chain": "ok", "length": length }),
            other => json!({ "chain": other.name() }),
        },
        CaseBody::Evidence { target, expect, .. } => match expect {
            EvidenceExpectation::Identity(e) => {
                let mut v = identity_expected_json(e);
                v["target"] = json!(target.to_string());
                v
            }
            EvidenceExpectation::Key {
                outcome,
                identities,
            } => json!({
                "target": target.to_string(),
                "outcome": outcome.name(),
                "identities": identities.iter().map(|l| {
                    let mut v = identity_expected_json(&l.expect);
                    v["identity"] = json!(l.identity.to_string());
                    v
                }).collect::<Vec<_>>(),
            }),
        },
    };
    let got = match &c.observed {
        Observed::Verdicts(v) => Value::Array(
            v.iter()
                .map(|v| json!({ "outcome": v.outcome.name(), "reason": v.reason.map(|r| r.name()), "detail": v.detail }))
                .collect(),
        ),
        Observed::Chain(ObservedChain::Ok { length }) => {
            json!({ "chain": "ok", "length": length })
        }
        Observed::Chain(ObservedChain::Failed { kind, detail }) => {
            json!({ "chain": kind, "detail": detail })
        }
        Observed::Evidence(ObservedEvidence::Identity(i)) => identity_observed_json(i),
        Observed::Evidence(ObservedEvidence::Key {
            outcome,
            detail,
            identities,
        }) => json!({
            "outcome": outcome.name(),
            "detail": detail,
            "identities": identities.iter().map(identity_observed_json).collect::<Vec<_>>(),
        }),
        Observed::EvidenceFailed(failure) => {
            json!({ "error": failure.detail, "kind": failure.kind })
        }
        Observed::Error(message) => json!({ "error": message }),
    };
    json!({
        "id": c.case.id,
        "kind": c.case.body.kind(),
        "at": c.at,
        "result": if c.passed { "match" } else { "differ" },
        "expected": expected,
        "got": got,
        "micros": u64::try_from(c.elapsed.as_micros()).unwrap_or(u64::MAX),
    })
}

/// The time split as text: the total, the signature share and every phase.
pub fn time_split(t: &Timings) -> String {
    let mut out = format!(
        "time: {:.1} ms total; signature verification {:.1} ms ({:.1}%)\n",
        ms(t.total),
        ms(t.signature()),
        t.signature_percent()
    );
    for p in t.phases() {
        let _ = writeln!(
            out,
            "  {:9}  {:18} {:9.1} ms {:5.1}%",
            if p.signature { "signature" } else { "other" },
            p.name,
            ms(p.time),
            percent(p.time, t.total)
        );
    }
    out
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Escapes text for XML attributes and content; characters XML 1.0 forbids become U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Unix seconds as RFC 3339 UTC (`2026-01-02T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_312_000), "2026-01-02T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn xml_escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(
            xml("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}\n"
        );
    }
}
