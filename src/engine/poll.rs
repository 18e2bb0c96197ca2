//! Polling: when each rendering job is looked at next, which jobs a round asks about, and the
//! round itself (`GET /api/lipsyncs_v2/?ids=`, up to 100 ids a call).
//!
//! Calls, not jobs, are what an account's rate limit counts, so a round is made of as few
//! calls as its due jobs need, and every call is filled to 100 ids:
//! - **Each job has its own next look.** A new job is first looked at `[poll]
//!   min_interval_secs` after its creation; while it tells nothing new, the wait grows ×1.5
//!   up to `max_interval_secs`. Once it reports progress twice while running, its end is
//!   predicted from the rate of progress and it is looked at then (never later than
//!   `max_interval_secs`, never sooner than `min_interval_secs`), so a finished job is seen
//!   within moments, not at the end of a long wait.
//! - **A round** happens when a job is due, at most every `min_interval_secs`. It asks about
//!   every due job, most overdue first, and fills the last call with the jobs due soonest
//!   (a free look: they cost no extra call).
//! - A failed call is not a job failure: its jobs stay due and are asked about next round.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::time::Instant;

use crate::api::client::MAX_IDS_PER_CALL;
use crate::api::{ApiError, Job};

use super::Shared;

/// How many poll calls of one round run at once (the shared schedule still paces them).
const CALLS_AT_ONCE: usize = 4;
/// Growth of a job's wait while it tells nothing new.
const BACKOFF: f64 = 1.5;
/// The progress a job may be ahead of what it reports (reported progress is rounded down).
const RESOLUTION: f64 = 0.01;
/// The shortest wait until a job's predicted end, and between rounds while rows wait for a
/// render slot: a predicted end is looked at when it is due, not `min_interval_secs` later.
pub(super) const SLOT_GAP: Duration = Duration::from_millis(250);

/// A job being rendered, and when to look at it next.
pub(super) struct Rendering {
    /// Its row.
    pub key: String,
    /// Its status as last seen.
    pub status: String,
    /// When the run stops waiting for it.
    pub deadline: Instant,
    /// When it is due for a look.
    next: Instant,
    /// The wait after the next look, while it tells nothing new.
    wait: Duration,
    /// The first progress seen while running, and when: the base of the end's prediction.
    first_progress: Option<(Instant, f64)>,
    /// Whether `next` is its predicted end (not a wait that grows).
    predicted: bool,
}

impl Rendering {
    /// A job to look at `first_look` from now.
    pub fn new(
        key: String,
        status: String,
        deadline: Instant,
        first_look: Duration,
        now: Instant,
    ) -> Self {
        Self {
            key,
            status,
            deadline,
            next: now + first_look,
            wait: first_look,
            first_progress: None,
            predicted: false,
        }
    }

    /// The job was seen still rendering at `now` (or not seen at all: `job` is `None`).
    pub fn looked(&mut self, job: Option<&Job>, now: Instant, min: Duration, max: Duration) {
        let running = job.is_some_and(|j| j.status == crate::api::JobStatus::Running);
        let progress = job
            .and_then(|j| j.progress)
            .filter(|p| running && *p > 0.0 && *p < 1.0);
        let predicted = match (progress, self.first_progress) {
            (Some(p), Some((t0, p0))) if p > p0 && now > t0 => {
                let per_sec = (p - p0) / now.duration_since(t0).as_secs_f64();
                // Plus one step of progress: APIs round it down (the sandbox to 0.01), and a
                // look that comes a moment early costs a second call for the same end.
                let left = (1.0 - p + RESOLUTION) / per_sec;
                Some(Duration::from_secs_f64(left.min(1e6)))
            }
            (Some(p), Some((_, p0))) if p < p0 => {
                // Progress went back (a render started over): measure from here.
                self.first_progress = Some((now, p));
                None
            }
            (Some(p), None) => {
                self.first_progress = Some((now, p));
                None
            }
            _ => None,
        };
        self.predicted = predicted.is_some();
        let wait = match predicted {
            Some(end) => end.clamp(min.min(SLOT_GAP), max),
            None => {
                let w = self.wait;
                self.wait = self.wait.mul_f64(BACKOFF).clamp(min, max);
                w.clamp(min, max)
            }
        };
        self.next = now + wait;
    }
}

/// The ids a round asks about: every job due at `now`, most overdue first, then the jobs due
/// soonest until the last call is full. Empty when none is due.
pub(super) fn pick(
    rendering: &HashMap<String, Rendering>,
    now: Instant,
    per_call: usize,
) -> Vec<String> {
    let per_call = per_call.clamp(1, MAX_IDS_PER_CALL);
    let mut order: Vec<(&String, Instant)> = rendering.iter().map(|(id, r)| (id, r.next)).collect();
    let due = order.iter().filter(|(_, next)| *next <= now).count();
    if due == 0 {
        return Vec::new();
    }
    order.sort_unstable_by_key(|(_, next)| *next);
    let take = due.div_ceil(per_call) * per_call;
    order
        .into_iter()
        .take(take)
        .map(|(id, _)| id.clone())
        .collect()
}

/// When the first predicted end is due (see [`Rendering::looked`]).
pub(super) fn next_end(rendering: &HashMap<String, Rendering>) -> Option<Instant> {
    rendering
        .values()
        .filter(|r| r.predicted)
        .map(|r| r.next)
        .min()
}

/// When the next job is due.
pub(super) fn next_due(rendering: &HashMap<String, Rendering>) -> Option<Instant> {
    rendering.values().map(|r| r.next).min()
}

/// One call's ids and what it got.
pub(super) type Answer = (Vec<String>, Result<Vec<Job>, ApiError>);

/// Polls `ids` in calls of up to `per_call` ids, a few at once.
pub(super) async fn poll_round(shared: &Shared, ids: Vec<String>) -> Vec<Answer> {
    let per_call = shared.cfg.poll_batch.clamp(1, MAX_IDS_PER_CALL);
    let chunks: Vec<Vec<String>> = ids.chunks(per_call).map(<[String]>::to_vec).collect();
    stream::iter(chunks)
        .map(|chunk| async move {
            let r = shared.client.jobs(&chunk).await;
            (chunk, r)
        })
        .buffer_unordered(CALLS_AT_ONCE)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn job(status: &str, progress: Option<f64>) -> Job {
        let mut v = serde_json::json!({"id": "j", "status": status});
        if let Some(p) = progress {
            v["progress"] = p.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn waits_grow_while_a_job_tells_nothing_new() {
        let t0 = Instant::now();
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0);
        assert_eq!(r.next, t0 + 2 * S);
        let mut now = r.next;
        let mut waits = Vec::new();
        for _ in 0..8 {
            r.looked(Some(&job("in_queue", None)), now, 2 * S, 30 * S);
            waits.push((r.next - now).as_secs_f64());
            now = r.next;
        }
        assert_eq!(
            waits,
            [2.0, 3.0, 4.5, 6.75, 10.125, 15.1875, 22.78125, 30.0]
        );
    }

    #[test]
    fn the_end_is_predicted_from_progress() {
        let t0 = Instant::now();
        let near = |a: Instant, b: Instant| a.max(b) - a.min(b) < Duration::from_millis(1);
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0);
        r.looked(Some(&job("running", Some(0.2))), t0 + 10 * S, 2 * S, 30 * S);
        // 0.2 → 0.3 in 10 s: the 0.7 left takes 70 s, more than the longest wait.
        r.looked(Some(&job("running", Some(0.3))), t0 + 20 * S, 2 * S, 30 * S);
        assert!(near(r.next, t0 + 50 * S));
        // 0.2 → 0.8 in 30 s: done 10 s from now, plus one step of progress (0.01: 0.5 s).
        r.looked(Some(&job("running", Some(0.8))), t0 + 40 * S, 2 * S, 30 * S);
        assert!(near(r.next, t0 + 50 * S + S / 2));
        // Almost there (0.2 → 0.985 in 40 s: 0.015 + 0.01 left, 1.27 s): looked at when
        // due, sooner than the shortest wait (a freed render slot waits for that look)...
        r.looked(
            Some(&job("running", Some(0.985))),
            t0 + 50 * S,
            2 * S,
            30 * S,
        );
        let left = r.next - (t0 + 50 * S);
        assert!(
            left > Duration::from_millis(1260) && left < Duration::from_millis(1280),
            "{left:?}"
        );
        // ...but never sooner than `SLOT_GAP` (0.1 → 0.9 in 1 s: 0.14 s left).
        let mut fast = Rendering::new("f".into(), String::new(), t0, 2 * S, t0);
        fast.looked(Some(&job("running", Some(0.1))), t0 + S, 2 * S, 30 * S);
        fast.looked(Some(&job("running", Some(0.9))), t0 + 2 * S, 2 * S, 30 * S);
        assert!(near(fast.next, t0 + 2 * S + SLOT_GAP));
    }

    #[test]
    fn a_round_takes_every_due_job_and_fills_its_last_call() {
        let t0 = Instant::now();
        let mut rendering = HashMap::new();
        for i in 0..250u64 {
            // Jobs 0..=119 are due (the oldest first), the rest due later and later.
            let at = t0 + Duration::from_millis(i * 10);
            rendering.insert(
                format!("j{i:03}"),
                Rendering::new(format!("k{i}"), String::new(), t0, Duration::ZERO, at),
            );
        }
        let now = t0 + Duration::from_millis(1190);
        let ids = pick(&rendering, now, 100);
        assert_eq!(ids.len(), 200);
        let want: Vec<String> = (0..200).map(|i| format!("j{i:03}")).collect();
        assert_eq!(ids, want);
        assert!(pick(&rendering, t0 - S, 100).is_empty());
        assert_eq!(next_due(&rendering), Some(t0));
    }
}
