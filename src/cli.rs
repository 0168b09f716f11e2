//! Command-line interface: argument definitions (clap) and the commands, each a thin wrapper
//! over the library with a terminal progress bar.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use irtlab::export::{Destination, export_table, write_table_to};
use irtlab::prediction::{
    self, Analysis, FitSettings, Guessing, ModelKind, Progress, ResponseMatrix, ScoringMethod,
    StandardErrorMethod, tables,
};
use irtlab::preparation::Layout;
use irtlab::preparation::{CsvOptions, read_csv};
use irtlab::project::{self, Prepared, Project};

/// Item Response Theory analysis: prepare data, calibrate Rasch/1PL/2PL/3PL models, score
/// abilities, compute probabilities. Without a subcommand, opens the desktop app.
#[derive(Parser, Debug)]
#[command(name = "irtlab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A data file or project file to open in the app.
    path: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Calibrate an IRT model on a wide CSV (a row per person, a column per item: 0/1/empty)
    /// and score every person.
    Fit(FitArgs),
    /// Compute P(correct) from item parameters, over a θ grid or at given θ values.
    Probabilities(ProbabilitiesArgs),
    /// Rerun a saved project: preparation → preprocessing → calibration → scoring; write the
    /// items, scores and probabilities tables.
    Run(RunArgs),
    /// Run a project's preparation and preprocessing only and write the clean response matrix.
    Prepare(PrepareArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The project file (*.irtlab.json).
    project: PathBuf,
    /// Folder for items.csv, scores.csv and probabilities.csv (created if needed).
    #[arg(long, default_value = "irtlab-output")]
    out: PathBuf,
    /// Print the fit summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct PrepareArgs {
    /// The project file (*.irtlab.json).
    project: PathBuf,
    /// Output file: .csv, .parquet, or .sqlite/.db (a table in a SQLite database).
    #[arg(long)]
    out: PathBuf,
    /// Table name when writing to SQLite.
    #[arg(long, default_value = "responses")]
    table: String,
    /// Replace the SQLite table if it exists.
    #[arg(long)]
    replace_table: bool,
}

#[derive(clap::Args, Debug)]
struct FitArgs {
    /// The wide CSV file.
    data: PathBuf,
    /// Model: rasch, 1pl, 2pl or 3pl.
    #[arg(long, default_value = "2pl", value_parser = parse_model)]
    model: ModelKind,
    /// The person-id column (row numbers are used without it).
    #[arg(long)]
    id: Option<String>,
    /// Item columns, comma-separated (default: every column but the id).
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    /// Number of quadrature nodes on [−6, 6].
    #[arg(long, default_value_t = 61)]
    quadrature: usize,
    /// Stop when the largest parameter change is below this.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// At most this many EM cycles.
    #[arg(long, default_value_t = 500)]
    max_cycles: usize,
    /// Scaling constant D: 1 (logistic) or 1.702 (normal-ogive metric).
    #[arg(long, default_value_t = 1.0)]
    scaling: f64,
    /// Ability estimation: eap, map or ml.
    #[arg(long, default_value = "eap", value_parser = parse_scoring)]
    scoring: ScoringMethod,
    /// 3PL: fix c at this value instead of estimating it.
    #[arg(long)]
    fixed_guessing: Option<f64>,
    /// 3PL: shapes of the Beta prior on c, e.g. 5,17.
    #[arg(long, value_delimiter = ',', num_args = 2)]
    guessing_prior: Option<Vec<f64>>,
    /// Standard errors: hessian, crossprod (quicker for large data) or none.
    #[arg(long, default_value = "hessian", value_parser = parse_se)]
    se: StandardErrorMethod,
    /// Turn SQUAREM acceleration off (plain EM; same estimates, more cycles).
    #[arg(long)]
    no_acceleration: bool,
    /// Write the items table here (.csv or .parquet).
    #[arg(long)]
    items_out: Option<PathBuf>,
    /// Write the scores table here.
    #[arg(long)]
    scores_out: Option<PathBuf>,
    /// Write P(correct) per person × item here.
    #[arg(long)]
    probabilities_out: Option<PathBuf>,
    /// Print one JSON object with the fit summary to stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ProbabilitiesArgs {
    /// Table of item parameters with columns item, a, b and optionally c.
    #[arg(long)]
    item_parameters: PathBuf,
    /// θ grid FROM:TO:STEP.
    #[arg(long, conflicts_with = "scores", allow_hyphen_values = true)]
    theta: Option<String>,
    /// Table with columns id and theta (e.g. written by `irtlab fit --scores-out`).
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Scaling constant D of the parameters.
    #[arg(long, default_value_t = 1.0)]
    scaling: f64,
    /// Output file (.csv or .parquet).
    #[arg(long)]
    out: PathBuf,
}

fn parse_model(text: &str) -> Result<ModelKind, String> {
    ModelKind::parse(text)
        .ok_or_else(|| format!("unknown model \"{text}\"; use rasch, 1pl, 2pl or 3pl"))
}

fn parse_scoring(text: &str) -> Result<ScoringMethod, String> {
    ScoringMethod::parse(text)
        .ok_or_else(|| format!("unknown scoring \"{text}\"; use eap, map or ml"))
}

fn parse_se(text: &str) -> Result<StandardErrorMethod, String> {
    match text.to_ascii_lowercase().as_str() {
        "hessian" => Ok(StandardErrorMethod::Hessian),
        "crossprod" => Ok(StandardErrorMethod::CrossProduct),
        "none" => Ok(StandardErrorMethod::None),
        _ => Err(format!(
            "unknown standard-error method \"{text}\"; use hessian, crossprod or none"
        )),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Fit(args)) => fit(args),
        Some(Command::Probabilities(args)) => probabilities(args),
        Some(Command::Run(args)) => run_project(args),
        Some(Command::Prepare(args)) => prepare_project(args),
        None => open_app(cli.path),
    }
}

#[cfg(feature = "gui")]
fn open_app(path: Option<PathBuf>) -> Result<()> {
    irtlab::app::run_app(path)
}

#[cfg(not(feature = "gui"))]
fn open_app(_path: Option<PathBuf>) -> Result<()> {
    bail!("this irtlab was built without the desktop app (feature `gui`); see `irtlab --help`")
}

/// A terminal progress bar for EM cycles, drawn on stderr only when it is a terminal and only
/// once a fit has run for a moment.
pub struct CycleProgress {
    bar: ProgressBar,
    started: std::time::Instant,
}

impl CycleProgress {
    /// A bar for at most `max_cycles` cycles.
    pub fn new(max_cycles: usize) -> CycleProgress {
        let bar = ProgressBar::with_draw_target(
            Some(max_cycles as u64),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {prefix} {pos}/{len}  log-likelihood {msg}  [{elapsed}]",
        ) {
            bar.set_style(style);
        }
        CycleProgress {
            bar,
            started: std::time::Instant::now(),
        }
    }

    /// Records one cycle.
    pub fn update(&self, progress: Progress) {
        if self.bar.is_hidden() && self.started.elapsed() > Duration::from_millis(500) {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        self.bar.set_position(progress.cycle as u64);
        self.bar
            .set_message(format!("{:.3}", progress.log_likelihood));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn fit(args: FitArgs) -> Result<()> {
    let frame = read_csv(&args.data, &CsvOptions::default())?;
    let responses =
        ResponseMatrix::from_dataframe(&frame, args.id.as_deref(), args.items.as_deref())
            .with_context(|| format!("{}", args.data.display()))?;
    let guessing = match (args.fixed_guessing, &args.guessing_prior) {
        (Some(_), Some(_)) => bail!("give either --fixed-guessing or --guessing-prior, not both"),
        (Some(value), None) => Guessing::Fixed { value },
        (None, Some(shapes)) => Guessing::Prior {
            alpha: shapes[0],
            beta: shapes[1],
        },
        (None, None) => Guessing::default(),
    };
    let settings = FitSettings {
        model: args.model,
        quadrature_points: args.quadrature,
        tolerance: args.tolerance,
        max_cycles: args.max_cycles,
        scaling: args.scaling,
        guessing,
        standard_errors: args.se,
        acceleration: !args.no_acceleration,
        ..FitSettings::default()
    };
    let analysis = analyse_with_progress(&responses, &settings, args.scoring)?;
    report_warnings(&analysis);
    if args.json {
        println!("{}", fit_json(&analysis));
    } else {
        print!("{}", fit_summary(&analysis));
    }
    write_outputs(
        &analysis,
        args.items_out.as_deref(),
        args.scores_out.as_deref(),
        args.probabilities_out.as_deref(),
    )
}

/// Runs [`prediction::analyse`] with a terminal progress bar.
pub fn analyse_with_progress(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    scoring: ScoringMethod,
) -> Result<Analysis> {
    let bar = CycleProgress::new(settings.max_cycles);
    let cancel = AtomicBool::new(false);
    let result = prediction::analyse(
        responses,
        settings,
        scoring,
        &mut |p| bar.update(p),
        &cancel,
    );
    bar.finish();
    Ok(result?)
}

/// Prints the analysis's warnings, and a note on undefined ML scores, to stderr.
pub fn report_warnings(analysis: &Analysis) {
    for warning in &analysis.calibration.warnings {
        eprintln!("warning: {warning}");
    }
    let mut counts = std::collections::BTreeMap::new();
    for score in &analysis.scores {
        if let Some(flag) = score.flag {
            *counts.entry(flag.describe()).or_insert(0usize) += 1;
        }
    }
    for (what, count) in counts {
        eprintln!("warning: {count} persons with {what}: their θ is left empty");
    }
}

fn format_optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// A human-readable summary of a fit.
pub fn fit_summary(analysis: &Analysis) -> String {
    use std::fmt::Write;
    let c = &analysis.calibration;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} fit: {} persons, {} items, {} distinct response patterns",
        c.settings.model,
        c.n_persons,
        c.items.len(),
        c.n_patterns
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
    if c.settings.model == ModelKind::Rasch {
        let _ = writeln!(
            out,
            "latent variance {:.4} (SE {})",
            c.latent_variance,
            format_optional(c.latent_variance_se, 4)
        );
    }
    let _ = writeln!(out, "standard errors: {}", c.standard_errors.describe());
    if let Some(alpha) = analysis.classical.cronbach_alpha {
        let _ = writeln!(
            out,
            "Cronbach's alpha {alpha:.3} ({} persons with complete responses)",
            analysis.classical.alpha_persons
        );
    }
    let width = c
        .items
        .iter()
        .map(|i| i.item.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "item", "a", "b", "c", "d", "a_se", "b_se", "c_se"
    );
    for item in &c.items {
        let _ = writeln!(
            out,
            "{:<width$}  {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8} {:>8} {:>8}",
            item.item,
            item.a,
            item.b,
            item.c,
            item.d,
            format_optional(item.a_se, 3),
            format_optional(item.b_se, 3),
            format_optional(item.c_se, 3)
        );
    }
    for excluded in &c.excluded_items {
        let _ = writeln!(
            out,
            "{:<width$}  left out: {}",
            excluded.item, excluded.reason
        );
    }
    out
}

/// The `--json` summary object.
pub fn fit_json(analysis: &Analysis) -> String {
    let c = &analysis.calibration;
    let items: Vec<serde_json::Value> = c
        .items
        .iter()
        .map(|i| serde_json::json!({"item": i.item, "a": i.a, "b": i.b, "c": i.c, "d": i.d}))
        .collect();
    serde_json::json!({
        "model": c.settings.model.name(),
        "log_likelihood": c.log_likelihood,
        "aic": c.aic,
        "bic": c.bic,
        "parameters": c.parameters,
        "cycles": c.cycles,
        "converged": c.converged,
        "items": items,
    })
    .to_string()
}

/// Writes whichever of the items, scores and probabilities tables were asked for.
pub fn write_outputs(
    analysis: &Analysis,
    items_out: Option<&Path>,
    scores_out: Option<&Path>,
    probabilities_out: Option<&Path>,
) -> Result<()> {
    if let Some(path) = items_out {
        write_table_to(&mut analysis.items_table()?, path, "items")?;
    }
    if let Some(path) = scores_out {
        write_table_to(&mut analysis.scores_table()?, path, "scores")?;
    }
    if let Some(path) = probabilities_out {
        write_table_to(
            &mut analysis.person_probabilities_table()?,
            path,
            "probabilities",
        )?;
    }
    Ok(())
}

fn probabilities(args: ProbabilitiesArgs) -> Result<()> {
    if !(args.scaling.is_finite() && args.scaling > 0.0) {
        bail!(
            "--scaling must be a positive number (1 or 1.702), got {}",
            args.scaling
        );
    }
    let item_frame = read_csv(&args.item_parameters, &CsvOptions::default())?;
    let items = tables::items_from_table(&item_frame)
        .with_context(|| format!("{}", args.item_parameters.display()))?;
    let mut table = match (&args.theta, &args.scores) {
        (_, Some(scores_path)) => {
            let scores_frame = read_csv(scores_path, &CsvOptions::default())?;
            let scores = tables::scores_from_table(&scores_frame)
                .with_context(|| format!("{}", scores_path.display()))?;
            tables::person_probabilities_table(&items, &scores, args.scaling)?
        }
        (Some(grid), None) => tables::grid_probabilities_table(
            &items,
            &tables::parse_theta_grid(grid)?,
            args.scaling,
        )?,
        (None, None) => tables::grid_probabilities_table(
            &items,
            &tables::theta_grid(-4.0, 4.0, 0.1)?,
            args.scaling,
        )?,
    };
    write_table_to(&mut table, &args.out, "probabilities")?;
    Ok(())
}

/// Prints what preparation and preprocessing did, one line per stage and step.
fn print_preparation(project: &Project, prepared: &Prepared) {
    let (rows, columns) = prepared.loaded_shape;
    eprintln!(
        "source: {} — {rows} rows × {columns} columns",
        project.source.path().display()
    );
    if let Layout::Long { .. } = project.layout {
        let layout = &prepared.layout;
        eprintln!(
            "layout: long → wide, {} rows → {} persons × {} items{}",
            layout.rows_in,
            layout.rows_out,
            layout.pivoted_items.len(),
            if layout.duplicates > 0 {
                format!(" ({} duplicate person–item rows)", layout.duplicates)
            } else {
                String::new()
            }
        );
    }
    for (index, (entry, report)) in project
        .steps
        .iter()
        .zip(&prepared.pipeline.reports)
        .enumerate()
    {
        let state = if !entry.enabled {
            "disabled".to_string()
        } else if let Some(error) = &report.error {
            format!("FAILED: {error}")
        } else if !report.ran {
            "not run".to_string()
        } else {
            format!(
                "{} → {} rows, {} columns",
                report.rows_in, report.rows_out, report.columns_out
            )
        };
        eprintln!("step {} ({}): {state}", index + 1, entry.step.kind_label());
    }
    for warning in prepared.pipeline.warnings() {
        eprintln!("warning: {warning}");
    }
}

fn load_project(path: &Path) -> Result<(Project, Option<PathBuf>)> {
    let project = Project::load(path)?;
    let base = path.parent().map(Path::to_path_buf);
    Ok((project, base))
}

fn run_project(args: RunArgs) -> Result<()> {
    let (project, base) = load_project(&args.project)?;
    let prepared = project::prepare(&project, base.as_deref())?;
    print_preparation(&project, &prepared);
    let matrix = project::response_matrix(&project, &prepared)?;
    eprintln!(
        "response matrix: {} persons × {} items, {} missing responses",
        matrix.n_persons(),
        matrix.n_items(),
        matrix.n_missing()
    );
    let analysis = analyse_with_progress(&matrix, &project.model, project.scoring)?;
    report_warnings(&analysis);
    if args.json {
        println!("{}", fit_json(&analysis));
    } else {
        print!("{}", fit_summary(&analysis));
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let items = args.out.join("items.csv");
    let scores = args.out.join("scores.csv");
    let probabilities = args.out.join("probabilities.csv");
    write_outputs(&analysis, Some(&items), Some(&scores), Some(&probabilities))?;
    eprintln!(
        "wrote {}, {} and {}",
        items.display(),
        scores.display(),
        probabilities.display()
    );
    Ok(())
}

fn prepare_project(args: PrepareArgs) -> Result<()> {
    let (project, base) = load_project(&args.project)?;
    let prepared = project::prepare(&project, base.as_deref())?;
    print_preparation(&project, &prepared);
    let matrix = project::response_matrix(&project, &prepared)?;
    let mut destination = Destination::for_path(&args.out, &args.table)?;
    destination.replace_table = args.replace_table;
    export_table(&mut matrix.to_dataframe()?, &destination)?;
    eprintln!(
        "wrote {}: {} persons × {} items",
        args.out.display(),
        matrix.n_persons(),
        matrix.n_items()
    );
    Ok(())
}
