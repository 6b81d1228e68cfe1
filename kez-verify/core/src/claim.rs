//! The claim object (SPEC.md §5).
//!
//! ```json
//! {"created_at":1767225600,"expires_at":1798761600,"kez":"0.2",
//!  "key":"ed25519:…","nonce":"…","sig":"…","subject":"github:jason","type":"claim"}
//! ```
//!
//! The signature covers the JCS form of the object without its `sig` member (SPEC.md §4.2).
//! Members this version does not define are allowed, covered by the signature and
//! reported, but never change the verdict (SPEC.md §5.3).

use serde_json::{Map, Value};

use crate::digest::Digest256;
use crate::identity::{Identity, IdentityError};
use crate::json::{self, JsonError, MAX_SAFE_INTEGER};
use crate::key::{KeyError, PublicKey, SecretKey, Signature, SignatureError};

/// The protocol version every KEZ object carries in its `kez` member (SPEC.md §1.3).
pub const PROTOCOL_VERSION: &str = "0.2";

/// The largest claim accepted, measured on its JCS form including `sig` (SPEC.md §5.4).
pub const MAX_CLAIM_BYTES: usize = 4096;

/// The longest string member accepted, in bytes (SPEC.md §5.4).
pub const MAX_STRING_BYTES: usize = 1024;

/// Members that SPEC.md §5.1 defines for a claim.
const KNOWN_MEMBERS: [&str; 9] = [
    "kez",
    "type",
    "subject",
    "key",
    "created_at",
    "expires_at",
    "nonce",
    "chain",
    "sig",
];

/// Why a JSON value is not a well-formed claim (SPEC.md §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// The bytes are not strict I-JSON.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The value is not a JSON object.
    #[error("a claim is a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// A required member is absent.
    #[error("member {0:?} is missing")]
    Missing(&'static str),
    /// A member has the wrong JSON type or an invalid value.
    #[error("member {member:?}: expected {expected}, found {found}")]
    Member {
        /// The member name.
        member: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was found (truncated).
        found: String,
    },
    /// The `kez` member names a version this implementation does not speak.
    #[error("unsupported protocol version {0:?} (this verifier speaks \"0.2\")")]
    UnsupportedVersion(String),
    /// The `type` member is not `claim`.
    #[error("type is {0:?}, expected \"claim\"")]
    WrongType(String),
    /// The subject is not a valid identity.
    #[error("member \"subject\": {0}")]
    Subject(#[from] IdentityError),
    /// The subject is valid but not written in its canonical form.
    #[error("member \"subject\" is {found:?}, which is not canonical; the canonical form is {canonical:?}")]
    SubjectNotCanonical {
        /// The text in the claim.
        found: String,
        /// Its canonical form.
        canonical: String,
    },
    /// A key member is not a valid key in canonical text form.
    #[error("member {member:?}: {error}")]
    Key {
        /// The member: `key` in a claim; `signer`, `new_key` or `device` in a link.
        member: &'static str,
        /// What is wrong with the key.
        error: KeyError,
    },
    /// The claim is larger than [`MAX_CLAIM_BYTES`].
    #[error("claim is {found} bytes in JCS form; at most {MAX_CLAIM_BYTES} are allowed")]
    TooLarge {
        /// Its size in JCS form.
        found: usize,
    },
    /// `expires_at` is not after `created_at`.
    #[error("expires_at ({expires_at}) is not after created_at ({created_at})")]
    ExpiryBeforeCreation {
        /// The claim's creation time.
        created_at: u64,
        /// The claim's expiry time.
        expires_at: u64,
    },
}

impl ClaimError {
    /// True when the error is about a version or feature this verifier does not support,
    /// rather than a malformed claim.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, ClaimError::UnsupportedVersion(_))
    }
}

/// A well-formed claim whose signature has not been checked yet (SPEC.md §5).
///
/// Two claims are equal when their JCS forms are (SPEC.md §2.2-2): `1.0` and `1` in an
/// unknown member make the same claim.
#[derive(Clone)]
pub struct Claim {
    object: Map<String, Value>,
    subject: Identity,
    key: PublicKey,
    created_at: u64,
    expires_at: Option<u64>,
    signature: Signature,
    jcs: Vec<u8>,
    signed: Vec<u8>,
}

impl PartialEq for Claim {
    fn eq(&self, other: &Self) -> bool {
        self.jcs == other.jcs
    }
}

impl Eq for Claim {}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("subject", &self.subject)
            .field("key", &self.key)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn string_member<'a>(
    object: &'a Map<String, Value>,
    member: &'static str,
) -> Result<Option<&'a str>, ClaimError> {
    match object.get(member) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_STRING_BYTES => Ok(Some(s)),
        Some(Value::String(s)) => Err(ClaimError::Member {
            member,
            expected: "a string of at most 1024 bytes",
            found: format!("{} bytes", s.len()),
        }),
        Some(other) => Err(ClaimError::Member {
            member,
            expected: "a string",
            found: describe(other),
        }),
    }
}

pub(crate) fn required_string<'a>(
    object: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, ClaimError> {
    string_member(object, member)?.ok_or(ClaimError::Missing(member))
}

/// Reads a time or counter: an integer from 0 to 2^53 - 1 (SPEC.md §2.3).
pub(crate) fn integer_member(
    object: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<u64>, ClaimError> {
    let Some(value) = object.get(member) else {
        return Ok(None);
    };
    let bad = || ClaimError::Member {
        member,
        expected: "an integer from 0 to 9007199254740991",
        found: describe(value),
    };
    let Value::Number(n) = value else {
        return Err(bad());
    };
    if let Some(u) = n.as_u64() {
        return if u <= MAX_SAFE_INTEGER {
            Ok(Some(u))
        } else {
            Err(bad())
        };
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER as f64).contains(&f) => {
            Ok(Some(f as u64))
        }
        _ => Err(bad()),
    }
}

pub(crate) fn check_version(object: &Map<String, Value>) -> Result<(), ClaimError> {
    // SPEC §5.1-2: the version is compared before any other rule, length limits included,
    // so that a future version is `unsupported` whatever its form.
    match object.get("kez") {
        None => Err(ClaimError::Missing("kez")),
        Some(Value::String(v)) if v == PROTOCOL_VERSION => Ok(()),
        Some(Value::String(v)) => Err(ClaimError::UnsupportedVersion(v.chars().take(16).collect())),
        Some(other) => Err(ClaimError::Member {
            member: "kez",
            expected: "a string",
            found: describe(other),
        }),
    }
}

pub(crate) fn parse_key_member(
    object: &Map<String, Value>,
    member: &'static str,
) -> Result<PublicKey, ClaimError> {
    let text = required_string(object, member)?;
    let key =
        PublicKey::parse_canonical(text).map_err(|error| ClaimError::Key { member, error })?;
    Ok(key)
}

pub(crate) fn parse_signature_member(
    object: &Map<String, Value>,
    member: &'static str,
) -> Result<Signature, ClaimError> {
    let text = required_string(object, member)?;
    Signature::from_hex(text).map_err(|_| ClaimError::Member {
        member,
        expected: "128 lowercase hex characters",
        found: format!("{:?}", text.chars().take(24).collect::<String>()),
    })
}

/// The JCS form of `object` without the named members: the bytes a signature covers.
/// The JCS form of an object without the named top-level members, derived from the JCS
/// form of the whole object `jcs` (SPEC.md §4.2): the bytes a signature covers.
pub(crate) fn signed_bytes_without(
    object: &Map<String, Value>,
    jcs: &[u8],
    skip: &[&str],
) -> Vec<u8> {
    let mut bytes = jcs.to_vec();
    for name in skip {
        if object.contains_key(*name) {
            match json::remove_top_level_member(&bytes, name) {
                Some(shorter) => bytes = shorter,
                None => return signed_bytes_slow(object, skip),
            }
        }
    }
    bytes
}

/// The same, by re-canonicalising a copy of the object (never needed for JCS input).
fn signed_bytes_slow(object: &Map<String, Value>, skip: &[&str]) -> Vec<u8> {
    let mut unsigned = object.clone();
    for name in skip {
        unsigned.remove(*name);
    }
    // Canonicalising a value that came from strict parsing or from our own builder
    // cannot fail: every number in it is finite.
    json::canonicalize_object(&unsigned).unwrap_or_default()
}

impl Claim {
    /// Parses a claim from JSON bytes in any layout (SPEC.md §6.1).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClaimError> {
        Self::from_value(json::parse_strict(bytes)?)
    }

    /// Checks a parsed JSON value against SPEC.md §5.
    pub fn from_value(value: Value) -> Result<Self, ClaimError> {
        let Value::Object(object) = value else {
            return Err(ClaimError::NotAnObject(kind_name(&value)));
        };
        check_version(&object)?;
        let kind = required_string(&object, "type")?;
        if kind != "claim" {
            return Err(ClaimError::WrongType(kind.chars().take(24).collect()));
        }
        let subject_text = required_string(&object, "subject")?;
        let subject = Identity::parse(subject_text)?;
        if subject.to_string() != subject_text {
            return Err(ClaimError::SubjectNotCanonical {
                found: subject_text.to_string(),
                canonical: subject.to_string(),
            });
        }
        let key = parse_key_member(&object, "key")?;
        let created_at =
            integer_member(&object, "created_at")?.ok_or(ClaimError::Missing("created_at"))?;
        let expires_at = integer_member(&object, "expires_at")?;
        if let Some(expires_at) = expires_at {
            if expires_at <= created_at {
                return Err(ClaimError::ExpiryBeforeCreation {
                    created_at,
                    expires_at,
                });
            }
        }
        if let Some(nonce) = string_member(&object, "nonce")? {
            let ok = (16..=64).contains(&nonce.len())
                && nonce
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ClaimError::Member {
                    member: "nonce",
                    expected: "16 to 64 characters of the base64url alphabet",
                    found: describe(&Value::String(nonce.to_string())),
                });
            }
        }
        if let Some(chain) = string_member(&object, "chain")? {
            if !chain.starts_with("https://") || chain.len() > 512 {
                return Err(ClaimError::Member {
                    member: "chain",
                    expected: "an https:// URL of at most 512 bytes",
                    found: describe(&Value::String(chain.to_string())),
                });
            }
        }
        let signature = parse_signature_member(&object, "sig")?;
        let (jcs, signed) = match json::canonicalize_object_signed(&object, &["sig"]) {
            Some(both) => both,
            None => {
                let jcs = json::canonicalize_object(&object)?;
                let signed = signed_bytes_without(&object, &jcs, &["sig"]);
                (jcs, signed)
            }
        };
        if jcs.len() > MAX_CLAIM_BYTES {
            return Err(ClaimError::TooLarge { found: jcs.len() });
        }
        Ok(Self {
            object,
            subject,
            key,
            created_at,
            expires_at,
            signature,
            jcs,
            signed,
        })
    }

    /// The subject identity.
    pub fn subject(&self) -> &Identity {
        &self.subject
    }

    /// The primary key that signed the claim.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Creation time, Unix seconds.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Expiry time, Unix seconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The nonce, if any.
    pub fn nonce(&self) -> Option<&str> {
        self.object.get("nonce").and_then(Value::as_str)
    }

    /// The sigchain location hint (SPEC.md §5.1), if any.
    pub fn chain_hint(&self) -> Option<&str> {
        self.object.get("chain").and_then(Value::as_str)
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Names of members SPEC.md does not define, in JCS order (SPEC.md §5.3).
    pub fn unknown_members(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .object
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_MEMBERS.contains(k))
            .collect();
        names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
        names
    }

    /// The whole object.
    pub fn as_object(&self) -> &Map<String, Value> {
        &self.object
    }

    /// The canonical JSON encoding: the JCS form of the whole claim (SPEC.md §6.1).
    pub fn to_jcs(&self) -> &[u8] {
        &self.jcs
    }

    /// The bytes the signature covers: JCS of the object without `sig` (SPEC.md §4.2).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// The claim id: the SHA-256 of [`Claim::to_jcs`], written `sha256:<hex>` (SPEC.md §5.5).
    pub fn id(&self) -> Digest256 {
        Digest256::of(&self.jcs)
    }

    /// Checks the signature under the claim's own key (SPEC.md §4.2).
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.key.verify_object(&self.signed, &self.signature)
    }

    /// Checks the signature and keeps the result with the claim, for
    /// [`crate::verdict::evaluate_checked`], which then does not check it again.
    pub fn check_signature(&self) -> CheckedClaim<'_> {
        CheckedClaim {
            claim: self,
            signature: self.verify_signature(),
        }
    }
}

/// A claim together with the result of checking its signature (SPEC.md §4.2). Only this
/// crate builds one, by checking ([`Claim::check_signature`], [`check_signatures`]), so a
/// verdict reached from it never rests on a result the caller made up.
#[derive(Debug, Clone)]
pub struct CheckedClaim<'a> {
    claim: &'a Claim,
    signature: Result<(), SignatureError>,
}

impl<'a> CheckedClaim<'a> {
    /// The claim.
    pub fn claim(&self) -> &'a Claim {
        self.claim
    }

    /// The result of checking its signature.
    pub fn signature(&self) -> Result<(), &SignatureError> {
        self.signature.as_ref().map(|_| ())
    }
}

/// Checks the signatures of many claims at once ([`verify_signatures`]) and pairs each
/// claim with its result, for [`crate::verdict::evaluate_checked`].
pub fn check_signatures(claims: &[Claim]) -> Vec<CheckedClaim<'_>> {
    claims
        .iter()
        .zip(verify_signatures(claims))
        .map(|(claim, signature)| CheckedClaim { claim, signature })
        .collect()
}

/// Checks the signatures of many claims; the result for each is exactly what
/// [`Claim::verify_signature`] returns for it (SPEC.md §4.5). Ed25519 claims are checked
/// as one batch; BIP-340 claims one by one.
pub fn verify_signatures(claims: &[Claim]) -> Vec<Result<(), SignatureError>> {
    use crate::ed25519::{verify_batch, BatchItem};
    let mut results: Vec<Result<(), SignatureError>> = vec![Ok(()); claims.len()];
    let mut batch = Vec::with_capacity(claims.len());
    let mut positions = Vec::with_capacity(claims.len());
    for (i, claim) in claims.iter().enumerate() {
        match claim.key() {
            PublicKey::Ed25519(key) => {
                batch.push(BatchItem {
                    key,
                    message: &claim.signed,
                    signature: &claim.signature.0,
                });
                positions.push(i);
            }
            PublicKey::Bip340(_) => results[i] = claim.verify_signature(),
        }
    }
    for (i, result) in positions.into_iter().zip(verify_batch(&batch)) {
        results[i] = result.map_err(SignatureError::Ed25519);
    }
    results
}

/// Builds and signs a new claim (SPEC.md §5.1).
///
/// ```
/// use kez_core::{claim::ClaimBuilder, Algorithm, Identity, SecretKey};
/// let key = SecretKey::generate(Algorithm::Ed25519);
/// let claim = ClaimBuilder::new("github:jason".parse().unwrap(), 1_767_225_600)
///     .expires_at(1_798_761_600)
///     .sign(&key, None)
///     .unwrap();
/// assert!(claim.verify_signature().is_ok());
/// assert_eq!(claim.subject().to_string(), "github:jason");
/// ```
#[derive(Debug, Clone)]
pub struct ClaimBuilder {
    subject: Identity,
    created_at: u64,
    expires_at: Option<u64>,
    nonce: Option<String>,
    chain: Option<String>,
    extra: Map<String, Value>,
}

impl ClaimBuilder {
    /// Starts a claim for `subject` created at `created_at` (Unix seconds).
    pub fn new(subject: Identity, created_at: u64) -> Self {
        Self {
            subject,
            created_at,
            expires_at: None,
            nonce: None,
            chain: None,
            extra: Map::new(),
        }
    }

    /// Sets the expiry time (Unix seconds).
    pub fn expires_at(mut self, expires_at: u64) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the nonce (16 to 64 base64url characters).
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the sigchain location hint.
    pub fn chain(mut self, url: impl Into<String>) -> Self {
        self.chain = Some(url.into());
        self
    }

    /// Adds a member this version does not define (it is signed like any other).
    pub fn extra(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// Signs with `key` (its public key becomes the claim's `key`) and checks the result
    /// against SPEC.md §5 exactly as a verifier would. `aux_rand` is for BIP-340 only.
    pub fn sign(self, key: &SecretKey, aux_rand: Option<&[u8; 32]>) -> Result<Claim, ClaimError> {
        let mut object = self.extra;
        object.insert("kez".into(), PROTOCOL_VERSION.into());
        object.insert("type".into(), "claim".into());
        object.insert("subject".into(), self.subject.to_string().into());
        object.insert("key".into(), key.public_key().to_string().into());
        object.insert("created_at".into(), self.created_at.into());
        if let Some(t) = self.expires_at {
            object.insert("expires_at".into(), t.into());
        }
        if let Some(n) = self.nonce {
            object.insert("nonce".into(), n.into());
        }
        if let Some(c) = self.chain {
            object.insert("chain".into(), c.into());
        }
        object.remove("sig");
        let signed = json::canonicalize(&Value::Object(object.clone()))?;
        let signature = key.sign_object(&signed, aux_rand);
        object.insert("sig".into(), signature.to_hex().into());
        Claim::from_value(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Algorithm;

    fn sample(alg: Algorithm) -> Claim {
        let key = SecretKey::from_bytes(alg, &[7; 32]).unwrap();
        ClaimBuilder::new("github:jason".parse().unwrap(), 1_767_225_600)
            .nonce("AAAAAAAAAAAAAAAAAAAAAA")
            .sign(&key, Some(&[0; 32]))
            .unwrap()
    }

    #[test]
    fn signed_claims_verify_in_both_suites_and_reparse_identically() {
        for alg in [Algorithm::Ed25519, Algorithm::Bip340] {
            let claim = sample(alg);
            assert_eq!(claim.verify_signature(), Ok(()));
            let again = Claim::from_json(claim.to_jcs()).unwrap();
            assert_eq!(again.to_jcs(), claim.to_jcs());
        }
    }

    #[test]
    fn batch_results_equal_single_results() {
        let mut claims: Vec<Claim> = (0..40u8)
            .map(|i| {
                let alg = if i % 5 == 0 {
                    Algorithm::Bip340
                } else {
                    Algorithm::Ed25519
                };
                let key = SecretKey::from_bytes(alg, &[i + 1; 32]).unwrap();
                ClaimBuilder::new(
                    "github:jason".parse().unwrap(),
                    1_767_225_600 + u64::from(i),
                )
                .sign(&key, None)
                .unwrap()
            })
            .collect();
        for i in [3usize, 10, 17] {
            let mut object = claims[i].as_object().clone();
            object.insert("created_at".into(), 1.into());
            claims[i] = Claim::from_value(Value::Object(object)).unwrap();
        }
        let batch = verify_signatures(&claims);
        for (claim, got) in claims.iter().zip(&batch) {
            assert_eq!(got, &claim.verify_signature());
        }
        assert_eq!(batch.iter().filter(|r| r.is_err()).count(), 3);
    }

    #[test]
    fn claims_are_equal_when_their_jcs_forms_are() {
        let key = SecretKey::from_bytes(Algorithm::Ed25519, &[1; 32]).unwrap();
        let claim = ClaimBuilder::new("dns:example.com".parse().unwrap(), 10)
            .extra("x", serde_json::json!(1.0))
            .sign(&key, None)
            .unwrap();
        let decoded = Claim::from_json(claim.to_jcs()).unwrap();
        assert_eq!(decoded, claim);
    }

    #[test]
    fn whitespace_and_member_order_do_not_matter() {
        let claim = sample(Algorithm::Ed25519);
        let pretty =
            serde_json::to_string_pretty(&Value::Object(claim.as_object().clone())).unwrap();
        let again = Claim::from_json(pretty.as_bytes()).unwrap();
        assert_eq!(again.verify_signature(), Ok(()));
        assert_eq!(again.to_jcs(), claim.to_jcs());
    }

    #[test]
    fn non_canonical_subject_is_rejected() {
        let mut object = sample(Algorithm::Ed25519).as_object().clone();
        object.insert("subject".into(), "github:Jason".into());
        let err = Claim::from_value(Value::Object(object)).unwrap_err();
        assert!(
            matches!(err, ClaimError::SubjectNotCanonical { .. }),
            "{err}"
        );
    }

    #[test]
    fn unknown_members_are_signed_and_reported() {
        let key = SecretKey::from_bytes(Algorithm::Ed25519, &[1; 32]).unwrap();
        let claim = ClaimBuilder::new("dns:example.com".parse().unwrap(), 10)
            .extra("zeta", Value::Bool(true))
            .sign(&key, None)
            .unwrap();
        assert_eq!(claim.unknown_members(), vec!["zeta"]);
        let mut object = claim.as_object().clone();
        object.insert("zeta".into(), Value::Bool(false));
        let tampered = Claim::from_value(Value::Object(object)).unwrap();
        assert!(tampered.verify_signature().is_err());
    }

    #[test]
    fn wrong_version_is_unsupported_and_oversize_is_rejected() {
        let mut object = sample(Algorithm::Ed25519).as_object().clone();
        object.insert("kez".into(), "0.3".into());
        assert!(Claim::from_value(Value::Object(object.clone()))
            .unwrap_err()
            .is_unsupported());
        object.insert("kez".into(), "0.2".into());
        object.insert("pad".into(), "x".repeat(1000).into());
        object.insert("pad2".into(), "x".repeat(1000).into());
        object.insert("pad3".into(), "x".repeat(1000).into());
        object.insert("pad4".into(), "x".repeat(1000).into());
        assert!(matches!(
            Claim::from_value(Value::Object(object)),
            Err(ClaimError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_long_future_version_is_unsupported_not_malformed() {
        let mut object = sample(Algorithm::Ed25519).as_object().clone();
        object.insert("kez".into(), "9".repeat(2000).into());
        assert!(Claim::from_value(Value::Object(object))
            .unwrap_err()
            .is_unsupported());
    }

    #[test]
    fn times_must_be_safe_integers_and_ordered() {
        let mut object = sample(Algorithm::Ed25519).as_object().clone();
        object.insert("created_at".into(), serde_json::json!(1.5));
        assert!(Claim::from_value(Value::Object(object.clone())).is_err());
        object.insert("created_at".into(), serde_json::json!(-1));
        assert!(Claim::from_value(Value::Object(object.clone())).is_err());
        object.insert("created_at".into(), serde_json::json!(100));
        object.insert("expires_at".into(), serde_json::json!(100));
        assert!(matches!(
            Claim::from_value(Value::Object(object)),
            Err(ClaimError::ExpiryBeforeCreation { .. })
        ));
    }
}
