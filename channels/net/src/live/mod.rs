//! [`LiveNet`]: the live [`Net`] (SPEC.md §11.2, docs/NETWORK.md).
//!
//! HTTP with reqwest (rustls, gzip, brotli, deflate), DNS with hickory-resolver, nostr with
//! nostr-sdk, all under one [`NetConfig`]:
//!
//! - **addresses**: only public unicast addresses are connected to. The check runs on the
//!   addresses actually dialled (reqwest's resolver hook, the relay transport) and on IP
//!   literals in URLs. Private, loopback, link-local, unspecified, multicast, CGNAT,
//!   unique-local, documentation and reserved ranges, and their v4-mapped, NAT64 and 6to4
//!   forms, are refused; `danger_allow_loopback` allows loopback and nothing else.
//! - **schemes**: `https` and `wss` only; `http`/`ws` to test peers under the `danger_*`
//!   switches. URLs carrying a user or password are refused. Proxies are never used.
//! - **time**: every exchange has `request_timeout_ms`, every fetch `deadline_ms`; every
//!   loop is bounded by both and by the size caps.
//! - **size**: bodies are capped at `max_body_bytes` after decompression (`too_large`).
//! - **redirects**: followed by hand, at most `max_redirects`, same scheme, host and port;
//!   each hop passes the whole policy again.
//! - **retries**: 5xx and 429 are retried (`max_attempts` in all) with exponential backoff
//!   and jitter, or after `Retry-After` when it is at most `max_retry_after_secs` and within
//!   the deadline (otherwise `rate_limited` at once). A final 5xx is `server_error`, a final
//!   429 (or GitHub's 403 with `x-ratelimit-remaining: 0`) `rate_limited`.
//! - **per host**: at most `per_host_concurrency` exchanges in flight per scheme+host+port.
//! - **conditional requests**: 200 answers with an `ETag` or `Last-Modified` are kept; the
//!   next GET of the same URL (same `Accept`, same credential) sends `If-None-Match` /
//!   `If-Modified-Since`, and a 304 is answered from the cache as a 200 carrying the header
//!   `x-kez-cache: revalidated`.
//! - **credentials**: sent as `Authorization: Bearer` only when the request names a
//!   configured credential and the host is in its scope; marked sensitive, never in errors,
//!   `Debug` output or logs.

mod dns;
mod http;
mod nostr;
mod policy;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use kez_channel::{FetchError, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup};

pub use self::http::CACHE_HEADER;
use self::http::{Http, PolicyResolver};
use self::policy::Policy;
use crate::NetConfig;

/// Why a [`LiveNet`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveNetError {
    /// The configuration is not usable.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// The HTTP client or the DNS resolver could not be built.
    #[error("network setup failed: {0}")]
    Setup(String),
}

/// The live network: a [`Net`] that really fetches, under the policy of a [`NetConfig`].
///
/// Cheap to clone (clones share connection pools, limits and the cache). Must be used
/// inside a tokio runtime.
#[derive(Clone)]
pub struct LiveNet {
    inner: Arc<Inner>,
}

struct Inner {
    config: NetConfig,
    policy: Arc<Policy>,
    resolver: PolicyResolver,
    http: Http,
}

impl std::fmt::Debug for LiveNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveNet")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl LiveNet {
    /// Builds the HTTP client and the resolver for `config`.
    pub fn new(config: NetConfig) -> Result<Self, LiveNetError> {
        if config.max_body_bytes == 0 {
            return Err(LiveNetError::Config(
                "max_body_bytes must be more than 0".into(),
            ));
        }
        if config.per_host_concurrency == 0 {
            return Err(LiveNetError::Config(
                "per_host_concurrency must be more than 0".into(),
            ));
        }
        if config.request_timeout_ms == 0 || config.deadline_ms == 0 {
            return Err(LiveNetError::Config(
                "timeouts must be more than 0 ms".into(),
            ));
        }
        for (name, _) in &config.credentials {
            if name.is_empty() {
                return Err(LiveNetError::Config(
                    "a credential has an empty name".into(),
                ));
            }
        }
        let policy = Arc::new(Policy::new(&config));
        let dns = dns::Dns::new(&config).map_err(LiveNetError::Setup)?;
        let resolver = PolicyResolver {
            policy: policy.clone(),
            dns,
        };
        let http =
            Http::new(&config, policy.clone(), resolver.clone()).map_err(LiveNetError::Setup)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                policy,
                resolver,
                http,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &NetConfig {
        &self.inner.config
    }
}

#[async_trait]
impl Net for LiveNet {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let now = self.now();
        self.inner.http.get(request, now).await.map(|mut response| {
            response.received_at = self.now();
            response
        })
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        self.inner.resolver.dns.txt(name).await
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        nostr::events(
            &self.inner.config,
            self.inner.policy.clone(),
            self.inner.resolver.clone(),
            query,
        )
        .await
    }

    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
