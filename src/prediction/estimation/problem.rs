//! A calibration problem as the EM loop sees it: the parameter layout, each group's response
//! patterns, and the quadrature; building the E-step tables at a parameter vector and running
//! the E-step for every group.

use super::estep::{EStep, EStepInput, ItemTable, e_step};
use super::layout::ParameterLayout;
use crate::prediction::quadrature::Quadrature;
use crate::prediction::responses::Patterns;

/// One group's data.
pub(crate) struct Group {
    /// Collapsed response patterns.
    pub patterns: Patterns,
    /// Per item and category, the number of responses (weighted by pattern counts).
    pub category_counts: Vec<Vec<f64>>,
}

impl Group {
    /// A group from its patterns, with `categories[j]` categories per item.
    pub fn new(patterns: Patterns, categories: &[usize]) -> Group {
        let mut category_counts: Vec<Vec<f64>> = categories.iter().map(|&k| vec![0.0; k]).collect();
        for p in 0..patterns.len() {
            let count = patterns.counts[p];
            for (j, code) in patterns.responses(p) {
                if let Some(slot) = category_counts[j].get_mut(code as usize) {
                    *slot += count;
                }
            }
        }
        Group {
            patterns,
            category_counts,
        }
    }
}

/// Everything EM works on.
pub(crate) struct Problem {
    pub layout: ParameterLayout,
    pub groups: Vec<Group>,
    pub quadrature: Quadrature,
}

impl Problem {
    /// Nodes of the quadrature.
    pub fn nodes(&self) -> &[f64] {
        &self.quadrature.nodes
    }

    /// Log prior weights of group g's latent distribution on the fixed grid: N(μ, σ²) densities
    /// renormalised to sum to one.
    pub fn log_prior(&self, g: usize, psi: &[f64]) -> Vec<f64> {
        let (mean, variance) = self.layout.latent(g, psi);
        normal_log_weights(&self.quadrature.nodes, mean, variance)
    }

    /// The E-step tables of every item in group g at ψ.
    pub fn tables(&self, g: usize, psi: &[f64]) -> Vec<ItemTable> {
        let nodes = self.nodes();
        self.layout
            .items
            .iter()
            .enumerate()
            .map(|(j, item)| {
                let params = self.layout.item_parameters(g, j, psi);
                match item.model.linear_form(&params, item.n_categories) {
                    Some(form) => ItemTable::linear(&form, nodes),
                    None => ItemTable::table(item.n_categories, nodes, &|theta, p| {
                        item.model.probabilities(&params, theta, p)
                    }),
                }
            })
            .collect()
    }

    /// The E-step of every group at ψ.
    pub fn e_step(&self, psi: &[f64], want_moments: bool) -> Vec<EStep> {
        (0..self.groups.len())
            .map(|g| {
                let tables = self.tables(g, psi);
                let log_prior = self.log_prior(g, psi);
                let input = EStepInput {
                    patterns: &self.groups[g].patterns,
                    nodes: self.nodes(),
                    log_prior: &log_prior,
                    tables: &tables,
                    category_counts: &self.groups[g].category_counts,
                };
                e_step(&input, want_moments)
            })
            .collect()
    }
}

/// `log π_q` with `π_q ∝ exp(−(θ_q − μ)² / 2σ²)`, normalised to sum to one.
pub(crate) fn normal_log_weights(nodes: &[f64], mean: f64, variance: f64) -> Vec<f64> {
    let log_density: Vec<f64> = nodes
        .iter()
        .map(|t| -0.5 * (t - mean) * (t - mean) / variance)
        .collect();
    let max = log_density
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = log_density.iter().map(|l| (l - max).exp()).sum();
    let log_total = max + total.ln();
    log_density.iter().map(|l| l - log_total).collect()
}
