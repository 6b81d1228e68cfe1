//! Permissions and user limits (`v2/types.go`, `v2/user_claims.go`, `v2/account_claims.go`
//! for `NatsLimits`).

use serde::{Deserialize, Serialize};

use super::{is_false, is_zero, NO_LIMIT};

/// Subjects allowed and denied for publishing or subscribing (`jwt.Permission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Permission {
    /// `allow`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// `deny`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl Permission {
    /// Whether neither list has an entry (which, for a user, allows everything).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// Permission to answer requests received (`jwt.ResponsePermission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ResponsePermission {
    /// `max`: responses allowed per request.
    #[serde(rename = "max")]
    pub max_msgs: i64,
    /// `ttl`: how long the permission lasts, nanoseconds (a Go `time.Duration`).
    #[serde(rename = "ttl")]
    pub expires: i64,
}

/// `pub`, `sub` and `resp` (`jwt.Permissions`). `pub` and `sub` are always written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Permissions {
    /// `pub`.
    #[serde(rename = "pub")]
    pub publish: Permission,
    /// `sub`.
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    /// `resp`.
    #[serde(rename = "resp", skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponsePermission>,
}

/// A daily time window, `HH:MM:SS` (`jwt.TimeRange`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TimeRange {
    /// `start`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start: String,
    /// `end`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// Where and when a user may connect (`jwt.UserLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserLimits {
    /// `src`: allowed client networks (CIDR).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::cidr_list::deserialize"
    )]
    pub src: Vec<String>,
    /// `times`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    /// `times_location`: IANA time zone for `times`.
    #[serde(rename = "times_location", skip_serializing_if = "String::is_empty")]
    pub locale: String,
}

/// Subscription, data and payload limits (`jwt.NatsLimits`); `-1` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NatsLimits {
    /// `subs`.
    #[serde(skip_serializing_if = "is_zero")]
    pub subs: i64,
    /// `data`.
    #[serde(skip_serializing_if = "is_zero")]
    pub data: i64,
    /// `payload`.
    #[serde(skip_serializing_if = "is_zero")]
    pub payload: i64,
}

impl NatsLimits {
    /// All three unlimited (`-1`), as `NewUserClaims` and `NewAccountClaims` set them.
    pub fn unlimited() -> Self {
        Self {
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
        }
    }
}

/// `jwt.Limits`: user limits then NATS limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// `src`, `times`, `times_location`.
    #[serde(flatten)]
    pub user: UserLimits,
    /// `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub nats: NatsLimits,
}

/// What a user may do: the body of a user JWT and the template of a scoped signing key
/// (`jwt.UserPermissionLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserPermissionLimits {
    /// `pub`, `sub`, `resp`.
    #[serde(flatten)]
    pub permissions: Permissions,
    /// `src`, `times`, `times_location`, `subs`, `data`, `payload`.
    #[serde(flatten)]
    pub limits: Limits,
    /// `bearer_token`: connect without proving possession of the user key.
    #[serde(skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    /// `allowed_connection_types`: `STANDARD`, `WEBSOCKET`, `LEAFNODE`, `MQTT`, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// Whether nothing is set (Go's `UserPermissionLimits.Empty`): what a user issued by
    /// a scoped signing key must carry.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
