//! `kez-verify id IDENTITY|KEY`: what holds, channel by channel (SPEC.md §11).
//!
//! An identity (`github:jason`) is looked up on its channel and every proof it published is
//! verified; a key (`ed25519:…`) has its sigchain walked and every identity it binds verified
//! concurrently. Fetches go through `kez-net`: live, recorded to an evidence bundle
//! (`--record DIR`), or replayed from one (`--replay DIR`, offline and deterministic).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use kez_channel::external::ExternalChannel;
use kez_channel::{Net, Registry};
use kez_channels::ChannelsConfig;
use kez_core::verdict::Outcome;
use kez_core::{Identity, PublicKey};
use kez_id::report::{self, IdentityDocument};
use kez_id::{ChainFile, ChainSources, GraphReport, IdentityReport, Verifier, VerifyError};
use kez_net::{Bundle, Layout, LiveNet, NetConfig, Recorder, ReplayNet};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult, Status};
use crate::output::{self, Paint, Ui};

/// `id TARGET [options]`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// An identity (`github:jason`, `dns:example.com`, `ap:user@host`) or a key
    /// (`ed25519:<hex>`, `bip340:<hex>`, `npub1…`) whose sigchain names the identities.
    target: String,
    /// A sigchain file (JSONL): every claim is checked against it. Repeatable; copies are
    /// compared, disagreement that is not prefix extension is a fork.
    #[arg(long = "chain", value_name = "FILE")]
    chains: Vec<PathBuf>,
    /// An HTTP sigchain source: the chain of key K is `GET {URL}/v1/chains/{K}.jsonl`.
    /// Repeatable.
    #[arg(long = "chain-source", value_name = "URL")]
    chain_sources: Vec<String>,
    /// Do not fetch the sigchain a claim's `chain` member points at.
    #[arg(long)]
    no_chain_hints: bool,
    /// Evaluate as of this time (RFC 3339, UTC) instead of now (or the recording time).
    #[arg(long, value_parser = crate::clock::parse_time)]
    at: Option<u64>,
    /// Write every fetch to an evidence bundle in DIR (which must not exist).
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// With --record: write the bundle packed (format 2: the bodies in one bodies.tar
    /// instead of a file each), for bundles of many bodies.
    #[arg(long, requires = "record")]
    pack: bool,
    /// Verify offline from the evidence bundle in DIR; any request it does not hold fails.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// A TOML file with `[channels]` endpoints, `[net]` policy and `[chains]` sources.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The GitHub REST API base URL.
    #[arg(long, value_name = "URL")]
    github_api: Option<String>,
    /// A nostr relay to ask (replaces the defaults; repeatable).
    #[arg(long = "nostr-relay", value_name = "URL")]
    nostr_relays: Vec<String>,
    /// The did:plc directory.
    #[arg(long, value_name = "URL")]
    plc_directory: Option<String>,
    /// A DNS server to ask instead of the system's (IP:PORT; repeatable).
    #[arg(long = "dns-server", value_name = "IP:PORT")]
    dns_servers: Vec<SocketAddr>,
    /// Connect to ADDR for HOST (HOST=IP:PORT), like curl --resolve. Repeatable.
    #[arg(long = "resolve", value_name = "HOST=IP:PORT", value_parser = parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
    /// An out-of-process channel: runs `kez-channel-NAME` from PATH. Repeatable.
    #[arg(long = "plugin", value_name = "NAME")]
    plugins: Vec<String>,
    /// DANGER, tests only: allow loopback addresses and plain HTTP to them.
    #[arg(long)]
    danger_allow_loopback: bool,
    /// DANGER, tests only: use plain HTTP for hosts given with --resolve.
    #[arg(long)]
    danger_plain_http: bool,
}

fn parse_resolve(text: &str) -> Result<(String, SocketAddr), String> {
    let (host, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected HOST=IP:PORT"))?;
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("{text:?}: {addr:?} is not IP:PORT ({e})"))?;
    if host.is_empty() {
        return Err(format!("{text:?}: empty host"));
    }
    Ok((host.to_ascii_lowercase(), addr))
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    channels: Option<ChannelsConfig>,
    net: Option<NetConfig>,
    chains: Option<ChainsConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ChainsConfig {
    sources: Vec<String>,
}

/// What a bundle records about the verification, so a replay needs nothing else.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    command: String,
    target: String,
    at: u64,
    channels: ChannelsConfig,
    sources: ChainSources,
    plugins: Vec<String>,
}

enum Target {
    Identity(Identity),
    Key(PublicKey),
}

fn parse_target(text: &str) -> Result<Target, CliError> {
    if text.starts_with("ed25519:") || text.starts_with("bip340:") || text.starts_with("npub1") {
        return text
            .parse::<PublicKey>()
            .map(Target::Key)
            .map_err(|e| CliError::Usage(format!("{text:?}: not a key: {e}")));
    }
    Identity::parse(text)
        .map(Target::Identity)
        .map_err(|e| CliError::Usage(format!("{text:?}: not an identity: {e}")))
}

/// Runs `id`.
pub(crate) fn run(ui: &Ui, args: &IdArgs) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Io(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run_async(ui, args))
}

async fn run_async(ui: &Ui, args: &IdArgs) -> CliResult {
    let (context, net, recorder) = match &args.replay {
        Some(dir) => replay_setup(args, dir)?,
        None => live_setup(args)?,
    };
    let target = parse_target(&context.target)?;
    let registry = registry(&context)?;
    let verifier = Verifier::new(registry, net, context.sources.clone(), context.at);
    let rendered = match &target {
        Target::Identity(identity) => {
            let report = verifier.identity(identity).await.map_err(verify_error)?;
            (render_identity(ui, &report)?, report.outcome)
        }
        Target::Key(key) => {
            let bar = Progress::new();
            let report = verifier
                .graph(key, &|done, total, identity| {
                    bar.step(done, total, identity)
                })
                .await
                .map_err(verify_error)?;
            bar.finish();
            (render_graph(ui, &report)?, report.outcome)
        }
    };
    if let (Some(dir), Some(recorder)) = (&args.record, recorder) {
        let bundle = Bundle {
            recorded_at: context.at,
            tool: concat!("kez-verify ", env!("CARGO_PKG_VERSION")).into(),
            context: serde_json::to_value(&context)
                .map_err(|e| CliError::Io(format!("cannot record the context: {e}")))?,
            evidence: recorder.evidence(),
        };
        let layout = if args.pack {
            Layout::Packed
        } else {
            Layout::Directory
        };
        bundle
            .write_as(dir, layout)
            .map_err(|e| CliError::Io(format!("--record: {e}")))?;
    }
    output::stdout(rendered.0.as_bytes())?;
    Ok(match rendered.1 {
        Outcome::Valid => Status::Ok,
        Outcome::Unreachable => Status::Indeterminate,
        _ => Status::NotValid,
    })
}

fn verify_error(error: VerifyError) -> CliError {
    match error {
        VerifyError::UnknownChannel { .. } => CliError::Usage(error.to_string()),
        VerifyError::NotRecorded(_) => CliError::Usage(format!("--replay: {error}")),
        other => CliError::Usage(other.to_string()),
    }
}

type Setup = (Context, Arc<dyn Net>, Option<Arc<Recorder>>);

fn replay_setup(args: &IdArgs, dir: &Path) -> Result<Setup, CliError> {
    let bundle = Bundle::read(dir).map_err(|e| CliError::Malformed(format!("--replay: {e}")))?;
    let mut context: Context = serde_json::from_value(bundle.context.clone()).map_err(|e| {
        CliError::Malformed(format!("--replay {}: bundle context: {e}", dir.display()))
    })?;
    if context.command != "id" {
        return Err(CliError::Malformed(format!(
            "--replay {}: recorded by `{}`, not `id`",
            dir.display(),
            context.command
        )));
    }
    let given = parse_target(&args.target)?;
    let recorded = parse_target(&context.target)?;
    let same = match (&given, &recorded) {
        (Target::Identity(a), Target::Identity(b)) => a == b,
        (Target::Key(a), Target::Key(b)) => a == b,
        _ => false,
    };
    if !same {
        return Err(CliError::Usage(format!(
            "--replay {}: the bundle records `id {}`, not `id {}`",
            dir.display(),
            context.target,
            args.target
        )));
    }
    if let Some(at) = args.at {
        context.at = at;
    }
    let net: Arc<dyn Net> = Arc::new(ReplayNet::new(&bundle));
    Ok((context, net, None))
}

fn live_setup(args: &IdArgs) -> Result<Setup, CliError> {
    let file: ConfigFile = match &args.config {
        Some(path) => {
            let text = crate::input::read(path, 1 << 20)?;
            let text = String::from_utf8(text)
                .map_err(|_| CliError::Malformed(format!("{}: not UTF-8", path.display())))?;
            toml::from_str(&text)
                .map_err(|e| CliError::Malformed(format!("{}: {e}", path.display())))?
        }
        None => ConfigFile::default(),
    };
    let mut channels = file.channels.unwrap_or_default();
    if let Some(api) = &args.github_api {
        channels.github_api = api.clone();
    }
    if !args.nostr_relays.is_empty() {
        channels.nostr_relays = args.nostr_relays.clone();
    }
    if let Some(plc) = &args.plc_directory {
        channels.plc_directory = plc.clone();
    }
    let mut net = file.net.unwrap_or_default().credentials_from_env();
    net.dns_servers.extend(args.dns_servers.iter().copied());
    net.resolve.extend(args.resolve.iter().cloned());
    net.danger_allow_loopback |= args.danger_allow_loopback;
    net.danger_plain_http |= args.danger_plain_http;
    let mut files = Vec::new();
    for path in &args.chains {
        let bytes = crate::chain::read(path)?;
        let jsonl = String::from_utf8(bytes)
            .map_err(|_| CliError::Malformed(format!("{}: not UTF-8", path.display())))?;
        files.push(ChainFile {
            label: path.display().to_string(),
            jsonl,
        });
    }
    let mut http = file.chains.map(|c| c.sources).unwrap_or_default();
    http.extend(args.chain_sources.iter().cloned());
    let at = match args.at {
        Some(at) => at,
        None => crate::clock::now()?,
    };
    let context = Context {
        command: "id".into(),
        target: args.target.clone(),
        at,
        channels,
        sources: ChainSources {
            files,
            http,
            follow_hints: !args.no_chain_hints,
        },
        plugins: args.plugins.clone(),
    };
    let live: Arc<dyn Net> =
        Arc::new(LiveNet::new(net).map_err(|e| CliError::Usage(format!("network setup: {e}")))?);
    if args.record.as_ref().is_some_and(|dir| dir.exists()) {
        return Err(CliError::Usage(format!(
            "--record {}: already exists",
            args.record.as_deref().unwrap_or(Path::new("")).display()
        )));
    }
    // Evidence is always kept (it is small); --record decides whether it is written.
    let recorder = Arc::new(Recorder::new(live));
    let net: Arc<dyn Net> = recorder.clone();
    Ok((context, net, Some(recorder)))
}

fn registry(context: &Context) -> Result<Registry, CliError> {
    let mut registry = kez_channels::default_registry(&context.channels);
    for name in &context.plugins {
        let channel = ExternalChannel::find_on_path(name)
            .map_err(|e| CliError::Usage(format!("--plugin {name}: {e}")))?;
        registry
            .register(Arc::new(channel))
            .map_err(|e| CliError::Usage(format!("--plugin {name}: {e}")))?;
    }
    Ok(registry)
}

fn paint_outcome(ui: &Ui, outcome: Outcome) -> String {
    let paint = match outcome {
        Outcome::Valid => Paint::Green,
        Outcome::Unreachable => Paint::Yellow,
        _ => Paint::Red,
    };
    ui.paint(outcome.name(), paint)
}

fn identity_lines(ui: &Ui, report: &IdentityReport, out: &mut String) {
    use std::fmt::Write as _;
    let reason = report
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}  {}{reason}  {}",
        report.identity,
        paint_outcome(ui, report.outcome),
        report.detail
    );
    for proof in &report.proofs {
        let published = proof
            .published_at
            .map(|t| format!("  published {}", crate::clock::format_time(t)))
            .unwrap_or_default();
        let _ = writeln!(out, "  proof     {}{published}", proof.location);
        for verdict in &proof.verdicts {
            let reason = verdict
                .reason()
                .map(|r| format!(" ({})", r.name()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {}{reason}  {}",
                paint_outcome(ui, verdict.outcome()),
                verdict.detail()
            );
        }
    }
    for rejected in &report.rejected {
        let _ = writeln!(
            out,
            "  rejected  {}  {}: {}",
            rejected.location,
            rejected.reason.name(),
            rejected.detail
        );
    }
    for chain in &report.chains {
        let _ = writeln!(
            out,
            "  chain     {}  {}  copies: {}",
            chain.key,
            chain.status,
            if chain.copies_from.is_empty() {
                "none".to_string()
            } else {
                chain.copies_from.join(", ")
            }
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note      {note}");
    }
}

fn render_identity(ui: &Ui, report: &IdentityReport) -> Result<String, CliError> {
    if ui.json() {
        return output::to_json(&IdentityDocument {
            schema: report::SCHEMA,
            report,
        });
    }
    let mut out = String::new();
    identity_lines(ui, report, &mut out);
    out.push_str(&format!("as of {}\n", crate::clock::format_time(report.at)));
    Ok(out)
}

fn render_graph(ui: &Ui, report: &GraphReport) -> Result<String, CliError> {
    if ui.json() {
        return output::to_json(report);
    }
    let mut out = format!(
        "{}  {}  {}\n  chain  {}  copies: {}\n",
        report.key,
        paint_outcome(ui, report.outcome),
        report.detail,
        report.chain.status,
        if report.chain.copies_from.is_empty() {
            "none".to_string()
        } else {
            report.chain.copies_from.join(", ")
        }
    );
    for identity in &report.identities {
        out.push('\n');
        identity_lines(ui, identity, &mut out);
    }
    out.push_str(&format!("as of {}\n", crate::clock::format_time(report.at)));
    Ok(out)
}

/// Progress on stderr while a graph is verified, only when stderr is a terminal.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("id {bar:30} {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar }
    }

    fn step(&self, done: usize, total: usize, identity: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(identity.to_string());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
