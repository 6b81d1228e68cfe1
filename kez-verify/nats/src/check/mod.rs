//! Checking NATS credentials: a `.creds` file, a JWT file, an NSC store, an nsc home
//! such as [`crate::generate`] writes, or a nats-server config.
//!
//! [`check`] decodes every JWT, verifies every signature, follows the chain of trust
//! operator → account → user (signing keys, scopes, `issuer_account`, revocations,
//! expiry) and reports, besides plain errors, what nats-server accepts without a word:
//! an operator JWT not signed by its own key, permission members under names the
//! server ignores, self-signed accounts, JWTs without `nats.type`, legacy v1 JWTs. Each
//! finding has a stable [`Code`] with a [`Severity`] and a [`Kind`]; the table is in
//! `docs/NATS.md`.
//!
//! "Could not check" is a [`CheckError`] (a missing file, an input of no known kind);
//! "checked and found wanting" is a [`Report`] with findings.

mod chain;
mod findings;
mod inputs;
mod lint;
mod token;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use findings::{Code, Kind, Severity};

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A `.creds` file.
    Creds,
    /// A file holding one JWT, bare or decorated.
    Jwt,
    /// One NSC operator store (a directory with `.nsc`).
    Store,
    /// An nsc home (`stores/`, `keys/`) with nats-server configs, as generated.
    Home,
    /// A nats-server config file.
    ServerConfig,
}

/// Options for [`check_with`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The time to check expiry against, Unix seconds.
    pub now: i64,
    /// How many threads read files, derive key files' public keys and verify
    /// signatures of a store or home; 0 (the default) for as many as the machine has.
    /// The report does not depend on it.
    pub threads: usize,
}

impl CheckOptions {
    /// Options checking against the current time.
    pub fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self::at(now)
    }

    /// Options checking against `now` (Unix seconds).
    pub fn at(now: i64) -> Self {
        Self { now, threads: 0 }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    code: Code,
    location: String,
    message: String,
}

impl Finding {
    pub(crate) fn new(code: Code, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            location: location.into(),
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The code's severity.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// The code's kind.
    pub fn kind(&self) -> Kind {
        self.code.kind()
    }

    /// Where: a file path, and inside it which JWT.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What was found, in one line. Never carries key material.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Finding", 5)?;
        s.serialize_field("code", self.code.id())?;
        s.serialize_field("severity", &self.severity())?;
        s.serialize_field("kind", &self.kind())?;
        s.serialize_field("location", &self.location)?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}

/// How many things were examined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Counts {
    /// Operator JWTs.
    pub operators: usize,
    /// Account JWTs.
    pub accounts: usize,
    /// User JWTs.
    pub users: usize,
    /// `.creds` files.
    pub creds: usize,
    /// Key files.
    pub keys: usize,
    /// nats-server configs.
    pub configs: usize,
}

/// The result of a check. Only [`check`] builds one.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    input: InputKind,
    path: PathBuf,
    counts: Counts,
    findings: Vec<Finding>,
}

impl Report {
    /// What kind of input was checked.
    pub fn input(&self) -> InputKind {
        self.input
    }

    /// The path checked.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many things were examined.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Every finding, in the order found.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Whether there is no finding of severity error.
    pub fn is_clean(&self) -> bool {
        !self
            .findings
            .iter()
            .any(|f| f.severity() == Severity::Error)
    }

    /// The process exit code: 0 no errors (warnings and notes allowed), 1 an error
    /// finding, 2 an error finding of kind malformed.
    pub fn exit_code(&self) -> u8 {
        let errors = || {
            self.findings
                .iter()
                .filter(|f| f.severity() == Severity::Error)
        };
        if errors().any(|f| f.kind() == Kind::Malformed) {
            2
        } else if errors().next().is_some() {
            1
        } else {
            0
        }
    }
}

/// Why a path could not be checked at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The path could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: std::io::Error,
    },
    /// The input is none of the kinds [`check`] reads.
    #[error("{} is not a .creds file, a JWT, an NSC store, an nsc home or a nats-server config", path.display())]
    UnknownInput {
        /// The path.
        path: PathBuf,
    },
    /// The file is too large to be a credential or config.
    #[error("{} is larger than {} bytes", path.display(), inputs::MAX_FILE)]
    TooLarge {
        /// The path.
        path: PathBuf,
    },
}

impl CheckError {
    /// The stable kind: `transport` for I/O, `malformed` for the rest.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckError::Io { .. } => "transport",
            _ => "malformed",
        }
    }
}

/// Checks `path` against the current time.
pub fn check(path: impl AsRef<Path>) -> Result<Report, CheckError> {
    check_with(path, CheckOptions::now())
}

/// Checks `path` with `options`.
pub fn check_with(path: impl AsRef<Path>, options: CheckOptions) -> Result<Report, CheckError> {
    let path = path.as_ref();
    let mut ctx = inputs::Context::new(path, options.now, options.threads);
    let input = ctx.load(path)?;
    chain::evaluate(&mut ctx);
    Ok(Report {
        input,
        path: path.to_owned(),
        counts: ctx.counts,
        findings: ctx.findings,
    })
}
