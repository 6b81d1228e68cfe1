//! The DNS TXT encoding (SPEC.md §6.4).
//!
//! A domain publishes claims as TXT records at `_kez.<domain>`. Each record's RDATA is one
//! or more character-strings of at most 255 bytes (RFC 1035 §3.3.14); a record's value is
//! their concatenation with nothing between them. A record whose value starts with `kez:`
//! holds one claim in compact form; records that do not start with `kez:` belong to
//! something else and are ignored. Several records may share the name, each decoded on
//! its own.
//!
//! Text input is in zone-file presentation form, one record per line: either the bare
//! RDATA (`"kez:z1:…" "…"`) or a whole resource record (`_kez.example.com. 300 IN TXT "…"`).
//! Character-strings use RFC 1035 §5.1 quoting: `\"`, `\\` and `\DDD` escapes.

use crate::claim::Claim;
use crate::encoding::{compact, DecodeError, Decoded, Located};

/// The label that holds KEZ records under a domain.
pub const OWNER_LABEL: &str = "_kez";

/// The largest character-string, in bytes (RFC 1035 §3.3).
pub const MAX_STRING_LEN: usize = 255;

/// The TTL written by [`encode_zone_line`].
pub const DEFAULT_TTL: u32 = 3600;

/// Why a TXT presentation does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxtError {
    /// A quoted character-string has no closing quote.
    #[error("line {line}: unterminated quoted string")]
    Unterminated {
        /// 1-based line.
        line: usize,
    },
    /// A `\` escape is malformed.
    #[error("line {line}: invalid escape (expected \\X or \\DDD with DDD at most 255)")]
    BadEscape {
        /// 1-based line.
        line: usize,
    },
    /// A character-string is longer than 255 bytes.
    #[error("line {line}: character-string of {len} bytes; at most 255 are allowed")]
    StringTooLong {
        /// 1-based line.
        line: usize,
        /// Its length.
        len: usize,
    },
    /// A line is neither bare RDATA nor a TXT resource record.
    #[error("line {line}: not a TXT record (expected \"…\" strings or a zone line with TXT)")]
    NotTxt {
        /// 1-based line.
        line: usize,
    },
    /// No record starts with `kez:`.
    #[error("no TXT record holds a kez claim (none starts with \"kez:\")")]
    NoKezRecord,
}

/// The owner name of the records for `domain`: `_kez.<domain>.`.
pub fn owner_name(domain: &str) -> String {
    format!("{OWNER_LABEL}.{}.", domain.trim_end_matches('.'))
}

/// Splits `value` into character-strings of at most 255 bytes, in order.
pub fn split_strings(value: &[u8]) -> Vec<&[u8]> {
    value.chunks(MAX_STRING_LEN).collect()
}

/// The character-strings of the TXT record that publishes `claim`.
pub fn encode_strings(claim: &Claim) -> Vec<Vec<u8>> {
    split_strings(compact::encode(claim).as_bytes())
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Quotes character-strings in presentation form: `"…" "…"`.
pub fn quote_strings(strings: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        for &b in s {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('"');
    }
    out
}

/// One zone-file line publishing `claim`: owned by `_kez.<domain>.` for a `dns:` subject,
/// by the relative name `_kez` otherwise.
pub fn encode_zone_line(claim: &Claim) -> String {
    let owner = if claim.subject().scheme() == "dns" {
        owner_name(claim.subject().account())
    } else {
        OWNER_LABEL.to_string()
    };
    format!(
        "{owner} {DEFAULT_TTL} IN TXT {}\n",
        quote_strings(&encode_strings(claim))
    )
}

/// Decodes one record given as its character-strings, as a resolver returns them.
/// `None` means the record is not a KEZ record.
pub fn decode_record<S: AsRef<[u8]>>(strings: &[S]) -> Option<Result<Claim, DecodeError>> {
    let value: Vec<u8> = strings
        .iter()
        .flat_map(|s| s.as_ref().iter().copied())
        .collect();
    if !value.starts_with(b"kez:") {
        return None;
    }
    Some(match std::str::from_utf8(&value) {
        Ok(text) => compact::decode(text),
        Err(e) => Err(DecodeError::Utf8(e.valid_up_to())),
    })
}

/// True if the first non-blank line looks like a TXT resource record.
pub fn looks_like_zone_line(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with(';'))
        .is_some_and(|l| rdata_part(l).is_some())
}

/// The RDATA part of a presentation line: the whole line if it starts with a quote,
/// else what follows a `TXT` token that comes before any quote.
fn rdata_part(line: &str) -> Option<&str> {
    let trimmed = line.trim();
    if trimmed.starts_with('"') {
        return Some(trimmed);
    }
    let head_end = trimmed.find('"').unwrap_or(trimmed.len());
    let head = &trimmed[..head_end];
    let mut offset = 0;
    for token in head.split_ascii_whitespace() {
        let start = head[offset..].find(token).map(|i| i + offset)?;
        offset = start + token.len();
        if token.eq_ignore_ascii_case("TXT") {
            return Some(trimmed[offset..].trim());
        }
    }
    None
}

/// Parses RFC 1035 character-strings: quoted (with escapes) or bare tokens.
pub fn parse_character_strings(rdata: &str, line: usize) -> Result<Vec<Vec<u8>>, TxtError> {
    let bytes = rdata.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b';' {
            break; // comment to end of line
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut s = Vec::new();
        let mut closed = !quoted;
        while i < bytes.len() {
            let b = bytes[i];
            if quoted && b == b'"' {
                closed = true;
                i += 1;
                break;
            }
            if !quoted && b.is_ascii_whitespace() {
                break;
            }
            if b == b'\\' {
                let rest = &bytes[i + 1..];
                if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                    let v = (rest[0] - b'0') as u32 * 100
                        + (rest[1] - b'0') as u32 * 10
                        + (rest[2] - b'0') as u32;
                    let v = u8::try_from(v).map_err(|_| TxtError::BadEscape { line })?;
                    s.push(v);
                    i += 4;
                } else if let Some(&c) = rest.first() {
                    if c.is_ascii_digit() {
                        return Err(TxtError::BadEscape { line });
                    }
                    s.push(c);
                    i += 2;
                } else {
                    return Err(TxtError::BadEscape { line });
                }
                continue;
            }
            s.push(b);
            i += 1;
        }
        if !closed {
            return Err(TxtError::Unterminated { line });
        }
        if s.len() > MAX_STRING_LEN {
            return Err(TxtError::StringTooLong { line, len: s.len() });
        }
        strings.push(s);
    }
    Ok(strings)
}

/// Decodes every KEZ record in a presentation text of one record per line.
pub fn decode_presentation(text: &str) -> Result<Decoded, DecodeError> {
    let mut found = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') {
            continue;
        }
        let rdata = rdata_part(trimmed).ok_or(TxtError::NotTxt { line })?;
        let strings = parse_character_strings(rdata, line)?;
        if let Some(item) = decode_record(&strings) {
            found.push(Located { line, item });
        }
    }
    if found.is_empty() {
        return Err(TxtError::NoKezRecord.into());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ClaimBuilder;
    use crate::key::{Algorithm, SecretKey};

    fn claim() -> Claim {
        let key = SecretKey::from_bytes(Algorithm::Bip340, &[5; 32]).unwrap();
        ClaimBuilder::new("dns:example.com".parse().unwrap(), 1_767_225_600)
            .nonce("0123456789abcdefABCDEF")
            .sign(&key, Some(&[1; 32]))
            .unwrap()
    }

    #[test]
    fn zone_line_round_trips_and_splits_at_255() {
        let c = claim();
        let line = encode_zone_line(&c);
        assert!(
            line.starts_with("_kez.example.com. 3600 IN TXT \""),
            "{line}"
        );
        let strings = encode_strings(&c);
        assert!(strings.len() >= 2, "claim should need more than one string");
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert!(strings[..strings.len() - 1].iter().all(|s| s.len() == 255));
        let found = decode_presentation(&line).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].item.as_ref().unwrap().to_jcs(), c.to_jcs());
    }

    #[test]
    fn other_records_are_ignored_and_several_kez_records_decode() {
        let c = claim();
        let rdata = quote_strings(&encode_strings(&c));
        let text = format!(
            "; a comment\n_kez.example.com. IN TXT \"v=spf1 -all\"\n{rdata}\n_kez.example.com. 60 TXT \"kez:z1:AAAA\"\n"
        );
        let found = decode_presentation(&text).unwrap();
        assert_eq!(found.len(), 2);
        assert!(found[0].item.is_ok());
        assert!(found[1].item.is_err());
        assert_eq!(found[1].line, 4);
    }

    #[test]
    fn escapes_and_errors() {
        assert_eq!(
            parse_character_strings(r#""a\"b" "\065\\" bare"#, 1).unwrap(),
            vec![b"a\"b".to_vec(), b"A\\".to_vec(), b"bare".to_vec()]
        );
        assert_eq!(
            parse_character_strings("\"abc", 3),
            Err(TxtError::Unterminated { line: 3 })
        );
        assert_eq!(
            parse_character_strings(r#""\256""#, 1),
            Err(TxtError::BadEscape { line: 1 })
        );
        let long = format!("\"{}\"", "a".repeat(256));
        assert!(matches!(
            parse_character_strings(&long, 1),
            Err(TxtError::StringTooLong { len: 256, .. })
        ));
        assert!(matches!(
            decode_presentation("_kez.example.com. IN A 1.2.3.4"),
            Err(DecodeError::Dns(TxtError::NotTxt { line: 1 }))
        ));
        assert!(matches!(
            decode_presentation("\"v=spf1 -all\""),
            Err(DecodeError::Dns(TxtError::NoKezRecord))
        ));
    }

    #[test]
    fn strings_from_a_resolver_decode() {
        let c = claim();
        let strings = encode_strings(&c);
        assert_eq!(
            decode_record(&strings).unwrap().unwrap().to_jcs(),
            c.to_jcs()
        );
        assert!(decode_record(&[b"v=spf1".to_vec()]).is_none());
    }
}
