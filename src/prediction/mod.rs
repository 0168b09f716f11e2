//! Prediction: IRT calibration by marginal maximum likelihood, ability scoring, item and test
//! information, probability tables, and the classical item statistics shown beside them.

pub mod classical;
pub mod estimation;
mod linalg;
pub mod model;
pub mod quadrature;
pub mod responses;
pub mod scoring;
pub mod simulation;
pub mod tables;

use std::sync::atomic::AtomicBool;

pub use classical::{ClassicalStatistics, ItemStatistics, classical_statistics};
pub use estimation::{
    Calibration, ExcludedItem, FitSettings, FittedItem, Guessing, StandardErrorMethod, calibrate,
};
pub use model::{ItemParameters, ModelKind};
pub use responses::ResponseMatrix;
pub use scoring::{
    PersonScore, ScoreFlag, ScoringMethod, ScoringOptions, align_items, score_persons,
};

/// What went wrong in the prediction stage.
#[derive(Debug, thiserror::Error)]
pub enum PredictionError {
    /// An item column holds something other than 0, 1 or missing.
    #[error("column \"{column}\" has values other than 0, 1 or missing: {values}")]
    NonBinary {
        /// The column.
        column: String,
        /// Up to five offending values.
        values: String,
    },
    /// A named column is not in the data.
    #[error("column \"{column}\" not found; columns are: {available}")]
    ColumnNotFound {
        /// The missing column.
        column: String,
        /// The columns there are.
        available: String,
    },
    /// Fewer than two items can be calibrated.
    #[error(
        "need at least 2 items with both correct and wrong responses to fit a model; {usable} usable, {excluded} left out"
    )]
    TooFewItems {
        /// Items that can be calibrated.
        usable: usize,
        /// Items left out (constant or unanswered).
        excluded: usize,
    },
    /// Fewer than two persons answered anything.
    #[error("need at least 2 persons with responses to fit a model, found {0}")]
    TooFewPersons(usize),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// The user cancelled the job.
    #[error("cancelled")]
    Cancelled,
    /// Malformed data.
    #[error("{0}")]
    Data(String),
}

/// Progress of a calibration, reported after every EM cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// EM cycles (E-steps) run so far.
    pub cycle: usize,
    /// The cycle limit.
    pub max_cycles: usize,
    /// Log-likelihood at the last E-step.
    pub log_likelihood: f64,
    /// While standard errors are computed after EM: parameters done and in all.
    pub standard_errors: Option<(usize, usize)>,
}

/// A complete analysis of one response matrix: calibration, classical statistics and scores.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The calibration.
    pub calibration: Calibration,
    /// Classical item statistics and alpha, over the calibrated items.
    pub classical: ClassicalStatistics,
    /// One score per person of the response matrix.
    pub scores: Vec<PersonScore>,
    /// How the scores were computed.
    pub scoring: ScoringOptions,
}

impl Analysis {
    /// The items table (see [`tables::items_table`]).
    pub fn items_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        tables::items_table(&self.calibration, &self.classical)
    }

    /// The scores table (see [`tables::scores_table`]).
    pub fn scores_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        tables::scores_table(&self.scores)
    }

    /// P(correct) per person × item at each person's θ estimate.
    pub fn person_probabilities_table(
        &self,
    ) -> Result<polars::prelude::DataFrame, PredictionError> {
        tables::person_probabilities_table(
            &self.calibration.item_parameters(),
            &self.scores,
            self.calibration.settings.scaling,
        )
    }
}

/// Calibrates, scores every person with `scoring`, and computes the classical statistics: the
/// whole prediction stage, shared by `irtlab fit`, `irtlab run` and the app.
pub fn analyse(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    scoring: ScoringMethod,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<Analysis, PredictionError> {
    let calibration = calibrate(responses, settings, progress, cancel)?;
    let items = calibration.item_parameters();
    let calibrated = align_items(responses, &items)?;
    let options = ScoringOptions {
        method: scoring,
        scaling: settings.scaling,
        latent_sd: calibration.theta_scale(),
        quadrature_points: settings.quadrature_points,
        theta_limit: settings.theta_limit,
    };
    let scores = score_persons(&calibrated, &items, &options)?;
    let classical = classical_statistics(&calibrated);
    Ok(Analysis {
        calibration,
        classical,
        scores,
        scoring: options,
    })
}
