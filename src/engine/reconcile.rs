//! Reconciliation: looking for the jobs of unanswered submissions in the account's job list
//! ([`super::search`]), adopting what is found, sending again only what the list proves was
//! not created, and marking `unknown` what it cannot prove either way.
//!
//! A round walks the list once for every row being looked for. A row is looked for soon
//! after its unanswered attempt (a creation whose answer was lost is there at once), then
//! when its reconciliation window has passed (a request held by the server is processed by
//! then), then at growing intervals (`[poll] max_interval_secs`, doubling) while the list cannot
//! prove anything; after
//! [`UNPROVEN_ROUNDS`] such rounds past the window, or at its deadline, it becomes `unknown`:
//! never sent again by this tool until `resolve` or a later run's search settles it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{ApiError, CreateLipsync, ErrorClass};
use crate::journal::{Change, Journal, JournalError, RowState};

use super::poll::Rendering;
use super::search::{Echo, Verdict, Walker, Wanted, MAX_PAGES};
use super::{Coordinator, Event, Shared, Stop};

/// Searches past a row's window that may fail to prove anything before it becomes `unknown`.
pub const UNPROVEN_ROUNDS: u32 = 3;

/// What a round found: a verdict per row looked for, and which rows were past their window
/// when the walk began (only those may be sent again).
pub(super) struct Round {
    result: Result<Vec<(Wanted, Verdict)>, ApiError>,
    ready: HashSet<String>,
}

impl Coordinator {
    pub(super) async fn start_reconcile(&mut self) -> Result<(), JournalError> {
        let now = Instant::now();
        let expired: Vec<String> = self
            .unsure
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.unresolved(
                &key,
                "its job could not be looked for before the deadline (the job list kept failing)"
                    .into(),
            )
            .await?;
        }
        let due = self.unsure.values().any(|u| u.next_look <= now);
        if self.reconciling || !due || matches!(self.stop, Some(Stop::Auth(_))) {
            return Ok(());
        }
        self.reconciling = true;
        let margin = self.shared.cfg.search_margin.as_secs_f64();
        let wanted: Vec<(String, String, f64)> = self
            .unsure
            .iter()
            .map(|(key, u)| (key.clone(), u.reference.clone(), u.attempt_at - margin))
            .collect();
        let ready = self
            .unsure
            .iter()
            .filter(|(_, u)| u.resend_at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let result = search(&shared, wanted).await;
            let _ = shared
                .events
                .send(Event::Reconciled(Round { result, ready }));
        });
        Ok(())
    }

    pub(super) async fn on_reconciled(&mut self, round: Round) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        let now = Instant::now();
        let verdicts = match round.result {
            Ok(v) => {
                self.list_failures = 0;
                v
            }
            Err(e) if e.class() == ErrorClass::Auth => {
                tracing::error!(error = %e, "the API refused the credentials");
                self.stop = Some(Stop::Auth(e.to_string()));
                return Ok(());
            }
            Err(e) => {
                // A list that fails may come back: looked for again (growing waits, up to
                // `[poll] max_interval_secs`) until the row's deadline, when it is `unknown`.
                tracing::warn!(error = %e, "could not read the account's job list; will try again");
                let failures = self.list_failures.saturating_add(1);
                self.list_failures = failures;
                let wait = (Duration::from_millis(500) * 2u32.saturating_pow(failures.min(10)))
                    .min(self.shared.cfg.poll_max.max(Duration::from_secs(1)));
                let next = Instant::now() + wait;
                for u in self.unsure.values_mut() {
                    u.next_look = u.next_look.max(next);
                }
                return Ok(());
            }
        };
        for (wanted, verdict) in verdicts {
            let key = wanted.key;
            if !self.unsure.contains_key(&key) {
                continue;
            }
            match verdict {
                Verdict::Found(job, more) => {
                    tracing::info!(%key, job = %job.id, "found the job of an unanswered submission; adopting it");
                    let mut changes = vec![Change::Submitted {
                        key: key.clone(),
                        job_id: job.id.clone(),
                    }];
                    for extra in &more {
                        tracing::error!(%key, job = %extra.id, adopted = %job.id, credits = extra.credits_used, "a second job carries this row's reference: the API created it twice, and it was paid for too");
                        changes.push(Change::Duplicate {
                            key: key.clone(),
                            job_id: extra.id.clone(),
                            credits_used: extra.credits_used,
                        });
                    }
                    self.shared.journal.apply(changes).await?;
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
                }
                Verdict::Absent if round.ready.contains(&key) => self.resend(&key).await?,
                Verdict::Absent => self.look_again_at_window(&key),
                Verdict::Unproven(why) => {
                    self.not_proven(&key, round.ready.contains(&key), &why)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// Proven absent after its window: back to the queue, under the same reference.
    async fn resend(&mut self, key: &str) -> Result<(), JournalError> {
        let Some(u) = self.unsure.remove(key) else {
            return Ok(());
        };
        self.shared
            .journal
            .record(Change::Requeue {
                key: key.to_owned(),
                error: "no answer to the submission, and the job list shows no such job".into(),
            })
            .await?;
        self.set_state(key, RowState::Planned);
        self.committed_credits -= u.pending.est_credits;
        self.credits_estimated -= u.pending.est_credits;
        let mut pending = u.pending;
        pending.refusals += 1;
        if pending.refusals >= self.shared.cfg.max_attempts {
            // The API keeps failing creations without creating anything: stop sending this
            // row in this run rather than loop until someone kills it.
            tracing::error!(%key, attempts = pending.refusals, "submission never got an answer and no job was created; left for the next run");
            self.failed_row();
            return Ok(());
        }
        tracing::info!(%key, "not created after all; sending it again");
        self.queue.push_front(pending);
        Ok(())
    }

    fn look_again_at_window(&mut self, key: &str) {
        if let Some(u) = self.unsure.get_mut(key) {
            u.next_look = u.resend_at;
        }
    }

    /// The list could not prove it either way: look again later, and after
    /// [`UNPROVEN_ROUNDS`] rounds past the window, give up looking in this run.
    async fn not_proven(&mut self, key: &str, ready: bool, why: &str) -> Result<(), JournalError> {
        let Some(u) = self.unsure.get_mut(key) else {
            return Ok(());
        };
        if !ready {
            u.next_look = u.resend_at.max(Instant::now() + Duration::from_secs(2));
            return Ok(());
        }
        u.unproven += 1;
        if u.unproven >= UNPROVEN_ROUNDS {
            return self.unresolved(key, why.to_owned()).await;
        }
        // Growing waits on the poll scale (30 s, then 60 s by default): a list that could not
        // be read may come back; one that cannot prove anything will not, so not for long.
        let wait =
            self.shared.cfg.poll_max.max(Duration::from_millis(500)) * 2u32.pow(u.unproven - 1);
        tracing::warn!(%key, why, ?wait, "cannot prove whether the unanswered submission created a job; not sending it again, looking again later");
        u.next_look = Instant::now() + wait;
        Ok(())
    }

    /// Gives up looking in this run: the row is `unknown`, never sent again blindly.
    async fn unresolved(&mut self, key: &str, why: String) -> Result<(), JournalError> {
        let Some(u) = self.unsure.remove(key) else {
            return Ok(());
        };
        let reason = format!(
            "created or not: unknown. {why}. It is not sent again: check the account's jobs for one named \"{} …\" (or, if the API keeps no names, one with this row's script), then run `creatify-batch resolve {}` (it looks again, or records what you found)",
            u.reference,
            self.shared.cfg.batch_dir.display()
        );
        tracing::error!(%key, "{reason}");
        self.committed_credits -= u.pending.est_credits;
        self.set_state(key, RowState::Unknown);
        self.shared
            .journal
            .record(Change::Unresolved {
                key: key.to_owned(),
                reason,
            })
            .await
    }

    pub(super) fn next_look(&self) -> Option<Instant> {
        self.unsure.values().map(|u| u.next_look).min()
    }
}

/// One walk of the job list for `wanted` rows: (key, reference, oldest creation time).
async fn search(
    shared: &Shared,
    wanted: Vec<(String, String, f64)>,
) -> Result<Vec<(Wanted, Verdict)>, ApiError> {
    search_with(&shared.client, &shared.journal, wanted).await
}

/// [`search`] with a client and a journal of its own (for `creatify-batch resolve`).
pub async fn search_with(
    client: &crate::api::ApiClient,
    journal: &Arc<Journal>,
    wanted: Vec<(String, String, f64)>,
) -> Result<Vec<(Wanted, Verdict)>, ApiError> {
    let journal = journal.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&journal, wanted))
        .await
        .map_err(|e| ApiError::Decode {
            status: 0,
            message: format!("cannot prepare the search: {e}"),
        })?
        .map_err(|e| ApiError::Decode {
            status: 0,
            message: e.to_string(),
        })?;
    let (wanted, known) = prepared;
    let walker = Walker::new(wanted, known);
    let (walked, walker) = client.walk_jobs(walker, MAX_PAGES).await?;
    tracing::debug!(
        pages = walked.pages,
        jobs = walked.items,
        "read the account's job list"
    );
    Ok(walker.verdicts(walked.reached_end, walked.unreadable))
}

/// The rows' echoes (from their bodies) and the job ids the batch already knows.
fn prepare(
    journal: &Arc<Journal>,
    wanted: Vec<(String, String, f64)>,
) -> Result<(Vec<Wanted>, HashSet<String>), JournalError> {
    // Every job the batch already knows (earlier generations' too) is nobody's lost creation.
    let known: HashSet<String> = journal.job_ids()?.into_iter().collect();
    let mut out = Vec::with_capacity(wanted.len());
    for (key, reference, since) in wanted {
        let echo = journal
            .payload(&key)?
            .and_then(|p| serde_json::from_str::<CreateLipsync>(&p.body).ok())
            .and_then(|b| Echo::of(&b));
        out.push(Wanted {
            key,
            reference,
            since,
            echo,
        });
    }
    Ok((out, known))
}
