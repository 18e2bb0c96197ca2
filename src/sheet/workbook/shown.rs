//! A cell's value as the text a person sees in it (the workbook's counterpart of a CSV
//! cell): whole numbers without `.0`, ISO dates, `true`/`false`, an error value as a problem.

use calamine::{Data, DataRef};

use super::Cell;

/// What a cell shows, from the streaming reader.
pub(super) fn shown_ref(v: DataRef<'_>) -> Option<Cell> {
    let text = match v {
        DataRef::Empty => return None,
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(f),
        DataRef::String(s) => s,
        DataRef::SharedString(s) => s.to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => date(&d),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
        DataRef::Error(e) => return Some(error_cell(&e)),
    };
    Some(Cell::Text(text))
}

/// What a cell shows, from a whole range.
pub(super) fn shown_data(v: &Data) -> Option<Cell> {
    let text = match v {
        Data::Empty => return None,
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f),
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => date(d),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Some(error_cell(e)),
    };
    Some(Cell::Text(text))
}

fn error_cell(e: &calamine::CellErrorType) -> Cell {
    Cell::Problem(format!(
        "shows the error {e}; fix the formula or type the value"
    ))
}

/// A number as a spreadsheet shows it by default: whole numbers without `.0`, others in
/// their shortest exact form.
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An ISO date (`2026-03-01`), with its time when it has one; a duration as `h:mm:ss`.
fn date(d: &calamine::ExcelDateTime) -> String {
    if d.is_duration() {
        let secs = (d.as_f64() * 86_400.0).round() as i64;
        return format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60);
    }
    let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
    if (h, mi, s, ms) == (0, 0, 0, 0) {
        format!("{y:04}-{mo:02}-{day:02}")
    } else if d.as_f64() < 1.0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_as_a_spreadsheet_shows_them() {
        assert_eq!(number(7.0), "7");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(2.5), "2.5");
    }
}
