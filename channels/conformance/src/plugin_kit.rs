//! The conformance kit for out-of-process channel plugins (docs/CHANNEL-PLUGINS.md).
//!
//! The kit plays the host against a plugin executable, at the level of the protocol's
//! messages, and checks what the plugin writes. What it checks beyond the protocol itself
//! comes from a small case file the plugin's author writes (TOML, or JSON by extension):
//!
//! ```toml
//! [plugin]
//! id = "web"                      # optional: the id hello must give
//!
//! [[normalise]]                   # accounts and their canonical form
//! account = "Example.COM."
//! canonical = "example.com"
//!
//! [[invalid]]                     # accounts normalise must refuse
//! account = "not a domain"
//!
//! [[lookup]]                      # a lookup replayed against scripted I/O
//! name = "finds_the_proof"
//! identity = "web:example.com"
//! now = 1767225600                # optional
//! expect = { found = [{ proof = { location = "https://example.com/.well-known/kez.txt", content = "kez:z1:abc" } }] }
//! [[lookup.io]]
//! need = { http = { url = "https://example.com/.well-known/kez.txt", accept = "text/plain" } }
//! response = { status = 200, body = "kez:z1:abc\n" }
//! ```
//!
//! Every `need` the plugin sends is matched against the scripted `io` steps of its case, in
//! any order, each step used once; an unscripted need, or a scripted one never asked for,
//! fails the case. An HTTP `response` may leave out `url` (the request's), `headers` (none)
//! and `received_at` (the case's `now`); `response = { error = { kind, target, detail } }`
//! scripts a failed fetch. `expect` holds either `found` (and optionally `notes`), compared
//! exactly, or `error` (an error kind such as `"no_such_account"`).
//!
//! [`plugin_trials`] turns a plugin and a case file into libtest-mimic trials; the binary
//! `kez-channel-conformance` runs them. Every case starts its own plugin process.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use kez_channel::external::wire::{
    self, ErrorKind, Hello, Need, Reply, Request, WireFound, MAX_IO_ROUNDS, MAX_LINE_BYTES,
};
use kez_channel::Found;
use libtest_mimic::{Failed, Trial};
use serde::Deserialize;
use serde_json::{json, Value};

/// The time a lookup case passes as `now` when it gives none: 2026-01-01T00:00:00Z.
pub const DEFAULT_NOW: u64 = 1_767_225_600;

/// How long the kit waits for each message from the plugin, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A plugin's case file, checked when loaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cases {
    /// What `hello` must say.
    #[serde(default)]
    pub plugin: PluginExpect,
    /// Accounts and their canonical forms.
    #[serde(default)]
    pub normalise: Vec<NormaliseCase>,
    /// Accounts the plugin must refuse.
    #[serde(default)]
    pub invalid: Vec<InvalidCase>,
    /// Lookups replayed against scripted I/O.
    #[serde(default)]
    pub lookup: Vec<LookupCase>,
}

/// The `[plugin]` table: expectations about `hello`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginExpect {
    /// The channel id `hello` must give.
    pub id: Option<String>,
    /// The aliases `hello` must give, in order.
    pub aliases: Option<Vec<String>>,
}

/// A `[[normalise]]` case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormaliseCase {
    /// The account as a user might write it.
    pub account: String,
    /// Its canonical form.
    pub canonical: String,
}

/// An `[[invalid]]` case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidCase {
    /// An account text the channel must refuse with `invalid_account`.
    pub account: String,
}

/// A `[[lookup]]` case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupCase {
    /// The case's name: letters, digits, `_` and `-`.
    pub name: String,
    /// The identity looked up.
    pub identity: String,
    /// The `now` sent with the lookup.
    #[serde(default)]
    pub now: Option<u64>,
    /// The scripted I/O.
    #[serde(default)]
    pub io: Vec<IoStep>,
    /// What the lookup must end with.
    pub expect: Expect,
}

/// One scripted exchange: the need the plugin must send and the host's response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoStep {
    /// The need, as on the wire: `{ http = { url = … } }`, `{ dns_txt = { name = … } }`.
    pub need: Need,
    /// The response's body (the value of `response` on the wire).
    pub response: Value,
}

/// The end of a lookup case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The found items, exactly.
    pub found: Option<Vec<WireFound>>,
    /// The notes, exactly, if given.
    pub notes: Option<Vec<String>>,
    /// The error kind (`no_such_account`, `conflict`, `unreachable`).
    pub error: Option<ErrorKind>,
}

impl Cases {
    /// Loads and checks a case file: TOML, or JSON if the name ends in `.json`.
    pub fn load(path: &Path) -> Result<Cases, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let cases: Cases = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        };
        cases
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(cases)
    }

    fn check(&self) -> Result<(), String> {
        if self.normalise.is_empty() {
            return Err("list at least one [[normalise]] case".into());
        }
        if self.invalid.is_empty() {
            return Err("list at least one [[invalid]] case".into());
        }
        if !self.lookup.iter().any(|case| !case.io.is_empty()) {
            return Err("list at least one [[lookup]] case with scripted [[lookup.io]]".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for case in &self.lookup {
            let valid = !case.name.is_empty()
                && case
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(format!(
                    "lookup name {:?} must be letters, digits, _ and -",
                    case.name
                ));
            }
            if !names.insert(case.name.as_str()) {
                return Err(format!("lookup name {:?} is used twice", case.name));
            }
            if case.expect.found.is_some() == case.expect.error.is_some() {
                return Err(format!(
                    "lookup {}: expect needs exactly one of found and error",
                    case.name
                ));
            }
            for (at, step) in case.io.iter().enumerate() {
                let line = step.response_line(case.now())?;
                let _outcome = wire::parse_response(&step.need, &line)
                    .map_err(|e| format!("lookup {} io {}: {e}", case.name, at + 1))?;
            }
        }
        Ok(())
    }
}

impl LookupCase {
    fn now(&self) -> u64 {
        self.now.unwrap_or(DEFAULT_NOW)
    }
}

impl IoStep {
    /// The scripted response as a protocol line, with the defaults filled in.
    fn response_line(&self, now: u64) -> Result<String, String> {
        let mut response = self.response.clone();
        let Some(object) = response.as_object_mut() else {
            return Err("a response must be a table".into());
        };
        if let (Need::Http(request), false) = (&self.need, object.contains_key("error")) {
            object
                .entry("url")
                .or_insert_with(|| json!(request.url.clone()));
            object.entry("headers").or_insert_with(|| json!([]));
            object.entry("received_at").or_insert_with(|| json!(now));
        }
        Ok(json!({ "response": response }).to_string())
    }
}

/// The kit's trials for the plugin at `plugin`, waiting at most `timeout` for each message.
pub fn plugin_trials(plugin: &Path, cases: &Cases, timeout: Duration) -> Vec<Trial> {
    let kit = Arc::new(Kit {
        plugin: plugin.to_path_buf(),
        cases: cases.clone(),
        timeout,
    });
    let mut trials = Vec::new();
    let mut add = |name: String, run: CaseRun| {
        let kit = kit.clone();
        trials.push(Trial::test(name, move || run(&kit).map_err(Failed::from)));
    };
    add("protocol::hello".into(), Box::new(|kit| kit.hello_case()));
    add(
        "protocol::unknown_op_is_unsupported".into(),
        Box::new(|kit| {
            kit.survives(
                r#"{"op":"kez-conformance-unknown-op","n":1}"#,
                ErrorKind::Unsupported,
            )
        }),
    );
    add(
        "protocol::not_json_is_bad_message".into(),
        Box::new(|kit| kit.survives("this is not json {", ErrorKind::BadMessage)),
    );
    add(
        "protocol::wrong_members_are_bad_message".into(),
        Box::new(|kit| kit.survives(r#"{"op":"normalise","acount":"x"}"#, ErrorKind::BadMessage)),
    );
    add(
        "protocol::response_outside_lookup_is_bad_message".into(),
        Box::new(|kit| {
            kit.survives(
                r#"{"response":{"status":200,"body":""}}"#,
                ErrorKind::BadMessage,
            )
        }),
    );
    add(
        "protocol::exits_when_stdin_closes".into(),
        Box::new(|kit| kit.exits_case()),
    );
    for (at, case) in cases.normalise.iter().enumerate() {
        let case = case.clone();
        add(
            format!("normalise::{}", at + 1),
            Box::new(move |kit| kit.normalise_case(&case)),
        );
    }
    for (at, case) in cases.invalid.iter().enumerate() {
        let case = case.clone();
        add(
            format!("invalid_account::{}", at + 1),
            Box::new(move |kit| kit.invalid_case(&case)),
        );
    }
    for case in &cases.lookup {
        let case = case.clone();
        add(
            format!("lookup::{}", case.name),
            Box::new(move |kit| kit.lookup_case(&case)),
        );
    }
    if let Some(case) = cases.lookup.iter().find(|case| !case.io.is_empty()) {
        for (name, reply) in [
            ("not_json", "{\"response\": this is not json".to_string()),
            (
                "wrong_shape",
                r#"{"response":{"unexpected":true}}"#.to_string(),
            ),
            ("not_an_object", r#"{"response":[1,2,3]}"#.to_string()),
        ] {
            let case = case.clone();
            add(
                format!("malformed_response::{name}"),
                Box::new(move |kit| kit.malformed_case(&case, &reply)),
            );
        }
    }
    if let Some(case) = cases.lookup.iter().find(|case| {
        matches!(
            case.io.first(),
            Some(IoStep {
                need: Need::Http(_),
                ..
            })
        )
    }) {
        let case = case.clone();
        add(
            "malformed_response::bad_base64".into(),
            Box::new(move |kit| {
                let url = match case.io.first() {
                    Some(IoStep {
                        need: Need::Http(request),
                        ..
                    }) => request.url.clone(),
                    _ => String::new(),
                };
                let reply = json!({"response": {"url": url, "status": 200, "headers": [],
                    "body_base64": "!!! not base64 !!!", "received_at": case.now()}});
                kit.malformed_case(&case, &reply.to_string())
            }),
        );
    }
    trials
}

/// The body of one kit case.
type CaseRun = Box<dyn FnOnce(&Kit) -> Result<(), String> + Send>;

struct Kit {
    plugin: PathBuf,
    cases: Cases,
    timeout: Duration,
}

impl Kit {
    fn start(&self) -> Result<Plugin, String> {
        Plugin::spawn(&self.plugin, self.timeout)
    }

    fn hello_case(&self) -> Result<(), String> {
        let mut plugin = self.start()?;
        let hello = plugin.hello()?;
        let names: Vec<&String> = std::iter::once(&hello.id).chain(&hello.aliases).collect();
        for name in &names {
            let valid = name.len() <= 32
                && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(format!(
                    "hello names {name:?}, which is not a scheme (a-z, then up to 31 of a-z, 0-9, -)"
                ));
            }
        }
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != names.len() {
            return Err(format!("hello repeats a name: {names:?}"));
        }
        if let Some(id) = &self.cases.plugin.id {
            if &hello.id != id {
                return Err(format!("hello gives id {:?}, expected {id:?}", hello.id));
            }
        }
        if let Some(aliases) = &self.cases.plugin.aliases {
            if &hello.aliases != aliases {
                return Err(format!(
                    "hello gives aliases {:?}, expected {aliases:?}",
                    hello.aliases
                ));
            }
        }
        Ok(())
    }

    /// Sends `line`, expects an error of `kind`, then checks the plugin still answers.
    fn survives(&self, line: &str, kind: ErrorKind) -> Result<(), String> {
        let mut plugin = self.start()?;
        plugin.hello()?;
        plugin.send(line)?;
        expect_error(plugin.receive("the message")?, kind, "the message")?;
        plugin
            .hello()
            .map_err(|e| format!("after answering {}: {e}", kind.name()))?;
        Ok(())
    }

    fn exits_case(&self) -> Result<(), String> {
        let mut plugin = self.start()?;
        plugin.hello()?;
        plugin.stdin = None;
        let deadline = Instant::now() + self.timeout;
        loop {
            match plugin.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    return Err(format!(
                        "still running {} s after its stdin closed",
                        self.timeout.as_secs()
                    ))
                }
                Err(e) => return Err(format!("cannot wait for the plugin: {e}")),
            }
        }
    }

    fn normalise(&self, plugin: &mut Plugin, account: &str) -> Result<Reply, String> {
        plugin.send(
            &Request::Normalise {
                account: account.to_string(),
            }
            .to_line(),
        )?;
        plugin.receive(&format!("normalise {account:?}"))
    }

    fn normalise_case(&self, case: &NormaliseCase) -> Result<(), String> {
        let mut plugin = self.start()?;
        plugin.hello()?;
        for input in [&case.account, &case.canonical] {
            match self.normalise(&mut plugin, input)? {
                Reply::Account(got) if got == case.canonical => {}
                Reply::Account(got) => {
                    return Err(format!(
                        "normalise {input:?} gave {got:?}, expected {:?}",
                        case.canonical
                    ))
                }
                other => {
                    return Err(format!(
                        "normalise {input:?} answered {}, expected account {:?}",
                        describe(&other),
                        case.canonical
                    ))
                }
            }
        }
        Ok(())
    }

    fn invalid_case(&self, case: &InvalidCase) -> Result<(), String> {
        let mut plugin = self.start()?;
        plugin.hello()?;
        let what = format!("normalise {:?}", case.account);
        let error = expect_error(
            self.normalise(&mut plugin, &case.account)?,
            ErrorKind::InvalidAccount,
            &what,
        )?;
        if error.message.as_deref().is_none_or(str::is_empty) {
            return Err(format!("{what}: invalid_account has no message"));
        }
        Ok(())
    }

    fn start_lookup(&self, case: &LookupCase) -> Result<Plugin, String> {
        let mut plugin = self.start()?;
        plugin.hello()?;
        plugin.send(
            &Request::Lookup {
                identity: case.identity.clone(),
                now: case.now(),
            }
            .to_line(),
        )?;
        Ok(plugin)
    }

    fn lookup_case(&self, case: &LookupCase) -> Result<(), String> {
        let mut plugin = self.start_lookup(case)?;
        let what = format!("lookup of {}", case.identity);
        let mut used = vec![false; case.io.len()];
        let mut rounds = 0;
        let end = loop {
            let need = match plugin.receive(&what)? {
                Reply::Need(need) => need,
                Reply::Found(lookup) => break Ok(lookup),
                Reply::Error(error) => break Err(error),
                other => return Err(format!("{what} answered {}", describe(&other))),
            };
            rounds += 1;
            if rounds > MAX_IO_ROUNDS {
                return Err(format!(
                    "{what} asked for more than {MAX_IO_ROUNDS} i/o rounds"
                ));
            }
            let step = case
                .io
                .iter()
                .enumerate()
                .position(|(at, step)| !used[at] && step.need == need);
            let Some(at) = step else {
                let scripted: Vec<String> = case
                    .io
                    .iter()
                    .enumerate()
                    .filter(|(at, _)| !used[*at])
                    .map(|(_, step)| json!(step.need).to_string())
                    .collect();
                return Err(format!(
                    "{what} asked for unscripted i/o {}; still scripted: [{}]",
                    json!(need),
                    scripted.join(", ")
                ));
            };
            used[at] = true;
            plugin.send(&case.io[at].response_line(case.now())?)?;
        };
        let unused: Vec<String> = case
            .io
            .iter()
            .enumerate()
            .filter(|(at, _)| !used[*at])
            .map(|(_, step)| json!(step.need).to_string())
            .collect();
        if !unused.is_empty() {
            return Err(format!(
                "{what} ended without asking for scripted i/o: [{}]",
                unused.join(", ")
            ));
        }
        match (end, &case.expect) {
            (
                Ok(lookup),
                Expect {
                    found: Some(found),
                    notes,
                    ..
                },
            ) => {
                let expected: Vec<Found> = found.iter().cloned().map(Found::from).collect();
                if lookup.found != expected {
                    return Err(format!(
                        "{what} found {}, expected {}",
                        found_json(&lookup.found),
                        found_json(&expected)
                    ));
                }
                if let Some(notes) = notes {
                    if &lookup.notes != notes {
                        return Err(format!(
                            "{what} noted {:?}, expected {notes:?}",
                            lookup.notes
                        ));
                    }
                }
                Ok(())
            }
            (
                Err(error),
                Expect {
                    error: Some(kind), ..
                },
            ) if error.kind == *kind => Ok(()),
            (
                Ok(lookup),
                Expect {
                    error: Some(kind), ..
                },
            ) => Err(format!(
                "{what} found {}, expected error {}",
                found_json(&lookup.found),
                kind.name()
            )),
            (Err(error), expect) => Err(format!(
                "{what} ended with error {} ({}), expected {}",
                error.kind.name(),
                error.message.unwrap_or_default(),
                match expect.error {
                    Some(kind) => format!("error {}", kind.name()),
                    None => "found items".into(),
                }
            )),
            (Ok(_), _) => Err("the case expects nothing".into()),
        }
    }

    fn malformed_case(&self, case: &LookupCase, reply: &str) -> Result<(), String> {
        let mut plugin = self.start_lookup(case)?;
        let what = format!("lookup of {}", case.identity);
        match plugin.receive(&what)? {
            Reply::Need(_) => {}
            other => {
                return Err(format!(
                    "{what} answered {}, expected a need (the case scripts i/o)",
                    describe(&other)
                ))
            }
        }
        plugin.send(reply)?;
        let what = format!("{what} after a malformed response");
        expect_error(plugin.receive(&what)?, ErrorKind::BadMessage, &what)?;
        plugin
            .hello()
            .map_err(|e| format!("after answering bad_message: {e}"))?;
        Ok(())
    }
}

fn expect_error(reply: Reply, kind: ErrorKind, what: &str) -> Result<wire::PluginError, String> {
    match reply {
        Reply::Error(error) if error.kind == kind => Ok(error),
        other => Err(format!(
            "{what} was answered {}, expected error {}",
            describe(&other),
            kind.name()
        )),
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Error(error) => format!(
            "with error {} ({})",
            error.kind.name(),
            error.message.as_deref().unwrap_or("")
        ),
        other => format!("with {}", other.to_line()),
    }
}

fn found_json(found: &[Found]) -> String {
    let wire: Vec<WireFound> = found.iter().cloned().map(WireFound::from).collect();
    json!(wire).to_string()
}

/// A running plugin, spoken to directly.
struct Plugin {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Result<String, String>>,
    timeout: Duration,
}

impl Plugin {
    fn spawn(path: &Path, timeout: Duration) -> Result<Plugin, String> {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the plugin started without pipes".into());
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, &tx));
        Ok(Plugin {
            child,
            stdin: Some(stdin),
            lines,
            timeout,
        })
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err("stdin is closed".into());
        };
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("the plugin stopped reading its stdin: {e}"))
    }

    fn receive(&mut self, what: &str) -> Result<Reply, String> {
        let line = match self.lines.recv_timeout(self.timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(problem)) => return Err(format!("answering {what}, the plugin {problem}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "the plugin did not answer {what} within {} s",
                    self.timeout.as_secs()
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!(
                    "the plugin closed its stdout before answering {what}"
                ))
            }
        };
        Reply::parse(&line)
            .map_err(|e| format!("the plugin answered {what} with an invalid message: {e}"))
    }

    fn hello(&mut self) -> Result<Hello, String> {
        self.send(
            &Request::Hello {
                kez_channel: wire::PROTOCOL_VERSION,
            }
            .to_line(),
        )?;
        match self.receive("hello")? {
            Reply::Hello(hello) if hello.kez_channel == wire::PROTOCOL_VERSION => Ok(hello),
            Reply::Hello(hello) => Err(format!(
                "hello gives protocol version {}, expected {}",
                hello.kez_channel,
                wire::PROTOCOL_VERSION
            )),
            other => Err(format!("hello was answered {}", describe(&other))),
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stdout` (at most [`MAX_LINE_BYTES`]) until it ends or breaks.
fn read_lines(stdout: impl Read, lines: &mpsc::Sender<Result<String, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) => {
                let _ = lines.send(Err("closed its stdout (exited)".into()));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = lines.send(Err(format!("stdout failed: {e}")));
                return;
            }
        }
        if line.last() != Some(&b'\n') {
            let problem = if line.len() > MAX_LINE_BYTES {
                format!("wrote a line longer than {MAX_LINE_BYTES} bytes")
            } else {
                "ended its output without a newline".into()
            };
            let _ = lines.send(Err(problem));
            return;
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let sent = match String::from_utf8(line) {
            Ok(text) => lines.send(Ok(text)),
            Err(_) => lines.send(Err("wrote a line that is not UTF-8".into())),
        };
        if sent.is_err() {
            return;
        }
    }
}
