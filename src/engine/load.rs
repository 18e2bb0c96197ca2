//! Loading the coordinator's state from the journal at the start of a run: which rows are
//! to send, which to look for, which are rendering, which to download.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::journal::{JournalError, RowState};

use super::poll::Rendering;
use super::{Coordinator, Pending, Shared, Tracked, Unsure};

impl Coordinator {
    pub(super) fn load(shared: Arc<Shared>, keys: Vec<String>) -> Result<Self, JournalError> {
        let cfg = &shared.cfg;
        let now = Instant::now();
        let wall = crate::journal::unix_now();
        let planned = Tracked {
            state: RowState::Planned,
            credits_used: None,
        };
        let mut c = Coordinator {
            rows: keys.into_iter().map(|k| (k, planned)).collect(),
            queue: VecDeque::new(),
            submitting: 0,
            render_cap: super::render_cap::RenderCap::new(
                cfg.max_in_flight,
                cfg.max_rendering,
                now,
            ),
            unsure: HashMap::new(),
            rendering: HashMap::new(),
            downloads: VecDeque::new(),
            downloading: 0,
            download_failures: HashSet::new(),
            polling: false,
            next_poll: now,
            reconciling: false,
            list_failures: 0,
            stop: None,
            failures_this_run: 0,
            committed_credits: 0.0,
            credits_estimated: 0.0,
            past_deadline: 0,
            throttled_since: None,
            same_error: super::same_error::SameError::new(cfg.same_error_halt),
            unknown: super::unknown::UnknownStatuses::new(cfg.job_deadline),
            previews: HashSet::new(),
            refill: super::refill::Refill::new(),
            progress_step: super::poll::ProgressStep::default(),
            hints: super::hooks::Hints::default(),
            round_started: tokio::time::Instant::now(),
            shared: shared.clone(),
        };
        // One pass over the journal, without bodies and job objects (read when needed).
        shared.journal.for_each_row(|row| {
            let Some(t) = c.rows.get_mut(&row.key) else {
                return Ok::<_, JournalError>(());
            };
            t.state = row.state;
            t.credits_used = row.credits_used;
            match row.state {
                RowState::Planned => {
                    if let Some(p) = cfg.mode.to_send(&row) {
                        c.queue.push_back(p);
                    }
                }
                RowState::Submitting | RowState::Unknown => {
                    if row.stage == crate::journal::Stage::Preview {
                        c.previews.insert(row.key.clone());
                    }
                    // Never re-POST blindly: look for it first. It may be sent again only
                    // once the window has passed since its last attempt, and the job list
                    // proves it absent.
                    let since = row.ambiguous_since.unwrap_or(row.updated_at);
                    let left = (since + cfg.reconcile_window.as_secs_f64() - wall).max(0.0);
                    c.unsure.insert(
                        row.key.clone(),
                        Unsure::new(
                            row.reference.clone().unwrap_or_default(),
                            since,
                            now + Duration::from_secs_f64(left),
                            now + cfg.job_deadline,
                            Pending::from_row(&row),
                        ),
                    );
                }
                RowState::Submitted | RowState::Previewing | RowState::Rendering => {
                    if row.state == RowState::Previewing {
                        c.previews.insert(row.key.clone());
                    }
                    if let Some(id) = &row.job_id {
                        c.rendering.insert(
                            id.clone(),
                            Rendering::new(
                                row.key.clone(),
                                row.api_status.clone().unwrap_or_default(),
                                now + cfg.job_deadline,
                                Duration::ZERO,
                                now,
                            ),
                        );
                    }
                }
                RowState::Done => {
                    if let Some(id) = row.job_id {
                        c.downloads.push_back((row.key, id));
                    }
                }
                RowState::Downloaded => {
                    // Rows whose files are gone or the wrong size are fetched again.
                    let intact = |f: &Option<crate::journal::FileRecord>| {
                        f.as_ref().is_none_or(|f| {
                            std::fs::symlink_metadata(cfg.batch_dir.join(&f.path))
                                .is_ok_and(|m| m.is_file() && m.len() == f.bytes)
                        })
                    };
                    // Delivered to a bucket, the files are not on this disk: the fetch asks the
                    // bucket (HEAD) and downloads only what is missing there.
                    let remote = cfg.storage.is_some();
                    if remote || !(intact(&row.video) && intact(&row.thumbnail)) {
                        if let Some(id) = row.job_id {
                            if remote {
                                tracing::debug!(key = %row.key, "checking the bucket for this row's files");
                            } else {
                                tracing::warn!(key = %row.key, "files missing or changed on disk; downloading again");
                            }
                            t.state = RowState::Done;
                            c.downloads.push_back((row.key, id));
                        }
                    }
                }
                // A preview waits for its reviewer; an unsure render was settled (or left
                // waiting) by the render phase before this.
                RowState::Failed
                | RowState::Rejected
                | RowState::PreviewReady
                | RowState::RenderRequested => {}
            }
            Ok(())
        })?;
        Ok(c)
    }
}
