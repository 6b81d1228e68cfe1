//! Keeping every exchange as evidence: [`Recorder`] wraps any [`Net`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use kez_channel::{Bytes, FetchError, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup};

use crate::evidence::{
    Answer, Evidence, Exchange, HttpEvidence, NostrEvidence, Record, TxtEvidence,
};

/// A [`Net`] that passes every request to an inner one and keeps the exchange.
pub struct Recorder {
    inner: Arc<dyn Net>,
    evidence: Mutex<Evidence>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("exchanges", &self.lock().records.len())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records what `inner` fetches.
    pub fn new(inner: Arc<dyn Net>) -> Self {
        Self {
            inner,
            evidence: Mutex::new(Evidence::default()),
        }
    }

    /// A copy of the evidence kept so far.
    pub fn evidence(&self) -> Evidence {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Evidence> {
        // A panic elsewhere cannot leave the evidence half-written: every push is one call.
        self.evidence.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keep(&self, started_at: u64, began: Instant, exchange: Exchange, body: Option<Bytes>) {
        let elapsed_ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut evidence = self.lock();
        if let (
            Some(body),
            Exchange::Http {
                answer: Answer::Ok(http),
                ..
            },
        ) = (body, &exchange)
        {
            evidence.bodies.insert(http.body_sha256.clone(), body);
        }
        let seq = evidence.records.len() as u64;
        evidence.records.push(Record {
            seq,
            started_at,
            elapsed_ms,
            exchange,
        });
    }
}

#[async_trait]
impl Net for Recorder {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let (started_at, began) = (self.inner.now(), Instant::now());
        let result = self.inner.http_get(request.clone()).await;
        let (answer, body) = match &result {
            Ok(response) => (
                Answer::Ok(HttpEvidence::of(response)),
                Some(response.body.clone()),
            ),
            Err(error) => (Answer::Error(error.clone()), None),
        };
        self.keep(started_at, began, Exchange::Http { request, answer }, body);
        result
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        let (started_at, began) = (self.inner.now(), Instant::now());
        let result = self.inner.dns_txt(name).await;
        let answer = match &result {
            Ok(lookup) => Answer::Ok(TxtEvidence::of(lookup)),
            Err(error) => Answer::Error(error.clone()),
        };
        let exchange = Exchange::DnsTxt {
            name: name.to_string(),
            answer,
        };
        self.keep(started_at, began, exchange, None);
        result
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        let (started_at, began) = (self.inner.now(), Instant::now());
        let result = self.inner.nostr_events(query).await;
        let answer = match &result {
            Ok(events) => Answer::Ok(NostrEvidence {
                events: events.clone(),
            }),
            Err(error) => Answer::Error(error.clone()),
        };
        let exchange = Exchange::Nostr {
            query: query.clone(),
            answer,
        };
        self.keep(started_at, began, exchange, None);
        result
    }

    fn now(&self) -> u64 {
        self.inner.now()
    }
}
