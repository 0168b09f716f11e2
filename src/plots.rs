//! The data of every plot irtlab draws — item and category curves, expected scores, item and
//! test information, test characteristic curves, θ histograms, observed against fitted
//! proportions, item fit and the conditional SEM, the Wright map — as series of points, and
//! their drawing as SVG. The app draws the same series on screen; the SVG export and the HTML
//! report use [`svg`]. One code path, so a saved or reported plot is the plot on the screen.

use crate::prediction::diagnostics::{FitPlotGrouping, ItemFitPlot, Reliability};
use crate::prediction::model::{self, ItemParameters};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeriesStyle {
    /// A line.
    Line,
    /// A dashed line.
    Dashed,
    /// Markers.
    Points,
    /// Vertical bars of the given width.
    Bars(f64),
    /// Horizontal bars of the given height (a histogram on the y axis, as in the Wright map).
    HorizontalBars(f64),
    /// Text labels at the points (the Wright map's items).
    Labels,
}

/// One drawn series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<[f64; 2]>,
    /// How it is drawn.
    pub style: SeriesStyle,
    /// Colour index in the palette (series of one item share it).
    pub color: usize,
    /// Labels of the points (for [`SeriesStyle::Labels`]).
    pub labels: Vec<String>,
    /// Vertical error bars (low, high) per point, when given.
    pub intervals: Vec<[f64; 2]>,
    /// Drawn heavier: a thicker line, larger markers (the key in a distractor plot).
    pub heavy: bool,
}

impl Series {
    /// A series of `style` with colour `color`.
    pub fn new(
        name: impl Into<String>,
        points: Vec<[f64; 2]>,
        style: SeriesStyle,
        color: usize,
    ) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            color,
            labels: Vec::new(),
            intervals: Vec::new(),
            heavy: false,
        }
    }
}

/// A plot: its series and axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// Title (for the report and the SVG).
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Counts and probabilities: the y axis starts at 0.
    pub y_from_zero: bool,
    /// Probabilities: the y axis ends at 1.
    pub y_to_one: bool,
    /// A second y axis on the right for series scaled by this factor (test information's SE).
    pub secondary: Option<(String, f64)>,
    /// Labelled ticks on the x axis instead of evenly spaced numbers (`Some(empty)`: none).
    pub x_ticks: Option<Vec<(f64, String)>>,
}

impl Plot {
    /// An empty plot with axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Plot {
        Plot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_from_zero: false,
            y_to_one: false,
            secondary: None,
            x_ticks: None,
        }
    }
}

/// A palette of 20 colours that stay apart (Tableau 20, reordered so that neighbours differ);
/// from the 21st series on, colours repeat with another line style.
pub const PALETTE: [[u8; 3]; 20] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [174, 199, 232],
    [255, 187, 120],
    [152, 223, 138],
    [255, 152, 150],
    [197, 176, 213],
    [196, 156, 148],
    [247, 182, 210],
    [199, 199, 199],
    [219, 219, 141],
    [158, 218, 229],
];

/// The colour of palette index `i`.
pub fn color(i: usize) -> [u8; 3] {
    PALETTE[i % PALETTE.len()]
}

/// Evenly spaced θ values over `range` (201 points).
pub fn theta_grid(range: [f64; 2]) -> Vec<f64> {
    let steps = 200;
    (0..=steps)
        .map(|k| range[0] + (range[1] - range[0]) * k as f64 / steps as f64)
        .collect()
}

fn curve(thetas: &[f64], f: &dyn Fn(f64) -> f64) -> Vec<[f64; 2]> {
    thetas.iter().map(|&t| [t, f(t)]).collect()
}

/// Item curves: P(correct) of right/wrong items, and for polytomous items every category's
/// probability (category response curves), each item in its own colour.
pub fn item_curves(items: &[ItemParameters], range: [f64; 2]) -> Plot {
    let thetas = theta_grid(range);
    let mut plot = Plot::new("Item characteristic curves", "θ", "probability");
    plot.y_from_zero = true;
    plot.y_to_one = true;
    for (index, item) in items.iter().enumerate() {
        let style = if index < PALETTE.len() {
            SeriesStyle::Line
        } else {
            SeriesStyle::Dashed
        };
        if item.n_categories() == 2 {
            plot.series.push(Series::new(
                item.item.clone(),
                curve(&thetas, &|t| item.probability(t)),
                style,
                index,
            ));
        } else {
            for (c, label) in item.categories.iter().enumerate() {
                plot.series.push(Series::new(
                    format!("{} = {label}", item.item),
                    curve(&thetas, &|t| item.probabilities(t)[c]),
                    if c % 2 == 0 {
                        style
                    } else {
                        SeriesStyle::Dashed
                    },
                    index,
                ));
            }
        }
    }
    plot
}

/// Expected item score curves (Σ k·P_k).
pub fn expected_score_curves(items: &[ItemParameters], range: [f64; 2]) -> Plot {
    let thetas = theta_grid(range);
    let mut plot = Plot::new("Expected item scores", "θ", "expected item score");
    plot.y_from_zero = true;
    for (index, item) in items.iter().enumerate() {
        plot.series.push(Series::new(
            item.item.clone(),
            curve(&thetas, &|t| item.expected_score(t)),
            if index < PALETTE.len() {
                SeriesStyle::Line
            } else {
                SeriesStyle::Dashed
            },
            index,
        ));
    }
    plot
}

/// Item information functions.
pub fn item_information(items: &[ItemParameters], range: [f64; 2]) -> Plot {
    let thetas = theta_grid(range);
    let mut plot = Plot::new("Item information", "θ", "information");
    plot.y_from_zero = true;
    for (index, item) in items.iter().enumerate() {
        plot.series.push(Series::new(
            item.item.clone(),
            curve(&thetas, &|t| item.information(t)),
            if index < PALETTE.len() {
                SeriesStyle::Line
            } else {
                SeriesStyle::Dashed
            },
            index,
        ));
    }
    plot
}

/// Test information of `items` with the conditional standard error on a second axis.
pub fn test_information(items: &[ItemParameters], range: [f64; 2]) -> Plot {
    let thetas = theta_grid(range);
    let mut plot = Plot::new("Test information", "θ", "information");
    plot.y_from_zero = true;
    let info = curve(&thetas, &|t| model::test_information(items, t));
    let max_info = info.iter().map(|p| p[1]).fold(0.0f64, f64::max);
    let se: Vec<[f64; 2]> = thetas
        .iter()
        .filter_map(|&t| model::conditional_se(items, t).map(|s| [t, s]))
        .collect();
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
    plot.series.push(Series::new(
        format!("test information ({} items)", items.len()),
        info,
        SeriesStyle::Line,
        0,
    ));
    plot.series.push(Series::new(
        "standard error (right axis)",
        se.iter()
            .filter(|p| p[1] * factor <= max_info * 1.05)
            .map(|p| [p[0], p[1] * factor])
            .collect(),
        SeriesStyle::Dashed,
        3,
    ));
    plot.secondary = Some(("standard error".into(), factor));
    plot
}

/// The test characteristic curve of `items`: the expected sum score.
pub fn test_characteristic(items: &[ItemParameters], range: [f64; 2]) -> Plot {
    let thetas = theta_grid(range);
    let mut plot = Plot::new("Test characteristic curve", "θ", "expected sum score");
    plot.y_from_zero = true;
    plot.series.push(Series::new(
        format!("expected sum score ({} items)", items.len()),
        curve(&thetas, &|t| model::expected_score(items, t)),
        SeriesStyle::Line,
        0,
    ));
    plot
}

/// Histogram of θ estimates in bins of `width`.
pub fn theta_histogram(thetas: &[f64], width: f64) -> Plot {
    let mut plot = Plot::new("θ estimates", "θ", "persons");
    plot.y_from_zero = true;
    let mut counts = std::collections::BTreeMap::new();
    for t in thetas.iter().filter(|t| t.is_finite()) {
        *counts.entry((t / width).floor() as i64).or_insert(0usize) += 1;
    }
    plot.series.push(Series::new(
        format!("θ estimates (n = {})", thetas.len()),
        counts
            .into_iter()
            .map(|(k, n)| [(k as f64 + 0.5) * width, n as f64])
            .collect(),
        SeriesStyle::Bars(width),
        0,
    ));
    plot
}

/// The Wright map (person–item map): the histogram of θ estimates (bars to the left) beside the
/// item locations — b of right/wrong items, every threshold of polytomous items — on the same
/// vertical θ scale, items labelled.
pub fn wright_map(thetas: &[f64], items: &[ItemParameters], scaling: f64) -> Plot {
    let mut plot = Plot::new("Wright map (persons and items)", "persons ◀   ▶ items", "θ");
    // The x axis only separates persons from items: no numbers on it.
    plot.x_ticks = Some(Vec::new());
    let width = 0.25;
    let mut counts = std::collections::BTreeMap::new();
    for t in thetas.iter().filter(|t| t.is_finite()) {
        *counts.entry((t / width).floor() as i64).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(1) as f64;
    plot.series.push(Series::new(
        format!("persons (n = {})", thetas.len()),
        counts
            .into_iter()
            .map(|(k, n)| [-(n as f64) / most, (k as f64 + 0.5) * width])
            .collect(),
        SeriesStyle::HorizontalBars(width),
        0,
    ));
    // Items far outside the persons (a nearly flat item's b can be ±20) would squash the map:
    // they are drawn at its edge, labelled with their location and an arrow.
    let (person_lo, person_hi) = thetas
        .iter()
        .filter(|t| t.is_finite())
        .fold((-3.0f64, 3.0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let (edge_lo, edge_hi) = ((person_lo - 1.0).max(-8.0), (person_hi + 1.0).min(8.0));
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for item in items {
        let form = item.irt(scaling);
        let locations = if form.b.is_empty() {
            // Nominal items have no thresholds: the θ where the expected score is half its range.
            vec![half_score_theta(item)]
        } else {
            form.b.clone()
        };
        for (k, b) in locations.iter().enumerate() {
            if b.is_finite() {
                let name = if locations.len() > 1 {
                    format!("{}.{}", item.item, k + 1)
                } else {
                    item.item.clone()
                };
                let (label, y) = if *b > edge_hi {
                    (format!("{name} ↑ {b:.1}"), edge_hi)
                } else if *b < edge_lo {
                    (format!("{name} ↓ {b:.1}"), edge_lo)
                } else {
                    (name, *b)
                };
                labels.push(label);
                points.push([0.0, y]);
            }
        }
    }
    // Spread the labels to the right so that items at the same height do not overlap.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a][1].total_cmp(&points[b][1]));
    let mut last_y = f64::NEG_INFINITY;
    let mut column = 0usize;
    for &i in &order {
        // Labels closer than a line of text (about 1/28 of the height) go side by side.
        if (points[i][1] - last_y).abs() < (edge_hi - edge_lo) / 28.0 {
            column += 1;
        } else {
            column = 0;
        }
        last_y = points[i][1];
        points[i][0] = 0.15 + 0.6 * column as f64;
    }
    let mut series = Series::new("items", points, SeriesStyle::Labels, 1);
    series.labels = labels;
    plot.series.push(series);
    plot
}

/// Observed against fitted: `item`'s expected-score curve (P(correct) for right/wrong items)
/// with the observed mean item score of persons in `groups` equal-size θ groups, each with its
/// 95 % interval (normal approximation: mean ± 1.96·sd/√n). `pairs` are (θ estimate, response
/// category index) of the persons who answered the item; they are sorted here.
pub fn observed_vs_fitted(
    item: &ItemParameters,
    pairs: &mut [(f64, f64)],
    groups: usize,
    range: [f64; 2],
) -> Plot {
    let thetas = theta_grid(range);
    let dichotomous = item.n_categories() == 2;
    let mut plot = Plot::new(
        format!("{}: observed and fitted", item.item),
        "θ",
        if dichotomous {
            "proportion correct"
        } else {
            "mean item score"
        },
    );
    plot.y_from_zero = true;
    plot.y_to_one = dichotomous;
    plot.series.push(Series::new(
        format!("{} fitted", item.item),
        curve(&thetas, &|t| item.expected_score(t)),
        SeriesStyle::Line,
        0,
    ));
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let groups = groups.clamp(2, 100).min(pairs.len());
    if groups < 2 {
        return plot;
    }
    let mut points = Vec::with_capacity(groups);
    let mut intervals = Vec::with_capacity(groups);
    for g in 0..groups {
        let lo = g * pairs.len() / groups;
        let hi = ((g + 1) * pairs.len() / groups).max(lo + 1);
        let chunk = &pairs[lo..hi];
        let n = chunk.len() as f64;
        let theta = chunk.iter().map(|p| p.0).sum::<f64>() / n;
        let mean = chunk.iter().map(|p| p.1).sum::<f64>() / n;
        let variance = if n > 1.0 {
            chunk.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let half = 1.96 * (variance / n).sqrt();
        let top = (item.n_categories() - 1) as f64;
        points.push([theta, mean]);
        intervals.push([(mean - half).max(0.0), (mean + half).min(top)]);
    }
    let mut observed = Series::new(
        format!("{} observed ({groups} θ groups, 95 % intervals)", item.item),
        points,
        SeriesStyle::Points,
        1,
    );
    observed.intervals = intervals;
    plot.series.push(observed);
    plot
}

/// An item-fit plot: the observed proportions in groups of persons with their 95 % intervals
/// (points with error bars) over the fitted trace lines; for sum-score groups also the model's
/// `P(X = c | S = s)` (dashed). Right/wrong items show the keyed category only.
pub fn item_fit_plot(data: &ItemFitPlot) -> Plot {
    let by = match data.grouping {
        FitPlotGrouping::Theta => "θ groups",
        FitPlotGrouping::SumScore => "sum-score groups",
    };
    let mut plot = Plot::new(format!("Item fit: {} ({by})", data.item), "θ", "proportion");
    plot.y_from_zero = true;
    plot.y_to_one = true;
    let k = data.categories.len();
    let shown: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
    for (index, &c) in shown.iter().enumerate() {
        let label = if k == 2 {
            data.item.clone()
        } else {
            format!("{} = {}", data.item, data.categories[c])
        };
        let curve = data
            .theta
            .iter()
            .zip(&data.curves[c])
            .map(|(&t, &p)| [t, p])
            .collect();
        plot.series.push(Series::new(
            format!("{label} (model)"),
            curve,
            SeriesStyle::Line,
            index,
        ));
        let mut observed = Series::new(
            format!("{label} (observed, 95 % interval)"),
            data.groups.iter().map(|g| [g.x, g.observed[c]]).collect(),
            SeriesStyle::Points,
            index,
        );
        observed.intervals = data.groups.iter().map(|g| g.interval[c]).collect();
        plot.series.push(observed);
        if data.grouping == FitPlotGrouping::SumScore {
            plot.series.push(Series::new(
                format!("{label} (model given the sum score)"),
                data.groups.iter().map(|g| [g.x, g.expected[c]]).collect(),
                SeriesStyle::Dashed,
                index,
            ));
        }
    }
    plot
}

/// The conditional standard error of measurement over θ, with the marginal reliability in the
/// title.
pub fn conditional_sem_plot(reliability: &Reliability) -> Plot {
    let mut plot = Plot::new(
        format!(
            "Conditional SEM (marginal reliability {:.3})",
            reliability.marginal
        ),
        "θ",
        "standard error of measurement",
    );
    plot.y_from_zero = true;
    plot.series.push(Series::new(
        "SEM = 1/√information",
        reliability
            .conditional_sem
            .iter()
            .filter(|c| c.sem.is_finite())
            .map(|c| [c.theta, c.sem])
            .collect(),
        SeriesStyle::Line,
        0,
    ));
    plot
}

/// The θ at which an item's expected score is half its maximum (by bisection on [−8, 8]).
fn half_score_theta(item: &ItemParameters) -> f64 {
    let target = (item.n_categories() - 1) as f64 / 2.0;
    let (mut lo, mut hi) = (-8.0, 8.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if item.expected_score(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The distribution of total scores (the classical analysis's histogram): persons per total
/// score, one bar per score.
pub fn total_score_histogram(distribution: &[(usize, usize)], max_total: usize) -> Plot {
    let n: usize = distribution.iter().map(|d| d.1).sum();
    let mut plot = Plot::new(
        format!("Total scores (n = {n})"),
        format!("total score (0–{max_total})"),
        "persons",
    );
    plot.y_from_zero = true;
    plot.series.push(Series::new(
        format!("persons (n = {n})"),
        distribution
            .iter()
            .map(|&(score, count)| [score as f64, count as f64])
            .collect(),
        SeriesStyle::Bars(0.8),
        0,
    ));
    plot
}

/// The distractor plot of one item (as ShinyItemAnalysis's `plotDistractorAnalysis`): the
/// proportion of each score group choosing each option, lowest group on the left, the key drawn
/// heavier. With `fitted` (a nominal-model fit to the answers), the groups sit at their mean θ
/// and the model's option curves are drawn over θ.
pub fn distractor_plot(
    item: &crate::prediction::distractors::DistractorItem,
    group_labels: &[String],
    fitted: Option<&crate::prediction::distractors::NominalOverlay>,
) -> Plot {
    let fitted_item = fitted.and_then(|f| f.item(&item.item).map(|i| (f, i)));
    let mut plot = Plot::new(
        format!(
            "{}: options by total-score group (key {})",
            item.item, item.key
        ),
        if fitted_item.is_some() {
            "θ (groups at their mean θ estimate)"
        } else {
            "total-score group (lowest to highest)"
        },
        "proportion choosing the option",
    );
    plot.y_from_zero = true;
    plot.y_to_one = true;
    let x_of = |g: usize| -> Option<f64> {
        match fitted_item {
            Some((f, _)) => f.group_theta.get(g).copied().flatten(),
            None => Some(g as f64 + 1.0),
        }
    };
    if fitted_item.is_none() {
        plot.x_ticks = Some(
            group_labels
                .iter()
                .enumerate()
                .map(|(g, label)| (g as f64 + 1.0, label.clone()))
                .collect(),
        );
    }
    for (index, option) in item.options.iter().enumerate() {
        let points: Vec<[f64; 2]> = option
            .group_proportions
            .iter()
            .enumerate()
            .filter_map(|(g, p)| Some([x_of(g)?, (*p)?]))
            .collect();
        let name = if option.is_key {
            format!("{} (key)", option.option)
        } else {
            option.option.clone()
        };
        let line_style = if fitted_item.is_some() || option.is_no_answer {
            SeriesStyle::Dashed
        } else {
            SeriesStyle::Line
        };
        let mut line = Series::new(name.clone(), points.clone(), line_style, index);
        line.heavy = option.is_key;
        let mut markers = Series::new("", points, SeriesStyle::Points, index);
        markers.heavy = option.is_key;
        plot.series.push(line);
        plot.series.push(markers);
        if let Some((_, fitted)) = fitted_item
            && let Some(c) = fitted
                .categories
                .iter()
                .position(|l| crate::prediction::distractors::matches_key(l, &option.option))
        {
            let thetas = theta_grid([-4.0, 4.0]);
            let mut curve = Series::new(
                format!("{name}: nominal model"),
                thetas
                    .iter()
                    .map(|&t| [t, fitted.probabilities(t)[c]])
                    .collect(),
                SeriesStyle::Line,
                index,
            );
            curve.heavy = option.is_key;
            plot.series.push(curve);
        }
    }
    plot
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn hex(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

/// Tick values at round numbers (1, 2, 2.5 or 5 times a power of ten) inside [lo, hi], about
/// eight intervals, and the decimals they need.
pub fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return (Vec::new(), 0);
    }
    let raw = (hi - lo) / 8.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let (step, extra) = [(1.0, 0), (2.0, 0), (2.5, 1), (5.0, 0), (10.0, 0)]
        .into_iter()
        .map(|(m, e)| (m * magnitude, e))
        .find(|(s, _)| *s >= raw * (1.0 - 1e-9))
        .unwrap_or((10.0 * magnitude, 0));
    let decimals = (-(step.log10().floor()) as i64 + extra).max(0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect();
    (ticks, decimals)
}

/// The plot as an SVG document: axes with ticks, the series, a legend beside the plot area.
pub fn svg(plot: &Plot) -> String {
    let legend_rows = plot
        .series
        .iter()
        .filter(|s| s.style != SeriesStyle::Labels && !s.name.is_empty())
        .count();
    let (width, height) = (
        820.0,
        (460.0f64).max(60.0 + 16.0 * legend_rows.min(40) as f64),
    );
    // A secondary axis takes 60 px of the right margin; the legend keeps 190 px beside it.
    let right = if plot.secondary.is_some() {
        260.0
    } else {
        200.0
    };
    let (left, top, bottom) = (70.0, 30.0, 50.0);
    let points = || plot.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p[0]), b.max(p[0]))
    });
    let (mut y0, mut y1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p[1]), b.max(p[1]))
    });
    for s in &plot.series {
        for i in &s.intervals {
            y0 = y0.min(i[0]);
            y1 = y1.max(i[1]);
        }
    }
    if plot.y_from_zero {
        y0 = y0.min(0.0);
    }
    if plot.y_to_one {
        y1 = y1.max(1.0);
    }
    if !(x0.is_finite() && x1 > x0) {
        (x0, x1) = (-4.0, 4.0);
    }
    if !(y0.is_finite() && y1.is_finite() && y1 > y0) {
        (y0, y1) = (0.0, 1.0);
    }
    if let Some(ticks) = plot.x_ticks.as_ref().filter(|t| !t.is_empty()) {
        let lo = ticks.iter().map(|t| t.0).fold(x0, f64::min);
        let hi = ticks.iter().map(|t| t.0).fold(x1, f64::max);
        let pad = 0.06 * (hi - lo).max(1e-9);
        (x0, x1) = (lo - pad, hi + pad);
    }
    let labels_right = plot.series.iter().any(|s| s.style == SeriesStyle::Labels);
    if labels_right {
        x1 += 0.6;
    }
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (width - left - right);
    let sy = |y: f64| height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"{}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        escape(&plot.title)
    );
    out += &format!(
        "<text x=\"{:.1}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        (left + width - right) / 2.0,
        escape(&plot.title)
    );
    out += &format!(
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"black\"/>\n",
        b = height - bottom,
        r = width - right,
    );
    match &plot.x_ticks {
        Some(ticks) => {
            for (x, label) in ticks {
                out += &format!(
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                    sx(*x),
                    height - bottom + 16.0,
                    escape(label)
                );
            }
        }
        None => {
            let (ticks, decimals) = nice_ticks(x0, x1);
            for x in ticks {
                out += &format!(
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:.decimals$}</text>\n",
                    sx(x),
                    height - bottom + 16.0,
                    x
                );
            }
        }
    }
    let (ticks, decimals) = nice_ticks(y0, y1);
    for y in ticks {
        out += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.decimals$}</text>\n<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#eeeeee\"/>\n",
            left - 6.0,
            sy(y) + 4.0,
            y,
            sy(y),
            width - right,
            sy(y)
        );
    }
    if let Some((label, factor)) = &plot.secondary {
        let (ticks, decimals) = nice_ticks(y0 / factor, y1 / factor);
        for v in ticks {
            out += &format!(
                "<text x=\"{}\" y=\"{:.1}\">{:.decimals$}</text>\n",
                width - right + 6.0,
                sy(v * factor) + 4.0,
                v
            );
        }
        out += &format!(
            "<text transform=\"translate({} {:.1}) rotate(90)\" text-anchor=\"middle\">{}</text>\n",
            width - right + 44.0,
            (top + height - bottom) / 2.0,
            escape(label)
        );
    }
    out += &format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        (left + width - right) / 2.0,
        height - 12.0,
        escape(&plot.x_label)
    );
    out += &format!(
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        (top + height - bottom) / 2.0,
        escape(&plot.y_label)
    );
    let mut legend = 0usize;
    for s in &plot.series {
        let color = hex(color(s.color));
        match s.style {
            SeriesStyle::Line | SeriesStyle::Dashed => {
                let path: Vec<String> = s
                    .points
                    .iter()
                    .filter(|p| p[0].is_finite() && p[1].is_finite())
                    .map(|p| format!("{:.2},{:.2}", sx(p[0]), sy(p[1])))
                    .collect();
                let dash = if s.style == SeriesStyle::Dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                out += &format!(
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\"{dash} points=\"{}\"/>\n",
                    if s.heavy { 4 } else { 2 },
                    path.join(" ")
                );
            }
            SeriesStyle::Points => {
                for (k, p) in s.points.iter().enumerate() {
                    if let Some(interval) = s.intervals.get(k) {
                        out += &format!(
                            "<line x1=\"{x:.2}\" y1=\"{:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"{color}\"/>\n",
                            sy(interval[0]),
                            sy(interval[1]),
                            x = sx(p[0])
                        );
                    }
                    out += &format!(
                        "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"{}\" fill=\"{color}\"/>\n",
                        sx(p[0]),
                        sy(p[1]),
                        if s.heavy { 6 } else { 4 }
                    );
                }
            }
            SeriesStyle::Bars(w) => {
                for p in &s.points {
                    out += &format!(
                        "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{color}\"/>\n",
                        sx(p[0] - w / 2.0),
                        sy(p[1]),
                        (sx(p[0] + w / 2.0) - sx(p[0] - w / 2.0)).max(1.0),
                        (sy(y0.max(0.0)) - sy(p[1])).max(0.0)
                    );
                }
            }
            SeriesStyle::HorizontalBars(h) => {
                for p in &s.points {
                    let (a, b) = (sx(p[0].min(0.0)), sx(p[0].max(0.0)));
                    out += &format!(
                        "<rect x=\"{a:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{color}\"/>\n",
                        sy(p[1] + h / 2.0),
                        (b - a).max(1.0),
                        (sy(p[1] - h / 2.0) - sy(p[1] + h / 2.0)).max(1.0)
                    );
                }
            }
            SeriesStyle::Labels => {
                for (p, label) in s.points.iter().zip(&s.labels) {
                    out += &format!(
                        "<text x=\"{:.2}\" y=\"{:.2}\" fill=\"{color}\">{}</text>\n",
                        sx(p[0]),
                        sy(p[1]) + 4.0,
                        escape(label)
                    );
                }
                continue;
            }
        }
        if s.name.is_empty() {
            continue;
        }
        if legend < 40 {
            let ly = top + 16.0 * legend as f64 + 8.0;
            let x = width - right + if plot.secondary.is_some() { 60.0 } else { 12.0 };
            out += &format!(
                "<rect x=\"{x}\" y=\"{:.1}\" width=\"12\" height=\"{}\" fill=\"{color}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>\n",
                ly - if s.heavy { 5.0 } else { 4.0 },
                if s.heavy { 6 } else { 4 },
                x + 18.0,
                ly + 1.0,
                escape(&s.name)
            );
        }
        legend += 1;
    }
    out += "</svg>\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_draws_every_series() {
        let items: Vec<ItemParameters> = (0..3)
            .map(|j| ItemParameters::dichotomous(format!("Q{j}"), 1.0, j as f64 - 1.0, 0.0, 1.0))
            .collect();
        let plot = item_curves(&items, [-4.0, 4.0]);
        let text = svg(&plot);
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        assert_eq!(text.matches("<polyline").count(), 3);
        assert!(text.contains(">Q1<"));
        let map = wright_map(&[0.1, -0.5, 1.2], &items, 1.0);
        assert!(svg(&map).contains(">Q2<"));
    }
}
