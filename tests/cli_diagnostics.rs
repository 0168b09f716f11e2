//! The fit statistics on the command line, checked against mirt's published values: `irtlab fit
//! --diagnostics` (JSON fields, the item-fit and LD tables, Zh in the scores), `irtlab compare`,
//! `irtlab run` on a project that asks for diagnostics, and the warnings of fits on too few
//! persons.

mod common;

use common::*;
use serde_json::Value;

/// `|got − expected| ≤ tolerance`, naming the quantity.
fn close(what: &str, got: &Value, expected: f64, tolerance: f64) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a number"));
    assert!(
        (got - expected).abs() <= tolerance,
        "{what}: {got} is not within {tolerance} of {expected}"
    );
}

#[test]
fn lsat7_fit_with_diagnostics_matches_mirt() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "lsat7.csv", lsat7_csv().as_bytes());
    let item_fit = dir.path().join("item_fit.csv");
    let ld = dir.path().join("ld.csv");
    let scores = dir.path().join("scores.csv");
    let json = succeeded(&irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--json",
        "--diagnostics",
        "--item-fit-out",
        item_fit.to_str().unwrap(),
        "--ld-out",
        ld.to_str().unwrap(),
        "--scores-out",
        scores.to_str().unwrap(),
    ]));
    // mirt's tests, LSAT7 2PL: M2 = 11.93841 on 5 df, RMSEA √((M2/df − 1)/(N − 1)) = 0.03727.
    let m2 = &json["model_fit"];
    assert_eq!(m2["statistic"], "M2");
    close("M2", &m2["value"], 11.93841, 1e-3);
    assert_eq!(m2["df"], 5.0);
    close("RMSEA", &m2["rmsea"], 0.03727, 5e-5);
    close("RMSEA 5 %", &m2["rmsea_ci"][0], 0.0089547, 1e-5);
    close("RMSEA 95 %", &m2["rmsea_ci"][1], 0.0649674, 1e-5);
    for key in ["p", "srmsr", "cfi", "tli"] {
        assert!(m2[key].is_number(), "{key}: {m2}");
    }
    // S-X2 per item (within 0.01), 2 df each.
    let s_x2 = [4.749440, 14.451071, 1.270381, 5.237400, 0.941125];
    for (j, expected) in s_x2.iter().enumerate() {
        let item = &json["items"][j];
        close(
            &format!("S-X2 of item {}", j + 1),
            &item["s_x2"],
            *expected,
            0.01,
        );
        assert_eq!(item["s_x2_df"], 2.0);
        for key in ["s_x2_p", "zh", "infit", "outfit"] {
            assert!(item[key].is_number(), "{key}: {item}");
        }
    }
    // The summed-score EAP table and its reliability.
    let theta = [
        -1.86979, -1.431861, -0.9488463, -0.4131963, 0.1517289, 0.7271877,
    ];
    let se = [
        0.6927032, 0.6838697, 0.6942298, 0.7210951, 0.758772, 0.8009335,
    ];
    let observed = [12.0, 40.0, 114.0, 205.0, 321.0, 308.0];
    let expected = [10.08994, 44.65882, 109.773, 207.7391, 319.1854, 308.5536];
    let table = json["sum_score_table"].as_array().unwrap();
    assert_eq!(table.len(), 6);
    for (s, row) in table.iter().enumerate() {
        assert_eq!(row["sum_score"], s);
        close("θ", &row["theta"], theta[s], 1e-3);
        close("SE", &row["theta_se"], se[s], 1e-3);
        close("observed", &row["observed"], observed[s], 1e-9);
        close("expected", &row["expected"], expected[s], 0.05);
    }
    close(
        "summed-score reliability",
        &json["reliability"]["sum_score"],
        0.4319948,
        1e-3,
    );
    assert!(json["reliability"]["marginal"].is_number());
    assert!(json["reliability"]["empirical"].is_number());
    // Full information and the criteria.
    let g2 = &json["full_information"];
    close("G2", &g2["g2"], 31.70, 0.005);
    assert_eq!(g2["df"], 21.0);
    close("G2 RMSEA", &g2["rmsea"], 0.023, 0.0005);
    close("G2 CFI", &g2["cfi"], 0.939, 0.0005);
    close("G2 TLI", &g2["tli"], 0.924, 0.0005);
    close("AIC", &json["aic"], 5337.61, 0.005);
    close("AICc", &json["aicc"], 5337.833, 0.001);
    close("BIC", &json["bic"], 5386.688, 0.001);
    close("SABIC", &json["sabic"], 5354.927, 0.001);
    assert_eq!(json["misfitting_items"], serde_json::json!(["Item.2"]));

    let item_fit_text = std::fs::read_to_string(&item_fit).unwrap();
    assert!(
        item_fit_text.starts_with(
            "item,s_x2,s_x2_df,s_x2_p,s_x2_rmsea,q1,q1_df,q1_p,zh,infit,infit_t,outfit,outfit_t\nItem.1,4.7"
        ),
        "{item_fit_text}"
    );
    assert_eq!(item_fit_text.lines().count(), 6);
    let ld_text = std::fs::read_to_string(&ld).unwrap();
    assert!(
        ld_text.starts_with("item1,item2,q3,q3_star,ld_x2,cramers_v\nItem.1,Item.2,"),
        "{ld_text}"
    );
    assert_eq!(ld_text.lines().count(), 11);
    let scores_text = std::fs::read_to_string(&scores).unwrap();
    assert!(
        scores_text.starts_with(
            "id,theta,theta_se,n_answered,sum_score,z_score,t_score,percentile,success_rate,zh\n"
        ),
        "{scores_text}"
    );
    // Person 1 answered 00000: Zh 0.579914 (mirt's personfit formula).
    let first: Vec<&str> = scores_text.lines().nth(1).unwrap().split(',').collect();
    assert!(
        (first[9].parse::<f64>().unwrap() - 0.579914).abs() < 1e-3,
        "{first:?}"
    );
}

#[test]
fn science_graded_c2_and_text_summary() {
    let data = data_file("science.csv");
    let json = succeeded(&irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--model",
        "graded",
        "--diagnostics",
        "--json",
    ]));
    // mirt's test: M2(mod, type = "C2") = 19.17929 (M2* has too few degrees of freedom).
    assert_eq!(json["model_fit"]["statistic"], "C2");
    close("C2", &json["model_fit"]["value"], 19.17929, 0.01);
    assert_eq!(json["model_fit"]["df"], 2.0);
    assert!(json.get("full_information").is_some());

    let output = irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--model",
        "graded",
        "--diagnostics",
        "--p-adjust",
        "holm",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("C2 = 19.1"), "{stdout}");
    assert!(stdout.contains("reliability: marginal 0.66"), "{stdout}");
}

#[test]
fn diagnostics_outputs_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "lsat7.csv", lsat7_csv().as_bytes());
    let item_fit = dir.path().join("item_fit.csv");
    // The data file as an output: refused, nothing written.
    let output = irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--item-fit-out",
        item_fit.to_str().unwrap(),
        "--ld-out",
        data.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lsat7.csv"), "{stderr}");
    assert!(!item_fit.exists());
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        lsat7_csv(),
        "the input is untouched"
    );
    // A folder that does not exist: refused before the fit, the other table not written.
    let missing = dir.path().join("no-such-folder").join("ld.csv");
    let output = irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--item-fit-out",
        item_fit.to_str().unwrap(),
        "--ld-out",
        missing.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(!item_fit.exists());
    // A bad adjustment names the choices.
    let output = irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--diagnostics",
        "--p-adjust",
        "fdr2",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("holm"));
}

#[test]
fn compare_rasch_2pl_3pl_on_lsat7() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_file(dir.path(), "lsat7.csv", lsat7_csv().as_bytes());
    let json = succeeded(&irtlab(&[
        "compare",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--models",
        "rasch,2pl,3pl",
        "--json",
    ]));
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[0]["model"], "Rasch");
    assert_eq!(models[1]["parameters"], 10);
    close("2PL AICc", &models[1]["aicc"], 5337.833, 0.001);
    close("2PL SABIC", &models[1]["sabic"], 5354.927, 0.001);
    close("Rasch AICc", &models[0]["aicc"], 5341.8864, 1e-3);
    // mirt's anova(Rasch, 2PL): X2 = 12.191555 on 4 df, p = 0.0159822.
    let test = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["restricted"] == "Rasch" && t["general"] == "2PL")
        .expect("Rasch within 2PL");
    close("LR X2", &test["chi_square"], 12.191555, 1e-3);
    assert_eq!(test["df"], 4.0);
    close("LR p", &test["p"], 0.0159822, 1e-5);
    assert_eq!(json["best_bic"], "Rasch");
    assert_eq!(json["best_aic"], "2PL");

    let output = irtlab(&[
        "compare",
        data.to_str().unwrap(),
        "--id",
        "id",
        "--models",
        "rasch,2pl",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Rasch vs 2PL: X2 = 12.19"), "{stdout}");
}

#[test]
fn run_writes_item_fit_and_model_fit_when_the_project_asks() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "lsat7.csv", lsat7_csv().as_bytes());
    let project = write_file(
        dir.path(),
        "lsat7.irtlab.json",
        br#"{"version": 1, "source": {"kind": "csv", "path": "lsat7.csv"},
            "response_columns": {"id_column": "id"},
            "diagnostics": {"p_adjust": "holm"}}"#,
    );
    let out = dir.path().join("out");
    let output = irtlab(&[
        "run",
        project.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_succeeded(&output);
    let model_fit: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model_fit.json")).unwrap())
            .unwrap();
    close("M2", &model_fit["model_fit"]["value"], 11.93841, 1e-3);
    close(
        "summed-score reliability",
        &model_fit["reliability"]["sum_score"],
        0.4319948,
        1e-3,
    );
    let item_fit = std::fs::read_to_string(out.join("item_fit.csv")).unwrap();
    assert!(item_fit.starts_with("item,s_x2,"), "{item_fit}");
    assert!(
        std::fs::read_to_string(out.join("scores.csv"))
            .unwrap()
            .starts_with("id,theta,theta_se,n_answered,sum_score,z_score,t_score,percentile,success_rate,zh\n")
    );
}

#[test]
fn fits_on_too_few_persons_say_so() {
    let dir = tempfile::tempdir().unwrap();
    // Three persons, five items, a 3PL: 15 parameters.
    let data = write_file(
        dir.path(),
        "three.csv",
        b"q1,q2,q3,q4,q5\n1,0,1,0,1\n0,1,1,0,0\n1,1,0,1,1\n",
    );
    let output = irtlab(&["fit", data.to_str().unwrap(), "--model", "3pl"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 persons for 15 free parameters"),
        "{stderr}"
    );
    assert!(stdout.contains("see the warnings"), "{stdout}");
    let json = succeeded(&irtlab(&[
        "fit",
        data.to_str().unwrap(),
        "--model",
        "3pl",
        "--json",
    ]));
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("3 persons")),
        "{warnings:?}"
    );
}
