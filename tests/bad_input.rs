//! Bad and hostile input, as a careful tester would try it: every class of failure that can
//! lose or change a user's data or take the process down. Each case asserts the exit code, a
//! single `error:` line naming the problem, no output left behind, inputs byte-identical, and
//! bounded time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

fn irtlab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The process failed with exactly one `error:` line on stderr (warnings aside), at most
/// `max` characters long, containing every one of `needles`.
fn assert_one_error_line(output: &Output, needles: &[&str]) {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{stderr}");
    let line = errors[0];
    assert!(
        line.chars().count() <= 1010,
        "error line too long ({} chars)",
        line.len()
    );
    assert!(
        !line.chars().any(|c| c.is_control()),
        "control characters in {line:?}"
    );
    for needle in needles {
        assert!(line.contains(needle), "{needle:?} not in {line:?}");
    }
    assert!(
        !stderr.contains("panicked"),
        "a panic reached the user: {stderr}"
    );
}

/// Files of a folder (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn lsat7_file(dir: &Path) -> PathBuf {
    write_file(dir, "data.csv", lsat7_csv().as_bytes())
}

#[test]
fn an_output_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = lsat7_file(dir.path());
    let before = std::fs::read(&data).unwrap();
    // The same path, a symbolic link to it, a hard link to it.
    std::os::unix::fs::symlink(&data, dir.path().join("link.csv")).unwrap();
    std::fs::hard_link(&data, dir.path().join("hard.csv")).unwrap();
    for (flag, target) in [
        ("--scores-out", "data.csv"),
        ("--items-out", "./data.csv"),
        ("--probabilities-out", "link.csv"),
        ("--scores-out", "hard.csv"),
    ] {
        let output = irtlab_in(dir.path(), &["fit", "data.csv", "--id", "id", flag, target]);
        assert_one_error_line(&output, &["input", "data.csv"]);
        assert_eq!(std::fs::read(&data).unwrap(), before, "{flag} {target}");
    }
    // prepare's --out equal to the project's source database.
    let project_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        assets().join("sample.sqlite"),
        project_dir.path().join("sample.sqlite"),
    )
    .unwrap();
    std::fs::copy(
        assets().join("sample.irtlab.json"),
        project_dir.path().join("sample.irtlab.json"),
    )
    .unwrap();
    let database = std::fs::read(project_dir.path().join("sample.sqlite")).unwrap();
    let output = irtlab_in(
        project_dir.path(),
        &[
            "prepare",
            "sample.irtlab.json",
            "--out",
            "sample.sqlite",
            "--table",
            "clean",
        ],
    );
    assert_one_error_line(&output, &["input"]);
    assert_eq!(
        std::fs::read(project_dir.path().join("sample.sqlite")).unwrap(),
        database
    );
    let output = irtlab_in(
        project_dir.path(),
        &[
            "prepare",
            "sample.irtlab.json",
            "--out",
            "sample.irtlab.json",
        ],
    );
    assert!(!output.status.success());
}

#[test]
fn a_failed_command_writes_none_of_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    lsat7_file(dir.path());
    // The third output's folder does not exist: refused before anything is computed.
    let started = Instant::now();
    let output = irtlab_in(
        dir.path(),
        &[
            "fit",
            "data.csv",
            "--id",
            "id",
            "--items-out",
            "items.csv",
            "--scores-out",
            "scores.csv",
            "--probabilities-out",
            "missing-folder/p.csv",
        ],
    );
    assert_one_error_line(&output, &["missing-folder"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(listing(dir.path()), vec!["data.csv"]);
    // A folder in the way of an output.
    std::fs::create_dir(dir.path().join("p.csv")).unwrap();
    let output = irtlab_in(
        dir.path(),
        &[
            "fit",
            "data.csv",
            "--id",
            "id",
            "--items-out",
            "items.csv",
            "--probabilities-out",
            "p.csv",
        ],
    );
    assert_one_error_line(&output, &["p.csv"]);
    assert_eq!(listing(dir.path()), vec!["data.csv", "p.csv"]);
    // run --out DIR with a folder where probabilities.csv goes.
    let project_dir = tempfile::tempdir().unwrap();
    let project = project_dir.path().join("p.irtlab.json");
    let text = std::fs::read_to_string(assets().join("sample.irtlab.json"))
        .unwrap()
        .replace(
            "\"path\": \"sample.sqlite\"",
            &format!("\"path\": {:?}", assets().join("sample.sqlite")),
        );
    std::fs::write(&project, text).unwrap();
    let out = project_dir.path().join("out");
    std::fs::create_dir_all(out.join("probabilities.csv")).unwrap();
    let output = irtlab_in(
        project_dir.path(),
        &["run", "p.irtlab.json", "--out", "out"],
    );
    assert_one_error_line(&output, &["probabilities.csv"]);
    assert_eq!(listing(&out), vec!["probabilities.csv"]);
}

#[test]
fn tables_for_one_database_go_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    lsat7_file(dir.path());
    let database = dir.path().join("out.sqlite");
    {
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .execute_batch("CREATE TABLE scores (x INTEGER); INSERT INTO scores VALUES (1);")
            .unwrap();
    }
    let before = std::fs::read(&database).unwrap();
    let output = irtlab_in(
        dir.path(),
        &[
            "fit",
            "data.csv",
            "--id",
            "id",
            "--items-out",
            "out.sqlite",
            "--scores-out",
            "out.sqlite",
        ],
    );
    assert_one_error_line(&output, &["scores", "already exists"]);
    assert_eq!(
        std::fs::read(&database).unwrap(),
        before,
        "the database changed"
    );
    // With --replace-table both tables land, together.
    let output = irtlab_in(
        dir.path(),
        &[
            "fit",
            "data.csv",
            "--id",
            "id",
            "--items-out",
            "out.sqlite",
            "--scores-out",
            "out.sqlite",
            "--replace-table",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items = irtlab::preparation::sqlite::read_table(&database, "items").unwrap();
    let scores = irtlab::preparation::sqlite::read_table(&database, "scores").unwrap();
    assert_eq!((items.height(), scores.height()), (5, 1000));
}

#[test]
fn memory_follows_the_data_not_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    // 100,000 persons × 100,000 items in a 1.6 MB long file: the wide table would be 10^10 cells.
    let mut text = String::from("person,item,response\n");
    for k in 0..100_000 {
        text.push_str(&format!("p{k},i{k},{}\n", k % 2));
    }
    write_file(dir.path(), "long.csv", text.as_bytes());
    let project = serde_json::json!({
        "version": 1,
        "source": {"kind": "csv", "path": "long.csv"},
        "layout": {"kind": "long", "person_column": "person", "item_column": "item", "response_column": "response"},
        "response_columns": {"id_column": "person"}
    });
    write_file(
        dir.path(),
        "long.irtlab.json",
        project.to_string().as_bytes(),
    );
    let started = Instant::now();
    let output = irtlab_in(dir.path(), &["run", "long.irtlab.json", "--out", "out"]);
    // The person × item probabilities would be 10^10 cells: refused before fitting.
    assert_one_error_line(
        &output,
        &[
            "probabilities",
            "100,000 rows × 100,000 columns",
            "--skip-probabilities",
        ],
    );
    let output = irtlab_in(
        dir.path(),
        &[
            "run",
            "long.irtlab.json",
            "--out",
            "out",
            "--skip-probabilities",
        ],
    );
    // Every item has one response, so nothing can be calibrated — said, not aborted.
    assert_one_error_line(&output, &["need at least 2 items"]);
    assert!(started.elapsed() < Duration::from_secs(60));
    // prepare writes the sparse responses long.
    let output = irtlab_in(
        dir.path(),
        &["prepare", "long.irtlab.json", "--out", "clean.csv"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let clean = std::fs::read_to_string(dir.path().join("clean.csv")).unwrap();
    assert!(clean.starts_with("id,item,response\n"));
    assert_eq!(clean.lines().count(), 100_001);

    // 10,000 items and 30 persons: the standard errors of 20,000 parameters are refused up front.
    let mut wide = String::from("id");
    for j in 0..10_000 {
        wide.push_str(&format!(",q{j}"));
    }
    wide.push('\n');
    let mut rng = irtlab::prediction::simulation::SplitMix64::new(3);
    for p in 0..30 {
        wide.push_str(&format!("s{p}"));
        for _ in 0..10_000 {
            wide.push_str(if rng.uniform() < 0.5 { ",1" } else { ",0" });
        }
        wide.push('\n');
    }
    write_file(dir.path(), "wide.csv", wide.as_bytes());
    let started = Instant::now();
    let output = irtlab_in(
        dir.path(),
        &["fit", "wide.csv", "--id", "id", "--scores-out", "s.csv"],
    );
    assert_one_error_line(
        &output,
        &["standard errors of 20000 parameters", "GB", "--se none"],
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!dir.path().join("s.csv").exists());

    // A 1,000,000-point θ grid for 500 items would be 500 million cells.
    let mut items = String::from("item,a,b\n");
    for j in 0..500 {
        items.push_str(&format!("q{j},1.2,{}\n", j as f64 / 250.0 - 1.0));
    }
    write_file(dir.path(), "items.csv", items.as_bytes());
    let output = irtlab_in(
        dir.path(),
        &[
            "probabilities",
            "--item-parameters",
            "items.csv",
            "--theta=-5:5:0.00004",
            "--out",
            "grid.csv",
        ],
    );
    assert_one_error_line(&output, &["probabilities table", "rows"]);
    assert!(!dir.path().join("grid.csv").exists());
}

#[test]
fn numbers_that_would_overflow_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "items.csv", b"item,a,b\nq1,1,0\n");
    for grid in [
        "-1e308:1e308:1",
        "0:1:0",
        "1:0:0.1",
        "nan:1:0.1",
        "-inf:0:1",
        "0:1:1e-300",
    ] {
        let output = irtlab_in(
            dir.path(),
            &[
                "probabilities",
                "--item-parameters",
                "items.csv",
                &format!("--theta={grid}"),
                "--out",
                "g.csv",
            ],
        );
        assert_one_error_line(&output, &["θ grid"]);
        assert!(!dir.path().join("g.csv").exists(), "{grid}");
    }
}

#[test]
fn errors_are_one_short_line_in_irtlabs_words() {
    let dir = tempfile::tempdir().unwrap();
    // A 10 MB cell: the message names the column without echoing the cell.
    let mut text = String::from("id,q1,q2\n1,1,0\n2,");
    text.push_str(&"x".repeat(10_000_000));
    text.push_str(",1\n3,0,1\n");
    write_file(dir.path(), "big.csv", text.as_bytes());
    let output = irtlab_in(dir.path(), &["fit", "big.csv", "--id", "id"]);
    assert_one_error_line(&output, &["q1"]);
    // An unterminated quote: the line where it opened, said once.
    write_file(
        dir.path(),
        "quote.csv",
        b"id,q1,q2\n1,1,0\n2,\"1,0\n3,0,1\n4,1,1\n",
    );
    let output = irtlab_in(dir.path(), &["fit", "quote.csv", "--id", "id"]);
    assert_one_error_line(&output, &["line 3", "never closed"]);
    // A lone quote as the file's last field (the CSV library indexes out of bounds on it): refused
    // before it is read, wherever it stands.
    for (name, bytes, line) in [
        ("lone1.csv", &b"a,b\n1,\""[..], "line 2"),
        ("lone2.csv", &b"a,b\n1,2\n\""[..], "line 3"),
        ("lone3.csv", &b"a\n\""[..], "line 2"),
    ] {
        write_file(dir.path(), name, bytes);
        let output = irtlab_in(dir.path(), &["fit", name]);
        assert_one_error_line(&output, &[line, "never closed"]);
    }
    // A ragged row, in irtlab's words (not the CSV library's advice to other languages).
    write_file(
        dir.path(),
        "ragged.csv",
        b"id,q1,q2\n1,1,0\n2,1,0,1\n3,0,1\n",
    );
    let output = irtlab_in(dir.path(), &["fit", "ragged.csv", "--id", "id"]);
    assert_one_error_line(&output, &["line 3 has 4 fields but the header has 3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("truncate_ragged_lines") && !stderr.contains("ignore_errors"));
    // Newlines and NUL bytes in a value are escaped, not printed.
    write_file(
        dir.path(),
        "control.csv",
        b"id,q1,q2\n1,\"a\nb\",0\n2,\"x\x01y\",1\n3,0,1\n",
    );
    let output = irtlab_in(dir.path(), &["fit", "control.csv", "--id", "id"]);
    assert_one_error_line(&output, &["q1"]);
    // Bytes that are not UTF-8, with their line.
    write_file(
        dir.path(),
        "latin1.csv",
        b"id,q1,q2\n1,1,0\n2,\xe9,1\n3,0,1\n",
    );
    let output = irtlab_in(dir.path(), &["fit", "latin1.csv", "--id", "id"]);
    assert_one_error_line(&output, &["line 3", "UTF-8"]);
}

#[test]
fn valid_files_get_correct_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    // A header longer than 64 KiB with a multi-byte character across byte 65,536.
    let mut header = String::from("id");
    let mut n = 0;
    while header.len() < 65_530 {
        header.push_str(&format!(",q{n}"));
        n += 1;
    }
    header.push_str(",é_long_name_ü");
    let columns = n + 1;
    let mut text = header.clone();
    text.push('\n');
    let mut rng = irtlab::prediction::simulation::SplitMix64::new(9);
    for p in 0..40 {
        text.push_str(&format!("{p}"));
        for _ in 0..columns {
            text.push_str(if rng.uniform() < 0.5 { ",1" } else { ",0" });
        }
        text.push('\n');
    }
    let path = write_file(dir.path(), "wide.csv", text.as_bytes());
    let frame = irtlab::preparation::read_csv(&path, &Default::default()).unwrap();
    assert_eq!(frame.width(), columns + 1);
    assert!(frame.column("é_long_name_ü").is_ok());
    // Duplicate column names are refused, naming both.
    write_file(dir.path(), "dup.csv", b"id,Q1,Q2,Q1\n1,1,0,1\n2,0,1,0\n");
    let output = irtlab_in(dir.path(), &["fit", "dup.csv", "--id", "id"]);
    assert_one_error_line(&output, &["columns 2 and 4", "\"Q1\""]);
    // A delimiter given as a newline or a quote.
    for delimiter in ["\n", "\""] {
        let error = irtlab::preparation::read_csv(
            &dir.path().join("dup.csv"),
            &irtlab::preparation::CsvOptions {
                delimiter: delimiter.chars().next(),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("delimiter"), "{error}");
    }
    // One person is "too few persons", not "too few items".
    write_file(dir.path(), "one.csv", b"id,q1,q2,q3\n1,1,0,1\n");
    let output = irtlab_in(dir.path(), &["fit", "one.csv", "--id", "id"]);
    assert_one_error_line(&output, &["at least 2 persons", "found 1"]);
}

#[test]
fn sqlite_sources_are_read_leaving_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("wal.sqlite");
    {
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE r (id TEXT, q1 INTEGER, q2 INTEGER, q3 INTEGER);")
            .unwrap();
        for (i, row) in lsat7_rows().iter().enumerate() {
            connection
                .execute(
                    "INSERT INTO r VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![format!("p{i}"), row[0], row[1], row[2]],
                )
                .unwrap();
        }
    }
    let before = listing(dir.path());
    assert_eq!(
        before,
        vec!["wal.sqlite"],
        "the test database closed cleanly"
    );
    let bytes = std::fs::read(&database).unwrap();
    let output = irtlab_in(dir.path(), &["fit", "wal.sqlite", "--id", "id"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(listing(dir.path()), before, "no -wal or -shm left behind");
    assert_eq!(std::fs::read(&database).unwrap(), bytes);

    // A recursive query that never ends is bounded.
    let started = Instant::now();
    let error = irtlab::preparation::sqlite::read_query_limited(
        &database,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
        None,
        50_000_000,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("LIMIT"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(60));
    // And it can be cancelled.
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cancel.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let result = irtlab::preparation::sqlite::read_query_cancellable(
        &database,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0",
        Some(cancel),
    );
    stopper.join().unwrap();
    assert!(matches!(
        result,
        Err(irtlab::preparation::PreparationError::Cancelled)
    ));
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn sources_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.csv");
    let status = Command::new("mkfifo").arg(&fifo).status();
    if status.map(|s| s.success()).unwrap_or(false) {
        let started = Instant::now();
        let output = irtlab_in(dir.path(), &["fit", "pipe.csv"]);
        assert_one_error_line(&output, &["not a regular file"]);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    std::fs::create_dir(dir.path().join("folder.csv")).unwrap();
    let output = irtlab_in(dir.path(), &["fit", "folder.csv"]);
    assert_one_error_line(&output, &["folder"]);
}

#[test]
fn file_modes_follow_the_umask_and_replaced_files_keep_theirs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    lsat7_file(dir.path());
    std::fs::write(dir.path().join("kept.csv"), "old").unwrap();
    std::fs::set_permissions(
        dir.path().join("kept.csv"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let output = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "umask 022 && {} fit data.csv --id id --items-out new.csv --scores-out kept.csv",
            env!("CARGO_BIN_EXE_irtlab")
        ))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("new.csv"), 0o644);
    assert_eq!(mode("kept.csv"), 0o640);
}

#[test]
fn interrupting_leaves_no_temporary_files() {
    // A long fit, interrupted: the command ends with status 130 and nothing in the folder but
    // its input.
    let dir = tempfile::tempdir().unwrap();
    let items = spread_items(60, 0.0, 5);
    let (matrix, _) = simulate(&items, 40_000, 6);
    let mut frame = matrix.to_dataframe().unwrap();
    let path = dir.path().join("data.csv");
    irtlab::export::write_table_to(&mut frame, &path, "data").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .current_dir(dir.path())
        .args([
            "fit",
            "data.csv",
            "--id",
            "id",
            "--model",
            "3pl",
            "--no-acceleration",
            "--scores-out",
            "s.csv",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        // The fit finished before the signal: nothing to check on this machine.
        return;
    }
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(listing(dir.path()), vec!["data.csv"]);
}
