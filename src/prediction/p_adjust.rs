//! Adjustment of p-values for multiple tests: Holm's (1979) step-down family-wise error control
//! and Benjamini & Hochberg's (1995) false discovery rate. The same definitions as R's
//! `p.adjust` (which mirt's `itemfit(p.adjust = …)` calls): missing p-values (NaN) are left as
//! they are and do not count as tests, and adjusted values are capped at 1.

use serde::{Deserialize, Serialize};

/// How p-values of several tests are adjusted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PAdjust {
    /// No adjustment.
    #[default]
    None,
    /// Holm's step-down method (controls the family-wise error rate).
    Holm,
    /// Benjamini–Hochberg (controls the false discovery rate).
    #[serde(rename = "bh", alias = "fdr", alias = "benjamini_hochberg")]
    BenjaminiHochberg,
}

impl PAdjust {
    /// Every method, for menus.
    pub const ALL: [PAdjust; 3] = [PAdjust::None, PAdjust::Holm, PAdjust::BenjaminiHochberg];

    /// The name used on the command line and in files: `none`, `holm`, `bh`.
    pub fn name(self) -> &'static str {
        match self {
            PAdjust::None => "none",
            PAdjust::Holm => "holm",
            PAdjust::BenjaminiHochberg => "bh",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            PAdjust::None => "None",
            PAdjust::Holm => "Holm",
            PAdjust::BenjaminiHochberg => "Benjamini–Hochberg",
        }
    }

    /// Parses `none`, `holm`, `bh` (also `fdr`, `benjamini-hochberg`), case-insensitive.
    pub fn parse(text: &str) -> Option<PAdjust> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(PAdjust::None),
            "holm" => Some(PAdjust::Holm),
            "bh" | "fdr" | "benjamini-hochberg" | "benjamini_hochberg" => {
                Some(PAdjust::BenjaminiHochberg)
            }
            _ => None,
        }
    }
}

/// The p-values `p` adjusted by `method`, in the same order. NaN entries stay NaN and are not
/// counted among the tests.
///
/// - Holm: with the m finite p-values sorted ascending, `p̃_(i) = max_{k ≤ i} min(1, (m − k + 1)·p_(k))`.
/// - Benjamini–Hochberg: `p̃_(i) = min_{k ≥ i} min(1, m·p_(k) / k)`.
pub fn adjust(p: &[f64], method: PAdjust) -> Vec<f64> {
    let mut out = p.to_vec();
    if method == PAdjust::None {
        return out;
    }
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = order.len();
    if m == 0 {
        return out;
    }
    // Stable, so ties keep their input order (as R's `order`).
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    match method {
        PAdjust::None => {}
        PAdjust::Holm => {
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                let value = ((m - rank) as f64 * p[i]).min(1.0);
                running = running.max(value);
                out[i] = running;
            }
        }
        PAdjust::BenjaminiHochberg => {
            let mut running = 1.0f64;
            for (rank, &i) in order.iter().enumerate().rev() {
                let value = (m as f64 * p[i] / (rank + 1) as f64).min(1.0);
                running = running.min(value);
                out[i] = running;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005, NA, 0.2), "holm") and "BH".
        let p = [0.01, 0.04, 0.03, 0.005, f64::NAN, 0.2];
        let holm = adjust(&p, PAdjust::Holm);
        let expected_holm = [0.04, 0.09, 0.09, 0.025, f64::NAN, 0.2];
        let bh = adjust(&p, PAdjust::BenjaminiHochberg);
        let expected_bh = [0.025, 0.05, 0.05, 0.025, f64::NAN, 0.2];
        for i in 0..p.len() {
            if p[i].is_nan() {
                assert!(holm[i].is_nan() && bh[i].is_nan());
                continue;
            }
            assert!((holm[i] - expected_holm[i]).abs() < 1e-12, "holm {i}");
            assert!((bh[i] - expected_bh[i]).abs() < 1e-12, "bh {i}");
        }
        assert_eq!(adjust(&p[..4], PAdjust::None), p[..4].to_vec());
        assert_eq!(PAdjust::parse("FDR"), Some(PAdjust::BenjaminiHochberg));
    }
}
