//! The batch's reports, all rebuilt from the journal: `manifest.json`, `manifest.csv`,
//! `failed.csv` (the failed rows in the sheet's own format, ready to fix and feed back) and
//! `report.html`. They share one shape ([`Export`]), like hyperfine's exporters, and are
//! written atomically, so a reader never sees a torn file.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::journal::{Row, RowState, Snapshot};

/// The sheet's format, kept in the journal so `failed.csv` can be written in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SheetShape {
    /// The delimiter byte (`,`, `;` or tab).
    pub delimiter: u8,
    /// The header cells as written.
    pub headers: Vec<String>,
}

/// One line of the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The row key.
    pub key: String,
    /// The name the user gave, if any.
    pub name: Option<String>,
    /// Where the row stands.
    pub status: RowState,
    /// The job's id, once created.
    pub job_id: Option<String>,
    /// Credits the API charged.
    pub credits_used: Option<f64>,
    /// Credits estimated by the plan.
    pub credits_estimated: f64,
    /// Seconds of video.
    pub duration: Option<f64>,
    /// The video, relative to the batch folder.
    pub video: Option<String>,
    /// The video's SHA-256.
    pub video_sha256: Option<String>,
    /// The video's size in bytes.
    pub video_bytes: Option<u64>,
    /// The thumbnail, relative to the batch folder.
    pub thumbnail: Option<String>,
    /// The thumbnail's SHA-256.
    pub thumbnail_sha256: Option<String>,
    /// Why it failed, or the last problem met.
    pub failure_reason: Option<String>,
    /// The sheet line where the row starts.
    pub source_line: Option<u64>,
}

impl Entry {
    fn from_row(r: &Row) -> Self {
        let failed = matches!(r.state, RowState::Failed | RowState::Rejected);
        Self {
            key: r.key.clone(),
            name: r.name.clone(),
            status: r.state,
            job_id: r.job_id.clone(),
            credits_used: r.credits_used,
            credits_estimated: r.est_credits,
            duration: r.duration,
            video: r.video.as_ref().map(|f| f.path.clone()),
            video_sha256: r.video.as_ref().map(|f| f.sha256.clone()),
            video_bytes: r.video.as_ref().map(|f| f.bytes),
            thumbnail: r.thumbnail.as_ref().map(|f| f.path.clone()),
            thumbnail_sha256: r.thumbnail.as_ref().map(|f| f.sha256.clone()),
            failure_reason: if failed {
                r.failed_reason.clone().or_else(|| r.last_error.clone())
            } else {
                r.last_error.clone()
            },
            source_line: r.lines.first().copied(),
        }
    }
}

/// What every export is made from.
pub struct Manifest<'a> {
    /// The batch's name.
    pub batch: &'a str,
    /// The rows, in sheet order.
    pub rows: &'a [Row],
    /// The sheet's format, when known.
    pub sheet: Option<SheetShape>,
}

/// One report file.
pub trait Export {
    /// Its file name in the batch folder.
    fn file_name(&self) -> &'static str;
    /// Its content.
    fn render(&self, m: &Manifest) -> io::Result<Vec<u8>>;
}

/// `manifest.json`.
pub struct Json;
/// `manifest.csv`.
pub struct Csv;
/// `failed.csv`.
pub struct FailedCsv;
/// `report.html`.
pub struct Html;

/// Every export, in the order they are written.
pub const EXPORTS: &[&dyn Export] = &[&Json, &Csv, &FailedCsv, &Html];

/// Rewrites every report in `batch_dir` from `snapshot`.
pub fn write_all(batch_dir: &Path, batch: &str, snapshot: &Snapshot) -> io::Result<()> {
    let m = Manifest {
        batch,
        rows: &snapshot.rows,
        sheet: snapshot
            .sheet
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
    };
    for e in EXPORTS {
        super::write_atomic(&batch_dir.join(e.file_name()), &e.render(&m)?)?;
    }
    Ok(())
}

impl Export for Json {
    fn file_name(&self) -> &'static str {
        "manifest.json"
    }

    fn render(&self, m: &Manifest) -> io::Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Doc<'a> {
            batch: &'a str,
            rows: Vec<Entry>,
        }
        let doc = Doc {
            batch: m.batch,
            rows: m.rows.iter().map(Entry::from_row).collect(),
        };
        let mut out = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        out.push(b'\n');
        Ok(out)
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'`, which spreadsheets show as
/// text and the planner strips when the file is fed back ([`crate::sheet::undefuse`], the
/// exact inverse: a cell that already starts with `'` before formula text gets one more).
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if crate::sheet::formula_like(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

impl Export for Csv {
    fn file_name(&self) -> &'static str {
        "manifest.csv"
    }

    fn render(&self, m: &Manifest) -> io::Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "key",
            "name",
            "status",
            "job_id",
            "credits_used",
            "credits_estimated",
            "duration",
            "video",
            "video_sha256",
            "video_bytes",
            "thumbnail",
            "thumbnail_sha256",
            "failure_reason",
            "source_line",
        ])?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for e in m.rows.iter().map(Entry::from_row) {
            let cells = [
                e.key,
                opt(e.name),
                e.status.to_string(),
                opt(e.job_id),
                num(e.credits_used),
                e.credits_estimated.to_string(),
                num(e.duration),
                opt(e.video),
                opt(e.video_sha256),
                e.video_bytes.map(|b| b.to_string()).unwrap_or_default(),
                opt(e.thumbnail),
                opt(e.thumbnail_sha256),
                opt(e.failure_reason),
                e.source_line.map(|l| l.to_string()).unwrap_or_default(),
            ];
            w.write_record(cells.iter().map(|c| defuse(c).into_owned()))?;
        }
        w.into_inner().map_err(|e| io::Error::other(e.to_string()))
    }
}

impl Export for FailedCsv {
    fn file_name(&self) -> &'static str {
        "failed.csv"
    }

    fn render(&self, m: &Manifest) -> io::Result<Vec<u8>> {
        let shape = m.sheet.clone().unwrap_or_default();
        let delimiter = if shape.delimiter == 0 {
            b','
        } else {
            shape.delimiter
        };
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(Vec::new());
        if !shape.headers.is_empty() {
            w.write_record(shape.headers.iter().map(|c| defuse(c).into_owned()))?;
        }
        for row in m.rows {
            if matches!(row.state, RowState::Failed | RowState::Rejected) {
                for record in &row.records {
                    w.write_record(record.iter().map(|c| defuse(c).into_owned()))?;
                }
            }
        }
        w.into_inner().map_err(|e| io::Error::other(e.to_string()))
    }
}

impl Export for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, m: &Manifest) -> io::Result<Vec<u8>> {
        let mut counts = crate::progress::Counts::default();
        for r in m.rows {
            counts.add(r.state);
        }
        let mut h = String::new();
        h.push_str("<!doctype html><html><head><meta charset=\"utf-8\">");
        h.push_str(&format!("<title>{} — creatify-batch</title>", esc(m.batch)));
        h.push_str("<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}img{height:96px}.failed,.rejected{background:#fee}.downloaded{background:#efe}</style></head><body>");
        h.push_str(&format!(
            "<h1>{}</h1><p>{} rows: {} downloaded, {} failed, {} rejected, {} still in progress.</p>",
            esc(m.batch),
            m.rows.len(),
            counts.downloaded,
            counts.failed,
            counts.rejected,
            counts.planned + counts.submitting + counts.submitted + counts.done
        ));
        h.push_str("<table><tr><th>key</th><th>name</th><th>status</th><th>thumbnail</th><th>video</th><th>credits</th><th>reason</th><th>line</th></tr>");
        for e in m.rows.iter().map(Entry::from_row) {
            let thumb = e
                .thumbnail
                .as_deref()
                .map(|t| format!("<img src=\"{}\" alt=\"\">", esc(t)))
                .unwrap_or_default();
            let video = e
                .video
                .as_deref()
                .map(|v| format!("<a href=\"{0}\">{0}</a>", esc(v)))
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr class=\"{status}\"><td>{}</td><td>{}</td><td>{status}</td><td>{thumb}</td><td>{video}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.key),
                esc(e.name.as_deref().unwrap_or("")),
                e.credits_used.map(|c| c.to_string()).unwrap_or_default(),
                esc(e.failure_reason.as_deref().unwrap_or("")),
                e.source_line.map(|l| l.to_string()).unwrap_or_default(),
                status = e.status,
            ));
        }
        h.push_str("</table></body></html>\n");
        Ok(h.into_bytes())
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("Hello"), "Hello");
        assert_eq!(defuse("'=x"), "''=x");
        assert_eq!(defuse("'tis"), "'tis");
        for cell in ["=x", "'=x", "''+1", "-20%", "'tis", "", "'", "@me", "\tx"] {
            assert_eq!(crate::sheet::undefuse(&defuse(cell)), cell);
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
