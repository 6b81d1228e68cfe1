//! Properties of identities, claims, encodings and sigchains, checked on random inputs
//! (proptest).
//!
//! | property | SPEC.md |
//! |---|---|
//! | identity normalisation is idempotent: a canonical form parses to itself | §3.1, §3.2 |
//! | every encoding round-trips: `decode(encode(x)) == x` and `encode(decode(encode(x))) == encode(x)` | §6.1 – §6.4 |
//! | the JSON encoding is the JCS form, checked against an independent serialiser | §2.2, §6.1 |
//! | a signed claim verifies and evaluates `valid` | §4.2, §8.3 |
//! | changing any byte of an encoded claim never gives a different claim that verifies | §4.2, §6 |
//! | a chain built from random valid operations verifies and has the state the operations imply | §7.2 – §7.5 |
//! | changing any byte, reordering, duplicating or removing links breaks a chain, except removing a suffix (a valid prefix) | §7.3, §7.5, §7.6 |
//!
//! Strategies: identities in all five schemes and opaque ones, written in non-canonical
//! spellings (case, `@`, trailing dot, `mastodon`, nostr hex); claims under Ed25519 and
//! BIP-340 keys with optional expiry, nonce, chain hint and up to three unknown members
//! holding arbitrary JSON (nested, escaped strings, integers and floats); chains of up to
//! seven links from random `add`, `revoke`, `rotate`, `add_device` and `revoke_device`
//! operations that are valid by construction, signed by the primary or a device key.
//!
//! Each property runs 256 cases. A failing case is shrunk and its seed saved to
//! `proptest-regressions/properties.txt` (relative to this crate), which is committed and
//! replayed before the random cases on every run.

use std::collections::{BTreeMap, HashSet};

use kez_core::claim::{ClaimBuilder, ClaimError};
use kez_core::encoding::{self, compact, Encoding};
use kez_core::json;
use kez_core::sigchain::{
    compare_copies, verify_jsonl, Comparison, Digest256, JsonlLines, LinkBuilder, Op, RevokeTarget,
    Track,
};
use kez_core::verdict::{self, ChainEvidence, Outcome};
use kez_core::{Algorithm, Claim, Identity, PublicKey, SecretKey};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// 2^53 - 1, the largest time a claim may carry (SPEC.md §2.3).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// BIP-340 `aux_rand` for every signature, so that a failing case replays exactly.
const AUX: [u8; 32] = [0x5a; 32];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Keys and identities

/// A key, as its algorithm and secret bytes (so that failures print and replay).
#[derive(Debug, Clone, Copy)]
struct KeySpec {
    alg: Algorithm,
    seed: [u8; 32],
}

impl KeySpec {
    fn secret(&self) -> SecretKey {
        SecretKey::from_bytes(self.alg, &self.seed).expect("the strategy keeps valid secrets")
    }
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::Ed25519), Just(Algorithm::Bip340)]
}

fn key_spec_of(alg: impl Strategy<Value = Algorithm>) -> impl Strategy<Value = KeySpec> {
    (alg, any::<[u8; 32]>())
        .prop_map(|(alg, seed)| KeySpec { alg, seed })
        .prop_filter("a valid secret key", |k| {
            SecretKey::from_bytes(k.alg, &k.seed).is_ok()
        })
}

fn key_spec() -> impl Strategy<Value = KeySpec> {
    key_spec_of(algorithm())
}

/// `text` with the ASCII letters whose bit is set in `mask` switched to upper case.
fn mixed_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// A domain name of ASCII labels and possibly one internationalised label.
fn domain() -> impl Strategy<Value = String> {
    let idn = prop_oneof![
        Just(None),
        Just(Some("bücher")),
        Just(Some("münchen")),
        Just(Some("中文")),
        Just(Some("日本語"))
    ];
    (
        prop::collection::vec("[a-z0-9]{1,8}(-[a-z0-9]{1,4})?", 1..=3),
        idn,
        "[a-z]{2,6}",
    )
        .prop_map(|(labels, idn, tld)| {
            let mut parts: Vec<String> = idn.map(str::to_string).into_iter().collect();
            parts.extend(labels);
            parts.push(tld);
            parts.join(".")
        })
}

/// An identity in one of the five schemes or an opaque one, in a non-canonical spelling.
fn identity_text() -> impl Strategy<Value = String> {
    let at = || prop_oneof![Just(""), Just("@")];
    let dot = || prop_oneof![Just(""), Just(".")];
    prop_oneof![
        (domain(), dot(), any::<u64>(), any::<u64>()).prop_map(|(d, dot, m, s)| format!(
            "{}:{}{dot}",
            mixed_case("dns", s),
            mixed_case(&d, m)
        )),
        (
            "[a-zA-Z0-9]{1,12}(-[a-zA-Z0-9]{1,12}){0,2}",
            at(),
            any::<u64>()
        )
            .prop_map(|(login, at, s)| format!("{}:{at}{login}", mixed_case("github", s))),
        (
            key_spec_of(Just(Algorithm::Bip340)),
            any::<bool>(),
            any::<u64>()
        )
            .prop_map(|(k, npub, m)| {
                let key = k.secret().public_key();
                let account = if npub {
                    key.to_npub().expect("a bip340 key has an npub")
                } else {
                    mixed_case(&hex::encode(key.to_bytes()), m)
                };
                format!("nostr:{account}")
            }),
        (
            prop::collection::vec("[a-z0-9]{1,10}", 1..=3),
            "[a-z]{2,6}",
            at(),
            dot(),
            any::<u64>()
        )
            .prop_map(|(labels, tld, at, dot, m)| {
                let handle = mixed_case(&format!("{}.{tld}", labels.join(".")), m);
                format!("bluesky:{at}{handle}{dot}")
            }),
        (
            prop_oneof![Just("ap"), Just("AP"), Just("mastodon"), Just("Mastodon")],
            at(),
            "[a-z0-9_]([a-z0-9_.-]{0,8}[a-z0-9_])?",
            domain(),
            any::<u64>()
        )
            .prop_map(|(scheme, at, user, host, m)| {
                format!("{scheme}:{at}{}@{host}", mixed_case(&user, m))
            }),
        ("x-[a-z0-9]{1,8}", "[!-~]{1,30}", any::<u64>())
            .prop_map(|(scheme, account, m)| format!("{}:{account}", mixed_case(&scheme, m))),
    ]
}

fn identity() -> impl Strategy<Value = Identity> {
    identity_text().prop_filter_map("the spelling parses", |t| Identity::parse(&t).ok())
}

// ---------------------------------------------------------------------------------------
// JSON values and claims

/// Members SPEC.md §5.1 defines; unknown members must be named otherwise.
const KNOWN_MEMBERS: [&str; 9] = [
    "kez",
    "type",
    "subject",
    "key",
    "created_at",
    "expires_at",
    "nonce",
    "chain",
    "sig",
];

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,11}",
        "\\PC{1,4}",
        "[\\x00-\\x1f\"\\\\é😀]{1,3}"
    ]
    .prop_filter("not a member SPEC.md defines", |n| {
        !KNOWN_MEMBERS.contains(&n.as_str())
    })
}

/// Any finite double: integers, fractions, subnormals and huge values alike.
fn finite_float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(MAX_SAFE as i64)..=MAX_SAFE as i64).prop_map(Value::from),
        finite_float().prop_map(Value::from),
        "(?s).{0,12}".prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\a/\u{7f}\u{2028}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(member_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Everything a claim is built from.
#[derive(Debug, Clone)]
struct ClaimSpec {
    key: KeySpec,
    subject: Identity,
    created_at: u64,
    expires_after: Option<u64>,
    nonce: Option<String>,
    chain: Option<String>,
    extra: BTreeMap<String, Value>,
}

impl ClaimSpec {
    fn expires_at(&self) -> Option<u64> {
        self.expires_after
            .map(|d| self.created_at.saturating_add(d).min(MAX_SAFE))
    }

    /// Signs the claim; `None` only when it is over the size limit (SPEC.md §5.4).
    fn sign(&self) -> Result<Option<Claim>, TestCaseError> {
        let mut builder = ClaimBuilder::new(self.subject.clone(), self.created_at);
        if let Some(t) = self.expires_at() {
            builder = builder.expires_at(t);
        }
        if let Some(n) = &self.nonce {
            builder = builder.nonce(n.clone());
        }
        if let Some(c) = &self.chain {
            builder = builder.chain(c.clone());
        }
        for (name, value) in &self.extra {
            builder = builder.extra(name.clone(), value.clone());
        }
        match builder.sign(&self.key.secret(), Some(&AUX)) {
            Ok(claim) => Ok(Some(claim)),
            Err(ClaimError::TooLarge { .. }) => Ok(None),
            Err(e) => Err(TestCaseError::fail(format!(
                "a valid claim was refused: {e}"
            ))),
        }
    }
}

fn claim_spec() -> impl Strategy<Value = ClaimSpec> {
    (
        key_spec(),
        identity(),
        prop_oneof![1_700_000_000u64..1_900_000_000, 0..MAX_SAFE],
        prop::option::of(1u64..=1_000_000_000),
        prop::option::of("[A-Za-z0-9_-]{16,64}"),
        prop::option::of("https://[a-z]{1,10}\\.example/[a-z0-9/._-]{0,40}"),
        prop::collection::btree_map(member_name(), json_value(), 0..=3),
    )
        .prop_map(
            |(key, subject, created_at, expires_after, nonce, chain, extra)| ClaimSpec {
                key,
                subject,
                created_at,
                expires_after,
                nonce,
                chain,
                extra,
            },
        )
}

/// Signs `spec` and returns the claim as a verifier holds it (parsed from its JCS form);
/// rejects the case when the claim is over the size limit.
///
/// Round trips start from this form, not from the builder's claim: `Claim`'s `PartialEq`
/// compares the parsed JSON object, and a builder value such as the float `1.0` is
/// `Number(1.0)` there but `Number(1)` once its JCS text `1` is parsed, so the builder's
/// claim and its decoded copy compare unequal although their JCS, id and signature are the
/// same (reported; the comparison should be on the JCS form).
fn verifier_claim(spec: &ClaimSpec) -> Result<Claim, TestCaseError> {
    let Some(built) = spec.sign()? else {
        return Err(TestCaseError::reject("claim over 4096 bytes"));
    };
    let claim = Claim::from_json(built.to_jcs())
        .map_err(|e| TestCaseError::fail(format!("a signed claim does not parse: {e}")))?;
    prop_assert_eq!(claim.to_jcs(), built.to_jcs());
    Ok(claim)
}

fn encoding_kind() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Json),
        Just(Encoding::Compact),
        Just(Encoding::Markdown),
        Just(Encoding::Dns)
    ]
}

/// An independent RFC 8785 serialiser: members sorted by UTF-16 code units, the JCS string
/// escapes (§3.2.2.2) and numbers in ECMAScript form ([`es_number`], §3.2.2.3).
fn jcs_oracle(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (None, Some(u), _) => out.push_str(&u.to_string()),
            (None, None, Some(f)) => out.push_str(&es_number(f)),
            _ => out.push('?'),
        },
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\u{8}' => out.push_str("\\b"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\u{c}' => out.push_str("\\f"),
                    '\r' => out.push_str("\\r"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs_oracle(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jcs_oracle(&Value::String(name.clone()), out);
                out.push(':');
                jcs_oracle(&map[name], out);
            }
            out.push('}');
        }
    }
}

/// ECMAScript `Number::toString(x)` for a finite `x` (ECMA-262 §6.1.6.1.20), which RFC 8785
/// §3.2.2.3 prescribes, built from exact decimal digits rather than a float printer: the
/// fewest significant digits `k` that identify `x`; of the `k`-digit decimals that parse
/// back to `x`, the one closest to `x`, ties to the even one; then plain notation for
/// exponents from -7 to 20 and `d.ddde±n` otherwise.
fn es_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x < 0.0 {
        return format!("-{}", es_number(-x));
    }
    // Rust's shortest round-trip form fixes k, the least number of digits.
    let shortest = format!("{x:e}");
    let k = shortest
        .split_once('e')
        .map_or(0, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    // Every digit of x (an f64 has at most 767 significant decimal digits).
    let exact = format!("{x:.800e}");
    let (mantissa, exponent) = exact.split_once('e').unwrap_or(("0", "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let floor: u64 = digits[..k].parse().unwrap_or(0);
    let rest = &digits[k..];
    let scale = exponent - (k as i32 - 1);
    let parses_back = |c: u64| format!("{c}e{scale}").parse::<f64>().ok() == Some(x);
    let above_half = match rest.as_bytes().first() {
        Some(b) if *b > b'5' => Some(true),
        Some(b'5') if rest[1..].bytes().any(|b| b != b'0') => Some(true),
        Some(b'5') => None,
        _ => Some(false),
    };
    let pick_ceil = match (parses_back(floor), parses_back(floor + 1)) {
        (true, true) => above_half.unwrap_or(floor % 2 == 1),
        (false, true) => true,
        _ => false,
    };
    let chosen = if pick_ceil { floor + 1 } else { floor };
    // A carry (999 + 1) adds a digit; trailing zeros are not significant.
    let raw = chosen.to_string();
    let n = exponent + 1 + (raw.len() as i32 - k as i32);
    let s = raw.trim_end_matches('0');
    let k = s.len() as i32;
    if k <= n && n <= 21 {
        format!("{s}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &s[..n as usize], &s[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{s}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let head = if k == 1 {
            s.to_string()
        } else {
            format!("{}.{}", &s[..1], &s[1..])
        };
        format!("{head}e{sign}{}", e.abs())
    }
}

/// Every claim decoded from `bytes` in `encoding` (a JSON text holds one).
fn decode_all(bytes: &[u8], encoding: Encoding) -> Vec<Result<Claim, String>> {
    match encoding::decode(bytes, encoding) {
        Ok(found) => found
            .into_iter()
            .map(|l| l.item.map_err(|e| e.to_string()))
            .collect(),
        Err(e) => vec![Err(e.to_string())],
    }
}

// ---------------------------------------------------------------------------------------
// Sigchains

/// Subjects that `add` and `revoke` links name.
const SUBJECTS: [&str; 3] = [
    "github:jason",
    "dns:example.com",
    "bluesky:alice.bsky.social",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Add,
    RevokeClaim,
    RevokeSubject,
    Rotate,
    AddDevice,
    RevokeDevice,
}

/// One operation after `init`. `pick` chooses among the claims, subjects or devices the
/// operation can name; an operation that has nothing to name becomes an `add`.
#[derive(Debug, Clone)]
struct Step {
    kind: StepKind,
    pick: Index,
    by_device: bool,
    alg: Algorithm,
    name: Option<String>,
    dt: u64,
}

#[derive(Debug, Clone)]
struct ChainSpec {
    root: Algorithm,
    seed: [u8; 32],
    start: u64,
    steps: Vec<Step>,
}

fn step() -> impl Strategy<Value = Step> {
    let kind = prop_oneof![
        3 => Just(StepKind::Add),
        1 => Just(StepKind::RevokeClaim),
        1 => Just(StepKind::RevokeSubject),
        1 => Just(StepKind::Rotate),
        2 => Just(StepKind::AddDevice),
        1 => Just(StepKind::RevokeDevice),
    ];
    (
        kind,
        any::<Index>(),
        any::<bool>(),
        algorithm(),
        prop::option::of("(?s).{1,16}"),
        prop_oneof![Just(0u64), 1u64..=86_400],
    )
        .prop_map(|(kind, pick, by_device, alg, name, dt)| Step {
            kind,
            pick,
            by_device,
            alg,
            name,
            dt,
        })
}

fn chain_spec(steps: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = ChainSpec> {
    (
        algorithm(),
        any::<[u8; 32]>(),
        1_700_000_000u64..1_900_000_000,
        prop::collection::vec(step(), steps),
    )
        .prop_map(|(root, seed, start, steps)| ChainSpec {
            root,
            seed,
            start,
            steps,
        })
}

/// What the chain's operations imply about its state (SPEC.md §7.4).
#[derive(Debug, Default)]
struct Model {
    primary: Option<PublicKey>,
    devices: Vec<PublicKey>,
    /// Claim id, subject, revoked.
    claims: Vec<(Digest256, Identity, bool)>,
}

/// A chain built from `spec`, its JSONL lines (each with its newline) and the model.
struct BuiltChain {
    lines: Vec<Vec<u8>>,
    model: Model,
}

impl BuiltChain {
    fn jsonl(lines: &[Vec<u8>]) -> Vec<u8> {
        lines.concat()
    }
}

fn derive(seed: &[u8; 32], label: &str, counter: &mut u64) -> [u8; 32] {
    *counter += 1;
    let mut h = Sha256::new();
    h.update(seed);
    h.update(label.as_bytes());
    h.update(counter.to_be_bytes());
    h.finalize().into()
}

fn fresh_key(seed: &[u8; 32], alg: Algorithm, counter: &mut u64) -> SecretKey {
    loop {
        if let Ok(key) = SecretKey::from_bytes(alg, &derive(seed, "key", counter)) {
            return key;
        }
    }
}

fn build_chain(spec: &ChainSpec) -> Result<BuiltChain, TestCaseError> {
    let mut counter = 0;
    let mut primary = fresh_key(&spec.seed, spec.root, &mut counter);
    let mut devices: Vec<SecretKey> = Vec::new();
    let mut model = Model::default();
    let mut t = spec.start;
    let sign = |b: LinkBuilder, signer: &SecretKey, new_key: Option<&SecretKey>| {
        b.sign_with_aux(signer, new_key, Some(&AUX), Some(&AUX))
            .map_err(|e| TestCaseError::fail(format!("a valid link was refused: {e}")))
    };
    let mut links = vec![sign(LinkBuilder::init(t), &primary, None)?];
    for step in &spec.steps {
        t += step.dt;
        let previous = links.last().expect("init is there");
        let mut kind = step.kind;
        if kind == StepKind::RevokeClaim && model.claims.is_empty() {
            kind = StepKind::Add;
        }
        if kind == StepKind::RevokeDevice && devices.is_empty() {
            kind = StepKind::AddDevice;
        }
        let signer_index =
            (step.by_device && !devices.is_empty()).then(|| step.pick.index(devices.len()));
        let link = match kind {
            StepKind::Add | StepKind::RevokeClaim | StepKind::RevokeSubject => {
                let op = match kind {
                    StepKind::Add => {
                        let claim = Digest256(derive(&spec.seed, "claim", &mut counter));
                        let subject = Identity::parse(SUBJECTS[step.pick.index(SUBJECTS.len())])
                            .expect("a valid subject");
                        model.claims.push((claim, subject.clone(), false));
                        Op::Add { claim, subject }
                    }
                    StepKind::RevokeClaim => {
                        let which = step.pick.index(model.claims.len());
                        let entry = &mut model.claims[which];
                        entry.2 = true;
                        Op::Revoke(RevokeTarget::Claim(entry.0))
                    }
                    _ => {
                        let subject = Identity::parse(SUBJECTS[step.pick.index(SUBJECTS.len())])
                            .expect("a valid subject");
                        for entry in &mut model.claims {
                            if entry.1 == subject {
                                entry.2 = true;
                            }
                        }
                        Op::Revoke(RevokeTarget::Subject(subject))
                    }
                };
                let signer = match signer_index {
                    Some(i) => &devices[i],
                    None => &primary,
                };
                sign(LinkBuilder::after(previous, op, t), signer, None)?
            }
            StepKind::Rotate => {
                let next = fresh_key(&spec.seed, step.alg, &mut counter);
                let op = Op::Rotate {
                    new_key: next.public_key(),
                };
                let link = sign(LinkBuilder::after(previous, op, t), &primary, Some(&next))?;
                primary = next;
                link
            }
            StepKind::AddDevice => {
                let device = fresh_key(&spec.seed, step.alg, &mut counter);
                let name = step.name.clone().filter(|n| n.len() <= 64);
                let op = Op::AddDevice {
                    device: device.public_key(),
                    name,
                };
                let link = sign(LinkBuilder::after(previous, op, t), &primary, None)?;
                devices.push(device);
                link
            }
            StepKind::RevokeDevice => {
                let device = devices.remove(step.pick.index(devices.len()));
                let op = Op::RevokeDevice {
                    device: device.public_key(),
                };
                sign(LinkBuilder::after(previous, op, t), &primary, None)?
            }
        };
        links.push(link);
    }
    model.primary = Some(primary.public_key());
    model.devices = devices.iter().map(SecretKey::public_key).collect();
    let lines = links
        .iter()
        .map(|l| {
            let mut line = l.to_jcs().to_vec();
            line.push(b'\n');
            line
        })
        .collect();
    Ok(BuiltChain { lines, model })
}

fn expect_broken(bytes: &[u8], what: &str) -> Result<(), TestCaseError> {
    match verify_jsonl(bytes, Track::All, None) {
        Err(_) => Ok(()),
        Ok(chain) => Err(TestCaseError::fail(format!(
            "{what}: the chain still verifies ({} links)",
            chain.length()
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// Properties

/// The ECMAScript oracle agrees with Node.js (`JSON.stringify`) on edge values: a tie
/// between two shortest forms (resolved to the even digit), the plain/exponent boundaries
/// at 1e21 and 1e-7, subnormals and the largest double.
#[test]
fn es_number_matches_ecmascript_on_known_values() {
    let table: [(f64, &str); 15] = [
        // Exactly -1788857739823134.25, halfway between two 17-digit forms.
        (-1_788_857_739_823_134.2, "-1788857739823134.2"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (123.456, "123.456"),
        (0.1 + 0.2, "0.30000000000000004"),
        (9007199254740993.0, "9007199254740992"),
        (1.0 / 3.0, "0.3333333333333333"),
        (-0.0, "0"),
        (0.000001234, "0.000001234"),
        (123e-20, "1.23e-18"),
        (1.5e300, "1.5e+300"),
    ];
    for (x, expected) in table {
        assert_eq!(es_number(x), expected, "{x:e}");
    }
}

proptest! {
    #![proptest_config(config())]

    /// SPEC.md §3: the canonical form of any accepted spelling parses to the same identity
    /// and prints unchanged.
    #[test]
    fn identity_normalisation_is_idempotent(text in identity_text()) {
        let id = Identity::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?} was rejected: {e}")))?;
        let canonical = id.to_string();
        let again = Identity::parse(&canonical)
            .map_err(|e| TestCaseError::fail(format!("canonical {canonical:?} was rejected: {e}")))?;
        prop_assert_eq!(&again, &id);
        prop_assert_eq!(again.to_string(), canonical);
    }

    /// The same on arbitrary text: whatever is accepted normalises to a fixed point.
    #[test]
    fn identity_normalisation_is_idempotent_on_any_text(
        text in prop_oneof!["(?s)[a-zA-Z][a-zA-Z0-9-]{0,8}:.{0,40}", "(?s).{0,40}"]
    ) {
        if let Ok(id) = Identity::parse(&text) {
            let canonical = id.to_string();
            let again = Identity::parse(&canonical)
                .map_err(|e| TestCaseError::fail(format!("canonical {canonical:?} of {text:?} was rejected: {e}")))?;
            prop_assert_eq!(again.to_string(), canonical);
        }
    }

    /// SPEC.md §6: for every encoding, decoding the encoded claim gives the claim back,
    /// encoding it again gives the same text, and detection names the encoding. The JSON
    /// encoding is the JCS form: it equals an independent serialiser's output and is a
    /// fixed point of canonicalisation.
    #[test]
    fn every_encoding_round_trips_canonically(spec in claim_spec()) {
        let claim = verifier_claim(&spec)?;
        let mut expected_jcs = String::new();
        jcs_oracle(&Value::Object(claim.as_object().clone()), &mut expected_jcs);
        prop_assert_eq!(String::from_utf8_lossy(claim.to_jcs()), expected_jcs.as_str());
        for enc in Encoding::ALL {
            let text = encoding::encode(&claim, enc);
            prop_assert_eq!(encoding::detect(text.as_bytes()).ok(), Some(enc));
            let found = encoding::decode(text.as_bytes(), enc)
                .map_err(|e| TestCaseError::fail(format!("{enc}: {e}")))?;
            prop_assert_eq!(found.len(), 1, "{}: one claim", enc);
            let decoded = found[0].item.as_ref()
                .map_err(|e| TestCaseError::fail(format!("{enc}: {e}")))?;
            prop_assert_eq!(decoded, &claim, "{}: decode(encode(x)) == x", enc);
            prop_assert_eq!(&encoding::encode(decoded, enc), &text, "{}: canonical", enc);
        }
        let json_text = encoding::encode(&claim, Encoding::Json);
        prop_assert_eq!(json_text.as_str(), expected_jcs.as_str());
        let recanonicalised = json::canonicalize_bytes(json_text.as_bytes())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(recanonicalised.as_slice(), json_text.as_bytes());
        let again = compact::decode(&compact::encode(&claim)).ok();
        prop_assert_eq!(again.as_ref(), Some(&claim));
    }

    /// SPEC.md §6.5: decoding with detection (`decode_detected`, which parses a Markdown
    /// document once) finds what `detect` then `decode` find: for every encoding of a claim,
    /// the same text with a byte changed, and text of any kind, in a fence or not.
    #[test]
    fn decoding_with_detection_is_detect_then_decode(
        spec in claim_spec(),
        at in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
        noise in ".{0,80}",
    ) {
        let claim = verifier_claim(&spec)?;
        let mut inputs = vec![
            noise.clone().into_bytes(),
            format!("```kez\n{noise}\n```\n").into_bytes(),
        ];
        for enc in Encoding::ALL {
            let text = encoding::encode(&claim, enc).into_bytes();
            let mut damaged = text.clone();
            let i = at.index(damaged.len());
            damaged[i] ^= mask;
            inputs.push(text);
            inputs.push(damaged);
        }
        for input in &inputs {
            let separate = encoding::detect(input)
                .and_then(|enc| Ok((enc, encoding::decode(input, enc)?)));
            let together = encoding::decode_detected(input);
            prop_assert_eq!(format!("{together:?}"), format!("{separate:?}"));
        }
    }

    /// SPEC.md §4.2, §8.3: a claim signed with either suite verifies under its own key, and
    /// as a verifier parses it, evaluated at its creation time with no chain and its own
    /// subject expected, it is valid.
    #[test]
    fn signed_claims_verify_and_are_valid(spec in claim_spec()) {
        let Some(built) = spec.sign()? else {
            return Err(TestCaseError::reject("claim over 4096 bytes"));
        };
        prop_assert_eq!(built.verify_signature(), Ok(()));
        let decoded = Claim::from_json(built.to_jcs())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.id(), built.id());
        let v = verdict::evaluate(
            &decoded,
            ChainEvidence::NotChecked,
            spec.created_at,
            Some(&spec.subject),
        );
        prop_assert_eq!(v.outcome(), Outcome::Valid, "{}", v.detail());
    }

    /// SPEC.md §4.2, §6: XOR-ing any byte of an encoded claim with any non-zero mask never
    /// yields a claim that verifies and differs from the original. Each decoded claim
    /// either fails to decode, fails its signature check, or has exactly the original JCS
    /// form. The last case happens only where an encoding has bytes the signature does not
    /// cover: the case of the hex digits of a `\u00XX` escape (JSON, Markdown), Markdown
    /// fence and whitespace bytes, DNS owner name, TTL, class and quoting, and zstd frame
    /// fields that do not change the inflated bytes.
    #[test]
    fn changing_a_byte_never_yields_another_valid_claim(
        spec in claim_spec(),
        enc in encoding_kind(),
        index in any::<Index>(),
        mask in 1u8..=255,
    ) {
        let claim = verifier_claim(&spec)?;
        let mut bytes = encoding::encode(&claim, enc).into_bytes();
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        for changed in decode_all(&bytes, enc).into_iter().flatten() {
            let verifies = changed.verify_signature().is_ok();
            prop_assert!(
                !verifies || changed.to_jcs() == claim.to_jcs(),
                "{} byte {} ^ {:#04x}: a different claim verifies: {}",
                enc, i, mask, String::from_utf8_lossy(changed.to_jcs())
            );
        }
    }

    /// SPEC.md §7.2 – §7.5: a chain of random operations, valid by construction, verifies
    /// with the length, primary key, active devices and claim bindings and revocations
    /// the operations imply (that every prefix verifies too is checked by the removal
    /// properties below).
    #[test]
    fn valid_chains_verify_with_the_state_their_operations_imply(spec in chain_spec(0..=6)) {
        let built = build_chain(&spec)?;
        let bytes = BuiltChain::jsonl(&built.lines);
        let chain = verify_jsonl(&bytes, Track::All, None)
            .map_err(|e| TestCaseError::fail(format!("a valid chain was rejected: {e}")))?;
        prop_assert_eq!(chain.length(), built.lines.len() as u64);
        let state = chain.state();
        prop_assert_eq!(state.primary(), built.model.primary.as_ref());
        let active: HashSet<PublicKey> = state.active_devices().copied().collect();
        let expected: HashSet<PublicKey> = built.model.devices.iter().copied().collect();
        prop_assert_eq!(active, expected);
        prop_assert_eq!(state.claims().len(), built.model.claims.len());
        for (id, subject, revoked) in &built.model.claims {
            let entry = state.claim(id)
                .ok_or_else(|| TestCaseError::fail(format!("{id} is not bound")))?;
            prop_assert_eq!(&entry.subject, subject);
            prop_assert_eq!(entry.revoked.is_some(), *revoked, "{} revoked", id);
        }
    }

    /// SPEC.md §7.3: XOR-ing any byte of a chain's JSONL with any non-zero mask makes it
    /// fail: links are signed, must be in JCS form and end in a newline.
    #[test]
    fn changing_a_byte_of_a_chain_is_detected(
        spec in chain_spec(0..=4),
        index in any::<Index>(),
        mask in 1u8..=255,
    ) {
        let built = build_chain(&spec)?;
        let mut bytes = BuiltChain::jsonl(&built.lines);
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        expect_broken(&bytes, &format!("byte {i} ^ {mask:#04x}"))?;
    }

    /// SPEC.md §7.3, §7.5: any reordering of the links of a chain is detected.
    #[test]
    fn reordering_links_is_detected(
        spec in chain_spec(1..=5),
        keys in prop::collection::vec(any::<u32>(), 7),
        swap in (any::<Index>(), any::<Index>()),
    ) {
        let built = build_chain(&spec)?;
        let n = built.lines.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| keys[i]);
        if order.iter().enumerate().all(|(i, &j)| i == j) {
            // The sort kept the order: swap two distinct positions instead.
            let a = swap.0.index(n);
            let b = (a + 1 + swap.1.index(n - 1)) % n;
            order.swap(a, b);
        }
        let lines: Vec<Vec<u8>> = order.iter().map(|&i| built.lines[i].clone()).collect();
        expect_broken(&BuiltChain::jsonl(&lines), &format!("order {order:?}"))?;
    }

    /// SPEC.md §7.3, §7.5: removing links is detected, except removing a suffix, which
    /// leaves a valid prefix of the chain (removing everything leaves an empty chain).
    #[test]
    fn removing_links_is_detected_unless_a_suffix_goes(
        spec in chain_spec(0..=5),
        removed in prop::collection::vec(any::<bool>(), 7),
        fallback in any::<Index>(),
    ) {
        let built = build_chain(&spec)?;
        let n = built.lines.len();
        let mut removed = removed[..n].to_vec();
        if !removed.contains(&true) {
            removed[fallback.index(n)] = true;
        }
        let kept: Vec<Vec<u8>> = built.lines.iter().zip(&removed)
            .filter(|(_, gone)| !**gone)
            .map(|(line, _)| line.clone())
            .collect();
        let first_removed = removed.iter().position(|gone| *gone).unwrap_or(n);
        let is_suffix = removed[first_removed..].iter().all(|gone| *gone);
        let result = verify_jsonl(&BuiltChain::jsonl(&kept), Track::All, None);
        match (is_suffix && first_removed > 0, result) {
            (true, Ok(chain)) => prop_assert_eq!(chain.length(), first_removed as u64),
            (true, Err(e)) => {
                return Err(TestCaseError::fail(format!("a prefix of {first_removed} links was rejected: {e}")));
            }
            (false, Ok(chain)) => {
                return Err(TestCaseError::fail(format!(
                    "removing {removed:?} left a chain that verifies ({} links)",
                    chain.length()
                )));
            }
            (false, Err(_)) => {}
        }
    }

    /// SPEC.md §7.3, §7.6: removing only the last link leaves a valid prefix: compared with
    /// the whole chain, in either order, both verify and the shorter is a prefix, not a
    /// fork.
    #[test]
    fn removing_only_the_last_link_leaves_a_valid_prefix(
        spec in chain_spec(1..=4),
        prefix_first in any::<bool>(),
    ) {
        let built = build_chain(&spec)?;
        let n = built.lines.len();
        let full = BuiltChain::jsonl(&built.lines);
        let prefix = BuiltChain::jsonl(&built.lines[..n - 1]);
        // compare_copies verifies both copies in full, so a prefix answer also says that
        // the shorter copy verifies (with n - 1 links: it is a strict prefix).
        if prefix_first {
            prop_assert_eq!(
                compare_copies(JsonlLines::new(&prefix), JsonlLines::new(&full)),
                Ok(Comparison::FirstIsPrefix)
            );
        } else {
            prop_assert_eq!(
                compare_copies(JsonlLines::new(&full), JsonlLines::new(&prefix)),
                Ok(Comparison::SecondIsPrefix)
            );
        }
    }

    /// SPEC.md §7.3, §7.6: a copy of any link inserted anywhere is detected.
    #[test]
    fn duplicating_a_link_is_detected(
        spec in chain_spec(0..=4),
        which in any::<Index>(),
        position in any::<Index>(),
    ) {
        let built = build_chain(&spec)?;
        let n = built.lines.len();
        let copy = which.index(n);
        let at = position.index(n + 1);
        let mut lines = built.lines.clone();
        lines.insert(at, built.lines[copy].clone());
        expect_broken(&BuiltChain::jsonl(&lines), &format!("link {copy} copied to {at}"))?;
    }
}
