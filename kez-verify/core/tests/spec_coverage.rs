//! Every SPEC.md requirement is covered by a test.
//!
//! SPEC.md tags each paragraph that carries a MUST with an id such as `[§5.4-1]`. A
//! requirement is covered when a fixture names it (`requirements` in a `case.json`, or in an
//! entry of `identities.json` or `json.json`, under `fixtures/cases`), or when the table in
//! `docs/COVERAGE.md` maps it to Rust test functions (unit tests in `src/`, the vector suite,
//! other test files). These tests fail when a requirement is covered by nothing, when
//! `docs/COVERAGE.md` names a function that no `.rs` file under `kez-verify/` defines, and when a
//! fixture or the table cites an id that SPEC.md does not define.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Normalises `§5.4-1` / `[§5.4-1]` / `5.4-1` to `§5.4-1`, if it has the shape of an id.
fn requirement_id(text: &str) -> Option<String> {
    let bare = text.trim().trim_start_matches('[').trim_end_matches(']');
    let bare = bare.strip_prefix('§').unwrap_or(bare);
    let (section, number) = bare.rsplit_once('-')?;
    let section_ok = !section.is_empty()
        && section
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    let number_ok = !number.is_empty() && number.chars().all(|c| c.is_ascii_digit());
    (section_ok && number_ok).then(|| format!("§{bare}"))
}

/// Every `[§…-n]` tag in `text`.
fn tagged_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("[§") {
        rest = &rest[start + 1..];
        if let Some(end) = rest.find(']') {
            if let Some(id) = requirement_id(&rest[..end]) {
                ids.insert(id);
            }
        }
    }
    ids
}

/// The requirement ids SPEC.md defines.
fn spec_ids() -> BTreeSet<String> {
    let path = workspace().join("SPEC.md");
    let ids = tagged_ids(&read_text(&path));
    assert!(
        !ids.is_empty(),
        "{} defines no requirement ids like [§5.4-1]",
        path.display()
    );
    ids
}

/// Requirement ids cited by fixtures, each with the fixtures that cite it.
fn fixture_citations() -> BTreeMap<String, Vec<String>> {
    let dir = workspace().join("fixtures/cases");
    let mut cited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cite = |id: &str, by: String| {
        cited.entry(id.to_string()).or_default().push(by);
    };
    let mut files = Vec::new();
    collect_files(&dir, &mut files);
    assert!(!files.is_empty(), "no fixtures under {}", dir.display());
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let rel = path
            .strip_prefix(&dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let entries: Vec<(String, Value)> = match name {
            "case.json" => {
                let case: Value = serde_json::from_str(&read_text(&path))
                    .unwrap_or_else(|e| panic!("{rel}: {e}"));
                vec![(rel.trim_end_matches("/case.json").to_string(), case)]
            }
            "identities.json" | "json.json" => {
                let table: Vec<Value> = serde_json::from_str(&read_text(&path))
                    .unwrap_or_else(|e| panic!("{rel}: {e}"));
                let group = name.trim_end_matches(".json");
                table
                    .into_iter()
                    .map(|entry| {
                        let entry_name = entry["name"].as_str().unwrap_or("?").to_string();
                        (format!("{group}/{entry_name}"), entry)
                    })
                    .collect()
            }
            _ => continue,
        };
        for (by, entry) in entries {
            let requirements = entry["requirements"]
                .as_array()
                .unwrap_or_else(|| panic!("{by}: \"requirements\" is not an array"));
            for requirement in requirements {
                let text = requirement.as_str().unwrap_or_default();
                let id = requirement_id(text)
                    .unwrap_or_else(|| panic!("{by}: {text:?} is not a requirement id"));
                cite(&id, by.clone());
            }
        }
    }
    cited
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The table of `docs/COVERAGE.md`: requirement id → test function names (in backticks).
fn coverage_table() -> BTreeMap<String, Vec<String>> {
    let path = workspace().join("docs/COVERAGE.md");
    let mut table: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in read_text(&path).lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if cells.len() < 2 {
            continue;
        }
        let ids: Vec<String> = cells[0]
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter_map(requirement_id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let names: Vec<String> = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        assert!(
            !names.is_empty(),
            "docs/COVERAGE.md: row {line:?} names no test function in backticks"
        );
        for id in ids {
            table.entry(id).or_default().extend(names.iter().cloned());
        }
    }
    table
}

/// The names of every `fn` defined in a `.rs` file under `kez-verify/` or `channels/`.
fn defined_functions() -> BTreeSet<String> {
    let mut files = Vec::new();
    collect_files(&workspace().join("kez-verify"), &mut files);
    collect_files(&workspace().join("channels"), &mut files);
    let mut names = BTreeSet::new();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let text = read_text(path);
        for (i, _) in text.match_indices("fn ") {
            let preceded_ok = i == 0
                || text[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| !c.is_alphanumeric() && c != '_');
            if !preceded_ok {
                continue;
            }
            let name: String = text[i + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_requirement_is_covered() {
    let spec = spec_ids();
    let fixtures = fixture_citations();
    let table = coverage_table();
    let uncovered: Vec<&String> = spec
        .iter()
        .filter(|id| !fixtures.contains_key(*id) && !table.contains_key(*id))
        .collect();
    assert!(
        uncovered.is_empty(),
        "{} of {} SPEC.md requirements are covered by no fixture and no row of docs/COVERAGE.md: {}",
        uncovered.len(),
        spec.len(),
        uncovered
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn fixtures_cite_only_defined_requirements() {
    let spec = spec_ids();
    let unknown: Vec<String> = fixture_citations()
        .into_iter()
        .filter(|(id, _)| !spec.contains(id))
        .map(|(id, by)| format!("{id} (cited by {})", by.join(", ")))
        .collect();
    assert!(
        unknown.is_empty(),
        "fixtures cite requirement ids SPEC.md does not define:\n  {}",
        unknown.join("\n  ")
    );
}

#[test]
fn coverage_table_cites_defined_requirements_and_existing_tests() {
    let spec = spec_ids();
    let functions = defined_functions();
    let table = coverage_table();
    let mut problems = Vec::new();
    for (id, names) in &table {
        if !spec.contains(id) {
            problems.push(format!("{id}: not defined in SPEC.md"));
        }
        for name in names {
            if !functions.contains(name) {
                problems.push(format!(
                    "{id}: no `fn {name}` in any .rs file under kez-verify/ or channels/"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/COVERAGE.md:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn requirement_ids_parse() {
    assert_eq!(requirement_id("[§5.4-1]").as_deref(), Some("§5.4-1"));
    assert_eq!(requirement_id("§7-12").as_deref(), Some("§7-12"));
    assert_eq!(requirement_id("5.4.2-3").as_deref(), Some("§5.4.2-3"));
    assert_eq!(requirement_id("§5.4"), None);
    assert_eq!(requirement_id("§5..4-1"), None);
    assert_eq!(
        tagged_ids("a [§2.1-1] b [§2.1-2] and [§ not] [x]"),
        BTreeSet::from(["§2.1-1".to_string(), "§2.1-2".to_string()])
    );
}
