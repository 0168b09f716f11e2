//! Fit statistics against mirt's published values (LSAT7 and Science, from mirt's own test
//! suite and documentation) and simulations with known truth: data from the fitted model fit,
//! planted local dependence and a planted misfitting item are flagged; the fit warnings.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use irtlab::prediction::diagnostics::{
    ComparedModel, Diagnostics, DiagnosticsOptions, FitPlotGrouping, LdMatrix, LimitedStatistic,
    ModelComparison, compare, diagnose, fit_and_compare, item_fit_plot,
};
use irtlab::prediction::p_adjust::PAdjust;
use irtlab::prediction::simulation::{
    SplitMix64, simulate_responses, typical_items, typical_polytomous_items,
};
use irtlab::prediction::{
    Calibration, FitSettings, ItemParameters, ItemType, ResponseMatrix, StandardErrorMethod,
    calibrate,
};

fn fit(matrix: &ResponseMatrix, settings: &FitSettings) -> Calibration {
    calibrate(matrix, settings, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn model(model: ItemType) -> FitSettings {
    FitSettings {
        model,
        ..FitSettings::default()
    }
}

fn diagnostics(matrix: &ResponseMatrix, calibration: &Calibration) -> Diagnostics {
    diagnostics_with(matrix, calibration, &DiagnosticsOptions::default())
}

fn diagnostics_with(
    matrix: &ResponseMatrix,
    calibration: &Calibration,
    options: &DiagnosticsOptions,
) -> Diagnostics {
    diagnose(
        matrix,
        calibration,
        options,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// `|got − expected| ≤ tolerance`, with a message naming the quantity.
fn close(what: &str, got: f64, expected: f64, tolerance: f64) {
    assert!(
        (got - expected).abs() <= tolerance,
        "{what}: {got} is not within {tolerance} of {expected}"
    );
}

fn science() -> ResponseMatrix {
    let frame =
        irtlab::preparation::read_csv(&data_file("science.csv"), &Default::default()).unwrap();
    ResponseMatrix::from_dataframe(&frame, None, None).unwrap()
}

#[test]
fn lsat7_m2_matches_mirt() {
    let data = lsat7();
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    let m2 = d.model_fit.expect("M2");
    assert_eq!(m2.statistic, LimitedStatistic::M2);
    // mirt's tests: M2 = 11.93841 on 5 df; RMSEA by √((M2/df − 1)/(N − 1)).
    close("M2", m2.value, 11.93841, 1e-3);
    assert_eq!(m2.df, 5.0);
    close("RMSEA", m2.rmsea, 0.03727, 5e-5);
    close("p", m2.p, 0.0356415, 1e-5);
    // The reference port of mirt's formulas: interval, SRMSR, independence model, CFI, TLI.
    close("RMSEA 5 %", m2.rmsea_ci[0], 0.0089547, 1e-5);
    close("RMSEA 95 %", m2.rmsea_ci[1], 0.0649674, 1e-5);
    close("SRMSR", m2.srmsr.unwrap(), 0.0319629, 1e-5);
    close("null M2", m2.null_value, 230.010856, 1e-3);
    assert_eq!(m2.null_df, 10.0);
    close("CFI", m2.cfi.unwrap(), 0.968463, 1e-5);
    close("TLI", m2.tli.unwrap(), 0.936927, 1e-5);
    assert!(!m2.pairwise);
}

#[test]
fn lsat7_item_fit_matches_mirt() {
    let data = lsat7();
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    // mirt's tests: S_X2 and df.S_X2 (tolerance 0.01), Zh and X2 (Q1) with df 8.
    let s_x2 = [4.749440, 14.451071, 1.270381, 5.237400, 0.941125];
    let zh = [1.431838, 6.354917, 5.310844, 5.804449, 0.696139];
    let q1 = [91.71819, 390.07985, 145.39978, 329.48529, 129.49679];
    for (j, item) in d.item_fit.iter().enumerate() {
        let s = item.s_x2.expect("S-X2");
        close(&format!("S-X2 of {}", item.item), s.value, s_x2[j], 0.01);
        assert_eq!(s.df, 2.0);
        close(&format!("Zh of {}", item.item), item.zh, zh[j], 0.01);
        let q = item.q1.expect("Q1");
        close(&format!("Q1 of {}", item.item), q.value, q1[j], 0.05);
        assert_eq!(q.df, 8.0);
    }
    // Infit/outfit of the reference port (mirt's formulas).
    close("outfit 1", d.item_fit[0].outfit, 0.775814, 1e-4);
    close("z.outfit 1", d.item_fit[0].outfit_t, -3.14157, 1e-3);
    close("infit 3", d.item_fit[2].infit, 0.750099, 1e-4);
    close("z.infit 3", d.item_fit[2].infit_t, -5.21712, 1e-3);
    // Item 2 is the one mirt's S-X2 rejects.
    assert!(d.item_fit[1].flagged);
    assert_eq!(d.flagged_items().len(), 1);
    // Person fit of pattern 00000 (the first person), reference port of mirt's personfit.
    let first = d.person_fit[0].unwrap();
    close("θ̂ of 00000", first.theta, -1.869783, 1e-4);
    close("person outfit", first.outfit, 0.711936, 1e-4);
    close("person z.infit", first.infit_t, -0.460817, 1e-4);
    close("person Zh", first.zh, 0.579914, 1e-4);
}

#[test]
fn lsat7_sum_score_table_matches_mirt() {
    let data = lsat7();
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    let r = d.reliability.expect("reliability");
    let theta = [
        -1.86979, -1.431861, -0.9488463, -0.4131963, 0.1517289, 0.7271877,
    ];
    let se = [
        0.6927032, 0.6838697, 0.6942298, 0.7210951, 0.758772, 0.8009335,
    ];
    let observed = [12.0, 40.0, 114.0, 205.0, 321.0, 308.0];
    let expected = [10.08994, 44.65882, 109.773, 207.7391, 319.1854, 308.5536];
    assert_eq!(r.sum_score_table.len(), 6);
    for (s, row) in r.sum_score_table.iter().enumerate() {
        assert_eq!(row.sum_score, s);
        close(&format!("θ of score {s}"), row.theta, theta[s], 1e-3);
        close(&format!("SE of score {s}"), row.theta_se, se[s], 1e-3);
        assert_eq!(row.observed, observed[s]);
        close(
            &format!("expected of score {s}"),
            row.expected,
            expected[s],
            0.01,
        );
    }
    close(
        "summed-score reliability",
        r.sum_score.unwrap(),
        0.4319948,
        1e-4,
    );
    assert_eq!(r.sum_score_persons, 1000);
    // The port's values of mirt's fit of the table, empirical and marginal reliability.
    let fit = r.sum_score_fit.unwrap();
    close("X2 of the table", fit.x2, 1.057825, 1e-3);
    assert_eq!(fit.df, 5.0);
    close("empirical reliability", r.empirical, 0.452305, 1e-4);
    close("marginal reliability", r.marginal, 0.441819, 1e-4);
    // The conditional SEM is 1/√information.
    let middle = &r.conditional_sem[40];
    close("θ", middle.theta, 0.0, 1e-12);
    close("SEM", middle.sem, 1.0 / middle.information.sqrt(), 1e-12);
}

#[test]
fn lsat7_full_information_and_criteria_match_mirt() {
    let data = lsat7();
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    let g2 = d.full_information.expect("G2");
    // mirt's printed fit: G2 (21) = 31.7, RMSEA = .023, CFI = .939, TLI = .924.
    close("G2", g2.g2, 31.70, 0.005);
    assert_eq!(g2.df, 21.0);
    close("RMSEA", g2.rmsea, 0.023, 0.0005);
    close("CFI", g2.cfi, 0.939, 0.0005);
    close("TLI", g2.tli, 0.924, 0.0005);
    let ic = d.information_criteria;
    close("AIC", ic.aic, 5337.61, 0.005);
    close("AICc", ic.aicc, 5337.833, 0.001);
    close("BIC", ic.bic, 5386.688, 0.001);
    close("SABIC", ic.sabic, 5354.927, 0.001);
    assert_eq!(ic.parameters, 10);
}

#[test]
fn lsat7_local_dependence_matches_mirt() {
    let data = lsat7();
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    let ld = d.local_dependence.expect("LD");
    // mirt's residuals(mod) (tolerance 0.01): X2 of pairs (2,1) … (5,1) and V of (1,2).
    let x2 = [0.451213, 0.8562096, 2.577395, 2.392183];
    for (j, expected) in x2.iter().enumerate() {
        let pair = ld.pair(0, j + 1);
        close(
            &format!("LD X2 (1, {})", j + 2),
            pair.ld_x2,
            *expected,
            0.01,
        );
    }
    close("V (1, 2)", ld.pair(0, 1).cramers_v, -0.02124177, 1e-3);
    close("V (1, 4)", ld.pair(0, 3).cramers_v, 0.05076805, 1e-3);
    // Q3 of the port (mirt's formula with 121-node EAP θ̂).
    close("Q3 (1, 2)", ld.q3[1], -0.134484, 1e-4);
    close("Q3 (4, 5)", ld.pair(3, 4).q3, -0.054470, 1e-4);
    close("mean Q3", ld.q3_mean, -0.111176, 1e-4);
    close(
        "Q3* (1, 2)",
        ld.pair(0, 1).q3_star,
        -0.134484 + 0.111176,
        1e-4,
    );
    assert!(ld.flagged.is_empty());
    let map = ld.heat_map(LdMatrix::Q3);
    assert_eq!(map.labels.len(), 5);
    assert_eq!(map.values[0][0], None);
    assert!((map.values[0][1].unwrap() - ld.q3[1]).abs() < 1e-15);
    assert!(map.range[0] < 0.0 && map.range[1] > 0.0);
    assert_eq!(ld.pairs().len(), 10);
}

#[test]
fn science_graded_c2_matches_mirt() {
    let data = science();
    let d = diagnostics(&data, &fit(&data, &model(ItemType::Graded)));
    let c2 = d.model_fit.expect("C2");
    // M2* has 10 moments for 16 parameters; mirt's test: M2(mod, type = "C2") = 19.17929.
    assert_eq!(c2.statistic, LimitedStatistic::C2);
    close("C2", c2.value, 19.17929, 0.01);
    assert_eq!(c2.df, 2.0);
    close("p", c2.p, 6.84337e-05, 1e-6);
    // Reference port: SRMSR, independence model, CFI, TLI.
    close("SRMSR", c2.srmsr.unwrap(), 0.072591, 1e-4);
    close("null C2", c2.null_value, 196.948393, 0.01);
    close("CFI", c2.cfi.unwrap(), 0.910044, 1e-4);
    close("TLI", c2.tli.unwrap(), 0.730132, 1e-3);
    // Kang & Chen's S-X2 with mirt's pooling (port; df after pooling).
    let s_x2 = [
        (4.786977, 6.0),
        (8.757361, 9.0),
        (7.554198, 8.0),
        (9.925387, 11.0),
    ];
    for (item, (value, df)) in d.item_fit.iter().zip(s_x2) {
        let s = item.s_x2.expect("S-X2");
        close(&format!("S-X2 of {}", item.item), s.value, value, 0.01);
        assert_eq!(s.df, df, "df of {}", item.item);
    }
    close(
        "marginal reliability",
        d.reliability.unwrap().marginal,
        0.669216,
        1e-4,
    );
    // Polytomous LD: four categories, 9 df per pair.
    let ld = d.local_dependence.unwrap();
    assert_eq!(ld.pair(0, 1).ld_df, 9.0);
}

#[test]
fn lsat7_with_a_missing_response_matches_mirt() {
    // mirt's test: data[1, 1] <- NA; M2 = 11.95335, S_X2[1] (na.rm) = 4.8448539, EAPsum
    // expected[1] = 9.931098 (our estimates differ from mirt's in the fourth digit).
    let mut rows = lsat7_rows();
    rows[0][0] = None;
    let data = matrix_from_rows(rows);
    let d = diagnostics(&data, &fit(&data, &FitSettings::default()));
    let m2 = d.model_fit.expect("M2");
    close("M2", m2.value, 11.95335, 0.01);
    assert!(m2.pairwise);
    close(
        "S-X2 of item 1",
        d.item_fit[0].s_x2.unwrap().value,
        4.8448539,
        0.01,
    );
    assert_eq!(d.complete_cases, 999);
    let r = d.reliability.unwrap();
    assert_eq!(r.sum_score_persons, 999);
    close(
        "expected count of score 0",
        r.sum_score_table[0].expected,
        9.931098,
        0.01,
    );
    assert!(d.full_information.is_none());
    assert!(
        d.notes
            .iter()
            .any(|n| n.statistic == "S-X2" && n.message.contains("999"))
    );
    assert_eq!(d.item_fit[0].persons, 999);
    assert_eq!(d.item_fit[1].persons, 1000);
}

#[test]
fn lsat7_rasch_and_model_comparison_match_mirt() {
    let data = lsat7();
    let rasch = fit(&data, &model(ItemType::Rasch));
    let d = diagnostics(&data, &rasch);
    let m2 = d.model_fit.unwrap();
    // Reference port of mirt: M2 = 23.174489 on 9 df (15 moments, 6 parameters).
    close("Rasch M2", m2.value, 23.174489, 1e-3);
    assert_eq!(m2.df, 9.0);
    close("Rasch AICc", d.information_criteria.aicc, 5341.8864, 1e-3);
    // anova(Rasch, 2PL): X2 = 12.191555 on 4 df, p = 0.0159822.
    let (comparison, calibrations) = fit_and_compare(
        &data,
        &FitSettings::default(),
        &[ItemType::Rasch, ItemType::TwoPl, ItemType::ThreePl],
        "LSAT7",
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(calibrations.len(), 3);
    assert_eq!(comparison.models.len(), 3);
    let test = comparison
        .tests
        .iter()
        .find(|t| t.restricted == 0 && t.general == 1)
        .expect("Rasch within 2PL");
    close("LR X2", test.chi_square, 12.191555, 1e-3);
    assert_eq!(test.df, 4.0);
    close("LR p", test.p, 0.0159822, 1e-5);
    // 2PL within 3PL (with the default prior on c): tested, with the caveats said.
    let three = comparison
        .tests
        .iter()
        .find(|t| t.restricted == 1 && t.general == 2)
        .expect("2PL within 3PL");
    let note = three.note.as_deref().unwrap_or("");
    assert!(
        note.contains("boundary") && note.contains("priors"),
        "{note}"
    );
    // No test in the other direction; BIC prefers the Rasch model, AIC the 2PL (mirt's anova).
    assert!(!comparison.tests.iter().any(|t| t.restricted == 2));
    assert_eq!(comparison.best_bic(), Some(0));
    assert_eq!(comparison.best_aic(), Some(1));
}

#[test]
fn comparisons_need_the_same_data() {
    let data = lsat7();
    let a = ComparedModel::from_calibration("Rasch", "LSAT7", &fit(&data, &model(ItemType::Rasch)));
    let b = ComparedModel::from_calibration(
        "2PL",
        "LSAT7 (recoded)",
        &fit(&data, &FitSettings::default()),
    );
    let comparison: ModelComparison = compare(vec![a, b]);
    assert!(comparison.tests.is_empty());
}

#[test]
fn p_values_are_adjusted_over_items() {
    let data = lsat7();
    let calibration = fit(&data, &FitSettings::default());
    let options = DiagnosticsOptions {
        p_adjust: PAdjust::Holm,
        ..DiagnosticsOptions::default()
    };
    let d = diagnostics_with(&data, &calibration, &options);
    let s = d.item_fit[1].s_x2.unwrap();
    // The smallest of five p-values: Holm multiplies it by 5.
    close("Holm", s.p_adjusted, 5.0 * s.p, 1e-12);
    assert!(d.item_fit[1].flagged);
}

#[test]
fn item_fit_plot_data() {
    let data = lsat7();
    let calibration = fit(&data, &FitSettings::default());
    let d = diagnostics(&data, &calibration);
    let plot = item_fit_plot(&data, &calibration, &d, 1, FitPlotGrouping::Theta).unwrap();
    assert_eq!(plot.groups.len(), 10);
    assert_eq!(plot.groups.iter().map(|g| g.persons).sum::<usize>(), 1000);
    for g in &plot.groups {
        let p = g.observed[1];
        assert!(g.interval[1][0] <= p && p <= g.interval[1][1]);
        assert!((g.observed.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert!(plot.groups.windows(2).all(|w| w[0].x <= w[1].x));
    assert_eq!(plot.curves.len(), 2);
    let by_score = item_fit_plot(&data, &calibration, &d, 0, FitPlotGrouping::SumScore).unwrap();
    assert_eq!(by_score.groups.len(), 6);
    // Score 0: nobody answered item 1 right; score 5: everybody did.
    assert_eq!(by_score.groups[0].expected[1], 0.0);
    assert!((by_score.groups[5].expected[1] - 1.0).abs() < 1e-12);
    close("x of score 1", by_score.groups[1].x, -1.431861, 1e-3);
    let drawn = irtlab::plots::item_fit_plot(&plot);
    assert!(drawn.series.iter().any(|s| !s.intervals.is_empty()));
    assert!(irtlab::plots::svg(&drawn).contains("<svg"));
    assert!(item_fit_plot(&data, &calibration, &d, 9, FitPlotGrouping::Theta).is_err());
}

/// Fits `truth`'s model to data simulated from it and returns the diagnostics.
fn simulate_and_diagnose(
    truth: &[ItemParameters],
    item_type: ItemType,
    persons: usize,
    missing: f64,
    seed: u64,
) -> (ResponseMatrix, Calibration, Diagnostics) {
    let (data, _) = simulate_responses(truth, persons, missing, seed);
    let settings = FitSettings {
        model: item_type,
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let calibration = fit(&data, &settings);
    let d = diagnostics(&data, &calibration);
    (data, calibration, d)
}

#[test]
fn data_from_the_fitted_model_fit() {
    // Five replications of 2,000 persons × 20 2PL items: S-X2 p-values close to uniform and M2
    // close to its degrees of freedom.
    let truth = typical_items(20, 0.0, 31, "i");
    let mut p_values = Vec::new();
    let mut ratios = Vec::new();
    for seed in 0..5 {
        let (_, _, d) = simulate_and_diagnose(&truth, ItemType::TwoPl, 2000, 0.0, 100 + seed);
        p_values.extend(d.item_fit.iter().map(|i| i.s_x2.unwrap().p));
        let m2 = d.model_fit.unwrap();
        assert_eq!(m2.df, 170.0);
        ratios.push(m2.value / m2.df);
        assert!(m2.rmsea < 0.02, "RMSEA {}", m2.rmsea);
        assert!(d.local_dependence.unwrap().flagged.is_empty());
    }
    let n = p_values.len() as f64;
    let below = p_values.iter().filter(|&&p| p < 0.05).count() as f64 / n;
    let mean = p_values.iter().sum::<f64>() / n;
    // Kolmogorov–Smirnov distance from the uniform.
    p_values.sort_by(f64::total_cmp);
    let ks = p_values
        .iter()
        .enumerate()
        .map(|(i, &p)| ((i + 1) as f64 / n - p).abs().max((p - i as f64 / n).abs()))
        .fold(0.0, f64::max);
    assert!(below < 0.12, "{below} of the S-X2 p-values below 0.05");
    assert!((0.4..0.6).contains(&mean), "mean S-X2 p {mean}");
    assert!(ks < 0.15, "KS distance {ks} from the uniform");
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!((0.85..1.2).contains(&mean_ratio), "M2/df {ratios:?}");
}

#[test]
fn planted_local_dependence_and_misfit_are_flagged() {
    // 15 2PL items; item 4 copies item 3's response for half the persons (a dependent pair),
    // and item 8's probability is bell-shaped in θ (not a logistic curve at all).
    let truth = typical_items(15, 0.0, 41, "i");
    let persons = 3000;
    let mut rng = SplitMix64::new(42);
    let mut rows = Vec::with_capacity(persons);
    for _ in 0..persons {
        let theta = rng.normal();
        let mut row: Vec<Option<u8>> = truth
            .iter()
            .map(|item| Some(u8::from(rng.uniform() < item.probability(theta))))
            .collect();
        if rng.uniform() < 0.5 {
            row[3] = row[2];
        }
        let bell = 0.15 + 0.7 * (-theta * theta).exp();
        row[7] = Some(u8::from(rng.uniform() < bell));
        rows.push(row);
    }
    let data = matrix_from_rows(rows);
    let calibration = fit(&data, &FitSettings::default());
    // Flagging 15 items at once: Holm's adjustment keeps the family-wise error at 5 %.
    let options = DiagnosticsOptions {
        p_adjust: PAdjust::Holm,
        ..DiagnosticsOptions::default()
    };
    let d = diagnostics_with(&data, &calibration, &options);
    let ld = d.local_dependence.as_ref().unwrap();
    let dependent = ld.pair(2, 3);
    assert!(dependent.q3_star > 0.2, "Q3* {}", dependent.q3_star);
    assert!(dependent.ld_p < 1e-6 && dependent.cramers_v > 0.0);
    assert_eq!(ld.flagged.len(), 1, "{:?}", ld.flagged);
    assert_eq!(
        (ld.flagged[0].item1.as_str(), ld.flagged[0].item2.as_str()),
        ("Item.3", "Item.4")
    );
    let misfit = &d.item_fit[7];
    assert!(misfit.flagged, "{misfit:?}");
    assert!(misfit.s_x2.unwrap().p < 1e-6);
    assert!(misfit.q1.unwrap().p < 1e-6);
    // S-X2 flags no other item.
    let flagged: Vec<&str> = d.flagged_items().iter().map(|i| i.item.as_str()).collect();
    assert_eq!(flagged, ["Item.8"]);
    let m2 = d.model_fit.unwrap();
    assert!(m2.p < 1e-6, "M2 p {}", m2.p);
}

#[test]
fn polytomous_and_mixed_tests_have_every_statistic() {
    for item_type in [
        ItemType::Graded,
        ItemType::Gpcm,
        ItemType::Pcm,
        ItemType::Nominal,
    ] {
        let truth = typical_polytomous_items(item_type, 8, 4, 7, "p");
        let (_, calibration, d) = simulate_and_diagnose(&truth, item_type, 1500, 0.0, 9);
        let m2 = d
            .model_fit
            .as_ref()
            .unwrap_or_else(|| panic!("{item_type:?}: {:?}", d.notes));
        // 8 + 28 moments against 32 (graded, GPCM) parameters: M2* for most, C2 otherwise.
        let expected = if 36 > calibration.parameters {
            LimitedStatistic::M2Star
        } else {
            LimitedStatistic::C2
        };
        assert_eq!(m2.statistic, expected, "{item_type:?}");
        assert!(m2.p > 1e-4, "{item_type:?}: {m2:?}");
        assert_eq!(m2.srmsr.is_some(), item_type != ItemType::Nominal);
        let flagged = d.item_fit.iter().filter(|i| i.flagged).count();
        assert!(flagged <= 2, "{item_type:?}: {flagged} items flagged");
        for item in &d.item_fit {
            let s = item.s_x2.unwrap();
            assert!(s.df > 0.0 && s.value.is_finite(), "{item_type:?} {item:?}");
            assert!(
                item.infit > 0.7 && item.infit < 1.3,
                "{item_type:?} {item:?}"
            );
        }
        let r = d.reliability.unwrap();
        assert!(r.marginal > 0.5 && r.marginal < 1.0);
        assert!(
            (r.marginal - r.empirical).abs() < 0.05,
            "{item_type:?}: {r:?}"
        );
        assert_eq!(r.sum_score_table.len(), 8 * 3 + 1);
    }
    // A mixed test: 2PL and graded items.
    let mut truth = typical_items(6, 0.0, 3, "d");
    truth.extend(typical_polytomous_items(ItemType::Graded, 4, 3, 5, "g"));
    let (data, _) = simulate_responses(&truth, 1500, 0.0, 11);
    let mut settings = FitSettings::default();
    for item in &truth[6..] {
        settings
            .item_models
            .insert(item.item.clone(), ItemType::Graded);
    }
    let calibration = fit(&data, &settings);
    let d = diagnostics(&data, &calibration);
    assert_eq!(d.model_fit.unwrap().statistic, LimitedStatistic::M2Star);
    assert!(d.item_fit.iter().all(|i| i.s_x2.is_some()));
}

#[test]
fn three_pl_and_missing_responses() {
    let truth = typical_items(15, 0.2, 5, "i");
    let (_, calibration, d) = simulate_and_diagnose(&truth, ItemType::ThreePl, 2000, 0.1, 8);
    assert_eq!(calibration.parameters, 45);
    let m2 = d.model_fit.unwrap();
    // 15 + 105 moments − 45 parameters.
    assert_eq!(m2.df, 75.0);
    assert!(m2.pairwise);
    assert!(m2.p > 1e-3, "{m2:?}");
    // S-X2 on the complete cases (0.9^15 of 2,000, about 400), said in a note.
    assert!(d.complete_cases > 200 && d.complete_cases < 600);
    assert!(d.notes.iter().any(|n| n.statistic == "S-X2"));
    assert!(
        d.item_fit
            .iter()
            .all(|i| i.s_x2.is_some() && i.persons < 2000)
    );
    assert!(d.full_information.is_none());
    let ld = d.local_dependence.unwrap();
    assert!(ld.pair(0, 1).persons < 2000);
}

#[test]
fn item_banks_get_what_can_be_computed() {
    // 120 items, each person answers 15: no complete cases, too many moments for M2.
    let truth = typical_items(120, 0.0, 2, "b");
    let mut rng = SplitMix64::new(3);
    let ids: Vec<String> = (0..3000).map(|p| p.to_string()).collect();
    let names: Vec<String> = truth.iter().map(|i| i.item.clone()).collect();
    let labels = vec![vec!["0".to_string(), "1".to_string()]; truth.len()];
    let mut triples = Vec::new();
    for p in 0..3000u32 {
        let theta = rng.normal();
        let start = (rng.next_u64() % 120) as usize;
        for k in 0..15 {
            let j = (start + 8 * k) % 120;
            let x = u8::from(rng.uniform() < truth[j].probability(theta));
            triples.push((p, j as u32, x));
        }
    }
    let data = ResponseMatrix::from_triples(ids, names, labels, &triples).unwrap();
    assert!(data.is_sparse());
    let calibration = fit(
        &data,
        &FitSettings {
            standard_errors: StandardErrorMethod::None,
            ..FitSettings::default()
        },
    );
    let d = diagnostics(&data, &calibration);
    assert!(d.model_fit.is_none());
    assert!(d.notes.iter().any(|n| n.statistic == "M2"));
    assert!(d.notes.iter().any(|n| n.statistic == "S-X2"));
    assert_eq!(d.complete_cases, 0);
    assert!(
        d.item_fit
            .iter()
            .all(|i| i.s_x2.is_none() && i.zh.is_finite())
    );
    assert!(d.item_fit.iter().filter(|i| i.q1.is_some()).count() > 100);
    assert!(
        d.person_fit
            .iter()
            .all(|p| p.is_some_and(|p| p.n_answered == 15))
    );
}

#[test]
fn diagnostics_can_be_cancelled() {
    let data = lsat7();
    let calibration = fit(&data, &FitSettings::default());
    let result = diagnose(
        &data,
        &calibration,
        &DiagnosticsOptions::default(),
        &mut |_| {},
        &AtomicBool::new(true),
    );
    assert!(matches!(
        result,
        Err(irtlab::prediction::PredictionError::Cancelled)
    ));
    let bad = DiagnosticsOptions {
        alpha: 2.0,
        ..DiagnosticsOptions::default()
    };
    let error = diagnose(
        &data,
        &calibration,
        &bad,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("flagging level"), "{error}");
}

/// The warnings of one fit, as text.
fn warning_texts(calibration: &Calibration) -> Vec<String> {
    calibration.warnings.iter().map(|w| w.to_string()).collect()
}

#[test]
fn fits_on_few_persons_name_the_doubtful_items() {
    use irtlab::prediction::FitWarning;
    // 3PL on three persons: 15 parameters for 3 persons, whatever EM says about convergence.
    let three = matrix_from_rows(vec![
        vec![Some(1), Some(0), Some(1), Some(0), Some(1)],
        vec![Some(0), Some(1), Some(1), Some(0), Some(0)],
        vec![Some(1), Some(1), Some(0), Some(1), Some(1)],
    ]);
    let calibration = fit(&three, &model(ItemType::ThreePl));
    assert!(
        calibration.warnings.iter().any(|w| matches!(
            w,
            FitWarning::FewPersons {
                persons: 3,
                parameters: 15
            }
        )),
        "{:?}",
        warning_texts(&calibration)
    );
    assert!(
        calibration
            .warnings
            .iter()
            .any(|w| w.questions_the_estimates())
    );

    // 30 persons simulated from a 3PL test: the 3PL and the 2PL both end with estimates the
    // data cannot support, and each such warning names its item.
    let truth = spread_items(5, 0.2, 4);
    let (thirty, _) = simulate(&truth, 30, 7);
    for item_type in [ItemType::ThreePl, ItemType::TwoPl] {
        let calibration = fit(&thirty, &model(item_type));
        let doubtful: Vec<&FitWarning> = calibration
            .warnings
            .iter()
            .filter(|w| {
                matches!(
                    w,
                    FitWarning::AtBound { .. }
                        | FitWarning::LargeStandardError { .. }
                        | FitWarning::NegativeSlope { .. }
                        | FitWarning::ExtremeEstimate { .. }
                )
            })
            .collect();
        assert!(
            !doubtful.is_empty(),
            "{item_type:?}: {:?}",
            warning_texts(&calibration)
        );
        for warning in doubtful {
            let item = warning.item().expect("names an item");
            assert!(warning.to_string().contains(item));
            assert!(calibration.items.iter().any(|i| i.item == item));
        }
    }
    // The 2PL on these 30 persons: a slope at its bound and a negative slope.
    let two = fit(&thirty, &model(ItemType::TwoPl));
    assert!(
        two.warnings
            .iter()
            .any(|w| matches!(w, FitWarning::AtBound { parameter, .. } if parameter == "a"))
    );
    assert!(
        two.warnings
            .iter()
            .any(|w| matches!(w, FitWarning::NegativeSlope { .. }))
    );

    // The large simulated fits of the other tests carry none of these warnings.
    let (big, _) = simulate(&truth, 2000, 8);
    let good = fit(&big, &FitSettings::default());
    assert!(
        !good.warnings.iter().any(|w| w.questions_the_estimates()),
        "{:?}",
        warning_texts(&good)
    );
}
