//! irtlab: Item Response Theory analysis in three stages — preparation (load a CSV, SQLite or
//! Parquet source and lay it out wide), preprocessing (an ordered list of editable steps that
//! turn it into a response matrix) and prediction (IRT calibration, scoring, probabilities) —
//! with export of the resulting tables. This library holds every computation; the desktop app
//! and the command line are thin views over it.

#![warn(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "gui")]
pub mod app;
pub mod export;
pub mod plots;
pub mod prediction;
pub mod preparation;
pub mod preprocessing;
pub mod project;
pub mod report;
pub mod report_sections;
pub mod serve;
pub mod text;

pub use prediction::{
    Analysis, Calibration, FitSettings, ItemParameters, ItemType, ResponseMatrix, ScoringMethod,
    analyse,
};
