//! HTTP GET with reqwest under the policy (SPEC.md §11.2, docs/NETWORK.md): timeouts and
//! a deadline, a cap on the decompressed body, same-host redirects followed by hand, retries
//! for 5xx and 429, per-host limits, conditional requests, scoped credentials.

use std::collections::{HashMap, VecDeque};
use std::error::Error as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kez_channel::{FetchError, FetchErrorKind, HttpRequest, HttpResponse, Redirects};
use rand_core::{OsRng, RngCore};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::dns::Dns;
use super::policy::{normalise_host, origin, Checked, Family, Policy};
use crate::NetConfig;

/// The header set on a response answered from the cache after a 304.
pub const CACHE_HEADER: &str = "x-kez-cache";

/// Response headers kept for channels and evidence.
fn kept_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "etag" | "last-modified" | "link" | "location" | "retry-after" | "date"
    ) || name.starts_with("x-ratelimit-")
}

/// The reqwest DNS hook: overrides first, then the resolver; every address passes the
/// address policy before reqwest may connect to it.
#[derive(Clone)]
pub(crate) struct PolicyResolver {
    pub(crate) policy: Arc<Policy>,
    pub(crate) dns: Dns,
}

impl PolicyResolver {
    /// The addresses of `host` that the policy allows (port 0 unless overridden).
    pub(crate) async fn allowed(&self, host: &str) -> Result<Vec<SocketAddr>, FetchError> {
        let host = normalise_host(host);
        let addrs: Vec<SocketAddr> = match self.policy.overrides.get(&host) {
            Some(addrs) => addrs.clone(),
            None => self
                .dns
                .addresses(&host)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect(),
        };
        let mut allowed = Vec::new();
        let mut refusal = None;
        for addr in addrs {
            match self.policy.check_addr(addr.ip(), &host) {
                Ok(()) => allowed.push(addr),
                Err(e) => {
                    refusal.get_or_insert(e);
                }
            }
        }
        match (allowed.is_empty(), refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refusal)) => Err(refusal),
            (true, None) => Err(FetchError::new(
                FetchErrorKind::Connect,
                host,
                "the host name has no addresses",
            )),
        }
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match this.allowed(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// A cached response, for conditional requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    etag: Option<String>,
    last_modified: Option<String>,
    url: String,
    headers: Vec<(String, String)>,
    /// Hex, so the file is plain JSON.
    body: String,
}

/// The in-memory cache (FIFO eviction) and its optional directory.
#[derive(Debug, Default)]
struct Cache {
    map: HashMap<String, CacheEntry>,
    order: VecDeque<String>,
}

/// The HTTP side of a `LiveNet`.
pub(crate) struct Http {
    client: reqwest::Client,
    policy: Arc<Policy>,
    config: NetConfig,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one exchange gave.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    from_cache: bool,
}

impl Http {
    pub(crate) fn new(
        config: &NetConfig,
        policy: Arc<Policy>,
        resolver: PolicyResolver,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .dns_resolver(Arc::new(resolver))
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms.max(1)))
            .read_timeout(Duration::from_millis(config.request_timeout_ms.max(1)))
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| format!("http client: {}", chain(&e)))?;
        Ok(Self {
            client,
            policy,
            config: config.clone(),
            hosts: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::default()),
        })
    }

    /// An HTTP GET under the policy, bounded by the overall deadline.
    pub(crate) async fn get(
        &self,
        request: HttpRequest,
        now: u64,
    ) -> Result<HttpResponse, FetchError> {
        let deadline = Instant::now() + Duration::from_millis(self.config.deadline_ms.max(1));
        match tokio::time::timeout_at(deadline, self.get_within(&request, deadline, now)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::new(
                FetchErrorKind::Timeout,
                &request.url,
                format!(
                    "no complete answer within the deadline of {} ms",
                    self.config.deadline_ms
                ),
            )),
        }
    }

    async fn get_within(
        &self,
        request: &HttpRequest,
        deadline: Instant,
        now: u64,
    ) -> Result<HttpResponse, FetchError> {
        let mut checked = self.policy.check_url(&request.url, Family::Http)?;
        let mut hops = 0u32;
        loop {
            let answer = self.with_retries(&checked, request, deadline).await?;
            let is_redirect = matches!(answer.status, 301 | 302 | 303 | 307 | 308);
            if !is_redirect || request.redirects == Redirects::None {
                let mut headers = answer.headers;
                if answer.from_cache {
                    headers.push((CACHE_HEADER.to_owned(), "revalidated".to_owned()));
                }
                return Ok(HttpResponse {
                    url: checked.logical.to_string(),
                    status: answer.status,
                    headers,
                    body: answer.body.into(),
                    received_at: now,
                });
            }
            let here = checked.logical.as_str().to_owned();
            let location = answer
                .headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    FetchError::new(
                        FetchErrorKind::BadAnswer,
                        &here,
                        format!("a {} redirect without a location", answer.status),
                    )
                })?;
            if hops >= self.config.max_redirects {
                return Err(FetchError::new(
                    FetchErrorKind::Refused,
                    &here,
                    format!("more than {} redirects", self.config.max_redirects),
                ));
            }
            hops += 1;
            let next = checked.logical.join(&location).map_err(|e| {
                FetchError::new(
                    FetchErrorKind::BadAnswer,
                    &here,
                    format!("a redirect to an invalid location: {e}"),
                )
            })?;
            let next = self.policy.check_url(next.as_str(), Family::Http)?;
            // Compared on the wire: a test peer behind the plain-http rewrite may redirect
            // to the plain form of its own URL.
            if origin(&next.wire) != origin(&checked.wire) {
                return Err(FetchError::new(
                    FetchErrorKind::Refused,
                    &here,
                    format!(
                        "redirect from {} to another host {} refused (same-host redirects only)",
                        origin(&checked.logical),
                        origin(&next.logical)
                    ),
                ));
            }
            checked = next;
        }
    }

    /// One URL, with retries for 5xx and 429.
    async fn with_retries(
        &self,
        checked: &Checked,
        request: &HttpRequest,
        deadline: Instant,
    ) -> Result<Answer, FetchError> {
        let target = checked.logical.as_str();
        let attempts = self.config.max_attempts.max(1);
        let mut attempt = 1u32;
        loop {
            let answer = self.once(checked, request).await?;
            let status = answer.status;
            let header = |name: &str| {
                answer
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            if status == 403 && header("x-ratelimit-remaining") == Some("0") {
                return Err(FetchError::new(
                    FetchErrorKind::RateLimited,
                    target,
                    "the service answered 403 with x-ratelimit-remaining: 0",
                ));
            }
            let retryable = status == 429 || (500..600).contains(&status);
            if !retryable {
                return Ok(answer);
            }
            let final_kind = if status == 429 {
                FetchErrorKind::RateLimited
            } else {
                FetchErrorKind::ServerError
            };
            if attempt >= attempts {
                return Err(FetchError::new(
                    final_kind,
                    target,
                    format!("the server answered {status} after {attempt} attempts"),
                ));
            }
            let wait = match header("retry-after").and_then(retry_after) {
                Some(wait) => {
                    let cap = Duration::from_secs(self.config.max_retry_after_secs);
                    if wait > cap || Instant::now() + wait > deadline {
                        return Err(FetchError::new(
                            FetchErrorKind::RateLimited,
                            target,
                            format!(
                                "the server answered {status} and asked to wait {} s, longer than allowed",
                                wait.as_secs()
                            ),
                        ));
                    }
                    wait
                }
                None => backoff(self.config.retry_base_ms, attempt),
            };
            if Instant::now() + wait > deadline {
                return Err(FetchError::new(
                    final_kind,
                    target,
                    format!(
                        "the server answered {status}; no time left to retry before the deadline"
                    ),
                ));
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One exchange: a per-host permit, the request, the capped body.
    async fn once(&self, checked: &Checked, request: &HttpRequest) -> Result<Answer, FetchError> {
        let target = checked.logical.as_str();
        let semaphore = self.host_semaphore(&origin(&checked.wire));
        let _permit = semaphore.acquire_owned().await.map_err(|_| {
            FetchError::new(
                FetchErrorKind::Connect,
                target,
                "the per-host limiter was closed",
            )
        })?;

        let mut builder = self.client.get(checked.wire.clone());
        builder = builder.timeout(Duration::from_millis(self.config.request_timeout_ms.max(1)));
        if let Some(accept) = &request.accept {
            builder = builder.header(ACCEPT, accept.as_str());
        }
        if let Some(token) = self.credential(request.credential.as_deref(), &checked.wire) {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| {
                    FetchError::new(
                        FetchErrorKind::Refused,
                        target,
                        "the credential is not a valid header value",
                    )
                })?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        let key = cache_key(request, &checked.wire);
        let cached = self.cache_get(&key, &checked.wire);
        if let Some((entry, _)) = &cached {
            if let Some(etag) = &entry.etag {
                builder = builder.header(IF_NONE_MATCH, etag.as_str());
            }
            if let Some(modified) = &entry.last_modified {
                builder = builder.header(IF_MODIFIED_SINCE, modified.as_str());
            }
        }

        let request_timeout = Duration::from_millis(self.config.request_timeout_ms.max(1));
        let until = Instant::now() + request_timeout;
        let mut response = match tokio::time::timeout_at(until, builder.send()).await {
            Err(_) => return Err(timeout(target, request_timeout)),
            Ok(Err(e)) => return Err(map_error(target, &e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let headers = keep_headers(response.headers());

        if status == 304 {
            if let Some((entry, body)) = cached {
                // The 304's fresh headers win over the stored ones.
                let mut merged = entry.headers.clone();
                for (name, value) in &headers {
                    merged.retain(|(n, _)| n != name);
                    merged.push((name.clone(), value.clone()));
                }
                return Ok(Answer {
                    status: 200,
                    headers: merged,
                    body,
                    from_cache: true,
                });
            }
        }

        let cap = self.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_large(target, cap));
        }
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout_at(until, response.chunk()).await {
                Err(_) => return Err(timeout(target, request_timeout)),
                Ok(Err(e)) => return Err(map_error(target, &e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    if body.len() + chunk.len() > cap {
                        return Err(too_large(target, cap));
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }

        if status == 200 {
            let etag = header_value(&headers, "etag");
            let last_modified = header_value(&headers, "last-modified");
            if etag.is_some() || last_modified.is_some() {
                self.cache_put(
                    key,
                    CacheEntry {
                        etag,
                        last_modified,
                        url: checked.wire.to_string(),
                        headers: headers.clone(),
                        body: hex::encode(&body),
                    },
                );
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
            from_cache: false,
        })
    }

    /// The token of credential `name`, if configured and allowed for this host and scheme.
    fn credential(&self, name: Option<&str>, wire: &Url) -> Option<&str> {
        let name = name?;
        let (_, token) = self.config.credentials.iter().find(|(n, _)| n == name)?;
        let host = normalise_host(wire.host_str().unwrap_or(""));
        let scopes: Vec<&str> = self
            .config
            .credential_hosts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, h)| h.as_str())
            .collect();
        if !scopes.is_empty() && !scopes.iter().any(|h| normalise_host(h) == host) {
            return None;
        }
        // Over plain text only to test peers (the policy already limited plain http to them).
        Some(token.as_str())
    }

    fn host_semaphore(&self, origin: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if hosts.len() > 1024 {
            hosts.retain(|_, s| Arc::strong_count(s) > 1);
        }
        hosts
            .entry(origin.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_host_concurrency.max(1))))
            .clone()
    }

    /// The cached entry for `key` and its body; an entry that does not decode (a damaged
    /// cache file) counts as absent, so no conditional request is made for it.
    fn cache_get(&self, key: &str, wire: &Url) -> Option<(CacheEntry, Vec<u8>)> {
        if self.config.cache_entries == 0 {
            return None;
        }
        let memory = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.map.get(key).cloned()
        };
        let entry = match memory {
            Some(entry) => entry,
            None => {
                let path = self.cache_path(key)?;
                let text = std::fs::read(path).ok()?;
                serde_json::from_slice::<CacheEntry>(&text).ok()?
            }
        };
        if entry.url != wire.as_str() {
            return None;
        }
        let body = hex::decode(&entry.body).ok()?;
        Some((entry, body))
    }

    fn cache_put(&self, key: String, entry: CacheEntry) {
        if self.config.cache_entries == 0 {
            return;
        }
        if let Some(path) = self.cache_path(&key) {
            // Best effort: a cache that cannot be written is only a slower cache.
            if let Ok(text) = serde_json::to_vec(&entry) {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                    if let Ok(mut file) = tempfile::NamedTempFile::new_in(dir) {
                        use std::io::Write as _;
                        if file.write_all(&text).is_ok() {
                            let _ = file.persist(&path);
                        }
                    }
                }
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.map.insert(key.clone(), entry).is_none() {
            cache.order.push_back(key);
        }
        while cache.map.len() > self.config.cache_entries {
            match cache.order.pop_front() {
                Some(old) => {
                    cache.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn cache_path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        Some(dir.join(format!(
            "{}.json",
            hex::encode(Sha256::digest(key.as_bytes()))
        )))
    }
}

/// Accept, credential name and wire URL: responses can differ by each.
fn cache_key(request: &HttpRequest, wire: &Url) -> String {
    format!(
        "{}\n{}\n{}",
        request.accept.as_deref().unwrap_or(""),
        request.credential.as_deref().unwrap_or(""),
        wire
    )
}

fn header_value(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

fn keep_headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter(|(name, _)| kept_header(name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `Retry-After`: delay-seconds or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `base · 2^(attempt-1)` plus up to as much random jitter.
fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    let jitter = if exp == 0 {
        0
    } else {
        OsRng.next_u64() % (exp + 1)
    };
    Duration::from_millis(exp.saturating_add(jitter))
}

fn timeout(target: &str, after: Duration) -> FetchError {
    FetchError::new(
        FetchErrorKind::Timeout,
        target,
        format!("no complete answer within {} ms", after.as_millis()),
    )
}

fn too_large(target: &str, cap: usize) -> FetchError {
    FetchError::new(
        FetchErrorKind::TooLarge,
        target,
        format!("the body is larger than the cap of {cap} bytes (after decompression)"),
    )
}

/// A reqwest error as a `FetchError`: a policy refusal from the resolver hook keeps its
/// kind; the URL is left out of the detail (it is the target).
pub(crate) fn map_error(target: &str, e: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(fetch) = s.downcast_ref::<FetchError>() {
            return FetchError::new(fetch.kind, target, fetch.detail.clone());
        }
        source = s.source();
    }
    let kind = if e.is_timeout() {
        FetchErrorKind::Timeout
    } else if e.is_decode() {
        FetchErrorKind::BadAnswer
    } else if e.is_connect() || e.is_request() || e.is_body() {
        FetchErrorKind::Connect
    } else {
        FetchErrorKind::BadAnswer
    };
    FetchError::new(kind, target, chain(e))
}

/// The error and its sources, lowercased, without the URL.
fn chain(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = e.source();
    let head = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "reading the body failed"
    } else {
        "request failed"
    };
    text.push_str(head);
    while let Some(s) = current {
        text.push_str(": ");
        text.push_str(&s.to_string().to_lowercase());
        current = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = retry_after(&later).expect("date");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_with_jitter() {
        for attempt in 1..4 {
            let base = 100u64 << (attempt - 1);
            let wait = backoff(100, attempt).as_millis() as u64;
            assert!((base..=2 * base).contains(&wait), "{attempt}: {wait}");
        }
        assert_eq!(backoff(0, 3), Duration::ZERO);
    }
}
