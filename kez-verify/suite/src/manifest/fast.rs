//! A fast path for reading a plain manifest: typed deserialization with borrowed
//! strings, the JCS form written from the typed members, and the checks of
//! [`Manifest::from_value`] run on them.
//!
//! It accepts only what it can prove the strict path reads identically: every string
//! free of escapes (so its JSON text is its value and its JCS form), member names in
//! byte order with all `files` names ASCII (so byte order is JCS's UTF-16 order),
//! integers at most 2^53 - 1, claim and chain cases only, and no name that differs
//! from another only in letter case. Anything else, and any check that fails, answers
//! `None`, and the caller takes the strict path, whose verdicts and messages stand.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use kez_core::json::MAX_SAFE_INTEGER;
use kez_core::Digest256;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{check_wire_case, Manifest, WireCase, WireExpect, WireVerdict, SCHEMA, SPEC_VERSION};
use crate::path::SuitePath;

/// A member that is either absent or present with a value of type `T` (never `null`,
/// which `Option` would read as absent).
struct Present<T>(Option<T>);

impl<T> Default for Present<T> {
    fn default() -> Self {
        Present(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Present<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Present(Some(v)))
    }
}

/// A struct read only from a JSON object: derived `Deserialize` would also read a
/// struct from an array of its members' values, which the strict path does not.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// `files`: names in strictly increasing byte order, all ASCII.
struct Files<'a>(Vec<(&'a str, &'a str)>);

impl<'de: 'a, 'a> Deserialize<'de> for Files<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Files<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Files<'de>, A::Error> {
                let mut out: Vec<(&'de str, &'de str)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, v)) = map.next_entry::<&'de str, &'de str>()? {
                    if !k.is_ascii() || out.last().is_some_and(|(last, _)| *last >= k) {
                        return Err(de::Error::custom("not plain"));
                    }
                    out.push((k, v));
                }
                Ok(Files(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top<'a> {
    #[serde(borrow)]
    schema: &'a str,
    #[serde(borrow)]
    name: &'a str,
    #[serde(borrow)]
    version: &'a str,
    #[serde(borrow)]
    spec: &'a str,
    at: u64,
    #[serde(borrow)]
    files: Files<'a>,
    #[serde(borrow)]
    cases: Vec<Obj<FastCase<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastCase<'a> {
    #[serde(borrow)]
    id: &'a str,
    #[serde(borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    description: Present<&'a str>,
    #[serde(default, borrow)]
    requirements: Present<Vec<&'a str>>,
    #[serde(default, borrow)]
    input: Present<&'a str>,
    #[serde(default, borrow)]
    chains: Present<Vec<&'a str>>,
    #[serde(default, borrow)]
    subject: Present<&'a str>,
    #[serde(default)]
    at: Present<u64>,
    #[serde(borrow)]
    expect: Obj<FastExpect<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastExpect<'a> {
    #[serde(default, borrow)]
    chain: Present<&'a str>,
    #[serde(default)]
    length: Present<u64>,
    #[serde(default, borrow)]
    outcomes: Present<Vec<Obj<FastVerdict<'a>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastVerdict<'a> {
    #[serde(borrow)]
    outcome: &'a str,
    #[serde(default, borrow)]
    reason: Present<&'a str>,
}

/// A manifest read by the fast path, not yet checked.
pub(crate) struct FastManifest<'a>(Top<'a>);

/// Reads `bytes` when they are a plain manifest (see the module docs).
pub(crate) fn parse(bytes: &[u8]) -> Option<FastManifest<'_>> {
    let Obj(top): Obj<Top<'_>> = serde_json::from_slice(bytes).ok()?;
    let safe = |t: &Present<u64>| t.0.is_none_or(|t| t <= MAX_SAFE_INTEGER);
    let plain = top.at <= MAX_SAFE_INTEGER
        && top.cases.iter().all(|c| {
            (c.kind == "claim" || c.kind == "chain") && safe(&c.at) && safe(&c.expect.length)
        });
    plain.then_some(FastManifest(top))
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Escape-free by construction (borrowed from the input), and serde_json refuses raw
    // control characters in strings: the JCS form is the text between quotes.
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn integer(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

fn strings(out: &mut Vec<u8>, items: &[&str]) {
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

/// Writes `"name":` after a comma unless it is the object's first member.
fn member(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    string(out, name);
    out.push(b':');
}

impl FastManifest<'_> {
    /// The RFC 8785 form of the manifest: members in order, no whitespace.
    pub(crate) fn jcs(&self, capacity: usize) -> Vec<u8> {
        let m = &self.0;
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(b"{\"at\":");
        integer(&mut out, m.at);
        out.extend_from_slice(b",\"cases\":[");
        for (i, c) in m.cases.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let first = &mut true;
            if let Some(t) = c.at.0 {
                member(&mut out, first, "at");
                integer(&mut out, t);
            }
            if let Some(chains) = &c.chains.0 {
                member(&mut out, first, "chains");
                strings(&mut out, chains);
            }
            if let Some(d) = c.description.0 {
                member(&mut out, first, "description");
                string(&mut out, d);
            }
            member(&mut out, first, "expect");
            out.push(b'{');
            let efirst = &mut true;
            if let Some(chain) = c.expect.chain.0 {
                member(&mut out, efirst, "chain");
                string(&mut out, chain);
            }
            if let Some(length) = c.expect.length.0 {
                member(&mut out, efirst, "length");
                integer(&mut out, length);
            }
            if let Some(outcomes) = &c.expect.outcomes.0 {
                member(&mut out, efirst, "outcomes");
                out.push(b'[');
                for (j, v) in outcomes.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"outcome\":");
                    string(&mut out, v.outcome);
                    if let Some(reason) = v.reason.0 {
                        out.extend_from_slice(b",\"reason\":");
                        string(&mut out, reason);
                    }
                    out.push(b'}');
                }
                out.push(b']');
            }
            out.push(b'}');
            member(&mut out, first, "id");
            string(&mut out, c.id);
            if let Some(input) = c.input.0 {
                member(&mut out, first, "input");
                string(&mut out, input);
            }
            member(&mut out, first, "kind");
            string(&mut out, c.kind);
            if let Some(r) = &c.requirements.0 {
                member(&mut out, first, "requirements");
                strings(&mut out, r);
            }
            if let Some(s) = c.subject.0 {
                member(&mut out, first, "subject");
                string(&mut out, s);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"files\":{");
        for (i, (k, v)) in m.files.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(&mut out, k);
            out.push(b':');
            string(&mut out, v);
        }
        out.extend_from_slice(b"},\"name\":");
        string(&mut out, m.name);
        out.extend_from_slice(b",\"schema\":");
        string(&mut out, m.schema);
        out.extend_from_slice(b",\"spec\":");
        string(&mut out, m.spec);
        out.extend_from_slice(b",\"version\":");
        string(&mut out, m.version);
        out.push(b'}');
        out
    }

    /// The checked manifest, or `None` when any check fails or needs the strict path
    /// (letter case folding) to word its error.
    pub(crate) fn check(self) -> Option<Manifest> {
        let m = self.0;
        let text_ok = |s: &str, max: usize| !s.is_empty() && s.len() <= max;
        if m.schema != SCHEMA
            || m.spec != SPEC_VERSION
            || !text_ok(m.name, 128)
            || !text_ok(m.version, 64)
        {
            return None;
        }
        if m.files
            .0
            .iter()
            .any(|(k, _)| k.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return None;
        }
        let mut files = Vec::with_capacity(m.files.0.len());
        for (k, d) in &m.files.0 {
            files.push((SuitePath::parse(k).ok()?, Digest256::parse(d)?));
        }
        // Names are strictly increasing, and `SuitePath` orders as its text.
        let files: BTreeMap<SuitePath, Digest256> = files.into_iter().collect();
        if files.len() != m.files.0.len() {
            return None;
        }
        let mut cases = Vec::with_capacity(m.cases.len());
        let mut ids = HashSet::with_capacity(m.cases.len());
        for (i, Obj(c)) in m.cases.into_iter().enumerate() {
            let Obj(expect) = c.expect;
            let own = |s: Option<&str>| s.map(str::to_owned);
            let owns = |v: Option<Vec<&str>>| {
                v.unwrap_or_default()
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            let wire = WireCase {
                id: c.id.to_owned(),
                kind: c.kind.to_owned(),
                description: own(c.description.0),
                requirements: owns(c.requirements.0),
                input: own(c.input.0),
                chains: owns(c.chains.0),
                subject: own(c.subject.0),
                bundle: None,
                target: None,
                at: c.at.0,
                expect: WireExpect {
                    outcomes: expect.outcomes.0.map(|o| {
                        o.into_iter()
                            .map(|Obj(v)| WireVerdict {
                                outcome: v.outcome.to_owned(),
                                reason: own(v.reason.0),
                            })
                            .collect()
                    }),
                    chain: own(expect.chain.0),
                    length: expect.length.0,
                    outcome: None,
                    reason: None,
                    proofs: None,
                    rejected: None,
                    identities: None,
                },
            };
            if !ids.insert(c.id) {
                return None;
            }
            cases.push(check_wire_case(i, wire, &files).ok()?);
        }
        Some(Manifest {
            name: m.name.to_owned(),
            version: m.version.to_owned(),
            at: m.at,
            files,
            cases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kez_core::json;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn text(extra_case: &str) -> String {
        format!(
            r#"{{"schema": "kez-suite/v1", "name": "t", "version": "1", "spec": "{SPEC_VERSION}",
            "at": 1767312000,
            "files": {{ "c/chain.jsonl": "{DIGEST}", "c/claim.json": "{DIGEST}" }},
            "cases": [
              {{ "kind": "claim", "id": "c", "input": "c/claim.json", "chains": ["c/chain.jsonl"],
                "subject": "github:jason", "at": 5, "description": "é ∑ ~", "requirements": [],
                "expect": {{ "outcomes": [ {{ "outcome": "valid" }},
                                           {{ "reason": "bad_signature", "outcome": "invalid" }} ] }} }},
              {{ "id": "d", "kind": "chain", "chains": ["c/chain.jsonl"],
                "expect": {{ "length": 3, "chain": "ok" }} }}{extra_case}
            ]}}"#
        )
    }

    /// The fast path's JCS form and manifest, checked against the strict path's.
    fn agrees(text: &str) -> bool {
        let bytes = text.as_bytes();
        let Some(fast) = parse(bytes) else {
            return false;
        };
        let value = json::parse_strict(bytes).unwrap();
        assert_eq!(
            String::from_utf8(fast.jcs(0)).unwrap(),
            String::from_utf8(json::canonicalize(&value).unwrap()).unwrap()
        );
        let checked = fast.check();
        assert_eq!(checked, Manifest::from_value(value).ok());
        checked.is_some()
    }

    #[test]
    fn the_fast_path_agrees_with_the_strict_path() {
        assert!(agrees(&text("")));
        assert!(agrees(&text(
            r#", { "id": "e", "kind": "chain", "chains": ["c/claim.json", "c/chain.jsonl"], "at": 0, "expect": { "chain": "fork" } }"#
        )));
        // A chain case without chains is refused by both.
        assert!(!agrees(&text(
            r#", { "id": "e", "kind": "chain", "chains": [], "expect": { "chain": "fork" } }"#
        )));
        // Checks that fail answer `None`, for the strict path to word.
        assert!(!agrees(&text(
            r#", { "id": "d", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" } }"#
        )));
    }

    #[test]
    fn anything_unusual_takes_the_strict_path() {
        for extra in [
            r#", { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" }, "at": null }"#,
            r#", { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" }, "id": "f" }"#,
            r#", { "id": "e\u0041", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" } }"#,
            r#", { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" }, "at": 9007199254740992 }"#,
            r#", { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" }, "at": 1.0 }"#,
            r#", { "id": "e", "kind": "evidence", "bundle": "c", "target": "github:jason", "expect": { "outcome": "valid" } }"#,
            r#", { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"], "expect": { "chain": "fork" }, "x": 1 }"#,
        ] {
            assert!(parse(text(extra).as_bytes()).is_none(), "{extra}");
        }
        let unsorted = text("").replace(
            r#""c/chain.jsonl": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "c/claim.json""#,
            r#""c/claim.json": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "c/chain.jsonl""#,
        );
        assert!(parse(unsorted.as_bytes()).is_none());
        // Derived `Deserialize` reads a struct from an array of its values; the fast
        // path must not, whatever the object holds.
        let verdict_array = text("").replace(r#"{ "outcome": "valid" }"#, r#"["valid"]"#);
        assert!(parse(verdict_array.as_bytes()).is_none());
        let expect_array =
            text("").replace(r#"{ "length": 3, "chain": "ok" }"#, r#"["ok", 3, null]"#);
        assert!(parse(expect_array.as_bytes()).is_none());
        let case_array = text(r#", ["e", "chain"]"#);
        assert!(parse(case_array.as_bytes()).is_none());
        let top_array = format!(r#"["kez-suite/v1", "t", "1", "{SPEC_VERSION}", 5, {{}}, []]"#);
        assert!(json::parse_strict(top_array.as_bytes()).is_ok());
        assert!(parse(top_array.as_bytes()).is_none());
        let upper = text("").replace("c/claim.json", "c/Claim.json");
        assert!(!agrees(&upper));
    }
}
