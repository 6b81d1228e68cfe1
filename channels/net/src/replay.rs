//! Verifying offline from an evidence bundle: [`ReplayNet`].
//!
//! Requests are matched by their replay key (kind and what was asked: the URL and `Accept`
//! header, the DNS name, the relays and filter), never by order alone, so concurrent lookups
//! replay the same way every time. When the same request was made several times, the
//! recorded answers are served in their recorded order and the last one repeats. A request the
//! bundle does not hold fails with `not_recorded`, which no channel turns into an outcome.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use kez_channel::{
    Bytes, FetchError, FetchErrorKind, HttpRequest, HttpResponse, Net, NostrQuery, TxtLookup,
};

use crate::bundle::Bundle;
use crate::evidence::{dns_key, http_key, nostr_key, Answer, Exchange, Record};

/// A [`Net`] that answers from a [`Bundle`] and nothing else.
#[derive(Debug)]
pub struct ReplayNet {
    now: u64,
    bodies: HashMap<String, Bytes>,
    /// The recorded exchanges, served by reference.
    records: Vec<Record>,
    /// By replay key, built once: the positions in `records` of its answers, in recorded
    /// order, and how many of them were served.
    answers: Mutex<HashMap<String, Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    positions: Vec<usize>,
    served: usize,
}

impl ReplayNet {
    /// Replays `bundle`; `now()` answers the bundle's recording time. Copies the bundle's
    /// evidence; [`ReplayNet::from`] takes it without copying.
    pub fn new(bundle: &Bundle) -> Self {
        Self::from(bundle.clone())
    }
}

impl From<Bundle> for ReplayNet {
    /// Replays `bundle`, which it keeps; `now()` answers the bundle's recording time.
    fn from(bundle: Bundle) -> Self {
        let records = bundle.evidence.records;
        let mut answers: HashMap<String, Queue> = HashMap::with_capacity(records.len());
        for (position, record) in records.iter().enumerate() {
            answers
                .entry(record.exchange.replay_key())
                .or_default()
                .positions
                .push(position);
        }
        Self {
            now: bundle.recorded_at,
            bodies: bundle.evidence.bodies.into_iter().collect(),
            records,
            answers: Mutex::new(answers),
        }
    }
}

impl ReplayNet {
    /// The next recorded answer for `key`: recorded order, the last one repeating.
    fn next(&self, key: &str, target: &str) -> Result<&Record, FetchError> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = answers.get_mut(key).ok_or_else(|| {
            FetchError::new(
                FetchErrorKind::NotRecorded,
                target,
                "the evidence bundle holds no answer to this request",
            )
        })?;
        let position = queue.positions.get(queue.served).copied().ok_or_else(|| {
            FetchError::new(
                FetchErrorKind::NotRecorded,
                target,
                "no recorded answer left",
            )
        })?;
        if queue.served + 1 < queue.positions.len() {
            queue.served += 1;
        }
        Ok(&self.records[position])
    }
}

fn wrong_kind(target: &str) -> FetchError {
    FetchError::new(
        FetchErrorKind::NotRecorded,
        target,
        "the evidence bundle records another kind of exchange under this request",
    )
}

#[async_trait]
impl Net for ReplayNet {
    async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let record = self.next(&http_key(&request), &request.url)?;
        match &record.exchange {
            Exchange::Http {
                answer: Answer::Ok(http),
                ..
            } => {
                let body = self.bodies.get(&http.body_sha256).cloned().ok_or_else(|| {
                    FetchError::new(
                        FetchErrorKind::NotRecorded,
                        &request.url,
                        "the evidence bundle lacks the body of this response",
                    )
                })?;
                Ok(http.response(body))
            }
            Exchange::Http {
                answer: Answer::Error(error),
                ..
            } => Err(error.clone()),
            _ => Err(wrong_kind(&request.url)),
        }
    }

    async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
        let record = self.next(&dns_key(name), name)?;
        match &record.exchange {
            Exchange::DnsTxt {
                answer: Answer::Ok(txt),
                ..
            } => txt
                .lookup()
                .map_err(|detail| FetchError::new(FetchErrorKind::NotRecorded, name, detail)),
            Exchange::DnsTxt {
                answer: Answer::Error(error),
                ..
            } => Err(error.clone()),
            _ => Err(wrong_kind(name)),
        }
    }

    async fn nostr_events(&self, query: &NostrQuery) -> Result<Vec<String>, FetchError> {
        let target = query.relays.join(",");
        let record = self.next(&nostr_key(query), &target)?;
        match &record.exchange {
            Exchange::Nostr {
                answer: Answer::Ok(nostr),
                ..
            } => Ok(nostr.events.clone()),
            Exchange::Nostr {
                answer: Answer::Error(error),
                ..
            } => Err(error.clone()),
            _ => Err(wrong_kind(&target)),
        }
    }

    fn now(&self) -> u64 {
        self.now
    }
}
