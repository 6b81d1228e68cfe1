//! The fixture suite: one libtest-mimic trial per case under `fixtures/cases`, named by its
//! path (`claims/tampered-signature`, `chains/in-file-fork`, `identities/31-github-cyrillic-a`),
//! with the expected verdict in the fixture, so `cargo test -p kez-core --test fixtures
//! <filter>` runs any subset.
//!
//! | file | trial | checks |
//! |---|---|---|
//! | `<group>/<name>/case.json`, kind `claim` | `<group>/<name>` | every claim found in `input` gets the expected outcome and reason |
//! | `<group>/<name>/case.json`, kind `chain` | `<group>/<name>` | the chain (or its copies) verifies with the expected length, or fails with the expected error kind |
//! | `identities.json` | `identities/<nn>-<name>` | the input normalises to `canonical`, or is rejected |
//! | `json.json` | `json/<nn>-<name>` | strict parsing and JCS give `canonical`, or reject the input |
//! | all of them | `fixtures/up-to-date` | the files equal what the generator (`tests/support`) writes |
//! | `skip.json` | `fixtures/skip-list` | every skipped id names a case |
//!
//! A claim case decodes its input with `encoding::detect` and `encoding::decode`; input that
//! does not decode at all is one `invalid` outcome (reason `unsupported` when
//! `DecodeError::is_unsupported`, else `malformed`), as is each claim that does not decode.
//! Each decoded claim is evaluated with `verdict::evaluate` at `at`, against the chain
//! verified with `verify_jsonl(…, Track::All, Some(at))` (`ChainEvidence::Failed` on error);
//! several copies are first compared pairwise with `compare_copies`. Every claim case also
//! checks that keeping claim state only for the input's claims (`Track::Claims`) gives the
//! same verdicts (SPEC.md §7.5-4), that batch and single signature verification agree on every
//! claim (§4.5-1), and that the four encoders write exactly the forms SPEC.md
//! prescribes for every claim that decodes (§6.1-2, §6.2-8, §6.3-5, §6.4-1, §6.4-5, §6.4-7).
//!
//! `KEZ_BLESS=1` rewrites the fixtures from the generator before running them. A case listed
//! in `skip.json` still runs: it must fail, and the run fails if it passes.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kez_core::claim::verify_signatures;
use kez_core::encoding::{self, compact, dns_txt, DecodeError, Encoding};
use kez_core::sigchain::{
    compare_copies, verify_jsonl, ChainError, ChainErrorKind, Digest256, JsonlLines, Track,
    VerifiedChain,
};
use kez_core::verdict::{self, ChainEvidence, Verdict};
use kez_core::{json, Claim, Identity};
use libtest_mimic::{Arguments, Failed, Trial};
use support::{Case, Expect, ExpectedOutcome, IdentityEntry, JsonEntry, Kind};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let dir = support::cases_dir();
    let bless = std::env::var_os("KEZ_BLESS").is_some_and(|v| v == "1");
    if bless {
        if let Err(message) = support::bless(&dir) {
            eprintln!("error: cannot write fixtures: {message}");
            return ExitCode::FAILURE;
        }
    }
    let skips = match load_skips(&dir) {
        Ok(skips) => skips,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut trials = Vec::new();
    let mut ids = Vec::new();
    match case_trials(&dir) {
        Ok(found) => {
            for (id, trial) in found {
                ids.push(id.clone());
                trials.push(with_skip(id, trial, &skips));
            }
        }
        Err(message) => trials.push(Trial::test("fixtures/load", move || Err(message.into()))),
    }
    for (id, trial) in table_trials(&dir) {
        ids.push(id.clone());
        trials.push(with_skip(id, trial, &skips));
    }
    if !bless {
        let up_to_date_dir = dir.clone();
        trials.push(Trial::test("fixtures/up-to-date", move || {
            support::check_up_to_date(&up_to_date_dir).map_err(Failed::from)
        }));
    }
    let unknown: Vec<String> = skips.keys().filter(|k| !ids.contains(k)).cloned().collect();
    trials.push(Trial::test("fixtures/skip-list", move || {
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "skip.json names cases that do not exist: {}",
                unknown.join(", ")
            )
            .into())
        }
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

type Check = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Wraps a check into a trial; a skipped check must fail.
fn with_skip(id: String, check: Check, skips: &BTreeMap<String, String>) -> Trial {
    let skipped = skips.get(&id).cloned();
    Trial::test(id, move || match (check(), skipped) {
        (Ok(()), None) => Ok(()),
        (Err(message), None) => Err(message.into()),
        (Ok(()), Some(reason)) => Err(format!(
            "skipped case now passes: remove it from skip.json (it was skipped because: {reason})"
        )
        .into()),
        (Err(_), Some(_)) => Ok(()),
    })
}

fn load_skips(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = dir.join(support::SKIP_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let bytes = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: expected an object mapping case ids to reasons: {e}",
            path.display()
        )
    })
}

/// One check per `case.json`, named by its directory relative to `dir`.
fn case_trials(dir: &Path) -> Result<Vec<(String, Check)>, String> {
    let mut out = Vec::new();
    for path in support::list_files(dir)? {
        let Some(id) = path.strip_suffix(&format!("/{}", support::CASE_FILE)) else {
            continue;
        };
        let case_dir = dir.join(id);
        out.push((
            id.to_string(),
            Box::new(move || run_case(&case_dir)) as Check,
        ));
    }
    if out.is_empty() {
        return Err(format!(
            "no fixture cases under {} (run with KEZ_BLESS=1 to generate them)",
            dir.display()
        ));
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn run_case(case_dir: &Path) -> Result<(), String> {
    let bytes = read(&case_dir.join(support::CASE_FILE))?;
    let case: Case =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", support::CASE_FILE))?;
    match case.kind {
        Kind::Claim => run_claim_case(case_dir, &case)?,
        Kind::Chain => run_chain_case(case_dir, &case)?,
    }
    require_ids(&case.requirements)
}

/// Every case names the SPEC.md requirements it exercises (checked by `spec_coverage`).
fn require_ids(ids: &[String]) -> Result<(), String> {
    if ids.is_empty() {
        return Err("the expected result holds, but the case lists no SPEC.md requirements".into());
    }
    Ok(())
}

/// The verdict reason as it appears on the wire.
fn observed(v: &Verdict) -> ExpectedOutcome {
    ExpectedOutcome {
        outcome: v.outcome().name().to_string(),
        reason: v.reason().map(|r| r.name().to_string()),
    }
}

fn show(outcomes: &[ExpectedOutcome]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|o| match &o.reason {
            Some(r) => format!("{} ({r})", o.outcome),
            None => o.outcome.clone(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn undecodable(e: &DecodeError, at: u64) -> Verdict {
    verdict::undecodable(e.is_unsupported(), e.to_string(), at)
}

/// Reads the chain copies, compares them pairwise, and verifies the longest as of `at`,
/// keeping claim state for `track`.
fn chain_evidence(
    case_dir: &Path,
    case: &Case,
    track: Track,
) -> Result<Option<Result<VerifiedChain, ChainError>>, String> {
    if case.chains.is_empty() {
        return Ok(None);
    }
    let copies = case
        .chains
        .iter()
        .map(|name| read(&case_dir.join(name)))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, first) in copies.iter().enumerate() {
        for second in &copies[i + 1..] {
            if let Err(e) = compare_copies(JsonlLines::new(first), JsonlLines::new(second)) {
                return Ok(Some(Err(e)));
            }
        }
    }
    let longest = copies
        .iter()
        .max_by_key(|c| c.len())
        .ok_or("no chain copies")?;
    Ok(Some(verify_jsonl(longest, track, Some(case.at))))
}

/// Every claim found in the input, or why the input as a whole does not decode.
type Decoded = Result<Vec<Result<Claim, DecodeError>>, DecodeError>;

fn decode_input(input: &[u8]) -> Decoded {
    let items = encoding::detect(input).and_then(|e| encoding::decode(input, e))?;
    Ok(items.into_iter().map(|located| located.item).collect())
}

fn evaluate_all(
    decoded: &Decoded,
    chain: &Option<Result<VerifiedChain, ChainError>>,
    at: u64,
    subject: Option<&Identity>,
) -> Vec<Verdict> {
    let evidence = match chain {
        None => ChainEvidence::NotChecked,
        Some(Ok(verified)) => ChainEvidence::Verified(verified),
        Some(Err(error)) => ChainEvidence::Failed(error),
    };
    match decoded {
        Err(e) => vec![undecodable(e, at)],
        Ok(items) => items
            .iter()
            .map(|item| match item {
                Ok(claim) => verdict::evaluate(claim, evidence, at, subject),
                Err(e) => undecodable(e, at),
            })
            .collect(),
    }
}

fn run_claim_case(case_dir: &Path, case: &Case) -> Result<(), String> {
    let Expect::Claims { outcomes: expected } = &case.expect else {
        return Err("a claim case expects {\"outcomes\": [...]}".into());
    };
    let input_name = case.input.as_ref().ok_or("a claim case names its input")?;
    let input = read(&case_dir.join(input_name))?;
    let subject = case
        .subject
        .as_deref()
        .map(Identity::parse)
        .transpose()
        .map_err(|e| format!("case subject: {e}"))?;
    let decoded = decode_input(&input);
    let chain = chain_evidence(case_dir, case, Track::All)?;
    let verdicts = evaluate_all(&decoded, &chain, case.at, subject.as_ref());
    let got: Vec<ExpectedOutcome> = verdicts.iter().map(observed).collect();
    if &got != expected {
        let details: Vec<String> = verdicts
            .iter()
            .map(|v| format!("  {}: {}", v.outcome(), v.detail()))
            .collect();
        return Err(format!(
            "expected {}, got {}\n{}",
            show(expected),
            show(&got),
            details.join("\n")
        ));
    }
    // SPEC.md §7.5-4: keeping claim state only for the claims under evaluation gives the
    // same verdicts as the full state.
    if let Ok(items) = &decoded {
        let ids: HashSet<Digest256> = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .map(|claim| claim.id())
            .collect();
        let tracked = chain_evidence(case_dir, case, Track::Claims(ids))?;
        let again: Vec<ExpectedOutcome> =
            evaluate_all(&decoded, &tracked, case.at, subject.as_ref())
                .iter()
                .map(observed)
                .collect();
        if again != got {
            return Err(format!(
                "with claim state kept only for the input's claims the verdicts are {}, with the full state {}",
                show(&again),
                show(&got)
            ));
        }
        let claims: Vec<Claim> = items
            .iter()
            .filter_map(|item| item.as_ref().ok().cloned())
            .collect();
        // SPEC.md §4.5-1: batch verification gives every claim the result single
        // verification gives it.
        for (claim, batch) in claims.iter().zip(verify_signatures(&claims)) {
            let single = claim.verify_signature();
            if batch != single {
                return Err(format!(
                    "batch verification says {batch:?}, single verification {single:?}"
                ));
            }
        }
        for claim in &claims {
            check_encoders(claim)?;
        }
    }
    Ok(())
}

/// The encoders write exactly the forms SPEC.md prescribes, for every claim a case holds:
/// JSON is the JCS form (§6.1-2); compact is `kez:z1:` and unpadded base64url of one zstd
/// frame that declares its size, uses no dictionary and inflates to the JCS form (§6.2-8);
/// Markdown is one `kez` fence (§6.3-5); DNS is 255-byte strings (§6.4-5) in one zone line
/// at `_kez.<domain>.` or `_kez` (§6.4-1, §6.4-7).
fn check_encoders(claim: &Claim) -> Result<(), String> {
    let jcs = claim.to_jcs();
    let json_text = encoding::encode(claim, Encoding::Json);
    if json_text.as_bytes() != jcs || json::canonicalize_bytes(jcs).ok().as_deref() != Some(jcs) {
        return Err(format!(
            "JSON encoder wrote {json_text:?}, not the JCS form"
        ));
    }
    let md = encoding::encode(claim, Encoding::Markdown);
    if md != format!("```kez\n{json_text}\n```\n") {
        return Err(format!("Markdown encoder wrote {md:?}"));
    }
    let text = encoding::encode(claim, Encoding::Compact);
    let payload = text
        .strip_prefix("kez:z1:")
        .ok_or_else(|| format!("compact encoder wrote {text:?}"))?;
    let frame = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| format!("compact payload is not unpadded base64url: {e}"))?;
    let declared = zstd::zstd_safe::get_frame_content_size(&frame)
        .map_err(|_| "compact payload is not a zstd frame".to_string())?;
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(&frame)
        .map_err(|_| "compact payload is not a zstd frame".to_string())?;
    let uses_dictionary = frame.get(4).is_some_and(|fhd| fhd & 3 != 0);
    if declared != Some(jcs.len() as u64) || frame_len != frame.len() || uses_dictionary {
        return Err(format!(
            "compact encoder: declared size {declared:?} for {} bytes, frame {frame_len} of {} bytes, dictionary {uses_dictionary}",
            jcs.len(),
            frame.len()
        ));
    }
    if compact::inflate(&text).as_deref() != Ok(jcs) {
        return Err("compact encoder: the frame does not inflate to the JCS form".into());
    }
    let strings = dns_txt::encode_strings(claim);
    let (last, full) = strings.split_last().ok_or("DNS encoder wrote no strings")?;
    if strings.concat() != text.as_bytes()
        || full.iter().any(|s| s.len() != 255)
        || !(1..=255).contains(&last.len())
    {
        return Err(
            "DNS encoder: strings are not the compact text cut into 255-byte pieces".into(),
        );
    }
    let owner = match claim.subject().scheme() {
        "dns" => format!("_kez.{}.", claim.subject().account()),
        _ => "_kez".to_string(),
    };
    let quoted: Vec<String> = strings
        .iter()
        .map(|s| {
            let mut q = String::from("\"");
            for &b in s {
                match b {
                    b'"' | b'\\' => {
                        q.push('\\');
                        q.push(char::from(b));
                    }
                    0x20..=0x7e => q.push(char::from(b)),
                    _ => q.push_str(&format!("\\{b:03}")),
                }
            }
            q.push('"');
            q
        })
        .collect();
    let zone = encoding::encode(claim, Encoding::Dns);
    let expected = format!("{owner} 3600 IN TXT {}\n", quoted.join(" "));
    if zone != expected {
        return Err(format!("DNS encoder wrote {zone:?}, expected {expected:?}"));
    }
    Ok(())
}

fn kind_name(kind: ChainErrorKind) -> &'static str {
    match kind {
        ChainErrorKind::Malformed => "malformed",
        ChainErrorKind::BadSignature => "bad_signature",
        ChainErrorKind::Fork => "fork",
    }
}

fn run_chain_case(case_dir: &Path, case: &Case) -> Result<(), String> {
    let result =
        chain_evidence(case_dir, case, Track::All)?.ok_or("a chain case names its chains")?;
    match (&case.expect, result) {
        (Expect::ChainOk { ok: true, length }, Ok(chain)) if chain.length() == *length => Ok(()),
        (Expect::ChainOk { ok: true, length }, Ok(chain)) => Err(format!(
            "expected a chain of {length} links, got {}",
            chain.length()
        )),
        (Expect::ChainOk { ok: true, .. }, Err(e)) => Err(format!(
            "expected the chain to verify, got {}: {e}",
            kind_name(e.kind())
        )),
        (Expect::ChainError { error_kind }, Err(e)) if kind_name(e.kind()) == error_kind => Ok(()),
        (Expect::ChainError { error_kind }, Err(e)) => Err(format!(
            "expected an error of kind {error_kind}, got {}: {e}",
            kind_name(e.kind())
        )),
        (Expect::ChainError { error_kind }, Ok(chain)) => Err(format!(
            "expected an error of kind {error_kind}, but the chain verified ({} links)",
            chain.length()
        )),
        _ => {
            Err("a chain case expects {\"ok\": true, \"length\": n} or {\"error_kind\": …}".into())
        }
    }
}

/// One check per entry of `identities.json` and `json.json`.
fn table_trials(dir: &Path) -> Vec<(String, Check)> {
    let mut out: Vec<(String, Check)> = Vec::new();
    match load_table::<IdentityEntry>(&dir.join(support::IDENTITIES_FILE)) {
        Ok(entries) => {
            for (i, entry) in entries.into_iter().enumerate() {
                let id = format!("identities/{:02}-{}", i + 1, entry.name);
                out.push((id, Box::new(move || run_identity(&entry))));
            }
        }
        Err(message) => out.push(("identities/load".into(), Box::new(move || Err(message)))),
    }
    match load_table::<JsonEntry>(&dir.join(support::JSON_FILE)) {
        Ok(entries) => {
            for (i, entry) in entries.into_iter().enumerate() {
                let id = format!("json/{:02}-{}", i + 1, entry.name);
                out.push((id, Box::new(move || run_json(&entry))));
            }
        }
        Err(message) => out.push(("json/load".into(), Box::new(move || Err(message)))),
    }
    out
}

fn load_table<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    serde_json::from_slice(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_identity(entry: &IdentityEntry) -> Result<(), String> {
    check_identity(entry)?;
    require_ids(&entry.requirements)
}

fn check_identity(entry: &IdentityEntry) -> Result<(), String> {
    match (Identity::parse(&entry.input), &entry.canonical, entry.error) {
        (Ok(id), Some(canonical), false) if &id.to_string() == canonical => {
            // The canonical form is a fixed point.
            match Identity::parse(canonical) {
                Ok(again) if &again.to_string() == canonical => Ok(()),
                other => Err(format!(
                    "canonical form {canonical:?} re-parses as {other:?}"
                )),
            }
        }
        (Ok(id), Some(canonical), false) => Err(format!(
            "{:?} normalised to {:?}, expected {canonical:?}",
            entry.input,
            id.to_string()
        )),
        (Err(e), Some(canonical), false) => Err(format!(
            "{:?} was rejected ({e}), expected {canonical:?}",
            entry.input
        )),
        (Ok(id), None, true) => Err(format!(
            "{:?} was accepted as {:?}, expected an error",
            entry.input,
            id.to_string()
        )),
        (Err(_), None, true) => Ok(()),
        _ => Err("an entry has either \"canonical\" or \"error\": true".into()),
    }
}

fn run_json(entry: &JsonEntry) -> Result<(), String> {
    check_json(entry)?;
    require_ids(&entry.requirements)
}

fn check_json(entry: &JsonEntry) -> Result<(), String> {
    let input = match (&entry.input, &entry.input_hex) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(h)) => hex::decode(h).map_err(|e| format!("input_hex: {e}"))?,
        _ => return Err("an entry has exactly one of \"input\" and \"input_hex\"".into()),
    };
    match (
        json::canonicalize_bytes(&input),
        &entry.canonical,
        entry.error,
    ) {
        (Ok(bytes), Some(canonical), false) if bytes == canonical.as_bytes() => {
            match json::canonicalize_bytes(canonical.as_bytes()) {
                Ok(again) if again == bytes => Ok(()),
                other => Err(format!("canonical form is not a fixed point: {other:?}")),
            }
        }
        (Ok(bytes), Some(canonical), false) => Err(format!(
            "canonical form {:?}, expected {canonical:?}",
            String::from_utf8_lossy(&bytes)
        )),
        (Err(e), Some(_), false) => Err(format!("rejected ({e}), expected a canonical form")),
        (Ok(bytes), None, true) => Err(format!(
            "accepted as {:?}, expected an error",
            String::from_utf8_lossy(&bytes)
        )),
        (Err(_), None, true) => Ok(()),
        _ => Err("an entry has either \"canonical\" or \"error\": true".into()),
    }
}
