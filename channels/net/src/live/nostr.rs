//! nostr queries with nostr-sdk (SPEC.md §4.6, §11.2).
//!
//! nostr-sdk 0.44 always verifies event ids and signatures and silently drops events that
//! fail (`SharedState::verify_and_cache` in nostr-relay-pool, not configurable), and it
//! re-serialises the events it keeps. The channel must see every event exactly as a relay
//! sent it, so LiveNet plugs a transport into nostr-sdk that applies the address policy
//! when it connects and taps every `["EVENT", <sub>, <event>]` message on the way in,
//! keeping the event's exact JSON text. nostr-sdk still drives the protocol (REQ, EOSE,
//! CLOSE, pings); its own (verified) event set is ignored.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_wsocket::{ConnectionMode, Message};
use futures_util::StreamExt;
use kez_channel::{FetchError, FetchErrorKind, NostrQuery};
use nostr_sdk::nostr::util::BoxedFuture;
use nostr_sdk::prelude::transport::error::TransportError;
use nostr_sdk::prelude::transport::websocket::{
    DefaultWebsocketTransport, WebSocketSink, WebSocketStream, WebSocketTransport,
};
use nostr_sdk::prelude::{Client, ClientOptions, Filter, JsonUtil, RelayUrl};
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::http::PolicyResolver;
use super::policy::{normalise_host, Family, Policy};
use crate::NetConfig;

/// What the tap has seen.
#[derive(Debug, Default)]
struct Tap {
    events: Vec<String>,
    seen: HashSet<String>,
    bytes: usize,
    overflow: bool,
    refusals: Vec<FetchError>,
}

impl Tap {
    fn record(&mut self, message: &str, max_events: usize, max_bytes: usize) {
        if self.overflow {
            return;
        }
        // ["EVENT", <subscription id>, <event>]: keep <event> as the exact text received.
        let Ok((kind, _sub, event)) = serde_json::from_str::<(&str, &RawValue, &RawValue)>(message)
        else {
            return;
        };
        if kind != "EVENT" {
            return;
        }
        let text = event.get();
        if self.seen.contains(text) {
            return;
        }
        if self.events.len() >= max_events || self.bytes + text.len() > max_bytes {
            self.overflow = true;
            return;
        }
        self.bytes += text.len();
        self.seen.insert(text.to_owned());
        self.events.push(text.to_owned());
    }
}

/// The nostr-sdk transport: the address policy on connect, the tap on every message.
#[derive(Clone)]
struct PolicyTransport {
    policy: Arc<Policy>,
    resolver: PolicyResolver,
    tap: Arc<Mutex<Tap>>,
    max_events: usize,
    max_bytes: usize,
}

impl std::fmt::Debug for PolicyTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTransport").finish_non_exhaustive()
    }
}

impl PolicyTransport {
    fn refuse(&self, e: FetchError) -> TransportError {
        let mut tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
        tap.refusals.push(e.clone());
        TransportError::backend(e)
    }

    /// The URL to connect to: overridden hosts become their (checked) address.
    async fn connect_url(&self, url: &url::Url) -> Result<url::Url, FetchError> {
        let checked = self.policy.check_url(url.as_str(), Family::WebSocket)?;
        let mut wire = checked.wire;
        if let Some(url::Host::Domain(name)) = wire.host() {
            let name = normalise_host(name);
            let addrs = self.resolver.allowed(&name).await?;
            if self.policy.overrides.contains_key(&name) {
                if let Some(addr) = addrs.first() {
                    let _ = wire.set_ip_host(addr.ip());
                    if wire.port().is_none() && addr.port() != 0 {
                        let _ = wire.set_port(Some(addr.port()));
                    }
                }
            }
        }
        Ok(wire)
    }
}

impl WebSocketTransport for PolicyTransport {
    fn support_ping(&self) -> bool {
        true
    }

    fn connect<'a>(
        &'a self,
        url: &'a url::Url,
        mode: &'a ConnectionMode,
        timeout: Duration,
    ) -> BoxedFuture<'a, Result<(WebSocketSink, WebSocketStream), TransportError>> {
        Box::pin(async move {
            let wire = match self.connect_url(url).await {
                Ok(wire) => wire,
                Err(e) => return Err(self.refuse(e)),
            };
            let (sink, stream) = DefaultWebsocketTransport
                .connect(&wire, mode, timeout)
                .await?;
            let tap = self.tap.clone();
            let (max_events, max_bytes) = (self.max_events, self.max_bytes);
            let stream = stream.map(move |item| {
                if let Ok(Message::Text(text)) = &item {
                    tap.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .record(text, max_events, max_bytes);
                }
                item
            });
            Ok((sink, Box::pin(stream) as WebSocketStream))
        })
    }
}

/// Runs one query: connect, REQ, collect until EOSE from every relay or the timeout.
pub(crate) async fn events(
    config: &NetConfig,
    policy: Arc<Policy>,
    resolver: PolicyResolver,
    query: &NostrQuery,
) -> Result<Vec<String>, FetchError> {
    let target = query.relays.join(" ");
    if query.relays.is_empty() {
        return Err(FetchError::new(
            FetchErrorKind::Refused,
            "",
            "no relays given",
        ));
    }
    let mut urls = Vec::new();
    for relay in &query.relays {
        policy.check_url(relay, Family::WebSocket)?;
        let url = RelayUrl::parse(relay).map_err(|e| {
            FetchError::new(
                FetchErrorKind::Refused,
                relay,
                format!("not a relay url: {e:?}").to_lowercase(),
            )
        })?;
        urls.push(url);
    }
    let filter_text = serde_json::to_string(&query.filter).unwrap_or_default();
    let filter = Filter::from_json(&filter_text).map_err(|e| {
        FetchError::new(
            FetchErrorKind::Refused,
            &target,
            format!("not a nip-01 filter: {e}").to_lowercase(),
        )
    })?;

    let deadline = Instant::now() + Duration::from_millis(config.deadline_ms.max(1));
    let request_timeout = Duration::from_millis(config.request_timeout_ms.max(1));
    let tap = Arc::new(Mutex::new(Tap::default()));
    let transport = PolicyTransport {
        policy,
        resolver,
        tap: tap.clone(),
        max_events: config.max_events,
        max_bytes: config.max_body_bytes,
    };
    let client = Client::builder()
        .websocket_transport(transport)
        .opts(
            ClientOptions::new()
                .automatic_authentication(false)
                .verify_subscriptions(false),
        )
        .build();

    let result = tokio::time::timeout_at(deadline, async {
        for url in &urls {
            client.add_relay(url.clone()).await.map_err(|e| {
                FetchError::new(
                    FetchErrorKind::Connect,
                    url.as_str(),
                    e.to_string().to_lowercase(),
                )
            })?;
        }
        let output = client.try_connect(request_timeout).await;
        if output.success.is_empty() {
            let refusal = tap
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .refusals
                .first()
                .cloned();
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
            let mut reasons: Vec<String> = output
                .failed
                .iter()
                .map(|(url, e)| format!("{url}: {}", e.to_lowercase()))
                .collect();
            reasons.sort();
            return Err(FetchError::new(
                FetchErrorKind::Connect,
                &target,
                format!("no relay could be reached ({})", reasons.join("; ")),
            ));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        // The events nostr-sdk keeps are verified and re-serialised: the tap has the
        // exact texts, so the returned set is only awaited, not used.
        let _ = client
            .fetch_events_from(
                output.success.iter().cloned(),
                filter,
                remaining.min(request_timeout),
            )
            .await;
        Ok(())
    })
    .await;
    client.shutdown().await;

    let tap = std::mem::take(&mut *tap.lock().unwrap_or_else(|p| p.into_inner()));
    match result {
        // The deadline passed before every relay sent EOSE: what came is the answer,
        // unless nothing came at all.
        Err(_) if tap.events.is_empty() && !tap.overflow => {
            return Err(FetchError::new(
                FetchErrorKind::Timeout,
                &target,
                format!("no answer within the deadline of {} ms", config.deadline_ms),
            ))
        }
        Err(_) | Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
    }
    if tap.overflow {
        return Err(FetchError::new(
            FetchErrorKind::TooLarge,
            &target,
            format!(
                "the relays sent more than {} events or {} bytes",
                config.max_events, config.max_body_bytes
            ),
        ));
    }
    Ok(tap.events)
}
