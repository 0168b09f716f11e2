//! The command line, run as a user would: exit codes, outputs, messages.

mod common;

use common::*;

#[test]
fn fit_lsat7_json_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "lsat7.csv", lsat7_csv().as_bytes());
    let items = dir.path().join("items.csv");
    let scores = dir.path().join("scores.parquet");
    let probabilities = dir.path().join("p.csv");
    let output = irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--json",
        "--items-out",
        items.to_str().unwrap(),
        "--scores-out",
        scores.to_str().unwrap(),
        "--probabilities-out",
        probabilities.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["model"], "2pl");
    assert!((json["log_likelihood"].as_f64().unwrap() - -2658.805).abs() < 0.01);
    assert_eq!(json["parameters"], 10);
    assert_eq!(json["converged"], true);
    assert!((json["items"][2]["a"].as_f64().unwrap() - 1.706).abs() < 0.01);

    let items_text = std::fs::read_to_string(&items).unwrap();
    assert!(
        items_text
            .starts_with("item,model,categories,a,b,d,a_se,b_se,d_se,p_value,n,item_rest_r\n"),
        "{items_text}"
    );
    assert!(items_text.contains("\nItem.1,2pl,0|1,"));
    assert_eq!(items_text.lines().count(), 6);
    let probabilities_text = std::fs::read_to_string(&probabilities).unwrap();
    assert!(probabilities_text.starts_with("id,Item.1,Item.2,Item.3,Item.4,Item.5\np1,"));
    let scores_frame = irtlab::preparation::source::read_parquet(&scores).unwrap();
    assert_eq!(
        scores_frame.get_column_names(),
        &[
            "id",
            "theta",
            "theta_se",
            "n_answered",
            "sum_score",
            "z_score",
            "t_score",
            "percentile",
            "success_rate"
        ]
    );
    assert_eq!(scores_frame.height(), 1000);

    // The items table feeds `irtlab probabilities`.
    let grid = dir.path().join("grid.csv");
    let output = irtlab(&[
        "probabilities",
        "--item-parameters",
        items.to_str().unwrap(),
        "--theta",
        "-2:2:0.5",
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let grid_text = std::fs::read_to_string(&grid).unwrap();
    assert!(grid_text.starts_with("theta,Item.1"));
    assert_eq!(grid_text.lines().count(), 10);
}

#[test]
fn fit_rejects_non_binary_columns_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(
        dir.path(),
        "d.csv",
        b"id,name,q1,q2\n1,Ann,1,0\n2,Bob,0,1\n3,Cy,1,1\n",
    );
    let output = irtlab(&["fit", data.to_str().unwrap(), "--id", "id"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"name\"") && stderr.contains("\"Ann\""),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let output = irtlab(&["fit", data.to_str().unwrap(), "--model", "5pl"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("5pl"));
}

#[test]
fn run_and_prepare_the_sample_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = assets().join("sample.irtlab.json");
    let out = dir.path().join("out");
    let output = irtlab(&[
        "run",
        project.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("step 1 (Score by key): 600 → 600 rows"),
        "{stderr}"
    );
    assert!(
        stderr.contains("step 2 (Filter): 600 → 400 rows"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("2PL fit: 400 persons, 20 items"),
        "{stdout}"
    );
    for name in ["items.csv", "scores.csv", "probabilities.csv"] {
        assert!(out.join(name).exists(), "{name}");
    }

    let database = dir.path().join("clean.sqlite");
    let output = irtlab(&[
        "prepare",
        project.to_str().unwrap(),
        "--out",
        database.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let frame = irtlab::preparation::sqlite::read_table(&database, "responses").unwrap();
    assert_eq!(frame.height(), 400);
    assert_eq!(frame.width(), 21);
    // Writing the same table again is refused without --replace-table.
    let output = irtlab(&[
        "prepare",
        project.to_str().unwrap(),
        "--out",
        database.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    let output = irtlab(&[
        "prepare",
        project.to_str().unwrap(),
        "--out",
        database.to_str().unwrap(),
        "--replace-table",
    ]);
    assert!(output.status.success());
}

#[test]
fn run_stops_at_the_failing_step() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(assets().join("sample.irtlab.json"))
        .unwrap()
        .replace("\"column\": \"grade\"", "\"column\": \"class\"")
        .replace(
            "\"path\": \"sample.sqlite\"",
            &format!("\"path\": {:?}", assets().join("sample.sqlite")),
        );
    let project = write_file(dir.path(), "broken.irtlab.json", text.as_bytes());
    let output = irtlab(&[
        "run",
        project.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: step 2 (Filter): column \"class\" not found; columns are: student_id, grade, gender"), "{stderr}");
}
