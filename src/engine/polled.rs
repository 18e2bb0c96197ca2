//! What the coordinator does with a poll round's answers: record what changed, move finished
//! jobs on to download or failure, and schedule the next round.

use std::collections::HashSet;

use tokio::time::Instant;

use crate::api::{ApiError, ErrorClass};
use crate::journal::{Change, JournalError, RowState};

use super::poll;
use super::{Coordinator, Stop};

impl Coordinator {
    pub(super) async fn on_polled(
        &mut self,
        answers: Vec<poll::Answer>,
    ) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        let now = Instant::now();
        let cadence = self
            .refill
            .cadence(cfg.poll_max)
            .filter(|_| self.waiting_for_slots(now));
        // Every progress reported teaches the step it moves in, before any bound uses it.
        for (_, answer) in &answers {
            for p in answer.iter().flatten().filter_map(|j| j.progress) {
                self.progress_step.saw(p);
            }
        }
        let reading = poll::Reading {
            rounding: self.refill.rounding(self.progress_step.get()),
            start: self.refill.start(),
        };
        // While webhooks are believed, they tell a job's end: looks are a safety net.
        let pace = cfg.poll_max;
        // An answer to a round sent before a job's webhook came says nothing against it.
        let sent = self.round_started;
        // When this round's answers were measured: after it was asked, before now.
        let measured = poll::Seen { asked: sent, now };
        let mut changes = Vec::new();
        let mut errors: Vec<ApiError> = Vec::new();
        let mut jobs = Vec::new();
        // The ids this round's answered calls asked about: jobs known to exist before it was
        // asked (a round asks only about jobs being rendered when it starts).
        let mut asked = HashSet::new();
        for (ids, answer) in answers {
            match answer {
                Ok(found) => {
                    // Asked about but not in the answer, even asked again and by itself
                    // (`ApiClient::jobs`): unknown to the API for now; look again later like a
                    // job that told nothing new.
                    let seen: HashSet<&str> = found.iter().map(|j| j.id.as_str()).collect();
                    for id in ids.iter().filter(|id| !seen.contains(id.as_str())) {
                        if let Some(r) = self.rendering.get_mut(id) {
                            r.looked(None, measured, cfg.poll_min, cfg.poll_max, cadence, reading);
                            if r.hooked && self.hints.trusted() {
                                r.look_in(now, pace);
                            }
                        }
                    }
                    jobs.extend(found);
                    asked.extend(ids);
                }
                Err(e) => {
                    // Its jobs stay due: they are asked about next round.
                    tracing::debug!(error = %e, "poll call failed");
                    errors.push(e);
                }
            }
        }
        // A failed poll changes no job, except that refused credentials end the run: polling
        // on would only meet the same 401 until every deadline passed.
        if let Some(e) = errors.iter().find(|e| e.class() == ErrorClass::Auth) {
            tracing::error!(error = %e, "the API refused the credentials");
            self.stop = Some(Stop::Auth(e.to_string()));
        }
        // Jobs this round asked about and saw not yet ended: all of them were unfinished at
        // once when it was asked (what proves a raised render cap). Each id once (an answer's
        // pages may repeat one), none it did not ask about (an API that ignores `ids` may
        // answer with jobs created since), and none a webhook said ended (an answer that lags
        // it is no evidence).
        let mut at_once = HashSet::new();
        for job in jobs {
            let Some(r) = self.rendering.get_mut(&job.id) else {
                continue;
            };
            let unknown = match &job.status {
                crate::api::JobStatus::Unknown(s) => Some(s.as_str()),
                _ => None,
            };
            let left = r.deadline.saturating_duration_since(now);
            self.unknown.saw(&job.id, &r.key, unknown, left);
            // `done` without a usable output URL yet (some APIs set it a moment later): polled
            // on like a running job, until it has one or its deadline passes.
            // A preview is made when its `preview` is set and `output` empty, whatever its
            // status says (undocumented after a preview).
            let preview_ready = self.previews.contains(&r.key) && super::preview::is_ready(&job);
            let no_output = job.status == crate::api::JobStatus::Done
                && job.output_url().is_none()
                && !preview_ready;
            if no_output && r.status != job.status.as_str() {
                tracing::info!(key = %r.key, "job done but without an output URL yet; polling on");
            }
            let finished = (job.status.is_terminal() && !no_output) || preview_ready;
            if !finished {
                r.looked(
                    Some(&job),
                    measured,
                    cfg.poll_min,
                    cfg.poll_max,
                    cadence,
                    reading,
                );
                self.refill.learn(r);
                if r.hooked && self.hints.trusted() {
                    r.look_in(now, pace);
                }
            }
            let hinted = r.hinted_at.is_some_and(|t| t < sent);
            // Hinted after this round was sent: its answer is older than the hint.
            let stale = r.hinted() && !hinted;
            let hooked = r.hooked && !stale;
            // Ended means terminal here, not downloadable: a `done` without its output yet
            // was still announced by a true hint.
            let ended = job.status.is_terminal() || preview_ready;
            if !ended && asked.contains(&job.id) && !r.hinted() {
                at_once.insert(job.id.clone());
            }
            let r = r.key.clone();
            if hooked {
                self.hint_checked(&job.id, &r, hinted, ended);
            }
            let Some(r) = self.rendering.get_mut(&job.id) else {
                continue;
            };
            let status = job.status.as_str().to_owned();
            if status == r.status && !finished {
                continue;
            }
            r.status = status.clone();
            let key = r.key.clone();
            changes.push(Change::Seen {
                key: key.clone(),
                job: serde_json::to_string(&job).unwrap_or_default(),
                status,
                credits_used: job.credits_used,
                duration: job.duration,
            });
            if let Some(cr) = job.credits_used {
                if let Some(t) = self.rows.get_mut(&key) {
                    t.credits_used = Some(cr);
                }
            }
            if !finished {
                continue;
            }
            self.rendering.remove(&job.id);
            if self.previews.remove(&key) && preview_ready {
                changes.push(self.preview_made(&key, &job));
                continue;
            }
            let state = match job.status {
                crate::api::JobStatus::Done => RowState::Done,
                crate::api::JobStatus::Rejected => RowState::Rejected,
                _ => RowState::Failed,
            };
            changes.push(Change::Finished {
                key: key.clone(),
                state,
                reason: job.failed_reason.clone(),
            });
            self.set_state(&key, state);
            if state == RowState::Done {
                self.downloads.push_back((key, job.id.clone()));
            } else {
                tracing::error!(%key, reason = job.failed_reason.as_deref().unwrap_or("none given"), "job {state}");
                self.failed_row();
            }
        }
        self.render_cap.seen_at_once(at_once.len(), sent);
        self.unknown.warn_due();
        if !changes.is_empty() {
            self.shared.journal.apply(changes).await?;
        }
        if !errors.is_empty() {
            tracing::warn!(
                errors = errors.len(),
                error = %errors[0],
                "status poll failed; jobs keep their state, will poll again"
            );
        }
        // The next round: when the first job is due, and not sooner than `poll_min`. While
        // the account's render cap binds, at the first predicted end instead: the slot it
        // frees is worth more than the call, and that round looks at every job of the cap
        // (at most 100), so the others' looks wait for it (up to `poll_max`).
        let now = Instant::now();
        if self.hints.trusted() && self.rendering.values().all(|r| r.hooked) {
            let gate = now + cfg.poll_min;
            self.next_poll = poll::next_due(&self.rendering).map_or(gate, |t| t.max(gate));
            return Ok(());
        }
        if let Some(c) = cadence {
            // Slots are refilled on predictions: rounds only learn progress and collect
            // finished jobs, each job when it needs it (see `Rendering::looked`).
            let gate = now + c.every.min(cfg.poll_min);
            self.next_poll = poll::next_due(&self.rendering).map_or(now + c.every, |t| t.max(gate));
            return Ok(());
        }
        let gate = now + cfg.poll_min;
        self.next_poll = poll::next_due(&self.rendering).map_or(gate, |t| t.max(gate));
        let slots_bind = self.slots_bind(now);
        if let Some(end) = poll::next_end(&self.rendering).filter(|_| slots_bind) {
            self.next_poll = end
                .max(now + poll::SLOT_GAP)
                .min(self.next_poll.max(now + cfg.poll_max));
        } else if self.last_jobs() && errors.is_empty() {
            // The jobs left end the run: looked at when their bounds say (see
            // `poll::tail_look`). Not after a failed call, which keeps its gap; never later
            // than the gap (a `poll_min` under `SLOT_GAP`).
            if let Some(last) = poll::tail_look(&mut self.rendering, gate) {
                self.next_poll = last.max(now + poll::SLOT_GAP.min(cfg.poll_min));
            }
        }
        Ok(())
    }
}
