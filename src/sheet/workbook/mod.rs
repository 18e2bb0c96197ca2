//! Workbook bytes (`.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods`) → the same [`Sheet`] the CSV
//! reader gives, read with calamine, one tab: the first visible one or the one named.
//!
//! Cells are turned into the text a person sees in the cell, so that the planner reads a
//! workbook exactly as it reads the CSV the same person would export: whole numbers stay whole
//! (`7`, not `7.0`), text stays text (`007` typed as text is `007`), dates become ISO dates
//! (`2026-03-01`, or `2026-03-01T09:30:00` with a time), booleans `true`/`false`, formulas
//! their saved (cached) value. What cannot be shown that way is a problem naming the cell as
//! the spreadsheet does (`Sheet1!C7`): an error value (`#DIV/0!`), a formula saved without a
//! value.
//!
//! Rows keep their spreadsheet row number as their "line". Merged cells: a cell merged down
//! over several rows gives its value to each of them (a `video` cell merged over a video's
//! scene rows, an avatar merged over three scripts), a merge across columns stays in its first
//! column. Hidden rows and columns are read like the others (hiding is a view). All-empty rows
//! are skipped, as in a CSV.
//!
//! Hostile files are refused before they cost memory: a zip-based workbook is decompressed
//! once through a counting reader and refused past [`MAX_UNPACKED`] bytes (a zip bomb), and a
//! tab past [`MAX_CELLS`] filled cells, [`MAX_TEXT`] bytes of text, [`MAX_ROWS`] rows or
//! [`MAX_COLUMNS`] columns is refused with the cell where it goes too far. Nothing here
//! panics on bad bytes: calamine's errors become [`SheetError::Workbook`].

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Dimensions, Reader, SheetVisible};

use super::{cells, Diagnostic, Row, Sheet, SheetError, SheetFormat};

mod guard;
mod kind;
mod shown;

use guard::guard_zip;
pub use kind::Kind;
use shown::{shown_data, shown_ref};

/// Largest total of a zip-based workbook's unpacked parts: a 100k-row sheet of scripts is
/// well under it; a zip bomb is far over it.
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// Most text (bytes) read from one tab's cells: a 100k-row sheet of scripts holds well under
/// 100 MiB; one shared string repeated in every cell of a small file could hold gigabytes.
pub const MAX_TEXT: u64 = 256 * 1024 * 1024;
/// Most filled cells read from one tab.
pub const MAX_CELLS: usize = 5_000_000;
/// Most rows (below the header) read from one tab.
pub const MAX_ROWS: u32 = 1_000_000;
/// Most columns: a sheet of scripts has tens; a cell far to the right is a stray.
pub const MAX_COLUMNS: u32 = 1_000;

/// Where a workbook's tab is, to name its cells as the spreadsheet does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    /// The tab's name.
    pub name: String,
    /// 0-based column of the first header cell.
    pub first_column: u32,
    /// Every tab of the workbook, in order.
    pub tabs: Vec<String>,
    /// Cells that took a merged cell's value.
    pub merged_cells: usize,
}

impl Tab {
    /// `Sheet1!C7` for the cell under header number `index` on spreadsheet row `row`.
    pub fn cell(&self, index: usize, row: u64) -> String {
        format!(
            "{}!{}{row}",
            quote_tab(&self.name),
            column_letters(self.first_column + index as u32)
        )
    }

    /// `Sheet1 row 7`.
    pub fn row(&self, row: u64) -> String {
        format!("{} row {row}", quote_tab(&self.name))
    }

    /// Names the place of `d` in this tab (its column found among `headers`).
    pub fn place(&self, d: &mut Diagnostic, headers: &[String]) {
        let index = d.column.as_deref().and_then(|c| {
            headers
                .iter()
                .position(|h| h.trim() == c)
                .or_else(|| c.strip_prefix('#')?.parse::<usize>().ok()?.checked_sub(1))
        });
        d.at = Some(match index {
            Some(i) => self.cell(i, d.line),
            None => self.row(d.line),
        });
    }
}

/// A tab's name as a formula would write it: quoted when it holds more than letters, digits
/// and `_`.
fn quote_tab(name: &str) -> String {
    if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// `A`, `Z`, `AA`, … for a 0-based column.
pub fn column_letters(mut col: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// One cell as read: the text a person sees, or why it has none.
enum Cell {
    Text(String),
    Problem(String),
}

/// Reads tab `tab` (or the first visible one) of a workbook of `kind`.
pub fn read(bytes: &[u8], kind: Kind, tab: Option<&str>) -> Result<(Sheet, Tab), SheetError> {
    if matches!(kind, Kind::Xlsx | Kind::Xlsb | Kind::Ods) {
        guard_zip(bytes)?;
    }
    let bad = |e: &dyn std::fmt::Display| {
        SheetError::Workbook(format!(
            "cannot read the workbook ({e}); it may be damaged or truncated: open it in your \
             spreadsheet program and save it again"
        ))
    };
    let cursor = Cursor::new(bytes);
    let mut book: calamine::Sheets<Cursor<&[u8]>> = match kind {
        Kind::Xlsx => calamine::Sheets::Xlsx(calamine::Xlsx::new(cursor).map_err(|e| bad(&e))?),
        Kind::Xls => calamine::Sheets::Xls(calamine::Xls::new(cursor).map_err(|e| bad(&e))?),
        Kind::Xlsb => calamine::Sheets::Xlsb(calamine::Xlsb::new(cursor).map_err(|e| bad(&e))?),
        Kind::Ods => calamine::Sheets::Ods(calamine::Ods::new(cursor).map_err(|e| bad(&e))?),
        Kind::Csv => return Err(SheetError::Workbook("a CSV file is not a workbook".into())),
    };
    let meta = book.sheets_metadata().to_vec();
    let tabs: Vec<String> = meta.iter().map(|s| s.name.clone()).collect();
    let name = pick_tab(&meta, &tabs, tab)?;
    let mut cells: BTreeMap<u32, BTreeMap<u32, Cell>> = BTreeMap::new();
    let (mut count, mut bytes) = (0usize, 0u64);
    let mut put = |cells: &mut BTreeMap<u32, BTreeMap<u32, Cell>>, r: u32, c: u32, cell: Cell| {
        count += 1;
        // One shared string can stand in many cells: what they hold once read is what counts.
        bytes += match &cell {
            Cell::Text(t) | Cell::Problem(t) => t.len() as u64,
        };
        if count > MAX_CELLS || bytes > MAX_TEXT {
            return Err(SheetError::Workbook(format!(
                "tab {name:?} has more than {MAX_CELLS} filled cells or {} MiB of text; split \
                 it into smaller sheets",
                MAX_TEXT / (1024 * 1024)
            )));
        }
        if c >= MAX_COLUMNS {
            return Err(SheetError::Workbook(format!(
                "tab {name:?} has a cell at {}{} (column {}), past the {MAX_COLUMNS} columns a \
                 sheet of videos can have; delete what is there",
                column_letters(c),
                r + 1,
                c + 1
            )));
        }
        cells.entry(r).or_default().insert(c, cell);
        Ok(())
    };
    match &mut book {
        calamine::Sheets::Xlsx(x) => {
            let mut reader = x.worksheet_cells_reader(&name).map_err(|e| bad(&e))?;
            while let Some(cell) = reader.next_cell_with_formula().map_err(|e| bad(&e))? {
                let (r, c) = cell.pos;
                let shown = match (cell.value, cell.formula) {
                    (DataRef::Empty, Some(f)) if !f.is_empty() => Some(no_cached(&f)),
                    (v, _) => shown_ref(v),
                };
                if let Some(shown) = shown {
                    put(&mut cells, r, c, shown)?;
                }
            }
        }
        calamine::Sheets::Xlsb(x) => {
            // Excel is the one program writing .xlsb, and it always saves formula values.
            let mut reader = x.worksheet_cells_reader(&name).map_err(|e| bad(&e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| bad(&e))? {
                let (r, c) = cell.get_position();
                if let Some(shown) = shown_ref(cell.get_value().clone()) {
                    put(&mut cells, r, c, shown)?;
                }
            }
        }
        other => {
            let range = other.worksheet_range(&name).map_err(|e| bad(&e))?;
            let formulas = other.worksheet_formula(&name).ok();
            for (r, c, v) in range.used_cells() {
                let (r, c) = (
                    r as u32 + range.start().map_or(0, |s| s.0),
                    c as u32 + range.start().map_or(0, |s| s.1),
                );
                if let Some(shown) = shown_data(v) {
                    put(&mut cells, r, c, shown)?;
                }
            }
            if let Some(f) = formulas {
                for (r, c, text) in f.used_cells() {
                    let (r, c) = (
                        r as u32 + f.start().map_or(0, |s| s.0),
                        c as u32 + f.start().map_or(0, |s| s.1),
                    );
                    let empty = cells.get(&r).is_none_or(|row| !row.contains_key(&c));
                    if empty && !text.is_empty() {
                        put(&mut cells, r, c, no_cached(text))?;
                    }
                }
            }
        }
    }
    let merges = merges(&mut book, &name);
    let merged_cells = fill_merges(&mut cells, &merges)?;
    build(cells, name, tabs, merged_cells)
}

/// A formula cell the file holds no value for.
fn no_cached(formula: &str) -> Cell {
    Cell::Problem(format!(
        "holds the formula ={} but the file has no saved value for it (the program that \
         wrote it does not calculate formulas); open it in Excel or LibreOffice and save it \
         again, or type the value",
        super::shorten(formula.trim_start_matches('='), 60)
    ))
}

/// The merged regions of tab `name` (xlsx and xls know them; others give none).
fn merges(book: &mut calamine::Sheets<Cursor<&[u8]>>, name: &str) -> Vec<Dimensions> {
    match book {
        calamine::Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(name).unwrap_or_default(),
        calamine::Sheets::Xls(x) => {
            #[allow(deprecated)]
            let m = x.worksheet_merge_cells(name);
            m.unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Gives each merged region's value to the cells below it in its first column; returns how
/// many cells took one. A merge covers at most [`MAX_ROWS`] rows, and merges may add at most
/// [`MAX_CELLS`] cells in all (a hostile file could merge whole columns many times over).
fn fill_merges(
    cells: &mut BTreeMap<u32, BTreeMap<u32, Cell>>,
    merges: &[Dimensions],
) -> Result<usize, SheetError> {
    let (mut filled, mut bytes) = (0, 0u64);
    for m in merges {
        let (r0, c0) = m.start;
        let Some(Cell::Text(value)) = cells.get(&r0).and_then(|row| row.get(&c0)) else {
            continue;
        };
        let value = value.clone();
        let last = m.end.0.min(r0.saturating_add(MAX_ROWS));
        for r in r0 + 1..=last {
            let row = cells.entry(r).or_default();
            if let std::collections::btree_map::Entry::Vacant(e) = row.entry(c0) {
                e.insert(Cell::Text(value.clone()));
                filled += 1;
                bytes += value.len() as u64;
                if filled > MAX_CELLS || bytes > MAX_TEXT {
                    return Err(SheetError::Workbook(format!(
                        "the tab's merged cells cover more than {MAX_CELLS} cells; unmerge \
                         them (select all → Unmerge) and save again"
                    )));
                }
            }
        }
    }
    Ok(filled)
}

/// The tab to read: the one named (exactly, else in any case), or the first visible one.
fn pick_tab(
    meta: &[calamine::Sheet],
    tabs: &[String],
    wanted: Option<&str>,
) -> Result<String, SheetError> {
    let list = || {
        tabs.iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(w) => tabs
            .iter()
            .find(|t| *t == w)
            .or_else(|| tabs.iter().find(|t| t.to_lowercase() == w.to_lowercase()))
            .cloned()
            .ok_or_else(|| {
                SheetError::Workbook(format!(
                    "the workbook has no tab named {w:?}; its tabs are {}",
                    list()
                ))
            }),
        None => meta
            .iter()
            .find(|s| s.visible == SheetVisible::Visible && s.typ == calamine::SheetType::WorkSheet)
            .or_else(|| meta.first())
            .map(|s| s.name.clone())
            .ok_or_else(|| SheetError::Workbook("the workbook has no tabs".into())),
    }
}

/// The header (first row with a filled cell) and the rows below it.
fn build(
    cells: BTreeMap<u32, BTreeMap<u32, Cell>>,
    name: String,
    tabs: Vec<String>,
    merged_cells: usize,
) -> Result<(Sheet, Tab), SheetError> {
    let filled = |row: &BTreeMap<u32, Cell>| {
        row.values().any(|c| match c {
            Cell::Text(t) => !t.trim().is_empty(),
            Cell::Problem(_) => true,
        })
    };
    let mut rows = cells.into_iter().filter(|(_, row)| filled(row));
    let Some((header_row, header_cells)) = rows.next() else {
        return Err(SheetError::Empty);
    };
    let rest: Vec<(u32, BTreeMap<u32, Cell>)> = rows.collect();
    let filled_rows = rest.len();
    let (first, last) = header_cells
        .keys()
        .chain(rest.iter().flat_map(|(_, r)| r.keys()))
        .fold((u32::MAX, 0), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    let width = (last - first + 1) as usize;
    if rest.len() > MAX_ROWS as usize {
        return Err(SheetError::Workbook(format!(
            "tab {name:?} has more than {MAX_ROWS} rows; split it into smaller sheets"
        )));
    }
    let tab = Tab {
        name,
        first_column: first,
        tabs,
        merged_cells,
    };
    let header_line = u64::from(header_row) + 1;
    let mut problems = Vec::new();
    let texts = |line: u64, row: BTreeMap<u32, Cell>, problems: &mut Vec<Diagnostic>| {
        let mut out = vec![String::new(); width];
        let mut issues = Vec::new();
        for (c, cell) in row {
            let i = (c - first) as usize;
            match cell {
                Cell::Text(t) => out[i] = t,
                Cell::Problem(p) => issues.push((i, p)),
            }
        }
        for (i, p) in issues {
            let mut d = Diagnostic::line(line, p);
            d.at = Some(tab.cell(i, line));
            problems.push(d);
        }
        out
    };
    let headers = texts(header_line, header_cells, &mut problems);
    let mut out_rows = Vec::with_capacity(rest.len());
    let last_line = rest.last().map_or(header_line, |(r, _)| u64::from(*r) + 1);
    for (r, row) in rest {
        let line = u64::from(r) + 1;
        let before = problems.len();
        let cells = texts(line, row, &mut problems);
        let unreadable: Vec<Diagnostic> = cells
            .iter()
            .zip(&headers)
            .filter_map(|(cell, h)| {
                cells::problem(cell).map(|m| Diagnostic::cell(line, h.trim(), Some(cell), m))
            })
            .collect();
        if unreadable.is_empty() && problems.len() == before {
            out_rows.push(Row { line, cells });
        } else {
            problems.extend(unreadable);
        }
    }
    if out_rows.is_empty() && problems.is_empty() {
        return Err(SheetError::HeaderOnly { header_line });
    }
    // Rows between the header and the last filled row that hold nothing.
    let empty_rows = ((last_line - header_line) as usize).saturating_sub(filled_rows);
    let sheet = Sheet {
        format: SheetFormat {
            delimiter: b',',
            headers,
            bom: false,
            sep_line: false,
            crlf: false,
        },
        header_line,
        rows: out_rows,
        problems,
        empty_rows,
    };
    Ok((sheet, tab))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_like_a_spreadsheet() {
        let l: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702]
            .into_iter()
            .map(column_letters)
            .collect();
        assert_eq!(l, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }
}
