//! Preprocessing: an ordered list of editable steps (filter, recode, key scoring, column
//! operations, missing values, duplicates, casts) applied to the prepared table. Each step can be
//! disabled without being deleted; running the pipeline reports rows in → rows out per step, and
//! stops at the first failing step with the result of the steps before it still available.

pub mod step;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

pub use step::{
    CastTarget, Combine, Condition, FilterOp, Keep, KeyEntry, Mapping, Step, Unmatched,
};

/// A step in the pipeline, with its on/off switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineStep {
    /// Disabled steps are kept but skipped.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The step.
    pub step: Step,
}

fn enabled_by_default() -> bool {
    true
}

impl PipelineStep {
    /// An enabled step.
    pub fn new(step: Step) -> PipelineStep {
        PipelineStep {
            enabled: true,
            step,
        }
    }
}

/// A failing step: its position (1-based), kind and what went wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("step {position} ({kind}): {message}")]
pub struct PipelineError {
    /// 1-based position in the pipeline.
    pub position: usize,
    /// The kind of step, e.g. "Filter".
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// Whether the step ran (disabled and never-reached steps did not).
    pub ran: bool,
    /// Rows before the step.
    pub rows_in: usize,
    /// Rows after the step.
    pub rows_out: usize,
    /// Columns after the step.
    pub columns_out: usize,
    /// Their names (what the next step can use).
    pub column_names: Vec<String>,
    /// The step's error, if it failed.
    pub error: Option<String>,
    /// A warning, e.g. a filter that left no rows.
    pub warning: Option<String>,
}

/// The result of running a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineRun {
    /// The table after the last step that succeeded.
    pub output: DataFrame,
    /// The columns the first step saw.
    pub columns_in: Vec<String>,
    /// One report per step, in order.
    pub reports: Vec<StepReport>,
    /// The first failing step, if any; later steps did not run.
    pub error: Option<PipelineError>,
}

impl PipelineRun {
    /// The columns available to step `index` (0-based): the previous step's output.
    pub fn columns_before(&self, index: usize) -> &[String] {
        match index.checked_sub(1).and_then(|i| self.reports.get(i)) {
            Some(report) => &report.column_names,
            None => &self.columns_in,
        }
    }

    /// Warnings of the steps that ran.
    pub fn warnings(&self) -> Vec<String> {
        self.reports
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.warning.as_ref().map(|w| format!("step {}: {w}", i + 1)))
            .collect()
    }
}

/// Runs the enabled steps in order on `input`.
pub fn run_pipeline(input: DataFrame, steps: &[PipelineStep]) -> PipelineRun {
    let names = |frame: &DataFrame| -> Vec<String> {
        frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    };
    let columns_in = names(&input);
    let mut current = input;
    let mut reports = Vec::with_capacity(steps.len());
    let mut error = None;
    for (index, entry) in steps.iter().enumerate() {
        let rows_in = current.height();
        if !entry.enabled || error.is_some() {
            reports.push(StepReport {
                ran: false,
                rows_in,
                rows_out: rows_in,
                columns_out: current.width(),
                column_names: names(&current),
                error: None,
                warning: None,
            });
            continue;
        }
        match entry.step.apply(&current) {
            Ok(next) => {
                let warning = (next.height() == 0 && rows_in > 0)
                    .then(|| "no rows are left after this step".to_string());
                reports.push(StepReport {
                    ran: true,
                    rows_in,
                    rows_out: next.height(),
                    columns_out: next.width(),
                    column_names: names(&next),
                    error: None,
                    warning,
                });
                current = next;
            }
            Err(message) => {
                reports.push(StepReport {
                    ran: true,
                    rows_in,
                    rows_out: rows_in,
                    columns_out: current.width(),
                    column_names: names(&current),
                    error: Some(message.clone()),
                    warning: None,
                });
                error = Some(PipelineError {
                    position: index + 1,
                    kind: entry.step.kind_label(),
                    message,
                });
            }
        }
    }
    PipelineRun {
        output: current,
        columns_in,
        reports,
        error,
    }
}
