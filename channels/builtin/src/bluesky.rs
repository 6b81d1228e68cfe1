//! Placeholder while the bluesky channel is written; replaced before it lands.

use async_trait::async_trait;
use kez_channel::{AccountError, Channel, ChannelError, Lookup, Net};
use kez_core::Identity;

/// Placeholder.
#[derive(Debug)]
pub struct BlueskyChannel;

impl BlueskyChannel {
    /// Placeholder.
    pub fn new(_plc: String) -> Self {
        Self
    }
}

#[async_trait]
impl Channel for BlueskyChannel {
    fn id(&self) -> &str {
        "bluesky"
    }
    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Err(AccountError(format!("{account}: not yet")))
    }
    async fn lookup(&self, _: &Identity, _: &dyn Net) -> Result<Lookup, ChannelError> {
        Err(ChannelError::Conflict("not yet".into()))
    }
}
