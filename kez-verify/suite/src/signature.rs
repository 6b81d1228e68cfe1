//! The detached manifest signature, `manifest.json.sig` (docs/SUITES.md, "Signing").
//!
//! ```json
//! {"key":"ed25519:<64 hex>","sig":"<128 hex>"}
//! ```
//!
//! `sig` is an Ed25519 signature (RFC 8032, checked under the acceptance policy of SPEC.md
//! §4.3) over the JCS form (RFC 8785) of `manifest.json`, so re-indenting the manifest does
//! not break it while any change of content does. `key` says who signed; it is only
//! trusted when it equals the key the auditor passes in, which is why [`verify`] takes
//! the expected key and compares before checking anything else.
//!
//! ```
//! use kez_core::{Algorithm, SecretKey};
//! use kez_suite::signature;
//!
//! let key = SecretKey::generate(Algorithm::Ed25519);
//! let manifest = br#"{"schema": "kez-suite/v1", "name": "t"}"#;
//! let sig = signature::sign(manifest, &key)?;
//! signature::verify(manifest, Some(&sig), &key.public_key())?;
//! assert!(signature::verify(b"{\"name\":\"t\",\"schema\":\"kez-suite/v1\"}", Some(&sig), &key.public_key()).is_ok());
//! assert!(signature::verify(br#"{"schema":"kez-suite/v1","name":"u"}"#, Some(&sig), &key.public_key()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use kez_core::json::{self, JsonError};
use kez_core::{Algorithm, PublicKey, SecretKey, Signature};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a manifest signature is refused, or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A key was given but the suite has no `manifest.json.sig`.
    #[error("manifest.json.sig is missing, and a signing key was required (--key)")]
    Missing,
    /// `manifest.json.sig` is not of the documented form.
    #[error("manifest.json.sig: {0}")]
    Malformed(String),
    /// A key (given or in the file) is not an Ed25519 key.
    #[error("{0}")]
    NotEd25519(String),
    /// The file says another key signed the manifest.
    #[error("manifest.json.sig names {signed_by}, not the required key {expected}")]
    WrongKey {
        /// The key the file names.
        signed_by: String,
        /// The key required.
        expected: String,
    },
    /// The signature does not verify over the manifest's JCS form.
    #[error("manifest.json.sig does not verify over manifest.json under {key}: the manifest or its signature was changed")]
    Invalid {
        /// The key it was checked under.
        key: String,
    },
    /// The manifest is not strict I-JSON, so it has no JCS form.
    #[error("manifest.json: {0}")]
    Manifest(#[from] JsonError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    key: String,
    sig: String,
}

/// Parses a manifest signing key in its text form, `ed25519:<64 lowercase hex>`.
pub fn parse_key(text: &str) -> Result<PublicKey, SignatureError> {
    let key = PublicKey::parse_canonical(text).map_err(|e| {
        SignatureError::NotEd25519(format!(
            "expected a key of the form ed25519:<64 lowercase hex>, found {:?} ({e})",
            text.chars().take(80).collect::<String>()
        ))
    })?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(SignatureError::NotEd25519(format!(
            "manifests are signed with Ed25519 keys, found a {} key",
            key.algorithm().name()
        )));
    }
    Ok(key)
}

/// The bytes the signature covers: the JCS form of the manifest.
pub fn signed_bytes(manifest_json: &[u8]) -> Result<Vec<u8>, SignatureError> {
    Ok(canonical(&json::parse_strict(manifest_json)?)?)
}

/// The JCS form (RFC 8785) of `value`: `kez_core::json::canonicalize`, which writes
/// strings, integers below 2^53, booleans, null, arrays and objects directly (what a
/// manifest holds) and leaves any other number to the general canonicaliser. A property
/// test checks the result against the general canonicaliser.
pub fn canonical(value: &Value) -> Result<Vec<u8>, JsonError> {
    json::canonicalize(value)
}

/// Signs `manifest_json` with an Ed25519 `key`; returns the `manifest.json.sig` file
/// (one line of JCS, newline-terminated).
pub fn sign(manifest_json: &[u8], key: &SecretKey) -> Result<Vec<u8>, SignatureError> {
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(SignatureError::NotEd25519(format!(
            "manifests are signed with Ed25519 keys, the key file holds a {} key",
            key.algorithm().name()
        )));
    }
    let sig = key.sign_raw(&signed_bytes(manifest_json)?, None);
    let file = SignatureFile {
        key: key.public_key().to_string(),
        sig: sig.to_hex(),
    };
    let value = serde_json::to_value(file).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let mut out = json::canonicalize(&value)?;
    out.push(b'\n');
    Ok(out)
}

/// Checks `signature_file` (the bytes of `manifest.json.sig`, `None` when it is absent)
/// against `manifest_json` and the `expected` key.
pub fn verify(
    manifest_json: &[u8],
    signature_file: Option<&[u8]>,
    expected: &PublicKey,
) -> Result<(), SignatureError> {
    verify_jcs(&signed_bytes(manifest_json)?, signature_file, expected)
}

/// Like [`verify`], for a manifest already in JCS form.
pub fn verify_jcs(
    manifest_jcs: &[u8],
    signature_file: Option<&[u8]>,
    expected: &PublicKey,
) -> Result<(), SignatureError> {
    if expected.algorithm() != Algorithm::Ed25519 {
        return Err(SignatureError::NotEd25519(format!(
            "manifests are signed with Ed25519 keys, the required key is a {} key",
            expected.algorithm().name()
        )));
    }
    let bytes = signature_file.ok_or(SignatureError::Missing)?;
    let value = json::parse_strict(bytes).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let file: SignatureFile = serde_json::from_value(value).map_err(|e| {
        SignatureError::Malformed(format!(
            "expected {{\"key\": \"ed25519:<hex>\", \"sig\": \"<128 hex>\"}}: {e}"
        ))
    })?;
    let signed_by = PublicKey::parse_canonical(&file.key)
        .map_err(|e| SignatureError::Malformed(format!("member \"key\": {e}")))?;
    if &signed_by != expected {
        return Err(SignatureError::WrongKey {
            signed_by: signed_by.to_string(),
            expected: expected.to_string(),
        });
    }
    let sig = Signature::from_hex(&file.sig).map_err(|_| {
        SignatureError::Malformed("member \"sig\": expected 128 lowercase hex characters".into())
    })?;
    expected
        .verify_raw(manifest_jcs, &sig)
        .map_err(|_| SignatureError::Invalid {
            key: expected.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_bytes(Algorithm::Ed25519, &[seed; 32]).unwrap()
    }

    const MANIFEST: &[u8] = br#"{"schema": "kez-suite/v1", "cases": [1, 2]}"#;

    #[test]
    fn a_good_signature_verifies_and_survives_re_indenting() {
        let sig = sign(MANIFEST, &key(1)).unwrap();
        assert_eq!(verify(MANIFEST, Some(&sig), &key(1).public_key()), Ok(()));
        let pretty = b"{\n  \"cases\": [1,2],\n  \"schema\": \"kez-suite/v1\"\n}\n";
        assert_eq!(verify(pretty, Some(&sig), &key(1).public_key()), Ok(()));
        assert_eq!(sig.last(), Some(&b'\n'));
        assert_eq!(
            sign(MANIFEST, &key(1)).unwrap(),
            sig,
            "signing is deterministic"
        );
    }

    #[test]
    fn a_changed_manifest_or_signature_is_invalid() {
        let sig = sign(MANIFEST, &key(1)).unwrap();
        let changed = br#"{"schema": "kez-suite/v1", "cases": [1, 3]}"#;
        assert!(matches!(
            verify(changed, Some(&sig), &key(1).public_key()),
            Err(SignatureError::Invalid { .. })
        ));
        let text = String::from_utf8(sig).unwrap();
        let at = text.find("\"sig\":\"").unwrap() + 7;
        let flipped = if &text[at..at + 1] == "0" { "1" } else { "0" };
        let bad = format!("{}{flipped}{}", &text[..at], &text[at + 1..]);
        assert!(matches!(
            verify(MANIFEST, Some(bad.as_bytes()), &key(1).public_key()),
            Err(SignatureError::Invalid { .. })
        ));
    }

    #[test]
    fn a_missing_signature_or_another_signer_is_refused() {
        assert_eq!(
            verify(MANIFEST, None, &key(1).public_key()),
            Err(SignatureError::Missing)
        );
        let sig = sign(MANIFEST, &key(2)).unwrap();
        assert!(matches!(
            verify(MANIFEST, Some(&sig), &key(1).public_key()),
            Err(SignatureError::WrongKey { .. })
        ));
    }

    #[test]
    fn the_direct_jcs_writer_matches_kez_core_on_tricky_values() {
        let value = serde_json::json!({
            "\u{e9}": 1, "e": 2, "\u{1f600}": 3, "\u{ff41}": 4, "\u{e000}": 5,
            "s": "q\"b\\s/\u{8}\t\n\u{c}\r\u{0}\u{1f}\u{7f}\u{2028}\u{e9}\u{1f600}",
            "n": [0, 9007199254740991u64, -9007199254740991i64, -1, true, false, null],
            "o": {"b": {}, "a": []},
        });
        assert_eq!(
            canonical(&value).unwrap(),
            json::canonicalize(&value).unwrap()
        );
        // Numbers the direct writer leaves to kez-core.
        for n in [
            "1.5",
            "1e300",
            "9007199254740993",
            "-9007199254740993",
            "-0",
            "0.1",
        ] {
            let value = json::parse_strict(format!("[{n}]").as_bytes()).unwrap();
            assert_eq!(
                canonical(&value).unwrap(),
                json::canonicalize(&value).unwrap(),
                "{n}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn the_direct_jcs_writer_matches_kez_core(value in json_value()) {
            proptest::prop_assert_eq!(canonical(&value).unwrap(), json::canonicalize(&value).unwrap());
        }
    }

    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[a-z\\u{0}-\\u{1f}\"\\\\/\\u{7f}-\\u{ff}\\u{2028}\\u{e000}-\\u{e010}\\u{ff41}\\u{1f600}-\\u{1f602}]{0,6}")
            .expect("valid regex")
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::from(i % 9_007_199_254_740_992)),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn malformed_files_and_non_ed25519_keys_are_refused() {
        for bad in [
            &b"not json"[..],
            br#"{"key":"ed25519:00","sig":"00"}"#,
            br#"{"key":"x","sig":"00","extra":1}"#,
        ] {
            assert!(matches!(
                verify(MANIFEST, Some(bad), &key(1).public_key()),
                Err(SignatureError::Malformed(_))
            ));
        }
        let bip = SecretKey::from_bytes(Algorithm::Bip340, &[3; 32]).unwrap();
        assert!(matches!(
            sign(MANIFEST, &bip),
            Err(SignatureError::NotEd25519(_))
        ));
        assert!(parse_key(&bip.public_key().to_string()).is_err());
        assert_eq!(
            parse_key(&key(1).public_key().to_string()),
            Ok(key(1).public_key())
        );
        assert!(parse_key("ed25519:XYZ").is_err());
    }
}
