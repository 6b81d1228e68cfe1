//! # kez-core
//!
//! The sans-IO core of KEZ identity proofs, implementing SPEC.md v0.2: it parses,
//! canonicalises, signs, verifies and evaluates the evidence it is handed. It opens no
//! sockets and reads no clocks: callers pass bytes in and the evaluation time along.
pub mod claim;
pub mod ed25519;
pub mod encoding;
pub mod identity;
pub mod json;
pub mod key;
pub mod nostr_event;
pub mod sigchain;

pub use identity::{Identity, IdentityError};
pub use key::{Algorithm, KeyError, PublicKey, SecretKey, Signature, SignatureError};
