//! A NATS auth callout service that admits clients by their KEZ identity (nats-server
//! `server/auth_callout.go`; nats-io/jwt `v2/authorization_claims.go`; ADR-26).
//!
//! A client connects with its KEZ Ed25519 key as its user nkey (the same 32 bytes under
//! the `U` prefix, [`crate::nkey::PublicNkey::from_kez`]), so it signs the server's nonce
//! with its KEZ key. nats-server, failing to authenticate it itself, sends an
//! authorization request JWT to `$SYS.REQ.USER.AUTH` ([`AUTH_CALLOUT_SUBJECT`]) carrying
//! the client's `connect_opts.nkey`, `connect_opts.sig` and `client_info.nonce`.
//! [`Authorizer::respond`] then, without any IO:
//!
//! 1. opens the request when the server encrypted it (the `Nats-Server-Xkey` header,
//!    [`XKEY_HEADER`]: curve25519 box, nkeys `xkv1` format, [`XKeySeed`]),
//! 2. decodes it and checks the server's signature (an `N` key), its type, that it is
//!    meant for this issuer and not expired,
//! 3. verifies the client's signature over the nonce with the KEZ key (SPEC.md §4.3),
//! 4. finds where the key stands in the sigchains ([`chains`]): the current primary key
//!    or an active device key of a chain that verifies; unknown, rotated away, revoked,
//!    broken or ambiguous keys are refused,
//! 5. looks up its roles ([`roles`]) and issues a user JWT for the server's
//!    `user_nkey` with their permissions (`aud` the account to place the user in, in
//!    config mode), signed by the issuer account key,
//! 6. answers with an `authorization_response` JWT (`sub` the `user_nkey`, `aud` the
//!    server id, `nats.jwt` or `nats.error`) signed by the same key, sealed to the
//!    server's xkey when the request was sealed.
//!
//! Nothing in a request can make it panic, and no error or [`Decision`] carries a seed.
//! The service around it (module `service`, feature `callout`) subscribes on async-nats in
//! the queue group [`QUEUE_GROUP`], so several instances share the load.
//!
//! ```
//! use kez_nats::callout::{Authorizer, Decision};
//! use kez_nats::callout::chains::ChainSet;
//! use kez_nats::callout::roles::Roles;
//! use kez_nats::nkey::{Role, Seed};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let roles = Roles::parse("account = \"APP\"\n[roles.r]\nsub_allow = [\"a.>\"]\n")?;
//! let authorizer = Authorizer::new(Seed::generate(Role::Account)?, roles);
//! // Not a JWT: nothing to answer.
//! let reply = authorizer.respond(b"hello", None, &ChainSet::default(), 1_767_225_600);
//! assert!(reply.payload.is_none());
//! assert!(matches!(reply.decision, Decision::Dropped(_)));
//! # Ok(())
//! # }
//! ```

pub mod chains;
pub mod roles;
#[cfg(feature = "callout")]
pub mod service;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use kez_core::{Algorithm, PublicKey, Signature};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::claims::{
    AuthorizationRequestClaims, AuthorizationResponseClaims, ClaimsData, UserClaims,
    AUTHORIZATION_REQUEST_TYPE, AUTHORIZATION_RESPONSE_TYPE, VERSION,
};
use crate::gojson;
use crate::jwt::{self, Jwt, HEADER_JSON};
use crate::nkey::{PublicNkey, Role, Seed};
use chains::{ChainSet, Standing};
use roles::Roles;

/// The subject nats-server sends authorization requests to (`AuthCalloutSubject`).
pub const AUTH_CALLOUT_SUBJECT: &str = "$SYS.REQ.USER.AUTH";
/// The header naming the server's xkey when it encrypted the request
/// (`AuthRequestXKeyHeader`).
pub const XKEY_HEADER: &str = "Nats-Server-Xkey";
/// The queue group every instance of this service joins, so that each request is
/// answered by one of them.
pub const QUEUE_GROUP: &str = "kez-auth-callout";
/// Seconds of clock difference tolerated when checking a request's `exp`.
pub const CLOCK_SKEW: i64 = 5;

/// Why the service cannot start: bad keys or settings. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalloutError {
    /// An nkey or xkey is not usable.
    #[error("{what}: {message}")]
    Key {
        /// Which key.
        what: &'static str,
        /// What is wrong (never the key text).
        message: String,
    },
}

/// A curve25519 key pair (an nkeys xkey, seed `SX…`): opens requests the server sealed
/// to its public key (`X…`, the `xkey` of the callout configuration) and seals the
/// responses. Backed by the `nkeys` crate's `xkeys` feature (crypto_box, NaCl box:
/// X25519, XSalsa20-Poly1305), compatible with Go's `nkeys` `Seal`/`Open`. `Debug` shows
/// only the public key.
#[derive(Clone)]
pub struct XKeySeed(nkeys::XKey);

impl XKeySeed {
    /// Parses a seed (`SX…`); surrounding whitespace and nsc's decoration are ignored.
    pub fn parse(text: &str) -> Result<Self, CalloutError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("SX"))
            .unwrap_or_else(|| text.trim());
        nkeys::XKey::from_seed(line)
            .map(Self)
            .map_err(|_| CalloutError::Key {
                what: "xkey seed",
                message: "not a curve (SX…) nkey seed".into(),
            })
    }

    /// A new key pair from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(nkeys::XKey::new())
    }

    /// The public key (`X…`).
    pub fn public_key(&self) -> String {
        self.0.public_key()
    }

    /// The seed text; callers must not log it.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.seed().unwrap_or_default())
    }

    /// Seals `message` to `recipient` (an `X…` public key), as Go's `nkeys` `Seal`.
    pub fn seal(&self, message: &[u8], recipient: &str) -> Option<Vec<u8>> {
        let recipient = nkeys::XKey::from_public_key(recipient).ok()?;
        self.0.seal(message, &recipient).ok()
    }

    /// Opens `message` sealed by `sender` (an `X…` public key), as Go's `nkeys` `Open`.
    pub fn open(&self, message: &[u8], sender: &str) -> Option<Vec<u8>> {
        let sender = nkeys::XKey::from_public_key(sender).ok()?;
        self.0.open(message, &sender).ok()
    }
}

impl std::fmt::Debug for XKeySeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "XKeySeed({}, secret redacted)", self.public_key())
    }
}

/// Why a client is refused. The text goes back to nats-server as `nats.error` (which
/// logs it) and into the service's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The request is not a well-formed authorization request signed by a server key.
    #[error("malformed authorization request: {0}")]
    MalformedRequest(String),
    /// The request is for another issuer or account.
    #[error("the request is for {found}, not this callout's issuer")]
    WrongIssuer {
        /// The request's `sub`.
        found: String,
    },
    /// The request expired.
    #[error("the authorization request expired")]
    Expired,
    /// The client did not connect with an nkey.
    #[error("no nkey: connect with the KEZ Ed25519 key as the user nkey")]
    NoNkey,
    /// The nkey is not a user key, or not a usable Ed25519 key.
    #[error("the nkey is not a usable user key: {0}")]
    BadNkey(String),
    /// The server sent no nonce, so the client could not prove its key.
    #[error("no signed nonce: the server issued none (config mode needs at least one nkey user, e.g. the callout's own)")]
    NoNonce,
    /// The signature over the nonce does not verify with the key.
    #[error("the nonce signature does not verify with {0}")]
    BadProof(PublicKey),
    /// No sigchain has the key.
    #[error("{0} is in no known sigchain")]
    UnknownKey(PublicKey),
    /// The chain rotated the key away.
    #[error("{key} was rotated away in {chain}")]
    RotatedAway {
        /// The key.
        key: PublicKey,
        /// The chain's source (file name).
        chain: String,
    },
    /// The chain withdrew the device key.
    #[error("{key} was revoked in {chain}")]
    Revoked {
        /// The key.
        key: PublicKey,
        /// The chain's source (file name).
        chain: String,
    },
    /// The chain naming the key does not verify.
    #[error("the sigchain {chain} naming {key} does not verify: {error}")]
    BrokenChain {
        /// The key.
        key: PublicKey,
        /// The chain's source (file name).
        chain: String,
        /// Why.
        error: String,
    },
    /// The key is active in more than one chain.
    #[error("{0} is active in more than one sigchain")]
    Ambiguous(PublicKey),
    /// The key is in good standing but no member of the role mapping matches it.
    #[error("{0} has no role")]
    NoRole(PublicKey),
    /// The chains could not be read.
    #[error("sigchains unavailable: {0}")]
    ChainsUnavailable(String),
    /// The user JWT could not be issued.
    #[error("cannot issue the user: {0}")]
    Issue(String),
}

impl Refusal {
    /// The stable kind: `malformed`, `invalid_signature`, `unknown`, `revoked`,
    /// `broken`, `no_role` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::MalformedRequest(_)
            | Refusal::WrongIssuer { .. }
            | Refusal::Expired
            | Refusal::NoNkey
            | Refusal::BadNkey(_)
            | Refusal::NoNonce => "malformed",
            Refusal::BadProof(_) => "invalid_signature",
            Refusal::UnknownKey(_) | Refusal::Ambiguous(_) => "unknown",
            Refusal::RotatedAway { .. } | Refusal::Revoked { .. } => "revoked",
            Refusal::BrokenChain { .. } => "broken",
            Refusal::NoRole(_) => "no_role",
            Refusal::ChainsUnavailable(_) | Refusal::Issue(_) => "unavailable",
        }
    }
}

/// What the service decided about one request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Decision {
    /// Admitted with these roles.
    Admitted {
        /// The client's KEZ key.
        key: PublicKey,
        /// The role names granted.
        roles: Vec<String>,
        /// The server that asked (its id).
        server: String,
    },
    /// Refused; the response carries the reason.
    Refused {
        /// The client's KEZ key, once known.
        key: Option<PublicKey>,
        /// Why.
        reason: Refusal,
    },
    /// Not answered: the message could not be read as a request at all (not a JWT, not
    /// decryptable), so there is no server or user to address a response to.
    Dropped(String),
}

impl Decision {
    /// Whether the client was admitted.
    pub fn is_admitted(&self) -> bool {
        matches!(self, Decision::Admitted { .. })
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Admitted { key, roles, server } => {
                write!(
                    f,
                    "admitted {key} roles [{}] server {server}",
                    roles.join(", ")
                )
            }
            Decision::Refused { reason, .. } => write!(f, "refused ({}): {reason}", reason.kind()),
            Decision::Dropped(why) => write!(f, "dropped: {why}"),
        }
    }
}

/// The answer to one request: the bytes to publish on the reply subject, if any.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The response (a JWT, or an xkey box of one).
    pub payload: Option<Vec<u8>>,
    /// What was decided.
    pub decision: Decision,
    /// Whether the request was sealed with an xkey (and so is the response).
    pub sealed: bool,
}

/// Decides authorization requests: the issuer key, the optional xkey and the role
/// mapping. Sans-IO: chains and the time are handed in.
#[derive(Debug)]
pub struct Authorizer {
    issuer: Seed,
    issuer_account: Option<PublicNkey>,
    xkey: Option<XKeySeed>,
    roles: Roles,
}

impl Authorizer {
    /// An authorizer signing with the account key `issuer`: the `issuer` of the config
    /// mode `auth_callout` block, or in operator mode the account whose JWT carries the
    /// `authorization` settings.
    pub fn new(issuer: Seed, roles: Roles) -> Self {
        Self {
            issuer,
            issuer_account: None,
            xkey: None,
            roles,
        }
    }

    /// Operator mode with an account signing key as issuer: `account` is the account
    /// (the responses and user JWTs carry it as `issuer_account`).
    pub fn issuer_account(mut self, account: PublicNkey) -> Self {
        self.issuer_account = Some(account);
        self
    }

    /// Opens sealed requests and seals responses with this xkey.
    pub fn xkey(mut self, xkey: XKeySeed) -> Self {
        self.xkey = Some(xkey);
        self
    }

    /// Checks the keys: the issuer must be an account key, and so must the issuer account.
    pub fn validate(&self) -> Result<(), CalloutError> {
        if self.issuer.role() != Role::Account {
            return Err(CalloutError::Key {
                what: "issuer seed",
                message: format!(
                    "expected an account (SA…) seed, found a {} seed",
                    self.issuer.role()
                ),
            });
        }
        if let Some(account) = &self.issuer_account {
            if account.role() != Role::Account {
                return Err(CalloutError::Key {
                    what: "issuer account",
                    message: format!(
                        "expected an account (A…) key, found a {} key",
                        account.role()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The issuer's public key.
    pub fn issuer_key(&self) -> PublicNkey {
        self.issuer.public_key()
    }

    /// The role mapping.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Answers one request: `payload` as received, `xkey_header` the value of the
    /// `Nats-Server-Xkey` header if present, `chains` the sigchains, `now` Unix seconds.
    pub fn respond(
        &self,
        payload: &[u8],
        xkey_header: Option<&str>,
        chains: &ChainSet,
        now: i64,
    ) -> Reply {
        self.respond_with(payload, xkey_header, now, |_| Ok(chains.clone()))
    }

    /// [`Authorizer::respond`], with the chains loaded only once the client's proof has
    /// checked out (so unauthenticated requests cost no disk reads).
    pub fn respond_with<F>(
        &self,
        payload: &[u8],
        xkey_header: Option<&str>,
        now: i64,
        chains: F,
    ) -> Reply
    where
        F: FnOnce(&PublicKey) -> Result<ChainSet, String>,
    {
        let sealed = xkey_header.is_some_and(|h| !h.trim().is_empty());
        let drop = |why: &str| Reply {
            payload: None,
            decision: Decision::Dropped(why.to_string()),
            sealed,
        };
        // 1. Encryption.
        let sender = xkey_header.map(str::trim).filter(|h| !h.is_empty());
        let opened;
        let plain: &[u8] =
            match (sender, &self.xkey) {
                (Some(_), None) => return drop(
                    "the request is encrypted (Nats-Server-Xkey) but no xkey seed is configured",
                ),
                (Some(sender), Some(xkey)) => match xkey.open(payload, sender) {
                    Some(bytes) => {
                        opened = bytes;
                        &opened
                    }
                    None => return drop("the encrypted request does not open with the xkey seed"),
                },
                (None, _) => payload,
            };
        // 2. The request.
        let Ok(text) = std::str::from_utf8(plain) else {
            return drop("the request is not UTF-8");
        };
        let text = text.trim();
        let Some((request, verified)) = decode_request(text) else {
            return drop("the request is not an authorization request JWT");
        };
        let answer = |decision: Decision, jwt: &str| {
            let error = match &decision {
                Decision::Refused { reason, .. } => reason.to_string(),
                _ => String::new(),
            };
            match self.response(&request, jwt, &error, now) {
                Ok(token) => {
                    let bytes = match sender {
                        Some(sender) => match self
                            .xkey
                            .as_ref()
                            .and_then(|x| x.seal(token.as_bytes(), sender))
                        {
                            Some(sealed) => sealed,
                            None => {
                                return drop("the response cannot be sealed to the server's xkey")
                            }
                        },
                        None => token.into_bytes(),
                    };
                    Reply {
                        payload: Some(bytes),
                        decision,
                        sealed,
                    }
                }
                Err(e) => drop(&format!("the response cannot be signed: {e}")),
            }
        };
        let refuse =
            |key: Option<PublicKey>, reason: Refusal| answer(Decision::Refused { key, reason }, "");
        if let Err(why) = verified {
            return refuse(None, Refusal::MalformedRequest(why));
        }
        let issuer = self.issuer.public_key().to_string();
        let account = self.issuer_account.map(|a| a.to_string());
        if request.data.subject != issuer && Some(&request.data.subject) != account.as_ref() {
            return refuse(
                None,
                Refusal::WrongIssuer {
                    found: request.data.subject.clone(),
                },
            );
        }
        if request.data.expires != 0 && request.data.expires.saturating_add(CLOCK_SKEW) < now {
            return refuse(None, Refusal::Expired);
        }
        if PublicNkey::parse_role(&request.nats.user_nkey, Role::User).is_err() {
            return refuse(
                None,
                Refusal::MalformedRequest("user_nkey is not a user public key".into()),
            );
        }
        // 3. The client's proof.
        let key = match client_key(&request) {
            Ok(key) => key,
            Err(None) => return refuse(None, Refusal::NoNkey),
            Err(Some(why)) => return refuse(None, Refusal::BadNkey(why)),
        };
        match check_proof(&request, &key) {
            Ok(()) => {}
            Err(ProofProblem::Missing) => return refuse(Some(key), Refusal::NoNonce),
            Err(ProofProblem::Invalid) => return refuse(Some(key), Refusal::BadProof(key)),
        }
        // 4. The chains.
        let chains = match chains(&key) {
            Ok(chains) => chains,
            Err(e) => return refuse(Some(key), Refusal::ChainsUnavailable(e)),
        };
        let chain = match chains.standing(&key) {
            Standing::Primary(chain) | Standing::Device(chain) => chain,
            Standing::RotatedAway(source) => {
                let chain = source.to_string();
                return refuse(Some(key), Refusal::RotatedAway { key, chain });
            }
            Standing::Revoked(source) => {
                let chain = source.to_string();
                return refuse(Some(key), Refusal::Revoked { key, chain });
            }
            Standing::Broken { source, error } => {
                let (chain, error) = (source.to_string(), error.to_string());
                return refuse(Some(key), Refusal::BrokenChain { key, chain, error });
            }
            Standing::Ambiguous => return refuse(Some(key), Refusal::Ambiguous(key)),
            _ => return refuse(Some(key), Refusal::UnknownKey(key)),
        };
        // 5. Roles and the user JWT.
        let Some(grant) = self.roles.grant(&key, chain) else {
            return refuse(Some(key), Refusal::NoRole(key));
        };
        let user = match self.user_jwt(&request, &key, &grant, now) {
            Ok(user) => user,
            Err(e) => return refuse(Some(key), Refusal::Issue(e)),
        };
        answer(
            Decision::Admitted {
                key,
                roles: grant.roles,
                server: request.nats.server.id.clone(),
            },
            &user,
        )
    }

    fn user_jwt(
        &self,
        request: &AuthorizationRequestClaims,
        key: &PublicKey,
        grant: &roles::Grant,
        now: i64,
    ) -> Result<String, String> {
        let mut claims = UserClaims::new(request.nats.user_nkey.clone());
        claims.data.name = grant.name.clone().unwrap_or_else(|| key.to_string());
        claims.data.audience = self.roles.account().to_string();
        let ttl = i64::try_from(self.roles.user_ttl().as_secs()).unwrap_or(i64::MAX);
        if ttl > 0 {
            claims.data.expires = now.saturating_add(ttl);
        }
        claims.nats.permissions = grant.permissions.clone();
        if let Some(account) = &self.issuer_account {
            claims.nats.issuer_account = account.to_string();
        }
        jwt::encode(&mut claims, &self.issuer, now).map_err(|e| e.to_string())
    }

    fn response(
        &self,
        request: &AuthorizationRequestClaims,
        user_jwt: &str,
        error: &str,
        now: i64,
    ) -> Result<String, jwt::JwtError> {
        let mut claims = AuthorizationResponseClaims::default();
        claims.data.subject = request.nats.user_nkey.clone();
        claims.data.audience = request.nats.server.id.clone();
        claims.nats.jwt = user_jwt.to_string();
        claims.nats.error = error.to_string();
        if let Some(account) = &self.issuer_account {
            claims.nats.issuer_account = account.to_string();
        }
        claims.nats.generic.claim_type = AUTHORIZATION_RESPONSE_TYPE.to_string();
        claims.nats.generic.version = VERSION;
        sign(&mut claims, |c| &mut c.data, &self.issuer, now)
    }
}

/// Signs claims as nats-io/jwt's `ClaimsData.encode` does: `iss`, `iat`, `jti` (over the
/// registered claims), Go's JSON, `header "." payload` signed with Ed25519.
fn sign<T: serde::Serialize>(
    claims: &mut T,
    data: fn(&mut T) -> &mut ClaimsData,
    signer: &Seed,
    issued_at: i64,
) -> Result<String, jwt::JwtError> {
    {
        let data = data(claims);
        data.issuer = signer.public_key().to_string();
        data.issued_at = issued_at;
        data.id = jwt::jti(data);
    }
    let payload = gojson::to_vec(claims).map_err(|e| jwt::JwtError::Encode(e.to_string()))?;
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

/// Signs an authorization request as nats-server does (`iss` the server's `N` key, `aud`
/// [`crate::claims::AUTHORIZATION_REQUEST_AUDIENCE`] left to the caller); for tests and
/// tools that stand in for a server.
pub fn encode_request(
    claims: &mut AuthorizationRequestClaims,
    server: &Seed,
    issued_at: i64,
) -> Result<String, jwt::JwtError> {
    if server.role() != Role::Server {
        return Err(jwt::JwtError::Encode(format!(
            "authorization requests are signed by server keys, not {} keys",
            server.role()
        )));
    }
    claims.nats.generic.claim_type = AUTHORIZATION_REQUEST_TYPE.to_string();
    claims.nats.generic.version = VERSION;
    sign(claims, |c| &mut c.data, server, issued_at)
}

/// Decodes and verifies an authorization response as nats-server does: signed by the
/// account key in `iss`, of type `authorization_response`. For tests and tools.
pub fn decode_response(text: &str) -> Result<AuthorizationResponseClaims, String> {
    let (jwt, claims) =
        decode_typed::<AuthorizationResponseClaims>(text, AUTHORIZATION_RESPONSE_TYPE)?;
    verify_issuer(&jwt, text, Role::Account)?;
    Ok(claims)
}

fn decode_typed<C: serde::de::DeserializeOwned>(
    text: &str,
    claim_type: &str,
) -> Result<(Jwt, C), String> {
    let jwt = Jwt::decode_v2(text).map_err(|e| e.to_string())?;
    if jwt.claim_type_text() != Some(claim_type) {
        return Err(format!(
            "expected {claim_type} claims, found {}",
            jwt.claim_type_text().unwrap_or("none")
        ));
    }
    let claims = serde_json::from_value(Value::Object(jwt.payload().clone()))
        .map_err(|e| format!("claims do not decode: {e}"))?;
    Ok((jwt, claims))
}

/// Checks that `iss` is a key of `role` and signed `header "." payload` (v2 signing,
/// which [`Jwt::verify`] applies only to the claim types [`crate::claims::ClaimType`]
/// names).
fn verify_issuer(jwt: &Jwt, text: &str, role: Role) -> Result<PublicNkey, String> {
    let issuer = jwt.issuer().map_err(|e| e.to_string())?;
    if issuer.role() != role {
        return Err(format!(
            "iss is a {} key, expected a {role} key",
            issuer.role()
        ));
    }
    let (input, signature) = text
        .rsplit_once('.')
        .ok_or_else(|| "not a JWT".to_string())?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not base64url".to_string())?;
    if !issuer.verify(input.as_bytes(), &signature) {
        return Err("the signature does not verify with iss".into());
    }
    Ok(issuer)
}

/// The request's claims, and whether its server signature verified. `None` when the
/// text is not an authorization request at all.
fn decode_request(text: &str) -> Option<(AuthorizationRequestClaims, Result<(), String>)> {
    let (jwt, claims) =
        decode_typed::<AuthorizationRequestClaims>(text, AUTHORIZATION_REQUEST_TYPE).ok()?;
    if claims.nats.user_nkey.is_empty() || claims.nats.server.id.is_empty() {
        return None;
    }
    let verified = verify_issuer(&jwt, text, Role::Server).map(|_| ());
    Some((claims, verified))
}

/// The client's KEZ key from `connect_opts.nkey`: `Err(None)` when there is none,
/// `Err(Some(why))` when it is not a usable Ed25519 user key.
fn client_key(request: &AuthorizationRequestClaims) -> Result<PublicKey, Option<String>> {
    let nkey = &request.nats.connect_options.nkey;
    if nkey.is_empty() {
        return Err(None);
    }
    let nkey = PublicNkey::parse_role(nkey, Role::User).map_err(|e| Some(e.to_string()))?;
    PublicKey::from_bytes(Algorithm::Ed25519, nkey.as_bytes()).map_err(|e| Some(e.to_string()))
}

/// Why a proof does not hold.
enum ProofProblem {
    /// No nonce or no signature.
    Missing,
    /// The signature does not verify.
    Invalid,
}

fn check_proof(request: &AuthorizationRequestClaims, key: &PublicKey) -> Result<(), ProofProblem> {
    let nonce = &request.nats.client_information.nonce;
    let signed = &request.nats.connect_options.signed_nonce;
    if nonce.is_empty() || signed.is_empty() {
        return Err(ProofProblem::Missing);
    }
    // nats-server reads base64url without padding, then standard base64 (auth.go).
    let bytes = URL_SAFE_NO_PAD
        .decode(signed)
        .or_else(|_| STANDARD.decode(signed))
        .map_err(|_| ProofProblem::Invalid)?;
    let signature: [u8; 64] = bytes.try_into().map_err(|_| ProofProblem::Invalid)?;
    key.verify_raw(nonce.as_bytes(), &Signature(signature))
        .map_err(|_| ProofProblem::Invalid)
}

#[cfg(test)]
mod tests;
