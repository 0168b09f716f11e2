//! The result of a calibration: the fitted items in slope-intercept and IRT form with standard
//! errors (by the delta method), the latent distribution, the fit summary, why EM stopped, and
//! typed warnings for the user.

use serde::{Deserialize, Serialize};

use super::em::Termination;
use super::layout::{FreeKind, Owner, Slot};
use super::settings::{FitSettings, StandardErrorMethod};
use super::setup::Setup;
use crate::prediction::items::{IrtForm, ItemType, ParameterKind};
use crate::prediction::model::ItemParameters;

/// An item left out of the calibration, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExcludedItem {
    /// Item name.
    pub item: String,
    /// Why it was left out.
    pub reason: String,
}

/// Something the user should know about a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FitWarning {
    /// An item could not be calibrated.
    ItemExcluded {
        /// Item.
        item: String,
        /// Why.
        reason: String,
    },
    /// A category of an item was not chosen by anyone and is left out of the item's scale.
    CategoryNotChosen {
        /// Item.
        item: String,
        /// The category's value.
        category: String,
    },
    /// Persons without responses to the calibrated items.
    PersonsWithoutResponses(usize),
    /// EM stopped at the cycle limit.
    NotConverged {
        /// Cycles run.
        cycles: usize,
        /// The tolerance asked for.
        tolerance: f64,
    },
    /// A parameter ended at the edge of its allowed range.
    AtBound {
        /// Item (or "latent distribution").
        item: String,
        /// Parameter.
        parameter: String,
        /// Its value.
        value: f64,
    },
    /// A standard error so large the parameter is barely identified.
    LargeStandardError {
        /// Item.
        item: String,
        /// Parameter.
        parameter: String,
        /// The standard error.
        se: f64,
    },
    /// A right/wrong item whose probability falls as ability rises.
    NegativeSlope {
        /// Item.
        item: String,
        /// The slope.
        a: f64,
    },
    /// The standard errors could not be computed.
    StandardErrorsUnavailable(String),
    /// No more persons than free parameters: the estimates are not identified by the data,
    /// whatever EM reports about convergence.
    FewPersons {
        /// Persons in the fit.
        persons: usize,
        /// Free parameters.
        parameters: usize,
    },
    /// An estimate so far out (a steep slope, a difficulty beyond the ability range) that it
    /// is unlikely to be a real property of the item.
    ExtremeEstimate {
        /// Item.
        item: String,
        /// Parameter (`a`, `b`, …, on the reported IRT metric).
        parameter: String,
        /// Its value.
        value: f64,
    },
}

/// Slopes above this (logistic metric) are reported as extreme.
pub const EXTREME_SLOPE: f64 = 8.0;
/// Difficulties beyond ± this many latent SDs from the latent mean are reported as extreme.
pub const EXTREME_DIFFICULTY: f64 = 6.0;
/// Standard errors above this are reported as enormous.
pub const LARGE_STANDARD_ERROR: f64 = 10.0;

impl FitWarning {
    /// The item the warning is about, when it is about one.
    pub fn item(&self) -> Option<&str> {
        match self {
            FitWarning::ItemExcluded { item, .. }
            | FitWarning::CategoryNotChosen { item, .. }
            | FitWarning::AtBound { item, .. }
            | FitWarning::LargeStandardError { item, .. }
            | FitWarning::NegativeSlope { item, .. }
            | FitWarning::ExtremeEstimate { item, .. } => Some(item),
            _ => None,
        }
    }

    /// Whether the warning says the estimates themselves are doubtful (a bound, an enormous
    /// SE, an extreme or reversed estimate, no convergence, too few persons).
    pub fn questions_the_estimates(&self) -> bool {
        matches!(
            self,
            FitWarning::NotConverged { .. }
                | FitWarning::AtBound { .. }
                | FitWarning::LargeStandardError { .. }
                | FitWarning::NegativeSlope { .. }
                | FitWarning::StandardErrorsUnavailable(_)
                | FitWarning::FewPersons { .. }
                | FitWarning::ExtremeEstimate { .. }
        )
    }
}

impl std::fmt::Display for FitWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = crate::text::quoted;
        match self {
            FitWarning::ItemExcluded { item, reason } => {
                write!(f, "item {} left out of the fit: {reason}", q(item))
            }
            FitWarning::CategoryNotChosen { item, category } => write!(
                f,
                "item {}: nobody chose category {}; the item is scored on its other categories",
                q(item),
                q(category)
            ),
            FitWarning::PersonsWithoutResponses(n) => {
                write!(f, "{n} persons with no responses left out of the fit")
            }
            FitWarning::NotConverged { cycles, tolerance } => write!(
                f,
                "EM did not converge in {cycles} cycles (tolerance {tolerance}); the estimates are the last cycle's"
            ),
            FitWarning::AtBound {
                item,
                parameter,
                value,
            } => write!(
                f,
                "{}: {parameter} = {value:.3} reached the edge of its range; the estimate is not reliable (too few responses, or a poorly fitting item)",
                q(item)
            ),
            FitWarning::LargeStandardError {
                item,
                parameter,
                se,
            } => write!(
                f,
                "{}: the standard error of {parameter} is {se:.3}; the parameter is barely identified by the data",
                q(item)
            ),
            FitWarning::NegativeSlope { item, a } => write!(
                f,
                "item {}: negative slope a = {a:.3}: higher ability makes the keyed answer less likely (miskeyed or reversed item?)",
                q(item)
            ),
            FitWarning::StandardErrorsUnavailable(reason) => {
                write!(f, "standard errors unavailable: {reason}")
            }
            FitWarning::FewPersons {
                persons,
                parameters,
            } => write!(
                f,
                "{persons} persons for {parameters} free parameters: the data cannot identify the estimates, whatever the convergence report says (use a simpler model or more persons)"
            ),
            FitWarning::ExtremeEstimate {
                item,
                parameter,
                value,
            } => write!(
                f,
                "item {}: {parameter} = {value:.3} is extreme; the estimate is not reliable (too few responses, or a poorly fitting item)",
                q(item)
            ),
        }
    }
}

/// A fitted item: the item type's parameters (slope-intercept form on the reported θ metric)
/// and their IRT form, with standard errors where the parameter was estimated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedItem {
    /// Item name.
    pub item: String,
    /// Item type.
    pub model: ItemType,
    /// Original category values.
    pub categories: Vec<String>,
    /// Names of the parameters (`a`, `d`, `c`, `d1`, …).
    pub parameter_names: Vec<String>,
    /// The parameters.
    pub parameters: Vec<f64>,
    /// Their standard errors (`None` when fixed or not computed).
    pub parameter_se: Vec<Option<f64>>,
    /// IRT form with the fit's scaling constant D.
    pub irt: IrtForm,
    /// Standard errors of the IRT form.
    pub irt_se: IrtForm<Option<f64>>,
    /// Whether the item's parameters were fixed (an anchor).
    pub anchored: bool,
}

impl FittedItem {
    /// Discrimination `a` (1 when the type has none).
    pub fn a(&self) -> f64 {
        self.irt.a.unwrap_or(1.0)
    }
    /// First difficulty `b` (the difficulty of a right/wrong item).
    pub fn b(&self) -> f64 {
        self.irt.b.first().copied().unwrap_or(f64::NAN)
    }
    /// Lower asymptote (0 without one).
    pub fn c(&self) -> f64 {
        self.irt.c.unwrap_or(0.0)
    }
    /// Upper asymptote (1 without one).
    pub fn u(&self) -> f64 {
        self.irt.u.unwrap_or(1.0)
    }
    /// First intercept `d`.
    pub fn d(&self) -> f64 {
        self.irt.d.first().copied().unwrap_or(f64::NAN)
    }
    /// SE of `a`.
    pub fn a_se(&self) -> Option<f64> {
        self.irt_se.a.flatten()
    }
    /// SE of the first `b`.
    pub fn b_se(&self) -> Option<f64> {
        self.irt_se.b.first().copied().flatten()
    }
    /// SE of `c`.
    pub fn c_se(&self) -> Option<f64> {
        self.irt_se.c.flatten()
    }
    /// SE of the first `d`.
    pub fn d_se(&self) -> Option<f64> {
        self.irt_se.d.first().copied().flatten()
    }
    /// The item as parameters for curves, scoring and tables.
    pub fn item_parameters(&self) -> ItemParameters {
        ItemParameters {
            item: self.item.clone(),
            model: self.model,
            categories: self.categories.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

/// The result of a calibration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Calibration {
    /// The settings used.
    pub settings: FitSettings,
    /// The calibrated items, in data order.
    pub items: Vec<FittedItem>,
    /// Items left out, with the reason.
    pub excluded_items: Vec<ExcludedItem>,
    /// Mean of the latent trait on the reported metric (0 unless anchors set the scale).
    pub latent_mean: f64,
    /// Variance of the latent trait (estimated for the Rasch family and with anchors, 1
    /// otherwise).
    pub latent_variance: f64,
    /// Standard error of the latent mean, when estimated.
    pub latent_mean_se: Option<f64>,
    /// Standard error of the latent variance, when estimated.
    pub latent_variance_se: Option<f64>,
    /// Marginal log-likelihood at the estimates (without priors).
    pub log_likelihood: f64,
    /// Akaike information criterion, `−2·logL + 2k`.
    pub aic: f64,
    /// Bayesian information criterion, `−2·logL + k·ln N`.
    pub bic: f64,
    /// Number of free parameters k.
    pub parameters: usize,
    /// EM cycles run (E-steps, including those of acceleration).
    pub cycles: usize,
    /// Whether EM converged.
    pub converged: bool,
    /// Why EM stopped.
    pub termination: Termination,
    /// Log-likelihood at every E-step, in order.
    pub log_likelihood_history: Vec<f64>,
    /// How the standard errors were asked for.
    pub standard_errors: StandardErrorMethod,
    /// How they were computed, for the output ("analytic observed information", …); `None`
    /// when not computed.
    pub standard_error_route: Option<String>,
    /// Persons in the calibration (with at least one response to a calibrated item).
    pub n_persons: usize,
    /// Persons left out because they answered none of the calibrated items.
    pub n_persons_without_responses: usize,
    /// Distinct response patterns.
    pub n_patterns: usize,
    /// Warnings for the user.
    pub warnings: Vec<FitWarning>,
    /// The free parameters at the estimates (estimation scale).
    #[serde(skip)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) estimates: Vec<f64>,
}

impl Calibration {
    /// The calibrated items as parameters on the reported θ metric.
    pub fn item_parameters(&self) -> Vec<ItemParameters> {
        self.items.iter().map(FittedItem::item_parameters).collect()
    }

    /// Standard deviation of θ on the reported metric.
    pub fn theta_scale(&self) -> f64 {
        self.latent_variance.sqrt()
    }

    /// The item types used, in order of first use.
    pub fn item_types(&self) -> Vec<ItemType> {
        let mut types: Vec<ItemType> = Vec::new();
        for item in &self.items {
            if !types.contains(&item.model) {
                types.push(item.model);
            }
        }
        types
    }

    /// A label for the model: one type's label, or "Mixed (2PL, Graded)".
    pub fn model_label(&self) -> String {
        let types = self.item_types();
        match types.as_slice() {
            [one] => one.label().to_string(),
            many => format!(
                "Mixed ({})",
                many.iter()
                    .map(|t| t.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A name for the model: one type's name or "mixed".
    pub fn model_name(&self) -> String {
        match self.item_types().as_slice() {
            [one] => one.name().to_string(),
            _ => "mixed".to_string(),
        }
    }
}

/// The reported θ metric `θ' = sd·θ` over the estimation metric, and the free parameter that
/// sets it: the Rasch family's common slope σ sets the metric (θ' = σθ/D, slopes reported as 1)
/// unless anchors fix the scale. The same in every group (the common slope is never per group).
fn reported_metric(setup: &Setup, psi: &[f64], settings: &FitSettings) -> (f64, Option<usize>) {
    let layout = &setup.problem.layout;
    if setup.anchored.iter().any(|&a| a) {
        return (1.0, None);
    }
    for (j, item) in layout.items.iter().enumerate() {
        if item.item_type.is_rasch_family()
            && let Slot::Free(i) = layout.slots[0][j][0]
        {
            return (psi[i] / settings.scaling, Some(i));
        }
    }
    (1.0, None)
}

/// Standard errors of `f(ψ)` by the delta method: `J Σ Jᵀ`, the Jacobian J by central
/// differences over the free parameters `depends` that f depends on. `None` where the
/// covariance is missing or f does not depend on ψ.
pub(crate) fn delta_se(
    psi: &[f64],
    covariance: Option<&[f64]>,
    f: &dyn Fn(&[f64]) -> Vec<f64>,
    depends: &[usize],
) -> Vec<Option<f64>> {
    let n = psi.len();
    let value = f(psi);
    let Some(cov) = covariance else {
        return vec![None; value.len()];
    };
    let mut jacobian = vec![vec![0.0; depends.len()]; value.len()];
    for (x, &i) in depends.iter().enumerate() {
        let h = 1e-6 * psi[i].abs().max(1.0);
        let mut plus = psi.to_vec();
        let mut minus = psi.to_vec();
        plus[i] += h;
        minus[i] -= h;
        let (fp, fm) = (f(&plus), f(&minus));
        for r in 0..value.len() {
            jacobian[r][x] = (fp[r] - fm[r]) / (2.0 * h);
        }
    }
    jacobian
        .iter()
        .map(|row| {
            if row.iter().all(|v| v.abs() < 1e-12) {
                return None;
            }
            let mut variance = 0.0;
            for (x, &i) in depends.iter().enumerate() {
                for (y, &k) in depends.iter().enumerate() {
                    variance += row[x] * cov[i * n + k] * row[y];
                }
            }
            (variance > 0.0 && variance.is_finite()).then(|| variance.sqrt())
        })
        .collect()
}

/// Item j as fitted in group g: parameters on the reported metric, IRT form, standard errors.
pub(crate) fn fitted_item(
    setup: &Setup,
    settings: &FitSettings,
    psi: &[f64],
    covariance: Option<&[f64]>,
    g: usize,
    j: usize,
) -> FittedItem {
    let layout = &setup.problem.layout;
    let item = &layout.items[j];
    let model = item.model;
    let scaling = settings.scaling;
    let (sd, metric_parameter) = reported_metric(setup, psi, settings);
    let params = model.rescale(&layout.item_parameters(g, j, psi), 0.0, sd);
    let irt = model.irt_form(&params, scaling);
    let mut depends: Vec<usize> = layout.slots[g][j]
        .iter()
        .filter_map(|slot| match *slot {
            Slot::Free(i) => Some(i),
            Slot::Fixed(_) => None,
        })
        .collect();
    if let Some(i) = metric_parameter
        && !depends.contains(&i)
    {
        depends.push(i);
    }
    let reported = |psi: &[f64]| -> Vec<f64> {
        let (s, _) = reported_metric(setup, psi, settings);
        let p = model.rescale(&layout.item_parameters(g, j, psi), 0.0, s);
        let mut out = p.clone();
        out.extend(model.irt_form(&p, scaling).flatten());
        out
    };
    let ses = delta_se(psi, covariance, &reported, &depends);
    let n_params = params.len();
    let parameter_se = ses[..n_params].to_vec();
    let irt_se = irt.unflatten(&ses[n_params..]);
    FittedItem {
        item: item.name.clone(),
        model: item.item_type,
        categories: setup.categories[j].clone(),
        parameter_names: model
            .parameters(item.n_categories)
            .into_iter()
            .map(|p| p.name)
            .collect(),
        parameters: params,
        parameter_se,
        irt,
        irt_se,
        anchored: setup.anchored[j],
    }
}

/// Group g's latent mean and variance on the reported metric, with standard errors:
/// `(mean, variance, mean SE, variance SE)`.
pub(crate) fn reported_latent(
    setup: &Setup,
    settings: &FitSettings,
    psi: &[f64],
    covariance: Option<&[f64]>,
    g: usize,
) -> (f64, f64, Option<f64>, Option<f64>) {
    let layout = &setup.problem.layout;
    let moments = |psi: &[f64]| -> Vec<f64> {
        let (s, _) = reported_metric(setup, psi, settings);
        let (m, v) = layout.latent(g, psi);
        vec![m * s, v * s * s]
    };
    let (_, metric_parameter) = reported_metric(setup, psi, settings);
    let (mean_slot, variance_slot) = layout.latent[g];
    let depends: Vec<usize> = [mean_slot, variance_slot]
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Free(i) => Some(i),
            Slot::Fixed(_) => None,
        })
        .chain(metric_parameter)
        .collect();
    let value = moments(psi);
    let ses = delta_se(psi, covariance, &moments, &depends);
    (value[0], value[1], ses[0], ses[1])
}

/// Warnings about the estimates: parameters at a bound, enormous standard errors, negative
/// slopes of right/wrong items, extreme slopes and difficulties (against the latent mean and
/// variance `latent`, with the reporting scale `scaling`), fewer persons than parameters.
pub(crate) fn estimate_warnings(
    setup: &Setup,
    psi: &[f64],
    items: &[FittedItem],
    scaling: f64,
    latent: (f64, f64),
) -> Vec<FitWarning> {
    let layout = &setup.problem.layout;
    let n = layout.n_free();
    let (latent_mean, latent_variance) = latent;
    let mut warnings = Vec::new();
    for (i, parameter) in layout.free.iter().enumerate() {
        let (lo, hi) = parameter.bounds;
        if matches!(parameter.kind, FreeKind::Item(_))
            && parameter.transform == super::layout::Transform::Identity
            && (psi[i] <= lo + 1e-6 || psi[i] >= hi - 1e-6)
        {
            let (item, name) = match parameter.owner {
                Owner::Item(j) if layout.slots.len() == 1 => {
                    let slot = layout.slots[0][j].iter().position(|s| *s == Slot::Free(i));
                    let names = layout.items[j]
                        .model
                        .parameters(layout.items[j].n_categories);
                    (
                        layout.items[j].name.clone(),
                        slot.map(|m| names[m].name.clone()).unwrap_or_default(),
                    )
                }
                _ => (parameter.label.clone(), String::new()),
            };
            warnings.push(FitWarning::AtBound {
                item,
                parameter: name,
                value: parameter.transform.value(psi[i]),
            });
        }
    }
    for item in items {
        if item.anchored {
            continue;
        }
        for (name, se) in item.parameter_names.iter().zip(&item.parameter_se) {
            if let Some(se) = se
                && *se > LARGE_STANDARD_ERROR
            {
                warnings.push(FitWarning::LargeStandardError {
                    item: item.item.clone(),
                    parameter: name.clone(),
                    se: *se,
                });
            }
        }
        if item.model.is_dichotomous() && item.a() < 0.0 {
            warnings.push(FitWarning::NegativeSlope {
                item: item.item.clone(),
                a: item.a(),
            });
        }
        // Extreme values that are not already reported at a bound.
        let at_bound = |parameter: &str| {
            warnings.iter().any(|w| {
                matches!(w, FitWarning::AtBound { item: i, parameter: p, .. }
                    if *i == item.item && p == parameter)
            })
        };
        let mut extreme = Vec::new();
        if let Some(a) = item.irt.a
            && a * scaling > EXTREME_SLOPE
            && !at_bound("a")
        {
            extreme.push(("a".to_string(), a));
        }
        let sd = latent_variance.sqrt();
        for (k, b) in item.irt.b.iter().enumerate() {
            if b.is_finite() && (b - latent_mean).abs() > EXTREME_DIFFICULTY * sd {
                let name = if item.irt.b.len() == 1 {
                    "b".to_string()
                } else {
                    format!("b{}", k + 1)
                };
                extreme.push((name, *b));
            }
        }
        for (parameter, value) in extreme {
            warnings.push(FitWarning::ExtremeEstimate {
                item: item.item.clone(),
                parameter,
                value,
            });
        }
    }
    if n > 0 && setup.n_persons <= n {
        warnings.push(FitWarning::FewPersons {
            persons: setup.n_persons,
            parameters: n,
        });
    }
    warnings
}

/// Assembles the result from the setup, EM's estimates and their covariance.
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    setup: Setup,
    settings: &FitSettings,
    psi: Vec<f64>,
    cycles: usize,
    history: Vec<f64>,
    termination: Termination,
    log_likelihood: f64,
    covariance: Option<Vec<f64>>,
    standard_error_route: Option<String>,
    extra_warnings: Vec<FitWarning>,
) -> Calibration {
    let layout = &setup.problem.layout;
    let n = layout.n_free();
    let mut warnings = setup.warnings.clone();
    warnings.extend(extra_warnings);
    if termination == Termination::MaxCycles {
        warnings.push(FitWarning::NotConverged {
            cycles,
            tolerance: settings.tolerance,
        });
    }
    let items: Vec<FittedItem> = (0..layout.items.len())
        .map(|j| fitted_item(&setup, settings, &psi, covariance.as_deref(), 0, j))
        .collect();
    let (latent_mean, latent_variance, latent_mean_se, latent_variance_se) =
        reported_latent(&setup, settings, &psi, covariance.as_deref(), 0);
    warnings.extend(estimate_warnings(
        &setup,
        &psi,
        &items,
        settings.scaling,
        (latent_mean, latent_variance),
    ));
    let k = n;
    let n_persons = setup.n_persons;
    let _ = ParameterKind::Slope;
    Calibration {
        settings: settings.clone(),
        items,
        excluded_items: setup.excluded.clone(),
        latent_mean,
        latent_variance,
        latent_mean_se,
        latent_variance_se,
        log_likelihood,
        aic: -2.0 * log_likelihood + 2.0 * k as f64,
        bic: -2.0 * log_likelihood + k as f64 * (n_persons.max(1) as f64).ln(),
        parameters: k,
        cycles,
        converged: termination != Termination::MaxCycles,
        termination,
        log_likelihood_history: history,
        standard_errors: settings.standard_errors,
        standard_error_route,
        n_persons,
        n_persons_without_responses: setup.n_persons_without_responses,
        n_patterns: setup.problem.groups[0].patterns.len(),
        warnings,
        estimates: psi,
    }
}
