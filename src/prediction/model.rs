//! Item response functions of the dichotomous unidimensional models (Rasch, 1PL, 2PL, 3PL),
//! their parameterisations, item and test information.
//!
//! Two forms of the same item are used throughout:
//! - IRT form: `P(θ) = c + (1 − c) / (1 + exp(−D·a·(θ − b)))`, with scaling constant `D`
//!   (1 for the logistic metric, 1.702 for the normal-ogive metric);
//! - slope-intercept form on the logit scale: `P(θ) = c + (1 − c) / (1 + exp(−(D·a·θ + d)))`,
//!   so `d = −D·a·b` and `b = −d / (D·a)`. With `D = 1` this is mirt's `a`, `d` and `b = −d/a`.

use serde::{Deserialize, Serialize};

/// Which item response model to calibrate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// All slopes fixed to 1, latent variance estimated.
    Rasch,
    /// One common slope estimated, θ ~ N(0, 1).
    #[serde(rename = "1pl")]
    OnePl,
    /// A slope and an intercept per item.
    #[default]
    #[serde(rename = "2pl")]
    TwoPl,
    /// Slope, intercept and lower asymptote (guessing) per item.
    #[serde(rename = "3pl")]
    ThreePl,
}

impl ModelKind {
    /// Every model, in the order a user would list them.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Rasch,
        ModelKind::OnePl,
        ModelKind::TwoPl,
        ModelKind::ThreePl,
    ];

    /// The name used on the command line, in JSON and in project files.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Rasch => "rasch",
            ModelKind::OnePl => "1pl",
            ModelKind::TwoPl => "2pl",
            ModelKind::ThreePl => "3pl",
        }
    }

    /// A label for people: "Rasch", "1PL", …
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Rasch => "Rasch",
            ModelKind::OnePl => "1PL",
            ModelKind::TwoPl => "2PL",
            ModelKind::ThreePl => "3PL",
        }
    }

    /// Parses `rasch`, `1pl`, `2pl`, `3pl` (case-insensitive).
    pub fn parse(text: &str) -> Option<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The logistic function `1 / (1 + exp(−x))`, computed without overflow for large |x|.
#[inline]
pub fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(x))` without overflow or loss of precision.
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// One item's parameters in IRT form (`a`, `b`, `c`) on the metric given by `scaling` (`D`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemParameters {
    /// Item name, as in the data or the parameter table.
    pub item: String,
    /// Discrimination `a`.
    pub a: f64,
    /// Difficulty `b`.
    pub b: f64,
    /// Lower asymptote (guessing) `c`; 0 for models without guessing.
    pub c: f64,
}

impl ItemParameters {
    /// The intercept `d = −D·a·b` of the slope-intercept form.
    pub fn intercept(&self, scaling: f64) -> f64 {
        -scaling * self.a * self.b
    }

    /// P(correct | θ).
    pub fn probability(&self, theta: f64, scaling: f64) -> f64 {
        probability(theta, self.a, self.b, self.c, scaling)
    }

    /// Fisher information of the item at θ.
    pub fn information(&self, theta: f64, scaling: f64) -> f64 {
        information(theta, self.a, self.b, self.c, scaling)
    }

    /// Checks the parameters are usable: finite, `0 ≤ c < 1`. Returns a reason otherwise.
    pub fn validate(&self) -> Result<(), String> {
        if !self.a.is_finite() || !self.b.is_finite() || !self.c.is_finite() {
            return Err(format!(
                "item \"{}\": parameters must be finite numbers (a = {}, b = {}, c = {})",
                self.item, self.a, self.b, self.c
            ));
        }
        if !(0.0..1.0).contains(&self.c) {
            return Err(format!(
                "item \"{}\": guessing c must be in [0, 1), got {}",
                self.item, self.c
            ));
        }
        Ok(())
    }
}

/// P(correct | θ) = c + (1 − c) / (1 + exp(−D·a·(θ − b))).
#[inline]
pub fn probability(theta: f64, a: f64, b: f64, c: f64, scaling: f64) -> f64 {
    c + (1.0 - c) * logistic(scaling * a * (theta - b))
}

/// Item information of the 3PL (Birnbaum, 1968):
/// `I(θ) = (D·a)² · (1 − P)/P · ((P − c)/(1 − c))²`, which reduces to `(D·a)²·P·(1 − P)` when c = 0.
#[inline]
pub fn information(theta: f64, a: f64, b: f64, c: f64, scaling: f64) -> f64 {
    let slope = scaling * a;
    let psi = logistic(slope * (theta - b));
    if c == 0.0 {
        return slope * slope * psi * (1.0 - psi);
    }
    let p = c + (1.0 - c) * psi;
    if p <= 0.0 {
        return 0.0;
    }
    // (P − c)/(1 − c) = ψ and 1 − P = (1 − c)(1 − ψ).
    slope * slope * (1.0 - c) * (1.0 - psi) / p * psi * psi
}

/// Test information: the sum of the items' information at θ.
pub fn test_information(items: &[ItemParameters], theta: f64, scaling: f64) -> f64 {
    items.iter().map(|i| i.information(theta, scaling)).sum()
}

/// Test characteristic curve: the expected sum score at θ.
pub fn expected_score(items: &[ItemParameters], theta: f64, scaling: f64) -> f64 {
    items.iter().map(|i| i.probability(theta, scaling)).sum()
}

/// Conditional standard error of measurement `1/√(test information)`; `None` where the
/// information is zero.
pub fn conditional_se(items: &[ItemParameters], theta: f64, scaling: f64) -> Option<f64> {
    let info = test_information(items, theta, scaling);
    (info > 0.0).then(|| 1.0 / info.sqrt())
}
