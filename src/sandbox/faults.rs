//! Fault injection: what the fault file says, and the seeded decisions made from it.
//!
//! Every decision is a pure function of the seed and a stable key, hashed with SHA-256
//! (std's hasher is not stable across releases, and reruns must decide alike):
//! per-request faults use (seed, endpoint group, that group's request number), so a client
//! that sends the same requests in the same order meets the same faults; a job's fate uses
//! (seed, job name), so a rerun of the same batch sees the same outcomes even when its
//! requests interleave differently.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The fault file (`--faults FILE`, TOML). Every table is optional; see the module docs of
/// [`crate::sandbox`] for an example.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// The API's dialect where the docs are silent (see [`super::dialect`]).
    #[serde(default)]
    pub api: super::dialect::Dialect,
    /// `POST /api/lipsyncs_v2/`, and `.../preview/` and `.../{id}/render/` unless their own
    /// table is given.
    #[serde(default)]
    pub create: EndpointFaults,
    /// `POST /api/lipsyncs_v2/preview/` alone, instead of `create` (own request numbers).
    #[serde(default)]
    pub preview: Option<EndpointFaults>,
    /// `POST /api/lipsyncs_v2/{id}/render/` alone, instead of `create`: `lost = 1` is "the
    /// render was taken (charged, started), the answer lost".
    #[serde(default)]
    pub render: Option<EndpointFaults>,
    /// `GET /api/lipsyncs_v2/{id}/` and `GET /api/lipsyncs_v2/` (with or without `ids`).
    #[serde(default)]
    pub poll: EndpointFaults,
    /// `GET /api/remaining_credits/`, `/api/personas/` and `/api/voices/`.
    #[serde(default)]
    pub account: EndpointFaults,
    /// The media files (`output`, `video_thumbnail`, catalogue previews).
    #[serde(default)]
    pub download: EndpointFaults,
    /// How jobs end.
    #[serde(default)]
    pub jobs: JobFaults,
    /// Webhook delivery.
    #[serde(default)]
    pub webhooks: WebhookFaults,
}

/// Per-request fault rates of one endpoint group, each a probability in 0..=1. At most one
/// fault hits a request, so the rates of a group add up to at most 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointFaults {
    /// Connection closed before any response; the request is not processed.
    pub reset: f64,
    /// The request is processed (a job is created and billed), then the connection is
    /// closed before the response is sent.
    pub lost: f64,
    /// HTTP 500 (Django's HTML error page); not processed.
    pub status_500: f64,
    /// HTTP 502 (a proxy's HTML page); not processed.
    pub status_502: f64,
    /// HTTP 503 (a proxy's HTML page); not processed.
    pub status_503: f64,
    /// HTTP 200 with an HTML maintenance page instead of JSON; not processed.
    pub html: f64,
    /// Processed, then answered only after `slow_seconds`.
    pub slow: f64,
    /// Held `slow_seconds` before it is processed (a queue in front of the API), then
    /// processed and answered, whether or not the client is still waiting.
    pub stall: f64,
    /// How long a slow or stalled request waits (real seconds).
    pub slow_seconds: f64,
    /// Downloads only: the body stops after half of `Content-Length` and the connection is
    /// cut.
    pub truncate: f64,
    /// Downloads only: how long a job's media URLs stay valid (real seconds) before they
    /// answer 403; a fresh GET of the job gives fresh URLs. Default 24 hours.
    pub url_ttl_seconds: Option<f64>,
}

impl Default for EndpointFaults {
    fn default() -> Self {
        Self {
            reset: 0.0,
            lost: 0.0,
            status_500: 0.0,
            status_502: 0.0,
            status_503: 0.0,
            html: 0.0,
            slow: 0.0,
            stall: 0.0,
            slow_seconds: 30.0,
            truncate: 0.0,
            url_ttl_seconds: None,
        }
    }
}

/// How jobs end, decided per job name. `fail + reject` is at most 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobFaults {
    /// Share of jobs that end `failed` with a `failed_reason`.
    pub fail: f64,
    /// Share of jobs that end `rejected` (refused by moderation early on).
    pub reject: f64,
    /// Share of jobs that report the undocumented status `moderating` instead of `in_queue`.
    pub moderating: f64,
}

/// Webhook faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookFaults {
    /// Share of jobs whose webhook is delivered twice.
    pub duplicate: f64,
    /// Share of jobs whose webhook is never sent (the docs promise no retries).
    pub lost: f64,
    /// Share of jobs whose webhook comes as their render starts, saying `done` while they
    /// render (a webhook that lies, or one forged by someone who learned its URL).
    pub early: f64,
    /// Seconds (real time) every webhook comes after its job ends: a delivery queue on the
    /// API's side, so a poll may see the job end first.
    pub late_seconds: f64,
}

/// The groups of endpoints that share fault rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Creating jobs (and previews and renders without tables of their own).
    Create,
    /// Creating previews.
    Preview,
    /// Rendering previews.
    Render,
    /// Reading jobs.
    Poll,
    /// Credits and the catalogue.
    Account,
    /// Media files.
    Download,
}

impl Group {
    fn index(self) -> usize {
        self as usize
    }

    /// Whether requests of this group are paid POSTs (counted in `creations_arrived`).
    pub fn is_creation(self) -> bool {
        matches!(self, Self::Create | Self::Preview | Self::Render)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Preview => "preview",
            Self::Render => "render",
            Self::Poll => "poll",
            Self::Account => "account",
            Self::Download => "download",
        }
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Close the connection without answering.
    Reset,
    /// Process the request, then close the connection without answering.
    Lost,
    /// Answer this 5xx status with an HTML page.
    Status(u16),
    /// Answer 200 with an HTML page.
    Html,
    /// Process, then wait this long before answering.
    Slow(Duration),
    /// Wait this long, then process and answer (processing happens even if the client has
    /// gone by then).
    Stall(Duration),
    /// Send half the body, then cut the connection.
    Truncate,
}

impl Fault {
    /// The name stats count this fault under.
    pub fn name(&self) -> String {
        match self {
            Self::Reset => "reset".into(),
            Self::Lost => "lost".into(),
            Self::Status(code) => format!("status_{code}"),
            Self::Html => "html".into(),
            Self::Slow(_) => "slow".into(),
            Self::Stall(_) => "stall".into(),
            Self::Truncate => "truncate".into(),
        }
    }
}

/// How a job ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Fate {
    /// Rendered.
    Done,
    /// Failed while rendering, with this reason.
    Failed(String),
    /// Refused by moderation, with this reason.
    Rejected(String),
}

const FAIL_REASONS: &[&str] = &[
    "Rendering failed: the avatar could not be lip-synced to the generated audio.",
    "Rendering failed: the background media could not be downloaded.",
    "Rendering failed: internal error, please try again.",
];
const REJECT_REASON: &str = "Rejected by content moderation: the script violates the usage policy.";

impl Faults {
    /// Reads and checks a fault file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the fault file {}", path.display()))?;
        let faults: Self = toml::from_str(&text)
            .with_context(|| format!("fault file {} is not valid", path.display()))?;
        faults
            .check()
            .with_context(|| format!("fault file {} is not valid", path.display()))?;
        Ok(faults)
    }

    /// Checks that every rate is a probability and that each group's rates fit in 1.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut tables = vec![
            ("create", &self.create),
            ("poll", &self.poll),
            ("account", &self.account),
            ("download", &self.download),
        ];
        tables.extend(self.preview.as_ref().map(|t| ("preview", t)));
        tables.extend(self.render.as_ref().map(|t| ("render", t)));
        for (name, g) in tables {
            let rates = g.rates();
            for (key, rate) in rates {
                check_rate(name, key, rate)?;
            }
            let sum: f64 = rates.iter().map(|(_, r)| r).sum();
            if sum > 1.0 + 1e-9 {
                bail!("[{name}]: the rates add up to {sum}; at most one fault hits a request, so they must add up to at most 1");
            }
            if !(g.slow_seconds.is_finite() && g.slow_seconds >= 0.0) {
                bail!(
                    "[{name}] slow_seconds must be 0 or more, got {}",
                    g.slow_seconds
                );
            }
            if name != "download" && (g.truncate > 0.0 || g.url_ttl_seconds.is_some()) {
                bail!("[{name}]: truncate and url_ttl_seconds only apply to [download]");
            }
        }
        if let Some(ttl) = self.download.url_ttl_seconds {
            if !(ttl.is_finite() && ttl > 0.0) {
                bail!("[download] url_ttl_seconds must be more than 0, got {ttl}");
            }
        }
        for (key, rate) in [
            ("fail", self.jobs.fail),
            ("reject", self.jobs.reject),
            ("moderating", self.jobs.moderating),
        ] {
            check_rate("jobs", key, rate)?;
        }
        if self.jobs.fail + self.jobs.reject > 1.0 + 1e-9 {
            bail!("[jobs]: fail + reject must be at most 1");
        }
        for (key, rate) in [
            ("duplicate", self.webhooks.duplicate),
            ("lost", self.webhooks.lost),
            ("early", self.webhooks.early),
        ] {
            check_rate("webhooks", key, rate)?;
        }
        let late = self.webhooks.late_seconds;
        if !(late.is_finite() && late >= 0.0) {
            bail!("[webhooks] late_seconds must be 0 or more, got {late}");
        }
        self.api.check()
    }

    /// The table that decides for `group`, and the group whose request numbers it counts:
    /// previews and renders without a table of their own share `create`'s.
    fn table(&self, group: Group) -> (Group, &EndpointFaults) {
        match (group, &self.preview, &self.render) {
            (Group::Preview, Some(t), _) | (Group::Render, _, Some(t)) => (group, t),
            (Group::Preview | Group::Render, _, _) => (Group::Create, &self.create),
            _ => (group, self.group(group)),
        }
    }

    fn group(&self, group: Group) -> &EndpointFaults {
        match group {
            Group::Create | Group::Preview | Group::Render => &self.create,
            Group::Poll => &self.poll,
            Group::Account => &self.account,
            Group::Download => &self.download,
        }
    }
}

fn check_rate(table: &str, key: &str, rate: f64) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&rate) {
        bail!("[{table}] {key} must be between 0 and 1, got {rate}");
    }
    Ok(())
}

impl EndpointFaults {
    fn rates(&self) -> [(&'static str, f64); 9] {
        [
            ("reset", self.reset),
            ("lost", self.lost),
            ("status_500", self.status_500),
            ("status_502", self.status_502),
            ("status_503", self.status_503),
            ("html", self.html),
            ("slow", self.slow),
            ("stall", self.stall),
            ("truncate", self.truncate),
        ]
    }

    /// The fault for a request whose uniform draw is `u`, by cumulative rates.
    fn pick(&self, u: f64) -> Option<Fault> {
        let mut edge = 0.0;
        for (key, rate) in self.rates() {
            edge += rate;
            if rate > 0.0 && u < edge {
                return Some(match key {
                    "reset" => Fault::Reset,
                    "lost" => Fault::Lost,
                    "status_500" => Fault::Status(500),
                    "status_502" => Fault::Status(502),
                    "status_503" => Fault::Status(503),
                    "html" => Fault::Html,
                    "slow" => Fault::Slow(Duration::from_secs_f64(self.slow_seconds)),
                    "stall" => Fault::Stall(Duration::from_secs_f64(self.slow_seconds)),
                    _ => Fault::Truncate,
                });
            }
        }
        None
    }
}

/// The fault file plus the seed: makes every decision.
#[derive(Debug)]
pub struct FaultPlan {
    faults: Faults,
    seed: u64,
    counters: [AtomicU64; 6],
}

impl FaultPlan {
    /// A plan for `faults` under `seed`.
    pub fn new(faults: Faults, seed: u64) -> Self {
        Self {
            faults,
            seed,
            counters: Default::default(),
        }
    }

    /// The configuration.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The fault for the next request of `group`, if any.
    pub fn decide(&self, group: Group) -> Option<Fault> {
        let (group, rates) = self.faults.table(group);
        let n = self.counters[group.index()].fetch_add(1, Ordering::Relaxed);
        if rates.rates().iter().all(|(_, r)| *r == 0.0) {
            return None;
        }
        rates.pick(unit(self.seed, &[group.name(), &n.to_string()]))
    }

    /// How the job called `key` (its name, or its id when nameless) ends.
    pub fn fate(&self, key: &str) -> Fate {
        let jobs = &self.faults.jobs;
        let u = unit(self.seed, &["fate", key]);
        let pick = (unit(self.seed, &["reason", key]) * FAIL_REASONS.len() as f64) as usize;
        if u < jobs.fail {
            Fate::Failed(FAIL_REASONS[pick.min(FAIL_REASONS.len() - 1)].into())
        } else if u < jobs.fail + jobs.reject {
            Fate::Rejected(REJECT_REASON.into())
        } else {
            Fate::Done
        }
    }

    /// Whether the job called `key` reports `moderating` while queued.
    pub fn moderating(&self, key: &str) -> bool {
        unit(self.seed, &["moderating", key]) < self.faults.jobs.moderating
    }

    /// Whether the webhook of the job called `key` is sent twice.
    pub fn duplicate_webhook(&self, key: &str) -> bool {
        unit(self.seed, &["webhook", key]) < self.faults.webhooks.duplicate
    }

    /// Whether the webhook of the job called `key` is never sent.
    pub fn lost_webhook(&self, key: &str) -> bool {
        unit(self.seed, &["webhook-lost", key]) < self.faults.webhooks.lost
    }

    /// Whether the webhook of the job called `key` comes early, saying `done`.
    pub fn early_webhook(&self, key: &str) -> bool {
        unit(self.seed, &["webhook-early", key]) < self.faults.webhooks.early
    }

    /// A number in `1 - spread .. 1 + spread` that varies the render time of the job called
    /// `key`.
    pub fn render_jitter(&self, key: &str, spread: f64) -> f64 {
        1.0 - spread + 2.0 * spread * unit(self.seed, &["render", key])
    }
}

/// A uniform number in `0..1` from the seed and `parts`.
pub fn unit(seed: u64, parts: &[&str]) -> f64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    for p in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(word) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_in_the_module_docs_parses() {
        let doc = include_str!("mod.rs");
        let start = doc.find("```toml").unwrap() + "```toml".len();
        let end = start + doc[start..].find("```").unwrap();
        let toml_text: String = doc[start..end]
            .lines()
            .map(|l| {
                l.trim_start()
                    .trim_start_matches("//!")
                    .trim_start_matches(' ')
            })
            .collect::<Vec<_>>()
            .join("\n");
        let faults: Faults = toml::from_str(&toml_text).unwrap();
        faults.check().unwrap();
        assert!(faults.create.lost > 0.0);
    }

    #[test]
    fn unknown_keys_and_bad_rates_are_refused() {
        assert!(toml::from_str::<Faults>("[create]\nrest = 0.1").is_err());
        let f: Faults = toml::from_str("[poll]\nreset = 0.7\nstatus_503 = 0.6").unwrap();
        assert!(f.check().is_err());
        let f: Faults = toml::from_str("[create]\ntruncate = 0.5").unwrap();
        assert!(f.check().is_err());
    }

    #[test]
    fn decisions_follow_the_seed_and_the_rates() {
        let f: Faults = toml::from_str("[poll]\nstatus_500 = 0.5\n[jobs]\nfail = 0.5").unwrap();
        let draw = |seed| {
            let plan = FaultPlan::new(f.clone(), seed);
            (0..64)
                .map(|_| plan.decide(Group::Poll).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let hits = draw(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "{hits} of 64");
        let plan = FaultPlan::new(f, 7);
        assert_eq!(plan.fate("row-1"), plan.fate("row-1"));
        assert_eq!(plan.decide(Group::Create), None);
    }

    #[test]
    fn previews_and_renders_use_their_own_tables_or_else_create() {
        let f: Faults = toml::from_str("[create]\nreset = 1.0\n[render]\nlost = 1.0").unwrap();
        f.check().unwrap();
        let plan = FaultPlan::new(f, 0);
        assert_eq!(plan.decide(Group::Render), Some(Fault::Lost));
        assert_eq!(plan.decide(Group::Preview), Some(Fault::Reset));
        assert_eq!(plan.decide(Group::Create), Some(Fault::Reset));
        let bad: Faults = toml::from_str("[preview]\nreset = 0.7\nlost = 0.6").unwrap();
        assert!(bad.check().is_err(), "[preview] rates are checked too");
    }
}
