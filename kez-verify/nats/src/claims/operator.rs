//! Operator JWTs (`v2/operator_claims.go`).

use serde::{Deserialize, Serialize};

use super::{impl_claims, is_false, ClaimType, ClaimsData, GenericFields};

/// The `nats` object of an operator JWT (`jwt.Operator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Operator {
    /// `signing_keys`: operator keys that may sign accounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
    /// `account_server_url`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    /// `operator_service_urls`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operator_service_urls: Vec<String>,
    /// `system_account`: the account the servers use for their own traffic.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// `assert_server_version`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    /// `strict_signing_key_usage`: accounts must be signed by a signing key.
    #[serde(skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An operator JWT's claims (`jwt.OperatorClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OperatorClaims {
    /// Registered claims.
    #[serde(flatten)]
    pub data: ClaimsData,
    /// `nats`.
    pub nats: Operator,
}

impl_claims!(OperatorClaims, ClaimType::Operator);

impl OperatorClaims {
    /// Claims for operator `subject` (`jwt.NewOperatorClaims`).
    pub fn new(subject: impl Into<String>) -> Self {
        let mut claims = Self::default();
        claims.data.subject = subject.into();
        claims
    }
}
