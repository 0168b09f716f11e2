//! The settings of a calibration, validated up front. The defaults follow mirt: 61 quadrature
//! nodes on [−6, 6], tolerance 1e-4, at most 500 EM cycles, D = 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prediction::PredictionError;
use crate::prediction::items::{ItemType, ParameterKind, Prior};
use crate::prediction::model::ItemParameters;

/// How the lower asymptote `c` of 3PL and 4PL items is treated (kept for project files written
/// before per-parameter priors; `priors` can override the prior).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Guessing {
    /// Estimated with a Beta(alpha, beta) prior (the default Beta(5, 17) has mean 0.23).
    Prior {
        /// First shape parameter.
        alpha: f64,
        /// Second shape parameter.
        beta: f64,
    },
    /// Fixed at the given value for every item.
    Fixed {
        /// The value of `c`, in [0, 1).
        value: f64,
    },
}

impl Default for Guessing {
    fn default() -> Self {
        Guessing::Prior {
            alpha: 5.0,
            beta: 17.0,
        }
    }
}

/// How standard errors of the item parameters are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StandardErrorMethod {
    /// The inverse of the observed information (the negative Hessian of the marginal
    /// log-likelihood, plus log priors), computed exactly: analytically (Louis, 1982) for
    /// divide-by-total items, by differences of the analytic gradient (Oakes, 1999) otherwise.
    #[default]
    #[serde(alias = "hessian", alias = "oakes", alias = "louis")]
    Observed,
    /// The inverse of the cross-product ("empirical", XPD) information `Σ_p n_p g_p g_pᵀ`:
    /// asymptotically the same, a little noisier in small samples.
    #[serde(rename = "crossprod")]
    CrossProduct,
    /// No standard errors.
    None,
}

impl StandardErrorMethod {
    /// Every method, for menus.
    pub const ALL: [StandardErrorMethod; 3] = [
        StandardErrorMethod::Observed,
        StandardErrorMethod::CrossProduct,
        StandardErrorMethod::None,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StandardErrorMethod::Observed => "observed",
            StandardErrorMethod::CrossProduct => "crossprod",
            StandardErrorMethod::None => "none",
        }
    }

    /// Parses a method name (`hessian`, `oakes` and `louis` mean the observed information).
    pub fn parse(text: &str) -> Option<StandardErrorMethod> {
        match text.trim().to_ascii_lowercase().as_str() {
            "observed" | "hessian" | "oakes" | "louis" => Some(StandardErrorMethod::Observed),
            "crossprod" | "cross-product" | "xpd" => Some(StandardErrorMethod::CrossProduct),
            "none" => Some(StandardErrorMethod::None),
            _ => None,
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            StandardErrorMethod::Observed => "Observed information",
            StandardErrorMethod::CrossProduct => "Cross-product",
            StandardErrorMethod::None => "None",
        }
    }
}

/// A prior on one kind of parameter, for every item or one item; `prior: None` removes the
/// default (e.g. `c=none`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorSetting {
    /// The kind of parameter (`a`, `d`, `c`, `u`, `ak`).
    pub parameter: ParameterKind,
    /// One item, or every item when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The prior, or none.
    pub prior: Option<Prior>,
}

impl PriorSetting {
    /// Parses `c=beta(5,17)`, `a=lognormal(0,0.5)`, `c=none` or, for one item,
    /// `Q3:a=normal(1,0.3)`.
    pub fn parse(text: &str) -> Result<PriorSetting, String> {
        let (left, right) = text.split_once('=').ok_or_else(|| {
            format!(
                "prior \"{}\" must look like c=beta(5,17), a=lognormal(0,0.5), c=none or ITEM:a=normal(1,0.3)",
                crate::text::shorten(text, 60)
            )
        })?;
        let (item, kind) = match left.rsplit_once(':') {
            Some((item, kind)) => (Some(item.trim().to_string()), kind),
            None => (None, left),
        };
        let parameter = ParameterKind::parse(kind).ok_or_else(|| {
            format!(
                "unknown parameter \"{}\" in a prior; use a, d, c, u or ak",
                crate::text::shorten(kind, 30)
            )
        })?;
        let prior = if right.trim().eq_ignore_ascii_case("none") {
            None
        } else {
            Some(Prior::parse(right)?)
        };
        Ok(PriorSetting {
            parameter,
            item,
            prior,
        })
    }
}

/// Settings of a calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitSettings {
    /// The item type of every item without an override.
    pub model: ItemType,
    /// Per-item item types.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub item_models: BTreeMap<String, ItemType>,
    /// Priors by parameter kind (and item); later entries win.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priors: Vec<PriorSetting>,
    /// Items whose parameters are fixed (anchors): the rest are calibrated on their scale.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_items: Vec<ItemParameters>,
    /// Number of quadrature nodes (mirt: 61).
    pub quadrature_points: usize,
    /// Nodes span `[−theta_limit, theta_limit]` (mirt: 6).
    pub theta_limit: f64,
    /// Stop when the largest parameter change and the log-likelihood's rise over an EM cycle
    /// are both below this (mirt: 1e-4 on the parameters).
    pub tolerance: f64,
    /// At most this many EM cycles (E-steps) (mirt: 500).
    pub max_cycles: usize,
    /// Scaling constant D of the reported IRT form: 1 (logistic) or 1.702 (normal-ogive metric).
    pub scaling: f64,
    /// The lower asymptote's default prior, or a value fixing it.
    pub guessing: Guessing,
    /// How standard errors are computed.
    pub standard_errors: StandardErrorMethod,
    /// SQUAREM acceleration of EM; the fixed point (the estimates) is the same.
    pub acceleration: bool,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            model: ItemType::TwoPl,
            item_models: BTreeMap::new(),
            priors: Vec::new(),
            fixed_items: Vec::new(),
            quadrature_points: 61,
            theta_limit: 6.0,
            tolerance: 1e-4,
            max_cycles: 500,
            scaling: 1.0,
            guessing: Guessing::default(),
            standard_errors: StandardErrorMethod::Observed,
            acceleration: true,
        }
    }
}

impl FitSettings {
    /// The item type of item `name`.
    pub fn item_type(&self, name: &str) -> ItemType {
        self.item_models.get(name).copied().unwrap_or(self.model)
    }

    /// Every item type in use (the default and the overrides).
    pub fn types_in_use(&self) -> Vec<ItemType> {
        let mut types: Vec<ItemType> = std::iter::once(self.model)
            .chain(self.item_models.values().copied())
            .collect();
        types.sort();
        types.dedup();
        types
    }

    /// The prior of parameter kind `kind` of item `name` of type `item_type`: the last setting
    /// naming the item, else the last for every item, else the default (`c ~ beta(5, 17)` from
    /// `guessing`, `u ~ beta(17, 5)`, none otherwise).
    pub fn prior_for(&self, kind: ParameterKind, name: &str) -> Option<Prior> {
        let matching = |item_specific: bool| {
            self.priors.iter().rev().find(|p| {
                p.parameter == kind
                    && match &p.item {
                        Some(item) => item_specific && item == name,
                        None => !item_specific,
                    }
            })
        };
        if let Some(setting) = matching(true).or_else(|| matching(false)) {
            return setting.prior;
        }
        match kind {
            ParameterKind::LowerAsymptote => match self.guessing {
                Guessing::Prior { alpha, beta } => Some(Prior::Beta { alpha, beta }),
                Guessing::Fixed { .. } => None,
            },
            ParameterKind::UpperAsymptote => Some(Prior::Beta {
                alpha: 17.0,
                beta: 5.0,
            }),
            _ => None,
        }
    }

    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<(), PredictionError> {
        let bad = |what: String| Err(PredictionError::InvalidSetting(what));
        if !(5..=401).contains(&self.quadrature_points) {
            return bad(format!(
                "quadrature points must be between 5 and 401, got {}",
                self.quadrature_points
            ));
        }
        if !(self.theta_limit.is_finite() && self.theta_limit >= 1.0 && self.theta_limit <= 20.0) {
            return bad(format!(
                "theta limit must be between 1 and 20, got {}",
                self.theta_limit
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0) {
            return bad(format!(
                "tolerance must be a positive number below 1, got {}",
                self.tolerance
            ));
        }
        if self.max_cycles == 0 || self.max_cycles > 100_000 {
            return bad(format!(
                "max cycles must be between 1 and 100,000, got {}",
                self.max_cycles
            ));
        }
        if !(self.scaling.is_finite() && self.scaling > 0.0 && self.scaling <= 10.0) {
            return bad(format!(
                "scaling D must be a positive number (1 or 1.702), got {}",
                self.scaling
            ));
        }
        match self.guessing {
            Guessing::Prior { alpha, beta } => {
                if let Err(reason) = (Prior::Beta { alpha, beta }).validate() {
                    return bad(format!("guessing {reason}"));
                }
            }
            Guessing::Fixed { value } => {
                if !(0.0..1.0).contains(&value) {
                    return bad(format!("fixed guessing c must be in [0, 1), got {value}"));
                }
            }
        }
        for setting in &self.priors {
            if let Some(prior) = setting.prior
                && let Err(reason) = prior.validate()
            {
                return bad(reason);
            }
        }
        for item in &self.fixed_items {
            item.validate().map_err(PredictionError::InvalidSetting)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priors_parse_and_resolve() {
        let mut settings = FitSettings::default();
        assert_eq!(
            settings.prior_for(ParameterKind::LowerAsymptote, "Q1"),
            Some(Prior::Beta {
                alpha: 5.0,
                beta: 17.0
            })
        );
        settings.priors.push(PriorSetting::parse("c=none").unwrap());
        settings
            .priors
            .push(PriorSetting::parse("Item.2:c=beta(2,10)").unwrap());
        settings
            .priors
            .push(PriorSetting::parse("a = lognormal(0, 0.5)").unwrap());
        assert_eq!(
            settings.prior_for(ParameterKind::LowerAsymptote, "Q1"),
            None
        );
        assert_eq!(
            settings.prior_for(ParameterKind::LowerAsymptote, "Item.2"),
            Some(Prior::Beta {
                alpha: 2.0,
                beta: 10.0
            })
        );
        assert!(matches!(
            settings.prior_for(ParameterKind::Slope, "x"),
            Some(Prior::Lognormal { .. })
        ));
        assert!(PriorSetting::parse("c=beta(0,1)").is_err());
        assert!(PriorSetting::parse("q=normal(0,1)").is_err());
        assert!(PriorSetting::parse("c").is_err());
    }
}
