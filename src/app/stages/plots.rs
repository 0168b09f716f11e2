//! The Plots stage: item (and category) curves of the ticked items with a what-if item driven
//! by sliders for any item type, expected item scores, item and test information (the standard
//! error on a second axis), the test characteristic curve, the θ histogram, observed against
//! fitted proportions with their intervals, and the Wright map. The test curves follow the
//! ticked items. Every plot is a [`crate::plots::Plot`] — the same series the SVG export and
//! the report draw — shown here with egui_plot; the current plot saves as PNG (a crop of the
//! window) or SVG.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eframe::egui;
use egui_plot::{AxisHints, Bar, BarChart, LineStyle, PlotPoint, PlotPoints, Points, Text};

use super::{AppEvent, Level, Named, StageContext, StageId, StagePart, StageStatus};
use crate::app::JobOutput;
use crate::app::commands::Command;
use crate::app::dialogs::DialogPurpose;
use crate::app::jobs::JobQueue;
use crate::app::state::{AppState, Inputs};
use crate::plots::{self, Plot, SeriesStyle};
use crate::prediction::items::IrtForm;
use crate::prediction::{ItemParameters, PersonScore, ResponseMatrix};

/// Which plot is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlotKind {
    /// Item characteristic (and category response) curves.
    #[default]
    ItemCurves,
    /// Expected item scores.
    ExpectedScores,
    /// Item information functions.
    ItemInformation,
    /// Test information with its standard error.
    TestInformation,
    /// Expected sum score over θ.
    TestCharacteristic,
    /// Histogram of θ estimates.
    ThetaHistogram,
    /// Observed proportions in θ groups over an item's curve.
    ObservedFit,
    /// Persons and items on one scale.
    WrightMap,
}

impl PlotKind {
    /// Every plot, in the tabs' order.
    pub const ALL: [PlotKind; 8] = [
        PlotKind::ItemCurves,
        PlotKind::ExpectedScores,
        PlotKind::ItemInformation,
        PlotKind::TestInformation,
        PlotKind::TestCharacteristic,
        PlotKind::ThetaHistogram,
        PlotKind::ObservedFit,
        PlotKind::WrightMap,
    ];

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            PlotKind::ItemCurves => "Item curves",
            PlotKind::ExpectedScores => "Expected scores",
            PlotKind::ItemInformation => "Item information",
            PlotKind::TestInformation => "Test information",
            PlotKind::TestCharacteristic => "Test characteristic curve",
            PlotKind::ThetaHistogram => "θ histogram",
            PlotKind::ObservedFit => "Observed vs fitted",
            PlotKind::WrightMap => "Wright map",
        }
    }

    fn uses_ticked_items(self) -> bool {
        matches!(
            self,
            PlotKind::ItemCurves
                | PlotKind::ExpectedScores
                | PlotKind::ItemInformation
                | PlotKind::TestInformation
                | PlotKind::TestCharacteristic
        )
    }
}

/// A what-if item: an item's IRT form, edited with sliders.
#[derive(Clone, Debug, PartialEq)]
struct WhatIf {
    /// The item it started from.
    base: ItemParameters,
    /// The edited form.
    form: IrtForm,
    /// The last valid item from the form.
    item: ItemParameters,
    /// Why the form is not a valid item, when it is not.
    error: Option<String>,
}

/// Observed proportions last computed, and for what (item, groups, scores).
type ObservedCache = Option<(String, Plot)>;

/// The Plots stage.
pub struct Plots {
    /// The plot shown.
    pub kind: PlotKind,
    /// Items whose curves are drawn.
    pub selected: BTreeSet<String>,
    search: String,
    what_if: Option<WhatIf>,
    fit_item: Option<String>,
    groups: usize,
    theta_range: [f64; 2],
    known_items: Vec<String>,
    png_result: Arc<Mutex<Option<Result<PathBuf, String>>>>,
    plot_rect: Option<egui::Rect>,
    observed_cache: ObservedCache,
    scaling: f64,
}

impl Default for Plots {
    fn default() -> Self {
        Plots {
            kind: PlotKind::ItemCurves,
            selected: BTreeSet::new(),
            search: String::new(),
            what_if: None,
            fit_item: None,
            groups: 10,
            theta_range: [-4.0, 4.0],
            known_items: Vec::new(),
            png_result: Arc::default(),
            plot_rect: None,
            observed_cache: None,
            scaling: 1.0,
        }
    }
}

/// What a plot is drawn from.
pub struct PlotData<'a> {
    /// The item parameters in use.
    pub items: &'a [ItemParameters],
    /// Their scaling D.
    pub scaling: f64,
    /// Person scores, when there are any.
    pub scores: Option<Arc<Vec<PersonScore>>>,
    /// The response matrix the scores belong to.
    pub matrix: Option<Arc<ResponseMatrix>>,
}

impl Plots {
    /// Keeps the ticked items when the item set stays the same; ticks the first ten of a new set.
    pub fn on_new_items(&mut self, items: &[ItemParameters]) {
        let names: Vec<String> = items.iter().map(|i| i.item.clone()).collect();
        if names != self.known_items {
            // Ticked items that are still there stay ticked; new items are ticked up to ten.
            let mut selected: BTreeSet<String> = self
                .selected
                .iter()
                .filter(|n| names.contains(n))
                .cloned()
                .collect();
            for name in names.iter().filter(|n| !self.known_items.contains(n)) {
                if selected.len() >= 10 {
                    break;
                }
                selected.insert(name.clone());
            }
            self.selected = selected;
            if self.fit_item.as_ref().is_none_or(|f| !names.contains(f)) {
                self.fit_item = names.first().cloned();
            }
            self.known_items = names;
            self.observed_cache = None;
        }
    }

    /// The plot for the current choices.
    pub fn current_plot(&mut self, data: &PlotData<'_>) -> Plot {
        let ticked: Vec<ItemParameters> = data
            .items
            .iter()
            .filter(|i| self.selected.contains(&i.item))
            .cloned()
            .collect();
        let range = self.theta_range;
        let of_ticked = |plot: &mut Plot| {
            if ticked.len() < data.items.len() {
                plot.title = format!(
                    "{} ({} of {} items)",
                    plot.title,
                    ticked.len(),
                    data.items.len()
                );
            }
        };
        match self.kind {
            PlotKind::ItemCurves => {
                let mut plot = plots::item_curves(&ticked, range);
                if let Some(what_if) = &self.what_if {
                    let extra = plots::item_curves(std::slice::from_ref(&what_if.item), range);
                    for mut series in extra.series {
                        series.name = series.name.replacen(&what_if.item.item, "what-if", 1);
                        series.style = SeriesStyle::Dashed;
                        series.color = 19;
                        plot.series.push(series);
                    }
                }
                plot
            }
            PlotKind::ExpectedScores => plots::expected_score_curves(&ticked, range),
            PlotKind::ItemInformation => plots::item_information(&ticked, range),
            PlotKind::TestInformation => {
                let mut plot = plots::test_information(&ticked, range);
                of_ticked(&mut plot);
                plot
            }
            PlotKind::TestCharacteristic => {
                let mut plot = plots::test_characteristic(&ticked, range);
                of_ticked(&mut plot);
                plot
            }
            PlotKind::ThetaHistogram => {
                let thetas: Vec<f64> = data
                    .scores
                    .iter()
                    .flat_map(|s| s.iter().filter_map(|p| p.theta))
                    .collect();
                plots::theta_histogram(&thetas, 0.25)
            }
            PlotKind::WrightMap => {
                let thetas: Vec<f64> = data
                    .scores
                    .iter()
                    .flat_map(|s| s.iter().filter_map(|p| p.theta))
                    .collect();
                plots::wright_map(&thetas, data.items, data.scaling)
            }
            PlotKind::ObservedFit => self.observed_plot(data),
        }
    }

    fn observed_plot(&mut self, data: &PlotData<'_>) -> Plot {
        let Some(item) = self
            .fit_item
            .as_ref()
            .and_then(|n| data.items.iter().find(|i| &i.item == n))
        else {
            return Plot::new("Observed vs fitted", "θ", "proportion");
        };
        let key = format!(
            "{} {} {:?} {:?} {:?}",
            item.item,
            self.groups,
            self.theta_range,
            data.scores.as_ref().map(Arc::as_ptr),
            data.matrix.as_ref().map(Arc::as_ptr)
        );
        if let Some((cached, plot)) = &self.observed_cache
            && *cached == key
        {
            return plot.clone();
        }
        let mut pairs = match (&data.scores, &data.matrix) {
            (Some(scores), Some(matrix)) => observed_pairs(matrix, scores, &item.item),
            _ => Vec::new(),
        };
        let plot = plots::observed_vs_fitted(item, &mut pairs, self.groups, self.theta_range);
        self.observed_cache = Some((key, plot.clone()));
        plot
    }
}

/// (θ estimate, response category) of every person who answered `item`. Scores are matched to
/// the matrix's persons by position when they line up, by id otherwise.
fn observed_pairs(matrix: &ResponseMatrix, scores: &[PersonScore], item: &str) -> Vec<(f64, f64)> {
    let Some(column) = matrix.item_names().iter().position(|n| n == item) else {
        return Vec::new();
    };
    if scores.len() == matrix.n_persons()
        && scores
            .iter()
            .zip(matrix.person_ids())
            .all(|(s, id)| s.id == *id)
    {
        return scores
            .iter()
            .enumerate()
            .filter_map(|(person, s)| Some((s.theta?, f64::from(matrix.response(person, column)?))))
            .collect();
    }
    let index_of: std::collections::HashMap<&str, usize> = matrix
        .person_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    scores
        .iter()
        .filter_map(|s| {
            let person = *index_of.get(s.id.as_str())?;
            Some((s.theta?, f64::from(matrix.response(person, column)?)))
        })
        .collect()
}

/// A one-line description of an item's IRT form, for tooltips.
fn describe_item(item: &ItemParameters, scaling: f64) -> String {
    let form = item.irt(scaling);
    let mut parts = vec![item.model.label().to_string()];
    if let Some(a) = form.a {
        parts.push(format!("a = {a:.3}"));
    }
    let b: Vec<String> = form.b.iter().map(|b| format!("{b:.3}")).collect();
    if !b.is_empty() {
        parts.push(format!("b = {}", b.join(", ")));
    }
    if let Some(c) = form.c {
        parts.push(format!("c = {c:.3}"));
    }
    if let Some(u) = form.u {
        parts.push(format!("u = {u:.3}"));
    }
    parts.join(", ")
}

fn color32(index: usize) -> egui::Color32 {
    let [r, g, b] = plots::color(index);
    egui::Color32::from_rgb(r, g, b)
}

/// Draws `plot` with egui_plot; returns the rectangle it took.
pub fn draw_plot(ui: &mut egui::Ui, id: &str, plot: &Plot, height: f32) -> egui::Rect {
    let y_label = plot.y_label.clone();
    let x_label = plot.x_label.clone();
    let mut widget = egui_plot::Plot::new(id)
        .height(height)
        .x_axis_label(plot.x_label.clone())
        .y_axis_label(plot.y_label.clone())
        .label_formatter(move |position| match position {
            egui_plot::HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } if !plot_name.is_empty() => Some(format!(
                "{plot_name}\n{x_label} = {:.2}\n{y_label} = {:.3}",
                position.x, position.y
            )),
            egui_plot::HoverPosition::NearDataPoint { position, .. }
            | egui_plot::HoverPosition::Elsewhere { position } => {
                Some(format!("{:.2}, {:.3}", position.x, position.y))
            }
        });
    if plot.y_from_zero {
        widget = widget.include_y(0.0);
    }
    if plot.y_to_one {
        widget = widget.include_y(1.0);
    }
    if let Some((label, factor)) = plot.secondary.clone() {
        let factor = if factor > 0.0 { factor } else { 1.0 };
        widget = widget.custom_y_axes(vec![
            AxisHints::new_y().label(plot.y_label.clone()),
            AxisHints::new_y()
                .label(label)
                .placement(egui_plot::HPlacement::Right)
                .formatter(move |mark, _| format!("{:.2}", mark.value / factor)),
        ]);
    }
    let series = plot.series.clone();
    let response = widget.show(ui, move |plot_ui| {
        for s in series {
            let color = color32(s.color);
            match s.style {
                SeriesStyle::Line | SeriesStyle::Dashed => {
                    let mut line =
                        egui_plot::Line::new(s.name.clone(), PlotPoints::from(s.points.clone()))
                            .color(color)
                            .width(2.0);
                    if s.style == SeriesStyle::Dashed {
                        line = line.style(LineStyle::dashed_loose());
                    }
                    plot_ui.line(line);
                }
                SeriesStyle::Points => {
                    for (point, interval) in s.points.iter().zip(&s.intervals) {
                        plot_ui.line(
                            egui_plot::Line::new(
                                s.name.clone(),
                                PlotPoints::from(vec![
                                    [point[0], interval[0]],
                                    [point[0], interval[1]],
                                ]),
                            )
                            .color(color)
                            .width(1.5),
                        );
                    }
                    plot_ui.points(
                        Points::new(s.name.clone(), PlotPoints::from(s.points.clone()))
                            .radius(4.0)
                            .color(color),
                    );
                }
                SeriesStyle::Bars(width) => plot_ui.bar_chart(
                    BarChart::new(
                        s.name.clone(),
                        s.points
                            .iter()
                            .map(|p| Bar::new(p[0], p[1]).width(width * 0.95))
                            .collect(),
                    )
                    .color(color),
                ),
                SeriesStyle::HorizontalBars(height) => plot_ui.bar_chart(
                    BarChart::new(
                        s.name.clone(),
                        s.points
                            .iter()
                            .map(|p| Bar::new(p[1], p[0]).width(height * 0.95))
                            .collect(),
                    )
                    .horizontal()
                    .color(color),
                ),
                SeriesStyle::Labels => {
                    for (point, label) in s.points.iter().zip(&s.labels) {
                        plot_ui.text(
                            Text::new(
                                s.name.clone(),
                                PlotPoint::new(point[0], point[1]),
                                egui::RichText::new(label).color(color),
                            )
                            .anchor(egui::Align2::LEFT_CENTER),
                        );
                    }
                }
            }
        }
    });
    response.response.rect
}

/// The legend, below the plot (a legend inside would hide curves of many items).
fn legend_ui(ui: &mut egui::Ui, plot: &Plot) {
    const SHOWN: usize = 40;
    ui.horizontal_wrapped(|ui| {
        let mut seen = BTreeSet::new();
        let mut shown = 0;
        for s in &plot.series {
            if !seen.insert(s.name.clone()) {
                continue;
            }
            if shown == SHOWN {
                ui.weak(format!("… and {} more", plot.series.len() - SHOWN));
                break;
            }
            shown += 1;
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 4.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 1.0, color32(s.color));
            ui.label(&s.name);
            ui.add_space(6.0);
        }
    });
}

fn write_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let [width, height] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    crate::export::write_atomically(path, |file| {
        let mut encoder =
            png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&bytes).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())
}

impl Plots {
    /// Saves the current plot: SVG from the series at once; PNG cropped from the next window
    /// screenshot (reported when written).
    fn save(&mut self, ctx: &mut StageContext<'_>, path: &Path) {
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        let source = ctx.state.document.source_path();
        if crate::export::same_file(path, &source) {
            ctx.send(Command::Notify(
                format!(
                    "{} is the data source; choose another file for the plot",
                    path.display()
                ),
                true,
            ));
            return;
        }
        if is_svg {
            let data = plot_data(ctx.state);
            let plot = self.current_plot(&data.as_ref());
            let svg = plots::svg(&plot);
            let written = crate::export::write_atomically(path, |file| {
                file.write_all(svg.as_bytes()).map_err(|e| e.to_string())
            });
            ctx.send(match written {
                Ok(()) => Command::Notify(format!("Saved {}", path.display()), false),
                Err(e) => Command::Notify(e.to_string(), true),
            });
            return;
        }
        let path = if path.extension().is_none() {
            path.with_extension("png")
        } else {
            path.to_path_buf()
        };
        let rect = self.plot_rect.unwrap_or(egui::Rect::EVERYTHING);
        let result = self.png_result.clone();
        let Some(egui_ctx) = ctx.egui.clone() else {
            ctx.send(Command::Notify(
                "no window to take the picture from".into(),
                true,
            ));
            return;
        };
        let pixels_per_point = egui_ctx.pixels_per_point();
        let repaint = egui_ctx.clone();
        egui_ctx.request_screenshot(move |image| {
            let cropped = image.region(&rect, Some(pixels_per_point));
            let written = write_png(&path, &cropped).map(|_| path);
            if let Ok(mut slot) = result.lock() {
                *slot = Some(written);
            }
            repaint.request_repaint();
        });
    }

    fn controls_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut StageContext<'_>,
        items: &[ItemParameters],
    ) {
        let scaling = self.scaling;
        ui.strong("Items");
        if self.kind.uses_ticked_items() {
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("search items")
                    .desired_width(f32::INFINITY),
            );
            ui.horizontal_wrapped(|ui| {
                if ui.small_button("all").clicked() {
                    self.selected = items.iter().map(|i| i.item.clone()).collect();
                }
                if ui.small_button("none").clicked() {
                    self.selected.clear();
                }
                ui.weak(format!("{} of {} ticked", self.selected.len(), items.len()));
            });
            if matches!(
                self.kind,
                PlotKind::TestInformation | PlotKind::TestCharacteristic
            ) {
                ui.weak("The test curves are those of the ticked items.");
            }
            let search = self.search.to_lowercase();
            egui::ScrollArea::vertical()
                .id_salt("plot item list")
                .max_height(200.0)
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    for item in items
                        .iter()
                        .filter(|i| i.item.to_lowercase().contains(&search))
                    {
                        let mut on = self.selected.contains(&item.item);
                        if ui
                            .checkbox(&mut on, &item.item)
                            .on_hover_text(describe_item(item, scaling))
                            .changed()
                        {
                            if on {
                                self.selected.insert(item.item.clone());
                            } else {
                                self.selected.remove(&item.item);
                            }
                        }
                    }
                });
        } else if self.kind == PlotKind::WrightMap {
            ui.weak("All items: b, or every threshold of a polytomous item.");
        }
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("θ from");
            ui.add(
                egui::DragValue::new(&mut self.theta_range[0])
                    .range(-10.0..=-0.5)
                    .speed(0.1),
            )
            .labelled_by(label.id);
            let label = ui.label("to");
            ui.add(
                egui::DragValue::new(&mut self.theta_range[1])
                    .range(0.5..=10.0)
                    .speed(0.1),
            )
            .labelled_by(label.id);
        });
        match self.kind {
            PlotKind::ItemCurves => self.what_if_ui(ui, items),
            PlotKind::ObservedFit => {
                egui::ComboBox::from_id_salt("observed item")
                    .selected_text(
                        self.fit_item
                            .clone()
                            .unwrap_or_else(|| "choose an item".into()),
                    )
                    .show_ui(ui, |ui| {
                        for item in items {
                            ui.selectable_value(
                                &mut self.fit_item,
                                Some(item.item.clone()),
                                &item.item,
                            );
                        }
                    })
                    .named("Item");
                ui.add(egui::Slider::new(&mut self.groups, 3..=30).text("θ groups"));
                if ctx.state.results.scores().is_none() {
                    ui.weak("Needs person scores: fit a model, or score with entered parameters.");
                }
            }
            _ => {}
        }
        ui.separator();
        if ui
            .button("Save plot as PNG or SVG…")
            .on_hover_text(
                "PNG: the plot as on screen; SVG: drawn from the same series, for papers",
            )
            .clicked()
        {
            ctx.send(Command::Dialog(DialogPurpose::SavePlot));
        }
    }

    /// A what-if item for any item type: start from an item, drag its IRT parameters.
    fn what_if_ui(&mut self, ui: &mut egui::Ui, items: &[ItemParameters]) {
        let scaling = self.scaling;
        let mut on = self.what_if.is_some();
        if ui
            .checkbox(&mut on, "What-if item")
            .on_hover_text(
                "Drag an item's parameters and watch its curves move beside the fitted ones",
            )
            .changed()
        {
            self.what_if = if on {
                items.first().map(|item| what_if_from(item, scaling))
            } else {
                None
            };
        }
        let Some(what_if) = &mut self.what_if else {
            return;
        };
        let mut restart = None;
        egui::ComboBox::from_id_salt("what-if item")
            .selected_text(format!("from {}", what_if.base.item))
            .show_ui(ui, |ui| {
                for item in items {
                    if ui
                        .selectable_label(what_if.base.item == item.item, &item.item)
                        .clicked()
                    {
                        restart = Some(item.clone());
                    }
                }
            })
            .named("What-if item starts from");
        if let Some(item) = restart {
            *what_if = what_if_from(&item, scaling);
        }
        let mut changed = false;
        let form = &mut what_if.form;
        if let Some(a) = &mut form.a {
            changed |= ui.add(egui::Slider::new(a, 0.05..=4.0).text("a")).changed();
        }
        let thresholds = form.b.len();
        for (k, b) in form.b.iter_mut().enumerate() {
            let name = if thresholds == 1 {
                "b".to_string()
            } else {
                format!("b{}", k + 1)
            };
            changed |= ui
                .add(egui::Slider::new(b, -5.0..=5.0).text(name))
                .changed();
        }
        if form.b.is_empty() {
            let intercepts = form.d.len();
            for (k, d) in form.d.iter_mut().enumerate() {
                let name = if intercepts == 1 {
                    "d".to_string()
                } else {
                    format!("d{}", k + 1)
                };
                changed |= ui
                    .add(egui::Slider::new(d, -8.0..=8.0).text(name))
                    .changed();
            }
        }
        if let Some(c) = &mut form.c {
            changed |= ui.add(egui::Slider::new(c, 0.0..=0.5).text("c")).changed();
        }
        if let Some(u) = &mut form.u {
            changed |= ui.add(egui::Slider::new(u, 0.5..=1.0).text("u")).changed();
        }
        if changed {
            match ItemParameters::from_irt(
                "what-if",
                what_if.base.model,
                what_if.base.categories.clone(),
                &what_if.form,
                scaling,
            ) {
                Ok(item) => {
                    what_if.item = item;
                    what_if.error = None;
                }
                Err(error) => what_if.error = Some(error),
            }
        }
        if let Some(error) = &what_if.error {
            ui.colored_label(ui.visuals().warn_fg_color, error);
        }
        if ui.small_button("Reset to the item").clicked() {
            let base = what_if.base.clone();
            *what_if = what_if_from(&base, scaling);
        }
    }
}

fn what_if_from(item: &ItemParameters, scaling: f64) -> WhatIf {
    let mut copy = item.clone();
    copy.item = "what-if".into();
    WhatIf {
        base: item.clone(),
        form: item.irt(scaling),
        item: copy,
        error: None,
    }
}

/// The data of the plots, owned (so the stage can be drawn while the state is borrowed).
pub struct OwnedPlotData {
    items: Vec<ItemParameters>,
    scaling: f64,
    scores: Option<Arc<Vec<PersonScore>>>,
    matrix: Option<Arc<ResponseMatrix>>,
}

impl OwnedPlotData {
    /// Borrowed view.
    pub fn as_ref(&self) -> PlotData<'_> {
        PlotData {
            items: &self.items,
            scaling: self.scaling,
            scores: self.scores.clone(),
            matrix: self.matrix.clone(),
        }
    }
}

/// What the plots are drawn from in `state`: the items in use, their scores and the matrix the
/// scores belong to.
pub fn plot_data(state: &AppState) -> OwnedPlotData {
    let (items, scaling) = state.results.items();
    let matrix = match state.results.source {
        crate::app::state::ParameterSource::Fitted => {
            state.results.fit.as_ref().map(|f| f.matrix.clone())
        }
        crate::app::state::ParameterSource::Entered => state.data.matrix().cloned(),
    };
    OwnedPlotData {
        items,
        scaling,
        scores: state.results.scores(),
        matrix,
    }
}

impl StagePart for Plots {
    fn id(&self) -> StageId {
        StageId::Plots
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, _jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus {
        let (items, _) = state.results.items();
        if items.is_empty() {
            return StageStatus::normal("no item parameters yet");
        }
        let text = format!("{} of {} items ticked", self.selected.len(), items.len());
        if state.results.source == crate::app::state::ParameterSource::Fitted
            && state.results.fit_stale(inputs)
        {
            return StageStatus::at(Level::Warning, format!("{text}; fit out of date"));
        }
        StageStatus::normal(text)
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut StageContext<'_>) {
        match event {
            AppEvent::Opened => {
                self.known_items.clear();
                self.selected.clear();
                self.what_if = None;
                self.observed_cache = None;
            }
            AppEvent::ItemsChanged => {
                let (items, _) = ctx.state.results.items();
                self.on_new_items(&items);
                self.observed_cache = None;
            }
            _ => {}
        }
    }

    fn picked(&mut self, purpose: DialogPurpose, path: &Path, ctx: &mut StageContext<'_>) -> bool {
        if purpose != DialogPurpose::SavePlot {
            return false;
        }
        self.save(ctx, path);
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        if let Some(result) = self.png_result.lock().ok().and_then(|mut r| r.take()) {
            ctx.send(match result {
                Ok(path) => Command::Notify(format!("Saved {}", path.display()), false),
                Err(error) => Command::Notify(error, true),
            });
        }
        let data = plot_data(ctx.state);
        self.scaling = data.scaling;
        self.on_new_items(&data.items);
        ui.horizontal_wrapped(|ui| {
            ui.heading("Plots");
            ui.add_space(12.0);
            for kind in PlotKind::ALL {
                ui.selectable_value(&mut self.kind, kind, kind.label());
            }
        });
        ui.separator();
        if data.items.is_empty() {
            ui.weak(
                "No item parameters yet: fit a model or enter parameters on the Prediction stage.",
            );
            if ui.button("Go to Prediction").clicked() {
                ctx.send(Command::Show(StageId::Prediction));
            }
            return;
        }
        if ctx.state.results.source == crate::app::state::ParameterSource::Fitted
            && ctx.state.results.fit_stale(ctx.inputs)
            && super::stale_banner(
                ui,
                "These curves are from a fit whose data or settings have changed since.",
                "Refit",
            )
        {
            ctx.commands.run(crate::app::commands::CommandId::Fit);
        }
        let items = data.items.clone();
        egui::Panel::right("plot controls")
            .resizable(true)
            .default_size(240.0)
            .min_size(180.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("plot controls scroll")
                    .show(ui, |ui| self.controls_ui(ui, ctx, &items));
            });
        let plot = self.current_plot(&data.as_ref());
        egui::CentralPanel::default().show(ui, |ui| {
            let top = ui.cursor().min;
            if !plot.title.is_empty() {
                ui.strong(&plot.title);
            }
            let legend_height = if plot.series.len() > 12 { 64.0 } else { 40.0 };
            let height = (ui.available_height() - legend_height).max(200.0);
            let rect = draw_plot(ui, "main plot", &plot, height);
            legend_ui(ui, &plot);
            let bottom = ui.cursor().min.y;
            self.plot_rect = Some(egui::Rect::from_min_max(
                egui::pos2(rect.min.x.min(top.x), top.y),
                egui::pos2(rect.max.x, bottom.max(rect.max.y)),
            ));
        });
    }
}
