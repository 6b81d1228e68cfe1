//! Strict I-JSON input and RFC 8785 (JCS) canonical output (SPEC.md §2.1, §2.2).
//!
//! Every byte string that KEZ signs is the JCS form of a JSON value. Before a value is
//! canonicalised it is parsed strictly: invalid UTF-8, duplicate member names, lone
//! surrogates, numbers that do not fit an IEEE 754 double, nesting deeper than
//! [`MAX_DEPTH`] and anything after the value other than whitespace are typed errors.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and objects accepted by [`parse_strict`] (SPEC.md §2.1).
pub const MAX_DEPTH: usize = 64;

/// The largest integer magnitude that an IEEE 754 double holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a byte string is not acceptable I-JSON (SPEC.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not JSON, or breaks an I-JSON rule; `line` and `column` are 1-based.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// What was wrong, as the parser saw it.
        message: String,
        /// 1-based line of the offending byte.
        line: usize,
        /// 1-based column of the offending byte.
        column: usize,
    },
    /// The value could not be put in canonical form.
    #[error("value cannot be canonicalised: {0}")]
    Canonicalise(String),
}

/// Parses `bytes` as a single strict I-JSON value (SPEC.md §2.1).
///
/// ```
/// let v = kez_core::json::parse_strict(br#"{"b": 1, "a": [true, null]}"#).unwrap();
/// assert_eq!(v["a"][0], true);
/// assert!(kez_core::json::parse_strict(br#"{"a": 1, "a": 2}"#).is_err());
/// ```
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed { depth: 0 }
        .deserialize(&mut de)
        .map_err(syntax_error)?;
    de.end().map_err(syntax_error)?;
    Ok(value)
}

/// Returns the RFC 8785 canonical form of `value` (SPEC.md §2.2).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::with_capacity(512);
    if write_jcs(value, &mut out) {
        Ok(out)
    } else {
        serde_jcs::to_vec(value).map_err(|e| JsonError::Canonicalise(e.to_string()))
    }
}

/// Writes the JCS form of `value` directly, without allocating per member; false when it
/// holds a number other than an integer of magnitude at most 2^53 - 1 (fractions,
/// exponents, larger integers go to serde_jcs, whose ECMAScript number formatting this does
/// not repeat). Integers in that range are written by JCS as their decimal digits, strings
/// with the escapes of RFC 8785 §3.2.2.2, members in UTF-16 code unit order; a test checks
/// the result against serde_jcs.
fn write_jcs(value: &Value, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) if u <= MAX_SAFE_INTEGER => write_integer(u, false, out),
            (None, Some(i)) if i.unsigned_abs() <= MAX_SAFE_INTEGER => {
                write_integer(i.unsigned_abs(), i < 0, out)
            }
            _ => return false,
        },
        Value::String(s) => write_jcs_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_jcs(item, out) {
                    return false;
                }
            }
            out.push(b']');
        }
        Value::Object(members) => return write_jcs_object(members, out),
    }
    true
}

fn utf16(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Whether the map iterates in JCS member order. UTF-16 code unit order equals UTF-8 byte
/// order unless a name holds a character from U+E000 up (lead byte 0xee or more); the
/// map's own order is used when it is already right, whatever the map type.
fn in_jcs_order(members: &Map<String, Value>) -> bool {
    let mut previous: Option<&str> = None;
    for name in members.keys() {
        if let Some(p) = previous {
            let wide = p.bytes().any(|b| b >= 0xee) || name.bytes().any(|b| b >= 0xee);
            let ordered = if wide {
                utf16(p, name).is_lt()
            } else {
                p < name.as_str()
            };
            if !ordered {
                return false;
            }
        }
        previous = Some(name);
    }
    true
}

/// The JCS form of an object and, in the same pass, the JCS form of the object without
/// the top-level members named in `skip` (the bytes a signature covers, SPEC.md §4.2).
/// `None` when the direct writer does not apply (a number it leaves to serde_jcs, or
/// names whose UTF-16 order differs from the map's): the caller then canonicalises as
/// usual.
pub(crate) fn canonicalize_object_signed(
    members: &Map<String, Value>,
    skip: &[&str],
) -> Option<(Vec<u8>, Vec<u8>)> {
    if !in_jcs_order(members) {
        return None;
    }
    let mut out = Vec::with_capacity(512);
    let mut signed = Vec::with_capacity(512);
    out.push(b'{');
    signed.push(b'{');
    for (i, (name, item)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        write_jcs_string(name, &mut out);
        out.push(b':');
        if !write_jcs(item, &mut out) {
            return None;
        }
        if !skip.contains(&name.as_str()) {
            if signed.len() > 1 {
                signed.push(b',');
            }
            signed.extend_from_slice(&out[start..]);
        }
    }
    out.push(b'}');
    signed.push(b'}');
    Some((out, signed))
}

fn write_jcs_object(members: &Map<String, Value>, out: &mut Vec<u8>) -> bool {
    let in_order = in_jcs_order(members);
    out.push(b'{');
    let written = if in_order {
        write_jcs_members(members.iter(), out)
    } else {
        let mut entries: Vec<(&String, &Value)> = members.iter().collect();
        entries.sort_by(|a, b| utf16(a.0, b.0));
        write_jcs_members(entries.into_iter(), out)
    };
    out.push(b'}');
    written
}

/// The members of an object, in the order given, without the braces.
fn write_jcs_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) -> bool {
    for (i, (name, item)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_jcs_string(name, out);
        out.push(b':');
        if !write_jcs(item, out) {
            return false;
        }
    }
    true
}

fn write_integer(magnitude: u64, negative: bool, out: &mut Vec<u8>) {
    if negative && magnitude != 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = magnitude;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string as JCS writes it: `"` and `\` escaped, the five short escapes, other
/// control characters as `\u00xx`, everything else as is.
fn write_jcs_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings (hex, paths, identities) need no escape: one branch-free pass finds out.
    let plain = !bytes.iter().fold(false, |escape, &b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Parses `bytes` strictly and returns their canonical form.
///
/// ```
/// let c = kez_core::json::canonicalize_bytes(b"{ \"b\": 2e0, \"a\": \"\\u00e9\" }").unwrap();
/// assert_eq!(c, "{\"a\":\"é\",\"b\":2}".as_bytes());
/// ```
pub fn canonicalize_bytes(bytes: &[u8]) -> Result<Vec<u8>, JsonError> {
    canonicalize(&parse_strict(bytes)?)
}

/// Returns the RFC 8785 canonical form of an object's members.
pub fn canonicalize_object(members: &Map<String, Value>) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::with_capacity(512);
    if write_jcs_object(members, &mut out) {
        Ok(out)
    } else {
        serde_jcs::to_vec(members).map_err(|e| JsonError::Canonicalise(e.to_string()))
    }
}

/// Removes the top-level member `name` from the canonical form of an object, giving the
/// canonical form of the object without it (JCS serialises members independently, in
/// order, so dropping one member and its separating comma is exact). Returns `None` when
/// `jcs` is not an object or holds no such member.
pub fn remove_top_level_member(jcs: &[u8], name: &str) -> Option<Vec<u8>> {
    let key = format!("\"{name}\":");
    let key = key.as_bytes();
    let mut scan = Structure::default();
    let start = jcs.iter().enumerate().find_map(|(i, &b)| {
        let at_key = scan.depth == 1 && b == b'"' && !scan.in_string && i > 0;
        let at_key = at_key && matches!(jcs[i - 1], b'{' | b',') && jcs[i..].starts_with(key);
        if at_key {
            return Some(i);
        }
        scan.step(b);
        None
    })?;
    // The member's value ends at the `,` or `}` that follows it at depth 1.
    let mut scan = Structure {
        depth: 1,
        ..Structure::default()
    };
    let value_start = start + key.len();
    let end = jcs[value_start..]
        .iter()
        .enumerate()
        .find_map(|(offset, &b)| {
            if scan.depth == 1 && !scan.in_string && matches!(b, b',' | b'}') {
                return Some(value_start + offset);
            }
            scan.step(b);
            None
        })?;
    let mut out = Vec::with_capacity(jcs.len());
    if jcs[start - 1] == b',' {
        out.extend_from_slice(&jcs[..start - 1]);
        out.extend_from_slice(&jcs[end..]);
    } else if jcs[end] == b',' {
        // First member: drop it and the comma after it.
        out.extend_from_slice(&jcs[..start]);
        out.extend_from_slice(&jcs[end + 1..]);
    } else {
        // The only member.
        out.extend_from_slice(&jcs[..start]);
        out.extend_from_slice(&jcs[end..]);
    }
    Some(out)
}

/// Tracks nesting depth and string state while walking JSON text byte by byte.
#[derive(Debug, Default)]
struct Structure {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Structure {
    fn step(&mut self, b: u8) {
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }
}

fn syntax_error(e: serde_json::Error) -> JsonError {
    // serde_json appends " at line L column C" to its messages; keep the message clean.
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    JsonError::Syntax {
        message,
        line: e.line(),
        column: e.column(),
    }
}

/// A [`DeserializeSeed`] that builds a [`Value`] and enforces the I-JSON rules.
struct StrictSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictSeed {
    /// Called on entering an array or object: `self.depth` containers enclose it.
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn nested(&self) -> StrictSeed {
        StrictSeed {
            depth: self.depth + 1,
        }
    }
}

fn float_value<E: de::Error>(f: f64) -> Result<Value, E> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| E::custom("number is not finite"))
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            // I-JSON numbers are IEEE doubles: keep the value a double so that its
            // canonical form is the one RFC 8785 prescribes.
            return float_value(v as f64);
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return float_value(v as f64);
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        float_value(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            match members.entry(name) {
                serde_json::map::Entry::Occupied(taken) => {
                    let name = taken.key();
                    return Err(de::Error::custom(format!("duplicate member name {name:?}")));
                }
                serde_json::map::Entry::Vacant(free) => {
                    free.insert(map.next_value_seed(self.nested())?);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_member_is_rejected_with_its_name() {
        let err = parse_strict(br#"{"a":1,"b":{"c":1,"c":2}}"#).unwrap_err();
        assert!(
            err.to_string().contains("duplicate member name \"c\""),
            "{err}"
        );
    }

    #[test]
    fn lone_surrogate_is_rejected() {
        assert!(parse_strict(br#""\ud800""#).is_err());
        assert!(parse_strict(br#""\udc00x""#).is_err());
        assert!(parse_strict(br#""\ud83d\ude00""#).is_ok());
    }

    #[test]
    fn non_finite_number_is_rejected() {
        assert!(parse_strict(b"1e400").is_err());
        assert!(parse_strict(b"-1e400").is_err());
        assert!(parse_strict(b"NaN").is_err());
        assert!(parse_strict(b"Infinity").is_err());
    }

    #[test]
    fn trailing_garbage_is_rejected_whitespace_is_not() {
        assert!(parse_strict(b"{} x").is_err());
        assert!(parse_strict(b"{}{}").is_err());
        assert!(parse_strict(b" {} \n\t").is_ok());
    }

    #[test]
    fn big_integers_canonicalise_as_doubles() {
        assert_eq!(
            canonicalize_bytes(b"9007199254740993").unwrap(),
            b"9007199254740992"
        );
        assert_eq!(
            canonicalize_bytes(b"-9007199254740993").unwrap(),
            b"-9007199254740992"
        );
        assert_eq!(
            canonicalize_bytes(b"9007199254740991").unwrap(),
            b"9007199254740991"
        );
    }

    #[test]
    fn removing_a_top_level_member_equals_canonicalising_without_it() {
        let cases = [
            r#"{"a":1,"sig":"x","z":[{"sig":"inner"}]}"#,
            r#"{"sig":"first","b":{"sig":1}}"#,
            r#"{"sig":{"a":[1,{"b":"}"}]}}"#,
            r#"{"a":"\"sig\":\"no\"","sig":"y\"z","t":true}"#,
            r#"{"nested":{"sig":"x"},"sigma":1}"#,
        ];
        for text in cases {
            let value = parse_strict(text.as_bytes()).unwrap();
            let jcs = canonicalize(&value).unwrap();
            let mut without = value.as_object().unwrap().clone();
            let had = without.remove("sig").is_some();
            let got = remove_top_level_member(&jcs, "sig");
            if had {
                assert_eq!(
                    got.unwrap(),
                    canonicalize_object(&without).unwrap(),
                    "{text}"
                );
            } else {
                assert_eq!(got, None, "{text}");
            }
        }
    }

    #[test]
    fn the_direct_writer_gives_serde_jcs_bytes() {
        let values = [
            serde_json::json!({"b": 1, "a": [true, null, -7, 0, 9007199254740991u64, -9007199254740991i64],
                "\u{e000}": "x", "\u{ffff}z": 1, "\u{1f600}": 2, "é": "\u{1}\u{1f}\"\\\n\t\r\u{8}\u{c}/",
                "nested": {"z": {}, "y": []}}),
            serde_json::json!([1.5, 2]),
            serde_json::json!({"big": 9007199254740992u64}),
            serde_json::json!("\u{7f}\u{2028}"),
        ];
        for v in values {
            assert_eq!(
                canonicalize(&v).unwrap(),
                serde_jcs::to_vec(&v).unwrap(),
                "{v}"
            );
            if let Value::Object(m) = &v {
                assert_eq!(
                    canonicalize_object(m).unwrap(),
                    serde_jcs::to_vec(m).unwrap()
                );
            }
        }
    }

    #[test]
    fn signed_form_in_one_pass_equals_removing_the_members() {
        let values = [
            serde_json::json!({"a": 1, "sig": "x", "z": {"sig": 2}}),
            serde_json::json!({"sig": "x", "b": [1, 2]}),
            serde_json::json!({"countersig": "y", "sig": "x"}),
            serde_json::json!({"a": "s,i\"g", "countersig": "y", "sig": "x", "t": null}),
        ];
        for v in values {
            let Value::Object(m) = &v else { unreachable!() };
            for skip in [&["sig"][..], &["sig", "countersig"], &[]] {
                let (jcs, signed) = canonicalize_object_signed(m, skip).unwrap();
                assert_eq!(jcs, canonicalize_object(m).unwrap());
                let mut without = m.clone();
                for name in skip {
                    without.remove(*name);
                }
                assert_eq!(
                    signed,
                    canonicalize_object(&without).unwrap(),
                    "{v} {skip:?}"
                );
            }
        }
        let big = serde_json::json!({"big": 9007199254740992u64, "sig": "x"});
        let Value::Object(m) = &big else {
            unreachable!()
        };
        assert!(canonicalize_object_signed(m, &["sig"]).is_none());
    }

    #[test]
    fn depth_limit_is_enforced() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse_strict(deep.as_bytes()).is_err());
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(ok.as_bytes()).is_ok());
        // An empty object at level 65 is as deep as a non-empty one.
        let deep_empty = format!("{}{{}}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(deep_empty.as_bytes()).is_err());
        let ok_empty = format!(
            "{}{{}}{}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_strict(ok_empty.as_bytes()).is_ok());
    }

    #[test]
    fn invalid_utf8_and_bom_are_rejected() {
        assert!(parse_strict(b"\"\xff\"").is_err());
        assert!(parse_strict(b"\xef\xbb\xbf{}").is_err());
    }
}
