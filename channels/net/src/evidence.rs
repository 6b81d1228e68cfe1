//! Evidence: every exchange with the world, as it happened (docs/EVIDENCE.md).
//!
//! An [`Exchange`] is one request and what came back: an HTTP response (status, URL after
//! redirects, the headers that matter, the SHA-256 and length of the body), a DNS TXT answer
//! (records with their TTLs, NXDOMAIN, DNSSEC status), the event texts of a nostr query, or
//! the error that ended the request. Bodies are kept apart, by hash, so a bundle stores each
//! once.

use std::collections::BTreeMap;

use kez_channel::{Bytes, FetchError, HttpRequest, HttpResponse, NostrQuery, TxtLookup, TxtRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `bytes`.
pub fn body_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One exchange and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the order requests were made (0-based).
    pub seq: u64,
    /// When the request started (Unix seconds).
    pub started_at: u64,
    /// How long it took, in milliseconds (0 on replay).
    pub elapsed_ms: u64,
    /// The request and its answer.
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// A request and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exchange {
    /// An HTTP GET.
    Http {
        /// What was asked.
        request: HttpRequest,
        /// What came back.
        answer: Answer<HttpEvidence>,
    },
    /// A DNS TXT query.
    DnsTxt {
        /// The name asked for.
        name: String,
        /// What came back.
        answer: Answer<TxtEvidence>,
    },
    /// A nostr query.
    Nostr {
        /// The relays and filter.
        query: NostrQuery,
        /// What came back.
        answer: Answer<NostrEvidence>,
    },
}

impl Exchange {
    /// The key replay matches requests by: the kind and what was asked, nothing else.
    pub fn replay_key(&self) -> String {
        match self {
            Exchange::Http { request, .. } => http_key(request),
            Exchange::DnsTxt { name, .. } => dns_key(name),
            Exchange::Nostr { query, .. } => nostr_key(query),
        }
    }
}

/// The replay key of an HTTP request: its URL and `Accept` header.
pub fn http_key(request: &HttpRequest) -> String {
    format!(
        "http GET {} accept={}",
        request.url,
        request.accept.as_deref().unwrap_or("")
    )
}

/// The replay key of a TXT query: the name, lowercased, without a trailing dot.
pub fn dns_key(name: &str) -> String {
    format!(
        "dns TXT {}",
        name.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// The replay key of a nostr query: the relays in order and the filter's JSON text.
pub fn nostr_key(query: &NostrQuery) -> String {
    format!("nostr {} {}", query.relays.join(","), query.filter)
}

/// The answer to a request: what the service said, or why nothing usable came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer<T> {
    /// The service answered.
    Ok(T),
    /// The request failed.
    Error(FetchError),
}

/// An HTTP response, its body by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpEvidence {
    /// The URL that answered.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// The headers kept (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The lowercase hex SHA-256 of the body.
    pub body_sha256: String,
    /// The body's length in bytes.
    pub body_len: u64,
    /// When the response arrived.
    pub received_at: u64,
}

impl HttpEvidence {
    /// The evidence of `response`.
    pub fn of(response: &HttpResponse) -> Self {
        Self {
            url: response.url.clone(),
            status: response.status,
            headers: response.headers.clone(),
            body_sha256: body_hash(&response.body),
            body_len: response.body.len() as u64,
            received_at: response.received_at,
        }
    }

    /// The response again, given its body.
    pub fn response(&self, body: Bytes) -> HttpResponse {
        HttpResponse {
            url: self.url.clone(),
            status: self.status,
            headers: self.headers.clone(),
            body,
            received_at: self.received_at,
        }
    }
}

/// A TXT answer as evidence: character-strings as text when they are UTF-8, else as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rcode", rename_all = "snake_case")]
pub enum TxtEvidence {
    /// NOERROR, with the records (possibly none).
    Records {
        /// The records.
        records: Vec<TxtRecordEvidence>,
        /// DNSSEC status, when the resolver gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dnssec: Option<bool>,
    },
    /// NXDOMAIN.
    NxDomain,
}

/// One TXT record as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxtRecordEvidence {
    /// The record's TTL.
    pub ttl: u32,
    /// Its character-strings.
    pub strings: Vec<StringEvidence>,
}

/// One character-string: text if it is UTF-8, else its bytes in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StringEvidence {
    /// A UTF-8 string.
    Text(String),
    /// Other bytes.
    Bytes {
        /// The bytes, lowercase hex.
        hex: String,
    },
}

impl TxtEvidence {
    /// The evidence of `lookup`.
    pub fn of(lookup: &TxtLookup) -> Self {
        match lookup {
            TxtLookup::NxDomain => TxtEvidence::NxDomain,
            TxtLookup::Records { records, dnssec } => TxtEvidence::Records {
                records: records
                    .iter()
                    .map(|record| TxtRecordEvidence {
                        ttl: record.ttl,
                        strings: record
                            .strings
                            .iter()
                            .map(|bytes| match std::str::from_utf8(bytes) {
                                Ok(text) => StringEvidence::Text(text.to_string()),
                                Err(_) => StringEvidence::Bytes {
                                    hex: hex::encode(bytes),
                                },
                            })
                            .collect(),
                    })
                    .collect(),
                dnssec: *dnssec,
            },
        }
    }

    /// The lookup again. Fails on hex that does not decode.
    pub fn lookup(&self) -> Result<TxtLookup, String> {
        Ok(match self {
            TxtEvidence::NxDomain => TxtLookup::NxDomain,
            TxtEvidence::Records { records, dnssec } => TxtLookup::Records {
                records: records
                    .iter()
                    .map(|record| {
                        Ok(TxtRecord {
                            ttl: record.ttl,
                            strings: record
                                .strings
                                .iter()
                                .map(|s| match s {
                                    StringEvidence::Text(text) => Ok(text.as_bytes().to_vec()),
                                    StringEvidence::Bytes { hex } => {
                                        hex::decode(hex).map_err(|e| format!("TXT string hex: {e}"))
                                    }
                                })
                                .collect::<Result<_, String>>()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                dnssec: *dnssec,
            },
        })
    }
}

/// The events a nostr query returned, as the exact texts the relays sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NostrEvidence {
    /// The event texts.
    pub events: Vec<String>,
}

/// Everything a verification fetched: the records in order and the bodies by hash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// The exchanges, in the order they were made.
    pub records: Vec<Record>,
    /// HTTP bodies by their hex SHA-256 (shared with the responses that carried them).
    pub bodies: BTreeMap<String, Bytes>,
}
