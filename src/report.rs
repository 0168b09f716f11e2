//! The analysis report: one self-contained HTML file — inline CSS and inline SVG plots, no
//! scripts, no fonts or anything else fetched from a network — that opens in any browser and
//! prints cleanly to PDF. It gathers what a reader needs to judge and rerun the analysis: the
//! data source and every preparation and preprocessing step with rows in → out; the classical
//! item and test tables; the distractor analysis; the model, its settings and fit; the item
//! table with standard errors; item curves, information, the test characteristic curve and
//! the Wright map; reliability; and the project file itself, embedded, so that the analysis
//! can be run again.
//!
//! Every part is an optional input ([`ReportInputs`]): the report shows what it is given.
//! Analyses built elsewhere (item fit, DIF, model comparison, or anything else) come in through
//! [`ReportExtras`] as ready-made [`ReportSection`]s of text, tables, plots and HTML fragments. Plots are drawn by
//! [`crate::plots::svg`] from the same series the app shows and exports — one code path.
//! Every piece of text from the user's data or project is escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::{AnyValue, DataFrame};

use crate::export::ExportError;
use crate::plots::{self, Plot};
use crate::prediction::classical::ClassicalAnalysis;
use crate::prediction::distractors::{DistractorAnalysis, NominalOverlay};
use crate::prediction::{Analysis, PredictionError, ResponseMatrix};
use crate::project::{Prepared, Project};

/// A table in the report: a caption, a header row and rows of text (numbers already
/// formatted). Cells that read as numbers are right-aligned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportTable {
    /// The caption above the table.
    pub caption: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// Rows to highlight (0-based), e.g. flagged items.
    pub highlighted: Vec<usize>,
}

impl ReportTable {
    /// A table with a caption and header.
    pub fn new(caption: impl Into<String>, header: &[&str]) -> ReportTable {
        ReportTable {
            caption: caption.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            highlighted: Vec::new(),
        }
    }

    /// A table of a DataFrame's cells, floating-point numbers with `decimals` decimals and
    /// missing values as "–".
    pub fn from_dataframe(caption: impl Into<String>, frame: &DataFrame, decimals: usize) -> Self {
        let header = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let rows = (0..frame.height())
            .map(|row| {
                frame
                    .columns()
                    .iter()
                    .map(|column| match column.get(row) {
                        Ok(AnyValue::Null) | Err(_) => "–".to_string(),
                        Ok(AnyValue::Float64(v)) => number(v, decimals),
                        Ok(AnyValue::Float32(v)) => number(f64::from(v), decimals),
                        Ok(AnyValue::String(s)) => s.to_string(),
                        Ok(AnyValue::StringOwned(s)) => s.to_string(),
                        Ok(AnyValue::Boolean(b)) => if b { "yes" } else { "" }.to_string(),
                        Ok(other) => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        ReportTable {
            caption: caption.into(),
            header,
            rows,
            highlighted: Vec::new(),
        }
    }
}

/// What went wrong while rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A table of the analysis could not be built.
    #[error("report section \"{section}\": {source}")]
    Table {
        /// The section's title.
        section: String,
        /// Why.
        source: PredictionError,
    },
    /// A ready-made HTML fragment would make the report fetch something or run a script.
    #[error(
        "report section \"{section}\": its HTML fragment {what}; the report must be self-contained (inline content only, no scripts)"
    )]
    NotSelfContained {
        /// The section's title.
        section: String,
        /// What was found, e.g. "has a <script> element".
        what: String,
    },
}

/// A section of the report: a heading, paragraphs, tables, plots and HTML fragments, in that
/// order.
#[derive(Clone, Debug, Default)]
pub struct ReportSection {
    /// The anchor (letters, digits and dashes), for the contents list.
    pub id: String,
    /// The heading.
    pub title: String,
    /// Paragraphs of plain text.
    pub paragraphs: Vec<String>,
    /// Tables.
    pub tables: Vec<ReportTable>,
    /// Plots, drawn with [`plots::svg`].
    pub plots: Vec<Plot>,
    /// Ready-made HTML fragments (already escaped), inserted as they are after the plots.
    /// They must be self-contained: [`render_report`] refuses a fragment with a `<script>`, an
    /// `<iframe>`, or a `src`/`href`/`url(` that points outside the page.
    pub html: Vec<String>,
}

impl ReportSection {
    /// An empty section.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> ReportSection {
        ReportSection {
            id: id.into(),
            title: title.into(),
            ..ReportSection::default()
        }
    }
}

/// What the report shows. Every part is optional; the report has a section for each part
/// given.
#[derive(Default)]
pub struct ReportInputs<'a> {
    /// The report's title.
    pub title: String,
    /// When it was made ("2025-01-31 14:05 UTC"), shown under the title; see [`now_utc`].
    pub generated: Option<String>,
    /// The project: source, layout, steps, model settings.
    pub project: Option<&'a Project>,
    /// The project file as it should be saved to rerun the analysis (see
    /// [`Project::to_json`]); embedded at the end.
    pub project_json: Option<String>,
    /// What preparation and preprocessing did.
    pub prepared: Option<&'a Prepared>,
    /// The response matrix analysed.
    pub matrix: Option<&'a ResponseMatrix>,
    /// The classical item and test analysis.
    pub classical: Option<&'a ClassicalAnalysis>,
    /// The distractor analysis.
    pub distractors: Option<&'a DistractorAnalysis>,
    /// Where the distractor analysis's answers came from (see
    /// [`crate::project::DistractorInput::describe`]).
    pub distractor_source: Option<String>,
    /// A nominal-model fit to the answers, drawn over the distractor plots.
    pub nominal_overlay: Option<&'a NominalOverlay>,
    /// Calibration and scores.
    pub analysis: Option<&'a Analysis>,
    /// Sections computed elsewhere: item fit, DIF, model comparison, anything else.
    pub extras: ReportExtras,
    /// The θ range of the curves (default −4 to 4).
    pub theta_range: Option<[f64; 2]>,
}

/// Optional sections of the report that other analyses build (see [`ReportSection`] and
/// [`ReportTable::from_dataframe`]); each is placed where a reader expects it.
#[derive(Clone, Debug, Default)]
pub struct ReportExtras {
    /// Item fit statistics (S-X², infit/outfit, …): after the item curves.
    pub item_fit: Option<ReportSection>,
    /// Person fit: after item fit.
    pub person_fit: Option<ReportSection>,
    /// Differential item functioning: after reliability.
    pub dif: Option<ReportSection>,
    /// Comparison of models (likelihood-ratio test, AIC, BIC): after DIF.
    pub model_comparison: Option<ReportSection>,
    /// Any further sections, at the end before the project file.
    pub sections: Vec<ReportSection>,
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "–".to_string()
    }
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_string(), |v| number(v, decimals))
}

fn looks_numeric(cell: &str) -> bool {
    let t = cell.trim().trim_end_matches('%');
    !t.is_empty() && (t == "–" || t.replace(',', "").parse::<f64>().is_ok())
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
  font-size: 14px; line-height: 1.45; color: #1a1a1a; max-width: 1060px; margin: 24px auto; padding: 0 20px; }
h1 { font-size: 26px; margin-bottom: 2px; }
h2 { font-size: 20px; border-bottom: 2px solid #1f77b4; padding-bottom: 3px; margin-top: 36px; }
h3 { font-size: 16px; margin-top: 24px; }
.meta { color: #555; margin-top: 0; }
nav ol { columns: 2; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #c8c8c8; padding: 3px 7px; vertical-align: top; }
td:not(.num) { overflow-wrap: anywhere; }
th { background: #eef3f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fff3cd; }
figure { margin: 10px 0 22px; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #555; font-size: 12px; }
pre { background: #f6f8fa; border: 1px solid #ddd; padding: 10px; font-size: 11.5px; white-space: pre-wrap; word-break: break-all; }
.note { color: #555; font-size: 12.5px; }
.flag { color: #8a5a00; font-weight: 600; }
@media print {
  body { max-width: none; margin: 0; font-size: 11px; }
  nav { display: none; }
  h2 { break-before: page; page-break-before: always; }
  h2.first { break-before: auto; page-break-before: auto; }
  table, figure { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
";

fn write_table(out: &mut String, table: &ReportTable) {
    out.push_str("<table>\n");
    if !table.caption.is_empty() {
        let _ = writeln!(out, "<caption>{}</caption>", escape_html(&table.caption));
    }
    out.push_str("<thead><tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", escape_html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in table.rows.iter().enumerate() {
        if table.highlighted.contains(&r) {
            out.push_str("<tr class=\"flagged\">");
        } else {
            out.push_str("<tr>");
        }
        for cell in row {
            if looks_numeric(cell) {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape_html(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape_html(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn write_plot(out: &mut String, plot: &Plot) {
    out.push_str("<figure>\n");
    out.push_str(&plots::svg(plot));
    let _ = writeln!(
        out,
        "<figcaption>{}</figcaption>\n</figure>",
        escape_html(&plot.title)
    );
}

fn write_section(out: &mut String, section: &ReportSection, first: bool) {
    let _ = writeln!(
        out,
        "<section id=\"{}\">\n<h2{}>{}</h2>",
        escape_html(&section.id),
        if first { " class=\"first\"" } else { "" },
        escape_html(&section.title)
    );
    for p in &section.paragraphs {
        let _ = writeln!(out, "<p>{}</p>", escape_html(p));
    }
    for t in &section.tables {
        write_table(out, t);
    }
    for p in &section.plots {
        write_plot(out, p);
    }
    for fragment in &section.html {
        out.push_str(fragment);
        out.push('\n');
    }
    out.push_str("</section>\n");
}

fn data_section(inputs: &ReportInputs) -> Option<ReportSection> {
    let project = inputs.project?;
    let mut s = ReportSection::new("data", "Data and preparation");
    let source = match &project.source {
        crate::preparation::Source::Csv { path, .. } => format!("CSV file {}", path.display()),
        crate::preparation::Source::Parquet { path } => {
            format!("Parquet file {}", path.display())
        }
        crate::preparation::Source::Sqlite { path, selection } => match selection {
            crate::preparation::SqliteSelection::Table { name } => {
                format!("SQLite database {}, table {name}", path.display())
            }
            crate::preparation::SqliteSelection::Query { sql } => {
                format!("SQLite database {}, query: {sql}", path.display())
            }
        },
    };
    s.paragraphs.push(format!("Source: {source}."));
    if let Some(prepared) = inputs.prepared {
        let (rows, columns) = prepared.loaded_shape;
        s.paragraphs
            .push(format!("Loaded: {rows} rows × {columns} columns."));
        match &project.layout {
            crate::preparation::Layout::Wide => {
                s.paragraphs
                    .push("Layout: wide (one row per person, one column per item).".into());
            }
            crate::preparation::Layout::Long {
                person_column,
                item_column,
                response_column,
                ..
            } => {
                let l = &prepared.layout;
                s.paragraphs.push(format!(
                    "Layout: long → wide (person column {person_column}, item column {item_column}, response column {response_column}): {} rows → {} persons × {} items{}.",
                    l.rows_in,
                    l.rows_out,
                    l.pivoted_items.len(),
                    if l.duplicates > 0 {
                        format!(", {} duplicate person–item rows", l.duplicates)
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    if !project.steps.is_empty() {
        let mut table = ReportTable::new(
            "Preprocessing steps, in order",
            &[
                "#", "step", "settings", "rows in", "rows out", "columns", "status",
            ],
        );
        for (i, entry) in project.steps.iter().enumerate() {
            let report = inputs.prepared.and_then(|p| p.pipeline.reports.get(i));
            let mut settings = serde_json::to_value(&entry.step).unwrap_or_default();
            if let Some(map) = settings.as_object_mut() {
                map.remove("kind");
            }
            let status = match report {
                _ if !entry.enabled => "disabled".to_string(),
                Some(r) if r.error.is_some() => {
                    format!("failed: {}", r.error.as_deref().unwrap_or_default())
                }
                Some(r) if r.incomplete.is_some() => {
                    format!("skipped: {}", r.incomplete.as_deref().unwrap_or_default())
                }
                Some(r) if !r.ran => "not run".to_string(),
                Some(r) => r.warning.clone().unwrap_or_else(|| "ran".to_string()),
                None => String::new(),
            };
            table.rows.push(vec![
                (i + 1).to_string(),
                entry.step.kind_label().to_string(),
                // Spaces after the commas let the browser wrap the line.
                crate::text::shorten(&settings.to_string(), 400).replace(",\"", ", \""),
                report.map_or(String::new(), |r| r.rows_in.to_string()),
                report.map_or(String::new(), |r| r.rows_out.to_string()),
                report.map_or(String::new(), |r| r.columns_out.to_string()),
                status,
            ]);
        }
        s.tables.push(table);
    } else {
        s.paragraphs.push("No preprocessing steps.".into());
    }
    if let Some(m) = inputs.matrix {
        s.paragraphs.push(format!(
            "Response matrix: {} persons × {} items, {} responses missing ({:.1} %).",
            m.n_persons(),
            m.n_items(),
            m.n_missing(),
            100.0 * m.n_missing() as f64 / (m.n_persons() * m.n_items()).max(1) as f64
        ));
    }
    Some(s)
}

fn classical_section(classical: &ClassicalAnalysis) -> ReportSection {
    let mut s = ReportSection::new("classical", "Classical test analysis");
    s.paragraphs.push(
        "Items are scored 0 to K−1 by category; a person's total score is the sum of the items they answered. Difficulty is the mean score over the maximum; RIT and RIR are the item–total and item–rest correlations; ULI is the upper–lower index; alpha if dropped is Cronbach's alpha without the item.".into(),
    );
    let mut test = ReportTable::new("Test", &["statistic", "value", "persons used"]);
    for (name, value, persons) in classical.test_rows() {
        let decimals = if value.is_some_and(|v| v.fract() == 0.0 && v.abs() < 1e12) {
            0
        } else {
            3
        };
        test.rows
            .push(vec![name, optional(value, decimals), persons.to_string()]);
    }
    s.tables.push(test);
    let mut basis = ReportTable::new(
        "Which persons each statistic used",
        &["statistic", "persons", "which"],
    );
    for b in &classical.basis {
        basis.rows.push(vec![
            b.statistic.clone(),
            b.persons.to_string(),
            b.rule.clone(),
        ]);
    }
    s.tables.push(basis);
    let mut items = ReportTable::new(
        format!(
            "Items (ULI: group {} against group {} of {} total-score groups)",
            classical.settings.upper_group(),
            classical.settings.uli_lower,
            classical.settings.uli_groups
        ),
        &[
            "item",
            "n",
            "max",
            "mean",
            "difficulty",
            "SD",
            "RIT",
            "RIR",
            "ULI",
            "alpha if dropped",
            "% missing",
            "% not reached",
        ],
    );
    for (r, i) in classical.items.iter().enumerate() {
        if i.rir.is_some_and(|r| r < 0.1) {
            items.highlighted.push(r);
        }
        items.rows.push(vec![
            i.item.clone(),
            i.n_answered.to_string(),
            i.max_score.to_string(),
            optional(i.mean, 3),
            optional(i.difficulty, 3),
            optional(i.sd, 3),
            optional(i.rit, 3),
            optional(i.rir, 3),
            optional(i.uli, 3),
            optional(i.alpha_if_dropped, 3),
            number(i.missing_percent, 1),
            number(i.not_reached_percent, 1),
        ]);
    }
    s.tables.push(items);
    s.paragraphs.push(
        "Highlighted items have an item–rest correlation below 0.1: they hardly measure what the rest of the test measures.".into(),
    );
    s.plots.push(plots::total_score_histogram(
        &classical.test.total_distribution,
        classical.test.max_total,
    ));
    s
}

fn distractor_section(
    distractors: &DistractorAnalysis,
    source: Option<&str>,
    overlay: Option<&NominalOverlay>,
) -> ReportSection {
    let mut s = ReportSection::new("distractors", "Distractor analysis");
    if let Some(source) = source {
        s.paragraphs.push(format!("Answers: {source}."));
    }
    if overlay.is_some() {
        s.paragraphs.push("Solid curves: the nominal model fitted to the answers (each key its last category); dots: the observed proportions of the score groups, placed at the group's mean θ estimate.".into());
    }
    let labels = distractors.group_labels();
    s.paragraphs.push(format!(
        "From the unscored answers of {} persons to {} keyed items. Total score = number of keyed items answered with the key; {} score groups: {}. Proportions are of all persons in the group; the point-biserial correlates choosing the option with the rest score (the total without the item).",
        distractors.n_persons,
        distractors.items.len(),
        labels.len(),
        labels.join(", ")
    ));
    let flagged: Vec<_> = distractors
        .items_flagged_first()
        .into_iter()
        .filter(|i| !i.flags.is_empty())
        .collect();
    if flagged.is_empty() {
        s.paragraphs.push("No item is flagged.".into());
    } else {
        let mut table = ReportTable::new(
            "Flagged items, most serious first",
            &[
                "item",
                "key",
                "proportion correct",
                "key point-biserial",
                "flags",
            ],
        );
        for item in &flagged {
            table.rows.push(vec![
                item.item.clone(),
                item.key.clone(),
                number(item.proportion_correct, 3),
                optional(item.key_option().and_then(|k| k.point_biserial), 3),
                item.flags_text(),
            ]);
        }
        s.tables.push(table);
        let mut legend = ReportTable::new("What the flags mean", &["flag", "meaning"]);
        for flag in crate::prediction::DistractorFlag::ALL {
            legend
                .rows
                .push(vec![flag.name().to_string(), flag.describe().to_string()]);
        }
        s.tables.push(legend);
    }
    let mut header: Vec<String> = ["item", "option", "key", "n", "proportion"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    header.extend(labels.iter().map(|l| format!("group {l}")));
    header.extend(["point-biserial", "flags"].map(String::from));
    let mut table = ReportTable {
        caption: "Every item and option".into(),
        header,
        rows: Vec::new(),
        highlighted: Vec::new(),
    };
    for item in &distractors.items {
        for option in &item.options {
            if !option.flags.is_empty() {
                table.highlighted.push(table.rows.len());
            }
            let mut row = vec![
                item.item.clone(),
                option.option.clone(),
                if option.is_key { "key" } else { "" }.to_string(),
                option.count.to_string(),
                number(option.proportion, 3),
            ];
            row.extend(option.group_proportions.iter().map(|p| optional(*p, 3)));
            row.push(optional(option.point_biserial, 3));
            row.push(
                option
                    .flags
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            table.rows.push(row);
        }
    }
    s.tables.push(table);
    // Plots: every item of a short test, otherwise the flagged ones.
    let plotted: Vec<_> = if distractors.items.len() <= 20 {
        distractors.items.iter().collect()
    } else {
        flagged
    };
    for item in plotted {
        s.plots.push(plots::distractor_plot(item, &labels, overlay));
    }
    if distractors.items.len() > 20 {
        s.paragraphs
            .push("Plots are shown for the flagged items; the table above has every item.".into());
    }
    s
}

fn model_sections(analysis: &Analysis, range: [f64; 2]) -> Result<Vec<ReportSection>, ReportError> {
    let c = &analysis.calibration;
    let mut model = ReportSection::new("model", "Model and fit");
    model.paragraphs.push(format!(
        "{} calibrated by marginal maximum likelihood (EM) on {} persons and {} items ({} distinct response patterns); abilities scored by {}.",
        c.model_label(),
        c.n_persons,
        c.items.len(),
        c.n_patterns,
        analysis.scoring.method.name()
    ));
    let mut fit = ReportTable::new("Fit", &["statistic", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("log-likelihood", number(c.log_likelihood, 3)),
        ("AIC", number(c.aic, 2)),
        ("BIC", number(c.bic, 2)),
        ("free parameters", c.parameters.to_string()),
        ("EM cycles", c.cycles.to_string()),
        (
            "converged",
            if c.converged { "yes" } else { "NO" }.to_string(),
        ),
        ("stopped because", format!("{:?}", c.termination)),
        ("latent mean", number(c.latent_mean, 4)),
        ("latent variance", number(c.latent_variance, 4)),
        (
            "standard errors",
            c.standard_error_route
                .clone()
                .unwrap_or_else(|| "not computed".into()),
        ),
        (
            "persons without responses (left out)",
            c.n_persons_without_responses.to_string(),
        ),
    ];
    for (name, value) in rows {
        fit.rows.push(vec![name.to_string(), value]);
    }
    model.tables.push(fit);
    let mut settings = ReportTable::new("Settings", &["setting", "value"]);
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&c.settings) {
        for (key, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                other => crate::text::shorten(&other.to_string(), 300),
            };
            settings.rows.push(vec![key, text]);
        }
    }
    model.tables.push(settings);
    for w in &c.warnings {
        model.paragraphs.push(format!("Warning: {w}"));
    }
    if !c.excluded_items.is_empty() {
        let mut excluded = ReportTable::new("Items left out", &["item", "reason"]);
        for e in &c.excluded_items {
            excluded.rows.push(vec![e.item.clone(), e.reason.clone()]);
        }
        model.tables.push(excluded);
    }

    let mut items = ReportSection::new("items", "Item parameters");
    items.paragraphs.push(format!(
        "IRT form with D = {}; *_se columns are standard errors; p_value, n and item_rest_r are the classical difficulty, responses and item–rest correlation.",
        c.settings.scaling
    ));
    let frame = analysis
        .items_table()
        .map_err(|source| ReportError::Table {
            section: items.title.clone(),
            source,
        })?;
    items
        .tables
        .push(ReportTable::from_dataframe("Items", &frame, 3));

    let parameters = c.item_parameters();
    let thetas: Vec<f64> = analysis.scores.iter().filter_map(|s| s.theta).collect();
    let mut curves = ReportSection::new("plots", "Item curves, information and the Wright map");
    curves.plots.push(plots::item_curves(&parameters, range));
    if parameters.iter().any(|i| i.n_categories() > 2) {
        // Every category of every item in one plot is a thicket: each item gets its own.
        curves
            .plots
            .push(plots::expected_score_curves(&parameters, range));
        for item in parameters.iter().filter(|i| i.n_categories() > 2).take(40) {
            let mut plot = plots::item_curves(std::slice::from_ref(item), range);
            plot.title = format!("{}: category response curves", item.item);
            curves.plots.push(plot);
        }
    }
    curves
        .plots
        .push(plots::item_information(&parameters, range));
    curves
        .plots
        .push(plots::test_information(&parameters, range));
    curves
        .plots
        .push(plots::test_characteristic(&parameters, range));
    curves.plots.push(plots::theta_histogram(&thetas, 0.25));
    curves
        .plots
        .push(plots::wright_map(&thetas, &parameters, c.settings.scaling));
    Ok(vec![model, items, curves])
}

/// Empirical reliability of θ estimates: var(θ̂) / (var(θ̂) + mean(SE²)) (mirt's
/// `empirical_rxx`).
pub fn empirical_reliability(analysis: &Analysis) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = analysis
        .scores
        .iter()
        .filter_map(|s| Some((s.theta?, s.theta_se?)))
        .collect();
    if pairs.len() < 2 {
        return None;
    }
    let n = pairs.len() as f64;
    let mean = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let variance = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let error = pairs.iter().map(|p| p.1 * p.1).sum::<f64>() / n;
    (variance + error > 0.0).then(|| variance / (variance + error))
}

fn reliability_section(inputs: &ReportInputs) -> Option<ReportSection> {
    if inputs.classical.is_none() && inputs.analysis.is_none() {
        return None;
    }
    let mut s = ReportSection::new("reliability", "Reliability");
    let mut table = ReportTable::new("Reliability", &["estimate", "value", "persons", "notes"]);
    if let Some(c) = inputs.classical {
        let t = &c.test;
        table.rows.push(vec![
            "Cronbach's alpha".into(),
            optional(t.alpha, 3),
            t.complete_cases.to_string(),
            match t.alpha_ci95 {
                Some([lo, hi]) => format!("95 % interval (Feldt) {lo:.3} to {hi:.3}"),
                None => String::new(),
            },
        ]);
        for (label, split) in [
            ("split-half, first–last", &t.split_half_first_last),
            ("split-half, odd–even", &t.split_half_odd_even),
        ] {
            table.rows.push(vec![
                format!("{label} (Spearman–Brown)"),
                optional(split.spearman_brown, 3),
                t.complete_cases.to_string(),
                format!(
                    "{} + {} items, halves correlate {}",
                    split.items_first,
                    split.items_second,
                    optional(split.correlation, 3)
                ),
            ]);
        }
        table.rows.push(vec![
            "standard error of measurement".into(),
            optional(t.sem, 3),
            t.complete_cases.to_string(),
            "total-score points, SD·√(1 − alpha)".into(),
        ]);
    }
    if let Some(a) = inputs.analysis {
        let n = a.scores.iter().filter(|s| s.theta.is_some()).count();
        table.rows.push(vec![
            "empirical reliability of θ".into(),
            optional(empirical_reliability(a), 3),
            n.to_string(),
            format!(
                "var(θ̂) / (var(θ̂) + mean SE²), {} estimates",
                a.scoring.method.name()
            ),
        ]);
    }
    s.tables.push(table);
    Some(s)
}

/// Why an HTML fragment is not self-contained, if it is not: a script, a frame or an object,
/// or a reference (`src=`, `href=`, `url(`, `@import`) to anything but an anchor in the page
/// or inline `data:` content.
pub fn external_content(fragment: &str) -> Option<String> {
    let lower = fragment.to_ascii_lowercase();
    for element in ["<script", "<iframe", "<object", "<embed", "<link", "<base"] {
        if lower.contains(element) {
            return Some(format!("has a {element}> element"));
        }
    }
    if lower.contains("@import") {
        return Some("has a CSS @import".into());
    }
    for attribute in [
        "src",
        "href",
        "srcset",
        "url(",
        "xlink:href",
        "action",
        "poster",
    ] {
        let needle = if attribute.ends_with('(') {
            attribute.to_string()
        } else {
            format!("{attribute}=")
        };
        let mut rest = lower.as_str();
        while let Some(at) = rest.find(&needle) {
            let before = rest[..at].chars().last();
            rest = &rest[at + needle.len()..];
            // `data-src=` or `xsrc=` are other attributes.
            if attribute != "url(" && before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                continue;
            }
            let value = rest.trim_start_matches(['"', '\'', ' ']);
            if !(value.starts_with('#') || value.starts_with("data:")) {
                return Some(format!(
                    "refers to {}",
                    crate::text::shorten(&format!("{needle}{value}"), 60)
                ));
            }
        }
    }
    None
}

/// The report as one HTML document. Fails when a table of the analysis cannot be built or a
/// ready-made fragment of [`ReportExtras`] is not self-contained.
pub fn render_report(inputs: &ReportInputs) -> Result<String, ReportError> {
    let range = inputs.theta_range.unwrap_or([-4.0, 4.0]);
    let mut sections: Vec<ReportSection> = Vec::new();
    sections.extend(data_section(inputs));
    if let Some(c) = inputs.classical {
        sections.push(classical_section(c));
    }
    if let Some(d) = inputs.distractors {
        sections.push(distractor_section(
            d,
            inputs.distractor_source.as_deref(),
            inputs.nominal_overlay,
        ));
    }
    if let Some(a) = inputs.analysis {
        sections.extend(model_sections(a, range)?);
    }
    let extras = &inputs.extras;
    sections.extend(extras.item_fit.iter().cloned());
    sections.extend(extras.person_fit.iter().cloned());
    sections.extend(reliability_section(inputs));
    sections.extend(extras.dif.iter().cloned());
    sections.extend(extras.model_comparison.iter().cloned());
    sections.extend(extras.sections.iter().cloned());
    for section in &sections {
        for fragment in &section.html {
            if let Some(what) = external_content(fragment) {
                return Err(ReportError::NotSelfContained {
                    section: section.title.clone(),
                    what,
                });
            }
        }
    }

    let title = if inputs.title.is_empty() {
        "irtlab analysis report"
    } else {
        inputs.title.as_str()
    };
    let mut out = String::with_capacity(1 << 20);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<meta name=\"generator\" content=\"irtlab {}\">",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "<title>{}</title>", escape_html(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape_html(title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">Made by irtlab {}{}.</p>\n</header>",
        env!("CARGO_PKG_VERSION"),
        inputs
            .generated
            .as_deref()
            .map(|g| format!(" on {}", escape_html(g)))
            .unwrap_or_default()
    );
    out.push_str("<nav>\n<h2 class=\"first\">Contents</h2>\n<ol>\n");
    for s in &sections {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{}</a></li>",
            escape_html(&s.id),
            escape_html(&s.title)
        );
    }
    if inputs.project_json.is_some() {
        out.push_str("<li><a href=\"#project\">Project file</a></li>\n");
    }
    out.push_str("</ol>\n</nav>\n<main>\n");
    for (i, s) in sections.iter().enumerate() {
        write_section(&mut out, s, i == 0);
    }
    if let Some(json) = &inputs.project_json {
        out.push_str("<section id=\"project\">\n<h2>Project file</h2>\n");
        out.push_str("<p>To rerun this analysis, save the text below as <code>analysis.irtlab.json</code> beside the data file and run <code>irtlab run analysis.irtlab.json</code> (or open it in the app).</p>\n");
        // The text of this element is the project file exactly (HTML-escaped in the source).
        let _ = writeln!(
            out,
            "<pre id=\"irtlab-project\">{}</pre>",
            escape_html(json)
        );
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    Ok(out)
}

/// Writes the report to `path` atomically, refusing to overwrite any of `inputs`.
pub fn write_report(path: &Path, html: &str, inputs: &[PathBuf]) -> Result<(), ExportError> {
    crate::export::write_document(path, html.as_bytes(), inputs)
}

/// The current time as "YYYY-MM-DD HH:MM UTC" (for [`ReportInputs::generated`]).
pub fn now_utc() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape_html("<b>\"A&B\"</b> 'x'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; &#39;x&#39;"
        );
        let mut section = ReportSection::new("x", "<script>alert(1)</script>");
        section.paragraphs.push("a < b & c".into());
        let mut table = ReportTable::new("t", &["<h>"]);
        table.rows.push(vec!["</table>".into()]);
        section.tables.push(table);
        let html = render_report(&ReportInputs {
            extras: ReportExtras {
                sections: vec![section],
                ..ReportExtras::default()
            },
            project_json: Some("{\"x\": \"</pre><script>alert(2)</script>\"}".into()),
            ..ReportInputs::default()
        })
        .unwrap();
        assert!(!html.contains("<script"));
        assert!(!html.contains("</pre><script>"));
        assert!(html.contains("a &lt; b &amp; c"));
        assert!(html.contains("<pre id=\"irtlab-project\">"));
    }

    #[test]
    fn fragments_that_fetch_or_run_are_refused() {
        for bad in [
            "<script>x()</script>",
            "<img src=\"https://example.org/a.png\">",
            "<a href='http://example.org'>x</a>",
            "<div style=\"background: url(http://x/y.png)\"></div>",
            "<link rel=stylesheet href=a.css>",
            "<svg><image xlink:href=\"b.png\"/></svg>",
        ] {
            assert!(external_content(bad).is_some(), "{bad}");
            let mut section = ReportSection::new("fit", "Item fit");
            section.html.push(bad.to_string());
            let result = render_report(&ReportInputs {
                extras: ReportExtras {
                    item_fit: Some(section),
                    ..ReportExtras::default()
                },
                ..ReportInputs::default()
            });
            assert!(
                matches!(result, Err(ReportError::NotSelfContained { .. })),
                "{bad}"
            );
        }
        for good in [
            "<p data-src=\"x\">fine</p>",
            "<a href=\"#items\">items</a>",
            "<img src=\"data:image/png;base64,AAAA\">",
            "<table><tr><td>1</td></tr></table>",
        ] {
            assert_eq!(external_content(good), None, "{good}");
        }
    }

    #[test]
    fn the_date_is_a_date() {
        let now = now_utc();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with(" UTC"));
    }
}
