//! Preprocessing: an ordered list of editable steps (filter, recode, key scoring, column
//! operations, missing values, duplicates, casts) applied to the prepared table. Each step can be
//! disabled without being deleted; running the pipeline reports rows in → rows out per step, and
//! stops at the first failing step with the result of the steps before it still available.

pub mod step;

use polars::prelude::{BooleanChunked, Column, DataFrame, DataType, NewChunkedArray};
use serde::{Deserialize, Serialize};

use crate::preparation::sparse::{SparseResponses, StepEffect};

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
    /// What a step just added still needs (it was skipped, not failed).
    pub incomplete: Option<String>,
}

/// The table a score-by-key step received, and its key: the unscored answers the distractor
/// analysis reads.
#[derive(Clone, Debug)]
pub struct ScoreKeyInput {
    /// The step's position in the pipeline (0-based).
    pub index: usize,
    /// The table before the step (for long data held sparse: the person columns).
    pub frame: DataFrame,
    /// Long data held sparse: the responses before the step.
    pub sparse: Option<SparseResponses>,
    /// The step's key.
    pub key: Vec<KeyEntry>,
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
    /// Long data held sparse: the responses after the steps (persons are rows of `output`).
    pub sparse: Option<SparseResponses>,
    /// The input of the last score-by-key step that ran.
    pub score_key_input: Option<ScoreKeyInput>,
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
    run_pipeline_with(input, None, steps)
}

/// The hidden column that tracks each person's original row while steps run on sparse data.
const ROW: &str = "__irtlab_row";

fn names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n != ROW)
        .collect()
}

/// Applies one step to the person table and, when it touches items, to the sparse responses.
fn apply_step(
    step: &Step,
    frame: &DataFrame,
    sparse: Option<&mut SparseResponses>,
    n_original: usize,
) -> Result<DataFrame, String> {
    let Some(sparse) = sparse else {
        return step.apply(frame);
    };
    if !sparse.touches_items(step) {
        return step.apply(frame);
    }
    let person_columns = names(frame);
    match sparse.apply_step(step, &person_columns, n_original)? {
        StepEffect::None => Ok(frame.clone()),
        StepEffect::KeepPersons(keep) => {
            let rows = frame
                .column(ROW)
                .map_err(|e| e.to_string())?
                .u32()
                .map_err(|e| e.to_string())?
                .clone();
            let mask: Vec<bool> = rows
                .iter()
                .map(|r| r.is_some_and(|r| keep[r as usize]))
                .collect();
            let mask = BooleanChunked::from_slice("keep".into(), &mask);
            frame.filter(&mask).map_err(|e| e.to_string())
        }
        StepEffect::SelectPersonColumns(mut columns) => {
            columns.push(ROW.to_string());
            frame
                .select(columns.iter().map(|c| c.as_str()))
                .map_err(|e| e.to_string())
        }
        StepEffect::DropPersonColumns(columns) => {
            Ok(frame.drop_many(columns.iter().map(|c| c.as_str())))
        }
        StepEffect::RenamePersonColumns(mapping) => {
            if mapping.is_empty() {
                Ok(frame.clone())
            } else {
                Step::RenameColumns { mapping }.apply(frame)
            }
        }
    }
}

/// Makes sparse responses follow the persons that remain in `frame` (rows tracked by the hidden
/// row column, which then goes).
fn follow_persons(
    frame: DataFrame,
    responses: &mut SparseResponses,
    n_original: usize,
) -> DataFrame {
    if let Ok(rows) = frame.column(ROW).and_then(|c| c.cast(&DataType::UInt32))
        && let Ok(rows) = rows.u32()
    {
        let mut new_row = vec![None; n_original];
        for (position, original) in rows.iter().enumerate() {
            if let Some(original) = original {
                new_row[original as usize] = Some(position as u32);
            }
        }
        responses.remap_persons(&new_row);
        return frame.drop_many([ROW]);
    }
    frame
}

/// Runs the enabled steps in order on `input`, whose responses may be held sparse (then
/// `input` holds the person columns, one row per person).
pub fn run_pipeline_with(
    input: DataFrame,
    sparse: Option<SparseResponses>,
    steps: &[PipelineStep],
) -> PipelineRun {
    let n_original = input.height();
    let mut sparse = sparse;
    let mut current = input;
    if sparse.is_some() {
        let rows = Column::new(ROW.into(), (0..n_original as u32).collect::<Vec<u32>>());
        if let Err(e) = current.with_column(rows) {
            return PipelineRun {
                columns_in: names(&current),
                output: current,
                reports: Vec::new(),
                error: Some(PipelineError {
                    position: 0,
                    kind: "Layout",
                    message: e.to_string(),
                }),
                sparse,
                score_key_input: None,
            };
        }
    }
    let all_names = |frame: &DataFrame, sparse: &Option<SparseResponses>| -> Vec<String> {
        let mut out = names(frame);
        if let Some(sparse) = sparse {
            out.extend(sparse.item_names.iter().cloned());
        }
        out
    };
    let columns_in = all_names(&current, &sparse);
    let mut reports = Vec::with_capacity(steps.len());
    let mut error = None;
    let mut score_key_input = None;
    for (index, entry) in steps.iter().enumerate() {
        let rows_in = current.height();
        let width = |frame: &DataFrame, sparse: &Option<SparseResponses>| {
            names(frame).len() + sparse.as_ref().map_or(0, |s| s.item_names.len())
        };
        let incomplete = entry.step.incomplete();
        if !entry.enabled || error.is_some() || incomplete.is_some() {
            reports.push(StepReport {
                ran: false,
                rows_in,
                rows_out: rows_in,
                columns_out: width(&current, &sparse),
                column_names: all_names(&current, &sparse),
                error: None,
                warning: None,
                incomplete: incomplete
                    .filter(|_| entry.enabled && error.is_none())
                    .map(str::to_string),
            });
            continue;
        }
        let before = sparse.clone();
        let key_input = match &entry.step {
            Step::ScoreKey { key } => Some(ScoreKeyInput {
                index,
                frame: current.clone(),
                sparse: sparse.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        match apply_step(&entry.step, &current, sparse.as_mut(), n_original) {
            Ok(next) => {
                if key_input.is_some() {
                    score_key_input = key_input;
                }
                let warning = (next.height() == 0 && rows_in > 0)
                    .then(|| "no rows are left after this step".to_string());
                reports.push(StepReport {
                    ran: true,
                    rows_in,
                    rows_out: next.height(),
                    columns_out: width(&next, &sparse),
                    column_names: all_names(&next, &sparse),
                    error: None,
                    warning,
                    incomplete: None,
                });
                current = next;
            }
            Err(message) => {
                sparse = before;
                reports.push(StepReport {
                    ran: true,
                    rows_in,
                    rows_out: rows_in,
                    columns_out: width(&current, &sparse),
                    column_names: all_names(&current, &sparse),
                    error: Some(message.clone()),
                    warning: None,
                    incomplete: None,
                });
                error = Some(PipelineError {
                    position: index + 1,
                    kind: entry.step.kind_label(),
                    message,
                });
            }
        }
    }
    // Sparse responses follow the persons that remain, then the tracking column goes.
    if let Some(responses) = sparse.as_mut() {
        current = follow_persons(current, responses, n_original);
    }
    if let Some(input) = score_key_input.as_mut()
        && let Some(responses) = input.sparse.as_mut()
    {
        input.frame = follow_persons(input.frame.clone(), responses, n_original);
    }
    PipelineRun {
        output: current,
        columns_in,
        reports,
        error,
        sparse,
        score_key_input,
    }
}
