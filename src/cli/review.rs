//! The command line of the review workflow: `approve BATCH KEY...` / `reject BATCH KEY...`,
//! and what `run --preview`, `run --approvals FILE` and `run --render-approved` do between
//! the journal's sync and the engine: record the sheet's `approve` column and the file's
//! verdicts, send rejected-then-edited rows back to be previewed again, pick exactly the
//! approved previews to render, and check the budget at the step's prices before any call.

use std::collections::HashSet;
use std::path::PathBuf;

use clap::Args;

use crate::api::{credits, ApiClient, ErrorClass};
use crate::engine::Mode;
use crate::exit::ExitCode;
use crate::journal::{
    latest_verdicts, BatchLock, Change, Journal, JournalError, LockError, ReviewChange, Row,
    RowState,
};
use crate::review::{check, Approval, Verdict};

use super::{invalid, say_error, summary};

/// `approve` and `reject`.
#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// The batch folder (OUT/<batch>, or OUT/sandbox/<batch> for a rehearsal).
    pub dir: PathBuf,
    /// The rows (the sheet's keys) whose current preview this verdict is for.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `approve`/`reject`: records the verdict on each row's current preview. All or nothing: an
/// unknown key (with a did-you-mean), a row without a ready preview, or an approval of a row
/// changed in the sheet since its preview is refused, and then nothing is recorded (exit 2).
pub(super) async fn verdict(args: VerdictArgs, verdict: Verdict) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if !dir.join(crate::journal::FILE_NAME).is_file() {
        return invalid(format!(
            "{} is not a batch folder (it has no {}); give the folder a run wrote, e.g. out/<batch>",
            dir.display(),
            crate::journal::FILE_NAME
        ));
    }
    let _lock = match BatchLock::acquire(dir) {
        Ok(l) => l,
        Err(e @ LockError::Busy { .. }) => return invalid(e),
        Err(e) => return Err(e.into()),
    };
    let journal = Journal::open(dir)?;
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    let mut keys: Option<Vec<String>> = None;
    for key in &args.keys {
        let Some(row) = journal.row(key)? else {
            let known = keys.get_or_insert_with(|| all_keys(&journal).unwrap_or_default());
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = crate::plan::values::suggest(key, &refs)
                .map(|k| format!(" (did you mean {k:?}?)"))
                .unwrap_or_default();
            refused.push(format!("no row with key {key:?} in this batch{hint}"));
            continue;
        };
        let reference = row.reference.clone().unwrap_or_default();
        match check(&row, &reference, verdict) {
            Ok(()) => changes.push(Change::Review(ReviewChange::Verdict(Approval {
                key: key.clone(),
                verdict,
                reference,
                source: "command".into(),
                at: crate::journal::unix_now(),
            }))),
            Err(e) => refused.push(e),
        }
    }
    // All or nothing: a mistyped key among good ones records none of them, so that the
    // command, fixed, can simply be run again.
    if !refused.is_empty() {
        journal.close();
        for r in &refused {
            say_error(r);
        }
        say_error(format!(
            "nothing was {verdict}; fix the keys above and run the command again"
        ));
        return Ok(ExitCode::InvalidInput);
    }
    let recorded = changes.len();
    journal.apply(changes).await?;
    journal.close();
    if recorded > 0 {
        println!(
            "{} {verdict}",
            summary::plural(recorded, "preview", "previews")
        );
    }
    Ok(ExitCode::Success)
}

/// The sheet's `approve` column, read before the plan is handed to the journal.
pub(super) fn sheet_verdicts(
    plan: &crate::plan::Plan,
) -> Result<Vec<(String, Option<Verdict>)>, String> {
    crate::review::column::verdicts(&plan.format.headers, &plan.videos)
        .map_err(|e| format!("{e}\nnothing was submitted; fix the sheet and run again"))
}

/// Rows with a preview not rendered yet (approved, rejected or not judged): `run --preview`
/// previews them again once edited, since nothing was paid beyond the preview.
pub(super) fn rejected_keys(journal: &Journal) -> Result<HashSet<String>, JournalError> {
    let mut out = HashSet::new();
    journal.for_each_row(|r| {
        let again = matches!(
            r.state,
            RowState::PreviewReady | RowState::Failed | RowState::Rejected
        );
        if r.stage == crate::journal::Stage::Preview && again {
            out.insert(r.key.clone());
        }
        Ok::<_, JournalError>(())
    })?;
    Ok(out)
}

/// `run --preview`: of the previewed rows sync found (`rows`, as the sheet has them now),
/// the edited ones go back to `planned` under the next generation, a new preview; a verdict
/// on the old preview no longer holds. Returns their keys (no longer `changed`).
pub(super) async fn repreview(
    journal: &Journal,
    rows: Vec<Row>,
) -> Result<Vec<String>, JournalError> {
    let approvals = journal.approvals()?;
    let latest = latest_verdicts(&approvals);
    let mut keys = Vec::new();
    for row in rows {
        let Some(known) = journal.row(&row.key)? else {
            continue;
        };
        if known.payload_hash == row.payload_hash {
            continue;
        }
        match latest
            .get(row.key.as_str())
            .filter(|a| known.reference.as_deref() == Some(a.reference.as_str()))
        {
            Some(a) => {
                tracing::info!(key = %row.key, "previewed row edited in the sheet: previewing it again; the old preview's verdict ({} by {}) no longer holds", a.verdict, a.source)
            }
            None => {
                tracing::info!(key = %row.key, "previewed row edited in the sheet: previewing it again")
            }
        }
        keys.push(row.key.clone());
        journal
            .record(Change::Review(ReviewChange::Repreview {
                row: Box::new(row),
            }))
            .await?;
    }
    Ok(keys)
}

/// What the review decided for this run.
pub(super) struct Decided {
    /// What the engine makes.
    pub mode: Mode,
    /// Approvals refused (the row changed, or the preview is not the row's current one).
    pub refused: usize,
}

/// A verdict given for this run.
pub(super) struct Given {
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
pub(super) fn given(
    args: &super::RunArgs,
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
pub(super) async fn record_rejections(
    journal: &Journal,
    given: &mut Vec<Given>,
) -> anyhow::Result<usize> {
    let (rejections, approvals) = std::mem::take(given)
        .into_iter()
        .partition(|g| g.verdict == Some(Verdict::Rejected));
    *given = approvals;
    record(journal, rejections).await
}

/// Records the approvals `given` (`refused`: verdicts refused already), then (for
/// `--preview` and `--render-approved`) checks the budget at the step's prices; `Err` is
/// the exit code of a run stopped before any paid call.
pub(super) async fn decide(
    args: &super::RunArgs,
    journal: &Journal,
    client: &ApiClient,
    given: Vec<Given>,
    refused: usize,
) -> anyhow::Result<Result<Decided, ExitCode>> {
    let mut refused = refused + record(journal, given).await?;
    let mode = if args.preview {
        Mode::Preview
    } else if args.render_approved {
        let (keys, more_refused, cost) = approved(journal)?;
        refused += more_refused;
        if let Some(code) = afford(
            client,
            args.max_credits,
            cost,
            "renders of the approved previews",
        )
        .await?
        {
            return Ok(Err(code));
        }
        if keys.is_empty() {
            tracing::warn!("no approved preview to render: approve rows (the approve column, creatify-batch approve, or --approvals FILE) first");
        }
        Mode::Render(keys)
    } else {
        return Ok(Ok(Decided {
            mode: Mode::Direct,
            refused,
        }));
    };
    if args.preview {
        let mut cost = 0.0;
        journal.for_each_row(|r| {
            if r.state == RowState::Planned {
                cost += credits::preview_credits(r.est_seconds);
            }
            Ok::<_, JournalError>(())
        })?;
        if let Some(code) = afford(client, args.max_credits, cost, "previews left to make").await? {
            return Ok(Err(code));
        }
    }
    Ok(Ok(Decided { mode, refused }))
}

/// The journal's `meta` name of the last-read `approve` cell of row `key`.
fn cell_meta(key: &str) -> String {
    format!("approve_cell:{key}")
}

/// Records each verdict that still holds and differs from the row's latest one; says why for
/// each that does not. A sheet cell is taken only when it changed since it was last read,
/// or when the row's current preview has no verdict yet: an unchanged cell is no act, and
/// never overrides a later verdict by command or file. Returns how many were refused.
async fn record(journal: &Journal, given: Vec<Given>) -> anyhow::Result<usize> {
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
fn all_keys(journal: &Journal) -> Result<Vec<String>, JournalError> {
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

/// The approved previews to render (and renders left unsure by an earlier run, to settle),
/// how many approvals no longer hold, and what the renders will cost.
fn approved(journal: &Journal) -> Result<(Vec<String>, usize, f64), JournalError> {
    let approvals = journal.approvals()?;
    let latest = latest_verdicts(&approvals);
    let (mut keys, mut refused, mut cost) = (Vec::new(), 0, 0.0);
    journal.for_each_row(|r| {
        if r.state == RowState::RenderRequested {
            keys.push(r.key.clone());
            return Ok(());
        }
        let Some(a) = latest.get(r.key.as_str()) else {
            return Ok(());
        };
        if a.verdict != Verdict::Approved || r.state != RowState::PreviewReady {
            return Ok(());
        }
        match check(&r, &a.reference, Verdict::Approved) {
            Ok(()) => {
                cost += credits::render_credits(r.est_seconds);
                keys.push(r.key.clone());
            }
            Err(e) => {
                tracing::error!("approval refused, not rendered: {e}");
                refused += 1;
            }
        }
        Ok::<_, JournalError>(())
    })?;
    Ok((keys, refused, cost))
}

/// Refuses (exit 3) a step whose `cost` is over `--max-credits` or the account's balance,
/// before any paid call; exit 5 when the credentials are refused.
async fn afford(
    client: &ApiClient,
    max_credits: Option<f64>,
    cost: f64,
    what: &str,
) -> anyhow::Result<Option<ExitCode>> {
    if cost == 0.0 {
        return Ok(None);
    }
    let c = summary::credits;
    if let Some(cap) = max_credits {
        if cost > cap + 1e-9 {
            say_error(format!(
                "the {what} are estimated at {} credits, over --max-credits {}; nothing was sent. Raise --max-credits to {} or approve fewer rows",
                c(cost),
                c(cap),
                c(cost)
            ));
            return Ok(Some(ExitCode::Budget));
        }
    }
    match client.remaining_credits().await {
        Ok(left) if cost > left + 1e-9 => {
            say_error(format!(
                "the {what} are estimated at {} credits, but the account has {}; nothing was sent. Top up the account to {}",
                c(cost),
                c(left),
                c(cost)
            ));
            Ok(Some(ExitCode::Budget))
        }
        Ok(left) => {
            tracing::info!(needed = %c(cost), remaining = %c(left), "credits check passed ({what})");
            Ok(None)
        }
        Err(e) if e.class() == ErrorClass::Auth => {
            say_error(format!("the API refused the credentials: {e}"));
            Ok(Some(ExitCode::Auth))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's credits; going on, the API will refuse what does not fit");
            Ok(None)
        }
    }
}

/// The review's line of the end-of-run summary, when the batch has previews.
pub(super) fn summary_line(c: &crate::progress::Counts) -> Option<String> {
    let any = c.previewing + c.preview_ready + c.render_requested + c.rendering;
    (any > 0).then(|| {
        format!(
            "review: {} previewing, {} preview ready, {} render asked for (unsure), {} rendering",
            c.previewing, c.preview_ready, c.render_requested, c.rendering
        )
    })
}

/// What each step cost and how the previews were judged, over the batch's rows.
struct Steps {
    preview_credits: f64,
    render_credits: f64,
    approved: usize,
    rejected: usize,
    awaiting: usize,
}

fn steps(rows: &[Row], approvals: &[Approval]) -> Steps {
    let latest = latest_verdicts(approvals);
    let mut s = Steps {
        preview_credits: 0.0,
        render_credits: 0.0,
        approved: 0,
        rejected: 0,
        awaiting: 0,
    };
    for r in rows {
        let Some(p) = r.preview_credits else {
            continue;
        };
        s.preview_credits += p;
        if r.stage == crate::journal::Stage::Render {
            s.render_credits += (r.credits_total.or(r.credits_used).unwrap_or(p) - p).max(0.0);
        }
        let verdict = latest
            .get(r.key.as_str())
            .filter(|a| r.reference.as_deref() == Some(a.reference.as_str()))
            .map(|a| a.verdict);
        match verdict {
            Some(Verdict::Approved) => s.approved += 1,
            Some(Verdict::Rejected) => s.rejected += 1,
            None if r.state == RowState::PreviewReady => s.awaiting += 1,
            None => {}
        }
    }
    s
}

/// `status`'s lines about the review, when the batch has previews.
pub(super) fn status_lines(rows: &[Row], approvals: &[Approval]) -> Vec<String> {
    let s = steps(rows, approvals);
    if s.preview_credits == 0.0 && approvals.is_empty() {
        return Vec::new();
    }
    vec![
        format!(
            "review: {} approved, {} rejected, {} awaiting a verdict",
            s.approved, s.rejected, s.awaiting
        ),
        format!(
            "credits by step: {} for previews, {} for renders",
            summary::credits(s.preview_credits),
            summary::credits(s.render_credits)
        ),
    ]
}

/// `status --json`'s `review` object.
pub(super) fn status_json(rows: &[Row], approvals: &[Approval]) -> serde_json::Value {
    let s = steps(rows, approvals);
    serde_json::json!({
        "approved": s.approved,
        "rejected": s.rejected,
        "awaiting": s.awaiting,
        "credits_previews": s.preview_credits,
        "credits_renders": s.render_credits,
        "approvals": approvals,
    })
}
