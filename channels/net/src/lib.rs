//! The network layer of kez-verify (SPEC.md §11.2, docs/EVIDENCE.md).
//!
//! Every fetch a channel makes goes through a [`kez_channel::Net`]. This crate has three:
//!
//! - [`LiveNet`]: HTTP with reqwest (rustls), DNS with hickory-resolver, nostr with
//!   nostr-sdk, under one [`NetConfig`]: per-request timeouts and an overall deadline,
//!   response size and decompression caps, redirect rules, no private or loopback addresses
//!   unless allowed, retries with backoff for 5xx and 429 honouring `Retry-After`, per-host
//!   concurrency limits, conditional requests, credentials from the environment (never
//!   logged);
//! - [`Recorder`]: wraps any `Net` and keeps every exchange as [`Evidence`];
//! - [`ReplayNet`]: answers from an evidence [`Bundle`] only, deterministically, and fails
//!   with `not_recorded` on any request the bundle does not hold.

pub mod bundle;
pub mod config;
pub mod evidence;
pub mod live;
pub mod record;
pub mod replay;

pub use bundle::{Bundle, BundleError, Layout, BUNDLE_VERSION, PACKED_BUNDLE_VERSION};
pub use evidence::{Evidence, Exchange, Record};
pub use record::Recorder;
pub use replay::ReplayNet;

pub use config::NetConfig;
pub use live::LiveNet;
