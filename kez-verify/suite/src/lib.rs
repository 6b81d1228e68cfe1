//! # kez-suite
//!
//! Fixture suites for auditors (docs/SUITES.md): a folder of KEZ test inputs with a
//! manifest that lists every file's SHA-256 and every case's expected outcome (SPEC.md
//! §8), optionally signed with an Ed25519 key, and an offline replay that evaluates every
//! case with kez-core, compares, and reports where the time went.
//!
//! | module | what |
//! |---|---|
//! | [`path`] | the paths a manifest may name: relative, inside the folder, portable |
//! | [`manifest`] | `manifest.json`, schema `kez-suite/v1` |
//! | [`signature`] | `manifest.json.sig`, Ed25519 over the manifest's JCS form |
//! | [`integrity`] | the folder holds exactly the listed files, with the listed digests |
//! | [`suite`] | opening a suite: every check, before anything is replayed |
//! | [`replay`] | evaluating the cases (SPEC.md §6–§8), timed by phase |
//! | [`evidence`] | evidence cases: recorded bundles replayed through kez-id (SPEC.md §11) |
//! | [`report`] | the report as a table, JSON (`kez-verify/replay/v1`) or JUnit XML |
//! | [`build`] | building suite folders, from the fixture cases or from scratch |
//!
//! ```
//! use kez_core::{claim::ClaimBuilder, encoding, Algorithm, SecretKey};
//! use kez_suite::build::SuiteBuilder;
//! use kez_suite::manifest::{Case, CaseBody, ExpectedVerdict};
//! use kez_suite::path::SuitePath;
//! use kez_suite::suite::Suite;
//! use kez_core::verdict::Outcome;
//!
//! // A one-case suite, signed.
//! let signer = SecretKey::generate(Algorithm::Ed25519);
//! let claim = ClaimBuilder::new("github:jason".parse()?, 1_767_225_600)
//!     .sign(&SecretKey::generate(Algorithm::Ed25519), None)?;
//! let input = SuitePath::parse("cases/one/claim.txt")?;
//! let mut builder = SuiteBuilder::new("example", "1", 1_767_312_000);
//! builder.add_file(input.clone(), encoding::compact::encode(&claim).into_bytes())?;
//! builder.add_case(Case {
//!     id: "one".into(),
//!     description: None,
//!     requirements: vec![],
//!     at: None,
//!     body: CaseBody::Claim {
//!         input,
//!         chains: vec![],
//!         subject: None,
//!         expect: vec![ExpectedVerdict { outcome: Outcome::Valid, reason: None }],
//!     },
//! });
//! let dir = tempfile::tempdir()?;
//! let folder = dir.path().join("example");
//! builder.finish(Some(&signer))?.write(&folder, false)?;
//!
//! // Replay it, requiring the signature.
//! let report = Suite::open(&folder, Some(&signer.public_key()))?.replay(|_, _| {});
//! assert!(report.is_success());
//! assert_eq!(report.to_json()["schema"], "kez-verify/replay/v1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod build;
pub mod evidence;
pub mod integrity;
pub mod manifest;
pub mod path;
pub mod replay;
pub mod report;
pub mod signature;
pub mod suite;

pub use manifest::Manifest;
pub use report::Report;
pub use suite::{OpenError, SignatureCheck, Suite};
