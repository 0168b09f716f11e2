//! The Preparation stage: open a file, CSV options, SQLite tables and the SQL editor, the layout
//! (wide or long, guessed when a file is opened) and which columns are the person id and the
//! items; a preview of the loaded data.

use eframe::egui;

use super::Named;

use super::{
    Level, StageContext, StageId, StagePart, StageStatus, column_combo, column_name_combo,
};
use crate::app::JobOutput;
use crate::app::commands::{Command, CommandId, Edit};
use crate::app::jobs::{JobKind, JobQueue};
use crate::app::sample_project_path;
use crate::app::state::{AppState, Inputs};
use crate::app::table_view::dataframe_table_ui;
use crate::preparation::{
    CsvOptions, DuplicatePolicy, ItemSelection, Layout, Source, SqliteSelection,
};
use crate::text::count;

/// The Preparation stage.
#[derive(Default)]
pub struct Preparation;

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

impl StagePart for Preparation {
    fn id(&self) -> StageId {
        StageId::Preparation
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, _inputs: Inputs) -> StageStatus {
        if jobs.running(JobKind::Load) {
            return StageStatus::at(Level::Busy, "loading…");
        }
        if let Some(error) = &state.data.load_error {
            return StageStatus::at(Level::Error, first_line(error));
        }
        if let Some(Err(error)) = state.data.processed.as_ref().map(|p| &p.layout) {
            return StageStatus::at(Level::Error, first_line(error));
        }
        match &state.data.loaded {
            Some(loaded) => StageStatus::normal(format!(
                "{} rows × {} columns",
                count(loaded.frame.height()),
                loaded.frame.width()
            )),
            None => StageStatus::normal("no data"),
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.heading("Preparation");
        let source_path = ctx.state.document.project.source.path().to_path_buf();
        if source_path.as_os_str().is_empty() {
            welcome_ui(ui, ctx);
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let kind = match ctx.state.document.project.source {
                Source::Csv { .. } => "CSV",
                Source::Sqlite { .. } => "SQLite (read-only)",
                Source::Parquet { .. } => "Parquet",
            };
            ui.label(format!("{kind}:"));
            ui.monospace(source_path.display().to_string());
            if ui.button("Open another…").clicked() {
                ctx.commands.run(CommandId::OpenDataset);
            }
            if ui
                .button("Reload")
                .on_hover_text("Read the file again")
                .clicked()
            {
                ctx.send(Command::ReloadSource);
            }
        });
        // A SQLite source shows its error under the SQL editor instead.
        let is_sqlite = matches!(ctx.state.document.project.source, Source::Sqlite { .. });
        if let Some(error) = &ctx.state.data.load_error
            && !is_sqlite
        {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let mut reload = false;
        match &mut ctx.state.document.project.source {
            Source::Csv { options, .. } => reload |= csv_options_ui(ui, options),
            Source::Sqlite { .. } => reload |= sqlite_ui(ui, ctx),
            Source::Parquet { .. } => {}
        }
        if reload {
            ctx.edited(Edit::Source);
            ctx.send(Command::ReloadSource);
        }
        ui.separator();
        let columns = ctx.state.data.loaded_columns();
        if layout_ui(ui, ctx, &columns) {
            ctx.edited(Edit::Data);
        }
        match ctx.state.data.processed.as_ref().map(|p| &p.layout) {
            Some(Err(error)) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            Some(Ok(report))
                if matches!(ctx.state.document.project.layout, Layout::Long { .. }) =>
            {
                let sparse = ctx
                    .state
                    .data
                    .processed
                    .as_ref()
                    .and_then(|p| p.pipeline.as_ref())
                    .and_then(|p| p.sparse.as_ref());
                ui.label(format!(
                    "Long → wide: {} rows → {} persons × {} items{}{}",
                    count(report.rows_in),
                    count(report.rows_out),
                    report.pivoted_items.len(),
                    if report.duplicates > 0 {
                        format!(", {} duplicate person–item rows", count(report.duplicates))
                    } else {
                        String::new()
                    },
                    match sparse {
                        Some(s) => format!(
                            " — an incomplete design, held sparse ({} responses)",
                            count(s.len())
                        ),
                        None => String::new(),
                    }
                ));
            }
            _ => {}
        }
        ui.separator();
        let loaded = ctx.state.data.loaded.as_ref().map(|l| l.frame.clone());
        match loaded {
            Some(frame) => {
                ui.label(format!(
                    "Loaded data: {} rows × {} columns",
                    count(frame.height()),
                    frame.width()
                ));
                let height = super::fill_height(ui, 220.0);
                dataframe_table_ui(ui, "source preview", &frame, &[], height);
            }
            None => {
                ui.weak("No data loaded.");
            }
        }
    }
}

fn welcome_ui(ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.heading("Welcome to irtlab");
        ui.label("Open a dataset (CSV, SQLite or Parquet) or a saved project to begin.");
        ui.horizontal_wrapped(|ui| {
            if ui.button("Open dataset…").clicked() {
                ctx.commands.run(CommandId::OpenDataset);
            }
            if ui.button("Open project…").clicked() {
                ctx.commands.run(CommandId::OpenProject);
            }
            if sample_project_path().exists() && ui.button("Open the sample project").clicked() {
                ctx.commands.run(CommandId::OpenSample);
            }
        });
        if !ctx.settings.recent_files.is_empty() {
            ui.label("Recent files:");
            for path in ctx.settings.recent_files.iter().take(5) {
                if ui.link(path.display().to_string()).clicked() {
                    ctx.commands.send(Command::Open(path.clone()));
                }
            }
        }
        ui.weak("You can also drop a file on the window.");
    });
}

fn csv_options_ui(ui: &mut egui::Ui, options: &mut CsvOptions) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Delimiter");
        let label = |d: Option<char>| match d {
            None => "detect".to_string(),
            Some(',') => "comma ,".into(),
            Some(';') => "semicolon ;".into(),
            Some('\t') => "tab".into(),
            Some(c) => format!("{c:?}"),
        };
        egui::ComboBox::new("csv delimiter", "")
            .selected_text(label(options.delimiter))
            .show_ui(ui, |ui| {
                for d in [None, Some(','), Some(';'), Some('\t')] {
                    changed |= ui
                        .selectable_value(&mut options.delimiter, d, label(d))
                        .changed();
                }
            })
            .named("Delimiter");
        let missing = ui.label("Missing values").on_hover_text(
            "Texts read as missing, separated by commas (empty cells are always missing)",
        );
        let mut text = options.missing_markers.join(", ");
        if ui
            .add(egui::TextEdit::singleline(&mut text).desired_width(160.0))
            .labelled_by(missing.id)
            .changed()
        {
            options.missing_markers = text
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            changed = true;
        }
    });
    changed
}

/// Tables and the SQL editor; returns whether the source must be loaded again.
fn sqlite_ui(ui: &mut egui::Ui, ctx: &mut StageContext<'_>) -> bool {
    let mut reload = false;
    let tables = ctx
        .state
        .data
        .loaded
        .as_ref()
        .map(|l| l.sqlite_tables.clone())
        .unwrap_or_default();
    let load_error = ctx.state.data.load_error.clone();
    let running = ctx.jobs.running(JobKind::Load);
    let state = &mut *ctx.state;
    let Source::Sqlite { selection, .. } = &mut state.document.project.source else {
        return false;
    };
    ui.columns(2, |columns| {
        let ui = &mut columns[0];
        ui.strong("Tables and views");
        egui::ScrollArea::vertical()
            .id_salt("sqlite tables")
            .max_height(150.0)
            .show(ui, |ui| {
                for table in &tables {
                    let selected =
                        matches!(selection, SqliteSelection::Table { name } if *name == table.name);
                    let text = format!(
                        "{}  ({} {}, {} columns)",
                        table.name,
                        count(table.rows as usize),
                        if table.kind == "view" {
                            "rows, view"
                        } else {
                            "rows"
                        },
                        table.columns.len()
                    );
                    if ui
                        .selectable_label(selected, text)
                        .on_hover_text(table.columns.join(", "))
                        .clicked()
                    {
                        *selection = SqliteSelection::Table {
                            name: table.name.clone(),
                        };
                        reload = true;
                    }
                }
                if tables.is_empty() {
                    ui.weak("(no tables listed)");
                }
            });
        let ui = &mut columns[1];
        ui.horizontal_wrapped(|ui| {
            ui.strong("SQL query");
            ui.weak("read-only; Ctrl+Enter runs it");
        });
        let label = ui.label("Query text");
        let editor = ui
            .add(
                egui::TextEdit::multiline(&mut state.data.sql_text)
                    .code_editor()
                    .desired_rows(5)
                    .desired_width(f32::INFINITY)
                    .hint_text("SELECT … FROM … JOIN …"),
            )
            .labelled_by(label.id);
        // The editor takes Ctrl+Enter before the app's shortcut for fitting sees it.
        let run_by_key = editor.has_focus()
            && ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::Enter,
                ))
            });
        ui.horizontal(|ui| {
            if (ui
                .add_enabled(!running, egui::Button::new("Run query"))
                .clicked()
                || run_by_key)
                && !state.data.sql_text.trim().is_empty()
            {
                *selection = SqliteSelection::Query {
                    sql: state.data.sql_text.clone(),
                };
                reload = true;
            }
            if running && ui.button("Cancel query").clicked() {
                ctx.commands.send(Command::Cancel(JobKind::Load));
            }
        });
        if let Some(error) = &load_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
    reload
}

/// Guesses a long layout for a freshly loaded table: three columns that look like person, item
/// and response (by name, or a first column of repeated keys with few columns).
pub fn guess_layout(columns: &[String]) -> Option<Layout> {
    let find = |words: &[&str]| {
        columns
            .iter()
            .find(|c| {
                let lower = c.to_lowercase();
                words.iter().any(|w| lower == *w || lower.contains(w))
            })
            .cloned()
    };
    let person = find(&[
        "person",
        "student",
        "respondent",
        "examinee",
        "subject",
        "pupil",
        "user",
    ])
    .or_else(|| find(&["id"]))?;
    let item = find(&["item", "question", "task", "exercise"])?;
    let response = find(&[
        "response", "answer", "score", "value", "choice", "correct", "result",
    ])?;
    if person == item || item == response || person == response || columns.len() > 8 {
        return None;
    }
    Some(Layout::Long {
        person_column: person,
        item_column: item,
        response_column: response,
        duplicates: DuplicatePolicy::First,
    })
}

fn layout_ui(ui: &mut egui::Ui, ctx: &mut StageContext<'_>, columns: &[String]) -> bool {
    let mut changed = false;
    let project = &mut ctx.state.document.project;
    ui.horizontal_wrapped(|ui| {
        ui.strong("Layout");
        let is_long = matches!(project.layout, Layout::Long { .. });
        if ui
            .radio(!is_long, "Wide — a row per person, a column per item")
            .clicked()
            && is_long
        {
            project.layout = Layout::Wide;
            changed = true;
        }
        if ui
            .radio(is_long, "Long — a row per person and item")
            .clicked()
            && !is_long
        {
            let layout = guess_layout(columns).unwrap_or_else(|| Layout::Long {
                person_column: columns.first().cloned().unwrap_or_default(),
                item_column: columns.get(1).cloned().unwrap_or_default(),
                response_column: columns.get(2).cloned().unwrap_or_default(),
                duplicates: DuplicatePolicy::First,
            });
            if let Layout::Long { person_column, .. } = &layout {
                project.response_columns.id_column = Some(person_column.clone());
            }
            project.layout = layout;
            project.response_columns.items = ItemSelection::Auto;
            changed = true;
        }
    });
    if let Layout::Long {
        person_column,
        item_column,
        response_column,
        duplicates,
    } = &mut project.layout
    {
        egui::Grid::new("long layout")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Person column");
                if column_name_combo(ui, "person column", "Person column", person_column, columns) {
                    project.response_columns.id_column = Some(person_column.clone());
                    changed = true;
                }
                ui.end_row();
                ui.label("Item column");
                changed |=
                    column_name_combo(ui, "item column", "Item column", item_column, columns);
                ui.end_row();
                ui.label("Response column");
                changed |= column_name_combo(
                    ui,
                    "response column",
                    "Response column",
                    response_column,
                    columns,
                );
                ui.end_row();
                ui.label("Duplicate person–item rows")
                    .on_hover_text("What to do when a person answered the same item in two rows");
                egui::ComboBox::new("duplicates", "")
                    .selected_text(match duplicates {
                        DuplicatePolicy::First => "keep the first",
                        DuplicatePolicy::Last => "keep the last",
                        DuplicatePolicy::Error => "stop with an error",
                    })
                    .show_ui(ui, |ui| {
                        for (policy, text) in [
                            (DuplicatePolicy::First, "keep the first"),
                            (DuplicatePolicy::Last, "keep the last"),
                            (DuplicatePolicy::Error, "stop with an error"),
                        ] {
                            changed |= ui.selectable_value(duplicates, policy, text).changed();
                        }
                    })
                    .named("Duplicate person–item rows");
                ui.end_row();
            });
    }
    changed |= response_columns_ui(ui, ctx, columns);
    changed
}

/// The response-matrix columns: person id and items.
pub fn response_columns_ui(
    ui: &mut egui::Ui,
    ctx: &mut StageContext<'_>,
    columns: &[String],
) -> bool {
    let mut changed = false;
    let response = &mut ctx.state.document.project.response_columns;
    egui::Grid::new("response columns")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Person id").on_hover_text(
                "The column that identifies persons; row numbers are used without one",
            );
            changed |= column_combo(
                ui,
                "id column",
                "Person id",
                &mut response.id_column,
                columns,
                Some("(row number)"),
            );
            ui.end_row();
            ui.label("Items")
                .on_hover_text("Which columns hold the responses after preprocessing");
            ui.horizontal_wrapped(|ui| {
                let mode = match &response.items {
                    ItemSelection::Auto => 0,
                    ItemSelection::Pattern { .. } => 1,
                    ItemSelection::Named { .. } => 2,
                };
                if ui
                    .radio(mode == 0, "automatic")
                    .on_hover_text(
                        "Long data: the pivoted items; wide data: every column but the id",
                    )
                    .clicked()
                    && mode != 0
                {
                    response.items = ItemSelection::Auto;
                    changed = true;
                }
                if ui.radio(mode == 1, "by pattern").clicked() && mode != 1 {
                    response.items = ItemSelection::Pattern {
                        pattern: "Q*".into(),
                    };
                    changed = true;
                }
                if ui.radio(mode == 2, "by name").clicked() && mode != 2 {
                    let id = response.id_column.clone();
                    response.items = ItemSelection::Named {
                        columns: columns
                            .iter()
                            .filter(|c| Some(*c) != id.as_ref())
                            .cloned()
                            .collect(),
                    };
                    changed = true;
                }
            });
            ui.end_row();
            match &mut response.items {
                ItemSelection::Pattern { pattern } => {
                    let label = ui.label("Pattern");
                    changed |= ui
                        .add(egui::TextEdit::singleline(pattern).desired_width(160.0))
                        .labelled_by(label.id)
                        .on_hover_text("* matches any text, ? one character; e.g. Q* or item_??")
                        .changed();
                    ui.end_row();
                }
                ItemSelection::Named { columns: chosen } => {
                    ui.label("Columns");
                    ui.horizontal_wrapped(|ui| {
                        for column in columns {
                            let mut on = chosen.contains(column);
                            if ui.checkbox(&mut on, column).changed() {
                                if on {
                                    chosen.push(column.clone());
                                } else {
                                    chosen.retain(|c| c != column);
                                }
                                changed = true;
                            }
                        }
                    });
                    ui.end_row();
                }
                ItemSelection::Auto => {}
            }
        });
    changed
}
