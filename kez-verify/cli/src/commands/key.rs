//! `key new|show|backup|restore`: secret key files and their paper backup (SPEC.md §9).

use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use kez_core::{PublicKey, SecretKey};
use kez_keys::mnemonic::{self, Mnemonic, RecallChallenge, RecallError};
use kez_keys::store;
use rand_core::OsRng;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{KeyBackupArgs, KeyCommand, KeyNewArgs, KeyRestoreArgs, KeyShowArgs};
use crate::error::{CliError, CliResult, Status};
use crate::input;
use crate::keystore;
use crate::output::{self, Paint, Ui};

/// The largest words file read, in bytes.
const MAX_WORDS_FILE: u64 = 64 * 1024;

/// Runs a `key` command.
pub(crate) fn run(ui: &Ui, command: KeyCommand) -> CliResult {
    match command {
        KeyCommand::New(args) => new(ui, &args),
        KeyCommand::Show(args) => show(ui, &args),
        KeyCommand::Backup(args) => backup(ui, &args),
        KeyCommand::Restore(args) => restore(ui, &args),
    }
}

/// What `key new`, `key restore` and `key show` report. `secret` is filled only for
/// `key show --secret`.
#[derive(Serialize)]
struct KeyReport<'a> {
    file: String,
    algorithm: &'static str,
    public_key: String,
    npub: Option<String>,
    encrypted: bool,
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

impl KeyReport<'_> {
    fn new(file: &Path, public: &PublicKey, encrypted: bool, mode: Option<u32>) -> Self {
        KeyReport {
            file: file.display().to_string(),
            algorithm: public.algorithm().name(),
            public_key: public.to_string(),
            npub: public.to_npub(),
            encrypted,
            mode: mode.map(|m| format!("{m:04o}")),
            secret: None,
        }
    }
}

/// Prints the public key (and npub) of a key just written, and says where on stderr.
fn report_written(ui: &Ui, path: &Path, key: &SecretKey, encrypted: bool) -> CliResult {
    let public = key.public_key();
    let report = KeyReport::new(path, &public, encrypted, input::mode(path));
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        let mut text = format!("{public}\n");
        if let Some(npub) = &report.npub {
            text.push_str(&format!("{npub}\n"));
        }
        text
    };
    output::stdout(text.as_bytes())?;
    output::stderr_line(&format!(
        "wrote {} (mode 0600{})",
        path.display(),
        if encrypted { ", encrypted" } else { "" }
    ));
    Ok(Status::Ok)
}

fn new(ui: &Ui, args: &KeyNewArgs) -> CliResult {
    let key = SecretKey::generate(args.alg.into());
    let encrypted = keystore::write(&args.out, &key, &args.encrypt, args.force)?;
    report_written(ui, &args.out, &key, encrypted)
}

fn show(ui: &Ui, args: &KeyShowArgs) -> CliResult {
    let (key, info) = keystore::load(&args.file, &args.passphrase)?;
    let secret_hex = args
        .secret
        .then(|| Zeroizing::new(hex::encode(key.expose_secret())));
    let public = key.public_key();
    let mut report = KeyReport::new(&args.file, &public, info.encrypted, info.mode);
    report.secret = secret_hex.as_deref().map(String::as_str);
    let text = Zeroizing::new(if ui.json() {
        output::to_json(&report)?
    } else {
        let mut text = format!(
            "file:       {}\nalgorithm:  {}\npublic key: {}\n",
            report.file, report.algorithm, report.public_key
        );
        if let Some(npub) = &report.npub {
            text.push_str(&format!("npub:       {npub}\n"));
        }
        text.push_str(&format!(
            "encrypted:  {}\n",
            if report.encrypted { "yes" } else { "no" }
        ));
        if let Some(mode) = &report.mode {
            let shown = if info.is_shared() {
                ui.paint(&format!("{mode} (readable by others)"), Paint::Yellow)
            } else {
                mode.clone()
            };
            text.push_str(&format!("mode:       {shown}\n"));
        }
        if let Some(secret) = report.secret {
            text.push_str(&format!("secret:     {secret}\n"));
        }
        text
    });
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

fn backup(ui: &Ui, args: &KeyBackupArgs) -> CliResult {
    if let Some(out) = &args.out {
        keystore::refuse_existing(out, args.force)?;
    }
    let key = keystore::load_key(&args.file, &args.passphrase)?;
    let mnemonic = Mnemonic::from_key(&key);
    let phrase = mnemonic.to_phrase();
    match &args.out {
        Some(path) => {
            let text = Zeroizing::new(format!("{}\n", phrase.as_str()));
            store::write_atomic(path, text.as_bytes(), store::KEY_FILE_MODE, args.force)
                .map_err(keystore::write_error)?;
            if ui.json() {
                let report = serde_json::json!({ "file": path.display().to_string() });
                output::stdout(output::to_json(&report)?.as_bytes())?;
            }
            output::stderr_line(&format!(
                "wrote the {} words to {} (mode 0600)",
                mnemonic::WORD_COUNT,
                path.display()
            ));
        }
        None => {
            let text = Zeroizing::new(if ui.json() {
                let words: Vec<&str> = mnemonic.words().collect();
                output::to_json(&serde_json::json!({ "words": words }))?
            } else {
                format!("{}\n", phrase.as_str())
            });
            output::stdout(text.as_bytes())?;
        }
    }
    if args.skip_recall_check {
        output::warn("recall check skipped; make sure the words are written down");
        return Ok(Status::Ok);
    }
    recall_check(&mnemonic)?;
    Ok(Status::Ok)
}

/// Asks for three words back: prompts on stderr, answers from stdin, one per line.
fn recall_check(mnemonic: &Mnemonic) -> Result<(), CliError> {
    let challenge = RecallChallenge::new(&mut OsRng);
    output::stderr_line("recall check: type the words asked for, to confirm the backup");
    let stdin = io::stdin();
    let interactive = stdin.is_terminal();
    let mut stdin = stdin.lock();
    let mut answers: Vec<Zeroizing<String>> = Vec::new();
    for position in challenge.positions() {
        {
            let mut err = io::stderr().lock();
            let _ = write!(err, "word #{position}: ");
            let _ = err.flush();
        }
        let mut line = Zeroizing::new(String::new());
        let read = stdin
            .read_line(&mut line)
            .map_err(|e| CliError::Io(format!("recall check: cannot read standard input: {e}")))?;
        if read == 0 {
            output::stderr_line("");
            return Err(CliError::NotValid(format!(
                "recall check failed: no answer for word #{position} (end of input); \
                 the backup is not confirmed"
            )));
        }
        answers.push(line);
        if !interactive {
            // The answer was not echoed by a terminal: end the prompt's line.
            output::stderr_line("");
        }
    }
    let answers: Vec<&str> = answers.iter().map(|a| a.as_str()).collect();
    match challenge.check(mnemonic, &answers) {
        Ok(()) => {
            output::stderr_line("recall check passed: the backup is confirmed");
            Ok(())
        }
        Err(RecallError::Wrong { positions }) => {
            let list: Vec<String> = positions.iter().map(ToString::to_string).collect();
            Err(CliError::NotValid(format!(
                "recall check failed: word(s) {} do not match; the backup is not confirmed",
                list.join(", ")
            )))
        }
        Err(other) => Err(CliError::NotValid(format!(
            "recall check failed: {other}; the backup is not confirmed"
        ))),
    }
}

fn restore(ui: &Ui, args: &KeyRestoreArgs) -> CliResult {
    let source = args.words_file.as_deref().unwrap_or(Path::new("-"));
    if args.words_file.is_none() && io::stdin().is_terminal() {
        output::stderr_line("type or paste the 24 words, then press Ctrl-D");
    }
    let bytes = Zeroizing::new(input::read(source, MAX_WORDS_FILE)?);
    let name = input::display_name(source);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| CliError::Malformed(format!("{name}: the words are not UTF-8 text")))?;
    let key = mnemonic::restore(args.alg.into(), text)
        .map_err(|e| CliError::Malformed(format!("{name}: {e}")))?;
    let encrypted = keystore::write(&args.out, &key, &args.encrypt, args.force)?;
    report_written(ui, &args.out, &key, encrypted)
}
