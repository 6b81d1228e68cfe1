//! The four wire encodings of a claim (SPEC.md §6) and their detection (SPEC.md §6.5).
//!
//! | encoding | grammar | module |
//! |---|---|---|
//! | JSON | any I-JSON text of the claim object; verifiers re-canonicalise | [`Claim::from_json`] |
//! | compact | `kez:z1:` base64url-nopad( zstd( JCS ) ) | [`compact`] |
//! | Markdown | fenced blocks whose info string is `kez` | [`markdown`] |
//! | DNS TXT | TXT records at `_kez.<domain>` holding the compact form | [`dns_txt`] |

pub mod compact;
pub mod dns_txt;
pub mod markdown;

use std::fmt;
use std::str::FromStr;

use crate::claim::{Claim, ClaimError};

/// One of the four encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON text (SPEC.md §6.1).
    Json,
    /// `kez:z1:` compact form (SPEC.md §6.2).
    Compact,
    /// Markdown fence (SPEC.md §6.3).
    Markdown,
    /// DNS TXT record (SPEC.md §6.4).
    Dns,
}

impl Encoding {
    /// All encodings, in SPEC.md order.
    pub const ALL: [Encoding; 4] = [
        Encoding::Json,
        Encoding::Compact,
        Encoding::Markdown,
        Encoding::Dns,
    ];

    /// The encoding's name: `json`, `compact`, `markdown` or `dns`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Compact => "compact",
            Encoding::Markdown => "markdown",
            Encoding::Dns => "dns",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, DecodeError> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| DecodeError::UnknownEncoding(s.chars().take(24).collect()))
    }
}

/// Why encoded bytes do not decode to a claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The encoding name is not one of the four.
    #[error("unknown encoding {0:?} (expected json, compact, markdown or dns)")]
    UnknownEncoding(String),
    /// The input is not valid UTF-8 where text is required.
    #[error("input is not valid UTF-8 (at byte {0})")]
    Utf8(usize),
    /// The input matches none of the four encodings.
    #[error("input is not a claim in any known encoding (expected a JSON object, kez:z1:…, a ```kez fence or a TXT record)")]
    Unrecognised,
    /// The decoded object is not a well-formed claim.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// The compact form is broken.
    #[error("compact form: {0}")]
    Compact(#[from] compact::CompactError),
    /// A Markdown document has no `kez` fence.
    #[error("markdown: no fenced block with info string \"kez\" found")]
    NoFence,
    /// A DNS TXT presentation is broken.
    #[error("dns txt: {0}")]
    Dns(#[from] dns_txt::TxtError),
}

impl DecodeError {
    /// True when the input is well-formed but of a version or form this verifier does
    /// not support (SPEC.md §8.2 reason `unsupported`), rather than malformed.
    pub fn is_unsupported(&self) -> bool {
        match self {
            DecodeError::Claim(c) => c.is_unsupported(),
            DecodeError::Compact(c) => matches!(c, compact::CompactError::UnsupportedVersion(_)),
            _ => false,
        }
    }
}

/// A claim found in some input, with where it was found.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// 1-based line of the input where the claim starts.
    pub line: usize,
    /// The decoded claim, or why it did not decode.
    pub item: T,
}

/// Guesses the encoding of `input` (SPEC.md §6.5).
///
/// After leading whitespace: `{` is JSON, `kez:` is compact, `"` or a zone-file line
/// with a `TXT` token is DNS, and a document containing a `kez` fence is Markdown.
pub fn detect(input: &[u8]) -> Result<Encoding, DecodeError> {
    let text = std::str::from_utf8(input).map_err(|e| DecodeError::Utf8(e.valid_up_to()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return Ok(Encoding::Json);
    }
    if trimmed.starts_with("kez:") {
        return Ok(Encoding::Compact);
    }
    if markdown::has_kez_fence(text) {
        return Ok(Encoding::Markdown);
    }
    if trimmed.starts_with('"') || dns_txt::looks_like_zone_line(trimmed) {
        return Ok(Encoding::Dns);
    }
    Err(DecodeError::Unrecognised)
}

/// The claims found in an input, each with the line it starts at, decoded or not.
pub type Decoded = Vec<Located<Result<Claim, DecodeError>>>;

/// Detects the encoding of `input` and decodes it: the same as [`detect`] then [`decode`],
/// except that a Markdown document is parsed once, not once to detect and again to decode.
pub fn decode_detected(input: &[u8]) -> Result<(Encoding, Decoded), DecodeError> {
    let text = std::str::from_utf8(input).map_err(|e| DecodeError::Utf8(e.valid_up_to()))?;
    let trimmed = text.trim_start();
    let encoding = if trimmed.starts_with('{') {
        Encoding::Json
    } else if trimmed.starts_with("kez:") {
        Encoding::Compact
    } else {
        if let Some(blocks) = markdown::kez_fences(text) {
            return Ok((Encoding::Markdown, markdown::decode_blocks(blocks)));
        }
        if trimmed.starts_with('"') || dns_txt::looks_like_zone_line(trimmed) {
            Encoding::Dns
        } else {
            return Err(DecodeError::Unrecognised);
        }
    };
    Ok((encoding, decode(input, encoding)?))
}

/// Decodes every claim in `input` in the given encoding. JSON and compact inputs hold one
/// claim; Markdown documents and TXT record sets may hold several, each decoded on its own.
pub fn decode(input: &[u8], encoding: Encoding) -> Result<Decoded, DecodeError> {
    let text = || std::str::from_utf8(input).map_err(|e| DecodeError::Utf8(e.valid_up_to()));
    match encoding {
        Encoding::Json => Ok(vec![Located {
            line: 1,
            item: Claim::from_json(input).map_err(DecodeError::from),
        }]),
        Encoding::Compact => {
            let token = text()?.trim();
            Ok(vec![Located {
                line: 1,
                item: compact::decode(token),
            }])
        }
        Encoding::Markdown => {
            let found = markdown::decode_all(text()?);
            if found.is_empty() {
                return Err(DecodeError::NoFence);
            }
            Ok(found)
        }
        Encoding::Dns => dns_txt::decode_presentation(text()?),
    }
}

/// Encodes `claim` as text. DNS output is one TXT record in zone-file form, owned by
/// `_kez.<domain>.` for `dns:` subjects and by the relative name `_kez` otherwise.
pub fn encode(claim: &Claim, encoding: Encoding) -> String {
    match encoding {
        Encoding::Json => String::from_utf8_lossy(claim.to_jcs()).into_owned(),
        Encoding::Compact => compact::encode(claim),
        Encoding::Markdown => markdown::encode(claim),
        Encoding::Dns => dns_txt::encode_zone_line(claim),
    }
}
