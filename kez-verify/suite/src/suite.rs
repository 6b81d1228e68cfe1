//! Opening a suite: read the manifest, check its signature, parse it, check the folder
//! (docs/SUITES.md, "Replay").
//!
//! [`Suite::open`] does every check before anything is replayed, in this order:
//!
//! 1. read `manifest.json` and parse it as strict I-JSON;
//! 2. with a required key: check `manifest.json.sig` over the manifest's JCS form, so
//!    that nothing an unauthenticated manifest says is acted on;
//! 3. check the manifest's schema, spec version and every member ([`crate::manifest`]);
//! 4. check that the folder holds exactly the listed files with the listed digests
//!    ([`crate::integrity`]), keeping their bytes for the replay.
//!
//! A [`Suite`] exists only once all four passed.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kez_core::json;
use kez_core::PublicKey;

use crate::integrity::{self, Contents, IntegrityError};
use crate::manifest::{fast, Manifest, ManifestError};
use crate::path::{MANIFEST_FILE, SIGNATURE_FILE};
use crate::replay::Timings;
use crate::signature::{self, SignatureError};

/// The largest `manifest.json` read, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// Why a suite is refused before replay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The manifest or signature file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: String,
    },
    /// The manifest signature is missing, malformed, by another key, or invalid.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The manifest is malformed or of an unsupported schema, spec or case kind.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The folder does not match the manifest.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
}

impl OpenError {
    /// A stable name for the kind of refusal: `io`, `signature`, `manifest` or `integrity`.
    pub fn kind(&self) -> &'static str {
        match self {
            OpenError::Read { .. } => "io",
            OpenError::Signature(_) => "signature",
            OpenError::Manifest(_) => "manifest",
            OpenError::Integrity(_) => "integrity",
        }
    }
}

/// Whether the manifest signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// `manifest.json.sig` verified under this key, which the caller required.
    Verified(PublicKey),
    /// No key was required, so the signature (present or not) was not checked.
    NotChecked,
}

impl std::fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureCheck::Verified(key) => write!(f, "manifest signature verified ({key})"),
            SignatureCheck::NotChecked => f.write_str("manifest signature not checked"),
        }
    }
}

/// A suite whose manifest, signature (if required) and files have been checked.
#[derive(Debug, Clone)]
pub struct Suite {
    pub(crate) root: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) contents: Contents,
    pub(crate) signature: SignatureCheck,
    pub(crate) open_timings: Timings,
}

fn read_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, OpenError> {
    let error = |e: String| OpenError::Read {
        path: path.to_owned(),
        error: e,
    };
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(e.to_string())),
    };
    let metadata = file.metadata().map_err(|e| error(e.to_string()))?;
    if !metadata.is_file() {
        return Err(error("not a regular file".into()));
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(error(format!("larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}

impl Suite {
    /// Opens the suite in `root`. With `key`, `manifest.json.sig` must be a valid
    /// signature by that Ed25519 key; without, the signature is not checked.
    pub fn open(root: &Path, key: Option<&PublicKey>) -> Result<Suite, OpenError> {
        let mut t = Timings::default();
        let started = Instant::now();

        let start = Instant::now();
        let manifest_path = root.join(MANIFEST_FILE);
        let manifest_bytes =
            read_file(&manifest_path, MAX_MANIFEST_BYTES)?.ok_or_else(|| OpenError::Read {
                path: manifest_path.clone(),
                error: "no such file (a suite folder holds manifest.json)".into(),
            })?;
        let signature_bytes = match key {
            Some(_) => read_file(&root.join(SIGNATURE_FILE), 64 * 1024)?,
            None => None,
        };
        t.manifest_read = start.elapsed();

        let plain = Self::open_plain(&manifest_bytes, signature_bytes.as_deref(), key, &mut t);
        let (manifest, signature) = match plain {
            Some(plain) => plain,
            // Anything unusual, or failing: the strict path decides and words it.
            None => {
                let start = Instant::now();
                let value = json::parse_strict(&manifest_bytes).map_err(ManifestError::from)?;
                t.manifest_parse = start.elapsed();

                let signature = match key {
                    Some(key) => {
                        let start = Instant::now();
                        let jcs = signature::canonical(&value).map_err(ManifestError::from)?;
                        t.manifest_jcs = start.elapsed();
                        let start = Instant::now();
                        let checked = signature::verify_jcs(&jcs, signature_bytes.as_deref(), key);
                        t.manifest_signature = start.elapsed();
                        checked?;
                        SignatureCheck::Verified(*key)
                    }
                    None => SignatureCheck::NotChecked,
                };

                let start = Instant::now();
                let manifest = Manifest::from_value(value)?;
                t.manifest_check = start.elapsed();
                (manifest, signature)
            }
        };

        let (contents, it) = integrity::check(root, &manifest.files)?;
        t.walk = it.walk;
        t.read = it.read;
        t.hash = it.hash;
        t.total = started.elapsed();
        Ok(Suite {
            root: root.to_owned(),
            manifest,
            contents,
            signature,
            open_timings: t,
        })
    }

    /// Steps 1 to 3 on the fast path ([`crate::manifest::fast`]): the manifest and how its
    /// signature was checked, or `None` (with `t` possibly partly filled) when anything is
    /// unusual or fails, for the strict path to decide and word.
    fn open_plain(
        manifest_bytes: &[u8],
        signature_bytes: Option<&[u8]>,
        key: Option<&PublicKey>,
        t: &mut Timings,
    ) -> Option<(Manifest, SignatureCheck)> {
        let start = Instant::now();
        let plain = fast::parse(manifest_bytes)?;
        t.manifest_parse = start.elapsed();
        let signature = match key {
            Some(key) => {
                let start = Instant::now();
                let jcs = plain.jcs(manifest_bytes.len());
                t.manifest_jcs = start.elapsed();
                let start = Instant::now();
                let checked = signature::verify_jcs(&jcs, signature_bytes, key);
                t.manifest_signature = start.elapsed();
                checked.ok()?;
                SignatureCheck::Verified(*key)
            }
            None => SignatureCheck::NotChecked,
        };
        let start = Instant::now();
        let manifest = plain.check()?;
        t.manifest_check = start.elapsed();
        Some((manifest, signature))
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether the manifest signature was checked.
    pub fn signature(&self) -> &SignatureCheck {
        &self.signature
    }

    /// The suite folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The checked files and their bytes.
    pub fn contents(&self) -> &Contents {
        &self.contents
    }

    /// How long opening took.
    pub fn open_time(&self) -> Duration {
        self.open_timings.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::SuiteBuilder;
    use crate::manifest::{Case, CaseBody, ChainExpectation, ExpectedVerdict};
    use crate::path::SuitePath;
    use kez_core::claim::ClaimBuilder;
    use kez_core::sigchain::{LinkBuilder, Op};
    use kez_core::verdict::{InvalidReason, Outcome};
    use kez_core::{encoding, Algorithm, Encoding, SecretKey};

    const T0: u64 = 1_767_225_600;

    fn key(alg: Algorithm, seed: u8) -> SecretKey {
        SecretKey::from_bytes(alg, &[seed; 32]).unwrap()
    }

    fn p(text: &str) -> SuitePath {
        SuitePath::parse(text).unwrap()
    }

    fn case(id: &str, body: CaseBody) -> Case {
        Case {
            id: id.into(),
            description: None,
            requirements: vec![],
            at: None,
            body,
        }
    }

    fn valid() -> Vec<ExpectedVerdict> {
        vec![ExpectedVerdict {
            outcome: Outcome::Valid,
            reason: None,
        }]
    }

    /// A suite of four cases: an Ed25519 claim in compact form, a BIP-340 claim in
    /// Markdown, a claim bound by a two-link chain, and that chain on its own.
    fn write_suite(dir: &Path, signer: Option<&SecretKey>) -> PathBuf {
        let ed = key(Algorithm::Ed25519, 1);
        let bip = key(Algorithm::Bip340, 2);
        let subject: kez_core::Identity = "github:jason".parse().unwrap();
        let c1 = ClaimBuilder::new(subject.clone(), T0)
            .sign(&ed, None)
            .unwrap();
        let c2 = ClaimBuilder::new(subject.clone(), T0)
            .sign(&bip, Some(&[0; 32]))
            .unwrap();
        let init = LinkBuilder::init(T0).sign(&ed, None).unwrap();
        let add = LinkBuilder::after(
            &init,
            Op::Add {
                claim: c1.id(),
                subject,
            },
            T0 + 1,
        )
        .sign(&ed, None)
        .unwrap();
        let mut chain = init.to_jcs().to_vec();
        chain.push(b'\n');
        chain.extend_from_slice(add.to_jcs());
        chain.push(b'\n');

        let mut b = SuiteBuilder::new("t", "1", T0 + 100);
        b.add_file(
            p("c/one.txt"),
            encoding::encode(&c1, Encoding::Compact).into_bytes(),
        )
        .unwrap();
        b.add_file(
            p("c/two.md"),
            encoding::encode(&c2, Encoding::Markdown).into_bytes(),
        )
        .unwrap();
        b.add_file(p("c/chain.jsonl"), chain).unwrap();
        b.add_case(case(
            "ed25519-compact",
            CaseBody::Claim {
                input: p("c/one.txt"),
                chains: vec![],
                subject: None,
                expect: valid(),
            },
        ));
        b.add_case(case(
            "bip340-markdown",
            CaseBody::Claim {
                input: p("c/two.md"),
                chains: vec![],
                subject: None,
                expect: valid(),
            },
        ));
        b.add_case(case(
            "bound",
            CaseBody::Claim {
                input: p("c/one.txt"),
                chains: vec![p("c/chain.jsonl")],
                subject: None,
                expect: valid(),
            },
        ));
        b.add_case(case(
            "chain",
            CaseBody::Chain {
                chains: vec![p("c/chain.jsonl")],
                expect: ChainExpectation::Ok { length: 2 },
            },
        ));
        let out = dir.join("suite");
        b.finish(signer).unwrap().write(&out, false).unwrap();
        out
    }

    #[test]
    fn a_signed_suite_opens_with_its_key_and_replays_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let signer = key(Algorithm::Ed25519, 9);
        let suite_dir = write_suite(dir.path(), Some(&signer));
        let suite = Suite::open(&suite_dir, Some(&signer.public_key())).unwrap();
        assert_eq!(
            suite.signature(),
            &SignatureCheck::Verified(signer.public_key())
        );
        let report = suite.replay(|_, _| {});
        assert!(report.is_success(), "{}", report.to_human(&|t, _| t.into()));
        assert_eq!(report.passed(), 4);
        let t = report.timings;
        assert!(!t.verdicts.is_zero() && !t.chain_links.is_zero() && !t.decode.is_zero());
        let unchecked = Suite::open(&suite_dir, None).unwrap();
        assert_eq!(unchecked.signature(), &SignatureCheck::NotChecked);
    }

    #[test]
    fn signature_refusals_come_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let signer = key(Algorithm::Ed25519, 9);
        let suite_dir = write_suite(dir.path(), Some(&signer));
        let kind = |k: &PublicKey| Suite::open(&suite_dir, Some(k)).unwrap_err();

        // Wrong key.
        let other = key(Algorithm::Ed25519, 8).public_key();
        assert!(matches!(
            kind(&other),
            OpenError::Signature(SignatureError::WrongKey { .. })
        ));
        // A manifest edit that is still a valid manifest: bad signature, not a replay.
        let manifest_path = suite_dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&manifest_path).unwrap();
        fs::write(
            &manifest_path,
            text.replace("\"version\": \"1\"", "\"version\": \"2\""),
        )
        .unwrap();
        assert!(matches!(
            kind(&signer.public_key()),
            OpenError::Signature(SignatureError::Invalid { .. })
        ));
        // Garbage that is still JSON is a signature problem first, not a manifest one.
        fs::write(&manifest_path, b"{\"schema\": 7}").unwrap();
        assert_eq!(kind(&signer.public_key()).kind(), "signature");
        assert_eq!(
            Suite::open(&suite_dir, None).unwrap_err().kind(),
            "manifest"
        );
        // Missing signature.
        fs::write(&manifest_path, text).unwrap();
        fs::remove_file(suite_dir.join(SIGNATURE_FILE)).unwrap();
        assert!(matches!(
            kind(&signer.public_key()),
            OpenError::Signature(SignatureError::Missing)
        ));
        assert!(Suite::open(&suite_dir, None).is_ok());
    }

    #[test]
    fn integrity_refusals_name_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let suite_dir = write_suite(dir.path(), None);
        let claim = suite_dir.join("c/one.txt");
        let mut bytes = fs::read(&claim).unwrap();
        bytes[10] ^= 1;
        fs::write(&claim, bytes).unwrap();
        fs::remove_file(suite_dir.join("c/two.md")).unwrap();
        fs::write(suite_dir.join("c/extra.json"), b"{}").unwrap();
        let err = Suite::open(&suite_dir, None).unwrap_err();
        let OpenError::Integrity(IntegrityError { problems }) = &err else {
            panic!("{err}");
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("c/extra.json: present but not listed"));
        assert!(shown[1].starts_with("c/one.txt: content changed"));
        assert!(shown[2].starts_with("c/two.md: listed in the manifest but missing"));
    }

    #[test]
    fn traversal_in_the_manifest_is_refused_before_the_folder_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let suite_dir = write_suite(dir.path(), None);
        let manifest_path = suite_dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&manifest_path).unwrap();
        fs::write(
            &manifest_path,
            text.replace("\"c/one.txt\"", "\"c/../../one.txt\""),
        )
        .unwrap();
        let err = Suite::open(&suite_dir, None).unwrap_err();
        assert!(err.to_string().contains("path traversal"), "{err}");
        assert_eq!(err.kind(), "manifest");
    }

    #[test]
    fn a_wrong_expectation_is_a_difference_with_the_verdict_detail() {
        let dir = tempfile::tempdir().unwrap();
        let suite_dir = write_suite(dir.path(), None);
        let manifest_path = suite_dir.join(MANIFEST_FILE);
        let mut manifest = Manifest::parse(&fs::read(&manifest_path).unwrap()).unwrap();
        if let CaseBody::Claim { expect, .. } = &mut manifest.cases[1].body {
            expect[0] = ExpectedVerdict {
                outcome: Outcome::Invalid,
                reason: Some(InvalidReason::BadSignature),
            };
        }
        fs::write(&manifest_path, manifest.to_pretty_json()).unwrap();
        let report = Suite::open(&suite_dir, None).unwrap().replay(|_, _| {});
        let differing: Vec<&str> = report.differences().map(|c| c.case.id.as_str()).collect();
        assert_eq!(differing, ["bip340-markdown"]);
        let human = report.to_human(&|t, _| t.into());
        assert!(
            human.contains("expected [invalid (bad_signature)]"),
            "{human}"
        );
        assert!(
            human.contains("valid: signature and times check out"),
            "{human}"
        );
    }
}
