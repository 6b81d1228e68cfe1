//! The suite manifest, `manifest.json` (docs/SUITES.md, "Manifest").
//!
//! ```json
//! {
//!   "schema": "kez-suite/v1",
//!   "name": "floor",
//!   "version": "1",
//!   "spec": "0.2",
//!   "at": 1767312000,
//!   "files": { "cases/claims/valid-ed25519/claim.json": "sha256:…" },
//!   "cases": [
//!     { "id": "claims/valid-ed25519", "kind": "claim",
//!       "input": "cases/claims/valid-ed25519/claim.json",
//!       "expect": { "outcomes": [ { "outcome": "valid" } ] } },
//!     { "id": "chains/rotate", "kind": "chain",
//!       "chains": [ "cases/chains/rotate/chain.jsonl" ],
//!       "expect": { "chain": "ok", "length": 4 } }
//!   ]
//! }
//! ```
//!
//! [`Manifest::parse`] reads strict I-JSON (SPEC.md §2.1: no duplicate members), checks
//! `schema` before anything else (a future schema is refused as such, whatever its
//! shape), then `spec`, then every member; unknown members are refused so that a typo
//! cannot silently drop an expectation. Each case kind is known: `claim`, `chain` and
//! `evidence` (a recorded evidence bundle replayed through kez-id, docs/EVIDENCE.md). A
//! kind this replayer does not know refuses the whole suite rather than skipping the case.

use std::collections::{BTreeMap, HashSet};

use kez_core::json::{self, JsonError, MAX_SAFE_INTEGER};
use kez_core::verdict::{InvalidReason, Outcome};
use kez_core::{Digest256, Identity, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::{PathError, SuitePath};

pub(crate) mod fast;

/// The manifest schema this crate reads and writes.
pub const SCHEMA: &str = "kez-suite/v1";

/// The SPEC.md version the cases are judged by.
pub const SPEC_VERSION: &str = kez_core::claim::PROTOCOL_VERSION;

/// The members of a manifest, in the order they are written.
const TOP_MEMBERS: [&str; 7] = ["schema", "name", "version", "spec", "at", "files", "cases"];

/// The case kinds a `kez-suite/v1` replayer knows.
pub const KNOWN_KINDS: [&str; 3] = ["claim", "chain", "evidence"];

/// The files an evidence bundle folder may hold (docs/EVIDENCE.md): its index, and the
/// bodies under this folder.
pub const BUNDLE_INDEX: &str = "bundle.json";

/// The folder of an evidence bundle that holds the HTTP bodies.
pub const BUNDLE_BODIES: &str = "bodies";

/// Why a manifest is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The bytes are not strict I-JSON.
    #[error("manifest.json: {0}")]
    Json(#[from] JsonError),
    /// `schema` is missing or names another schema.
    #[error("manifest.json: schema is {found}, expected \"{SCHEMA}\"")]
    Schema {
        /// What was found (`missing` when absent).
        found: String,
    },
    /// `spec` names a SPEC.md version this verifier does not implement.
    #[error("manifest.json: the suite is for SPEC.md {found}; this verifier implements {SPEC_VERSION:?}")]
    Spec {
        /// The version found.
        found: String,
    },
    /// A case has a kind this replayer does not know.
    #[error("manifest.json: {at}: case kind {kind:?} is not supported by this replayer (this replayer knows \"claim\", \"chain\" and \"evidence\"; update kez-verify to replay this suite)")]
    UnsupportedKind {
        /// Where: `cases[i] (id)`.
        at: String,
        /// The kind found.
        kind: String,
    },
    /// A member is missing, of the wrong type, unknown, or has a bad value.
    #[error("manifest.json: {at}: {message}")]
    Invalid {
        /// Where: `files`, `cases[3] (claims/x).expect`, …
        at: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A path breaks the path rules (docs/SUITES.md, "Paths").
    #[error("manifest.json: {at}: {error}")]
    Path {
        /// Where the path appears.
        at: String,
        /// What is wrong with it.
        error: PathError,
    },
}

impl ManifestError {
    fn invalid(at: impl Into<String>, message: impl Into<String>) -> Self {
        ManifestError::Invalid {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// One verdict a claim case expects: an outcome, and a reason when it is `invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedVerdict {
    /// The outcome (SPEC.md §8.1).
    pub outcome: Outcome,
    /// The reason (SPEC.md §8.2), present exactly when `outcome` is `invalid`.
    pub reason: Option<InvalidReason>,
}

impl std::fmt::Display for ExpectedVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            Some(reason) => write!(f, "{} ({reason})", self.outcome),
            None => write!(f, "{}", self.outcome),
        }
    }
}

/// What a chain case expects of its chain (SPEC.md §7.5, §7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainExpectation {
    /// The chain verifies and has this many links.
    Ok {
        /// Links in the whole chain.
        length: u64,
    },
    /// The chain fails with a structural error.
    Malformed,
    /// A link signature does not verify, or a signer lacks authority.
    BadSignature,
    /// The chain (or its copies) forks.
    Fork,
}

impl ChainExpectation {
    /// The wire name: `ok`, `malformed`, `bad_signature` or `fork`.
    pub fn name(self) -> &'static str {
        match self {
            ChainExpectation::Ok { .. } => "ok",
            ChainExpectation::Malformed => "malformed",
            ChainExpectation::BadSignature => "bad_signature",
            ChainExpectation::Fork => "fork",
        }
    }
}

impl std::fmt::Display for ChainExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainExpectation::Ok { length } => write!(f, "ok ({length} links)"),
            other => f.write_str(other.name()),
        }
    }
}

/// What an evidence case verifies: an identity, or a key and the identities its sigchain
/// links (as `kez-verify id TARGET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceTarget {
    /// An identity such as `github:jason`.
    Identity(Identity),
    /// A key such as `ed25519:…`: its identity graph.
    Key(PublicKey),
}

impl EvidenceTarget {
    /// Parses a target as `kez-verify id` does: a key when it starts with `ed25519:`,
    /// `bip340:` or `npub1`, else an identity.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("ed25519:") || text.starts_with("bip340:") || text.starts_with("npub1")
        {
            text.parse::<PublicKey>()
                .map(EvidenceTarget::Key)
                .map_err(|e| format!("{text:?} is not a key: {e}"))
        } else {
            Identity::parse(text)
                .map(EvidenceTarget::Identity)
                .map_err(|e| format!("{text:?} is not an identity: {e}"))
        }
    }
}

impl std::fmt::Display for EvidenceTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceTarget::Identity(identity) => write!(f, "{identity}"),
            EvidenceTarget::Key(key) => write!(f, "{key}"),
        }
    }
}

/// What an evidence case expects of one identity, as kez-id reports it (SPEC.md §11.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityExpectation {
    /// The identity's overall outcome (SPEC.md §11.9-2).
    pub outcome: Outcome,
    /// Its reason, present exactly when `outcome` is `invalid`: an SPEC.md §8.2 reason, a
    /// channel reason (`wrong_publisher`, …), `no_proof`, `no_such_account` or
    /// `account_conflict`.
    pub reason: Option<String>,
    /// Every proof found, in the order the channel reported them.
    pub proofs: Vec<ProofExpectation>,
    /// Every proof the channel rejected, in order.
    pub rejected: Vec<RejectedExpectation>,
}

/// One proof an evidence case expects: where it was found and one verdict per claim in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofExpectation {
    /// The proof's location, as the channel reports it.
    pub location: String,
    /// One verdict per claim the proof holds, in order.
    pub outcomes: Vec<ExpectedVerdict>,
}

/// One proof an evidence case expects the channel to reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedExpectation {
    /// The proof's location.
    pub location: String,
    /// The rule it broke (`wrong_publisher`, …).
    pub reason: String,
}

/// One identity of a key's graph and what is expected of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentityExpectation {
    /// The identity.
    pub identity: Identity,
    /// What is expected of it.
    pub expect: IdentityExpectation,
}

/// What an evidence case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceExpectation {
    /// For an identity target: the identity's report.
    Identity(IdentityExpectation),
    /// For a key target: the graph's outcome and every identity it links, in chain order.
    Key {
        /// The graph's overall outcome.
        outcome: Outcome,
        /// One entry per identity verified.
        identities: Vec<LinkedIdentityExpectation>,
    },
}

impl EvidenceExpectation {
    /// The overall outcome.
    pub fn outcome(&self) -> Outcome {
        match self {
            EvidenceExpectation::Identity(e) => e.outcome,
            EvidenceExpectation::Key { outcome, .. } => *outcome,
        }
    }
}

/// What a case is and what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseBody {
    /// Claims decoded from `input`, each evaluated (SPEC.md §8) against the chain, if any.
    Claim {
        /// The encoded claims (any of the four encodings, detected as in SPEC.md §6.5).
        input: SuitePath,
        /// Copies of the signer's sigchain; several are compared and a divergence is a fork.
        chains: Vec<SuitePath>,
        /// The identity being verified, if any.
        subject: Option<Identity>,
        /// One verdict per claim found in `input`, in order.
        expect: Vec<ExpectedVerdict>,
    },
    /// A sigchain (or copies of it) verified on its own.
    Chain {
        /// The copies (at least one).
        chains: Vec<SuitePath>,
        /// The expected result.
        expect: ChainExpectation,
    },
    /// A recorded evidence bundle (docs/EVIDENCE.md) replayed offline through kez-id's
    /// verifier with the built-in channels, as `kez-verify id TARGET --replay BUNDLE --at T`.
    Evidence {
        /// The bundle's folder inside the suite: `bundle.json` and `bodies/…`, every file
        /// listed in `files`.
        bundle: SuitePath,
        /// The identity or key verified; the bundle must have been recorded for it.
        target: EvidenceTarget,
        /// The expected report.
        expect: EvidenceExpectation,
    },
}

impl CaseBody {
    /// `claim`, `chain` or `evidence`.
    pub fn kind(&self) -> &'static str {
        match self {
            CaseBody::Claim { .. } => "claim",
            CaseBody::Chain { .. } => "chain",
            CaseBody::Evidence { .. } => "evidence",
        }
    }

    /// Every file the case names: a claim case's input and chains, a chain case's chains.
    /// An evidence case names a folder, not files: see [`Manifest::bundle_files`].
    pub fn files(&self) -> impl Iterator<Item = &SuitePath> {
        let (input, chains): (Option<&SuitePath>, &[SuitePath]) = match self {
            CaseBody::Claim { input, chains, .. } => (Some(input), chains),
            CaseBody::Chain { chains, .. } => (None, chains),
            CaseBody::Evidence { .. } => (None, &[]),
        };
        input.into_iter().chain(chains)
    }
}

/// One case of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// A unique id, such as `claims/tampered-signature`.
    pub id: String,
    /// What the case shows, for people.
    pub description: Option<String>,
    /// The SPEC.md requirement ids the case exercises.
    pub requirements: Vec<String>,
    /// The evaluation time when it differs from the suite's.
    pub at: Option<u64>,
    /// The inputs and expectations.
    pub body: CaseBody,
}

/// A parsed and checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The suite's name.
    pub name: String,
    /// The suite's version (free text, such as `1` or `2026.1`).
    pub version: String,
    /// The pinned evaluation time, Unix seconds; a case may pin its own.
    pub at: u64,
    /// Every file in the suite folder except the manifest and its signature, with its digest.
    pub files: BTreeMap<SuitePath, Digest256>,
    /// The cases, in order.
    pub cases: Vec<Case>,
}

// ---------------------------------------------------------------------------------------
// Wire form

/// The manifest as written, members in this order (reading takes the members apart by
/// hand, so that each is checked with its place named).
#[derive(Serialize)]
struct WireManifest {
    schema: String,
    name: String,
    version: String,
    spec: String,
    at: u64,
    files: BTreeMap<String, String>,
    cases: Vec<WireCase>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCase {
    id: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requirements: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    chains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
    expect: WireExpect,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcomes: Option<Vec<WireVerdict>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proofs: Option<Vec<WireProof>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejected: Option<Vec<WireRejected>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identities: Option<Vec<WireLinked>>,
}

/// Takes the text of a JSON string, leaving the value alone otherwise.
fn take_string(value: Value) -> Result<String, Value> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(other),
    }
}

fn is_string(value: &Value) -> bool {
    matches!(value, Value::String(_))
}

fn is_strings(value: &Value) -> bool {
    matches!(value, Value::Array(items) if items.iter().all(is_string))
}

fn is_u64(value: &Value) -> bool {
    matches!(value, Value::Number(n) if n.is_u64())
}

impl WireCase {
    /// The case read directly from its members when it is plainly well-formed: every
    /// member known and of its type, no `null`, an `expect` of a claim or chain case.
    /// Anything else is handed back for serde, whose messages the manifest errors keep.
    /// Both give the same `WireCase` for the values this accepts.
    fn from_plain(value: Value) -> Result<Self, Value> {
        let Value::Object(members) = &value else {
            return Err(value);
        };
        let plain_expect = |expect: &Value| {
            match expect {
            Value::Object(expect) => expect.iter().all(|(name, v)| match name.as_str() {
                "chain" => is_string(v),
                "length" => is_u64(v),
                "outcomes" => matches!(v, Value::Array(items) if items.iter().all(|item| matches!(item,
                    Value::Object(verdict) if verdict.contains_key("outcome") && verdict.iter().all(|(n, v)| (n == "outcome" || n == "reason") && is_string(v))))),
                _ => false,
            }),
            _ => false,
        }
        };
        let plain = ["id", "kind", "expect"]
            .iter()
            .all(|name| members.contains_key(*name))
            && members.iter().all(|(name, v)| match name.as_str() {
                "id" | "kind" | "description" | "input" | "subject" | "bundle" | "target" => {
                    is_string(v)
                }
                "requirements" | "chains" => is_strings(v),
                "at" => is_u64(v),
                "expect" => plain_expect(v),
                _ => false,
            });
        if !plain {
            return Err(value);
        }
        let Value::Object(members) = value else {
            return Err(value);
        };
        let mut wire = WireCase {
            id: String::new(),
            kind: String::new(),
            description: None,
            requirements: Vec::new(),
            input: None,
            chains: Vec::new(),
            subject: None,
            bundle: None,
            target: None,
            at: None,
            expect: WireExpect {
                outcomes: None,
                chain: None,
                length: None,
                outcome: None,
                reason: None,
                proofs: None,
                rejected: None,
                identities: None,
            },
        };
        let strings = |v: Value| match v {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|s| take_string(s).ok())
                .collect(),
            _ => Vec::new(),
        };
        for (name, v) in members {
            match name.as_str() {
                "id" => wire.id = take_string(v)?,
                "kind" => wire.kind = take_string(v)?,
                "description" => wire.description = Some(take_string(v)?),
                "input" => wire.input = Some(take_string(v)?),
                "subject" => wire.subject = Some(take_string(v)?),
                "bundle" => wire.bundle = Some(take_string(v)?),
                "target" => wire.target = Some(take_string(v)?),
                "requirements" => wire.requirements = strings(v),
                "chains" => wire.chains = strings(v),
                "at" => wire.at = v.as_u64(),
                _ => {
                    let Value::Object(expect) = v else {
                        return Err(v);
                    };
                    for (name, v) in expect {
                        match name.as_str() {
                            "chain" => wire.expect.chain = Some(take_string(v)?),
                            "length" => wire.expect.length = v.as_u64(),
                            _ => {
                                let Value::Array(items) = v else {
                                    return Err(v);
                                };
                                let mut outcomes = Vec::with_capacity(items.len());
                                for item in items {
                                    let Value::Object(mut verdict) = item else {
                                        return Err(item);
                                    };
                                    let outcome =
                                        verdict.remove("outcome").map(take_string).transpose()?;
                                    outcomes.push(WireVerdict {
                                        outcome: outcome.unwrap_or_default(),
                                        reason: verdict
                                            .remove("reason")
                                            .map(take_string)
                                            .transpose()?,
                                    });
                                }
                                wire.expect.outcomes = Some(outcomes);
                            }
                        }
                    }
                }
            }
        }
        Ok(wire)
    }
}

impl WireExpect {
    fn has_claim_or_chain_members(&self) -> bool {
        self.outcomes.is_some() || self.chain.is_some() || self.length.is_some()
    }

    fn has_evidence_members(&self) -> bool {
        self.outcome.is_some()
            || self.reason.is_some()
            || self.proofs.is_some()
            || self.rejected.is_some()
            || self.identities.is_some()
    }
}

/// One identity of a key's graph in an evidence case's `expect.identities`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLinked {
    identity: String,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    proofs: Vec<WireProof>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<WireRejected>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireProof {
    location: String,
    outcomes: Vec<WireVerdict>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRejected {
    location: String,
    reason: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireVerdict {
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

const OUTCOMES: [Outcome; 6] = [
    Outcome::Invalid,
    Outcome::Fork,
    Outcome::Revoked,
    Outcome::Expired,
    Outcome::Unreachable,
    Outcome::Valid,
];

const REASONS: [InvalidReason; 14] = [
    InvalidReason::Malformed,
    InvalidReason::Unsupported,
    InvalidReason::BadSignature,
    InvalidReason::WrongSubject,
    InvalidReason::UnknownKey,
    InvalidReason::DeviceKey,
    InvalidReason::KeyRetired,
    InvalidReason::KeyNotYetValid,
    InvalidReason::NotYetValid,
    InvalidReason::NotBound,
    InvalidReason::NotYetPublished,
    InvalidReason::PublishedBeforeKey,
    InvalidReason::PublishedAfterRevocation,
    InvalidReason::BadChain,
];

/// Parses an outcome name (SPEC.md §8.1).
pub fn parse_outcome(name: &str) -> Option<Outcome> {
    OUTCOMES.into_iter().find(|o| o.name() == name)
}

/// Parses an invalid reason name (SPEC.md §8.2).
pub fn parse_reason(name: &str) -> Option<InvalidReason> {
    REASONS.into_iter().find(|r| r.name() == name)
}

fn found(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn check_time(at: &str, t: u64) -> Result<u64, ManifestError> {
    if t > MAX_SAFE_INTEGER {
        return Err(ManifestError::invalid(
            at,
            format!("time {t} is above 2^53 - 1 (SPEC.md §2.3)"),
        ));
    }
    Ok(t)
}

fn take_text(
    object: &mut serde_json::Map<String, Value>,
    member: &'static str,
    max: usize,
) -> Result<String, ManifestError> {
    match object.remove(member) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(s),
        Some(other) => Err(ManifestError::invalid(
            member,
            format!("expected 1 to {max} bytes of text, found {}", found(&other)),
        )),
        None => Err(ManifestError::invalid(member, "member is missing")),
    }
}

impl Manifest {
    /// Parses `manifest.json` bytes (see the module docs for the checks and their order).
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        Self::from_value(json::parse_strict(bytes)?)
    }

    /// Checks a strictly parsed manifest value.
    pub fn from_value(value: Value) -> Result<Self, ManifestError> {
        let Value::Object(mut object) = value else {
            return Err(ManifestError::invalid(
                "top level",
                format!("expected an object, found {}", found(&value)),
            ));
        };
        match object.get("schema") {
            Some(Value::String(s)) if s == SCHEMA => {}
            Some(other) => {
                return Err(ManifestError::Schema {
                    found: found(other),
                })
            }
            None => {
                return Err(ManifestError::Schema {
                    found: "missing".into(),
                })
            }
        }
        match object.get("spec") {
            Some(Value::String(s)) if s == SPEC_VERSION => {}
            Some(other) => {
                return Err(ManifestError::Spec {
                    found: found(other),
                })
            }
            None => return Err(ManifestError::invalid("spec", "member is missing")),
        }
        if let Some(unknown) = object.keys().find(|k| !TOP_MEMBERS.contains(&k.as_str())) {
            return Err(ManifestError::invalid(
                "top level",
                format!(
                    "unknown member {:?} (expected {})",
                    unknown.chars().take(40).collect::<String>(),
                    TOP_MEMBERS.join(", ")
                ),
            ));
        }
        let name = take_text(&mut object, "name", 128)?;
        let version = take_text(&mut object, "version", 64)?;
        let at = match object.get("at") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(t) => check_time("at", t)?,
                None => {
                    return Err(ManifestError::invalid(
                        "at",
                        format!("expected Unix seconds, found {n}"),
                    ))
                }
            },
            Some(other) => {
                return Err(ManifestError::invalid(
                    "at",
                    format!("expected Unix seconds, found {}", found(other)),
                ))
            }
            None => return Err(ManifestError::invalid("at", "member is missing")),
        };
        let listed = match object.remove("files") {
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(ManifestError::invalid(
                    "files",
                    format!(
                        "expected an object of paths and digests, found {}",
                        found(&other)
                    ),
                ))
            }
            None => return Err(ManifestError::invalid("files", "member is missing")),
        };
        // Two listed names can differ only in letter case only if one of them has an
        // upper-case letter (the listed names are distinct): without any, there is nothing
        // to fold.
        let fold = listed
            .keys()
            .any(|k| k.bytes().any(|b| b.is_ascii_uppercase()));
        // `listed` iterates in path order, so the map is built in one sorted pass.
        let mut files = Vec::with_capacity(listed.len());
        let mut folded = BTreeMap::new();
        for (text, digest) in listed {
            let p = SuitePath::parse_owned(text).map_err(|(error, text)| ManifestError::Path {
                at: format!("files[{text:?}]"),
                error,
            })?;
            let text = p.as_str();
            let where_ = || format!("files[{text:?}]");
            let d = match &digest {
                Value::String(d) => Digest256::parse(d),
                _ => None,
            }
            .ok_or_else(|| {
                ManifestError::invalid(
                    where_(),
                    format!(
                        "expected \"sha256:\" and 64 lowercase hex digits, found {}",
                        found(&digest)
                    ),
                )
            })?;
            // Two names that differ only in case are one file on some file systems.
            if fold {
                if let Some(other) = folded.insert(text.to_ascii_lowercase(), p.clone()) {
                    return Err(ManifestError::invalid(
                        where_(),
                        format!("differs from {:?} only in letter case", other.as_str()),
                    ));
                }
            }
            files.push((p, d));
        }
        let files: BTreeMap<SuitePath, Digest256> = files.into_iter().collect();
        let wire_cases = match object.remove("cases") {
            Some(Value::Array(cases)) => cases,
            Some(other) => {
                return Err(ManifestError::invalid(
                    "cases",
                    format!("expected an array, found {}", found(&other)),
                ))
            }
            None => return Err(ManifestError::invalid("cases", "member is missing")),
        };
        let mut cases = Vec::with_capacity(wire_cases.len());
        let mut ids = HashSet::with_capacity(wire_cases.len());
        for (i, value) in wire_cases.into_iter().enumerate() {
            let case = parse_case(i, value, &files)?;
            if !ids.insert(case.id.clone()) {
                return Err(ManifestError::invalid(
                    format!("cases[{i}] ({})", case.id),
                    "the id is used by an earlier case",
                ));
            }
            cases.push(case);
        }
        Ok(Manifest {
            name,
            version,
            at,
            files,
            cases,
        })
    }

    /// The evaluation time of `case`: its own, or the suite's.
    pub fn at_of(&self, case: &Case) -> u64 {
        case.at.unwrap_or(self.at)
    }

    /// The listed files of the evidence bundle in the folder `bundle`, with their paths
    /// relative to it (`bundle.json`, `bodies/<sha256 hex>`).
    pub fn bundle_files<'a>(
        &'a self,
        bundle: &SuitePath,
    ) -> impl Iterator<Item = (&'a SuitePath, &'a str)> + 'a {
        bundle_files(&self.files, bundle)
    }

    fn to_wire(&self) -> WireManifest {
        WireManifest {
            schema: SCHEMA.into(),
            name: self.name.clone(),
            version: self.version.clone(),
            spec: SPEC_VERSION.into(),
            at: self.at,
            files: self
                .files
                .iter()
                .map(|(p, d)| (p.to_string(), d.to_string()))
                .collect(),
            cases: self.cases.iter().map(case_to_wire).collect(),
        }
    }

    /// The manifest as a JSON value in the wire form [`Manifest::parse`] reads.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self.to_wire()).unwrap_or(Value::Null)
    }

    /// The manifest as pretty-printed JSON with a final newline: the form `manifest.json`
    /// is written in (the signature covers its JCS form, so layout does not matter).
    pub fn to_pretty_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(&self.to_wire()).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

pub(crate) fn parse_case(
    i: usize,
    value: Value,
    files: &BTreeMap<SuitePath, Digest256>,
) -> Result<Case, ManifestError> {
    // Where the case is, for error messages only: built when an error is.
    let at = |value: &Value| {
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .map(|s| format!(" ({})", s.chars().take(80).collect::<String>()))
            .unwrap_or_default();
        format!("cases[{i}]{id}")
    };
    match value.get("kind") {
        Some(Value::String(k)) if KNOWN_KINDS.contains(&k.as_str()) => {}
        Some(Value::String(k)) => {
            return Err(ManifestError::UnsupportedKind {
                at: at(&value),
                kind: k.chars().take(40).collect(),
            })
        }
        Some(other) => {
            return Err(ManifestError::invalid(
                format!("{}.kind", at(&value)),
                format!(
                    "expected \"claim\", \"chain\" or \"evidence\", found {}",
                    found(other)
                ),
            ))
        }
        None => {
            return Err(ManifestError::invalid(
                at(&value),
                "member \"kind\" is missing",
            ))
        }
    }
    let wire: WireCase = match WireCase::from_plain(value) {
        Ok(wire) => wire,
        Err(value) => match serde_json::from_value(value) {
            Ok(wire) => wire,
            Err(e) => return Err(ManifestError::invalid(format!("cases[{i}]"), e.to_string())),
        },
    };
    check_wire_case(i, wire, files)
}

/// The checks of a case once its members are read (`kind` is known to be one of
/// [`KNOWN_KINDS`]).
fn check_wire_case(
    i: usize,
    wire: WireCase,
    files: &BTreeMap<SuitePath, Digest256>,
) -> Result<Case, ManifestError> {
    let at = || {
        format!(
            "cases[{i}] ({})",
            wire.id.chars().take(80).collect::<String>()
        )
    };
    if wire.id.is_empty()
        || wire.id.len() > 200
        || wire.id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ManifestError::invalid(
            format!("{}.id", at()),
            "expected 1 to 200 bytes without spaces or control characters",
        ));
    }
    let listed = |field: &str, text: &str| -> Result<SuitePath, ManifestError> {
        // A listed name is a valid path whose text is itself.
        if let Some((p, _)) = files.get_key_value(text) {
            return Ok(p.clone());
        }
        let p = SuitePath::parse(text).map_err(|error| ManifestError::Path {
            at: format!("{}.{field}", at()),
            error,
        })?;
        if !files.contains_key(&p) {
            return Err(ManifestError::invalid(
                format!("{}.{field}", at()),
                format!("{p} is not listed in \"files\""),
            ));
        }
        Ok(p)
    };
    let chains = wire
        .chains
        .iter()
        .map(|c| listed("chains", c))
        .collect::<Result<Vec<_>, _>>()?;
    let case_at = wire
        .at
        .map(|t| check_time(&format!("{}.at", at()), t))
        .transpose()?;
    let expect_at = || format!("{}.expect", at());
    if wire.kind != "evidence" {
        if wire.bundle.is_some() || wire.target.is_some() {
            return Err(ManifestError::invalid(
                at(),
                "only an evidence case has \"bundle\" and \"target\"",
            ));
        }
        if wire.expect.has_evidence_members() {
            return Err(ManifestError::invalid(
                expect_at(),
                format!(
                    "a {} case expects none of outcome, reason, proofs, rejected, identities",
                    wire.kind
                ),
            ));
        }
    }
    let body = match wire.kind.as_str() {
        "evidence" => {
            if wire.input.is_some() || wire.subject.is_some() || !chains.is_empty() {
                return Err(ManifestError::invalid(
                    at(),
                    "an evidence case has no \"input\", \"chains\" or \"subject\": the bundle holds its evidence",
                ));
            }
            let bundle = wire.bundle.as_deref().ok_or_else(|| {
                ManifestError::invalid(at(), "an evidence case names its \"bundle\" folder")
            })?;
            let bundle = SuitePath::parse(bundle).map_err(|error| ManifestError::Path {
                at: format!("{}.bundle", at()),
                error,
            })?;
            check_bundle_files(files, &bundle)
                .map_err(|message| ManifestError::invalid(format!("{}.bundle", at()), message))?;
            let target = wire.target.as_deref().ok_or_else(|| {
                ManifestError::invalid(
                    at(),
                    "an evidence case names its \"target\" (an identity or a key)",
                )
            })?;
            let target = EvidenceTarget::parse(target)
                .map_err(|e| ManifestError::invalid(format!("{}.target", at()), e))?;
            if wire.expect.has_claim_or_chain_members() {
                return Err(ManifestError::invalid(
                    expect_at(),
                    "an evidence case expects none of outcomes, chain, length",
                ));
            }
            let expect = evidence_expectation(&expect_at(), &target, wire.expect)?;
            CaseBody::Evidence {
                bundle,
                target,
                expect,
            }
        }
        "claim" => {
            let input = wire
                .input
                .as_deref()
                .ok_or_else(|| ManifestError::invalid(at(), "a claim case names its \"input\""))?;
            let input = listed("input", input)?;
            let subject = wire
                .subject
                .as_deref()
                .map(|s| {
                    Identity::parse(s).map_err(|e| {
                        ManifestError::invalid(format!("{}.subject", at()), e.to_string())
                    })
                })
                .transpose()?;
            let (Some(outcomes), None, None) = (
                &wire.expect.outcomes,
                &wire.expect.chain,
                wire.expect.length,
            ) else {
                return Err(ManifestError::invalid(
                    expect_at(),
                    "a claim case expects {\"outcomes\": [...]} and nothing else",
                ));
            };
            if outcomes.is_empty() {
                return Err(ManifestError::invalid(
                    expect_at(),
                    "expected at least one outcome (one per claim in the input)",
                ));
            }
            let expect = outcomes
                .iter()
                .enumerate()
                .map(|(j, v)| expected_verdict(|| format!("{}.outcomes[{j}]", expect_at()), v))
                .collect::<Result<Vec<_>, _>>()?;
            CaseBody::Claim {
                input,
                chains,
                subject,
                expect,
            }
        }
        _ => {
            debug_assert_eq!(wire.kind, "chain");
            if wire.input.is_some() || wire.subject.is_some() {
                return Err(ManifestError::invalid(
                    at(),
                    "a chain case has no \"input\" or \"subject\"",
                ));
            }
            if chains.is_empty() {
                return Err(ManifestError::invalid(
                    at(),
                    "a chain case names at least one file in \"chains\"",
                ));
            }
            let expect = match (
                wire.expect.outcomes.is_some(),
                wire.expect.chain.as_deref(),
                wire.expect.length,
            ) {
                (false, Some("ok"), Some(length)) => ChainExpectation::Ok { length },
                (false, Some("malformed"), None) => ChainExpectation::Malformed,
                (false, Some("bad_signature"), None) => ChainExpectation::BadSignature,
                (false, Some("fork"), None) => ChainExpectation::Fork,
                _ => {
                    return Err(ManifestError::invalid(
                        expect_at(),
                        "a chain case expects {\"chain\": \"ok\", \"length\": n} or {\"chain\": \"malformed\" | \"bad_signature\" | \"fork\"}",
                    ))
                }
            };
            CaseBody::Chain { chains, expect }
        }
    };
    Ok(Case {
        id: wire.id,
        description: wire.description,
        requirements: wire.requirements,
        at: case_at,
        body,
    })
}

/// The listed files under the folder `bundle`, with their paths relative to it.
fn bundle_files<'a>(
    files: &'a BTreeMap<SuitePath, Digest256>,
    bundle: &SuitePath,
) -> impl Iterator<Item = (&'a SuitePath, &'a str)> + 'a {
    let prefix = format!("{bundle}/");
    let skip = prefix.len();
    files
        .range(bundle.clone()..)
        .map(|(path, _)| path)
        .skip_while(move |path| path.as_str() < prefix.as_str())
        .take_while({
            let prefix = format!("{bundle}/");
            move |path| path.as_str().starts_with(&prefix)
        })
        .map(move |path| (path, &path.as_str()[skip..]))
}

/// A bundle folder holds `bundle.json` and files in `bodies/`, and nothing else.
fn check_bundle_files(
    files: &BTreeMap<SuitePath, Digest256>,
    bundle: &SuitePath,
) -> Result<(), String> {
    if files.contains_key(bundle) {
        return Err(format!("{bundle} is a file; a bundle is a folder"));
    }
    let mut index = false;
    for (path, relative) in bundle_files(files, bundle) {
        match relative.split_once('/') {
            None if relative == BUNDLE_INDEX => index = true,
            Some((BUNDLE_BODIES, name)) if !name.contains('/') => {}
            _ => {
                return Err(format!(
                    "{path}: a bundle folder holds only {BUNDLE_INDEX} and {BUNDLE_BODIES}/<sha256 hex> (docs/EVIDENCE.md)"
                ))
            }
        }
    }
    if !index {
        return Err(format!(
            "{bundle}/{BUNDLE_INDEX} is not listed in \"files\""
        ));
    }
    Ok(())
}

/// An identity outcome and its reason: the reason is present exactly when the outcome is
/// `invalid`, and is a name (`no_proof`, `wrong_publisher`, an SPEC.md §8.2 reason).
fn identity_outcome(
    at: &str,
    outcome: Option<&str>,
    reason: Option<String>,
) -> Result<(Outcome, Option<String>), ManifestError> {
    let outcome =
        outcome.ok_or_else(|| ManifestError::invalid(at, "member \"outcome\" is missing"))?;
    let outcome = parse_outcome(outcome).ok_or_else(|| {
        ManifestError::invalid(
            at,
            format!("unknown outcome {:?} (expected valid, revoked, expired, unreachable, fork or invalid)", outcome),
        )
    })?;
    match (outcome, reason) {
        (Outcome::Invalid, Some(reason)) => {
            let ok = !reason.is_empty()
                && reason.len() <= 64
                && reason
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(ManifestError::invalid(
                    at,
                    format!(
                        "reason {:?}: expected a name such as no_proof or bad_signature",
                        reason.chars().take(40).collect::<String>()
                    ),
                ));
            }
            Ok((outcome, Some(reason)))
        }
        (Outcome::Invalid, None) => Err(ManifestError::invalid(
            at,
            "an invalid outcome names its reason",
        )),
        (_, Some(_)) => Err(ManifestError::invalid(
            at,
            "only an invalid outcome has a reason",
        )),
        (_, None) => Ok((outcome, None)),
    }
}

fn identity_expectation(
    at: &str,
    outcome: Option<&str>,
    reason: Option<String>,
    proofs: Vec<WireProof>,
    rejected: Vec<WireRejected>,
) -> Result<IdentityExpectation, ManifestError> {
    let (outcome, reason) = identity_outcome(at, outcome, reason)?;
    let proofs = proofs
        .into_iter()
        .enumerate()
        .map(|(j, proof)| {
            let place = format!("{at}.proofs[{j}]");
            if proof.location.is_empty() {
                return Err(ManifestError::invalid(place, "the location is empty"));
            }
            if proof.outcomes.is_empty() {
                return Err(ManifestError::invalid(
                    place,
                    "expected at least one outcome (one per claim in the proof)",
                ));
            }
            let outcomes = proof
                .outcomes
                .iter()
                .enumerate()
                .map(|(k, v)| expected_verdict(|| format!("{place}.outcomes[{k}]"), v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ProofExpectation {
                location: proof.location,
                outcomes,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rejected = rejected
        .into_iter()
        .map(|r| RejectedExpectation {
            location: r.location,
            reason: r.reason,
        })
        .collect();
    Ok(IdentityExpectation {
        outcome,
        reason,
        proofs,
        rejected,
    })
}

fn evidence_expectation(
    at: &str,
    target: &EvidenceTarget,
    wire: WireExpect,
) -> Result<EvidenceExpectation, ManifestError> {
    match target {
        EvidenceTarget::Identity(_) => {
            if wire.identities.is_some() {
                return Err(ManifestError::invalid(
                    at,
                    "an identity target expects {\"outcome\", \"proofs\": [...]}; \"identities\" is for a key target",
                ));
            }
            let proofs = wire.proofs.ok_or_else(|| {
                ManifestError::invalid(
                    at,
                    "member \"proofs\" is missing (an empty list when none is expected)",
                )
            })?;
            identity_expectation(
                at,
                wire.outcome.as_deref(),
                wire.reason,
                proofs,
                wire.rejected.unwrap_or_default(),
            )
            .map(EvidenceExpectation::Identity)
        }
        EvidenceTarget::Key(_) => {
            if wire.proofs.is_some() || wire.rejected.is_some() || wire.reason.is_some() {
                return Err(ManifestError::invalid(
                    at,
                    "a key target expects {\"outcome\", \"identities\": [...]}; proofs belong to each identity",
                ));
            }
            let outcome = wire
                .outcome
                .as_deref()
                .ok_or_else(|| ManifestError::invalid(at, "member \"outcome\" is missing"))?;
            let outcome = parse_outcome(outcome).ok_or_else(|| {
                ManifestError::invalid(at, format!("unknown outcome {outcome:?}"))
            })?;
            let identities = wire
                .identities
                .ok_or_else(|| ManifestError::invalid(at, "member \"identities\" is missing"))?
                .into_iter()
                .enumerate()
                .map(|(j, linked)| {
                    let place = format!("{at}.identities[{j}]");
                    let identity = Identity::parse(&linked.identity)
                        .map_err(|e| ManifestError::invalid(&place, e.to_string()))?;
                    let expect = identity_expectation(
                        &place,
                        Some(&linked.outcome),
                        linked.reason,
                        linked.proofs,
                        linked.rejected,
                    )?;
                    Ok(LinkedIdentityExpectation { identity, expect })
                })
                .collect::<Result<Vec<_>, ManifestError>>()?;
            Ok(EvidenceExpectation::Key {
                outcome,
                identities,
            })
        }
    }
}

fn expected_verdict(
    at: impl Fn() -> String,
    wire: &WireVerdict,
) -> Result<ExpectedVerdict, ManifestError> {
    let outcome = parse_outcome(&wire.outcome).ok_or_else(|| {
        ManifestError::invalid(
            at(),
            format!(
                "unknown outcome {:?} (expected valid, revoked, expired, unreachable, fork or invalid)",
                wire.outcome
            ),
        )
    })?;
    let reason = match (outcome, wire.reason.as_deref()) {
        (Outcome::Invalid, Some(name)) => Some(parse_reason(name).ok_or_else(|| {
            ManifestError::invalid(at(), format!("unknown reason {name:?} (SPEC.md §8.2)"))
        })?),
        (Outcome::Invalid, None) => {
            return Err(ManifestError::invalid(
                at(),
                "an invalid outcome names its reason",
            ))
        }
        (_, Some(_)) => {
            return Err(ManifestError::invalid(
                at(),
                "only an invalid outcome has a reason",
            ))
        }
        (_, None) => None,
    };
    Ok(ExpectedVerdict { outcome, reason })
}

fn wire_verdicts(expect: &[ExpectedVerdict]) -> Vec<WireVerdict> {
    expect
        .iter()
        .map(|v| WireVerdict {
            outcome: v.outcome.name().into(),
            reason: v.reason.map(|r| r.name().into()),
        })
        .collect()
}

fn wire_proofs(e: &IdentityExpectation) -> (Vec<WireProof>, Vec<WireRejected>) {
    (
        e.proofs
            .iter()
            .map(|p| WireProof {
                location: p.location.clone(),
                outcomes: wire_verdicts(&p.outcomes),
            })
            .collect(),
        e.rejected
            .iter()
            .map(|r| WireRejected {
                location: r.location.clone(),
                reason: r.reason.clone(),
            })
            .collect(),
    )
}

fn empty_expect() -> WireExpect {
    WireExpect {
        outcomes: None,
        chain: None,
        length: None,
        outcome: None,
        reason: None,
        proofs: None,
        rejected: None,
        identities: None,
    }
}

fn evidence_to_wire(expect: &EvidenceExpectation) -> WireExpect {
    let mut wire = empty_expect();
    wire.outcome = Some(expect.outcome().name().into());
    match expect {
        EvidenceExpectation::Identity(e) => {
            let (proofs, rejected) = wire_proofs(e);
            wire.reason = e.reason.clone();
            wire.proofs = Some(proofs);
            wire.rejected = (!rejected.is_empty()).then_some(rejected);
        }
        EvidenceExpectation::Key { identities, .. } => {
            wire.identities = Some(
                identities
                    .iter()
                    .map(|linked| {
                        let (proofs, rejected) = wire_proofs(&linked.expect);
                        WireLinked {
                            identity: linked.identity.to_string(),
                            outcome: linked.expect.outcome.name().into(),
                            reason: linked.expect.reason.clone(),
                            proofs,
                            rejected,
                        }
                    })
                    .collect(),
            );
        }
    }
    wire
}

fn case_to_wire(case: &Case) -> WireCase {
    let mut bundle_and_target = None;
    let (input, chains, subject, expect) = match &case.body {
        CaseBody::Claim {
            input,
            chains,
            subject,
            expect,
        } => (
            Some(input.to_string()),
            chains.as_slice(),
            subject.as_ref().map(ToString::to_string),
            WireExpect {
                outcomes: Some(wire_verdicts(expect)),
                ..empty_expect()
            },
        ),
        CaseBody::Chain { chains, expect } => (
            None,
            chains.as_slice(),
            None,
            WireExpect {
                chain: Some(expect.name().into()),
                length: match expect {
                    ChainExpectation::Ok { length } => Some(*length),
                    _ => None,
                },
                ..empty_expect()
            },
        ),
        CaseBody::Evidence {
            bundle,
            target,
            expect,
        } => {
            bundle_and_target = Some((bundle.to_string(), target.to_string()));
            (None, &[][..], None, evidence_to_wire(expect))
        }
    };
    let (bundle, target) = bundle_and_target.unzip();
    WireCase {
        id: case.id.clone(),
        kind: case.body.kind().into(),
        description: case.description.clone(),
        requirements: case.requirements.clone(),
        input,
        chains: chains.iter().map(ToString::to_string).collect(),
        subject,
        bundle,
        target,
        at: case.at,
        expect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest() -> String {
        Digest256::of(b"x").to_string()
    }

    fn sample() -> Value {
        json!({
            "schema": SCHEMA,
            "name": "t",
            "version": "1",
            "spec": "0.2",
            "at": 1767312000u64,
            "files": { "c/claim.json": digest(), "c/chain.jsonl": digest() },
            "cases": [
                { "id": "c", "kind": "claim", "input": "c/claim.json", "chains": ["c/chain.jsonl"],
                  "subject": "github:jason", "at": 5,
                  "expect": { "outcomes": [ { "outcome": "valid" },
                                            { "outcome": "invalid", "reason": "bad_signature" } ] } },
                { "id": "d", "kind": "chain", "chains": ["c/chain.jsonl"],
                  "expect": { "chain": "ok", "length": 3 } },
                { "id": "e", "kind": "chain", "chains": ["c/chain.jsonl"],
                  "expect": { "chain": "fork" } }
            ]
        })
    }

    fn error_of(value: Value) -> ManifestError {
        Manifest::from_value(value).unwrap_err()
    }

    #[test]
    fn a_manifest_round_trips_through_its_wire_form() {
        let manifest = Manifest::from_value(sample()).unwrap();
        assert_eq!(manifest.cases.len(), 3);
        assert_eq!(manifest.at_of(&manifest.cases[0]), 5);
        assert_eq!(manifest.at_of(&manifest.cases[1]), 1767312000);
        assert_eq!(
            manifest.cases[2].body,
            CaseBody::Chain {
                chains: vec![SuitePath::parse("c/chain.jsonl").unwrap()],
                expect: ChainExpectation::Fork
            }
        );
        let again = Manifest::parse(&manifest.to_pretty_json()).unwrap();
        assert_eq!(again, manifest);
    }

    #[test]
    fn schema_is_checked_first_and_spec_second() {
        let mut v = sample();
        v["schema"] = json!("kez-suite/v2");
        v["spec"] = json!("0.3");
        v["bogus"] = json!(1);
        assert!(matches!(error_of(v.clone()), ManifestError::Schema { .. }));
        v["schema"] = json!(SCHEMA);
        assert!(matches!(error_of(v.clone()), ManifestError::Spec { .. }));
        v["spec"] = json!("0.2");
        assert!(error_of(v).to_string().contains("bogus"));
    }

    #[test]
    fn duplicate_members_are_refused_by_the_strict_parser() {
        let text = br#"{"schema":"kez-suite/v1","schema":"kez-suite/v1"}"#;
        assert!(matches!(Manifest::parse(text), Err(ManifestError::Json(_))));
    }

    #[test]
    fn an_unknown_case_kind_refuses_the_suite() {
        let mut v = sample();
        v["cases"][1]["kind"] = json!("nats");
        let err = error_of(v);
        assert!(
            matches!(&err, ManifestError::UnsupportedKind { kind, .. } if kind == "nats"),
            "{err}"
        );
    }

    fn with_evidence(expect: Value, target: &str) -> Value {
        let mut v = sample();
        let files = v["files"].as_object_mut().unwrap();
        files.insert("e/b/bundle.json".into(), json!(digest()));
        files.insert("e/b/bodies/ab".into(), json!(digest()));
        files.insert("e/b-x".into(), json!(digest()));
        v["cases"].as_array_mut().unwrap().push(json!({
            "id": "ev", "kind": "evidence", "bundle": "e/b", "target": target, "expect": expect
        }));
        v
    }

    #[test]
    fn evidence_cases_round_trip_for_identities_and_keys() {
        let identity = json!({"outcome": "invalid", "reason": "wrong_publisher",
            "proofs": [{"location": "https://x", "outcomes": [{"outcome": "valid"}]}],
            "rejected": [{"location": "https://y", "reason": "wrong_publisher"}]});
        let key = json!({"outcome": "valid", "identities": [
            {"identity": "github:jason", "outcome": "valid",
             "proofs": [{"location": "https://x", "outcomes": [{"outcome": "invalid", "reason": "not_yet_published"}]}]}]});
        let ed = "ed25519:ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
        for (expect, target) in [(identity, "github:jason"), (key, ed)] {
            let manifest = Manifest::from_value(with_evidence(expect, target)).unwrap();
            let case = manifest.cases.last().unwrap();
            let CaseBody::Evidence { bundle, .. } = &case.body else {
                panic!("{case:?}");
            };
            let files: Vec<&str> = manifest.bundle_files(bundle).map(|(_, r)| r).collect();
            assert_eq!(files, ["bodies/ab", "bundle.json"]);
            assert_eq!(
                Manifest::parse(&manifest.to_pretty_json()).unwrap(),
                manifest
            );
        }
    }

    #[test]
    fn bad_evidence_cases_are_refused() {
        let ok = json!({"outcome": "valid", "proofs": []});
        let ed = "ed25519:ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
        let cases: [(&str, Value, &str, &str); 7] = [
            (
                "/cases/3/bundle",
                json!("e/none"),
                "github:jason",
                "not listed",
            ),
            (
                "/cases/3/bundle",
                json!("e/b/bundle.json"),
                "github:jason",
                "is a file",
            ),
            (
                "/cases/3/expect/identities",
                json!([]),
                "github:jason",
                "key target",
            ),
            (
                "/cases/3/expect/reason",
                json!("no_proof"),
                "github:jason",
                "only an invalid",
            ),
            (
                "/cases/3/expect/outcomes",
                json!([]),
                "github:jason",
                "none of outcomes",
            ),
            ("/cases/3/target", json!("nobody"), "github:jason", "target"),
            ("/cases/3/expect/outcome", json!("valid"), ed, "identities"),
        ];
        for (pointer, replacement, target, message) in cases {
            let mut v = with_evidence(ok.clone(), target);
            set(&mut v, pointer, replacement);
            let err = error_of(v);
            assert!(err.to_string().contains(message), "{pointer}: {err}");
        }
        let mut v = with_evidence(ok.clone(), "github:jason");
        v["files"]["e/b/other.txt"] = json!(digest());
        assert!(error_of(v).to_string().contains("holds only"));
        let mut v = sample();
        v["cases"][0]["target"] = json!("github:jason");
        assert!(error_of(v).to_string().contains("only an evidence case"));
    }

    #[test]
    fn bad_expectations_are_refused_with_their_place() {
        let cases = [
            ("/cases/0/expect/outcomes/0/outcome", json!("fine")),
            ("/cases/0/expect/outcomes/1/reason", json!("bad_vibes")),
            ("/cases/0/expect/outcomes/0/reason", json!("malformed")),
            ("/cases/1/expect/length", json!(null)),
            ("/cases/2/expect/length", json!(3)),
            ("/cases/0/expect/chain", json!("ok")),
            ("/cases/0/expect/outcomes", json!([])),
        ];
        for (pointer, replacement) in cases {
            let mut v = sample();
            set(&mut v, pointer, replacement);
            let err = error_of(v);
            assert!(err.to_string().contains("expect"), "{pointer}: {err}");
        }
    }

    /// Sets the member `pointer` names (RFC 6901), adding it to its object if absent.
    fn set(v: &mut Value, pointer: &str, replacement: Value) {
        let (parent, name) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Array(items) => items[name.parse::<usize>().unwrap()] = replacement,
            Value::Object(members) => {
                members.insert(name.to_string(), replacement);
            }
            other => panic!("{parent} is {other}"),
        }
    }

    #[test]
    fn referenced_files_must_be_listed_and_paths_must_be_safe() {
        let mut v = sample();
        v["cases"][0]["input"] = json!("c/other.json");
        assert!(error_of(v).to_string().contains("not listed"));
        let mut v = sample();
        v["files"]["../escape"] = json!(digest());
        assert!(matches!(
            error_of(v),
            ManifestError::Path {
                error: PathError::Traversal(_),
                ..
            }
        ));
        let mut v = sample();
        v["files"]["/etc/passwd"] = json!(digest());
        assert!(matches!(
            error_of(v),
            ManifestError::Path {
                error: PathError::Absolute(_),
                ..
            }
        ));
        let mut v = sample();
        v["files"]["C/Claim.json"] = json!(digest());
        assert!(error_of(v).to_string().contains("letter case"));
        let mut v = sample();
        v["files"]["c/claim.json"] = json!("sha256:ABC");
        assert!(error_of(v).to_string().contains("64 lowercase hex"));
    }

    #[test]
    fn ids_are_unique_and_subjects_are_identities() {
        let mut v = sample();
        v["cases"][1]["id"] = json!("c");
        assert!(error_of(v).to_string().contains("earlier case"));
        let mut v = sample();
        v["cases"][0]["subject"] = json!("no-scheme");
        assert!(error_of(v).to_string().contains("subject"));
        let mut v = sample();
        v["cases"][1]["input"] = json!("c/claim.json");
        assert!(error_of(v).to_string().contains("no \"input\""));
    }
}
