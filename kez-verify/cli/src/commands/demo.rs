//! `demo`: the main job on an embedded default. A claim is signed with a fixed demo
//! key, encoded in all four encodings (SPEC.md §6), and each encoding is detected,
//! decoded and verified (SPEC.md §8) at a fixed time. Nothing is random, so the output
//! is the same on every run.

use kez_core::encoding;
use kez_core::verdict::{self, ChainEvidence};
use kez_core::{Algorithm, ClaimBuilder, Encoding, Identity, Outcome, SecretKey};
use serde::Serialize;

use crate::clock;
use crate::commands::claim::outcome_paint;
use crate::error::{CliError, CliResult, Status};
use crate::output::{self, Ui};

/// DEMO ONLY, NOT SECRET: the Ed25519 seed of the demo key. It is published in this
/// source file, so anything it signs proves nothing. Never use it for a real claim.
const DEMO_SEED: [u8; 32] = *b"kez-verify demo key: NOT SECRET!";

/// The demo claim's subject.
const DEMO_SUBJECT: &str = "github:jason";

/// The demo claim's `created_at`: 2026-01-01T00:00:00Z.
const DEMO_CREATED_AT: u64 = 1_767_225_600;

/// The demo claim's `expires_at`: 2027-01-01T00:00:00Z.
const DEMO_EXPIRES_AT: u64 = 1_798_761_600;

/// The evaluation time: 2026-01-02T00:00:00Z.
const DEMO_AT: u64 = 1_767_312_000;

/// The version tag of `demo --format json` (docs/CLI.md).
const SCHEMA: &str = "kez-verify/demo/v1";

#[derive(Serialize)]
struct Row {
    encoding: &'static str,
    bytes: usize,
    detected: Option<&'static str>,
    outcome: Outcome,
    detail: String,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    subject: String,
    key: String,
    claim_id: String,
    created_at: u64,
    expires_at: u64,
    at: u64,
    results: Vec<Row>,
    outcome: Outcome,
}

/// Encodes, decodes and verifies the demo claim in one encoding.
fn round_trip(text: &str, encoding: Encoding, subject: &Identity) -> Row {
    let bytes = text.as_bytes();
    let detected = encoding::detect(bytes).ok();
    let decoded = encoding::decode(bytes, detected.unwrap_or(encoding));
    let (outcome, detail) = match decoded.as_deref() {
        Ok([only]) => match &only.item {
            Ok(claim) => {
                let v = verdict::evaluate(claim, ChainEvidence::NotChecked, DEMO_AT, Some(subject));
                (v.outcome(), v.detail().to_string())
            }
            Err(e) => (Outcome::Invalid, e.to_string()),
        },
        Ok(items) => (
            Outcome::Invalid,
            format!("decoded {} claims, expected one", items.len()),
        ),
        Err(e) => (Outcome::Invalid, e.to_string()),
    };
    let (outcome, detail) = match detected {
        Some(d) if d != encoding => (Outcome::Invalid, format!("detected as {d}, not {encoding}")),
        _ => (outcome, detail),
    };
    Row {
        encoding: encoding.name(),
        bytes: bytes.len(),
        detected: detected.map(Encoding::name),
        outcome,
        detail,
    }
}

/// Runs the demo.
pub(crate) fn run(ui: &Ui) -> CliResult {
    let key = SecretKey::from_bytes(Algorithm::Ed25519, &DEMO_SEED)
        .map_err(|e| CliError::Malformed(format!("demo key: {e}")))?;
    let subject: Identity = DEMO_SUBJECT
        .parse()
        .map_err(|e| CliError::Malformed(format!("demo subject: {e}")))?;
    let claim = ClaimBuilder::new(subject.clone(), DEMO_CREATED_AT)
        .expires_at(DEMO_EXPIRES_AT)
        .sign(&key, None)
        .map_err(|e| CliError::Malformed(format!("demo claim: {e}")))?;
    let results: Vec<Row> = Encoding::ALL
        .into_iter()
        .map(|e| round_trip(&encoding::encode(&claim, e), e, &subject))
        .collect();
    let outcome = results
        .iter()
        .map(|r| r.outcome)
        .min()
        .unwrap_or(Outcome::Invalid);
    let report = Report {
        schema: SCHEMA,
        subject: claim.subject().to_string(),
        key: claim.key().to_string(),
        claim_id: claim.id().to_string(),
        created_at: DEMO_CREATED_AT,
        expires_at: DEMO_EXPIRES_AT,
        at: DEMO_AT,
        results,
        outcome,
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        render(ui, &report)
    };
    output::stdout(text.as_bytes())?;
    Ok(if outcome == Outcome::Valid {
        Status::Ok
    } else {
        Status::NotValid
    })
}

fn render(ui: &Ui, report: &Report) -> String {
    let mut out =
        String::from("kez-verify demo: one claim, four encodings (demo key, not secret)\n");
    out.push_str(&format!("subject:  {}\n", report.subject));
    out.push_str(&format!("key:      {}\n", report.key));
    out.push_str(&format!("claim id: {}\n", report.claim_id));
    out.push_str(&format!(
        "created:  {}\nexpires:  {}\nchecked:  {}\n\n",
        clock::format_time(report.created_at),
        clock::format_time(report.expires_at),
        clock::format_time(report.at)
    ));
    out.push_str(&format!(
        "{:<10} {:>6}  {}\n",
        "encoding", "bytes", "outcome"
    ));
    for row in &report.results {
        // Pad before painting so that colour codes do not upset the columns.
        let outcome = ui.paint(row.outcome.name(), outcome_paint(row.outcome));
        out.push_str(&format!("{:<10} {:>6}  {outcome}", row.encoding, row.bytes));
        if row.outcome != Outcome::Valid {
            out.push_str(&format!(" ({})", row.detail));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\noutcome: {}\n",
        ui.paint(report.outcome.name(), outcome_paint(report.outcome))
    ));
    out
}
