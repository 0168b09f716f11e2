//! The Plots panel (egui_plot): item characteristic curves of chosen items, a what-if curve
//! driven by sliders, item and test information (with the standard error on a second axis), the
//! test characteristic curve, a histogram of θ estimates and observed proportions correct over a
//! fitted curve. The current plot saves as PNG (a crop of the window) or SVG (drawn from the
//! same series).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eframe::egui;
use egui_plot::{AxisHints, Bar, BarChart, Legend, Line, Plot, PlotPoints, Points};

use super::{Action, DialogPurpose, IrtlabApp};
use crate::prediction::model::{self, ItemParameters};

/// Which plot is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlotKind {
    /// Item characteristic curves.
    #[default]
    Icc,
    /// Item information functions.
    ItemInformation,
    /// Test information with its standard error.
    TestInformation,
    /// Expected sum score over θ.
    TestCharacteristic,
    /// Histogram of θ estimates.
    ThetaHistogram,
    /// Observed proportions correct in θ groups over an item's curve.
    ObservedFit,
}

impl PlotKind {
    const ALL: [PlotKind; 6] = [
        PlotKind::Icc,
        PlotKind::ItemInformation,
        PlotKind::TestInformation,
        PlotKind::TestCharacteristic,
        PlotKind::ThetaHistogram,
        PlotKind::ObservedFit,
    ];

    fn label(self) -> &'static str {
        match self {
            PlotKind::Icc => "Item curves",
            PlotKind::ItemInformation => "Item information",
            PlotKind::TestInformation => "Test information",
            PlotKind::TestCharacteristic => "Test characteristic curve",
            PlotKind::ThetaHistogram => "θ histogram",
            PlotKind::ObservedFit => "Observed vs fitted",
        }
    }
}

/// State of the plots panel.
#[derive(Clone, Debug)]
pub struct PlotsState {
    /// The plot shown.
    pub kind: PlotKind,
    /// Items whose curves are drawn.
    pub selected: BTreeSet<String>,
    /// Filter of the item list.
    pub search: String,
    /// Draw the what-if curve.
    pub what_if: bool,
    /// The item the what-if curve starts from (`None`: a free custom item).
    pub what_if_item: Option<String>,
    /// What-if a, b, c.
    pub what_if_params: [f64; 3],
    /// The item of the observed-vs-fitted plot.
    pub fit_item: Option<String>,
    /// Number of θ groups for observed proportions.
    pub groups: usize,
    /// θ range drawn.
    pub theta_range: [f64; 2],
    known_items: Vec<String>,
    png_result: Arc<Mutex<Option<Result<PathBuf, String>>>>,
    plot_rect: Option<egui::Rect>,
    observed_cache: Arc<Mutex<Option<ObservedCache>>>,
}

/// Observed proportions last computed, and for what (item, groups, scores).
type ObservedCache = (String, Option<Vec<[f64; 2]>>);

impl Default for PlotsState {
    fn default() -> Self {
        PlotsState {
            kind: PlotKind::Icc,
            selected: BTreeSet::new(),
            search: String::new(),
            what_if: false,
            what_if_item: None,
            what_if_params: [1.0, 0.0, 0.0],
            fit_item: None,
            groups: 10,
            theta_range: [-4.0, 4.0],
            known_items: Vec::new(),
            png_result: Arc::default(),
            plot_rect: None,
            observed_cache: Arc::default(),
        }
    }
}

impl PlotsState {
    /// Resets the selection when a new set of items arrives (the first ten are shown).
    pub fn on_new_items(&mut self, items: &[ItemParameters]) {
        let names: Vec<String> = items.iter().map(|i| i.item.clone()).collect();
        if names != self.known_items {
            self.selected = names.iter().take(10).cloned().collect();
            self.fit_item = names.first().cloned();
            self.known_items = names;
        }
    }
}

/// One drawn series, shared by the on-screen plot and the SVG export.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<[f64; 2]>,
    /// How it is drawn.
    pub style: SeriesStyle,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeriesStyle {
    /// A line.
    Line,
    /// A dashed line.
    Dashed,
    /// Markers.
    Points,
    /// Bars of the given width.
    Bars(f64),
}

fn grid(range: [f64; 2]) -> Vec<f64> {
    let steps = 200;
    (0..=steps)
        .map(|k| range[0] + (range[1] - range[0]) * k as f64 / steps as f64)
        .collect()
}

/// The series of the current plot, and the y-axis label.
pub fn plot_series(app: &IrtlabApp) -> (Vec<Series>, &'static str, Option<f64>) {
    let (items, scaling) = app.current_items();
    let state = &app.plots;
    let thetas = grid(state.theta_range);
    let chosen: Vec<&ItemParameters> = items
        .iter()
        .filter(|i| state.selected.contains(&i.item))
        .collect();
    let curve = |name: String, f: &dyn Fn(f64) -> f64, style| Series {
        name,
        points: thetas.iter().map(|&t| [t, f(t)]).collect(),
        style,
    };
    let mut series = Vec::new();
    let mut secondary = None;
    let y_label = match state.kind {
        PlotKind::Icc => {
            for item in &chosen {
                series.push(curve(
                    item.item.clone(),
                    &|t| item.probability(t),
                    SeriesStyle::Line,
                ));
            }
            if state.what_if {
                let [a, b, c] = state.what_if_params;
                let name = match &state.what_if_item {
                    Some(item) => format!("{item} (what-if)"),
                    None => "custom item".into(),
                };
                let what_if = ItemParameters::dichotomous("what-if", a, b, c, scaling);
                series.push(curve(
                    name,
                    &|t| what_if.probability(t),
                    SeriesStyle::Dashed,
                ));
            }
            "P(correct | θ)"
        }
        PlotKind::ItemInformation => {
            for item in &chosen {
                series.push(curve(
                    item.item.clone(),
                    &|t| item.information(t),
                    SeriesStyle::Line,
                ));
            }
            "information"
        }
        PlotKind::TestInformation => {
            let info = curve(
                "test information".into(),
                &|t| model::test_information(&items, t),
                SeriesStyle::Line,
            );
            let max_info = info.points.iter().map(|p| p[1]).fold(0.0f64, f64::max);
            let se: Vec<[f64; 2]> = thetas
                .iter()
                .filter_map(|&t| model::conditional_se(&items, t).map(|s| [t, s]))
                .collect();
            // The SE is drawn on the information axis scaled so that its range fits; the
            // right-hand axis shows the SE values.
            let max_se = se
                .iter()
                .map(|p| p[1])
                .filter(|s| *s < 10.0)
                .fold(0.0f64, f64::max);
            let factor = if max_se > 0.0 && max_info > 0.0 {
                max_info / max_se
            } else {
                1.0
            };
            series.push(info);
            series.push(Series {
                name: "standard error (right axis)".into(),
                points: se
                    .iter()
                    .filter(|p| p[1] * factor <= max_info * 1.05)
                    .map(|p| [p[0], p[1] * factor])
                    .collect(),
                style: SeriesStyle::Dashed,
            });
            secondary = Some(factor);
            "information"
        }
        PlotKind::TestCharacteristic => {
            series.push(curve(
                "expected sum score".into(),
                &|t| model::expected_score(&items, t),
                SeriesStyle::Line,
            ));
            "expected sum score"
        }
        PlotKind::ThetaHistogram => {
            if let Some(scores) = app.current_scores() {
                let thetas: Vec<f64> = scores.iter().filter_map(|s| s.theta).collect();
                let width = 0.25;
                let mut counts = std::collections::BTreeMap::new();
                for t in &thetas {
                    *counts.entry((t / width).floor() as i64).or_insert(0usize) += 1;
                }
                series.push(Series {
                    name: format!("θ estimates (n = {})", thetas.len()),
                    points: counts
                        .into_iter()
                        .map(|(k, n)| [(k as f64 + 0.5) * width, n as f64])
                        .collect(),
                    style: SeriesStyle::Bars(width),
                });
            }
            "persons"
        }
        PlotKind::ObservedFit => {
            if let Some(item) = state
                .fit_item
                .as_ref()
                .and_then(|n| items.iter().find(|i| &i.item == n))
            {
                series.push(curve(
                    format!("{} fitted", item.item),
                    &|t| item.probability(t),
                    SeriesStyle::Line,
                ));
                if let Some(points) = observed_proportions(app, &item.item) {
                    series.push(Series {
                        name: format!("{} observed (θ groups)", item.item),
                        points,
                        style: SeriesStyle::Points,
                    });
                }
            }
            "P(correct | θ)"
        }
    };
    (series, y_label, secondary)
}

/// Mean θ and proportion correct of `item` in equal-size θ groups (cached: sorting a million
/// scores every frame would cost frames).
fn observed_proportions(app: &IrtlabApp, item: &str) -> Option<Vec<[f64; 2]>> {
    let scores = app.current_scores()?;
    let key = format!("{item} {} {:p}", app.plots.groups, Arc::as_ptr(&scores));
    if let Ok(cache) = app.plots.observed_cache.lock()
        && let Some((cached_key, points)) = cache.as_ref()
        && *cached_key == key
    {
        return points.clone();
    }
    let points = compute_observed_proportions(app, &scores, item);
    if let Ok(mut cache) = app.plots.observed_cache.lock() {
        *cache = Some((key, points.clone()));
    }
    points
}

fn compute_observed_proportions(
    app: &IrtlabApp,
    scores: &[crate::prediction::PersonScore],
    item: &str,
) -> Option<Vec<[f64; 2]>> {
    let matrix = app.processed.as_ref()?.matrix.as_ref().ok()?.clone();
    let column = matrix.item_names().iter().position(|n| n == item)?;
    let index_of: std::collections::HashMap<&str, usize> = matrix
        .person_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut pairs: Vec<(f64, f64)> = scores
        .iter()
        .filter_map(|s| {
            let theta = s.theta?;
            let person = *index_of.get(s.id.as_str())?;
            matrix
                .response(person, column)
                .map(|x| (theta, f64::from(x)))
        })
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let groups = app.plots.groups.clamp(2, 50).min(pairs.len());
    Some(
        (0..groups)
            .map(|g| {
                let lo = g * pairs.len() / groups;
                let hi = (g + 1) * pairs.len() / groups;
                let chunk = &pairs[lo..hi.max(lo + 1)];
                let n = chunk.len() as f64;
                [
                    chunk.iter().map(|p| p.0).sum::<f64>() / n,
                    chunk.iter().map(|p| p.1).sum::<f64>() / n,
                ]
            })
            .collect(),
    )
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
    parts.join(", ")
}

fn controls_ui(ui: &mut egui::Ui, app: &mut IrtlabApp, items: &[ItemParameters]) -> Action {
    let scaling = app.current_items().1;
    let mut action = Action::None;
    let state = &mut app.plots;
    ui.strong("Items");
    ui.add(
        egui::TextEdit::singleline(&mut state.search)
            .hint_text("search")
            .desired_width(f32::INFINITY),
    );
    ui.horizontal(|ui| {
        if ui.small_button("all").clicked() {
            state.selected = items.iter().map(|i| i.item.clone()).collect();
        }
        if ui.small_button("none").clicked() {
            state.selected.clear();
        }
        ui.weak(format!("{} of {}", state.selected.len(), items.len()));
    });
    let search = state.search.to_lowercase();
    egui::ScrollArea::vertical()
        .id_salt("item list")
        .max_height(220.0)
        .show(ui, |ui| {
            for item in items
                .iter()
                .filter(|i| i.item.to_lowercase().contains(&search))
            {
                let mut on = state.selected.contains(&item.item);
                if ui
                    .checkbox(&mut on, &item.item)
                    .on_hover_text(describe_item(item, scaling))
                    .changed()
                {
                    if on {
                        state.selected.insert(item.item.clone());
                    } else {
                        state.selected.remove(&item.item);
                    }
                }
            }
        });
    ui.separator();
    ui.horizontal(|ui| {
        ui.label("θ from");
        ui.add(
            egui::DragValue::new(&mut state.theta_range[0])
                .range(-10.0..=0.0)
                .speed(0.1),
        );
        ui.label("to");
        ui.add(
            egui::DragValue::new(&mut state.theta_range[1])
                .range(0.0..=10.0)
                .speed(0.1),
        );
    });
    match state.kind {
        PlotKind::Icc => {
            ui.checkbox(&mut state.what_if, "What-if curve")
                .on_hover_text("Drag a, b, c and watch the curve move next to the fitted ones");
            if state.what_if {
                egui::ComboBox::from_id_salt("what-if item")
                    .selected_text(
                        state
                            .what_if_item
                            .clone()
                            .unwrap_or_else(|| "custom item".into()),
                    )
                    .show_ui(ui, |ui| {
                        if ui
                            .selectable_label(state.what_if_item.is_none(), "custom item")
                            .clicked()
                        {
                            state.what_if_item = None;
                        }
                        for item in items {
                            if ui
                                .selectable_label(
                                    state.what_if_item.as_ref() == Some(&item.item),
                                    &item.item,
                                )
                                .clicked()
                            {
                                state.what_if_item = Some(item.item.clone());
                                let form = item.irt(scaling);
                                state.what_if_params = [
                                    form.a.unwrap_or(1.0),
                                    form.b.first().copied().unwrap_or(0.0),
                                    form.c.unwrap_or(0.0),
                                ];
                                state.selected.insert(item.item.clone());
                            }
                        }
                    });
                let [a, b, c] = &mut state.what_if_params;
                ui.add(egui::Slider::new(a, 0.05..=4.0).text("a"));
                ui.add(egui::Slider::new(b, -4.0..=4.0).text("b"));
                ui.add(egui::Slider::new(c, 0.0..=0.5).text("c"));
            }
        }
        PlotKind::ObservedFit => {
            egui::ComboBox::from_id_salt("fit item")
                .selected_text(
                    state
                        .fit_item
                        .clone()
                        .unwrap_or_else(|| "choose an item".into()),
                )
                .show_ui(ui, |ui| {
                    for item in items {
                        ui.selectable_value(
                            &mut state.fit_item,
                            Some(item.item.clone()),
                            &item.item,
                        );
                    }
                });
            ui.add(egui::Slider::new(&mut state.groups, 3..=30).text("θ groups"));
        }
        _ => {}
    }
    ui.separator();
    if ui.button("Save plot as PNG or SVG…").clicked() {
        action = Action::Dialog(DialogPurpose::SavePlot);
    }
    action
}

/// Draws the panel.
pub fn plots_ui(ui: &mut egui::Ui, app: &mut IrtlabApp) -> Action {
    let mut action = Action::None;
    let (items, _) = app.current_items();
    app.plots.on_new_items(&items);
    ui.horizontal(|ui| {
        ui.heading("Plots");
        ui.add_space(16.0);
        for kind in PlotKind::ALL {
            ui.selectable_value(&mut app.plots.kind, kind, kind.label());
        }
    });
    ui.separator();
    if items.is_empty() {
        ui.weak("No item parameters yet: fit a model or enter parameters on the Prediction panel.");
        if ui.button("Go to Prediction").clicked() {
            action = Action::Show(super::Stage::Prediction);
        }
        return action;
    }
    let (series, y_label, secondary) = plot_series(app);
    let controls_action = egui::Panel::right("plot controls")
        .resizable(true)
        .default_size(230.0)
        .show(ui, |ui| controls_ui(ui, app, &items))
        .inner;
    if controls_action != Action::None {
        action = controls_action;
    }
    let mut plot = Plot::new("main plot")
        .legend(Legend::default())
        .x_axis_label("θ")
        .y_axis_label(y_label);
    if matches!(app.plots.kind, PlotKind::Icc | PlotKind::ObservedFit) {
        plot = plot.include_y(0.0).include_y(1.0);
    }
    if let Some(factor) = secondary {
        plot = plot.custom_y_axes(vec![
            AxisHints::new_y().label("information"),
            AxisHints::new_y()
                .label("standard error")
                .placement(egui_plot::HPlacement::Right)
                .formatter(move |mark, _| format!("{:.2}", mark.value / factor)),
        ]);
    }
    let response = plot.show(ui, |plot_ui| {
        for s in &series {
            let points = PlotPoints::from(s.points.clone());
            match s.style {
                SeriesStyle::Line => plot_ui.line(Line::new(s.name.clone(), points).width(2.0)),
                SeriesStyle::Dashed => plot_ui.line(
                    Line::new(s.name.clone(), points)
                        .width(2.0)
                        .style(egui_plot::LineStyle::dashed_loose()),
                ),
                SeriesStyle::Points => {
                    plot_ui.points(Points::new(s.name.clone(), points).radius(4.0))
                }
                SeriesStyle::Bars(width) => plot_ui.bar_chart(BarChart::new(
                    s.name.clone(),
                    s.points
                        .iter()
                        .map(|p| Bar::new(p[0], p[1]).width(width * 0.95))
                        .collect(),
                )),
            }
        }
    });
    app.plots.plot_rect = Some(response.response.rect);
    take_screenshot(app);
    action
}

/// Reports the result of a PNG save once the window screenshot has been written.
fn take_screenshot(app: &mut IrtlabApp) {
    let finished = app.plots.png_result.lock().ok().and_then(|mut r| r.take());
    match finished {
        Some(Ok(path)) => app.status = format!("Saved {}", path.display()),
        Some(Err(error)) => app.status = error,
        None => {}
    }
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

const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The current plot as an SVG document (drawn from the same series as the screen).
pub fn plot_svg(series: &[Series], y_label: &str) -> String {
    let (width, height) = (800.0, 500.0);
    let (left, right, top, bottom) = (70.0, 180.0, 20.0, 50.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p[0]));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p[1]));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (mut y0, mut y1) = ys.fold((0.0f64, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !(x0.is_finite() && x1 > x0) {
        (x0, x1) = (-4.0, 4.0);
    }
    if !(y1.is_finite() && y1 > y0) {
        (y0, y1) = (0.0, 1.0);
    }
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (width - left - right);
    let sy = |y: f64| height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    svg += &format!(
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>\n",
        height - bottom,
        width - right,
        height - bottom,
        height - bottom
    );
    for k in 0..=8 {
        let x = x0 + (x1 - x0) * k as f64 / 8.0;
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:.1}</text>\n",
            sx(x),
            height - bottom + 16.0,
            x
        );
        let y = y0 + (y1 - y0) * k as f64 / 8.0;
        svg += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.2}</text>\n",
            left - 6.0,
            sy(y) + 4.0,
            y
        );
    }
    svg += &format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">θ</text>\n",
        (left + width - right) / 2.0,
        height - 12.0
    );
    svg += &format!(
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        (top + height - bottom) / 2.0,
        escape(y_label)
    );
    for (index, s) in series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        match s.style {
            SeriesStyle::Line | SeriesStyle::Dashed => {
                let path: Vec<String> = s
                    .points
                    .iter()
                    .map(|p| format!("{:.2},{:.2}", sx(p[0]), sy(p[1])))
                    .collect();
                let dash = if s.style == SeriesStyle::Dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                svg += &format!(
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>\n",
                    path.join(" ")
                );
            }
            SeriesStyle::Points => {
                for p in &s.points {
                    svg += &format!(
                        "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"4\" fill=\"{color}\"/>\n",
                        sx(p[0]),
                        sy(p[1])
                    );
                }
            }
            SeriesStyle::Bars(w) => {
                for p in &s.points {
                    svg += &format!(
                        "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{color}\"/>\n",
                        sx(p[0] - w / 2.0),
                        sy(p[1]),
                        (sx(p[0] + w / 2.0) - sx(p[0] - w / 2.0)).max(1.0),
                        (sy(0.0) - sy(p[1])).max(0.0)
                    );
                }
            }
        }
        let ly = top + 16.0 * index as f64 + 8.0;
        svg += &format!(
            "<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{color}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>\n",
            width - right + 12.0,
            ly - 4.0,
            width - right + 30.0,
            ly + 1.0,
            escape(&s.name)
        );
    }
    svg += "</svg>\n";
    svg
}

/// Saves the current plot: SVG is drawn from the series at once; PNG is cropped from the next
/// window screenshot.
pub fn save_plot(app: &mut IrtlabApp, path: &Path) -> Result<(), String> {
    let is_svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if is_svg {
        let (series, y_label, _) = plot_series(app);
        let svg = plot_svg(&series, y_label);
        return crate::export::write_atomically(path, |file| {
            file.write_all(svg.as_bytes()).map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string());
    }
    let path = if path.extension().is_none() {
        path.with_extension("png")
    } else {
        path.to_path_buf()
    };
    let Some(ctx) = app.repaint.clone() else {
        return Err("no window to take the picture from".into());
    };
    let rect = app.plots.plot_rect.unwrap_or(egui::Rect::EVERYTHING);
    let pixels_per_point = ctx.pixels_per_point();
    let result = app.plots.png_result.clone();
    let repaint = ctx.clone();
    ctx.request_screenshot(move |image| {
        let cropped = image.region(&rect, Some(pixels_per_point));
        let written = write_png(&path, &cropped).map(|_| path);
        if let Ok(mut slot) = result.lock() {
            *slot = Some(written);
        }
        repaint.request_repaint();
    });
    Ok(())
}
