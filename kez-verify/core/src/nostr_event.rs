//! NIP-01 nostr events (SPEC.md §4.6): strict parsing, the event id and its BIP-340
//! signature.
//!
//! An event is a JSON object with seven members:
//!
//! | member | type |
//! |---|---|
//! | `id` | 64 lowercase hex characters: SHA-256 of the serialisation below |
//! | `pubkey` | 64 lowercase hex characters: the BIP-340 x-only key |
//! | `created_at` | integer, `0 ..= 2^53 - 1` (unix seconds; I-JSON bound, SPEC.md §2.1) |
//! | `kind` | integer, `0 ..= 65535` |
//! | `tags` | array of arrays of strings |
//! | `content` | string |
//! | `sig` | 128 lowercase hex characters: BIP-340 signature over the 32-byte id |
//!
//! The input is parsed with [`crate::json::parse_strict`], so duplicate member names,
//! invalid UTF-8, lone surrogates and trailing bytes are rejected before any field is read.
//! Members other than these seven are **ignored**, as NIP-01 clients and relays do (some
//! clients attach caches to events they pass around); they are not covered by the id, and
//! a [`VerifiedEvent`] does not carry them.
//!
//! The id is `sha256(utf8(json))` where `json` is the array
//! `[0,<pubkey>,<created_at>,<kind>,<tags>,<content>]` written with no whitespace
//! ([`Event::id_preimage`]). Strings escape `"` as `\"`, `\` as `\\`, and line feed,
//! carriage return, tab, backspace and form feed as `\n`, `\r`, `\t`, `\b`, `\f`, as NIP-01
//! lists; the other control characters below U+0020 become `\u00xx` (lowercase hex), which
//! is what `JSON.stringify` and serde_json write and the only way to keep the preimage valid
//! JSON. Every other character, `/`, DEL and U+2028/U+2029 included, is written verbatim.
//!
//! [`Event::verify`] never trusts the stated id: it recomputes it and rejects a mismatch,
//! then verifies the signature over the recomputed id.
//!
//! ```
//! use kez_core::nostr_event::{Event, EventError};
//! use kez_core::{Algorithm, SecretKey, Signature};
//!
//! let sk = SecretKey::from_bytes(Algorithm::Bip340, &[7u8; 32])?;
//! let mut event = Event {
//!     id: [0; 32],
//!     pubkey: sk.public_key().to_bytes(),
//!     created_at: 1_700_000_000,
//!     kind: 1,
//!     tags: vec![vec!["t".into(), "kez".into()]],
//!     content: "hello \"nostr\"\n".into(),
//!     sig: Signature([0; 64]),
//! };
//! assert_eq!(
//!     event.id_preimage(),
//!     format!(
//!         "[0,\"{}\",1700000000,1,[[\"t\",\"kez\"]],\"hello \\\"nostr\\\"\\n\"]",
//!         hex::encode(event.pubkey)
//!     )
//! );
//! event.id = event.compute_id();
//! event.sig = sk.sign_raw(&event.id, Some(&[0u8; 32]));
//!
//! let json = event.to_json();
//! let verified = Event::from_json(json.as_bytes())?.verify()?;
//! assert_eq!(verified.content(), "hello \"nostr\"\n");
//! assert_eq!(verified.pubkey(), &sk.public_key());
//!
//! // Editing the body after signing is caught even though the signature still verifies
//! // over the stated id.
//! let mut edited = Event::from_json(json.as_bytes())?;
//! edited.content.push('!');
//! assert!(matches!(edited.verify(), Err(EventError::IdMismatch { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json::{JsonError, MAX_SAFE_INTEGER};
use crate::key::{Algorithm, KeyError, PublicKey, Signature, SignatureError};

/// Why an event was rejected, either while parsing it or while verifying it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The bytes are not strict I-JSON (SPEC.md §2.1).
    #[error("event is not strict JSON: {0}")]
    Json(#[from] JsonError),
    /// The top-level value is not a JSON object.
    #[error("event: expected a JSON object, found {found}")]
    NotAnObject {
        /// What was found instead.
        found: String,
    },
    /// A required member is absent.
    #[error("event member {field:?} is missing")]
    Missing {
        /// The name of the missing member.
        field: &'static str,
    },
    /// A member, or an element inside `tags`, has the wrong type or form.
    #[error("event member {field}: expected {expected}, found {found}")]
    Field {
        /// The member, with an index path inside `tags` (for example `tags[2][1]`).
        field: String,
        /// What the member must be.
        expected: &'static str,
        /// What was found (at most the first 24 characters of a string).
        found: String,
    },
    /// The stated id is not the SHA-256 of the event's serialisation.
    #[error("stated id {stated} does not match computed id {computed}")]
    IdMismatch {
        /// The id the event states, in hex.
        stated: String,
        /// The id recomputed from the event's body, in hex.
        computed: String,
    },
    /// `pubkey` is not the x coordinate of a secp256k1 point.
    #[error("event pubkey: {0}")]
    PublicKey(#[from] KeyError),
    /// The BIP-340 signature does not verify over the id.
    #[error("event sig does not verify over the event id: {0}")]
    Signature(#[from] SignatureError),
}

/// A NIP-01 event as parsed, not yet verified.
///
/// The fields are public so that callers can build an event to sign; nothing about an
/// `Event` is trusted until [`Event::verify`] returns a [`VerifiedEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The stated id (never trusted: [`Event::verify`] recomputes it).
    pub id: [u8; 32],
    /// The author's BIP-340 x-only public key.
    pub pubkey: [u8; 32],
    /// Unix time in seconds, as the author stated it.
    pub created_at: u64,
    /// The event kind.
    pub kind: u16,
    /// The tags: each an array of strings.
    pub tags: Vec<Vec<String>>,
    /// The content.
    pub content: String,
    /// The BIP-340 signature over the 32-byte id.
    pub sig: Signature,
}

/// An event whose id was recomputed and whose signature verified under its pubkey.
///
/// Only [`Event::verify`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    event: Event,
    pubkey: PublicKey,
}

impl VerifiedEvent {
    /// The id, equal to the SHA-256 of [`Event::id_preimage`].
    pub fn id(&self) -> &[u8; 32] {
        &self.event.id
    }

    /// The author's key, which signed [`VerifiedEvent::id`].
    pub fn pubkey(&self) -> &PublicKey {
        &self.pubkey
    }

    /// Unix time in seconds, as the author stated it.
    pub fn created_at(&self) -> u64 {
        self.event.created_at
    }

    /// The event kind.
    pub fn kind(&self) -> u16 {
        self.event.kind
    }

    /// The tags.
    pub fn tags(&self) -> &[Vec<String>] {
        &self.event.tags
    }

    /// The content.
    pub fn content(&self) -> &str {
        &self.event.content
    }

    /// The signature over the id.
    pub fn sig(&self) -> &Signature {
        &self.event.sig
    }

    /// The verified event's fields.
    pub fn as_event(&self) -> &Event {
        &self.event
    }

    /// Gives up the verified type and returns the plain event.
    pub fn into_event(self) -> Event {
        self.event
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let head: String = s.chars().take(24).collect();
            let more = if s.chars().nth(24).is_some() {
                "…"
            } else {
                ""
            };
            format!("string {head:?}{more} ({} characters)", s.chars().count())
        }
        Value::Array(a) => format!("an array of {} elements", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

fn field_error(field: impl Into<String>, expected: &'static str, found: &Value) -> EventError {
    EventError::Field {
        field: field.into(),
        expected,
        found: describe(found),
    }
}

fn member<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a Value, EventError> {
    object.get(field).ok_or(EventError::Missing { field })
}

fn hex_member<const N: usize>(
    object: &Map<String, Value>,
    field: &'static str,
    expected: &'static str,
) -> Result<[u8; N], EventError> {
    let value = member(object, field)?;
    let text = value
        .as_str()
        .ok_or_else(|| field_error(field, expected, value))?;
    crate::key::decode_hex::<N>(field, text).map_err(|_| field_error(field, expected, value))
}

fn integer_member<T: TryFrom<u64>>(
    object: &Map<String, Value>,
    field: &'static str,
    max: u64,
    expected: &'static str,
) -> Result<T, EventError> {
    let value = member(object, field)?;
    value
        .as_u64()
        .filter(|&n| n <= max)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| field_error(field, expected, value))
}

fn tags_member(object: &Map<String, Value>) -> Result<Vec<Vec<String>>, EventError> {
    const EXPECTED: &str = "an array of arrays of strings";
    let value = member(object, "tags")?;
    let tags = value
        .as_array()
        .ok_or_else(|| field_error("tags", EXPECTED, value))?;
    tags.iter()
        .enumerate()
        .map(|(i, tag)| {
            let items = tag
                .as_array()
                .ok_or_else(|| field_error(format!("tags[{i}]"), "an array of strings", tag))?;
            items
                .iter()
                .enumerate()
                .map(|(j, item)| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| field_error(format!("tags[{i}][{j}]"), "a string", item))
                })
                .collect()
        })
        .collect()
}

/// Writes `s` as a JSON string under the NIP-01 escaping rules (see the module doc).
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c < '\u{20}' => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Event {
    /// Parses an event from JSON bytes (see the module doc for the rules).
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        Self::from_value(&crate::json::parse_strict(bytes)?)
    }

    /// Reads an event from an already parsed JSON value. Callers that hold bytes should
    /// use [`Event::from_json`], which also applies the strict I-JSON rules.
    pub fn from_value(value: &Value) -> Result<Self, EventError> {
        let object = value.as_object().ok_or_else(|| EventError::NotAnObject {
            found: describe(value),
        })?;
        let id = hex_member::<32>(object, "id", "64 lowercase hex characters")?;
        let pubkey = hex_member::<32>(object, "pubkey", "64 lowercase hex characters")?;
        let created_at = integer_member(
            object,
            "created_at",
            MAX_SAFE_INTEGER,
            "an integer from 0 to 2^53 - 1",
        )?;
        let kind = integer_member(
            object,
            "kind",
            u64::from(u16::MAX),
            "an integer from 0 to 65535",
        )?;
        let tags = tags_member(object)?;
        let content = member(object, "content")?;
        let content = content
            .as_str()
            .ok_or_else(|| field_error("content", "a string", content))?
            .to_owned();
        let sig = hex_member::<64>(object, "sig", "128 lowercase hex characters")?;
        Ok(Event {
            id,
            pubkey,
            created_at,
            kind,
            tags,
            content,
            sig: Signature(sig),
        })
    }

    /// The NIP-01 serialisation whose SHA-256 is the id:
    /// `[0,<pubkey>,<created_at>,<kind>,<tags>,<content>]` with no whitespace.
    pub fn id_preimage(&self) -> String {
        let mut out = String::with_capacity(100 + self.content.len());
        out.push_str("[0,\"");
        out.push_str(&hex::encode(self.pubkey));
        // Writing into a String cannot fail.
        let _ = write!(out, "\",{},{},[", self.created_at, self.kind);
        for (i, tag) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, item) in tag.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_json_string(&mut out, item);
            }
            out.push(']');
        }
        out.push_str("],");
        write_json_string(&mut out, &self.content);
        out.push(']');
        out
    }

    /// The id this event's body hashes to: SHA-256 of [`Event::id_preimage`].
    pub fn compute_id(&self) -> [u8; 32] {
        Sha256::digest(self.id_preimage().as_bytes()).into()
    }

    /// The event as a compact JSON object with its seven members (ids, keys and the
    /// signature in lowercase hex).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "id": hex::encode(self.id),
            "pubkey": hex::encode(self.pubkey),
            "created_at": self.created_at,
            "kind": self.kind,
            "tags": self.tags,
            "content": self.content,
            "sig": self.sig.to_hex(),
        })
        .to_string()
    }

    /// Recomputes the id, rejects the event if it differs from the stated one, then
    /// verifies the BIP-340 signature over the 32-byte id under `pubkey`.
    pub fn verify(&self) -> Result<VerifiedEvent, EventError> {
        let computed = self.compute_id();
        if computed != self.id {
            return Err(EventError::IdMismatch {
                stated: hex::encode(self.id),
                computed: hex::encode(computed),
            });
        }
        let pubkey = PublicKey::from_bytes(Algorithm::Bip340, &self.pubkey)?;
        pubkey.verify_raw(&computed, &self.sig)?;
        Ok(VerifiedEvent {
            event: self.clone(),
            pubkey,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::SecretKey;

    fn signed(content: &str, tags: Vec<Vec<String>>) -> Event {
        let sk = SecretKey::from_bytes(Algorithm::Bip340, &[3u8; 32]).unwrap();
        let mut event = Event {
            id: [0; 32],
            pubkey: sk.public_key().to_bytes(),
            created_at: 1_700_000_000,
            kind: 1,
            tags,
            content: content.into(),
            sig: Signature([0; 64]),
        };
        event.id = event.compute_id();
        event.sig = sk.sign_raw(&event.id, Some(&[1u8; 32]));
        event
    }

    fn json_with(event: &Event, member: &str, value: Value) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(&event.to_json()).unwrap();
        v[member] = value;
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn signed_event_round_trips_and_verifies() {
        let event = signed("gm", vec![vec!["e".into(), "x".into()], vec![]]);
        let parsed = Event::from_json(event.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, event);
        let verified = parsed.verify().unwrap();
        assert_eq!(verified.id(), &event.id);
        assert_eq!(verified.kind(), 1);
        assert_eq!(verified.tags(), &event.tags[..]);
        assert_eq!(verified.into_event(), event);
    }

    #[test]
    fn preimage_escaping_matches_serde_json_for_every_control_and_special_character() {
        let mut content: String = (0u32..0x80).filter_map(char::from_u32).collect();
        content.push_str("/\u{2028}\u{2029}\u{7f}é🦀");
        let event = signed(&content, vec![vec![content.clone()]]);
        let expected = serde_json::to_string(&serde_json::json!([
            0,
            hex::encode(event.pubkey),
            event.created_at,
            event.kind,
            event.tags,
            event.content,
        ]))
        .unwrap();
        assert_eq!(event.id_preimage(), expected);
        assert!(event.id_preimage().contains(r#"\u0000\u0001"#));
        assert!(event.id_preimage().contains(r#"\b\t\n\u000b\f\r"#));
        assert_eq!(event.verify().map(|v| v.content().to_owned()), Ok(content));
    }

    #[test]
    fn edited_body_with_original_signature_is_an_id_mismatch() {
        let mut event = signed("original", vec![]);
        event.content = "edited".into();
        let err = event.verify().unwrap_err();
        assert!(matches!(err, EventError::IdMismatch { .. }), "{err}");
        assert!(err.to_string().starts_with("stated id "), "{err}");
    }

    #[test]
    fn consistent_id_with_bad_signature_is_a_signature_error() {
        let mut event = signed("x", vec![]);
        event.sig.0[63] ^= 1;
        assert!(matches!(event.verify(), Err(EventError::Signature(_))));
    }

    #[test]
    fn pubkey_off_the_curve_is_a_key_error() {
        let mut event = signed("x", vec![]);
        // x = p + 1 is not a field element.
        event.pubkey = [0xff; 32];
        event.id = event.compute_id();
        assert!(matches!(event.verify(), Err(EventError::PublicKey(_))));
    }

    #[test]
    fn field_types_are_checked_and_named() {
        let event = signed("x", vec![]);
        let cases: Vec<(&str, Value, &str)> = vec![
            ("id", Value::String(hex::encode_upper(event.id)), "id"),
            ("id", Value::String("ab".into()), "id"),
            ("pubkey", Value::Null, "pubkey"),
            ("sig", Value::String(hex::encode(event.id)), "sig"),
            ("created_at", serde_json::json!(-1), "created_at"),
            ("created_at", serde_json::json!(1.5), "created_at"),
            ("created_at", serde_json::json!("1700000000"), "created_at"),
            ("kind", serde_json::json!(65536), "kind"),
            ("tags", serde_json::json!(["e"]), "tags[0]"),
            ("tags", serde_json::json!([["e", 1]]), "tags[0][1]"),
            ("tags", serde_json::json!({}), "tags"),
            ("content", serde_json::json!(["x"]), "content"),
        ];
        for (member, value, field) in cases {
            let bytes = json_with(&event, member, value.clone());
            match Event::from_json(&bytes) {
                Err(EventError::Field { field: f, .. }) => assert_eq!(f, field, "{value}"),
                other => panic!("{member} = {value}: expected a field error, got {other:?}"),
            }
        }
    }

    #[test]
    fn created_at_beyond_i_json_range_is_rejected() {
        let event = signed("x", vec![]);
        let text = event.to_json().replace(
            "\"created_at\":1700000000",
            "\"created_at\":9007199254740993",
        );
        assert!(matches!(
            Event::from_json(text.as_bytes()),
            Err(EventError::Field { .. })
        ));
    }

    #[test]
    fn missing_member_duplicate_member_and_non_object_are_rejected() {
        let event = signed("x", vec![]);
        let mut v: Value = serde_json::from_str(&event.to_json()).unwrap();
        v.as_object_mut().unwrap().remove("content");
        assert_eq!(
            Event::from_value(&v),
            Err(EventError::Missing { field: "content" })
        );
        let dup = event.to_json().replacen('{', "{\"kind\":2,", 1);
        assert!(matches!(
            Event::from_json(dup.as_bytes()),
            Err(EventError::Json(_))
        ));
        assert!(matches!(
            Event::from_json(b"[]"),
            Err(EventError::NotAnObject { .. })
        ));
    }

    #[test]
    fn unknown_members_are_ignored() {
        let event = signed("x", vec![]);
        let bytes = json_with(&event, "seenOn", serde_json::json!(["wss://relay"]));
        assert_eq!(
            Event::from_json(&bytes)
                .unwrap()
                .verify()
                .unwrap()
                .as_event(),
            &event
        );
    }
}
