//! Benchmarks quoted in the README. Run in release mode, one case per process so that the peak
//! memory (VmHWM) is the case's own:
//!
//! ```text
//! cargo bench --bench bench -- fit            # 2PL, 100,000 × 100, complete: calibration + EAP
//! cargo bench --bench bench -- fit-missing    # the same with 20 % missing responses
//! cargo bench --bench bench -- fit-se         # complete, plus standard errors (observed information)
//! cargo bench --bench bench -- graded         # graded, 100,000 × 50 × 5 categories: calibration + EAP
//! cargo bench --bench bench -- long-csv       # 1,000,000-row long CSV → key scoring → wide 0/1
//! cargo bench --bench bench -- long-sqlite    # the same from a SQLite table
//! cargo bench --bench bench -- pipeline       # a 5-step pipeline on a 100,000 × 100 wide table
//! cargo bench --bench bench -- ctt            # classical item analysis + distractor analysis,
//!                                             # 100,000 × 100 four-option answers
//! cargo bench --bench bench -- sparse         # long CSV, 3,000,000 responses (100,000 persons ×
//!                                             # 10,000 items, 30 each) → sparse → 2PL → EAP
//! cargo bench --bench bench -- dif-lr         # IRT likelihood-ratio DIF of every item, all
//!                                             # other items as anchors: 20,000 × 20, 2 groups
//! cargo bench --bench bench -- dif-mh         # Mantel–Haenszel DIF, 100,000 × 100, 2 groups
//! cargo bench --bench bench -- invariance     # configural → metric → scalar, 20,000 × 20
//! cargo bench --bench bench -- diagnostics    # 2PL, 100,000 × 100, complete: every fit statistic
//!                                             # (M2, S-X2, Zh, infit/outfit, Q3, reliabilities) after the fit
//! ```

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use irtlab::prediction::dif::{Anchors, DifMethod, DifSettings, run_dif};
use irtlab::prediction::groups::{Groups, invariance_ladder};
use irtlab::prediction::simulation::{
    SplitMix64, simulate_responses, simulate_with_latent, typical_items, typical_polytomous_items,
};
use irtlab::prediction::{
    FitSettings, ItemParameters, ItemType, ResponseMatrix, ScoringMethod, StandardErrorMethod,
    analyse,
};
use irtlab::preparation::{CsvOptions, DuplicatePolicy, Layout, Source, SqliteSelection};
use irtlab::preprocessing::{
    Combine, Condition, FilterOp, Keep, KeyEntry, Mapping, PipelineStep, Step, run_pipeline,
};
use polars::prelude::{Column, DataFrame};

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn items(n_items: usize, seed: u64) -> Vec<ItemParameters> {
    typical_items(n_items, 0.0, seed, "item")
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fit_case(name: &str, n_persons: usize, n_items: usize, missing: f64, se: StandardErrorMethod) {
    let truth = items(n_items, 1);
    fit_items_case(name, &truth, ItemType::TwoPl, n_persons, missing, se);
}

fn fit_items_case(
    name: &str,
    truth: &[ItemParameters],
    model: ItemType,
    n_persons: usize,
    missing: f64,
    se: StandardErrorMethod,
) {
    let n_items = truth.len();
    let (matrix, _) = simulate_responses(truth, n_persons, missing, 2);
    let memory_before = peak_memory_mb().unwrap_or(0.0);
    let settings = FitSettings {
        model,
        standard_errors: se,
        ..FitSettings::default()
    };
    let start = Instant::now();
    let analysis = analyse(
        &matrix,
        &settings,
        ScoringMethod::Eap,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .expect("the simulated data fit");
    let seconds = start.elapsed().as_secs_f64();
    if std::env::var_os("IRTLAB_BENCH_DETAIL").is_some() {
        // Where the time goes: calibration alone, then scoring and the classical statistics.
        let t = Instant::now();
        let calibration =
            irtlab::prediction::calibrate(&matrix, &settings, &mut |_| {}, &AtomicBool::new(false))
                .expect("fits");
        let calibrate_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let items = calibration.item_parameters();
        let aligned = irtlab::prediction::align_items(&matrix, &items).expect("aligns");
        let align_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let options = irtlab::prediction::scoring_options(&calibration, ScoringMethod::Eap);
        irtlab::prediction::score_persons(&aligned, &items, &options).expect("scores");
        let score_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        irtlab::prediction::classical_statistics(&aligned);
        let classical_s = t.elapsed().as_secs_f64();
        println!(
            "  detail: calibrate {calibrate_s:.3} s ({} cycles), align {align_s:.3} s, EAP {score_s:.3} s, classical {classical_s:.3} s",
            calibration.cycles
        );
    }
    let c = &analysis.calibration;
    let rmse = |f: &dyn Fn(&irtlab::prediction::items::IrtForm) -> Vec<f64>| {
        let truth: Vec<f64> = truth.iter().flat_map(|t| f(&t.irt(1.0))).collect();
        let estimates: Vec<f64> = c.items.iter().flat_map(|e| f(&e.irt)).collect();
        (truth
            .iter()
            .zip(&estimates)
            .map(|(t, e)| (t - e).powi(2))
            .sum::<f64>()
            / truth.len().max(1) as f64)
            .sqrt()
    };
    println!(
        "{name}: {n_persons} x {n_items}, {:.0}% missing: {seconds:.3} s wall (calibration + EAP{}), {} EM cycles, converged {}, logL {:.3}, RMSE a {:.4}, RMSE b {:.4}; peak memory {:.0} MB (data alone {:.0} MB)",
        missing * 100.0,
        match se {
            StandardErrorMethod::Observed => format!(
                " + standard errors: {}",
                c.standard_error_route.as_deref().unwrap_or("failed")
            ),
            StandardErrorMethod::CrossProduct => " + cross-product SEs".to_string(),
            StandardErrorMethod::None => String::new(),
        },
        c.cycles,
        c.converged,
        c.log_likelihood,
        rmse(&|f| f.a.into_iter().collect()),
        rmse(&|f| f.b.clone()),
        peak_memory_mb().unwrap_or(f64::NAN),
        memory_before,
    );
}

const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// Answer letters of `n_persons` × `n_items` simulated from a 2PL: the key is
/// `LETTERS[j % 4]`, wrong answers pick another letter.
fn simulated_letters(n_persons: usize, n_items: usize) -> Vec<Vec<&'static str>> {
    let truth = items(n_items, 3);
    let (matrix, _) = simulate_responses(&truth, n_persons, 0.0, 4);
    let mut rng = SplitMix64::new(5);
    (0..n_persons)
        .map(|p| {
            (0..n_items)
                .map(|j| {
                    let key = j % 4;
                    if matrix.response(p, j) == Some(1) {
                        LETTERS[key]
                    } else {
                        LETTERS[(key + 1 + (rng.next_u64() % 3) as usize) % 4]
                    }
                })
                .collect()
        })
        .collect()
}

fn key_step(n_items: usize) -> PipelineStep {
    PipelineStep::new(Step::ScoreKey {
        key: (0..n_items)
            .map(|j| KeyEntry {
                column: format!("item{:03}", j + 1),
                key: LETTERS[j % 4].to_string(),
            })
            .collect(),
    })
}

fn long_case(name: &str, from_sqlite: bool) {
    let (n_persons, n_items) = (10_000, 100);
    let letters = simulated_letters(n_persons, n_items);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let source = if from_sqlite {
        let path = dir.path().join("long.sqlite");
        let mut db = rusqlite::Connection::open(&path).expect("a new database");
        let tx = db.transaction().expect("a transaction");
        tx.execute(
            "CREATE TABLE responses (person INTEGER, item TEXT, response TEXT)",
            [],
        )
        .expect("create");
        {
            let mut insert = tx
                .prepare("INSERT INTO responses VALUES (?1, ?2, ?3)")
                .expect("insert");
            for (p, row) in letters.iter().enumerate() {
                for (j, letter) in row.iter().enumerate() {
                    insert
                        .execute(rusqlite::params![
                            p as i64 + 1,
                            format!("item{:03}", j + 1),
                            letter
                        ])
                        .expect("row");
                }
            }
        }
        tx.commit().expect("commit");
        Source::Sqlite {
            path,
            selection: SqliteSelection::Table {
                name: "responses".into(),
            },
        }
    } else {
        let path = dir.path().join("long.csv");
        let mut text = String::with_capacity(20 * n_persons * n_items);
        text.push_str("person,item,response\n");
        for (p, row) in letters.iter().enumerate() {
            for (j, letter) in row.iter().enumerate() {
                text.push_str(&format!("{},item{:03},{}\n", p + 1, j + 1, letter));
            }
        }
        std::fs::write(&path, text).expect("the CSV");
        Source::Csv {
            path,
            options: CsvOptions::default(),
        }
    };
    // Measure in a fresh process, so that its peak memory is the pipeline's own and not the
    // data generation's.
    let description = serde_json::to_string(&source).expect("a source serialises");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(["long-run", name, &description])
        .status()
        .expect("the measuring process runs");
    assert!(status.success());
}

fn long_run(name: &str, description: &str) {
    let n_items = 100;
    let source: Source = serde_json::from_str(description).expect("a source");
    let memory_before = peak_memory_mb().unwrap_or(0.0);
    let layout = Layout::Long {
        person_column: "person".into(),
        item_column: "item".into(),
        response_column: "response".into(),
        duplicates: DuplicatePolicy::First,
    };
    let steps = vec![key_step(n_items)];
    let start = Instant::now();
    let loaded = source.load(None).expect("the source loads");
    let loaded_at = start.elapsed().as_secs_f64();
    // polars' estimated_size counts a text column's string bytes but not its 16-byte views, which
    // is where short strings live; add them to get the table's real footprint.
    let views: usize = loaded
        .columns()
        .iter()
        .filter(|c| c.dtype() == &polars::prelude::DataType::String)
        .map(|c| 16 * c.len())
        .sum();
    let loaded_mb = (loaded.estimated_size() + views) as f64 / 1e6;
    let peak_after_load = peak_memory_mb().unwrap_or(f64::NAN);
    let (wide, _) = layout.apply(loaded).expect("the pivot");
    let run = run_pipeline(wide, &steps);
    let matrix = ResponseMatrix::from_dataframe(&run.output, Some("person"), None).expect("0/1");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{name}: {} rows → {} × {} wide 0/1 matrix: {seconds:.3} s wall (load {loaded_at:.3} s); loaded table {loaded_mb:.0} MB, peak memory {:.0} MB (process before loading {:.0} MB, after loading {peak_after_load:.0} MB)",
        matrix.n_persons() * matrix.n_items(),
        matrix.n_persons(),
        matrix.n_items(),
        peak_memory_mb().unwrap_or(f64::NAN),
        memory_before,
    );
}

/// An incomplete design: 100,000 persons each answer 30 of 10,000 items (2PL, known truth).
fn sparse_case() {
    let (n_persons, n_items, per_person) = (100_000, 10_000, 30);
    let truth = items(n_items, 11);
    let mut rng = SplitMix64::new(12);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bank.csv");
    let mut text = String::with_capacity(24 * n_persons * per_person);
    text.push_str("person,item,response\n");
    let mut chosen = Vec::with_capacity(per_person);
    for p in 0..n_persons {
        let theta = rng.normal();
        chosen.clear();
        while chosen.len() < per_person {
            let j = (rng.next_u64() % n_items as u64) as usize;
            if !chosen.contains(&j) {
                chosen.push(j);
            }
        }
        for &j in &chosen {
            let correct = rng.uniform() < truth[j].probability(theta);
            text.push_str(&format!("p{p},item{j:05},{}\n", u8::from(correct)));
        }
    }
    std::fs::write(&path, text).expect("the CSV");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(["sparse-run", path.to_str().expect("a UTF-8 path")])
        .status()
        .expect("the measuring process runs");
    assert!(status.success());
}

fn sparse_run(path: &str) {
    use irtlab::project::{Project, prepare, response_matrix};
    let mut project = Project::new(Source::Csv {
        path: path.into(),
        options: CsvOptions::default(),
    });
    project.layout = Layout::Long {
        person_column: "person".into(),
        item_column: "item".into(),
        response_column: "response".into(),
        duplicates: DuplicatePolicy::First,
    };
    project.response_columns.id_column = Some("person".into());
    project.model.standard_errors = StandardErrorMethod::None;
    let start = Instant::now();
    let prepared = prepare(&project, None).expect("prepares");
    let matrix = response_matrix(&project, &prepared).expect("a matrix");
    let prepared_at = start.elapsed().as_secs_f64();
    let analysis = analyse(
        &matrix,
        &project.model,
        ScoringMethod::Eap,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .expect("fits");
    let seconds = start.elapsed().as_secs_f64();
    let c = &analysis.calibration;
    println!(
        "sparse: {} responses, {} persons × {} items (held sparse: {}), load + pivot {prepared_at:.2} s, calibration + EAP: {seconds:.2} s wall in all, {} EM cycles, converged {}; peak memory {:.0} MB",
        matrix.n_responses(),
        matrix.n_persons(),
        matrix.n_items(),
        matrix.is_sparse(),
        c.cycles,
        c.converged,
        peak_memory_mb().unwrap_or(f64::NAN),
    );
}

fn pipeline_case() {
    let (n_persons, n_items) = (100_000, 100);
    let letters = simulated_letters(n_persons, n_items);
    let mut columns = vec![
        Column::new("id".into(), (1..=n_persons as i64).collect::<Vec<_>>()),
        Column::new(
            "grade".into(),
            (0..n_persons)
                .map(|p| (p % 4 + 3) as i64)
                .collect::<Vec<_>>(),
        ),
    ];
    for j in 0..n_items {
        columns.push(Column::new(
            format!("item{:03}", j + 1).as_str().into(),
            letters.iter().map(|row| row[j]).collect::<Vec<_>>(),
        ));
    }
    let frame = DataFrame::new(n_persons, columns).expect("the table");
    let steps = vec![
        PipelineStep::new(Step::Filter {
            combine: Combine::All,
            conditions: vec![Condition {
                column: "grade".into(),
                op: FilterOp::GreaterOrEqual,
                value: "4".into(),
            }],
        }),
        key_step(n_items),
        PipelineStep::new(Step::MinAnswered {
            columns: Vec::new(),
            min_answered: 50,
        }),
        PipelineStep::new(Step::RenameColumns {
            mapping: vec![Mapping {
                from: "id".into(),
                to: "student".into(),
            }],
        }),
        PipelineStep::new(Step::RemoveDuplicates {
            columns: vec!["student".into()],
            keep: Keep::First,
        }),
    ];
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let run = run_pipeline(frame.clone(), &steps);
        times.push(start.elapsed().as_secs_f64());
        assert!(run.error.is_none(), "{:?}", run.error);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "pipeline: 5 steps on {n_persons} × {} wide table: median {:.3} s, min {:.3} s over 5 runs",
        n_items + 2,
        times[2],
        times[0]
    );
}

/// Every fit statistic of a 2PL fitted to 100,000 × 100 complete responses, timed beyond the
/// fit, with the time of each stage.
fn diagnostics_case() {
    use irtlab::prediction::diagnostics::{DiagnosticsOptions, diagnose};
    let (n_persons, n_items) = (100_000, 100);
    let truth = items(n_items, 1);
    let (matrix, _) = simulate_responses(&truth, n_persons, 0.0, 2);
    let settings = FitSettings {
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let start = Instant::now();
    let calibration =
        irtlab::prediction::calibrate(&matrix, &settings, &mut |_| {}, &AtomicBool::new(false))
            .expect("the simulated data fit");
    let fit_seconds = start.elapsed().as_secs_f64();
    let memory_after_fit = peak_memory_mb().unwrap_or(f64::NAN);
    let start = Instant::now();
    let mut stages: Vec<(&'static str, f64)> = Vec::new();
    let diagnostics = diagnose(
        &matrix,
        &calibration,
        &DiagnosticsOptions::default(),
        &mut |p| stages.push((p.stage, start.elapsed().as_secs_f64())),
        &AtomicBool::new(false),
    )
    .expect("diagnostics");
    let seconds = start.elapsed().as_secs_f64();
    let breakdown: Vec<String> = stages
        .windows(2)
        .map(|w| format!("{} {:.2} s", w[0].0, w[1].1 - w[0].1))
        .collect();
    let m2 = diagnostics.model_fit.as_ref().expect("M2");
    let reliability = diagnostics.reliability.as_ref().expect("reliability");
    let flagged = diagnostics.item_fit.iter().filter(|i| i.flagged).count();
    println!(
        "diagnostics: {n_persons} x {n_items} 2PL: fit {fit_seconds:.2} s ({} EM cycles); diagnostics {seconds:.2} s beyond the fit ({}); M2 {:.1} on {} df (RMSEA {:.4}), {flagged} items flagged by S-X2, {} LD pairs flagged, marginal reliability {:.4}, empirical {:.4}; peak memory {:.0} MB (after the fit {memory_after_fit:.0} MB)",
        calibration.cycles,
        breakdown.join(", "),
        m2.value,
        m2.df,
        m2.rmsea,
        diagnostics
            .local_dependence
            .as_ref()
            .map_or(0, |l| l.flagged.len()),
        reliability.marginal,
        reliability.empirical,
        peak_memory_mb().unwrap_or(f64::NAN),
    );
}

/// Classical item and test analysis of the scored matrix plus the distractor analysis of the
/// unscored answers, 100,000 persons × 100 four-option items (what `irtlab items-ctt --key`
/// computes after loading).
fn ctt_case() {
    use irtlab::prediction::classical::{ClassicalSettings, classical_analysis};
    use irtlab::prediction::distractors::{DistractorSettings, distractor_analysis, score_by_key};
    let (n_persons, n_items) = (100_000, 100);
    let letters = simulated_letters(n_persons, n_items);
    let mut columns = Vec::with_capacity(n_items);
    let mut names = Vec::with_capacity(n_items);
    for j in 0..n_items {
        let name = format!("item{:03}", j + 1);
        columns.push(Column::new(
            name.as_str().into(),
            letters.iter().map(|row| row[j]).collect::<Vec<_>>(),
        ));
        names.push(name);
    }
    drop(letters);
    let frame = DataFrame::new(n_persons, columns).expect("the table");
    let answers = ResponseMatrix::from_dataframe(&frame, None, Some(&names)).expect("answers");
    drop(frame);
    let key: Vec<KeyEntry> = (0..n_items)
        .map(|j| KeyEntry {
            column: names[j].clone(),
            key: LETTERS[j % 4].to_string(),
        })
        .collect();
    let (mut scoring, mut classical, mut distractors, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        let scored = score_by_key(&answers, &key).expect("scored");
        let scored_at = start.elapsed().as_secs_f64();
        let analysis =
            classical_analysis(&scored, &ClassicalSettings::default()).expect("classical");
        let classical_at = start.elapsed().as_secs_f64();
        let options = distractor_analysis(&answers, &key, &DistractorSettings::default())
            .expect("distractors");
        let all = start.elapsed().as_secs_f64();
        assert_eq!(analysis.items.len(), n_items);
        assert_eq!(options.items.len(), n_items);
        scoring.push(scored_at);
        classical.push(classical_at - scored_at);
        distractors.push(all - classical_at);
        total.push(all - scored_at);
    }
    for times in [&mut scoring, &mut classical, &mut distractors, &mut total] {
        times.sort_by(f64::total_cmp);
    }
    println!(
        "ctt: {n_persons} × {n_items} four-option answers: classical table {:.3} s + distractor analysis {:.3} s = {:.3} s (medians of 5; min total {:.3} s); scoring by key {:.3} s; peak memory {:.0} MB",
        classical[2],
        distractors[2],
        total[2],
        total[0],
        scoring[2],
        peak_memory_mb().unwrap_or(f64::NAN)
    );
}

/// Two groups of simulated 2PL responses: `n_per_group` reference persons (θ ~ N(0, 1)) and as
/// many focal persons (θ ~ N(−0.25, 1)); in the focal group item 1's b is 0.5 higher, item 2's
/// 0.5 lower and item 3's a halved (the peer comparison's design).
fn dif_data(n_per_group: usize, n_items: usize) -> (ResponseMatrix, Groups) {
    let reference = items(n_items, 9);
    let mut focal = reference.clone();
    let irt = |item: &ItemParameters| {
        let form = item.irt(1.0);
        (form.a.unwrap_or(1.0), form.b[0])
    };
    for (j, (da, db)) in [(1.0, 0.5), (1.0, -0.5), (0.5, 0.0)]
        .into_iter()
        .enumerate()
    {
        let (a, b) = irt(&reference[j]);
        focal[j] = ItemParameters::dichotomous(reference[j].item.clone(), a * da, b + db, 0.0, 1.0);
    }
    let (r, _) = simulate_with_latent(&reference, n_per_group, 0.0, 1.0, 0.0, 31);
    let (f, _) = simulate_with_latent(&focal, n_per_group, -0.25, 1.0, 0.0, 32);
    let mut codes = Vec::with_capacity(2 * n_per_group * n_items);
    for m in [&r, &f] {
        for p in 0..n_per_group {
            codes.extend_from_slice(m.dense_row(p).expect("simulated data are dense"));
        }
    }
    let matrix = ResponseMatrix::from_labelled_codes(
        (1..=2 * n_per_group).map(|i| i.to_string()).collect(),
        reference.iter().map(|i| i.item.clone()).collect(),
        reference.iter().map(|i| i.categories.clone()).collect(),
        codes,
    )
    .expect("a matrix");
    let values: Vec<Option<String>> = (0..2 * n_per_group)
        .map(|p| Some(if p < n_per_group { "ref" } else { "focal" }.to_string()))
        .collect();
    let groups = Groups::from_values("group", &values, Some("ref"), Some(&["focal".to_string()]))
        .expect("two groups");
    (matrix, groups)
}

fn dif_case(name: &str, n_per_group: usize, n_items: usize, method: DifMethod) {
    let (matrix, groups) = dif_data(n_per_group, n_items);
    let settings = DifSettings {
        methods: vec![method],
        anchors: Anchors::AllOthers { purify: false },
        ..DifSettings::default()
    };
    let mut times = Vec::new();
    let mut report = None;
    let runs = if method.is_irt() { 3 } else { 5 };
    for _ in 0..runs {
        let start = Instant::now();
        let result = run_dif(
            &matrix,
            &groups,
            &settings,
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .expect("DIF runs");
        times.push(start.elapsed().as_secs_f64());
        report = Some(result);
    }
    times.sort_by(f64::total_cmp);
    let report = report.expect("at least one run");
    let first: Vec<String> = report
        .rows
        .iter()
        .take(4)
        .map(|r| format!("{} {:.2}", r.item, r.statistic))
        .collect();
    println!(
        "{name}: {} {} × {n_items}, 2 groups: median {:.3} s, min {:.3} s over {runs} runs (whole analysis); flagged {:?}; statistics {}; focal mean {:?}",
        method.label(),
        2 * n_per_group,
        times[times.len() / 2],
        times[0],
        report.flagged_items(),
        first.join(", "),
        report
            .groups
            .focal_mean
            .map(|m| (m * 1000.0).round() / 1000.0),
    );
}

fn invariance_case() {
    let (matrix, groups) = dif_data(10_000, 20);
    let start = Instant::now();
    let ladder = invariance_ladder(
        &matrix,
        &groups,
        &FitSettings::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .expect("the ladder fits");
    let seconds = start.elapsed().as_secs_f64();
    let steps: Vec<String> = ladder
        .steps
        .iter()
        .map(|s| {
            format!(
                "{} logL {:.2}{}",
                s.level.name(),
                s.log_likelihood,
                s.test
                    .map(|t| format!(" (LR {:.1}, df {}, p {:.3})", t.statistic, t.df, t.p))
                    .unwrap_or_default()
            )
        })
        .collect();
    println!(
        "invariance: configural → metric → scalar on 20000 × 20, 2 groups: {seconds:.3} s; {}",
        steps.join("; ")
    );
}

fn main() {
    let arguments: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let case = arguments
        .first()
        .cloned()
        .unwrap_or_else(|| "fit".to_string());
    match case.as_str() {
        "long-run" => long_run(&arguments[1], &arguments[2]),
        "sparse" => sparse_case(),
        "sparse-run" => sparse_run(&arguments[1]),
        "fit" => fit_case("fit", 100_000, 100, 0.0, StandardErrorMethod::None),
        "fit-missing" => fit_case("fit-missing", 100_000, 100, 0.2, StandardErrorMethod::None),
        "fit-se" => fit_case("fit-se", 100_000, 100, 0.0, StandardErrorMethod::Observed),
        "graded" => fit_items_case(
            "graded",
            &typical_polytomous_items(ItemType::Graded, 50, 5, 7, "item"),
            ItemType::Graded,
            100_000,
            0.0,
            StandardErrorMethod::None,
        ),
        "fit-xpd" => fit_case(
            "fit-xpd",
            100_000,
            100,
            0.0,
            StandardErrorMethod::CrossProduct,
        ),
        "fit-small" => fit_case("fit-small", 10_000, 50, 0.0, StandardErrorMethod::Observed),
        "long-csv" => long_case("long-csv", false),
        "long-sqlite" => long_case("long-sqlite", true),
        "pipeline" => pipeline_case(),
        "ctt" => ctt_case(),
        "dif-lr" => dif_case("dif-lr", 10_000, 20, DifMethod::LikelihoodRatio),
        "dif-mh" => dif_case("dif-mh", 50_000, 100, DifMethod::MantelHaenszel),
        "invariance" => invariance_case(),
        "diagnostics" => diagnostics_case(),
        other => eprintln!(
            "unknown case {other}; cases: fit, fit-missing, fit-se, fit-xpd, fit-small, graded, long-csv, long-sqlite, pipeline, sparse, diagnostics, ctt, dif-lr, dif-mh, invariance"
        ),
    }
}
