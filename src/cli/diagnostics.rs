//! Fit statistics on the command line: `irtlab fit … --diagnostics` (statistics in the text
//! summary and in `--json`, the item-fit and local-dependence tables, Zh in the scores table),
//! the diagnostics of `irtlab run` for projects that ask for them, and `irtlab compare`, which
//! fits several models to the same data and compares them with likelihood-ratio tests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::prelude::{Column, DataFrame};
use serde_json::{Value, json};

use irtlab::export::OutputSet;
use irtlab::prediction::diagnostics::{
    Diagnostics, DiagnosticsOptions, ModelComparison, diagnose, fit_and_compare,
};
use irtlab::prediction::p_adjust::PAdjust;
use irtlab::prediction::{
    Calibration, FitSettings, ItemType, PredictionError, ResponseMatrix, StandardErrorMethod,
};
use irtlab::preparation::Source;

use super::{CycleProgress, INTERRUPTED, check_interrupted, parse_item_type};

/// The diagnostics options of `irtlab fit`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiagnosticsArgs {
    /// Compute the fit statistics after the fit: M2/M2*/C2 with RMSEA, SRMSR, CFI, TLI; S-X²,
    /// Q1, Zh, infit/outfit per item; Q3 and LD χ²; reliabilities; the summed-score table.
    #[arg(long)]
    diagnostics: bool,
    /// Write the item-fit table here (item, s_x2, s_x2_df, s_x2_p, s_x2_rmsea, q1, q1_df, q1_p,
    /// zh, infit, infit_t, outfit, outfit_t); implies --diagnostics.
    #[arg(long, value_name = "FILE")]
    item_fit_out: Option<PathBuf>,
    /// Write the local-dependence pairs here (item1, item2, q3, q3_star, ld_x2, cramers_v);
    /// implies --diagnostics.
    #[arg(long, value_name = "FILE")]
    ld_out: Option<PathBuf>,
    /// Adjustment of the item-fit (and LD χ²) p-values: none, holm, bh (Benjamini–Hochberg),
    /// bonferroni.
    #[arg(long, default_value = "none", value_parser = parse_p_adjust)]
    p_adjust: PAdjust,
}

fn parse_p_adjust(text: &str) -> Result<PAdjust, String> {
    PAdjust::parse(text).ok_or_else(|| {
        format!(
            "unknown p-value adjustment \"{}\"; use none, holm, bh or bonferroni",
            irtlab::text::shorten(text, 30)
        )
    })
}

impl DiagnosticsArgs {
    /// The options, when any diagnostics were asked for.
    pub fn options(&self) -> Option<DiagnosticsOptions> {
        (self.diagnostics || self.item_fit_out.is_some() || self.ld_out.is_some()).then(|| {
            DiagnosticsOptions {
                p_adjust: self.p_adjust,
                ..DiagnosticsOptions::default()
            }
        })
    }

    /// Adds the item-fit and LD tables to the outputs (checked before anything is computed).
    pub fn add_outputs(&self, outputs: &mut OutputSet, replace_table: bool) -> Result<()> {
        if let Some(path) = &self.item_fit_out {
            outputs.add_path(path, "item_fit", replace_table)?;
        }
        if let Some(path) = &self.ld_out {
            outputs.add_path(path, "local_dependence", replace_table)?;
        }
        Ok(())
    }

    /// The frames of the outputs added by [`DiagnosticsArgs::add_outputs`], in that order.
    pub fn frames(&self, diagnostics: Option<&Diagnostics>) -> Result<Vec<DataFrame>> {
        let mut frames = Vec::new();
        let Some(diagnostics) = diagnostics else {
            return Ok(frames);
        };
        if self.item_fit_out.is_some() {
            frames.push(item_fit_frame(diagnostics)?);
        }
        if self.ld_out.is_some() {
            frames.push(local_dependence_frame(diagnostics)?);
        }
        Ok(frames)
    }
}

/// Runs the diagnostics with Ctrl+C as the cancel flag.
pub fn compute(
    options: Option<&DiagnosticsOptions>,
    responses: &ResponseMatrix,
    calibration: &Calibration,
) -> Result<Option<Diagnostics>> {
    let Some(options) = options else {
        return Ok(None);
    };
    match diagnose(responses, calibration, options, &mut |_| {}, &INTERRUPTED) {
        Ok(diagnostics) => {
            for note in &diagnostics.notes {
                eprintln!("note: {}: {}", note.statistic, note.message);
            }
            Ok(Some(diagnostics))
        }
        Err(PredictionError::Cancelled) => bail!("interrupted; nothing was written"),
        Err(other) => Err(other).context("fit statistics"),
    }
}

/// The scores table with each person's Zh added (unchanged without diagnostics).
pub fn scores_with_zh(
    mut scores: DataFrame,
    diagnostics: Option<&Diagnostics>,
) -> Result<DataFrame> {
    if let Some(diagnostics) = diagnostics {
        let zh = diagnostics.person_zh();
        if zh.len() != scores.height() {
            bail!(
                "the scores table has {} rows but the fit statistics {} persons",
                scores.height(),
                zh.len()
            );
        }
        scores
            .with_column(Column::new("zh".into(), zh))
            .context("adding zh to the scores table")?;
    }
    Ok(scores)
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The item-fit table.
pub fn item_fit_frame(diagnostics: &Diagnostics) -> Result<DataFrame> {
    let rows = &diagnostics.item_fit;
    let column =
        |name: &str, f: &dyn Fn(&irtlab::prediction::diagnostics::ItemFit) -> Option<f64>| {
            Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
        };
    let columns = vec![
        Column::new(
            "item".into(),
            rows.iter().map(|r| r.item.as_str()).collect::<Vec<_>>(),
        ),
        column("s_x2", &|r| r.s_x2.as_ref().and_then(|t| finite(t.value))),
        column("s_x2_df", &|r| r.s_x2.as_ref().map(|t| t.df)),
        column("s_x2_p", &|r| {
            r.s_x2.as_ref().and_then(|t| finite(t.p_adjusted))
        }),
        column("s_x2_rmsea", &|r| {
            r.s_x2.as_ref().and_then(|t| finite(t.rmsea))
        }),
        column("q1", &|r| r.q1.as_ref().and_then(|t| finite(t.value))),
        column("q1_df", &|r| r.q1.as_ref().map(|t| t.df)),
        column("q1_p", &|r| {
            r.q1.as_ref().and_then(|t| finite(t.p_adjusted))
        }),
        column("zh", &|r| finite(r.zh)),
        column("infit", &|r| finite(r.infit)),
        column("infit_t", &|r| finite(r.infit_t)),
        column("outfit", &|r| finite(r.outfit)),
        column("outfit_t", &|r| finite(r.outfit_t)),
    ];
    DataFrame::new(rows.len(), columns).context("building the item-fit table")
}

/// The local-dependence pairs (empty when Q3 and the LD χ² were not computed).
pub fn local_dependence_frame(diagnostics: &Diagnostics) -> Result<DataFrame> {
    let pairs = diagnostics
        .local_dependence
        .as_ref()
        .map(|l| l.pairs())
        .unwrap_or_default();
    let text = |f: &dyn Fn(&irtlab::prediction::diagnostics::LocalDependencePair) -> &str| {
        pairs.iter().map(f).collect::<Vec<_>>()
    };
    let number = |f: &dyn Fn(&irtlab::prediction::diagnostics::LocalDependencePair) -> f64| {
        pairs.iter().map(|p| finite(f(p))).collect::<Vec<_>>()
    };
    let columns = vec![
        Column::new("item1".into(), text(&|p| p.item1.as_str())),
        Column::new("item2".into(), text(&|p| p.item2.as_str())),
        Column::new("q3".into(), number(&|p| p.q3)),
        Column::new("q3_star".into(), number(&|p| p.q3_star)),
        Column::new("ld_x2".into(), number(&|p| p.ld_x2)),
        Column::new("cramers_v".into(), number(&|p| p.cramers_v)),
    ];
    DataFrame::new(pairs.len(), columns).context("building the local-dependence table")
}

/// The overall statistics as JSON fields: `model_fit`, `full_information`, `reliability`,
/// `sum_score_table`, `aicc`, `sabic`, plus the notes and the flagged items and pairs.
pub fn overall_json(diagnostics: &Diagnostics) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    if let Some(m) = &diagnostics.model_fit {
        out.insert(
            "model_fit".into(),
            json!({
                "statistic": m.statistic.name(),
                "value": m.value,
                "df": m.df,
                "p": m.p,
                "rmsea": m.rmsea,
                "rmsea_ci": m.rmsea_ci,
                "srmsr": m.srmsr,
                "cfi": m.cfi,
                "tli": m.tli,
            }),
        );
    }
    if let Some(g) = &diagnostics.full_information {
        out.insert(
            "full_information".into(),
            json!({"g2": g.g2, "df": g.df, "p": g.p, "rmsea": g.rmsea, "cfi": g.cfi, "tli": g.tli}),
        );
    }
    if let Some(r) = &diagnostics.reliability {
        out.insert(
            "reliability".into(),
            json!({"marginal": r.marginal, "empirical": r.empirical, "sum_score": r.sum_score}),
        );
        let table: Vec<Value> = r
            .sum_score_table
            .iter()
            .map(|row| {
                json!({
                    "sum_score": row.sum_score,
                    "theta": row.theta,
                    "theta_se": row.theta_se,
                    "observed": row.observed,
                    "expected": row.expected,
                })
            })
            .collect();
        out.insert("sum_score_table".into(), Value::Array(table));
    }
    out.insert("aicc".into(), json!(diagnostics.information_criteria.aicc));
    out.insert(
        "sabic".into(),
        json!(diagnostics.information_criteria.sabic),
    );
    out.insert(
        "misfitting_items".into(),
        json!(
            diagnostics
                .flagged_items()
                .iter()
                .map(|i| i.item.as_str())
                .collect::<Vec<_>>()
        ),
    );
    if let Some(ld) = &diagnostics.local_dependence {
        let pairs: Vec<Value> = ld
            .flagged
            .iter()
            .map(|p| json!({"item1": p.item1, "item2": p.item2, "q3_star": p.q3_star}))
            .collect();
        out.insert("local_dependence_flagged".into(), Value::Array(pairs));
    }
    let notes: Vec<String> = diagnostics
        .notes
        .iter()
        .map(|n| format!("{}: {}", n.statistic, n.message))
        .collect();
    out.insert("diagnostic_notes".into(), json!(notes));
    out
}

/// Adds the statistics to the `--json` object of a fit: the overall fields, and per item
/// `s_x2`, `s_x2_df`, `s_x2_p`, `zh`, `infit`, `outfit`.
pub fn extend_json(object: &mut Value, diagnostics: Option<&Diagnostics>) {
    let Some(diagnostics) = diagnostics else {
        return;
    };
    let Some(map) = object.as_object_mut() else {
        return;
    };
    map.extend(overall_json(diagnostics));
    if let Some(Value::Array(items)) = map.get_mut("items") {
        for item in items {
            let Some(entry) = item.as_object_mut() else {
                continue;
            };
            let name = entry
                .get("item")
                .and_then(Value::as_str)
                .map(str::to_string);
            let Some(fit) = diagnostics
                .item_fit
                .iter()
                .find(|f| Some(f.item.as_str()) == name.as_deref())
            else {
                continue;
            };
            entry.insert("s_x2".into(), json!(fit.s_x2.as_ref().map(|t| t.value)));
            entry.insert("s_x2_df".into(), json!(fit.s_x2.as_ref().map(|t| t.df)));
            entry.insert(
                "s_x2_p".into(),
                json!(fit.s_x2.as_ref().map(|t| t.p_adjusted)),
            );
            entry.insert("zh".into(), json!(fit.zh));
            entry.insert("infit".into(), json!(fit.infit));
            entry.insert("outfit".into(), json!(fit.outfit));
        }
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// The statistics as text, after the fit summary.
pub fn summary(diagnostics: &Diagnostics) -> String {
    let mut out = String::new();
    let ic = &diagnostics.information_criteria;
    let _ = writeln!(
        out,
        "\nAICc {}   SABIC {:.2}   HQ {:.2}",
        number(Some(ic.aicc), 2),
        ic.sabic,
        ic.hq
    );
    match &diagnostics.model_fit {
        Some(m) => {
            let _ = writeln!(
                out,
                "{} = {:.3}, df {}, p {}; RMSEA {:.4} [{:.4}, {:.4}]; SRMSR {}; CFI {}; TLI {}",
                m.statistic.name(),
                m.value,
                m.df,
                number(Some(m.p), 4),
                m.rmsea,
                m.rmsea_ci[0],
                m.rmsea_ci[1],
                number(m.srmsr, 4),
                number(m.cfi, 4),
                number(m.tli, 4)
            );
        }
        None => {
            let _ = writeln!(out, "limited-information fit: not computed (see the notes)");
        }
    }
    if let Some(g) = &diagnostics.full_information {
        let _ = writeln!(
            out,
            "full information: G2 = {:.3}, df {}, p {}; RMSEA {:.4}; CFI {:.4}; TLI {:.4}",
            g.g2,
            g.df,
            number(Some(g.p), 4),
            g.rmsea,
            g.cfi,
            g.tli
        );
    }
    if let Some(r) = &diagnostics.reliability {
        let _ = writeln!(
            out,
            "reliability: marginal {:.4}, empirical {:.4}, summed-score {}",
            r.marginal,
            r.empirical,
            number(r.sum_score, 4)
        );
    }
    let width = diagnostics
        .item_fit
        .iter()
        .map(|i| i.item.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:>9} {:>4} {:>8} {:>8} {:>7} {:>7} {:>7}",
        "item", "S-X2", "df", "p", "RMSEA", "Zh", "infit", "outfit"
    );
    for item in &diagnostics.item_fit {
        let test = item.s_x2.as_ref();
        let _ = writeln!(
            out,
            "{:<width$}  {:>9} {:>4} {:>8} {:>8} {:>7} {:>7} {:>7}{}",
            item.item,
            number(test.map(|t| t.value), 3),
            number(test.map(|t| t.df), 0),
            number(test.map(|t| t.p_adjusted), 4),
            number(test.map(|t| t.rmsea), 4),
            number(Some(item.zh), 2),
            number(Some(item.infit), 2),
            number(Some(item.outfit), 2),
            if item.flagged { "  misfit" } else { "" }
        );
    }
    if let Some(ld) = &diagnostics.local_dependence {
        if ld.flagged.is_empty() {
            let _ = writeln!(
                out,
                "local dependence: no pair with Q3* above {}",
                ld.threshold
            );
        } else {
            let _ = writeln!(
                out,
                "local dependence: {} pair{} with Q3* above {}:",
                ld.flagged.len(),
                if ld.flagged.len() == 1 { "" } else { "s" },
                ld.threshold
            );
            for pair in ld.flagged.iter().take(20) {
                let _ = writeln!(
                    out,
                    "  {} – {}: Q3 {:.3}, Q3* {:.3}, LD χ² {:.2}",
                    pair.item1, pair.item2, pair.q3, pair.q3_star, pair.ld_x2
                );
            }
        }
    }
    out
}

/// The `model_fit.json` document of `irtlab run`.
pub fn model_fit_document(diagnostics: &Diagnostics) -> Result<String> {
    let mut object = overall_json(diagnostics);
    object.insert(
        "information_criteria".into(),
        serde_json::to_value(diagnostics.information_criteria)?,
    );
    object.insert("persons".into(), json!(diagnostics.persons));
    object.insert("complete_cases".into(), json!(diagnostics.complete_cases));
    Ok(serde_json::to_string_pretty(&Value::Object(object))? + "\n")
}

/// Where `irtlab run` writes the diagnostics of a project that asks for them.
pub fn run_outputs(outputs: &mut OutputSet, folder: &Path) -> Result<()> {
    outputs.add_path(&folder.join("item_fit.csv"), "item_fit", false)?;
    outputs.add_document(&folder.join("model_fit.json"))?;
    Ok(())
}

/// `irtlab compare`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The data: a wide CSV (or Parquet, or SQLite with one table).
    data: PathBuf,
    /// The models, comma-separated (each fitted to every item): rasch, 1pl, 2pl, 3pl, 4pl,
    /// graded, gpcm, pcm, rsm, nominal.
    #[arg(long, value_delimiter = ',', required = true, value_parser = parse_item_type)]
    models: Vec<ItemType>,
    /// The person-id column (row numbers are used without it).
    #[arg(long)]
    id: Option<String>,
    /// Item columns, comma-separated (default: every column but the id).
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    /// Number of quadrature nodes on [−6, 6].
    #[arg(long, default_value_t = 61)]
    quadrature: usize,
    /// EM convergence tolerance.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// At most this many EM cycles per model.
    #[arg(long, default_value_t = 500)]
    max_cycles: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// `irtlab compare`: fits each model, prints the table and the likelihood-ratio tests.
pub fn compare(args: CompareArgs) -> Result<()> {
    let settings = FitSettings {
        quadrature_points: args.quadrature,
        tolerance: args.tolerance,
        max_cycles: args.max_cycles,
        // The comparison needs log-likelihoods only.
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    settings.validate()?;
    let frame = Source::for_file(&args.data)?.load_cancellable(None, Some(INTERRUPTED.clone()))?;
    check_interrupted()?;
    let responses =
        ResponseMatrix::from_dataframe(&frame, args.id.as_deref(), args.items.as_deref())
            .with_context(|| format!("{}", args.data.display()))?;
    drop(frame);
    let bar = CycleProgress::new(args.max_cycles);
    let result = fit_and_compare(
        &responses,
        &settings,
        &args.models,
        &args.data.display().to_string(),
        &mut |_, p| bar.update(p),
        &INTERRUPTED,
    );
    bar.finish();
    let (comparison, calibrations) = match result {
        Err(PredictionError::Cancelled) => bail!("interrupted"),
        other => other?,
    };
    for calibration in &calibrations {
        for warning in &calibration.warnings {
            eprintln!("warning: {}: {warning}", calibration.model_label());
        }
    }
    if args.json {
        println!("{}", comparison_json(&comparison));
    } else {
        print!("{}", comparison_text(&comparison));
    }
    Ok(())
}

/// The comparison as one JSON object: `models` and `tests` (by model label).
pub fn comparison_json(comparison: &ModelComparison) -> Value {
    let models: Vec<Value> = comparison
        .models
        .iter()
        .map(|m| {
            json!({
                "model": m.label,
                "log_likelihood": m.log_likelihood,
                "parameters": m.parameters,
                "persons": m.persons,
                "aic": m.aic,
                "aicc": m.aicc,
                "bic": m.bic,
                "sabic": m.sabic,
                "converged": m.converged,
            })
        })
        .collect();
    let tests: Vec<Value> = comparison
        .tests
        .iter()
        .map(|t| {
            json!({
                "restricted": comparison.models[t.restricted].label,
                "general": comparison.models[t.general].label,
                "chi_square": t.chi_square,
                "df": t.df,
                "p": t.p,
                "note": t.note,
            })
        })
        .collect();
    json!({
        "models": models,
        "tests": tests,
        "best_aic": comparison.best_aic().map(|i| comparison.models[i].label.clone()),
        "best_bic": comparison.best_bic().map(|i| comparison.models[i].label.clone()),
    })
}

/// The comparison as a text table with the tests below it.
pub fn comparison_text(comparison: &ModelComparison) -> String {
    let mut out = String::new();
    let width = comparison
        .models
        .iter()
        .map(|m| m.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:>10} {:>14} {:>12} {:>12} {:>12} {:>12}",
        "model", "parameters", "log-likelihood", "AIC", "AICc", "BIC", "SABIC"
    );
    for m in &comparison.models {
        let _ = writeln!(
            out,
            "{:<width$}  {:>10} {:>14.3} {:>12.2} {:>12.2} {:>12.2} {:>12.2}{}",
            m.label,
            m.parameters,
            m.log_likelihood,
            m.aic,
            m.aicc,
            m.bic,
            m.sabic,
            if m.converged { "" } else { "  (not converged)" }
        );
    }
    if let Some(best) = comparison.best_aic() {
        let _ = writeln!(out, "smallest AIC: {}", comparison.models[best].label);
    }
    if let Some(best) = comparison.best_bic() {
        let _ = writeln!(out, "smallest BIC: {}", comparison.models[best].label);
    }
    if !comparison.tests.is_empty() {
        let _ = writeln!(out, "likelihood-ratio tests:");
    }
    for t in &comparison.tests {
        let _ = writeln!(
            out,
            "  {} vs {}: X2 = {:.3}, df {}, p {}{}",
            comparison.models[t.restricted].label,
            comparison.models[t.general].label,
            t.chi_square,
            t.df,
            number(Some(t.p), 4),
            t.note
                .as_ref()
                .map_or_else(String::new, |n| format!("  ({n})"))
        );
    }
    out
}
