//! # kez-core
//!
//! The sans-IO core of KEZ identity proofs, implementing SPEC.md v0.2: it parses,
//! canonicalises, signs, verifies and evaluates the evidence it is handed. It opens no
//! sockets, reads no files and no clock: callers pass bytes in and the evaluation time
//! along, so the same inputs always give the same verdict.
//!
//! | module | SPEC.md |
//! |---|---|
//! | [`json`], [`digest`] | §2 strict I-JSON and JCS, digests |
//! | [`identity`] | §3 identities |
//! | [`key`], [`ed25519`], [`nostr_event`] | §4 keys, signature suites, NIP-01 events |
//! | [`claim`] | §5 the claim object |
//! | [`encoding`] | §6 the four encodings |
//! | [`sigchain`] | §7 the sigchain |
//! | [`verdict`] | §8 outcomes |
//!
//! ```
//! use kez_core::{claim::ClaimBuilder, encoding, verdict, Algorithm, SecretKey};
//!
//! let key = SecretKey::generate(Algorithm::Ed25519);
//! let claim = ClaimBuilder::new("github:jason".parse()?, 1_767_225_600).sign(&key, None)?;
//! let compact = encoding::compact::encode(&claim);
//!
//! let decoded = encoding::compact::decode(&compact)?;
//! let v = verdict::evaluate(&decoded, verdict::ChainEvidence::NotChecked, 1_767_225_700, None);
//! assert_eq!(v.outcome(), verdict::Outcome::Valid);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod claim;
pub mod digest;
pub mod ed25519;
pub mod encoding;
pub mod identity;
pub mod json;
pub mod key;
pub mod nostr_event;
pub mod sigchain;
pub mod verdict;

pub use claim::{Claim, ClaimBuilder, ClaimError};
pub use digest::Digest256;
pub use encoding::{DecodeError, Encoding};
pub use identity::{Identity, IdentityError};
pub use key::{Algorithm, KeyError, PublicKey, SecretKey, Signature, SignatureError};
pub use verdict::{Outcome, Publication, Verdict};
