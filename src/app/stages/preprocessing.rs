//! The Preprocessing stage: the steps as cards edited in place (enable, move, delete; rows in →
//! rows out; the step's own error in red; a step just added waits, neutral, until it is filled
//! in), an "Add step" menu, the response-matrix columns, a summary and a preview of the result.
//! Edits rerun the pipeline in the background, debounced.

use eframe::egui;

use super::Named;

use super::preparation::response_columns_ui;
use super::{AppEvent, Level, StageContext, StageId, StagePart, StageStatus, column_name_combo};
use crate::app::JobOutput;
use crate::app::commands::{Command, Edit};
use crate::app::jobs::{JobKind, JobQueue};
use crate::app::state::{AppState, Inputs};
use crate::app::table_view::dataframe_table_ui;
use crate::preprocessing::{
    CastTarget, Combine, Condition, FilterOp, Keep, KeyEntry, Mapping, PipelineStep, Step,
    Unmatched,
};
use crate::text::count;

/// The Preprocessing stage.
#[derive(Default)]
pub struct Preprocessing {
    /// A step just added: scroll it into view and focus its first field.
    focus_step: Option<usize>,
}

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
                            from,
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
                        "Column",
                        &mut condition.column,
                        columns,
                    );
                    egui::ComboBox::new(id(&format!("condition {k} op")), "")
                        .selected_text(condition.op.symbol())
                        .width(110.0)
                        .show_ui(ui, |ui| {
                            for op in FilterOp::ALL {
                                changed |= ui
                                    .selectable_value(&mut condition.op, op, op.symbol())
                                    .changed();
                            }
                        })
                        .named("Comparison");
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
                                    egui::ComboBox::new(id(&format!("key {k}")), "")
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
                                        })
                                        .named("Item column of the key");
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
                    .on_hover_text("Least number answered")
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
                changed |= column_name_combo(ui, &id("cast"), "Column", column, columns);
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

impl StagePart for Preprocessing {
    fn id(&self) -> StageId {
        StageId::Preprocessing
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, _inputs: Inputs) -> StageStatus {
        let steps = state.document.project.steps.len();
        if jobs.running(JobKind::Process) {
            return StageStatus::at(Level::Busy, format!("{steps} steps, running…"));
        }
        match state
            .data
            .processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
        {
            Some(run) => {
                if let Some(error) = &run.error {
                    return StageStatus::at(
                        Level::Error,
                        format!("step {} failed", error.position),
                    );
                }
                let rows_in = run
                    .reports
                    .first()
                    .map_or(run.output.height(), |r| r.rows_in);
                StageStatus::normal(format!(
                    "{steps} steps, {} → {} rows",
                    count(rows_in),
                    count(run.output.height())
                ))
            }
            None => StageStatus::normal(format!("{steps} steps")),
        }
    }

    fn on_event(&mut self, event: &AppEvent, _ctx: &mut StageContext<'_>) {
        if let AppEvent::StepAdded(index) = event {
            self.focus_step = Some(*index);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        let mut edited = false;
        let mut structure = false;
        ui.horizontal_wrapped(|ui| {
            ui.heading("Preprocessing");
            ui.menu_button("+ Add step", |ui| {
                for template in Step::templates() {
                    if ui.button(template.kind_label()).clicked() {
                        ctx.state
                            .document
                            .project
                            .steps
                            .push(PipelineStep::new(template));
                        let index = ctx.state.document.project.steps.len() - 1;
                        self.focus_step = Some(index);
                        structure = true;
                        ui.close();
                    }
                }
            });
            if ctx.jobs.running(JobKind::Process) {
                ui.spinner();
            }
        });
        let pipeline = ctx
            .state
            .data
            .processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref());
        let fallback_columns: Vec<String> =
            pipeline.map(|p| p.columns_in.clone()).unwrap_or_default();
        let n_steps = ctx.state.document.project.steps.len();
        let step_columns: Vec<Vec<String>> = (0..n_steps)
            .map(|i| {
                pipeline
                    .map(|p| p.columns_before(i).to_vec())
                    .unwrap_or_else(|| fallback_columns.clone())
            })
            .collect();
        let reports: Vec<Option<crate::preprocessing::StepReport>> = (0..n_steps)
            .map(|i| pipeline.and_then(|p| p.reports.get(i).cloned()))
            .collect();
        let output_columns: Vec<String> = pipeline
            .map(|p| {
                let mut names: Vec<String> = p
                    .output
                    .get_column_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect();
                if let Some(sparse) = &p.sparse {
                    names.extend(sparse.item_names.iter().cloned());
                }
                names
            })
            .unwrap_or_default();

        let mut command = None;
        let card_width = (ui.available_width() - 28.0).max(200.0);
        let focus = self.focus_step.take();
        if n_steps == 0 {
            ui.weak("No steps yet. Use “Add step” to filter rows, recode values, score answers against a key, …");
        }
        for index in 0..n_steps {
            let report = reports[index].clone();
            let entry = &mut ctx.state.document.project.steps[index];
            let error = report.as_ref().and_then(|r| r.error.clone());
            let stroke = if error.is_some() {
                egui::Stroke::new(1.5, ui.visuals().error_fg_color)
            } else {
                ui.visuals().widgets.noninteractive.bg_stroke
            };
            let card = egui::Frame::group(ui.style())
                .stroke(stroke)
                .show(ui, |ui| {
                    ui.set_width(card_width);
                    ui.set_max_width(card_width);
                    ui.horizontal(|ui| {
                        let enabled = ui
                            .checkbox(&mut entry.enabled, "")
                            .on_hover_text("Enable or disable this step without deleting it");
                        edited |= enabled.changed();
                        ui.strong(format!("{}. {}", index + 1, entry.step.kind_label()));
                        if let Some(report) = &report {
                            let text = if !entry.enabled {
                                "disabled".to_string()
                            } else if let Some(needs) = &report.incomplete {
                                format!("to fill in: {needs}")
                            } else if report.ran {
                                format!(
                                    "{} → {} rows, {} columns",
                                    count(report.rows_in),
                                    count(report.rows_out),
                                    report.columns_out
                                )
                            } else {
                                "not run".to_string()
                            };
                            ui.weak(text);
                        }
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui
                                .small_button("✕")
                                .on_hover_text("Delete this step")
                                .clicked()
                            {
                                command = Some(CardCommand::Delete(index));
                            }
                            if ui
                                .add_enabled(index + 1 < n_steps, egui::Button::new("▼").small())
                                .on_hover_text("Move down")
                                .clicked()
                            {
                                command = Some(CardCommand::Down(index));
                            }
                            if ui
                                .add_enabled(index > 0, egui::Button::new("▲").small())
                                .on_hover_text("Move up")
                                .clicked()
                            {
                                command = Some(CardCommand::Up(index));
                            }
                        });
                    });
                    ui.add_enabled_ui(entry.enabled, |ui| {
                        let before = ui.ctx().memory(|m| m.focused());
                        edited |= step_editor_ui(ui, index, &mut entry.step, &step_columns[index]);
                        if focus == Some(index) && before.is_none() {
                            // Focus the card's first focusable widget.
                            ui.ctx()
                                .memory_mut(|m| m.move_focus(egui::FocusDirection::Next));
                        }
                    });
                    if let Some(error) = &error {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                    if let Some(warning) = report.as_ref().and_then(|r| r.warning.clone()) {
                        ui.colored_label(ui.visuals().warn_fg_color, warning);
                    }
                });
            if focus == Some(index) {
                ui.scroll_to_rect(card.response.rect, Some(egui::Align::Center));
            }
            ui.add_space(4.0);
        }
        match command {
            Some(CardCommand::Up(i)) => ctx.state.document.project.steps.swap(i, i - 1),
            Some(CardCommand::Down(i)) => ctx.state.document.project.steps.swap(i, i + 1),
            Some(CardCommand::Delete(i)) => {
                ctx.state.document.project.steps.remove(i);
            }
            None => {}
        }
        if command.is_some() {
            structure = true;
        }
        ui.separator();
        edited |= response_columns_ui(ui, ctx, &output_columns);
        if structure {
            ctx.edited(Edit::Steps);
        } else if edited {
            ctx.edited(Edit::Data);
        }
        match ctx.state.data.processed.as_ref().map(|p| &p.matrix) {
            Some(Ok(matrix)) => {
                let cells = matrix.n_persons() * matrix.n_items();
                ui.label(format!(
                    "Response matrix: {} persons × {} items, {} missing responses ({:.1} %){}",
                    count(matrix.n_persons()),
                    matrix.n_items(),
                    count(matrix.n_missing()),
                    if cells > 0 {
                        100.0 * matrix.n_missing() as f64 / cells as f64
                    } else {
                        0.0
                    },
                    if matrix.is_sparse() {
                        ", held sparse"
                    } else {
                        ""
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
        if let Some(pipeline) = ctx
            .state
            .data
            .processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
        {
            let output = pipeline.output.clone();
            let items: Vec<String> = match ctx.state.data.processed.as_ref().map(|p| &p.matrix) {
                Some(Ok(m)) => m.item_names().to_vec(),
                _ => Vec::new(),
            };
            let height = super::fill_height(ui, 220.0);
            dataframe_table_ui(ui, "pipeline preview", &output, &items, height);
        }
        let _ = Command::Reprocess;
    }
}
