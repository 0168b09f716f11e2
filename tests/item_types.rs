//! Every item type against mirt's published values (Science, LSAT7) and simulations with known
//! truth: graded, partial credit, rating scale, nominal and 4PL items, mixed tests, missing
//! responses, priors, anchored items, WLE scoring, tables.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use irtlab::prediction::simulation::{
    simulate_responses, simulate_with_latent, typical_items, typical_polytomous_items,
};
use irtlab::prediction::{
    self, Calibration, FitSettings, FitWarning, ItemParameters, ItemType, PriorSetting,
    ResponseMatrix, ScoringMethod, StandardErrorMethod, calibrate, tables,
};

fn fit(matrix: &ResponseMatrix, settings: &FitSettings) -> Calibration {
    calibrate(matrix, settings, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn with_model(model: ItemType) -> FitSettings {
    FitSettings {
        model,
        ..FitSettings::default()
    }
}

fn no_se(model: ItemType) -> FitSettings {
    FitSettings {
        model,
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    }
}

/// Science as a response matrix (categories 1–4).
fn science() -> ResponseMatrix {
    let frame =
        irtlab::preparation::read_csv(&data_file("science.csv"), &Default::default()).unwrap();
    ResponseMatrix::from_dataframe(&frame, None, None).unwrap()
}

#[test]
fn science_graded_matches_mirt() {
    let result = fit(&science(), &with_model(ItemType::Graded));
    assert!(result.converged);
    assert!(
        (result.log_likelihood - -1608.870).abs() < 0.01,
        "logL {}",
        result.log_likelihood
    );
    // mirt: a / d per item (within 0.01).
    let expected = [
        ("Comfort", 1.041, [4.864, 2.640, -1.466]),
        ("Work", 1.226, [2.924, 0.901, -2.266]),
        ("Future", 2.296, [5.238, 2.216, -1.965]),
        ("Benefit", 1.095, [3.348, 0.992, -1.688]),
    ];
    for (item, (name, a, d)) in result.items.iter().zip(expected) {
        assert_eq!(item.item, name);
        assert_eq!(item.categories, ["1", "2", "3", "4"]);
        assert!((item.a() - a).abs() < 0.01, "{name}: a {} vs {a}", item.a());
        for (k, d) in d.iter().enumerate() {
            assert!(
                (item.irt.d[k] - d).abs() < 0.01,
                "{name}: d{} {} vs {d}",
                k + 1,
                item.irt.d[k]
            );
            assert!((item.irt.b[k] - -item.irt.d[k] / item.a()).abs() < 1e-12);
        }
    }
    // mirt's observed-information SEs (Louis) for Comfort: a 0.18838, d 0.49088, 0.22267, 0.15868.
    let comfort = &result.items[0];
    let ses = [
        comfort.a_se().unwrap(),
        comfort.irt_se.d[0].unwrap(),
        comfort.irt_se.d[1].unwrap(),
        comfort.irt_se.d[2].unwrap(),
    ];
    for (se, expected) in ses.iter().zip([0.18838, 0.49088, 0.22267, 0.15868]) {
        assert!(
            (se / expected - 1.0).abs() < 0.02,
            "SE {se} vs mirt {expected}"
        );
    }
    assert!(
        result
            .standard_error_route
            .as_deref()
            .unwrap()
            .contains("observed")
    );
    // EAP of the pattern (1, 2, 3, 4): mirt θ −0.3494903, SE 0.6004922.
    let pattern = ResponseMatrix::from_dataframe(
        &polars::prelude::DataFrame::new(
            1,
            ["Comfort", "Work", "Future", "Benefit"]
                .iter()
                .zip([1i64, 2, 3, 4])
                .map(|(n, v)| polars::prelude::Column::new((*n).into(), [v]))
                .collect(),
        )
        .unwrap(),
        None,
        None,
    )
    .unwrap();
    let items = result.item_parameters();
    let aligned = prediction::align_items(&pattern, &items).unwrap();
    let options = prediction::scoring_options(&result, ScoringMethod::Eap);
    let score = &prediction::score_persons(&aligned, &items, &options).unwrap()[0];
    assert!(
        (score.theta.unwrap() - -0.3494903).abs() < 0.005,
        "EAP {:?}",
        score.theta
    );
    assert!(
        (score.theta_se.unwrap() - 0.6004922).abs() < 0.005,
        "SE {:?}",
        score.theta_se
    );
}

#[test]
fn science_gpcm_matches_mirt() {
    let result = fit(&science(), &no_se(ItemType::Gpcm));
    assert!(
        (result.log_likelihood - -1612.683).abs() < 0.01,
        "logL {}",
        result.log_likelihood
    );
    // The exact maximum (helper check of mirt's formulas): Comfort a 0.861, d 2.822, 5.313, 3.989.
    let comfort = &result.items[0];
    assert!((comfort.a() - 0.8611).abs() < 0.01, "a {}", comfort.a());
    for (d, expected) in comfort.irt.d.iter().zip([2.8224, 5.3132, 3.9889]) {
        assert!((d - expected).abs() < 0.02, "d {d} vs {expected}");
    }
}

#[test]
fn science_mixed_graded_and_nominal_matches_mirt() {
    // mirt: itemtype = c(rep('graded', 3), 'nominal'): item 4 a 0.7986, ak 0 1.0782 1.7756 3,
    // d 0 2.1964 2.9637 1.6742 (tolerance 1e-2 in mirt's own test).
    let mut settings = no_se(ItemType::Graded);
    settings
        .item_models
        .insert("Benefit".into(), ItemType::Nominal);
    let result = fit(&science(), &settings);
    let benefit = &result.items[3];
    assert_eq!(benefit.model, ItemType::Nominal);
    assert!((benefit.a() - 0.7986).abs() < 0.01, "a {}", benefit.a());
    for (ak, expected) in benefit.irt.ak.iter().zip([0.0, 1.0782, 1.7756, 3.0]) {
        assert!((ak - expected).abs() < 0.02, "ak {ak} vs {expected}");
    }
    for (d, expected) in benefit.irt.d.iter().zip([2.1964, 2.9637, 1.6742]) {
        assert!((d - expected).abs() < 0.02, "d {d} vs {expected}");
    }
    assert!((result.log_likelihood - -1609.4325).abs() < 0.01);
}

#[test]
fn lsat7_3pl_without_prior_matches_mirt() {
    let settings = FitSettings {
        model: ItemType::ThreePl,
        priors: vec![PriorSetting::parse("c=none").unwrap()],
        standard_errors: StandardErrorMethod::None,
        ..FitSettings::default()
    };
    let result = fit(&lsat7(), &settings);
    let b = [
        -1.85291884,
        -0.04877029,
        -1.06840017,
        -0.65462572,
        -2.43551721,
    ];
    for (item, b) in result.items.iter().zip(b) {
        assert!(
            (item.b() - b).abs() < 0.01,
            "{}: b {} vs mirt {b}",
            item.item,
            item.b()
        );
    }
    // The fit reaches the maximum: plain EM (no acceleration) ends at the same place.
    let plain = fit(
        &lsat7(),
        &FitSettings {
            acceleration: false,
            max_cycles: 5000,
            ..settings.clone()
        },
    );
    assert!(
        (plain.log_likelihood - result.log_likelihood).abs() < 0.01,
        "plain EM {} vs accelerated {}",
        plain.log_likelihood,
        result.log_likelihood
    );
}

#[test]
fn lsat7_rasch_matches_mirt() {
    let result = fit(&lsat7(), &with_model(ItemType::Rasch));
    let d = [1.8680155, 0.7908857, 1.4607798, 0.5214175, 1.9927099];
    for (item, d) in result.items.iter().zip(d) {
        assert!(
            (item.d() - d).abs() < 0.01,
            "{}: d {} vs mirt {d}",
            item.item,
            item.d()
        );
        assert_eq!(item.a(), 1.0);
        assert!(item.a_se().is_none());
        assert!((item.b() - -item.d()).abs() < 1e-12);
    }
    // mirt's Oakes SE of d1: 0.100416.
    let se = result.items[0].d_se().unwrap();
    assert!((se - 0.100416).abs() < 0.002, "SE(d1) {se}");
    assert!(
        (result.latent_variance - 1.0227).abs() < 0.01,
        "variance {}",
        result.latent_variance
    );
}

/// Root mean squared difference of two equal-length lists.
fn rms(a: &[f64], b: &[f64]) -> f64 {
    rmse(a, b)
}

fn recover(
    model: ItemType,
    n_items: usize,
    k: usize,
    n_persons: usize,
    seed: u64,
) -> (Vec<ItemParameters>, Calibration) {
    let truth = typical_polytomous_items(model, n_items, k, seed, "q");
    let (matrix, _) = simulate_responses(&truth, n_persons, 0.0, seed + 1);
    (truth, fit(&matrix, &no_se(model)))
}

#[test]
fn polytomous_types_recover_their_parameters() {
    for (model, tolerance_a, tolerance_b) in [
        (ItemType::Graded, 0.12, 0.12),
        (ItemType::Gpcm, 0.12, 0.15),
        (ItemType::Pcm, 0.0, 0.12),
        (ItemType::Rsm, 0.0, 0.12),
    ] {
        let (truth, result) = recover(model, 10, 4, 4000, 100 + model as u64);
        assert!(result.converged, "{model:?} did not converge");
        let true_b: Vec<f64> = truth.iter().flat_map(|i| i.irt(1.0).b).collect();
        let est_b: Vec<f64> = result.items.iter().flat_map(|i| i.irt.b.clone()).collect();
        assert!(
            rms(&true_b, &est_b) < tolerance_b,
            "{model:?}: RMSE b {}",
            rms(&true_b, &est_b)
        );
        if tolerance_a > 0.0 {
            let true_a: Vec<f64> = truth.iter().map(|i| i.irt(1.0).a.unwrap()).collect();
            let est_a: Vec<f64> = result.items.iter().map(|i| i.a()).collect();
            assert!(
                rms(&true_a, &est_a) < tolerance_a,
                "{model:?}: RMSE a {}",
                rms(&true_a, &est_a)
            );
        } else {
            // Rasch family: slopes 1, the latent variance estimated (true 1).
            assert!(result.items.iter().all(|i| i.a() == 1.0));
            assert!(
                (result.latent_variance - 1.0).abs() < 0.12,
                "{model:?}: variance {}",
                result.latent_variance
            );
        }
    }
}

#[test]
fn nominal_model_recovers_its_curves() {
    let truth = typical_polytomous_items(ItemType::Nominal, 8, 4, 7, "n");
    let (matrix, _) = simulate_responses(&truth, 5000, 0.0, 8);
    let result = fit(&matrix, &no_se(ItemType::Nominal));
    assert!(result.converged);
    // Compare the category curves rather than the parameters (identification is by constraints).
    let mut worst: f64 = 0.0;
    for (t, e) in truth.iter().zip(result.item_parameters()) {
        for theta in [-2.0, -1.0, 0.0, 1.0, 2.0] {
            for (p, q) in t.probabilities(theta).iter().zip(e.probabilities(theta)) {
                worst = worst.max((p - q).abs());
            }
        }
    }
    assert!(worst < 0.06, "largest curve difference {worst}");
}

#[test]
fn four_pl_recovers_with_default_priors() {
    let truth: Vec<ItemParameters> = (0..15)
        .map(|j| {
            let form = irtlab::prediction::items::IrtForm {
                a: Some(1.2 + 0.05 * j as f64),
                b: vec![-1.5 + 0.2 * j as f64],
                c: Some(0.15),
                u: Some(0.9),
                ..Default::default()
            };
            ItemParameters::from_irt(
                format!("f{j}"),
                ItemType::FourPl,
                vec!["0".into(), "1".into()],
                &form,
                1.0,
            )
            .unwrap()
        })
        .collect();
    let (matrix, _) = simulate_responses(&truth, 8000, 0.0, 44);
    let result = fit(&matrix, &no_se(ItemType::FourPl));
    let c: Vec<f64> = result.items.iter().map(|i| i.c()).collect();
    let u: Vec<f64> = result.items.iter().map(|i| i.u()).collect();
    let b: Vec<f64> = result.items.iter().map(|i| i.b()).collect();
    let true_b: Vec<f64> = truth.iter().map(|i| i.irt(1.0).b[0]).collect();
    assert!(
        rms(&c, &[0.15; 15]) < 0.08,
        "RMSE c {}",
        rms(&c, &[0.15; 15])
    );
    assert!(rms(&u, &[0.9; 15]) < 0.08, "RMSE u {}", rms(&u, &[0.9; 15]));
    assert!(rms(&b, &true_b) < 0.3, "RMSE b {}", rms(&b, &true_b));
}

#[test]
fn mixed_test_with_missing_responses() {
    // 12 multiple-choice items (3PL) and 4 essays (GPCM, 5 categories), 15 % missing.
    let mut truth = typical_items(12, 0.2, 5, "mc");
    truth.extend(typical_polytomous_items(ItemType::Gpcm, 4, 5, 6, "essay"));
    let (matrix, _) = simulate_responses(&truth, 5000, 0.15, 9);
    let mut settings = no_se(ItemType::ThreePl);
    for j in 1..=4 {
        settings
            .item_models
            .insert(format!("essay{j}"), ItemType::Gpcm);
    }
    let result = fit(&matrix, &settings);
    assert!(result.converged);
    assert_eq!(result.items[12].model, ItemType::Gpcm);
    assert_eq!(result.items[12].irt.b.len(), 4);
    let true_b: Vec<f64> = truth.iter().flat_map(|i| i.irt(1.0).b).collect();
    let est_b: Vec<f64> = result.items.iter().flat_map(|i| i.irt.b.clone()).collect();
    assert!(
        rms(&true_b, &est_b) < 0.25,
        "RMSE b {}",
        rms(&true_b, &est_b)
    );
    // Tables: b1…b4 columns, ITEM_VALUE probability columns.
    let analysis = prediction::analyse(
        &matrix,
        &settings,
        ScoringMethod::Eap,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let table = analysis.items_table().unwrap();
    for column in [
        "item",
        "model",
        "categories",
        "a",
        "b1",
        "b4",
        "c",
        "d1",
        "d4",
        "a_se",
        "p_value",
    ] {
        assert!(table.column(column).is_ok(), "items table lacks {column}");
    }
    let probabilities = analysis.person_probabilities_table().unwrap();
    assert!(probabilities.column("mc1").is_ok());
    assert!(probabilities.column("essay1_0").is_ok() && probabilities.column("essay1_4").is_ok());
    let expected = analysis.expected_scores_table().unwrap();
    assert_eq!(expected.width(), 17);
    // The items table reads back to the same curves.
    let back = tables::items_from_table(&table, 1.0).unwrap();
    for (a, b) in back.iter().zip(result.item_parameters()) {
        assert_eq!(a.model, b.model);
        for theta in [-1.0, 0.5] {
            for (p, q) in a.probabilities(theta).iter().zip(b.probabilities(theta)) {
                assert!((p - q).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn priors_pull_estimates() {
    let truth = typical_items(8, 0.0, 12, "Item.");
    let (matrix, _) = simulate_responses(&truth, 150, 0.0, 13);
    let free = fit(&matrix, &no_se(ItemType::TwoPl));
    let mut settings = no_se(ItemType::TwoPl);
    settings
        .priors
        .push(PriorSetting::parse("a=lognormal(0,0.1)").unwrap());
    let shrunk = fit(&matrix, &settings);
    // A tight log-normal prior around 1 pulls every slope towards 1.
    let spread = |c: &Calibration| c.items.iter().map(|i| (i.a().ln()).abs()).sum::<f64>();
    assert!(
        spread(&shrunk) < 0.5 * spread(&free),
        "{} vs {}",
        spread(&shrunk),
        spread(&free)
    );
    // The default beta(5,17) on c keeps 3PL guessing away from 0; with c=none LSAT7's item 1 c
    // falls towards 0.
    let with_prior = fit(&lsat7(), &no_se(ItemType::ThreePl));
    assert!(with_prior.items.iter().all(|i| i.c() > 0.05));
}

#[test]
fn anchored_items_recover_a_latent_shift() {
    let truth = typical_items(20, 0.0, 21, "Item.");
    let (matrix, _) = simulate_with_latent(&truth, 6000, 0.5, 1.5, 0.0, 22);
    let settings = FitSettings {
        fixed_items: truth[..10].to_vec(),
        standard_errors: StandardErrorMethod::Observed,
        ..FitSettings::default()
    };
    let result = fit(&matrix, &settings);
    assert!(
        (result.latent_mean - 0.5).abs() < 0.08,
        "mean {}",
        result.latent_mean
    );
    assert!(
        (result.latent_variance - 2.25).abs() < 0.3,
        "variance {}",
        result.latent_variance
    );
    assert!(result.latent_mean_se.is_some_and(|s| s > 0.0 && s < 0.1));
    for (item, t) in result.items.iter().zip(&truth) {
        if item.anchored {
            assert_eq!(item.item_parameters().parameters, t.parameters);
            assert!(item.a_se().is_none());
        }
    }
    let free_b: Vec<f64> = result.items[10..].iter().map(|i| i.b()).collect();
    let true_b: Vec<f64> = truth[10..].iter().map(|i| i.irt(1.0).b[0]).collect();
    assert!(
        rms(&free_b, &true_b) < 0.12,
        "RMSE b {}",
        rms(&free_b, &true_b)
    );
    // Every item fixed: only scoring runs.
    let all = fit(
        &matrix,
        &FitSettings {
            fixed_items: truth.clone(),
            ..FitSettings::default()
        },
    );
    assert_eq!(all.cycles, 0);
    assert_eq!(all.parameters, 0);
}

#[test]
fn wle_is_finite_for_perfect_scores_and_close_to_ml() {
    let items = typical_items(10, 0.0, 31, "Item.");
    let (matrix, _) = simulate_responses(&items, 400, 0.0, 32);
    let options = |method| irtlab::prediction::ScoringOptions {
        method,
        ..Default::default()
    };
    let wle = prediction::score_persons(&matrix, &items, &options(ScoringMethod::Wle)).unwrap();
    let ml = prediction::score_persons(&matrix, &items, &options(ScoringMethod::Ml)).unwrap();
    let mut extreme = 0;
    for (w, m) in wle.iter().zip(&ml) {
        let w_theta = w.theta.expect("WLE is finite for every pattern of a 2PL");
        match m.theta {
            // Warm's correction is of order 1/n: small next to the estimate itself.
            Some(ml_theta) => assert!(
                (w_theta - ml_theta).abs() < 0.5,
                "WLE {w_theta} vs ML {ml_theta}"
            ),
            None => extreme += 1,
        }
    }
    assert!(
        extreme > 0,
        "the sample has all-correct or all-wrong patterns"
    );
}

#[test]
fn bad_categories_get_clear_messages() {
    // A three-category item under the 2PL names the item.
    let matrix = ResponseMatrix::from_rows(
        vec!["1".into(), "2".into(), "3".into()],
        vec!["q1".into(), "q2".into()],
        &[
            vec![Some(1), Some(2)],
            vec![Some(0), Some(1)],
            vec![Some(1), Some(0)],
        ],
    )
    .unwrap();
    let error = calibrate(
        &matrix,
        &FitSettings::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("\"q2\"") && error.to_string().contains("graded"),
        "{error}"
    );
    // A category nobody chose is dropped with a warning naming item and category.
    let truth = typical_polytomous_items(ItemType::Graded, 5, 4, 3, "g");
    let (matrix, _) = simulate_responses(&truth, 1000, 0.0, 4);
    let mapping = [Some(0u8), Some(1), Some(1), Some(2)];
    let holed = matrix.recode_item(2, &mapping, vec!["0".into(), "1".into(), "3".into()]);
    let with_gap = fit(&holed, &no_se(ItemType::Graded));
    assert!(
        with_gap.warnings.iter().any(|w| matches!(w, FitWarning::CategoryNotChosen { item, category } if item == "g3" && category == "2")),
        "{:?}",
        with_gap.warnings
    );
    assert_eq!(with_gap.items[2].categories, ["0", "1", "3"]);
}
