//! The shared channel conformance suite (kez-channel-conformance `trials`) with
//! `kez-channel-web` run out of process through `ExternalChannel`: the same cases every
//! built-in channel runs. The peer is a fake web: a map from URL to body behind a `Net`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kez_channel::external::ExternalChannel;
use kez_channel::{
    Channel, FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup,
};
use kez_channel_conformance::{trials, Peer};
use kez_core::Identity;

type Files = Arc<Mutex<HashMap<String, String>>>;

/// Serves the published files; 404 for the rest. `down` refuses every connection.
struct WebNet {
    files: Files,
    down: bool,
}

#[async_trait]
impl Net for WebNet {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        if self.down {
            return Err(FetchError::new(
                FetchErrorKind::Connect,
                request.url,
                "connection refused",
            ));
        }
        let body = self
            .files
            .lock()
            .map_err(|_| FetchError::new(FetchErrorKind::Connect, &request.url, "poisoned"))?
            .get(&request.url)
            .cloned();
        Ok(HttpResponse {
            status: if body.is_some() { 200 } else { 404 },
            url: request.url,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.unwrap_or_default().into_bytes().into(),
            received_at: self.now(),
        })
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "web needs no dns",
        ))
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            query.relays.join(" "),
            "web needs no nostr",
        ))
    }

    fn now(&self) -> u64 {
        1_767_225_600
    }
}

struct WebPeer {
    channel: Arc<dyn Channel>,
    files: Files,
}

#[async_trait]
impl Peer for WebPeer {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }

    fn net(&self) -> Arc<dyn Net> {
        Arc::new(WebNet {
            files: self.files.clone(),
            down: false,
        })
    }

    fn unreachable_net(&self) -> Arc<dyn Net> {
        Arc::new(WebNet {
            files: self.files.clone(),
            down: true,
        })
    }

    async fn account(&mut self, label: &str) -> Result<Identity, String> {
        Identity::parse(&format!("web:{label}.example")).map_err(|e| e.to_string())
    }

    async fn publish(&mut self, publisher: &Identity, text: &str) -> Result<(), String> {
        let url = format!("https://{}/.well-known/kez.txt", publisher.account());
        let mut files = self.files.lock().map_err(|_| "poisoned".to_string())?;
        let file = files.entry(url).or_default();
        file.push_str(text);
        file.push('\n');
        Ok(())
    }

    fn bad_accounts(&self) -> Vec<String> {
        ["localhost", "192.0.2.7", "a..example", "exa mple.com"]
            .map(String::from)
            .to_vec()
    }

    fn normalisations(&self) -> Vec<(String, String)> {
        [
            ("Example.COM.", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec()
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let plugin = Path::new(env!("CARGO_BIN_EXE_kez-channel-web"));
    let trials = trials("web-plugin", move || {
        let channel: Arc<dyn Channel> = match ExternalChannel::spawn(plugin) {
            Ok(channel) => Arc::new(channel),
            // Inside a trial: libtest-mimic reports the panic as that case's failure.
            Err(e) => panic!("cannot start kez-channel-web: {e}"),
        };
        Box::new(WebPeer {
            channel,
            files: Files::default(),
        })
    });
    libtest_mimic::run(&args, trials).exit();
}
