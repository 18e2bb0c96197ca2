//! What the csv crate does not tell us: the encoding is UTF-8, the delimiter, Excel's `sep=`
//! line, where a quote was opened and never closed, and on which line a byte sits.
//!
//! Hand-written because csv (rightly) reads bytes without judging them: it neither rejects
//! Windows-1252 nor reports an unclosed quote (it reads to the end of the file), and its
//! line numbers ignore blank lines and CRLF. These scans are linear and allocation-free.

use super::{Diagnostic, SheetError};

/// The UTF-8 byte order mark Excel writes in "CSV UTF-8" files.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const EXCEL_HINT: &str = "save it as UTF-8: in Excel, File > Save As > \"CSV UTF-8 (Comma \
    delimited)\"; in LibreOffice, Save As > Text CSV, tick \"Edit filter settings\" and pick \
    Unicode (UTF-8); in Google Sheets, File > Download > CSV";

/// Refuses anything that is not UTF-8 text, saying where and how to fix it.
pub fn check_encoding(bytes: &[u8]) -> Result<(), SheetError> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(SheetError::NotUtf8 {
            line: 1,
            byte: 0,
            hint: format!(
                "the file is UTF-16 (Excel's \"Unicode Text\" format), not UTF-8; {EXCEL_HINT}"
            ),
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(SheetError::Malformed(Diagnostic::line(
            line_of(bytes, at),
            format!(
                "NUL byte at byte {at}: this is not a text CSV file (a UTF-16 export, or a \
                 spreadsheet's binary format such as .xlsx?); {EXCEL_HINT}"
            ),
        )));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let found = bytes.get(at).copied().unwrap_or_default();
        return Err(SheetError::NotUtf8 {
            line: line_of(bytes, at),
            byte: at as u64,
            hint: format!(
                "byte 0x{found:02X} is not UTF-8; the file looks like it was saved in a legacy \
                 encoding such as Windows-1252 or Latin-1 (accents and symbols would be \
                 garbled); {EXCEL_HINT}"
            ),
        });
    }
    Ok(())
}

/// The 1-based line holding byte `at`.
pub fn line_of(bytes: &[u8], at: usize) -> u64 {
    1 + count_newlines(&bytes[..at.min(bytes.len())])
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Turns increasing byte offsets into line numbers in one pass over the file.
pub struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    /// Starts at byte 0, line 1.
    pub fn new() -> Self {
        Self { pos: 0, line: 1 }
    }

    /// The line holding byte `at`; offsets must not decrease between calls.
    pub fn line_at(&mut self, bytes: &[u8], at: usize) -> u64 {
        let at = at.min(bytes.len());
        if at > self.pos {
            self.line += count_newlines(&bytes[self.pos..at]);
            self.pos = at;
        }
        self.line
    }
}

/// Excel's `sep=;` first line: the delimiter it names and the length of the line with its
/// line break.
pub fn sep_line(text: &[u8]) -> Option<(u8, usize)> {
    let prefix = text.get(..4)?;
    if !prefix.eq_ignore_ascii_case(b"sep=") {
        return None;
    }
    let delimiter = *text.get(4)?;
    let mut end = 5;
    // Some writers pad it (`sep=; `); accept trailing spaces.
    while text.get(end) == Some(&b' ') {
        end += 1;
    }
    match text.get(end) {
        None => Some((delimiter, end)),
        Some(b'\r') if text.get(end + 1) == Some(&b'\n') => Some((delimiter, end + 2)),
        Some(b'\r' | b'\n') => Some((delimiter, end + 1)),
        Some(_) => None,
    }
}

/// Whether Excel's `sep=` line may name `d`: a tab or ASCII punctuation other than the
/// quote. Anything else (a letter, a space, a line break, `"`) would tear cells apart.
pub fn can_delimit(d: u8) -> bool {
    d == b'\t' || (d.is_ascii_punctuation() && d != b'"')
}

/// The delimiter of the header (first non-blank) line: whichever of `,` `;` tab occurs most outside quotes
/// (ties go to `,`, then `;`). A one-column sheet has none and reads as `,`.
pub fn delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    // The header is the first non-blank line (csv skips blank lines too).
    let start = text
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(text.len());
    for &b in &text[start..] {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    candidates[best]
}

/// The offset of a quote that opens a field and is never closed, following the csv crate's
/// rules: a quote opens a field only at its start, `""` inside is a literal quote.
pub fn unclosed_quote(text: &[u8], delimiter: u8) -> Option<usize> {
    #[derive(Clone, Copy)]
    enum S {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = S::FieldStart;
    let mut opened = 0;
    for (i, &b) in text.iter().enumerate() {
        state = match state {
            S::FieldStart | S::Unquoted if b == delimiter || b == b'\n' || b == b'\r' => {
                S::FieldStart
            }
            S::FieldStart if b == b'"' => {
                opened = i;
                S::Quoted
            }
            S::FieldStart | S::Unquoted => S::Unquoted,
            S::Quoted if b == b'"' => S::QuoteInQuoted,
            S::Quoted => S::Quoted,
            S::QuoteInQuoted if b == b'"' => S::Quoted,
            S::QuoteInQuoted if b == delimiter || b == b'\n' || b == b'\r' => S::FieldStart,
            S::QuoteInQuoted => S::Unquoted,
        };
    }
    matches!(state, S::Quoted).then_some(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(delimiter(b"a,b,c\n"), b',');
        assert_eq!(delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(delimiter(b"\"a;b;c\",d\n"), b',');
        assert_eq!(delimiter(b"script\n"), b',');
        assert_eq!(delimiter(b"\r\n\nkey;script;avatar\n"), b';');
    }

    #[test]
    fn sep_line_is_recognised() {
        assert_eq!(sep_line(b"sep=;\r\na;b"), Some((b';', 7)));
        assert_eq!(sep_line(b"SEP=\t\n"), Some((b'\t', 6)));
        assert_eq!(sep_line(b"sep=,"), Some((b',', 5)));
        assert_eq!(sep_line(b"sep=;x\n"), None);
        assert_eq!(sep_line(b"script,avatar"), None);
    }

    #[test]
    fn unclosed_quotes_are_found_where_they_open() {
        assert_eq!(unclosed_quote(b"a,\"b\nc\"\"d\n", b','), Some(2));
        assert_eq!(unclosed_quote(b"a,\"b\"\"\"\n", b','), None);
        assert_eq!(unclosed_quote(b"a,b\"c\n", b','), None);
        assert_eq!(unclosed_quote(b"a,\"b\"x,\"c", b','), Some(7));
    }

    #[test]
    fn windows_1252_is_refused_with_its_line() {
        let e = check_encoding(b"a,b\nCaf\xE9,1\n").unwrap_err();
        match e {
            SheetError::NotUtf8 { line, byte, hint } => {
                assert_eq!((line, byte), (2, 7));
                assert!(
                    hint.contains("0xE9") && hint.contains("CSV UTF-8"),
                    "{hint}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
