//! Verification outcomes and their evaluation (SPEC.md §8).
//!
//! [`evaluate`] takes a decoded claim, what is known of its signer's sigchain and the
//! evaluation time, and returns a [`Verdict`]: one [`Outcome`] chosen by the precedence of
//! SPEC.md §8.3 from every [`Condition`] found, and the facts SPEC.md §8.5 requires a
//! verifier to report. A `Verdict` can only be built here.

use serde::Serialize;

use crate::claim::{CheckedClaim, Claim};
use crate::identity::Identity;
use crate::sigchain::{ChainError, ChainErrorKind, ChainPoint, VerifiedChain};

/// Clock skew tolerated when comparing claim times (SPEC.md §8.4), in seconds.
pub const SKEW_SECONDS: u64 = 300;

/// The outcome of verifying one claim (SPEC.md §8.1), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The claim is not a valid claim of this identity (see [`InvalidReason`]).
    Invalid,
    /// The signer's sigchain has forked.
    Fork,
    /// The claim was revoked, or its key rotated away.
    Revoked,
    /// The claim expired.
    Expired,
    /// Evidence needed for a verdict could not be obtained.
    Unreachable,
    /// The claim holds.
    Valid,
}

impl Outcome {
    /// The outcome's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Invalid => "invalid",
            Outcome::Fork => "fork",
            Outcome::Revoked => "revoked",
            Outcome::Expired => "expired",
            Outcome::Unreachable => "unreachable",
            Outcome::Valid => "valid",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a claim is invalid (SPEC.md §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidReason {
    /// The input is not a well-formed claim in any encoding.
    Malformed,
    /// A version or form this verifier does not implement.
    Unsupported,
    /// The claim's signature does not verify under its key.
    BadSignature,
    /// The claim names another subject than the one being verified.
    WrongSubject,
    /// The claim's key never was a primary key of the sigchain.
    UnknownKey,
    /// The claim is signed by a device key; claims need a primary key.
    DeviceKey,
    /// The claim was created after its key was rotated away.
    KeyRetired,
    /// The claim was created before its key became primary.
    KeyNotYetValid,
    /// The claim was created after the evaluation time.
    NotYetValid,
    /// The sigchain was checked and binds no such claim.
    NotBound,
    /// The platform published the proof after the evaluation time (SPEC.md §11.8).
    NotYetPublished,
    /// The platform published the proof before its key became primary (SPEC.md §11.8).
    PublishedBeforeKey,
    /// The platform published the proof after the claim was revoked or its key rotated away
    /// (SPEC.md §11.8).
    PublishedAfterRevocation,
    /// The sigchain itself does not verify.
    BadChain,
}

impl InvalidReason {
    /// The reason's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            InvalidReason::Malformed => "malformed",
            InvalidReason::Unsupported => "unsupported",
            InvalidReason::BadSignature => "bad_signature",
            InvalidReason::WrongSubject => "wrong_subject",
            InvalidReason::UnknownKey => "unknown_key",
            InvalidReason::DeviceKey => "device_key",
            InvalidReason::KeyRetired => "key_retired",
            InvalidReason::KeyNotYetValid => "key_not_yet_valid",
            InvalidReason::NotYetValid => "not_yet_valid",
            InvalidReason::NotBound => "not_bound",
            InvalidReason::NotYetPublished => "not_yet_published",
            InvalidReason::PublishedBeforeKey => "published_before_key",
            InvalidReason::PublishedAfterRevocation => "published_after_revocation",
            InvalidReason::BadChain => "bad_chain",
        }
    }
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One thing found while evaluating a claim (SPEC.md §8.3 lists them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Condition {
    /// An invalidity.
    Invalid {
        /// Its kind.
        reason: InvalidReason,
        /// What exactly was wrong.
        detail: String,
    },
    /// The chain forked.
    Fork {
        /// The seq both links claim.
        seq: u64,
        /// One link's hash.
        first: String,
        /// The other's.
        second: String,
    },
    /// The claim was revoked.
    Revoked {
        /// `claim`, `subject`, `rotated`, or `retracted` (a deletion on the platform, SPEC.md
        /// §11.8-4, whose `seq` is 0: no link did it).
        by: &'static str,
        /// The revoking link.
        seq: u64,
        /// Its time.
        at: u64,
    },
    /// The claim expired.
    Expired {
        /// Its expiry time.
        expires_at: u64,
    },
    /// Evidence could not be obtained.
    Unreachable {
        /// What could not be reached.
        source: String,
        /// Why.
        detail: String,
    },
}

impl Condition {
    /// The outcome this condition leads to.
    pub fn outcome(&self) -> Outcome {
        match self {
            Condition::Invalid { .. } => Outcome::Invalid,
            Condition::Fork { .. } => Outcome::Fork,
            Condition::Revoked { .. } => Outcome::Revoked,
            Condition::Expired { .. } => Outcome::Expired,
            Condition::Unreachable { .. } => Outcome::Unreachable,
        }
    }
}

/// What is known of the signer's sigchain.
#[derive(Debug, Clone, Copy)]
pub enum ChainEvidence<'a> {
    /// No chain was consulted: the verdict covers the claim alone.
    NotChecked,
    /// The chain verified, with its state as of the evaluation time.
    Verified(&'a VerifiedChain),
    /// The chain did not verify (a fork is an error of kind fork).
    Failed(&'a ChainError),
    /// The chain could not be fetched.
    Unreachable {
        /// Where it was looked for.
        source: &'a str,
        /// Why it could not be had.
        detail: &'a str,
    },
}

/// A summary of the chain a verdict was reached with (SPEC.md §8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// The chain's root key; `None` when the evaluation time is before the chain began.
    pub root: Option<String>,
    /// The primary key as of the evaluation time; `None` before the chain began.
    pub primary: Option<String>,
    /// Number of links in the whole chain.
    pub length: u64,
    /// Hash of its last link.
    pub head: String,
}

/// The result of verifying one claim (SPEC.md §8.5). Built only by [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<InvalidReason>,
    detail: String,
    subject: String,
    key: String,
    claim_id: String,
    created_at: u64,
    expires_at: Option<u64>,
    at: u64,
    chain: Option<ChainSummary>,
    conditions: Vec<Condition>,
}

impl Verdict {
    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The reason, when the outcome is [`Outcome::Invalid`].
    pub fn reason(&self) -> Option<InvalidReason> {
        self.reason
    }

    /// A sentence saying why.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Every condition found, most severe first.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The chain the verdict was reached with, if one was checked.
    pub fn chain(&self) -> Option<&ChainSummary> {
        self.chain.as_ref()
    }

    /// The claim's subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The evaluation time.
    pub fn at(&self) -> u64 {
        self.at
    }

    /// True only for [`Outcome::Valid`].
    pub fn is_valid(&self) -> bool {
        self.outcome == Outcome::Valid
    }
}

fn invalid(reason: InvalidReason, detail: impl Into<String>) -> Condition {
    Condition::Invalid {
        reason,
        detail: detail.into(),
    }
}

/// What the channel a proof was found on says about its publication (SPEC.md §11.8): the
/// platform's own times, which the claim's signer does not control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Publication {
    /// When the platform says the proof was published (Unix seconds).
    pub published_at: Option<u64>,
    /// When the account retracted it (a deletion the platform records).
    pub retracted_at: Option<u64>,
}

/// Evaluates `claim` as of `at` (Unix seconds) against `chain` (SPEC.md §8).
///
/// `expected_subject` is the identity being verified, when the caller has one (a
/// channel fetching proofs for `github:jason`); a claim for another subject is then
/// invalid with reason `wrong_subject`.
pub fn evaluate(
    claim: &Claim,
    chain: ChainEvidence<'_>,
    at: u64,
    expected_subject: Option<&Identity>,
) -> Verdict {
    evaluate_published(claim, chain, at, expected_subject, None)
}

/// Evaluates a claim found on a channel: [`evaluate`], plus the conditions the platform's
/// evidence adds (SPEC.md §11.8): not yet published at `at`, published before the key became
/// primary, published after the claim was revoked or its key rotated away, retracted.
pub fn evaluate_published(
    claim: &Claim,
    chain: ChainEvidence<'_>,
    at: u64,
    expected_subject: Option<&Identity>,
    publication: Option<&Publication>,
) -> Verdict {
    evaluate_checked(
        &claim.check_signature(),
        chain,
        at,
        expected_subject,
        publication,
    )
}

/// [`evaluate_published`] for a claim whose signature was already checked
/// ([`Claim::check_signature`] or [`crate::claim::check_signatures`], which may batch):
/// the same verdict, without checking the signature again.
///
/// ```
/// use kez_core::{claim::ClaimBuilder, verdict, Algorithm, SecretKey};
/// let claim = ClaimBuilder::new("github:jason".parse()?, 1_767_225_600)
///     .sign(&SecretKey::generate(Algorithm::Ed25519), None)?;
/// let checked = claim.check_signature();
/// let v = verdict::evaluate_checked(&checked, verdict::ChainEvidence::NotChecked, 1_767_312_000, None, None);
/// assert_eq!(v, verdict::evaluate(&claim, verdict::ChainEvidence::NotChecked, 1_767_312_000, None));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate_checked(
    checked: &CheckedClaim<'_>,
    chain: ChainEvidence<'_>,
    at: u64,
    expected_subject: Option<&Identity>,
    publication: Option<&Publication>,
) -> Verdict {
    let claim = checked.claim();
    let mut conditions = Vec::new();
    if let Err(e) = checked.signature() {
        conditions.push(invalid(
            InvalidReason::BadSignature,
            format!("claim signature: {e}"),
        ));
    }
    if let Some(expected) = expected_subject {
        if claim.subject() != expected {
            conditions.push(invalid(
                InvalidReason::WrongSubject,
                format!("claim is for {}, not {expected}", claim.subject()),
            ));
        }
    }
    if claim.created_at() > at.saturating_add(SKEW_SECONDS) {
        conditions.push(invalid(
            InvalidReason::NotYetValid,
            format!(
                "claim created at {} is after the evaluation time {at}",
                claim.created_at()
            ),
        ));
    }
    let mut summary = None;
    match chain {
        ChainEvidence::NotChecked => {}
        ChainEvidence::Failed(error) => match error {
            ChainError::Fork { seq, first, second } => conditions.push(Condition::Fork {
                seq: *seq,
                first: first.to_string(),
                second: second.to_string(),
            }),
            other => {
                debug_assert_ne!(other.kind(), ChainErrorKind::Fork);
                conditions.push(invalid(
                    InvalidReason::BadChain,
                    format!("sigchain: {other}"),
                ));
            }
        },
        ChainEvidence::Unreachable { source, detail } => conditions.push(Condition::Unreachable {
            source: source.to_string(),
            detail: detail.to_string(),
        }),
        ChainEvidence::Verified(verified) => {
            summary = Some(summarise(verified));
            check_against_chain(claim, verified, &mut conditions);
            if let Some(publication) = publication {
                check_publication_against_chain(claim, verified, publication, &mut conditions);
            }
        }
    }
    if let Some(publication) = publication {
        check_publication(publication, at, &mut conditions);
    }
    if let Some(expires_at) = claim.expires_at() {
        if expires_at <= at {
            conditions.push(Condition::Expired { expires_at });
        }
    }
    conditions.sort_by_key(Condition::outcome);
    let (outcome, reason, detail) = match conditions.first() {
        None => (
            Outcome::Valid,
            None,
            match summary {
                Some(_) => "signature, sigchain binding and times check out".to_string(),
                None => "signature and times check out; no sigchain was checked".to_string(),
            },
        ),
        Some(first) => (first.outcome(), reason_of(first), describe(first)),
    };
    Verdict {
        outcome,
        reason,
        detail,
        subject: claim.subject().to_string(),
        key: claim.key().to_string(),
        claim_id: claim.id().to_string(),
        created_at: claim.created_at(),
        expires_at: claim.expires_at(),
        at,
        chain: summary,
        conditions,
    }
}

/// The verdict for input that did not decode to a claim: invalid, with reason
/// `malformed` or `unsupported` (SPEC.md §8.2).
pub fn undecodable(unsupported: bool, detail: impl Into<String>, at: u64) -> Verdict {
    let reason = if unsupported {
        InvalidReason::Unsupported
    } else {
        InvalidReason::Malformed
    };
    let detail = detail.into();
    Verdict {
        outcome: Outcome::Invalid,
        reason: Some(reason),
        detail: detail.clone(),
        subject: String::new(),
        key: String::new(),
        claim_id: String::new(),
        created_at: 0,
        expires_at: None,
        at,
        chain: None,
        conditions: vec![invalid(reason, detail)],
    }
}

fn reason_of(condition: &Condition) -> Option<InvalidReason> {
    match condition {
        Condition::Invalid { reason, .. } => Some(*reason),
        _ => None,
    }
}

fn describe(condition: &Condition) -> String {
    match condition {
        Condition::Invalid { detail, .. } => detail.clone(),
        Condition::Fork { seq, .. } => format!("the signer's sigchain forks at seq {seq}"),
        Condition::Revoked {
            by: "rotated", seq, ..
        } => format!("the claim's key was rotated away at seq {seq}"),
        Condition::Revoked {
            by: "retracted",
            at,
            ..
        } => format!("the account retracted the proof at {at}"),
        Condition::Revoked { by, seq, .. } => format!("revoked by {by} at seq {seq}"),
        Condition::Expired { expires_at } => format!("expired at {expires_at}"),
        Condition::Unreachable { source, detail } => format!("{source} unreachable: {detail}"),
    }
}

fn summarise(chain: &VerifiedChain) -> ChainSummary {
    let state = chain.state();
    ChainSummary {
        root: state.root().map(ToString::to_string),
        primary: state.primary().map(ToString::to_string),
        length: chain.length(),
        head: chain.head().to_string(),
    }
}

fn check_against_chain(claim: &Claim, chain: &VerifiedChain, conditions: &mut Vec<Condition>) {
    let state = chain.state();
    let Some(period) = state.primary_period(claim.key()) else {
        if state.device_period(claim.key()).is_some() {
            conditions.push(invalid(
                InvalidReason::DeviceKey,
                format!(
                    "{} is a device key; claims must be signed by a primary key",
                    claim.key()
                ),
            ));
        } else {
            conditions.push(invalid(
                InvalidReason::UnknownKey,
                match state.root() {
                    Some(root) => format!("{} was never a primary key of the sigchain rooted at {root}", claim.key()),
                    None => format!(
                        "{} is not a primary key: the sigchain had no links as of the evaluation time",
                        claim.key()
                    ),
                },
            ));
        }
        return;
    };
    if claim.created_at().saturating_add(SKEW_SECONDS) < period.from.at {
        conditions.push(invalid(
            InvalidReason::KeyNotYetValid,
            format!(
                "claim created at {} before its key became primary at seq {} ({})",
                claim.created_at(),
                period.from.seq,
                period.from.at
            ),
        ));
    }
    if let Some(until) = period.until {
        if claim.created_at() > until.at {
            conditions.push(invalid(
                InvalidReason::KeyRetired,
                format!(
                    "claim created at {} after its key was rotated away at seq {} ({})",
                    claim.created_at(),
                    until.seq,
                    until.at
                ),
            ));
        } else {
            conditions.push(Condition::Revoked {
                by: "rotated",
                seq: until.seq,
                at: until.at,
            });
        }
    }
    match state.claim(&claim.id()) {
        None => conditions.push(invalid(
            InvalidReason::NotBound,
            format!("no add link binds claim {}", claim.id()),
        )),
        Some(entry) => {
            if &entry.subject != claim.subject() {
                conditions.push(invalid(
                    InvalidReason::WrongSubject,
                    format!(
                        "the add link binds this claim to {}, the claim names {}",
                        entry.subject,
                        claim.subject()
                    ),
                ));
            }
            if let Some(ChainPoint { seq, at }) = entry.revoked {
                let by = if entry.revoked_by_subject {
                    "subject"
                } else {
                    "claim"
                };
                conditions.push(Condition::Revoked { by, seq, at });
            }
        }
    }
}

/// SPEC.md §11.8-2 and §11.8-3: the platform's publication time against the chain.
fn check_publication_against_chain(
    claim: &Claim,
    chain: &VerifiedChain,
    publication: &Publication,
    conditions: &mut Vec<Condition>,
) {
    let Some(published_at) = publication.published_at else {
        return;
    };
    if let Some(period) = chain.state().primary_period(claim.key()) {
        if published_at.saturating_add(SKEW_SECONDS) < period.from.at {
            conditions.push(invalid(
                InvalidReason::PublishedBeforeKey,
                format!(
                    "the platform published the proof at {published_at}, before its key became primary at seq {} ({})",
                    period.from.seq, period.from.at
                ),
            ));
        }
    }
    let revoked = conditions
        .iter()
        .filter_map(|c| match c {
            Condition::Revoked { seq, at, .. } => Some((*at, *seq)),
            _ => None,
        })
        .min();
    if let Some((revoked_at, seq)) = revoked {
        if published_at > revoked_at {
            conditions.push(invalid(
                InvalidReason::PublishedAfterRevocation,
                format!(
                    "the platform published the proof at {published_at}, after it was revoked at seq {seq} ({revoked_at})"
                ),
            ));
        }
    }
}

/// SPEC.md §11.8-1 and §11.8-4: the platform's times against the evaluation time.
fn check_publication(publication: &Publication, at: u64, conditions: &mut Vec<Condition>) {
    if let Some(published_at) = publication.published_at {
        if published_at > at.saturating_add(SKEW_SECONDS) {
            conditions.push(invalid(
                InvalidReason::NotYetPublished,
                format!(
                    "the platform published the proof at {published_at}, after the evaluation time {at}"
                ),
            ));
        }
    }
    if let Some(retracted_at) = publication.retracted_at {
        if retracted_at <= at {
            conditions.push(Condition::Revoked {
                by: "retracted",
                seq: 0,
                at: retracted_at,
            });
        }
    }
}

#[cfg(test)]
mod tests;
