//! Snapshots of what `kez-verify` prints for a representative set of fixture cases, one
//! insta snapshot per case (`tests/snapshots/<group>/<name>.snap`), plus `demo`.
//!
//! For each case the binary runs in the case directory, with the case's evaluation time as
//! `--at` and its subject as `--subject`:
//!
//! * `claim verify` on the input, against every chain copy, in human and JSON form;
//! * `sigchain verify` on the chain copies (`--other` for the second and later) and
//!   `sigchain show` on the first, each in human and JSON form.
//!
//! Each run is recorded as its command line, exit code, stdout and stderr. Keys, ids,
//! signatures, nonces and times are redacted as in the core snapshots
//! (`kez-verify/core/tests/snapshots/redact.rs`). `cli/unreferenced` fails for any `.snap`
//! file no trial here writes. See docs/TESTING.md.

// Shared with the core snapshots; the CLI's output is text, so the JSON value pass and the
// self-check (a core trial) go unused here.
#[allow(dead_code)]
#[path = "../../core/tests/snapshots/redact.rs"]
mod redact;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

/// The fixture cases whose CLI output is snapshotted: every outcome and reason family,
/// the four encodings, several claims in one input, chain copies and chain errors.
const CASES: [&str; 24] = [
    "claims/valid-ed25519",
    "claims/valid-bip340",
    "claims/all-optional-members",
    "claims/unknown-members",
    "claims/tampered-signature",
    "claims/expired",
    "claims/wrong-subject",
    "claims/unsupported-version",
    "claims/invalid-utf8",
    "compact/valid-ed25519",
    "compact/zstd-bomb",
    "dns/several-records-with-spf",
    "markdown/three-fences-three-verdicts",
    "verdicts/bound",
    "verdicts/revoked-by-id",
    "verdicts/rotated-away",
    "verdicts/device-key",
    "verdicts/fork-copies",
    "verdicts/bad-chain-truncated",
    "verdicts/prefix-copy",
    "chains/rotate",
    "chains/three-links-bip340",
    "chains/in-file-fork",
    "chains/tampered-link-signature",
];

/// The members of `case.json` used here (`fixtures/cases/README.md`).
#[derive(Debug, Deserialize)]
struct CaseFile {
    description: String,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    chains: Vec<String>,
    at: u64,
    #[serde(default)]
    subject: Option<String>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases")
}

fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = CASES
        .iter()
        .map(|id| {
            Trial::test(format!("cli/{id}"), move || {
                snapshot_case(id).map_err(Failed::from)
            })
        })
        .collect();
    trials.push(Trial::test("cli/demo", || {
        snapshot_demo().map_err(Failed::from)
    }));
    trials.push(Trial::test("cli/unreferenced", || {
        unreferenced().map_err(Failed::from)
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// One run of the binary.
fn run(dir: &Path, args: &[String]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kez-verify"))
        .args(args)
        .current_dir(dir)
        .env_remove("KEZ_NOW")
        .env_remove("KEZ_PASSPHRASE")
        .env_remove("KEZ_SCRYPT_WORK_FACTOR")
        .env_remove("KEZ_SECRET_HEX")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run kez-verify: {e}"))?;
    let code = out
        .status
        .code()
        .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
    let stream = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        if text.is_empty() {
            "(empty)\n".to_string()
        } else if text.ends_with('\n') {
            text.into_owned()
        } else {
            format!("{text}\n(no final newline)\n")
        }
    };
    Ok(format!(
        "$ kez-verify {}\nexit code: {code}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        stream(&out.stdout),
        stream(&out.stderr)
    ))
}

fn rfc3339(t: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

/// The command lines run for a case.
fn command_lines(case: &CaseFile) -> Vec<Vec<String>> {
    let at = rfc3339(case.at);
    let mut lines = Vec::new();
    if let Some(input) = &case.input {
        let mut verify = strings(&["claim", "verify", input, "--at", &at]);
        if let Some(subject) = &case.subject {
            verify.extend(strings(&["--subject", subject]));
        }
        for chain in &case.chains {
            verify.extend(strings(&["--chain", chain]));
        }
        lines.push(verify);
    }
    if let Some((first, others)) = case.chains.split_first() {
        let mut verify = strings(&["sigchain", "verify", first]);
        for other in others {
            verify.extend(strings(&["--other", other]));
        }
        verify.extend(strings(&["--at", &at]));
        lines.push(verify);
        lines.push(strings(&["sigchain", "show", first, "--at", &at]));
    }
    lines
        .into_iter()
        .flat_map(|args| {
            let mut json = strings(&["--format", "json"]);
            json.extend(args.iter().cloned());
            [args, json]
        })
        .collect()
}

fn snapshot_case(id: &str) -> Result<(), String> {
    let dir = cases_dir().join(id);
    let case_path = dir.join("case.json");
    let bytes =
        fs::read(&case_path).map_err(|e| format!("cannot read {}: {e}", case_path.display()))?;
    let case: CaseFile =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", case_path.display()))?;
    let mut runs = Vec::new();
    for args in command_lines(&case) {
        runs.push(run(&dir, &args)?);
    }
    let text = redact::Redactor::new(Some(case.at)).text(&runs.join("\n"));
    let (group, name) = id
        .rsplit_once('/')
        .ok_or_else(|| format!("case id {id:?} has no group"))?;
    insta::with_settings!({
        snapshot_path => format!("snapshots/{group}"),
        prepend_module_to_snapshot => false,
        description => format!("kez-verify on fixtures/cases/{id}: {}", case.description),
        input_file => case_path.clone(),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
    Ok(())
}

fn snapshot_demo() -> Result<(), String> {
    let dir = std::env::temp_dir();
    let runs = [
        run(&dir, &strings(&["demo"]))?,
        run(&dir, &strings(&["--format", "json", "demo"]))?,
    ];
    let text = redact::Redactor::new(None).text(&runs.join("\n"));
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        description => "kez-verify demo: the fixed demo claim in four encodings",
        omit_expression => true,
    }, {
        insta::assert_snapshot!("demo", text);
    });
    Ok(())
}

/// Fails for every `.snap` file under `tests/snapshots` that no trial writes.
fn unreferenced() -> Result<(), String> {
    let mut expected: Vec<String> = CASES.iter().map(|id| format!("{id}.snap")).collect();
    expected.push("demo.snap".into());
    let mut stale = Vec::new();
    let root = snapshots_dir();
    let mut dirs: Vec<PathBuf> = root.is_dir().then(|| root.clone()).into_iter().collect();
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&root)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if rel.ends_with(".snap") && !expected.contains(&rel) {
                stale.push(rel);
            }
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    stale.sort();
    Err(format!(
        "{} snapshot(s) under {} are written by no trial; delete them:\n  {}",
        stale.len(),
        root.display(),
        stale.join("\n  ")
    ))
}
