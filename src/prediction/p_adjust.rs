//! Adjusting p-values for multiple tests, as R's `stats::p.adjust` does: Holm's step-down
//! family-wise error control (Holm, 1979) and Benjamini & Hochberg's step-up false discovery
//! rate control (1995), each made monotone in the sorted p-values.
//!
//! As in R, NaN p-values (tests that could not be run) are passed through and not counted: `n`
//! is the number of p-values that are not NaN, and with one or none the input is returned as it
//! is.

/// How p-values are adjusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PAdjust {
    /// No adjustment.
    None,
    /// Holm's step-down method: `p_(i) · (n − i + 1)`, made non-decreasing, capped at 1.
    #[default]
    Holm,
    /// Benjamini–Hochberg: `p_(i) · n / i`, made non-increasing from the largest, capped at 1.
    BenjaminiHochberg,
}

/// The adjusted p-values, in the input order.
pub fn adjust(p: &[f64], method: PAdjust) -> Vec<f64> {
    let present: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let n = present.len();
    if n <= 1 || method == PAdjust::None {
        return p.to_vec();
    }
    let mut out = p.to_vec();
    let n_f = n as f64;
    match method {
        PAdjust::None => {}
        PAdjust::Holm => {
            // Ascending, stable: adj_(i) = min(1, max_{j ≤ i} (n − j + 1) p_(j)).
            let mut order = present.clone();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max((n_f - rank as f64) * p[i]);
                out[i] = running.min(1.0);
            }
        }
        PAdjust::BenjaminiHochberg => {
            // Descending: adj_(i) = min(1, min_{j ≥ i} (n / j) p_(j)).
            let mut order = present.clone();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            let mut running = f64::INFINITY;
            for (k, &i) in order.iter().enumerate() {
                let rank = (n - k) as f64;
                running = running.min(n_f / rank * p[i]);
                out[i] = running.min(1.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12,
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn matches_r() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.2, NA, 0.04), "holm") and "BH".
        let p = [0.01, 0.04, 0.03, 0.2, f64::NAN, 0.04];
        close(
            &adjust(&p, PAdjust::Holm),
            &[0.05, 0.12, 0.12, 0.2, f64::NAN, 0.12],
        );
        close(
            &adjust(&p, PAdjust::BenjaminiHochberg),
            &[0.05, 0.05, 0.05, 0.2, f64::NAN, 0.05],
        );
        close(&adjust(&p, PAdjust::None), &p);
        close(&adjust(&[0.3], PAdjust::Holm), &[0.3]);
        close(&adjust(&[0.3, f64::NAN], PAdjust::Holm), &[0.3, f64::NAN]);
        close(&adjust(&[], PAdjust::BenjaminiHochberg), &[]);
        // Capped at 1.
        close(&adjust(&[0.6, 0.7], PAdjust::Holm), &[1.0, 1.0]);
    }
}
