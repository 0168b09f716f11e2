//! Benchmarks quoted in the README. Run in release mode, one case per process so that the peak
//! memory (VmHWM) is the case's own:
//!
//! ```text
//! cargo bench --bench bench -- fit            # 2PL, 100,000 × 100, complete: calibration + EAP
//! cargo bench --bench bench -- fit-missing    # the same with 20 % missing responses
//! cargo bench --bench bench -- fit-se         # complete, plus standard errors (numerical Hessian)
//! ```

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use irtlab::prediction::simulation::{SplitMix64, simulate_responses};
use irtlab::prediction::{
    FitSettings, ItemParameters, ScoringMethod, StandardErrorMethod, analyse,
};

fn items(n_items: usize, seed: u64) -> Vec<ItemParameters> {
    let mut rng = SplitMix64::new(seed);
    (0..n_items)
        .map(|j| ItemParameters {
            item: format!("item{}", j + 1),
            a: 0.7 + 1.3 * rng.uniform(),
            b: -2.0 + 4.0 * (j as f64 + 0.5) / n_items as f64,
            c: 0.0,
        })
        .collect()
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fit_case(name: &str, n_persons: usize, n_items: usize, missing: f64, se: StandardErrorMethod) {
    let truth = items(n_items, 1);
    let (matrix, _) = simulate_responses(&truth, n_persons, 1.0, missing, 2);
    let memory_before = peak_memory_mb().unwrap_or(0.0);
    let settings = FitSettings {
        standard_errors: se,
        ..FitSettings::default()
    };
    let start = Instant::now();
    let analysis = analyse(
        &matrix,
        &settings,
        ScoringMethod::Eap,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .expect("the simulated data fit");
    let seconds = start.elapsed().as_secs_f64();
    let c = &analysis.calibration;
    let rmse = |f: &dyn Fn(&ItemParameters) -> f64,
                g: &dyn Fn(&irtlab::prediction::FittedItem) -> f64| {
        (truth
            .iter()
            .zip(&c.items)
            .map(|(t, e)| (f(t) - g(e)).powi(2))
            .sum::<f64>()
            / n_items as f64)
            .sqrt()
    };
    println!(
        "{name}: {n_persons} x {n_items}, {:.0}% missing: {seconds:.3} s wall (calibration + EAP{}), {} EM cycles, converged {}, logL {:.3}, RMSE a {:.4}, RMSE b {:.4}; peak memory {:.0} MB (data alone {:.0} MB)",
        missing * 100.0,
        if se == StandardErrorMethod::Hessian {
            " + SEs"
        } else {
            ""
        },
        c.cycles,
        c.converged,
        c.log_likelihood,
        rmse(&|t| t.a, &|e| e.a),
        rmse(&|t| t.b, &|e| e.b),
        peak_memory_mb().unwrap_or(f64::NAN),
        memory_before,
    );
}

fn main() {
    let case = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "fit".to_string());
    match case.as_str() {
        "fit" => fit_case("fit", 100_000, 100, 0.0, StandardErrorMethod::None),
        "fit-missing" => fit_case("fit-missing", 100_000, 100, 0.2, StandardErrorMethod::None),
        "fit-se" => fit_case("fit-se", 100_000, 100, 0.0, StandardErrorMethod::Hessian),
        "fit-small" => fit_case("fit-small", 10_000, 50, 0.0, StandardErrorMethod::Hessian),
        other => eprintln!("unknown case {other}; cases: fit, fit-missing, fit-se, fit-small"),
    }
}
