//! The batch's reports, all rebuilt from the journal: `manifest.json`, `manifest.csv`,
//! `failed.csv` (the failed rows in the sheet's own format, ready to fix and feed back) and
//! `report.html` ([`crate::report`]). They share one shape ([`Export`]), like hyperfine's exporters, are written
//! in one pass as the rows stream out of the journal (a 100k-row batch is never held in
//! memory), and are written atomically, so a reader never sees a torn file.

use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::journal::{Row, RowState};
use crate::progress::Counts;

/// The sheet's format, kept in the journal so `failed.csv` and `manifest.csv` can be written
/// in it (the spreadsheet that wrote the sheet reads them back correctly: Excel needs the
/// BOM to read UTF-8, and its locale's delimiter).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SheetShape {
    /// The delimiter byte (`,`, `;` or tab).
    pub delimiter: u8,
    /// The header cells as written.
    pub headers: Vec<String>,
    /// Whether the sheet began with a UTF-8 byte order mark (absent in journals from before
    /// it was recorded: none).
    #[serde(default)]
    pub bom: bool,
    /// Whether the sheet's lines end with CRLF.
    #[serde(default)]
    pub crlf: bool,
}

impl SheetShape {
    /// The shape of a sheet read as `format`.
    pub fn of(format: &crate::sheet::SheetFormat) -> Self {
        Self {
            delimiter: format.delimiter,
            headers: format.headers.clone(),
            bom: format.bom,
            crlf: format.crlf,
        }
    }
}

/// The column of `failed.csv` that says why each row failed. The planner ignores columns
/// whose header starts with `#`, so a fixed `failed.csv` plans the same bodies.
pub const REASON_COLUMN: &str = "#reason";

/// One line of the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The row key.
    pub key: String,
    /// The name the user gave, if any.
    pub name: Option<String>,
    /// Where the row stands.
    pub status: RowState,
    /// Whether the sheet changed since its job was created (the video is the old version).
    pub changed: bool,
    /// The job's id, once created.
    pub job_id: Option<String>,
    /// Credits the API charged for every job this row had (failed and retried ones too).
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
    /// Why it failed, or the last problem met, as recorded (the API's own words).
    pub failure_reason: Option<String>,
    /// The same in plain words, with what to do ([`super::explain`]).
    pub failure_explained: Option<String>,
    /// Other jobs the API created for this row (paid for too, not used).
    pub duplicate_jobs: Vec<String>,
    /// The sheet line where the row starts.
    pub source_line: Option<u64>,
    /// Each scene's label from the sheet, in scene order (empty when it gave none).
    pub scene_labels: Vec<String>,
    /// `direct`, or `preview`/`render` for a row made for review first.
    pub stage: crate::journal::Stage,
    /// What its preview cost.
    pub preview_credits: Option<f64>,
    /// What its render cost (its credits beyond the preview's), once asked for.
    pub render_credits: Option<f64>,
    /// The verdict that holds for its current preview: `approved`, `rejected`, or none (also
    /// when the last one was for an earlier preview of the row).
    pub verdict: Option<&'static str>,
    /// Its preview's page link (a page for an iframe, not a file), once made.
    pub preview: Option<String>,
}

impl Entry {
    fn from_row(r: &Row, m: &Manifest) -> Self {
        let failed = matches!(r.state, RowState::Failed | RowState::Rejected);
        let failure_reason = if failed {
            r.failed_reason.clone().or_else(|| r.last_error.clone())
        } else {
            r.last_error.clone()
        };
        Self {
            key: r.key.clone(),
            name: r.name.clone(),
            status: r.state,
            changed: r.changed(),
            job_id: r.job_id.clone(),
            credits_used: r.credits_total.or(r.credits_used),
            credits_estimated: r.est_credits,
            duration: r.duration,
            video: r.video.as_ref().map(|f| f.path.clone()),
            video_sha256: r.video.as_ref().map(|f| f.sha256.clone()),
            video_bytes: r.video.as_ref().map(|f| f.bytes),
            thumbnail: r.thumbnail.as_ref().map(|f| f.path.clone()),
            thumbnail_sha256: r.thumbnail.as_ref().map(|f| f.sha256.clone()),
            failure_explained: failure_reason
                .as_deref()
                .map(|raw| super::explain::explain(raw).for_stage(r.stage).to_string()),
            failure_reason,
            duplicate_jobs: r.duplicates.clone(),
            source_line: r.lines.first().copied(),
            scene_labels: m.labels.get(&r.key).cloned().unwrap_or_default(),
            stage: r.stage,
            preview_credits: r.preview_credits,
            render_credits: match (
                r.stage,
                r.preview_credits,
                r.credits_total.or(r.credits_used),
            ) {
                (crate::journal::Stage::Render, Some(p), Some(all)) => Some((all - p).max(0.0)),
                _ => None,
            },
            verdict: m
                .verdicts
                .get(&r.key)
                .filter(|(reference, _)| r.reference.as_deref() == Some(reference.as_str()))
                .map(|(_, v)| v.as_str()),
            preview: (r.stage != crate::journal::Stage::Direct)
                .then(|| preview_link(r.job.as_deref()))
                .flatten(),
        }
    }
}

/// What every export is made from besides the rows.
pub struct Manifest<'a> {
    /// The batch's name.
    pub batch: &'a str,
    /// Rows by state (`total`: every row of the journal).
    pub counts: Counts,
    /// Credits of every job the batch created (failed and retried ones included).
    pub credits_used: f64,
    /// The sheet's format, when known.
    pub sheet: Option<SheetShape>,
    /// The scene labels of the videos whose sheet gave any, by key ([`LABELS_META`]).
    pub labels: SceneLabels,
    /// What the HTML report's header says besides the counts.
    pub about: crate::report::About,
    /// The verdicts on the batch's previews ([`verdicts`]).
    pub verdicts: Verdicts,
}

/// The latest verdict of each row, by key, with the preview reference it was given for.
pub type Verdicts = std::collections::HashMap<String, (String, crate::review::Verdict)>;

/// [`Verdicts`] from every verdict of the batch, oldest first.
pub fn verdicts(approvals: &[crate::review::Approval]) -> Verdicts {
    crate::journal::latest_verdicts(approvals)
        .into_iter()
        .map(|(k, a)| (k.to_owned(), (a.reference.clone(), a.verdict)))
        .collect()
}

/// The `preview` link of a job answer as journaled, read leniently.
fn preview_link(job: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(job?).ok()?;
    let link = v.get("preview")?.as_str()?.trim();
    (!link.is_empty()).then(|| link.to_owned())
}

/// Scene labels by row key: only videos with at least one non-empty label.
pub type SceneLabels = std::collections::HashMap<String, Vec<String>>;

/// The journal meta key under which [`SceneLabels`] are kept, as JSON.
pub const LABELS_META: &str = "scene_labels";

/// The scene labels of `videos` worth keeping (see [`SceneLabels`]).
pub fn scene_labels(videos: &[crate::plan::PlannedVideo]) -> SceneLabels {
    videos
        .iter()
        .filter(|v| v.scene_labels.iter().any(|l| !l.is_empty()))
        .map(|v| (v.key.clone(), v.scene_labels.clone()))
        .collect()
}

/// One report file, written as the rows stream by (a 100k-row batch is never held in memory
/// as rows or as text).
pub trait Export {
    /// Its file name in the batch folder.
    fn file_name(&self) -> &'static str;
    /// Writes what comes before the rows.
    fn begin(&self, m: &Manifest, out: &mut dyn Write) -> io::Result<()>;
    /// Writes the row number `index` (from 0), in sheet order.
    fn row(&self, m: &Manifest, row: &Row, index: usize, out: &mut dyn Write) -> io::Result<()>;
    /// Writes what comes after the `rows` rows.
    fn end(&self, m: &Manifest, rows: usize, out: &mut dyn Write) -> io::Result<()>;
}

/// `manifest.json`.
pub struct Json;
/// `manifest.csv`.
pub struct Csv;
/// `failed.csv`.
pub struct FailedCsv;
/// Every export, in the order they are written (`report.html` is [`crate::report`]'s).
pub const EXPORTS: &[&dyn Export] = &[&Json, &Csv, &FailedCsv, &crate::report::Html];

/// Rewrites every report in `batch_dir` in one pass over the rows: `rows` must call its
/// argument with every row, in sheet order. Each file is written beside its final name,
/// fsynced and renamed, so a reader never sees a torn file; on any error the old reports
/// stay and no half-written one is left.
pub fn write_all<E: From<io::Error>>(
    batch_dir: &Path,
    m: &Manifest,
    rows: impl FnOnce(&mut dyn FnMut(&Row) -> io::Result<()>) -> Result<(), E>,
) -> Result<(), E> {
    let paths: Vec<_> = EXPORTS
        .iter()
        .map(|e| {
            let path = batch_dir.join(e.file_name());
            (super::partial_path(&path), path)
        })
        .collect();
    let result = write_partials(m, &paths, rows);
    if result.is_err() {
        for (partial, _) in &paths {
            let _ = std::fs::remove_file(partial);
        }
    }
    result
}

/// [`write_all`]'s work: every export to its `.partial`, then each renamed into place.
fn write_partials<E: From<io::Error>>(
    m: &Manifest,
    paths: &[(std::path::PathBuf, std::path::PathBuf)],
    rows: impl FnOnce(&mut dyn FnMut(&Row) -> io::Result<()>) -> Result<(), E>,
) -> Result<(), E> {
    let mut files = Vec::with_capacity(EXPORTS.len());
    for (e, (partial, _)) in EXPORTS.iter().zip(paths) {
        let mut out = io::BufWriter::new(super::create_no_follow(partial, false)?);
        e.begin(m, &mut out)?;
        files.push(out);
    }
    let mut index = 0;
    rows(&mut |row| {
        for (e, out) in EXPORTS.iter().zip(files.iter_mut()) {
            e.row(m, row, index, out)?;
        }
        index += 1;
        Ok(())
    })?;
    for ((e, mut out), (partial, path)) in EXPORTS.iter().zip(files).zip(paths) {
        e.end(m, index, &mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        super::commit_rename(partial, path)?;
    }
    Ok(())
}

impl Export for Json {
    fn file_name(&self) -> &'static str {
        "manifest.json"
    }

    // The same bytes `serde_json::to_vec_pretty` gives for `{"batch": .., "rows": [..]}`,
    // one entry at a time.
    fn begin(&self, m: &Manifest, out: &mut dyn Write) -> io::Result<()> {
        let batch = serde_json::to_string(m.batch).map_err(io::Error::other)?;
        let credits = serde_json::to_string(&m.credits_used).map_err(io::Error::other)?;
        write!(
            out,
            "{{\n  \"batch\": {batch},\n  \"credits_used\": {credits},\n  \"changed\": {},\n  \"rows\": [",
            m.counts.changed
        )
    }

    fn row(&self, m: &Manifest, row: &Row, index: usize, out: &mut dyn Write) -> io::Result<()> {
        let entry =
            serde_json::to_string_pretty(&Entry::from_row(row, m)).map_err(io::Error::other)?;
        if index > 0 {
            out.write_all(b",")?;
        }
        for line in entry.lines() {
            write!(out, "\n    {line}")?;
        }
        Ok(())
    }

    fn end(&self, _: &Manifest, rows: usize, out: &mut dyn Write) -> io::Result<()> {
        if rows > 0 {
            out.write_all(b"\n  ")?;
        }
        out.write_all(b"]\n}\n")
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

/// The dialect the CSV reports are written in: the sheet's, or plain `,` and LF.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    delimiter: u8,
    bom: bool,
    crlf: bool,
}

impl Dialect {
    fn of(m: &Manifest) -> Self {
        let shape = m.sheet.as_ref();
        Self {
            delimiter: match shape.map_or(0, |s| s.delimiter) {
                0 => b',',
                d => d,
            },
            bom: shape.is_some_and(|s| s.bom),
            crlf: shape.is_some_and(|s| s.crlf),
        }
    }

    /// What the file starts with.
    fn begin(self, out: &mut dyn Write) -> io::Result<()> {
        if self.bom {
            out.write_all(crate::sheet::UTF8_BOM)?;
        }
        Ok(())
    }
}

/// One CSV record, defused, written in `dialect`.
fn record<I, S>(out: &mut dyn Write, dialect: Dialect, cells: I) -> io::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let terminator = if dialect.crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(dialect.delimiter)
        .terminator(terminator)
        .flexible(true)
        .buffer_capacity(1024)
        .from_writer(out);
    w.write_record(cells.into_iter().map(|c| defuse(c.as_ref()).into_owned()))?;
    w.flush()
}

impl Export for Csv {
    fn file_name(&self) -> &'static str {
        "manifest.csv"
    }

    fn begin(&self, m: &Manifest, out: &mut dyn Write) -> io::Result<()> {
        let dialect = Dialect::of(m);
        dialect.begin(out)?;
        record(
            out,
            dialect,
            [
                "key",
                "name",
                "status",
                "changed",
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
                "duplicate_jobs",
                // Added later: at the end, so the earlier columns keep their places.
                "failure_explained",
                "scene_labels",
                "stage",
                "preview_credits",
                "render_credits",
                "verdict",
                "preview",
            ],
        )
    }

    fn row(&self, m: &Manifest, row: &Row, _: usize, out: &mut dyn Write) -> io::Result<()> {
        let e = Entry::from_row(row, m);
        let opt = |v: Option<String>| v.unwrap_or_default();
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        record(
            out,
            Dialect::of(m),
            [
                e.key,
                opt(e.name),
                e.status.to_string(),
                if e.changed { "changed" } else { "" }.to_owned(),
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
                e.duplicate_jobs.join(" "),
                opt(e.failure_explained),
                e.scene_labels.join(" | "),
                e.stage.as_str().to_owned(),
                num(e.preview_credits),
                num(e.render_credits),
                e.verdict.unwrap_or_default().to_owned(),
                opt(e.preview),
            ],
        )
    }

    fn end(&self, _: &Manifest, _: usize, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

impl FailedCsv {
    /// Where the sheet's own `#reason` column is (a copied `failed.csv` run as a sheet of
    /// its own has one): left out, so the new reason is the only one.
    fn old_reason(shape: &SheetShape) -> Option<usize> {
        shape
            .headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(REASON_COLUMN))
    }
}

impl Export for FailedCsv {
    fn file_name(&self) -> &'static str {
        "failed.csv"
    }

    fn begin(&self, m: &Manifest, out: &mut dyn Write) -> io::Result<()> {
        match &m.sheet {
            Some(shape) if !shape.headers.is_empty() => {
                let dialect = Dialect::of(m);
                dialect.begin(out)?;
                let skip = Self::old_reason(shape);
                let headers = shape
                    .headers
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != skip)
                    .map(|(_, h)| h.as_str())
                    .chain([REASON_COLUMN]);
                record(out, dialect, headers)
            }
            _ => Ok(()),
        }
    }

    fn row(&self, m: &Manifest, row: &Row, _: usize, out: &mut dyn Write) -> io::Result<()> {
        if !matches!(row.state, RowState::Failed | RowState::Rejected) {
            return Ok(());
        }
        let dialect = Dialect::of(m);
        // One line, so the file stays one row per line in any viewer.
        let reason = Entry::from_row(row, m)
            .failure_reason
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let (width, skip) = match &m.sheet {
            Some(s) if !s.headers.is_empty() => (Some(s.headers.len()), Self::old_reason(s)),
            _ => (None, None),
        };
        for cells in &row.records.to_vec() {
            // A row fed back from failed.csv carries that file's `#reason` cell past the
            // sheet's columns: cut to the sheet's width, so the reason column stays one.
            let mut cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            if let Some(w) = width {
                cells.resize(w, "");
            }
            let cells = cells
                .into_iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(_, c)| c)
                .chain([reason.as_str()]);
            record(out, dialect, cells)?;
        }
        Ok(())
    }

    fn end(&self, _: &Manifest, _: usize, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
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

    fn row(key: &str, state: RowState) -> Row {
        let mut r = Row::planned(
            key.into(),
            0,
            vec![2],
            crate::sheet::Records::new(&[vec![key.into(), "=1+1".into()]]),
            Some(format!("Video \"{key}\"")),
            "h".into(),
            "{}".into(),
            3.0,
            5.0,
        );
        r.state = state;
        r
    }

    fn render(e: &dyn Export, m: &Manifest, rows: &[Row]) -> String {
        let mut out = Vec::new();
        e.begin(m, &mut out).unwrap();
        for (i, r) in rows.iter().enumerate() {
            e.row(m, r, i, &mut out).unwrap();
        }
        e.end(m, rows.len(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_streamed_json_is_what_serde_pretty_prints() {
        #[derive(Serialize)]
        struct Doc<'a> {
            batch: &'a str,
            credits_used: f64,
            changed: usize,
            rows: Vec<Entry>,
        }
        let m = Manifest {
            batch: "spring \"sale\"",
            counts: Counts::default(),
            credits_used: 0.0,
            labels: SceneLabels::new(),
            verdicts: Verdicts::new(),
            about: Default::default(),
            sheet: None,
        };
        for rows in [
            vec![],
            vec![row("a", RowState::Done), row("b", RowState::Failed)],
        ] {
            let doc = Doc {
                batch: m.batch,
                credits_used: m.credits_used,
                changed: m.counts.changed,
                rows: rows.iter().map(|r| Entry::from_row(r, &m)).collect(),
            };
            let mut want = serde_json::to_string_pretty(&doc).unwrap();
            want.push('\n');
            assert_eq!(render(&Json, &m, &rows), want);
        }
    }

    #[test]
    fn failed_csv_keeps_the_sheets_delimiter_and_defuses_formulas() {
        let m = Manifest {
            batch: "b",
            counts: Counts::default(),
            credits_used: 0.0,
            labels: SceneLabels::new(),
            verdicts: Verdicts::new(),
            about: Default::default(),
            sheet: Some(SheetShape {
                delimiter: b';',
                headers: vec!["key".into(), "script".into()],
                ..SheetShape::default()
            }),
        };
        let mut failed = row("b", RowState::Failed);
        failed.failed_reason = Some("voice\nnot found".into());
        let rows = [row("a", RowState::Downloaded), failed];
        assert_eq!(
            render(&FailedCsv, &m, &rows),
            "key;script;#reason\nb;'=1+1;voice not found\n"
        );
    }

    #[test]
    fn failed_csv_keeps_one_reason_column_when_fed_back_rows_come_round_again() {
        let shape = |headers: &[&str]| SheetShape {
            delimiter: b',',
            headers: headers.iter().map(|h| h.to_string()).collect(),
            ..SheetShape::default()
        };
        let fed_back = |cells: &[&str]| {
            let mut r = row("b", RowState::Failed);
            r.records =
                crate::sheet::Records::new(&[cells.iter().map(|c| c.to_string()).collect()]);
            r.failed_reason = Some("new".into());
            r
        };
        // The batch's own failed.csv fed back: its rows carry the old reason past the
        // sheet's columns.
        let m = Manifest {
            batch: "b",
            counts: Counts::default(),
            credits_used: 0.0,
            labels: SceneLabels::new(),
            verdicts: Verdicts::new(),
            about: Default::default(),
            sheet: Some(shape(&["key", "script"])),
        };
        let rows = [fed_back(&["b", "x", "old"])];
        assert_eq!(
            render(&FailedCsv, &m, &rows),
            "key,script,#reason\nb,x,new\n"
        );
        // A copied failed.csv run as a sheet of its own: its #reason column is replaced.
        let m = Manifest {
            sheet: Some(shape(&["key", "#Reason", "script"])),
            ..m
        };
        let rows = [fed_back(&["b", "old", "x"])];
        assert_eq!(
            render(&FailedCsv, &m, &rows),
            "key,script,#reason\nb,x,new\n"
        );
    }

    #[test]
    fn csv_reports_are_written_in_the_sheets_dialect() {
        let m = Manifest {
            batch: "b",
            counts: Counts::default(),
            credits_used: 0.0,
            labels: SceneLabels::new(),
            verdicts: Verdicts::new(),
            about: Default::default(),
            sheet: Some(SheetShape {
                delimiter: b'\t',
                headers: vec!["key".into(), "script".into()],
                bom: true,
                crlf: true,
            }),
        };
        let rows = [row("b", RowState::Failed)];
        let failed = render(&FailedCsv, &m, &rows);
        assert_eq!(failed, "\u{feff}key\tscript\t#reason\r\nb\t'=1+1\t\r\n");
        let manifest = render(&Csv, &m, &rows);
        assert!(
            manifest.starts_with("\u{feff}key\tname\tstatus\t"),
            "{manifest:?}"
        );
        assert_eq!(manifest.matches("\r\n").count(), 2, "{manifest:?}");
        // Journals from before the dialect was recorded read as no BOM, LF.
        let old: SheetShape = serde_json::from_str(r#"{"delimiter":59,"headers":["k"]}"#).unwrap();
        assert!(!old.bom && !old.crlf);
    }

    #[test]
    fn a_failed_rewrite_keeps_the_old_reports_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "old").unwrap();
        let m = Manifest {
            batch: "b",
            counts: Counts::default(),
            credits_used: 0.0,
            labels: SceneLabels::new(),
            verdicts: Verdicts::new(),
            about: Default::default(),
            sheet: None,
        };
        let rows = [row("a", RowState::Done)];
        let r = write_all(dir.path(), &m, |f| {
            f(&rows[0])?;
            Err(io::Error::other("the journal went away"))
        });
        assert!(r.is_err());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["manifest.json"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("manifest.json")).unwrap(),
            "old"
        );
    }
}
