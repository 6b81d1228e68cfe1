//! Real peers on loopback for the channel tests (issue 3 §5). Each module starts one peer on
//! 127.0.0.1 with a free port, offers what the tests need to publish, and stops the peer when
//! dropped. Nothing here reaches beyond loopback.
//!
//! | module | peer |
//! |---|---|
//! | [`knot`] | knot, an authoritative DNS server (Debian), serving zone files |
//! | [`relay`] | nostr-relay-builder, a nostr relay, in-process |
//! | [`pds`] | an ATProto PDS with an in-memory PLC directory (`@atproto/dev-env`) |
//! | [`fedify`] | an ActivityPub server built with Fedify |
//! | [`github`] | recorded GitHub REST responses served by wiremock |
//! | [`chains`] | a sigchain HTTP source (`GET /v1/chains/{key}.jsonl`) |
//! | [`latency`] | proxies that delay every answer of a peer (TCP, and DNS over UDP) |

pub mod chains;
pub mod fedify;
pub mod github;
pub mod knot;
pub mod latency;
pub mod pds;
pub mod relay;
