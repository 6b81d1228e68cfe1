//! `replay SUITE` and `suite build|sign`: fixture suites for auditors (docs/SUITES.md,
//! implemented by the kez-suite crate).
//!
//! `replay` refuses a suite before replaying anything when its manifest is malformed, its
//! signature is missing or bad under a required `--key`, or its folder does not match the
//! manifest (exit 2, every problem on stderr). Otherwise it replays every case, prints the
//! report in the `--format` asked for (`human`, `json` or `junit`; `--junit FILE` writes
//! JUnit XML as well), and exits 0 when every case matched, 1 when any differed.
//!
//! The argument structs live here rather than in `cli.rs` so that adding these commands
//! touches `cli.rs` by two lines.

use std::io::{self, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kez_core::PublicKey;
use kez_keys::store::write_atomic;
use kez_suite::build::{self, BuildError};
use kez_suite::integrity::{self, IntegrityError};
use kez_suite::path::{MANIFEST_FILE, SIGNATURE_FILE};
use kez_suite::report::Mark;
use kez_suite::{signature, Manifest, OpenError, Suite};
use serde_json::json;

use crate::cli::{Format, PassphraseSource};
use crate::clock;
use crate::error::{CliError, CliResult, Status};
use crate::keystore;
use crate::output::{self, Paint, Ui};

/// `replay SUITE`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The suite folder (the one holding manifest.json).
    #[arg(value_name = "SUITE")]
    pub(crate) suite: PathBuf,
    /// Require manifest.json.sig to be a valid signature of the manifest by this Ed25519
    /// key (`ed25519:<64 hex>`); a missing, malformed or other signature refuses the suite
    /// (exit 2). Without --key the signature is not checked, and the report says so.
    #[arg(long, value_name = "ed25519:HEX", value_parser = parse_key)]
    pub(crate) key: Option<PublicKey>,
    /// Also write the report as JUnit XML to FILE (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
}

fn parse_key(text: &str) -> Result<PublicKey, String> {
    signature::parse_key(text).map_err(|e| e.to_string())
}

/// `suite …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SuiteCommand {
    /// Build a suite folder from fixture cases (`<group>/<name>/case.json`, as in
    /// fixtures/cases): copies each case's files, writes manifest.json with every digest
    /// and expected outcome, README.md, and with --sign-key manifest.json.sig.
    ///
    /// The output is reproducible: the same cases, options and key give the same bytes.
    Build(SuiteBuildArgs),
    /// Re-sign a suite after editing it. Without --rehash the folder must still match the
    /// manifest; with --rehash the manifest's file list is rewritten from the folder first.
    Sign(SuiteSignArgs),
}

/// `suite build`.
#[derive(Debug, Args)]
pub(crate) struct SuiteBuildArgs {
    /// The fixture cases folder, such as fixtures/cases.
    #[arg(long, value_name = "DIR")]
    pub(crate) from: PathBuf,
    /// The suite folder to write, such as fixtures/suites/floor.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Also add the evidence cases listed in FILE (`{"cases": [...]}`, each naming a
    /// recorded evidence bundle folder relative to FILE; docs/SUITES.md). Repeatable.
    #[arg(long = "evidence", value_name = "FILE")]
    pub(crate) evidence: Vec<PathBuf>,
    /// The suite's pinned evaluation time (RFC 3339, UTC). Cases whose own time differs
    /// keep theirs.
    #[arg(long, value_name = "RFC3339", value_parser = clock::parse_time)]
    pub(crate) at: u64,
    /// The suite's name (default: the name of the --out folder).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The suite's version.
    #[arg(long = "suite-version", value_name = "VERSION", default_value = "1")]
    pub(crate) version: String,
    /// Sign the manifest with this Ed25519 key file.
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) sign_key: Option<PathBuf>,
    /// Passphrase source for an encrypted key file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
    /// Replace --out if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `suite sign`.
#[derive(Debug, Args)]
pub(crate) struct SuiteSignArgs {
    /// The suite folder.
    #[arg(value_name = "SUITE")]
    pub(crate) suite: PathBuf,
    /// The Ed25519 key file to sign with.
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) sign_key: PathBuf,
    /// Rewrite the manifest's file list and digests from the folder before signing.
    #[arg(long)]
    pub(crate) rehash: bool,
    /// Passphrase source for an encrypted key file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// How long a run without a terminal goes between progress lines on stderr.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Runs `replay`.
pub(crate) fn run(ui: &Ui, args: &ReplayArgs) -> CliResult {
    let suite = Suite::open(&args.suite, args.key.as_ref()).map_err(|e| refused(&args.suite, e))?;
    let total = suite.manifest().cases.len();
    let mut progress = Progress::new(total);
    let report = suite.replay(|done, total| progress.step(done, total));
    progress.finish();

    if let Some(path) = &args.junit {
        write_atomic(path, report.to_junit().as_bytes(), 0o644, true)
            .map_err(keystore::write_error)?;
    }
    let text = match ui.format {
        Format::Json => output::to_json(&report.to_json())?,
        Format::Junit => report.to_junit(),
        Format::Human => report.to_human(&|text, mark| {
            let paint = match mark {
                Mark::Pass => Paint::Green,
                Mark::Fail => Paint::Red,
                Mark::Note => Paint::Yellow,
            };
            ui.paint(text, paint)
        }),
    };
    output::stdout(text.as_bytes())?;
    Ok(if report.is_success() {
        Status::Ok
    } else {
        Status::NotValid
    })
}

/// A refusal: every integrity problem on stderr, then the error (exit 2).
fn refused(suite: &Path, error: OpenError) -> CliError {
    let name = suite.display();
    if let OpenError::Integrity(IntegrityError { problems }) = &error {
        for problem in problems {
            output::stderr_line(&format!("  {problem}"));
        }
        return CliError::Malformed(format!(
            "suite {name} refused before replay: its folder does not match manifest.json ({} problem{}, listed above)",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
    }
    CliError::Malformed(format!(
        "suite {name} refused before replay ({}): {error}",
        error.kind()
    ))
}

/// Progress on stderr: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "replay {bar:40} {pos}/{len} cases, {elapsed} elapsed, {eta} left",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            last_line: Instant::now(),
        }
    }

    fn step(&mut self, done: usize, total: usize) {
        match &self.bar {
            Some(bar) => bar.set_position(done as u64),
            None => {
                if self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY && done < total {
                    output::stderr_line(&format!("replay: {done}/{total} cases"));
                    self.last_line = Instant::now();
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `suite …`.
/// (`commands::run` has already refused `--format junit`.)
pub(crate) fn run_suite(ui: &Ui, command: &SuiteCommand) -> CliResult {
    match command {
        SuiteCommand::Build(args) => build(ui, args),
        SuiteCommand::Sign(args) => sign(ui, args),
    }
}

fn build_error(error: BuildError) -> CliError {
    match error {
        BuildError::Exists(_) => CliError::Usage(error.to_string()),
        BuildError::Write { .. } => CliError::Io(error.to_string()),
        other => CliError::Malformed(other.to_string()),
    }
}

fn build(ui: &Ui, args: &SuiteBuildArgs) -> CliResult {
    if !args.force && args.out.symlink_metadata().is_ok() {
        return Err(build_error(BuildError::Exists(args.out.clone())));
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| CliError::Usage("--out names no folder; pass --name".into()))?,
    };
    let key = args
        .sign_key
        .as_deref()
        .map(|path| keystore::load_key(path, &args.passphrase))
        .transpose()?;
    let (mut builder, skipped) =
        build::from_fixture_cases(&args.from, &name, &args.version, args.at)
            .map_err(build_error)?;
    for list in &args.evidence {
        builder.add_evidence_cases(list).map_err(build_error)?;
    }
    let signer = key.as_ref().map(|k| k.public_key());
    builder.add_readme(signer.as_ref()).map_err(build_error)?;
    let built = builder.finish(key.as_ref()).map_err(build_error)?;
    built.write(&args.out, args.force).map_err(build_error)?;

    let manifest = &built.manifest;
    let claims = manifest
        .cases
        .iter()
        .filter(|c| c.body.kind() == "claim")
        .count();
    let chains = manifest
        .cases
        .iter()
        .filter(|c| c.body.kind() == "chain")
        .count();
    let evidence = manifest.cases.len() - claims - chains;
    let text = if ui.json() {
        output::to_json(&json!({
            "suite": args.out.display().to_string(),
            "name": manifest.name,
            "version": manifest.version,
            "at": manifest.at,
            "cases": manifest.cases.len(),
            "claim_cases": claims,
            "chain_cases": chains,
            "evidence_cases": evidence,
            "files": manifest.files.len(),
            "signed_by": signer.map(|k| k.to_string()),
            "skipped": skipped.iter().map(|s| json!({ "id": s.id, "reason": s.reason })).collect::<Vec<_>>(),
        }))?
    } else {
        let mut text = format!(
            "wrote suite {} to {}: {} cases ({claims} claim, {chains} chain, {evidence} evidence), {} files, at {}\n",
            manifest.name,
            args.out.display(),
            manifest.cases.len(),
            manifest.files.len(),
            clock::format_time(manifest.at)
        );
        match signer {
            Some(k) => text.push_str(&format!("signed by {k}\n")),
            None => text.push_str("not signed (pass --sign-key KEYFILE to sign)\n"),
        }
        for s in &skipped {
            text.push_str(&format!("left out {} (skip.json: {})\n", s.id, s.reason));
        }
        text
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

fn sign(ui: &Ui, args: &SuiteSignArgs) -> CliResult {
    let key = keystore::load_key(&args.sign_key, &args.passphrase)?;
    let manifest_path = args.suite.join(MANIFEST_FILE);
    let bytes = crate::input::read(&manifest_path, kez_suite::suite::MAX_MANIFEST_BYTES)?;
    let mut manifest = Manifest::parse(&bytes).map_err(|e| CliError::Malformed(e.to_string()))?;
    if args.rehash {
        manifest.files =
            integrity::scan(&args.suite).map_err(|e| list_problems(&args.suite, e, true))?;
    } else {
        integrity::check(&args.suite, &manifest.files)
            .map_err(|e| list_problems(&args.suite, e, false))?;
    }
    let manifest_json = manifest.to_pretty_json();
    // The file list may no longer hold a file a case names.
    Manifest::parse(&manifest_json).map_err(|e| CliError::Malformed(e.to_string()))?;
    let sig = signature::sign(&manifest_json, &key).map_err(|e| CliError::Usage(e.to_string()))?;
    if manifest_json != bytes {
        write_atomic(&manifest_path, &manifest_json, 0o644, true).map_err(keystore::write_error)?;
    }
    write_atomic(args.suite.join(SIGNATURE_FILE), &sig, 0o644, true)
        .map_err(keystore::write_error)?;
    let signer = key.public_key().to_string();
    let text = if ui.json() {
        output::to_json(&json!({
            "suite": args.suite.display().to_string(),
            "files": manifest.files.len(),
            "cases": manifest.cases.len(),
            "signed_by": signer,
            "rehashed": args.rehash,
        }))?
    } else {
        format!(
            "signed {} ({} files, {} cases) with {signer}\n",
            args.suite.join(MANIFEST_FILE).display(),
            manifest.files.len(),
            manifest.cases.len()
        )
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

fn list_problems(suite: &Path, error: IntegrityError, rehash: bool) -> CliError {
    for problem in &error.problems {
        output::stderr_line(&format!("  {problem}"));
    }
    let (what, hint) = if rehash {
        ("holds files a manifest cannot list", "")
    } else {
        (
            "does not match manifest.json",
            "; pass --rehash to list the folder as it is",
        )
    };
    CliError::Malformed(format!(
        "{}: the folder {what} ({} problem{}, listed above){hint}",
        suite.display(),
        error.problems.len(),
        if error.problems.len() == 1 { "" } else { "s" }
    ))
}
