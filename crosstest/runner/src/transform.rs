//! What the runner itself does to an artifact between a producing and a consuming step
//! (`docs/SCENARIOS.md`, "Transforms"). Transforms are deliberately dumb text and byte
//! operations, with one exception: `compact` is the runner's own SPEC §6.2 encoder, which writes
//! whatever bytes it is given (canonical or not) so that negative cases can be built.
//!
//! Every transform takes `input` (a string) and returns a string; the other parameters are
//! listed in [`Kind::params`].

use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// A transform's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Flip the low bit of one hex digit of the `sig` member of a JSON text (or, with `line`,
    /// of one line of a JSONL text).
    TamperSig,
    /// Flip the low bit of one byte (`offset`, negative counts from the end).
    TamperByte,
    /// Replace `find` by `with`, which must occur exactly `count` times.
    Replace,
    /// Drop bytes from the end (`drop`) or keep only the first `keep`.
    Truncate,
    /// Re-serialise a JSON text in a non-canonical layout (`style`: `spaced` or `pretty`).
    Reformat,
    /// [`Kind::Reformat`] applied to one line (0-based `line`) of a JSONL text.
    ReformatLine,
    /// The SPEC §6.2 compact form of the input bytes as they are, at zstd `level`.
    Compact,
    /// Set one member of a JSON object text and write it in JCS form.
    SetMember,
    /// Rebuild a JSONL text from its lines in the given `order` (0-based; may repeat or drop).
    ReorderLines,
    /// Append line `line` (0-based) of the JSONL text `from` to `input`.
    AppendLine,
    /// The string value of member `member` of a JSON object text (for example a claim's `key`).
    Member,
    /// Flip the low bit of byte `offset` (default 0; negative counts from the end) of one
    /// base64url segment of a JWT (`segment`: `signature`, the default, `payload` or
    /// `header`), re-encoded without padding (docs/NATS.md: NATS JWTs).
    TamperJwt,
}

/// Every transform, for messages.
pub const ALL: &[Kind] = &[
    Kind::TamperSig,
    Kind::TamperByte,
    Kind::Replace,
    Kind::Truncate,
    Kind::Reformat,
    Kind::ReformatLine,
    Kind::Compact,
    Kind::SetMember,
    Kind::ReorderLines,
    Kind::AppendLine,
    Kind::Member,
    Kind::TamperJwt,
];

impl Kind {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Kind::TamperSig => "tamper-sig",
            Kind::TamperByte => "tamper-byte",
            Kind::Replace => "replace",
            Kind::Truncate => "truncate",
            Kind::Reformat => "reformat",
            Kind::ReformatLine => "reformat-line",
            Kind::Compact => "compact",
            Kind::SetMember => "set-member",
            Kind::ReorderLines => "reorder-lines",
            Kind::AppendLine => "append-line",
            Kind::Member => "member",
            Kind::TamperJwt => "tamper-jwt",
        }
    }

    /// The transform called `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        ALL.iter().copied().find(|k| k.name() == name)
    }

    /// (required, optional) parameters besides `input`.
    pub fn params(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Kind::TamperSig => (&[], &["offset", "line"]),
            Kind::TamperByte => (&["offset"], &[]),
            Kind::Replace => (&["find", "with"], &["count"]),
            Kind::Truncate => (&[], &["drop", "keep"]),
            Kind::Reformat => (&[], &["style"]),
            Kind::ReformatLine => (&["line"], &["style"]),
            Kind::Compact => (&[], &["level"]),
            Kind::SetMember => (&["member"], &["value", "from", "repeat", "times"]),
            Kind::ReorderLines => (&["order"], &[]),
            Kind::AppendLine => (&["from", "line"], &[]),
            Kind::Member => (&["member"], &[]),
            Kind::TamperJwt => (&[], &["segment", "offset"]),
        }
    }

    /// Check which parameters are present (not their values), for the lint.
    pub fn check_present(self, present: &[&str]) -> Result<(), String> {
        let has = |p: &str| present.contains(&p);
        match self {
            Kind::Truncate if has("drop") == has("keep") => {
                Err("truncate takes exactly one of `drop` and `keep`".into())
            }
            Kind::SetMember => {
                let ways = [has("value"), has("from"), has("repeat") || has("times")];
                if ways.iter().filter(|w| **w).count() != 1 {
                    return Err(
                        "set-member takes exactly one of `value`, `from`, or `repeat` with `times`"
                            .into(),
                    );
                }
                if has("repeat") != has("times") {
                    return Err("set-member: `repeat` and `times` go together".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn str_param<'a>(p: &'a BTreeMap<String, Value>, name: &str) -> Result<&'a str, String> {
    match p.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(format!(
            "`{name}` must be a string, found {}",
            crate::template::kind_of(v)
        )),
        None => Err(format!("`{name}` is missing")),
    }
}

fn int_param(p: &BTreeMap<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            format!(
                "`{name}` must be a whole number, found {}",
                crate::template::kind_of(v)
            )
        }),
    }
}

fn usize_param(p: &BTreeMap<String, Value>, name: &str) -> Result<Option<usize>, String> {
    match int_param(p, name)? {
        None => Ok(None),
        Some(i) => usize::try_from(i)
            .map(Some)
            .map_err(|_| format!("`{name}` must not be negative, found {i}")),
    }
}

/// Apply transform `kind` to its resolved parameters (`input` included).
pub fn apply(kind: Kind, p: &BTreeMap<String, Value>) -> Result<String, String> {
    let input = str_param(p, "input")?;
    match kind {
        Kind::TamperSig => {
            let offset = usize_param(p, "offset")?.unwrap_or(0);
            match usize_param(p, "line")? {
                None => tamper_sig(input, offset),
                Some(line) => map_lines(input, |lines| {
                    let l = lines
                        .get_mut(line)
                        .ok_or_else(|| format!("line {line} does not exist"))?;
                    *l = tamper_sig(l, offset)?;
                    Ok(())
                }),
            }
        }
        Kind::TamperByte => {
            let offset = int_param(p, "offset")?.ok_or("`offset` is missing")?;
            tamper_byte(input, offset)
        }
        Kind::TamperJwt => {
            let segment = match p.get("segment") {
                None => "signature",
                Some(_) => str_param(p, "segment")?,
            };
            tamper_jwt(input, segment, int_param(p, "offset")?.unwrap_or(0))
        }
        Kind::Replace => {
            let find = str_param(p, "find")?;
            let with = str_param(p, "with")?;
            let count = usize_param(p, "count")?.unwrap_or(1);
            if find.is_empty() {
                return Err("`find` must not be empty".into());
            }
            let found = input.matches(find).count();
            if found != count {
                return Err(format!(
                    "expected {count} occurrence(s) of {find:?} in the input, found {found}"
                ));
            }
            Ok(input.replace(find, with))
        }
        Kind::Truncate => {
            let len = input.len();
            let keep = match (usize_param(p, "drop")?, usize_param(p, "keep")?) {
                (Some(d), None) if d <= len => len - d,
                (Some(d), None) => return Err(format!("cannot drop {d} of {len} bytes")),
                (None, Some(k)) if k <= len => k,
                (None, Some(k)) => return Err(format!("cannot keep {k} of {len} bytes")),
                _ => return Err("truncate takes exactly one of `drop` and `keep`".into()),
            };
            let bytes = &input.as_bytes()[..keep];
            String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("cutting at byte {keep} splits a UTF-8 character"))
        }
        Kind::Reformat => reformat(input, style(p)?),
        Kind::ReformatLine => {
            let line = usize_param(p, "line")?.ok_or("`line` is missing")?;
            let st = style(p)?;
            if st == Style::Pretty {
                return Err("reformat-line cannot use style \"pretty\": a JSONL line cannot hold line breaks".into());
            }
            map_lines(input, |lines| {
                let l = lines
                    .get_mut(line)
                    .ok_or_else(|| format!("line {line} does not exist"))?;
                *l = reformat(l, st)?;
                Ok(())
            })
        }
        Kind::Compact => {
            let level = int_param(p, "level")?.unwrap_or(19);
            let level =
                i32::try_from(level).map_err(|_| format!("level {level} is out of range"))?;
            compact(input.as_bytes(), level)
        }
        Kind::SetMember => set_member(input, p),
        Kind::ReorderLines => {
            let order = match p.get("order") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_u64()
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(|| "`order` must list line numbers".to_string())
                    })
                    .collect::<Result<Vec<usize>, String>>()?,
                _ => return Err("`order` must be an array of line numbers".into()),
            };
            let lines = jsonl_lines(input)?;
            let mut out = String::new();
            for i in order {
                let l = lines
                    .get(i)
                    .ok_or_else(|| format!("line {i} does not exist ({} lines)", lines.len()))?;
                out.push_str(l);
                out.push('\n');
            }
            Ok(out)
        }
        Kind::AppendLine => {
            let from = jsonl_lines(str_param(p, "from")?)?;
            let line = usize_param(p, "line")?.ok_or("`line` is missing")?;
            let l = from
                .get(line)
                .ok_or_else(|| format!("`from` has no line {line} ({} lines)", from.len()))?;
            if !input.is_empty() && !input.ends_with('\n') {
                return Err("`input` does not end with a line feed".into());
            }
            Ok(format!("{input}{l}\n"))
        }
        Kind::Member => {
            let member = str_param(p, "member")?;
            let obj: serde_json::Map<String, Value> = serde_json::from_str(input)
                .map_err(|e| format!("input is not a JSON object: {e}"))?;
            match obj.get(member) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(v) => Err(format!(
                    "member {member:?} is {}, not a string",
                    crate::template::kind_of(v)
                )),
                None => Err(format!("the input has no member {member:?}")),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Spaced,
    Pretty,
}

fn style(p: &BTreeMap<String, Value>) -> Result<Style, String> {
    match p.get("style") {
        None => Ok(Style::Spaced),
        Some(Value::String(s)) if s == "spaced" => Ok(Style::Spaced),
        Some(Value::String(s)) if s == "pretty" => Ok(Style::Pretty),
        Some(v) => Err(format!(
            "`style` must be \"spaced\" or \"pretty\", found {v}"
        )),
    }
}

/// The lines of a JSONL text, which must end with a line feed.
fn jsonl_lines(text: &str) -> Result<Vec<&str>, String> {
    let body = text
        .strip_suffix('\n')
        .ok_or("the JSONL text does not end with a line feed")?;
    Ok(body.split('\n').collect())
}

fn map_lines(
    text: &str,
    f: impl FnOnce(&mut Vec<String>) -> Result<(), String>,
) -> Result<String, String> {
    let mut lines: Vec<String> = jsonl_lines(text)?.into_iter().map(String::from).collect();
    f(&mut lines)?;
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

fn tamper_sig(input: &str, offset: usize) -> Result<String, String> {
    const KEY: &str = "\"sig\":\"";
    let found = input.matches(KEY).count();
    if found != 1 {
        return Err(format!(
            "expected one `\"sig\":\"` in the input (a claim in JCS form), found {found}"
        ));
    }
    let start = input.find(KEY).map(|i| i + KEY.len()).unwrap_or_default();
    let pos = start + offset;
    let digit = input
        .as_bytes()
        .get(pos)
        .copied()
        .filter(u8::is_ascii_hexdigit)
        .ok_or_else(|| format!("the signature has no hex digit at offset {offset}"))?;
    let v = (digit as char).to_digit(16).unwrap_or_default() ^ 1;
    let flipped = char::from_digit(v, 16).unwrap_or('0');
    let mut out = String::with_capacity(input.len());
    out.push_str(&input[..pos]);
    out.push(flipped);
    out.push_str(&input[pos + 1..]);
    Ok(out)
}

fn tamper_byte(input: &str, offset: i64) -> Result<String, String> {
    let len = input.len();
    let pos = if offset < 0 {
        usize::try_from(offset.unsigned_abs())
            .ok()
            .and_then(|back| len.checked_sub(back))
    } else {
        usize::try_from(offset).ok().filter(|o| *o < len)
    }
    .ok_or_else(|| format!("offset {offset} is outside the {len}-byte input"))?;
    let mut bytes = input.as_bytes().to_vec();
    bytes[pos] ^= 1;
    String::from_utf8(bytes).map_err(|_| {
        format!("flipping byte {pos} breaks UTF-8; artifacts are passed as JSON strings")
    })
}

/// Flips the low bit of one decoded byte of one segment of a JWT.
fn tamper_jwt(input: &str, segment: &str, offset: i64) -> Result<String, String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let index = match segment {
        "header" => 0,
        "payload" => 1,
        "signature" => 2,
        other => {
            return Err(format!(
                "`segment` must be header, payload or signature, found {other:?}"
            ))
        }
    };
    let mut parts: Vec<String> = input.split('.').map(str::to_string).collect();
    if parts.len() != 3 {
        return Err(format!(
            "input is not a JWT: {} dot-separated segments",
            parts.len()
        ));
    }
    let mut bytes = URL_SAFE_NO_PAD
        .decode(&parts[index])
        .map_err(|e| format!("the {segment} is not base64url without padding: {e}"))?;
    let len = bytes.len();
    let pos = if offset < 0 {
        usize::try_from(offset.unsigned_abs())
            .ok()
            .and_then(|back| len.checked_sub(back))
    } else {
        usize::try_from(offset).ok().filter(|o| *o < len)
    }
    .ok_or_else(|| format!("offset {offset} is outside the {len}-byte {segment}"))?;
    bytes[pos] ^= 1;
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    Ok(parts.join("."))
}

/// A non-canonical layout of the same JSON value.
fn reformat(input: &str, style: Style) -> Result<String, String> {
    let v: Value = serde_json::from_str(input).map_err(|e| format!("input is not JSON: {e}"))?;
    match style {
        Style::Pretty => serde_json::to_string_pretty(&v).map_err(|e| e.to_string()),
        Style::Spaced => {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
            serde::Serialize::serialize(&v, &mut ser).map_err(|e| e.to_string())?;
            String::from_utf8(out).map_err(|e| e.to_string())
        }
    }
}

/// `{"a": 1, "b": [1, 2]}`: one line, a space after every `:` and `,`.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// `kez:z1:` + base64url(one zstd frame declaring its content size), of `bytes` as given.
pub fn compact(bytes: &[u8], level: i32) -> Result<String, String> {
    let mut c = zstd::bulk::Compressor::new(level).map_err(|e| format!("zstd: {e}"))?;
    c.include_contentsize(true)
        .map_err(|e| format!("zstd: {e}"))?;
    c.include_checksum(false)
        .map_err(|e| format!("zstd: {e}"))?;
    let frame = c.compress(bytes).map_err(|e| format!("zstd: {e}"))?;
    Ok(format!(
        "kez:z1:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(frame)
    ))
}

fn set_member(input: &str, p: &BTreeMap<String, Value>) -> Result<String, String> {
    let member = str_param(p, "member")?;
    let mut obj: serde_json::Map<String, Value> =
        serde_json::from_str(input).map_err(|e| format!("input is not a JSON object: {e}"))?;
    let value = if let Some(v) = p.get("value") {
        v.clone()
    } else if p.contains_key("from") {
        let from: serde_json::Map<String, Value> = serde_json::from_str(str_param(p, "from")?)
            .map_err(|e| format!("`from` is not a JSON object: {e}"))?;
        from.get(member)
            .cloned()
            .ok_or_else(|| format!("`from` has no member {member:?}"))?
    } else {
        let unit = str_param(p, "repeat")?;
        let times = usize_param(p, "times")?.ok_or("`times` is missing")?;
        if times > 64 << 20 || unit.len().saturating_mul(times) > 64 << 20 {
            return Err("repeat × times is over 64 MiB".into());
        }
        Value::String(unit.repeat(times))
    };
    obj.insert(member.to_string(), value);
    serde_jcs::to_string(&Value::Object(obj)).map_err(|e| format!("JCS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    const CLAIM: &str = r#"{"created_at":1,"key":"ed25519:00","sig":"0a9f","subject":"github:a"}"#;

    #[test]
    fn tamper_jwt_flips_one_decoded_bit_of_a_segment() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode("{\"a\":1}"),
            URL_SAFE_NO_PAD.encode([0u8; 64])
        );
        let out = apply(
            Kind::TamperJwt,
            &params(json!({"input": jwt, "offset": -1})),
        )
        .unwrap();
        let parts: Vec<&str> = out.split('.').collect();
        let mut sig = [0u8; 64];
        sig[63] = 1;
        assert_eq!(parts[2], URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(parts[..2], jwt.split('.').collect::<Vec<_>>()[..2]);
        let out = apply(
            Kind::TamperJwt,
            &params(json!({"input": jwt, "segment": "payload", "offset": 1})),
        )
        .unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(out.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(payload, b"{#a\":1}");
        assert!(apply(Kind::TamperJwt, &params(json!({"input": "a.b"}))).is_err());
        assert!(apply(
            Kind::TamperJwt,
            &params(json!({"input": jwt, "offset": 64}))
        )
        .is_err());
        assert!(apply(
            Kind::TamperJwt,
            &params(json!({"input": jwt, "segment": "x"}))
        )
        .is_err());
    }

    #[test]
    fn tamper_sig_flips_one_digit() {
        let out = apply(Kind::TamperSig, &params(json!({"input": CLAIM}))).unwrap();
        assert_eq!(out, CLAIM.replace("0a9f", "1a9f"));
        let out = apply(
            Kind::TamperSig,
            &params(json!({"input": CLAIM, "offset": 2})),
        )
        .unwrap();
        assert_eq!(out, CLAIM.replace("0a9f", "0a8f"));
        assert!(apply(
            Kind::TamperSig,
            &params(json!({"input": CLAIM, "offset": 4}))
        )
        .is_err());
        let jsonl = format!("{CLAIM}\n{CLAIM}\n");
        let out = apply(Kind::TamperSig, &params(json!({"input": jsonl, "line": 1}))).unwrap();
        assert_eq!(out, format!("{CLAIM}\n{}\n", CLAIM.replace("0a9f", "1a9f")));
    }

    #[test]
    fn truncate_and_tamper_byte() {
        let p = params(json!({"input": "abcdef", "drop": 2}));
        assert_eq!(apply(Kind::Truncate, &p).unwrap(), "abcd");
        let p = params(json!({"input": "abcdef", "keep": 1}));
        assert_eq!(apply(Kind::Truncate, &p).unwrap(), "a");
        let p = params(json!({"input": "abc", "offset": -1}));
        assert_eq!(apply(Kind::TamperByte, &p).unwrap(), "abb");
        let p = params(json!({"input": "abc", "offset": 3}));
        assert!(apply(Kind::TamperByte, &p).is_err());
    }

    #[test]
    fn replace_counts_occurrences() {
        let p = params(json!({"input": "a-a", "find": "a", "with": "b"}));
        assert_eq!(
            apply(Kind::Replace, &p).unwrap_err(),
            "expected 1 occurrence(s) of \"a\" in the input, found 2"
        );
        let p = params(json!({"input": "a-a", "find": "a", "with": "b", "count": 2}));
        assert_eq!(apply(Kind::Replace, &p).unwrap(), "b-b");
    }

    #[test]
    fn reformat_is_same_value_other_bytes() {
        let out = apply(Kind::Reformat, &params(json!({"input": CLAIM}))).unwrap();
        assert_eq!(
            out,
            r#"{"created_at": 1, "key": "ed25519:00", "sig": "0a9f", "subject": "github:a"}"#
        );
        let jsonl = format!("{CLAIM}\n{CLAIM}\n");
        let out = apply(
            Kind::ReformatLine,
            &params(json!({"input": jsonl, "line": 1})),
        )
        .unwrap();
        assert_eq!(out.lines().next(), Some(CLAIM));
        assert!(out.lines().nth(1).unwrap().contains("\"key\": "));
    }

    #[test]
    fn lines() {
        let p = params(json!({"input": "a\nb\nc\n", "order": [2, 0, 0]}));
        assert_eq!(apply(Kind::ReorderLines, &p).unwrap(), "c\na\na\n");
        let p = params(json!({"input": "a\nb\n", "from": "x\ny\n", "line": 1}));
        assert_eq!(apply(Kind::AppendLine, &p).unwrap(), "a\nb\ny\n");
        let p = params(json!({"input": "a\nb", "order": [0]}));
        assert!(apply(Kind::ReorderLines, &p).is_err());
    }

    #[test]
    fn member_extracts_a_string() {
        let p = params(json!({"input": CLAIM, "member": "key"}));
        assert_eq!(apply(Kind::Member, &p).unwrap(), "ed25519:00");
        let p = params(json!({"input": CLAIM, "member": "created_at"}));
        assert!(apply(Kind::Member, &p).is_err());
    }

    #[test]
    fn set_member_writes_jcs() {
        let p = params(json!({"input": CLAIM, "member": "a", "repeat": "x", "times": 3}));
        let out = apply(Kind::SetMember, &p).unwrap();
        assert!(out.starts_with(r#"{"a":"xxx","created_at":1,"#), "{out}");
        let p = params(json!({"input": CLAIM, "member": "sig", "from": r#"{"sig":"ff"}"#}));
        assert!(apply(Kind::SetMember, &p)
            .unwrap()
            .contains(r#""sig":"ff""#));
    }

    #[test]
    fn compact_declares_content_size() {
        let text = compact(CLAIM.as_bytes(), 3).unwrap();
        let payload = text.strip_prefix("kez:z1:").unwrap();
        let frame = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&frame).unwrap(),
            Some(CLAIM.len() as u64)
        );
        assert_eq!(
            zstd::bulk::decompress(&frame, 4096).unwrap(),
            CLAIM.as_bytes()
        );
    }

    #[test]
    fn presence_rules() {
        assert!(Kind::Truncate.check_present(&["drop", "keep"]).is_err());
        assert!(Kind::Truncate.check_present(&[]).is_err());
        assert!(Kind::SetMember.check_present(&["member", "value"]).is_ok());
        assert!(Kind::SetMember
            .check_present(&["member", "repeat"])
            .is_err());
        assert!(Kind::SetMember
            .check_present(&["member", "value", "from"])
            .is_err());
    }
}
