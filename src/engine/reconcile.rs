//! Reconciliation: looking for the jobs of unanswered submissions in the account's job list,
//! adopting what is found, and sending again only what the window proves was not created.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{ErrorClass, Job};
use crate::journal::{Change, JournalError, RowState};

use super::poll::Rendering;
use super::{Coordinator, Event, Stop};

impl Coordinator {
    pub(super) fn start_reconcile(&mut self) {
        // A row whose job could not be looked for until its deadline (the job list kept
        // failing) is neither sent again nor waited for any longer: it stays `submitting`,
        // and the next run reconciles it before anything else.
        let now = Instant::now();
        let expired: Vec<String> = self
            .unsure
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.unsure.remove(&key);
            tracing::warn!(%key, "deadline reached before the job of an unanswered submission could be looked for; rerun to reconcile it");
            self.past_deadline += 1;
        }
        if self.reconciling || self.unsure.is_empty() || now < self.next_reconcile {
            return;
        }
        if matches!(self.stop, Some(Stop::Auth(_))) {
            return;
        }
        self.reconciling = true;
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let r = shared.client.list_jobs().await;
            let _ = shared.events.send(Event::Reconciled(r));
        });
    }

    pub(super) async fn on_reconciled(
        &mut self,
        result: Result<Vec<Job>, crate::api::ApiError>,
    ) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        self.next_reconcile = Instant::now() + cfg.poll_min.max(Duration::from_millis(500));
        let jobs = match result {
            Ok(jobs) => jobs,
            Err(e) if e.class() == ErrorClass::Auth => {
                tracing::error!(error = %e, "the API refused the credentials");
                self.stop = Some(Stop::Auth(e.to_string()));
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the account's jobs; will try again");
                return Ok(());
            }
        };
        let by_ref: HashMap<&str, &Job> = jobs
            .iter()
            .filter_map(|j| {
                let name = j.name.as_deref()?;
                let start = name.rfind("[cb-")?;
                let reference = name[start + 1..].strip_suffix(']')?;
                Some((reference, j))
            })
            .collect();
        let now = Instant::now();
        let keys: Vec<String> = self.unsure.keys().cloned().collect();
        for key in keys {
            let Some(u) = self.unsure.get(&key) else {
                continue;
            };
            if let Some(job) = by_ref.get(u.reference.as_str()) {
                tracing::info!(%key, job = %job.id, "found the job of an unanswered submission; adopting it");
                self.shared
                    .journal
                    .record(Change::Submitted {
                        key: key.clone(),
                        job_id: job.id.clone(),
                    })
                    .await?;
                self.unsure.remove(&key);
                self.set_state(&key, RowState::Submitted);
                self.rendering.insert(
                    job.id.clone(),
                    Rendering::new(
                        key,
                        String::new(),
                        now + cfg.job_deadline,
                        Duration::ZERO,
                        now,
                    ),
                );
                self.next_poll = now;
            } else if u.resend_at <= now {
                let Some(u) = self.unsure.remove(&key) else {
                    continue;
                };
                self.shared
                    .journal
                    .record(Change::Requeue {
                        key: key.clone(),
                        error: "no answer to the submission, and no job found after the reconciliation window".into(),
                    })
                    .await?;
                self.set_state(&key, RowState::Planned);
                self.committed_credits -= u.pending.est_credits;
                self.credits_estimated -= u.pending.est_credits;
                let mut pending = u.pending;
                pending.refusals += 1;
                if pending.refusals >= cfg.max_attempts {
                    // The API keeps failing creations without creating anything: stop
                    // sending this row in this run rather than loop until someone kills it.
                    tracing::error!(%key, attempts = pending.refusals, "submission never got an answer and no job was created; left for the next run");
                    self.failed_row();
                    continue;
                }
                tracing::info!(%key, "not created after all; sending it again");
                self.queue.push_front(pending);
            }
        }
        Ok(())
    }
}
