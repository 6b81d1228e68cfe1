//! Reading the inputs of a check: telling the kind of a path, and loading `.creds`
//! files, JWT files, NSC stores, key stores and nats-server configs.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::findings::Code;
use super::token::{self, Entity, Node};
use super::{CheckError, Counts, Finding, InputKind};
use crate::claims::{AccountClaims, OperatorClaims, UserClaims};
use crate::creds;
use crate::layout::{self, NSC_FILE};
use crate::nkey;
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
}

impl Context {
    pub(crate) fn new(path: &Path, now: i64) -> Self {
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
        let entity = token::examine(self, location, text)?;
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
                self.load_store(path)?;
                if let Some(keystore) = keystore {
                    self.load_keystore(&keystore)?;
                }
                return Ok(InputKind::Store);
            }
            if path.join(layout::STORES_DIR).is_dir() {
                self.all_accounts = true;
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
            let text = read(&operator_path)?;
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
                let text = read(&account_path)?;
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
                let text = read(&user_path)?;
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
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(metadata) = fs::metadata(path) {
                let mode = metadata.permissions().mode() & 0o7777;
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
            let text = read(path)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match nkey::seed_from_decorated(&text) {
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
            let text = read(path)?;
            self.load_creds(path, &text);
        }
        Ok(())
    }

    fn load_creds(&mut self, path: &Path, text: &str) {
        self.counts.creds += 1;
        let location = self.location(path);
        self.check_mode(path, &location);
        let parsed = match creds::parse(text) {
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
        let seed_key = parsed.seed().public_key();
        // Examine the JWT even when a store already had it: the seed still needs its
        // comparison, and a copy that differs from the store's is examined in full.
        let user_sub = if self.seen.contains(jwt.trim()) {
            crate::jwt::Jwt::decode(jwt.trim())
                .ok()
                .map(|j| (j.subject().to_string(), j.claim_type_text() == Some("user")))
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
            Some((sub, true)) if sub != seed_key.to_string() => self.push(
                Code::CredsSeedMismatch,
                &location,
                format!("the seed is the key of {seed_key}, the JWT's sub is {sub}"),
            ),
            _ => {}
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

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let io = |error| CheckError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        out.push(entry.map_err(io)?.path());
    }
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CheckError> {
    if !dir.is_dir() {
        return Ok(());
    }
    for path in sorted_entries(dir)? {
        let is_link = fs::symlink_metadata(&path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true);
        if is_link {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
