//! The desktop app, driven headless with egui_kittest: the real app, its panels and its jobs.
#![cfg(feature = "gui")]

mod common;

use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use irtlab::app::{IrtlabApp, ParameterSource, Stage, sample_project_path};
use irtlab::preprocessing::{Combine, Condition, FilterOp, Step};

fn app_harness() -> Harness<'static, IrtlabApp> {
    Harness::builder()
        .with_size([1280.0, 820.0])
        .with_accessibility_check(false)
        .build_eframe(|cc| IrtlabApp::new(cc, Some(sample_project_path())))
}

/// Steps the app (its jobs run on threads) until `done` holds.
fn run_until(
    harness: &mut Harness<'static, IrtlabApp>,
    what: &str,
    done: impl Fn(&IrtlabApp) -> bool,
) {
    for _ in 0..1500 {
        harness.step();
        if done(harness.state()) {
            harness.run_steps(3);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "timed out waiting for {what}; status: {}",
        harness.state().status
    );
}

fn matrix_ready(app: &IrtlabApp) -> bool {
    matches!(app.processed.as_ref().map(|p| &p.matrix), Some(Ok(_)))
}

fn has_label(harness: &Harness<'static, IrtlabApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn the_sample_project_loads_and_the_stages_show_their_summaries() {
    let mut harness = app_harness();
    run_until(&mut harness, "the sample data", matrix_ready);
    assert!(has_label(&harness, "11,773 rows × 5 columns"));
    assert!(has_label(&harness, "3 steps, 600 → 400 rows"));
    assert!(has_label(&harness, "Welcome to irtlab"));
    // A project opened shows its fit at once.
    run_until(&mut harness, "the automatic fit", |app| {
        app.prediction.analysis.is_some()
    });
    assert!(has_label(&harness, "2PL, logL -3805.8"));
    // The preparation panel shows the pivot.
    assert!(has_label(
        &harness,
        "Long → wide: 11,773 rows → 600 persons × 20 items"
    ));
}

#[test]
fn adding_a_step_shows_its_error_then_changes_rows_out() {
    let mut harness = app_harness();
    run_until(&mut harness, "the sample data", matrix_ready);
    harness.get_by_label_contains("Preprocessing").click();
    harness.run_steps(2);
    harness.get_by_label("+ Add step").click();
    harness.run_steps(2);
    harness.get_by_label("Filter").click();
    run_until(&mut harness, "the new step's error", |app| {
        app.processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
            .is_some_and(|p| p.error.as_ref().is_some_and(|e| e.position == 4))
    });
    assert!(
        has_label(&harness, "no column chosen"),
        "the card shows its error"
    );
    assert!(has_label(&harness, "step 4 failed"));

    // Complete the condition: keep girls only.
    {
        let app = harness.state_mut();
        let before = app.project.steps.clone();
        app.project.steps[3].step = Step::Filter {
            combine: Combine::All,
            conditions: vec![Condition {
                column: "gender".into(),
                op: FilterOp::Equal,
                value: "F".into(),
            }],
        };
        app.apply(irtlab::app::Action::StepsEdited(before));
    }
    run_until(&mut harness, "the filtered data", |app| {
        app.processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
            .is_some_and(|p| p.error.is_none() && p.output.height() < 400)
    });
    let rows = harness
        .state()
        .processed
        .as_ref()
        .unwrap()
        .pipeline
        .as_ref()
        .unwrap()
        .output
        .height();
    assert!(rows > 100 && rows < 250, "{rows} girls");
    assert!(has_label(&harness, &format!("400 → {rows} rows")));

    // Undo brings the empty filter back.
    harness.key_press_modifiers(eframe::egui::Modifiers::COMMAND, eframe::egui::Key::Z);
    harness.run_steps(2);
    assert!(
        matches!(&harness.state().project.steps[3].step, Step::Filter { conditions, .. } if conditions[0].column.is_empty())
    );
}

#[test]
fn fitting_shows_the_item_table() {
    let mut harness = app_harness();
    run_until(&mut harness, "the automatic fit", |app| {
        app.prediction.analysis.is_some()
    });
    harness.get_by_label_contains("Prediction").click();
    harness.run_steps(2);
    harness.state_mut().project.model.model = irtlab::prediction::ItemType::OnePl;
    harness.get_by_label("▶ Fit model").click();
    run_until(&mut harness, "the 1PL fit", |app| {
        app.prediction
            .analysis
            .as_ref()
            .is_some_and(|a| a.calibration.settings.model == irtlab::prediction::ItemType::OnePl)
    });
    assert!(has_label(&harness, "Log-likelihood"));
    assert!(has_label(&harness, "Q01"));
    assert!(has_label(&harness, "item–rest r"));
    let analysis = harness.state().prediction.analysis.clone().unwrap();
    assert!(analysis.calibration.converged);
    assert_eq!(analysis.calibration.items.len(), 20);
    assert_eq!(analysis.calibration.parameters, 21);
    assert_eq!(analysis.calibration.parameters, 21);
    assert!(has_label(
        &harness,
        &format!("{:.3}", analysis.calibration.log_likelihood)
    ));
}

#[test]
fn entering_parameters_by_hand_draws_curves() {
    let mut harness = app_harness();
    run_until(&mut harness, "the sample data", matrix_ready);
    harness.get_by_label_contains("Prediction").click();
    harness.run_steps(2);
    harness.get_by_label("Enter parameters").click();
    harness.run_steps(2);
    harness.get_by_label("+ item").click();
    harness.run_steps(3);
    harness.get_by_label("+ item").click();
    harness.run_steps(3);
    assert_eq!(harness.state().prediction.source, ParameterSource::Entered);
    assert_eq!(harness.state().prediction.entered.len(), 2);
    harness.get_by_label("Show curves").click();
    harness.run_steps(3);
    assert_eq!(harness.state().stage, Stage::Plots);
    let (series, y_label, _) = irtlab::app::plot_series(harness.state());
    assert_eq!(series.len(), 2);
    assert_eq!(y_label, "P(correct | θ)");
    // a = 1, b = 0: P(0) = 0.5.
    let middle = series[0].points.iter().find(|p| p[0].abs() < 1e-9).unwrap();
    assert!((middle[1] - 0.5).abs() < 1e-12);
    assert!(has_label(&harness, "item1"));
}

#[test]
fn an_export_writes_a_file_that_reads_back_equal() {
    let mut harness = app_harness();
    run_until(&mut harness, "the sample data", matrix_ready);
    harness.state_mut().export.table = irtlab::app::ExportTable::CleanData;
    harness.get_by_label_contains("Export").click();
    harness.run_steps(2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clean.csv");
    harness.state_mut().export_to(path.clone());
    run_until(&mut harness, "the export", |app| {
        app.export.last_written.is_some()
    });
    let written = irtlab::preparation::read_csv(&path, &Default::default()).unwrap();
    let expected = irtlab::app::export_panel_table(harness.state()).unwrap();
    assert_eq!(written.shape(), expected.shape());
    assert_eq!(written.shape(), (400, 21));
    for name in ["id", "Q01", "Q05", "Q20"] {
        let a = written
            .column(name)
            .unwrap()
            .cast(&polars::prelude::DataType::String)
            .unwrap();
        let b = expected
            .column(name)
            .unwrap()
            .cast(&polars::prelude::DataType::String)
            .unwrap();
        let a: Vec<Option<String>> = a
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        let b: Vec<Option<String>> = b
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect();
        assert_eq!(a, b, "column {name}");
    }
    assert!(has_label(&harness, "Last written"));
}

#[test]
fn pasted_and_loaded_parameters_and_svg_plots() {
    let items = irtlab::app::parse_pasted_items("item,a,b,c\nQ1,1.2,-0.5,0.2\nQ2\t0.8\t1.0\n", 1.0)
        .unwrap();
    assert_eq!(items.len(), 2);
    let form = items[0].irt(1.0);
    assert!((form.a.unwrap() - 1.2).abs() < 1e-12 && (form.b[0] + 0.5).abs() < 1e-12);
    assert_eq!(form.c, Some(0.2));
    assert_eq!(items[1].irt(1.0).c, None);
    let error = irtlab::app::parse_pasted_items("Q1,1.2,abc", 1.0).unwrap_err();
    assert!(error.contains("line 1"), "{error}");
    assert!(
        irtlab::app::parse_pasted_items("Q1,1,0,1.5", 1.0)
            .unwrap_err()
            .contains("[0, 1)")
    );

    // A fitted items table written by the CLI loads back as parameters.
    let dir = tempfile::tempdir().unwrap();
    let path = common::write_file(
        dir.path(),
        "items.csv",
        b"item,a,b,c,d\nQ1,1.5,0.25,,\nQ2,0.7,-1,0.1,\n",
    );
    let loaded = irtlab::app::load_parameter_file(&path, 1.0).unwrap();
    assert_eq!(loaded[0].irt(1.0).c, None);
    assert!((loaded[1].irt(1.0).b[0] + 1.0).abs() < 1e-12);

    let mut app = IrtlabApp::with_settings(Default::default());
    app.prediction.source = ParameterSource::Entered;
    app.prediction.entered = loaded;
    app.prediction.entered_scaling = 1.0;
    app.plots.on_new_items(&app.prediction.entered.clone());
    let (series, y_label, _) = irtlab::app::plot_series(&app);
    assert_eq!(series.len(), 2);
    let svg = irtlab::app::plot_svg(&series, y_label);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains(">Q1<") && svg.contains("P(correct | θ)"));
}
