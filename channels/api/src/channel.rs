//! The `Channel` trait and what a lookup returns (SPEC.md §11.1).

use std::fmt;

use async_trait::async_trait;
use kez_core::Identity;
use serde::{Deserialize, Serialize};

use crate::net::{FetchError, FetchErrorKind, Net};

/// A place where accounts publish proofs. Object safe: used as `Arc<dyn Channel>`.
#[async_trait]
pub trait Channel: Send + Sync + fmt::Debug {
    /// The channel's id: the identity scheme it serves (`github`, `ap`). Lowercase.
    fn id(&self) -> &str;

    /// Other schemes that name this channel (`mastodon` for `ap`).
    fn aliases(&self) -> Vec<String> {
        Vec::new()
    }

    /// Parses and normalises an account of this channel's scheme (the part after `scheme:`)
    /// into its canonical text (SPEC.md §3.2).
    fn normalise(&self, account: &str) -> Result<String, AccountError>;

    /// Finds the proofs `identity` published, through `net` only.
    ///
    /// `Ok` with an empty [`Lookup`] means the channel was reached and the account published
    /// no proof. Content that is no KEZ proof is left out; proofs that break a channel rule
    /// are returned as [`Found::Rejected`].
    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError>;
}

/// An account text this channel cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AccountError(pub String);

/// What a lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Proofs and rejected proofs, in the order found.
    pub found: Vec<Found>,
    /// Facts about the lookup worth reporting (`dnssec: insecure`, `3 pages of gists`).
    pub notes: Vec<String>,
}

impl Lookup {
    /// The proofs that passed the channel's rules.
    pub fn proofs(&self) -> impl Iterator<Item = &Proof> {
        self.found.iter().filter_map(|found| match found {
            Found::Proof(proof) => Some(proof),
            Found::Rejected(_) => None,
        })
    }

    /// The proofs that broke a channel rule.
    pub fn rejected(&self) -> impl Iterator<Item = &Rejected> {
        self.found.iter().filter_map(|found| match found {
            Found::Proof(_) => None,
            Found::Rejected(rejected) => Some(rejected),
        })
    }
}

/// One thing a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A proof the account published.
    Proof(Proof),
    /// A proof that breaks a channel rule ("mine but bad").
    Rejected(Rejected),
}

/// The text of a proof and the platform's evidence about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Where it was found: a URL, `dns:_kez.example.com`, a nostr event id, an `at://` URI.
    pub location: String,
    /// The text holding one or more claims in one of the four encodings (SPEC.md §6): a gist
    /// file, a TXT record's concatenated strings, an event's content, a profile field.
    pub content: String,
    /// When the platform says it was published (Unix seconds), if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<u64>,
    /// When the account retracted it (a NIP-09 deletion), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retracted_at: Option<u64>,
}

impl Proof {
    /// A proof with no platform times.
    pub fn new(location: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            content: content.into(),
            published_at: None,
            retracted_at: None,
        }
    }
}

/// Which channel rule a rejected proof broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// Published by another account than the one verified (a gist owner, an event author,
    /// a record's repository, an actor on another host).
    WrongPublisher,
    /// The platform's own integrity check failed (an event whose id does not match its body
    /// or whose signature does not verify).
    BadPlatformSignature,
    /// The account's identity documents contradict each other (a handle whose DNS and HTTPS
    /// answers name different DIDs, a DID document that does not name the handle back).
    Conflict,
    /// The proof was fetched from another host than the account's own, or through a
    /// redirect to another host.
    WrongHost,
}

impl RejectReason {
    /// The reason's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::WrongPublisher => "wrong_publisher",
            RejectReason::BadPlatformSignature => "bad_platform_signature",
            RejectReason::Conflict => "conflict",
            RejectReason::WrongHost => "wrong_host",
        }
    }
}

/// A proof found where the account publishes that breaks a channel rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Where it was found.
    pub location: String,
    /// The rule it broke.
    pub reason: RejectReason,
    /// What exactly was wrong, naming both sides (`gist owner is mallory, not jason`).
    pub detail: String,
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The evidence could not be obtained: the verdict is `unreachable` (SPEC.md §8.1).
    #[error("unreachable: {0}")]
    Unreachable(FetchError),
    /// The platform says the account does not exist (a 404 for the user, NXDOMAIN for the
    /// handle): no proof can exist.
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    /// The account's identity documents are inconsistent, so no proof can be attributed to
    /// it (a Bluesky handle whose DID document does not name it back).
    #[error("account identity does not check out: {0}")]
    Conflict(String),
    /// Replaying an evidence bundle that does not hold an answer this lookup needs. The
    /// verification must fail loudly rather than decide anything.
    #[error("evidence bundle holds no answer for {0}")]
    NotRecorded(FetchError),
}

impl From<FetchError> for ChannelError {
    /// A fetch error that stops a lookup: `not_recorded` stays itself, every other kind makes
    /// the channel unreachable.
    fn from(error: FetchError) -> Self {
        if error.kind == FetchErrorKind::NotRecorded {
            ChannelError::NotRecorded(error)
        } else {
            ChannelError::Unreachable(error)
        }
    }
}
