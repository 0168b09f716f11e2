//! Differential item functioning (DIF): does an item behave differently for two groups of
//! persons of the same ability? Four methods, each item tested in turn:
//!
//! - **Mantel–Haenszel** (`mantel_haenszel`): 2 × 2 tables per matching total score, the
//!   continuity-corrected χ², α_MH, the ETS Δ and its A/B/C class; Mantel's test and the
//!   standardised mean difference for items with more categories.
//! - **Logistic regression** (`logistic`): uniform, non-uniform or both, with Nagelkerke's ΔR²
//!   and the Zumbo–Thomas and Jodoin–Gierl classes; cumulative logits for ordered categories.
//! - **IRT likelihood ratio** and **Wald (Lord's χ²)** (`irt`) on multiple-group fits, with
//!   Raju's areas and the expected-score difference.
//!
//! Anchors are either chosen items (assumed DIF-free: the matching score of the score-based
//! methods, the items equal across groups in the IRT models) or every other item, optionally
//! purified: items flagged in one round leave the anchor set of the next, until the flagged set
//! stops changing (Candell & Drasgow, 1988; Clauser, Mazor & Hambleton, 1993), with the
//! unadjusted p-values against `alpha` inside the loop as difR does. The p-values of each
//! method are then adjusted over the tested items ([`PAdjust`]; Holm by default, as mirt's
//! `DIF`), and an item is flagged when its adjusted p-value is below `alpha`.
//!
//! Each row also gives an effect size and its class. Classes follow the method's published
//! rule, which for the ETS classes includes the unadjusted test: MH — ETS A/B/C (with `+`/`-`
//! for the favoured group); polytomous MH — AA/BB/CC on SMD/SD; logistic — Jodoin & Gierl on
//! ΔR² (Zumbo–Thomas in the details), A when the test is not significant; IRT — the
//! expected-score difference of the focal group, |·| ≤ .05 A, ≤ .10 B, else C (the STD P-DIF
//! cut-offs of Dorans & Holland, 1993), or on its ratio to the item's SD with the .17/.25
//! cut-offs for items with more categories, A when not significant.

pub mod irt;
pub mod logistic;
pub mod mantel_haenszel;
pub(crate) mod tables;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use self::irt::{FitCache, IrtMethod, IrtTest};
use self::logistic::{LogisticDifType, jodoin_gierl_class, zumbo_thomas_class};
use self::tables::{ScoreData, stratified_tables};
use super::estimation::FitSettings;
use super::groups::Groups;
use super::model::ItemParameters;
use super::p_adjust::{PAdjust, adjust};
use super::responses::MISSING;
use super::{PredictionError, ResponseMatrix};

pub use self::irt::{CurveDifference, curve_difference};
pub use self::logistic::{LogisticCell, LogisticDif, logistic_dif};
pub use self::mantel_haenszel::{
    MantelHaenszel, MantelTest, ets_class, mantel_haenszel, mantel_test, polytomous_class,
};

/// A DIF method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DifMethod {
    /// Mantel–Haenszel (Mantel's test for items with more categories).
    #[serde(rename = "mh")]
    MantelHaenszel,
    /// Logistic regression.
    #[serde(rename = "logistic")]
    Logistic,
    /// IRT likelihood ratio.
    #[serde(rename = "lr")]
    LikelihoodRatio,
    /// Wald test (Lord's χ²) on a multiple-group fit.
    #[serde(rename = "wald")]
    Wald,
}

impl DifMethod {
    /// Every method.
    pub const ALL: [DifMethod; 4] = [
        DifMethod::MantelHaenszel,
        DifMethod::Logistic,
        DifMethod::LikelihoodRatio,
        DifMethod::Wald,
    ];

    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            DifMethod::MantelHaenszel => "mh",
            DifMethod::Logistic => "logistic",
            DifMethod::LikelihoodRatio => "lr",
            DifMethod::Wald => "wald",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            DifMethod::MantelHaenszel => "Mantel–Haenszel",
            DifMethod::Logistic => "Logistic regression",
            DifMethod::LikelihoodRatio => "IRT likelihood ratio",
            DifMethod::Wald => "Wald (Lord's χ²)",
        }
    }

    /// Parses a method name (`mantel-haenszel`, `lord` and `likelihood-ratio` too).
    pub fn parse(text: &str) -> Option<DifMethod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mh" | "mantel-haenszel" | "mantel_haenszel" => Some(DifMethod::MantelHaenszel),
            "logistic" | "lr-logistic" => Some(DifMethod::Logistic),
            "lr" | "likelihood-ratio" | "irt-lr" => Some(DifMethod::LikelihoodRatio),
            "wald" | "lord" => Some(DifMethod::Wald),
            _ => None,
        }
    }

    /// Whether the method fits IRT models.
    pub fn is_irt(self) -> bool {
        matches!(self, DifMethod::LikelihoodRatio | DifMethod::Wald)
    }
}

/// Which items are assumed DIF-free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anchors {
    /// Every item other than the studied one; with `purify`, the items flagged in a round are
    /// left out of the anchors of the next.
    AllOthers {
        /// Iterative purification.
        purify: bool,
    },
    /// These items (not tested themselves).
    Items {
        /// Their names.
        items: Vec<String>,
    },
}

impl Default for Anchors {
    fn default() -> Self {
        Anchors::AllOthers { purify: false }
    }
}

/// How p-values are adjusted, by name (`holm`, `bh`, `none`).
pub fn parse_p_adjust(text: &str) -> Option<PAdjust> {
    match text.trim().to_ascii_lowercase().as_str() {
        "holm" => Some(PAdjust::Holm),
        "bh" | "fdr" | "benjamini-hochberg" => Some(PAdjust::BenjaminiHochberg),
        "none" => Some(PAdjust::None),
        _ => None,
    }
}

/// The name of a p-value adjustment.
pub fn p_adjust_name(method: PAdjust) -> &'static str {
    match method {
        PAdjust::None => "none",
        PAdjust::Holm => "holm",
        PAdjust::BenjaminiHochberg => "bh",
    }
}

mod p_adjust_serde {
    use super::{PAdjust, p_adjust_name, parse_p_adjust};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &PAdjust, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(p_adjust_name(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PAdjust, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_p_adjust(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown p-value adjustment \"{}\"; use holm, bh or none",
                crate::text::shorten(&text, 30)
            ))
        })
    }
}

/// The settings of a DIF analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DifSettings {
    /// The methods, in the order they are reported.
    pub methods: Vec<DifMethod>,
    /// The anchor items.
    pub anchors: Anchors,
    /// Adjustment of each method's p-values over the tested items.
    #[serde(with = "p_adjust_serde")]
    pub p_adjust: PAdjust,
    /// Significance level of the flags, the classes and purification.
    pub alpha: f64,
    /// Which DIF the logistic test looks for.
    pub logistic: LogisticDifType,
    /// Critical value of the one-sided test of |Δ_MH| > 1 in the ETS C class (1.645; 1.96 for
    /// the two-sided confidence-interval rule).
    pub ets_z: f64,
    /// Most purification rounds.
    pub max_rounds: usize,
    /// The IRT models' settings (item types, quadrature, tolerance, standard errors).
    pub fit: FitSettings,
}

impl Default for DifSettings {
    fn default() -> Self {
        DifSettings {
            methods: vec![DifMethod::MantelHaenszel, DifMethod::Logistic],
            anchors: Anchors::default(),
            p_adjust: PAdjust::Holm,
            alpha: 0.05,
            logistic: LogisticDifType::Both,
            ets_z: 1.645,
            max_rounds: 10,
            fit: FitSettings::default(),
        }
    }
}

impl DifSettings {
    /// Checks the settings, naming the first one out of range.
    pub fn validate(&self) -> Result<(), PredictionError> {
        let bad = |what: String| Err(PredictionError::InvalidSetting(what));
        if self.methods.is_empty() {
            return bad("choose at least one DIF method (mh, logistic, lr, wald)".into());
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad(format!(
                "the significance level must be between 0 and 1, got {}",
                self.alpha
            ));
        }
        if !(self.ets_z.is_finite() && self.ets_z > 0.0) {
            return bad(format!(
                "the ETS critical value must be positive, got {}",
                self.ets_z
            ));
        }
        if self.max_rounds == 0 || self.max_rounds > 100 {
            return bad(format!(
                "purification rounds must be between 1 and 100, got {}",
                self.max_rounds
            ));
        }
        if let Anchors::Items { items } = &self.anchors
            && items.is_empty()
        {
            return bad("name at least one anchor item".into());
        }
        self.fit.validate()
    }
}

/// One item's result by one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifRow {
    /// Item name.
    pub item: String,
    /// The method.
    pub method: DifMethod,
    /// The test statistic (χ²).
    pub statistic: f64,
    /// Its degrees of freedom.
    pub df: f64,
    /// Unadjusted p-value.
    pub p: f64,
    /// Adjusted p-value.
    pub p_adjusted: f64,
    /// The effect size (see `effect_name`).
    pub effect: f64,
    /// What the effect is: `delta_mh`, `smd`, `delta_r2`, `expected_score_difference`.
    pub effect_name: String,
    /// The effect's class (A/B/C with the method's rule; see the module docs).
    pub class: String,
    /// Adjusted p-value below alpha.
    pub flagged: bool,
    /// Further numbers: α_MH, SE of Δ, areas, the groups' parameters…
    pub details: Vec<(String, f64)>,
    /// Further labels (the Zumbo–Thomas class…).
    pub labels: Vec<(String, String)>,
    /// Why the test could not be run, or anything unusual.
    pub note: Option<String>,
}

/// How large an item's DIF is, across the methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DifSize {
    /// Class A/AA (or no test).
    Negligible,
    /// Class B/BB.
    Moderate,
    /// Class C/CC.
    Large,
}

impl DifSize {
    /// The size a class stands for.
    pub fn of_class(class: &str) -> DifSize {
        if class.starts_with('C') {
            DifSize::Large
        } else if class.starts_with('B') {
            DifSize::Moderate
        } else {
            DifSize::Negligible
        }
    }

    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            DifSize::Negligible => "negligible",
            DifSize::Moderate => "moderate",
            DifSize::Large => "large",
        }
    }
}

/// One item across the methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifItemSummary {
    /// Item name.
    pub item: String,
    /// Flagged by at least one method.
    pub flagged: bool,
    /// The methods that flag it.
    pub flagged_by: Vec<DifMethod>,
    /// The largest size any method's class gives.
    pub size: DifSize,
    /// The item served as an anchor (chosen, not tested).
    pub anchor: bool,
}

/// A purification's course for one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Purification {
    /// The method.
    pub method: DifMethod,
    /// The items flagged (unadjusted p below alpha) in each round, the first round with every
    /// other item as anchor.
    pub rounds: Vec<Vec<String>>,
    /// Whether the flagged set stopped changing within the allowed rounds.
    pub converged: bool,
}

/// The groups compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifGroups {
    /// The group column.
    pub column: String,
    /// The reference group's value.
    pub reference: String,
    /// The focal group's value.
    pub focal: String,
    /// Persons in the reference group.
    pub n_reference: usize,
    /// Persons in the focal group.
    pub n_focal: usize,
    /// Persons left out: group value missing.
    pub n_missing: usize,
    /// Persons left out: another group value.
    pub n_other: usize,
    /// The focal group's latent mean in the IRT base model (reference N(0, 1)), when fitted.
    pub focal_mean: Option<f64>,
    /// Its latent variance.
    pub focal_variance: Option<f64>,
}

/// The IRT part of a DIF report: what the item overlay plot needs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DifIrtDetail {
    /// Per item (data order): the item in the reference and the focal group, from the model
    /// where it is free; `None` where not tested.
    pub group_parameters: Vec<Option<[ItemParameters; 2]>>,
    /// Per person of the response matrix: EAP θ and posterior SD under the base model; `None`
    /// for persons left out.
    pub person_theta: Vec<Option<(f64, f64)>>,
}

/// A DIF analysis's result.
#[derive(Clone, Debug)]
pub struct DifReport {
    /// The settings used.
    pub settings: DifSettings,
    /// The groups compared.
    pub groups: DifGroups,
    /// One row per method and item (methods in the order asked, items in data order); chosen
    /// anchors are not tested and have no rows.
    pub rows: Vec<DifRow>,
    /// One entry per item.
    pub summary: Vec<DifItemSummary>,
    /// Purification rounds, per method, when purifying.
    pub purification: Vec<Purification>,
    /// From the IRT methods, when run.
    pub irt: Option<DifIrtDetail>,
    /// Per person of the response matrix: in the focal group (`Some(true)`), the reference
    /// group (`Some(false)`), or left out.
    pub person_group: Vec<Option<bool>>,
}

impl DifReport {
    /// The rows of one method.
    pub fn rows_of(&self, method: DifMethod) -> impl Iterator<Item = &DifRow> {
        self.rows.iter().filter(move |r| r.method == method)
    }

    /// Items flagged by at least one method.
    pub fn flagged_items(&self) -> Vec<&str> {
        self.summary
            .iter()
            .filter(|s| s.flagged)
            .map(|s| s.item.as_str())
            .collect()
    }
}

/// What a DIF run is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct DifProgress {
    /// The method running.
    pub method: DifMethod,
    /// Steps done (items tested, or IRT fits).
    pub done: usize,
    /// Steps in all (an estimate while purifying).
    pub total: usize,
    /// Purification round (1 = all other items as anchors).
    pub round: usize,
}

/// Runs a DIF analysis of every item of `responses` between `groups`' reference and focal
/// group (exactly two groups). `progress` is called as items are tested; `cancel` stops the run
/// with [`PredictionError::Cancelled`].
pub fn run_dif(
    responses: &ResponseMatrix,
    groups: &Groups,
    settings: &DifSettings,
    progress: &mut dyn FnMut(DifProgress),
    cancel: &AtomicBool,
) -> Result<DifReport, PredictionError> {
    settings.validate()?;
    if groups.len() != 2 {
        return Err(PredictionError::InvalidSetting(format!(
            "DIF compares two groups; column {} gives {} ({}): choose one focal group",
            crate::text::quoted(&groups.column),
            groups.len(),
            groups.names.join(", ")
        )));
    }
    if groups.membership.len() != responses.n_persons() {
        return Err(PredictionError::Data(format!(
            "{} group values for {} persons",
            groups.membership.len(),
            responses.n_persons()
        )));
    }
    let n_items = responses.n_items();
    if n_items < 2 {
        return Err(PredictionError::TooFewItems {
            usable: n_items,
            excluded: 0,
        });
    }
    let item_names = responses.item_names().to_vec();
    let chosen: Option<Vec<bool>> = match &settings.anchors {
        Anchors::Items { items } => {
            let mut mask = vec![false; n_items];
            for name in items {
                match item_names.iter().position(|n| n == name) {
                    Some(j) => mask[j] = true,
                    None => {
                        return Err(PredictionError::InvalidSetting(format!(
                            "anchor {} is not an item; items are {}",
                            crate::text::quoted(name),
                            super::responses::shorten_list(&item_names)
                        )));
                    }
                }
            }
            if mask.iter().all(|&m| m) {
                return Err(PredictionError::InvalidSetting(
                    "every item is an anchor: nothing is left to test".into(),
                ));
            }
            Some(mask)
        }
        Anchors::AllOthers { .. } => None,
    };
    let purify = matches!(settings.anchors, Anchors::AllOthers { purify: true });
    let sizes = groups.sizes();
    let mut dif_groups = DifGroups {
        column: groups.column.clone(),
        reference: groups.names[0].clone(),
        focal: groups.names[1].clone(),
        n_reference: sizes[0],
        n_focal: sizes[1],
        n_missing: groups.n_missing,
        n_other: groups.n_other,
        focal_mean: None,
        focal_variance: None,
    };
    let mut rows: Vec<DifRow> = Vec::new();
    let mut purification = Vec::new();
    let mut irt_detail: Option<DifIrtDetail> = None;
    let score_methods: Vec<DifMethod> = settings
        .methods
        .iter()
        .copied()
        .filter(|m| !m.is_irt())
        .collect();
    let data = if score_methods.is_empty() {
        None
    } else {
        Some(ScoreData::new(responses, groups)?)
    };
    let item_sd = data.as_ref().map(item_sds).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for &method in &settings.methods {
        if !seen.insert(method) {
            continue;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let (method_rows, trace) = if method.is_irt() {
            let (method_rows, trace, detail, base) = irt_rows(
                responses,
                groups,
                settings,
                method,
                chosen.as_deref(),
                purify,
                &item_sd_all(responses, groups),
                progress,
                cancel,
            )?;
            if let Some(base) = base {
                dif_groups.focal_mean.get_or_insert(base.0);
                dif_groups.focal_variance.get_or_insert(base.1);
            }
            if irt_detail.is_none() {
                irt_detail = Some(detail);
            }
            (method_rows, trace)
        } else {
            let Some(data) = data.as_ref() else {
                continue;
            };
            score_rows(
                data,
                settings,
                method,
                chosen.as_deref(),
                purify,
                &item_sd,
                progress,
                cancel,
            )?
        };
        if let Some(trace) = trace {
            purification.push(trace);
        }
        rows.extend(method_rows);
    }
    let summary = summarise(&item_names, &rows, chosen.as_deref());
    let person_group = groups
        .membership
        .iter()
        .map(|g| match g {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        })
        .collect();
    Ok(DifReport {
        settings: settings.clone(),
        groups: dif_groups,
        rows,
        summary,
        purification,
        irt: irt_detail,
        person_group,
    })
}

/// Each item's score SD over both groups (for the polytomous effect sizes).
fn item_sds(data: &ScoreData) -> Vec<f64> {
    let n_items = data.n_items();
    (0..n_items)
        .map(|j| {
            let (mut n, mut sum, mut sum2) = (0.0, 0.0, 0.0);
            for p in 0..data.n_persons() {
                let code = data.codes[p * n_items + j];
                if code != MISSING {
                    let x = code as f64;
                    n += 1.0;
                    sum += x;
                    sum2 += x * x;
                }
            }
            if n < 2.0 {
                return f64::NAN;
            }
            let mean = sum / n;
            ((sum2 - n * mean * mean) / (n - 1.0)).max(0.0).sqrt()
        })
        .collect()
}

fn item_sd_all(responses: &ResponseMatrix, groups: &Groups) -> Vec<f64> {
    let n_items = responses.n_items();
    let mut n = vec![0.0; n_items];
    let mut sum = vec![0.0; n_items];
    let mut sum2 = vec![0.0; n_items];
    for (p, g) in groups.membership.iter().enumerate() {
        if !matches!(g, Some(0) | Some(1)) {
            continue;
        }
        for (j, code) in responses.responses_of(p) {
            let x = code as f64;
            n[j] += 1.0;
            sum[j] += x;
            sum2[j] += x * x;
        }
    }
    (0..n_items)
        .map(|j| {
            if n[j] < 2.0 {
                return f64::NAN;
            }
            let mean = sum[j] / n[j];
            ((sum2[j] - n[j] * mean * mean) / (n[j] - 1.0))
                .max(0.0)
                .sqrt()
        })
        .collect()
}

/// A row before adjustment.
fn row(item: &str, method: DifMethod) -> DifRow {
    DifRow {
        item: item.to_string(),
        method,
        statistic: f64::NAN,
        df: f64::NAN,
        p: f64::NAN,
        p_adjusted: f64::NAN,
        effect: f64::NAN,
        effect_name: String::new(),
        class: "NA".into(),
        flagged: false,
        details: Vec::new(),
        labels: Vec::new(),
        note: None,
    }
}

/// Adjusts the rows' p-values and sets the flags.
fn finish(rows: &mut [DifRow], settings: &DifSettings) {
    let p: Vec<f64> = rows.iter().map(|r| r.p).collect();
    let adjusted = adjust(&p, settings.p_adjust);
    for (row, q) in rows.iter_mut().zip(adjusted) {
        row.p_adjusted = q;
        row.flagged = q < settings.alpha;
    }
}

/// MH or logistic rows for one anchor set (`anchors[j]`: item j counts in the matching score;
/// `tested[j]`: item j gets a row).
fn score_round(
    data: &ScoreData,
    settings: &DifSettings,
    method: DifMethod,
    anchors: &[bool],
    tested: &[bool],
    item_sd: &[f64],
) -> Vec<Option<DifRow>> {
    use rayon::prelude::*;
    let tables = stratified_tables(data, anchors);
    tables
        .par_iter()
        .enumerate()
        .map(|(j, table)| {
            if !tested[j] {
                return None;
            }
            let mut out = row(&data.items[j], method);
            let used = (0..table.k)
                .filter(|&c| (0..table.n_strata).any(|s| table.at(s, 0, c) + table.at(s, 1, c) > 0.0))
                .count();
            if used < 2 {
                out.note = Some("every response is the same: nothing to test".into());
                return Some(out);
            }
            match method {
                DifMethod::MantelHaenszel if table.k == 2 => {
                    let mh = mantel_haenszel(&mantel_haenszel::two_by_two(table));
                    out.statistic = mh.chi_square;
                    out.df = 1.0;
                    out.p = mh.p;
                    out.effect = mh.delta;
                    out.effect_name = "delta_mh".into();
                    out.class = ets_class(mh.delta, mh.delta_se, mh.p, settings.alpha, settings.ets_z);
                    let std = mantel_test(&mantel_haenszel::by_stratum(table));
                    out.details = vec![
                        ("alpha_mh".into(), mh.alpha),
                        ("delta_mh_se".into(), mh.delta_se),
                        ("std_p_dif".into(), std.smd),
                    ];
                    if mh.chi_square.is_nan() {
                        out.note = Some("no stratum has both groups and both answers".into());
                    }
                }
                DifMethod::MantelHaenszel => {
                    let test = mantel_test(&mantel_haenszel::by_stratum(table));
                    let sd = item_sd.get(j).copied().unwrap_or(f64::NAN);
                    out.statistic = test.chi_square;
                    out.df = 1.0;
                    out.p = test.p;
                    out.effect = test.smd;
                    out.effect_name = "smd".into();
                    out.class = polytomous_class(test.smd / sd, test.p, settings.alpha);
                    out.details = vec![
                        ("smd_se".into(), test.smd_se),
                        ("smd_over_sd".into(), test.smd / sd),
                    ];
                }
                _ => {
                    let fit = logistic_dif(&logistic::cells(table), table.k, settings.logistic);
                    out.statistic = fit.statistic;
                    out.df = fit.df as f64;
                    out.p = fit.p;
                    out.effect = fit.delta_r2;
                    out.effect_name = "delta_r2".into();
                    let significant = fit.p < settings.alpha;
                    out.class = if fit.delta_r2.is_nan() {
                        "NA".into()
                    } else if significant {
                        jodoin_gierl_class(fit.delta_r2).into()
                    } else {
                        "A".into()
                    };
                    out.labels = vec![(
                        "class_zumbo_thomas".into(),
                        if significant {
                            zumbo_thomas_class(fit.delta_r2).into()
                        } else {
                            "A".into()
                        },
                    )];
                    out.details = vec![
                        ("deviance_m0".into(), fit.deviances[0]),
                        ("deviance_m1".into(), fit.deviances[1]),
                        ("deviance_m2".into(), fit.deviances[2]),
                        ("beta_group".into(), fit.coefficients[1]),
                        ("beta_interaction".into(), fit.coefficients[2]),
                    ];
                    if !fit.converged {
                        out.note = Some(
                            "a logistic fit did not converge (separation?): coefficients unreliable, the deviance test stands".into(),
                        );
                    }
                }
            }
            Some(out)
        })
        .collect()
}

/// The score-based rows of one method, with purification when asked.
#[allow(clippy::too_many_arguments)]
fn score_rows(
    data: &ScoreData,
    settings: &DifSettings,
    method: DifMethod,
    chosen: Option<&[bool]>,
    purify: bool,
    item_sd: &[f64],
    progress: &mut dyn FnMut(DifProgress),
    cancel: &AtomicBool,
) -> Result<(Vec<DifRow>, Option<Purification>), PredictionError> {
    let n_items = data.n_items();
    let (anchors, tested): (Vec<bool>, Vec<bool>) = match chosen {
        Some(mask) => (mask.to_vec(), mask.iter().map(|m| !m).collect()),
        None => (vec![true; n_items], vec![true; n_items]),
    };
    let mut round = 1;
    progress(DifProgress {
        method,
        done: 0,
        total: n_items,
        round,
    });
    let mut rows = score_round(data, settings, method, &anchors, &tested, item_sd);
    let mut trace = None;
    if purify {
        let flagged_of = |rows: &[Option<DifRow>]| -> BTreeSet<usize> {
            rows.iter()
                .enumerate()
                .filter_map(|(j, r)| r.as_ref().filter(|r| r.p < settings.alpha).map(|_| j))
                .collect()
        };
        let mut flagged = flagged_of(&rows);
        let mut rounds = vec![names_of(&data.items, &flagged)];
        let mut converged = flagged.is_empty();
        while !converged && round < settings.max_rounds {
            if cancel.load(Ordering::Relaxed) {
                return Err(PredictionError::Cancelled);
            }
            round += 1;
            let anchors: Vec<bool> = (0..n_items).map(|j| !flagged.contains(&j)).collect();
            if anchors.iter().all(|a| !a) {
                break;
            }
            progress(DifProgress {
                method,
                done: 0,
                total: n_items,
                round,
            });
            rows = score_round(data, settings, method, &anchors, &tested, item_sd);
            let next = flagged_of(&rows);
            rounds.push(names_of(&data.items, &next));
            converged = next == flagged;
            flagged = next;
        }
        trace = Some(Purification {
            method,
            rounds,
            converged,
        });
    }
    progress(DifProgress {
        method,
        done: n_items,
        total: n_items,
        round,
    });
    let mut rows: Vec<DifRow> = rows.into_iter().flatten().collect();
    finish(&mut rows, settings);
    Ok((rows, trace))
}

fn names_of(items: &[String], set: &BTreeSet<usize>) -> Vec<String> {
    set.iter().map(|&j| items[j].clone()).collect()
}

type IrtRows = (
    Vec<DifRow>,
    Option<Purification>,
    DifIrtDetail,
    Option<(f64, f64)>,
);

/// The IRT rows of one method, with purification when asked.
#[allow(clippy::too_many_arguments)]
fn irt_rows(
    responses: &ResponseMatrix,
    groups: &Groups,
    settings: &DifSettings,
    method: DifMethod,
    chosen: Option<&[bool]>,
    purify: bool,
    item_sd: &[f64],
    progress: &mut dyn FnMut(DifProgress),
    cancel: &AtomicBool,
) -> Result<IrtRows, PredictionError> {
    let n_items = responses.n_items();
    let items = responses.item_names().to_vec();
    let irt_method = match method {
        DifMethod::Wald => IrtMethod::Wald,
        _ => IrtMethod::LikelihoodRatio,
    };
    let mut cache = FitCache::new(responses, groups, &settings.fit);
    let (mut base, tested): (Vec<bool>, Vec<bool>) = match chosen {
        Some(mask) => (
            mask.iter().map(|m| !m).collect(),
            mask.iter().map(|m| !m).collect(),
        ),
        None => (vec![false; n_items], vec![true; n_items]),
    };
    let mut round = 1;
    let mut rounds = Vec::new();
    let (mut tests, mut summary);
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let total = n_items + 1;
        progress(DifProgress {
            method,
            done: 0,
            total,
            round,
        });
        summary = irt::base_fit(&mut cache, &base, true, cancel)?;
        let Some(base_summary) = summary.as_ref() else {
            return Err(PredictionError::Data(
                "the multiple-group model with every other item as anchor could not be fitted"
                    .into(),
            ));
        };
        let excluded = base_summary.excluded.clone();
        tests = irt::test_round(
            &mut cache,
            irt_method,
            &base,
            &tested,
            &excluded,
            &mut |i| {
                progress(DifProgress {
                    method,
                    done: i + 2,
                    total,
                    round,
                })
            },
            cancel,
        )?;
        if !purify {
            break;
        }
        let flagged = irt::flagged(&tests, settings.alpha);
        rounds.push(names_of(&items, &flagged));
        let current: BTreeSet<usize> = (0..n_items).filter(|&i| base[i]).collect();
        if flagged == current || round >= settings.max_rounds {
            break;
        }
        if flagged.len() + 1 >= n_items {
            // No anchors would be left.
            break;
        }
        base = (0..n_items).map(|i| flagged.contains(&i)).collect();
        round += 1;
    }
    let converged = purify && {
        let last: BTreeSet<usize> = (0..n_items).filter(|&i| base[i]).collect();
        irt::flagged(&tests, settings.alpha) == last
    };
    let base_summary = summary;
    let mut rows = Vec::new();
    let mut group_parameters = vec![None; n_items];
    for (i, test) in tests.into_iter().enumerate() {
        let Some(test) = test else { continue };
        rows.push(irt_row(
            &items[i],
            method,
            &test,
            settings,
            item_sd.get(i).copied(),
        ));
        group_parameters[i] = test.parameters.clone();
    }
    finish(&mut rows, settings);
    let trace = purify.then_some(Purification {
        method,
        rounds,
        converged,
    });
    let detail = DifIrtDetail {
        group_parameters,
        person_theta: base_summary
            .as_ref()
            .map(|b| b.theta.clone())
            .unwrap_or_default(),
    };
    let latent = base_summary.map(|b| (b.focal_mean, b.focal_variance));
    Ok((rows, trace, detail, latent))
}

/// The report row of an IRT test, with the effect sizes.
fn irt_row(
    item: &str,
    method: DifMethod,
    test: &IrtTest,
    settings: &DifSettings,
    item_sd: Option<f64>,
) -> DifRow {
    let mut out = row(item, method);
    out.statistic = test.statistic;
    out.df = test.df;
    out.p = test.p;
    out.note = test.note.clone();
    out.effect_name = "expected_score_difference".into();
    if let Some([reference, focal]) = &test.parameters {
        let (mean, variance) = test.focal_latent;
        let difference = curve_difference(reference, focal, mean, variance);
        out.effect = difference.expected_score_difference;
        let significant = test.p < settings.alpha;
        let binary = reference.n_categories() == 2;
        out.class = if out.effect.is_nan() || test.p.is_nan() {
            "NA".into()
        } else if binary {
            let size = out.effect.abs();
            if !significant || size <= 0.05 {
                "A".into()
            } else if size <= 0.10 {
                "B".into()
            } else {
                "C".into()
            }
        } else {
            let ratio = out.effect / item_sd.unwrap_or(f64::NAN);
            if !significant || ratio.abs() <= 0.17 {
                "AA".into()
            } else if ratio.abs() <= 0.25 {
                "BB".into()
            } else {
                "CC".into()
            }
        };
        out.details
            .push(("signed_area".into(), difference.signed_area));
        out.details
            .push(("unsigned_area".into(), difference.unsigned_area));
        for (prefix, item) in [("reference", reference), ("focal", focal)] {
            let form = item.irt(1.0);
            if let Some(a) = form.a {
                out.details.push((format!("a_{prefix}"), a));
            }
            for (k, b) in form.b.iter().enumerate() {
                let name = if form.b.len() == 1 {
                    format!("b_{prefix}")
                } else {
                    format!("b{}_{prefix}", k + 1)
                };
                out.details.push((name, *b));
            }
            if let Some(c) = form.c {
                out.details.push((format!("c_{prefix}"), c));
            }
        }
        out.details.push(("focal_mean".into(), mean));
        out.details.push(("focal_variance".into(), variance));
    }
    out
}

/// Per item: flagged by which methods and how large.
fn summarise(items: &[String], rows: &[DifRow], chosen: Option<&[bool]>) -> Vec<DifItemSummary> {
    let mut by_item: HashMap<&str, Vec<&DifRow>> = HashMap::new();
    for r in rows {
        by_item.entry(r.item.as_str()).or_default().push(r);
    }
    items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            let item_rows = by_item.get(item.as_str()).cloned().unwrap_or_default();
            let flagged_by: Vec<DifMethod> = item_rows
                .iter()
                .filter(|r| r.flagged)
                .map(|r| r.method)
                .collect();
            let size = item_rows
                .iter()
                .map(|r| DifSize::of_class(&r.class))
                .max()
                .unwrap_or(DifSize::Negligible);
            DifItemSummary {
                item: item.clone(),
                flagged: !flagged_by.is_empty(),
                flagged_by,
                size,
                anchor: chosen.is_some_and(|c| c.get(j).copied().unwrap_or(false)),
            }
        })
        .collect()
}

/// One group's fitted curve and observed proportions for the item overlay plot.
#[derive(Clone, Debug, PartialEq)]
pub struct OverlayGroup {
    /// The group's value.
    pub group: String,
    /// The fitted expected item score (P of the higher category for right/wrong items) over θ.
    pub curve: Vec<[f64; 2]>,
    /// Observed mean item score by θ group: (mean θ of the group's persons in the θ group,
    /// mean item score, persons).
    pub observed: Vec<(f64, f64, usize)>,
}

/// The data of the per-item overlay plot: each group's fitted curve and observed proportions.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemOverlay {
    /// Item name.
    pub item: String,
    /// Highest item score (1 for right/wrong items).
    pub max_score: f64,
    /// Reference group first.
    pub groups: Vec<OverlayGroup>,
}

/// The overlay data of item `item` from a report with IRT results: the groups' curves from the
/// model where the item is free, observed mean scores in ten θ groups (deciles of the persons'
/// EAP θ under the base model, both groups pooled; points with fewer than 5 persons left out).
/// `None` when the report has no IRT results for the item.
pub fn item_overlay(
    report: &DifReport,
    responses: &ResponseMatrix,
    item: &str,
) -> Option<ItemOverlay> {
    let j = responses.item_names().iter().position(|n| n == item)?;
    let detail = report.irt.as_ref()?;
    let pair = detail.group_parameters.get(j)?.as_ref()?;
    Some(overlay_from(
        responses,
        j,
        pair,
        &detail.person_theta,
        &report.person_group,
        [&report.groups.reference, &report.groups.focal],
    ))
}

fn overlay_from(
    responses: &ResponseMatrix,
    j: usize,
    pair: &[ItemParameters; 2],
    theta: &[Option<(f64, f64)>],
    person_group: &[Option<bool>],
    names: [&str; 2],
) -> ItemOverlay {
    let grid = crate::plots::theta_grid([-4.0, 4.0]);
    let mut answered: Vec<(f64, bool, f64)> = Vec::new();
    for p in 0..responses.n_persons() {
        let (Some(Some((t, _))), Some(Some(focal))) = (theta.get(p), person_group.get(p)) else {
            continue;
        };
        if let Some(code) = responses.response(p, j) {
            answered.push((*t, *focal, code as f64));
        }
    }
    let mut pooled: Vec<f64> = answered.iter().map(|a| a.0).collect();
    pooled.sort_by(f64::total_cmp);
    let bins = 10usize;
    let edges: Vec<f64> = (1..bins)
        .map(|b| {
            pooled
                .get(b * pooled.len() / bins)
                .copied()
                .unwrap_or(f64::INFINITY)
        })
        .collect();
    let bin_of = |t: f64| edges.iter().filter(|&&e| t >= e).count();
    let groups = (0..2)
        .map(|g| {
            let item = &pair[g];
            let mut sums = vec![(0.0, 0.0, 0usize); bins];
            for &(t, focal, x) in &answered {
                if usize::from(focal) != g {
                    continue;
                }
                let b = bin_of(t).min(bins - 1);
                sums[b].0 += t;
                sums[b].1 += x;
                sums[b].2 += 1;
            }
            OverlayGroup {
                group: names[g].to_string(),
                curve: grid.iter().map(|&t| [t, item.expected_score(t)]).collect(),
                observed: sums
                    .into_iter()
                    .filter(|s| s.2 >= 5)
                    .map(|(t, x, n)| (t / n as f64, x / n as f64, n))
                    .collect(),
            }
        })
        .collect();
    ItemOverlay {
        item: responses.item_names()[j].clone(),
        max_score: (responses.n_categories(j).max(2) - 1) as f64,
        groups,
    }
}

/// The overlay data of item `item` without a DIF report: fits the model with the item free
/// per group and every other item equal (focal mean and variance estimated) and uses its curves
/// and EAP θs. For the app's plot when only score-based methods were run.
pub fn fit_item_overlay(
    responses: &ResponseMatrix,
    groups: &Groups,
    settings: &FitSettings,
    item: &str,
    cancel: &AtomicBool,
) -> Result<ItemOverlay, PredictionError> {
    let j = responses
        .item_names()
        .iter()
        .position(|n| n == item)
        .ok_or_else(|| PredictionError::ColumnNotFound {
            column: item.to_string(),
            available: super::responses::shorten_list(responses.item_names()),
        })?;
    if groups.len() != 2 {
        return Err(PredictionError::InvalidSetting(
            "the overlay compares two groups".into(),
        ));
    }
    let mut cache = FitCache::new(responses, groups, settings);
    let mut free = vec![false; responses.n_items()];
    free[j] = true;
    let base = irt::base_fit(&mut cache, &free, true, cancel)?.ok_or_else(|| {
        PredictionError::Data(format!(
            "the model with {} free could not be fitted",
            crate::text::quoted(item)
        ))
    })?;
    let (pair, _) = irt::parameters_in(&mut cache, &free, item, cancel)?.ok_or_else(|| {
        PredictionError::Data(format!(
            "item {} has no fitted curves",
            crate::text::quoted(item)
        ))
    })?;
    let person_group: Vec<Option<bool>> = groups
        .membership
        .iter()
        .map(|g| g.map(|g| g == 1))
        .collect();
    Ok(overlay_from(
        responses,
        j,
        &pair,
        &base.theta,
        &person_group,
        [&groups.names[0], &groups.names[1]],
    ))
}

/// The DIF table (`dif.csv`): one row per method and item with `item, method, statistic, df,
/// p, p_adjusted, effect, effect_name, class, flagged, note`, then every detail any row has
/// (empty where a row has none): α_MH, SE of Δ, areas, the groups' parameters…
pub fn dif_table(report: &DifReport) -> Result<polars::prelude::DataFrame, PredictionError> {
    use polars::prelude::{Column, DataFrame};
    let rows = &report.rows;
    let mut detail_names: Vec<String> = Vec::new();
    let mut label_names: Vec<String> = Vec::new();
    for r in rows {
        for (name, _) in &r.details {
            if !detail_names.contains(name) {
                detail_names.push(name.clone());
            }
        }
        for (name, _) in &r.labels {
            if !label_names.contains(name) {
                label_names.push(name.clone());
            }
        }
    }
    let finite = |v: f64| (!v.is_nan()).then_some(v);
    let mut columns = vec![
        Column::new(
            "item".into(),
            rows.iter().map(|r| r.item.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "method".into(),
            rows.iter().map(|r| r.method.name()).collect::<Vec<_>>(),
        ),
        Column::new(
            "statistic".into(),
            rows.iter().map(|r| finite(r.statistic)).collect::<Vec<_>>(),
        ),
        Column::new(
            "df".into(),
            rows.iter().map(|r| finite(r.df)).collect::<Vec<_>>(),
        ),
        Column::new(
            "p".into(),
            rows.iter().map(|r| finite(r.p)).collect::<Vec<_>>(),
        ),
        Column::new(
            "p_adjusted".into(),
            rows.iter()
                .map(|r| finite(r.p_adjusted))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "effect".into(),
            rows.iter().map(|r| finite(r.effect)).collect::<Vec<_>>(),
        ),
        Column::new(
            "effect_name".into(),
            rows.iter()
                .map(|r| r.effect_name.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "class".into(),
            rows.iter().map(|r| r.class.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "flagged".into(),
            rows.iter().map(|r| r.flagged).collect::<Vec<_>>(),
        ),
        Column::new(
            "note".into(),
            rows.iter().map(|r| r.note.as_deref()).collect::<Vec<_>>(),
        ),
    ];
    for name in &label_names {
        columns.push(Column::new(
            name.as_str().into(),
            rows.iter()
                .map(|r| {
                    r.labels
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str())
                })
                .collect::<Vec<_>>(),
        ));
    }
    for name in &detail_names {
        columns.push(Column::new(
            name.as_str().into(),
            rows.iter()
                .map(|r| {
                    r.details
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, v)| finite(*v))
                })
                .collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(rows.len(), columns).map_err(|e| PredictionError::Data(e.to_string()))
}
