//! The verdicts given to a run: the sheet's `approve` cells and an `--approvals` file's
//! lines, and the rule that records them. The most recent deliberate act wins: a cell is
//! taken only when it changed since the last run read it (kept per row in the journal's
//! `meta`) or when the current preview has no verdict yet, and a cell saved before a
//! verdict by command or file does not override it.

use crate::exit::ExitCode;
use crate::journal::{latest_verdicts, Change, Journal, JournalError, ReviewChange, RowState};
use crate::review::{check, Approval, Verdict};

use super::super::{say_error, summary};

/// A verdict given for this run.
pub(in crate::cli) struct Given {
    key: String,
    /// `None`: an empty sheet cell (remembered, so that a cell written later is an act).
    verdict: Option<Verdict>,
    /// The preview it is for (`None`: the row's current one).
    reference: Option<String>,
    source: &'static str,
    /// Where it was read (`FILE, line N`), for messages.
    place: Option<String>,
    /// When the sheet was saved (unix seconds; `None` for a link or a file verdict): a cell
    /// saved before a verdict by command or file is older than it.
    saved_at: Option<f64>,
}

/// The verdicts of the sheet's `approve` column and of `--approvals FILE`; an unreadable
/// file is said, and is exit 2 with nothing sent.
pub(in crate::cli) fn given(
    args: &crate::cli::RunArgs,
    sheet: Vec<(String, Option<Verdict>)>,
) -> Result<Vec<Given>, ExitCode> {
    let saved_at = std::fs::metadata(&args.sheet)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    let mut given: Vec<Given> = sheet
        .into_iter()
        .map(|(key, verdict)| Given {
            key,
            verdict,
            reference: None,
            source: "sheet",
            place: None,
            saved_at,
        })
        .collect();
    if let Some(path) = &args.approvals {
        match crate::review::file::read_lines(path) {
            Ok(lines) => {
                tracing::info!(file = %path.display(), "{} read from the approvals file", summary::plural(lines.len(), "verdict", "verdicts"));
                given.extend(lines.into_iter().map(|(line, l)| Given {
                    key: l.key,
                    verdict: Some(if l.approve {
                        Verdict::Approved
                    } else {
                        Verdict::Rejected
                    }),
                    reference: Some(l.reference),
                    source: "file",
                    place: Some(format!("{}, line {}", path.display(), line)),
                    saved_at: None,
                }))
            }
            Err(e) => {
                say_error(format!("--approvals: {e}\nnothing was submitted"));
                return Err(ExitCode::InvalidInput);
            }
        }
    }
    Ok(given)
}

/// Before the sync: the rejections among `given` (taken out of it), so that a row rejected
/// and edited in the same sitting is previewed again by this very run (an approval waits
/// for the sync, which knows whether the row changed). Returns how many were refused.
pub(in crate::cli) async fn record_rejections(
    journal: &Journal,
    given: &mut Vec<Given>,
) -> anyhow::Result<usize> {
    let (rejections, approvals) = std::mem::take(given)
        .into_iter()
        .partition(|g| g.verdict == Some(Verdict::Rejected));
    *given = approvals;
    record(journal, rejections).await
}

/// The journal's `meta` name of the last-read `approve` cell of row `key`.
fn cell_meta(key: &str) -> String {
    format!("approve_cell:{key}")
}

/// Records each verdict that still holds and differs from the row's latest one; says why for
/// each that does not. A sheet cell is taken only when it changed since it was last read,
/// or when the row's current preview has no verdict yet: an unchanged cell is no act, and
/// never overrides a later verdict by command or file. Returns how many were refused.
pub(super) async fn record(journal: &Journal, given: Vec<Given>) -> anyhow::Result<usize> {
    let approvals = journal.approvals()?;
    let latest = latest_verdicts(&approvals);
    let by_sheet: Vec<Approval> = approvals
        .iter()
        .filter(|a| a.source == "sheet")
        .cloned()
        .collect();
    let latest_by_sheet = latest_verdicts(&by_sheet);
    let mut keys: Option<Vec<String>> = None;
    let mut changes = Vec::new();
    let mut refused = 0;
    let mut from_file = (0usize, 0usize);
    let rejections = given.iter().any(|g| g.verdict == Some(Verdict::Rejected));
    for g in given {
        let Given {
            key,
            verdict,
            reference,
            source,
            place,
            saved_at,
        } = g;
        let Some(row) = journal.row(&key)? else {
            // A sheet's row not in the journal yet is a new row: its cell is read again
            // once it is.
            if source != "sheet" {
                let known = keys.get_or_insert_with(|| all_keys(journal).unwrap_or_default());
                let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                let hint = crate::plan::values::suggest(&key, &refs)
                    .map(|k| format!(" (did you mean {k:?}?)"))
                    .unwrap_or_default();
                let at = place.map(|p| format!("{p}: ")).unwrap_or_default();
                tracing::error!("{at}{source} verdict for {key:?}, a row this batch does not have{hint}; ignored");
                refused += 1;
            }
            continue;
        };
        let mut changed_cell = true;
        if source == "sheet" {
            let cell = verdict.map_or("", Verdict::as_str);
            let last = journal.meta(&cell_meta(&key))?;
            changed_cell = last.as_deref() != Some(cell);
            if changed_cell {
                changes.push(Change::Meta {
                    key: cell_meta(&key),
                    value: cell.to_owned(),
                });
            }
        }
        let Some(verdict) = verdict else {
            continue;
        };
        // A cell beside a row not previewed yet speaks of a preview still to come.
        let not_yet = matches!(
            row.state,
            RowState::Planned | RowState::Submitting | RowState::Previewing
        );
        if source == "sheet" && not_yet {
            continue;
        }
        let reference = reference.unwrap_or_else(|| row.reference.clone().unwrap_or_default());
        let holding = latest
            .get(key.as_str())
            .filter(|a| row.reference.as_deref() == Some(a.reference.as_str()));
        let same = latest
            .get(key.as_str())
            .is_some_and(|a| a.verdict == verdict && a.reference == reference);
        // Past the preview (its render asked for, or made), a verdict changes nothing; a
        // column beside a row made directly is no review.
        let past = row.stage == crate::journal::Stage::Render;
        let direct = source == "sheet" && !row.stage_is_preview();
        if same || past || direct {
            continue;
        }
        // The most recent deliberate act wins: an unchanged cell is none, and a cell saved
        // before a verdict by command or file (the same run's file too) is older than it.
        let older = |a: &Approval| {
            !changed_cell || (a.source != "sheet" && saved_at.is_some_and(|t| t < a.at))
        };
        if source == "sheet" {
            if let Some(a) = holding.filter(|a| older(a)) {
                tracing::warn!(
                    "{key}: the sheet says {}, but it was {} by {} at {}; that verdict holds (change the cell to give a new one)",
                    if verdict == Verdict::Approved { "yes" } else { "no" },
                    a.verdict,
                    a.source,
                    when(a.at)
                );
                continue;
            }
        }
        // A cell that still says what it said about the row's previous preview was not
        // written about this one.
        let stale = source == "sheet"
            && !changed_cell
            && latest_by_sheet
                .get(key.as_str())
                .is_some_and(|a| a.verdict == verdict && a.reference != reference);
        if stale {
            tracing::info!(%key, "the approve cell still holds its verdict on the row's previous preview, so it is not taken for the new one: change the cell, or give that verdict with creatify-batch approve/reject, or the report");
            continue;
        }
        let current = row.reference.clone().unwrap_or_default();
        let result = if source == "file" && reference != current {
            Err(if journal.references(&key)?.contains(&reference) {
                format!("row {key}: this verdict is for preview {reference}, but the row was previewed again since (its preview is now {current}): review the new preview")
            } else {
                format!("row {key}: {reference} is not a preview of this row (its preview is {current}); download approvals.csv again from the report, or give the verdict with creatify-batch approve/reject")
            })
        } else {
            check(&row, &reference, verdict)
        };
        match result {
            Ok(()) => {
                from_file.1 += usize::from(source == "file");
                changes.push(Change::Review(ReviewChange::Verdict(Approval {
                    key,
                    verdict,
                    reference,
                    source: source.into(),
                    at: crate::journal::unix_now(),
                })))
            }
            Err(e) => {
                let at = place.map(|p| format!("{p}: ")).unwrap_or_default();
                tracing::error!("{at}{source} verdict refused: {e}");
                refused += 1;
            }
        }
        from_file.0 += usize::from(source == "file");
    }
    if from_file.0 > 0 {
        // Rejections and approvals are recorded in two passes (see `record_rejections`).
        let (one, many) = if rejections {
            ("rejection", "rejections")
        } else {
            ("approval", "approvals")
        };
        tracing::info!(
            "approvals file: {} of {} applied",
            summary::plural(from_file.1, one, many),
            from_file.0
        );
    }
    if !changes.is_empty() {
        journal.apply(changes).await?;
    }
    Ok(refused)
}

/// Every row's key, for a did-you-mean.
pub(super) fn all_keys(journal: &Journal) -> Result<Vec<String>, JournalError> {
    let mut out = Vec::new();
    journal.for_each_row(|r| {
        out.push(r.key);
        Ok::<_, JournalError>(())
    })?;
    Ok(out)
}

/// A verdict's time, as UTC.
fn when(at: f64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at.floor() as i64) {
        Ok(t) => format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{at}"),
    }
}
