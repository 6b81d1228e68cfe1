//! The compact encoding `kez:z1:` (SPEC.md §6.2).
//!
//! `compact = "kez:z1:" base64url-nopad( zstd-frame( JCS(claim) ) )`
//!
//! Decoding is strict: the base64url text has no padding, no characters outside the
//! alphabet and no stray bits; the zstd data is exactly one frame that declares its
//! content size, which must not exceed [`MAX_CLAIM_BYTES`] — checked before any byte is
//! inflated, so a zstd bomb costs nothing; the inflated bytes must be the JCS form of the
//! claim they hold.

use std::cell::RefCell;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use crate::claim::{Claim, MAX_CLAIM_BYTES};
use crate::encoding::DecodeError;

/// The prefix of the compact form.
pub const PREFIX: &str = "kez:z1:";

/// The longest compact text accepted, prefix included.
pub const MAX_COMPACT_LEN: usize = 8192;

/// The zstd level encoders use (any level decodes; SPEC.md §6.2 does not fix one).
pub const ZSTD_LEVEL: i32 = 19;

const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Why a compact form does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    /// The text does not start with `kez:`.
    #[error("expected the prefix \"kez:z1:\"")]
    Prefix,
    /// A `kez:` form of another version.
    #[error("unsupported compact version {0:?} (this verifier reads \"kez:z1:\")")]
    UnsupportedVersion(String),
    /// The text is longer than [`MAX_COMPACT_LEN`].
    #[error("{found} bytes long; at most {MAX_COMPACT_LEN} are allowed")]
    TooLong {
        /// Its length.
        found: usize,
    },
    /// The base64url payload is invalid.
    #[error("invalid base64url (no padding allowed): {0}")]
    Base64(String),
    /// The zstd frame header is invalid or the data is not one zstd frame.
    #[error("invalid zstd data: {0}")]
    Zstd(String),
    /// The zstd frame does not declare its decompressed size.
    #[error("zstd frame does not declare its content size")]
    UnknownSize,
    /// The declared decompressed size is over the limit.
    #[error("zstd frame declares {declared} bytes; at most {MAX_CLAIM_BYTES} are allowed")]
    TooLarge {
        /// The declared size.
        declared: u64,
    },
    /// Bytes follow the zstd frame.
    #[error("{0} bytes follow the zstd frame")]
    TrailingData(usize),
    /// The inflated bytes are not in JCS form.
    #[error("the inflated claim is not in JCS (RFC 8785) form")]
    NotCanonical,
}

thread_local! {
    // Reusing one decompression context per thread keeps decoding cheap (SPEC.md §6.2
    // is on the hot path of every verification).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Encodes `claim` in compact form.
///
/// ```
/// # use kez_core::{claim::ClaimBuilder, Algorithm, SecretKey};
/// # let key = SecretKey::generate(Algorithm::Ed25519);
/// # let claim = ClaimBuilder::new("github:jason".parse().unwrap(), 1).sign(&key, None).unwrap();
/// let text = kez_core::encoding::compact::encode(&claim);
/// assert!(text.starts_with("kez:z1:"));
/// assert_eq!(kez_core::encoding::compact::decode(&text).unwrap(), claim);
/// ```
pub fn encode(claim: &Claim) -> String {
    encode_bytes(claim.to_jcs())
}

/// Compresses and encodes arbitrary bytes (for tests and tooling that build bad inputs).
pub fn encode_bytes(bytes: &[u8]) -> String {
    // Compressing bytes in memory only fails on allocation failure.
    let compressed = zstd::bulk::compress(bytes, ZSTD_LEVEL).unwrap_or_default();
    format!("{PREFIX}{}", BASE64URL.encode(compressed))
}

/// Decodes the compact text `text` (exactly the token, no surrounding whitespace).
pub fn decode(text: &str) -> Result<Claim, DecodeError> {
    let jcs = inflate(text)?;
    let claim = Claim::from_json(&jcs)?;
    if claim.to_jcs() != jcs.as_slice() {
        return Err(CompactError::NotCanonical.into());
    }
    Ok(claim)
}

/// Checks the framing of `text` and returns the inflated bytes (SPEC.md §6.2 steps 1-5).
pub fn inflate(text: &str) -> Result<Vec<u8>, CompactError> {
    if text.len() > MAX_COMPACT_LEN {
        return Err(CompactError::TooLong { found: text.len() });
    }
    let Some(payload) = text.strip_prefix(PREFIX) else {
        if let Some(rest) = text.strip_prefix("kez:") {
            let version: String = rest.chars().take_while(|c| *c != ':').take(8).collect();
            return Err(CompactError::UnsupportedVersion(version));
        }
        return Err(CompactError::Prefix);
    };
    let compressed = BASE64URL
        .decode(payload)
        .map_err(|e| CompactError::Base64(e.to_string()))?;
    let declared = match zstd::zstd_safe::get_frame_content_size(&compressed) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(CompactError::UnknownSize),
        Err(_) => return Err(CompactError::Zstd("not a zstd frame".into())),
    };
    if declared > MAX_CLAIM_BYTES as u64 {
        return Err(CompactError::TooLarge { declared });
    }
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(&compressed)
        .map_err(|code| CompactError::Zstd(zstd::zstd_safe::get_error_name(code).to_string()))?;
    if frame_len != compressed.len() {
        return Err(CompactError::TrailingData(
            compressed.len().saturating_sub(frame_len),
        ));
    }
    let inflated = DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                zstd::bulk::Decompressor::new().map_err(|e| CompactError::Zstd(e.to_string()))?,
            );
        }
        match slot.as_mut() {
            Some(d) => d
                .decompress(&compressed, declared as usize)
                .map_err(|e| CompactError::Zstd(e.to_string())),
            None => Err(CompactError::Zstd("no decompression context".into())),
        }
    })?;
    if inflated.len() as u64 != declared {
        return Err(CompactError::Zstd(format!(
            "frame declares {declared} bytes but holds {}",
            inflated.len()
        )));
    }
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ClaimBuilder;
    use crate::key::{Algorithm, SecretKey};

    fn claim() -> Claim {
        let key = SecretKey::from_bytes(Algorithm::Ed25519, &[2; 32]).unwrap();
        ClaimBuilder::new("github:jason".parse().unwrap(), 1_767_225_600)
            .sign(&key, None)
            .unwrap()
    }

    #[test]
    fn round_trip_is_exact() {
        let c = claim();
        let text = encode(&c);
        assert_eq!(decode(&text).unwrap().to_jcs(), c.to_jcs());
        assert_eq!(encode(&decode(&text).unwrap()), text);
    }

    #[test]
    fn zstd_bomb_is_rejected_before_inflating() {
        // 8 MiB of zeros declared in the header; zstd compresses it to a few hundred bytes.
        let huge = vec![0u8; 8 * 1024 * 1024];
        let text = encode_bytes(&huge);
        assert!(
            matches!(inflate(&text), Err(CompactError::TooLarge { declared }) if declared == huge.len() as u64)
        );
    }

    #[test]
    fn frame_without_declared_size_is_rejected() {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        std::io::Write::write_all(&mut encoder, claim().to_jcs()).unwrap();
        let streamed = encoder.finish().unwrap();
        let text = format!("{PREFIX}{}", BASE64URL.encode(streamed));
        assert_eq!(inflate(&text), Err(CompactError::UnknownSize));
    }

    #[test]
    fn padding_stray_bits_and_trailing_frames_are_rejected() {
        let text = encode(&claim());
        assert!(matches!(
            inflate(&format!("{text}=")),
            Err(CompactError::Base64(_))
        ));
        assert!(matches!(
            inflate(&format!("{text}+")),
            Err(CompactError::Base64(_))
        ));
        let payload = BASE64URL.decode(&text[PREFIX.len()..]).unwrap();
        let mut doubled = payload.clone();
        doubled.extend_from_slice(&payload);
        let text2 = format!("{PREFIX}{}", BASE64URL.encode(doubled));
        assert!(matches!(
            inflate(&text2),
            Err(CompactError::TrailingData(_))
        ));
    }

    #[test]
    fn truncated_and_non_canonical_forms_are_rejected() {
        let text = encode(&claim());
        for cut in [1, 5, 20, text.len() - PREFIX.len() - 1] {
            assert!(decode(&text[..text.len() - cut]).is_err(), "cut {cut}");
        }
        let pretty =
            serde_json::to_vec_pretty(&serde_json::Value::Object(claim().as_object().clone()))
                .unwrap();
        assert!(matches!(
            decode(&encode_bytes(&pretty)),
            Err(DecodeError::Compact(CompactError::NotCanonical))
        ));
    }

    #[test]
    fn other_versions_are_unsupported() {
        assert!(
            matches!(inflate("kez:z2:AAAA"), Err(CompactError::UnsupportedVersion(v)) if v == "z2")
        );
        assert_eq!(inflate("kex:z1:AAAA"), Err(CompactError::Prefix));
    }
}
