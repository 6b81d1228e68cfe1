//! The claims of NATS v2 JWTs, with the JSON names and field order of nats-io/jwt v2.
//!
//! Every JWT payload is [`ClaimsData`] (`aud`, `exp`, `jti`, `iat`, `iss`, `name`,
//! `nbf`, `sub`, upstream `v2/claims.go`) followed by a `nats` object whose last
//! members are [`GenericFields`] (`tags`, `type`, `version`). The `nats` objects are
//! [`Operator`] (`v2/operator_claims.go`), [`Account`] (`v2/account_claims.go`,
//! `v2/imports.go`, `v2/exports.go`, `v2/signingkeys.go`, `v2/revocation_list.go`) and
//! [`User`] (`v2/user_claims.go`, `v2/types.go`). Auth callout requests and responses
//! ([`AuthorizationRequestClaims`], [`AuthorizationResponseClaims`],
//! `v2/authorization_claims.go`) share the layout.
//!
//! Members are omitted when empty exactly where Go's `omitempty` omits them: zero
//! numbers, `false`, empty strings, lists and maps, but never structs — which is why
//! every user JWT carries `"pub":{},"sub":{}`. Decoding ignores unknown members, as
//! Go does; [`crate::check`] reports them.

mod account;
mod authorization;
mod exports;
mod operator;
mod permissions;
mod user;

pub use account::{
    Account, AccountClaims, AccountLimits, ExternalAuthorization, JetStreamLimits, MsgTrace,
    OperatorLimits, SigningKey, UserScope, WeightedMapping, USER_SCOPE_KIND,
};
pub use authorization::{
    AuthorizationRequest, AuthorizationRequestClaims, AuthorizationResponse,
    AuthorizationResponseClaims, ClientInformation, ClientTls, ConnectOptions, ServerId,
    AUTHORIZATION_REQUEST_AUDIENCE, AUTHORIZATION_REQUEST_TYPE, AUTHORIZATION_RESPONSE_TYPE,
};
pub use exports::{Export, ExportType, Import, ServiceLatency};
pub use operator::{Operator, OperatorClaims};
pub use permissions::{
    Limits, NatsLimits, Permission, Permissions, ResponsePermission, TimeRange, UserLimits,
    UserPermissionLimits,
};
pub use user::{User, UserClaims};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::nkey::Role;

/// `-1`: no limit (`jwt.NoLimit`).
pub const NO_LIMIT: i64 = -1;

/// The claims version this crate writes (`nats.version`).
pub const VERSION: i64 = 2;

pub(crate) fn is_zero(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

/// The registered claims every NATS JWT carries (`jwt.ClaimsData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClaimsData {
    /// `aud`.
    #[serde(rename = "aud", skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// `exp`: expiry, Unix seconds; 0 for none.
    #[serde(rename = "exp", skip_serializing_if = "is_zero")]
    pub expires: i64,
    /// `jti`: base32 of SHA-512/256 of these claims with `jti` empty ([`crate::jwt::jti`]).
    #[serde(rename = "jti", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `iat`: issue time, Unix seconds.
    #[serde(rename = "iat", skip_serializing_if = "is_zero")]
    pub issued_at: i64,
    /// `iss`: the signer's public nkey.
    #[serde(rename = "iss", skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// `name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `nbf`: not valid before, Unix seconds; 0 for none.
    #[serde(rename = "nbf", skip_serializing_if = "is_zero")]
    pub not_before: i64,
    /// `sub`: the subject's public nkey.
    #[serde(rename = "sub", skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

/// The last members of every `nats` object (`jwt.GenericFields`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GenericFields {
    /// `tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `type`: `operator`, `account`, `user`, …
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub claim_type: String,
    /// `version`: 2.
    #[serde(skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// The kinds of claims this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimType {
    /// `operator`.
    Operator,
    /// `account`.
    Account,
    /// `user`.
    User,
}

impl ClaimType {
    /// The `nats.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimType::Operator => "operator",
            ClaimType::Account => "account",
            ClaimType::User => "user",
        }
    }

    /// Parses a `nats.type` value this crate handles.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "operator" => Some(ClaimType::Operator),
            "account" => Some(ClaimType::Account),
            "user" => Some(ClaimType::User),
            _ => None,
        }
    }

    /// The roles whose keys may sign claims of this type (`ExpectedPrefixes`).
    pub fn issuer_roles(self) -> &'static [Role] {
        match self {
            ClaimType::Operator => &[Role::Operator],
            ClaimType::Account => &[Role::Account, Role::Operator],
            ClaimType::User => &[Role::Account],
        }
    }

    /// The role of the subject's key.
    pub fn subject_role(self) -> Role {
        match self {
            ClaimType::Operator => Role::Operator,
            ClaimType::Account => Role::Account,
            ClaimType::User => Role::User,
        }
    }
}

impl std::fmt::Display for ClaimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A complete claims set: registered claims plus one `nats` object.
pub trait Claims: Serialize + DeserializeOwned + Clone {
    /// The `nats.type` of these claims.
    const TYPE: ClaimType;
    /// The registered claims.
    fn data(&self) -> &ClaimsData;
    /// The registered claims, mutably.
    fn data_mut(&mut self) -> &mut ClaimsData;
    /// The generic fields of the `nats` object, mutably.
    fn generic_mut(&mut self) -> &mut GenericFields;
}

macro_rules! impl_claims {
    ($ty:ty, $kind:expr) => {
        impl $crate::claims::Claims for $ty {
            const TYPE: $crate::claims::ClaimType = $kind;
            fn data(&self) -> &$crate::claims::ClaimsData {
                &self.data
            }
            fn data_mut(&mut self) -> &mut $crate::claims::ClaimsData {
                &mut self.data
            }
            fn generic_mut(&mut self) -> &mut $crate::claims::GenericFields {
                &mut self.nats.generic
            }
        }
    };
}
pub(crate) use impl_claims;

/// `CIDRList`: written as a list; read from a list or a comma-separated string.
pub(crate) mod cidr_list {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Either::deserialize(d)? {
            Either::List(list) => list,
            Either::Text(text) => {
                let mut out: Vec<String> = Vec::new();
                for item in text.to_lowercase().split(',') {
                    let item = item.trim().to_string();
                    if !item.is_empty() && !out.contains(&item) {
                        out.push(item);
                    }
                }
                out
            }
        })
    }
}
