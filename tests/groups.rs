//! Multiple-group calibration, measurement invariance and differential item functioning,
//! checked against mirt's published values on its test data (mg1, dif1), hand-computed tables
//! and simulations with planted DIF.

mod common;

use std::sync::atomic::AtomicBool;

use irtlab::prediction::groups::{
    Equality, GroupLatent, GroupModel, Groups, Invariance, calibrate_groups,
};
use irtlab::prediction::{FitSettings, ResponseMatrix, StandardErrorMethod};
use irtlab::preparation::Source;

/// A mirt test data set: the matrix of its items and its groups (column `group`).
fn grouped_data(name: &str) -> (ResponseMatrix, Groups) {
    let frame = Source::for_file(&common::data_file(name))
        .unwrap()
        .load(None)
        .unwrap();
    let items: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n != "group")
        .collect();
    let matrix = ResponseMatrix::from_dataframe(&frame, None, Some(&items)).unwrap();
    let groups = Groups::from_dataframe(&frame, "group", None, None).unwrap();
    (matrix, groups)
}

fn quiet() -> (impl FnMut(irtlab::prediction::Progress), AtomicBool) {
    (|_| {}, AtomicBool::new(false))
}

fn settings(se: StandardErrorMethod) -> FitSettings {
    FitSettings {
        standard_errors: se,
        tolerance: 1e-6,
        max_cycles: 5000,
        ..FitSettings::default()
    }
}

#[test]
fn mg1_configural_and_scalar_log_likelihoods_match_mirt() {
    let (matrix, groups) = grouped_data("mg1.csv");
    assert_eq!(groups.names, vec!["D1", "D2"]);
    assert_eq!(groups.sizes(), vec![1000, 1000]);
    let (mut progress, cancel) = quiet();
    let configural = calibrate_groups(
        &matrix,
        &groups,
        &GroupModel::invariance(Invariance::Configural),
        &settings(StandardErrorMethod::None),
        &mut progress,
        &cancel,
    )
    .unwrap();
    println!(
        "configural {} k {}",
        configural.log_likelihood, configural.parameters
    );
    // mirt: logLik −17903.76 (test-04-multipleGroup.R), 60 parameters.
    assert!((configural.log_likelihood - -17903.76).abs() < 0.01);
    assert_eq!(configural.parameters, 60);
    let d1 = &configural.items[0].by_group[0];
    assert!((d1.a() - 1.0706).abs() < 2e-3 && (d1.d() - 0.524).abs() < 2e-3);
    let scalar = calibrate_groups(
        &matrix,
        &groups,
        &GroupModel::invariance(Invariance::Scalar),
        &settings(StandardErrorMethod::None),
        &mut progress,
        &cancel,
    )
    .unwrap();
    println!(
        "scalar {} k {} {:?}",
        scalar.log_likelihood, scalar.parameters, scalar.groups
    );
    assert!((scalar.log_likelihood - -17915.33).abs() < 0.01);
    assert_eq!(scalar.parameters, 32);
    assert!((scalar.groups[1].mean - 0.06581).abs() < 1e-3);
    assert!((scalar.groups[1].variance - 1.59552).abs() < 2e-3);
    // Slopes only, both groups N(0, 1): −17923.8031 with 45 parameters (reference EM).
    let metric_fixed = GroupModel {
        latent: GroupLatent::Fixed,
        ..GroupModel::invariance(Invariance::Metric)
    };
    let fit = calibrate_groups(
        &matrix,
        &groups,
        &metric_fixed,
        &settings(StandardErrorMethod::None),
        &mut progress,
        &cancel,
    )
    .unwrap();
    println!("metric fixed {} k {}", fit.log_likelihood, fit.parameters);
    assert!((fit.log_likelihood - -17923.8031).abs() < 0.01);
    assert_eq!(fit.parameters, 45);
    let _ = Equality::All;
}

use irtlab::prediction::dif::{
    Anchors, DifMethod, DifReport, DifSettings, LogisticCell, logistic::LogisticDifType,
    logistic_dif, mantel_haenszel, mantel_test, run_dif,
};
use irtlab::prediction::p_adjust::PAdjust;

fn dif(matrix: &ResponseMatrix, groups: &Groups, settings: &DifSettings) -> DifReport {
    let (mut _p, cancel) = quiet();
    run_dif(matrix, groups, settings, &mut |_| {}, &cancel).unwrap()
}

fn items(names: &[usize]) -> Vec<String> {
    names.iter().map(|j| format!("Item_{j}")).collect()
}

fn close(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!((a - b).abs() <= tolerance, "{what}: {a} vs {b}");
}

#[test]
fn dif1_wald_and_likelihood_ratio_with_anchors_match_mirt() {
    let (matrix, groups) = grouped_data("dif1.csv");
    let settings = DifSettings {
        methods: vec![DifMethod::Wald, DifMethod::LikelihoodRatio],
        anchors: Anchors::Items {
            items: items(&[1, 2, 3, 4, 5]),
        },
        p_adjust: PAdjust::None,
        ..DifSettings::default()
    };
    let report = dif(&matrix, &groups, &settings);
    // mirt: DIF(model1b, which.par = c('a1','d'), items2test = 6:10, Wald = TRUE) and the
    // likelihood-ratio 'add' scheme (test-17-DIF_DRF.R).
    let wald = [0.1090403, 0.07219868, 0.175297, 0.1354964, 0.6970995];
    let lr = [0.103812, 0.04867894, 0.1565903, 0.1118176, 0.6921238];
    let wald_rows: Vec<_> = report.rows_of(DifMethod::Wald).collect();
    let lr_rows: Vec<_> = report.rows_of(DifMethod::LikelihoodRatio).collect();
    assert_eq!(wald_rows.len(), 5);
    for (k, expected) in wald.iter().enumerate() {
        let row = wald_rows[k];
        assert_eq!(row.item, format!("Item_{}", k + 6));
        assert_eq!(row.df, 2.0);
        println!("wald {} W {} p {}", row.item, row.statistic, row.p);
        close(row.p, *expected, 0.01, &format!("Wald p of {}", row.item));
    }
    for (k, expected) in lr.iter().enumerate() {
        let row = lr_rows[k];
        println!("lr {} X2 {} p {}", row.item, row.statistic, row.p);
        close(row.p, *expected, 2e-3, &format!("LR p of {}", row.item));
    }
    // Anchors are not tested; D2's mean and variance as the reference EM (0.0918, 0.856).
    assert!(report.summary[0].anchor && !report.summary[5].anchor);
    close(
        report.groups.focal_mean.unwrap(),
        0.091793,
        2e-3,
        "focal mean",
    );
    close(
        report.groups.focal_variance.unwrap(),
        0.856141,
        5e-3,
        "focal variance",
    );
}

#[test]
fn dif1_purified_likelihood_ratio_flags_the_slope_dif_items() {
    // Items 1–3 carry planted DIF: item 1 in a and d, item 2 in a, item 3 in d only — an
    // intercept 0.19 apart, which 1,000 persons per group cannot detect (LR p ≈ 0.26 against
    // clean anchors; the reference EM agrees, and MH and logistic regression miss it too). The
    // purified all-other-anchors LR test flags items 1 and 2 and no DIF-free item.
    let (matrix, groups) = grouped_data("dif1.csv");
    let settings = DifSettings {
        methods: vec![DifMethod::LikelihoodRatio],
        anchors: Anchors::AllOthers { purify: true },
        ..DifSettings::default()
    };
    let report = dif(&matrix, &groups, &settings);
    let rows: Vec<_> = report.rows_of(DifMethod::LikelihoodRatio).collect();
    for row in &rows {
        println!(
            "{} X2 {:.3} p {:.5} adj {:.5} {}",
            row.item, row.statistic, row.p, row.p_adjusted, row.class
        );
    }
    assert_eq!(report.flagged_items(), vec!["Item_1", "Item_2"]);
    let trace = &report.purification[0];
    println!("{trace:?}");
    assert!(trace.converged);
    // Against clean anchors (items 4–10), reference EM: X2 21.81, 18.90, 2.66 for items 1–3.
    close(rows[0].statistic, 21.813, 0.05, "item 1 X2");
    close(rows[1].statistic, 18.900, 0.05, "item 2 X2");
    close(rows[2].statistic, 2.657, 0.05, "item 3 X2");
    assert!(rows[2].p > 0.05);
}

#[test]
fn dif1_mantel_haenszel_and_logistic_match_difr_formulas() {
    let (matrix, groups) = grouped_data("dif1.csv");
    let settings = DifSettings {
        methods: vec![DifMethod::MantelHaenszel, DifMethod::Logistic],
        p_adjust: PAdjust::None,
        ..DifSettings::default()
    };
    let report = dif(&matrix, &groups, &settings);
    // difR's mantelHaenszel / Logistik formulas on dif1 (focal D2), computed independently.
    let chi = [
        4.80135, 2.08672, 3.32816, 0.00003, 0.02885, 3.56703, 2.49450, 1.22769, 0.04575, 0.57170,
    ];
    let alpha = [
        1.258771, 0.840911, 0.815983, 1.006280, 0.975540, 1.220274, 0.831713, 1.128936, 1.029926,
        0.921196,
    ];
    let delta_se = [
        0.24185, 0.27193, 0.25468, 0.25033, 0.25855, 0.24149, 0.26475, 0.24587, 0.25751, 0.23906,
    ];
    for (j, row) in report.rows_of(DifMethod::MantelHaenszel).enumerate() {
        close(row.statistic, chi[j], 1e-4, "MH chi-square");
        let alpha_mh = row.details.iter().find(|d| d.0 == "alpha_mh").unwrap().1;
        close(alpha_mh, alpha[j], 1e-5, "alpha MH");
        close(row.effect, -2.35 * alpha[j].ln(), 1e-4, "delta MH");
        let se = row.details.iter().find(|d| d.0 == "delta_mh_se").unwrap().1;
        close(se, delta_se[j], 1e-4, "SE delta");
        assert_eq!(row.class, "A", "{}: |delta| < 1", row.item);
    }
    let both = [
        14.99163, 14.46014, 3.52120, 1.41283, 0.82133, 4.11221, 5.22938, 2.45795, 1.66568, 0.83647,
    ];
    let r2 = [
        0.007627, 0.008620, 0.001657, 0.000705, 0.000389, 0.002375, 0.002445, 0.001225, 0.000893,
        0.000440,
    ];
    for (j, row) in report.rows_of(DifMethod::Logistic).enumerate() {
        close(row.statistic, both[j], 1e-4, "logistic X2");
        close(row.effect, r2[j], 1e-6, "delta R2");
        assert_eq!(row.df, 2.0);
    }
    // MH with difR-style purification: flagged {1}, then {1, 6}, then {1, 6}.
    let settings = DifSettings {
        methods: vec![DifMethod::MantelHaenszel],
        anchors: Anchors::AllOthers { purify: true },
        p_adjust: PAdjust::None,
        ..DifSettings::default()
    };
    let report = dif(&matrix, &groups, &settings);
    let trace = &report.purification[0];
    assert_eq!(
        trace.rounds,
        vec![items(&[1]), items(&[1, 6]), items(&[1, 6])]
    );
    assert!(trace.converged);
    let purified = [
        6.62445, 1.31901, 1.53168, 0.19188, 0.22145, 4.19949, 0.46997, 2.70856, 0.49703, 0.10878,
    ];
    for (j, row) in report.rows_of(DifMethod::MantelHaenszel).enumerate() {
        close(row.statistic, purified[j], 1e-4, "purified MH chi-square");
    }
}

#[test]
fn mantel_haenszel_of_a_hand_computed_table() {
    // Two strata [A, B, C, D] (reference right/wrong, focal right/wrong) and one with a single
    // person, which is dropped. By hand: ΣA − E = (10 − 8) + (8 − 6.5) = 3.5;
    // ΣVar = 50400/26100 + 9100/7600 = 3.128402; χ² = (3.5 − 0.5)² / 3.128402 = 2.876867;
    // α = (90/30 + 40/20) / (30/30 + 10/20) = 5 / 1.5.
    let mh = mantel_haenszel(&[
        [10.0, 5.0, 6.0, 9.0],
        [8.0, 2.0, 5.0, 5.0],
        [1.0, 0.0, 0.0, 0.0],
    ]);
    close(mh.chi_square, 2.8768672951, 1e-9, "chi-square");
    close(mh.p, 0.0898606875, 1e-9, "p");
    close(mh.alpha, 10.0 / 3.0, 1e-12, "alpha");
    close(mh.delta, -2.8293360902, 1e-9, "delta");
    close(mh.delta_se, 1.4260826621, 1e-9, "SE");
    assert_eq!(mh.n, 50.0);
    // ETS: |Δ| ≥ 1.5 but not significant → A; significant and beyond 1 by 1.645 SE → C-.
    assert_eq!(
        irtlab::prediction::dif::ets_class(mh.delta, mh.delta_se, mh.p, 0.05, 1.645),
        "A"
    );
    assert_eq!(
        irtlab::prediction::dif::ets_class(-1.8, 0.3, 0.001, 0.05, 1.645),
        "C-"
    );
    assert_eq!(
        irtlab::prediction::dif::ets_class(-1.8, 0.6, 0.001, 0.05, 1.645),
        "B-"
    );
    assert_eq!(
        irtlab::prediction::dif::ets_class(1.2, 0.1, 0.001, 0.05, 1.645),
        "B+"
    );
    assert_eq!(
        irtlab::prediction::dif::ets_class(0.9, 0.1, 0.001, 0.05, 1.645),
        "A"
    );
}

/// Cells of a small table: (score, focal, category, count).
fn cells(table: &[(f64, bool, usize, f64)]) -> Vec<LogisticCell> {
    table
        .iter()
        .map(|&(score, focal, category, count)| LogisticCell {
            score,
            focal,
            category,
            count,
        })
        .collect()
}

#[test]
fn logistic_regression_of_hand_computed_tables() {
    // Right/wrong: 100 persons; deviances from an independent IRLS fit on the persons (numpy).
    let binary = cells(&[
        (0.0, false, 0, 8.0),
        (0.0, false, 1, 2.0),
        (1.0, false, 0, 6.0),
        (1.0, false, 1, 6.0),
        (2.0, false, 0, 3.0),
        (2.0, false, 1, 9.0),
        (3.0, false, 0, 1.0),
        (3.0, false, 1, 10.0),
        (0.0, true, 0, 9.0),
        (0.0, true, 1, 1.0),
        (1.0, true, 0, 8.0),
        (1.0, true, 1, 3.0),
        (2.0, true, 0, 6.0),
        (2.0, true, 1, 5.0),
        (3.0, true, 0, 2.0),
        (3.0, true, 1, 7.0),
    ]);
    let both = logistic_dif(&binary, 2, LogisticDifType::Both);
    close(both.deviances[0], 95.5588156435, 1e-7, "D0");
    close(both.deviances[1], 91.1684025720, 1e-7, "D1");
    close(both.deviances[2], 91.1235240328, 1e-7, "D2");
    close(both.null_deviance, 119.2213150563, 1e-7, "null deviance");
    close(both.statistic, 4.4352916107, 1e-7, "X2 both");
    close(both.p, 0.1088650970, 1e-8, "p both");
    close(both.delta_r2, 0.0508999694, 1e-8, "dR2 both");
    close(both.coefficients[2], -0.11553458, 1e-6, "interaction");
    let uniform = logistic_dif(&binary, 2, LogisticDifType::Uniform);
    close(uniform.statistic, 4.3904130715, 1e-7, "X2 uniform");
    close(uniform.delta_r2, 0.0503979734, 1e-8, "dR2 uniform");
    let nonuniform = logistic_dif(&binary, 2, LogisticDifType::NonUniform);
    close(nonuniform.statistic, 0.0448785392, 1e-7, "X2 non-uniform");
    close(nonuniform.delta_r2, 0.0005019960, 1e-8, "dR2 non-uniform");
    assert_eq!(
        irtlab::prediction::dif::logistic::jodoin_gierl_class(0.0509),
        "B"
    );
    assert_eq!(
        irtlab::prediction::dif::logistic::zumbo_thomas_class(0.0509),
        "A"
    );
    assert_eq!(
        irtlab::prediction::dif::logistic::jodoin_gierl_class(0.035),
        "A"
    );
    // Three ordered categories: proportional odds, deviances from a direct maximisation of
    // the cumulative-logit likelihood (scipy).
    let ordinal_table = [
        (0.0, false, 0, 6.0),
        (0.0, false, 1, 3.0),
        (0.0, false, 2, 1.0),
        (1.0, false, 0, 4.0),
        (1.0, false, 1, 5.0),
        (1.0, false, 2, 3.0),
        (2.0, false, 0, 2.0),
        (2.0, false, 1, 4.0),
        (2.0, false, 2, 7.0),
        (0.0, true, 0, 8.0),
        (0.0, true, 1, 2.0),
        (0.0, true, 2, 1.0),
        (1.0, true, 0, 6.0),
        (1.0, true, 1, 4.0),
        (1.0, true, 2, 2.0),
        (2.0, true, 0, 3.0),
        (2.0, true, 1, 5.0),
        (2.0, true, 2, 4.0),
    ];
    let ordinal = logistic_dif(&cells(&ordinal_table), 3, LogisticDifType::Both);
    close(ordinal.deviances[0], 138.52750341, 1e-5, "ordinal D0");
    close(ordinal.deviances[1], 136.53605252, 1e-5, "ordinal D1");
    close(ordinal.deviances[2], 136.49255069, 1e-5, "ordinal D2");
    close(
        ordinal.null_deviance,
        151.20005853,
        1e-6,
        "ordinal null deviance",
    );
    close(ordinal.delta_r2, 0.02702415, 1e-6, "ordinal dR2");
    // Mantel's test and the SMD on the same table (strata = score).
    let strata: Vec<[Vec<f64>; 2]> = (0..3)
        .map(|s| {
            let pick = |focal: bool| -> Vec<f64> {
                (0..3)
                    .map(|c| {
                        ordinal_table
                            .iter()
                            .find(|t| t.0 == s as f64 && t.1 == focal && t.2 == c)
                            .map_or(0.0, |t| t.3)
                    })
                    .collect()
            };
            [pick(false), pick(true)]
        })
        .collect();
    let mantel = mantel_test(&strata);
    close(mantel.chi_square, 1.7067902129, 1e-9, "Mantel chi-square");
    close(mantel.p, 0.1914023541, 1e-9, "Mantel p");
    close(mantel.smd, -0.2318681319, 1e-9, "SMD");
}

use irtlab::prediction::ItemParameters;
use irtlab::prediction::simulation::{simulate_with_latent, typical_items};

/// Two simulated groups: reference θ ~ N(0, 1) answering `reference`, focal θ ~ N(mean, sd²)
/// answering `focal`; values "R" and "F" in that order.
fn two_groups(
    reference: &[ItemParameters],
    focal: &[ItemParameters],
    n_per_group: usize,
    mean: f64,
    sd: f64,
    seed: u64,
) -> (ResponseMatrix, Groups) {
    let (r, _) = simulate_with_latent(reference, n_per_group, 0.0, 1.0, 0.0, seed);
    let (f, _) = simulate_with_latent(focal, n_per_group, mean, sd, 0.0, seed + 1000);
    let n_items = reference.len();
    let mut codes = Vec::with_capacity(2 * n_per_group * n_items);
    for m in [&r, &f] {
        for p in 0..n_per_group {
            for j in 0..n_items {
                codes.push(m.response(p, j).unwrap_or(u8::MAX));
            }
        }
    }
    let matrix = ResponseMatrix::from_labelled_codes(
        (1..=2 * n_per_group).map(|i| i.to_string()).collect(),
        reference.iter().map(|i| i.item.clone()).collect(),
        reference.iter().map(|i| i.categories.clone()).collect(),
        codes,
    )
    .unwrap();
    let values: Vec<Option<String>> = (0..2 * n_per_group)
        .map(|p| Some(if p < n_per_group { "R" } else { "F" }.to_string()))
        .collect();
    let groups =
        Groups::from_values("group", &values, Some("R"), Some(&["F".to_string()])).unwrap();
    (matrix, groups)
}

/// The reference items and a focal copy with uniform DIF in item 5 (b + shift) and
/// non-uniform DIF in item 6 (a × factor, same b).
fn planted(
    n_items: usize,
    seed: u64,
    shift: f64,
    factor: f64,
) -> (Vec<ItemParameters>, Vec<ItemParameters>) {
    let reference = typical_items(n_items, 0.0, seed, "i");
    let mut focal = reference.clone();
    let irt = |item: &ItemParameters| {
        let form = item.irt(1.0);
        (form.a.unwrap(), form.b[0])
    };
    let (a, b) = irt(&reference[4]);
    focal[4] = ItemParameters::dichotomous("i5", a, b + shift, 0.0, 1.0);
    let (a, b) = irt(&reference[5]);
    focal[5] = ItemParameters::dichotomous("i6", a * factor, b, 0.0, 1.0);
    (reference, focal)
}

#[test]
fn planted_dif_power_and_type_one_error_of_mh_and_logistic() {
    let replications = 30;
    let settings = DifSettings {
        methods: vec![DifMethod::MantelHaenszel, DifMethod::Logistic],
        anchors: Anchors::AllOthers { purify: true },
        p_adjust: PAdjust::None,
        ..DifSettings::default()
    };
    let (mut mh_uniform, mut logistic_uniform, mut logistic_nonuniform) = (0, 0, 0);
    let (mut mh_false, mut logistic_false, mut null_tests) = (0, 0, 0);
    for r in 0..replications {
        let (reference, focal) = planted(10, 11, 0.6, 0.35);
        // Impact (focal mean −0.5) is not DIF: the matching score absorbs it.
        let (matrix, groups) = two_groups(&reference, &focal, 500, -0.5, 1.0, 100 + r);
        let report = dif(&matrix, &groups, &settings);
        for row in &report.rows {
            let significant = row.p < 0.05;
            match (row.item.as_str(), row.method) {
                ("i5", DifMethod::MantelHaenszel) => mh_uniform += usize::from(significant),
                ("i5", DifMethod::Logistic) => logistic_uniform += usize::from(significant),
                ("i6", DifMethod::Logistic) => logistic_nonuniform += usize::from(significant),
                ("i6", _) => {}
                (_, DifMethod::MantelHaenszel) => {
                    mh_false += usize::from(significant);
                    null_tests += 1;
                }
                (_, _) => logistic_false += usize::from(significant),
            }
        }
    }
    let rate = |k: usize, n: usize| k as f64 / n as f64;
    let (power_mh, power_lu, power_ln) = (
        rate(mh_uniform, replications as usize),
        rate(logistic_uniform, replications as usize),
        rate(logistic_nonuniform, replications as usize),
    );
    let (alpha_mh, alpha_logistic) = (rate(mh_false, null_tests), rate(logistic_false, null_tests));
    println!(
        "power: MH uniform {power_mh}, logistic uniform {power_lu}, logistic non-uniform {power_ln}; type I: MH {alpha_mh}, logistic {alpha_logistic} over {null_tests} tests"
    );
    // A b shift of 0.6 with 500 per group is a large effect (Δ_MH ≈ 2.35·a·0.6): detected
    // nearly always by MH's 1-df test; the 2-df logistic test spends power on the interaction
    // it does not need here, and finds both kinds most of the time.
    assert!(power_mh >= 0.9, "MH power {power_mh}");
    assert!(power_lu >= 0.7, "logistic power (uniform) {power_lu}");
    assert!(power_ln >= 0.7, "logistic power (non-uniform) {power_ln}");
    // 240 tests of DIF-free items at α = .05: the rate stays near .05 (binomial SE 0.014).
    assert!(alpha_mh <= 0.09, "MH type I error {alpha_mh}");
    assert!(
        alpha_logistic <= 0.09,
        "logistic type I error {alpha_logistic}"
    );
}

#[test]
fn planted_dif_is_found_by_the_irt_tests() {
    let settings = DifSettings {
        methods: vec![DifMethod::LikelihoodRatio, DifMethod::Wald],
        anchors: Anchors::AllOthers { purify: true },
        p_adjust: PAdjust::None,
        ..DifSettings::default()
    };
    let replications: u64 = 4;
    let (mut found, mut false_alarms, mut null_tests) = (0, 0, 0);
    for r in 0..replications {
        let (reference, focal) = planted(8, 21, 0.8, 0.3);
        let (matrix, groups) = two_groups(&reference, &focal, 600, 0.3, 1.2, 500 + r);
        let report = dif(&matrix, &groups, &settings);
        for row in &report.rows {
            match row.item.as_str() {
                "i5" | "i6" => found += usize::from(row.p < 0.05),
                _ => {
                    false_alarms += usize::from(row.p < 0.05);
                    null_tests += 1;
                }
            }
        }
        // The uniform DIF's effect: the focal group's expected score is lower.
        let i5 = report
            .rows_of(DifMethod::LikelihoodRatio)
            .find(|r| r.item == "i5")
            .unwrap();
        assert!(i5.effect < -0.05, "expected-score difference {}", i5.effect);
        close(report.groups.focal_mean.unwrap(), 0.3, 0.2, "focal mean");
    }
    println!(
        "IRT: {found} of {} DIF tests significant, {false_alarms} of {null_tests} DIF-free",
        4 * replications
    );
    assert!(found as u64 >= 4 * replications - 1);
    assert!(false_alarms as f64 <= 0.1 * null_tests as f64);
}
