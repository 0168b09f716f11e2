//! The Preparation panel: open a file, CSV options, SQLite tables and SQL editor, the layout
//! (wide or long) and which columns are the person id and the items; a preview of the data.

use eframe::egui;

use super::table_view::dataframe_table_ui;
use super::{Action, DialogPurpose, IrtlabApp, Processed, format_count, sample_project_path};
use crate::preparation::{
    CsvOptions, DuplicatePolicy, ItemSelection, Layout, Source, SqliteSelection,
};

/// A combo box choosing one of `options` (or none, when `none_label` is given).
pub fn column_combo(
    ui: &mut egui::Ui,
    id: &str,
    value: &mut Option<String>,
    options: &[String],
    none_label: Option<&str>,
) -> bool {
    let mut changed = false;
    let shown = value
        .clone()
        .or_else(|| none_label.map(str::to_string))
        .unwrap_or_else(|| "choose…".into());
    egui::ComboBox::from_id_salt(id)
        .selected_text(shown)
        .width(180.0)
        .show_ui(ui, |ui| {
            if let Some(label) = none_label {
                changed |= ui.selectable_value(value, None, label).changed();
            }
            for option in options {
                changed |= ui
                    .selectable_value(value, Some(option.clone()), option)
                    .changed();
            }
        });
    changed
}

/// A combo over column names for a plain `String` field.
pub fn column_name_combo(
    ui: &mut egui::Ui,
    id: &str,
    value: &mut String,
    options: &[String],
) -> bool {
    let mut chosen = (!value.is_empty()).then(|| value.clone());
    let changed = column_combo(ui, id, &mut chosen, options, None);
    if changed {
        *value = chosen.unwrap_or_default();
    }
    changed
}

fn welcome_ui(ui: &mut egui::Ui, app: &IrtlabApp) -> Action {
    let mut action = Action::None;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.heading("Welcome to irtlab");
        ui.label("Open a dataset (CSV, SQLite or Parquet) or a saved project to begin.");
        ui.horizontal(|ui| {
            if ui.button("Open dataset…").clicked() {
                action = Action::Dialog(DialogPurpose::OpenDataset);
            }
            if ui.button("Open project…").clicked() {
                action = Action::Dialog(DialogPurpose::OpenProject);
            }
            if sample_project_path().exists() && ui.button("Open the sample project").clicked() {
                action = Action::Open(sample_project_path());
            }
        });
        if !app.settings.recent_files.is_empty() {
            ui.label("Recent files:");
            for path in app.settings.recent_files.iter().take(5) {
                if ui.link(path.display().to_string()).clicked() {
                    action = Action::Open(path.clone());
                }
            }
        }
        ui.weak("You can also drop a file on the window.");
    });
    action
}

fn csv_options_ui(ui: &mut egui::Ui, options: &mut CsvOptions) -> bool {
    let mut changed = false;
    ui.horizontal(|ui| {
        ui.label("Delimiter");
        let label = |d: Option<char>| match d {
            None => "detect".to_string(),
            Some(',') => "comma ,".into(),
            Some(';') => "semicolon ;".into(),
            Some('\t') => "tab".into(),
            Some(c) => format!("{c:?}"),
        };
        egui::ComboBox::from_id_salt("csv delimiter")
            .selected_text(label(options.delimiter))
            .show_ui(ui, |ui| {
                for d in [None, Some(','), Some(';'), Some('\t')] {
                    changed |= ui
                        .selectable_value(&mut options.delimiter, d, label(d))
                        .changed();
                }
            });
        ui.label("Missing values").on_hover_text(
            "Texts read as missing, separated by commas (empty cells are always missing)",
        );
        let mut text = options.missing_markers.join(", ");
        if ui
            .add(egui::TextEdit::singleline(&mut text).desired_width(160.0))
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

fn sqlite_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let mut action = Action::None;
    let tables = app
        .loaded
        .as_ref()
        .map(|l| l.sqlite_tables.clone())
        .unwrap_or_default();
    let Source::Sqlite { selection, .. } = &mut app.project.source else {
        return action;
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
                        format_count(table.rows as usize),
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
                        action = Action::ReloadSource;
                    }
                }
                if tables.is_empty() {
                    ui.weak("(no tables listed)");
                }
            });
        let ui = &mut columns[1];
        ui.horizontal(|ui| {
            ui.strong("SQL query");
            ui.weak("read-only; Ctrl+Enter runs it");
        });
        let editor = ui.add(
            egui::TextEdit::multiline(&mut app.sql_text)
                .code_editor()
                .desired_rows(5)
                .desired_width(f32::INFINITY)
                .hint_text("SELECT … FROM … JOIN …"),
        );
        let run_by_key = editor.has_focus()
            && ui.input_mut(|i| {
                i.consume_shortcut(&egui::KeyboardShortcut::new(
                    egui::Modifiers::COMMAND,
                    egui::Key::Enter,
                ))
            });
        if ui.button("Run query").clicked() || run_by_key {
            *selection = SqliteSelection::Query {
                sql: app.sql_text.clone(),
            };
            action = Action::ReloadSource;
        }
        if matches!(selection, SqliteSelection::Query { .. })
            && let Some(error) = &app.load_error
        {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
    action
}

fn layout_ui(ui: &mut egui::Ui, app: &mut IrtlabApp, columns: &[String]) -> Action {
    let mut changed = false;
    let project = &mut app.project;
    ui.horizontal(|ui| {
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
            let guess = |words: &[&str], fallback: usize| {
                columns
                    .iter()
                    .find(|c| words.iter().any(|w| c.to_lowercase().contains(w)))
                    .or(columns.get(fallback))
                    .cloned()
                    .unwrap_or_default()
            };
            let person = guess(&["person", "student", "id"], 0);
            project.layout = Layout::Long {
                person_column: person.clone(),
                item_column: guess(&["item", "question"], 1),
                response_column: guess(&["response", "answer", "choice", "value"], 2),
                duplicates: DuplicatePolicy::First,
            };
            project.response_columns.id_column = Some(person);
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
                if column_name_combo(ui, "person column", person_column, columns) {
                    project.response_columns.id_column = Some(person_column.clone());
                    changed = true;
                }
                ui.end_row();
                ui.label("Item column");
                changed |= column_name_combo(ui, "item column", item_column, columns);
                ui.end_row();
                ui.label("Response column");
                changed |= column_name_combo(ui, "response column", response_column, columns);
                ui.end_row();
                ui.label("Duplicate person–item rows")
                    .on_hover_text("What to do when a person answered the same item in two rows");
                egui::ComboBox::from_id_salt("duplicates")
                    .selected_text(match duplicates {
                        DuplicatePolicy::First => "keep the first",
                        DuplicatePolicy::Last => "keep the last",
                        DuplicatePolicy::Error => "stop with an error",
                    })
                    .show_ui(ui, |ui| {
                        changed |= ui
                            .selectable_value(duplicates, DuplicatePolicy::First, "keep the first")
                            .changed();
                        changed |= ui
                            .selectable_value(duplicates, DuplicatePolicy::Last, "keep the last")
                            .changed();
                        changed |= ui
                            .selectable_value(
                                duplicates,
                                DuplicatePolicy::Error,
                                "stop with an error",
                            )
                            .changed();
                    });
                ui.end_row();
            });
    }
    if changed {
        Action::Reprocess
    } else {
        Action::None
    }
}

/// The response-matrix columns: person id and items (shown on Preparation and Preprocessing).
pub fn response_columns_ui(ui: &mut egui::Ui, app: &mut IrtlabApp, columns: &[String]) -> Action {
    let mut changed = false;
    let response = &mut app.project.response_columns;
    egui::Grid::new("response columns")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Person id").on_hover_text(
                "The column that identifies persons; row numbers are used without one",
            );
            changed |= column_combo(
                ui,
                "id column",
                &mut response.id_column,
                columns,
                Some("(row number)"),
            );
            ui.end_row();
            ui.label("Items")
                .on_hover_text("Which columns hold the 0/1 responses after preprocessing");
            ui.horizontal(|ui| {
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
                    ui.label("Pattern");
                    changed |= ui
                        .add(egui::TextEdit::singleline(pattern).desired_width(160.0))
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
    if changed {
        Action::Reprocess
    } else {
        Action::None
    }
}

/// Draws the panel.
pub fn preparation_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let mut action = Action::None;
    ui.heading("Preparation");
    let source_path = app.project.source.path().to_path_buf();
    if source_path.as_os_str().is_empty() {
        return welcome_ui(ui, app);
    }
    if app.loaded.is_none()
        && app.load_error.is_some()
        && !matches!(app.project.source, Source::Sqlite { .. })
    {
        action = welcome_ui(ui, app);
    }
    ui.horizontal(|ui| {
        let kind = match app.project.source {
            Source::Csv { .. } => "CSV",
            Source::Sqlite { .. } => "SQLite (read-only)",
            Source::Parquet { .. } => "Parquet",
        };
        ui.label(format!("{kind}:"));
        ui.monospace(source_path.display().to_string());
        if ui.button("Open another…").clicked() {
            action = Action::Dialog(DialogPurpose::OpenDataset);
        }
        if ui
            .button("Reload")
            .on_hover_text("Read the file again")
            .clicked()
        {
            action = Action::ReloadSource;
        }
    });
    if let Some(error) = &app.load_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    match &mut app.project.source {
        Source::Csv { options, .. } => {
            if csv_options_ui(ui, options) {
                action = Action::ReloadSource;
            }
        }
        Source::Sqlite { .. } => {
            let sql_action = sqlite_ui(ui, app);
            if sql_action != Action::None {
                action = sql_action;
            }
        }
        Source::Parquet { .. } => {}
    }
    ui.separator();
    let columns: Vec<String> = app
        .loaded
        .as_ref()
        .map(|l| {
            l.frame
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    let layout_action = layout_ui(ui, app, &columns);
    if layout_action != Action::None {
        action = layout_action;
    }
    if let Some(Processed {
        layout: Err(error), ..
    }) = &app.processed
    {
        ui.colored_label(ui.visuals().error_fg_color, error);
    } else if let Some(Processed {
        layout: Ok(report), ..
    }) = &app.processed
        && matches!(app.project.layout, Layout::Long { .. })
    {
        ui.label(format!(
            "Long → wide: {} rows → {} persons × {} items{}",
            format_count(report.rows_in),
            format_count(report.rows_out),
            report.pivoted_items.len(),
            if report.duplicates > 0 {
                format!(
                    ", {} duplicate person–item rows",
                    format_count(report.duplicates)
                )
            } else {
                String::new()
            }
        ));
    }
    ui.separator();
    match &app.loaded {
        Some(loaded) => {
            ui.label(format!(
                "Loaded data: {} rows × {} columns",
                format_count(loaded.frame.height()),
                loaded.frame.width()
            ));
            let frame = loaded.frame.clone();
            dataframe_table_ui(ui, "source preview", &frame, &[]);
        }
        None => {
            ui.weak("No data loaded.");
        }
    }
    action
}
