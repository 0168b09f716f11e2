//! Marginal maximum likelihood calibration by EM over a fixed quadrature (Bock & Aitkin, 1981),
//! for every item type and any mix of them, with SQUAREM acceleration, priors on the item
//! parameters (MAP), anchored items, and standard errors from the exact observed information.
//!
//! The pieces, in the order a calibration runs them:
//!
//! - [`settings`]: what the user asked for, validated;
//! - `setup`: which items can be calibrated, their types, categories and anchors, and the
//!   parameter layout (`layout`) — where every free parameter lives;
//! - `estep`: the posterior of every response pattern over the nodes and the expected counts,
//!   written so that the hot loop is a few sums per pattern (see its docs);
//! - `mstep`: per-item Fisher scoring with bounds, shared parameters jointly, latent moments;
//! - `em`: the loop, SQUAREM and why it stopped ([`Termination`]);
//! - `standard_errors`: the observed information, analytic where the item types allow;
//! - `result`: the fitted items and their IRT form, warnings ([`FitWarning`]).

pub(crate) mod em;
pub(crate) mod estep;
pub(crate) mod layout;
pub(crate) mod mstep;
pub(crate) mod multigroup;
pub(crate) mod problem;
pub(crate) mod result;
pub mod settings;
pub(crate) mod setup;
pub(crate) mod standard_errors;

use std::sync::atomic::AtomicBool;

pub use em::Termination;
pub use result::{Calibration, ExcludedItem, FitWarning, FittedItem};
pub use settings::{FitSettings, Guessing, PriorSetting, StandardErrorMethod};

use super::{PredictionError, Progress};
use estep::EStep;

/// Calibrates the items of `responses` as `settings` say, by marginal maximum likelihood.
///
/// Items that everyone answered the same way (or nobody answered) are left out with a warning
/// and listed in [`Calibration::excluded_items`]; persons with no responses to the remaining
/// items are left out and counted. `progress` is called after every E-step and while standard
/// errors are computed; setting `cancel` stops the fit with [`PredictionError::Cancelled`].
pub fn calibrate(
    responses: &crate::prediction::ResponseMatrix,
    settings: &FitSettings,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<Calibration, PredictionError> {
    let setup = setup::problem(responses, settings)?;
    crate::trace("calibration: set up");
    check_standard_error_memory(&setup, settings)?;
    let start = setup.start_values();
    let em_settings = em::EmSettings {
        tolerance: settings.tolerance,
        max_cycles: settings.max_cycles,
        acceleration: settings.acceleration,
    };
    let outcome = em::run_em(&setup.problem, start, &em_settings, progress, cancel)?;
    crate::trace("calibration: EM done");
    let final_estep = setup.problem.e_step(&outcome.psi, false);
    let log_likelihood: f64 = final_estep.iter().map(|e| e.log_likelihood).sum();
    crate::trace("calibration: log-likelihood");
    let (covariance, route, warnings) = standard_errors(
        &setup,
        &outcome.psi,
        &final_estep,
        settings,
        outcome.cycles,
        progress,
        cancel,
    )?;
    crate::trace("calibration: standard errors");
    Ok(result::assemble(
        setup,
        settings,
        outcome.psi,
        outcome.cycles,
        outcome.history,
        outcome.termination,
        log_likelihood,
        covariance,
        route,
        warnings,
    ))
}

/// Refuses up front a standard-error computation that would not fit in memory.
fn check_standard_error_memory(
    setup: &setup::Setup,
    settings: &FitSettings,
) -> Result<(), PredictionError> {
    if settings.standard_errors == StandardErrorMethod::None {
        return Ok(());
    }
    let n = setup.problem.layout.n_free();
    let bytes = standard_errors::standard_error_bytes(n);
    if bytes > standard_errors::STANDARD_ERROR_MEMORY_LIMIT {
        return Err(PredictionError::TooLarge(format!(
            "the standard errors of {n} parameters need {} of memory; use --se none (or fewer items)",
            crate::text::human_bytes(bytes)
        )));
    }
    Ok(())
}

type StandardErrors = (Option<Vec<f64>>, Option<String>, Vec<FitWarning>);

/// The standard errors at the estimates ψ, with `estep` the E-step there.
fn standard_errors(
    setup: &setup::Setup,
    psi: &[f64],
    estep: &[EStep],
    settings: &FitSettings,
    cycles: usize,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<StandardErrors, PredictionError> {
    let log_likelihood: f64 = estep.iter().map(|e| e.log_likelihood).sum();
    let problem = &setup.problem;
    let layout = &problem.layout;
    if layout.n_free() == 0 {
        return Ok((None, None, Vec::new()));
    }
    let mut report = |done: usize, total: usize| {
        progress(Progress {
            cycle: cycles,
            max_cycles: settings.max_cycles,
            log_likelihood,
            standard_errors: Some((done, total)),
        })
    };
    let (information, route) = match settings.standard_errors {
        StandardErrorMethod::None => return Ok((None, None, Vec::new())),
        StandardErrorMethod::Observed if standard_errors::analytic_applies(problem) => (
            standard_errors::louis_information(problem, psi, estep, &mut report, cancel)?,
            "observed information (analytic, Louis 1982)",
        ),
        StandardErrorMethod::Observed if standard_errors::pairwise_applies(problem) => (
            standard_errors::pairwise_louis_information(problem, psi, &mut report, cancel)?,
            "observed information (analytic, Louis 1982)",
        ),
        StandardErrorMethod::Observed => (
            standard_errors::numerical_information(problem, psi, &mut report, cancel)?,
            "observed information (differences of the analytic gradient, Oakes 1999)",
        ),
        StandardErrorMethod::CrossProduct => {
            let information = standard_errors::crossproduct_information(problem, psi, cancel)?;
            report(1, 1);
            (information, "cross-product (empirical) information")
        }
    };
    // Parameters at a bound are held: no standard error.
    let held: Vec<bool> = layout
        .free
        .iter()
        .zip(psi)
        .map(|(p, &v)| v <= p.bounds.0 + 1e-6 || v >= p.bounds.1 - 1e-6)
        .collect();
    match standard_errors::covariance(&information, &held) {
        Some(covariance) => Ok((Some(covariance), Some(route.to_string()), Vec::new())),
        None => Ok((
            None,
            None,
            vec![FitWarning::StandardErrorsUnavailable(
                "the information matrix is not positive definite (the model may be poorly identified)".into(),
            )],
        )),
    }
}
