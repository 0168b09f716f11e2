//! The arithmetic shared by divide-by-total models (Thissen & Steinberg, 1986): category
//! log-odds `η_k = s_k·θ + t_k`, `P_k = exp(η_k) / Σ_m exp(η_m)`. Given `s`, `t` and their
//! Jacobians, the probabilities and every derivative follow:
//! `∂P_k/∂ψ = P_k (∂η_k/∂ψ − Σ_m P_m ∂η_m/∂ψ)`, `∂P_k/∂θ = P_k (s_k − s̄)` and
//! `∂²P_k/∂θ² = P_k ((s_k − s̄)² − Var_P(s))`, with `s̄ = Σ_m P_m s_m`.

use super::LinearForm;

/// `P_k = softmax(s_k·θ + t_k)`, computed stably.
#[inline]
pub fn probabilities(s: &[f64], t: &[f64], theta: f64, p: &mut [f64]) {
    let mut max = f64::NEG_INFINITY;
    for ((pk, sk), tk) in p.iter_mut().zip(s).zip(t) {
        *pk = sk * theta + tk;
        max = max.max(*pk);
    }
    let mut total = 0.0;
    for pk in p.iter_mut() {
        *pk = (*pk - max).exp();
        total += *pk;
    }
    for pk in p.iter_mut() {
        *pk /= total;
    }
}

/// The category probabilities into `p` and `log Σ_k exp(s_k·θ + t_k)` together: one exp per
/// category but the likeliest (whose term is exactly 1) and one log, where the two functions
/// apart take an exp per category twice and a log.
#[inline]
pub fn probabilities_and_log_normaliser(s: &[f64], t: &[f64], theta: f64, p: &mut [f64]) -> f64 {
    let mut max = f64::NEG_INFINITY;
    let mut top = 0;
    for (c, ((pk, sk), tk)) in p.iter_mut().zip(s).zip(t).enumerate() {
        *pk = sk * theta + tk;
        if *pk > max {
            max = *pk;
            top = c;
        }
    }
    let mut total = 0.0;
    for (c, pk) in p.iter_mut().enumerate() {
        *pk = if c == top { 1.0 } else { (*pk - max).exp() };
        total += *pk;
    }
    for pk in p.iter_mut() {
        *pk /= total;
    }
    max + total.ln()
}

/// `log Σ_k exp(s_k·θ + t_k)`.
#[inline]
pub fn log_normaliser(s: &[f64], t: &[f64], theta: f64) -> f64 {
    let mut max = f64::NEG_INFINITY;
    let mut top = 0;
    for (c, (sk, tk)) in s.iter().zip(t).enumerate() {
        let v = sk * theta + tk;
        if v > max {
            max = v;
            top = c;
        }
    }
    // The likeliest category's term is exactly 1.
    let total: f64 = s
        .iter()
        .zip(t)
        .enumerate()
        .map(|(c, (sk, tk))| {
            if c == top {
                1.0
            } else {
                (sk * theta + tk - max).exp()
            }
        })
        .sum();
    max + total.ln()
}

/// Derivatives with respect to the `n` parameters of `form`: `dp[k·n + m] = ∂P_k/∂ψ_m`.
pub fn parameter_derivatives(
    form: &LinearForm,
    n: usize,
    theta: f64,
    p: &mut [f64],
    dp: &mut [f64],
) {
    let (s, t, ds, dt) = (&form.s, &form.t, &form.ds, &form.dt);
    probabilities(s, t, theta, p);
    let k = s.len();
    for m in 0..n {
        let mean: f64 = (0..k)
            .map(|c| p[c] * (ds[c * n + m] * theta + dt[c * n + m]))
            .sum();
        for c in 0..k {
            dp[c * n + m] = p[c] * (ds[c * n + m] * theta + dt[c * n + m] - mean);
        }
    }
}

/// First and second derivatives with respect to θ.
pub fn theta_derivatives(
    s: &[f64],
    t: &[f64],
    theta: f64,
    p: &mut [f64],
    d1: &mut [f64],
    d2: &mut [f64],
) {
    probabilities(s, t, theta, p);
    let mean: f64 = p.iter().zip(s).map(|(p, s)| p * s).sum();
    let variance: f64 = p.iter().zip(s).map(|(p, s)| p * (s - mean).powi(2)).sum();
    for c in 0..s.len() {
        let centred = s[c] - mean;
        d1[c] = p[c] * centred;
        d2[c] = p[c] * (centred * centred - variance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_with_the_normaliser_equal_the_two_apart() {
        let cases: [(&[f64], &[f64]); 3] = [
            (&[0.0, 1.3], &[0.0, -0.4]),
            (&[0.0, 0.7, 1.4, 2.1], &[0.0, 0.5, -0.2, -1.9]),
            (&[0.0, -2.0, 3.0], &[0.0, 40.0, -35.0]),
        ];
        for (s, t) in cases {
            for theta in [-30.0, -2.5, 0.0, 0.8, 4.0, 30.0] {
                let mut p = vec![0.0; s.len()];
                let mut q = vec![0.0; s.len()];
                let log_z = probabilities_and_log_normaliser(s, t, theta, &mut p);
                probabilities(s, t, theta, &mut q);
                let expected = log_normaliser(s, t, theta);
                assert!((log_z - expected).abs() < 1e-12 * expected.abs().max(1.0));
                for (a, b) in p.iter().zip(&q) {
                    assert!((a - b).abs() < 1e-15, "θ {theta}: {p:?} vs {q:?}");
                }
            }
        }
    }
}
