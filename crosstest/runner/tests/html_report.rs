//! The HTML matrix report, rendered by headless Chromium (docs/SCENARIOS.md, "Outputs").
//!
//! The report is built from the real case list with known statuses (no adapters run), opened
//! with `chromium --headless --dump-dom`, and the rendered DOM must hold the matrix tables with
//! the expected rows, cells and status classes, plus the summary the page's inline script
//! computes — which shows the page ran in a browser, not only that it parses. A screenshot must
//! be a non-empty PNG. Chromium is required: install it with crosstest/setup.sh.

use kez_crosstest::gate::{CaseResult, Status};
use kez_crosstest::report::{self, Counts, Report};
use kez_crosstest::Harness;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str =
    "apt-get install -y --no-install-recommends chromium (or run crosstest/setup.sh)";
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> PathBuf {
    let p = std::env::var_os("KEZ_CROSSTEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    assert!(
        p.is_file(),
        "{} not found: the HTML report test needs Chromium; install it with: {INSTALL}",
        p.display()
    );
    p
}

/// Run Chromium headless with `extra` arguments and `url`; stdout, bounded by TIMEOUT.
fn run_chromium(extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium: {e}; install it with: {INSTALL}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    stdout
}

/// Every real case, with statuses assigned in a fixed pattern.
fn synthetic_results() -> (Harness, Vec<CaseResult>, BTreeMap<String, String>) {
    let h = Harness::load(&root()).expect("harness");
    let cases = h.cases().expect("cases");
    let mut descriptions = BTreeMap::new();
    let results = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            descriptions.insert(c.scenario_key(), c.scenario.description.clone());
            let status = match i % 10 {
                3 => Status::Fail,
                5 => Status::Skip,
                7 => Status::Unsupported,
                _ => Status::Pass,
            };
            CaseResult {
                id: c.id.clone(),
                file: c.scenario.file.clone(),
                scenario: c.scenario.name.clone(),
                params: c
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                status,
                expected: c.scenario.expect.to_string(),
                observed: Some("valid".into()),
                message: if status == Status::Pass {
                    String::new()
                } else {
                    format!("synthetic {status} <&> \"quoted\"")
                },
                duration_ms: 3,
                skip_reason: (status == Status::Skip).then(|| "synthetic".to_string()),
                required: false,
            }
        })
        .collect();
    (h, results, descriptions)
}

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|t| t.join("crosstest/render-check"))
        .expect("target dir")
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in the rendered DOM"));
    let rest = &s[i..];
    let j = rest
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} does not follow {start:?}"));
    &rest[..j]
}

#[test]
fn html_matrix_renders_in_headless_chromium() {
    let (h, results, descriptions) = synthetic_results();
    let counts = Counts::of(&results);
    assert!(counts.pass > 0 && counts.fail > 0 && counts.skip > 0 && counts.unsupported > 0);
    let report = Report {
        registry: &h.registry,
        hellos: BTreeMap::new(),
        results: &results,
        descriptions,
        baseline: None,
        elapsed: Duration::from_secs(1),
    };
    let dir = out_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    let page = dir.join("matrix.html");
    std::fs::write(&page, report::html(&report)).expect("write html");
    let page = std::fs::canonicalize(&page).expect("canonical path");
    let url = format!("file://{}", page.display());

    let dom = run_chromium(&["--dump-dom".to_string()], &url);

    // The inline script ran and counted what the browser laid out.
    assert!(
        dom.contains("data-rendered=\"yes\""),
        "the page's script did not run"
    );
    let rendered = between(&dom, "<p id=\"rendered-summary\">", "</p>");
    let want = format!(
        "<p id=\"rendered-summary\">{} cases rendered: {} pass, {} fail, {} skip, {} unsupported",
        counts.total(),
        counts.pass,
        counts.fail,
        counts.skip,
        counts.unsupported
    );
    assert_eq!(rendered, want);

    // The summary matrix: one row and one cell per implementation pair, each with a status class.
    let n = h.registry.impls.len();
    let summary = between(&dom, "<table class=\"matrix\" id=\"summary\">", "</table>");
    assert_eq!(summary.matches("<tr class=\"row\">").count(), n);
    assert_eq!(summary.matches("<th class=\"col\">").count(), n);
    let cells = summary.matches("<td class=\"cell ").count();
    assert_eq!(cells, n * n);
    let classed = ["pass", "fail", "skip", "unsupported"]
        .iter()
        .map(|k| summary.matches(&format!("<td class=\"cell {k}\">")).count())
        .sum::<usize>();
    assert_eq!(classed, cells, "every summary cell has a status class");
    // With a failing case in every pair, every summary cell is a fail.
    assert_eq!(summary.matches("<td class=\"cell fail\">").count(), n * n);

    // One section per scenario, one badge per case with its status class, one row per case.
    let scenarios: std::collections::BTreeSet<String> = results
        .iter()
        .map(|r| format!("{}::{}", r.file, r.scenario))
        .collect();
    assert_eq!(
        dom.matches("<section class=\"scenario\"").count(),
        scenarios.len()
    );
    for (k, want) in [
        ("pass", counts.pass),
        ("fail", counts.fail),
        ("skip", counts.skip),
        ("unsupported", counts.unsupported),
    ] {
        assert_eq!(
            dom.matches(&format!("<span class=\"case {k}\"")).count(),
            want,
            "badges of class {k}"
        );
        assert_eq!(
            dom.matches(&format!("<tr class=\"case-row {k}\"")).count(),
            want,
            "rows of class {k}"
        );
    }
    // Escaping survived the round trip through the browser.
    assert!(dom.contains("synthetic fail &lt;&amp;&gt; \"quoted\""));
    // Self-contained: nothing to fetch.
    let html = std::fs::read_to_string(&page).expect("read html");
    for needle in ["http://", "https://", "<link", "src="] {
        assert!(
            !html.contains(needle),
            "the report references an external asset ({needle})"
        );
    }

    // A screenshot is a non-empty PNG of the requested width.
    let png = dir.join("matrix.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1600".to_string(),
            "--hide-scrollbars".to_string(),
        ],
        &url,
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(
        bytes.len() > 10_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert_eq!((width, height), (1280, 1600));
}
