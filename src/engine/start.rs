//! When a new job starts running, learned from this run's renders, so that one look bounds
//! its end.
//!
//! A job's end is bounded closely ([`super::poll::PRECISE_FROM`]) only late in its render or
//! from two looks while it runs. From one early look alone, time spent queued cannot be told
//! from a slow render: the bound takes the job as running since its creation and comes far
//! too late. So while slots are refilled on predictions ([`super::refill`]) each wave of
//! jobs cost two rounds. But two looks at a job also tell when it started running, within a
//! span that reported progress's rounding leaves ([`started`]). Once the jobs so far all
//! started within a span of delays after their creations narrow enough that a bound from a
//! first look at [`LOOK_AT`] is at most [`LATE_MAX`] late ([`Starts`]), a new job is taken
//! to have started no sooner than the least of those delays after its own creation, and is
//! first looked at past the middle of a typical render (unless `max_interval_secs` would
//! hold that look back too early to bound the end closely: [`Learned::first_look`]). That
//! one look bounds its end closely if it is that close at the progress seen and the render
//! it makes is one like those seen (within [`MARGIN`]); a look that does not waits for a
//! second, as before. The delays run from each creation's answer, by which the job existed,
//! not from its send, which may have waited for the request rate (a first wave's sends
//! spread over seconds at 5 requests a second, and delays from them would not agree).
//!
//! A lesson, not a proof: a job that started sooner than the least delay ends after such a
//! bound, and the creation sent into its slot is refused over the cap (nothing created,
//! nothing charged). The first such refusal ends the lesson for the run (see
//! [`super::refill`], which also widens the rounding then).

use std::time::Duration;

use tokio::time::Instant;

use super::poll::{end_bound, Rounding};

/// The most what is unknown of a new job's start may make its bound late.
const LATE_MAX: Duration = Duration::from_millis(500);
/// How far outside the renders seen a bound from a learned start may make a job's.
const MARGIN: f64 = 0.03;
/// The least progress (less what rounding may add) one look bounds an end from.
const FROM: f64 = 0.1;
/// The least progress made between two looks for them to tell when the job started.
const SPAN_FROM: f64 = 0.2;
/// The step progress is taken to move in when a look is only planned (the finest the run
/// allows for: a coarser one is checked when the look is made).
const STEP: f64 = 0.01;
/// How many jobs must have taught a start before a new job's is taken from them.
const SAMPLES: usize = 2;
/// A new job's first look, once a start is learned: when a typical render has done this
/// share of its running. Past the middle, so a late start or a rounded progress moves the
/// bound by less than their own size; before the end, so a render a little slower than
/// typical is still seen running.
const LOOK_AT: f64 = 0.55;

/// The delays from creation to start, and the renders, of the jobs that taught one.
#[derive(Debug, Default)]
pub(super) struct Starts {
    /// How many jobs taught one.
    n: usize,
    /// The delays from a creation's answer to its job's start: the least soonest and the
    /// greatest latest.
    delay: (Duration, Duration),
    /// The shortest and the longest render, from a creation's answer to its job's end.
    render: (Duration, Duration),
}

impl Starts {
    /// A job started from `soonest` to `latest` after its creation's answer, and ends by
    /// `render` after it.
    pub fn saw(&mut self, (soonest, latest): (Duration, Duration), render: Duration) {
        let first = self.n == 0;
        let (lo, hi) = self.delay;
        self.delay = if first {
            (soonest, latest)
        } else {
            (lo.min(soonest), hi.max(latest))
        };
        let (short, long) = self.render;
        self.render = if first {
            (render, render)
        } else {
            (short.min(render), long.max(render))
        };
        self.n += 1;
    }

    /// What they teach, once enough of them started within a span narrow enough for a
    /// first look at [`LOOK_AT`] to bound an end within [`LATE_MAX`].
    pub fn learned(&self) -> Option<Learned> {
        let (soonest, latest) = self.delay;
        let (shortest, longest) = self.render;
        let learned = Learned {
            soonest,
            unknown: latest.saturating_sub(soonest),
            shortest: shortest.mul_f64(1.0 - MARGIN),
            longest: longest.mul_f64(1.0 + MARGIN),
        };
        // A look at LOOK_AT of the shortest render's running, progress a step under.
        let running = shortest
            .saturating_sub(soonest)
            .mul_f64(LOOK_AT)
            .as_secs_f64();
        let late = learned.late(running, LOOK_AT - STEP, Rounding::down(STEP));
        (self.n >= SAMPLES && late <= LATE_MAX).then_some(learned)
    }
}

/// A new job's start, as this run's renders teach it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Learned {
    /// A job starts no sooner than this after its creation's answer...
    soonest: Duration,
    /// ...and at most this much later.
    unknown: Duration,
    /// The renders a bound may make: from the shortest seen, less the margin...
    shortest: Duration,
    /// ...to the longest, plus it.
    longest: Duration,
}

impl Learned {
    /// When a new job is first looked at after its creation's answer, given a `typical`
    /// render and at most `max` on: [`LOOK_AT`] of its expected running, if a look then can
    /// bound its end within [`LATE_MAX`] (one held back to `max` may come too early for
    /// that, and then the lesson is no reason to look later).
    pub fn first_look(&self, typical: Duration, max: Duration) -> Option<Duration> {
        let running = typical.saturating_sub(self.soonest);
        let at = (self.soonest + running.mul_f64(LOOK_AT)).min(max);
        let ran = at.saturating_sub(self.soonest).as_secs_f64();
        let done = ran / running.as_secs_f64();
        let late = self.late(ran, done - STEP, Rounding::down(STEP));
        (done > STEP && late <= LATE_MAX).then_some(at)
    }

    /// How late a bound from a look at reported progress `p` (off by up to `rounding`),
    /// `ran` seconds after the soonest start, may come: the bound takes the soonest start
    /// and the least progress; the job may have started `unknown` later and done a step
    /// more, and then ends that much sooner.
    fn late(&self, ran: f64, p: f64, rounding: Rounding) -> Duration {
        let Rounding { under, over } = rounding;
        let (least, most) = (p - over, p + under);
        if least <= 0.0 {
            return Duration::MAX;
        }
        let bound = (1.0 - least) * ran / least;
        let soonest = ((1.0 - most) * (ran - self.unknown.as_secs_f64()) / most).max(0.0);
        Duration::from_secs_f64((bound - soonest).clamp(0.0, 1e6))
    }

    /// How long from `now` a job whose creation was answered at `made`, at progress `p` now (off
    /// by up to `rounding`), ends by, if it started no sooner than learned (nor than
    /// `not_running_at`): when that is close and the render it makes is one like those seen.
    pub fn bound(
        &self,
        now: Instant,
        p: f64,
        rounding: Rounding,
        made: Instant,
        not_running_at: Option<Instant>,
    ) -> Option<Duration> {
        if p - rounding.over < FROM {
            return None;
        }
        let soonest = made + self.soonest;
        let idle = not_running_at.map_or(soonest, |t| t.max(soonest));
        let ran = now.saturating_duration_since(idle).as_secs_f64();
        if self.late(ran, p, rounding) > LATE_MAX {
            return None;
        }
        let left = end_bound(now, p, rounding, Some(idle), None)?;
        let render = (now + left).saturating_duration_since(made);
        (self.shortest..=self.longest)
            .contains(&render)
            .then_some(left)
    }
}

/// When a job seen at progress `p0` by a round asked at `t0`, then at `p` by one asked at
/// `asked` and handled at `now`, started running: from the soonest to the latest, if
/// progress rises at a steady rate (each value off by up to `rounding`) and enough of it
/// was made between the two looks to tell.
pub(super) fn started(
    (t0, p0): (Instant, f64),
    asked: Instant,
    now: Instant,
    p: f64,
    rounding: Rounding,
) -> Option<(Instant, Instant)> {
    let Rounding { under, over } = rounding;
    // Soonest: the most progress made before the first look, the least between the looks
    // over the longest time.
    let between = p - over - (p0 + under);
    if between < SPAN_FROM || t0 >= asked {
        return None;
    }
    let secs = |d: f64| Duration::from_secs_f64(d.clamp(0.0, 1e6));
    let longest = now.duration_since(t0).as_secs_f64();
    let soonest = t0.checked_sub(secs((p0 + under) * longest / between))?;
    // Latest: the least before, the most between, over the shortest time.
    let shortest = asked.duration_since(t0).as_secs_f64();
    let before = (p0 - over).max(0.0);
    let latest = t0.checked_sub(secs(before * shortest / (p + under - before)))?;
    Some((soonest, latest.max(soonest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn two_looks_tell_when_a_job_started() {
        let t0 = Instant::now() + 100 * S;
        // Queued 2.5 s, then 10 % a second, progress rounded down to hundredths.
        let down = Rounding::down(0.01);
        let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
        let (soonest, latest) =
            started((at(4.5), 0.2), at(7.5), at(7.5), 0.5, down).expect("enough progress");
        assert!(
            soonest <= at(2.5) && at(2.5) <= latest,
            "the start is in the span"
        );
        assert!(
            at(2.3) < soonest && latest < at(2.6),
            "{soonest:?}..{latest:?}"
        );
        assert_eq!(
            started((at(4.5), 0.2), at(5.5), at(5.5), 0.3, down),
            None,
            "too little progress between the looks to tell"
        );
    }

    #[test]
    fn a_start_is_taken_only_from_delays_known_closely() {
        let ms = Duration::from_millis;
        let mut starts = Starts::default();
        starts.saw((ms(2300), ms(2600)), 10 * S);
        assert_eq!(starts.learned(), None, "one job teaches nothing yet");
        starts.saw((ms(2400), ms(2700)), 10 * S);
        let learned = starts.learned().expect("two close spans");
        assert_eq!((learned.soonest, learned.unknown), (ms(2300), ms(400)));
        starts.saw((ms(2800), ms(3100)), 12 * S);
        assert_eq!(
            starts.learned(),
            None,
            "delays from 2.3 s to 3.1 s would make a first look's bound 0.8 s late"
        );
        let mut wide = Starts::default();
        wide.saw((ms(1000), ms(2000)), 10 * S);
        wide.saw((ms(1000), ms(2000)), 10 * S);
        assert_eq!(
            wide.learned(),
            None,
            "a start known within 1 s would make a first look's bound 1 s late"
        );
        let mut long = Starts::default();
        long.saw((15 * S, ms(15_050)), 60 * S);
        long.saw((15 * S, ms(15_050)), 60 * S);
        assert_eq!(
            long.learned(),
            None,
            "of 45 s running, progress in hundredths leaves a look at 0.55 0.9 s late"
        );
    }

    #[test]
    fn one_look_bounds_a_render_like_those_seen() {
        let t0 = Instant::now() + 100 * S;
        let mut starts = Starts::default();
        let ms = Duration::from_millis;
        starts.saw((ms(2400), ms(2550)), 10 * S);
        starts.saw((ms(2450), ms(2550)), 10 * S);
        let learned = starts.learned().expect("agreed");
        let down = Rounding::down(0.01);
        // Queued 2.5 s, then 7.5 s running: at 6.5 s, 53.3 % done, reported 0.53.
        let now = t0 + Duration::from_secs_f64(6.5);
        let left = learned
            .bound(now, 0.53, down, t0, Some(t0))
            .expect("a render like those");
        let end = (now + left - t0).as_secs_f64();
        assert!((10.0..10.2).contains(&end), "late, and close: {end}");
        assert_eq!(
            learned.bound(now, 0.3, down, t0, Some(t0)),
            None,
            "slower than any seen, and too early to bound closely: a second look tells"
        );
        assert_eq!(
            learned.bound(t0 + S, 0.05, down, t0, Some(t0)),
            None,
            "too little progress to bound from"
        );
        let first = learned
            .first_look(10 * S, 30 * S)
            .expect("a look that bounds");
        assert!((6.5..6.7).contains(&first.as_secs_f64()), "{first:?}");
        let long = Learned {
            soonest: 15 * S,
            unknown: ms(300),
            shortest: 59 * S,
            longest: 61 * S,
        };
        assert_eq!(
            long.first_look(60 * S, 30 * S),
            None,
            "held back to 30 s of a 60 s render, a look at 0.33 would be 2 s late"
        );
    }
}
