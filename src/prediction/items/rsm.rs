//! Andrich's (1978) rating scale model: a partial credit model whose step difficulties are an
//! item location plus thresholds shared by every rating-scale item of the test,
//! `b_jk = δ_j + τ_k`. On the logit scale, `η_k = a·k·θ − k·ℓ − Σ_{v ≤ k} τ_v` with the slope `a`
//! shared by the Rasch family and the thresholds centred (`Σ_v τ_v = 0`, so the last threshold
//! is minus the sum of the others). Parameters `(a, ℓ, τ_1, …, τ_{K−2})`, with `a` and the `τ`s
//! shared between items. IRT form: as the partial credit model's, `b_k = (ℓ + τ_k) / a`.

use super::divide_by_total;
use super::{IrtForm, ItemModel, ItemType, LinearForm, ParameterKind, ParameterSpec};

/// The rating scale model.
#[derive(Clone, Copy, Debug)]
pub struct RatingScale;

const MAX: usize = crate::prediction::responses::MAX_CATEGORIES;

/// Categories of a parameter vector `(a, ℓ, τ_1..τ_{K−2})`: K = len.
#[inline]
fn categories_of(params: &[f64]) -> usize {
    params.len()
}

/// Thresholds τ_1..τ_{K−1} (centred) into `tau[1..K]`.
#[inline]
fn thresholds(params: &[f64], tau: &mut [f64]) {
    let k = categories_of(params);
    let mut sum = 0.0;
    for v in 1..k - 1 {
        tau[v] = params[1 + v];
        sum += tau[v];
    }
    if k >= 2 {
        tau[k - 1] = -sum;
    }
}

#[inline]
fn slopes_intercepts(params: &[f64], s: &mut [f64], t: &mut [f64]) {
    let k = categories_of(params);
    let mut tau = [0.0; MAX];
    thresholds(params, &mut tau);
    let mut cumulative = 0.0;
    for c in 0..k {
        if c >= 1 {
            cumulative += tau[c];
        }
        s[c] = params[0] * c as f64;
        t[c] = -(c as f64) * params[1] - cumulative;
    }
}

/// The shared-threshold key for items with `k` categories (items sharing thresholds must have
/// the same number of categories).
fn threshold_key(k: usize) -> &'static str {
    const KEYS: [&str; 12] = [
        "rsm thresholds (2 categories)",
        "rsm thresholds (2 categories)",
        "rsm thresholds (2 categories)",
        "rsm thresholds (3 categories)",
        "rsm thresholds (4 categories)",
        "rsm thresholds (5 categories)",
        "rsm thresholds (6 categories)",
        "rsm thresholds (7 categories)",
        "rsm thresholds (8 categories)",
        "rsm thresholds (9 categories)",
        "rsm thresholds (10 categories)",
        "rsm thresholds (11 categories)",
    ];
    KEYS.get(k)
        .copied()
        .unwrap_or("rsm thresholds (many categories)")
}

impl ItemModel for RatingScale {
    fn item_type(&self) -> ItemType {
        ItemType::Rsm
    }

    fn check_categories(&self, n_categories: usize) -> Result<(), String> {
        if (2..=11).contains(&n_categories) {
            Ok(())
        } else {
            Err(format!(
                "the rating scale model takes 2 to 11 categories, this item has {n_categories}"
            ))
        }
    }

    fn parameters(&self, n_categories: usize) -> Vec<ParameterSpec> {
        let mut specs = vec![
            ParameterSpec::shared("a", ParameterKind::Slope, "rasch scale"),
            ParameterSpec::own("location", ParameterKind::Intercept),
        ];
        for v in 1..n_categories.saturating_sub(1) {
            specs.push(ParameterSpec::shared(
                format!("tau{v}"),
                ParameterKind::Intercept,
                threshold_key(n_categories),
            ));
        }
        specs
    }

    fn probabilities(&self, params: &[f64], theta: f64, p: &mut [f64]) {
        let k = categories_of(params);
        let (mut s, mut t) = ([0.0; MAX], [0.0; MAX]);
        slopes_intercepts(params, &mut s, &mut t);
        divide_by_total::probabilities(&s[..k], &t[..k], theta, &mut p[..k]);
    }

    fn parameter_derivatives(&self, params: &[f64], theta: f64, p: &mut [f64], dp: &mut [f64]) {
        let k = categories_of(params);
        let form = self.linear_form(params, k).unwrap_or_default();
        divide_by_total::parameter_derivatives(&form, params.len(), theta, p, dp);
    }

    fn theta_derivatives(
        &self,
        params: &[f64],
        theta: f64,
        p: &mut [f64],
        d1: &mut [f64],
        d2: &mut [f64],
    ) {
        let k = categories_of(params);
        let (mut s, mut t) = ([0.0; MAX], [0.0; MAX]);
        slopes_intercepts(params, &mut s, &mut t);
        divide_by_total::theta_derivatives(&s[..k], &t[..k], theta, p, d1, d2);
    }

    fn linear_form(&self, params: &[f64], n_categories: usize) -> Option<LinearForm> {
        let k = n_categories;
        let n = params.len();
        let mut form = LinearForm {
            s: vec![0.0; k],
            t: vec![0.0; k],
            ds: vec![0.0; k * n],
            dt: vec![0.0; k * n],
            canonical: true,
        };
        slopes_intercepts(params, &mut form.s, &mut form.t);
        for c in 0..k {
            form.ds[c * n] = c as f64;
            form.dt[c * n + 1] = -(c as f64);
            // t_c = … − Σ_{v ≤ c} τ_v; the last τ is −Σ of the free ones, so the last category's
            // cumulative sum is 0.
            if c < k - 1 {
                for v in 1..=c {
                    form.dt[c * n + 1 + v] = -1.0;
                }
            }
        }
        Some(form)
    }

    fn start_values(&self, proportions: &[f64]) -> Vec<f64> {
        // As the partial credit start, split into a location (mean step) and centred thresholds.
        let k = proportions.len();
        let mut steps = Vec::with_capacity(k - 1);
        for c in 1..k {
            let ratio = proportions[c].max(0.005) / proportions[c - 1].max(0.005);
            steps.push(-ratio.ln() * 1.16);
        }
        let location = steps.iter().sum::<f64>() / steps.len() as f64;
        let mut start = vec![1.0, location];
        for step in steps.iter().take(k.saturating_sub(2)) {
            start.push(step - location);
        }
        start
    }

    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64> {
        let mut out = params.to_vec();
        out[0] = params[0] / sd;
        out[1] = params[1] + params[0] * mean / sd;
        out
    }

    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm {
        let k = categories_of(params);
        let a = params[0];
        let mut tau = [0.0; MAX];
        thresholds(params, &mut tau);
        let (mut s, mut t) = ([0.0; MAX], [0.0; MAX]);
        slopes_intercepts(params, &mut s, &mut t);
        IrtForm {
            a: Some(a / scaling),
            b: (1..k).map(|c| (params[1] + tau[c]) / a).collect(),
            d: t[1..k].to_vec(),
            ..IrtForm::default()
        }
    }

    fn parameters_from_irt(
        &self,
        form: &IrtForm,
        n_categories: usize,
        scaling: f64,
    ) -> Result<Vec<f64>, String> {
        let k = n_categories;
        let a = form.a.unwrap_or(1.0) * scaling;
        let steps: Vec<f64> = if form.b.len() == k - 1 {
            form.b.iter().map(|b| a * b).collect()
        } else if form.d.len() == k - 1 {
            // d_c = −Σ_{v ≤ c} step_v.
            let mut previous = 0.0;
            form.d
                .iter()
                .map(|d| {
                    let step = previous - d;
                    previous = *d;
                    step
                })
                .collect()
        } else {
            return Err(format!(
                "a rating scale item with {k} categories needs {} step difficulties b",
                k - 1
            ));
        };
        let location = steps.iter().sum::<f64>() / steps.len() as f64;
        let mut params = vec![a, location];
        for step in steps.iter().take(k.saturating_sub(2)) {
            params.push(step - location);
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::items::checks::check_model;

    #[test]
    fn derivatives_match_finite_differences() {
        check_model(&RatingScale, &[1.0, 0.3, -0.8, 0.2], 4);
        check_model(&RatingScale, &[1.2, -0.5], 2);
    }

    #[test]
    fn equals_partial_credit_with_shifted_steps() {
        let params = [1.0, 0.3, -0.8, 0.2];
        let form = RatingScale.irt_form(&params, 1.0);
        let pcm = super::super::gpcm::PCM
            .parameters_from_irt(&form, 4, 1.0)
            .unwrap();
        for theta in [-1.0, 0.2, 1.4] {
            let (mut p, mut q) = ([0.0; 4], [0.0; 4]);
            RatingScale.probabilities(&params, theta, &mut p);
            super::super::gpcm::PCM.probabilities(&pcm, theta, &mut q);
            for c in 0..4 {
                assert!((p[c] - q[c]).abs() < 1e-12);
            }
        }
    }
}
