//! Bock's (1972) nominal response model for unordered categories (raw multiple-choice options),
//! in mirt's parameterisation: `η_k = a·ak_k·θ + d_k`, identified by `ak_0 = 0`,
//! `ak_{K−1} = K − 1` and `d_0 = 0`. Parameters `(a, ak_1, …, ak_{K−2}, d_1, …, d_{K−1})`.
//! IRT form: the overall slope `a / D`, every category's scoring slope `ak` and intercept `d`.

use super::divide_by_total;
use super::{IrtForm, ItemModel, ItemType, LinearForm, ParameterKind, ParameterSpec};

/// The nominal response model.
#[derive(Clone, Copy, Debug)]
pub struct Nominal;

const MAX: usize = crate::prediction::responses::MAX_CATEGORIES;

/// Number of categories of a parameter vector: `1 + (K − 2) + (K − 1) = 2K − 2` entries.
#[inline]
fn categories_of(params: &[f64]) -> usize {
    (params.len() + 2) / 2
}

/// The scoring slope `ak_c`.
#[inline]
fn scoring(params: &[f64], k: usize, c: usize) -> f64 {
    if c == 0 {
        0.0
    } else if c == k - 1 {
        (k - 1) as f64
    } else {
        params[c]
    }
}

/// Index of `d_c` (c ≥ 1) in the vector.
#[inline]
fn intercept_index(k: usize, c: usize) -> usize {
    (k - 1) + (c - 1)
}

#[inline]
fn slopes_intercepts(params: &[f64], s: &mut [f64], t: &mut [f64]) {
    let k = categories_of(params);
    for c in 0..k {
        s[c] = params[0] * scoring(params, k, c);
        t[c] = if c == 0 {
            0.0
        } else {
            params[intercept_index(k, c)]
        };
    }
}

impl ItemModel for Nominal {
    fn item_type(&self) -> ItemType {
        ItemType::Nominal
    }

    fn check_categories(&self, n_categories: usize) -> Result<(), String> {
        if n_categories >= 2 {
            Ok(())
        } else {
            Err("the nominal model needs at least 2 categories".into())
        }
    }

    fn parameters(&self, n_categories: usize) -> Vec<ParameterSpec> {
        let k = n_categories;
        let mut specs = vec![ParameterSpec::own("a", ParameterKind::Slope)];
        for c in 1..k.saturating_sub(1) {
            specs.push(ParameterSpec::own(
                format!("ak{c}"),
                ParameterKind::CategorySlope,
            ));
        }
        for c in 1..k {
            specs.push(ParameterSpec::own(
                format!("d{c}"),
                ParameterKind::Intercept,
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
            canonical: k == 2,
        };
        slopes_intercepts(params, &mut form.s, &mut form.t);
        for c in 0..k {
            form.ds[c * n] = scoring(params, k, c);
            if c >= 1 && c < k - 1 {
                form.ds[c * n + c] = params[0];
            }
            if c >= 1 {
                form.dt[c * n + intercept_index(k, c)] = 1.0;
            }
        }
        Some(form)
    }

    fn start_values(&self, proportions: &[f64]) -> Vec<f64> {
        // Scoring slopes evenly spaced (as a partial credit item), intercepts from the log-odds
        // of each category against the first.
        let k = proportions.len();
        let mut start = vec![1.0];
        for c in 1..k.saturating_sub(1) {
            start.push(c as f64);
        }
        let base = proportions[0].max(0.005);
        for proportion in &proportions[1..] {
            start.push((proportion.max(0.005) / base).ln());
        }
        start
    }

    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64> {
        let k = categories_of(params);
        let mut out = params.to_vec();
        out[0] = params[0] / sd;
        for c in 1..k {
            out[intercept_index(k, c)] -= params[0] * scoring(params, k, c) * mean / sd;
        }
        out
    }

    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm {
        let k = categories_of(params);
        IrtForm {
            a: Some(params[0] / scaling),
            b: Vec::new(),
            d: (1..k).map(|c| params[intercept_index(k, c)]).collect(),
            ak: (0..k).map(|c| scoring(params, k, c)).collect(),
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
        let a = form.a.ok_or("needs a")? * scaling;
        if form.d.len() != k - 1 {
            return Err(format!(
                "a nominal item with {k} categories needs {} intercepts d",
                k - 1
            ));
        }
        let mut params = vec![a];
        if k > 2 {
            if form.ak.len() != k {
                return Err(format!(
                    "a nominal item with {k} categories needs {k} scoring slopes ak"
                ));
            }
            params.extend(&form.ak[1..k - 1]);
        }
        params.extend(&form.d);
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prediction::items::checks::check_model;

    #[test]
    fn derivatives_match_finite_differences() {
        // K = 4: a, ak1, ak2, d1, d2, d3.
        check_model(&Nominal, &[0.9, 0.6, 1.7, 0.4, -0.2, 0.9], 4);
        check_model(&Nominal, &[1.3, -0.4], 2);
    }
}
