//! Replaying a suite: evaluate every case with kez-core and compare with the manifest
//! (docs/SUITES.md, "Replay"), timing each phase.
//!
//! Cases are evaluated exactly as the fixture runner (`kez-verify/core/tests/fixtures.rs`)
//! evaluates `fixtures/cases`:
//!
//! - claim cases decode their input with `encoding::detect` and `encoding::decode`; input
//!   that does not decode is one `invalid` verdict (`unsupported` when
//!   `DecodeError::is_unsupported`, else `malformed`), as is each claim that does not;
//!   every decoded claim is evaluated with `verdict::evaluate` at the case's time, with
//!   the case's subject, against its chain;
//! - the chain copies are compared pairwise with `sigchain::compare_copies` (a divergence
//!   is a fork), then the longest is verified as of the case's time keeping every claim's
//!   state (`Track::All`); a chain case compares that result with its expectation;
//! - evidence cases replay their bundle through kez-id ([`crate::evidence`]) and compare
//!   the identity's outcome, every proof's verdicts and every rejection.
//!
//! To time signature checks apart from parsing, a chain is verified link by link here
//! ([`verify_chain`]): `Link::parse_line` (timed as parsing) then `ChainVerifier::push`
//! (timed as link verification). That is exactly what `sigchain::verify_jsonl` does,
//! which a test checks on every fixture chain.
//!
//! ## What the timings count
//!
//! Phases marked *signature* are calls whose cost is signature verification, measured
//! around the kez-core call that performs it: `Claim::check_signature` (the claim's check
//! alone; `verdict::evaluate_checked` then reaches the verdict from its result without
//! checking again, timed as other work), `ChainVerifier::push` (a link's checks, plus the
//! seq, prev and authority checks kez-core does around them) and the manifest signature
//! (see [`Phase::what`]). The bench (`benches/replay.rs`) measures the bare signature
//! checks of exactly these signatures in the same run and prints both figures. Claims are
//! checked one by one, as replay meets them.

use std::time::{Duration, Instant};

use kez_core::encoding::{self, DecodeError};
use kez_core::sigchain::{
    compare_copies, ChainError, ChainErrorKind, ChainVerifier, JsonlLines, Link, Track,
    VerifiedChain, MAX_LINE_BYTES,
};
use kez_core::verdict::{self, ChainEvidence, InvalidReason, Outcome, Verdict};
use kez_core::{Claim, Identity};

use crate::evidence::{EvidenceFailure, ObservedEvidence};
use crate::manifest::{Case, CaseBody, ChainExpectation, ExpectedVerdict};
use crate::path::SuitePath;
use crate::report::{Report, SuiteInfo};
use crate::suite::Suite;

/// Time spent in each phase of opening and replaying a suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Reading `manifest.json` (and `manifest.json.sig`).
    pub manifest_read: Duration,
    /// Strict parsing of the manifest (`kez_core::json::parse_strict`).
    pub manifest_parse: Duration,
    /// The manifest's JCS form, when its signature is checked.
    pub manifest_jcs: Duration,
    /// Checking the manifest's members, paths, cases and expectations.
    pub manifest_check: Duration,
    /// Ed25519 verification of the manifest signature.
    pub manifest_signature: Duration,
    /// Listing the suite folder.
    pub walk: Duration,
    /// Opening and reading the suite's files.
    pub read: Duration,
    /// SHA-256 of the suite's files.
    pub hash: Duration,
    /// Detecting and decoding claim inputs (and verdicts for undecodable input).
    pub decode: Duration,
    /// Splitting chains into lines and parsing each link.
    pub chain_parse: Duration,
    /// `ChainVerifier::push` on each parsed link.
    pub chain_links: Duration,
    /// `compare_copies` on cases with several chain copies.
    pub chain_copies: Duration,
    /// `Claim::check_signature` on each decoded claim: the claim's signature check alone.
    pub claim_signatures: Duration,
    /// `verdict::evaluate_checked` on each checked claim: the precedence rules and the
    /// verdict's strings, without checking the signature again.
    pub verdicts: Duration,
    /// Evidence cases: kez-id's verifier over the recorded bundle (channel lookups,
    /// decoding, sigchains, claim signatures and verdicts, all counted as other work).
    pub evidence: Duration,
    /// Comparing with the expectations, and the bookkeeping around each case.
    pub compare: Duration,
    /// Wall-clock time of opening plus replaying.
    pub total: Duration,
}

/// One phase of [`Timings`], for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// A short name, such as `claim verdicts`.
    pub name: &'static str,
    /// Whether the phase's cost is signature verification.
    pub signature: bool,
    /// What exactly is measured.
    pub what: &'static str,
    /// The time spent.
    pub time: Duration,
}

impl Timings {
    /// Every phase, signature phases first, then `unattributed`: the part of the total no
    /// phase covers (loops, progress reporting, building results).
    pub fn phases(&self) -> Vec<Phase> {
        let p = |name, signature, what, time| Phase {
            name,
            signature,
            what,
            time,
        };
        let mut phases = vec![
            p("claim signatures", true, "Claim::check_signature per claim: its Ed25519 or BIP-340 signature check, nothing else", self.claim_signatures),
            p("chain links", true, "ChainVerifier::push per link: its signature checks (sig and countersig), plus the seq, prev, time and authority checks; the link's signed bytes are re-canonicalised inside", self.chain_links),
            p("manifest signature", true, "Ed25519 verification of manifest.json.sig over the manifest's JCS form", self.manifest_signature),
            p("claim verdicts", false, "verdict::evaluate_checked per claim: the conditions and precedence rules and the verdict's strings (claim id hash, key and subject text), with the signature result already in hand", self.verdicts),
            p("evidence cases", false, "evidence cases: reading the bundle and kez-id's verifier over it (lookups, decoding, sigchains, claim signatures, verdicts: all counted here as other work)", self.evidence),
            p("chain copies", false, "compare_copies on cases with several chain copies (kez-core parses and verifies every copy in full inside it)", self.chain_copies),
            p("decode", false, "encoding::detect and encoding::decode of claim inputs: strict JSON, JCS, base64url, zstd, Markdown, DNS TXT", self.decode),
            p("chain parse", false, "splitting JSONL and Link::parse_line (strict JSON, JCS check)", self.chain_parse),
            p("file read", false, "opening and reading the suite's files", self.read),
            p("file hash", false, "SHA-256 of the suite's files", self.hash),
            p("folder walk", false, "listing the suite folder", self.walk),
            p("manifest read", false, "reading manifest.json and manifest.json.sig", self.manifest_read),
            p("manifest parse", false, "strict parsing of manifest.json (kez_core::json::parse_strict)", self.manifest_parse),
            p("manifest JCS", false, "the manifest's JCS form, when its signature is checked", self.manifest_jcs),
            p("manifest check", false, "checking the manifest's members, paths, cases and expectations", self.manifest_check),
            p("compare", false, "comparing results with the expectations", self.compare),
        ];
        let covered: Duration = phases.iter().map(|p| p.time).sum();
        phases.push(p(
            "unattributed",
            false,
            "the rest of the total: loops, timers, progress, building results",
            self.total.saturating_sub(covered),
        ));
        phases
    }

    /// Time in the signature phases.
    pub fn signature(&self) -> Duration {
        self.claim_signatures + self.chain_links + self.manifest_signature
    }

    /// The signature phases' share of the total, in percent.
    pub fn signature_percent(&self) -> f64 {
        percent(self.signature(), self.total)
    }
}

/// `part` as a percentage of `whole`.
pub fn percent(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        part.as_secs_f64() * 100.0 / whole.as_secs_f64()
    }
}

/// What a claim case observed for one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedVerdict {
    /// The outcome.
    pub outcome: Outcome,
    /// The reason, when invalid.
    pub reason: Option<InvalidReason>,
    /// The verdict's sentence saying why.
    pub detail: String,
}

impl ObservedVerdict {
    pub(crate) fn of(v: &Verdict) -> Self {
        Self {
            outcome: v.outcome(),
            reason: v.reason(),
            detail: v.detail().to_string(),
        }
    }

    /// The outcome and reason, in the manifest's terms.
    pub fn verdict(&self) -> ExpectedVerdict {
        ExpectedVerdict {
            outcome: self.outcome,
            reason: self.reason,
        }
    }
}

/// What a chain case observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedChain {
    /// The chain verified.
    Ok {
        /// Links in the whole chain.
        length: u64,
    },
    /// The chain failed.
    Failed {
        /// `malformed`, `bad_signature` or `fork`.
        kind: &'static str,
        /// The error.
        detail: String,
    },
}

/// What replaying a case observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// One verdict per claim found in the input.
    Verdicts(Vec<ObservedVerdict>),
    /// The chain's result.
    Chain(ObservedChain),
    /// An evidence case's report.
    Evidence(ObservedEvidence),
    /// An evidence case that could not be replayed to a report (such as a request the
    /// bundle does not hold: kind `not_recorded`); it counts as a difference.
    EvidenceFailed(EvidenceFailure),
    /// The case could not be evaluated (a file the checks should have guaranteed is
    /// absent); it counts as a difference.
    Error(String),
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case as the manifest gives it.
    pub case: Case,
    /// Its evaluation time.
    pub at: u64,
    /// What the replay observed.
    pub observed: Observed,
    /// Whether it matches the expectation.
    pub passed: bool,
    /// Wall-clock time of the case.
    pub elapsed: Duration,
}

/// The kind name of a chain error, as chain cases expect it.
pub fn chain_error_kind(kind: ChainErrorKind) -> &'static str {
    match kind {
        ChainErrorKind::Malformed => "malformed",
        ChainErrorKind::BadSignature => "bad_signature",
        ChainErrorKind::Fork => "fork",
    }
}

/// Verifies a JSONL chain like `sigchain::verify_jsonl`, timing parsing
/// (`t.chain_parse`) apart from link verification (`t.chain_links`).
pub fn verify_chain(
    bytes: &[u8],
    track: Track,
    as_of: Option<u64>,
    t: &mut Timings,
) -> Result<VerifiedChain, ChainError> {
    let mut verifier = ChainVerifier::new(track, as_of);
    let mut lines = JsonlLines::new(bytes);
    let mut line_no = 0u64;
    loop {
        let start = Instant::now();
        let Some(item) = lines.next() else {
            t.chain_parse += start.elapsed();
            break;
        };
        line_no += 1;
        let parsed = item.and_then(|line| {
            if line.len() >= MAX_LINE_BYTES {
                return Err(ChainError::LineTooLong { line: line_no });
            }
            Link::parse_line(line).map_err(|error| ChainError::Link {
                line: line_no,
                error,
            })
        });
        t.chain_parse += start.elapsed();
        let link = parsed?;
        let start = Instant::now();
        let pushed = verifier.push(link, line_no);
        t.chain_links += start.elapsed();
        pushed?;
    }
    verifier.finish()
}

/// Why a case could not be evaluated at all (a file the checks should have guaranteed).
fn missing(path: &SuitePath) -> String {
    format!("{path} is not among the checked files")
}

impl Suite {
    /// Replays every case, calling `progress(done, total)` after each.
    pub fn replay(mut self, mut progress: impl FnMut(usize, usize)) -> Report {
        let started = Instant::now();
        let mut t = self.open_timings;
        let cases = std::mem::take(&mut self.manifest.cases);
        let total = cases.len();
        let mut results = Vec::with_capacity(total);
        let mut runtime = None;
        for (i, case) in cases.into_iter().enumerate() {
            let case_start = Instant::now();
            let at = self.manifest.at_of(&case);
            let observed = self.run_case(&case, at, &mut t, &mut runtime);
            let start = Instant::now();
            let observed = observed.unwrap_or_else(Observed::Error);
            let passed = matches(&case.body, &observed);
            t.compare += start.elapsed();
            results.push(CaseResult {
                case,
                at,
                observed,
                passed,
                elapsed: case_start.elapsed(),
            });
            progress(i + 1, total);
        }
        t.total = self.open_timings.total + started.elapsed();
        Report {
            suite: SuiteInfo {
                name: self.manifest.name,
                version: self.manifest.version,
                spec: crate::manifest::SPEC_VERSION.to_string(),
                at: self.manifest.at,
                path: self.root.display().to_string(),
                files: self.contents.len(),
                bytes: self.contents.total_bytes(),
            },
            signature: self.signature,
            cases: results,
            timings: t,
        }
    }

    fn run_case(
        &self,
        case: &Case,
        at: u64,
        t: &mut Timings,
        runtime: &mut Option<tokio::runtime::Runtime>,
    ) -> Result<Observed, String> {
        match &case.body {
            CaseBody::Evidence { bundle, target, .. } => {
                let start = Instant::now();
                let runtime = match runtime {
                    Some(runtime) => runtime,
                    None => runtime.insert(crate::evidence::runtime()?),
                };
                let result = crate::evidence::replay(
                    &self.manifest,
                    &self.contents,
                    bundle,
                    target,
                    at,
                    runtime,
                );
                t.evidence += start.elapsed();
                Ok(match result {
                    Ok(observed) => Observed::Evidence(observed),
                    Err(failure) => Observed::EvidenceFailed(failure),
                })
            }
            CaseBody::Claim {
                input,
                chains,
                subject,
                ..
            } => {
                let bytes = self.contents.get(input).ok_or_else(|| missing(input))?;
                let start = Instant::now();
                let decoded = decode_input(bytes);
                t.decode += start.elapsed();
                let chain = self.chain_evidence(chains, at, t)?;
                Ok(Observed::Verdicts(evaluate_all(
                    &decoded,
                    &chain,
                    at,
                    subject.as_ref(),
                    t,
                )))
            }
            CaseBody::Chain { chains, .. } => {
                let result = self
                    .chain_evidence(chains, at, t)?
                    .ok_or("a chain case names its chains")?;
                Ok(Observed::Chain(match result {
                    Ok(chain) => ObservedChain::Ok {
                        length: chain.length(),
                    },
                    Err(e) => ObservedChain::Failed {
                        kind: chain_error_kind(e.kind()),
                        detail: e.to_string(),
                    },
                }))
            }
        }
    }

    /// Compares the copies pairwise, then verifies the longest as of `at`.
    fn chain_evidence(
        &self,
        chains: &[SuitePath],
        at: u64,
        t: &mut Timings,
    ) -> Result<Option<Result<VerifiedChain, ChainError>>, String> {
        if chains.is_empty() {
            return Ok(None);
        }
        let copies = chains
            .iter()
            .map(|p| self.contents.get(p).ok_or_else(|| missing(p)))
            .collect::<Result<Vec<_>, _>>()?;
        if copies.len() > 1 {
            let start = Instant::now();
            let mut failed = None;
            'pairs: for (i, first) in copies.iter().enumerate() {
                for second in &copies[i + 1..] {
                    if let Err(e) = compare_copies(JsonlLines::new(first), JsonlLines::new(second))
                    {
                        failed = Some(e);
                        break 'pairs;
                    }
                }
            }
            t.chain_copies += start.elapsed();
            if let Some(e) = failed {
                return Ok(Some(Err(e)));
            }
        }
        // The same choice as the fixture runner: the last of the longest copies.
        let longest = copies
            .iter()
            .max_by_key(|c| c.len())
            .ok_or("no chain copies")?;
        Ok(Some(verify_chain(longest, Track::All, Some(at), t)))
    }
}

/// Every claim found in the input, or why the input as a whole does not decode.
type Decoded = Result<Vec<Result<Claim, DecodeError>>, DecodeError>;

fn decode_input(input: &[u8]) -> Decoded {
    let (_, items) = encoding::decode_detected(input)?;
    Ok(items.into_iter().map(|located| located.item).collect())
}

fn undecodable(e: &DecodeError, at: u64) -> ObservedVerdict {
    ObservedVerdict::of(&verdict::undecodable(e.is_unsupported(), e.to_string(), at))
}

fn evaluate_all(
    decoded: &Decoded,
    chain: &Option<Result<VerifiedChain, ChainError>>,
    at: u64,
    subject: Option<&Identity>,
    t: &mut Timings,
) -> Vec<ObservedVerdict> {
    let evidence = match chain {
        None => ChainEvidence::NotChecked,
        Some(Ok(verified)) => ChainEvidence::Verified(verified),
        Some(Err(error)) => ChainEvidence::Failed(error),
    };
    match decoded {
        Err(e) => {
            let start = Instant::now();
            let v = undecodable(e, at);
            t.decode += start.elapsed();
            vec![v]
        }
        Ok(items) => items
            .iter()
            .map(|item| match item {
                Ok(claim) => {
                    let start = Instant::now();
                    let checked = claim.check_signature();
                    t.claim_signatures += start.elapsed();
                    let start = Instant::now();
                    let v = verdict::evaluate_checked(&checked, evidence, at, subject, None);
                    t.verdicts += start.elapsed();
                    ObservedVerdict::of(&v)
                }
                Err(e) => {
                    let start = Instant::now();
                    let v = undecodable(e, at);
                    t.decode += start.elapsed();
                    v
                }
            })
            .collect(),
    }
}

/// Whether `observed` is what `body` expects.
pub fn matches(body: &CaseBody, observed: &Observed) -> bool {
    match (body, observed) {
        (CaseBody::Claim { expect, .. }, Observed::Verdicts(got)) => {
            expect.len() == got.len() && expect.iter().zip(got).all(|(e, g)| *e == g.verdict())
        }
        (CaseBody::Chain { expect, .. }, Observed::Chain(got)) => match (expect, got) {
            (ChainExpectation::Ok { length }, ObservedChain::Ok { length: found }) => {
                length == found
            }
            (
                ChainExpectation::Malformed
                | ChainExpectation::BadSignature
                | ChainExpectation::Fork,
                ObservedChain::Failed { kind, .. },
            ) => expect.name() == *kind,
            _ => false,
        },
        (CaseBody::Evidence { expect, .. }, Observed::Evidence(got)) => got.matches(expect),
        _ => false,
    }
}
