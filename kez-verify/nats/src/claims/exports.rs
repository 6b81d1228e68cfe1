//! Imports and exports of accounts (`v2/imports.go`, `v2/exports.go`, `v2/types.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{is_false, is_zero};

/// `stream` or `service` (`jwt.ExportType`; `unknown` is never written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    /// Messages flow from the exporter to importers.
    Stream,
    /// Importers send requests; the exporter answers.
    Service,
}

/// Latency tracking of a service export (`jwt.ServiceLatency`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServiceLatency {
    /// `sampling`: a percentage, or `"headers"`.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub sampling: serde_json::Value,
    /// `results`: the subject latency reports go to.
    pub results: String,
}

/// One export (`jwt.Export`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Export {
    /// `name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `subject`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `type`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub export_type: Option<ExportType>,
    /// `token_req`: importers need an activation token.
    #[serde(skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// `revocations`: activation revocations, public key to Unix seconds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    /// `response_type`: `Singleton`, `Stream` or `Chunked`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// `response_threshold`, nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    /// `service_latency`.
    #[serde(rename = "service_latency", skip_serializing_if = "Option::is_none")]
    pub latency: Option<ServiceLatency>,
    /// `account_token_position`.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub account_token_position: u64,
    /// `advertise`.
    #[serde(skip_serializing_if = "is_false")]
    pub advertise: bool,
    /// `allow_trace`.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// `description`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `info_url`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// One import (`jwt.Import`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Import {
    /// `name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `subject`, from the publisher's point of view.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `account`: the exporting account's public key.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// `token`: an activation token (JWT or URL).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `to` (deprecated upstream in favour of `local_subject`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// `local_subject`: where the import appears in this account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    /// `type`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub import_type: Option<ExportType>,
    /// `share`.
    #[serde(skip_serializing_if = "is_false")]
    pub share: bool,
    /// `allow_trace`.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}
