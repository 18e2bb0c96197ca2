//! The counters behind `GET /__sandbox/stats`, which tests use to prove exactly-once.
//!
//! Request counts live as long as the process; job and credit figures come from the store,
//! so with a state directory they cover every run of the account.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What `GET /__sandbox/stats` answers and [`super::Sandbox::stats`] returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// `"METHOD /path-pattern"` → status code (or `reset` / `dropped` for connections closed
    /// without an answer) → count.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Jobs created (videos and previews), across restarts when persisted.
    pub jobs_created: u64,
    /// Job name → how many jobs were created with it.
    pub jobs_by_name: BTreeMap<String, u64>,
    /// 429 answers (rate limit and rendering cap).
    pub throttled: u64,
    /// Credits charged.
    pub credits_spent: f64,
    /// Credits left.
    pub credits_remaining: f64,
    /// Jobs not yet terminal.
    pub rendering: u64,
    /// Injected faults by kind (`reset`, `lost`, `status_503`, `html`, `slow`, `stall`,
    /// `truncate`, `url_expired`, `duplicate_webhook`).
    pub faults: BTreeMap<String, u64>,
    /// Creation requests (create, preview, render) counted as they arrive, before faults,
    /// credentials or the rate limit: read at two instants, the difference is what reached
    /// the server in between, answered or not.
    pub creations_arrived: u64,
    /// Job id → renders accepted and charged (`POST .../{id}/render/`), across restarts when
    /// persisted. A second render of one id is refused, so each count is 0 or 1; what a
    /// client sent is in `render_requests_by_job`.
    pub renders_by_job: BTreeMap<String, u64>,
    /// Job id → render requests that reached the handler (accepted or refused; not those a
    /// reset or 5xx fault stopped before it), this process only.
    pub render_requests_by_job: BTreeMap<String, u64>,
    /// Webhook POSTs that got an answer.
    pub webhooks_sent: u64,
    /// Webhook POSTs that failed, plus webhooks skipped because the host was not loopback.
    pub webhooks_failed: u64,
    /// Job list answers (`GET /api/lipsyncs_v2/` without `ids`): pages read.
    pub job_list_pages: u64,
    /// Jobs in those answers.
    pub job_list_jobs: u64,
}

/// The per-process counters.
#[derive(Debug, Default)]
pub struct Counters(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<String, BTreeMap<String, u64>>,
    throttled: u64,
    faults: BTreeMap<String, u64>,
    creations_arrived: u64,
    render_requests: BTreeMap<String, u64>,
    webhooks_sent: u64,
    webhooks_failed: u64,
    job_list_pages: u64,
    job_list_jobs: u64,
}

impl Counters {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while counting cannot leave the maps inconsistent; keep counting.
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner)
    }

    /// Counts one answer to `endpoint` (`"GET /api/voices/"`) with `status`.
    pub fn request(&self, endpoint: &str, status: &str) {
        self.with(|c| {
            if status == "429" {
                c.throttled += 1;
            }
            let by_status = match c.requests.get_mut(endpoint) {
                Some(m) => m,
                None => c.requests.entry(endpoint.to_owned()).or_default(),
            };
            *by_status.entry(status.to_owned()).or_default() += 1;
        });
    }

    /// Counts one creation request on its arrival.
    pub fn creation_arrived(&self) {
        self.with(|c| c.creations_arrived += 1);
    }

    /// Counts one render request for job `id` as its handler meets it.
    pub fn render_request(&self, id: &str) {
        self.with(|c| *c.render_requests.entry(id.to_owned()).or_default() += 1);
    }

    /// Counts one injected fault.
    pub fn fault(&self, kind: &str) {
        self.with(|c| *c.faults.entry(kind.to_owned()).or_default() += 1);
    }

    /// Counts one page of the job list, of `jobs` jobs.
    pub fn listed(&self, jobs: usize) {
        self.with(|c| {
            c.job_list_pages += 1;
            c.job_list_jobs += jobs as u64;
        });
    }

    /// Counts one webhook delivery attempt.
    pub fn webhook(&self, delivered: bool) {
        self.with(|c| {
            if delivered {
                c.webhooks_sent += 1;
            } else {
                c.webhooks_failed += 1;
            }
        });
    }

    /// Fills the per-process part of `stats`.
    pub fn fill(&self, stats: &mut Stats) {
        self.with(|c| {
            stats.requests = c.requests.clone();
            stats.throttled = c.throttled;
            stats.faults = c.faults.clone();
            stats.creations_arrived = c.creations_arrived;
            stats.render_requests_by_job = c.render_requests.clone();
            stats.webhooks_sent = c.webhooks_sent;
            stats.webhooks_failed = c.webhooks_failed;
            stats.job_list_pages = c.job_list_pages;
            stats.job_list_jobs = c.job_list_jobs;
        });
    }
}
