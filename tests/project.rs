//! The project file: round trip, relative paths, clear errors; running the sample project.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use irtlab::preparation::{CsvOptions, ItemSelection, Source};
use irtlab::preprocessing::{PipelineStep, Step};
use irtlab::project::{self, Project};

#[test]
fn save_then_load_gives_the_same_project() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "data.csv", lsat7_csv().as_bytes());
    let mut project = Project::new(Source::Csv {
        path: data.clone(),
        options: CsvOptions::default(),
    });
    project
        .steps
        .push(PipelineStep::new(Step::DropColumns { columns: vec![] }));
    project.steps.push(PipelineStep {
        enabled: false,
        step: Step::DropMissing {
            columns: vec!["Item.1".into()],
        },
    });
    project.response_columns.id_column = Some("id".into());
    project.response_columns.items = ItemSelection::Pattern {
        pattern: "Item.*".into(),
    };
    let path = dir.path().join("analysis.irtlab.json");
    project.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"version\": 1"));
    // The source beside the project file is stored relative to it.
    assert!(text.contains("\"path\": \"data.csv\""), "{text}");
    let loaded = Project::load(&path).unwrap();
    assert_eq!(loaded.source.path(), std::path::Path::new("data.csv"));
    let mut expected = project.clone();
    expected.source = expected.source.with_path("data.csv".into());
    assert_eq!(loaded, expected);

    // And it runs from there, wherever the current directory is.
    let run =
        project::run_project(&loaded, path.parent(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!((run.analysis.calibration.log_likelihood - -2658.805).abs() < 0.01);
}

#[test]
fn project_errors_name_the_field_or_path() {
    let good = std::fs::read_to_string(assets().join("sample.irtlab.json")).unwrap();
    let unknown = good.replacen("\"layout\"", "\"layuot\"", 1);
    let error = Project::from_json(&unknown).unwrap_err();
    assert!(error.contains("layuot"), "{error}");

    let wrong_type = good.replacen("\"max_cycles\": 500", "\"max_cycles\": \"many\"", 1);
    let error = Project::from_json(&wrong_type).unwrap_err();
    assert!(
        error.contains("line") && error.contains("string \"many\""),
        "{error}"
    );

    let future = good.replacen("\"version\": 1", "\"version\": 7", 1);
    assert!(
        Project::from_json(&future)
            .unwrap_err()
            .contains("version 7")
    );

    let bad_setting = good.replacen("\"quadrature_points\": 61", "\"quadrature_points\": 2", 1);
    assert!(
        Project::from_json(&bad_setting)
            .unwrap_err()
            .contains("quadrature")
    );

    let dir = tempfile::tempdir().unwrap();
    let moved = write_file(dir.path(), "moved.irtlab.json", good.as_bytes());
    let project = Project::load(&moved).unwrap();
    let error = project::prepare(&project, moved.parent())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("sample.sqlite") && error.contains("does not exist"),
        "{error}"
    );

    let error = Project::load(&dir.path().join("absent.irtlab.json"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("absent.irtlab.json"), "{error}");
}

#[test]
fn the_sample_project_runs_and_leaves_its_database_alone() {
    let project_path = assets().join("sample.irtlab.json");
    let database = assets().join("sample.sqlite");
    let before = std::fs::read(&database).unwrap();
    let project = Project::load(&project_path).unwrap();
    let run = project::run_project(
        &project,
        project_path.parent(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(run.prepared.layout.rows_out, 600);
    assert!(run.prepared.layout.duplicates > 0);
    assert_eq!(run.matrix.n_items(), 20);
    assert_eq!(run.matrix.n_persons(), 400); // third graders filtered out
    assert!(run.analysis.calibration.converged);
    assert_eq!(std::fs::read(&database).unwrap(), before);

    // The sample was simulated from known 2PL parameters: the fit recovers their order.
    let truth = irtlab::preparation::sqlite::read_query(
        &database,
        "SELECT item_id, true_a, true_b FROM items ORDER BY item_id",
    )
    .unwrap();
    let true_b: Vec<f64> = truth
        .column("true_b")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let fitted_b: Vec<f64> = run
        .analysis
        .calibration
        .items
        .iter()
        .map(|i| i.b())
        .collect();
    let mean_t = true_b.iter().sum::<f64>() / 20.0;
    let mean_f = fitted_b.iter().sum::<f64>() / 20.0;
    let cov: f64 = true_b
        .iter()
        .zip(&fitted_b)
        .map(|(t, f)| (t - mean_t) * (f - mean_f))
        .sum();
    let var_t: f64 = true_b.iter().map(|t| (t - mean_t).powi(2)).sum();
    let var_f: f64 = fitted_b.iter().map(|f| (f - mean_f).powi(2)).sum();
    let r = cov / (var_t * var_f).sqrt();
    assert!(r > 0.9, "correlation of true and fitted b: {r}");
}

#[test]
fn a_recode_that_leaves_text_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "d.csv", b"id,q1,q2\n1,Y,N\n2,N,maybe\n3,Y,Y\n");
    let mut project = Project::new(Source::Csv {
        path: data,
        options: CsvOptions::default(),
    });
    project.response_columns.id_column = Some("id".into());
    project.steps.push(PipelineStep::new(Step::Recode {
        columns: vec!["q1".into(), "q2".into()],
        mapping: vec![
            irtlab::preprocessing::Mapping {
                from: "Y".into(),
                to: "1".into(),
            },
            irtlab::preprocessing::Mapping {
                from: "N".into(),
                to: "0".into(),
            },
        ],
        unmatched: irtlab::preprocessing::Unmatched::Keep,
    }));
    // The matrix holds q2's three values; the 2PL refuses the item, naming it and its values.
    let error = project::run_project(
        &project,
        None,
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("\"q2\"") && error.contains("maybe"),
        "{error}"
    );
}
