//! The app's state, apart from its shell: the document (the project, its file and whether it is
//! saved), the data pipeline (loaded table, layout and steps, response matrix) and the results
//! (fit, scores, entered parameters) — each result remembering the inputs it was computed from,
//! so that a result whose inputs changed is shown as out of date.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::prediction::{Analysis, ItemParameters, PersonScore, ResponseMatrix};
use crate::preparation::LayoutReport;
use crate::preparation::sqlite::TableInfo;
use crate::preprocessing::PipelineRun;
use crate::project::Project;

/// What persists between runs (eframe storage).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    /// Dark or light theme.
    pub dark: bool,
    /// Recently opened data and project files, newest first.
    pub recent_files: Vec<PathBuf>,
    /// The project open when the app last closed.
    pub last_project: Option<PathBuf>,
    /// Show the last frame's CPU time in the status bar.
    pub show_frame_time: bool,
    /// The welcome strip was closed.
    pub welcome_dismissed: bool,
    /// Always use irtlab's own file dialog.
    pub builtin_dialog: bool,
    /// Refit in the background when small data change.
    pub live_refit: bool,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            dark: true,
            recent_files: Vec::new(),
            last_project: None,
            show_frame_time: false,
            welcome_dismissed: false,
            builtin_dialog: false,
            live_refit: false,
        }
    }
}

/// A fingerprint of the inputs a result depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Inputs {
    /// Source, layout, steps and response columns.
    pub data: u64,
    /// Model and scoring settings.
    pub model: u64,
}

fn hash_of<T: Serialize>(value: &T) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// The project being edited, its file, and whether it has unsaved changes (counted, not
/// compared: every edit bumps the revision).
pub struct Document {
    /// The project.
    pub project: Project,
    /// Its file, once saved or opened.
    pub path: Option<PathBuf>,
    /// The folder relative source paths are resolved against.
    pub base: Option<PathBuf>,
    revision: u64,
    saved_revision: u64,
    inputs: (u64, Inputs),
}

impl Document {
    /// A document for `project`, saved at `path` (or new).
    pub fn new(project: Project, path: Option<PathBuf>) -> Document {
        let base = path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let mut document = Document {
            project,
            path,
            base,
            revision: 0,
            saved_revision: 0,
            inputs: (u64::MAX, Inputs::default()),
        };
        document.refresh_inputs();
        document
    }

    /// Records an edit.
    pub fn touch(&mut self) {
        self.revision += 1;
    }

    /// The edit counter.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether there are unsaved changes.
    pub fn is_modified(&self) -> bool {
        self.revision != self.saved_revision
    }

    /// Records that the document was saved at `path`.
    pub fn saved(&mut self, path: &Path) {
        self.path = Some(path.to_path_buf());
        self.saved_revision = self.revision;
    }

    /// Marks the current state as saved (a freshly opened project).
    pub fn mark_saved(&mut self) {
        self.saved_revision = self.revision;
    }

    /// The fingerprint of the current inputs (recomputed once per edit, not per frame).
    pub fn inputs(&mut self) -> Inputs {
        if self.inputs.0 != self.revision {
            self.refresh_inputs();
        }
        self.inputs.1
    }

    /// The fingerprint without recomputing (as of the last call to [`Document::inputs`]).
    pub fn last_inputs(&self) -> Inputs {
        self.inputs.1
    }

    fn refresh_inputs(&mut self) {
        let p = &self.project;
        // Disabled steps and steps still to be filled in change nothing.
        let steps: Vec<_> = p
            .steps
            .iter()
            .filter(|s| s.enabled && s.step.incomplete().is_none())
            .collect();
        let data = hash_of(&(&p.source, &p.layout, &steps, &p.response_columns));
        let model = hash_of(&(&p.model, &p.scoring));
        self.inputs = (self.revision, Inputs { data, model });
    }

    /// The file's name for the title, or "Unsaved project".
    pub fn title(&self) -> String {
        self.path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Unsaved project".into())
    }

    /// The source's resolved path.
    pub fn source_path(&self) -> PathBuf {
        self.project
            .resolved_source(self.base.as_deref())
            .path()
            .to_path_buf()
    }
}

/// The loaded source data (before layout and steps).
pub struct Loaded {
    /// The table as loaded.
    pub frame: Arc<DataFrame>,
    /// Tables and views when the source is SQLite.
    pub sqlite_tables: Vec<TableInfo>,
}

/// The result of layout + preprocessing + building the response matrix.
pub struct Processed {
    /// What the layout did, or why it failed.
    pub layout: Result<LayoutReport, String>,
    /// The pipeline run (when the layout succeeded).
    pub pipeline: Option<PipelineRun>,
    /// The response matrix, or why it cannot be built.
    pub matrix: Result<Arc<ResponseMatrix>, String>,
    /// The data inputs it was computed from.
    pub inputs: u64,
}

/// The data pipeline's state.
#[derive(Default)]
pub struct DataState {
    /// Loaded source data.
    pub loaded: Option<Loaded>,
    /// Why loading failed (the loaded data, if any, is kept).
    pub load_error: Option<String>,
    /// Layout + steps + matrix.
    pub processed: Option<Processed>,
    /// The SQL editor's text.
    pub sql_text: String,
}

impl DataState {
    /// The response matrix, when ready.
    pub fn matrix(&self) -> Option<&Arc<ResponseMatrix>> {
        self.processed.as_ref().and_then(|p| p.matrix.as_ref().ok())
    }

    /// The loaded table's column names.
    pub fn loaded_columns(&self) -> Vec<String> {
        self.loaded
            .as_ref()
            .map(|l| {
                l.frame
                    .get_column_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Where the item parameters in use come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ParameterSource {
    /// Calibrated from the data.
    #[default]
    Fitted,
    /// Typed, pasted or loaded by the user.
    Entered,
}

/// A fit and the inputs it was computed from.
#[derive(Clone)]
pub struct Fit {
    /// The analysis.
    pub analysis: Arc<Analysis>,
    /// Its scores, shared with the plots and export without copying.
    pub scores: Arc<Vec<PersonScore>>,
    /// The inputs it was computed from.
    pub inputs: Inputs,
    /// The response matrix it was fitted to (for observed proportions).
    pub matrix: Arc<ResponseMatrix>,
}

/// Results.
#[derive(Default)]
pub struct Results {
    /// Fitted or entered parameters in use.
    pub source: ParameterSource,
    /// The last fit.
    pub fit: Option<Fit>,
    /// Why the last fit failed.
    pub fit_error: Option<String>,
    /// Entered item parameters.
    pub entered: Vec<ItemParameters>,
    /// Scaling D of the entered parameters' IRT form.
    pub entered_scaling: f64,
    /// Scores computed with the entered parameters, and the data inputs they used.
    pub entered_scores: Option<(Arc<Vec<PersonScore>>, u64)>,
}

impl Results {
    /// The item parameters in use and their scaling D.
    pub fn items(&self) -> (Vec<ItemParameters>, f64) {
        match self.source {
            ParameterSource::Fitted => match &self.fit {
                Some(fit) => (
                    fit.analysis.calibration.item_parameters(),
                    fit.analysis.calibration.settings.scaling,
                ),
                None => (Vec::new(), 1.0),
            },
            ParameterSource::Entered => (self.entered.clone(), self.entered_scaling.max(1.0)),
        }
    }

    /// Person scores in use.
    pub fn scores(&self) -> Option<Arc<Vec<PersonScore>>> {
        match self.source {
            ParameterSource::Fitted => self.fit.as_ref().map(|f| f.scores.clone()),
            ParameterSource::Entered => self.entered_scores.as_ref().map(|(s, _)| s.clone()),
        }
    }

    /// Whether the fit in use was computed from other inputs than `current`.
    pub fn fit_stale(&self, current: Inputs) -> bool {
        self.fit.as_ref().is_some_and(|f| f.inputs != current)
    }
}

/// Everything but the shell.
pub struct AppState {
    /// The document.
    pub document: Document,
    /// The data pipeline.
    pub data: DataState,
    /// The results.
    pub results: Results,
}

impl AppState {
    /// An empty state.
    pub fn new(project: Project) -> AppState {
        AppState {
            document: Document::new(project, None),
            data: DataState::default(),
            results: Results {
                entered_scaling: 1.0,
                ..Results::default()
            },
        }
    }
}
