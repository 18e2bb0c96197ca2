//! The sheet's `approve` column: `yes`/`no`/empty per row, read again on every run. It is a
//! reviewer's note about the row, not part of the request: the planner ignores it (it is in
//! no body and no payload hash), and only the review reads it, from the raw cells.

use crate::plan::columns::normalize;

/// The column's header, as headers are compared (trimmed, lower case).
pub const HEADER: &str = "approve";

/// Each video's cell, `(key, verdict)` (`None`: empty), when the sheet has the column; a
/// cell that is not a verdict is an error naming its line, and so are scenes of one video
/// whose cells disagree (a video is approved or rejected as a whole).
pub fn verdicts(
    headers: &[String],
    videos: &[crate::plan::PlannedVideo],
) -> Result<Vec<(String, Option<super::Verdict>)>, String> {
    let Some(col) = headers.iter().position(|h| normalize(h) == HEADER) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for v in videos {
        let records = v.records.to_vec();
        // The first line of each verdict met in the video's scenes.
        let mut seen: Vec<(super::Verdict, u64)> = Vec::new();
        for (i, rec) in records.iter().enumerate() {
            let cell = rec.get(col).map(String::as_str).unwrap_or("");
            let line = v.lines.get(i).copied().unwrap_or(0);
            match super::Verdict::from_cell(cell) {
                Ok(None) => {}
                Ok(Some(verdict)) => {
                    if !seen.iter().any(|(s, _)| *s == verdict) {
                        seen.push((verdict, line));
                    }
                }
                Err(e) => return Err(format!("line {line}, column {HEADER}: {e}")),
            }
        }
        match seen.as_slice() {
            [] => out.push((v.key.clone(), None)),
            [(verdict, _)] => out.push((v.key.clone(), Some(*verdict))),
            [(a, la), (b, lb), ..] => {
                let (first, second) = if la <= lb { (la, lb) } else { (lb, la) };
                return Err(format!(
                    "lines {first} and {second}, column {HEADER}: the scenes of video {:?} \
                     disagree ({a} and {b}); a video is approved or rejected as a whole: \
                     write the same verdict in its rows (or in one of them, the others empty)",
                    v.key
                ));
            }
        }
    }
    Ok(out)
}
