//! A problem found at a place in a sheet: a line, maybe a column, maybe the value there.

use std::fmt;

/// One problem (or warning) at a place in the sheet.
///
/// Displays as `line 7, column caption_style: unknown value "normal-blak" (did you mean
/// "normal-black"?)`, with `warning: ` before the message for a warning. The message already quotes the value where that helps, shortened;
/// `value` keeps it whole for machine output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line in the file where the record starts.
    pub line: u64,
    /// The column's header as written (trimmed), or `None` when the problem is not about
    /// one column (or the value came from `[defaults]`).
    pub column: Option<String>,
    /// The cell's text, when there is one.
    pub value: Option<String>,
    /// What is wrong and, when known, what to do.
    pub message: String,
    /// A warning: the value is sent as written, but looks like a mistake.
    pub warning: bool,
    /// In a workbook, the place as the spreadsheet names it (`Sheet1!C7`, `Sheet1 row 7`),
    /// shown instead of the line.
    pub at: Option<String>,
}

impl Diagnostic {
    /// A problem with a whole line.
    pub fn line(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            value: None,
            message: message.into(),
            warning: false,
            at: None,
        }
    }

    /// A problem with one cell.
    pub fn cell(line: u64, column: &str, value: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            line,
            column: Some(column.to_owned()),
            value: value.map(str::to_owned),
            message: message.into(),
            warning: false,
            at: None,
        }
    }

    /// This diagnostic as a warning.
    pub fn warn(mut self) -> Self {
        self.warning = true;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => f.write_str(at)?,
            None => write!(f, "line {}", self.line)?,
        }
        if let Some(c) = &self.column {
            write!(f, ", column {}", printable(c, 40))?;
        }
        let kind = if self.warning { "warning: " } else { "" };
        write!(f, ": {kind}{}", self.message)
    }
}

/// Like [`shorten`], for text printed as it is (a column's header, a cell in the plan's
/// table): control characters and text-direction overrides are shown escaped (`\u{1b}`), so
/// that text from a sheet cannot move, hide or recolor what a terminal shows. (Quoted values
/// need none of this: `{:?}` escapes them already.)
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in shorten(s, max).chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` cut to at most `max` characters, with `…` marking the cut; newlines shown as `⏎` so a
/// message stays on one line.
pub fn shorten(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (n, c) in s.chars().enumerate() {
        if n + 1 == max && s.chars().nth(max).is_some() {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push('⏎'),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_line_column_message() {
        let d = Diagnostic::cell(7, "caption_style", Some("normal-blak"), "unknown value");
        assert_eq!(d.to_string(), "line 7, column caption_style: unknown value");
        assert_eq!(Diagnostic::line(3, "x").to_string(), "line 3: x");
        assert_eq!(
            Diagnostic::line(3, "x").warn().to_string(),
            "line 3: warning: x"
        );
        let mut d = Diagnostic::cell(7, "caption_style", None, "unknown value");
        d.at = Some("Sheet1!C7".into());
        assert_eq!(
            d.to_string(),
            "Sheet1!C7, column caption_style: unknown value"
        );
    }

    #[test]
    fn shorten_cuts_long_text_and_flattens_newlines() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("a\r\nb", 10), "a⏎b");
        assert_eq!(shorten("ñññññ", 4), "ñññ…");
        assert_eq!(
            printable("a\tb\u{1b}[2J\u{202e}c⏎", 20),
            "a\\tb\\u{1b}[2J\\u{202e}c⏎"
        );
    }
}
