//! The sheet's `approve` column: `yes`/`no`/empty per row, read again on every run. It is a
//! reviewer's note about the row, not part of the request: the planner ignores it (it is in
//! no body and no payload hash), and only the review reads it, from the raw cells.

use crate::plan::columns::normalize;

/// The column's header, as headers are compared (trimmed, lower case).
pub const HEADER: &str = "approve";

/// The verdict of each video that has one in the sheet, `(key, verdict)`; a cell that is
/// not a verdict is an error naming its line. A multi-scene video's first non-empty cell
/// counts.
pub fn verdicts(
    headers: &[String],
    videos: &[crate::plan::PlannedVideo],
) -> Result<Vec<(String, super::Verdict)>, String> {
    let Some(col) = headers.iter().position(|h| normalize(h) == HEADER) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for v in videos {
        let records = v.records.to_vec();
        for (i, rec) in records.iter().enumerate() {
            let cell = rec.get(col).map(String::as_str).unwrap_or("");
            match super::Verdict::from_cell(cell) {
                Ok(None) => continue,
                Ok(Some(verdict)) => {
                    out.push((v.key.clone(), verdict));
                    break;
                }
                Err(e) => {
                    let line = v.lines.get(i).copied().unwrap_or(0);
                    return Err(format!("line {line}, column {HEADER}: {e}"));
                }
            }
        }
    }
    Ok(out)
}
