//! The plugin side: any [`Channel`] served over stdin and stdout.

use std::io::{self, BufRead, Write};
use std::sync::Mutex;

use async_trait::async_trait;
use kez_core::Identity;

use super::wire::{
    self, Answer, ErrorKind, Hello, Need, Outcome, PluginError, Reply, Request, RequestError,
};
use crate::channel::{Channel, ChannelError};
use crate::net::{
    FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup,
};

/// Serves `channel` as a plugin on this process's stdin and stdout until stdin closes.
///
/// A plugin's `main` can be this one call (see the `kez-channel-web` crate):
///
/// ```no_run
/// use kez_channel::Channel;
///
/// /// The plugin's `main`, given your channel.
/// fn plugin_main(my_channel: &dyn Channel) -> std::io::Result<()> {
///     kez_channel::external::serve(my_channel)
/// }
/// ```
pub fn serve(channel: &dyn Channel) -> io::Result<()> {
    let stdin = io::BufReader::new(io::stdin());
    serve_io(channel, stdin, io::stdout())
}

/// Serves `channel` on any reader and writer: [`serve`] with stdin and stdout.
///
/// Answers every request in order; a lookup's I/O goes to the host as `need` messages and
/// the channel sees the host's responses through its [`Net`]. A line that is not a request
/// is answered `bad_message`, an unknown op `unsupported`, and serving goes on. Returns when
/// the reader ends, or with the first error writing.
pub fn serve_io<R, W>(channel: &dyn Channel, reader: R, writer: W) -> io::Result<()>
where
    R: BufRead + Send,
    W: Write + Send,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pipe = Pipe {
        reader,
        writer,
        host_gone: false,
    };
    let pipe = Mutex::new(pipe);
    loop {
        let line = match lock(&pipe)?.read_line()? {
            Some(line) => line,
            None => return Ok(()),
        };
        let reply = match line {
            Err(problem) => bad_message(problem),
            Ok(line) => match Request::parse(&line) {
                Err(RequestError::UnknownOp(op)) => Reply::Error(PluginError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "op {op:?} is not supported by protocol version {}",
                        wire::PROTOCOL_VERSION
                    ),
                )),
                Err(RequestError::Malformed(problem)) => bad_message(problem),
                Ok(Request::Hello { .. }) => Reply::Hello(Hello {
                    kez_channel: wire::PROTOCOL_VERSION,
                    id: channel.id().to_string(),
                    aliases: channel.aliases(),
                }),
                Ok(Request::Normalise { account }) => match channel.normalise(&account) {
                    Ok(canonical) => Reply::Account(canonical),
                    Err(error) => {
                        Reply::Error(PluginError::new(ErrorKind::InvalidAccount, error.0))
                    }
                },
                Ok(Request::Lookup { identity, now }) => {
                    match lookup(&runtime, channel, &pipe, &identity, now)? {
                        Some(reply) => reply,
                        None => return Ok(()),
                    }
                }
            },
        };
        lock(&pipe)?.write_line(&reply.to_line())?;
    }
}

fn bad_message(problem: String) -> Reply {
    Reply::Error(PluginError::new(ErrorKind::BadMessage, problem))
}

/// Runs one lookup; `None` when the host went away in the middle of it.
fn lookup<R, W>(
    runtime: &tokio::runtime::Runtime,
    channel: &dyn Channel,
    pipe: &Mutex<Pipe<R, W>>,
    identity: &str,
    now: u64,
) -> io::Result<Option<Reply>>
where
    R: BufRead + Send,
    W: Write + Send,
{
    let identity = match Identity::parse(identity) {
        Ok(identity) => identity,
        Err(e) => return Ok(Some(bad_message(format!("identity: {e}")))),
    };
    let net = StdioNet {
        pipe,
        now,
        trouble: Mutex::new(None),
    };
    let result = runtime.block_on(channel.lookup(&identity, &net));
    let trouble = net.trouble.lock().ok().and_then(|mut t| t.take());
    if lock(pipe)?.host_gone {
        return Ok(None);
    }
    if let Some(trouble) = trouble {
        return match trouble {
            Trouble::Malformed(problem) => Ok(Some(bad_message(problem))),
            Trouble::Io(e) => Err(e),
        };
    }
    Ok(Some(match result {
        Ok(lookup) => Reply::Found(lookup),
        Err(ChannelError::NoSuchAccount(message)) => {
            Reply::Error(PluginError::new(ErrorKind::NoSuchAccount, message))
        }
        Err(ChannelError::Conflict(message)) => {
            Reply::Error(PluginError::new(ErrorKind::Conflict, message))
        }
        Err(ChannelError::Unreachable(fetch) | ChannelError::NotRecorded(fetch)) => {
            Reply::Error(PluginError {
                kind: ErrorKind::Unreachable,
                message: Some(fetch.to_string()),
                fetch: Some(fetch),
            })
        }
    }))
}

fn lock<T>(mutex: &Mutex<T>) -> io::Result<std::sync::MutexGuard<'_, T>> {
    mutex
        .lock()
        .map_err(|_| io::Error::other("the protocol pipe lock is poisoned"))
}

struct Pipe<R, W> {
    reader: R,
    writer: W,
    host_gone: bool,
}

impl<R: BufRead, W: Write> Pipe<R, W> {
    /// The next line: `None` at the end of input, `Some(Err)` for a line that is too long
    /// or not UTF-8 (skipped whole).
    fn read_line(&mut self) -> io::Result<Option<Result<String, String>>> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                if line.is_empty() && !too_long {
                    self.host_gone = true;
                    return Ok(None);
                }
                break;
            }
            let (take, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (at, true),
                None => (chunk.len(), false),
            };
            if !too_long && line.len() + take <= wire::MAX_LINE_BYTES {
                line.extend_from_slice(&chunk[..take]);
            } else {
                too_long = true;
                line.clear();
            }
            self.reader.consume(if complete { take + 1 } else { take });
            if complete {
                break;
            }
        }
        if too_long {
            return Ok(Some(Err(format!(
                "a line is longer than {} bytes",
                wire::MAX_LINE_BYTES
            ))));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(
            String::from_utf8(line).map_err(|_| "a line is not UTF-8".to_string()),
        ))
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")?;
        self.writer.flush()
    }
}

/// Why a lookup's conversation went wrong on the plugin side.
enum Trouble {
    /// The host's response could not be understood: the lookup ends with `bad_message`.
    Malformed(String),
    /// Reading or writing the pipe failed.
    Io(io::Error),
}

/// The `Net` a served channel sees: every call is a `need` to the host and its response.
struct StdioNet<'a, R, W> {
    pipe: &'a Mutex<Pipe<R, W>>,
    now: u64,
    /// Once set, every further call fails without asking the host.
    trouble: Mutex<Option<Trouble>>,
}

impl<R: BufRead + Send, W: Write + Send> StdioNet<'_, R, W> {
    fn ask(&self, need: Need) -> Outcome {
        let target = need.target();
        let refuse = |detail: &str| FetchError::new(FetchErrorKind::BadAnswer, &target, detail);
        let mut trouble = match self.trouble.lock() {
            Ok(trouble) => trouble,
            Err(_) => return Err(refuse("the plugin's state is poisoned")),
        };
        if trouble.is_some() {
            return Err(refuse("an earlier exchange with the host failed"));
        }
        let mut pipe = match self.pipe.lock() {
            Ok(pipe) => pipe,
            Err(_) => return Err(refuse("the plugin's state is poisoned")),
        };
        if let Err(e) = pipe.write_line(&Reply::Need(need.clone()).to_line()) {
            *trouble = Some(Trouble::Io(e));
            return Err(refuse("cannot write to the host"));
        }
        let line = match pipe.read_line() {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(problem))) => {
                *trouble = Some(Trouble::Malformed(format!("response: {problem}")));
                return Err(refuse("the host's response is malformed"));
            }
            Ok(None) => return Err(refuse("the host went away")),
            Err(e) => {
                *trouble = Some(Trouble::Io(e));
                return Err(refuse("cannot read from the host"));
            }
        };
        match wire::parse_response(&need, &line) {
            Ok(outcome) => outcome,
            Err(problem) => {
                *trouble = Some(Trouble::Malformed(problem));
                Err(refuse("the host's response is malformed"))
            }
        }
    }
}

fn mismatch(target: String) -> FetchError {
    FetchError::new(
        FetchErrorKind::BadAnswer,
        target,
        "the host answered with another kind of response",
    )
}

#[async_trait]
impl<R: BufRead + Send, W: Write + Send> Net for StdioNet<'_, R, W> {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let target = request.url.clone();
        match self.ask(Need::Http(request))? {
            Answer::Http(response) => Ok(response),
            _ => Err(mismatch(target)),
        }
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        let need = Need::DnsTxt {
            name: name.to_string(),
        };
        match self.ask(need)? {
            Answer::DnsTxt(lookup) => Ok(lookup),
            _ => Err(mismatch(name.to_string())),
        }
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        match self.ask(Need::Nostr(query.clone()))? {
            Answer::Nostr(events) => Ok(events),
            _ => Err(mismatch(query.relays.join(" "))),
        }
    }

    fn now(&self) -> u64 {
        self.now
    }
}
