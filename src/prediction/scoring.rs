//! Ability estimates for every person, for every item type: EAP (posterior mean and SD over the
//! quadrature), MAP (posterior mode, SE from the posterior information), ML (likelihood maximum,
//! SE from the test information) and WLE (Warm, 1989: the root of the likelihood equation plus
//! Warm's bias correction `J/(2I)`, SE from the test information). Works from fitted or
//! user-given item parameters; identical response patterns are scored once.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::PredictionError;
use super::estimation::estep::{EStepInput, ItemTable, e_step};
use super::estimation::problem::normal_log_weights;
use super::model::ItemParameters;
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
    /// Maximum likelihood, SE from the test information; undefined for patterns all in the
    /// lowest or all in the highest categories, which are flagged and left empty.
    Ml,
    /// Warm's weighted likelihood estimate: finite for extreme patterns of most models, less
    /// biased than ML; SE from the test information.
    Wle,
}

impl ScoringMethod {
    /// Every method, for menus.
    pub const ALL: [ScoringMethod; 4] = [
        ScoringMethod::Eap,
        ScoringMethod::Map,
        ScoringMethod::Ml,
        ScoringMethod::Wle,
    ];

    /// The name used on the command line and in files: `eap`, `map`, `ml`, `wle`.
    pub fn name(self) -> &'static str {
        match self {
            ScoringMethod::Eap => "eap",
            ScoringMethod::Map => "map",
            ScoringMethod::Ml => "ml",
            ScoringMethod::Wle => "wle",
        }
    }

    /// Parses a method name (case-insensitive).
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
    /// Every answered item in its highest category (all correct): the ML estimate is +∞.
    AllCorrect,
    /// Every answered item in its lowest category (all wrong): the ML estimate is −∞.
    AllWrong,
    /// The estimate ran to the edge of the θ range (no finite maximum).
    NoFiniteEstimate,
}

impl ScoreFlag {
    /// A phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ScoreFlag::NoResponses => "no responses",
            ScoreFlag::AllCorrect => "all answered items correct (highest category)",
            ScoreFlag::AllWrong => "all answered items wrong (lowest category)",
            ScoreFlag::NoFiniteEstimate => "no finite estimate",
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
    /// Sum of the category scores (0, 1, … per item) of the answered items.
    pub sum_score: usize,
    /// Why `theta` is empty, if it is.
    pub flag: Option<ScoreFlag>,
}

/// Options of scoring.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoringOptions {
    /// EAP, MAP, ML or WLE.
    pub method: ScoringMethod,
    /// Mean of the latent distribution (the prior of EAP and MAP) on the items' metric.
    pub latent_mean: f64,
    /// Its standard deviation.
    pub latent_sd: f64,
    /// Quadrature nodes for EAP.
    pub quadrature_points: usize,
    /// Nodes on `mean ± limit·sd`; also bounds the MAP, ML and WLE estimates.
    pub theta_limit: f64,
}

impl Default for ScoringOptions {
    fn default() -> Self {
        ScoringOptions {
            method: ScoringMethod::Eap,
            latent_mean: 0.0,
            latent_sd: 1.0,
            quadrature_points: 61,
            theta_limit: 6.0,
        }
    }
}

/// The columns of `responses` that `items` name, in the items' order, with each response's
/// category mapped onto the item's categories by value. Errors name the first item the data
/// lacks, or a response value the item has no category for.
pub fn align_items<'a>(
    responses: &'a ResponseMatrix,
    items: &[ItemParameters],
) -> Result<std::borrow::Cow<'a, ResponseMatrix>, PredictionError> {
    let indices = items
        .iter()
        .map(|item| {
            responses
                .item_names()
                .iter()
                .position(|n| *n == item.item)
                .ok_or_else(|| PredictionError::ColumnNotFound {
                    column: item.item.clone(),
                    available: super::responses::shorten_list(responses.item_names()),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let unchanged = indices.len() == responses.n_items()
        && indices.iter().enumerate().all(|(k, &j)| k == j)
        && items
            .iter()
            .enumerate()
            .all(|(j, item)| responses.categories(j) == item.categories.as_slice());
    if unchanged {
        return Ok(std::borrow::Cow::Borrowed(responses));
    }
    let mut aligned = responses.select_items(&indices);
    for (j, item) in items.iter().enumerate() {
        let labels = aligned.categories(j).to_vec();
        if labels == item.categories {
            continue;
        }
        let mut mapping = Vec::with_capacity(labels.len());
        for label in &labels {
            let code = item.categories.iter().position(|c| c == label).or_else(|| {
                // "1" and "1.0" are the same category.
                let value: f64 = label.parse().ok()?;
                item.categories
                    .iter()
                    .position(|c| c.parse::<f64>().ok() == Some(value))
            });
            match code {
                Some(code) => mapping.push(Some(code as u8)),
                None => {
                    return Err(PredictionError::Data(format!(
                        "item {}: the response {} is not one of the item's categories ({})",
                        crate::text::quoted(&item.item),
                        crate::text::quoted(label),
                        item.categories.join(", ")
                    )));
                }
            }
        }
        aligned = aligned.recode_item(j, &mapping, item.categories.clone());
    }
    Ok(std::borrow::Cow::Owned(aligned))
}

/// The response patterns of `responses` and each pattern's EAP and posterior SD, after
/// checking that `items` fit the data.
fn eap_moments(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
    options: &ScoringOptions,
) -> Result<(Patterns, Vec<(f64, f64)>), PredictionError> {
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
    for (j, item) in items.iter().enumerate() {
        if responses.n_categories(j) > item.n_categories() {
            return Err(PredictionError::Data(format!(
                "item {} has {} categories in the data but {} in its parameters",
                crate::text::quoted(&item.item),
                responses.n_categories(j),
                item.n_categories()
            )));
        }
    }
    let patterns = Patterns::collapse(responses);
    let quadrature = Quadrature::normal(options.quadrature_points, options.theta_limit);
    let nodes: Vec<f64> = quadrature
        .nodes
        .iter()
        .map(|z| options.latent_mean + options.latent_sd * z)
        .collect();
    let log_prior = normal_log_weights(&nodes, options.latent_mean, options.latent_sd.powi(2));
    let moments = if patterns.len() > 0 {
        let tables: Vec<ItemTable> = items
            .iter()
            .map(|item| {
                match item
                    .model
                    .model()
                    .linear_form(&item.parameters, item.n_categories())
                {
                    Some(form) => ItemTable::linear(&form, &nodes),
                    None => ItemTable::table(item.n_categories(), &nodes, &|theta, p| {
                        item.probabilities_into(theta, p)
                    }),
                }
            })
            .collect();
        let category_counts: Vec<Vec<f64>> =
            items.iter().map(|i| vec![0.0; i.n_categories()]).collect();
        let input = EStepInput {
            patterns: &patterns,
            nodes: &nodes,
            log_prior: &log_prior,
            tables: &tables,
            category_counts: &category_counts,
        };
        e_step(&input, true).moments.unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((patterns, moments))
}

/// Each person's EAP and posterior SD (`None` without responses): the EAP scores of
/// [`score_persons`] without the rest of a score.
pub(crate) fn eap_by_person(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
    options: &ScoringOptions,
) -> Result<Vec<Option<(f64, f64)>>, PredictionError> {
    let (patterns, moments) = eap_moments(responses, items, options)?;
    Ok(patterns
        .person_pattern
        .iter()
        .map(|p| {
            p.map(|p| {
                moments
                    .get(p)
                    .copied()
                    .unwrap_or((options.latent_mean, 1.0))
            })
        })
        .collect())
}

/// Scores every person of `responses`, whose columns are `items` in order with the items'
/// categories (see [`align_items`]).
pub fn score_persons(
    responses: &ResponseMatrix,
    items: &[ItemParameters],
    options: &ScoringOptions,
) -> Result<Vec<PersonScore>, PredictionError> {
    let (patterns, moments) = eap_moments(responses, items, options)?;
    let lo = options.latent_mean - options.theta_limit * options.latent_sd;
    let hi = options.latent_mean + options.theta_limit * options.latent_sd;
    let prior = Some((options.latent_mean, options.latent_sd));
    let per_pattern: Vec<(Option<f64>, Option<f64>, Option<ScoreFlag>)> = (0..patterns.len())
        .into_par_iter()
        .map(|p| {
            let answered: Vec<(usize, u8)> = patterns.responses(p).collect();
            let (eap, eap_sd) = moments
                .get(p)
                .copied()
                .unwrap_or((options.latent_mean, 1.0));
            let estimate = |theta: Option<f64>, se: Option<f64>| match theta {
                Some(t) if t <= lo + 1e-6 || t >= hi - 1e-6 => {
                    (None, None, Some(ScoreFlag::NoFiniteEstimate))
                }
                Some(t) => (Some(t), se, None),
                None => (None, None, Some(ScoreFlag::NoFiniteEstimate)),
            };
            match options.method {
                ScoringMethod::Eap => (Some(eap), Some(eap_sd), None),
                ScoringMethod::Map => {
                    let (theta, se) = mode(&answered, items, prior, eap, lo, hi);
                    (Some(theta), se, None)
                }
                ScoringMethod::Ml => {
                    if answered
                        .iter()
                        .all(|&(j, c)| c as usize + 1 == items[j].n_categories())
                    {
                        (None, None, Some(ScoreFlag::AllCorrect))
                    } else if answered.iter().all(|&(_, c)| c == 0) {
                        (None, None, Some(ScoreFlag::AllWrong))
                    } else {
                        let (theta, se) = mode(&answered, items, None, eap, lo, hi);
                        estimate(Some(theta), se)
                    }
                }
                ScoringMethod::Wle => {
                    let (theta, se) = weighted_likelihood(&answered, items, eap, lo, hi);
                    estimate(theta, se)
                }
            }
        })
        .collect();
    Ok((0..responses.n_persons())
        .map(|person| {
            let (n_answered, sum_score) = responses
                .responses_of(person)
                .fold((0usize, 0usize), |(n, s), (_, c)| (n + 1, s + c as usize));
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
                    let (theta, theta_se, flag) = per_pattern[p];
                    PersonScore {
                        id,
                        theta,
                        theta_se,
                        n_answered,
                        sum_score,
                        flag,
                    }
                }
            }
        })
        .collect())
}

/// Log-likelihood of the answered items at θ, its first derivative, the test information and
/// Warm's `J = Σ_j Σ_k P'_k P''_k / P_k`.
fn likelihood_terms(
    answered: &[(usize, u8)],
    items: &[ItemParameters],
    theta: f64,
) -> (f64, f64, f64, f64) {
    let (mut value, mut first, mut information, mut warm) = (0.0, 0.0, 0.0, 0.0);
    let mut p = [0.0; crate::prediction::responses::MAX_CATEGORIES];
    let mut d1 = [0.0; crate::prediction::responses::MAX_CATEGORIES];
    let mut d2 = [0.0; crate::prediction::responses::MAX_CATEGORIES];
    for &(j, code) in answered {
        let item = &items[j];
        let k = item.n_categories();
        item.model.model().theta_derivatives(
            &item.parameters,
            theta,
            &mut p[..k],
            &mut d1[..k],
            &mut d2[..k],
        );
        let c = code as usize;
        let pc = p[c].max(1e-300);
        value += pc.ln();
        first += d1[c] / pc;
        for x in 0..k {
            if p[x] > 1e-300 {
                information += d1[x] * d1[x] / p[x];
                warm += d1[x] * d2[x] / p[x];
            }
        }
    }
    (value, first, information, warm)
}

/// The mode of the log-likelihood (plus a normal log prior when `prior` is given) by Fisher
/// scoring with step halving from `start`, kept inside `[lo, hi]`. Returns θ and the SE
/// `1/√information` at θ.
fn mode(
    answered: &[(usize, u8)],
    items: &[ItemParameters],
    prior: Option<(f64, f64)>,
    start: f64,
    lo: f64,
    hi: f64,
) -> (f64, Option<f64>) {
    let evaluate = |theta: f64| {
        let (mut value, mut gradient, mut information, _) =
            likelihood_terms(answered, items, theta);
        if let Some((mean, sd)) = prior {
            let z = (theta - mean) / sd;
            value -= 0.5 * z * z;
            gradient -= z / sd;
            information += 1.0 / (sd * sd);
        }
        (value, gradient, information)
    };
    let mut theta = start.clamp(lo, hi);
    for _ in 0..100 {
        let (value, gradient, information) = evaluate(theta);
        if information <= 0.0 || !gradient.is_finite() {
            break;
        }
        let step = (gradient / information).clamp(-1.0, 1.0);
        let mut scale = 1.0;
        let mut next = theta;
        for _ in 0..30 {
            next = (theta + scale * step).clamp(lo, hi);
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

/// Warm's (1989) weighted likelihood estimate: the root of `∂ log L/∂θ + J/(2I)` in
/// `[lo, hi]`, by bisection on a bracket found from `start`. `None` when there is no root in
/// the range.
fn weighted_likelihood(
    answered: &[(usize, u8)],
    items: &[ItemParameters],
    start: f64,
    lo: f64,
    hi: f64,
) -> (Option<f64>, Option<f64>) {
    let equation = |theta: f64| {
        let (_, first, information, warm) = likelihood_terms(answered, items, theta);
        if information <= 0.0 {
            return first;
        }
        first + warm / (2.0 * information)
    };
    // The equation decreases through its root: search outward from the start for a sign change.
    let start = start.clamp(lo, hi);
    let g0 = equation(start);
    if g0 == 0.0 {
        let information = likelihood_terms(answered, items, start).2;
        return (
            Some(start),
            (information > 0.0).then(|| 1.0 / information.sqrt()),
        );
    }
    let direction = if g0 > 0.0 { 1.0 } else { -1.0 };
    let mut b = start;
    let mut step = 0.25;
    let mut bracket = None;
    while (direction > 0.0 && b < hi) || (direction < 0.0 && b > lo) {
        let a = b;
        b = (b + direction * step).clamp(lo, hi);
        let g = equation(b);
        if g.signum() != g0.signum() {
            bracket = Some((a.min(b), a.max(b)));
            break;
        }
        step *= 1.6;
    }
    let Some((mut left, mut right)) = bracket else {
        return (None, None);
    };
    let g_left = equation(left);
    for _ in 0..80 {
        let middle = 0.5 * (left + right);
        let g = equation(middle);
        if (g > 0.0) == (g_left > 0.0) {
            left = middle;
        } else {
            right = middle;
        }
        if right - left < 1e-9 {
            break;
        }
    }
    let theta = 0.5 * (left + right);
    let information = likelihood_terms(answered, items, theta).2;
    (
        Some(theta),
        (information > 0.0).then(|| 1.0 / information.sqrt()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wle_solves_warms_equation_for_the_rasch_model() {
        // Rasch: J/(2I) = Σ P(1−P)(1−2P) / (2 Σ P(1−P)); the WLE of a perfect score is finite.
        let items: Vec<ItemParameters> = (0..5)
            .map(|j| {
                ItemParameters::dichotomous(format!("i{j}"), 1.0, -1.0 + 0.5 * j as f64, 0.0, 1.0)
            })
            .collect();
        let all: Vec<(usize, u8)> = (0..5).map(|j| (j, 1)).collect();
        let (theta, se) = weighted_likelihood(&all, &items, 0.0, -6.0, 6.0);
        let theta = theta.unwrap();
        assert!(theta > 1.5 && theta < 5.0, "{theta}");
        assert!(se.unwrap() > 0.5);
        let p: Vec<f64> = items.iter().map(|i| i.probability(theta)).collect();
        let score: f64 = p.iter().map(|p| 1.0 - p).sum();
        let info: f64 = p.iter().map(|p| p * (1.0 - p)).sum();
        let j: f64 = p.iter().map(|p| p * (1.0 - p) * (1.0 - 2.0 * p)).sum();
        assert!((score + j / (2.0 * info)).abs() < 1e-6);
    }
}
