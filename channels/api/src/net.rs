//! The network interface channels use (SPEC.md §11.2).
//!
//! Every byte a channel reads from the world comes through [`Net`]. The host decides how:
//! live over the network with its policy (timeouts, size caps, redirect and address rules,
//! retries), or replayed from an evidence bundle. A channel never opens a socket itself.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Where an HTTP request may be redirected (SPEC.md §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redirects {
    /// No redirect is followed; a 3xx answer is returned as it is.
    None,
    /// Redirects to the same scheme, host and port only (at most 5). The default, and the
    /// only choice for proof content.
    #[default]
    SameHost,
}

/// An HTTP GET a channel asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// The absolute URL.
    pub url: String,
    /// The `Accept` header, if the service needs one (`application/activity+json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    /// Which redirects may be followed.
    #[serde(default)]
    pub redirects: Redirects,
    /// The name of the credential to send, if the host has one configured under that name
    /// (for example `github`, from `GITHUB_TOKEN`). The token itself never passes through
    /// the channel, the evidence or any log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl HttpRequest {
    /// A GET of `url` with no `Accept` header, same-host redirects and no credential.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            accept: None,
            redirects: Redirects::SameHost,
            credential: None,
        }
    }

    /// Sets the `Accept` header.
    pub fn accept(mut self, accept: impl Into<String>) -> Self {
        self.accept = Some(accept.into());
        self
    }

    /// Sets the redirect policy.
    pub fn redirects(mut self, redirects: Redirects) -> Self {
        self.redirects = redirects;
        self
    }

    /// Names the credential to send.
    pub fn credential(mut self, name: impl Into<String>) -> Self {
        self.credential = Some(name.into());
        self
    }
}

/// The answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The URL that answered, after redirects.
    pub url: String,
    /// The status code. Any status is returned; 5xx and 429 only after the host's retries.
    pub status: u16,
    /// Response headers that matter to channels and evidence, names lowercased: `content-type`,
    /// `etag`, `last-modified`, `link`, `location`, `retry-after`, `x-ratelimit-*`, `date`.
    pub headers: Vec<(String, String)>,
    /// The body, decompressed, at most the host's size cap. Shared: cloning a response (as
    /// evidence or replay does) does not copy it.
    #[serde(skip)]
    pub body: Bytes,
    /// When the response arrived (Unix seconds, the host's clock or the recorded time).
    pub received_at: u64,
}

impl HttpResponse {
    /// The first value of header `name` (give it lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One TXT record: its character-strings, in order, and its TTL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxtRecord {
    /// The character-strings of the record, each at most 255 bytes.
    pub strings: Vec<Vec<u8>>,
    /// The record's TTL in seconds.
    pub ttl: u32,
}

/// The answer to a TXT query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rcode", rename_all = "snake_case")]
pub enum TxtLookup {
    /// The name exists; its TXT records (possibly none: NODATA).
    Records {
        /// The records, in the order the resolver gave them.
        records: Vec<TxtRecord>,
        /// Whether the answer was DNSSEC-validated: `Some(true)` secure, `Some(false)`
        /// insecure or bogus, `None` when the resolver does not say.
        dnssec: Option<bool>,
    },
    /// NXDOMAIN: the name does not exist (absent, not unreachable).
    NxDomain,
}

/// A nostr query: a NIP-01 filter sent to some relays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NostrQuery {
    /// Relay URLs (`ws://` or `wss://`).
    pub relays: Vec<String>,
    /// The NIP-01 filter object.
    pub filter: serde_json::Value,
}

/// Why a fetch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// No answer within the per-request timeout or the overall deadline.
    Timeout,
    /// The connection could not be made or broke (refused, reset, TLS failure).
    Connect,
    /// The server kept answering 5xx after the retries.
    ServerError,
    /// The service limited the rate (429, or GitHub's 403 with `x-ratelimit-remaining: 0`).
    RateLimited,
    /// The response was larger than the cap, or inflated beyond it.
    TooLarge,
    /// The host refused the request by policy: a private or loopback address, a scheme that
    /// is not allowed, a redirect to another host.
    Refused,
    /// The answer could not be understood at the transport level (a DNS SERVFAIL, a
    /// malformed DNS message, invalid HTTP).
    BadAnswer,
    /// Replaying an evidence bundle: the bundle holds no answer to this request. Never
    /// turned into an outcome: the verification fails.
    NotRecorded,
}

impl FetchErrorKind {
    /// The kind's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::ServerError => "server_error",
            FetchErrorKind::RateLimited => "rate_limited",
            FetchErrorKind::TooLarge => "too_large",
            FetchErrorKind::Refused => "refused",
            FetchErrorKind::BadAnswer => "bad_answer",
            FetchErrorKind::NotRecorded => "not_recorded",
        }
    }
}

/// A failed fetch: its kind, what was asked for, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{target}: {detail}")]
pub struct FetchError {
    /// Its kind.
    pub kind: FetchErrorKind,
    /// What was asked for: a URL, a DNS name, a relay.
    pub target: String,
    /// Why it failed, in one lowercase sentence. Never holds a credential.
    pub detail: String,
}

impl FetchError {
    /// A new error.
    pub fn new(kind: FetchErrorKind, target: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            target: target.into(),
            detail: detail.into(),
        }
    }
}

/// The I/O a channel may do. Implemented by the host (crate `kez-net`); channels only call it.
#[async_trait]
pub trait Net: Send + Sync {
    /// An HTTP GET under the host's policy.
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError>;

    /// The TXT records at `name` (a domain name, no trailing dot needed).
    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError>;

    /// The events the relays hold for a filter, each as the exact JSON text a relay sent,
    /// deduplicated by text. Nothing is checked: the channel checks ids, signatures and
    /// authors itself (SPEC.md §4.6).
    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError>;

    /// The current time, Unix seconds: the host's clock, or the recorded time on replay.
    fn now(&self) -> u64;
}
