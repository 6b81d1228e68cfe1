//! Adapter processes (`docs/ADAPTER.md`): one long-lived process per implementation, JSON
//! lines in and out, a timeout on every request and a bound on every line read.
//!
//! A [`Pool`] starts an implementation's adapter on first use, sends `hello` (refusing another
//! protocol version or an adapter that lacks a declared op) and checks that a made-up op is
//! answered with error kind `unsupported`. Requests to one adapter are serialised. An adapter
//! that times out, exits or breaks the framing is killed; the next request starts a new one
//! (at most [`MAX_RESTARTS`] times), so one hung case fails that case, not the run.
//!
//! [`Mode::PerStep`] instead starts a fresh process for every request (`hello`, the request,
//! `shutdown`); it exists for the benchmark that shows why the pool is persistent.

use crate::impls::{Implementation, Registry, PROTOCOL};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Per-request timeout unless `KEZ_CROSSTEST_TIMEOUT` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Time allowed for an adapter to start and answer `hello`.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest response line accepted (bytes, line feed excluded).
pub const MAX_LINE: usize = 16 << 20;
/// How much of an adapter's stderr is kept for failure messages.
const STDERR_TAIL: usize = 16 << 10;
/// How often one implementation's adapter may be restarted after it broke.
pub const MAX_RESTARTS: u32 = 3;
/// The op the start-up check sends; no adapter implements it.
pub const UNKNOWN_OP: &str = "kez-crosstest-no-such-op";

/// How the pool runs adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One process per implementation for the whole run.
    Persistent,
    /// A new process for every request (benchmark baseline).
    PerStep,
}

/// An adapter's `hello` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The name it gives itself.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its protocol version.
    pub protocol: u64,
    /// The SPEC version it implements.
    pub spec: String,
    /// The ops it implements.
    pub ops: Vec<String>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The adapter answered `ok: false` with this error kind.
    Adapter(String),
    /// No answer within the timeout; the adapter was killed.
    Timeout,
    /// The answer broke the framing (not JSON, wrong id, too long).
    Protocol,
    /// The adapter exited.
    Exited,
    /// The adapter could not be started or failed its start-up checks.
    Start,
}

/// A failed request, with what the adapter wrote on stderr meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// What kind of failure.
    pub kind: CallErrorKind,
    /// What happened.
    pub message: String,
    /// The adapter's stderr during the request (tail).
    pub stderr: String,
}

impl CallError {
    fn new(kind: CallErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
            stderr: String::new(),
        }
    }

    /// A short label: the adapter's error kind, or `timeout`, `protocol`, `exited`, `start`.
    pub fn label(&self) -> &str {
        match &self.kind {
            CallErrorKind::Adapter(k) => k,
            CallErrorKind::Timeout => "timeout",
            CallErrorKind::Protocol => "protocol",
            CallErrorKind::Exited => "exited",
            CallErrorKind::Start => "start",
        }
    }

    /// The adapter's error kind, when it answered `ok: false`.
    pub fn adapter_kind(&self) -> Option<&str> {
        match &self.kind {
            CallErrorKind::Adapter(k) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CallErrorKind::Adapter(k) => write!(f, "adapter error {k}: {}", self.message)?,
            CallErrorKind::Timeout => write!(f, "timeout: {}", self.message)?,
            CallErrorKind::Protocol => write!(f, "protocol error: {}", self.message)?,
            CallErrorKind::Exited => write!(f, "adapter exited: {}", self.message)?,
            CallErrorKind::Start => write!(f, "adapter did not start: {}", self.message)?,
        }
        if !self.stderr.trim().is_empty() {
            write!(f, "\n  adapter stderr:")?;
            for line in self.stderr.trim_end().lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

enum ReadEvent {
    Line(String),
    Eof,
    TooLong,
    Error(String),
}

/// One running adapter process.
pub struct Adapter {
    name: String,
    child: Child,
    to_stdin: Option<Sender<Vec<u8>>>,
    from_stdout: Receiver<ReadEvent>,
    stderr: Arc<Mutex<StderrTail>>,
    next_id: u64,
    broken: bool,
    /// Its `hello` answer.
    pub hello: Hello,
}

#[derive(Default)]
struct StderrTail {
    buf: Vec<u8>,
    total: usize,
}

impl StderrTail {
    fn push(&mut self, b: &[u8]) {
        self.total += b.len();
        self.buf.extend_from_slice(b);
        if self.buf.len() > STDERR_TAIL {
            let cut = self.buf.len() - STDERR_TAIL;
            self.buf.drain(..cut);
        }
    }

    /// What was written since `total` was `since` (as much as the tail still holds).
    fn since(&self, since: usize) -> String {
        let new = self.total.saturating_sub(since).min(self.buf.len());
        String::from_utf8_lossy(&self.buf[self.buf.len() - new..]).into_owned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read one line of at most `max` bytes (line feed excluded).
fn read_line_bounded(r: &mut impl BufRead, max: usize) -> ReadEvent {
    let mut buf = Vec::new();
    match r.by_ref().take(max as u64 + 1).read_until(b'\n', &mut buf) {
        Err(e) => ReadEvent::Error(e.to_string()),
        Ok(0) => ReadEvent::Eof,
        Ok(_) if buf.ends_with(b"\n") => {
            buf.pop();
            match String::from_utf8(buf) {
                Ok(s) => ReadEvent::Line(s),
                Err(_) => ReadEvent::Error("a response line is not UTF-8".into()),
            }
        }
        Ok(_) if buf.len() > max => ReadEvent::TooLong,
        Ok(_) => ReadEvent::Error("the last output line has no line feed".into()),
    }
}

impl Adapter {
    /// Start `imp`'s adapter from `root`, say `hello`, and (if `check_unknown_op`) check that
    /// an unknown op is answered with `unsupported`.
    pub fn spawn(
        imp: &Implementation,
        root: &Path,
        check_unknown_op: bool,
    ) -> Result<Self, String> {
        imp.check_requires(root)?;
        let (program, args) = imp.resolve_command(root)?;
        let shown = format!("{} {}", program.display(), args.join(" "));
        let mut child = Command::new(&program)
            .args(&args)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("implementation {:?}: cannot run `{shown}`: {e}", imp.name))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "implementation {:?}: no pipes to `{shown}`",
                imp.name
            ));
        };
        let (to_stdin, stdin_rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || writer(stdin, stdin_rx));
        let (tx, from_stdout) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            // Ends at EOF, on an error, or when the receiver is gone.
            loop {
                let ev = read_line_bounded(&mut r, MAX_LINE);
                let last = !matches!(ev, ReadEvent::Line(_));
                if tx.send(ev).is_err() || last {
                    break;
                }
            }
        });
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let tail2 = Arc::clone(&tail);
        thread::spawn(move || {
            let mut stderr = stderr;
            let mut chunk = [0u8; 4096];
            // Ends at EOF or on an error.
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                lock(&tail2).push(&chunk[..n]);
            }
        });
        let mut a = Adapter {
            name: imp.name.clone(),
            child,
            to_stdin: Some(to_stdin),
            from_stdout,
            stderr: tail,
            next_id: 1,
            broken: false,
            hello: Hello {
                name: String::new(),
                version: String::new(),
                protocol: 0,
                spec: String::new(),
                ops: Vec::new(),
            },
        };
        let who = format!("implementation {:?} (`{shown}`)", imp.name);
        let h = a
            .call("hello", json!({}), START_TIMEOUT)
            .map_err(|e| format!("{who}: hello failed: {e}"))?;
        let s = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
        let hello = Hello {
            name: s("name").unwrap_or_default(),
            version: s("version").unwrap_or_default(),
            protocol: h.get("protocol").and_then(Value::as_u64).unwrap_or(0),
            spec: s("spec").unwrap_or_default(),
            ops: h
                .get("ops")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if hello.protocol != PROTOCOL || imp.protocol != PROTOCOL {
            return Err(format!(
                "{who}: speaks protocol {} (impls.toml says {}); this harness speaks {PROTOCOL}",
                hello.protocol, imp.protocol
            ));
        }
        let missing: Vec<&String> = imp.ops.iter().filter(|o| !hello.ops.contains(o)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "{who}: impls.toml declares ops its hello does not list: {missing:?} (hello lists {:?})",
                hello.ops
            ));
        }
        a.hello = hello;
        if check_unknown_op {
            match a.call(UNKNOWN_OP, json!({}), START_TIMEOUT) {
                Err(e) if e.adapter_kind() == Some("unsupported") => {}
                Err(e) => {
                    return Err(format!(
                        "{who}: answered the unknown op {UNKNOWN_OP:?} with {e}; docs/ADAPTER.md requires error kind \"unsupported\""
                    ))
                }
                Ok(v) => {
                    return Err(format!(
                        "{who}: answered the unknown op {UNKNOWN_OP:?} with success {v}; docs/ADAPTER.md requires error kind \"unsupported\""
                    ))
                }
            }
        }
        Ok(a)
    }

    /// Whether the adapter can take more requests.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Send one request and wait at most `timeout` for its answer.
    pub fn call(&mut self, op: &str, args: Value, timeout: Duration) -> Result<Value, CallError> {
        let since = lock(&self.stderr).total;
        let r = self.call_inner(op, args, timeout);
        r.map_err(|mut e| {
            if e.kind != CallErrorKind::Adapter("unsupported".into()) {
                // Let the adapter's last words arrive.
                if matches!(e.kind, CallErrorKind::Exited | CallErrorKind::Adapter(_)) {
                    thread::sleep(Duration::from_millis(20));
                }
                e.stderr = lock(&self.stderr).since(since);
            }
            e
        })
    }

    fn call_inner(&mut self, op: &str, args: Value, timeout: Duration) -> Result<Value, CallError> {
        if self.broken {
            return Err(CallError::new(
                CallErrorKind::Exited,
                "the adapter broke on an earlier request",
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut line = serde_json::to_vec(&json!({"id": id, "op": op, "args": args}))
            .map_err(|e| CallError::new(CallErrorKind::Protocol, e.to_string()))?;
        line.push(b'\n');
        let sent = self
            .to_stdin
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        if !sent {
            self.broken = true;
            return Err(CallError::new(
                CallErrorKind::Exited,
                format!(
                    "cannot write the request: stdin is closed ({})",
                    self.exit_status()
                ),
            ));
        }
        let deadline = Instant::now() + timeout;
        let ev = match self
            .from_stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                return Err(CallError::new(
                    CallErrorKind::Timeout,
                    format!(
                        "{} did not answer `{op}` (request id {id}) within {timeout:?}; killed it",
                        self.name
                    ),
                ));
            }
            Err(RecvTimeoutError::Disconnected) => ReadEvent::Eof,
        };
        let text = match ev {
            ReadEvent::Line(l) => l,
            ReadEvent::Eof => {
                self.broken = true;
                return Err(CallError::new(
                    CallErrorKind::Exited,
                    format!(
                        "stdout closed before the answer to `{op}` ({})",
                        self.exit_status()
                    ),
                ));
            }
            ReadEvent::TooLong => {
                self.kill();
                return Err(CallError::new(
                    CallErrorKind::Protocol,
                    format!("the answer to `{op}` is longer than {MAX_LINE} bytes"),
                ));
            }
            ReadEvent::Error(e) => {
                self.kill();
                return Err(CallError::new(CallErrorKind::Protocol, e));
            }
        };
        let resp: Value = serde_json::from_str(&text).map_err(|e| {
            self.kill();
            CallError::new(
                CallErrorKind::Protocol,
                format!(
                    "the answer to `{op}` is not JSON ({e}): {}",
                    clip(&text, 200)
                ),
            )
        })?;
        if resp.get("id") != Some(&json!(id)) {
            self.kill();
            return Err(CallError::new(
                CallErrorKind::Protocol,
                format!(
                    "expected the answer to request id {id}, found {}",
                    clip(&text, 200)
                ),
            ));
        }
        match resp.get("ok") {
            Some(Value::Bool(true)) => match resp.get("result") {
                Some(r @ Value::Object(_)) => Ok(r.clone()),
                _ => Err(CallError::new(
                    CallErrorKind::Protocol,
                    format!("`ok: true` without a `result` object: {}", clip(&text, 200)),
                )),
            },
            Some(Value::Bool(false)) => {
                let err = resp.get("error");
                let kind = err
                    .and_then(|e| e.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("(no kind)");
                let message = err
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Err(CallError::new(
                    CallErrorKind::Adapter(kind.to_string()),
                    message.to_string(),
                ))
            }
            _ => Err(CallError::new(
                CallErrorKind::Protocol,
                format!("the answer has no boolean `ok`: {}", clip(&text, 200)),
            )),
        }
    }

    fn exit_status(&mut self) -> String {
        // Give a dying process a moment to be reaped; bounded.
        for _ in 0..50 {
            match self.child.try_wait() {
                Ok(Some(s)) => return format!("exit status {s}"),
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => return format!("exit status unknown: {e}"),
            }
        }
        "still running".into()
    }

    fn kill(&mut self) {
        self.broken = true;
        self.to_stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send `shutdown`, wait briefly for the process to exit, kill it otherwise.
    pub fn shutdown(mut self) {
        if !self.broken {
            let _ = self.call_inner("shutdown", json!({}), Duration::from_secs(5));
        }
        self.to_stdin = None;
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn writer(mut stdin: ChildStdin, rx: Receiver<Vec<u8>>) {
    // Ends when the sender is dropped or the pipe breaks.
    while let Ok(line) = rx.recv() {
        if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
            break;
        }
    }
}

/// Cut `s` to at most `n` characters, marking the cut.
pub fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
    }
}

#[derive(Default)]
struct Slot {
    adapter: Option<Adapter>,
    start_error: Option<String>,
    starts: u32,
}

/// The adapters of a run.
pub struct Pool {
    registry: Registry,
    root: PathBuf,
    mode: Mode,
    timeout: Duration,
    slots: BTreeMap<String, Mutex<Slot>>,
    hellos: Mutex<BTreeMap<String, Hello>>,
    spawns: std::sync::atomic::AtomicU64,
}

impl Pool {
    /// A pool for `registry`, running adapters from `root`.
    pub fn new(registry: &Registry, root: &Path, mode: Mode, timeout: Duration) -> Self {
        Pool {
            registry: registry.clone(),
            root: root.to_path_buf(),
            mode,
            timeout,
            slots: registry
                .impls
                .iter()
                .map(|i| (i.name.clone(), Mutex::new(Slot::default())))
                .collect(),
            hellos: Mutex::new(BTreeMap::new()),
            spawns: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// How many adapter processes were started so far.
    pub fn spawn_count(&self) -> u64 {
        self.spawns.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn spawn(&self, imp: &Implementation, check: bool) -> Result<Adapter, String> {
        self.spawns
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let a = Adapter::spawn(imp, &self.root, check)?;
        lock(&self.hellos).insert(imp.name.clone(), a.hello.clone());
        Ok(a)
    }

    /// Start `name`'s adapter if it is not running (persistent mode) and return its hello.
    pub fn start(&self, name: &str) -> Result<Hello, String> {
        let imp = self
            .registry
            .by_name(name)
            .ok_or_else(|| format!("no implementation {name:?}"))?;
        let slot = self
            .slots
            .get(name)
            .ok_or_else(|| format!("no implementation {name:?}"))?;
        match self.mode {
            Mode::PerStep => {
                let a = self.spawn(imp, true)?;
                let h = a.hello.clone();
                a.shutdown();
                Ok(h)
            }
            Mode::Persistent => {
                let mut s = lock(slot);
                self.ensure(imp, &mut s)?;
                s.adapter
                    .as_ref()
                    .map(|a| a.hello.clone())
                    .ok_or_else(|| "adapter not running".to_string())
            }
        }
    }

    fn ensure(&self, imp: &Implementation, s: &mut Slot) -> Result<(), String> {
        if let Some(e) = &s.start_error {
            return Err(e.clone());
        }
        if s.adapter.as_ref().is_some_and(|a| !a.is_broken()) {
            return Ok(());
        }
        if let Some(old) = s.adapter.take() {
            drop(old);
        }
        if s.starts > MAX_RESTARTS {
            let e = format!(
                "implementation {:?}: its adapter broke {} times; not restarting it again",
                imp.name, s.starts
            );
            s.start_error = Some(e.clone());
            return Err(e);
        }
        s.starts += 1;
        match self.spawn(imp, true) {
            Ok(a) => {
                s.adapter = Some(a);
                Ok(())
            }
            Err(e) => {
                s.start_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Send `op` with `args` to implementation `name`.
    pub fn call(&self, name: &str, op: &str, args: Value) -> Result<Value, CallError> {
        let start_err = |m: String| CallError::new(CallErrorKind::Start, m);
        let imp = self
            .registry
            .by_name(name)
            .ok_or_else(|| start_err(format!("no implementation {name:?} in the registry")))?;
        match self.mode {
            Mode::PerStep => {
                let mut a = self.spawn(imp, false).map_err(start_err)?;
                let r = a.call(op, args, self.timeout);
                a.shutdown();
                r
            }
            Mode::Persistent => {
                let slot = self
                    .slots
                    .get(name)
                    .ok_or_else(|| start_err(format!("no implementation {name:?}")))?;
                let mut s = lock(slot);
                self.ensure(imp, &mut s).map_err(start_err)?;
                match s.adapter.as_mut() {
                    Some(a) => a.call(op, args, self.timeout),
                    None => Err(start_err("adapter not running".into())),
                }
            }
        }
    }

    /// The `hello` of every adapter started so far.
    pub fn hellos(&self) -> BTreeMap<String, Hello> {
        lock(&self.hellos).clone()
    }

    /// Shut every running adapter down.
    pub fn shutdown(&self) {
        for slot in self.slots.values() {
            let a = lock(slot).adapter.take();
            if let Some(a) = a {
                a.shutdown();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = BufReader::new(&b"abc\nabcdef\nx"[..]);
        assert!(matches!(read_line_bounded(&mut r, 4), ReadEvent::Line(l) if l == "abc"));
        assert!(matches!(read_line_bounded(&mut r, 4), ReadEvent::TooLong));
        let mut r = BufReader::new(&b"x"[..]);
        assert!(matches!(read_line_bounded(&mut r, 4), ReadEvent::Error(_)));
        let mut r = BufReader::new(&b""[..]);
        assert!(matches!(read_line_bounded(&mut r, 4), ReadEvent::Eof));
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let mut t = StderrTail::default();
        t.push(b"hello ");
        let since = t.total;
        t.push(b"world");
        assert_eq!(t.since(since), "world");
        t.push(&vec![b'x'; STDERR_TAIL + 10]);
        assert_eq!(t.buf.len(), STDERR_TAIL);
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc… (6 bytes)");
    }
}
