//! Evidence cases: a recorded evidence bundle (docs/EVIDENCE.md) replayed offline
//! (docs/SUITES.md, "Evidence cases"; SPEC.md §11).
//!
//! An evidence case names a bundle folder inside the suite, a target (an identity such as
//! `github:jason`, or a key and the identities its sigchain links) and the report it
//! expects. Replaying it is `kez-verify id TARGET --replay BUNDLE --at T`, with everything
//! taken from the suite:
//!
//! - the bundle is read from the suite's checked bytes ([`kez_net::Bundle::from_files`]), so
//!   the bytes the manifest pins are the bytes replayed;
//! - its `context` (written by `kez-verify id --record`) gives the channel endpoints (such
//!   as the GitHub API base URL the recording used) and the sigchain sources, so the same
//!   requests are made and answered from the bundle; it must name the case's target;
//! - the registry is [`kez_channels::default_registry`] over those endpoints; recordings
//!   that used out-of-process plugins are refused (a plugin is not part of the suite);
//! - [`kez_id::Verifier`] runs over [`kez_net::ReplayNet`] as of the case's time T, on a
//!   current-thread runtime (replay does no I/O).
//!
//! A request the bundle does not hold fails the case with kind `not_recorded` (never a
//! verdict, never a panic), as `kez-verify id --replay` exits 2 on it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kez_channel::{Bytes, Net};
use kez_channels::ChannelsConfig;
use kez_core::verdict::Outcome;
use kez_id::{ChainSources, IdentityReport, Verifier, VerifyError};
use kez_net::{Bundle, ReplayNet};
use serde::Deserialize;

use crate::integrity::Contents;
use crate::manifest::{
    EvidenceExpectation, EvidenceTarget, IdentityExpectation, Manifest, BUNDLE_BODIES, BUNDLE_INDEX,
};
use crate::path::SuitePath;
use crate::replay::ObservedVerdict;

/// What `kez-verify id --record` writes as a bundle's `context` (docs/EVIDENCE.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    command: String,
    target: String,
    #[allow(dead_code)] // the case's time is used, as `--at` would be
    at: u64,
    channels: ChannelsConfig,
    sources: ChainSources,
    plugins: Vec<String>,
}

/// One proof as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedProof {
    /// Where the channel found it.
    pub location: String,
    /// One verdict per claim in it.
    pub verdicts: Vec<ObservedVerdict>,
}

/// One proof the channel rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRejected {
    /// Where it was found.
    pub location: String,
    /// The rule it broke.
    pub reason: String,
    /// What exactly was wrong.
    pub detail: String,
}

/// One identity's report as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedIdentity {
    /// The identity.
    pub identity: String,
    /// Its overall outcome.
    pub outcome: Outcome,
    /// The reason, when invalid.
    pub reason: Option<String>,
    /// One sentence saying why.
    pub detail: String,
    /// The proofs found.
    pub proofs: Vec<ObservedProof>,
    /// The proofs rejected.
    pub rejected: Vec<ObservedRejected>,
}

impl ObservedIdentity {
    fn of(report: &IdentityReport) -> Self {
        Self {
            identity: report.identity.clone(),
            outcome: report.outcome,
            reason: report.reason.clone(),
            detail: report.detail.clone(),
            proofs: report
                .proofs
                .iter()
                .map(|p| ObservedProof {
                    location: p.location.clone(),
                    verdicts: p.verdicts.iter().map(ObservedVerdict::of).collect(),
                })
                .collect(),
            rejected: report
                .rejected
                .iter()
                .map(|r| ObservedRejected {
                    location: r.location.clone(),
                    reason: r.reason.name().to_string(),
                    detail: r.detail.clone(),
                })
                .collect(),
        }
    }

    /// Whether this is what `expect` expects.
    pub fn matches(&self, expect: &IdentityExpectation) -> bool {
        self.outcome == expect.outcome
            && self.reason == expect.reason
            && self.proofs.len() == expect.proofs.len()
            && self.proofs.iter().zip(&expect.proofs).all(|(got, want)| {
                got.location == want.location
                    && got.verdicts.len() == want.outcomes.len()
                    && got
                        .verdicts
                        .iter()
                        .zip(&want.outcomes)
                        .all(|(g, w)| g.verdict() == *w)
            })
            && self.rejected.len() == expect.rejected.len()
            && self
                .rejected
                .iter()
                .zip(&expect.rejected)
                .all(|(got, want)| got.location == want.location && got.reason == want.reason)
    }
}

/// What replaying an evidence case observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedEvidence {
    /// An identity's report.
    Identity(ObservedIdentity),
    /// A key's graph.
    Key {
        /// The graph's outcome.
        outcome: Outcome,
        /// One sentence saying why.
        detail: String,
        /// Every identity verified.
        identities: Vec<ObservedIdentity>,
    },
}

impl ObservedEvidence {
    /// The overall outcome.
    pub fn outcome(&self) -> Outcome {
        match self {
            ObservedEvidence::Identity(i) => i.outcome,
            ObservedEvidence::Key { outcome, .. } => *outcome,
        }
    }

    /// Whether this is what `expect` expects.
    pub fn matches(&self, expect: &EvidenceExpectation) -> bool {
        match (self, expect) {
            (ObservedEvidence::Identity(got), EvidenceExpectation::Identity(want)) => {
                got.matches(want)
            }
            (
                ObservedEvidence::Key {
                    outcome,
                    identities,
                    ..
                },
                EvidenceExpectation::Key {
                    outcome: want,
                    identities: wanted,
                },
            ) => {
                outcome == want
                    && identities.len() == wanted.len()
                    && identities.iter().zip(wanted).all(|(got, want)| {
                        got.identity == want.identity.to_string() && got.matches(&want.expect)
                    })
            }
            _ => false,
        }
    }
}

/// Why an evidence case could not be replayed to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFailure {
    /// A stable kind: `not_recorded` (the bundle lacks an answer the verification
    /// needs), `bundle` (the bundle does not read), `context` (its context is not a
    /// `kez-verify id` recording of this target without plugins) or `unknown_channel`.
    pub kind: &'static str,
    /// What exactly went wrong.
    pub detail: String,
}

impl EvidenceFailure {
    fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for EvidenceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// Reads the bundle in the folder `bundle` from the suite's checked bytes.
fn read_bundle(
    manifest: &Manifest,
    contents: &Contents,
    bundle: &SuitePath,
) -> Result<Bundle, EvidenceFailure> {
    let missing = |path: &SuitePath| {
        EvidenceFailure::new("bundle", format!("{path} is not among the checked files"))
    };
    let mut index = None;
    let mut bodies = BTreeMap::new();
    let prefix = format!("{BUNDLE_BODIES}/");
    for (path, relative) in manifest.bundle_files(bundle) {
        let bytes = contents.get(path).ok_or_else(|| missing(path))?;
        if relative == BUNDLE_INDEX {
            index = Some(bytes);
        } else if let Some(name) = relative.strip_prefix(&prefix) {
            bodies.insert(name.to_string(), Bytes::copy_from_slice(bytes));
        }
    }
    let index = index.ok_or_else(|| {
        EvidenceFailure::new("bundle", format!("{bundle}/{BUNDLE_INDEX} is not listed"))
    })?;
    Bundle::from_files(Path::new(bundle.as_str()), index, bodies)
        .map_err(|e| EvidenceFailure::new("bundle", e.to_string()))
}

fn same_target(a: &EvidenceTarget, b: &EvidenceTarget) -> bool {
    match (a, b) {
        (EvidenceTarget::Identity(a), EvidenceTarget::Identity(b)) => a == b,
        (EvidenceTarget::Key(a), EvidenceTarget::Key(b)) => a == b,
        _ => false,
    }
}

fn verify_error(error: VerifyError) -> EvidenceFailure {
    match error {
        VerifyError::NotRecorded(target) => EvidenceFailure::new(
            "not_recorded",
            format!("the evidence bundle holds no answer for {target}"),
        ),
        VerifyError::UnknownChannel { .. } => {
            EvidenceFailure::new("unknown_channel", error.to_string())
        }
        other => EvidenceFailure::new("verify", other.to_string()),
    }
}

/// Replays the evidence case on `bundle` for `target` as of `at`.
pub fn replay(
    manifest: &Manifest,
    contents: &Contents,
    bundle: &SuitePath,
    target: &EvidenceTarget,
    at: u64,
    runtime: &tokio::runtime::Runtime,
) -> Result<ObservedEvidence, EvidenceFailure> {
    let recorded = read_bundle(manifest, contents, bundle)?;
    let context: Context = serde_json::from_value(recorded.context.clone())
        .map_err(|e| EvidenceFailure::new("context", format!("{bundle}: bundle context: {e}")))?;
    if context.command != "id" {
        return Err(EvidenceFailure::new(
            "context",
            format!(
                "{bundle}: recorded by `{}`, not `id`",
                context.command.chars().take(40).collect::<String>()
            ),
        ));
    }
    let recorded_target = EvidenceTarget::parse(&context.target)
        .map_err(|e| EvidenceFailure::new("context", format!("{bundle}: target {e}")))?;
    if !same_target(&recorded_target, target) {
        return Err(EvidenceFailure::new(
            "context",
            format!(
                "{bundle}: the bundle records `id {}`, not `id {target}`",
                context.target
            ),
        ));
    }
    if !context.plugins.is_empty() {
        return Err(EvidenceFailure::new(
            "context",
            format!(
                "{bundle}: recorded with out-of-process plugins ({}), which a suite cannot replay",
                context.plugins.join(", ")
            ),
        ));
    }
    let registry = kez_channels::default_registry(&context.channels);
    let net: Arc<dyn Net> = Arc::new(ReplayNet::new(&recorded));
    let verifier = Verifier::new(registry, net, context.sources, at);
    match target {
        EvidenceTarget::Identity(identity) => runtime
            .block_on(verifier.identity(identity))
            .map(|report| ObservedEvidence::Identity(ObservedIdentity::of(&report)))
            .map_err(verify_error),
        EvidenceTarget::Key(key) => runtime
            .block_on(verifier.graph(key, &|_, _, _| {}))
            .map(|graph| ObservedEvidence::Key {
                outcome: graph.outcome,
                detail: graph.detail.clone(),
                identities: graph.identities.iter().map(ObservedIdentity::of).collect(),
            })
            .map_err(verify_error),
    }
}

/// A current-thread runtime for replaying evidence cases.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot start a runtime for evidence cases: {e}"))
}
