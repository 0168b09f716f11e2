//! The Classical stage: the item and test statistics every analysis starts with (difficulty,
//! SD, item–total and item–rest correlations, upper–lower index, α if dropped, % missing and
//! not reached; α with Feldt's interval, split halves, SEM, the total-score histogram), and the
//! distractor analysis of the unscored answers (the input of the project's key-scoring step, or
//! a loaded key table), flagged items first, each with its options across score groups. The
//! computations are the library's ([`crate::prediction::classical`],
//! [`crate::prediction::distractors`], [`crate::project::classical_run`]); they run in the
//! background whenever the data change while the stage is shown.

use std::path::Path;
use std::sync::Arc;

use eframe::egui;

use super::plots::draw_plot;
use super::{AppEvent, Level, StageContext, StageId, StagePart, StageStatus, fill_height};
use crate::app::JobOutput;
use crate::app::commands::Command;
use crate::app::dialogs::DialogPurpose;
use crate::app::jobs::{JobError, JobKind, JobQueue};
use crate::app::state::{AppState, Inputs};
use crate::app::table_view::{TableSpec, table_ui};
use crate::prediction::distractors::key_from_table;
use crate::preprocessing::KeyEntry;
use crate::project::{ClassicalRun, Prepared, classical_run};

const KIND: JobKind = JobKind::Stage(StageId::Classical);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Items,
    Test,
    Distractors,
}

/// The Classical stage's part.
#[derive(Default)]
pub struct Classical {
    run: Option<(Arc<ClassicalRun>, u64)>,
    error: Option<String>,
    tab: Option<Tab>,
    sort: Option<(usize, bool)>,
    selected: Option<String>,
    /// A key table loaded for data without a key-scoring step.
    key: Option<(String, Vec<KeyEntry>)>,
    /// The data inputs of the last computation started (so it starts once per change).
    started: Option<u64>,
}

/// The project's preparation as the library's [`Prepared`], from the app's state.
pub fn prepared_of(state: &AppState) -> Option<Prepared> {
    let processed = state.data.processed.as_ref()?;
    let layout = processed.layout.as_ref().ok()?.clone();
    let pipeline = processed.pipeline.as_ref()?.clone();
    let loaded_shape = state
        .data
        .loaded
        .as_ref()
        .map(|l| (l.frame.height(), l.frame.width()))
        .unwrap_or((0, 0));
    Some(Prepared {
        loaded_shape,
        layout,
        pipeline,
    })
}

impl Classical {
    /// The last classical run, with the data inputs it used.
    pub fn run(&self) -> Option<(Arc<ClassicalRun>, u64)> {
        self.run.clone()
    }

    fn start(&mut self, ctx: &mut StageContext<'_>) {
        let data = ctx.inputs.data;
        self.started = Some(data);
        let (Some(prepared), Some(matrix)) = (prepared_of(ctx.state), ctx.state.data.matrix())
        else {
            return;
        };
        let matrix = matrix.clone();
        let project = ctx.state.document.project.clone();
        let key = self.key.as_ref().map(|(_, k)| k.clone());
        ctx.jobs
            .replace(KIND, "Classical analysis", move |sink, _cancel| {
                sink.report(0.2, "item and test statistics, distractors".into());
                let run = classical_run(&project, &prepared, &matrix, key.as_deref())
                    .map_err(|e| JobError::Failed(format!("Classical analysis: {e}")))?;
                Ok(JobOutput::Stage(
                    StageId::Classical,
                    Box::new((Arc::new(run), data)),
                ))
            });
    }

    fn items_ui(&mut self, ui: &mut egui::Ui, run: &ClassicalRun) {
        let items = &run.classical.items;
        let headers: Vec<String> = [
            "item",
            "n",
            "max",
            "mean",
            "difficulty",
            "SD",
            "RIT",
            "RIR",
            "ULI",
            "α if dropped",
            "% missing",
            "% not reached",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let key = |i: usize, column: usize| -> f64 {
            let it = &items[i];
            let o = |x: Option<f64>| x.unwrap_or(f64::NAN);
            match column {
                4 => o(it.difficulty),
                5 => o(it.sd),
                6 => o(it.rit),
                7 => o(it.rir),
                8 => o(it.uli),
                9 => o(it.alpha_if_dropped),
                10 => it.missing_percent,
                11 => it.not_reached_percent,
                _ => i as f64,
            }
        };
        let mut order: Vec<usize> = (0..items.len()).collect();
        if let Some((column, descending)) = self.sort {
            order.sort_by(|&x, &y| key(x, column).total_cmp(&key(y, column)));
            if descending {
                order.reverse();
            }
        }
        let cell = |r: usize, column: usize| -> String {
            let it = &items[order[r]];
            let o = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.3}"));
            match column {
                0 => it.item.clone(),
                1 => it.n_answered.to_string(),
                2 => it.max_score.to_string(),
                3 => o(it.mean),
                4 => o(it.difficulty),
                5 => o(it.sd),
                6 => o(it.rit),
                7 => o(it.rir),
                8 => o(it.uli),
                9 => o(it.alpha_if_dropped),
                10 => format!("{:.1}", it.missing_percent),
                _ => format!("{:.1}", it.not_reached_percent),
            }
        };
        // An item whose removal raises α, or that correlates negatively with the rest.
        let alpha = run.classical.test.alpha;
        let warn = ui.visuals().warn_fg_color.gamma_multiply(0.25);
        let row_color = |r: usize| {
            let it = &items[order[r]];
            let raises =
                matches!((it.alpha_if_dropped, alpha), (Some(d), Some(a)) if d > a + 0.005);
            let negative = it.rir.is_some_and(|r| r < 0.0);
            (raises || negative).then_some(warn)
        };
        let response = table_ui(
            ui,
            TableSpec {
                id: "classical items",
                headers,
                subheaders: Vec::new(),
                rows: order.len(),
                cell: &cell,
                row_color: Some(&row_color),
                highlight: &[],
                sortable: Some(&[0, 4, 5, 6, 7, 8, 9, 10, 11]),
                sort: self.sort,
                row_numbers: false,
                max_height: fill_height(ui, 200.0) - 60.0,
            },
        );
        if let Some(column) = response.sort_clicked {
            self.sort = match self.sort {
                Some((c, false)) if c == column => Some((column, true)),
                Some((c, true)) if c == column && column == 0 => None,
                _ => Some((column, false)),
            };
        }
        ui.weak(
            "Shaded: the item–rest correlation is negative, or α rises without the item. ULI \
             compares the top and bottom of the total-score groups.",
        );
        basis_ui(ui, run);
    }

    fn test_ui(&self, ui: &mut egui::Ui, run: &ClassicalRun) {
        let c = &run.classical;
        egui::Grid::new("classical test")
            .num_columns(3)
            .striped(true)
            .spacing([18.0, 3.0])
            .show(ui, |ui| {
                ui.strong("statistic");
                ui.strong("value");
                ui.strong("persons");
                ui.end_row();
                for (name, value, persons) in c.test_rows() {
                    ui.label(name);
                    ui.monospace(value.map_or("–".into(), |v| {
                        if v.fract() == 0.0 && v.abs() < 1e9 {
                            format!("{v:.0}")
                        } else {
                            format!("{v:.4}")
                        }
                    }));
                    ui.monospace(crate::text::count(persons));
                    ui.end_row();
                }
            });
        let plot =
            crate::plots::total_score_histogram(&c.test.total_distribution, c.test.max_total);
        draw_plot(
            ui,
            "total score histogram",
            &plot,
            fill_height(ui, 200.0).min(320.0),
        );
        basis_ui(ui, run);
    }

    fn distractors_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut StageContext<'_>,
        run: &ClassicalRun,
    ) {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Load key table…")
                .on_hover_text(
                    "A table of item,key rows (or one row with a key per item column) for data \
                     without a Score by key step",
                )
                .clicked()
            {
                ctx.send(Command::Dialog(DialogPurpose::LoadKey));
            }
            if let Some((name, _)) = &self.key {
                ui.label(format!("key: {name}"));
                if ui
                    .small_button("✕")
                    .on_hover_text("Forget the key table")
                    .clicked()
                {
                    self.key = None;
                    self.started = None;
                }
            }
        });
        let (Some(analysis), Some(input)) = (&run.distractors, &run.distractor_input) else {
            ui.label(
                "No key: the distractor analysis needs the unscored answers and their key. Add a \
                 Score by key step in Preprocessing, or load a key table.",
            );
            return;
        };
        ui.label(format!(
            "{} persons, answers from {}; total-score groups: {}",
            crate::text::count(analysis.n_persons),
            input.describe(&ctx.state.document.project),
            analysis.group_labels().join(", ")
        ));
        let items = analysis.items_flagged_first();
        let cell = |r: usize, column: usize| -> String {
            let it = items[r];
            match column {
                0 => it.item.clone(),
                1 => it.key.clone(),
                2 => format!("{:.3}", it.proportion_correct),
                3 => it
                    .key_option()
                    .and_then(|k| k.point_biserial)
                    .map_or("–".into(), |r| format!("{r:.3}")),
                _ => it.flags_text(),
            }
        };
        let warn = ui.visuals().warn_fg_color.gamma_multiply(0.25);
        let row_color = |r: usize| (!items[r].flags.is_empty()).then_some(warn);
        let response = table_ui(
            ui,
            TableSpec {
                id: "distractor items",
                headers: ["item", "key", "p correct", "key r (rest)", "flags"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                subheaders: Vec::new(),
                rows: items.len(),
                cell: &cell,
                row_color: Some(&row_color),
                highlight: &[],
                sortable: None,
                sort: None,
                row_numbers: false,
                max_height: 200.0,
            },
        );
        if let Some(r) = response.row_clicked {
            self.selected = Some(items[r].item.clone());
        }
        let selected = self
            .selected
            .as_deref()
            .and_then(|name| items.iter().find(|i| i.item == name))
            .or(items.first());
        let Some(item) = selected else {
            return;
        };
        let labels = analysis.group_labels();
        let options = &item.options;
        ui.strong(format!("{}: options by total-score group", item.item));
        let cell = |r: usize, column: usize| -> String {
            let o = &options[r];
            match column {
                0 => format!("{}{}", o.option, if o.is_key { " (key)" } else { "" }),
                1 => o.count.to_string(),
                2 => format!("{:.3}", o.proportion),
                3 => o.point_biserial.map_or("–".into(), |r| format!("{r:.3}")),
                c => o
                    .group_proportions
                    .get(c - 4)
                    .copied()
                    .flatten()
                    .map_or("–".into(), |p| format!("{p:.3}")),
            }
        };
        let mut headers: Vec<String> = ["option", "n", "proportion", "r (rest)"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        headers.extend(labels.iter().cloned());
        table_ui(
            ui,
            TableSpec {
                id: "distractor options",
                headers,
                subheaders: Vec::new(),
                rows: options.len(),
                cell: &cell,
                row_color: None,
                highlight: &[],
                sortable: None,
                sort: None,
                row_numbers: false,
                max_height: 150.0,
            },
        );
        let plot = crate::plots::distractor_plot(item, &labels, None);
        draw_plot(
            ui,
            "distractor plot",
            &plot,
            fill_height(ui, 200.0).min(320.0),
        );
        ui.weak(
            crate::prediction::distractors::DistractorFlag::ALL
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.describe()))
                .collect::<Vec<_>>()
                .join(" · "),
        );
    }
}

fn basis_ui(ui: &mut egui::Ui, run: &ClassicalRun) {
    for basis in &run.classical.basis {
        ui.weak(format!(
            "{}: {} persons ({})",
            basis.statistic,
            crate::text::count(basis.persons),
            basis.rule
        ));
    }
}

impl StagePart for Classical {
    fn id(&self) -> StageId {
        StageId::Classical
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn status(&self, state: &AppState, jobs: &JobQueue<JobOutput>, inputs: Inputs) -> StageStatus {
        if jobs.running(KIND) {
            return StageStatus::at(Level::Busy, "computing…");
        }
        if self.error.is_some() {
            return StageStatus::at(Level::Error, "failed");
        }
        match &self.run {
            None if state.data.matrix().is_some() => StageStatus::normal("open to compute"),
            None => StageStatus::normal("needs data"),
            Some((_, data)) if *data != inputs.data => {
                StageStatus::at(Level::Warning, "out of date")
            }
            Some((run, _)) => StageStatus::normal(match run.classical.test.alpha {
                Some(a) => format!("α = {a:.3}"),
                None => "α not defined".into(),
            }),
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StageContext<'_>) {
        ui.heading("Classical analysis");
        if ctx.state.data.matrix().is_none() {
            ui.label("The response matrix is not ready: open data and check Preprocessing.");
            return;
        }
        let running = ctx.jobs.running(KIND);
        if !running && self.started != Some(ctx.inputs.data) {
            self.start(ctx);
        }
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let Some((run, data)) = self.run.clone() else {
            ui.label("Computing…");
            return;
        };
        if data != ctx.inputs.data {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "⚠ out of date: the data changed; recomputing…",
            );
        }
        let tab = self.tab.unwrap_or(
            if run
                .distractors
                .as_ref()
                .is_some_and(|d| d.items.iter().any(|i| !i.flags.is_empty()))
            {
                Tab::Distractors
            } else {
                Tab::Items
            },
        );
        let mut chosen = tab;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut chosen, Tab::Items, "Items");
            ui.selectable_value(&mut chosen, Tab::Test, "Test");
            ui.selectable_value(&mut chosen, Tab::Distractors, "Distractors");
            ui.separator();
            let has_table = chosen != Tab::Distractors || run.distractors.is_some();
            if ui
                .add_enabled(has_table, egui::Button::new("Save table…"))
                .on_hover_text("Write this tab's table to CSV, Parquet or a SQLite table")
                .clicked()
            {
                ctx.send(Command::Dialog(DialogPurpose::SaveTable(
                    StageId::Classical,
                )));
            }
        });
        if chosen != tab {
            self.tab = Some(chosen);
        }
        ui.add_space(4.0);
        match chosen {
            Tab::Items => self.items_ui(ui, &run),
            Tab::Test => self.test_ui(ui, &run),
            Tab::Distractors => self.distractors_ui(ui, ctx, &run),
        }
    }

    fn finished(&mut self, output: Box<dyn std::any::Any + Send>, _ctx: &mut StageContext<'_>) {
        if let Ok(run) = output.downcast::<(Arc<ClassicalRun>, u64)>() {
            self.error = None;
            self.run = Some(*run);
        }
    }

    fn failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    fn on_event(&mut self, event: &AppEvent, ctx: &mut StageContext<'_>) {
        if matches!(event, AppEvent::Opened) {
            *self = Classical::default();
            ctx.jobs.cancel(KIND);
        }
    }

    fn file_name(&self, purpose: DialogPurpose) -> Option<String> {
        (purpose == DialogPurpose::SaveTable(StageId::Classical)).then(|| {
            match self.tab.unwrap_or(Tab::Items) {
                Tab::Items => "ctt.csv",
                Tab::Test => "ctt_test.csv",
                Tab::Distractors => "distractors.csv",
            }
            .to_string()
        })
    }

    fn picked(&mut self, purpose: DialogPurpose, path: &Path, ctx: &mut StageContext<'_>) -> bool {
        if purpose == DialogPurpose::SaveTable(StageId::Classical) {
            let Some((run, _)) = &self.run else {
                return true;
            };
            let (name, frame) = match self.tab.unwrap_or(Tab::Items) {
                Tab::Items => ("ctt", run.classical.items_table()),
                Tab::Test => ("ctt_test", run.classical.test_table()),
                Tab::Distractors => match &run.distractors {
                    Some(d) => ("distractors", d.table()),
                    None => return true,
                },
            };
            match frame {
                Ok(frame) => super::save_table(ctx, path, name, frame),
                Err(e) => ctx.send(Command::Notify(e.to_string(), true)),
            }
            return true;
        }
        if purpose != DialogPurpose::LoadKey {
            return false;
        }
        let loaded = crate::preparation::Source::for_file(path)
            .and_then(|source| source.load(None))
            .map_err(|e| e.to_string())
            .and_then(|frame| key_from_table(&frame).map_err(|e| e.to_string()));
        match loaded {
            Ok(key) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                ctx.send(Command::Notify(
                    format!("Key table {name}: {} items", key.len()),
                    false,
                ));
                self.key = Some((name, key));
                self.started = None;
                self.tab = Some(Tab::Distractors);
            }
            Err(e) => ctx.send(Command::Notify(
                format!("The key table could not be read: {e}"),
                true,
            )),
        }
        true
    }
}
