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
/// Phase timings for maintainers: with the environment variable `IRTLAB_TRACE` set, prints the
/// milliseconds since the first call and `label` to stderr (`IRTLAB_TRACE=1 irtlab fit …`).
pub fn trace(label: &str) {
    static START: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();
    let start =
        START.get_or_init(|| std::env::var_os("IRTLAB_TRACE").map(|_| std::time::Instant::now()));
    if let Some(start) = start {
        eprintln!("{:>9.1} ms  {label}", start.elapsed().as_secs_f64() * 1e3);
    }
}
