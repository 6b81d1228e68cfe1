//! The configuration of [`LiveNet`](crate::LiveNet) (SPEC.md §11.2, docs/NETWORK.md).
//!
//! [`NetConfig::default`] is the policy for the public internet: HTTPS only, no private,
//! loopback or otherwise special addresses, 10 s per request, 30 s per fetch, 1 MiB per
//! body, same-host redirects only, 3 attempts for 5xx and 429, 4 requests at a time per
//! host. Everything that weakens it for tests is named `danger_*`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The policy and settings of a [`LiveNet`](crate::LiveNet).
///
/// Deserializes from a partial object: every missing field takes its default. Unknown
/// fields are refused. The `Debug` output names the credentials but never shows a token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    /// Host name → address overrides, like `curl --resolve`: the host name stays in the URL,
    /// the `Host` header and TLS, but connections go to the given address. When the URL
    /// names no port, the override's port is used. Overridden addresses still pass the
    /// address policy. Default: none.
    pub resolve: Vec<(String, SocketAddr)>,
    /// DNS servers to ask (UDP, then TCP), for TXT lookups and for resolving host names.
    /// Empty (the default): the system's resolver configuration (`/etc/resolv.conf`).
    pub dns_servers: Vec<SocketAddr>,
    /// Allow loopback addresses (127.0.0.0/8, `::1`, `::ffff:127.0.0.0/104`) and plain
    /// `http`/`ws` to them. For tests against local peers only: other private and special
    /// addresses stay refused. Default: `false`.
    pub danger_allow_loopback: bool,
    /// Rewrite `https://` to `http://` (and `wss://` to `ws://`) for hosts listed in
    /// [`resolve`](Self::resolve) or that are loopback addresses, and allow plain `http`
    /// to them: for test peers that cannot do TLS. Default: `false`.
    pub danger_plain_http: bool,
    /// Credential name → token (for example `github` → the value of `GITHUB_TOKEN`), sent as
    /// `Authorization: Bearer <token>` when a request names the credential. Never printed.
    /// Default: none; see [`NetConfig::credentials_from_env`].
    pub credentials: Vec<(String, String)>,
    /// Credential name → host it may be sent to. A credential with entries here is only
    /// ever sent to those hosts; one without entries goes to any host that asks for it by
    /// name. [`NetConfig::credentials_from_env`] binds `github` to `api.github.com`.
    pub credential_hosts: Vec<(String, String)>,
    /// Time allowed for one HTTP exchange, one DNS query or one relay connection, in
    /// milliseconds. Default: 10,000.
    pub request_timeout_ms: u64,
    /// Time allowed for one whole fetch (all retries, redirects and waits, or a whole nostr
    /// query), in milliseconds. Default: 30,000.
    pub deadline_ms: u64,
    /// Time allowed to open a TCP connection (and TLS), in milliseconds. Default: 5,000.
    pub connect_timeout_ms: u64,
    /// The largest body accepted, counted after decompression, in bytes; also the cap on
    /// the total size of the events of one nostr query. Default: 1 MiB.
    pub max_body_bytes: usize,
    /// Most events kept from one nostr query. Default: 10,000.
    pub max_events: usize,
    /// Most redirects followed under `Redirects::SameHost`. Default: 5.
    pub max_redirects: u32,
    /// Most attempts for an HTTP request answered 5xx or 429 (the first one included).
    /// Default: 3.
    pub max_attempts: u32,
    /// The first retry waits about this long (doubling each time, plus up to as much
    /// random jitter), in milliseconds, unless `Retry-After` says otherwise. Default: 250.
    pub retry_base_ms: u64,
    /// The longest `Retry-After` honoured, in seconds; a longer one (or one past the
    /// deadline) fails at once with `rate_limited`. Default: 30.
    pub max_retry_after_secs: u64,
    /// Most requests in flight to one host (scheme, host and port). Default: 4.
    pub per_host_concurrency: usize,
    /// Most responses kept in the in-memory ETag / Last-Modified cache. 0 turns conditional
    /// requests off. Default: 1,024.
    pub cache_entries: usize,
    /// A directory where cached responses are also kept between runs (one JSON file per
    /// URL). Default: none (memory only).
    pub cache_dir: Option<PathBuf>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            resolve: Vec::new(),
            dns_servers: Vec::new(),
            danger_allow_loopback: false,
            danger_plain_http: false,
            credentials: Vec::new(),
            credential_hosts: Vec::new(),
            request_timeout_ms: 10_000,
            deadline_ms: 30_000,
            connect_timeout_ms: 5_000,
            max_body_bytes: 1024 * 1024,
            max_events: 10_000,
            max_redirects: 5,
            max_attempts: 3,
            retry_base_ms: 250,
            max_retry_after_secs: 30,
            per_host_concurrency: 4,
            cache_entries: 1024,
            cache_dir: None,
            user_agent: concat!("kez-verify/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl NetConfig {
    /// The default policy with credentials read from the environment: `GITHUB_TOKEN`
    /// (when set and not empty) becomes credential `github`, sent only to `api.github.com`.
    pub fn credentials_from_env(mut self) -> Self {
        if let Ok(token) = std::env::var("GITHUB_TOKEN") {
            let token = token.trim().to_owned();
            if !token.is_empty() {
                self.credentials.retain(|(name, _)| name != "github");
                self.credentials.push(("github".to_owned(), token));
                if !self
                    .credential_hosts
                    .iter()
                    .any(|(name, _)| name == "github")
                {
                    self.credential_hosts
                        .push(("github".to_owned(), "api.github.com".to_owned()));
                }
            }
        }
        self
    }

    /// Adds (or replaces) credential `name`.
    pub fn with_credential(mut self, name: impl Into<String>, token: impl Into<String>) -> Self {
        let name = name.into();
        self.credentials.retain(|(n, _)| *n != name);
        self.credentials.push((name, token.into()));
        self
    }

    /// Adds a host override (`curl --resolve`).
    pub fn with_resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// A configuration for tests against peers on 127.0.0.1 / `::1`: loopback allowed,
    /// plain HTTP allowed to them, and short timeouts (2 s per request, 10 s per fetch).
    pub fn danger_loopback_testing() -> Self {
        Self {
            danger_allow_loopback: true,
            danger_plain_http: true,
            request_timeout_ms: 2_000,
            deadline_ms: 10_000,
            connect_timeout_ms: 2_000,
            retry_base_ms: 50,
            ..Self::default()
        }
    }
}

/// Shows everything but the tokens.
impl fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a [(String, String)]);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
                    .finish()
            }
        }
        f.debug_struct("NetConfig")
            .field("resolve", &self.resolve)
            .field("dns_servers", &self.dns_servers)
            .field("danger_allow_loopback", &self.danger_allow_loopback)
            .field("danger_plain_http", &self.danger_plain_http)
            .field("credentials", &Redacted(&self.credentials))
            .field("credential_hosts", &self.credential_hosts)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("deadline_ms", &self.deadline_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_events", &self.max_events)
            .field("max_redirects", &self.max_redirects)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("max_retry_after_secs", &self.max_retry_after_secs)
            .field("per_host_concurrency", &self.per_host_concurrency)
            .field("cache_entries", &self.cache_entries)
            .field("cache_dir", &self.cache_dir)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_tokens() {
        let config = NetConfig::default().with_credential("github", "ghp_secret_token_123");
        let text = format!("{config:?} {config:#?}");
        assert!(!text.contains("ghp_secret_token_123"), "{text}");
        assert!(text.contains("github"));
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn partial_config_takes_defaults() {
        let config: NetConfig = serde_json::from_str(
            r#"{"danger_allow_loopback": true, "resolve": [["a.test", "127.0.0.1:8080"]]}"#,
        )
        .expect("parses");
        assert!(config.danger_allow_loopback);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.resolve.len(), 1);
        assert!(serde_json::from_str::<NetConfig>(r#"{"no_such_field": 1}"#).is_err());
    }
}
