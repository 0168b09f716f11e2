//! The request bodies of the service, as Rust types. The same types give the JSON Schemas the
//! service publishes and validates against (schemars derives them from these definitions,
//! serde's attributes included) and the values the handlers work with (serde deserialises them
//! once a body has passed its schema).

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::prediction::ScoringMethod;

/// Body of `POST /v1/probabilities` (and the query of `GET /v1/probabilities`, read into the
/// same shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "probabilities")]
pub struct ProbabilitiesRequest {
    /// The θ values at which to compute the items' category probabilities.
    #[schemars(length(min = 1), inner(range(min = -1e6, max = 1e6)))]
    pub theta: Vec<f64>,
    /// Names of the items, in the order wanted; every item of the bank when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub items: Option<Vec<String>>,
}

/// Body of `POST /v1/scores`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "scores")]
pub struct ScoresRequest {
    /// The persons to score, each with their answers.
    #[schemars(length(min = 1))]
    pub responses: Vec<ResponsePattern>,
    /// Ability estimation: `eap` (the default), `map`, `ml` or `wle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
}

/// One person's answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsePattern {
    /// The person's identifier, returned with the score.
    pub id: String,
    /// Item name → the category answered (its value, as in the items' `categories`: `1`, `0`,
    /// `"3"`); `null` or a missing item means not answered.
    pub answers: BTreeMap<String, Option<Answer>>,
}

/// A category value: a number (`1`, `2.0`) or text (`"1"`, `"agree"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// A numeric category value, matched against the item's categories by value.
    Number(f64),
    /// A category written as text, matched exactly, or by value when it is a number.
    Text(String),
}

impl JsonSchema for Answer {
    // Inlined, so that `Option<Answer>` reads as one type list: number, string or null.
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Answer".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A category value: a number or text.",
            "type": ["number", "string"]
        })
    }
}

/// The ability estimation methods, as a request names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Expected a posteriori: posterior mean and SD.
    Eap,
    /// Maximum a posteriori: posterior mode.
    Map,
    /// Maximum likelihood.
    Ml,
    /// Warm's weighted likelihood estimate.
    Wle,
}

impl Method {
    /// Every method, in the order of the schema's `enum`.
    pub const ALL: [Method; 4] = [Method::Eap, Method::Map, Method::Ml, Method::Wle];
}

impl JsonSchema for Method {
    // Inlined as a plain `enum` of names (a derived schema would be a `oneOf` of constants,
    // whose violations read worse), so that `Option<Method>` adds `null` to the same list.
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Method".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Method::ALL
            .iter()
            .map(|m| ScoringMethod::from(*m).name())
            .collect();
        json_schema!({
            "description": "Ability estimation: eap (posterior mean), map (posterior mode), ml (maximum likelihood) or wle (Warm's weighted likelihood).",
            "type": "string",
            "enum": names
        })
    }
}

impl From<Method> for ScoringMethod {
    fn from(method: Method) -> ScoringMethod {
        match method {
            Method::Eap => ScoringMethod::Eap,
            Method::Map => ScoringMethod::Map,
            Method::Ml => ScoringMethod::Ml,
            Method::Wle => ScoringMethod::Wle,
        }
    }
}

impl From<ScoringMethod> for Method {
    fn from(method: ScoringMethod) -> Method {
        match method {
            ScoringMethod::Eap => Method::Eap,
            ScoringMethod::Map => Method::Map,
            ScoringMethod::Ml => Method::Ml,
            ScoringMethod::Wle => Method::Wle,
        }
    }
}
