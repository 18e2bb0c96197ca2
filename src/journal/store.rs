//! The journal's SQLite schema, its row type, and the group-commit writer loop.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Batch, Change, JournalError};
use crate::sheet::Records;

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Known, not sent.
    Planned,
    /// Sent or about to be; the outcome is not known yet.
    Submitting,
    /// Sent, and whether the API created the job cannot be proven (the job list could not
    /// show it either way). Never sent again blindly: looked for first on every run, and
    /// settled by `creatify-batch resolve`.
    Unknown,
    /// The API has the job; it is rendering.
    Submitted,
    /// Rendered; files not yet on disk.
    Done,
    /// Rendered and its files are on disk, verified.
    Downloaded,
    /// Refused by the API or failed while rendering.
    Failed,
    /// Rejected by the API after creation.
    Rejected,
    /// A preview job exists and is being made (`run --preview`).
    Previewing,
    /// The preview is made (`preview` set, `output` empty): waiting for a reviewer.
    PreviewReady,
    /// About to ask for (or asked for, without a certain answer) the final render of an
    /// approved preview. Never asked again blindly: the job is read first.
    RenderRequested,
    /// The approved preview's final render is under way.
    Rendering,
}

impl RowState {
    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Submitting => "submitting",
            Self::Unknown => "unknown",
            Self::Submitted => "submitted",
            Self::Done => "done",
            Self::Downloaded => "downloaded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Previewing => "previewing",
            Self::PreviewReady => "preview_ready",
            Self::RenderRequested => "render_requested",
            Self::Rendering => "rendering",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "planned" => Self::Planned,
            "submitting" => Self::Submitting,
            "unknown" => Self::Unknown,
            "submitted" => Self::Submitted,
            "done" => Self::Done,
            "downloaded" => Self::Downloaded,
            "failed" => Self::Failed,
            "rejected" => Self::Rejected,
            "previewing" => Self::Previewing,
            "preview_ready" => Self::PreviewReady,
            "render_requested" => Self::RenderRequested,
            "rendering" => Self::Rendering,
            _ => return None,
        })
    }

    /// Every state, in pipeline order.
    pub const ALL: [RowState; 12] = [
        Self::Planned,
        Self::Submitting,
        Self::Unknown,
        Self::Previewing,
        Self::PreviewReady,
        Self::RenderRequested,
        Self::Rendering,
        Self::Submitted,
        Self::Done,
        Self::Downloaded,
        Self::Failed,
        Self::Rejected,
    ];
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file the run wrote, as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// Path relative to the batch folder.
    pub path: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// One video of the batch, as the journal knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The row key (a sheet's `key` or `video` value, or derived).
    pub key: String,
    /// Position in the sheet.
    pub ord: i64,
    /// Source line numbers of its records.
    pub lines: Vec<u64>,
    /// The raw cells of its records (for `failed.csv`).
    pub records: Records,
    /// The name the user gave (before the reference is added).
    pub name: Option<String>,
    /// SHA-256 of the request body without the reference.
    pub payload_hash: String,
    /// The request body without the reference, as JSON.
    pub body: String,
    /// Estimated seconds of video.
    pub est_seconds: f64,
    /// Estimated credits.
    pub est_credits: f64,
    /// Where it stands.
    pub state: RowState,
    /// 0 for the first submission; `--retry-failed` adds one.
    pub generation: u32,
    /// The reference embedded in the job's name, once submitting.
    pub reference: Option<String>,
    /// The job's id, once known.
    pub job_id: Option<String>,
    /// POSTs sent for this row.
    pub attempts: u32,
    /// When the first ambiguous POST under the current reference happened (unix seconds).
    pub ambiguous_since: Option<f64>,
    /// The last problem seen.
    pub last_error: Option<String>,
    /// The API's last status string.
    pub api_status: Option<String>,
    /// The job object as last seen, as JSON.
    pub job: Option<String>,
    /// Credits the API charged.
    pub credits_used: Option<f64>,
    /// Seconds of video the API reports.
    pub duration: Option<f64>,
    /// Why the job failed, from the API.
    pub failed_reason: Option<String>,
    /// The downloaded video.
    pub video: Option<FileRecord>,
    /// The downloaded thumbnail.
    pub thumbnail: Option<FileRecord>,
    /// When the job was created (unix seconds), for the per-job deadline.
    pub submitted_at: Option<f64>,
    /// Last change (unix seconds).
    pub updated_at: f64,
    /// The sheet's current body hash when it differs from `payload_hash` (the row changed in
    /// the sheet after its job was created); `None` when they agree.
    pub sheet_hash: Option<String>,
    /// Credits of every job this row ever had (failed and retried ones too), from `jobs`.
    pub credits_total: Option<f64>,
    /// More jobs the API created for this row than the one it has (found by reconciliation
    /// under the same reference): paid for too, never adopted.
    pub duplicates: Vec<String>,
    /// Whether the row is made directly, or as a preview first and then rendered.
    pub stage: super::review::Stage,
    /// What its preview cost (the rest of its credits is the render's), once made.
    pub preview_credits: Option<f64>,
}

impl Row {
    /// A row not sent yet, as the planner describes it.
    #[allow(clippy::too_many_arguments)]
    pub fn planned(
        key: String,
        ord: i64,
        lines: Vec<u64>,
        records: Records,
        name: Option<String>,
        payload_hash: String,
        body: String,
        est_seconds: f64,
        est_credits: f64,
    ) -> Self {
        Self {
            key,
            ord,
            lines,
            records,
            name,
            payload_hash,
            body,
            est_seconds,
            est_credits,
            state: RowState::Planned,
            generation: 0,
            reference: None,
            job_id: None,
            attempts: 0,
            ambiguous_since: None,
            last_error: None,
            api_status: None,
            job: None,
            credits_used: None,
            duration: None,
            failed_reason: None,
            video: None,
            thumbnail: None,
            submitted_at: None,
            updated_at: 0.0,
            sheet_hash: None,
            credits_total: None,
            duplicates: Vec::new(),
            stage: super::review::Stage::Direct,
            preview_credits: None,
        }
    }

    /// Whether the sheet now asks for something else than what its job was made from.
    pub fn changed(&self) -> bool {
        // A failed or rejected row has no video to be the old version of: edited, it is a
        // fix, sent again by --retry-failed.
        !matches!(self.state, RowState::Failed | RowState::Rejected)
            && self
                .sheet_hash
                .as_deref()
                .is_some_and(|h| h != self.payload_hash)
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    lines TEXT NOT NULL,
    records TEXT NOT NULL,
    name TEXT,
    payload_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    est_seconds REAL NOT NULL,
    est_credits REAL NOT NULL,
    state TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    reference TEXT,
    job_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    ambiguous_since REAL,
    last_error TEXT,
    api_status TEXT,
    job TEXT,
    credits_used REAL,
    duration REAL,
    failed_reason TEXT,
    video_path TEXT, video_sha256 TEXT, video_bytes INTEGER,
    thumb_path TEXT, thumb_sha256 TEXT, thumb_bytes INTEGER,
    submitted_at REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    generation INTEGER NOT NULL,
    reference TEXT,
    status TEXT,
    credits_used REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
);
";

pub(super) fn open(path: &Path, create: bool) -> Result<Connection, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    if create {
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate(&conn).map_err(err)?;
        super::review::migrate(&conn).map_err(err)?;
    }
    Ok(conn)
}

/// Brings a journal written by an older version up to this schema: the `sheet_hash` column,
/// and a `jobs` row for every job its rows know (older journals kept only each row's last
/// job, so credits of jobs replaced by `--retry-failed` there are lost for good).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_sheet_hash: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('rows') WHERE name = 'sheet_hash'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_sheet_hash {
        conn.execute_batch("ALTER TABLE rows ADD COLUMN sheet_hash TEXT")?;
    }
    conn.execute_batch(
        "INSERT OR IGNORE INTO jobs (job_id, key, generation, reference, status, credits_used,
            created_at, updated_at)
         SELECT job_id, key, generation, reference, api_status, credits_used,
            COALESCE(submitted_at, updated_at), updated_at FROM rows WHERE job_id IS NOT NULL",
    )
}

pub(super) fn open_read_only(path: &Path) -> Result<Connection, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(err)?;
    Ok(conn)
}

pub(super) fn writer_loop(
    mut conn: Connection,
    path: PathBuf,
    mut rx: mpsc::UnboundedReceiver<Batch>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let result = apply_all(&mut conn, &batch);
        for (_, ack) in batch {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(JournalError::Write {
                    path: path.clone(),
                    message: e.to_string(),
                }),
            };
            let _ = ack.send(r);
        }
    }
}

fn apply_all(conn: &mut Connection, batch: &[Batch]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = unix_now();
    for (changes, _) in batch {
        for change in changes {
            apply(&tx, change, now)?;
        }
    }
    tx.commit()
}

/// Seconds since the epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(super) fn event(
    tx: &Transaction,
    now: f64,
    key: &str,
    state: &str,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO events (at, key, state, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![now, key, state, detail])?;
    Ok(())
}

/// Sends `row` back to `planned` with the sheet's body and a new generation (so its next
/// submission carries a new reference), clearing its job and `reset` (SQL assignments) too,
/// if its state is one of `from` (SQL list); how many rows changed.
pub(super) fn replan(
    tx: &Transaction,
    row: &Row,
    now: f64,
    reset: &str,
    from: &str,
) -> rusqlite::Result<usize> {
    let lines = serde_json::to_string(&row.lines).unwrap_or_default();
    tx.prepare_cached(&format!(
        "UPDATE rows SET state = 'planned', generation = generation + 1, reference = NULL,
            job_id = NULL, ambiguous_since = NULL, api_status = NULL, job = NULL,
            failed_reason = NULL, last_error = NULL, submitted_at = NULL, credits_used = NULL,
            duration = NULL, sheet_hash = NULL, {reset},
            ord = ?2, lines = ?3, records = ?4, name = ?5, payload_hash = ?6, body = ?7,
            est_seconds = ?8, est_credits = ?9, updated_at = ?10
         WHERE key = ?1 AND state IN ({from})"
    ))?
    .execute(params![
        row.key,
        row.ord,
        lines,
        row.records.json(),
        row.name,
        row.payload_hash,
        row.body,
        row.est_seconds,
        row.est_credits,
        now
    ])
}

pub(super) fn set_state(
    tx: &Transaction,
    now: f64,
    key: &str,
    state: RowState,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE rows SET state = ?2, last_error = COALESCE(?3, last_error), updated_at = ?4 WHERE key = ?1")?
        .execute(params![key, state.as_str(), error, now])?;
    event(tx, now, key, state.as_str(), error)
}

fn apply(tx: &Transaction, change: &Change, now: f64) -> rusqlite::Result<()> {
    match change {
        Change::Plan(row) => {
            let lines = serde_json::to_string(&row.lines).unwrap_or_default();
            let records = row.records.json();
            let changed = tx
                .prepare_cached(
                    "INSERT INTO rows (key, ord, lines, records, name, payload_hash, body, est_seconds,
                        est_credits, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'planned', ?10)
                     ON CONFLICT(key) DO UPDATE SET ord = ?2, lines = ?3, records = ?4, name = ?5,
                        payload_hash = ?6, body = ?7, est_seconds = ?8, est_credits = ?9,
                        sheet_hash = NULL, updated_at = ?10
                     WHERE rows.state = 'planned'",
                )?
                .execute(params![
                    row.key,
                    row.ord,
                    lines,
                    records,
                    row.name,
                    row.payload_hash,
                    row.body,
                    row.est_seconds,
                    row.est_credits,
                    now
                ])?;
            if changed > 0 {
                event(tx, now, &row.key, "planned", None)?;
            }
        }
        Change::Retry { key } => {
            tx.prepare_cached(
                "UPDATE rows SET state = 'planned', generation = generation + 1, reference = NULL,
                    job_id = NULL, ambiguous_since = NULL, api_status = NULL, job = NULL,
                    failed_reason = NULL, last_error = NULL, submitted_at = NULL, sheet_hash = NULL,
                    updated_at = ?2
                 WHERE key = ?1 AND state IN ('failed', 'rejected')",
            )?
            .execute(params![key, now])?;
            event(tx, now, key, "planned", Some("retry requested"))?;
        }
        Change::Submitting { key, reference } => {
            tx.prepare_cached(
                "UPDATE rows SET state = 'submitting', ambiguous_since = CASE WHEN reference = ?2
                    THEN ambiguous_since ELSE NULL END, reference = ?2, attempts = attempts + 1,
                    updated_at = ?3 WHERE key = ?1",
            )?
            .execute(params![key, reference, now])?;
            event(tx, now, key, "submitting", Some(reference))?;
        }
        Change::Ambiguous { key, error } => {
            tx.prepare_cached(
                "UPDATE rows SET ambiguous_since = COALESCE(ambiguous_since, ?2), last_error = ?3,
                    updated_at = ?2 WHERE key = ?1",
            )?
            .execute(params![key, now, error])?;
            event(tx, now, key, "submitting", Some(error))?;
        }
        Change::Submitted { key, job_id } => {
            tx.prepare_cached(
                "UPDATE rows SET state = CASE WHEN stage = 'preview' THEN 'previewing'
                    ELSE 'submitted' END, job_id = ?2, ambiguous_since = NULL,
                    last_error = NULL, submitted_at = ?3, updated_at = ?3 WHERE key = ?1",
            )?
            .execute(params![key, job_id, now])?;
            // Every job a row ever had stays here, so its credits are never forgotten.
            tx.prepare_cached(
                "INSERT INTO jobs (job_id, key, generation, reference, status, created_at, updated_at)
                 SELECT ?2, key, generation, reference, 'created', ?3, ?3 FROM rows WHERE key = ?1
                 ON CONFLICT(job_id) DO NOTHING",
            )?
            .execute(params![key, job_id, now])?;
            event(tx, now, key, "submitted", Some(job_id))?;
        }
        Change::Duplicate {
            key,
            job_id,
            credits_used,
        } => {
            // Counted with the row's credits: the money is spent.
            tx.prepare_cached(
                "INSERT INTO jobs (job_id, key, generation, reference, status, credits_used,
                    created_at, updated_at)
                 SELECT ?2, key, generation, reference, 'duplicate', ?3, ?4, ?4 FROM rows WHERE key = ?1
                 ON CONFLICT(job_id) DO NOTHING",
            )?
            .execute(params![key, job_id, credits_used, now])?;
            event(tx, now, key, "duplicate", Some(job_id))?;
        }
        Change::Requeue { key, error } => {
            tx.prepare_cached(
                "UPDATE rows SET state = 'planned', ambiguous_since = NULL WHERE key = ?1",
            )?
            .execute(params![key])?;
            set_state(tx, now, key, RowState::Planned, Some(error))?;
        }
        Change::Unresolved { key, reason } => {
            set_state(tx, now, key, RowState::Unknown, Some(reason))?;
        }
        Change::RowFailed { key, error } => {
            tx.prepare_cached("UPDATE rows SET failed_reason = ?2 WHERE key = ?1")?
                .execute(params![key, error])?;
            set_state(tx, now, key, RowState::Failed, Some(error))?;
        }
        Change::Seen {
            key,
            job,
            status,
            credits_used,
            duration,
        } => {
            tx.prepare_cached(
                "UPDATE rows SET job = ?2, api_status = ?3, credits_used = COALESCE(?4, credits_used),
                    duration = COALESCE(?5, duration), updated_at = ?6 WHERE key = ?1",
            )?
            .execute(params![key, job, status, credits_used, duration, now])?;
            tx.prepare_cached(
                "UPDATE jobs SET status = ?2, credits_used = COALESCE(?3, credits_used),
                    updated_at = ?4 WHERE job_id = (SELECT job_id FROM rows WHERE key = ?1)",
            )?
            .execute(params![key, status, credits_used, now])?;
        }
        Change::SheetHash { key, hash } => {
            tx.prepare_cached("UPDATE rows SET sheet_hash = ?2 WHERE key = ?1")?
                .execute(params![key, hash])?;
        }
        Change::Rerender { row, kept } => {
            // A video made again is a direct creation (a reviewed row's preview and render
            // were for the old version).
            let changed = replan(
                tx,
                row,
                now,
                "video_path = NULL, video_sha256 = NULL, video_bytes = NULL, thumb_path = NULL,
                 thumb_sha256 = NULL, thumb_bytes = NULL, stage = 'direct', preview_credits = NULL",
                "'done', 'downloaded', 'failed', 'rejected'",
            )?;
            if changed > 0 {
                let detail = match kept {
                    Some(k) => format!("rerender requested; previous files kept as {k}"),
                    None => "rerender requested".to_owned(),
                };
                event(tx, now, &row.key, "planned", Some(&detail))?;
            }
        }
        Change::Finished { key, state, reason } => {
            tx.prepare_cached("UPDATE rows SET failed_reason = ?2 WHERE key = ?1")?
                .execute(params![key, reason])?;
            set_state(tx, now, key, *state, reason.as_deref())?;
        }
        Change::Downloaded {
            key,
            video,
            thumbnail,
        } => {
            tx.prepare_cached(
                "UPDATE rows SET state = 'downloaded', video_path = ?2, video_sha256 = ?3,
                    video_bytes = ?4, thumb_path = ?5, thumb_sha256 = ?6, thumb_bytes = ?7,
                    last_error = NULL, updated_at = ?8 WHERE key = ?1",
            )?
            .execute(params![
                key,
                video.path,
                video.sha256,
                video.bytes as i64,
                thumbnail.as_ref().map(|t| t.path.clone()),
                thumbnail.as_ref().map(|t| t.sha256.clone()),
                thumbnail.as_ref().map(|t| t.bytes as i64),
                now
            ])?;
            event(tx, now, key, "downloaded", Some(&video.sha256))?;
        }
        Change::Meta { key, value } => {
            tx.prepare_cached(
                "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = ?2",
            )?
            .execute(params![key, value])?;
        }
        Change::Review(r) => super::review::apply(tx, r, now)?,
        Change::Note { key, error } => {
            tx.prepare_cached("UPDATE rows SET last_error = ?2, updated_at = ?3 WHERE key = ?1")?
                .execute(params![key, error, now])?;
            event(tx, now, key, "note", Some(error))?;
        }
    }
    Ok(())
}

pub(super) const COLUMNS: &str =
    "key, ord, lines, records, name, payload_hash, body, est_seconds, est_credits,
    state, generation, reference, job_id, attempts, ambiguous_since, last_error, api_status, job,
    credits_used, duration, failed_reason, video_path, video_sha256, video_bytes, thumb_path,
    thumb_sha256, thumb_bytes, submitted_at, updated_at, sheet_hash,
    (SELECT SUM(j.credits_used) FROM jobs j WHERE j.key = rows.key) AS credits_total,
    (SELECT group_concat(j.job_id, ' ') FROM jobs j WHERE j.key = rows.key AND j.status = 'duplicate') AS duplicates, stage, preview_credits";

/// The columns a journal from before the `jobs` table can give (opened read-only, so not
/// migrated): the row's last job is all it knows.
fn legacy(columns: &str) -> String {
    columns
        .replace(", sheet_hash,", ", NULL AS sheet_hash,")
        .replace(
            "(SELECT SUM(j.credits_used) FROM jobs j WHERE j.key = rows.key) AS credits_total",
            "credits_used AS credits_total",
        )
        .replace(
            "(SELECT group_concat(j.job_id, ' ') FROM jobs j WHERE j.key = rows.key AND j.status = 'duplicate') AS duplicates",
            "NULL AS duplicates",
        )
        .replace(
            "AS duplicates, stage, preview_credits",
            "AS duplicates, 'direct' AS stage, NULL AS preview_credits",
        )
}

/// Whether the journal has this version's schema (a read-only `status` of an older one does
/// not migrate it).
fn current_schema(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

fn columns_for(conn: &Connection, columns: &str) -> String {
    if current_schema(conn) {
        super::review::columns_for(conn, columns.to_owned())
    } else {
        legacy(columns)
    }
}

/// The id of every job the batch ever had (the `jobs` table; each row's current job in a
/// journal from before it).
pub(super) fn job_ids(conn: &Connection, path: &Path) -> Result<Vec<String>, JournalError> {
    let sql = if current_schema(conn) {
        "SELECT job_id FROM jobs"
    } else {
        "SELECT job_id FROM rows WHERE job_id IS NOT NULL"
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

/// Credits of every job of the batch, failed and retried ones included.
pub(super) fn credits_total(conn: &Connection, path: &Path) -> Result<f64, JournalError> {
    let sql = if current_schema(conn) {
        "SELECT COALESCE(SUM(credits_used), 0) FROM jobs"
    } else {
        "SELECT COALESCE(SUM(credits_used), 0) FROM rows"
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([], |r| r.get::<_, f64>(0)))
        // `+ 0.0` turns SQLite's possible -0 into 0.
        .map(|c| c + 0.0)
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

/// Sums over a batch's rows, and when it was first and last touched.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Estimated credits of every row.
    pub est_credits: f64,
    /// Estimated seconds of every row.
    pub est_seconds: f64,
    /// Seconds of video made: the API's figures, over the rows whose files are on disk.
    pub seconds: f64,
    /// The first recorded change (unix seconds).
    pub first_at: Option<f64>,
    /// The last recorded change (unix seconds).
    pub last_at: Option<f64>,
}

pub(super) fn totals(conn: &Connection, path: &Path) -> Result<Totals, JournalError> {
    conn.prepare_cached(
        "SELECT COALESCE(SUM(est_credits), 0), COALESCE(SUM(est_seconds), 0),
            COALESCE(SUM(CASE WHEN state = 'downloaded' THEN duration END), 0),
            (SELECT MIN(at) FROM events), (SELECT MAX(at) FROM events)
         FROM rows",
    )
    .and_then(|mut s| {
        s.query_row([], |r| {
            Ok(Totals {
                est_credits: r.get(0)?,
                est_seconds: r.get(1)?,
                seconds: r.get(2)?,
                first_at: r.get(3)?,
                last_at: r.get(4)?,
            })
        })
    })
    .map_err(|source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

/// Rows whose sheet body changed since their job was created.
pub(super) fn changed_count(conn: &Connection, path: &Path) -> Result<usize, JournalError> {
    let has_column: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('rows') WHERE name = 'sheet_hash'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .is_ok_and(|n| n > 0);
    if !has_column {
        return Ok(0);
    }
    conn.prepare_cached(
        "SELECT COUNT(*) FROM rows WHERE sheet_hash IS NOT NULL AND sheet_hash != payload_hash
            AND state NOT IN ('failed', 'rejected')",
    )
    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
    .map(|n| n.max(0) as usize)
    .map_err(|source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

pub(super) fn rows(conn: &Connection, path: &Path) -> Result<Vec<Row>, JournalError> {
    let mut out = Vec::new();
    each_row(conn, path, COLUMNS, |row| {
        out.push(row);
        Ok::<_, JournalError>(())
    })?;
    Ok(out)
}

/// Calls `f` with every row in sheet order, reading `columns` (`COLUMNS` or [`LEAN`]).
pub(super) fn each_row<E: From<JournalError>>(
    conn: &Connection,
    path: &Path,
    columns: &str,
    mut f: impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {} FROM rows ORDER BY ord, key",
            columns_for(conn, columns)
        ))
        .map_err(err)?;
    let raw = stmt.query_map([], read_row).map_err(err)?;
    for r in raw {
        f(finish(r.map_err(err)?, path)?)?;
    }
    Ok(())
}

/// Every column but the two large ones, `body` and `job`, read as empty: what reports and
/// the engine's bookkeeping need, at a fraction of the memory and I/O.
pub(super) const LEAN: &str =
    "key, ord, lines, records, name, payload_hash, '' AS body, est_seconds, est_credits,
    state, generation, reference, job_id, attempts, ambiguous_since, last_error, api_status,
    NULL AS job, credits_used, duration, failed_reason, video_path, video_sha256, video_bytes,
    thumb_path, thumb_sha256, thumb_bytes, submitted_at, updated_at, sheet_hash,
    (SELECT SUM(j.credits_used) FROM jobs j WHERE j.key = rows.key) AS credits_total,
    (SELECT group_concat(j.job_id, ' ') FROM jobs j WHERE j.key = rows.key AND j.status = 'duplicate') AS duplicates, stage, preview_credits";

/// One column of one row.
pub(super) fn column(
    conn: &Connection,
    path: &Path,
    key: &str,
    column: &str,
) -> Result<Option<String>, JournalError> {
    conn.prepare_cached(&format!("SELECT {column} FROM rows WHERE key = ?1"))
        .and_then(|mut s| {
            s.query_row([key], |r| r.get::<_, Option<String>>(0))
                .optional()
        })
        .map(Option::flatten)
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

/// What a submission sends, as the journal has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The request body without the reference, as JSON.
    pub body: String,
    /// SHA-256 of that body.
    pub payload_hash: String,
    /// The row's generation (see [`Row::generation`]).
    pub generation: u32,
}

pub(super) fn payload(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Option<Payload>, JournalError> {
    conn.prepare_cached("SELECT body, payload_hash, generation FROM rows WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row([key], |r| {
                Ok(Payload {
                    body: r.get(0)?,
                    payload_hash: r.get(1)?,
                    generation: r.get(2)?,
                })
            })
            .optional()
        })
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

pub(super) fn counts(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<(RowState, usize)>, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare_cached("SELECT state, COUNT(*) FROM rows GROUP BY state")
        .map_err(err)?;
    let raw = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(err)?;
    let mut out = Vec::new();
    for r in raw {
        let (state, n) = r.map_err(err)?;
        let state = RowState::parse(&state).ok_or_else(|| JournalError::Corrupt {
            path: path.to_owned(),
            key: String::new(),
            what: "state",
        })?;
        out.push((state, n.max(0) as usize));
    }
    Ok(out)
}

/// The estimated credits of the rows in `state`.
pub(super) fn credits_in(
    conn: &Connection,
    path: &Path,
    state: RowState,
) -> Result<f64, JournalError> {
    conn.prepare_cached("SELECT COALESCE(SUM(est_credits), 0) FROM rows WHERE state = ?1")
        .and_then(|mut s| s.query_row([state.as_str()], |r| r.get(0)))
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

pub(super) fn row(conn: &Connection, path: &Path, key: &str) -> Result<Option<Row>, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {} FROM rows WHERE key = ?1",
            columns_for(conn, COLUMNS)
        ))
        .map_err(err)?
        .query_row([key], read_row)
        .optional()
        .map_err(err)?;
    raw.map(|r| finish(r, path)).transpose()
}

struct RawRow {
    row: Row,
    lines: String,
    records: String,
    state: String,
}

fn finish(raw: RawRow, path: &Path) -> Result<Row, JournalError> {
    let corrupt = |what| JournalError::Corrupt {
        path: path.to_owned(),
        key: raw.row.key.clone(),
        what,
    };
    let mut row = raw.row.clone();
    row.state = RowState::parse(&raw.state).ok_or_else(|| corrupt("state"))?;
    row.lines = serde_json::from_str(&raw.lines).map_err(|_| corrupt("line list"))?;
    row.records = Records::from_json(raw.records).map_err(|_| corrupt("record list"))?;
    Ok(row)
}

fn read_row(r: &rusqlite::Row) -> rusqlite::Result<RawRow> {
    let file = |p: Option<String>, h: Option<String>, b: Option<i64>| match (p, h, b) {
        (Some(path), Some(sha256), Some(bytes)) => Some(FileRecord {
            path,
            sha256,
            bytes: bytes.max(0) as u64,
        }),
        _ => None,
    };
    Ok(RawRow {
        lines: r.get(2)?,
        records: r.get(3)?,
        state: r.get(9)?,
        row: Row {
            key: r.get(0)?,
            ord: r.get(1)?,
            lines: Vec::new(),
            records: Records::default(),
            name: r.get(4)?,
            payload_hash: r.get(5)?,
            body: r.get(6)?,
            est_seconds: r.get(7)?,
            est_credits: r.get(8)?,
            state: RowState::Planned,
            generation: r.get(10)?,
            reference: r.get(11)?,
            job_id: r.get(12)?,
            attempts: r.get(13)?,
            ambiguous_since: r.get(14)?,
            last_error: r.get(15)?,
            api_status: r.get(16)?,
            job: r.get(17)?,
            credits_used: r.get(18)?,
            duration: r.get(19)?,
            failed_reason: r.get(20)?,
            video: file(r.get(21)?, r.get(22)?, r.get(23)?),
            thumbnail: file(r.get(24)?, r.get(25)?, r.get(26)?),
            submitted_at: r.get(27)?,
            updated_at: r.get(28)?,
            sheet_hash: r.get(29)?,
            credits_total: r.get(30)?,
            duplicates: r
                .get::<_, Option<String>>(31)?
                .map(|d| d.split(' ').map(str::to_owned).collect())
                .unwrap_or_default(),
            preview_credits: r.get(33)?,
            stage: super::review::Stage::parse(
                &r.get::<_, Option<String>>(32)?.unwrap_or_default(),
            ),
        },
    })
}

pub(super) fn meta(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Option<String>, JournalError> {
    conn.prepare_cached("SELECT v FROM meta WHERE k = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(|source| JournalError::Sqlite {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal written before the `jobs` table and `sheet_hash` existed is brought up to
    /// date when a run opens it, and its rows' jobs (credits included) are kept.
    #[test]
    fn an_older_journal_is_migrated_with_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        // `rows` and `meta` as they were: `sheet_hash` is only ever added by `migrate`.
        let old_schema = SCHEMA
            .split("CREATE TABLE IF NOT EXISTS jobs")
            .next()
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(old_schema).unwrap();
            conn.execute(
                "INSERT INTO rows (key, ord, lines, records, payload_hash, body, est_seconds,
                    est_credits, state, job_id, credits_used, updated_at)
                 VALUES ('a', 0, '[2]', '[]', 'h', '{}', 3, 5, 'downloaded', 'job-1', 5, 1)",
                [],
            )
            .unwrap();
        }
        // Read-only, not migrated: the legacy columns still read.
        let ro = open_read_only(&path).unwrap();
        assert_eq!(credits_total(&ro, &path).unwrap(), 5.0);
        let legacy = rows(&ro, &path).unwrap();
        assert_eq!(legacy[0].credits_total, Some(5.0));
        drop(ro);
        let conn = open(&path, true).unwrap();
        let jobs: (String, f64) = conn
            .query_row("SELECT job_id, credits_used FROM jobs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(jobs, ("job-1".to_owned(), 5.0));
        let all = rows(&conn, &path).unwrap();
        assert_eq!((all[0].credits_total, all[0].changed()), (Some(5.0), false));
        // Opening again changes nothing.
        drop(conn);
        let conn = open(&path, true).unwrap();
        assert_eq!(credits_total(&conn, &path).unwrap(), 5.0);
    }
}
