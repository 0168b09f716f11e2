//! Seeded simulation of dichotomous responses from known item parameters, for parameter
//! recovery checks, benchmarks and teaching. The generator is SplitMix64 (Steele, Lea & Flood,
//! 2014), so a seed gives the same data on every machine.

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
}

/// Item parameters spread like a real test: `a` uniform on [0.7, 2.0] (seeded), `b` evenly
/// spaced over [−2, 2], `c` as given; named `{prefix}1`, `{prefix}2`, …
pub fn typical_items(
    n_items: usize,
    guessing: f64,
    seed: u64,
    prefix: &str,
) -> Vec<ItemParameters> {
    let mut rng = SplitMix64::new(seed);
    (0..n_items)
        .map(|j| ItemParameters {
            item: format!("{prefix}{}", j + 1),
            a: 0.7 + 1.3 * rng.uniform(),
            b: -2.0 + 4.0 * (j as f64 + 0.5) / n_items as f64,
            c: guessing,
        })
        .collect()
}

/// Responses of `n_persons` with θ ~ N(0, 1) to `items` (scaling D), each response deleted
/// with probability `missing_fraction`. Returns the matrix and the true θs.
pub fn simulate_responses(
    items: &[ItemParameters],
    n_persons: usize,
    scaling: f64,
    missing_fraction: f64,
    seed: u64,
) -> (ResponseMatrix, Vec<f64>) {
    let mut rng = SplitMix64::new(seed);
    let n_items = items.len();
    let mut codes = Vec::with_capacity(n_persons * n_items);
    let mut thetas = Vec::with_capacity(n_persons);
    for _ in 0..n_persons {
        let theta = rng.normal();
        thetas.push(theta);
        for item in items {
            let correct = rng.uniform() < item.probability(theta, scaling);
            let deleted = missing_fraction > 0.0 && rng.uniform() < missing_fraction;
            codes.push(if deleted { MISSING } else { u8::from(correct) });
        }
    }
    let matrix = ResponseMatrix::from_codes(
        (1..=n_persons).map(|i| i.to_string()).collect(),
        items.iter().map(|i| i.item.clone()).collect(),
        codes,
    );
    // Codes are 0, 1 or MISSING by construction, so this cannot fail.
    (
        matrix.unwrap_or_else(|_| unreachable!("simulated codes are valid")),
        thetas,
    )
}
