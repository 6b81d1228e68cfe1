//! The messages of the channel plugin protocol, version 1 (docs/CHANNEL-PLUGINS.md).
//!
//! Both sides use these types: the host ([`ExternalChannel`](super::ExternalChannel)), the
//! plugin side ([`serve`](super::serve)) and the conformance kit. Every message is one JSON
//! object on one line. Members a side does not know are ignored, so later minor additions do
//! not break older peers; a change that would is a new protocol version.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::channel::{Found, Lookup, Proof, Rejected};
use crate::net::{FetchError, HttpRequest, HttpResponse, NostrQuery, TxtLookup, TxtRecord};

/// The protocol version this crate speaks: the `kez_channel` member of `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line either side may write, in bytes, without its newline (8 MiB).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The most I/O requests (`need` messages) a plugin may make in one lookup.
pub const MAX_IO_ROUNDS: usize = 64;

/// A request from the host to the plugin: `{"op": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The first message: the host's protocol version; the plugin answers with a [`Hello`].
    Hello {
        /// The highest protocol version the host speaks.
        kez_channel: u32,
    },
    /// Normalise an account of the plugin's scheme; answered by [`Reply::Account`] or an
    /// `invalid_account` error.
    Normalise {
        /// The account text as the user gave it (the part after `scheme:`).
        account: String,
    },
    /// Find the proofs an identity published; answered by `need`s and then one
    /// [`Reply::Found`] or [`Reply::Error`].
    Lookup {
        /// The identity, `scheme:account`, in canonical form.
        identity: String,
        /// The host's current time, Unix seconds (the recorded time on replay).
        now: u64,
    },
}

/// Why a line is not a request the plugin can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// A well-formed message with an `op` this protocol version does not define: answer
    /// `unsupported`.
    UnknownOp(String),
    /// Not JSON, not an object, no `op`, or an `op` with the wrong members: answer
    /// `bad_message`.
    Malformed(String),
}

impl Request {
    /// Parses one line from the host.
    pub fn parse(line: &str) -> Result<Request, RequestError> {
        let value: Value = serde_json::from_str(line)
            .map_err(|e| RequestError::Malformed(format!("not JSON: {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(RequestError::Malformed(format!(
                "expected a JSON object, found {}",
                kind_of(&value)
            )));
        };
        if object.contains_key("response") {
            return Err(RequestError::Malformed(
                "a response arrived while no i/o request was pending".into(),
            ));
        }
        let op = match object.get("op") {
            Some(Value::String(op)) => op.clone(),
            Some(other) => {
                return Err(RequestError::Malformed(format!(
                    "\"op\" must be a string, found {}",
                    kind_of(other)
                )))
            }
            None => return Err(RequestError::Malformed("the message has no \"op\"".into())),
        };
        if !matches!(op.as_str(), "hello" | "normalise" | "lookup") {
            return Err(RequestError::UnknownOp(op));
        }
        serde_json::from_value(value).map_err(|e| RequestError::Malformed(format!("{op}: {e}")))
    }

    /// The request as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        // Serialising these plain structs cannot fail; fall back to an empty object anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The plugin's answer to `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the plugin speaks (at most the host's).
    pub kez_channel: u32,
    /// The channel id: the identity scheme it serves, lowercase.
    pub id: String,
    /// Other schemes that name the channel.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// An I/O request from the plugin: `{"need": …}`. The host performs it through its `Net`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// An HTTP GET: `{"http": {"url", "accept"?, "redirects"?, "credential"?}}`.
    Http(HttpRequest),
    /// A TXT query: `{"dns_txt": {"name"}}`.
    DnsTxt {
        /// The domain name to query.
        name: String,
    },
    /// A nostr query: `{"nostr": {"relays", "filter"}}`.
    Nostr(NostrQuery),
}

impl Need {
    /// What the request is for, as a [`FetchError`] target: a URL, a DNS name, the relays.
    pub fn target(&self) -> String {
        match self {
            Need::Http(request) => request.url.clone(),
            Need::DnsTxt { name } => name.clone(),
            Need::Nostr(query) => query.relays.join(" "),
        }
    }
}

/// A successful answer to a [`Need`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The HTTP response.
    Http(HttpResponse),
    /// The TXT answer.
    DnsTxt(TxtLookup),
    /// The events' JSON texts.
    Nostr(Vec<String>),
}

/// How a [`Need`] turned out: the answer, or why the host could not fetch it.
pub type Outcome = Result<Answer, FetchError>;

/// The host's reply to a `need`, as a JSON value: `{"response": …}`.
///
/// HTTP bodies and TXT strings that are valid UTF-8 travel as text (`body`, `strings`); any
/// other bytes travel as standard base64 (`body_base64`, `strings_base64`).
pub fn response_value(outcome: &Outcome) -> Value {
    let inner = match outcome {
        Err(error) => json!({ "error": error }),
        Ok(Answer::Http(response)) => {
            let mut object = Map::new();
            object.insert("url".into(), json!(response.url));
            object.insert("status".into(), json!(response.status));
            object.insert("headers".into(), json!(response.headers));
            match std::str::from_utf8(&response.body) {
                Ok(text) => object.insert("body".into(), json!(text)),
                Err(_) => object.insert("body_base64".into(), json!(BASE64.encode(&response.body))),
            };
            object.insert("received_at".into(), json!(response.received_at));
            Value::Object(object)
        }
        Ok(Answer::DnsTxt(TxtLookup::NxDomain)) => json!({ "rcode": "nx_domain" }),
        Ok(Answer::DnsTxt(TxtLookup::Records { records, dnssec })) => {
            let records: Vec<Value> = records.iter().map(txt_record_value).collect();
            json!({ "rcode": "records", "records": records, "dnssec": dnssec })
        }
        Ok(Answer::Nostr(events)) => json!({ "events": events }),
    };
    json!({ "response": inner })
}

fn txt_record_value(record: &TxtRecord) -> Value {
    let texts: Option<Vec<&str>> = record
        .strings
        .iter()
        .map(|s| std::str::from_utf8(s).ok())
        .collect();
    match texts {
        Some(texts) => json!({ "strings": texts, "ttl": record.ttl }),
        None => {
            let encoded: Vec<String> = record.strings.iter().map(|s| BASE64.encode(s)).collect();
            json!({ "strings_base64": encoded, "ttl": record.ttl })
        }
    }
}

/// Reads the host's reply to `need` (the whole `{"response": …}` line). `Err` means the reply
/// is malformed: the plugin must end the lookup with a `bad_message` error.
pub fn parse_response(need: &Need, line: &str) -> Result<Outcome, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let response = value
        .as_object()
        .and_then(|object| object.get("response"))
        .ok_or_else(|| "expected {\"response\": …}".to_string())?;
    let object = response
        .as_object()
        .ok_or_else(|| format!("response must be an object, found {}", kind_of(response)))?;
    if let Some(error) = object.get("error") {
        let error: FetchError =
            serde_json::from_value(error.clone()).map_err(|e| format!("response error: {e}"))?;
        return Ok(Err(error));
    }
    let answer = match need {
        Need::Http(_) => Answer::Http(parse_http(response)?),
        Need::DnsTxt { .. } => Answer::DnsTxt(parse_txt(response)?),
        Need::Nostr(_) => {
            let wire: WireNostr = serde_json::from_value(response.clone())
                .map_err(|e| format!("nostr response: {e}"))?;
            Answer::Nostr(wire.events)
        }
    };
    Ok(Ok(answer))
}

#[derive(Deserialize)]
struct WireHttp {
    url: String,
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    received_at: u64,
}

fn parse_http(value: &Value) -> Result<HttpResponse, String> {
    let wire: WireHttp =
        serde_json::from_value(value.clone()).map_err(|e| format!("http response: {e}"))?;
    let body = match (wire.body, wire.body_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(encoded)) => BASE64
            .decode(encoded.as_bytes())
            .map_err(|e| format!("http response: body_base64 is not base64: {e}"))?,
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => {
            return Err("http response: has both body and body_base64".into());
        }
    };
    Ok(HttpResponse {
        url: wire.url,
        status: wire.status,
        headers: wire.headers,
        body: body.into(),
        received_at: wire.received_at,
    })
}

#[derive(Deserialize)]
#[serde(tag = "rcode", rename_all = "snake_case")]
enum WireTxt {
    Records {
        records: Vec<WireTxtRecord>,
        #[serde(default)]
        dnssec: Option<bool>,
    },
    NxDomain,
}

#[derive(Deserialize)]
struct WireTxtRecord {
    #[serde(default)]
    strings: Option<Vec<String>>,
    #[serde(default)]
    strings_base64: Option<Vec<String>>,
    #[serde(default)]
    ttl: u32,
}

fn parse_txt(value: &Value) -> Result<TxtLookup, String> {
    let wire: WireTxt =
        serde_json::from_value(value.clone()).map_err(|e| format!("dns_txt response: {e}"))?;
    Ok(match wire {
        WireTxt::NxDomain => TxtLookup::NxDomain,
        WireTxt::Records { records, dnssec } => {
            let mut out = Vec::with_capacity(records.len());
            for record in records {
                let strings = match (record.strings, record.strings_base64) {
                    (Some(texts), None) => texts.into_iter().map(String::into_bytes).collect(),
                    (None, Some(encoded)) => encoded
                        .iter()
                        .map(|s| BASE64.decode(s.as_bytes()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| format!("dns_txt response: strings_base64: {e}"))?,
                    _ => {
                        return Err(
                            "dns_txt response: a record needs exactly one of strings and strings_base64"
                                .into(),
                        )
                    }
                };
                out.push(TxtRecord {
                    strings,
                    ttl: record.ttl,
                });
            }
            TxtLookup::Records {
                records: out,
                dnssec,
            }
        }
    })
}

#[derive(Deserialize)]
struct WireNostr {
    events: Vec<String>,
}

/// The kind of an error a plugin reports: `{"error": {"kind": …}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// `normalise`: the account is not valid for this channel.
    InvalidAccount,
    /// `lookup`: the platform says the account does not exist.
    NoSuchAccount,
    /// `lookup`: the account's identity documents contradict each other.
    Conflict,
    /// `lookup`: the evidence could not be obtained; `fetch` says which fetch failed.
    Unreachable,
    /// An `op` this plugin does not know.
    Unsupported,
    /// A message from the host the plugin could not understand (not JSON, wrong members, a
    /// malformed response).
    BadMessage,
}

impl ErrorKind {
    /// The kind's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidAccount => "invalid_account",
            ErrorKind::NoSuchAccount => "no_such_account",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::BadMessage => "bad_message",
        }
    }
}

/// An error a plugin reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// One lowercase sentence for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `unreachable`: the fetch that failed (often the host's own `error` response,
    /// passed back unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchError>,
}

impl PluginError {
    /// An error with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: Some(message.into()),
            fetch: None,
        }
    }
}

/// One item of a lookup's `found` list: `{"proof": …}` or `{"rejected": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFound {
    /// A proof the account published.
    Proof(Proof),
    /// A proof that breaks a channel rule.
    Rejected(Rejected),
}

impl From<Found> for WireFound {
    fn from(found: Found) -> Self {
        match found {
            Found::Proof(proof) => WireFound::Proof(proof),
            Found::Rejected(rejected) => WireFound::Rejected(rejected),
        }
    }
}

impl From<WireFound> for Found {
    fn from(found: WireFound) -> Self {
        match found {
            WireFound::Proof(proof) => Found::Proof(proof),
            WireFound::Rejected(rejected) => Found::Rejected(rejected),
        }
    }
}

/// A message from the plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The answer to `hello`: `{"kez_channel", "id", "aliases"}`.
    Hello(Hello),
    /// The answer to `normalise`: `{"account": "<canonical>"}`.
    Account(String),
    /// A request for I/O during a lookup: `{"need": …}`.
    Need(Need),
    /// The end of a lookup: `{"found": […], "notes": […]}`.
    Found(Lookup),
    /// An error answering any request: `{"error": {"kind", "message"?, "fetch"?}}`.
    Error(PluginError),
}

impl Reply {
    /// The name of the message's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Reply::Hello(_) => "hello",
            Reply::Account(_) => "account",
            Reply::Need(_) => "need",
            Reply::Found(_) => "found",
            Reply::Error(_) => "error",
        }
    }

    /// Parses one line from the plugin. The message's kind is the one member among
    /// `kez_channel`, `account`, `need`, `found` and `error` it has.
    pub fn parse(line: &str) -> Result<Reply, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let Some(object) = value.as_object() else {
            return Err(format!("expected a JSON object, found {}", kind_of(&value)));
        };
        let keys: Vec<&str> = ["kez_channel", "account", "need", "found", "error"]
            .into_iter()
            .filter(|key| object.contains_key(*key))
            .collect();
        let key = match keys.as_slice() {
            [key] => *key,
            [] => {
                return Err(
                    "the message has none of kez_channel, account, need, found, error".into(),
                )
            }
            more => return Err(format!("the message has several of {}", more.join(", "))),
        };
        let member = object.get(key).cloned().unwrap_or(Value::Null);
        match key {
            "kez_channel" => serde_json::from_value(value.clone())
                .map(Reply::Hello)
                .map_err(|e| format!("hello: {e}")),
            "account" => match member {
                Value::String(account) => Ok(Reply::Account(account)),
                other => Err(format!(
                    "\"account\" must be a string, found {}",
                    kind_of(&other)
                )),
            },
            "need" => serde_json::from_value(member)
                .map(Reply::Need)
                .map_err(|e| format!("need: {e}")),
            "found" => {
                let found: Vec<WireFound> =
                    serde_json::from_value(member).map_err(|e| format!("found: {e}"))?;
                let notes: Vec<String> = match object.get("notes") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(notes) => {
                        serde_json::from_value(notes.clone()).map_err(|e| format!("notes: {e}"))?
                    }
                };
                Ok(Reply::Found(Lookup {
                    found: found.into_iter().map(Found::from).collect(),
                    notes,
                }))
            }
            _ => serde_json::from_value(member)
                .map(Reply::Error)
                .map_err(|e| format!("error: {e}")),
        }
    }

    /// The message as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        let value = match self {
            Reply::Hello(hello) => json!(hello),
            Reply::Account(account) => json!({ "account": account }),
            Reply::Need(need) => json!({ "need": need }),
            Reply::Found(lookup) => {
                let found: Vec<WireFound> =
                    lookup.found.iter().cloned().map(WireFound::from).collect();
                json!({ "found": found, "notes": lookup.notes })
            }
            Reply::Error(error) => json!({ "error": error }),
        };
        value.to_string()
    }
}

/// A JSON value's type, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::RejectReason;
    use crate::net::FetchErrorKind;

    #[test]
    fn requests_round_trip_and_unknown_ops_are_told_apart() {
        let lookup = Request::Lookup {
            identity: "web:example.com".into(),
            now: 7,
        };
        assert_eq!(
            lookup.to_line(),
            r#"{"op":"lookup","identity":"web:example.com","now":7}"#
        );
        assert_eq!(Request::parse(&lookup.to_line()), Ok(lookup));
        assert_eq!(
            Request::parse(r#"{"op":"frobnicate"}"#),
            Err(RequestError::UnknownOp("frobnicate".into()))
        );
        assert!(matches!(
            Request::parse("not json"),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            Request::parse(r#"{"op":"normalise"}"#),
            Err(RequestError::Malformed(_))
        ));
    }

    #[test]
    fn replies_are_told_apart_by_their_one_member() {
        assert_eq!(
            Reply::parse(r#"{"account":"example.com"}"#),
            Ok(Reply::Account("example.com".into()))
        );
        let need = Reply::parse(r#"{"need":{"http":{"url":"https://a.example/x"}}}"#).unwrap();
        assert_eq!(
            need,
            Reply::Need(Need::Http(HttpRequest::get("https://a.example/x")))
        );
        let found = Reply::parse(
            r#"{"found":[{"proof":{"location":"l","content":"c"}},{"rejected":{"location":"m","reason":"wrong_host","detail":"d"}}],"notes":["n"]}"#,
        )
        .unwrap();
        let Reply::Found(lookup) = &found else {
            panic!("{found:?}")
        };
        assert_eq!(lookup.proofs().count(), 1);
        assert_eq!(
            lookup.rejected().next().map(|r| r.reason),
            Some(RejectReason::WrongHost)
        );
        assert_eq!(Reply::parse(&found.to_line()), Ok(found.clone()));
        assert!(Reply::parse(r#"{"account":"a","found":[]}"#)
            .unwrap_err()
            .contains("several"));
        assert!(Reply::parse(r#"{"hello":1}"#)
            .unwrap_err()
            .contains("none of"));
        assert!(Reply::parse(r#"{"error":{"kind":"on_fire"}}"#).is_err());
    }

    #[test]
    fn bodies_travel_as_text_or_base64() {
        let need = Need::Http(HttpRequest::get("https://a.example/"));
        for body in [b"hello\n".to_vec(), vec![0xff, 0x00, 0x80]] {
            let outcome: Outcome = Ok(Answer::Http(HttpResponse {
                url: "https://a.example/".into(),
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: body.clone().into(),
                received_at: 5,
            }));
            let line = response_value(&outcome).to_string();
            assert_eq!(
                line.contains("body_base64"),
                std::str::from_utf8(&body).is_err()
            );
            assert_eq!(parse_response(&need, &line), Ok(outcome));
        }
        let bad = r#"{"response":{"url":"u","status":200,"body_base64":"!!"}}"#;
        assert!(parse_response(&need, bad).unwrap_err().contains("base64"));
        let shape = r#"{"response":{"unexpected":true}}"#;
        assert!(parse_response(&need, shape).is_err());
    }

    #[test]
    fn txt_answers_and_errors_round_trip() {
        let need = Need::DnsTxt {
            name: "_kez.example.com".into(),
        };
        let outcomes: Vec<Outcome> = vec![
            Ok(Answer::DnsTxt(TxtLookup::NxDomain)),
            Ok(Answer::DnsTxt(TxtLookup::Records {
                records: vec![
                    TxtRecord {
                        strings: vec![b"kez:z1:a".to_vec(), b"b".to_vec()],
                        ttl: 60,
                    },
                    TxtRecord {
                        strings: vec![vec![0xfe]],
                        ttl: 1,
                    },
                ],
                dnssec: Some(true),
            })),
            Err(FetchError::new(
                FetchErrorKind::Timeout,
                "_kez.example.com",
                "no answer",
            )),
        ];
        for outcome in outcomes {
            let line = response_value(&outcome).to_string();
            assert_eq!(parse_response(&need, &line), Ok(outcome));
        }
    }
}
