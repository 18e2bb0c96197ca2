//! The sandbox: a faithful stand-in for Creatify's API, as `creatify-batch sandbox` and
//! in-process ([`Sandbox::start`]) for tests, benchmarks and `run --sandbox`.
//!
//! # Design
//! - **Same wire as the real API**: paths, `X-API-ID`/`X-API-KEY`, JSON bodies, DRF-shaped
//!   errors. Request bodies are parsed into [`crate::api::CreateLipsync`] and checked with
//!   [`crate::api::validate::validate`], the rules the planner uses too, plus the catalogue
//!   (unknown `avatar_id` or `voice_id` is a 400 at that field). Prices come from
//!   [`crate::api::credits`].
//! - **Jobs without a ticker**: a job's status is a pure function of when its render
//!   started, the wall clock, `--time-scale`, its render time and its fate (see
//!   [`job`]). Render time is `--render-seconds` per 30 s of video, varied ±20 % per job.
//! - **Our own accept loop** over hyper ([`server`]), so faults can close a connection
//!   without an answer, before or after the request is processed.
//! - **Reproducible faults**: decisions hash the seed with the endpoint group and its request
//!   number, or with the job's name for outcomes ([`faults`]).
//! - **Persistence** ([`journal`]): with a state directory, every job and every credit change
//!   is one JSON line in `sandbox-journal.jsonl`, fsynced before the answer; a restart
//!   replays it and meets the same jobs, ids, states (moved on in wall time) and balance.
//!
//! # Endpoints
//! | call | answer |
//! |---|---|
//! | `POST /api/lipsyncs_v2/` | 201 job; 400 field tree; 402 credits; 415 not JSON; 429 |
//! | `GET /api/lipsyncs_v2/{id}/` | job, or 404 `{"detail":"Not found."}` |
//! | `GET /api/lipsyncs_v2/?ids=a,b` | plain array, newest first, unknown ids absent; >100 ids: 400 |
//! | `GET /api/lipsyncs_v2/` | every job of the account, newest first, plain array |
//! | `POST /api/lipsyncs_v2/preview/` | 201 preview job (1 credit / 30 s); `--preview-mode sync`: 200 with the finished preview |
//! | `POST /api/lipsyncs_v2/{id}/render/` | 200 job, rendering again (4 credits / 30 s); 400 once rendered or rendering |
//! | `GET /api/remaining_credits/` | `{"remaining_credits": N}` |
//! | `GET /api/personas/` | filters `gender`, `age_range`, `location`, `style` (comma-separated choices) |
//! | `GET /api/personas/paginated/` | `{count,next,previous,results}`, `page`/`page_size` |
//! | `GET /api/personas/{id}/` | one persona, or one of the account's custom avatars |
//! | `GET /api/voices/` | voices with accents |
//! | `GET /api/voices/paginated/` | `{count,next,previous,results}` |
//! | `GET /__sandbox/stats` | [`Stats`]; no credentials, no faults, not counted |
//! | `GET /preview/{id}/` | the preview page (HTML for an iframe) playing `/media/previews/{id}/preview.mp4`, a 90x160 clip; 404 until the preview is made |
//!
//! Media (`/media/...`) and preview pages need no credentials, like a CDN.
//!
//! # Picks where the docs are silent (\[guess\] in `creatify-api.md`)
//! - Insufficient credits: **402** `{"detail":"Insufficient credits: this video needs N
//!   credits, M remain."}`; nothing is created. Credits are charged at creation and not
//!   refunded when a job fails.
//! - Rate limit (`--rate-limit`, `--burst`, GCRA): 429, `Retry-After` in whole seconds (at
//!   least 1), `{"detail":"Request was throttled. Expected available in N seconds."}`.
//!   Checked after credentials, as DRF does.
//! - Rendering cap (`--max-rendering`, jobs not yet terminal): 429 with a detail saying the
//!   concurrent render limit is reached and a `Retry-After` until the first one ends.
//!   `--raise-rendering SECS=N` sets the cap to N, SECS real seconds after the start (an
//!   account upgraded mid-run).
//! - 401: `Authentication credentials were not provided.` (a header missing or empty) or
//!   `Incorrect authentication credentials.`
//! - 400 bodies follow DRF: `{"field": ["message"]}`, nested for `video_inputs` with `{}` for
//!   scenes without errors; a body that is not JSON: `{"detail":"JSON parse error - ..."}`.
//!   Unknown fields are refused (`This field is not allowed.`): the real API probably ignores
//!   them, but a rehearsal that accepts a typo hides it.
//! - Job objects carry every documented field (`null` when unset); `progress` is a 0..1
//!   fraction; `credits_used` and `duration` are whole numbers when they can be.
//! - Media URLs are signed and valid for 24 hours unless `[download] url_ttl_seconds` says
//!   otherwise; a preview job ends `done` with `preview` set and `output` null until
//!   `.../render/` has run it again.
//! - Previews: made in a fifth of the render time (they cost a fifth); with
//!   `--preview-mode async` (the default) the preview call answers 201 at once and the job's
//!   `preview` is null until it is made; with `sync` the call is held until then and answers
//!   200 with `preview` set. Either way `output` stays null and `status` reads `done` once
//!   the preview is made, and the `preview` link is a page, not a file.
//! - A second `.../render/` on a job already rendered or rendering: 400 `{"detail":"This job
//!   has already been rendered."}`, nothing charged (the real API's answer is undocumented;
//!   charging twice would be worse to rehearse against, and a client must never rely on
//!   either). A render of a preview not made yet: 400, nothing charged. Stats count accepted
//!   renders (`renders_by_job`) and every render call that reached the server
//!   (`render_requests_by_job`), per job id.
//! - Unknown routes: Django's HTML 404; wrong method: 405 `{"detail":"Method \"X\" not
//!   allowed."}`.
//!
//! # Catalogue
//! 32 public personas (UUID ids; "Ava" has two looks, so the name alone is ambiguous; one
//! persona is `is_active: false`), two custom avatars of the account that the list does not
//! show (`GET /api/personas/{id}/` finds them; "Pip (mascot)" is still `processing` and a
//! creation naming it is a 400), and 22 voices with 33 accents (`gender` `male`, `female`,
//! `non_binary`; accents such as American, British, Australian, Spanish, German, Japanese).
//! The data and the UUIDs are in `src/sandbox/catalog/data.rs`; `creatify-batch avatars
//! --sandbox` and `voices --sandbox` print them. A few, as the samples use them:
//!
//! | persona (`avatar_id`) | name | gender | age_range | location | style |
//! |---|---|---|---|---|---|
//! | `edb9719c-42af-5c7f-83d5-b7de95567b5e` | Ava | f | adult | indoor | presenter |
//! | `59a2f478-35aa-54dd-811f-d70078d765aa` | Marco | m | adult | outdoor | selfie |
//! | `bf43f4a8-3cf6-52d3-9e4e-f9716bdbc8aa` | Sam | nb | adult | indoor | presenter |
//!
//! | voice | accent | accent id (`voice.voice_id`) |
//! |---|---|---|
//! | Ava | American | `52825997-e2f1-5148-a3f3-620a6cb2bacf` |
//! | Ava | British | `540e3a23-0fee-5f7c-9ea9-84f80a0fe3c7` |
//! | Marco | Spanish | `5fb80448-886f-590f-b323-8c40dbd48417` |
//!
//! # Fault file (`--faults FILE`)
//! TOML, unknown keys refused. Rates are probabilities; within one endpoint table at most
//! one fault hits a request, so its rates add up to at most 1. Tables: `create` (POST create,
//! preview, render), `poll` (GET jobs), `account` (credits, personas, voices), `download`
//! (media), `jobs`, `webhooks`.
//! ```toml
//! [create]             # creations; previews and renders too unless [preview]/[render]
//! lost = 0.05          # job created and billed, connection dropped before the 201
//! reset = 0.02         # connection closed before any answer, nothing processed
//! status_503 = 0.02    # also status_500, status_502 (HTML bodies, nothing processed)
//! slow = 0.01          # processed, answered after slow_seconds
//! stall = 0.01         # held slow_seconds, then processed (even if the client gave up)
//! slow_seconds = 45
//!
//! [render]             # only renders (own request numbers); [preview] likewise
//! lost = 0.5           # render taken (charged, started), connection dropped before the answer
//!
//! [poll]
//! status_500 = 0.05
//! html = 0.02          # 200 with an HTML maintenance page instead of JSON
//!
//! [download]
//! truncate = 0.1       # Content-Length promised, half sent, connection cut
//! url_ttl_seconds = 30 # job media URLs answer 403 after this long
//!
//! [jobs]               # decided per job name, so reruns see the same outcome
//! fail = 0.05          # ends "failed" with a failed_reason
//! reject = 0.02        # ends "rejected" early
//! moderating = 0.1     # reports the undocumented status "moderating" while queued
//!
//! [webhooks]
//! duplicate = 0.2      # the webhook is POSTed twice
//! lost = 0.1           # the webhook is never POSTed
//! early = 0.1          # the webhook comes as the render starts, saying "done" (a lie)
//! late_seconds = 5     # every webhook comes this long after its job ends (real seconds)
//! ```
//!
//! # Persistence format
//! `STATE_DIR/sandbox-journal.jsonl`, one JSON object per line, appended, never rewritten:
//! `{"event":"account","credits":N}` first, then `{"event":"job","job":{...}}` per creation
//! (the whole job, with its charge, render time and fate),
//! `{"event":"render","id":...,"at_ms":...,"credits":N}` per render of a preview and
//! `{"event":"top_up","credits":N}` per [`Sandbox::add_credits`]. A torn last
//! line (a crash mid-write, never acknowledged) is cut off on start. The starting balance
//! comes from the file once it exists. Request counters and pending webhooks of jobs that
//! ended while the sandbox was down are not kept.

mod app;
mod assets;
pub mod catalog;
pub mod dialect;
mod endpoint;
mod errors;
pub mod faults;
pub mod job;
pub mod journal;
mod listing;
mod routes;
mod server;
mod state;
mod stats;
mod webhooks;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use governor::{Quota, RateLimiter};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use catalog::{Custom, Persona, Voice, CUSTOM, PERSONAS, VOICES};
pub use faults::Faults;
pub use stats::Stats;

use app::{now_ms, App, Settings};
use state::Store;

/// The fixed API id the sandbox accepts when `CREATIFY_API_ID` is not set.
pub const SANDBOX_API_ID: &str = "sandbox-id";
/// The fixed API key the sandbox accepts when `CREATIFY_API_KEY` is not set.
pub const SANDBOX_API_KEY: &str = "sandbox-key";

/// Every flag of `creatify-batch sandbox` except `--port`.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct SandboxOptions {
    /// Run the job clock this many times faster than real time.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Answer 429 above this many requests per second (default: unlimited).
    #[arg(long, value_name = "RPS")]
    pub rate_limit: Option<f64>,
    /// Requests allowed at once above the rate limit.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub burst: u32,
    /// Answer 429 to creations while this many jobs are not yet finished (default: no cap).
    #[arg(long, value_name = "N")]
    pub max_rendering: Option<usize>,
    /// After SECS real seconds, set the render cap to N (an account upgraded mid-run).
    #[arg(long, value_name = "SECS=N", value_parser = parse_raise)]
    pub raise_rendering: Option<RaiseRendering>,
    /// The account's starting credits.
    #[arg(long, value_name = "N", default_value_t = 10_000.0)]
    pub credits: f64,
    /// Inject faults as this TOML file says (format in the sandbox's docs).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Seed for every fault decision and job outcome.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Seconds it takes to render 30 s of video, at time scale 1.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub render_seconds: f64,
    /// How far each job's render time strays from that, as a share either way (each job's
    /// own, from its name and the seed); 0: every job takes exactly the render time.
    #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
    pub render_spread: f64,
    /// Serve every output video as a synthetic file of this many bytes (for download
    /// benchmarks) instead of the small sample MP4.
    #[arg(long, value_name = "N")]
    pub video_bytes: Option<u64>,
    /// Keep jobs and credits in this directory, so a restart finds them again.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// How `POST /api/lipsyncs_v2/preview/` answers: `async` (201 at once, then poll until
    /// `preview` is set) or `sync` (200 with the finished preview); the real API's is
    /// undocumented.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = PreviewMode::Async)]
    pub preview_mode: PreviewMode,
}

/// How the sandbox answers a preview creation (`--preview-mode`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PreviewMode {
    /// 201 with the job at once (`preview` still null); the client polls until it is set.
    #[default]
    Async,
    /// The request is held until the preview is made, then 200 with `preview` set and
    /// `output` null.
    Sync,
}

/// `--raise-rendering SECS=N`: the render cap becomes N, SECS real seconds after the start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RaiseRendering {
    /// Real seconds after the sandbox starts.
    pub after_secs: f64,
    /// The new cap.
    pub to: usize,
}

fn parse_raise(s: &str) -> Result<RaiseRendering, String> {
    let bad = || format!("{s:?}: expected SECS=N, e.g. 60=15");
    let (secs, n) = s.split_once('=').ok_or_else(bad)?;
    let after_secs: f64 = secs.trim().parse().map_err(|_| bad())?;
    let to: usize = n.trim().parse().map_err(|_| bad())?;
    if !after_secs.is_finite() || after_secs < 0.0 || to == 0 {
        return Err(bad());
    }
    Ok(RaiseRendering { after_secs, to })
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            rate_limit: None,
            burst: 10,
            max_rendering: None,
            raise_rendering: None,
            credits: 10_000.0,
            faults: None,
            seed: 0,
            render_seconds: 60.0,
            render_spread: 0.2,
            video_bytes: None,
            state_dir: None,
            preview_mode: PreviewMode::Async,
        }
    }
}

/// The credentials requests must carry. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Expected `X-API-ID`.
    pub api_id: String,
    /// Expected `X-API-KEY`.
    pub api_key: String,
    /// Whether they came from `CREATIFY_API_ID` / `CREATIFY_API_KEY`.
    pub from_environment: bool,
}

impl Credentials {
    /// The fixed, documented sandbox credentials.
    pub fn sandbox() -> Self {
        Self {
            api_id: SANDBOX_API_ID.into(),
            api_key: SANDBOX_API_KEY.into(),
            from_environment: false,
        }
    }

    /// `CREATIFY_API_ID` and `CREATIFY_API_KEY` when both are set, else the sandbox's own.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match (var("CREATIFY_API_ID"), var("CREATIFY_API_KEY")) {
            (Some(api_id), Some(api_key)) => Ok(Self {
                api_id,
                api_key,
                from_environment: true,
            }),
            (None, None) => Ok(Self::sandbox()),
            _ => bail!(
                "set both CREATIFY_API_ID and CREATIFY_API_KEY, or neither to use the sandbox's own credentials"
            ),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_id", &self.api_id)
            .field("api_key", &"<redacted>")
            .field("from_environment", &self.from_environment)
            .finish()
    }
}

/// Everything [`Sandbox::start`] needs.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The flags (the state directory is `options.state_dir`).
    pub options: SandboxOptions,
    /// Fault rates (already read from `options.faults`, if any).
    pub faults: Faults,
    /// What requests must carry.
    pub credentials: Credentials,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl SandboxConfig {
    /// From the command line: reads the fault file and the credentials from the environment.
    pub fn from_options(options: SandboxOptions, port: u16) -> anyhow::Result<Self> {
        let faults = match &options.faults {
            Some(path) => Faults::load(path)?,
            None => Faults::default(),
        };
        Ok(Self {
            options,
            faults,
            credentials: Credentials::from_env()?,
            port,
        })
    }

    /// For tests: any free port, the fixed credentials, no faults, and a job clock 100×
    /// faster than real time (a 3-second video renders in about 60 ms).
    pub fn for_tests() -> Self {
        Self {
            options: SandboxOptions {
                time_scale: 100.0,
                ..SandboxOptions::default()
            },
            faults: Faults::default(),
            credentials: Credentials::sandbox(),
            port: 0,
        }
    }
}

/// A running sandbox. Dropping it stops it too; [`Sandbox::shutdown`] also waits.
pub struct Sandbox {
    app: Arc<App>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on 127.0.0.1:`config.port`, replaying the state directory if there is one.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        let o = &config.options;
        check_options(o)?;
        config.faults.check()?;
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", config.port))?;
        let addr = listener.local_addr()?;
        let (journal, events) = match &o.state_dir {
            Some(dir) => {
                let (journal, events) = journal::Journal::open(dir)?;
                (Some(journal), events)
            }
            None => (None, Vec::new()),
        };
        let now = now_ms();
        let store = Store::new(
            o.credits,
            o.time_scale,
            journal,
            events,
            now,
            config.faults.api.existing_jobs,
        );
        let limiter = match o.rate_limit {
            None => None,
            Some(rps) => {
                let period = Duration::from_secs_f64(1.0 / rps);
                let burst = NonZeroU32::new(o.burst).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(period)
                    .context("--rate-limit is too high")?
                    .allow_burst(burst);
                Some(RateLimiter::direct(quota))
            }
        };
        let (stop, shutdown) = watch::channel(false);
        let webhook_client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("cannot build the webhook client")?;
        let app = Arc::new(App {
            settings: Settings {
                time_scale: o.time_scale,
                render_ms_per_second: o.render_seconds * 1000.0 / 30.0,
                render_spread: o.render_spread,
                max_rendering: o.max_rendering,
                raise_rendering: o
                    .raise_rendering
                    .map(|r| (now_ms() + (r.after_secs * 1000.0) as i64, r.to)),
                video_bytes: o.video_bytes,
                seed: o.seed,
                url_ttl_seconds: config.faults.download.url_ttl_seconds.unwrap_or(86_400.0),
                preview_mode: o.preview_mode,
            },
            base_url: format!("http://{addr}"),
            credentials: config.credentials.clone(),
            store: Mutex::new(store),
            faults: faults::FaultPlan::new(config.faults.clone(), o.seed),
            limiter,
            counters: Default::default(),
            signer: assets::Signer::new(o.seed),
            shutdown: shutdown.clone(),
            webhook_client,
        });
        // Jobs replayed from the journal that are still rendering get their webhooks.
        let replayed = app.store().all();
        for job in replayed {
            if job.deadline_ms(o.time_scale) > now {
                webhooks::schedule(&app, &job);
            }
        }
        let router = routes::router(app.clone());
        let server = tokio::spawn(server::serve(listener, app.clone(), router, shutdown));
        tracing::debug!(%addr, "sandbox listening");
        Ok(Sandbox {
            app,
            addr,
            stop,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds `credits` to the account (a top-up), durably when there is a state directory:
    /// a restart keeps it, while `--credits` only sets the balance of a new account.
    pub async fn add_credits(&self, credits: f64) -> anyhow::Result<()> {
        if !(credits.is_finite() && credits >= 0.0) {
            bail!("a top-up must be 0 credits or more, got {credits}");
        }
        let durable = self.app.store().top_up(credits);
        if let Some(durable) = durable {
            durable
                .await
                .map_err(|_| anyhow::anyhow!("the sandbox journal has stopped"))?
                .map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    /// The same figures as `GET /__sandbox/stats`.
    pub fn stats(&self) -> Stats {
        self.app.stats()
    }

    /// Stops accepting, lets open connections finish (briefly), and waits.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn check_options(o: &SandboxOptions) -> anyhow::Result<()> {
    if !(o.time_scale.is_finite() && o.time_scale > 0.0) {
        bail!("--time-scale must be more than 0, got {}", o.time_scale);
    }
    if let Some(rps) = o.rate_limit {
        if !(rps.is_finite() && rps > 0.0) {
            bail!("--rate-limit must be more than 0 requests per second, got {rps}");
        }
    }
    if o.burst == 0 {
        bail!("--burst must be at least 1");
    }
    if !(o.credits.is_finite() && o.credits >= 0.0) {
        bail!("--credits must be 0 or more, got {}", o.credits);
    }
    if !(o.render_seconds.is_finite() && o.render_seconds > 0.0) {
        bail!(
            "--render-seconds must be more than 0, got {}",
            o.render_seconds
        );
    }
    if !(0.0..1.0).contains(&o.render_spread) {
        bail!(
            "--render-spread must be from 0 to less than 1 (a share), got {}",
            o.render_spread
        );
    }
    Ok(())
}

/// `creatify-batch sandbox`: serves on 127.0.0.1:`port` until Ctrl-C, after printing the
/// base URL and the credentials to use (the key only when it is the fixed sandbox one).
pub async fn run_cli(opts: SandboxOptions, port: u16) -> anyhow::Result<()> {
    let config = SandboxConfig::from_options(opts, port)?;
    let sandbox = Sandbox::start(config.clone()).await?;
    println!("Creatify sandbox listening on {}", sandbox.base_url());
    println!("  base URL:          {}", sandbox.base_url());
    if config.credentials.from_environment {
        println!("  CREATIFY_API_ID:   (from your environment)");
        println!("  CREATIFY_API_KEY:  (from your environment)");
    } else {
        println!("  CREATIFY_API_ID:   {SANDBOX_API_ID}");
        println!("  CREATIFY_API_KEY:  {SANDBOX_API_KEY}");
    }
    if let Some(dir) = &config.options.state_dir {
        println!("  state:             {}", dir.display());
    }
    println!(
        "  stats:             {}/__sandbox/stats",
        sandbox.base_url()
    );
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    sandbox.shutdown().await;
    Ok(())
}
