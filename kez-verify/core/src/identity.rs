//! Identities `<scheme>:<account>` and their normalisation (SPEC.md §3).
//!
//! Every identity has exactly one canonical text form, and KEZ objects carry only that
//! form: a verifier compares identities byte for byte after [`Identity::parse`].
//!
//! | scheme | account | canonical form |
//! |---|---|---|
//! | `dns` | a domain name | lowercase A-labels (UTS #46, STD3 rules), no trailing dot |
//! | `github` | a GitHub login, `@` allowed in front | lowercase ASCII |
//! | `nostr` | `npub1…` or 64 hex | `npub1…` (NIP-19) |
//! | `bluesky` | a handle, `@` allowed in front | lowercase ASCII domain, no trailing dot |
//! | `ap` (alias `mastodon`) | `user@host`, `@` allowed in front | lowercase `user@host`, host as for `dns` |
//!
//! Look-alikes are rejected, never folded: non-ASCII characters in a GitHub login, a
//! Bluesky handle or an ActivityPub user name; an internationalised domain label that
//! mixes scripts (UTS #39 single-script test), or whose UTS #39 skeleton is all ASCII (a
//! whole-script confusable of an ASCII label, such as Cyrillic `аррӏе`).

use std::fmt;
use std::str::FromStr;

use unicode_security::{skeleton, MixedScript};

use crate::key::{KeyError, PublicKey};

/// The longest identity text accepted, in bytes (SPEC.md §3.1).
pub const MAX_IDENTITY_LEN: usize = 320;

/// Why a text is not an identity (SPEC.md §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// No `:` separates scheme and account.
    #[error("identity {0:?} has no scheme (expected <scheme>:<account>, e.g. github:jason)")]
    MissingScheme(String),
    /// The scheme is not `[a-z][a-z0-9-]{0,31}`.
    #[error("scheme {0:?} is not valid (expected a lowercase letter followed by up to 31 of a-z, 0-9, -)")]
    BadScheme(String),
    /// The identity is longer than [`MAX_IDENTITY_LEN`].
    #[error("identity is {0} bytes long; at most {MAX_IDENTITY_LEN} are allowed")]
    TooLong(usize),
    /// The account part is empty.
    #[error("{scheme} identity has an empty account")]
    EmptyAccount {
        /// The scheme.
        scheme: String,
    },
    /// A character that is never allowed (whitespace or a control character).
    #[error("{scheme} account contains {ch:?} (U+{code:04X}) at byte {at}: whitespace and control characters are not allowed")]
    ForbiddenChar {
        /// The scheme.
        scheme: String,
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// Byte offset in the account.
        at: usize,
    },
    /// A non-ASCII character where only ASCII is allowed (a possible look-alike).
    #[error("{scheme} account contains non-ASCII {ch:?} (U+{code:04X}) at byte {at}: only ASCII is allowed, look-alike characters are rejected")]
    NonAscii {
        /// The scheme.
        scheme: String,
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// Byte offset in the account.
        at: usize,
    },
    /// The account breaks the syntax of its scheme.
    #[error("{scheme} account {account:?} is not valid: {reason}")]
    Syntax {
        /// The scheme.
        scheme: String,
        /// The account as given.
        account: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// An internationalised domain label mixes scripts.
    #[error(
        "domain label {label:?} mixes scripts; mixed-script labels are rejected as look-alikes"
    )]
    MixedScript {
        /// The label in Unicode form.
        label: String,
    },
    /// An internationalised domain label is a whole-script confusable of an ASCII label.
    #[error("domain label {label:?} looks like the ASCII label {skeleton:?}; whole-script look-alikes are rejected")]
    Confusable {
        /// The label in Unicode form.
        label: String,
        /// The ASCII text it can be mistaken for.
        skeleton: String,
    },
    /// The nostr account is not a valid key.
    #[error("nostr account is not a valid key: {0}")]
    Nostr(KeyError),
}

/// A normalised identity (SPEC.md §3). Construct it with [`Identity::parse`].
///
/// ```
/// use kez_core::Identity;
/// let id: Identity = "GitHub:@Jason".parse().unwrap();
/// assert_eq!(id.to_string(), "github:jason");
/// let ap: Identity = "mastodon:@Alice@Example.Social.".parse().unwrap();
/// assert_eq!(ap.to_string(), "ap:alice@example.social");
/// assert!("github:jаson".parse::<Identity>().is_err()); // Cyrillic а
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    scheme: String,
    account: String,
}

impl Identity {
    /// Parses and normalises an identity (SPEC.md §3.2).
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        if text.len() > MAX_IDENTITY_LEN {
            return Err(IdentityError::TooLong(text.len()));
        }
        let (scheme, account) = text
            .split_once(':')
            .ok_or_else(|| IdentityError::MissingScheme(text.chars().take(40).collect()))?;
        let scheme = normalize_scheme(scheme)?;
        if account.is_empty() {
            return Err(IdentityError::EmptyAccount { scheme });
        }
        reject_forbidden_chars(&scheme, account)?;
        let account = match scheme.as_str() {
            "dns" => normalize_domain(&scheme, account)?,
            "github" => normalize_github(account)?,
            "nostr" => normalize_nostr(account)?,
            "bluesky" => normalize_bluesky(account)?,
            "ap" => normalize_ap(account)?,
            _ => normalize_opaque(&scheme, account)?,
        };
        // Normalisation can lengthen (punycode); the canonical form obeys the limit too,
        // so every canonical identity re-parses.
        let canonical_len = scheme.len() + 1 + account.len();
        if canonical_len > MAX_IDENTITY_LEN {
            return Err(IdentityError::TooLong(canonical_len));
        }
        Ok(Self { scheme, account })
    }

    /// The canonical scheme (`ap` for `mastodon`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The canonical account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// True for the five schemes SPEC.md §3.2 defines; other schemes are opaque.
    pub fn is_known_scheme(&self) -> bool {
        matches!(
            self.scheme.as_str(),
            "dns" | "github" | "nostr" | "bluesky" | "ap"
        )
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.account)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({self})")
    }
}

impl FromStr for Identity {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, IdentityError> {
        Self::parse(s)
    }
}

fn normalize_scheme(scheme: &str) -> Result<String, IdentityError> {
    let lower = scheme.to_ascii_lowercase();
    let valid = !lower.is_empty()
        && lower.len() <= 32
        && lower.as_bytes()[0].is_ascii_lowercase()
        && lower
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(IdentityError::BadScheme(scheme.chars().take(40).collect()));
    }
    Ok(match lower.as_str() {
        "mastodon" => "ap".to_string(),
        _ => lower,
    })
}

fn reject_forbidden_chars(scheme: &str, account: &str) -> Result<(), IdentityError> {
    for (at, ch) in account.char_indices() {
        if ch.is_whitespace() || ch.is_control() || is_invisible(ch) {
            return Err(IdentityError::ForbiddenChar {
                scheme: scheme.to_string(),
                ch,
                code: ch as u32,
                at,
            });
        }
    }
    Ok(())
}

/// Zero-width and bidirectional formatting characters that render as nothing.
fn is_invisible(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn require_ascii(scheme: &str, account: &str) -> Result<(), IdentityError> {
    match account.char_indices().find(|(_, c)| !c.is_ascii()) {
        Some((at, ch)) => Err(IdentityError::NonAscii {
            scheme: scheme.to_string(),
            ch,
            code: ch as u32,
            at,
        }),
        None => Ok(()),
    }
}

fn syntax(scheme: &str, account: &str, reason: &'static str) -> IdentityError {
    IdentityError::Syntax {
        scheme: scheme.to_string(),
        account: account.chars().take(80).collect(),
        reason,
    }
}

/// Normalises a domain name (SPEC.md §3.3): one trailing dot removed, UTS #46 mapping to
/// lowercase A-labels with STD3 rules, at least two labels, not an IP address, and every
/// internationalised label single-script and not a whole-script look-alike of ASCII.
pub fn normalize_domain(scheme: &str, text: &str) -> Result<String, IdentityError> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    if trimmed.is_empty() || trimmed.ends_with('.') {
        return Err(syntax(scheme, text, "empty label"));
    }
    let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| {
        syntax(
            scheme,
            text,
            "not a valid domain name under UTS #46 with STD3 rules",
        )
    })?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(syntax(scheme, text, "a domain needs at least two labels"));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(syntax(scheme, text, "IP addresses are not domain names"));
    }
    for label in &labels {
        if label.len() > 63 {
            return Err(syntax(scheme, text, "a label is longer than 63 bytes"));
        }
        if let Some(puny) = label.strip_prefix("xn--") {
            check_idn_label(scheme, text, puny)?;
        }
    }
    Ok(ascii)
}

fn check_idn_label(scheme: &str, text: &str, puny: &str) -> Result<(), IdentityError> {
    let (unicode, result) = idna::domain_to_unicode(&format!("xn--{puny}"));
    if result.is_err() {
        return Err(syntax(scheme, text, "a label is not valid punycode"));
    }
    if !unicode.as_str().is_single_script() {
        return Err(IdentityError::MixedScript { label: unicode });
    }
    let skel: String = skeleton(&unicode).collect();
    if skel.is_ascii() {
        return Err(IdentityError::Confusable {
            label: unicode,
            skeleton: skel,
        });
    }
    Ok(())
}

fn normalize_github(account: &str) -> Result<String, IdentityError> {
    let login = account.strip_prefix('@').unwrap_or(account);
    require_ascii("github", login)?;
    let ok_chars = login
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if login.is_empty() || login.len() > 39 {
        return Err(syntax("github", account, "a login has 1 to 39 characters"));
    }
    if !ok_chars {
        return Err(syntax(
            "github",
            account,
            "a login has only letters, digits and hyphens",
        ));
    }
    if login.starts_with('-') || login.ends_with('-') || login.contains("--") {
        return Err(syntax(
            "github",
            account,
            "a login neither starts nor ends with a hyphen nor has two in a row",
        ));
    }
    Ok(login.to_ascii_lowercase())
}

fn normalize_nostr(account: &str) -> Result<String, IdentityError> {
    let key = if account.starts_with("npub1") {
        PublicKey::from_npub(account)
    } else {
        PublicKey::from_hex(crate::key::Algorithm::Bip340, &account.to_ascii_lowercase())
    }
    .map_err(IdentityError::Nostr)?;
    key.to_npub()
        .ok_or(IdentityError::Nostr(KeyError::Bip340Key))
}

fn normalize_bluesky(account: &str) -> Result<String, IdentityError> {
    let handle = account.strip_prefix('@').unwrap_or(account);
    require_ascii("bluesky", handle)?;
    let domain = normalize_domain("bluesky", handle)?;
    if domain.len() > 253 {
        return Err(syntax(
            "bluesky",
            account,
            "a handle is at most 253 characters",
        ));
    }
    if domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(syntax(
            "bluesky",
            account,
            "the last label of a handle starts with a letter",
        ));
    }
    Ok(domain)
}

fn normalize_ap(account: &str) -> Result<String, IdentityError> {
    let text = account.strip_prefix('@').unwrap_or(account);
    let (user, host) = text
        .split_once('@')
        .ok_or_else(|| syntax("ap", account, "expected user@host"))?;
    require_ascii("ap", user)?;
    if user.is_empty() || user.len() > 64 {
        return Err(syntax("ap", account, "a user name has 1 to 64 characters"));
    }
    let ok = user
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    let edges_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if !ok || !edges_ok(user.as_bytes()[0]) || !edges_ok(user.as_bytes()[user.len() - 1]) {
        return Err(syntax(
            "ap",
            account,
            "a user name has letters, digits, _ . - and starts and ends with a letter, digit or _",
        ));
    }
    if host.contains('@') {
        return Err(syntax(
            "ap",
            account,
            "expected exactly one @ between user and host",
        ));
    }
    let host = normalize_domain("ap", host)?;
    Ok(format!("{}@{}", user.to_ascii_lowercase(), host))
}

fn normalize_opaque(scheme: &str, account: &str) -> Result<String, IdentityError> {
    require_ascii(scheme, account)?;
    Ok(account.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, canonical: &str) {
        assert_eq!(
            Identity::parse(input).unwrap().to_string(),
            canonical,
            "{input}"
        );
    }

    #[test]
    fn normalises_the_five_schemes() {
        ok("dns:Example.COM.", "dns:example.com");
        ok("dns:bücher.example", "dns:xn--bcher-kva.example");
        ok("github:@Jason", "github:jason");
        ok("bluesky:@Alice.BSKY.social", "bluesky:alice.bsky.social");
        ok("ap:@Alice@Example.Social", "ap:alice@example.social");
        ok("mastodon:alice@example.social", "ap:alice@example.social");
        ok(
            "nostr:79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798",
            "nostr:npub10xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqpkge6d",
        );
        ok("x-custom:Whatever/123", "x-custom:Whatever/123");
    }

    #[test]
    fn rejects_look_alikes() {
        // Cyrillic а in a GitHub login.
        assert!(matches!(
            Identity::parse("github:j\u{430}son"),
            Err(IdentityError::NonAscii { .. })
        ));
        // Mixed Latin and Cyrillic in a domain label.
        assert!(matches!(
            Identity::parse("dns:p\u{430}ypal.com"),
            Err(IdentityError::MixedScript { .. })
        ));
        // All-Cyrillic whole-script confusable of "apple".
        assert!(matches!(
            Identity::parse("dns:\u{430}\u{440}\u{440}\u{4cf}\u{435}.com"),
            Err(IdentityError::Confusable { .. })
        ));
        // Fullwidth letters in a Bluesky handle are not folded.
        assert!(matches!(
            Identity::parse("bluesky:\u{ff41}lice.bsky.social"),
            Err(IdentityError::NonAscii { .. })
        ));
        // Zero-width space.
        assert!(matches!(
            Identity::parse("github:ja\u{200b}son"),
            Err(IdentityError::ForbiddenChar { .. })
        ));
    }

    #[test]
    fn canonical_form_obeys_the_length_limit() {
        // An ap identity: a 64-character user and a 253-byte host whose one IDN label is
        // 42 bytes of UTF-8 but 48 as an A-label. 315 bytes in, 321 canonical.
        let idn = "中文域名测试网络身份证明验证";
        let host = format!(
            "{idn}.{}.{}.{}.examplecomxy",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        let input = format!("ap:{}@{host}", "u".repeat(64));
        assert_eq!(input.len(), 315);
        assert!(matches!(
            Identity::parse(&input),
            Err(IdentityError::TooLong(321))
        ));
        let shorter = format!("ap:{}@{host}", "u".repeat(63));
        let id = Identity::parse(&shorter).unwrap();
        assert_eq!(id.to_string().len(), 320);
        assert_eq!(Identity::parse(&id.to_string()).unwrap(), id);
    }

    #[test]
    fn rejects_malformed_accounts() {
        for bad in [
            "github:",
            "github:-jason",
            "github:ja--son",
            "github:a234567890123456789012345678901234567890",
            "dns:localhost",
            "dns:127.0.0.1",
            "dns:exa_mple.com",
            "dns:example.com..",
            "ap:alice",
            "ap:alice@b@example.com",
            "nostr:npub1xyz",
            "1bad:scheme",
            "noscheme",
            "github:ja son",
        ] {
            assert!(Identity::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
