//! One insta snapshot per fixture case under `fixtures/cases`: what the core makes of it.
//!
//! Each `<group>/<name>/case.json` is one libtest-mimic trial named `<group>/<name>` whose
//! snapshot is `tests/snapshots/<group>/<name>.snap`, a JSON document holding
//!
//! * `input`: the detected encoding, or why the input does not decode at all;
//! * `claims`: every claim found, decoded (subject, key, times, nonce, chain hint, member
//!   names, unknown members with their values, id, size, whether the signature verifies),
//!   or why it does not decode;
//! * `chain`: the sigchain copies, their pairwise comparison, each link as parsed (chain
//!   cases), and the verified state (keys, devices, bound claims) or the error;
//! * `verdicts`: every verdict exactly as `kez_core::verdict::Verdict` serialises it.
//!
//! Keys, claim ids, link hashes, signatures and nonces are replaced by numbered
//! placeholders and times are shown relative to the case's evaluation time
//! (`snapshots/redact.rs`): the regex pass covers strings, insta selectors the time members
//! (`created_at`, `expires_at`, `at`, `as_of`).
//!
//! A missing or different snapshot fails its trial (run with `INSTA_UPDATE=no` in CI; locally
//! insta writes `<name>.snap.new` for `cargo insta review`). The trial
//! `snapshots/unreferenced` fails for any `.snap` file no fixture case produces, so a
//! removed fixture cannot leave its snapshot behind (cargo insta's `--unreferenced=reject`
//! does the same for the whole workspace). See docs/TESTING.md.

#[path = "snapshots/redact.rs"]
mod redact;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use insta::internals::{Content, ContentPath, Redaction};
use kez_core::encoding::{self, DecodeError};
use kez_core::sigchain::{
    compare_copies, verify_jsonl, ChainError, ChainErrorKind, Comparison, JsonlLines, KeyPeriod,
    Link, Track, VerifiedChain,
};
use kez_core::verdict::{self, ChainEvidence, Verdict};
use kez_core::{Claim, Identity};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The members of `case.json` this test reads (the format is described in
/// `fixtures/cases/README.md`; `tests/fixtures.rs` checks the rest).
#[derive(Debug, Deserialize)]
struct CaseFile {
    kind: String,
    description: String,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    chains: Vec<String>,
    at: u64,
    #[serde(default)]
    subject: Option<String>,
}

/// Links listed per chain copy in a snapshot, at most.
const MAX_LINKS_SHOWN: usize = 32;

/// Strings of unknown members longer than this are shortened in snapshots.
const MAX_STRING_SHOWN: usize = 80;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cases_dir() -> PathBuf {
    workspace_root().join("fixtures/cases")
}

fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    match case_ids(&cases_dir()) {
        Ok(ids) => {
            for id in &ids {
                let id = id.clone();
                trials.push(Trial::test(id.clone(), move || {
                    snapshot_case(&id).map_err(Failed::from)
                }));
            }
            trials.push(Trial::test("snapshots/unreferenced", move || {
                unreferenced(&snapshots_dir(), &ids).map_err(Failed::from)
            }));
        }
        Err(message) => trials.push(Trial::test("snapshots/load", move || {
            Err(Failed::from(message))
        })),
    }
    trials.push(Trial::test("snapshots/redaction", || {
        redact::self_check().map_err(Failed::from)
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// Every directory under `dir` that holds a `case.json`, relative, with `/`, sorted.
fn case_ids(dir: &Path) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    walk(dir, dir, &mut |rel, name| {
        if name == "case.json" {
            if let Some(parent) = rel.rsplit_once('/') {
                ids.push(parent.0.to_string());
            }
        }
    })?;
    ids.sort();
    if ids.is_empty() {
        return Err(format!("no fixture cases under {}", dir.display()));
    }
    Ok(ids)
}

/// Calls `visit(relative path, file name)` for every file under `dir`.
fn walk(root: &Path, dir: &Path, visit: &mut dyn FnMut(&str, &str)) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            walk(root, &path, visit)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let name = parts.last().cloned().unwrap_or_default();
            visit(&parts.join("/"), &name);
        }
    }
    Ok(())
}

/// Fails for every `.snap` file under `dir` that no case in `ids` writes.
fn unreferenced(dir: &Path, ids: &[String]) -> Result<(), String> {
    let mut stale = Vec::new();
    if dir.is_dir() {
        walk(dir, dir, &mut |rel, _| {
            if let Some(id) = rel.strip_suffix(".snap") {
                if !ids.iter().any(|known| known == id) {
                    stale.push(rel.to_string());
                }
            }
        })?;
    }
    if stale.is_empty() {
        return Ok(());
    }
    stale.sort();
    Err(format!(
        "{} snapshot(s) under {} belong to no fixture case; delete them:\n  {}",
        stale.len(),
        dir.display(),
        stale.join("\n  ")
    ))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Builds, redacts and snapshots the description of one case.
fn snapshot_case(id: &str) -> Result<(), String> {
    let case_dir = cases_dir().join(id);
    let case_path = case_dir.join("case.json");
    let case: CaseFile = serde_json::from_slice(&read(&case_path)?)
        .map_err(|e| format!("{}: {e}", case_path.display()))?;
    let mut doc = describe(&case_dir, &case)?;
    redact::Redactor::new(Some(case.at)).value(&mut doc);
    let (group, name) = id
        .rsplit_once('/')
        .ok_or_else(|| format!("case id {id:?} has no group"))?;
    let at = case.at;
    insta::with_settings!({
        snapshot_path => format!("snapshots/{group}"),
        prepend_module_to_snapshot => false,
        description => case.description.clone(),
        input_file => case_path.clone(),
        omit_expression => true,
    }, {
        insta::assert_json_snapshot!(name, doc, {
            ".**.at" => time_redaction(at),
            ".**.as_of" => time_redaction(at),
            ".**.created_at" => time_redaction(at),
            ".**.expires_at" => time_redaction(at),
        });
    });
    Ok(())
}

/// Shows a Unix time relative to the evaluation time `at` (times before 2001 stay).
fn time_redaction(at: u64) -> Redaction {
    insta::dynamic_redaction(
        move |value: Content, _: ContentPath<'_>| match value.as_u64() {
            Some(t) if t >= 1_000_000_000 => Content::from(redact::relative_time(t, at, "at")),
            _ => value,
        },
    )
}

/// The unredacted description of one case.
fn describe(case_dir: &Path, case: &CaseFile) -> Result<Value, String> {
    let subject = case
        .subject
        .as_deref()
        .map(Identity::parse)
        .transpose()
        .map_err(|e| format!("case subject: {e}"))?;
    let (chain_doc, evidence) = describe_chain(case_dir, case)?;
    let mut doc = Map::new();
    doc.insert("kind".into(), case.kind.clone().into());
    doc.insert("at".into(), case.at.into());
    doc.insert(
        "subject".into(),
        subject.as_ref().map(ToString::to_string).into(),
    );
    if let Some(input_name) = &case.input {
        let input = read(&case_dir.join(input_name))?;
        let (input_doc, items) = decode(&input);
        let claims: Vec<Value> = items
            .iter()
            .map(|(line, item)| match item {
                Ok(claim) => json!({"line": line, "claim": describe_claim(claim)}),
                Err(e) => json!({
                    "line": line,
                    "error": e.to_string(),
                    "unsupported": e.is_unsupported(),
                }),
            })
            .collect();
        let chain_evidence = match &evidence {
            None => ChainEvidence::NotChecked,
            Some(Ok(verified)) => ChainEvidence::Verified(verified),
            Some(Err(error)) => ChainEvidence::Failed(error),
        };
        let verdicts: Vec<Verdict> = match &input_doc {
            Err(e) => vec![verdict::undecodable(
                e.is_unsupported(),
                e.to_string(),
                case.at,
            )],
            Ok(_) => items
                .iter()
                .map(|(_, item)| match item {
                    Ok(claim) => {
                        verdict::evaluate(claim, chain_evidence, case.at, subject.as_ref())
                    }
                    Err(e) => verdict::undecodable(e.is_unsupported(), e.to_string(), case.at),
                })
                .collect(),
        };
        doc.insert(
            "input".into(),
            match input_doc {
                Ok(encoding) => json!({"file": input_name, "encoding": encoding}),
                Err(e) => json!({
                    "file": input_name,
                    "error": e.to_string(),
                    "unsupported": e.is_unsupported(),
                }),
            },
        );
        doc.insert("claims".into(), claims.into());
        doc.insert(
            "verdicts".into(),
            serde_json::to_value(&verdicts).map_err(|e| e.to_string())?,
        );
    }
    doc.insert("chain".into(), chain_doc);
    Ok(Value::Object(doc))
}

/// Every claim in `input` with its line, as the fixture runner decodes it.
type Items = Vec<(usize, Result<Claim, DecodeError>)>;

fn decode(input: &[u8]) -> (Result<&'static str, DecodeError>, Items) {
    let encoding = match encoding::detect(input) {
        Ok(e) => e,
        Err(e) => return (Err(e), Vec::new()),
    };
    match encoding::decode(input, encoding) {
        Ok(found) => (
            Ok(encoding.name()),
            found.into_iter().map(|l| (l.line, l.item)).collect(),
        ),
        Err(e) => (Err(e), Vec::new()),
    }
}

fn describe_claim(claim: &Claim) -> Value {
    let mut members: Vec<&str> = claim.as_object().keys().map(String::as_str).collect();
    members.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let unknown: Map<String, Value> = claim
        .unknown_members()
        .into_iter()
        .filter_map(|name| {
            let value = claim.as_object().get(name)?;
            Some((name.to_string(), shorten(value)))
        })
        .collect();
    json!({
        "subject": claim.subject().to_string(),
        "key": claim.key().to_string(),
        "created_at": claim.created_at(),
        "expires_at": claim.expires_at(),
        "nonce": claim.nonce(),
        "chain_hint": claim.chain_hint(),
        "members": members,
        "unknown_members": unknown,
        "id": claim.id().to_string(),
        "jcs_bytes": claim.to_jcs().len(),
        "signature": match claim.verify_signature() {
            Ok(()) => "verifies".to_string(),
            Err(e) => e.to_string(),
        },
    })
}

/// `value` with long strings cut, so that padding members do not swamp a snapshot.
fn shorten(value: &Value) -> Value {
    match value {
        Value::String(s) if s.len() > MAX_STRING_SHOWN => {
            let head: String = s.chars().take(24).collect();
            Value::String(format!("{head}… ({} bytes)", s.len()))
        }
        Value::Array(items) => items.iter().map(shorten).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), shorten(v)))
            .collect::<Map<String, Value>>()
            .into(),
        other => other.clone(),
    }
}

type Evidence = Option<Result<VerifiedChain, ChainError>>;

/// The chain copies, how they compare, and the verified chain (or the error), as the
/// fixture runner computes it: copies are compared pairwise and the first error wins,
/// else the longest copy is verified as of `at`.
fn describe_chain(case_dir: &Path, case: &CaseFile) -> Result<(Value, Evidence), String> {
    if case.chains.is_empty() {
        return Ok((Value::Null, None));
    }
    let copies = case
        .chains
        .iter()
        .map(|name| read(&case_dir.join(name)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut copy_docs = Vec::new();
    for (name, bytes) in case.chains.iter().zip(&copies) {
        let mut copy = Map::new();
        copy.insert("file".into(), name.clone().into());
        copy.insert("bytes".into(), bytes.len().into());
        if case.kind == "chain" {
            copy.insert("links".into(), describe_links(bytes));
        }
        copy_docs.push(Value::Object(copy));
    }
    let mut comparisons = Vec::new();
    let mut failure = None;
    for (i, first) in copies.iter().enumerate() {
        for (j, second) in copies.iter().enumerate().skip(i + 1) {
            let result = compare_copies(JsonlLines::new(first), JsonlLines::new(second));
            comparisons.push(json!({
                "first": case.chains[i],
                "second": case.chains[j],
                "result": match &result {
                    Ok(Comparison::Identical) => json!("identical"),
                    Ok(Comparison::FirstIsPrefix) => json!("first_is_prefix"),
                    Ok(Comparison::SecondIsPrefix) => json!("second_is_prefix"),
                    Err(e) => describe_error(e),
                },
            }));
            if let (Err(e), None) = (result, &failure) {
                failure = Some(e);
            }
        }
    }
    let evidence = match failure {
        Some(e) => Err(e),
        None => {
            let longest = copies
                .iter()
                .max_by_key(|c| c.len())
                .ok_or("no chain copies")?;
            verify_jsonl(longest, Track::All, Some(case.at))
        }
    };
    let result = match &evidence {
        Ok(chain) => json!({"ok": describe_verified(chain)}),
        Err(e) => describe_error(e),
    };
    Ok((
        json!({
            "copies": copy_docs,
            "comparisons": comparisons,
            "result": result,
        }),
        Some(evidence),
    ))
}

fn describe_error(e: &ChainError) -> Value {
    let kind = match e.kind() {
        ChainErrorKind::Malformed => "malformed",
        ChainErrorKind::BadSignature => "bad_signature",
        ChainErrorKind::Fork => "fork",
    };
    json!({"error": {"kind": kind, "message": e.to_string()}})
}

/// Each line of a chain file as parsed on its own (no chain rules applied).
fn describe_links(bytes: &[u8]) -> Value {
    let mut links = Vec::new();
    for (index, item) in JsonlLines::new(bytes).enumerate() {
        if index == MAX_LINKS_SHOWN {
            links.push(json!({"line": index + 1, "more": "…"}));
            break;
        }
        let line = index + 1;
        links.push(match item.map(Link::parse_line) {
            Ok(Ok(link)) => json!({
                "line": line,
                "seq": link.seq(),
                "op": link.op().name(),
                "signer": link.signer().to_string(),
                "created_at": link.created_at(),
                "prev": link.prev().map(|d| d.to_string()),
                "hash": link.hash().to_string(),
            }),
            Ok(Err(e)) => json!({"line": line, "error": e.to_string()}),
            Err(e) => json!({"line": line, "error": e.to_string()}),
        });
    }
    links.into()
}

fn describe_periods(periods: &[KeyPeriod]) -> Value {
    periods
        .iter()
        .map(|p| json!({"key": p.key.to_string(), "from": p.from, "until": p.until}))
        .collect()
}

fn describe_verified(chain: &VerifiedChain) -> Value {
    let state = chain.state();
    let mut claims: Vec<_> = state.claims().iter().collect();
    claims.sort_by_key(|(id, entry)| (entry.added.seq, **id));
    let claims: Vec<Value> = claims
        .into_iter()
        .map(|(id, entry)| {
            json!({
                "id": id.to_string(),
                "subject": entry.subject.to_string(),
                "added": entry.added,
                "revoked": entry.revoked,
                "revoked_by_subject": entry.revoked_by_subject,
            })
        })
        .collect();
    json!({
        "length": chain.length(),
        "head_seq": chain.head_seq(),
        "head": chain.head().to_string(),
        "as_of": chain.as_of(),
        "root": state.root().map(ToString::to_string),
        "primary": state.primary().map(ToString::to_string),
        "primaries": describe_periods(state.primaries()),
        "devices": describe_periods(state.devices()),
        "claims": claims,
    })
}
