//! DNS with hickory-resolver: TXT lookups for channels and address lookups for HTTP and
//! relays (SPEC.md §11.2).
//!
//! DNSSEC: the resolver is built without validation, so every answer reports
//! `dnssec: None` ("the resolver does not say"). A channel that needs DNSSEC must not
//! treat `None` as secure.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use kez_channel::{FetchError, FetchErrorKind, TxtLookup, TxtRecord};

use crate::NetConfig;

/// The resolver and its timeout.
#[derive(Clone)]
pub(crate) struct Dns {
    resolver: Arc<TokioResolver>,
    timeout: Duration,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// Builds the resolver: the configured servers (UDP and TCP), or the system
    /// configuration; when that cannot be read, a resolver with no servers (every lookup
    /// then fails with `connect`).
    pub(crate) fn new(config: &NetConfig) -> Result<Self, String> {
        let timeout = Duration::from_millis(config.request_timeout_ms.max(1));
        let provider = TokioRuntimeProvider::default();
        let mut builder = if config.dns_servers.is_empty() {
            match Resolver::builder(provider.clone()) {
                Ok(builder) => builder,
                Err(_) => Resolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], vec![]),
                    provider,
                ),
            }
        } else {
            let servers = config
                .dns_servers
                .iter()
                .map(|addr| name_server(*addr))
                .collect::<Vec<_>>();
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                provider,
            )
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        // One query per server attempt, bounded; the overall bound is `timeout` below.
        opts.timeout = timeout.min(Duration::from_secs(5));
        opts.attempts = 2;
        // Answers are evidence: do not serve stale TTLs out of a long-lived cache.
        opts.cache_size = 0;
        opts.try_tcp_on_error = true;
        let resolver = builder.build().map_err(|e| format!("dns resolver: {e}"))?;
        Ok(Self {
            resolver: Arc::new(resolver),
            timeout,
        })
    }

    /// The TXT records at `name`.
    pub(crate) async fn txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        let fqdn = fqdn(name)?;
        let lookup = tokio::time::timeout(
            self.timeout,
            self.resolver.lookup(fqdn.as_str(), RecordType::TXT),
        )
        .await;
        let lookup = match lookup {
            Err(_) => {
                return Err(FetchError::new(
                    FetchErrorKind::Timeout,
                    name,
                    format!("no dns answer within {} ms", self.timeout.as_millis()),
                ))
            }
            Ok(Err(e)) => return negative(name, &e),
            Ok(Ok(lookup)) => lookup,
        };
        let mut records = Vec::new();
        for record in lookup.answers() {
            if let RData::TXT(txt) = &record.data {
                records.push(TxtRecord {
                    strings: txt.txt_data.iter().map(|s| s.to_vec()).collect(),
                    ttl: record.ttl,
                });
            }
        }
        Ok(TxtLookup::Records {
            records,
            dnssec: None,
        })
    }

    /// The addresses of a host name (for HTTP and relays), unfiltered.
    pub(crate) async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        let fqdn = fqdn(host)?;
        match tokio::time::timeout(self.timeout, self.resolver.lookup_ip(fqdn.as_str())).await {
            Err(_) => Err(FetchError::new(
                FetchErrorKind::Timeout,
                host,
                format!("no dns answer within {} ms", self.timeout.as_millis()),
            )),
            Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => Err(FetchError::new(
                FetchErrorKind::Connect,
                host,
                "the host name has no addresses",
            )),
            Ok(Err(e)) => Err(error(host, &e)),
            Ok(Ok(lookup)) => Ok(lookup.iter().collect()),
        }
    }
}

fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// `name` as a fully qualified name (no search domains), or `refused` if it is not a
/// domain name.
fn fqdn(name: &str) -> Result<String, FetchError> {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty()
        || trimmed.len() > 253
        || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "not a domain name",
        ));
    }
    Ok(format!("{trimmed}."))
}

/// NXDOMAIN and NODATA are answers; everything else is an error.
fn negative(name: &str, e: &NetError) -> Result<TxtLookup, FetchError> {
    if let NetError::Dns(DnsError::NoRecordsFound(no)) = e {
        return match no.response_code {
            ResponseCode::NXDomain => Ok(TxtLookup::NxDomain),
            ResponseCode::NoError => Ok(TxtLookup::Records {
                records: vec![],
                dnssec: None,
            }),
            code => Err(FetchError::new(
                FetchErrorKind::BadAnswer,
                name,
                format!("the dns server answered {code}"),
            )),
        };
    }
    Err(error(name, e))
}

fn error(name: &str, e: &NetError) -> FetchError {
    let kind = match e {
        NetError::Timeout => FetchErrorKind::Timeout,
        NetError::Dns(DnsError::ResponseCode(_))
        | NetError::Dns(_)
        | NetError::Proto(_)
        | NetError::Truncated => FetchErrorKind::BadAnswer,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => FetchErrorKind::Timeout,
        _ => FetchErrorKind::Connect,
    };
    let detail = match e {
        NetError::Dns(DnsError::ResponseCode(code)) => format!("the dns server answered {code}"),
        other => format!("dns lookup failed: {}", other.to_string().to_lowercase()),
    };
    FetchError::new(kind, name, detail)
}
