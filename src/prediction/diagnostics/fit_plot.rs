//! The data of an item-fit plot (mirt's `itemfit(…, empirical.plot = )`): the observed
//! proportion of each category in groups of persons, with 95 % Wilson (1927) intervals, beside
//! the fitted trace lines — in θ groups (persons sorted by EAP θ̂ and cut into equal groups,
//! at each group's mean θ̂) or in sum-score groups (the persons who answered every item, at
//! each score's summed-score EAP θ, with the model's `P(X = c | S = s)` as used by S-X²).

use serde::{Deserialize, Serialize};

use super::context::{Grid, item_tables};
use super::item_fit::{group_sizes, theta_order};
use super::reliability::{lord_wingersky, sum_score_table};
use super::{Diagnostics, context};
use crate::prediction::scoring::align_items;
use crate::prediction::{Calibration, PredictionError, ResponseMatrix};

/// How persons are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitPlotGrouping {
    /// Equal groups by EAP θ̂ (as many as Q1's groups).
    #[default]
    Theta,
    /// One group per sum score (persons who answered every item).
    SumScore,
}

/// One group of persons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitPlotGroup {
    /// Where the group sits on θ: its mean θ̂, or its score's summed-score EAP.
    pub x: f64,
    /// The sum score (sum-score groups).
    pub sum_score: Option<usize>,
    /// Persons in the group who answered the item.
    pub persons: usize,
    /// Observed proportion of each category.
    pub observed: Vec<f64>,
    /// 95 % Wilson interval of each proportion.
    pub interval: Vec<[f64; 2]>,
    /// The model's proportion: the trace line at the group's mean θ̂, or `P(X = c | S = s)`.
    pub expected: Vec<f64>,
}

/// An item-fit plot's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemFitPlot {
    /// Item name.
    pub item: String,
    /// Its categories' values.
    pub categories: Vec<String>,
    /// How persons were grouped.
    pub grouping: FitPlotGrouping,
    /// The groups, along θ.
    pub groups: Vec<FitPlotGroup>,
    /// θ values of the fitted curves.
    pub theta: Vec<f64>,
    /// The fitted trace line of each category over `theta`.
    pub curves: Vec<Vec<f64>>,
}

/// The 95 % Wilson score interval of a proportion `p` of `n`.
pub fn wilson_interval(p: f64, n: f64) -> [f64; 2] {
    if n <= 0.0 {
        return [f64::NAN, f64::NAN];
    }
    let z = 1.959_963_984_540_054;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

fn group(x: f64, sum_score: Option<usize>, counts: &[f64], expected: Vec<f64>) -> FitPlotGroup {
    let total: f64 = counts.iter().sum();
    let observed: Vec<f64> = counts.iter().map(|c| c / total).collect();
    FitPlotGroup {
        x,
        sum_score,
        persons: total as usize,
        interval: observed
            .iter()
            .map(|&p| wilson_interval(p, total))
            .collect(),
        observed,
        expected,
    }
}

/// The plot data of item `item` (its index among the calibrated items) of `calibration`, with
/// the θ̂ of `diagnostics`.
pub fn item_fit_plot(
    responses: &ResponseMatrix,
    calibration: &Calibration,
    diagnostics: &Diagnostics,
    item: usize,
    grouping: FitPlotGrouping,
) -> Result<ItemFitPlot, PredictionError> {
    let items = calibration.item_parameters();
    let Some(parameters) = items.get(item) else {
        return Err(PredictionError::Data(format!(
            "item number {} does not exist; the fit has {} items",
            item + 1,
            items.len()
        )));
    };
    let aligned = align_items(responses, &items)?;
    let k = parameters.n_categories();
    let (mean, sd) = (calibration.latent_mean, calibration.theta_scale());
    let theta: Vec<f64> = (0..=160)
        .map(|i| mean + sd * (-4.0 + 0.05 * i as f64))
        .collect();
    let mut curves = vec![Vec::with_capacity(theta.len()); k];
    let mut p = vec![0.0; k];
    for &t in &theta {
        parameters.probabilities_into(t, &mut p);
        for c in 0..k {
            curves[c].push(p[c]);
        }
    }
    let mut groups = Vec::new();
    match grouping {
        FitPlotGrouping::Theta => {
            let thetas: Vec<Option<f64>> = diagnostics
                .person_fit
                .iter()
                .map(|p| p.map(|p| p.theta))
                .collect();
            let order = theta_order(&thetas);
            let answered: Vec<(f64, usize)> = order
                .iter()
                .filter_map(|&(person, t)| {
                    aligned
                        .response(person, item)
                        .map(|c| (t, (c as usize).min(k - 1)))
                })
                .collect();
            let mut at = 0;
            for size in group_sizes(answered.len(), diagnostics.options.q1_groups) {
                let members = &answered[at..at + size];
                at += size;
                if members.is_empty() {
                    continue;
                }
                let mut counts = vec![0.0; k];
                let mut mean_theta = 0.0;
                for &(t, c) in members {
                    counts[c] += 1.0;
                    mean_theta += t;
                }
                mean_theta /= size as f64;
                parameters.probabilities_into(mean_theta, &mut p);
                groups.push(group(mean_theta, None, &counts, p.clone()));
            }
        }
        FitPlotGrouping::SumScore => {
            let n = items.len();
            let max: usize = items.iter().map(|i| i.n_categories() - 1).sum();
            let mut counts = vec![vec![0.0; k]; max + 1];
            let mut persons_at = vec![0.0; max + 1];
            for person in 0..aligned.n_persons() {
                let mut answered = 0;
                let mut score = 0usize;
                let mut own = None;
                for (j, c) in aligned.responses_of(person) {
                    answered += 1;
                    score += c as usize;
                    if j == item {
                        own = Some((c as usize).min(k - 1));
                    }
                }
                if answered == n
                    && let Some(c) = own
                {
                    counts[score][c] += 1.0;
                    persons_at[score] += 1.0;
                }
            }
            let eap_grid = Grid::scoring(calibration, diagnostics.options.eap_points);
            let eap = sum_score_table(&item_tables(&items, &eap_grid), &eap_grid, &persons_at);
            let grid = Grid::estimation(calibration);
            let tables = context::item_tables(&items, &grid);
            let q = grid.len();
            let all: Vec<_> = tables.iter().collect();
            let l_all = lord_wingersky(&all, q);
            let rest: Vec<_> = (0..n).filter(|&j| j != item).map(|j| &tables[j]).collect();
            let l_rest = lord_wingersky(&rest, q);
            let rest_max = max - (k - 1);
            for s in 0..=max {
                if persons_at[s] == 0.0 {
                    continue;
                }
                let total: f64 = (0..q).map(|x| l_all[s * q + x] * grid.weights[x]).sum();
                let expected: Vec<f64> = (0..k)
                    .map(|c| {
                        if c > s || s - c > rest_max || total <= 0.0 {
                            return 0.0;
                        }
                        let pc = tables[item].category(c);
                        (0..q)
                            .map(|x| l_rest[(s - c) * q + x] * pc[x] * grid.weights[x])
                            .sum::<f64>()
                            / total
                    })
                    .collect();
                groups.push(group(eap[s].theta, Some(s), &counts[s], expected));
            }
        }
    }
    Ok(ItemFitPlot {
        item: parameters.item.clone(),
        categories: parameters.categories.clone(),
        grouping,
        groups,
        theta,
        curves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_the_formula() {
        // p = 0.5 of 100: 0.5 ± 0.0960 (approximately, Wilson).
        let [lo, hi] = wilson_interval(0.5, 100.0);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
        let [lo, _] = wilson_interval(0.0, 20.0);
        assert_eq!(lo, 0.0);
    }
}
