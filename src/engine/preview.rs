//! The engine's part of `run --preview` and `run --render-approved`: which rows a run sends
//! and how ([`Mode`]), when a preview counts as made ([`is_ready`]), and the exit code of a
//! run whose rows have settled, which depends on what the run was asked to make.
//!
//! A preview is created by the same protocol as a final video (reference in `name`, durable
//! `submitting` before the POST, reconciled by listing, resent only when proven absent); it
//! only goes to `POST .../preview/` and ends `preview_ready` instead of `done`.

use crate::api::{Job, JobStatus};
use crate::exit::ExitCode;
use crate::journal::{Change, ReviewChange, Row, RowState};
use crate::progress::Counts;

use super::{Coordinator, Pending};

/// What a run makes.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mode {
    /// Final videos in one step (`run`).
    #[default]
    Direct,
    /// Previews of the rows not sent yet (`run --preview`), priced at preview rates.
    Preview,
    /// The final render of these approved previews (`run --render-approved`), and nothing
    /// else: planned rows stay planned.
    Render(Vec<String>),
}

impl Mode {
    /// How a `planned` row is sent in this mode; `None`: it is not sent.
    pub(super) fn to_send(&self, row: &Row) -> Option<Pending> {
        let mut p = Pending::from_row(row);
        match self {
            Mode::Direct => p.preview = false,
            Mode::Preview => {
                p.preview = true;
                p.est_credits = crate::api::credits::preview_credits(row.est_seconds);
            }
            Mode::Render(_) => return None,
        }
        Some(p)
    }
}

/// Whether a preview job is made: its `preview` link set and no `output`, and not failed.
/// Never judged by `status` alone, which is undocumented after a preview.
pub fn is_ready(job: &Job) -> bool {
    let link = job.preview.as_deref().is_some_and(|l| !l.trim().is_empty());
    let output = job.output.as_deref().is_some_and(|o| !o.trim().is_empty());
    link && !output && !matches!(job.status, JobStatus::Failed | JobStatus::Rejected)
}

impl Coordinator {
    /// A preview is made: the row waits for its reviewer.
    pub(super) fn preview_made(&mut self, key: &str, job: &Job) -> Change {
        tracing::info!(%key, preview = job.preview.as_deref().unwrap_or(""), "preview ready");
        self.set_state(key, RowState::PreviewReady);
        Change::Review(ReviewChange::PreviewReady {
            key: key.to_owned(),
            credits: job.credits_used,
        })
    }

    /// The exit code of a run whose rows all settled (no stop, nothing unknown or under way).
    pub(super) fn settled_code(&self, counts: &Counts) -> ExitCode {
        match &self.shared.cfg.mode {
            Mode::Direct if counts.downloaded == counts.total => ExitCode::Success,
            Mode::Direct => ExitCode::RowsFailed,
            // Every row previewed (or further along): the batch is ready for review.
            Mode::Preview => {
                let ready = counts.preview_ready
                    + counts.render_requested
                    + counts.rendering
                    + counts.done
                    + counts.downloaded;
                if ready == counts.total {
                    ExitCode::Success
                } else {
                    ExitCode::RowsFailed
                }
            }
            Mode::Render(approved) => {
                if counts.render_requested > 0 {
                    // A render whose take cannot be proven waits, never sent blindly.
                    return ExitCode::Unresolved;
                }
                let all = approved.iter().all(|k| {
                    self.rows
                        .get(k)
                        .is_some_and(|t| t.state == RowState::Downloaded)
                });
                if all {
                    ExitCode::Success
                } else {
                    ExitCode::RowsFailed
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: &str, preview: Option<&str>, output: Option<&str>) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": "j", "status": status, "preview": preview, "output": output,
        }))
        .unwrap()
    }

    #[test]
    fn a_preview_is_ready_by_its_link_not_its_status() {
        assert!(is_ready(&job("done", Some("https://p/1"), None)));
        // A status that still says pending, with the link set: ready.
        assert!(is_ready(&job("pending", Some("https://p/1"), None)));
        // Done without a link: not yet.
        assert!(!is_ready(&job("done", None, None)));
        // With an output it is a final video, not a preview.
        assert!(!is_ready(&job(
            "done",
            Some("https://p/1"),
            Some("https://v.mp4")
        )));
        assert!(!is_ready(&job("failed", Some("https://p/1"), None)));
        assert!(!is_ready(&job("done", Some(" "), None)));
    }
}
