//! The reports of `kez-verify id` (SPEC.md §11.9; JSON schema: docs/schemas/id-report-1.json).

use kez_channel::Rejected;
use kez_core::verdict::Outcome;
use kez_core::Verdict;
use serde::Serialize;

/// The schema name and version every JSON report carries.
pub const SCHEMA: &str = "kez-verify/id-report/1";

/// The verdict on one identity: every proof it published, and one overall outcome.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityReport {
    /// The identity verified (canonical).
    pub identity: String,
    /// The channel that served it.
    pub channel: String,
    /// The overall outcome (SPEC.md §11.9-2).
    pub outcome: Outcome,
    /// Why, when the outcome is `invalid`: an §8.2 reason, a channel reason
    /// (`wrong_publisher`, …), `no_proof`, `no_such_account` or `account_conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One sentence saying why.
    pub detail: String,
    /// The evaluation time T.
    pub at: u64,
    /// The proofs found, each with the verdicts of the claims it holds.
    pub proofs: Vec<ProofReport>,
    /// Proofs that broke a channel rule.
    pub rejected: Vec<Rejected>,
    /// The sigchains consulted, one per signing key.
    pub chains: Vec<ChainReport>,
    /// Facts about the lookup (DNSSEC status, pages read, sources without the chain).
    pub notes: Vec<String>,
}

/// One proof and the verdicts of the claims in it.
#[derive(Debug, Clone, Serialize)]
pub struct ProofReport {
    /// Where it was found.
    pub location: String,
    /// When the platform says it was published.
    pub published_at: Option<u64>,
    /// When the account retracted it.
    pub retracted_at: Option<u64>,
    /// One verdict per claim the proof holds (SPEC.md §8.5).
    pub verdicts: Vec<Verdict>,
}

/// A sigchain consulted for a key.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// The key whose chain it is.
    pub key: String,
    /// `verified`, `failed`, `unreachable` or `not_checked`.
    pub status: &'static str,
    /// The sources that gave a copy.
    pub copies_from: Vec<String>,
    /// Notes about the sources.
    pub notes: Vec<String>,
}

/// The verdict on a key's identity graph: every identity its sigchain links.
#[derive(Debug, Clone, Serialize)]
pub struct GraphReport {
    /// The schema name and version.
    pub schema: &'static str,
    /// The key whose graph it is.
    pub key: String,
    /// The overall outcome: the most severe of the linked identities' outcomes; `invalid`
    /// when the chain binds none.
    pub outcome: Outcome,
    /// Why, when the outcome is `invalid` for the key itself: `no_identity` (the chain binds
    /// no identity as of T) or `bad_chain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One sentence saying why.
    pub detail: String,
    /// The evaluation time T.
    pub at: u64,
    /// The key's sigchain.
    pub chain: ChainReport,
    /// One report per identity the chain binds (and has not revoked) as of T, in the order
    /// of the chain.
    pub identities: Vec<IdentityReport>,
}

/// A single identity's report as a JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityDocument<'a> {
    /// The schema name and version.
    pub schema: &'static str,
    /// The report.
    #[serde(flatten)]
    pub report: &'a IdentityReport,
}

/// The exit code of an outcome for `kez-verify id` (SPEC.md §11.9-4).
pub fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Valid => 0,
        Outcome::Unreachable => 3,
        _ => 1,
    }
}
