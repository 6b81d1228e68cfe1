//! NATS JWTs: encoding, decoding and signature verification (nats-io/jwt v2,
//! `v2/claims.go`, `v2/header.go`, `v2/decoder.go`).
//!
//! A v2 JWT is `b64url(header) "." b64url(payload) "." b64url(signature)`, base64url
//! without padding, the header `{"typ":"JWT","alg":"ed25519-nkey"}` and the signature
//! Ed25519 by the issuer's nkey over the ASCII bytes of `header "." payload`.
//!
//! Legacy v1 JWTs (header alg `ed25519`, `type` at the top of the payload) are signed
//! over the payload segment alone. Like nats-io/jwt, [`Jwt::signing_input`] follows the
//! payload: claims of version 1 or without a known type are checked the v1 way.
//! [`Jwt::decode`] reads both so that [`crate::check`] can report a v1 JWT as such;
//! [`Jwt::decode_v2`] refuses them.
//!
//! Decoding is strict where Go is lenient: padding, non-zero trailing bits and any
//! character outside the base64url alphabet are errors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha512_256};

use crate::claims::{ClaimType, Claims, ClaimsData, VERSION};
use crate::gojson;
use crate::nkey::{NkeyError, PublicNkey, Seed};

/// The header type.
pub const TYP: &str = "JWT";
/// The v2 algorithm.
pub const ALG: &str = "ed25519-nkey";
/// The v1 algorithm, read but never written.
pub const ALG_V1: &str = "ed25519";
/// The header JSON every v2 JWT written by nats-io/jwt (and by us) carries.
pub const HEADER_JSON: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// Which part of a JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The header.
    Header,
    /// The claims.
    Payload,
    /// The signature.
    Signature,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// The header algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `ed25519-nkey`: v2.
    Ed25519Nkey,
    /// `ed25519`: legacy v1.
    LegacyEd25519,
}

/// Why a JWT could not be decoded, verified or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three dot-separated segments.
    #[error("expected 3 dot-separated segments, found {found}")]
    Segments {
        /// How many were found.
        found: usize,
    },
    /// A segment is not strict base64url without padding.
    #[error("{segment} is not base64url without padding")]
    Base64 {
        /// The segment.
        segment: Segment,
    },
    /// The header is not a JSON object with string `typ` and `alg`.
    #[error("header is not a JSON object with typ and alg: {0}")]
    Header(String),
    /// `typ` is not `JWT` (in any case, as Go compares).
    #[error("header typ is {found:?}, expected \"JWT\"")]
    Type {
        /// The type found.
        found: String,
    },
    /// `alg` is neither `ed25519-nkey` nor `ed25519`.
    #[error("header alg is {found:?}, expected \"ed25519-nkey\"")]
    Algorithm {
        /// The algorithm found.
        found: String,
    },
    /// A legacy v1 JWT where v2 is required.
    #[error("legacy v1 JWT (alg \"ed25519\"); v2 JWTs use \"ed25519-nkey\"")]
    LegacyV1,
    /// `nats.version` is not 2 (for claims that are not v1).
    #[error("nats.version is {found}, expected 2")]
    Version {
        /// The version found (0 when absent).
        found: i64,
    },
    /// The payload is not a JSON object.
    #[error("payload is not a JSON object: {0}")]
    Payload(String),
    /// The signature is not 64 bytes.
    #[error("signature is {found} bytes, expected 64")]
    SignatureLength {
        /// The length found.
        found: usize,
    },
    /// The claims are not of the type asked for.
    #[error("expected {expected} claims, found {found}")]
    ClaimType {
        /// The type asked for.
        expected: ClaimType,
        /// What `nats.type` (or the v1 `type`) says, or `none`.
        found: String,
    },
    /// The claims do not have the types nats-io/jwt expects (a string where a number
    /// belongs, …).
    #[error("claims do not decode: {0}")]
    Claims(String),
    /// `iss` is missing or not a public nkey.
    #[error("iss is not a public nkey: {0}")]
    Issuer(NkeyError),
    /// The issuer's key is not of a role allowed to sign these claims.
    #[error("{claims} claims cannot be issued by a{} {found} key", if matches!(found, crate::nkey::Role::Operator | crate::nkey::Role::Account) { "n" } else { "" })]
    IssuerRole {
        /// The claim type.
        claims: ClaimType,
        /// The issuer's role.
        found: crate::nkey::Role,
    },
    /// `sub` is not a public nkey of the role these claims need.
    #[error("sub is not a valid subject: {0}")]
    Subject(NkeyError),
    /// The signature does not verify with the issuer's key.
    #[error("signature does not verify with the issuer key")]
    BadSignature,
    /// The claims could not be serialised (a caller mistake).
    #[error("claims could not be serialised: {0}")]
    Encode(String),
}

impl JwtError {
    /// The stable kind: `invalid_signature` for [`JwtError::BadSignature`], else
    /// `malformed`.
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::BadSignature => "invalid_signature",
            _ => "malformed",
        }
    }
}

fn b64(segment: Segment, text: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwtError::Base64 { segment })
}

/// A decoded (not yet verified) JWT.
#[derive(Debug, Clone)]
pub struct Jwt {
    text: String,
    header_end: usize,
    payload_end: usize,
    algorithm: Algorithm,
    header_canonical: bool,
    payload: Map<String, Value>,
    signature: Vec<u8>,
}

impl Jwt {
    /// Decodes a v2 or legacy v1 JWT without verifying it. Leading and trailing
    /// whitespace is not accepted.
    pub fn decode(text: &str) -> Result<Self, JwtError> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 {
            return Err(JwtError::Segments { found: parts.len() });
        }
        let header_bytes = b64(Segment::Header, parts[0])?;
        let payload_bytes = b64(Segment::Payload, parts[1])?;
        let signature = b64(Segment::Signature, parts[2])?;

        let header: Map<String, Value> =
            serde_json::from_slice(&header_bytes).map_err(|e| JwtError::Header(e.to_string()))?;
        let field = |name: &str| -> Result<String, JwtError> {
            match header.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(JwtError::Header(format!("{name} is not a string"))),
                None => Ok(String::new()),
            }
        };
        let typ = field("typ")?;
        let alg = field("alg")?;
        if typ.to_uppercase() != TYP {
            return Err(JwtError::Type { found: typ });
        }
        let algorithm = match alg.to_lowercase().as_str() {
            ALG => Algorithm::Ed25519Nkey,
            ALG_V1 => Algorithm::LegacyEd25519,
            _ => return Err(JwtError::Algorithm { found: alg }),
        };
        let payload: Map<String, Value> =
            serde_json::from_slice(&payload_bytes).map_err(|e| JwtError::Payload(e.to_string()))?;
        if signature.len() != 64 {
            return Err(JwtError::SignatureLength {
                found: signature.len(),
            });
        }
        Ok(Self {
            text: text.to_string(),
            header_end: parts[0].len(),
            payload_end: parts[0].len() + 1 + parts[1].len(),
            algorithm,
            header_canonical: header_bytes == HEADER_JSON.as_bytes(),
            payload,
            signature,
        })
    }

    /// Decodes a JWT that must be v2 (header alg `ed25519-nkey`).
    pub fn decode_v2(text: &str) -> Result<Self, JwtError> {
        let jwt = Self::decode(text)?;
        if jwt.algorithm != Algorithm::Ed25519Nkey || jwt.is_v1() {
            return Err(JwtError::LegacyV1);
        }
        if jwt.version() != VERSION {
            return Err(JwtError::Version {
                found: jwt.version(),
            });
        }
        Ok(jwt)
    }

    /// The token text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The header algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether the header is exactly [`HEADER_JSON`].
    pub fn header_is_canonical(&self) -> bool {
        self.header_canonical
    }

    /// The payload as JSON.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }

    /// The `nats` object, if present.
    pub fn nats(&self) -> Option<&Map<String, Value>> {
        self.payload.get("nats").and_then(Value::as_object)
    }

    /// The claim type: `nats.type`, or the v1 top-level `type`; `None` when neither is
    /// a string.
    pub fn claim_type_text(&self) -> Option<&str> {
        if let Some(t) = self.payload.get("type").and_then(Value::as_str) {
            if !t.is_empty() {
                return Some(t);
            }
        }
        self.nats()
            .and_then(|n| n.get("type"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    }

    /// The claims version as nats-io/jwt determines it: 1 when the v1 top-level `type`
    /// is set, else `nats.version` (0 when absent).
    pub fn version(&self) -> i64 {
        if self
            .payload
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            return 1;
        }
        self.nats()
            .and_then(|n| n.get("version"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// Whether the claims are legacy v1 claims: `type` at the top of the payload
    /// (nats-io/jwt `identifier.Version`).
    pub fn is_v1(&self) -> bool {
        self.payload
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
    }

    /// The bytes the signature covers: `header.payload` for v2 claims, the payload
    /// segment alone for v1 claims and claims of unknown type (nats-io/jwt `Decode`).
    pub fn signing_input(&self) -> &[u8] {
        let known_v2 = self.version() >= VERSION
            && self.claim_type_text().and_then(ClaimType::parse).is_some();
        if known_v2 {
            &self.text.as_bytes()[..self.payload_end]
        } else {
            &self.text.as_bytes()[self.header_end + 1..self.payload_end]
        }
    }

    /// The registered claims.
    pub fn claims_data(&self) -> Result<ClaimsData, JwtError> {
        serde_json::from_value(Value::Object(self.payload.clone()))
            .map_err(|e| JwtError::Claims(e.to_string()))
    }

    /// The issuer's public key (`iss`).
    pub fn issuer(&self) -> Result<PublicNkey, JwtError> {
        let iss = self
            .payload
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or("");
        PublicNkey::parse(iss).map_err(JwtError::Issuer)
    }

    /// The subject (`sub`) text.
    pub fn subject(&self) -> &str {
        self.payload
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `jti` text.
    pub fn id(&self) -> &str {
        self.payload
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Whether the signature verifies with `key` over [`Jwt::signing_input`].
    pub fn verify_with(&self, key: &PublicNkey) -> bool {
        key.verify(self.signing_input(), &self.signature)
    }

    /// Verifies the signature with the key named in `iss` and returns that key.
    /// Whether the issuer is trusted is the caller's question.
    pub fn verify(&self) -> Result<PublicNkey, JwtError> {
        let issuer = self.issuer()?;
        if !self.verify_with(&issuer) {
            return Err(JwtError::BadSignature);
        }
        Ok(issuer)
    }

    /// Decodes the claims as `C`, checking `nats.type`.
    pub fn claims<C: Claims>(&self) -> Result<C, JwtError> {
        let found = self.claim_type_text().unwrap_or("none");
        if found != C::TYPE.as_str() {
            return Err(JwtError::ClaimType {
                expected: C::TYPE,
                found: found.to_string(),
            });
        }
        serde_json::from_value(Value::Object(self.payload.clone()))
            .map_err(|e| JwtError::Claims(e.to_string()))
    }

    /// Decodes, verifies with `iss` and checks the issuer and subject roles for `C`:
    /// what nats-io/jwt's `Decode…Claims` does.
    pub fn decode_verified<C: Claims>(text: &str) -> Result<(C, PublicNkey), JwtError> {
        let jwt = Self::decode_v2(text)?;
        let claims: C = jwt.claims()?;
        let issuer = jwt.verify()?;
        if !C::TYPE.issuer_roles().contains(&issuer.role()) {
            return Err(JwtError::IssuerRole {
                claims: C::TYPE,
                found: issuer.role(),
            });
        }
        PublicNkey::parse_role(&claims.data().subject, C::TYPE.subject_role())
            .map_err(JwtError::Subject)?;
        Ok((claims, issuer))
    }
}

/// The `jti` nats-io/jwt computes: base32 (no padding) of SHA-512/256 of Go's JSON of
/// the registered claims with `jti` empty (`ClaimsData.hash`). Only the registered
/// claims are hashed, not the `nats` object.
pub fn jti(data: &ClaimsData) -> String {
    let mut data = data.clone();
    data.id.clear();
    // Serialising a struct of strings and integers cannot fail.
    let json = gojson::to_vec(&data).unwrap_or_default();
    let digest = Sha512_256::digest(&json);
    data_encoding::BASE32_NOPAD.encode(&digest)
}

/// Signs `claims` with `signer` as nats-io/jwt's `Encode` does: sets `iss` to the
/// signer, `iat` to `issued_at`, `nats.type` and `nats.version` (2), computes `jti`, then
/// writes Go's JSON. The subject must be a key of the claims' subject role and the
/// signer of an allowed issuer role.
pub fn encode<C: Claims>(
    claims: &mut C,
    signer: &Seed,
    issued_at: i64,
) -> Result<String, JwtError> {
    PublicNkey::parse_role(&claims.data().subject, C::TYPE.subject_role())
        .map_err(JwtError::Subject)?;
    let issuer = signer.public_key();
    if !C::TYPE.issuer_roles().contains(&issuer.role()) {
        return Err(JwtError::IssuerRole {
            claims: C::TYPE,
            found: issuer.role(),
        });
    }
    {
        let generic = claims.generic_mut();
        generic.claim_type = C::TYPE.as_str().to_string();
        generic.version = VERSION;
    }
    let data = claims.data_mut();
    data.issuer = issuer.to_string();
    data.issued_at = issued_at;
    data.id = jti(data);
    let payload = gojson::to_vec(claims).map_err(|e| JwtError::Encode(e.to_string()))?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER_JSON),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = signer.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{AccountClaims, OperatorClaims, UserClaims};
    use crate::nkey::Role;

    // nats.rs async-nats/tests/configs/TestUser.creds (see vectors/SOURCES.md).
    const TEST_USER_JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJMN1dBT1hJU0tPSUZNM1QyNEhMQ09ENzJRT1czQkNVWEdETjRKVU1SSUtHTlQ3RzdZVFRRIiwiaWF0IjoxNjUxNzkwOTgyLCJpc3MiOiJBRFRRUzdaQ0ZWSk5XNTcyNkdPWVhXNVRTQ1pGTklRU0hLMlpHWVVCQ0Q1RDc3T1ROTE9PS1pPWiIsIm5hbWUiOiJUZXN0VXNlciIsInN1YiI6IlVBRkhHNkZVRDJVVTRTREZWQUZVTDVMREZPMlhNNFdZTTc2VU5YVFBKWUpLN0VFTVlSQkhUMlZFIiwibmF0cyI6eyJwdWIiOnt9LCJzdWIiOnt9LCJzdWJzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJ0eXBlIjoidXNlciIsInZlcnNpb24iOjJ9fQ.bp2-Jsy33l4ayF7Ku1MNdJby4WiMKUrG-rSVYGBusAtV3xP4EdCa-zhSNUaBVIL3uYPPCQYCEoM1pCUdOnoJBg";

    #[test]
    fn upstream_user_jwt_decodes_verifies_and_reproduces_its_jti() {
        let (claims, issuer) = Jwt::decode_verified::<UserClaims>(TEST_USER_JWT).unwrap();
        assert_eq!(
            issuer.to_string(),
            "ADTQS7ZCFVJNW5726GOYXW5TSCZFNIQSHK2ZGYUBCD5D77OTNLOOKZOZ"
        );
        assert_eq!(claims.data.name, "TestUser");
        assert_eq!(jti(&claims.data), claims.data.id);
        assert_eq!(
            claims.data.id,
            "L7WAOXISKOIFM3T24HLCOD72QOW3BCUXGDN4JUMRIKGNT7G7YTTQ"
        );
        // Our serialisation of the decoded claims is byte-identical to the payload.
        let jwt = Jwt::decode(TEST_USER_JWT).unwrap();
        let ours = gojson::to_vec(&claims).unwrap();
        let theirs = URL_SAFE_NO_PAD
            .decode(TEST_USER_JWT.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
        assert!(jwt.header_is_canonical() && !jwt.is_v1());
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let operator = Seed::generate(Role::Operator).unwrap();
        let account = Seed::generate(Role::Account).unwrap();
        let user = Seed::generate(Role::User).unwrap();
        let mut oc = OperatorClaims::new(operator.public_key().to_string());
        oc.data.name = "op <&>".into();
        let token = encode(&mut oc, &operator, 1_700_000_000).unwrap();
        let (back, iss) = Jwt::decode_verified::<OperatorClaims>(&token).unwrap();
        assert_eq!(back, oc);
        assert_eq!(iss, operator.public_key());
        assert!(token.starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."));

        let mut ac = AccountClaims::new(account.public_key().to_string());
        let token = encode(&mut ac, &operator, 1).unwrap();
        assert!(Jwt::decode_verified::<AccountClaims>(&token).is_ok());

        let mut uc = UserClaims::new(user.public_key().to_string());
        assert!(matches!(
            encode(&mut uc, &operator, 1),
            Err(JwtError::IssuerRole { .. })
        ));
        let token = encode(&mut uc, &account, 1).unwrap();
        let jwt = Jwt::decode(&token).unwrap();
        assert!(jwt.verify_with(&account.public_key()));
        assert!(!jwt.verify_with(&user.public_key()));
        assert!(matches!(
            Jwt::decode_verified::<AccountClaims>(&token),
            Err(JwtError::ClaimType { .. })
        ));
    }

    #[test]
    fn strict_base64_and_header_checks() {
        let parts: Vec<&str> = TEST_USER_JWT.split('.').collect();
        let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
        assert_eq!(
            Jwt::decode(&padded).unwrap_err(),
            JwtError::Base64 {
                segment: Segment::Header
            }
        );
        let std_alphabet = TEST_USER_JWT.replace('-', "+");
        assert!(matches!(
            Jwt::decode(&std_alphabet).unwrap_err(),
            JwtError::Base64 { .. }
        ));
        assert_eq!(
            Jwt::decode("a.b").unwrap_err(),
            JwtError::Segments { found: 2 }
        );
        let hs256 = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            Jwt::decode(&hs256).unwrap_err(),
            JwtError::Algorithm { .. }
        ));
        let v1 = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"jwt","alg":"ed25519"}"#),
            parts[1],
            parts[2]
        );
        let jwt = Jwt::decode(&v1).unwrap();
        assert_eq!(jwt.algorithm(), Algorithm::LegacyEd25519);
        assert!(!jwt.header_is_canonical());
        assert_eq!(Jwt::decode_v2(&v1).unwrap_err(), JwtError::LegacyV1);
    }
}
