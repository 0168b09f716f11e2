//! Comparing models fitted to the same data: log-likelihood, parameters, AIC, AICc, BIC, SABIC,
//! and the likelihood-ratio test for every nested pair (mirt's `anova`):
//! `X² = 2(ℓ_general − ℓ_restricted)` on `k_general − k_restricted` degrees of freedom.
//!
//! Two fits are nested when they used the same data (same description, persons and items) and
//! every item's type in the restricted fit is a special case of its type in the general one:
//! Rasch = 1PL ⊂ 2PL ⊂ 3PL ⊂ 4PL for right/wrong items (a two-category graded or partial
//! credit item is a 2PL, a two-category PCM or rating-scale item a Rasch item), and rating
//! scale ⊂ partial credit ⊂ generalised partial credit ⊂ nominal for ordered categories. The
//! graded model and the partial credit family are not nested. A test whose restricted model
//! sits on the boundary of the general one (a 3PL's c = 0, a 4PL's u = 1) is conservative, and
//! with priors on some parameters the statistic is approximate; both are said in the test's
//! note.

use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::distributions::chi_square_sf;
use super::information_criteria::information_criteria;
use crate::prediction::{
    Calibration, FitSettings, ItemType, PredictionError, Progress, ResponseMatrix, calibrate,
};

/// One fit in a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedModel {
    /// Label shown in the table ("2PL", "3PL (c fixed 0.2)", …).
    pub label: String,
    /// Which data and preprocessing the fit used (two fits are compared by a test only when
    /// this is the same).
    pub data: String,
    /// The items fitted, in order.
    pub items: Vec<String>,
    /// Each item's type.
    pub item_types: Vec<ItemType>,
    /// Each item's number of categories.
    pub categories: Vec<usize>,
    /// Marginal log-likelihood.
    pub log_likelihood: f64,
    /// Free parameters.
    pub parameters: usize,
    /// Persons.
    pub persons: usize,
    /// AIC.
    pub aic: f64,
    /// AICc.
    pub aicc: f64,
    /// BIC.
    pub bic: f64,
    /// Sample-size-adjusted BIC.
    pub sabic: f64,
    /// Whether some parameters had priors (MAP estimates).
    pub priors: bool,
    /// Whether EM converged.
    pub converged: bool,
}

impl ComparedModel {
    /// The entry of a calibration, labelled `label`, on data described by `data`.
    pub fn from_calibration(
        label: impl Into<String>,
        data: impl Into<String>,
        calibration: &Calibration,
    ) -> ComparedModel {
        let criteria = information_criteria(
            calibration.log_likelihood,
            calibration.parameters,
            calibration.n_persons,
        );
        let priors = calibration.items.iter().any(|item| {
            !item.anchored
                && item
                    .model
                    .model()
                    .parameters(item.categories.len())
                    .iter()
                    .any(|spec| {
                        calibration
                            .settings
                            .prior_for(spec.kind, &item.item)
                            .is_some()
                    })
        });
        ComparedModel {
            label: label.into(),
            data: data.into(),
            items: calibration.items.iter().map(|i| i.item.clone()).collect(),
            item_types: calibration.items.iter().map(|i| i.model).collect(),
            categories: calibration
                .items
                .iter()
                .map(|i| i.categories.len())
                .collect(),
            log_likelihood: calibration.log_likelihood,
            parameters: calibration.parameters,
            persons: calibration.n_persons,
            aic: criteria.aic,
            aicc: criteria.aicc,
            bic: criteria.bic,
            sabic: criteria.sabic,
            priors,
            converged: calibration.converged,
        }
    }
}

/// A likelihood-ratio test of a restricted model against a more general one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodRatioTest {
    /// Index of the restricted model in the comparison.
    pub restricted: usize,
    /// Index of the general model.
    pub general: usize,
    /// `2(ℓ_general − ℓ_restricted)`.
    pub chi_square: f64,
    /// `k_general − k_restricted`.
    pub df: f64,
    /// Upper-tail p (NaN when the statistic is negative: the general fit did not reach the
    /// restricted one's likelihood).
    pub p: f64,
    /// Caveats: boundary, priors, non-convergence.
    pub note: Option<String>,
}

/// The comparison table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    /// The fits, in the order given.
    pub models: Vec<ComparedModel>,
    /// Tests of every nested pair.
    pub tests: Vec<LikelihoodRatioTest>,
}

impl ModelComparison {
    /// Index of the model with the smallest AIC.
    pub fn best_aic(&self) -> Option<usize> {
        best(&self.models, |m| m.aic)
    }

    /// Index of the model with the smallest BIC.
    pub fn best_bic(&self) -> Option<usize> {
        best(&self.models, |m| m.bic)
    }
}

fn best(models: &[ComparedModel], key: impl Fn(&ComparedModel) -> f64) -> Option<usize> {
    (0..models.len())
        .filter(|&i| key(&models[i]).is_finite())
        .min_by(|&a, &b| key(&models[a]).total_cmp(&key(&models[b])))
}

/// The family rank of a type for an item with `k` categories: nested types share a family and
/// the restricted one has the lower rank; `None` for types outside any chain.
fn chain(item_type: ItemType, k: usize) -> Option<(u8, u8)> {
    use ItemType::*;
    if k == 2 {
        return Some(match item_type {
            Rasch | OnePl | Pcm | Rsm => (0, 0),
            TwoPl | Graded | Gpcm | Nominal => (0, 1),
            ThreePl => (0, 2),
            FourPl => (0, 3),
        });
    }
    match item_type {
        Rsm => Some((1, 0)),
        Pcm => Some((1, 1)),
        Gpcm => Some((1, 2)),
        Nominal => Some((1, 3)),
        Graded => Some((2, 0)),
        _ => None,
    }
}

/// Whether an item of type `restricted` is a special case of type `general` (with `k`
/// categories).
pub fn nests(restricted: ItemType, general: ItemType, k: usize) -> bool {
    match (chain(restricted, k), chain(general, k)) {
        (Some((fr, rr)), Some((fg, rg))) => fr == fg && rr <= rg,
        _ => false,
    }
}

/// Whether model `a` is nested in model `b`.
fn nested_in(a: &ComparedModel, b: &ComparedModel) -> bool {
    a.data == b.data
        && a.persons == b.persons
        && a.items == b.items
        && a.categories == b.categories
        && a.parameters < b.parameters
        && a.item_types
            .iter()
            .zip(&b.item_types)
            .zip(&a.categories)
            .all(|((&r, &g), &k)| nests(r, g, k))
}

/// The comparison of `models`, with a likelihood-ratio test for every nested pair.
pub fn compare(models: Vec<ComparedModel>) -> ModelComparison {
    let mut tests = Vec::new();
    for a in 0..models.len() {
        for b in 0..models.len() {
            if a == b || !nested_in(&models[a], &models[b]) {
                continue;
            }
            let (r, g) = (&models[a], &models[b]);
            let chi_square = 2.0 * (g.log_likelihood - r.log_likelihood);
            let df = (g.parameters - r.parameters) as f64;
            let mut notes = Vec::new();
            let boundary = r
                .item_types
                .iter()
                .zip(&g.item_types)
                .any(|(&x, &y)| x != y && matches!(y, ItemType::ThreePl | ItemType::FourPl));
            if boundary {
                notes.push("the restricted model is on the boundary of the general one (c = 0 or u = 1): the p-value is conservative");
            }
            if r.priors || g.priors {
                notes.push("priors on some parameters: the statistic is approximate");
            }
            if !(r.converged && g.converged) {
                notes.push("a fit did not converge");
            }
            if chi_square < 0.0 {
                notes.push("the general model's likelihood is below the restricted one's: refit with a tighter tolerance");
            }
            tests.push(LikelihoodRatioTest {
                restricted: a,
                general: b,
                chi_square,
                df,
                p: if chi_square >= 0.0 {
                    chi_square_sf(chi_square, df)
                } else {
                    f64::NAN
                },
                note: (!notes.is_empty()).then(|| notes.join("; ")),
            });
        }
    }
    ModelComparison { models, tests }
}

/// Fits `models` (item types for every item, other settings from `base`) to `responses`,
/// described by `data`, and compares them. `progress` gets the index of the model being fitted
/// with its EM progress.
pub fn fit_and_compare(
    responses: &ResponseMatrix,
    base: &FitSettings,
    models: &[ItemType],
    data: &str,
    progress: &mut dyn FnMut(usize, Progress),
    cancel: &AtomicBool,
) -> Result<(ModelComparison, Vec<Calibration>), PredictionError> {
    let mut entries = Vec::with_capacity(models.len());
    let mut calibrations = Vec::with_capacity(models.len());
    for (index, &model) in models.iter().enumerate() {
        let settings = FitSettings {
            model,
            ..base.clone()
        };
        let calibration = calibrate(responses, &settings, &mut |p| progress(index, p), cancel)
            .map_err(|e| match e {
                PredictionError::Cancelled => e,
                other => {
                    PredictionError::InvalidSetting(format!("the {} fit: {other}", model.label()))
                }
            })?;
        entries.push(ComparedModel::from_calibration(
            model.label(),
            data,
            &calibration,
        ));
        calibrations.push(calibration);
    }
    Ok((compare(entries), calibrations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_follows_the_chains() {
        assert!(nests(ItemType::Rasch, ItemType::TwoPl, 2));
        assert!(nests(ItemType::TwoPl, ItemType::ThreePl, 2));
        assert!(nests(ItemType::Graded, ItemType::TwoPl, 2));
        assert!(!nests(ItemType::ThreePl, ItemType::TwoPl, 2));
        assert!(nests(ItemType::Pcm, ItemType::Gpcm, 4));
        assert!(nests(ItemType::Rsm, ItemType::Nominal, 4));
        assert!(!nests(ItemType::Graded, ItemType::Gpcm, 4));
        assert!(!nests(ItemType::Gpcm, ItemType::Graded, 4));
    }
}
