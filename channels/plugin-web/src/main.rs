//! `kez-channel-web`: a KEZ channel plugin for the scheme `web` (docs/CHANNEL-PLUGINS.md).
//!
//! The account is a domain name; the proofs are the KEZ texts in
//! `https://<domain>/.well-known/kez.txt`. A 404 or 410 there means the domain published
//! none. It is the reference plugin of the protocol and the one the conformance kit runs
//! against (`channels/plugin-web/conformance.toml`).
//!
//! Run by a host, never by hand: it speaks JSON lines on stdin and stdout and does no I/O of
//! its own — the host fetches the file through its `Net` and sends back the response.

use async_trait::async_trait;
use kez_channel::extract::proof_texts;
use kez_channel::{
    AccountError, Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest, Lookup,
    Net, Proof, RejectReason, Rejected,
};
use kez_core::identity::normalize_domain;
use kez_core::Identity;

/// The channel: scheme `web`, no aliases.
#[derive(Debug)]
struct WebChannel;

/// Where a domain publishes its proofs.
fn proof_url(domain: &str) -> String {
    format!("https://{domain}/.well-known/kez.txt")
}

#[async_trait]
impl Channel for WebChannel {
    fn id(&self) -> &str {
        "web"
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        normalize_domain("web", account).map_err(|e| AccountError(e.to_string()))
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        // The host hands over identities this plugin normalised; check anyway.
        let domain = normalize_domain("web", identity.account())
            .map_err(|e| ChannelError::NoSuchAccount(e.to_string()))?;
        let domain = domain.as_str();
        let url = proof_url(domain);
        let request = HttpRequest::get(&url).accept("text/plain");
        let response = net.http_get(request).await?;
        let mut lookup = Lookup::default();
        match response.status {
            200..=299 => {}
            404 | 410 => {
                lookup
                    .notes
                    .push(format!("{url}: status {}", response.status));
                return Ok(lookup);
            }
            429 => {
                return Err(unreachable(
                    FetchErrorKind::RateLimited,
                    &url,
                    "status 429".into(),
                ))
            }
            status @ 500..=599 => {
                return Err(unreachable(
                    FetchErrorKind::ServerError,
                    &url,
                    format!("status {status}"),
                ))
            }
            status => {
                return Err(unreachable(
                    FetchErrorKind::BadAnswer,
                    &url,
                    format!("unexpected status {status}"),
                ))
            }
        }
        let Ok(text) = std::str::from_utf8(&response.body) else {
            lookup.notes.push(format!("{url}: the body is not UTF-8"));
            return Ok(lookup);
        };
        // The host follows same-host redirects only; check anyway that the answer came
        // from the domain itself.
        let own_prefix = format!("https://{domain}/");
        let own_host = response.url.starts_with(&own_prefix);
        for content in proof_texts(text) {
            lookup.found.push(if own_host {
                Found::Proof(Proof::new(&response.url, content))
            } else {
                Found::Rejected(Rejected {
                    location: response.url.clone(),
                    reason: RejectReason::WrongHost,
                    detail: format!("fetched from {}, not from {domain}", response.url),
                })
            });
        }
        Ok(lookup)
    }
}

fn unreachable(kind: FetchErrorKind, url: &str, detail: String) -> ChannelError {
    ChannelError::Unreachable(FetchError::new(kind, url, detail))
}

fn main() -> std::process::ExitCode {
    match kez_channel::external::serve(&WebChannel) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kez-channel-web: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_domains_and_rejects_the_rest() {
        assert_eq!(WebChannel.normalise("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            WebChannel.normalise("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in ["localhost", "1.2.3.4", "a..b", "exa mple.com", ""] {
            assert!(WebChannel.normalise(bad).is_err(), "{bad}");
        }
    }
}
