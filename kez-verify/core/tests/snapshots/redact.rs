//! Redaction for snapshot tests, shared by `kez-core/tests/snapshots.rs` and
//! `kez-verify/tests/snapshots.rs` (included with `#[path]`).
//!
//! Snapshots must not churn when a fixture key, signature or time changes, yet they should
//! still show which key is which. So every sensitive token is replaced by a placeholder
//! numbered in order of first appearance within one snapshot:
//!
//! | token | placeholder |
//! |---|---|
//! | `ed25519:<64 hex>`, `bip340:<64 hex>`, `npub1…` | `ed25519:[key-1]`, `bip340:[key-2]`, `npub1[key-2]` (an npub shares the number of its `bip340:` form) |
//! | `sha256:<64 hex>` (claim ids, link hashes) | `sha256:[digest-1]` |
//! | 128 lowercase hex (signatures) | `[sig-1]` |
//! | other 64 lowercase hex | `[hex-1]` |
//! | a nonce (`nonce` member, or after `nonce:` in text) | `[nonce-1]` |
//!
//! Times are shown relative to a reference time, usually the evaluation time: a Unix time of
//! ten digits or an RFC 3339 UTC time `2026-01-01T00:00:00Z` becomes `[at]`, `[at-1d]` or
//! `[at+5m1s]`. Without a reference the first time seen is `[t0]`. Times before 2001
//! (fewer than ten digits) are not real times in the fixtures (`created_at: 0` of an
//! undecodable input) and stay as they are.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// The kinds of numbered placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    Key,
    Digest,
    Sig,
    Hex,
    Nonce,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Key => "key",
            Class::Digest => "digest",
            Class::Sig => "sig",
            Class::Hex => "hex",
            Class::Nonce => "nonce",
        }
    }
}

/// One pass over text finds every token, leftmost first, so numbering follows the text.
fn pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(concat!(
            r"(?P<key>\b(?:ed25519|bip340):[0-9a-f]{64})\b",
            r"|(?P<digest>\bsha256:[0-9a-f]{64})\b",
            r"|\b(?P<npub>npub1[02-9ac-hj-np-z]{58})\b",
            r"|\b(?P<sig>[0-9a-f]{128})\b",
            r"|\b(?P<hex>[0-9a-f]{64})\b",
            r#"|(?P<nonce_label>\bnonce"?:\s*"?)(?P<nonce>[A-Za-z0-9_-]{16,64})\b"#,
            r"|\b(?P<rfc3339>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)",
            r"|\b(?P<time>\d{10})\b",
        ))
        .expect("the redaction pattern compiles")
    })
}

/// Numbers the tokens of one snapshot.
#[derive(Debug, Default)]
pub(crate) struct Redactor {
    reference: Option<(u64, &'static str)>,
    numbers: HashMap<(Class, String), usize>,
    counts: HashMap<Class, usize>,
}

impl Redactor {
    /// A redactor that shows times relative to `at`, labelled `at`; without one, the first
    /// time seen becomes `t0`.
    pub(crate) fn new(at: Option<u64>) -> Self {
        Self {
            reference: at.map(|t| (t, "at")),
            ..Self::default()
        }
    }

    fn number(&mut self, class: Class, token: &str) -> usize {
        if let Some(n) = self.numbers.get(&(class, token.to_string())) {
            return *n;
        }
        let count = self.counts.entry(class).or_insert(0);
        *count += 1;
        let n = *count;
        self.numbers.insert((class, token.to_string()), n);
        n
    }

    fn placeholder(&mut self, class: Class, token: &str) -> String {
        format!("[{}-{}]", class.name(), self.number(class, token))
    }

    /// The placeholder of a time, relative to the reference time.
    pub(crate) fn time(&mut self, t: u64) -> String {
        if t < 1_000_000_000 {
            return t.to_string();
        }
        let (reference, label) = *self.reference.get_or_insert((t, "t0"));
        relative_time(t, reference, label)
    }

    /// `text` with every token replaced.
    pub(crate) fn text(&mut self, text: &str) -> String {
        pattern()
            .replace_all(text, |caps: &Captures<'_>| self.token(caps))
            .into_owned()
    }

    fn token(&mut self, caps: &Captures<'_>) -> String {
        if let Some(m) = caps.name("key") {
            let (alg, _) = m.as_str().split_once(':').unwrap_or(("key", ""));
            return format!("{alg}:{}", self.placeholder(Class::Key, m.as_str()));
        }
        if let Some(m) = caps.name("digest") {
            return format!("sha256:{}", self.placeholder(Class::Digest, m.as_str()));
        }
        if let Some(m) = caps.name("npub") {
            // An npub names the same key as its bip340: form.
            let canonical = kez_core::PublicKey::from_npub(m.as_str())
                .map(|k| k.to_string())
                .unwrap_or_else(|_| m.as_str().to_string());
            return format!("npub1{}", self.placeholder(Class::Key, &canonical));
        }
        if let Some(m) = caps.name("sig") {
            return self.placeholder(Class::Sig, m.as_str());
        }
        if let Some(m) = caps.name("hex") {
            return self.placeholder(Class::Hex, m.as_str());
        }
        if let (Some(label), Some(m)) = (caps.name("nonce_label"), caps.name("nonce")) {
            let placeholder = self.placeholder(Class::Nonce, m.as_str());
            return format!("{}{placeholder}", label.as_str());
        }
        if let Some(m) = caps.name("rfc3339") {
            return match parse_rfc3339(m.as_str()) {
                Some(t) => self.time(t),
                None => m.as_str().to_string(),
            };
        }
        if let Some(m) = caps.name("time") {
            return match m.as_str().parse::<u64>() {
                Ok(t) => self.time(t),
                Err(_) => m.as_str().to_string(),
            };
        }
        caps[0].to_string()
    }

    /// Redacts every string of `value` in place, visiting object members in sorted order so
    /// that numbering does not depend on the map's iteration order. A string member named
    /// `nonce` is a nonce whatever its text.
    pub(crate) fn value(&mut self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let mut names: Vec<String> = map.keys().cloned().collect();
                names.sort();
                for name in names {
                    let Some(member) = map.get_mut(&name) else {
                        continue;
                    };
                    match member {
                        Value::String(s) if name == "nonce" => {
                            *s = self.placeholder(Class::Nonce, s);
                        }
                        other => self.value(other),
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// `t` relative to `reference`: `[at]`, `[at-1d]`, `[at+23h59m50s]`.
pub(crate) fn relative_time(t: u64, reference: u64, label: &str) -> String {
    let (sign, delta) = if t >= reference {
        ('+', t - reference)
    } else {
        ('-', reference - t)
    };
    if delta == 0 {
        return format!("[{label}]");
    }
    let mut parts = String::new();
    let mut rest = delta;
    for (unit, seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= seconds {
            parts.push_str(&format!("{}{unit}", rest / seconds));
            rest %= seconds;
        }
    }
    format!("[{label}{sign}{parts}]")
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn parse_rfc3339(text: &str) -> Option<u64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hh, mm, ss) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3_600 + mm * 60 + ss).ok()
}

/// Checks the time helpers on known values (run as a trial by the core snapshot test).
pub(crate) fn self_check() -> Result<(), String> {
    let cases = [
        (parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600)),
        (parse_rfc3339("1970-01-01T00:00:01Z"), Some(1)),
        (parse_rfc3339("2024-02-29T12:30:15Z"), Some(1_709_209_815)),
    ];
    for (got, expected) in cases {
        if got != expected {
            return Err(format!("parse_rfc3339: got {got:?}, expected {expected:?}"));
        }
    }
    let labels = [
        (relative_time(10, 10, "at"), "[at]"),
        (relative_time(0, 86_410, "at"), "[at-1d10s]"),
        (relative_time(3_660, 0, "t0"), "[t0+1h1m]"),
    ];
    for (got, expected) in labels {
        if got != expected {
            return Err(format!("relative_time: got {got}, expected {expected}"));
        }
    }
    let mut r = Redactor::new(Some(1_767_312_000));
    let key = format!("ed25519:{}", "ab".repeat(32));
    let text = format!(
        "{key} sha256:{} {key} at 1767225600 nonce: {}",
        "cd".repeat(32),
        "A".repeat(22)
    );
    let got = r.text(&text);
    let expected = "ed25519:[key-1] sha256:[digest-1] ed25519:[key-1] at [at-1d] nonce: [nonce-1]";
    if got != expected {
        return Err(format!("text: got {got:?}, expected {expected:?}"));
    }
    Ok(())
}
