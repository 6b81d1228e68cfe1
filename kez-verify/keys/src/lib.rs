//! # kez-keys
//!
//! KEZ secret keys at rest, implementing the key files of SPEC.md §9: the plaintext key
//! file format (§9.1, [`keyfile`]), passphrase encryption with age ([`encrypted`]),
//! private atomic writes and passphrase-aware reads ([`store`]) and the 24-word BIP-39
//! paper backup ([`mnemonic`]).
//!
//! The keys themselves are [`kez_core::SecretKey`]s. Secret text this crate builds is
//! returned in [`zeroize::Zeroizing`] buffers, and no error it returns carries secret
//! material.
//!
//! ```
//! use kez_core::{Algorithm, SecretKey};
//! use kez_keys::encrypted::EncryptOptions;
//! use kez_keys::{mnemonic, store};
//! use kez_keys::SecretString;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("kez.key");
//! let key = SecretKey::generate(Algorithm::Ed25519);
//!
//! // An encrypted key file, mode 0600, written atomically; refuse to replace a file.
//! let passphrase = SecretString::from("correct horse battery staple".to_owned());
//! let fast = EncryptOptions { work_factor: Some(10) }; // the default takes about 1 s
//! store::write_key_file(&path, &key, Some((&passphrase, fast)), false)?;
//! assert!(store::write_key_file(&path, &key, None, false).is_err());
//!
//! // Reading asks for the passphrase only because the file is encrypted.
//! let (read, info) = store::read_key_file(&path, || {
//!     Ok::<_, std::io::Error>(passphrase.clone())
//! })?;
//! assert_eq!(read.public_key(), key.public_key());
//! assert!(info.encrypted && !info.is_shared());
//!
//! // The paper backup: 24 words, and the algorithm to restore with.
//! let words = mnemonic::Mnemonic::from_key(&key).to_phrase();
//! let restored = mnemonic::restore(Algorithm::Ed25519, &words)?;
//! assert_eq!(restored.public_key(), key.public_key());
//! # Ok(())
//! # }
//! ```

pub mod encrypted;
pub mod keyfile;
pub mod mnemonic;
pub mod store;

/// The passphrase type every function here takes (re-exported from `age`).
pub use age::secrecy::SecretString;
