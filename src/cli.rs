//! Command-line interface: argument definitions (clap) and the commands, each a thin wrapper
//! over the library with a terminal progress bar. Every command checks its outputs before it
//! computes anything (never an input, folders that exist) and writes them all together or not
//! at all.

mod ctt;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use irtlab::export::OutputSet;
use irtlab::prediction::{
    self, Analysis, Calibration, FitSettings, Guessing, ItemParameters, ItemType, PriorSetting,
    Progress, ResponseMatrix, ScoringMethod, StandardErrorMethod, tables,
};
use irtlab::preparation::{Layout, Source};
use irtlab::project::{self, Prepared, Project};

mod diagnostics;
mod dif;

const EXAMPLES: &str = "Examples:
  irtlab fit data.csv --id id --scores-out scores.csv
  irtlab fit data.csv --id id --model 3pl --prior c=beta(5,17) --items-out items.csv
  irtlab fit data.csv --id id --model 3pl --prior c=none --se none --json
  irtlab fit data.csv --id id --model graded --item-model Q1=2pl --probabilities-out p.csv
  irtlab fit data.csv --id id --prior a=lognormal(0,0.5) --scoring wle --scores-out wle.csv
  irtlab fit data.csv --id id --diagnostics --item-fit-out item_fit.csv --ld-out ld.csv --json
  irtlab compare data.csv --id id --models rasch,2pl,3pl
  irtlab probabilities --item-parameters items.csv --theta -4:4:0.5 --out grid.csv
  irtlab serve --item-parameters items.csv --port 8080 --log
  irtlab fit data.csv --id id --group gender --invariance scalar --json
  irtlab dif data.csv --id id --group gender --focal F --method mh,logistic,lr --purify";

/// Item Response Theory analysis: prepare data, calibrate IRT models (Rasch, 1PL–4PL, graded,
/// partial credit, rating scale, nominal), score abilities, compute probabilities. Without a
/// subcommand, opens the desktop app.
#[derive(Parser, Debug)]
#[command(name = "irtlab", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A data file or project file to open in the app.
    path: Option<PathBuf>,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Calibrate an IRT model on a wide table (a row per person, a column per item) and score
    /// every person.
    #[command(after_help = EXAMPLES)]
    Fit(FitArgs),
    /// Compute category probabilities from item parameters, over a θ grid or at given θ values.
    Probabilities(ProbabilitiesArgs),
    /// Rerun a saved project: preparation → preprocessing → calibration → scoring; write the
    /// items, scores and probabilities tables.
    Run(RunArgs),
    /// Run a project's preparation and preprocessing only and write the clean response matrix.
    Prepare(PrepareArgs),
    /// Differential item functioning between two groups: Mantel–Haenszel, logistic regression,
    /// IRT likelihood ratio and Wald tests of every item.
    Dif(dif::DifArgs),
    /// Fit several models to the same data and compare them: log-likelihood, parameters, AIC,
    /// AICc, BIC, SABIC, and likelihood-ratio tests of the nested pairs.
    Compare(diagnostics::CompareArgs),
    /// Classical item analysis of a data file (difficulty, RIT, RIR, ULI, alpha if dropped, %
    /// missing, alpha with its interval, split halves, SEM); with --key, of unscored answers,
    /// with the distractor analysis.
    #[command(name = "items-ctt")]
    ItemsCtt(ctt::ItemsCttArgs),
    /// Run a project and write the whole analysis as one self-contained HTML report.
    Report(ctt::ReportArgs),
    /// Serve an item bank over HTTP: category probabilities, ability scores, the items and the
    /// JSON Schemas of the requests. Stops on Ctrl+C or SIGTERM.
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("bank").required(true).args(["project", "item_parameters"])))]
struct ServeArgs {
    /// A project file (*.irtlab.json): its fit is run at start and its items are served.
    project: Option<PathBuf>,
    /// An items table (CSV, Parquet or SQLite) in the layout `irtlab fit --items-out` writes.
    #[arg(long, conflicts_with = "project")]
    item_parameters: Option<PathBuf>,
    /// Scaling constant D of the items table's a.
    #[arg(long, default_value_t = 1.0, conflicts_with = "project")]
    scaling: f64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The largest request body taken: 1MB, 512KB, 2MiB or bytes.
    #[arg(long, default_value = "1MB", value_parser = irtlab::serve::parse_byte_size)]
    max_body: usize,
    /// The most entries of any array or map in a request (θ values, items, persons, answers).
    #[arg(long, default_value_t = 10_000)]
    max_array: usize,
    /// The most numbers in one probabilities answer (θ values × item columns).
    #[arg(long, default_value_t = 1_000_000)]
    max_values: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Log one line per request to stderr: method, path, status, microseconds.
    #[arg(long)]
    log: bool,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The project file (*.irtlab.json).
    project: PathBuf,
    /// Folder for items.csv, scores.csv and probabilities.csv, and dif.csv / group_items.csv
    /// when the project holds a DIF analysis / a multiple-group model (created if needed).
    #[arg(long, default_value = "irtlab-output")]
    out: PathBuf,
    /// Print the fit summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Do not write probabilities.csv (for incomplete designs with many items, where a person
    /// × item table would be enormous).
    #[arg(long)]
    skip_probabilities: bool,
    /// Also write ctt.csv, ctt_test.csv and (with a key) distractors.csv, as the project's
    /// `classical.write_tables` asks.
    #[arg(long)]
    ctt: bool,
}

#[derive(clap::Args, Debug)]
struct PrepareArgs {
    /// The project file (*.irtlab.json).
    project: PathBuf,
    /// Output file: .csv, .parquet, or .sqlite/.db (a table in a SQLite database). Long data
    /// held sparse is written long (id, item, response).
    #[arg(long)]
    out: PathBuf,
    /// Table name when writing to SQLite.
    #[arg(long, default_value = "responses")]
    table: String,
    /// Replace the SQLite table if it exists.
    #[arg(long)]
    replace_table: bool,
}

/// The calibration options shared by `fit` and the commands built on it.
#[derive(clap::Args, Debug, Clone)]
struct ModelArgs {
    /// Item type of every item: rasch, 1pl, 2pl, 3pl, 4pl, graded, gpcm, pcm, rsm, nominal.
    #[arg(long, default_value = "2pl", value_parser = parse_item_type)]
    model: ItemType,
    /// Item type of one item, overriding --model: ITEM=TYPE (repeatable).
    #[arg(long = "item-model", value_name = "ITEM=TYPE", value_parser = parse_item_model)]
    item_models: Vec<(String, ItemType)>,
    /// A prior on a kind of parameter (a, d, c, u, ak), for every item or one (ITEM:KIND=…):
    /// c=beta(5,17), a=lognormal(0,0.5), d=normal(0,2), c=none (repeatable).
    #[arg(long = "prior", value_name = "SPEC", value_parser = parse_prior)]
    priors: Vec<PriorSetting>,
    /// Fix these items' parameters (an items table: CSV, Parquet or SQLite) and calibrate the
    /// rest on their scale.
    #[arg(long)]
    fixed_items: Option<PathBuf>,
    /// 3PL/4PL: fix c at this value for every item instead of estimating it.
    #[arg(long)]
    fixed_guessing: Option<f64>,
    /// Number of quadrature nodes on [−6, 6].
    #[arg(long, default_value_t = 61)]
    quadrature: usize,
    /// Stop when the largest parameter change and the log-likelihood's rise are below this.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// At most this many EM cycles.
    #[arg(long, default_value_t = 500)]
    max_cycles: usize,
    /// Scaling constant D of the reported a and b: 1 (logistic) or 1.702 (normal-ogive metric).
    #[arg(long, default_value_t = 1.0)]
    scaling: f64,
    /// Standard errors: observed (exact observed information), crossprod or none.
    #[arg(long, default_value = "observed", value_parser = parse_se)]
    se: StandardErrorMethod,
    /// Turn SQUAREM acceleration off (plain EM; same estimates, more cycles).
    #[arg(long)]
    no_acceleration: bool,
}

#[derive(clap::Args, Debug)]
struct FitArgs {
    /// The data: a wide CSV (or Parquet, or SQLite with one table).
    data: PathBuf,
    /// The person-id column (row numbers are used without it).
    #[arg(long)]
    id: Option<String>,
    /// Item columns, comma-separated (default: every column but the id).
    #[arg(long, value_delimiter = ',')]
    items: Option<Vec<String>>,
    #[command(flatten)]
    model: ModelArgs,
    /// Ability estimation: eap, map, ml or wle.
    #[arg(long, default_value = "eap", value_parser = parse_scoring)]
    scoring: ScoringMethod,
    /// Write the items table here (.csv, .parquet, or .sqlite/.db).
    #[arg(long)]
    items_out: Option<PathBuf>,
    /// Write the scores table here.
    #[arg(long)]
    scores_out: Option<PathBuf>,
    /// Write category probabilities per person × item here.
    #[arg(long)]
    probabilities_out: Option<PathBuf>,
    /// Write expected item scores per person × item here.
    #[arg(long)]
    expected_out: Option<PathBuf>,
    /// Replace SQLite tables that exist.
    #[arg(long)]
    replace_table: bool,
    /// Print one JSON object with the fit summary to stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    diagnostics: diagnostics::DiagnosticsArgs,
    #[command(flatten)]
    groups: dif::GroupFitArgs,
}

#[derive(clap::Args, Debug)]
struct ProbabilitiesArgs {
    /// Table of item parameters in the items-table layout (item, model, categories, a, b…, c…).
    #[arg(long)]
    item_parameters: PathBuf,
    /// θ grid FROM:TO:STEP.
    #[arg(long, conflicts_with = "scores", allow_hyphen_values = true)]
    theta: Option<String>,
    /// Table with columns id and theta (e.g. written by `irtlab fit --scores-out`).
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Scaling constant D of the table's a.
    #[arg(long, default_value_t = 1.0)]
    scaling: f64,
    /// Write expected item scores instead of category probabilities.
    #[arg(long)]
    expected: bool,
    /// Output file (.csv, .parquet or .sqlite/.db).
    #[arg(long)]
    out: PathBuf,
}

fn parse_item_type(text: &str) -> Result<ItemType, String> {
    ItemType::parse(text).ok_or_else(|| {
        format!(
            "unknown item type \"{}\"; use one of {}",
            irtlab::text::shorten(text, 30),
            ItemType::ALL.map(|t| t.name()).join(", ")
        )
    })
}

fn parse_item_model(text: &str) -> Result<(String, ItemType), String> {
    let (item, model) = text.rsplit_once('=').ok_or_else(|| {
        format!(
            "\"{}\" must be ITEM=TYPE, e.g. Q5=gpcm",
            irtlab::text::shorten(text, 40)
        )
    })?;
    Ok((item.trim().to_string(), parse_item_type(model)?))
}

fn parse_prior(text: &str) -> Result<PriorSetting, String> {
    PriorSetting::parse(text)
}

fn parse_scoring(text: &str) -> Result<ScoringMethod, String> {
    ScoringMethod::parse(text).ok_or_else(|| {
        format!(
            "unknown scoring \"{}\"; use eap, map, ml or wle",
            irtlab::text::shorten(text, 30)
        )
    })
}

fn parse_se(text: &str) -> Result<StandardErrorMethod, String> {
    StandardErrorMethod::parse(text).ok_or_else(|| {
        format!(
            "unknown standard-error method \"{}\"; use observed, crossprod or none",
            irtlab::text::shorten(text, 30)
        )
    })
}

/// Set by Ctrl+C (SIGINT) or SIGTERM: long work stops at its next check and the command exits
/// with its temporary files removed. A second Ctrl+C ends the process at once.
static INTERRUPTED: std::sync::LazyLock<std::sync::Arc<AtomicBool>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(AtomicBool::new(false)));

/// Whether the user interrupted the command.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

fn watch_interrupts() {
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The second signal ends the process; the first only sets the flag.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, INTERRUPTED.clone());
        let _ = signal_hook::flag::register(signal, INTERRUPTED.clone());
    }
}

/// Fails with "interrupted" once the user pressed Ctrl+C.
fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted; nothing was written");
    }
    Ok(())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if cli.command.is_some() {
        watch_interrupts();
    }
    match cli.command {
        Some(Command::Fit(args)) => fit(args),
        Some(Command::Probabilities(args)) => probabilities(args),
        Some(Command::Run(args)) => run_project(args),
        Some(Command::Prepare(args)) => prepare_project(args),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::ItemsCtt(args)) => ctt::items_ctt(args),
        Some(Command::Report(args)) => ctt::report(args),
        Some(Command::Compare(args)) => diagnostics::compare(args),
        Some(Command::Dif(args)) => dif::dif_command(args),
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
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {prefix} {pos}/{len}  {msg}  [{elapsed}]")
        {
            bar.set_style(style);
        }
        CycleProgress {
            bar,
            started: std::time::Instant::now(),
        }
    }

    /// Records one cycle or standard-error step.
    pub fn update(&self, progress: Progress) {
        if self.bar.is_hidden() && self.started.elapsed() > Duration::from_millis(500) {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        match progress.standard_errors {
            Some((done, total)) => {
                self.bar.set_length(total as u64);
                self.bar.set_position(done as u64);
                self.bar.set_message("standard errors");
            }
            None => {
                self.bar.set_position(progress.cycle as u64);
                self.bar
                    .set_message(format!("EM, log-likelihood {:.3}", progress.log_likelihood));
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ModelArgs {
    /// The fit settings these options ask for; anchored items are read from `--fixed-items`.
    fn settings(&self) -> Result<FitSettings> {
        let guessing = match self.fixed_guessing {
            Some(value) => Guessing::Fixed { value },
            None => Guessing::default(),
        };
        let fixed_items = match &self.fixed_items {
            Some(path) => read_items_table(path, self.scaling)?,
            None => Vec::new(),
        };
        let settings = FitSettings {
            model: self.model,
            item_models: self.item_models.iter().cloned().collect(),
            priors: self.priors.clone(),
            fixed_items,
            quadrature_points: self.quadrature,
            tolerance: self.tolerance,
            max_cycles: self.max_cycles,
            scaling: self.scaling,
            guessing,
            standard_errors: self.se,
            acceleration: !self.no_acceleration,
            ..FitSettings::default()
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// Reads an items table (CSV, Parquet or the first table of a SQLite database).
fn read_items_table(path: &Path, scaling: f64) -> Result<Vec<ItemParameters>> {
    let frame = Source::for_file(path)?.load(None)?;
    tables::items_from_table(&frame, scaling).with_context(|| format!("{}", path.display()))
}

/// Adds an optional output to the set.
fn add_output(
    outputs: &mut OutputSet,
    path: Option<&Path>,
    table: &str,
    replace: bool,
) -> Result<bool> {
    match path {
        Some(path) => {
            outputs.add_path(path, table, replace)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn fit(args: FitArgs) -> Result<()> {
    let mut inputs = vec![args.data.clone()];
    inputs.extend(args.model.fixed_items.clone());
    // Outputs are checked before anything is read or computed.
    let mut outputs = OutputSet::new(inputs);
    let want_items = add_output(
        &mut outputs,
        args.items_out.as_deref(),
        "items",
        args.replace_table,
    )?;
    let want_scores = add_output(
        &mut outputs,
        args.scores_out.as_deref(),
        "scores",
        args.replace_table,
    )?;
    let want_probabilities = add_output(
        &mut outputs,
        args.probabilities_out.as_deref(),
        "probabilities",
        args.replace_table,
    )?;
    let want_expected = add_output(
        &mut outputs,
        args.expected_out.as_deref(),
        "expected_scores",
        args.replace_table,
    )?;
    args.diagnostics
        .add_outputs(&mut outputs, args.replace_table)?;
    let diagnostics_options = args.diagnostics.options();
    let settings = args.model.settings()?;
    let frame = Source::for_file(&args.data)?.load_cancellable(None, Some(INTERRUPTED.clone()))?;
    irtlab::trace("data read");
    check_interrupted()?;
    if args.groups.group.is_some() {
        let wanted = [want_items, want_scores, want_probabilities, want_expected];
        return dif::fit_groups(&args, frame, &settings, &outputs, wanted);
    }
    let responses =
        ResponseMatrix::from_dataframe(&frame, args.id.as_deref(), args.items.as_deref())
            .with_context(|| format!("{}", args.data.display()))?;
    drop(frame);
    irtlab::trace("responses collected");
    check_person_tables(&responses, want_probabilities, want_expected)?;
    let calibration = calibrate_with_progress(&responses, &settings)?;
    report_calibration_warnings(&calibration);
    // Persons are scored, and the classical statistics computed, for the tables and the text
    // summary that show them; the JSON alone needs neither.
    let person_level =
        want_items || want_scores || want_probabilities || want_expected || !args.json;
    let fitted = if person_level {
        let analysis = prediction::complete_analysis(&responses, calibration, args.scoring)?;
        report_score_warnings(&analysis);
        Fitted::Analysis(Box::new(analysis))
    } else {
        Fitted::Calibration(Box::new(calibration))
    };
    let fit_statistics = diagnostics::compute(
        diagnostics_options.as_ref(),
        &responses,
        fitted.calibration(),
    )?;
    if args.json {
        let mut json = fit_json(fitted.calibration());
        diagnostics::extend_json(&mut json, fit_statistics.as_ref());
        println!("{json}");
    } else if let Fitted::Analysis(analysis) = &fitted {
        print!("{}", fit_summary(analysis));
        if let Some(statistics) = &fit_statistics {
            print!("{}", diagnostics::summary(statistics));
        }
    }
    irtlab::trace("results printed");
    let mut frames = Vec::new();
    if let Fitted::Analysis(analysis) = &fitted {
        if want_items {
            frames.push(analysis.items_table()?);
        }
        if want_scores {
            frames.push(diagnostics::scores_with_zh(
                analysis.scores_table()?,
                fit_statistics.as_ref(),
            )?);
        }
        if want_probabilities {
            frames.push(analysis.person_probabilities_table()?);
        }
        if want_expected {
            frames.push(analysis.expected_scores_table()?);
        }
    }
    frames.extend(args.diagnostics.frames(fit_statistics.as_ref())?);
    check_interrupted()?;
    outputs.write(&mut frames)?;
    irtlab::trace("outputs written");
    Ok(())
}

/// Refuses, before fitting, person × item tables too large to write.
fn check_person_tables(
    responses: &ResponseMatrix,
    probabilities: bool,
    expected: bool,
) -> Result<()> {
    let columns: usize = (0..responses.n_items())
        .map(|j| match responses.n_categories(j) {
            k if k <= 2 => 1,
            k => k,
        })
        .sum();
    if probabilities {
        tables::check_table_size(responses.n_persons(), columns, "probabilities")?;
    }
    if expected {
        tables::check_table_size(
            responses.n_persons(),
            responses.n_items(),
            "expected scores",
        )?;
    }
    Ok(())
}

/// A calibration, with the person-level results when they were wanted.
enum Fitted {
    Calibration(Box<Calibration>),
    Analysis(Box<Analysis>),
}

impl Fitted {
    fn calibration(&self) -> &Calibration {
        match self {
            Fitted::Calibration(calibration) => calibration,
            Fitted::Analysis(analysis) => &analysis.calibration,
        }
    }
}

/// Runs [`prediction::analyse`] with a terminal progress bar; Ctrl+C cancels it.
pub fn analyse_with_progress(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    scoring: ScoringMethod,
) -> Result<Analysis> {
    let calibration = calibrate_with_progress(responses, settings)?;
    Ok(prediction::complete_analysis(
        responses,
        calibration,
        scoring,
    )?)
}

/// Runs [`prediction::calibrate`] with a terminal progress bar; Ctrl+C cancels it.
fn calibrate_with_progress(
    responses: &ResponseMatrix,
    settings: &FitSettings,
) -> Result<Calibration> {
    let bar = CycleProgress::new(settings.max_cycles);
    let result = prediction::calibrate(responses, settings, &mut |p| bar.update(p), &INTERRUPTED);
    bar.finish();
    match result {
        Err(prediction::PredictionError::Cancelled) => bail!("interrupted; nothing was written"),
        other => Ok(other?),
    }
}

/// Prints the analysis's warnings, and a note on undefined scores, to stderr.
pub fn report_warnings(analysis: &Analysis) {
    report_calibration_warnings(&analysis.calibration);
    report_score_warnings(analysis);
}

/// Prints the calibration's warnings to stderr.
fn report_calibration_warnings(calibration: &Calibration) {
    for warning in &calibration.warnings {
        eprintln!("warning: {warning}");
    }
}

/// Prints a note on undefined scores to stderr.
fn report_score_warnings(analysis: &Analysis) {
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
        c.model_label(),
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
        if !c.converged {
            "NOT converged"
        } else if c.warnings.iter().any(|w| w.questions_the_estimates()) {
            "converged, but see the warnings: some estimates are not reliable"
        } else {
            "converged"
        }
    );
    if c.latent_variance_se.is_some() || c.latent_mean_se.is_some() {
        let _ = writeln!(
            out,
            "latent distribution: mean {:.4} (SE {}), variance {:.4} (SE {})",
            c.latent_mean,
            format_optional(c.latent_mean_se, 4),
            c.latent_variance,
            format_optional(c.latent_variance_se, 4)
        );
    }
    let _ = writeln!(
        out,
        "standard errors: {}",
        c.standard_error_route.as_deref().unwrap_or("not computed")
    );
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
        .map(|i| i.item.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8} {:>8} {:>8} {:>8} {:>8}  b (SE)",
        "item", "model", "a", "a_se", "c", "u"
    );
    for item in &c.items {
        let thresholds: Vec<String> = item
            .irt
            .b
            .iter()
            .zip(&item.irt_se.b)
            .map(|(b, se)| format!("{b:.3} ({})", format_optional(*se, 3)))
            .collect();
        let _ = writeln!(
            out,
            "{:<width$}  {:<8} {:>8} {:>8} {:>8} {:>8}  {}{}",
            item.item,
            item.model.name(),
            format_optional(item.irt.a, 3),
            format_optional(item.a_se(), 3),
            format_optional(item.irt.c, 3),
            format_optional(item.irt.u, 3),
            thresholds.join("  "),
            if item.anchored { "  (fixed)" } else { "" }
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
pub fn fit_json(c: &Calibration) -> serde_json::Value {
    let number_or_list = |values: &[f64], dichotomous: bool| -> serde_json::Value {
        if dichotomous {
            values
                .first()
                .map_or(serde_json::Value::Null, |v| serde_json::json!(v))
        } else {
            serde_json::json!(values)
        }
    };
    let items: Vec<serde_json::Value> = c
        .items
        .iter()
        .map(|i| {
            let dichotomous = i.categories.len() == 2;
            serde_json::json!({
                "item": i.item,
                "model": i.model.name(),
                "a": i.irt.a,
                "b": number_or_list(&i.irt.b, dichotomous),
                "d": number_or_list(&i.irt.d, dichotomous),
                "c": i.irt.c,
                "u": i.irt.u,
            })
        })
        .collect();
    serde_json::json!({
        "model": c.model_name(),
        "log_likelihood": c.log_likelihood,
        "aic": c.aic,
        "bic": c.bic,
        "parameters": c.parameters,
        "cycles": c.cycles,
        "converged": c.converged,
        "latent_mean": c.latent_mean,
        "latent_variance": c.latent_variance,
        "items": items,
        "warnings": c.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
    })
}

fn probabilities(args: ProbabilitiesArgs) -> Result<()> {
    if !(args.scaling.is_finite() && args.scaling > 0.0) {
        bail!(
            "--scaling must be a positive number (1 or 1.702), got {}",
            args.scaling
        );
    }
    let mut inputs = vec![args.item_parameters.clone()];
    inputs.extend(args.scores.clone());
    let mut outputs = OutputSet::new(inputs);
    outputs.add_path(
        &args.out,
        if args.expected {
            "expected_scores"
        } else {
            "probabilities"
        },
        false,
    )?;
    // The grid is checked before anything is read.
    let grid = match (&args.theta, &args.scores) {
        (_, Some(_)) => None,
        (Some(grid), None) => Some(tables::parse_theta_grid(grid)?),
        (None, None) => Some(tables::theta_grid(-4.0, 4.0, 0.1)?),
    };
    let items = read_items_table(&args.item_parameters, args.scaling)?;
    let table = match (grid, &args.scores) {
        (Some(grid), _) => {
            if args.expected {
                tables::grid_expected_scores_table(&items, &grid)?
            } else {
                tables::grid_probabilities_table(&items, &grid)?
            }
        }
        (None, Some(scores_path)) => {
            let scores_frame = Source::for_file(scores_path)?.load(None)?;
            let scores = tables::scores_from_table(&scores_frame)
                .with_context(|| format!("{}", scores_path.display()))?;
            if args.expected {
                tables::expected_scores_table(&items, &scores)?
            } else {
                tables::person_probabilities_table(&items, &scores)?
            }
        }
        (None, None) => unreachable!("a grid is made when no scores are given"),
    };
    outputs.write(&mut [table])?;
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
        } else if let Some(missing) = &report.incomplete {
            format!("skipped, incomplete: {missing}")
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

/// Preparation and preprocessing, with a SQL query cancelled by Ctrl+C.
fn prepare_with_interrupts(project: &Project, base: Option<&Path>) -> Result<Prepared> {
    let loaded = project
        .source
        .load_cancellable(base, Some(INTERRUPTED.clone()))
        .map_err(|e| match e {
            irtlab::preparation::PreparationError::Cancelled => {
                anyhow::anyhow!("interrupted; nothing was written")
            }
            other => other.into(),
        })?;
    check_interrupted()?;
    Ok(project::prepare_loaded(project, loaded)?)
}

fn load_project(path: &Path) -> Result<(Project, Option<PathBuf>)> {
    let project = Project::load(path)?;
    let base = path.parent().map(Path::to_path_buf);
    Ok((project, base))
}

/// The files a project reads: the project file and its source.
fn project_inputs(path: &Path, project: &Project, base: Option<&Path>) -> Vec<PathBuf> {
    vec![
        path.to_path_buf(),
        project.resolved_source(base).path().to_path_buf(),
    ]
}

fn run_project(args: RunArgs) -> Result<()> {
    let (project, base) = load_project(&args.project)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the output folder {}", args.out.display()))?;
    let mut outputs = OutputSet::new(project_inputs(&args.project, &project, base.as_deref()));
    let items_path = args.out.join("items.csv");
    let scores_path = args.out.join("scores.csv");
    let probabilities_path = args.out.join("probabilities.csv");
    outputs.add_path(&items_path, "items", false)?;
    outputs.add_path(&scores_path, "scores", false)?;
    if !args.skip_probabilities {
        outputs.add_path(&probabilities_path, "probabilities", false)?;
    }
    let group_outputs = dif::ProjectGroupOutputs::add(&mut outputs, &args.out, &project)?;
    let prepared = prepare_with_interrupts(&project, base.as_deref())?;
    print_preparation(&project, &prepared);
    let matrix = project::response_matrix(&project, &prepared)?;
    let classical = if args.ctt || project.classical.write_tables {
        let run = project::classical_run(&project, &prepared, &matrix, None)?;
        ctt::add_classical_outputs(&mut outputs, &args.out, run.distractors.is_some())?;
        Some(run)
    } else {
        None
    };
    // After the classical tables: the frames below are pushed in the same order.
    if project.diagnostics.is_some() {
        diagnostics::run_outputs(&mut outputs, &args.out)?;
    }
    eprintln!(
        "response matrix: {} persons × {} items, {} missing responses{}",
        matrix.n_persons(),
        matrix.n_items(),
        matrix.n_missing(),
        if matrix.is_sparse() {
            " (held sparse)"
        } else {
            ""
        }
    );
    if !args.skip_probabilities {
        check_person_tables(&matrix, true, false)
            .context("irtlab run writes probabilities.csv; --skip-probabilities leaves it out")?;
    }
    let analysis = analyse_with_progress(&matrix, &project.model, project.scoring)?;
    report_warnings(&analysis);
    let fit_statistics =
        diagnostics::compute(project.diagnostics.as_ref(), &matrix, &analysis.calibration)?;
    if args.json {
        let mut json = fit_json(&analysis.calibration);
        diagnostics::extend_json(&mut json, fit_statistics.as_ref());
        println!("{json}");
    } else {
        print!("{}", fit_summary(&analysis));
        if let Some(statistics) = &fit_statistics {
            print!("{}", diagnostics::summary(statistics));
        }
    }
    let group_frames = group_outputs.run(&project, &prepared, &matrix, args.json)?;
    check_interrupted()?;
    let mut frames = vec![
        analysis.items_table()?,
        diagnostics::scores_with_zh(analysis.scores_table()?, fit_statistics.as_ref())?,
    ];
    if !args.skip_probabilities {
        frames.push(analysis.person_probabilities_table()?);
    }
    frames.extend(group_frames);
    if let Some(run) = &classical {
        frames.push(run.classical.items_table()?);
        frames.push(run.classical.test_table()?);
        if let Some(d) = &run.distractors {
            frames.push(d.table()?);
        }
    }
    let mut documents = Vec::new();
    if let Some(statistics) = &fit_statistics {
        frames.push(diagnostics::item_fit_frame(statistics)?);
        documents.push(diagnostics::model_fit_document(statistics)?);
    }
    outputs.write_with_documents(&mut frames, &documents)?;
    let written: Vec<String> = outputs
        .destinations()
        .map(|d| d.path.display().to_string())
        .chain(outputs.documents().map(|d| d.display().to_string()))
        .collect();
    eprintln!("wrote {}", written.join(", "));
    Ok(())
}

fn prepare_project(args: PrepareArgs) -> Result<()> {
    let (project, base) = load_project(&args.project)?;
    let mut outputs = OutputSet::new(project_inputs(&args.project, &project, base.as_deref()));
    outputs.add_path(&args.out, &args.table, args.replace_table)?;
    let prepared = prepare_with_interrupts(&project, base.as_deref())?;
    print_preparation(&project, &prepared);
    let matrix = project::response_matrix(&project, &prepared)?;
    check_interrupted()?;
    let table = if matrix.is_sparse() {
        matrix.to_long_dataframe()?
    } else {
        matrix.to_dataframe()?
    };
    outputs.write(&mut [table])?;
    eprintln!(
        "wrote {}: {} persons × {} items",
        args.out.display(),
        matrix.n_persons(),
        matrix.n_items()
    );
    Ok(())
}

fn serve(args: ServeArgs) -> Result<()> {
    let options = irtlab::serve::ServeOptions {
        host: args.host,
        port: args.port,
        max_body: args.max_body,
        max_array: args.max_array,
        max_values: args.max_values,
        workers: args.workers.unwrap_or(0),
        log: args.log,
        ..irtlab::serve::ServeOptions::default()
    };
    options.validate()?;
    let bank = match (&args.project, &args.item_parameters) {
        (Some(project), _) => {
            let bar = CycleProgress::new(project::Project::load(project)?.model.max_cycles);
            let bank = irtlab::serve::ItemBank::from_project(
                project,
                &mut |p| bar.update(p),
                &INTERRUPTED,
            );
            bar.finish();
            check_interrupted()?;
            bank?
        }
        (None, Some(items)) => irtlab::serve::ItemBank::from_items_table(items, args.scaling)?,
        (None, None) => bail!("give a project file or --item-parameters ITEMS"),
    };
    irtlab::serve::run(
        bank,
        options,
        |address, service| {
            println!(
                "irtlab serve: {} items from {} on http://{address} (Ctrl+C stops)",
                service.bank().len(),
                service.bank().origin()
            );
            let _ = std::io::Write::flush(&mut std::io::stdout());
        },
        irtlab::serve::stop_signal(),
    )?;
    eprintln!("irtlab serve: stopped");
    Ok(())
}
