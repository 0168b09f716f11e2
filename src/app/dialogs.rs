//! File dialogs on every desktop. The system's dialog (rfd: a desktop portal on Linux, the
//! native one elsewhere) runs on a thread; when it cannot be shown — no portal on a minimal
//! window manager or a remote session, where rfd returns at once with nothing — irtlab opens its
//! own dialog instead and says so once. A setting uses irtlab's own dialog always.
//!
//! irtlab's own dialog is a window listing a folder (folders first, then the files the purpose
//! accepts), a folder path and a file name to edit, and Open/Save and Cancel; Enter accepts,
//! Escape cancels.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eframe::egui;

/// Why a file dialog was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// Open a data file.
    OpenDataset,
    /// Open a project.
    OpenProject,
    /// Save the project under a new name.
    SaveProjectAs,
    /// Choose where to export a table.
    Export,
    /// Load item parameters to enter.
    LoadParameters,
    /// Load item parameters to fix (anchors).
    LoadAnchors,
    /// Save the current plot as an image.
    SavePlot,
    /// Load an answer key (item, key) for the distractor analysis.
    LoadKey,
    /// Save the analysis as one HTML report.
    SaveReport,
    /// Save the table a stage shows (classical tables, distractors, DIF).
    SaveTable(super::stages::StageId),
}

impl DialogPurpose {
    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            DialogPurpose::OpenDataset => "Open a data file",
            DialogPurpose::OpenProject => "Open a project",
            DialogPurpose::SaveProjectAs => "Save the project as",
            DialogPurpose::Export => "Export to",
            DialogPurpose::LoadParameters => "Load item parameters",
            DialogPurpose::LoadAnchors => "Load the parameters of items to fix",
            DialogPurpose::SavePlot => "Save the plot as",
            DialogPurpose::LoadKey => "Load an answer key",
            DialogPurpose::SaveReport => "Save the report as",
            DialogPurpose::SaveTable(_) => "Save the table as",
        }
    }

    /// Whether it chooses a file to write.
    pub fn saves(self) -> bool {
        matches!(
            self,
            DialogPurpose::SaveProjectAs
                | DialogPurpose::Export
                | DialogPurpose::SavePlot
                | DialogPurpose::SaveReport
                | DialogPurpose::SaveTable(_)
        )
    }

    /// The file kinds it offers: a name and extensions.
    pub fn filters(self) -> Vec<(&'static str, Vec<&'static str>)> {
        match self {
            DialogPurpose::OpenDataset => vec![(
                "Data (CSV, SQLite, Parquet)",
                vec!["csv", "tsv", "txt", "sqlite", "sqlite3", "db", "parquet"],
            )],
            DialogPurpose::OpenProject | DialogPurpose::SaveProjectAs => {
                vec![("irtlab project", vec!["json"])]
            }
            DialogPurpose::LoadParameters | DialogPurpose::LoadAnchors | DialogPurpose::LoadKey => {
                vec![(
                    "Item parameters (CSV, Parquet, SQLite)",
                    vec!["csv", "parquet", "sqlite", "sqlite3", "db"],
                )]
            }
            DialogPurpose::Export | DialogPurpose::SaveTable(_) => vec![(
                "Tables (CSV, Parquet, SQLite)",
                vec!["csv", "parquet", "sqlite", "sqlite3", "db"],
            )],
            DialogPurpose::SavePlot => vec![("Images (PNG, SVG)", vec!["png", "svg"])],
            DialogPurpose::SaveReport => vec![("HTML report", vec!["html", "htm"])],
        }
    }
}

/// Runs the system's dialog (on a job thread). Returns the chosen path and how long the
/// dialog was up (a dialog that could not be shown returns at once).
pub fn native_dialog(
    purpose: DialogPurpose,
    start: Option<PathBuf>,
    file_name: String,
) -> (Option<PathBuf>, Duration) {
    let started = std::time::Instant::now();
    let mut dialog = rfd::FileDialog::new().set_title(purpose.title());
    if let Some(dir) = start {
        dialog = dialog.set_directory(dir);
    }
    for (name, extensions) in purpose.filters() {
        dialog = dialog.add_filter(name, &extensions);
    }
    if !purpose.saves() {
        dialog = dialog.add_filter("All files", &["*"]);
    }
    let path = if purpose.saves() {
        dialog.set_file_name(file_name).save_file()
    } else {
        dialog.pick_file()
    };
    (path, started.elapsed())
}

/// A dialog that returned nothing this quickly was not shown (no desktop portal).
pub const NOT_SHOWN: Duration = Duration::from_millis(250);

/// One entry of a folder listing.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    folder: bool,
}

/// irtlab's own file dialog.
pub struct FileDialog {
    /// What it is for.
    pub purpose: DialogPurpose,
    folder: PathBuf,
    folder_text: String,
    name: String,
    entries: Vec<Entry>,
    error: Option<String>,
    focus_name: bool,
}

/// What the dialog's frame ended with.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogOutcome {
    /// Still open.
    Open,
    /// A file was chosen.
    Chosen(PathBuf),
    /// Closed without a choice.
    Cancelled,
}

impl FileDialog {
    /// A dialog in `folder` (the current folder when `None`), proposing `file_name` when saving.
    pub fn new(purpose: DialogPurpose, folder: Option<PathBuf>, file_name: String) -> FileDialog {
        let folder = folder
            .filter(|f| f.is_dir())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        let mut dialog = FileDialog {
            purpose,
            folder_text: folder.display().to_string(),
            folder,
            name: if purpose.saves() {
                file_name
            } else {
                String::new()
            },
            entries: Vec::new(),
            error: None,
            focus_name: true,
        };
        dialog.list();
        dialog
    }

    fn list(&mut self) {
        let extensions: Vec<&str> = self
            .purpose
            .filters()
            .into_iter()
            .flat_map(|(_, e)| e)
            .collect();
        self.entries.clear();
        match std::fs::read_dir(&self.folder) {
            Ok(read) => {
                for entry in read.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') {
                        continue;
                    }
                    let folder = entry.path().is_dir();
                    let matches = extensions.iter().any(|e| {
                        Path::new(&name)
                            .extension()
                            .is_some_and(|x| x.eq_ignore_ascii_case(e))
                    });
                    if folder || matches {
                        self.entries.push(Entry { name, folder });
                    }
                }
                self.entries.sort_by(|a, b| {
                    b.folder
                        .cmp(&a.folder)
                        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                });
                self.error = None;
            }
            Err(e) => self.error = Some(format!("cannot list {}: {e}", self.folder.display())),
        }
        self.folder_text = self.folder.display().to_string();
    }

    fn go(&mut self, folder: PathBuf) {
        self.folder = folder;
        self.list();
    }

    fn accept(&mut self) -> Option<PathBuf> {
        let name = self.name.trim();
        if name.is_empty() {
            self.error = Some("type or choose a file name".into());
            return None;
        }
        let path = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            self.folder.join(name)
        };
        if path.is_dir() {
            self.go(path);
            self.name.clear();
            return None;
        }
        if !self.purpose.saves() && !path.is_file() {
            self.error = Some(format!("{} does not exist", path.display()));
            return None;
        }
        Some(path)
    }

    /// Draws the dialog.
    pub fn show(&mut self, ctx: &egui::Context) -> DialogOutcome {
        let mut outcome = DialogOutcome::Open;
        let mut open = true;
        egui::Window::new(self.purpose.title())
            .id(egui::Id::unique("irtlab file dialog"))
            .collapsible(false)
            .resizable(true)
            .default_size([560.0, 380.0])
            .open(&mut open)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("Folder");
                    let edit = ui
                        .add(egui::TextEdit::singleline(&mut self.folder_text).desired_width(360.0))
                        .labelled_by(label.id);
                    if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        let folder = PathBuf::from(self.folder_text.trim());
                        if folder.is_dir() {
                            self.go(folder);
                        } else {
                            self.error = Some(format!("{} is not a folder", folder.display()));
                        }
                    }
                    if ui
                        .button("⬆ Up")
                        .on_hover_text("The parent folder")
                        .clicked()
                        && let Some(parent) = self.folder.parent().map(Path::to_path_buf)
                    {
                        self.go(parent);
                    }
                });
                ui.separator();
                let mut go_to = None;
                let mut chosen = None;
                egui::ScrollArea::vertical()
                    .id_salt("file dialog entries")
                    .max_height(230.0)
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        if self.entries.is_empty() {
                            ui.weak("(no folders or matching files here)");
                        }
                        for entry in &self.entries {
                            let text = if entry.folder {
                                format!("{}/", entry.name)
                            } else {
                                format!("   {}", entry.name)
                            };
                            let selected = !entry.folder && self.name == entry.name;
                            let response = ui.selectable_label(selected, text);
                            if response.clicked() {
                                if entry.folder {
                                    go_to = Some(self.folder.join(&entry.name));
                                } else {
                                    self.name = entry.name.clone();
                                }
                            }
                            if response.double_clicked() && !entry.folder {
                                chosen = Some(entry.name.clone());
                            }
                        }
                    });
                if let Some(folder) = go_to {
                    self.go(folder);
                }
                ui.separator();
                ui.horizontal(|ui| {
                    let label = ui.label("File name");
                    let edit = ui
                        .add(egui::TextEdit::singleline(&mut self.name).desired_width(360.0))
                        .labelled_by(label.id);
                    if std::mem::take(&mut self.focus_name) {
                        edit.request_focus();
                    }
                    if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        chosen = Some(self.name.clone());
                    }
                });
                if let Some(error) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, error);
                }
                ui.horizontal(|ui| {
                    let verb = if self.purpose.saves() { "Save" } else { "Open" };
                    if ui.button(verb).clicked() {
                        chosen = Some(self.name.clone());
                    }
                    if ui.button("Cancel").clicked() {
                        outcome = DialogOutcome::Cancelled;
                    }
                });
                if let Some(name) = chosen {
                    self.name = name;
                    if let Some(path) = self.accept() {
                        outcome = DialogOutcome::Chosen(path);
                    }
                }
            });
        if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            outcome = DialogOutcome::Cancelled;
        }
        outcome
    }
}
