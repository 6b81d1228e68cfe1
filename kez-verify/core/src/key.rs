//! Primary keys, their text forms and the two signature suites (SPEC.md §4).
//!
//! * `ed25519`: RFC 8032 Ed25519 over the signed bytes, under the acceptance policy of
//!   SPEC.md §4.3 (see [`crate::ed25519`]).
//! * `bip340`: BIP-340 Schnorr over secp256k1 (the nostr key). Raw verification takes
//!   messages of any length (BIP-340 as revised in 2023); KEZ objects are signed over the
//!   32-byte SHA-256 of their signed bytes (SPEC.md §4.2).
//!
//! Text forms (SPEC.md §4.1): `ed25519:<64 hex>`, `bip340:<64 hex>` (canonical, lowercase),
//! and for BIP-340 keys also `npub1…` (NIP-19). Bare hex needs the algorithm from context.

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32, Hrp};
use k256::schnorr;
use rand_core::{CryptoRngCore, OsRng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ed25519::{Ed25519PublicKey, Ed25519Rejection};

/// A signature suite (SPEC.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032) under the policy of SPEC.md §4.3.
    Ed25519,
    /// BIP-340 Schnorr over secp256k1.
    Bip340,
}

impl Algorithm {
    /// The algorithm's name in text forms: `ed25519` or `bip340`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Bip340 => "bip340",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s {
            "ed25519" => Ok(Algorithm::Ed25519),
            "bip340" => Ok(Algorithm::Bip340),
            other => Err(KeyError::UnknownAlgorithm(other.to_string())),
        }
    }
}

/// Why a key, a signature or its text form was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm name is not `ed25519` or `bip340`.
    #[error("unknown algorithm {0:?} (expected \"ed25519\" or \"bip340\")")]
    UnknownAlgorithm(String),
    /// The text is not one of the key forms of SPEC.md §4.1.
    #[error(
        "key {found:?} is not in a known form (expected ed25519:<hex>, bip340:<hex> or npub1…)"
    )]
    UnknownForm {
        /// The first characters of the rejected text.
        found: String,
    },
    /// Hex text was not lowercase hex of the expected length.
    #[error("{what}: expected {expected} lowercase hex characters, found {found:?}")]
    Hex {
        /// What was being decoded.
        what: &'static str,
        /// How many hex characters were expected.
        expected: usize,
        /// The first characters of the rejected text.
        found: String,
    },
    /// An `npub1…` string failed its bech32 checks.
    #[error("invalid npub: {0}")]
    Npub(String),
    /// The Ed25519 key is rejected by the policy of SPEC.md §4.3.
    #[error("ed25519 public key rejected: {0}")]
    Ed25519(Ed25519Rejection),
    /// The BIP-340 public key is not the x coordinate of a secp256k1 point.
    #[error("bip340 public key is not the x coordinate of a secp256k1 point")]
    Bip340Key,
    /// The secret key is not valid for its algorithm.
    #[error("{0} secret key is invalid (zero or not below the group order)")]
    SecretKey(Algorithm),
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Ed25519 rejected the signature under the policy of SPEC.md §4.3.
    #[error("ed25519: {0}")]
    Ed25519(Ed25519Rejection),
    /// The BIP-340 signature does not verify (or `r`/`s` are out of range).
    #[error("bip340: signature does not verify")]
    Bip340,
}

fn truncated(s: &str) -> String {
    s.chars().take(24).collect()
}

/// Decodes exactly `N` bytes of lowercase hex.
pub fn decode_hex<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N], KeyError> {
    let err = || KeyError::Hex {
        what,
        expected: 2 * N,
        found: truncated(text),
    };
    if text.len() != 2 * N {
        return Err(err());
    }
    // Lowercase hex only: anything else (upper case included) is not a nibble.
    let nibble = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => 0xff,
    };
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let (high, low) = (nibble(pair[0]), nibble(pair[1]));
        if (high | low) > 0xf {
            return Err(err());
        }
        *byte = (high << 4) | low;
    }
    Ok(out)
}

/// How many distinct checked keys [`PublicKey::from_bytes`] remembers per thread.
pub const KEY_MEMO_SIZE: usize = 4096;

type KeyMemo = std::collections::HashMap<(Algorithm, [u8; 32]), Result<PublicKey, KeyError>>;

thread_local! {
    static KEY_MEMO: std::cell::RefCell<KeyMemo> = std::cell::RefCell::new(KeyMemo::new());
}

/// A primary or device public key (SPEC.md §4.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublicKey {
    /// An Ed25519 key that passed the key checks of SPEC.md §4.3.
    Ed25519(Ed25519PublicKey),
    /// A BIP-340 x-only key.
    Bip340(schnorr::VerifyingKey),
}

impl PublicKey {
    /// Builds a key from its algorithm and raw 32 bytes.
    ///
    /// Checking a key decompresses a curve point (a field square root), which costs about
    /// as much as a third of a signature check. Verifiers meet the same few keys again and
    /// again (every claim and link of one signer), so the results of the last
    /// [`KEY_MEMO_SIZE`] distinct keys checked on this thread are remembered. The memo is a
    /// pure function's cache: it returns exactly what the check returns.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8; 32]) -> Result<Self, KeyError> {
        KEY_MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            if let Some(known) = memo.get(&(algorithm, *bytes)) {
                return known.clone();
            }
            let checked = Self::check_bytes(algorithm, bytes);
            if memo.len() >= KEY_MEMO_SIZE {
                memo.clear();
            }
            memo.insert((algorithm, *bytes), checked.clone());
            checked
        })
    }

    fn check_bytes(algorithm: Algorithm, bytes: &[u8; 32]) -> Result<Self, KeyError> {
        match algorithm {
            Algorithm::Ed25519 => Ed25519PublicKey::from_bytes(bytes)
                .map(PublicKey::Ed25519)
                .map_err(KeyError::Ed25519),
            Algorithm::Bip340 => schnorr::VerifyingKey::from_bytes(bytes)
                .map(PublicKey::Bip340)
                .map_err(|_| KeyError::Bip340Key),
        }
    }

    /// Parses bare lowercase hex for a known algorithm.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Self, KeyError> {
        Self::from_bytes(algorithm, &decode_hex::<32>("public key", hex)?)
    }

    /// Parses an `npub1…` (NIP-19) string as a BIP-340 key.
    pub fn from_npub(npub: &str) -> Result<Self, KeyError> {
        use bech32::primitives::decode::CheckedHrpstring;
        if npub.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(KeyError::Npub(
                "uppercase characters (use the lowercase form)".into(),
            ));
        }
        // NIP-19 uses Bech32 (BIP-173), not Bech32m: validate with that checksum only.
        let checked =
            CheckedHrpstring::new::<Bech32>(npub).map_err(|e| KeyError::Npub(e.to_string()))?;
        if checked.hrp().as_str() != "npub" {
            return Err(KeyError::Npub(format!(
                "prefix is {:?}, expected \"npub\"",
                checked.hrp().as_str()
            )));
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 32] = data.try_into().map_err(|d: Vec<u8>| {
            KeyError::Npub(format!("payload is {} bytes, expected 32", d.len()))
        })?;
        Self::from_bytes(Algorithm::Bip340, &bytes)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Ed25519(_) => Algorithm::Ed25519,
            PublicKey::Bip340(_) => Algorithm::Bip340,
        }
    }

    /// The key's raw 32 bytes (Ed25519 encoding, or BIP-340 x coordinate).
    pub fn to_bytes(&self) -> [u8; 32] {
        match self {
            PublicKey::Ed25519(k) => k.to_bytes(),
            PublicKey::Bip340(k) => k.to_bytes().into(),
        }
    }

    /// The NIP-19 `npub1…` form of a BIP-340 key; `None` for Ed25519 keys.
    pub fn to_npub(&self) -> Option<String> {
        match self {
            PublicKey::Bip340(_) => {
                let hrp = Hrp::parse("npub").ok()?;
                bech32::encode::<Bech32>(hrp, &self.to_bytes()).ok()
            }
            PublicKey::Ed25519(_) => None,
        }
    }

    /// Verifies `signature` over the raw `message` under this key's suite.
    ///
    /// For BIP-340 the message is taken as is, of any length; KEZ objects pass the
    /// SHA-256 of their signed bytes (see [`signing_message`]).
    pub fn verify_raw(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        match self {
            PublicKey::Ed25519(k) => k
                .verify(message, &signature.0)
                .map_err(SignatureError::Ed25519),
            PublicKey::Bip340(k) => {
                let sig = schnorr::Signature::try_from(&signature.0[..])
                    .map_err(|_| SignatureError::Bip340)?;
                k.verify_raw(message, &sig)
                    .map_err(|_| SignatureError::Bip340)
            }
        }
    }

    /// Verifies a signature over the signed bytes of a KEZ object (SPEC.md §4.2).
    pub fn verify_object(
        &self,
        signed_bytes: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        self.verify_raw(&signing_message(self.algorithm(), signed_bytes), signature)
    }
}

/// The message the suite signs for a KEZ object whose signed bytes are `signed_bytes`
/// (SPEC.md §4.2): the bytes themselves for Ed25519, their SHA-256 for BIP-340.
pub fn signing_message(algorithm: Algorithm, signed_bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match algorithm {
        Algorithm::Ed25519 => std::borrow::Cow::Borrowed(signed_bytes),
        Algorithm::Bip340 => std::borrow::Cow::Owned(Sha256::digest(signed_bytes).to_vec()),
    }
}

impl fmt::Display for PublicKey {
    /// The canonical text form `ed25519:<hex>` or `bip340:<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm().name())?;
        f.write_str(":")?;
        crate::digest::write_hex32(f, &self.to_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.algorithm().hash(state);
        self.to_bytes().hash(state);
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Parses `ed25519:<hex>`, `bip340:<hex>` or `npub1…`.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if let Some(hex) = s.strip_prefix("ed25519:") {
            Self::from_hex(Algorithm::Ed25519, hex)
        } else if let Some(hex) = s.strip_prefix("bip340:") {
            Self::from_hex(Algorithm::Bip340, hex)
        } else if s.starts_with("npub1") {
            Self::from_npub(s)
        } else {
            Err(KeyError::UnknownForm {
                found: truncated(s),
            })
        }
    }
}

impl PublicKey {
    /// Parses the canonical text form only (`ed25519:<hex>` or `bip340:<hex>`), as KEZ
    /// objects carry it (SPEC.md §4.1).
    pub fn parse_canonical(s: &str) -> Result<Self, KeyError> {
        if s.starts_with("npub1") {
            return Err(KeyError::UnknownForm {
                found: truncated(s),
            });
        }
        s.parse()
    }
}

/// A 64-byte signature of either suite; its text form is 128 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Parses 128 lowercase hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        decode_hex::<64>("signature", text).map(Signature)
    }

    /// The lowercase hex text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A secret key. Its bytes are zeroized on drop and never appear in `Debug` output.
pub struct SecretKey {
    algorithm: Algorithm,
    bytes: Zeroizing<[u8; 32]>,
    public: PublicKey,
}

impl SecretKey {
    /// Generates a key from the operating system's CSPRNG.
    pub fn generate(algorithm: Algorithm) -> Self {
        Self::generate_with(algorithm, &mut OsRng)
    }

    /// Generates a key from `rng`.
    pub fn generate_with(algorithm: Algorithm, rng: &mut impl CryptoRngCore) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut());
            // A secp256k1 scalar of zero or >= n happens with probability below 2^-127;
            // draw again rather than bias the key.
            if let Ok(key) = Self::from_bytes(algorithm, &bytes) {
                return key;
            }
        }
    }

    /// Builds a key from its 32 secret bytes: the RFC 8032 seed for Ed25519, the
    /// secret scalar (big-endian) for BIP-340.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let public = match algorithm {
            Algorithm::Ed25519 => {
                let sk = ed25519_dalek::SigningKey::from_bytes(bytes);
                PublicKey::from_bytes(Algorithm::Ed25519, &sk.verifying_key().to_bytes())?
            }
            Algorithm::Bip340 => {
                let sk = schnorr::SigningKey::from_bytes(bytes)
                    .map_err(|_| KeyError::SecretKey(Algorithm::Bip340))?;
                PublicKey::Bip340(*sk.verifying_key())
            }
        };
        Ok(Self {
            algorithm,
            bytes: Zeroizing::new(*bytes),
            public,
        })
    }

    /// Parses bare lowercase hex secret bytes for a known algorithm.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        let decoded = decode_hex::<32>("secret key", hex).map_err(|e| match e {
            // Never echo secret text back in an error.
            KeyError::Hex { what, expected, .. } => KeyError::Hex {
                what,
                expected,
                found: "<redacted>".into(),
            },
            other => other,
        });
        *bytes = decoded?;
        Self::from_bytes(algorithm, &bytes)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The secret bytes. Callers must not log them; prefer keeping them in a
    /// [`Zeroizing`] buffer.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Signs the raw `message`. Ed25519 is deterministic; BIP-340 uses `aux_rand`, drawn
    /// from the OS CSPRNG when `None`.
    pub fn sign_raw(&self, message: &[u8], aux_rand: Option<&[u8; 32]>) -> Signature {
        match self.algorithm {
            Algorithm::Ed25519 => {
                use ed25519_dalek::Signer;
                let sk = ed25519_dalek::SigningKey::from_bytes(&self.bytes);
                Signature(sk.sign(message).to_bytes())
            }
            Algorithm::Bip340 => {
                let mut aux = Zeroizing::new([0u8; 32]);
                match aux_rand {
                    Some(a) => aux.copy_from_slice(a),
                    None => rand_core::RngCore::fill_bytes(&mut OsRng, aux.as_mut()),
                }
                let sk = schnorr::SigningKey::from_bytes(self.bytes.as_ref())
                    .expect("secret key was validated when it was built");
                let sig = sk
                    .sign_raw(message, &aux)
                    .expect("BIP-340 signing with a valid key cannot fail");
                let mut out = [0u8; 64];
                out.copy_from_slice(&sig.to_bytes());
                Signature(out)
            }
        }
    }

    /// Signs the signed bytes of a KEZ object (SPEC.md §4.2).
    pub fn sign_object(&self, signed_bytes: &[u8], aux_rand: Option<&[u8; 32]>) -> Signature {
        self.sign_raw(&signing_message(self.algorithm, signed_bytes), aux_rand)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, secret redacted)", self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for alg in [Algorithm::Ed25519, Algorithm::Bip340] {
            let sk = SecretKey::generate(alg);
            let pk = sk.public_key();
            let text = pk.to_string();
            assert!(text.starts_with(alg.name()));
            assert_eq!(text.parse::<PublicKey>().unwrap(), pk);
            if alg == Algorithm::Bip340 {
                let npub = pk.to_npub().unwrap();
                assert_eq!(npub.parse::<PublicKey>().unwrap(), pk);
                assert!(PublicKey::parse_canonical(&npub).is_err());
            }
        }
    }

    #[test]
    fn npub_with_a_bech32m_checksum_is_rejected() {
        let pk = SecretKey::from_bytes(Algorithm::Bip340, &[3; 32])
            .unwrap()
            .public_key();
        let hrp = Hrp::parse("npub").unwrap();
        let bech32m = bech32::encode::<bech32::Bech32m>(hrp, &pk.to_bytes()).unwrap();
        assert!(matches!(
            PublicKey::from_npub(&bech32m),
            Err(KeyError::Npub(_))
        ));
        assert_eq!(PublicKey::from_npub(&pk.to_npub().unwrap()).unwrap(), pk);
    }

    #[test]
    fn uppercase_hex_is_rejected() {
        let pk = SecretKey::generate(Algorithm::Ed25519).public_key();
        let upper = format!("ed25519:{}", hex::encode_upper(pk.to_bytes()));
        assert!(matches!(
            upper.parse::<PublicKey>(),
            Err(KeyError::Hex { .. })
        ));
    }

    #[test]
    fn debug_never_shows_secret() {
        let sk = SecretKey::from_bytes(Algorithm::Ed25519, &[0x5a; 32]).unwrap();
        let dbg = format!("{sk:?}");
        assert!(!dbg.contains(&hex::encode([0x5a; 32])), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn bad_secret_hex_error_does_not_echo_input() {
        let err = SecretKey::from_hex(Algorithm::Ed25519, "5a5a5a5a5a5aZZ").unwrap_err();
        assert!(!err.to_string().contains("5a5a"), "{err}");
    }

    #[test]
    fn sign_and_verify_objects_in_both_suites() {
        for alg in [Algorithm::Ed25519, Algorithm::Bip340] {
            let sk = SecretKey::generate(alg);
            let sig = sk.sign_object(b"{\"a\":1}", None);
            assert_eq!(sk.public_key().verify_object(b"{\"a\":1}", &sig), Ok(()));
            assert!(sk.public_key().verify_object(b"{\"a\":2}", &sig).is_err());
        }
    }
}
