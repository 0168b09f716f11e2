//! SQLite sources, opened read-only: list tables and views, load a table, or run a user's
//! `SELECT`. A statement that is not read-only is refused by SQLite's own verdict
//! (`sqlite3_stmt_readonly`), not by matching its text.

use std::path::Path;

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

/// Opens `path` read-only. The file must exist and be non-empty.
pub fn open_read_only(path: &Path) -> Result<Connection, PreparationError> {
    let metadata = std::fs::metadata(path).map_err(|e| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if metadata.len() == 0 {
        return Err(PreparationError::Empty(path.to_path_buf()));
    }
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
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
    let connection = open_read_only(path)?;
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
    let mut rows = statement
        .query([])
        .map_err(|e| format_error(path, format!("SQL error: {e}")))?;
    let mut height = 0usize;
    while let Some(row) = rows
        .next()
        .map_err(|e| format_error(path, format!("SQL error: {e}")))?
    {
        for (index, column) in columns.iter_mut().enumerate() {
            let value = row
                .get_ref(index)
                .map_err(|e| format_error(path, format!("SQL error: {e}")))?;
            column.push(value);
        }
        height += 1;
    }
    let columns: Vec<Column> = columns
        .into_iter()
        .zip(&names)
        .map(|(values, name)| values.into_column(name))
        .collect();
    DataFrame::new(height, columns).map_err(|e| format_error(path, e.to_string()))
}
