//! Item response models: everything that differs between item types lives here, one file per
//! type, behind the [`ItemModel`] trait. The EM loop, standard errors, scoring, tables, the
//! command line and the app ask the model and never match on its kind.
//!
//! # Why a trait
//!
//! mirt organises item types as classes (`R/01-itemclass.R`) with methods for trace lines,
//! derivatives and parameter transforms; a trait is the same shape in Rust. Each type is a
//! zero-sized value implementing [`ItemModel`]; [`ItemType`] is the list a user picks from and
//! maps to its model with [`ItemType::model`]. Adding a type is one file implementing the trait
//! and one entry in [`ItemType`].
//!
//! # Parameters
//!
//! A model's parameter vector is in slope-intercept form on the logit scale, on the θ metric of
//! the estimation (the reference group's N(0, 1), or the anchors' metric): for example the 2PL's
//! `(a, d)` with logit `a·θ + d`. The IRT form (`a`, `b`, with the scaling constant D) is a
//! report of the same numbers, produced by [`ItemModel::irt_form`]. Parameters that a type
//! fixes by construction (the nominal model's first intercept, say) are not in the vector.
//!
//! Generic machinery needs from a model only its category probabilities and their first
//! derivatives with respect to the parameters and to θ. Models in the exponential family in θ
//! (divide-by-total models: 2PL, Rasch, generalised partial credit, nominal, rating scale) also
//! give their [`LinearForm`] — log-odds linear in θ — which lets the E-step sum a pattern's
//! log-likelihood as `s·θ + t` instead of adding a table per item, and lets standard errors be
//! computed analytically.

pub mod divide_by_total;
pub mod gpcm;
pub mod graded;
pub mod logistic;
pub mod nominal;
pub mod rsm;

use serde::{Deserialize, Serialize};

/// The item types a user can choose, with the names mirt uses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord,
)]
pub enum ItemType {
    /// Rasch: slopes 1, latent variance estimated (dichotomous items).
    #[serde(rename = "rasch")]
    Rasch,
    /// One slope common to all such items, θ ~ N(0, 1).
    #[serde(rename = "1pl")]
    OnePl,
    /// Slope and intercept per item.
    #[default]
    #[serde(rename = "2pl")]
    TwoPl,
    /// Slope, intercept and lower asymptote (guessing).
    #[serde(rename = "3pl")]
    ThreePl,
    /// Slope, intercept, lower and upper asymptotes.
    #[serde(rename = "4pl")]
    FourPl,
    /// Samejima's graded response model for ordered categories.
    #[serde(rename = "graded")]
    Graded,
    /// Muraki's generalised partial credit model.
    #[serde(rename = "gpcm")]
    Gpcm,
    /// Masters' partial credit model (Rasch family: slopes 1, latent variance estimated).
    #[serde(rename = "pcm")]
    Pcm,
    /// Andrich's rating scale model: thresholds shared by the items, a location per item.
    #[serde(rename = "rsm")]
    Rsm,
    /// Bock's nominal response model for unordered categories.
    #[serde(rename = "nominal")]
    Nominal,
}

impl ItemType {
    /// Every type, in the order a user would list them.
    pub const ALL: [ItemType; 10] = [
        ItemType::Rasch,
        ItemType::OnePl,
        ItemType::TwoPl,
        ItemType::ThreePl,
        ItemType::FourPl,
        ItemType::Graded,
        ItemType::Gpcm,
        ItemType::Pcm,
        ItemType::Rsm,
        ItemType::Nominal,
    ];

    /// The model behind the type.
    pub fn model(self) -> &'static dyn ItemModel {
        match self {
            ItemType::Rasch => &logistic::RASCH,
            ItemType::OnePl => &logistic::ONE_PL,
            ItemType::TwoPl => &logistic::TWO_PL,
            ItemType::ThreePl => &logistic::THREE_PL,
            ItemType::FourPl => &logistic::FOUR_PL,
            ItemType::Graded => &graded::Graded,
            ItemType::Gpcm => &gpcm::GPCM,
            ItemType::Pcm => &gpcm::PCM,
            ItemType::Rsm => &rsm::RatingScale,
            ItemType::Nominal => &nominal::Nominal,
        }
    }

    /// The name used on the command line, in JSON, tables and project files.
    pub fn name(self) -> &'static str {
        match self {
            ItemType::Rasch => "rasch",
            ItemType::OnePl => "1pl",
            ItemType::TwoPl => "2pl",
            ItemType::ThreePl => "3pl",
            ItemType::FourPl => "4pl",
            ItemType::Graded => "graded",
            ItemType::Gpcm => "gpcm",
            ItemType::Pcm => "pcm",
            ItemType::Rsm => "rsm",
            ItemType::Nominal => "nominal",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            ItemType::Rasch => "Rasch",
            ItemType::OnePl => "1PL",
            ItemType::TwoPl => "2PL",
            ItemType::ThreePl => "3PL",
            ItemType::FourPl => "4PL",
            ItemType::Graded => "Graded",
            ItemType::Gpcm => "GPCM",
            ItemType::Pcm => "PCM",
            ItemType::Rsm => "Rating scale",
            ItemType::Nominal => "Nominal",
        }
    }

    /// A one-line description for tooltips and help.
    pub fn description(self) -> &'static str {
        match self {
            ItemType::Rasch => {
                "right/wrong items; slopes fixed to 1 and the latent variance estimated"
            }
            ItemType::OnePl => "right/wrong items; one slope shared by the items, θ ~ N(0, 1)",
            ItemType::TwoPl => "right/wrong items; a slope and a difficulty per item",
            ItemType::ThreePl => {
                "right/wrong items with guessing: slope, difficulty and lower asymptote c"
            }
            ItemType::FourPl => {
                "right/wrong items with guessing and slipping: lower c and upper u asymptotes"
            }
            ItemType::Graded => {
                "ordered categories (Likert scales): Samejima's graded response model"
            }
            ItemType::Gpcm => {
                "ordered categories (partial credit): Muraki's generalised partial credit model"
            }
            ItemType::Pcm => "ordered categories, Rasch family: Masters' partial credit model",
            ItemType::Rsm => {
                "Likert items sharing one set of thresholds: Andrich's rating scale model"
            }
            ItemType::Nominal => {
                "unordered options (raw multiple-choice answers): Bock's nominal model"
            }
        }
    }

    /// Parses a type name (case-insensitive; `grm` and `partial_credit` are accepted too).
    pub fn parse(text: &str) -> Option<ItemType> {
        let text = text.trim().to_ascii_lowercase();
        let alias = match text.as_str() {
            "grm" | "samejima" => "graded",
            "partial_credit" | "partial-credit" => "pcm",
            "rating_scale" | "rating-scale" => "rsm",
            "nrm" => "nominal",
            other => other,
        };
        ItemType::ALL.into_iter().find(|t| t.name() == alias)
    }

    /// Whether the type is for right/wrong (two-category) items.
    pub fn is_dichotomous(self) -> bool {
        matches!(
            self,
            ItemType::Rasch
                | ItemType::OnePl
                | ItemType::TwoPl
                | ItemType::ThreePl
                | ItemType::FourPl
        )
    }

    /// Whether the type belongs to the Rasch family (slopes fixed, latent variance estimated).
    pub fn is_rasch_family(self) -> bool {
        matches!(self, ItemType::Rasch | ItemType::Pcm | ItemType::Rsm)
    }
}

impl std::fmt::Display for ItemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What a parameter is, which decides its prior and bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// A slope (discrimination) `a`.
    Slope,
    /// An intercept or threshold on the logit scale (`d`, `d_k`, a location).
    Intercept,
    /// Lower asymptote (guessing) `c`.
    LowerAsymptote,
    /// Upper asymptote `u`.
    UpperAsymptote,
    /// A category's scoring slope in the nominal model (`ak`).
    CategorySlope,
}

impl ParameterKind {
    /// The bounds an estimate is kept within (the model is undefined or unidentified outside).
    pub fn bounds(self) -> (f64, f64) {
        match self {
            ParameterKind::Slope => (-25.0, 25.0),
            ParameterKind::Intercept => (-40.0, 40.0),
            ParameterKind::LowerAsymptote => (0.0, 0.95),
            ParameterKind::UpperAsymptote => (0.05, 1.0),
            ParameterKind::CategorySlope => (-40.0, 40.0),
        }
    }

    /// The name used in `--prior` (`a`, `d`, `c`, `u`, `ak`).
    pub fn name(self) -> &'static str {
        match self {
            ParameterKind::Slope => "a",
            ParameterKind::Intercept => "d",
            ParameterKind::LowerAsymptote => "c",
            ParameterKind::UpperAsymptote => "u",
            ParameterKind::CategorySlope => "ak",
        }
    }

    /// Parses `a`, `d` (or `b`, `intercept`), `c` (or `g`), `u`, `ak`.
    pub fn parse(text: &str) -> Option<ParameterKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "a" | "slope" => Some(ParameterKind::Slope),
            "d" | "b" | "intercept" => Some(ParameterKind::Intercept),
            "c" | "g" | "guessing" => Some(ParameterKind::LowerAsymptote),
            "u" | "upper" => Some(ParameterKind::UpperAsymptote),
            "ak" => Some(ParameterKind::CategorySlope),
            _ => None,
        }
    }
}

/// How a parameter is shared between items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// Each item has its own.
    PerItem,
    /// One value shared by every item that names the same key (e.g. the Rasch family's common
    /// slope, the 1PL's common slope, the rating scale's thresholds).
    Shared(&'static str),
}

/// One parameter of an item type.
#[derive(Clone, Debug, PartialEq)]
pub struct ParameterSpec {
    /// Its name in tables (`a`, `d`, `d2`, `c`, `ak1`, …).
    pub name: String,
    /// What it is.
    pub kind: ParameterKind,
    /// Whether items share it.
    pub sharing: Sharing,
}

impl ParameterSpec {
    /// A per-item parameter.
    pub fn own(name: impl Into<String>, kind: ParameterKind) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            kind,
            sharing: Sharing::PerItem,
        }
    }

    /// A parameter shared by every item naming `key`.
    pub fn shared(
        name: impl Into<String>,
        kind: ParameterKind,
        key: &'static str,
    ) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            kind,
            sharing: Sharing::Shared(key),
        }
    }
}

/// The log-odds of a divide-by-total model, linear in θ: `η_k = s_k·θ + t_k` and
/// `P_k = exp(η_k) / Σ_m exp(η_m)`, with the Jacobians of `s` and `t` with respect to the
/// parameters (row-major `K × n_parameters`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinearForm {
    /// Category slopes `s_k`.
    pub s: Vec<f64>,
    /// Category intercepts `t_k`.
    pub t: Vec<f64>,
    /// `∂s_k/∂ψ_m`.
    pub ds: Vec<f64>,
    /// `∂t_k/∂ψ_m`.
    pub dt: Vec<f64>,
    /// True when `s` and `t` are linear in the parameters (so `ds`, `dt` are constant and the
    /// complete-data Hessian is `−Σ n Cov(∂η)`): 2PL, Rasch, GPCM, PCM, rating scale.
    pub canonical: bool,
}

/// An item's parameters in IRT form on the metric given by the scaling constant D. With
/// `T = Option<f64>` the same shape holds standard errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IrtForm<T = f64> {
    /// Discrimination `a` (logit slope / D); `None` for types without one.
    pub a: Option<T>,
    /// Difficulties or thresholds `b` (one for right/wrong items).
    pub b: Vec<T>,
    /// Intercepts `d` on the logit scale (one for right/wrong items).
    pub d: Vec<T>,
    /// Lower asymptote `c`.
    pub c: Option<T>,
    /// Upper asymptote `u`.
    pub u: Option<T>,
    /// Category scoring slopes of the nominal model (`ak`), every category.
    pub ak: Vec<T>,
}

impl<T: Copy> IrtForm<T> {
    /// The numbers in a fixed order (a, b…, d…, c, u, ak…).
    pub fn flatten(&self) -> Vec<T> {
        let mut out = Vec::new();
        out.extend(self.a);
        out.extend(&self.b);
        out.extend(&self.d);
        out.extend(self.c);
        out.extend(self.u);
        out.extend(&self.ak);
        out
    }

    /// The inverse of [`IrtForm::flatten`]: values of another type in this form's shape.
    pub fn unflatten<U: Copy>(&self, values: &[U]) -> IrtForm<U> {
        let mut at = 0;
        let mut next = |n: usize| {
            let part = values[at..at + n].to_vec();
            at += n;
            part
        };
        IrtForm {
            a: self.a.map(|_| next(1)[0]),
            b: next(self.b.len()),
            d: next(self.d.len()),
            c: self.c.map(|_| next(1)[0]),
            u: self.u.map(|_| next(1)[0]),
            ak: next(self.ak.len()),
        }
    }
}

/// Everything type-specific about an item response model.
///
/// Parameters are in slope-intercept form on the logit scale (see the module docs); `p`, `d1`,
/// `d2` have one entry per category; `dp` is row-major `K × n_parameters`.
pub trait ItemModel: Send + Sync {
    /// The type.
    fn item_type(&self) -> ItemType;

    /// Checks that an item with `n_categories` categories can have this type.
    fn check_categories(&self, n_categories: usize) -> Result<(), String>;

    /// The parameters of an item with `n_categories` categories, in vector order.
    fn parameters(&self, n_categories: usize) -> Vec<ParameterSpec>;

    /// Category probabilities at θ.
    fn probabilities(&self, params: &[f64], theta: f64, p: &mut [f64]);

    /// Category probabilities and their derivatives with respect to the parameters.
    fn parameter_derivatives(&self, params: &[f64], theta: f64, p: &mut [f64], dp: &mut [f64]);

    /// Category probabilities and their first and second derivatives with respect to θ.
    fn theta_derivatives(
        &self,
        params: &[f64],
        theta: f64,
        p: &mut [f64],
        d1: &mut [f64],
        d2: &mut [f64],
    );

    /// The log-odds linear in θ, for divide-by-total models; `None` otherwise.
    fn linear_form(&self, _params: &[f64], _n_categories: usize) -> Option<LinearForm> {
        None
    }

    /// Start values from the observed category proportions (they sum to 1).
    fn start_values(&self, proportions: &[f64]) -> Vec<f64>;

    /// The same item on the metric `θ' = mean + sd·θ`: parameters whose curve over θ' equals
    /// this curve over θ.
    fn rescale(&self, params: &[f64], mean: f64, sd: f64) -> Vec<f64>;

    /// The IRT form of the parameters, with scaling constant D.
    fn irt_form(&self, params: &[f64], scaling: f64) -> IrtForm;

    /// Parameters from an IRT form (as read from a table or typed in).
    fn parameters_from_irt(
        &self,
        form: &IrtForm,
        n_categories: usize,
        scaling: f64,
    ) -> Result<Vec<f64>, String>;
}

/// Expected item score `Σ k·P_k` (categories scored 0, 1, …, K−1).
pub fn expected_score(p: &[f64]) -> f64 {
    p.iter().enumerate().map(|(k, pk)| k as f64 * pk).sum()
}

/// Item information at θ: `Σ_k (∂P_k/∂θ)² / P_k` (Samejima, 1969; for the 3PL this is
/// Birnbaum's formula).
pub fn information(model: &dyn ItemModel, params: &[f64], n_categories: usize, theta: f64) -> f64 {
    // Curves over many θ call this per item and point: the usual item fits on the stack.
    const ON_STACK: usize = 16;
    let sum = |p: &mut [f64], d1: &mut [f64], d2: &mut [f64]| {
        model.theta_derivatives(params, theta, p, d1, d2);
        p.iter()
            .zip(d1.iter())
            .filter(|(p, _)| **p > 1e-300)
            .map(|(p, d)| d * d / p)
            .sum()
    };
    if n_categories <= ON_STACK {
        let mut buffer = [0.0; 3 * ON_STACK];
        let (p, rest) = buffer.split_at_mut(ON_STACK);
        let (d1, d2) = rest.split_at_mut(ON_STACK);
        sum(
            &mut p[..n_categories],
            &mut d1[..n_categories],
            &mut d2[..n_categories],
        )
    } else {
        let mut buffer = vec![0.0; 3 * n_categories];
        let (p, rest) = buffer.split_at_mut(n_categories);
        let (d1, d2) = rest.split_at_mut(n_categories);
        sum(p, d1, d2)
    }
}

/// Parses a category list written as `1|2|3|4` (the items table's `categories` column).
pub fn parse_categories(text: &str) -> Vec<String> {
    text.split('|').map(|s| s.trim().to_string()).collect()
}

/// Writes a category list as `1|2|3|4`.
pub fn format_categories(categories: &[String]) -> String {
    categories.join("|")
}

/// A prior on an item parameter (MAP estimation of the parameter, as mirt's `parprior`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "lowercase")]
pub enum Prior {
    /// Normal(mean, sd).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Log-normal(meanlog, sdlog), for positive slopes.
    Lognormal {
        /// Mean of the log.
        meanlog: f64,
        /// Standard deviation of the log.
        sdlog: f64,
    },
    /// Beta(α, β), for asymptotes in (0, 1).
    Beta {
        /// First shape.
        alpha: f64,
        /// Second shape.
        beta: f64,
    },
}

impl Prior {
    /// Log density (up to a constant), its first and second derivatives at `x`.
    pub fn log_density(&self, x: f64) -> (f64, f64, f64) {
        match *self {
            Prior::Normal { mean, sd } => {
                let z = (x - mean) / sd;
                (-0.5 * z * z, -z / sd, -1.0 / (sd * sd))
            }
            Prior::Lognormal { meanlog, sdlog } => {
                if x <= 0.0 {
                    return (f64::NEG_INFINITY, 0.0, 0.0);
                }
                let l = x.ln();
                let v = sdlog * sdlog;
                let value = -l - (l - meanlog).powi(2) / (2.0 * v);
                let first = -1.0 / x - (l - meanlog) / (v * x);
                let second = 1.0 / (x * x) - (1.0 - (l - meanlog)) / (v * x * x);
                (value, first, second)
            }
            Prior::Beta { alpha, beta } => {
                if x <= 0.0 || x >= 1.0 {
                    let at_edge = (alpha == 1.0 && x <= 0.0) || (beta == 1.0 && x >= 1.0);
                    if at_edge {
                        return (0.0, 0.0, 0.0);
                    }
                    return (f64::NEG_INFINITY, 0.0, 0.0);
                }
                let value = (alpha - 1.0) * x.ln() + (beta - 1.0) * (1.0 - x).ln();
                let first = (alpha - 1.0) / x - (beta - 1.0) / (1.0 - x);
                let second = -(alpha - 1.0) / (x * x) - (beta - 1.0) / ((1.0 - x) * (1.0 - x));
                (value, first, second)
            }
        }
    }

    /// Checks the prior's own parameters.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            Prior::Normal { mean, sd } => mean.is_finite() && sd.is_finite() && sd > 0.0,
            Prior::Lognormal { meanlog, sdlog } => {
                meanlog.is_finite() && sdlog.is_finite() && sdlog > 0.0
            }
            Prior::Beta { alpha, beta } => {
                alpha.is_finite() && beta.is_finite() && alpha >= 1.0 && beta >= 1.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "prior {self}: the standard deviation must be positive and Beta shapes at least 1"
            ))
        }
    }

    /// Parses `normal(0,1)`, `lognormal(0,0.5)`, `beta(5,17)`.
    pub fn parse(text: &str) -> Result<Prior, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "prior \"{}\" must look like normal(0,1), lognormal(0,0.5), beta(5,17) or none",
                crate::text::shorten(text, 60)
            )
        };
        let open = text.find('(').ok_or_else(bad)?;
        let name = text[..open].trim().to_ascii_lowercase();
        let inner = text[open + 1..].strip_suffix(')').ok_or_else(bad)?;
        let numbers: Vec<f64> = inner
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if numbers.len() != 2 {
            return Err(bad());
        }
        let prior = match name.as_str() {
            "normal" | "norm" => Prior::Normal {
                mean: numbers[0],
                sd: numbers[1],
            },
            "lognormal" | "lnorm" => Prior::Lognormal {
                meanlog: numbers[0],
                sdlog: numbers[1],
            },
            "beta" => Prior::Beta {
                alpha: numbers[0],
                beta: numbers[1],
            },
            _ => return Err(bad()),
        };
        prior.validate()?;
        Ok(prior)
    }
}

impl std::fmt::Display for Prior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prior::Normal { mean, sd } => write!(f, "normal({mean},{sd})"),
            Prior::Lognormal { meanlog, sdlog } => write!(f, "lognormal({meanlog},{sdlog})"),
            Prior::Beta { alpha, beta } => write!(f, "beta({alpha},{beta})"),
        }
    }
}

/// The logistic function `1 / (1 + exp(−x))`, without overflow for large |x|.
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

#[cfg(test)]
pub(crate) mod checks {
    //! Finite-difference checks every model's tests run: the analytic derivatives with respect
    //! to the parameters and to θ, the linear form, the rescaling and the IRT round trip.

    use super::*;

    fn central(f: &dyn Fn(f64) -> Vec<f64>, x: f64) -> Vec<f64> {
        let h = 1e-6 * x.abs().max(1.0);
        let plus = f(x + h);
        let minus = f(x - h);
        plus.iter()
            .zip(&minus)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect()
    }

    /// Checks `model` at `params` for an item with `k` categories.
    pub fn check_model(model: &dyn ItemModel, params: &[f64], k: usize) {
        let n = params.len();
        assert_eq!(model.parameters(k).len(), n, "parameter count");
        for &theta in &[-2.3, -0.4, 0.0, 0.7, 2.9] {
            let mut p = vec![0.0; k];
            let mut dp = vec![0.0; k * n];
            model.parameter_derivatives(params, theta, &mut p, &mut dp);
            let total: f64 = p.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "probabilities sum to {total}");
            assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)));
            for m in 0..n {
                let numeric = central(
                    &|x| {
                        let mut q = params.to_vec();
                        q[m] = x;
                        let mut out = vec![0.0; k];
                        model.probabilities(&q, theta, &mut out);
                        out
                    },
                    params[m],
                );
                for c in 0..k {
                    let analytic = dp[c * n + m];
                    assert!(
                        (analytic - numeric[c]).abs() < 1e-6,
                        "{:?}: dP{c}/dψ{m} at θ={theta}: {analytic} vs {}",
                        model.item_type(),
                        numeric[c]
                    );
                }
            }
            let mut d1 = vec![0.0; k];
            let mut d2 = vec![0.0; k];
            model.theta_derivatives(params, theta, &mut p, &mut d1, &mut d2);
            let prob = |t: f64| {
                let mut out = vec![0.0; k];
                model.probabilities(params, t, &mut out);
                out
            };
            let numeric_d1 = central(&prob, theta);
            let deriv = |t: f64| {
                let (mut a, mut b, mut c) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
                model.theta_derivatives(params, t, &mut a, &mut b, &mut c);
                b
            };
            let numeric_d2 = central(&deriv, theta);
            for c in 0..k {
                assert!((d1[c] - numeric_d1[c]).abs() < 1e-6, "dP/dθ");
                assert!((d2[c] - numeric_d2[c]).abs() < 1e-5, "d²P/dθ²");
            }
            if let Some(form) = model.linear_form(params, k) {
                let eta: Vec<f64> = (0..k).map(|c| form.s[c] * theta + form.t[c]).collect();
                let max = eta.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = eta.iter().map(|e| (e - max).exp()).sum();
                for c in 0..k {
                    let pk = (eta[c] - max).exp() / z;
                    assert!((pk - p[c]).abs() < 1e-12, "linear form P{c}");
                }
                for m in 0..n {
                    let ds = central(
                        &|x| {
                            let mut q = params.to_vec();
                            q[m] = x;
                            model.linear_form(&q, k).map(|f| f.s).unwrap_or_default()
                        },
                        params[m],
                    );
                    let dt = central(
                        &|x| {
                            let mut q = params.to_vec();
                            q[m] = x;
                            model.linear_form(&q, k).map(|f| f.t).unwrap_or_default()
                        },
                        params[m],
                    );
                    for c in 0..k {
                        assert!((form.ds[c * n + m] - ds[c]).abs() < 1e-6, "ds");
                        assert!((form.dt[c * n + m] - dt[c]).abs() < 1e-6, "dt");
                    }
                }
            }
        }
        // Rescaling keeps the curve: P(θ) under params equals P(μ + σθ) under the rescaled.
        let (mean, sd) = (0.3, 1.7);
        let rescaled = model.rescale(params, mean, sd);
        for &theta in &[-1.0, 0.5, 2.0] {
            let mut p = vec![0.0; k];
            let mut q = vec![0.0; k];
            model.probabilities(params, theta, &mut p);
            model.probabilities(&rescaled, mean + sd * theta, &mut q);
            for c in 0..k {
                assert!((p[c] - q[c]).abs() < 1e-12, "rescale");
            }
        }
        // IRT form round trip.
        for scaling in [1.0, 1.702] {
            let form = model.irt_form(params, scaling);
            let back = model.parameters_from_irt(&form, k, scaling).unwrap();
            for (x, y) in params.iter().zip(&back) {
                assert!((x - y).abs() < 1e-9, "IRT round trip {params:?} → {back:?}");
            }
        }
    }
}
