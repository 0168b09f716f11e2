//! IRT-based DIF on multiple-group fits: the likelihood-ratio test (Thissen, Steinberg &
//! Wainer, 1988, 1993) and the Wald test of the group differences in an item's parameters
//! (Lord, 1980; with the joint covariance of a concurrent multiple-group fit, as mirt's
//! `DIF(Wald = TRUE)`), with the effect sizes on the θ scale: Raju's (1988) signed and unsigned
//! areas between the groups' curves and the expected-score difference weighted by the focal
//! group's latent distribution (the model-based STD P-DIF; mirt's `DRF` sDIF).
//!
//! Each studied item is tested between two models that differ only in that item: with its
//! parameters free in each group, and equal across groups. The other items are either the
//! chosen anchors (equal across groups; the rest free) or every other item (equal), and with
//! purification the items flagged in one round are freed in the next (Candell & Drasgow,
//! 1988), until the flagged set stops changing. The focal group's mean and variance are
//! estimated whenever an item links the groups. The Wald statistic is
//! `W = (Lψ̂)ᵀ (L V Lᵀ)⁻¹ (Lψ̂)` on the item's parameters as estimated (a, d; logit c), V the
//! inverse observed information of the model where the item is free.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::prediction::distributions::chi_square_sf;
use crate::prediction::estimation::multigroup::GroupRun;
use crate::prediction::estimation::result::{fitted_item, reported_latent};
use crate::prediction::estimation::{FitSettings, StandardErrorMethod};
use crate::prediction::groups::{self, Equality, GroupLatent, GroupModel, Groups};
use crate::prediction::linalg;
use crate::prediction::model::ItemParameters;
use crate::prediction::{PredictionError, ResponseMatrix};

/// One item's IRT test.
#[derive(Clone, Debug)]
pub(crate) struct IrtTest {
    pub statistic: f64,
    pub df: f64,
    pub p: f64,
    pub note: Option<String>,
    /// The item in the reference and focal group, from the model where it is free.
    pub parameters: Option<[ItemParameters; 2]>,
    /// The focal group's mean and variance in that model.
    pub focal_latent: (f64, f64),
}

impl IrtTest {
    fn failed(note: impl Into<String>) -> IrtTest {
        IrtTest {
            statistic: f64::NAN,
            df: f64::NAN,
            p: f64::NAN,
            note: Some(note.into()),
            parameters: None,
            focal_latent: (0.0, 1.0),
        }
    }
}

/// The IRT tests a DIF run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum IrtMethod {
    LikelihoodRatio,
    Wald,
}

/// A fit's summary, kept for the tests that use it.
struct Fitted {
    run: GroupRun,
    /// Free parameters.
    k: usize,
}

/// A fit, or why it failed, shared by the tests that use it.
type SharedFit = Arc<Result<Fitted, String>>;

/// An item in the reference and focal group, and the focal latent mean and variance.
type ItemInGroups = ([ItemParameters; 2], (f64, f64));

/// Fits by their set of items free per group, computed once.
pub(crate) struct FitCache<'a> {
    responses: &'a ResponseMatrix,
    groups: &'a Groups,
    settings: FitSettings,
    items: Vec<String>,
    fits: HashMap<(Vec<bool>, bool), SharedFit>,
    /// Start values for every refit.
    start: Option<crate::prediction::estimation::layout::LayoutValues>,
    pub fits_done: usize,
}

impl<'a> FitCache<'a> {
    pub fn new(responses: &'a ResponseMatrix, groups: &'a Groups, settings: &FitSettings) -> Self {
        FitCache {
            responses,
            groups,
            settings: settings.clone(),
            items: responses.item_names().to_vec(),
            fits: HashMap::new(),
            start: None,
            fits_done: 0,
        }
    }

    fn model(&self, free: &[bool]) -> GroupModel {
        GroupModel {
            default: Equality::All,
            items: self
                .items
                .iter()
                .zip(free)
                .filter(|(_, f)| **f)
                .map(|(name, _)| (name.clone(), Equality::Free))
                .collect(),
            latent: GroupLatent::Auto,
        }
    }

    /// The fit with the items `free` free per group (with standard errors when `se`).
    fn fit(
        &mut self,
        free: &[bool],
        se: bool,
        want_moments: bool,
        cancel: &AtomicBool,
    ) -> Result<SharedFit, PredictionError> {
        let key = (free.to_vec(), se);
        if let Some(found) = self.fits.get(&key) {
            return Ok(found.clone());
        }
        if !se && let Some(found) = self.fits.get(&(free.to_vec(), true)) {
            return Ok(found.clone());
        }
        let settings = FitSettings {
            standard_errors: if se {
                match self.settings.standard_errors {
                    StandardErrorMethod::None => StandardErrorMethod::Observed,
                    other => other,
                }
            } else {
                StandardErrorMethod::None
            },
            ..self.settings.clone()
        };
        let model = self.model(free);
        let outcome =
            groups::design(self.responses, self.groups, &model, &settings).and_then(|design| {
                groups::run_design(
                    self.responses,
                    &settings,
                    &design,
                    self.start.as_ref(),
                    want_moments,
                    &mut |_| {},
                    cancel,
                )
            });
        self.fits_done += 1;
        let result = match outcome {
            Ok(run) => {
                let k = run.n_parameters();
                Ok(Fitted { run, k })
            }
            Err(PredictionError::Cancelled) => return Err(PredictionError::Cancelled),
            Err(other) => Err(other.to_string()),
        };
        let result = Arc::new(result);
        self.fits.insert(key, result.clone());
        Ok(result)
    }
}

/// Item `name`'s parameters in both groups and the focal latent moments of a run.
fn item_in_groups(fitted: &Fitted, settings: &FitSettings, name: &str) -> Option<ItemInGroups> {
    let setup = &fitted.run.setup;
    let j = setup
        .problem
        .layout
        .items
        .iter()
        .position(|i| i.name == name)?;
    let reference = fitted_item(setup, settings, &fitted.run.psi, None, 0, j).item_parameters();
    let focal = fitted_item(setup, settings, &fitted.run.psi, None, 1, j).item_parameters();
    let (mean, variance, _, _) = reported_latent(setup, settings, &fitted.run.psi, None, 1);
    Some(([reference, focal], (mean, variance)))
}

/// The Wald statistic of item `name`'s group differences in a run: `(statistic, df)`, or why
/// it cannot be computed.
fn wald(fitted: &Fitted, name: &str) -> Result<(f64, usize), String> {
    let run = &fitted.run;
    let layout = &run.setup.problem.layout;
    let Some(j) = layout.items.iter().position(|i| i.name == name) else {
        return Err("left out of the fit".into());
    };
    let Some(covariance) = run.covariance.as_ref() else {
        return Err(
            "standard errors unavailable (the information matrix is not positive definite)".into(),
        );
    };
    let n = layout.n_free();
    let mut rows: Vec<(usize, usize)> = Vec::new();
    for (a, b) in layout.slots[0][j].iter().zip(&layout.slots[1][j]) {
        if let (
            crate::prediction::estimation::layout::Slot::Free(x),
            crate::prediction::estimation::layout::Slot::Free(y),
        ) = (*a, *b)
            && x != y
        {
            rows.push((x, y));
        }
    }
    if rows.is_empty() {
        return Err("the item's parameters are equal across groups".into());
    }
    let r = rows.len();
    let difference: Vec<f64> = rows.iter().map(|&(x, y)| run.psi[x] - run.psi[y]).collect();
    let mut middle = vec![0.0; r * r];
    for (a, &(xa, ya)) in rows.iter().enumerate() {
        for (b, &(xb, yb)) in rows.iter().enumerate() {
            middle[a * r + b] =
                covariance[xa * n + xb] - covariance[xa * n + yb] - covariance[ya * n + xb]
                    + covariance[ya * n + yb];
        }
    }
    if (0..r).any(|a| middle[a * r + a] <= 0.0) {
        return Err("a parameter of the item sits at a bound (no standard error)".into());
    }
    let solved = linalg::solve(&middle, &difference, r)
        .ok_or_else(|| "the covariance of the differences is singular".to_string())?;
    let statistic: f64 = difference.iter().zip(&solved).map(|(d, s)| d * s).sum();
    Ok((statistic.max(0.0), r))
}

/// The tests of every item for one anchor set: `base[i]` says which items are free per group
/// in the base model; `tested[i]` which items are tested.
#[allow(clippy::too_many_arguments)]
pub(crate) fn test_round(
    cache: &mut FitCache<'_>,
    method: IrtMethod,
    base: &[bool],
    tested: &[bool],
    excluded: &HashMap<String, String>,
    progress: &mut dyn FnMut(usize),
    cancel: &AtomicBool,
) -> Result<Vec<Option<IrtTest>>, PredictionError> {
    let n_items = base.len();
    let se = method == IrtMethod::Wald;
    let mut out = Vec::with_capacity(n_items);
    for i in 0..n_items {
        if !tested[i] {
            out.push(None);
            continue;
        }
        let name = cache.items[i].clone();
        if let Some(reason) = excluded.get(&name) {
            out.push(Some(IrtTest::failed(format!(
                "left out of the fit: {reason}"
            ))));
            continue;
        }
        let mut free = base.to_vec();
        free[i] = true;
        let mut constrained = base.to_vec();
        constrained[i] = false;
        let fitted_items = free
            .iter()
            .zip(&cache.items)
            .filter(|(f, name)| !**f && !excluded.contains_key(*name))
            .count();
        if fitted_items == 0 {
            out.push(Some(IrtTest::failed(
                "no anchor item is left to link the groups",
            )));
            progress(i);
            continue;
        }
        let free_fit = cache.fit(&free, se, false, cancel)?;
        let test = match free_fit.as_ref() {
            Err(reason) => IrtTest::failed(reason.clone()),
            Ok(free_fit) => {
                let (parameters, focal_latent) =
                    match item_in_groups(free_fit, &cache.settings, &name) {
                        Some((p, l)) => (Some(p), l),
                        None => (None, (0.0, 1.0)),
                    };
                let (statistic, df, note) = match method {
                    IrtMethod::LikelihoodRatio => {
                        let constrained_fit = cache.fit(&constrained, false, false, cancel)?;
                        match constrained_fit.as_ref() {
                            Err(reason) => (f64::NAN, f64::NAN, Some(reason.clone())),
                            Ok(c) => {
                                let statistic =
                                    2.0 * (free_fit.run.log_likelihood - c.run.log_likelihood);
                                let df = free_fit.k.saturating_sub(c.k) as f64;
                                if statistic < -1e-3 {
                                    (
                                        statistic,
                                        df,
                                        Some("the model with the item free fits worse: a refit stopped short".to_string()),
                                    )
                                } else {
                                    (statistic.max(0.0), df, None)
                                }
                            }
                        }
                    }
                    IrtMethod::Wald => match wald(free_fit, &name) {
                        Ok((w, df)) => (w, df as f64, None),
                        Err(reason) => (f64::NAN, f64::NAN, Some(reason)),
                    },
                };
                let p = if statistic < -1e-3 {
                    f64::NAN
                } else {
                    chi_square_sf(statistic, df)
                };
                IrtTest {
                    statistic,
                    df,
                    p,
                    note,
                    parameters,
                    focal_latent,
                }
            }
        };
        out.push(Some(test));
        progress(i);
    }
    Ok(out)
}

/// Item `name` in both groups (and the focal latent moments) in the fit with `free` items free.
pub(crate) fn parameters_in(
    cache: &mut FitCache<'_>,
    free: &[bool],
    name: &str,
    cancel: &AtomicBool,
) -> Result<Option<ItemInGroups>, PredictionError> {
    let fitted = cache.fit(free, false, false, cancel)?;
    Ok(match fitted.as_ref() {
        Ok(f) => item_in_groups(f, &cache.settings, name),
        Err(_) => None,
    })
}

/// Sets the start values of every later fit to the values of the fit with `free` items free
/// (the base model of a round), fitting it first; returns its run's person θs when asked.
pub(crate) fn base_fit(
    cache: &mut FitCache<'_>,
    free: &[bool],
    want_theta: bool,
    cancel: &AtomicBool,
) -> Result<Option<BaseSummary>, PredictionError> {
    let fitted = cache.fit(free, false, want_theta, cancel)?;
    match fitted.as_ref() {
        Ok(f) => {
            cache.start = Some(f.run.values());
            let setup = &f.run.setup;
            let (mean, variance, _, _) =
                reported_latent(setup, &cache.settings, &f.run.psi, None, 1);
            let theta = if want_theta {
                groups::person_theta(&f.run, cache.responses.n_persons(), &cache.settings)
            } else {
                Vec::new()
            };
            Ok(Some(BaseSummary {
                focal_mean: mean,
                focal_variance: variance,
                theta,
                excluded: setup
                    .excluded
                    .iter()
                    .map(|e| (e.item.clone(), e.reason.clone()))
                    .collect(),
            }))
        }
        Err(_) => Ok(None),
    }
}

/// What the base model of a DIF run says.
#[derive(Clone, Debug)]
pub(crate) struct BaseSummary {
    pub focal_mean: f64,
    pub focal_variance: f64,
    pub theta: Vec<Option<(f64, f64)>>,
    pub excluded: HashMap<String, String>,
}

/// Raju's areas and the expected-score difference between a reference and a focal item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveDifference {
    /// `∫ (S_F − S_R) dθ`: negative when the item is harder for the focal group (Raju's signed
    /// area with the focal group first). Closed form for right/wrong items with equal lower and
    /// no upper asymptotes; otherwise over θ ∈ [−6, 6].
    pub signed_area: f64,
    /// `∫ |S_F − S_R| dθ` (Raju's unsigned area), closed form or over [−6, 6] as above.
    pub unsigned_area: f64,
    /// `∫ (S_F − S_R) dF(θ)` with F the focal group's N(mean, variance): the expected-score
    /// difference of the focal group's persons (negative: the item favours the reference group).
    pub expected_score_difference: f64,
}

/// Softplus `ln(1 + eˣ)`, stable.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The areas and expected-score difference between `reference` and `focal` (the same item in
/// two groups) with the focal group distributed N(`focal_mean`, `focal_variance`).
pub fn curve_difference(
    reference: &ItemParameters,
    focal: &ItemParameters,
    focal_mean: f64,
    focal_variance: f64,
) -> CurveDifference {
    let score = |item: &ItemParameters, theta: f64| item.expected_score(theta);
    // Numerical areas over [−6, 6], Simpson's rule on 1,200 intervals.
    let steps = 1200;
    let (lo, hi) = (-6.0, 6.0);
    let h = (hi - lo) / steps as f64;
    let (mut signed, mut unsigned) = (0.0, 0.0);
    for s in 0..=steps {
        let theta = lo + h * s as f64;
        let weight = if s == 0 || s == steps {
            1.0
        } else if s % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let d = score(focal, theta) - score(reference, theta);
        signed += weight * d;
        unsigned += weight * d.abs();
    }
    signed *= h / 3.0;
    unsigned *= h / 3.0;
    // Closed forms (Raju, 1988) for right/wrong items on a common lower asymptote.
    let closed = |item: &ItemParameters| -> Option<(f64, f64, f64)> {
        if item.n_categories() != 2 || !item.model.is_dichotomous() {
            return None;
        }
        let form = item.irt(1.0);
        let u = form.u.unwrap_or(1.0);
        if (u - 1.0).abs() > 1e-12 {
            return None;
        }
        Some((
            form.a.unwrap_or(1.0),
            *form.b.first()?,
            form.c.unwrap_or(0.0),
        ))
    };
    if let (Some((a_r, b_r, c_r)), Some((a_f, b_f, c_f))) = (closed(reference), closed(focal))
        && (c_r - c_f).abs() < 1e-9
        && a_r > 0.0
        && a_f > 0.0
    {
        let scale = 1.0 - c_r;
        signed = scale * (b_r - b_f);
        unsigned = if (a_f - a_r).abs() < 1e-9 * a_r.max(a_f) {
            scale * (b_f - b_r).abs()
        } else {
            let y = a_r * a_f * (b_f - b_r) / (a_f - a_r);
            scale * (2.0 * (a_f - a_r) / (a_r * a_f) * softplus(y) - (b_f - b_r)).abs()
        };
    }
    // Expected-score difference under the focal N(μ, σ²): 241 nodes over μ ± 6σ.
    let sd = focal_variance.max(1e-8).sqrt();
    let nodes = 241;
    let (mut total, mut weights) = (0.0, 0.0);
    for q in 0..nodes {
        let z = -6.0 + 12.0 * q as f64 / (nodes - 1) as f64;
        let w = (-0.5 * z * z).exp();
        let theta = focal_mean + sd * z;
        total += w * (score(focal, theta) - score(reference, theta));
        weights += w;
    }
    CurveDifference {
        signed_area: signed,
        unsigned_area: unsigned,
        expected_score_difference: total / weights,
    }
}

/// Items flagged in a round: raw p below `alpha`.
pub(crate) fn flagged(tests: &[Option<IrtTest>], alpha: f64) -> BTreeSet<usize> {
    tests
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.as_ref().filter(|t| t.p < alpha).map(|_| i))
        .collect()
}
