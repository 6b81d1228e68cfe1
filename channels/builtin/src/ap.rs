//! The `ap` channel, alias `mastodon` (SPEC.md §11.7): proofs in an ActivityPub actor's
//! profile and posts, found through WebFinger.
//!
//! For `ap:<user>@<host>` the channel
//!
//! 1. asks WebFinger, `GET https://<host>/.well-known/webfinger?resource=acct:<user>@<host>`
//!    (`Accept: application/jrd+json`), for the `self` link of type
//!    `application/activity+json` (or `application/ld+json` with the ActivityStreams profile);
//! 2. requires that link to be an `https` URL on `<host>` itself, default port. A link to any
//!    other host is [`ChannelError::Conflict`]: the account's own server says its actor lives
//!    elsewhere, so nothing found there can be attributed to `<user>@<host>`, and the
//!    other host is never asked;
//! 3. fetches the actor (`Accept: application/activity+json`), whose `id` must be exactly the
//!    URL it was fetched from, else [`ChannelError::Conflict`];
//! 4. reads proofs from the actor's `summary` and the `value` of each `PropertyValue` in its
//!    `attachment` (no `published_at`: profiles carry no time per field), and from the first
//!    pages of its `outbox` (at most [`MAX_PAGES`] pages and [`MAX_ITEMS`] items, every page
//!    on `<host>`): each activity with an embedded `Note` or `Article`.
//!
//! HTML is turned into text ([`html::to_text`]) and proof texts are cut out of it with
//! [`kez_channel::extract::proof_texts`]. A note with proof texts is the account's only if the
//! activity's `actor` (when there is one) and every `attributedTo` are the actor's `id`;
//! otherwise — another account's post or reply in the collection, a boost — it is
//! [`Found::Rejected`] with [`RejectReason::WrongPublisher`]. A note whose `id` is not on
//! `<host>` is rejected with [`RejectReason::WrongHost`]. A proof's `published_at` is the
//! note's `published`. Objects given only by reference are not fetched (a note).
//!
//! Every request goes through the [`Net`] with same-host redirects only. 404 or 410 for the
//! WebFinger resource or the actor is [`ChannelError::NoSuchAccount`]; 429, 5xx, any other
//! status and a body that is not the JSON expected are [`ChannelError::Unreachable`].

pub mod html;
pub mod time;

use std::collections::HashSet;

use async_trait::async_trait;
use kez_channel::extract::proof_texts;
use kez_channel::{
    AccountError, Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest,
    HttpResponse, Lookup, Net, Proof, RejectReason, Rejected,
};
use kez_core::Identity;
use serde_json::{Map, Value};
use url::Url;

/// The media type asked for actors, outboxes and pages.
pub const ACCEPT_ACTIVITY: &str = "application/activity+json";

/// The media type asked for WebFinger.
pub const ACCEPT_JRD: &str = "application/jrd+json";

/// At most this many outbox pages are read.
pub const MAX_PAGES: usize = 3;

/// At most this many outbox items are read, over all pages.
pub const MAX_ITEMS: usize = 100;

/// The ActivityStreams profile of `application/ld+json`.
const AS_PROFILE: &str = "https://www.w3.org/ns/activitystreams";

/// The `ap` channel (alias `mastodon`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApChannel;

impl ApChannel {
    /// The `ap` channel. It has no configuration: each account names its own server.
    pub fn new() -> Self {
        Self
    }
}

/// Where a WebFinger query for `user@host` is sent.
pub fn webfinger_url(user: &str, host: &str) -> String {
    // user and host are canonical (SPEC §3.2): ASCII letters, digits, `_ . -` only, so only
    // the `:` and `@` of the resource need percent-encoding (RFC 7033 §4.1).
    format!("https://{host}/.well-known/webfinger?resource=acct%3A{user}%40{host}")
}

/// Whether `url` is an `https` URL on `host` with the default port.
pub fn is_on_host(url: &str, host: &str) -> bool {
    Url::parse(url).is_ok_and(|url| {
        url.scheme() == "https"
            && url.host_str() == Some(host)
            && url.port().is_none()
            && url.username().is_empty()
            && url.password().is_none()
    })
}

fn bad_answer(target: &str, detail: impl Into<String>) -> ChannelError {
    ChannelError::Unreachable(FetchError::new(FetchErrorKind::BadAnswer, target, detail))
}

/// The body of a successful answer as a JSON object; `Ok(None)` for 404 and 410.
fn json_object(
    response: &HttpResponse,
    what: &str,
) -> Result<Option<Map<String, Value>>, ChannelError> {
    let target = response.url.as_str();
    match response.status {
        200..=299 => {}
        404 | 410 => return Ok(None),
        429 => {
            return Err(ChannelError::Unreachable(FetchError::new(
                FetchErrorKind::RateLimited,
                target,
                format!("the server limited the rate reading the {what} (status 429)"),
            )))
        }
        500..=599 => {
            return Err(ChannelError::Unreachable(FetchError::new(
                FetchErrorKind::ServerError,
                target,
                format!("the server answered {} for the {what}", response.status),
            )))
        }
        status => {
            return Err(bad_answer(
                target,
                format!("expected 200 for the {what}, found status {status}"),
            ))
        }
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        Ok(other) => Err(bad_answer(
            target,
            format!(
                "expected a JSON object as the {what}, found {}",
                json_kind(&other)
            ),
        )),
        Err(e) => Err(bad_answer(
            target,
            format!("expected a JSON object as the {what}, found malformed JSON ({e})"),
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

async fn get_object(
    net: &dyn Net,
    url: &str,
    accept: &str,
    what: &str,
) -> Result<Option<Map<String, Value>>, ChannelError> {
    let response = net.http_get(HttpRequest::get(url).accept(accept)).await?;
    json_object(&response, what)
}

/// Whether `object`'s `type` (a string or an array of strings) includes one of `kinds`.
fn has_type(object: &Map<String, Value>, kinds: &[&str]) -> bool {
    match object.get("type") {
        Some(Value::String(kind)) => kinds.contains(&kind.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|kind| kinds.contains(&kind)),
        _ => false,
    }
}

/// The ids a member names: a string, an object's `id`, or an array of those.
fn ids(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(id)) => vec![id.clone()],
        Some(Value::Object(object)) => object
            .get("id")
            .and_then(Value::as_str)
            .map(|id| vec![id.to_string()])
            .unwrap_or_default(),
        Some(Value::Array(list)) => list.iter().flat_map(|v| ids(Some(v))).collect(),
        _ => Vec::new(),
    }
}

/// A member as a list: an array's elements, or the value itself.
fn as_list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// The HTML texts of a natural-language member: `name` as a string, else the values of
/// `<name>Map` in language-tag order.
fn natural_texts(object: &Map<String, Value>, name: &str) -> Vec<String> {
    if let Some(text) = object.get(name).and_then(Value::as_str) {
        return vec![text.to_string()];
    }
    match object.get(&format!("{name}Map")).and_then(Value::as_object) {
        Some(map) => {
            let mut entries: Vec<(&String, &str)> = map
                .iter()
                .filter_map(|(lang, v)| v.as_str().map(|text| (lang, text)))
                .collect();
            entries.sort();
            entries
                .into_iter()
                .map(|(_, text)| text.to_string())
                .collect()
        }
        None => Vec::new(),
    }
}

/// The proof texts in some HTML fragments, each once, in order.
fn html_proofs(fragments: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    fragments
        .iter()
        .flat_map(|html| proof_texts(&html::to_text(html)))
        .filter(|text| seen.insert(text.clone()))
        .collect()
}

/// The actor URL a WebFinger answer names: the first `self` link of an ActivityPub type.
fn self_link(jrd: &Map<String, Value>) -> Option<String> {
    as_list(jrd.get("links")).into_iter().find_map(|link| {
        let link = link.as_object()?;
        if link.get("rel").and_then(Value::as_str) != Some("self") {
            return None;
        }
        let kind = link.get("type").and_then(Value::as_str)?;
        let kind_ok = kind == ACCEPT_ACTIVITY
            || (kind.starts_with("application/ld+json") && kind.contains(AS_PROFILE));
        if !kind_ok {
            return None;
        }
        link.get("href").and_then(Value::as_str).map(str::to_string)
    })
}

/// What reading an outbox found, for the notes.
#[derive(Debug, Default)]
struct OutboxReport {
    pages: usize,
    items: usize,
    by_reference: usize,
    truncated: bool,
    stopped: Option<String>,
}

/// One lookup of `user@host`.
struct Run<'a> {
    net: &'a dyn Net,
    host: &'a str,
    actor_id: String,
    lookup: Lookup,
    seen: HashSet<(String, String)>,
}

impl Run<'_> {
    fn push_proofs(&mut self, location: &str, texts: Vec<String>, published_at: Option<u64>) {
        for text in texts {
            if self.seen.insert((location.to_string(), text.clone())) {
                self.lookup.found.push(Found::Proof(Proof {
                    location: location.to_string(),
                    content: text,
                    published_at,
                    retracted_at: None,
                }));
            }
        }
    }

    fn reject(&mut self, location: &str, reason: RejectReason, detail: String) {
        if self
            .seen
            .insert((location.to_string(), format!("rejected:{}", reason.name())))
        {
            self.lookup.found.push(Found::Rejected(Rejected {
                location: location.to_string(),
                reason,
                detail,
            }));
        }
    }

    fn read_profile(&mut self, actor: &Map<String, Value>) {
        let summary = html_proofs(&natural_texts(actor, "summary"));
        let location = format!("{}#summary", self.actor_id);
        self.push_proofs(&location, summary, None);
        for (n, attachment) in as_list(actor.get("attachment")).into_iter().enumerate() {
            let Some(field) = attachment.as_object() else {
                continue;
            };
            if !has_type(field, &["PropertyValue"]) {
                continue;
            }
            let texts = html_proofs(&natural_texts(field, "value"));
            let location = format!("{}#field-{}", self.actor_id, n + 1);
            self.push_proofs(&location, texts, None);
        }
    }

    /// Reads one outbox item: an activity with an embedded note, or a bare note.
    fn read_item(&mut self, item: &Value, n: usize, outbox: &str, report: &mut OutboxReport) {
        let Some(item) = item.as_object() else {
            report.by_reference += 1;
            return;
        };
        const NOTES: &[&str] = &["Note", "Article"];
        let (activity_actor, note) = if has_type(item, NOTES) {
            (None, item)
        } else {
            match item.get("object") {
                Some(Value::Object(object)) if has_type(object, NOTES) => {
                    (Some(ids(item.get("actor"))), object)
                }
                Some(Value::String(_)) => {
                    report.by_reference += 1;
                    return;
                }
                _ => return,
            }
        };
        let texts = html_proofs(&natural_texts(note, "content"));
        if texts.is_empty() {
            return;
        }
        let location = note
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{outbox}#item-{n}"));
        let attributed = ids(note.get("attributedTo"));
        let by_actor =
            |list: &[String]| !list.is_empty() && list.iter().all(|id| *id == self.actor_id);
        if !by_actor(&attributed) {
            let detail = format!(
                "note {location} is attributed to {}, not {}",
                if attributed.is_empty() {
                    "nobody".to_string()
                } else {
                    attributed.join(", ")
                },
                self.actor_id
            );
            self.reject(&location, RejectReason::WrongPublisher, detail);
            return;
        }
        if let Some(actors) = activity_actor {
            if !by_actor(&actors) {
                let detail = format!(
                    "the activity carrying note {location} is by {}, not {}",
                    if actors.is_empty() {
                        "nobody".to_string()
                    } else {
                        actors.join(", ")
                    },
                    self.actor_id
                );
                self.reject(&location, RejectReason::WrongPublisher, detail);
                return;
            }
        }
        if !is_on_host(&location, self.host) {
            let detail = format!("note {location} is not on the account's host {}", self.host);
            self.reject(&location, RejectReason::WrongHost, detail);
            return;
        }
        let published_at = note
            .get("published")
            .and_then(Value::as_str)
            .and_then(time::unix_seconds);
        self.push_proofs(&location, texts, published_at);
    }

    /// Reads the first pages of the outbox at `url`.
    async fn read_outbox(&mut self, url: &str) -> Result<OutboxReport, ChannelError> {
        let mut report = OutboxReport::default();
        let Some(collection) = get_object(self.net, url, ACCEPT_ACTIVITY, "outbox").await? else {
            report.stopped = Some("the outbox answered 404".into());
            return Ok(report);
        };
        // The items of the collection itself, or its first page (embedded or a link).
        let mut page: Option<Map<String, Value>> = None;
        let mut next: Option<String> = None;
        if collection.contains_key("orderedItems") || collection.contains_key("items") {
            page = Some(collection);
        } else {
            match collection.get("first") {
                Some(Value::Object(first))
                    if first.contains_key("orderedItems") || first.contains_key("items") =>
                {
                    page = Some(first.clone())
                }
                first => next = ids(first).into_iter().next(),
            }
        }
        loop {
            if page.is_none() {
                let Some(link) = next.take() else { break };
                if report.pages >= MAX_PAGES {
                    report.truncated = true;
                    break;
                }
                if !is_on_host(&link, self.host) {
                    report.stopped = Some(format!("outbox page {link} is not on {}", self.host));
                    break;
                }
                page = get_object(self.net, &link, ACCEPT_ACTIVITY, "outbox page").await?;
                if page.is_none() {
                    report.stopped = Some(format!("outbox page {link} answered 404"));
                    break;
                }
            }
            let Some(current) = page.take() else { break };
            report.pages += 1;
            let items = as_list(current.get("orderedItems").or_else(|| current.get("items")));
            for item in items {
                if report.items >= MAX_ITEMS {
                    report.truncated = true;
                    return Ok(report);
                }
                report.items += 1;
                self.read_item(item, report.items, url, &mut report);
            }
            next = ids(current.get("next")).into_iter().next();
            if next.is_some() && report.pages >= MAX_PAGES {
                report.truncated = true;
                break;
            }
        }
        Ok(report)
    }
}

#[async_trait]
impl Channel for ApChannel {
    fn id(&self) -> &str {
        "ap"
    }

    fn aliases(&self) -> Vec<String> {
        vec!["mastodon".to_string()]
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        match Identity::parse(&format!("ap:{account}")) {
            Ok(identity) if identity.scheme() == "ap" => Ok(identity.account().to_string()),
            Ok(identity) => Err(AccountError(format!("{identity} is not an ap identity"))),
            Err(e) => Err(AccountError(e.to_string())),
        }
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        if identity.scheme() != "ap" {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} is not an ap identity"
            )));
        }
        let Some((user, host)) = identity.account().split_once('@') else {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} has no user@host account"
            )));
        };

        // 1. WebFinger on the account's own host.
        let finger = webfinger_url(user, host);
        let Some(jrd) = get_object(net, &finger, ACCEPT_JRD, "webfinger answer").await? else {
            return Err(ChannelError::NoSuchAccount(format!(
                "{host} has no account {user}@{host} (webfinger answered 404)"
            )));
        };
        let Some(actor_url) = self_link(&jrd) else {
            return Err(ChannelError::NoSuchAccount(format!(
                "webfinger for {user}@{host} names no ActivityPub actor (no self link of type {ACCEPT_ACTIVITY})"
            )));
        };

        // 2. The actor must live on that host.
        if !is_on_host(&actor_url, host) {
            return Err(ChannelError::Conflict(format!(
                "webfinger for {user}@{host} names the actor {actor_url}, which is not on https://{host}/"
            )));
        }

        // 3. The actor, whose id is the URL it came from.
        let Some(actor) = get_object(net, &actor_url, ACCEPT_ACTIVITY, "actor").await? else {
            return Err(ChannelError::NoSuchAccount(format!(
                "the actor {actor_url} of {user}@{host} answered 404"
            )));
        };
        let actor_id = actor.get("id").and_then(Value::as_str).unwrap_or_default();
        if actor_id != actor_url {
            return Err(ChannelError::Conflict(format!(
                "the actor fetched from {actor_url} has the id {actor_id:?}, not that URL"
            )));
        }

        let mut run = Run {
            net,
            host,
            actor_id: actor_url.clone(),
            lookup: Lookup::default(),
            seen: HashSet::new(),
        };
        run.lookup
            .notes
            .push(format!("webfinger: acct:{user}@{host} is {actor_url}"));

        // 4. Profile, then outbox.
        run.read_profile(&actor);
        match ids(actor.get("outbox")).into_iter().next() {
            Some(outbox) if is_on_host(&outbox, host) => {
                let report = run.read_outbox(&outbox).await?;
                let mut note = format!(
                    "outbox: {} page(s), {} item(s) read",
                    report.pages, report.items
                );
                if report.truncated {
                    note.push_str(&format!(
                        "; stopped at the limit of {MAX_PAGES} pages or {MAX_ITEMS} items"
                    ));
                }
                if report.by_reference > 0 {
                    note.push_str(&format!(
                        "; {} item(s) given by reference not fetched",
                        report.by_reference
                    ));
                }
                if let Some(stopped) = report.stopped {
                    note.push_str(&format!("; {stopped}"));
                }
                run.lookup.notes.push(note);
            }
            Some(outbox) => run
                .lookup
                .notes
                .push(format!("outbox {outbox} is not on {host}: not read")),
            None => run.lookup.notes.push("the actor has no outbox".into()),
        }
        Ok(run.lookup)
    }
}

#[cfg(test)]
mod tests {
    use kez_channel::Redirects;
    use serde_json::json;

    use super::*;
    use crate::script::Script;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            url: "https://social.example/users/alice".into(),
            status,
            headers: vec![],
            body: body.as_bytes().to_vec().into(),
            received_at: 0,
        }
    }

    #[test]
    fn webfinger_asks_the_account_host_for_the_acct_resource() {
        assert_eq!(
            webfinger_url("alice", "social.example"),
            "https://social.example/.well-known/webfinger?resource=acct%3Aalice%40social.example"
        );
    }

    #[test]
    fn only_https_urls_on_the_host_with_the_default_port_are_on_it() {
        assert!(is_on_host(
            "https://social.example/users/a",
            "social.example"
        ));
        assert!(is_on_host(
            "https://SOCIAL.example:443/users/a",
            "social.example"
        ));
        for url in [
            "http://social.example/users/a",
            "https://social.example:8443/users/a",
            "https://evil.example/users/a",
            "https://social.example.evil.example/users/a",
            "https://x@social.example/users/a",
            "/users/a",
        ] {
            assert!(!is_on_host(url, "social.example"), "{url}");
        }
    }

    #[test]
    fn self_link_takes_the_first_activitypub_self_link() {
        let jrd = json!({"links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "https://a/@x"},
            {"rel": "self", "type": "text/html", "href": "https://a/html"},
            {"rel": "self", "type": "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"", "href": "https://a/ld"},
            {"rel": "self", "type": "application/activity+json", "href": "https://a/as"},
        ]});
        let jrd = jrd.as_object().cloned().unwrap_or_default();
        assert_eq!(self_link(&jrd).as_deref(), Some("https://a/ld"));
        let plain_ld = json!({"links": [{"rel": "self", "type": "application/ld+json", "href": "https://a/ld"}]});
        assert_eq!(self_link(plain_ld.as_object().unwrap_or(&Map::new())), None);
    }

    #[test]
    fn statuses_map_to_absent_unreachable_or_json() {
        assert!(matches!(json_object(&response(404, ""), "actor"), Ok(None)));
        assert!(matches!(json_object(&response(410, ""), "actor"), Ok(None)));
        for (status, kind) in [
            (429, FetchErrorKind::RateLimited),
            (503, FetchErrorKind::ServerError),
            (403, FetchErrorKind::BadAnswer),
            (200, FetchErrorKind::BadAnswer),
        ] {
            let body = if status == 200 { "[1]" } else { "" };
            match json_object(&response(status, body), "actor") {
                Err(ChannelError::Unreachable(e)) => assert_eq!(e.kind, kind, "{status}"),
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(
            json_object(&response(200, "{\"id\":\"x\"}"), "actor"),
            Ok(Some(_))
        ));
    }

    const ACTOR: &str = "https://social.example/users/alice";
    const OUTBOX: &str = "https://social.example/users/alice/outbox";

    /// Looks alice up through the script.
    trait LookupAlice {
        async fn lookup(&self) -> Result<Lookup, ChannelError>;
    }

    impl LookupAlice for Script {
        async fn lookup(&self) -> Result<Lookup, ChannelError> {
            let alice = Identity::parse("ap:alice@social.example").expect("identity");
            ApChannel::new().lookup(&alice, self).await
        }
    }

    fn finger() -> Value {
        json!({"subject": "acct:alice@social.example", "links": [
            {"rel": "self", "type": ACCEPT_ACTIVITY, "href": ACTOR},
        ]})
    }

    fn actor(outbox: Option<&str>) -> Value {
        let mut actor = json!({"id": ACTOR, "type": "Person", "summary": "<p>kez:z1:summary</p>"});
        if let Some(outbox) = outbox {
            actor["outbox"] = Value::from(outbox);
        }
        actor
    }

    /// A `Create` of a note by alice holding `content`.
    fn create(n: usize, content: &str) -> Value {
        json!({
            "type": "Create",
            "actor": ACTOR,
            "object": {
                "id": format!("{ACTOR}/notes/{n}"),
                "type": "Note",
                "attributedTo": ACTOR,
                "content": content,
                "published": "2026-01-01T00:00:00Z",
            },
        })
    }

    fn outbox_with(items: Vec<Value>) -> Value {
        json!({"id": OUTBOX, "type": "OrderedCollection", "orderedItems": items})
    }

    /// alice's WebFinger answer and actor, with an outbox at OUTBOX.
    fn alice() -> Script {
        Script::refusing()
            .json(&webfinger_url("alice", "social.example"), &finger())
            .json(ACTOR, &actor(Some(OUTBOX)))
    }

    fn unreachable_kind(result: Result<Lookup, ChannelError>) -> FetchErrorKind {
        match result {
            Err(ChannelError::Unreachable(e)) => e.kind,
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_request_is_a_same_host_get_with_the_right_accept() {
        let page = format!("{OUTBOX}?page=1");
        let net = alice()
            .json(
                OUTBOX,
                &json!({"id": OUTBOX, "type": "OrderedCollection", "first": page}),
            )
            .json(
                &page,
                &json!({"type": "OrderedCollectionPage", "orderedItems": [create(1, "<p>kez:z1:note</p>")]}),
            );
        let lookup = net.lookup().await.expect("lookup");
        assert_eq!(lookup.proofs().count(), 2, "{:?}", lookup.found);
        let seen: Vec<(String, Option<String>, Redirects, Option<String>)> = net
            .seen()
            .into_iter()
            .map(|r| (r.url, r.accept, r.redirects, r.credential))
            .collect();
        let activity = Some(ACCEPT_ACTIVITY.to_string());
        assert_eq!(
            seen,
            [
                (
                    webfinger_url("alice", "social.example"),
                    Some(ACCEPT_JRD.to_string()),
                    Redirects::SameHost,
                    None
                ),
                (
                    ACTOR.to_string(),
                    activity.clone(),
                    Redirects::SameHost,
                    None
                ),
                (
                    OUTBOX.to_string(),
                    activity.clone(),
                    Redirects::SameHost,
                    None
                ),
                (page, activity, Redirects::SameHost, None),
            ]
        );
    }

    #[tokio::test]
    async fn no_self_link_or_a_missing_actor_is_no_such_account() {
        let finger_url = webfinger_url("alice", "social.example");
        let no_link = json!({"links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": ACTOR},
            {"rel": "self", "type": "text/html", "href": ACTOR},
        ]});
        let cases = [
            Script::refusing().json(&finger_url, &no_link),
            Script::refusing().json(
                &finger_url,
                &json!({"subject": "acct:alice@social.example"}),
            ),
            Script::refusing().answer(&finger_url, 404, ""),
            Script::refusing().answer(&finger_url, 410, ""),
            Script::refusing()
                .json(&finger_url, &finger())
                .answer(ACTOR, 404, ""),
            Script::refusing()
                .json(&finger_url, &finger())
                .answer(ACTOR, 410, ""),
        ];
        for (n, net) in cases.iter().enumerate() {
            assert!(
                matches!(net.lookup().await, Err(ChannelError::NoSuchAccount(_))),
                "case {n}"
            );
        }
    }

    #[tokio::test]
    async fn the_outbox_is_read_up_to_one_hundred_items_with_a_note() {
        let mut items: Vec<Value> = (1..=120)
            .map(|n| create(n, &format!("<p>kez:z1:n{n}</p>")))
            .collect();
        // A bare Article (not in an activity) is read too.
        items[0] = json!({
            "id": format!("{ACTOR}/articles/1"),
            "type": "Article",
            "attributedTo": ACTOR,
            "contentMap": {"en": "<p>kez:z1:article</p>"},
        });
        let net = alice().json(OUTBOX, &outbox_with(items));
        let lookup = net.lookup().await.expect("lookup");
        let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
        assert_eq!(contents.len(), 1 + MAX_ITEMS, "summary + 100 items");
        assert_eq!(contents[1], "kez:z1:article");
        assert_eq!(contents[MAX_ITEMS], "kez:z1:n100");
        assert!(
            lookup
                .notes
                .iter()
                .any(|n| n.contains("100 item(s) read; stopped at the limit")),
            "{:?}",
            lookup.notes
        );

        // An outbox on another host is not read.
        let net = Script::refusing()
            .json(&webfinger_url("alice", "social.example"), &finger())
            .json(ACTOR, &actor(Some("https://elsewhere.example/outbox")));
        let lookup = net.lookup().await.expect("lookup");
        assert_eq!(lookup.proofs().count(), 1);
        assert_eq!(net.seen().len(), 2);
        assert!(
            lookup
                .notes
                .iter()
                .any(|n| n.contains("not on social.example")),
            "{:?}",
            lookup.notes
        );
    }

    #[tokio::test]
    async fn a_note_counts_only_if_attributed_to_the_actor_alone() {
        let other = "https://social.example/users/bob";
        let note = |n: usize, attributed: Option<Value>| {
            let mut note = json!({
                "id": format!("{ACTOR}/notes/{n}"),
                "type": "Note",
                "content": format!("<p>kez:z1:n{n}</p>"),
            });
            if let Some(attributed) = attributed {
                note["attributedTo"] = attributed;
            }
            note
        };
        let items = vec![
            note(1, None),
            note(2, Some(json!([]))),
            note(3, Some(json!([ACTOR, other]))),
            json!({"type": "Create", "actor": [ACTOR, other], "object": note(4, Some(json!(ACTOR)))}),
            json!({"type": "Create", "actor": [], "object": note(5, Some(json!(ACTOR)))}),
            note(6, Some(json!({"id": ACTOR, "type": "Person"}))),
            json!({"type": "Create", "actor": {"id": ACTOR}, "object": note(7, Some(json!([ACTOR])))}),
        ];
        let net = alice().json(OUTBOX, &outbox_with(items));
        let lookup = net.lookup().await.expect("lookup");
        let proofs: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
        assert_eq!(proofs, ["kez:z1:summary", "kez:z1:n6", "kez:z1:n7"]);
        let rejected: Vec<(String, RejectReason)> = lookup
            .rejected()
            .map(|r| (r.location.clone(), r.reason))
            .collect();
        let expected: Vec<(String, RejectReason)> = (1..=5)
            .map(|n| (format!("{ACTOR}/notes/{n}"), RejectReason::WrongPublisher))
            .collect();
        assert_eq!(rejected, expected);
        assert!(lookup.rejected().all(|r| r.detail.contains(ACTOR)));
    }

    #[tokio::test]
    async fn a_note_without_a_valid_published_time_has_none() {
        let mut undated = create(2, "<p>kez:z1:undated</p>");
        undated["object"]["published"] = Value::from("yesterday");
        let mut missing = create(3, "<p>kez:z1:missing</p>");
        if let Some(object) = missing["object"].as_object_mut() {
            object.remove("published");
        }
        let items = vec![create(1, "<p>kez:z1:dated</p>"), undated, missing];
        let net = alice().json(OUTBOX, &outbox_with(items));
        let lookup = net.lookup().await.expect("lookup");
        let proofs: Vec<(&str, &str, Option<u64>)> = lookup
            .proofs()
            .map(|p| (p.location.as_str(), p.content.as_str(), p.published_at))
            .collect();
        let summary = format!("{ACTOR}#summary");
        let (n1, n2, n3) = (
            format!("{ACTOR}/notes/1"),
            format!("{ACTOR}/notes/2"),
            format!("{ACTOR}/notes/3"),
        );
        assert_eq!(
            proofs,
            [
                (summary.as_str(), "kez:z1:summary", None),
                (n1.as_str(), "kez:z1:dated", Some(1_767_225_600)),
                (n2.as_str(), "kez:z1:undated", None),
                (n3.as_str(), "kez:z1:missing", None),
            ]
        );
    }

    #[tokio::test]
    async fn server_answers_decide_reachability_and_a_missing_outbox_only_ends_it() {
        // 404 for the outbox, or for a page of it: the profile's proofs stand, with a note.
        let page = format!("{OUTBOX}?page=1");
        for net in [
            alice().answer(OUTBOX, 404, ""),
            alice()
                .json(OUTBOX, &json!({"id": OUTBOX, "first": page}))
                .answer(&page, 404, ""),
        ] {
            let lookup = net.lookup().await.expect("lookup");
            let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
            assert_eq!(contents, ["kez:z1:summary"]);
            assert!(
                lookup.notes.iter().any(|n| n.contains("answered 404")),
                "{:?}",
                lookup.notes
            );
        }
        // Anything else not 2xx, and a 2xx that is not a JSON object, anywhere: unreachable.
        let finger_url = webfinger_url("alice", "social.example");
        let cases = [
            (
                Script::refusing().answer(&finger_url, 429, ""),
                FetchErrorKind::RateLimited,
            ),
            (
                Script::refusing().answer(&finger_url, 403, ""),
                FetchErrorKind::BadAnswer,
            ),
            (
                Script::refusing().answer(&finger_url, 200, "<html></html>"),
                FetchErrorKind::BadAnswer,
            ),
            (
                Script::refusing()
                    .json(&finger_url, &finger())
                    .answer(ACTOR, 502, ""),
                FetchErrorKind::ServerError,
            ),
            (
                Script::refusing()
                    .json(&finger_url, &finger())
                    .answer(ACTOR, 200, "[]"),
                FetchErrorKind::BadAnswer,
            ),
            (alice().answer(OUTBOX, 500, ""), FetchErrorKind::ServerError),
            (alice().answer(OUTBOX, 401, ""), FetchErrorKind::BadAnswer),
            (
                alice()
                    .json(OUTBOX, &json!({"id": OUTBOX, "first": page}))
                    .answer(&page, 200, "\"a string\""),
                FetchErrorKind::BadAnswer,
            ),
        ];
        for (n, (net, kind)) in cases.iter().enumerate() {
            assert_eq!(unreachable_kind(net.lookup().await), *kind, "case {n}");
        }
    }

    #[test]
    fn natural_language_maps_are_read_in_tag_order() {
        let note = json!({"contentMap": {"fr": "<p>kez:z1:fr</p>", "en": "<p>kez:z1:en</p>"}});
        let note = note.as_object().cloned().unwrap_or_default();
        assert_eq!(
            html_proofs(&natural_texts(&note, "content")),
            ["kez:z1:en", "kez:z1:fr"]
        );
    }
}
