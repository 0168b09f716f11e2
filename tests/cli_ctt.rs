//! The classical commands run as a user would: `irtlab items-ctt` on SAT12's unscored answers
//! with its key (values checked against the definitions, computed here from the raw file),
//! on scored data, its refusals, and `irtlab run --ctt` on the sample project.

mod common;

use std::path::Path;

use common::*;

/// SAT12's key (mirt's documentation).
const SAT12_KEY: [u8; 32] = [
    1, 4, 5, 2, 3, 1, 2, 1, 3, 1, 2, 4, 2, 1, 5, 3, 4, 4, 1, 4, 3, 3, 4, 1, 3, 5, 1, 3, 1, 5, 4, 5,
];

fn sat12_key_csv(dir: &Path) -> std::path::PathBuf {
    let mut text = String::from("item,key\n");
    for (j, k) in SAT12_KEY.iter().enumerate() {
        text += &format!("Item.{},{k}\n", j + 1);
    }
    write_file(dir, "key.csv", text.as_bytes())
}

/// SAT12's raw answers, read with the standard library only.
fn sat12_answers() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(data_file("sat12.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance (n − 1).
fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

/// R's type-7 quantile of sorted values.
fn quantile7(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() as f64 - 1.0) * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn alpha(columns: &[Vec<f64>]) -> f64 {
    let k = columns.len() as f64;
    let n = columns[0].len();
    let totals: Vec<f64> = (0..n).map(|p| columns.iter().map(|c| c[p]).sum()).collect();
    let item_variances: f64 = columns.iter().map(|c| variance(c)).sum();
    k / (k - 1.0) * (1.0 - item_variances / variance(&totals))
}

fn close(actual: &serde_json::Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {actual}"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} vs {expected}"
    );
}

#[test]
fn items_ctt_on_sat12_answers_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = sat12_key_csv(dir.path());
    let data = data_file("sat12.csv");
    let items_out = dir.path().join("ctt.csv");
    let distractors_out = dir.path().join("distractors.csv");
    let output = irtlab(&[
        "items-ctt",
        data.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--groups",
        "5",
        "--options",
        "1,2,3,4,5",
        "--json",
        "--out",
        items_out.to_str().unwrap(),
        "--distractors-out",
        distractors_out.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    // The same statistics from their definitions, on the answers scored by the key here
    // (8 = not answered is not the key, so it scores 0: every person answered every item).
    let answers = sat12_answers();
    assert_eq!(answers.len(), 600);
    let scores: Vec<Vec<f64>> = (0..32)
        .map(|j| {
            answers
                .iter()
                .map(|row| f64::from(u8::from(row[j] == SAT12_KEY[j])))
                .collect()
        })
        .collect();
    let totals: Vec<f64> = (0..600)
        .map(|p| scores.iter().map(|c| c[p]).sum())
        .collect();
    let test = &json["test"];
    assert_eq!(test["n_persons"], 600);
    assert_eq!(test["n_items"], 32);
    assert_eq!(test["complete_cases"], 600);
    close(&test["mean"], mean(&totals), "test mean");
    close(&test["sd"], variance(&totals).sqrt(), "test SD");
    let expected_alpha = alpha(&scores);
    close(&test["alpha"], expected_alpha, "alpha");
    close(
        &test["sem"],
        variance(&totals).sqrt() * (1.0 - expected_alpha).sqrt(),
        "SEM",
    );
    // Odd–even split half: items 1, 3, 5, … against 2, 4, 6, …, stepped up by Spearman–Brown.
    let half = |parity: usize| -> Vec<f64> {
        (0..600)
            .map(|p| {
                scores
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| j % 2 == parity)
                    .map(|(_, c)| c[p])
                    .sum()
            })
            .collect()
    };
    let r = pearson(&half(0), &half(1));
    close(
        &test["split_half_odd_even"]["spearman_brown"],
        2.0 * r / (1.0 + r),
        "odd-even split half",
    );

    let mut sorted = totals.clone();
    sorted.sort_by(f64::total_cmp);
    let (lower_cut, upper_cut) = (quantile7(&sorted, 1.0 / 3.0), quantile7(&sorted, 2.0 / 3.0));
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 32);
    for (j, item) in items.iter().enumerate() {
        let what = format!("Item.{}", j + 1);
        assert_eq!(item["item"], what.as_str());
        let x = &scores[j];
        let rest: Vec<f64> = totals.iter().zip(x).map(|(t, v)| t - v).collect();
        close(&item["difficulty"], mean(x), &format!("{what} difficulty"));
        close(&item["sd"], variance(x).sqrt(), &format!("{what} SD"));
        close(&item["rit"], pearson(x, &totals), &format!("{what} RIT"));
        close(&item["rir"], pearson(x, &rest), &format!("{what} RIR"));
        let without: Vec<Vec<f64>> = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != j)
            .map(|(_, c)| c.clone())
            .collect();
        close(
            &item["alpha_if_dropped"],
            alpha(&without),
            &format!("{what} alpha if dropped"),
        );
        // ULI with three groups: the top third (total at or above the upper cut) against the
        // bottom third (below the lower cut).
        let group_mean = |keep: &dyn Fn(f64) -> bool| {
            let chosen: Vec<f64> = (0..600)
                .filter(|&p| keep(totals[p]))
                .map(|p| x[p])
                .collect();
            mean(&chosen)
        };
        let uli = group_mean(&|t| t >= upper_cut) - group_mean(&|t| t < lower_cut);
        close(&item["uli"], uli, &format!("{what} ULI"));
        close(&item["missing_percent"], 0.0, &format!("{what} missing"));
    }

    // Distractors: item 32's option 3 is chosen by 266 and has a higher point-biserial than the
    // key 5 — the probable miskey; the groups hold all 600.
    let distractors = &json["distractors"];
    assert_eq!(distractors["groups"].as_array().unwrap().len(), 5);
    let group_sizes: u64 = distractors["group_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(group_sizes, 600);
    let item32 = &distractors["items"][31];
    assert_eq!(item32["item"], "Item.32");
    assert_eq!(item32["key"], "5");
    let options = item32["options"].as_array().unwrap();
    let option = |label: &str| {
        options
            .iter()
            .find(|o| o["option"] == label)
            .unwrap_or_else(|| panic!("option {label}"))
    };
    let count3 = answers.iter().filter(|row| row[31] == 3).count();
    assert_eq!(count3, 266);
    assert_eq!(option("3")["count"], 266);
    close(
        &option("3")["proportion"],
        266.0 / 600.0,
        "Item.32 option 3",
    );
    let rest32: Vec<f64> = totals.iter().zip(&scores[31]).map(|(t, v)| t - v).collect();
    let chose3: Vec<f64> = answers
        .iter()
        .map(|row| f64::from(u8::from(row[31] == 3)))
        .collect();
    close(
        &option("3")["point_biserial"],
        pearson(&chose3, &rest32),
        "Item.32 option 3 point-biserial",
    );
    assert!(
        option("3")["flags"].as_array().unwrap().iter().any(|f| f
            .as_str()
            .unwrap()
            .contains("miskey")
            || f == "ProbableMiskey"),
        "{}",
        option("3")
    );

    // The tables written: one row per item; one row per item and option.
    let ctt = std::fs::read_to_string(&items_out).unwrap();
    let mut lines = ctt.lines();
    assert_eq!(
        lines.next().unwrap(),
        "item,n,max_score,mean,difficulty,sd,rit,rir,uli,alpha_if_dropped,missing_pct,not_reached_pct"
    );
    assert_eq!(lines.count(), 32);
    let table = std::fs::read_to_string(&distractors_out).unwrap();
    assert!(table.starts_with("item,option,key,n,proportion,group_1,"));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Item.32,3,") && l.contains("miskey")),
        "{table}"
    );
}

#[test]
fn items_ctt_text_on_a_small_scored_table() {
    let dir = tempfile::tempdir().unwrap();
    // Four persons, three right/wrong items; the third item is missing for the last person.
    let data = write_file(
        dir.path(),
        "small.csv",
        b"id,q1,q2,q3\na,1,1,1\nb,1,0,1\nc,0,0,0\nd,1,1,\n",
    );
    let test_out = dir.path().join("test.csv");
    let output = irtlab(&[
        "items-ctt",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--json",
        "--test-out",
        test_out.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // q1: 3 of 4 right; q3: 2 of the 3 who answered; d answered 2 of 3 items.
    close(&json["items"][0]["difficulty"], 0.75, "q1 difficulty");
    close(&json["items"][2]["difficulty"], 2.0 / 3.0, "q3 difficulty");
    close(&json["items"][2]["missing_percent"], 25.0, "q3 missing");
    close(
        &json["items"][2]["not_reached_percent"],
        25.0,
        "q3 not reached",
    );
    // Totals 3, 2, 0, 2: mean 7/4.
    close(&json["test"]["mean"], 1.75, "mean total");
    // Alpha on the three complete persons a, b, c: item variances 1/3, 1/3, 1/3; totals
    // 3, 2, 0 with variance 7/3: α = 3/2 · (1 − 1/(7/3)) = 6/7.
    assert_eq!(json["test"]["complete_cases"], 3);
    close(&json["test"]["alpha"], 6.0 / 7.0, "alpha");
    assert!(
        json["persons_used"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["persons"] == 3),
        "{}",
        json["persons_used"]
    );
    assert!(test_out.exists());

    // Text output names the persons each statistic used.
    let output = irtlab(&["items-ctt", data.to_str().unwrap(), "--id", "id"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(text.contains("persons used"), "{text}");
    assert!(text.contains("q3"), "{text}");
}

#[test]
fn items_ctt_refusals_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_file("sat12.csv");
    let output = irtlab(&[
        "items-ctt",
        data.to_str().unwrap(),
        "--distractors-out",
        dir.path().join("d.csv").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--distractors-out needs --key"), "{stderr}");

    let key = write_file(dir.path(), "key.csv", b"item,key\nNoSuchItem,1\n");
    let output = irtlab(&[
        "items-ctt",
        data.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NoSuchItem"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let output = irtlab(&["items-ctt", data.to_str().unwrap(), "--groups", "1"]);
    assert!(!output.status.success());
}

#[test]
fn run_writes_the_classical_tables_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let project = assets().join("sample.irtlab.json");
    let out = dir.path().join("out");
    let output = irtlab(&[
        "run",
        project.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--ctt",
        "--skip-probabilities",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // The sample scores 20 multiple-choice items by key and keeps 400 of 600 students.
    let ctt = std::fs::read_to_string(out.join("ctt.csv")).unwrap();
    assert_eq!(ctt.lines().count(), 21, "{ctt}");
    let test = std::fs::read_to_string(out.join("ctt_test.csv")).unwrap();
    assert!(test.starts_with("statistic,value,persons\n"), "{test}");
    assert!(test.contains(",400"), "{test}");
    let distractors = std::fs::read_to_string(out.join("distractors.csv")).unwrap();
    assert!(
        distractors.lines().any(|l| l.starts_with("Q01,A,")),
        "{distractors}"
    );
    let items: std::collections::BTreeSet<&str> = distractors
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(items.len(), 20);

    // Without --ctt, only when the project asks for it.
    let plain = dir.path().join("plain");
    let output = irtlab(&[
        "run",
        project.to_str().unwrap(),
        "--out",
        plain.to_str().unwrap(),
        "--skip-probabilities",
    ]);
    assert!(output.status.success());
    assert!(!plain.join("ctt.csv").exists());
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&project).unwrap()).unwrap();
    json["classical"] = serde_json::json!({"write_tables": true, "distractors": {"groups": 4}});
    json["source"]["path"] = serde_json::json!(assets().join("sample.sqlite"));
    let asked = write_file(dir.path(), "asked.irtlab.json", json.to_string().as_bytes());
    let asked_out = dir.path().join("asked");
    let output = irtlab(&[
        "run",
        asked.to_str().unwrap(),
        "--out",
        asked_out.to_str().unwrap(),
        "--skip-probabilities",
    ]);
    assert_succeeded(&output);
    let distractors = std::fs::read_to_string(asked_out.join("distractors.csv")).unwrap();
    assert!(
        distractors
            .starts_with("item,option,key,n,proportion,group_1,group_2,group_3,group_4,mean_total"),
        "{distractors}"
    );
}
