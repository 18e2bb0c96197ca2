//! The journal's part of the review workflow: each row's stage (made directly, or previewed
//! and then rendered), the credits its preview cost, the `approvals` table, and the changes
//! that move a row through `previewing → preview_ready → render_requested → rendering`.
//!
//! Kept apart from `store.rs` so the core schema stays small; `store::open` calls
//! [`migrate`] and `store::apply` hands every [`ReviewChange`] to [`apply`].

use std::path::Path;

use rusqlite::{params, Connection, Transaction};

use super::store::{event, replan, set_state};
use super::{JournalError, Row, RowState};
use crate::review::{Approval, Verdict};

/// How a row's video is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Created in one step (`POST /api/lipsyncs_v2/`).
    #[default]
    Direct,
    /// Created as a preview (`POST .../preview/`), not yet sent to its final render.
    Preview,
    /// A preview whose final render was asked for (`POST .../{id}/render/`).
    Render,
}

impl Stage {
    /// The stage's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Preview => "preview",
            Self::Render => "render",
        }
    }

    /// Reads a stored name; anything unknown is `direct`, the stage of journals from before.
    pub fn parse(s: &str) -> Self {
        match s {
            "preview" => Self::Preview,
            "render" => Self::Render,
            _ => Self::Direct,
        }
    }
}

impl Row {
    /// Whether the row's job is (or began as) a preview.
    pub fn stage_is_preview(&self) -> bool {
        self.stage != Stage::Direct
    }
}

/// A step of the review workflow.
#[derive(Debug, Clone)]
pub enum ReviewChange {
    /// What the row's next submission is, a preview or a final video (recorded with, and
    /// before, its `submitting`).
    Stage {
        /// The row.
        key: String,
        /// [`Stage::Preview`] or [`Stage::Direct`].
        stage: Stage,
    },
    /// The preview is made: `preview` set, `output` empty.
    PreviewReady {
        /// The row.
        key: String,
        /// What the preview cost, as the job says.
        credits: Option<f64>,
    },
    /// A reviewer's verdict, already checked against the row ([`crate::review::check`]).
    Verdict(Approval),
    /// A rejected, edited row goes back to `planned` as a preview with the sheet's body and
    /// the next generation (a new reference, so a new preview job).
    Repreview {
        /// The row as the sheet has it now.
        row: Box<Row>,
    },
    /// About to send the render. Must be durable before the POST.
    RenderRequested {
        /// The row.
        key: String,
    },
    /// The render was taken (200, or the job read back shows it under way or done).
    Rendering {
        /// The row.
        key: String,
        /// How it is known.
        how: String,
    },
    /// The render was certainly not taken (400/401/402/429, connection refused): the row is
    /// its preview again, still approved.
    RenderRefused {
        /// The row.
        key: String,
        /// What the API said.
        error: String,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reference TEXT NOT NULL,
    source TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_key ON approvals (key);
";

/// Adds the review's columns and table to a journal of any earlier version (idempotent).
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (column, decl) in [
        ("stage", "TEXT NOT NULL DEFAULT 'direct'"),
        ("preview_credits", "REAL"),
    ] {
        if !has_column(conn, column) {
            conn.execute_batch(&format!("ALTER TABLE rows ADD COLUMN {column} {decl}"))?;
        }
    }
    conn.execute_batch(SCHEMA)
}

fn has_column(conn: &Connection, column: &str) -> bool {
    conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('rows') WHERE name = ?1",
        [column],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

/// The row columns for a journal opened read-only before [`migrate`] ran on it.
pub(super) fn columns_for(conn: &Connection, columns: String) -> String {
    if has_column(conn, "stage") {
        columns
    } else {
        columns.replace(
            "AS duplicates, stage, preview_credits",
            "AS duplicates, 'direct' AS stage, NULL AS preview_credits",
        )
    }
}

pub(super) fn apply(tx: &Transaction, change: &ReviewChange, now: f64) -> rusqlite::Result<()> {
    match change {
        ReviewChange::Stage { key, stage } => {
            tx.prepare_cached("UPDATE rows SET stage = ?2 WHERE key = ?1")?
                .execute(params![key, stage.as_str()])?;
        }
        ReviewChange::PreviewReady { key, credits } => {
            tx.prepare_cached(
                "UPDATE rows SET preview_credits = COALESCE(?2, credits_used) WHERE key = ?1",
            )?
            .execute(params![key, credits])?;
            set_state(tx, now, key, RowState::PreviewReady, None)?;
        }
        ReviewChange::Verdict(a) => {
            tx.prepare_cached(
                "INSERT INTO approvals (key, verdict, reference, source, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                a.key,
                a.verdict.as_str(),
                a.reference,
                a.source,
                now
            ])?;
            let detail = format!("{} by {} for {}", a.verdict, a.source, a.reference);
            event(tx, now, &a.key, a.verdict.as_str(), Some(&detail))?;
        }
        ReviewChange::Repreview { row } => {
            let n = replan(
                tx,
                row,
                now,
                "stage = 'preview', preview_credits = NULL",
                "'preview_ready', 'failed', 'rejected'",
            )?;
            if n > 0 {
                event(
                    tx,
                    now,
                    &row.key,
                    "planned",
                    Some("preview edited in the sheet: previewed again"),
                )?;
            }
        }
        ReviewChange::RenderRequested { key } => {
            tx.prepare_cached(
                "UPDATE rows SET stage = 'render', attempts = attempts + 1 WHERE key = ?1",
            )?
            .execute(params![key])?;
            set_state(tx, now, key, RowState::RenderRequested, None)?;
        }
        ReviewChange::Rendering { key, how } => {
            // `how` is the event's detail, not an error: a row rendering has none (it was
            // shown as "could not make this video: render taken", inviting a paid retry).
            tx.prepare_cached(
                "UPDATE rows SET stage = 'render', state = ?2, last_error = NULL, updated_at = ?3
                 WHERE key = ?1",
            )?
            .execute(params![key, RowState::Rendering.as_str(), now])?;
            event(tx, now, key, RowState::Rendering.as_str(), Some(how))?;
        }
        ReviewChange::RenderRefused { key, error } => {
            tx.prepare_cached("UPDATE rows SET stage = 'preview' WHERE key = ?1")?
                .execute(params![key])?;
            set_state(tx, now, key, RowState::PreviewReady, Some(error))?;
        }
    }
    Ok(())
}

/// Every verdict, oldest first (an empty list for a journal from before approvals).
pub(super) fn approvals(conn: &Connection, path: &Path) -> Result<Vec<Approval>, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let exists = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'approvals'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached("SELECT key, verdict, reference, source, at FROM approvals ORDER BY id")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, f64>(4)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for r in rows {
        let (key, verdict, reference, source, at) = r.map_err(err)?;
        let verdict = Verdict::parse(&verdict).ok_or_else(|| JournalError::Corrupt {
            path: path.to_owned(),
            key: key.clone(),
            what: "verdict",
        })?;
        out.push(Approval {
            key,
            verdict,
            reference,
            source,
            at,
        });
    }
    Ok(out)
}

/// What each row's preview cost, by key (rows with a preview only).
pub(super) fn preview_credits(
    conn: &Connection,
    path: &Path,
) -> Result<std::collections::HashMap<String, f64>, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    if !has_column(conn, "preview_credits") {
        return Ok(Default::default());
    }
    let mut stmt = conn
        .prepare_cached("SELECT key, preview_credits FROM rows WHERE preview_credits IS NOT NULL")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
        .map_err(err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(err)
}

/// Every reference the row's jobs had (its earlier previews too), oldest first.
pub(super) fn references(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Vec<String>, JournalError> {
    let err = |source| JournalError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT reference FROM jobs WHERE key = ?1 AND reference IS NOT NULL
             ORDER BY created_at",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([key], |r| r.get::<_, String>(0))
        .map_err(err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(err)
}

/// The latest verdict of each row, by key.
pub fn latest_verdicts(approvals: &[Approval]) -> std::collections::HashMap<&str, &Approval> {
    let mut out = std::collections::HashMap::new();
    for a in approvals {
        out.insert(a.key.as_str(), a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Change, Journal};

    fn planned(key: &str) -> Row {
        Row::planned(
            key.into(),
            0,
            vec![2],
            Default::default(),
            None,
            "h".into(),
            "{}".into(),
            3.0,
            5.0,
        )
    }

    /// A journal of the version before the review (no `stage`, no `approvals`) still reads,
    /// read-only, and is brought up to date when a run opens it; verdicts read back.
    #[tokio::test]
    async fn an_earlier_journal_opens_and_keeps_verdicts_after_migration() {
        let dir = tempfile::tempdir().unwrap();
        {
            let j = Journal::open(dir.path()).unwrap();
            j.record(Change::Plan(Box::new(planned("a"))))
                .await
                .unwrap();
        }
        // Take the review's columns and table out again: the journal as the last version
        // wrote it.
        {
            let c = Connection::open(dir.path().join(crate::journal::FILE_NAME)).unwrap();
            c.execute_batch(
                "DROP TABLE approvals; ALTER TABLE rows DROP COLUMN stage;
                 ALTER TABLE rows DROP COLUMN preview_credits;",
            )
            .unwrap();
        }
        let snap = Journal::open_read_only(dir.path()).unwrap().unwrap();
        assert_eq!(snap.rows[0].stage, Stage::Direct);
        let j = Journal::open(dir.path()).unwrap();
        assert!(j.approvals().unwrap().is_empty());
        j.apply(vec![
            Change::Review(ReviewChange::Stage {
                key: "a".into(),
                stage: Stage::Preview,
            }),
            Change::Submitting {
                key: "a".into(),
                reference: "cb0".into(),
            },
            Change::Submitted {
                key: "a".into(),
                job_id: "job".into(),
            },
        ])
        .await
        .unwrap();
        assert_eq!(j.row("a").unwrap().unwrap().state, RowState::Previewing);
        j.record(Change::Review(ReviewChange::PreviewReady {
            key: "a".into(),
            credits: Some(1.0),
        }))
        .await
        .unwrap();
        j.record(Change::Review(ReviewChange::Verdict(Approval {
            key: "a".into(),
            verdict: Verdict::Approved,
            reference: "cb0".into(),
            source: "command".into(),
            at: 0.0,
        })))
        .await
        .unwrap();
        let a = j.approvals().unwrap();
        assert_eq!(
            (a[0].verdict, a[0].reference.as_str()),
            (Verdict::Approved, "cb0")
        );
        let row = j.row("a").unwrap().unwrap();
        assert_eq!(
            (row.state, row.stage),
            (RowState::PreviewReady, Stage::Preview)
        );
        assert_eq!(j.view().unwrap().preview_credits().unwrap()["a"], 1.0);
    }

    /// How a render was known to be taken is history, not an error: `status` and the report
    /// showed "could not make this video: render taken" for every row rendering, inviting a
    /// paid `--retry-failed`. A refusal's error is cleared by a later render taken too.
    #[tokio::test]
    async fn a_row_rendering_carries_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let key = || "a".to_owned();
        j.record(Change::Plan(Box::new(planned("a"))))
            .await
            .unwrap();
        j.apply(vec![
            Change::Review(ReviewChange::Stage {
                key: key(),
                stage: Stage::Preview,
            }),
            Change::Submitting {
                key: key(),
                reference: "cb0".into(),
            },
            Change::Submitted {
                key: key(),
                job_id: "job".into(),
            },
            Change::Review(ReviewChange::PreviewReady {
                key: key(),
                credits: Some(1.0),
            }),
            Change::Review(ReviewChange::RenderRequested { key: key() }),
            Change::Review(ReviewChange::RenderRefused {
                key: key(),
                error: "render refused: 429".into(),
            }),
        ])
        .await
        .unwrap();
        assert!(j.row("a").unwrap().unwrap().last_error.is_some());
        j.apply(vec![
            Change::Review(ReviewChange::RenderRequested { key: key() }),
            Change::Review(ReviewChange::Rendering {
                key: key(),
                how: "render taken".into(),
            }),
        ])
        .await
        .unwrap();
        let row = j.row("a").unwrap().unwrap();
        assert_eq!((row.state, row.last_error), (RowState::Rendering, None));
    }
}
