//! Shared fixtures: the LSAT7 data, seeded simulation from known item parameters, temp files.
#![allow(dead_code)]

use irtlab::prediction::simulation::{SplitMix64, simulate_responses, typical_items};
use irtlab::prediction::{ItemParameters, ResponseMatrix};

/// LSAT7 (Bock & Aitkin, 1981): response pattern of items 1–5 → number of examinees.
pub const LSAT7: [(&str, usize); 32] = [
    ("00000", 12),
    ("00001", 19),
    ("00010", 1),
    ("00011", 7),
    ("00100", 3),
    ("00101", 19),
    ("00110", 3),
    ("00111", 17),
    ("01000", 10),
    ("01001", 5),
    ("01010", 3),
    ("01011", 7),
    ("01100", 7),
    ("01101", 23),
    ("01110", 8),
    ("01111", 28),
    ("10000", 7),
    ("10001", 39),
    ("10010", 11),
    ("10011", 34),
    ("10100", 14),
    ("10101", 51),
    ("10110", 15),
    ("10111", 90),
    ("11000", 6),
    ("11001", 25),
    ("11010", 7),
    ("11011", 35),
    ("11100", 18),
    ("11101", 136),
    ("11110", 32),
    ("11111", 308),
];

/// The 1,000 LSAT7 examinees as rows of 0/1.
pub fn lsat7_rows() -> Vec<Vec<Option<u8>>> {
    let mut rows = Vec::new();
    for (pattern, count) in LSAT7 {
        let row: Vec<Option<u8>> = pattern.bytes().map(|b| Some(b - b'0')).collect();
        for _ in 0..count {
            rows.push(row.clone());
        }
    }
    rows
}

/// LSAT7 as a response matrix with items Item.1 … Item.5.
pub fn lsat7() -> ResponseMatrix {
    matrix_from_rows(lsat7_rows())
}

/// A matrix with ids 1… and items Item.1… from rows.
pub fn matrix_from_rows(rows: Vec<Vec<Option<u8>>>) -> ResponseMatrix {
    let n_items = rows.first().map_or(0, |r| r.len());
    ResponseMatrix::from_rows(
        (1..=rows.len()).map(|i| i.to_string()).collect(),
        (1..=n_items).map(|j| format!("Item.{j}")).collect(),
        &rows,
    )
    .unwrap()
}

/// Item parameters spread like a real test, named Item.1, Item.2, …
pub fn spread_items(n_items: usize, c: f64, seed: u64) -> Vec<ItemParameters> {
    typical_items(n_items, c, seed, "Item.")
}

/// Responses of `n_persons` with θ ~ N(0, 1) to `items` (D = 1), complete.
pub fn simulate(
    items: &[ItemParameters],
    n_persons: usize,
    seed: u64,
) -> (ResponseMatrix, Vec<f64>) {
    simulate_responses(items, n_persons, 0.0, seed)
}

/// The same matrix with each response deleted with probability `fraction`.
pub fn delete_at_random(matrix: &ResponseMatrix, fraction: f64, seed: u64) -> ResponseMatrix {
    let mut rng = SplitMix64::new(seed);
    let rows: Vec<Vec<Option<u8>>> = (0..matrix.n_persons())
        .map(|p| {
            (0..matrix.n_items())
                .map(|j| {
                    let value = matrix.response(p, j);
                    if rng.uniform() < fraction {
                        None
                    } else {
                        value
                    }
                })
                .collect()
        })
        .collect();
    matrix_from_rows(rows)
}

/// Root mean squared difference.
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

/// A file of the tests' own data folder (tests/data).
pub fn data_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// The repository's assets folder.
pub fn assets() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Writes `text` to `name` in `dir` and returns the path.
pub fn write_file(dir: &std::path::Path, name: &str, text: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// LSAT7 as wide CSV text with an id column.
pub fn lsat7_csv() -> String {
    let mut text = String::from("id,Item.1,Item.2,Item.3,Item.4,Item.5\n");
    for (i, row) in lsat7_rows().iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| v.unwrap().to_string()).collect();
        text.push_str(&format!("p{},{}\n", i + 1, cells.join(",")));
    }
    text
}

/// Runs the irtlab binary with `args`, as a user would.
pub fn irtlab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args(args)
        .output()
        .unwrap()
}

/// Asserts that a command succeeded, showing its stderr when it did not.
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts that a command succeeded and reads its stdout as JSON.
pub fn succeeded(output: &std::process::Output) -> serde_json::Value {
    assert_succeeded(output);
    serde_json::from_slice(&output.stdout).unwrap()
}
