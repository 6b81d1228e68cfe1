//! Paths inside a suite folder (docs/SUITES.md, "Paths").
//!
//! Every path a manifest names is relative to the suite folder, uses `/` between
//! components, and stays inside the folder. A [`SuitePath`] can only be built by
//! [`SuitePath::parse`], which refuses absolute paths, `..` and `.` components,
//! backslashes, empty components, hidden names and characters outside the portable set
//! `A–Z a–z 0–9 . _ -` (so that a suite checks out the same on every file system).

use std::fmt;

/// The manifest's own file name; it cannot be listed in the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The detached signature of the manifest; it cannot be listed in the manifest.
pub const SIGNATURE_FILE: &str = "manifest.json.sig";

/// The longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 255;

/// The longest path component accepted, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 128;

/// Why a text is not a suite path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("path is empty")]
    Empty,
    /// The path starts at the root of a file system or names a drive.
    #[error("path {0:?} is absolute; paths are relative to the suite folder")]
    Absolute(String),
    /// The path has a `..` component, which could leave the suite folder.
    #[error(
        "path {0:?} has a `..` component (path traversal); paths must stay inside the suite folder"
    )]
    Traversal(String),
    /// The path breaks another rule.
    #[error("path {path:?}: {reason}")]
    Invalid {
        /// The path.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The path names the manifest or its signature.
    #[error("path {0:?} is reserved for the manifest and its signature")]
    Reserved(String),
}

/// A validated relative path inside a suite folder, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SuitePath(String);

impl SuitePath {
    /// Checks `text` against the path rules.
    ///
    /// ```
    /// use kez_suite::path::SuitePath;
    /// assert!(SuitePath::parse("cases/claims/valid/claim.json").is_ok());
    /// assert!(SuitePath::parse("../secret").is_err());
    /// assert!(SuitePath::parse("/etc/passwd").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, PathError> {
        if is_plainly_valid(text.as_bytes()) {
            return Ok(Self(text.to_string()));
        }
        let invalid = |reason: String| PathError::Invalid {
            path: shorten(text),
            reason,
        };
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let bytes = text.as_bytes();
        if text.starts_with('/')
            || text.starts_with('\\')
            || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
        {
            return Err(PathError::Absolute(shorten(text)));
        }
        if text.split(['/', '\\']).any(|c| c == "..") {
            return Err(PathError::Traversal(shorten(text)));
        }
        if text.contains('\\') {
            return Err(invalid("`\\` is not a separator; use `/`".into()));
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(invalid(format!(
                "{} bytes long; at most {MAX_PATH_BYTES} are allowed",
                text.len()
            )));
        }
        for component in text.split('/') {
            if component.is_empty() {
                return Err(invalid(
                    "empty component (a leading, doubled or trailing `/`)".into(),
                ));
            }
            if component == "." {
                return Err(invalid("`.` component".into()));
            }
            if component.starts_with('.') {
                return Err(invalid(format!(
                    "hidden name {component:?} (names may not start with `.`)"
                )));
            }
            if component.len() > MAX_COMPONENT_BYTES {
                return Err(invalid(format!(
                    "component of {} bytes; at most {MAX_COMPONENT_BYTES} are allowed",
                    component.len()
                )));
            }
            if let Some(c) = component
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(invalid(format!(
                    "character {c:?} is outside the portable set A-Z a-z 0-9 . _ -"
                )));
            }
        }
        if text == MANIFEST_FILE || text == SIGNATURE_FILE {
            return Err(PathError::Reserved(text.to_string()));
        }
        Ok(Self(text.to_string()))
    }

    /// [`SuitePath::parse`] of an owned text, keeping its allocation when it is valid and
    /// handing it back with the error when it is not.
    pub(crate) fn parse_owned(text: String) -> Result<Self, (PathError, String)> {
        if is_plainly_valid(text.as_bytes()) {
            Ok(Self(text))
        } else {
            Self::parse(&text).map_err(|error| (error, text))
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self/name`, checked like [`SuitePath::parse`].
    pub fn join(&self, name: &str) -> Result<Self, PathError> {
        Self::parse(&format!("{}/{name}", self.0))
    }

    /// The path with its components joined to `root` for this platform.
    pub fn under(&self, root: &std::path::Path) -> std::path::PathBuf {
        let mut out = root.to_path_buf();
        out.extend(self.0.split('/'));
        out
    }
}

/// A single pass over `bytes` that accepts only paths every rule of [`SuitePath::parse`]
/// accepts: portable characters and `/`, no empty, hidden (so no `.` or `..`) or
/// over-long component, not too long, not reserved. Anything else, valid or not, goes
/// through the full checks, which say what is wrong.
fn is_plainly_valid(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.len() > MAX_PATH_BYTES {
        return false;
    }
    let mut component = 0usize;
    for &b in bytes {
        if b == b'/' {
            if component == 0 {
                return false;
            }
            component = 0;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            || (component == 0 && b == b'.')
        {
            return false;
        }
        component += 1;
        if component > MAX_COMPONENT_BYTES {
            return false;
        }
    }
    component != 0 && bytes != MANIFEST_FILE.as_bytes() && bytes != SIGNATURE_FILE.as_bytes()
}

/// A path orders, compares and hashes as its text, so maps keyed by paths can be searched
/// with a `&str`.
impl std::borrow::Borrow<str> for SuitePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SuitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SuitePath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, PathError> {
        Self::parse(s)
    }
}

/// At most 80 characters of `text`, for error messages about untrusted input.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_relative_paths_are_accepted() {
        for ok in [
            "README.md",
            "cases/claims/valid-ed25519/claim.json",
            "a/b_c/d-e.f.jsonl",
            "manifest.json.bak",
        ] {
            assert_eq!(SuitePath::parse(ok).map(|p| p.to_string()), Ok(ok.into()));
        }
    }

    #[test]
    fn traversal_and_absolute_paths_are_rejected_by_kind() {
        for bad in ["../x", "a/../../x", "a/..", "..", "a\\..\\x"] {
            assert!(
                matches!(SuitePath::parse(bad), Err(PathError::Traversal(_))),
                "{bad}"
            );
        }
        for bad in ["/etc/passwd", "\\x", "C:/x", "c:x"] {
            assert!(
                matches!(SuitePath::parse(bad), Err(PathError::Absolute(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_rule_breakers_are_rejected() {
        for bad in [
            "a//b",
            "a/",
            "./a",
            "a/./b",
            ".hidden",
            "a/.git/config",
            "a\\b",
            "caf\u{e9}.json",
            "a b",
            "ab:c",
        ] {
            assert!(
                matches!(SuitePath::parse(bad), Err(PathError::Invalid { .. })),
                "{bad}: {:?}",
                SuitePath::parse(bad)
            );
        }
        assert_eq!(SuitePath::parse(""), Err(PathError::Empty));
        assert!(SuitePath::parse(&"a".repeat(129)).is_err());
        assert!(SuitePath::parse(&"a/".repeat(128)).is_err());
        assert!(matches!(
            SuitePath::parse("manifest.json"),
            Err(PathError::Reserved(_))
        ));
        assert!(matches!(
            SuitePath::parse("manifest.json.sig"),
            Err(PathError::Reserved(_))
        ));
    }
}
