//! `claim new|encode|verify`: claims (SPEC.md §5), their encodings (§6) and their
//! verification (§8).

use std::collections::HashSet;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kez_core::encoding::{self, Decoded, Located};
use kez_core::sigchain::Digest256;
use kez_core::verdict::{self, InvalidReason};
use kez_core::{Claim, ClaimBuilder, DecodeError, Encoding, Outcome, Verdict};
use kez_keys::store;
use rand_core::{OsRng, RngCore as _};
use serde::Serialize;

use crate::chain::{self, Evidence};
use crate::cli::{ClaimCommand, ClaimEncodeArgs, ClaimNewArgs, ClaimVerifyArgs};
use crate::clock;
use crate::error::{CliError, CliResult, Status};
use crate::input;
use crate::keystore;
use crate::output::{self, Paint, Ui};

/// The version tag of the `claim verify --format json` document (docs/CLI.md).
pub(crate) const VERIFY_SCHEMA: &str = "kez-verify/claim-verify/v1";

/// The version tag of the `claim encode --format json` document (docs/CLI.md).
const ENCODE_SCHEMA: &str = "kez-verify/claim-encode/v1";

/// Mode of claim files written with `--out`: claims are public.
const CLAIM_FILE_MODE: u32 = 0o644;

/// Random bytes in a nonce (22 base64url characters).
const NONCE_BYTES: usize = 16;

/// Runs a `claim` command.
pub(crate) fn run(ui: &Ui, command: ClaimCommand) -> CliResult {
    match command {
        ClaimCommand::New(args) => new(ui, &args),
        ClaimCommand::Encode(args) => encode(ui, &args),
        ClaimCommand::Verify(args) => verify(ui, &args),
    }
}

/// Decodes `bytes` in `forced`, or in the encoding it is detected to be in.
pub(crate) fn decode_input(
    bytes: &[u8],
    forced: Option<Encoding>,
) -> Result<(Encoding, Decoded), DecodeError> {
    match forced {
        Some(encoding) => Ok((encoding, encoding::decode(bytes, encoding)?)),
        None => encoding::decode_detected(bytes),
    }
}

/// Reads a file that must hold exactly one well-formed claim, in any encoding.
pub(crate) fn read_single(path: &Path) -> Result<Claim, CliError> {
    let name = input::display_name(path);
    let bytes = input::read(path, input::MAX_INPUT)?;
    let (_, items) =
        decode_input(&bytes, None).map_err(|e| CliError::Malformed(format!("{name}: {e}")))?;
    let count = items.len();
    let mut items = items.into_iter();
    match (items.next(), count) {
        (Some(only), 1) => only
            .item
            .map_err(|e| CliError::Malformed(format!("{name} line {}: {e}", only.line))),
        _ => Err(CliError::Usage(format!(
            "{name} holds {count} claims; expected exactly one"
        ))),
    }
}

/// The claim's id as a digest.
pub(crate) fn claim_digest(claim: &Claim) -> Result<Digest256, CliError> {
    Ok(claim.id())
}

/// `claim` encoded as text that ends in a newline.
fn encoded(claim: &Claim, encoding: Encoding) -> String {
    let mut text = encoding::encode(claim, encoding);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn new(ui: &Ui, args: &ClaimNewArgs) -> CliResult {
    if let Some(out) = &args.out {
        keystore::refuse_existing(out, args.force)?;
    }
    let key = keystore::load_key(&args.key, &args.passphrase)?;
    let now = clock::now()?;
    let mut builder = ClaimBuilder::new(args.subject.clone(), now);
    if let Some(secs) = args.expires_in {
        let expires_at = now
            .checked_add(secs)
            .ok_or_else(|| CliError::Usage("--expires-in is too long".into()))?;
        builder = builder.expires_at(expires_at);
    }
    if !args.no_nonce {
        let mut bytes = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut bytes);
        builder = builder.nonce(URL_SAFE_NO_PAD.encode(bytes));
    }
    if let Some(url) = &args.chain {
        builder = builder.chain(url.clone());
    }
    let claim = builder
        .sign(&key, None)
        .map_err(|e| CliError::Usage(format!("cannot sign the claim: {e}")))?;
    let encoding = Encoding::from(args.encoding);
    let text = encoded(&claim, encoding);
    match &args.out {
        Some(path) => {
            store::write_atomic(path, text.as_bytes(), CLAIM_FILE_MODE, args.force)
                .map_err(keystore::write_error)?;
            if ui.json() {
                let report = serde_json::json!({
                    "id": claim.id(),
                    "encoding": encoding.name(),
                    "file": path.display().to_string(),
                });
                output::stdout(output::to_json(&report)?.as_bytes())?;
            }
            output::stderr_line(&format!("wrote {} (claim {})", path.display(), claim.id()));
        }
        None if ui.json() => {
            let report = serde_json::json!({
                "id": claim.id(),
                "encoding": encoding.name(),
                "text": text,
            });
            output::stdout(output::to_json(&report)?.as_bytes())?;
        }
        None => output::stdout(text.as_bytes())?,
    }
    Ok(Status::Ok)
}

#[derive(Serialize)]
struct EncodedClaim {
    line: usize,
    id: String,
    text: String,
}

#[derive(Serialize)]
struct Skipped {
    line: usize,
    error: String,
}

#[derive(Serialize)]
struct EncodeReport {
    schema: &'static str,
    from: &'static str,
    to: &'static str,
    claims: Vec<EncodedClaim>,
    skipped: Vec<Skipped>,
}

fn encode(ui: &Ui, args: &ClaimEncodeArgs) -> CliResult {
    let name = input::display_name(&args.input);
    let bytes = input::read(&args.input, input::MAX_INPUT)?;
    let (from, items) = decode_input(&bytes, args.from.map(Encoding::from))
        .map_err(|e| CliError::Malformed(format!("{name}: {e}")))?;
    let to = Encoding::from(args.to);
    let mut report = EncodeReport {
        schema: ENCODE_SCHEMA,
        from: from.name(),
        to: to.name(),
        claims: Vec::new(),
        skipped: Vec::new(),
    };
    for Located { line, item } in items {
        match item {
            Ok(claim) => report.claims.push(EncodedClaim {
                line,
                id: claim.id().to_string(),
                text: encoded(&claim, to),
            }),
            Err(e) => report.skipped.push(Skipped {
                line,
                error: e.to_string(),
            }),
        }
    }
    if report.claims.is_empty() {
        let failures: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("line {}: {}", s.line, s.error))
            .collect();
        return Err(CliError::Malformed(format!(
            "no claim in {name} decodes ({})",
            failures.join("; ")
        )));
    }
    for skipped in &report.skipped {
        output::warn(&format!(
            "{name} line {}: {} (skipped)",
            skipped.line, skipped.error
        ));
    }
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        report.claims.iter().map(|c| c.text.as_str()).collect()
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

/// One claim's result in `claim verify`.
#[derive(Serialize)]
struct VerifyResult {
    line: usize,
    verdict: Verdict,
    nonce: Option<String>,
    unknown_members: Vec<String>,
    #[serde(skip)]
    claim: Option<Claim>,
}

/// The `claim verify --format json` document (docs/CLI.md).
#[derive(Serialize)]
struct VerifyReport {
    schema: &'static str,
    input: String,
    encoding: Option<&'static str>,
    at: u64,
    results: Vec<VerifyResult>,
    outcome: Outcome,
    /// Why the sigchain did not verify, for the human form (the JSON form has it in
    /// each verdict's conditions).
    #[serde(skip)]
    chain_failure: Option<String>,
}

/// Reads the chain copies in `paths` and verifies them, tracking the claims `ids`, as of
/// `at`.
fn chain_evidence(
    paths: &[std::path::PathBuf],
    ids: HashSet<Digest256>,
    at: u64,
) -> Result<Evidence, CliError> {
    let copies = paths
        .iter()
        .map(|p| chain::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(chain::evidence(&copies, ids, at))
}

fn verify(ui: &Ui, args: &ClaimVerifyArgs) -> CliResult {
    let at = match args.at {
        Some(at) => at,
        None => clock::now()?,
    };
    let name = input::display_name(&args.input);
    let bytes = input::read(&args.input, input::MAX_INPUT)?;
    let (encoding, items) = match decode_input(&bytes, args.encoding.map(Encoding::from)) {
        Ok((encoding, items)) => (Some(encoding), items),
        Err(e) => (
            None,
            vec![Located {
                line: 1,
                item: Err(e),
            }],
        ),
    };
    let ids = items
        .iter()
        .filter_map(|l| l.item.as_ref().ok())
        .map(claim_digest)
        .collect::<Result<HashSet<_>, _>>()?;
    let evidence = chain_evidence(&args.chains, ids, at)?;
    let results: Vec<VerifyResult> = items
        .into_iter()
        .map(|Located { line, item }| match item {
            Ok(claim) => VerifyResult {
                line,
                verdict: verdict::evaluate(&claim, evidence.as_chain(), at, args.subject.as_ref()),
                nonce: claim.nonce().map(str::to_string),
                unknown_members: claim
                    .unknown_members()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                claim: Some(claim),
            },
            Err(e) => VerifyResult {
                line,
                verdict: verdict::undecodable(e.is_unsupported(), format!("{name}: {e}"), at),
                nonce: None,
                unknown_members: Vec::new(),
                claim: None,
            },
        })
        .collect();
    let outcome = results
        .iter()
        .map(|r| r.verdict.outcome())
        .min()
        .unwrap_or(Outcome::Invalid);
    let report = VerifyReport {
        schema: VERIFY_SCHEMA,
        input: name,
        encoding: encoding.map(Encoding::name),
        at,
        results,
        outcome,
        chain_failure: match &evidence {
            Evidence::Failed(e) => Some(e.to_string()),
            _ => None,
        },
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        render_verify(ui, &report)
    };
    output::stdout(text.as_bytes())?;
    Ok(status_of(&report.results))
}

/// The exit status of a set of verdicts: from the worst outcome, with invalid split
/// into malformed or unsupported input (2) and everything else (1).
fn status_of(results: &[VerifyResult]) -> Status {
    let worst = results.iter().map(|r| r.verdict.outcome()).min();
    match worst {
        Some(Outcome::Valid) => Status::Ok,
        Some(Outcome::Unreachable) => Status::Indeterminate,
        Some(Outcome::Invalid) | None => {
            let undecodable = results.iter().any(|r| {
                matches!(
                    r.verdict.reason(),
                    Some(InvalidReason::Malformed | InvalidReason::Unsupported)
                )
            });
            if undecodable || results.is_empty() {
                Status::Malformed
            } else {
                Status::NotValid
            }
        }
        Some(Outcome::Fork | Outcome::Revoked | Outcome::Expired) => Status::NotValid,
    }
}

/// The colour of an outcome.
pub(crate) fn outcome_paint(outcome: Outcome) -> Paint {
    match outcome {
        Outcome::Valid => Paint::Green,
        Outcome::Unreachable => Paint::Yellow,
        _ => Paint::Red,
    }
}

fn render_verify(ui: &Ui, report: &VerifyReport) -> String {
    let mut out = String::new();
    for result in &report.results {
        let v = &result.verdict;
        let mut heading = ui.paint(v.outcome().name(), outcome_paint(v.outcome()));
        if let Some(reason) = v.reason() {
            heading.push_str(&format!(" ({reason})"));
        }
        out.push_str(&format!(
            "{} line {}: {heading}\n",
            report.input, result.line
        ));
        if let Some(claim) = &result.claim {
            let expires = claim
                .expires_at()
                .map_or_else(|| "never".to_string(), clock::format_time);
            let unknown = if result.unknown_members.is_empty() {
                "none".to_string()
            } else {
                result.unknown_members.join(", ")
            };
            out.push_str(&format!("  subject:  {}\n", claim.subject()));
            out.push_str(&format!("  key:      {}\n", claim.key()));
            out.push_str(&format!("  claim id: {}\n", claim.id()));
            out.push_str(&format!(
                "  created:  {}\n",
                clock::format_time(claim.created_at())
            ));
            out.push_str(&format!("  expires:  {expires}\n"));
            out.push_str(&format!(
                "  nonce:    {}\n",
                claim.nonce().unwrap_or("none")
            ));
            out.push_str(&format!("  unknown members: {unknown}\n"));
        }
        out.push_str(&format!("  outcome:  {}\n", v.outcome()));
        if let Some(reason) = v.reason() {
            out.push_str(&format!("  reason:   {reason}\n"));
        }
        out.push_str(&format!("  detail:   {}\n", v.detail()));
        match v.chain() {
            Some(c) => out.push_str(&format!(
                "  chain:    root {}, primary {}, {} links, head {}\n",
                c.root.as_deref().unwrap_or("(none as of this time)"),
                c.primary.as_deref().unwrap_or("(none)"),
                c.length,
                c.head
            )),
            None => match &report.chain_failure {
                Some(e) => out.push_str(&format!("  chain:    does not verify: {e}\n")),
                None => out.push_str("  chain:    not checked\n"),
            },
        }
    }
    let claims = report.results.len();
    out.push_str(&format!(
        "outcome: {} ({claims} claim{} checked at {})\n",
        ui.paint(report.outcome.name(), outcome_paint(report.outcome)),
        if claims == 1 { "" } else { "s" },
        clock::format_time(report.at)
    ));
    out
}
