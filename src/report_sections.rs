//! Report sections of the analyses computed beside the calibration: model and item fit, local
//! dependence and reliability ([`crate::prediction::diagnostics`]), differential item
//! functioning ([`crate::prediction::dif`]) and model comparison. Each builds a
//! [`ReportSection`] for [`crate::report::ReportExtras`], from the same results the app shows
//! and the command line writes.

use crate::prediction::diagnostics::{Diagnostics, ModelComparison};
use crate::prediction::dif::DifReport;
use crate::report::{ReportSection, ReportTable};

fn num(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "–".into()
    }
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or("–".into(), |x| num(x, decimals))
}

fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 0.0001 {
        "< .0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// Model fit, item fit (flagged rows highlighted), flagged locally dependent pairs, reliability
/// with the conditional SEM plot and the summed-score table.
pub fn fit_section(d: &Diagnostics) -> ReportSection {
    let mut section = ReportSection::new("fit", "Model and item fit");
    let mut overall = ReportTable::new("Overall fit", &["statistic", "value"]);
    if let Some(m) = &d.model_fit {
        overall.rows.push(vec![
            m.statistic.name().to_string(),
            format!("{:.3} (df {}), p = {}", m.value, m.df, p_text(m.p)),
        ]);
        overall.rows.push(vec![
            "RMSEA [90 % CI]".into(),
            format!(
                "{:.4} [{:.4}, {:.4}]",
                m.rmsea, m.rmsea_ci[0], m.rmsea_ci[1]
            ),
        ]);
        overall.rows.push(vec!["SRMSR".into(), opt(m.srmsr, 4)]);
        overall.rows.push(vec!["CFI".into(), opt(m.cfi, 4)]);
        overall.rows.push(vec!["TLI".into(), opt(m.tli, 4)]);
    }
    if let Some(g) = &d.full_information {
        overall.rows.push(vec![
            "G² (full information)".into(),
            format!(
                "{:.3} (df {}), p = {}; RMSEA {:.4}, CFI {:.4}, TLI {:.4}",
                g.g2,
                g.df,
                p_text(g.p),
                g.rmsea,
                g.cfi,
                g.tli
            ),
        ]);
    }
    let ic = &d.information_criteria;
    overall.rows.push(vec![
        "log-likelihood".into(),
        format!("{:.3} ({} parameters)", ic.log_likelihood, ic.parameters),
    ]);
    overall.rows.push(vec![
        "AIC / AICc".into(),
        format!("{:.2} / {:.2}", ic.aic, ic.aicc),
    ]);
    overall.rows.push(vec![
        "BIC / SABIC".into(),
        format!("{:.2} / {:.2}", ic.bic, ic.sabic),
    ]);
    if let Some(r) = &d.reliability {
        overall.rows.push(vec![
            "reliability: marginal / empirical / sum-score".into(),
            format!(
                "{:.4} / {:.4} / {}",
                r.marginal,
                r.empirical,
                opt(r.sum_score, 4)
            ),
        ]);
    }
    section.tables.push(overall);

    let mut items = ReportTable::new(
        format!(
            "Item fit (p adjusted: {}; highlighted: flagged)",
            d.options.p_adjust.label()
        ),
        &[
            "item", "n", "S-X²", "df", "p", "p adj.", "RMSEA", "Zh", "infit", "infit t", "outfit",
            "outfit t",
        ],
    );
    for (index, row) in d.item_fit.iter().enumerate() {
        let s = row.s_x2.as_ref();
        items.rows.push(vec![
            row.item.clone(),
            row.persons.to_string(),
            s.map_or("–".into(), |t| num(t.value, 3)),
            s.map_or("–".into(), |t| num(t.df, 0)),
            s.map_or("–".into(), |t| p_text(t.p)),
            s.map_or("–".into(), |t| p_text(t.p_adjusted)),
            s.map_or("–".into(), |t| num(t.rmsea, 4)),
            num(row.zh, 3),
            num(row.infit, 3),
            num(row.infit_t, 2),
            num(row.outfit, 3),
            num(row.outfit_t, 2),
        ]);
        if row.flagged {
            items.highlighted.push(index);
        }
    }
    section.tables.push(items);
    if let Some(ld) = &d.local_dependence {
        section.paragraphs.push(format!(
            "Local dependence: mean Q3 {:.3}; {} pair(s) more than {:.2} above it.",
            ld.q3_mean,
            ld.flagged.len(),
            ld.threshold
        ));
        if !ld.flagged.is_empty() {
            let mut pairs = ReportTable::new(
                "Flagged pairs",
                &["item 1", "item 2", "Q3", "Q3*", "LD χ²", "p", "Cramér's V"],
            );
            for p in &ld.flagged {
                pairs.rows.push(vec![
                    p.item1.clone(),
                    p.item2.clone(),
                    num(p.q3, 3),
                    num(p.q3_star, 3),
                    num(p.ld_x2, 2),
                    p_text(p.ld_p),
                    num(p.cramers_v, 3),
                ]);
            }
            section.tables.push(pairs);
        }
    }
    if let Some(r) = &d.reliability {
        section.plots.push(crate::plots::conditional_sem_plot(r));
        if !r.sum_score_table.is_empty() {
            let mut table = ReportTable::new(
                "Summed-score EAP table",
                &["sum score", "θ", "SE", "observed", "expected"],
            );
            for row in &r.sum_score_table {
                table.rows.push(vec![
                    row.sum_score.to_string(),
                    num(row.theta, 4),
                    num(row.theta_se, 4),
                    num(row.observed, 0),
                    num(row.expected, 2),
                ]);
            }
            section.tables.push(table);
        }
    }
    for note in &d.notes {
        section
            .paragraphs
            .push(format!("{}: {}", note.statistic, note.message));
    }
    section
}

/// The DIF table (flagged rows highlighted) with the groups compared.
pub fn dif_section(report: &DifReport) -> ReportSection {
    let mut section = ReportSection::new("dif", "Differential item functioning");
    let g = &report.groups;
    section.paragraphs.push(format!(
        "Groups by {}: reference {} ({} persons), focal {} ({} persons); {} left out with a \
         missing group. Anchors: {}. p-values adjusted by {}.",
        g.column,
        g.reference,
        g.n_reference,
        g.focal,
        g.n_focal,
        g.n_missing,
        match &report.settings.anchors {
            crate::prediction::dif::Anchors::AllOthers { purify: true } => {
                "all other items, purified".to_string()
            }
            crate::prediction::dif::Anchors::AllOthers { purify: false } => {
                "all other items".to_string()
            }
            crate::prediction::dif::Anchors::Items { items } => items.join(", "),
        },
        report.settings.p_adjust.label()
    ));
    let flagged = report.flagged_items();
    section.paragraphs.push(if flagged.is_empty() {
        "No item flagged.".to_string()
    } else {
        format!("Flagged: {}.", flagged.join(", "))
    });
    let mut table = ReportTable::new(
        "DIF statistics",
        &[
            "item",
            "method",
            "statistic",
            "df",
            "p",
            "p adj.",
            "effect",
            "class",
        ],
    );
    for (index, row) in report.rows.iter().enumerate() {
        table.rows.push(vec![
            row.item.clone(),
            row.method.label().to_string(),
            num(row.statistic, 3),
            num(row.df, 0),
            p_text(row.p),
            p_text(row.p_adjusted),
            format!("{} {}", row.effect_name, num(row.effect, 3)),
            row.class.clone(),
        ]);
        if row.flagged {
            table.highlighted.push(index);
        }
    }
    section.tables.push(table);
    section
}

/// The models compared, with the likelihood-ratio tests of nested pairs.
pub fn comparison_section(comparison: &ModelComparison) -> ReportSection {
    let mut section = ReportSection::new("comparison", "Model comparison");
    let mut models = ReportTable::new(
        "Models",
        &[
            "model",
            "data",
            "persons",
            "log-likelihood",
            "parameters",
            "AIC",
            "AICc",
            "BIC",
            "SABIC",
        ],
    );
    for m in &comparison.models {
        models.rows.push(vec![
            m.label.clone(),
            m.data.clone(),
            m.persons.to_string(),
            num(m.log_likelihood, 3),
            m.parameters.to_string(),
            num(m.aic, 2),
            num(m.aicc, 2),
            num(m.bic, 2),
            num(m.sabic, 2),
        ]);
    }
    section.tables.push(models);
    if !comparison.tests.is_empty() {
        let mut tests = ReportTable::new(
            "Likelihood-ratio tests",
            &["restricted", "general", "χ²", "df", "p"],
        );
        for t in &comparison.tests {
            tests.rows.push(vec![
                comparison.models[t.restricted].label.clone(),
                comparison.models[t.general].label.clone(),
                num(t.chi_square, 3),
                num(t.df, 0),
                p_text(t.p),
            ]);
        }
        section.tables.push(tests);
    }
    section
}
