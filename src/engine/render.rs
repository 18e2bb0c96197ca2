//! `run --render-approved`: the final render of each approved preview, exactly once.
//!
//! A render is a paid POST with no idempotency key, and whether a second one on the same job
//! charges twice is undocumented, so:
//! 1. the row is journaled `render_requested` (durably) before the POST;
//! 2. a 2xx → `rendering`; a certain "not taken" (4xx, connection refused) → back to
//!    `preview_ready`, still approved, for the next run;
//! 3. anything ambiguous (timeout, reset, 5xx) is settled by reading the job
//!    (`GET /api/lipsyncs_v2/{id}/`), never by posting again: a job that shows the render
//!    under way or done (output set, status moved off the preview's finished state, credits
//!    grown, progress restarted) is `rendering`. Only a job that, read after the
//!    reconciliation window (request timeout + clock skew), still shows exactly the finished
//!    preview as journaled may be sent again, and at most once a run; anything else leaves
//!    the row `render_requested` (exit 8), looked at again by the next run.
//!
//! This runs before the engine's loop, which then polls `rendering` rows and downloads them
//! like any job ("final done" = `output` set after the render).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::api::review::RenderOutcome;
use crate::api::{ApiError, Job, JobStatus};
use crate::journal::{unix_now, Change, JournalError, ReviewChange, RowState};

use super::Shared;

/// How often an unsure render's job is read while its reconciliation window runs.
const LOOK_EVERY: Duration = Duration::from_secs(10);

/// Renders refused with 429 asked again (after the wait each asks for) before giving up.
const THROTTLED_TRIES: usize = 5;

/// Render POSTs under way at once: they are few, and each is one POST.
const AT_ONCE: usize = 8;

/// Asks for the render of every row in `keys` that is `preview_ready`, and settles every one
/// left `render_requested` by an earlier run.
///
/// Two passes, so an unanswered render never holds up the others: every render is asked for
/// first, and only then are the unsure ones settled, all at once (each mostly waits out its
/// reconciliation window, then reads its job through the shared pacer).
///
/// Returns how many renders found no server (connection refused): those rows stay approved
/// previews, and the run ends with exit 7, not as failures.
pub(super) async fn phase(shared: &Arc<Shared>, keys: &[String]) -> Result<usize, JournalError> {
    let mut unsure = Vec::new();
    let mut unreached = 0;
    let mut asked = futures_util::stream::iter(keys.iter().cloned())
        .map(|key| {
            let shared = shared.clone();
            async move { ask(&shared, &key).await }
        })
        .buffer_unordered(AT_ONCE);
    while let Some(r) = asked.next().await {
        match r? {
            Asked::Unsure(u) => unsure.push(*u),
            Asked::Unreached => unreached += 1,
            Asked::Settled => {}
        }
    }
    drop(asked);
    let mut settled = futures_util::stream::iter(unsure)
        .map(|u| {
            let shared = shared.clone();
            async move { settle(&shared, u).await }
        })
        .buffer_unordered(usize::MAX);
    while let Some(r) = settled.next().await {
        if r? {
            unreached += 1;
        }
    }
    Ok(unreached)
}

/// What a render POST left behind.
enum Sent {
    /// Taken, or certainly not: nothing more to do this run.
    Settled,
    /// No certain answer: read the job.
    Unsure,
    /// No server answered (connection refused): certainly not taken, and no refusal either.
    Unreached,
}

/// What asking for a row's render left behind.
enum Asked {
    Settled,
    Unsure(Box<Unsure>),
    Unreached,
}

/// A render whose take is not known yet.
struct Unsure {
    key: String,
    job_id: String,
    /// The finished preview as last seen: what "unchanged" is measured against.
    preview: Option<Job>,
    /// When the render was last asked for.
    attempt_at: f64,
}

/// Asks for the row's render if it is `preview_ready`; a row left `render_requested` (or an
/// unanswered render) is returned to be settled.
async fn ask(shared: &Shared, key: &str) -> Result<Asked, JournalError> {
    let Some(row) = shared.journal.row(key)? else {
        return Ok(Asked::Settled);
    };
    let Some(job_id) = row.job_id.clone() else {
        tracing::warn!(%key, "approved, but the journal has no preview job for this row; preview it first");
        return Ok(Asked::Settled);
    };
    let preview: Option<Job> = row
        .job
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok());
    let attempt_at = match row.state {
        RowState::PreviewReady => match send(shared, key, &job_id, preview.as_ref()).await? {
            Sent::Settled => return Ok(Asked::Settled),
            Sent::Unreached => return Ok(Asked::Unreached),
            Sent::Unsure => unix_now(),
        },
        RowState::RenderRequested => row.updated_at,
        _ => return Ok(Asked::Settled),
    };
    Ok(Asked::Unsure(Box::new(Unsure {
        key: key.to_owned(),
        job_id,
        preview,
        attempt_at,
    })))
}

/// Settles an unsure render by reading its job, never by posting again blindly. True when
/// the render asked once more found no server.
async fn settle(shared: &Shared, u: Unsure) -> Result<bool, JournalError> {
    let Unsure {
        key,
        job_id,
        preview,
        mut attempt_at,
    } = u;
    let key = key.as_str();
    let window = shared.cfg.search_margin.as_secs_f64();
    let mut resent = false;
    let mut told = false;
    loop {
        let read = shared.client.job(&job_id).await;
        let judged = match &read {
            Ok(now) => judge(preview.as_ref(), now),
            Err(e) => {
                tracing::warn!(%key, error = %e, "cannot read the job to see whether its render was taken; the row waits, never rendered blindly (rerun later)");
                return Ok(false);
            }
        };
        let job = read.ok();
        let left = attempt_at + window - unix_now();
        match judged {
            Judged::Rendering(how) => {
                tracing::info!(%key, %how, "the render was taken");
                let mut changes = vec![Change::Review(ReviewChange::Rendering {
                    key: key.to_owned(),
                    how,
                })];
                changes.extend(job.map(|j| seen(key, &j)));
                shared.journal.apply(changes).await?;
                return Ok(false);
            }
            // Before the window has passed, an unchanged job proves nothing yet: look again
            // now and then (a render taken shows long before the window ends).
            _ if left > 0.0 => {
                if !told {
                    told = true;
                    tracing::info!(%key, wait_secs = left.ceil(), every_secs = LOOK_EVERY.as_secs(), "the job does not show the render yet; reading it again until the reconciliation window has passed, never rendering blindly");
                }
                tokio::time::sleep(LOOK_EVERY.min(Duration::from_secs_f64(left))).await;
            }
            Judged::Unchanged if !resent => {
                resent = true;
                told = false;
                tracing::info!(%key, "the job still shows the finished preview, unchanged, past the reconciliation window: taken as not rendered; asking once more (a second render, if the first was taken after all, is refused by the API or followed: never a third)");
                match send(shared, key, &job_id, preview.as_ref()).await? {
                    Sent::Settled => return Ok(false),
                    Sent::Unreached => return Ok(true),
                    Sent::Unsure => attempt_at = unix_now(),
                }
            }
            Judged::Unchanged | Judged::Unclear => {
                tracing::warn!(%key, job = %job_id, "whether the render was taken cannot be proven from the job; the row stays render_requested and is not rendered again blindly: rerun later, or check the job in the account");
                return Ok(false);
            }
        }
    }
}

/// One render POST, journaled before it leaves.
async fn send(
    shared: &Shared,
    key: &str,
    job_id: &str,
    preview: Option<&Job>,
) -> Result<Sent, JournalError> {
    shared
        .journal
        .record(Change::Review(ReviewChange::RenderRequested {
            key: key.to_owned(),
        }))
        .await?;
    let mut outcome = shared.client.render(job_id).await;
    // A 429 is a certain "not taken": wait as it asks and ask again, a few times, rather than
    // call the render refused (exit 1) for a busy minute.
    for _ in 0..THROTTLED_TRIES {
        let RenderOutcome::NotTaken(ApiError::Throttled { retry_after, .. }) = &outcome else {
            break;
        };
        tracing::info!(%key, wait_secs = retry_after.as_secs_f64(), "render throttled (429, not taken); asking again after the wait");
        tokio::time::sleep(*retry_after).await;
        outcome = shared.client.render(job_id).await;
    }
    match outcome {
        RenderOutcome::NotTaken(
            e @ ApiError::Network {
                maybe_sent: false, ..
            },
        ) => {
            tracing::error!(%key, error = %e, "no server answered the render (not sent); the preview stays approved for the next run");
            shared
                .journal
                .record(Change::Review(ReviewChange::RenderRefused {
                    key: key.to_owned(),
                    error: format!("render not sent: {e}"),
                }))
                .await?;
            Ok(Sent::Unreached)
        }
        RenderOutcome::Taken(job) => {
            let mut changes = vec![Change::Review(ReviewChange::Rendering {
                key: key.to_owned(),
                how: "render taken".into(),
            })];
            changes.extend(job.map(|j| seen(key, &j)));
            shared.journal.apply(changes).await?;
            Ok(Sent::Settled)
        }
        RenderOutcome::NotTaken(e) => {
            // A refusal may mean the job is already rendering (asked for by someone in the web
            // app, or by a call whose answer was lost): the job tells, for free.
            if matches!(
                e,
                ApiError::Status {
                    status: 400 | 409,
                    ..
                }
            ) {
                if let Ok(now) = shared.client.job(job_id).await {
                    if let Judged::Rendering(how) = judge(preview, &now) {
                        tracing::info!(%key, %how, "the render was refused, but the job is rendering already");
                        let changes = vec![
                            Change::Review(ReviewChange::Rendering {
                                key: key.to_owned(),
                                how,
                            }),
                            seen(key, &now),
                        ];
                        shared.journal.apply(changes).await?;
                        return Ok(Sent::Settled);
                    }
                }
            }
            tracing::error!(%key, error = %e, "the render was refused; the preview stays approved for the next run");
            shared
                .journal
                .record(Change::Review(ReviewChange::RenderRefused {
                    key: key.to_owned(),
                    error: format!("render refused: {e}"),
                }))
                .await?;
            Ok(Sent::Settled)
        }
        RenderOutcome::Ambiguous(e) => {
            tracing::warn!(%key, error = %e, "no certain answer to the render; reading the job before anything else");
            Ok(Sent::Unsure)
        }
    }
}

fn seen(key: &str, job: &Job) -> Change {
    Change::Seen {
        key: key.to_owned(),
        job: serde_json::to_string(job).unwrap_or_default(),
        status: job.status.as_str().to_owned(),
        credits_used: job.credits_used,
        duration: job.duration,
    }
}

/// What a job read back says about a render asked for.
#[derive(Debug, PartialEq)]
enum Judged {
    /// Under way or done, and how that shows.
    Rendering(String),
    /// Exactly the finished preview, as journaled.
    Unchanged,
    /// Neither can be proven.
    Unclear,
}

fn judge(before: Option<&Job>, now: &Job) -> Judged {
    if now.output.as_deref().is_some_and(|o| !o.trim().is_empty()) {
        return Judged::Rendering("the job has its final video".into());
    }
    let Some(b) = before else {
        return Judged::Unclear;
    };
    // Off the preview's finished state (only a terminal one says so: a preview whose status
    // was still moving proves nothing by moving on).
    if b.status == JobStatus::Done && now.status != JobStatus::Done {
        return Judged::Rendering(format!(
            "its status went from done to {}",
            now.status.as_str()
        ));
    }
    if let (Some(was), Some(is)) = (b.credits_used, now.credits_used) {
        if is > was + 1e-9 {
            return Judged::Rendering(format!("its credits went from {was} to {is}"));
        }
    }
    if let (Some(was), Some(is)) = (b.progress, now.progress) {
        if is + 1e-9 < was {
            return Judged::Rendering("its progress started again".into());
        }
    }
    let same = now.status == b.status
        && now.preview == b.preview
        && now.credits_used == b.credits_used
        && now.progress == b.progress
        && (now.updated_at.is_none() || now.updated_at == b.updated_at)
        && super::preview::is_ready(now);
    if same {
        Judged::Unchanged
    } else {
        Judged::Unclear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(v: serde_json::Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_render_is_judged_taken_only_from_what_the_job_shows() {
        let preview = job(serde_json::json!({"id":"j","status":"done","progress":1.0,
            "preview":"https://p","output":null,"credits_used":1,"updated_at":"t1"}));
        let p = Some(&preview);
        assert_eq!(judge(p, &preview), Judged::Unchanged);
        let moved = job(
            serde_json::json!({"id":"j","status":"pending","progress":0,"preview":"https://p","credits_used":5}),
        );
        assert!(matches!(judge(p, &moved), Judged::Rendering(_)));
        let done = job(serde_json::json!({"id":"j","status":"done","output":"https://v.mp4"}));
        assert!(matches!(judge(None, &done), Judged::Rendering(_)));
        let charged = job(serde_json::json!({"id":"j","status":"done","progress":1.0,
            "preview":"https://p","credits_used":5,"updated_at":"t1"}));
        assert!(matches!(judge(p, &charged), Judged::Rendering(_)));
        // Touched, but nothing shows a render: not proven either way.
        let touched = job(serde_json::json!({"id":"j","status":"done","progress":1.0,
            "preview":"https://p","credits_used":1,"updated_at":"t2"}));
        assert_eq!(judge(p, &touched), Judged::Unclear);
        // Without the journaled preview, "unchanged" cannot be proven.
        assert_eq!(judge(None, &preview), Judged::Unclear);
    }
}
