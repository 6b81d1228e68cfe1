//! The address and scheme policy (SPEC.md §11.2, docs/NETWORK.md).
//!
//! A fetch may only reach public unicast addresses over TLS. The address is checked where it
//! is connected to (the HTTP resolver hook, the relay transport) and, for IP literals, on
//! the URL itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use kez_channel::{FetchError, FetchErrorKind};
use url::Url;

use crate::NetConfig;

/// Why an address is refused, or `None` when it may be connected to.
pub(crate) fn refused_reason(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4, allow_loopback),
        IpAddr::V6(v6) => refused_v6(v6, allow_loopback),
    }
}

fn refused_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("loopback");
    }
    if a == 0 {
        return Some("unspecified (0.0.0.0/8)");
    }
    if a == 10 || (a == 172 && (16..32).contains(&b)) || (a == 192 && b == 168) {
        return Some("private");
    }
    if a == 100 && (64..128).contains(&b) {
        return Some("carrier-grade nat (100.64.0.0/10)");
    }
    if a == 169 && b == 254 {
        return Some("link-local");
    }
    if a == 192 && b == 0 && c == 0 {
        return Some("ietf protocol assignment (192.0.0.0/24)");
    }
    if (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        return Some("documentation");
    }
    if a == 198 && (b == 18 || b == 19) {
        return Some("benchmarking (198.18.0.0/15)");
    }
    if (224..240).contains(&a) {
        return Some("multicast");
    }
    if a >= 240 {
        return Some("reserved or broadcast (240.0.0.0/4)");
    }
    None
}

fn refused_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    // ::ffff:a.b.c.d (v4-mapped) and ::a.b.c.d (v4-compatible, deprecated): judge the v4.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4, allow_loopback).map(|_| "v4-mapped special address");
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        return Some("v4-compatible (deprecated ::/96)");
    }
    // 64:ff9b::/96 (NAT64): the embedded v4 decides.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return refused_v4(v4, false).map(|_| "nat64 of a special address");
    }
    // 2002::/16 (6to4): the embedded v4 decides.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return refused_v4(v4, false).map(|_| "6to4 of a special address");
    }
    if seg[0] & 0xff00 == 0xff00 {
        return Some("multicast");
    }
    if seg[0] & 0xffc0 == 0xfe80 {
        return Some("link-local");
    }
    if seg[0] & 0xffc0 == 0xfec0 {
        return Some("site-local (deprecated)");
    }
    if seg[0] & 0xfe00 == 0xfc00 {
        return Some("unique-local (fc00::/7)");
    }
    if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        return Some("documentation");
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        return Some("teredo (2001::/32)");
    }
    if seg[0] == 0x0100 && seg[1..4] == [0, 0, 0] {
        return Some("discard-only (100::/64)");
    }
    None
}

/// The scheme family of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `https` / `http`.
    Http,
    /// `wss` / `ws`.
    WebSocket,
}

/// A URL that passed the policy: the URL as asked for, and the one put on the wire (after
/// the `danger_plain_http` rewrite).
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// As asked for (reported back to the channel).
    pub(crate) logical: Url,
    /// As sent.
    pub(crate) wire: Url,
}

/// The policy derived from a [`NetConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) allow_loopback: bool,
    pub(crate) plain_http: bool,
    /// Lowercased host → override addresses.
    pub(crate) overrides: HashMap<String, Vec<SocketAddr>>,
}

impl Policy {
    pub(crate) fn new(config: &NetConfig) -> Self {
        let mut overrides: HashMap<String, Vec<SocketAddr>> = HashMap::new();
        for (host, addr) in &config.resolve {
            overrides
                .entry(normalise_host(host))
                .or_default()
                .push(*addr);
        }
        Self {
            allow_loopback: config.danger_allow_loopback,
            plain_http: config.danger_plain_http,
            overrides,
        }
    }

    /// Whether an address may be connected to, as a `refused` error if not.
    pub(crate) fn check_addr(&self, ip: IpAddr, target: &str) -> Result<(), FetchError> {
        match refused_reason(ip, self.allow_loopback) {
            None => Ok(()),
            Some(reason) => Err(FetchError::new(
                FetchErrorKind::Refused,
                target,
                format!("address {ip} is {reason}, which the policy refuses"),
            )),
        }
    }

    /// Checks a URL's scheme, credentials and (for IP literals) address, and rewrites it
    /// for `danger_plain_http`.
    pub(crate) fn check_url(&self, text: &str, family: Family) -> Result<Checked, FetchError> {
        let refused = |detail: String| FetchError::new(FetchErrorKind::Refused, text, detail);
        let logical = Url::parse(text).map_err(|e| refused(format!("not an absolute url: {e}")))?;
        if !logical.username().is_empty() || logical.password().is_some() {
            return Err(refused("credentials in the url are refused".to_owned()));
        }
        let (secure, plain) = match family {
            Family::Http => ("https", "http"),
            Family::WebSocket => ("wss", "ws"),
        };
        let scheme = logical.scheme();
        if scheme != secure && scheme != plain {
            return Err(refused(format!(
                "scheme {scheme} is refused: expected {secure}"
            )));
        }
        let host = match logical.host() {
            Some(host) => host,
            None => return Err(refused("the url has no host".to_owned())),
        };
        let (ip, name) = match host {
            url::Host::Ipv4(ip) => (Some(IpAddr::V4(ip)), None),
            url::Host::Ipv6(ip) => (Some(IpAddr::V6(ip)), None),
            url::Host::Domain(name) => (None, Some(normalise_host(name))),
        };
        if let Some(ip) = ip {
            self.check_addr(ip, text)?;
        }
        let overridden = name
            .as_ref()
            .is_some_and(|n| self.overrides.contains_key(n));
        let loopback = match ip {
            Some(ip) => is_loopback(ip),
            // RFC 6761: localhost names are loopback (their addresses are still checked).
            None if name
                .as_deref()
                .is_some_and(|n| n == "localhost" || n.ends_with(".localhost")) =>
            {
                true
            }
            None => name
                .as_ref()
                .and_then(|n| self.overrides.get(n))
                .is_some_and(|addrs| {
                    !addrs.is_empty() && addrs.iter().all(|a| is_loopback(a.ip()))
                }),
        };
        // Plain text is allowed to test peers only: listed hosts under danger_plain_http,
        // loopback under danger_allow_loopback.
        let plain_ok =
            (self.plain_http && (overridden || loopback)) || (self.allow_loopback && loopback);
        let mut wire = logical.clone();
        if scheme == plain {
            if !plain_ok {
                return Err(refused(format!(
                    "scheme {scheme} is refused: expected {secure}"
                )));
            }
        } else if self.plain_http && (overridden || loopback) {
            // Changing between two "special" schemes always succeeds.
            let _ = wire.set_scheme(plain);
        }
        Ok(Checked { logical, wire })
    }
}

/// Lowercased, without a trailing dot.
pub(crate) fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Scheme, host and port, for same-host redirects and per-host limits.
pub(crate) fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str, allow_loopback: bool) -> bool {
        let ip: IpAddr = ip.parse().expect("test ip");
        refused_reason(ip, allow_loopback).is_some()
    }

    #[test]
    fn special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "192.0.2.1",
        ] {
            assert!(refused(ip, false), "{ip} should be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!refused(ip, false), "{ip} should be allowed");
        }
    }

    #[test]
    fn allow_loopback_allows_only_loopback() {
        assert!(!refused("127.0.0.1", true));
        assert!(!refused("127.8.9.10", true));
        assert!(!refused("::1", true));
        assert!(!refused("::ffff:127.0.0.1", true));
        for ip in [
            "10.0.0.1",
            "192.168.0.1",
            "169.254.1.1",
            "fc00::1",
            "fe80::1",
            "0.0.0.0",
        ] {
            assert!(refused(ip, true), "{ip} should stay refused");
        }
    }

    #[test]
    fn schemes_and_rewrites() {
        let strict = Policy::new(&NetConfig::default());
        assert!(strict
            .check_url("https://example.com/x", Family::Http)
            .is_ok());
        for bad in [
            "http://example.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://user:pw@example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://10.0.0.1/",
            "not a url",
        ] {
            let err = strict.check_url(bad, Family::Http).expect_err(bad);
            assert_eq!(err.kind, FetchErrorKind::Refused, "{bad}");
        }
        assert!(strict
            .check_url("wss://relay.example/", Family::WebSocket)
            .is_ok());
        assert!(strict
            .check_url("ws://relay.example/", Family::WebSocket)
            .is_err());

        let addr: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let config = NetConfig {
            danger_plain_http: true,
            danger_allow_loopback: true,
            resolve: vec![("API.Example.test".into(), addr)],
            ..NetConfig::default()
        };
        let test = Policy::new(&config);
        let checked = test
            .check_url("https://api.example.test/a?b", Family::Http)
            .expect("ok");
        assert_eq!(checked.wire.as_str(), "http://api.example.test/a?b");
        assert_eq!(checked.logical.as_str(), "https://api.example.test/a?b");
        // Not listed, not loopback: stays https and plain http is refused.
        let other = test
            .check_url("https://other.example/", Family::Http)
            .expect("ok");
        assert_eq!(other.wire.scheme(), "https");
        assert!(test
            .check_url("http://other.example/", Family::Http)
            .is_err());
        assert!(test.check_url("http://127.0.0.1:9/", Family::Http).is_ok());
        assert!(test
            .check_url("ws://127.0.0.1:9/", Family::WebSocket)
            .is_ok());
        assert!(test.check_url("http://localhost:9/", Family::Http).is_ok());
        assert!(strict
            .check_url("http://localhost:9/", Family::Http)
            .is_err());
    }
}
