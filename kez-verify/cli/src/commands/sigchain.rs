//! `sigchain …`: create, extend, inspect, verify and export sigchains (SPEC.md §7).
//!
//! Appending commands read and verify the whole chain, build the next link after its
//! last one, verify the whole new content, and only then replace the file atomically
//! (keeping its mode). A signer the chain does not authorise is refused and the file
//! is left as it was.

use std::collections::HashMap;
use std::path::Path;

use kez_core::sigchain::{
    self, ChainPoint, Digest256, KeyPeriod, Link, LinkBuilder, Op, RevokeTarget, Track,
    VerifiedChain,
};
use kez_core::{PublicKey, SecretKey};
use kez_keys::store;
use serde::Serialize;

use crate::chain;
use crate::cli::{
    AppendArgs, ChainAddArgs, ChainDeviceArgs, ChainInitArgs, ChainRevokeArgs,
    ChainRevokeDeviceArgs, ChainRotateArgs, ChainShowArgs, ChainVerifyArgs, PassphraseSource,
    SigchainCommand,
};
use crate::clock;
use crate::commands::claim::{claim_digest, read_single};
use crate::error::{CliError, CliResult, Status};
use crate::input;
use crate::keystore;
use crate::output::{self, Paint, Ui};

/// Mode of a new chain file: chains are public.
const CHAIN_FILE_MODE: u32 = 0o644;

/// The version tag of `sigchain show --format json` (docs/CLI.md).
const SHOW_SCHEMA: &str = "kez-verify/sigchain-show/v1";

/// The version tag of `sigchain verify --format json` (docs/CLI.md).
const VERIFY_SCHEMA: &str = "kez-verify/sigchain-verify/v1";

/// Runs a `sigchain` command.
pub(crate) fn run(ui: &Ui, command: SigchainCommand) -> CliResult {
    match command {
        SigchainCommand::Init(args) => init(ui, &args),
        SigchainCommand::Add(args) => add(ui, &args),
        SigchainCommand::Revoke(args) => revoke(ui, &args),
        SigchainCommand::Rotate(args) => rotate(ui, &args),
        SigchainCommand::AddDevice(args) => add_device(ui, &args),
        SigchainCommand::RevokeDevice(args) => revoke_device(ui, &args),
        SigchainCommand::Show(args) => show(ui, &args),
        SigchainCommand::Verify(args) => verify(ui, &args),
        SigchainCommand::Export(args) => export(&args),
    }
}

/// What an appending command reports about the link it wrote.
#[derive(Serialize)]
struct Appended {
    chain: String,
    seq: u64,
    op: &'static str,
    signer: String,
    created_at: u64,
    head: String,
}

fn report_appended(ui: &Ui, path: &Path, link: &Link) -> CliResult {
    let report = Appended {
        chain: path.display().to_string(),
        seq: link.seq(),
        op: link.op().name(),
        signer: link.signer().to_string(),
        created_at: link.created_at(),
        head: link.hash().to_string(),
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        format!(
            "{}: seq {} {} signed by {}\nhead: {}\n",
            report.chain, report.seq, report.op, report.signer, report.head
        )
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

fn init(ui: &Ui, args: &ChainInitArgs) -> CliResult {
    keystore::refuse_existing(&args.out, args.force)?;
    let key = keystore::load_key(&args.key, &args.passphrase)?;
    let link = LinkBuilder::init(clock::now()?)
        .sign(&key, None)
        .map_err(|e| CliError::Usage(format!("cannot build the init link: {e}")))?;
    let mut bytes = link.to_jcs().to_vec();
    bytes.push(b'\n');
    store::write_atomic(&args.out, &bytes, CHAIN_FILE_MODE, args.force)
        .map_err(keystore::write_error)?;
    report_appended(ui, &args.out, &link)
}

/// A chain file that verified in full.
struct Loaded {
    bytes: Vec<u8>,
    verified: VerifiedChain,
    links: Vec<Link>,
}

impl Loaded {
    fn last(&self) -> Result<&Link, CliError> {
        self.links
            .last()
            .ok_or_else(|| CliError::Malformed("the chain is empty".into()))
    }
}

/// Reads and verifies the chain at `path` (all claims tracked).
fn load(path: &Path, as_of: Option<u64>) -> Result<Loaded, CliError> {
    let bytes = chain::read(path)?;
    let name = input::display_name(path);
    let (verified, links) = chain::verify_with_links(&bytes, Track::All, as_of)
        .map_err(|e| chain::cli_error(&format!("{name} does not verify"), &e))?;
    Ok(Loaded {
        bytes,
        verified,
        links,
    })
}

/// Appends a link with `op`, signed by `signer` (and countersigned by `countersigner`
/// for a rotation), to a chain that was loaded and verified.
fn append(
    ui: &Ui,
    path: &Path,
    loaded: &Loaded,
    op: Op,
    signer: &SecretKey,
    countersigner: Option<&SecretKey>,
) -> CliResult {
    let last = loaded.last()?;
    let created_at = clock::now()?.max(last.created_at());
    let link = LinkBuilder::after(last, op, created_at)
        .sign(signer, countersigner)
        .map_err(|e| CliError::Usage(format!("cannot build the link: {e}")))?;
    let mut bytes = loaded.bytes.clone();
    bytes.extend_from_slice(link.to_jcs());
    bytes.push(b'\n');
    // The library checks a link's form when it signs it, not whether the signer may
    // sign it here: verify the whole new chain before touching the file.
    sigchain::verify_jsonl(&bytes, Track::Claims(Default::default()), None).map_err(|e| {
        chain::cli_error(
            &format!(
                "refusing to extend {} (the file is unchanged)",
                path.display()
            ),
            &e,
        )
    })?;
    let mode = input::mode(path).unwrap_or(CHAIN_FILE_MODE);
    store::write_atomic(path, &bytes, mode, true).map_err(keystore::write_error)?;
    report_appended(ui, path, &link)
}

fn load_for_append(args: &AppendArgs) -> Result<(Loaded, SecretKey), CliError> {
    let loaded = load(&args.chain, None)?;
    let key = keystore::load_key(&args.key, &args.passphrase)?;
    Ok((loaded, key))
}

fn add(ui: &Ui, args: &ChainAddArgs) -> CliResult {
    let name = args.claim.display();
    let claim = read_single(&args.claim)?;
    claim.verify_signature().map_err(|e| {
        CliError::NotValid(format!(
            "{name}: the claim's signature does not verify ({e}); refusing to add it"
        ))
    })?;
    let (loaded, key) = load_for_append(&args.append)?;
    let chain_name = args.append.chain.display();
    let state = loaded.verified.state();
    if state.primary() != Some(claim.key()) {
        return Err(CliError::NotValid(format!(
            "{name} is signed by {}, but the current primary key of {chain_name} is {}; \
             refusing to add it",
            claim.key(),
            state
                .primary()
                .map_or_else(|| "none".to_string(), ToString::to_string)
        )));
    }
    let id = claim_digest(&claim)?;
    if let Some(entry) = state.claim(&id) {
        return Err(CliError::Usage(format!(
            "claim {id} is already bound to {chain_name} at seq {}",
            entry.added.seq
        )));
    }
    let op = Op::Add {
        claim: id,
        subject: claim.subject().clone(),
    };
    append(ui, &args.append.chain, &loaded, op, &key, None)
}

fn revoke(ui: &Ui, args: &ChainRevokeArgs) -> CliResult {
    let target = match (&args.claim, &args.claim_id, &args.subject) {
        (Some(path), _, _) => RevokeTarget::Claim(claim_digest(&read_single(path)?)?),
        (None, Some(id), _) => RevokeTarget::Claim(Digest256::parse(id).ok_or_else(|| {
            CliError::Usage(format!(
                "--claim-id: expected sha256:<64 lowercase hex>, found {id:?}"
            ))
        })?),
        (None, None, Some(subject)) => RevokeTarget::Subject(subject.clone()),
        (None, None, None) => {
            return Err(CliError::Usage(
                "one of --claim, --claim-id or --subject is required".into(),
            ))
        }
    };
    let (loaded, key) = load_for_append(&args.append)?;
    if let RevokeTarget::Claim(id) = &target {
        if loaded.verified.state().claim(id).is_none() {
            output::warn(&format!(
                "claim {id} is not bound to {}; revoking it anyway (it stays revoked if added later)",
                args.append.chain.display()
            ));
        }
    }
    append(
        ui,
        &args.append.chain,
        &loaded,
        Op::Revoke(target),
        &key,
        None,
    )
}

fn rotate(ui: &Ui, args: &ChainRotateArgs) -> CliResult {
    let (loaded, old) = load_for_append(&args.append)?;
    let new = keystore::load_key(&args.new_key, &args.append.passphrase)?;
    let op = Op::Rotate {
        new_key: new.public_key(),
    };
    append(ui, &args.append.chain, &loaded, op, &old, Some(&new))
}

/// A device given as public key text or as a key file.
fn device_key(text: &str, source: &PassphraseSource) -> Result<PublicKey, CliError> {
    if ["ed25519:", "bip340:", "npub1"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return text
            .parse::<PublicKey>()
            .map_err(|e| CliError::Malformed(format!("--device: {e}")));
    }
    let path = Path::new(text);
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "--device: {text:?} is neither a public key (ed25519:<hex>, bip340:<hex>, npub1…) \
             nor an existing key file"
        )));
    }
    keystore::load_key(path, source).map(|key| key.public_key())
}

fn add_device(ui: &Ui, args: &ChainDeviceArgs) -> CliResult {
    let device = device_key(&args.device, &args.append.passphrase)?;
    let (loaded, key) = load_for_append(&args.append)?;
    let op = Op::AddDevice {
        device,
        name: args.name.clone(),
    };
    append(ui, &args.append.chain, &loaded, op, &key, None)
}

fn revoke_device(ui: &Ui, args: &ChainRevokeDeviceArgs) -> CliResult {
    let device = device_key(&args.device, &args.append.passphrase)?;
    let (loaded, key) = load_for_append(&args.append)?;
    append(
        ui,
        &args.append.chain,
        &loaded,
        Op::RevokeDevice { device },
        &key,
        None,
    )
}

#[derive(Serialize)]
struct KeyReport {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    from: ChainPoint,
    until: Option<ChainPoint>,
}

#[derive(Serialize)]
struct ClaimReport {
    id: String,
    subject: String,
    added: ChainPoint,
    revoked: Option<ChainPoint>,
    revoked_by: Option<&'static str>,
}

/// The `sigchain show --format json` document (docs/CLI.md).
#[derive(Serialize)]
struct ShowReport {
    schema: &'static str,
    chain: String,
    length: u64,
    head: String,
    as_of: Option<u64>,
    root: Option<String>,
    primary: Option<String>,
    primaries: Vec<KeyReport>,
    devices: Vec<KeyReport>,
    claims: Vec<ClaimReport>,
}

fn key_reports(periods: &[KeyPeriod], names: &HashMap<PublicKey, String>) -> Vec<KeyReport> {
    periods
        .iter()
        .map(|p| KeyReport {
            key: p.key.to_string(),
            name: names.get(&p.key).cloned(),
            from: p.from,
            until: p.until,
        })
        .collect()
}

fn show(ui: &Ui, args: &ChainShowArgs) -> CliResult {
    let loaded = load(&args.chain, args.at)?;
    let state = loaded.verified.state();
    // The state keeps device periods; their names are in the add_device links.
    let names: HashMap<PublicKey, String> = loaded
        .links
        .iter()
        .filter_map(|l| match l.op() {
            Op::AddDevice {
                device,
                name: Some(name),
            } => Some((*device, name.clone())),
            _ => None,
        })
        .collect();
    let mut claims: Vec<ClaimReport> = state
        .claims()
        .iter()
        .map(|(id, entry)| ClaimReport {
            id: id.to_string(),
            subject: entry.subject.to_string(),
            added: entry.added,
            revoked: entry.revoked,
            revoked_by: entry.revoked.map(|_| {
                if entry.revoked_by_subject {
                    "subject"
                } else {
                    "claim"
                }
            }),
        })
        .collect();
    claims.sort_by_key(|c| (c.added.seq, c.id.clone()));
    let report = ShowReport {
        schema: SHOW_SCHEMA,
        chain: input::display_name(&args.chain),
        length: loaded.verified.length(),
        head: loaded.verified.head().to_string(),
        as_of: args.at,
        root: state.root().map(ToString::to_string),
        primary: state.primary().map(ToString::to_string),
        primaries: key_reports(state.primaries(), &HashMap::new()),
        devices: key_reports(state.devices(), &names),
        claims,
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else {
        render_show(&report)
    };
    output::stdout(text.as_bytes())?;
    Ok(Status::Ok)
}

fn point(p: &ChainPoint) -> String {
    format!("seq {} ({})", p.seq, clock::format_time(p.at))
}

fn period(from: &ChainPoint, until: &Option<ChainPoint>, open: &str) -> String {
    match until {
        Some(u) => format!("{} to {}", point(from), point(u)),
        None => format!("{} to {open}", point(from)),
    }
}

fn render_show(report: &ShowReport) -> String {
    let none = || "none".to_string();
    let mut out = format!(
        "chain:    {}\nlength:   {} links\nhead:     {}\n",
        report.chain, report.length, report.head
    );
    if let Some(at) = report.as_of {
        out.push_str(&format!("as of:    {}\n", clock::format_time(at)));
    }
    out.push_str(&format!(
        "root:     {}\nprimary:  {}\n",
        report.root.clone().unwrap_or_else(none),
        report.primary.clone().unwrap_or_else(none)
    ));
    out.push_str("primary keys:\n");
    for k in &report.primaries {
        out.push_str(&format!(
            "  {}  {}\n",
            k.key,
            period(&k.from, &k.until, "now")
        ));
    }
    out.push_str(&format!(
        "devices:{}\n",
        if report.devices.is_empty() {
            " none"
        } else {
            ""
        }
    ));
    for k in &report.devices {
        let name = k
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}{name}  {}\n",
            k.key,
            period(&k.from, &k.until, "now (active)")
        ));
    }
    out.push_str(&format!(
        "claims:{}\n",
        if report.claims.is_empty() {
            " none"
        } else {
            ""
        }
    ));
    for c in &report.claims {
        let revoked = match (&c.revoked, c.revoked_by) {
            (Some(p), Some(by)) => format!(", revoked at {} by {by}", point(p)),
            (Some(p), None) => format!(", revoked at {}", point(p)),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {}  {}  added at {}{revoked}\n",
            c.id,
            c.subject,
            point(&c.added)
        ));
    }
    out
}

/// The `sigchain verify --format json` document (docs/CLI.md).
#[derive(Serialize)]
struct VerifyReport {
    schema: &'static str,
    chain: String,
    copies: usize,
    ok: bool,
    kind: Option<&'static str>,
    error: Option<String>,
    length: Option<u64>,
    head: Option<String>,
    root: Option<String>,
    primary: Option<String>,
}

fn verify(ui: &Ui, args: &ChainVerifyArgs) -> CliResult {
    let paths: Vec<&Path> = std::iter::once(args.chain.as_path())
        .chain(args.others.iter().map(|p| p.as_path()))
        .collect();
    let copies = paths
        .iter()
        .map(|p| chain::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = VerifyReport {
        schema: VERIFY_SCHEMA,
        chain: input::display_name(&args.chain),
        copies: copies.len(),
        ok: false,
        kind: None,
        error: None,
        length: None,
        head: None,
        root: None,
        primary: None,
    };
    let result = chain::longest_copy(&copies)
        .map_err(|e| {
            let names: Vec<String> = e
                .copies
                .iter()
                .map(|&i| input::display_name(paths[i]))
                .collect();
            (names.join(" and "), e.error)
        })
        .and_then(|longest| {
            sigchain::verify_jsonl(&copies[longest], Track::Claims(Default::default()), args.at)
                .map(|v| (longest, v))
                .map_err(|e| (input::display_name(paths[longest]), e))
        });
    let status = match result {
        Ok((longest, verified)) => {
            report.ok = true;
            report.chain = input::display_name(paths[longest]);
            report.length = Some(verified.length());
            report.head = Some(verified.head().to_string());
            report.root = verified.state().root().map(ToString::to_string);
            report.primary = verified.state().primary().map(ToString::to_string);
            Status::Ok
        }
        Err((names, error)) => {
            report.kind = Some(chain::kind_name(&error));
            report.error = Some(format!("{names}: {error}"));
            chain::status(&error)
        }
    };
    let text = if ui.json() {
        output::to_json(&report)?
    } else if report.ok {
        let mut text = format!(
            "{}: {}, {} links, head {}\n  root:    {}\n  primary: {}\n",
            report.chain,
            ui.paint("ok", Paint::Green),
            report.length.unwrap_or_default(),
            report.head.clone().unwrap_or_default(),
            report.root.clone().unwrap_or_default(),
            report.primary.clone().unwrap_or_default(),
        );
        if report.copies > 1 {
            text.push_str(&format!(
                "  copies:  {} agree (each is a prefix of the longest)\n",
                report.copies
            ));
        }
        text
    } else {
        format!(
            "{}: {}\n",
            ui.paint(report.kind.unwrap_or("invalid"), Paint::Red),
            report.error.clone().unwrap_or_default()
        )
    };
    output::stdout(text.as_bytes())?;
    Ok(status)
}

fn export(args: &ChainShowArgs) -> CliResult {
    let bytes = chain::read(&args.chain)?;
    let name = input::display_name(&args.chain);
    let out = chain::export(&bytes, args.at)
        .map_err(|e| chain::cli_error(&format!("{name} does not verify"), &e))?;
    output::stdout(&out)?;
    Ok(Status::Ok)
}
