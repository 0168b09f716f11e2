//! Report sections of the analyses computed beside the calibration: model and item fit, local
//! dependence and reliability ([`crate::prediction::diagnostics`]), differential item
//! functioning ([`crate::prediction::dif`]) and model comparison. Each builds a
//! [`ReportSection`] for [`crate::report::ReportExtras`], from the same results the app shows
//! and the command line writes.

use crate::prediction::diagnostics::{Diagnostics, ModelComparison};
use crate::prediction::dif::DifReport;
use crate::report::{ReportSection, ReportTable};
use crate::text::{fixed, fixed_opt, p_value};

/// Model fit, item fit (flagged rows highlighted), flagged locally dependent pairs, reliability
/// with the conditional SEM plot and the summed-score table.
pub fn fit_section(d: &Diagnostics) -> ReportSection {
    let mut section = ReportSection::new("fit", "Model and item fit");
    let mut overall = ReportTable::new("Overall fit", &["statistic", "value"]);
    if let Some(m) = &d.model_fit {
        overall.rows.push(vec![
            m.statistic.name().to_string(),
            format!("{:.3} (df {}), p = {}", m.value, m.df, p_value(m.p)),
        ]);
        overall.rows.push(vec![
            "RMSEA [90 % CI]".into(),
            format!(
                "{:.4} [{:.4}, {:.4}]",
                m.rmsea, m.rmsea_ci[0], m.rmsea_ci[1]
            ),
        ]);
        overall
            .rows
            .push(vec!["SRMSR".into(), fixed_opt(m.srmsr, 4)]);
        overall.rows.push(vec!["CFI".into(), fixed_opt(m.cfi, 4)]);
        overall.rows.push(vec!["TLI".into(), fixed_opt(m.tli, 4)]);
    }
    if let Some(g) = &d.full_information {
        overall.rows.push(vec![
            "G² (full information)".into(),
            format!(
                "{:.3} (df {}), p = {}; RMSEA {:.4}, CFI {:.4}, TLI {:.4}",
                g.g2,
                g.df,
                p_value(g.p),
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
                fixed_opt(r.sum_score, 4)
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
            s.map_or("–".into(), |t| fixed(t.value, 3)),
            s.map_or("–".into(), |t| fixed(t.df, 0)),
            s.map_or("–".into(), |t| p_value(t.p)),
            s.map_or("–".into(), |t| p_value(t.p_adjusted)),
            s.map_or("–".into(), |t| fixed(t.rmsea, 4)),
            fixed(row.zh, 3),
            fixed(row.infit, 3),
            fixed(row.infit_t, 2),
            fixed(row.outfit, 3),
            fixed(row.outfit_t, 2),
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
                    fixed(p.q3, 3),
                    fixed(p.q3_star, 3),
                    fixed(p.ld_x2, 2),
                    p_value(p.ld_p),
                    fixed(p.cramers_v, 3),
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
                    fixed(row.theta, 4),
                    fixed(row.theta_se, 4),
                    fixed(row.observed, 0),
                    fixed(row.expected, 2),
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
            fixed(row.statistic, 3),
            fixed(row.df, 0),
            p_value(row.p),
            p_value(row.p_adjusted),
            format!("{} {}", row.effect_name, fixed(row.effect, 3)),
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
            fixed(m.log_likelihood, 3),
            m.parameters.to_string(),
            fixed(m.aic, 2),
            fixed(m.aicc, 2),
            fixed(m.bic, 2),
            fixed(m.sabic, 2),
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
                fixed(t.chi_square, 3),
                fixed(t.df, 0),
                p_value(t.p),
            ]);
        }
        section.tables.push(tests);
    }
    section
}
