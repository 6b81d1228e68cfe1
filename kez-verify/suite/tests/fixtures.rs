//! kez-suite against the repository's fixtures: the timed, link-by-link chain verification
//! gives exactly what `sigchain::verify_jsonl` gives on every fixture chain, and the
//! shipped suite `fixtures/suites/floor` replays without a difference.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use kez_core::sigchain::{verify_jsonl, Track};
use kez_suite::replay::{verify_chain, Timings};
use kez_suite::{signature, Suite};
use support::root;

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            jsonl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

#[test]
fn timed_chain_verification_equals_verify_jsonl_on_every_fixture_chain() {
    let mut files = Vec::new();
    jsonl_files(&root().join("fixtures/cases"), &mut files);
    assert!(files.len() > 100, "found only {} chains", files.len());
    let mut failures = 0;
    for path in &files {
        let bytes = fs::read(path).unwrap();
        for as_of in [None, Some(1_767_225_630)] {
            let mut t = Timings::default();
            let ours = verify_chain(&bytes, Track::All, as_of, &mut t);
            let theirs = verify_jsonl(&bytes, Track::All, as_of);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        (a.length(), a.head(), a.head_seq(), a.as_of()),
                        (b.length(), b.head(), b.head_seq(), b.as_of()),
                        "{}",
                        path.display()
                    );
                    assert_eq!(a.state().root(), b.state().root());
                    assert_eq!(a.state().primaries(), b.state().primaries());
                    assert_eq!(a.state().devices(), b.state().devices());
                    assert_eq!(a.state().claims(), b.state().claims());
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "{}", path.display());
                    failures += 1;
                }
                _ => panic!("{}: {ours:?} vs {theirs:?}", path.display()),
            }
        }
    }
    assert!(failures > 0, "the fixtures include failing chains");
}

#[test]
fn the_shipped_suite_replays_without_a_difference() {
    let suite_dir = root().join("fixtures/suites/floor");
    let key_file = fs::read_to_string(root().join("fixtures/suites/keys/floor-test.key")).unwrap();
    let key = key_file
        .lines()
        .find_map(|l| l.strip_prefix("# public: "))
        .unwrap();
    let key = signature::parse_key(key).unwrap();
    let suite = Suite::open(&suite_dir, Some(&key)).unwrap();
    let cases = suite.manifest().cases.len();
    let mut calls = 0;
    let report = suite.replay(|done, total| {
        calls += 1;
        assert_eq!((done, total), (calls, cases));
    });
    let differences: Vec<String> = report
        .differences()
        .map(|c| format!("{}: {:?}", c.case.id, c.observed))
        .collect();
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(report.cases.len(), cases);
    let t = report.timings;
    assert!(t.signature() <= t.total);
    let phases: std::time::Duration = t.phases().iter().map(|p| p.time).sum();
    assert!(
        phases >= t.total,
        "the phases, unattributed included, cover the total"
    );
}

#[test]
fn the_direct_jcs_writer_gives_kez_cores_bytes_for_the_shipped_manifest() {
    let bytes = fs::read(root().join("fixtures/suites/floor/manifest.json")).unwrap();
    let value = kez_core::json::parse_strict(&bytes).unwrap();
    assert_eq!(
        signature::canonical(&value).unwrap(),
        kez_core::json::canonicalize(&value).unwrap()
    );
}
