//! Prediction: IRT calibration by marginal maximum likelihood for every common item type,
//! ability scoring, item and test information, probability tables, and the classical item
//! statistics shown beside them.

// The numerical code indexes several parallel arrays by the same category, node or parameter;
// index loops say that more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

pub mod classical;
pub mod diagnostics;
pub mod dif;
pub mod distractors;
pub mod distributions;
pub mod estimation;
pub mod groups;
pub mod items;
mod linalg;
pub mod model;
pub mod p_adjust;
pub mod quadrature;
pub mod responses;
pub mod scoring;
pub mod simulation;
pub mod special_functions;
pub mod tables;

use std::sync::atomic::AtomicBool;

pub use classical::{
    ClassicalAnalysis, ClassicalSettings, ClassicalStatistics, ItemStatistics, classical_analysis,
    classical_statistics,
};
pub use distractors::{
    DistractorAnalysis, DistractorFlag, DistractorSettings, distractor_analysis,
};
pub use estimation::{
    Calibration, ExcludedItem, FitSettings, FitWarning, FittedItem, Guessing, PriorSetting,
    StandardErrorMethod, Termination, calibrate,
};
pub use items::{ItemType, ParameterKind, Prior};
pub use model::ItemParameters;
pub use responses::ResponseMatrix;
pub use scoring::{
    PersonScore, ScoreFlag, ScoringMethod, ScoringOptions, align_items, score_persons,
};

/// What went wrong in the prediction stage.
#[derive(Debug, thiserror::Error)]
pub enum PredictionError {
    /// An item column has more distinct values than an item can have categories.
    #[error(
        "column \"{column}\" has {count} or more distinct values; an item can have at most 100 categories (is it an item?)"
    )]
    TooManyCategories {
        /// The column.
        column: String,
        /// How many distinct values were seen.
        count: usize,
    },
    /// An item's categories do not suit its type.
    #[error("item \"{item}\": {reason}")]
    ItemType {
        /// The item.
        item: String,
        /// Why.
        reason: String,
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
        "need at least 2 items with responses in two or more categories to fit a model; {usable} usable, {excluded} left out"
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
    /// A computation would need more memory than is sensible, said before it starts.
    #[error("{0}")]
    TooLarge(String),
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
    /// While standard errors are computed after EM: steps done and in all.
    pub standard_errors: Option<(usize, usize)>,
}

/// A complete analysis of one response matrix: calibration, classical statistics and scores.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The calibration.
    pub calibration: Calibration,
    /// Classical item statistics and alpha, over the calibrated items.
    pub classical: ClassicalStatistics,
    /// The full classical analysis of the calibrated items (default settings), whose standard
    /// scores the scores table carries.
    pub classical_analysis: ClassicalAnalysis,
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

    /// The scores table (see [`tables::scores_table`]) with each person's standard scores
    /// (`z_score, t_score, percentile, success_rate`, see [`classical`]).
    pub fn scores_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        let mut frame = tables::scores_table(&self.scores)?;
        self.classical_analysis.add_standard_scores(&mut frame)?;
        Ok(frame)
    }

    /// Category probabilities per person × item at each person's θ estimate.
    pub fn person_probabilities_table(
        &self,
    ) -> Result<polars::prelude::DataFrame, PredictionError> {
        tables::person_probabilities_table(&self.calibration.item_parameters(), &self.scores)
    }

    /// Expected item scores per person × item at each person's θ estimate.
    pub fn expected_scores_table(&self) -> Result<polars::prelude::DataFrame, PredictionError> {
        tables::expected_scores_table(&self.calibration.item_parameters(), &self.scores)
    }
}

/// The scoring options that match a calibration: its latent distribution and quadrature.
pub fn scoring_options(calibration: &Calibration, method: ScoringMethod) -> ScoringOptions {
    ScoringOptions {
        method,
        latent_mean: calibration.latent_mean,
        latent_sd: calibration.theta_scale(),
        quadrature_points: calibration.settings.quadrature_points,
        theta_limit: calibration.settings.theta_limit,
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
    complete_analysis(responses, calibration, scoring)
}

/// The person-level half of [`analyse`] for a calibration of `responses`: every person scored
/// with `scoring`, and the classical statistics.
pub fn complete_analysis(
    responses: &ResponseMatrix,
    calibration: Calibration,
    scoring: ScoringMethod,
) -> Result<Analysis, PredictionError> {
    let items = calibration.item_parameters();
    let calibrated = align_items(responses, &items)?;
    let options = scoring_options(&calibration, scoring);
    let scores = score_persons(&calibrated, &items, &options)?;
    crate::trace("persons scored");
    let classical_analysis = classical_analysis(&calibrated, &ClassicalSettings::default())?;
    crate::trace("classical statistics");
    Ok(Analysis {
        calibration,
        classical: classical_analysis.statistics(),
        classical_analysis,
        scores,
        scoring: options,
    })
}
