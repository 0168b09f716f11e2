//! Right/wrong items: the logistic family from Rasch to 4PL (Birnbaum, 1968; Barton & Lord, 1981):
//! `P(correct | θ) = c + (u − c) · logistic(a·θ + d)`, with `c = 0`, `u = 1` unless estimated.
//! Parameter vectors: Rasch and 1PL `(a, d)` with `a` shared by the items of the type, 2PL
//! `(a, d)`, 3PL `(a, d, c)`, 4PL `(a, d, c, u)`. IRT form: `a / D`, `b = −d / a`.

use super::{IrtForm, ItemModel, ItemType, LinearForm, ParameterKind, ParameterSpec, logistic};

/// A member of the logistic family.
#[derive(Clone, Copy, Debug)]
pub struct Logistic {
    item_type: ItemType,
    /// 2 (a, d), 3 (+c) or 4 (+u).
    n_parameters: usize,
}

/// The Rasch model (common slope on the estimation metric, reported as 1).
pub const RASCH: Logistic = Logistic {
    item_type: ItemType::Rasch,
    n_parameters: 2,
};
/// The 1PL (one common slope, θ ~ N(0, 1)).
pub const ONE_PL: Logistic = Logistic {
    item_type: ItemType::OnePl,
    n_parameters: 2,
};
/// The 2PL.
pub const TWO_PL: Logistic = Logistic {
    item_type: ItemType::TwoPl,
    n_parameters: 2,
};
/// The 3PL.
pub const THREE_PL: Logistic = Logistic {
    item_type: ItemType::ThreePl,
    n_parameters: 3,
};
/// The 4PL.
pub const FOUR_PL: Logistic = Logistic {
    item_type: ItemType::FourPl,
    n_parameters: 4,
};

impl Logistic {
    #[inline]
    fn parts(&self, params: &[f64]) -> (f64, f64, f64, f64) {
        let c = if self.n_parameters >= 3 {
            params[2]
        } else {
            0.0
        };
        let u = if self.n_parameters >= 4 {
            params[3]
        } else {
            1.0
        };
        (params[0], params[1], c, u)
    }
}

impl ItemModel for Logistic {
    fn item_type(&self) -> ItemType {
        self.item_type
    }

    fn check_categories(&self, n_categories: usize) -> Result<(), String> {
        if n_categories == 2 {
            Ok(())
        } else {
            Err(format!(
                "the {} model is for right/wrong items with 2 categories, this item has {n_categories}; choose graded, gpcm or nominal for it",
                self.item_type.label()
            ))
        }
    }

    fn parameters(&self, _n_categories: usize) -> Vec<ParameterSpec> {
        let slope = match self.item_type {
            ItemType::Rasch => ParameterSpec::shared("a", ParameterKind::Slope, "rasch scale"),
            ItemType::OnePl => ParameterSpec::shared("a", ParameterKind::Slope, "1pl slope"),
            _ => ParameterSpec::own("a", ParameterKind::Slope),
        };
        let mut specs = vec![slope, ParameterSpec::own("d", ParameterKind::Intercept)];
        if self.n_parameters >= 3 {
            specs.push(ParameterSpec::own("c", ParameterKind::LowerAsymptote));
        }
        if self.n_parameters >= 4 {
            specs.push(ParameterSpec::own("u", ParameterKind::UpperAsymptote));
        }
        specs
    }

    fn probabilities(&self, params: &[f64], theta: f64, p: &mut [f64]) {
        let (a, d, c, u) = self.parts(params);
        let p1 = c + (u - c) * logistic(a * theta + d);
        p[0] = 1.0 - p1;
        p[1] = p1;
    }

    fn parameter_derivatives(&self, params: &[f64], theta: f64, p: &mut [f64], dp: &mut [f64]) {
        let (a, d, c, u) = self.parts(params);
        let psi = logistic(a * theta + d);
        let p1 = c + (u - c) * psi;
        p[0] = 1.0 - p1;
        p[1] = p1;
        let n = self.n_parameters;
        let w = (u - c) * psi * (1.0 - psi);
        let mut d1 = [w * theta, w, 1.0 - psi, psi];
        if n < 4 {
            d1[3] = 0.0;
        }
        for m in 0..n {
            dp[n + m] = d1[m];
            dp[m] = -d1[m];
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
        let (a, d, c, u) = self.parts(params);
        let psi = logistic(a * theta + d);
        let p1 = c + (u - c) * psi;
        let w = (u - c) * psi * (1.0 - psi);
        p[0] = 1.0 - p1;
        p[1] = p1;
        d1[1] = a * w;
        d1[0] = -a * w;
        d2[1] = a * a * w * (1.0 - 2.0 * psi);
        d2[0] = -d2[1];
    }

    fn linear_form(&self, params: &[f64], _n_categories: usize) -> Option<LinearForm> {
        if self.n_parameters != 2 {
            return None;
        }
        // η_0 = 0, η_1 = a·θ + d.
        Some(LinearForm {
            s: vec![0.0, params[0]],
            t: vec![0.0, params[1]],
            ds: vec![0.0, 0.0, 1.0, 0.0],
            dt: vec![0.0, 0.0, 0.0, 1.0],
            canonical: true,
        })
    }

    fn start_values(&self, proportions: &[f64]) -> Vec<f64> {
        let c = if self.n_parameters >= 3 { 0.2 } else { 0.0 };
        let u = if self.n_parameters >= 4 { 0.95 } else { 1.0 };
        let correct = proportions.get(1).copied().unwrap_or(0.5);
        let adjusted = ((correct - c) / (u - c)).clamp(0.02, 0.98);
        // A slope of 1 on N(0, 1) attenuates the marginal logit by about √(1 + 1/1.7²).
        let d = (adjusted / (1.0 - adjusted)).ln() * 1.16;
        let mut start = vec![1.0, d];
        if self.n_parameters >= 3 {
            start.push(c);
        }
        if self.n_parameters >= 4 {
            start.push(u);
        }
        start
    }

    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64> {
        // a·θ + d = (a/σ)·(μ + σθ) + d − aμ/σ.
        let mut out = params.to_vec();
        out[0] = params[0] / sd;
        out[1] = params[1] - params[0] * mean / sd;
        out
    }

    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm {
        let (a, d, c, u) = self.parts(params);
        IrtForm {
            a: Some(a / scaling),
            b: vec![-d / a],
            d: vec![d],
            c: (self.n_parameters >= 3).then_some(c),
            u: (self.n_parameters >= 4).then_some(u),
            ak: Vec::new(),
        }
    }

    fn parameters_from_irt(
        &self,
        form: &IrtForm,
        n_categories: usize,
        scaling: f64,
    ) -> Result<Vec<f64>, String> {
        self.check_categories(n_categories)?;
        let a = form.a.unwrap_or(1.0) * scaling;
        let d = match (form.b.first(), form.d.first()) {
            (Some(&b), _) => -a * b,
            (None, Some(&d)) => d,
            (None, None) => return Err("needs b (or d)".into()),
        };
        let mut params = vec![a, d];
        if self.n_parameters >= 3 {
            params.push(form.c.unwrap_or(0.0));
        }
        if self.n_parameters >= 4 {
            params.push(form.u.unwrap_or(1.0));
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
        check_model(&TWO_PL, &[1.3, -0.4], 2);
        check_model(&RASCH, &[1.0, 0.7], 2);
        check_model(&THREE_PL, &[1.8, 0.2, 0.17], 2);
        check_model(&FOUR_PL, &[1.1, -0.6, 0.12, 0.91], 2);
    }

    #[test]
    fn information_is_birnbaums() {
        // 3PL: I = a² (1 − P)/P ((P − c)/(1 − c))².
        let params = [1.4, -0.3, 0.2];
        for theta in [-1.0, 0.0, 1.5] {
            let info = crate::prediction::items::information(&THREE_PL, &params, 2, theta);
            let psi = logistic(1.4 * theta - 0.3);
            let p = 0.2 + 0.8 * psi;
            let expected = 1.4f64.powi(2) * (1.0 - p) / p * ((p - 0.2) / 0.8).powi(2);
            assert!((info - expected).abs() < 1e-12);
        }
    }
}
