//! An item with known parameters — fitted, loaded from a table or typed in — and what follows
//! from it at a θ: category probabilities, expected score, information; and the same for a
//! whole test (test information, test characteristic curve, conditional standard error).
//!
//! Parameters are kept in the item type's slope-intercept form on the logit scale (see
//! [`crate::prediction::items`]); the IRT form with a scaling constant D is produced on demand.

use serde::{Deserialize, Serialize};

use super::items::{self, IrtForm, ItemType};
use super::responses::MAX_CATEGORIES;

/// One item's model and parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemParameters {
    /// Item name, as in the data or the parameter table.
    pub item: String,
    /// The item type.
    pub model: ItemType,
    /// The original value of each category, in order (`["0", "1"]` for a right/wrong item).
    pub categories: Vec<String>,
    /// The type's parameter vector (slope-intercept form, logit scale).
    pub parameters: Vec<f64>,
}

impl ItemParameters {
    /// A right/wrong item in IRT form: `P = c + (1 − c) / (1 + exp(−D·a·(θ − b)))` — a 3PL when
    /// `c > 0`, a 2PL otherwise.
    pub fn dichotomous(
        item: impl Into<String>,
        a: f64,
        b: f64,
        c: f64,
        scaling: f64,
    ) -> ItemParameters {
        let slope = scaling * a;
        let (model, parameters) = if c > 0.0 {
            (ItemType::ThreePl, vec![slope, -slope * b, c])
        } else {
            (ItemType::TwoPl, vec![slope, -slope * b])
        };
        ItemParameters {
            item: item.into(),
            model,
            categories: vec!["0".into(), "1".into()],
            parameters,
        }
    }

    /// An item from its IRT form.
    pub fn from_irt(
        item: impl Into<String>,
        model: ItemType,
        categories: Vec<String>,
        form: &IrtForm,
        scaling: f64,
    ) -> Result<ItemParameters, String> {
        let item = item.into();
        let parameters = model
            .model()
            .parameters_from_irt(form, categories.len(), scaling)
            .map_err(|e| format!("item {}: {e}", crate::text::quoted(&item)))?;
        let result = ItemParameters {
            item,
            model,
            categories,
            parameters,
        };
        result.validate()?;
        Ok(result)
    }

    /// Number of categories.
    pub fn n_categories(&self) -> usize {
        self.categories.len()
    }

    /// Category probabilities at θ into `p`.
    pub fn probabilities_into(&self, theta: f64, p: &mut [f64]) {
        self.model.model().probabilities(&self.parameters, theta, p);
    }

    /// Category probabilities at θ.
    pub fn probabilities(&self, theta: f64) -> Vec<f64> {
        let mut p = vec![0.0; self.n_categories()];
        self.probabilities_into(theta, &mut p);
        p
    }

    /// The probability of the highest category (P(correct) for a right/wrong item).
    pub fn probability(&self, theta: f64) -> f64 {
        let p = self.probabilities(theta);
        p.last().copied().unwrap_or(0.0)
    }

    /// Expected item score `Σ k·P_k` (categories scored 0, 1, …).
    pub fn expected_score(&self, theta: f64) -> f64 {
        items::expected_score(&self.probabilities(theta))
    }

    /// Item information at θ.
    pub fn information(&self, theta: f64) -> f64 {
        items::information(
            self.model.model(),
            &self.parameters,
            self.n_categories(),
            theta,
        )
    }

    /// The IRT form with scaling constant D.
    pub fn irt(&self, scaling: f64) -> IrtForm {
        self.model.model().irt_form(&self.parameters, scaling)
    }

    /// The same item on the θ metric `θ' = mean + sd·θ`.
    pub fn rescaled(&self, mean: f64, sd: f64) -> ItemParameters {
        ItemParameters {
            parameters: self.model.model().rescale(&self.parameters, mean, sd),
            ..self.clone()
        }
    }

    /// Checks the parameters are usable: the right number of finite values for the type and
    /// categories, asymptotes inside (0, 1), probabilities defined.
    pub fn validate(&self) -> Result<(), String> {
        let name = crate::text::quoted(&self.item);
        let model = self.model.model();
        let k = self.n_categories();
        if !(2..=MAX_CATEGORIES).contains(&k) {
            return Err(format!(
                "item {name}: needs 2 to {MAX_CATEGORIES} categories, has {k}"
            ));
        }
        model
            .check_categories(k)
            .map_err(|e| format!("item {name}: {e}"))?;
        let expected = model.parameters(k).len();
        if self.parameters.len() != expected {
            return Err(format!(
                "item {name}: a {} item with {k} categories has {expected} parameters, got {}",
                self.model.label(),
                self.parameters.len()
            ));
        }
        if let Some(bad) = self.parameters.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "item {name}: parameters must be finite numbers, got {bad}"
            ));
        }
        let irt = self.irt(1.0);
        if let Some(c) = irt.c
            && !(0.0..1.0).contains(&c)
        {
            return Err(format!(
                "item {name}: guessing c must be in [0, 1), got {c}"
            ));
        }
        if let Some(u) = irt.u
            && !(u > irt.c.unwrap_or(0.0) && u <= 1.0)
        {
            return Err(format!(
                "item {name}: upper asymptote u must be in (c, 1], got {u}"
            ));
        }
        for theta in [-4.0, 0.0, 4.0] {
            let p = self.probabilities(theta);
            if p.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(format!(
                    "item {name}: the parameters give no valid probabilities (graded thresholds must increase)"
                ));
            }
        }
        Ok(())
    }
}

/// Test information: the sum of the items' information at θ.
pub fn test_information(items: &[ItemParameters], theta: f64) -> f64 {
    items.iter().map(|i| i.information(theta)).sum()
}

/// Test characteristic curve: the expected sum score at θ.
pub fn expected_score(items: &[ItemParameters], theta: f64) -> f64 {
    items.iter().map(|i| i.expected_score(theta)).sum()
}

/// Conditional standard error of measurement `1/√(test information)`; `None` where the
/// information is zero.
pub fn conditional_se(items: &[ItemParameters], theta: f64) -> Option<f64> {
    let info = test_information(items, theta);
    (info > 0.0).then(|| 1.0 / info.sqrt())
}

pub use items::{logistic, softplus};
