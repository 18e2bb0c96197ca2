//! Bringing the journal up to date with the sheet before a run: new rows are added as
//! `planned`, unsent rows take the sheet's current body, `--retry-failed` sends failed rows
//! back to `planned`, and a row whose body changed after it was sent is marked `changed`
//! (journal, summary, status, reports, exit 6), never silently sent again (that would be a
//! second bill): only `--rerender` sends it again, deliberately, as a new job.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::journal::{Change, Journal, JournalError, Row, RowState, Stage};

/// Which sent rows `--rerender` submits again as new jobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Rerender {
    /// None (the default).
    #[default]
    Nothing,
    /// Every row whose body changed since its job was created (`--rerender changed`).
    Changed,
    /// These keys, changed or not (`--rerender KEY[,KEY...]`).
    Keys(HashSet<String>),
}

impl Rerender {
    /// Parses `--rerender`'s value: `changed`, or a comma-separated list of keys.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "changed" {
            return Ok(Self::Changed);
        }
        let keys: HashSet<String> = s
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if keys.is_empty() {
            return Err(format!(
                "--rerender takes `changed` or a comma-separated list of row keys, got {s:?}"
            ));
        }
        Ok(Self::Keys(keys))
    }

    fn wants(&self, key: &str, changed: bool) -> bool {
        match self {
            Self::Nothing => false,
            Self::Changed => changed,
            Self::Keys(keys) => keys.contains(key),
        }
    }
}

/// What syncing found.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Rows new to the journal.
    pub added: usize,
    /// Failed rows sent back to `planned` by `--retry-failed`.
    pub retried: usize,
    /// Rows whose sheet body differs from what was sent, and stay so: `(key, state)`.
    pub changed_after_submit: Vec<(String, RowState)>,
    /// Failed rows made through a preview that a plain `--retry-failed` leaves alone: made
    /// again without `--preview`, they would be full-price videos nobody reviewed.
    pub not_retried_reviewed: Vec<String>,
    /// Rows `--rerender` asks for, as the sheet has them now: sent back to `planned` by
    /// [`rerender`] once the budget check has passed (until then nothing about them changes).
    pub to_rerender: Vec<Row>,
    /// Rows `--rerender` named that are still being made: left alone this time.
    pub rerender_in_flight: Vec<String>,
    /// Rows already done in an earlier run.
    pub already_done: usize,
}

/// Rows written per transaction: big enough that fsyncs don't dominate, small enough that
/// a 100k-row sheet is never held as journal rows all at once.
const CHUNK: usize = 2000;

/// What sync keeps of a journal row.
struct Known {
    state: RowState,
    payload_hash: String,
    sheet_hash: Option<String>,
    stage: Stage,
}

/// `--rerender`: sends `rows` (from [`SyncReport::to_rerender`]) back to `planned` with the
/// sheet's body and a new generation, so each becomes a new job. Each row's files are moved
/// aside (`video.1.mp4`, ...) before the journal forgets them, so a crash in between loses
/// nothing (the next run downloads the old job's files again). Returns where each row's
/// previous video went.
pub async fn rerender(
    journal: &Journal,
    batch_dir: &Path,
    rows: Vec<Row>,
) -> Result<Vec<(String, Option<String>)>, JournalError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kept = crate::output::previous::keep(batch_dir, &row.key).map_err(|e| {
            JournalError::Write {
                path: batch_dir.to_owned(),
                message: format!(
                    "cannot keep {}'s previous files before rendering it again: {e}",
                    row.key
                ),
            }
        })?;
        out.push((row.key.clone(), kept.clone()));
        journal
            .record(Change::Rerender {
                row: Box::new(row),
                kept,
            })
            .await?;
    }
    Ok(out)
}

/// Writes the sheet's rows into the journal and reports what it found. `rows` is consumed as
/// it is written (in transactions of [`CHUNK`] rows), so the caller can build each row
/// lazily. A crash halfway leaves some rows `planned` and others not yet known: the next
/// run's sync adds the rest. Rows `--rerender` asks for are only
/// reported (see [`rerender`]). `previewing` (`run --preview`): failed rows made through a
/// preview are retried only then.
pub async fn sync(
    journal: &Journal,
    rows: impl IntoIterator<Item = Row>,
    retry_failed: bool,
    previewing: bool,
    rerender: &Rerender,
) -> Result<SyncReport, JournalError> {
    let mut known: HashMap<String, Known> = HashMap::new();
    journal.for_each_row(|r| {
        known.insert(
            r.key,
            Known {
                state: r.state,
                payload_hash: r.payload_hash,
                sheet_hash: r.sheet_hash,
                stage: r.stage,
            },
        );
        Ok::<_, JournalError>(())
    })?;
    let mut report = SyncReport::default();
    let mut changes = Vec::with_capacity(CHUNK);
    for row in rows {
        match known.get(&row.key) {
            None => {
                report.added += 1;
                changes.push(Change::Plan(Box::new(row)));
            }
            Some(Known {
                state: RowState::Planned,
                ..
            }) => changes.push(Change::Plan(Box::new(row))),
            Some(Known {
                state: RowState::Failed | RowState::Rejected,
                stage,
                ..
            }) if retry_failed && *stage != Stage::Direct && !previewing => {
                report.not_retried_reviewed.push(row.key.clone());
            }
            Some(Known {
                state: RowState::Failed | RowState::Rejected,
                ..
            }) if retry_failed => {
                report.retried += 1;
                changes.push(Change::Retry {
                    key: row.key.clone(),
                });
                changes.push(Change::Plan(Box::new(row)));
            }
            Some(k) => {
                // A failed or rejected row has no video to be the old version of: edited, it is
                // a fix for --retry-failed, not a change.
                let changed = k.payload_hash != row.payload_hash
                    && !matches!(k.state, RowState::Failed | RowState::Rejected);
                if rerender.wants(&row.key, changed) {
                    if matches!(k.state, RowState::Submitting | RowState::Submitted) {
                        report.rerender_in_flight.push(row.key.clone());
                    } else {
                        // Still marked `changed` below until `rerender` sends it back: a
                        // run refused by the budget leaves the flag true.
                        report.to_rerender.push(row.clone());
                    }
                }
                let want = changed.then(|| row.payload_hash.clone());
                if want != k.sheet_hash {
                    changes.push(Change::SheetHash {
                        key: row.key.clone(),
                        hash: want,
                    });
                }
                if changed {
                    report.changed_after_submit.push((row.key.clone(), k.state));
                }
                if matches!(k.state, RowState::Downloaded) {
                    report.already_done += 1;
                }
            }
        }
        if changes.len() >= CHUNK {
            journal.apply(std::mem::take(&mut changes)).await?;
        }
    }
    if !changes.is_empty() {
        journal.apply(changes).await?;
    }
    Ok(report)
}
