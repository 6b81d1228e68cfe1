//! A sigchain HTTP source on 127.0.0.1 (SPEC.md §11.10-1): `GET /v1/chains/{key}.jsonl`
//! answers the chain stored for that key, 404 otherwise. Served by wiremock, a real HTTP
//! server, so tests exercise the network layer end to end.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A running sigchain source.
pub struct ChainSource {
    server: MockServer,
}

impl std::fmt::Debug for ChainSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSource")
            .field("uri", &self.server.uri())
            .finish()
    }
}

impl ChainSource {
    /// Starts an empty source on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn base(&self) -> String {
        self.server.uri()
    }

    /// Serves `jsonl` as the chain of `key` (its key text, `ed25519:<hex>`).
    pub async fn put(&self, key: &str, jsonl: impl AsRef<[u8]>) {
        Mock::given(method("GET"))
            .and(path(format!("/v1/chains/{key}.jsonl")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/jsonl")
                    .set_body_bytes(jsonl.as_ref()),
            )
            .mount(&self.server)
            .await;
    }

    /// Makes every request for `key`'s chain fail with a 503.
    pub async fn fail(&self, key: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/v1/chains/{key}.jsonl")))
            .respond_with(ResponseTemplate::new(503))
            .mount(&self.server)
            .await;
    }

    /// How many requests the source has answered.
    pub async fn request_count(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map(|r| r.len())
            .unwrap_or(0)
    }
}
