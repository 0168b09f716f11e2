//! Export of tables to CSV, Parquet or a table in a SQLite database. A file is written to a
//! temporary file in the destination folder and renamed into place, so a failure never leaves a
//! half-written file; a table added to an existing database is written in one transaction, and
//! an existing table is never replaced unless asked.

use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, DataFrame, DataType, ParquetWriter, SerWriter};
use rusqlite::{Connection, params_from_iter};

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
    /// The SQLite table exists and replacing it was not asked for.
    #[error("{path}: table \"{table}\" already exists; choose another name or allow replacing it")]
    TableExists {
        /// The database.
        path: PathBuf,
        /// The table.
        table: String,
    },
}

/// Table file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Comma-separated values with a header row; missing cells empty.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// A table in a SQLite database.
    Sqlite,
}

impl TableFormat {
    /// Every format, for menus.
    pub const ALL: [TableFormat; 3] = [TableFormat::Csv, TableFormat::Parquet, TableFormat::Sqlite];

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
            Some("sqlite") | Some("sqlite3") | Some("db") => Ok(TableFormat::Sqlite),
            _ => Err(ExportError::UnknownFormat(path.to_path_buf())),
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
            TableFormat::Sqlite => "sqlite",
        }
    }

    /// A label for menus.
    pub fn label(self) -> &'static str {
        match self {
            TableFormat::Csv => "CSV",
            TableFormat::Parquet => "Parquet",
            TableFormat::Sqlite => "SQLite table",
        }
    }
}

/// An empty temporary file in the folder of `path`, to be renamed onto it when complete.
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile, ExportError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tempfile::Builder::new()
        .prefix(".irtlab-")
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(|e| ExportError::Write {
            path: path.to_path_buf(),
            message: format!("cannot create a file in {}: {e}", folder.display()),
        })
}

/// Renames a complete temporary file onto `path`.
fn persist(temporary: tempfile::NamedTempFile, path: &Path) -> Result<(), ExportError> {
    let failed = |message: String| ExportError::Write {
        path: path.to_path_buf(),
        message,
    };
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| failed(e.to_string()))?;
    temporary
        .persist(path)
        .map_err(|e| failed(e.error.to_string()))?;
    Ok(())
}

/// Writes a file atomically: `write` fills a temporary file beside `path`, which is then
/// renamed onto `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), ExportError> {
    let mut temporary = temporary_beside(path)?;
    write(temporary.as_file_mut()).map_err(|message| ExportError::Write {
        path: path.to_path_buf(),
        message,
    })?;
    persist(temporary, path)
}

/// Where a table goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: TableFormat,
    /// The table name, for SQLite.
    pub table: String,
    /// Whether an existing SQLite table of that name may be replaced.
    pub replace_table: bool,
}

impl Destination {
    /// A destination whose format the extension says; `table` names the SQLite table.
    pub fn for_path(path: &Path, table: &str) -> Result<Destination, ExportError> {
        Ok(Destination {
            path: path.to_path_buf(),
            format: TableFormat::from_path(path)?,
            table: table.to_string(),
            replace_table: false,
        })
    }
}

/// Writes a table to its destination.
pub fn export_table(frame: &mut DataFrame, destination: &Destination) -> Result<(), ExportError> {
    let path = &destination.path;
    match destination.format {
        TableFormat::Csv => write_atomically(path, |file| {
            CsvWriter::new(file)
                .include_header(true)
                .finish(frame)
                .map_err(|e| e.to_string())
        }),
        TableFormat::Parquet => write_atomically(path, |file| {
            ParquetWriter::new(file)
                .finish(frame)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        TableFormat::Sqlite => {
            write_sqlite_table(frame, path, &destination.table, destination.replace_table)
        }
    }
}

/// Writes a table to a file whose extension says the format (`.csv`, `.parquet`, `.sqlite`;
/// SQLite tables are named `table`).
pub fn write_table_to(frame: &mut DataFrame, path: &Path, table: &str) -> Result<(), ExportError> {
    export_table(frame, &Destination::for_path(path, table)?)
}

/// SQL values of one column.
enum SqlColumn {
    Integers(Vec<Option<i64>>),
    Reals(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl SqlColumn {
    fn of(frame: &DataFrame, name: &str) -> Result<SqlColumn, String> {
        let series = frame
            .column(name)
            .map_err(|e| e.to_string())?
            .as_materialized_series();
        let dtype = series.dtype();
        if dtype.is_integer() || dtype.is_bool() {
            let cast = series.cast(&DataType::Int64).map_err(|e| e.to_string())?;
            let values = cast.i64().map_err(|e| e.to_string())?;
            Ok(SqlColumn::Integers(values.iter().collect()))
        } else if dtype.is_primitive_numeric() {
            let cast = series.cast(&DataType::Float64).map_err(|e| e.to_string())?;
            let values = cast.f64().map_err(|e| e.to_string())?;
            Ok(SqlColumn::Reals(
                values.iter().map(|v| v.filter(|x| x.is_finite())).collect(),
            ))
        } else {
            let cast = series.cast(&DataType::String).map_err(|e| e.to_string())?;
            let values = cast.str().map_err(|e| e.to_string())?;
            Ok(SqlColumn::Texts(
                values.iter().map(|v| v.map(str::to_string)).collect(),
            ))
        }
    }

    fn sql_type(&self) -> &'static str {
        match self {
            SqlColumn::Integers(_) => "INTEGER",
            SqlColumn::Reals(_) => "REAL",
            SqlColumn::Texts(_) => "TEXT",
        }
    }

    fn value(&self, row: usize) -> rusqlite::types::Value {
        use rusqlite::types::Value;
        match self {
            SqlColumn::Integers(v) => v[row].map_or(Value::Null, Value::Integer),
            SqlColumn::Reals(v) => v[row].map_or(Value::Null, Value::Real),
            SqlColumn::Texts(v) => v[row].clone().map_or(Value::Null, Value::Text),
        }
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn fill_table(
    connection: &mut Connection,
    frame: &DataFrame,
    table: &str,
    replace: bool,
) -> Result<(), String> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let columns: Vec<SqlColumn> = names
        .iter()
        .map(|n| SqlColumn::of(frame, n))
        .collect::<Result<_, _>>()?;
    let transaction = connection.transaction().map_err(|e| e.to_string())?;
    if replace {
        transaction
            .execute(&format!("DROP TABLE IF EXISTS {}", quote(table)), [])
            .map_err(|e| e.to_string())?;
    }
    let definition = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| format!("{} {}", quote(n), c.sql_type()))
        .collect::<Vec<_>>()
        .join(", ");
    transaction
        .execute(&format!("CREATE TABLE {} ({definition})", quote(table)), [])
        .map_err(|e| e.to_string())?;
    {
        let placeholders = vec!["?"; names.len()].join(", ");
        let mut insert = transaction
            .prepare(&format!(
                "INSERT INTO {} VALUES ({placeholders})",
                quote(table)
            ))
            .map_err(|e| e.to_string())?;
        for row in 0..frame.height() {
            insert
                .execute(params_from_iter(columns.iter().map(|c| c.value(row))))
                .map_err(|e| e.to_string())?;
        }
    }
    transaction.commit().map_err(|e| e.to_string())
}

/// Writes `frame` as table `table` of the SQLite database at `path`. A new database is built in
/// a temporary file and renamed into place; an existing one gets the table in one transaction
/// (all or nothing), and an existing table is replaced only when `replace` is set.
pub fn write_sqlite_table(
    frame: &DataFrame,
    path: &Path,
    table: &str,
    replace: bool,
) -> Result<(), ExportError> {
    let failed = |message: String| ExportError::Write {
        path: path.to_path_buf(),
        message,
    };
    if table.trim().is_empty() {
        return Err(failed("the table name is empty".into()));
    }
    if path.exists() {
        let mut connection = Connection::open(path).map_err(|e| failed(e.to_string()))?;
        let exists: bool = connection
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(|e| failed(format!("not a SQLite database? {e}")))?;
        if exists && !replace {
            return Err(ExportError::TableExists {
                path: path.to_path_buf(),
                table: table.to_string(),
            });
        }
        fill_table(&mut connection, frame, table, replace).map_err(failed)
    } else {
        let temporary = temporary_beside(path)?;
        let mut connection =
            Connection::open(temporary.path()).map_err(|e| failed(e.to_string()))?;
        fill_table(&mut connection, frame, table, false).map_err(failed)?;
        connection.close().map_err(|(_, e)| failed(e.to_string()))?;
        persist(temporary, path)
    }
}
