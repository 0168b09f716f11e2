//! Muraki's (1992) generalised partial credit model and Masters' (1982) partial credit model, in
//! mirt's parameterisation: `η_k = a·k·θ + d_k` for categories `k = 0..K−1` with `d_0 = 0`, so
//! parameters `(a, d_1, …, d_{K−1})`. IRT form: step difficulties
//! `b_k = −(d_k − d_{k−1}) / a`. The partial credit model shares one slope among its items (the
//! Rasch family's scale: reported as 1 with the latent variance estimated).

use super::divide_by_total;
use super::{IrtForm, ItemModel, ItemType, LinearForm, ParameterKind, ParameterSpec};

/// The generalised (slope per item) or plain (shared slope) partial credit model.
#[derive(Clone, Copy, Debug)]
pub struct PartialCredit {
    item_type: ItemType,
}

/// Generalised partial credit.
pub const GPCM: PartialCredit = PartialCredit {
    item_type: ItemType::Gpcm,
};
/// Partial credit (Rasch family).
pub const PCM: PartialCredit = PartialCredit {
    item_type: ItemType::Pcm,
};

const MAX: usize = crate::prediction::responses::MAX_CATEGORIES;

/// `s_k = a·k`, `t_k = d_k` into the first K entries.
#[inline]
fn slopes_intercepts(params: &[f64], s: &mut [f64], t: &mut [f64]) {
    let k = params.len();
    for c in 0..k {
        s[c] = params[0] * c as f64;
        t[c] = if c == 0 { 0.0 } else { params[c] };
    }
}

impl ItemModel for PartialCredit {
    fn item_type(&self) -> ItemType {
        self.item_type
    }

    fn check_categories(&self, n_categories: usize) -> Result<(), String> {
        if n_categories >= 2 {
            Ok(())
        } else {
            Err("the partial credit models need at least 2 categories".into())
        }
    }

    fn parameters(&self, n_categories: usize) -> Vec<ParameterSpec> {
        let slope = if self.item_type == ItemType::Pcm {
            ParameterSpec::shared("a", ParameterKind::Slope, "rasch scale")
        } else {
            ParameterSpec::own("a", ParameterKind::Slope)
        };
        let mut specs = vec![slope];
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
        let (mut s, mut t) = ([0.0; MAX], [0.0; MAX]);
        slopes_intercepts(params, &mut s, &mut t);
        divide_by_total::probabilities(&s[..k], &t[..k], theta, &mut p[..k]);
    }

    fn parameter_derivatives(&self, params: &[f64], theta: f64, p: &mut [f64], dp: &mut [f64]) {
        let k = params.len();
        let n = k;
        let (mut s, mut t) = ([0.0; MAX], [0.0; MAX]);
        slopes_intercepts(params, &mut s, &mut t);
        divide_by_total::probabilities(&s[..k], &t[..k], theta, &mut p[..k]);
        // ∂η_c/∂a = c·θ, ∂η_c/∂d_c = 1.
        let mean_slope: f64 = (0..k).map(|c| p[c] * c as f64 * theta).sum();
        for c in 0..k {
            dp[c * n] = p[c] * (c as f64 * theta - mean_slope);
            for m in 1..k {
                let own = if m == c { 1.0 } else { 0.0 };
                dp[c * n + m] = p[c] * (own - p[m]);
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
            if c >= 1 {
                form.dt[c * n + c] = 1.0;
            }
        }
        Some(form)
    }

    fn start_values(&self, proportions: &[f64]) -> Vec<f64> {
        // d_k from the log-ratios of adjacent categories (with a = 1 the model's log-odds of
        // category k over k−1 is θ + d_k − d_{k−1}), attenuated as for the 2PL.
        let k = proportions.len();
        let mut start = vec![1.0];
        let mut d = 0.0;
        for c in 1..k {
            let ratio = proportions[c].max(0.005) / proportions[c - 1].max(0.005);
            d += ratio.ln() * 1.16;
            start.push(d);
        }
        start
    }

    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64> {
        let a = params[0];
        let mut out = vec![a / sd];
        out.extend(
            params[1..]
                .iter()
                .enumerate()
                .map(|(i, d)| d - a * (i + 1) as f64 * mean / sd),
        );
        out
    }

    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm {
        let a = params[0];
        let mut b = Vec::with_capacity(params.len() - 1);
        let mut previous = 0.0;
        for &d in &params[1..] {
            b.push(-(d - previous) / a);
            previous = d;
        }
        IrtForm {
            a: Some(a / scaling),
            b,
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
        let a = form.a.unwrap_or(1.0) * scaling;
        let steps = n_categories - 1;
        let mut params = vec![a];
        if form.b.len() == steps {
            let mut d = 0.0;
            for b in &form.b {
                d -= a * b;
                params.push(d);
            }
        } else if form.d.len() == steps {
            params.extend(&form.d);
        } else {
            return Err(format!(
                "a partial credit item with {n_categories} categories needs {steps} step difficulties b (or intercepts d)"
            ));
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
        check_model(&GPCM, &[1.1, 0.8, 1.2, -0.5], 4);
        check_model(&PCM, &[1.0, -0.3, 0.4], 3);
        check_model(&GPCM, &[0.7, 0.2], 2);
    }
}
