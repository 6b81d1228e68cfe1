//! The plaintext key file format (SPEC.md §9.1).
//!
//! A key file is UTF-8 text with LF line endings:
//!
//! ```text
//! # KEZ secret key. Keep this file private: anyone who reads it can sign as you.
//! # public: ed25519:<64 hex>
//! kez-secret-key-v1:ed25519:<64 lowercase hex secret>
//! ```
//!
//! [`encode`] writes exactly that. [`parse`] ignores blank lines and `#` comment lines,
//! requires exactly one `kez-secret-key-v1:` line, and checks every `# public:` line
//! against the public key derived from the secret: the line is informational, but a
//! file that says one thing and holds another is rejected.
//!
//! Errors name line numbers, never line contents, so they cannot leak the secret.

use std::fmt::Write as _;

use kez_core::{Algorithm, PublicKey, SecretKey};
use zeroize::Zeroizing;

/// The prefix of the secret line, including the format version.
pub const SECRET_PREFIX: &str = "kez-secret-key-v1:";

/// The first line [`encode`] writes.
pub const WARNING_LINE: &str =
    "# KEZ secret key. Keep this file private: anyone who reads it can sign as you.";

/// The longest key file [`parse`] accepts, in bytes. [`encode`] writes under 250.
pub const MAX_LEN: usize = 16 * 1024;

const PUBLIC_PREFIX: &str = "public:";

/// Why text is not a valid key file. No variant carries any part of the file's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file is not UTF-8 text.
    #[error("key file is not UTF-8 text")]
    NotUtf8,
    /// The file is longer than [`MAX_LEN`].
    #[error("key file is longer than {MAX_LEN} bytes")]
    TooLong,
    /// No line starts with `kez-secret-key-v1:`.
    #[error("key file has no `kez-secret-key-v1:` line (expected exactly one)")]
    MissingSecret,
    /// More than one line starts with `kez-secret-key-v1:`.
    #[error("key file has a second `kez-secret-key-v1:` line at line {second} (the first is at line {first}; expected exactly one)")]
    DuplicateSecret {
        /// The line number (1-based) of the first secret line.
        first: usize,
        /// The line number (1-based) of the second secret line.
        second: usize,
    },
    /// A line is neither blank, a `#` comment, nor the secret line.
    #[error("line {line}: expected a `#` comment, a blank line or the `kez-secret-key-v1:` line")]
    UnexpectedLine {
        /// The line number (1-based).
        line: usize,
    },
    /// The secret line names no known algorithm.
    #[error(
        "line {line}: unknown algorithm (expected `kez-secret-key-v1:ed25519:` or `kez-secret-key-v1:bip340:`)"
    )]
    UnknownAlgorithm {
        /// The line number (1-based).
        line: usize,
    },
    /// The secret is not 64 lowercase hex characters.
    #[error("line {line}: the secret must be 64 lowercase hex characters")]
    SecretHex {
        /// The line number (1-based).
        line: usize,
    },
    /// The secret bytes are not a valid key for the algorithm (for BIP-340: zero or not
    /// below the group order).
    #[error(
        "line {line}: the {algorithm} secret key is invalid (zero or not below the group order)"
    )]
    InvalidSecret {
        /// The line number (1-based).
        line: usize,
        /// The algorithm the line names.
        algorithm: Algorithm,
    },
    /// A `# public:` line is not a canonical public key.
    #[error("line {line}: public key line is not of the form `# public: <algorithm>:<64 hex>`")]
    MalformedPublic {
        /// The line number (1-based).
        line: usize,
    },
    /// A `# public:` line names a key other than the one derived from the secret.
    #[error("line {line}: public key line does not match the secret")]
    PublicMismatch {
        /// The line number (1-based).
        line: usize,
    },
}

/// Writes `key` in the key file format: the warning comment, the `# public:` line and
/// the secret line, each ending in LF.
///
/// The buffer is allocated once at its final size and zeroized on drop.
pub fn encode(key: &SecretKey) -> Zeroizing<String> {
    let public = key.public_key().to_string();
    let algorithm = key.algorithm().name();
    let mut hex = Zeroizing::new([0u8; 64]);
    hex::encode_to_slice(key.expose_secret(), hex.as_mut())
        .expect("64 bytes hold the hex of 32 bytes");
    let len = WARNING_LINE.len()
        + "\n# public: \n".len()
        + public.len()
        + SECRET_PREFIX.len()
        + algorithm.len()
        + ":\n".len()
        + hex.len();
    let mut out = Zeroizing::new(String::with_capacity(len));
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{WARNING_LINE}");
    let _ = writeln!(out, "# public: {public}");
    out.push_str(SECRET_PREFIX);
    out.push_str(algorithm);
    out.push(':');
    out.push_str(std::str::from_utf8(hex.as_ref()).expect("hex is ASCII"));
    out.push('\n');
    debug_assert_eq!(out.len(), len);
    out
}

/// Parses key file bytes; see [`parse`].
pub fn parse_bytes(bytes: &[u8]) -> Result<SecretKey, KeyFileError> {
    if bytes.len() > MAX_LEN {
        return Err(KeyFileError::TooLong);
    }
    parse(std::str::from_utf8(bytes).map_err(|_| KeyFileError::NotUtf8)?)
}

/// Parses a key file (SPEC.md §9.1).
///
/// Blank lines and lines starting with `#` are ignored, except `# public:` lines, which
/// must match the public key of the secret. A leading byte order mark and CRLF line
/// endings are tolerated; surrounding whitespace on a line is ignored.
pub fn parse(text: &str) -> Result<SecretKey, KeyFileError> {
    if text.len() > MAX_LEN {
        return Err(KeyFileError::TooLong);
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut secret: Option<(usize, SecretKey)> = None;
    let mut publics: Vec<(usize, Option<PublicKey>)> = Vec::new();

    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(public) = comment.trim_start().strip_prefix(PUBLIC_PREFIX) {
                publics.push((line_no, PublicKey::parse_canonical(public.trim()).ok()));
            }
            continue;
        }
        let Some(rest) = line.strip_prefix(SECRET_PREFIX) else {
            return Err(KeyFileError::UnexpectedLine { line: line_no });
        };
        if let Some((first, _)) = &secret {
            return Err(KeyFileError::DuplicateSecret {
                first: *first,
                second: line_no,
            });
        }
        secret = Some((line_no, parse_secret_line(line_no, rest)?));
    }

    let Some((_, key)) = secret else {
        return Err(KeyFileError::MissingSecret);
    };
    for (line, public) in publics {
        match public {
            None => return Err(KeyFileError::MalformedPublic { line }),
            Some(public) if public != key.public_key() => {
                return Err(KeyFileError::PublicMismatch { line })
            }
            Some(_) => {}
        }
    }
    Ok(key)
}

/// Parses `<algorithm>:<hex>`, the part of the secret line after [`SECRET_PREFIX`].
fn parse_secret_line(line: usize, rest: &str) -> Result<SecretKey, KeyFileError> {
    let algorithm = [Algorithm::Ed25519, Algorithm::Bip340]
        .into_iter()
        .find(|a| {
            rest.strip_prefix(a.name())
                .is_some_and(|r| r.starts_with(':'))
        })
        .ok_or(KeyFileError::UnknownAlgorithm { line })?;
    let hex = &rest[algorithm.name().len() + 1..];
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyFileError::SecretHex { line });
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex, bytes.as_mut()).map_err(|_| KeyFileError::SecretHex { line })?;
    SecretKey::from_bytes(algorithm, &bytes)
        .map_err(|_| KeyFileError::InvalidSecret { line, algorithm })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [0x5a; 32];

    fn secret_hex() -> String {
        hex::encode(SECRET)
    }

    fn key(algorithm: Algorithm) -> SecretKey {
        SecretKey::from_bytes(algorithm, &SECRET).unwrap()
    }

    #[test]
    fn encode_writes_the_exact_format() {
        let sk = key(Algorithm::Ed25519);
        let text = encode(&sk);
        let expected = format!(
            "{WARNING_LINE}\n# public: {}\nkez-secret-key-v1:ed25519:{}\n",
            sk.public_key(),
            secret_hex()
        );
        assert_eq!(text.as_str(), expected);
        assert!(text
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("# public: ed25519:"));
    }

    #[test]
    fn round_trips_both_algorithms() {
        for algorithm in [Algorithm::Ed25519, Algorithm::Bip340] {
            let sk = SecretKey::generate(algorithm);
            let back = parse(&encode(&sk)).unwrap();
            assert_eq!(back.algorithm(), algorithm);
            assert_eq!(back.expose_secret(), sk.expose_secret());
            assert_eq!(back.public_key(), sk.public_key());
        }
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_ignored() {
        let text = format!(
            "\u{feff}\r\n# a note\r\n\r\n  kez-secret-key-v1:bip340:{}  \r\n# trailing note\r\n",
            secret_hex()
        );
        let sk = parse(&text).unwrap();
        assert_eq!(sk.public_key(), key(Algorithm::Bip340).public_key());
    }

    #[test]
    fn public_line_is_optional() {
        let text = format!("kez-secret-key-v1:ed25519:{}", secret_hex());
        assert_eq!(
            parse(&text).unwrap().public_key(),
            key(Algorithm::Ed25519).public_key()
        );
    }

    #[test]
    fn public_line_must_match() {
        let other = SecretKey::generate(Algorithm::Ed25519).public_key();
        let text = format!(
            "# public: {other}\nkez-secret-key-v1:ed25519:{}\n",
            secret_hex()
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err, KeyFileError::PublicMismatch { line: 1 });
        assert_eq!(
            err.to_string(),
            "line 1: public key line does not match the secret"
        );
    }

    #[test]
    fn public_line_of_the_other_algorithm_does_not_match() {
        // Same 32 secret bytes, other suite: a different public key.
        let bip = key(Algorithm::Bip340).public_key();
        let text = format!(
            "# public: {bip}\nkez-secret-key-v1:ed25519:{}\n",
            secret_hex()
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            KeyFileError::PublicMismatch { line: 1 }
        );
    }

    #[test]
    fn malformed_public_line_is_rejected() {
        let text = format!(
            "#public: nope\nkez-secret-key-v1:ed25519:{}\n",
            secret_hex()
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            KeyFileError::MalformedPublic { line: 1 }
        );
    }

    #[test]
    fn structural_errors_name_the_line() {
        let hex = secret_hex();
        let cases = [
            (String::new(), KeyFileError::MissingSecret),
            (
                "# only comments\n\n".to_string(),
                KeyFileError::MissingSecret,
            ),
            (
                format!("kez-secret-key-v1:ed25519:{hex}\n\nkez-secret-key-v1:ed25519:{hex}\n"),
                KeyFileError::DuplicateSecret {
                    first: 1,
                    second: 3,
                },
            ),
            (format!("{hex}\n"), KeyFileError::UnexpectedLine { line: 1 }),
            (
                format!("kez-secret-key-v1:x25519:{hex}\n"),
                KeyFileError::UnknownAlgorithm { line: 1 },
            ),
            (
                format!("kez-secret-key-v1:{hex}\n"),
                KeyFileError::UnknownAlgorithm { line: 1 },
            ),
            (
                format!("# c\nkez-secret-key-v1:ed25519:{}\n", &hex[..62]),
                KeyFileError::SecretHex { line: 2 },
            ),
            (
                format!("kez-secret-key-v1:ed25519:{}\n", hex.to_uppercase()),
                KeyFileError::SecretHex { line: 1 },
            ),
            (
                format!("kez-secret-key-v1:bip340:{}\n", "ff".repeat(32)),
                KeyFileError::InvalidSecret {
                    line: 1,
                    algorithm: Algorithm::Bip340,
                },
            ),
            (
                format!("kez-secret-key-v1:bip340:{}\n", "00".repeat(32)),
                KeyFileError::InvalidSecret {
                    line: 1,
                    algorithm: Algorithm::Bip340,
                },
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err();
            assert_eq!(err, expected, "{text:?}");
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains(&hex), "{shown}");
                assert!(!shown.contains(&hex.to_uppercase()), "{shown}");
            }
        }
    }

    #[test]
    fn overlong_files_are_rejected() {
        let text = format!(
            "{}\nkez-secret-key-v1:ed25519:{}\n",
            "#".repeat(MAX_LEN),
            secret_hex()
        );
        assert_eq!(parse(&text).unwrap_err(), KeyFileError::TooLong);
        assert_eq!(
            parse_bytes(text.as_bytes()).unwrap_err(),
            KeyFileError::TooLong
        );
    }

    #[test]
    fn non_utf8_bytes_are_rejected() {
        assert_eq!(
            parse_bytes(b"\xff\xfe kez").unwrap_err(),
            KeyFileError::NotUtf8
        );
    }
}
