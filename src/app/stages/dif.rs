//! The DIF stage: is an item fair to two groups? Pick the group column (any column kept through
//! preprocessing), the reference and focal values, the methods (Mantel–Haenszel, logistic
//! regression, IRT likelihood ratio, Wald) and the anchors (all other items, with or without
//! purification, or chosen items); the per-item table shows statistic, df, p, adjusted p,
//! effect size and class with flagged rows shaded; a click on an item overlays the groups'
//! fitted curves with their observed mean scores; the invariance ladder (configural → metric →
//! scalar) is a small table. Everything runs in the background with progress and Cancel; the
//! computations are the library's ([`crate::prediction::dif`], [`crate::prediction::groups`]).

use std::sync::Arc;

use eframe::egui;

use super::plots::draw_plot;
use super::{
    AppEvent, Level, Named, StageContext, StageId, StagePart, StageStatus, column_combo,
    fill_height,
};
use crate::app::JobOutput;
use crate::app::commands::Command;
use crate::app::dialogs::DialogPurpose;
use crate::app::jobs::{JobError, JobKind, JobQueue};
use crate::app::state::{AppState, Inputs};
use crate::app::table_view::{TableSpec, table_ui};
use crate::plots::{Plot, Series, SeriesStyle};
use crate::prediction::dif::{
    Anchors, DifMethod, DifReport, DifSettings, ItemOverlay, fit_item_overlay, item_overlay,
    run_dif,
};
use crate::prediction::groups::{Groups, InvarianceLadder, column_values, invariance_ladder};
use crate::prediction::p_adjust::PAdjust;
use crate::prediction::{FitSettings, PredictionError, ResponseMatrix};
use crate::text::{count, fixed, p_value};

const KIND: JobKind = JobKind::Stage(StageId::Dif);

/// What a DIF job produced.
enum Output {
    Report(Box<DifReport>, Arc<ResponseMatrix>, u64),
    Overlay(ItemOverlay),
    Ladder(InvarianceLadder, u64),
}

/// The DIF stage's part.
pub struct Dif {
    column: Option<String>,
    reference: Option<String>,
    focal: Option<String>,
    methods: Vec<DifMethod>,
    purify: bool,
    use_chosen_anchors: bool,
    anchors: Vec<String>,
    p_adjust: PAdjust,
    report: Option<(Box<DifReport>, Arc<ResponseMatrix>, u64)>,
    ladder: Option<(InvarianceLadder, u64)>,
    overlay: Option<ItemOverlay>,
    selected: Option<String>,
    error: Option<String>,
    sort: Option<(usize, bool)>,
    /// Distinct values of the chosen column (cached with the column and data inputs).
    values: Option<(String, u64, Vec<String>)>,
}

impl Default for Dif {
    fn default() -> Self {
        Dif {
            column: None,
            reference: None,
            focal: None,
            methods: vec![DifMethod::MantelHaenszel, DifMethod::Logistic],
            purify: true,
            use_chosen_anchors: false,
            anchors: Vec::new(),
            p_adjust: PAdjust::Holm,
            report: None,
            ladder: None,
            overlay: None,
            selected: None,
            error: None,
            sort: None,
            values: None,
        }
    }
}

impl Dif {
    /// The last DIF report, when there is one.
    pub fn report(&self) -> Option<&DifReport> {
        self.report.as_ref().map(|(r, _, _)| r.as_ref())
    }

    /// The columns a group can come from: those of the preprocessed table that are not items.
    fn group_columns(state: &AppState) -> Vec<String> {
        let Some(processed) = &state.data.processed else {
            return Vec::new();
        };
        let Some(run) = &processed.pipeline else {
            return Vec::new();
        };
        let items: Vec<String> = state
            .data
            .matrix()
            .map(|m| m.item_names().to_vec())
            .unwrap_or_default();
        // The person-id column identifies persons; it does not group them.
        let id = state.document.project.response_columns.id_column.clone();
        run.output
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .filter(|n| !items.contains(n) && Some(n) != id.as_ref())
            .collect()
    }

    /// The groups the current choices define over the response matrix's persons.
    fn groups(&self, state: &AppState) -> Result<(Groups, Arc<ResponseMatrix>), String> {
        let column = self.column.as_deref().ok_or("choose a group column")?;
        let matrix = state
            .data
            .matrix()
            .cloned()
            .ok_or("the response matrix is not ready (see Preprocessing)")?;
        let frame = &state
            .data
            .processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
            .ok_or("the preprocessed table is not ready")?
            .output;
        let focal: Option<Vec<String>> = self.focal.clone().map(|f| vec![f]);
        let groups =
            Groups::from_dataframe(frame, column, self.reference.as_deref(), focal.as_deref())
                .map_err(|e| e.to_string())?;
        if groups.membership.len() != matrix.n_persons() {
            return Err(format!(
                "the group column has {} rows but the response matrix {} persons",
                groups.membership.len(),
                matrix.n_persons()
            ));
        }
        if groups.names.len() != 2 {
            return Err(format!(
                "DIF compares two groups; \"{column}\" has {} ({}): choose the reference and \
                 the focal value",
                groups.names.len(),
                groups.names.join(", ")
            ));
        }
        Ok((groups, matrix))
    }

    fn settings(&self) -> DifSettings {
        DifSettings {
            methods: self.methods.clone(),
            anchors: if self.use_chosen_anchors {
                Anchors::Items {
                    items: self.anchors.clone(),
                }
            } else {
                Anchors::AllOthers {
                    purify: self.purify,
                }
            },
            p_adjust: self.p_adjust,
            ..DifSettings::default()
        }
    }

    fn start_dif(&mut self, ctx: &mut StageContext<'_>) {
        let (groups, matrix) = match self.groups(ctx.state) {
            Ok(g) => g,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let settings = self.settings();
        if let Err(e) = settings.validate() {
            self.error = Some(e.to_string());
            return;
        }
        self.error = None;
        self.overlay = None;
        let data = ctx.inputs.data;
        ctx.jobs.replace(KIND, "DIF", move |sink, cancel| {
            let mut progress = |p: crate::prediction::dif::DifProgress| {
                let round = if p.round > 1 {
                    format!(", purification round {}", p.round)
                } else {
                    String::new()
                };
                sink.report(
                    p.done as f32 / p.total.max(1) as f32,
                    format!("{} {}/{}{round}", p.method.label(), p.done, p.total),
                );
            };
            let report =
                run_dif(&matrix, &groups, &settings, &mut progress, cancel).map_err(job_error)?;
            Ok(JobOutput::Stage(
                StageId::Dif,
                Box::new(Output::Report(Box::new(report), matrix, data)),
            ))
        });
    }

    fn start_ladder(&mut self, ctx: &mut StageContext<'_>) {
        let (groups, matrix) = match self.groups(ctx.state) {
            Ok(g) => g,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.error = None;
        let data = ctx.inputs.data;
        let settings = FitSettings::default();
        ctx.jobs
            .replace(KIND, "Invariance ladder", move |sink, cancel| {
                let mut fits = 0usize;
                let mut last_cycle = 0usize;
                let mut progress = |p: crate::prediction::Progress| {
                    if p.cycle < last_cycle {
                        fits += 1;
                    }
                    last_cycle = p.cycle;
                    sink.report(
                        (fits as f32 + p.cycle as f32 / p.max_cycles.max(1) as f32) / 3.0,
                        format!("fit {} of 3, EM cycle {}", fits + 1, p.cycle),
                    );
                };
                let ladder = invariance_ladder(&matrix, &groups, &settings, &mut progress, cancel)
                    .map_err(job_error)?;
                Ok(JobOutput::Stage(
                    StageId::Dif,
                    Box::new(Output::Ladder(ladder, data)),
                ))
            });
    }

    /// Shows `item`'s overlay: from the report's IRT fits when it has them, else fitted in the
    /// background.
    fn select(&mut self, item: String, ctx: &mut StageContext<'_>) {
        self.selected = Some(item.clone());
        self.overlay = None;
        let Some((report, matrix, _)) = &self.report else {
            return;
        };
        if let Some(overlay) = item_overlay(report, matrix, &item) {
            self.overlay = Some(overlay);
            return;
        }
        if ctx.jobs.running(KIND) {
            return;
        }
        let (groups, matrix) = match self.groups(ctx.state) {
            Ok(g) => g,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let settings = report.settings.fit.clone();
        ctx.jobs.replace(
            KIND,
            format!("Fitting the curves of {item}"),
            move |_, cancel| {
                let overlay = fit_item_overlay(&matrix, &groups, &settings, &item, cancel)
                    .map_err(job_error)?;
                Ok(JobOutput::Stage(
                    StageId::Dif,
                    Box::new(Output::Overlay(overlay)),
                ))
            },
        );
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        let columns = Self::group_columns(ctx.state);
        let data = ctx.inputs.data;
        egui::Grid::new("dif settings")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label("Group column");
                if column_combo(
                    ui,
                    "dif column",
                    "Group column",
                    &mut self.column,
                    &columns,
                    None,
                ) {
                    self.reference = None;
                    self.focal = None;
                    self.values = None;
                }
                ui.end_row();
                if let Some(column) = self.column.clone() {
                    let fresh =
                        matches!(&self.values, Some((c, d, _)) if *c == column && *d == data);
                    if !fresh {
                        let values = ctx
                            .state
                            .data
                            .processed
                            .as_ref()
                            .and_then(|p| p.pipeline.as_ref())
                            .and_then(|run| column_values(&run.output, &column).ok())
                            .map(|v| {
                                let mut distinct: Vec<String> = v.into_iter().flatten().collect();
                                distinct.sort();
                                distinct.dedup();
                                distinct.truncate(200);
                                distinct
                            })
                            .unwrap_or_default();
                        self.values = Some((column.clone(), data, values));
                    }
                    let values = self
                        .values
                        .as_ref()
                        .map(|v| v.2.clone())
                        .unwrap_or_default();
                    ui.label("Reference group");
                    column_combo(
                        ui,
                        "dif reference",
                        "Reference group",
                        &mut self.reference,
                        &values,
                        Some("first value"),
                    );
                    ui.end_row();
                    ui.label("Focal group");
                    column_combo(
                        ui,
                        "dif focal",
                        "Focal group",
                        &mut self.focal,
                        &values,
                        Some("the other value"),
                    );
                    ui.end_row();
                }
                ui.label("Methods");
                ui.horizontal_wrapped(|ui| {
                    for method in DifMethod::ALL {
                        let mut on = self.methods.contains(&method);
                        if ui
                            .checkbox(&mut on, method.label())
                            .on_hover_text(method_help(method))
                            .changed()
                        {
                            if on {
                                self.methods.push(method);
                            } else {
                                self.methods.retain(|m| *m != method);
                            }
                        }
                    }
                });
                ui.end_row();
                ui.label("Anchors");
                ui.horizontal_wrapped(|ui| {
                    ui.radio_value(&mut self.use_chosen_anchors, false, "all other items");
                    ui.add_enabled(
                        !self.use_chosen_anchors,
                        egui::Checkbox::new(&mut self.purify, "purify"),
                    )
                    .on_hover_text(
                        "Iterative purification: items flagged in a round leave the anchor set \
                         (and the matching score) of the next",
                    );
                    ui.radio_value(&mut self.use_chosen_anchors, true, "chosen items");
                });
                ui.end_row();
                if self.use_chosen_anchors {
                    ui.label("Anchor items");
                    let items: Vec<String> = ctx
                        .state
                        .data
                        .matrix()
                        .map(|m| m.item_names().to_vec())
                        .unwrap_or_default();
                    egui::ScrollArea::vertical()
                        .id_salt("anchor items")
                        .max_height(90.0)
                        .show(ui, |ui| {
                            ui.horizontal_wrapped(|ui| {
                                for item in &items {
                                    let mut on = self.anchors.contains(item);
                                    if ui.checkbox(&mut on, item).changed() {
                                        if on {
                                            self.anchors.push(item.clone());
                                        } else {
                                            self.anchors.retain(|a| a != item);
                                        }
                                    }
                                }
                            });
                        });
                    ui.end_row();
                }
                ui.label("p-value adjustment");
                egui::ComboBox::new("dif p adjust", "")
                    .selected_text(self.p_adjust.label())
                    .show_ui(ui, |ui| {
                        for method in PAdjust::ALL {
                            ui.selectable_value(&mut self.p_adjust, method, method.label());
                        }
                    })
                    .named("p-value adjustment");
                ui.end_row();
            });
        let running = ctx.jobs.running(KIND);
        ui.horizontal_wrapped(|ui| {
            let ready = self.column.is_some() && !self.methods.is_empty();
            if ui
                .add_enabled(ready && !running, egui::Button::new("Run DIF"))
                .clicked()
            {
                self.start_dif(ctx);
            }
            if ui
                .add_enabled(
                    self.column.is_some() && !running,
                    egui::Button::new("Invariance ladder"),
                )
                .on_hover_text(
                    "Fit configural, metric and scalar two-group models and test each against \
                     the one before",
                )
                .clicked()
            {
                self.start_ladder(ctx);
            }
            if running {
                if let Some(job) = ctx.jobs.get(KIND) {
                    ui.add(
                        egui::ProgressBar::new(job.fraction.unwrap_or(0.0))
                            .desired_width(180.0)
                            .text(job.detail.clone()),
                    );
                }
                if ui.button("Cancel").clicked() {
                    ctx.send(Command::Cancel(KIND));
                }
            }
        });
    }

    fn report_ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        let Some((report, _, data)) = &self.report else {
            return;
        };
        if *data != ctx.inputs.data {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "⚠ The data changed since this DIF run: run it again.",
            );
        }
        let g = &report.groups;
        ui.label(format!(
            "{}: reference {} ({} persons), focal {} ({} persons); {} left out with a missing \
             group{}{}",
            g.column,
            g.reference,
            count(g.n_reference),
            g.focal,
            count(g.n_focal),
            count(g.n_missing),
            if g.n_other > 0 {
                format!(", {} in other groups", count(g.n_other))
            } else {
                String::new()
            },
            match (g.focal_mean, g.focal_variance) {
                (Some(m), Some(v)) => format!("; focal mean {m:.3}, variance {v:.3}"),
                _ => String::new(),
            }
        ));
        let flagged = report.flagged_items();
        if flagged.is_empty() {
            ui.label("No item flagged.");
        } else {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "Flagged: {}",
                    report
                        .summary
                        .iter()
                        .filter(|s| s.flagged)
                        .map(|s| format!("{} ({})", s.item, s.size.label()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        for p in &report.purification {
            if p.rounds.len() > 1 {
                ui.weak(format!(
                    "{}: purification took {} rounds{}",
                    p.method.label(),
                    p.rounds.len(),
                    if p.converged { "" } else { " (not settled)" }
                ));
            }
        }
        let rows = &report.rows;
        let key = |i: usize, column: usize| -> f64 {
            let r = &rows[i];
            match column {
                2 => r.statistic,
                4 => r.p,
                5 => r.p_adjusted,
                6 => r.effect.abs(),
                8 => {
                    if r.flagged {
                        0.0
                    } else {
                        1.0
                    }
                }
                _ => i as f64,
            }
        };
        let mut order: Vec<usize> = (0..rows.len()).collect();
        // Flagged rows first unless another sort is chosen.
        let sort = self.sort.unwrap_or((8, false));
        order.sort_by(|&x, &y| key(x, sort.0).total_cmp(&key(y, sort.0)));
        if sort.1 {
            order.reverse();
        }
        let cell = |r: usize, column: usize| -> String {
            let row = &rows[order[r]];
            match column {
                0 => row.item.clone(),
                1 => row.method.label().to_string(),
                2 => fixed(row.statistic, 3),
                3 => fixed(row.df, 0),
                4 => p_value(row.p),
                5 => p_value(row.p_adjusted),
                6 => format!("{} {}", row.effect_name, fixed(row.effect, 3)),
                7 => row.class.clone(),
                8 => if row.flagged { "yes" } else { "" }.into(),
                _ => row.note.clone().unwrap_or_default(),
            }
        };
        let warn = ui.visuals().warn_fg_color.gamma_multiply(0.25);
        let row_color = |r: usize| rows[order[r]].flagged.then_some(warn);
        let response = table_ui(
            ui,
            TableSpec {
                id: "dif table",
                headers: [
                    "item",
                    "method",
                    "statistic",
                    "df",
                    "p",
                    "p adj.",
                    "effect",
                    "class",
                    "flagged",
                    "note",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                subheaders: Vec::new(),
                rows: order.len(),
                cell: &cell,
                row_color: Some(&row_color),
                highlight: &[],
                sortable: Some(&[0, 2, 4, 5, 6, 8]),
                sort: Some(sort),
                row_numbers: false,
                max_height: if self.selected.is_some() {
                    200.0
                } else {
                    fill_height(ui, 200.0) - 30.0
                },
            },
        );
        if let Some(column) = response.sort_clicked {
            self.sort = match self.sort {
                Some((c, false)) if c == column => Some((column, true)),
                _ => Some((column, false)),
            };
        }
        if let Some(r) = response.row_clicked {
            let item = rows[order[r]].item.clone();
            self.select(item, ctx);
        }
        ui.horizontal(|ui| {
            ui.weak("Click a row for the groups' curves of its item.");
            if ui
                .button("Save table…")
                .on_hover_text("Write the DIF table to CSV, Parquet or a SQLite table")
                .clicked()
            {
                ctx.send(Command::Dialog(DialogPurpose::SaveTable(StageId::Dif)));
            }
        });
        if let Some(overlay) = &self.overlay {
            let plot = overlay_plot(overlay);
            draw_plot(ui, "dif overlay", &plot, fill_height(ui, 220.0).min(340.0));
        } else if let Some(item) = &self.selected
            && ctx.jobs.running(KIND)
        {
            ui.label(format!("Fitting the curves of {item}…"));
        }
    }

    fn ladder_ui(&self, ui: &mut egui::Ui, ctx: &StageContext<'_>) {
        let Some((ladder, data)) = &self.ladder else {
            return;
        };
        ui.strong(format!(
            "Invariance ladder by {} ({} persons)",
            ladder.column,
            count(ladder.n_persons)
        ));
        if *data != ctx.inputs.data {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "⚠ out of date: the data changed",
            );
        }
        egui::Grid::new("ladder")
            .num_columns(7)
            .striped(true)
            .spacing([14.0, 3.0])
            .show(ui, |ui| {
                for h in [
                    "level",
                    "log-likelihood",
                    "parameters",
                    "AIC",
                    "BIC",
                    "LR χ² (df)",
                    "p",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for step in &ladder.steps {
                    ui.label(step.level.name());
                    ui.monospace(format!("{:.3}", step.log_likelihood));
                    ui.monospace(step.parameters.to_string());
                    ui.monospace(format!("{:.2}", step.aic));
                    ui.monospace(format!("{:.2}", step.bic));
                    match step.test {
                        Some(t) => {
                            ui.monospace(format!("{:.3} ({})", t.statistic, t.df));
                            ui.monospace(p_value(t.p));
                        }
                        None => {
                            ui.label("");
                            ui.label("");
                        }
                    }
                    ui.end_row();
                }
            });
        ui.label(format!(
            "Supported at α = .05: {}",
            ladder.supported(0.05).label()
        ));
    }
}

fn job_error(e: PredictionError) -> JobError {
    match e {
        PredictionError::Cancelled => JobError::Cancelled,
        e => JobError::Failed(format!("DIF: {e}")),
    }
}

fn method_help(method: DifMethod) -> &'static str {
    match method {
        DifMethod::MantelHaenszel => {
            "Mantel–Haenszel χ² over total-score strata, α_MH and the ETS Δ with A/B/C classes \
             (generalised MH for polytomous items)"
        }
        DifMethod::Logistic => {
            "Logistic regression (Swaminathan & Rogers): uniform and non-uniform DIF with \
             Nagelkerke ΔR² classes"
        }
        DifMethod::LikelihoodRatio => {
            "IRT likelihood ratio: each item's parameters freed across groups against the \
             anchors (a two-group fit per item)"
        }
        DifMethod::Wald => "Wald (Lord's χ²) test of the group differences in an item's parameters",
    }
}

/// Each group's fitted expected-score curve and observed mean scores.
fn overlay_plot(overlay: &ItemOverlay) -> Plot {
    let mut plot = Plot::new(
        format!("{}: curves by group", overlay.item),
        "θ",
        if overlay.max_score <= 1.0 {
            "P(correct)"
        } else {
            "expected item score"
        },
    );
    plot.y_from_zero = true;
    plot.y_to_one = overlay.max_score <= 1.0;
    for (index, group) in overlay.groups.iter().enumerate() {
        plot.series.push(Series::new(
            format!("{} (model)", group.group),
            group.curve.clone(),
            SeriesStyle::Line,
            index,
        ));
        plot.series.push(Series::new(
            format!("{} (observed)", group.group),
            group.observed.iter().map(|&(t, m, _)| [t, m]).collect(),
            SeriesStyle::Points,
            index,
        ));
    }
    plot
}

impl StagePart for Dif {
    fn id(&self) -> StageId {
        StageId::Dif
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, _state: &AppState, jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus {
        if jobs.running(KIND) {
            return StageStatus::at(Level::Busy, "running…");
        }
        if self.error.is_some() {
            return StageStatus::at(Level::Error, "needs attention");
        }
        match &self.report {
            None => StageStatus::normal("no groups compared"),
            Some((_, _, data)) if *data != inputs.data => {
                StageStatus::at(Level::Warning, "out of date")
            }
            Some((report, _, _)) => {
                let flagged = report.flagged_items().len();
                StageStatus::at(
                    if flagged > 0 {
                        Level::Warning
                    } else {
                        Level::Normal
                    },
                    format!("{flagged} item(s) flagged"),
                )
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.heading("Differential item functioning");
        if ctx.state.data.matrix().is_none() {
            ui.label("The response matrix is not ready: open data and check Preprocessing.");
            return;
        }
        self.settings_ui(ui, ctx);
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        if self.report.is_none() && self.ladder.is_none() && !ctx.jobs.running(KIND) {
            ui.label(
                "Choose the column that defines the groups (its first value is the reference \
                 unless you choose), the methods and the anchors, then Run DIF. Invariance \
                 ladder fits two-group models with all parameters free, equal slopes, and all \
                 parameters equal.",
            );
        }
        self.ladder_ui(ui, ctx);
        self.report_ui(ui, ctx);
    }

    fn finished(&mut self, output: Box<dyn std::any::Any + Send>, _ctx: &mut StageContext<'_>) {
        let Ok(output) = output.downcast::<Output>() else {
            return;
        };
        self.error = None;
        match *output {
            Output::Report(report, matrix, data) => {
                self.selected = None;
                self.overlay = None;
                self.report = Some((report, matrix, data));
            }
            Output::Overlay(overlay) => {
                if self.selected.as_deref() == Some(overlay.item.as_str()) {
                    self.overlay = Some(overlay);
                }
            }
            Output::Ladder(ladder, data) => self.ladder = Some((ladder, data)),
        }
    }

    fn failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    fn file_name(&self, purpose: DialogPurpose) -> Option<String> {
        (purpose == DialogPurpose::SaveTable(StageId::Dif)).then(|| "dif.csv".to_string())
    }

    fn picked(
        &mut self,
        purpose: DialogPurpose,
        path: &std::path::Path,
        ctx: &mut StageContext<'_>,
    ) -> bool {
        if purpose != DialogPurpose::SaveTable(StageId::Dif) {
            return false;
        }
        if let Some((report, _, _)) = &self.report {
            match crate::prediction::dif::dif_table(report) {
                Ok(frame) => super::save_table(ctx, path, "dif", frame),
                Err(e) => ctx.send(Command::Notify(e.to_string(), true)),
            }
        }
        true
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut StageContext<'_>) {
        if matches!(event, AppEvent::Opened) {
            *self = Dif::default();
            ctx.jobs.cancel(KIND);
        }
    }
}
