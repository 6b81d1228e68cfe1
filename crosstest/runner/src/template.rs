//! References inside scenario data (`docs/SCENARIOS.md`, "Values and references").
//!
//! Every value in a step (`by`, `args`, transform parameters) and in a check is a *template*:
//!
//! - a string that is exactly `$name` or `$name.path.to.member` is replaced by the JSON value
//!   it names (any type): a matrix parameter, a variable, or an earlier step's output; path
//!   segments that are numbers index arrays;
//! - `$name?` (a table member only) omits the member when `name` is not defined;
//! - `${name.path}` inside a longer string interpolates a string or number;
//! - `$$` is a literal `$`; any other `$` is an error.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A reference: a root name and a path into its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// The variable, parameter or step id.
    pub root: String,
    /// Members or array indexes below it.
    pub path: Vec<String>,
    /// `$name?`: omit the table member when undefined.
    pub optional: bool,
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.root)?;
        for p in &self.path {
            write!(f, ".{p}")?;
        }
        if self.optional {
            f.write_str("?")?;
        }
        Ok(())
    }
}

/// One piece of an interpolated string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// `${…}`.
    Ref(Ref),
}

/// A value with references, as read from TOML.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A literal without references.
    Lit(Value),
    /// A string that is one whole reference.
    Ref(Ref),
    /// A string with `${…}` interpolations.
    Interp(Vec<Part>),
    /// An array of templates.
    Array(Vec<Template>),
    /// A table of templates (member order as in the file is not kept; JSON objects are
    /// unordered).
    Object(BTreeMap<String, Template>),
}

/// Why a template could not be read or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The text of a string is not a valid reference or interpolation.
    #[error("{0}")]
    Syntax(String),
    /// A reference names nothing.
    #[error("{reference} is not defined{hint}")]
    Undefined {
        /// The reference as written.
        reference: String,
        /// ", defined: …" or a note.
        hint: String,
    },
    /// A resolved value has the wrong type for where it is used.
    #[error("{0}")]
    Type(String),
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parse `name(.seg)*` (without the `$`).
fn parse_ref_body(body: &str, optional: bool) -> Result<Ref, TemplateError> {
    let mut segs = body.split('.');
    let root = segs.next().unwrap_or_default();
    let mut chars = root.chars();
    let valid_root = chars.next().is_some_and(is_name_start) && chars.all(is_name_char);
    if !valid_root {
        return Err(TemplateError::Syntax(format!(
            "invalid reference ${body}: a name starts with a letter or `_` and holds letters, digits, `_` and `-`"
        )));
    }
    let mut path = Vec::new();
    for seg in segs {
        if seg.is_empty() || !seg.chars().all(is_name_char) {
            return Err(TemplateError::Syntax(format!(
                "invalid reference ${body}: path segment {seg:?} is empty or has characters other than letters, digits, `_` and `-`"
            )));
        }
        path.push(seg.to_string());
    }
    Ok(Ref {
        root: root.to_string(),
        path,
        optional,
    })
}

/// Read a string: a whole reference, an interpolation, or a literal.
pub fn parse_str(s: &str) -> Result<Template, TemplateError> {
    if let Some(rest) = s.strip_prefix('$') {
        if !rest.starts_with('$') && !rest.starts_with('{') {
            let (body, optional) = match rest.strip_suffix('?') {
                Some(b) => (b, true),
                None => (rest, false),
            };
            return parse_ref_body(body, optional).map(Template::Ref);
        }
    }
    if !s.contains('$') {
        return Ok(Template::Lit(Value::String(s.to_string())));
    }
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    // Each iteration consumes at least one character, so this ends after at most s.len() rounds.
    while let Some(pos) = rest.find('$') {
        lit.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('$') {
            lit.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let Some(end) = r.find('}') else {
                return Err(TemplateError::Syntax(format!(
                    "unterminated ${{ in {s:?}: expected `}}`"
                )));
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Ref(parse_ref_body(&r[..end], false)?));
            rest = &r[end + 1..];
        } else {
            return Err(TemplateError::Syntax(format!(
                "stray `$` in {s:?}: write `$name` for a whole value, `${{name}}` inside text, `$$` for a dollar sign"
            )));
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
        let text: String = parts
            .into_iter()
            .map(|p| match p {
                Part::Lit(t) => t,
                Part::Ref(_) => String::new(),
            })
            .collect();
        return Ok(Template::Lit(Value::String(text)));
    }
    Ok(Template::Interp(parts))
}

/// Read a TOML value as a template; `path` names it in errors.
pub fn from_toml(v: &toml::Value, path: &str) -> Result<Template, String> {
    Ok(match v {
        // Optional references are allowed here; callers that need a whole value refuse them
        // with `require_not_optional`, and arrays refuse them below.
        toml::Value::String(s) => parse_str(s).map_err(|e| format!("{path}: {e}"))?,
        toml::Value::Integer(i) => Template::Lit(Value::from(*i)),
        toml::Value::Float(f) => Template::Lit(
            serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| format!("{path}: {f} is not a finite number"))?,
        ),
        toml::Value::Boolean(b) => Template::Lit(Value::Bool(*b)),
        toml::Value::Datetime(d) => {
            return Err(format!(
            "{path}: TOML dates are not JSON values (found {d}); write Unix seconds as an integer"
        ))
        }
        toml::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let t = from_toml(item, &format!("{path}[{i}]"))?;
                if let Template::Ref(r) = &t {
                    if r.optional {
                        return Err(format!(
                            "{path}[{i}]: `{r}`: an optional reference may only be a table member"
                        ));
                    }
                }
                out.push(t);
            }
            Template::Array(out)
        }
        toml::Value::Table(t) => {
            let mut out = BTreeMap::new();
            for (k, item) in t {
                out.insert(k.clone(), from_toml(item, &format!("{path}.{k}"))?);
            }
            Template::Object(out)
        }
    })
}

/// Refuse an optional reference where a whole value is needed.
pub fn require_not_optional(t: &Template, path: &str) -> Result<(), String> {
    match t {
        Template::Ref(r) if r.optional => Err(format!(
            "{path}: `{r}`: an optional reference may only be a table member"
        )),
        _ => Ok(()),
    }
}

impl Template {
    /// Every reference in this template, with whether it is optional.
    pub fn refs(&self) -> Vec<&Ref> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Template::Lit(_) => {}
            Template::Ref(r) => out.push(r),
            Template::Interp(parts) => {
                for p in parts {
                    if let Part::Ref(r) = p {
                        out.push(r);
                    }
                }
            }
            Template::Array(items) => items.iter().for_each(|t| t.collect_refs(out)),
            Template::Object(m) => m.values().for_each(|t| t.collect_refs(out)),
        }
    }

    /// Resolve against `scope`; `Ok(None)` only for an undefined optional reference.
    pub fn resolve(&self, scope: &dyn Scope) -> Result<Option<Value>, TemplateError> {
        Ok(match self {
            Template::Lit(v) => Some(v.clone()),
            Template::Ref(r) => match lookup(scope, r)? {
                Some(v) => Some(v),
                None if r.optional => None,
                None => return Err(undefined(scope, r)),
            },
            Template::Interp(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Lit(t) => s.push_str(t),
                        Part::Ref(r) => match lookup(scope, r)? {
                            Some(Value::String(t)) => s.push_str(&t),
                            Some(Value::Number(n)) => s.push_str(&n.to_string()),
                            Some(other) => {
                                return Err(TemplateError::Type(format!(
                                "${{{}}} is {}, but only strings and numbers can be interpolated",
                                display_body(r),
                                kind_of(&other)
                            )))
                            }
                            None => return Err(undefined(scope, r)),
                        },
                    }
                }
                Some(Value::String(s))
            }
            Template::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for t in items {
                    match t.resolve(scope)? {
                        Some(v) => out.push(v),
                        None => out.push(Value::Null),
                    }
                }
                Some(Value::Array(out))
            }
            Template::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, t) in m {
                    if let Some(v) = t.resolve(scope)? {
                        out.insert(k.clone(), v);
                    }
                }
                Some(Value::Object(out))
            }
        })
    }

    /// Resolve where a value is required.
    pub fn resolve_value(&self, scope: &dyn Scope) -> Result<Value, TemplateError> {
        self.resolve(scope)?
            .ok_or_else(|| TemplateError::Type("an optional reference is not defined".into()))
    }
}

fn display_body(r: &Ref) -> String {
    let mut s = r.root.clone();
    for p in &r.path {
        s.push('.');
        s.push_str(p);
    }
    s
}

/// The JSON type name of a value, for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn undefined(scope: &dyn Scope, r: &Ref) -> TemplateError {
    let names = scope.names();
    let hint = if scope.get(&r.root).is_some() {
        format!(" (${} has no member {})", r.root, r.path.join("."))
    } else if names.is_empty() {
        String::new()
    } else {
        format!(" (defined here: {})", names.join(", "))
    };
    TemplateError::Undefined {
        reference: Ref {
            optional: false,
            ..r.clone()
        }
        .to_string(),
        hint,
    }
}

fn lookup(scope: &dyn Scope, r: &Ref) -> Result<Option<Value>, TemplateError> {
    let Some(mut v) = scope.get(&r.root) else {
        return Ok(None);
    };
    for seg in &r.path {
        v = match v {
            Value::Object(mut m) => match m.remove(seg) {
                Some(x) => x,
                None => return Ok(None),
            },
            Value::Array(mut a) => match seg.parse::<usize>() {
                Ok(i) if i < a.len() => a.swap_remove(i),
                _ => return Ok(None),
            },
            other => {
                return Err(TemplateError::Type(format!(
                    "{}: cannot take member {seg:?} of {}",
                    Ref {
                        optional: false,
                        ..r.clone()
                    },
                    kind_of(&other)
                )))
            }
        };
    }
    Ok(Some(v))
}

/// Names a template can refer to.
pub trait Scope {
    /// The value bound to `name`, if any.
    fn get(&self, name: &str) -> Option<Value>;
    /// Every bound name, for "defined here" hints.
    fn names(&self) -> Vec<String>;
}

impl Scope for BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        BTreeMap::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        m.insert("alg".into(), json!("bip340"));
        m.insert("claim".into(), json!({"claim": "{}", "list": [1, 2]}));
        m
    }

    #[test]
    fn whole_reference_keeps_type() {
        let t = parse_str("$claim.list.1").unwrap();
        assert_eq!(t.resolve(&scope()).unwrap(), Some(json!(2)));
    }

    #[test]
    fn interpolation_and_escape() {
        let t = parse_str("a-${alg}-$$5").unwrap();
        assert_eq!(t.resolve(&scope()).unwrap(), Some(json!("a-bip340-$5")));
        assert_eq!(
            parse_str("$$x").unwrap(),
            Template::Lit(Value::String("$x".into()))
        );
    }

    #[test]
    fn optional_member_is_omitted() {
        let mut m = toml::Table::new();
        m.insert("aux".into(), toml::Value::String("$aux?".into()));
        m.insert("alg".into(), toml::Value::String("$alg".into()));
        let t = from_toml(&toml::Value::Table(m), "args").unwrap();
        assert_eq!(t.resolve(&scope()).unwrap(), Some(json!({"alg": "bip340"})));
    }

    #[test]
    fn undefined_names_what_is_defined() {
        let err = parse_str("$nope").unwrap().resolve(&scope()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "$nope is not defined (defined here: alg, claim)"
        );
        let err = parse_str("$claim.nope")
            .unwrap()
            .resolve(&scope())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "$claim.nope is not defined ($claim has no member nope)"
        );
    }

    #[test]
    fn syntax_errors() {
        assert!(parse_str("a $b").is_err());
        assert!(parse_str("${open").is_err());
        assert!(parse_str("$9x").is_err());
        assert!(parse_str("$a..b").is_err());
        let arr = toml::Value::Array(vec![toml::Value::String("$x?".into())]);
        assert!(from_toml(&arr, "v").is_err());
    }
}
