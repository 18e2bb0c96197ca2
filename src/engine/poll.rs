//! Polling: when each rendering job is looked at next, which jobs a round asks about, and the
//! round itself (`GET /api/lipsyncs_v2/?ids=`, up to 100 ids a call).
//!
//! Calls, not jobs, are what an account's rate limit counts, so a round is made of as few
//! calls as its due jobs need, and every call is filled to 100 ids:
//! - **Each job has its own next look.** A new job is first looked at `[poll]
//!   min_interval_secs` after its creation (once the render cap is known and a render's
//!   length learned, at the cadence's first share of a render, at least that); while it
//!   tells nothing new, the wait grows ×1.5 up to `max_interval_secs`. Once it reports
//!   progress while running, the latest instant it can end by is bounded (see
//!   [`end_bound`]) and it is looked at then (never later than `max_interval_secs`), so a
//!   finished job is seen within moments, not at the end of a long wait. While rows wait
//!   for a render slot, jobs are looked at by a cadence instead (see [`super::refill`]): the
//!   slots are refilled at those bounds without a look.
//! - **A round** happens when a job is due, at most every `min_interval_secs` (the run's last
//!   jobs aside: see [`tail_look`]). It asks about every due job, most overdue first, and
//!   fills the last call with the jobs due soonest (a free look: they cost no extra call).
//! - A failed call is not a job failure: its jobs stay due and are asked about next round.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::time::Instant;

use crate::api::client::MAX_IDS_PER_CALL;
use crate::api::{ApiError, Job};

use super::refill::Cadence;
use super::start::Learned;
use super::Shared;

/// How many poll calls of one round run at once (the shared schedule still paces them).
const CALLS_AT_ONCE: usize = 4;
/// Growth of a job's wait while it tells nothing new.
const BACKOFF: f64 = 1.5;
/// The step sizes progress may move in, coarsest first: reported progress is off by up to a
/// step ([`Rounding`]; how the API rounds it is undocumented), and the step is learned from
/// what it reports ([`ProgressStep`]).
const STEPS: [f64; 6] = [0.25, 0.2, 0.1, 0.05, 0.02, 0.01];
/// The shortest wait until a job's predicted end, and between rounds while rows wait for a
/// render slot: a predicted end is looked at when it is due, not `min_interval_secs` later.
pub(super) const SLOT_GAP: Duration = Duration::from_millis(250);

/// When a look's answer was measured: after its round was `asked`, before it was handled
/// (`now`). A bound takes whichever end of that span makes it later, never earlier: on a
/// loaded machine an answer may wait long after the API measured it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    pub asked: Instant,
    pub now: Instant,
}

impl From<Instant> for Seen {
    fn from(at: Instant) -> Self {
        Self { asked: at, now: at }
    }
}

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
    /// The latest instant the job is known not to have been running yet: its creation's
    /// send, or a look that saw it queued.
    not_running_at: Option<Instant>,
    /// The latest instant it ends by, if its progress says (see [`end_bound`]).
    pub ends_by: Option<Instant>,
    /// Whether `ends_by` comes from a look late in the render (progress at least
    /// [`PRECISE_FROM`]), close enough to refill its slot on.
    pub precise: bool,
    /// When its creation was sent, if this run sent it.
    pub sent_at: Option<Instant>,
    /// When its creation's answer came, if this run sent it: it existed by then.
    pub answered_at: Option<Instant>,
    /// When its webhook said it ended (see [`super::hooks`]): it then holds no render slot,
    /// and is due for the look that confirms it.
    pub hinted_at: Option<Instant>,
    /// It asked for this run's webhook (a job of an earlier run, or of a row with its own
    /// `webhook_url`, is polled as without webhooks).
    pub hooked: bool,
    /// A round was set sooner than `min_interval_secs` for its end (see [`tail_look`]).
    tail_looked: bool,
    /// When it started running, from the soonest to the latest, from two looks while it
    /// ran (see [`super::start`]).
    pub started: Option<(Instant, Instant)>,
    /// Whether `ends_by` is bounded closely from a start this run's renders taught, not
    /// from its own progress alone.
    pub learned: bool,
    /// Whether it taught the run when a job starts.
    pub taught: bool,
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
            not_running_at: None,
            ends_by: None,
            precise: false,
            sent_at: None,
            answered_at: None,
            hinted_at: None,
            hooked: false,
            tail_looked: false,
            started: None,
            learned: false,
            taught: false,
        }
    }

    /// Whether its webhook said it ended.
    pub fn hinted(&self) -> bool {
        self.hinted_at.is_some()
    }

    /// Whether it asked for this run's webhook.
    pub fn hooked(mut self, hooked: bool) -> Self {
        self.hooked = hooked;
        self
    }

    /// Due for a look by `at` at the latest; returns when it is due.
    pub fn due_by(&mut self, at: Instant) -> Instant {
        self.next = self.next.min(at);
        self.next
    }

    /// Looked at next `wait` from `now`, whatever its progress says (webhooks tell its end).
    pub fn look_in(&mut self, now: Instant, wait: Duration) {
        self.next = now + wait;
    }

    /// Looked at by `at`, then as a new job is (webhooks are not believed any more).
    pub fn look_again(&mut self, at: Instant, wait: Duration) {
        self.next = self.next.min(at);
        self.wait = wait;
    }

    /// Its creation was sent at `at` (before the POST left): it cannot have started sooner.
    pub fn sent(mut self, at: Instant) -> Self {
        self.not_running_at = Some(at);
        self.sent_at = Some(at);
        self
    }

    /// Its creation's answer came at `at`.
    pub fn answered(mut self, at: Instant) -> Self {
        self.answered_at = Some(at);
        self
    }

    /// The job was seen still rendering (or not seen at all: `job` is `None`) by a round
    /// asked and answered at `seen` (see [`Seen`]).
    /// `cadence`: while rows wait for a slot, when jobs are looked at (see [`super::refill`]);
    /// `reading`: how far reported progress may be off, and when jobs start ([`Reading`]).
    pub fn looked(
        &mut self,
        job: Option<&Job>,
        seen: impl Into<Seen>,
        min: Duration,
        max: Duration,
        cadence: Option<Cadence>,
        reading: impl Into<Reading>,
    ) {
        let Seen { asked, now } = seen.into();
        let Reading { rounding, start } = reading.into();
        let running = job.is_some_and(|j| j.status == crate::api::JobStatus::Running);
        if job.is_some() && !running {
            // Not running (yet, or again): whatever its end was bounded by no longer holds.
            // Seen so as early as the round was asked: it has run since for at most that long.
            self.not_running_at = Some(asked);
            self.ends_by = None;
            self.precise = false;
            self.started = None;
        }
        // 0 counts while running: it bounds when it started, as a later progress tells.
        let progress = job
            .and_then(|j| j.progress)
            .filter(|p| running && *p >= 0.0 && *p < 1.0);
        // Two bounds: `rounding`'s frees the slot; one with progress off by a step either way
        // times the look that collects the job, since a look that comes a moment early
        // costs a second call and a growing wait (the answer's progress was measured a
        // little before it arrived).
        let mut look = None;
        self.learned = false;
        let learned = start.zip(self.answered_at);
        let left = progress.and_then(|p| {
            let first = self.first_progress.filter(|(_, p0)| *p0 <= p);
            let bound = end_bound(now, p, rounding, self.not_running_at, first);
            let wide = Rounding::either_way(rounding.under);
            // Each pair of looks bounds its start: where they overlap is the closest.
            let start = first.and_then(|f| super::start::started(f, asked, now, p, rounding));
            if let Some((soonest, latest)) = start {
                self.started = Some(match self.started {
                    Some((s, l)) if s.max(soonest) <= l.min(latest) => {
                        (s.max(soonest), l.min(latest))
                    }
                    _ => (soonest, latest),
                });
            }
            look = end_bound(now, p, wide, self.not_running_at, first).or(bound);
            if self.first_progress.is_none_or(|(_, p0)| p < p0) {
                // The first progress, or progress went back (a render started over):
                // measure from here, as early as it may have been measured (an answer
                // handled late would otherwise make the job look faster than it is).
                self.first_progress = Some((asked, p));
            }
            // Its first look while running bounds the end closely from a start this run's
            // renders taught (see `super::start`); later looks, by two of its own.
            let learned_bound = |rounding| {
                learned
                    .filter(|_| first.is_none())
                    .and_then(|(l, made)| l.bound(now, p, rounding, made, self.not_running_at))
            };
            let from_start = learned_bound(rounding)
                .filter(|l| bound.is_none_or(|b| *l < b))
                .inspect(|left| look = learned_bound(wide).or(Some(*left)));
            self.learned = from_start.is_some();
            from_start
                .map(|left| (left, true))
                .or(bound.map(|left| (left, p >= PRECISE_FROM)))
        });
        self.predicted = left.is_some();
        if let Some((left, precise)) = left {
            self.ends_by = Some(now + left);
            self.precise = precise;
        }
        let look = look.zip(left).map(|(l, (_, precise))| (l, precise));
        let wait = match (left, cadence) {
            // Its slot is refilled at the bound without a look: the look that finds it done
            // can wait for a round that others need anyway, the first look at the job sent
            // into its slot.
            (Some((left, true)), Some(c)) => left + c.first,
            // Not bounded closely yet: the next round others need (a look by another job's
            // round realigns it on them), but never before its own first look: a look at a
            // job moments old (as a probe's round, which asks about every job, makes) finds
            // it queued or barely started, and waiting only `every` from it would cost a
            // third look before its end is bounded closely.
            (_, Some(c)) => {
                let first = self.sent_at.map_or(now, |t| t + c.first);
                c.every.max(first.saturating_duration_since(now))
            }
            (Some((_, true)), None) => look.map_or(min, |(l, _)| l).clamp(min.min(SLOT_GAP), max),
            // A rough bound (early in the render) is far too late to wait for.
            (_, None) => {
                let w = self.wait;
                self.wait = self.wait.mul_f64(BACKOFF).clamp(min, max);
                let w = w.clamp(min, max);
                look.map_or(w, |(l, _)| w.min(l.max(min.min(SLOT_GAP))))
            }
        };
        self.next = now + wait;
    }
}

/// What a look's progress is read with: how far it may be off, and when a job starts, if
/// this run's renders taught it (see [`super::start`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    pub rounding: Rounding,
    pub start: Option<Learned>,
}

impl From<Rounding> for Reading {
    fn from(rounding: Rounding) -> Self {
        Self {
            rounding,
            start: None,
        }
    }
}

/// From what progress on a job's end is bounded closely enough to refill its slot on.
pub(super) const PRECISE_FROM: f64 = 0.5;

/// How far a reported progress may be from the work done: it may say less than is done by
/// up to `under`, and more by up to `over`. Rounded down (the sandbox's way, and the first
/// assumption): `under` one step, `over` none; rounded up or to the nearest: a step both
/// ways (see [`super::refill`], which widens it after an early refill).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rounding {
    /// How much less than is done it may say.
    pub under: f64,
    /// How much more than is done it may say.
    pub over: f64,
}

impl Rounding {
    /// Progress in `step`s, rounded down.
    pub fn down(step: f64) -> Self {
        Self {
            under: step,
            over: 0.0,
        }
    }

    /// Progress in `step`s, rounded either way.
    pub fn either_way(step: f64) -> Self {
        Self {
            under: step,
            over: step,
        }
    }
}

/// How long from `now` a running job ends at the latest, given its progress `p` now (off by
/// up to `rounding`), if progress rises at a steady rate: the least of two upper bounds, each
/// late rather than early, so a slot refilled at it is free. It has at most `1 - p + over`
/// left to do, and:
/// - from `not_running_at`, when it was last known not to be running, it has run for at most
///   `now - not_running_at` and done at least `p - over`;
/// - since its `first` progress `(t0, p0)`, it has done at least `p - p0 - under - over`.
pub(super) fn end_bound(
    now: Instant,
    p: f64,
    rounding: Rounding,
    not_running_at: Option<Instant>,
    first: Option<(Instant, f64)>,
) -> Option<Duration> {
    let Rounding { under, over } = rounding;
    let left = 1.0 - p + over;
    let from_idle = not_running_at
        .filter(|t| *t < now && p > over)
        .map(|t| left * now.duration_since(t).as_secs_f64() / (p - over));
    let slack = under + over;
    let from_first = first
        .filter(|(t0, p0)| *t0 < now && p - p0 > slack)
        .map(|(t0, p0)| left * now.duration_since(t0).as_secs_f64() / (p - p0 - slack));
    let secs = match (from_idle, from_first) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some(Duration::from_secs_f64(secs.clamp(0.0, 1e6)))
}

/// The step the API's progress moves in, learned from every value it reports: the coarsest
/// of [`STEPS`] that each one is a whole number of (until one is not, the coarser step is
/// assumed: a bound later than it needs to be, never earlier).
#[derive(Debug, Clone)]
pub(super) struct ProgressStep {
    /// Which of [`STEPS`] every value seen so far fits.
    fits: [bool; STEPS.len()],
}

impl Default for ProgressStep {
    fn default() -> Self {
        Self {
            fits: [true; STEPS.len()],
        }
    }
}

impl ProgressStep {
    /// A reported progress (0..=1).
    pub fn saw(&mut self, p: f64) {
        for (fits, step) in self.fits.iter_mut().zip(STEPS) {
            let steps = p / step;
            *fits &= (steps - steps.round()).abs() < 1e-6;
        }
    }

    /// The step to allow for.
    pub fn get(&self) -> f64 {
        STEPS
            .iter()
            .zip(self.fits)
            .find_map(|(step, fits)| fits.then_some(*step))
            .unwrap_or(STEPS[STEPS.len() - 1])
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

/// Once no row waits or is being sent, the jobs rendering end the run, and a look
/// `min_interval_secs` after a round that just missed one would hold the whole run that
/// long: when every one of them has its end bounded closely (see [`PRECISE_FROM`]) and its
/// look due before `gate`, the next round goes at the latest of their looks, and collects
/// them all. Once per job, so a job whose progress stalls near its end keeps the gap.
pub(super) fn tail_look(
    rendering: &mut HashMap<String, Rendering>,
    gate: Instant,
) -> Option<Instant> {
    let all_close = rendering
        .values()
        .all(|r| r.precise && r.predicted && !r.tail_looked && r.next < gate);
    if !all_close {
        return None;
    }
    let last = rendering.values().map(|r| r.next).max()?;
    for r in rendering.values_mut() {
        r.tail_looked = true;
    }
    Some(last)
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
            r.looked(
                Some(&job("in_queue", None)),
                now,
                2 * S,
                30 * S,
                None,
                Rounding::down(0.01),
            );
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
        let look = |r: &mut Rendering, p: f64, secs: u32| {
            r.looked(
                Some(&job("running", Some(p))),
                t0 + secs * S,
                2 * S,
                30 * S,
                None,
                Rounding::down(0.01),
            )
        };
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0);
        look(&mut r, 0.2, 10);
        assert_eq!(r.ends_by, None, "one look, and no idea when it started");
        // 0.2 → 0.3 in 10 s: at least 0.09 (0.3 may be 0.309, 0.2 may be 0.2099) in 10 s,
        // so the 0.7 left takes at most 78 s: too rough to wait for, the wait grows as if
        // nothing were known (2 s, then 3 s).
        look(&mut r, 0.3, 20);
        assert!(near(r.next, t0 + 23 * S));
        assert!(!r.precise);
        // 0.2 → 0.8 in 30 s: 0.2 left at 0.59 per 30 s, 10.17 s at the latest; looked at
        // with progress off a step either way (0.21 left at 0.58 per 30 s, 10.86 s).
        look(&mut r, 0.8, 40);
        assert!(near(
            r.ends_by.expect("bounded"),
            t0 + 40 * S + Duration::from_secs_f64(0.2 * 30.0 / 0.59)
        ));
        assert!(near(
            r.next,
            t0 + 40 * S + Duration::from_secs_f64(0.21 * 30.0 / 0.58)
        ));
        assert!(r.precise);
        // Almost there (0.025 left at 0.765 per 40 s with the wide bound: 1.31 s): looked at
        // when due, sooner than the shortest wait...
        look(&mut r, 0.985, 50);
        assert!(near(
            r.next,
            t0 + 50 * S + Duration::from_secs_f64(0.025 * 40.0 / 0.765)
        ));
        // ...but never sooner than `SLOT_GAP` (0.1 → 0.9 in 1 s: 0.13 s left).
        let mut fast = Rendering::new("f".into(), String::new(), t0, 2 * S, t0);
        look_at(&mut fast, &job("running", Some(0.1)), t0, 1, None);
        look_at(&mut fast, &job("running", Some(0.9)), t0, 2, None);
        assert!(near(fast.next, t0 + 2 * S + SLOT_GAP));
    }

    /// A job as the sandbox renders it: queued for its first 2.5 s, then progress rising
    /// steadily to 1 at 10 s, reported rounded down to 0.01.
    fn sandbox_job(t: f64) -> Job {
        stepped_job(t, 0.01, f64::floor)
    }

    /// The same, progress reported in `step`s, rounded by `round`.
    fn stepped_job(t: f64, step: f64, round: fn(f64) -> f64) -> Job {
        if t < 2.5 {
            return job("in_queue", None);
        }
        let steps = round((t - 2.5) / 7.5 / step + 1e-9).min(1.0 / step);
        job("running", Some(steps * step))
    }

    #[test]
    fn the_bound_is_never_early_and_close_late_in_the_render() {
        // The run's other jobs have shown progress in hundredths (0.37, say).
        let b = bounds(0.01, Some(0.37), f64::floor, Rounding::down);
        assert_eq!(b.early, 0);
        assert_eq!(b.loose, 0, "late by half a second or more");
    }

    #[test]
    fn progress_in_coarse_steps_is_never_taken_for_a_finer_one() {
        // An API whose progress moves in tenths: 0.3 may be 0.39 done. Learned from the
        // job's own looks only (0 and 0.5 fit quarters: later still, never early), or from
        // others' too (0.3).
        for seen in [None, Some(0.3)] {
            assert_eq!(bounds(0.1, seen, f64::floor, Rounding::down).early, 0);
        }
    }

    #[test]
    fn progress_rounded_up_is_bounded_early_until_taken_as_off_either_way() {
        // An API that rounds up (0.31 done reads 0.32): a bound that took it for rounded
        // down comes early; the refill widens it after its first early refill.
        let seen = Some(0.37);
        assert!(bounds(0.01, seen, f64::ceil, Rounding::down).early > 0);
        for round in [f64::ceil, f64::round, f64::floor] {
            let b = bounds(0.01, seen, round, Rounding::either_way);
            assert_eq!(b.early, 0);
        }
    }

    #[test]
    fn the_step_is_the_coarsest_every_progress_fits() {
        let learned = |seen: &[f64]| {
            let mut steps = ProgressStep::default();
            seen.iter().for_each(|p| steps.saw(*p));
            steps.get()
        };
        assert_eq!(learned(&[]), 0.25, "nothing seen: the coarsest");
        assert_eq!(learned(&[0.0, 0.5, 0.75]), 0.25);
        assert_eq!(learned(&[0.5, 0.3]), 0.1);
        assert_eq!(learned(&[0.3, 0.37]), 0.01);
        assert_eq!(learned(&[0.123]), 0.01, "finer than any: the finest");
    }

    /// What [`bounds`] found.
    struct Bounds {
        /// Bounds before the job's end.
        early: usize,
        /// With the step known to be 0.01, close bounds late by half a second or more once two
        /// looks a third of the render apart were late in it.
        loose: usize,
    }

    /// Looks at every pair of instants a round could come at, 0.1 s apart, at a job whose
    /// progress moves in `step`s rounded by `round`; the step is learned from `seen` (what
    /// other jobs reported) and these looks, and taken as off by `rounding(step)`.
    fn bounds(
        step: f64,
        seen: Option<f64>,
        round: fn(f64) -> f64,
        rounding: fn(f64) -> Rounding,
    ) -> Bounds {
        let t0 = Instant::now();
        let end = t0 + 10 * S;
        let (mut bounded, mut early, mut loose) = (0, 0, 0);
        for first in 1..95u64 {
            for second in (first + 1)..100 {
                let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0).sent(t0);
                let mut steps = ProgressStep::default();
                seen.into_iter().for_each(|p| steps.saw(p));
                for at in [first, second] {
                    let t = t0 + Duration::from_millis(at * 100);
                    let j = stepped_job(at as f64 / 10.0, step, round);
                    if let Some(p) = j.progress {
                        steps.saw(p);
                    }
                    r.looked(Some(&j), t, 2 * S, 30 * S, None, rounding(steps.get()));
                }
                let Some(ends_by) = r.ends_by else {
                    continue;
                };
                bounded += 1;
                if ends_by < end {
                    early += 1;
                } else if steps.get() == 0.01 && r.precise && first >= 25 && second - first >= 30 {
                    // Two looks while running, as far apart as rounds at the cadence (a
                    // third of the render), the second late: within half a second.
                    loose += usize::from(ends_by - end >= S / 2);
                }
            }
        }
        // Most pairs of looks while it runs bound it (a check of no bound would hold vacuously).
        assert!(
            bounded > 1000,
            "only {bounded} pairs of looks bounded the job"
        );
        Bounds { early, loose }
    }

    /// `r` looked at `secs` after the start, seeing `job`, rounds at `cadence` if any.
    fn look_at(r: &mut Rendering, job: &Job, t0: Instant, secs: u32, cadence: Option<Cadence>) {
        let down = Rounding::down(0.01);
        r.looked(Some(job), t0 + secs * S, 2 * S, 30 * S, cadence, down);
    }

    #[test]
    fn a_job_seen_queued_again_loses_its_bound() {
        let t0 = Instant::now();
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0).sent(t0);
        look_at(&mut r, &sandbox_job(8.0), t0, 8, None);
        assert!(r.precise && r.ends_by.is_some());
        // Its render started over: the bound of the first one no longer frees its slot.
        look_at(&mut r, &job("in_queue", None), t0, 9, None);
        assert!(!r.precise);
        assert_eq!(r.ends_by, None);
    }

    #[test]
    fn at_a_cadence_a_precise_job_is_looked_at_after_its_end() {
        let t0 = Instant::now();
        let c = Some(Cadence {
            every: 3 * S,
            first: 4 * S,
        });
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0).sent(t0);
        look_at(&mut r, &sandbox_job(2.0), t0, 2, c);
        assert_eq!(r.next, t0 + 5 * S, "nothing known: the longest wait");
        look_at(&mut r, &sandbox_job(5.0), t0, 5, c);
        assert!(!r.precise);
        assert_eq!(r.next, t0 + 8 * S, "a rough bound: the longest wait");
        look_at(&mut r, &sandbox_job(8.0), t0, 8, c);
        let ends_by = r.ends_by.expect("bounded");
        assert!(r.precise);
        assert_eq!(
            r.next,
            ends_by + 4 * S,
            "its slot is refilled without a look; it is collected with the next job's first"
        );
    }

    #[test]
    fn once_the_run_taught_when_jobs_start_one_early_look_bounds_an_end() {
        // Sandbox renders of 10 s: queued 2.5 s, then 7.5 s running.
        let t0 = Instant::now();
        let down = Rounding::down(0.01);
        let secs = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut refill = super::super::refill::Refill::new();
        for _ in 0..2 {
            let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0)
                .sent(t0)
                .answered(t0);
            let c = refill.cadence(30 * S);
            r.looked(Some(&sandbox_job(4.0)), secs(4.0), 2 * S, 30 * S, c, down);
            assert!(
                !r.precise,
                "one early look of the first wave bounds nothing closely"
            );
            r.looked(Some(&sandbox_job(8.0)), secs(8.0), 2 * S, 30 * S, c, down);
            assert!(r.precise && !r.learned);
            refill.learn(&mut r);
        }
        let c = refill.cadence(30 * S);
        let learned = Reading {
            rounding: down,
            start: Some(refill.start().expect("two jobs agree")),
        };
        let first = c.expect("a render learned").first;
        // Past the middle of its running (6.25 s), not at 0.45 of a render (4.5 s, 0.26 done,
        // where a start learned a little early would make the bound 0.5 s late).
        let first = first.as_secs_f64();
        assert!((6.25..6.75).contains(&first), "first look at {first}");
        let mut r = Rendering::new("k".into(), String::new(), t0, 4 * S, t0)
            .sent(t0)
            .answered(t0);
        r.looked(
            Some(&sandbox_job(first)),
            secs(first),
            2 * S,
            30 * S,
            c,
            learned,
        );
        assert!(r.precise && r.learned, "bounded closely by its first look");
        let end = (r.ends_by.expect("bounded") - t0).as_secs_f64();
        assert!((10.0..10.3).contains(&end), "never early, and close: {end}");
        let mut slow = Rendering::new("k".into(), String::new(), t0, 4 * S, t0)
            .sent(t0)
            .answered(t0);
        let slower = job("running", Some(0.1));
        slow.looked(Some(&slower), secs(first), 2 * S, 30 * S, c, learned);
        assert!(
            !slow.precise,
            "a render unlike those seen waits for a second look"
        );
        refill.refused(refill.trusted_as());
        assert!(
            refill.start().is_none(),
            "the first refusal ends the lesson"
        );
    }

    #[test]
    fn a_look_at_a_job_moments_old_keeps_its_first_look() {
        // A probe's round asks about every job, those just sent into freed slots too: seen
        // queued 250 ms old, a job of a 60 s render is still first looked at 0.45 of one
        // (27 s, progress 0.27 in the sandbox), then 0.3 later (45 s, 0.67: bounded
        // closely), not at 18 s and 36 s (0.07 and 0.47) and 54 s.
        let t0 = Instant::now();
        let c = Some(Cadence {
            every: 18 * S,
            first: 27 * S,
        });
        let mut r = Rendering::new("k".into(), String::new(), t0, 27 * S, t0).sent(t0);
        let down = Rounding::down(0.01);
        let moments = t0 + Duration::from_millis(250);
        r.looked(
            Some(&job("in_queue", None)),
            moments,
            2 * S,
            30 * S,
            c,
            down,
        );
        assert_eq!(r.next, t0 + 27 * S, "its first look stays where it was");
        look_at(&mut r, &job("running", Some(0.27)), t0, 27, c);
        assert!(!r.precise);
        assert_eq!(r.next, t0 + 45 * S, "then the cadence");
        look_at(&mut r, &job("running", Some(0.67)), t0, 45, c);
        assert!(r.precise, "bounded closely at the second look");
    }

    #[test]
    fn a_look_brought_forward_keeps_the_wait_its_job_was_made_with() {
        // A probe's job: made to be looked at 27 s on, brought forward to 250 ms (the look
        // that tells whether the cap was raised). Seen queued then, with no cadence (no row
        // waits: the run's last wave), it waits the 27 s it was made with, not a backoff
        // grown from 250 ms (2 s, 3 s, 4.5 s … each a round about every job).
        let t0 = Instant::now();
        let mut r = Rendering::new("k".into(), String::new(), t0, 27 * S, t0).sent(t0);
        let soon = t0 + Duration::from_millis(250);
        assert_eq!(r.due_by(soon), soon);
        r.looked(
            Some(&job("in_queue", None)),
            soon,
            2 * S,
            30 * S,
            None,
            Rounding::down(0.01),
        );
        assert_eq!(r.next, soon + 27 * S);
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

    #[test]
    fn the_last_jobs_are_looked_at_when_they_end_once_each() {
        // Two sandbox jobs sent a second apart, both looked at 8 s in: their ends (10 s and
        // 11 s) are bounded closely from that one look (by 11.1 s and 12.9 s, their queueing
        // counted as render), before a round gap of 6 s would allow a look.
        let t0 = Instant::now();
        let sent = |secs: u32| {
            Rendering::new("k".into(), String::new(), t0, 2 * S, t0).sent(t0 + secs * S)
        };
        let mut rendering = HashMap::new();
        let (mut a, mut b) = (sent(0), sent(1));
        look_at(&mut a, &sandbox_job(8.0), t0, 8, None);
        look_at(&mut b, &sandbox_job(7.0), t0, 8, None);
        rendering.insert("a".to_owned(), a);
        rendering.insert("b".to_owned(), b);
        // A gap that ends before b's look: the round gap holds, and nothing is spent.
        assert_eq!(tail_look(&mut rendering, t0 + 12 * S), None);
        let gate = t0 + 14 * S;
        let last = tail_look(&mut rendering, gate).expect("both ends are close");
        assert_eq!(Some(last), rendering.values().map(|r| r.next).max());
        assert!(
            last > t0 + 11 * S && last < t0 + 13 * S,
            "b's end, not the gap"
        );
        // Once per job: a progress that stalls is not looked at every moment.
        assert_eq!(tail_look(&mut rendering, gate), None);
        // A job whose end is not bounded closely yet (queued still) holds the gap.
        let mut rendering: HashMap<String, Rendering> = HashMap::new();
        for (id, at) in [("a", 0), ("c", 6)] {
            let mut r = sent(at);
            look_at(&mut r, &sandbox_job(8.0 - f64::from(at)), t0, 8, None);
            rendering.insert(id.to_owned(), r);
        }
        assert_eq!(tail_look(&mut rendering, gate), None);
        assert_eq!(tail_look(&mut HashMap::new(), gate), None);
    }

    #[test]
    fn an_answer_handled_late_never_makes_the_bound_early() {
        // A sandbox job (ends at 10 s) asked about at 5 s (0.33 done) but the answer handled
        // only at 6 s, a loaded machine; then 0.73 at 8 s. Taken as measured at 6 s, 0.4 in
        // 2 s would bound the end by 9.4 s: early, a refused creation into its slot.
        let t0 = Instant::now();
        let mut r = Rendering::new("k".into(), String::new(), t0, 2 * S, t0).sent(t0);
        let down = Rounding::down(0.01);
        let late = Seen {
            asked: t0 + 5 * S,
            now: t0 + 6 * S,
        };
        r.looked(Some(&sandbox_job(5.0)), late, 2 * S, 30 * S, None, down);
        r.looked(
            Some(&sandbox_job(8.0)),
            t0 + 8 * S,
            2 * S,
            30 * S,
            None,
            down,
        );
        let ends_by = r.ends_by.expect("bounded");
        assert!(ends_by >= t0 + 10 * S, "{:?} early", t0 + 10 * S - ends_by);
        assert!(r.precise);
        // A queued job seen by a round answered late: it may have started once asked.
        let mut q = Rendering::new("q".into(), String::new(), t0, 2 * S, t0);
        q.looked(Some(&sandbox_job(2.0)), late, 2 * S, 30 * S, None, down);
        assert_eq!(q.not_running_at, Some(t0 + 5 * S));
    }
}
