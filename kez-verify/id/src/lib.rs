//! Verifying KEZ identities across channels (SPEC.md §11.9, §11.10).
//!
//! A [`Verifier`] holds the channels (a [`Registry`]), the [`Net`] every fetch goes through
//! (live, recording or replaying) and the sigchain [`ChainSources`]. For an identity it asks
//! the identity's channel what the account published, decodes the claims in each proof,
//! fetches the signer's sigchain from every source and reaches one verdict per claim with
//! `kez_core::verdict::evaluate_published`, then one outcome for the identity. For a key it
//! walks the key's sigchain and verifies every identity the chain binds, concurrently.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;
use kez_channel::{ChannelError, Found, Net, Proof, Registry};
use kez_core::encoding;
use kez_core::verdict::{self, Outcome, Publication};
use kez_core::{Identity, PublicKey, Verdict};

pub mod report;
pub mod sources;

pub use report::{ChainReport, GraphReport, IdentityReport, ProofReport};
pub use sources::{ChainFile, ChainOutcome, ChainSources};

/// Why a verification could not be carried out at all (as opposed to a verdict).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No registered channel serves the identity's scheme.
    #[error("no channel serves the scheme {scheme:?} (channels: {known})")]
    UnknownChannel {
        /// The scheme.
        scheme: String,
        /// The registered channel ids, comma-separated.
        known: String,
    },
    /// Replaying an evidence bundle that lacks an answer the verification needs.
    #[error("evidence bundle holds no answer for {0}")]
    NotRecorded(String),
}

/// Identities verified per graph at most (SPEC.md §11.9-3).
pub const MAX_GRAPH_IDENTITIES: usize = 256;

/// Verifies identities and identity graphs.
#[derive(Clone)]
pub struct Verifier {
    registry: Registry,
    net: Arc<dyn Net>,
    sources: ChainSources,
    at: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("channels", &self.registry.ids())
            .field("sources", &self.sources)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

fn not_recorded(error: ChannelError) -> VerifyError {
    VerifyError::NotRecorded(match error {
        ChannelError::NotRecorded(e) => e.target,
        other => other.to_string(),
    })
}

impl Verifier {
    /// A verifier evaluating as of `at` (Unix seconds).
    pub fn new(registry: Registry, net: Arc<dyn Net>, sources: ChainSources, at: u64) -> Self {
        Self {
            registry,
            net,
            sources,
            at,
        }
    }

    /// Verifies every proof `identity` published (SPEC.md §11.9-1).
    pub async fn identity(&self, identity: &Identity) -> Result<IdentityReport, VerifyError> {
        self.identity_with(identity, None).await
    }

    /// [`identity`](Self::identity), reusing `known`, a lookup of one key's chain already
    /// made by this verifier (a graph's own key), for claims whose chain lookup it answers.
    async fn identity_with(
        &self,
        identity: &Identity,
        known: Option<&KnownChain>,
    ) -> Result<IdentityReport, VerifyError> {
        let channel =
            self.registry
                .get(identity.scheme())
                .ok_or_else(|| VerifyError::UnknownChannel {
                    scheme: identity.scheme().to_string(),
                    known: self.registry.ids().join(", "),
                })?;
        let mut report = IdentityReport {
            identity: identity.to_string(),
            channel: channel.id().to_string(),
            outcome: Outcome::Valid,
            reason: None,
            detail: String::new(),
            at: self.at,
            proofs: Vec::new(),
            rejected: Vec::new(),
            chains: Vec::new(),
            notes: Vec::new(),
        };
        let lookup = match channel.lookup(identity, self.net.as_ref()).await {
            Ok(lookup) => lookup,
            Err(error @ ChannelError::NotRecorded(_)) => return Err(not_recorded(error)),
            Err(ChannelError::Unreachable(e)) => {
                report.outcome = Outcome::Unreachable;
                report.detail = format!("{} unreachable: {e}", channel.id());
                return Ok(report);
            }
            Err(ChannelError::NoSuchAccount(detail)) => {
                return Ok(invalid(report, "no_such_account", detail));
            }
            Err(ChannelError::Conflict(detail)) => {
                return Ok(invalid(report, "account_conflict", detail));
            }
            Err(other) => return Ok(invalid(report, "channel_error", other.to_string())),
        };
        report.notes = lookup.notes.clone();
        let mut chains: BTreeMap<String, Arc<sources::ChainLookup>> = BTreeMap::new();
        for found in lookup.found {
            match found {
                Found::Rejected(rejected) => report.rejected.push(rejected),
                Found::Proof(proof) => {
                    let verdicts = self.proof(identity, &proof, &mut chains, known).await?;
                    report.proofs.push(ProofReport {
                        location: proof.location,
                        published_at: proof.published_at,
                        retracted_at: proof.retracted_at,
                        verdicts,
                    });
                }
            }
        }
        report.chains = chains
            .iter()
            .map(|(key, lookup)| chain_report(key, lookup))
            .collect();
        Ok(conclude(report))
    }

    /// The verdicts of the claims in one proof.
    async fn proof(
        &self,
        identity: &Identity,
        proof: &Proof,
        chains: &mut BTreeMap<String, Arc<sources::ChainLookup>>,
        known: Option<&KnownChain>,
    ) -> Result<Vec<Verdict>, VerifyError> {
        let bytes = proof.content.as_bytes();
        let decoded = encoding::decode_detected(bytes).map(|(_, claims)| claims);
        let items = match decoded {
            Ok(items) => items,
            Err(e) => {
                return Ok(vec![verdict::undecodable(
                    e.is_unsupported(),
                    format!("{}: {e}", proof.location),
                    self.at,
                )])
            }
        };
        let publication = Publication {
            published_at: proof.published_at,
            retracted_at: proof.retracted_at,
        };
        let mut verdicts = Vec::with_capacity(items.len());
        for item in items {
            let claim = match item.item {
                Ok(claim) => claim,
                Err(e) => {
                    verdicts.push(verdict::undecodable(
                        e.is_unsupported(),
                        format!("{} line {}: {e}", proof.location, item.line),
                        self.at,
                    ));
                    continue;
                }
            };
            let key_text = claim.key().to_string();
            // The sources answer the same for the same key, unless a hint they follow
            // adds a copy: a lookup this verifier already made is reused then.
            let reusable = known.filter(|known| {
                known.key == key_text
                    && (claim.chain_hint().is_none() || !self.sources.follow_hints)
            });
            let lookup = match (chains.get(&key_text), reusable) {
                (Some(lookup), _) => lookup.clone(),
                (None, Some(known)) => {
                    chains.insert(key_text, known.lookup.clone());
                    known.lookup.clone()
                }
                (None, None) => {
                    let lookup = self
                        .sources
                        .lookup(claim.key(), claim.chain_hint(), self.at, self.net.as_ref())
                        .await
                        .map_err(not_recorded)?;
                    let lookup = Arc::new(lookup);
                    chains.insert(key_text, lookup.clone());
                    lookup
                }
            };
            verdicts.push(verdict::evaluate_published(
                &claim,
                lookup.outcome.evidence(),
                self.at,
                Some(identity),
                Some(&publication),
            ));
        }
        Ok(verdicts)
    }

    /// Verifies every identity `key`'s sigchain binds as of T, concurrently (SPEC.md
    /// §11.9-3). `progress` is called after each identity with (done, total, identity).
    ///
    /// The key's chain is fetched once: claims signed by `key` are checked against that
    /// lookup rather than fetching the chain again for every identity, so a graph takes about
    /// as long as its slowest identity, not one more chain fetch per identity.
    pub async fn graph(
        &self,
        key: &PublicKey,
        progress: &(dyn Fn(usize, usize, &str) + Sync),
    ) -> Result<GraphReport, VerifyError> {
        let lookup = self
            .sources
            .lookup(key, None, self.at, self.net.as_ref())
            .await
            .map_err(not_recorded)?;
        let known = KnownChain {
            key: key.to_string(),
            lookup: Arc::new(lookup),
        };
        let lookup = known.lookup.as_ref();
        let chain = chain_report(&known.key, lookup);
        let mut graph = GraphReport {
            schema: report::SCHEMA,
            key: key.to_string(),
            outcome: Outcome::Valid,
            reason: None,
            detail: String::new(),
            at: self.at,
            chain,
            identities: Vec::new(),
        };
        let subjects = match &lookup.outcome {
            ChainOutcome::Verified(verified) => bound_subjects(verified),
            ChainOutcome::NotChecked => {
                graph.outcome = Outcome::Unreachable;
                graph.detail =
                    "no sigchain source is configured: use --chain or --chain-source".into();
                return Ok(graph);
            }
            ChainOutcome::Unreachable { source, detail } => {
                graph.outcome = Outcome::Unreachable;
                graph.detail = format!("{source} unreachable: {detail}");
                return Ok(graph);
            }
            ChainOutcome::Failed(error) => {
                graph.outcome = if matches!(error, kez_core::sigchain::ChainError::Fork { .. }) {
                    Outcome::Fork
                } else {
                    graph.reason = Some("bad_chain".into());
                    Outcome::Invalid
                };
                graph.detail = format!("the key's sigchain does not verify: {error}");
                return Ok(graph);
            }
        };
        if subjects.is_empty() {
            // Nothing to verify is no identity verified (SPEC.md §11.9-3).
            graph.outcome = Outcome::Invalid;
            graph.reason = Some("no_identity".into());
            graph.detail = "the key's sigchain binds no identity as of the evaluation time".into();
            return Ok(graph);
        }
        let total = subjects.len().min(MAX_GRAPH_IDENTITIES);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let reports = join_all(subjects.iter().take(total).map(|subject| {
            let (done, known) = (&done, &known);
            async move {
                let result = self.identity_with(subject, Some(known)).await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                progress(n, total, &subject.to_string());
                result
            }
        }))
        .await;
        for report in reports {
            graph.identities.push(report?);
        }
        let worst = graph
            .identities
            .iter()
            .map(|r| r.outcome)
            .min()
            .unwrap_or(Outcome::Valid);
        graph.outcome = worst;
        let valid = graph
            .identities
            .iter()
            .filter(|r| r.outcome == Outcome::Valid)
            .count();
        graph.detail = format!(
            "{valid} of {} linked identities verified{}",
            graph.identities.len(),
            if subjects.len() > total {
                format!(" (only the first {total} of {} checked)", subjects.len())
            } else {
                String::new()
            }
        );
        Ok(graph)
    }
}

/// A chain lookup made once and shared by the identities of a graph.
struct KnownChain {
    /// The key's text (`ed25519:<hex>`).
    key: String,
    lookup: Arc<sources::ChainLookup>,
}

/// The subjects a verified chain binds and has not revoked, in chain order.
fn bound_subjects(chain: &kez_core::sigchain::VerifiedChain) -> Vec<Identity> {
    let mut entries: Vec<_> = chain
        .state()
        .claims()
        .values()
        .filter(|entry| entry.revoked.is_none())
        .collect();
    entries.sort_by_key(|entry| entry.added.seq);
    let mut subjects: Vec<Identity> = Vec::new();
    for entry in entries {
        if !subjects.contains(&entry.subject) {
            subjects.push(entry.subject.clone());
        }
    }
    subjects
}

fn chain_report(key: &str, lookup: &sources::ChainLookup) -> ChainReport {
    ChainReport {
        key: key.to_string(),
        status: match lookup.outcome {
            ChainOutcome::NotChecked => "not_checked",
            ChainOutcome::Verified(_) => "verified",
            ChainOutcome::Failed(_) => "failed",
            ChainOutcome::Unreachable { .. } => "unreachable",
        },
        copies_from: lookup.copies_from.clone(),
        notes: lookup.notes.clone(),
    }
}

fn invalid(mut report: IdentityReport, reason: &str, detail: String) -> IdentityReport {
    report.outcome = Outcome::Invalid;
    report.reason = Some(reason.to_string());
    report.detail = detail;
    report
}

/// The overall outcome of an identity (SPEC.md §11.9-2): `valid` if any claim is valid;
/// else `unreachable` if any is; else the most severe verdict or rejection; `invalid` with
/// reason `no_proof` when nothing was found.
fn conclude(report: IdentityReport) -> IdentityReport {
    let verdicts: Vec<&Verdict> = report.proofs.iter().flat_map(|p| &p.verdicts).collect();
    if let Some(valid) = verdicts.iter().find(|v| v.is_valid()) {
        let detail = format!("{} ({})", valid.detail(), location_of(&report, valid));
        let mut report = report;
        report.outcome = Outcome::Valid;
        report.detail = detail;
        return report;
    }
    if let Some(unreachable) = verdicts
        .iter()
        .find(|v| v.outcome() == Outcome::Unreachable)
    {
        let detail = unreachable.detail().to_string();
        let mut report = report;
        report.outcome = Outcome::Unreachable;
        report.detail = detail;
        return report;
    }
    let worst = verdicts.iter().min_by_key(|v| v.outcome()).copied();
    // An invalid claim and a rejected proof are equally severe: the rejection is reported.
    if let Some(v) = worst.filter(|v| v.outcome() != Outcome::Invalid || report.rejected.is_empty())
    {
        let (outcome, reason, detail) = (
            v.outcome(),
            v.reason().map(|r| r.name().to_string()),
            v.detail().to_string(),
        );
        let mut report = report;
        report.outcome = outcome;
        report.reason = reason;
        report.detail = detail;
        return report;
    }
    if let Some(rejected) = report.rejected.first() {
        let (reason, detail) = (
            rejected.reason.name().to_string(),
            format!("{}: {}", rejected.location, rejected.detail),
        );
        return invalid(report, &reason, detail);
    }
    let detail = format!("{} published no KEZ proof", report.identity);
    invalid(report, "no_proof", detail)
}

fn location_of(report: &IdentityReport, verdict: &Verdict) -> String {
    report
        .proofs
        .iter()
        .find(|p| p.verdicts.iter().any(|v| std::ptr::eq(v, verdict)))
        .map(|p| p.location.clone())
        .unwrap_or_default()
}
