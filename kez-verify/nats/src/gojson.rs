//! JSON bytes as Go's `encoding/json.Marshal` writes them.
//!
//! nats-io/jwt hashes `json.Marshal` output for the `jti` and signs it as the payload,
//! so matching it byte for byte keeps our JWTs identical in form to nsc's. Two things
//! differ from serde_json's compact output: Go escapes `<`, `>` and `&` as `\u003c`,
//! `\u003e`, `\u0026`, and U+2028 / U+2029 as `\u2028` / `\u2029`. Field order is the
//! struct order, which our claim types declare as Go does; maps are sorted by key in
//! both.

use std::io;

use serde::Serialize;

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serialises `value` as Go's `json.Marshal` would.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let out = to_vec(&serde_json::json!({"name": "a<b>&c\u{2028}\"\n", "n": -1})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"n":-1,"name":"a\u003cb\u003e\u0026c\u2028\"\n"}"#
        );
    }
}
