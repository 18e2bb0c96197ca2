//! Webhooks (`[poll] webhook_listen`, `webhook_url`): the API's "job finished" calls, heard
//! by a listener this run opens, as hints that free a render slot the moment its job ends.
//!
//! Polling has a floor where the account's render cap binds: a slot refilled within a second
//! of its job's end needs that end predicted from two looks while it runs (see
//! [`super::refill`]), about 0.7 status calls per video. A webhook says so for nothing. But
//! it is only a hint (creatify-api.md: no signature, no documented retries, may come twice),
//! so:
//! - **Every creation asks for one**: `webhook_url` is set to this run's URL, a random path
//!   under `webhook_url` that no one else knows (a row that names its own `webhook_url` keeps
//!   it, and is polled as without webhooks).
//! - **A hint frees a slot, never a row.** A job whose webhook says it ended holds no render
//!   slot; the next creation goes at once. It is still confirmed by a GET before anything is
//!   recorded or downloaded, lazily (within `max_interval_secs`; at once for the last job,
//!   and once no row waits, whenever enough are hinted to keep the downloads busy), in a
//!   round that asks about every job at once.
//! - **The other jobs are looked at every `max_interval_secs`**, a safety net for a webhook
//!   that is lost.
//! - **Trust is lost for the run** when a hint is proven wrong (its job still rendering at the
//!   confirming GET), when jobs were seen ended [`LATE`] ago with no webhook arriving at all
//!   (an address the API cannot reach; one that comes late for an ended job keeps trust), or
//!   when the listener stops: polling goes on as without webhooks, and the run says why.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::JobStatus;

use super::poll::SLOT_GAP;
use super::{Coordinator, Event};

/// Jobs seen ended by a poll, with no webhook ever heard, before webhooks are given up.
const UNHEARD: usize = 2;
/// How long a job seen ended by a poll waits for its webhook before it counts as unheard: a
/// webhook may come from a delivery queue seconds after the status changed.
const LATE: Duration = Duration::from_secs(10);
/// Hints kept for jobs not followed yet (a webhook that came before its creation's answer
/// was handled); past this many, the oldest are forgotten.
const HELD: usize = 1000;

/// The listener this run opened, and the URL the API is asked to call.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    token: String,
    url: String,
}

impl Listener {
    /// Listens on `listen`; the API is asked to call `url` (or `http://<listen>` when it is
    /// a specific address), under a random path.
    pub async fn bind(listen: SocketAddr, url: Option<&url::Url>) -> Result<Self, String> {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            format!(
                "cannot listen for webhooks on {listen} ({e}); change [poll] webhook_listen, \
                 or leave it out to poll without webhooks"
            )
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("cannot listen for webhooks on {listen} ({e})"))?;
        let base = match url {
            Some(u) => u.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        };
        let token = uuid::Uuid::new_v4().simple().to_string();
        let url = format!("{base}/{token}");
        Ok(Self {
            listener,
            token,
            url,
        })
    }

    /// The URL every creation names (it holds the path's secret: never logged).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until the run ends, every hint sent to the coordinator.
    pub(super) fn serve(self, events: mpsc::UnboundedSender<Event>) -> tokio::task::JoinHandle<()> {
        let state = (self.token, events.clone());
        let app = Router::new()
            .route("/{*path}", post(hint))
            .with_state(state);
        tokio::spawn(async move {
            let why = match axum::serve(self.listener, app).await {
                Err(e) => e.to_string(),
                Ok(()) => "it ended".to_owned(),
            };
            let _ = events.send(Event::Unhooked(why));
        })
    }
}

/// One webhook: `{"id", "status", ...}` POSTed to a path ending in this run's token.
async fn hint(
    State((token, events)): State<(String, mpsc::UnboundedSender<Event>)>,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    // Behind a proxy the path may keep a prefix; the token is its last segment.
    if path.rsplit('/').next() != Some(token.as_str()) {
        return StatusCode::NOT_FOUND;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::debug!("a webhook that is not JSON; ignored");
        return StatusCode::BAD_REQUEST;
    };
    let (Some(id), Some(status)) = (v["id"].as_str(), v["status"].as_str()) else {
        tracing::debug!("a webhook without an id or a status; ignored");
        return StatusCode::BAD_REQUEST;
    };
    let _ = events.send(Event::Hinted {
        id: id.to_owned(),
        status: JobStatus::from(status),
    });
    StatusCode::OK
}

/// Whether webhooks are asked for and believed.
#[derive(Debug, Default)]
pub(super) struct Hints {
    /// This run listens, and nothing has proven its hints wrong or unheard yet.
    trusted: bool,
    /// Hints heard for jobs this run follows.
    heard: usize,
    /// Jobs (by id) a poll saw ended before any webhook was heard, and when.
    unheard: std::collections::HashMap<String, Instant>,
    /// Ids hinted before this run followed them, oldest first.
    held: std::collections::VecDeque<String>,
}

impl Hints {
    pub fn new(listening: bool) -> Self {
        Self {
            trusted: listening,
            ..Self::default()
        }
    }

    /// Stops believing hints: true if they were believed until now.
    fn give_up(&mut self) -> bool {
        std::mem::replace(&mut self.trusted, false)
    }

    /// Whether slots are freed by hints and polls go at the safety net's pace.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// A poll saw job `id` ended that no hint had announced: with none heard yet, the API
    /// may not reach this machine (decided by [`Self::unheard_too_long`]).
    fn ended_unheard(&mut self, id: &str, now: Instant) {
        if self.trusted && self.heard == 0 {
            tracing::debug!(job = %id, "job ended before its webhook");
            self.unheard.entry(id.to_owned()).or_insert(now);
        }
    }

    /// A webhook for job `id`: true if a poll had seen it end first (the webhook was only
    /// late, and the address is reachable).
    fn came_late(&mut self, id: &str) -> bool {
        let late = self.unheard.remove(id).is_some();
        if late {
            tracing::debug!(job = %id, "a webhook came after a poll saw its job end");
            self.heard += 1;
        }
        late
    }

    /// Whether [`UNHEARD`] jobs have ended [`LATE`] ago with no webhook heard at all: true
    /// if that gives webhooks up now.
    fn unheard_too_long(&mut self, now: Instant) -> bool {
        if !self.trusted || self.heard > 0 {
            return false;
        }
        let long = self
            .unheard
            .values()
            .filter(|at| **at + LATE <= now)
            .count();
        if long < UNHEARD || !self.give_up() {
            return false;
        }
        tracing::warn!(
            "{UNHEARD} jobs ended and no webhook arrived within {}s: the API does not seem to \
             reach [poll] webhook_url; polling on as without webhooks",
            LATE.as_secs()
        );
        true
    }

    /// A hinted job is still rendering: hints are not believed any more. True if that
    /// gives webhooks up.
    fn proven_wrong(&mut self, key: &str) -> bool {
        if !self.give_up() {
            return false;
        }
        tracing::warn!(%key, "a webhook said this job had ended but it is still rendering; \
             webhooks are not believed for the rest of the run, polling on without them");
        true
    }
}

impl Coordinator {
    /// A webhook said job `id` is `status`.
    pub(super) fn on_hinted(&mut self, id: &str, status: &JobStatus) {
        if !self.hints.trusted() || !status.is_terminal() {
            return;
        }
        let now = Instant::now();
        // Rows that can still be sent into the slot.
        let waiting = self.rows_wait();
        // Seen ended by a poll first: still followed if its `done` had no output yet.
        let late = self.hints.came_late(id);
        let Some(r) = self.rendering.get_mut(id) else {
            if late {
                return;
            }
            // Perhaps its creation's answer is still on its way: kept for a while.
            tracing::debug!(job = %id, "a webhook for a job this run does not follow (yet)");
            if self.hints.held.len() >= HELD {
                self.hints.held.pop_front();
            }
            self.hints.held.push_back(id.to_owned());
            return;
        };
        if r.hinted() || !r.hooked {
            return; // Sent twice, or not a webhook this run asked for.
        }
        r.hinted_at = Some(now);
        self.hints.heard += 1;
        let cfg = &self.shared.cfg;
        // Confirmed lazily (the slot is what mattered; a confirmation only starts a
        // download), in one round for every hinted job: after `max_interval_secs`, at once
        // for the last job rendering, and, once no row waits, as soon as enough are hinted
        // to keep the downloads busy when they would otherwise run dry.
        let hinted = self.hinted();
        let streams = cfg.download_concurrency.max(1);
        let dry = self.downloads.len() + self.downloading < streams;
        let confirm = if !waiting && (hinted == self.rendering.len() || dry && hinted >= streams) {
            SLOT_GAP
        } else {
            cfg.poll_max
        };
        let due = self.rendering.get_mut(id).map(|r| r.due_by(now + confirm));
        if let Some(due) = due {
            self.next_poll = self.next_poll.min(due.max(now + SLOT_GAP));
        }
    }

    /// Job `id` is followed now: a hint that came for it before counts.
    pub(super) fn hint_held(&mut self, id: &str) {
        let Some(at) = self.hints.held.iter().position(|h| h == id) else {
            return;
        };
        self.hints.held.remove(at);
        self.on_hinted(id, &JobStatus::Done);
    }

    /// A poll saw job `id` (row `key`) ended (`hinted`: its webhook had come) or still
    /// rendering.
    pub(super) fn hint_checked(&mut self, id: &str, key: &str, hinted: bool, ended: bool) {
        match (hinted, ended) {
            (false, true) => self.hints.ended_unheard(id, Instant::now()),
            (true, false) if self.hints.proven_wrong(key) => self.hints_lost(),
            _ => {}
        }
    }

    /// Gives webhooks up once jobs ended with none heard for [`LATE`] (called as the run's
    /// loop turns, at least every second).
    pub(super) fn hints_unheard(&mut self) {
        if self.hints.unheard_too_long(Instant::now()) {
            self.hints_lost();
        }
    }

    /// Webhooks were given up: every job holds its slot until a poll sees it end, and is
    /// looked at soon, then as without webhooks.
    fn hints_lost(&mut self) {
        let now = Instant::now();
        let min = self.shared.cfg.poll_min;
        for r in self.rendering.values_mut() {
            r.hinted_at = None;
            r.look_again(now + min, min);
        }
        self.next_poll = self.next_poll.min(now + min);
    }

    /// The listener stopped: slots wait for polls from now on.
    pub(super) fn hooks_down(&mut self, why: &str) {
        if self.hints.give_up() {
            tracing::warn!("the webhook listener stopped ({why}); polling on without webhooks");
            self.hints_lost();
        }
    }

    /// A creation sent into a slot only a webhook had freed was refused over the render cap:
    /// the account still counted that job. Slots wait for polls from now on.
    pub(super) fn hint_refused(&mut self, key: &str) {
        if self.hints.give_up() {
            tracing::warn!(%key, "a creation sent when a webhook said a render slot was free \
                 was refused over the cap; webhooks are not believed for the rest of the run");
        }
        self.hints_lost();
    }

    /// While hints are believed, the next look at a job that asked for one (`hooked`) and
    /// is not hinted: the safety net's pace.
    pub(super) fn hint_pace(&self, hooked: bool) -> Option<Duration> {
        (hooked && self.hints.trusted()).then_some(self.shared.cfg.poll_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_this_runs_path_is_heard_and_its_hints_reach_the_coordinator() {
        let l = Listener::bind(([127, 0, 0, 1], 0).into(), None)
            .await
            .unwrap();
        let url = l.url().to_owned();
        let (base, token) = url.rsplit_once('/').unwrap();
        assert!(base.starts_with("http://127.0.0.1:"), "{url}");
        assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let served = l.serve(tx);
        let http = reqwest::Client::new();
        let post = |to: String, body: &'static str| {
            let http = http.clone();
            async move { http.post(to).body(body).send().await.unwrap().status() }
        };
        let hint = r#"{"id": "j1", "status": "COMPLETED", "output": null}"#;
        assert_eq!(post(format!("{base}/other"), hint).await, 404);
        assert_eq!(post(format!("{base}/{token}x"), hint).await, 404);
        assert_eq!(post(url.clone(), "not json").await, 400);
        assert_eq!(post(url.clone(), r#"{"status": "done"}"#).await, 400);
        assert!(
            rx.try_recv().is_err(),
            "nothing but a hint reaches the coordinator"
        );
        // Behind a proxy that keeps its prefix, the token is the last segment.
        assert_eq!(post(format!("{base}/proxy/{token}"), hint).await, 200);
        assert_eq!(post(url, hint).await, 200);
        for _ in 0..2 {
            match rx.recv().await {
                Some(Event::Hinted { id, status }) => {
                    assert_eq!((id.as_str(), status), ("j1", JobStatus::Done));
                }
                _ => panic!("a hint"),
            }
        }
        served.abort();
    }
}
