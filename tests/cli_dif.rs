//! The group commands run as a user would: `irtlab dif`, `irtlab fit --group` and the DIF
//! analysis of a project, on mirt's dif1 and mg1 data, checked against mirt's published values.

mod common;

use std::path::PathBuf;

use common::{assert_succeeded, irtlab};

fn data(name: &str) -> String {
    common::data_file(name).to_str().unwrap().to_string()
}

fn close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!((a - b).abs() <= tolerance, "{what}: {a} vs {b}");
}

#[test]
fn dif_wald_with_anchors_matches_mirt_and_writes_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dif.csv");
    let output = irtlab(&[
        "dif",
        &data("dif1.csv"),
        "--group",
        "group",
        "--focal",
        "D2",
        "--method",
        "wald",
        "--anchors",
        "Item_1,Item_2,Item_3,Item_4,Item_5",
        "--p-adjust",
        "none",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let json = common::succeeded(&output);
    // mirt: DIF(model, which.par = c('a1', 'd'), items2test = 6:10, Wald = TRUE) with items
    // 1–5 equal across groups and D2's mean and variance free (test-17-DIF_DRF.R).
    let mirt = [0.1090403, 0.07219868, 0.175297, 0.1354964, 0.6970995];
    let rows = json["items"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "anchors are not tested");
    for (k, expected) in mirt.iter().enumerate() {
        let row = &rows[k];
        assert_eq!(row["item"], format!("Item_{}", k + 6));
        assert_eq!(row["method"], "wald");
        assert_eq!(row["df"], 2.0);
        close(row["p"].as_f64().unwrap(), *expected, 0.01, "Wald p");
        assert_eq!(row["p_adjusted"], row["p"]);
        assert_eq!(row["flagged"], false);
        for key in ["statistic", "effect", "class"] {
            assert!(!row[key].is_null(), "{key} in {row}");
        }
    }
    let groups = &json["groups"];
    assert_eq!(groups["reference"], "D1");
    assert_eq!(groups["focal"], "D2");
    assert_eq!(groups["n_reference"], 1000);
    assert_eq!(groups["n_focal"], 1000);
    close(
        groups["focal_mean"].as_f64().unwrap(),
        0.0918,
        2e-3,
        "focal mean",
    );
    let table = std::fs::read_to_string(&out).unwrap();
    assert!(
        table.starts_with("item,method,statistic,df,p,p_adjusted,effect,effect_name,class,flagged"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 6);
    assert!(table.contains("\nItem_6,wald,"));
}

#[test]
fn dif_purified_likelihood_ratio_flags_only_dif_items() {
    let output = irtlab(&[
        "dif",
        &data("dif1.csv"),
        "--group",
        "group",
        "--focal",
        "D2",
        "--method",
        "lr,mh,logistic",
        "--purify",
        "--json",
    ]);
    let json = common::succeeded(&output);
    let rows = json["items"].as_array().unwrap();
    assert_eq!(rows.len(), 30, "10 items × 3 methods");
    let flagged = |method: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r["method"] == method && r["flagged"] == true)
            .map(|r| r["item"].as_str().unwrap().to_string())
            .collect()
    };
    // Items 1–3 carry the planted DIF. Item 3's (an intercept 0.19 apart) is too small for
    // 1,000 persons per group; items 1 and 2 are flagged, and no DIF-free item is.
    assert_eq!(flagged("lr"), vec!["Item_1", "Item_2"]);
    for method in ["mh", "logistic"] {
        for item in flagged(method) {
            assert!(
                ["Item_1", "Item_2", "Item_3"].contains(&item.as_str()),
                "{method} flags {item}"
            );
        }
    }
    let summary = json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 10);
    assert_eq!(summary[0]["flagged"], true);
    assert_eq!(summary[9]["flagged"], false);
    let purification = json["purification"].as_array().unwrap();
    let lr = purification.iter().find(|p| p["method"] == "lr").unwrap();
    assert_eq!(lr["converged"], true);
    // Holm over 10 items by default.
    assert_eq!(json["p_adjust"], "holm");
    let first = &rows.iter().find(|r| r["method"] == "lr").unwrap();
    assert!(first["p_adjusted"].as_f64().unwrap() >= first["p"].as_f64().unwrap());
}

#[test]
fn dif_text_report_and_bad_input() {
    let output = irtlab(&[
        "dif",
        &data("dif1.csv"),
        "--group",
        "group",
        "--focal",
        "D2",
        "--method",
        "mh",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("reference D1 (1000 persons), focal D2 (1000 persons)"));
    assert!(text.contains("Item_10"));
    // An unknown focal group, an unknown method, an unknown anchor: one clear line each.
    for (args, needle) in [
        (vec!["--focal", "D3"], "D3"),
        (vec!["--focal", "D2", "--method", "raju"], "raju"),
        (vec!["--focal", "D2", "--anchors", "Item_99"], "Item_99"),
    ] {
        let mut all = vec!["dif", "PLACEHOLDER", "--group", "group"];
        all.extend(args);
        let path = data("dif1.csv");
        all[1] = &path;
        let output = irtlab(&all);
        assert!(!output.status.success(), "{all:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The first line says what is wrong (clap adds a pointer to --help after it).
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error:") && first.contains(needle),
            "{stderr}"
        );
    }
    // The output may not be the input.
    let path = data("dif1.csv");
    let output = irtlab(&[
        "dif", &path, "--group", "group", "--focal", "D2", "--method", "mh", "--out", &path,
    ]);
    assert!(!output.status.success());
}

#[test]
fn fit_group_log_likelihoods_match_mirt() {
    let mg1 = data("mg1.csv");
    let fit = |level: &str| {
        common::succeeded(&irtlab(&[
            "fit",
            &mg1,
            "--group",
            "group",
            "--invariance",
            level,
            "--se",
            "none",
            "--tolerance",
            "1e-6",
            "--max-cycles",
            "5000",
            "--json",
        ]))
    };
    // mirt (test-04-multipleGroup.R): configural −17903.76; every item equal with D2's mean
    // and variance free −17915.33.
    let configural = fit("configural");
    close(
        configural["log_likelihood"].as_f64().unwrap(),
        -17903.76,
        0.01,
        "configural logL",
    );
    assert_eq!(configural["parameters"], 60);
    assert_eq!(configural["items"][0]["differs"], true);
    assert!(configural["items"][0]["by_group"]["D2"]["a"].is_number());
    let scalar = fit("scalar");
    close(
        scalar["log_likelihood"].as_f64().unwrap(),
        -17915.33,
        0.01,
        "scalar logL",
    );
    assert_eq!(scalar["parameters"], 32);
    let groups = scalar["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["group"], "D1");
    assert_eq!(groups[0]["n"], 1000);
    assert_eq!(groups[0]["mean"], 0.0);
    close(
        groups[1]["mean"].as_f64().unwrap(),
        0.06581,
        1e-3,
        "D2 mean",
    );
    close(
        groups[1]["variance"].as_f64().unwrap(),
        1.59552,
        2e-3,
        "D2 variance",
    );
    assert_eq!(scalar["items"][0]["differs"], false);
    assert!(scalar["items"][0].get("by_group").is_none());
}

#[test]
fn fit_group_ladder_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.csv");
    let scores = dir.path().join("scores.csv");
    let output = irtlab(&[
        "fit",
        &data("mg1.csv"),
        "--group",
        "group",
        "--invariance",
        "ladder",
        "--se",
        "none",
        "--json",
        "--items-out",
        items.to_str().unwrap(),
        "--scores-out",
        scores.to_str().unwrap(),
    ]);
    let json = common::succeeded(&output);
    let steps = json["ladder"]["steps"].as_array().unwrap();
    let levels: Vec<&str> = steps.iter().map(|s| s["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["configural", "metric", "scalar"]);
    assert!(steps[0]["lr_p"].is_null());
    assert!(steps[2]["lr_df"].as_u64().unwrap() > 0);
    close(
        steps[0]["log_likelihood"].as_f64().unwrap(),
        -17903.76,
        0.05,
        "ladder configural logL",
    );
    let items_text = std::fs::read_to_string(&items).unwrap();
    assert!(items_text.starts_with("group,item,"), "{items_text}");
    assert_eq!(items_text.lines().count(), 1 + 2 * 15);
    let scores_text = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(scores_text.lines().count(), 1 + 2000);
}

#[test]
fn project_dif_analysis_writes_dif_csv() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("dif1.csv");
    std::fs::copy(common::data_file("dif1.csv"), &source).unwrap();
    let mut project =
        irtlab::project::Project::new(irtlab::preparation::Source::for_file(&source).unwrap());
    project.groups = Some(irtlab::project::GroupSetting {
        column: "group".into(),
        reference: None,
        focal: Some("D2".into()),
        invariance: None,
    });
    project.dif = Some(irtlab::prediction::dif::DifSettings {
        methods: vec![irtlab::prediction::dif::DifMethod::MantelHaenszel],
        ..Default::default()
    });
    let project_path: PathBuf = dir.path().join("study.irtlab.json");
    project.save(&project_path).unwrap();
    let out = dir.path().join("out");
    let output = irtlab(&[
        "run",
        project_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let dif = std::fs::read_to_string(out.join("dif.csv")).unwrap();
    assert!(dif.starts_with("item,method,"), "{dif}");
    assert_eq!(dif.lines().count(), 11);
    // The group column is not an item of the single-group fit.
    let items = std::fs::read_to_string(out.join("items.csv")).unwrap();
    assert!(!items.contains("\ngroup,"));
    assert_eq!(items.lines().count(), 11);
    // MH χ² of item 1 (difR's formulas): 4.80135.
    let item1 = dif.lines().nth(1).unwrap();
    let statistic: f64 = item1.split(',').nth(2).unwrap().parse().unwrap();
    close(statistic, 4.80135, 1e-3, "MH χ² of item 1");
}

#[test]
fn fit_group_with_anchor_items() {
    let json = common::succeeded(&irtlab(&[
        "fit",
        &data("dif1.csv"),
        "--group",
        "group",
        "--anchors",
        "Item_1,Item_2,Item_3,Item_4,Item_5",
        "--se",
        "none",
        "--json",
    ]));
    // Items 1–5 equal across groups, D2's mean and variance free: the base model of mirt's
    // Wald test above (reference EM: mean 0.0918, variance 0.856).
    assert_eq!(json["items"][0]["differs"], false);
    assert_eq!(json["items"][5]["differs"], true);
    assert!(json["items"][5]["by_group"]["D1"]["a"].is_number());
    let focal = &json["groups"][1];
    close(focal["mean"].as_f64().unwrap(), 0.0918, 2e-3, "D2 mean");
    close(
        focal["variance"].as_f64().unwrap(),
        0.856,
        5e-3,
        "D2 variance",
    );
    assert_eq!(focal["mean_estimated"], true);
}
