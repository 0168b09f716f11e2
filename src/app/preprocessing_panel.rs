//! The Preprocessing panel: the steps as cards edited in place (enable, move, delete; rows in →
//! rows out; the step's own error in red), an "Add step" menu, the response-matrix columns, a
//! summary and a preview of the result. Edits rerun the pipeline in the background, debounced.

use eframe::egui;

use super::preparation_panel::{column_name_combo, response_columns_ui};
use super::table_view::dataframe_table_ui;
use super::{Action, IrtlabApp, format_count};
use crate::preprocessing::{
    CastTarget, Combine, Condition, FilterOp, Keep, KeyEntry, Mapping, PipelineStep, Step,
    Unmatched,
};

/// Checkboxes choosing a subset of `options` (an empty choice means "all" where `all_label`).
fn columns_picker(
    ui: &mut egui::Ui,
    chosen: &mut Vec<String>,
    options: &[String],
    all_label: Option<&str>,
) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        if let Some(label) = all_label
            && chosen.is_empty()
        {
            ui.weak(label);
        }
        for option in options {
            let mut on = chosen.contains(option);
            if ui.checkbox(&mut on, option).changed() {
                if on {
                    chosen.push(option.clone());
                } else {
                    chosen.retain(|c| c != option);
                }
                changed = true;
            }
        }
        for missing in chosen.clone().iter().filter(|c| !options.contains(c)) {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("{missing} (not found)"),
            );
        }
        if ui.small_button("all").clicked() {
            *chosen = options.to_vec();
            changed = true;
        }
        if ui.small_button("none").clicked() {
            chosen.clear();
            changed = true;
        }
    });
    changed
}

/// An editable two-column table of mappings.
fn mapping_table(
    ui: &mut egui::Ui,
    id: &str,
    mapping: &mut Vec<Mapping>,
    from: &str,
    to: &str,
    from_options: Option<&[String]>,
) -> bool {
    let mut changed = false;
    let mut remove = None;
    egui::Grid::new(id)
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            ui.strong(from);
            ui.strong(to);
            ui.end_row();
            for (index, entry) in mapping.iter_mut().enumerate() {
                match from_options {
                    Some(options) => {
                        changed |= column_name_combo(
                            ui,
                            &format!("{id} from {index}"),
                            &mut entry.from,
                            options,
                        );
                    }
                    None => {
                        changed |= ui
                            .add(egui::TextEdit::singleline(&mut entry.from).desired_width(140.0))
                            .changed();
                    }
                }
                changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut entry.to)
                            .desired_width(140.0)
                            .hint_text("(missing)"),
                    )
                    .changed();
                if ui
                    .small_button("✕")
                    .on_hover_text("Remove this row")
                    .clicked()
                {
                    remove = Some(index);
                }
                ui.end_row();
            }
        });
    if let Some(index) = remove {
        mapping.remove(index);
        changed = true;
    }
    if ui.small_button("+ row").clicked() {
        mapping.push(Mapping::default());
        changed = true;
    }
    changed
}

fn step_editor_ui(ui: &mut egui::Ui, index: usize, step: &mut Step, columns: &[String]) -> bool {
    let id = |what: &str| format!("step {index} {what}");
    let mut changed = false;
    match step {
        Step::SelectColumns { columns: chosen } => {
            ui.label("Keep these columns:");
            changed |= columns_picker(ui, chosen, columns, None);
        }
        Step::DropColumns { columns: chosen } => {
            ui.label("Drop these columns:");
            changed |= columns_picker(ui, chosen, columns, None);
        }
        Step::RenameColumns { mapping } => {
            changed |= mapping_table(
                ui,
                &id("rename"),
                mapping,
                "column",
                "new name",
                Some(columns),
            );
        }
        Step::Filter {
            combine,
            conditions,
        } => {
            ui.horizontal(|ui| {
                ui.label("Keep rows meeting");
                changed |= ui.radio_value(combine, Combine::All, "all").changed();
                changed |= ui.radio_value(combine, Combine::Any, "any").changed();
                ui.label("of these conditions");
            });
            let mut remove = None;
            for (k, condition) in conditions.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    changed |= column_name_combo(
                        ui,
                        &id(&format!("condition {k} column")),
                        &mut condition.column,
                        columns,
                    );
                    egui::ComboBox::from_id_salt(id(&format!("condition {k} op")))
                        .selected_text(condition.op.symbol())
                        .width(110.0)
                        .show_ui(ui, |ui| {
                            for op in FilterOp::ALL {
                                changed |= ui
                                    .selectable_value(&mut condition.op, op, op.symbol())
                                    .changed();
                            }
                        });
                    if condition.op.takes_value() {
                        let hint = if matches!(condition.op, FilterOp::In | FilterOp::NotIn) {
                            "a, b, c"
                        } else {
                            "value"
                        };
                        changed |= ui
                            .add(
                                egui::TextEdit::singleline(&mut condition.value)
                                    .desired_width(160.0)
                                    .hint_text(hint),
                            )
                            .changed();
                    }
                    if ui
                        .small_button("✕")
                        .on_hover_text("Remove this condition")
                        .clicked()
                    {
                        remove = Some(k);
                    }
                });
            }
            if let Some(k) = remove {
                conditions.remove(k);
                changed = true;
            }
            if ui.small_button("+ condition").clicked() {
                conditions.push(Condition::default());
                changed = true;
            }
        }
        Step::Recode {
            columns: chosen,
            mapping,
            unmatched,
        } => {
            ui.label("In these columns:");
            changed |= columns_picker(ui, chosen, columns, None);
            changed |= mapping_table(ui, &id("recode"), mapping, "value", "becomes", None);
            ui.horizontal(|ui| {
                ui.label("Values not in the table:");
                changed |= ui.radio_value(unmatched, Unmatched::Keep, "keep").changed();
                changed |= ui
                    .radio_value(unmatched, Unmatched::Missing, "make missing")
                    .changed();
                changed |= ui
                    .radio_value(unmatched, Unmatched::Error, "stop with an error")
                    .changed();
            });
        }
        Step::ScoreKey { key } => {
            ui.label("The response equal to the key scores 1, any other 0; missing stays missing.");
            let mut remove = None;
            // A scope's size is unknown before it is drawn, so wrap by count, not by width.
            let per_row = ((ui.available_width() / 180.0).floor() as usize).max(1);
            for (row, entries) in key.chunks_mut(per_row).enumerate() {
                ui.horizontal(|ui| {
                    for (offset, entry) in entries.iter_mut().enumerate() {
                        let k = row * per_row + offset;
                        egui::Frame::group(ui.style())
                            .inner_margin(egui::Margin::symmetric(4, 2))
                            .show(ui, |ui| {
                                ui.horizontal(|ui| {
                                    egui::ComboBox::from_id_salt(id(&format!("key {k}")))
                                        .selected_text(if entry.column.is_empty() {
                                            "column…"
                                        } else {
                                            entry.column.as_str()
                                        })
                                        .width(86.0)
                                        .show_ui(ui, |ui| {
                                            for column in columns {
                                                changed |= ui
                                                    .selectable_value(
                                                        &mut entry.column,
                                                        column.clone(),
                                                        column,
                                                    )
                                                    .changed();
                                            }
                                        });
                                    changed |= ui
                                        .add(
                                            egui::TextEdit::singleline(&mut entry.key)
                                                .desired_width(28.0)
                                                .hint_text("key"),
                                        )
                                        .changed();
                                    if ui
                                        .small_button("✕")
                                        .on_hover_text("Remove this item's key")
                                        .clicked()
                                    {
                                        remove = Some(k);
                                    }
                                });
                            });
                    }
                });
            }
            if let Some(k) = remove {
                key.remove(k);
                changed = true;
            }
            ui.horizontal(|ui| {
                if ui.small_button("+ item").clicked() {
                    key.push(KeyEntry::default());
                    changed = true;
                }
                if ui
                    .small_button("+ every column not listed")
                    .on_hover_text("Adds a key for each column that has none yet")
                    .clicked()
                {
                    for column in columns {
                        if !key.iter().any(|k| k.column == *column) {
                            key.push(KeyEntry {
                                column: column.clone(),
                                key: String::new(),
                            });
                        }
                    }
                    changed = true;
                }
            });
        }
        Step::DropMissing { columns: chosen } => {
            ui.label("Drop rows with a missing value in:");
            changed |= columns_picker(ui, chosen, columns, Some("(every column)"));
        }
        Step::MinAnswered {
            columns: chosen,
            min_answered,
        } => {
            ui.horizontal(|ui| {
                ui.label("Keep rows with at least");
                changed |= ui
                    .add(egui::DragValue::new(min_answered).range(0..=100_000))
                    .changed();
                ui.label("answered among:");
            });
            changed |= columns_picker(ui, chosen, columns, Some("(every column)"));
        }
        Step::FillMissing {
            columns: chosen,
            value,
        } => {
            ui.horizontal(|ui| {
                ui.label("Fill missing values with");
                changed |= ui
                    .add(egui::TextEdit::singleline(value).desired_width(80.0))
                    .changed();
                ui.label("in:");
            });
            changed |= columns_picker(ui, chosen, columns, None);
        }
        Step::RemoveDuplicates {
            columns: chosen,
            keep,
        } => {
            ui.horizontal(|ui| {
                ui.label("Rows are duplicates when equal in:");
                changed |= ui
                    .radio_value(keep, Keep::First, "keep the first")
                    .changed();
                changed |= ui.radio_value(keep, Keep::Last, "keep the last").changed();
            });
            changed |= columns_picker(ui, chosen, columns, Some("(every column)"));
        }
        Step::Cast { column, to } => {
            ui.horizontal(|ui| {
                ui.label("Convert");
                changed |= column_name_combo(ui, &id("cast"), column, columns);
                ui.label("to");
                changed |= ui.radio_value(to, CastTarget::Number, "numbers").changed();
                changed |= ui.radio_value(to, CastTarget::Text, "text").changed();
            });
        }
    }
    changed
}

enum CardCommand {
    Up(usize),
    Down(usize),
    Delete(usize),
}

/// Draws the panel.
pub fn preprocessing_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let before: Vec<PipelineStep> = app.project.steps.clone();
    let mut action = Action::None;
    ui.horizontal(|ui| {
        ui.heading("Preprocessing");
        ui.menu_button("+ Add step", |ui| {
            for template in Step::templates() {
                if ui.button(template.kind_label()).clicked() {
                    app.project.steps.push(PipelineStep::new(template));
                    ui.close();
                }
            }
        });
        if app.processed.is_none() && app.loaded.is_some() {
            ui.spinner();
        }
    });
    let pipeline = app.processed.as_ref().and_then(|p| p.pipeline.as_ref());
    let fallback_columns: Vec<String> = pipeline.map(|p| p.columns_in.clone()).unwrap_or_default();
    let step_columns: Vec<Vec<String>> = (0..app.project.steps.len())
        .map(|i| {
            pipeline
                .map(|p| p.columns_before(i).to_vec())
                .unwrap_or_else(|| fallback_columns.clone())
        })
        .collect();
    let reports: Vec<Option<crate::preprocessing::StepReport>> = (0..app.project.steps.len())
        .map(|i| pipeline.and_then(|p| p.reports.get(i).cloned()))
        .collect();
    let output_columns: Vec<String> = pipeline
        .map(|p| {
            p.output
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect()
        })
        .unwrap_or_default();

    let mut command = None;
    let n_steps = app.project.steps.len();
    let available = ui.available_height();
    // The cards wrap their contents at the panel's width (measured here, before anything wide
    // such as the preview table can widen the layout).
    let card_width = (ui.available_width() - 28.0).max(200.0);
    egui::ScrollArea::vertical()
        .id_salt("steps")
        .auto_shrink([false, true])
        .max_height((available * 0.55).max(160.0))
        .show(ui, |ui| {
            if n_steps == 0 {
                ui.weak("No steps yet. Use “Add step” to filter rows, recode values, score answers against a key, …");
            }
            for index in 0..n_steps {
                let report = reports[index].clone();
                let entry = &mut app.project.steps[index];
                let error = report.as_ref().and_then(|r| r.error.clone());
                let stroke = if error.is_some() {
                    egui::Stroke::new(1.5, ui.visuals().error_fg_color)
                } else {
                    ui.visuals().widgets.noninteractive.bg_stroke
                };
                egui::Frame::group(ui.style()).stroke(stroke).show(ui, |ui| {
                    ui.set_width(card_width);
                    ui.set_max_width(card_width);
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut entry.enabled, "")
                            .on_hover_text("Enable or disable this step without deleting it");
                        ui.strong(format!("{}. {}", index + 1, entry.step.kind_label()));
                        if let Some(report) = &report {
                            let text = if !entry.enabled {
                                "disabled".to_string()
                            } else if report.ran {
                                format!(
                                    "{} → {} rows, {} columns",
                                    format_count(report.rows_in),
                                    format_count(report.rows_out),
                                    report.columns_out
                                )
                            } else {
                                "not run".to_string()
                            };
                            ui.weak(text);
                        }
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui.small_button("✕").on_hover_text("Delete this step").clicked() {
                                command = Some(CardCommand::Delete(index));
                            }
                            if ui.add_enabled(index + 1 < n_steps, egui::Button::new("▼").small()).on_hover_text("Move down").clicked() {
                                command = Some(CardCommand::Down(index));
                            }
                            if ui.add_enabled(index > 0, egui::Button::new("▲").small()).on_hover_text("Move up").clicked() {
                                command = Some(CardCommand::Up(index));
                            }
                        });
                    });
                    ui.add_enabled_ui(entry.enabled, |ui| {
                        step_editor_ui(ui, index, &mut entry.step, &step_columns[index]);
                    });
                    if let Some(error) = &error {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                    if let Some(warning) = report.as_ref().and_then(|r| r.warning.clone()) {
                        ui.colored_label(ui.visuals().warn_fg_color, warning);
                    }
                });
                ui.add_space(4.0);
            }
        });
    match command {
        Some(CardCommand::Up(i)) => app.project.steps.swap(i, i - 1),
        Some(CardCommand::Down(i)) => app.project.steps.swap(i, i + 1),
        Some(CardCommand::Delete(i)) => {
            app.project.steps.remove(i);
        }
        None => {}
    }
    if app.project.steps != before {
        action = Action::StepsEdited(before);
    }

    ui.separator();
    let columns_action = response_columns_ui(ui, app, &output_columns);
    if columns_action != Action::None && action == Action::None {
        action = columns_action;
    }
    match app.processed.as_ref().map(|p| &p.matrix) {
        Some(Ok(matrix)) => {
            let cells = matrix.n_persons() * matrix.n_items();
            ui.label(format!(
                "Response matrix: {} persons × {} items, {} missing responses ({:.1} %)",
                format_count(matrix.n_persons()),
                matrix.n_items(),
                format_count(matrix.n_missing()),
                if cells > 0 {
                    100.0 * matrix.n_missing() as f64 / cells as f64
                } else {
                    0.0
                }
            ));
        }
        Some(Err(error)) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("Response matrix: {error}"),
            );
        }
        None => {}
    }
    if let Some(pipeline) = app.processed.as_ref().and_then(|p| p.pipeline.as_ref()) {
        let output = pipeline.output.clone();
        let items: Vec<String> = match app.processed.as_ref().map(|p| &p.matrix) {
            Some(Ok(m)) => m.item_names().to_vec(),
            _ => Vec::new(),
        };
        dataframe_table_ui(ui, "pipeline preview", &output, &items);
    }
    action
}
