//! Sigchain files: reading, verifying in full and comparing copies (SPEC.md §7.3 –
//! §7.6). The verification itself is `kez_core::sigchain`'s; this module attaches file
//! names and exit codes to its answers.

use std::collections::HashSet;
use std::path::Path;

use kez_core::sigchain::{
    self, ChainError, ChainErrorKind, ChainVerifier, Digest256, JsonlLines, Link, Track,
    VerifiedChain,
};
use kez_core::verdict::ChainEvidence;

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

pub(crate) use sigchain::longest_copy;

/// What the copies of a signer's sigchain say, kept alive for the verdicts that borrow it.
pub(crate) enum Evidence {
    /// No chain was given.
    NotChecked,
    /// The copies agree and the longest verified; its state as of the evaluation time.
    Verified(Box<VerifiedChain>),
    /// The copies fork, or one does not verify.
    Failed(ChainError),
}

impl Evidence {
    /// The evidence as `kez_core::verdict` takes it.
    pub(crate) fn as_chain(&self) -> ChainEvidence<'_> {
        match self {
            Evidence::NotChecked => ChainEvidence::NotChecked,
            Evidence::Verified(v) => ChainEvidence::Verified(v),
            Evidence::Failed(e) => ChainEvidence::Failed(e),
        }
    }
}

/// Compares the `copies` of a signer's chain (SPEC.md §7.6) and verifies the longest,
/// tracking the claims `ids`, as of `at`. No copies means no chain was checked.
pub(crate) fn evidence(copies: &[Vec<u8>], ids: HashSet<Digest256>, at: u64) -> Evidence {
    if copies.is_empty() {
        return Evidence::NotChecked;
    }
    let longest = match longest_copy(copies) {
        Ok(i) => i,
        Err(e) => return Evidence::Failed(e.error),
    };
    match sigchain::verify_jsonl(&copies[longest], Track::Claims(ids), Some(at)) {
        Ok(verified) => Evidence::Verified(Box::new(verified)),
        Err(error) => Evidence::Failed(error),
    }
}

/// The canonical JSONL of a chain that verifies in full (SPEC.md §7.3): each link's JCS
/// form and a newline, only the links created at or before `at` when it is given.
pub(crate) fn export(bytes: &[u8], at: Option<u64>) -> Result<Vec<u8>, ChainError> {
    let (_, links) = verify_with_links(bytes, Track::Claims(Default::default()), None)?;
    Ok(sigchain::to_jsonl(
        links
            .iter()
            .take_while(|l| at.is_none_or(|at| l.created_at() <= at)),
    ))
}
