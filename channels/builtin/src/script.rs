//! A scripted [`Net`] for the channels' unit tests: each URL answers what the test scripted,
//! every request is recorded, DNS and nostr are refused.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kez_channel::{
    FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup,
};

/// A scripted answer: status, headers, body.
pub(crate) type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// Answers HTTP requests from a script.
pub(crate) struct Script {
    answers: HashMap<String, Answer>,
    /// What an unscripted URL answers; `None`: the connection fails.
    unscripted: Option<Answer>,
    seen: Mutex<Vec<HttpRequest>>,
}

impl Script {
    /// A script whose unscripted URLs cannot be connected to.
    pub(crate) fn refusing() -> Self {
        Self {
            answers: HashMap::new(),
            unscripted: None,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// A script whose unscripted URLs answer `status` with `body`.
    pub(crate) fn otherwise(status: u16, body: &str) -> Self {
        Self {
            unscripted: Some((status, Vec::new(), body.as_bytes().to_vec())),
            ..Self::refusing()
        }
    }

    /// `url` answers `status` with `body`.
    pub(crate) fn answer(self, url: &str, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.answer_with(url, status, &[], body)
    }

    /// `url` answers `status` with these headers and `body`.
    pub(crate) fn answer_with(
        mut self,
        url: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Self {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.answers
            .insert(url.to_string(), (status, headers, body.into()));
        self
    }

    /// `url` answers 200 with `body` as JSON text.
    pub(crate) fn json(self, url: &str, body: &serde_json::Value) -> Self {
        self.answer(url, 200, body.to_string())
    }

    /// The requests made so far.
    pub(crate) fn seen(&self) -> Vec<HttpRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The URLs requested so far.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.seen().into_iter().map(|r| r.url).collect()
    }
}

#[async_trait]
impl Net for Script {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        let answer = self
            .answers
            .get(&request.url)
            .or(self.unscripted.as_ref())
            .cloned();
        match answer {
            Some((status, headers, body)) => Ok(HttpResponse {
                url: request.url,
                status,
                headers,
                body: body.into(),
                received_at: 0,
            }),
            None => Err(FetchError::new(
                FetchErrorKind::Connect,
                request.url,
                "connection refused",
            )),
        }
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        Err(FetchError::new(
            FetchErrorKind::Refused,
            name,
            "no dns here",
        ))
    }

    async fn nostr_events(&self, _: &NostrQuery) -> Result<Vec<String>, FetchError> {
        Ok(Vec::new())
    }

    fn now(&self) -> u64 {
        0
    }
}
