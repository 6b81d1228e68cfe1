//! The runner's behaviour with adapters that misbehave (tests/support/fake-adapter.mjs): a hung
//! adapter fails the case within the timeout and is replaced, a crash or a broken line is
//! reported with the adapter's stderr, start-up checks refuse a wrong protocol, a missing op
//! and a wrong answer to an unknown op; unsupported ops are reported as unsupported; the skip
//! and required lists gate as documented.

use kez_crosstest::adapter::{CallErrorKind, Mode, Pool};
use kez_crosstest::gate::{self, RequiredList, SkipList, Status};
use kez_crosstest::impls::Registry;
use kez_crosstest::matrix;
use kez_crosstest::run::{self, RunStatus};
use kez_crosstest::scenario::parse_file;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).expect("root")
}

const OPS: &str = r#"["hello", "claim_verify", "decode", "chain_verify", "shutdown"]"#;

fn registry(mode_args: &[&str], ops: &str) -> Registry {
    let args: Vec<String> = mode_args.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "schema = 1\n[[impl]]\nname = \"fake\"\ncommand = [\"node\", \"crosstest/runner/tests/support/fake-adapter.mjs\"{}{}]\nprotocol = 1\nops = {ops}\n",
        if args.is_empty() { "" } else { ", " },
        args.join(", ")
    );
    Registry::parse(&text, "test-impls.toml").expect("registry")
}

fn pool(mode_args: &[&str], timeout: Duration) -> Pool {
    Pool::new(
        &registry(mode_args, OPS),
        &root(),
        Mode::Persistent,
        timeout,
    )
}

#[test]
fn a_hung_adapter_times_out_and_is_replaced() {
    let p = pool(&["--hang-on=claim_verify"], Duration::from_secs(1));
    let start = Instant::now();
    let e = p
        .call("fake", "claim_verify", json!({"text": "x", "at": 0}))
        .expect_err("hangs");
    assert_eq!(e.kind, CallErrorKind::Timeout, "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert!(e.message.contains("within 1s"), "{e}");
    // The next request gets a fresh adapter.
    let r = p
        .call("fake", "chain_verify", json!({"jsonl": ""}))
        .expect("restarted");
    assert_eq!(r["status"], "ok");
    assert_eq!(p.spawn_count(), 2);
}

#[test]
fn a_crash_is_reported_with_stderr() {
    let p = pool(&["--crash-on=decode"], Duration::from_secs(10));
    let e = p
        .call("fake", "decode", json!({"text": "x"}))
        .expect_err("crashes");
    assert_eq!(e.kind, CallErrorKind::Exited, "{e}");
    assert!(e.stderr.contains("crashing on decode as asked"), "{e}");
    assert!(p.call("fake", "chain_verify", json!({"jsonl": ""})).is_ok());
}

#[test]
fn a_line_that_is_not_json_is_a_protocol_error() {
    let p = pool(&["--garbage-on=decode"], Duration::from_secs(10));
    let e = p
        .call("fake", "decode", json!({"text": "x"}))
        .expect_err("garbage");
    assert_eq!(e.kind, CallErrorKind::Protocol, "{e}");
    assert!(e.message.contains("is not JSON"), "{e}");
}

#[test]
fn start_up_checks() {
    let e = pool(&["--bad-unknown"], Duration::from_secs(10))
        .start("fake")
        .expect_err("usage for unknown op");
    assert!(
        e.contains("docs/ADAPTER.md requires error kind \"unsupported\""),
        "{e}"
    );
    let e = pool(&["--protocol=2"], Duration::from_secs(10))
        .start("fake")
        .expect_err("protocol 2");
    assert!(e.contains("speaks protocol 2"), "{e}");
    let e = pool(&["--drop-op=decode"], Duration::from_secs(10))
        .start("fake")
        .expect_err("op missing");
    assert!(
        e.contains("declares ops its hello does not list: [\"decode\"]"),
        "{e}"
    );
    let h = pool(&[], Duration::from_secs(10))
        .start("fake")
        .expect("starts");
    assert_eq!(h.name, "fake");
    // A missing requirement names the file and the fix.
    let reg = Registry::parse(
        "schema = 1\n[[impl]]\nname = \"x\"\ncommand = [\"node\"]\nprotocol = 1\nops = [\"hello\", \"shutdown\"]\nrequires = [{ path = \"no/such/dir\", hint = \"run `make x`\" }]\n",
        "t.toml",
    )
    .expect("registry");
    let e = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(5))
        .start("x")
        .expect_err("missing requirement");
    assert!(
        e.contains("no/such/dir does not exist: run `make x`"),
        "{e}"
    );
}

const SCENARIO: &str = r#"
schema = 1
description = "runner behaviour"

[[scenario]]
name = "verify"
description = "claim_verify answers valid"
matrix = { impl = "*" }
expect = { outcome = "valid" }

[[scenario.step]]
by = "$impl"
op = "claim_verify"
args = { text = "x", at = 0 }

[[scenario]]
name = "decode"
description = "decode answers malformed"
matrix = { impl = "*" }
expect = { outcome = "invalid", reason = "malformed" }

[[scenario.step]]
by = "$impl"
op = "decode"
args = { text = "x" }

[[scenario]]
name = "verify-expects-invalid"
description = "a wrong expectation fails"
matrix = { impl = "*" }
expect = { outcome = "invalid", reason = "bad_signature" }

[[scenario.step]]
by = "$impl"
op = "claim_verify"
args = { text = "x", at = 0 }

[[scenario]]
name = "check-fails"
description = "a check that does not hold fails the case"
matrix = { impl = "*" }
expect = { outcome = "valid" }

[[scenario.step]]
id = "v"
by = "$impl"
op = "claim_verify"
args = { text = "x", at = 0 }

[[scenario.check]]
name = "outcome text"
equal = ["$v.results.0.outcome", "invalid"]
"#;

fn cases(reg: &Registry) -> Vec<matrix::Case> {
    let f = parse_file(SCENARIO, "t.toml", reg).unwrap_or_else(|e| panic!("{e:?}"));
    matrix::expand(&Arc::clone(&f.scenarios[0]))
        .into_iter()
        .chain(matrix::expand(&f.scenarios[1]))
        .chain(matrix::expand(&f.scenarios[2]))
        .chain(matrix::expand(&f.scenarios[3]))
        .collect()
}

#[test]
fn a_hung_case_fails_without_hanging_the_run() {
    let reg = registry(&["--hang-on=claim_verify"], OPS);
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(1));
    let cs = cases(&reg);
    let start = Instant::now();
    let runs = run::run_all(&cs, &p, 2, |_| {});
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(runs[0].status, RunStatus::Fail);
    assert!(runs[0].message.contains("timeout"), "{}", runs[0].message);
    // The other cases still ran against a fresh adapter.
    assert_eq!(runs[1].status, RunStatus::Pass, "{}", runs[1].message);
}

#[test]
fn wrong_expectations_fail_and_name_both_sides() {
    let reg = registry(&[], OPS);
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(10));
    let cs = cases(&reg);
    let r = run::execute(&cs[2], &p);
    assert_eq!(r.status, RunStatus::Fail);
    assert_eq!(r.observed.as_deref(), Some("valid"));
    assert!(
        r.message
            .contains("expected invalid:bad_signature, found valid"),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("steps:"),
        "the transcript is shown: {}",
        r.message
    );
}

#[test]
fn a_check_that_does_not_hold_fails_and_shows_both_values() {
    let reg = registry(&[], OPS);
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(10));
    let r = run::execute(&cases(&reg)[3], &p);
    assert_eq!(r.status, RunStatus::Fail);
    assert!(
        r.message.contains("check outcome text failed")
            && r.message.contains("value 0: \"valid\"")
            && r.message.contains("value 1: \"invalid\""),
        "{}",
        r.message
    );
}

#[test]
fn unsupported_is_not_failed() {
    // Not declared in impls.toml.
    let reg = registry(
        &[],
        r#"["hello", "claim_verify", "chain_verify", "shutdown"]"#,
    );
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(10));
    let full = registry(&[], OPS);
    let cs = cases(&full);
    let r = run::execute(&cs[1], &p);
    assert_eq!(r.status, RunStatus::Unsupported, "{}", r.message);
    assert!(
        r.message.contains("fake does not declare op `decode`"),
        "{}",
        r.message
    );
    // Declared, but the adapter answers unsupported.
    let reg = registry(&["--unsupported-on=decode"], OPS);
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(10));
    let r = run::execute(&cases(&reg)[1], &p);
    assert_eq!(r.status, RunStatus::Unsupported, "{}", r.message);
}

#[test]
fn skip_and_required_lists_gate() {
    let reg = registry(&[], OPS);
    let p = Pool::new(&reg, &root(), Mode::Persistent, Duration::from_secs(10));
    let cs = cases(&reg);
    let pass = run::execute(&cs[0], &p);
    let fail = run::execute(&cs[2], &p);
    assert_eq!(
        (pass.status, fail.status),
        (RunStatus::Pass, RunStatus::Fail)
    );
    let skip = SkipList::parse(
        &format!(
            "schema = 1\n[skip]\n{:?} = \"known\"\n{:?} = \"known\"\n",
            cs[0].id, cs[2].id
        ),
        "skip.toml",
    )
    .expect("skip list");
    let none = RequiredList::default();
    // A skipped case that passes fails the run; one that still fails is reported as skipped.
    let r = gate::classify(&cs[0], &pass, &skip, &none);
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.message.contains("passes now: remove the entry"),
        "{}",
        r.message
    );
    let r = gate::classify(&cs[2], &fail, &skip, &none);
    assert_eq!(r.status, Status::Skip);
    // A required case that is skipped fails the run.
    let req = RequiredList::parse(&format!("{}\n", cs[2].id));
    let r = gate::classify(&cs[2], &fail, &skip, &req);
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.message.starts_with("required case is skip"),
        "{}",
        r.message
    );
}

#[test]
fn per_step_mode_starts_a_process_per_request() {
    let reg = registry(&[], OPS);
    let p = Pool::new(&reg, &root(), Mode::PerStep, Duration::from_secs(10));
    for _ in 0..3 {
        p.call("fake", "chain_verify", json!({"jsonl": ""}))
            .expect("answers");
    }
    assert_eq!(p.spawn_count(), 3);
}
