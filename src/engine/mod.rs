//! The engine: submit, poll and fetch, around one coordinator that owns the run's state.
//!
//! The coordinator is a single task. It starts submission and download tasks, runs poll and
//! reconciliation rounds, and hears back from all of them over one channel, so no state is
//! shared between tasks and every decision is made in one place. Tasks write their own
//! journal changes before they report, so what the coordinator knows is always on disk.
//!
//! Exactly-once (design.md): a row is journaled `submitting` with its reference before the
//! POST; a 201 records the id; a certain "not created" requeues or fails the row; anything
//! ambiguous leaves it `submitting` until a reconciliation round finds its reference in the
//! account's job list (adopt the id) or the reconciliation window passes without it (only then
//! is it sent again, under the same reference, and at most `max_attempts` times a run). A
//! row whose job cannot be looked for (the list keeps failing) is given up at the job
//! deadline, still `submitting`, for the next run to reconcile first.

mod fetch;
pub mod hooks;
mod load;
mod poll;
mod polled;
mod preview;
pub mod reconcile;
pub mod reference;
mod refill;
mod render;
mod render_cap;
mod same_error;
pub mod search;
mod start;
mod submit;
mod submitted;
pub mod sync;
mod unknown;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::ApiClient;
use crate::exit::ExitCode;
use crate::journal::{Journal, JournalError, Row, RowState};
use crate::progress::{Counts, Reporter};

use poll::Rendering;
pub use preview::Mode;
pub use submit::Submitted;

/// How the engine runs, resolved from the config and the flags.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The batch's name (part of every reference).
    pub batch: String,
    /// `<out>/<batch>`.
    pub batch_dir: PathBuf,
    /// Jobs rendering (or being created) at once.
    pub max_in_flight: usize,
    /// `[limits] max_rendering`: the account's render cap, when known (see [`render_cap`]).
    pub max_rendering: Option<usize>,
    /// Creations under way at once (see [`max_submitting`]).
    pub max_submitting: usize,
    /// Downloads at once.
    pub download_concurrency: usize,
    /// Shortest wait between poll rounds.
    pub poll_min: Duration,
    /// Longest wait between poll rounds.
    pub poll_max: Duration,
    /// Ids per poll call (at most 100).
    pub poll_batch: usize,
    /// How long one job may render, counted from its submission or this run's start.
    pub job_deadline: Duration,
    /// How long an ambiguous submission is looked for before it may be sent again.
    pub reconcile_window: Duration,
    /// How far before an attempt its job may say it was created: the request timeout plus
    /// the clock-skew margin. Absence is proven only by reading the list back past it.
    pub search_margin: Duration,
    /// Largest file a download may write.
    pub max_download_bytes: u64,
    /// Attempts for a download, and for a POST refused with a retryable error.
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// The most credits this run may spend (`--max-credits`).
    pub max_credits: Option<f64>,
    /// Stop submitting after this many failures (`--halt-after-failures`).
    pub halt_after: Option<HaltAfter>,
    /// How long every API call may find no server before the run ends (exit 7).
    pub unreachable_window: Duration,
    /// How long creations may be throttled, none getting through, before the run stops
    /// submitting (`[retry] max_throttled_secs`, exit 7).
    pub max_throttled: Duration,
    /// Halt when the first this-many rows meet the same refusal (`[retry] same_error_halt`;
    /// 0: never).
    pub same_error_halt: u32,
    /// Where the files go when not to the batch folder (`--out s3://...`): the batch's
    /// prefix in the bucket.
    pub storage: Option<crate::storage::Remote>,
    /// Final videos, previews (`run --preview`), or renders of approved previews
    /// (`run --render-approved`).
    pub mode: Mode,
    /// What every creation names as its `webhook_url` when this run listens for webhooks
    /// (see [`hooks`]).
    pub webhook_url: Option<String>,
}

/// When to stop submitting because too many rows fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HaltAfter {
    /// After this many failed rows.
    Count(u32),
    /// After this percentage of the batch's rows failed.
    Percent(f64),
}

/// What the run did, for the summary and the exit code.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Rows of this batch by state, at the end.
    pub counts: Counts,
    /// Estimated credits of the rows submitted by this run.
    pub credits_estimated: f64,
    /// Credits the API reports for every job the batch ever created (failed and retried
    /// ones included), from the journal's `jobs` table.
    pub credits_used: f64,
    /// Why submitting stopped early, if it did.
    pub stopped: Option<String>,
    /// Jobs still rendering when their deadline passed.
    pub past_deadline: usize,
    /// Non-download API calls.
    pub api_calls: u64,
    /// Creation POSTs sent.
    pub posts: u64,
    /// 429 answers met.
    pub throttled: u64,
    /// Jobs last seen in a status this client does not know, by status.
    pub unknown_statuses: Vec<(String, usize)>,
    /// Whether submitting stopped because creations were throttled too long.
    pub throttled_stop: bool,
}

/// Why the engine stops submitting.
#[derive(Debug, Clone, PartialEq)]
enum Stop {
    Budget(String),
    Credits(String),
    Halt(String),
    Auth(String),
    /// The API could not be reached for `[api] unreachable_secs` (exit 7).
    Unreachable(String),
    /// Creations were throttled for longer than `[retry] max_throttled_secs` (exit 7).
    Throttled(String),
    Interrupted,
}

impl Stop {
    /// Whether creations still waiting for their slot are withdrawn, unsent: on every stop
    /// but the budget and the account's credits, whose waiting creations were already
    /// counted as fitting, or are refused at no cost.
    fn withdraws_creations(&self) -> bool {
        !matches!(self, Stop::Budget(_) | Stop::Credits(_))
    }
}

/// Messages from tasks to the coordinator.
enum Event {
    Submitted(String, Submitted),
    Polled(Vec<poll::Answer>),
    Reconciled(reconcile::Round),
    Fetched(String, Result<(), String>),
    Journal(JournalError),
    /// A webhook said a job reached `status` (see [`hooks`]).
    Hinted {
        id: String,
        status: crate::api::JobStatus,
    },
    /// The webhook listener stopped, for this reason: no hint can come any more.
    Unhooked(String),
}

/// A row waiting to be sent. Its body stays in the journal until its submission reads it,
/// so a queue of 100k rows costs a key and a few numbers each.
#[derive(Debug, Clone)]
pub struct Pending {
    key: String,
    est_credits: f64,
    /// Attempts in this run that ended without a job: refused with a retryable error, or
    /// unanswered and then not found after the reconciliation window.
    refusals: u32,
    not_before: Option<Instant>,
    /// Sent as a preview (`POST .../preview/`) rather than a final video.
    preview: bool,
    /// Sent into a slot that was free only by its job's predicted end (see [`refill`]), and
    /// how far predictions were trusted then ([`refill::Refill::trusted_as`]).
    on_prediction: Option<u32>,
    /// Sent into a slot that was free only by its job's webhook (see [`hooks`]).
    on_hint: bool,
}

/// A submission whose outcome is not known yet.
struct Unsure {
    reference: String,
    /// When the (first unanswered) attempt under this reference was made, unix seconds.
    attempt_at: f64,
    /// When it may be sent again if the job list proves it absent.
    resend_at: Instant,
    /// When this run stops looking (the job deadline): the row becomes `unknown` and the
    /// next run looks for it first.
    deadline: Instant,
    /// When it is looked for next.
    next_look: Instant,
    /// Searches since `resend_at` that could not prove it either way.
    unproven: u32,
    pending: Pending,
}

impl Unsure {
    fn new(
        reference: String,
        attempt_at: f64,
        resend_at: Instant,
        deadline: Instant,
        pending: Pending,
    ) -> Self {
        // A first look soon after: a creation whose answer was lost is in the list at once.
        let next_look = Instant::now() + Duration::from_secs(2);
        Self {
            reference,
            attempt_at,
            resend_at,
            deadline,
            next_look: next_look.min(resend_at),
            unproven: 0,
            pending,
        }
    }
}

struct Shared {
    cfg: EngineConfig,
    client: Arc<ApiClient>,
    journal: Arc<Journal>,
    events: mpsc::UnboundedSender<Event>,
}

/// Calls that must have found no server within `[api] unreachable_secs` before the run ends
/// (a GET is tried several times, so one poll round can be most of them).
const UNREACHABLE_CALLS: u32 = 3;

/// Runs the batch whose rows are already in `journal` (see [`sync`]); `keys` are the rows of
/// the current sheet. Returns when every row has settled, or submitting stopped and nothing
/// is left in flight, or the run was interrupted.
pub async fn run(
    cfg: EngineConfig,
    keys: Vec<String>,
    client: Arc<ApiClient>,
    journal: Arc<Journal>,
    reporter: &mut dyn Reporter,
    mut interrupt: mpsc::UnboundedReceiver<()>,
    hooks: Option<hooks::Listener>,
) -> Result<(ExitCode, Summary), JournalError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listening = hooks.is_some();
    let heard = hooks.map(|h| h.serve(tx.clone()));
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        client,
        journal: journal.clone(),
        events: tx,
    });
    // Renders are asked for (and unsure ones settled) before the loop, which then polls and
    // downloads them like any job.
    // A signal ends the phase at once: a render cut off is one whose answer was lost, and
    // the journal says `render_requested` for it, so the next run reads its job first.
    let mut interrupted = false;
    let mut unreached = 0;
    if let Mode::Render(approved) = &cfg.mode {
        tokio::select! {
            r = render::phase(&shared, approved) => unreached = r?,
            Some(()) = interrupt.recv() => interrupted = true,
        }
    }
    let mut c = Coordinator::load(shared.clone(), keys)?;
    c.hints = hooks::Hints::new(listening);
    if interrupted {
        tracing::warn!("interrupted while asking for renders; state saved");
        c.stop = Some(Stop::Interrupted);
    } else if unreached > 0 {
        // Exit 7, not 1: nothing was refused, the API was not there to ask.
        c.stop = Some(Stop::Unreachable(format!(
            "the API at {} could not be reached for {unreached} render(s); they stay approved, \
             rerun when it is reachable",
            c.shared.client.base_url()
        )));
    }
    reporter.update(&c.counts());
    let mut last_report = Instant::now();

    loop {
        if c.stop.as_ref().is_none_or(|s| *s != Stop::Interrupted) {
            c.start_submissions();
            c.start_downloads();
        }
        c.start_poll();
        c.start_reconcile().await?;
        if c.finished() {
            break;
        }
        let wake = c.next_wake();
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(Event::Journal(e)) => return Err(e),
                Some(ev) => c.handle(ev).await?,
                None => break,
            },
            Some(()) = interrupt.recv() => {
                tracing::warn!("interrupted: no new submissions; saving state (press Ctrl-C again to quit at once)");
                c.stop = Some(Stop::Interrupted);
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        c.check_reachable();
        c.hints_unheard();
        // After a stop no new POST leaves, not even one already waiting for its slot behind
        // a 429 pause: those come back unsent, their rows `planned`.
        if c.stop.as_ref().is_some_and(Stop::withdraws_creations) {
            c.shared.client.withdraw_creations();
        }
        if last_report.elapsed() >= Duration::from_millis(200) {
            reporter.update(&c.counts());
            last_report = Instant::now();
        }
    }
    reporter.update(&c.counts());
    if let Some(h) = heard {
        h.abort();
    }
    let (code, mut summary) = c.outcome();
    // Every job's credits, failed and retried ones too: the journal's `jobs` table knows
    // jobs this run never saw.
    summary.credits_used = journal.credits_total()?;
    Ok((code, summary))
}

/// What the coordinator keeps of every row of the sheet.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    state: RowState,
    /// Credits the API charged for its job, once known.
    credits_used: Option<f64>,
}

struct Coordinator {
    shared: Arc<Shared>,
    /// Every row of the current sheet.
    rows: HashMap<String, Tracked>,
    queue: VecDeque<Pending>,
    submitting: usize,
    /// `max_in_flight`, or the account's render cap when lower.
    render_cap: render_cap::RenderCap,
    unsure: HashMap<String, Unsure>,
    rendering: HashMap<String, Rendering>,
    /// Done rows to download: (key, job id). The job object is read from the journal.
    downloads: VecDeque<(String, String)>,
    downloading: usize,
    download_failures: HashSet<String>,
    polling: bool,
    /// No poll round before this: the first due job, and at least `poll_min` after the last
    /// round.
    next_poll: Instant,
    reconciling: bool,
    /// Walks of the job list that failed in a row (for their backoff).
    list_failures: u32,
    stop: Option<Stop>,
    failures_this_run: u32,
    committed_credits: f64,
    credits_estimated: f64,
    past_deadline: usize,
    /// Since when creations have been throttled with none getting through.
    throttled_since: Option<Instant>,
    /// The streak of identical refusals at the start of the run.
    same_error: same_error::SameError,
    /// Jobs in a status this client does not know.
    unknown: unknown::UnknownStatuses,
    /// Rows whose job under way is a preview: "made" is judged by `preview`, not `output`.
    previews: HashSet<String>,
    /// Render slots refilled at their jobs' predicted ends.
    refill: refill::Refill,
    /// The step the API's progress moves in, as learned.
    progress_step: poll::ProgressStep,
    /// Whether webhooks are asked for and believed.
    hints: hooks::Hints,
    /// When the last poll round was sent: an answer to it predates any later hint.
    round_started: Instant,
}

impl Coordinator {
    fn counts(&self) -> Counts {
        let mut counts = Counts {
            total: self.rows.len(),
            ..Counts::default()
        };
        for t in self.rows.values() {
            counts.add(t.state);
        }
        counts
    }

    /// Records where `key` stands now.
    fn set_state(&mut self, key: &str, state: RowState) {
        let state = match state {
            RowState::Submitted if self.previews.contains(key) => RowState::Previewing,
            s => s,
        };
        if let Some(t) = self.rows.get_mut(key) {
            t.state = state;
        }
    }

    fn in_flight(&self) -> usize {
        self.submitting + self.unsure.len() + self.rendering.len()
    }

    /// Rows holding one of the account's render slots at `now`: as [`Self::in_flight`], but
    /// once the cap is known, a job past its predicted end holds none (see [`refill`]).
    fn holding_slots(&self, now: Instant) -> usize {
        self.submitting + self.unsure.len() + self.rendering_holding(now)
    }

    /// Jobs rendering that hold a slot at `now` (see [`Self::holding_slots`]).
    fn rendering_holding(&self, now: Instant) -> usize {
        if self.render_cap.known() {
            self.refill.holding(&self.rendering, now)
        } else {
            self.rendering.len() - self.hinted()
        }
    }

    /// Jobs whose webhook said they ended (see [`hooks`]).
    fn hinted(&self) -> usize {
        self.rendering.values().filter(|r| r.hinted()).count()
    }

    /// Whether rows wait to be sent (after a stop, none will be).
    fn rows_wait(&self) -> bool {
        self.stop.is_none() && !self.queue.is_empty()
    }

    /// Whether the jobs rendering are the run's last: no row waits, none is being created or
    /// looked for.
    fn last_jobs(&self) -> bool {
        !self.rows_wait() && self.submitting == 0 && self.unsure.is_empty()
    }

    /// Whether rows wait for a render slot of a known cap, and jobs can be looked at by the
    /// refill's cadence (see [`refill`]).
    fn waiting_for_slots(&self, now: Instant) -> bool {
        self.rows_wait() && self.slots_bind(now)
    }

    /// Whether the known render cap, not the rows left, bounds what renders at `now`, with
    /// few enough jobs rendering for one status call to look at all of them.
    fn slots_bind(&self, now: Instant) -> bool {
        self.render_cap.known()
            && self.rendering.len() <= crate::api::client::MAX_IDS_PER_CALL
            && self.in_flight() + self.queue.len() >= self.render_cap.limit(now)
    }

    fn start_submissions(&mut self) {
        if self.stop.is_some() {
            return;
        }
        let now = Instant::now();
        let probing = self.same_error.cap().unwrap_or(usize::MAX);
        let mut limit = self.render_cap.limit(now);
        let held = self.render_cap.held();
        if limit > held {
            let alone = self.submitting == 0 && self.holding_slots(now) >= held;
            let next_end = self.refill.next_free(&self.rendering, now);
            if !self.render_cap.probe_goes(now, alone, next_end) {
                limit = held;
            }
        }
        let at_once = self.render_cap.submitting(self.shared.cfg.max_submitting);
        while self.holding_slots(now) < limit && self.submitting < at_once.min(probing) {
            let Some(front) = self.queue.front() else {
                return;
            };
            if front.not_before.is_some_and(|t| t > now) {
                return;
            }
            // While no call reaches the server, one creation at a time probes for it: the
            // others would only fail the same way.
            if self.submitting > 0 && self.shared.client.reach.down_for().is_some() {
                return;
            }
            if let Some(cap) = self.shared.cfg.max_credits {
                if self.committed_credits + front.est_credits > cap + 1e-9 {
                    let c = crate::output::words::credits;
                    self.stop = Some(Stop::Budget(format!(
                        "--max-credits {}: {} credits committed, the next row needs {}; raise the limit to let the {} left go",
                        c(cap),
                        c(self.committed_credits),
                        c(front.est_credits),
                        crate::output::words::plural(self.queue.len(), "row", "rows"),
                    )));
                    return;
                }
            }
            // Sent into a slot only a prediction freed (not a probe above the held cap): if
            // it is refused, the prediction was wrong.
            let held = self.render_cap.held();
            let in_flight = self.in_flight();
            let hinted = self.hinted();
            // (While the cap is unknown, `held` is `max_in_flight`, not the account's.)
            let on_hint = self.render_cap.known() && in_flight >= held && in_flight - hinted < held;
            let on_prediction = !on_hint && in_flight >= held && self.holding_slots(now) < held;
            let Some(mut p) = self.queue.pop_front() else {
                return;
            };
            p.on_prediction = on_prediction.then(|| self.refill.trusted_as());
            p.on_hint = on_hint;
            self.committed_credits += p.est_credits;
            self.credits_estimated += p.est_credits;
            self.submitting += 1;
            if p.preview {
                self.previews.insert(p.key.clone());
            }
            self.set_state(&p.key, RowState::Submitting);
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let key = p.key.clone();
                let ev = match submit::submit(&shared, p).await {
                    Ok(s) => Event::Submitted(key, s),
                    Err(e) => Event::Journal(e),
                };
                let _ = shared.events.send(ev);
            });
        }
    }

    fn start_downloads(&mut self) {
        while self.downloading < self.shared.cfg.download_concurrency.max(1) {
            let Some((key, job_id)) = self.downloads.pop_front() else {
                return;
            };
            self.downloading += 1;
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let r = fetch::fetch(&shared, &key, &job_id).await;
                let ev = match r {
                    Err(fetch::FetchError::Journal(e)) => Event::Journal(e),
                    Err(e) => Event::Fetched(key, Err(e.to_string())),
                    Ok(()) => Event::Fetched(key, Ok(())),
                };
                let _ = shared.events.send(ev);
            });
        }
    }

    fn start_poll(&mut self) {
        let now = Instant::now();
        if self.polling || self.rendering.is_empty() || now < self.next_poll {
            return;
        }
        let expired: Vec<String> = self
            .rendering
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(r) = self.rendering.remove(&id) {
                tracing::warn!(key = %r.key, job = %id, "job deadline reached while still rendering; rerun to resume");
                self.past_deadline += 1;
            }
        }
        let ids = poll::pick(&self.rendering, now, self.shared.cfg.poll_batch);
        if ids.is_empty() {
            if let Some(t) = poll::next_due(&self.rendering) {
                self.next_poll = t;
            }
            return;
        }
        tracing::debug!(
            jobs = ids.len(),
            rendering = self.rendering.len(),
            "status round"
        );
        self.polling = true;
        self.round_started = now;
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let answers = poll::poll_round(&shared, ids).await;
            let _ = shared.events.send(Event::Polled(answers));
        });
    }

    fn next_wake(&self) -> Instant {
        let mut t = Instant::now() + Duration::from_secs(1);
        if !self.rendering.is_empty() && !self.polling {
            t = t.min(self.next_poll);
        }
        if let Some(next) = self.next_look().filter(|_| !self.reconciling) {
            t = t.min(next);
        }
        if let Some(nb) = self.queue.front().and_then(|p| p.not_before) {
            t = t.min(nb);
        }
        if let Some(probe) = self
            .render_cap
            .next_probe(Instant::now())
            .filter(|_| !self.queue.is_empty())
        {
            t = t.min(probe);
        }
        // A slot that frees by prediction is refilled at once.
        if let Some(free) = self
            .refill
            .next_free(&self.rendering, Instant::now())
            .filter(|_| !self.queue.is_empty() && self.render_cap.known())
        {
            t = t.min(free);
        }
        t
    }

    fn finished(&self) -> bool {
        let tasks_idle = self.submitting == 0 && !self.polling && !self.reconciling;
        match &self.stop {
            // Polls, listings and downloads change nothing that a rerun can't redo (a partial
            // download resumes), so only submissions in flight are waited for.
            // Unreachable: polls and listings would only fail too; a rerun picks them up.
            Some(Stop::Interrupted) | Some(Stop::Auth(_)) | Some(Stop::Unreachable(_)) => {
                self.submitting == 0
            }
            _ => {
                let nothing_to_send = self.stop.is_some() || self.queue.is_empty();
                tasks_idle
                    && nothing_to_send
                    && self.unsure.is_empty()
                    && self.rendering.is_empty()
                    && self.downloads.is_empty()
                    && self.downloading == 0
            }
        }
    }

    /// Ends the run once no API call has reached the server for `unreachable_window`: rows
    /// would otherwise use up their attempts against an address where nothing listens.
    fn check_reachable(&mut self) {
        if matches!(
            self.stop,
            Some(Stop::Unreachable(_) | Stop::Interrupted | Stop::Auth(_))
        ) {
            return;
        }
        let client = &self.shared.client;
        let Some((down, calls, error)) = client.reach.down_for() else {
            return;
        };
        if down < self.shared.cfg.unreachable_window || calls < UNREACHABLE_CALLS {
            return;
        }
        let message = format!(
            "the API at {} could not be reached for {}s: {error}",
            client.base_url(),
            down.as_secs()
        );
        tracing::error!("{message}; nothing lost; rerun when it is reachable");
        self.stop = Some(Stop::Unreachable(message));
    }

    fn failed_row(&mut self) {
        self.failures_this_run += 1;
        let Some(halt) = self.shared.cfg.halt_after else {
            return;
        };
        let over = match halt {
            HaltAfter::Count(n) => self.failures_this_run >= n,
            HaltAfter::Percent(p) => {
                f64::from(self.failures_this_run) * 100.0 >= p * self.rows.len() as f64
            }
        };
        if over && self.stop.is_none() {
            self.stop = Some(Stop::Halt(format!(
                "--halt-after-failures: {} in this run",
                crate::output::words::plural(
                    self.failures_this_run as usize,
                    "row failed",
                    "rows failed"
                )
            )));
            tracing::warn!("too many failures: no new submissions; finishing what is in flight");
        }
    }

    async fn handle(&mut self, ev: Event) -> Result<(), JournalError> {
        match ev {
            Event::Submitted(key, outcome) => {
                self.submitting -= 1;
                self.on_submitted(key, outcome);
            }
            Event::Polled(answers) => {
                self.polling = false;
                self.on_polled(answers).await?;
            }
            Event::Reconciled(result) => {
                self.reconciling = false;
                self.on_reconciled(result).await?;
            }
            Event::Fetched(key, result) => {
                self.downloading -= 1;
                match result {
                    Ok(()) => {
                        self.set_state(&key, RowState::Downloaded);
                    }
                    Err(e) => {
                        tracing::error!(%key, error = %e, "download failed; rerun to try again");
                        self.download_failures.insert(key);
                    }
                }
            }
            Event::Journal(e) => return Err(e),
            Event::Hinted { id, status } => self.on_hinted(&id, &status),
            Event::Unhooked(why) => self.hooks_down(&why),
        }
        Ok(())
    }

    fn outcome(&self) -> (ExitCode, Summary) {
        let counts = self.counts();
        let client = &self.shared.client;
        let summary = Summary {
            counts: counts.clone(),
            credits_estimated: self.credits_estimated,
            // A fold from +0: an empty `sum()` of floats is -0, printed "-0".
            credits_used: self
                .rows
                .values()
                .filter_map(|t| t.credits_used)
                .fold(0.0, |a, b| a + b),
            stopped: self.stop.as_ref().map(|s| match s {
                Stop::Budget(m)
                | Stop::Credits(m)
                | Stop::Halt(m)
                | Stop::Auth(m)
                | Stop::Unreachable(m)
                | Stop::Throttled(m) => m.clone(),
                Stop::Interrupted => "interrupted".into(),
            }),
            past_deadline: self.past_deadline,
            api_calls: client.counts.api_calls(),
            posts: client
                .counts
                .create
                .load(std::sync::atomic::Ordering::Relaxed),
            throttled: client
                .counts
                .throttled
                .load(std::sync::atomic::Ordering::Relaxed),
            unknown_statuses: self.unknown.at_end(),
            throttled_stop: matches!(self.stop, Some(Stop::Throttled(_))),
        };
        let code = match &self.stop {
            Some(Stop::Auth(_)) => ExitCode::Auth,
            Some(Stop::Interrupted) => ExitCode::Interrupted,
            Some(Stop::Budget(_)) | Some(Stop::Credits(_)) => ExitCode::Budget,
            Some(Stop::Unreachable(_)) | Some(Stop::Throttled(_)) => ExitCode::Unreachable,
            _ if counts.unknown > 0 => ExitCode::Unresolved,
            _ if counts.submitted + counts.submitting + counts.previewing + counts.rendering
                > 0 =>
            {
                ExitCode::Deadline
            }
            _ => self.settled_code(&counts),
        };
        (code, summary)
    }
}

impl Pending {
    fn from_row(row: &Row) -> Self {
        Self {
            key: row.key.clone(),
            est_credits: row.est_credits,
            refusals: 0,
            not_before: None,
            preview: row.stage == crate::journal::Stage::Preview,
            on_prediction: None,
            on_hint: false,
        }
    }
}

/// Creations to keep under way at once: about two seconds' worth at the call rate, plus the
/// burst, at most 256. More would only wait for their slot, holding a connection and a task
/// each, and put the status polls that share the schedule behind a long queue of POSTs.
pub fn max_submitting(requests_per_second: f64, burst: u32) -> usize {
    let n = (requests_per_second * 2.0).ceil() + f64::from(burst);
    n.clamp(1.0, 256.0) as usize
}

fn backoff(cfg: &EngineConfig, attempt: u32) -> Duration {
    let exp = cfg.min_delay.mul_f64(2f64.powi(attempt.min(16) as i32 - 1));
    let capped = exp.min(cfg.max_delay);
    // Full jitter on the upper half keeps retries from many rows apart.
    capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}
