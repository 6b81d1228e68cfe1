//! Evidence cases (docs/SUITES.md, "Evidence cases") on copies of the shipped suite
//! `fixtures/suites/floor`: its recorded bundle replays to the expected report; a tampered
//! bundle file refuses the suite; a changed expectation is a difference that names the case;
//! a bundle that lacks a request fails its case with `not_recorded` instead of panicking.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use kez_core::verdict::Outcome;
use kez_suite::evidence::ObservedEvidence;
use kez_suite::integrity;
use kez_suite::manifest::{CaseBody, EvidenceExpectation, EvidenceTarget};
use kez_suite::path::MANIFEST_FILE;
use kez_suite::replay::Observed;
use kez_suite::{Manifest, OpenError, Suite};
use serde_json::Value;
use support::root;

const CASE: &str = "evidence/github-jason";
const BUNDLE: &str = "cases/evidence/github-jason";

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the floor suite in a temporary folder.
fn floor_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("floor");
    copy_dir(&root().join("fixtures/suites/floor"), &suite);
    (dir, suite)
}

/// Rewrites the manifest's file list from the folder, as `suite sign --rehash` does.
fn rehash(suite: &Path) {
    let path = suite.join(MANIFEST_FILE);
    let mut manifest = Manifest::parse(&fs::read(&path).unwrap()).unwrap();
    manifest.files = integrity::scan(suite).unwrap();
    fs::write(&path, manifest.to_pretty_json()).unwrap();
}

fn evidence_result(report: &kez_suite::Report) -> &kez_suite::replay::CaseResult {
    report.cases.iter().find(|c| c.case.id == CASE).unwrap()
}

#[test]
fn the_floor_suite_holds_recorded_channel_evidence_that_replays_as_expected() {
    let suite = Suite::open(&root().join("fixtures/suites/floor"), None).unwrap();
    let case = suite
        .manifest()
        .cases
        .iter()
        .find(|c| c.id == CASE)
        .unwrap();
    let CaseBody::Evidence {
        bundle,
        target,
        expect,
    } = &case.body
    else {
        panic!("{CASE} is not an evidence case");
    };
    assert_eq!(bundle.as_str(), BUNDLE);
    assert!(matches!(target, EvidenceTarget::Identity(i) if i.to_string() == "github:jason"));
    assert!(matches!(expect, EvidenceExpectation::Identity(e) if e.proofs.len() == 1));
    // Every file of the bundle is pinned by the manifest like any other file.
    let pinned: Vec<&str> = suite
        .manifest()
        .bundle_files(bundle)
        .map(|(_, relative)| relative)
        .collect();
    assert!(pinned.contains(&"bundle.json"), "{pinned:?}");
    assert_eq!(pinned.len(), 4, "{pinned:?}");

    let report = suite.replay(|_, _| {});
    let result = evidence_result(&report);
    assert!(result.passed, "{:?}", result.observed);
    let Observed::Evidence(ObservedEvidence::Identity(observed)) = &result.observed else {
        panic!("{:?}", result.observed);
    };
    assert_eq!(observed.outcome, Outcome::Valid);
    assert_eq!(observed.proofs[0].verdicts[0].outcome, Outcome::Valid);
    assert!(!report.timings.evidence.is_zero());
    let json = report.to_json();
    let case = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == CASE)
        .unwrap();
    assert_eq!(case["kind"], "evidence");
    assert_eq!(case["expected"]["target"], "github:jason");
    assert_eq!(case["got"]["proofs"][0]["outcomes"][0]["outcome"], "valid");
}

#[test]
fn a_tampered_bundle_file_refuses_the_suite() {
    for file in [
        "bundle.json",
        "bodies/43c7f7ad573f0dead4b4330e6132ffeb789773eb731e84a68082ce41188a14f5",
    ] {
        let (_dir, suite) = floor_copy();
        let path = suite.join(BUNDLE).join(file);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x01;
        fs::write(&path, bytes).unwrap();
        let err = Suite::open(&suite, None).unwrap_err();
        assert_eq!(err.kind(), "integrity", "{err}");
        assert!(
            err.to_string()
                .contains(&format!("{BUNDLE}/{file}: content changed")),
            "{err}"
        );
    }
}

#[test]
fn a_changed_expectation_is_a_difference_naming_the_case() {
    let (_dir, suite) = floor_copy();
    let path = suite.join(MANIFEST_FILE);
    let mut manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let case = manifest["cases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["id"] == CASE)
        .unwrap();
    case["expect"]["proofs"][0]["outcomes"][0] =
        serde_json::json!({"outcome": "invalid", "reason": "not_bound"});
    fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let report = Suite::open(&suite, None).unwrap().replay(|_, _| {});
    assert!(!report.is_success());
    let differing: Vec<&str> = report.differences().map(|c| c.case.id.as_str()).collect();
    assert_eq!(differing, [CASE]);
    let human = report.to_human(&|t, _| t.into());
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("DIFF") && l.contains(CASE))
            && human.contains("expected valid, proofs [invalid (not_bound)]")
            && human.contains("got      valid, proofs [valid]"),
        "{human}"
    );
    assert!(report.to_junit().contains(&format!("name=\"{CASE}\"")));
}

#[test]
fn a_bundle_without_a_needed_request_fails_the_case_with_not_recorded() {
    let (_dir, suite) = floor_copy();
    let bundle = suite.join(BUNDLE);
    let index_path = bundle.join("bundle.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    // Drop the sigchain fetch (and the body only it refers to).
    let exchanges = index["exchanges"].as_array_mut().unwrap();
    let position = exchanges
        .iter()
        .position(|e| {
            e["request"]["url"]
                .as_str()
                .is_some_and(|u| u.contains("/v1/chains/"))
        })
        .unwrap();
    let removed = exchanges.remove(position);
    let body = removed["answer"]["ok"]["body_sha256"].as_str().unwrap();
    fs::remove_file(bundle.join("bodies").join(body)).unwrap();
    fs::write(&index_path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    rehash(&suite);

    let report = Suite::open(&suite, None).unwrap().replay(|_, _| {});
    let result = evidence_result(&report);
    assert!(!result.passed);
    let Observed::EvidenceFailed(failure) = &result.observed else {
        panic!("{:?}", result.observed);
    };
    assert_eq!(failure.kind, "not_recorded");
    assert!(failure.detail.contains("/v1/chains/"), "{}", failure.detail);
    assert_eq!(
        report.to_json()["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == CASE)
            .unwrap()["got"]["kind"],
        "not_recorded"
    );
    // Every other case is unaffected.
    assert_eq!(report.failed(), 1);
}

#[test]
fn a_bundle_recorded_for_another_target_fails_the_case() {
    let (_dir, suite) = floor_copy();
    let path = suite.join(MANIFEST_FILE);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        text.replace(
            "\"target\": \"github:jason\"",
            "\"target\": \"github:someone\"",
        ),
    )
    .unwrap();
    let report = Suite::open(&suite, None).unwrap().replay(|_, _| {});
    let Observed::EvidenceFailed(failure) = &evidence_result(&report).observed else {
        panic!();
    };
    assert_eq!(failure.kind, "context");
    assert!(
        failure.detail.contains("not `id github:someone`"),
        "{}",
        failure.detail
    );
}

#[test]
fn a_stray_file_in_a_bundle_folder_refuses_the_suite() {
    let (_dir, suite) = floor_copy();
    fs::write(suite.join(BUNDLE).join("notes.txt"), b"x").unwrap();
    rehash(&suite);
    let err = Suite::open(&suite, None).unwrap_err();
    assert!(matches!(err, OpenError::Manifest(_)), "{err}");
    assert!(err.to_string().contains("holds only bundle.json"), "{err}");
}
