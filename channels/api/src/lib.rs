//! The KEZ channel plugin API (SPEC.md §11).
//!
//! A *channel* is a place where only an account's owner can publish: a DNS zone, a GitHub
//! account's gists, a nostr key's events, a Bluesky repository, an ActivityPub actor. For an
//! identity such as `github:jason` the channel finds what the account published and hands back
//! the text of each proof, with the platform's own evidence (where it was found, when it was
//! published). It does not decide whether a claim holds: the host decodes the claims, checks
//! signatures and sigchains and reaches the verdict with `kez-core`.
//!
//! - [`Channel`] is the trait every channel implements; it is object safe and used as
//!   `Arc<dyn Channel>`. Channel ids are an open set of strings.
//! - [`Net`] is the only way a channel touches the world: HTTP, DNS TXT and nostr queries. The
//!   host's implementation (crate `kez-net`) enforces timeouts, size caps and address policy,
//!   and keeps every exchange as evidence, so that a verification can be recorded and replayed.
//! - [`Registry`] is the set of channels a caller builds and passes in; there is no global one.
//! - [`external`] runs a channel as a separate executable `kez-channel-<name>` speaking the JSON
//!   protocol of docs/CHANNEL-PLUGINS.md.
//!
//! "Not mine" and "mine but bad" are different answers: content that is not a KEZ proof is
//! left out of a [`Lookup`]; a proof that is found but fails a channel rule (published by
//! another account, an event whose id does not match its body) is a [`Rejected`] item.

pub mod channel;
pub mod external;
pub mod extract;
pub mod net;
pub mod registry;

/// The shared byte buffer [`HttpResponse::body`] is (the `bytes` crate's), so that channels
/// and hosts need not depend on it themselves to build or read a response.
pub use bytes::Bytes;
pub use channel::{
    AccountError, Channel, ChannelError, Found, Lookup, Proof, RejectReason, Rejected,
};
pub use net::{
    FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, Redirects, TxtLookup,
    TxtRecord,
};
pub use registry::{DuplicateChannel, Registry};
