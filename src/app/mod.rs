//! The desktop app: one window with the stages down the left, the chosen stage's panel in the
//! centre, a menu bar drawn from the command registry, and a status bar with the running jobs.
//!
//! The shell owns the state ([`state::AppState`]), the stage parts ([`stages`]), the job queue
//! ([`jobs`]) and the command queue ([`commands`]). Parts draw and send commands; the shell
//! applies the commands once per frame, after drawing, starts and polls the jobs, and tells the
//! parts what happened ([`stages::AppEvent`]). Every computation is the library's.

pub mod commands;
pub mod dialogs;
pub mod jobs;
pub mod stages;
pub mod state;
pub mod table_view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui::util::undoer::Undoer;
use polars::prelude::DataFrame;

use crate::prediction::{self, Analysis, PersonScore, ResponseMatrix};
use crate::preparation::{Layout, Source, SqliteSelection, sqlite};
use crate::project::{self, Project};

pub use commands::{COMMANDS, Command, CommandId, Edit, Menu};
pub use dialogs::{DialogOutcome, DialogPurpose, FileDialog};
pub use jobs::{JobError, JobKind, JobQueue};
pub use stages::export::ExportTable;
pub use stages::plots::{PlotKind, draw_plot};
pub use stages::prediction::{load_parameter_file, parse_pasted_items};
pub use stages::{AppEvent, StageId};
pub use state::{AppSettings, AppState, Fit, Inputs, Loaded, ParameterSource, Processed};

use stages::{Level, StageContext, StagePart};

/// The bundled sample project, opened on first start.
pub fn sample_project_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.irtlab.json")
}

/// Opens the app window. `path` is a data or project file to open at once.
pub fn run_app(path: Option<PathBuf>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("irtlab")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "irtlab",
        options,
        Box::new(move |cc| Ok(Box::new(IrtlabApp::new(cc, path)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}

/// Results of background jobs.
pub enum JobOutput {
    /// The source loaded.
    Loaded(Loaded),
    /// Layout and steps ran.
    Processed(Box<Processed>),
    /// A fit finished: the analysis, the inputs it used and the matrix it was fitted to.
    Fitted(Box<Analysis>, Inputs, Arc<ResponseMatrix>),
    /// Entered parameters scored the persons (for these data inputs).
    Scored(Vec<PersonScore>, u64),
    /// A file was written.
    Exported(PathBuf),
    /// A system file dialog closed: what was chosen, and how long it was open.
    Picked(DialogPurpose, Option<PathBuf>, Duration),
    /// A stage's own job finished; the stage takes its result.
    Stage(stages::StageId, Box<dyn std::any::Any + Send>),
}

const SETTINGS_KEY: &str = "irtlab-settings";
const RECENT_LIMIT: usize = 10;
const PROCESS_DEBOUNCE: Duration = Duration::from_millis(250);
const REFIT_DEBOUNCE: Duration = Duration::from_millis(400);
/// Live refits run for data up to this many responses.
pub const LIVE_REFIT_LIMIT: usize = 200_000;

/// A short notification.
struct Toast {
    text: String,
    error: bool,
    until: Instant,
}

/// The app.
pub struct IrtlabApp {
    /// Persisted settings.
    pub settings: AppSettings,
    /// Document, data and results.
    pub state: AppState,
    /// The stage shown.
    pub stage: StageId,
    parts: Vec<Box<dyn StagePart>>,
    jobs: JobQueue<JobOutput>,
    commands: CommandQueue,
    undoer: Undoer<Project>,
    clock: Instant,
    dialog: Option<FileDialog>,
    said_no_portal: bool,
    /// The last message for the status bar.
    pub status: String,
    toasts: Vec<Toast>,
    show_about: bool,
    show_shortcuts: bool,
    last_frame_ms: f32,
    egui_ctx: Option<egui::Context>,
    process_due: Option<Instant>,
    refit_due: Option<Instant>,
    fit_when_ready: bool,
    guess_columns: bool,
    last_loaded_source: Option<Source>,
}

use commands::CommandQueue;

impl IrtlabApp {
    /// Creates the app, restoring settings and opening `path`, the last project, or the sample.
    pub fn new(cc: &eframe::CreationContext<'_>, path: Option<PathBuf>) -> IrtlabApp {
        let settings: AppSettings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        install_fonts(&cc.egui_ctx);
        let mut app = IrtlabApp::with_settings(settings);
        app.attach(&cc.egui_ctx);
        let start = path
            .or_else(|| app.settings.last_project.clone().filter(|p| p.exists()))
            .or_else(|| Some(sample_project_path()).filter(|p| p.exists()));
        if let Some(path) = start {
            app.open_path(&path);
        }
        app
    }

    /// An app with no window yet (tests attach one with the first frame) and these settings.
    pub fn with_settings(settings: AppSettings) -> IrtlabApp {
        let project = Project::new(Source::Csv {
            path: PathBuf::new(),
            options: Default::default(),
        });
        IrtlabApp {
            settings,
            state: AppState::new(project),
            stage: StageId::Preparation,
            parts: stages::parts(),
            jobs: JobQueue::new(Arc::new(|| {})),
            commands: CommandQueue::default(),
            undoer: Undoer::default(),
            clock: Instant::now(),
            dialog: None,
            said_no_portal: false,
            status: "Welcome to irtlab".into(),
            toasts: Vec::new(),
            show_about: false,
            show_shortcuts: false,
            last_frame_ms: 0.0,
            egui_ctx: None,
            process_due: None,
            refit_due: None,
            fit_when_ready: false,
            guess_columns: false,
            last_loaded_source: None,
        }
    }

    /// Connects the app to its window: theme, fonts' fallbacks, repaints from job threads.
    fn attach(&mut self, ctx: &egui::Context) {
        if self.egui_ctx.is_some() {
            return;
        }
        self.egui_ctx = Some(ctx.clone());
        let repaint = ctx.clone();
        self.jobs
            .set_repaint(Arc::new(move || repaint.request_repaint()));
        apply_theme(ctx, self.settings.dark);
    }

    /// A stage part's own state, e.g. `app.part::<stages::plots::Plots>()`.
    pub fn part<T: 'static>(&mut self) -> Option<&mut T> {
        self.parts
            .iter_mut()
            .find_map(|p| p.as_any_mut().downcast_mut::<T>())
    }

    /// Whether a job of this kind is running.
    pub fn is_running(&self, kind: JobKind) -> bool {
        self.jobs.running(kind)
    }

    /// Whether any job is running.
    pub fn is_busy(&self) -> bool {
        !self.jobs.is_empty() || self.process_due.is_some() || self.refit_due.is_some()
    }

    /// Queues a command, as a menu item or a panel would.
    pub fn send(&mut self, command: Command) {
        self.commands.send(command);
    }

    fn notify(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        self.status = crate::text::one_line(&text, 300);
        self.toasts.push(Toast {
            text: crate::text::one_line(&text, 600),
            error,
            until: Instant::now() + Duration::from_secs(if error { 8 } else { 4 }),
        });
    }

    fn remember_recent(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
        self.settings.recent_files.retain(|p| *p != path);
        self.settings.recent_files.insert(0, path);
        self.settings.recent_files.truncate(RECENT_LIMIT);
    }

    fn broadcast(&mut self, event: AppEvent) {
        self.with_parts(|parts, ctx| {
            for part in parts.iter_mut() {
                part.on_event(&event, ctx);
            }
        });
    }

    /// Opens a project file or a data file. The current analysis stays when it fails.
    pub fn open_path(&mut self, path: &Path) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".json") {
            match Project::load(path) {
                Ok(mut project) => {
                    let base = path.parent().map(Path::to_path_buf);
                    // In memory the source path is absolute, so that saving elsewhere and undo
                    // never leave it relative to the wrong folder.
                    let resolved = project.resolved_source(base.as_deref());
                    project.source = absolute_source(resolved);
                    self.state = AppState::new(project);
                    self.state.document.path = Some(path.to_path_buf());
                    self.state.document.base = base;
                    self.state.data.sql_text = match &self.state.document.project.source {
                        Source::Sqlite {
                            selection: SqliteSelection::Query { sql },
                            ..
                        } => sql.clone(),
                        _ => String::new(),
                    };
                    self.settings.last_project = std::fs::canonicalize(path).ok();
                    self.after_open();
                    self.fit_when_ready = true;
                    self.remember_recent(path);
                    self.notify(format!("Opened project {}", path.display()), false);
                }
                Err(error) => self.notify(error.to_string(), true),
            }
            return;
        }
        match Source::for_file(path) {
            Ok(source) => {
                let mut project = Project::new(absolute_source(source));
                project.model = self.state.document.project.model.clone();
                project.model.fixed_items.clear();
                project.model.item_models.clear();
                project.scoring = self.state.document.project.scoring;
                self.state = AppState::new(project);
                self.after_open();
                self.guess_columns = true;
                self.stage = StageId::Preparation;
                self.remember_recent(path);
                self.notify(format!("Opened {}", path.display()), false);
            }
            Err(error) => self.notify(error.to_string(), true),
        }
    }

    fn after_open(&mut self) {
        self.undoer = Undoer::default();
        self.last_loaded_source = None;
        self.fit_when_ready = false;
        self.guess_columns = false;
        for kind in [
            JobKind::Load,
            JobKind::Process,
            JobKind::Fit,
            JobKind::Score,
        ] {
            self.jobs.cancel(kind);
        }
        self.process_due = None;
        self.refit_due = None;
        self.broadcast(AppEvent::Opened);
        self.reload_source();
    }

    /// Starts loading the source in the background.
    pub fn reload_source(&mut self) {
        self.jobs.cancel(JobKind::Process);
        let base = self.state.document.base.clone();
        let source = self.state.document.project.resolved_source(base.as_deref());
        if source.path().as_os_str().is_empty() {
            return;
        }
        let label = format!(
            "Loading {}",
            source
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        self.jobs.replace(JobKind::Load, label, move |_, cancel| {
            let sqlite_tables = if matches!(source, Source::Sqlite { .. }) {
                sqlite::list_tables(source.path()).unwrap_or_default()
            } else {
                Vec::new()
            };
            let frame = source
                .load_cancellable(None, Some(cancel.clone()))
                .map_err(|e| match e {
                    crate::preparation::PreparationError::Cancelled => JobError::Cancelled,
                    other => JobError::Failed(other.to_string()),
                })?;
            Ok(JobOutput::Loaded(Loaded {
                frame: Arc::new(frame),
                sqlite_tables,
            }))
        });
    }

    /// Schedules layout + steps to rerun shortly (edits are debounced).
    pub fn schedule_process(&mut self) {
        self.process_due = Some(Instant::now() + PROCESS_DEBOUNCE);
    }

    fn start_process(&mut self) {
        self.process_due = None;
        let Some(loaded) = &self.state.data.loaded else {
            return;
        };
        let frame = loaded.frame.clone();
        let project = self.state.document.project.clone();
        let inputs = self.state.document.inputs().data;
        self.jobs
            .replace(JobKind::Process, "Preprocessing", move |_, _| {
                Ok(JobOutput::Processed(Box::new(process(
                    &project,
                    (*frame).clone(),
                    inputs,
                ))))
            });
    }

    /// Starts a fit on the current response matrix (replacing a running one).
    pub fn start_fit(&mut self) {
        self.refit_due = None;
        let Some(processed) = &self.state.data.processed else {
            self.notify("Nothing to fit yet: the data are not prepared", true);
            return;
        };
        let matrix = match &processed.matrix {
            Ok(matrix) => matrix.clone(),
            Err(error) => {
                let message = format!("Cannot fit: {error}");
                self.notify(message, true);
                return;
            }
        };
        let inputs = Inputs {
            data: processed.inputs,
            model: self.state.document.inputs().model,
        };
        let settings = self.state.document.project.model.clone();
        let scoring = self.state.document.project.scoring;
        let max_cycles = settings.max_cycles;
        self.state.results.fit_error = None;
        self.jobs.replace(
            JobKind::Fit,
            format!("Fitting {}", settings.model.label()),
            move |sink, cancel| {
                let analysis = prediction::analyse(
                    &matrix,
                    &settings,
                    scoring,
                    &mut |p| match p.standard_errors {
                        Some((done, total)) => sink.report(
                            done as f32 / total.max(1) as f32,
                            format!("standard errors {done}/{total}"),
                        ),
                        None => sink.report(
                            (p.cycle as f32 / max_cycles as f32).min(1.0),
                            format!("cycle {}  log-likelihood {:.3}", p.cycle, p.log_likelihood),
                        ),
                    },
                    cancel,
                )
                .map_err(|e| match e {
                    prediction::PredictionError::Cancelled => JobError::Cancelled,
                    other => JobError::Failed(other.to_string()),
                })?;
                Ok(JobOutput::Fitted(Box::new(analysis), inputs, matrix))
            },
        );
    }

    fn start_scoring_entered(&mut self) {
        let Some(Ok(matrix)) = self.state.data.processed.as_ref().map(|p| p.matrix.clone()) else {
            self.notify("No response matrix to score: prepare data first", true);
            return;
        };
        let data_inputs = self.state.data.processed.as_ref().map_or(0, |p| p.inputs);
        let items = self.state.results.entered.clone();
        if items.is_empty() {
            return;
        }
        let options = prediction::ScoringOptions {
            method: self.state.document.project.scoring,
            ..Default::default()
        };
        self.jobs
            .replace(JobKind::Score, "Scoring persons", move |_, _| {
                let aligned = prediction::align_items(&matrix, &items)
                    .map_err(|e| JobError::Failed(e.to_string()))?;
                let scores = prediction::score_persons(&aligned, &items, &options)
                    .map_err(|e| JobError::Failed(e.to_string()))?;
                Ok(JobOutput::Scored(scores, data_inputs))
            });
    }

    fn start_dir(&self) -> Option<PathBuf> {
        self.state
            .document
            .path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .or_else(|| {
                let source = self.state.document.source_path();
                source.parent().map(Path::to_path_buf)
            })
            .filter(|p| !p.as_os_str().is_empty())
    }

    fn dialog_file_name(&self, purpose: DialogPurpose) -> String {
        self.parts
            .iter()
            .find_map(|p| p.file_name(purpose))
            .unwrap_or_else(|| match purpose {
                DialogPurpose::SaveProjectAs => "analysis.irtlab.json".into(),
                DialogPurpose::SavePlot => "plot.png".into(),
                DialogPurpose::SaveReport => format!(
                    "{}-report.html",
                    self.state
                        .document
                        .title()
                        .trim_end_matches(".json")
                        .trim_end_matches(".irtlab")
                ),
                _ => String::new(),
            })
    }

    /// Opens a file dialog: the system's, or irtlab's own when the setting says so (or the
    /// system's could not be shown).
    pub fn open_dialog(&mut self, purpose: DialogPurpose) {
        if self.dialog.is_some() || self.jobs.running(JobKind::Dialog) {
            return;
        }
        let start = self.start_dir();
        let file_name = self.dialog_file_name(purpose);
        if self.settings.builtin_dialog {
            self.dialog = Some(FileDialog::new(purpose, start, file_name));
            return;
        }
        self.jobs
            .start(JobKind::Dialog, purpose.title(), move |_, _| {
                let (path, open_for) = dialogs::native_dialog(purpose, start, file_name);
                Ok(JobOutput::Picked(purpose, path, open_for))
            });
    }

    /// Saves the project to `path` (never over its data source).
    pub fn save_project_to(&mut self, path: &Path) {
        let source = self.state.document.source_path();
        if !source.as_os_str().is_empty() && crate::export::same_file(path, &source) {
            self.notify(
                format!(
                    "{} is the data source; save the project under another name",
                    path.display()
                ),
                true,
            );
            return;
        }
        match self.state.document.project.save(path) {
            Ok(()) => {
                self.state.document.saved(path);
                self.state.document.base = path.parent().map(Path::to_path_buf);
                self.settings.last_project = std::fs::canonicalize(path).ok();
                self.remember_recent(path);
                self.notify(format!("Saved {}", path.display()), false);
            }
            Err(error) => self.notify(error.to_string(), true),
        }
    }

    fn picked(&mut self, purpose: DialogPurpose, path: PathBuf) {
        match purpose {
            DialogPurpose::OpenDataset | DialogPurpose::OpenProject => self.open_path(&path),
            DialogPurpose::SaveProjectAs => {
                let path = if path.to_string_lossy().ends_with(".json") {
                    path
                } else {
                    path.with_extension("irtlab.json")
                };
                self.save_project_to(&path);
            }
            DialogPurpose::SaveReport => {
                let lower = path.to_string_lossy().to_lowercase();
                let path = if lower.ends_with(".html") || lower.ends_with(".htm") {
                    path
                } else {
                    path.with_extension("html")
                };
                self.export_report(path);
            }
            _ => {
                let mut handled = false;
                self.with_parts(|parts, ctx| {
                    for part in parts.iter_mut() {
                        if part.picked(purpose, &path, ctx) {
                            handled = true;
                            break;
                        }
                    }
                });
                if !handled {
                    self.notify(format!("Nothing takes {}", path.display()), true);
                }
            }
        }
    }

    /// Writes the analysis as one self-contained HTML report at `path` (in the background):
    /// what every stage has computed — the classical tables (computed here if the Classical
    /// stage has not), the fit and its curves, fit statistics, DIF and the model comparison.
    pub fn export_report(&mut self, path: PathBuf) {
        use crate::report::{ReportExtras, ReportInputs, now_utc, render_report, write_report};
        let Some(matrix) = self.state.data.matrix().cloned() else {
            self.notify(
                "Nothing to report yet: the response matrix is not ready",
                true,
            );
            return;
        };
        let Some(prepared) = stages::classical::prepared_of(&self.state) else {
            self.notify("Nothing to report yet: preprocessing has not run", true);
            return;
        };
        let mut project = self.state.document.project.clone();
        project.source = project.resolved_source(self.state.document.base.as_deref());
        let sources = vec![self.state.document.source_path()]
            .into_iter()
            .chain(self.state.document.path.clone())
            .collect::<Vec<_>>();
        let classical = self
            .part::<stages::classical::Classical>()
            .and_then(|c| c.run())
            .filter(|(_, data)| *data == self.state.document.last_inputs().data)
            .map(|(run, _)| run);
        let fit = self
            .state
            .results
            .fit
            .clone()
            .filter(|_| self.state.results.source == ParameterSource::Fitted);
        let fit_section = self
            .part::<stages::model_fit::ModelFit>()
            .and_then(|p| p.diagnostics().map(crate::report_sections::fit_section));
        let comparison = self
            .part::<stages::model_fit::ModelFit>()
            .map(|p| p.comparison().to_vec())
            .filter(|c| !c.is_empty())
            .map(|c| {
                crate::report_sections::comparison_section(
                    &crate::prediction::diagnostics::compare(c),
                )
            });
        let dif = self
            .part::<stages::dif::Dif>()
            .and_then(|p| p.report().map(crate::report_sections::dif_section));
        let title = format!(
            "Analysis report: {}",
            self.state
                .document
                .title()
                .trim_end_matches(".json")
                .trim_end_matches(".irtlab")
        );
        self.jobs.replace(
            JobKind::Export,
            format!(
                "Writing {}",
                crate::text::shorten(&path.display().to_string(), 60)
            ),
            move |sink, cancel| {
                sink.report(0.1, "classical tables".into());
                let classical = match classical {
                    Some(run) => run,
                    None => Arc::new(
                        crate::project::classical_run(&project, &prepared, &matrix, None)
                            .map_err(|e| JobError::Failed(format!("Report: {e}")))?,
                    ),
                };
                if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(JobError::Cancelled);
                }
                sink.report(0.5, "rendering".into());
                let folder = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(Path::to_path_buf);
                let html = render_report(&ReportInputs {
                    title,
                    generated: Some(now_utc()),
                    project: Some(&project),
                    project_json: Some(project.to_json(folder.as_deref())),
                    prepared: Some(&prepared),
                    matrix: Some(&matrix),
                    classical: Some(&classical.classical),
                    distractors: classical.distractors.as_ref(),
                    distractor_source: classical
                        .distractor_input
                        .as_ref()
                        .map(|i| i.describe(&project)),
                    analysis: fit.as_ref().map(|f| f.analysis.as_ref()),
                    extras: ReportExtras {
                        item_fit: fit_section,
                        dif,
                        model_comparison: comparison,
                        ..ReportExtras::default()
                    },
                    ..ReportInputs::default()
                })
                .map_err(|e| JobError::Failed(format!("Report: {e}")))?;
                sink.report(0.9, "writing".into());
                write_report(&path, &html, &sources)
                    .map_err(|e| JobError::Failed(format!("Report: {e}")))?;
                Ok(JobOutput::Exported(path))
            },
        );
    }

    /// Runs `f` with the parts and a context over the rest of the app.
    fn with_parts<R>(
        &mut self,
        f: impl FnOnce(&mut Vec<Box<dyn StagePart>>, &mut StageContext<'_>) -> R,
    ) -> R {
        let inputs = self.state.document.inputs();
        let mut parts = std::mem::take(&mut self.parts);
        let mut ctx = StageContext {
            state: &mut self.state,
            settings: &self.settings,
            jobs: &mut self.jobs,
            commands: &mut self.commands,
            inputs,
            egui: self.egui_ctx.clone(),
        };
        let result = f(&mut parts, &mut ctx);
        self.parts = parts;
        result
    }

    /// Applies a registry command.
    pub fn run(&mut self, id: CommandId) {
        match id {
            CommandId::OpenDataset => self.open_dialog(DialogPurpose::OpenDataset),
            CommandId::OpenProject => self.open_dialog(DialogPurpose::OpenProject),
            CommandId::OpenSample => self.open_path(&sample_project_path()),
            CommandId::Save => match self.state.document.path.clone() {
                Some(path) => self.save_project_to(&path),
                None => self.open_dialog(DialogPurpose::SaveProjectAs),
            },
            CommandId::SaveAs => self.open_dialog(DialogPurpose::SaveProjectAs),
            CommandId::Export => {
                self.stage = StageId::Export;
                self.open_dialog(DialogPurpose::Export);
            }
            CommandId::ExportReport => self.open_dialog(DialogPurpose::SaveReport),
            CommandId::Quit => {
                if let Some(ctx) = &self.egui_ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            CommandId::Undo => self.undo(),
            CommandId::Redo => self.redo(),
            CommandId::Fit => {
                self.stage = StageId::Prediction;
                self.state.results.source = ParameterSource::Fitted;
                self.start_fit();
            }
            CommandId::LightTheme | CommandId::DarkTheme => {
                self.settings.dark = id == CommandId::DarkTheme;
                if let Some(ctx) = &self.egui_ctx {
                    apply_theme(ctx, self.settings.dark);
                }
            }
            CommandId::FrameTime => {
                self.settings.show_frame_time = !self.settings.show_frame_time;
            }
            CommandId::BuiltinDialog => {
                self.settings.builtin_dialog = !self.settings.builtin_dialog;
            }
            CommandId::LiveRefit => {
                self.settings.live_refit = !self.settings.live_refit;
                if self.settings.live_refit {
                    self.maybe_live_refit();
                }
            }
            CommandId::Shortcuts => self.show_shortcuts = true,
            CommandId::About => self.show_about = true,
        }
    }

    /// Whether a registry toggle is on.
    pub fn is_on(&self, id: CommandId) -> bool {
        match id {
            CommandId::LightTheme => !self.settings.dark,
            CommandId::DarkTheme => self.settings.dark,
            CommandId::FrameTime => self.settings.show_frame_time,
            CommandId::BuiltinDialog => self.settings.builtin_dialog,
            CommandId::LiveRefit => self.settings.live_refit,
            _ => false,
        }
    }

    fn is_enabled(&self, id: CommandId) -> bool {
        match id {
            CommandId::Undo => self.undoer.has_undo(&self.state.document.project),
            CommandId::Redo => self.undoer.has_redo(&self.state.document.project),
            CommandId::Fit => self.state.data.matrix().is_some(),
            _ => true,
        }
    }

    /// Refits in the background when the setting is on, the data are small and the fit is out
    /// of date.
    fn maybe_live_refit(&mut self) {
        if !self.settings.live_refit || self.state.results.source != ParameterSource::Fitted {
            return;
        }
        let small = self
            .state
            .data
            .matrix()
            .is_some_and(|m| m.n_responses() <= LIVE_REFIT_LIMIT);
        let inputs = self.state.document.inputs();
        let stale = match &self.state.results.fit {
            Some(fit) => fit.inputs != inputs,
            None => true,
        };
        let ready = self
            .state
            .data
            .processed
            .as_ref()
            .is_some_and(|p| p.inputs == inputs.data && p.matrix.is_ok());
        if small && stale && ready {
            self.refit_due = Some(Instant::now() + REFIT_DEBOUNCE);
        }
    }

    fn undo(&mut self) {
        let current = self.state.document.project.clone();
        if let Some(previous) = self.undoer.undo(&current).cloned() {
            self.restore(previous, "Undid an edit");
        }
    }

    fn redo(&mut self) {
        let current = self.state.document.project.clone();
        if let Some(next) = self.undoer.redo(&current).cloned() {
            self.restore(next, "Redid an edit");
        }
    }

    /// Puts `project` in place of the current one and redoes what its changes need.
    fn restore(&mut self, project: Project, message: &str) {
        let before = std::mem::replace(&mut self.state.document.project, project);
        let after = &self.state.document.project;
        let source_changed = before.source != after.source;
        let data_changed = before.layout != after.layout
            || before.steps != after.steps
            || before.response_columns != after.response_columns;
        if let Source::Sqlite {
            selection: SqliteSelection::Query { sql },
            ..
        } = &after.source
        {
            self.state.data.sql_text = sql.clone();
        }
        self.state.document.touch();
        if source_changed {
            self.reload_source();
        } else if data_changed {
            self.schedule_process();
        }
        self.maybe_live_refit();
        self.status = message.into();
    }

    /// Applies the queued commands.
    fn apply_commands(&mut self) {
        // A command may queue more (a part answering a picked file); run until quiet.
        for _ in 0..8 {
            let commands = self.commands.drain();
            if commands.is_empty() {
                break;
            }
            for command in commands {
                self.apply(command);
            }
        }
    }

    /// Applies one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Run(id) => self.run(id),
            Command::Open(path) => self.open_path(&path),
            Command::Dialog(purpose) => self.open_dialog(purpose),
            Command::Picked(purpose, path) => self.picked(purpose, path),
            Command::Show(stage) => self.stage = stage,
            Command::Cancel(kind) => self.jobs.cancel(kind),
            Command::ReloadSource => {
                self.reload_source();
            }
            Command::Reprocess => self.schedule_process(),
            Command::Edited(edit) => {
                self.state.document.touch();
                match edit {
                    Edit::Source => {}
                    Edit::Data => self.schedule_process(),
                    Edit::Steps => {
                        self.undoer.add_undo(&self.state.document.project);
                        self.schedule_process();
                    }
                    Edit::Model => self.maybe_live_refit(),
                }
            }
            Command::ScoreEntered => self.start_scoring_entered(),
            Command::UseParameters(items, scaling) => {
                self.state.results.entered = items;
                self.state.results.entered_scaling = scaling;
                self.state.results.entered_scores = None;
                self.state.results.source = ParameterSource::Entered;
                self.broadcast(AppEvent::ItemsChanged);
                if self.state.data.matrix().is_some() {
                    self.start_scoring_entered();
                }
            }
            Command::Notify(text, error) => self.notify(text, error),
            Command::Copy(text) => {
                if let Some(ctx) = &self.egui_ctx {
                    ctx.copy_text(text);
                }
                self.status = "Copied to the clipboard".into();
            }
        }
    }

    /// Takes finished jobs' results.
    pub fn poll_jobs(&mut self) {
        for (kind, result) in self.jobs.poll() {
            match result {
                Err(JobError::Cancelled) => {
                    if matches!(
                        kind,
                        JobKind::Fit | JobKind::Export | JobKind::Load | JobKind::Stage(_)
                    ) {
                        self.status = format!("{} cancelled", job_name(kind));
                    }
                }
                Err(JobError::Failed(message)) => {
                    match kind {
                        JobKind::Fit => self.state.results.fit_error = Some(message.clone()),
                        JobKind::Load => self.load_failed(&message),
                        JobKind::Stage(stage) => self.with_parts(|parts, _| {
                            if let Some(part) = parts.iter_mut().find(|p| p.id() == stage) {
                                part.failed(&message);
                            }
                        }),
                        _ => {}
                    }
                    self.notify(message, true);
                }
                Ok(output) => self.take_output(output),
            }
        }
        let now = Instant::now();
        if self.process_due.is_some_and(|t| now >= t) {
            self.start_process();
        }
        if self.refit_due.is_some_and(|t| now >= t) {
            self.start_fit();
        }
    }

    /// A load failed: the data shown before stay, and a failed table or query choice goes back
    /// to the one they came from (the SQL editor keeps the text, to fix it).
    fn load_failed(&mut self, message: &str) {
        self.state.data.load_error = Some(message.to_string());
        if self.state.data.loaded.is_some()
            && let Some(previous) = self.last_loaded_source.clone()
            && previous != self.state.document.project.source
        {
            self.state.document.project.source = previous;
            self.state.document.touch();
        }
    }

    fn take_output(&mut self, output: JobOutput) {
        match output {
            JobOutput::Loaded(loaded) => {
                if std::mem::take(&mut self.guess_columns) {
                    let columns: Vec<String> = loaded
                        .frame
                        .get_column_names()
                        .iter()
                        .map(|n| n.to_string())
                        .collect();
                    let project = &mut self.state.document.project;
                    if let Some(layout) = stages::preparation::guess_layout(&columns) {
                        if let Layout::Long { person_column, .. } = &layout {
                            project.response_columns.id_column = None;
                            self.status = format!(
                                "Looks like long data: one row per answer, persons in {person_column}"
                            );
                        }
                        project.layout = layout;
                    } else {
                        project.response_columns.id_column = guess_id_column(&loaded.frame);
                    }
                    self.state.document.mark_saved();
                }
                self.status = format!(
                    "Loaded {} rows × {} columns",
                    crate::text::count(loaded.frame.height()),
                    loaded.frame.width()
                );
                self.last_loaded_source = Some(self.state.document.project.source.clone());
                self.state.data.loaded = Some(loaded);
                self.state.data.load_error = None;
                self.start_process();
            }
            JobOutput::Processed(processed) => {
                let ready = processed.matrix.is_ok();
                self.state.data.processed = Some(*processed);
                if ready && std::mem::take(&mut self.fit_when_ready) {
                    self.start_fit();
                } else {
                    self.maybe_live_refit();
                }
                if ready
                    && self.state.results.source == ParameterSource::Entered
                    && !self.state.results.entered.is_empty()
                    && self.state.results.entered_scores.is_some()
                {
                    self.start_scoring_entered();
                }
            }
            JobOutput::Fitted(analysis, inputs, matrix) => {
                let c = &analysis.calibration;
                let text = format!(
                    "{} fitted: log-likelihood {:.3}, {} cycles{}",
                    c.model_label(),
                    c.log_likelihood,
                    c.cycles,
                    if c.converged {
                        ""
                    } else {
                        " — NOT converged"
                    }
                );
                let converged = c.converged;
                self.state.results.fit = Some(Fit {
                    scores: Arc::new(analysis.scores.clone()),
                    analysis: Arc::new(*analysis),
                    inputs,
                    matrix,
                });
                self.state.results.fit_error = None;
                self.notify(text, !converged);
                self.broadcast(AppEvent::ItemsChanged);
                // Edits made while fitting: the live refit catches up.
                self.maybe_live_refit();
            }
            JobOutput::Scored(scores, inputs) => {
                self.status = format!("Scored {} persons", crate::text::count(scores.len()));
                self.state.results.entered_scores = Some((Arc::new(scores), inputs));
            }
            JobOutput::Exported(path) => {
                self.notify(format!("Wrote {}", path.display()), false);
                self.broadcast(AppEvent::Written(path));
            }
            JobOutput::Picked(purpose, path, open_for) => match path {
                Some(path) => self.picked(purpose, path),
                None if open_for < dialogs::NOT_SHOWN => {
                    if !self.said_no_portal {
                        self.said_no_portal = true;
                        self.notify(
                            "The system's file dialog could not be shown (no desktop portal); using irtlab's own",
                            false,
                        );
                    }
                    let start = self.start_dir();
                    let file_name = self.dialog_file_name(purpose);
                    self.dialog = Some(FileDialog::new(purpose, start, file_name));
                }
                None => {}
            },
            JobOutput::Stage(stage, output) => self.with_parts(|parts, ctx| {
                if let Some(part) = parts.iter_mut().find(|p| p.id() == stage) {
                    part.finished(output, ctx);
                }
            }),
        }
    }

    fn menu_bar_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            for menu in Menu::ALL {
                ui.menu_button(menu.label(), |ui| {
                    for spec in COMMANDS.iter().filter(|c| c.menu == menu) {
                        if spec.separated {
                            ui.separator();
                        }
                        if spec.toggle {
                            let mut on = self.is_on(spec.id);
                            if ui
                                .checkbox(&mut on, spec.label)
                                .on_hover_text(spec.tooltip)
                                .clicked()
                            {
                                self.commands.run(spec.id);
                            }
                            continue;
                        }
                        let mut button = egui::Button::new(spec.label);
                        if let Some(shortcut) = &spec.shortcut {
                            button = button.shortcut_text(commands::shortcut_text(shortcut));
                        }
                        if ui
                            .add_enabled(self.is_enabled(spec.id), button)
                            .on_hover_text(spec.tooltip)
                            .clicked()
                        {
                            self.commands.run(spec.id);
                            ui.close();
                        }
                        if menu == Menu::File && spec.id == CommandId::OpenSample {
                            self.recent_menu_ui(ui);
                        }
                    }
                });
            }
        });
    }

    /// The "Recent" submenu, shared by the File menu and the welcome strip.
    fn recent_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Recent", |ui| {
            if self.settings.recent_files.is_empty() {
                ui.weak("No recent files yet");
            }
            for path in &self.settings.recent_files {
                if ui.button(path.display().to_string()).clicked() {
                    self.commands.send(Command::Open(path.clone()));
                    ui.close();
                }
            }
        });
    }

    fn stages_ui(&mut self, ui: &mut egui::Ui) {
        ui.add_space(6.0);
        ui.add(
            egui::Label::new(egui::RichText::new(self.state.document.title()).strong()).truncate(),
        );
        if self.state.document.is_modified() {
            ui.weak("(modified)");
        }
        ui.add_space(6.0);
        let inputs = self.state.document.inputs();
        for (index, part) in self.parts.iter().enumerate() {
            let stage = part.id();
            let status = part.status(&self.state, &self.jobs, inputs);
            let selected = self.stage == stage;
            let response = ui
                .scope(|ui| {
                    ui.set_width(ui.available_width());
                    let text =
                        egui::RichText::new(format!("{}  {}", index + 1, stage.label())).strong();
                    let label = ui.selectable_label(selected, text);
                    let visuals = ui.visuals();
                    let status_text = match status.level {
                        Level::Normal => egui::RichText::new(status.text).weak(),
                        Level::Busy => egui::RichText::new(format!("⟳ {}", status.text)),
                        Level::Warning => egui::RichText::new(format!("⚠ {}", status.text))
                            .color(visuals.warn_fg_color),
                        Level::Error => egui::RichText::new(format!("● {}", status.text))
                            .color(visuals.error_fg_color),
                    };
                    ui.add(egui::Label::new(status_text).truncate());
                    label
                })
                .inner;
            if response.clicked() {
                self.stage = stage;
            }
            ui.add_space(6.0);
        }
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let running: Vec<(JobKind, String, Option<f32>, String)> = self
                .jobs
                .iter()
                .filter(|j| j.kind != JobKind::Dialog)
                .map(|j| {
                    let seconds = j.started.elapsed().as_secs_f32();
                    let label = if seconds >= 1.0 {
                        format!("{} ({seconds:.0} s)", j.label)
                    } else {
                        j.label.clone()
                    };
                    (j.kind, label, j.fraction, j.detail.clone())
                })
                .collect();
            if let Some((kind, label, fraction, detail)) = running.first() {
                ui.spinner();
                ui.label(label);
                let bar = match fraction {
                    Some(f) => egui::ProgressBar::new(*f).desired_width(140.0),
                    None => egui::ProgressBar::new(0.0)
                        .animate(true)
                        .desired_width(140.0),
                };
                ui.add(bar);
                if !detail.is_empty() {
                    ui.add(egui::Label::new(egui::RichText::new(detail).monospace()).truncate());
                }
                if kind.cancellable() && ui.button("Cancel").clicked() {
                    self.commands.send(Command::Cancel(*kind));
                }
                ui.separator();
            }
            if self.settings.show_frame_time {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.monospace(format!("frame {:.1} ms", self.last_frame_ms));
                    ui.add(egui::Label::new(&self.status).truncate());
                });
            } else {
                ui.add(egui::Label::new(&self.status).truncate());
            }
        });
    }

    /// On first start: what is on screen, and the ways to open one's own data.
    fn welcome_strip_ui(&mut self, ui: &mut egui::Ui) {
        if self.settings.welcome_dismissed {
            return;
        }
        egui::Frame::group(ui.style())
            .fill(ui.visuals().faint_bg_color)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    ui.strong("Welcome to irtlab.");
                    let on_sample = self.state.document.path.as_ref().is_some_and(|p| {
                        std::fs::canonicalize(p).ok()
                            == std::fs::canonicalize(sample_project_path()).ok()
                    });
                    if on_sample {
                        ui.label("This is the sample project: a school database, prepared, scored against a key, filtered and fitted with a 2PL. Walk through the stages on the left, or start on your own data:");
                    } else {
                        ui.label("Walk through the stages on the left, or open other data:");
                    }
                    if ui.button("Open dataset…").clicked() {
                        self.commands.run(CommandId::OpenDataset);
                    }
                    if ui.button("Open project…").clicked() {
                        self.commands.run(CommandId::OpenProject);
                    }
                    self.recent_menu_ui(ui);
                    if ui.button("✕").on_hover_text("Hide this strip").clicked() {
                        self.settings.welcome_dismissed = true;
                    }
                });
            });
        ui.add_space(4.0);
    }

    fn toasts_ui(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.toasts.retain(|t| t.until > now);
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -40.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for toast in self.toasts.iter().rev().take(4) {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(420.0);
                        if toast.error {
                            ui.colored_label(ui.visuals().error_fg_color, &toast.text);
                        } else {
                            ui.label(&toast.text);
                        }
                    });
                }
            });
        ctx.request_repaint_after(Duration::from_millis(500));
    }

    fn windows_ui(&mut self, ctx: &egui::Context) {
        egui::Window::new("About irtlab")
            .open(&mut self.show_about)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.heading(format!("irtlab {}", env!("CARGO_PKG_VERSION")));
                ui.label("Item Response Theory analysis: prepare, calibrate, score, plot, export.");
                ui.label("Calibration by marginal maximum likelihood (EM, Bock & Aitkin 1981) over 61 quadrature nodes, as in mirt.");
            });
        egui::Window::new("Keyboard shortcuts")
            .open(&mut self.show_shortcuts)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for spec in COMMANDS {
                        if let Some(shortcut) = &spec.shortcut {
                            ui.monospace(commands::shortcut_text(shortcut));
                            ui.label(spec.label);
                            ui.end_row();
                        }
                    }
                    ui.monospace("Ctrl+Enter");
                    ui.label("In the SQL editor: run the query");
                    ui.end_row();
                    ui.monospace("Ctrl+C");
                    ui.label("In a table: copy the selected rows");
                    ui.end_row();
                    ui.monospace("Escape");
                    ui.label("Close a window or dialog");
                    ui.end_row();
                });
            });
        if let Some(dialog) = &mut self.dialog {
            match dialog.show(ctx) {
                DialogOutcome::Open => {}
                DialogOutcome::Cancelled => self.dialog = None,
                DialogOutcome::Chosen(path) => {
                    let purpose = dialog.purpose;
                    self.dialog = None;
                    self.commands.send(Command::Picked(purpose, path));
                }
            }
        }
    }

    /// Keyboard shortcuts of the registry, after the panels drew (a focused editor that uses a
    /// key, such as Ctrl+Enter in the SQL editor, has consumed it by then).
    fn shortcuts(&mut self, ctx: &egui::Context) {
        let mut fired = Vec::new();
        let mut escape = false;
        ctx.input_mut(|input| {
            // Longer shortcuts first, so Ctrl+Shift+S is not taken for Ctrl+S.
            let mut specs: Vec<&commands::CommandSpec> =
                COMMANDS.iter().filter(|c| c.shortcut.is_some()).collect();
            specs.sort_by_key(|c| {
                std::cmp::Reverse(c.shortcut.map_or(0, |s| {
                    usize::from(s.modifiers.shift) + usize::from(s.modifiers.alt)
                }))
            });
            for spec in specs {
                if let Some(shortcut) = &spec.shortcut
                    && input.consume_shortcut(shortcut)
                {
                    fired.push(spec.id);
                }
            }
            escape = input.key_pressed(egui::Key::Escape);
        });
        if escape {
            self.show_about = false;
            self.show_shortcuts = false;
        }
        for id in fired {
            self.commands.run(id);
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Option<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .find(|p| !p.as_os_str().is_empty())
        });
        if let Some(path) = dropped {
            self.commands.send(Command::Open(path));
        }
    }

    /// Draws the whole window.
    pub fn ui_contents(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.attach(&ctx);
        self.poll_jobs();
        self.dropped_files(&ctx);
        self.undoer.feed_state(
            self.clock.elapsed().as_secs_f64(),
            &self.state.document.project,
        );

        egui::Panel::top("menu").show(ui, |ui| self.menu_bar_ui(ui));
        egui::Panel::bottom("status")
            .exact_size(30.0)
            .show(ui, |ui| self.status_bar_ui(ui));
        let narrow = ui.available_width() < 1000.0;
        egui::Panel::left("stages")
            .resizable(false)
            .exact_size(if narrow { 170.0 } else { 210.0 })
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("stages scroll")
                    .show(ui, |ui| self.stages_ui(ui));
            });
        let stage = self.stage;
        egui::CentralPanel::default().show(ui, |ui| {
            self.welcome_strip_ui(ui);
            let scrolls = stage != StageId::Plots;
            self.with_parts(|parts, stage_ctx| {
                let Some(part) = parts.iter_mut().find(|p| p.id() == stage) else {
                    return;
                };
                if scrolls {
                    egui::ScrollArea::both()
                        .id_salt(("stage scroll", stage))
                        .auto_shrink([false, false])
                        .show(ui, |ui| part.ui(ui, stage_ctx));
                } else {
                    part.ui(ui, stage_ctx);
                }
            });
        });
        self.windows_ui(&ctx);
        self.toasts_ui(&ctx);
        self.shortcuts(&ctx);
        self.apply_commands();
        if self.is_busy() || self.undoer.is_in_flux() {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
    }
}

impl eframe::App for IrtlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Some(seconds) = frame.info().cpu_usage {
            self.last_frame_ms = seconds * 1000.0;
        }
        self.ui_contents(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

fn job_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Load => "Loading",
        JobKind::Process => "Preprocessing",
        JobKind::Fit => "Fit",
        JobKind::Score => "Scoring",
        JobKind::Export => "Export",
        JobKind::Dialog => "File dialog",
        JobKind::Stage(stage) => stage.label(),
    }
}

/// The source with its path made absolute (against the current folder).
fn absolute_source(source: Source) -> Source {
    let path = source.path();
    if path.as_os_str().is_empty() || path.is_absolute() {
        return source;
    }
    match std::env::current_dir() {
        Ok(dir) => {
            let joined = dir.join(path);
            source.with_path(joined)
        }
        Err(_) => source,
    }
}

/// Layout, steps and the response matrix for `project` over the loaded `frame`; `inputs` is
/// the fingerprint of the data inputs they ran for.
pub fn process(project: &Project, frame: DataFrame, inputs: u64) -> Processed {
    match project::prepare_loaded(project, frame) {
        Err(error) => Processed {
            layout: Err(error.to_string()),
            pipeline: None,
            matrix: Err("the layout failed".into()),
            inputs,
        },
        Ok(prepared) => {
            let matrix = project::response_matrix(project, &prepared)
                .map(Arc::new)
                .map_err(|e| e.to_string());
            Processed {
                layout: Ok(prepared.layout),
                pipeline: Some(prepared.pipeline),
                matrix,
                inputs,
            }
        }
    }
}

/// The theme, with checkboxes, radio buttons and text fields outlined strongly enough to see
/// on the light background.
pub fn apply_theme(ctx: &egui::Context, dark: bool) {
    ctx.style_mut_of(egui::Theme::Light, |style| {
        let widgets = &mut style.visuals.widgets;
        widgets.inactive.bg_stroke = egui::Stroke::new(1.0, egui::Color32::from_gray(110));
        widgets.inactive.bg_fill = egui::Color32::from_gray(232);
        widgets.inactive.weak_bg_fill = egui::Color32::from_gray(226);
        widgets.hovered.bg_stroke = egui::Stroke::new(1.0, egui::Color32::from_gray(60));
        widgets.noninteractive.fg_stroke.color = egui::Color32::from_gray(40);
        style.visuals.extreme_bg_color = egui::Color32::from_gray(250);
    });
    ctx.set_theme(if dark {
        egui::Theme::Dark
    } else {
        egui::Theme::Light
    });
}

/// Adds DejaVu Sans (and Mono) after egui's default fonts, for the arrows, math signs and
/// symbols the interface uses (→, ≠, ≤, θ, ▲, ✕, ⚠, …) that the defaults lack.
pub fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "DejaVuSans".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSans.ttf"
        ))),
    );
    fonts.font_data.insert(
        "DejaVuSansMono".into(),
        Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSansMono.ttf"
        ))),
    );
    fonts
        .families
        .entry(egui::FontFamily::Proportional)
        .or_default()
        .push("DejaVuSans".into());
    let monospace = fonts
        .families
        .entry(egui::FontFamily::Monospace)
        .or_default();
    monospace.push("DejaVuSansMono".into());
    monospace.push("DejaVuSans".into());
    ctx.set_fonts(fonts);
}

/// The column that most likely identifies persons in a freshly opened table: one named like an
/// id ("id", "person", "student_id", "respondent", …), else a first column of text.
pub fn guess_id_column(frame: &DataFrame) -> Option<String> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    const WORDS: [&str; 8] = [
        "id",
        "person",
        "student",
        "respondent",
        "subject",
        "participant",
        "examinee",
        "pupil",
    ];
    names
        .iter()
        .find(|n| {
            let lower = n.to_lowercase();
            WORDS.iter().any(|w| {
                lower == *w
                    || lower.starts_with(&format!("{w}_"))
                    || lower.ends_with("_id")
                    || lower.ends_with(" id")
            })
        })
        .cloned()
        .or_else(|| {
            let first = frame.columns().first()?;
            (first.dtype() == &polars::prelude::DataType::String).then(|| first.name().to_string())
        })
}
