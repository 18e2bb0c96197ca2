//! Hostile workbooks refused before calamine reads them: a zip bomb (every part unpacked
//! once through a counting reader) and an OpenDocument table whose repeated cells span more
//! cells than a sheet of videos can have (the reader would build the whole rectangle).

use std::io::{Cursor, Read};

use super::{MAX_CELLS, MAX_UNPACKED};
use crate::sheet::SheetError;

/// Decompresses every part once, counting, to refuse a zip bomb before calamine unpacks it.
pub(super) fn guard_zip(bytes: &[u8]) -> Result<(), SheetError> {
    let broken = |e: &dyn std::fmt::Display| {
        SheetError::Workbook(format!(
            "the workbook is damaged or truncated ({e}); open it in your spreadsheet program \
             and save it again"
        ))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| broken(&e))?;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut content = Vec::new();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| broken(&e))?;
        let ods_content = part.name().is_ok_and(|n| n == "content.xml");
        loop {
            let n = part.read(&mut buf).map_err(|e| broken(&e))?;
            if n == 0 {
                break;
            }
            if ods_content {
                content.extend_from_slice(&buf[..n]);
            }
            total += n as u64;
            if total > MAX_UNPACKED {
                return Err(SheetError::Workbook(format!(
                    "the workbook unpacks to more than {} MiB (a {} KiB file): it is not a \
                     sheet of scripts (a \"zip bomb\"?); refused before reading it",
                    MAX_UNPACKED / (1024 * 1024),
                    bytes.len() / 1024
                )));
            }
        }
    }
    // OpenDocument repeats a cell or a row by a count, and the reader builds the whole
    // rectangle they span: a tiny file can ask for billions of cells.
    let (rows, cols) = ods_extent(&content);
    if rows.saturating_mul(cols) > MAX_CELLS as u64 {
        return Err(SheetError::Workbook(format!(
            "a table of the workbook spans {rows} rows × {cols} columns of filled cells, more \
             than the {MAX_CELLS} cells a sheet of videos can have (repeated cells?); delete \
             what is below and to the right of the table"
        )));
    }
    Ok(())
}

/// The largest rows × columns any table of an OpenDocument `content.xml` spans with filled
/// cells, repeats counted (empty repeated cells, how trailing space is written, are not).
fn ods_extent(xml: &[u8]) -> (u64, u64) {
    let attr = |tag: &[u8], name: &[u8]| -> u64 {
        let Some(at) = tag.windows(name.len()).position(|w| w == name) else {
            return 1;
        };
        let rest = &tag[at + name.len()..];
        let digits: Vec<u8> = rest
            .iter()
            .skip_while(|b| matches!(b, b'=' | b'"' | b'\''))
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        std::str::from_utf8(&digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(1)
    };
    let (mut best, mut row, mut rows_rep, mut col, mut max_row, mut max_col) =
        ((0u64, 0u64), 0u64, 1u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    while let Some(p) = xml[i..].iter().position(|&b| b == b'<') {
        let start = i + p + 1;
        let Some(len) = xml[start..].iter().position(|&b| b == b'>') else {
            break;
        };
        let tag = &xml[start..start + len];
        i = start + len + 1;
        let name_len = tag
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'/' && tag.first() != Some(&b'/'))
            .unwrap_or(tag.len());
        let closes = tag.ends_with(b"/");
        match &tag[..name_len] {
            b"table:table" => {
                if max_row.saturating_mul(max_col) > best.0.saturating_mul(best.1) {
                    best = (max_row, max_col);
                }
                (row, max_row, max_col) = (0, 0, 0);
            }
            b"table:table-row" => {
                rows_rep = attr(tag, b"table:number-rows-repeated");
                col = 0;
                if closes {
                    row = row.saturating_add(rows_rep);
                }
            }
            b"/table:table-row" => row = row.saturating_add(rows_rep),
            b"table:table-cell" | b"table:covered-table-cell" => {
                let rep = attr(tag, b"table:number-columns-repeated");
                let filled = !closes || tag.windows(16).any(|w| w == b"office:value-type");
                if filled {
                    max_col = max_col.max(col.saturating_add(rep));
                    max_row = max_row.max(row.saturating_add(rows_rep));
                }
                col = col.saturating_add(rep);
            }
            _ => {}
        }
    }
    if max_row.saturating_mul(max_col) > best.0.saturating_mul(best.1) {
        best = (max_row, max_col);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_extent_counts_filled_repeats_not_trailing_space() {
        // How LibreOffice writes the empty rest of a sheet: not cells.
        let trailing = br#"<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string"><text:p>k</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1023"/></table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/></table:table-row></table:table>"#;
        assert_eq!(ods_extent(trailing), (1, 1));
        let hostile = br#"<table:table table:name="S"><table:table-row table:number-rows-repeated="9000"><table:table-cell office:value-type="string" table:number-columns-repeated="10000"><text:p>x</text:p></table:table-cell></table:table-row></table:table>"#;
        assert_eq!(ods_extent(hostile), (9000, 10000));
    }
}
