//! Bringing the journal up to date with the sheet before a run: new rows are added as
//! `planned`, unsent rows take the sheet's current body, `--retry-failed` sends failed rows
//! back to `planned`, and a row whose body changed after it was sent is reported, never
//! silently sent again (that would be a second bill).

use std::collections::HashMap;

use crate::journal::{Change, Journal, JournalError, Row, RowState};

/// What syncing found.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Rows new to the journal.
    pub added: usize,
    /// Failed rows sent back to `planned` by `--retry-failed`.
    pub retried: usize,
    /// Rows whose sheet body differs from what was sent: `(key, state)`.
    pub changed_after_submit: Vec<(String, RowState)>,
    /// Rows already done in an earlier run.
    pub already_done: usize,
}

/// Rows written per transaction: big enough that fsyncs don't dominate, small enough that
/// a 100k-row sheet is never held as journal rows all at once.
const CHUNK: usize = 2000;

/// Writes the sheet's rows into the journal and reports what it found. `rows` is consumed as
/// it is written (in transactions of [`CHUNK`] rows), so the caller can build each row
/// lazily. A crash halfway leaves some rows `planned` and others not yet known: the next
/// run's sync adds the rest.
pub async fn sync(
    journal: &Journal,
    rows: impl IntoIterator<Item = Row>,
    retry_failed: bool,
) -> Result<SyncReport, JournalError> {
    let mut known: HashMap<String, (RowState, String)> = HashMap::new();
    journal.for_each_row(|r| {
        known.insert(r.key, (r.state, r.payload_hash));
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
            Some((RowState::Planned, _)) => changes.push(Change::Plan(Box::new(row))),
            Some((RowState::Failed | RowState::Rejected, _)) if retry_failed => {
                report.retried += 1;
                changes.push(Change::Retry {
                    key: row.key.clone(),
                });
                changes.push(Change::Plan(Box::new(row)));
            }
            Some((state, hash)) => {
                if *hash != row.payload_hash {
                    report.changed_after_submit.push((row.key.clone(), *state));
                }
                if matches!(state, RowState::Downloaded) {
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
