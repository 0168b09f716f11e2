//! Logistic-regression DIF (Swaminathan & Rogers, 1990) and its ordinal form for items with
//! more categories (proportional-odds cumulative logits; French & Miller, 1996; Zumbo, 1999;
//! Crane et al., 2006), with Nagelkerke's R² change as the effect size.
//!
//! With X the matching score and G = 1 for the focal group, three nested models are fitted by
//! maximum likelihood: `M0: logit P(Y ≥ k) = τ_k + β1 X`, `M1: … + β2 G`, `M2: … + β3 X·G`
//! (for a right/wrong item the single τ is the intercept: the binomial GLM of difR's
//! `Logistik`). Uniform DIF is M1 against M0 (df 1), non-uniform M2 against M1 (df 1), both M2
//! against M0 (df 2); the statistic is the deviance difference. Because X and G take few
//! values, the persons collapse to cells (score, group, item score) and the fit is Newton's
//! method on the cells' counts — the same estimates and deviances as a fit on the persons.
//!
//! Nagelkerke's R² as difR computes it: `R²_N(M) = (1 − exp((D(M) − D_null)/n)) /
//! (1 − exp(−D_null/n))`, D_null the deviance of the thresholds alone and n the persons; ΔR² is
//! the difference between the compared models. Classes on ΔR² rounded to 4 decimals, right-closed
//! as in difR: Zumbo & Thomas (1997) A ≤ .13 < B ≤ .26 < C; Jodoin & Gierl (2001) A ≤ .035 <
//! B ≤ .07 < C.
//!
//! Separation (a group where everyone above some score is right) sends coefficients to
//! infinity while the deviance converges; Newton stops at its iteration cap with step halving,
//! and the deviance difference is still reported.

use serde::{Deserialize, Serialize};

use crate::prediction::distributions::chi_square_sf;
use crate::prediction::linalg;

/// Which DIF the logistic test looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogisticDifType {
    /// Group main effect: M1 against M0 (df 1).
    Uniform,
    /// Score × group interaction: M2 against M1 (df 1).
    NonUniform,
    /// Both: M2 against M0 (df 2).
    #[default]
    Both,
}

impl LogisticDifType {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LogisticDifType::Uniform => "uniform",
            LogisticDifType::NonUniform => "nonuniform",
            LogisticDifType::Both => "both",
        }
    }

    /// Parses `uniform`, `nonuniform` (or `non-uniform`) or `both`.
    pub fn parse(text: &str) -> Option<LogisticDifType> {
        match text.trim().to_ascii_lowercase().as_str() {
            "uniform" | "udif" => Some(LogisticDifType::Uniform),
            "nonuniform" | "non-uniform" | "nudif" => Some(LogisticDifType::NonUniform),
            "both" => Some(LogisticDifType::Both),
            _ => None,
        }
    }
}

/// Persons with one matching score, group and item score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogisticCell {
    /// Matching score X.
    pub score: f64,
    /// In the focal group (G = 1).
    pub focal: bool,
    /// Item score 0…K−1.
    pub category: usize,
    /// Number of persons.
    pub count: f64,
}

/// The logistic-regression DIF test of one item.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticDif {
    /// Deviance difference of the compared models.
    pub statistic: f64,
    /// Its degrees of freedom.
    pub df: usize,
    /// Its p-value.
    pub p: f64,
    /// Nagelkerke R² change between the compared models.
    pub delta_r2: f64,
    /// Deviances of M0, M1, M2.
    pub deviances: [f64; 3],
    /// Deviance of the thresholds alone.
    pub null_deviance: f64,
    /// Persons.
    pub n: f64,
    /// Coefficients of M2 (β1 on the centred score, β2, β3), for reports.
    pub coefficients: [f64; 3],
    /// Whether every fit converged (false under separation).
    pub converged: bool,
}

/// The Zumbo–Thomas class of a ΔR² (difR's boundaries).
pub fn zumbo_thomas_class(delta_r2: f64) -> &'static str {
    class_of(delta_r2, 0.13, 0.26)
}

/// The Jodoin–Gierl class of a ΔR² (difR's boundaries).
pub fn jodoin_gierl_class(delta_r2: f64) -> &'static str {
    class_of(delta_r2, 0.035, 0.07)
}

fn class_of(delta_r2: f64, b: f64, c: f64) -> &'static str {
    if delta_r2.is_nan() {
        return "NA";
    }
    let rounded = (delta_r2 * 1e4).round() / 1e4;
    if rounded <= b {
        "A"
    } else if rounded <= c {
        "B"
    } else {
        "C"
    }
}

/// A cumulative-logit fit over cells: parameters `τ_1…τ_{K−1}` then the β of the columns.
struct Fit {
    log_likelihood: f64,
    parameters: Vec<f64>,
    converged: bool,
}

fn logistic(x: f64) -> f64 {
    crate::prediction::items::logistic(x)
}

/// Log-likelihood, gradient and Hessian of the cumulative-logit model. `design[i]` is cell i's
/// covariate row.
fn terms(
    cells: &[LogisticCell],
    design: &[Vec<f64>],
    k: usize,
    parameters: &[f64],
    want: bool,
) -> (f64, Vec<f64>, Vec<f64>) {
    let n_tau = k - 1;
    let m = parameters.len();
    let mut value = 0.0;
    let mut gradient = vec![0.0; if want { m } else { 0 }];
    let mut hessian = vec![0.0; if want { m * m } else { 0 }];
    let mut dp = vec![0.0; m];
    for (cell, z) in cells.iter().zip(design) {
        if cell.count <= 0.0 {
            continue;
        }
        let eta: f64 = z.iter().zip(&parameters[n_tau..]).map(|(x, b)| x * b).sum();
        let c = cell.category;
        // γ_c = P(Y ≥ c): 1 for c = 0, 0 for c = K.
        let gamma = |j: usize| -> f64 {
            if j == 0 {
                1.0
            } else if j >= k {
                0.0
            } else {
                logistic(parameters[j - 1] + eta)
            }
        };
        let (upper, lower) = (gamma(c), gamma(c + 1));
        let p = upper - lower;
        if p <= 0.0 || !p.is_finite() {
            return (f64::NEG_INFINITY, gradient, hessian);
        }
        value += cell.count * p.ln();
        if !want {
            continue;
        }
        let density =
            |j: usize, g: f64| -> f64 { if j == 0 || j >= k { 0.0 } else { g * (1.0 - g) } };
        let (f_upper, f_lower) = (density(c, upper), density(c + 1, lower));
        let slope_upper = f_upper * (1.0 - 2.0 * upper);
        let slope_lower = f_lower * (1.0 - 2.0 * lower);
        // v_j = ∂(τ_j + η)/∂θ: the indicator of τ_j, then z.
        let v = |j: usize, a: usize| -> f64 {
            if a < n_tau {
                if j >= 1 && j < k && a == j - 1 {
                    1.0
                } else {
                    0.0
                }
            } else {
                z[a - n_tau]
            }
        };
        for a in 0..m {
            dp[a] = f_upper * v(c, a) - f_lower * v(c + 1, a);
            gradient[a] += cell.count * dp[a] / p;
        }
        for a in 0..m {
            for b in a..m {
                let d2p = slope_upper * v(c, a) * v(c, b) - slope_lower * v(c + 1, a) * v(c + 1, b);
                hessian[a * m + b] += cell.count * (d2p / p - dp[a] * dp[b] / (p * p));
            }
        }
    }
    if want {
        for a in 0..m {
            for b in 0..a {
                hessian[a * m + b] = hessian[b * m + a];
            }
        }
    }
    (value, gradient, hessian)
}

/// Newton's method with step halving from `start`.
fn fit(cells: &[LogisticCell], design: &[Vec<f64>], k: usize, start: Vec<f64>) -> Fit {
    let m = start.len();
    let mut parameters = start;
    let (mut value, _, _) = terms(cells, design, k, &parameters, false);
    let mut converged = false;
    for _ in 0..100 {
        let (current, gradient, hessian) = terms(cells, design, k, &parameters, true);
        if !current.is_finite() {
            break;
        }
        value = current;
        let negative: Vec<f64> = hessian.iter().map(|h| -h).collect();
        let Some(step) = linalg::solve(&negative, &gradient, m) else {
            break;
        };
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let candidate: Vec<f64> = parameters
                .iter()
                .zip(&step)
                .map(|(p, s)| p + scale * s)
                .collect();
            let (next, _, _) = terms(cells, design, k, &candidate, false);
            if next.is_finite() && next >= value - 1e-12 * value.abs().max(1.0) {
                accepted = Some((candidate, next));
                break;
            }
            scale *= 0.5;
        }
        let Some((candidate, next)) = accepted else {
            break;
        };
        let change = (next - value).abs();
        parameters = candidate;
        let previous = value;
        value = next;
        // glm's rule on the deviance: |ΔD| / (|D| + 0.1) < 1e-8, tightened.
        if change / (2.0 * previous.abs() + 0.1) < 1e-12 {
            converged = true;
            break;
        }
    }
    Fit {
        log_likelihood: value,
        parameters,
        converged,
    }
}

/// The three models' fits and the test of `kind` for one item's cells (item scores 0…k−1).
pub fn logistic_dif(cells: &[LogisticCell], k: usize, kind: LogisticDifType) -> LogisticDif {
    let n: f64 = cells.iter().map(|c| c.count).sum();
    let mut category_counts = vec![0.0; k.max(2)];
    for cell in cells {
        if let Some(slot) = category_counts.get_mut(cell.category) {
            *slot += cell.count;
        }
    }
    let used = category_counts.iter().filter(|&&c| c > 0.0).count();
    let undefined = LogisticDif {
        statistic: f64::NAN,
        df: match kind {
            LogisticDifType::Both => 2,
            _ => 1,
        },
        p: f64::NAN,
        delta_r2: f64::NAN,
        deviances: [f64::NAN; 3],
        null_deviance: f64::NAN,
        n,
        coefficients: [f64::NAN; 3],
        converged: false,
    };
    if k < 2 || used < 2 || n <= 0.0 {
        return undefined;
    }
    let null_deviance = -2.0
        * category_counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| c * (c / n).ln())
            .sum::<f64>();
    // Unused categories have no threshold to estimate: merge them away.
    let mut code = vec![usize::MAX; category_counts.len()];
    let mut next = 0;
    for (c, &count) in category_counts.iter().enumerate() {
        if count > 0.0 {
            code[c] = next;
            next += 1;
        }
    }
    let k_used = next;
    let mean_score = cells.iter().map(|c| c.score * c.count).sum::<f64>() / n;
    let cells: Vec<LogisticCell> = cells
        .iter()
        .filter(|c| c.count > 0.0)
        .map(|c| LogisticCell {
            score: c.score - mean_score,
            category: code.get(c.category).copied().unwrap_or(0),
            ..*c
        })
        .collect();
    // Thresholds start at the marginal cumulative logits.
    let mut tau = Vec::with_capacity(k_used - 1);
    let mut above: f64 = n;
    for c in 0..k_used - 1 {
        let count: f64 = cells
            .iter()
            .filter(|cell| cell.category == c)
            .map(|cell| cell.count)
            .sum();
        above -= count;
        let q = (above / n).clamp(1e-9, 1.0 - 1e-9);
        tau.push((q / (1.0 - q)).ln());
    }
    let rows = |columns: usize| -> Vec<Vec<f64>> {
        cells
            .iter()
            .map(|c| {
                let g = f64::from(u8::from(c.focal));
                [c.score, g, c.score * g][..columns].to_vec()
            })
            .collect()
    };
    let mut start = tau.clone();
    start.push(0.0);
    let m0 = fit(&cells, &rows(1), k_used, start);
    let mut start = m0.parameters.clone();
    start.push(0.0);
    let m1 = fit(&cells, &rows(2), k_used, start);
    let mut start = m1.parameters.clone();
    start.push(0.0);
    let m2 = fit(&cells, &rows(3), k_used, start);
    let deviances = [
        -2.0 * m0.log_likelihood,
        -2.0 * m1.log_likelihood,
        -2.0 * m2.log_likelihood,
    ];
    let r2 = |deviance: f64| -> f64 {
        let maximum = 1.0 - (-null_deviance / n).exp();
        if maximum <= 0.0 {
            return f64::NAN;
        }
        (1.0 - ((deviance - null_deviance) / n).exp()) / maximum
    };
    let (larger, smaller, df) = match kind {
        LogisticDifType::Uniform => (0, 1, 1),
        LogisticDifType::NonUniform => (1, 2, 1),
        LogisticDifType::Both => (0, 2, 2),
    };
    // Nested models: the statistic and ΔR² are ≥ 0 up to rounding.
    let statistic = (deviances[larger] - deviances[smaller]).max(0.0);
    let delta_r2 = (r2(deviances[smaller]) - r2(deviances[larger])).max(0.0);
    let tail = &m2.parameters[k_used - 1..];
    LogisticDif {
        statistic,
        df,
        p: chi_square_sf(statistic, df as f64),
        delta_r2,
        deviances,
        null_deviance,
        n,
        coefficients: [
            tail.first().copied().unwrap_or(f64::NAN),
            tail.get(1).copied().unwrap_or(f64::NAN),
            tail.get(2).copied().unwrap_or(f64::NAN),
        ],
        converged: m0.converged && m1.converged && m2.converged,
    }
}

/// The cells of an item's stratified table.
pub(crate) fn cells(table: &super::tables::StratifiedTable) -> Vec<LogisticCell> {
    let mut out = Vec::new();
    for s in 0..table.n_strata {
        for g in 0..2 {
            for c in 0..table.k {
                let count = table.at(s, g, c);
                if count > 0.0 {
                    out.push(LogisticCell {
                        score: s as f64,
                        focal: g == 1,
                        category: c,
                        count,
                    });
                }
            }
        }
    }
    out
}
