//! What the coordinator does with a submission's outcome: track the new job, fail the row,
//! look for it (ambiguous), or queue it again (refused). Also where two run-level stops are
//! decided: creations throttled for longer than `[retry] max_throttled_secs` (exit 7), and
//! the first rows all refused with the same error (see [`super::same_error`]).

use tokio::time::Instant;

use crate::api::{ApiError, ErrorClass};
use crate::journal::RowState;

use super::poll::{self, Rendering};
use super::refill::{Lowered, MARGIN};
use super::{backoff, Coordinator, Stop, Submitted, Unsure};

impl Coordinator {
    /// A creation sent into a slot only a prediction freed was refused over the cap: the
    /// prediction was early. The trust is lowered (once for creations sent on the same
    /// trust, see [`super::refill`]), and every job is looked at again by the bound it had
    /// (the slot's job is about to end): not at a look planned while its slot was to be
    /// refilled without one.
    fn prediction_refused(&mut self, sent_as: u32) {
        let lowered = self.refill.refused(sent_as);
        if lowered == Lowered::Nothing {
            return;
        }
        let now = Instant::now();
        for r in self.rendering.values_mut() {
            if lowered == Lowered::Widened {
                // Made with progress taken as rounded down: too tight.
                r.precise = false;
            }
            if let Some(end) = r.ends_by {
                r.due_by((end + MARGIN).max(now + poll::SLOT_GAP));
            }
        }
        if let Some(due) = poll::next_due(&self.rendering) {
            self.next_poll = self.next_poll.min(due);
        }
    }

    pub(super) fn on_submitted(&mut self, key: String, outcome: Submitted) {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        match outcome {
            Submitted::Created {
                job_id,
                sent_at,
                answered_at,
                hooked,
            } => {
                self.throttled_since = None;
                self.same_error.accepted();
                tracing::debug!(%key, job = %job_id, "created");
                self.set_state(&key, RowState::Submitted);
                let now = Instant::now();
                self.render_cap.accepted();
                // Above the learned cap (a probe), its acceptance may only mean a job ended
                // unseen: a round looks at once, and a raise is taken only from what it sees
                // (see `render_cap`). Else, once the cap is known and a render's length is
                // learned, a new job is first looked at the cadence's first share of a render
                // later, like every other while slots are refilled on predictions; and so
                // are the run's last jobs, which a look from `min_interval_secs` on would
                // ask about some six times before their progress could bound their ends.
                // A probe's job is looked at at once, then waits as any other would have from
                // its creation (not from that look: a wait grown from 250 ms would ask about
                // it, and about every job with it, five more times before its end).
                let probe = self.render_cap.above(self.rendering_holding(now) + 1);
                let cadence = self.refill.cadence(cfg.poll_max);
                let first_look = self.hint_pace(hooked).unwrap_or(match cadence {
                    Some(c) if self.waiting_for_slots(now) => c.first,
                    Some(c) if self.render_cap.known() => c.first.max(cfg.poll_min),
                    _ => cfg.poll_min,
                });
                if probe {
                    tracing::debug!(%key, job = %job_id, "created above the cap; looking whether it was raised");
                }
                let mut r =
                    Rendering::new(key, String::new(), now + cfg.job_deadline, first_look, now)
                        .sent(sent_at)
                        .answered(answered_at)
                        .hooked(hooked);
                let look_at = if probe {
                    r.due_by(now + super::poll::SLOT_GAP)
                } else {
                    now + first_look
                };
                self.rendering.insert(job_id.clone(), r);
                self.next_poll = self.next_poll.min(look_at);
                // Its webhook may have come before its creation's answer was handled.
                self.hint_held(&job_id);
            }
            Submitted::RowFailed { error } => {
                self.throttled_since = None;
                tracing::error!(%key, %error, "the API refused this row");
                self.set_state(&key, RowState::Failed);
                self.failed_row();
                if let Some(message) = self.same_error.refused(&error) {
                    tracing::error!("{message}");
                    self.stop.get_or_insert(Stop::Halt(message));
                }
            }
            Submitted::Ambiguous {
                pending,
                reference,
                error,
            } => {
                self.throttled_since = None;
                tracing::warn!(%key, %error, "no certain answer to the submission; will look for it before sending again");
                self.set_state(&key, RowState::Submitting);
                self.unsure.insert(
                    key,
                    Unsure::new(
                        reference,
                        crate::journal::unix_now(),
                        Instant::now() + cfg.reconcile_window,
                        Instant::now() + cfg.job_deadline,
                        pending,
                    ),
                );
            }
            Submitted::Refused { mut pending, error } => {
                self.set_state(&key, RowState::Planned);
                self.committed_credits -= pending.est_credits;
                self.credits_estimated -= pending.est_credits;
                let message = error.to_string();
                match (error.class(), &error) {
                    (_, ApiError::NotSent) => {
                        // Withdrawn before it left (the run is stopping): nothing was sent,
                        // so no attempt was used.
                        tracing::debug!(%key, "creation withdrawn unsent; the row stays planned");
                    }
                    (ErrorClass::Credits, _) => {
                        tracing::error!(error = %message, "insufficient credits: no new submissions");
                        self.stop.get_or_insert(Stop::Credits(message));
                    }
                    (ErrorClass::Auth, _) => {
                        tracing::error!(error = %message, "the API refused the credentials");
                        self.stop = Some(Stop::Auth(message));
                    }
                    (_, ApiError::Throttled { retry_after, .. }) => {
                        // "Slow down" is not a failure: it never uses up the row's attempts.
                        // A refusal over the account's render cap teaches it (held, see
                        // `render_cap`).
                        if let (true, ApiError::Throttled { detail, .. }) =
                            (error.is_render_cap(), &error)
                        {
                            // What rendered when it was refused: every job followed if a
                            // prediction was wrong, else those not past their end.
                            let rendering = if pending.on_hint {
                                self.hint_refused(&key);
                                self.rendering.len()
                            } else if let Some(sent_as) = pending.on_prediction {
                                self.prediction_refused(sent_as);
                                self.rendering.len()
                            } else {
                                // A hinted job may still have counted at the server.
                                self.rendering_holding(Instant::now()) + self.hinted()
                            };
                            self.render_cap.refused(
                                rendering,
                                super::render_cap::named_cap(detail),
                                Instant::now(),
                            );
                        }
                        pending.not_before = Some(Instant::now() + *retry_after);
                        self.creation_throttled(&error);
                    }
                    // Nothing listens there: not this row's fault, so no attempt is used up;
                    // the run ends if the API stays out of reach (see `check_reachable`).
                    _ if error.is_unreachable() => {
                        tracing::debug!(%key, error = %message, "the API cannot be reached; will try again");
                        pending.not_before = Some(Instant::now() + backoff(cfg, 3));
                    }
                    _ => {
                        pending.refusals += 1;
                        if pending.refusals >= cfg.max_attempts {
                            tracing::error!(%key, error = %message, "submission kept being refused; left for the next run");
                            self.failed_row();
                            return;
                        }
                        let wait = backoff(cfg, pending.refusals);
                        tracing::debug!(%key, error = %message, ?wait, "submission refused for now; will retry");
                        pending.not_before = Some(Instant::now() + wait);
                    }
                }
                pending.on_prediction = None;
                pending.on_hint = false;
                self.queue.push_front(pending);
            }
        }
    }

    /// A creation was refused with a 429: past `[retry] max_throttled_secs` of such refusals
    /// with none getting through (or a `Retry-After` that asks for longer than what is left
    /// of it), stop submitting. Render-cap refusals while our own jobs render do not count:
    /// they end as those jobs finish.
    fn creation_throttled(&mut self, error: &ApiError) {
        let ApiError::Throttled { asked, .. } = error else {
            return;
        };
        if error.is_render_cap() && !self.rendering.is_empty() {
            return;
        }
        let max = self.shared.cfg.max_throttled;
        let now = Instant::now();
        let spent = now.duration_since(*self.throttled_since.get_or_insert(now));
        let asked = asked.unwrap_or_default();
        if spent < max && spent + asked <= max {
            return;
        }
        let what = if spent < max {
            format!(
                "the API throttles creations (HTTP 429) and asks to wait {} s, longer than \
                 [retry] max_throttled_secs = {} s",
                asked.as_secs(),
                max.as_secs_f64()
            )
        } else {
            format!(
                "creations were throttled (HTTP 429) for {} s with none getting through, past \
                 [retry] max_throttled_secs = {} s",
                spent.as_secs(),
                max.as_secs_f64()
            )
        };
        let message = format!(
            "{what}; no new submissions: nothing is lost (the rows not sent stay planned, \
             jobs already created are followed to the end); rerun later"
        );
        tracing::error!("{message}");
        self.stop.get_or_insert(Stop::Throttled(message));
    }
}
