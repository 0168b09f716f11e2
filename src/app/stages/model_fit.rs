//! The Fit stage: is the model right? Overall fit (M2, M2* or C2 with RMSEA, SRMSR, CFI, TLI;
//! the full-information G² for small tests), information criteria, the item-fit table with
//! misfitting items flagged and each item's fit plot, local dependence (Q3, Q3*, LD χ²,
//! Cramér's V) as a heat map with the flagged pairs, reliability with the conditional SEM and
//! the summed-score table, and a model comparison with likelihood-ratio tests. The statistics
//! are the library's ([`crate::prediction::diagnostics`]); they recompute in the background
//! after every fit.

use std::sync::Arc;

use eframe::egui;

use super::plots::draw_plot;
use super::{AppEvent, Level, Named, StageContext, StageId, StagePart, StageStatus, fill_height};
use crate::app::JobOutput;
use crate::app::commands::Command;
use crate::app::jobs::{JobError, JobKind, JobQueue};
use crate::app::state::{AppState, Inputs, ParameterSource};
use crate::app::table_view::{TableSpec, table_ui};
use crate::prediction::diagnostics::{
    ComparedModel, Diagnostics, DiagnosticsOptions, FitPlotGrouping, LdMatrix, ModelComparison,
    compare, diagnose, item_fit_plot,
};
use crate::prediction::p_adjust::PAdjust;
use crate::prediction::{Analysis, PredictionError, ResponseMatrix};
use crate::text::{count, fixed, fixed_opt, p_value};

const KIND: JobKind = JobKind::Stage(StageId::Fit);

/// Statistics computed for one fit.
struct Computed {
    /// The fit they describe (its analysis, compared by pointer).
    analysis: Arc<Analysis>,
    matrix: Arc<ResponseMatrix>,
    inputs: Inputs,
    diagnostics: Arc<Diagnostics>,
}

/// The panels of the stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    ItemFit,
    LocalDependence,
    Reliability,
    Comparison,
}

impl Tab {
    const ALL: [Tab; 4] = [
        Tab::ItemFit,
        Tab::LocalDependence,
        Tab::Reliability,
        Tab::Comparison,
    ];

    fn label(self) -> &'static str {
        match self {
            Tab::ItemFit => "Item fit",
            Tab::LocalDependence => "Local dependence",
            Tab::Reliability => "Reliability",
            Tab::Comparison => "Model comparison",
        }
    }
}

/// The Fit stage's part.
pub struct ModelFit {
    computed: Option<Computed>,
    error: Option<String>,
    options: DiagnosticsOptions,
    tab: Tab,
    sort: Option<(usize, bool)>,
    selected_item: Option<String>,
    grouping: FitPlotGrouping,
    ld_matrix: LdMatrix,
    comparison: Vec<ComparedModel>,
    /// Compute after each fit without being asked.
    automatic: bool,
}

impl Default for ModelFit {
    fn default() -> Self {
        ModelFit {
            computed: None,
            error: None,
            options: DiagnosticsOptions::default(),
            tab: Tab::ItemFit,
            sort: None,
            selected_item: None,
            grouping: FitPlotGrouping::Theta,
            ld_matrix: LdMatrix::Q3,
            comparison: Vec::new(),
            automatic: true,
        }
    }
}

impl ModelFit {
    /// The statistics shown, when computed.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        self.computed.as_ref().map(|c| c.diagnostics.as_ref())
    }

    /// The models added to the comparison.
    pub fn comparison(&self) -> &[ComparedModel] {
        &self.comparison
    }

    /// Starts computing the statistics of the current fit (replacing a running computation).
    fn start(&mut self, ctx: &mut StageContext<'_>) {
        let Some(fit) = ctx.state.results.fit.clone() else {
            return;
        };
        if let Err(e) = self.options.validate() {
            self.error = Some(e.to_string());
            return;
        }
        self.error = None;
        let options = self.options.clone();
        ctx.jobs
            .replace(KIND, "Computing fit statistics", move |sink, cancel| {
                let mut progress = |p: crate::prediction::diagnostics::DiagnosticsProgress| {
                    sink.report(
                        p.step as f32 / p.steps.max(1) as f32,
                        format!("{} ({}/{})", p.stage, p.step, p.steps),
                    );
                };
                match diagnose(
                    &fit.matrix,
                    &fit.analysis.calibration,
                    &options,
                    &mut progress,
                    cancel,
                ) {
                    Ok(diagnostics) => Ok(JobOutput::Stage(
                        StageId::Fit,
                        Box::new(Computed {
                            analysis: fit.analysis.clone(),
                            matrix: fit.matrix.clone(),
                            inputs: fit.inputs,
                            diagnostics: Arc::new(diagnostics),
                        }),
                    )),
                    Err(PredictionError::Cancelled) => Err(JobError::Cancelled),
                    Err(e) => Err(JobError::Failed(format!("Fit statistics: {e}"))),
                }
            });
    }

    /// Whether the statistics shown belong to the fit in use.
    fn current(&self, state: &AppState) -> bool {
        match (&self.computed, &state.results.fit) {
            (Some(c), Some(fit)) => Arc::ptr_eq(&c.analysis, &fit.analysis),
            _ => false,
        }
    }

    fn overall_ui(&self, ui: &mut egui::Ui, computed: &Computed) {
        let d = &computed.diagnostics;
        let ic = &d.information_criteria;
        // (label, value) pairs, laid out three to a row in a wide panel and two in a narrow one.
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(m) = &d.model_fit {
            pairs.push((
                m.statistic.name().to_string(),
                format!("{:.3} (df {}), p = {}", m.value, m.df, p_value(m.p)),
            ));
            pairs.push((
                "RMSEA [90 % CI]".into(),
                format!(
                    "{:.4} [{:.4}, {:.4}]",
                    m.rmsea, m.rmsea_ci[0], m.rmsea_ci[1]
                ),
            ));
            pairs.push(("SRMSR".into(), fixed_opt(m.srmsr, 4)));
            pairs.push(("CFI".into(), fixed_opt(m.cfi, 4)));
            pairs.push(("TLI".into(), fixed_opt(m.tli, 4)));
            pairs.push((
                "Persons used".into(),
                format!(
                    "{}{}",
                    count(m.persons),
                    if m.pairwise { " (available pairs)" } else { "" }
                ),
            ));
        }
        if let Some(g) = &d.full_information {
            pairs.push((
                "G² (full information)".into(),
                format!("{:.3} (df {}), p = {}", g.g2, g.df, p_value(g.p)),
            ));
            pairs.push(("RMSEA (G²)".into(), format!("{:.4}", g.rmsea)));
            pairs.push((
                "CFI / TLI (G²)".into(),
                format!("{:.4} / {:.4}", g.cfi, g.tli),
            ));
        }
        pairs.push(("Log-likelihood".into(), format!("{:.3}", ic.log_likelihood)));
        pairs.push((
            "AIC / AICc".into(),
            format!("{:.2} / {:.2}", ic.aic, ic.aicc),
        ));
        pairs.push((
            "BIC / SABIC".into(),
            format!("{:.2} / {:.2}", ic.bic, ic.sabic),
        ));
        if let Some(r) = &d.reliability {
            pairs.push(("Marginal reliability".into(), format!("{:.4}", r.marginal)));
            pairs.push(("Empirical (EAP)".into(), format!("{:.4}", r.empirical)));
            pairs.push(("Sum-score EAP".into(), fixed_opt(r.sum_score, 4)));
        }
        let per_row = if ui.available_width() > 1000.0 { 3 } else { 2 };
        egui::Grid::new("overall fit")
            .num_columns(2 * per_row)
            .spacing([18.0, 4.0])
            .show(ui, |ui| {
                for (index, (label, value)) in pairs.iter().enumerate() {
                    let response = ui.label(label);
                    if index == 0 && d.model_fit.is_some() {
                        response.on_hover_text(
                            "Limited-information fit: M2 (Maydeu-Olivares & Joe) for right/wrong \
                             items, M2* for polytomous items, C2 (Cai & Monroe) where M2* has no \
                             degrees of freedom",
                        );
                    }
                    ui.monospace(value);
                    if index % per_row == per_row - 1 {
                        ui.end_row();
                    }
                }
            });
        let flagged = d.flagged_items().len();
        let text = if flagged == 0 {
            "No item flagged by S-X² at the chosen level.".to_string()
        } else {
            format!(
                "{flagged} item{} flagged: {}",
                if flagged == 1 { "" } else { "s" },
                d.flagged_items()
                    .iter()
                    .map(|i| i.item.as_str())
                    .take(12)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let color = if flagged == 0 {
            ui.visuals().text_color()
        } else {
            ui.visuals().warn_fg_color
        };
        ui.colored_label(color, text);
        for note in &d.notes {
            ui.weak(format!("{}: {}", note.statistic, note.message));
        }
    }

    fn item_fit_ui(&mut self, ui: &mut egui::Ui, computed: &Computed) {
        let d = &computed.diagnostics;
        let headers: Vec<String> = [
            "item", "n", "S-X²", "df", "p", "p adj.", "RMSEA", "Q1", "Q1 df", "Q1 p", "Zh",
            "infit", "infit t", "outfit", "outfit t",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let rows = &d.item_fit;
        let key = |i: usize, column: usize| -> f64 {
            let r = &rows[i];
            match column {
                2 => r.s_x2.as_ref().map_or(f64::NAN, |t| t.value),
                4 | 5 => r.s_x2.as_ref().map_or(f64::NAN, |t| t.p),
                6 => r.s_x2.as_ref().map_or(f64::NAN, |t| t.rmsea),
                7 => r.q1.as_ref().map_or(f64::NAN, |t| t.value),
                9 => r.q1.as_ref().map_or(f64::NAN, |t| t.p),
                10 => r.zh,
                11 => r.infit,
                13 => r.outfit,
                _ => i as f64,
            }
        };
        let mut order: Vec<usize> = (0..rows.len()).collect();
        if let Some((column, descending)) = self.sort {
            order.sort_by(|&x, &y| key(x, column).total_cmp(&key(y, column)));
            if descending {
                order.reverse();
            }
        }
        let cell = |r: usize, column: usize| -> String {
            let row = &rows[order[r]];
            let s = row.s_x2.as_ref();
            let q = row.q1.as_ref();
            match column {
                0 => row.item.clone(),
                1 => row.persons.to_string(),
                2 => s.map_or("–".into(), |t| format!("{:.3}", t.value)),
                3 => s.map_or("–".into(), |t| format!("{}", t.df)),
                4 => s.map_or("–".into(), |t| p_value(t.p)),
                5 => s.map_or("–".into(), |t| p_value(t.p_adjusted)),
                6 => s.map_or("–".into(), |t| format!("{:.4}", t.rmsea)),
                7 => q.map_or("–".into(), |t| format!("{:.3}", t.value)),
                8 => q.map_or("–".into(), |t| format!("{}", t.df)),
                9 => q.map_or("–".into(), |t| p_value(t.p)),
                10 => fixed(row.zh, 3),
                11 => fixed(row.infit, 3),
                12 => fixed(row.infit_t, 2),
                13 => fixed(row.outfit, 3),
                _ => fixed(row.outfit_t, 2),
            }
        };
        let warn = ui.visuals().warn_fg_color.gamma_multiply(0.25);
        let row_color = |r: usize| rows[order[r]].flagged.then_some(warn);
        let response = table_ui(
            ui,
            TableSpec {
                id: "item fit table",
                headers,
                subheaders: Vec::new(),
                rows: order.len(),
                cell: &cell,
                row_color: Some(&row_color),
                highlight: &[],
                sortable: Some(&[0, 2, 4, 5, 6, 7, 9, 10, 11, 13]),
                sort: self.sort,
                row_numbers: false,
                max_height: if self.selected_item.is_some() {
                    200.0
                } else {
                    fill_height(ui, 240.0) - 30.0
                },
            },
        );
        if let Some(column) = response.sort_clicked {
            self.sort = match self.sort {
                Some((c, false)) if c == column => Some((column, true)),
                Some((c, true)) if c == column && column == 0 => None,
                _ => Some((column, false)),
            };
        }
        if let Some(r) = response.row_clicked {
            self.selected_item = Some(rows[order[r]].item.clone());
        }
        ui.weak("Flagged rows are shaded. Click a row for its item-fit plot.");
        let Some(name) = self.selected_item.clone() else {
            return;
        };
        let calibration = &computed.analysis.calibration;
        let Some(index) = calibration.items.iter().position(|i| i.item == name) else {
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(format!("Item-fit plot: {name}"));
            ui.selectable_value(&mut self.grouping, FitPlotGrouping::Theta, "θ groups");
            ui.selectable_value(
                &mut self.grouping,
                FitPlotGrouping::SumScore,
                "sum-score groups",
            );
            if ui
                .small_button("✕")
                .on_hover_text("Close the plot")
                .clicked()
            {
                self.selected_item = None;
            }
        });
        match item_fit_plot(
            &computed.matrix,
            calibration,
            &computed.diagnostics,
            index,
            self.grouping,
        ) {
            Ok(data) => {
                let plot = crate::plots::item_fit_plot(&data);
                draw_plot(
                    ui,
                    "item fit plot",
                    &plot,
                    fill_height(ui, 240.0).min(380.0),
                );
            }
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.to_string());
            }
        }
    }

    fn local_dependence_ui(&mut self, ui: &mut egui::Ui, computed: &Computed) {
        let Some(ld) = &computed.diagnostics.local_dependence else {
            ui.label("Local dependence was not computed for this fit (see the notes above).");
            return;
        };
        ui.horizontal(|ui| {
            ui.label("Matrix");
            for (which, label) in [
                (LdMatrix::Q3, "Q3"),
                (LdMatrix::Q3Star, "Q3*"),
                (LdMatrix::LdChiSquare, "LD χ²"),
                (LdMatrix::CramersV, "Cramér's V"),
            ] {
                ui.selectable_value(&mut self.ld_matrix, which, label);
            }
        });
        let map = ld.heat_map(self.ld_matrix);
        heat_map_ui(ui, &map);
        ui.strong(format!(
            "Flagged pairs (Q3 more than {:.2} above the mean Q3 of {:.3}): {}",
            ld.threshold,
            ld.q3_mean,
            ld.flagged.len()
        ));
        if !ld.flagged.is_empty() {
            let pairs = &ld.flagged;
            let cell = |r: usize, column: usize| -> String {
                let p = &pairs[r];
                match column {
                    0 => p.item1.clone(),
                    1 => p.item2.clone(),
                    2 => fixed(p.q3, 3),
                    3 => fixed(p.q3_star, 3),
                    4 => fixed(p.ld_x2, 2),
                    5 => p_value(p.ld_p),
                    _ => fixed(p.cramers_v, 3),
                }
            };
            table_ui(
                ui,
                TableSpec {
                    id: "ld pairs",
                    headers: ["item 1", "item 2", "Q3", "Q3*", "LD χ²", "p", "Cramér's V"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    subheaders: Vec::new(),
                    rows: pairs.len(),
                    cell: &cell,
                    row_color: None,
                    highlight: &[],
                    sortable: None,
                    sort: None,
                    row_numbers: false,
                    max_height: 200.0,
                },
            );
        }
    }

    fn reliability_ui(&self, ui: &mut egui::Ui, computed: &Computed) {
        let Some(r) = &computed.diagnostics.reliability else {
            ui.label("Reliability was not computed for this fit.");
            return;
        };
        ui.label(format!(
            "Marginal reliability {:.4} (test information over the latent density); empirical \
             reliability of the EAP scores {:.4} ({} persons); summed-score EAP reliability {} \
             ({} persons).",
            r.marginal,
            r.empirical,
            count(r.empirical_persons),
            fixed_opt(r.sum_score, 4),
            count(r.sum_score_persons)
        ));
        if let Some(t) = &r.sum_score_fit {
            ui.label(format!(
                "Observed against expected sum-score counts: X² = {:.3} (df {}), p = {}",
                t.x2,
                t.df,
                p_value(t.p)
            ));
        }
        let plot = crate::plots::conditional_sem_plot(r);
        draw_plot(ui, "csem plot", &plot, 240.0);
        if !r.sum_score_table.is_empty() {
            ui.strong("Summed-score EAP table");
            let rows = &r.sum_score_table;
            let cell = |i: usize, column: usize| -> String {
                let row = &rows[i];
                match column {
                    0 => row.sum_score.to_string(),
                    1 => fixed(row.theta, 4),
                    2 => fixed(row.theta_se, 4),
                    3 => fixed(row.observed, 0),
                    _ => fixed(row.expected, 2),
                }
            };
            table_ui(
                ui,
                TableSpec {
                    id: "sum score table",
                    headers: ["sum score", "θ (EAP)", "SE", "observed", "expected"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    subheaders: Vec::new(),
                    rows: rows.len(),
                    cell: &cell,
                    row_color: None,
                    highlight: &[],
                    sortable: None,
                    sort: None,
                    row_numbers: false,
                    max_height: fill_height(ui, 160.0),
                },
            );
        }
    }

    fn comparison_ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.horizontal_wrapped(|ui| {
            let fit = ctx.state.results.fit.clone();
            let can_add = fit.is_some() && ctx.state.results.source == ParameterSource::Fitted;
            if ui
                .add_enabled(can_add, egui::Button::new("Add this fit to the comparison"))
                .on_hover_text(
                    "Appends the current model; fit another model in Prediction and add it too",
                )
                .clicked()
                && let Some(fit) = fit
            {
                let data = data_label(ctx.state, fit.inputs);
                let calibration = &fit.analysis.calibration;
                let label = format!(
                    "{} #{}",
                    calibration.model_label(),
                    self.comparison.len() + 1
                );
                self.comparison
                    .push(ComparedModel::from_calibration(label, data, calibration));
            }
            if ui
                .add_enabled(!self.comparison.is_empty(), egui::Button::new("Clear"))
                .clicked()
            {
                self.comparison.clear();
            }
        });
        if self.comparison.is_empty() {
            ui.label(
                "Fit a model, add it, fit another (Rasch, 2PL, 3PL; graded or GPCM) and add it: \
                 the table compares them, with likelihood-ratio tests for nested pairs fitted to \
                 the same data.",
            );
            return;
        }
        let table: ModelComparison = compare(self.comparison.clone());
        let models = &table.models;
        let best_aic = table.best_aic();
        let best_bic = table.best_bic();
        let cell = |r: usize, column: usize| -> String {
            let m = &models[r];
            match column {
                0 => m.label.clone(),
                1 => m.data.clone(),
                2 => count(m.persons),
                3 => format!("{:.3}", m.log_likelihood),
                4 => m.parameters.to_string(),
                5 => format!(
                    "{:.2}{}",
                    m.aic,
                    if best_aic == Some(r) { " ★" } else { "" }
                ),
                6 => fixed(m.aicc, 2),
                7 => format!(
                    "{:.2}{}",
                    m.bic,
                    if best_bic == Some(r) { " ★" } else { "" }
                ),
                _ => fixed(m.sabic, 2),
            }
        };
        table_ui(
            ui,
            TableSpec {
                id: "comparison table",
                headers: [
                    "model",
                    "data",
                    "persons",
                    "log-likelihood",
                    "parameters",
                    "AIC",
                    "AICc",
                    "BIC",
                    "SABIC",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                subheaders: Vec::new(),
                rows: models.len(),
                cell: &cell,
                row_color: None,
                highlight: &[],
                sortable: None,
                sort: None,
                row_numbers: false,
                max_height: 180.0,
            },
        );
        ui.weak("★ the smallest AIC and BIC.");
        if table.tests.is_empty() {
            ui.label("No nested pair fitted to the same data: no likelihood-ratio test.");
            return;
        }
        ui.strong("Likelihood-ratio tests");
        let tests = &table.tests;
        let cell = |r: usize, column: usize| -> String {
            let t = &tests[r];
            match column {
                0 => models[t.restricted].label.clone(),
                1 => models[t.general].label.clone(),
                2 => format!("{:.3}", t.chi_square),
                3 => format!("{}", t.df),
                4 => p_value(t.p),
                _ => t.note.clone().unwrap_or_default(),
            }
        };
        table_ui(
            ui,
            TableSpec {
                id: "lr tests",
                headers: ["restricted", "general", "χ²", "df", "p", "note"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                subheaders: Vec::new(),
                rows: tests.len(),
                cell: &cell,
                row_color: None,
                highlight: &[],
                sortable: None,
                sort: None,
                row_numbers: false,
                max_height: 160.0,
            },
        );
    }
}

/// What the data of a fit were, for the comparison table: the source's file name, the steps in
/// use and a fingerprint (two fits are LR-tested only when this is equal).
fn data_label(state: &AppState, inputs: Inputs) -> String {
    let project = &state.document.project;
    let source = project
        .source
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let steps = project.steps.iter().filter(|s| s.enabled).count();
    format!(
        "{source}, {steps} step{} [{:04x}]",
        if steps == 1 { "" } else { "s" },
        inputs.data & 0xffff
    )
}

/// Draws a symmetric item × item matrix as coloured cells (blue negative, red positive),
/// with the value on hover.
fn heat_map_ui(ui: &mut egui::Ui, map: &crate::prediction::diagnostics::HeatMap) {
    let n = map.labels.len();
    if n == 0 {
        return;
    }
    ui.label(&map.title);
    let label_width = 70.0;
    let available = (ui.available_width() - label_width).max(120.0);
    let cell = (available / n as f32).clamp(3.0, 28.0);
    let size = egui::vec2(label_width + cell * n as f32, cell * n as f32 + 4.0);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let [lo, hi] = map.range;
    let signed = lo < 0.0;
    let color_of = |v: f64| -> egui::Color32 {
        let t = if signed {
            (v / hi.abs().max(lo.abs()).max(1e-12)).clamp(-1.0, 1.0)
        } else {
            ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0)
        };
        let strength = (t.abs() * 255.0) as u8;
        if t >= 0.0 {
            egui::Color32::from_rgb(255, 255 - strength, 255 - strength)
        } else {
            egui::Color32::from_rgb(255 - strength, 255 - strength, 255)
        }
    };
    let origin = rect.min + egui::vec2(label_width, 0.0);
    for (i, row) in map.values.iter().enumerate() {
        if cell >= 10.0 {
            painter.text(
                egui::pos2(
                    rect.min.x + label_width - 4.0,
                    origin.y + (i as f32 + 0.5) * cell,
                ),
                egui::Align2::RIGHT_CENTER,
                crate::text::shorten(&map.labels[i], 10),
                egui::FontId::proportional(cell.min(12.0)),
                ui.visuals().text_color(),
            );
        }
        for (j, value) in row.iter().enumerate() {
            let cell_rect = egui::Rect::from_min_size(
                origin + egui::vec2(j as f32 * cell, i as f32 * cell),
                egui::vec2(cell, cell),
            );
            let fill = match value {
                Some(v) => color_of(*v),
                None => ui.visuals().faint_bg_color,
            };
            painter.rect_filled(cell_rect.shrink(0.5), 0.0, fill);
        }
    }
    if let Some(pointer) = response.hover_pos() {
        let j = ((pointer.x - origin.x) / cell).floor();
        let i = ((pointer.y - origin.y) / cell).floor();
        if i >= 0.0 && j >= 0.0 && (i as usize) < n && (j as usize) < n {
            let (i, j) = (i as usize, j as usize);
            let text = match map.values[i][j] {
                Some(v) => format!("{} × {}: {v:.4}", map.labels[i], map.labels[j]),
                None => format!("{} × {}", map.labels[i], map.labels[j]),
            };
            response.on_hover_text_at_pointer(text);
        }
    }
}

impl StagePart for ModelFit {
    fn id(&self) -> StageId {
        StageId::Fit
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus {
        if jobs.running(KIND) {
            return StageStatus::at(Level::Busy, "computing fit statistics…");
        }
        if self.error.is_some() {
            return StageStatus::at(Level::Error, "fit statistics failed");
        }
        let Some(computed) = &self.computed else {
            return StageStatus::normal(if state.results.fit.is_some() {
                "not computed"
            } else {
                "needs a fit"
            });
        };
        if !self.current(state) || computed.inputs != inputs {
            return StageStatus::at(Level::Warning, "out of date");
        }
        let d = &computed.diagnostics;
        let flagged = d.flagged_items().len();
        let overall = d
            .model_fit
            .as_ref()
            .map(|m| format!("RMSEA {:.3}, ", m.rmsea))
            .unwrap_or_default();
        StageStatus::at(
            if flagged > 0 {
                Level::Warning
            } else {
                Level::Normal
            },
            format!("{overall}{flagged} item(s) flagged"),
        )
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.heading("Model fit");
        if ctx.state.results.fit.is_none() {
            ui.label(
                "Fit a model in Prediction: item fit, overall fit, local dependence, reliability \
                 and model comparison are computed here after each fit.",
            );
            if ui.button("Go to Prediction").clicked() {
                ctx.send(Command::Show(StageId::Prediction));
            }
            return;
        }
        if ctx.state.results.source == ParameterSource::Entered {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "Entered parameters are in use: fit statistics describe the last fit.",
            );
        }
        let running = ctx.jobs.running(KIND);
        let mut recompute = false;
        ui.horizontal_wrapped(|ui| {
            ui.label("p-value adjustment");
            let before = self.options.p_adjust;
            egui::ComboBox::new("fit p adjust", "")
                .selected_text(self.options.p_adjust.label())
                .show_ui(ui, |ui| {
                    for method in PAdjust::ALL {
                        ui.selectable_value(&mut self.options.p_adjust, method, method.label());
                    }
                })
                .named("p-value adjustment");
            recompute |= before != self.options.p_adjust;
            let label = ui.label("α");
            let changed = ui
                .add(
                    egui::DragValue::new(&mut self.options.alpha)
                        .range(0.001..=0.2)
                        .speed(0.001),
                )
                .labelled_by(label.id)
                .changed();
            recompute |= changed;
            ui.checkbox(&mut self.automatic, "after each fit")
                .on_hover_text("Compute the statistics in the background after every fit");
            if running {
                if let Some(job) = ctx.jobs.get(KIND) {
                    ui.add(
                        egui::ProgressBar::new(job.fraction.unwrap_or(0.0))
                            .desired_width(160.0)
                            .text(job.detail.clone()),
                    );
                }
                if ui.button("Cancel").clicked() {
                    ctx.send(Command::Cancel(KIND));
                }
            } else if ui.button("Compute").clicked() {
                recompute = true;
            }
        });
        if recompute && !running {
            self.start(ctx);
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let warnings = &ctx
            .state
            .results
            .fit
            .as_ref()
            .map(|f| f.analysis.calibration.warnings.clone())
            .unwrap_or_default();
        for warning in warnings {
            ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {warning}"));
        }
        let stale = !self.current(ctx.state)
            || self
                .computed
                .as_ref()
                .is_some_and(|c| c.inputs != ctx.inputs);
        let Some(computed) = self.computed.take() else {
            if !running {
                ui.label("Press Compute for the fit statistics of this model.");
            }
            self.tab_bar(ui);
            if self.tab == Tab::Comparison {
                self.comparison_ui(ui, ctx);
            }
            return;
        };
        if stale {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "⚠ These statistics describe an earlier fit; they update after the next fit.",
            );
        }
        self.overall_ui(ui, &computed);
        ui.separator();
        self.tab_bar(ui);
        match self.tab {
            Tab::ItemFit => self.item_fit_ui(ui, &computed),
            Tab::LocalDependence => self.local_dependence_ui(ui, &computed),
            Tab::Reliability => self.reliability_ui(ui, &computed),
            Tab::Comparison => self.comparison_ui(ui, ctx),
        }
        self.computed = Some(computed);
    }

    fn finished(&mut self, output: Box<dyn std::any::Any + Send>, _ctx: &mut StageContext<'_>) {
        if let Ok(computed) = output.downcast::<Computed>() {
            self.error = None;
            self.computed = Some(*computed);
        }
    }

    fn failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut StageContext<'_>) {
        match event {
            AppEvent::Opened => {
                self.computed = None;
                self.error = None;
                self.selected_item = None;
                self.comparison.clear();
                ctx.jobs.cancel(KIND);
            }
            AppEvent::ItemsChanged => {
                let fresh_fit = ctx.state.results.source == ParameterSource::Fitted
                    && ctx.state.results.fit.is_some()
                    && !self.current(ctx.state);
                if self.automatic && fresh_fit {
                    self.start(ctx);
                }
            }
            _ => {}
        }
    }
}

impl ModelFit {
    fn tab_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.label());
            }
        });
        ui.add_space(4.0);
    }
}
