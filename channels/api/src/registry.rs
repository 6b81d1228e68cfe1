//! The set of channels a verification uses (SPEC.md §11.1).

use std::sync::Arc;

use crate::channel::Channel;

/// Channels by id and alias. Built by the caller and passed in; there is no global registry.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    channels: Vec<Arc<dyn Channel>>,
}

/// Registering a channel whose id or alias is already taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel name {0:?} is already registered")]
pub struct DuplicateChannel(pub String);

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a channel. Its id and aliases must not collide with those already registered.
    pub fn register(&mut self, channel: Arc<dyn Channel>) -> Result<(), DuplicateChannel> {
        let mut names = vec![channel.id().to_string()];
        names.extend(channel.aliases());
        for name in &names {
            if self.get(name).is_some() {
                return Err(DuplicateChannel(name.clone()));
            }
        }
        self.channels.push(channel);
        Ok(())
    }

    /// Adds a channel, builder style.
    pub fn with(mut self, channel: Arc<dyn Channel>) -> Result<Self, DuplicateChannel> {
        self.register(channel)?;
        Ok(self)
    }

    /// The channel serving `scheme`, by id or alias.
    pub fn get(&self, scheme: &str) -> Option<Arc<dyn Channel>> {
        self.channels
            .iter()
            .find(|channel| {
                channel.id() == scheme || channel.aliases().iter().any(|alias| alias == scheme)
            })
            .cloned()
    }

    /// The ids of the registered channels, in registration order.
    pub fn ids(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.id().to_string()).collect()
    }

    /// Whether no channel is registered.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{AccountError, ChannelError, Lookup};
    use crate::net::Net;
    use async_trait::async_trait;
    use kez_core::Identity;

    #[derive(Debug)]
    struct Named(&'static str, &'static [&'static str]);

    #[async_trait]
    impl Channel for Named {
        fn id(&self) -> &str {
            self.0
        }
        fn aliases(&self) -> Vec<String> {
            self.1.iter().map(|a| a.to_string()).collect()
        }
        fn normalise(&self, account: &str) -> Result<String, AccountError> {
            Ok(account.to_string())
        }
        async fn lookup(&self, _: &Identity, _: &dyn Net) -> Result<Lookup, ChannelError> {
            Ok(Lookup::default())
        }
    }

    #[test]
    fn finds_channels_by_id_and_alias() {
        let registry = Registry::new()
            .with(Arc::new(Named("ap", &["mastodon"])))
            .unwrap()
            .with(Arc::new(Named("dns", &[])))
            .unwrap();
        assert_eq!(registry.get("mastodon").unwrap().id(), "ap");
        assert_eq!(registry.get("ap").unwrap().id(), "ap");
        assert_eq!(registry.get("dns").unwrap().id(), "dns");
        assert!(registry.get("github").is_none());
        assert_eq!(registry.ids(), ["ap", "dns"]);
    }

    #[test]
    fn refuses_a_second_channel_under_a_taken_name() {
        let mut registry = Registry::new()
            .with(Arc::new(Named("ap", &["mastodon"])))
            .unwrap();
        let err = registry
            .register(Arc::new(Named("mastodon", &[])))
            .unwrap_err();
        assert_eq!(err, DuplicateChannel("mastodon".into()));
        let err = registry
            .register(Arc::new(Named("x", &["ap"])))
            .unwrap_err();
        assert_eq!(err, DuplicateChannel("ap".into()));
        assert_eq!(registry.ids(), ["ap"]);
    }
}
