//! The journal: every job and every state change of a batch, durably, in SQLite.
//!
//! It lives at `<out>/<batch>/journal.sqlite` (WAL, `synchronous=FULL`). Anything the run
//! knows is here, so the manifest, the report and `status` are rebuilt from it, and a rerun
//! resumes from it.
//!
//! Writes go through one writer thread that applies every change waiting in its queue in one
//! transaction (group commit): a caller's `apply(..).await` returns once its change is on
//! disk, and many concurrent callers share one fsync. That keeps the exactly-once rule ("the
//! `submitting` row is durable before the POST") cheap at hundreds of videos a second.
//!
//! Row states and their transitions:
//! ```text
//! planned ──► submitting ──► submitted ──► done ──► downloaded
//!    ▲            │  │            │
//!    └────────────┘  └─► failed   ├──► failed
//!  (definitely not     (API 400)  └──► rejected
//!   created, or not found
//!   after reconciliation)
//! ```
//! `--retry-failed` moves `failed`/`rejected` back to `planned` with a new generation, so the
//! next submission carries a new reference. Rows made for review first (`run --preview`) go
//! `submitting → previewing → preview_ready → render_requested → rendering → done`
//! (see `review.rs` here and ARCHITECTURE.md).

mod lock;
mod review;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use lock::{BatchLock, LockError};
pub use review::{latest_verdicts, ReviewChange, Stage};
pub use store::{unix_now, FileRecord, Payload, Row, RowState, Totals};

/// The journal's file name inside a batch folder.
pub const FILE_NAME: &str = "journal.sqlite";

/// What can go wrong with the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused.
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A group of changes could not be committed; none of them is saved.
    #[error("journal {path}: could not save a change: {message}")]
    Write {
        /// The journal file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The writer thread is gone (the process is shutting down).
    #[error("the journal writer stopped; the last change may not be saved")]
    WriterGone,
    /// A stored value could not be read back.
    #[error("journal {path}: row {key:?} has an unreadable {what}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// The row.
        key: String,
        /// Which value.
        what: &'static str,
    },
}

/// One change to the journal. Each is applied with the time it was written.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert a planned row, or refresh a still-unsent row's body (`planned` only).
    Plan(Box<Row>),
    /// Move `failed`/`rejected` back to `planned` under the next generation.
    Retry {
        /// The row.
        key: String,
    },
    /// About to POST: the reference that goes into `name`. Must be durable before sending.
    Submitting {
        /// The row.
        key: String,
        /// The reference embedded in the job's name.
        reference: String,
    },
    /// The POST's outcome was ambiguous; the row stays `submitting` until reconciled.
    Ambiguous {
        /// The row.
        key: String,
        /// What happened.
        error: String,
    },
    /// The API created the job (201, or found by reconciliation).
    Submitted {
        /// The row.
        key: String,
        /// The job's id.
        job_id: String,
    },
    /// The job was definitely not created and may be sent again later.
    Requeue {
        /// The row.
        key: String,
        /// Why.
        error: String,
    },
    /// A second job the API created for a row (found under its reference): paid for, never
    /// adopted; its credits count with the row's.
    Duplicate {
        /// The row.
        key: String,
        /// The other job's id.
        job_id: String,
        /// What it was charged, as listed.
        credits_used: Option<f64>,
    },
    /// Whether the job of an unanswered creation exists cannot be proven: the row is
    /// `unknown`, never sent again blindly.
    Unresolved {
        /// The row.
        key: String,
        /// Why it cannot be proven, and what to check.
        reason: String,
    },
    /// The row can't be rendered (the API refused its body).
    RowFailed {
        /// The row.
        key: String,
        /// The API's message.
        error: String,
    },
    /// The job's latest status and object, as polled.
    Seen {
        /// The row.
        key: String,
        /// The job as last seen, as JSON.
        job: String,
        /// The job's status string.
        status: String,
        /// Credits charged.
        credits_used: Option<f64>,
        /// Seconds of video.
        duration: Option<f64>,
    },
    /// The job reached a terminal state.
    Finished {
        /// The row.
        key: String,
        /// `done`, `failed` or `rejected`.
        state: RowState,
        /// `failed_reason`, when any.
        reason: Option<String>,
    },
    /// The video and thumbnail are on disk, verified.
    Downloaded {
        /// The row.
        key: String,
        /// The video file.
        video: FileRecord,
        /// The thumbnail file (absent when the job had none).
        thumbnail: Option<FileRecord>,
    },
    /// Records the sheet's current body hash of a row that was already sent: `Some` when it
    /// differs from what the job was made from (the row is `changed`), `None` when it agrees.
    SheetHash {
        /// The row.
        key: String,
        /// The sheet's hash, or `None`.
        hash: Option<String>,
    },
    /// `--rerender`: a finished row goes back to `planned` with the sheet's current body and
    /// the next generation (a new reference, so a new job); its old jobs stay in `jobs`.
    Rerender {
        /// The row as the sheet has it now.
        row: Box<Row>,
        /// Where its previous files were moved, for the event log.
        kept: Option<String>,
    },
    /// A batch-wide fact (the sheet's headers and delimiter, for `failed.csv`).
    Meta {
        /// Its name.
        key: String,
        /// Its value.
        value: String,
    },
    /// A step of the review workflow (previews, verdicts, renders; see [`ReviewChange`]).
    Review(ReviewChange),
    /// A problem worth showing that changes no state (e.g. a download that keeps failing).
    Note {
        /// The row.
        key: String,
        /// What happened.
        error: String,
    },
}

/// The meta key under which the sheet's format (headers, delimiter) is kept.
pub const SHEET_META: &str = "sheet";

/// The meta key under which the batch's sheet (canonical path and content hash) is kept
/// ([`crate::batch::Source`] as JSON).
pub const SOURCE_META: &str = "source";

/// The meta key under which the batch's API target (base URL and API id fingerprint, or the
/// sandbox) is kept ([`crate::batch::Target`] as JSON).
pub const TARGET_META: &str = "target";

/// Everything in a journal, read at once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Every row, in sheet order.
    pub rows: Vec<Row>,
    /// Credits of every job the batch ever created (see [`Journal::credits_total`]).
    pub credits_total: f64,
    /// The sheet's format as JSON ([`SHEET_META`]), when recorded.
    pub sheet: Option<String>,
    /// Every reviewer's verdict, oldest first.
    pub approvals: Vec<crate::review::Approval>,
}

type Batch = (Vec<Change>, oneshot::Sender<Result<(), JournalError>>);

/// A handle on an open journal: writes through the group-commit writer, reads through a
/// connection of its own.
pub struct Journal {
    path: PathBuf,
    tx: mpsc::UnboundedSender<Batch>,
    reader: Mutex<Connection>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `batch_dir`.
    pub fn open(batch_dir: &Path) -> Result<Self, JournalError> {
        let path = batch_dir.join(FILE_NAME);
        let conn = store::open(&path, true)?;
        let reader = store::open(&path, false)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_path = path.clone();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || store::writer_loop(conn, writer_path, rx))
            .map_err(|e| JournalError::Write {
                path: path.clone(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Self {
            path,
            tx,
            reader: Mutex::new(reader),
            writer: Some(writer),
        })
    }

    /// Opens an existing journal for reading only (for `status`); `None` when there is none.
    pub fn open_read_only(batch_dir: &Path) -> Result<Option<Snapshot>, JournalError> {
        let path = batch_dir.join(FILE_NAME);
        if !path.exists() {
            return Ok(None);
        }
        let conn = store::open_read_only(&path)?;
        Ok(Some(Snapshot {
            rows: store::rows(&conn, &path)?,
            credits_total: store::credits_total(&conn, &path)?,
            sheet: store::meta(&conn, &path, SHEET_META)?,
            approvals: review::approvals(&conn, &path)?,
        }))
    }

    /// Reads the batch-wide fact `key` of the journal in `batch_dir` without opening it for
    /// writing; `None` when there is no journal or no such fact.
    pub fn read_meta(batch_dir: &Path, key: &str) -> Result<Option<String>, JournalError> {
        let path = batch_dir.join(FILE_NAME);
        if !path.exists() {
            return Ok(None);
        }
        let conn = store::open_read_only(&path)?;
        // A run killed while it created the journal leaves one without its tables.
        let has_meta = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |_| Ok(()),
            )
            .is_ok();
        if !has_meta {
            return Ok(None);
        }
        store::meta(&conn, &path, key)
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in one transaction; returns once they are durable.
    pub async fn apply(&self, changes: Vec<Change>) -> Result<(), JournalError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((changes, ack))
            .map_err(|_| JournalError::WriterGone)?;
        done.await.map_err(|_| JournalError::WriterGone)?
    }

    /// Applies one change; returns once it is durable.
    pub async fn record(&self, change: Change) -> Result<(), JournalError> {
        self.apply(vec![change]).await
    }

    /// Calls `f` with every row in sheet order, one at a time, without `body` and `job` (see
    /// [`View::for_each_row`]).
    pub fn for_each_row<E: From<JournalError>>(
        &self,
        f: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        self.view()?.for_each_row(f)
    }

    /// A consistent view of the journal as it is now, on a connection of its own, so a long
    /// read (a 100k-row report) never holds up the run's other reads, and sees one instant
    /// while the writer goes on.
    pub fn view(&self) -> Result<View, JournalError> {
        let conn = store::open_read_only(&self.path)?;
        // A deferred read transaction: its snapshot is taken at the first read and kept
        // until the view is dropped (WAL readers never block the writer).
        conn.execute_batch("BEGIN")
            .map_err(|source| JournalError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        Ok(View {
            conn,
            path: self.path.clone(),
        })
    }

    /// What a submission of `key` sends: its body and what its reference is made of.
    pub fn payload(&self, key: &str) -> Result<Option<Payload>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::payload(&conn, &self.path, key)
    }

    /// A row's job object as last seen, as JSON.
    pub fn job(&self, key: &str) -> Result<Option<String>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::column(&conn, &self.path, key, "job")
    }

    /// The estimated credits of the rows in `state`.
    pub fn credits_in(&self, state: RowState) -> Result<f64, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::credits_in(&conn, &self.path, state)
    }

    /// The id of every job the batch ever had, earlier generations' and duplicates included.
    pub fn job_ids(&self) -> Result<Vec<String>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::job_ids(&conn, &self.path)
    }

    /// Credits of every job the batch ever created, failed and retried ones included.
    pub fn credits_total(&self) -> Result<f64, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::credits_total(&conn, &self.path)
    }

    /// A batch-wide fact stored with [`Change::Meta`].
    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::meta(&conn, &self.path, key)
    }

    /// One row.
    pub fn row(&self, key: &str) -> Result<Option<Row>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        store::row(&conn, &self.path, key)
    }

    /// Every reviewer's verdict, oldest first (the latest of a row is the one that counts).
    pub fn approvals(&self) -> Result<Vec<crate::review::Approval>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        review::approvals(&conn, &self.path)
    }

    /// Every reference row `key`'s jobs had (earlier previews too), oldest first.
    pub fn references(&self, key: &str) -> Result<Vec<String>, JournalError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        review::references(&conn, &self.path, key)
    }

    /// Stops the writer after it has applied everything queued.
    pub fn close(mut self) {
        self.stop_writer();
    }

    fn stop_writer(&mut self) {
        // Dropping the sender ends the writer loop once the queue is drained.
        let (tx, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// A read-only view of a journal at one instant (see [`Journal::view`]).
pub struct View {
    conn: Connection,
    path: PathBuf,
}

impl View {
    /// How many rows are in each state (states without rows are left out).
    pub fn counts(&self) -> Result<Vec<(RowState, usize)>, JournalError> {
        store::counts(&self.conn, &self.path)
    }

    /// Credits of every job the batch ever created.
    pub fn credits_total(&self) -> Result<f64, JournalError> {
        store::credits_total(&self.conn, &self.path)
    }

    /// Rows whose sheet body changed since their job was created.
    pub fn changed_count(&self) -> Result<usize, JournalError> {
        store::changed_count(&self.conn, &self.path)
    }

    /// A batch-wide fact stored with [`Change::Meta`].
    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        store::meta(&self.conn, &self.path, key)
    }

    /// Every reviewer's verdict, oldest first (the latest of a row is the one that counts).
    pub fn approvals(&self) -> Result<Vec<crate::review::Approval>, JournalError> {
        review::approvals(&self.conn, &self.path)
    }

    /// What each row's preview cost, by key (its render's credits are the rest of the
    /// row's `credits_used`).
    pub fn preview_credits(&self) -> Result<std::collections::HashMap<String, f64>, JournalError> {
        review::preview_credits(&self.conn, &self.path)
    }

    /// Sums over every row and the times of the first and last recorded change, for the
    /// report's header.
    pub fn totals(&self) -> Result<Totals, JournalError> {
        store::totals(&self.conn, &self.path)
    }

    /// Calls `f` with every row in sheet order, one at a time, `body` and `job` included:
    /// what the HTML report shows of each video (its scenes, avatar, voice, progress).
    pub fn for_each_full_row<E: From<JournalError>>(
        &self,
        f: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        store::each_row(&self.conn, &self.path, store::COLUMNS, f)
    }

    /// Calls `f` with every row in sheet order, one at a time. `body` and `job`, the two large
    /// columns, are read as empty (see [`Journal::payload`] and [`Journal::job`]): reports and
    /// the engine's bookkeeping never need them, and a 100k-row scan stays small.
    pub fn for_each_row<E: From<JournalError>>(
        &self,
        f: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        store::each_row(&self.conn, &self.path, store::LEAN, f)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop_writer();
    }
}
