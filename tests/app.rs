//! The desktop app, driven headless with egui_kittest: the real app, its stages, its commands
//! and its jobs, with the accessibility check on (every control a user can act on has a name).
#![cfg(feature = "gui")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use eframe::egui::Role;
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use irtlab::app::stages::export::Export;
use irtlab::app::stages::plots::{PlotKind, Plots, plot_data};
use irtlab::app::{
    AppSettings, Command, CommandId, Edit, IrtlabApp, JobKind, ParameterSource, StageId,
    sample_project_path,
};
use irtlab::preparation::{Layout, Source, SqliteSelection};
use irtlab::preprocessing::{Combine, Condition, FilterOp, Step};

/// A copy of the sample project and its database in a temporary folder, so that no test can
/// touch the bundled files.
fn sample_copy(dir: &Path) -> PathBuf {
    let assets = sample_project_path().parent().unwrap().to_path_buf();
    std::fs::copy(assets.join("sample.sqlite"), dir.join("sample.sqlite")).unwrap();
    std::fs::copy(
        assets.join("sample.irtlab.json"),
        dir.join("sample.irtlab.json"),
    )
    .unwrap();
    dir.join("sample.irtlab.json")
}

fn harness_at(size: [f32; 2], path: Option<PathBuf>) -> Harness<'static, IrtlabApp> {
    Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| IrtlabApp::new(cc, path))
}

fn sample_harness(dir: &Path) -> Harness<'static, IrtlabApp> {
    harness_at([1280.0, 820.0], Some(sample_copy(dir)))
}

/// Steps the app (its jobs run on threads) until `done` holds.
fn run_until(
    harness: &mut Harness<'static, IrtlabApp>,
    what: &str,
    done: impl Fn(&IrtlabApp) -> bool,
) {
    for _ in 0..3000 {
        harness.step();
        if done(harness.state()) {
            harness.run_steps(3);
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "timed out waiting for {what}; status: {}",
        harness.state().status
    );
}

fn matrix_ready(app: &IrtlabApp) -> bool {
    app.state.data.matrix().is_some() && !app.is_busy()
}

/// A fit is in, and the fit statistics that follow every fit are computed.
fn fitted(app: &IrtlabApp) -> bool {
    app.state.results.fit.is_some()
        && !app.is_running(JobKind::Fit)
        && !app.is_running(JobKind::Stage(StageId::Fit))
}

fn rows_out(app: &IrtlabApp) -> Option<usize> {
    let pipeline = app.state.data.processed.as_ref()?.pipeline.as_ref()?;
    pipeline.error.is_none().then(|| pipeline.output.height())
}

fn has_label(harness: &Harness<'static, IrtlabApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

fn show(harness: &mut Harness<'static, IrtlabApp>, stage: StageId) {
    harness.state_mut().send(Command::Show(stage));
    harness.run_steps(3);
}

#[test]
fn the_sample_project_loads_fits_and_the_stages_show_their_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    assert!(has_label(&harness, "11,773 rows × 5 columns"));
    assert!(has_label(&harness, "3 steps, 600 → 400 rows"));
    assert!(has_label(&harness, "Welcome to irtlab"));
    assert!(has_label(&harness, "2PL, logL -3805.8"));
    assert!(has_label(
        &harness,
        "Long → wide: 11,773 rows → 600 persons × 20 items"
    ));
    harness.run();
    // Every stage draws, and every control on it has a name (checked by `run`).
    for stage in [
        StageId::Preprocessing,
        StageId::Classical,
        StageId::Prediction,
        StageId::Fit,
        StageId::Dif,
        StageId::Plots,
        StageId::Export,
    ] {
        show(&mut harness, stage);
        // A stage may start its own work when shown (the classical tables).
        run_until(&mut harness, "the stage's work", |app| !app.is_busy());
        harness.run();
    }
}

#[test]
fn a_new_filter_step_waits_to_be_filled_in_then_filters_and_the_fit_goes_out_of_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    show(&mut harness, StageId::Preprocessing);
    harness.get_by_label("+ Add step").click();
    harness.run_steps(2);
    harness.get_by_label("Filter").click();
    run_until(&mut harness, "the new step", |app| {
        app.state
            .data
            .processed
            .as_ref()
            .and_then(|p| p.pipeline.as_ref())
            .is_some_and(|p| p.reports.len() == 4)
            && !app.is_busy()
    });
    // A step just added is not an error: it is skipped until filled in.
    let pipeline = harness
        .state()
        .state
        .data
        .processed
        .as_ref()
        .unwrap()
        .pipeline
        .as_ref()
        .unwrap();
    assert!(pipeline.error.is_none());
    assert!(pipeline.reports[3].incomplete.is_some());
    assert_eq!(pipeline.output.height(), 400);
    assert!(has_label(&harness, "to fill in"));
    assert!(!has_label(&harness, "failed"));
    assert!(!has_label(&harness, "out of date"));

    // Keep girls only.
    {
        let app = harness.state_mut();
        app.state.document.project.steps[3].step = Step::Filter {
            combine: Combine::All,
            conditions: vec![Condition {
                column: "gender".into(),
                op: FilterOp::Equal,
                value: "F".into(),
            }],
        };
        app.send(Command::Edited(Edit::Data));
    }
    run_until(&mut harness, "the filtered data", |app| {
        rows_out(app).is_some_and(|rows| rows < 400) && !app.is_busy()
    });
    let rows = rows_out(harness.state()).unwrap();
    assert!(rows > 100 && rows < 250, "{rows} girls");
    assert!(has_label(&harness, &format!("400 → {rows} rows")));
    // The fit was made on all 400: it says it is out of date, on the sidebar and on its stage.
    assert!(has_label(&harness, "out of date"));
    show(&mut harness, StageId::Prediction);
    assert!(has_label(&harness, "this fit used 400 persons"));
    show(&mut harness, StageId::Plots);
    assert!(has_label(&harness, "whose data or settings have changed"));

    // Undo brings the empty filter back, and the rows with it.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    run_until(&mut harness, "the undone filter", |app| {
        rows_out(app) == Some(400) && !app.is_busy()
    });
    assert!(matches!(
        &harness.state().state.document.project.steps[3].step,
        Step::Filter { conditions, .. } if conditions.iter().all(|c| c.column.is_empty())
    ));
}

#[test]
fn fitting_another_model_shows_its_item_table_and_copies_it_as_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    show(&mut harness, StageId::Prediction);
    harness.state_mut().state.document.project.model.model = irtlab::prediction::ItemType::OnePl;
    harness.state_mut().send(Command::Edited(Edit::Model));
    harness.run_steps(2);
    assert!(has_label(&harness, "out of date"));
    harness.get_by_label("▶ Fit model").click();
    run_until(&mut harness, "the 1PL fit", |app| {
        fitted(app)
            && app.state.results.fit.as_ref().is_some_and(|f| {
                f.analysis.calibration.settings.model == irtlab::prediction::ItemType::OnePl
            })
    });
    let analysis = harness.state().state.results.fit.clone().unwrap().analysis;
    assert!(analysis.calibration.converged);
    assert_eq!(analysis.calibration.items.len(), 20);
    assert_eq!(analysis.calibration.parameters, 21);
    assert!(has_label(&harness, "Q01"));
    assert!(has_label(
        &harness,
        &format!("{:.3}", analysis.calibration.log_likelihood)
    ));
    assert!(!has_label(&harness, "out of date"));

    // Right-click a cell of the item table: "Copy table" puts the table on the clipboard.
    harness
        .get_all_by_label("Q01")
        .last()
        .unwrap()
        .scroll_to_me();
    harness.run_steps(3);
    harness
        .get_all_by_label("Q01")
        .last()
        .unwrap()
        .click_secondary();
    harness.run_steps(2);
    harness.get_by_label("Copy table").click();
    harness.step();
    let copied: Vec<String> = harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    let text = copied.last().expect("a table was copied");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 21, "header and 20 items");
    assert!(lines[0].starts_with("item\t"), "{}", lines[0]);
    assert!(lines[1].starts_with("Q01\t"), "{}", lines[1]);
}

#[test]
fn entered_parameters_draw_curves_and_the_test_curves_follow_the_ticked_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the sample data", matrix_ready);
    show(&mut harness, StageId::Prediction);
    harness.get_by_label("Enter parameters").click();
    harness.run_steps(2);
    harness.get_by_label("+ item").click();
    harness.run_steps(3);
    harness.get_by_label("+ item").click();
    harness.run_steps(3);
    assert_eq!(
        harness.state().state.results.source,
        ParameterSource::Entered
    );
    assert_eq!(harness.state().state.results.entered.len(), 2);
    harness.get_by_label("Show curves").click();
    harness.run_steps(3);
    assert_eq!(harness.state().stage, StageId::Plots);
    let plot = {
        let app = harness.state_mut();
        let data = plot_data(&app.state);
        app.part::<Plots>().unwrap().current_plot(&data.as_ref())
    };
    assert_eq!(plot.series.len(), 2);
    // a = 1, b = 0: P(0) = 0.5.
    let middle = plot.series[0]
        .points
        .iter()
        .find(|p| p[0].abs() < 1e-9)
        .unwrap();
    assert!((middle[1] - 0.5).abs() < 1e-12);
    assert!(has_label(&harness, "item1"));

    // The test characteristic curve is that of the ticked items: 2 items top out near 2, one
    // near 1.
    let tcc_top = |harness: &mut Harness<'static, IrtlabApp>| {
        let app = harness.state_mut();
        let data = plot_data(&app.state);
        let plots = app.part::<Plots>().unwrap();
        plots.kind = PlotKind::TestCharacteristic;
        let plot = plots.current_plot(&data.as_ref());
        plot.series[0].points.last().unwrap()[1]
    };
    let both = tcc_top(&mut harness);
    assert!(both > 1.9 && both < 2.0, "{both}");
    harness.run_steps(2);
    harness.get_by_label("item2").click();
    harness.run_steps(2);
    let one = tcc_top(&mut harness);
    assert!(one > 0.95 && one < 1.0, "{one}");
    assert!(has_label(&harness, "(1 of 2 items)"));
}

/// Types `path` into irtlab's own file dialog and presses its button.
fn choose_in_builtin_dialog(harness: &mut Harness<'static, IrtlabApp>, path: &Path, verb: &str) {
    harness.run_steps(2);
    let field = harness.get_by_role_and_label(Role::TextInput, "File name");
    field.focus();
    harness.run_steps(1);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run_steps(1);
    let field = harness.get_by_role_and_label(Role::TextInput, "File name");
    field.type_text(&path.display().to_string());
    harness.run_steps(2);
    harness.get_by_label(verb).click();
    harness.run_steps(2);
}

#[test]
fn the_builtin_dialog_opens_a_csv_and_ctrl_e_exports_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::write_file(
        dir.path(),
        "answers.csv",
        b"person,q1,q2,q3\np1,1,0,1\np2,0,0,1\np3,1,1,1\np4,0,1,0\np5,1,0,0\n",
    );
    let settings = AppSettings {
        builtin_dialog: true,
        welcome_dismissed: true,
        ..AppSettings::default()
    };
    let mut harness = Harness::builder()
        .with_size([1280.0, 820.0])
        .build_eframe(move |cc| {
            irtlab::app::install_fonts(&cc.egui_ctx);
            let mut app = IrtlabApp::with_settings(settings);
            app.stage = StageId::Preparation;
            app
        });
    harness.key_press_modifiers(Modifiers::COMMAND, Key::O);
    harness.run_steps(2);
    assert!(has_label(&harness, "Open a data file"));
    choose_in_builtin_dialog(&mut harness, &csv, "Open");
    run_until(&mut harness, "the CSV", matrix_ready);
    let app = harness.state();
    let matrix = app.state.data.matrix().unwrap();
    assert_eq!((matrix.n_persons(), matrix.n_items()), (5, 3));
    assert_eq!(
        app.state
            .document
            .project
            .response_columns
            .id_column
            .as_deref(),
        Some("person"),
        "the id column is guessed"
    );

    // Ctrl+E is File → Export…: the dialog proposes the table's name.
    harness.state_mut().part::<Export>().unwrap().table = irtlab::app::ExportTable::CleanData;
    harness.key_press_modifiers(Modifiers::COMMAND, Key::E);
    harness.run_steps(2);
    assert_eq!(harness.state().stage, StageId::Export);
    assert!(has_label(&harness, "Export to"));
    let out = dir.path().join("clean.csv");
    choose_in_builtin_dialog(&mut harness, &out, "Save");
    run_until(&mut harness, "the export", |app| {
        !app.is_running(JobKind::Export) && app.status.starts_with("Wrote")
    });
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        "id,q1,q2,q3\np1,1,0,1\np2,0,0,1\np3,1,1,1\np4,0,1,0\np5,1,0,0\n"
    );
    assert!(has_label(&harness, "Last written"));

    // Exporting over the data source is refused, and the source is unchanged.
    let before = std::fs::read(&csv).unwrap();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::E);
    choose_in_builtin_dialog(&mut harness, &csv, "Save");
    harness.run_steps(3);
    assert!(
        harness.state().status.contains("input"),
        "{}",
        harness.state().status
    );
    assert_eq!(std::fs::read(&csv).unwrap(), before);
}

#[test]
fn ctrl_enter_in_the_sql_editor_runs_the_query_and_a_failed_query_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    show(&mut harness, StageId::Preparation);
    let sql = "SELECT r.student_id, s.grade, s.gender, r.item_id, r.choice FROM responses AS r JOIN students AS s ON s.id = r.student_id WHERE s.grade = 'fifth-grade'";
    harness.state_mut().state.data.sql_text = sql.into();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::MultilineTextInput, "Query text")
        .focus();
    harness.run_steps(1);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    harness.run_steps(1);
    // The editor took the key: the query runs, no fit starts.
    assert!(!harness.state().is_running(JobKind::Fit));
    assert!(matches!(
        &harness.state().state.document.project.source,
        Source::Sqlite { selection: SqliteSelection::Query { sql: s }, .. } if s == sql
    ));
    run_until(&mut harness, "the new query", |app| {
        app.state
            .data
            .loaded
            .as_ref()
            .is_some_and(|l| l.frame.height() < 11_773)
            && !app.is_busy()
    });
    let rows = harness
        .state()
        .state
        .data
        .loaded
        .as_ref()
        .unwrap()
        .frame
        .height();

    // A query that fails says why, keeps the loaded data and goes back to the query they
    // came from; the editor keeps the text to fix.
    let broken = "SELECT nothing FROM nowhere";
    harness.state_mut().state.data.sql_text = broken.into();
    harness.run_steps(1);
    harness.get_by_label("Run query").click();
    run_until(&mut harness, "the failed query", |app| {
        app.state.data.load_error.is_some() && !app.is_busy()
    });
    let app = harness.state();
    assert!(
        app.state
            .data
            .load_error
            .as_ref()
            .unwrap()
            .contains("nowhere")
    );
    assert_eq!(app.state.data.loaded.as_ref().unwrap().frame.height(), rows);
    assert!(matches!(
        &app.state.document.project.source,
        Source::Sqlite { selection: SqliteSelection::Query { sql: s }, .. } if s == sql
    ));
    assert_eq!(app.state.data.sql_text, broken);
}

#[test]
fn a_long_table_is_recognised_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("person,item,response\n");
    for p in 0..30 {
        for i in 0..4 {
            text += &format!("p{p},item{i},{}\n", (p * 7 + i * 3) % 2);
        }
    }
    let csv = common::write_file(dir.path(), "long.csv", text.as_bytes());
    let mut harness = harness_at([1280.0, 820.0], Some(csv));
    run_until(&mut harness, "the long data", matrix_ready);
    let app = harness.state();
    assert!(matches!(
        &app.state.document.project.layout,
        Layout::Long { person_column, item_column, response_column, .. }
            if person_column == "person" && item_column == "item" && response_column == "response"
    ));
    let matrix = app.state.data.matrix().unwrap();
    assert_eq!((matrix.n_persons(), matrix.n_items()), (30, 4));
    // Opening is not an edit.
    assert!(!app.state.document.is_modified());
}

#[test]
fn a_small_window_reaches_the_person_table_and_the_plot_controls() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness_at([900.0, 600.0], Some(sample_copy(dir.path())));
    run_until(&mut harness, "the automatic fit", fitted);
    harness.state_mut().settings.welcome_dismissed = true;
    show(&mut harness, StageId::Prediction);
    harness.run();
    let persons = harness.get_by_label_contains("Persons (EAP scoring)");
    persons.scroll_to_me();
    harness.run_steps(3);
    let rect = harness
        .get_by_label_contains("Persons (EAP scoring)")
        .rect();
    assert!(rect.max.y <= 600.0 && rect.min.y >= 0.0, "{rect:?}");
    show(&mut harness, StageId::Plots);
    harness.run();
    let save = harness.get_by_label("Save plot as PNG or SVG…");
    save.scroll_to_me();
    harness.run_steps(3);
    let rect = harness.get_by_label("Save plot as PNG or SVG…").rect();
    assert!(
        rect.max.y <= 600.0 && rect.max.x <= 900.0,
        "the button is on screen: {rect:?}"
    );
    // A big screen draws the same.
    harness.set_size(egui::vec2(1920.0, 1080.0));
    harness.run();
    assert!(has_label(&harness, "Save plot as PNG or SVG…"));
}

#[test]
fn escape_closes_windows_and_the_menus_come_from_the_registry() {
    let mut harness = harness_at([1280.0, 820.0], None);
    harness.run_steps(2);
    harness.state_mut().send(Command::Run(CommandId::About));
    harness.run_steps(4);
    assert!(has_label(
        &harness,
        "Calibration by marginal maximum likelihood"
    ));
    harness.key_press(Key::Escape);
    harness.run_steps(2);
    assert!(!has_label(
        &harness,
        "Calibration by marginal maximum likelihood"
    ));
    // Every registry command is in its menu.
    harness.get_by_label("File").click();
    harness.run_steps(2);
    for label in ["Open dataset…", "Save project as…", "Export…"] {
        assert!(has_label(&harness, label), "{label}");
    }
}

#[test]
fn save_as_elsewhere_keeps_the_source_reachable_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the sample data", matrix_ready);
    let elsewhere = tempfile::tempdir().unwrap();
    let saved = elsewhere.path().join("moved.irtlab.json");
    harness.state_mut().send(Command::Picked(
        irtlab::app::DialogPurpose::SaveProjectAs,
        saved.clone(),
    ));
    harness.run_steps(2);
    let project = irtlab::project::Project::load(&saved).unwrap();
    let stored = project.source.path().to_path_buf();
    assert!(stored.is_absolute(), "{}", stored.display());
    assert!(irtlab::export::same_file(
        &stored,
        &dir.path().join("sample.sqlite")
    ));
    assert!(!harness.state().state.document.is_modified());

    // Saving the project over its database is refused.
    let database = dir.path().join("sample.sqlite");
    let before = std::fs::read(&database).unwrap();
    harness.state_mut().save_project_to(&database);
    harness.run_steps(2);
    assert!(harness.state().status.contains("data source"));
    assert_eq!(std::fs::read(&database).unwrap(), before);
}

#[test]
fn fit_statistics_follow_each_fit_and_the_comparison_tests_the_nested_models() {
    use irtlab::app::stages::model_fit::ModelFit;
    use irtlab::prediction::diagnostics::{DiagnosticsOptions, diagnose};
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    run_until(&mut harness, "the fit statistics", |app| {
        !app.is_running(JobKind::Stage(StageId::Fit))
    });
    show(&mut harness, StageId::Fit);
    harness.run();
    // The app shows what the library computes for the same fit.
    let fit = harness.state().state.results.fit.clone().unwrap();
    let direct = diagnose(
        &fit.matrix,
        &fit.analysis.calibration,
        &DiagnosticsOptions::default(),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let shown = harness
        .state_mut()
        .part::<ModelFit>()
        .unwrap()
        .diagnostics()
        .cloned()
        .expect("statistics computed after the fit");
    assert_eq!(shown.item_fit.len(), 20);
    let m2 = shown
        .model_fit
        .clone()
        .expect("M2 for 20 right/wrong items");
    assert_eq!(m2.statistic.name(), "M2");
    assert_eq!(m2.df, 20.0 * 21.0 / 2.0 - 40.0);
    assert!((m2.value - direct.model_fit.unwrap().value).abs() < 1e-9);
    assert!(has_label(&harness, "RMSEA"));
    assert!(has_label(&harness, "Q01"));

    // Add the 2PL to the comparison, fit the 1PL, add it: one LR test with df 40 − 21.
    harness.get_by_label("Model comparison").click();
    harness.run_steps(2);
    harness
        .get_by_label("Add this fit to the comparison")
        .click();
    harness.run_steps(2);
    harness.state_mut().state.document.project.model.model = irtlab::prediction::ItemType::OnePl;
    harness.state_mut().send(Command::Edited(Edit::Model));
    harness.run_steps(2);
    harness.state_mut().start_fit();
    run_until(&mut harness, "the 1PL fit and its statistics", |app| {
        fitted(app)
            && !app.is_running(JobKind::Stage(StageId::Fit))
            && app.state.results.fit.as_ref().is_some_and(|f| {
                f.analysis.calibration.settings.model == irtlab::prediction::ItemType::OnePl
            })
    });
    harness
        .get_by_label("Add this fit to the comparison")
        .click();
    harness.run_steps(2);
    let models = harness
        .state_mut()
        .part::<ModelFit>()
        .unwrap()
        .comparison()
        .to_vec();
    assert_eq!(models.len(), 2);
    let table = irtlab::prediction::diagnostics::compare(models);
    assert_eq!(table.tests.len(), 1);
    assert_eq!(table.tests[0].df, 19.0);
    assert!(table.tests[0].chi_square > 0.0);
    assert!(has_label(&harness, "Likelihood-ratio tests"));
    harness.run();
}

#[test]
fn dif_by_gender_runs_in_the_background_and_shows_the_library_s_table() {
    use irtlab::app::stages::dif::Dif;
    use irtlab::prediction::dif::{DifSettings, run_dif};
    use irtlab::prediction::groups::Groups;
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the data", matrix_ready);
    show(&mut harness, StageId::Dif);
    harness.run();
    harness
        .get_by_role_and_label(Role::ComboBox, "Group column")
        .click();
    harness.run_steps(2);
    harness.get_by_label("gender").click();
    harness.run_steps(2);
    harness.get_by_label("Run DIF").click();
    harness.run_steps(1);
    run_until(&mut harness, "the DIF run", |app| {
        !app.is_running(JobKind::Stage(StageId::Dif))
    });
    let report = harness
        .state_mut()
        .part::<Dif>()
        .unwrap()
        .report()
        .cloned()
        .expect("a DIF report");
    assert_eq!(report.groups.column, "gender");
    // The same analysis through the library directly.
    let app = harness.state();
    let matrix = app.state.data.matrix().unwrap().clone();
    let frame = &app
        .state
        .data
        .processed
        .as_ref()
        .unwrap()
        .pipeline
        .as_ref()
        .unwrap()
        .output;
    let groups = Groups::from_dataframe(frame, "gender", None, None).unwrap();
    let direct = run_dif(
        &matrix,
        &groups,
        &DifSettings {
            methods: report.settings.methods.clone(),
            anchors: report.settings.anchors.clone(),
            p_adjust: report.settings.p_adjust,
            ..DifSettings::default()
        },
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(report.rows.len(), direct.rows.len());
    assert_eq!(report.rows.len(), 2 * 20, "MH and logistic for 20 items");
    for (a, b) in report.rows.iter().zip(&direct.rows) {
        assert_eq!(a.item, b.item);
        assert!(a.p.is_nan() && b.p.is_nan() || (a.p - b.p).abs() < 1e-12);
    }
    assert_eq!(
        report.groups.n_reference + report.groups.n_focal + report.groups.n_missing,
        matrix.n_persons()
    );
    assert!(has_label(&harness, "Mantel–Haenszel"));
    harness.run();
}

#[test]
fn the_classical_stage_and_the_report_gather_the_whole_analysis() {
    use irtlab::app::DialogPurpose;
    use irtlab::app::stages::classical::Classical;
    use irtlab::prediction::classical::{ClassicalSettings, classical_analysis};
    let dir = tempfile::tempdir().unwrap();
    let mut harness = sample_harness(dir.path());
    run_until(&mut harness, "the automatic fit", fitted);
    show(&mut harness, StageId::Classical);
    run_until(&mut harness, "the classical analysis", |app| {
        !app.is_running(JobKind::Stage(StageId::Classical))
    });
    harness.run();
    let (run, _) = harness
        .state_mut()
        .part::<Classical>()
        .unwrap()
        .run()
        .expect("computed when shown");
    let matrix = harness.state().state.data.matrix().unwrap().clone();
    let direct = classical_analysis(&matrix, &ClassicalSettings::default()).unwrap();
    assert_eq!(run.classical.items.len(), 20);
    assert_eq!(run.classical.test.alpha, direct.test.alpha);
    assert!(run.classical.test.alpha.unwrap() > 0.5);
    // The sample scores letters against a key: the distractors come from that step's input.
    let distractors = run.distractors.as_ref().expect("a distractor analysis");
    assert_eq!(distractors.items.len(), 20);
    assert!(has_label(&harness, "Distractors"));

    // The item table saves as a file (copying works as in every table).
    let table = dir.path().join("ctt.csv");
    harness.state_mut().send(Command::Picked(
        DialogPurpose::SaveTable(StageId::Classical),
        table.clone(),
    ));
    harness.run_steps(2);
    run_until(&mut harness, "the table", |app| {
        !app.is_running(JobKind::Export)
    });
    let text = std::fs::read_to_string(&table).expect("the classical table was written");
    assert!(text.starts_with("item,"), "{text}");
    assert_eq!(text.lines().count(), 21);

    // The report: one self-contained HTML file with every part computed so far.
    run_until(&mut harness, "the fit statistics", |app| {
        !app.is_running(JobKind::Stage(StageId::Fit))
    });
    let report = dir.path().join("analysis.html");
    harness
        .state_mut()
        .send(Command::Picked(DialogPurpose::SaveReport, report.clone()));
    harness.run_steps(2);
    run_until(&mut harness, "the report", |app| {
        !app.is_running(JobKind::Export)
    });
    let html = std::fs::read_to_string(&report).expect("the report was written");
    for text in ["Classical", "Model and item fit", "<svg", "Q01", "irtlab"] {
        assert!(html.contains(text), "the report lacks {text}");
    }
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http"));

    // A report never replaces the data it reports on.
    let database = dir.path().join("sample.sqlite");
    let before = std::fs::read(&database).unwrap();
    harness
        .state_mut()
        .send(Command::Picked(DialogPurpose::SaveReport, database.clone()));
    harness.run_steps(2);
    run_until(&mut harness, "the refused report", |app| {
        !app.is_running(JobKind::Export)
    });
    assert_eq!(std::fs::read(&database).unwrap(), before);
}
