//! Preparation: CSV, SQLite and Parquet sources, their errors, and the long → wide layout.

mod common;

use common::*;
use irtlab::export::{Destination, TableFormat, export_table};
use irtlab::preparation::layout::wide_from_long;
use irtlab::preparation::source::read_parquet;
use irtlab::preparation::sqlite::{list_tables, read_query, read_table};
use irtlab::preparation::{CsvOptions, DuplicatePolicy, Layout, Source, read_csv};
use polars::prelude::*;

#[test]
fn csv_delimiters_bom_quotes_and_missing_markers() {
    let dir = tempfile::tempdir().unwrap();
    let semicolon = write_file(
        dir.path(),
        "a.csv",
        "\u{feff}id;name;q1\n1;\"Smith; John\";1\n2;Lee;NA\n3;Ng;.\n".as_bytes(),
    );
    let frame = read_csv(&semicolon, &CsvOptions::default()).unwrap();
    assert_eq!(frame.get_column_names(), &["id", "name", "q1"]);
    assert_eq!(
        frame.column("name").unwrap().str().unwrap().get(0),
        Some("Smith; John")
    );
    assert_eq!(frame.column("q1").unwrap().null_count(), 2);
    assert!(frame.column("q1").unwrap().dtype().is_integer());

    let tab = write_file(dir.path(), "b.tsv", b"id\tq1\tq2\n1\t0\t1\n2\t\t0\n");
    let frame = read_csv(&tab, &CsvOptions::default()).unwrap();
    assert_eq!(frame.width(), 3);
    assert_eq!(frame.column("q1").unwrap().null_count(), 1);

    let custom = CsvOptions {
        delimiter: Some(','),
        missing_markers: vec!["-99".into()],
    };
    let comma = write_file(dir.path(), "c.csv", b"id,q1\n1,-99\n2,1\n");
    let frame = read_csv(&comma, &custom).unwrap();
    assert_eq!(frame.column("q1").unwrap().null_count(), 1);
}

#[test]
fn csv_types_follow_values_far_down_the_file() {
    // Types are first inferred from the leading rows; values further down that do not fit
    // (a decimal in an integer column, numbers in a column empty so far, text in a number
    // column) make the whole file decide.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,whole,late,word,q1\n");
    for row in 0..5000 {
        let late = if row < 3000 {
            String::new()
        } else {
            "2".into()
        };
        let whole = if row == 4000 {
            "1.5".into()
        } else {
            "1".to_string()
        };
        let word = if row == 4999 {
            "x".into()
        } else {
            row.to_string()
        };
        text.push_str(&format!("{row},{whole},{late},{word},{}\n", row % 2));
    }
    let path = write_file(dir.path(), "far.csv", text.as_bytes());
    let frame = read_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(frame.height(), 5000);
    let dtype = |name: &str| frame.column(name).unwrap().dtype().clone();
    assert_eq!(dtype("whole"), DataType::Float64);
    assert!(dtype("late").is_integer(), "{:?}", dtype("late"));
    assert_eq!(frame.column("late").unwrap().null_count(), 3000);
    assert_eq!(dtype("word"), DataType::String);
    assert!(dtype("q1").is_integer());
    assert_eq!(
        frame.column("whole").unwrap().f64().unwrap().get(4000),
        Some(1.5)
    );
}

#[test]
fn csv_errors_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "empty.csv", b"");
    let error = read_csv(&empty, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("empty"), "{error}");

    let latin1 = write_file(dir.path(), "latin1.csv", b"id,na\xefve\n1,2\n");
    let error = read_csv(&latin1, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("UTF-8") && error.contains("latin1.csv"),
        "{error}"
    );

    let binary = write_file(dir.path(), "data.csv", b"\x00\x01\x02binary\n");
    let error = read_csv(&binary, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a CSV"), "{error}");

    let ragged = write_file(dir.path(), "ragged.csv", b"a,b\n1,2\n3,4,5,6\n");
    let error = read_csv(&ragged, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("ragged.csv"), "{error}");

    let missing = dir.path().join("nope.csv");
    let error = Source::Csv {
        path: missing,
        options: CsvOptions::default(),
    }
    .load(None)
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("nope.csv") && error.contains("does not exist"),
        "{error}"
    );
}

#[test]
fn sqlite_lists_loads_and_queries_read_only() {
    let db = assets().join("sample.sqlite");
    let before = std::fs::read(&db).unwrap();
    let tables = list_tables(&db).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["items", "responses", "students"]);
    assert_eq!(tables[2].rows, 600);
    assert_eq!(
        tables[0].columns,
        vec!["item_id", "name", "answer_key", "true_a", "true_b"]
    );

    let students = read_table(&db, "students").unwrap();
    assert_eq!(students.height(), 600);
    assert_eq!(students.column("id").unwrap().dtype(), &DataType::Int64);

    let joined = read_query(
        &db,
        "SELECT s.grade, count(*) AS n FROM responses r JOIN students s ON s.id = r.student_id GROUP BY s.grade",
    )
    .unwrap();
    assert_eq!(joined.height(), 3);

    for statement in [
        "DELETE FROM students",
        "INSERT INTO items VALUES ('X', 'x', 'A', 1, 0)",
        "CREATE TABLE t (a)",
        "DROP TABLE students",
        "UPDATE students SET grade = 'x'",
    ] {
        let error = read_query(&db, statement).unwrap_err().to_string();
        assert!(
            error.contains("read-only") || error.contains("readonly"),
            "{statement}: {error}"
        );
    }
    let error = read_query(&db, "SELEC * FROM students")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("SQL error") && error.contains("syntax"),
        "{error}"
    );
    let error = read_table(&db, "pupils").unwrap_err().to_string();
    assert!(
        error.contains("\"pupils\" not found") && error.contains("students"),
        "{error}"
    );

    // The source database is never changed.
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn sqlite_errors_for_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_file(
        dir.path(),
        "notes.sqlite",
        b"just some text, not a database at all",
    );
    let error = list_tables(&text).unwrap_err().to_string();
    assert!(error.contains("not a SQLite database"), "{error}");
    let empty = write_file(dir.path(), "empty.db", b"");
    let error = list_tables(&empty).unwrap_err().to_string();
    assert!(error.contains("empty"), "{error}");

    // A database locked exclusively by another connection.
    let locked = dir.path().join("locked.sqlite");
    let writer = rusqlite::Connection::open(&locked).unwrap();
    writer
        .execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1); PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);")
        .unwrap();
    let error = read_table(&locked, "t").unwrap_err().to_string();
    assert!(error.contains("locked"), "{error}");
    drop(writer);
}

#[test]
fn parquet_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut frame = df!("id" => ["a", "b"], "q1" => [Some(1i32), None], "x" => [0.5, 1.5]).unwrap();
    let path = dir.path().join("t.parquet");
    export_table(
        &mut frame,
        &Destination {
            path: path.clone(),
            format: TableFormat::Parquet,
            table: String::new(),
            replace_table: false,
        },
        &[],
    )
    .unwrap();
    let back = read_parquet(&path).unwrap();
    assert!(back.equals_missing(&frame));
    let garbage = write_file(dir.path(), "bad.parquet", b"PAR1 but not really");
    assert!(
        read_parquet(&garbage)
            .unwrap_err()
            .to_string()
            .contains("Parquet")
    );
}

#[test]
fn long_to_wide_with_duplicates() {
    let long = df!(
        "person" => ["p1", "p1", "p2", "p2", "p1", "p3"],
        "grade" => ["4", "4", "5", "5", "4", "4"],
        "item" => ["Q2", "Q10", "Q2", "Q10", "Q2", "Q1"],
        "answer" => ["A", "B", "C", "D", "X", "A"]
    )
    .unwrap();
    let (wide, report) =
        wide_from_long(&long, "person", "item", "answer", DuplicatePolicy::First).unwrap();
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.rows_out, 3);
    assert_eq!(report.pivoted_items, vec!["Q1", "Q2", "Q10"]);
    assert_eq!(
        wide.get_column_names(),
        &["person", "grade", "Q1", "Q2", "Q10"]
    );
    let q2 = wide.column("Q2").unwrap().str().unwrap().clone();
    assert_eq!(q2.get(0), Some("A"));
    assert_eq!(q2.get(1), Some("C"));
    assert_eq!(q2.get(2), None);

    let (wide, _) =
        wide_from_long(&long, "person", "item", "answer", DuplicatePolicy::Last).unwrap();
    assert_eq!(wide.column("Q2").unwrap().str().unwrap().get(0), Some("X"));

    let error = wide_from_long(&long, "person", "item", "answer", DuplicatePolicy::Error)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("1 duplicate") && error.contains("row 5"),
        "{error}"
    );

    let error = Layout::Long {
        person_column: "student".into(),
        item_column: "item".into(),
        response_column: "answer".into(),
        duplicates: DuplicatePolicy::First,
    }
    .apply(long)
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("\"student\" not found") && error.contains("person, grade"),
        "{error}"
    );
}

#[test]
fn sparse_and_dense_long_data_give_the_same_fit() {
    use irtlab::prediction::{FitSettings, StandardErrorMethod, calibrate};
    use irtlab::preprocessing::{
        Combine, Condition, FilterOp, KeyEntry, PipelineStep, Step, run_pipeline_with,
    };
    use irtlab::project::{Prepared, Project, response_matrix};
    // An incomplete design: 3,000 persons each answer 40 of 120 items, as letters scored by a
    // key, one person dropped by a filter on a person column.
    let truth = common::spread_items(120, 0.0, 71);
    let mut rng = irtlab::prediction::simulation::SplitMix64::new(72);
    let (mut persons, mut items, mut answers, mut groups) = (vec![], vec![], vec![], vec![]);
    for p in 0..3000 {
        let theta = rng.normal();
        for _ in 0..40 {
            let j = (rng.next_u64() % 120) as usize;
            let correct = rng.uniform() < truth[j].probability(theta);
            persons.push(format!("s{p}"));
            items.push(format!("Q{}", j + 1));
            answers.push(if correct { "A" } else { "B" });
            groups.push(if p == 7 { "x" } else { "y" });
        }
    }
    let long =
        df!("person" => persons, "item" => items, "answer" => answers, "group" => groups).unwrap();
    let mut project = Project::new(Source::Csv {
        path: "unused.csv".into(),
        options: CsvOptions::default(),
    });
    project.layout = Layout::Long {
        person_column: "person".into(),
        item_column: "item".into(),
        response_column: "answer".into(),
        duplicates: DuplicatePolicy::Last,
    };
    project.response_columns.id_column = Some("person".into());
    project.steps = vec![
        PipelineStep::new(Step::ScoreKey {
            key: (1..=120)
                .map(|j| KeyEntry {
                    column: format!("Q{j}"),
                    key: "A".into(),
                })
                .collect(),
        }),
        PipelineStep::new(Step::Filter {
            combine: Combine::All,
            conditions: vec![Condition {
                column: "group".into(),
                op: FilterOp::Equal,
                value: "y".into(),
            }],
        }),
    ];
    let matrix_with = |limit: usize| {
        let (frame, mut report) = project
            .layout
            .apply_with_limit(long.clone(), limit)
            .unwrap();
        let sparse = report.sparse.take();
        let held_sparse = sparse.is_some();
        let pipeline = run_pipeline_with(frame, sparse, &project.steps);
        assert!(pipeline.error.is_none(), "{:?}", pipeline.error);
        let prepared = Prepared {
            loaded_shape: (long.height(), long.width()),
            layout: report,
            pipeline,
        };
        (response_matrix(&project, &prepared).unwrap(), held_sparse)
    };
    let (dense, dense_is_sparse) = matrix_with(usize::MAX);
    let (sparse, sparse_is_sparse) = matrix_with(0);
    assert!(!dense_is_sparse && sparse_is_sparse);
    assert_eq!(dense.n_persons(), 2999);
    assert_eq!(sparse.n_persons(), 2999);
    assert_eq!(dense.item_names(), sparse.item_names());
    assert_eq!(dense.n_responses(), sparse.n_responses());
    for p in (0..2999).step_by(97) {
        for j in 0..120 {
            assert_eq!(dense.response(p, j), sparse.response(p, j));
        }
    }
    let settings = FitSettings {
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let a = calibrate(&dense, &settings, &mut |_| {}, &cancel).unwrap();
    let b = calibrate(&sparse, &settings, &mut |_| {}, &cancel).unwrap();
    assert!((a.log_likelihood - b.log_likelihood).abs() < 1e-6 * a.log_likelihood.abs());
    for (x, y) in a.items.iter().zip(&b.items) {
        assert!(
            (x.a() - y.a()).abs() < 1e-4 && (x.b() - y.b()).abs() < 1e-4,
            "{} {}",
            x.item,
            y.item
        );
    }
}
