//! Reports (`docs/SCENARIOS.md`, "Outputs"): a results file (JSON, schema
//! [`RESULTS_SCHEMA`]), JUnit XML, and the interop matrix — implementation × implementation ×
//! scenario — in Markdown and as one static, self-contained HTML page (inline CSS and a small
//! inline script; no external assets).

use crate::adapter::Hello;
use crate::gate::{BaselineDiff, CaseResult, Status};
use crate::impls::Registry;
use crate::Error;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `schema` member of results files.
pub const RESULTS_SCHEMA: &str = "kez-crosstest/results/v1";

/// File names written by [`write_all`].
pub const FILES: [&str; 4] = ["results.json", "junit.xml", "matrix.md", "matrix.html"];

/// What a report is made of.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The registry of the run.
    pub registry: &'a Registry,
    /// `hello` answers of the adapters that were started.
    pub hellos: BTreeMap<String, Hello>,
    /// Every case result, in case order.
    pub results: &'a [CaseResult],
    /// Scenario key (`file::name`) → description.
    pub descriptions: BTreeMap<String, String>,
    /// The baseline comparison, when one was asked for.
    pub baseline: Option<&'a BaselineDiff>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Unsupported.
    pub unsupported: usize,
    /// Skipped.
    pub skip: usize,
}

impl Counts {
    /// Count `results`.
    pub fn of<'r>(results: impl IntoIterator<Item = &'r CaseResult>) -> Self {
        let mut c = Counts::default();
        for r in results {
            match r.status {
                Status::Pass => c.pass += 1,
                Status::Fail => c.fail += 1,
                Status::Unsupported => c.unsupported += 1,
                Status::Skip => c.skip += 1,
            }
        }
        c
    }

    /// All of them.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.unsupported + self.skip
    }

    /// The status a cell of these cases shows: fail, then skip, then unsupported, then pass.
    pub fn worst(&self) -> Status {
        if self.fail > 0 {
            Status::Fail
        } else if self.skip > 0 {
            Status::Skip
        } else if self.unsupported > 0 {
            Status::Unsupported
        } else {
            Status::Pass
        }
    }
}

/// The results file.
pub fn results_json(r: &Report<'_>) -> Value {
    let c = Counts::of(r.results);
    let impls: Vec<Value> = r
        .registry
        .impls
        .iter()
        .map(|i| {
            let h = r.hellos.get(&i.name);
            json!({
                "name": i.name,
                "command": i.command,
                "protocol": i.protocol,
                "ops": i.ops,
                "hello": h.map(|h| json!({
                    "name": h.name, "version": h.version, "protocol": h.protocol,
                    "spec": h.spec, "ops": h.ops,
                })),
            })
        })
        .collect();
    let cases: Vec<Value> = r
        .results
        .iter()
        .map(|c| {
            let params: serde_json::Map<String, Value> = c
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({
                "id": c.id,
                "file": c.file,
                "scenario": c.scenario,
                "params": params,
                "status": c.status.as_str(),
                "expected": c.expected,
                "observed": c.observed,
                "message": c.message,
                "duration_ms": c.duration_ms,
                "skip_reason": c.skip_reason,
                "required": c.required,
            })
        })
        .collect();
    let baseline = r.baseline.map(|d| {
        json!({
            "fixed": d.fixed,
            "broken": d.broken.iter().map(|(id, st)| json!({"id": id, "status": st.as_str()})).collect::<Vec<_>>(),
            "new": d.new,
            "not_run": d.not_run,
        })
    });
    json!({
        "schema": RESULTS_SCHEMA,
        "elapsed_ms": u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
        "implementations": impls,
        "summary": {
            "total": c.total(), "pass": c.pass, "fail": c.fail,
            "unsupported": c.unsupported, "skip": c.skip,
        },
        "baseline": baseline,
        "cases": cases,
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `testsuite` per scenario file, one `testcase` per case.
pub fn junit_xml(r: &Report<'_>) -> String {
    let c = Counts::of(r.results);
    let mut by_file: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for res in r.results {
        by_file.entry(res.file.as_str()).or_default().push(res);
    }
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"kez-crosstest\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        c.total(),
        c.fail,
        c.skip + c.unsupported,
        r.elapsed.as_secs_f64()
    );
    for (file, cases) in by_file {
        let fc = Counts::of(cases.iter().copied());
        let secs: f64 = cases.iter().map(|c| c.duration_ms as f64 / 1000.0).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{secs:.3}\">",
            xml_escape(file),
            fc.total(),
            fc.fail,
            fc.skip + fc.unsupported
        );
        for case in cases {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&format!("{}::{}", case.file, case.scenario)),
                xml_escape(&case.id),
                case.duration_ms as f64 / 1000.0
            );
            let first = case.message.lines().next().unwrap_or("");
            match case.status {
                Status::Pass => x.push_str("/>\n"),
                Status::Fail => {
                    let _ = write!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"expected {}\">{}</failure>\n    </testcase>\n",
                        xml_escape(first),
                        xml_escape(&case.expected),
                        xml_escape(&case.message)
                    );
                }
                Status::Skip | Status::Unsupported => {
                    let _ = write!(
                        x,
                        ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>\n",
                        case.status,
                        xml_escape(first)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// One scenario's grid.
#[derive(Debug, Clone)]
pub struct Grid<'a> {
    /// `file::name`.
    pub key: String,
    /// The row dimension (`producer` or `impl`), if any.
    pub row_dim: Option<&'static str>,
    /// The column dimension (`consumer`), if any.
    pub col_dim: Option<&'static str>,
    /// Row labels, in case order.
    pub rows: Vec<String>,
    /// Column labels, in case order.
    pub cols: Vec<String>,
    /// (row, column) → cases.
    pub cells: BTreeMap<(usize, usize), Vec<&'a CaseResult>>,
}

fn param<'r>(c: &'r CaseResult, k: &str) -> Option<&'r str> {
    c.params
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

/// The other parameters of a case, for its badge in a cell.
pub fn badge(c: &CaseResult) -> String {
    let s = c
        .params
        .iter()
        .filter(|(k, _)| !crate::scenario::IMPL_DIMS.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if s.is_empty() {
        "case".into()
    } else {
        s
    }
}

/// Group results by scenario into grids: rows are producers (or `impl`), columns consumers.
pub fn grids<'a>(results: &'a [CaseResult]) -> Vec<Grid<'a>> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        let key = format!("{}::{}", r.file, r.scenario);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    let mut out = Vec::new();
    for key in order {
        let cases = groups.remove(&key).unwrap_or_default();
        let first = cases.first().copied();
        let row_dim = first.and_then(|c| {
            if param(c, "producer").is_some() {
                Some("producer")
            } else if param(c, "impl").is_some() {
                Some("impl")
            } else {
                None
            }
        });
        let col_dim = first.and_then(|c| param(c, "consumer").map(|_| "consumer"));
        let mut g = Grid {
            key,
            row_dim,
            col_dim,
            rows: Vec::new(),
            cols: Vec::new(),
            cells: BTreeMap::new(),
        };
        for c in cases {
            let rl = row_dim.and_then(|d| param(c, d)).unwrap_or("—").to_string();
            let cl = col_dim.and_then(|d| param(c, d)).unwrap_or("—").to_string();
            let ri = index_of(&mut g.rows, rl);
            let ci = index_of(&mut g.cols, cl);
            g.cells.entry((ri, ci)).or_default().push(c);
        }
        out.push(g);
    }
    out
}

fn index_of(v: &mut Vec<String>, s: String) -> usize {
    match v.iter().position(|x| *x == s) {
        Some(i) => i,
        None => {
            v.push(s);
            v.len() - 1
        }
    }
}

/// The summary grid: producer × consumer over every case that has both.
pub fn summary_grid<'a>(results: &'a [CaseResult], registry: &Registry) -> Grid<'a> {
    let names = registry.names();
    let mut g = Grid {
        key: "summary".into(),
        row_dim: Some("producer"),
        col_dim: Some("consumer"),
        rows: names.clone(),
        cols: names,
        cells: BTreeMap::new(),
    };
    for c in results {
        if let (Some(p), Some(q)) = (param(c, "producer"), param(c, "consumer")) {
            let ri = index_of(&mut g.rows, p.to_string());
            let ci = index_of(&mut g.cols, q.to_string());
            g.cells.entry((ri, ci)).or_default().push(c);
        }
    }
    g
}

fn symbol(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Skip => "⏭️",
        Status::Unsupported => "➖",
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// How an implementation introduced itself (`hello`), or that it never started.
fn hello_text(r: &Report<'_>, name: &str) -> String {
    r.hellos
        .get(name)
        .map(|h| {
            format!(
                "{} {} (protocol {}, spec {})",
                h.name, h.version, h.protocol, h.spec
            )
        })
        .unwrap_or_else(|| "not started".into())
}

/// The Markdown matrix.
pub fn markdown(r: &Report<'_>) -> String {
    let c = Counts::of(r.results);
    let mut m = String::new();
    m.push_str("# KEZ interop matrix\n\n");
    let _ = writeln!(
        m,
        "{} cases: {} pass, {} fail, {} skip, {} unsupported ({:.1} s). Rows produce, columns consume.\n",
        c.total(),
        c.pass,
        c.fail,
        c.skip,
        c.unsupported,
        r.elapsed.as_secs_f64()
    );
    m.push_str("| implementation | command | hello |\n|---|---|---|\n");
    for i in &r.registry.impls {
        let hello = hello_text(r, &i.name);
        let _ = writeln!(
            m,
            "| {} | `{}` | {} |",
            md_escape(&i.name),
            md_escape(&i.command.join(" ")),
            md_escape(&hello)
        );
    }
    if let Some(d) = r.baseline {
        let _ = write!(m, "\n```text\n{d}```\n");
    }
    m.push_str("\n## Summary (producer × consumer)\n\n");
    md_grid(&mut m, &summary_grid(r.results, r.registry), false);
    for g in grids(r.results) {
        let _ = writeln!(m, "\n## {}\n", md_escape(&g.key));
        if let Some(d) = r.descriptions.get(&g.key) {
            let _ = writeln!(m, "{}\n", md_escape(d));
        }
        md_grid(&mut m, &g, true);
    }
    let not_passing: Vec<&CaseResult> = r
        .results
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    if !not_passing.is_empty() {
        m.push_str("\n## Cases that did not pass\n\n| case | status | expected | observed | why |\n|---|---|---|---|---|\n");
        for c in not_passing {
            let _ = writeln!(
                m,
                "| `{}` | {} {} | {} | {} | {} |",
                md_escape(&c.id),
                symbol(c.status),
                c.status,
                md_escape(&c.expected),
                md_escape(c.observed.as_deref().unwrap_or("-")),
                md_escape(c.message.lines().next().unwrap_or(""))
            );
        }
    }
    m
}

fn md_grid(m: &mut String, g: &Grid<'_>, detail: bool) {
    let corner = match (g.row_dim, g.col_dim) {
        (Some(r), Some(c)) => format!("{r} ↓ / {c} →"),
        (Some(r), None) => r.to_string(),
        _ => String::new(),
    };
    let _ = write!(m, "| {corner} |");
    for c in &g.cols {
        let _ = write!(m, " {} |", md_escape(c));
    }
    m.push_str("\n|---|");
    for _ in &g.cols {
        m.push_str("---|");
    }
    m.push('\n');
    for (ri, row) in g.rows.iter().enumerate() {
        let _ = write!(m, "| **{}** |", md_escape(row));
        for ci in 0..g.cols.len() {
            match g.cells.get(&(ri, ci)) {
                None => m.push_str(" |"),
                Some(cases) => {
                    let c = Counts::of(cases.iter().copied());
                    let _ = write!(m, " {} {}/{}", symbol(c.worst()), c.pass, c.total());
                    if detail {
                        let bad: Vec<String> = cases
                            .iter()
                            .filter(|x| x.status != Status::Pass)
                            .map(|x| format!("{} {}", symbol(x.status), md_escape(&badge(x))))
                            .collect();
                        if !bad.is_empty() {
                            let _ = write!(m, "<br>{}", bad.join("<br>"));
                        }
                    }
                    m.push_str(" |");
                }
            }
        }
        m.push('\n');
    }
}

fn h(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn anchor(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

const CSS: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
td.cell { min-width: 7em; }
.pass { background: #d9f5d9; } .fail { background: #f8d0d0; }
.skip { background: #fff0c0; } .unsupported { background: #e4e4e4; }
span.case { display: inline-block; margin: 1px; padding: 0 .3em; border-radius: 3px;
  font: 11px monospace; border: 1px solid #0002; }
.count { font-weight: bold; }
code, pre { font: 12px monospace; } pre { white-space: pre-wrap; margin: 0; }
#legend span { margin-right: 1em; padding: 0 .4em; }
"#;

const SCRIPT: &str = r#"
(function () {
  var kinds = ["pass", "fail", "skip", "unsupported"];
  var n = {}, total = 0;
  kinds.forEach(function (k) {
    n[k] = document.querySelectorAll("span.case." + k).length;
    total += n[k];
  });
  var p = document.getElementById("rendered-summary");
  p.textContent = total + " cases rendered: " + n.pass + " pass, " + n.fail + " fail, " +
    n.skip + " skip, " + n.unsupported + " unsupported";
  document.body.setAttribute("data-rendered", "yes");
})();
"#;

/// The static HTML matrix: a summary grid, one grid per scenario (one badge per case), and a
/// table of every case.
pub fn html(r: &Report<'_>) -> String {
    let c = Counts::of(r.results);
    let mut x = String::new();
    x.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    x.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    x.push_str("<title>KEZ interop matrix</title>\n<style>");
    x.push_str(CSS);
    x.push_str("</style>\n</head>\n<body data-rendered=\"no\">\n<h1>KEZ interop matrix</h1>\n");
    let _ = writeln!(
        x,
        "<p id=\"summary-line\" data-total=\"{}\" data-pass=\"{}\" data-fail=\"{}\" data-skip=\"{}\" data-unsupported=\"{}\">{} cases: {} pass, {} fail, {} skip, {} unsupported ({:.1} s). Rows produce, columns consume.</p>",
        c.total(), c.pass, c.fail, c.skip, c.unsupported,
        c.total(), c.pass, c.fail, c.skip, c.unsupported, r.elapsed.as_secs_f64()
    );
    x.push_str("<p id=\"rendered-summary\">(not rendered by a browser)</p>\n");
    x.push_str("<p id=\"legend\"><span class=\"pass\">pass</span><span class=\"fail\">fail</span><span class=\"skip\">skip (known, crosstest/skip.toml)</span><span class=\"unsupported\">unsupported</span></p>\n");
    x.push_str("<table id=\"implementations\"><tr><th>implementation</th><th>command</th><th>hello</th></tr>\n");
    for i in &r.registry.impls {
        let hello = hello_text(r, &i.name);
        let _ = writeln!(
            x,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            h(&i.name),
            h(&i.command.join(" ")),
            h(&hello)
        );
    }
    x.push_str("</table>\n");
    if let Some(d) = r.baseline {
        let _ = writeln!(
            x,
            "<h2>Baseline</h2>\n<pre id=\"baseline\">{}</pre>",
            h(&d.to_string())
        );
    }
    x.push_str("<h2>Summary (producer × consumer)</h2>\n");
    html_grid(
        &mut x,
        &summary_grid(r.results, r.registry),
        "summary",
        false,
    );
    x.push_str("<h2>Scenarios</h2>\n<ul>\n");
    let gs = grids(r.results);
    for g in &gs {
        let _ = writeln!(
            x,
            "<li><a href=\"#{}\">{}</a></li>",
            anchor(&g.key),
            h(&g.key)
        );
    }
    x.push_str("</ul>\n");
    for g in &gs {
        let _ = writeln!(
            x,
            "<section class=\"scenario\" id=\"{}\">\n<h2>{}</h2>",
            anchor(&g.key),
            h(&g.key)
        );
        if let Some(d) = r.descriptions.get(&g.key) {
            let _ = writeln!(x, "<p>{}</p>", h(d));
        }
        html_grid(&mut x, g, "", true);
        x.push_str("</section>\n");
    }
    x.push_str("<h2>Every case</h2>\n<table id=\"cases\">\n<tr><th>case</th><th>status</th><th>expected</th><th>observed</th><th>details</th></tr>\n");
    for case in r.results {
        let _ = write!(
            x,
            "<tr class=\"case-row {st}\" id=\"case-{anc}\"><td><code>{id}</code></td><td>{st}</td><td>{exp}</td><td>{obs}</td><td>",
            st = case.status,
            anc = anchor(&case.id),
            id = h(&case.id),
            exp = h(&case.expected),
            obs = h(case.observed.as_deref().unwrap_or("-"))
        );
        if !case.message.is_empty() {
            let first = case.message.lines().next().unwrap_or("");
            let _ = write!(
                x,
                "<details><summary>{}</summary><pre>{}</pre></details>",
                h(first),
                h(&case.message)
            );
        }
        x.push_str("</td></tr>\n");
    }
    x.push_str("</table>\n<script>");
    x.push_str(SCRIPT);
    x.push_str("</script>\n</body>\n</html>\n");
    x
}

fn html_grid(x: &mut String, g: &Grid<'_>, id: &str, detail: bool) {
    let corner = match (g.row_dim, g.col_dim) {
        (Some(r), Some(c)) => format!("{r} ↓ / {c} →"),
        (Some(r), None) => r.to_string(),
        _ => String::new(),
    };
    if id.is_empty() {
        x.push_str("<table class=\"matrix\">\n");
    } else {
        let _ = writeln!(x, "<table class=\"matrix\" id=\"{id}\">");
    }
    let _ = write!(x, "<tr><th>{}</th>", h(&corner));
    for c in &g.cols {
        let _ = write!(x, "<th class=\"col\">{}</th>", h(c));
    }
    x.push_str("</tr>\n");
    for (ri, row) in g.rows.iter().enumerate() {
        let _ = write!(x, "<tr class=\"row\"><th class=\"rowhead\">{}</th>", h(row));
        for ci in 0..g.cols.len() {
            match g.cells.get(&(ri, ci)) {
                None => x.push_str("<td class=\"cell empty\"></td>"),
                Some(cases) => {
                    let c = Counts::of(cases.iter().copied());
                    let _ = write!(
                        x,
                        "<td class=\"cell {}\"><span class=\"count\">{}/{}</span>",
                        c.worst(),
                        c.pass,
                        c.total()
                    );
                    if detail {
                        x.push_str("<br>");
                        for case in cases {
                            let _ = write!(
                                x,
                                "<a href=\"#case-{}\"><span class=\"case {}\" title=\"{}: {}\">{}</span></a>",
                                anchor(&case.id),
                                case.status,
                                h(&case.id),
                                case.status,
                                h(&badge(case))
                            );
                        }
                    }
                    x.push_str("</td>");
                }
            }
        }
        x.push_str("</tr>\n");
    }
    x.push_str("</table>\n");
}

/// Write the four report files into `dir` (created if needed); returns their paths.
pub fn write_all(r: &Report<'_>, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let results = serde_json::to_string_pretty(&results_json(r))
        .map_err(|e| Error::Config(format!("results JSON: {e}")))?;
    let contents = [results + "\n", junit_xml(r), markdown(r), html(r)];
    let mut out = Vec::new();
    for (name, text) in FILES.iter().zip(contents) {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            h("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(xml_escape("a\u{1}b<"), "a\\u{1}b&lt;");
        assert_eq!(md_escape("a|b\nc"), "a\\|b c");
    }
}
