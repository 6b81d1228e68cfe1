//! The host side of one plugin process: a thread with its own tokio runtime that owns the
//! process and its pipes and serves the requests of an `ExternalChannel`, one at a time.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};

use super::wire::{self, ErrorKind, Hello, Outcome, Reply, Request};
use super::{plugin_failure, ExternalOptions};
use crate::channel::{AccountError, ChannelError, Lookup};
use crate::net::{FetchError, FetchErrorKind};

/// A request from the `ExternalChannel` to the session.
pub(super) enum Command {
    /// Normalise an account; the answer goes back over a std channel (the caller blocks).
    Normalise {
        account: String,
        reply: std_mpsc::Sender<Result<Result<String, AccountError>, String>>,
    },
    /// Run a lookup; `need`s go out as events, outcomes come back on `responses`.
    Lookup {
        identity: String,
        now: u64,
        events: mpsc::Sender<Event>,
        responses: mpsc::Receiver<Outcome>,
    },
}

/// What a running lookup tells the lookup future.
pub(super) enum Event {
    /// Perform this I/O and send back its outcome.
    Need(wire::Need),
    /// The lookup is over.
    Done(Result<Lookup, ChannelError>),
}

/// One line read from the plugin's stdout.
enum Line {
    Text(String),
    TooLong,
    NotUtf8,
    Eof,
    Failed(String),
}

/// Environment variables a plugin may see; everything else is cleared.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TEMP",
    "TMP",
    "TZ",
    "SYSTEMROOT",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

/// The part of the host's environment a plugin sees.
fn plugin_env(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> impl Iterator<Item = (OsString, OsString)> {
    vars.filter(|(key, _)| {
        key.to_str()
            .is_some_and(|k| KEPT_ENV.contains(&k) || k.starts_with("KEZ_CHANNEL_"))
    })
}

/// Starts the session thread. The thread starts the process and sends the result of
/// `hello` on `hello`; afterwards it serves `commands` until they are dropped.
pub(super) fn start(
    path: PathBuf,
    name: String,
    options: ExternalOptions,
    commands: mpsc::UnboundedReceiver<Command>,
    hello: std_mpsc::Sender<Result<Hello, String>>,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name(format!("plugin {name}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = hello.send(Err(format!("cannot start a runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut session = match Session::spawn(&path, name, options) {
                    Ok(session) => session,
                    Err(e) => {
                        let _ = hello.send(Err(e));
                        return;
                    }
                };
                match session.hello().await {
                    Ok(answer) => {
                        if hello.send(Ok(answer)).is_err() {
                            session.shutdown().await;
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = hello.send(Err(e));
                        session.shutdown().await;
                        return;
                    }
                }
                session.serve(commands).await;
                session.shutdown().await;
            });
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start a thread: {e}"))
}

struct Session {
    name: String,
    options: ExternalOptions,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Line>,
    /// Set once the plugin broke the protocol: what it did. The process is gone.
    broken: Option<String>,
}

impl Session {
    fn spawn(path: &PathBuf, name: String, options: ExternalOptions) -> Result<Self, String> {
        let mut command = tokio::process::Command::new(path);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .env_clear();
        command.envs(plugin_env(std::env::vars_os()));
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("started without pipes to stdin and stdout".into());
        };
        let (line_tx, lines) = mpsc::channel(4);
        tokio::spawn(read_lines(stdout, options.max_line_bytes, line_tx));
        Ok(Self {
            name,
            options,
            child,
            stdin: Some(stdin),
            lines,
            broken: None,
        })
    }

    async fn hello(&mut self) -> Result<Hello, String> {
        let request = Request::Hello {
            kez_channel: wire::PROTOCOL_VERSION,
        };
        self.write(&request.to_line(), "hello").await?;
        let deadline = Instant::now() + self.options.hello_timeout;
        let line = self.read(deadline, "hello").await?;
        let hello = match Reply::parse(&line) {
            Ok(Reply::Hello(hello)) => hello,
            Ok(other) => {
                return Err(self
                    .break_off(format!(
                        "answered hello with a {} message",
                        other.kind_name()
                    ))
                    .await)
            }
            Err(e) => {
                return Err(self
                    .break_off(format!("answered hello with an invalid message: {e}"))
                    .await)
            }
        };
        if hello.kez_channel != wire::PROTOCOL_VERSION {
            return Err(self
                .break_off(format!(
                    "speaks protocol version kez_channel {}; this host speaks {}",
                    hello.kez_channel,
                    wire::PROTOCOL_VERSION
                ))
                .await);
        }
        for name in std::iter::once(&hello.id).chain(&hello.aliases) {
            let valid = name.len() <= 32
                && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(self
                    .break_off(format!(
                        "named its channel {name:?}, which is not a scheme (a-z, then a-z, 0-9, -)"
                    ))
                    .await);
            }
        }
        Ok(hello)
    }

    /// Serves commands until the channel is dropped. While idle, anything the plugin
    /// writes (or its exit) breaks it.
    async fn serve(&mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let command = if self.broken.is_some() {
                commands.recv().await
            } else {
                tokio::select! {
                    // A line already written is unsolicited: notice it before the next request.
                    biased;
                    line = self.lines.recv() => {
                        let what = match line {
                            Some(Line::Text(_)) | Some(Line::TooLong) | Some(Line::NotUtf8) => {
                                "wrote a line while no request was pending".to_string()
                            }
                            Some(Line::Failed(e)) => format!("stdout could not be read: {e}"),
                            Some(Line::Eof) | None => self.exit_description("while idle").await,
                        };
                        self.break_off(what).await;
                        continue;
                    }
                    command = commands.recv() => command,
                }
            };
            match command {
                None => return,
                Some(Command::Normalise { account, reply }) => {
                    let answer = self.normalise(&account).await;
                    let _ = reply.send(answer);
                }
                Some(Command::Lookup {
                    identity,
                    now,
                    events,
                    responses,
                }) => {
                    let result = self.lookup(&identity, now, &events, responses).await;
                    let _ = events.send(Event::Done(result)).await;
                }
            }
        }
    }

    async fn normalise(&mut self, account: &str) -> Result<Result<String, AccountError>, String> {
        let request = Request::Normalise {
            account: account.to_string(),
        };
        self.write(&request.to_line(), "normalise").await?;
        let deadline = Instant::now() + self.options.message_timeout;
        let line = self.read(deadline, "normalise").await?;
        match Reply::parse(&line) {
            Ok(Reply::Account(canonical)) => Ok(Ok(canonical)),
            Ok(Reply::Error(error)) if error.kind == ErrorKind::InvalidAccount => {
                Ok(Err(AccountError(error.message.unwrap_or_else(|| {
                    format!("{account:?} is not a valid account")
                }))))
            }
            Ok(Reply::Error(error)) => Err(format!(
                "answered normalise with error {}: {}",
                error.kind.name(),
                error.message.unwrap_or_default()
            )),
            Ok(other) => Err(self
                .break_off(format!(
                    "answered normalise with a {} message",
                    other.kind_name()
                ))
                .await),
            Err(e) => Err(self
                .break_off(format!("answered normalise with an invalid message: {e}"))
                .await),
        }
    }

    async fn lookup(
        &mut self,
        identity: &str,
        now: u64,
        events: &mpsc::Sender<Event>,
        mut responses: mpsc::Receiver<Outcome>,
    ) -> Result<Lookup, ChannelError> {
        let deadline = Instant::now() + self.options.lookup_timeout;
        let what = format!("lookup of {identity}");
        let request = Request::Lookup {
            identity: identity.to_string(),
            now,
        };
        self.write(&request.to_line(), &what)
            .await
            .map_err(|e| self.unreachable(FetchErrorKind::Connect, e))?;
        let mut rounds = 0;
        // Set once the caller is gone or the lookup ran out of time: the rest of the
        // conversation is drained with refusals and its answer thrown away.
        let mut abandoned: Option<ChannelError> = None;
        let mut not_recorded: Option<FetchError> = None;
        loop {
            let message_deadline = (Instant::now() + self.options.message_timeout).min(deadline);
            let line = match self.read(message_deadline, &what).await {
                Ok(line) => line,
                Err(e) => {
                    let kind = if e.starts_with("did not answer") {
                        FetchErrorKind::Timeout
                    } else {
                        FetchErrorKind::Connect
                    };
                    return Err(self.unreachable(kind, e));
                }
            };
            let reply = match Reply::parse(&line) {
                Ok(reply) => reply,
                Err(e) => {
                    let detail = self
                        .break_off(format!("answered {what} with an invalid message: {e}"))
                        .await;
                    return Err(self.unreachable(FetchErrorKind::BadAnswer, detail));
                }
            };
            let need = match reply {
                Reply::Need(need) => need,
                Reply::Found(lookup) => {
                    return finish(abandoned, not_recorded, Ok(lookup));
                }
                Reply::Error(error) => {
                    let result = self.lookup_error(&what, error);
                    return finish(abandoned, not_recorded, Err(result));
                }
                other => {
                    let detail = self
                        .break_off(format!(
                            "answered {what} with a {} message",
                            other.kind_name()
                        ))
                        .await;
                    return Err(self.unreachable(FetchErrorKind::BadAnswer, detail));
                }
            };
            rounds += 1;
            if rounds > self.options.max_io_rounds {
                let detail = self
                    .break_off(format!(
                        "asked for more than {} i/o rounds in one {what}",
                        self.options.max_io_rounds
                    ))
                    .await;
                return Err(self.unreachable(FetchErrorKind::BadAnswer, detail));
            }
            let target = need.target();
            let caller_gone = abandoned.is_some() || events.send(Event::Need(need)).await.is_err();
            let outcome = if caller_gone {
                None
            } else {
                match timeout_at(deadline, responses.recv()).await {
                    Ok(Some(outcome)) => Some(outcome),
                    Ok(None) => None,
                    Err(_) => {
                        abandoned = Some(self.unreachable(
                            FetchErrorKind::Timeout,
                            format!(
                                "{what} did not finish within {} s",
                                self.options.lookup_timeout.as_secs()
                            ),
                        ));
                        // Tell the waiting lookup future now; the plugin is drained below.
                        if let Some(error) = abandoned.clone() {
                            let _ = events.try_send(Event::Done(Err(error)));
                        }
                        None
                    }
                }
            };
            let outcome = outcome.unwrap_or_else(|| {
                if abandoned.is_none() {
                    abandoned = Some(self.unreachable(
                        FetchErrorKind::Connect,
                        format!("{what} was abandoned by the host"),
                    ));
                }
                Err(FetchError::new(
                    FetchErrorKind::Refused,
                    target.clone(),
                    "the host abandoned this lookup",
                ))
            });
            if let Err(error) = &outcome {
                if error.kind == FetchErrorKind::NotRecorded && not_recorded.is_none() {
                    not_recorded = Some(error.clone());
                }
            }
            let mut line = wire::response_value(&outcome).to_string();
            if line.len() > self.options.max_line_bytes {
                line = wire::response_value(&Err(FetchError::new(
                    FetchErrorKind::TooLarge,
                    target,
                    format!(
                        "the response does not fit in one {}-byte protocol line",
                        self.options.max_line_bytes
                    ),
                )))
                .to_string();
            }
            self.write(&line, &what)
                .await
                .map_err(|e| self.unreachable(FetchErrorKind::Connect, e))?;
        }
    }

    /// The `ChannelError` for an `error` answer to a lookup.
    fn lookup_error(&self, what: &str, error: wire::PluginError) -> ChannelError {
        let message = error.message.clone().unwrap_or_default();
        match error.kind {
            ErrorKind::NoSuchAccount => ChannelError::NoSuchAccount(message),
            ErrorKind::Conflict => ChannelError::Conflict(message),
            ErrorKind::Unreachable => match error.fetch {
                Some(fetch) => ChannelError::from(fetch),
                None => self.unreachable(
                    FetchErrorKind::Connect,
                    format!("reported {what} unreachable: {message}"),
                ),
            },
            other => self.unreachable(
                FetchErrorKind::BadAnswer,
                format!("answered {what} with error {}: {message}", other.name()),
            ),
        }
    }

    fn unreachable(&self, kind: FetchErrorKind, detail: impl Into<String>) -> ChannelError {
        ChannelError::Unreachable(plugin_failure(&self.name, kind, detail))
    }

    /// Writes one line, or fails with what happened to the plugin.
    async fn write(&mut self, line: &str, what: &str) -> Result<(), String> {
        if let Some(broken) = &self.broken {
            return Err(format!("is unusable: it {broken}"));
        }
        if let Ok(line) = self.lines.try_recv() {
            let detail = match line {
                Line::Eof => self.exit_description(&format!("before {what}")).await,
                _ => format!("wrote a line while no request was pending (before {what})"),
            };
            return Err(self.break_off(detail).await);
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("is unusable: its stdin is closed".into());
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = timeout(self.options.message_timeout, async {
            stdin.write_all(&bytes).await?;
            stdin.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                let detail = self
                    .exit_description(&format!("before reading {what}"))
                    .await;
                Err(self.break_off(detail).await)
            }
            Err(_) => Err(self
                .break_off(format!(
                    "did not read {what} within {} s",
                    self.options.message_timeout.as_secs()
                ))
                .await),
        }
    }

    /// Reads the plugin's next line before `deadline`, or fails with what it did instead.
    async fn read(&mut self, deadline: Instant, what: &str) -> Result<String, String> {
        if let Some(broken) = &self.broken {
            return Err(format!("is unusable: it {broken}"));
        }
        let waited = deadline.saturating_duration_since(Instant::now());
        let detail = match timeout_at(deadline, self.lines.recv()).await {
            Ok(Some(Line::Text(text))) => return Ok(text),
            Ok(Some(Line::TooLong)) => format!(
                "wrote a line longer than {} bytes answering {what}",
                self.options.max_line_bytes
            ),
            Ok(Some(Line::NotUtf8)) => format!("wrote a line that is not UTF-8 answering {what}"),
            Ok(Some(Line::Failed(e))) => format!("stdout could not be read: {e}"),
            Ok(Some(Line::Eof)) | Ok(None) => {
                self.exit_description(&format!("before answering {what}"))
                    .await
            }
            Err(_) => format!(
                "did not answer {what} within {} s",
                waited.as_secs_f64().ceil()
            ),
        };
        Err(self.break_off(detail).await)
    }

    /// Describes how the process ended ("exited with status 3 before …"), waiting a
    /// moment for it to finish.
    async fn exit_description(&mut self, when: &str) -> String {
        match timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(Ok(status)) => format!("exited ({}) {when}", describe(status)),
            Ok(Err(e)) => format!("closed its pipes {when} (its status is unknown: {e})"),
            Err(_) => format!("closed its stdout {when}"),
        }
    }

    /// Marks the plugin broken with `detail`, kills it and returns `detail`.
    async fn break_off(&mut self, detail: String) -> String {
        if self.broken.is_none() {
            self.broken = Some(detail.clone());
            self.stdin = None;
            let _ = self.child.start_kill();
            let _ = timeout(Duration::from_secs(2), self.child.wait()).await;
        }
        detail
    }

    /// Closes stdin, lets the plugin exit by itself for a moment, then kills it.
    async fn shutdown(&mut self) {
        self.stdin = None;
        if timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = timeout(Duration::from_secs(2), self.child.wait()).await;
        }
    }
}

/// The result of a lookup once the plugin has answered: a `not_recorded` fetch beats
/// everything, an abandoned lookup's answer is thrown away.
fn finish(
    abandoned: Option<ChannelError>,
    not_recorded: Option<FetchError>,
    result: Result<Lookup, ChannelError>,
) -> Result<Lookup, ChannelError> {
    if let Some(error) = not_recorded {
        return Err(ChannelError::NotRecorded(error));
    }
    if let Some(error) = abandoned {
        return Err(error);
    }
    result
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

/// Reads lines of at most `max` bytes from the plugin's stdout until it closes, a line is
/// too long or not UTF-8, or nobody listens any more.
async fn read_lines(stdout: ChildStdout, max: usize, lines: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = lines.send(Line::Failed(e.to_string())).await;
                return;
            }
        };
        if chunk.is_empty() {
            let _ = lines.send(Line::Eof).await;
            return;
        }
        let (take, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (at, true),
            None => (chunk.len(), false),
        };
        if line.len() + take > max {
            let _ = lines.send(Line::TooLong).await;
            return;
        }
        line.extend_from_slice(&chunk[..take]);
        reader.consume(if complete { take + 1 } else { take });
        if complete {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let text = match String::from_utf8(std::mem::take(&mut line)) {
                Ok(text) => Line::Text(text),
                Err(_) => Line::NotUtf8,
            };
            let stop = matches!(text, Line::NotUtf8);
            if lines.send(text).await.is_err() || stop {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_see_no_secrets_in_their_environment() {
        let host = [
            ("PATH", "/usr/bin"),
            ("GITHUB_TOKEN", "ghp_secret"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("KEZ_CHANNEL_WEB_MODE", "strict"),
            ("LANG", "C.UTF-8"),
            ("KEZ_OTHER", "y"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let kept: Vec<String> = plugin_env(host.into_iter())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["PATH", "KEZ_CHANNEL_WEB_MODE", "LANG"]);
    }
}
