//! The `bluesky` channel (SPEC.md §11.6, written up in channels/builtin/SPEC-bluesky.md):
//! proofs as `dev.kez.proof` records in an account's ATProto repository.
//!
//! For `bluesky:<handle>` the channel
//!
//! 1. resolves the handle to a DID both ways ATProto defines — the DNS TXT record
//!    `_atproto.<handle>` (`did=<did>`) and `https://<handle>/.well-known/atproto-did` (a
//!    text body holding the DID) — and refuses a handle whose two answers name different DIDs
//!    ([`ChannelError::Conflict`]); neither answering with a DID is
//!    [`ChannelError::NoSuchAccount`];
//! 2. fetches the DID document (`did:plc` from the configured PLC directory, `did:web` from
//!    `https://<host>/.well-known/did.json`), requires it to name the handle back in
//!    `alsoKnownAs` (`at://<handle>`, the round trip that makes a handle belong to a DID), and
//!    takes the PDS from its `#atproto_pds` service;
//! 3. lists the repository's `dev.kez.proof` records on that PDS
//!    (`com.atproto.repo.listRecords`, 100 a page, at most [`MAX_PAGES`] pages) and cuts the
//!    proof texts out of each record's `claim` with [`proof_texts`].
//!
//! A record whose `uri` is not `at://<the account's DID>/dev.kez.proof/<rkey>` (a PDS
//! answering with another repository's records) is [`Found::Rejected`] with
//! [`RejectReason::WrongPublisher`]. A proof's location is its `at://` URI; its `published_at`
//! is the time encoded in its record key when that key is a TID (the key the PDS picks on
//! `createRecord`), never the `createdAt` field the client writes.
//!
//! All I/O goes through the [`Net`] the host passes in.

use std::collections::HashSet;

use async_trait::async_trait;
use kez_channel::extract::proof_texts;
use kez_channel::{
    AccountError, Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest,
    HttpResponse, Lookup, Net, Proof, Redirects, RejectReason, Rejected, TxtLookup,
};
use kez_core::Identity;
use serde_json::Value;

mod did;
mod tid;

use did::{parse_document, Did};

/// The collection (lexicon NSID) of proof records.
pub const COLLECTION: &str = "dev.kez.proof";

/// At most this many pages of records are read (100 records each).
pub const MAX_PAGES: usize = 10;

/// The page size asked for.
const PAGE_LIMIT: u32 = 100;

/// The `bluesky` channel. Build it with the did:plc directory (`https://plc.directory`).
#[derive(Debug, Clone)]
pub struct BlueskyChannel {
    plc: String,
}

impl BlueskyChannel {
    /// A channel resolving `did:plc` DIDs through `plc_directory` (no trailing `/` needed).
    pub fn new(plc_directory: String) -> Self {
        Self {
            plc: plc_directory.trim_end_matches('/').to_string(),
        }
    }

    /// The did:plc directory URL, without a trailing `/`.
    pub fn plc_directory(&self) -> &str {
        &self.plc
    }
}

/// What one way of resolving a handle said.
#[derive(Debug)]
enum HandleAnswer {
    /// It names this DID.
    Did(Did),
    /// It names none (NXDOMAIN, no `did=` record, 404, a page that holds no DID): why.
    Absent(String),
    /// It could not be asked (a transport error, 5xx).
    Failed(FetchError),
}

/// The DNS TXT way: `_atproto.<handle>` holding `did=<did>`.
async fn handle_by_dns(handle: &str, net: &dyn Net) -> Result<HandleAnswer, ChannelError> {
    let name = format!("_atproto.{handle}");
    let records = match net.dns_txt(&name).await {
        Ok(TxtLookup::NxDomain) => return Ok(HandleAnswer::Absent(format!("{name}: NXDOMAIN"))),
        Ok(TxtLookup::Records { records, .. }) => records,
        Err(e) if e.kind == FetchErrorKind::NotRecorded => return Err(ChannelError::from(e)),
        Err(e) => return Ok(HandleAnswer::Failed(e)),
    };
    let mut dids: Vec<String> = Vec::new();
    for record in &records {
        let value: Vec<u8> = record.strings.concat();
        let Ok(value) = String::from_utf8(value) else {
            continue;
        };
        if let Some(did) = value.strip_prefix("did=") {
            if !dids.iter().any(|known| known == did) {
                dids.push(did.to_string());
            }
        }
    }
    match dids.as_slice() {
        [] => Ok(HandleAnswer::Absent(format!("{name}: no did= TXT record"))),
        [did] => Did::parse(did)
            .map(HandleAnswer::Did)
            .map_err(|e| ChannelError::Conflict(format!("{name}: {e}"))),
        several => Err(ChannelError::Conflict(format!(
            "{name} names several DIDs: {}",
            several.join(", ")
        ))),
    }
}

/// The HTTPS way: `https://<handle>/.well-known/atproto-did`.
async fn handle_by_https(handle: &str, net: &dyn Net) -> Result<HandleAnswer, ChannelError> {
    let url = format!("https://{handle}/.well-known/atproto-did");
    let response = match net
        .http_get(HttpRequest::get(&url).redirects(Redirects::SameHost))
        .await
    {
        Ok(response) => response,
        Err(e) if e.kind == FetchErrorKind::NotRecorded => return Err(ChannelError::from(e)),
        // A redirect the host may not follow (another host or scheme, too many) names no DID
        // (SPEC.md §11.6-4); only a transport failure makes this way fail.
        Err(e) if e.kind == FetchErrorKind::Refused => {
            return Ok(HandleAnswer::Absent(format!("{url}: refused ({e})")))
        }
        Err(e) => return Ok(HandleAnswer::Failed(e)),
    };
    if response.status >= 500 || response.status == 429 {
        return Ok(HandleAnswer::Failed(FetchError::new(
            if response.status == 429 {
                FetchErrorKind::RateLimited
            } else {
                FetchErrorKind::ServerError
            },
            &url,
            format!("answered {}", response.status),
        )));
    }
    if !response.is_success() {
        return Ok(HandleAnswer::Absent(format!(
            "{url}: status {}",
            response.status
        )));
    }
    let text = String::from_utf8_lossy(&response.body);
    let text = text.trim();
    // A site that answers every path with a page holds no DID there; a body that starts
    // like a DID must be one.
    if !text.starts_with("did:") {
        return Ok(HandleAnswer::Absent(format!(
            "{url}: the body holds no DID"
        )));
    }
    Did::parse(text)
        .map(HandleAnswer::Did)
        .map_err(|e| ChannelError::Conflict(format!("{url}: {e}")))
}

/// Resolves `handle` to its DID by DNS and HTTPS (SPEC.md §11.6-3 to §11.6-6).
async fn resolve_handle(
    handle: &str,
    net: &dyn Net,
    notes: &mut Vec<String>,
) -> Result<Did, ChannelError> {
    let dns = handle_by_dns(handle, net).await?;
    let https = handle_by_https(handle, net).await?;
    match (dns, https) {
        (HandleAnswer::Did(a), HandleAnswer::Did(b)) => {
            if a != b {
                return Err(ChannelError::Conflict(format!(
                    "handle {handle}: DNS (_atproto.{handle}) names {}, HTTPS \
                     (/.well-known/atproto-did) names {}",
                    a.as_str(),
                    b.as_str()
                )));
            }
            notes.push(format!(
                "handle {handle} resolves to {} by DNS and HTTPS",
                a.as_str()
            ));
            Ok(a)
        }
        (HandleAnswer::Did(did), other) => {
            notes.push(format!(
                "handle {handle} resolves to {} by DNS; HTTPS: {}",
                did.as_str(),
                describe(&other)
            ));
            Ok(did)
        }
        (other, HandleAnswer::Did(did)) => {
            notes.push(format!(
                "handle {handle} resolves to {} by HTTPS; DNS: {}",
                did.as_str(),
                describe(&other)
            ));
            Ok(did)
        }
        (HandleAnswer::Failed(e), _) | (_, HandleAnswer::Failed(e)) => {
            Err(ChannelError::Unreachable(e))
        }
        (HandleAnswer::Absent(dns), HandleAnswer::Absent(https)) => Err(
            ChannelError::NoSuchAccount(format!("handle {handle} names no DID: {dns}; {https}")),
        ),
    }
}

fn describe(answer: &HandleAnswer) -> String {
    match answer {
        HandleAnswer::Did(did) => did.as_str().to_string(),
        HandleAnswer::Absent(why) => format!("no DID ({why})"),
        HandleAnswer::Failed(e) => format!("failed ({e})"),
    }
}

/// Maps a status that is not 2xx to an unreachable lookup, by kind.
fn status_error(response: &HttpResponse, target: &str, what: &str) -> ChannelError {
    let status = response.status;
    let kind = match status {
        429 => FetchErrorKind::RateLimited,
        500..=599 => FetchErrorKind::ServerError,
        _ => FetchErrorKind::BadAnswer,
    };
    ChannelError::Unreachable(FetchError::new(
        kind,
        target,
        format!("{what}: answered {status}"),
    ))
}

fn bad_answer(target: &str, detail: impl Into<String>) -> ChannelError {
    ChannelError::Unreachable(FetchError::new(FetchErrorKind::BadAnswer, target, detail))
}

/// Fetches the DID document, checks the handle round trip and returns the PDS URL
/// (SPEC.md §11.6-7 to §11.6-9).
async fn pds_of(
    plc: &str,
    did: &Did,
    handle: &str,
    net: &dyn Net,
    notes: &mut Vec<String>,
) -> Result<String, ChannelError> {
    let url = did.document_url(plc);
    let response = net
        .http_get(HttpRequest::get(&url).redirects(Redirects::SameHost))
        .await?;
    if matches!(response.status, 404 | 410) {
        return Err(ChannelError::NoSuchAccount(format!(
            "{url} answered {}: no such DID, or deactivated",
            response.status
        )));
    }
    if !response.is_success() {
        return Err(status_error(
            &response,
            &url,
            &format!("DID document of {}", did.as_str()),
        ));
    }
    let document = parse_document(&response.body, did.as_str()).map_err(ChannelError::Conflict)?;
    if !document.handles.iter().any(|named| named == handle) {
        return Err(ChannelError::Conflict(format!(
            "the DID document of {} does not name at://{handle} in alsoKnownAs (it names {})",
            did.as_str(),
            if document.handles.is_empty() {
                "no handle".to_string()
            } else {
                document
                    .handles
                    .iter()
                    .map(|h| format!("at://{h}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    let pds = document.pds.ok_or_else(|| {
        ChannelError::Conflict(format!(
            "the DID document of {} names no usable #atproto_pds service",
            did.as_str()
        ))
    })?;
    notes.push(format!("{} is hosted on {pds}", did.as_str()));
    Ok(pds)
}

/// The parts of an `at://<authority>/<collection>/<rkey>` URI.
fn split_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let authority = parts.next()?;
    let collection = parts.next()?;
    let rkey = parts.next()?;
    let valid_rkey = !rkey.is_empty()
        && rkey.len() <= 512
        && rkey != "."
        && rkey != ".."
        && rkey
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '~'));
    (parts.next().is_none() && !authority.is_empty() && valid_rkey)
        .then_some((authority, collection, rkey))
}

/// Turns one listed record into found items (SPEC.md §11.6-12 to §11.6-14).
fn record_items(record: &Value, did: &str, found: &mut Vec<Found>) {
    let Some(uri) = record.get("uri").and_then(Value::as_str) else {
        return;
    };
    let Some(value) = record.get("value") else {
        return;
    };
    if value.get("$type").and_then(Value::as_str) != Some(COLLECTION) {
        return;
    }
    let Some(claim) = value.get("claim").and_then(Value::as_str) else {
        return;
    };
    let texts = proof_texts(claim);
    if texts.is_empty() {
        return;
    }
    let rkey = match split_at_uri(uri) {
        Some((authority, collection, rkey)) if authority == did && collection == COLLECTION => rkey,
        Some((authority, collection, _)) => {
            found.push(Found::Rejected(Rejected {
                location: uri.to_string(),
                reason: RejectReason::WrongPublisher,
                detail: format!(
                    "record {uri} is in {authority}'s {collection}, not in {did}'s {COLLECTION}"
                ),
            }));
            return;
        }
        None => {
            found.push(Found::Rejected(Rejected {
                location: uri.to_string(),
                reason: RejectReason::WrongPublisher,
                detail: format!(
                    "record URI {uri:?} is not at://{did}/{COLLECTION}/<rkey>, so it is not \
                     known to be {did}'s"
                ),
            }));
            return;
        }
    };
    let published_at = tid::tid_seconds(rkey);
    for text in texts {
        found.push(Found::Proof(Proof {
            location: uri.to_string(),
            content: text,
            published_at,
            retracted_at: None,
        }));
    }
}

/// Percent-encodes a query parameter value.
fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Lists the `dev.kez.proof` records of `did` on `pds` (SPEC.md §11.6-10, §11.6-11).
async fn list_records(
    pds: &str,
    did: &str,
    net: &dyn Net,
    lookup: &mut Lookup,
) -> Result<(), ChannelError> {
    let mut cursor: Option<String> = None;
    let mut seen_uris: HashSet<String> = HashSet::new();
    let mut seen_cursors: HashSet<String> = HashSet::new();
    for page in 1..=MAX_PAGES {
        let mut url = format!(
            "{pds}/xrpc/com.atproto.repo.listRecords?repo={}&collection={}&limit={PAGE_LIMIT}",
            query_value(did),
            query_value(COLLECTION)
        );
        if let Some(cursor) = &cursor {
            url.push_str("&cursor=");
            url.push_str(&query_value(cursor));
        }
        let response = net
            .http_get(HttpRequest::get(&url).redirects(Redirects::SameHost))
            .await?;
        if !response.is_success() {
            // An XRPC error names why: a repository the PDS does not hold is gone.
            let error = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
            if response.status == 400
                && matches!(
                    error.as_deref(),
                    Some("RepoNotFound" | "RepoDeactivated" | "RepoTakendown" | "RepoSuspended")
                )
            {
                return Err(ChannelError::NoSuchAccount(format!(
                    "{pds} holds no active repository for {did} ({})",
                    error.unwrap_or_default()
                )));
            }
            return Err(status_error(&response, &url, "listRecords"));
        }
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad_answer(&url, format!("listRecords answer is not JSON: {e}")))?;
        let records = body
            .get("records")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_answer(&url, "listRecords answer has no records array"))?;
        for record in records {
            let uri = record.get("uri").and_then(Value::as_str).unwrap_or("");
            if !seen_uris.insert(uri.to_string()) {
                continue;
            }
            record_items(record, did, &mut lookup.found);
        }
        let next = body.get("cursor").and_then(Value::as_str);
        match next {
            Some(next) if !records.is_empty() && !next.is_empty() => {
                if !seen_cursors.insert(next.to_string()) {
                    lookup
                        .notes
                        .push(format!("the PDS repeated cursor {next:?}; stopped listing"));
                    return Ok(());
                }
                if page == MAX_PAGES {
                    lookup.notes.push(format!(
                        "stopped after {MAX_PAGES} pages of {COLLECTION} records; later records \
                         were not read"
                    ));
                    return Ok(());
                }
                cursor = Some(next.to_string());
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

#[async_trait]
impl Channel for BlueskyChannel {
    fn id(&self) -> &str {
        "bluesky"
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Identity::parse(&format!("bluesky:{account}"))
            .map(|identity| identity.account().to_string())
            .map_err(|e| AccountError(e.to_string()))
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        if identity.scheme() != "bluesky" {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} is not a bluesky identity"
            )));
        }
        let handle = identity.account();
        let mut lookup = Lookup::default();
        let did = resolve_handle(handle, net, &mut lookup.notes).await?;
        let pds = pds_of(&self.plc, &did, handle, net, &mut lookup.notes).await?;
        list_records(&pds, did.as_str(), net, &mut lookup).await?;
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests;
