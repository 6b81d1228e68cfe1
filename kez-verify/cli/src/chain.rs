//! Sigchain files: reading, verifying in full and comparing copies (SPEC.md §7.3 –
//! §7.6). The verification itself is `kez_core::sigchain`'s; this module attaches file
//! names and exit codes to its answers.

use std::path::Path;

use kez_core::sigchain::{
    self, ChainError, ChainErrorKind, ChainVerifier, Comparison, JsonlLines, Link, Track,
    VerifiedChain,
};

use crate::error::{CliError, Status};
use crate::input;

/// Reads a chain file (or stdin for `-`).
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    input::read(path, input::MAX_CHAIN)
}

/// The exit status a chain error leads to: 2 malformed, 1 bad signature or fork.
pub(crate) fn status(error: &ChainError) -> Status {
    match error.kind() {
        ChainErrorKind::Malformed => Status::Malformed,
        ChainErrorKind::BadSignature | ChainErrorKind::Fork => Status::NotValid,
    }
}

/// The stable name of a chain error's kind, as in the JSON output.
pub(crate) fn kind_name(error: &ChainError) -> &'static str {
    match error.kind() {
        ChainErrorKind::Malformed => "malformed",
        ChainErrorKind::BadSignature => "bad_signature",
        ChainErrorKind::Fork => "fork",
    }
}

/// A CLI error for a chain error, prefixed by `context` (which names the file).
pub(crate) fn cli_error(context: &str, error: &ChainError) -> CliError {
    let message = format!("{context}: {error}");
    match status(error) {
        Status::Malformed => CliError::Malformed(message),
        _ => CliError::NotValid(message),
    }
}

/// Verifies a whole chain like [`sigchain::verify_jsonl`], and also returns its links.
pub(crate) fn verify_with_links(
    bytes: &[u8],
    track: Track,
    as_of: Option<u64>,
) -> Result<(VerifiedChain, Vec<Link>), ChainError> {
    let mut verifier = ChainVerifier::new(track, as_of);
    let mut links = Vec::new();
    for (index, line) in JsonlLines::new(bytes).enumerate() {
        let line_no = index as u64 + 1;
        let link = Link::parse_line(line?).map_err(|error| ChainError::Link {
            line: line_no,
            error,
        })?;
        verifier.push(link.clone(), line_no)?;
        links.push(link);
    }
    Ok((verifier.finish()?, links))
}

/// Why a set of copies of one chain does not give one chain.
#[derive(Debug)]
pub(crate) struct CopiesError {
    /// The copies at fault: the two that diverge for a fork, or the one that does not
    /// verify.
    pub(crate) copies: Vec<usize>,
    /// The error.
    pub(crate) error: ChainError,
}

/// Compares copies of a chain (SPEC.md §7.6): every copy must verify and be a prefix
/// of the longest. Returns the index of the longest copy.
pub(crate) fn longest_copy(copies: &[Vec<u8>]) -> Result<usize, CopiesError> {
    let mut longest = 0;
    for other in 1..copies.len() {
        let compared = sigchain::compare_copies(
            JsonlLines::new(&copies[longest]),
            JsonlLines::new(&copies[other]),
        );
        match compared {
            Ok(Comparison::FirstIsPrefix) => longest = other,
            Ok(Comparison::Identical | Comparison::SecondIsPrefix) => {}
            Err(error) if error.kind() == ChainErrorKind::Fork => {
                return Err(CopiesError {
                    copies: vec![longest, other],
                    error,
                })
            }
            Err(error) => {
                // compare_copies does not say which copy failed: ask each alone.
                let alone = [longest, other].into_iter().find_map(|i| {
                    sigchain::verify_jsonl(&copies[i], Track::Claims(Default::default()), None)
                        .err()
                        .map(|error| (i, error))
                });
                return Err(match alone {
                    Some((i, error)) => CopiesError {
                        copies: vec![i],
                        error,
                    },
                    None => CopiesError {
                        copies: vec![longest, other],
                        error,
                    },
                });
            }
        }
    }
    Ok(longest)
}
