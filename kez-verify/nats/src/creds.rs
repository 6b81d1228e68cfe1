//! `.creds` files: a user JWT and its seed (nats-io/jwt `v2/creds_utils.go`:
//! `FormatUserConfig`, `DecorateSeed`, `ParseDecoratedJWT`, `ParseDecoratedNKey`).
//!
//! [`format()`] writes exactly what `FormatUserConfig` writes:
//!
//! ```text
//! -----BEGIN NATS USER JWT-----
//! eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ…
//! ------END NATS USER JWT------
//!
//! ************************* IMPORTANT *************************
//! NKEY Seed printed below can be used to sign and prove identity.
//! NKEYs are sensitive and should be treated as secrets.
//!
//! -----BEGIN USER NKEY SEED-----
//! SU…
//! ------END USER NKEY SEED------
//!
//! *************************************************************
//! ```
//!
//! with a final newline (async-nats 0.51 fails on a file without it).
//!
//! [`parse`] is as tolerant as the Go parsers (nats.go, nats-server, nsc), which find
//! blocks with the regular expression
//! `\s*(?:(?:[-]{3,}.*[-]{3,}\r?\n)([\w\-.=]+)(?:\r?\n[-]{3,}.*[-]{3,}(\r?\n|\z)))`:
//! any marker text between runs of at least three dashes, CRLF line ends, no banner, no
//! final newline; the first block is the JWT, the second the seed. Without a second
//! block, the first line starting `SU`, `SA` or `SO` is the seed, as in
//! `ParseDecoratedNKey`. Every departure from [`format()`]'s layout is listed in
//! [`Creds::deviations`] for strict checking.

use zeroize::Zeroizing;

use crate::nkey::{NkeyError, Role, Seed};

const JWT_BEGIN: &str = "-----BEGIN NATS USER JWT-----";
const JWT_END: &str = "------END NATS USER JWT------";
const BANNER: [&str; 3] = [
    "************************* IMPORTANT *************************",
    "NKEY Seed printed below can be used to sign and prove identity.",
    "NKEYs are sensitive and should be treated as secrets.",
];
const SEED_BEGIN: &str = "-----BEGIN USER NKEY SEED-----";
const SEED_END: &str = "------END USER NKEY SEED------";
const FOOTER: &str = "*************************************************************";

/// Writes a `.creds` file's text, exactly as nats-io/jwt `FormatUserConfig` does. The
/// result holds the seed and is zeroized on drop.
pub fn format(jwt: &str, seed: &Seed) -> Zeroizing<String> {
    let seed_text = seed.to_text();
    let mut out = Zeroizing::new(String::with_capacity(1024));
    for line in [
        JWT_BEGIN, jwt, JWT_END, "", BANNER[0], BANNER[1], BANNER[2], "",
    ] {
        out.push_str(line);
        out.push('\n');
    }
    for line in [SEED_BEGIN, seed_text.as_str(), SEED_END, "", FOOTER] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// How a `.creds` file departs from the layout [`format()`] writes. Never carries key
/// material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deviation {
    /// Lines end in CRLF.
    CrLf,
    /// The file does not end with a newline (async-nats cannot read it).
    NoFinalNewline,
    /// A line differs from the upstream layout (1-based line number, after CRLF
    /// normalisation), or is missing.
    Line {
        /// The line number.
        line: usize,
        /// What belongs there: `jwt begin marker`, `important banner`, …
        expected: &'static str,
    },
    /// Text after the last line of the layout.
    TrailingText,
    /// Blank lines after the closing banner (the layout ends with exactly one newline).
    TrailingBlankLines,
}

impl std::fmt::Display for Deviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deviation::CrLf => f.write_str("lines end in CRLF, not LF"),
            Deviation::NoFinalNewline => {
                f.write_str("no final newline (async-nats fails to read such a file)")
            }
            Deviation::Line { line, expected } => {
                write!(f, "line {line} is not the upstream {expected}")
            }
            Deviation::TrailingText => f.write_str("text after the closing banner"),
            Deviation::TrailingBlankLines => f.write_str("blank lines after the closing banner"),
        }
    }
}

/// Why a `.creds` file could not be read. Never quotes the seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredsError {
    /// No decorated JWT block was found.
    #[error("no JWT block (-----BEGIN … JWT----- … ------END … JWT------)")]
    NoJwt,
    /// No seed was found.
    #[error("no nkey seed found")]
    NoSeed,
    /// The seed does not decode.
    #[error("the seed is malformed: {0}")]
    Seed(NkeyError),
    /// The seed is not a user seed.
    #[error("expected a user seed, found a seed of role {0}")]
    NotUserSeed(Role),
}

impl CredsError {
    /// The stable kind: always `malformed`.
    pub fn kind(&self) -> &'static str {
        "malformed"
    }
}

/// A parsed `.creds` file.
#[derive(Debug)]
pub struct Creds {
    jwt: String,
    seed: Seed,
    deviations: Vec<Deviation>,
}

impl Creds {
    /// The JWT text (not yet decoded or verified).
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// The user seed.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// Departures from the upstream layout; empty when the file is byte-identical to
    /// what [`format()`] writes.
    pub fn deviations(&self) -> &[Deviation] {
        &self.deviations
    }
}

fn is_marker(line: &str) -> bool {
    line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
}

fn is_block_content(line: &str) -> bool {
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
}

/// Finds the decorated blocks (marker, content, marker) in `text`, in order.
pub(crate) fn blocks(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let (a, b, c) = (lines[i].trim_start(), lines[i + 1], lines[i + 2]);
        if is_marker(a) && is_block_content(b) && is_marker(c) {
            out.push(b);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Parses a `.creds` file as tolerantly as the Go parsers do, and lists every
/// departure from the upstream layout.
pub fn parse(text: &str) -> Result<Creds, CredsError> {
    let found = blocks(text);
    let jwt = found.first().ok_or(CredsError::NoJwt)?.to_string();
    let seed_text = match found.get(1) {
        Some(seed) => *seed,
        None => text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("SU") || l.starts_with("SA") || l.starts_with("SO"))
            .ok_or(CredsError::NoSeed)?,
    };
    let seed = Seed::parse(seed_text).map_err(CredsError::Seed)?;
    if seed.role() != Role::User {
        return Err(CredsError::NotUserSeed(seed.role()));
    }
    let deviations = deviations(text, &format(&jwt, &seed));
    Ok(Creds {
        jwt,
        seed,
        deviations,
    })
}

fn deviations(text: &str, canonical: &str) -> Vec<Deviation> {
    if text == canonical {
        return Vec::new();
    }
    let mut out = Vec::new();
    if text.contains('\r') {
        out.push(Deviation::CrLf);
    }
    if !text.ends_with('\n') {
        out.push(Deviation::NoFinalNewline);
    }
    const ROLES: [&str; 13] = [
        "jwt begin marker",
        "jwt",
        "jwt end marker",
        "empty line",
        "important banner",
        "banner text",
        "banner text",
        "empty line",
        "seed begin marker",
        "seed",
        "seed end marker",
        "empty line",
        "closing banner",
    ];
    let normalised = text.replace("\r\n", "\n");
    let ours: Vec<&str> = normalised.trim_end_matches('\n').split('\n').collect();
    let theirs: Vec<&str> = canonical.trim_end_matches('\n').split('\n').collect();
    for (i, expected) in theirs.iter().enumerate() {
        if ours.get(i) != Some(expected) {
            out.push(Deviation::Line {
                line: i + 1,
                expected: ROLES[i],
            });
            break;
        }
    }
    if ours.len() > theirs.len() && ours[..theirs.len()] == theirs[..] {
        out.push(Deviation::TrailingText);
    }
    // Only when every line of the layout is there: otherwise a line deviation says it.
    if ours == theirs && normalised.ends_with("\n\n") {
        out.push(Deviation::TrailingBlankLines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::claims::UserClaims;

    const SEED: &str = "SUACH75SWCM5D2JMJM6EKLR2WDARVGZT4QC6LX3AGHSWOMVAKERABBBRWM";

    fn vector() -> String {
        let account = Seed::generate(Role::Account).unwrap();
        let user = Seed::parse(SEED).unwrap();
        let mut claims = UserClaims::new(user.public_key().to_string());
        let jwt = crate::jwt::encode(&mut claims, &account, 1).unwrap();
        format(&jwt, &user).to_string()
    }

    #[test]
    fn formatted_creds_parse_without_deviation() {
        let text = vector();
        assert!(text.ends_with("*************************************************************\n"));
        let creds = parse(&text).unwrap();
        assert!(creds.deviations().is_empty(), "{:?}", creds.deviations());
        assert_eq!(creds.seed().to_text().as_str(), SEED);
        assert_eq!(format(creds.jwt(), creds.seed()).as_str(), text);
    }

    #[test]
    fn tolerant_parse_lists_deviations() {
        let vector = vector();
        let vector = vector.as_str();
        let crlf = vector.replace('\n', "\r\n");
        let creds = parse(&crlf).unwrap();
        assert_eq!(creds.deviations(), [Deviation::CrLf]);

        let no_newline = vector.trim_end_matches('\n');
        assert_eq!(
            parse(no_newline).unwrap().deviations(),
            [Deviation::NoFinalNewline]
        );

        let bare: String = vector
            .lines()
            .filter(|l| !l.starts_with('*') && !l.starts_with("NKEY"))
            .map(|l| format!("{l}\n"))
            .collect();
        let creds = parse(&bare).unwrap();
        assert_eq!(
            creds.deviations(),
            [Deviation::Line {
                line: 5,
                expected: "important banner"
            }]
        );

        let markers = vector.replace("NATS USER JWT", "TEST USER JWT");
        let creds = parse(&markers).unwrap();
        assert_eq!(
            creds.deviations(),
            [Deviation::Line {
                line: 1,
                expected: "jwt begin marker"
            }]
        );
        let blank = format!("{vector}\n\n");
        assert_eq!(
            parse(&blank).unwrap().deviations(),
            [Deviation::TrailingBlankLines]
        );
        let blank_crlf = format!("{vector}\n").replace('\n', "\r\n");
        assert_eq!(
            parse(&blank_crlf).unwrap().deviations(),
            [Deviation::CrLf, Deviation::TrailingBlankLines]
        );
        let trailing = format!("{vector}extra\n");
        assert_eq!(
            parse(&trailing).unwrap().deviations(),
            [Deviation::TrailingText]
        );
    }

    #[test]
    fn errors_are_typed_and_never_quote_the_seed() {
        let vector = vector();
        let vector = vector.as_str();
        assert_eq!(parse("nothing here").unwrap_err(), CredsError::NoJwt);
        let only_jwt: String = vector.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse(&only_jwt).unwrap_err(), CredsError::NoSeed);
        let seed = SEED;
        let broken = vector.replace(seed, &seed.replace("SUACH", "SUACI"));
        let err = parse(&broken).unwrap_err();
        assert_eq!(err, CredsError::Seed(NkeyError::Crc));
        assert!(!err.to_string().contains("SUAC"));
        let account = Seed::generate(Role::Account).unwrap();
        let swapped = vector.replace(seed, &account.to_text());
        assert_eq!(
            parse(&swapped).unwrap_err(),
            CredsError::NotUserSeed(Role::Account)
        );
    }
}
