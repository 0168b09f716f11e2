//! Preprocessing steps and the pipeline: results, reports and errors.

use irtlab::preprocessing::*;
use polars::prelude::*;

fn school() -> DataFrame {
    df!(
        "id" => [1i64, 2, 3, 4, 5, 5],
        "name" => ["Ana", "Ben", "Cy", "Di", "Ed", "Ed"],
        "grade" => ["fourth-grade", "third-grade", "fourth-grade", "fifth-grade", "fourth-grade", "fourth-grade"],
        "age" => [Some(9.5), Some(8.0), None, Some(10.0), Some(9.0), Some(9.0)],
        "q1" => [Some("A"), Some("B"), None, Some("A"), Some("C"), Some("C")],
        "q2" => [Some("Y"), Some("N"), Some("Y"), None, Some("N"), Some("N")]
    )
    .unwrap()
}

fn run(steps: Vec<Step>) -> PipelineRun {
    run_pipeline(
        school(),
        &steps.into_iter().map(PipelineStep::new).collect::<Vec<_>>(),
    )
}

fn filter(column: &str, op: FilterOp, value: &str) -> Step {
    Step::Filter {
        combine: Combine::All,
        conditions: vec![Condition {
            column: column.into(),
            op,
            value: value.into(),
        }],
    }
}

#[test]
fn filters() {
    let cases = [
        ("grade", FilterOp::Equal, "fourth-grade", 4),
        ("grade", FilterOp::NotEqual, "fourth-grade", 2),
        ("age", FilterOp::Less, "9.5", 3),
        ("age", FilterOp::LessOrEqual, "9.5", 4),
        ("age", FilterOp::Greater, "9", 2),
        ("age", FilterOp::GreaterOrEqual, "9", 4),
        ("id", FilterOp::In, "1, 3,5", 4),
        ("grade", FilterOp::NotIn, "third-grade,fifth-grade", 4),
        ("age", FilterOp::IsMissing, "", 1),
        ("q1", FilterOp::IsNotMissing, "", 5),
        ("name", FilterOp::Contains, "e", 1), // case-sensitive: Ben, not Ed
    ];
    for (column, op, value, rows) in cases {
        let result = run(vec![filter(column, op, value)]);
        assert!(
            result.error.is_none(),
            "{column} {op:?}: {:?}",
            result.error
        );
        assert_eq!(
            result.output.height(),
            rows,
            "{column} {} {value}",
            op.symbol()
        );
    }
    let any = Step::Filter {
        combine: Combine::Any,
        conditions: vec![
            Condition {
                column: "id".into(),
                op: FilterOp::Equal,
                value: "1".into(),
            },
            Condition {
                column: "grade".into(),
                op: FilterOp::Equal,
                value: "fifth-grade".into(),
            },
        ],
    };
    assert_eq!(run(vec![any]).output.height(), 2);
}

#[test]
fn recode_and_score_key() {
    let recode = Step::Recode {
        columns: vec!["q2".into(), "grade".into()],
        mapping: vec![
            Mapping {
                from: "Y".into(),
                to: "1".into(),
            },
            Mapping {
                from: "N".into(),
                to: "0".into(),
            },
            Mapping {
                from: "third-grade".into(),
                to: "3".into(),
            },
            Mapping {
                from: "fourth-grade".into(),
                to: "4".into(),
            },
            Mapping {
                from: "fifth-grade".into(),
                to: "5".into(),
            },
        ],
        unmatched: Unmatched::Error,
    };
    let result = run(vec![recode]);
    assert!(result.error.is_none(), "{:?}", result.error);
    let q2 = result.output.column("q2").unwrap();
    assert_eq!(q2.dtype(), &DataType::Int64);
    assert_eq!(q2.i64().unwrap().get(0), Some(1));
    assert_eq!(q2.null_count(), 1);
    assert_eq!(
        result.output.column("grade").unwrap().i64().unwrap().get(3),
        Some(5)
    );

    let strict = Step::Recode {
        columns: vec!["q1".into()],
        mapping: vec![Mapping {
            from: "A".into(),
            to: "1".into(),
        }],
        unmatched: Unmatched::Error,
    };
    let error = run(vec![strict]).error.unwrap().to_string();
    assert!(
        error.starts_with("step 1 (Recode)") && error.contains("\"B\"") && error.contains("\"C\""),
        "{error}"
    );

    let to_missing = Step::Recode {
        columns: vec!["q1".into()],
        mapping: vec![Mapping {
            from: "A".into(),
            to: "1".into(),
        }],
        unmatched: Unmatched::Missing,
    };
    assert_eq!(
        run(vec![to_missing])
            .output
            .column("q1")
            .unwrap()
            .null_count(),
        4
    );

    let key = Step::ScoreKey {
        key: vec![
            KeyEntry {
                column: "q1".into(),
                key: "A".into(),
            },
            KeyEntry {
                column: "q2".into(),
                key: "Y".into(),
            },
        ],
    };
    let result = run(vec![key]);
    let q1: Vec<Option<i32>> = result
        .output
        .column("q1")
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(q1, vec![Some(1), Some(0), None, Some(1), Some(0), Some(0)]);
}

#[test]
fn columns_missing_values_duplicates_and_casts() {
    let result = run(vec![Step::SelectColumns {
        columns: vec!["q2".into(), "id".into()],
    }]);
    assert_eq!(result.output.get_column_names(), &["q2", "id"]);
    let result = run(vec![Step::DropColumns {
        columns: vec!["name".into()],
    }]);
    assert_eq!(result.output.width(), 5);
    let result = run(vec![Step::RenameColumns {
        mapping: vec![Mapping {
            from: "q1".into(),
            to: "item1".into(),
        }],
    }]);
    assert!(result.output.column("item1").is_ok());

    assert_eq!(
        run(vec![Step::DropMissing {
            columns: vec!["q1".into(), "q2".into()]
        }])
        .output
        .height(),
        4
    );
    assert_eq!(
        run(vec![Step::DropMissing { columns: vec![] }])
            .output
            .height(),
        4
    );
    let min = Step::MinAnswered {
        columns: vec!["q1".into(), "q2".into(), "age".into()],
        min_answered: 3,
    };
    assert_eq!(run(vec![min]).output.height(), 4);

    let fill = Step::FillMissing {
        columns: vec!["age".into(), "q1".into()],
        value: "0".into(),
    };
    let result = run(vec![fill]);
    assert_eq!(result.output.column("age").unwrap().null_count(), 0);
    assert_eq!(
        result.output.column("q1").unwrap().str().unwrap().get(2),
        Some("0")
    );
    let bad_fill = Step::FillMissing {
        columns: vec!["age".into()],
        value: "unknown".into(),
    };
    assert!(
        run(vec![bad_fill])
            .error
            .unwrap()
            .message
            .contains("not a number")
    );

    let dedupe = Step::RemoveDuplicates {
        columns: vec![],
        keep: Keep::First,
    };
    assert_eq!(run(vec![dedupe]).output.height(), 5);
    let by_grade = Step::RemoveDuplicates {
        columns: vec!["grade".into()],
        keep: Keep::Last,
    };
    let result = run(vec![by_grade]);
    assert_eq!(result.output.height(), 3);
    assert_eq!(
        result.output.column("id").unwrap().i64().unwrap().get(0),
        Some(2)
    );

    let cast = Step::Cast {
        column: "id".into(),
        to: CastTarget::Text,
    };
    assert_eq!(
        run(vec![cast]).output.column("id").unwrap().dtype(),
        &DataType::String
    );
    let cast = Step::Cast {
        column: "name".into(),
        to: CastTarget::Number,
    };
    let error = run(vec![cast]).error.unwrap().to_string();
    assert!(error.contains("\"Ana\""), "{error}");
}

#[test]
fn pipeline_reports_errors_and_disabled_steps() {
    let steps = vec![
        PipelineStep::new(filter("grade", FilterOp::NotEqual, "third-grade")),
        PipelineStep {
            enabled: false,
            step: filter("id", FilterOp::Equal, "1"),
        },
        PipelineStep::new(filter("class", FilterOp::Equal, "4")),
        PipelineStep::new(Step::DropColumns {
            columns: vec!["name".into()],
        }),
    ];
    let result = run_pipeline(school(), &steps);
    assert_eq!(result.reports[0].rows_in, 6);
    assert_eq!(result.reports[0].rows_out, 5);
    assert!(!result.reports[1].ran);
    let error = result.error.unwrap();
    assert_eq!(error.position, 3);
    let text = error.to_string();
    assert!(
        text.starts_with(
            "step 3 (Filter): column \"class\" not found; columns are: id, name, grade"
        ),
        "{text}"
    );
    assert!(result.reports[2].error.is_some());
    assert!(!result.reports[3].ran);
    // The steps before the failure are kept.
    assert_eq!(result.output.height(), 5);
    assert_eq!(result.output.width(), 6);

    let empty = run(vec![filter("age", FilterOp::Greater, "100")]);
    assert!(empty.error.is_none());
    assert_eq!(empty.output.height(), 0);
    assert!(empty.warnings()[0].contains("no rows"));

    let error = run(vec![filter("age", FilterOp::Greater, "old")])
        .error
        .unwrap()
        .to_string();
    assert!(error.contains("\"old\" is not a number"), "{error}");
}
