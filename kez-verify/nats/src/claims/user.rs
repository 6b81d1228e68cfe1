//! User JWTs (`v2/user_claims.go`).

use serde::{Deserialize, Serialize};

use super::{impl_claims, ClaimType, ClaimsData, GenericFields, UserPermissionLimits};

/// The `nats` object of a user JWT (`jwt.User`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// Permissions and limits.
    #[serde(flatten)]
    pub permissions: UserPermissionLimits,
    /// `issuer_account`: the account, when a signing key of it signed this JWT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// A user JWT's claims (`jwt.UserClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserClaims {
    /// Registered claims.
    #[serde(flatten)]
    pub data: ClaimsData,
    /// `nats`.
    pub nats: User,
}

impl_claims!(UserClaims, ClaimType::User);

impl UserClaims {
    /// Claims for user `subject`, unlimited NATS limits (`jwt.NewUserClaims`).
    pub fn new(subject: impl Into<String>) -> Self {
        let mut claims = Self::default();
        claims.data.subject = subject.into();
        claims.nats.permissions.limits.nats = super::NatsLimits::unlimited();
        claims
    }
}
