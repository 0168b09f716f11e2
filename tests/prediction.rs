//! The prediction engine against published results (LSAT7, mirt) and simulations with known
//! truth.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use irtlab::prediction::{
    self, FitSettings, Guessing, ItemType as ModelKind, PredictionError, ResponseMatrix, ScoreFlag,
    ScoringMethod, ScoringOptions, StandardErrorMethod, calibrate, model, score_persons, tables,
};

fn fit(matrix: &ResponseMatrix, settings: &FitSettings) -> prediction::Calibration {
    calibrate(matrix, settings, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn settings(model: ModelKind) -> FitSettings {
    FitSettings {
        model,
        ..FitSettings::default()
    }
}

#[test]
fn lsat7_2pl_matches_mirt() {
    let result = fit(&lsat7(), &FitSettings::default());
    assert!(result.converged);
    assert!(
        (result.log_likelihood - -2658.805).abs() < 0.01,
        "logL {}",
        result.log_likelihood
    );
    let a = [0.988, 1.081, 1.706, 0.765, 0.736];
    let d = [1.856, 0.808, 1.804, 0.486, 1.855];
    for (j, item) in result.items.iter().enumerate() {
        assert!((item.a() - a[j]).abs() < 0.01, "a{} = {}", j + 1, item.a());
        assert!((item.d() - d[j]).abs() < 0.01, "d{} = {}", j + 1, item.d());
        assert!((item.b() - -item.d() / item.a()).abs() < 1e-12);
        assert!(item.a_se().unwrap() > 0.0 && item.b_se().unwrap() > 0.0);
        assert!(item.c_se().is_none());
    }
    assert_eq!(result.parameters, 10);
    assert!((result.aic - 5337.61).abs() < 0.02, "AIC {}", result.aic);
    assert!((result.bic - 5386.69).abs() < 0.02, "BIC {}", result.bic);
    assert_eq!(result.n_persons, 1000);
    assert_eq!(result.n_patterns, 32);
    assert_eq!(result.log_likelihood_history.len(), result.cycles);
}

#[test]
fn lsat7_standard_errors_are_plausible() {
    // mirt (SE.type = "Oakes") reports SE(a1) ≈ 0.18 and SE(d1) ≈ 0.13 for LSAT7; a numerical
    // Hessian of the same likelihood agrees to about two decimals.
    let result = fit(&lsat7(), &FitSettings::default());
    let first = &result.items[0];
    let a_se = first.a_se().unwrap();
    let d_se = first.d_se().unwrap();
    assert!((0.14..0.23).contains(&a_se), "SE(a1) = {a_se}");
    assert!((0.10..0.17).contains(&d_se), "SE(d1) = {d_se}");
}

#[test]
fn acceleration_does_not_change_the_estimates() {
    let accelerated = fit(&lsat7(), &FitSettings::default());
    let plain = fit(
        &lsat7(),
        &FitSettings {
            acceleration: false,
            ..FitSettings::default()
        },
    );
    assert!(plain.converged);
    for (x, y) in accelerated.items.iter().zip(&plain.items) {
        assert!((x.a() - y.a()).abs() < 2e-3, "{} vs {}", x.a(), y.a());
        assert!((x.d() - y.d()).abs() < 2e-3, "{} vs {}", x.d(), y.d());
    }
    assert!((accelerated.log_likelihood - plain.log_likelihood).abs() < 1e-3);
    assert!(accelerated.cycles < plain.cycles);
    // Plain EM never decreases the likelihood.
    for pair in plain.log_likelihood_history.windows(2) {
        assert!(pair[1] >= pair[0] - 1e-8);
    }
}

#[test]
fn lsat7_eap_follows_the_sum_scores() {
    let analysis = prediction::analyse(
        &lsat7(),
        &FitSettings::default(),
        ScoringMethod::Eap,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let mut sums = [0.0; 6];
    let mut counts = [0.0; 6];
    for score in &analysis.scores {
        sums[score.sum_score] += score.theta.unwrap();
        counts[score.sum_score] += 1.0;
        let sd = score.theta_se.unwrap();
        assert!(sd > 0.3 && sd < 1.0);
    }
    let means: Vec<f64> = sums.iter().zip(&counts).map(|(s, c)| s / c).collect();
    for pair in means.windows(2) {
        assert!(pair[0] < pair[1], "group means {means:?}");
    }
    // All-correct examinees are above average, all-wrong ones well below.
    assert!(means[5] > 0.3 && means[0] < -1.3, "{means:?}");
}

#[test]
fn parameter_recovery_2pl() {
    let truth = spread_items(20, 0.0, 11);
    let (matrix, _) = simulate(&truth, 5000, 12);
    let result = fit(
        &matrix,
        &FitSettings {
            standard_errors: StandardErrorMethod::None,
            ..FitSettings::default()
        },
    );
    assert!(result.converged);
    let a: Vec<f64> = result.items.iter().map(|i| i.a()).collect();
    let b: Vec<f64> = result.items.iter().map(|i| i.b()).collect();
    let true_a: Vec<f64> = truth.iter().map(|i| i.irt(1.0).a.unwrap()).collect();
    let true_b: Vec<f64> = truth.iter().map(|i| i.irt(1.0).b[0]).collect();
    assert!(rmse(&a, &true_a) < 0.1, "RMSE a {}", rmse(&a, &true_a));
    assert!(rmse(&b, &true_b) < 0.1, "RMSE b {}", rmse(&b, &true_b));
}

#[test]
fn parameter_recovery_3pl_with_prior() {
    let truth = spread_items(20, 0.2, 21);
    let (matrix, _) = simulate(&truth, 5000, 22);
    let result = fit(
        &matrix,
        &FitSettings {
            model: ModelKind::ThreePl,
            standard_errors: StandardErrorMethod::None,
            ..FitSettings::default()
        },
    );
    assert!(result.converged);
    let get = |f: fn(&prediction::FittedItem) -> f64| -> Vec<f64> {
        result.items.iter().map(f).collect()
    };
    let true_a: Vec<f64> = truth.iter().map(|i| i.irt(1.0).a.unwrap()).collect();
    let true_b: Vec<f64> = truth.iter().map(|i| i.irt(1.0).b[0]).collect();
    let true_c: Vec<f64> = truth.iter().map(|i| i.irt(1.0).c.unwrap_or(0.0)).collect();
    let (a, b, c) = (get(|i| i.a()), get(|i| i.b()), get(|i| i.c()));
    assert!(rmse(&a, &true_a) < 0.25, "RMSE a {}", rmse(&a, &true_a));
    assert!(rmse(&b, &true_b) < 0.25, "RMSE b {}", rmse(&b, &true_b));
    assert!(rmse(&c, &true_c) < 0.07, "RMSE c {}", rmse(&c, &true_c));
    assert!(result.items.iter().all(|i| i.c() > 0.0 && i.c() < 0.5));
}

#[test]
fn fixed_guessing_is_respected() {
    let truth = spread_items(10, 0.15, 31);
    let (matrix, _) = simulate(&truth, 2000, 32);
    let result = fit(
        &matrix,
        &FitSettings {
            model: ModelKind::ThreePl,
            guessing: Guessing::Fixed { value: 0.15 },
            ..FitSettings::default()
        },
    );
    assert_eq!(result.parameters, 20);
    for item in &result.items {
        assert_eq!(item.c(), 0.15);
        assert!(item.c_se().is_none());
        assert!(item.a_se().is_some());
    }
}

#[test]
fn missing_responses_are_skipped_not_scored_wrong() {
    let truth = spread_items(20, 0.0, 41);
    let (full, _) = simulate(&truth, 5000, 42);
    let holed = delete_at_random(&full, 0.2, 43);
    assert!(holed.n_missing() > 15_000);
    let no_se = FitSettings {
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let full_fit = fit(&full, &no_se);
    let holed_fit = fit(&holed, &no_se);
    let bs = |r: &prediction::Calibration| r.items.iter().map(|i| i.b()).collect::<Vec<_>>();
    let as_ = |r: &prediction::Calibration| r.items.iter().map(|i| i.a()).collect::<Vec<_>>();
    // Tolerance: random deletion of 20 % moves b and a by sampling noise only.
    assert!(rmse(&bs(&full_fit), &bs(&holed_fit)) < 0.06);
    assert!(rmse(&as_(&full_fit), &as_(&holed_fit)) < 0.08);

    // Scoring the holes as wrong would move every difficulty up a lot.
    let rows: Vec<Vec<Option<u8>>> = (0..holed.n_persons())
        .map(|p| {
            (0..holed.n_items())
                .map(|j| Some(holed.response(p, j).unwrap_or(0)))
                .collect()
        })
        .collect();
    let as_wrong = fit(&matrix_from_rows(rows), &no_se);
    let shift: f64 = bs(&as_wrong)
        .iter()
        .zip(bs(&full_fit))
        .map(|(x, y)| x - y)
        .sum::<f64>()
        / 20.0;
    assert!(shift > 0.3, "mean b shift when scored wrong: {shift}");
}

#[test]
fn lsat7_with_missing_stays_close() {
    let holed = delete_at_random(&lsat7(), 0.2, 7);
    let result = fit(&holed, &FitSettings::default());
    let full = fit(&lsat7(), &FitSettings::default());
    for (x, y) in result.items.iter().zip(&full.items) {
        // LSAT7 is small (1,000 examinees, 800 answers per item after deletion): the estimates
        // stay within two standard errors of the full fit. (b = −d/a is ill-determined for the
        // flat items 4 and 5, so a and d are compared.)
        assert!(
            (x.a() - y.a()).abs() < 2.0 * y.a_se().unwrap(),
            "{}: a {} vs {}",
            x.item,
            x.a(),
            y.a()
        );
        assert!(
            (x.d() - y.d()).abs() < 2.0 * y.d_se().unwrap(),
            "{}: d {} vs {}",
            x.item,
            x.d(),
            y.d()
        );
    }
}

#[test]
fn a_missing_response_contributes_nothing_to_the_likelihood() {
    let items = spread_items(3, 0.1, 5);
    let with_hole = matrix_from_rows(vec![vec![Some(1), None, Some(0)]]);
    let without = ResponseMatrix::from_rows(
        vec!["1".into()],
        vec!["Item.1".into(), "Item.3".into()],
        &[vec![Some(1), Some(0)]],
    )
    .unwrap();
    for method in ScoringMethod::ALL {
        let options = ScoringOptions {
            method,
            ..ScoringOptions::default()
        };
        let a = score_persons(&with_hole, &items, &options).unwrap();
        let b = score_persons(&without, &[items[0].clone(), items[2].clone()], &options).unwrap();
        assert!((a[0].theta.unwrap() - b[0].theta.unwrap()).abs() < 1e-9);
        assert_eq!(a[0].n_answered, 2);
    }
}

#[test]
fn rasch_and_1pl_share_the_likelihood_and_equal_slopes() {
    let rasch = fit(&lsat7(), &settings(ModelKind::Rasch));
    let one = fit(&lsat7(), &settings(ModelKind::OnePl));
    assert!((rasch.log_likelihood - one.log_likelihood).abs() < 1e-3);
    assert!(
        one.items
            .iter()
            .all(|i| (i.a() - one.items[0].a()).abs() < 1e-12)
    );
    assert!(
        rasch
            .items
            .iter()
            .all(|i| i.a() == 1.0 && i.a_se().is_none())
    );
    // Rasch latent SD equals the 1PL common slope; the difficulties match after rescaling.
    let sigma = rasch.latent_variance.sqrt();
    assert!(
        (sigma - one.items[0].a()).abs() < 2e-3,
        "{sigma} vs {}",
        one.items[0].a()
    );
    for (r, o) in rasch.items.iter().zip(&one.items) {
        assert!((r.b() - o.b() * sigma).abs() < 5e-3);
    }
    assert_eq!(rasch.parameters, 6);
    assert_eq!(one.parameters, 6);
    assert!(rasch.latent_variance_se.unwrap() > 0.0);
}

#[test]
fn normal_ogive_scaling_divides_the_slopes() {
    let logistic = fit(&lsat7(), &FitSettings::default());
    let ogive = fit(
        &lsat7(),
        &FitSettings {
            scaling: 1.702,
            ..FitSettings::default()
        },
    );
    for (x, y) in logistic.items.iter().zip(&ogive.items) {
        assert!((x.a() / 1.702 - y.a()).abs() < 1e-3);
        assert!((x.b() - y.b()).abs() < 1e-3);
        assert!((x.d() - y.d()).abs() < 1e-3);
    }
}

#[test]
fn response_functions_behave() {
    for (a, b, c) in [(1.0, 0.0, 0.0), (2.5, -1.0, 0.2), (0.3, 2.0, 0.1)] {
        let item = prediction::ItemParameters::dichotomous("x", a, b, c, 1.0);
        let ogive = prediction::ItemParameters::dichotomous("x", a, b, c, 1.702);
        let mut previous = -1.0;
        for k in 0..=160 {
            let theta = -8.0 + 0.1 * k as f64;
            let p = item.probability(theta);
            assert!((0.0..=1.0).contains(&p));
            assert!(p >= c);
            assert!(p > previous || (p - previous).abs() < 1e-15);
            previous = p;
            assert!(ogive.information(theta) >= 0.0);
        }
    }
    // 2PL information peaks at b with value a²/4.
    let peak = prediction::ItemParameters::dichotomous("x", 2.0, 0.5, 0.0, 1.0);
    assert!((peak.information(0.5) - 1.0).abs() < 1e-12);
    let items = spread_items(5, 0.0, 1);
    let tcc = model::expected_score(&items, 0.0);
    assert!(tcc > 0.0 && tcc < 5.0);
    let se = model::conditional_se(&items, 0.0).unwrap();
    let info = model::test_information(&items, 0.0);
    assert!((se - 1.0 / info.sqrt()).abs() < 1e-12);
}

#[test]
fn ml_flags_extreme_patterns_and_map_shrinks() {
    let items = spread_items(5, 0.0, 3);
    let matrix = matrix_from_rows(vec![
        vec![Some(1); 5],
        vec![Some(0); 5],
        vec![Some(1), Some(1), Some(0), Some(1), Some(0)],
        vec![None; 5],
    ]);
    let ml = score_persons(
        &matrix,
        &items,
        &ScoringOptions {
            method: ScoringMethod::Ml,
            ..ScoringOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ml[0].flag, Some(ScoreFlag::AllCorrect));
    assert_eq!(ml[1].flag, Some(ScoreFlag::AllWrong));
    assert!(ml[0].theta.is_none() && ml[0].theta_se.is_none());
    assert_eq!(ml[3].flag, Some(ScoreFlag::NoResponses));
    let map = score_persons(
        &matrix,
        &items,
        &ScoringOptions {
            method: ScoringMethod::Map,
            ..ScoringOptions::default()
        },
    )
    .unwrap();
    // MAP is pulled toward 0 relative to ML; both finite with positive SE.
    let (ml_theta, map_theta) = (ml[2].theta.unwrap(), map[2].theta.unwrap());
    assert!(map_theta.abs() <= ml_theta.abs() + 1e-9);
    assert!(ml[2].theta_se.unwrap() > map[2].theta_se.unwrap());
    assert!(map[0].theta.unwrap() > 0.5 && map[1].theta.unwrap() < -0.5);
    // The ML estimate solves the likelihood equation Σ a_j (x_j − P_j) = 0.
    let x = [1.0, 1.0, 0.0, 1.0, 0.0];
    let score: f64 = items
        .iter()
        .zip(x)
        .map(|(i, x)| i.irt(1.0).a.unwrap() * (x - i.probability(ml_theta)))
        .sum();
    assert!(score.abs() < 1e-6, "score equation {score}");
    // Tables never hold NaN or infinities.
    let table = tables::scores_table(&ml).unwrap();
    let theta = table.column("theta").unwrap().f64().unwrap().clone();
    assert_eq!(theta.null_count(), 3);
    assert!(theta.iter().flatten().all(f64::is_finite));
}

#[test]
fn bad_input_gets_clear_errors() {
    let error = ResponseMatrix::from_rows(
        vec!["1".into()],
        vec!["q1".into(), "q2".into()],
        &[vec![Some(1), Some(200)]],
    )
    .unwrap_err();
    assert!(error.to_string().contains("\"q2\""), "{error}");

    // Constant items are left out and named; persons without responses are counted.
    let mut rows = lsat7_rows();
    for row in &mut rows {
        row.push(Some(1));
    }
    rows.push(vec![None; 6]);
    let matrix = matrix_from_rows(rows);
    let result = fit(&matrix, &FitSettings::default());
    assert_eq!(result.items.len(), 5);
    assert_eq!(result.excluded_items[0].item, "Item.6");
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.to_string().contains("Item.6"))
    );
    assert_eq!(result.n_persons_without_responses, 1);
    assert!((result.log_likelihood - -2658.805).abs() < 0.01);

    let two_constant = matrix_from_rows(vec![vec![Some(1), Some(0)], vec![Some(1), Some(0)]]);
    let error = calibrate(
        &two_constant,
        &FitSettings::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(
        matches!(error, PredictionError::TooFewItems { .. }),
        "{error}"
    );

    let one_person = matrix_from_rows(vec![vec![Some(1), Some(0), Some(1)]]);
    let error = calibrate(
        &one_person,
        &FitSettings::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    );
    assert!(error.is_err());

    let invalid = FitSettings {
        quadrature_points: 1,
        ..FitSettings::default()
    };
    let error = calibrate(&lsat7(), &invalid, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(error.to_string().contains("quadrature"), "{error}");
}

#[test]
fn non_convergence_is_reported_not_hidden() {
    let result = fit(
        &lsat7(),
        &FitSettings {
            max_cycles: 3,
            acceleration: false,
            ..FitSettings::default()
        },
    );
    assert!(!result.converged);
    assert_eq!(result.cycles, 3);
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.to_string().contains("did not converge"))
    );
}

#[test]
fn progress_and_cancel() {
    let mut reports = Vec::new();
    calibrate(
        &lsat7(),
        &FitSettings::default(),
        &mut |p| reports.push(p),
        &AtomicBool::new(false),
    )
    .unwrap();
    let cycles: Vec<usize> = reports
        .iter()
        .filter(|p| p.standard_errors.is_none())
        .map(|p| p.cycle)
        .collect();
    assert!(!cycles.is_empty());
    assert!(cycles.windows(2).all(|w| w[1] == w[0] + 1));
    // Then the standard errors, to the end.
    let (done, total) = reports.last().unwrap().standard_errors.unwrap();
    assert_eq!(done, total);
    let cancel = AtomicBool::new(true);
    let error = calibrate(&lsat7(), &FitSettings::default(), &mut |_| {}, &cancel).unwrap_err();
    assert!(matches!(error, PredictionError::Cancelled));
}

#[test]
fn probability_tables() {
    let items = spread_items(3, 0.1, 9);
    let grid = tables::parse_theta_grid("-4:4:0.1").unwrap();
    assert_eq!(grid.len(), 81);
    assert_eq!(grid[1], -3.9);
    let table = tables::grid_probabilities_table(&items, &grid).unwrap();
    assert_eq!(table.width(), 4);
    let p = table
        .column("Item.2")
        .unwrap()
        .f64()
        .unwrap()
        .get(40)
        .unwrap();
    assert!((p - items[1].probability(0.0)).abs() < 1e-15);
    assert!(tables::parse_theta_grid("4:-4:0.1").is_err());
    assert!(tables::parse_theta_grid("-4:4").is_err());
}

#[test]
fn classical_statistics_on_lsat7() {
    let stats = prediction::classical_statistics(&lsat7());
    // Proportions correct from the LSAT7 pattern counts.
    let p = [0.828, 0.658, 0.772, 0.606, 0.843];
    for (item, expected) in stats.items.iter().zip(p) {
        assert!(
            (item.p_value.unwrap() - expected).abs() < 1e-9,
            "{:?}",
            item
        );
        assert_eq!(item.n, 1000);
        let r = item.item_rest_r.unwrap();
        assert!(r > 0.0 && r < 1.0);
    }
    let alpha = stats.cronbach_alpha.unwrap();
    assert!(alpha > 0.2 && alpha < 0.6, "alpha {alpha}");
}

#[test]
fn cross_product_standard_errors_agree_with_the_hessian() {
    let se_of = |result: &prediction::Calibration| -> Vec<f64> {
        result
            .items
            .iter()
            .flat_map(|i| [i.a_se().unwrap(), i.d_se().unwrap()])
            .collect()
    };
    let with = |matrix: &ResponseMatrix, model, method| {
        fit(
            matrix,
            &FitSettings {
                model,
                standard_errors: method,
                ..FitSettings::default()
            },
        )
    };
    // Simulated 2PL, 5,000 × 20: the two estimates of the same information agree closely.
    let truth = spread_items(20, 0.0, 61);
    let (matrix, _) = simulate(&truth, 5000, 62);
    let hessian = with(&matrix, ModelKind::TwoPl, StandardErrorMethod::Observed);
    let cross = with(&matrix, ModelKind::TwoPl, StandardErrorMethod::CrossProduct);
    assert_eq!(cross.standard_errors, StandardErrorMethod::CrossProduct);
    for (h, x) in se_of(&hessian).iter().zip(se_of(&cross)) {
        assert!(
            (x / h - 1.0).abs() < 0.1,
            "cross-product SE {x} vs Hessian {h}"
        );
    }
    // The estimates themselves do not depend on the SE method.
    assert_eq!(hessian.items[3].a(), cross.items[3].a());
    // LSAT7 (1,000 examinees): within 20 %.
    let hessian = with(&lsat7(), ModelKind::TwoPl, StandardErrorMethod::Observed);
    let cross = with(
        &lsat7(),
        ModelKind::TwoPl,
        StandardErrorMethod::CrossProduct,
    );
    for (h, x) in se_of(&hessian).iter().zip(se_of(&cross)) {
        assert!(
            (x / h - 1.0).abs() < 0.2,
            "LSAT7 cross-product SE {x} vs Hessian {h}"
        );
    }
    // Common slope and guessing parameters are handled too.
    let one = with(
        &lsat7(),
        ModelKind::OnePl,
        StandardErrorMethod::CrossProduct,
    );
    assert!(
        one.items
            .iter()
            .all(|i| i.a_se().is_some() && i.d_se().is_some())
    );
    let truth = spread_items(10, 0.2, 63);
    let (matrix, _) = simulate(&truth, 3000, 64);
    let three = with(
        &matrix,
        ModelKind::ThreePl,
        StandardErrorMethod::CrossProduct,
    );
    assert!(
        three
            .items
            .iter()
            .all(|i| i.c_se().is_some_and(|s| s > 0.0 && s < 0.2))
    );
}
