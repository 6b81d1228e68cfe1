//! Auth callout requests and responses (`v2/authorization_claims.go`): the claims
//! nats-server sends to an auth callout service on `$SYS.REQ.USER.AUTH`, signed by the
//! server's `N` key, and the claims the service answers with, signed by an account key.
//!
//! These are not [`super::Claims`]: nats-io/jwt signs and decodes them like the others
//! (`header "." payload`, `nats.version` 2), but [`super::ClaimType`] names only the
//! operator, account and user claims [`crate::check`] follows. [`crate::callout`]
//! encodes and verifies them.

use serde::{Deserialize, Serialize};

use super::{ClaimsData, GenericFields};

/// `nats.type` of an authorization request (`jwt.AuthorizationRequestClaim`).
pub const AUTHORIZATION_REQUEST_TYPE: &str = "authorization_request";
/// `nats.type` of an authorization response (`jwt.AuthorizationResponseClaim`).
pub const AUTHORIZATION_RESPONSE_TYPE: &str = "authorization_response";
/// The `aud` nats-server gives every authorization request (`AuthRequestSubject`).
pub const AUTHORIZATION_REQUEST_AUDIENCE: &str = "nats-authorization-request";

/// The server asking (`jwt.ServerID`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerId {
    /// `name`.
    pub name: String,
    /// `host`.
    pub host: String,
    /// `id`: the server's public `N` key; the response's `aud` must be this.
    pub id: String,
    /// `version`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `cluster`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// `tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `xkey`: the server's curve key, when it encrypts requests.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

/// The connecting client (`jwt.ClientInformation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientInformation {
    /// `host`: the client's address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// `id`: the server's connection id.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub id: u64,
    /// `user`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `name_tag`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// `kind`: `Client`, `Leafnode`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// `type`: `nats`, `websocket`, `mqtt`, …
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub client_type: String,
    /// `mqtt_id`.
    #[serde(rename = "mqtt_id", skip_serializing_if = "String::is_empty")]
    pub mqtt: String,
    /// `nonce`: the nonce the server sent the client, set when the client signed it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// What the client sent in `CONNECT` (`jwt.ConnectOptions`). `Debug` leaves out the
/// password and token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// `jwt`: the user JWT, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    /// `nkey`: the client's public user key, if it connected with one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nkey: String,
    /// `sig`: the client's signature over the nonce, base64url (or standard base64).
    #[serde(rename = "sig", skip_serializing_if = "String::is_empty")]
    pub signed_nonce: String,
    /// `auth_token`.
    #[serde(rename = "auth_token", skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `user`.
    #[serde(rename = "user", skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// `pass`.
    #[serde(rename = "pass", skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `lang`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// `version`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `protocol`: always written.
    pub protocol: i64,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("ConnectOptions")
            .field("jwt", &self.jwt)
            .field("nkey", &self.nkey)
            .field("sig", &self.signed_nonce)
            .field("auth_token", &redact(&self.token))
            .field("user", &self.username)
            .field("pass", &redact(&self.password))
            .field("name", &self.name)
            .field("lang", &self.lang)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// TLS state of the client connection (`jwt.ClientTLS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientTls {
    /// `version`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `cipher`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cipher: String,
    /// `certs`: PEM peer certificates, when not verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<String>,
    /// `verified_chains`: PEM chains, the client's certificate first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified_chains: Vec<Vec<String>>,
    /// `server_name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
}

/// The `nats` object of an authorization request (`jwt.AuthorizationRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// `server_id`.
    #[serde(rename = "server_id")]
    pub server: ServerId,
    /// `user_nkey`: a user key the server generated for this connection; the response
    /// and the user JWT in it must name it as `sub` (not the client's own key).
    pub user_nkey: String,
    /// `client_info`.
    #[serde(rename = "client_info")]
    pub client_information: ClientInformation,
    /// `connect_opts`.
    #[serde(rename = "connect_opts")]
    pub connect_options: ConnectOptions,
    /// `client_tls`.
    #[serde(rename = "client_tls", skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// `request_nonce`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request_nonce: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An authorization request's claims (`jwt.AuthorizationRequestClaims`): `iss` is the
/// server's `N` key, `sub` the callout issuer (config mode) or account (operator mode),
/// `aud` [`AUTHORIZATION_REQUEST_AUDIENCE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationRequestClaims {
    /// Registered claims.
    #[serde(flatten)]
    pub data: ClaimsData,
    /// `nats`.
    pub nats: AuthorizationRequest,
}

/// The `nats` object of an authorization response (`jwt.AuthorizationResponse`):
/// exactly one of `jwt` and `error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationResponse {
    /// `jwt`: the user JWT admitting the client.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    /// `error`: why the client is refused.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// `issuer_account`: the account, when a signing key of it signed the response.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// `tags`, `type`, `version`.
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An authorization response's claims (`jwt.AuthorizationResponseClaims`): `sub` the
/// request's `user_nkey`, `aud` the server's id, signed by an account key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AuthorizationResponseClaims {
    /// Registered claims.
    #[serde(flatten)]
    pub data: ClaimsData,
    /// `nats`.
    pub nats: AuthorizationResponse,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_follow_nats_io_jwt() {
        let json = r#"{"aud":"nats-authorization-request","exp":1700000002,"iat":1700000000,
            "iss":"NSERVER","sub":"AISSUER","nats":{"server_id":{"name":"n","host":"127.0.0.1",
            "id":"NSERVER","version":"2.15.1","xkey":"XSERVER"},"user_nkey":"UGEN",
            "client_info":{"host":"127.0.0.1","id":7,"kind":"Client","type":"nats","nonce":"abc"},
            "connect_opts":{"nkey":"UCLIENT","sig":"c2ln","pass":"hunter2","protocol":1},
            "type":"authorization_request","version":2}}"#;
        let claims: AuthorizationRequestClaims = serde_json::from_str(json).unwrap();
        assert_eq!(claims.data.audience, AUTHORIZATION_REQUEST_AUDIENCE);
        assert_eq!(claims.nats.server.id, "NSERVER");
        assert_eq!(claims.nats.server.xkey, "XSERVER");
        assert_eq!(claims.nats.user_nkey, "UGEN");
        assert_eq!(claims.nats.client_information.nonce, "abc");
        assert_eq!(claims.nats.client_information.id, 7);
        assert_eq!(claims.nats.connect_options.nkey, "UCLIENT");
        assert_eq!(claims.nats.connect_options.signed_nonce, "c2ln");
        assert_eq!(claims.nats.generic.claim_type, AUTHORIZATION_REQUEST_TYPE);
        let debug = format!("{claims:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn response_omits_empty_members_like_go() {
        let mut response = AuthorizationResponseClaims::default();
        response.data.subject = "UGEN".into();
        response.data.audience = "NSERVER".into();
        response.nats.error = "no".into();
        response.nats.generic.claim_type = AUTHORIZATION_RESPONSE_TYPE.into();
        response.nats.generic.version = 2;
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"aud":"NSERVER","sub":"UGEN","nats":{"error":"no","type":"authorization_response","version":2}}"#
        );
    }
}
