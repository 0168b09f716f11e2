//! SQLite sources, opened read-only: list tables and views, load a table, or run a user's
//! `SELECT`. A statement that is not read-only is refused by SQLite's own verdict
//! (`sqlite3_stmt_readonly`), not by matching its text.
//!
//! Reading leaves nothing behind: a database in WAL mode with no pending write-ahead log is
//! opened as immutable, so SQLite creates no `-wal` or `-shm` files beside it (and reading works
//! in read-only folders and on read-only media). A query can be cancelled (SQLite's progress
//! handler checks the flag) and its result is bounded, so a runaway recursive query ends with a
//! message instead of taking all memory.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::{Column, DataFrame};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::PreparationError;

/// A table or view of a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// "table" or "view".
    pub kind: String,
    /// Number of rows.
    pub rows: u64,
    /// Column names.
    pub columns: Vec<String>,
}

fn format_error(path: &Path, message: impl Into<String>) -> PreparationError {
    PreparationError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn explain(path: &Path, error: rusqlite::Error) -> PreparationError {
    let text = error.to_string();
    let message = if text.contains("file is not a database") {
        "this is not a SQLite database".to_string()
    } else if text.contains("database is locked") {
        "the database is locked by another program; close it there or try again".to_string()
    } else if text.contains("unable to open") {
        format!("cannot open the database ({text})")
    } else {
        text
    };
    format_error(path, message)
}

/// `path` as a `file:` URI (RFC 3986 percent-encoding of what a URI cannot hold).
fn file_uri(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for byte in absolute.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri
}

/// Whether the database file is in WAL mode (file format version 2 in its header).
fn is_wal(path: &Path) -> bool {
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok()
        && header[18] == 2
        && header[19] == 2
}

/// Opens `path` read-only. The file must exist, be a regular file and be non-empty.
pub fn open_read_only(path: &Path) -> Result<Connection, PreparationError> {
    let metadata = super::csv::require_regular_file(path)?;
    if metadata.len() == 0 {
        return Err(PreparationError::Empty(path.to_path_buf()));
    }
    let mut wal_file = path.as_os_str().to_owned();
    wal_file.push("-wal");
    // With no log pending, a WAL database can be read as immutable: no -shm, no locks.
    let immutable = is_wal(path) && !Path::new(&wal_file).exists();
    let connection = if immutable {
        Connection::open_with_flags(
            format!("{}?immutable=1", file_uri(path)),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
    } else {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    }
    .map_err(|e| explain(path, e))?;
    connection
        .busy_timeout(std::time::Duration::from_millis(2000))
        .map_err(|e| explain(path, e))?;
    // Reading the schema makes a non-database fail here, with a clear message.
    connection
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| explain(path, e))?;
    Ok(connection)
}

/// The most memory a query's result may take (16 bytes a value, plus its text).
pub const MAX_QUERY_BYTES: usize = 2_000_000_000;

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables and views of a database, with row counts and columns.
pub fn list_tables(path: &Path) -> Result<Vec<TableInfo>, PreparationError> {
    let connection = open_read_only(path)?;
    let mut statement = connection
        .prepare(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(|e| explain(path, e))?;
    let entries: Vec<(String, String)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| explain(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| explain(path, e))?;
    entries
        .into_iter()
        .map(|(name, kind)| {
            let quoted = quote_identifier(&name);
            let rows: i64 = connection
                .query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))
                .map_err(|e| explain(path, e))?;
            let columns = connection
                .prepare(&format!("SELECT * FROM {quoted} LIMIT 0"))
                .map_err(|e| explain(path, e))?
                .column_names()
                .into_iter()
                .map(str::to_string)
                .collect();
            Ok(TableInfo {
                name,
                kind,
                rows: rows.max(0) as u64,
                columns,
            })
        })
        .collect()
}

/// Loads a whole table or view.
pub fn read_table(path: &Path, table: &str) -> Result<DataFrame, PreparationError> {
    let tables = list_tables(path)?;
    if !tables.iter().any(|t| t.name == table) {
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        return Err(format_error(
            path,
            format!(
                "table \"{table}\" not found; tables and views are: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    read_query(path, &format!("SELECT * FROM {}", quote_identifier(table)))
}

/// One column's values while reading, typed by what SQLite returned.
enum Values {
    Integers(Vec<Option<i64>>),
    Reals(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl Values {
    fn push(&mut self, value: ValueRef<'_>) {
        // Widen the column when a value does not fit its type: integer → real → text.
        match (&mut *self, value) {
            (Values::Integers(v), ValueRef::Null) => v.push(None),
            (Values::Reals(v), ValueRef::Null) => v.push(None),
            (Values::Texts(v), ValueRef::Null) => v.push(None),
            (Values::Integers(v), ValueRef::Integer(i)) => v.push(Some(i)),
            (Values::Reals(v), ValueRef::Integer(i)) => v.push(Some(i as f64)),
            (Values::Reals(v), ValueRef::Real(x)) => v.push(Some(x)),
            (Values::Texts(v), other) => v.push(Some(text_of(other))),
            (Values::Integers(v), ValueRef::Real(x)) => {
                let mut reals: Vec<Option<f64>> = v.iter().map(|i| i.map(|i| i as f64)).collect();
                reals.push(Some(x));
                *self = Values::Reals(reals);
            }
            (Values::Integers(_) | Values::Reals(_), other) => {
                let mut texts = self.to_texts();
                texts.push(Some(text_of(other)));
                *self = Values::Texts(texts);
            }
        }
    }

    fn to_texts(&self) -> Vec<Option<String>> {
        match self {
            Values::Integers(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
            Values::Reals(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
            Values::Texts(v) => v.clone(),
        }
    }

    fn into_column(self, name: &str) -> Column {
        match self {
            Values::Integers(v) => Column::new(name.into(), v),
            Values::Reals(v) => Column::new(name.into(), v),
            Values::Texts(v) => Column::new(name.into(), v),
        }
    }
}

fn text_of(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("<blob of {} bytes>", b.len()),
    }
}

/// Runs a read-only query (`SELECT`, `WITH … SELECT`, …) and loads its result. Anything that
/// would write is refused before it runs.
pub fn read_query(path: &Path, sql: &str) -> Result<DataFrame, PreparationError> {
    read_query_cancellable(path, sql, None)
}

/// [`read_query`] that stops when `cancel` is set.
pub fn read_query_cancellable(
    path: &Path,
    sql: &str,
    cancel: Option<Arc<AtomicBool>>,
) -> Result<DataFrame, PreparationError> {
    read_query_limited(path, sql, cancel, MAX_QUERY_BYTES)
}

/// [`read_query_cancellable`] with a memory budget for the result, in bytes.
pub fn read_query_limited(
    path: &Path,
    sql: &str,
    cancel: Option<Arc<AtomicBool>>,
    max_bytes: usize,
) -> Result<DataFrame, PreparationError> {
    let connection = open_read_only(path)?;
    if let Some(flag) = cancel.clone() {
        connection
            .progress_handler(10_000, Some(move || flag.load(Ordering::Relaxed)))
            .map_err(|e| explain(path, e))?;
    }
    let cancelled = || cancel.as_ref().is_some_and(|f| f.load(Ordering::Relaxed));
    if sql.trim().is_empty() {
        return Err(format_error(path, "the query is empty"));
    }
    let mut statement = connection
        .prepare(sql)
        .map_err(|e| format_error(path, format!("SQL error: {e}")))?;
    if !statement.readonly() {
        return Err(format_error(
            path,
            "only read-only queries (SELECT) can load data; this statement would change the database",
        ));
    }
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(format_error(path, "the statement returns no columns"));
    }
    let mut duplicates = names.clone();
    duplicates.sort();
    if let Some(pair) = duplicates.windows(2).find(|w| w[0] == w[1]) {
        return Err(format_error(
            path,
            format!(
                "the query returns two columns named \"{}\"; give them distinct names with AS",
                pair[0]
            ),
        ));
    }
    let mut columns: Vec<Values> = names.iter().map(|_| Values::Integers(Vec::new())).collect();
    let sql_error = |e: rusqlite::Error| {
        if cancelled() {
            PreparationError::Cancelled
        } else {
            format_error(
                path,
                format!("SQL error: {}", crate::text::shorten(&e.to_string(), 200)),
            )
        }
    };
    let mut rows = statement.query([]).map_err(sql_error)?;
    let mut height = 0usize;
    let mut text_bytes = 0usize;
    let width = names.len();
    while let Some(row) = rows.next().map_err(sql_error)? {
        for (index, column) in columns.iter_mut().enumerate() {
            let value = row.get_ref(index).map_err(sql_error)?;
            if let ValueRef::Text(t) | ValueRef::Blob(t) = value {
                text_bytes += t.len();
            }
            column.push(value);
        }
        height += 1;
        if height.is_multiple_of(1024) && height * width * 16 + text_bytes > max_bytes {
            return Err(format_error(
                path,
                format!(
                    "the query returns more than {} rows × {width} columns (over {}), more than irtlab loads; add a WHERE or LIMIT",
                    crate::text::count(height),
                    crate::text::human_bytes(max_bytes as f64)
                ),
            ));
        }
    }
    let columns: Vec<Column> = columns
        .into_iter()
        .zip(&names)
        .map(|(values, name)| values.into_column(name))
        .collect();
    DataFrame::new(height, columns).map_err(|e| format_error(path, e.to_string()))
}
