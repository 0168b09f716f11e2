//! Ability estimates for every person: EAP (posterior mean and SD over the quadrature), MAP
//! (posterior mode with SE from the posterior information) and ML (likelihood maximum with SE
//! from the test information). Works from fitted or user-given item parameters.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::PredictionError;
use super::estimation::{Curve, e_step};
use super::model::{ItemParameters, logistic};
use super::quadrature::Quadrature;
use super::responses::{Patterns, ResponseMatrix};

/// How abilities are estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoringMethod {
    /// Expected a posteriori: posterior mean, with posterior SD as `theta_se`.
    #[default]
    Eap,
    /// Maximum a posteriori: posterior mode, SE from the posterior information.
    Map,
    /// Maximum likelihood, SE from the test information; undefined for all-correct and
    /// all-wrong patterns, which are flagged and left empty.
    Ml,
}

impl ScoringMethod {
    /// Every method, for menus.
    pub const ALL: [ScoringMethod; 3] = [ScoringMethod::Eap, ScoringMethod::Map, ScoringMethod::Ml];

    /// The name used on the command line and in files: `eap`, `map`, `ml`.
    pub fn name(self) -> &'static str {
        match self {
            ScoringMethod::Eap => "eap",
            ScoringMethod::Map => "map",
            ScoringMethod::Ml => "ml",
        }
    }

    /// Parses `eap`, `map` or `ml` (case-insensitive).
    pub fn parse(text: &str) -> Option<ScoringMethod> {
        ScoringMethod::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// Why a person's θ is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreFlag {
    /// No responses to the scored items.
    NoResponses,
    /// Every answered item correct: the ML estimate is +∞.
    AllCorrect,
    /// Every answered item wrong: the ML estimate is −∞.
    AllWrong,
}

impl ScoreFlag {
    /// A phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ScoreFlag::NoResponses => "no responses",
            ScoreFlag::AllCorrect => "all answered items correct",
            ScoreFlag::AllWrong => "all answered items wrong",
        }
    }
}

/// One person's ability estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonScore {
    /// Person identifier.
    pub id: String,
    /// θ estimate; `None` when undefined (see `flag`).
    pub theta: Option<f64>,
    /// Standard error of θ (posterior SD for EAP).
    pub theta_se: Option<f64>,
    /// Number of items answered.
    pub n_answered: usize,
    /// Number of items answered correctly.
    pub sum_score: usize,
    /// Why `theta` is empty, if it is.
    pub flag: Option<ScoreFlag>,
}

/// Options of scoring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoringOptions {
    /// EAP, MAP or ML.
    pub method: ScoringMethod,
    /// Scaling constant D of the item parameters.
    pub scaling: f64,
    /// SD of the latent distribution in the items' θ metric (1, or √variance for Rasch).
    pub latent_sd: f64,
    /// Quadrature nodes for EAP.
    pub quadrature_points: usize,
    /// Nodes on [−limit, limit]; also bounds MAP and ML estimates.
    pub theta_limit: f64,
}

impl Default for ScoringOptions {
    fn default() -> Self {
        ScoringOptions {
            method: ScoringMethod::Eap,
            scaling: 1.0,
            latent_sd: 1.0,
            quadrature_points: 61,
            theta_limit: 6.0,
        }
    }
}

/// Item curves on the N(0, 1) metric from IRT-form parameters on a θ metric with SD
/// `latent_sd`: the logit `D·a·(σθ − b)` has slope `D·a·σ` and intercept `−D·a·b`.
pub(crate) fn curves_from_items(
    items: &[ItemParameters],
    scaling: f64,
    latent_sd: f64,
) -> Vec<Curve> {
    items
        .iter()
        .map(|i| Curve {
            slope: scaling * i.a * latent_sd,
            intercept: -scaling * i.a * i.b,
            guessing: i.c,
        })
        .collect()
}

/// The columns of `responses` that `items` name, in the items' order, or an error naming the
/// first item the data lacks.
pub fn align_items(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
) -> Result<ResponseMatrix, PredictionError> {
    let indices = items
        .iter()
        .map(|item| {
            responses
                .item_names()
                .iter()
                .position(|n| *n == item.item)
                .ok_or_else(|| PredictionError::ColumnNotFound {
                    column: item.item.clone(),
                    available: responses.item_names().join(", "),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(responses.select_items(&indices))
}

/// Scores every person of `responses`, whose columns are `items` in order (see
/// [`align_items`]).
pub fn score_persons(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
    options: &ScoringOptions,
) -> Result<Vec<PersonScore>, PredictionError> {
    if responses.n_items() != items.len() {
        return Err(PredictionError::Data(format!(
            "{} response columns for {} items",
            responses.n_items(),
            items.len()
        )));
    }
    for item in items {
        item.validate().map_err(PredictionError::Data)?;
    }
    let curves = curves_from_items(items, options.scaling, options.latent_sd);
    Ok(score_with_curves(responses, &curves, options))
}

pub(crate) fn score_with_curves(
    responses: &ResponseMatrix,
    curves: &[Curve],
    options: &ScoringOptions,
) -> Vec<PersonScore> {
    let patterns = Patterns::collapse(responses);
    let quadrature = Quadrature::normal(options.quadrature_points, options.theta_limit);
    let moments = if patterns.len() > 0 {
        e_step(&patterns, curves, &quadrature, false, true)
            .moments
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let limit = options.theta_limit;
    // Per pattern: (θ, SE, flag) on the N(0, 1) metric.
    let per_pattern: Vec<(Option<f64>, Option<f64>, Option<ScoreFlag>)> = (0..patterns.len())
        .into_par_iter()
        .map(|p| {
            let row = patterns.row(p);
            let (eap, eap_sd) = moments.get(p).copied().unwrap_or((0.0, 1.0));
            match options.method {
                ScoringMethod::Eap => (Some(eap), Some(eap_sd), None),
                ScoringMethod::Map => {
                    let (theta, se) = mode(row, curves, true, eap, limit);
                    (Some(theta), se, None)
                }
                ScoringMethod::Ml => {
                    let answered = row.iter().filter(|&&v| v <= 1).count();
                    let correct = row.iter().filter(|&&v| v == 1).count();
                    if correct == answered {
                        (None, None, Some(ScoreFlag::AllCorrect))
                    } else if correct == 0 {
                        (None, None, Some(ScoreFlag::AllWrong))
                    } else {
                        let (theta, se) = mode(row, curves, false, eap, limit);
                        (Some(theta), se, None)
                    }
                }
            }
        })
        .collect();
    let scale = options.latent_sd;
    (0..responses.n_persons())
        .map(|person| {
            let row = responses.row(person);
            let n_answered = row.iter().filter(|&&v| v <= 1).count();
            let sum_score = row.iter().filter(|&&v| v == 1).count();
            let id = responses.person_ids()[person].clone();
            match patterns.person_pattern[person] {
                None => PersonScore {
                    id,
                    theta: None,
                    theta_se: None,
                    n_answered,
                    sum_score,
                    flag: Some(ScoreFlag::NoResponses),
                },
                Some(p) => {
                    let (theta, se, flag) = per_pattern[p];
                    PersonScore {
                        id,
                        theta: theta.map(|t| t * scale),
                        theta_se: se.map(|s| s * scale),
                        n_answered,
                        sum_score,
                        flag,
                    }
                }
            }
        })
        .collect()
}

/// The mode of the log-likelihood (plus the N(0, 1) log prior when `with_prior`) of one
/// pattern, by Fisher scoring with step halving from `start`, kept inside `[−limit, limit]`.
/// Returns θ and the SE `1/√information` at θ.
fn mode(
    row: &[u8],
    curves: &[Curve],
    with_prior: bool,
    start: f64,
    limit: f64,
) -> (f64, Option<f64>) {
    let evaluate = |theta: f64| {
        let mut value = if with_prior {
            -0.5 * theta * theta
        } else {
            0.0
        };
        let mut gradient = if with_prior { -theta } else { 0.0 };
        let mut information = if with_prior { 1.0 } else { 0.0 };
        for (&code, curve) in row.iter().zip(curves) {
            if code > 1 {
                continue;
            }
            let psi = logistic(curve.slope * theta + curve.intercept);
            let c = curve.guessing;
            let p = (c + (1.0 - c) * psi).clamp(1e-300, 1.0 - 1e-16);
            let dp = (1.0 - c) * psi * (1.0 - psi) * curve.slope;
            let x = f64::from(code);
            value += x * p.ln() + (1.0 - x) * (1.0 - p).ln();
            gradient += (x - p) / (p * (1.0 - p)) * dp;
            information += dp * dp / (p * (1.0 - p));
        }
        (value, gradient, information)
    };
    let mut theta = start.clamp(-limit, limit);
    for _ in 0..100 {
        let (value, gradient, information) = evaluate(theta);
        if information <= 0.0 || !gradient.is_finite() {
            break;
        }
        let step = (gradient / information).clamp(-1.0, 1.0);
        let mut scale = 1.0;
        let mut next = theta;
        for _ in 0..30 {
            next = (theta + scale * step).clamp(-limit, limit);
            if evaluate(next).0 >= value - 1e-12 {
                break;
            }
            scale *= 0.5;
        }
        let change = (next - theta).abs();
        theta = next;
        if change < 1e-8 {
            break;
        }
    }
    let (_, _, information) = evaluate(theta);
    let se = (information > 0.0).then(|| 1.0 / information.sqrt());
    (theta, se)
}
