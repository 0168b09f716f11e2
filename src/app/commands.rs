//! Everything the app can be asked to do, as commands: one registry gives each user-facing
//! command its label, shortcut, menu and tooltip, so that menus, keyboard shortcuts and the Help
//! window are drawn from the same list and cannot disagree. Panels and menus send commands to a
//! queue; the app applies them once per frame, after drawing (rerun's `command_sender.rs`,
//! egui_demo_app's `wrap_app.rs`).

use std::path::PathBuf;

use eframe::egui::{Key, KeyboardShortcut, Modifiers};

use super::dialogs::DialogPurpose;
use super::jobs::JobKind;
use super::stages::StageId;

/// A command, with what it needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A registry command (menu item or shortcut).
    Run(CommandId),
    /// Open a data or project file.
    Open(PathBuf),
    /// Open a file dialog for a purpose.
    Dialog(DialogPurpose),
    /// A file was chosen in a dialog.
    Picked(DialogPurpose, PathBuf),
    /// Show a stage.
    Show(StageId),
    /// Cancel the running job of this kind.
    Cancel(JobKind),
    /// The source changed (file, options, table, query): load it again.
    ReloadSource,
    /// Layout, steps or response columns changed: rerun layout and steps.
    Reprocess,
    /// The project was edited (the edit is already in the document).
    Edited(Edit),
    /// Score persons with the entered parameters.
    ScoreEntered,
    /// Use these parameters as entered parameters.
    UseParameters(Vec<crate::prediction::ItemParameters>, f64),
    /// A short message in the status bar (and a toast for errors).
    Notify(String, bool),
    /// Put text on the clipboard (a copied table).
    Copy(String),
}

/// What kind of project edit happened (so the app knows what to redo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The source (file options, table, query).
    Source,
    /// The layout, step settings or response columns.
    Data,
    /// Steps added, removed or moved: always an undo point of its own.
    Steps,
    /// Model or scoring settings.
    Model,
}

/// The commands of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommandId {
    /// Open a dataset.
    OpenDataset,
    /// Open a project.
    OpenProject,
    /// Open the bundled sample project.
    OpenSample,
    /// Save the project.
    Save,
    /// Save the project under a new name.
    SaveAs,
    /// Export the table chosen on the Export panel.
    Export,
    /// Write the whole analysis as one HTML report.
    ExportReport,
    /// Quit.
    Quit,
    /// Undo a project edit.
    Undo,
    /// Redo a project edit.
    Redo,
    /// Fit the model.
    Fit,
    /// Show the light theme.
    LightTheme,
    /// Show the dark theme.
    DarkTheme,
    /// Show the frame time in the status bar.
    FrameTime,
    /// Always use irtlab's own file dialog.
    BuiltinDialog,
    /// Refit whenever small data change.
    LiveRefit,
    /// Show the keyboard shortcuts.
    Shortcuts,
    /// Show the About window.
    About,
}

/// Where a command appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Menu {
    /// File.
    File,
    /// Edit.
    Edit,
    /// Analysis.
    Analysis,
    /// View.
    View,
    /// Help.
    Help,
}

impl Menu {
    /// Menus in the menu bar's order.
    pub const ALL: [Menu; 5] = [
        Menu::File,
        Menu::Edit,
        Menu::Analysis,
        Menu::View,
        Menu::Help,
    ];

    /// The menu's title.
    pub fn label(self) -> &'static str {
        match self {
            Menu::File => "File",
            Menu::Edit => "Edit",
            Menu::Analysis => "Analysis",
            Menu::View => "View",
            Menu::Help => "Help",
        }
    }
}

/// A registry entry.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Which command.
    pub id: CommandId,
    /// Its label in menus and the Help window.
    pub label: &'static str,
    /// Its keyboard shortcut.
    pub shortcut: Option<KeyboardShortcut>,
    /// Its menu.
    pub menu: Menu,
    /// A sentence for the tooltip.
    pub tooltip: &'static str,
    /// A separator goes before it in its menu.
    pub separated: bool,
    /// A checkbox in its menu (a setting) rather than an action.
    pub toggle: bool,
}

const fn shortcut(modifiers: Modifiers, key: Key) -> Option<KeyboardShortcut> {
    Some(KeyboardShortcut::new(modifiers, key))
}

const COMMAND_SHIFT: Modifiers = Modifiers {
    alt: false,
    ctrl: false,
    shift: true,
    mac_cmd: false,
    command: true,
};

/// The registry: every user-facing command once.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        id: CommandId::OpenDataset,
        label: "Open dataset…",
        shortcut: shortcut(Modifiers::COMMAND, Key::O),
        menu: Menu::File,
        tooltip: "Open a CSV, SQLite or Parquet file",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::OpenProject,
        label: "Open project…",
        shortcut: None,
        menu: Menu::File,
        tooltip: "Open a saved *.irtlab.json project",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::OpenSample,
        label: "Open the sample project",
        shortcut: None,
        menu: Menu::File,
        tooltip: "The bundled school database, prepared and fitted",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Save,
        label: "Save project",
        shortcut: shortcut(Modifiers::COMMAND, Key::S),
        menu: Menu::File,
        tooltip: "Save the project (asks for a file the first time)",
        separated: true,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::SaveAs,
        label: "Save project as…",
        shortcut: shortcut(COMMAND_SHIFT, Key::S),
        menu: Menu::File,
        tooltip: "Save the project under a new name",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Export,
        label: "Export…",
        shortcut: shortcut(Modifiers::COMMAND, Key::E),
        menu: Menu::File,
        tooltip: "Write the table chosen on the Export panel to a file",
        separated: true,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::ExportReport,
        label: "Export report…",
        shortcut: shortcut(COMMAND_SHIFT, Key::E),
        menu: Menu::File,
        tooltip: "Write the analysis — data, steps, classical tables, model, fit, DIF, curves, \
                  the project itself — as one self-contained HTML file",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Quit,
        label: "Quit",
        shortcut: shortcut(Modifiers::COMMAND, Key::Q),
        menu: Menu::File,
        tooltip: "Close irtlab",
        separated: true,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Undo,
        label: "Undo",
        shortcut: shortcut(Modifiers::COMMAND, Key::Z),
        menu: Menu::Edit,
        tooltip: "Undo the last change to the project",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Redo,
        label: "Redo",
        shortcut: shortcut(COMMAND_SHIFT, Key::Z),
        menu: Menu::Edit,
        tooltip: "Redo the change undone last",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::Fit,
        label: "Fit model",
        shortcut: shortcut(Modifiers::COMMAND, Key::Enter),
        menu: Menu::Analysis,
        tooltip: "Calibrate the model on the prepared data (in the SQL editor, Ctrl+Enter runs the query)",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::LiveRefit,
        label: "Refit as the data change",
        shortcut: None,
        menu: Menu::Analysis,
        tooltip: "For data up to 200,000 responses, refit in the background whenever a step or setting changes",
        separated: false,
        toggle: true,
    },
    CommandSpec {
        id: CommandId::LightTheme,
        label: "Light theme",
        shortcut: None,
        menu: Menu::View,
        tooltip: "Dark text on a light background",
        separated: false,
        toggle: true,
    },
    CommandSpec {
        id: CommandId::DarkTheme,
        label: "Dark theme",
        shortcut: None,
        menu: Menu::View,
        tooltip: "Light text on a dark background",
        separated: false,
        toggle: true,
    },
    CommandSpec {
        id: CommandId::BuiltinDialog,
        label: "Use irtlab's own file dialog",
        shortcut: None,
        menu: Menu::View,
        tooltip: "Instead of the system's (which needs a desktop portal on Linux)",
        separated: true,
        toggle: true,
    },
    CommandSpec {
        id: CommandId::FrameTime,
        label: "Show frame time",
        shortcut: None,
        menu: Menu::View,
        tooltip: "The last frame's CPU time, in the status bar",
        separated: false,
        toggle: true,
    },
    CommandSpec {
        id: CommandId::Shortcuts,
        label: "Keyboard shortcuts",
        shortcut: None,
        menu: Menu::Help,
        tooltip: "Every shortcut, from the same list as the menus",
        separated: false,
        toggle: false,
    },
    CommandSpec {
        id: CommandId::About,
        label: "About irtlab",
        shortcut: None,
        menu: Menu::Help,
        tooltip: "Version and method",
        separated: false,
        toggle: false,
    },
];

/// The registry entry of a command.
pub fn spec(id: CommandId) -> &'static CommandSpec {
    COMMANDS.iter().find(|c| c.id == id).unwrap_or(&COMMANDS[0])
}

/// A shortcut as text for menus and help ("Ctrl+Shift+S").
pub fn shortcut_text(shortcut: &KeyboardShortcut) -> String {
    let mut parts = Vec::new();
    if shortcut.modifiers.command || shortcut.modifiers.ctrl {
        parts.push("Ctrl".to_string());
    }
    if shortcut.modifiers.alt {
        parts.push("Alt".to_string());
    }
    if shortcut.modifiers.shift {
        parts.push("Shift".to_string());
    }
    parts.push(shortcut.logical_key.name().to_string());
    parts.join("+")
}

/// The queue panels send commands to; the app drains it once per frame.
#[derive(Debug, Default)]
pub struct CommandQueue {
    queue: Vec<Command>,
}

impl CommandQueue {
    /// Queues a command.
    pub fn send(&mut self, command: Command) {
        self.queue.push(command);
    }

    /// Queues a registry command.
    pub fn run(&mut self, id: CommandId) {
        self.queue.push(Command::Run(id));
    }

    /// Takes the queued commands, oldest first.
    pub fn drain(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.queue)
    }

    /// Whether a command is waiting.
    pub fn contains(&self, command: &Command) -> bool {
        self.queue.contains(command)
    }
}
