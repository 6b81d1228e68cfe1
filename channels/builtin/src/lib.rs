//! The five built-in KEZ channels (SPEC.md §11.3–§11.7): `dns`, `github`, `nostr`, `bluesky`
//! and `ap` (alias `mastodon`).
//!
//! Each is a [`kez_channel::Channel`]; [`default_registry`] builds a registry holding all five
//! with the endpoints of a [`ChannelsConfig`]. Nothing here opens a socket: every fetch goes
//! through the [`kez_channel::Net`] the host passes in.

use std::sync::Arc;

use kez_channel::Registry;
use serde::{Deserialize, Serialize};

pub mod ap;
pub mod bluesky;
pub mod dns;
pub mod github;
pub mod nostr;
#[cfg(test)]
mod script;

/// The endpoints the built-in channels use. Defaults are the public services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelsConfig {
    /// The GitHub REST API base URL.
    pub github_api: String,
    /// The nostr relays asked for an account's events (and its NIP-65 relay list).
    pub nostr_relays: Vec<String>,
    /// The did:plc directory.
    pub plc_directory: String,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            github_api: "https://api.github.com".into(),
            nostr_relays: vec![
                "wss://relay.damus.io".into(),
                "wss://nos.lol".into(),
                "wss://relay.nostr.band".into(),
            ],
            plc_directory: "https://plc.directory".into(),
        }
    }
}

/// A registry of the five built-in channels, configured by `config`.
pub fn default_registry(config: &ChannelsConfig) -> Registry {
    let mut registry = Registry::new();
    let channels: [Arc<dyn kez_channel::Channel>; 5] = [
        Arc::new(dns::DnsChannel::new()),
        Arc::new(github::GithubChannel::new(config.github_api.clone())),
        Arc::new(nostr::NostrChannel::new(config.nostr_relays.clone())),
        Arc::new(bluesky::BlueskyChannel::new(config.plc_directory.clone())),
        Arc::new(ap::ApChannel::new()),
    ];
    for channel in channels {
        // The five ids and the one alias are distinct.
        #[allow(clippy::expect_used)]
        registry
            .register(channel)
            .expect("built-in channel names are distinct");
    }
    registry
}
