//! The analysis report, read as a reader would: its sections, real tables, inline plots,
//! nothing fetched and nothing run, the project embedded so the analysis can be rerun — from
//! the HTML text, and (when Debian's `chromium` is installed) as a browser shows it.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use common::*;
use irtlab::prediction::{self, ScoringMethod};
use irtlab::project::{self, Project};
use irtlab::report::{ReportExtras, ReportInputs, ReportSection, ReportTable, render_report};

/// The sample project's report, made through the library as the app makes it, with a DIF
/// section standing for the analyses other parts of the program add.
fn sample_report() -> (String, Project) {
    let path = assets().join("sample.irtlab.json");
    let project = Project::load(&path).unwrap();
    let base = path.parent().unwrap();
    let prepared = project::prepare(&project, Some(base)).unwrap();
    let matrix = project::response_matrix(&project, &prepared).unwrap();
    let classical = project::classical_run(&project, &prepared, &matrix, None).unwrap();
    let analysis = prediction::analyse(
        &matrix,
        &project.model,
        ScoringMethod::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let mut dif = ReportSection::new("dif", "Differential item functioning");
    dif.paragraphs.push("Groups: grade.".into());
    let mut table = ReportTable::new("Likelihood-ratio tests", &["item", "chi2", "p"]);
    table
        .rows
        .push(vec!["Q01".into(), "1.234".into(), "0.540".into()]);
    dif.tables.push(table);
    let html = render_report(&ReportInputs {
        title: "Sample <report>".into(),
        generated: Some("2026-01-02 03:04 UTC".into()),
        project: Some(&project),
        project_json: Some(project.to_json(Some(base))),
        prepared: Some(&prepared),
        matrix: Some(&matrix),
        classical: Some(&classical.classical),
        distractors: classical.distractors.as_ref(),
        distractor_source: classical
            .distractor_input
            .as_ref()
            .map(|i| i.describe(&project)),
        analysis: Some(&analysis),
        extras: ReportExtras {
            dif: Some(dif),
            ..ReportExtras::default()
        },
        ..ReportInputs::default()
    })
    .unwrap();
    (html, project)
}

/// The values of every `name="…"` / `name='…'` attribute.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let mut values = Vec::new();
    for quote in ['"', '\''] {
        let needle = format!(" {name}={quote}");
        let mut rest = html;
        while let Some(at) = rest.find(&needle) {
            rest = &rest[at + needle.len()..];
            let end = rest.find(quote).unwrap_or(rest.len());
            values.push(&rest[..end]);
        }
    }
    values
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_report_has_every_section_and_fetches_nothing() {
    let (html, project) = sample_report();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Sample &lt;report&gt;</title>"));
    for heading in [
        "Data and preparation",
        "Classical test analysis",
        "Distractor analysis",
        "Model and fit",
        "Item parameters",
        "Item curves, information and the Wright map",
        "Reliability",
        "Differential item functioning",
        "Project file",
    ] {
        assert!(html.contains(&format!(">{heading}</h2>")), "{heading}");
        // … and in the contents.
        assert!(
            html.contains(&format!("\">{heading}</a></li>")),
            "{heading}"
        );
    }
    // The steps with rows in → out.
    assert!(html.contains("<td>Score by key</td>"));
    assert!(html.contains("<td class=\"num\">600</td><td class=\"num\">400</td>"));
    // Real tables, with the numbers in cells.
    assert!(html.matches("<table>").count() >= 8);
    assert!(html.contains("<th>alpha if dropped</th>"));
    assert!(
        html.contains("<th>a_se</th>") || html.contains("<th>b_se</th>"),
        "no SE column"
    );
    assert!(html.contains("Cronbach&#39;s alpha"));
    assert!(html.contains("empirical reliability of θ"));
    assert!(html.contains("<td>Q01</td><td class=\"num\">1.234</td>"));
    // Inline SVG plots: total scores, distractors (20 items: all drawn), six IRT plots.
    let svgs = html.matches("<svg").count();
    assert!(svgs >= 1 + 20 + 6, "{svgs} plots");
    for title in [
        "Test information",
        "Test characteristic curve",
        "Wright map",
        "Total scores",
    ] {
        assert!(html.contains(title), "{title}");
    }
    // Nothing to run, nothing fetched: no scripts, frames, style sheets or fonts from outside;
    // every link an anchor in the page.
    let lower = html.to_ascii_lowercase();
    for element in [
        "<script", "<iframe", "<link", "<object", "<embed", "@import", "url(",
    ] {
        assert!(!lower.contains(element), "{element}");
    }
    assert!(attribute_values(&html, "src").is_empty());
    let hrefs = attribute_values(&html, "href");
    assert!(hrefs.len() >= 9);
    for href in hrefs {
        assert!(href.starts_with('#'), "{href}");
        let id = &href[1..];
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "{href} goes nowhere"
        );
    }
    // The embedded project file reads back as the same project.
    let start = html.find("<pre id=\"irtlab-project\">").unwrap() + 25;
    let end = start + html[start..].find("</pre>").unwrap();
    let embedded = Project::from_json(&unescape(&html[start..end])).unwrap();
    assert_eq!(embedded.steps, project.steps);
    assert_eq!(embedded.model, project.model);
}

fn text_of(dom: &str) -> String {
    // The visible text: tags dropped, entities read.
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(&text)
}

fn chromium_dom(file: &Path, profile: &Path) -> String {
    let output = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", file.display()),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn chromium_shows_the_report_of_irtlab_report() {
    let dir = tempfile::tempdir().unwrap();
    let project = assets().join("sample.irtlab.json");
    let out = dir.path().join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args([
            "report",
            project.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("Analysis report: sample"));
    if !Path::new("/usr/bin/chromium").exists() {
        println!(
            "skipped the browser check: /usr/bin/chromium is absent (Debian: apt-get install chromium)"
        );
        return;
    }
    let dom = chromium_dom(&out, &dir.path().join("profile"));
    let text = text_of(&dom);
    for expected in [
        "Analysis report: sample",
        "Data and preparation",
        "Score by key",
        "Classical test analysis",
        "Cronbach's alpha",
        "Distractor analysis",
        "Model and fit",
        "log-likelihood",
        "Item parameters",
        "Wright map",
        "Reliability",
        "Project file",
        "\"score_key\"",
    ] {
        assert!(text.contains(expected), "{expected} not in the page");
    }
    // The browser parsed the plots as SVG and the tables as tables.
    assert!(dom.matches("<svg").count() >= 27);
    assert!(dom.matches("<td").count() > 500);
}

#[test]
fn polytomous_items_get_category_curves_and_thresholds() {
    // Science (four Likert items, categories 1–4) under the graded model.
    let frame = irtlab::preparation::Source::for_file(&data_file("science.csv"))
        .unwrap()
        .load(None)
        .unwrap();
    let matrix = prediction::ResponseMatrix::from_dataframe(&frame, None, None).unwrap();
    let settings = prediction::FitSettings {
        model: prediction::ItemType::Graded,
        ..prediction::FitSettings::default()
    };
    let analysis = prediction::analyse(
        &matrix,
        &settings,
        ScoringMethod::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let classical = irtlab::prediction::classical::classical_analysis(
        &matrix,
        &irtlab::prediction::classical::ClassicalSettings::default(),
    )
    .unwrap();
    let html = render_report(&ReportInputs {
        title: "Science".into(),
        matrix: Some(&matrix),
        classical: Some(&classical),
        analysis: Some(&analysis),
        ..ReportInputs::default()
    })
    .unwrap();
    let names = matrix.item_names();
    assert_eq!(names.len(), 4);
    for name in names {
        assert!(
            html.contains(&format!("{name}: category response curves")),
            "{name}"
        );
        // The Wright map labels each of the three thresholds.
        for k in 1..=3 {
            assert!(html.contains(&format!(">{name}.{k}")), "{name}.{k}");
        }
    }
    assert!(html.contains("Expected item scores"));
    // Classical maxima are K − 1 = 3 per item, 12 for the test.
    assert!(html.contains("<td>maximum possible score</td><td class=\"num\">12</td>"));
}

#[test]
fn the_nominal_model_is_drawn_over_the_distractor_plots() {
    let path = assets().join("sample.irtlab.json");
    let project = Project::load(&path).unwrap();
    let prepared = project::prepare(&project, path.parent()).unwrap();
    let matrix = project::response_matrix(&project, &prepared).unwrap();
    let run = project::classical_run(&project, &prepared, &matrix, None).unwrap();
    let distractors = run.distractors.as_ref().unwrap();
    let input = run.distractor_input.as_ref().unwrap();
    let overlay = irtlab::prediction::distractors::fit_nominal_overlay(
        &input.answers,
        distractors,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    // The score groups' mean θ rise from the lowest group to the highest.
    let thetas: Vec<f64> = overlay.group_theta.iter().map(|t| t.unwrap()).collect();
    assert!(thetas.windows(2).all(|w| w[0] < w[1]), "{thetas:?}");
    let html = render_report(&ReportInputs {
        distractors: Some(distractors),
        nominal_overlay: Some(&overlay),
        ..ReportInputs::default()
    })
    .unwrap();
    assert!(html.contains("Solid curves: the nominal model"));
    // One fitted curve per option of each of the 20 plotted items.
    assert!(
        html.matches(": nominal model</text>").count() >= 20 * 4,
        "too few curves"
    );
}

#[test]
fn a_project_asking_for_fit_statistics_and_dif_gets_them_in_its_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        assets().join("sample.sqlite"),
        dir.path().join("sample.sqlite"),
    )
    .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(assets().join("sample.irtlab.json")).unwrap(),
    )
    .unwrap();
    json["diagnostics"] =
        serde_json::to_value(irtlab::prediction::diagnostics::DiagnosticsOptions::default())
            .unwrap();
    json["groups"] = serde_json::json!({"column": "gender"});
    json["dif"] = serde_json::to_value(irtlab::prediction::dif::DifSettings::default()).unwrap();
    let project = dir.path().join("sample.irtlab.json");
    std::fs::write(&project, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let out = dir.path().join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_irtlab"))
        .args([
            "report",
            project.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&out).unwrap();
    for expected in [
        "Model and item fit",
        "M2",
        "RMSEA",
        "Item fit",
        "Summed-score EAP table",
        "Differential item functioning",
        "Groups by gender",
        "Mantel–Haenszel",
    ] {
        assert!(html.contains(expected), "{expected} not in the report");
    }
    assert!(!html.contains("<script"));
}
