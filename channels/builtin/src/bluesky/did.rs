//! DIDs and DID documents as ATProto uses them (SPEC.md §11.6-5, §11.6-8, §11.6-9):
//! `did:plc` and `did:web`, the handle named back in `alsoKnownAs`, and the `#atproto_pds`
//! service.

use kez_core::Identity;
use serde_json::Value;
use url::Url;

/// The id of the PDS service in a DID document (relative form).
pub(crate) const PDS_SERVICE_ID: &str = "#atproto_pds";
/// The type of the PDS service.
pub(crate) const PDS_SERVICE_TYPE: &str = "AtprotoPersonalDataServer";

/// A DID this channel can resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Did {
    /// `did:plc:` and 24 characters of base32 (`a-z`, `2-7`).
    Plc(String),
    /// `did:web:` and a host name (no port, no path), the host lowercase.
    Web {
        /// The whole DID.
        did: String,
        /// The host its document is fetched from.
        host: String,
    },
}

impl Did {
    /// Parses a DID as a handle answer gives it. `Err` names what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Did, String> {
        if let Some(id) = text.strip_prefix("did:plc:") {
            let base32 = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
            if id.len() == 24 && id.chars().all(base32) {
                return Ok(Did::Plc(text.to_string()));
            }
            return Err(format!(
                "{text:?} is no did:plc (24 characters of a-z and 2-7 expected)"
            ));
        }
        if let Some(host) = text.strip_prefix("did:web:") {
            // A port (`%3A`) or a path (`:`) is not allowed for ATProto did:web.
            let canonical = Identity::parse(&format!("dns:{host}"))
                .map(|identity| identity.account().to_string())
                .map_err(|e| format!("{text:?} names no valid host: {e}"))?;
            if canonical != host {
                return Err(format!(
                    "{text:?}: the host must be written in its canonical form {canonical:?}"
                ));
            }
            return Ok(Did::Web {
                did: text.to_string(),
                host: canonical,
            });
        }
        if text.starts_with("did:") {
            return Err(format!(
                "{text:?} uses a DID method ATProto does not support (plc and web are)"
            ));
        }
        Err(format!("{text:?} is no DID"))
    }

    /// The DID's text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Did::Plc(did) => did,
            Did::Web { did, .. } => did,
        }
    }

    /// The URL of its DID document: `{plc}/{did}` or `https://{host}/.well-known/did.json`.
    pub(crate) fn document_url(&self, plc_directory: &str) -> String {
        match self {
            Did::Plc(did) => format!("{plc_directory}/{did}"),
            Did::Web { host, .. } => format!("https://{host}/.well-known/did.json"),
        }
    }
}

/// What the channel needs from a DID document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DidDocument {
    /// The handles it names in `alsoKnownAs` (`at://` entries), each canonical; entries that
    /// are no valid handle are left out.
    pub(crate) handles: Vec<String>,
    /// The PDS's URL (the `#atproto_pds` service's endpoint), without a trailing `/`, if the
    /// document names a usable one.
    pub(crate) pds: Option<String>,
}

/// Reads a DID document for `did`. `Err` says why it is unusable (not JSON, another `id`).
pub(crate) fn parse_document(body: &[u8], did: &str) -> Result<DidDocument, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the DID document of {did} is not JSON: {e}"))?;
    let doc = doc
        .as_object()
        .ok_or_else(|| format!("the DID document of {did} is not a JSON object"))?;
    match doc.get("id").and_then(Value::as_str) {
        Some(id) if id == did => {}
        Some(id) => return Err(format!("the DID document of {did} has id {id:?}")),
        None => return Err(format!("the DID document of {did} has no id")),
    }
    let handles = doc
        .get("alsoKnownAs")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|name| name.strip_prefix("at://"))
                .filter_map(|handle| Identity::parse(&format!("bluesky:{handle}")).ok())
                .map(|identity| identity.account().to_string())
                .collect()
        })
        .unwrap_or_default();
    let pds = doc
        .get("service")
        .and_then(Value::as_array)
        .and_then(|services| {
            services.iter().find(|service| {
                let id = service.get("id").and_then(Value::as_str).unwrap_or("");
                let id_matches = id == PDS_SERVICE_ID
                    || id
                        .strip_prefix(did)
                        .is_some_and(|rest| rest == PDS_SERVICE_ID);
                id_matches && service.get("type").and_then(Value::as_str) == Some(PDS_SERVICE_TYPE)
            })
        })
        .and_then(|service| service.get("serviceEndpoint"))
        .and_then(Value::as_str)
        .and_then(service_origin);
    Ok(DidDocument { handles, pds })
}

/// An `http(s)` service endpoint with a host and no credentials, query or fragment, without
/// its trailing `/`.
fn service_origin(endpoint: &str) -> Option<String> {
    let url = Url::parse(endpoint).ok()?;
    let usable = matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    usable.then(|| url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLC: &str = "did:plc:hg7gtojlpbj4w5ma2u63cbbp";

    #[test]
    fn parses_plc_and_web_dids() {
        assert_eq!(Did::parse(PLC), Ok(Did::Plc(PLC.into())));
        assert_eq!(
            Did::parse(PLC).map(|d| d.document_url("http://localhost:1")),
            Ok(format!("http://localhost:1/{PLC}"))
        );
        let web = Did::parse("did:web:example.com").expect("did:web");
        assert_eq!(web.as_str(), "did:web:example.com");
        assert_eq!(
            web.document_url("unused"),
            "https://example.com/.well-known/did.json"
        );
    }

    #[test]
    fn rejects_bad_dids() {
        for bad in [
            "did:plc:short",
            "did:plc:HG7GTOJLPBJ4W5MA2U63CBBP",
            "did:plc:hg7gtojlpbj4w5ma2u63cbb1", // '1' is not base32
            "did:plc:hg7gtojlpbj4w5ma2u63cbbpx",
            "did:web:Example.com",      // not canonical
            "did:web:localhost%3A8080", // port
            "did:web:example.com:user", // path
            "did:web:127.0.0.1",
            "did:key:z6Mk",
            "plc:abc",
            "",
        ] {
            assert!(Did::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn doc(value: serde_json::Value) -> Result<DidDocument, String> {
        parse_document(value.to_string().as_bytes(), PLC)
    }

    #[test]
    fn reads_handles_and_the_pds() {
        let parsed = doc(serde_json::json!({
            "id": PLC,
            "alsoKnownAs": ["at://Alice.Test", "https://elsewhere", "at://bad..name", 7],
            "service": [
                {"id": "#other", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://wrong.example"},
                {"id": "#atproto_pds", "type": "Other", "serviceEndpoint": "https://wrong2.example"},
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example/"}
            ]
        }))
        .expect("a document");
        assert_eq!(parsed.handles, ["alice.test"]);
        assert_eq!(parsed.pds.as_deref(), Some("https://pds.example"));
        // The absolute id form is accepted too.
        let parsed = doc(serde_json::json!({
            "id": PLC,
            "service": [{"id": format!("{PLC}#atproto_pds"), "type": "AtprotoPersonalDataServer", "serviceEndpoint": "http://localhost:2583"}]
        }))
        .expect("a document");
        assert!(parsed.handles.is_empty());
        assert_eq!(parsed.pds.as_deref(), Some("http://localhost:2583"));
    }

    #[test]
    fn unusable_documents_and_endpoints() {
        assert!(doc(serde_json::json!({"id": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"})).is_err());
        assert!(doc(serde_json::json!({"alsoKnownAs": []})).is_err());
        assert!(doc(serde_json::json!([PLC])).is_err());
        assert!(parse_document(b"not json", PLC).is_err());
        for endpoint in [
            "ftp://pds.example",
            "https://user:pw@pds.example",
            "https://pds.example/?x=1",
            "https://pds.example/#f",
            "pds.example",
        ] {
            let parsed = doc(serde_json::json!({
                "id": PLC,
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}]
            }))
            .expect("a document");
            assert_eq!(parsed.pds, None, "{endpoint} accepted");
        }
    }
}
