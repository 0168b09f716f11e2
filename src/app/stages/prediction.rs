//! The Prediction stage: the model — one item type for all items and per-item overrides,
//! priors, anchored items, estimation settings — with "Fit model" and its progress; the fit
//! summary and warnings; the item table (sortable, copyable) and the person table. Or item
//! parameters entered by hand, pasted or loaded, for any item type, to score persons and draw
//! curves without fitting. A fit whose data or settings changed since is shown as out of date,
//! with Refit one click away.

use std::path::Path;

use eframe::egui;

use super::Named;

use super::{AppEvent, Level, StageContext, StageId, StagePart, StageStatus, stale_banner};
use crate::app::JobOutput;
use crate::app::commands::{Command, CommandId, Edit};
use crate::app::dialogs::DialogPurpose;
use crate::app::jobs::{JobKind, JobQueue};
use crate::app::state::{AppState, Inputs, ParameterSource};
use crate::app::table_view::{TableSpec, table_ui};
use crate::prediction::items::IrtForm;
use crate::prediction::{
    Analysis, Guessing, ItemParameters, ItemType, ParameterKind, PersonScore, Prior, PriorSetting,
    ScoringMethod, StandardErrorMethod, tables,
};
use crate::preparation::Source;
use crate::text::count;

/// The Prediction stage.
pub struct Prediction {
    sort: Option<(usize, bool)>,
    paste_text: String,
    paste_error: Option<String>,
    settings_open: bool,
}

impl Default for Prediction {
    fn default() -> Self {
        Prediction {
            sort: None,
            paste_text: String::new(),
            paste_error: None,
            settings_open: true,
        }
    }
}

/// Reads item parameters (an items table: item, model, categories, a, b…, c…; or item, a, b[, c])
/// from a CSV, Parquet or SQLite file; `scaling` is the D of its `a`.
pub fn load_parameter_file(path: &Path, scaling: f64) -> Result<Vec<ItemParameters>, String> {
    let source = Source::for_file(path).map_err(|e| e.to_string())?;
    let frame = source.load(None).map_err(|e| e.to_string())?;
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
                "line {}: expected item, a, b[, c] with numbers, got {}",
                number + 1,
                crate::text::quoted(line)
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

fn fixed(value: f64) -> String {
    format!("{value:.3}")
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), fixed)
}

impl StagePart for Prediction {
    fn id(&self) -> StageId {
        StageId::Prediction
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus {
        if jobs.running(JobKind::Fit) {
            return StageStatus::at(Level::Busy, "fitting…");
        }
        if let Some(error) = &state.results.fit_error {
            return StageStatus::at(Level::Error, error.lines().next().unwrap_or_default());
        }
        match (state.results.source, &state.results.fit) {
            (ParameterSource::Entered, _) => {
                StageStatus::normal(format!("{} entered items", state.results.entered.len()))
            }
            (ParameterSource::Fitted, Some(fit)) => {
                let c = &fit.analysis.calibration;
                if state.results.fit_stale(inputs) {
                    return StageStatus::at(Level::Warning, "out of date: refit");
                }
                StageStatus::at(
                    if c.converged {
                        Level::Normal
                    } else {
                        Level::Warning
                    },
                    format!(
                        "{}, logL {:.1}{}",
                        c.model_label(),
                        c.log_likelihood,
                        if c.converged { "" } else { ", not converged" }
                    ),
                )
            }
            (ParameterSource::Fitted, None) => {
                match state.data.processed.as_ref().map(|p| &p.matrix) {
                    Some(Ok(m)) => StageStatus::normal(format!(
                        "ready: {} × {} items",
                        count(m.n_persons()),
                        m.n_items()
                    )),
                    Some(Err(e)) => {
                        StageStatus::at(Level::Error, e.lines().next().unwrap_or_default())
                    }
                    None => StageStatus::normal("waiting for data"),
                }
            }
        }
    }

    fn on_event(&mut self, event: &AppEvent, _ctx: &mut StageContext<'_>) {
        if matches!(event, AppEvent::Opened) {
            self.sort = None;
        }
    }

    fn picked(&mut self, purpose: DialogPurpose, path: &Path, ctx: &mut StageContext<'_>) -> bool {
        match purpose {
            DialogPurpose::LoadParameters => {
                let scaling = ctx.state.results.entered_scaling.max(1.0);
                match load_parameter_file(path, scaling) {
                    Ok(items) => {
                        ctx.send(Command::Notify(
                            format!("Loaded {} items from {}", items.len(), path.display()),
                            false,
                        ));
                        ctx.send(Command::UseParameters(items, scaling));
                    }
                    Err(error) => ctx.send(Command::Notify(error, true)),
                }
                true
            }
            DialogPurpose::LoadAnchors => {
                let scaling = ctx.state.document.project.model.scaling;
                match load_parameter_file(path, scaling) {
                    Ok(items) => {
                        ctx.send(Command::Notify(
                            format!(
                                "Fixed {} items from {}; fit again to calibrate the others on their scale",
                                items.len(),
                                path.display()
                            ),
                            false,
                        ));
                        ctx.state.document.project.model.fixed_items = items;
                        ctx.edited(Edit::Model);
                    }
                    Err(error) => ctx.send(Command::Notify(error, true)),
                }
                true
            }
            _ => false,
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("Prediction");
            ui.add_space(16.0);
            let source = &mut ctx.state.results.source;
            let before = *source;
            ui.selectable_value(source, ParameterSource::Fitted, "Fit a model");
            ui.selectable_value(source, ParameterSource::Entered, "Enter parameters");
            if *source != before {
                ctx.commands.send(Command::Notify(
                    match source {
                        ParameterSource::Fitted => "Using the fitted parameters".into(),
                        ParameterSource::Entered => "Using the entered parameters".into(),
                    },
                    false,
                ));
            }
        });
        ui.separator();
        if ctx.state.results.source == ParameterSource::Entered {
            self.entered_ui(ui, ctx);
            return;
        }
        let fitting = ctx.jobs.running(JobKind::Fit);
        egui::CollapsingHeader::new("Model settings")
            .default_open(self.settings_open)
            .show(ui, |ui| {
                ui.add_enabled_ui(!fitting, |ui| settings_ui(ui, ctx));
            });
        ui.horizontal_wrapped(|ui| {
            let ready = ctx.state.data.matrix().is_some();
            if fitting {
                if ui.button("Cancel fit").clicked() {
                    ctx.send(Command::Cancel(JobKind::Fit));
                }
            } else if ui
                .add_enabled(ready, egui::Button::new(egui::RichText::new("▶ Fit model").strong()))
                .on_hover_text("Ctrl+Enter")
                .on_disabled_hover_text("Prepare a response matrix first (Preparation and Preprocessing)")
                .clicked()
            {
                ctx.commands.run(CommandId::Fit);
            }
            let mut live = ctx.settings.live_refit;
            if ui
                .checkbox(&mut live, "Refit as the data change")
                .on_hover_text("For data up to 200,000 responses: refit in the background whenever a step or setting changes, and the curves follow")
                .changed()
            {
                ctx.commands.run(CommandId::LiveRefit);
            }
            if let Some(Err(error)) = ctx.state.data.processed.as_ref().map(|p| &p.matrix) {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
        if let Some(job) = ctx.jobs.get(JobKind::Fit) {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.add(egui::ProgressBar::new(job.fraction.unwrap_or(0.0)).desired_width(240.0));
                ui.monospace(&job.detail);
            });
        }
        if let Some(error) = &ctx.state.results.fit_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        let Some(fit) = ctx.state.results.fit.clone() else {
            ui.weak("No fit yet. Choose the settings and press “Fit model”.");
            return;
        };
        if ctx.state.results.fit_stale(ctx.inputs) {
            let persons_now = ctx.state.data.matrix().map(|m| m.n_persons());
            let text = match persons_now {
                Some(now)
                    if now
                        != fit.analysis.calibration.n_persons
                            + fit.analysis.calibration.n_persons_without_responses =>
                {
                    format!(
                        "Out of date: this fit used {} persons; the data now have {}.",
                        count(fit.analysis.calibration.n_persons),
                        count(now)
                    )
                }
                _ => "Out of date: the data or the settings changed since this fit.".to_string(),
            };
            if stale_banner(ui, &text, "Refit") {
                ctx.commands.run(CommandId::Fit);
            }
        }
        summary_ui(ui, &fit.analysis);
        ui.separator();
        ui.strong("Items");
        self.item_table_ui(ui, ctx, &fit.analysis);
        ui.separator();
        ui.strong(format!(
            "Persons ({} scoring)",
            fit.analysis.scoring.method.name().to_uppercase()
        ));
        let height = super::fill_height(ui, 220.0);
        person_table_ui(ui, &fit.scores, height);
    }
}

fn prior_label(prior: Option<Prior>) -> String {
    prior.map_or_else(|| "none".to_string(), |p| p.to_string())
}

/// The model and estimation settings.
fn settings_ui(ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
    let mut changed = false;
    let item_names: Vec<String> = ctx
        .state
        .data
        .matrix()
        .map(|m| m.item_names().to_vec())
        .unwrap_or_default();
    let settings = &mut ctx.state.document.project.model;
    egui::Grid::new("model settings")
        .num_columns(4)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.label("Item type (all items)")
                .on_hover_text("The model of every item without its own type below");
            egui::ComboBox::new("model", "")
                .selected_text(settings.model.label())
                .show_ui(ui, |ui| {
                    for model in ItemType::ALL {
                        changed |= ui
                            .selectable_value(&mut settings.model, model, model.label())
                            .on_hover_text(model.description())
                            .changed();
                    }
                })
.named("Item type (all items)")
                .response
                .on_hover_text(settings.model.description());
            ui.label("Scaling D")
                .on_hover_text("1 for the logistic metric; 1.702 puts a on the normal-ogive metric.");
            ui.horizontal(|ui| {
                changed |= ui.radio_value(&mut settings.scaling, 1.0, "1").changed();
                changed |= ui.radio_value(&mut settings.scaling, 1.702, "1.702").changed();
            });
            ui.end_row();
            ui.label("Quadrature points");
            changed |= ui
                .add(egui::DragValue::new(&mut settings.quadrature_points).range(5..=401))
                .on_hover_text("Nodes on [−6, 6] over which the ability distribution is integrated (mirt uses 61)")
                .changed();
            ui.label("Tolerance");
            changed |= ui
                .add(
                    egui::DragValue::new(&mut settings.tolerance)
                        .range(1e-8..=0.1)
                        .speed(1e-5)
                        .max_decimals(8),
                )
                .on_hover_text("EM stops when no parameter, nor the log-likelihood, changes by more than this in a cycle")
                .changed();
            ui.end_row();
            ui.label("Max cycles");
            changed |= ui
                .add(egui::DragValue::new(&mut settings.max_cycles).range(1..=100_000))
                .on_hover_text("EM gives up (and says so) after this many cycles")
                .changed();
            ui.label("Scoring");
            let scoring = &mut ctx.state.document.project.scoring;
            egui::ComboBox::new("scoring", "")
                .selected_text(scoring.name().to_uppercase())
                .show_ui(ui, |ui| {
                    for method in ScoringMethod::ALL {
                        changed |= ui
                            .selectable_value(scoring, method, method.name().to_uppercase())
                            .changed();
                    }
                })
.named("Scoring method")
                .response
                .on_hover_text("EAP: posterior mean (always finite). MAP: posterior mode. ML: likelihood maximum (undefined for all-correct or all-wrong). WLE: Warm's weighted likelihood.");
            ui.end_row();
            ui.label("Standard errors");
            ui.horizontal(|ui| {
                for method in StandardErrorMethod::ALL {
                    changed |= ui
                        .radio_value(&mut settings.standard_errors, method, method.label())
                        .changed();
                }
            })
            .response
            .on_hover_text("Observed information: exact (analytic where the item types allow). Cross-product: quicker, a little noisier. None: skip them.");
            ui.label("Acceleration");
            changed |= ui
                .checkbox(&mut settings.acceleration, "SQUAREM")
                .on_hover_text("SQUAREM extrapolation: the same estimates in fewer EM cycles")
                .changed();
            ui.end_row();
            let uses_guessing = settings
                .types_in_use()
                .iter()
                .any(|t| matches!(t, ItemType::ThreePl | ItemType::FourPl));
            if uses_guessing {
                ui.label("Guessing c").on_hover_text("Estimate c (with its prior below), or fix it for every item.");
                let mut is_fixed = matches!(settings.guessing, Guessing::Fixed { .. });
                ui.horizontal(|ui| {
                    if ui.radio(!is_fixed, "estimated").clicked() && is_fixed {
                        settings.guessing = Guessing::default();
                        is_fixed = false;
                        changed = true;
                    }
                    if ui.radio(is_fixed, "fixed at").clicked() && !is_fixed {
                        settings.guessing = Guessing::Fixed { value: 0.2 };
                        changed = true;
                    }
                    if let Guessing::Fixed { value } = &mut settings.guessing {
                        changed |= ui
                            .add(egui::DragValue::new(value).range(0.0..=0.95).speed(0.01))
                            .on_hover_text("The fixed value of c")
                            .changed();
                    }
                });
                ui.end_row();
            }
        });
    // Priors, per kind of parameter.
    ui.collapsing("Priors (MAP estimation of item parameters)", |ui| {
        egui::Grid::new("priors").num_columns(2).show(ui, |ui| {
            for kind in [
                ParameterKind::Slope,
                ParameterKind::Intercept,
                ParameterKind::LowerAsymptote,
                ParameterKind::UpperAsymptote,
            ] {
                let current = settings.prior_for(kind, "");
                ui.label(match kind {
                    ParameterKind::Slope => "slopes a",
                    ParameterKind::Intercept => "intercepts d",
                    ParameterKind::LowerAsymptote => "guessing c",
                    _ => "upper asymptote u",
                });
                egui::ComboBox::new(format!("prior {}", kind.name()), "")
                    .selected_text(prior_label(current))
                    .show_ui(ui, |ui| {
                        let choices: Vec<Option<Prior>> = match kind {
                            ParameterKind::Slope => vec![
                                None,
                                Some(Prior::Lognormal {
                                    meanlog: 0.0,
                                    sdlog: 0.5,
                                }),
                                Some(Prior::Lognormal {
                                    meanlog: 0.0,
                                    sdlog: 1.0,
                                }),
                            ],
                            ParameterKind::Intercept => vec![
                                None,
                                Some(Prior::Normal { mean: 0.0, sd: 2.0 }),
                                Some(Prior::Normal { mean: 0.0, sd: 4.0 }),
                            ],
                            ParameterKind::LowerAsymptote => vec![
                                None,
                                Some(Prior::Beta {
                                    alpha: 5.0,
                                    beta: 17.0,
                                }),
                                Some(Prior::Beta {
                                    alpha: 2.0,
                                    beta: 10.0,
                                }),
                            ],
                            _ => vec![
                                None,
                                Some(Prior::Beta {
                                    alpha: 17.0,
                                    beta: 5.0,
                                }),
                                Some(Prior::Beta {
                                    alpha: 10.0,
                                    beta: 2.0,
                                }),
                            ],
                        };
                        for choice in choices {
                            if ui
                                .selectable_label(current == choice, prior_label(choice))
                                .clicked()
                            {
                                settings
                                    .priors
                                    .retain(|p| p.parameter != kind || p.item.is_some());
                                settings.priors.push(PriorSetting {
                                    parameter: kind,
                                    item: None,
                                    prior: choice,
                                });
                                changed = true;
                            }
                        }
                    })
                    .named(&format!("Prior on the {}", kind.name()))
                    .response
                    .on_hover_text("The prior on this kind of parameter for every item");
                ui.end_row();
            }
        });
    });
    // Per-item types.
    ui.collapsing(
        format!(
            "Item types ({} of {} items with their own type)",
            settings.item_models.len(),
            item_names.len()
        ),
        |ui| {
            if item_names.is_empty() {
                ui.weak("No response matrix yet.");
            }
            egui::ScrollArea::vertical()
                .id_salt("item types")
                .max_height(200.0)
                .show(ui, |ui| {
                    egui::Grid::new("item types grid")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            for name in &item_names {
                                ui.label(name);
                                let current = settings.item_models.get(name).copied();
                                let text = match current {
                                    Some(t) => t.label().to_string(),
                                    None => format!("(all items: {})", settings.model.label()),
                                };
                                egui::ComboBox::new(format!("type of {name}"), "")
                                    .selected_text(text)
                                    .show_ui(ui, |ui| {
                                        if ui
                                            .selectable_label(current.is_none(), "(as all items)")
                                            .clicked()
                                        {
                                            settings.item_models.remove(name);
                                            changed = true;
                                        }
                                        for model in ItemType::ALL {
                                            if ui
                                                .selectable_label(
                                                    current == Some(model),
                                                    model.label(),
                                                )
                                                .on_hover_text(model.description())
                                                .clicked()
                                            {
                                                settings.item_models.insert(name.clone(), model);
                                                changed = true;
                                            }
                                        }
                                    })
                                    .named(&format!("Item type of {name}"))
                                    .response
                                    .on_hover_text(format!("The item type of {name}"));
                                ui.end_row();
                            }
                        });
                });
            if !settings.item_models.is_empty() && ui.button("Clear the per-item types").clicked() {
                settings.item_models.clear();
                changed = true;
            }
        },
    );
    // Anchors.
    ui.horizontal_wrapped(|ui| {
        ui.label("Fixed (anchored) items:");
        if settings.fixed_items.is_empty() {
            ui.weak("none");
        } else {
            ui.label(format!(
                "{} items fixed; the others are calibrated on their scale, with the latent mean and variance estimated",
                settings.fixed_items.len()
            ));
            if ui.button("Clear").clicked() {
                settings.fixed_items.clear();
                changed = true;
            }
        }
        if ui
            .button("Fix these items' parameters…")
            .on_hover_text("Load an items table (CSV, Parquet or SQLite) and fix those items")
            .clicked()
        {
            ctx.commands.send(Command::Dialog(DialogPurpose::LoadAnchors));
        }
    });
    if changed {
        ctx.commands.send(Command::Edited(Edit::Model));
    }
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
            ui.label("Model");
            ui.monospace(c.model_label());
            ui.label("Log-likelihood");
            ui.monospace(format!("{:.3}", c.log_likelihood));
            ui.label("Parameters");
            ui.monospace(c.parameters.to_string());
            ui.end_row();
            ui.label("AIC");
            ui.monospace(format!("{:.2}", c.aic));
            ui.label("BIC");
            ui.monospace(format!("{:.2}", c.bic));
            ui.label("EM cycles");
            ui.monospace(format!(
                "{}{}",
                c.cycles,
                if c.converged {
                    ", converged"
                } else {
                    ", not converged"
                }
            ));
            ui.end_row();
            ui.label("Persons");
            ui.monospace(count(c.n_persons));
            ui.label("Patterns");
            ui.monospace(count(c.n_patterns));
            ui.label("Cronbach's α");
            ui.monospace(match analysis.classical.cronbach_alpha {
                Some(a) => format!(
                    "{a:.3} ({} complete cases)",
                    count(analysis.classical.alpha_persons)
                ),
                None => "–".into(),
            });
            ui.end_row();
            if c.latent_variance != 1.0 || c.latent_mean != 0.0 {
                ui.label("Latent mean");
                ui.monospace(format!("{:.4}", c.latent_mean));
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

impl Prediction {
    fn item_table_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut StageContext<'_>,
        analysis: &Analysis,
    ) {
        let c = &analysis.calibration;
        let stats = |name: &str| analysis.classical.items.iter().find(|s| s.item == name);
        let headers: Vec<String> = [
            "item",
            "type",
            "categories",
            "a",
            "b",
            "c",
            "u",
            "SE a",
            "SE b",
            "p-value",
            "n",
            "item–rest r",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let key = |i: usize, column: usize| -> f64 {
            let item = &c.items[i];
            match column {
                3 => item.a(),
                4 => item.b(),
                5 => item.c(),
                9 => stats(&item.item)
                    .and_then(|s| s.p_value)
                    .unwrap_or(f64::NAN),
                11 => stats(&item.item)
                    .and_then(|s| s.item_rest_r)
                    .unwrap_or(f64::NAN),
                _ => i as f64,
            }
        };
        let mut order: Vec<usize> = (0..c.items.len()).collect();
        if let Some((column, descending)) = self.sort {
            order.sort_by(|&x, &y| key(x, column).total_cmp(&key(y, column)));
            if descending {
                order.reverse();
            }
        }
        let cell = |r: usize, column: usize| -> String {
            let item = &c.items[order[r]];
            let s = stats(&item.item);
            match column {
                0 => item.item.clone(),
                1 => item.model.label().to_string() + if item.anchored { " (fixed)" } else { "" },
                2 => item.categories.join(" "),
                3 => optional(item.irt.a),
                4 => item
                    .irt
                    .b
                    .iter()
                    .map(|b| fixed(*b))
                    .collect::<Vec<_>>()
                    .join(" "),
                5 => optional(item.irt.c),
                6 => optional(item.irt.u),
                7 => optional(item.a_se()),
                8 => item
                    .irt_se
                    .b
                    .iter()
                    .map(|b| optional(*b))
                    .collect::<Vec<_>>()
                    .join(" "),
                9 => optional(s.and_then(|s| s.p_value)),
                10 => s.map_or("–".into(), |s| s.n.to_string()),
                _ => optional(s.and_then(|s| s.item_rest_r)),
            }
        };
        let response = table_ui(
            ui,
            TableSpec {
                id: "item table",
                headers,
                subheaders: Vec::new(),
                rows: order.len(),
                cell: &cell,
                row_color: None,
                highlight: &[],
                sortable: Some(&[0, 3, 4, 5, 9, 11]),
                sort: self.sort,
                row_numbers: false,
                max_height: 260.0,
            },
        );
        if let Some(column) = response.sort_clicked {
            self.sort = match self.sort {
                Some((c, false)) if c == column => Some((column, true)),
                Some((c, true)) if c == column && column == 0 => None,
                _ => Some((column, false)),
            };
        }
        for excluded in &c.excluded_items {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} left out: {}", excluded.item, excluded.reason),
            );
        }
        let _ = ctx;
    }

    fn entered_ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        let results = &mut ctx.state.results;
        let mut changed = false;
        ui.horizontal_wrapped(|ui| {
            ui.label("Scaling D of a");
            changed |= ui
                .radio_value(&mut results.entered_scaling, 1.0, "1")
                .changed();
            changed |= ui
                .radio_value(&mut results.entered_scaling, 1.702, "1.702")
                .changed();
            if ui
                .button("Load from a file…")
                .on_hover_text(
                    "An items table (CSV, Parquet or SQLite): item, model, categories, a, b…, c",
                )
                .clicked()
            {
                ctx.commands
                    .send(Command::Dialog(DialogPurpose::LoadParameters));
            }
            if let Some(fit) = &results.fit
                && ui.button("Copy the fitted parameters").clicked()
            {
                results.entered = fit.analysis.calibration.item_parameters();
                results.entered_scaling = fit.analysis.calibration.settings.scaling;
                changed = true;
            }
        });
        let scaling = results.entered_scaling.max(1.0);
        let mut remove = None;
        egui::ScrollArea::both()
            .id_salt("entered items")
            .max_height(280.0)
            .show(ui, |ui| {
                egui::Grid::new("entered items")
                    .num_columns(6)
                    .striped(true)
                    .show(ui, |ui| {
                        for header in ["item", "type", "a", "b (thresholds)", "c", ""] {
                            ui.strong(header);
                        }
                        ui.end_row();
                        for (index, item) in results.entered.iter_mut().enumerate() {
                            changed |= ui
                                .add(
                                    egui::TextEdit::singleline(&mut item.item).desired_width(100.0),
                                )
                                .on_hover_text("Item name")
                                .changed();
                            // The type: changing it keeps a and the thresholds where they apply.
                            let mut model = item.model;
                            egui::ComboBox::new(format!("entered type {index}"), "")
                                .selected_text(model.label())
                                .show_ui(ui, |ui| {
                                    for t in ItemType::ALL {
                                        let fits =
                                            t.model().check_categories(item.n_categories()).is_ok();
                                        ui.add_enabled_ui(fits, |ui| {
                                            ui.selectable_value(&mut model, t, t.label());
                                        });
                                    }
                                })
                                .named("Item type")
                                .response
                                .on_hover_text("Item type");
                            let mut form = item.irt(scaling);
                            let mut edited = model != item.model;
                            let mut a = form.a.unwrap_or(1.0);
                            edited |= ui
                                .add(egui::DragValue::new(&mut a).speed(0.01).range(-10.0..=10.0))
                                .on_hover_text("Discrimination a")
                                .changed();
                            ui.horizontal(|ui| {
                                for (k, b) in form.b.iter_mut().enumerate() {
                                    edited |= ui
                                        .add(
                                            egui::DragValue::new(b).speed(0.01).range(-10.0..=10.0),
                                        )
                                        .on_hover_text(format!("Threshold b{}", k + 1))
                                        .changed();
                                }
                            });
                            if let Some(c) = form.c.as_mut() {
                                edited |= ui
                                    .add(egui::DragValue::new(c).speed(0.005).range(0.0..=0.95))
                                    .on_hover_text("Guessing c")
                                    .changed();
                            } else {
                                ui.weak("–");
                            }
                            if ui
                                .small_button("✕")
                                .on_hover_text("Remove this item")
                                .clicked()
                            {
                                remove = Some(index);
                            }
                            ui.end_row();
                            if edited {
                                form.a = Some(a);
                                form.d.clear();
                                if model.is_dichotomous()
                                    && form.c.is_none()
                                    && model == ItemType::ThreePl
                                {
                                    form.c = Some(0.2);
                                }
                                if let Ok(new) = ItemParameters::from_irt(
                                    item.item.clone(),
                                    model,
                                    item.categories.clone(),
                                    &IrtForm {
                                        c: if matches!(model, ItemType::ThreePl | ItemType::FourPl)
                                        {
                                            form.c.or(Some(0.2))
                                        } else {
                                            None
                                        },
                                        u: if model == ItemType::FourPl {
                                            form.u.or(Some(0.95))
                                        } else {
                                            None
                                        },
                                        ..form
                                    },
                                    scaling,
                                ) {
                                    *item = new;
                                    changed = true;
                                }
                            }
                        }
                    });
            });
        if let Some(index) = remove {
            results.entered.remove(index);
            changed = true;
        }
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("+ item")
                .on_hover_text("A right/wrong (2PL) item")
                .clicked()
            {
                let n = results.entered.len() + 1;
                results.entered.push(ItemParameters::dichotomous(
                    format!("item{n}"),
                    1.0,
                    0.0,
                    0.0,
                    1.0,
                ));
                changed = true;
            }
            if ui
                .button("+ ordered item")
                .on_hover_text("A generalised partial credit item with four categories")
                .clicked()
            {
                let n = results.entered.len() + 1;
                if let Ok(item) = ItemParameters::from_irt(
                    format!("item{n}"),
                    ItemType::Gpcm,
                    (0..4).map(|k| k.to_string()).collect(),
                    &IrtForm {
                        a: Some(1.0),
                        b: vec![-1.0, 0.0, 1.0],
                        ..IrtForm::default()
                    },
                    scaling,
                ) {
                    results.entered.push(item);
                    changed = true;
                }
            }
        });
        ui.collapsing("Paste a table (item, a, b[, c] per line)", |ui| {
            ui.add(
                egui::TextEdit::multiline(&mut self.paste_text)
                    .code_editor()
                    .desired_rows(4)
                    .desired_width(f32::INFINITY)
                    .hint_text("item,a,b,c\nQ1,1.2,-0.5,0.2"),
            );
            if ui.button("Use the pasted rows").clicked() {
                match parse_pasted_items(&self.paste_text, scaling) {
                    Ok(items) => {
                        results.entered = items;
                        self.paste_error = None;
                        changed = true;
                    }
                    Err(error) => self.paste_error = Some(error),
                }
            }
            if let Some(error) = &self.paste_error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
        if changed {
            results.entered_scores = None;
            ctx.commands.send(Command::UseParameters(
                results.entered.clone(),
                results.entered_scaling,
            ));
        }
        let results = &ctx.state.results;
        ui.horizontal_wrapped(|ui| {
            let ready = ctx.state.data.matrix().is_some();
            if ui
                .add_enabled(
                    ready && !results.entered.is_empty(),
                    egui::Button::new("Score persons with these parameters"),
                )
                .on_disabled_hover_text("Needs a response matrix whose columns are these items")
                .clicked()
            {
                ctx.commands.send(Command::ScoreEntered);
            }
            if ui.button("Show curves").clicked() {
                ctx.commands.send(Command::Show(StageId::Plots));
            }
        });
        if let Some((scores, inputs)) = &results.entered_scores {
            if *inputs != ctx.inputs.data
                && stale_banner(
                    ui,
                    "Out of date: the data changed since these scores.",
                    "Score again",
                )
            {
                ctx.commands.send(Command::ScoreEntered);
            }
            let height = super::fill_height(ui, 200.0);
            person_table_ui(ui, scores, height);
        }
    }
}

/// A virtualised, copyable table of person scores.
pub fn person_table_ui(ui: &mut egui::Ui, scores: &[PersonScore], max_height: f32) {
    let headers: Vec<String> = ["id", "θ", "SE", "answered", "sum score"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cell = |r: usize, c: usize| -> String {
        let score = &scores[r];
        match c {
            0 => score.id.clone(),
            1 => match (score.theta, score.flag) {
                (Some(t), _) => fixed(t),
                (None, Some(flag)) => format!("– ({})", flag.describe()),
                (None, None) => "–".into(),
            },
            2 => optional(score.theta_se),
            3 => score.n_answered.to_string(),
            _ => score.sum_score.to_string(),
        }
    };
    table_ui(
        ui,
        TableSpec {
            id: "person table",
            headers,
            subheaders: Vec::new(),
            rows: scores.len(),
            cell: &cell,
            row_color: None,
            highlight: &[],
            sortable: None,
            sort: None,
            row_numbers: false,
            max_height,
        },
    );
}
