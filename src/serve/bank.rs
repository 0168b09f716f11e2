//! The item bank the service answers from: calibrated items loaded once at start — from an
//! items table or by running a project's fit — and the computations of the endpoints on it:
//! category probabilities at given θ values (each item's own model, as `irtlab probabilities`
//! computes them) and ability scores of response patterns ([`score_persons`], as `irtlab fit`
//! scores).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq};

use super::ServeError;
use super::api::{Answer, ProbabilitiesRequest, ScoresRequest};
use super::errors::ApiError;
use crate::prediction::responses::shorten_list;
use crate::prediction::{
    ItemParameters, PersonScore, Progress, ResponseMatrix, ScoringMethod, ScoringOptions,
    score_persons, scoring_options, tables,
};
use crate::preparation::Source;
use crate::project::{Project, run_project};

/// Calibrated items, indexed by name, with the scoring settings that match their calibration.
#[derive(Clone, Debug)]
pub struct ItemBank {
    items: Vec<ItemParameters>,
    index: HashMap<String, usize>,
    /// The scaling constant D of the IRT form that `GET /v1/items` reports.
    scaling: f64,
    /// The latent distribution and quadrature of scoring; its method is the default one.
    scoring: ScoringOptions,
    /// Where the bank came from, for messages.
    origin: String,
}

impl ItemBank {
    /// A bank of `items` (at least one; names unique; parameters valid). `scaling` is the D of
    /// the reported IRT form; `scoring` the latent distribution, quadrature and default
    /// method of `POST /v1/scores`.
    pub fn new(
        items: Vec<ItemParameters>,
        scaling: f64,
        scoring: ScoringOptions,
        origin: impl Into<String>,
    ) -> Result<ItemBank, ServeError> {
        if items.is_empty() {
            return Err(ServeError::Bank("the item bank has no items".into()));
        }
        if !(scaling.is_finite() && scaling > 0.0) {
            return Err(ServeError::Bank(format!(
                "the scaling constant must be a positive number (1 or 1.702), got {scaling}"
            )));
        }
        let mut index = HashMap::with_capacity(items.len());
        for (j, item) in items.iter().enumerate() {
            item.validate().map_err(ServeError::Bank)?;
            if index.insert(item.item.clone(), j).is_some() {
                return Err(ServeError::Bank(format!(
                    "the item bank lists item {} twice",
                    crate::text::quoted(&item.item)
                )));
            }
        }
        Ok(ItemBank {
            items,
            index,
            scaling,
            scoring,
            origin: origin.into(),
        })
    }

    /// Reads an items table (CSV, Parquet or SQLite, in the layout `irtlab fit --items-out`
    /// writes; every item type); `scaling` is the D of its `a`. Scoring uses θ ~ N(0, 1), 61
    /// nodes on ±6 and EAP by default.
    pub fn from_items_table(path: &Path, scaling: f64) -> Result<ItemBank, ServeError> {
        let place = |message: String| ServeError::Bank(format!("{}: {message}", path.display()));
        if !(scaling.is_finite() && scaling > 0.0) {
            return Err(place(format!(
                "the scaling constant must be a positive number (1 or 1.702), got {scaling}"
            )));
        }
        let frame = Source::for_file(path)
            .and_then(|source| source.load(None))
            .map_err(|e| place(e.to_string()))?;
        let items = tables::items_from_table(&frame, scaling).map_err(|e| place(e.to_string()))?;
        ItemBank::new(
            items,
            scaling,
            ScoringOptions::default(),
            path.display().to_string(),
        )
        .map_err(|e| place(e.to_string()))
    }

    /// Runs a project (preparation, preprocessing, calibration) and banks its calibrated items,
    /// with scoring on the calibration's latent distribution and quadrature and the project's
    /// scoring method as the default.
    pub fn from_project(
        path: &Path,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<ItemBank, ServeError> {
        let project = Project::load(path).map_err(ServeError::Project)?;
        let base = path.parent().map(Path::to_path_buf);
        let run = run_project(&project, base.as_deref(), progress, cancel)
            .map_err(ServeError::Project)?;
        let calibration = &run.analysis.calibration;
        ItemBank::new(
            calibration.item_parameters(),
            project.model.scaling,
            scoring_options(calibration, project.scoring),
            path.display().to_string(),
        )
    }

    /// The items, in bank order.
    pub fn items(&self) -> &[ItemParameters] {
        &self.items
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the bank is empty (never, for a bank made by [`ItemBank::new`]).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Where the bank came from (a file path).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The scoring options of `POST /v1/scores` (the method is the default one).
    pub fn scoring(&self) -> &ScoringOptions {
        &self.scoring
    }

    /// An item by name.
    pub fn item(&self, name: &str) -> Option<&ItemParameters> {
        self.index.get(name).map(|&j| &self.items[j])
    }

    /// 404 naming an unknown item and where it was asked for.
    fn unknown_item(&self, name: &str, at: &str) -> ApiError {
        let names: Vec<String> = self.items.iter().map(|i| i.item.clone()).collect();
        ApiError::not_found(format!(
            "{at}: unknown item {}; the bank has {} items: {}",
            crate::text::quoted(name),
            crate::text::count(self.items.len()),
            shorten_list(&names)
        ))
    }

    /// The answer to a probabilities request, as JSON bytes: `{"items": [...], "theta":
    /// [...], "probabilities": [[per item] per θ]}`, where a right/wrong item's entry is the
    /// probability of its higher category and a polytomous item's the list of its category
    /// probabilities. Refuses, before computing, an answer of more than `max_values` numbers.
    pub fn probabilities_json(
        &self,
        request: &ProbabilitiesRequest,
        max_values: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let chosen: Vec<&ItemParameters> = match &request.items {
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    self.item(name)
                        .ok_or_else(|| self.unknown_item(name, &format!("/items/{k}")))
                })
                .collect::<Result<_, _>>()?,
            None => self.items.iter().collect(),
        };
        let per_theta: usize = chosen
            .iter()
            .map(|i| {
                if i.n_categories() == 2 {
                    1
                } else {
                    i.n_categories()
                }
            })
            .sum();
        let values = (per_theta as u128) * (request.theta.len() as u128);
        if values > max_values as u128 {
            return Err(ApiError::unprocessable(format!(
                "the answer would hold {} probabilities ({} θ values × {} per θ), more than this service's limit of {}; ask for fewer θ values or fewer items",
                crate::text::count(values.min(usize::MAX as u128) as usize),
                crate::text::count(request.theta.len()),
                crate::text::count(per_theta),
                crate::text::count(max_values)
            )));
        }
        let answer = ProbabilitiesAnswer {
            items: chosen.iter().map(|i| i.item.as_str()).collect(),
            theta: &request.theta,
            probabilities: Rows {
                items: &chosen,
                theta: &request.theta,
            },
        };
        // About 20 bytes a number; reserving avoids regrowing the buffer for large answers.
        let mut out = Vec::with_capacity(64 + values as usize * 20 + request.theta.len() * 24);
        serde_json::to_writer(&mut out, &answer).map_err(|e| {
            ApiError::unprocessable(format!("the probabilities cannot be computed: {e}"))
        })?;
        Ok(out)
    }

    /// Scores each response pattern with the request's method (the bank's default without
    /// one): θ, its SE, answers counted, sum score and, where θ is empty, why.
    pub fn scores(&self, request: &ScoresRequest) -> Result<ScoresAnswer, ApiError> {
        let method: ScoringMethod = request
            .method
            .map(Into::into)
            .unwrap_or(self.scoring.method);
        // Each answer as (person, bank item, category code); then the items answered by anyone,
        // in bank order, are the columns of the response matrix.
        let mut answered: Vec<(usize, usize, u8)> = Vec::new();
        for (p, pattern) in request.responses.iter().enumerate() {
            for (name, answer) in &pattern.answers {
                let at = || format!("/responses/{p}/answers/{}", pointer_token(name));
                let j = *self
                    .index
                    .get(name)
                    .ok_or_else(|| self.unknown_item(name, &at()))?;
                let Some(answer) = answer else {
                    continue;
                };
                let item = &self.items[j];
                let code = category_code(item, answer).ok_or_else(|| {
                    ApiError::unprocessable(format!(
                        "{}: {} is not a category of item {} (categories: {})",
                        at(),
                        match answer {
                            Answer::Number(v) => format!("{v}"),
                            Answer::Text(t) => crate::text::quoted(t),
                        },
                        crate::text::quoted(&item.item),
                        crate::text::shorten(&item.categories.join(", "), 200)
                    ))
                })?;
                answered.push((p, j, code));
            }
        }
        let mut is_used = vec![false; self.items.len()];
        for &(_, j, _) in &answered {
            is_used[j] = true;
        }
        let mut position = vec![0u32; self.items.len()];
        let mut used_items = Vec::new();
        for (j, used) in is_used.iter().enumerate() {
            if *used {
                position[j] = used_items.len() as u32;
                used_items.push(self.items[j].clone());
            }
        }
        let triples: Vec<(u32, u32, u8)> = answered
            .iter()
            .map(|&(p, j, code)| (p as u32, position[j], code))
            .collect();
        let ids: Vec<String> = request.responses.iter().map(|r| r.id.clone()).collect();
        let scores = if used_items.is_empty() {
            // Nobody answered anything: every θ is empty, flagged "no responses".
            ids.into_iter()
                .map(|id| PersonScore {
                    id,
                    theta: None,
                    theta_se: None,
                    n_answered: 0,
                    sum_score: 0,
                    flag: Some(crate::prediction::ScoreFlag::NoResponses),
                })
                .collect()
        } else {
            let matrix = ResponseMatrix::from_triples(
                ids,
                used_items.iter().map(|i| i.item.clone()).collect(),
                used_items.iter().map(|i| i.categories.clone()).collect(),
                &triples,
            )
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            let options = ScoringOptions {
                method,
                ..self.scoring
            };
            score_persons(&matrix, &used_items, &options)
                .map_err(|e| ApiError::unprocessable(format!("scoring failed: {e}")))?
        };
        Ok(ScoresAnswer {
            method: method.name(),
            scores,
        })
    }

    /// The bank as `GET /v1/items` shows it: each item's type, categories and IRT form.
    pub fn items_answer(&self) -> ItemsAnswer<'_> {
        ItemsAnswer {
            scaling: self.scaling,
            n_items: self.items.len(),
            items: self
                .items
                .iter()
                .map(|item| {
                    let form = item.irt(self.scaling);
                    let dichotomous = item.n_categories() == 2;
                    let one_or_list = |values: Vec<f64>| -> Option<serde_json::Value> {
                        match values.as_slice() {
                            [] => None,
                            [one] if dichotomous => Some(serde_json::json!(one)),
                            _ => Some(serde_json::json!(values)),
                        }
                    };
                    ItemEntry {
                        item: &item.item,
                        model: item.model.name(),
                        categories: &item.categories,
                        a: form.a,
                        b: one_or_list(form.b),
                        d: one_or_list(form.d),
                        c: form.c,
                        u: form.u,
                        ak: (!form.ak.is_empty()).then_some(form.ak),
                    }
                })
                .collect(),
        }
    }
}

/// A JSON Pointer token: `~` and `/` escaped (RFC 6901).
fn pointer_token(name: &str) -> String {
    crate::text::shorten(&name.replace('~', "~0").replace('/', "~1"), 60)
}

/// The item's category code of an answer: text matched exactly, then any answer by numeric
/// value ("1", 1 and 1.0 are the same category).
fn category_code(item: &ItemParameters, answer: &Answer) -> Option<u8> {
    let by_value = |value: f64| {
        item.categories
            .iter()
            .position(|c| c.trim().parse::<f64>().ok() == Some(value))
    };
    let code = match answer {
        Answer::Number(value) => by_value(*value),
        Answer::Text(text) => item
            .categories
            .iter()
            .position(|c| c == text)
            .or_else(|| text.trim().parse::<f64>().ok().and_then(by_value)),
    }?;
    u8::try_from(code).ok()
}

/// The probabilities answer, serialised straight from the items without a table in between.
#[derive(Serialize)]
struct ProbabilitiesAnswer<'a> {
    items: Vec<&'a str>,
    theta: &'a [f64],
    probabilities: Rows<'a>,
}

/// One row per θ, computed while it is written.
struct Rows<'a> {
    items: &'a [&'a ItemParameters],
    theta: &'a [f64],
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut rows = serializer.serialize_seq(Some(self.theta.len()))?;
        for &theta in self.theta {
            rows.serialize_element(&Row {
                items: self.items,
                theta,
            })?;
        }
        rows.end()
    }
}

/// The entries of every item at one θ.
struct Row<'a> {
    items: &'a [&'a ItemParameters],
    theta: f64,
}

impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut p = [0.0; crate::prediction::responses::MAX_CATEGORIES];
        let mut row = serializer.serialize_seq(Some(self.items.len()))?;
        for item in self.items {
            let k = item.n_categories();
            let p = &mut p[..k];
            item.probabilities_into(self.theta, p);
            if let Some(bad) = p.iter().find(|v| !v.is_finite()) {
                return Err(S::Error::custom(format!(
                    "item {} gives {bad} at θ = {}",
                    crate::text::quoted(&item.item),
                    self.theta
                )));
            }
            if k == 2 {
                row.serialize_element(&p[1])?;
            } else {
                row.serialize_element(&*p)?;
            }
        }
        row.end()
    }
}

/// The answer of `POST /v1/scores`.
#[derive(Clone, Debug, Serialize)]
pub struct ScoresAnswer {
    /// The method used: `eap`, `map`, `ml` or `wle`.
    pub method: &'static str,
    /// One score per response pattern, in request order.
    pub scores: Vec<PersonScore>,
}

/// The answer of `GET /v1/items`.
#[derive(Serialize)]
pub struct ItemsAnswer<'a> {
    /// The scaling constant D of `a` and `b`.
    pub scaling: f64,
    /// Number of items.
    pub n_items: usize,
    /// Each item.
    pub items: Vec<ItemEntry<'a>>,
}

/// One item of `GET /v1/items`: its type, categories and IRT form (fields a type does not
/// have are left out).
#[derive(Serialize)]
pub struct ItemEntry<'a> {
    /// Item name.
    pub item: &'a str,
    /// Item type (`2pl`, `graded`, …).
    pub model: &'static str,
    /// Category values, in order.
    pub categories: &'a [String],
    /// Discrimination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<f64>,
    /// Difficulty (right/wrong items) or thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<serde_json::Value>,
    /// Intercept(s) on the logit scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<serde_json::Value>,
    /// Lower asymptote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c: Option<f64>,
    /// Upper asymptote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u: Option<f64>,
    /// Nominal category slopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ak: Option<Vec<f64>>,
}
