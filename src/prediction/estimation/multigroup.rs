//! Multiple-group calibration: the EM of a single group run over several groups' response
//! patterns at once. Each group has its own copy of every item's parameters and its own latent
//! distribution; the layout decides which copies are one free parameter (equal across groups)
//! and which latent means and variances are estimated. mirt's `multipleGroup()` works the same
//! way (Chalmers, 2012): the quadrature grid is fixed and shared, each group's prior is the
//! normal density renormalised on it, the expected counts of an item equal across groups are
//! pooled in the M-step (the gradient of a shared parameter is the sum over its copies), and the
//! latent moments have closed forms (see `mstep`).

use std::sync::atomic::AtomicBool;

use super::em::{self, Termination};
use super::layout::LayoutValues;
use super::result::FitWarning;
use super::settings::FitSettings;
use super::setup::{self, GroupDesign, Setup};
use crate::prediction::{PredictionError, Progress, ResponseMatrix};

/// A fitted multiple-group model as the library works with it (the public form is
/// `groups::GroupCalibration`).
pub(crate) struct GroupRun {
    pub setup: Setup,
    /// Free parameters at the estimates.
    pub psi: Vec<f64>,
    /// Marginal log-likelihood, summed over groups.
    pub log_likelihood: f64,
    pub cycles: usize,
    pub termination: Termination,
    /// Covariance of ψ (row-major), when standard errors were asked for and available.
    pub covariance: Option<Vec<f64>>,
    pub standard_error_route: Option<String>,
    /// Setup and standard-error warnings.
    pub warnings: Vec<FitWarning>,
    /// Per group and pattern: posterior mean and SD of θ (estimation metric), when asked for.
    pub moments: Vec<Vec<(f64, f64)>>,
}

impl GroupRun {
    /// Number of free parameters.
    pub fn n_parameters(&self) -> usize {
        self.setup.problem.layout.n_free()
    }

    /// The fit's values, to start another fit of the same items from.
    pub fn values(&self) -> LayoutValues {
        self.setup.problem.layout.values(&self.psi)
    }
}

/// Fits the multiple-group model `design` describes. `start` gives start values from an
/// earlier fit of the same items (ignored when its shape differs); `want_moments` keeps every
/// pattern's posterior mean and SD.
pub(crate) fn run_groups(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    design: &GroupDesign<'_>,
    start: Option<&LayoutValues>,
    want_moments: bool,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<GroupRun, PredictionError> {
    settings.validate()?;
    let setup = setup::group_problem(responses, settings, design)?;
    super::check_standard_error_memory(&setup, settings)?;
    let start = start
        .and_then(|values| setup.problem.layout.psi_from(values))
        .unwrap_or_else(|| setup.start_values());
    let em_settings = em::EmSettings {
        tolerance: settings.tolerance,
        max_cycles: settings.max_cycles,
        acceleration: settings.acceleration,
    };
    let outcome = em::run_em(&setup.problem, start, &em_settings, progress, cancel)?;
    let final_estep = setup.problem.e_step(&outcome.psi, want_moments);
    let log_likelihood: f64 = final_estep.iter().map(|e| e.log_likelihood).sum();
    let (covariance, route, mut warnings) = super::standard_errors(
        &setup,
        &outcome.psi,
        &final_estep,
        settings,
        outcome.cycles,
        progress,
        cancel,
    )?;
    let moments = final_estep
        .into_iter()
        .map(|e| e.moments.unwrap_or_default())
        .collect();
    let mut all_warnings = setup.warnings.clone();
    all_warnings.append(&mut warnings);
    if outcome.termination == Termination::MaxCycles {
        all_warnings.push(FitWarning::NotConverged {
            cycles: outcome.cycles,
            tolerance: settings.tolerance,
        });
    }
    Ok(GroupRun {
        setup,
        psi: outcome.psi,
        log_likelihood,
        cycles: outcome.cycles,
        termination: outcome.termination,
        covariance,
        standard_error_route: route,
        warnings: all_warnings,
        moments,
    })
}
