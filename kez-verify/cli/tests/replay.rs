//! End-to-end tests of `kez-verify replay` and `kez-verify suite build|sign` on the
//! shipped suite `fixtures/suites/floor` and edited copies of it (docs/SUITES.md).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

fn floor() -> PathBuf {
    root().join("fixtures/suites/floor")
}

fn floor_key_file() -> PathBuf {
    root().join("fixtures/suites/keys/floor-test.key")
}

/// The public key of the floor suite's test key, from the key file's `# public:` line.
fn floor_key() -> String {
    let text = fs::read_to_string(floor_key_file()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public: "))
        .unwrap()
        .to_string()
}

/// The time `suite build` pins the floor suite at (fixtures/suites/README.md).
const FLOOR_AT: &str = "2026-01-02T00:00:00Z";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

fn kez(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_kez-verify"))
        .args(args)
        .env_remove("KEZ_PASSPHRASE")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the floor suite in a temporary folder.
fn floor_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("floor");
    copy_dir(&floor(), &suite);
    (dir, suite)
}

fn manifest(suite: &Path) -> Value {
    serde_json::from_slice(&fs::read(suite.join("manifest.json")).unwrap()).unwrap()
}

fn write_manifest(suite: &Path, manifest: &Value) {
    fs::write(
        suite.join("manifest.json"),
        serde_json::to_vec_pretty(manifest).unwrap(),
    )
    .unwrap();
}

/// Finds a case by id in a manifest.
fn case_mut<'a>(manifest: &'a mut Value, id: &str) -> &'a mut Value {
    manifest["cases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

#[test]
fn the_shipped_suite_replays_with_its_key() {
    let key = floor_key();
    let out = kez(&["replay", s(&floor()), "--key", &key]);
    out.code(0);
    assert!(
        out.stdout
            .contains(&format!("manifest signature verified ({key})")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(" 0 differ"), "{}", out.stdout);
    assert!(
        out.stdout.contains("signature verification"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_a_key_the_report_says_the_signature_was_not_checked() {
    let out = kez(&["replay", s(&floor())]);
    out.code(0);
    assert!(
        out.stdout.contains("manifest signature not checked"),
        "{}",
        out.stdout
    );
    let json = kez(&["replay", s(&floor()), "--format", "json"]);
    json.code(0);
    let report = json.json();
    assert_eq!(report["signature"]["checked"], false);
    assert_eq!(
        report["signature"]["note"],
        "manifest signature not checked"
    );
}

#[test]
fn the_shipped_suite_covers_the_scenario_floor() {
    let report = kez(&["replay", s(&floor()), "--format", "json"]).json();
    let cases = report["cases"].as_array().unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for group in [
        "claims/",
        "compact/",
        "markdown/",
        "dns/",
        "chains/",
        "verdicts/",
    ] {
        assert!(
            ids.iter().any(|id| id.starts_with(group)),
            "no {group} cases"
        );
    }
    let outcomes: Vec<&str> = cases
        .iter()
        .filter(|c| c["kind"] == "claim")
        .flat_map(|c| c["expected"].as_array().unwrap())
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    for outcome in ["valid", "invalid", "revoked", "expired", "fork"] {
        assert!(outcomes.contains(&outcome), "no {outcome} verdict");
    }
    let chain_results: Vec<&str> = cases
        .iter()
        .filter(|c| c["kind"] == "chain")
        .map(|c| c["expected"]["chain"].as_str().unwrap())
        .collect();
    for result in ["ok", "malformed", "bad_signature", "fork"] {
        assert!(chain_results.contains(&result), "no chain {result}");
    }
    // Both signature suites: claim keys in the shipped inputs.
    let text: String = fs::read_dir(floor().join("cases/claims"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(|dir| fs::read_dir(dir).unwrap())
        .map(|f| fs::read_to_string(f.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(text.contains("ed25519:"), "no Ed25519 claims");
    assert!(text.contains("bip340:"), "no BIP-340 claims");
}

#[test]
fn a_changed_expectation_exits_1_and_names_the_case() {
    let (_dir, suite) = floor_copy();
    let mut m = manifest(&suite);
    let case = case_mut(&mut m, "verdicts/bound");
    assert_eq!(case["expect"]["outcomes"][0]["outcome"], "valid");
    case["expect"]["outcomes"][0]["outcome"] = "revoked".into();
    write_manifest(&suite, &m);

    let out = kez(&["replay", s(&suite)]);
    out.code(1);
    assert!(out.stdout.contains("differences:"), "{}", out.stdout);
    let diff = &out.stdout[out.stdout.find("differences:").unwrap()..];
    assert!(diff.contains("verdicts/bound"), "{diff}");
    assert!(diff.contains("expected [revoked]"), "{diff}");
    assert!(diff.contains("got      [valid]"), "{diff}");

    let report = kez(&["replay", s(&suite), "--format", "json"]);
    report.code(1);
    let report = report.json();
    assert_eq!(report["passed"], false);
    assert_eq!(report["summary"]["differ"], 1);
    let differing: Vec<&Value> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "differ")
        .collect();
    assert_eq!(differing.len(), 1);
    assert_eq!(differing[0]["id"], "verdicts/bound");

    // The edit breaks the signature: with the key the suite is refused instead.
    let out = kez(&["replay", s(&suite), "--key", &floor_key()]);
    out.code(2);
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn a_changed_evidence_expectation_exits_1_and_names_the_case() {
    let (_dir, suite) = floor_copy();
    let mut m = manifest(&suite);
    case_mut(&mut m, "evidence/github-jason")["expect"]["outcome"] = "revoked".into();
    write_manifest(&suite, &m);
    let out = kez(&["replay", s(&suite)]);
    out.code(1);
    assert!(
        out.stdout.contains("evidence/github-jason") && out.stdout.contains("1 differ"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_tampered_file_exits_2_before_replaying() {
    let (_dir, suite) = floor_copy();
    let target = suite.join("cases/claims/valid-ed25519/claim.json");
    let mut bytes = fs::read(&target).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    fs::write(&target, bytes).unwrap();
    for args in [vec![], vec!["--key", &floor_key() as &str]] {
        let mut all = vec!["replay", s(&suite)];
        all.extend(args.iter().copied());
        let out = kez(&all);
        out.code(2);
        assert!(out.stdout.is_empty(), "nothing is replayed: {}", out.stdout);
        assert!(
            out.stderr
                .contains("cases/claims/valid-ed25519/claim.json: content changed"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("refused before replay"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn extra_and_missing_files_exit_2_and_are_all_listed() {
    let (_dir, suite) = floor_copy();
    fs::write(suite.join("cases/extra.json"), b"{}").unwrap();
    fs::remove_file(suite.join("README.md")).unwrap();
    let out = kez(&["replay", s(&suite)]);
    out.code(2);
    assert!(
        out.stderr
            .contains("cases/extra.json: present but not listed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("README.md: listed in the manifest but missing"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("2 problems"), "{}", out.stderr);
}

#[test]
fn a_wrong_or_missing_signature_exits_2() {
    let other = "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let out = kez(&["replay", s(&floor()), "--key", other]);
    out.code(2);
    assert!(
        out.stderr.contains("not the required key"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let (_dir, suite) = floor_copy();
    fs::remove_file(suite.join("manifest.json.sig")).unwrap();
    let out = kez(&["replay", s(&suite), "--key", &floor_key()]);
    out.code(2);
    assert!(
        out.stderr.contains("manifest.json.sig is missing"),
        "{}",
        out.stderr
    );
    // Without a key a missing signature is not an error.
    kez(&["replay", s(&suite)]).code(0);

    for bad in ["ed25519:1234", "bip340:00", "nonsense"] {
        kez(&["replay", s(&floor()), "--key", bad]).code(2);
    }
}

#[test]
fn path_traversal_and_unknown_case_kinds_are_refused() {
    let (_dir, suite) = floor_copy();
    let mut m = manifest(&suite);
    m["files"]["../escape.json"] = m["files"]["README.md"].clone();
    write_manifest(&suite, &m);
    let out = kez(&["replay", s(&suite)]);
    out.code(2);
    assert!(out.stderr.contains("path traversal"), "{}", out.stderr);

    let (_dir, suite) = floor_copy();
    let mut m = manifest(&suite);
    m["cases"][0]["kind"] = "nats".into();
    write_manifest(&suite, &m);
    let out = kez(&["replay", s(&suite)]);
    out.code(2);
    assert!(
        out.stderr.contains("case kind \"nats\" is not supported"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_and_junit_reports_parse() {
    let key = floor_key();
    let json = kez(&["replay", s(&floor()), "--key", &key, "--format", "json"]);
    json.code(0);
    let report = json.json();
    assert_eq!(report["schema"], "kez-verify/replay/v1");
    assert_eq!(report["passed"], true);
    assert_eq!(report["signature"]["key"], key.as_str());
    let cases = report["cases"].as_array().unwrap().len();
    assert_eq!(report["summary"]["matched"], cases);
    assert_eq!(report["suite"]["cases"], cases);
    let percent = report["timings"]["signature_percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&percent));
    let phase_ms: f64 = report["timings"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ms"].as_f64().unwrap())
        .sum();
    let total = report["timings"]["total_ms"].as_f64().unwrap();
    assert!((phase_ms - total).abs() < 0.1, "{phase_ms} vs {total}");

    let dir = tempfile::tempdir().unwrap();
    let junit_file = dir.path().join("report.xml");
    let xml = kez(&[
        "replay",
        s(&floor()),
        "--format",
        "junit",
        "--junit",
        s(&junit_file),
    ]);
    xml.code(0);
    for text in [xml.stdout.clone(), fs::read_to_string(&junit_file).unwrap()] {
        let doc = roxmltree::Document::parse(&text).unwrap();
        let suites = doc.root_element();
        assert_eq!(suites.tag_name().name(), "testsuites");
        assert_eq!(suites.attribute("tests"), Some(cases.to_string().as_str()));
        assert_eq!(suites.attribute("failures"), Some("0"));
        let testcases = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(testcases, cases);
    }
}

#[test]
fn junit_reports_carry_the_difference() {
    let (_dir, suite) = floor_copy();
    let mut m = manifest(&suite);
    case_mut(&mut m, "chains/rotate")["expect"]["length"] = 99.into();
    write_manifest(&suite, &m);
    let out = kez(&["replay", s(&suite), "--format", "junit"]);
    out.code(1);
    let doc = roxmltree::Document::parse(&out.stdout).unwrap();
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    let testcase = failures[0].parent().unwrap();
    assert_eq!(testcase.attribute("name"), Some("chains/rotate"));
    assert_eq!(testcase.attribute("classname"), Some("floor.chains"));
    assert!(failures[0]
        .attribute("message")
        .unwrap()
        .contains("expected ok (99 links), got ok (4 links)"));
}

#[test]
fn junit_is_only_for_replay() {
    let out = kez(&["demo", "--format", "junit"]);
    out.code(2);
    assert!(out
        .stderr
        .contains("--format junit applies to `replay` only"));
}

#[test]
fn suite_build_reproduces_the_shipped_suite() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("floor");
    let out = suite_build(
        &root().join("fixtures/suites/floor-evidence.json"),
        &out_dir,
        &["--sign-key", s(&floor_key_file())],
    );
    out.code(0);
    let built = listing(&out_dir);
    let shipped = listing(&floor());
    let rebuild = "the shipped suite is out of date; rebuild it as fixtures/suites/README.md says";
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        shipped.keys().collect::<Vec<_>>(),
        "{rebuild}"
    );
    for (path, bytes) in &built {
        assert!(&shipped[path] == bytes, "{path} differs: {rebuild}");
    }
    // Building again refuses to replace the folder unless asked.
    let again = kez(&[
        "suite",
        "build",
        "--from",
        s(&root().join("fixtures/cases")),
        "--out",
        s(&out_dir),
        "--at",
        FLOOR_AT,
    ]);
    again.code(2);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
}

#[test]
fn suite_build_refuses_a_packed_bundle_and_says_how_to_unpack_it() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("packed");
    fs::create_dir(&bundle).unwrap();
    let committed = root().join("fixtures/evidence/github-jason");
    let index = fs::read_to_string(committed.join("bundle.json")).unwrap();
    fs::write(
        bundle.join("bundle.json"),
        index.replacen(
            "\"kez_evidence_bundle\": 1",
            "\"kez_evidence_bundle\": 2",
            1,
        ),
    )
    .unwrap();
    let tarred = std::process::Command::new("tar")
        .arg("-cf")
        .arg(bundle.join("bodies.tar"))
        .arg("-C")
        .arg(committed.join("bodies"))
        .arg(".")
        .status()
        .unwrap();
    assert!(tarred.success());
    let list = dir.path().join("evidence.json");
    fs::write(
        &list,
        r#"{"cases": [{"id": "packed", "bundle": "packed"}]}"#,
    )
    .unwrap();
    let out = suite_build(&list, &dir.path().join("suite"), &[]);
    out.code(2);
    assert!(
        out.stderr
            .contains("bodies.tar: a packed bundle (format 2)")
            && out.stderr.contains("tar -xf bodies.tar -C bodies"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("suite").exists());
}

/// `kez-verify suite build` of the floor's cases and the evidence cases in `evidence` into
/// `out`, as of the floor's time, with `extra` arguments.
fn suite_build(evidence: &Path, out: &Path, extra: &[&str]) -> Out {
    let cases = root().join("fixtures/cases");
    let mut args = vec![
        "suite",
        "build",
        "--from",
        s(&cases),
        "--evidence",
        s(evidence),
        "--out",
        s(out),
        "--at",
        FLOOR_AT,
    ];
    args.extend_from_slice(extra);
    kez(&args)
}

/// Every file under `dir`, by relative path.
fn listing(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn suite_sign_re_signs_an_edited_suite() {
    let (dir, suite) = floor_copy();
    let key_file = dir.path().join("auditor.key");
    let created = kez(&["key", "new", "--alg", "ed25519", "--out", s(&key_file)]);
    created.code(0);
    let auditor = created.stdout.lines().next().unwrap().to_string();

    // An auditor flips an expectation and adds a note file, then re-signs.
    let mut m = manifest(&suite);
    case_mut(&mut m, "chains/rotate")["expect"]["length"] = 99.into();
    write_manifest(&suite, &m);
    fs::write(suite.join("NOTES.md"), b"edited by an auditor\n").unwrap();

    let refused = kez(&["suite", "sign", s(&suite), "--sign-key", s(&key_file)]);
    refused.code(2);
    assert!(refused.stderr.contains("NOTES.md: present but not listed"));

    kez(&[
        "suite",
        "sign",
        s(&suite),
        "--sign-key",
        s(&key_file),
        "--rehash",
    ])
    .code(0);
    let out = kez(&["replay", s(&suite), "--key", &auditor]);
    out.code(1);
    assert!(out.stdout.contains("chains/rotate"), "{}", out.stdout);
    kez(&["replay", s(&suite), "--key", &floor_key()]).code(2);
}
