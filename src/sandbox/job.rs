//! One job: what is stored about it, and where it stands at any instant.
//!
//! A job's state is a pure function of (when its render started, now, the time scale, its
//! render time, its fate). Nothing ticks in the background, and a restarted sandbox that
//! replays its journal finds every job exactly where wall time has carried it.
//!
//! On the job clock (real time × `time_scale`), a job waits a share of its render time
//! before it runs (its `running_at`, 25 % unless the dialect's `queue_share` says
//! otherwise): `pending` for the first two fifths of that wait (10 % of the render by
//! default), `in_queue` (or `moderating`) for the rest, then `running` with `progress`
//! rising to 1. A done job ends at 100 %, a failed one at 70 %, a rejected one at 10 %.
//! A preview (before its render) goes the same way in a fifth of the render time, as it
//! costs a fifth \[guess: how long the real one takes is undocumented\].

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dialect::{Dialect, StatusCase};
use super::faults::Fate;
use crate::api::model::{AspectRatio, ModelVersion};
use crate::api::JobStatus;

/// The share of its wait a job spends `pending` before it is queued.
const PENDING_SHARE: f64 = 0.4;
/// The share of its render a job waits before it runs, unless the dialect says otherwise.
pub const RUNNING_AT: f64 = 0.25;
/// Where a failing job fails; a job's wait is always shorter.
pub const FAILED_AT: f64 = 0.70;
/// A preview takes the render time divided by this.
const PREVIEW_SHARE: u64 = 5;

/// Whether a job renders a video or only a preview (`POST .../preview/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `POST /api/lipsyncs_v2/`.
    Video,
    /// `POST /api/lipsyncs_v2/preview/`; rendered later by `.../{id}/render/`.
    Preview,
}

/// Everything stored about a job; one journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// UUID.
    pub id: String,
    /// The name it was created with.
    pub name: Option<String>,
    /// Video or preview.
    pub kind: JobKind,
    /// Creation, Unix milliseconds.
    pub created_ms: i64,
    /// When `.../render/` started the final render of a preview, Unix milliseconds.
    pub render_started_ms: Option<i64>,
    /// The model used.
    pub model_version: ModelVersion,
    /// The frame used.
    pub aspect_ratio: AspectRatio,
    /// Where the outcome is POSTed.
    pub webhook_url: Option<String>,
    /// The request's scenes, echoed back.
    pub video_inputs: Value,
    /// Length of the video in seconds.
    pub seconds: f64,
    /// Credits charged so far.
    pub credits_used: f64,
    /// Job-clock milliseconds from start to done.
    pub render_ms: u64,
    /// How it ends.
    pub fate: Fate,
    /// Whether it reports `moderating` while queued.
    pub moderating: bool,
    /// The share of its render it waits (pending, then queued) before it runs.
    #[serde(default = "running_at")]
    pub running_at: f64,
}

/// A journal written before jobs had their own wait: the wait every job then had.
fn running_at() -> f64 {
    RUNNING_AT
}

/// Where a job stands at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The status.
    pub status: JobStatus,
    /// 0..=1.
    pub progress: f64,
    /// When the status last changed, Unix milliseconds.
    pub updated_ms: i64,
    /// Whether the job will change no more (until a preview is rendered).
    pub terminal: bool,
}

impl JobRecord {
    /// When the current render started.
    pub fn start_ms(&self) -> i64 {
        self.render_started_ms.unwrap_or(self.created_ms)
    }

    /// Whether this is a preview not yet sent to its final render.
    pub fn is_unrendered_preview(&self) -> bool {
        self.kind == JobKind::Preview && self.render_started_ms.is_none()
    }

    /// The fate of the current render: a preview always previews fine; the final render
    /// meets the job's fate.
    fn current_fate(&self) -> &Fate {
        if self.is_unrendered_preview() {
            &Fate::Done
        } else {
            &self.fate
        }
    }

    /// Job-clock milliseconds the current phase takes: the preview a fifth of the render.
    fn phase_ms(&self) -> u64 {
        if self.is_unrendered_preview() {
            (self.render_ms / PREVIEW_SHARE).max(1)
        } else {
            self.render_ms.max(1)
        }
    }

    /// The fraction of the render time at which the job is queued.
    fn queued_at(&self) -> f64 {
        self.running_at * PENDING_SHARE
    }

    /// The fraction of the render time at which the job turns terminal.
    fn end_fraction(&self) -> f64 {
        match self.current_fate() {
            Fate::Done => 1.0,
            Fate::Failed(_) => FAILED_AT,
            Fate::Rejected(_) => self.queued_at(),
        }
    }

    /// Real Unix milliseconds of the instant `fraction` of the render time has passed.
    fn real_ms(&self, fraction: f64, time_scale: f64) -> i64 {
        self.start_ms() + (self.phase_ms() as f64 * fraction / time_scale).ceil() as i64
    }

    /// When the job turns terminal, Unix milliseconds.
    pub fn deadline_ms(&self, time_scale: f64) -> i64 {
        self.real_ms(self.end_fraction(), time_scale)
    }

    /// Where the job stands at `now_ms`.
    pub fn snapshot(&self, now_ms: i64, time_scale: f64) -> Snapshot {
        let end = self.end_fraction();
        let elapsed =
            ((now_ms - self.start_ms()).max(0) as f64 * time_scale) / (self.phase_ms() as f64);
        let at = |f: f64| self.real_ms(f, time_scale);
        let (queued_at, running_at) = (self.queued_at(), self.running_at);
        let (status, progress, since) = if elapsed >= end {
            let status = match self.current_fate() {
                Fate::Done => JobStatus::Done,
                Fate::Failed(_) => JobStatus::Failed,
                Fate::Rejected(_) => JobStatus::Rejected,
            };
            let progress = ((end - running_at) / (1.0 - running_at)).clamp(0.0, 1.0);
            (status, progress, at(end))
        } else if elapsed < queued_at {
            (JobStatus::Pending, 0.0, self.start_ms())
        } else if elapsed < running_at {
            let status = if self.moderating {
                JobStatus::Unknown("moderating".into())
            } else {
                JobStatus::InQueue
            };
            (status, 0.0, at(queued_at))
        } else {
            let p = (elapsed - running_at) / (1.0 - running_at);
            (
                JobStatus::Running,
                (p * 100.0).floor() / 100.0,
                at(running_at),
            )
        };
        Snapshot {
            terminal: status.is_terminal(),
            status,
            progress,
            updated_ms: since,
        }
    }

    /// Whether this is a preview job whose preview exists (made, or already rendered on).
    pub fn preview_made(&self, snap: &Snapshot) -> bool {
        self.kind == JobKind::Preview
            && (self.render_started_ms.is_some() || snap.status == JobStatus::Done)
    }

    /// Whether the finished video exists (a done job that is not an unrendered preview).
    pub fn has_output(&self, snap: &Snapshot) -> bool {
        snap.status == JobStatus::Done && !self.is_unrendered_preview()
    }

    /// The job object the API answers with. `media` gives signed `(video, thumbnail)` URLs
    /// and `preview` the preview page link; both are only asked for when they exist.
    pub fn to_json(
        &self,
        snap: &Snapshot,
        media: impl FnOnce() -> (String, String),
        preview: impl FnOnce() -> String,
    ) -> Value {
        let (output, thumbnail) = if self.has_output(snap) {
            let (o, t) = media();
            (Value::String(o), Value::String(t))
        } else {
            (Value::Null, Value::Null)
        };
        let preview_done = self.preview_made(snap);
        let failed_reason = match (&snap.status, &self.fate) {
            (JobStatus::Failed, Fate::Failed(r)) | (JobStatus::Rejected, Fate::Rejected(r)) => {
                Value::String(r.clone())
            }
            _ => Value::Null,
        };
        json!({
            "id": self.id,
            "name": self.name,
            "status": snap.status.as_str(),
            "progress": snap.progress,
            "output": output,
            "video_thumbnail": thumbnail,
            "preview": if preview_done { Value::String(preview()) } else { Value::Null },
            "editor_url": null,
            "credits_used": whole_or_fraction(self.credits_used),
            "duration": self.seconds.ceil() as u64,
            "failed_reason": failed_reason,
            "created_at": iso8601(self.created_ms),
            "updated_at": iso8601(snap.updated_ms),
            "aspect_ratio": self.aspect_ratio.as_str(),
            "video_inputs": self.video_inputs,
            "media_job": null,
            "webhook_url": self.webhook_url,
            "model_version": self.model_version.as_str(),
        })
    }
}

/// What the `[api]` dialect does to a finished job's media fields: `output` (and the
/// thumbnail) still null for `output_delay_seconds` after the job reads `done`, and
/// `video_thumbnail: ""` with `empty_thumbnail`.
pub fn output_dialect(v: &mut Value, snap: &Snapshot, now_ms: i64, dialect: &Dialect) {
    if v["output"].is_null() {
        return;
    }
    let delay_ms = (dialect.output_delay_seconds * 1000.0).ceil() as i64;
    if snap.status == JobStatus::Done && now_ms < snap.updated_ms.saturating_add(delay_ms) {
        v["output"] = Value::Null;
        v["video_thumbnail"] = Value::Null;
    } else if dialect.empty_thumbnail {
        v["video_thumbnail"] = Value::String(String::new());
    }
}

/// A running job's `progress` as the dialect reports it: ahead of the work (its square
/// root) with `progress = "ahead"`, rounded to `progress_step` (0.01 by default) as
/// `progress_rounding` says (down by default).
pub fn reported_progress(progress: f64, dialect: &Dialect) -> f64 {
    use super::dialect::{ProgressCurve, ProgressRounding};
    let p = match dialect.progress {
        ProgressCurve::Steady => progress,
        ProgressCurve::Ahead => progress.sqrt(),
    };
    let step = dialect.progress_step.unwrap_or(0.01);
    // A hair either side of the steps, so 0.3 / 0.1 is 3, not 2.9999 (or 3.0001 rounded
    // up to 4); divided by the steps per unit, so 3 tenths are 0.3, not 0.30000000000000004.
    let steps = p / step;
    let steps = match dialect.progress_rounding {
        ProgressRounding::Down => (steps + 1e-9).floor(),
        ProgressRounding::Up => (steps - 1e-9).ceil(),
        ProgressRounding::Nearest => steps.round(),
    };
    (steps / (1.0 / step)).clamp(0.0, 1.0)
}

/// The word the dialect uses for `status` (`status_done`, ..., then `status_case`). Applied
/// to every job the sandbox writes (creation answers, GETs, lists, webhooks), because a real
/// server that says `COMPLETED` says it everywhere.
pub fn status_word(status: &JobStatus, dialect: &Dialect) -> String {
    let word = match status {
        JobStatus::Pending => dialect.status_pending.as_str(),
        JobStatus::InQueue => dialect.status_in_queue.as_str(),
        JobStatus::Running => dialect.status_running.as_str(),
        JobStatus::Done => dialect.status_done.as_str(),
        JobStatus::Failed => dialect.status_failed.as_str(),
        JobStatus::Rejected => dialect.status_rejected.as_str(),
        JobStatus::Unknown(s) => s.as_str(),
    };
    match dialect.status_case {
        StatusCase::Lower => word.to_owned(),
        StatusCase::Upper => word.to_uppercase(),
    }
}

/// Credits as an integer when whole (as the docs type them), else as a number.
pub fn whole_or_fraction(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Django's timestamp format: UTC, microseconds, `Z`.
pub fn iso8601(unix_ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(unix_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(fate: Fate, moderating: bool) -> JobRecord {
        JobRecord {
            id: "j".into(),
            name: Some("n".into()),
            kind: JobKind::Video,
            created_ms: 1_000_000,
            render_started_ms: None,
            model_version: ModelVersion::Standard,
            aspect_ratio: AspectRatio::Portrait,
            webhook_url: None,
            video_inputs: json!([]),
            seconds: 12.3,
            credits_used: 5.0,
            render_ms: 10_000,
            fate,
            moderating,
            running_at: RUNNING_AT,
        }
    }

    fn statuses(j: &JobRecord, scale: f64) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for t in (0..=12_000).step_by(50) {
            let s = j.snapshot(j.created_ms + t, scale).status.to_string();
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        seen
    }

    #[test]
    fn a_job_moves_through_every_state_in_order_and_progress_rises() {
        let j = job(Fate::Done, false);
        assert_eq!(
            statuses(&j, 1.0),
            ["pending", "in_queue", "running", "done"]
        );
        let mut last = 0.0;
        for t in (0..=12_000).step_by(100) {
            let p = j.snapshot(j.created_ms + t, 1.0).progress;
            assert!(p >= last, "progress fell at {t}");
            last = p;
        }
        assert_eq!(last, 1.0);
        assert_eq!(j.deadline_ms(1.0), j.created_ms + 10_000);
        assert_eq!(j.deadline_ms(10.0), j.created_ms + 1_000);
    }

    #[test]
    fn a_job_that_waits_less_runs_sooner_and_longer_and_ends_when_its_render_does() {
        let mut j = job(Fate::Done, false);
        j.running_at = 0.05;
        let at = |ms: i64| j.snapshot(j.created_ms + ms, 1.0);
        assert_eq!(at(10).status, JobStatus::Pending);
        assert_eq!(
            at(300).status,
            JobStatus::InQueue,
            "queued at 2/5 of the wait"
        );
        let running = at(500);
        assert_eq!(
            (running.status, running.progress),
            (JobStatus::Running, 0.0)
        );
        assert_eq!(running.updated_ms, j.created_ms + 500);
        // Half way through its 9.5 s of running, not its 7.5 s.
        assert_eq!(at(500 + 4_750).progress, 0.5);
        assert_eq!(j.deadline_ms(1.0), j.created_ms + 10_000);
        let mut failing = job(Fate::Failed("x".into()), false);
        failing.running_at = 0.05;
        let failed = failing.snapshot(failing.deadline_ms(1.0), 1.0);
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.progress, (0.70 - 0.05) / 0.95);
        // A journal line written before jobs had their own wait waits as every job did.
        let mut line = serde_json::to_value(job(Fate::Done, false)).unwrap();
        line.as_object_mut().unwrap().remove("running_at");
        let old: JobRecord = serde_json::from_value(line).unwrap();
        assert_eq!(old.running_at, RUNNING_AT);
    }

    #[test]
    fn fates_and_moderation_change_the_path() {
        let failed = job(Fate::Failed("x".into()), false);
        assert_eq!(
            statuses(&failed, 1.0),
            ["pending", "in_queue", "running", "failed"]
        );
        let rejected = job(Fate::Rejected("x".into()), false);
        assert_eq!(statuses(&rejected, 1.0), ["pending", "rejected"]);
        let moderated = job(Fate::Done, true);
        assert_eq!(
            statuses(&moderated, 1.0),
            ["pending", "moderating", "running", "done"]
        );
    }

    #[test]
    fn a_delayed_output_appears_after_the_delay_and_an_empty_thumbnail_stays_empty() {
        let j = job(Fate::Done, false);
        let dialect = Dialect {
            output_delay_seconds: 3.0,
            empty_thumbnail: true,
            ..Dialect::default()
        };
        let done_at = j.deadline_ms(1.0);
        let at = |now: i64| {
            let snap = j.snapshot(now, 1.0);
            let mut v = j.to_json(&snap, || ("o".into(), "t".into()), || "p".into());
            output_dialect(&mut v, &snap, now, &dialect);
            v
        };
        let early = at(done_at + 1_000);
        assert_eq!(early["status"], "done");
        assert!(early["output"].is_null() && early["video_thumbnail"].is_null());
        let late = at(done_at + 3_000);
        assert_eq!(late["output"], "o");
        assert_eq!(late["video_thumbnail"], "");
    }

    #[test]
    fn the_dialect_names_every_status_and_its_case() {
        let d = Dialect {
            status_case: StatusCase::Upper,
            status_done: "completed".into(),
            status_failed: "error".into(),
            ..Dialect::default()
        };
        assert_eq!(status_word(&JobStatus::Done, &d), "COMPLETED");
        assert_eq!(status_word(&JobStatus::Failed, &d), "ERROR");
        assert_eq!(status_word(&JobStatus::InQueue, &d), "IN_QUEUE");
        assert_eq!(
            status_word(&JobStatus::Unknown("moderating".into()), &d),
            "MODERATING"
        );
        assert_eq!(status_word(&JobStatus::Done, &Dialect::default()), "done");
        // Whatever the dialect says, the client reads it back as the same status.
        for status in [JobStatus::Done, JobStatus::Failed, JobStatus::Running] {
            assert_eq!(JobStatus::from(status_word(&status, &d).as_str()), status);
        }
    }

    #[test]
    fn the_job_object_parses_as_the_clients_job() {
        let j = job(Fate::Failed("boom".into()), false);
        let snap = j.snapshot(j.created_ms + 60_000, 1.0);
        let v = j.to_json(&snap, || unreachable!(), || unreachable!());
        let parsed: crate::api::Job = serde_json::from_value(v).unwrap();
        assert_eq!(parsed.status, JobStatus::Failed);
        assert_eq!(parsed.failed_reason.as_deref(), Some("boom"));
        assert_eq!(parsed.duration, Some(13.0));
        assert_eq!(
            parsed.created_at.as_deref(),
            Some("1970-01-01T00:16:40.000000Z")
        );
    }

    #[test]
    fn reported_progress_is_rounded_down_to_the_dialect_step() {
        let mut d = Dialect::default();
        assert_eq!(reported_progress(0.377, &d), 0.37);
        assert_eq!(reported_progress(0.3, &d), 0.3, "no 0.29 from 0.3 / 0.01");
        d.progress_step = Some(0.1);
        assert_eq!(reported_progress(0.39, &d), 0.3);
        d.progress_rounding = super::super::dialect::ProgressRounding::Up;
        assert_eq!(reported_progress(0.31, &d), 0.4, "up: more than is done");
        assert_eq!(reported_progress(0.3, &d), 0.3);
        d.progress_rounding = super::super::dialect::ProgressRounding::Nearest;
        assert_eq!(reported_progress(0.36, &d), 0.4);
        d.progress_rounding = super::super::dialect::ProgressRounding::Down;
        d.progress = super::super::dialect::ProgressCurve::Ahead;
        assert_eq!(reported_progress(0.25, &d), 0.5, "ahead: the square root");
    }
}
