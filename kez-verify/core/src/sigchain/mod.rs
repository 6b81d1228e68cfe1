//! The sigchain: an append-only JSONL log of signed links (SPEC.md §7).
//!
//! [`ChainVerifier`] reads a chain one line at a time. It keeps the chain's live state
//! (keys, devices, the claims it tracks) and the little it needs to recognise a fork at
//! the head, so its memory does not grow with the chain's length when it tracks a fixed
//! set of claims ([`Track::Claims`]).

pub mod link;
pub mod state;

pub use link::{Digest256, Link, LinkBuilder, LinkError, Op, RevokeTarget};
pub use state::{ChainPoint, ChainState, ClaimEntry, KeyPeriod, Track};

use crate::key::PublicKey;

/// The longest JSONL line accepted, newline included (SPEC.md §7.3).
pub const MAX_LINE_BYTES: usize = link::MAX_LINK_BYTES + 1;

/// The broad kind of a chain error, which decides the verdict (SPEC.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainErrorKind {
    /// The chain breaks a structural rule.
    Malformed,
    /// A link's signature does not verify, or its signer may not sign its op.
    BadSignature,
    /// Two valid links claim one seq.
    Fork,
}

/// Why a chain does not verify (SPEC.md §7.3 – §7.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The chain has no links.
    #[error("the chain is empty")]
    Empty,
    /// A line is not a well-formed link.
    #[error("line {line}: {error}")]
    Link {
        /// 1-based line.
        line: u64,
        /// What is wrong with it.
        error: LinkError,
    },
    /// The last line does not end in a newline: the chain was truncated.
    #[error("line {line}: missing final newline (truncated chain?)")]
    MissingNewline {
        /// 1-based line.
        line: u64,
    },
    /// A line is longer than [`MAX_LINE_BYTES`].
    #[error("line {line}: longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong {
        /// 1-based line.
        line: u64,
    },
    /// Links are out of order, missing or repeated.
    #[error("line {line}: seq is {found}, expected {expected}")]
    Seq {
        /// 1-based line.
        line: u64,
        /// The seq the verifier expected.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// `prev` does not name the previous link.
    #[error("seq {seq}: prev is {found}, but the previous link hashes to {expected}")]
    Prev {
        /// The link's seq.
        seq: u64,
        /// The previous link's hash.
        expected: Digest256,
        /// The `prev` found.
        found: Digest256,
    },
    /// `created_at` decreases.
    #[error("seq {seq}: created_at {found} is before the previous link's {previous}")]
    TimeWentBack {
        /// The link's seq.
        seq: u64,
        /// Its `created_at`.
        found: u64,
        /// The previous link's `created_at`.
        previous: u64,
    },
    /// `init` is not first, or the first link is not `init`.
    #[error("seq {seq}: {reason}")]
    Init {
        /// The link's seq.
        seq: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A signature does not verify.
    #[error("seq {seq}: {reason}")]
    Signature {
        /// The link's seq.
        seq: u64,
        /// Which signature failed.
        reason: &'static str,
    },
    /// The signer may not sign this op now (SPEC.md §7.2).
    #[error("seq {seq}: {signer} may not sign {op}: {reason}")]
    Unauthorised {
        /// The link's seq.
        seq: u64,
        /// The op.
        op: &'static str,
        /// The signer, in canonical text form.
        signer: String,
        /// Why not.
        reason: &'static str,
    },
    /// A rotation or device names a key the chain has already used, or a device that is
    /// not active.
    #[error("seq {seq}: {reason}: {key}")]
    KeyUse {
        /// The link's seq.
        seq: u64,
        /// The key, in canonical text form.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two valid links at one seq, or two copies that diverge (SPEC.md §7.6).
    #[error("fork at seq {seq}: {first} and {second} both extend the chain")]
    Fork {
        /// The seq both links claim.
        seq: u64,
        /// The first link's hash.
        first: Digest256,
        /// The second link's hash.
        second: Digest256,
    },
}

impl ChainError {
    /// The error's kind (SPEC.md §8.2).
    pub fn kind(&self) -> ChainErrorKind {
        match self {
            ChainError::Fork { .. } => ChainErrorKind::Fork,
            ChainError::Signature { .. } | ChainError::Unauthorised { .. } => {
                ChainErrorKind::BadSignature
            }
            _ => ChainErrorKind::Malformed,
        }
    }
}

/// Who may sign at a point: the primary key and the active devices.
#[derive(Debug, Clone)]
struct Authority {
    primary: Option<PublicKey>,
    devices: Vec<PublicKey>,
}

/// What the verifier remembers of the head to recognise a fork there.
#[derive(Debug, Clone)]
struct HeadMemory {
    seq: u64,
    hash: Digest256,
    prev: Option<Digest256>,
    created_at: u64,
    previous_created_at: Option<u64>,
    authority_before: Authority,
    keys_seen_before: usize,
}

/// Verifies a chain streamed one line at a time (SPEC.md §7.5).
///
/// ```
/// use kez_core::sigchain::{ChainVerifier, LinkBuilder, Track};
/// use kez_core::{Algorithm, SecretKey};
/// let key = SecretKey::generate(Algorithm::Ed25519);
/// let init = LinkBuilder::init(1_767_225_600).sign(&key, None).unwrap();
/// let mut verifier = ChainVerifier::new(Track::All, None);
/// verifier.push_line(init.to_jcs()).unwrap();
/// let chain = verifier.finish().unwrap();
/// assert_eq!(chain.length(), 1);
/// assert_eq!(chain.state().root(), Some(&key.public_key()));
/// ```
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    state: ChainState,
    as_of: Option<u64>,
    snapshot: Option<ChainState>,
    head: Option<HeadMemory>,
    keys_seen: Vec<PublicKey>,
    lines: u64,
}

/// A chain that verified, and its state as of the evaluation time.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    state_at: ChainState,
    length: u64,
    head: Digest256,
    head_seq: u64,
    as_of: Option<u64>,
}

impl VerifiedChain {
    /// The chain's state as of the evaluation time (all links when none was given).
    pub fn state(&self) -> &ChainState {
        &self.state_at
    }

    /// The number of links in the whole chain.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The hash of the last link of the whole chain.
    pub fn head(&self) -> Digest256 {
        self.head
    }

    /// The seq of the last link of the whole chain.
    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// The evaluation time the state was taken at.
    pub fn as_of(&self) -> Option<u64> {
        self.as_of
    }
}

impl ChainVerifier {
    /// A verifier that keeps state for `track`, evaluating the chain as of `as_of`
    /// (Unix seconds; links created later are verified but do not change the state).
    pub fn new(track: Track, as_of: Option<u64>) -> Self {
        Self {
            state: ChainState::new(track),
            as_of,
            snapshot: None,
            head: None,
            keys_seen: Vec::new(),
            lines: 0,
        }
    }

    /// Verifies and applies one line (its bytes without the trailing newline).
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), ChainError> {
        self.lines += 1;
        let line_no = self.lines;
        if line.len() >= MAX_LINE_BYTES {
            return Err(ChainError::LineTooLong { line: line_no });
        }
        let link = Link::parse_line(line).map_err(|error| ChainError::Link {
            line: line_no,
            error,
        })?;
        self.push(link, line_no)
    }

    /// Verifies and applies one parsed link.
    pub fn push(&mut self, link: Link, line_no: u64) -> Result<(), ChainError> {
        let expected_seq = self.head.as_ref().map_or(0, |h| h.seq + 1);
        if let Some(head) = &self.head {
            if link.seq() == head.seq && line_no > 1 {
                return Err(self.competing_link(&link, line_no));
            }
        }
        if link.seq() != expected_seq {
            return Err(ChainError::Seq {
                line: line_no,
                expected: expected_seq,
                found: link.seq(),
            });
        }
        if let (Some(head), Some(prev)) = (&self.head, link.prev()) {
            if prev != head.hash {
                return Err(ChainError::Prev {
                    seq: link.seq(),
                    expected: head.hash,
                    found: prev,
                });
            }
        }
        let previous_created_at = self.head.as_ref().map(|h| h.created_at);
        if let Some(previous) = previous_created_at {
            if link.created_at() < previous {
                return Err(ChainError::TimeWentBack {
                    seq: link.seq(),
                    found: link.created_at(),
                    previous,
                });
            }
        }
        let authority_before = self.authority();
        let keys_seen_before = self.keys_seen.len();
        check_authority(&link, &authority_before, &self.keys_seen)?;
        link.verify_signatures()
            .map_err(|reason| ChainError::Signature {
                seq: link.seq(),
                reason,
            })?;
        if let Some(as_of) = self.as_of {
            if link.created_at() > as_of && self.snapshot.is_none() {
                self.snapshot = Some(self.state.clone());
            }
        }
        self.apply(&link);
        self.head = Some(HeadMemory {
            seq: link.seq(),
            hash: link.hash(),
            prev: link.prev(),
            created_at: link.created_at(),
            previous_created_at,
            authority_before,
            keys_seen_before,
        });
        Ok(())
    }

    /// Classifies a second link at the head's seq: a fork if it would have been a valid
    /// successor of the head's predecessor, else a sequence error.
    fn competing_link(&self, link: &Link, line_no: u64) -> ChainError {
        let Some(head) = &self.head else {
            return ChainError::Empty;
        };
        let seq_error = ChainError::Seq {
            line: line_no,
            expected: head.seq + 1,
            found: link.seq(),
        };
        if link.hash() == head.hash || link.prev() != head.prev {
            return seq_error;
        }
        if head
            .previous_created_at
            .is_some_and(|t| link.created_at() < t)
        {
            return seq_error;
        }
        let valid = check_authority(
            link,
            &head.authority_before,
            &self.keys_seen[..head.keys_seen_before],
        )
        .is_ok()
            && link.verify_signatures().is_ok();
        if valid {
            ChainError::Fork {
                seq: link.seq(),
                first: head.hash,
                second: link.hash(),
            }
        } else {
            seq_error
        }
    }

    fn authority(&self) -> Authority {
        Authority {
            primary: self.state.primary().copied(),
            devices: self.state.active_devices().copied().collect(),
        }
    }

    fn apply(&mut self, link: &Link) {
        let point = ChainPoint {
            seq: link.seq(),
            at: link.created_at(),
        };
        let state = &mut self.state;
        match link.op() {
            Op::Init => {
                state.primaries.push(KeyPeriod {
                    key: *link.signer(),
                    from: point,
                    until: None,
                });
                self.keys_seen.push(*link.signer());
            }
            Op::Add { claim, subject } => {
                if state.tracks(claim) && !state.claims.contains_key(claim) {
                    // A claim revoked before it was added stays revoked (SPEC.md §7.4).
                    let revoked = state.revoked_unbound.remove(claim);
                    state.claims.insert(
                        *claim,
                        ClaimEntry {
                            subject: subject.clone(),
                            added: point,
                            revoked,
                            revoked_by_subject: false,
                        },
                    );
                }
            }
            Op::Revoke(RevokeTarget::Claim(id)) => {
                if let Some(entry) = state.claims.get_mut(id) {
                    entry.revoked.get_or_insert(point);
                } else if state.tracks(id) {
                    state.revoked_unbound.entry(*id).or_insert(point);
                }
            }
            Op::Revoke(RevokeTarget::Subject(subject)) => {
                for entry in state.claims.values_mut() {
                    if &entry.subject == subject && entry.revoked.is_none() {
                        entry.revoked = Some(point);
                        entry.revoked_by_subject = true;
                    }
                }
            }
            Op::Rotate { new_key } => {
                if let Some(current) = state.primaries.last_mut() {
                    current.until = Some(point);
                }
                state.primaries.push(KeyPeriod {
                    key: *new_key,
                    from: point,
                    until: None,
                });
                self.keys_seen.push(*new_key);
            }
            Op::AddDevice { device, .. } => {
                state.devices.push(KeyPeriod {
                    key: *device,
                    from: point,
                    until: None,
                });
                self.keys_seen.push(*device);
            }
            Op::RevokeDevice { device } => {
                if let Some(d) = state
                    .devices
                    .iter_mut()
                    .find(|d| &d.key == device && d.until.is_none())
                {
                    d.until = Some(point);
                }
            }
        }
        state.head = Some((point, link.hash()));
    }

    /// Ends the stream and returns the verified chain; an empty stream is an error.
    pub fn finish(self) -> Result<VerifiedChain, ChainError> {
        let Some(head) = &self.head else {
            return Err(ChainError::Empty);
        };
        Ok(VerifiedChain {
            length: head.seq + 1,
            head: head.hash,
            head_seq: head.seq,
            as_of: self.as_of,
            state_at: self.snapshot.unwrap_or(self.state),
        })
    }
}

fn check_authority(
    link: &Link,
    authority: &Authority,
    keys_seen: &[PublicKey],
) -> Result<(), ChainError> {
    let seq = link.seq();
    let signer = link.signer();
    let is_primary = authority.primary.as_ref() == Some(signer);
    let is_device = authority.devices.contains(signer);
    let unauthorised = |reason| ChainError::Unauthorised {
        seq,
        op: link.op().name(),
        signer: signer.to_string(),
        reason,
    };
    match link.op() {
        Op::Init => {
            if seq != 0 {
                return Err(ChainError::Init {
                    seq,
                    reason: "init is only allowed at seq 0",
                });
            }
        }
        _ if seq == 0 => {
            return Err(ChainError::Init {
                seq,
                reason: "the first link must be init",
            })
        }
        Op::Add { .. } | Op::Revoke(_) => {
            if !is_primary && !is_device {
                return Err(unauthorised(
                    "only the primary key or an active device key may",
                ));
            }
        }
        Op::Rotate { new_key } => {
            if !is_primary {
                return Err(unauthorised("only the primary key may"));
            }
            if keys_seen.contains(new_key) {
                return Err(ChainError::KeyUse {
                    seq,
                    key: new_key.to_string(),
                    reason: "the new key was already used in this chain",
                });
            }
        }
        Op::AddDevice { device, .. } => {
            if !is_primary {
                return Err(unauthorised("only the primary key may"));
            }
            if keys_seen.contains(device) {
                return Err(ChainError::KeyUse {
                    seq,
                    key: device.to_string(),
                    reason: "the device key was already used in this chain",
                });
            }
        }
        Op::RevokeDevice { device } => {
            if !is_primary {
                return Err(unauthorised("only the primary key may"));
            }
            if !authority.devices.contains(device) {
                return Err(ChainError::KeyUse {
                    seq,
                    key: device.to_string(),
                    reason: "the device is not active",
                });
            }
        }
    }
    Ok(())
}

/// Writes `links` as a JSONL chain: each link's JCS form and a newline, in the order given.
/// [`verify_jsonl`] reads what this writes.
pub fn to_jsonl<'a>(links: impl IntoIterator<Item = &'a Link>) -> Vec<u8> {
    let mut out = Vec::new();
    for link in links {
        out.extend_from_slice(link.to_jcs());
        out.push(b'\n');
    }
    out
}

/// Verifies a whole JSONL chain held in memory (SPEC.md §7.3).
pub fn verify_jsonl(
    bytes: &[u8],
    track: Track,
    as_of: Option<u64>,
) -> Result<VerifiedChain, ChainError> {
    let mut verifier = ChainVerifier::new(track, as_of);
    for item in JsonlLines::new(bytes) {
        let line = item?;
        verifier.push_line(line)?;
    }
    verifier.finish()
}

/// Splits JSONL into lines, requiring a newline after each (SPEC.md §7.3).
#[derive(Debug, Clone)]
pub struct JsonlLines<'a> {
    rest: &'a [u8],
    line: u64,
}

impl<'a> JsonlLines<'a> {
    /// Iterates over the lines of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            line: 0,
        }
    }
}

impl<'a> Iterator for JsonlLines<'a> {
    type Item = Result<&'a [u8], ChainError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        self.line += 1;
        match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(Ok(line))
            }
            None => {
                self.rest = &[];
                Some(Err(ChainError::MissingNewline { line: self.line }))
            }
        }
    }
}

/// How two copies of a chain relate (SPEC.md §7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Byte-identical.
    Identical,
    /// The first copy is a strict prefix of the second.
    FirstIsPrefix,
    /// The second copy is a strict prefix of the first.
    SecondIsPrefix,
}

/// Compares two copies of a chain (SPEC.md §7.6-2): each is verified in full, and a
/// failure of the first copy is the result, else a failure of the second; only when both
/// verify are they compared, giving identical, one a prefix of the other, or a fork (an
/// error of kind [`ChainErrorKind::Fork`]) when they diverge. Memory stays bounded: both
/// copies are streamed side by side.
pub fn compare_copies<'a, A, B>(first: A, second: B) -> Result<Comparison, ChainError>
where
    A: IntoIterator<Item = Result<&'a [u8], ChainError>>,
    B: IntoIterator<Item = Result<&'a [u8], ChainError>>,
{
    let mut a_lines = first.into_iter();
    let mut b_lines = second.into_iter();
    let mut a = ChainVerifier::new(Track::Claims(Default::default()), None);
    let mut b = ChainVerifier::new(Track::Claims(Default::default()), None);
    // The second copy's first failure; it is the result only if the first copy verifies.
    let mut b_failed: Option<ChainError> = None;
    let mut diverged: Option<(u64, Digest256, Digest256)> = None;
    loop {
        let la = a_lines.next().transpose()?;
        if let Some(line) = la {
            a.push_line(line)?;
        }
        let lb = if b_failed.is_none() {
            match b_lines.next().transpose() {
                Ok(line) => line,
                Err(e) => {
                    b_failed = Some(e);
                    None
                }
            }
        } else {
            None
        };
        if let Some(line) = lb {
            if let Err(e) = b.push_line(line) {
                b_failed = Some(e);
            }
        }
        if diverged.is_none() {
            if let (Some(x), Some(y)) = (la, lb) {
                if x != y {
                    let seq = a.head.as_ref().map_or(0, |h| h.seq);
                    diverged = Some((seq, Digest256::of(x), Digest256::of(y)));
                }
            }
        }
        if la.is_none() && lb.is_none() {
            break;
        }
    }
    let fa = a.finish()?;
    if let Some(e) = b_failed {
        return Err(e);
    }
    let fb = b.finish()?;
    if let Some((seq, first, second)) = diverged {
        return Err(ChainError::Fork { seq, first, second });
    }
    Ok(match fa.length().cmp(&fb.length()) {
        std::cmp::Ordering::Equal => Comparison::Identical,
        std::cmp::Ordering::Less => Comparison::FirstIsPrefix,
        std::cmp::Ordering::Greater => Comparison::SecondIsPrefix,
    })
}

/// Why a set of copies of one chain does not give one chain (SPEC.md §7.6-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiesError {
    /// The copies at fault (indexes into the copies given): the two that diverge for a fork,
    /// or the one that does not verify.
    pub copies: Vec<usize>,
    /// The error.
    pub error: ChainError,
}

/// Compares copies of a chain (SPEC.md §7.6): every copy must verify in full, in the order
/// given (the first that fails decides the result), and be a prefix of the longest. Returns
/// the index of the longest copy.
pub fn longest_copy<C: AsRef<[u8]>>(copies: &[C]) -> Result<usize, CopiesError> {
    for (i, copy) in copies.iter().enumerate() {
        if let Err(error) = verify_jsonl(copy.as_ref(), Track::Claims(Default::default()), None) {
            return Err(CopiesError {
                copies: vec![i],
                error,
            });
        }
    }
    let mut longest = 0;
    for other in 1..copies.len() {
        let compared = compare_copies(
            JsonlLines::new(copies[longest].as_ref()),
            JsonlLines::new(copies[other].as_ref()),
        );
        match compared {
            Ok(Comparison::FirstIsPrefix) => longest = other,
            Ok(Comparison::Identical | Comparison::SecondIsPrefix) => {}
            Err(error) => {
                return Err(CopiesError {
                    copies: vec![longest, other],
                    error,
                })
            }
        }
    }
    Ok(longest)
}

#[cfg(test)]
mod tests;
