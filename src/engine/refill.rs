//! Refilling a render slot at its job's predicted end, without a look first.
//!
//! While rows wait for the account's render cap, a slot freed by a job's end used to wait
//! for a poll round to see it: about one status call per video on top of its creation, to
//! keep the lag under a second. Here the slot is counted free at the latest instant its job
//! can end by (from its progress, [`super::poll::end_bound`], a bound that is late rather
//! than early while progress rises steadily), plus [`MARGIN`]; the next creation goes then.
//! Poll rounds only learn progress and collect finished jobs, each job when it needs it
//! ([`Cadence`]): a new job is first looked at [`FIRST_SHARE`] of a typical render (a round
//! that asks about it sooner, as a probe's does, leaves that look where it was), then
//! every [`CADENCE_SHARE`] of one until its end is bounded closely, and then again only
//! [`FIRST_SHARE`] past its bound: the round of the first look at the job sent into the slot
//! it freed. So a wave of exact renders costs about two rounds, each serving every job under
//! way (it cost three or four when the first look and the collecting one came at
//! [`CADENCE_SHARE`]); one, once the run has learned when a job starts ([`super::start`]):
//! the first look then comes later and bounds the end by itself.
//!
//! Never at the price of a paid mistake: a creation sent on a prediction is at worst
//! refused over the cap (HTTP 429: nothing created, nothing charged). Progress is first
//! taken as rounded down (the tightest bound); the first such refusal may mean the API rounds
//! it up or to the nearest, so bounds are widened to a step either way
//! ([`super::poll::Rounding`]) and every close bound made before is dropped. A second one
//! means progress does not rise steadily on this account, and the rest of the run refills a
//! slot only once a poll has seen it free. A refusal counts only if its creation was sent
//! on the trust it would lower: creations sent together on one wrong lesson (two slots
//! whose jobs started alike) are refused together, and say it once. Either way the jobs
//! whose bounds were dropped are looked at again by those bounds, so a slot does not wait
//! for a look planned on the trust it had.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::poll::{Rendering, Rounding, SLOT_GAP};
use super::start::{Learned, Starts};

/// Past a job's bound before its slot counts as free: the server's own clock and the
/// request's way there.
pub(super) const MARGIN: Duration = Duration::from_millis(150);
/// The longest wait between looks at a job whose end is not yet bounded closely, while slots
/// are refilled on predictions: this share of a typical render, so every job is seen
/// running at least twice, once late enough to bound its end closely.
const CADENCE_SHARE: f64 = 0.3;
/// A new job's first look, and a finished one's past its bound: this share of a typical
/// render. Late enough that the job is running (a sandbox job is queued for its first
/// quarter), early enough for a second look before it ends.
const FIRST_SHARE: f64 = 0.45;
/// Weight of the newest render in the typical one.
const LEARN: f64 = 0.3;

/// When jobs are looked at while slots are refilled on predictions (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cadence {
    /// The longest wait between looks at a job whose end is not bounded closely.
    pub every: Duration,
    /// A new job's first look, and a finished one's look past its close bound: later once a
    /// start is learned (see [`super::start`]).
    pub first: Duration,
}

/// How far predictions are trusted: each creation sent on one and refused over the cap
/// moves one step down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// Progress taken as rounded down.
    RoundedDown,
    /// Progress taken as off by a step either way.
    EitherWay,
    /// No predictions: a slot is refilled once a poll sees it free.
    Off,
}

/// What a creation sent on a prediction and refused over the cap changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lowered {
    /// Nothing: it was sent before the trust was last lowered.
    Nothing,
    /// Bounds are widened: every close bound made before must be dropped.
    Widened,
    /// No more predictions: slots are refilled on polls.
    Off,
}

/// Whether slots are refilled on predictions, and when jobs are looked at meanwhile.
#[derive(Debug)]
pub(super) struct Refill {
    /// How far predictions are trusted.
    trust: Trust,
    /// How many times the trust was lowered: a creation sent on a prediction carries it.
    lowered: u32,
    /// A typical render, from a creation's send to its job's end, learned from this run's
    /// close bounds.
    typical: Option<Duration>,
    /// When jobs started after their creations, and how long they took.
    starts: Starts,
}

impl Refill {
    pub fn new() -> Self {
        Self {
            trust: Trust::RoundedDown,
            lowered: 0,
            typical: None,
            starts: Starts::default(),
        }
    }

    /// Jobs that hold a slot at `now`: all but those whose webhook said they ended, and
    /// (while predictions are trusted) those whose predicted end is past.
    pub fn holding(&self, rendering: &HashMap<String, Rendering>, now: Instant) -> usize {
        let predicted = self.trust != Trust::Off;
        rendering
            .values()
            .filter(|r| !(r.hinted() || (predicted && free(r, now))))
            .count()
    }

    /// When the next slot frees by prediction, if one is due.
    pub fn next_free(
        &self,
        rendering: &HashMap<String, Rendering>,
        now: Instant,
    ) -> Option<Instant> {
        if self.trust == Trust::Off {
            return None;
        }
        rendering
            .values()
            .filter(|r| r.precise && !free(r, now))
            .filter_map(|r| r.ends_by)
            .map(|t| t + MARGIN)
            .min()
    }

    /// When jobs are looked at while slots are refilled on predictions, once a render's
    /// length is known.
    pub fn cadence(&self, max: Duration) -> Option<Cadence> {
        let typical = self.typical.filter(|_| self.trust != Trust::Off)?;
        let share = |s: f64| typical.mul_f64(s).clamp(SLOT_GAP, max.max(SLOT_GAP));
        let first = (self.start())
            .and_then(|s| s.first_look(typical, max))
            .unwrap_or(typical.mul_f64(FIRST_SHARE));
        Some(Cadence {
            every: share(CADENCE_SHARE),
            first: first.clamp(SLOT_GAP, max.max(SLOT_GAP)),
        })
    }

    /// When a new job starts, if this run's renders agree on it: one look then bounds its
    /// end closely (see [`super::start`]). A lesson, not a bound: the first creation sent on
    /// a prediction and refused over the cap ends it.
    pub fn start(&self) -> Option<Learned> {
        self.starts
            .learned()
            .filter(|_| self.trust == Trust::RoundedDown)
    }

    /// `r` was just looked at: learn from its bound, and (once, if two of its looks told)
    /// when it started.
    pub fn learn(&mut self, r: &mut Rendering) {
        let (Some(sent), Some(end), true) = (r.sent_at, r.ends_by, r.precise) else {
            return;
        };
        let took = end.saturating_duration_since(sent);
        if let (Some((soonest, latest)), Some(made), false, false) =
            (r.started, r.answered_at, r.learned, r.taught)
        {
            // From the answer, not the send: a send may wait for the request rate.
            r.taught = true;
            let after = |t: Instant| t.saturating_duration_since(made);
            let (soonest, latest, render) = (after(soonest), after(latest), after(end));
            tracing::debug!(key = %r.key, ?soonest, ?latest, ?render, "started after its creation");
            self.starts.saw((soonest, latest), render);
        }
        self.typical = Some(match self.typical {
            None => took,
            Some(t) => t.mul_f64(1.0 - LEARN) + took.mul_f64(LEARN),
        });
    }

    /// How far reported progress in `step`s is taken to be off.
    pub fn rounding(&self, step: f64) -> Rounding {
        match self.trust {
            Trust::RoundedDown => Rounding::down(step),
            Trust::EitherWay | Trust::Off => Rounding::either_way(step),
        }
    }

    /// What a creation sent on a prediction carries: how often the trust had been lowered.
    pub fn trusted_as(&self) -> u32 {
        self.lowered
    }

    /// A creation sent on a prediction when the trust was `sent_as` ([`Self::trusted_as`])
    /// was refused over the cap: the first time, bounds are widened; after that, slots are
    /// refilled on polls. One sent before the trust was last lowered changes nothing: its
    /// refusal is the one that lowered it, answered again.
    pub fn refused(&mut self, sent_as: u32) -> Lowered {
        if sent_as != self.lowered || self.trust == Trust::Off {
            return Lowered::Nothing;
        }
        self.lowered += 1;
        let lowered;
        (self.trust, lowered) = match self.trust {
            Trust::RoundedDown => {
                tracing::info!(
                    "a render ended later than its progress said; from now on its progress \
                     is taken as off by a step either way"
                );
                (Trust::EitherWay, Lowered::Widened)
            }
            Trust::EitherWay | Trust::Off => {
                tracing::info!(
                    "a render ended later than its progress said, twice; from now on a slot \
                     is refilled only once a poll sees it free"
                );
                (Trust::Off, Lowered::Off)
            }
        };
        lowered
    }
}

/// Whether `r`'s slot is free at `now` by prediction: its close bound is past.
fn free(r: &Rendering, now: Instant) -> bool {
    r.precise && r.ends_by.is_some_and(|t| t + MARGIN <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(precise: bool, ends_in: Option<Duration>, t0: Instant) -> Rendering {
        let mut r = Rendering::new("k".into(), String::new(), t0, Duration::ZERO, t0).sent(t0);
        r.precise = precise;
        r.ends_by = ends_in.map(|d| t0 + d);
        r
    }

    #[test]
    fn a_slot_frees_at_its_close_bound_plus_the_margin() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut rendering = HashMap::new();
        rendering.insert("a".into(), job(true, Some(10 * s), t0));
        rendering.insert("b".into(), job(false, Some(5 * s), t0));
        rendering.insert("c".into(), job(true, Some(20 * s), t0));
        rendering.insert("d".into(), job(false, None, t0));
        let mut refill = Refill::new();
        assert_eq!(refill.holding(&rendering, t0 + 10 * s), 4);
        assert_eq!(
            refill.holding(&rendering, t0 + 10 * s + MARGIN),
            3,
            "a is past its bound; b's bound is rough, so it holds its slot"
        );
        assert_eq!(refill.next_free(&rendering, t0), Some(t0 + 10 * s + MARGIN));
        assert_eq!(
            refill.next_free(&rendering, t0 + 11 * s),
            Some(t0 + 20 * s + MARGIN)
        );
        assert_eq!(refill.rounding(0.01), Rounding::down(0.01));
        let sent = refill.trusted_as();
        assert_eq!(
            refill.refused(sent),
            Lowered::Widened,
            "the first refusal drops the close bounds"
        );
        assert_eq!(
            refill.refused(sent),
            Lowered::Nothing,
            "a creation sent beside it, on the same trust, is refused with it and says nothing more"
        );
        assert_eq!(refill.rounding(0.01), Rounding::either_way(0.01));
        assert_eq!(
            refill.holding(&rendering, t0 + 30 * s),
            2,
            "after one refusal, close bounds (made with the wider rounding) still free slots"
        );
        assert_eq!(refill.refused(refill.trusted_as()), Lowered::Off);
        assert_eq!(refill.refused(refill.trusted_as()), Lowered::Nothing);
        assert_eq!(
            refill.holding(&rendering, t0 + 30 * s),
            4,
            "after a second refusal only a poll frees a slot"
        );
        assert_eq!(refill.next_free(&rendering, t0), None);
    }

    #[test]
    fn a_job_whose_webhook_said_it_ended_holds_no_slot_whatever_predictions_are_trusted() {
        let t0 = Instant::now();
        let mut rendering = HashMap::new();
        rendering.insert("a".into(), job(false, None, t0));
        let mut hinted = job(false, None, t0);
        hinted.hinted_at = Some(t0);
        rendering.insert("b".into(), hinted);
        let mut refill = Refill::new();
        assert_eq!(refill.holding(&rendering, t0), 1);
        refill.refused(0);
        refill.refused(1);
        assert_eq!(
            refill.holding(&rendering, t0),
            1,
            "predictions off, hints still"
        );
    }

    #[test]
    fn the_cadence_is_a_share_of_a_typical_render() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut refill = Refill::new();
        assert_eq!(refill.cadence(30 * s), None, "no render seen yet");
        refill.learn(&mut job(false, Some(8 * s), t0));
        assert_eq!(
            refill.cadence(30 * s),
            None,
            "a rough bound teaches nothing"
        );
        let every = |r: &Refill| r.cadence(30 * s).map(|c| c.every);
        refill.learn(&mut job(true, Some(10 * s), t0));
        assert_eq!(
            refill.cadence(30 * s),
            Some(Cadence {
                every: 3 * s,
                first: Duration::from_secs_f64(4.5),
            })
        );
        refill.learn(&mut job(true, Some(20 * s), t0));
        assert_eq!(every(&refill), Some(Duration::from_secs_f64(3.9)));
        refill.learn(&mut job(true, Some(1000 * s), t0));
        assert_eq!(every(&refill), Some(30 * s), "at most poll_max");
        refill.refused(0);
        assert_eq!(every(&refill), Some(30 * s));
        refill.refused(1);
        assert_eq!(refill.cadence(30 * s), None);
    }
}
