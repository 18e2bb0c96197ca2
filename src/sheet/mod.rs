//! CSV bytes → a header and rows of text cells, each with the line it starts on.
//!
//! Spreadsheet exports are messy, so this reads what people actually have: UTF-8 with or
//! without a BOM, CRLF, quoted cells with line breaks, `,` `;` or tab delimiters (detected
//! from the header line, or named by Excel's `sep=;` first line), blank and all-empty rows
//! (skipped). What it cannot read safely it refuses with the line: other encodings, NUL
//! bytes, a quote that never closes, a `sep=` line naming a character that cannot be a
//! delimiter. Rows whose cell count differs from the header's, and cells holding text no
//! spreadsheet writes (control characters, a stray byte order mark, garbled UTF-8; see
//! `cells`), are reported all together in [`Sheet::problems`] so the planner can add its own.
//!
//! Cells are never interpreted here: `=HYPERLINK(...)` is just text. The one change made to
//! a cell is taking off the `'` that this tool's own `failed.csv` puts before formula-like
//! text ([`undefuse`]), so that a fixed `failed.csv` plans exactly the rows it came from.

mod cells;
mod detect;
mod diagnostic;
mod records;
pub mod remote;
pub mod workbook;

pub use cells::{formula_like, mojibake, undefuse};
pub use detect::UTF8_BOM;
pub use diagnostic::{printable, shorten, Diagnostic};
pub use records::Records;
pub use workbook::{Kind, Tab};

use detect::LineCounter;

/// How the file was written, so that files written back (`failed.csv`) match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetFormat {
    /// `b','`, `b';'` or `b'\t'`.
    pub delimiter: u8,
    /// The header cells as written (untrimmed, [`undefuse`]d, a stray byte order mark
    /// taken out after it was reported).
    pub headers: Vec<String>,
    /// Whether the file began with a UTF-8 byte order mark.
    pub bom: bool,
    /// Whether the file began with Excel's `sep=X` line.
    pub sep_line: bool,
    /// Whether lines end with CRLF (judged from the first line).
    pub crlf: bool,
}

/// One record of the sheet below the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line in the file where the record starts.
    pub line: u64,
    /// The cells as written (untrimmed, [`undefuse`]d), exactly as many as the header has.
    pub cells: Vec<String>,
}

/// A sheet read from bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// How the file was written.
    pub format: SheetFormat,
    /// Line of the header record.
    pub header_line: u64,
    /// The data rows, all-empty rows left out.
    pub rows: Vec<Row>,
    /// Rows that could not be read as cells of the header's columns (ragged rows).
    pub problems: Vec<Diagnostic>,
    /// How many all-empty rows were skipped.
    pub empty_rows: usize,
}

/// Why a file could not be read as a sheet at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// Not UTF-8 text.
    #[error("line {line} (byte {byte}): not UTF-8 text: {hint}")]
    NotUtf8 {
        /// Line of the first bad byte.
        line: u64,
        /// Offset of the first bad byte.
        byte: u64,
        /// What the file probably is and how to save it as UTF-8.
        hint: String,
    },
    /// Readable text, but not as CSV (NUL byte, unclosed quote).
    #[error("{0}")]
    Malformed(Diagnostic),
    /// No header row (the file is empty or blank).
    #[error("the file is empty: expected a header row naming the columns, then one row per video or scene")]
    Empty,
    /// A workbook that cannot be read (damaged, a zip bomb, too large, no such tab), or a
    /// file named like a workbook that is not one.
    #[error("{0}")]
    Workbook(String),
    /// A header and nothing below it.
    #[error("line {header_line} is a header, but no rows follow it: add one row per video (or per scene)")]
    HeaderOnly {
        /// Line of the header.
        header_line: u64,
    },
}

/// Reads a sheet of `kind`: a CSV file, or tab `tab` (else the first) of a workbook, with
/// where that tab is.
pub fn read_as(
    bytes: &[u8],
    kind: Kind,
    tab: Option<&str>,
) -> Result<(Sheet, Option<Tab>), SheetError> {
    match kind {
        Kind::Csv if tab.is_some() => Err(SheetError::Workbook(
            "--sheet names a tab of a workbook, but this sheet is CSV text (one table)".into(),
        )),
        Kind::Csv => read(bytes).map(|s| (s, None)),
        _ => workbook::read(bytes, kind, tab).map(|(s, t)| (s, Some(t))),
    }
}

/// Reads a whole CSV file.
pub fn read(bytes: &[u8]) -> Result<Sheet, SheetError> {
    detect::check_encoding(bytes)?;
    let bom = bytes.starts_with(UTF8_BOM);
    let mut start = if bom { UTF8_BOM.len() } else { 0 };
    let sep = detect::sep_line(&bytes[start..]);
    let delimiter = match sep {
        Some((d, _)) if !detect::can_delimit(d) => {
            return Err(SheetError::Malformed(Diagnostic::line(
                1,
                format!(
                    "the sep= line names {} as the delimiter, which cannot separate cells; \
                     write sep=, or sep=; or sep=| (or a tab), or delete the line",
                    char::from(d).escape_default()
                ),
            )))
        }
        Some((d, len)) => {
            start += len;
            d
        }
        None => detect::delimiter(&bytes[start..]),
    };
    let text = &bytes[start..];
    if let Some(at) = detect::unclosed_quote(text, delimiter) {
        return Err(SheetError::Malformed(Diagnostic::line(
            detect::line_of(bytes, start + at),
            "a quoted cell opens here and is never closed (a missing `\"`); everything after \
             it would be read as one cell",
        )));
    }
    let crlf = text
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && text[i - 1] == b'\r');

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
    let mut lines = LineCounter::new();
    let mut record = csv::ByteRecord::new();
    let mut header: Option<(u64, Vec<String>)> = None;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut empty_rows = 0;
    // The text is valid UTF-8 and every quote closes, so reading cannot fail; a failure
    // would end the loop rather than panic.
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let line = record_line(bytes, start, &record, &mut lines);
        let cells: Vec<String> = record
            .iter()
            .map(|c| undefuse(&String::from_utf8_lossy(c)).to_owned())
            .collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            if header.is_some() {
                empty_rows += 1;
            }
            continue;
        }
        let Some((_, headers)) = &header else {
            header = Some((line, read_header(line, cells, &mut problems)));
            continue;
        };
        let cells = match fit(cells, headers.len()) {
            Ok(cells) => cells,
            Err(cells) => {
                problems.push(ragged(line, &cells, headers.len(), delimiter));
                continue;
            }
        };
        let unreadable: Vec<Diagnostic> = cells
            .iter()
            .zip(headers)
            .filter_map(|(cell, h)| {
                cells::problem(cell).map(|m| Diagnostic::cell(line, h.trim(), Some(cell), m))
            })
            .collect();
        if unreadable.is_empty() {
            rows.push(Row { line, cells });
        } else {
            problems.extend(unreadable);
        }
    }
    let Some((header_line, headers)) = header else {
        return Err(SheetError::Empty);
    };
    if rows.is_empty() && problems.is_empty() {
        return Err(SheetError::HeaderOnly { header_line });
    }
    Ok(Sheet {
        format: SheetFormat {
            delimiter,
            headers,
            bom,
            sep_line: sep.is_some(),
            crlf,
        },
        header_line,
        rows,
        problems,
        empty_rows,
    })
}

/// `,` `;` or `tab`, for messages.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_owned(),
        d => format!("`{}`", char::from(d)),
    }
}

/// The line a record starts on. The csv crate's own count ignores blank lines and CRLF, so
/// take its byte offset (just after the previous record), skip line breaks, and count.
fn record_line(
    bytes: &[u8],
    start: usize,
    record: &csv::ByteRecord,
    lines: &mut LineCounter,
) -> u64 {
    let mut at = start + record.position().map_or(0, |p| p.byte() as usize);
    while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
        at += 1;
    }
    lines.line_at(bytes, at)
}

/// The header's cells, each checked like any cell. A stray byte order mark is taken out
/// once reported, so that the column still resolves and the problem is reported once.
fn read_header(line: u64, cells: Vec<String>, problems: &mut Vec<Diagnostic>) -> Vec<String> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| match cells::problem(&cell) {
            Some(m) => {
                problems.push(Diagnostic::cell(
                    line,
                    &format!("#{}", i + 1),
                    Some(&cell),
                    format!("(the header) {m}"),
                ));
                cell.replace('\u{feff}', "")
            }
            None => cell,
        })
        .collect()
}

/// The row's cells, or them back when their count differs from the header's. No leniency
/// for blank extra cells: a value with an unquoted delimiter shifts the rest of its row, and
/// when the last cell happens to be empty that shift would otherwise go unnoticed.
fn fit(cells: Vec<String>, width: usize) -> Result<Vec<String>, Vec<String>> {
    if cells.len() == width {
        Ok(cells)
    } else {
        Err(cells)
    }
}

/// A row whose cell count differs from the header's, saying why when it can tell: a row
/// written with another delimiter than the header's has that delimiter in its cells just
/// often enough to make up the difference.
fn ragged(line: u64, cells: &[String], width: usize, delimiter: u8) -> Diagnostic {
    let n = cells.len();
    let other = [b',', b';', b'\t']
        .into_iter()
        .filter(|&d| d != delimiter)
        .find(|&d| {
            let found: usize = cells.iter().map(|c| c.matches(char::from(d)).count()).sum();
            found > 0 && n + found == width
        });
    let why = match other {
        Some(d) => format!(
            "the line seems to be separated by {} while the header uses {}; use one \
             delimiter in the whole file",
            delimiter_name(d),
            delimiter_name(delimiter)
        ),
        None => format!(
            "a cell is missing or a value contains an unquoted {}",
            delimiter_name(delimiter)
        ),
    };
    Diagnostic::line(
        line,
        format!("has {n} cells but the header has {width}; {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(sheet: &Sheet) -> Vec<u64> {
        sheet.rows.iter().map(|r| r.line).collect()
    }

    #[test]
    fn line_numbers_count_crlf_blank_lines_and_multiline_cells() {
        let s = read(b"a,b\r\n\r\n1,\"x\r\ny\"\r\n2,z\r\n\r\n").unwrap();
        assert_eq!(lines(&s), [3, 5]);
        assert!(s.format.crlf);
        assert_eq!(s.rows[0].cells, ["1", "x\r\ny"]);
    }

    #[test]
    fn bom_and_sep_line_are_consumed_and_remembered() {
        let s = read(b"\xEF\xBB\xBFsep=;\r\na;b\r\n1;2\r\n").unwrap();
        assert!(s.format.bom && s.format.sep_line);
        assert_eq!(s.format.delimiter, b';');
        assert_eq!(s.format.headers, ["a", "b"]);
        assert_eq!((s.header_line, lines(&s)), (2, vec![3]));
    }

    #[test]
    fn ragged_rows_are_reported_even_when_the_extra_cell_is_blank() {
        let s = read(b"a,b,c\n1,2\n1,2,3\n1,2,3,\n").unwrap();
        assert_eq!(lines(&s), [3]);
        let msgs: Vec<String> = s.problems.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "line 2: has 2 cells but the header has 3; a cell is missing or a value contains an unquoted `,`",
                "line 4: has 4 cells but the header has 3; a cell is missing or a value contains an unquoted `,`",
            ]
        );
    }

    #[test]
    fn empty_header_only_and_all_blank_files_are_refused() {
        assert_eq!(read(b""), Err(SheetError::Empty));
        assert_eq!(read(b"\r\n,,\n\n"), Err(SheetError::Empty));
        assert_eq!(
            read(b"\n\na,b\n,\n"),
            Err(SheetError::HeaderOnly { header_line: 3 })
        );
    }

    #[test]
    fn unclosed_quote_names_the_line_it_opened_on() {
        let e = read(b"a,b\n1,2\n3,\"oops\n4,5\n").unwrap_err();
        match e {
            SheetError::Malformed(d) => assert_eq!(d.line, 3),
            other => panic!("{other:?}"),
        }
    }
}
