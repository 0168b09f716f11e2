//! Multiple-group calibration and measurement invariance: the persons split by a group column
//! (gender, language, country…), one IRT model fitted to all groups at once with each item's
//! parameters equal across the groups or free in each, and each focal group's latent mean and
//! variance estimated against the reference group's N(0, 1) where equal items link the groups.
//!
//! - [`Groups`]: who is in which group, from any column (text or numbers); persons with a
//!   missing value are left out and counted.
//! - [`GroupModel`]: what is equal across groups — for every item (the invariance levels) or
//!   for chosen items only (anchors) — and which latent moments are estimated.
//! - [`calibrate_groups`]: the fit ([`GroupCalibration`]), with standard errors from the
//!   observed information (differences of the analytic gradient, Oakes 1999, as mirt's
//!   default) when asked for.
//! - [`invariance_ladder`]: configural → metric → scalar, each with log-likelihood, AIC, BIC
//!   and the likelihood-ratio test against the step before.
//! - [`analyse_groups`]: the fit plus every person's score under their group's model, and the
//!   tables, for the command line and the app.
//!
//! The levels (Vandenberg & Lance, 2000; in IRT terms Reise, Widaman & Pugh, 1993, and mirt's
//! `invariance` keywords): **configural** — every item's parameters free in every group, every
//! group N(0, 1) (the fit of separate calibrations); **metric** — slopes equal, the focal
//! groups' variances estimated; **scalar** — all item parameters equal, the focal groups'
//! means and variances estimated. Each level is nested in the one before, so the
//! likelihood-ratio test between neighbours is a test of the added equalities. The Rasch
//! family's slopes are fixed, so its focal variances are estimated at every level (as mirt
//! does).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use polars::prelude::{Column, DataFrame, DataType};
use serde::{Deserialize, Serialize};

use super::estimation::multigroup::{GroupRun, run_groups};
use super::estimation::result::{estimate_warnings, fitted_item, reported_latent};
use super::estimation::setup::GroupDesign;
use super::estimation::{ExcludedItem, FitSettings, FitWarning, FittedItem, Termination};
use super::items::ParameterKind;
use super::model::ItemParameters;
use super::scoring::{PersonScore, ScoringMethod, ScoringOptions, align_items, score_persons};
use super::{ClassicalStatistics, PredictionError, Progress, ResponseMatrix, tables};

/// The smallest group a multiple-group analysis accepts.
pub const MIN_GROUP_SIZE: usize = 2;

/// Which group each person is in.
#[derive(Clone, Debug, PartialEq)]
pub struct Groups {
    /// The column the groups come from.
    pub column: String,
    /// The groups' values; the first is the reference group.
    pub names: Vec<String>,
    /// Per person: index into `names`, or `None` when left out.
    pub membership: Vec<Option<usize>>,
    /// Persons left out because their group value is missing.
    pub n_missing: usize,
    /// Persons left out because their value is none of the chosen groups.
    pub n_other: usize,
}

impl Groups {
    /// Groups from one value per person (`None` or blank: missing). The values are sorted
    /// (numbers as numbers, text in natural order). The reference group is `reference`, or the
    /// first value that is not a focal one; the focal groups are `focal`, or every other value.
    /// When `focal` is given, `reference` must be too unless exactly one other value remains.
    pub fn from_values(
        column: &str,
        values: &[Option<String>],
        reference: Option<&str>,
        focal: Option<&[String]>,
    ) -> Result<Groups, PredictionError> {
        let cleaned: Vec<Option<&str>> = values
            .iter()
            .map(|v| v.as_deref().map(str::trim).filter(|v| !v.is_empty()))
            .collect();
        let mut distinct: Vec<&str> = cleaned.iter().flatten().copied().collect();
        distinct.sort_by(|a, b| compare_values(a, b));
        distinct.dedup();
        let quoted = crate::text::quoted;
        let listing = || {
            let shown: Vec<String> = distinct.iter().take(12).map(|v| quoted(v)).collect();
            let more = if distinct.len() > 12 { ", …" } else { "" };
            format!("{}{more}", shown.join(", "))
        };
        if distinct.len() < 2 {
            return Err(PredictionError::InvalidSetting(format!(
                "group column {} has {} distinct value{}{}; groups need at least two",
                quoted(column),
                distinct.len(),
                if distinct.len() == 1 { "" } else { "s" },
                if distinct.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", listing())
                }
            )));
        }
        let find = |value: &str, role: &str| -> Result<String, PredictionError> {
            let value = value.trim();
            distinct
                .iter()
                .find(|v| **v == value)
                .map(|v| v.to_string())
                .ok_or_else(|| {
                    PredictionError::InvalidSetting(format!(
                        "{role} group {} is not a value of column {}; its values are {}",
                        quoted(value),
                        quoted(column),
                        listing()
                    ))
                })
        };
        let focal_names: Option<Vec<String>> = match focal {
            Some(list) => Some(
                list.iter()
                    .map(|v| find(v, "focal"))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let reference_name = match reference {
            Some(r) => find(r, "reference")?,
            None => {
                let others: Vec<&str> = distinct
                    .iter()
                    .copied()
                    .filter(|v| {
                        focal_names
                            .as_ref()
                            .is_none_or(|f| !f.iter().any(|x| x == v))
                    })
                    .collect();
                match (focal_names.is_some(), others.as_slice()) {
                    (_, []) => {
                        return Err(PredictionError::InvalidSetting(format!(
                            "every value of column {} is a focal group; name the reference group",
                            quoted(column)
                        )));
                    }
                    (false, [first, ..]) | (true, [first]) => first.to_string(),
                    (true, _) => {
                        return Err(PredictionError::InvalidSetting(format!(
                            "column {} has the values {}; say which is the reference group",
                            quoted(column),
                            listing()
                        )));
                    }
                }
            }
        };
        let focal_names: Vec<String> = match focal_names {
            Some(mut f) => {
                f.dedup();
                if f.contains(&reference_name) {
                    return Err(PredictionError::InvalidSetting(format!(
                        "group {} cannot be both the reference and a focal group",
                        quoted(&reference_name)
                    )));
                }
                f
            }
            None => distinct
                .iter()
                .filter(|v| **v != reference_name)
                .map(|v| v.to_string())
                .collect(),
        };
        let mut names = vec![reference_name];
        names.extend(focal_names);
        let mut membership = Vec::with_capacity(cleaned.len());
        let (mut n_missing, mut n_other) = (0, 0);
        for value in &cleaned {
            match value {
                None => {
                    n_missing += 1;
                    membership.push(None);
                }
                Some(v) => match names.iter().position(|n| n == v) {
                    Some(g) => membership.push(Some(g)),
                    None => {
                        n_other += 1;
                        membership.push(None);
                    }
                },
            }
        }
        let groups = Groups {
            column: column.to_string(),
            names,
            membership,
            n_missing,
            n_other,
        };
        for (name, size) in groups.names.iter().zip(groups.sizes()) {
            if size < MIN_GROUP_SIZE {
                return Err(PredictionError::InvalidSetting(format!(
                    "group {} of column {} has {size} person{}; each group needs at least {MIN_GROUP_SIZE}",
                    quoted(name),
                    quoted(column),
                    if size == 1 { "" } else { "s" }
                )));
            }
        }
        Ok(groups)
    }

    /// Groups from a column of `frame` (one row per person, in the response matrix's order).
    pub fn from_dataframe(
        frame: &DataFrame,
        column: &str,
        reference: Option<&str>,
        focal: Option<&[String]>,
    ) -> Result<Groups, PredictionError> {
        let values = column_values(frame, column)?;
        Groups::from_values(column, &values, reference, focal)
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no groups (never, once built).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Persons in each group.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.names.len()];
        for g in self.membership.iter().flatten() {
            sizes[*g] += 1;
        }
        sizes
    }

    /// Persons left out (missing or other group values).
    pub fn n_left_out(&self) -> usize {
        self.n_missing + self.n_other
    }
}

/// Group values sort as numbers when both are numbers, otherwise in natural order.
fn compare_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => crate::preparation::layout::natural_order(a, b),
    }
}

/// A column's values as text (numbers written as they most likely were: `2`, not `2.0`);
/// `None` for null, NaN or blank.
pub fn column_values(
    frame: &DataFrame,
    column: &str,
) -> Result<Vec<Option<String>>, PredictionError> {
    let series = frame
        .column(column)
        .map_err(|_| PredictionError::ColumnNotFound {
            column: column.to_string(),
            available: super::responses::shorten_list(
                &frame
                    .get_column_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>(),
            ),
        })?
        .as_materialized_series()
        .clone();
    let dtype = series.dtype().clone();
    let data_error = |e: polars::error::PolarsError| {
        PredictionError::Data(format!("column {}: {e}", crate::text::quoted(column)))
    };
    if dtype.is_primitive_numeric() || dtype.is_bool() {
        let numbers = series.cast(&DataType::Float64).map_err(data_error)?;
        let values = numbers.f64().map_err(data_error)?;
        return Ok(values
            .iter()
            .map(|v| {
                v.filter(|x| !x.is_nan())
                    .map(super::responses::format_category)
            })
            .collect());
    }
    let text = series.cast(&DataType::String).map_err(data_error)?;
    let text = text.str().map_err(data_error)?;
    Ok(text
        .iter()
        .map(|v| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        })
        .collect())
}

/// A level of measurement invariance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Invariance {
    /// Item parameters free in every group; every group N(0, 1).
    Configural,
    /// Slopes equal across groups; the focal groups' variances estimated.
    Metric,
    /// Every item parameter equal across groups; the focal groups' means and variances
    /// estimated.
    #[default]
    Scalar,
}

impl Invariance {
    /// The levels from the least to the most constrained.
    pub const ALL: [Invariance; 3] = [
        Invariance::Configural,
        Invariance::Metric,
        Invariance::Scalar,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Invariance::Configural => "configural",
            Invariance::Metric => "metric",
            Invariance::Scalar => "scalar",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Invariance::Configural => "Configural (all parameters free)",
            Invariance::Metric => "Metric (slopes equal)",
            Invariance::Scalar => "Scalar (all parameters equal)",
        }
    }

    /// Parses a level name (`weak` and `strong` are accepted for metric and scalar).
    pub fn parse(text: &str) -> Option<Invariance> {
        match text.trim().to_ascii_lowercase().as_str() {
            "configural" => Some(Invariance::Configural),
            "metric" | "weak" => Some(Invariance::Metric),
            "scalar" | "strong" => Some(Invariance::Scalar),
            _ => None,
        }
    }
}

/// What of one item is equal across groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Equality {
    /// Every parameter has its own value in each group.
    Free,
    /// The slope is equal across groups; the other parameters are free.
    Slopes,
    /// Every parameter is equal across groups (an anchor item).
    All,
}

/// Which latent moments of the focal groups are estimated (the reference group is N(0, 1)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum GroupLatent {
    /// What the equal items identify: means and variances when some item is equal in every
    /// parameter, variances only when only slopes are equal (and always for the Rasch
    /// family), neither in a configural model.
    #[default]
    Auto,
    /// Every group N(0, 1).
    Fixed,
    /// As given.
    Free {
        /// Focal means estimated.
        mean: bool,
        /// Focal variances estimated.
        variance: bool,
    },
}

/// What is equal across groups, and which latent moments are estimated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupModel {
    /// The equality of every item not listed in `items`.
    pub default: Equality,
    /// Per item name, overriding `default`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub items: BTreeMap<String, Equality>,
    /// The focal groups' latent moments.
    pub latent: GroupLatent,
}

impl Default for GroupModel {
    fn default() -> Self {
        GroupModel::invariance(Invariance::Scalar)
    }
}

impl GroupModel {
    /// Every item at one invariance level.
    pub fn invariance(level: Invariance) -> GroupModel {
        GroupModel {
            default: match level {
                Invariance::Configural => Equality::Free,
                Invariance::Metric => Equality::Slopes,
                Invariance::Scalar => Equality::All,
            },
            items: BTreeMap::new(),
            latent: GroupLatent::Auto,
        }
    }

    /// The named items equal across groups (anchors), every other item free; the focal
    /// means and variances estimated.
    pub fn anchored(anchors: &[String]) -> GroupModel {
        GroupModel {
            default: Equality::Free,
            items: anchors
                .iter()
                .map(|name| (name.clone(), Equality::All))
                .collect(),
            latent: GroupLatent::Auto,
        }
    }

    /// The equality of item `name`.
    pub fn equality(&self, name: &str) -> Equality {
        self.items.get(name).copied().unwrap_or(self.default)
    }

    /// The invariance level this model is, when it is one.
    pub fn level(&self) -> Option<Invariance> {
        if !self.items.values().all(|e| *e == self.default) || self.latent != GroupLatent::Auto {
            return None;
        }
        Some(match self.default {
            Equality::Free => Invariance::Configural,
            Equality::Slopes => Invariance::Metric,
            Equality::All => Invariance::Scalar,
        })
    }

    /// Whether the focal means and variances are estimated for these items: checks that the
    /// model is identified (an estimated mean needs an item equal in every parameter, an
    /// estimated variance an item with equal slopes or the Rasch family).
    fn latent_freedom(
        &self,
        item_names: &[String],
        rasch_family: bool,
    ) -> Result<(bool, bool), PredictionError> {
        let equalities: Vec<Equality> = item_names.iter().map(|n| self.equality(n)).collect();
        let any_all = equalities.contains(&Equality::All);
        let any_slopes = any_all || equalities.contains(&Equality::Slopes);
        match self.latent {
            GroupLatent::Auto => Ok((any_all, any_slopes || rasch_family)),
            GroupLatent::Fixed => Ok((false, rasch_family)),
            GroupLatent::Free { mean, variance } => {
                if mean && !any_all {
                    return Err(PredictionError::InvalidSetting(
                        "the focal groups' means can be estimated only when some item is equal across groups (an anchor)".into(),
                    ));
                }
                if variance && !any_slopes && !rasch_family {
                    return Err(PredictionError::InvalidSetting(
                        "the focal groups' variances can be estimated only when some item's slope is equal across groups".into(),
                    ));
                }
                Ok((mean, variance || rasch_family))
            }
        }
    }
}

/// The design the estimation needs from a model and groups.
pub(crate) struct Design {
    pub names: Vec<String>,
    pub membership: Vec<Option<usize>>,
    pub latent_free: Vec<(bool, bool)>,
    pub equality: BTreeMap<String, Equality>,
    pub default: Equality,
}

impl Design {
    /// Whether a parameter of kind `kind` of item `item` differs between groups.
    pub fn differs(&self, item: &str, kind: ParameterKind) -> bool {
        match self.equality.get(item).copied().unwrap_or(self.default) {
            Equality::Free => true,
            Equality::Slopes => kind != ParameterKind::Slope,
            Equality::All => false,
        }
    }
}

/// The estimation's design for `model` on `groups`, checking the items `model` names.
pub(crate) fn design(
    responses: &ResponseMatrix,
    groups: &Groups,
    model: &GroupModel,
    settings: &FitSettings,
) -> Result<Design, PredictionError> {
    if groups.membership.len() != responses.n_persons() {
        return Err(PredictionError::Data(format!(
            "{} group values for {} persons",
            groups.membership.len(),
            responses.n_persons()
        )));
    }
    for name in model.items.keys() {
        if !responses.item_names().contains(name) {
            return Err(PredictionError::InvalidSetting(format!(
                "{} is named as an anchor but is not an item of the data",
                crate::text::quoted(name)
            )));
        }
    }
    let rasch_family = responses
        .item_names()
        .iter()
        .any(|n| settings.item_type(n).is_rasch_family());
    let (mean, variance) = model.latent_freedom(responses.item_names(), rasch_family)?;
    let mut latent_free = vec![(mean, variance); groups.len()];
    latent_free[0] = (false, false);
    Ok(Design {
        names: groups.names.clone(),
        membership: groups.membership.clone(),
        latent_free,
        equality: model.items.clone(),
        default: model.default,
    })
}

/// Runs the estimation of a design.
pub(crate) fn run_design(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    design: &Design,
    start: Option<&super::estimation::layout::LayoutValues>,
    want_moments: bool,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<GroupRun, PredictionError> {
    let differs = |item: &str, _m: usize, kind: ParameterKind| design.differs(item, kind);
    let group_design = GroupDesign {
        names: &design.names,
        membership: &design.membership,
        differs: &differs,
        latent_free: design.latent_free.clone(),
    };
    run_groups(
        responses,
        settings,
        &group_design,
        start,
        want_moments,
        progress,
        cancel,
    )
}

/// One group of a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group's value.
    pub group: String,
    /// Persons of the group in the calibration.
    pub n: usize,
    /// Latent mean on the reference group's metric.
    pub mean: f64,
    /// Latent variance.
    pub variance: f64,
    /// Standard error of the mean, when estimated.
    pub mean_se: Option<f64>,
    /// Standard error of the variance, when estimated.
    pub variance_se: Option<f64>,
    /// Whether the mean was estimated.
    pub mean_estimated: bool,
    /// Whether the variance was estimated.
    pub variance_estimated: bool,
}

/// One item of a multiple-group fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupItem {
    /// Item name.
    pub item: String,
    /// What was equal across groups.
    pub equality: Equality,
    /// Whether any of its parameters has its own value per group.
    pub differs: bool,
    /// The item as fitted in each group (the same numbers in every group when nothing
    /// differs).
    pub by_group: Vec<FittedItem>,
}

/// The result of a multiple-group calibration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupCalibration {
    /// The calibration settings.
    pub settings: FitSettings,
    /// What was equal across groups.
    pub model: GroupModel,
    /// The group column.
    pub column: String,
    /// The groups, the reference first.
    pub groups: Vec<GroupSummary>,
    /// The calibrated items.
    pub items: Vec<GroupItem>,
    /// Items left out, with the reason.
    pub excluded_items: Vec<ExcludedItem>,
    /// Marginal log-likelihood, summed over groups.
    pub log_likelihood: f64,
    /// `−2·logL + 2k`.
    pub aic: f64,
    /// `−2·logL + k·ln N`.
    pub bic: f64,
    /// Free parameters k (parameters equal across groups counted once).
    pub parameters: usize,
    /// EM cycles run.
    pub cycles: usize,
    /// Whether EM converged.
    pub converged: bool,
    /// Why EM stopped.
    pub termination: Termination,
    /// How the standard errors were computed, when they were.
    pub standard_error_route: Option<String>,
    /// Persons in the calibration (in a group, with a response).
    pub n_persons: usize,
    /// Persons left out: group value missing.
    pub n_persons_without_group: usize,
    /// Persons left out: group value not among the chosen groups.
    pub n_persons_other_group: usize,
    /// Persons in a group without responses to the calibrated items.
    pub n_persons_without_responses: usize,
    /// Warnings for the user.
    pub warnings: Vec<FitWarning>,
    /// Per person of the response matrix: the posterior mean and SD of θ under their group's
    /// model (EAP, on the reported metric); `None` for persons left out.
    #[serde(skip)]
    pub person_theta: Vec<Option<(f64, f64)>>,
}

impl GroupCalibration {
    /// The items as fitted in group `g`.
    pub fn group_items(&self, g: usize) -> Vec<ItemParameters> {
        self.items
            .iter()
            .filter_map(|i| i.by_group.get(g).map(FittedItem::item_parameters))
            .collect()
    }

    /// Whether any item has parameters that differ between groups.
    pub fn any_item_differs(&self) -> bool {
        self.items.iter().any(|i| i.differs)
    }

    /// A label for the model: the invariance level, or "anchored (k items equal)".
    pub fn model_label(&self) -> String {
        match self.model.level() {
            Some(level) => level.label().to_string(),
            None => {
                let equal = self
                    .items
                    .iter()
                    .filter(|i| i.equality == Equality::All)
                    .count();
                format!("{equal} of {} items equal across groups", self.items.len())
            }
        }
    }
}

/// Assembles the public result of a run.
pub(crate) fn assemble(
    run: &GroupRun,
    groups: &Groups,
    model: &GroupModel,
    settings: &FitSettings,
    design: &Design,
) -> GroupCalibration {
    let setup = &run.setup;
    let layout = &setup.problem.layout;
    let covariance = run.covariance.as_deref();
    let n_groups = layout.slots.len();
    let mut items = Vec::with_capacity(layout.items.len());
    let mut fitted_all = Vec::new();
    for (j, spec) in layout.items.iter().enumerate() {
        let by_group: Vec<FittedItem> = (0..n_groups)
            .map(|g| fitted_item(setup, settings, &run.psi, covariance, g, j))
            .collect();
        let differs = (1..n_groups).any(|g| layout.slots[g][j] != layout.slots[0][j]);
        fitted_all.extend(by_group.iter().cloned());
        items.push(GroupItem {
            item: spec.name.clone(),
            equality: design
                .equality
                .get(&spec.name)
                .copied()
                .unwrap_or(design.default),
            differs,
            by_group,
        });
    }
    let mut warnings = run.warnings.clone();
    for warning in estimate_warnings(setup, &run.psi, &fitted_all, settings.scaling, (0.0, 1.0)) {
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    let mut summaries = Vec::with_capacity(n_groups);
    for g in 0..n_groups {
        let (mean, variance, mean_se, variance_se) =
            reported_latent(setup, settings, &run.psi, covariance, g);
        let (mean_slot, variance_slot) = layout.latent[g];
        let persons = setup.problem.groups[g].patterns.counts.iter().sum::<f64>() as usize;
        summaries.push(GroupSummary {
            group: groups.names[g].clone(),
            n: persons,
            mean,
            variance,
            mean_se,
            variance_se,
            mean_estimated: matches!(mean_slot, super::estimation::layout::Slot::Free(_)),
            variance_estimated: matches!(variance_slot, super::estimation::layout::Slot::Free(_)),
        });
    }
    let person_theta = person_theta(run, groups.membership.len(), settings);
    let k = run.n_parameters();
    let n = setup.n_persons;
    GroupCalibration {
        settings: settings.clone(),
        model: model.clone(),
        column: groups.column.clone(),
        groups: summaries,
        items,
        excluded_items: setup.excluded.clone(),
        log_likelihood: run.log_likelihood,
        aic: -2.0 * run.log_likelihood + 2.0 * k as f64,
        bic: -2.0 * run.log_likelihood + k as f64 * (n.max(1) as f64).ln(),
        parameters: k,
        cycles: run.cycles,
        converged: run.termination != Termination::MaxCycles,
        termination: run.termination,
        standard_error_route: run.standard_error_route.clone(),
        n_persons: n,
        n_persons_without_group: groups.n_missing,
        n_persons_other_group: groups.n_other,
        n_persons_without_responses: setup.n_persons_without_responses,
        warnings,
        person_theta,
    }
}

/// Every person's posterior mean and SD of θ on the reported metric (when the run kept the
/// moments).
pub(crate) fn person_theta(
    run: &GroupRun,
    n_persons: usize,
    settings: &FitSettings,
) -> Vec<Option<(f64, f64)>> {
    let setup = &run.setup;
    // The Rasch family's common slope σ: θ' = σθ/D.
    let scale = setup
        .problem
        .layout
        .items
        .iter()
        .enumerate()
        .find_map(|(j, item)| {
            if setup.anchored.iter().any(|&a| a) || !item.item_type.is_rasch_family() {
                return None;
            }
            match setup.problem.layout.slots[0][j][0] {
                super::estimation::layout::Slot::Free(i) => Some(run.psi[i] / settings.scaling),
                super::estimation::layout::Slot::Fixed(_) => None,
            }
        })
        .unwrap_or(1.0);
    let mut theta = vec![None; n_persons];
    for (g, persons) in setup.group_persons.iter().enumerate() {
        let (Some(moments), Some(group)) = (run.moments.get(g), setup.problem.groups.get(g)) else {
            continue;
        };
        if moments.is_empty() {
            continue;
        }
        for (k, &person) in persons.iter().enumerate() {
            if let Some(Some(pattern)) = group.patterns.person_pattern.get(k)
                && let Some(&(mean, sd)) = moments.get(*pattern)
                && person < n_persons
            {
                theta[person] = Some((mean * scale, sd * scale));
            }
        }
    }
    theta
}

/// Calibrates `model` on `groups`: the items of `responses`, persons in a group only.
/// `progress` is called after every E-step and while standard errors are computed; `cancel`
/// stops the fit with [`PredictionError::Cancelled`].
pub fn calibrate_groups(
    responses: &ResponseMatrix,
    groups: &Groups,
    model: &GroupModel,
    settings: &FitSettings,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<GroupCalibration, PredictionError> {
    let design = design(responses, groups, model, settings)?;
    let run = run_design(responses, settings, &design, None, true, progress, cancel)?;
    Ok(assemble(&run, groups, model, settings, &design))
}

/// A likelihood-ratio test of two nested models.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodRatio {
    /// `2·(logL_less constrained − logL_more constrained)`.
    pub statistic: f64,
    /// Difference in free parameters.
    pub df: usize,
    /// `P(χ²_df > statistic)`; NaN when the statistic is negative (a refit stopped short).
    pub p: f64,
}

impl LikelihoodRatio {
    /// The test of `constrained` (fewer parameters) against `free`.
    pub fn between(free_ll: f64, free_k: usize, constrained_ll: f64, constrained_k: usize) -> Self {
        let statistic = 2.0 * (free_ll - constrained_ll);
        let df = free_k.saturating_sub(constrained_k);
        // A slightly negative statistic is the tolerance of EM at work: treat it as 0.
        let p = if statistic < -1e-3 || df == 0 {
            f64::NAN
        } else {
            super::distributions::chi_square_sf(statistic.max(0.0), df as f64)
        };
        LikelihoodRatio { statistic, df, p }
    }
}

/// One step of the invariance ladder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvarianceStep {
    /// The level.
    pub level: Invariance,
    /// Marginal log-likelihood.
    pub log_likelihood: f64,
    /// AIC.
    pub aic: f64,
    /// BIC.
    pub bic: f64,
    /// Free parameters.
    pub parameters: usize,
    /// Whether EM converged.
    pub converged: bool,
    /// The test against the step before (none for the first).
    pub test: Option<LikelihoodRatio>,
    /// The groups' latent means and variances at this level.
    pub groups: Vec<GroupSummary>,
}

/// The invariance ladder: configural, metric and scalar fits of the same data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvarianceLadder {
    /// The group column.
    pub column: String,
    /// Persons in the fits.
    pub n_persons: usize,
    /// The steps, least constrained first.
    pub steps: Vec<InvarianceStep>,
}

impl InvarianceLadder {
    /// The most constrained level whose test against the step before is not significant at
    /// `alpha` (with every step before it not significant either): the invariance the data
    /// support.
    pub fn supported(&self, alpha: f64) -> Invariance {
        let mut level = Invariance::Configural;
        for step in &self.steps {
            match step.test {
                None => level = step.level,
                Some(t) if t.p >= alpha => level = step.level,
                Some(_) => break,
            }
        }
        level
    }
}

/// Fits the configural, metric and scalar models (each started from the one before) and
/// tests each against the one before. Standard errors are not computed.
pub fn invariance_ladder(
    responses: &ResponseMatrix,
    groups: &Groups,
    settings: &FitSettings,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<InvarianceLadder, PredictionError> {
    let settings = FitSettings {
        standard_errors: super::StandardErrorMethod::None,
        ..settings.clone()
    };
    let mut steps: Vec<InvarianceStep> = Vec::new();
    let mut previous: Option<GroupRun> = None;
    let mut n_persons = 0;
    for level in Invariance::ALL {
        let model = GroupModel::invariance(level);
        let design = design(responses, groups, &model, &settings)?;
        let start = previous.as_ref().map(GroupRun::values);
        let run = run_design(
            responses,
            &settings,
            &design,
            start.as_ref(),
            false,
            progress,
            cancel,
        )?;
        let calibration = assemble(&run, groups, &model, &settings, &design);
        n_persons = calibration.n_persons;
        let test = steps.last().map(|before| {
            LikelihoodRatio::between(
                before.log_likelihood,
                before.parameters,
                calibration.log_likelihood,
                calibration.parameters,
            )
        });
        steps.push(InvarianceStep {
            level,
            log_likelihood: calibration.log_likelihood,
            aic: calibration.aic,
            bic: calibration.bic,
            parameters: calibration.parameters,
            converged: calibration.converged,
            test,
            groups: calibration.groups,
        });
        previous = Some(run);
    }
    Ok(InvarianceLadder {
        column: groups.column.clone(),
        n_persons,
        steps,
    })
}

/// A multiple-group analysis: the calibration, every grouped person's score under their
/// group's model, and classical statistics per group.
#[derive(Clone, Debug)]
pub struct GroupAnalysis {
    /// The calibration.
    pub calibration: GroupCalibration,
    /// Per group: classical item statistics of its persons.
    pub classical: Vec<ClassicalStatistics>,
    /// Scores of the persons in a group, in data order.
    pub scores: Vec<PersonScore>,
    /// The group (index) of each score.
    pub score_groups: Vec<usize>,
    /// How the scores were computed (the reference group's options; each group's prior is
    /// its own mean and variance).
    pub scoring: ScoringOptions,
}

/// Calibrates and scores: the whole prediction stage for grouped persons.
pub fn analyse_groups(
    responses: &ResponseMatrix,
    groups: &Groups,
    model: &GroupModel,
    settings: &FitSettings,
    scoring: ScoringMethod,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<GroupAnalysis, PredictionError> {
    let calibration = calibrate_groups(responses, groups, model, settings, progress, cancel)?;
    let mut per_person: Vec<Option<PersonScore>> = vec![None; responses.n_persons()];
    let mut classical = Vec::with_capacity(groups.len());
    let mut options_reference = None;
    for (g, summary) in calibration.groups.iter().enumerate() {
        let persons: Vec<usize> = (0..responses.n_persons())
            .filter(|&p| groups.membership[p] == Some(g))
            .collect();
        let subset = responses.select_persons(&persons);
        let items = calibration.group_items(g);
        let aligned = align_items(&subset, &items)?;
        let options = ScoringOptions {
            method: scoring,
            latent_mean: summary.mean,
            latent_sd: summary.variance.max(0.0).sqrt(),
            quadrature_points: settings.quadrature_points,
            theta_limit: settings.theta_limit,
        };
        options_reference.get_or_insert(options);
        let scores = score_persons(&aligned, &items, &options)?;
        for (score, &p) in scores.into_iter().zip(&persons) {
            per_person[p] = Some(score);
        }
        classical.push(super::classical_statistics(&aligned));
    }
    let mut scores = Vec::new();
    let mut score_groups = Vec::new();
    for (p, score) in per_person.into_iter().enumerate() {
        if let (Some(score), Some(g)) = (score, groups.membership[p]) {
            scores.push(score);
            score_groups.push(g);
        }
    }
    let scoring = options_reference.unwrap_or(ScoringOptions {
        method: scoring,
        latent_mean: 0.0,
        latent_sd: 1.0,
        quadrature_points: settings.quadrature_points,
        theta_limit: settings.theta_limit,
    });
    Ok(GroupAnalysis {
        calibration,
        classical,
        scores,
        score_groups,
        scoring,
    })
}

/// Prepends a `group` column to a table.
fn with_group_column(
    mut frame: DataFrame,
    values: Vec<&str>,
) -> Result<DataFrame, PredictionError> {
    frame
        .insert_column(0, Column::new("group".into(), values))
        .map_err(|e| PredictionError::Data(e.to_string()))?;
    Ok(frame)
}

fn stack(frames: Vec<DataFrame>) -> Result<DataFrame, PredictionError> {
    let mut frames = frames.into_iter();
    let Some(mut out) = frames.next() else {
        return Err(PredictionError::Data("no groups to tabulate".into()));
    };
    for frame in frames {
        out.vstack_mut(&frame)
            .map_err(|e| PredictionError::Data(e.to_string()))?;
    }
    Ok(out)
}

/// A person × item table builder of `tables`.
type PersonTable = dyn Fn(&[ItemParameters], &[PersonScore]) -> Result<DataFrame, PredictionError>;

impl GroupAnalysis {
    /// The items table with a first column `group`: each group's parameters (the same rows
    /// repeated for items equal across groups) and its classical statistics.
    pub fn items_table(&self) -> Result<DataFrame, PredictionError> {
        let c = &self.calibration;
        let mut frames = Vec::with_capacity(c.groups.len());
        for (g, summary) in c.groups.iter().enumerate() {
            let items: Vec<FittedItem> = c.items.iter().map(|i| i.by_group[g].clone()).collect();
            let classical = self
                .classical
                .get(g)
                .cloned()
                .unwrap_or(ClassicalStatistics {
                    items: Vec::new(),
                    cronbach_alpha: None,
                    alpha_persons: 0,
                });
            let frame = tables::fitted_items_table(&items, &classical)?;
            let height = frame.height();
            frames.push(with_group_column(
                frame,
                vec![summary.group.as_str(); height],
            )?);
        }
        stack(frames)
    }

    /// The scores table with a column `group` first.
    pub fn scores_table(&self) -> Result<DataFrame, PredictionError> {
        let frame = tables::scores_table(&self.scores)?;
        let names = self.group_values();
        with_group_column(frame, names)
    }

    fn group_values(&self) -> Vec<&str> {
        self.score_groups
            .iter()
            .map(|&g| self.calibration.groups[g].group.as_str())
            .collect()
    }

    fn per_group_table(&self, table: &PersonTable) -> Result<DataFrame, PredictionError> {
        let mut frames = Vec::new();
        for (g, summary) in self.calibration.groups.iter().enumerate() {
            let scores: Vec<PersonScore> = self
                .scores
                .iter()
                .zip(&self.score_groups)
                .filter(|(_, sg)| **sg == g)
                .map(|(s, _)| s.clone())
                .collect();
            let frame = table(&self.calibration.group_items(g), &scores)?;
            let height = frame.height();
            frames.push(with_group_column(
                frame,
                vec![summary.group.as_str(); height],
            )?);
        }
        stack(frames)
    }

    /// Category probabilities per person × item at each person's θ, under their group's
    /// items, with a column `group` first (rows grouped by group).
    pub fn person_probabilities_table(&self) -> Result<DataFrame, PredictionError> {
        self.per_group_table(&tables::person_probabilities_table)
    }

    /// Expected item scores per person × item, under their group's items, with a column
    /// `group` first (rows grouped by group).
    pub fn expected_scores_table(&self) -> Result<DataFrame, PredictionError> {
        self.per_group_table(&tables::expected_scores_table)
    }
}
