//! Classical test theory statistics shown beside the IRT estimates: per item the mean score
//! over the maximum (the proportion correct for right/wrong items), the number of responses and
//! the item–rest (corrected item–total) correlation; Cronbach's alpha. Items are scored by
//! category, 0 to K−1.

use serde::{Deserialize, Serialize};

use super::responses::ResponseMatrix;

/// Classical statistics of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemStatistics {
    /// Item name.
    pub item: String,
    /// Mean item score over the maximum score, among those who answered (`None` when nobody
    /// did); the proportion correct for right/wrong items.
    pub p_value: Option<f64>,
    /// Number of responses.
    pub n: usize,
    /// Pearson correlation of the item score with the sum of the person's other answered items,
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

/// Pearson correlation of pairs; `None` with fewer than two pairs or no variance.
pub fn correlation(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
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
    let n_persons = responses.n_persons();
    let mut sum_scores = vec![0.0; n_persons];
    let mut answered = vec![0usize; n_persons];
    for (p, (score, count)) in sum_scores.iter_mut().zip(answered.iter_mut()).enumerate() {
        for (_, code) in responses.responses_of(p) {
            *score += f64::from(code);
            *count += 1;
        }
    }
    // Per item: running sums of (item score x, rest score y) for the item–rest correlation.
    #[derive(Clone, Copy, Default)]
    struct Sums {
        n: f64,
        x: f64,
        y: f64,
        xx: f64,
        yy: f64,
        xy: f64,
    }
    let mut sums = vec![Sums::default(); n_items];
    for (p, &total) in sum_scores.iter().enumerate() {
        for (j, code) in responses.responses_of(p) {
            let x = f64::from(code);
            let y = total - x;
            let s = &mut sums[j];
            s.n += 1.0;
            s.x += x;
            s.y += y;
            s.xx += x * x;
            s.yy += y * y;
            s.xy += x * y;
        }
    }
    let items = sums
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let maximum = (responses.n_categories(j).max(2) - 1) as f64;
            let vx = s.xx - s.x * s.x / s.n;
            let vy = s.yy - s.y * s.y / s.n;
            ItemStatistics {
                item: responses.item_names()[j].clone(),
                p_value: (s.n > 0.0).then(|| s.x / s.n / maximum),
                n: s.n as usize,
                item_rest_r: (s.n >= 2.0 && vx > 1e-12 && vy > 1e-12)
                    .then(|| (s.xy - s.x * s.y / s.n) / (vx * vy).sqrt()),
            }
        })
        .collect();

    // Cronbach's alpha, k/(k−1)·(1 − Σ var_j / var_total), on complete cases.
    let complete: Vec<usize> = (0..n_persons).filter(|&p| answered[p] == n_items).collect();
    let k = n_items as f64;
    let cronbach_alpha = if complete.len() >= 2 && n_items >= 2 {
        let mut sums = vec![0.0; n_items];
        let mut squares = vec![0.0; n_items];
        for &p in &complete {
            for (j, code) in responses.responses_of(p) {
                let x = f64::from(code);
                sums[j] += x;
                squares[j] += x * x;
            }
        }
        let m = complete.len() as f64;
        let item_variances: f64 = sums
            .iter()
            .zip(&squares)
            .map(|(s, ss)| (ss - s * s / m) / (m - 1.0))
            .sum();
        let total: f64 = complete.iter().map(|&p| sum_scores[p]).sum();
        let total_squares: f64 = complete
            .iter()
            .map(|&p| sum_scores[p] * sum_scores[p])
            .sum();
        let total_variance = (total_squares - total * total / m) / (m - 1.0);
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
