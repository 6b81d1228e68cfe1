//! Errors and exit codes (SPEC.md §8.6).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | valid / ok |
//! | 1 | checked and not valid (bad signature, revoked, expired, fork, refused signer) |
//! | 2 | usage error, or input that is malformed or of an unsupported version |
//! | 3 | indeterminate: evidence could not be obtained |
//!
//! A command either returns a [`Status`] (it ran and printed its result) or a
//! [`CliError`] (it could not produce a result; `main` prints `error: …` on stderr).
//! Exit 3 only comes from a verdict whose outcome is `unreachable`: every command reads
//! local files, so none fails for want of evidence.

use std::process::ExitCode;

/// How a command that produced a result ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Exit 0: valid, or the command did what was asked.
    Ok,
    /// Exit 1: checked and not valid.
    NotValid,
    /// Exit 3: indeterminate.
    Indeterminate,
    /// Exit 2: the input was malformed or unsupported.
    Malformed,
}

impl Status {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::NotValid => 1,
            Status::Malformed => 2,
            Status::Indeterminate => 3,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status.code())
    }
}

/// Why a command could not produce its result. Messages are one line, lowercase, name
/// the file or flag at fault and never carry secret material.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A caller mistake the argument parser cannot see (conflicting options, a missing
    /// passphrase source, a file that exists). Exit 2.
    #[error("{0}")]
    Usage(String),
    /// Input that is malformed or of an unsupported version. Exit 2.
    #[error("{0}")]
    Malformed(String),
    /// Input that was checked and is not valid (a signature that does not verify, a
    /// signer the chain does not authorise). Exit 1.
    #[error("{0}")]
    NotValid(String),
    /// A file could not be read or written. Exit 2.
    #[error("{0}")]
    Io(String),
}

impl CliError {
    /// The process exit code for this error.
    pub(crate) fn status(&self) -> Status {
        match self {
            CliError::Usage(_) | CliError::Malformed(_) | CliError::Io(_) => Status::Malformed,
            CliError::NotValid(_) => Status::NotValid,
        }
    }
}

/// The result of a command.
pub(crate) type CliResult = Result<Status, CliError>;
