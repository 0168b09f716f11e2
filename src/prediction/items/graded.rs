//! Samejima's (1969) graded response model for ordered categories `0..K−1`:
//! `P(X ≥ k | θ) = logistic(a·θ + d_k)` for `k = 1..K−1`, with `d_1 > d_2 > … > d_{K−1}`, and
//! `P(X = k) = P(X ≥ k) − P(X ≥ k + 1)`. Parameters `(a, d_1, …, d_{K−1})` as mirt's `graded`;
//! IRT form `b_k = −d_k / a`. The ordering of the intercepts is kept by the M-step, which never
//! accepts a step that makes a category probability non-positive.

use super::{IrtForm, ItemModel, ItemType, ParameterKind, ParameterSpec, logistic};

/// The graded response model.
#[derive(Clone, Copy, Debug)]
pub struct Graded;

/// `P(X ≥ k)` for k = 0..=K (1 and 0 at the ends) into `star`.
#[inline]
fn cumulative(params: &[f64], theta: f64, star: &mut [f64]) {
    let k = params.len();
    star[0] = 1.0;
    for c in 1..k {
        star[c] = logistic(params[0] * theta + params[c]);
    }
    star[k] = 0.0;
}

impl ItemModel for Graded {
    fn item_type(&self) -> ItemType {
        ItemType::Graded
    }

    fn check_categories(&self, n_categories: usize) -> Result<(), String> {
        if n_categories >= 2 {
            Ok(())
        } else {
            Err("the graded model needs at least 2 categories".into())
        }
    }

    fn parameters(&self, n_categories: usize) -> Vec<ParameterSpec> {
        let mut specs = vec![ParameterSpec::own("a", ParameterKind::Slope)];
        for k in 1..n_categories {
            specs.push(ParameterSpec::own(
                format!("d{k}"),
                ParameterKind::Intercept,
            ));
        }
        specs
    }

    fn probabilities(&self, params: &[f64], theta: f64, p: &mut [f64]) {
        let k = params.len();
        let mut star = [0.0; 101];
        cumulative(params, theta, &mut star[..=k]);
        for c in 0..k {
            p[c] = (star[c] - star[c + 1]).max(0.0);
        }
    }

    fn parameter_derivatives(&self, params: &[f64], theta: f64, p: &mut [f64], dp: &mut [f64]) {
        let k = params.len();
        let n = k;
        let mut star = [0.0; 101];
        cumulative(params, theta, &mut star[..=k]);
        dp[..k * n].fill(0.0);
        for c in 0..k {
            p[c] = (star[c] - star[c + 1]).max(0.0);
            // w_c = P*_c (1 − P*_c), zero at the ends.
            let w_low = star[c] * (1.0 - star[c]);
            let w_high = star[c + 1] * (1.0 - star[c + 1]);
            dp[c * n] = (w_low - w_high) * theta;
            if c >= 1 {
                dp[c * n + c] = w_low;
            }
            if c + 1 < k {
                dp[c * n + c + 1] = -w_high;
            }
        }
    }

    fn theta_derivatives(
        &self,
        params: &[f64],
        theta: f64,
        p: &mut [f64],
        d1: &mut [f64],
        d2: &mut [f64],
    ) {
        let k = params.len();
        let a = params[0];
        let mut star = [0.0; 101];
        cumulative(params, theta, &mut star[..=k]);
        for c in 0..k {
            p[c] = (star[c] - star[c + 1]).max(0.0);
            let w_low = star[c] * (1.0 - star[c]);
            let w_high = star[c + 1] * (1.0 - star[c + 1]);
            d1[c] = a * (w_low - w_high);
            d2[c] = a * a * (w_low * (1.0 - 2.0 * star[c]) - w_high * (1.0 - 2.0 * star[c + 1]));
        }
    }

    fn start_values(&self, proportions: &[f64]) -> Vec<f64> {
        // Intercepts from the cumulative proportions, attenuated as for the 2PL; kept apart so
        // that every category starts with a positive probability.
        let k = proportions.len();
        let mut start = vec![1.0];
        let mut above: f64 = 1.0;
        let mut previous = f64::INFINITY;
        for c in 1..k {
            above -= proportions[c - 1];
            let q = above.clamp(0.01, 0.99);
            let d = ((q / (1.0 - q)).ln() * 1.16).min(previous - 0.1);
            start.push(d);
            previous = d;
        }
        start
    }

    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64> {
        let a = params[0];
        let mut out = vec![a / sd];
        out.extend(params[1..].iter().map(|d| d - a * mean / sd));
        out
    }

    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm {
        let a = params[0];
        IrtForm {
            a: Some(a / scaling),
            b: params[1..].iter().map(|d| -d / a).collect(),
            d: params[1..].to_vec(),
            ..IrtForm::default()
        }
    }

    fn parameters_from_irt(
        &self,
        form: &IrtForm,
        n_categories: usize,
        scaling: f64,
    ) -> Result<Vec<f64>, String> {
        let a = form.a.ok_or("needs a")? * scaling;
        let thresholds = n_categories - 1;
        let d: Vec<f64> = if form.b.len() == thresholds {
            form.b.iter().map(|b| -a * b).collect()
        } else if form.d.len() == thresholds {
            form.d.clone()
        } else {
            return Err(format!(
                "a graded item with {n_categories} categories needs {thresholds} thresholds b (or intercepts d)"
            ));
        };
        if d.windows(2).any(|w| w[1] >= w[0]) {
            return Err("graded thresholds must increase (b1 < b2 < …)".into());
        }
        let mut params = vec![a];
        params.extend(d);
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::items::checks::check_model;

    #[test]
    fn derivatives_match_finite_differences() {
        check_model(&Graded, &[1.2, 2.0, 0.3, -1.5], 4);
        check_model(&Graded, &[0.8, -0.2], 2);
        check_model(&Graded, &[2.3, 5.2, 2.2, -1.9, -3.0], 5);
    }

    #[test]
    fn two_categories_are_the_2pl() {
        let mut p = [0.0; 2];
        Graded.probabilities(&[1.3, -0.4], 0.5, &mut p);
        assert!((p[1] - logistic(1.3 * 0.5 - 0.4)).abs() < 1e-15);
    }
}
