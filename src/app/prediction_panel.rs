//! The Prediction panel: model settings with one-sentence tooltips, "Fit model" with progress,
//! the fit summary, the item table (sortable) and the person table; or item parameters entered
//! by hand, pasted or loaded from CSV / SQLite, to compute probabilities without fitting.

use std::path::Path;
use std::sync::Arc;

use eframe::egui;
use egui_extras::{Column, TableBuilder};

use super::jobs::JobKind;
use super::{Action, DialogPurpose, IrtlabApp, format_count};
use crate::prediction::{
    Analysis, Guessing, ItemParameters, ItemType, PersonScore, ScoringMethod, StandardErrorMethod,
    tables,
};
use crate::preparation::{CsvOptions, SourceKind, read_csv, sqlite};

/// Where the item parameters come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ParameterSource {
    /// Calibrated from the data.
    #[default]
    Fitted,
    /// Typed, pasted or loaded by the user.
    Entered,
}

/// Columns of the item table that can be sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ItemSort {
    /// Data order.
    #[default]
    Order,
    /// By a.
    A,
    /// By b.
    B,
    /// By c.
    C,
    /// By proportion correct.
    PValue,
    /// By item–rest correlation.
    ItemRest,
}

/// State of the panel and the results it shows.
#[derive(Default)]
pub struct PredictionState {
    /// Fitted or entered parameters.
    pub source: ParameterSource,
    /// The last fit.
    pub analysis: Option<Arc<Analysis>>,
    /// Its person scores, shared with the plots and export without copying.
    pub fitted_scores: Option<Arc<Vec<PersonScore>>>,
    /// Why the last fit failed.
    pub fit_error: Option<String>,
    /// Entered item parameters.
    pub entered: Vec<ItemParameters>,
    /// Scaling D of the entered parameters.
    pub entered_scaling: f64,
    /// Scores computed with the entered parameters.
    pub entered_scores: Option<Arc<Vec<PersonScore>>>,
    /// Text pasted into the "paste" box.
    pub paste_text: String,
    /// Item table order.
    pub sort: ItemSort,
    /// Descending order.
    pub descending: bool,
}

/// Reads item parameters (item, a, b[, c], or a whole items table) from a CSV file or from the
/// first table of a SQLite database that has those columns; `scaling` is the D of its `a`.
pub fn load_parameter_file(path: &Path, scaling: f64) -> Result<Vec<ItemParameters>, String> {
    let frame = match SourceKind::detect(path) {
        SourceKind::Sqlite => {
            let tables = sqlite::list_tables(path).map_err(|e| e.to_string())?;
            let table = tables
                .iter()
                .find(|t| {
                    ["item", "a", "b"]
                        .iter()
                        .all(|c| t.columns.iter().any(|x| x == c))
                })
                .ok_or_else(|| {
                    format!(
                        "{}: no table has the columns item, a and b; tables are: {}",
                        path.display(),
                        tables
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            sqlite::read_table(path, &table.name).map_err(|e| e.to_string())?
        }
        _ => read_csv(path, &CsvOptions::default()).map_err(|e| e.to_string())?,
    };
    tables::items_from_table(&frame, scaling).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses pasted rows `item, a, b[, c]` (comma, semicolon or tab separated; a header row is
/// skipped); `scaling` is the D of the a's.
pub fn parse_pasted_items(text: &str, scaling: f64) -> Result<Vec<ItemParameters>, String> {
    let mut items = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
        let numbers: Vec<Option<f64>> = fields.iter().skip(1).map(|f| f.parse().ok()).collect();
        if numbers.iter().all(|n| n.is_none()) && items.is_empty() {
            continue; // a header row
        }
        let (Some(Some(a)), Some(Some(b))) = (numbers.first(), numbers.get(1)) else {
            return Err(format!(
                "line {}: expected item, a, b[, c] with numbers, got \"{line}\"",
                number + 1
            ));
        };
        let c = numbers.get(2).copied().flatten().unwrap_or(0.0);
        let item = ItemParameters::dichotomous(fields[0], *a, *b, c, scaling);
        item.validate()
            .map_err(|e| format!("line {}: {e}", number + 1))?;
        items.push(item);
    }
    if items.is_empty() {
        return Err("nothing to read: paste rows of item, a, b[, c]".into());
    }
    Ok(items)
}

fn settings_ui(ui: &mut egui::Ui, app: &mut IrtlabApp, fitting: bool) -> Action {
    let mut action = Action::None;
    let settings = &mut app.project.model;
    ui.add_enabled_ui(!fitting, |ui| {
        egui::Grid::new("model settings").num_columns(4).spacing([16.0, 6.0]).show(ui, |ui| {
            ui.label("Model").on_hover_text("Rasch: slopes 1, ability variance estimated. 1PL: one common slope. 2PL: a slope and difficulty per item. 3PL: adds a guessing floor c.");
            egui::ComboBox::from_id_salt("model")
                .selected_text(settings.model.label())
                .show_ui(ui, |ui| {
                    for model in ItemType::ALL {
                        ui.selectable_value(&mut settings.model, model, model.label());
                    }
                });
            ui.label("Scaling D").on_hover_text("1 for the logistic metric; 1.702 puts a on the normal-ogive metric.");
            ui.horizontal(|ui| {
                ui.radio_value(&mut settings.scaling, 1.0, "1");
                ui.radio_value(&mut settings.scaling, 1.702, "1.702");
            });
            ui.end_row();
            ui.label("Quadrature points").on_hover_text("Nodes on [−6, 6] over which the ability distribution is integrated (mirt uses 61).");
            ui.add(egui::DragValue::new(&mut settings.quadrature_points).range(5..=401));
            ui.label("Tolerance").on_hover_text("EM stops when no parameter changes by more than this in a cycle.");
            ui.add(egui::DragValue::new(&mut settings.tolerance).range(1e-8..=0.1).speed(1e-5).max_decimals(8));
            ui.end_row();
            ui.label("Max cycles").on_hover_text("EM gives up (and says so) after this many cycles.");
            ui.add(egui::DragValue::new(&mut settings.max_cycles).range(1..=100_000));
            ui.label("Scoring").on_hover_text("EAP: posterior mean (always finite). MAP: posterior mode. ML: likelihood maximum, undefined for all-correct or all-wrong patterns.");
            egui::ComboBox::from_id_salt("scoring")
                .selected_text(app.project.scoring.name().to_uppercase())
                .show_ui(ui, |ui| {
                    for method in ScoringMethod::ALL {
                        ui.selectable_value(&mut app.project.scoring, method, method.name().to_uppercase());
                    }
                });
            ui.end_row();
            ui.label("Standard errors").on_hover_text("Observed information: exact (analytic where the item types allow). Cross-product: quicker, a little noisier. None: skip them.");
            ui.horizontal(|ui| {
                ui.radio_value(&mut settings.standard_errors, StandardErrorMethod::Observed, "observed");
                ui.radio_value(&mut settings.standard_errors, StandardErrorMethod::CrossProduct, "cross-product");
                ui.radio_value(&mut settings.standard_errors, StandardErrorMethod::None, "none");
            });
            ui.label("Acceleration").on_hover_text("SQUAREM extrapolation: the same estimates in fewer EM cycles.");
            ui.checkbox(&mut settings.acceleration, "SQUAREM");
            ui.end_row();
            if matches!(settings.model, ItemType::ThreePl | ItemType::FourPl) {
                ui.label("Guessing c").on_hover_text("Estimate c with a Beta prior (keeps it away from 0 and 1), or fix it for every item.");
                let mut fixed = matches!(settings.guessing, Guessing::Fixed { .. });
                ui.horizontal(|ui| {
                    if ui.radio(!fixed, "Beta prior").clicked() && fixed {
                        settings.guessing = Guessing::default();
                        fixed = false;
                    }
                    if ui.radio(fixed, "fixed").clicked() && !fixed {
                        settings.guessing = Guessing::Fixed { value: 0.2 };
                    }
                });
                match &mut settings.guessing {
                    Guessing::Prior { alpha, beta } => {
                        ui.horizontal(|ui| {
                            ui.label("α");
                            ui.add(egui::DragValue::new(alpha).range(1.0..=100.0).speed(0.1));
                            ui.label("β");
                            ui.add(egui::DragValue::new(beta).range(1.0..=100.0).speed(0.1));
                        });
                    }
                    Guessing::Fixed { value } => {
                        ui.add(egui::DragValue::new(value).range(0.0..=0.95).speed(0.01));
                    }
                }
                ui.end_row();
            }
        });
    });
    ui.horizontal(|ui| {
        let ready = matches!(app.processed.as_ref().map(|p| &p.matrix), Some(Ok(_)));
        if fitting {
            if ui.button("Cancel fit").clicked() {
                action = Action::Cancel(JobKind::Fit);
            }
        } else if ui
            .add_enabled(
                ready,
                egui::Button::new(egui::RichText::new("▶ Fit model").strong()),
            )
            .on_hover_text("Ctrl+Enter")
            .on_disabled_hover_text(
                "Prepare a response matrix first (Preparation and Preprocessing)",
            )
            .clicked()
        {
            action = Action::Fit;
        }
        if let Some(Err(error)) = app.processed.as_ref().map(|p| &p.matrix) {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    });
    action
}

fn summary_ui(ui: &mut egui::Ui, analysis: &Analysis) {
    let c = &analysis.calibration;
    if !c.converged {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("⚠ EM did not converge in {} cycles: the estimates are the last cycle's. Raise Max cycles or check the items.", c.cycles),
        );
    }
    egui::Grid::new("fit summary")
        .num_columns(6)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            ui.label("Log-likelihood");
            ui.monospace(format!("{:.3}", c.log_likelihood));
            ui.label("AIC");
            ui.monospace(format!("{:.2}", c.aic));
            ui.label("BIC");
            ui.monospace(format!("{:.2}", c.bic));
            ui.end_row();
            ui.label("Parameters");
            ui.monospace(c.parameters.to_string());
            ui.label("EM cycles");
            ui.monospace(c.cycles.to_string());
            ui.label("Converged");
            ui.monospace(if c.converged { "yes" } else { "no" });
            ui.end_row();
            ui.label("Persons");
            ui.monospace(format_count(c.n_persons));
            ui.label("Patterns");
            ui.monospace(format_count(c.n_patterns));
            ui.label("Cronbach's α");
            ui.monospace(
                analysis
                    .classical
                    .cronbach_alpha
                    .map_or("–".into(), |a| format!("{a:.3}")),
            );
            ui.end_row();
            if c.latent_variance != 1.0 || c.latent_mean != 0.0 {
                ui.label("Latent variance");
                ui.monospace(format!("{:.4}", c.latent_variance));
                ui.end_row();
            }
        });
    ui.weak(format!(
        "Standard errors: {}",
        c.standard_error_route.as_deref().unwrap_or("not computed")
    ));
    for warning in &c.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, warning.to_string());
    }
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), fixed)
}

/// Three decimals, so that columns of estimates line up.
fn fixed(value: f64) -> String {
    format!("{value:.3}")
}

fn item_table_ui(ui: &mut egui::Ui, state: &mut PredictionState, analysis: &Analysis) {
    let c = &analysis.calibration;
    let stats = |name: &str| analysis.classical.items.iter().find(|s| s.item == name);
    let mut order: Vec<usize> = (0..c.items.len()).collect();
    let key = |i: usize| -> f64 {
        let item = &c.items[i];
        match state.sort {
            ItemSort::Order => i as f64,
            ItemSort::A => item.a(),
            ItemSort::B => item.b(),
            ItemSort::C => item.c(),
            ItemSort::PValue => stats(&item.item)
                .and_then(|s| s.p_value)
                .unwrap_or(f64::NAN),
            ItemSort::ItemRest => stats(&item.item)
                .and_then(|s| s.item_rest_r)
                .unwrap_or(f64::NAN),
        }
    };
    order.sort_by(|&x, &y| key(x).total_cmp(&key(y)));
    if state.descending {
        order.reverse();
    }
    let headers: [(&str, Option<ItemSort>); 11] = [
        ("item", Some(ItemSort::Order)),
        ("a", Some(ItemSort::A)),
        ("b", Some(ItemSort::B)),
        ("c", Some(ItemSort::C)),
        ("d", None),
        ("SE a", None),
        ("SE b", None),
        ("SE c", None),
        ("p-value", Some(ItemSort::PValue)),
        ("n", None),
        ("item–rest r", Some(ItemSort::ItemRest)),
    ];
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    ui.push_id("item table", |ui| {
        TableBuilder::new(ui)
            .striped(true)
            .max_scroll_height(260.0)
            .columns(Column::auto().at_least(54.0), headers.len())
            .header(row_height, |mut header| {
                for (label, sort) in headers {
                    header.col(|ui| match sort {
                        Some(sort) => {
                            let arrow = if state.sort == sort {
                                if state.descending { " ▼" } else { " ▲" }
                            } else {
                                ""
                            };
                            if ui
                                .button(format!("{label}{arrow}"))
                                .on_hover_text("Sort")
                                .clicked()
                            {
                                if state.sort == sort {
                                    state.descending = !state.descending;
                                } else {
                                    state.sort = sort;
                                    state.descending = false;
                                }
                            }
                        }
                        None => {
                            ui.strong(label);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, order.len(), |mut row| {
                    let item = &c.items[order[row.index()]];
                    let s = stats(&item.item);
                    let cells = [
                        item.item.clone(),
                        fixed(item.a()),
                        item.irt
                            .b
                            .iter()
                            .map(|b| fixed(*b))
                            .collect::<Vec<_>>()
                            .join(" "),
                        optional(item.irt.c),
                        item.irt
                            .d
                            .iter()
                            .map(|d| fixed(*d))
                            .collect::<Vec<_>>()
                            .join(" "),
                        optional(item.a_se()),
                        optional(item.b_se()),
                        optional(item.c_se()),
                        optional(s.and_then(|s| s.p_value)),
                        s.map_or("–".into(), |s| s.n.to_string()),
                        optional(s.and_then(|s| s.item_rest_r)),
                    ];
                    for cell in cells {
                        row.col(|ui| {
                            ui.monospace(cell);
                        });
                    }
                });
            });
    });
    for excluded in &c.excluded_items {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("{} left out: {}", excluded.item, excluded.reason),
        );
    }
}

/// A virtualised table of person scores.
pub fn person_table_ui(ui: &mut egui::Ui, scores: &[PersonScore]) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    ui.push_id("person table", |ui| {
        TableBuilder::new(ui)
            .striped(true)
            .max_scroll_height(f32::INFINITY)
            .columns(Column::auto().at_least(70.0), 5)
            .header(row_height, |mut header| {
                for label in ["id", "θ", "SE", "answered", "sum score"] {
                    header.col(|ui| {
                        ui.strong(label);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, scores.len(), |mut row| {
                    let score = &scores[row.index()];
                    let theta = match (score.theta, score.flag) {
                        (Some(t), _) => fixed(t),
                        (None, Some(flag)) => format!("– ({})", flag.describe()),
                        (None, None) => "–".into(),
                    };
                    for cell in [
                        score.id.clone(),
                        theta,
                        optional(score.theta_se),
                        score.n_answered.to_string(),
                        score.sum_score.to_string(),
                    ] {
                        row.col(|ui| {
                            ui.monospace(cell);
                        });
                    }
                });
            });
    });
}

fn entered_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let mut action = Action::None;
    let state = &mut app.prediction;
    ui.horizontal(|ui| {
        ui.label("Scaling D");
        ui.radio_value(&mut state.entered_scaling, 1.0, "1");
        ui.radio_value(&mut state.entered_scaling, 1.702, "1.702");
        if ui.button("Load from CSV or SQLite…").clicked() {
            action = Action::Dialog(DialogPurpose::LoadParameters);
        }
        if let Some(analysis) = &state.analysis
            && ui.button("Copy the fitted parameters").clicked()
        {
            state.entered = analysis.calibration.item_parameters();
            state.entered_scaling = analysis.calibration.settings.scaling;
        }
    });
    let mut remove = None;
    let mut changed = false;
    egui::ScrollArea::vertical()
        .id_salt("entered items")
        .max_height(260.0)
        .show(ui, |ui| {
            egui::Grid::new("entered items")
                .num_columns(5)
                .striped(true)
                .show(ui, |ui| {
                    ui.strong("item");
                    ui.strong("a");
                    ui.strong("b");
                    ui.strong("c");
                    ui.end_row();
                    let scaling = state.entered_scaling;
                    for (index, item) in state.entered.iter_mut().enumerate() {
                        changed |= ui
                            .add(egui::TextEdit::singleline(&mut item.item).desired_width(110.0))
                            .changed();
                        if item.n_categories() == 2 {
                            let form = item.irt(scaling);
                            let (mut a, mut b, mut c) =
                                (form.a.unwrap_or(1.0), form.b[0], form.c.unwrap_or(0.0));
                            let mut edited = ui
                                .add(egui::DragValue::new(&mut a).speed(0.01).range(-10.0..=10.0))
                                .changed();
                            edited |= ui
                                .add(egui::DragValue::new(&mut b).speed(0.01).range(-10.0..=10.0))
                                .changed();
                            edited |= ui
                                .add(egui::DragValue::new(&mut c).speed(0.005).range(0.0..=0.95))
                                .changed();
                            if edited {
                                let name = item.item.clone();
                                *item = ItemParameters::dichotomous(name, a, b, c, scaling);
                                changed = true;
                            }
                        } else {
                            let form = item.irt(scaling);
                            ui.monospace(form.a.map_or("–".into(), fixed));
                            ui.monospace(
                                form.b
                                    .iter()
                                    .map(|b| fixed(*b))
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            );
                            ui.monospace(item.model.label());
                        }
                        if ui.small_button("✕").clicked() {
                            remove = Some(index);
                        }
                        ui.end_row();
                    }
                });
        });
    if let Some(index) = remove {
        state.entered.remove(index);
        changed = true;
    }
    if ui.button("+ item").clicked() {
        let n = state.entered.len() + 1;
        state.entered.push(ItemParameters::dichotomous(
            format!("item{n}"),
            1.0,
            0.0,
            0.0,
            1.0,
        ));
        changed = true;
    }
    ui.collapsing("Paste a table (item, a, b[, c] per line)", |ui| {
        ui.add(
            egui::TextEdit::multiline(&mut state.paste_text)
                .code_editor()
                .desired_rows(4)
                .desired_width(f32::INFINITY)
                .hint_text("item,a,b,c\nQ1,1.2,-0.5,0.2"),
        );
        if ui.button("Use the pasted rows").clicked() {
            match parse_pasted_items(&state.paste_text, state.entered_scaling) {
                Ok(items) => {
                    state.entered = items;
                    changed = true;
                }
                Err(error) => {
                    ui.colored_label(ui.visuals().error_fg_color, &error);
                    app.status = error;
                }
            }
        }
    });
    let state = &mut app.prediction;
    if changed {
        state.entered_scores = None;
    }
    ui.horizontal(|ui| {
        let ready = matches!(app.processed.as_ref().map(|p| &p.matrix), Some(Ok(_)));
        if ui
            .add_enabled(
                ready && !state.entered.is_empty(),
                egui::Button::new("Score persons with these parameters"),
            )
            .on_disabled_hover_text("Needs a response matrix whose columns are these items")
            .clicked()
        {
            action = Action::ScoreEntered;
        }
        if ui.button("Show curves").clicked() {
            action = Action::Show(super::Stage::Plots);
        }
    });
    if let Some(scores) = &state.entered_scores {
        person_table_ui(ui, scores);
    }
    action
}

/// Draws the panel.
pub fn prediction_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    if app.prediction.entered_scaling == 0.0 {
        app.prediction.entered_scaling = 1.0;
    }
    ui.horizontal(|ui| {
        ui.heading("Prediction");
        ui.add_space(20.0);
        ui.selectable_value(
            &mut app.prediction.source,
            ParameterSource::Fitted,
            "Fit a model",
        );
        ui.selectable_value(
            &mut app.prediction.source,
            ParameterSource::Entered,
            "Enter parameters",
        );
    });
    ui.separator();
    if app.prediction.source == ParameterSource::Entered {
        return entered_ui(ui, app);
    }
    let fitting = app.jobs.iter().any(|j| j.kind == JobKind::Fit);
    let action = settings_ui(ui, app, fitting);
    if let Some(job) = app.jobs.iter().find(|j| j.kind == JobKind::Fit) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.add(egui::ProgressBar::new(job.fraction.unwrap_or(0.0)).desired_width(240.0));
            ui.monospace(&job.detail);
        });
    }
    if let Some(error) = &app.prediction.fit_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.separator();
    let Some(analysis) = app.prediction.analysis.clone() else {
        ui.weak("No fit yet. Choose the settings and press “Fit model”.");
        return action;
    };
    summary_ui(ui, &analysis);
    ui.separator();
    ui.strong("Items");
    item_table_ui(ui, &mut app.prediction, &analysis);
    ui.separator();
    ui.strong(format!(
        "Persons ({} scoring)",
        analysis.scoring.method.name().to_uppercase()
    ));
    person_table_ui(ui, &analysis.scores);
    action
}
