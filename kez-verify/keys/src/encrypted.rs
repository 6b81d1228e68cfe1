//! Passphrase-encrypted key files (SPEC.md §9).
//!
//! An encrypted key file is a plaintext key file ([`crate::keyfile`], SPEC.md §9.1)
//! encrypted with [age](https://age-encryption.org/v1) to a single scrypt (passphrase)
//! recipient, written ASCII-armored (`-----BEGIN AGE ENCRYPTED FILE-----`). Reading
//! also accepts binary age files.
//!
//! The scrypt work factor is `log2(N)`. When encrypting, [`EncryptOptions::work_factor`]
//! picks it (`None`: age's default, calibrated to take about a second on this machine).
//! When decrypting, [`DecryptOptions::max_work_factor`] caps it (`None`: age's default
//! cap, about 16 times the calibrated work), so a hostile file cannot make us spend
//! hours and gigabytes. Explicit values are limited to [`MAX_WORK_FACTOR`].
//!
//! A wrong passphrase is reported as [`DecryptError::WrongPassphrase`], apart from
//! damaged files. age's passphrase stanza is not a robust AEAD, so a file whose stanza
//! was tampered with is indistinguishable from a wrong passphrase; everything after the
//! stanza (header MAC, payload) is checked and reported as [`DecryptError::Corrupt`].

use std::io::Read as _;

use age::secrecy::{ExposeSecret as _, SecretString};
use kez_core::SecretKey;
use zeroize::Zeroizing;

use crate::keyfile::{self, KeyFileError};

/// The first line of an ASCII-armored age file.
pub const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// The first bytes of a binary age file.
const BINARY_MAGIC: &[u8] = b"age-encryption.org/";

/// The largest scrypt work factor accepted in [`EncryptOptions`] and [`DecryptOptions`]:
/// `N = 2^22`, for which scrypt (with age's `r = 8`) needs 4 GiB of memory.
pub const MAX_WORK_FACTOR: u8 = 22;

/// How to encrypt a key file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncryptOptions {
    /// The scrypt work factor `log2(N)`, from 1 to [`MAX_WORK_FACTOR`]. `None` lets age
    /// pick one that takes about a second on this machine.
    pub work_factor: Option<u8>,
}

/// How to decrypt a key file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecryptOptions {
    /// The largest scrypt work factor `log2(N)` to attempt, from 1 to
    /// [`MAX_WORK_FACTOR`]. `None` uses age's default cap (about 16 times the work age
    /// calibrates for one second on this machine).
    pub max_work_factor: Option<u8>,
}

/// Why a key could not be encrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The work factor is outside `1..=MAX_WORK_FACTOR` (a caller mistake).
    #[error("scrypt work factor {0} is out of range (expected 1 to {MAX_WORK_FACTOR})")]
    WorkFactor(u8),
    /// The passphrase is empty (a caller mistake).
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// age failed to encrypt.
    #[error("age encryption failed: {0}")]
    Age(#[source] age::EncryptError),
}

/// Why an encrypted key file could not be decrypted. No variant carries plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The passphrase does not open the file.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The maximum work factor is outside `1..=MAX_WORK_FACTOR` (a caller mistake).
    #[error("maximum scrypt work factor {0} is out of range (expected 1 to {MAX_WORK_FACTOR})")]
    MaxWorkFactor(u8),
    /// The file asks for more scrypt work than allowed.
    #[error("the file needs scrypt work factor {required}, above the limit of {max}")]
    WorkFactorTooHigh {
        /// The work factor the file was encrypted with.
        required: u8,
        /// The largest work factor allowed.
        max: u8,
    },
    /// The file is an age file, but not encrypted to a passphrase.
    #[error("the age file is not encrypted to a passphrase")]
    NotPassphraseEncrypted,
    /// The file is not an age v1 file (or is from a newer version of age).
    #[error("not an age v1 encrypted file")]
    UnknownFormat,
    /// The file is truncated or damaged.
    #[error("the encrypted key file is damaged: {reason}")]
    Corrupt {
        /// What is wrong with it.
        reason: String,
    },
    /// The file decrypts, but its contents are not a valid key file.
    #[error("the decrypted key file is invalid: {0}")]
    KeyFile(#[from] KeyFileError),
}

/// Whether `data` looks like an age file, armored (possibly after leading whitespace)
/// or binary. It says nothing about whether the file is valid.
pub fn is_age(data: &[u8]) -> bool {
    data.trim_ascii_start().starts_with(ARMOR_BEGIN.as_bytes()) || data.starts_with(BINARY_MAGIC)
}

fn check_work_factor(work_factor: Option<u8>) -> Result<Option<u8>, u8> {
    match work_factor {
        Some(w) if !(1..=MAX_WORK_FACTOR).contains(&w) => Err(w),
        other => Ok(other),
    }
}

/// Encrypts `key`, in the key file format, to `passphrase` and returns the ASCII-armored
/// age file.
pub fn encrypt(
    key: &SecretKey,
    passphrase: &SecretString,
    options: EncryptOptions,
) -> Result<String, EncryptError> {
    let work_factor = check_work_factor(options.work_factor).map_err(EncryptError::WorkFactor)?;
    if passphrase.expose_secret().is_empty() {
        return Err(EncryptError::EmptyPassphrase);
    }
    let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
    if let Some(w) = work_factor {
        recipient.set_work_factor(w);
    }
    let plaintext = keyfile::encode(key);
    age::encrypt_and_armor(&recipient, plaintext.as_bytes()).map_err(EncryptError::Age)
}

/// Decrypts an age file (armored or binary) with `passphrase` and parses the key file
/// inside.
pub fn decrypt(
    data: &[u8],
    passphrase: &SecretString,
    options: DecryptOptions,
) -> Result<SecretKey, DecryptError> {
    let max = check_work_factor(options.max_work_factor).map_err(DecryptError::MaxWorkFactor)?;
    let trimmed = data.trim_ascii_start();
    let data = if trimmed.starts_with(ARMOR_BEGIN.as_bytes()) {
        trimmed
    } else {
        data
    };

    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data))
        .map_err(|e| header_error(&e))?;
    if !decryptor.is_scrypt() {
        return Err(DecryptError::NotPassphraseEncrypted);
    }
    let mut identity = age::scrypt::Identity::new(passphrase.clone());
    if let Some(max) = max {
        identity.set_max_work_factor(max);
    }
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                DecryptError::WrongPassphrase
            }
            age::DecryptError::ExcessiveWork { required, target } => {
                DecryptError::WorkFactorTooHigh {
                    required,
                    max: max.unwrap_or(target.saturating_add(4)),
                }
            }
            age::DecryptError::NoMatchingKeys => DecryptError::NotPassphraseEncrypted,
            other => header_error(&other),
        })?;

    let limit = keyfile::MAX_LEN as u64 + 1;
    // Allocate once so that no unzeroized copy of the plaintext is left behind by growth.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(keyfile::MAX_LEN + 2));
    reader
        .take(limit)
        .read_to_end(&mut plaintext)
        .map_err(|e| DecryptError::Corrupt {
            reason: format!(
                "the payload does not decrypt ({e}); the file is truncated or was modified"
            ),
        })?;
    Ok(keyfile::parse_bytes(&plaintext)?)
}

fn header_error(e: &age::DecryptError) -> DecryptError {
    match e {
        age::DecryptError::UnknownFormat => DecryptError::UnknownFormat,
        age::DecryptError::InvalidMac => DecryptError::Corrupt {
            reason: "the header MAC does not verify".into(),
        },
        age::DecryptError::InvalidHeader => DecryptError::Corrupt {
            reason: "the age header is invalid".into(),
        },
        age::DecryptError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecryptError::Corrupt {
                reason: "the file is truncated".into(),
            }
        }
        age::DecryptError::Io(io) => DecryptError::Corrupt {
            reason: io.to_string(),
        },
        other => DecryptError::Corrupt {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kez_core::Algorithm;

    const FAST: EncryptOptions = EncryptOptions {
        work_factor: Some(10),
    };

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn armored_round_trip() {
        let sk = SecretKey::generate(Algorithm::Bip340);
        let armored = encrypt(&sk, &pass("correct horse"), FAST).unwrap();
        assert!(armored.starts_with(ARMOR_BEGIN), "{armored}");
        assert!(is_age(armored.as_bytes()));
        assert!(!armored.contains(&hex::encode(sk.expose_secret())));
        let back = decrypt(
            armored.as_bytes(),
            &pass("correct horse"),
            DecryptOptions::default(),
        )
        .unwrap();
        assert_eq!(back.expose_secret(), sk.expose_secret());
        assert_eq!(back.algorithm(), Algorithm::Bip340);
    }

    #[test]
    fn leading_whitespace_before_armor_is_accepted() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let armored = format!("\n  {}", encrypt(&sk, &pass("pw"), FAST).unwrap());
        assert!(is_age(armored.as_bytes()));
        let back = decrypt(armored.as_bytes(), &pass("pw"), DecryptOptions::default()).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
    }

    #[test]
    fn binary_age_files_are_read() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let mut recipient = age::scrypt::Recipient::new(pass("pw"));
        recipient.set_work_factor(10);
        let binary = age::encrypt(&recipient, keyfile::encode(&sk).as_bytes()).unwrap();
        assert!(is_age(&binary));
        let back = decrypt(&binary, &pass("pw"), DecryptOptions::default()).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
    }

    #[test]
    fn wrong_passphrase_is_its_own_error() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let armored = encrypt(&sk, &pass("right"), FAST).unwrap();
        let err = decrypt(
            armored.as_bytes(),
            &pass("wrong"),
            DecryptOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, DecryptError::WrongPassphrase), "{err:?}");
        assert_eq!(err.to_string(), "wrong passphrase");
    }

    #[test]
    fn work_factor_above_the_cap_is_refused_before_scrypt_runs() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let armored = encrypt(&sk, &pass("pw"), FAST).unwrap();
        let err = decrypt(
            armored.as_bytes(),
            &pass("pw"),
            DecryptOptions {
                max_work_factor: Some(9),
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DecryptError::WorkFactorTooHigh {
                    required: 10,
                    max: 9
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn out_of_range_work_factors_are_caller_errors() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        for w in [0, MAX_WORK_FACTOR + 1, 64, u8::MAX] {
            let err = encrypt(
                &sk,
                &pass("pw"),
                EncryptOptions {
                    work_factor: Some(w),
                },
            )
            .unwrap_err();
            assert!(
                matches!(err, EncryptError::WorkFactor(x) if x == w),
                "{err:?}"
            );
            let err = decrypt(
                b"irrelevant",
                &pass("pw"),
                DecryptOptions {
                    max_work_factor: Some(w),
                },
            )
            .unwrap_err();
            assert!(
                matches!(err, DecryptError::MaxWorkFactor(x) if x == w),
                "{err:?}"
            );
        }
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let err = encrypt(&sk, &pass(""), FAST).unwrap_err();
        assert!(matches!(err, EncryptError::EmptyPassphrase), "{err:?}");
    }

    #[test]
    fn non_passphrase_age_file_is_not_ours() {
        let x = age::x25519::Identity::generate();
        let binary = age::encrypt(&x.to_public(), b"hello").unwrap();
        let err = decrypt(&binary, &pass("pw"), DecryptOptions::default()).unwrap_err();
        assert!(
            matches!(err, DecryptError::NotPassphraseEncrypted),
            "{err:?}"
        );
    }

    #[test]
    fn encrypted_garbage_is_a_key_file_error() {
        let mut recipient = age::scrypt::Recipient::new(pass("pw"));
        recipient.set_work_factor(10);
        let binary = age::encrypt(&recipient, b"not a key file").unwrap();
        let err = decrypt(&binary, &pass("pw"), DecryptOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DecryptError::KeyFile(KeyFileError::UnexpectedLine { line: 1 })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn damaged_files_are_corrupt_not_wrong_passphrase() {
        let sk = SecretKey::generate(Algorithm::Ed25519);
        let mut recipient = age::scrypt::Recipient::new(pass("pw"));
        recipient.set_work_factor(10);
        let binary = age::encrypt(&recipient, keyfile::encode(&sk).as_bytes()).unwrap();

        // Truncated in the payload.
        let err = decrypt(
            &binary[..binary.len() - 10],
            &pass("pw"),
            DecryptOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, DecryptError::Corrupt { .. }), "{err:?}");

        // Truncated in the header.
        let err = decrypt(&binary[..40], &pass("pw"), DecryptOptions::default()).unwrap_err();
        assert!(matches!(err, DecryptError::Corrupt { .. }), "{err:?}");

        // A flipped bit in the payload.
        let mut flipped = binary.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let err = decrypt(&flipped, &pass("pw"), DecryptOptions::default()).unwrap_err();
        assert!(matches!(err, DecryptError::Corrupt { .. }), "{err:?}");

        // Not age at all.
        let err = decrypt(
            b"this is not an age file at all, not even close",
            &pass("pw"),
            DecryptOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DecryptError::Corrupt { .. } | DecryptError::UnknownFormat
            ),
            "{err:?}"
        );
    }
}
