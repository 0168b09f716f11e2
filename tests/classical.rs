//! Classical item analysis and distractor analysis: against a table computed by hand, against
//! the definitions on simulated data, and distractor flags on data with planted faults.

mod common;

use common::{data_file, matrix_from_rows, simulate, spread_items};
use irtlab::prediction::ResponseMatrix;
use irtlab::prediction::classical::{
    ClassicalAnalysis, ClassicalSettings, classical_analysis, correlation,
};
use irtlab::prediction::distractors::{
    DistractorFlag, DistractorSettings, NO_ANSWER, distractor_analysis, key_from_table,
    score_by_key,
};
use irtlab::prediction::simulation::{SplitMix64, simulate_polytomous};
use irtlab::preparation::Source;
use irtlab::preprocessing::KeyEntry;

fn close(actual: Option<f64>, expected: f64, tolerance: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected}"
    );
}

fn analyse(matrix: &ResponseMatrix) -> ClassicalAnalysis {
    classical_analysis(matrix, &ClassicalSettings::default()).unwrap()
}

/// Four persons, three right/wrong items, totals 3, 2, 1, 0. Every value below was worked out
/// by hand (shown in the comments).
#[test]
fn a_small_table_computed_by_hand() {
    let rows = vec![
        vec![Some(1), Some(1), Some(1)],
        vec![Some(1), Some(1), Some(0)],
        vec![Some(1), Some(0), Some(0)],
        vec![Some(0), Some(0), Some(0)],
    ];
    let a = analyse(&matrix_from_rows(rows));
    let t = &a.test;
    assert_eq!((t.n_persons, t.n_items, t.max_total), (4, 3, 3));
    // Totals 3, 2, 1, 0: mean 1.5, variance 5/3.
    close(t.mean, 1.5, 1e-12, "mean");
    close(t.sd, (5.0f64 / 3.0).sqrt(), 1e-12, "sd");
    close(t.median, 1.5, 1e-12, "median");
    // Item variances 1/4, 1/3, 1/4: alpha = 3/2·(1 − (5/6)/(5/3)) = 0.75.
    close(t.alpha, 0.75, 1e-12, "alpha");
    // Feldt: 1 − 0.25·F(0.975; 3, 6) and 1 − 0.25·F(0.025; 3, 6) (scipy).
    let ci = t.alpha_ci95.unwrap();
    assert!((ci[0] - -0.649_699_630_489_117_8).abs() < 1e-6, "{ci:?}");
    assert!((ci[1] - 0.983_033_269_249_396_2).abs() < 1e-6, "{ci:?}");
    // SEM = sd·√(1 − α) = √(5/3)·0.5.
    close(t.sem, (5.0f64 / 3.0).sqrt() * 0.5, 1e-12, "SEM");
    // First–last: item 1 (1,1,1,0) against items 2+3 (2,1,0,0): r = √(3/11).
    let r = (3.0f64 / 11.0).sqrt();
    close(
        t.split_half_first_last.correlation,
        r,
        1e-12,
        "first–last r",
    );
    close(
        t.split_half_first_last.spearman_brown,
        2.0 * r / (1.0 + r),
        1e-12,
        "first–last SB",
    );
    // Odd–even: items 1+3 (2,1,1,0) against item 2 (1,1,0,0): r = 1/√2.
    close(
        t.split_half_odd_even.correlation,
        0.5f64.sqrt(),
        1e-12,
        "odd–even r",
    );
    assert_eq!(t.total_distribution, vec![(0, 1), (1, 1), (2, 1), (3, 1)]);
    assert_eq!(t.complete_cases, 4);

    let item1 = &a.items[0];
    close(item1.difficulty, 0.75, 1e-12, "difficulty 1");
    close(item1.sd, 0.5, 1e-12, "sd 1");
    // RIT: cov 1.5/3, var 0.25 and 5/3 → √0.6; RIR: rest 2,1,0,0 → √(3/11).
    close(item1.rit, 0.6f64.sqrt(), 1e-12, "RIT 1");
    close(item1.rir, r, 1e-12, "RIR 1");
    // Groups of three at the totals' tertiles 1 and 2: {0}, {1}, {2, 3}.
    close(item1.uli, 1.0, 1e-12, "ULI 1");
    close(a.items[2].uli, 0.5, 1e-12, "ULI 3");
    // Without item 2: items 1 and 3 sum to 2,1,1,0 → α = 2·(1 − 0.5/(2/3)) = 0.5.
    close(a.items[1].alpha_if_dropped, 0.5, 1e-12, "alpha without 2");
    close(a.items[1].difficulty, 0.5, 1e-12, "difficulty 2");

    // Standard scores: z = (3 − 1.5)/√(5/3), percentile 100, success rate 100.
    let top = &a.persons[0];
    close(top.z, 1.5 / (5.0f64 / 3.0).sqrt(), 1e-12, "z");
    close(top.t, 50.0 + 15.0 / (5.0f64 / 3.0).sqrt(), 1e-12, "T");
    assert_eq!(top.percentile, 100.0);
    assert_eq!(a.persons[3].percentile, 25.0);
    close(
        a.persons[1].success_rate,
        200.0 / 3.0,
        1e-12,
        "success rate",
    );
}

#[test]
fn missing_and_not_reached_responses() {
    // Person 2 stops after item 1, person 3 skips item 2 but answers item 3, person 4 answers
    // nothing.
    let rows = vec![
        vec![Some(1), Some(1), Some(1)],
        vec![Some(1), None, None],
        vec![Some(0), None, Some(1)],
        vec![None, None, None],
        vec![Some(0), Some(0), Some(0)],
    ];
    let a = analyse(&matrix_from_rows(rows));
    let missing: Vec<f64> = a.items.iter().map(|i| i.missing_percent).collect();
    let not_reached: Vec<f64> = a.items.iter().map(|i| i.not_reached_percent).collect();
    assert_eq!(missing, vec![20.0, 60.0, 40.0]);
    // Item 1: person 4; item 2: persons 2 and 4; item 3: persons 2 and 4.
    assert_eq!(not_reached, vec![20.0, 40.0, 40.0]);
    assert_eq!(a.items[1].n_answered, 2);
    assert_eq!(a.test.complete_cases, 2);
    // Alpha is computed on the complete cases, and the result says so.
    let basis = a
        .basis
        .iter()
        .find(|b| b.statistic.starts_with("Cronbach"))
        .unwrap();
    assert_eq!(basis.persons, 2);
    assert!(basis.rule.contains("2 of 5"), "{}", basis.rule);
    // Success rate is over the items a person answered: person 2 answered 1 of 1.
    assert_eq!(a.persons[1].success_rate, Some(100.0));
    assert_eq!(a.persons[3].success_rate, None);
    assert_eq!(a.persons[3].total_score, 0);
}

/// The sample covariance matrix of complete rows of scores.
fn covariance(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = rows.len() as f64;
    let k = rows[0].len();
    let means: Vec<f64> = (0..k)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    (0..k)
        .map(|a| {
            (0..k)
                .map(|b| {
                    rows.iter()
                        .map(|r| (r[a] - means[a]) * (r[b] - means[b]))
                        .sum::<f64>()
                        / (n - 1.0)
                })
                .collect()
        })
        .collect()
}

fn alpha_from_covariance(c: &[Vec<f64>]) -> f64 {
    let k = c.len() as f64;
    let trace: f64 = (0..c.len()).map(|j| c[j][j]).sum();
    let total: f64 = c.iter().flatten().sum();
    k / (k - 1.0) * (1.0 - trace / total)
}

fn score_rows(matrix: &ResponseMatrix) -> Vec<Vec<f64>> {
    (0..matrix.n_persons())
        .map(|p| {
            (0..matrix.n_items())
                .map(|j| f64::from(matrix.response(p, j).unwrap()))
                .collect()
        })
        .collect()
}

fn check_definitions(matrix: &ResponseMatrix) {
    let a = analyse(matrix);
    let rows = score_rows(matrix);
    let c = covariance(&rows);
    // Alpha from the covariance matrix equals alpha from item and total variances.
    close(a.test.alpha, alpha_from_covariance(&c), 1e-10, "alpha");
    let k = matrix.n_items();
    let totals: Vec<f64> = rows.iter().map(|r| r.iter().sum()).collect();
    for j in 0..k {
        let item = &a.items[j];
        let x: Vec<f64> = rows.iter().map(|r| r[j]).collect();
        close(
            item.rit,
            correlation(x.iter().copied().zip(totals.iter().copied())).unwrap(),
            1e-10,
            "RIT",
        );
        close(
            item.rir,
            correlation(x.iter().zip(&totals).map(|(x, t)| (*x, t - x))).unwrap(),
            1e-10,
            "RIR",
        );
        close(item.sd, c[j][j].sqrt(), 1e-10, "item SD");
        // Alpha if dropped: alpha of the covariance matrix without row and column j.
        let reduced: Vec<Vec<f64>> = (0..k)
            .filter(|&a| a != j)
            .map(|a| (0..k).filter(|&b| b != j).map(|b| c[a][b]).collect())
            .collect();
        close(
            item.alpha_if_dropped,
            alpha_from_covariance(&reduced),
            1e-10,
            "alpha if dropped",
        );
        let max = (matrix.n_categories(j) - 1) as f64;
        close(
            item.difficulty,
            x.iter().sum::<f64>() / x.len() as f64 / max,
            1e-12,
            "difficulty",
        );
    }
    // Split halves from their definition.
    let half = k / 2;
    let first_last = correlation(rows.iter().map(|r| {
        let first: f64 = r[..half].iter().sum();
        (first, r.iter().sum::<f64>() - first)
    }))
    .unwrap();
    close(
        a.test.split_half_first_last.correlation,
        first_last,
        1e-10,
        "first–last",
    );
    let odd_even = correlation(rows.iter().map(|r| {
        let odd: f64 = r.iter().step_by(2).sum();
        (odd, r.iter().sum::<f64>() - odd)
    }))
    .unwrap();
    close(
        a.test.split_half_odd_even.correlation,
        odd_even,
        1e-10,
        "odd–even",
    );
    // SEM and the standard scores.
    let total_variance: f64 = c.iter().flatten().sum();
    close(
        a.test.sem,
        total_variance.sqrt() * (1.0 - a.test.alpha.unwrap()).sqrt(),
        1e-10,
        "SEM",
    );
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    for (p, score) in a.persons.iter().enumerate().step_by(97) {
        close(
            score.z,
            (totals[p] - mean) / total_variance.sqrt(),
            1e-10,
            "z",
        );
        let at_most = totals.iter().filter(|&&t| t <= totals[p]).count();
        assert!((score.percentile - 100.0 * at_most as f64 / totals.len() as f64).abs() < 1e-12);
    }
    // The short statistics beside the IRT estimates are the same numbers.
    let short = a.statistics();
    assert_eq!(short.cronbach_alpha, a.test.alpha);
    assert_eq!(short.items[0].item_rest_r, a.items[0].rir);
}

#[test]
fn definitions_hold_on_simulated_right_wrong_items() {
    let (matrix, _) = simulate(&spread_items(15, 0.0, 11), 1500, 12);
    check_definitions(&matrix);
    let a = analyse(&matrix);
    // A 15-item 2PL test with typical items is reliable, and its halves agree.
    let alpha = a.test.alpha.unwrap();
    assert!(alpha > 0.6 && alpha < 0.95, "alpha {alpha}");
    let [low, high] = a.test.alpha_ci95.unwrap();
    assert!(low < alpha && alpha < high && high - low < 0.1);
    let sb = a.test.split_half_odd_even.spearman_brown.unwrap();
    assert!(
        (sb - alpha).abs() < 0.1,
        "Spearman–Brown {sb} vs alpha {alpha}"
    );
}

#[test]
fn definitions_hold_on_simulated_polytomous_items() {
    let matrix = simulate_polytomous(8, 4, 1200, 0.0, 21);
    check_definitions(&matrix);
    let a = analyse(&matrix);
    assert_eq!(a.items[0].max_score, 3);
    assert_eq!(a.test.max_total, 24);
}

#[test]
fn upper_lower_index_with_other_groups() {
    let (matrix, _) = simulate(&spread_items(10, 0.0, 31), 3000, 32);
    let five = ClassicalSettings {
        uli_groups: 5,
        uli_lower: 1,
        uli_upper: None,
    };
    let a = classical_analysis(&matrix, &five).unwrap();
    let three = analyse(&matrix);
    // Extreme fifths are further apart than extreme thirds.
    for (five, three) in a.items.iter().zip(&three.items) {
        assert!(five.uli.unwrap() > three.uli.unwrap(), "{five:?}");
    }
    // Settings are checked.
    let bad = ClassicalSettings {
        uli_groups: 3,
        uli_lower: 3,
        uli_upper: Some(2),
    };
    let error = classical_analysis(&matrix, &bad).unwrap_err().to_string();
    assert!(error.contains("1 ≤ lower < upper"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Distractors

const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// Answers to 20 four-option items from a 2PL, with faults planted: item 5's key is given as
/// B though A is right (a miskey); on item 8 the strong students who miss it all choose C (an
/// attractive distractor); on item 3 nobody ever chooses D.
fn planted_answers() -> (ResponseMatrix, Vec<KeyEntry>) {
    let items = spread_items(20, 0.0, 41);
    let (scored, thetas) = simulate(&items, 3000, 42);
    let mut rng = SplitMix64::new(43);
    let mut rows: Vec<Vec<Option<u8>>> = Vec::new();
    for (p, &theta) in thetas.iter().enumerate() {
        let row = (0..20)
            .map(|j| {
                let correct = j % 4;
                let code = if scored.response(p, j) == Some(1) {
                    correct
                } else if j == 7 && theta > 0.0 {
                    2
                } else {
                    loop {
                        let other = (correct + 1 + (rng.next_u64() % 3) as usize) % 4;
                        if (j == 2 && other == 3) || (j == 7 && other == 2) {
                            continue;
                        }
                        break other;
                    }
                };
                Some(code as u8)
            })
            .collect();
        rows.push(row);
    }
    let mut matrix = matrix_from_rows(rows);
    // Letters as the options.
    for j in 0..20 {
        let labels: Vec<String> = (0..matrix.n_categories(j))
            .map(|c| LETTERS[c].to_string())
            .collect();
        let identity: Vec<Option<u8>> = (0..labels.len() as u8).map(Some).collect();
        matrix = matrix.recode_item(j, &identity, labels);
    }
    let key = (0..20)
        .map(|j| KeyEntry {
            column: format!("Item.{}", j + 1),
            key: if j == 4 { "B" } else { LETTERS[j % 4] }.to_string(),
        })
        .collect();
    (matrix, key)
}

#[test]
fn distractor_flags_find_the_planted_faults() {
    let (answers, key) = planted_answers();
    let analysis = distractor_analysis(&answers, &key, &DistractorSettings::default()).unwrap();
    assert_eq!(analysis.items.len(), 20);
    assert_eq!(analysis.group_sizes.iter().sum::<usize>(), 3000);
    let option = |item: usize, label: &str| {
        analysis.items[item]
            .options
            .iter()
            .find(|o| o.option == label)
            .unwrap()
    };
    // The miskey: the real answer A correlates best with the rest score.
    assert!(
        option(4, "A")
            .flags
            .contains(&DistractorFlag::ProbableMiskey)
    );
    assert!(option(4, "B").is_key);
    assert!(option(4, "B").flags.contains(&DistractorFlag::KeyNegative));
    // The attractive distractor.
    assert!(
        option(7, "C")
            .flags
            .contains(&DistractorFlag::AttractsTopGroup)
    );
    // The option nobody chooses.
    assert_eq!(option(2, "D").count, 0);
    assert!(option(2, "D").flags.contains(&DistractorFlag::NeverChosen));
    // Nothing else is flagged.
    let flagged: Vec<&str> = analysis
        .items
        .iter()
        .filter(|i| !i.flags.is_empty())
        .map(|i| i.item.as_str())
        .collect();
    assert_eq!(flagged, vec!["Item.3", "Item.5", "Item.8"]);
    // Flagged items come first, the miskey before the rest.
    let order = analysis.items_flagged_first();
    assert_eq!(order[0].item, "Item.5");
    assert!(
        analysis.items[4]
            .flags_text()
            .contains("probable miskey (A)")
    );
    // Every other key discriminates.
    for item in &analysis.items {
        let key = item.key_option().unwrap();
        if item.item != "Item.5" {
            assert!(key.point_biserial.unwrap() > 0.2, "{}", item.item);
        }
        // Proportions of an item's rows add up to 1, overall and in each group.
        let total: f64 = item.options.iter().map(|o| o.proportion).sum();
        assert!((total - 1.0).abs() < 1e-12);
        for g in 0..3 {
            let sum: f64 = item
                .options
                .iter()
                .map(|o| o.group_proportions[g].unwrap())
                .sum();
            assert!((sum - 1.0).abs() < 1e-12);
        }
    }
    // The key's proportion in each group rises with the score.
    let key = option(0, "A");
    let g: Vec<f64> = key.group_proportions.iter().map(|p| p.unwrap()).collect();
    assert!(g[0] < g[1] && g[1] < g[2], "{g:?}");
}

#[test]
fn point_biserial_follows_its_definition() {
    let (answers, key) = planted_answers();
    let analysis = distractor_analysis(&answers, &key, &DistractorSettings::default()).unwrap();
    let scored = score_by_key(&answers, &key).unwrap();
    let totals: Vec<f64> = (0..scored.n_persons())
        .map(|p| scored.responses_of(p).map(|(_, c)| f64::from(c)).sum())
        .collect();
    for (j, item) in analysis.items.iter().enumerate().take(6) {
        for option in &item.options {
            let code = answers
                .categories(j)
                .iter()
                .position(|l| l == &option.option);
            let Some(code) = code else { continue };
            let expected = correlation((0..answers.n_persons()).map(|p| {
                let chose = answers.response(p, j) == Some(code as u8);
                let correct = f64::from(scored.response(p, j).unwrap_or(0));
                (f64::from(u8::from(chose)), totals[p] - correct)
            }));
            match expected {
                Some(r) => close(option.point_biserial, r, 1e-10, &option.option),
                None => assert_eq!(option.point_biserial, None),
            }
        }
    }
    // The key's proportion is the scored item's difficulty.
    let classical = analyse(&scored);
    for (d, c) in analysis.items.iter().zip(&classical.items) {
        assert!((d.proportion_correct - c.difficulty.unwrap()).abs() < 1e-12);
    }
}

fn sat12_key() -> Vec<KeyEntry> {
    let key = [
        1, 4, 5, 2, 3, 1, 2, 1, 3, 1, 2, 4, 2, 1, 5, 3, 4, 4, 1, 4, 3, 3, 4, 1, 3, 5, 1, 3, 1, 5,
        4, 5,
    ];
    key.iter()
        .enumerate()
        .map(|(j, k)| KeyEntry {
            column: format!("Item.{}", j + 1),
            key: k.to_string(),
        })
        .collect()
}

#[test]
fn sat12_distractor_table() {
    let frame = Source::for_file(&data_file("sat12.csv"))
        .unwrap()
        .load(None)
        .unwrap();
    let answers = ResponseMatrix::from_dataframe(&frame, None, None).unwrap();
    // 8 (not answered) is a value of the data, not an option offered: name the options.
    let settings = DistractorSettings {
        groups: 5,
        options: ["1", "2", "3", "4", "5"].map(String::from).to_vec(),
    };
    let analysis = distractor_analysis(&answers, &sat12_key(), &settings).unwrap();
    assert_eq!(analysis.n_persons, 600);
    assert_eq!(analysis.items.len(), 32);
    assert_eq!(analysis.group_sizes.len(), 5);
    assert_eq!(analysis.group_sizes.iter().sum::<usize>(), 600);
    let table = analysis.table().unwrap();
    assert!(table.height() >= 32 * 5);
    let names: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "item",
            "option",
            "key",
            "n",
            "proportion",
            "group_1",
            "group_2",
            "group_3",
            "group_4",
            "group_5",
            "mean_total",
            "point_biserial",
            "flags"
        ]
    );
    let scored = score_by_key(&answers, &sat12_key()).unwrap();
    let classical = analyse(&scored);
    let mut positive_keys = 0;
    for (item, stats) in analysis.items.iter().zip(&classical.items) {
        // Options 1–5 and 8 (= not answered) are the rows; there are no empty cells.
        assert!(item.options.iter().all(|o| o.option != NO_ANSWER));
        let counts: usize = item.options.iter().map(|o| o.count).sum();
        assert_eq!(counts, 600, "{}", item.item);
        let key = item.key_option().unwrap();
        assert_eq!(key.option, item.key);
        assert!((key.proportion - stats.difficulty.unwrap()).abs() < 1e-12);
        positive_keys += usize::from(key.point_biserial.unwrap() > 0.0);
        // The key is chosen more often in the top group than in the bottom one.
        let g = &key.group_proportions;
        assert!(g[4].unwrap() > g[0].unwrap(), "{}: {g:?}", item.item);
    }
    assert_eq!(positive_keys, 32);
    // "8" (not answered) is chosen more by the weakest fifth than by the strongest.
    let eights = |g: usize| -> f64 {
        analysis
            .items
            .iter()
            .filter_map(|i| i.options.iter().find(|o| o.option == "8"))
            .map(|o| o.group_proportions[g].unwrap())
            .sum()
    };
    assert!(
        eights(0) > 2.0 * eights(4),
        "{} vs {}",
        eights(0),
        eights(4)
    );
    // Every offered option is chosen by someone and every key discriminates positively; one
    // item stands out: on item 32 the 266 who chose option 3 have a higher rest score than
    // the 97 who chose the key 5 — a probable miskey (or a second right answer).
    let mut miskeys = Vec::new();
    for item in &analysis.items {
        assert!(
            !item.flags.contains(&DistractorFlag::NeverChosen),
            "{}",
            item.item
        );
        assert!(
            !item.flags.contains(&DistractorFlag::KeyNegative),
            "{}",
            item.item
        );
        for option in item
            .options
            .iter()
            .filter(|o| o.flags.contains(&DistractorFlag::ProbableMiskey))
        {
            miskeys.push(format!("{}: {}", item.item, option.option));
        }
    }
    assert_eq!(miskeys, vec!["Item.32: 3"]);
    let item32 = &analysis.items[31];
    let three = item32.options.iter().find(|o| o.option == "3").unwrap();
    assert_eq!(three.count, 266);
    assert!(three.point_biserial.unwrap() > item32.key_option().unwrap().point_biserial.unwrap());
}

#[test]
fn key_tables_long_and_wide() {
    let dir = tempfile::tempdir().unwrap();
    let long = common::write_file(dir.path(), "long.csv", b"item,key\nQ1,A\nQ2,C\n");
    let wide = common::write_file(dir.path(), "wide.csv", b"Q1,Q2\nA,C\n");
    let bad = common::write_file(dir.path(), "bad.csv", b"Q1,Q2\nA,C\nB,D\n");
    let read = |path: &std::path::Path| {
        let frame = Source::for_file(path).unwrap().load(None).unwrap();
        key_from_table(&frame)
    };
    let expected = vec![
        KeyEntry {
            column: "Q1".into(),
            key: "A".into(),
        },
        KeyEntry {
            column: "Q2".into(),
            key: "C".into(),
        },
    ];
    assert_eq!(read(&long).unwrap(), expected);
    assert_eq!(read(&wide).unwrap(), expected);
    let error = read(&bad).unwrap_err().to_string();
    assert!(error.contains("\"item\" and \"key\""), "{error}");
    // A key naming a missing item says which.
    let (answers, _) = planted_answers();
    let error = distractor_analysis(&answers, &expected, &DistractorSettings::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"Q1\" not found"), "{error}");
}

#[test]
fn missing_answers_get_their_own_row() {
    let mut rows = vec![vec![Some(0u8), Some(1)]; 4];
    rows.push(vec![None, Some(0)]);
    rows.push(vec![Some(1), None]);
    let answers = matrix_from_rows(rows);
    let key = vec![
        KeyEntry {
            column: "Item.1".into(),
            key: "0".into(),
        },
        KeyEntry {
            column: "Item.2".into(),
            key: "1".into(),
        },
    ];
    let analysis = distractor_analysis(&answers, &key, &DistractorSettings::default()).unwrap();
    let first = &analysis.items[0];
    let labels: Vec<&str> = first.options.iter().map(|o| o.option.as_str()).collect();
    assert_eq!(labels, vec!["0", "1", NO_ANSWER]);
    assert_eq!(first.options[2].count, 1);
    assert!(first.options[2].is_no_answer && first.options[2].flags.is_empty());
    // Totals count the keyed answers: four persons 2, then 0 and 0.
    assert_eq!(analysis.totals, vec![2, 2, 2, 2, 0, 0]);
}
