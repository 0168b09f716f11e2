//! Is the model right? Fit statistics of a calibration, for every item type the engine fits,
//! computed as mirt computes them (Chalmers, 2012; the formulas and their sources are in each
//! family's module):
//!
//! - [`item_fit`]: S-X² (Orlando & Thissen; Kang & Chen), Yen's Q1, Zh, infit and outfit,
//!   with p-values adjusted over the items ([`crate::prediction::p_adjust`]); person fit (Zh,
//!   infit, outfit per person);
//! - [`model_fit`]: M2 / M2* / C2 with RMSEA and its 90 % interval, SRMSR, CFI and TLI, and
//!   the full-information G² when every pattern can be listed;
//! - [`information_criteria`]: AIC, AICc, BIC, SABIC, HQ;
//! - [`local_dependence`]: Q3, Q3*, LD χ² and signed Cramér's V, flagged pairs, heat maps;
//! - [`reliability`]: marginal and empirical reliability, the summed-score EAP table, the
//!   conditional SEM;
//! - [`comparison`]: several models on the same data with likelihood-ratio tests;
//! - [`fit_plot`]: observed proportions with 95 % intervals in θ or score groups over the
//!   fitted curves.
//!
//! # Grids
//!
//! As in mirt: the calibration's quadrature (61 nodes on [−6, 6] by default) for M2, S-X², the
//! LD χ² and G²; EAP scores on 121 nodes (mirt's `fscores`) for Zh, infit/outfit, Q1, Q3, the
//! empirical reliability and the summed-score table.
//!
//! # Missing responses
//!
//! Each statistic says what it does with them (and reports the persons it used):
//! M2/M2*/C2 use each moment's available persons (pairwise); S-X² and the summed-score table
//! use the persons who answered every item (the parameters stay those of the full fit); Q1,
//! Zh, infit and outfit use each item's (or person's) answered responses; Q3 and the LD χ² use
//! each pair's persons; the full-information G² needs complete data.
//!
//! # Speed
//!
//! One pass over the persons gathers everything person-level and the cross-product matrices
//! (block matrix products) from which the moments, contingency tables and residual
//! correlations follow; M2's moment covariance is one matrix product plus corrections, factored
//! once. 100,000 persons × 100 items take a couple of seconds.

pub mod comparison;
pub(crate) mod context;
pub mod distributions;
pub mod fit_plot;
pub mod information_criteria;
pub mod item_fit;
pub mod local_dependence;
pub mod model_fit;
pub mod reliability;
pub(crate) mod residuals;

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::prediction::p_adjust::PAdjust;
use crate::prediction::scoring::{ScoringMethod, align_items, eap_by_person};
use crate::prediction::{Calibration, PredictionError, ResponseMatrix, scoring_options};

pub use comparison::{
    ComparedModel, LikelihoodRatioTest, ModelComparison, compare, fit_and_compare, nests,
};
pub use fit_plot::{FitPlotGroup, FitPlotGrouping, ItemFitPlot, item_fit_plot};
pub use information_criteria::{InformationCriteria, information_criteria};
pub use item_fit::{ChiSquareTest, ItemFit};
pub use local_dependence::{HeatMap, LdMatrix, LocalDependence, LocalDependencePair};
pub use model_fit::{FullInformationFit, LimitedInformationFit, LimitedStatistic};
pub use reliability::{ConditionalSem, PearsonTest, Reliability, SumScoreRow};

/// What to compute, and the thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnosticsOptions {
    /// How item-fit (and LD χ²) p-values are adjusted over the items (pairs).
    pub p_adjust: PAdjust,
    /// Items (pairs) with an adjusted p below this are flagged.
    pub alpha: f64,
    /// Quadrature nodes of the EAP scores behind Zh, infit/outfit, Q1, Q3 and the reliabilities
    /// (mirt's `fscores`: 121).
    pub eap_points: usize,
    /// θ groups of Q1.
    pub q1_groups: usize,
    /// S-X² pools cells until their expected counts reach this (mirt: 1).
    pub min_expected: f64,
    /// Pairs with Q3* above this are flagged (Christensen et al., 2017: 0.2).
    pub q3_threshold: f64,
    /// M2 is not computed above this many moments (its covariance has moments² entries).
    pub max_moments: usize,
    /// Q3 and the LD χ² are not computed above this many items.
    pub max_pair_items: usize,
    /// The full-information G² is computed when there are at most this many possible
    /// response patterns.
    pub max_patterns: f64,
}

impl Default for DiagnosticsOptions {
    fn default() -> Self {
        DiagnosticsOptions {
            p_adjust: PAdjust::None,
            alpha: 0.05,
            eap_points: 121,
            q1_groups: 10,
            min_expected: 1.0,
            q3_threshold: 0.2,
            max_moments: 6000,
            max_pair_items: 500,
            max_patterns: 65_536.0,
        }
    }
}

impl DiagnosticsOptions {
    /// Checks the options, naming the first one out of range.
    pub fn validate(&self) -> Result<(), PredictionError> {
        let bad = |what: String| Err(PredictionError::InvalidSetting(what));
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad(format!(
                "the flagging level must be in (0, 1), got {}",
                self.alpha
            ));
        }
        if !(5..=401).contains(&self.eap_points) {
            return bad(format!(
                "EAP quadrature points must be between 5 and 401, got {}",
                self.eap_points
            ));
        }
        if !(2..=100).contains(&self.q1_groups) {
            return bad(format!(
                "Q1 groups must be between 2 and 100, got {}",
                self.q1_groups
            ));
        }
        if !(self.min_expected.is_finite() && self.min_expected >= 0.0) {
            return bad(format!(
                "the minimum expected count must be a number ≥ 0, got {}",
                self.min_expected
            ));
        }
        if !self.q3_threshold.is_finite() {
            return bad(format!(
                "the Q3* threshold must be a number, got {}",
                self.q3_threshold
            ));
        }
        Ok(())
    }
}

/// One person's fit (at the EAP θ̂ on the diagnostics' grid).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonFit {
    /// The EAP θ̂ used.
    pub theta: f64,
    /// Its posterior SD.
    pub theta_se: f64,
    /// Items answered.
    pub n_answered: usize,
    /// Zh (large negative values: an unlikely response pattern).
    pub zh: f64,
    /// Infit mean square.
    pub infit: f64,
    /// Its standardised t.
    pub infit_t: f64,
    /// Outfit mean square.
    pub outfit: f64,
    /// Its standardised t.
    pub outfit_t: f64,
}

/// A statistic that was not computed, or what a statistic did with missing responses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticNote {
    /// The statistic ("M2", "S-X2", …).
    pub statistic: String,
    /// What happened.
    pub message: String,
}

/// Every fit statistic of a calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// The options used.
    pub options: DiagnosticsOptions,
    /// AIC, AICc, BIC, SABIC, HQ.
    pub information_criteria: InformationCriteria,
    /// M2 / M2* / C2 with RMSEA, SRMSR, CFI, TLI.
    pub model_fit: Option<LimitedInformationFit>,
    /// Full-information G² (small complete tests).
    pub full_information: Option<FullInformationFit>,
    /// Per item.
    pub item_fit: Vec<ItemFit>,
    /// Persons who answered every item (S-X², the summed-score table).
    pub complete_cases: usize,
    /// Persons with at least one response.
    pub persons: usize,
    /// Q3, LD χ² and flagged pairs.
    pub local_dependence: Option<LocalDependence>,
    /// Reliabilities, summed-score table, conditional SEM.
    pub reliability: Option<Reliability>,
    /// Per person of the response matrix (`None`: no responses to the calibrated items).
    #[serde(skip)]
    pub person_fit: Vec<Option<PersonFit>>,
    /// What was not computed and why; how missing responses were used.
    pub notes: Vec<DiagnosticNote>,
}

impl Diagnostics {
    /// The items flagged as misfitting.
    pub fn flagged_items(&self) -> Vec<&ItemFit> {
        self.item_fit.iter().filter(|i| i.flagged).collect()
    }

    /// Each person's Zh (`None` without responses), in the response matrix's order.
    pub fn person_zh(&self) -> Vec<Option<f64>> {
        self.person_fit
            .iter()
            .map(|p| p.map(|p| p.zh).filter(|z| z.is_finite()))
            .collect()
    }
}

/// Progress of the diagnostics: stage `step` of `steps`, named.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiagnosticsProgress {
    /// What is being computed.
    pub stage: &'static str,
    /// Stages done.
    pub step: usize,
    /// Stages in all.
    pub steps: usize,
}

/// Computes every fit statistic of `calibration` on `responses` (the data it was fitted to,
/// or data with the same items). `progress` is told each stage; `cancel` stops the work with
/// [`PredictionError::Cancelled`].
pub fn diagnose(
    responses: &ResponseMatrix,
    calibration: &Calibration,
    options: &DiagnosticsOptions,
    progress: &mut dyn FnMut(DiagnosticsProgress),
    cancel: &AtomicBool,
) -> Result<Diagnostics, PredictionError> {
    options.validate()?;
    const STEPS: usize = 6;
    let mut report = |stage: &'static str, step: usize| {
        crate::trace(&format!("fit statistics: {stage}"));
        progress(DiagnosticsProgress {
            stage,
            step,
            steps: STEPS,
        })
    };
    let check = || {
        if cancel.load(Ordering::Relaxed) {
            Err(PredictionError::Cancelled)
        } else {
            Ok(())
        }
    };
    let items = calibration.item_parameters();
    let aligned = align_items(responses, &items)?;
    let n = items.len();
    let names: Vec<String> = items.iter().map(|i| i.item.clone()).collect();
    let structure = context::free_structure(calibration);
    let grid = context::Grid::estimation(calibration);
    let tables = context::item_tables(&items, &grid);
    let mut notes = Vec::new();
    let mut note = |statistic: &str, message: String| {
        notes.push(DiagnosticNote {
            statistic: statistic.to_string(),
            message,
        })
    };

    report("EAP scores", 0);
    let mut scoring = scoring_options(calibration, ScoringMethod::Eap);
    scoring.quadrature_points = options.eap_points;
    let scores = eap_by_person(&aligned, &items, &scoring)?;
    let thetas: Vec<Option<f64>> = scores.iter().map(|s| s.map(|(theta, _)| theta)).collect();
    check()?;

    report("residuals", 1);
    let width: usize = items.iter().map(|i| i.n_categories() - 1).sum();
    let fewest_moments = n + n * n.saturating_sub(1) / 2;
    let grams_wanted = n >= 2
        && width <= 4000
        && (n <= options.max_pair_items || fewest_moments <= options.max_moments);
    let sum_scores_wanted = n <= 2000;
    let pass = residuals::person_pass(
        &residuals::PassRequest {
            responses: &aligned,
            items: &items,
            thetas: &thetas,
            grams: grams_wanted,
            sum_scores: sum_scores_wanted,
        },
        cancel,
    )?;
    let persons = pass.persons.iter().filter(|p| p.is_some()).count();
    let person_fit: Vec<Option<PersonFit>> = pass
        .persons
        .iter()
        .zip(&scores)
        .map(|(sums, score)| {
            let sums = (*sums)?;
            let (theta, theta_se) = (*score)?;
            let (outfit, outfit_t) = sums.outfit();
            let (infit, infit_t) = sums.infit();
            Some(PersonFit {
                theta,
                theta_se,
                n_answered: sums.n as usize,
                zh: sums.zh(),
                infit,
                infit_t,
                outfit,
                outfit_t,
            })
        })
        .collect();
    check()?;

    report("item fit", 2);
    let complete_cases = pass.sum_scores.as_ref().map_or(0, |s| s.persons);
    let s_x2 = match &pass.sum_scores {
        Some(observed) if observed.persons > 0 => item_fit::s_x2(
            &tables,
            &grid,
            observed,
            &structure.item_counts,
            structure.latent_count,
            persons as f64,
            options.min_expected,
        ),
        Some(_) => {
            note(
                "S-X2",
                "not computed: no person answered every item (S-X2 uses complete cases)".into(),
            );
            vec![None; n]
        }
        None => {
            note(
                "S-X2",
                format!("not computed for {n} items (sum-score tables are limited to 2,000 items)"),
            );
            vec![None; n]
        }
    };
    if pass.any_missing && complete_cases > 0 {
        note(
            "S-X2",
            format!(
                "computed on the {} persons who answered every item (of {}), with the parameters of the full fit",
                crate::text::count(complete_cases),
                crate::text::count(persons)
            ),
        );
    }
    let order = item_fit::theta_order(&thetas);
    let q1 = item_fit::q1(
        &aligned,
        &items,
        &order,
        &structure.item_counts,
        options.q1_groups,
        persons as f64,
    );
    let item_fit = item_fit::item_fit_table(
        &items,
        &pass.items,
        s_x2,
        q1,
        options.p_adjust,
        options.alpha,
    );
    if pass.any_missing {
        note(
            "Q1, Zh, infit, outfit",
            "each item's statistics use the persons who answered it; EAP θ̂ from each person's answered items".into(),
        );
    }
    check()?;

    report("model fit", 3);
    let information_criteria = information_criteria::information_criteria(
        calibration.log_likelihood,
        calibration.parameters,
        calibration.n_persons,
    );
    let model_fit = match &pass.grams {
        Some(grams) => {
            let input = model_fit::LimitedInput {
                items: &items,
                tables: &tables,
                grid: &grid,
                structure: &structure,
                parameters: calibration.parameters,
                latent: (calibration.latent_mean, calibration.latent_variance),
                max_moments: options.max_moments,
            };
            let fit = model_fit::moment_model(&input, cancel)?.and_then(|model| {
                model_fit::limited_information(&input, model, grams, persons as f64)
            });
            match fit {
                Ok(fit) => {
                    if fit.pairwise {
                        note(
                            fit.statistic.name(),
                            "missing responses: each moment uses the persons who answered its item or pair of items".into(),
                        );
                    }
                    Some(fit)
                }
                Err(reason) => {
                    note("M2", reason);
                    None
                }
            }
        }
        None => {
            note(
                "M2",
                format!("not computed for {n} items (too many moments)"),
            );
            None
        }
    };
    let full_information = match model_fit::full_information(
        &aligned,
        &tables,
        &grid,
        calibration.parameters,
        options.max_patterns,
    ) {
        Ok(fit) => Some(fit),
        Err(reason) => {
            note("G2", reason);
            None
        }
    };
    check()?;

    report("local dependence", 4);
    let local_dependence = match &pass.grams {
        Some(grams) if n <= options.max_pair_items => Some(local_dependence::local_dependence(
            &names,
            &tables,
            &grid,
            grams,
            options.q3_threshold,
            options.p_adjust,
        )),
        _ => {
            note(
                "Q3, LD χ²",
                format!(
                    "not computed for {n} items (the limit is {})",
                    options.max_pair_items
                ),
            );
            None
        }
    };
    if pass.any_missing && local_dependence.is_some() {
        note(
            "Q3, LD χ²",
            "each pair uses the persons who answered both items".into(),
        );
    }
    check()?;

    report("reliability", 5);
    let eap_grid = context::Grid::scoring(calibration, options.eap_points);
    let eap_tables = context::item_tables(&items, &eap_grid);
    let (sum_score_table, sum_score_persons) = match &pass.sum_scores {
        Some(observed) if observed.persons > 0 => (
            reliability::sum_score_table(&eap_tables, &eap_grid, &observed.counts),
            observed.persons,
        ),
        _ => (Vec::new(), 0),
    };
    let eap_scores: Vec<(f64, f64)> = scores
        .iter()
        .flatten()
        .copied()
        .filter(|(t, se)| t.is_finite() && se.is_finite())
        .collect();
    let reliability = Some(Reliability {
        marginal: reliability::marginal_reliability(
            &items,
            calibration.latent_mean,
            calibration.latent_variance,
        ),
        empirical: reliability::empirical_reliability(&eap_scores),
        sum_score: reliability::sum_score_reliability(&sum_score_table),
        sum_score_fit: reliability::sum_score_fit(&sum_score_table),
        sum_score_table,
        sum_score_persons,
        empirical_persons: eap_scores.len(),
        conditional_sem: reliability::conditional_sem(
            &items,
            calibration.latent_mean,
            calibration.theta_scale(),
        ),
    });
    if pass.any_missing && sum_score_persons > 0 {
        note(
            "summed-score table",
            format!(
                "uses the {} persons who answered every item",
                crate::text::count(sum_score_persons)
            ),
        );
    }
    report("done", STEPS);
    Ok(Diagnostics {
        options: options.clone(),
        information_criteria,
        model_fit,
        full_information,
        item_fit,
        complete_cases,
        persons,
        local_dependence,
        reliability,
        person_fit,
        notes,
    })
}
