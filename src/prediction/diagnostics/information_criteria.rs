//! Information criteria of a fit, from its log-likelihood `ℓ`, free parameters `k` and persons
//! `N` (as mirt's fit summary and `anova`):
//!
//! - AIC `= −2ℓ + 2k` (Akaike, 1974);
//! - AICc `= AIC + 2k(k + 1)/(N − k − 1)` (Hurvich & Tsai, 1989; NaN when N ≤ k + 1);
//! - BIC `= −2ℓ + k ln N` (Schwarz, 1978);
//! - SABIC `= −2ℓ + k ln((N + 2)/24)` (sample-size adjusted, Sclove, 1987);
//! - HQ `= −2ℓ + 2k ln ln N` (Hannan & Quinn, 1979).
//!
//! The log-likelihood is the marginal likelihood without the priors' densities, so with priors
//! (a 3PL's default Beta prior on c) the criteria describe the MAP estimates' likelihood.

use serde::{Deserialize, Serialize};

/// Information criteria of one fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InformationCriteria {
    /// Marginal log-likelihood.
    pub log_likelihood: f64,
    /// Free parameters k.
    pub parameters: usize,
    /// Persons N.
    pub persons: usize,
    /// Akaike's criterion.
    pub aic: f64,
    /// AIC corrected for small samples.
    pub aicc: f64,
    /// Bayesian (Schwarz) criterion.
    pub bic: f64,
    /// Sample-size-adjusted BIC.
    pub sabic: f64,
    /// Hannan–Quinn criterion.
    pub hq: f64,
}

/// The criteria of a fit with log-likelihood `log_likelihood`, `parameters` free parameters and
/// `persons` persons.
pub fn information_criteria(
    log_likelihood: f64,
    parameters: usize,
    persons: usize,
) -> InformationCriteria {
    let k = parameters as f64;
    let n = persons as f64;
    let deviance = -2.0 * log_likelihood;
    let aic = deviance + 2.0 * k;
    let aicc = if n - k - 1.0 > 0.0 {
        aic + 2.0 * k * (k + 1.0) / (n - k - 1.0)
    } else {
        f64::NAN
    };
    InformationCriteria {
        log_likelihood,
        parameters,
        persons,
        aic,
        aicc,
        bic: deviance + k * n.ln(),
        sabic: deviance + k * ((n + 2.0) / 24.0).ln(),
        hq: deviance + 2.0 * k * n.ln().ln(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsat7_2pl_criteria() {
        // mirt: LSAT7 2PL, logLik −2658.805114, k = 10, N = 1000.
        let c = information_criteria(-2658.805114, 10, 1000);
        assert!((c.aic - 5337.610).abs() < 1e-3);
        assert!((c.aicc - 5337.833).abs() < 1e-3);
        assert!((c.bic - 5386.688).abs() < 1e-3);
        assert!((c.sabic - 5354.927).abs() < 1e-3);
    }
}
