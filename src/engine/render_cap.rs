//! The account's render cap: how many jobs may render at once. Creatify publishes none and
//! the user rarely knows it, so unless `[limits] max_rendering` says, it is learned from the
//! first refusal that names it, then held.
//!
//! Why held, not probed: every probe above the cap is a refused call, and an account's cap
//! changes only when its plan does. So:
//! - **Unknown**: the first 16 creations go one at a time, so the refusal that reveals a cap
//!   of up to 16 (peers publish 1 to 15) is the only one (a burst would all meet it); then one
//!   more at once per 2 accepted, so an account without a cap reaches the full submission
//!   rate within a few round trips (a larger cap costs about half its excess in refusals).
//! - **Learned**: at the first refusal, the cap is the number the message names, bounded by
//!   what is rendering (which is at least the account's count: a job may have ended unseen).
//!   The submit gate then keeps to it: a finished job's slot is refilled, never probed.
//! - **Probed again once a minute** ([`PROBE_EVERY`]) while rows wait: one creation above the
//!   cap, by itself once every held slot is taken, and not while a job held is predicted to
//!   end within [`PROBE_CLEAR`] (at most [`PROBE_DEFER`] late; see
//!   [`RenderCap::probe_goes`]). Refused: held another minute. Accepted: that proves nothing by itself, since a job
//!   counted as rendering may have ended unseen (its predicted end is a late bound, and a
//!   probe falls due as readily at a wave's end as anywhere). The probe's job is looked at
//!   a moment later ([`super::poll::SLOT_GAP`]), and a raise is taken only once a round, asked
//!   while a probe may go, sees more jobs than the cap unfinished at once, each known to exist
//!   before it was asked and none a webhook said ended ([`RenderCap::seen_at_once`]): they
//!   were all unfinished at that instant. Then the old cap says nothing, and it is found
//!   again as at the start, one creation at a time (one refusal).
//! - **Configured** (`max_rendering`): never above it, never probed: no refusals at all.

use std::time::Duration;

use tokio::time::Instant;

/// How often a learned cap is probed for a raise while rows wait for a slot.
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(60);
/// A probe waits while a job held is predicted to end this soon: accepted then, it would
/// tell only of a job that ended unseen, and cost a round to look.
pub(super) const PROBE_CLEAR: Duration = Duration::from_secs(2);
/// ...but no longer than this past the minute.
const PROBE_DEFER: Duration = Duration::from_secs(10);
/// While the cap is unknown: creations sent one at a time, before the ramp.
const RAMP: usize = 16;

/// The render cap as the submit gate sees it.
#[derive(Debug)]
pub(super) struct RenderCap {
    /// `[limits] max_in_flight`: never more, whatever the account allows.
    max_in_flight: usize,
    /// `[limits] max_rendering`.
    configured: Option<usize>,
    /// What the account's refusals said.
    learned: Option<usize>,
    /// No creation above the learned cap before this.
    next_probe: Instant,
    /// Creations accepted this run (the ramp while the cap is unknown).
    accepted: usize,
}

impl RenderCap {
    pub fn new(max_in_flight: usize, configured: Option<usize>, now: Instant) -> Self {
        Self {
            max_in_flight: max_in_flight.max(1),
            configured: configured.map(|c| c.max(1)),
            learned: None,
            next_probe: now,
            accepted: 0,
        }
    }

    /// Rows that may be in flight (being created, looked for or rendering) at `now`.
    pub fn limit(&self, now: Instant) -> usize {
        let cap = match (self.configured, self.learned) {
            (Some(c), _) => c,
            (None, None) => self.max_in_flight,
            (None, Some(l)) if now >= self.next_probe => l + 1,
            (None, Some(l)) => l,
        };
        cap.min(self.max_in_flight)
    }

    /// The cap held, without the once-a-minute probe above it.
    pub fn held(&self) -> usize {
        self.configured
            .or(self.learned)
            .unwrap_or(self.max_in_flight)
            .min(self.max_in_flight)
    }

    /// Creations that may be under way at once, of `max`.
    pub fn submitting(&self, max: usize) -> usize {
        let max = max.max(1);
        if self.configured.is_some() || self.learned.is_some() {
            return max;
        }
        (1 + self.accepted.saturating_sub(RAMP - 1) / 2).min(max)
    }

    /// The learned cap, if any.
    #[cfg(test)]
    pub fn learned(&self) -> Option<usize> {
        self.learned
    }

    /// Whether the account's cap is known (configured or learned).
    pub fn known(&self) -> bool {
        self.configured.is_some() || self.learned.is_some()
    }

    /// When the held cap may next be probed (for the coordinator's wake-up), if it is held
    /// and that is still to come after `now` (a probe that may go already needs no wake-up:
    /// the next slot event sends it).
    pub fn next_probe(&self, now: Instant) -> Option<Instant> {
        (self.configured.is_none() && self.learned.is_some() && self.next_probe > now)
            .then_some(self.next_probe)
    }

    /// Whether the probe above the held cap, due at `now` (see [`Self::limit`]), goes now:
    /// only by itself (`alone`: every held slot taken, no creation on its way), so no
    /// creation sent into a freed slot meets the refusal instead; and not while a job held
    /// is predicted to end within [`PROBE_CLEAR`] (`next_end`), unless the probe is
    /// [`PROBE_DEFER`] overdue.
    pub fn probe_goes(&self, now: Instant, alone: bool, next_end: Option<Instant>) -> bool {
        let overdue = now >= self.next_probe + PROBE_DEFER;
        alone && (overdue || next_end.is_none_or(|t| t > now + PROBE_CLEAR))
    }

    /// A creation was accepted.
    pub fn accepted(&mut self) {
        self.accepted += 1;
    }

    /// Whether a creation accepted with `holding` jobs counted as rendering (it included)
    /// went above the learned cap: a probe, whose job is looked at at once to tell a raise.
    pub fn above(&self, holding: usize) -> bool {
        self.configured.is_none() && self.learned.is_some_and(|l| holding > l)
    }

    /// A poll round asked at `asked` saw `unfinished` jobs not yet ended, each known to exist
    /// before: the account had that many at once. More than the learned cap means it was
    /// raised; the old cap then says nothing, and it is found again from scratch. Only while
    /// a probe may go (`asked` past [`Self::next_probe`]): an account that keeps some
    /// unfinished jobs out of its count costs one rediscovery a minute at most, not a loop.
    pub fn seen_at_once(&mut self, unfinished: usize, asked: Instant) {
        let Some(l) = self
            .learned
            .filter(|_| self.configured.is_none() && asked >= self.next_probe)
        else {
            return;
        };
        if unfinished > l {
            tracing::info!(
                rendering = unfinished,
                was = l,
                "the account renders more jobs at once than its cap was; finding the new cap"
            );
            self.learned = None;
            self.accepted = 0;
        }
    }

    /// A creation was refused over the account's render cap, with `rendering` jobs followed
    /// and the message naming `named` (or nothing).
    pub fn refused(&mut self, rendering: usize, named: Option<usize>, now: Instant) {
        // What is rendering bounds the cap from above: the refusal came with at least the
        // cap rendering on the account, and every job of it is one this run follows.
        let cap = named
            .filter(|n| *n >= 1)
            .map_or(rendering, |n| n.min(rendering.max(1)))
            .max(1);
        if self.learned != Some(cap) {
            tracing::info!(
                cap,
                "the account's render limit is reached; rendering at most {cap} jobs at once"
            );
        }
        self.learned = Some(cap);
        self.next_probe = now + PROBE_EVERY;
    }
}

/// The number a render-cap refusal names ("Concurrent render limit reached: 5 jobs are
/// already rendering"): its first whole number, if any.
pub(super) fn named_cap(detail: &str) -> Option<usize> {
    let digits: String = detail
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_cap_is_found_by_one_creation_at_a_time_then_held() {
        let t0 = Instant::now();
        let mut c = RenderCap::new(1000, None, t0);
        assert_eq!(c.limit(t0), 1000);
        assert_eq!(c.submitting(20), 1);
        for _ in 1..=16 {
            c.accepted();
            assert_eq!(c.submitting(20), 1, "one at a time for the first 16");
        }
        c.accepted();
        assert_eq!(
            c.submitting(20),
            2,
            "then one more under way per 2 accepted"
        );
        for _ in 18..=35 {
            c.accepted();
        }
        assert_eq!(c.submitting(20), 11);
        c.refused(35, Some(5), t0);
        assert_eq!(
            c.learned(),
            Some(5),
            "the named cap, below what is rendering"
        );
        assert_eq!(c.limit(t0), 5);
        assert_eq!(c.submitting(20), 20);
        // Held: a finished job's slot is refilled, not probed above.
        assert_eq!(c.limit(t0 + PROBE_EVERY - Duration::from_secs(1)), 5);
        // A minute on, one probe above it.
        assert_eq!(c.limit(t0 + PROBE_EVERY), 6);
        c.refused(5, Some(5), t0 + PROBE_EVERY);
        assert_eq!(c.limit(t0 + PROBE_EVERY + Duration::from_secs(59)), 5);
    }

    #[test]
    fn an_accepted_probe_is_no_raise_until_a_round_sees_more_than_the_cap_at_once() {
        let t0 = Instant::now();
        let mut c = RenderCap::new(1000, None, t0);
        c.refused(5, Some(5), t0);
        assert_eq!(c.limit(t0), 5);
        assert!(!c.above(5));
        let later = t0 + PROBE_EVERY;
        assert_eq!(c.limit(later), 6);
        // The probe is accepted with 6 counted as rendering, but one of them may have
        // ended unseen: still one above the cap, no more (a raise read from this once
        // let several creations go at once into a cap of 5).
        assert!(c.above(6));
        c.accepted();
        assert_eq!(c.limit(later), 6, "an accepted probe alone is no raise");
        c.seen_at_once(6, later - Duration::from_secs(1));
        assert_eq!(c.learned(), Some(5), "no probe was due: no raise taken");
        c.seen_at_once(5, later);
        assert_eq!(c.learned(), Some(5), "5 unfinished at once fits the cap");
        c.seen_at_once(6, later);
        assert_eq!(c.learned(), None, "6 at once: the cap was raised");
        assert!(!c.known());
        assert_eq!(c.submitting(20), 1, "found again one creation at a time");
        assert_eq!(c.limit(later), 1000);
        c.refused(15, Some(15), later);
        assert_eq!(c.limit(later), 15);
        assert_eq!(c.next_probe(later), Some(later + PROBE_EVERY));
        assert_eq!(
            c.next_probe(later + PROBE_EVERY),
            None,
            "a probe that may go wakes nothing (a wake-up at once would spin)"
        );
    }

    #[test]
    fn a_probe_goes_by_itself_and_not_as_a_job_is_about_to_end() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut c = RenderCap::new(100, None, t0);
        c.refused(5, Some(5), t0);
        let due = t0 + PROBE_EVERY;
        assert_eq!(c.limit(due), 6);
        assert!(
            c.probe_goes(due, true, None),
            "every slot taken, no end in sight"
        );
        assert!(c.probe_goes(due, true, Some(due + 3 * s)));
        assert!(
            !c.probe_goes(due, false, None),
            "creations into freed slots go first"
        );
        assert!(
            !c.probe_goes(due, true, Some(due + s)),
            "a job predicted to end in a second: accepted, it would prove nothing"
        );
        let overdue = due + PROBE_DEFER;
        assert!(
            c.probe_goes(overdue, true, Some(overdue + s)),
            "at most 10 s late"
        );
        assert!(!c.probe_goes(overdue, false, None), "but always by itself");
    }

    #[test]
    fn a_configured_cap_is_never_exceeded_or_probed() {
        let t0 = Instant::now();
        let mut c = RenderCap::new(50, Some(5), t0);
        assert_eq!(c.limit(t0 + PROBE_EVERY * 10), 5);
        assert!(!c.above(6));
        c.seen_at_once(9, t0 + PROBE_EVERY);
        assert_eq!(c.limit(t0), 5, "a configured cap is the user's word");
        assert_eq!(c.submitting(20), 20);
        assert_eq!(
            RenderCap::new(3, Some(5), t0).limit(t0),
            3,
            "max_in_flight still binds"
        );
    }

    #[test]
    fn the_named_cap_is_bounded_by_what_is_rendering() {
        let t0 = Instant::now();
        let mut c = RenderCap::new(100, None, t0);
        c.refused(3, Some(30), t0);
        assert_eq!(c.learned(), Some(3));
        assert_eq!(
            named_cap("Concurrent render limit reached: 5 jobs are already rendering"),
            Some(5)
        );
        assert_eq!(named_cap("too many concurrent jobs"), None);
    }
}
