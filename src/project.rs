//! The saved analysis: a versioned `*.irtlab.json` file holding the source, layout, steps,
//! response columns and model settings — everything needed to redo the analysis — and running
//! it: the code path shared by `irtlab run`, `irtlab prepare` and the app.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::export::write_atomically;
use crate::prediction::classical::{ClassicalAnalysis, ClassicalSettings, classical_analysis};
use crate::prediction::diagnostics::DiagnosticsOptions;
use crate::prediction::dif::{DifProgress, DifReport, DifSettings};
use crate::prediction::distractors::{DistractorAnalysis, DistractorSettings, distractor_analysis};
use crate::prediction::groups::{GroupAnalysis, GroupModel, Groups, Invariance};
use crate::prediction::{
    self, Analysis, FitSettings, PredictionError, Progress, ResponseMatrix, ScoringMethod,
};
use crate::preparation::sparse::{NO_VALUE, SparseResponses};
use crate::preparation::{Layout, LayoutReport, PreparationError, ResponseColumns, Source};
use crate::preprocessing::{KeyEntry, PipelineError, PipelineRun, PipelineStep, run_pipeline_with};

/// The project file format version this program writes and reads.
pub const PROJECT_VERSION: u32 = 1;

/// A saved analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// File format version; always [`PROJECT_VERSION`].
    pub version: u32,
    /// Where the data comes from.
    pub source: Source,
    /// Wide, or long to be pivoted.
    #[serde(default)]
    pub layout: Layout,
    /// Preprocessing steps, in order.
    #[serde(default)]
    pub steps: Vec<PipelineStep>,
    /// The person-id and item columns of the response matrix.
    #[serde(default)]
    pub response_columns: ResponseColumns,
    /// Calibration settings.
    #[serde(default)]
    pub model: FitSettings,
    /// Ability estimation.
    #[serde(default)]
    pub scoring: ScoringMethod,
    /// The group column for multiple-group calibration and DIF (files without it load as
    /// single-group projects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupSetting>,
    /// A DIF analysis between the group setting's reference and focal group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dif: Option<DifSettings>,
    /// Fit statistics to compute after the fit (`irtlab run` then writes `item_fit.csv` and
    /// `model_fit.json`); `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<DiagnosticsOptions>,
    /// Classical item analysis and distractor analysis (left out of the file while at their
    /// defaults, so files that do not use them read in older versions too).
    #[serde(default, skip_serializing_if = "ClassicalOptions::is_default")]
    pub classical: ClassicalOptions,
}

/// The project's settings of the classical item analysis and the distractor analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClassicalOptions {
    /// `irtlab run` also writes `ctt.csv` (items), `ctt_test.csv` (test) and, when there is a
    /// key, `distractors.csv`.
    pub write_tables: bool,
    /// Item-analysis settings (the upper–lower index's groups).
    pub items: ClassicalSettings,
    /// Distractor-analysis settings (score groups, the options offered).
    pub distractors: DistractorSettings,
    /// The answer key for the distractor analysis of data that have no score-by-key step (the
    /// response columns then hold the unscored answers). A score-by-key step's key wins.
    pub key: Vec<KeyEntry>,
}

impl ClassicalOptions {
    /// Whether every setting is at its default.
    pub fn is_default(&self) -> bool {
        self == &ClassicalOptions::default()
    }
}

/// Which column splits the persons into groups, and what to do with them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSetting {
    /// The column (any column kept through preprocessing; never an item).
    pub column: String,
    /// The reference group's value (default: the first value in sorted order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The focal group's value (default: every other value; DIF needs exactly one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal: Option<String>,
    /// Fit a multiple-group model at this invariance level instead of one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariance: Option<Invariance>,
}

/// What went wrong with a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The project file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The project file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Loading or laying out the data failed.
    #[error(transparent)]
    Preparation(#[from] PreparationError),
    /// A preprocessing step failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Building the response matrix or fitting failed.
    #[error(transparent)]
    Prediction(#[from] PredictionError),
}

impl Project {
    /// A new project on `source` with defaults everywhere else.
    pub fn new(source: Source) -> Project {
        Project {
            version: PROJECT_VERSION,
            source,
            layout: Layout::default(),
            steps: Vec::new(),
            response_columns: ResponseColumns::default(),
            model: FitSettings::default(),
            scoring: ScoringMethod::default(),
            classical: ClassicalOptions::default(),
            diagnostics: None,
            groups: None,
            dif: None,
        }
    }

    /// Parses a project from JSON text. Errors name the field and position.
    pub fn from_json(text: &str) -> Result<Project, String> {
        let project: Project = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if project.version != PROJECT_VERSION {
            return Err(format!(
                "project file version {} is not supported; this irtlab reads version {PROJECT_VERSION}",
                project.version
            ));
        }
        project
            .model
            .validate()
            .map_err(|e| format!("model settings: {e}"))?;
        project
            .classical
            .items
            .validate()
            .map_err(|e| format!("classical settings: {e}"))?;
        project
            .classical
            .distractors
            .validate()
            .map_err(|e| format!("distractor settings: {e}"))?;
        if let Some(dif) = &project.dif {
            dif.validate().map_err(|e| format!("DIF settings: {e}"))?;
            if project.groups.is_none() {
                return Err(
                    "the DIF analysis needs a group setting (\"groups\": {\"column\": …})".into(),
                );
            }
        }
        Ok(project)
    }

    /// Reads a project file.
    pub fn load(path: &Path) -> Result<Project, ProjectError> {
        let failed = |message: String| ProjectError::File {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        Project::from_json(&text).map_err(failed)
    }

    /// Pretty JSON of the project, with the source path relative to `folder` when the source
    /// lies in it or below it.
    pub fn to_json(&self, folder: Option<&Path>) -> String {
        let mut copy = self.clone();
        if let Some(folder) = folder {
            let source = copy.source.path().to_path_buf();
            let absolute = if source.is_relative() {
                std::env::current_dir()
                    .map(|d| d.join(&source))
                    .unwrap_or(source.clone())
            } else {
                source.clone()
            };
            let folder_absolute = std::fs::canonicalize(folder).unwrap_or(folder.to_path_buf());
            let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
            // Beside or below the project file: relative, so the two move together. Elsewhere:
            // absolute, so that the file opens from any folder.
            copy.source = match absolute.strip_prefix(&folder_absolute) {
                Ok(relative) => copy.source.with_path(relative.to_path_buf()),
                Err(_) => copy.source.with_path(absolute),
            };
        }
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(&copy).unwrap_or_default()
    }

    /// Writes the project file atomically; the source path is stored relative to the file's
    /// folder when the source lies beside or below it.
    pub fn save(&self, path: &Path) -> Result<(), ProjectError> {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        let text = self.to_json(Some(folder.unwrap_or(Path::new("."))));
        write_atomically(path, |file| {
            std::io::Write::write_all(file, text.as_bytes()).map_err(|e| e.to_string())
        })
        .map_err(|e| ProjectError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The source with its path resolved against the project's folder `base`.
    pub fn resolved_source(&self, base: Option<&Path>) -> Source {
        self.source.with_path(crate::preparation::source::resolve(
            self.source.path(),
            base,
        ))
    }
}

/// The data after preparation and preprocessing.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Rows and columns of the loaded source.
    pub loaded_shape: (usize, usize),
    /// What the layout did.
    pub layout: LayoutReport,
    /// The pipeline's result, per-step reports and first error.
    pub pipeline: PipelineRun,
}

/// Preparation and preprocessing. A failing step does not make this fail: its error is in
/// `pipeline.error`, and `pipeline.output` holds the result of the steps before it.
pub fn prepare(project: &Project, base: Option<&Path>) -> Result<Prepared, ProjectError> {
    let loaded = project.source.load(base)?;
    prepare_loaded(project, loaded)
}

/// Layout and preprocessing of already loaded source data (the app keeps the loaded table and
/// reruns only this when the layout or the steps change).
pub fn prepare_loaded(project: &Project, loaded: DataFrame) -> Result<Prepared, ProjectError> {
    let loaded_shape = (loaded.height(), loaded.width());
    let (wide, mut layout) = project.layout.apply(loaded)?;
    let pipeline = run_pipeline_with(wide, layout.sparse.take(), &project.steps);
    Ok(Prepared {
        loaded_shape,
        layout,
        pipeline,
    })
}

/// The response matrix of prepared data: the id and item columns the project names.
pub fn response_matrix(
    project: &Project,
    prepared: &Prepared,
) -> Result<ResponseMatrix, ProjectError> {
    if let Some(error) = &prepared.pipeline.error {
        return Err(error.clone().into());
    }
    let frame = &prepared.pipeline.output;
    if frame.height() == 0 {
        let emptied = prepared
            .pipeline
            .reports
            .iter()
            .position(|r| r.ran && r.rows_in > 0 && r.rows_out == 0);
        return Err(crate::preparation::PreparationError::Other(match emptied {
            Some(i) => format!(
                "no persons are left: step {} ({}) removed every row",
                i + 1,
                project.steps[i].step.kind_label()
            ),
            None => "the data has no rows".to_string(),
        })
        .into());
    }
    let id_column = project.response_columns.id_column.as_deref();
    if let Some(sparse) = &prepared.pipeline.sparse {
        return sparse_matrix(&project.response_columns.items, id_column, frame, sparse);
    }
    let mut items = project
        .response_columns
        .item_columns(frame, &prepared.layout.pivoted_items)?;
    // The group column describes persons; it is never an item.
    if let Some(groups) = &project.groups {
        items.retain(|c| *c != groups.column);
    }
    Ok(ResponseMatrix::from_dataframe(
        frame,
        id_column,
        Some(&items),
    )?)
}

/// The response matrix of long data held sparse: persons from the person table, the `items`
/// among the sparse items, categories from each item's values.
fn sparse_matrix(
    items: &crate::preparation::ItemSelection,
    id_column: Option<&str>,
    frame: &DataFrame,
    sparse: &SparseResponses,
) -> Result<ResponseMatrix, ProjectError> {
    use crate::preparation::layout::matches_pattern;
    use crate::preparation::{ItemSelection, PreparationError};
    let selected: Vec<usize> = match items {
        ItemSelection::Auto => (0..sparse.item_names.len()).collect(),
        ItemSelection::Named { columns } => columns
            .iter()
            .map(|c| {
                sparse
                    .item_names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| PreparationError::ColumnNotFound {
                        column: c.clone(),
                        available: crate::prediction::responses::shorten_list(&sparse.item_names),
                    })
            })
            .collect::<Result<_, _>>()?,
        ItemSelection::Pattern { pattern } => (0..sparse.item_names.len())
            .filter(|&j| matches_pattern(pattern, &sparse.item_names[j]))
            .collect(),
    };
    let person_ids: Vec<String> = match id_column {
        Some(id) => {
            let column = frame
                .column(id)
                .map_err(|_| PreparationError::ColumnNotFound {
                    column: id.to_string(),
                    available: frame
                        .get_column_names()
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let text = column
                .cast(&polars::prelude::DataType::String)
                .map_err(|e| PreparationError::Other(e.to_string()))?;
            text.str()
                .map_err(|e| PreparationError::Other(e.to_string()))?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect()
        }
        None => (1..=frame.height()).map(|i| i.to_string()).collect(),
    };
    let order = sparse.item_categories();
    let mut new_item = vec![None; sparse.item_names.len()];
    for (position, &j) in selected.iter().enumerate() {
        new_item[j] = Some(position as u32);
    }
    // Per selected item: label index → category code.
    let mut code_of: Vec<std::collections::HashMap<u32, u8>> = Vec::with_capacity(selected.len());
    let mut categories = Vec::with_capacity(selected.len());
    for &j in &selected {
        if order[j].len() > crate::prediction::responses::MAX_CATEGORIES {
            return Err(crate::prediction::PredictionError::TooManyCategories {
                column: sparse.item_names[j].clone(),
                count: order[j].len(),
            }
            .into());
        }
        code_of.push(
            order[j]
                .iter()
                .enumerate()
                .map(|(code, &label)| (label, code as u8))
                .collect(),
        );
        categories.push(
            order[j]
                .iter()
                .map(|&label| {
                    let text = &sparse.labels[label as usize];
                    text.parse::<f64>().map_or_else(
                        |_| text.clone(),
                        crate::prediction::responses::format_category,
                    )
                })
                .collect(),
        );
    }
    let triples: Vec<(u32, u32, u8)> = (0..sparse.len())
        .filter(|&r| sparse.values[r] != NO_VALUE)
        .filter_map(|r| {
            let item = new_item[sparse.items[r] as usize]?;
            let code = *code_of[item as usize].get(&sparse.values[r])?;
            Some((sparse.persons[r], item, code))
        })
        .collect();
    let item_names = selected
        .iter()
        .map(|&j| sparse.item_names[j].clone())
        .collect();
    Ok(ResponseMatrix::from_triples(
        person_ids, item_names, categories, &triples,
    )?)
}

/// A whole analysis run.
#[derive(Clone, Debug)]
pub struct ProjectRun {
    /// Preparation and preprocessing.
    pub prepared: Prepared,
    /// The response matrix fitted.
    pub matrix: ResponseMatrix,
    /// Calibration, scores, classical statistics.
    pub analysis: Analysis,
    /// The multiple-group fit and DIF analysis, when the project asks for them.
    pub group_results: Option<GroupResults>,
}

/// The results of a project's group setting.
#[derive(Clone, Debug)]
pub struct GroupResults {
    /// Who is in which group.
    pub groups: Groups,
    /// The multiple-group calibration, when the group setting names an invariance level.
    pub calibration: Option<GroupAnalysis>,
    /// The DIF analysis, when the project holds one.
    pub dif: Option<DifReport>,
}

/// What the group analyses are doing.
#[derive(Clone, Debug, PartialEq)]
pub enum GroupProgress {
    /// The multiple-group calibration.
    Calibration(Progress),
    /// The DIF analysis.
    Dif(DifProgress),
}

/// The project's groups: its group setting applied to the prepared data (one row per person,
/// in the response matrix's order). `None` without a group setting.
pub fn project_groups(
    project: &Project,
    prepared: &Prepared,
    for_dif: bool,
) -> Result<Option<Groups>, ProjectError> {
    let Some(setting) = &project.groups else {
        return Ok(None);
    };
    let focal: Option<Vec<String>> = setting.focal.clone().map(|f| vec![f]);
    let groups = Groups::from_dataframe(
        &prepared.pipeline.output,
        &setting.column,
        setting.reference.as_deref(),
        focal.as_deref(),
    )?;
    if for_dif && groups.len() != 2 {
        return Err(PredictionError::InvalidSetting(format!(
            "DIF compares two groups; column {} has {} ({}): set the focal group",
            crate::text::quoted(&setting.column),
            groups.len(),
            groups.names.join(", ")
        ))
        .into());
    }
    Ok(Some(groups))
}

/// The multiple-group calibration (when the group setting names an invariance level) and the
/// DIF analysis (when the project holds one) of a prepared project. `None` without a group
/// setting.
pub fn run_group_analyses(
    project: &Project,
    prepared: &Prepared,
    matrix: &ResponseMatrix,
    progress: &mut dyn FnMut(GroupProgress),
    cancel: &AtomicBool,
) -> Result<Option<GroupResults>, ProjectError> {
    let Some(groups) = project_groups(project, prepared, project.dif.is_some())? else {
        return Ok(None);
    };
    let calibration = match project.groups.as_ref().and_then(|g| g.invariance) {
        Some(level) => Some(prediction::groups::analyse_groups(
            matrix,
            &groups,
            &GroupModel::invariance(level),
            &project.model,
            project.scoring,
            &mut |p| progress(GroupProgress::Calibration(p)),
            cancel,
        )?),
        None => None,
    };
    let dif = match &project.dif {
        Some(settings) => Some(prediction::dif::run_dif(
            matrix,
            &groups,
            settings,
            &mut |p| progress(GroupProgress::Dif(p)),
            cancel,
        )?),
        None => None,
    };
    Ok(Some(GroupResults {
        groups,
        calibration,
        dif,
    }))
}

/// Preparation → preprocessing → calibration → scoring.
pub fn run_project(
    project: &Project,
    base: Option<&Path>,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<ProjectRun, ProjectError> {
    let prepared = prepare(project, base)?;
    let matrix = response_matrix(project, &prepared)?;
    let analysis = prediction::analyse(&matrix, &project.model, project.scoring, progress, cancel)?;
    let group_results = run_group_analyses(
        project,
        &prepared,
        &matrix,
        &mut |p| {
            if let GroupProgress::Calibration(p) = p {
                progress(p)
            }
        },
        cancel,
    )?;
    Ok(ProjectRun {
        prepared,
        matrix,
        analysis,
        group_results,
    })
}

/// Where the distractor analysis's answers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The input of the score-by-key step at this 0-based position, and its key.
    ScoreKeyStep(usize),
    /// The response columns after the steps, with the project's key table.
    KeyTable,
}

/// The unscored answers and their key, for the distractor analysis.
#[derive(Clone, Debug)]
pub struct DistractorInput {
    /// One column per keyed item; its categories are the answer options.
    pub answers: ResponseMatrix,
    /// The key.
    pub key: Vec<KeyEntry>,
    /// Where they came from.
    pub source: KeySource,
    /// Whether the persons are those left after every step (followed by person id); `false`
    /// when the persons are those the score-by-key step saw (no person-id column to follow).
    pub persons_followed: bool,
}

/// The unscored answers and key of a prepared project: the input of its (last) score-by-key
/// step and that step's key; without such a step, the response columns after the steps with
/// the project's key table (`classical.key`), or `key_table` when given. `None` when there is
/// no key at all. Persons that later steps remove are left out when the project names a
/// person-id column (they are matched by id).
pub fn distractor_input(
    project: &Project,
    prepared: &Prepared,
    key_table: Option<&[KeyEntry]>,
) -> Result<Option<DistractorInput>, ProjectError> {
    use crate::preparation::ItemSelection;
    let id_column = project.response_columns.id_column.as_deref();
    let (frame, sparse, key, source) = match &prepared.pipeline.score_key_input {
        Some(input) => (
            &input.frame,
            input.sparse.as_ref(),
            input.key.clone(),
            KeySource::ScoreKeyStep(input.index),
        ),
        None => {
            let key = match key_table {
                Some(key) => key.to_vec(),
                None => project.classical.key.clone(),
            };
            if key.is_empty() {
                return Ok(None);
            }
            (
                &prepared.pipeline.output,
                prepared.pipeline.sparse.as_ref(),
                key,
                KeySource::KeyTable,
            )
        }
    };
    let key: Vec<KeyEntry> = key.into_iter().filter(|k| !k.column.is_empty()).collect();
    if key.is_empty() {
        return Ok(None);
    }
    let columns: Vec<String> = key.iter().map(|k| k.column.clone()).collect();
    // The id column may not exist yet at the step (or was renamed): row numbers then.
    let id_column = id_column.filter(|id| frame.column(id).is_ok());
    let answers = match sparse {
        Some(sparse) => sparse_matrix(&ItemSelection::Named { columns }, id_column, frame, sparse)?,
        None => ResponseMatrix::from_dataframe(frame, id_column, Some(&columns))?,
    };
    // Steps after the key (a filter, say) may drop persons: follow them by person id.
    let mut persons_followed = false;
    let answers = match (source, id_column) {
        (KeySource::ScoreKeyStep(_), Some(id)) => {
            match person_id_texts(&prepared.pipeline.output, id) {
                Some(remaining) => {
                    let remaining: std::collections::HashSet<&str> =
                        remaining.iter().map(String::as_str).collect();
                    let keep: Vec<usize> = (0..answers.n_persons())
                        .filter(|&p| remaining.contains(answers.person_ids()[p].as_str()))
                        .collect();
                    persons_followed = true;
                    if keep.len() == answers.n_persons() {
                        answers
                    } else {
                        answers.select_persons(&keep)
                    }
                }
                None => answers,
            }
        }
        _ => answers,
    };
    Ok(Some(DistractorInput {
        answers,
        key,
        source,
        persons_followed: persons_followed || source == KeySource::KeyTable,
    }))
}

impl DistractorInput {
    /// Where the answers and key came from, in words, for reports.
    pub fn describe(&self, project: &Project) -> String {
        let source = match self.source {
            KeySource::ScoreKeyStep(index) => format!(
                "the answers as step {} ({}) received them, and its key",
                index + 1,
                project
                    .steps
                    .get(index)
                    .map_or("Score by key", |s| s.step.kind_label())
            ),
            KeySource::KeyTable => {
                "the response columns after the steps, with the key table".into()
            }
        };
        let persons = if self.persons_followed {
            "the persons left after every step"
        } else {
            "the persons at that step (later steps' removals are not followed without a person-id column)"
        };
        format!("{source}; {persons}")
    }
}

/// The values of column `id` as text, when the table has it.
fn person_id_texts(frame: &DataFrame, id: &str) -> Option<Vec<String>> {
    let column = frame.column(id).ok()?;
    let text = column
        .as_materialized_series()
        .cast(&polars::prelude::DataType::String)
        .ok()?;
    Some(
        text.str()
            .ok()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
    )
}

/// The classical item analysis of a project's response matrix and, when there is a key, the
/// distractor analysis of its unscored answers.
#[derive(Clone, Debug)]
pub struct ClassicalRun {
    /// Item and test statistics, standard scores.
    pub classical: ClassicalAnalysis,
    /// The distractor analysis, when there is a key.
    pub distractors: Option<DistractorAnalysis>,
    /// The answers and key it used.
    pub distractor_input: Option<DistractorInput>,
}

/// Runs the classical analysis of `matrix` and the distractor analysis of the project's
/// unscored answers (see [`distractor_input`]) with the project's settings.
pub fn classical_run(
    project: &Project,
    prepared: &Prepared,
    matrix: &ResponseMatrix,
    key_table: Option<&[KeyEntry]>,
) -> Result<ClassicalRun, ProjectError> {
    let classical = classical_analysis(matrix, &project.classical.items)?;
    let distractor_input = distractor_input(project, prepared, key_table)?;
    let distractors = match &distractor_input {
        Some(input) => Some(distractor_analysis(
            &input.answers,
            &input.key,
            &project.classical.distractors,
        )?),
        None => None,
    };
    Ok(ClassicalRun {
        classical,
        distractors,
        distractor_input,
    })
}
