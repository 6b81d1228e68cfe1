//! Scenario files: parsing, the schema, and the lint (`docs/SCENARIOS.md`).
//!
//! A scenario file is TOML (or the same structure in JSON) under `crosstest/scenarios/`. Every
//! problem is reported as `<file>: <field path>: <what was expected, what was found>`, and the
//! lint goes beyond the schema: references must name something defined before them, every
//! matrix dimension must be used, ops and their arguments must exist in `docs/ADAPTER.md`.

use crate::expect::{self, Expect, Expected};
use crate::impls::{Registry, KNOWN_OPS};
use crate::template::{self, Template};
use crate::transform;
use crate::Error;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The `schema` value this runner reads.
pub const SCHEMA: i64 = 1;

/// Dimensions whose values are implementation names (`"*"` means every implementation).
pub const IMPL_DIMS: &[&str] = &["producer", "consumer", "impl"];

/// A matrix value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// A whole number.
    Int(i64),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
        }
    }
}

impl Scalar {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.clone()),
            Scalar::Int(i) => Value::from(*i),
        }
    }
}

/// One matrix dimension, values in expansion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dim {
    /// Its name, a parameter of every case.
    pub name: String,
    /// Its values.
    pub values: Vec<Scalar>,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its id (`step<N>`, 1-based, when not given); later steps refer to its output as `$id`.
    pub id: String,
    /// What it does.
    pub kind: StepKind,
}

/// An adapter call or a runner transform.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Call `op` with `args` on the implementation `by` names.
    Call {
        /// Resolves to an implementation name.
        by: Template,
        /// The op (`docs/ADAPTER.md`).
        op: String,
        /// Resolves to the `args` object.
        args: Template,
    },
    /// A transform done by the runner.
    Transform {
        /// Which.
        kind: transform::Kind,
        /// Its parameters, `input` included.
        params: BTreeMap<String, Template>,
    },
}

/// A check after the verdict: all values must be equal JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What it checks, for messages.
    pub name: String,
    /// Two or more values.
    pub equal: Vec<Template>,
}

/// One scenario of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file, relative to `crosstest/scenarios`, with `/`.
    pub file: String,
    /// Its name, unique in the file.
    pub name: String,
    /// What it tests.
    pub description: String,
    /// Its matrix dimensions, in id order.
    pub dims: Vec<Dim>,
    /// Constant variables (file `vars` overlaid with the scenario's own).
    pub vars: BTreeMap<String, Value>,
    /// Variables by dimension value: dimension → value → name → value.
    pub by: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The index of the step whose answer is compared with `expect`.
    pub verdict_step: usize,
    /// The expected result.
    pub expect: Expect,
    /// Checks made after a matching verdict.
    pub checks: Vec<Check>,
}

/// A parsed and linted scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// Relative to `crosstest/scenarios`, with `/`.
    pub path: String,
    /// What the file covers.
    pub description: String,
    /// Its scenarios.
    pub scenarios: Vec<Arc<Scenario>>,
}

/// Members of each op's result (`docs/ADAPTER.md`), for checking `$step.member` references.
pub fn result_members(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "hello" => &["name", "version", "protocol", "spec", "ops"],
        "canonicalize" => &["status", "canonical", "reason", "message"],
        "sign_raw" => &["sig"],
        "verify_raw" => &["valid"],
        "claim_sign" => &["claim"],
        "encode" => &["status", "text", "reason", "message"],
        "decode" => &["claims"],
        "claim_verify" => &["results"],
        "chain_build" => &["jsonl"],
        "chain_verify" => &[
            "status", "length", "head", "root", "primary", "reason", "message",
        ],
        "chain_compare" => &["status", "relation", "reason", "message"],
        "chain_export" => &["status", "jsonl", "reason", "message"],
        "nats_nkey_create" => &["seed", "public"],
        "nats_nkey_decode" => &[
            "status", "form", "role", "public", "key", "raw", "reason", "message",
        ],
        "nats_jwt_encode" => &["status", "jwt", "reason", "message"],
        "nats_jwt_sign_raw" => &["jwt"],
        "nats_jwt_decode" => &[
            "status", "type", "issuer", "subject", "claims", "reason", "message",
        ],
        "nats_creds_format" => &["status", "creds", "reason", "message"],
        "nats_creds_parse" => &[
            "status",
            "jwt",
            "seed",
            "public",
            "canonical",
            "reason",
            "message",
        ],
        "nats_check" => &["status", "errors", "codes", "findings", "reason", "message"],
        "shutdown" => &[],
        _ => return None,
    })
}

/// (required, optional) arguments of each op (`docs/ADAPTER.md`).
pub fn op_args(op: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match op {
        "hello" | "shutdown" => (&[], &[]),
        "canonicalize" => (&["json"], &[]),
        "sign_raw" => (&["alg", "secret", "msg"], &["aux"]),
        "verify_raw" => (&["alg", "public", "msg", "sig"], &[]),
        "claim_sign" => (
            &["key", "subject", "created_at"],
            &["expires_at", "nonce", "chain", "extra", "aux"],
        ),
        "encode" => (&["text", "to"], &[]),
        "decode" => (&["text"], &["encoding"]),
        "claim_verify" => (&["text", "at"], &["subject", "chains"]),
        "chain_build" => (&["links"], &[]),
        "chain_verify" => (&["jsonl"], &["at"]),
        "chain_compare" => (&["copies"], &[]),
        "chain_export" => (&["jsonl"], &["at"]),
        "nats_nkey_create" => (&["role", "raw"], &[]),
        "nats_nkey_decode" => (&["text"], &["role"]),
        "nats_jwt_encode" => (
            &["type", "signer", "subject", "iat"],
            &["name", "expires", "not_before", "audience", "nats"],
        ),
        "nats_jwt_sign_raw" => (&["signer", "payload"], &["header", "over"]),
        "nats_jwt_decode" => (&["jwt"], &["at"]),
        "nats_creds_format" => (&["jwt", "seed"], &[]),
        "nats_creds_parse" => (&["creds"], &[]),
        "nats_check" => (&["operator", "at"], &["accounts", "creds"]),
        _ => return None,
    })
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_kebab(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn unknown_fields(t: &toml::Table, allowed: &[&str], at: &str) -> Result<(), String> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            let list = allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(format!(
                "{at}: unknown field `{k}` (expected one of {list})"
            ));
        }
    }
    Ok(())
}

fn req_str<'a>(t: &'a toml::Table, k: &str, at: &str) -> Result<&'a str, String> {
    match t.get(k) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(v) => Err(format!(
            "{at}.{k}: expected a string, found {}",
            toml_kind(v)
        )),
        None => Err(format!("{at}.{k}: missing")),
    }
}

fn toml_kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// A literal value (vars, by): a template that holds no reference.
fn literal(v: &toml::Value, at: &str) -> Result<Value, String> {
    let t = template::from_toml(v, at)?;
    if let Some(r) = t.refs().first() {
        return Err(format!(
            "{at}: variables hold constants; `{r}` is a reference (write `$$` for a dollar sign)"
        ));
    }
    t.resolve_value(&BTreeMap::new())
        .map_err(|e| format!("{at}: {e}"))
}

fn parse_vars(v: Option<&toml::Value>, at: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let t = v
        .as_table()
        .ok_or_else(|| format!("{at}: expected a table of constants"))?;
    for (k, val) in t {
        if !is_name(k) {
            return Err(format!(
                "{at}.{k}: a variable name starts with a letter or `_` and holds letters, digits, `_` and `-`"
            ));
        }
        out.insert(k.clone(), literal(val, &format!("{at}.{k}"))?);
    }
    Ok(out)
}

type ByVars = BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>;

fn parse_by(v: Option<&toml::Value>) -> Result<ByVars, String> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let t = v
        .as_table()
        .ok_or("by: expected tables [by.<dimension>.<value>] of constants".to_string())?;
    for (dim, per_value) in t {
        let pv = per_value
            .as_table()
            .ok_or_else(|| format!("by.{dim}: expected tables [by.{dim}.<value>]"))?;
        let mut m = BTreeMap::new();
        for (value, vars) in pv {
            m.insert(
                value.clone(),
                parse_vars(Some(vars), &format!("by.{dim}.{value}"))?,
            );
        }
        out.insert(dim.clone(), m);
    }
    Ok(out)
}

fn parse_matrix(v: &toml::Value, at: &str, registry: &Registry) -> Result<Vec<Dim>, String> {
    let t = v.as_table().ok_or_else(|| {
        format!("{at}: expected a table such as {{ producer = \"*\", consumer = \"*\", alg = [\"ed25519\", \"bip340\"] }}")
    })?;
    let mut dims = Vec::new();
    for (name, vals) in t {
        let dat = format!("{at}.{name}");
        if !is_name(name) {
            return Err(format!(
                "{dat}: a dimension name starts with a letter or `_` and holds letters, digits, `_` and `-`"
            ));
        }
        let is_impl = IMPL_DIMS.contains(&name.as_str());
        let values: Vec<Scalar> = match vals {
            toml::Value::String(s) if s == "*" && is_impl => registry
                .impls
                .iter()
                .map(|i| Scalar::Str(i.name.clone()))
                .collect(),
            toml::Value::String(s) if s == "*" => {
                return Err(format!(
                    "{dat}: \"*\" (every implementation) is only for the dimensions {}",
                    IMPL_DIMS.join(", ")
                ))
            }
            toml::Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let s = match item {
                        toml::Value::String(s) => Scalar::Str(s.clone()),
                        toml::Value::Integer(n) => Scalar::Int(*n),
                        other => {
                            return Err(format!(
                                "{dat}[{i}]: a matrix value is a string or an integer, found {}",
                                toml_kind(other)
                            ))
                        }
                    };
                    if let Scalar::Str(text) = &s {
                        if text.is_empty()
                            || text
                                .chars()
                                .any(|c| matches!(c, ',' | '=' | '[' | ']') || c.is_whitespace())
                        {
                            return Err(format!(
                                "{dat}[{i}]: {text:?} cannot appear in a case id (no empty values, whitespace, `,`, `=`, `[`, `]`)"
                            ));
                        }
                    }
                    if out.contains(&s) {
                        return Err(format!("{dat}[{i}]: {s} is listed twice"));
                    }
                    if is_impl {
                        let ok = matches!(&s, Scalar::Str(n) if registry.by_name(n).is_some());
                        if !ok {
                            return Err(format!(
                                "{dat}[{i}]: {s} is not an implementation of {} (declared: {})",
                                crate::paths::IMPLS,
                                registry.names().join(", ")
                            ));
                        }
                    }
                    out.push(s);
                }
                out
            }
            other => {
                return Err(format!(
                    "{dat}: expected an array of values{}, found {}",
                    if is_impl { " or \"*\"" } else { "" },
                    toml_kind(other)
                ))
            }
        };
        if values.is_empty() {
            return Err(format!("{dat}: a dimension needs at least one value"));
        }
        dims.push(Dim {
            name: name.clone(),
            values,
        });
    }
    dims.sort_by_key(|d| dim_order(&d.name));
    Ok(dims)
}

/// Id order of dimensions: producer, consumer, impl, then the rest by name.
fn dim_order(name: &str) -> (usize, String) {
    match IMPL_DIMS.iter().position(|d| *d == name) {
        Some(i) => (i, String::new()),
        None => (IMPL_DIMS.len(), name.to_string()),
    }
}

/// Parse and lint one file's text; `path` is relative to `crosstest/scenarios`. Problems come
/// back as `<path>: <field>: <problem>` lines.
pub fn parse_file(
    text: &str,
    path: &str,
    registry: &Registry,
) -> Result<ScenarioFile, Vec<String>> {
    let root: toml::Table = if path.ends_with(".json") {
        serde_json::from_str::<toml::Table>(text)
            .map_err(|e| vec![format!("{path}: not a JSON scenario file: {e}")])?
    } else {
        toml::from_str(text).map_err(|e| {
            let msg = e.to_string().replace('\n', "\n    ");
            vec![format!("{path}: not valid TOML: {msg}")]
        })?
    };
    let fail = |m: String| vec![format!("{path}: {m}")];
    unknown_fields(
        &root,
        &["schema", "description", "vars", "by", "matrix", "scenario"],
        "(top level)",
    )
    .map_err(fail)?;
    match root.get("schema") {
        Some(toml::Value::Integer(SCHEMA)) => {}
        Some(v) => return Err(fail(format!("schema: expected {SCHEMA}, found {v}"))),
        None => {
            return Err(fail(format!(
                "schema: missing (write `schema = {SCHEMA}` first)"
            )))
        }
    }
    let description = req_str(&root, "description", "(top level)")
        .map_err(fail)?
        .to_string();
    let file_vars = parse_vars(root.get("vars"), "vars").map_err(fail)?;
    let by = parse_by(root.get("by")).map_err(fail)?;
    let file_matrix = match root.get("matrix") {
        Some(m) => Some(parse_matrix(m, "matrix", registry).map_err(fail)?),
        None => None,
    };
    let list = match root.get("scenario") {
        Some(toml::Value::Array(a)) if !a.is_empty() => a,
        Some(toml::Value::Array(_)) | None => {
            return Err(fail(
                "scenario: missing; a file holds one or more [[scenario]] tables".into(),
            ))
        }
        Some(v) => {
            return Err(fail(format!(
                "scenario: expected [[scenario]] tables, found {}",
                toml_kind(v)
            )))
        }
    };
    let mut problems = Vec::new();
    let mut scenarios: Vec<Arc<Scenario>> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let label = s
            .get("name")
            .and_then(|n| n.as_str())
            .map(|n| format!("scenario[{i}] ({n})"))
            .unwrap_or_else(|| format!("scenario[{i}]"));
        match parse_scenario(
            s,
            &label,
            path,
            &file_vars,
            &by,
            file_matrix.as_deref(),
            registry,
        ) {
            Ok(sc) => {
                if scenarios.iter().any(|x| x.name == sc.name) {
                    problems.push(format!(
                        "{path}: {label}.name: {:?} is used by an earlier scenario of this file",
                        sc.name
                    ));
                } else {
                    scenarios.push(Arc::new(sc));
                }
            }
            Err(m) => problems.push(format!("{path}: {m}")),
        }
    }
    // Every [by.<dim>.<value>] must match some scenario's dimension value.
    for (dim, per_value) in &by {
        for value in per_value.keys() {
            let used = scenarios.iter().any(|s| {
                s.dims
                    .iter()
                    .any(|d| &d.name == dim && d.values.iter().any(|v| &v.to_string() == value))
            });
            if !used && problems.is_empty() {
                problems.push(format!(
                    "{path}: by.{dim}.{value}: no scenario of this file has {dim} = {value:?} in its matrix"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(ScenarioFile {
            path: path.to_string(),
            description,
            scenarios,
        })
    } else {
        Err(problems)
    }
}

/// What a name refers to, for the reference lint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    Param,
    Var(Value),
    ByVar { dim: String },
    Step { index: usize, op: Option<String> },
}

fn parse_scenario(
    v: &toml::Value,
    at: &str,
    file: &str,
    file_vars: &BTreeMap<String, Value>,
    by: &ByVars,
    file_matrix: Option<&[Dim]>,
    registry: &Registry,
) -> Result<Scenario, String> {
    let t = v
        .as_table()
        .ok_or_else(|| format!("{at}: expected a table"))?;
    unknown_fields(
        t,
        &[
            "name",
            "description",
            "matrix",
            "vars",
            "step",
            "expect",
            "check",
        ],
        at,
    )?;
    let name = req_str(t, "name", at)?.to_string();
    if !is_kebab(&name) {
        return Err(format!(
            "{at}.name: {name:?} must be lowercase letters, digits and `-` (it is part of case ids)"
        ));
    }
    let description = req_str(t, "description", at)?.to_string();
    if description.trim().is_empty() {
        return Err(format!("{at}.description: say what the scenario tests"));
    }
    let dims = match t.get("matrix") {
        Some(m) => parse_matrix(m, &format!("{at}.matrix"), registry)?,
        None => file_matrix.map(<[Dim]>::to_vec).unwrap_or_default(),
    };
    let mut vars = file_vars.clone();
    vars.extend(parse_vars(t.get("vars"), &format!("{at}.vars"))?);
    let expect = match t.get("expect") {
        Some(e) => expect::parse(e, &format!("{at}.expect"))?,
        None => {
            return Err(format!(
                "{at}.expect: missing; say what the verdict step must report, e.g. expect = {{ outcome = \"valid\" }}"
            ))
        }
    };

    // Names: parameters, variables, by-variables; step ids are added as steps are read.
    let mut names: BTreeMap<String, Binding> = BTreeMap::new();
    for d in &dims {
        names.insert(d.name.clone(), Binding::Param);
    }
    for (k, val) in &vars {
        if names.contains_key(k) {
            return Err(format!(
                "{at}: variable `{k}` has the name of a matrix dimension"
            ));
        }
        names.insert(k.clone(), Binding::Var(val.clone()));
    }
    for d in &dims {
        if let Some(per_value) = by.get(&d.name) {
            for vars_of_value in per_value.values() {
                for k in vars_of_value.keys() {
                    match names.get(k) {
                        None => {
                            names.insert(
                                k.clone(),
                                Binding::ByVar {
                                    dim: d.name.clone(),
                                },
                            );
                        }
                        Some(Binding::ByVar { dim }) if *dim == d.name => {}
                        Some(_) => {
                            return Err(format!(
                                "{at}: by.{}.*.{k} has the name of another variable, dimension or by-variable",
                                d.name
                            ))
                        }
                    }
                }
            }
        }
    }

    let steps_v = match t.get("step") {
        Some(toml::Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(format!(
                "{at}.step: missing; a scenario has one or more [[scenario.step]] tables"
            ))
        }
    };
    let verdict_marks: Vec<usize> = steps_v
        .iter()
        .enumerate()
        .filter(|(_, s)| s.get("verdict").and_then(|v| v.as_bool()) == Some(true))
        .map(|(i, _)| i)
        .collect();
    if verdict_marks.len() > 1 {
        return Err(format!(
            "{at}.step: steps {verdict_marks:?} are all marked `verdict = true`; mark one"
        ));
    }
    let verdict_step = verdict_marks.first().copied().unwrap_or(steps_v.len() - 1);
    let all_ids: Vec<String> = steps_v
        .iter()
        .enumerate()
        .map(|(i, sv)| {
            sv.get("id")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("step{}", i + 1))
        })
        .collect();

    let mut used_dims: BTreeSet<String> = BTreeSet::new();
    let mut steps = Vec::new();
    for (i, sv) in steps_v.iter().enumerate() {
        let sat = format!("{at}.step[{i}]");
        let st = sv
            .as_table()
            .ok_or_else(|| format!("{sat}: expected a table"))?;
        let id = match st.get("id") {
            None => format!("step{}", i + 1),
            Some(toml::Value::String(s)) if is_name(s) => s.clone(),
            Some(v) => {
                return Err(format!(
                    "{sat}.id: expected a name (letters, digits, `_`, `-`), found {v}"
                ))
            }
        };
        if names.contains_key(&id) {
            return Err(format!(
                "{sat}.id: `{id}` is already the name of a dimension, variable or earlier step"
            ));
        }
        let is_verdict = i == verdict_step;
        let kind = match (st.get("op"), st.get("transform")) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{sat}: a step has either `op` (an adapter call) or `transform`, not both"
                ))
            }
            (None, None) => {
                return Err(format!(
                    "{sat}: missing `op` (an adapter call) or `transform` (done by the runner)"
                ))
            }
            (Some(_), None) => {
                unknown_fields(st, &["id", "by", "op", "args", "verdict"], &sat)?;
                let op = req_str(st, "op", &sat)?.to_string();
                let expects_error = is_verdict && matches!(expect.expected, Expected::Error(_));
                if !KNOWN_OPS.contains(&op.as_str()) && !expects_error {
                    return Err(format!(
                        "{sat}.op: {op:?} is not an op of protocol {} (docs/ADAPTER.md); only a verdict step that expects an error may call an unknown op",
                        crate::impls::PROTOCOL
                    ));
                }
                let by_v = st
                    .get("by")
                    .ok_or_else(|| format!("{sat}.by: missing; name an implementation or a dimension such as \"$producer\""))?;
                let by_t = template::from_toml(by_v, &format!("{sat}.by"))?;
                match &by_t {
                    Template::Lit(Value::String(n)) if registry.by_name(n).is_some() => {}
                    Template::Ref(r)
                        if r.path.is_empty()
                            && !r.optional
                            && IMPL_DIMS.contains(&r.root.as_str())
                            && dims.iter().any(|d| d.name == r.root) =>
                    {
                        used_dims.insert(r.root.clone());
                    }
                    _ => {
                        return Err(format!(
                            "{sat}.by: expected an implementation of {} ({}) or a reference to a dimension of this scenario's matrix among {}, found {by_v}",
                            crate::paths::IMPLS,
                            registry.names().join(", "),
                            IMPL_DIMS.iter().map(|d| format!("${d}")).collect::<Vec<_>>().join(", ")
                        ))
                    }
                }
                let args = match st.get("args") {
                    Some(a) => template::from_toml(a, &format!("{sat}.args"))?,
                    None => Template::Object(BTreeMap::new()),
                };
                template::require_not_optional(&args, &format!("{sat}.args"))?;
                if let (Template::Object(m), Some((required, optional))) = (&args, op_args(&op)) {
                    for k in m.keys() {
                        if !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
                            let mut all: Vec<&str> = required.to_vec();
                            all.extend_from_slice(optional);
                            return Err(format!(
                                "{sat}.args.{k}: `{op}` takes no argument `{k}` (it takes {})",
                                if all.is_empty() {
                                    "none".to_string()
                                } else {
                                    all.join(", ")
                                }
                            ));
                        }
                    }
                    for r in required {
                        if !m.contains_key(*r) {
                            return Err(format!("{sat}.args: `{op}` needs the argument `{r}`"));
                        }
                    }
                } else if !matches!(args, Template::Object(_) | Template::Ref(_)) {
                    return Err(format!("{sat}.args: expected a table"));
                }
                let cx = RefCtx {
                    names: &names,
                    dims: &dims,
                    by,
                    steps: &steps,
                    all_ids: &all_ids,
                };
                check_refs(&args, &cx, &format!("{sat}.args"), &mut used_dims)?;
                StepKind::Call { by: by_t, op, args }
            }
            (None, Some(tv)) => {
                let tname = tv
                    .as_str()
                    .ok_or_else(|| format!("{sat}.transform: expected a string"))?;
                let kind = transform::Kind::parse(tname).ok_or_else(|| {
                    format!(
                        "{sat}.transform: {tname:?} is not a transform (expected one of {})",
                        transform::ALL
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if is_verdict {
                    return Err(format!(
                        "{sat}: the verdict step must be an adapter call (`op`), not a transform; add a consuming step or mark one with `verdict = true`"
                    ));
                }
                let (required, optional) = kind.params();
                let mut allowed = vec!["id", "transform", "input"];
                allowed.extend_from_slice(required);
                allowed.extend_from_slice(optional);
                unknown_fields(st, &allowed, &sat)?;
                let mut params = BTreeMap::new();
                for (k, pv) in st {
                    if k == "id" || k == "transform" {
                        continue;
                    }
                    let pt = template::from_toml(pv, &format!("{sat}.{k}"))?;
                    template::require_not_optional(&pt, &format!("{sat}.{k}"))?;
                    let cx = RefCtx {
                        names: &names,
                        dims: &dims,
                        by,
                        steps: &steps,
                        all_ids: &all_ids,
                    };
                    check_refs(&pt, &cx, &format!("{sat}.{k}"), &mut used_dims)?;
                    params.insert(k.clone(), pt);
                }
                for r in std::iter::once(&"input").chain(required.iter()) {
                    if !params.contains_key(*r) {
                        return Err(format!("{sat}.{r}: missing; `{tname}` needs it"));
                    }
                }
                let present: Vec<&str> = params.keys().map(String::as_str).collect();
                kind.check_present(&present)
                    .map_err(|e| format!("{sat}: {e}"))?;
                StepKind::Transform { kind, params }
            }
        };
        if st.contains_key("verdict") && !matches!(st.get("verdict"), Some(toml::Value::Boolean(_)))
        {
            return Err(format!("{sat}.verdict: expected true or false"));
        }
        let op = match &kind {
            StepKind::Call { op, .. } => Some(op.clone()),
            StepKind::Transform { .. } => None,
        };
        names.insert(id.clone(), Binding::Step { index: i, op });
        steps.push(Step { id, kind });
    }

    let mut checks = Vec::new();
    if let Some(cv) = t.get("check") {
        let arr = cv
            .as_array()
            .ok_or_else(|| format!("{at}.check: expected [[scenario.check]] tables"))?;
        for (i, c) in arr.iter().enumerate() {
            let cat = format!("{at}.check[{i}]");
            let ct = c
                .as_table()
                .ok_or_else(|| format!("{cat}: expected a table"))?;
            unknown_fields(ct, &["name", "equal"], &cat)?;
            let name = match ct.get("name") {
                Some(n) => n
                    .as_str()
                    .ok_or_else(|| format!("{cat}.name: expected a string"))?
                    .to_string(),
                None => format!("check[{i}]"),
            };
            let eq = match ct.get("equal") {
                Some(toml::Value::Array(a)) if a.len() >= 2 => a,
                _ => {
                    return Err(format!(
                        "{cat}.equal: expected an array of two or more values that must be equal"
                    ))
                }
            };
            let mut equal = Vec::new();
            for (j, e) in eq.iter().enumerate() {
                let et = template::from_toml(e, &format!("{cat}.equal[{j}]"))?;
                let cx = RefCtx {
                    names: &names,
                    dims: &dims,
                    by,
                    steps: &steps,
                    all_ids: &all_ids,
                };
                check_refs(&et, &cx, &format!("{cat}.equal[{j}]"), &mut used_dims)?;
                equal.push(et);
            }
            if equal.iter().all(|e| matches!(e, Template::Lit(_))) {
                return Err(format!(
                    "{cat}.equal: compares only constants; refer to at least one step output"
                ));
            }
            checks.push(Check { name, equal });
        }
    }

    for d in &dims {
        if !used_dims.contains(&d.name) {
            return Err(format!(
                "{at}.matrix.{}: dimension `{}` is not used by any step or check, so its cases would all be the same; refer to ${} or to a [by.{}.*] variable, or drop it",
                d.name, d.name, d.name, d.name
            ));
        }
    }

    Ok(Scenario {
        file: file.to_string(),
        name,
        description,
        dims,
        vars,
        by: by.clone(),
        steps,
        verdict_step,
        expect,
        checks,
    })
}

/// What references are checked against.
struct RefCtx<'a> {
    names: &'a BTreeMap<String, Binding>,
    dims: &'a [Dim],
    by: &'a ByVars,
    steps: &'a [Step],
    /// Every step id of the scenario, in order, for "comes later" messages.
    all_ids: &'a [String],
}

/// Check every reference of `t` (at `here`) against the names defined so far.
fn check_refs(
    t: &Template,
    cx: &RefCtx<'_>,
    here: &str,
    used_dims: &mut BTreeSet<String>,
) -> Result<(), String> {
    let (names, dims, by, steps) = (cx.names, cx.dims, cx.by, cx.steps);
    for r in t.refs() {
        match names.get(&r.root) {
            None if cx.all_ids.contains(&r.root) => {
                return Err(format!(
                    "{here}: `{r}` refers to step `{}`, which comes later; a step can only use the outputs of earlier steps",
                    r.root
                ));
            }
            None => {
                let mut defined: Vec<String> = names.keys().map(|k| format!("${k}")).collect();
                defined.sort();
                return Err(format!(
                    "{here}: `{r}` is not defined (defined here: {})",
                    if defined.is_empty() {
                        "nothing".to_string()
                    } else {
                        defined.join(", ")
                    }
                ));
            }
            Some(Binding::Param) => {
                used_dims.insert(r.root.clone());
                if !r.path.is_empty() {
                    return Err(format!(
                        "{here}: `{r}`: the matrix parameter ${} is a single value with no members",
                        r.root
                    ));
                }
            }
            Some(Binding::Var(v)) => {
                let mut cur = v;
                for seg in &r.path {
                    let next = match cur {
                        Value::Object(m) => m.get(seg),
                        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                        _ => None,
                    };
                    match next {
                        Some(n) => cur = n,
                        None if r.optional => break,
                        None => {
                            return Err(format!("{here}: `{r}`: ${} has no member {seg:?}", r.root))
                        }
                    }
                }
            }
            Some(Binding::ByVar { dim }) => {
                used_dims.insert(dim.clone());
                if !r.optional {
                    let d = dims.iter().find(|d| &d.name == dim);
                    for value in d.map(|d| d.values.as_slice()).unwrap_or_default() {
                        let defined = by
                            .get(dim)
                            .and_then(|m| m.get(&value.to_string()))
                            .is_some_and(|vars| vars.contains_key(&r.root));
                        if !defined {
                            return Err(format!(
                                "{here}: `{r}` is not defined for {dim} = {value}: add it to [by.{dim}.{value}] or write `${}?` in a table to omit the member",
                                r.root
                            ));
                        }
                    }
                }
            }
            Some(Binding::Step { index, op }) => {
                let step_id = &steps[*index].id;
                match (op, r.path.first()) {
                    (None, Some(seg)) => {
                        return Err(format!(
                            "{here}: `{r}`: step `{step_id}` is a transform whose output is a string, with no member {seg:?}"
                        ))
                    }
                    (Some(op), Some(seg)) => {
                        if let Some(members) = result_members(op) {
                            if !members.contains(&seg.as_str()) {
                                return Err(format!(
                                    "{here}: `{r}`: the result of `{op}` has no member {seg:?} (it has {})",
                                    if members.is_empty() { "none".to_string() } else { members.join(", ") }
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// Every scenario file under `dir`, recursively, sorted by path: `.toml` and `.json` files
/// (other files, such as a README, are ignored).
pub fn list_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // Bounded: at most 10 000 directories.
    let mut visited = 0usize;
    while let Some(d) = stack.pop() {
        visited += 1;
        if visited > 10_000 {
            return Err(Error::Config(format!(
                "{}: more than 10 000 directories",
                dir.display()
            )));
        }
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| Error::io(&p, e))?;
            if ft.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("toml" | "json")
            ) {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, p));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A file parsed and linted, or its problems.
pub type FileResult = Result<ScenarioFile, Vec<String>>;

/// Parse and lint every file under `dir`, each on its own.
pub fn load_each(dir: &Path, registry: &Registry) -> Result<Vec<(String, FileResult)>, Error> {
    let mut out = Vec::new();
    for (rel, p) in list_files(dir)? {
        let parsed = match std::fs::read_to_string(&p) {
            Ok(text) => parse_file(&text, &rel, registry),
            Err(e) => Err(vec![format!("{rel}: cannot read: {e}")]),
        };
        out.push((rel, parsed));
    }
    if out.is_empty() {
        return Err(Error::Config(format!(
            "{}: no scenario files (*.toml, *.json)",
            dir.display()
        )));
    }
    Ok(out)
}

/// Parse and lint every file under `dir`; any problem fails the whole load.
pub fn load_dir(dir: &Path, registry: &Registry) -> Result<Vec<ScenarioFile>, Error> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for (_, r) in load_each(dir, registry)? {
        match r {
            Ok(f) => files.push(f),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Error::Lint(problems))
    }
}
