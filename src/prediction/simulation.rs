//! Seeded simulation of responses from known item parameters, for parameter recovery checks,
//! benchmarks and teaching. The generator is SplitMix64 (Steele, Lea & Flood, 2014), so a seed
//! gives the same data on every machine.

use super::items::{IrtForm, ItemType};
use super::model::ItemParameters;
use super::responses::{MISSING, ResponseMatrix};

/// SplitMix64, a small, fast, seedable generator.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal, by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// A category drawn from probabilities that sum to one.
    pub fn category(&mut self, p: &[f64]) -> u8 {
        let u = self.uniform();
        let mut total = 0.0;
        for (k, pk) in p.iter().enumerate() {
            total += pk;
            if u < total {
                return k as u8;
            }
        }
        (p.len() - 1) as u8
    }
}

/// Right/wrong items spread like a real test: `a` uniform on [0.7, 2.0] (seeded), `b` evenly
/// spaced over [−2, 2], `c` as given (a 3PL when positive); named `{prefix}1`, `{prefix}2`, …
pub fn typical_items(
    n_items: usize,
    guessing: f64,
    seed: u64,
    prefix: &str,
) -> Vec<ItemParameters> {
    let mut rng = SplitMix64::new(seed);
    (0..n_items)
        .map(|j| {
            ItemParameters::dichotomous(
                format!("{prefix}{}", j + 1),
                0.7 + 1.3 * rng.uniform(),
                -2.0 + 4.0 * (j as f64 + 0.5) / n_items as f64,
                guessing,
                1.0,
            )
        })
        .collect()
}

/// Ordered-category items of type `model` (graded, gpcm, pcm, rsm or nominal) with `k`
/// categories labelled 0…k−1: slopes on [0.8, 2.0] (1 for the Rasch family), thresholds
/// spread around an item location on [−1.5, 1.5]; named `{prefix}1`, …
pub fn typical_polytomous_items(
    model: ItemType,
    n_items: usize,
    k: usize,
    seed: u64,
    prefix: &str,
) -> Vec<ItemParameters> {
    let mut rng = SplitMix64::new(seed);
    let labels: Vec<String> = (0..k).map(|c| c.to_string()).collect();
    // Rating-scale thresholds are shared: one set for every item.
    let shared: Vec<f64> = (0..k - 1)
        .map(|c| -1.2 + 2.4 * c as f64 / (k as f64 - 1.0).max(1.0) + 0.1)
        .collect();
    let shared_mean = shared.iter().sum::<f64>() / shared.len() as f64;
    (0..n_items)
        .map(|j| {
            let location = -1.5 + 3.0 * (j as f64 + 0.5) / n_items as f64;
            let a = if model.is_rasch_family() {
                1.0
            } else {
                0.8 + 1.2 * rng.uniform()
            };
            let b: Vec<f64> = if model == ItemType::Rsm {
                shared.iter().map(|t| location + t - shared_mean).collect()
            } else {
                (0..k - 1)
                    .map(|c| {
                        location - 1.2
                            + 2.4 * c as f64 / (k as f64 - 1.0).max(1.0)
                            + 0.2 * (rng.uniform() - 0.5)
                    })
                    .collect()
            };
            let form = match model {
                ItemType::Nominal => IrtForm {
                    a: Some(a),
                    d: b.iter()
                        .scan(0.0, |d, b| {
                            *d -= a * b;
                            Some(*d)
                        })
                        .collect(),
                    ak: (0..k).map(|c| c as f64).collect(),
                    ..IrtForm::default()
                },
                _ => IrtForm {
                    a: Some(a),
                    b,
                    ..IrtForm::default()
                },
            };
            ItemParameters::from_irt(
                format!("{prefix}{}", j + 1),
                model,
                labels.clone(),
                &form,
                1.0,
            )
            .unwrap_or_else(|e| unreachable!("simulated items are valid: {e}"))
        })
        .collect()
}

/// Responses of `n_persons` with θ ~ N(mean, sd²) to `items`, each response deleted with
/// probability `missing_fraction`. Returns the matrix and the true θs.
pub fn simulate_with_latent(
    items: &[ItemParameters],
    n_persons: usize,
    mean: f64,
    sd: f64,
    missing_fraction: f64,
    seed: u64,
) -> (ResponseMatrix, Vec<f64>) {
    let mut rng = SplitMix64::new(seed);
    let n_items = items.len();
    let mut codes = Vec::with_capacity(n_persons * n_items);
    let mut thetas = Vec::with_capacity(n_persons);
    let mut p = vec![0.0; super::responses::MAX_CATEGORIES];
    for _ in 0..n_persons {
        let theta = mean + sd * rng.normal();
        thetas.push(theta);
        for item in items {
            let k = item.n_categories();
            item.probabilities_into(theta, &mut p[..k]);
            let code = rng.category(&p[..k]);
            let deleted = missing_fraction > 0.0 && rng.uniform() < missing_fraction;
            codes.push(if deleted { MISSING } else { code });
        }
    }
    let ids: Vec<String> = (1..=n_persons).map(|i| i.to_string()).collect();
    let names: Vec<String> = items.iter().map(|i| i.item.clone()).collect();
    let categories: Vec<Vec<String>> = items.iter().map(|i| i.categories.clone()).collect();
    let matrix = ResponseMatrix::from_labelled_codes(ids, names, categories, codes)
        .unwrap_or_else(|e| unreachable!("simulated codes are valid: {e}"));
    (matrix, thetas)
}

/// Responses of `n_persons` with θ ~ N(0, 1) to `items`, each response deleted with probability
/// `missing_fraction`. Returns the matrix and the true θs.
pub fn simulate_responses(
    items: &[ItemParameters],
    n_persons: usize,
    missing_fraction: f64,
    seed: u64,
) -> (ResponseMatrix, Vec<f64>) {
    simulate_with_latent(items, n_persons, 0.0, 1.0, missing_fraction, seed)
}

/// A small polytomous data set: `n_items` generalised-partial-credit items with `k`
/// categories answered by `n_persons`, for tests.
pub fn simulate_polytomous(
    n_items: usize,
    k: usize,
    n_persons: usize,
    missing_fraction: f64,
    seed: u64,
) -> ResponseMatrix {
    let items = typical_polytomous_items(ItemType::Gpcm, n_items, k, seed, "p");
    simulate_responses(&items, n_persons, missing_fraction, seed + 1).0
}
