//! Export of tables to CSV, Parquet or a table in a SQLite database, with the guarantees a
//! research tool owes its user:
//!
//! - **Inputs are never written.** An output that resolves to one of the command's inputs —
//!   the same path, a symbolic link to it, or a hard link — is refused before anything is
//!   computed.
//! - **A command's outputs appear all together or not at all.** Every file is written to a
//!   temporary file beside its destination; tables for an existing database are written inside
//!   one open transaction per database; only when everything has been written are the files
//!   renamed into place (files they replace are kept aside until then and put back on failure)
//!   and the transactions committed.
//! - **File modes follow the user.** A new file is created with the umask's permissions, as any
//!   program's would be; a replaced file keeps its mode.
//! - An existing SQLite table is never replaced unless asked.

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
    /// An output would overwrite one of the command's inputs.
    #[error(
        "{output} is the input {input}; choose another output file so your data is not overwritten"
    )]
    OverwritesInput {
        /// The output asked for.
        output: PathBuf,
        /// The input it resolves to.
        input: PathBuf,
    },
    /// The same destination was given twice.
    #[error("{0} is given as two different outputs")]
    Duplicate(PathBuf),
    /// The output's folder cannot take the file.
    #[error("{path}: {message}")]
    Folder {
        /// The output.
        path: PathBuf,
        /// What is wrong with its folder.
        message: String,
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

/// The folder of `path` ("." for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` made absolute with symbolic links resolved, for a path that may not exist yet: its
/// folder is resolved and the file name joined.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(full) = std::fs::canonicalize(path) {
        return Some(full);
    }
    let folder = std::fs::canonicalize(folder_of(path)).ok()?;
    Some(folder.join(path.file_name()?))
}

/// Whether two paths name the same file: the same resolved path, or (both existing) the same
/// device and inode — which also catches hard links.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(x), Some(y)) = (resolved(a), resolved(b))
        && x == y
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Refuses `output` when it is one of `inputs`.
pub fn check_not_input(output: &Path, inputs: &[PathBuf]) -> Result<(), ExportError> {
    for input in inputs {
        if same_file(output, input) {
            return Err(ExportError::OverwritesInput {
                output: output.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    Ok(())
}

/// Checks that the folder of `path` exists and is a folder we can create files in.
fn check_folder(path: &Path) -> Result<(), ExportError> {
    let folder = folder_of(path);
    let failed = |message: String| ExportError::Folder {
        path: path.to_path_buf(),
        message,
    };
    match std::fs::metadata(&folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(failed(format!("{} is not a folder", folder.display()))),
        Err(_) => {
            return Err(failed(format!(
                "the folder {} does not exist",
                folder.display()
            )));
        }
    }
    if let Ok(m) = std::fs::metadata(path)
        && m.is_dir()
    {
        return Err(failed("a folder is in the way".into()));
    }
    // Probing with a real temporary file is the only reliable test of write permission.
    tempfile::Builder::new()
        .prefix(".irtlab-probe-")
        .tempfile_in(&folder)
        .map(drop)
        .map_err(|e| failed(format!("cannot create files in {}: {e}", folder.display())))
}

/// A temporary file beside `path` with the permissions a new file would get (the umask
/// applies), or the mode of the file it will replace.
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile, ExportError> {
    let folder = folder_of(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".irtlab-").suffix(".tmp");
    #[cfg(unix)]
    let replaced_mode = {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777);
        builder.permissions(std::fs::Permissions::from_mode(0o666));
        mode
    };
    let temporary = builder
        .tempfile_in(&folder)
        .map_err(|e| ExportError::Write {
            path: path.to_path_buf(),
            message: format!("cannot create a file in {}: {e}", folder.display()),
        })?;
    #[cfg(unix)]
    if let Some(mode) = replaced_mode {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(temporary.path(), std::fs::Permissions::from_mode(mode));
    }
    Ok(temporary)
}

/// Writes a file atomically: `write` fills a temporary file beside `path`, which is then
/// renamed onto `path`. A new file gets the umask's permissions; a replaced one keeps its mode.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), ExportError> {
    let mut temporary = temporary_beside(path)?;
    write(temporary.as_file_mut()).map_err(|message| ExportError::Write {
        path: path.to_path_buf(),
        message,
    })?;
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

/// A frame as CSV with a header row. The header is written here: polars' own header writer
/// spends milliseconds setting up a serializer for a handful of names.
fn write_csv(file: &mut std::fs::File, frame: &mut DataFrame) -> Result<(), String> {
    use std::io::Write;
    let header: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|name| csv_field(name.as_str()))
        .collect();
    file.write_all(format!("{}\n", header.join(",")).as_bytes())
        .map_err(|e| e.to_string())?;
    CsvWriter::new(file)
        .include_header(false)
        .finish(frame)
        .map_err(|e| e.to_string())
}

/// A CSV field, quoted (with inner quotes doubled) when it holds a comma, a quote, a line break
/// or leading or trailing space.
fn csv_field(text: &str) -> String {
    let needs_quotes =
        text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
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

/// Whether table `table` exists in the database.
fn table_exists(connection: &Connection, table: &str) -> Result<bool, String> {
    connection
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .map_err(|e| format!("not a SQLite database? {e}"))
}

/// Creates and fills `table` inside the connection's current transaction.
fn fill_table(
    connection: &Connection,
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
    if replace {
        connection
            .execute(&format!("DROP TABLE IF EXISTS {}", quote(table)), [])
            .map_err(|e| e.to_string())?;
    }
    let definition = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| format!("{} {}", quote(n), c.sql_type()))
        .collect::<Vec<_>>()
        .join(", ");
    connection
        .execute(&format!("CREATE TABLE {} ({definition})", quote(table)), [])
        .map_err(|e| e.to_string())?;
    let placeholders = vec!["?"; names.len()].join(", ");
    let mut insert = connection
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
    Ok(())
}

/// The outputs of one command, checked before any work and written all together or not at
/// all.
#[derive(Debug, Default)]
pub struct OutputSet {
    inputs: Vec<PathBuf>,
    outputs: Vec<(Destination, String)>,
    /// Text files (JSON reports) written with the tables.
    documents: Vec<PathBuf>,
}

impl OutputSet {
    /// An empty set for a command reading `inputs`.
    pub fn new(inputs: Vec<PathBuf>) -> OutputSet {
        OutputSet {
            inputs,
            outputs: Vec::new(),
            documents: Vec::new(),
        }
    }

    /// Adds an output (`what` names it in messages). Refuses an input, a duplicate, an unknown
    /// format or a folder that cannot take the file — before anything is computed.
    pub fn add(&mut self, destination: Destination, what: &str) -> Result<(), ExportError> {
        check_not_input(&destination.path, &self.inputs)?;
        if self
            .documents
            .iter()
            .any(|d| same_file(d, &destination.path))
        {
            return Err(ExportError::Duplicate(destination.path.clone()));
        }
        for (other, _) in &self.outputs {
            let same_table = destination.format != TableFormat::Sqlite
                || other.format != TableFormat::Sqlite
                || other.table == destination.table;
            if same_table && same_file(&other.path, &destination.path) {
                return Err(ExportError::Duplicate(destination.path.clone()));
            }
        }
        check_folder(&destination.path)?;
        if destination.format == TableFormat::Sqlite
            && destination.path.exists()
            && !destination.replace_table
        {
            let connection = Connection::open_with_flags(
                &destination.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| ExportError::Write {
                path: destination.path.clone(),
                message: e.to_string(),
            })?;
            if table_exists(&connection, &destination.table).map_err(|message| {
                ExportError::Write {
                    path: destination.path.clone(),
                    message,
                }
            })? {
                return Err(ExportError::TableExists {
                    path: destination.path.clone(),
                    table: destination.table.clone(),
                });
            }
        }
        self.outputs.push((destination, what.to_string()));
        Ok(())
    }

    /// Adds a file whose format its extension says (`table` names a SQLite table).
    pub fn add_path(
        &mut self,
        path: &Path,
        table: &str,
        replace_table: bool,
    ) -> Result<(), ExportError> {
        let mut destination = Destination::for_path(path, table)?;
        destination.replace_table = replace_table;
        self.add(destination, table)
    }

    /// Adds a text file (a JSON report) written with the tables, checked like them: never an
    /// input, not twice, into a folder that can take it.
    pub fn add_document(&mut self, path: &Path) -> Result<(), ExportError> {
        check_not_input(path, &self.inputs)?;
        if self.documents.iter().any(|d| same_file(d, path))
            || self.outputs.iter().any(|(d, _)| same_file(&d.path, path))
        {
            return Err(ExportError::Duplicate(path.to_path_buf()));
        }
        check_folder(path)?;
        self.documents.push(path.to_path_buf());
        Ok(())
    }

    /// The outputs, in order.
    pub fn destinations(&self) -> impl Iterator<Item = &Destination> {
        self.outputs.iter().map(|(d, _)| d)
    }

    /// The text files, in order.
    pub fn documents(&self) -> impl Iterator<Item = &Path> {
        self.documents.iter().map(PathBuf::as_path)
    }

    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Writes `frames` (one per output, in order): everything, or nothing.
    pub fn write(&self, frames: &mut [DataFrame]) -> Result<(), ExportError> {
        self.write_with_documents(frames, &[])
    }

    /// Writes `frames` (one per table output) and `documents` (one text per
    /// [`OutputSet::add_document`] file, in order): everything, or nothing.
    pub fn write_with_documents(
        &self,
        frames: &mut [DataFrame],
        documents: &[String],
    ) -> Result<(), ExportError> {
        assert_eq!(frames.len(), self.outputs.len(), "one frame per output");
        assert_eq!(
            documents.len(),
            self.documents.len(),
            "one text per document"
        );
        let failed = |path: &Path, message: String| ExportError::Write {
            path: path.to_path_buf(),
            message,
        };
        // 1. Everything written to temporary files or uncommitted transactions.
        let mut files: Vec<(PathBuf, tempfile::NamedTempFile)> = Vec::new();
        let mut open_databases: Vec<(PathBuf, Connection)> = Vec::new();
        let rollback = |databases: &mut Vec<(PathBuf, Connection)>| {
            for (_, connection) in databases.drain(..) {
                let _ = connection.execute_batch("ROLLBACK");
            }
        };
        let mut new_databases: Vec<(PathBuf, usize)> = Vec::new();
        for index in 0..self.outputs.len() {
            let destination = &self.outputs[index].0;
            let path = &destination.path;
            let result = match destination.format {
                TableFormat::Csv | TableFormat::Parquet => (|| {
                    let mut temporary = temporary_beside(path)?;
                    let frame = &mut frames[index];
                    let written = match destination.format {
                        TableFormat::Csv => write_csv(temporary.as_file_mut(), frame),
                        _ => ParquetWriter::new(temporary.as_file_mut())
                            .finish(frame)
                            .map(|_| ())
                            .map_err(|e| e.to_string()),
                    };
                    written.map_err(|m| failed(path, m))?;
                    temporary
                        .as_file()
                        .sync_all()
                        .map_err(|e| failed(path, e.to_string()))?;
                    files.push((path.clone(), temporary));
                    Ok(())
                })(),
                TableFormat::Sqlite if destination.table.trim().is_empty() => {
                    Err(failed(path, "the table name is empty".into()))
                }
                TableFormat::Sqlite if path.exists() => (|| {
                    let at = match open_databases.iter().position(|(p, _)| same_file(p, path)) {
                        Some(at) => at,
                        None => {
                            let connection =
                                Connection::open(path).map_err(|e| failed(path, e.to_string()))?;
                            connection
                                .busy_timeout(std::time::Duration::from_millis(2000))
                                .map_err(|e| failed(path, e.to_string()))?;
                            connection
                                .execute_batch("BEGIN IMMEDIATE")
                                .map_err(|e| failed(path, e.to_string()))?;
                            open_databases.push((path.clone(), connection));
                            open_databases.len() - 1
                        }
                    };
                    let connection = &open_databases[at].1;
                    if table_exists(connection, &destination.table).map_err(|m| failed(path, m))?
                        && !destination.replace_table
                    {
                        return Err(ExportError::TableExists {
                            path: path.clone(),
                            table: destination.table.clone(),
                        });
                    }
                    fill_table(
                        connection,
                        &frames[index],
                        &destination.table,
                        destination.replace_table,
                    )
                    .map_err(|m| failed(path, m))
                })(),
                TableFormat::Sqlite => (|| {
                    // A new database: built whole in a temporary file, all its tables at once.
                    if new_databases.iter().any(|(p, _)| p == path) {
                        return Ok(());
                    }
                    let temporary = temporary_beside(path)?;
                    let connection = Connection::open(temporary.path())
                        .map_err(|e| failed(path, e.to_string()))?;
                    connection
                        .execute_batch("BEGIN")
                        .map_err(|e| failed(path, e.to_string()))?;
                    for ((other, _), other_frame) in
                        self.outputs[index..].iter().zip(frames[index..].iter())
                    {
                        if other.format == TableFormat::Sqlite && &other.path == path {
                            fill_table(&connection, other_frame, &other.table, false)
                                .map_err(|m| failed(path, m))?;
                        }
                    }
                    connection
                        .execute_batch("COMMIT")
                        .map_err(|e| failed(path, e.to_string()))?;
                    connection
                        .close()
                        .map_err(|(_, e)| failed(path, e.to_string()))?;
                    new_databases.push((path.clone(), index));
                    files.push((path.clone(), temporary));
                    Ok(())
                })(),
            };
            if let Err(error) = result {
                rollback(&mut open_databases);
                return Err(error);
            }
        }
        for (path, text) in self.documents.iter().zip(documents) {
            let written = (|| {
                use std::io::Write;
                let mut temporary = temporary_beside(path)?;
                temporary
                    .as_file_mut()
                    .write_all(text.as_bytes())
                    .and_then(|_| temporary.as_file().sync_all())
                    .map_err(|e| failed(path, e.to_string()))?;
                files.push((path.clone(), temporary));
                Ok(())
            })();
            if let Err(error) = written {
                rollback(&mut open_databases);
                return Err(error);
            }
        }
        // 2. Files into place, keeping what they replace aside until everything succeeded.
        let mut placed: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let restore = |placed: &mut Vec<(PathBuf, Option<PathBuf>)>| {
            for (path, backup) in placed.drain(..).rev() {
                match backup {
                    Some(backup) => {
                        let _ = std::fs::rename(&backup, &path);
                    }
                    None => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        };
        for (path, temporary) in files {
            let backup = if path.exists() {
                let backup = folder_of(&path).join(format!(
                    ".irtlab-backup-{}-{}",
                    std::process::id(),
                    placed.len()
                ));
                if let Err(e) = std::fs::rename(&path, &backup) {
                    restore(&mut placed);
                    rollback(&mut open_databases);
                    return Err(failed(&path, e.to_string()));
                }
                Some(backup)
            } else {
                None
            };
            if let Err(e) = temporary.persist(&path) {
                if let Some(backup) = &backup {
                    let _ = std::fs::rename(backup, &path);
                }
                restore(&mut placed);
                rollback(&mut open_databases);
                return Err(failed(&path, e.error.to_string()));
            }
            placed.push((path, backup));
        }
        // 3. Transactions committed; a failed commit puts the files back.
        for (at, (path, connection)) in open_databases.iter().enumerate() {
            if let Err(e) = connection.execute_batch("COMMIT") {
                for (_, later) in &open_databases[at..] {
                    let _ = later.execute_batch("ROLLBACK");
                }
                restore(&mut placed);
                return Err(failed(path, e.to_string()));
            }
        }
        for (_, backup) in placed {
            if let Some(backup) = backup {
                let _ = std::fs::remove_file(backup);
            }
        }
        Ok(())
    }
}

/// Writes one table to its destination (a set of one output; `inputs` are refused).
pub fn export_table(
    frame: &mut DataFrame,
    destination: &Destination,
    inputs: &[PathBuf],
) -> Result<(), ExportError> {
    let mut set = OutputSet::new(inputs.to_vec());
    set.add(destination.clone(), &destination.table)?;
    set.write(std::slice::from_mut(frame))
}

/// Writes a table to a file whose extension says the format (`.csv`, `.parquet`, `.sqlite`;
/// SQLite tables are named `table`).
pub fn write_table_to(frame: &mut DataFrame, path: &Path, table: &str) -> Result<(), ExportError> {
    export_table(frame, &Destination::for_path(path, table)?, &[])
}

/// Writes a document (a report, an SVG) to `path` atomically: refused when `path` is one of
/// `inputs` or its folder cannot take the file; otherwise written to a temporary file beside
/// it and renamed into place, so the file is whole or absent.
pub fn write_document(path: &Path, bytes: &[u8], inputs: &[PathBuf]) -> Result<(), ExportError> {
    check_document_output(path, inputs)?;
    write_atomically(path, |file| {
        std::io::Write::write_all(file, bytes).map_err(|e| e.to_string())
    })
}

/// Checks, before any work, that a document can be written to `path`: it is none of `inputs`
/// and its folder exists and takes new files.
pub fn check_document_output(path: &Path, inputs: &[PathBuf]) -> Result<(), ExportError> {
    check_not_input(path, inputs)?;
    check_folder(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{Column, DataFrame};

    /// Column names that need quoting are quoted as RFC 4180 says and read back as they were.
    #[test]
    fn csv_header_names_round_trip() {
        let names = ["plain", "a,b", "say \"hi\"", "two\nlines", " padded "];
        let columns: Vec<Column> = names
            .iter()
            .enumerate()
            .map(|(i, name)| Column::new((*name).into(), [i as f64, 0.5]))
            .collect();
        let mut frame = DataFrame::new_infer_height(columns).unwrap();
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("t.csv");
        let mut file = std::fs::File::create(&path).unwrap();
        write_csv(&mut file, &mut frame).unwrap();
        drop(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" padded \"\n0.0,1.0,"
            )
        );
        let read = crate::preparation::csv::read_csv(&path, &Default::default()).unwrap();
        let read_names: Vec<String> = read
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(read_names, names);
        assert_eq!(read.height(), 2);
        let last = read.column(" padded ").unwrap().f64().unwrap().get(0);
        assert_eq!(last, Some(4.0));
    }
}
