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
mod poll;
pub mod reference;
mod submit;
pub mod sync;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::{ApiClient, ApiError, ErrorClass, Job};
use crate::exit::ExitCode;
use crate::journal::{Change, Journal, JournalError, Row, RowState};
use crate::progress::{Counts, Reporter};

use poll::Rendering;
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
    /// Credits the API reports for the batch's jobs.
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
}

/// Why the engine stops submitting.
#[derive(Debug, Clone, PartialEq)]
enum Stop {
    Budget(String),
    Credits(String),
    Halt(String),
    Auth(String),
    Interrupted,
}

/// Messages from tasks to the coordinator.
enum Event {
    Submitted(String, Submitted),
    Polled(Vec<poll::Answer>),
    Reconciled(Result<Vec<Job>, crate::api::ApiError>),
    Fetched(String, Result<(), String>),
    Journal(JournalError),
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
}

/// A submission whose outcome is not known yet.
struct Unsure {
    reference: String,
    /// When it may be sent again if it is not found.
    resend_at: Instant,
    /// When this run stops looking (the job deadline): the row stays `submitting` and the
    /// next run reconciles it first.
    deadline: Instant,
    pending: Pending,
}

struct Shared {
    cfg: EngineConfig,
    client: Arc<ApiClient>,
    journal: Arc<Journal>,
    events: mpsc::UnboundedSender<Event>,
}

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
) -> Result<(ExitCode, Summary), JournalError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        client,
        journal: journal.clone(),
        events: tx,
    });
    let mut c = Coordinator::load(shared.clone(), keys)?;
    reporter.update(&c.counts());
    let mut last_report = Instant::now();

    loop {
        if c.stop.as_ref().is_none_or(|s| *s != Stop::Interrupted) {
            c.start_submissions();
            c.start_downloads();
        }
        c.start_poll();
        c.start_reconcile();
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
        if last_report.elapsed() >= Duration::from_millis(200) {
            reporter.update(&c.counts());
            last_report = Instant::now();
        }
    }
    reporter.update(&c.counts());
    Ok(c.outcome())
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
    /// `max_in_flight`, lowered while the account's own render cap is lower.
    in_flight_cap: usize,
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
    next_reconcile: Instant,
    stop: Option<Stop>,
    failures_this_run: u32,
    committed_credits: f64,
    credits_estimated: f64,
    past_deadline: usize,
}

impl Coordinator {
    fn load(shared: Arc<Shared>, keys: Vec<String>) -> Result<Self, JournalError> {
        let cfg = &shared.cfg;
        let now = Instant::now();
        let wall = crate::journal::unix_now();
        let planned = Tracked {
            state: RowState::Planned,
            credits_used: None,
        };
        let mut c = Coordinator {
            rows: keys.into_iter().map(|k| (k, planned)).collect(),
            queue: VecDeque::new(),
            submitting: 0,
            in_flight_cap: cfg.max_in_flight.max(1),
            unsure: HashMap::new(),
            rendering: HashMap::new(),
            downloads: VecDeque::new(),
            downloading: 0,
            download_failures: HashSet::new(),
            polling: false,
            next_poll: now,
            reconciling: false,
            next_reconcile: now,
            stop: None,
            failures_this_run: 0,
            committed_credits: 0.0,
            credits_estimated: 0.0,
            past_deadline: 0,
            shared: shared.clone(),
        };
        // One pass over the journal, without bodies and job objects (read when needed).
        shared.journal.for_each_row(|row| {
            let Some(t) = c.rows.get_mut(&row.key) else {
                return Ok::<_, JournalError>(());
            };
            t.state = row.state;
            t.credits_used = row.credits_used;
            match row.state {
                RowState::Planned => c.queue.push_back(Pending::from_row(&row)),
                RowState::Submitting => {
                    // Never re-POST blindly: look for it first. It may be sent again only
                    // once the window has passed since its last attempt.
                    let since = row.ambiguous_since.unwrap_or(row.updated_at);
                    let left = (since + cfg.reconcile_window.as_secs_f64() - wall).max(0.0);
                    c.unsure.insert(
                        row.key.clone(),
                        Unsure {
                            reference: row.reference.clone().unwrap_or_default(),
                            resend_at: now + Duration::from_secs_f64(left),
                            deadline: now + cfg.job_deadline,
                            pending: Pending::from_row(&row),
                        },
                    );
                }
                RowState::Submitted => {
                    if let Some(id) = &row.job_id {
                        c.rendering.insert(
                            id.clone(),
                            Rendering::new(
                                row.key.clone(),
                                row.api_status.clone().unwrap_or_default(),
                                now + cfg.job_deadline,
                                Duration::ZERO,
                                now,
                            ),
                        );
                    }
                }
                RowState::Done => {
                    if let Some(id) = row.job_id {
                        c.downloads.push_back((row.key, id));
                    }
                }
                RowState::Downloaded => {
                    // Rows whose files are gone or the wrong size are fetched again.
                    let intact = |f: &Option<crate::journal::FileRecord>| {
                        f.as_ref().is_none_or(|f| {
                            std::fs::symlink_metadata(cfg.batch_dir.join(&f.path))
                                .is_ok_and(|m| m.is_file() && m.len() == f.bytes)
                        })
                    };
                    if !(intact(&row.video) && intact(&row.thumbnail)) {
                        if let Some(id) = row.job_id {
                            tracing::warn!(key = %row.key, "files missing or changed on disk; downloading again");
                            t.state = RowState::Done;
                            c.downloads.push_back((row.key, id));
                        }
                    }
                }
                RowState::Failed | RowState::Rejected => {}
            }
            Ok(())
        })?;
        Ok(c)
    }

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
        if let Some(t) = self.rows.get_mut(key) {
            t.state = state;
        }
    }

    fn in_flight(&self) -> usize {
        self.submitting + self.unsure.len() + self.rendering.len()
    }

    fn start_submissions(&mut self) {
        if self.stop.is_some() {
            return;
        }
        let now = Instant::now();
        while self.in_flight() < self.in_flight_cap
            && self.submitting < self.shared.cfg.max_submitting.max(1)
        {
            let Some(front) = self.queue.front() else {
                return;
            };
            if front.not_before.is_some_and(|t| t > now) {
                return;
            }
            if let Some(cap) = self.shared.cfg.max_credits {
                if self.committed_credits + front.est_credits > cap + 1e-9 {
                    self.stop = Some(Stop::Budget(format!(
                        "--max-credits {cap}: {} credits committed, the next row needs {}",
                        self.committed_credits, front.est_credits
                    )));
                    return;
                }
            }
            let Some(p) = self.queue.pop_front() else {
                return;
            };
            self.committed_credits += p.est_credits;
            self.credits_estimated += p.est_credits;
            self.submitting += 1;
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
        self.polling = true;
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let answers = poll::poll_round(&shared, ids).await;
            let _ = shared.events.send(Event::Polled(answers));
        });
    }

    fn start_reconcile(&mut self) {
        // A row whose job could not be looked for until its deadline (the job list kept
        // failing) is neither sent again nor waited for any longer: it stays `submitting`,
        // and the next run reconciles it before anything else.
        let now = Instant::now();
        let expired: Vec<String> = self
            .unsure
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.unsure.remove(&key);
            tracing::warn!(%key, "deadline reached before the job of an unanswered submission could be looked for; rerun to reconcile it");
            self.past_deadline += 1;
        }
        if self.reconciling || self.unsure.is_empty() || now < self.next_reconcile {
            return;
        }
        if matches!(self.stop, Some(Stop::Auth(_))) {
            return;
        }
        self.reconciling = true;
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let r = shared.client.list_jobs().await;
            let _ = shared.events.send(Event::Reconciled(r));
        });
    }

    fn next_wake(&self) -> Instant {
        let mut t = Instant::now() + Duration::from_secs(1);
        if !self.rendering.is_empty() && !self.polling {
            t = t.min(self.next_poll);
        }
        if !self.unsure.is_empty() && !self.reconciling {
            t = t.min(self.next_reconcile);
        }
        if let Some(nb) = self.queue.front().and_then(|p| p.not_before) {
            t = t.min(nb);
        }
        t
    }

    fn finished(&self) -> bool {
        let tasks_idle = self.submitting == 0 && !self.polling && !self.reconciling;
        match &self.stop {
            // Polls, listings and downloads change nothing that a rerun can't redo (a partial
            // download resumes), so only submissions in flight are waited for.
            Some(Stop::Interrupted) | Some(Stop::Auth(_)) => self.submitting == 0,
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
                "--halt-after-failures: {} rows failed in this run",
                self.failures_this_run
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
        }
        Ok(())
    }

    fn on_submitted(&mut self, key: String, outcome: Submitted) {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        match outcome {
            Submitted::Created { job_id } => {
                tracing::debug!(%key, job = %job_id, "created");
                self.set_state(&key, RowState::Submitted);
                let now = Instant::now();
                self.rendering.insert(
                    job_id,
                    Rendering::new(
                        key,
                        String::new(),
                        now + cfg.job_deadline,
                        cfg.poll_min,
                        now,
                    ),
                );
                self.next_poll = self.next_poll.min(now + cfg.poll_min);
            }
            Submitted::RowFailed { error } => {
                tracing::error!(%key, %error, "the API refused this row");
                self.set_state(&key, RowState::Failed);
                self.failed_row();
            }
            Submitted::Ambiguous {
                pending,
                reference,
                error,
            } => {
                tracing::warn!(%key, %error, "no certain answer to the submission; will look for it before sending again");
                self.set_state(&key, RowState::Submitting);
                self.unsure.insert(
                    key,
                    Unsure {
                        reference,
                        resend_at: Instant::now() + cfg.reconcile_window,
                        deadline: Instant::now() + cfg.job_deadline,
                        pending,
                    },
                );
                self.next_reconcile = self
                    .next_reconcile
                    .max(Instant::now() + cfg.poll_min.min(Duration::from_secs(2)));
            }
            Submitted::Refused { mut pending, error } => {
                self.set_state(&key, RowState::Planned);
                self.committed_credits -= pending.est_credits;
                self.credits_estimated -= pending.est_credits;
                let message = error.to_string();
                match (error.class(), &error) {
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
                        // A refusal over the account's render cap also lowers ours to what is
                        // rendering now; each finished job raises it by one again.
                        if error.is_render_cap() {
                            let cap = self.rendering.len().max(1);
                            if cap < self.in_flight_cap {
                                tracing::info!(cap, "the account's render limit is reached; rendering at most {cap} jobs at once");
                                self.in_flight_cap = cap;
                            }
                        }
                        pending.not_before = Some(Instant::now() + *retry_after);
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
                self.queue.push_front(pending);
            }
        }
    }

    async fn on_polled(&mut self, answers: Vec<poll::Answer>) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        let now = Instant::now();
        let mut changes = Vec::new();
        let mut errors: Vec<ApiError> = Vec::new();
        let mut jobs = Vec::new();
        for (ids, answer) in answers {
            match answer {
                Ok(found) => {
                    // Asked about but not in the answer: unknown to the API for now; look
                    // again later like a job that told nothing new.
                    let seen: HashSet<&str> = found.iter().map(|j| j.id.as_str()).collect();
                    for id in ids.iter().filter(|id| !seen.contains(id.as_str())) {
                        if let Some(r) = self.rendering.get_mut(id) {
                            r.looked(None, now, cfg.poll_min, cfg.poll_max);
                        }
                    }
                    jobs.extend(found);
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
        for job in jobs {
            let Some(r) = self.rendering.get_mut(&job.id) else {
                continue;
            };
            if !job.status.is_terminal() {
                r.looked(Some(&job), now, cfg.poll_min, cfg.poll_max);
            }
            let status = job.status.as_str().to_owned();
            if status == r.status && !job.status.is_terminal() {
                continue;
            }
            if let crate::api::JobStatus::Unknown(s) = &job.status {
                if r.status != *s {
                    tracing::warn!(key = %r.key, status = %s, "unknown job status; polling on until the deadline");
                }
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
            if !job.status.is_terminal() {
                continue;
            }
            self.rendering.remove(&job.id);
            self.in_flight_cap = (self.in_flight_cap + 1).min(cfg.max_in_flight.max(1));
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
        // The next round: when the first job is due, and not sooner than `poll_min`.
        let gate = Instant::now() + cfg.poll_min;
        self.next_poll = poll::next_due(&self.rendering).map_or(gate, |t| t.max(gate));
        Ok(())
    }

    async fn on_reconciled(
        &mut self,
        result: Result<Vec<Job>, crate::api::ApiError>,
    ) -> Result<(), JournalError> {
        let shared = self.shared.clone();
        let cfg = &shared.cfg;
        self.next_reconcile = Instant::now() + cfg.poll_min.max(Duration::from_millis(500));
        let jobs = match result {
            Ok(jobs) => jobs,
            Err(e) if e.class() == ErrorClass::Auth => {
                tracing::error!(error = %e, "the API refused the credentials");
                self.stop = Some(Stop::Auth(e.to_string()));
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the account's jobs; will try again");
                return Ok(());
            }
        };
        let by_ref: HashMap<&str, &Job> = jobs
            .iter()
            .filter_map(|j| {
                let name = j.name.as_deref()?;
                let start = name.rfind("[cb-")?;
                let reference = name[start + 1..].strip_suffix(']')?;
                Some((reference, j))
            })
            .collect();
        let now = Instant::now();
        let keys: Vec<String> = self.unsure.keys().cloned().collect();
        for key in keys {
            let Some(u) = self.unsure.get(&key) else {
                continue;
            };
            if let Some(job) = by_ref.get(u.reference.as_str()) {
                tracing::info!(%key, job = %job.id, "found the job of an unanswered submission; adopting it");
                self.shared
                    .journal
                    .record(Change::Submitted {
                        key: key.clone(),
                        job_id: job.id.clone(),
                    })
                    .await?;
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
            } else if u.resend_at <= now {
                let Some(u) = self.unsure.remove(&key) else {
                    continue;
                };
                self.shared
                    .journal
                    .record(Change::Requeue {
                        key: key.clone(),
                        error: "no answer to the submission, and no job found after the reconciliation window".into(),
                    })
                    .await?;
                self.set_state(&key, RowState::Planned);
                self.committed_credits -= u.pending.est_credits;
                self.credits_estimated -= u.pending.est_credits;
                let mut pending = u.pending;
                pending.refusals += 1;
                if pending.refusals >= cfg.max_attempts {
                    // The API keeps failing creations without creating anything: stop
                    // sending this row in this run rather than loop until someone kills it.
                    tracing::error!(%key, attempts = pending.refusals, "submission never got an answer and no job was created; left for the next run");
                    self.failed_row();
                    continue;
                }
                tracing::info!(%key, "not created after all; sending it again");
                self.queue.push_front(pending);
            }
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
                Stop::Budget(m) | Stop::Credits(m) | Stop::Halt(m) | Stop::Auth(m) => m.clone(),
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
        };
        let code = match &self.stop {
            Some(Stop::Auth(_)) => ExitCode::Auth,
            Some(Stop::Interrupted) => ExitCode::Interrupted,
            Some(Stop::Budget(_)) | Some(Stop::Credits(_)) => ExitCode::Budget,
            _ if counts.submitted + counts.submitting > 0 => ExitCode::Deadline,
            _ if counts.downloaded == counts.total => ExitCode::Success,
            _ => ExitCode::RowsFailed,
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
