//! Where the data comes from: a CSV, SQLite (table or query) or Parquet file, and loading it into
//! a DataFrame.

use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, ParquetReader, SerReader};
use serde::{Deserialize, Serialize};

use super::csv::{CsvOptions, read_csv};
use super::{PreparationError, sqlite};

/// What to read from a SQLite database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SqliteSelection {
    /// A whole table or view.
    Table {
        /// Its name.
        name: String,
    },
    /// A read-only query.
    Query {
        /// The SQL text.
        sql: String,
    },
}

/// A data source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// A CSV file.
    Csv {
        /// The file (relative paths are relative to the project file).
        path: PathBuf,
        /// How to read it.
        #[serde(default)]
        options: CsvOptions,
    },
    /// A SQLite database, opened read-only.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// A table or a query.
        selection: SqliteSelection,
    },
    /// An Apache Parquet file.
    Parquet {
        /// The file.
        path: PathBuf,
    },
}

/// The kinds of source file, told by extension or by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Comma/semicolon/tab-separated text.
    Csv,
    /// SQLite database.
    Sqlite,
    /// Apache Parquet.
    Parquet,
}

impl SourceKind {
    /// Tells the kind of a file from its first bytes (SQLite and Parquet have magic headers),
    /// falling back to its extension, then to CSV.
    pub fn detect(path: &Path) -> SourceKind {
        let mut head = [0u8; 16];
        // Only a regular file is opened to look: opening a pipe would wait for a writer.
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        let read = if regular {
            std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .unwrap_or(0)
        } else {
            0
        };
        if read >= 16 && &head[..16] == b"SQLite format 3\0" {
            return SourceKind::Sqlite;
        }
        if read >= 4 && &head[..4] == b"PAR1" {
            return SourceKind::Parquet;
        }
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("sqlite" | "sqlite3" | "db") => SourceKind::Sqlite,
            Some("parquet" | "pq") => SourceKind::Parquet,
            _ => SourceKind::Csv,
        }
    }
}

impl Source {
    /// The source file's path as stored.
    pub fn path(&self) -> &Path {
        match self {
            Source::Csv { path, .. } | Source::Sqlite { path, .. } | Source::Parquet { path } => {
                path
            }
        }
    }

    /// The same source with its path replaced.
    pub fn with_path(&self, path: PathBuf) -> Source {
        let mut copy = self.clone();
        match &mut copy {
            Source::Csv { path: p, .. }
            | Source::Sqlite { path: p, .. }
            | Source::Parquet { path: p } => *p = path,
        }
        copy
    }

    /// A source for a file with default options (SQLite: its first table).
    pub fn for_file(path: &Path) -> Result<Source, PreparationError> {
        Ok(match SourceKind::detect(path) {
            SourceKind::Csv => Source::Csv {
                path: path.to_path_buf(),
                options: CsvOptions::default(),
            },
            SourceKind::Parquet => Source::Parquet {
                path: path.to_path_buf(),
            },
            SourceKind::Sqlite => {
                let tables = sqlite::list_tables(path)?;
                let first = tables.first().ok_or_else(|| PreparationError::Format {
                    path: path.to_path_buf(),
                    message: "the database has no tables or views".into(),
                })?;
                Source::Sqlite {
                    path: path.to_path_buf(),
                    selection: SqliteSelection::Table {
                        name: first.name.clone(),
                    },
                }
            }
        })
    }

    /// Loads the source, resolving a relative path against `base` (the project's folder).
    pub fn load(&self, base: Option<&Path>) -> Result<DataFrame, PreparationError> {
        self.load_cancellable(base, None)
    }

    /// [`Source::load`] that a SQL query abandons when `cancel` is set.
    pub fn load_cancellable(
        &self,
        base: Option<&Path>,
        cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> Result<DataFrame, PreparationError> {
        let path = resolve(self.path(), base);
        if !path.exists() {
            return Err(PreparationError::Io {
                path: path.clone(),
                message: "the file does not exist".into(),
            });
        }
        match self {
            Source::Csv { options, .. } => read_csv(&path, options),
            Source::Sqlite { selection, .. } => match selection {
                SqliteSelection::Table { name } => sqlite::read_table(&path, name),
                SqliteSelection::Query { sql } => {
                    sqlite::read_query_cancellable(&path, sql, cancel)
                }
            },
            Source::Parquet { .. } => read_parquet(&path),
        }
    }
}

/// `path` made absolute against `base` when it is relative.
pub fn resolve(path: &Path, base: Option<&Path>) -> PathBuf {
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

/// Reads a Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame, PreparationError> {
    super::csv::require_regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(PreparationError::Empty(path.to_path_buf()));
    }
    ParquetReader::new(file)
        .finish()
        .map_err(|e| PreparationError::Format {
            path: path.to_path_buf(),
            message: format!(
                "not a readable Parquet file ({})",
                crate::text::shorten(&e.to_string().replace('\n', " "), 120)
            ),
        })
}
