//! Out-of-process channels: an executable `kez-channel-<name>` speaking the JSON-lines
//! protocol of docs/CHANNEL-PLUGINS.md over stdin and stdout (SPEC.md §11.1).
//!
//! [`ExternalChannel`] is the host side: it runs one plugin process for the life of the
//! value and implements [`Channel`] by talking to it. [`serve`] is the plugin side: it runs
//! any [`Channel`] implementation as a plugin over stdin and stdout. [`wire`] holds the
//! messages both sides exchange.
//!
//! # How the host side works
//!
//! - **One process, one conversation at a time.** The process is owned by a private thread
//!   running its own small tokio runtime, so an `ExternalChannel` works from any runtime (or
//!   none) and outlives the runtime it was made on. Requests are queued and served in order:
//!   a lookup's whole conversation (its `need`s and their responses) finishes before the
//!   next request is sent.
//! - **All I/O goes through the caller's [`Net`].** When the plugin sends a `need`, the
//!   lookup future performs it with the `net` it was given and sends the result back, so the
//!   exchange is recorded or replayed like any built-in channel's.
//! - **`normalise` is synchronous.** The answer is a pure function of the account, so it is
//!   cached (up to [`NORMALISE_CACHE_ENTRIES`] accounts); a miss is a blocking round trip to
//!   the plugin that waits at most [`ExternalOptions::normalise_timeout`], including any time
//!   spent queued behind a running lookup. Only the plugin's own answers (`account`,
//!   `invalid_account`) are cached, never a failure.
//! - **Every wait is bounded**: [`ExternalOptions`] sets the hello, per-message, normalise and
//!   whole-lookup timeouts, the line length and the I/O rounds per lookup.
//! - **A plugin that breaks the protocol is stopped.** Writing something that is not a
//!   message of the protocol, the wrong message, an over-long line, a line nobody asked
//!   for, too many I/O rounds, exiting, or not answering in time: the process is killed and
//!   every later call fails at once with the same description. There is no restart.
//! - **Failures are [`ChannelError::Unreachable`].** Their [`FetchError`] has the target
//!   `plugin kez-channel-<name>` and a detail saying what the plugin did, so the verdict is
//!   `unreachable` (indeterminate) and the message names the culprit. A `not_recorded`
//!   answer from a replaying `Net` always makes the lookup [`ChannelError::NotRecorded`],
//!   whatever the plugin answers next.
//! - **The plugin gets no secrets.** Its environment is cleared except for `PATH`, `HOME`,
//!   the locale and temporary-directory variables, `RUST_LOG`, `RUST_BACKTRACE` and variables
//!   starting with `KEZ_CHANNEL_`; credentials are asked for by name and added by the host's
//!   `Net`. Its stderr is passed through to the host's stderr for diagnostics.

mod serve;
mod session;
pub mod wire;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kez_core::Identity;
use tokio::sync::mpsc;

use crate::channel::{AccountError, Channel, ChannelError, Lookup};
use crate::net::{FetchError, FetchErrorKind, Net};

pub use serve::{serve, serve_io};
use session::{Command, Event};
use wire::{Answer, Need, Outcome};

/// The prefix of a plugin executable's name: `kez-channel-<name>`.
pub const PLUGIN_PREFIX: &str = "kez-channel-";

/// How many normalised accounts an [`ExternalChannel`] remembers before it forgets them all.
pub const NORMALISE_CACHE_ENTRIES: usize = 4096;

/// Limits for talking to a plugin. `ExternalOptions::default()` gives the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalOptions {
    /// How long the plugin may take to answer `hello` after it starts (default 10 s).
    pub hello_timeout: Duration,
    /// How long the plugin may take to write its next message once the host has written
    /// one (default 30 s).
    pub message_timeout: Duration,
    /// How long a `normalise` call may wait in all, queueing included (default 30 s).
    pub normalise_timeout: Duration,
    /// How long one lookup may take in all, the host's I/O included (default 300 s).
    pub lookup_timeout: Duration,
    /// The longest line the plugin may write, and the host will write (default 8 MiB).
    pub max_line_bytes: usize,
    /// The most `need`s in one lookup (default 64).
    pub max_io_rounds: usize,
}

impl Default for ExternalOptions {
    fn default() -> Self {
        Self {
            hello_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(30),
            normalise_timeout: Duration::from_secs(30),
            lookup_timeout: Duration::from_secs(300),
            max_line_bytes: wire::MAX_LINE_BYTES,
            max_io_rounds: wire::MAX_IO_ROUNDS,
        }
    }
}

/// Why a plugin could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// No executable `kez-channel-<name>` in any directory of `PATH`.
    #[error("no executable {PLUGIN_PREFIX}{0} found on PATH")]
    NotFound(String),
    /// The plugin name is not `[a-z0-9][a-z0-9-]*`.
    #[error("{0:?} is not a plugin name (expected lowercase letters, digits and -)")]
    BadName(String),
    /// The executable could not be started, or its `hello` was missing or wrong.
    #[error("plugin {plugin}: {detail}")]
    Plugin {
        /// The executable's file name.
        plugin: String,
        /// What went wrong.
        detail: String,
    },
}

/// A channel served by a plugin process. See the [module docs](self) for how it behaves.
pub struct ExternalChannel {
    name: String,
    path: PathBuf,
    id: String,
    aliases: Vec<String>,
    options: ExternalOptions,
    commands: mpsc::UnboundedSender<Command>,
    normalised: Mutex<HashMap<String, Result<String, AccountError>>>,
}

impl fmt::Debug for ExternalChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalChannel")
            .field("id", &self.id)
            .field("aliases", &self.aliases)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ExternalChannel {
    /// Starts the plugin executable at `path` and says `hello`, with the default limits.
    ///
    /// Blocks the calling thread until the plugin answers `hello`, at most
    /// [`ExternalOptions::hello_timeout`].
    pub fn spawn(path: impl AsRef<Path>) -> Result<Self, SpawnError> {
        Self::spawn_with(path, ExternalOptions::default())
    }

    /// Starts the plugin executable at `path` with the given limits.
    pub fn spawn_with(
        path: impl AsRef<Path>,
        options: ExternalOptions,
    ) -> Result<Self, SpawnError> {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let (hello_tx, hello_rx) = std_mpsc::channel();
        let (commands, command_rx) = mpsc::unbounded_channel();
        session::start(
            path.clone(),
            name.clone(),
            options.clone(),
            command_rx,
            hello_tx,
        )
        .map_err(|detail| SpawnError::Plugin {
            plugin: name.clone(),
            detail,
        })?;
        // The session thread itself gives up after hello_timeout; the margin covers a
        // thread that is slow to start.
        let hello = hello_rx
            .recv_timeout(options.hello_timeout + Duration::from_secs(5))
            .map_err(|_| SpawnError::Plugin {
                plugin: name.clone(),
                detail: format!(
                    "did not answer hello within {} s",
                    options.hello_timeout.as_secs()
                ),
            })?
            .map_err(|detail| SpawnError::Plugin {
                plugin: name.clone(),
                detail,
            })?;
        Ok(Self {
            name,
            path,
            id: hello.id,
            aliases: hello.aliases,
            options,
            commands,
            normalised: Mutex::new(HashMap::new()),
        })
    }

    /// Finds `kez-channel-<name>` on `PATH` and starts it with the default limits.
    pub fn find_on_path(name: &str) -> Result<Self, SpawnError> {
        let path = Self::locate(name, std::env::var_os("PATH").as_deref())?;
        Self::spawn(path)
    }

    /// The first executable file `kez-channel-<name>` in the directories of `path_var` (a
    /// `PATH` value), in order.
    pub fn locate(name: &str, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, SpawnError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if !valid {
            return Err(SpawnError::BadName(name.to_string()));
        }
        let file = format!("{PLUGIN_PREFIX}{name}");
        let dirs = path_var.map(std::env::split_paths).into_iter().flatten();
        for dir in dirs {
            let candidate = dir.join(&file);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
        Err(SpawnError::NotFound(name.to_string()))
    }

    /// The path of the plugin executable.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error a failure of the plugin becomes.
    fn failure(&self, detail: impl Into<String>) -> ChannelError {
        ChannelError::Unreachable(plugin_failure(&self.name, FetchErrorKind::Connect, detail))
    }
}

/// A [`FetchError`] naming the plugin as its target.
fn plugin_failure(name: &str, kind: FetchErrorKind, detail: impl Into<String>) -> FetchError {
    FetchError::new(kind, format!("plugin {name}"), detail)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

#[async_trait]
impl Channel for ExternalChannel {
    fn id(&self) -> &str {
        &self.id
    }

    fn aliases(&self) -> Vec<String> {
        self.aliases.clone()
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        if let Ok(cache) = self.normalised.lock() {
            if let Some(answer) = cache.get(account) {
                return answer.clone();
            }
        }
        let (reply, answer) = std_mpsc::channel();
        let sent = self.commands.send(Command::Normalise {
            account: account.to_string(),
            reply,
        });
        if sent.is_err() {
            return Err(AccountError(format!(
                "plugin {} has stopped; cannot normalise {account:?}",
                self.name
            )));
        }
        let answer = match answer.recv_timeout(self.options.normalise_timeout) {
            Ok(Ok(answer)) => answer,
            Ok(Err(failure)) => {
                return Err(AccountError(format!("plugin {}: {failure}", self.name)))
            }
            Err(_) => {
                return Err(AccountError(format!(
                    "plugin {} did not normalise {account:?} within {} s",
                    self.name,
                    self.options.normalise_timeout.as_secs()
                )))
            }
        };
        if let Ok(mut cache) = self.normalised.lock() {
            if cache.len() >= NORMALISE_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(account.to_string(), answer.clone());
        }
        answer
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        let (events_tx, mut events) = mpsc::channel(1);
        let (responses, responses_rx) = mpsc::channel(1);
        let sent = self.commands.send(Command::Lookup {
            identity: identity.to_string(),
            now: net.now(),
            events: events_tx,
            responses: responses_rx,
        });
        if sent.is_err() {
            return Err(self.failure("has stopped"));
        }
        loop {
            let need = match events.recv().await {
                Some(Event::Done(result)) => return result,
                Some(Event::Need(need)) => need,
                None => return Err(self.failure("stopped in the middle of a lookup")),
            };
            let outcome = tokio::select! {
                outcome = perform(need, net) => outcome,
                event = events.recv() => return match event {
                    Some(Event::Done(result)) => result,
                    _ => Err(self.failure("stopped in the middle of a lookup")),
                },
            };
            if responses.send(outcome).await.is_err() {
                return Err(self.failure("stopped in the middle of a lookup"));
            }
        }
    }
}

/// Performs one `need` through the host's `Net`.
async fn perform(need: Need, net: &dyn Net) -> Outcome {
    match need {
        Need::Http(request) => net.http_get(request).await.map(Answer::Http),
        Need::DnsTxt { name } => net.dns_txt(&name).await.map(Answer::DnsTxt),
        Need::Nostr(query) => net.nostr_events(&query).await.map(Answer::Nostr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_checks_the_name_and_searches_path_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a");
        let second = dir.path().join("b");
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let plugin = second.join("kez-channel-demo");
        std::fs::write(&plugin, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
            // Not executable: skipped.
            std::fs::write(first.join("kez-channel-demo"), "").unwrap();
        }
        let path_var = std::env::join_paths([&first, &second]).unwrap();
        assert_eq!(
            ExternalChannel::locate("demo", Some(&path_var)).unwrap(),
            plugin
        );
        assert_eq!(
            ExternalChannel::locate("other", Some(&path_var)).unwrap_err(),
            SpawnError::NotFound("other".into())
        );
        for bad in ["", "Demo", "../x", "-x", "a b"] {
            assert_eq!(
                ExternalChannel::locate(bad, Some(&path_var)).unwrap_err(),
                SpawnError::BadName(bad.into())
            );
        }
    }
}
