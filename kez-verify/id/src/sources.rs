//! Sigchain sources (SPEC.md §11.10): local files, HTTP sources and the claim's `chain` hint,
//! fetched through the [`Net`] and compared as copies of one chain (SPEC.md §7.6).

use kez_channel::{Bytes, ChannelError, FetchError, FetchErrorKind, HttpRequest, Net};
use kez_core::sigchain::{self, ChainError, Track, VerifiedChain};
use kez_core::verdict::ChainEvidence;
use kez_core::PublicKey;
use serde::{Deserialize, Serialize};

/// Where sigchains are looked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSources {
    /// Chains given as files: every claim is checked against them, whatever its key.
    #[serde(default)]
    pub files: Vec<ChainFile>,
    /// HTTP sources: a chain for key `K` is `GET {base}/v1/chains/{K}.jsonl`.
    #[serde(default)]
    pub http: Vec<String>,
    /// Whether a claim's `chain` hint (an `https://` URL) is fetched as one more copy.
    #[serde(default)]
    pub follow_hints: bool,
}

/// A chain given as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainFile {
    /// How to name it in reports (the path given).
    pub label: String,
    /// Its JSONL text.
    pub jsonl: String,
}

/// What the sources said about one key's chain.
#[derive(Debug)]
pub struct ChainLookup {
    /// The evidence the verdicts use.
    pub outcome: ChainOutcome,
    /// The sources that gave a copy, in the order compared.
    pub copies_from: Vec<String>,
    /// Facts worth reporting (a hint that failed, a source without the chain).
    pub notes: Vec<String>,
}

/// The chain evidence for a key, owned.
#[derive(Debug)]
pub enum ChainOutcome {
    /// No source was configured and no hint given.
    NotChecked,
    /// The copies agree; the longest verified as of T.
    Verified(Box<VerifiedChain>),
    /// A copy does not verify, or two copies fork.
    Failed(ChainError),
    /// A source could not be read, or none held the chain.
    Unreachable {
        /// Which source.
        source: String,
        /// Why.
        detail: String,
    },
}

impl ChainOutcome {
    /// As `kez_core::verdict` takes it.
    pub fn evidence(&self) -> ChainEvidence<'_> {
        match self {
            ChainOutcome::NotChecked => ChainEvidence::NotChecked,
            ChainOutcome::Verified(chain) => ChainEvidence::Verified(chain),
            ChainOutcome::Failed(error) => ChainEvidence::Failed(error),
            ChainOutcome::Unreachable { source, detail } => {
                ChainEvidence::Unreachable { source, detail }
            }
        }
    }
}

/// The largest chain accepted from a source, in bytes (SPEC.md §11.10).
pub const MAX_CHAIN_BYTES: usize = 16 << 20;

/// The URL of `key`'s chain at the HTTP source `base`.
pub fn chain_url(base: &str, key: &PublicKey) -> String {
    format!("{}/v1/chains/{key}.jsonl", base.trim_end_matches('/'))
}

impl ChainSources {
    /// Whether any source is configured (hints aside).
    pub fn is_configured(&self) -> bool {
        !self.files.is_empty() || !self.http.is_empty()
    }

    /// Fetches every copy of `key`'s chain and verifies them as of `at`.
    ///
    /// Every configured source must answer: an HTTP source that fails makes the chain
    /// unreachable, since the copy it holds might be the one with a revocation. A 404 means
    /// the source holds no chain for the key. A failing hint is only noted when another copy
    /// exists. `Err` only for a request an evidence bundle does not hold.
    pub async fn lookup(
        &self,
        key: &PublicKey,
        hint: Option<&str>,
        at: u64,
        net: &dyn Net,
    ) -> Result<ChainLookup, ChannelError> {
        let mut copies: Vec<(String, Bytes)> = self
            .files
            .iter()
            .map(|f| (f.label.clone(), Bytes::from(f.jsonl.clone())))
            .collect();
        let mut notes = Vec::new();
        let mut failure: Option<(String, String)> = None;
        for base in &self.http {
            let url = chain_url(base, key);
            match fetch(&url, net).await? {
                Fetched::Copy(bytes) => copies.push((url, bytes)),
                Fetched::Absent => notes.push(format!("{url}: no sigchain for this key")),
                Fetched::Failed(detail) => {
                    notes.push(format!("{url}: {detail}"));
                    failure.get_or_insert((url, detail));
                }
            }
        }
        let mut hint_failure = None;
        if let (true, Some(hint)) = (self.follow_hints, hint) {
            match fetch(hint, net).await? {
                Fetched::Copy(bytes) => copies.push((hint.to_string(), bytes)),
                Fetched::Absent => notes.push(format!("chain hint {hint}: not found")),
                Fetched::Failed(detail) => {
                    notes.push(format!("chain hint {hint}: {detail}"));
                    hint_failure = Some((hint.to_string(), detail));
                }
            }
        }
        let copies_from: Vec<String> = copies.iter().map(|(label, _)| label.clone()).collect();
        let outcome = if let Some((source, detail)) = failure {
            ChainOutcome::Unreachable { source, detail }
        } else if copies.is_empty() {
            if let Some((source, detail)) = hint_failure {
                ChainOutcome::Unreachable { source, detail }
            } else if self.is_configured() {
                ChainOutcome::Unreachable {
                    source: format!("sigchain of {key}"),
                    detail: "no configured source holds a sigchain for this key".into(),
                }
            } else {
                ChainOutcome::NotChecked
            }
        } else {
            verify_copies(&copies, at)
        };
        Ok(ChainLookup {
            outcome,
            copies_from,
            notes,
        })
    }
}

/// Compares the copies (SPEC.md §7.6) and verifies the longest as of `at`.
fn verify_copies(copies: &[(String, Bytes)], at: u64) -> ChainOutcome {
    let bytes: Vec<&[u8]> = copies.iter().map(|(_, b)| b.as_ref()).collect();
    if let [only] = bytes.as_slice() {
        // Nothing to compare: verify the one copy once (longest_copy would verify it too,
        // doubling the signature checks of every lookup).
        return match sigchain::verify_jsonl(only, Track::All, Some(at)) {
            Ok(verified) => ChainOutcome::Verified(Box::new(verified)),
            Err(error) => ChainOutcome::Failed(error),
        };
    }
    match sigchain::longest_copy(&bytes) {
        Err(e) => ChainOutcome::Failed(e.error),
        Ok(longest) => match sigchain::verify_jsonl(bytes[longest], Track::All, Some(at)) {
            Ok(verified) => ChainOutcome::Verified(Box::new(verified)),
            Err(error) => ChainOutcome::Failed(error),
        },
    }
}

enum Fetched {
    Copy(Bytes),
    Absent,
    Failed(String),
}

async fn fetch(url: &str, net: &dyn Net) -> Result<Fetched, ChannelError> {
    match net.http_get(HttpRequest::get(url)).await {
        Ok(response) if response.status == 404 || response.status == 410 => Ok(Fetched::Absent),
        Ok(response) if response.is_success() => {
            if response.body.len() > MAX_CHAIN_BYTES {
                Ok(Fetched::Failed(format!(
                    "sigchain of {} bytes is over the {MAX_CHAIN_BYTES}-byte limit",
                    response.body.len()
                )))
            } else {
                Ok(Fetched::Copy(response.body))
            }
        }
        Ok(response) => Ok(Fetched::Failed(format!("HTTP status {}", response.status))),
        Err(error) if error.kind == FetchErrorKind::NotRecorded => {
            Err(ChannelError::NotRecorded(error))
        }
        Err(FetchError { kind, detail, .. }) => {
            Ok(Fetched::Failed(format!("{}: {detail}", kind.name())))
        }
    }
}
