//! Nkeys: the NATS text form of Ed25519 public keys and seeds.
//!
//! An nkey public key is base32 (RFC 4648, upper case, no padding) of one prefix byte
//! naming the key's [`Role`], the 32 key bytes and a CRC-16/XMODEM of both,
//! little-endian: 56 characters. A seed carries two prefix bytes (`S` and the role) and
//! the 32-byte RFC 8032 seed: 58 characters, starting `SO`, `SA`, `SU`, …
//! (`nats-io/nkeys`: `nkeys.go`, `strkey.go`).
//!
//! Decoding goes through the `nkeys` crate, after checks of our own that name what is
//! wrong ([`NkeyError`]); roles the Go implementation does not know (`M` module, `V`
//! service, `X` curve keys of the `nkeys` crate) are refused. Seeds live in [`Seed`]:
//! zeroized on drop, never shown by `Debug`, never quoted in an error.
//!
//! A KEZ Ed25519 key is an nkey already: [`Seed::from_kez`] and
//! [`PublicNkey::from_kez`] reuse its 32 bytes under the user prefix.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use ed25519_dalek::{Signer as _, Verifier as _};
use kez_core::{Algorithm, PublicKey, SecretKey};
use zeroize::Zeroizing;

/// Length of an encoded public key.
pub const PUBLIC_KEY_LEN: usize = 56;
/// Length of an encoded seed.
pub const SEED_LEN: usize = 58;
/// The first five bits of a seed's first byte (`S`, nats-io/nkeys `PrefixByteSeed`).
const PREFIX_BYTE_SEED: u8 = 18 << 3;

/// What an nkey identifies. Only operator, account and user keys are ever generated;
/// server and cluster keys are recognised when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `O`: an operator, which signs accounts.
    Operator,
    /// `A`: an account, which signs users.
    Account,
    /// `U`: a user, which connects.
    User,
    /// `N`: a server (parsing only).
    Server,
    /// `C`: a cluster (parsing only).
    Cluster,
}

impl Role {
    /// The first character of a public key of this role.
    pub fn prefix_char(self) -> char {
        match self {
            Role::Operator => 'O',
            Role::Account => 'A',
            Role::User => 'U',
            Role::Server => 'N',
            Role::Cluster => 'C',
        }
    }

    /// The role's name in messages: `operator`, `account`, …
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Account => "account",
            Role::User => "user",
            Role::Server => "server",
            Role::Cluster => "cluster",
        }
    }

    /// Whether keys of this role may be generated and written here.
    pub fn is_generated(self) -> bool {
        matches!(self, Role::Operator | Role::Account | Role::User)
    }

    fn prefix_byte(self) -> u8 {
        match self {
            Role::Operator => 14 << 3,
            Role::Account => 0,
            Role::User => 20 << 3,
            Role::Server => 13 << 3,
            Role::Cluster => 2 << 3,
        }
    }

    fn from_prefix_byte(byte: u8) -> Result<Self, NkeyError> {
        Ok(match byte {
            b if b == 14 << 3 => Role::Operator,
            0 => Role::Account,
            b if b == 20 << 3 => Role::User,
            b if b == 13 << 3 => Role::Server,
            b if b == 2 << 3 => Role::Cluster,
            other => {
                return Err(NkeyError::UnsupportedRole {
                    found: prefix_char_of(other),
                })
            }
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn prefix_char_of(byte: u8) -> char {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    ALPHABET[usize::from(byte >> 3)] as char
}

/// Why text is not an nkey. No variant quotes the input, so a seed never reaches an
/// error message; positions are 0-based character offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NkeyError {
    /// The text is empty.
    #[error("empty nkey")]
    Empty,
    /// Whitespace or a line break (CR, LF) inside or around the key.
    #[error("whitespace or line break at offset {at} (an nkey is one bare word)")]
    Whitespace {
        /// Offset of the first whitespace character.
        at: usize,
    },
    /// A base32 padding character `=` (nkeys are never padded).
    #[error("padding '=' at offset {at} (nkeys are base32 without padding)")]
    Padding {
        /// Offset of the first `=`.
        at: usize,
    },
    /// The text has the wrong number of characters.
    #[error("expected {expected} characters, found {found}")]
    Length {
        /// The length for this kind of nkey.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A character outside the base32 alphabet (upper-case `A`–`Z`, `2`–`7`), or
    /// non-zero trailing bits.
    #[error("not base32 at offset {at} (expected A-Z or 2-7)")]
    Base32 {
        /// Offset of the offending character (the last one for trailing bits).
        at: usize,
    },
    /// The CRC-16 does not match: a typo, or a truncated copy.
    #[error("checksum mismatch (a mistyped or damaged nkey)")]
    Crc,
    /// The prefix is a role the Go implementation does not accept (`M`, `V`, `X`, …).
    #[error("unsupported nkey role prefix '{found}' (expected O, A, U, N or C)")]
    UnsupportedRole {
        /// The prefix character found.
        found: char,
    },
    /// A seed was given where a public key was expected, or the reverse.
    #[error("expected a {expected}, found a {found}")]
    WrongForm {
        /// `public key` or `seed`.
        expected: &'static str,
        /// What the text is.
        found: &'static str,
    },
    /// A valid nkey of another role.
    #[error("expected a{} {expected} key, found a{} {found} key", article(*.expected), article(*.found))]
    WrongRole {
        /// The role required here.
        expected: Role,
        /// The role found.
        found: Role,
    },
    /// Keys of this role cannot be generated or written here (server, cluster).
    #[error("{0} keys are parsed but never generated here")]
    NotGenerated(Role),
    /// A KEZ key of another algorithm than Ed25519.
    #[error("only ed25519 KEZ keys can be NATS user keys, found {0}")]
    NotEd25519(Algorithm),
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Operator | Role::Account => "n",
        _ => "",
    }
}

impl NkeyError {
    /// The stable kind of this error: always `malformed` (the text is not a usable key).
    pub fn kind(&self) -> &'static str {
        "malformed"
    }
}

/// Checks shared by public keys and seeds, before the `nkeys` crate decodes.
fn precheck(text: &str, expected_len: usize) -> Result<(), NkeyError> {
    if text.is_empty() {
        return Err(NkeyError::Empty);
    }
    if let Some((at, _)) = text.char_indices().find(|(_, c)| c.is_whitespace()) {
        return Err(NkeyError::Whitespace { at });
    }
    if let Some(at) = text.find('=') {
        return Err(NkeyError::Padding { at });
    }
    let found = text.chars().count();
    if found != expected_len {
        return Err(NkeyError::Length {
            expected: expected_len,
            found,
        });
    }
    if let Some((at, _)) = text
        .char_indices()
        .find(|(_, c)| !matches!(c, 'A'..='Z' | '2'..='7'))
    {
        return Err(NkeyError::Base32 { at });
    }
    Ok(())
}

fn map_nkeys_error(error: &nkeys::error::Error, len: usize) -> NkeyError {
    match error.kind() {
        nkeys::error::ErrorKind::ChecksumFailure => NkeyError::Crc,
        nkeys::error::ErrorKind::InvalidKeyLength => NkeyError::Length {
            expected: len,
            found: len,
        },
        // Everything left after the pre-checks is a base32 error (trailing bits).
        _ => NkeyError::Base32 {
            at: len.saturating_sub(1),
        },
    }
}

/// CRC-16/XMODEM as nkeys use it (polynomial 0x1021, initial 0).
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// An nkey public key: a role and 32 Ed25519 public key bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicNkey {
    role: Role,
    bytes: [u8; 32],
}

impl PublicNkey {
    /// Builds a key from its role and bytes.
    pub fn from_bytes(role: Role, bytes: [u8; 32]) -> Self {
        Self { role, bytes }
    }

    /// Parses a public key of any supported role.
    pub fn parse(text: &str) -> Result<Self, NkeyError> {
        if text.starts_with('S') && text.len() == SEED_LEN {
            return Err(NkeyError::WrongForm {
                expected: "public key",
                found: "seed",
            });
        }
        precheck(text, PUBLIC_KEY_LEN)?;
        let (prefix, bytes) = nkeys::from_public_key(text).map_err(|e| match e.kind() {
            nkeys::error::ErrorKind::InvalidPrefix => NkeyError::UnsupportedRole {
                found: text.chars().next().unwrap_or('?'),
            },
            _ => map_nkeys_error(&e, PUBLIC_KEY_LEN),
        })?;
        let role = Role::from_prefix_byte(prefix)?;
        Ok(Self { role, bytes })
    }

    /// Parses a public key that must be of `role`.
    pub fn parse_role(text: &str, role: Role) -> Result<Self, NkeyError> {
        let key = Self::parse(text)?;
        if key.role != role {
            return Err(NkeyError::WrongRole {
                expected: role,
                found: key.role,
            });
        }
        Ok(key)
    }

    /// Whether `text` is a valid public key of `role` (`nkeys.IsValidPublic…Key`).
    pub fn is_valid(text: &str, role: Role) -> bool {
        Self::parse_role(text, role).is_ok()
    }

    /// The key's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The 32 Ed25519 public key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The same 32 bytes as a public key of another role (a KEZ key used as a user key).
    pub fn with_role(&self, role: Role) -> Self {
        Self {
            role,
            bytes: self.bytes,
        }
    }

    /// The user nkey of a KEZ Ed25519 public key: the same 32 bytes, user prefix.
    pub fn from_kez(key: &PublicKey) -> Result<Self, NkeyError> {
        match key.algorithm() {
            Algorithm::Ed25519 => Ok(Self::from_bytes(Role::User, key.to_bytes())),
            other => Err(NkeyError::NotEd25519(other)),
        }
    }

    /// Verifies an Ed25519 signature by this key over `message`, as Go's
    /// `crypto/ed25519.Verify` through `nkeys.Verify` does (cofactorless; `s` must be
    /// below the group order).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.bytes) else {
            return false;
        };
        key.verify(message, &signature).is_ok()
    }
}

impl fmt::Display for PublicNkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // On the stack: keys are shown (and filed) by the thousand in a large run.
        let mut raw = [0u8; 35];
        raw[0] = self.role.prefix_byte();
        raw[1..33].copy_from_slice(&self.bytes);
        let crc = crc16(&raw[..33]);
        raw[33..].copy_from_slice(&crc.to_le_bytes());
        let mut text = [0u8; PUBLIC_KEY_LEN];
        data_encoding::BASE32_NOPAD.encode_mut(&raw, &mut text);
        // Base32 output is ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for PublicNkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicNkey({self})")
    }
}

impl FromStr for PublicNkey {
    type Err = NkeyError;

    fn from_str(s: &str) -> Result<Self, NkeyError> {
        Self::parse(s)
    }
}

impl serde::Serialize for PublicNkey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An nkey seed: the secret half of an operator, account or user key. Zeroized on drop;
/// `Debug` shows only the public key.
///
/// The Ed25519 key is expanded and its public key derived once, the first time either
/// is needed (a scalar multiplication of the base point, as costly as a signature), and
/// kept: signing again, [`Seed::public_key`] and [`Seed::to_text`] cost no further
/// derivation. Parsing a seed derives nothing, so two seeds can be compared
/// ([`Seed::same_as`]) without either derivation.
pub struct Seed {
    role: Role,
    secret: Zeroizing<[u8; 32]>,
    /// The expanded key (ed25519-dalek zeroizes its secret on drop, `zeroize` feature)
    /// and the public key, derived on first use; boxed, as the expanded key is large.
    derived: OnceLock<Box<(ed25519_dalek::SigningKey, PublicNkey)>>,
}

impl Seed {
    /// Generates a seed of `role` from the operating system's CSPRNG.
    pub fn generate(role: Role) -> Result<Self, NkeyError> {
        if !role.is_generated() {
            return Err(NkeyError::NotGenerated(role));
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut());
        Ok(Self::from_secret(role, secret))
    }

    fn from_secret(role: Role, secret: Zeroizing<[u8; 32]>) -> Self {
        Self {
            role,
            secret,
            derived: OnceLock::new(),
        }
    }

    fn derived(&self) -> &(ed25519_dalek::SigningKey, PublicNkey) {
        self.derived.get_or_init(|| {
            let signing = ed25519_dalek::SigningKey::from_bytes(&self.secret);
            let public = PublicNkey::from_bytes(self.role, signing.verifying_key().to_bytes());
            Box::new((signing, public))
        })
    }

    /// Parses a seed (`SO…`, `SA…`, `SU…`, `SN…`, `SC…`), 58 characters.
    pub fn parse(text: &str) -> Result<Self, NkeyError> {
        if !text.starts_with('S') && text.len() == PUBLIC_KEY_LEN {
            return Err(NkeyError::WrongForm {
                expected: "seed",
                found: "public key",
            });
        }
        precheck(text, SEED_LEN)?;
        let (prefix, bytes) = nkeys::decode_seed(text).map_err(|e| match e.kind() {
            nkeys::error::ErrorKind::InvalidPrefix => NkeyError::WrongForm {
                expected: "seed",
                found: "public key",
            },
            _ => map_nkeys_error(&e, SEED_LEN),
        })?;
        let secret = Zeroizing::new(bytes);
        let role = Role::from_prefix_byte(prefix)?;
        Ok(Self::from_secret(role, secret))
    }

    /// Parses a seed that must be of `role`.
    pub fn parse_role(text: &str, role: Role) -> Result<Self, NkeyError> {
        let seed = Self::parse(text)?;
        if seed.role() != role {
            return Err(NkeyError::WrongRole {
                expected: role,
                found: seed.role(),
            });
        }
        Ok(seed)
    }

    /// Uses a KEZ Ed25519 secret key as a NATS user seed (the same 32-byte RFC 8032
    /// seed, so the user's public key is the KEZ public key).
    pub fn from_kez(key: &SecretKey) -> Result<Self, NkeyError> {
        match key.algorithm() {
            Algorithm::Ed25519 => Ok(Self::from_secret(
                Role::User,
                Zeroizing::new(*key.expose_secret()),
            )),
            other => Err(NkeyError::NotEd25519(other)),
        }
    }

    /// The seed's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The matching public key (derived on first use).
    pub fn public_key(&self) -> PublicNkey {
        self.derived().1
    }

    /// Whether `other` is the same seed: the same role and the same 32 secret bytes,
    /// compared without an early exit. Derives nothing.
    pub fn same_as(&self, other: &Seed) -> bool {
        let diff = self
            .secret
            .iter()
            .zip(other.secret.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        self.role == other.role && std::hint::black_box(diff) == 0
    }

    /// The seed text (`S…`, 58 characters), in a buffer zeroized on drop. Callers must
    /// not log it.
    pub fn to_text(&self) -> Zeroizing<String> {
        // nats-io/nkeys `EncodeSeed`: `S` and the role packed into two bytes, the seed,
        // the CRC of all three, base32 without padding. Every buffer holding the seed is
        // zeroized; the text is written into a buffer of its final size, so it is never
        // reallocated (which would leave a copy behind).
        let prefix = self.role.prefix_byte();
        let mut raw = Zeroizing::new([0u8; 36]);
        raw[0] = PREFIX_BYTE_SEED | (prefix >> 5);
        raw[1] = (prefix & 31) << 3;
        raw[2..34].copy_from_slice(self.secret.as_ref());
        let crc = crc16(&raw[..34]);
        raw[34..].copy_from_slice(&crc.to_le_bytes());
        let mut text = Zeroizing::new(String::with_capacity(SEED_LEN));
        data_encoding::BASE32_NOPAD.encode_append(&raw[..], &mut text);
        text
    }

    /// Signs `message` with Ed25519 (RFC 8032, deterministic).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.derived().0.sign(message).to_bytes()
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({}, secret redacted)", self.public_key())
    }
}

/// Finds a seed inside text that decorates it as nsc and nats-server test files do
/// (`-----BEGIN … SEED-----` … `------END … SEED------`), or takes the text itself.
/// Lines are trimmed; CRLF is accepted.
pub fn seed_from_decorated(text: &str) -> Result<Seed, NkeyError> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("-----BEGIN ") && l.ends_with(" SEED-----"));
    if let Some(start) = start {
        if let Some(line) = lines.get(start + 1) {
            return Seed::parse(line);
        }
    }
    match lines.iter().find(|l| l.starts_with('S')) {
        Some(line) => Seed::parse(line),
        None => Seed::parse(text.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_SEED: &str = "SUACH75SWCM5D2JMJM6EKLR2WDARVGZT4QC6LX3AGHSWOMVAKERABBBRWM";
    const USER_PUB: &str = "UAFHG6FUD2UU4SDFVAFUL5LDFO2XM4WYM76UNXTPJYJK7EEMYRBHT2VE";

    #[test]
    fn seed_derives_the_public_key() {
        let seed = Seed::parse(USER_SEED).unwrap();
        assert_eq!(seed.role(), Role::User);
        assert_eq!(seed.public_key().to_string(), USER_PUB);
        assert_eq!(seed.to_text().as_str(), USER_SEED);
        let debug = format!("{seed:?}");
        assert!(
            !debug.contains(USER_SEED) && debug.contains(USER_PUB),
            "{debug}"
        );
    }

    #[test]
    fn public_keys_round_trip_through_the_nkeys_crate() {
        for role in [Role::Operator, Role::Account, Role::User] {
            let seed = Seed::generate(role).unwrap();
            let text = seed.public_key().to_string();
            assert!(text.starts_with(role.prefix_char()));
            let pair = nkeys::KeyPair::from_seed(&seed.to_text()).unwrap();
            assert_eq!(pair.public_key(), text);
            assert_eq!(PublicNkey::parse(&text).unwrap(), seed.public_key());
            let sig = seed.sign(b"hello");
            assert_eq!(pair.sign(b"hello").unwrap(), sig.to_vec());
            assert!(seed.public_key().verify(b"hello", &sig));
            assert!(!seed.public_key().verify(b"hellO", &sig));
        }
    }

    /// The seed text is encoded here (not by the `nkeys` crate): it must be theirs, for
    /// every role; and a seed parsed back is the same seed with the same public key.
    #[test]
    fn seed_text_is_the_nkeys_encoding_and_keys_are_derived_consistently() {
        for (role, t) in [
            (Role::Operator, nkeys::KeyPairType::Operator),
            (Role::Account, nkeys::KeyPairType::Account),
            (Role::User, nkeys::KeyPairType::User),
            (Role::Server, nkeys::KeyPairType::Server),
            (Role::Cluster, nkeys::KeyPairType::Cluster),
        ] {
            let pair = nkeys::KeyPair::new(t);
            let text = pair.seed().unwrap();
            let seed = Seed::parse(&text).unwrap();
            // Nothing derived yet: equality is on the secret.
            let again = Seed::parse(&text).unwrap();
            assert!(seed.same_as(&again));
            assert_eq!(seed.to_text().as_str(), text, "{role}");
            assert_eq!(seed.public_key().to_string(), pair.public_key());
            // Signing derives once and agrees with the public key derived before.
            let sig = seed.sign(b"m");
            assert_eq!(pair.sign(b"m").unwrap(), sig.to_vec());
            assert!(again.public_key().verify(b"m", &sig));
            assert_eq!(seed.public_key(), again.public_key());
        }
        let a = Seed::generate(Role::User).unwrap();
        let b = Seed::generate(Role::User).unwrap();
        assert!(!a.same_as(&b));
        // Same 32 bytes under another role: not the same seed.
        let as_account = Seed::parse_role(
            &Seed::from_secret(Role::Account, Zeroizing::new(*a.secret)).to_text(),
            Role::Account,
        )
        .unwrap();
        assert!(!a.same_as(&as_account));
    }

    #[test]
    fn server_and_cluster_keys_parse_but_are_never_generated() {
        for (role, t) in [
            (Role::Server, nkeys::KeyPairType::Server),
            (Role::Cluster, nkeys::KeyPairType::Cluster),
        ] {
            let pair = nkeys::KeyPair::new(t);
            assert_eq!(PublicNkey::parse(&pair.public_key()).unwrap().role(), role);
            assert_eq!(
                Seed::parse(&pair.seed().unwrap()).unwrap().role(),
                role,
                "{role}"
            );
            assert_eq!(
                Seed::generate(role).unwrap_err(),
                NkeyError::NotGenerated(role)
            );
        }
    }

    #[test]
    fn module_service_and_curve_roles_are_refused() {
        for t in [
            nkeys::KeyPairType::Module,
            nkeys::KeyPairType::Service,
            nkeys::KeyPairType::Curve,
        ] {
            let pair = nkeys::KeyPair::new(t);
            let err = PublicNkey::parse(&pair.public_key()).unwrap_err();
            assert!(matches!(err, NkeyError::UnsupportedRole { .. }), "{err:?}");
            let err = Seed::parse(&pair.seed().unwrap()).unwrap_err();
            assert!(matches!(err, NkeyError::UnsupportedRole { .. }), "{err:?}");
        }
    }

    #[test]
    fn decode_errors_are_typed() {
        let mut crc = USER_PUB.to_string();
        crc.replace_range(10..11, if &crc[10..11] == "A" { "B" } else { "A" });
        let cases: Vec<(String, NkeyError)> = vec![
            (String::new(), NkeyError::Empty),
            (format!("{USER_PUB}\r\n"), NkeyError::Whitespace { at: 56 }),
            (format!(" {USER_PUB}"), NkeyError::Whitespace { at: 0 }),
            (format!("{USER_PUB}===="), NkeyError::Padding { at: 56 }),
            (
                USER_PUB[..55].to_string(),
                NkeyError::Length {
                    expected: 56,
                    found: 55,
                },
            ),
            (USER_PUB.to_lowercase(), NkeyError::Base32 { at: 0 }),
            (
                format!("{}1", &USER_PUB[..55]),
                NkeyError::Base32 { at: 55 },
            ),
            (crc, NkeyError::Crc),
            (
                USER_SEED.to_string(),
                NkeyError::WrongForm {
                    expected: "public key",
                    found: "seed",
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(PublicNkey::parse(&text).unwrap_err(), expected, "{text:?}");
        }
        assert_eq!(
            PublicNkey::parse_role(USER_PUB, Role::Account).unwrap_err(),
            NkeyError::WrongRole {
                expected: Role::Account,
                found: Role::User
            }
        );
        assert_eq!(
            Seed::parse(USER_PUB).unwrap_err(),
            NkeyError::WrongForm {
                expected: "seed",
                found: "public key"
            }
        );
        let mut bad_seed = USER_SEED.to_string();
        bad_seed.replace_range(20..21, if &bad_seed[20..21] == "A" { "B" } else { "A" });
        let err = Seed::parse(&bad_seed).unwrap_err();
        assert_eq!(err, NkeyError::Crc);
        // No error ever quotes a seed.
        assert!(!err.to_string().contains(&bad_seed[..10]));
    }

    #[test]
    fn kez_keys_bridge_to_user_nkeys() {
        let kez = SecretKey::generate(Algorithm::Ed25519);
        let seed = Seed::from_kez(&kez).unwrap();
        assert_eq!(seed.role(), Role::User);
        assert_eq!(seed.public_key().as_bytes(), &kez.public_key().to_bytes());
        assert_eq!(
            PublicNkey::from_kez(&kez.public_key()).unwrap(),
            seed.public_key()
        );
        let sig = seed.sign(b"msg");
        assert_eq!(sig, kez.sign_raw(b"msg", None).0);
        let bip = SecretKey::generate(Algorithm::Bip340);
        assert_eq!(
            Seed::from_kez(&bip).unwrap_err(),
            NkeyError::NotEd25519(Algorithm::Bip340)
        );
    }

    #[test]
    fn decorated_seed_files_parse() {
        let text = "#####\n\n-----BEGIN TEST OPERATOR SEED-----\r\nSOAFYNORQLQFJYBYNUGC5D7SH2MXMUX5BFEWWGHN3EK4VGG5TPT5DZP7QU\r\n------END TEST OPERATOR SEED------\n";
        let seed = seed_from_decorated(text).unwrap();
        assert_eq!(
            seed.public_key().to_string(),
            "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG"
        );
    }
}
