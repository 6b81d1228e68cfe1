//! The checks of one JWT on its own: decoding, header, version, type, claims, issuer
//! and subject roles, signature, `jti`, validity period, unknown members.

use serde_json::Value;

use super::findings::Code;
use super::inputs::Context;
use super::lint;
use crate::claims::{AccountClaims, ClaimType, Claims, OperatorClaims, UserClaims, VERSION};
use crate::jwt::{self, Algorithm, Jwt};
use crate::nkey::{PublicNkey, Role};

/// A JWT that decoded, with its claims.
#[derive(Debug, Clone)]
pub(crate) struct Node<C> {
    /// Where it came from, for findings.
    pub(crate) location: String,
    /// The claims.
    pub(crate) claims: C,
    /// Whether the signature verified with `iss`.
    pub(crate) signature_ok: bool,
}

impl<C: Claims> Node<C> {
    pub(crate) fn subject(&self) -> &str {
        &self.claims.data().subject
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.claims.data().issuer
    }

    /// `type "name" (KEY…)` for messages.
    pub(crate) fn describe(&self) -> String {
        describe(C::TYPE, &self.claims.data().name, self.subject())
    }
}

pub(crate) fn describe(kind: ClaimType, name: &str, subject: &str) -> String {
    let short: String = subject.chars().take(12).collect();
    format!("{kind} {name:?} ({short}…)")
}

/// One decoded JWT of a known type. Short-lived (moved into the context at once), so
/// the size difference between variants does not matter.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Entity {
    Operator(Node<OperatorClaims>),
    Account(Node<AccountClaims>),
    User(Node<UserClaims>),
}

/// Where the checks of one JWT report: the [`Context`], or a [`Scratch`] list when
/// JWTs are examined ahead of the walk on several threads.
pub(crate) trait Sink {
    /// The time to check validity against.
    fn now(&self) -> i64;
    /// Records a finding.
    fn push(&mut self, code: Code, location: &str, message: impl Into<String>);
}

impl Sink for Context {
    fn now(&self) -> i64 {
        self.now
    }

    fn push(&mut self, code: Code, location: &str, message: impl Into<String>) {
        Context::push(self, code, location, message);
    }
}

/// The findings of one JWT examined on its own, without a location: [`examine`]
/// depends only on the text and the time, so they are the findings the context would
/// get, in the same order, once located.
pub(crate) struct Scratch {
    pub(crate) now: i64,
    pub(crate) findings: Vec<(Code, String)>,
}

impl Sink for Scratch {
    fn now(&self) -> i64 {
        self.now
    }

    fn push(&mut self, code: Code, _location: &str, message: impl Into<String>) {
        self.findings.push((code, message.into()));
    }
}

impl Entity {
    /// The same entity, found at `location`.
    pub(crate) fn located(self, location: &str) -> Self {
        match self {
            Entity::Operator(node) => Entity::Operator(node.located(location)),
            Entity::Account(node) => Entity::Account(node.located(location)),
            Entity::User(node) => Entity::User(node.located(location)),
        }
    }
}

impl<C> Node<C> {
    fn located(mut self, location: &str) -> Self {
        location.clone_into(&mut self.location);
        self
    }
}

/// Examines the JWT `text` found at `location`; reports what is wrong and returns the
/// decoded entity when its type is known and its claims decode.
pub(crate) fn examine(ctx: &mut impl Sink, location: &str, text: &str) -> Option<Entity> {
    examine_decoded(ctx, location, Jwt::decode(text.trim()))
}

/// [`examine`] of a JWT already decoded (or not).
pub(crate) fn examine_decoded(
    ctx: &mut impl Sink,
    location: &str,
    decoded: Result<Jwt, crate::jwt::JwtError>,
) -> Option<Entity> {
    let jwt = match decoded {
        Ok(jwt) => jwt,
        Err(e) => {
            ctx.push(Code::JwtMalformed, location, e.to_string());
            return None;
        }
    };
    let v1 = jwt.is_v1();
    if v1 {
        let why = if jwt.algorithm() == Algorithm::LegacyEd25519 {
            "type at the top of the claims, header alg \"ed25519\""
        } else {
            "type at the top of the claims"
        };
        ctx.push(
            Code::JwtV1,
            location,
            format!("legacy v1 JWT ({why}); its signature covers the payload segment only"),
        );
    } else if !jwt.header_is_canonical() {
        ctx.push(
            Code::JwtHeaderNonCanonical,
            location,
            format!("header is not exactly {}", jwt::HEADER_JSON),
        );
    }
    let Some(type_text) = jwt.claim_type_text() else {
        ctx.push(
            Code::JwtTypeMissing,
            location,
            "no nats.type (nor a v1 type): nats-io/jwt reads generic claims and checks the signature over the payload only",
        );
        return None;
    };
    let Some(kind) = ClaimType::parse(type_text) else {
        ctx.push(
            Code::JwtTypeOther,
            location,
            format!("claim type {type_text:?} is not checked"),
        );
        return None;
    };
    if !v1 && jwt.version() != VERSION {
        ctx.push(
            Code::JwtVersionUnsupported,
            location,
            format!(
                "nats.version is {} (0: absent); nats-io/jwt reads 2, and v1 claims with a top-level type",
                jwt.version()
            ),
        );
        return None;
    }
    lint::payload(ctx, location, kind, jwt.payload(), v1);
    match kind {
        ClaimType::Operator => {
            typed::<OperatorClaims>(ctx, location, &jwt, v1).map(Entity::Operator)
        }
        ClaimType::Account => typed::<AccountClaims>(ctx, location, &jwt, v1).map(Entity::Account),
        ClaimType::User => {
            let mut node = typed::<UserClaims>(ctx, location, &jwt, v1)?;
            if v1 && node.claims.nats.issuer_account.is_empty() {
                // v1 kept issuer_account at the top (nats-io/jwt v1 migration).
                if let Some(Value::String(account)) = jwt.payload().get("issuer_account") {
                    node.claims.nats.issuer_account = account.clone();
                }
            }
            Some(Entity::User(node))
        }
    }
}

fn typed<C: Claims>(ctx: &mut impl Sink, location: &str, jwt: &Jwt, v1: bool) -> Option<Node<C>> {
    let claims: C = match jwt.claims() {
        Ok(claims) => claims,
        Err(e) => {
            ctx.push(Code::JwtClaimsInvalid, location, e.to_string());
            return None;
        }
    };
    let what = describe(C::TYPE, &claims.data().name, &claims.data().subject);
    let mut signature_ok = false;
    match jwt.issuer() {
        Err(e) => ctx.push(Code::JwtIssuerInvalid, location, format!("{what}: {e}")),
        Ok(issuer) if !C::TYPE.issuer_roles().contains(&issuer.role()) => ctx.push(
            Code::JwtIssuerInvalid,
            location,
            format!("{what} is issued by a {} key", issuer.role()),
        ),
        Ok(issuer) => {
            signature_ok = jwt.verify_with(&issuer);
            if !signature_ok {
                ctx.push(
                    Code::JwtSignatureInvalid,
                    location,
                    format!("{what}: the signature does not verify with {issuer}"),
                );
            }
        }
    }
    if let Err(e) = PublicNkey::parse_role(&claims.data().subject, C::TYPE.subject_role()) {
        ctx.push(Code::JwtSubjectInvalid, location, format!("{what}: {e}"));
    }
    if !v1 && jwt::jti(claims.data()) != claims.data().id {
        ctx.push(
            Code::JwtIdMismatch,
            location,
            format!("{what}: jti is not the hash nats-io/jwt computes"),
        );
    }
    let data = claims.data();
    if data.expires > 0 && ctx.now() > data.expires {
        ctx.push(
            Code::JwtExpired,
            location,
            format!("{what} expired at {}", data.expires),
        );
    }
    if data.not_before > 0 && data.not_before > ctx.now() {
        ctx.push(
            Code::JwtNotYetValid,
            location,
            format!("{what} is not valid before {}", data.not_before),
        );
    }
    Some(Node {
        location: location.to_string(),
        claims,
        signature_ok,
    })
}

/// Whether `text` is a valid public key of `role`.
pub(crate) fn is_key(text: &str, role: Role) -> bool {
    PublicNkey::is_valid(text, role)
}
