//! What every fit statistic shares: the quadrature grids (the calibration's own, and the finer
//! one mirt's `fscores` uses for EAP scores), each item's category probabilities and score
//! moments at the nodes, and the free parameters of the calibration (which the limited
//! information statistics need as the columns of their Jacobian, and every statistic's degrees
//! of freedom as a count).

use std::collections::HashMap;

use crate::prediction::Calibration;
use crate::prediction::estimation::Guessing;
use crate::prediction::items::{ParameterKind, Sharing};
use crate::prediction::model::ItemParameters;
use crate::prediction::quadrature::Quadrature;

/// Nodes and weights of a latent distribution on the reported θ metric.
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    /// θ_q.
    pub nodes: Vec<f64>,
    /// Weights summing to one.
    pub weights: Vec<f64>,
}

impl Grid {
    /// The grid the calibration integrated over: with anchored items, fixed nodes on
    /// `[−L, L]` weighted by the estimated N(μ, σ²) (as mirt); otherwise `μ + σ·z_q` with
    /// standard normal weights on `z` (the Rasch family's scale is a slope on `z`).
    pub fn estimation(calibration: &Calibration) -> Grid {
        let settings = &calibration.settings;
        let standard = Quadrature::normal(settings.quadrature_points, settings.theta_limit);
        if calibration.items.iter().any(|i| i.anchored) {
            let log = crate::prediction::estimation::problem::normal_log_weights(
                &standard.nodes,
                calibration.latent_mean,
                calibration.latent_variance,
            );
            Grid {
                nodes: standard.nodes,
                weights: log.iter().map(|l| l.exp()).collect(),
            }
        } else {
            Grid::shifted(
                &standard,
                calibration.latent_mean,
                calibration.theta_scale(),
            )
        }
    }

    /// `points` nodes `μ + σ·z` with standard normal weights on `z ∈ [−L, L]`: the grid of
    /// EAP scoring.
    pub fn scoring(calibration: &Calibration, points: usize) -> Grid {
        let standard = Quadrature::normal(points, calibration.settings.theta_limit);
        Grid::shifted(
            &standard,
            calibration.latent_mean,
            calibration.theta_scale(),
        )
    }

    fn shifted(standard: &Quadrature, mean: f64, sd: f64) -> Grid {
        Grid {
            nodes: standard.nodes.iter().map(|z| mean + sd * z).collect(),
            weights: standard.weights.clone(),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// One item's trace lines at the nodes of a grid.
#[derive(Clone, Debug)]
pub(crate) struct ItemTable {
    /// Categories K.
    pub n_categories: usize,
    /// `P_k(θ_q)`, row-major K × Q.
    pub p: Vec<f64>,
    /// `E[X | θ_q] = Σ k P_k`.
    pub expected: Vec<f64>,
    /// `E[X² | θ_q]`.
    pub second: Vec<f64>,
}

impl ItemTable {
    /// The trace lines of `item` on `grid`.
    pub fn new(item: &ItemParameters, grid: &Grid) -> ItemTable {
        let k = item.n_categories();
        let q = grid.len();
        let mut p = vec![0.0; k * q];
        let mut expected = vec![0.0; q];
        let mut second = vec![0.0; q];
        let mut row = vec![0.0; k];
        for (at, &theta) in grid.nodes.iter().enumerate() {
            item.probabilities_into(theta, &mut row);
            for c in 0..k {
                p[c * q + at] = row[c];
                expected[at] += c as f64 * row[c];
                second[at] += (c * c) as f64 * row[c];
            }
        }
        ItemTable {
            n_categories: k,
            p,
            expected,
            second,
        }
    }

    /// `P_c(θ_q)` over the nodes.
    pub fn category(&self, c: usize) -> &[f64] {
        let q = self.expected.len();
        &self.p[c * q..(c + 1) * q]
    }
}

/// The trace lines of every item on `grid`.
pub(crate) fn item_tables(items: &[ItemParameters], grid: &Grid) -> Vec<ItemTable> {
    items
        .iter()
        .map(|item| ItemTable::new(item, grid))
        .collect()
}

/// The free parameters of a calibration, as the statistics need them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FreeStructure {
    /// One entry per free item parameter (a parameter shared by items is one entry listing
    /// every `(item, parameter index)` it stands for).
    pub columns: Vec<Vec<(usize, usize)>>,
    /// Whether the latent mean and variance were estimated (calibration against anchors).
    pub latent_free: bool,
    /// Per item: its free item parameters (own and shared), not counting a Rasch-family scale
    /// that sets the θ metric — mirt's `sum(pars[[i]]@est)`.
    pub item_counts: Vec<usize>,
    /// Latent parameters estimated: the Rasch family's scale (the latent variance on the
    /// reported metric), or the mean and variance with anchors.
    pub latent_count: usize,
    /// All free parameters.
    pub total: usize,
}

/// The free parameters of `calibration`, rebuilt from its settings and items exactly as the
/// calibration laid them out.
pub(crate) fn free_structure(calibration: &Calibration) -> FreeStructure {
    let items = &calibration.items;
    let any_anchor = items.iter().any(|i| i.anchored);
    let all_anchored = !items.is_empty() && items.iter().all(|i| i.anchored);
    let fixed_guessing = matches!(calibration.settings.guessing, Guessing::Fixed { .. });
    let mut columns: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut shared: HashMap<(&'static str, usize), usize> = HashMap::new();
    let mut item_counts = vec![0usize; items.len()];
    let mut metric_column = None;
    for (j, item) in items.iter().enumerate() {
        if item.anchored {
            continue;
        }
        let specs = item.model.model().parameters(item.categories.len());
        for (m, spec) in specs.iter().enumerate() {
            if fixed_guessing && spec.kind == ParameterKind::LowerAsymptote {
                continue;
            }
            if any_anchor && item.model.is_rasch_family() && spec.kind == ParameterKind::Slope {
                continue;
            }
            match spec.sharing {
                Sharing::PerItem => {
                    columns.push(vec![(j, m)]);
                    item_counts[j] += 1;
                }
                Sharing::Shared(key) => {
                    let index = *shared.entry((key, m)).or_insert_with(|| {
                        columns.push(Vec::new());
                        columns.len() - 1
                    });
                    columns[index].push((j, m));
                    if key == "rasch scale" && !any_anchor {
                        metric_column = Some(index);
                    } else {
                        item_counts[j] += 1;
                    }
                }
            }
        }
    }
    let latent_free = any_anchor && !all_anchored;
    let latent_count = usize::from(metric_column.is_some()) + 2 * usize::from(latent_free);
    let total = columns.len() + 2 * usize::from(latent_free);
    FreeStructure {
        columns,
        latent_free,
        item_counts,
        latent_count,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_weights_sum_to_one() {
        let q = Quadrature::normal(61, 6.0);
        let grid = Grid::shifted(&q, 0.5, 2.0);
        assert!((grid.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((grid.nodes[0] - (0.5 - 12.0)).abs() < 1e-12);
    }
}
