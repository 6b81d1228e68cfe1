//! `nats generate|check|user`: NATS credentials from a spec, checked, and issued for a
//! KEZ key (`kez-nats`; docs/NATS.md).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use kez_nats::check::{self, Report, Severity};
use kez_nats::generate::{self, GenerateError, GenerateOptions, Generated};
use kez_nats::issue::{self, IssueError, UserOptions};
use kez_nats::nkey::{self, PublicNkey};
use kez_nats::spec::Spec;
use serde::Serialize;

use crate::cli::PassphraseSource;
use crate::clock;
use crate::error::{CliError, CliResult, Status};
use crate::input;
use crate::keystore;
use crate::output::{self, Paint, Ui};

/// `nats …`.
#[derive(Debug, Subcommand)]
pub(crate) enum NatsCommand {
    /// Write an NSC store, keys, .creds files and two nats-server configs (memory and
    /// full resolver) for the organisation described in a TOML spec.
    ///
    /// A non-empty output directory is refused without --force; with it, existing keys
    /// are kept and only changed JWTs are re-signed. Exit 0 done, 2 bad spec or files.
    Generate(NatsGenerateArgs),
    /// Check a .creds file, a JWT file, an NSC store, an nsc home or a nats-server config.
    ///
    /// Exit 0 no error findings (warnings allowed), 1 error findings (bad signatures,
    /// untrusted or revoked), 2 malformed findings or an unreadable input.
    Check(NatsCheckArgs),
    /// Issue a user JWT and .creds file for a KEZ Ed25519 key, signed by an account key.
    User(NatsUserArgs),
    /// Run an auth callout service: admit clients that connect with their KEZ Ed25519 key
    /// as user nkey, are in good standing in a sigchain and have a role.
    ///
    /// Subscribes to $SYS.REQ.USER.AUTH in the queue group kez-auth-callout (run several
    /// for more capacity). One line per decision on stderr; a summary on stdout when it
    /// stops (ctrl-c, SIGTERM, --max-requests). Exit 0 stopped, 2 bad settings or files,
    /// or the server unreachable.
    Callout(NatsCalloutArgs),
}

/// `nats callout`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("chain_source").required(true).args(["chains", "chain"])))]
pub(crate) struct NatsCalloutArgs {
    /// The nats-server URL.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: String,
    /// The service's own credentials (operator mode: a user of the callout account listed
    /// in its authorization.auth_users).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["nkey_seed", "user"])]
    pub(crate) creds: Option<PathBuf>,
    /// The service's own user nkey seed (config mode: an nkey user in auth_users).
    #[arg(long, value_name = "FILE", conflicts_with = "user")]
    pub(crate) nkey_seed: Option<PathBuf>,
    /// The service's own user name (with --password-file).
    #[arg(long, requires = "password_file")]
    pub(crate) user: Option<String>,
    /// A file holding the service's password.
    #[arg(long, value_name = "FILE", requires = "user")]
    pub(crate) password_file: Option<PathBuf>,
    /// The account seed that signs responses and user JWTs: the auth_callout issuer
    /// (config mode) or the callout account (operator mode). A bare seed or nsc .nk file.
    #[arg(long, value_name = "FILE")]
    pub(crate) issuer_seed: PathBuf,
    /// Operator mode with a signing key as --issuer-seed: the account (A…) it signs for.
    #[arg(long, value_name = "ACCOUNT")]
    pub(crate) issuer_account: Option<String>,
    /// The curve seed (SX…) whose public key is the callout's xkey: opens encrypted
    /// requests and encrypts the responses.
    #[arg(long, value_name = "FILE")]
    pub(crate) xkey_seed: Option<PathBuf>,
    /// A directory of KEZ sigchains (every *.jsonl file).
    #[arg(long, value_name = "DIR")]
    pub(crate) chains: Option<PathBuf>,
    /// One KEZ sigchain file.
    #[arg(long, value_name = "FILE")]
    pub(crate) chain: Option<PathBuf>,
    /// The role mapping (TOML; schema in docs/NATS.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) roles: PathBuf,
    /// The queue group to join.
    #[arg(long, value_name = "NAME", default_value = kez_nats::callout::QUEUE_GROUP)]
    pub(crate) queue: String,
    /// Stop after this many requests.
    #[arg(long, value_name = "N")]
    pub(crate) max_requests: Option<u64>,
}

/// `nats generate`.
#[derive(Debug, Args)]
pub(crate) struct NatsGenerateArgs {
    /// The organisation spec (TOML; schema in docs/NATS.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) spec: PathBuf,
    /// The output directory (an nsc home: stores/, keys/, configs).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Update a non-empty output directory, keeping its keys.
    #[arg(long)]
    pub(crate) force: bool,
    /// A directory of KEZ sigchains (*.jsonl): the Ed25519 keys they rotated away or
    /// withdrew are revoked in the accounts. Repeatable.
    #[arg(long = "sigchain", value_name = "DIR")]
    pub(crate) sigchains: Vec<PathBuf>,
}

/// `nats check`.
#[derive(Debug, Args)]
pub(crate) struct NatsCheckArgs {
    /// What to check.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
}

/// `nats user`.
#[derive(Debug, Args)]
pub(crate) struct NatsUserArgs {
    /// The person's KEZ key file (Ed25519); its public key becomes the user key.
    #[arg(long, value_name = "FILE")]
    pub(crate) kez_key: PathBuf,
    /// The account seed to sign with (a bare seed or an nsc .nk file).
    #[arg(long, value_name = "FILE")]
    pub(crate) account_seed: PathBuf,
    /// The account JWT: recognises signing and scoped keys, refuses revoked user keys.
    #[arg(long, value_name = "FILE")]
    pub(crate) account_jwt: Option<PathBuf>,
    /// The user's name.
    #[arg(long)]
    pub(crate) name: String,
    /// Expire the user this long after now, e.g. `90d`.
    #[arg(long, value_name = "DURATION", value_parser = clock::parse_duration)]
    pub(crate) expires_in: Option<u64>,
    /// A subject the user may publish to (repeatable).
    #[arg(long = "allow-pub", value_name = "SUBJECT")]
    pub(crate) allow_pub: Vec<String>,
    /// A subject the user may subscribe to (repeatable).
    #[arg(long = "allow-sub", value_name = "SUBJECT")]
    pub(crate) allow_sub: Vec<String>,
    /// Allow every subject (`>`), instead of --allow-pub/--allow-sub.
    #[arg(long, conflicts_with_all = ["allow_pub", "allow_sub"])]
    pub(crate) allow_all: bool,
    /// The .creds file to write (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Passphrase source for an encrypted KEZ key file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// Runs a `nats` command.
pub(crate) fn run(ui: &Ui, command: NatsCommand) -> CliResult {
    match command {
        NatsCommand::Generate(args) => run_generate(ui, &args),
        NatsCommand::Check(args) => run_check(ui, &args),
        NatsCommand::User(args) => run_user(ui, &args),
        NatsCommand::Callout(args) => run_callout(ui, &args),
    }
}

fn now() -> Result<i64, CliError> {
    let now = clock::now()?;
    i64::try_from(now).map_err(|_| CliError::Usage("the clock is beyond 2^63 seconds".into()))
}

/// The retired keys of every sigchain in `dir`.
fn revoked_from(dir: &Path) -> Result<Vec<PublicNkey>, CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Io(format!("cannot read {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    let mut keys = Vec::new();
    for path in paths {
        let bytes = input::read(&path, input::MAX_CHAIN)?;
        let retired = kez_nats::sigchain::retired_user_keys_jsonl(&bytes)
            .map_err(|e| crate::chain::cli_error(&path.display().to_string(), &e))?;
        keys.extend(retired);
    }
    Ok(keys)
}

fn generate_error(error: GenerateError) -> CliError {
    match error.kind() {
        "usage" => CliError::Usage(error.to_string()),
        "transport" => CliError::Io(error.to_string()),
        _ => CliError::Malformed(error.to_string()),
    }
}

#[derive(Serialize)]
struct UserOut<'a> {
    name: &'a str,
    public_key: String,
    creds: Option<String>,
    revoked: bool,
}

#[derive(Serialize)]
struct AccountOut<'a> {
    name: &'a str,
    public_key: String,
    users: Vec<UserOut<'a>>,
}

#[derive(Serialize)]
struct GenerateOut<'a> {
    out: String,
    operator: String,
    system_account: String,
    accounts: Vec<AccountOut<'a>>,
    memory_config: String,
    full_config: String,
    written: usize,
    unchanged: usize,
    removed: usize,
}

fn generate_out(g: &Generated) -> GenerateOut<'_> {
    GenerateOut {
        out: g.layout.root().display().to_string(),
        operator: g.operator.to_string(),
        system_account: g.system_account.to_string(),
        accounts: g
            .accounts
            .iter()
            .map(|a| AccountOut {
                name: &a.name,
                public_key: a.public_key.to_string(),
                users: a
                    .users
                    .iter()
                    .map(|u| UserOut {
                        name: &u.name,
                        public_key: u.public_key.to_string(),
                        creds: u.creds.as_ref().map(|p| p.display().to_string()),
                        revoked: u.revoked,
                    })
                    .collect(),
            })
            .collect(),
        memory_config: g.memory_config.display().to_string(),
        full_config: g.full_config.display().to_string(),
        written: g.written.len(),
        unchanged: g.unchanged.len(),
        removed: g.removed.len(),
    }
}

fn run_generate(ui: &Ui, args: &NatsGenerateArgs) -> CliResult {
    let spec = Spec::from_file(&args.spec).map_err(|e| match e.kind() {
        "transport" => CliError::Io(e.to_string()),
        _ => CliError::Malformed(format!("{}: {e}", args.spec.display())),
    })?;
    let mut options = GenerateOptions::at(now()?);
    options.force = args.force;
    for dir in &args.sigchains {
        options.revoked.extend(revoked_from(dir)?);
    }
    let generated = generate::generate(&spec, &args.out, &options).map_err(generate_error)?;
    let out = generate_out(&generated);
    let text = if ui.json() {
        output::to_json(&out)?
    } else {
        let mut text = format!("operator {}\n", out.operator);
        for account in &out.accounts {
            text.push_str(&format!(
                "account {} {}\n",
                account.name, account.public_key
            ));
            for user in &account.users {
                let state = if user.revoked {
                    ui.paint("revoked", Paint::Red)
                } else {
                    user.creds
                        .clone()
                        .unwrap_or_else(|| "(KEZ key: no .creds)".into())
                };
                text.push_str(&format!(
                    "  user {} {} {state}\n",
                    user.name, user.public_key
                ));
            }
        }
        text.push_str(&format!(
            "config {}\nconfig {}\n",
            out.memory_config, out.full_config
        ));
        text
    };
    output::stdout(text.as_bytes())?;
    output::stderr_line(&format!(
        "{} files written, {} unchanged, {} removed",
        out.written, out.unchanged, out.removed
    ));
    Ok(Status::Ok)
}

#[derive(Serialize)]
struct CheckOut<'a> {
    #[serde(flatten)]
    report: &'a Report,
    exit_code: u8,
}

fn status_of(code: u8) -> Status {
    match code {
        0 => Status::Ok,
        1 => Status::NotValid,
        _ => Status::Malformed,
    }
}

fn run_check(ui: &Ui, args: &NatsCheckArgs) -> CliResult {
    let report = check::check(&args.path).map_err(|e| match e.kind() {
        "transport" => CliError::Io(e.to_string()),
        _ => CliError::Malformed(e.to_string()),
    })?;
    let exit_code = report.exit_code();
    let text = if ui.json() {
        output::to_json(&CheckOut {
            report: &report,
            exit_code,
        })?
    } else {
        let mut text = String::new();
        for finding in report.findings() {
            let (label, paint) = match finding.severity() {
                Severity::Error => ("error", Paint::Red),
                Severity::Warning => ("warning", Paint::Yellow),
                Severity::Info => ("note", Paint::Green),
            };
            text.push_str(&format!(
                "{} {} {}: {}\n",
                ui.paint(label, paint),
                finding.code().id(),
                finding.location(),
                finding.message()
            ));
        }
        let c = report.counts();
        let verdict = match exit_code {
            0 => ui.paint("ok", Paint::Green),
            _ => ui.paint("not ok", Paint::Red),
        };
        text.push_str(&format!(
            "{verdict}: {} operator, {} account, {} user JWTs, {} .creds, {} keys, {} configs; {} findings\n",
            c.operators,
            c.accounts,
            c.users,
            c.creds,
            c.keys,
            c.configs,
            report.findings().len()
        ));
        text
    };
    output::stdout(text.as_bytes())?;
    Ok(status_of(exit_code))
}

fn issue_error(error: IssueError) -> CliError {
    match error.kind() {
        "usage" => CliError::Usage(error.to_string()),
        "untrusted" | "revoked" => CliError::NotValid(error.to_string()),
        _ => CliError::Malformed(error.to_string()),
    }
}

#[derive(Serialize)]
struct UserIssued {
    public_key: String,
    creds: String,
}

fn run_user(ui: &Ui, args: &NatsUserArgs) -> CliResult {
    if !args.force && args.out.symlink_metadata().is_ok() {
        return Err(CliError::Usage(format!(
            "{} exists; pass --force to replace it",
            args.out.display()
        )));
    }
    let kez = keystore::load_key(&args.kez_key, &args.passphrase)?;
    let seed_bytes = zeroize::Zeroizing::new(input::read(&args.account_seed, 64 * 1024)?);
    let seed_text = zeroize::Zeroizing::new(String::from_utf8_lossy(&seed_bytes).into_owned());
    let seed = nkey::seed_from_decorated(&seed_text)
        .map_err(|e| CliError::Malformed(format!("{}: {e}", args.account_seed.display())))?;
    if input::mode(&args.account_seed).is_some_and(|m| m & 0o077 != 0) {
        output::warn(&format!(
            "{} is readable by group or others; run `chmod 600 {}`",
            args.account_seed.display(),
            args.account_seed.display()
        ));
    }
    let account_jwt = match &args.account_jwt {
        Some(path) => {
            Some(String::from_utf8_lossy(&input::read(path, input::MAX_INPUT)?).into_owned())
        }
        None => None,
    };
    let now = now()?;
    let mut options = UserOptions::new(args.name.clone(), now);
    options.expires = match args.expires_in {
        Some(secs) => now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)),
        None => 0,
    };
    options.pub_allow = args.allow_pub.clone();
    options.sub_allow = args.allow_sub.clone();
    options.allow_all = args.allow_all;
    let issued = issue::user(&kez, &seed, account_jwt.as_deref(), &options).map_err(issue_error)?;
    kez_keys::store::write_atomic(&args.out, issued.creds.as_bytes(), 0o600, args.force)
        .map_err(|e| CliError::Io(e.to_string()))?;
    let out = UserIssued {
        public_key: issued.public_key.to_string(),
        creds: args.out.display().to_string(),
    };
    let text = if ui.json() {
        output::to_json(&out)?
    } else {
        format!("{}\n", out.public_key)
    };
    output::stdout(text.as_bytes())?;
    output::stderr_line(&format!("wrote {} (mode 0600)", args.out.display()));
    Ok(Status::Ok)
}

/// A secret file's text (a seed or password), zeroized on drop; warns when others may
/// read it.
fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<String>, CliError> {
    let bytes = zeroize::Zeroizing::new(input::read(path, 64 * 1024)?);
    if input::mode(path).is_some_and(|m| m & 0o077 != 0) {
        output::warn(&format!(
            "{} is readable by group or others; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(zeroize::Zeroizing::new(
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

#[derive(Serialize)]
struct CalloutOut {
    requests: u64,
    admitted: u64,
    refused: u64,
    dropped: u64,
    sealed: u64,
}

fn run_callout(ui: &Ui, args: &NatsCalloutArgs) -> CliResult {
    use kez_nats::callout::chains::ChainSource;
    use kez_nats::callout::roles::Roles;
    use kez_nats::callout::service::{self, ClientAuth, ServeOptions, ServiceError};
    use kez_nats::callout::{Authorizer, XKeySeed};

    let seed_text = read_secret(&args.issuer_seed)?;
    let issuer = nkey::seed_from_decorated(&seed_text)
        .map_err(|e| CliError::Malformed(format!("{}: {e}", args.issuer_seed.display())))?;
    let roles_text = String::from_utf8(input::read(&args.roles, input::MAX_INPUT)?)
        .map_err(|_| CliError::Malformed(format!("{}: not UTF-8", args.roles.display())))?;
    let roles = Roles::parse(&roles_text)
        .map_err(|e| CliError::Malformed(format!("{}: {e}", args.roles.display())))?;
    let mut authorizer = Authorizer::new(issuer, roles);
    if let Some(account) = &args.issuer_account {
        let account = PublicNkey::parse(account)
            .map_err(|e| CliError::Usage(format!("--issuer-account: {e}")))?;
        authorizer = authorizer.issuer_account(account);
    }
    if let Some(path) = &args.xkey_seed {
        let xkey = XKeySeed::parse(&read_secret(path)?)
            .map_err(|e| CliError::Malformed(format!("{}: {e}", path.display())))?;
        authorizer = authorizer.xkey(xkey);
    }
    authorizer
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let chains = match (&args.chains, &args.chain) {
        (Some(dir), _) => ChainSource::directory(dir),
        (None, Some(file)) => ChainSource::file(file),
        (None, None) => return Err(CliError::Usage("give --chains DIR or --chain FILE".into())),
    };
    let auth = if let Some(path) = &args.creds {
        ClientAuth::Creds(path.clone())
    } else if let Some(path) = &args.nkey_seed {
        let text = read_secret(path)?;
        let seed = nkey::seed_from_decorated(&text)
            .map_err(|e| CliError::Malformed(format!("{}: {e}", path.display())))?;
        ClientAuth::NkeySeed(seed.to_text())
    } else if let (Some(user), Some(path)) = (&args.user, &args.password_file) {
        let text = read_secret(path)?;
        ClientAuth::UserPassword {
            user: user.clone(),
            password: zeroize::Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_string()),
        }
    } else {
        ClientAuth::None
    };
    let mut options = ServeOptions::default();
    options.max_requests = args.max_requests;
    options.queue_group = args.queue.clone();
    output::stderr_line(&format!(
        "auth callout: issuer {}, queue group {}, on {}",
        authorizer.issuer_key(),
        options.queue_group,
        args.nats
    ));
    let stats = service::run(&args.nats, &auth, &authorizer, &chains, &options, |d| {
        output::stderr_line(&d.to_string());
    })
    .map_err(|e: ServiceError| CliError::Io(e.to_string()))?;
    let out = CalloutOut {
        requests: stats.requests,
        admitted: stats.admitted,
        refused: stats.refused,
        dropped: stats.dropped,
        sealed: stats.sealed,
    };
    let text = if ui.json() {
        output::to_json(&out)?
    } else {
        format!(
            "{} requests: {} admitted, {} refused, {} dropped\n",
            out.requests, out.admitted, out.refused, out.dropped
        )
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}
