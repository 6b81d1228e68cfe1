//! The `github` channel (SPEC.md §11.4): proofs in an account's gists, read through the
//! GitHub REST API.
//!
//! For `github:<login>` the channel lists the account's gists
//! (`GET {api}/users/{login}/gists?per_page=100`, following `Link: rel="next"` on the same
//! host for at most [`MAX_PAGES`] pages), picks the *proof files* by name (`kez.md`,
//! `kez.json`, `kez.txt`, or a name ending in `.kez.md`, ASCII case-insensitive) and reads
//! each one's content from the gist itself (`GET {api}/gists/{id}`, `files.<name>.content`),
//! never from a raw URL on another host. Every request names the credential `github` and asks
//! for `application/vnd.github+json`.
//!
//! The gist's owner, in the list and in the gist itself, must be the account: a proof file in
//! a gist owned by anyone else is returned as [`Found::Rejected`] with
//! [`RejectReason::WrongPublisher`], naming both logins. A proof's `published_at` is the gist's
//! `updated_at`: the latest time its content could have changed.
//!
//! What the service says decides only reachability, never validity: 404 for the user is
//! [`ChannelError::NoSuchAccount`]; rate limiting (403 with `x-ratelimit-remaining: 0`, or
//! 429), 5xx, any other unexpected status, an answer that is not the JSON the API documents,
//! and a proof file the API truncates are [`ChannelError::Unreachable`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use kez_channel::extract::proof_texts;
use kez_channel::{
    AccountError, Channel, ChannelError, FetchError, FetchErrorKind, Found, HttpRequest,
    HttpResponse, Lookup, Net, Proof, RejectReason, Rejected,
};
use kez_core::Identity;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The media type every request asks for.
pub const ACCEPT: &str = "application/vnd.github+json";

/// The name of the credential every request carries (the host maps it to a token).
pub const CREDENTIAL: &str = "github";

/// At most this many pages of gists are read (100 gists each).
pub const MAX_PAGES: usize = 10;

/// The page size asked for.
const PER_PAGE: u32 = 100;

/// The `github` channel. Build it with the REST API base URL (`https://api.github.com`).
#[derive(Debug, Clone)]
pub struct GithubChannel {
    api: String,
}

impl GithubChannel {
    /// A channel reading from the REST API at `api_base` (no trailing `/` needed).
    pub fn new(api_base: String) -> Self {
        Self {
            api: api_base.trim_end_matches('/').to_string(),
        }
    }

    /// The API base URL, without a trailing `/`.
    pub fn api_base(&self) -> &str {
        &self.api
    }
}

/// How a proof file's content is turned into proof texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// `kez.md`, `*.kez.md`, `kez.json`: the whole file is one proof text.
    Whole,
    /// `kez.txt`: the proof texts found in free text.
    Text,
}

/// Whether a gist file name marks a proof file, and of which kind (SPEC-github §11.4).
fn proof_file_kind(name: &str) -> Option<FileKind> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "kez.md" | "kez.json" => Some(FileKind::Whole),
        "kez.txt" => Some(FileKind::Text),
        _ if lower.ends_with(".kez.md") => Some(FileKind::Whole),
        _ => None,
    }
}

/// GitHub's anchor for a file on a gist page: `file-` and the name lowercased, every
/// character other than ASCII letters and digits replaced by `-`.
fn file_anchor(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("file-{slug}")
}

/// An error of the service (not of any claim): the lookup is unreachable.
fn bad_answer(target: &str, detail: impl Into<String>) -> ChannelError {
    ChannelError::Unreachable(FetchError::new(FetchErrorKind::BadAnswer, target, detail))
}

/// Maps a non-2xx status to the lookup's error. `Ok(())` for 2xx.
fn check_status(response: &HttpResponse, target: &str, user: &str) -> Result<(), ChannelError> {
    let status = response.status;
    if response.is_success() {
        return Ok(());
    }
    let rate_limited = status == 429
        || (status == 403 && response.header("x-ratelimit-remaining").map(str::trim) == Some("0"));
    if rate_limited {
        let mut detail = format!("github limited the rate (status {status})");
        if let Some(after) = response.header("retry-after") {
            detail.push_str(&format!("; retry after {} s", after.trim()));
        } else if let Some(reset) = response.header("x-ratelimit-reset") {
            detail.push_str(&format!("; limit resets at {}", reset.trim()));
        }
        return Err(ChannelError::Unreachable(FetchError::new(
            FetchErrorKind::RateLimited,
            target,
            detail,
        )));
    }
    if (500..600).contains(&status) {
        return Err(ChannelError::Unreachable(FetchError::new(
            FetchErrorKind::ServerError,
            target,
            format!("github answered {status}"),
        )));
    }
    if status == 404 {
        return Err(ChannelError::NoSuchAccount(format!(
            "github has no user {user:?} (404 for {target})"
        )));
    }
    Err(bad_answer(
        target,
        format!("unexpected status {status} from github"),
    ))
}

/// Parses a JSON body into `T`, the members the channel reads; malformed JSON is an error of
/// the service (SPEC.md §11.4-10).
///
/// JSON is RFC 8259 JSON text: UTF-8 throughout (§8.1), checked over the whole body, and of
/// the JSON grammar, checked by the parse. Members the channel does not read are skipped
/// without being interpreted: an unpaired surrogate escape or a number beyond a double's
/// range there is grammatical JSON (§8.2, §6) and does not make the answer malformed, as it
/// does not for a `JSON.parse` client; in a member the channel reads, it does.
///
/// The typed parse borrows strings from the body and skips every other member. It accepts
/// only answers of the documented shape; anything else (a member of another type, a
/// duplicate member, malformed JSON) is parsed again as a [`Value`] and read leniently by
/// `lenient`, so malformed answers keep their errors. That reading interprets every member,
/// so an answer off the documented shape is also malformed for the odd values above.
fn json_body<'a, T: Deserialize<'a>>(
    response: &'a HttpResponse,
    target: &str,
    lenient: impl FnOnce(Value) -> Result<T, ChannelError>,
) -> Result<T, ChannelError> {
    let text = std::str::from_utf8(&response.body).map_err(|e| {
        bad_answer(
            target,
            format!(
                "expected the JSON the github API documents, found malformed JSON (not UTF-8: {e})"
            ),
        )
    })?;
    if let Ok(typed) = serde_json::from_str(text) {
        return Ok(typed);
    }
    let value = serde_json::from_str(text).map_err(|e| {
        bad_answer(
            target,
            format!("expected the JSON the github API documents, found malformed JSON ({e})"),
        )
    })?;
    lenient(value)
}

/// A JSON object deserialized as `T`, and nothing else (serde's derived structs would take
/// an array of members too).
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

/// A string, borrowed from the body unless it holds escapes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Str<'a>(Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> serde::de::Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A string member; `None`: absent, `null` or of another type.
type Text<'a> = Option<Str<'a>>;

fn text(value: Option<&Value>) -> Text<'static> {
    value
        .and_then(Value::as_str)
        .map(|s| Str(Cow::Owned(s.to_string())))
}

/// The login of a gist's `owner` (which may be absent or `null`).
#[derive(Deserialize)]
struct Owner<'a> {
    #[serde(borrow, default)]
    login: Text<'a>,
}

fn owner(gist: &Map<String, Value>) -> Option<Obj<Owner<'static>>> {
    Some(Obj(Owner {
        login: text(
            gist.get("owner")
                .and_then(Value::as_object)
                .and_then(|owner| owner.get("login")),
        ),
    }))
}

/// A gist in the list: what the channel reads of it. `None`: absent, or of another type.
#[derive(Deserialize)]
struct ListedGist<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    owner: Option<Obj<Owner<'a>>>,
    #[serde(borrow, default)]
    html_url: Text<'a>,
    #[serde(borrow, default)]
    files: Option<BTreeMap<Str<'a>, IgnoredAny>>,
}

/// A page of the list; an item that is not an object is `None`.
struct ListPage<'a>(Vec<Option<ListedGist<'a>>>);

impl<'de> Deserialize<'de> for ListPage<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<Obj<ListedGist<'de>>>::deserialize(deserializer)?;
        Ok(ListPage(items.into_iter().map(|Obj(g)| Some(g)).collect()))
    }
}

impl ListPage<'static> {
    /// The page read from a [`Value`], member by member.
    fn lenient(value: Value, url: &str) -> Result<Self, ChannelError> {
        let items = value.as_array().ok_or_else(|| {
            bad_answer(url, "expected a JSON array of gists, found another value")
        })?;
        Ok(ListPage(
            items
                .iter()
                .map(|item| {
                    item.as_object().map(|gist| ListedGist {
                        id: text(gist.get("id")),
                        owner: owner(gist),
                        html_url: text(gist.get("html_url")),
                        files: gist.get("files").and_then(Value::as_object).map(|files| {
                            files
                                .keys()
                                .map(|name| (Str(Cow::Owned(name.clone())), IgnoredAny))
                                .collect()
                        }),
                    })
                })
                .collect(),
        ))
    }
}

/// One file of a gist; `None` members: absent, or of another type.
#[derive(Deserialize)]
struct GistFile<'a> {
    #[serde(default)]
    truncated: Option<bool>,
    #[serde(borrow, default)]
    content: Text<'a>,
}

/// A gist as `GET /gists/{id}` answers it: what the channel reads of it.
#[derive(Deserialize)]
struct Gist<'a> {
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    owner: Option<Obj<Owner<'a>>>,
    #[serde(borrow, default)]
    updated_at: Text<'a>,
    #[serde(default)]
    truncated: Option<bool>,
    /// Each file, `None` when it is not an object.
    #[serde(borrow, default, deserialize_with = "gist_files")]
    files: Option<BTreeMap<Str<'a>, Option<GistFile<'a>>>>,
}

type GistFiles<'a> = Option<BTreeMap<Str<'a>, Option<GistFile<'a>>>>;

fn gist_files<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<GistFiles<'de>, D::Error> {
    let files = Option::<Obj<BTreeMap<Str<'de>, Obj<GistFile<'de>>>>>::deserialize(deserializer)?;
    Ok(files.map(|Obj(files)| {
        files
            .into_iter()
            .map(|(name, Obj(file))| (name, Some(file)))
            .collect()
    }))
}

impl Gist<'static> {
    /// The gist read from a [`Value`], member by member.
    fn lenient(value: Value, url: &str) -> Result<Obj<Self>, ChannelError> {
        let gist = value
            .as_object()
            .ok_or_else(|| bad_answer(url, "expected a gist object, found another value"))?;
        Ok(Obj(Gist {
            id: text(gist.get("id")),
            owner: owner(gist),
            updated_at: text(gist.get("updated_at")),
            truncated: gist.get("truncated").and_then(Value::as_bool),
            files: gist.get("files").and_then(Value::as_object).map(|files| {
                files
                    .iter()
                    .map(|(name, file)| {
                        let file = file.as_object().map(|file| GistFile {
                            truncated: file.get("truncated").and_then(Value::as_bool),
                            content: text(file.get("content")),
                        });
                        (Str(Cow::Owned(name.clone())), file)
                    })
                    .collect()
            }),
        }))
    }
}

/// A string member read as [`Text`], or an error naming it.
fn str_member<'a>(member: &'a Text<'_>, name: &str, target: &str) -> Result<&'a str, ChannelError> {
    member.as_deref().ok_or_else(|| {
        bad_answer(
            target,
            format!("expected a string member {name:?} in a gist, found none"),
        )
    })
}

/// The owner's login of a gist object, if it has one (`owner` may be absent or `null`).
fn owner_login<'a>(owner: &'a Option<Obj<Owner<'_>>>) -> Option<&'a str> {
    owner.as_ref().and_then(|Obj(owner)| owner.login.as_deref())
}

/// An RFC 3339 time as GitHub writes it (`2024-05-01T12:00:00Z`) in Unix seconds.
fn unix_seconds(text: &str, target: &str) -> Result<u64, ChannelError> {
    humantime::parse_rfc3339(text)
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map(|duration| duration.as_secs())
        .ok_or_else(|| {
            bad_answer(
                target,
                format!("expected an RFC 3339 time in updated_at, found {text:?}"),
            )
        })
}

/// The URL of the `rel="next"` link in a `Link` header (RFC 8288), if any.
fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let Some(url) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            continue;
        };
        let is_next = pieces.any(|param| {
            let param = param.trim();
            param
                .strip_prefix("rel=")
                .map(|rel| rel.trim_matches('"'))
                .is_some_and(|rel| rel.split_ascii_whitespace().any(|r| r == "next"))
        });
        if is_next {
            return Some(url.to_string());
        }
    }
    None
}

/// The origin (scheme, host, port) of a URL, for the same-host rule on pagination.
fn origin(text: &str) -> Option<(String, String, Option<u16>)> {
    let url = url::Url::parse(text).ok()?;
    Some((
        url.scheme().to_string(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default(),
    ))
}

/// A gist from the list that holds at least one proof file.
struct Candidate {
    id: String,
    list_owner: Option<String>,
    html_url: String,
    files: Vec<(String, FileKind)>,
}

impl GithubChannel {
    fn request(&self, url: String) -> HttpRequest {
        HttpRequest::get(url).accept(ACCEPT).credential(CREDENTIAL)
    }

    /// Reads up to [`MAX_PAGES`] pages of the account's gists and keeps those with proof
    /// files.
    async fn list(
        &self,
        user: &str,
        net: &dyn Net,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Candidate>, ChannelError> {
        let first = format!("{}/users/{user}/gists?per_page={PER_PAGE}", self.api);
        // Parsed only when a page links to a next one (most accounts have one page).
        let mut api_origin = None;
        let mut next = Some(first.clone());
        let mut visited = HashSet::new();
        let mut seen_ids = HashSet::new();
        let mut candidates = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == MAX_PAGES {
                notes.push(format!(
                    "stopped after {MAX_PAGES} pages of gists; later pages were not read"
                ));
                break;
            }
            if !visited.insert(url.clone()) {
                return Err(bad_answer(
                    &url,
                    "pagination links loop back to a page already read",
                ));
            }
            let response = net.http_get(self.request(url.clone())).await?;
            if pages > 0 && response.status == 404 {
                return Err(bad_answer(&url, "a later page of gists answered 404"));
            }
            check_status(&response, &url, user)?;
            let ListPage(items) = json_body(&response, &url, |v| ListPage::lenient(v, &url))?;
            pages += 1;
            for item in items {
                let gist =
                    item.ok_or_else(|| bad_answer(&url, "expected a gist object in the list"))?;
                let id = str_member(&gist.id, "id", &url)?;
                if !seen_ids.insert(id.to_string()) {
                    continue;
                }
                let files = gist
                    .files
                    .as_ref()
                    .ok_or_else(|| bad_answer(&url, "expected an object member \"files\""))?;
                let proof_files: Vec<(String, FileKind)> = files
                    .keys()
                    .filter_map(|name| proof_file_kind(name).map(|kind| (name.0.to_string(), kind)))
                    .collect();
                if proof_files.is_empty() {
                    continue;
                }
                candidates.push(Candidate {
                    id: id.to_string(),
                    list_owner: owner_login(&gist.owner).map(str::to_string),
                    html_url: str_member(&gist.html_url, "html_url", &url)?.to_string(),
                    files: proof_files,
                });
            }
            if let Some(link) = response.header("link").and_then(next_link) {
                let api_origin = api_origin.get_or_insert_with(|| origin(&first));
                let link_origin = origin(&link);
                if link_origin.is_none() || link_origin != *api_origin {
                    return Err(ChannelError::Unreachable(FetchError::new(
                        FetchErrorKind::Refused,
                        &link,
                        format!(
                            "expected the next page on the API host {}, found another host",
                            self.api
                        ),
                    )));
                }
                next = Some(link);
            }
        }
        notes.push(format!(
            "{pages} page{} of gists read",
            if pages == 1 { "" } else { "s" }
        ));
        Ok(candidates)
    }

    /// Reads one candidate gist and turns its proof files into found items.
    async fn read_gist(
        &self,
        user: &str,
        candidate: &Candidate,
        net: &dyn Net,
        found: &mut Vec<Found>,
        notes: &mut Vec<String>,
    ) -> Result<(), ChannelError> {
        let location = |name: &str| format!("{}#{}", candidate.html_url, file_anchor(name));
        let wrong_owner = |owner: Option<&str>, found: &mut Vec<Found>| {
            let detail = match owner {
                Some(owner) => format!("gist {} is owned by {owner}, not {user}", candidate.id),
                None => format!("gist {} has no owner; expected {user}", candidate.id),
            };
            for (name, _) in &candidate.files {
                found.push(Found::Rejected(Rejected {
                    location: location(name),
                    reason: RejectReason::WrongPublisher,
                    detail: detail.clone(),
                }));
            }
        };
        let is_user = |owner: Option<&str>| owner.is_some_and(|o| o.eq_ignore_ascii_case(user));
        if !is_user(candidate.list_owner.as_deref()) {
            wrong_owner(candidate.list_owner.as_deref(), found);
            return Ok(());
        }
        if !candidate.id.bytes().all(|b| b.is_ascii_alphanumeric()) || candidate.id.is_empty() {
            return Err(bad_answer(
                &self.api,
                format!(
                    "expected a gist id of letters and digits, found {:?}",
                    candidate.id
                ),
            ));
        }
        let url = format!("{}/gists/{}", self.api, candidate.id);
        let response = net.http_get(self.request(url.clone())).await?;
        if response.status == 404 {
            notes.push(format!(
                "gist {} was listed but is gone (404); skipped",
                candidate.id
            ));
            return Ok(());
        }
        check_status(&response, &url, user)?;
        let Obj(gist) = json_body(&response, &url, |v| Gist::lenient(v, &url))?;
        if str_member(&gist.id, "id", &url)? != candidate.id {
            return Err(bad_answer(&url, "the gist answered with another gist's id"));
        }
        let owner = owner_login(&gist.owner);
        if !is_user(owner) {
            wrong_owner(owner, found);
            return Ok(());
        }
        let published_at = unix_seconds(str_member(&gist.updated_at, "updated_at", &url)?, &url)?;
        let files = gist
            .files
            .as_ref()
            .ok_or_else(|| bad_answer(&url, "expected an object member \"files\""))?;
        let gist_truncated = gist.truncated == Some(true);
        for (name, kind) in &candidate.files {
            let Some(Some(file)) = files.get(name.as_str()) else {
                if gist_truncated {
                    return Err(ChannelError::Unreachable(FetchError::new(
                        FetchErrorKind::TooLarge,
                        &url,
                        format!("the API truncated the file list of the gist; {name} is not in it"),
                    )));
                }
                notes.push(format!(
                    "file {name} of gist {} was listed but is gone; skipped",
                    candidate.id
                ));
                continue;
            };
            if file.truncated == Some(true) {
                return Err(ChannelError::Unreachable(FetchError::new(
                    FetchErrorKind::TooLarge,
                    &url,
                    format!(
                        "the API truncated the content of {name}; it is not read from a raw URL"
                    ),
                )));
            }
            let content = file.content.as_deref().ok_or_else(|| {
                bad_answer(&url, format!("expected a string content for file {name}"))
            })?;
            let texts = match kind {
                FileKind::Whole => vec![content.to_string()],
                FileKind::Text => proof_texts(content),
            };
            for text in texts {
                let mut proof = Proof::new(location(name), text);
                proof.published_at = Some(published_at);
                found.push(Found::Proof(proof));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Channel for GithubChannel {
    fn id(&self) -> &str {
        "github"
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        Identity::parse(&format!("github:{account}"))
            .map(|identity| identity.account().to_string())
            .map_err(|e| AccountError(e.to_string()))
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        if identity.scheme() != "github" {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} is not a github identity"
            )));
        }
        let user = identity.account();
        let mut lookup = Lookup::default();
        let candidates = self.list(user, net, &mut lookup.notes).await?;
        for candidate in &candidates {
            self.read_gist(user, candidate, net, &mut lookup.found, &mut lookup.notes)
                .await?;
        }
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Script;

    #[test]
    fn proof_file_names() {
        assert_eq!(proof_file_kind("kez.md"), Some(FileKind::Whole));
        assert_eq!(proof_file_kind("KEZ.JSON"), Some(FileKind::Whole));
        assert_eq!(proof_file_kind("Kez.Txt"), Some(FileKind::Text));
        assert_eq!(proof_file_kind("work.kez.md"), Some(FileKind::Whole));
        assert_eq!(proof_file_kind("kez.md.txt"), None);
        assert_eq!(proof_file_kind("notkez.md"), None);
        assert_eq!(proof_file_kind(".kez.md"), Some(FileKind::Whole));
        assert_eq!(proof_file_kind("readme.md"), None);
    }

    #[test]
    fn anchors_follow_github() {
        assert_eq!(file_anchor("kez.md"), "file-kez-md");
        assert_eq!(file_anchor("Work.KEZ.md"), "file-work-kez-md");
    }

    #[test]
    fn link_header_next() {
        let header = "<https://api.github.com/user/1/gists?per_page=100&page=2>; rel=\"next\", \
                      <https://api.github.com/user/1/gists?per_page=100&page=5>; rel=\"last\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/user/1/gists?per_page=100&page=2")
        );
        let last = "<https://api.github.com/user/1/gists?page=1>; rel=\"prev\", \
                    <https://api.github.com/user/1/gists?page=1>; rel=\"first\"";
        assert_eq!(next_link(last), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://API.github.com/x"),
            origin("https://api.github.com:443/y")
        );
        assert_ne!(
            origin("http://127.0.0.1:1/x"),
            origin("http://127.0.0.1:2/x")
        );
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn times_are_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:01:40Z", "t").ok(), Some(100));
        assert!(unix_seconds("yesterday", "t").is_err());
    }

    /// A fake `Net` whose every listing page answers 200 with an empty array and a `link`
    /// header built from the page's URL.
    struct Pages<F: Fn(&str) -> Option<String> + Send + Sync> {
        next: F,
        seen: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl<F: Fn(&str) -> Option<String> + Send + Sync> Net for Pages<F> {
        async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
            self.seen
                .lock()
                .map_err(|_| FetchError::new(FetchErrorKind::Connect, "", "poisoned"))?
                .push(request.url.clone());
            let mut headers = vec![("content-type".into(), "application/json".into())];
            if let Some(next) = (self.next)(&request.url) {
                headers.push(("link".into(), format!("<{next}>; rel=\"next\"")));
            }
            Ok(HttpResponse {
                url: request.url,
                status: 200,
                headers,
                body: b"[]".to_vec().into(),
                received_at: 0,
            })
        }
        async fn dns_txt(&self, name: &str) -> Result<kez_channel::TxtLookup, FetchError> {
            Err(FetchError::new(
                FetchErrorKind::Refused,
                name,
                "no dns here",
            ))
        }
        async fn nostr_events(
            &self,
            _: &kez_channel::NostrQuery,
        ) -> Result<Vec<String>, FetchError> {
            Ok(Vec::new())
        }
        fn now(&self) -> u64 {
            0
        }
    }

    fn jason() -> Identity {
        Identity::parse("github:jason").expect("identity")
    }

    async fn run<F: Fn(&str) -> Option<String> + Send + Sync>(
        next: F,
    ) -> (Result<Lookup, ChannelError>, Vec<String>) {
        let net = Pages {
            next,
            seen: std::sync::Mutex::new(Vec::new()),
        };
        let channel = GithubChannel::new("https://api.example.test".into());
        let result = channel.lookup(&jason(), &net).await;
        let seen = net.seen.lock().map(|s| s.clone()).unwrap_or_default();
        (result, seen)
    }

    #[tokio::test]
    async fn a_next_link_to_another_host_is_not_followed() {
        let (result, seen) = run(|url| {
            url.contains("/users/")
                .then(|| "https://evil.example.test/users/jason/gists?page=2".to_string())
        })
        .await;
        assert!(
            matches!(&result, Err(ChannelError::Unreachable(e)) if e.kind == FetchErrorKind::Refused),
            "{result:?}"
        );
        assert_eq!(seen.len(), 1, "{seen:?}");
    }

    #[tokio::test]
    async fn pagination_stops_after_ten_pages_and_loops_are_caught() {
        let (result, seen) = run(|url| {
            let page: usize = url.rsplit('=').next()?.parse().unwrap_or(1);
            Some(format!(
                "https://api.example.test/user/1/gists?page={}",
                page + 1
            ))
        })
        .await;
        let lookup = result.expect("ten pages read");
        assert_eq!(seen.len(), MAX_PAGES);
        assert!(lookup
            .notes
            .iter()
            .any(|n| n.contains("stopped after 10 pages")));

        let (result, seen) =
            run(|_| Some("https://api.example.test/user/1/gists?page=1".into())).await;
        assert!(
            matches!(&result, Err(ChannelError::Unreachable(e)) if e.kind == FetchErrorKind::BadAnswer),
            "{result:?}"
        );
        assert_eq!(seen.len(), 2, "{seen:?}");
    }

    /// Headers to answer with.
    type Headers<'a> = &'a [(&'a str, &'a str)];

    const API: &str = "https://api.example.test";
    const LIST: &str = "https://api.example.test/users/jason/gists?per_page=100";

    /// A script whose unscripted URLs answer 404, like the API.
    fn script() -> Script {
        Script::otherwise(404, "{\"message\":\"Not Found\"}")
    }

    /// Looks jason up through the script.
    trait LookupJason {
        async fn lookup(&self) -> Result<Lookup, ChannelError>;
    }

    impl LookupJason for Script {
        async fn lookup(&self) -> Result<Lookup, ChannelError> {
            GithubChannel::new(API.into()).lookup(&jason(), self).await
        }
    }

    fn gist_url(id: &str) -> String {
        format!("{API}/gists/{id}")
    }

    /// A gist as the list shows it, with these file names.
    fn listed(id: &str, owner: Option<&str>, files: &[&str]) -> Value {
        let files: Map<String, Value> = files
            .iter()
            .map(|name| (name.to_string(), serde_json::json!({"filename": name})))
            .collect();
        serde_json::json!({
            "id": id,
            "owner": owner.map(|login| serde_json::json!({"login": login})),
            "html_url": format!("https://gist.github.com/{id}"),
            "files": files,
        })
    }

    /// A gist as `GET /gists/<id>` answers, with these files (name, content).
    fn gist(id: &str, owner: Option<&str>, files: &[(&str, &str)]) -> Value {
        let files: Map<String, Value> = files
            .iter()
            .map(|(name, content)| {
                (
                    name.to_string(),
                    serde_json::json!({"filename": name, "content": content, "truncated": false}),
                )
            })
            .collect();
        serde_json::json!({
            "id": id,
            "owner": owner.map(|login| serde_json::json!({"login": login})),
            "html_url": format!("https://gist.github.com/{id}"),
            "updated_at": "2024-05-01T00:00:00Z",
            "truncated": false,
            "files": files,
        })
    }

    fn unreachable_kind(result: Result<Lookup, ChannelError>) -> FetchErrorKind {
        match result {
            Err(ChannelError::Unreachable(e)) => e.kind,
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    /// Members the channel skips are still read as strictly as before the typed parse.
    /// RFC 8259 allows unpaired surrogate escapes and numbers of any size; a member the
    /// channel does not read is not interpreted, so they do not make the answer malformed.
    #[tokio::test]
    async fn members_the_channel_does_not_read_are_not_interpreted() {
        for odd in [r#""\ud800""#, "1e999", r#""\udc00 and \ud83d""#] {
            let body = format!(
                r#"[{{"id":"abc","owner":{{"login":"jason"}},"html_url":"https://gist.github.com/abc","files":{{}},"description":{odd}}}]"#
            );
            let net = script().answer(LIST, 200, body);
            match net.lookup().await {
                Ok(lookup) => assert!(lookup.found.is_empty(), "{odd}: {:?}", lookup.found),
                other => panic!("{odd}: expected an empty lookup, got {other:?}"),
            }
        }
    }

    /// In a member the channel reads, the same values are malformed JSON; and a body that is
    /// not UTF-8 is malformed wherever the bad bytes are (RFC 8259 §8.1).
    #[tokio::test]
    async fn unpaired_surrogates_in_read_members_and_non_utf8_bodies_are_malformed_json() {
        let in_a_read_member = r#"[{"id":"abc","owner":{"login":"jason"},"html_url":"https://gist.github.com/\ud800","files":{"kez.md":{}}}]"#;
        let mut not_utf8 = br#"[{"id":"abc","owner":{"login":"jason"},"html_url":"https://gist.github.com/abc","files":{},"description":"x"#.to_vec();
        not_utf8.extend_from_slice(b"\xff\"}]");
        for (name, body) in [
            ("read member", in_a_read_member.as_bytes().to_vec()),
            ("not UTF-8", not_utf8),
        ] {
            let net = script().answer(LIST, 200, body);
            match net.lookup().await {
                Err(ChannelError::Unreachable(e)) => {
                    assert_eq!(e.kind, FetchErrorKind::BadAnswer, "{name}");
                    assert!(e.detail.contains("malformed JSON"), "{name}: {e}");
                }
                other => panic!("{name}: expected unreachable, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_listed_gist_id_that_is_not_letters_and_digits_is_a_bad_answer() {
        for id in ["../../users/x", "ab-12", "ab%2F12", ""] {
            let net = script().answer(
                LIST,
                200,
                Value::Array(vec![listed(id, Some("jason"), &["kez.md"])]).to_string(),
            );
            assert_eq!(
                unreachable_kind(net.lookup().await),
                FetchErrorKind::BadAnswer,
                "{id:?}"
            );
            assert_eq!(
                net.urls(),
                [LIST],
                "{id:?}: nothing but the list is fetched"
            );
        }
    }

    #[tokio::test]
    async fn a_gist_without_an_owner_is_rejected_naming_the_account() {
        // No owner in the list: rejected without fetching the gist.
        let net = script().answer(
            LIST,
            200,
            Value::Array(vec![listed("aa11", None, &["kez.md"])]).to_string(),
        );
        let lookup = net.lookup().await.expect("lookup");
        assert_eq!(lookup.proofs().count(), 0);
        let rejected: Vec<_> = lookup.rejected().collect();
        assert_eq!(rejected.len(), 1, "{:?}", lookup.found);
        assert_eq!(rejected[0].reason, RejectReason::WrongPublisher);
        assert!(
            rejected[0].detail.contains("aa11") && rejected[0].detail.contains("jason"),
            "{:?}",
            rejected[0]
        );
        assert_eq!(net.urls(), [LIST]);

        // Owned by jason in the list, by nobody in the gist itself.
        let net = script()
            .answer(
                LIST,
                200,
                Value::Array(vec![listed("bb22", Some("jason"), &["kez.md"])]).to_string(),
            )
            .answer(
                &gist_url("bb22"),
                200,
                gist("bb22", None, &[("kez.md", "kez:z1:x")]).to_string(),
            );
        let lookup = net.lookup().await.expect("lookup");
        assert_eq!(lookup.proofs().count(), 0, "{:?}", lookup.found);
        let rejected: Vec<_> = lookup.rejected().collect();
        assert_eq!(rejected.len(), 1, "{:?}", lookup.found);
        assert_eq!(rejected[0].reason, RejectReason::WrongPublisher);
        assert_eq!(
            rejected[0].location,
            "https://gist.github.com/bb22#file-kez-md"
        );
    }

    #[tokio::test]
    async fn a_kez_txt_without_a_proof_text_holds_no_proof() {
        let text = "no proof in here, just notes";
        let net = script()
            .answer(
                LIST,
                200,
                Value::Array(vec![
                    listed("aa11", Some("jason"), &["kez.txt"]),
                    listed("bb22", Some("jason"), &["kez.md"]),
                ])
                .to_string(),
            )
            .answer(
                &gist_url("aa11"),
                200,
                gist("aa11", Some("jason"), &[("kez.txt", text)]).to_string(),
            )
            .answer(
                &gist_url("bb22"),
                200,
                gist("bb22", Some("jason"), &[("kez.md", text)]).to_string(),
            );
        let lookup = net.lookup().await.expect("lookup");
        assert_eq!(lookup.rejected().count(), 0);
        let proofs: Vec<(&str, &str)> = lookup
            .proofs()
            .map(|p| (p.location.as_str(), p.content.as_str()))
            .collect();
        // The kez.txt gives nothing; the kez.md is returned whole, whatever it holds.
        assert_eq!(
            proofs,
            [("https://gist.github.com/bb22#file-kez-md", text)],
            "{:?}",
            lookup.found
        );
    }

    #[tokio::test]
    async fn a_gist_deleted_after_listing_is_skipped_with_a_note() {
        let net = script()
            .answer(
                LIST,
                200,
                Value::Array(vec![
                    listed("aa11", Some("jason"), &["kez.md"]),
                    listed("bb22", Some("jason"), &["kez.txt"]),
                ])
                .to_string(),
            )
            .answer(&gist_url("aa11"), 404, "{\"message\":\"Not Found\"}")
            .answer(
                &gist_url("bb22"),
                200,
                gist("bb22", Some("jason"), &[("kez.txt", "kez:z1:kept")]).to_string(),
            );
        let lookup = net.lookup().await.expect("a deleted gist is no error");
        let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
        assert_eq!(contents, ["kez:z1:kept"]);
        assert!(
            lookup
                .notes
                .iter()
                .any(|n| n.contains("aa11") && n.contains("404")),
            "{:?}",
            lookup.notes
        );
    }

    #[tokio::test]
    async fn other_statuses_are_unreachable_by_kind() {
        let one_gist = Value::Array(vec![listed("aa11", Some("jason"), &["kez.md"])]).to_string();
        let cases: [(u16, Headers<'_>, FetchErrorKind); 6] = [
            (403, &[], FetchErrorKind::BadAnswer),
            (
                403,
                &[("x-ratelimit-remaining", "12")],
                FetchErrorKind::BadAnswer,
            ),
            (
                403,
                &[("x-ratelimit-remaining", "0")],
                FetchErrorKind::RateLimited,
            ),
            (429, &[], FetchErrorKind::RateLimited),
            (418, &[], FetchErrorKind::BadAnswer),
            (503, &[], FetchErrorKind::ServerError),
        ];
        for (status, headers, kind) in cases {
            // On the list…
            let net = script().answer_with(LIST, status, headers, "{}");
            assert_eq!(
                unreachable_kind(net.lookup().await),
                kind,
                "list {status} {headers:?}"
            );
            // …and on a gist.
            let net = script().answer(LIST, 200, one_gist.clone()).answer_with(
                &gist_url("aa11"),
                status,
                headers,
                "{}",
            );
            assert_eq!(
                unreachable_kind(net.lookup().await),
                kind,
                "gist {status} {headers:?}"
            );
        }
    }

    #[tokio::test]
    async fn answers_without_the_members_used_are_bad_answers() {
        let good_list = || Value::Array(vec![listed("aa11", Some("jason"), &["kez.md"])]);
        let good_gist = || gist("aa11", Some("jason"), &[("kez.md", "kez:z1:x")]);
        // The good pair is found, so each change below is what makes the answer bad.
        let net = script().answer(LIST, 200, good_list().to_string()).answer(
            &gist_url("aa11"),
            200,
            good_gist().to_string(),
        );
        assert_eq!(net.lookup().await.expect("lookup").proofs().count(), 1);

        let mut lists: Vec<String> = vec!["not json".into(), "{\"gists\":[]}".into()];
        for member in ["id", "files", "html_url"] {
            let mut list = good_list();
            if let Some(gist) = list.get_mut(0).and_then(Value::as_object_mut) {
                gist.remove(member);
            }
            lists.push(list.to_string());
        }
        for list in lists {
            let net = script().answer(LIST, 200, list.clone()).answer(
                &gist_url("aa11"),
                200,
                good_gist().to_string(),
            );
            assert_eq!(
                unreachable_kind(net.lookup().await),
                FetchErrorKind::BadAnswer,
                "list {list}"
            );
        }

        let mut gists: Vec<String> = vec!["not json".into(), "[]".into()];
        for (pointer, value) in [
            ("/id", Value::Null),
            ("/updated_at", Value::Null),
            ("/updated_at", Value::from("yesterday")),
            ("/updated_at", Value::from(1_714_521_600)),
            ("/files", Value::Null),
            ("/files/kez.md/content", Value::Null),
            ("/files/kez.md/content", Value::from(7)),
        ] {
            let mut gist = good_gist();
            if let Some(slot) = gist.pointer_mut(pointer) {
                *slot = value;
            }
            gists.push(gist.to_string());
        }
        for gist in gists {
            let net = script().answer(LIST, 200, good_list().to_string()).answer(
                &gist_url("aa11"),
                200,
                gist.clone(),
            );
            assert_eq!(
                unreachable_kind(net.lookup().await),
                FetchErrorKind::BadAnswer,
                "gist {gist}"
            );
        }
    }

    #[tokio::test]
    async fn a_proof_file_missing_from_a_truncated_gist_is_too_large() {
        let list = Value::Array(vec![listed("aa11", Some("jason"), &["kez.md"])]).to_string();
        let mut truncated = gist("aa11", Some("jason"), &[("other.txt", "x")]);
        truncated["truncated"] = Value::Bool(true);
        let net = script().answer(LIST, 200, list.clone()).answer(
            &gist_url("aa11"),
            200,
            truncated.to_string(),
        );
        assert_eq!(
            unreachable_kind(net.lookup().await),
            FetchErrorKind::TooLarge
        );
        // The same gist not marked truncated: the file is gone, skipped with a note.
        let net = script().answer(LIST, 200, list).answer(
            &gist_url("aa11"),
            200,
            gist("aa11", Some("jason"), &[("other.txt", "x")]).to_string(),
        );
        let lookup = net.lookup().await.expect("lookup");
        assert!(lookup.found.is_empty(), "{:?}", lookup.found);
        assert!(
            net.urls().iter().all(|u| u.starts_with(API)),
            "{:?}",
            net.urls()
        );
    }

    #[test]
    fn normalise_follows_identity_rules() {
        let channel = GithubChannel::new("https://api.github.com/".into());
        assert_eq!(channel.api_base(), "https://api.github.com");
        assert_eq!(channel.normalise("@Jason").ok().as_deref(), Some("jason"));
        assert!(channel.normalise("jаson").is_err()); // Cyrillic а
        assert!(channel.normalise("-jason").is_err());
        assert!(channel.normalise("ja--son").is_err());
    }
}
