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

/// Writes the sheet's rows into the journal (one transaction) and reports what it found.
pub async fn sync(
    journal: &Journal,
    rows: Vec<Row>,
    retry_failed: bool,
) -> Result<SyncReport, JournalError> {
    let known: HashMap<String, (RowState, String)> = journal
        .rows()?
        .into_iter()
        .map(|r| (r.key, (r.state, r.payload_hash)))
        .collect();
    let mut report = SyncReport::default();
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        match known.get(&row.key) {
            None => {
                report.added += 1;
                changes.push(Change::Plan(Box::new(row)));
            }
            Some((RowState::Planned, _)) => changes.push(Change::Plan(Box::new(row))),
            Some((state @ (RowState::Failed | RowState::Rejected), _)) if retry_failed => {
                let _ = state;
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
    }
    journal.apply(changes).await?;
    Ok(report)
}
