//! The classical commands: `irtlab items-ctt` (classical item analysis and, with a key,
//! distractor analysis of a data file) and `irtlab report` (the whole analysis of a project as
//! one self-contained HTML file), plus the classical tables `irtlab run` writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use irtlab::export::OutputSet;
use irtlab::prediction::ResponseMatrix;
use irtlab::prediction::classical::{ClassicalAnalysis, ClassicalSettings, classical_analysis};
use irtlab::prediction::distractors::{
    DistractorAnalysis, DistractorSettings, distractor_analysis, fit_nominal_overlay,
    key_from_table, score_by_key,
};
use irtlab::preparation::Source;
use irtlab::preprocessing::KeyEntry;
use irtlab::project;
use irtlab::report::{ReportInputs, now_utc, render_report, write_report};

use super::{
    CycleProgress, INTERRUPTED, add_output, analyse_with_progress, check_interrupted, load_project,
    prepare_with_interrupts, print_preparation, project_inputs, report_warnings,
};

/// Arguments of `irtlab items-ctt`.
#[derive(clap::Args, Debug)]
pub(super) struct ItemsCttArgs {
    /// The data: a wide table (CSV, Parquet or SQLite with one table), one row per person.
    /// Scored responses (0/1 or 0…K−1), or unscored answers when --key is given.
    data: PathBuf,
    /// The answer key (CSV: columns item,key — or one row with a column per item). The data
    /// are then the unscored answers: they are scored by the key for the item table, and the
    /// distractor analysis is made.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The person-id column (row numbers are used without it).
    #[arg(long)]
    id: Option<String>,
    /// Item columns, comma-separated (default: every column but the id; with --key, the keyed
    /// items).
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    /// Total-score groups of the upper–lower index (2–10).
    #[arg(long, default_value_t = 3)]
    uli_groups: usize,
    /// Total-score groups of the distractor analysis (2–10; 3–5 usual).
    #[arg(long, default_value_t = 3)]
    groups: usize,
    /// The options every item offers, comma-separated (e.g. A,B,C,D), for the "never chosen"
    /// flag (default: every answer seen in any item, plus the keys).
    #[arg(long, value_delimiter = ',')]
    options: Option<Vec<String>>,
    /// Print one JSON object (items, test, distractors) instead of text.
    #[arg(long)]
    json: bool,
    /// Write the item table here (.csv, .parquet, or .sqlite/.db).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the test table here.
    #[arg(long)]
    test_out: Option<PathBuf>,
    /// Write each person's total and standard scores here.
    #[arg(long)]
    scores_out: Option<PathBuf>,
    /// Write the distractor table (needs --key) here.
    #[arg(long)]
    distractors_out: Option<PathBuf>,
    /// Replace SQLite tables that exist.
    #[arg(long)]
    replace_table: bool,
}

/// Arguments of `irtlab report`.
#[derive(clap::Args, Debug)]
pub(super) struct ReportArgs {
    /// The project file (*.irtlab.json).
    project: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
    /// An answer key table for the distractor analysis when the project has no score-by-key
    /// step (the project's response columns are then the unscored answers).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Fit the nominal model to the unscored answers and draw its option curves over the
    /// distractor plots.
    #[arg(long)]
    nominal: bool,
    /// The report's title (default: the project file's name).
    #[arg(long)]
    title: Option<String>,
}

fn read_key(path: &Path) -> Result<Vec<KeyEntry>> {
    let frame = Source::for_file(path)?.load(None)?;
    key_from_table(&frame).with_context(|| format!("{}", path.display()))
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// The classical analysis as text: the test, which persons, the items.
pub(super) fn classical_text(classical: &ClassicalAnalysis) -> String {
    let mut out = String::new();
    for (name, value, persons) in classical.test_rows() {
        let decimals = if value.is_some_and(|v| v.fract() == 0.0) {
            0
        } else {
            3
        };
        let _ = writeln!(
            out,
            "{name:<40} {:>10}   ({persons} persons)",
            cell(value, decimals)
        );
    }
    for b in &classical.basis {
        let _ = writeln!(out, "persons used — {}: {}", b.statistic, b.rule);
    }
    let width = classical
        .items
        .iter()
        .map(|i| i.item.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$} {:>7} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "item", "n", "max", "mean", "diff", "sd", "RIT", "RIR", "ULI", "a-drop", "%miss", "%notr"
    );
    for i in &classical.items {
        let _ = writeln!(
            out,
            "{:<width$} {:>7} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7.1} {:>7.1}",
            i.item,
            i.n_answered,
            i.max_score,
            cell(i.mean, 3),
            cell(i.difficulty, 3),
            cell(i.sd, 3),
            cell(i.rit, 3),
            cell(i.rir, 3),
            cell(i.uli, 3),
            cell(i.alpha_if_dropped, 3),
            i.missing_percent,
            i.not_reached_percent
        );
    }
    out
}

/// The distractor analysis as text: the groups and the flagged items.
pub(super) fn distractor_text(distractors: &DistractorAnalysis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "distractor analysis: {} persons, {} keyed items; score groups {}",
        distractors.n_persons,
        distractors.items.len(),
        distractors.group_labels().join(", ")
    );
    let flagged: Vec<_> = distractors
        .items_flagged_first()
        .into_iter()
        .filter(|i| !i.flags.is_empty())
        .collect();
    if flagged.is_empty() {
        out.push_str("no item is flagged\n");
    }
    for item in flagged {
        let _ = writeln!(
            out,
            "{} (key {}, {:.3} correct, key point-biserial {}): {}",
            item.item,
            item.key,
            item.proportion_correct,
            cell(item.key_option().and_then(|k| k.point_biserial), 3),
            item.flags_text()
        );
    }
    out
}

pub(super) fn items_ctt(args: ItemsCttArgs) -> Result<()> {
    let mut inputs = vec![args.data.clone()];
    inputs.extend(args.key.clone());
    let mut outputs = OutputSet::new(inputs);
    let want_items = add_output(&mut outputs, args.out.as_deref(), "ctt", args.replace_table)?;
    let want_test = add_output(
        &mut outputs,
        args.test_out.as_deref(),
        "ctt_test",
        args.replace_table,
    )?;
    let want_scores = add_output(
        &mut outputs,
        args.scores_out.as_deref(),
        "standard_scores",
        args.replace_table,
    )?;
    if args.distractors_out.is_some() && args.key.is_none() {
        bail!(
            "--distractors-out needs --key: the distractor analysis reads the unscored answers and their key"
        );
    }
    let want_distractors = add_output(
        &mut outputs,
        args.distractors_out.as_deref(),
        "distractors",
        args.replace_table,
    )?;
    let settings = ClassicalSettings {
        uli_groups: args.uli_groups,
        ..ClassicalSettings::default()
    };
    settings.validate()?;
    let distractor_settings = DistractorSettings {
        groups: args.groups,
        options: args.options.clone().unwrap_or_default(),
    };
    distractor_settings.validate()?;
    let key = args.key.as_deref().map(read_key).transpose()?;
    let frame = Source::for_file(&args.data)?.load_cancellable(None, Some(INTERRUPTED.clone()))?;
    check_interrupted()?;
    let (scored, distractors) = match &key {
        Some(key) => {
            let key: Vec<KeyEntry> = match &args.items {
                Some(items) => key
                    .iter()
                    .filter(|k| items.contains(&k.column))
                    .cloned()
                    .collect(),
                None => key.clone(),
            };
            let columns: Vec<String> = key.iter().map(|k| k.column.clone()).collect();
            let answers =
                ResponseMatrix::from_dataframe(&frame, args.id.as_deref(), Some(&columns))
                    .with_context(|| format!("{}", args.data.display()))?;
            let distractors = distractor_analysis(&answers, &key, &distractor_settings)?;
            (score_by_key(&answers, &key)?, Some(distractors))
        }
        None => (
            ResponseMatrix::from_dataframe(&frame, args.id.as_deref(), args.items.as_deref())
                .with_context(|| format!("{}", args.data.display()))?,
            None,
        ),
    };
    drop(frame);
    let classical = classical_analysis(&scored, &settings)?;
    if args.json {
        let mut value = serde_json::json!({
            "test": classical.test,
            "items": classical.items,
            "persons_used": classical.basis,
        });
        if let Some(d) = &distractors {
            value["distractors"] = serde_json::json!({
                "groups": d.group_labels(),
                "group_sizes": d.group_sizes,
                "items": d.items,
            });
        }
        println!("{value}");
    } else {
        print!("{}", classical_text(&classical));
        if let Some(d) = &distractors {
            print!("{}", distractor_text(d));
        }
    }
    let mut frames = Vec::new();
    if want_items {
        frames.push(classical.items_table()?);
    }
    if want_test {
        frames.push(classical.test_table()?);
    }
    if want_scores {
        frames.push(classical.standard_scores_table()?);
    }
    if want_distractors && let Some(d) = &distractors {
        frames.push(d.table()?);
    }
    check_interrupted()?;
    outputs.write(&mut frames)?;
    Ok(())
}

/// Adds `ctt.csv`, `ctt_test.csv` and (with a key) `distractors.csv` in `folder` to a run's
/// outputs.
pub(super) fn add_classical_outputs(
    outputs: &mut OutputSet,
    folder: &Path,
    with_distractors: bool,
) -> Result<()> {
    outputs.add_path(&folder.join("ctt.csv"), "ctt", false)?;
    outputs.add_path(&folder.join("ctt_test.csv"), "ctt_test", false)?;
    if with_distractors {
        outputs.add_path(&folder.join("distractors.csv"), "distractors", false)?;
    }
    Ok(())
}

pub(super) fn report(args: ReportArgs) -> Result<()> {
    let (project, base) = load_project(&args.project)?;
    let mut inputs = project_inputs(&args.project, &project, base.as_deref());
    inputs.extend(args.key.clone());
    irtlab::export::check_document_output(&args.out, &inputs)?;
    let key_table = args.key.as_deref().map(read_key).transpose()?;
    let prepared = prepare_with_interrupts(&project, base.as_deref())?;
    print_preparation(&project, &prepared);
    let matrix = project::response_matrix(&project, &prepared)?;
    let classical_run = project::classical_run(&project, &prepared, &matrix, key_table.as_deref())?;
    let analysis = analyse_with_progress(&matrix, &project.model, project.scoring)?;
    report_warnings(&analysis);
    // What the project asks for beside the fit: fit statistics and DIF.
    let fit_statistics =
        super::diagnostics::compute(project.diagnostics.as_ref(), &matrix, &analysis.calibration)?;
    let group_results = if project.dif.is_some() {
        eprintln!("running the DIF analysis");
        match project::run_group_analyses(&project, &prepared, &matrix, &mut |_| {}, &INTERRUPTED) {
            Ok(results) => results,
            Err(project::ProjectError::Prediction(
                irtlab::prediction::PredictionError::Cancelled,
            )) => {
                bail!("interrupted; nothing was written")
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let overlay = match (&classical_run.distractors, &classical_run.distractor_input) {
        (Some(d), Some(input)) if args.nominal => {
            eprintln!("fitting the nominal model to the unscored answers");
            let bar = CycleProgress::new(project.model.max_cycles);
            let result =
                fit_nominal_overlay(&input.answers, d, &mut |p| bar.update(p), &INTERRUPTED);
            bar.finish();
            match result {
                Ok(overlay) => Some(overlay),
                Err(irtlab::prediction::PredictionError::Cancelled) => {
                    bail!("interrupted; nothing was written")
                }
                Err(e) => {
                    eprintln!(
                        "warning: the nominal model could not be fitted ({e}); the distractor plots show the groups only"
                    );
                    None
                }
            }
        }
        _ => None,
    };
    if args.nominal && classical_run.distractors.is_none() {
        eprintln!(
            "warning: --nominal needs a key (a score-by-key step, the project's key or --key); no distractor analysis was made"
        );
    }
    check_interrupted()?;
    let folder = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The embedded project names its data relative to the report's folder when it can.
    let mut embedded = project.clone();
    embedded.source = project.resolved_source(base.as_deref());
    let title = args.title.clone().unwrap_or_else(|| {
        let name = args
            .project
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        format!(
            "Analysis report: {}",
            name.trim_end_matches(".json").trim_end_matches(".irtlab")
        )
    });
    let html = render_report(&ReportInputs {
        title,
        generated: Some(now_utc()),
        project: Some(&project),
        project_json: Some(embedded.to_json(Some(folder))),
        prepared: Some(&prepared),
        matrix: Some(&matrix),
        classical: Some(&classical_run.classical),
        distractors: classical_run.distractors.as_ref(),
        distractor_source: classical_run
            .distractor_input
            .as_ref()
            .map(|i| i.describe(&project)),
        nominal_overlay: overlay.as_ref(),
        analysis: Some(&analysis),
        extras: irtlab::report::ReportExtras {
            item_fit: fit_statistics
                .as_ref()
                .map(irtlab::report_sections::fit_section),
            dif: group_results
                .as_ref()
                .and_then(|g| g.dif.as_ref())
                .map(irtlab::report_sections::dif_section),
            ..irtlab::report::ReportExtras::default()
        },
        ..ReportInputs::default()
    })?;
    write_report(&args.out, &html, &inputs)?;
    eprintln!(
        "wrote {} ({})",
        args.out.display(),
        irtlab::text::human_bytes(html.len() as f64)
    );
    Ok(())
}
