//! nats-server configuration for operator mode: writing the two configs
//! [`crate::generate`] produces, and reading the parts of a config [`crate::check`]
//! looks at.
//!
//! Operator mode needs `operator` (a JWT, a file path, or a list of them),
//! `system_account`, a `resolver`, and for the memory resolver `resolver_preload`, a
//! map from account public keys to account JWTs (nats-server `server/opts.go`;
//! docs.nats.io "Account lookup using Resolver"). The full resolver is
//! `resolver { type: full, dir: …, allow_delete, interval, timeout }`; it also reads
//! `resolver_preload`.
//!
//! The reader understands the subset of the nats-server config language these files
//! use: `key: value`, `key = value` and `key value`, `{}` maps, `[]` lists, quoted and
//! bare strings, `#` and `//` comments, and `,` or `;` separators. `include` and
//! `$VARIABLE` references are reported, not followed.

use std::fmt::Write as _;
use std::path::Path;

/// One account as the configs list it.
#[derive(Debug, Clone)]
pub struct PreloadAccount<'a> {
    /// The account's name, for a comment.
    pub name: &'a str,
    /// The account's public key.
    pub public_key: String,
    /// The account JWT.
    pub jwt: &'a str,
}

/// What both configs contain.
#[derive(Debug, Clone)]
pub struct OperatorConfig<'a> {
    /// The operator's name, for a comment.
    pub operator_name: &'a str,
    /// The operator JWT, inlined.
    pub operator_jwt: &'a str,
    /// The system account's public key.
    pub system_account: String,
    /// Every account, system account included.
    pub accounts: Vec<PreloadAccount<'a>>,
}

fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` as a double-quoted string of the nats-server configuration language (`"` and `\`
/// escaped).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

impl OperatorConfig<'_> {
    fn head(&self, out: &mut String, what: &str) {
        let _ = writeln!(
            out,
            "# nats-server configuration: operator mode, {what}.\n\
             # Written by `kez-verify nats generate`; regenerate instead of editing.\n"
        );
        let _ = writeln!(out, "# Operator \"{}\"", comment(self.operator_name));
        let _ = writeln!(out, "operator: {}", quote(self.operator_jwt));
        let system = self
            .accounts
            .iter()
            .find(|a| a.public_key == self.system_account)
            .map_or("", |a| a.name);
        let _ = writeln!(out, "# System account \"{}\"", comment(system));
        let _ = writeln!(out, "system_account: {}\n", self.system_account);
    }

    fn preload(&self, out: &mut String) {
        out.push_str("resolver_preload: {\n");
        for account in &self.accounts {
            let _ = writeln!(out, "  # Account \"{}\"", comment(account.name));
            let _ = writeln!(out, "  {}: {}", account.public_key, quote(account.jwt));
        }
        out.push_str("}\n");
    }

    /// The memory resolver config: every account JWT preloaded.
    pub fn memory(&self) -> String {
        let mut out = String::new();
        self.head(&mut out, "memory resolver");
        out.push_str("resolver: MEMORY\n\n");
        self.preload(&mut out);
        out
    }

    /// The full (NATS-based) resolver config storing JWTs in `dir`, seeded with every
    /// account JWT.
    pub fn full(&self, dir: &Path) -> String {
        let mut out = String::new();
        self.head(&mut out, "full NATS-based resolver");
        out.push_str("resolver: {\n  type: full\n");
        let _ = writeln!(out, "  dir: {}", quote(&dir.to_string_lossy()));
        out.push_str("  allow_delete: false\n  interval: \"2m\"\n  timeout: \"1.9s\"\n}\n\n");
        self.preload(&mut out);
        out
    }
}

/// A value in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfValue {
    /// A quoted or bare string (numbers and booleans stay text).
    Str(String),
    /// `{ key: value … }`, in file order.
    Map(Vec<(String, ConfValue)>),
    /// `[ value, … ]`.
    List(Vec<ConfValue>),
}

impl ConfValue {
    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConfValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a map (case-insensitive, as nats-server reads keys).
    pub fn get(&self, key: &str) -> Option<&ConfValue> {
        match self {
            ConfValue::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a config file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ConfError {
    /// 1-based line.
    pub line: usize,
    /// What was expected.
    pub message: String,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    _text: &'a str,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> ConfError {
        ConfError {
            line: self.line,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_comment(&mut self) -> bool {
        let c = self.peek();
        let next = self.chars.get(self.pos + 1).copied();
        if c == Some('#') || (c == Some('/') && next == Some('/')) {
            while let Some(c) = self.peek() {
                if c == '\n' {
                    break;
                }
                self.bump();
            }
            return true;
        }
        false
    }

    /// Skips blanks, newlines, separators and comments.
    fn skip_all(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c == ',' || c == ';' => {
                    self.bump();
                }
                _ => {
                    if !self.skip_comment() {
                        return;
                    }
                }
            }
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn quoted(&mut self) -> Result<String, ConfError> {
        let quote = self.bump().ok_or_else(|| self.err("unexpected end"))?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') if quote == '"' => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => out.push(c),
                    None => return Err(self.err("unterminated string")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn key(&mut self) -> Result<String, ConfError> {
        if matches!(self.peek(), Some('"' | '\'')) {
            return self.quoted();
        }
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[' | '}' | ',' | ';') {
                break;
            }
            out.push(c);
            self.bump();
        }
        if out.is_empty() {
            return Err(self.err(format!(
                "expected a key, found {:?}",
                self.peek().unwrap_or(' ')
            )));
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<ConfValue, ConfError> {
        match self.peek() {
            Some('{') => {
                self.bump();
                let map = self.map(Some('}'))?;
                Ok(ConfValue::Map(map))
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_all();
                    match self.peek() {
                        None => return Err(self.err("unterminated list")),
                        Some(']') => {
                            self.bump();
                            return Ok(ConfValue::List(items));
                        }
                        _ => items.push(self.value()?),
                    }
                }
            }
            Some('"' | '\'') => Ok(ConfValue::Str(self.quoted()?)),
            Some(_) => {
                let mut out = String::new();
                while let Some(c) = self.peek() {
                    if matches!(c, '\n' | ',' | ';' | '}' | ']') {
                        break;
                    }
                    if c == '#' && out.ends_with(char::is_whitespace) {
                        break;
                    }
                    out.push(c);
                    self.bump();
                }
                Ok(ConfValue::Str(out.trim().to_string()))
            }
            None => Err(self.err("expected a value")),
        }
    }

    fn map(&mut self, close: Option<char>) -> Result<Vec<(String, ConfValue)>, ConfError> {
        let mut entries = Vec::new();
        loop {
            self.skip_all();
            match (self.peek(), close) {
                (None, None) => return Ok(entries),
                (None, Some(_)) => return Err(self.err("unterminated map")),
                (Some(c), Some(end)) if c == end => {
                    self.bump();
                    return Ok(entries);
                }
                _ => {}
            }
            let key = self.key()?;
            self.skip_blanks();
            if matches!(self.peek(), Some(':' | '=')) {
                self.bump();
                self.skip_blanks();
            }
            let value = self.value()?;
            entries.push((key, value));
        }
    }
}

/// Parses a config file's text into its top-level map.
pub fn parse(text: &str) -> Result<ConfValue, ConfError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        _text: text,
    };
    Ok(ConfValue::Map(parser.map(None)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_the_documented_forms() {
        let config = OperatorConfig {
            operator_name: "acme\n",
            operator_jwt: "eyJ.op.x",
            system_account: "ASYS".into(),
            accounts: vec![
                PreloadAccount {
                    name: "SYS",
                    public_key: "ASYS".into(),
                    jwt: "eyJ.sys.x",
                },
                PreloadAccount {
                    name: "A",
                    public_key: "AAAA".into(),
                    jwt: "eyJ.a.x",
                },
            ],
        };
        for text in [config.memory(), config.full(Path::new("/tmp/x \"y\""))] {
            let parsed = parse(&text).unwrap();
            assert_eq!(parsed.get("operator").unwrap().as_str(), Some("eyJ.op.x"));
            assert_eq!(parsed.get("system_account").unwrap().as_str(), Some("ASYS"));
            let preload = parsed.get("resolver_preload").unwrap();
            assert_eq!(preload.get("AAAA").unwrap().as_str(), Some("eyJ.a.x"));
        }
        let full = parse(&config.full(Path::new("/tmp/x \"y\""))).unwrap();
        let resolver = full.get("resolver").unwrap();
        assert_eq!(resolver.get("type").unwrap().as_str(), Some("full"));
        assert_eq!(resolver.get("dir").unwrap().as_str(), Some("/tmp/x \"y\""));

        let doc = "listen = 127.0.0.1:4222 # comment\n// another\nresolver { type: cache; dir: './'\n ttl: \"2m\" }\noperator [\"a.jwt\", b.jwt]\nresolver_url: URL(http://localhost:9090/jwt/v1/accounts/)\n";
        let parsed = parse(doc).unwrap();
        assert_eq!(
            parsed.get("listen").unwrap().as_str(),
            Some("127.0.0.1:4222")
        );
        assert_eq!(
            parsed.get("RESOLVER").unwrap().get("dir").unwrap().as_str(),
            Some("./")
        );
        assert_eq!(
            parsed.get("operator").unwrap(),
            &ConfValue::List(vec![
                ConfValue::Str("a.jwt".into()),
                ConfValue::Str("b.jwt".into())
            ])
        );
        assert_eq!(
            parsed.get("resolver_url").unwrap().as_str(),
            Some("URL(http://localhost:9090/jwt/v1/accounts/)")
        );
        assert_eq!(parse("a: {").unwrap_err().message, "unterminated map");
    }
}
