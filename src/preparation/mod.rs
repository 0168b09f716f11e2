//! Preparation: loading a source file (CSV, SQLite, Parquet) into a DataFrame and laying it out
//! wide (one row per person).

pub mod csv;
pub mod layout;
pub mod source;
pub mod sparse;
pub mod sqlite;

use std::path::PathBuf;

pub use csv::{CsvOptions, read_csv};
pub use layout::{DuplicatePolicy, ItemSelection, Layout, LayoutReport, ResponseColumns};
pub use source::{Source, SourceKind, SqliteSelection};

/// What went wrong while loading or laying out the data.
#[derive(Debug, thiserror::Error)]
pub enum PreparationError {
    /// The file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file is empty.
    #[error("{0}: the file is empty")]
    Empty(PathBuf),
    /// The file's content is not what its kind needs.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A named column is not in the data.
    #[error("column \"{column}\" not found; columns are: {available}")]
    ColumnNotFound {
        /// The missing column.
        column: String,
        /// The columns there are.
        available: String,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
    /// The user cancelled loading.
    #[error("cancelled")]
    Cancelled,
}
