//! Placeholder while the ap channel is written; replaced before it lands.

use async_trait::async_trait;
use kez_channel::{AccountError, Channel, ChannelError, Lookup, Net};
use kez_core::Identity;

/// Placeholder.
#[derive(Debug)]
pub struct ApChannel;

impl ApChannel {
    /// Placeholder.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Channel for ApChannel {
    fn id(&self) -> &str {
        "ap"
    }
    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Err(AccountError(format!("{account}: not yet")))
    }
    async fn lookup(&self, _: &Identity, _: &dyn Net) -> Result<Lookup, ChannelError> {
        Err(ChannelError::Conflict("not yet".into()))
    }
}
