//! `ExternalChannel` against small shell-script plugins: ones that follow the protocol just
//! enough, and broken ones (garbage, early exits, silence, lies). Every failure must be a
//! clear error naming the plugin, within the configured timeout, and never a panic.
//!
//! The real plugin `kez-channel-web` is driven in channels/plugin-web/tests.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kez_channel::external::{ExternalChannel, ExternalOptions, SpawnError};
use kez_channel::{
    Channel, ChannelError, FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery,
    TxtLookup,
};
use kez_core::Identity;

/// Writing a script and executing it while another thread forks can fail with ETXTBSY;
/// every test writes and starts its plugin under this lock.
static SPAWN: Mutex<()> = Mutex::new(());

struct Plugin {
    // Keeps the script's directory alive.
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn options(timeout: Duration) -> ExternalOptions {
    let mut options = ExternalOptions::default();
    options.hello_timeout = timeout;
    options.message_timeout = timeout;
    options.normalise_timeout = timeout * 2;
    options.lookup_timeout = timeout * 4;
    options
}

/// Writes `body` as `kez-channel-<name>` (a /bin/sh script) and starts it.
fn start(
    name: &str,
    body: &str,
    options: ExternalOptions,
) -> (Plugin, Result<ExternalChannel, SpawnError>) {
    let _guard = SPAWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("kez-channel-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let channel = ExternalChannel::spawn_with(&path, options);
    (Plugin { _dir: dir, path }, channel)
}

const HELLO: &str = r#"read line; echo '{"kez_channel":1,"id":"demo","aliases":["demo-alias"]}'
"#;

/// A plugin that knows just enough: normalise lowercases `Alice`, refuses the rest;
/// lookup asks for one URL and reports a proof if the response says status 200.
const DEMO: &str = r#"read line; echo '{"kez_channel":1,"id":"demo","aliases":["demo-alias"]}'
while IFS= read -r line; do
  case "$line" in
    *'"op":"normalise"'*'"account":"Alice"'*|*'"op":"normalise"'*'"account":"alice"'*) echo '{"account":"alice"}' ;;
    *'"op":"normalise"'*) echo '{"error":{"kind":"invalid_account","message":"only alice here"}}' ;;
    *'"op":"lookup"'*) echo '{"need":{"http":{"url":"https://demo.example/alice"}}}' ;;
    *'"response"'*'"status":200'*) echo '{"found":[{"proof":{"location":"https://demo.example/alice","content":"kez:z1:demo","published_at":5}}],"notes":["one"]}' ;;
    *'"response"'*'"error"'*) echo '{"error":{"kind":"unreachable","message":"fetch failed","fetch":{"kind":"connect","target":"https://demo.example/alice","detail":"refused"}}}' ;;
    *'"response"'*) echo '{"found":[],"notes":[]}' ;;
    *) echo '{"error":{"kind":"unsupported","message":"?"}}' ;;
  esac
done
"#;

/// A `Net` that answers every HTTP request with one status, or one error.
struct FakeNet {
    answer: Result<u16, FetchErrorKind>,
    calls: Mutex<Vec<String>>,
}

impl FakeNet {
    fn status(status: u16) -> Self {
        Self {
            answer: Ok(status),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn failing(kind: FetchErrorKind) -> Self {
        Self {
            answer: Err(kind),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }
}

#[async_trait]
impl Net for FakeNet {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        self.calls.lock().expect("calls").push(request.url.clone());
        match self.answer {
            Ok(status) => Ok(HttpResponse {
                url: request.url,
                status,
                headers: Vec::new(),
                body: b"kez:z1:demo".to_vec().into(),
                received_at: 1,
            }),
            Err(kind) => Err(FetchError::new(kind, request.url, "fake failure")),
        }
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "no dns here",
        ))
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            query.relays.join(" "),
            "no nostr here",
        ))
    }

    fn now(&self) -> u64 {
        1_767_225_600
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn identity(text: &str) -> Identity {
    Identity::parse(text).expect("identity")
}

/// The lookup's error, which must be `Unreachable` naming the plugin.
fn plugin_failure(result: Result<kez_channel::Lookup, ChannelError>) -> FetchError {
    match result {
        Err(ChannelError::Unreachable(error)) => {
            assert!(
                error.target.starts_with("plugin kez-channel-"),
                "target names the plugin: {error:?}"
            );
            error
        }
        other => panic!("expected unreachable naming the plugin, got {other:?}"),
    }
}

#[test]
fn a_working_plugin_looks_up_through_the_hosts_net() {
    let (_plugin, channel) = start("demo", DEMO, options(Duration::from_secs(10)));
    let channel = channel.expect("demo plugin starts");
    assert_eq!(channel.id(), "demo");
    assert_eq!(channel.aliases(), ["demo-alias"]);
    let net = FakeNet::status(200);
    let lookup = runtime()
        .block_on(channel.lookup(&identity("demo:alice"), &net))
        .expect("lookup");
    assert_eq!(net.calls(), ["https://demo.example/alice"]);
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].content, "kez:z1:demo");
    assert_eq!(proofs[0].published_at, Some(5));
    assert_eq!(lookup.notes, ["one"]);

    let empty = runtime()
        .block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(404)))
        .expect("lookup");
    assert!(empty.found.is_empty());
}

#[test]
fn normalise_answers_are_the_plugins_and_are_cached() {
    let (plugin, channel) = start("demo", DEMO, options(Duration::from_secs(10)));
    let channel = channel.expect("demo plugin starts");
    assert_eq!(channel.normalise("Alice").expect("valid"), "alice");
    let error = channel.normalise("bob").expect_err("invalid");
    assert_eq!(error.0, "only alice here");
    // Replace the script: a cached answer does not reach the plugin, a new account does,
    // and the running process is still the old script.
    std::fs::remove_file(&plugin.path).expect("remove script");
    assert_eq!(channel.normalise("Alice").expect("cached"), "alice");
    assert_eq!(channel.normalise("alice").expect("asked"), "alice");
}

#[test]
fn a_failed_fetch_comes_back_as_the_plugins_unreachable() {
    let (_plugin, channel) = start("demo", DEMO, options(Duration::from_secs(10)));
    let channel = channel.expect("demo plugin starts");
    let net = FakeNet::failing(FetchErrorKind::Connect);
    match runtime().block_on(channel.lookup(&identity("demo:alice"), &net)) {
        Err(ChannelError::Unreachable(error)) => {
            assert_eq!(error.kind, FetchErrorKind::Connect);
            assert_eq!(error.target, "https://demo.example/alice");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[test]
fn not_recorded_wins_whatever_the_plugin_answers() {
    // The demo plugin turns every failed fetch into `unreachable`; replay must still fail
    // loudly with not_recorded.
    let (_plugin, channel) = start("demo", DEMO, options(Duration::from_secs(10)));
    let channel = channel.expect("demo plugin starts");
    let net = FakeNet::failing(FetchErrorKind::NotRecorded);
    match runtime().block_on(channel.lookup(&identity("demo:alice"), &net)) {
        Err(ChannelError::NotRecorded(error)) => {
            assert_eq!(error.target, "https://demo.example/alice")
        }
        other => panic!("expected not_recorded, got {other:?}"),
    }
    // The plugin is still in step afterwards.
    let lookup = runtime()
        .block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200)))
        .expect("lookup");
    assert_eq!(lookup.proofs().count(), 1);
}

#[test]
fn concurrent_lookups_take_turns_on_one_process() {
    let (_plugin, channel) = start("demo", DEMO, options(Duration::from_secs(10)));
    let channel = Arc::new(channel.expect("demo plugin starts"));
    let net = Arc::new(FakeNet::status(200));
    let results = runtime().block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (channel, net) = (channel.clone(), net.clone());
            tasks.push(tokio::spawn(async move {
                channel.lookup(&identity("demo:alice"), net.as_ref()).await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        results
    });
    for result in results {
        assert_eq!(result.expect("lookup").proofs().count(), 1);
    }
    assert_eq!(net.calls().len(), 8);
    // Normalise works from inside a runtime too, between lookups.
    let channel2 = channel.clone();
    let answer = runtime()
        .block_on(
            async move { tokio::task::spawn_blocking(move || channel2.normalise("Alice")).await },
        )
        .expect("task");
    assert_eq!(answer.expect("valid"), "alice");
}

#[test]
fn garbage_instead_of_hello_is_a_clear_spawn_error() {
    let (_plugin, channel) = start(
        "garbage",
        "read line; echo 'this is not json'; cat >/dev/null\n",
        options(Duration::from_secs(10)),
    );
    match channel {
        Err(SpawnError::Plugin { plugin, detail }) => {
            assert_eq!(plugin, "kez-channel-garbage");
            assert!(
                detail.contains("answered hello with an invalid message: not JSON"),
                "{detail}"
            );
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn exiting_before_hello_is_a_clear_spawn_error() {
    let (_plugin, channel) = start("quitter", "exit 3\n", options(Duration::from_secs(10)));
    match channel {
        Err(SpawnError::Plugin { detail, .. }) => {
            assert!(
                detail.contains("exited (status 3) before answering hello")
                    || detail.contains("before reading hello"),
                "{detail}"
            );
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn silence_at_hello_times_out() {
    let started = Instant::now();
    let (_plugin, channel) = start(
        "mute",
        "cat >/dev/null\n",
        options(Duration::from_millis(500)),
    );
    match channel {
        Err(SpawnError::Plugin { detail, .. }) => {
            assert!(detail.contains("did not answer hello within"), "{detail}")
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_wrong_protocol_version_or_channel_name_is_refused() {
    let (_plugin, channel) = start(
        "future",
        r#"read line; echo '{"kez_channel":2,"id":"future"}'; cat >/dev/null
"#,
        options(Duration::from_secs(10)),
    );
    let error = channel.expect_err("version 2 refused").to_string();
    assert!(
        error.contains("speaks protocol version kez_channel 2"),
        "{error}"
    );

    let (_plugin, channel) = start(
        "shouty",
        r#"read line; echo '{"kez_channel":1,"id":"SHOUTY"}'; cat >/dev/null
"#,
        options(Duration::from_secs(10)),
    );
    let error = channel.expect_err("bad id refused").to_string();
    assert!(
        error.contains("\"SHOUTY\", which is not a scheme"),
        "{error}"
    );
}

#[test]
fn silence_during_a_lookup_times_out_and_the_plugin_stays_failed() {
    let (_plugin, channel) = start(
        "stuck",
        &format!("{HELLO}cat >/dev/null\n"),
        options(Duration::from_millis(500)),
    );
    let channel = channel.expect("hello answered");
    let started = Instant::now();
    let error = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.kind, FetchErrorKind::Timeout);
    assert!(
        error
            .detail
            .contains("did not answer lookup of demo:alice within"),
        "{error}"
    );
    // Every later call fails at once with the same story.
    let started = Instant::now();
    let again = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert!(again.detail.contains("is unusable"), "{again}");
    assert!(again.detail.contains("did not answer lookup"), "{again}");
    let normalise = channel.normalise("x").expect_err("unusable");
    assert!(normalise.0.contains("kez-channel-stuck"), "{normalise}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn exiting_during_a_lookup_is_reported_with_its_status() {
    let (_plugin, channel) = start(
        "crash",
        &format!("{HELLO}read line; exit 7\n"),
        options(Duration::from_secs(10)),
    );
    let channel = channel.expect("hello answered");
    let error = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert!(
        error
            .detail
            .contains("exited (status 7) before answering lookup of demo:alice"),
        "{error}"
    );
}

#[test]
fn garbage_during_a_lookup_is_a_clear_error() {
    let (_plugin, channel) = start(
        "babble",
        &format!("{HELLO}read line; echo '{{\"found\": oops'; cat >/dev/null\n"),
        options(Duration::from_secs(10)),
    );
    let channel = channel.expect("hello answered");
    let error = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert_eq!(error.kind, FetchErrorKind::BadAnswer);
    assert!(
        error
            .detail
            .contains("answered lookup of demo:alice with an invalid message: not JSON"),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!("plugin kez-channel-babble: {}", error.detail)
    );
}

#[test]
fn the_wrong_message_is_a_clear_error() {
    let (_plugin, channel) = start(
        "confused",
        &format!("{HELLO}read line; echo '{{\"account\":\"x\"}}'; cat >/dev/null\n"),
        options(Duration::from_secs(10)),
    );
    let channel = channel.expect("hello answered");
    let error = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert!(
        error
            .detail
            .contains("answered lookup of demo:alice with a account message"),
        "{error}"
    );
}

#[test]
fn endless_io_requests_stop_at_the_round_limit() {
    let mut options = options(Duration::from_secs(10));
    options.max_io_rounds = 3;
    let (_plugin, channel) = start(
        "greedy",
        &format!(
            "{HELLO}while read line; do echo '{{\"need\":{{\"http\":{{\"url\":\"https://demo.example/more\"}}}}}}'; done\n"
        ),
        options,
    );
    let channel = channel.expect("hello answered");
    let net = FakeNet::status(200);
    let error = plugin_failure(runtime().block_on(channel.lookup(&identity("demo:alice"), &net)));
    assert!(
        error.detail.contains("asked for more than 3 i/o rounds"),
        "{error}"
    );
    assert_eq!(net.calls().len(), 3);
}

#[test]
fn an_over_long_line_is_refused() {
    let mut options = options(Duration::from_secs(10));
    options.max_line_bytes = 1000;
    let (_plugin, channel) = start(
        "verbose",
        &format!(
            "{HELLO}read line; i=0; s=x; while [ $i -lt 12 ]; do s=$s$s; i=$((i+1)); done; echo \"$s\"; cat >/dev/null\n"
        ),
        options,
    );
    let channel = channel.expect("hello answered");
    let error = plugin_failure(
        runtime().block_on(channel.lookup(&identity("demo:alice"), &FakeNet::status(200))),
    );
    assert!(
        error.detail.contains("wrote a line longer than 1000 bytes"),
        "{error}"
    );
}

#[test]
fn a_line_nobody_asked_for_breaks_the_plugin() {
    let (_plugin, channel) = start(
        "chatty",
        r#"read line; echo '{"kez_channel":1,"id":"chatty"}'; echo '{"account":"surprise"}'; cat >/dev/null
"#,
        options(Duration::from_secs(10)),
    );
    let channel = channel.expect("hello answered");
    // The unsolicited line is noticed while idle, or at the latest before the next request
    // is written, so it is never taken for the answer. Give the plugin a moment to write it.
    std::thread::sleep(Duration::from_millis(300));
    let error = channel.normalise("x").expect_err("the plugin is broken");
    assert!(
        error
            .0
            .contains("wrote a line while no request was pending"),
        "{error}"
    );
    let again = channel.normalise("y").expect_err("still broken");
    assert!(again.0.contains("is unusable"), "{again}");
    assert!(error.0.contains("kez-channel-chatty"), "{error}");
}
