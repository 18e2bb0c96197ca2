//! The HTTP client: every call waits for its slot in one shared schedule ([`Pacer`]: a GCRA
//! rate with a burst, paused by a 429's `Retry-After`, slowed when the configured rate turns
//! out to be above the account's limit), so the whole run, not each task, stays under it.
//!
//! GETs retry with exponential backoff and jitter (`backon`). `create` never retries: a POST
//! that may have created a billed job is the engine's to reconcile, so it reports exactly what
//! it knows ([`CreateOutcome`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::listing;
use super::pace::{Pacer, Priority};

use super::error::{detail_of, speaks_of_concurrency, speaks_of_credits, ApiError, ErrorClass};
use super::model::{CreateLipsync, Job};

/// Most ids one `GET /api/lipsyncs_v2/?ids=` accepts.
pub const MAX_IDS_PER_CALL: usize = 100;

/// The API id and key. Never printed: `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    id: String,
    key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    /// Credentials from values.
    pub fn new(id: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: key.into(),
        }
    }

    /// Credentials from the environment variables named `id_var` and `key_var`.
    pub fn from_env(id_var: &str, key_var: &str) -> Result<Self, String> {
        let get = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        match (get(id_var), get(key_var)) {
            (Some(id), Some(key)) => Ok(Self::new(id.trim(), key.trim())),
            (id, key) => {
                let missing: Vec<&str> = [(id.is_none(), id_var), (key.is_none(), key_var)]
                    .into_iter()
                    .filter_map(|(m, v)| m.then_some(v))
                    .collect();
                Err(format!(
                    "missing API credentials: set {} (from your Creatify account's API settings), \
                     or rehearse with --sandbox",
                    missing.join(" and ")
                ))
            }
        }
    }

    /// Both secrets, for scanning outputs in tests and redacting messages.
    pub fn secrets(&self) -> [&str; 2] {
        [&self.id, &self.key]
    }
}

/// How the client talks to the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.creatify.ai` or a sandbox.
    pub base_url: Url,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout for API calls (not downloads).
    pub request_timeout: Duration,
    /// Timeout for one page of the account's job list, which may be slow.
    pub list_timeout: Duration,
    /// Sustained requests per second, for all calls together.
    pub requests_per_second: f64,
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Longest `Retry-After` honoured; longer ones are capped.
    pub max_retry_after: Duration,
    /// Attempts for a GET before giving up.
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
}

/// What a creation POST ended in. Only `Created` and `NotCreated` are certain.
#[derive(Debug)]
pub enum CreateOutcome {
    /// 201 (or 200): the job exists.
    Created(Box<Job>),
    /// The API certainly did not create the job.
    NotCreated(ApiError),
    /// It may or may not exist (timeout after sending, reset, 5xx, unreadable 201).
    Ambiguous(ApiError),
}

/// API calls made, by kind, for the summary and the benchmarks.
#[derive(Debug, Default)]
pub struct CallCounts {
    /// Creation POSTs.
    pub create: AtomicU64,
    /// Batched status GETs.
    pub poll: AtomicU64,
    /// Single-job GETs.
    pub get: AtomicU64,
    /// Account job listings (reconciliation).
    pub list: AtomicU64,
    /// Credit balance GETs.
    pub credits: AtomicU64,
    /// Download GETs.
    pub download: AtomicU64,
    /// Render POSTs of approved previews.
    pub render: AtomicU64,
    /// 429 answers seen.
    pub throttled: AtomicU64,
}

impl CallCounts {
    /// Non-download API calls.
    pub fn api_calls(&self) -> u64 {
        [
            &self.create,
            &self.poll,
            &self.get,
            &self.list,
            &self.credits,
            &self.render,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// A client for one account. Cheap to share behind an `Arc`.
pub struct ApiClient {
    http: reqwest::Client,
    downloads: reqwest::Client,
    base: Url,
    auth: HeaderMap,
    config: ClientConfig,
    pacer: Pacer,
    /// Calls made so far.
    pub counts: Arc<CallCounts>,
    /// Whether API calls reach the server (see [`super::reach`]).
    pub reach: super::reach::Reach,
    /// A second `?ids=` for the jobs an answer left out found none of them (a server that
    /// ignores `ids`): from then on such jobs are asked for each by itself at once (see
    /// [`super::statuses`]).
    pub(super) ids_ignored: std::sync::atomic::AtomicBool,
}

impl ApiClient {
    /// A client for `config` with `credentials`.
    pub fn new(config: ClientConfig, credentials: &Credentials) -> anyhow::Result<Self> {
        let mut auth = HeaderMap::new();
        for (name, value) in [
            ("x-api-id", &credentials.id),
            ("x-api-key", &credentials.key),
        ] {
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                anyhow::anyhow!("the API credentials contain characters an HTTP header can't carry")
            })?;
            v.set_sensitive(true);
            auth.insert(name, v);
        }
        super::tls::check_env()?;
        let http = super::tls::trusting(reqwest::Client::builder())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // The key travels in custom headers, which reqwest would forward to any host a
            // redirect names; the API never redirects, so follow none.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("creatify-batch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let downloads = super::tls::trusting(reqwest::Client::builder())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.request_timeout)
            .user_agent(concat!("creatify-batch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut base = config.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            http,
            downloads,
            base,
            auth,
            pacer: Pacer::new(config.requests_per_second, config.burst)
                .with_backoff_max(config.max_retry_after),
            config,
            counts: Arc::default(),
            reach: Default::default(),
            ids_ignored: Default::default(),
        })
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub(super) fn url(&self, path: &str) -> Url {
        // `path` is one of our constants ("api/lipsyncs_v2/"), so joining cannot fail on a
        // valid base; fall back to the base rather than panic.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// Withdraws every creation still waiting for its slot, and every later one: they end
    /// [`CreateOutcome::NotCreated`] with [`ApiError::NotSent`], unsent. For a run that
    /// stops (Ctrl-C, refused credentials, creations throttled too long).
    pub fn withdraw_creations(&self) {
        self.pacer.withdraw_creations();
    }

    /// One request, no retry: the status, and the body as text.
    pub(super) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&CreateLipsync>,
    ) -> Result<(StatusCode, String), ApiError> {
        let resp = self.send_stream(method, url, body, None).await?;
        let status = resp.status();
        let text = resp.text().await.map_err(network)?;
        Ok((status, text))
    }

    /// One request, no retry: a success answer whose body is still to be read, or the
    /// error. `timeout` replaces the request timeout (job lists may be slow).
    async fn send_stream(
        &self,
        method: Method,
        url: Url,
        body: Option<&CreateLipsync>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ApiError> {
        let priority = if method == Method::POST {
            Priority::Create
        } else {
            Priority::Status
        };
        let Some(ticket) = self.pacer.admit(priority).await else {
            return Err(ApiError::NotSent);
        };
        let mut req = self.http.request(method, url).headers(self.auth.clone());
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = match req.send().await.map_err(network) {
            Ok(r) => r,
            Err(e) => {
                if e.is_unreachable() {
                    self.reach.unreachable(&e.to_string());
                }
                return Err(e);
            }
        };
        self.reach.answered();
        let status = resp.status();
        if status.is_success() {
            // The body is the caller's to read (a job list is read as it streams).
            self.pacer.answered(ticket);
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(network)?;
        let detail = detail_of(&text);
        // A refusal that speaks of the account's concurrent renders is its render cap,
        // whatever the status code (a 400, a 403, a 409): slow down, not a row's fault.
        let render_cap = status.is_client_error()
            && status != StatusCode::UNAUTHORIZED
            && speaks_of_concurrency(&detail)
            && !speaks_of_credits(&detail);
        if status == StatusCode::TOO_MANY_REQUESTS || render_cap {
            self.counts.throttled.fetch_add(1, Ordering::Relaxed);
            let asked = retry_after(&headers, std::time::SystemTime::now());
            let capped = asked.map(|d| d.min(self.config.max_retry_after));
            // A refusal over the account's render cap says nothing about the call rate, and
            // pausing every call would hold back the status polls that see a slot free: it
            // only tells this creation when to come back.
            let retry_after = if speaks_of_concurrency(&detail) {
                self.pacer.answered(ticket);
                capped
                    .filter(|d| !d.is_zero())
                    .unwrap_or(Duration::from_secs(1))
            } else {
                self.pacer.throttled(ticket, capped, true)
            };
            return Err(ApiError::Throttled {
                retry_after,
                asked,
                detail,
            });
        }
        self.pacer.answered(ticket);
        Err(ApiError::Status {
            status: status.as_u16(),
            detail,
        })
    }

    pub(super) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ApiError> {
        let attempt = || async {
            let (status, text) = self.send(Method::GET, url.clone(), None).await?;
            serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                status: status.as_u16(),
                message: format!("{e}; body starts {:?}", detail_of(&text)),
            })
        };
        attempt
            .retry(self.backoff())
            .when(|e: &ApiError| e.class() == ErrorClass::Retryable)
            .notify(|e, wait| tracing::debug!(error = %e, ?wait, "retrying a GET"))
            .await
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.config.min_delay)
            .with_max_delay(self.config.max_delay)
            .with_max_times(self.config.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// `POST /api/lipsyncs_v2/`, once.
    pub async fn create(&self, body: &CreateLipsync) -> CreateOutcome {
        self.create_at("api/lipsyncs_v2/", body).await
    }

    /// A creation POST to `path` (a creation, or a preview), once.
    pub(super) async fn create_at(&self, path: &str, body: &CreateLipsync) -> CreateOutcome {
        let sent = self.send(Method::POST, self.url(path), Some(body)).await;
        // Counted when it left: one withdrawn from its slot never did.
        if !matches!(sent, Err(ApiError::NotSent)) {
            self.counts.create.fetch_add(1, Ordering::Relaxed);
        }
        match sent {
            Ok((status, text)) => match serde_json::from_str::<Job>(&text) {
                Ok(job) => CreateOutcome::Created(Box::new(job)),
                Err(e) => CreateOutcome::Ambiguous(ApiError::Decode {
                    status: status.as_u16(),
                    message: e.to_string(),
                }),
            },
            Err(
                e @ ApiError::Network {
                    maybe_sent: false, ..
                },
            ) => CreateOutcome::NotCreated(e),
            Err(e @ ApiError::Network { .. }) => CreateOutcome::Ambiguous(e),
            Err(
                e @ ApiError::Status {
                    status: 500..=599, ..
                },
            ) => CreateOutcome::Ambiguous(e),
            Err(e @ ApiError::NotSent) => CreateOutcome::NotCreated(e),
            Err(e) => CreateOutcome::NotCreated(e),
        }
    }

    /// Where a `next` link leads, always on the API's own host: the credentials never go
    /// anywhere else. A link naming another host (a server behind a proxy builds its links
    /// from its own address) is read for its path from `api/` on and its query, put on the
    /// base URL.
    pub(super) fn same_origin(&self, link: &str) -> Option<Url> {
        let url = self.base.join(link).ok()?;
        let same = url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default();
        if same {
            return Some(url);
        }
        let path = url.path();
        let Some(at) = path.find("api/") else {
            tracing::warn!(
                "the API's next-page link points elsewhere and names no API path; not followed"
            );
            return None;
        };
        let mut rebased = self.base.join(&path[at..]).ok()?;
        rebased.set_query(url.query());
        tracing::debug!("next-page link on another host; following it on the API's own");
        Some(rebased)
    }

    /// `GET /api/lipsyncs_v2/{id}/`, retried.
    pub async fn job(&self, id: &str) -> Result<Job, ApiError> {
        self.counts.get.fetch_add(1, Ordering::Relaxed);
        let mut url = self.url("api/lipsyncs_v2/");
        url.path_segments_mut()
            .map_err(|_| ApiError::Decode {
                status: 0,
                message: "the base URL cannot take a path".into(),
            })?
            .pop_if_empty()
            .push(id)
            .push("");
        self.get_json(url).await
    }

    /// Walks the account's job list (`GET /api/lipsyncs_v2/`), page after page (plain array,
    /// or DRF pages by `page`/`page_size` or `limit`/`offset` with `next` links), handing each
    /// job to `visit` until it says stop, the list ends, or `max_pages` pages were read. Each
    /// page may take `[api] list_timeout_secs`. Not retried: a walk that fails is walked
    /// again later, from the top.
    pub async fn walk_jobs<V>(
        &self,
        mut visit: V,
        max_pages: usize,
    ) -> Result<(Walked, V), ApiError>
    where
        V: listing::Visit,
    {
        let mut url = self.url("api/lipsyncs_v2/");
        // Asked for in both paging styles; a server ignores the parameters it does not use.
        url.query_pairs_mut()
            .append_pair("page_size", "100")
            .append_pair("limit", "100");
        let mut walked = Walked::default();
        loop {
            let (end, v) = self.read_page(&url, visit).await?;
            visit = v;
            walked.pages += 1;
            walked.items += end.items;
            walked.unreadable += end.unreadable;
            walked.count = end.count.or(walked.count);
            walked.paged |= end.paged;
            if end.stopped {
                walked.stopped = true;
                return Ok((walked, visit));
            }
            match end.next {
                None => {
                    walked.reached_end = true;
                    return Ok((walked, visit));
                }
                Some(next) => match self.same_origin(&next) {
                    Some(n) if walked.pages < max_pages => url = n,
                    _ => return Ok((walked, visit)),
                },
            }
        }
    }

    /// One page of the job list, tried up to `[retry] max_attempts` times with backoff while
    /// the errors are retryable (a page read again from its start: the visitor skips the jobs
    /// it saw).
    async fn read_page<V: listing::Visit>(
        &self,
        url: &Url,
        mut visit: V,
    ) -> Result<(listing::PageEnd, V), ApiError> {
        let mut delays = self.backoff().build();
        loop {
            self.counts.list.fetch_add(1, Ordering::Relaxed);
            let error = match self
                .send_stream(
                    Method::GET,
                    url.clone(),
                    None,
                    Some(self.config.list_timeout),
                )
                .await
            {
                Ok(resp) => match listing::read_page(resp, visit).await {
                    (Ok(end), Some(v)) => return Ok((end, v)),
                    (Err(e), Some(v)) => {
                        visit = v;
                        e
                    }
                    (Err(e), None) => return Err(e),
                    (Ok(_), None) => {
                        return Err(ApiError::Decode {
                            status: 0,
                            message: "the job list reader lost its place".into(),
                        })
                    }
                },
                Err(e) => e,
            };
            match delays.next() {
                Some(wait) if error.class() == ErrorClass::Retryable => {
                    tracing::debug!(%error, ?wait, "retrying a page of the job list");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(error),
            }
        }
    }

    /// `GET /api/remaining_credits/`, retried.
    pub async fn remaining_credits(&self) -> Result<f64, ApiError> {
        #[derive(serde::Deserialize)]
        struct Remaining {
            remaining_credits: serde_json::Value,
        }
        self.counts.credits.fetch_add(1, Ordering::Relaxed);
        let r: Remaining = self.get_json(self.url("api/remaining_credits/")).await?;
        match &r.remaining_credits {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::Decode {
            status: 200,
            message: format!("remaining_credits is not a number: {}", r.remaining_credits),
        })
    }

    /// Starts downloading `url` from byte `from` (a `Range` request when `from > 0`), asking
    /// for identity encoding. No credentials are sent: output URLs live on a CDN, not on
    /// the API.
    pub async fn download(&self, url: &Url, from: u64) -> Result<reqwest::Response, ApiError> {
        self.counts.download.fetch_add(1, Ordering::Relaxed);
        // The file as it is: a body encoded on the way cannot be resumed with a range of
        // the file, and its length is not the file's. (A server that encodes anyway is
        // decoded by the engine.)
        let mut req = self
            .downloads
            .get(url.clone())
            .header(reqwest::header::ACCEPT_ENCODING, "identity");
        if from > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        req.send().await.map_err(network)
    }
}

/// How far a walk of the job list went.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Walked {
    /// Pages read.
    pub pages: usize,
    /// Jobs read.
    pub items: u64,
    /// Entries that could not be read as jobs.
    pub unreadable: u64,
    /// The list's own `count`, when it gave one.
    pub count: Option<u64>,
    /// Whether the list came in page envelopes.
    pub paged: bool,
    /// The visitor stopped it.
    pub stopped: bool,
    /// The list ended (no `next`).
    pub reached_end: bool,
}

/// What a 429's `Retry-After` asks for: whole or fractional seconds, or an HTTP date. A date
/// is read against the answer's own `Date` when it has one (both are the server's clock, so
/// a skewed local clock does not matter), else against `now`. `None` when the header is
/// missing, unreadable, or a date already past: the pacer then backs off on its own.
pub fn retry_after(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let server_now = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .unwrap_or(now);
    at.duration_since(server_now).ok().filter(|d| !d.is_zero())
}

fn network(e: reqwest::Error) -> ApiError {
    // Strip the URL: it is ours and adds nothing, and it keeps messages short.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if let Some(hint) = super::tls::hint(&message) {
        message.push_str(hint);
    }
    ApiError::Network {
        maybe_sent: !e.is_connect(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 21:00:00 GMT").unwrap();
        let secs = Duration::from_secs;
        assert_eq!(
            retry_after(&headers(&[("retry-after", "5")]), now),
            Some(secs(5))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", " 1.5 ")]), now),
            Some(Duration::from_millis(1500))
        );
        let date = "Tue, 01 Dec 2026 21:00:07 GMT";
        assert_eq!(
            retry_after(&headers(&[("retry-after", date)]), now),
            Some(secs(7))
        );
        // Against the server's own clock when it says what time it is.
        let with_date = headers(&[
            ("retry-after", date),
            ("date", "Tue, 01 Dec 2026 21:00:05 GMT"),
        ]);
        assert_eq!(retry_after(&with_date, now), Some(secs(2)));
        // Past, missing, garbage: the pacer's backoff decides.
        let past = "Tue, 01 Dec 2026 20:59:00 GMT";
        assert_eq!(retry_after(&headers(&[("retry-after", past)]), now), None);
        assert_eq!(retry_after(&headers(&[]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
    }
}
