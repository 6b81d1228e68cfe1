//! The `kez-channel-conformance` binary against small shell-script plugins: one that follows
//! the protocol passes; each that breaks a rule fails, naming the case; usage errors and bad
//! case files exit 2.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

const KIT: &str = env!("CARGO_BIN_EXE_kez-channel-conformance");

/// Writing a script and executing it while another thread forks can fail with ETXTBSY;
/// tests write and run under this lock.
static RUN: Mutex<()> = Mutex::new(());

/// A plugin for the scheme `shdemo`: `good` is its only account, and its lookup fetches
/// one URL. Matching is by text, so it relies on the kit's field order for requests only.
const GOOD: &str = r#"#!/bin/sh
in_lookup=0
while IFS= read -r line; do
  case "$line" in
    '{"op":"hello"'*) echo '{"kez_channel":1,"id":"shdemo","aliases":[]}' ;;
    '{"op":"normalise","account":"Good"}'|'{"op":"normalise","account":"good"}') echo '{"account":"good"}' ;;
    '{"op":"normalise","account":'*) echo '{"error":{"kind":"invalid_account","message":"only good is good"}}' ;;
    '{"op":"lookup",'*) in_lookup=1; echo '{"need":{"http":{"url":"https://good.example/proof"}}}' ;;
    '{"op":"hello"'*|*'"op":"normalise"'*|*'"op":"lookup"'*) echo '{"error":{"kind":"bad_message","message":"wrong members"}}' ;;
    '{"op":'*) echo '{"error":{"kind":"unsupported","message":"unknown op"}}' ;;
    '{"response":'*'"status":200'*)
      if [ "$in_lookup" = 1 ] && case "$line" in *'"body":"kez:z1:good"'*) true ;; *) false ;; esac; then
        echo '{"found":[{"proof":{"location":"https://good.example/proof","content":"kez:z1:good"}}],"notes":[]}'
      else
        echo '{"error":{"kind":"bad_message","message":"unexpected response"}}'
      fi
      in_lookup=0 ;;
    *) in_lookup=0; echo '{"error":{"kind":"bad_message","message":"not understood"}}' ;;
  esac
done
"#;

const CASES: &str = r#"
[plugin]
id = "shdemo"

[[normalise]]
account = "Good"
canonical = "good"

[[invalid]]
account = "bad"

[[lookup]]
name = "finds_the_proof"
identity = "shdemo:good"
expect = { found = [{ proof = { location = "https://good.example/proof", content = "kez:z1:good" } }] }
[[lookup.io]]
need = { http = { url = "https://good.example/proof" } }
response = { status = 200, body = "kez:z1:good" }
"#;

fn write(dir: &Path, name: &str, text: &str, executable: bool) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    if executable {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    path
}

/// Runs the kit on `plugin` (script text) and `cases` (TOML text).
fn kit(plugin: &str, cases: &str, extra: &[&str]) -> Output {
    let _guard = RUN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = write(dir.path(), "kez-channel-shdemo", plugin, true);
    let cases = write(dir.path(), "conformance.toml", cases, false);
    Command::new(KIT)
        .arg(&plugin)
        .arg(&cases)
        .args(["--timeout", "5", "--test-threads", "2"])
        .args(extra)
        .output()
        .expect("run the kit")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_conforming_plugin_passes_every_case() {
    let output = kit(GOOD, CASES, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for case in [
        "protocol::hello",
        "protocol::unknown_op_is_unsupported",
        "protocol::not_json_is_bad_message",
        "protocol::exits_when_stdin_closes",
        "normalise::1",
        "invalid_account::1",
        "lookup::finds_the_proof",
        "malformed_response::wrong_shape",
        "malformed_response::bad_base64",
    ] {
        assert!(
            text.contains(&format!("test {case}")),
            "{case} missing:\n{text}"
        );
    }
    assert!(text.contains("0 failed"), "{text}");
}

/// Breaks the good plugin by replacing one line, and expects exactly the named cases to fail.
fn fails(from: &str, to: &str, failing: &[&str]) {
    assert!(GOOD.contains(from), "the edit applies");
    let output = kit(&GOOD.replace(from, to), CASES, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(101), "{text}");
    for case in failing {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("test {case} ")))
            .unwrap_or_else(|| panic!("{case} missing:\n{text}"));
        assert!(line.ends_with("FAILED"), "{line}\n{text}");
    }
    let failed = text.lines().filter(|line| line.ends_with("FAILED")).count();
    assert_eq!(failed, failing.len(), "{text}");
}

#[test]
fn accepting_a_bad_account_fails_its_case() {
    fails(
        r#"echo '{"error":{"kind":"invalid_account","message":"only good is good"}}'"#,
        r#"echo '{"account":"good"}'"#,
        &["invalid_account::1"],
    );
}

#[test]
fn a_wrong_canonical_form_fails_its_case() {
    fails(
        r#"echo '{"account":"good"}' ;;"#,
        r#"echo '{"account":"Good"}' ;;"#,
        &["normalise::1"],
    );
}

#[test]
fn crashing_on_an_unknown_op_fails_its_case() {
    fails(
        r#"echo '{"error":{"kind":"unsupported","message":"unknown op"}}'"#,
        "exit 1",
        &["protocol::unknown_op_is_unsupported"],
    );
}

#[test]
fn asking_for_unscripted_io_fails_the_lookup() {
    fails(
        r#"echo '{"need":{"http":{"url":"https://good.example/proof"}}}'"#,
        r#"echo '{"need":{"http":{"url":"https://good.example/other"}}}'"#,
        &["lookup::finds_the_proof"],
    );
}

#[test]
fn returning_the_wrong_proof_fails_the_lookup() {
    fails(
        r#""content":"kez:z1:good"}}],"notes":[]}'"#,
        r#""content":"kez:z1:evil"}}],"notes":[]}'"#,
        &["lookup::finds_the_proof"],
    );
}

#[test]
fn a_plugin_that_never_answers_fails_within_the_timeout() {
    let started = std::time::Instant::now();
    let output = kit("#!/bin/sh\ncat >/dev/null\n", CASES, &["protocol::hello"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(101), "{text}");
    assert!(text.contains("did not answer hello within 5 s"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_bad_case_file_or_usage_exits_2() {
    let output = kit(
        GOOD,
        "[[normalise]]\naccount = \"x\"\ncanonical = \"x\"\n",
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("list at least one [[invalid]] case"),
        "{stderr}"
    );

    let output = kit(GOOD, &CASES.replace("expect = ", "expected = "), &[]);
    assert_eq!(output.status.code(), Some(2));

    let output = Command::new(KIT).output().expect("run the kit");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage:"));
}
