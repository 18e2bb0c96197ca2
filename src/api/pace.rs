//! The pace of every API call of a run: one schedule of send slots (GCRA: a rate plus a
//! burst), one shared pause after a 429 that no slot may cross, and a rate that finds the
//! account's limit when the configured one is too high.
//!
//! Written here rather than taken from `governor` (which the sandbox uses to *enforce* a
//! limit) because a client that must sit just under an unknown limit needs three things a
//! fixed quota does not give: the rate drops after a 429 and climbs back while calls go
//! through; slots handed out before a pause are withdrawn (otherwise every call that waited
//! during the pause leaves at once when it ends, meets an empty bucket and is refused again,
//! which locks a run at half its limit); and waiters book slots in turn instead of all waking
//! to race for each one.
//!
//! - **Slots**: each call books the next slot: no earlier than the pause's end, no earlier
//!   than the GCRA allows. It then sleeps until its slot. A pause or a rate change withdraws
//!   every booked slot (waiters are woken and book again).
//! - **Status calls go first** ([`Priority::Status`]): one arriving behind booked creations
//!   takes the first slot and the creations book again behind it. A status poll finds
//!   finished work; a creation only adds more, and a backlog of them must not delay it.
//! - **Half the burst is kept in reserve** (rounded down): calls reach the API closer
//!   together than they left (a call on a fresh connection is slower than the next one on a
//!   reused connection; a loaded machine stalls a call, then sends the next on time), and a
//!   schedule that used the whole burst would meet a limiter set to the same rate and burst
//!   with no slack at all. One slot of slack (as before 2026-12-02) met a 429 at the very
//!   limit in 3 of 5 bench runs; the half costs a few slots at the start of a run.
//! - **429 from the rate limit**: the pause is `Retry-After`. The first 429 among the calls
//!   sent at the current rate cuts it by a fifth (by half when the last cut did not last
//!   [`QUICK`] past its pause), the rate those calls went out at being too high; the 429s of
//!   calls already in flight at the old rate do not cut it again. After a pause no burst is
//!   sent: slots restart one period apart.
//! - **Far over the limit** (a rate configured at 100× what the account allows), halving
//!   alone takes many pauses, each with a wave of refusals. So a quick cut also weighs the
//!   evidence: the calls answered since the pause began, over the pause plus the time since,
//!   are at most what the account allowed in that time, a floor for its rate; the rate that
//!   just failed is a ceiling. The cut goes to their geometric mean when that is below half:
//!   from 200/s against a 2/s limit, it lands near 2/s in two cuts, not seven.
//! - **Climbing back**: after [`RAISE_AFTER`] without a 429, the rate grows by [`RAISE`], up
//!   to the configured one, so a limit that was lowered for a while is found again.
//! - A 429 that is not about the rate (the account's render cap) pauses without cutting.
//! - **No `Retry-After`** (or one that cannot be read, or a date already past): the pause
//!   is a backoff that doubles with each 429 in a row, from [`BACKOFF_FIRST`] up to the
//!   longest `Retry-After` obeyed, with jitter on its upper half; any answered call resets
//!   it. Only the first 429 of such a row cuts the rate: the next ones say the guessed pause
//!   was too short, not the rate too high. When a call is answered after a row of them, the
//!   account granted one call in all that time (at most twice its period, the guesses
//!   doubling): the rate goes no higher than two calls in that time, and climbs back from
//!   there when calm. (A flat one-second pause against an account that
//!   allows one call every few seconds meets a 429 at every restart, and each one cut the
//!   rate again, down to [`MIN_RATE`]: one call every 20 s.)
//! - **Withdrawing creations** ([`Pacer::withdraw_creations`]): when the run stops (Ctrl-C,
//!   refused credentials, creations throttled too long), every creation still waiting for
//!   its slot, and every later one, is turned away at once, unsent. Only status calls go on.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A cut that fails this soon after its pause ended was not deep enough: halve next time.
const QUICK: Duration = Duration::from_secs(2);
/// Calls without a 429 before the rate climbs a step.
const RAISE_AFTER: Duration = Duration::from_secs(5);
/// One climbing step.
const RAISE: f64 = 1.05;
/// The slowest the pacer goes on its own, calls per second.
const MIN_RATE: f64 = 0.05;
/// The first pause after a 429 without a usable `Retry-After`.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);

/// Paces the calls of one client. Cheap to share (behind the client's `Arc`).
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Notify,
    max_rate: f64,
    burst: u32,
    /// The longest backoff pause (the longest `Retry-After` obeyed).
    backoff_max: Duration,
    /// [`QUICK`] and [`RAISE_AFTER`] (shorter in tests).
    quick: Duration,
    raise_after: Duration,
}

#[derive(Debug)]
struct State {
    /// Calls per second now.
    rate: f64,
    /// GCRA's theoretical arrival time: when the next call would go if every call so far,
    /// booked ones included, had gone exactly one period after the one before.
    tat: Instant,
    /// The same, counting only the calls that went: where booking starts over when the
    /// booked slots are withdrawn.
    sent: Instant,
    /// No call leaves before this.
    paused_until: Instant,
    /// Bumped whenever booked slots stop being valid (a pause, a cut).
    schedule: u64,
    /// Bumped at each cut.
    epoch: u64,
    /// When the last cut's pause ended, while no later cut happened.
    cut_resumed_at: Option<Instant>,
    /// The last 429 or climbing step.
    calm_since: Instant,
    /// Calls of the current epoch answered without a 429.
    answered: u64,
    /// The `Retry-After` of the last cut.
    cut_pause: Duration,
    /// 429s in a row without an answered call in between: the backoff's exponent.
    strikes: u32,
    /// When the current row of 429s without `Retry-After` began (its first one).
    guessing_since: Option<Instant>,
    /// Creations are turned away unsent.
    withdrawn: bool,
}

/// Which calls go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Status calls (polls, listings, credits): ahead of every booked creation.
    Status,
    /// Creations: in turn.
    Create,
}

/// Proof that a call was admitted, and at which rate: hand it back with a 429.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
}

impl Pacer {
    /// Calls sent at once from a full burst: the other half is kept for arrivals that come
    /// closer together than they left.
    fn sent_at_once(&self) -> u32 {
        self.burst.div_ceil(2)
    }

    /// `rate` calls per second at most, `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        let now = Instant::now();
        let rate = rate.max(MIN_RATE);
        Self {
            state: Mutex::new(State {
                rate,
                tat: now,
                sent: now,
                paused_until: now,
                schedule: 0,
                epoch: 0,
                cut_resumed_at: None,
                calm_since: now,
                answered: 0,
                cut_pause: Duration::ZERO,
                strikes: 0,
                guessing_since: None,
                withdrawn: false,
            }),
            changed: Notify::new(),
            max_rate: rate,
            burst: burst.max(1),
            backoff_max: Duration::from_secs(60),
            quick: QUICK,
            raise_after: RAISE_AFTER,
        }
    }

    /// The longest pause a 429 without `Retry-After` may lead to (default 60 s).
    pub fn with_backoff_max(mut self, max: Duration) -> Self {
        self.backoff_max = max.max(BACKOFF_FIRST);
        self
    }

    /// Turns away every creation waiting for its slot, and every later one: their
    /// [`Pacer::admit`] returns `None` and they must not be sent. For a run that stops.
    pub fn withdraw_creations(&self) {
        let mut s = self.state();
        if s.withdrawn {
            return;
        }
        s.withdrawn = true;
        drop(s);
        self.changed.notify_waiters();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent; a panic elsewhere can't corrupt it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate calls go at now, per second.
    pub fn rate(&self) -> f64 {
        self.state().rate
    }

    /// Waits for this call's slot; `None` for a creation withdrawn meanwhile (not to be
    /// sent). Status calls are never withdrawn.
    pub async fn admit(&self, priority: Priority) -> Option<Ticket> {
        loop {
            if priority == Priority::Create && self.state().withdrawn {
                return None;
            }
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before booking, so a change right after it is not missed.
            changed.as_mut().enable();
            let (at, schedule, jumped) = self.book(priority);
            if jumped {
                // Our own jump woke the future above; listen afresh for later changes (one
                // missed in between is caught by the schedule check at our slot).
                changed.set(self.changed.notified());
                changed.as_mut().enable();
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => {
                    let mut s = self.state();
                    if priority == Priority::Create && s.withdrawn {
                        return None;
                    }
                    if s.schedule == schedule && s.paused_until <= Instant::now() {
                        let period = Duration::from_secs_f64(1.0 / s.rate);
                        s.sent = s.sent.max(at) + period;
                        return Some(Ticket { epoch: s.epoch });
                    }
                }
                () = &mut changed => {}
            }
        }
    }

    fn book(&self, priority: Priority) -> (Instant, u64, bool) {
        let mut s = self.state();
        let now = Instant::now();
        let jump = priority == Priority::Status && s.tat > s.sent.max(now);
        if jump {
            // Slots are booked ahead of this status call: withdraw them, take the first.
            s.schedule += 1;
            s.tat = s.sent;
        }
        if s.rate < self.max_rate
            && now >= s.paused_until
            && now.duration_since(s.calm_since) >= self.raise_after
        {
            s.rate = (s.rate * RAISE).min(self.max_rate);
            s.calm_since = now;
        }
        let period = Duration::from_secs_f64(1.0 / s.rate);
        let tolerance = period * self.sent_at_once().saturating_sub(1);
        let earliest = now.max(s.paused_until);
        let at = earliest.max(s.tat.checked_sub(tolerance).unwrap_or(earliest));
        s.tat = s.tat.max(at) + period;
        let schedule = s.schedule;
        drop(s);
        if jump {
            self.changed.notify_waiters();
        }
        (at, schedule, jump)
    }

    /// A call admitted with `ticket` was answered (anything but a 429).
    pub fn answered(&self, ticket: Ticket) {
        let mut s = self.state();
        if let (true, Some(since)) = (s.strikes >= 2, s.guessing_since) {
            // After a row of 429s that named no pause, the account let this call through
            // only after all of it. Its period is at least half of that (each guess doubles
            // the last, so the row overshoots by at most 2x): go no faster than that.
            let waited = since.elapsed().as_secs_f64().max(1e-3);
            s.rate = s.rate.min(2.0 / waited).max(MIN_RATE);
        }
        s.strikes = 0;
        s.guessing_since = None;
        if ticket.epoch == s.epoch {
            s.answered += 1;
        }
    }

    /// A call admitted with `ticket` got a 429 asking to wait `retry_after` (`None`: it did
    /// not say; a backoff is used); `rate_limited` when it is about the call rate (not, say,
    /// the account's render cap). Returns the pause every call now waits.
    pub fn throttled(
        &self,
        ticket: Ticket,
        retry_after: Option<Duration>,
        rate_limited: bool,
    ) -> Duration {
        let mut s = self.state();
        let now = Instant::now();
        s.strikes = s.strikes.saturating_add(1);
        let given = retry_after.filter(|d| !d.is_zero());
        // A 429 right after a pause the API did not name proves the pause was too short,
        // not the rate too high: the backoff grows, the rate is left alone.
        let judged = given.is_some() || s.strikes == 1;
        if given.is_none() {
            s.guessing_since.get_or_insert(now);
        }
        let retry_after = given.unwrap_or_else(|| self.backoff(s.strikes));
        let mut replan = false;
        let until = now + retry_after;
        if until > s.paused_until {
            s.paused_until = until;
            replan = true;
        }
        if rate_limited && judged && ticket.epoch == s.epoch {
            let quick = s
                .cut_resumed_at
                .is_some_and(|t| now.saturating_duration_since(t) < self.quick);
            let mut rate = s.rate * if quick { 0.5 } else { 0.8 };
            if let (true, Some(resumed)) = (quick, s.cut_resumed_at) {
                // Answered since the pause began: at most what the account allowed then.
                let window = s.cut_pause + now.saturating_duration_since(resumed);
                // One call at least: `Retry-After` promised one when the pause ends.
                let floor = s.answered.max(1) as f64 / window.as_secs_f64().max(1e-3);
                rate = rate.min((floor * s.rate).sqrt());
            }
            s.rate = rate.max(MIN_RATE);
            s.epoch += 1;
            s.answered = 0;
            s.cut_pause = retry_after;
            s.cut_resumed_at = Some(s.paused_until);
            s.calm_since = s.paused_until;
            replan = true;
            tracing::info!(
                // Calls per second, to two decimals: `2.8224000000000005` reads as noise.
                rate = (s.rate * 100.0).round() / 100.0,
                "the API refused a call at the current rate (429); slowing down"
            );
        } else if rate_limited {
            s.calm_since = s.calm_since.max(s.paused_until);
        }
        if replan {
            // Withdraw every booked slot; restart one period apart after the pause, with no
            // burst into an API that just refused.
            s.schedule += 1;
            let period = Duration::from_secs_f64(1.0 / s.rate);
            s.tat = s.paused_until + period * self.sent_at_once().saturating_sub(1);
            s.sent = s.tat;
            drop(s);
            self.changed.notify_waiters();
        }
        retry_after
    }

    /// The pause after the `strikes`-th 429 in a row that named none: doubling, capped,
    /// with jitter on its upper half so that several clients do not come back together.
    fn backoff(&self, strikes: u32) -> Duration {
        let doubled = BACKOFF_FIRST.mul_f64(2f64.powi(strikes.clamp(1, 20) as i32 - 1));
        doubled
            .min(self.backoff_max)
            .mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Slots `n` calls would get, booked back to back (no sleeping), from now.
    fn slots(p: &Pacer, n: usize) -> Vec<Duration> {
        let t0 = Instant::now();
        (0..n)
            .map(|_| p.book(Priority::Create).0.saturating_duration_since(t0))
            .collect()
    }

    fn near(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < 5 * MS
    }

    #[tokio::test]
    async fn half_a_burst_then_one_slot_per_period() {
        // A burst of 5: three at once, two kept in reserve.
        let p = Pacer::new(10.0, 5);
        let s = slots(&p, 5);
        assert!(
            near(s[0], Duration::ZERO) && near(s[2], Duration::ZERO),
            "{s:?}"
        );
        assert!(near(s[3], 100 * MS) && near(s[4], 200 * MS), "{s:?}");
    }

    #[tokio::test]
    async fn a_429_pauses_cuts_once_and_restarts_without_a_burst() {
        let p = Pacer::new(10.0, 5);
        let before = p.admit(Priority::Create).await.unwrap();
        let late = p.admit(Priority::Create).await.unwrap();
        p.throttled(before, Some(300 * MS), true);
        assert!((p.rate() - 8.0).abs() < 1e-9);
        // A call sent at the old rate: no second cut.
        p.throttled(late, Some(300 * MS), true);
        assert!((p.rate() - 8.0).abs() < 1e-9);
        let s = slots(&p, 3);
        assert!(s[0] >= 290 * MS, "{s:?}");
        assert!(
            near(s[1] - s[0], 125 * MS) && near(s[2] - s[1], 125 * MS),
            "{s:?}"
        );
    }

    #[tokio::test]
    async fn a_cut_that_fails_at_once_halves_and_a_calm_rate_climbs_back() {
        let mut p = Pacer::new(100.0, 1);
        p.quick = 200 * MS;
        p.raise_after = 100 * MS;
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, Some(20 * MS), true);
        assert!((p.rate() - 80.0).abs() < 1e-9, "{}", p.rate());
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, Some(20 * MS), true);
        assert!((p.rate() - 40.0).abs() < 1e-9, "{}", p.rate());
        tokio::time::sleep(150 * MS).await;
        p.admit(Priority::Create).await.unwrap();
        assert!((p.rate() - 42.0).abs() < 1e-9, "{}", p.rate());
    }

    #[tokio::test]
    async fn far_over_the_limit_a_quick_cut_goes_by_what_was_answered() {
        let p = Pacer::new(200.0, 1);
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, Some(100 * MS), true);
        assert!((p.rate() - 160.0).abs() < 1e-9, "{}", p.rate());
        // After the pause, one call is answered and the next, 6 ms later, refused: the
        // account allowed about one call in 106 ms (~9/s), not the 80/s halving would try.
        let t = p.admit(Priority::Create).await.unwrap();
        p.answered(t);
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, Some(100 * MS), true);
        let want = (160.0_f64 * 1.0 / 0.106).sqrt();
        assert!(
            (p.rate() - want).abs() < 4.0,
            "{} (want about {want})",
            p.rate()
        );
    }

    #[tokio::test]
    async fn a_render_cap_429_pauses_without_slowing_down() {
        let p = Pacer::new(10.0, 1);
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, Some(300 * MS), false);
        assert!((p.rate() - 10.0).abs() < 1e-9);
        let started = Instant::now();
        p.admit(Priority::Create).await.unwrap();
        assert!(started.elapsed() >= 290 * MS);
    }

    #[tokio::test]
    async fn slots_booked_before_a_pause_are_withdrawn() {
        let p = std::sync::Arc::new(Pacer::new(10.0, 1));
        let first = p.admit(Priority::Create).await.unwrap();
        let t0 = Instant::now();
        // Books the slot 100 ms from now, then sleeps.
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move {
                p.admit(Priority::Create).await.unwrap();
                Instant::now()
            })
        };
        tokio::time::sleep(10 * MS).await;
        p.throttled(first, Some(300 * MS), false);
        let sent = waiter.await.unwrap();
        assert!(sent.duration_since(t0) >= 300 * MS);
    }

    #[tokio::test]
    async fn a_status_call_goes_before_booked_creations() {
        let p = std::sync::Arc::new(Pacer::new(10.0, 1));
        p.admit(Priority::Create).await.unwrap();
        let t0 = Instant::now();
        let creations: Vec<_> = (0..3)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move {
                    p.admit(Priority::Create).await.unwrap();
                    Instant::now()
                })
            })
            .collect();
        tokio::time::sleep(20 * MS).await;
        p.admit(Priority::Status).await.unwrap();
        let status = t0.elapsed();
        assert!(status < 150 * MS, "{status:?}");
        let mut sent = Vec::new();
        for c in creations {
            sent.push(c.await.unwrap().duration_since(t0));
        }
        sent.sort();
        // The creations go after it, still one period apart.
        assert!(sent[0] >= 190 * MS && sent[2] >= 390 * MS, "{sent:?}");
    }

    #[tokio::test]
    async fn withdrawn_creations_return_unsent_at_once_and_status_calls_go_on() {
        let p = std::sync::Arc::new(Pacer::new(10.0, 1));
        let first = p.admit(Priority::Create).await.unwrap();
        // A long pause: the waiters below would sit behind it for a minute.
        p.throttled(first, Some(Duration::from_secs(60)), false);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { p.admit(Priority::Create).await.is_some() })
            })
            .collect();
        tokio::time::sleep(20 * MS).await;
        let t0 = Instant::now();
        p.withdraw_creations();
        for w in waiters {
            assert!(!w.await.unwrap(), "a withdrawn creation was admitted");
        }
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(p.admit(Priority::Create).await.is_none());
        let fresh = Pacer::new(10.0, 1);
        fresh.withdraw_creations();
        assert!(fresh.admit(Priority::Status).await.is_some());
    }

    #[tokio::test]
    async fn a_429_without_retry_after_backs_off_doubling_until_a_call_is_answered() {
        let p = Pacer::new(1000.0, 1).with_backoff_max(Duration::from_secs(10));
        let pauses: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Ticket {
                    epoch: p.state().epoch,
                };
                p.throttled(t, None, true)
            })
            .collect();
        for (i, pause) in pauses.iter().enumerate() {
            let full = Duration::from_secs(1 << i).min(Duration::from_secs(10));
            assert!(*pause >= full / 2 && *pause <= full, "{i}: {pauses:?}");
        }
        // Cut once, by the first of them; the others only lengthened the pause.
        assert!((p.rate() - 800.0).abs() < 1e-9, "{}", p.rate());
        let t = Ticket {
            epoch: p.state().epoch,
        };
        p.answered(t);
        let t = Ticket {
            epoch: p.state().epoch,
        };
        assert!(p.throttled(t, None, true) <= Duration::from_secs(1));
        // A Retry-After that was given is obeyed as it is.
        let t = Ticket {
            epoch: p.state().epoch,
        };
        assert_eq!(p.throttled(t, Some(3 * MS), true), 3 * MS);
    }

    #[tokio::test]
    async fn a_call_answered_after_a_row_of_guessed_pauses_caps_the_rate_by_that_row() {
        let p = Pacer::new(100.0, 1);
        let t = p.admit(Priority::Create).await.unwrap();
        p.throttled(t, None, true);
        let t = Ticket {
            epoch: p.state().epoch,
        };
        p.throttled(t, None, true);
        tokio::time::sleep(200 * MS).await;
        let t = Ticket {
            epoch: p.state().epoch,
        };
        p.answered(t);
        // One call let through after about 200 ms: at most ~10 a second from now on.
        assert!(p.rate() <= 10.0 + 1e-9, "{}", p.rate());
        assert!(p.rate() >= 6.0, "{}", p.rate());
    }
}
