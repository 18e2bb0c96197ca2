//! What every handler shares: the settings, the account, the fault plan, the limiter and the
//! counters.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use governor::DefaultDirectRateLimiter;
use serde_json::Value;
use tokio::sync::watch;

use super::assets::Signer;
use super::faults::{Fault, FaultPlan};
use super::job::JobRecord;
use super::state::{RenderLimit, Store};
use super::stats::{Counters, Stats};
use super::Credentials;

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Job clock speed.
    pub time_scale: f64,
    /// Job-clock milliseconds of rendering per second of video.
    pub render_ms_per_second: f64,
    /// How far each job's render time strays from that, a share either way.
    pub render_spread: f64,
    /// Cap on jobs not yet terminal.
    pub max_rendering: Option<usize>,
    /// From this real Unix millisecond on, the cap is this (`--raise-rendering`).
    pub raise_rendering: Option<(i64, usize)>,
    /// Size of the synthetic output video, when set.
    pub video_bytes: Option<u64>,
    /// The seed.
    pub seed: u64,
    /// How long media URLs stay valid, real seconds.
    pub url_ttl_seconds: f64,
    /// Whether a preview creation answers at once or when the preview is made.
    pub preview_mode: super::PreviewMode,
}

impl Settings {
    /// The render cap at `now_ms`.
    pub fn max_rendering_at(&self, now_ms: i64) -> Option<usize> {
        match self.raise_rendering {
            Some((at, to)) if now_ms >= at => Some(to),
            _ => self.max_rendering,
        }
    }
}

/// The fault decided for a request, passed to handlers that act on it (downloads).
#[derive(Debug, Clone, Copy)]
pub struct Decided(pub Option<Fault>);

/// Shared state.
pub struct App {
    /// Settings.
    pub settings: Settings,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Credentials requests must carry.
    pub credentials: Credentials,
    /// The account.
    pub store: Mutex<Store>,
    /// Fault decisions.
    pub faults: FaultPlan,
    /// The request rate limit, when set.
    pub limiter: Option<DefaultDirectRateLimiter>,
    /// Request counters.
    pub counters: Counters,
    /// Media URL signatures.
    pub signer: Signer,
    /// Turns `true` when the sandbox stops.
    pub shutdown: watch::Receiver<bool>,
    /// Sends webhooks.
    pub webhook_client: reqwest::Client,
}

/// Wall-clock Unix milliseconds: job states derive from it, so they survive restarts.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl App {
    /// The render cap at `now_ms`, and which jobs it counts.
    pub fn render_limit(&self, now_ms: i64) -> Option<RenderLimit> {
        let cap = self.settings.max_rendering_at(now_ms)?;
        let counts = self.faults.faults().api.render_cap_counts;
        Some(RenderLimit { cap, counts })
    }

    /// The account, locked. Critical sections are a few map operations; a panic inside one
    /// cannot leave the store half-changed, so a poisoned lock is taken over.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One job.
    pub fn job(&self, id: &str) -> Option<Arc<JobRecord>> {
        self.store().get(id)
    }

    /// A job as the API shows it at `now`, with freshly signed media URLs.
    pub fn job_json(&self, job: &JobRecord, now: i64) -> Value {
        let snap = job.snapshot(now, self.settings.time_scale);
        let ttl = self.settings.url_ttl_seconds;
        let sign = |file: &str| {
            let path = format!("/media/jobs/{}/{file}", job.id);
            self.signer.url(&self.base_url, &path, ttl, now)
        };
        let mut v = job.to_json(
            &snap,
            || (sign("video.mp4"), sign("thumbnail.jpg")),
            || format!("{}/preview/{}/", self.base_url, job.id),
        );
        let dialect = &self.faults.faults().api;
        v["name"] = super::listing::stored_name(job.name.as_deref(), dialect);
        super::job::output_dialect(&mut v, &snap, now, dialect);
        if snap.status == crate::api::JobStatus::Running {
            v["progress"] = super::job::reported_progress(snap.progress, dialect).into();
        }
        v["status"] = Value::String(super::job::status_word(&snap.status, dialect));
        v
    }

    /// The counters and the account's figures.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        {
            let mut store = self.store();
            stats.jobs_created = store.jobs_created();
            stats.jobs_by_name = store
                .by_name()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            stats.renders_by_job = store
                .renders()
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            stats.credits_spent = store.spent();
            stats.credits_remaining = store.credits();
            stats.rendering = store.rendering(now_ms()) as u64;
        }
        self.counters.fill(&mut stats);
        stats
    }
}
