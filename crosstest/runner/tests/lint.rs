//! The scenario lint (docs/SCENARIOS.md): every file in crosstest/scenarios passes it, and
//! deliberately malformed scenario texts each fail with a message naming the file, the field
//! and the problem.

use kez_crosstest::impls::Registry;
use kez_crosstest::scenario::parse_file;
use kez_crosstest::{gate, Harness};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn registry() -> Registry {
    Registry::load(&root().join("crosstest/impls.toml")).expect("crosstest/impls.toml")
}

#[test]
fn every_scenario_file_passes_the_lint() {
    let h = Harness::load(&root()).expect("harness");
    let cases = h.lint().unwrap_or_else(|e| panic!("{e}"));
    // The floor alone is several hundred cases; an empty expansion would be a lint bug.
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "case ids must be unique");
}

#[test]
fn the_shipped_required_list_matches_cases() {
    let h = Harness::load(&root()).expect("harness");
    let cases = h.cases().expect("cases");
    let req =
        gate::RequiredList::load(&root().join("crosstest/required.txt")).expect("required.txt");
    assert!(!req.patterns.is_empty());
    assert_eq!(req.unmatched(&cases), Vec::<String>::new());
}

#[test]
fn case_ids_have_the_documented_form() {
    let h = Harness::load(&root()).expect("harness");
    let cases = h.cases().expect("cases");
    assert!(cases.iter().any(|c| c.id
        == "floor/claims.toml::sign-verify[producer=rust,consumer=node,alg=bip340,enc=markdown]"));
    assert!(cases
        .iter()
        .any(|c| c.id == "floor/adapter.toml::unknown-op[impl=node]"));
}

/// A small valid scenario file; the malformed texts below are edits of it.
const GOOD: &str = r#"
schema = 1
description = "a valid file"

[vars]
t0 = 1767225600

[by.alg.ed25519]
alice = { alg = "ed25519", secret = "1111111111111111111111111111111111111111111111111111111111111111" }

[by.alg.bip340]
alice = { alg = "bip340", secret = "2222222222222222222222222222222222222222222222222222222222222222" }
aux = "0000000000000000000000000000000000000000000000000000000000000000"

[matrix]
producer = "*"
consumer = "*"
alg = ["ed25519", "bip340"]

[[scenario]]
name = "s"
description = "sign and verify"
expect = { outcome = "valid" }

[[scenario.step]]
id = "claim"
by = "$producer"
op = "claim_sign"
args = { key = "$alice", subject = "github:jason", created_at = "$t0", aux = "$aux?" }

[[scenario.step]]
id = "verdict"
by = "$consumer"
op = "claim_verify"
args = { text = "$claim.claim", at = "$t0" }
"#;

/// Replace `from` (which must occur in GOOD) by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "the test edit {from:?} does not apply");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_good_text_is_good() {
    let f = parse_file(GOOD, "good.toml", &registry()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(f.scenarios.len(), 1);
    assert_eq!(f.scenarios[0].dims.len(), 3);
}

#[test]
fn json_scenario_files_are_read_too() {
    let v: toml::Table = toml::from_str(GOOD).expect("toml");
    let json = serde_json::to_string(&v).expect("json");
    let f = parse_file(&json, "good.json", &registry()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(f.scenarios[0].steps.len(), 2);
}

#[test]
fn malformed_scenarios_fail_with_clear_messages() {
    let t0 = "created_at = \"$t0\"";
    // (what is wrong, text, a substring the message must contain after "bad.toml: ")
    let cases: Vec<(&str, String, &str)> = vec![
        ("not TOML", "schema = \n".into(), "not valid TOML"),
        ("no schema", edit("schema = 1\n", ""), "schema: missing"),
        ("another schema", edit("schema = 1", "schema = 2"), "schema: expected 1, found 2"),
        ("unknown top-level field", edit("[vars]", "scenarios = 1\n[vars]"), "(top level): unknown field `scenarios`"),
        ("no description", edit("description = \"a valid file\"", ""), "(top level).description: missing"),
        ("no scenario", GOOD.split("[[scenario]]").next().unwrap_or("").to_string(), "scenario: missing"),
        ("scenario without a name", edit("name = \"s\"", ""), "scenario[0].name: missing"),
        ("name not kebab-case", edit("name = \"s\"", "name = \"Sign Verify\""), "scenario[0] (Sign Verify).name: \"Sign Verify\" must be lowercase"),
        ("no expect", edit("expect = { outcome = \"valid\" }", ""), "scenario[0] (s).expect: missing"),
        ("invalid without reason", edit("outcome = \"valid\"", "outcome = \"invalid\""), "scenario[0] (s).expect.reason: `invalid` needs a reason kind"),
        ("unknown reason", edit("outcome = \"valid\"", "outcome = \"invalid\", reason = \"bad_sig\""), "expect.reason: \"bad_sig\" is not a reason kind"),
        ("unknown outcome", edit("outcome = \"valid\"", "outcome = \"ok\""), "expect.outcome: \"ok\" is not an outcome"),
        ("acceptable without flags", edit("outcome = \"valid\"", "outcome = \"acceptable\""), "expect.flags: `acceptable` needs flags"),
        ("reason on valid", edit("outcome = \"valid\"", "outcome = \"valid\", reason = \"malformed\""), "expect.reason: only `invalid` has a reason"),
        ("unknown op", edit("op = \"claim_sign\"", "op = \"claim_sing\""), "scenario[0] (s).step[0].op: \"claim_sing\" is not an op of protocol 1"),
        ("unknown argument", edit(t0, "create_at = \"$t0\""), "step[0].args.create_at: `claim_sign` takes no argument `create_at`"),
        ("missing argument", edit(&format!(", {t0}"), ""), "step[0].args: `claim_sign` needs the argument `created_at`"),
        ("undefined reference", edit("key = \"$alice\"", "key = \"$alicee\""), "step[0].args: `$alicee` is not defined (defined here: $alg, $alice, $aux, $consumer, $producer, $t0)"),
        ("reference to a later step", edit("key = \"$alice\"", "key = \"$verdict.results\""), "step[0].args: `$verdict.results` refers to step `verdict`, which comes later"),
        ("no such member of a result", edit("text = \"$claim.claim\"", "text = \"$claim.claims\""), "step[1].args: `$claim.claims`: the result of `claim_sign` has no member \"claims\" (it has claim)"),
        ("unknown implementation", edit("by = \"$producer\"", "by = \"python\""), "step[0].by: expected an implementation of crosstest/impls.toml (rust, node)"),
        ("matrix names an unknown implementation", edit("producer = \"*\"", "producer = [\"python\"]"), "matrix.producer[0]: python is not an implementation"),
        ("unused dimension", edit("alg = [\"ed25519\", \"bip340\"]", "alg = [\"ed25519\", \"bip340\"]\nenc = [\"json\"]"), "matrix.enc: dimension `enc` is not used by any step or check"),
        ("`*` for a non-implementation dimension", edit("alg = [\"ed25519\", \"bip340\"]", "alg = \"*\""), "matrix.alg: \"*\" (every implementation) is only for the dimensions"),
        ("a value listed twice", edit("alg = [\"ed25519\", \"bip340\"]", "alg = [\"ed25519\", \"ed25519\"]"), "matrix.alg[1]: ed25519 is listed twice"),
        ("a by-variable missing for a value", edit("aux = \"$aux?\"", "aux = \"$aux\""), "step[0].args: `$aux` is not defined for alg = ed25519"),
        ("by table for a value no matrix has", edit("[by.alg.bip340]", "[by.alg.ed448]\nx = 1\n[by.alg.bip340]"), "by.alg.ed448: no scenario of this file has alg = \"ed448\""),
        ("optional reference in an array", edit("at = \"$t0\" }", "at = \"$t0\", chains = [\"$aux?\"] }"), "step[1].args.chains[0]: `$aux?`: an optional reference may only be a table member"),
        ("stray dollar sign", edit("subject = \"github:jason\"", "subject = \"github:$jason x\""), "step[0].args.subject: stray `$`"),
        ("a TOML date", edit("t0 = 1767225600", "t0 = 2026-01-01T00:00:00Z"), "vars.t0: TOML dates are not JSON values"),
        ("a reference in vars", edit("t0 = 1767225600", "t0 = \"$x\""), "vars.t0: variables hold constants"),
        ("step id that shadows a variable", edit("id = \"claim\"", "id = \"t0\""), "step[0].id: `t0` is already the name"),
        ("unknown step field", edit("id = \"verdict\"", "id = \"verdict\"\nverdcit = true"), "step[1]: unknown field `verdcit`"),
        ("op and transform", edit("id = \"verdict\"", "id = \"verdict\"\ntransform = \"truncate\""), "step[1]: a step has either `op` (an adapter call) or `transform`, not both"),
        ("unknown transform", edit("[[scenario.step]]\nid = \"verdict\"", "[[scenario.step]]\nid = \"bad\"\ntransform = \"tamper\"\ninput = \"$claim.claim\"\n\n[[scenario.step]]\nid = \"verdict\""), "step[1].transform: \"tamper\" is not a transform"),
        ("transform without its parameter", edit("[[scenario.step]]\nid = \"verdict\"", "[[scenario.step]]\nid = \"bad\"\ntransform = \"truncate\"\ninput = \"$claim.claim\"\n\n[[scenario.step]]\nid = \"verdict\""), "step[1]: truncate takes exactly one of `drop` and `keep`"),
        ("misspelt transform parameter", edit("[[scenario.step]]\nid = \"verdict\"", "[[scenario.step]]\nid = \"bad\"\ntransform = \"tamper-sig\"\ninput = \"$claim.claim\"\noffest = 3\n\n[[scenario.step]]\nid = \"verdict\""), "step[1]: unknown field `offest`"),
        ("member of a transform's output", edit("[[scenario.step]]\nid = \"verdict\"\nby = \"$consumer\"\nop = \"claim_verify\"\nargs = { text = \"$claim.claim\"", "[[scenario.step]]\nid = \"bad\"\ntransform = \"tamper-sig\"\ninput = \"$claim.claim\"\n\n[[scenario.step]]\nid = \"verdict\"\nby = \"$consumer\"\nop = \"claim_verify\"\nargs = { text = \"$bad.text\""), "step[2].args: `$bad.text`: step `bad` is a transform whose output is a string"),
        ("transform as the verdict step", format!("{GOOD}\n[[scenario.step]]\nid = \"cut\"\ntransform = \"truncate\"\ninput = \"$claim.claim\"\ndrop = 1\n"), "step[2]: the verdict step must be an adapter call"),
        ("two verdict steps", edit("id = \"claim\"", "id = \"claim\"\nverdict = true").replacen("id = \"verdict\"", "id = \"verdict\"\nverdict = true", 1), "steps [0, 1] are all marked `verdict = true`"),
        ("check of constants only", format!("{GOOD}\n[[scenario.check]]\nequal = [1, 1]\n"), "check[0].equal: compares only constants"),
        ("check with one value", format!("{GOOD}\n[[scenario.check]]\nequal = [\"$claim\"]\n"), "check[0].equal: expected an array of two or more values"),
        ("two scenarios with one name", {
            let tail = GOOD.split_once("[[scenario]]").map(|(_, t)| t).unwrap_or("");
            format!("{GOOD}\n[[scenario]]{tail}")
        }, "scenario[1] (s).name: \"s\" is used by an earlier scenario"),
        ("unknown op outside an error expectation", edit("op = \"claim_verify\"", "op = \"frobnicate\""), "step[1].op: \"frobnicate\" is not an op of protocol 1"),
    ];
    let reg = registry();
    let mut problems = Vec::new();
    let mut checked = 0usize;
    for (what, text, want) in &cases {
        checked += 1;
        match parse_file(text, "bad.toml", &reg) {
            Ok(_) => problems.push(format!(
                "{what}: accepted, expected a message containing {want:?}"
            )),
            Err(msgs) => {
                let joined = msgs.join("\n");
                let names_file = msgs.iter().all(|m| m.starts_with("bad.toml: "));
                if !names_file || !joined.contains(want) {
                    problems.push(format!("{what}:\n    want {want:?}\n    got  {joined:?}"));
                }
            }
        }
    }
    assert_eq!(checked, cases.len());
    assert!(
        problems.is_empty(),
        "{} of {checked} malformed texts were not reported as expected:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn malformed_registry_and_skip_list_are_reported() {
    let e = Registry::parse(
        "schema = 1\n[[impl]]\nname = \"x\"\ncommand = [\"x\"]\nprotocol = 1\nops = [\"hello\"]\n",
        "impls.toml",
    )
    .expect_err("missing shutdown");
    assert_eq!(
        e.to_string(),
        "impls.toml: impl[0].ops: every adapter implements `shutdown`; add it"
    );
    let e = gate::SkipList::parse("schema = 1\n[skip]\n\"x\" = 3\n", "skip.toml")
        .expect_err("reason not a string");
    assert_eq!(
        e.to_string(),
        "skip.toml: skip.\"x\": the reason must be a non-empty string"
    );
    let h = Harness::load(&root()).expect("harness");
    let cases = h.cases().expect("cases");
    let stale = gate::SkipList::parse(
        "schema = 1\n[skip]\n\"floor/nope.toml::x\" = \"why\"\n",
        "skip.toml",
    )
    .expect("parses")
    .stale_ids(&cases);
    assert_eq!(
        stale,
        vec!["crosstest/skip.toml: skip entry \"floor/nope.toml::x\" names no case".to_string()]
    );
}

#[test]
fn the_cli_lints_and_lists() {
    let bin = env!("CARGO_BIN_EXE_kez-crosstest");
    let out = std::process::Command::new(bin)
        .args(["lint", "--required", "crosstest/required.txt"])
        .current_dir(root())
        .output()
        .expect("run kez-crosstest lint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario cases, no problems"));
    let out = std::process::Command::new(bin)
        .args(["list", "--filter", "floor/adapter.toml::"])
        .current_dir(root())
        .output()
        .expect("run kez-crosstest list");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "floor/adapter.toml::unknown-op[impl=rust]\nfloor/adapter.toml::unknown-op[impl=node]\n"
    );
    // Malformed data is exit code 2 with the problem on stderr.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("crosstest/scenarios")).expect("mkdir");
    std::fs::copy(
        root().join("crosstest/impls.toml"),
        dir.path().join("crosstest/impls.toml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("crosstest/scenarios/x.toml"),
        "schema = 2\n",
    )
    .expect("write");
    let out = std::process::Command::new(bin)
        .args(["--root", &dir.path().display().to_string(), "lint"])
        .output()
        .expect("run kez-crosstest lint");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("x.toml: schema: expected 1, found 2"));
}
