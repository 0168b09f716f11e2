//! The stages down the left of the window, each a part: its sidebar status line and its panel.
//! A part keeps its own panel state; it reads the app's state through a [`StageContext`],
//! edits the project through it (marking the edit), and asks for everything else by sending
//! commands. Adding a stage is one file implementing [`StagePart`] and one entry in
//! [`StageId`] and [`parts`].

pub mod classical;
pub mod dif;
pub mod export;
pub mod model_fit;
pub mod plots;
pub mod prediction;
pub mod preparation;
pub mod preprocessing;

use std::path::Path;

use eframe::egui;
use serde::{Deserialize, Serialize};

use super::JobOutput;
use super::commands::{Command, CommandQueue, Edit};
use super::dialogs::DialogPurpose;
use super::jobs::JobQueue;
use super::state::{AppSettings, AppState, Inputs};

/// The stages, in the order of the analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum StageId {
    /// Source and layout.
    #[default]
    Preparation,
    /// The steps.
    Preprocessing,
    /// Classical item and test statistics, distractors.
    Classical,
    /// Fit or enter parameters.
    Prediction,
    /// Item fit, model fit, local dependence, reliability, model comparison.
    Fit,
    /// Differential item functioning between two groups.
    Dif,
    /// Curves.
    Plots,
    /// Tables to files.
    Export,
}

impl StageId {
    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            StageId::Preparation => "Preparation",
            StageId::Preprocessing => "Preprocessing",
            StageId::Prediction => "Prediction",
            StageId::Classical => "Classical",
            StageId::Fit => "Fit",
            StageId::Dif => "DIF",
            StageId::Plots => "Plots",
            StageId::Export => "Export",
        }
    }
}

/// Every stage's part, in order.
pub fn parts() -> Vec<Box<dyn StagePart>> {
    vec![
        Box::new(preparation::Preparation),
        Box::new(preprocessing::Preprocessing::default()),
        Box::new(classical::Classical::default()),
        Box::new(prediction::Prediction::default()),
        Box::new(model_fit::ModelFit::default()),
        Box::new(dif::Dif::default()),
        Box::new(plots::Plots::default()),
        Box::new(export::Export::default()),
    ]
}

/// How a stage's status line is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Plain.
    Normal,
    /// Working.
    Busy,
    /// Out of date, or needing attention.
    Warning,
    /// Failed.
    Error,
}

/// A stage's status line.
#[derive(Clone, Debug, PartialEq)]
pub struct StageStatus {
    /// The line.
    pub text: String,
    /// How it is shown.
    pub level: Level,
}

impl StageStatus {
    /// A plain status.
    pub fn normal(text: impl Into<String>) -> StageStatus {
        StageStatus {
            text: text.into(),
            level: Level::Normal,
        }
    }

    /// A status at `level`.
    pub fn at(level: Level, text: impl Into<String>) -> StageStatus {
        StageStatus {
            text: text.into(),
            level,
        }
    }
}

/// Something that happened, which parts may want to react to.
#[derive(Clone, Debug, PartialEq)]
pub enum AppEvent {
    /// A new dataset or project was opened.
    Opened,
    /// The item parameters in use changed (a new fit, or entered parameters).
    ItemsChanged,
    /// A step was added at this index.
    StepAdded(usize),
    /// A file was written.
    Written(std::path::PathBuf),
}

/// What a part sees while drawing.
pub struct StageContext<'a> {
    /// The app's state (the document is edited through [`StageContext::edited`]).
    pub state: &'a mut AppState,
    /// The app's settings.
    pub settings: &'a AppSettings,
    /// The running jobs (a part may start one).
    pub jobs: &'a mut JobQueue<JobOutput>,
    /// Where commands go.
    pub commands: &'a mut CommandQueue,
    /// The fingerprint of the current inputs.
    pub inputs: Inputs,
    /// The window's context (for screenshots), when there is a window.
    pub egui: Option<egui::Context>,
}

impl StageContext<'_> {
    /// Records an edit of the project made through `state.document.project`.
    pub fn edited(&mut self, edit: Edit) {
        self.commands.send(Command::Edited(edit));
    }

    /// Sends a command.
    pub fn send(&mut self, command: Command) {
        self.commands.send(command);
    }
}

/// A stage of the window.
pub trait StagePart {
    /// Which stage.
    fn id(&self) -> StageId;

    /// The part as `Any`, to reach its own state (tests, and the shell's exports).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;

    /// The sidebar's status line.
    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus;

    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>);

    /// Takes the result of a job this part started as [`super::jobs::JobKind::Stage`] (the
    /// part downcasts it to its own type).
    fn finished(&mut self, _output: Box<dyn std::any::Any + Send>, _ctx: &mut StageContext<'_>) {}

    /// Hears that a job this part started failed.
    fn failed(&mut self, _message: &str) {}

    /// Reacts to an event.
    fn on_event(&mut self, _event: &AppEvent, _ctx: &mut StageContext<'_>) {}

    /// The file name a save dialog for `purpose` proposes, when this part knows it.
    fn file_name(&self, _purpose: DialogPurpose) -> Option<String> {
        None
    }

    /// Takes a file chosen in a dialog opened for `purpose`; returns whether it was this
    /// part's.
    fn picked(
        &mut self,
        _purpose: DialogPurpose,
        _path: &Path,
        _ctx: &mut StageContext<'_>,
    ) -> bool {
        false
    }
}

/// Writes `frame` to `path` (CSV, Parquet or a SQLite table named `table`, by extension) in the
/// background, refusing a path that is the data source or the project file.
pub fn save_table(
    ctx: &mut StageContext<'_>,
    path: &Path,
    table: &str,
    frame: polars::prelude::DataFrame,
) {
    let path = if path.extension().is_none() {
        path.with_extension("csv")
    } else {
        path.to_path_buf()
    };
    let mut inputs = vec![ctx.state.document.source_path()];
    inputs.extend(ctx.state.document.path.clone());
    let mut outputs = crate::export::OutputSet::new(inputs);
    if let Err(error) = outputs.add_path(&path, table, false) {
        ctx.send(Command::Notify(error.to_string(), true));
        return;
    }
    ctx.jobs.replace(
        super::jobs::JobKind::Export,
        format!(
            "Saving {}",
            crate::text::shorten(&path.display().to_string(), 60)
        ),
        move |_, _| {
            let mut frame = frame;
            outputs
                .write(std::slice::from_mut(&mut frame))
                .map_err(|e| super::jobs::JobError::Failed(e.to_string()))?;
            Ok(JobOutput::Exported(path))
        },
    );
}

/// A banner saying a result is out of date, with a button to recompute it. Returns whether the
/// button was clicked.
pub fn stale_banner(ui: &mut egui::Ui, text: &str, button: &str) -> bool {
    let mut clicked = false;
    egui::Frame::group(ui.style())
        .fill(ui.visuals().warn_fg_color.gamma_multiply(0.12))
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {text}"));
                clicked = ui.button(button).clicked();
            });
        });
    clicked
}

/// A combo box choosing one of `options` (or none, when `none_label` is given).
pub fn column_combo(
    ui: &mut egui::Ui,
    id: &str,
    label: &str,
    value: &mut Option<String>,
    options: &[String],
    none_label: Option<&str>,
) -> bool {
    let mut changed = false;
    let shown = value
        .clone()
        .or_else(|| none_label.map(str::to_string))
        .unwrap_or_else(|| "choose…".into());
    egui::ComboBox::new(id, "")
        .selected_text(shown)
        .width(170.0)
        .show_ui(ui, |ui| {
            if let Some(none) = none_label {
                changed |= ui.selectable_value(value, None, none).changed();
            }
            for option in options {
                changed |= ui
                    .selectable_value(value, Some(option.clone()), option)
                    .changed();
            }
        })
        .named(label)
        .response
        .on_hover_text(label);
    changed
}

/// A combo over column names for a plain `String` field.
pub fn column_name_combo(
    ui: &mut egui::Ui,
    id: &str,
    label: &str,
    value: &mut String,
    options: &[String],
) -> bool {
    let mut chosen = (!value.is_empty()).then(|| value.clone());
    let changed = column_combo(ui, id, label, &mut chosen, options, None);
    if changed {
        *value = chosen.unwrap_or_default();
    }
    changed
}

/// A labelled drag value (the label names the widget for assistive technology).
pub fn labelled_drag(ui: &mut egui::Ui, label: &str, drag: egui::DragValue<'_>) -> egui::Response {
    let label = ui.label(label);
    ui.add(drag).labelled_by(label.id)
}

/// The height a table at the bottom of a panel can take: what is left of the window below the
/// cursor (a panel scrolls, so its own available height is unbounded), at least `min`.
pub fn fill_height(ui: &egui::Ui, min: f32) -> f32 {
    let available = ui.available_height();
    let height = if available.is_finite() {
        available
    } else {
        ui.clip_rect().bottom() - ui.cursor().top() - 8.0
    };
    height.max(min)
}

/// Names a widget that shows no label of its own (a combo box beside a label in a grid), so
/// that assistive technology — and the UI tests — can reach it.
pub trait Named {
    /// Sets the accessible name.
    fn named(self, label: &str) -> Self;
}

impl<R> Named for egui::InnerResponse<R> {
    fn named(self, label: &str) -> Self {
        let label = label.to_string();
        self.response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::ComboBox, self.response.enabled(), &label)
        });
        self
    }
}
