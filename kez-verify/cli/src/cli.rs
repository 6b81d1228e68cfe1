//! The command line, as clap derive structs. Parsing only: no I/O happens here.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use kez_core::{Algorithm, Encoding, Identity};

use crate::clock;

/// Canonicalise, sign and verify KEZ claims and sigchains (SPEC.md v0.2).
///
/// Exit codes: 0 valid or done; 1 checked and not valid (bad signature, revoked,
/// expired, fork, refused signer); 2 usage error or malformed/unsupported input;
/// 3 indeterminate (evidence unreachable).
#[derive(Debug, Parser)]
#[command(name = "kez-verify", version, max_term_width = 100)]
pub(crate) struct Cli {
    /// Output format: `human` text or `json` (documented in docs/CLI.md); `replay` also
    /// writes `junit` XML.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,

    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people.
    Human,
    /// JSON for programs (schemas in docs/CLI.md).
    Json,
    /// JUnit XML for CI systems (`replay` only; docs/SUITES.md).
    Junit,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the RFC 8785 (JCS) canonical form of a JSON value, without a trailing newline.
    Canon(CanonArgs),
    /// Sign or verify raw messages with Ed25519 or BIP-340.
    #[command(subcommand)]
    Sig(SigCommand),
    /// Create, inspect, back up and restore secret key files.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Create, re-encode and verify claims.
    #[command(subcommand)]
    Claim(ClaimCommand),
    /// Create, extend, inspect and verify sigchains (JSONL files).
    #[command(subcommand)]
    Sigchain(SigchainCommand),
    /// Replay a fixture suite offline and compare every case with its expected outcome
    /// (docs/SUITES.md). Exit 0 all match, 1 any differs, 2 suite refused (bad manifest,
    /// signature or files).
    Replay(crate::commands::replay::ReplayArgs),
    /// Build and re-sign fixture suites (docs/SUITES.md).
    #[command(subcommand)]
    Suite(crate::commands::replay::SuiteCommand),
    /// NATS credentials: generate an operator, accounts and users from a TOML spec,
    /// check .creds files, JWTs, NSC stores and server configs, issue a user for a KEZ
    /// key (docs/NATS.md).
    #[command(subcommand)]
    Nats(crate::commands::nats::NatsCommand),
    /// Verify an identity's published proofs, or every identity a key's sigchain links
    /// (SPEC.md §11). Exit 0 valid, 1 not valid, 2 usage, 3 unreachable.
    Id(crate::commands::id::IdArgs),
    /// Sign a claim with a fixed demo key, encode it four ways and verify each.
    ///
    /// The output is deterministic: a fixed key, subject and times, no nonce.
    Demo,
    /// Speak the crosstest adapter protocol v1 (docs/ADAPTER.md) on stdin and stdout.
    ///
    /// One JSON request per line in, one JSON response per line out, in order. Exits 0
    /// when stdin closes or after `shutdown`. --format does not apply.
    Adapter,
}

/// `canon [FILE|-]`.
#[derive(Debug, Args)]
pub(crate) struct CanonArgs {
    /// The JSON file to canonicalise, or `-` for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) input: PathBuf,
}

/// A signature suite on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgArg {
    /// Ed25519 (RFC 8032) under the acceptance policy of SPEC.md §4.3.
    Ed25519,
    /// BIP-340 Schnorr over secp256k1 (nostr keys).
    Bip340,
}

impl From<AlgArg> for Algorithm {
    fn from(alg: AlgArg) -> Self {
        match alg {
            AlgArg::Ed25519 => Algorithm::Ed25519,
            AlgArg::Bip340 => Algorithm::Bip340,
        }
    }
}

/// A claim encoding on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodingArg {
    /// JSON text (the JCS form when writing).
    Json,
    /// `kez:z1:` compact form.
    Compact,
    /// A Markdown document with a `kez` fence.
    Markdown,
    /// A DNS TXT record in zone-file form.
    Dns,
}

impl From<EncodingArg> for Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Json => Encoding::Json,
            EncodingArg::Compact => Encoding::Compact,
            EncodingArg::Markdown => Encoding::Markdown,
            EncodingArg::Dns => Encoding::Dns,
        }
    }
}

/// `sig …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SigCommand {
    /// Verify a signature over a raw message (hex). Exit 0 valid, 1 invalid, 2 malformed.
    ///
    /// The message is taken as is, of any length (BIP-340 as revised in 2023). A key
    /// that the Ed25519 policy rejects, or a BIP-340 x that is not on the curve, is
    /// reported as invalid (exit 1), since its bytes are well-formed.
    Verify(SigVerifyArgs),
    /// Sign a raw message (hex) and print the signature as lowercase hex.
    ///
    /// Ed25519 is deterministic; BIP-340 uses --aux, or 32 random bytes without it.
    Sign(SigSignArgs),
}

/// `sig verify`.
#[derive(Debug, Args)]
pub(crate) struct SigVerifyArgs {
    /// The signature suite.
    #[arg(long, value_enum)]
    pub(crate) alg: AlgArg,
    /// The public key: 64 hex characters (upper or lower case).
    #[arg(long = "pub", value_name = "HEX")]
    pub(crate) public: String,
    /// The message, hex (any length, may be empty).
    #[arg(long, value_name = "HEX")]
    pub(crate) msg: String,
    /// The signature: 128 hex characters.
    #[arg(long, value_name = "HEX")]
    pub(crate) sig: String,
}

/// `sig sign`.
#[derive(Debug, Args)]
pub(crate) struct SigSignArgs {
    /// The signature suite.
    #[arg(long, value_enum)]
    pub(crate) alg: AlgArg,
    /// The secret key: 64 hex characters (the RFC 8032 seed, or the BIP-340 scalar).
    /// Prefer the environment variable: command lines are visible to other users.
    #[arg(
        long,
        value_name = "HEX",
        env = "KEZ_SECRET_HEX",
        hide_env_values = true
    )]
    pub(crate) secret: String,
    /// The message, hex (any length, may be empty).
    #[arg(long, value_name = "HEX")]
    pub(crate) msg: String,
    /// BIP-340 auxiliary randomness: 64 hex characters. Random when absent.
    #[arg(long, value_name = "HEX")]
    pub(crate) aux: Option<String>,
}

/// Where to read a passphrase from when a key file is encrypted.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PassphraseSource {
    /// Read the passphrase of encrypted key files from the first line of FILE.
    /// Otherwise it comes from $KEZ_PASSPHRASE, or a prompt when stdin is a terminal.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// How to protect a key file being written.
#[derive(Debug, Args)]
pub(crate) struct EncryptArgs {
    /// Encrypt the key file to a passphrase (age, scrypt). The passphrase comes from
    /// $KEZ_PASSPHRASE, --passphrase-file, or a prompt (asked twice) when stdin is a
    /// terminal. $KEZ_SCRYPT_WORK_FACTOR sets log2(N) (default: age's, about 1 s).
    #[arg(long)]
    pub(crate) passphrase: bool,
    /// Read the passphrase from the first line of FILE.
    #[arg(long, value_name = "FILE", requires = "passphrase")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// `key …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate a key (OS CSPRNG) and write it to a key file with mode 0600.
    New(KeyNewArgs),
    /// Show a key file's algorithm and public key (and, if asked, its secret).
    Show(KeyShowArgs),
    /// Print the 24-word paper backup of a key, then check that it was written down.
    ///
    /// The recall check asks for three words back: each prompt `word #N: ` goes to
    /// stderr and one line is read from stdin.
    Backup(KeyBackupArgs),
    /// Restore a key file from its 24-word backup.
    Restore(KeyRestoreArgs),
}

/// `key new`.
#[derive(Debug, Args)]
pub(crate) struct KeyNewArgs {
    /// The signature suite.
    #[arg(long, value_enum)]
    pub(crate) alg: AlgArg,
    /// The key file to write.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// How to protect the file.
    #[command(flatten)]
    pub(crate) encrypt: EncryptArgs,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `key show`.
#[derive(Debug, Args)]
pub(crate) struct KeyShowArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Also print the secret key as hex.
    #[arg(long)]
    pub(crate) secret: bool,
    /// Passphrase source for an encrypted file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// `key backup`.
#[derive(Debug, Args)]
pub(crate) struct KeyBackupArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Write the words to WORDSFILE (mode 0600) instead of standard output.
    #[arg(long, value_name = "WORDSFILE")]
    pub(crate) out: Option<PathBuf>,
    /// Replace WORDSFILE if it exists.
    #[arg(long, requires = "out")]
    pub(crate) force: bool,
    /// Do not ask for three words back.
    #[arg(long)]
    pub(crate) skip_recall_check: bool,
    /// Passphrase source for an encrypted file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// `key restore`.
#[derive(Debug, Args)]
pub(crate) struct KeyRestoreArgs {
    /// The signature suite of the key that was backed up (the words do not record it).
    #[arg(long, value_enum)]
    pub(crate) alg: AlgArg,
    /// The key file to write.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Read the 24 words from FILE instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) words_file: Option<PathBuf>,
    /// How to protect the file.
    #[command(flatten)]
    pub(crate) encrypt: EncryptArgs,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `claim …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ClaimCommand {
    /// Sign a new claim for SUBJECT with a key file (created now).
    New(ClaimNewArgs),
    /// Re-encode every claim in the input into another encoding.
    ///
    /// Transport only: signatures are NOT verified (use `claim verify`). The input
    /// encoding is detected unless --from is given.
    Encode(ClaimEncodeArgs),
    /// Verify every claim in the input: signature, subject, times and, with --chain,
    /// the signer's sigchain.
    ///
    /// Exit 0 all valid; 1 invalid, revoked, expired or fork; 2 malformed or
    /// unsupported input; 3 unreachable evidence.
    Verify(ClaimVerifyArgs),
}

/// `claim new`.
#[derive(Debug, Args)]
pub(crate) struct ClaimNewArgs {
    /// The identity the claim is for, e.g. `github:jason` or `dns:example.com`.
    #[arg(long, value_name = "IDENTITY")]
    pub(crate) subject: Identity,
    /// The key file to sign with.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// Expire the claim this long after now, e.g. `30d`, `1y`, `90m`.
    #[arg(long, value_name = "DURATION", value_parser = clock::parse_duration)]
    pub(crate) expires_in: Option<u64>,
    /// The encoding to write.
    #[arg(long, value_enum, default_value_t = EncodingArg::Json)]
    pub(crate) encoding: EncodingArg,
    /// Write the claim to FILE (mode 0644) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    pub(crate) force: bool,
    /// Where the signer's sigchain can be fetched (an https:// URL).
    #[arg(long, value_name = "URL")]
    pub(crate) chain: Option<String>,
    /// Leave out the random nonce.
    #[arg(long)]
    pub(crate) no_nonce: bool,
    /// Passphrase source for an encrypted key file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// `claim encode`.
#[derive(Debug, Args)]
pub(crate) struct ClaimEncodeArgs {
    /// The encoding to write.
    #[arg(long, value_enum)]
    pub(crate) to: EncodingArg,
    /// The input encoding (detected when absent).
    #[arg(long, value_enum)]
    pub(crate) from: Option<EncodingArg>,
    /// The input file, or `-` for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) input: PathBuf,
}

/// `claim verify`.
#[derive(Debug, Args)]
pub(crate) struct ClaimVerifyArgs {
    /// The input file, or `-` for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) input: PathBuf,
    /// Evaluate as of this time (RFC 3339, UTC), instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = clock::parse_time)]
    pub(crate) at: Option<u64>,
    /// The identity being verified: a claim for another subject is invalid.
    #[arg(long, value_name = "IDENTITY")]
    pub(crate) subject: Option<Identity>,
    /// The signer's sigchain (JSONL). Repeat to compare copies: diverging copies are a
    /// fork; otherwise the longest is used.
    #[arg(long = "chain", value_name = "CHAINFILE")]
    pub(crate) chains: Vec<PathBuf>,
    /// The input encoding (detected when absent).
    #[arg(long, value_enum)]
    pub(crate) encoding: Option<EncodingArg>,
}

/// `sigchain …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SigchainCommand {
    /// Start a new chain: write its `init` link, signed by KEY.
    Init(ChainInitArgs),
    /// Bind a claim to the chain (an `add` link). The claim must verify and be signed
    /// by the chain's current primary key.
    Add(ChainAddArgs),
    /// Revoke a claim, by file or id, or every claim for a subject.
    Revoke(ChainRevokeArgs),
    /// Replace the primary key (a `rotate` link signed by the old key and countersigned
    /// by the new one).
    Rotate(ChainRotateArgs),
    /// Authorise a device key to sign `add` and `revoke` links.
    AddDevice(ChainDeviceArgs),
    /// Withdraw a device key.
    RevokeDevice(ChainRevokeDeviceArgs),
    /// Show a chain's keys, devices and claims.
    Show(ChainShowArgs),
    /// Verify a chain, and compare it with other copies. Exit 0 ok, 1 fork or bad
    /// signature, 2 malformed.
    Verify(ChainVerifyArgs),
    /// Re-emit a verified chain as canonical JSONL.
    Export(ChainShowArgs),
}

/// `sigchain init`.
#[derive(Debug, Args)]
pub(crate) struct ChainInitArgs {
    /// The key file whose key becomes the chain's root and primary key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The chain file to write.
    #[arg(long, value_name = "CHAIN")]
    pub(crate) out: PathBuf,
    /// Replace CHAIN if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Passphrase source for an encrypted key file.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// The chain and signing key every appending command takes.
#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    /// The chain file to extend (rewritten atomically, keeping its mode).
    #[arg(long, value_name = "CHAIN")]
    pub(crate) chain: PathBuf,
    /// The key file to sign the new link with.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// Passphrase source for encrypted key files.
    #[command(flatten)]
    pub(crate) passphrase: PassphraseSource,
}

/// `sigchain add`.
#[derive(Debug, Args)]
pub(crate) struct ChainAddArgs {
    /// Chain and signing key.
    #[command(flatten)]
    pub(crate) append: AppendArgs,
    /// The claim to bind, in any encoding (exactly one claim).
    #[arg(long, value_name = "CLAIMFILE")]
    pub(crate) claim: PathBuf,
}

/// `sigchain revoke`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["claim", "claim_id", "subject"])))]
pub(crate) struct ChainRevokeArgs {
    /// Chain and signing key.
    #[command(flatten)]
    pub(crate) append: AppendArgs,
    /// The claim to revoke, in any encoding (exactly one claim).
    #[arg(long, value_name = "CLAIMFILE")]
    pub(crate) claim: Option<PathBuf>,
    /// The id of the claim to revoke: `sha256:<64 hex>`.
    #[arg(long, value_name = "ID")]
    pub(crate) claim_id: Option<String>,
    /// Revoke every claim for this identity added so far.
    #[arg(long, value_name = "IDENTITY")]
    pub(crate) subject: Option<Identity>,
}

/// `sigchain rotate`.
#[derive(Debug, Args)]
pub(crate) struct ChainRotateArgs {
    /// Chain and the current primary key.
    #[command(flatten)]
    pub(crate) append: AppendArgs,
    /// The key file of the next primary key.
    #[arg(long, value_name = "NEWKEYFILE")]
    pub(crate) new_key: PathBuf,
}

/// `sigchain add-device`.
#[derive(Debug, Args)]
pub(crate) struct ChainDeviceArgs {
    /// Chain and the primary key.
    #[command(flatten)]
    pub(crate) append: AppendArgs,
    /// The device: a key file, or a public key (`ed25519:<hex>`, `bip340:<hex>`, `npub1…`).
    #[arg(long, value_name = "KEYFILE|PUBKEY")]
    pub(crate) device: String,
    /// A label for people (1 to 64 bytes).
    #[arg(long)]
    pub(crate) name: Option<String>,
}

/// `sigchain revoke-device`.
#[derive(Debug, Args)]
pub(crate) struct ChainRevokeDeviceArgs {
    /// Chain and the primary key.
    #[command(flatten)]
    pub(crate) append: AppendArgs,
    /// The device: a key file, or a public key (`ed25519:<hex>`, `bip340:<hex>`, `npub1…`).
    #[arg(long, value_name = "KEYFILE|PUBKEY")]
    pub(crate) device: String,
}

/// `sigchain show` and `sigchain export`.
#[derive(Debug, Args)]
pub(crate) struct ChainShowArgs {
    /// The chain file, or `-` for standard input.
    #[arg(value_name = "CHAIN")]
    pub(crate) chain: PathBuf,
    /// Only links created at or before this time (RFC 3339, UTC).
    #[arg(long, value_name = "RFC3339", value_parser = clock::parse_time)]
    pub(crate) at: Option<u64>,
}

/// `sigchain verify`.
#[derive(Debug, Args)]
pub(crate) struct ChainVerifyArgs {
    /// The chain file, or `-` for standard input.
    #[arg(value_name = "CHAIN")]
    pub(crate) chain: PathBuf,
    /// Another copy of the chain to compare with (repeatable).
    #[arg(long = "other", value_name = "CHAIN")]
    pub(crate) others: Vec<PathBuf>,
    /// Evaluate the chain's state as of this time (RFC 3339, UTC).
    #[arg(long, value_name = "RFC3339", value_parser = clock::parse_time)]
    pub(crate) at: Option<u64>,
}
