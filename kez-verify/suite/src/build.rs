//! Building suite folders (docs/SUITES.md, "Building a suite").
//!
//! [`SuiteBuilder`] collects files and cases in memory and [`SuiteBuilder::finish`] turns
//! them into a [`BuiltSuite`]: the files, `manifest.json` with every digest, and
//! optionally `manifest.json.sig`. [`from_fixture_cases`] fills a builder from the
//! fixture cases under `fixtures/cases`, and [`SuiteBuilder::add_evidence_cases`] adds the
//! evidence cases a list file describes (recorded bundles, docs/EVIDENCE.md), so the
//! shipped suites are reproducible: the same cases, name, version, time and key give the
//! same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use kez_core::{Digest256, Identity, PublicKey, SecretKey};
use serde::Deserialize;

use crate::manifest::{
    parse_case, parse_outcome, parse_reason, Case, CaseBody, ChainExpectation, ExpectedVerdict,
    Manifest, ManifestError, BUNDLE_BODIES, BUNDLE_INDEX, SCHEMA, SPEC_VERSION,
};
use crate::path::{PathError, SuitePath, MANIFEST_FILE, SIGNATURE_FILE};
use crate::signature::{self, SignatureError};

/// Why a suite could not be built or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A fixture case could not be read or understood.
    #[error("{}: {message}", path.display())]
    Source {
        /// The file or folder at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A path is not a valid suite path.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The same path was added twice.
    #[error("{0} was added twice")]
    Duplicate(SuitePath),
    /// The assembled manifest does not check.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest could not be signed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The output folder could not be written.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The output folder exists and replacing it was not asked for.
    #[error("{} exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
}

/// A suite being assembled.
#[derive(Debug, Clone)]
pub struct SuiteBuilder {
    name: String,
    version: String,
    at: u64,
    files: BTreeMap<SuitePath, Vec<u8>>,
    cases: Vec<Case>,
}

/// A finished suite: every file of the folder, in memory.
#[derive(Debug, Clone)]
pub struct BuiltSuite {
    /// The checked manifest.
    pub manifest: Manifest,
    /// The listed files.
    pub files: BTreeMap<SuitePath, Vec<u8>>,
    /// `manifest.json`.
    pub manifest_json: Vec<u8>,
    /// `manifest.json.sig`, when signed.
    pub signature: Option<Vec<u8>>,
}

impl SuiteBuilder {
    /// Starts a suite; `at` is its pinned evaluation time (Unix seconds).
    pub fn new(name: impl Into<String>, version: impl Into<String>, at: u64) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            at,
            files: BTreeMap::new(),
            cases: Vec::new(),
        }
    }

    /// Adds a file.
    pub fn add_file(&mut self, path: SuitePath, bytes: Vec<u8>) -> Result<(), BuildError> {
        if self.files.contains_key(&path) {
            return Err(BuildError::Duplicate(path));
        }
        self.files.insert(path, bytes);
        Ok(())
    }

    /// Adds a case (its files are added separately).
    pub fn add_case(&mut self, case: Case) {
        self.cases.push(case);
    }

    /// The cases added so far.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The pinned evaluation time.
    pub fn at(&self) -> u64 {
        self.at
    }

    /// Computes the digests, checks the manifest exactly as a replay will, and signs it
    /// with `key` if given.
    pub fn finish(self, key: Option<&SecretKey>) -> Result<BuiltSuite, BuildError> {
        let manifest = Manifest {
            name: self.name,
            version: self.version,
            at: self.at,
            files: self
                .files
                .iter()
                .map(|(p, b)| (p.clone(), Digest256::of(b)))
                .collect(),
            cases: self.cases,
        };
        let manifest_json = manifest.to_pretty_json();
        // What a replay will read must be what was built.
        let checked = Manifest::parse(&manifest_json)?;
        debug_assert_eq!(checked, manifest);
        let signature = key
            .map(|k| signature::sign(&manifest_json, k))
            .transpose()?;
        Ok(BuiltSuite {
            manifest: checked,
            files: self.files,
            manifest_json,
            signature,
        })
    }
}

impl BuiltSuite {
    /// Writes the suite folder at `out`: into a new folder next to it, renamed into
    /// place at the end, so `out` never holds half a suite. An existing `out` is
    /// replaced only with `overwrite`.
    pub fn write(&self, out: &Path, overwrite: bool) -> Result<(), BuildError> {
        let write_error = |path: &Path| {
            let path = path.to_owned();
            move |error| BuildError::Write { path, error }
        };
        if out.symlink_metadata().is_ok() && !overwrite {
            return Err(BuildError::Exists(out.to_owned()));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(write_error(&parent))?;
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.as_deref().unwrap_or("suite")))
            .suffix(".tmp")
            .tempdir_in(&parent)
            .map_err(write_error(&parent))?;
        for (path, bytes) in &self.files {
            let target = path.under(temp.path());
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir).map_err(write_error(dir))?;
            }
            fs::write(&target, bytes).map_err(write_error(&target))?;
        }
        let manifest = temp.path().join(MANIFEST_FILE);
        fs::write(&manifest, &self.manifest_json).map_err(write_error(&manifest))?;
        if let Some(sig) = &self.signature {
            let path = temp.path().join(SIGNATURE_FILE);
            fs::write(&path, sig).map_err(write_error(&path))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755))
                .map_err(write_error(temp.path()))?;
        }
        if out.symlink_metadata().is_ok() {
            if !overwrite {
                return Err(BuildError::Exists(out.to_owned()));
            }
            if out.is_dir() {
                fs::remove_dir_all(out).map_err(write_error(out))?;
            } else {
                fs::remove_file(out).map_err(write_error(out))?;
            }
        }
        let kept = temp.keep();
        fs::rename(&kept, out).map_err(|error| {
            let _ = fs::remove_dir_all(&kept);
            BuildError::Write {
                path: out.to_owned(),
                error,
            }
        })?;
        Ok(())
    }
}

/// The fixture case format of `fixtures/cases/<group>/<name>/case.json`
/// (fixtures/cases/README.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureCase {
    kind: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    chains: Vec<String>,
    at: u64,
    #[serde(default)]
    subject: Option<String>,
    expect: FixtureExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureExpect {
    #[serde(default)]
    outcomes: Option<Vec<FixtureVerdict>>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    length: Option<u64>,
    #[serde(default)]
    error_kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureVerdict {
    outcome: String,
    reason: Option<String>,
}

/// What [`from_fixture_cases`] left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The case id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// The folder a fixture case's files go to inside a suite.
pub const CASES_DIR: &str = "cases";

/// Fills a builder with every case under `cases_dir` (`<group>/<name>/case.json`): each
/// case's input and chain files are copied to `cases/<group>/<name>/`, and its time is
/// pinned on the case when it differs from `at`. Cases listed in `skip.json` (expected to
/// fail in this implementation) are left out and returned.
pub fn from_fixture_cases(
    cases_dir: &Path,
    name: &str,
    version: &str,
    at: u64,
) -> Result<(SuiteBuilder, Vec<Skipped>), BuildError> {
    let source = |path: &Path, message: String| BuildError::Source {
        path: path.to_owned(),
        message,
    };
    let skip_path = cases_dir.join("skip.json");
    let skips: BTreeMap<String, String> = match fs::read(&skip_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            source(
                &skip_path,
                format!("expected {{\"case id\": \"reason\"}}: {e}"),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(source(&skip_path, e.to_string())),
    };
    let mut builder = SuiteBuilder::new(name, version, at);
    let mut skipped = Vec::new();
    for group in sorted_dirs(cases_dir)? {
        for case_dir in sorted_dirs(&cases_dir.join(&group))? {
            let dir = cases_dir.join(&group).join(&case_dir);
            let case_file = dir.join("case.json");
            if !case_file.is_file() {
                continue;
            }
            let id = format!("{group}/{case_dir}");
            if let Some(reason) = skips.get(&id) {
                skipped.push(Skipped {
                    id,
                    reason: reason.clone(),
                });
                continue;
            }
            let bytes = fs::read(&case_file).map_err(|e| source(&case_file, e.to_string()))?;
            let fixture: FixtureCase =
                serde_json::from_slice(&bytes).map_err(|e| source(&case_file, e.to_string()))?;
            let base = SuitePath::parse(CASES_DIR)?.join(&id)?;
            let mut copy = |name: &str| -> Result<SuitePath, BuildError> {
                let target = base.join(name)?;
                let from = dir.join(name);
                let bytes = fs::read(&from).map_err(|e| source(&from, e.to_string()))?;
                if !builder.files.contains_key(&target) {
                    builder.add_file(target.clone(), bytes)?;
                }
                Ok(target)
            };
            let input = fixture.input.as_deref().map(&mut copy).transpose()?;
            let chains = fixture
                .chains
                .iter()
                .map(|c| copy(c))
                .collect::<Result<Vec<_>, _>>()?;
            let body = fixture_body(&case_file, &fixture, input, chains)?;
            builder.add_case(Case {
                id,
                description: fixture.description,
                requirements: fixture.requirements,
                at: (fixture.at != at).then_some(fixture.at),
                body,
            });
        }
    }
    if builder.cases.is_empty() {
        return Err(source(
            cases_dir,
            "no fixture cases found (expected <group>/<name>/case.json)".into(),
        ));
    }
    Ok((builder, skipped))
}

fn fixture_body(
    case_file: &Path,
    fixture: &FixtureCase,
    input: Option<SuitePath>,
    chains: Vec<SuitePath>,
) -> Result<CaseBody, BuildError> {
    let bad = |message: &str| BuildError::Source {
        path: case_file.to_owned(),
        message: message.to_string(),
    };
    let e = &fixture.expect;
    match fixture.kind.as_str() {
        "claim" => {
            let outcomes = e
                .outcomes
                .as_ref()
                .ok_or_else(|| bad("a claim case expects {\"outcomes\": …}"))?;
            let expect = outcomes
                .iter()
                .map(|v| {
                    let outcome = parse_outcome(&v.outcome)
                        .ok_or_else(|| bad(&format!("unknown outcome {:?}", v.outcome)))?;
                    let reason = v
                        .reason
                        .as_deref()
                        .map(|r| {
                            parse_reason(r).ok_or_else(|| bad(&format!("unknown reason {r:?}")))
                        })
                        .transpose()?;
                    Ok(ExpectedVerdict { outcome, reason })
                })
                .collect::<Result<Vec<_>, BuildError>>()?;
            let subject = fixture
                .subject
                .as_deref()
                .map(|s| Identity::parse(s).map_err(|err| bad(&format!("subject: {err}"))))
                .transpose()?;
            Ok(CaseBody::Claim {
                input: input.ok_or_else(|| bad("a claim case names its input"))?,
                chains,
                subject,
                expect,
            })
        }
        "chain" => {
            let expect =
                match (e.ok, e.length, e.error_kind.as_deref()) {
                    (Some(true), Some(length), None) => ChainExpectation::Ok { length },
                    (None, None, Some("malformed")) => ChainExpectation::Malformed,
                    (None, None, Some("bad_signature")) => ChainExpectation::BadSignature,
                    (None, None, Some("fork")) => ChainExpectation::Fork,
                    _ => return Err(bad(
                        "a chain case expects {\"ok\": true, \"length\": n} or {\"error_kind\": …}",
                    )),
                };
            Ok(CaseBody::Chain { chains, expect })
        }
        other => Err(bad(&format!(
            "unknown kind {other:?} (expected claim or chain)"
        ))),
    }
}

/// The names of the folders in `dir`, sorted.
fn sorted_dirs(dir: &Path) -> Result<Vec<String>, BuildError> {
    let error = |e: std::io::Error| BuildError::Source {
        path: dir.to_owned(),
        message: e.to_string(),
    };
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        if entry.file_type().map_err(error)?.is_dir() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names.into_iter().collect())
}

/// The evidence case list that `suite build --evidence FILE` reads (docs/SUITES.md,
/// "Building a suite"): `{"cases": [...]}`, each case as in a manifest except that
/// `bundle` is the recorded bundle's folder relative to the list file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceList {
    cases: Vec<serde_json::Map<String, serde_json::Value>>,
}

impl SuiteBuilder {
    /// Adds the evidence cases listed in the file `list` (format: docs/SUITES.md,
    /// "Building a suite"): each case's bundle (`bundle.json` and `bodies/…`) is copied to
    /// `cases/<id>/`, and the case is checked exactly as a manifest's case is.
    pub fn add_evidence_cases(&mut self, list: &Path) -> Result<usize, BuildError> {
        let source = |path: &Path, message: String| BuildError::Source {
            path: path.to_owned(),
            message,
        };
        let bytes = fs::read(list).map_err(|e| source(list, e.to_string()))?;
        let parsed: EvidenceList = serde_json::from_slice(&bytes)
            .map_err(|e| source(list, format!("expected {{\"cases\": [...]}}: {e}")))?;
        let base = list.parent().unwrap_or(Path::new("."));
        let count = parsed.cases.len();
        for (i, mut case) in parsed.cases.into_iter().enumerate() {
            let id = case
                .get("id")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| source(list, format!("cases[{i}]: no \"id\"")))?
                .to_string();
            let from = match case.get("bundle") {
                Some(serde_json::Value::String(dir)) => base.join(dir),
                _ => {
                    return Err(source(
                        list,
                        format!("cases[{i}] ({id}): \"bundle\" names the bundle folder"),
                    ))
                }
            };
            if case.contains_key("kind") {
                return Err(source(
                    list,
                    format!("cases[{i}] ({id}): every case here is of kind evidence; leave \"kind\" out"),
                ));
            }
            let folder = SuitePath::parse(CASES_DIR)?.join(&id)?;
            self.copy_bundle(&from, &folder)?;
            case.insert("kind".into(), "evidence".into());
            case.insert("bundle".into(), folder.to_string().into());
            if case.get("at").and_then(serde_json::Value::as_u64) == Some(self.at) {
                case.remove("at");
            }
            let digests: BTreeMap<SuitePath, Digest256> = self
                .files
                .iter()
                .map(|(p, b)| (p.clone(), Digest256::of(b)))
                .collect();
            let parsed = parse_case(self.cases.len(), case.into(), &digests)
                .map_err(|e| source(list, e.to_string()))?;
            self.add_case(parsed);
        }
        Ok(count)
    }

    /// Copies the bundle in `from` (`bundle.json`, `bodies/*`) to `folder`; anything else
    /// in `from` is refused rather than left out.
    fn copy_bundle(&mut self, from: &Path, folder: &SuitePath) -> Result<(), BuildError> {
        let source = |path: &Path, message: String| BuildError::Source {
            path: path.to_owned(),
            message,
        };
        let read = |path: &Path| fs::read(path).map_err(|e| source(path, e.to_string()));
        let mut names = BTreeSet::new();
        for entry in fs::read_dir(from).map_err(|e| source(from, e.to_string()))? {
            let entry = entry.map_err(|e| source(from, e.to_string()))?;
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
        for name in &names {
            if name == "bodies.tar" {
                return Err(source(
                    &from.join(name),
                    format!(
                        "a packed bundle (format 2); a suite holds bundles as folders of files \
                         (format 1): unpack it with `tar -xf bodies.tar -C {BUNDLE_BODIES}` and \
                         set kez_evidence_bundle to 1 (docs/EVIDENCE.md)"
                    ),
                ));
            }
            if name != BUNDLE_INDEX && name != BUNDLE_BODIES {
                return Err(source(
                    &from.join(name),
                    format!("a bundle folder holds only {BUNDLE_INDEX} and {BUNDLE_BODIES}/"),
                ));
            }
        }
        self.add_file(folder.join(BUNDLE_INDEX)?, read(&from.join(BUNDLE_INDEX))?)?;
        let bodies = from.join(BUNDLE_BODIES);
        if bodies.is_dir() {
            let mut names = BTreeSet::new();
            for entry in fs::read_dir(&bodies).map_err(|e| source(&bodies, e.to_string()))? {
                let entry = entry.map_err(|e| source(&bodies, e.to_string()))?;
                names.insert(entry.file_name().to_string_lossy().into_owned());
            }
            let target = folder.join(BUNDLE_BODIES)?;
            for name in names {
                self.add_file(target.join(&name)?, read(&bodies.join(&name))?)?;
            }
        }
        Ok(())
    }

    /// Adds `README.md`: what the suite is, how to replay it, and which key signs it.
    pub fn add_readme(&mut self, signer: Option<&PublicKey>) -> Result<(), BuildError> {
        let text = readme(&self.name, &self.version, self.at, &self.cases, signer);
        self.add_file(SuitePath::parse("README.md")?, text.into_bytes())
    }
}

fn readme(
    name: &str,
    version: &str,
    at: u64,
    cases: &[Case],
    signer: Option<&PublicKey>,
) -> String {
    let count = |kind: &str| cases.iter().filter(|c| c.body.kind() == kind).count();
    let key = signer.map_or_else(
        || "The manifest is not signed.".to_string(),
        |k| {
            format!(
                "`manifest.json.sig` signs the manifest with the Ed25519 key\n`{k}`.\nReplay with `--key {k}` to require it."
            )
        },
    );
    format!(
        "# Suite `{name}`, version {version}\n\n\
         A `{SCHEMA}` fixture suite for SPEC.md {SPEC_VERSION}: {} cases ({} claim, {} chain{}),\n\
         evaluated at {} ({at}) unless a case pins its own time.\n\
         Generated by `kez-verify suite build`; docs/SUITES.md describes the format. After editing\n\
         anything here, re-sign with `kez-verify suite sign --rehash`.\n\n\
         {key}\n\n\
         Replay offline:\n\n\
         ```sh\n\
         kez-verify replay path/to/{name}{}\n\
         ```\n",
        cases.len(),
        count("claim"),
        count("chain"),
        match count("evidence") {
            0 => String::new(),
            n => format!(", {n} evidence"),
        },
        crate::report::rfc3339(at),
        signer.map(|k| format!(" --key {k}")).unwrap_or_default(),
    )
}
