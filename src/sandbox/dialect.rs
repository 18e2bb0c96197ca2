//! The API's dialect: how the sandbox answers where Creatify's docs are silent.
//!
//! The defaults are the sandbox's own picks (module docs of [`crate::sandbox`]). Every other
//! value is an answer the public docs do not rule out, so the client must be right for it
//! too; the `[api]` table of the fault file selects them, one deviation or several at once:
//! ```toml
//! [api]
//! list = "drf_page"            # job list: "array" (default), "drf_page" ({count,next,
//!                              # previous,results} with page/page_size), "limit_offset"
//!                              # (DRF LimitOffsetPagination: limit/offset, next links)
//! ids = "drf_page"             # `?ids=` answers: "array" (default) or "drf_page"
//! ids_max = 3                  # an `?ids=` answer holds at most N of the jobs asked
//!                              # about (the rest silently left out; documented: 100)
//! ids_ignored = true           # `?ids=` is ignored: the answer is the job list, as
//!                              # without it (`list`, `page_size`, `list_cap`,
//!                              # `list_order`, `list_delay_seconds`; not `ids_max`)
//! page_size = 20               # jobs per page when paginated (a client's page_size or
//!                              # limit is honoured up to this many)
//! list_cap = 50                # the list shows only the newest N jobs (no way to see more)
//! list_order = "oldest_first"  # "newest_first" (default), "oldest_first", "unordered"
//! list_delay_seconds = 5       # every job-list call answers this late
//! name_max = 100               # stored names are cut to N characters
//! name = "rewrite_brackets"    # "keep" (default), "rewrite_brackets" ([ ] become ( )),
//!                              # "drop" (the job's name is null), "strip" (trimmed, spaces
//!                              # collapsed)
//! status_case = "upper"        # "lower" (default) or "upper" (DONE, RUNNING, ...); the
//!                              # words apply wherever a job is written (creation answers,
//!                              # GETs, `?ids=`, the job list, webhooks)
//! status_done = "completed"    # the word for a finished job (default "done"); also
//! status_failed = "error"      # status_failed, status_rejected, status_running,
//!                              # status_pending, status_in_queue
//! retry_after = "http_date"    # 429's Retry-After: "seconds" (default), "http_date",
//!                              # "missing"
//! retry_after_seconds = 86400  # what every 429 asks for (default: the limiter's wait)
//! throttle_creations = true    # every creation POST answers 429 (nothing created;
//!                              # Retry-After: retry_after_seconds, else 1)
//! credits_status = 403         # the status of an "insufficient credits" refusal (402);
//!                              # other than 402 the text is "You do not have enough
//!                              # credits to create this video.", as a `detail`, or for
//!                              # 400 as DRF's {"non_field_errors": [...]}
//! media_gzip = true            # media sent with Content-Encoding: gzip
//! media_eof_cut = true         # media sent without Content-Length, connection closed
//!                              # cleanly at half the file (no chunked terminator)
//! media_close_delimited = true # media sent whole without Content-Length, ended by the
//!                              # connection's close (HTTP/1.0 style)
//! output_delay_seconds = 3     # a job reads `done` this long (real seconds) before
//!                              # `output` is set
//! empty_thumbnail = true       # `video_thumbnail` is "" on finished jobs
//! existing_jobs = 20000        # the account already holds this many older jobs
//! link_base = "http://api-internal.invalid:8000" # page links built on this address (a
//!                              # server behind a proxy), not the one the client called
//! catalog = "drf_page"         # `GET /api/personas/` and `/api/voices/` answer in DRF
//!                              # pages of `page_size` (default "array", as documented)
//! progress = "ahead"           # a running job's `progress` rises as the square root of
//!                              # the work done ("steady", the default: as the work): it
//!                              # says more than is done, so an end predicted from it is
//!                              # early
//! progress_step = 0.1          # a running job's `progress` moves in steps of this size
//!                              # (default: 0.01)
//! progress_rounding = "up"     # how it is rounded to them: "down" (the default), "up",
//!                              # "nearest" (up and nearest can say more than is done)
//! render_cap_counts = "running"
//!                              # what `--max-rendering` counts: "unfinished" (default:
//!                              # every job not yet ended) or "running" (pending and
//!                              # queued jobs are not counted, so more jobs than the cap
//!                              # are unfinished at once, and may even run at once)
//! queue_share = 0.25           # the share of its render a job waits (pending, then
//!                              # queued) before it runs (default 0.25; less than 0.7)
//! queue_change = { after_jobs = 4, share = 0.2 }
//!                              # jobs created after the first 4 wait this share instead
//!                              # (the service got busier or quieter mid-run: a job may
//!                              # start sooner than any before it)
//! ```

use serde::{Deserialize, Serialize};

/// How the job list and `?ids=` answers are shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListStyle {
    /// A plain JSON array (the documented `?ids=` answer).
    #[default]
    Array,
    /// DRF's PageNumberPagination: `{count, next, previous, results}`, `?page=&page_size=`.
    DrfPage,
    /// DRF's LimitOffsetPagination: the same envelope, `?limit=&offset=`.
    LimitOffset,
}

/// In which order the job list comes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Newest first (the sandbox's pick).
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// No stable order (shuffled by the seed).
    Unordered,
}

/// What the server does to a job's `name`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameMode {
    /// Stored as sent.
    #[default]
    Keep,
    /// `[` and `]` rewritten to `(` and `)`.
    RewriteBrackets,
    /// Not stored: the job's `name` is null.
    Drop,
    /// Trimmed, inner runs of whitespace collapsed to one space.
    Strip,
}

/// How a 429's `Retry-After` is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterForm {
    /// Whole seconds.
    #[default]
    Seconds,
    /// An HTTP date (RFC 9110 IMF-fixdate).
    HttpDate,
    /// No header at all.
    Missing,
}

/// How a running job's `progress` rises with the work done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressCurve {
    /// As the work (the sandbox's pick).
    #[default]
    Steady,
    /// As its square root: ahead of the work, most of all early on.
    Ahead,
}

/// How a running job's `progress` is rounded to its steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressRounding {
    /// Down (the sandbox's pick): never more than is done.
    #[default]
    Down,
    /// Up: up to a step more than is done.
    Up,
    /// To the nearest step.
    Nearest,
}

/// Which jobs the render cap (`--max-rendering`) counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderCapCounts {
    /// Every job not yet ended (the sandbox's pick).
    #[default]
    Unfinished,
    /// Only jobs reported `running`.
    Running,
}

/// Whether statuses are written in lower or upper case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCase {
    /// `done`.
    #[default]
    Lower,
    /// `DONE`.
    Upper,
}

/// The `[api]` table of the fault file (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialect {
    /// Shape of `GET /api/lipsyncs_v2/` without `ids`.
    pub list: ListStyle,
    /// Shape of `GET /api/lipsyncs_v2/?ids=`.
    pub ids: ListStyle,
    /// An `?ids=` answer holds at most this many of the jobs asked about.
    pub ids_max: Option<usize>,
    /// `?ids=` is ignored: the answer is the job list.
    pub ids_ignored: bool,
    /// Jobs per page when paginated.
    pub page_size: usize,
    /// Only the newest N jobs are ever listed.
    pub list_cap: Option<usize>,
    /// The job list's order.
    pub list_order: ListOrder,
    /// Every job-list call answers this many real seconds late.
    pub list_delay_seconds: f64,
    /// Stored names are cut to this many characters.
    pub name_max: Option<usize>,
    /// What else happens to names.
    pub name: NameMode,
    /// Case of every status word.
    pub status_case: StatusCase,
    /// The word for `done`.
    pub status_done: String,
    /// The word for `failed`.
    pub status_failed: String,
    /// The word for `rejected`.
    pub status_rejected: String,
    /// The word for `running`.
    pub status_running: String,
    /// The word for `pending`.
    pub status_pending: String,
    /// The word for `in_queue`.
    pub status_in_queue: String,
    /// How a 429's `Retry-After` is written.
    pub retry_after: RetryAfterForm,
    /// What every 429 asks for, in seconds (default: the limiter's own wait).
    pub retry_after_seconds: Option<f64>,
    /// Every creation POST answers 429; nothing is created.
    pub throttle_creations: bool,
    /// The status code of an "insufficient credits" refusal.
    pub credits_status: u16,
    /// Media are sent gzip-encoded (`Content-Encoding: gzip`).
    pub media_gzip: bool,
    /// Media are sent without `Content-Length` and the connection is closed cleanly at half.
    pub media_eof_cut: bool,
    /// Media are sent whole without `Content-Length`, ended by the connection's close.
    pub media_close_delimited: bool,
    /// A finished job reads `done` this many real seconds before its `output` is set.
    pub output_delay_seconds: f64,
    /// `video_thumbnail` is `""` on finished jobs.
    pub empty_thumbnail: bool,
    /// Older jobs the account already holds when the sandbox starts.
    pub existing_jobs: usize,
    /// The address page links are built on (default: the sandbox's own).
    pub link_base: Option<String>,
    /// Shape of the plain persona and voice lists.
    pub catalog: ListStyle,
    /// How a running job's `progress` rises.
    pub progress: ProgressCurve,
    /// The steps a running job's `progress` moves in, if not 0.01.
    pub progress_step: Option<f64>,
    /// How a running job's `progress` is rounded to its steps.
    pub progress_rounding: ProgressRounding,
    /// Which jobs the render cap counts.
    pub render_cap_counts: RenderCapCounts,
    /// The share of its render a job waits before it runs.
    pub queue_share: f64,
    /// Later jobs wait another share.
    pub queue_change: Option<QueueChange>,
}

/// `queue_change`: the jobs created after the first `after_jobs` wait `share` of their
/// render before they run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueChange {
    /// How many jobs wait `queue_share`.
    pub after_jobs: u64,
    /// What the jobs after them wait.
    pub share: f64,
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            list: ListStyle::Array,
            ids: ListStyle::Array,
            ids_max: None,
            ids_ignored: false,
            page_size: 100,
            list_cap: None,
            list_order: ListOrder::NewestFirst,
            list_delay_seconds: 0.0,
            name_max: None,
            name: NameMode::Keep,
            status_case: StatusCase::Lower,
            status_done: "done".into(),
            status_failed: "failed".into(),
            status_rejected: "rejected".into(),
            status_running: "running".into(),
            status_pending: "pending".into(),
            status_in_queue: "in_queue".into(),
            retry_after: RetryAfterForm::Seconds,
            retry_after_seconds: None,
            throttle_creations: false,
            credits_status: 402,
            media_gzip: false,
            media_eof_cut: false,
            media_close_delimited: false,
            output_delay_seconds: 0.0,
            empty_thumbnail: false,
            existing_jobs: 0,
            link_base: None,
            catalog: ListStyle::Array,
            progress: ProgressCurve::Steady,
            progress_step: None,
            progress_rounding: ProgressRounding::Down,
            render_cap_counts: RenderCapCounts::Unfinished,
            queue_share: crate::sandbox::job::RUNNING_AT,
            queue_change: None,
        }
    }
}

impl Dialect {
    /// Refuses values no server could mean.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.page_size == 0 {
            anyhow::bail!("[api] page_size must be at least 1");
        }
        let seconds = |s: f64| s.is_finite() && s >= 0.0;
        if !(seconds(self.list_delay_seconds) && seconds(self.output_delay_seconds)) {
            anyhow::bail!("[api] delays must be seconds, 0 or more");
        }
        if self.progress_step.is_some_and(|s| !(s > 0.0 && s <= 1.0)) {
            anyhow::bail!("[api] progress_step must be above 0 and at most 1");
        }
        if !(400..=499).contains(&self.credits_status) {
            anyhow::bail!("[api] credits_status must be a 4xx status");
        }
        let share = |s: f64| (0.0..crate::sandbox::job::FAILED_AT).contains(&s);
        if !share(self.queue_share) || self.queue_change.is_some_and(|c| !share(c.share)) {
            anyhow::bail!(
                "[api] queue_share and queue_change's share must be from 0 to less than {} \
                 (where a failing job fails)",
                crate::sandbox::job::FAILED_AT
            );
        }
        Ok(())
    }

    /// The share of its render the job created after `created` others waits before it runs.
    pub fn wait_of(&self, created: u64) -> f64 {
        match self.queue_change {
            Some(QueueChange { after_jobs, share }) if created >= after_jobs => share,
            _ => self.queue_share,
        }
    }

    /// A hostile dialect for the crash suite and the fault matrix: paginated lists, trimmed
    /// and rewritten names, a capped list, upper-case statuses.
    pub fn hostile() -> Self {
        Self {
            list: ListStyle::DrfPage,
            ids: ListStyle::DrfPage,
            page_size: 7,
            list_cap: Some(500),
            name_max: Some(40),
            name: NameMode::RewriteBrackets,
            status_case: StatusCase::Upper,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_table_parses_and_every_value_in_it_is_allowed() {
        let doc = include_str!("dialect.rs");
        let start = doc.find("//! ```toml").expect("a toml block") + "//! ```toml".len();
        let end = start + doc[start..].find("//! ```").expect("its end");
        let text: String = doc[start..end]
            .lines()
            .map(|l| l.trim_start().trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        #[derive(Deserialize)]
        struct Table {
            api: Dialect,
        }
        let table: Table = toml::from_str(&text).expect("the documented [api] table");
        table.api.check().expect("its values");
        assert_eq!(
            table.api.queue_change,
            Some(QueueChange {
                after_jobs: 4,
                share: 0.2
            })
        );
    }

    #[test]
    fn jobs_after_the_first_few_wait_the_changed_share() {
        let d = Dialect {
            queue_change: Some(QueueChange {
                after_jobs: 2,
                share: 0.1,
            }),
            ..Dialect::default()
        };
        let waits: Vec<f64> = (0..4).map(|n| d.wait_of(n)).collect();
        assert_eq!(waits, [0.25, 0.25, 0.1, 0.1]);
        assert_eq!(Dialect::default().wait_of(1_000), 0.25);
        for bad in [-0.1, 0.7, f64::NAN] {
            let d = Dialect {
                queue_share: bad,
                ..Dialect::default()
            };
            assert!(d.check().is_err(), "queue_share {bad} accepted");
        }
    }
}
