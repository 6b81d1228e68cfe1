//! Matrix expansion and case ids (`docs/SCENARIOS.md`, "Matrix and ids").
//!
//! A scenario with dimensions d1 … dn expands to the cartesian product of their values, the
//! first dimension varying slowest. Dimensions are ordered producer, consumer, impl, then the
//! others by name, so a case id does not depend on how the file orders its keys:
//!
//! `floor/claims.toml::sign-verify[producer=rust,consumer=node,alg=bip340,enc=markdown]`
//!
//! A scenario without dimensions has one case, `<file>::<name>`.

use crate::impls::Registry;
use crate::scenario::{Scalar, Scenario, ScenarioFile};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One expanded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The stable id.
    pub id: String,
    /// The scenario it comes from.
    pub scenario: Arc<Scenario>,
    /// Its parameters, in id order.
    pub params: Vec<(String, Scalar)>,
}

impl Case {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&Scalar> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// `<file>::<scenario>`: the case id without parameters.
    pub fn scenario_key(&self) -> String {
        format!("{}::{}", self.scenario.file, self.scenario.name)
    }

    /// The parameters other than producer, consumer and impl, as `k=v,…` (for report cells).
    pub fn other_params(&self) -> String {
        self.params
            .iter()
            .filter(|(k, _)| !crate::scenario::IMPL_DIMS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The initial scope: parameters, variables and this case's by-variables.
    pub fn scope(&self) -> BTreeMap<String, Value> {
        let mut scope: BTreeMap<String, Value> = self.scenario.vars.clone();
        for (k, v) in &self.params {
            scope.insert(k.clone(), v.to_json());
            if let Some(vars) = self
                .scenario
                .by
                .get(k)
                .and_then(|per_value| per_value.get(&v.to_string()))
            {
                for (name, val) in vars {
                    scope.insert(name.clone(), val.clone());
                }
            }
        }
        scope
    }
}

/// The id of a case.
pub fn case_id(file: &str, scenario: &str, params: &[(String, Scalar)]) -> String {
    if params.is_empty() {
        format!("{file}::{scenario}")
    } else {
        let p = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        format!("{file}::{scenario}[{p}]")
    }
}

/// Expand one scenario.
pub fn expand(scenario: &Arc<Scenario>) -> Vec<Case> {
    let mut combos: Vec<Vec<(String, Scalar)>> = vec![Vec::new()];
    for d in &scenario.dims {
        let mut next = Vec::with_capacity(combos.len() * d.values.len());
        for c in &combos {
            for v in &d.values {
                let mut c2 = c.clone();
                c2.push((d.name.clone(), v.clone()));
                next.push(c2);
            }
        }
        combos = next;
    }
    combos
        .into_iter()
        .map(|params| Case {
            id: case_id(&scenario.file, &scenario.name, &params),
            scenario: Arc::clone(scenario),
            params,
        })
        .collect()
}

/// Expand every scenario of every file, in order.
pub fn expand_all(files: &[ScenarioFile], _registry: &Registry) -> Vec<Case> {
    files
        .iter()
        .flat_map(|f| f.scenarios.iter())
        .flat_map(expand)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_ordered() {
        let reg = Registry::parse(
            "schema = 1\n[[impl]]\nname = \"rust\"\ncommand = [\"x\"]\nprotocol = 1\nops = [\"hello\", \"shutdown\", \"claim_sign\"]\n[[impl]]\nname = \"node\"\ncommand = [\"y\"]\nprotocol = 1\nops = [\"hello\", \"shutdown\", \"claim_sign\"]\n",
            "impls.toml",
        )
        .unwrap();
        let text = r#"
schema = 1
description = "d"
[[scenario]]
name = "s"
description = "d"
matrix = { enc = ["markdown", "json"], alg = ["bip340"], consumer = "*", producer = ["rust"] }
expect = { outcome = "valid" }
[[scenario.step]]
by = "$producer"
op = "claim_sign"
args = { key = "$alg", subject = "$enc", created_at = 1 }
[[scenario.step]]
by = "$consumer"
op = "claim_sign"
args = { key = "$alg", subject = "$enc", created_at = 1 }
"#;
        let f = crate::scenario::parse_file(text, "floor/claims.toml", &reg).unwrap();
        let ids: Vec<String> = expand_all(&[f], &reg).into_iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            vec![
                "floor/claims.toml::s[producer=rust,consumer=rust,alg=bip340,enc=markdown]",
                "floor/claims.toml::s[producer=rust,consumer=rust,alg=bip340,enc=json]",
                "floor/claims.toml::s[producer=rust,consumer=node,alg=bip340,enc=markdown]",
                "floor/claims.toml::s[producer=rust,consumer=node,alg=bip340,enc=json]",
            ]
        );
    }
}
