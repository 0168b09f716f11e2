//! The group commands: `irtlab dif` (differential item functioning between two groups),
//! `irtlab fit --group` (multiple-group calibration, one invariance level or the whole ladder)
//! and the group outputs of `irtlab run` (`dif.csv`, `group_items.csv`). Thin wrappers over
//! `prediction::dif`, `prediction::groups` and `project::run_group_analyses`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::DataFrame;

use irtlab::export::OutputSet;
use irtlab::prediction::dif::{
    self, Anchors, DifMethod, DifProgress, DifReport, DifSettings, logistic::LogisticDifType,
};
use irtlab::prediction::groups::{
    self, GroupAnalysis, GroupCalibration, GroupModel, Groups, Invariance, InvarianceLadder,
};
use irtlab::prediction::p_adjust::PAdjust;
use irtlab::prediction::{FitSettings, PredictionError, ResponseMatrix};
use irtlab::preparation::Source;
use irtlab::project::{self, GroupProgress, Prepared, Project};

use super::{
    CycleProgress, FitArgs, INTERRUPTED, ModelArgs, add_output, check_interrupted,
    check_person_tables,
};

/// `irtlab dif`: the arguments.
#[derive(clap::Args, Debug)]
pub(super) struct DifArgs {
    /// The data: a wide CSV (or Parquet, or SQLite with one table).
    data: PathBuf,
    /// The column that holds each person's group (text or numbers).
    #[arg(long)]
    group: String,
    /// The focal group's value.
    #[arg(long)]
    focal: String,
    /// The reference group's value (default: the other value, when the column has two).
    #[arg(long)]
    reference: Option<String>,
    /// The person-id column.
    #[arg(long)]
    id: Option<String>,
    /// Item columns, comma-separated (default: every column but the id and the group).
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    /// Methods, comma-separated: mh, logistic, lr (IRT likelihood ratio), wald.
    #[arg(long, value_delimiter = ',', default_value = "mh,logistic,lr", value_parser = parse_dif_method)]
    method: Vec<DifMethod>,
    /// Anchor items, comma-separated (assumed DIF-free; not tested). Default: every other item.
    #[arg(long, value_delimiter = ',', conflicts_with = "purify")]
    anchors: Option<Vec<String>>,
    /// Iterative purification: items flagged in a round leave the anchors of the next.
    #[arg(long)]
    purify: bool,
    /// P-value adjustment over the tested items: holm, bh or none.
    #[arg(long, default_value = "holm", value_parser = parse_p_adjust)]
    p_adjust: PAdjust,
    /// Significance level of the flags.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Logistic regression: uniform, nonuniform or both.
    #[arg(long, default_value = "both", value_parser = parse_logistic)]
    logistic: LogisticDifType,
    #[command(flatten)]
    model: ModelArgs,
    /// Write the DIF table here (.csv, .parquet, or .sqlite/.db).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace a SQLite table that exists.
    #[arg(long)]
    replace_table: bool,
    /// Print one JSON object to stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// The `--group` options of `irtlab fit`.
#[derive(clap::Args, Debug)]
pub(super) struct GroupFitArgs {
    /// Fit a multiple-group model: the column that holds each person's group.
    #[arg(long)]
    pub(super) group: Option<String>,
    /// With --group: the reference group's value (default: the first in sorted order).
    #[arg(long, requires = "group")]
    reference: Option<String>,
    /// With --group: configural, metric, scalar (default), or ladder (fit all three, test each
    /// against the one before, and report the most constrained level the data support).
    #[arg(long, requires = "group", conflicts_with = "anchors", value_parser = parse_invariance)]
    invariance: Option<InvarianceChoice>,
    /// With --group: these items equal across groups, the others free per group (the focal
    /// means and variances estimated).
    #[arg(long, requires = "group", value_delimiter = ',')]
    anchors: Option<Vec<String>>,
}

/// What `--invariance` asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum InvarianceChoice {
    Level(Invariance),
    Ladder,
}

fn parse_invariance(text: &str) -> Result<InvarianceChoice, String> {
    if text.trim().eq_ignore_ascii_case("ladder") {
        return Ok(InvarianceChoice::Ladder);
    }
    Invariance::parse(text)
        .map(InvarianceChoice::Level)
        .ok_or_else(|| {
            format!(
                "unknown invariance \"{}\"; use configural, metric, scalar or ladder",
                irtlab::text::shorten(text, 30)
            )
        })
}

fn parse_dif_method(text: &str) -> Result<DifMethod, String> {
    DifMethod::parse(text).ok_or_else(|| {
        format!(
            "unknown DIF method \"{}\"; use mh, logistic, lr or wald",
            irtlab::text::shorten(text, 30)
        )
    })
}

fn parse_p_adjust(text: &str) -> Result<PAdjust, String> {
    dif::parse_p_adjust(text).ok_or_else(|| {
        format!(
            "unknown p-value adjustment \"{}\"; use holm, bh or none",
            irtlab::text::shorten(text, 30)
        )
    })
}

fn parse_logistic(text: &str) -> Result<LogisticDifType, String> {
    LogisticDifType::parse(text).ok_or_else(|| {
        format!(
            "unknown logistic DIF type \"{}\"; use uniform, nonuniform or both",
            irtlab::text::shorten(text, 30)
        )
    })
}

/// The response matrix of a wide table whose group column is not an item: `items` as given
/// (the group column refused among them), or every column but the id and the group.
fn grouped_matrix(
    frame: &DataFrame,
    id_column: Option<&str>,
    group_column: &str,
    items: Option<&[String]>,
) -> Result<ResponseMatrix> {
    let items: Vec<String> = match items {
        Some(items) => {
            if items.iter().any(|i| i == group_column) {
                bail!(
                    "the group column {} cannot also be an item",
                    irtlab::text::quoted(group_column)
                );
            }
            items.to_vec()
        }
        None => frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .filter(|n| n != group_column && Some(n.as_str()) != id_column)
            .collect(),
    };
    Ok(ResponseMatrix::from_dataframe(
        frame,
        id_column,
        Some(&items),
    )?)
}

/// A terminal progress bar for DIF runs, drawn on stderr only when a run lasts.
struct DifBar {
    bar: ProgressBar,
    started: std::time::Instant,
}

impl DifBar {
    fn new() -> DifBar {
        let bar = ProgressBar::with_draw_target(Some(1), indicatif::ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len}  {msg}  [{elapsed}]")
        {
            bar.set_style(style);
        }
        DifBar {
            bar,
            started: std::time::Instant::now(),
        }
    }

    fn update(&self, progress: &DifProgress) {
        if self.bar.is_hidden() && self.started.elapsed() > Duration::from_millis(500) {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        self.bar.set_length(progress.total.max(1) as u64);
        self.bar.set_position(progress.done as u64);
        self.bar.set_message(if progress.round > 1 {
            format!(
                "{}, purification round {}",
                progress.method.label(),
                progress.round
            )
        } else {
            progress.method.label().to_string()
        });
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Turns a cancelled library run into the command's "interrupted" error.
fn interrupted_or<T>(result: std::result::Result<T, PredictionError>) -> Result<T> {
    match result {
        Err(PredictionError::Cancelled) => bail!("interrupted; nothing was written"),
        other => Ok(other?),
    }
}

/// `irtlab dif`.
pub(super) fn dif_command(args: DifArgs) -> Result<()> {
    let mut inputs = vec![args.data.clone()];
    inputs.extend(args.model.fixed_items.clone());
    // Outputs are checked before anything is read or computed.
    let mut outputs = OutputSet::new(inputs);
    let want_table = add_output(&mut outputs, args.out.as_deref(), "dif", args.replace_table)?;
    let anchors = match (&args.anchors, args.purify) {
        (Some(items), _) => Anchors::Items {
            items: items.iter().map(|i| i.trim().to_string()).collect(),
        },
        (None, purify) => Anchors::AllOthers { purify },
    };
    let settings = DifSettings {
        methods: dedup(&args.method),
        anchors,
        p_adjust: args.p_adjust,
        alpha: args.alpha,
        logistic: args.logistic,
        fit: args.model.settings()?,
        ..DifSettings::default()
    };
    settings.validate()?;
    let frame = Source::for_file(&args.data)?.load_cancellable(None, Some(INTERRUPTED.clone()))?;
    check_interrupted()?;
    let where_ = || format!("{}", args.data.display());
    let responses = grouped_matrix(
        &frame,
        args.id.as_deref(),
        &args.group,
        args.items.as_deref(),
    )
    .with_context(where_)?;
    let groups = Groups::from_dataframe(
        &frame,
        &args.group,
        args.reference.as_deref(),
        Some(std::slice::from_ref(&args.focal)),
    )
    .with_context(where_)?;
    drop(frame);
    let bar = DifBar::new();
    let result = dif::run_dif(
        &responses,
        &groups,
        &settings,
        &mut |p| bar.update(&p),
        &INTERRUPTED,
    );
    bar.finish();
    let report = interrupted_or(result)?;
    if args.json {
        println!("{}", dif_json(&report));
    } else {
        print!("{}", dif_summary(&report));
    }
    check_interrupted()?;
    if want_table {
        outputs.write(&mut [dif::dif_table(&report)?])?;
    }
    Ok(())
}

/// The methods in the order asked, each once.
fn dedup(methods: &[DifMethod]) -> Vec<DifMethod> {
    let mut out: Vec<DifMethod> = Vec::new();
    for m in methods {
        if !out.contains(m) {
            out.push(*m);
        }
    }
    out
}

/// A JSON number, or null for NaN and infinities.
fn number(value: f64) -> serde_json::Value {
    if value.is_finite() {
        serde_json::json!(value)
    } else {
        serde_json::Value::Null
    }
}

/// The `irtlab dif --json` object: `items` (one row per method and item), `groups`, `summary`
/// (one entry per item) and `purification`.
pub(super) fn dif_json(report: &DifReport) -> serde_json::Value {
    let items: Vec<serde_json::Value> = report
        .rows
        .iter()
        .map(|r| {
            let details: serde_json::Map<String, serde_json::Value> = r
                .details
                .iter()
                .map(|(n, v)| (n.clone(), number(*v)))
                .chain(
                    r.labels
                        .iter()
                        .map(|(n, v)| (n.clone(), serde_json::json!(v))),
                )
                .collect();
            serde_json::json!({
                "item": r.item,
                "method": r.method.name(),
                "statistic": number(r.statistic),
                "df": number(r.df),
                "p": number(r.p),
                "p_adjusted": number(r.p_adjusted),
                "effect": number(r.effect),
                "effect_name": r.effect_name,
                "class": r.class,
                "flagged": r.flagged,
                "note": r.note,
                "details": details,
            })
        })
        .collect();
    let g = &report.groups;
    let summary: Vec<serde_json::Value> = report
        .summary
        .iter()
        .map(|s| {
            serde_json::json!({
                "item": s.item,
                "flagged": s.flagged,
                "flagged_by": s.flagged_by.iter().map(|m| m.name()).collect::<Vec<_>>(),
                "size": s.size.label(),
                "anchor": s.anchor,
            })
        })
        .collect();
    let purification: Vec<serde_json::Value> = report
        .purification
        .iter()
        .map(|p| {
            serde_json::json!({
                "method": p.method.name(),
                "rounds": p.rounds,
                "converged": p.converged,
            })
        })
        .collect();
    serde_json::json!({
        "items": items,
        "groups": {
            "column": g.column,
            "reference": g.reference,
            "focal": g.focal,
            "n_reference": g.n_reference,
            "n_focal": g.n_focal,
            "n_missing": g.n_missing,
            "n_other": g.n_other,
            "focal_mean": g.focal_mean.map(number),
            "focal_variance": g.focal_variance.map(number),
        },
        "p_adjust": dif::p_adjust_name(report.settings.p_adjust),
        "alpha": report.settings.alpha,
        "summary": summary,
        "purification": purification,
    })
}

fn format_number(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "-".to_string()
    } else {
        format!("{value:.decimals$}")
    }
}

/// The human-readable DIF report.
pub(super) fn dif_summary(report: &DifReport) -> String {
    let mut out = String::new();
    let g = &report.groups;
    let _ = writeln!(
        out,
        "DIF by {}: reference {} ({} persons), focal {} ({} persons){}",
        irtlab::text::quoted(&g.column),
        g.reference,
        g.n_reference,
        g.focal,
        g.n_focal,
        if g.n_missing + g.n_other > 0 {
            format!(
                "; left out: {} without a group, {} in other groups",
                g.n_missing, g.n_other
            )
        } else {
            String::new()
        }
    );
    if let (Some(mean), Some(variance)) = (g.focal_mean, g.focal_variance) {
        let _ = writeln!(
            out,
            "focal group's latent distribution (reference N(0, 1)): mean {mean:.4}, variance {variance:.4}"
        );
    }
    let anchors = match &report.settings.anchors {
        Anchors::Items { items } => format!("anchors {}", items.join(", ")),
        Anchors::AllOthers { purify: true } => "all other items as anchors, purified".into(),
        Anchors::AllOthers { purify: false } => "all other items as anchors".into(),
    };
    let _ = writeln!(
        out,
        "{anchors}; p-values adjusted: {}; flagged when adjusted p < {}",
        dif::p_adjust_name(report.settings.p_adjust),
        report.settings.alpha
    );
    let width = report
        .rows
        .iter()
        .map(|r| r.item.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    for method in &report.settings.methods {
        let _ = writeln!(out, "\n{}", method.label());
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>3}  {:>9}  {:>9}  {:>9} {:<26} {:<5} flagged",
            "item", "statistic", "df", "p", "p adj", "effect", "", "class"
        );
        for r in report.rows_of(*method) {
            let _ = writeln!(
                out,
                "{:<width$}  {:>10}  {:>3}  {:>9}  {:>9}  {:>9} {:<26} {:<5} {}{}",
                r.item,
                format_number(r.statistic, 3),
                format_number(r.df, 0),
                format_number(r.p, 5),
                format_number(r.p_adjusted, 5),
                format_number(r.effect, 4),
                format!("({})", r.effect_name),
                r.class,
                if r.flagged { "yes" } else { "" },
                r.note
                    .as_deref()
                    .map(|n| format!("  note: {n}"))
                    .unwrap_or_default()
            );
        }
    }
    for p in &report.purification {
        let rounds: Vec<String> = p
            .rounds
            .iter()
            .map(|r| format!("{{{}}}", r.join(", ")))
            .collect();
        let _ = writeln!(
            out,
            "\n{} purification: {}{}",
            p.method.label(),
            rounds.join(" → "),
            if p.converged { "" } else { " (NOT converged)" }
        );
    }
    let flagged = report.flagged_items();
    let _ = writeln!(
        out,
        "\nflagged: {}",
        if flagged.is_empty() {
            "none".to_string()
        } else {
            report
                .summary
                .iter()
                .filter(|s| s.flagged)
                .map(|s| format!("{} ({})", s.item, s.size.label()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    out
}

/// `irtlab fit --group`: the multiple-group calibration (or the invariance ladder, then the
/// supported level), its summary, and the tables asked for (`wanted`: items, scores,
/// probabilities, expected scores).
pub(super) fn fit_groups(
    args: &FitArgs,
    frame: DataFrame,
    settings: &FitSettings,
    outputs: &OutputSet,
    wanted: [bool; 4],
) -> Result<()> {
    let Some(column) = args.groups.group.as_deref() else {
        bail!("--group names no column");
    };
    let where_ = || format!("{}", args.data.display());
    let responses = grouped_matrix(&frame, args.id.as_deref(), column, args.items.as_deref())
        .with_context(where_)?;
    let groups = Groups::from_dataframe(&frame, column, args.groups.reference.as_deref(), None)
        .with_context(where_)?;
    drop(frame);
    let [want_items, want_scores, want_probabilities, want_expected] = wanted;
    check_person_tables(&responses, want_probabilities, want_expected)?;
    let mut ladder = None;
    let model = match (&args.groups.anchors, args.groups.invariance) {
        (Some(anchors), _) => GroupModel::anchored(anchors),
        (None, Some(InvarianceChoice::Ladder)) => {
            let bar = CycleProgress::new(settings.max_cycles);
            let result = groups::invariance_ladder(
                &responses,
                &groups,
                settings,
                &mut |p| bar.update(p),
                &INTERRUPTED,
            );
            bar.finish();
            let fitted = interrupted_or(result)?;
            let level = fitted.supported(0.05);
            ladder = Some(fitted);
            GroupModel::invariance(level)
        }
        (None, Some(InvarianceChoice::Level(level))) => GroupModel::invariance(level),
        (None, None) => GroupModel::invariance(Invariance::Scalar),
    };
    let bar = CycleProgress::new(settings.max_cycles);
    let result = groups::analyse_groups(
        &responses,
        &groups,
        &model,
        settings,
        args.scoring,
        &mut |p| bar.update(p),
        &INTERRUPTED,
    );
    bar.finish();
    let analysis = interrupted_or(result)?;
    for warning in &analysis.calibration.warnings {
        eprintln!("warning: {warning}");
    }
    if args.json {
        println!("{}", group_fit_json(&analysis, ladder.as_ref()));
    } else {
        print!("{}", group_fit_summary(&analysis, ladder.as_ref()));
    }
    let mut frames = Vec::new();
    if want_items {
        frames.push(analysis.items_table()?);
    }
    if want_scores {
        frames.push(analysis.scores_table()?);
    }
    if want_probabilities {
        frames.push(analysis.person_probabilities_table()?);
    }
    if want_expected {
        frames.push(analysis.expected_scores_table()?);
    }
    check_interrupted()?;
    outputs.write(&mut frames)?;
    Ok(())
}

/// The `--json` object of a multiple-group fit: the single-group keys, `groups` (per group:
/// n, latent mean and variance), and per item its parameters, with `by_group` when they differ.
pub(super) fn group_fit_json(
    analysis: &GroupAnalysis,
    ladder: Option<&InvarianceLadder>,
) -> serde_json::Value {
    let c = &analysis.calibration;
    let groups_json: Vec<serde_json::Value> = c
        .groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "group": g.group,
                "n": g.n,
                "mean": g.mean,
                "variance": g.variance,
                "mean_se": g.mean_se,
                "variance_se": g.variance_se,
                "mean_estimated": g.mean_estimated,
                "variance_estimated": g.variance_estimated,
            })
        })
        .collect();
    let parameters = |i: &irtlab::prediction::FittedItem| {
        let dichotomous = i.categories.len() == 2;
        let one_or_all = |values: &[f64]| -> serde_json::Value {
            if dichotomous {
                values
                    .first()
                    .map_or(serde_json::Value::Null, |v| serde_json::json!(v))
            } else {
                serde_json::json!(values)
            }
        };
        serde_json::json!({
            "model": i.model.name(),
            "a": i.irt.a,
            "b": one_or_all(&i.irt.b),
            "d": one_or_all(&i.irt.d),
            "c": i.irt.c,
            "u": i.irt.u,
        })
    };
    let items: Vec<serde_json::Value> = c
        .items
        .iter()
        .map(|item| {
            let mut value = item
                .by_group
                .first()
                .map(&parameters)
                .unwrap_or(serde_json::Value::Null);
            if let serde_json::Value::Object(map) = &mut value {
                map.insert("item".into(), serde_json::json!(item.item));
                map.insert("differs".into(), serde_json::json!(item.differs));
                if item.differs {
                    let by_group: serde_json::Map<String, serde_json::Value> = c
                        .groups
                        .iter()
                        .zip(&item.by_group)
                        .map(|(g, i)| (g.group.clone(), parameters(i)))
                        .collect();
                    map.insert("by_group".into(), serde_json::Value::Object(by_group));
                }
            }
            value
        })
        .collect();
    let mut out = serde_json::json!({
        "model": c.model_label(),
        "invariance": c.model.level().map(Invariance::name),
        "group_column": c.column,
        "log_likelihood": c.log_likelihood,
        "aic": c.aic,
        "bic": c.bic,
        "parameters": c.parameters,
        "cycles": c.cycles,
        "converged": c.converged,
        "n_persons": c.n_persons,
        "n_persons_without_group": c.n_persons_without_group,
        "n_persons_other_group": c.n_persons_other_group,
        "groups": groups_json,
        "items": items,
    });
    if let (Some(ladder), serde_json::Value::Object(map)) = (ladder, &mut out) {
        map.insert("ladder".into(), ladder_json(ladder));
    }
    out
}

fn ladder_json(ladder: &InvarianceLadder) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = ladder
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "level": s.level.name(),
                "log_likelihood": s.log_likelihood,
                "aic": s.aic,
                "bic": s.bic,
                "parameters": s.parameters,
                "converged": s.converged,
                "lr_statistic": s.test.map(|t| number(t.statistic)),
                "lr_df": s.test.map(|t| t.df),
                "lr_p": s.test.map(|t| number(t.p)),
            })
        })
        .collect();
    serde_json::json!({
        "steps": steps,
        "supported": ladder.supported(0.05).name(),
    })
}

/// The human-readable summary of a multiple-group fit.
pub(super) fn group_fit_summary(
    analysis: &GroupAnalysis,
    ladder: Option<&InvarianceLadder>,
) -> String {
    let mut out = String::new();
    if let Some(ladder) = ladder {
        let _ = writeln!(out, "invariance ladder ({} persons):", ladder.n_persons);
        let _ = writeln!(
            out,
            "{:<11} {:>14} {:>12} {:>12} {:>5}   LR test against the level before",
            "level", "log-lik", "AIC", "BIC", "k"
        );
        for s in &ladder.steps {
            let _ = writeln!(
                out,
                "{:<11} {:>14.3} {:>12.2} {:>12.2} {:>5}   {}",
                s.level.name(),
                s.log_likelihood,
                s.aic,
                s.bic,
                s.parameters,
                s.test
                    .map(|t| format!(
                        "χ² {:.3}, df {}, p {}",
                        t.statistic,
                        t.df,
                        format_number(t.p, 5)
                    ))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(
            out,
            "supported at α = 0.05: {}\n",
            ladder.supported(0.05).label()
        );
    }
    calibration_summary(&mut out, &analysis.calibration);
    out
}

fn calibration_summary(out: &mut String, c: &GroupCalibration) {
    let _ = writeln!(
        out,
        "{} multiple-group fit by {}: {} persons, {} items{}",
        c.model_label(),
        irtlab::text::quoted(&c.column),
        c.n_persons,
        c.items.len(),
        if c.n_persons_without_group + c.n_persons_other_group > 0 {
            format!(
                "; left out: {} without a group, {} in other groups",
                c.n_persons_without_group, c.n_persons_other_group
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "log-likelihood {:.3}   AIC {:.2}   BIC {:.2}   parameters {}",
        c.log_likelihood, c.aic, c.bic, c.parameters
    );
    let _ = writeln!(
        out,
        "EM cycles {}   {}",
        c.cycles,
        if c.converged {
            "converged"
        } else {
            "NOT converged"
        }
    );
    for g in &c.groups {
        let _ = writeln!(
            out,
            "group {}: {} persons, latent mean {:.4}{}, variance {:.4}{}",
            g.group,
            g.n,
            g.mean,
            if g.mean_estimated { "" } else { " (fixed)" },
            g.variance,
            if g.variance_estimated { "" } else { " (fixed)" },
        );
    }
    let width = c
        .items
        .iter()
        .map(|i| i.item.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    for item in &c.items {
        for (g, fitted) in c.groups.iter().zip(&item.by_group) {
            let _ = writeln!(
                out,
                "{:<width$}  {:<8} a {:>8}  b {}",
                item.item,
                if item.differs {
                    g.group.as_str()
                } else {
                    "all"
                },
                fitted
                    .irt
                    .a
                    .map_or_else(|| "-".to_string(), |a| format!("{a:.3}")),
                fitted
                    .irt
                    .b
                    .iter()
                    .map(|b| format!("{b:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if !item.differs {
                break;
            }
        }
    }
}

/// The group outputs of `irtlab run`: `dif.csv` when the project holds a DIF analysis,
/// `group_items.csv` when its group setting names an invariance level.
pub(super) struct ProjectGroupOutputs {
    dif: bool,
    calibration: bool,
}

impl ProjectGroupOutputs {
    /// Adds the project's group outputs under `folder` to the set (checked before any work).
    pub(super) fn add(
        outputs: &mut OutputSet,
        folder: &Path,
        project: &Project,
    ) -> Result<ProjectGroupOutputs> {
        let calibration = project
            .groups
            .as_ref()
            .is_some_and(|g| g.invariance.is_some());
        if calibration {
            outputs.add_path(&folder.join("group_items.csv"), "group_items", false)?;
        }
        let dif = project.dif.is_some();
        if dif {
            outputs.add_path(&folder.join("dif.csv"), "dif", false)?;
        }
        Ok(ProjectGroupOutputs { dif, calibration })
    }

    /// Runs the group analyses, prints their summaries (to stderr with `--json`, whose stdout
    /// holds the single-group summary) and returns the tables in the order they were added.
    pub(super) fn run(
        &self,
        project: &Project,
        prepared: &Prepared,
        matrix: &ResponseMatrix,
        json: bool,
    ) -> Result<Vec<DataFrame>> {
        if !self.dif && !self.calibration {
            return Ok(Vec::new());
        }
        let cycles = CycleProgress::new(project.model.max_cycles);
        let bar = DifBar::new();
        let result = project::run_group_analyses(
            project,
            prepared,
            matrix,
            &mut |p| match p {
                GroupProgress::Calibration(p) => cycles.update(p),
                GroupProgress::Dif(p) => bar.update(&p),
            },
            &INTERRUPTED,
        );
        cycles.finish();
        bar.finish();
        let results = match result {
            Err(project::ProjectError::Prediction(PredictionError::Cancelled)) => {
                bail!("interrupted; nothing was written")
            }
            other => other?,
        };
        let mut frames = Vec::new();
        let Some(results) = results else {
            return Ok(frames);
        };
        let mut text = String::new();
        if let Some(analysis) = &results.calibration {
            calibration_summary(&mut text, &analysis.calibration);
            frames.push(analysis.items_table()?);
        }
        if let Some(report) = &results.dif {
            text.push_str(&dif_summary(report));
            frames.push(dif::dif_table(report)?);
        }
        if json {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
        Ok(frames)
    }
}
