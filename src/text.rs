//! Text for messages: values from the user's data shortened and made printable, so that every
//! error stays one readable line however long or strange the value that caused it.

/// `value` with control characters escaped (`\n`, `\t`, `\0`, `\u{1b}`) and cut to at most
/// `max_chars` characters, ending in "…" when cut.
pub fn shorten(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut shown = 0usize;
    for ch in value.chars() {
        let piece: String = match ch {
            '\n' => "\\n".into(),
            '\r' => "\\r".into(),
            '\t' => "\\t".into(),
            '\0' => "\\0".into(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        };
        let width = piece.chars().count();
        if shown + width > max_chars {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        shown += width;
    }
    out
}

/// A value quoted for a message: `"value"`, shortened to 60 characters.
pub fn quoted(value: &str) -> String {
    format!("\"{}\"", shorten(value, 60))
}

/// Makes a message one line: newlines and other control characters escaped, and the whole cut
/// to `max_chars` characters.
pub fn one_line(message: &str, max_chars: usize) -> String {
    shorten(message, max_chars)
}

/// Bytes as a size for people: "3.2 GB", "640 MB", "12 KB".
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `1234567` as `1,234,567`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A p-value for a table: four decimals, "< .0001" below that, "–" when it is not a number.
pub fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 0.0001 {
        "< .0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// A number with `decimals` decimals, "–" when it is not finite.
pub fn fixed(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "–".into()
    }
}

/// [`fixed`] of a value that may be absent ("–").
pub fn fixed_opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or("–".into(), |x| fixed(x, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_and_escapes() {
        assert_eq!(shorten("abc", 10), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("a\nb\0", 10), "a\\nb\\0");
        assert_eq!(shorten(&"x".repeat(10_000_000), 60).chars().count(), 61);
        assert_eq!(quoted("Q1"), "\"Q1\"");
        assert_eq!(human_bytes(3.2e9), "3.2 GB");
        assert_eq!(human_bytes(640e6), "640 MB");
    }
}
