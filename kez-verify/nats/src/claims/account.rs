//! Account JWTs (`v2/account_claims.go`, `v2/signingkeys.go`, `v2/revocation_list.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    impl_claims, is_false, is_zero, ClaimType, ClaimsData, Export, GenericFields, Import,
    NatsLimits, Permissions, UserPermissionLimits, NO_LIMIT,
};

/// The `kind` of a scoped user signing key (`jwt.UserScopeType`).
pub const USER_SCOPE_KIND: &str = "user_scope";

/// Account-level limits (`jwt.AccountLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountLimits {
    /// `imports`.
    #[serde(skip_serializing_if = "is_zero")]
    pub imports: i64,
    /// `exports`.
    #[serde(skip_serializing_if = "is_zero")]
    pub exports: i64,
    /// `wildcards`: wildcard exports allowed.
    #[serde(rename = "wildcards", skip_serializing_if = "is_false")]
    pub wildcard_exports: bool,
    /// `disallow_bearer`: user JWTs may not be bearer tokens.
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// `conn`: active connections.
    #[serde(skip_serializing_if = "is_zero")]
    pub conn: i64,
    /// `leaf`: leaf node connections.
    #[serde(skip_serializing_if = "is_zero")]
    pub leaf: i64,
}

/// JetStream limits (`jwt.JetStreamLimits`); memory and disk 0 mean JetStream is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct JetStreamLimits {
    /// `mem_storage`, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    /// `disk_storage`, bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    /// `streams`.
    #[serde(skip_serializing_if = "is_zero")]
    pub streams: i64,
    /// `consumer`.
    #[serde(skip_serializing_if = "is_zero")]
    pub consumer: i64,
    /// `max_ack_pending`.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// `mem_max_stream_bytes`.
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    /// `disk_max_stream_bytes`.
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    /// `max_bytes_required`.
    #[serde(skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

/// All limits of an account (`jwt.OperatorLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OperatorLimits {
    /// `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub nats: NatsLimits,
    /// `imports`, `exports`, `wildcards`, `disallow_bearer`, `conn`, `leaf`.
    #[serde(flatten)]
    pub account: AccountLimits,
    /// JetStream, when not tiered.
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// `tiered_limits`: JetStream limits per tier (`R1`, `R3`).
    #[serde(rename = "tiered_limits", skip_serializing_if = "BTreeMap::is_empty")]
    pub tiered: BTreeMap<String, JetStreamLimits>,
}

/// A weighted subject mapping (`jwt.WeightedMapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WeightedMapping {
    /// `subject`.
    pub subject: String,
    /// `weight`, percent.
    #[serde(skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// `cluster`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

/// Auth callout settings (`jwt.ExternalAuthorization`). Always written, as `{}` when off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExternalAuthorization {
    /// `auth_users`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_users: Vec<String>,
    /// `allowed_accounts`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_accounts: Vec<String>,
    /// `xkey`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

/// Message tracing (`jwt.MsgTrace`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MsgTrace {
    /// `dest`.
    #[serde(rename = "dest", skip_serializing_if = "String::is_empty")]
    pub destination: String,
    /// `sampling`.
    #[serde(skip_serializing_if = "is_zero")]
    pub sampling: i64,
}

/// A scoped signing key: users it signs get the template's permissions and limits, and
/// must carry none of their own (`jwt.UserScope`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserScope {
    /// `kind`: [`USER_SCOPE_KIND`].
    pub kind: String,
    /// `key`: the signing key, an account public key.
    pub key: String,
    /// `role`: a name for people.
    pub role: String,
    /// `template`.
    pub template: UserPermissionLimits,
    /// `description`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// One entry of an account's `signing_keys`: a bare key or a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SigningKey {
    /// A signing key without a scope.
    Key(String),
    /// A scoped signing key.
    Scoped(Box<UserScope>),
}

impl SigningKey {
    /// The signing key's public key text.
    pub fn key(&self) -> &str {
        match self {
            SigningKey::Key(key) => key,
            SigningKey::Scoped(scope) => &scope.key,
        }
    }

    /// The scope, if any.
    pub fn scope(&self) -> Option<&UserScope> {
        match self {
            SigningKey::Key(_) => None,
            SigningKey::Scoped(scope) => Some(scope),
        }
    }
}

/// The `nats` object of an account JWT (`jwt.Account`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Account {
    /// `imports`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    /// `exports`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    /// `limits`.
    pub limits: OperatorLimits,
    /// `signing_keys`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<SigningKey>,
    /// `revocations`: user public key (or `*`) to Unix seconds; user JWTs issued at or
    /// before that time are refused.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    /// `default_permissions`: for users whose JWT sets none.
    pub default_permissions: Permissions,
    /// `mappings`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mappings: BTreeMap<String, Vec<WeightedMapping>>,
    /// `authorization`.
    pub authorization: ExternalAuthorization,
    /// `trace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<MsgTrace>,
    /// `cluster_traffic`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_traffic: String,
    /// `description`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `info_url`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl Account {
    /// The signing key entry for `key`, if the account lists it.
    pub fn signing_key(&self, key: &str) -> Option<&SigningKey> {
        self.signing_keys.iter().find(|k| k.key() == key)
    }

    /// Whether nats-server refuses a user JWT for `subject` issued at `issued_at`: the
    /// revocation time of the subject, or of `*`, is at or after it
    /// (nats-server `isRevoked` in `server/accounts.go`).
    pub fn is_revoked(&self, subject: &str, issued_at: i64) -> bool {
        [subject, "*"]
            .iter()
            .any(|k| self.revocations.get(*k).is_some_and(|t| *t >= issued_at))
    }
}

/// An account JWT's claims (`jwt.AccountClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountClaims {
    /// Registered claims.
    #[serde(flatten)]
    pub data: ClaimsData,
    /// `nats`.
    pub nats: Account,
}

impl_claims!(AccountClaims, ClaimType::Account);

impl AccountClaims {
    /// Claims for account `subject` with every limit unlimited and JetStream off
    /// (`jwt.NewAccountClaims`).
    pub fn new(subject: impl Into<String>) -> Self {
        let mut claims = Self::default();
        claims.data.subject = subject.into();
        claims.nats.limits.nats = NatsLimits::unlimited();
        claims.nats.limits.account = AccountLimits {
            imports: NO_LIMIT,
            exports: NO_LIMIT,
            wildcard_exports: true,
            disallow_bearer: false,
            conn: NO_LIMIT,
            leaf: NO_LIMIT,
        };
        claims
    }
}
