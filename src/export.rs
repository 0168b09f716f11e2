//! Export of tables to CSV, Parquet or a SQLite table. Every file is written to a temporary file
//! in the destination folder and renamed into place, so a failure never leaves a half-written
//! file and never touches an existing one.

use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};

/// What went wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing failed; nothing was left at `path`.
    #[error("could not write {path}: {message}")]
    Write {
        /// The destination.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The format could not be told from the file name.
    #[error("{0}: unknown file type; use .csv, .parquet, .sqlite or .db")]
    UnknownFormat(PathBuf),
}

/// Table file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Comma-separated values with a header row; missing cells empty.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The format a file name's extension implies.
    pub fn from_path(path: &Path) -> Result<TableFormat, ExportError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") | Some("txt") => Ok(TableFormat::Csv),
            Some("parquet") | Some("pq") => Ok(TableFormat::Parquet),
            _ => Err(ExportError::UnknownFormat(path.to_path_buf())),
        }
    }
}

/// Writes `frame` to `path` atomically: into a temporary file beside it, then renamed.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), ExportError> {
    let failed = |message: String| ExportError::Write {
        path: path.to_path_buf(),
        message,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".irtlab-")
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(|e| failed(format!("cannot create a file in {}: {e}", folder.display())))?;
    write(temporary.as_file_mut()).map_err(failed)?;
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| failed(e.to_string()))?;
    temporary
        .persist(path)
        .map_err(|e| failed(e.error.to_string()))?;
    Ok(())
}

/// Writes a table as CSV or Parquet (by `format`), atomically.
pub fn write_table(
    frame: &mut DataFrame,
    path: &Path,
    format: TableFormat,
) -> Result<(), ExportError> {
    write_atomically(path, |file| match format {
        TableFormat::Csv => CsvWriter::new(file)
            .include_header(true)
            .finish(frame)
            .map_err(|e| e.to_string()),
        TableFormat::Parquet => ParquetWriter::new(file)
            .finish(frame)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    })
}

/// Writes a table to a file whose extension says the format (`.csv`, `.parquet`).
pub fn write_table_to(frame: &mut DataFrame, path: &Path) -> Result<(), ExportError> {
    write_table(frame, path, TableFormat::from_path(path)?)
}
