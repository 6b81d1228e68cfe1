//! SHA-256 digests in their text form `sha256:<64 lowercase hex>` (SPEC.md §2.4).

use sha2::{Digest, Sha256};

/// A SHA-256 digest in the text form `sha256:<64 hex>` (SPEC.md §2.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest256(pub [u8; 32]);

impl Digest256 {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest256(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:")?;
        crate::key::decode_hex::<32>("digest", hex)
            .ok()
            .map(Digest256)
    }
}

/// 32 bytes as 64 lowercase hex digits, written without allocating.
pub(crate) fn write_hex32(f: &mut std::fmt::Formatter<'_>, bytes: &[u8; 32]) -> std::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 64];
    for (pair, byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
}

impl std::fmt::Display for Digest256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        write_hex32(f, &self.0)
    }
}

impl std::fmt::Debug for Digest256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl serde::Serialize for Digest256 {
    /// Serialises as the text form `sha256:<hex>`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
