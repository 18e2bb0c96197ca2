//! The command line of the review workflow: `approve BATCH KEY...` / `reject BATCH KEY...`,
//! and what `run --preview`, `run --approvals FILE` and `run --render-approved` do between
//! the journal's sync and the engine: record the sheet's `approve` column and the file's
//! verdicts, send rejected-then-edited rows back to be previewed again, pick exactly the
//! approved previews to render, and check the budget at the step's prices before any call.

use std::collections::HashSet;
use std::path::PathBuf;

use clap::Args;

use super::budget::Limit;
use crate::api::{credits, ApiClient};
use crate::engine::Mode;
use crate::exit::ExitCode;
use crate::journal::{latest_verdicts, Change, Journal, JournalError, ReviewChange, Row, RowState};
use crate::review::{check, Approval, Verdict};

use super::{invalid, say_error, summary};

mod verdicts;

use verdicts::{all_keys, record, Given};
pub(super) use verdicts::{given, record_rejections};

/// `approve` and `reject`.
#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// The batch: its folder (OUT/<batch>), the sheet (found as `run` finds it), or the
    /// output folder when it holds one batch, as `status` takes it.
    #[arg(value_name = "BATCH")]
    pub dir: PathBuf,
    /// The rows (the sheet's keys) whose current preview this verdict is for.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    /// Where the batch is looked for.
    #[command(flatten)]
    pub at: super::BatchLocation,
}

/// `approve`/`reject`: records the verdict on each row's current preview. All or nothing: an
/// unknown key (with a did-you-mean), a row without a ready preview, or an approval of a row
/// changed in the sheet since its preview is refused, and then nothing is recorded (exit 2).
pub(super) async fn verdict(args: VerdictArgs, verdict: Verdict) -> anyhow::Result<ExitCode> {
    let found = super::status::batch_of(Some(&args.dir), &args.at);
    let dir = &match found {
        Ok(d) => d,
        Err(e) => return invalid(e),
    };
    let _lock = match super::lock_batch(dir)? {
        Ok(l) => l,
        Err(code) => return Ok(code),
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
            "nothing was {verdict}: run the command again with the keys above fixed or left out"
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
                cost += credits::render_budget(r.est_credits, r.est_seconds);
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
    let c = summary::credits;
    super::budget::against(
        client,
        max_credits,
        cost,
        &format!("the {what}"),
        |limit, _| {
            Ok(match limit {
                Limit::MaxCredits => {
                    format!("Raise --max-credits to {} or {}", c(cost), fewer(what))
                }
                Limit::Balance => format!("Top up the account, or {}", fewer(what)),
            })
        },
    )
    .await
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

/// How to make a step cheaper: previews are of the sheet's rows, renders of the approved ones.
fn fewer(what: &str) -> &'static str {
    if what.starts_with("preview") {
        "preview fewer rows (split the sheet)"
    } else {
        "approve fewer rows (`reject KEY...` some)"
    }
}
