//! CSV sources: header row, delimiter detected (comma, semicolon, tab) or given, quoted fields,
//! UTF-8 with or without BOM, configurable missing-value markers, column types inferred. Read by
//! polars straight from the file (memory-mapped), so a large file is not copied.

use std::io::Read;
use std::path::Path;

use polars::prelude::{
    CsvParseOptions, CsvReadOptions, DataFrame, NullValues, PlSmallStr, SerReader,
};
use serde::{Deserialize, Serialize};

use super::PreparationError;

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

/// Reads the first line of the file (up to 64 KiB) to check it and detect the delimiter.
fn first_line(path: &Path) -> Result<String, PreparationError> {
    let io = |e: std::io::Error| PreparationError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut filled = 0;
    loop {
        let n = file.read(&mut buffer[filled..]).map_err(io)?;
        if n == 0 {
            break;
        }
        filled += n;
        if filled == buffer.len() || buffer[..filled].contains(&b'\n') {
            break;
        }
    }
    buffer.truncate(filled);
    if buffer.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PreparationError::Empty(path.to_path_buf()));
    }
    let end = buffer
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(buffer.len());
    let line = &buffer[..end];
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.contains(&0) {
        return Err(PreparationError::Format {
            path: path.to_path_buf(),
            message: "this is not a CSV file (it contains binary data)".into(),
        });
    }
    String::from_utf8(line.to_vec()).map_err(|e| PreparationError::Format {
        path: path.to_path_buf(),
        message: format!(
            "line 1 is not valid UTF-8 (byte {}); save the file as UTF-8",
            e.utf8_error().valid_up_to() + 1
        ),
    })
}

/// Reads a CSV file into a DataFrame.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<DataFrame, PreparationError> {
    let header = first_line(path)?;
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| detect_delimiter(&header));
    if !delimiter.is_ascii() {
        return Err(PreparationError::Other(format!(
            "the delimiter must be a single ASCII character, got {delimiter:?}"
        )));
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
    let reader = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(10_000))
        .with_parse_options(parse)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .map_err(|e| PreparationError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut frame = reader.finish().map_err(|e| PreparationError::Format {
        path: path.to_path_buf(),
        message: explain_csv_error(&e.to_string()),
    })?;
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

fn explain_csv_error(message: &str) -> String {
    if message.contains("found more fields than defined in 'Schema'") {
        format!("a row has more fields than the header (ragged rows): {message}")
    } else if message.contains("invalid utf-8") || message.contains("invalid utf8") {
        format!("the file is not valid UTF-8; save it as UTF-8 ({message})")
    } else {
        message.to_string()
    }
}
