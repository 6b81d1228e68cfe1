//! Reading the inputs of a check: telling the kind of a path, and loading `.creds`
//! files, JWT files, NSC stores, key stores and nats-server configs.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::findings::Code;
use super::token::{self, Entity, Node, Scratch};
use super::{CheckError, Counts, Finding, InputKind};
use crate::claims::{AccountClaims, OperatorClaims, UserClaims};
use crate::creds;
use crate::layout::{self, NSC_FILE};
use crate::nkey::{self, Seed};
use crate::parallel::parallel_map;
use crate::serverconf::{self, ConfValue};

/// The largest file read.
pub(crate) const MAX_FILE: u64 = 1 << 20;

/// Everything loaded so far, and the findings.
pub(crate) struct Context {
    base: PathBuf,
    pub(crate) now: i64,
    pub(crate) findings: Vec<Finding>,
    pub(crate) counts: Counts,
    pub(crate) operators: Vec<Node<OperatorClaims>>,
    pub(crate) accounts: Vec<Node<AccountClaims>>,
    pub(crate) users: Vec<Node<UserClaims>>,
    /// Whether every account of the operator is expected among the inputs.
    pub(crate) all_accounts: bool,
    /// A `system_account` set in a server config.
    pub(crate) config_system_account: Option<String>,
    seen: HashSet<String>,
    threads: usize,
    prefetched: Prefetched,
    /// Key files that hold the seed their name says, by public key: a `.creds` seed
    /// equal to one is known to be that key without deriving it again.
    key_seeds: HashMap<String, Seed>,
}

/// Work done on several threads before the walk over a store or home, which stays
/// sequential so that findings come in the same order whatever the thread count: file
/// contents, key files' seeds with their public keys derived, and each distinct JWT
/// examined on its own (decoded, its signature verified, …). Only a cache: what is not in it is done when
/// needed, as without it.
#[derive(Default)]
struct Prefetched {
    /// By path (its bytes: hashing a `Path` walks its components); each part is taken
    /// when used.
    files: HashMap<OsString, PrefetchedFile>,
    /// JWT text → its findings (unlocated) and entity, from [`token::examine`].
    examined: HashMap<String, Examined>,
    /// JWT text → its `sub` and whether its type is `user`, when it decodes.
    subjects: HashMap<String, (String, bool)>,
}

/// A JWT examined on its own: its findings (without a location) and its entity.
type Examined = (Vec<(Code, String)>, Option<Entity>);

/// One file read ahead.
struct PrefetchedFile {
    text: Option<String>,
    /// Permission bits.
    mode: Option<u32>,
    /// For a key file: its seed, public key derived.
    seed: Option<Seed>,
    /// For a `.creds` file: [`creds::parse`] of its text.
    creds: Option<Result<creds::Creds, creds::CredsError>>,
}

/// A JWT's `sub` and whether its type is `user`, when it decodes.
fn raw_subject(text: &str) -> Option<(String, bool)> {
    crate::jwt::Jwt::decode(text)
        .ok()
        .map(|j| (j.subject().to_string(), j.claim_type_text() == Some("user")))
}

impl Context {
    pub(crate) fn new(path: &Path, now: i64, threads: usize) -> Self {
        let base = if path.is_dir() {
            path.to_owned()
        } else {
            path.parent().map(Path::to_owned).unwrap_or_default()
        };
        Self {
            base,
            now,
            findings: Vec::new(),
            counts: Counts::default(),
            operators: Vec::new(),
            accounts: Vec::new(),
            users: Vec::new(),
            all_accounts: false,
            config_system_account: None,
            seen: HashSet::new(),
            threads: crate::parallel::threads(threads),
            prefetched: Prefetched::default(),
            key_seeds: HashMap::new(),
        }
    }

    /// Reads, on several threads, the `.jwt`, `.nk` and `.creds` files under `roots`
    /// (regular files only, symbolic links not followed), derives the public keys of
    /// the seeds in key files and examines each distinct JWT.
    fn prefetch(&mut self, roots: &[PathBuf]) {
        let mut found = Vec::new();
        for root in roots {
            collect_prefetchable(root, &mut found);
        }
        let (paths, modes): (Vec<PathBuf>, Vec<u32>) = found.into_iter().unzip();
        let read = parallel_map(self.threads, paths.len(), |i| {
            let path = &paths[i];
            let bytes = fs::read(path).ok()?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let (mut seed, mut parsed) = (None, None);
            match path.extension().and_then(|e| e.to_str()) {
                Some("nk") => {
                    seed = nkey::seed_from_decorated(&text).ok().inspect(|s| {
                        s.public_key();
                    })
                }
                Some("creds") => parsed = Some(creds::parse(&text)),
                _ => {}
            }
            Some((text, seed, parsed))
        });
        let mut jwts = HashSet::new();
        for (path, found) in paths.iter().zip(&read) {
            let Some((text, _, _)) = found else { continue };
            match path.extension().and_then(|e| e.to_str()) {
                Some("jwt") => {
                    jwts.insert(text.trim());
                }
                Some("creds") => {
                    if let Some(block) = creds::blocks(text).first() {
                        jwts.insert(block.trim());
                    }
                }
                _ => {}
            }
        }
        let jwts: Vec<&str> = jwts.into_iter().collect();
        let now = self.now;
        let examined = parallel_map(self.threads, jwts.len(), |i| {
            let mut scratch = Scratch {
                now,
                findings: Vec::new(),
            };
            let decoded = crate::jwt::Jwt::decode(jwts[i]);
            let subject = decoded
                .as_ref()
                .ok()
                .map(|j| (j.subject().to_string(), j.claim_type_text() == Some("user")));
            let entity = token::examine_decoded(&mut scratch, "", decoded);
            (scratch.findings, entity, subject)
        });
        let prefetched = &mut self.prefetched;
        prefetched.examined.reserve(jwts.len());
        for (text, (findings, entity, subject)) in jwts.iter().zip(examined) {
            if let Some(subject) = subject {
                prefetched.subjects.insert(text.to_string(), subject);
            }
            prefetched
                .examined
                .insert(text.to_string(), (findings, entity));
        }
        prefetched.files.reserve(paths.len());
        for ((path, found), mode) in paths.into_iter().zip(read).zip(modes) {
            let Some((text, seed, creds)) = found else {
                continue;
            };
            let file = PrefetchedFile {
                text: Some(text),
                mode: Some(mode),
                seed,
                creds,
            };
            prefetched.files.insert(path.into_os_string(), file);
        }
    }

    fn prefetched(&mut self, path: &Path) -> Option<&mut PrefetchedFile> {
        self.prefetched.files.get_mut(path.as_os_str())
    }

    /// Reads `path`: what [`read`] returns, taken from the prefetched files when there.
    fn read(&mut self, path: &Path) -> Result<String, CheckError> {
        match self.prefetched(path).and_then(|f| f.text.take()) {
            Some(text) => Ok(text),
            None => read(path),
        }
    }

    pub(crate) fn push(&mut self, code: Code, location: &str, message: impl Into<String>) {
        self.findings.push(Finding::new(code, location, message));
    }

    fn location(&self, path: &Path) -> String {
        let shown = path.strip_prefix(&self.base).unwrap_or(path);
        if shown.as_os_str().is_empty() {
            path.display().to_string()
        } else {
            shown.display().to_string()
        }
    }

    /// Decodes a JWT once: the same token met again (a store and a config preloading
    /// it) is not examined twice.
    fn add_jwt(&mut self, location: &str, text: &str) -> Option<Entity> {
        let text = text.trim();
        if !self.seen.insert(text.to_string()) {
            return None;
        }
        let entity = match self.prefetched.examined.remove(text) {
            Some((findings, entity)) => {
                for (code, message) in findings {
                    self.push(code, location, message);
                }
                entity?.located(location)
            }
            None => token::examine(self, location, text)?,
        };
        match &entity {
            Entity::Operator(node) => {
                self.counts.operators += 1;
                self.operators.push(node.clone());
            }
            Entity::Account(node) => {
                self.counts.accounts += 1;
                self.accounts.push(node.clone());
            }
            Entity::User(node) => {
                self.counts.users += 1;
                self.users.push(node.clone());
            }
        }
        Some(entity)
    }

    /// Loads `path`, whatever it is.
    pub(crate) fn load(&mut self, path: &Path) -> Result<InputKind, CheckError> {
        let metadata = fs::metadata(path).map_err(|error| CheckError::Io {
            path: path.to_owned(),
            error,
        })?;
        if metadata.is_dir() {
            if path.join(NSC_FILE).is_file() {
                self.all_accounts = true;
                let keystore = path
                    .parent()
                    .and_then(Path::parent)
                    .map(|home| home.join(layout::KEYSTORE_DIR))
                    .filter(|k| k.is_dir());
                let mut roots = vec![path.to_owned()];
                roots.extend(keystore.clone());
                self.prefetch(&roots);
                self.load_store(path)?;
                if let Some(keystore) = keystore {
                    self.load_keystore(&keystore)?;
                }
                return Ok(InputKind::Store);
            }
            if path.join(layout::STORES_DIR).is_dir() {
                self.all_accounts = true;
                self.prefetch(&[
                    path.join(layout::STORES_DIR),
                    path.join(layout::KEYSTORE_DIR),
                ]);
                self.load_home(path)?;
                return Ok(InputKind::Home);
            }
            return Err(CheckError::UnknownInput {
                path: path.to_owned(),
            });
        }
        let text = read(path)?;
        let blocks = creds::blocks(&text);
        if blocks.len() >= 2 && blocks[1].starts_with('S') {
            self.load_creds(path, &text);
            return Ok(InputKind::Creds);
        }
        let trimmed = text.trim();
        if blocks.first().is_some_and(|b| b.starts_with("eyJ"))
            || (trimmed.starts_with("eyJ") && !trimmed.contains(char::is_whitespace))
        {
            let jwt = blocks.first().copied().unwrap_or(trimmed);
            let location = self.location(path);
            self.add_jwt(&location, jwt);
            return Ok(InputKind::Jwt);
        }
        match serverconf::parse(&text) {
            Ok(conf)
                if ["operator", "resolver", "resolver_preload", "trusted_keys"]
                    .iter()
                    .any(|k| conf.get(k).is_some()) =>
            {
                self.all_accounts = true;
                self.load_config(path, &conf);
                Ok(InputKind::ServerConfig)
            }
            _ => Err(CheckError::UnknownInput {
                path: path.to_owned(),
            }),
        }
    }

    fn load_home(&mut self, home: &Path) -> Result<(), CheckError> {
        for store in sorted_entries(&home.join(layout::STORES_DIR))? {
            if store.join(NSC_FILE).is_file() {
                self.load_store(&store)?;
            }
        }
        let keystore = home.join(layout::KEYSTORE_DIR);
        if keystore.is_dir() {
            self.load_keystore(&keystore)?;
        }
        for entry in sorted_entries(home)? {
            if entry.extension().is_some_and(|e| e == "conf") && entry.is_file() {
                let text = read(&entry)?;
                match serverconf::parse(&text) {
                    Ok(conf) => self.load_config(&entry, &conf),
                    Err(e) => {
                        let location = self.location(&entry);
                        self.push(Code::ConfigMalformed, &location, e.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    fn load_store(&mut self, store: &Path) -> Result<(), CheckError> {
        let nsc_path = store.join(NSC_FILE);
        let location = self.location(&nsc_path);
        let text = read(&nsc_path)?;
        let info: serde_json::Value = match serde_json::from_str(&text) {
            Ok(info) => info,
            Err(e) => {
                self.push(
                    Code::StoreInvalid,
                    &location,
                    format!(".nsc is not JSON: {e}"),
                );
                return Ok(());
            }
        };
        let name = info.get("name").and_then(|n| n.as_str()).unwrap_or("");
        if info.get("kind").and_then(|k| k.as_str()) != Some("operator") || name.is_empty() {
            self.push(
                Code::StoreInvalid,
                &location,
                ".nsc does not name an operator store (kind \"operator\", a name)",
            );
            return Ok(());
        }
        let name = name.to_string();
        if store
            .file_name()
            .is_some_and(|d| d.to_string_lossy() != name)
        {
            self.push(
                Code::StoreNameMismatch,
                &location,
                format!("the store of operator {name:?} is in a directory of another name"),
            );
        }
        let operator_path = store.join(layout::jwt_name(&name));
        if !operator_path.is_file() {
            self.push(
                Code::StoreInvalid,
                &location,
                format!("no operator JWT {}", layout::jwt_name(&name)),
            );
        } else {
            let text = self.read(&operator_path)?;
            let location = self.location(&operator_path);
            match self.add_jwt(&location, &text) {
                Some(Entity::Operator(node)) => {
                    self.name_matches(&location, &node.claims.data.name, &name)
                }
                Some(_) => self.push(Code::StoreInvalid, &location, "not an operator JWT"),
                None => {}
            }
        }
        let accounts = store.join("accounts");
        if !accounts.is_dir() {
            return Ok(());
        }
        for dir in sorted_entries(&accounts)? {
            if !dir.is_dir() {
                continue;
            }
            let dir_name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let account_path = dir.join(layout::jwt_name(&dir_name));
            if account_path.is_file() {
                let location = self.location(&account_path);
                let text = self.read(&account_path)?;
                match self.add_jwt(&location, &text) {
                    Some(Entity::Account(node)) => {
                        self.name_matches(&location, &node.claims.data.name, &dir_name)
                    }
                    Some(_) => self.push(Code::StoreInvalid, &location, "not an account JWT"),
                    None => {}
                }
            }
            let users = dir.join("users");
            if !users.is_dir() {
                continue;
            }
            for user_path in sorted_entries(&users)? {
                if user_path.extension().is_none_or(|e| e != "jwt") {
                    continue;
                }
                let stem = user_path
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let location = self.location(&user_path);
                let text = self.read(&user_path)?;
                match self.add_jwt(&location, &text) {
                    Some(Entity::User(node)) => {
                        self.name_matches(&location, &node.claims.data.name, &stem)
                    }
                    Some(_) => self.push(Code::StoreInvalid, &location, "not a user JWT"),
                    None => {}
                }
            }
        }
        Ok(())
    }

    fn name_matches(&mut self, location: &str, claimed: &str, filed: &str) {
        if claimed.trim() != filed {
            self.push(
                Code::StoreNameMismatch,
                location,
                format!("filed as {filed:?} but its name claim is {claimed:?}"),
            );
        }
    }

    fn check_mode(&mut self, path: &Path, location: &str) {
        #[cfg(unix)]
        {
            let mode = match self.prefetched(path).and_then(|f| f.mode.take()) {
                Some(mode) => Some(mode),
                None => fs::metadata(path).ok().map(|m| mode_of(&m)),
            };
            if let Some(mode) = mode {
                if mode & 0o077 != 0 {
                    self.push(
                        Code::StoreFileMode,
                        location,
                        format!("mode {mode:04o}; expected 0600"),
                    );
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (path, location);
        }
    }

    fn load_keystore(&mut self, keystore: &Path) -> Result<(), CheckError> {
        let mut files = Vec::new();
        walk(&keystore.join("keys"), &mut files)?;
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "nk"))
        {
            self.counts.keys += 1;
            let location = self.location(path);
            self.check_mode(path, &location);
            let text = self.read(path)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let seed = match self.prefetched(path).and_then(|f| f.seed.take()) {
                Some(seed) => Ok(seed),
                None => nkey::seed_from_decorated(&text),
            };
            match seed {
                Err(e) => self.push(
                    Code::StoreKeyMismatch,
                    &location,
                    format!("not a seed: {e}"),
                ),
                Ok(seed) => {
                    let public = seed.public_key().to_string();
                    if public != stem {
                        self.push(
                            Code::StoreKeyMismatch,
                            &location,
                            format!("holds the seed of {public}"),
                        );
                    } else if layout::key_path(keystore, &public) != *path {
                        self.push(
                            Code::StoreKeyMismatch,
                            &location,
                            "not in nsc's keys/<K>/<XY>/ directory for its key",
                        );
                    } else {
                        self.key_seeds.insert(public, seed);
                    }
                }
            }
        }
        let mut creds_files = Vec::new();
        walk(&keystore.join("creds"), &mut creds_files)?;
        for path in creds_files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "creds"))
        {
            // Parsed ahead with the text read ahead, or now.
            let parsed = match self.prefetched(path).and_then(|f| f.text.take()) {
                Some(_) => self.prefetched(path).and_then(|f| f.creds.take()),
                None => None,
            };
            let parsed = match parsed {
                Some(parsed) => parsed,
                None => creds::parse(&self.read(path)?),
            };
            self.load_parsed_creds(path, parsed);
        }
        Ok(())
    }

    fn load_creds(&mut self, path: &Path, text: &str) {
        self.load_parsed_creds(path, creds::parse(text));
    }

    fn load_parsed_creds(&mut self, path: &Path, parsed: Result<creds::Creds, creds::CredsError>) {
        self.counts.creds += 1;
        let location = self.location(path);
        self.check_mode(path, &location);
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                self.push(Code::CredsMalformed, &location, e.to_string());
                return;
            }
        };
        for deviation in parsed.deviations() {
            self.push(Code::CredsLayout, &location, deviation.to_string());
        }
        let jwt = parsed.jwt().to_string();
        // Examine the JWT even when a store already had it: the seed still needs its
        // comparison, and a copy that differs from the store's is examined in full.
        let user_sub = if self.seen.contains(jwt.trim()) {
            match self.prefetched.subjects.get(jwt.trim()) {
                Some(found) => Some(found.clone()),
                None => raw_subject(jwt.trim()),
            }
        } else {
            match self.add_jwt(&location, &jwt) {
                Some(Entity::User(node)) => Some((node.subject().to_string(), true)),
                Some(_) => Some((String::new(), false)),
                None => None,
            }
        };
        match user_sub {
            Some((_, false)) => {
                self.push(Code::CredsNotUser, &location, "the JWT is not a user JWT")
            }
            Some((sub, true)) => {
                // A seed equal to the key file of `sub` (whose public key was derived
                // and found to be `sub`) is that key: no need to derive it again.
                let known = self
                    .key_seeds
                    .get(&sub)
                    .is_some_and(|k| k.same_as(parsed.seed()));
                if !known {
                    let seed_key = parsed.seed().public_key();
                    if sub != seed_key.to_string() {
                        self.push(
                            Code::CredsSeedMismatch,
                            &location,
                            format!("the seed is the key of {seed_key}, the JWT's sub is {sub}"),
                        );
                    }
                }
            }
            None => {}
        }
    }

    fn load_config(&mut self, path: &Path, conf: &ConfValue) {
        self.counts.configs += 1;
        let location = self.location(path);
        if conf.get("include").is_some() {
            self.push(Code::ConfigUnfollowed, &location, "include is not followed");
        }
        match conf.get("operator") {
            None => self.push(
                Code::ConfigOperatorMissing,
                &location,
                "no operator: not operator mode",
            ),
            Some(value) => {
                let items: Vec<&ConfValue> = match value {
                    ConfValue::List(items) => items.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    self.config_operator(path, &location, item);
                }
            }
        }
        match conf.get("resolver") {
            None => self.push(
                Code::ConfigResolverMissing,
                &location,
                "no resolver: nats-server needs one in operator mode",
            ),
            Some(ConfValue::Str(s)) if s.to_uppercase().starts_with("URL(") => self.push(
                Code::ConfigUnfollowed,
                &location,
                "a URL resolver is not queried",
            ),
            Some(ConfValue::Str(s)) if s.eq_ignore_ascii_case("MEMORY") => {}
            Some(ConfValue::Map(_)) => {}
            Some(other) => self.push(
                Code::ConfigMalformed,
                &location,
                format!("resolver is neither MEMORY, URL(…) nor a map: {other:?}"),
            ),
        }
        if let Some(value) = conf.get("system_account") {
            match value.as_str() {
                Some(s) if s.starts_with('$') => self.push(
                    Code::ConfigUnfollowed,
                    &location,
                    "system_account is a variable",
                ),
                Some(s) if token::is_key(s, nkey::Role::Account) => {
                    self.config_system_account = Some(s.to_string())
                }
                _ => self.push(
                    Code::ChainSigningKeyInvalid,
                    &location,
                    "system_account is not an account public key",
                ),
            }
        }
        match conf.get("resolver_preload") {
            Some(ConfValue::Map(entries)) => {
                for (key, value) in entries {
                    let short: String = key.chars().take(12).collect();
                    let entry_location = format!("{location}: resolver_preload.{short}…");
                    let Some(jwt) = value.as_str() else {
                        self.push(Code::ConfigMalformed, &entry_location, "not a JWT string");
                        continue;
                    };
                    if jwt.starts_with('$') {
                        self.push(Code::ConfigUnfollowed, &entry_location, "a variable");
                        continue;
                    }
                    let subject = crate::jwt::Jwt::decode(jwt.trim())
                        .map(|j| j.subject().to_string())
                        .unwrap_or_default();
                    if !subject.is_empty() && subject != *key {
                        self.push(
                            Code::ConfigPreloadMismatch,
                            &entry_location,
                            format!("the key is {key} but the JWT's sub is {subject}"),
                        );
                    }
                    match self.add_jwt(&entry_location, jwt) {
                        Some(Entity::Account(_)) | None => {}
                        Some(_) => self.push(
                            Code::ConfigPreloadMismatch,
                            &entry_location,
                            "not an account JWT",
                        ),
                    }
                }
            }
            Some(_) => self.push(
                Code::ConfigMalformed,
                &location,
                "resolver_preload is not a map",
            ),
            None => {}
        }
    }

    fn config_operator(&mut self, path: &Path, location: &str, value: &ConfValue) {
        let Some(text) = value.as_str() else {
            self.push(
                Code::ConfigOperatorMissing,
                location,
                "operator is not a string",
            );
            return;
        };
        if text.starts_with('$') {
            self.push(Code::ConfigUnfollowed, location, "operator is a variable");
            return;
        }
        if text.starts_with("eyJ") {
            let here = format!("{location}: operator");
            match self.add_jwt(&here, text) {
                Some(Entity::Operator(_)) | None => {}
                Some(_) => self.push(Code::ConfigOperatorMissing, &here, "not an operator JWT"),
            }
            return;
        }
        // A path: nats-server resolves it against its working directory; try the
        // config's directory first.
        let candidates = [
            path.parent().map(|d| d.join(text)).unwrap_or_default(),
            PathBuf::from(text),
        ];
        let Some(file) = candidates.iter().find(|p| p.is_file()) else {
            self.push(
                Code::ConfigOperatorMissing,
                location,
                format!("operator file {text:?} cannot be found"),
            );
            return;
        };
        match read(file) {
            Ok(contents) => {
                let blocks = creds::blocks(&contents);
                let jwt = blocks.first().copied().unwrap_or(contents.trim());
                let here = self.location(file);
                match self.add_jwt(&here, jwt) {
                    Some(Entity::Operator(_)) | None => {}
                    Some(_) => self.push(Code::ConfigOperatorMissing, &here, "not an operator JWT"),
                }
            }
            Err(e) => self.push(Code::ConfigOperatorMissing, location, e.to_string()),
        }
    }
}

fn read(path: &Path) -> Result<String, CheckError> {
    let io = |error| CheckError::Io {
        path: path.to_owned(),
        error,
    };
    let metadata = fs::metadata(path).map_err(io)?;
    if metadata.len() > MAX_FILE {
        return Err(CheckError::TooLarge {
            path: path.to_owned(),
        });
    }
    let bytes = fs::read(path).map_err(io)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Appends the regular `.jwt`, `.nk` and `.creds` files under `dir` of at most
/// [`MAX_FILE`] bytes, without following symbolic links.
fn collect_prefetchable(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            collect_prefetchable(&path, out);
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e == "jwt" || e == "nk" || e == "creds")
        {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.len() <= MAX_FILE {
                out.push((path, mode_of(&metadata)));
            }
        }
    }
}

#[cfg(unix)]
fn mode_of(metadata: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> u32 {
    0
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let io = |error| CheckError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        out.push((entry.file_name(), entry.path()));
    }
    // Paths in one directory sort as their names do (compared without parsing paths).
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, path)| path).collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CheckError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let io = |error| CheckError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        // The entry's own type (symbolic links not followed), from the directory
        // listing where the filesystem gives it.
        let kind = entry.file_type().ok();
        entries.push((entry.file_name(), entry.path(), kind));
    }
    // Paths in one directory sort as their names do (compared without parsing paths).
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, path, kind) in entries {
        match kind {
            None => continue,
            Some(k) if k.is_symlink() => continue,
            Some(k) if k.is_dir() => walk(&path, out)?,
            Some(_) => out.push(path),
        }
    }
    Ok(())
}
