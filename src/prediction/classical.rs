//! Classical test theory statistics shown beside the IRT estimates: proportion correct, number
//! of responses and item–rest (corrected point-biserial) correlation per item; Cronbach's alpha.

use serde::{Deserialize, Serialize};

use super::responses::ResponseMatrix;

/// Classical statistics of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemStatistics {
    /// Item name.
    pub item: String,
    /// Proportion correct among those who answered (`None` when nobody did).
    pub p_value: Option<f64>,
    /// Number of responses.
    pub n: usize,
    /// Pearson correlation of the item with the sum of the person's other answered items,
    /// over the persons who answered the item (`None` when either has no variance).
    pub item_rest_r: Option<f64>,
}

/// Classical statistics of a test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicalStatistics {
    /// One entry per item, in data order.
    pub items: Vec<ItemStatistics>,
    /// Cronbach's alpha over the persons who answered every item (`None` with fewer than two
    /// such persons or zero total variance).
    pub cronbach_alpha: Option<f64>,
    /// Number of persons with complete responses, on which alpha is computed.
    pub alpha_persons: usize,
}

fn correlation(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs {
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let vx = sxx - sx * sx / n;
    let vy = syy - sy * sy / n;
    (n >= 2.0 && vx > 1e-12 && vy > 1e-12).then(|| (sxy - sx * sy / n) / (vx * vy).sqrt())
}

/// Computes the classical statistics of every item and the test.
pub fn classical_statistics(responses: &ResponseMatrix) -> ClassicalStatistics {
    let n_items = responses.n_items();
    let sum_scores: Vec<f64> = (0..responses.n_persons())
        .map(|p| responses.row(p).iter().filter(|&&v| v == 1).count() as f64)
        .collect();
    let items = (0..n_items)
        .map(|j| {
            let answered: Vec<(f64, f64)> = (0..responses.n_persons())
                .filter_map(|p| {
                    responses.response(p, j).map(|x| {
                        let x = f64::from(x);
                        (x, sum_scores[p] - x)
                    })
                })
                .collect();
            let n = answered.len();
            let correct: f64 = answered.iter().map(|(x, _)| x).sum();
            ItemStatistics {
                item: responses.item_names()[j].clone(),
                p_value: (n > 0).then(|| correct / n as f64),
                n,
                item_rest_r: correlation(answered.into_iter()),
            }
        })
        .collect();

    // Cronbach's alpha, k/(k−1)·(1 − Σ var_j / var_total), on complete cases.
    let complete: Vec<usize> = (0..responses.n_persons())
        .filter(|&p| responses.row(p).iter().all(|&v| v <= 1))
        .collect();
    let variance = |values: &mut dyn Iterator<Item = f64>| {
        let (mut n, mut s, mut ss) = (0.0, 0.0, 0.0);
        for v in values {
            n += 1.0;
            s += v;
            ss += v * v;
        }
        (ss - s * s / n) / (n - 1.0)
    };
    let k = n_items as f64;
    let cronbach_alpha = if complete.len() >= 2 && n_items >= 2 {
        let item_variances: f64 = (0..n_items)
            .map(|j| variance(&mut complete.iter().map(|&p| f64::from(responses.row(p)[j]))))
            .sum();
        let total_variance = variance(&mut complete.iter().map(|&p| sum_scores[p]));
        (total_variance > 1e-12).then(|| k / (k - 1.0) * (1.0 - item_variances / total_variance))
    } else {
        None
    };
    ClassicalStatistics {
        items,
        cronbach_alpha,
        alpha_persons: complete.len(),
    }
}
