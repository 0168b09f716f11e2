//! The EM loop (Bock & Aitkin, 1981) with SQUAREM acceleration (Varadhan & Roland, 2008, scheme
//! S3 with the monotonicity safeguard), and why it stopped.
//!
//! Convergence needs both the largest parameter change of an EM cycle below the tolerance
//! (measured on the reported scale, asymptotes as probabilities, as mirt does) and the
//! log-likelihood rising by less than the tolerance over that cycle: in a flat direction (a
//! guessing parameter drifting towards 0) EM takes small steps that still raise the
//! likelihood, and stopping there would stop short of the maximum.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::mstep::m_step;
use super::problem::Problem;
use crate::prediction::{PredictionError, Progress};

/// Why the EM loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// Parameters and log-likelihood stopped changing.
    Converged,
    /// The cycle limit was reached first.
    MaxCycles,
    /// Nothing to estimate (every item fixed).
    NothingToEstimate,
}

/// The outcome of EM.
pub(crate) struct EmOutcome {
    pub psi: Vec<f64>,
    pub cycles: usize,
    pub history: Vec<f64>,
    pub termination: Termination,
}

/// Settings of the loop.
pub(crate) struct EmSettings {
    pub tolerance: f64,
    pub max_cycles: usize,
    pub acceleration: bool,
}

struct Mapper<'a> {
    problem: &'a Problem,
    settings: &'a EmSettings,
    progress: &'a mut dyn FnMut(Progress),
    cancel: &'a AtomicBool,
    cycles: usize,
    history: Vec<f64>,
}

impl Mapper<'_> {
    /// One EM cycle: E-step at ψ, M-step. Returns (next ψ, log-likelihood at ψ).
    fn map(&mut self, psi: &[f64]) -> Result<(Vec<f64>, f64), PredictionError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(PredictionError::Cancelled);
        }
        let estep = self.problem.e_step(psi, false);
        let log_likelihood: f64 = estep.iter().map(|e| e.log_likelihood).sum();
        let next = m_step(&self.problem.layout, psi, &estep, self.problem.nodes());
        self.cycles += 1;
        self.history.push(log_likelihood);
        (self.progress)(Progress {
            cycle: self.cycles,
            max_cycles: self.settings.max_cycles,
            log_likelihood,
            standard_errors: None,
        });
        Ok((next, log_likelihood))
    }

    fn exhausted(&self) -> bool {
        self.cycles >= self.settings.max_cycles
    }
}

/// Runs EM from `start`.
pub(crate) fn run_em(
    problem: &Problem,
    start: Vec<f64>,
    settings: &EmSettings,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<EmOutcome, PredictionError> {
    if problem.layout.n_free() == 0 {
        return Ok(EmOutcome {
            psi: start,
            cycles: 0,
            history: Vec::new(),
            termination: Termination::NothingToEstimate,
        });
    }
    let layout = &problem.layout;
    let tolerance = settings.tolerance;
    let mut mapper = Mapper {
        problem,
        settings,
        progress,
        cancel,
        cycles: 0,
        history: Vec::new(),
    };
    let mut psi = start;
    let mut termination = Termination::MaxCycles;
    if settings.acceleration {
        while !mapper.exhausted() {
            let (p1, ll0) = mapper.map(&psi)?;
            if mapper.exhausted() {
                psi = p1;
                break;
            }
            let (p2, ll1) = mapper.map(&p1)?;
            if layout.max_change(&p1, &psi) < tolerance && ll1 - ll0 < tolerance {
                psi = p2;
                termination = Termination::Converged;
                break;
            }
            if mapper.exhausted() {
                psi = p2;
                break;
            }
            let r: Vec<f64> = p1.iter().zip(&psi).map(|(a, b)| a - b).collect();
            let v: Vec<f64> = p2
                .iter()
                .zip(&p1)
                .zip(&r)
                .map(|((c, b), r)| c - b - r)
                .collect();
            let rr: f64 = r.iter().map(|x| x * x).sum();
            let vv: f64 = v.iter().map(|x| x * x).sum();
            if vv <= 0.0 || !vv.is_finite() {
                psi = p2;
                continue;
            }
            let alpha = -(rr / vv).sqrt().max(1.0);
            let mut extrapolated: Vec<f64> = psi
                .iter()
                .zip(&r)
                .zip(&v)
                .map(|((p, r), v)| p - 2.0 * alpha * r + alpha * alpha * v)
                .collect();
            layout.clamp(&mut extrapolated);
            // A stabilising EM step from the extrapolated point, kept only when the likelihood
            // did not fall below where this round started.
            let (p3, ll_extrapolated) = mapper.map(&extrapolated)?;
            if ll_extrapolated.is_finite() && ll_extrapolated >= ll0 - 1e-8 * ll0.abs().max(1.0) {
                psi = p3;
            } else {
                psi = p2;
            }
        }
    } else {
        let mut previous: Option<(Vec<f64>, f64)> = None;
        while !mapper.exhausted() {
            let (next, ll) = mapper.map(&psi)?;
            if let Some((before, ll_before)) = &previous
                && layout.max_change(&psi, before) < tolerance
                && ll - ll_before < tolerance
            {
                termination = Termination::Converged;
                psi = next;
                break;
            }
            previous = Some((psi, ll));
            psi = next;
        }
    }
    Ok(EmOutcome {
        psi,
        cycles: mapper.cycles,
        history: mapper.history,
        termination,
    })
}
