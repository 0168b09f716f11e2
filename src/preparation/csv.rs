//! CSV sources: header row, delimiter detected (comma, semicolon, tab) or given, quoted fields,
//! UTF-8 with or without BOM, configurable missing-value markers, column types inferred. Read by
//! polars straight from the file (memory-mapped), so a large file is not copied.
//!
//! The header is checked before polars reads the file (it must be UTF-8, with distinct column
//! names), and when polars refuses the file the file is scanned to say what is wrong in
//! irtlab's own words, with the line and column: a row with more or fewer fields than the
//! header, a quote that is never closed, bytes that are not UTF-8.

use std::io::{BufRead, Read};
use std::path::Path;

use polars::prelude::{
    CsvParseOptions, CsvReadOptions, DataFrame, NullValues, PlSmallStr, SerReader,
};
use serde::{Deserialize, Serialize};

use super::PreparationError;
use crate::text::{quoted, shorten};

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    /// The delimiter; `None` detects comma, semicolon or tab from the header line.
    pub delimiter: Option<char>,
    /// Texts read as missing values (besides empty fields).
    pub missing_markers: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            missing_markers: vec!["NA".into(), "NaN".into(), ".".into()],
        }
    }
}

/// The longest header line read (a header longer than this is refused with a message).
const HEADER_LIMIT: usize = 16 * 1024 * 1024;

/// The delimiter among `,` `;` and tab that occurs most often outside quotes in `header`.
pub fn detect_delimiter(header: &str) -> char {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for ch in header.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [',', ';', '\t'][best]
}

/// Checks that `path` is a regular file (not a folder, pipe or device), which reading needs.
pub fn require_regular_file(path: &Path) -> Result<std::fs::Metadata, PreparationError> {
    let metadata = std::fs::metadata(path).map_err(|e| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if !metadata.is_file() {
        return Err(PreparationError::Format {
            path: path.to_path_buf(),
            message: if metadata.is_dir() {
                "this is a folder, not a data file".into()
            } else {
                "this is not a regular file (a pipe, socket or device); save the data to a file first"
                    .into()
            },
        });
    }
    Ok(metadata)
}

/// Reads the header line (up to [`HEADER_LIMIT`]), checks it is text and UTF-8, and strips a
/// byte-order mark.
fn first_line(path: &Path) -> Result<String, PreparationError> {
    let io = |e: std::io::Error| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::new(file).take(HEADER_LIMIT as u64 + 1);
    let mut buffer = Vec::new();
    reader.read_until(b'\n', &mut buffer).map_err(io)?;
    if buffer.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PreparationError::Empty(path.to_path_buf()));
    }
    if buffer.len() > HEADER_LIMIT {
        return Err(PreparationError::Format {
            path: path.to_path_buf(),
            message: format!(
                "the header line is longer than {} MB; is this a CSV file?",
                HEADER_LIMIT / (1024 * 1024)
            ),
        });
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
    }
    if buffer.last() == Some(&b'\r') {
        buffer.pop();
    }
    let line = buffer.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buffer);
    if line.contains(&0) {
        return Err(PreparationError::Format {
            path: path.to_path_buf(),
            message: "this is not a CSV file (it contains binary data)".into(),
        });
    }
    String::from_utf8(line.to_vec()).map_err(|e| PreparationError::Format {
        path: path.to_path_buf(),
        message: format!(
            "line 1, byte {}: not valid UTF-8; save the file as UTF-8",
            e.utf8_error().valid_up_to() + 1
        ),
    })
}

/// Splits a line into fields on `delimiter`, honouring double quotes.
fn split_fields(line: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            c if c == delimiter && !in_quotes => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

/// Refuses a header with two columns of the same name (they would be silently renamed and
/// analysed as two items).
fn check_header(path: &Path, header: &str, delimiter: char) -> Result<(), PreparationError> {
    let names = split_fields(header, delimiter);
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (index, name) in names.iter().enumerate() {
        let name = name.trim();
        if let Some(first) = seen.insert(name, index) {
            return Err(PreparationError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "columns {} and {} are both named {}; give every column its own name",
                    first + 1,
                    index + 1,
                    quoted(name)
                ),
            });
        }
    }
    Ok(())
}

/// Rows whose values decide the column types on the first attempt.
const QUICK_INFERENCE_ROWS: usize = 200;

/// Whether a column's type may have come from too few rows: a text or untyped column without
/// a value in the rows inference saw.
fn types_undecided(frame: &DataFrame) -> bool {
    let rows = frame.height().min(QUICK_INFERENCE_ROWS);
    frame.columns().iter().any(|column| {
        matches!(
            column.dtype(),
            polars::prelude::DataType::String | polars::prelude::DataType::Null
        ) && column.slice(0, rows).null_count() == rows
    })
}

/// Reads a CSV file into a DataFrame.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<DataFrame, PreparationError> {
    require_regular_file(path)?;
    let header = first_line(path)?;
    let delimiter = match options.delimiter {
        Some(d) => d,
        None => detect_delimiter(&header),
    };
    if !delimiter.is_ascii() || matches!(delimiter, '\n' | '\r' | '"') {
        return Err(PreparationError::Other(format!(
            "the delimiter must be one ASCII character other than a newline or a quote, got {delimiter:?}"
        )));
    }
    check_header(path, &header, delimiter)?;
    // polars' parser indexes out of bounds on a quote left open at the end of the file (a
    // lone `"` as the last field): refuse that before it reads.
    if let Some(line) = quote_never_closed(path)? {
        return Err(PreparationError::Format {
            path: path.to_path_buf(),
            message: format!(
                "line {line}: a quoted field is never closed (a \" without its partner)"
            ),
        });
    }
    let null_values = (!options.missing_markers.is_empty()).then(|| {
        NullValues::AllColumns(
            options
                .missing_markers
                .iter()
                .map(|m| PlSmallStr::from(m.as_str()))
                .collect(),
        )
    });
    let parse = CsvParseOptions::default()
        .with_separator(delimiter as u8)
        .with_null_values(null_values)
        .with_missing_is_null(true);
    let read = |infer: Option<usize>| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(infer)
            .with_parse_options(parse.clone())
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .map_err(|e| PreparationError::Io {
                path: path.to_path_buf(),
                message: shorten(&e.to_string(), 200),
            })?
            .finish()
            .map_err(|e| PreparationError::Format {
                path: path.to_path_buf(),
                message: diagnose(path, delimiter).unwrap_or_else(|| {
                    // A problem the scan does not recognise: polars' own words, cut to one line.
                    format!(
                        "the file cannot be read as CSV ({})",
                        shorten(&e.to_string().replace('\n', " "), 120)
                    )
                }),
            })
    };
    // Column types are inferred from the first rows (inference runs a pattern match on every
    // field it looks at, which on a large file costs more than the parse); when a later value
    // does not fit the type, or a column has no value in those rows, the whole file decides.
    let mut frame = match read(Some(QUICK_INFERENCE_ROWS)) {
        Ok(frame) if !types_undecided(&frame) => frame,
        _ => read(None)?,
    };
    // polars keeps the doubled quote of a quoted header field doubled (`"say ""hi"""` becomes
    // `say ""hi""`); RFC 4180 reads it as one quote.
    let doubled: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n.contains("\"\""))
        .collect();
    for name in doubled {
        let single = name.replace("\"\"", "\"");
        frame
            .rename(&name, single.into())
            .map_err(|e| PreparationError::Other(e.to_string()))?;
    }
    // A UTF-8 byte-order mark ends up in the first column's name.
    if let Some(first) = frame.get_column_names().first().map(|n| n.to_string())
        && let Some(stripped) = first.strip_prefix('\u{feff}')
    {
        let stripped = stripped.to_string();
        frame
            .rename(&first, stripped.into())
            .map_err(|e| PreparationError::Other(e.to_string()))?;
    }
    Ok(frame)
}

/// Reads the file at `path` in 64 KiB chunks, handing each to `f`.
fn each_chunk(path: &Path, mut f: impl FnMut(&[u8])) -> Result<(), PreparationError> {
    use std::io::Read;
    let io_error = |e: std::io::Error| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(io_error)?;
        if read == 0 {
            return Ok(());
        }
        f(&buffer[..read]);
    }
}

/// The line on which a quote opens that the rest of the file never closes (quotes toggle, as in
/// RFC 4180, where a doubled quote inside a quoted field toggles twice).
fn quote_never_closed(path: &Path) -> Result<Option<usize>, PreparationError> {
    // Quotes toggle, so one is left open exactly when there is an odd number of them: count
    // first (a loop the compiler vectorises), find the line only then.
    let mut quotes = 0usize;
    each_chunk(path, |bytes| {
        quotes += bytes.iter().filter(|&&b| b == b'"').count();
    })?;
    if quotes.is_multiple_of(2) {
        return Ok(None);
    }
    let (mut in_quotes, mut line, mut opened_at) = (false, 1usize, 0usize);
    each_chunk(path, |bytes| {
        for &byte in bytes {
            match byte {
                b'"' => {
                    in_quotes = !in_quotes;
                    if in_quotes {
                        opened_at = line;
                    }
                }
                b'\n' => line += 1,
                _ => {}
            }
        }
    })?;
    Ok(in_quotes.then_some(opened_at))
}

/// Scans the file for the first problem a CSV reader trips on: a line that is not UTF-8, a row
/// with a different number of fields than the header, a quote never closed. Returns the message,
/// or `None` when the scan finds nothing.
pub fn diagnose(path: &Path, delimiter: char) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = std::io::BufReader::new(file);
    let delimiter = delimiter as u8;
    let mut line_number = 0usize;
    let mut header_fields: Option<usize> = None;
    let mut in_quotes = false;
    let mut quote_opened_at = 0usize;
    let mut fields = 1usize;
    let mut record_start = 1usize;
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer).ok()?;
        if read == 0 {
            break;
        }
        line_number += 1;
        if let Err(e) = std::str::from_utf8(&buffer) {
            // The byte-order mark is UTF-8; anything else that fails is not.
            return Some(format!(
                "line {line_number}, byte {}: not valid UTF-8; save the file as UTF-8",
                e.valid_up_to() + 1
            ));
        }
        let mut content: &[u8] = &buffer;
        if content.last() == Some(&b'\n') {
            content = &content[..content.len() - 1];
        }
        if content.last() == Some(&b'\r') && !in_quotes {
            content = &content[..content.len() - 1];
        }
        if !in_quotes {
            record_start = line_number;
            fields = 1;
            if content.is_empty() {
                continue;
            }
        }
        for &byte in content {
            if byte == b'"' {
                in_quotes = !in_quotes;
                if in_quotes {
                    quote_opened_at = line_number;
                }
            } else if byte == delimiter && !in_quotes {
                fields += 1;
            }
        }
        if in_quotes {
            continue;
        }
        match header_fields {
            None => header_fields = Some(fields),
            Some(expected) if fields != expected => {
                return Some(format!(
                    "line {record_start} has {fields} fields but the header has {expected}{}",
                    if fields > expected {
                        " (a stray delimiter, or an unquoted value containing one?)"
                    } else {
                        ""
                    }
                ));
            }
            Some(_) => {}
        }
    }
    if in_quotes {
        return Some(format!(
            "line {quote_opened_at}: a quoted field is never closed (a \" without its partner)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_with_quotes() {
        assert_eq!(split_fields("a,\"b,c\",d", ','), vec!["a", "b,c", "d"]);
        assert_eq!(split_fields("\"x\"\"y\";z", ';'), vec!["x\"y", "z"]);
    }
}
