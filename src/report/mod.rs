//! `report.html`: the batch as a page a person looks at rather than reads — a header that
//! answers "what did this batch cost, how far is it, what went wrong" and a card per video
//! with the video itself, its scenes and settings, and, when it failed, why in plain words.
//!
//! This file is the data model, built from what the journal keeps: the batch-wide facts
//! ([`About`], from the journal's meta and [`crate::journal::Totals`]) and one [`Card`] per
//! row (from the row, its stored request body and its last job answer, read leniently: a
//! journal from an older version or a hand-edited one still gives a card). [`page`] renders
//! them with minijinja templates (`templates/`), streaming one card at a time, so a 100k-row
//! batch is never held in memory as cards or as text.

pub mod page;
pub mod review;
pub mod variants;

use serde::Serialize;
use serde_json::Value;

use crate::batch::Target;
use crate::journal::{JournalError, Row, RowState, View, SOURCE_META, TARGET_META};
use crate::output::explain::{explain, Explanation};
use crate::output::words::credits;

pub use page::Html;

/// How often an open report reloads itself while a run is writing it, in seconds.
pub const REFRESH_SECS: u32 = 10;

/// What the header says about the whole batch besides the counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct About {
    /// The sheet's path, as recorded.
    pub sheet: Option<String>,
    /// The API the jobs live in, in words (never a secret).
    pub target: Option<String>,
    /// Whether that is the sandbox (a rehearsal: nothing paid).
    pub sandbox: bool,
    /// Whether that is an API on another machine (the real one, spending credits).
    pub live_api: bool,
    /// When the batch was first touched (unix seconds).
    pub first_at: Option<f64>,
    /// When it was last touched (unix seconds).
    pub last_at: Option<f64>,
    /// Estimated credits of every row.
    pub est_credits: f64,
    /// Estimated seconds of every row.
    pub est_seconds: f64,
    /// Seconds of video made (rows whose files are on disk).
    pub seconds: f64,
    /// Whether a run is writing the report now (it then reloads itself while work remains).
    pub live: bool,
    /// When the report was written (unix seconds).
    pub written_at: f64,
    /// The catalogue's names of the batch's avatar and accent ids
    /// ([`crate::catalog::NAMES_META`]), so a card says who speaks, not only an id.
    pub names: std::collections::BTreeMap<String, String>,
    /// The batch's verdicts and preview costs, for the cards of previewed rows.
    #[serde(skip)]
    pub review: review::Review,
}

impl About {
    /// The facts of the batch seen through `view`; `live` while a run goes on.
    pub fn read(view: &View, live: bool) -> Result<Self, JournalError> {
        let totals = view.totals()?;
        let sheet = view
            .meta(SOURCE_META)?
            .and_then(|s| serde_json::from_str::<crate::batch::Source>(&s).ok())
            .map(|s| shown_sheet(&s.path));
        let target = view
            .meta(TARGET_META)?
            .and_then(|s| serde_json::from_str::<Target>(&s).ok());
        Ok(Self {
            sheet,
            sandbox: target == Some(Target::Sandbox),
            live_api: target.as_ref().is_some_and(|t| !local(t)),
            target: target.as_ref().map(target_words),
            first_at: totals.first_at,
            last_at: totals.last_at,
            est_credits: totals.est_credits,
            est_seconds: totals.est_seconds,
            seconds: totals.seconds,
            live,
            written_at: crate::journal::unix_now(),
            names: view
                .meta(crate::catalog::NAMES_META)?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default(),
            review: review::Review::read(view)?,
        })
    }
}

/// The target in words: the sandbox, a local server, or the live API (its URL only; the
/// API id's fingerprint is left out too, it means nothing to a reader).
fn target_words(t: &Target) -> String {
    match t {
        Target::Sandbox => "Sandbox (a rehearsal: no credits spent)".into(),
        Target::Api { base_url, .. } => {
            // Whatever a URL may carry besides the address (a user and password, a query
            // with a token) stays out of a page that gets shared.
            let base_url = url::Url::parse(base_url)
                .map(|mut u| {
                    let _ = u.set_username("");
                    let _ = u.set_password(None);
                    u.set_query(None);
                    u.set_fragment(None);
                    u.as_str().trim_end_matches('/').to_owned()
                })
                .unwrap_or_else(|_| "an API whose address cannot be read".into());
            if local(t) {
                format!("{base_url} (a server on this machine)")
            } else {
                format!("Live: {base_url}")
            }
        }
    }
}

/// Whether the jobs live on this machine: the sandbox, or a server on loopback (a
/// `creatify-batch sandbox`, a proxy).
fn local(t: &Target) -> bool {
    match t {
        Target::Sandbox => true,
        Target::Api { base_url, .. } => url::Url::parse(base_url)
            .ok()
            .is_some_and(|u| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))),
    }
}

/// The filter group a row belongs to: the header's chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Made and on disk.
    Done,
    /// Sent, rendering, or rendered and downloading.
    Rendering,
    /// Failed or rejected.
    Failed,
    /// Not sent yet.
    NotStarted,
    /// A preview being made (`run --preview`).
    Previewing,
    /// A preview made, waiting for its reviewer (approved and rejected ones too, until
    /// `run --render-approved` or an edit moves them on).
    PreviewReady,
    /// Sent, and whether it was created cannot be proven.
    Unknown,
}

impl Group {
    /// The group of a row in `state`.
    pub fn of(state: RowState) -> Self {
        match state {
            RowState::Downloaded => Self::Done,
            RowState::Submitting
            | RowState::Submitted
            | RowState::Done
            | RowState::RenderRequested
            | RowState::Rendering => Self::Rendering,
            RowState::Previewing => Self::Previewing,
            // A preview waits for its reviewer, not for the API.
            RowState::PreviewReady => Self::PreviewReady,
            RowState::Failed | RowState::Rejected => Self::Failed,
            RowState::Planned => Self::NotStarted,
            RowState::Unknown => Self::Unknown,
        }
    }
}

/// One scene of a video, as the card lists it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SceneCard {
    /// Its label from the sheet (empty when none).
    pub label: String,
    /// The script.
    pub script: String,
    /// The avatar id.
    pub avatar: String,
    /// The voice (accent) id.
    pub voice: String,
}

/// One video, as its card shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The row key.
    pub key: String,
    /// The name the user gave.
    pub name: Option<String>,
    /// Its filter group.
    pub group: Group,
    /// Where it stands, in words ("rendering 45%", "rejected").
    pub state: String,
    /// Whether the sheet changed since its video was made.
    pub changed: bool,
    /// The sheet line where it starts.
    pub line: Option<u64>,
    /// Its sheet lines in words ("7", "7–9").
    pub lines: String,
    /// Its scenes.
    pub scenes: Vec<SceneCard>,
    /// The avatars of its scenes, distinct, in order.
    pub avatars: String,
    /// Their voices, distinct, in order.
    pub voices: String,
    /// The model, as sent (or the API's default).
    pub model: String,
    /// The aspect ratio, as sent (or the API's default).
    pub aspect: String,
    /// `portrait`, `landscape` or `square`: how its card lays the video out.
    pub shape: &'static str,
    /// Seconds of video: the API's figure, else the estimate.
    pub seconds: f64,
    /// Whether `seconds` is the estimate.
    pub seconds_estimated: bool,
    /// Credits: charged, else estimated.
    pub cost: f64,
    /// Whether `cost` is the estimate.
    pub cost_estimated: bool,
    /// The job's id.
    pub job_id: Option<String>,
    /// Other jobs the API made for this row (paid for too).
    pub duplicates: Vec<String>,
    /// The video file, relative to the report.
    pub video: Option<String>,
    /// Its thumbnail, relative to the report.
    pub poster: Option<String>,
    /// Why it failed, in plain words.
    pub failure: Option<Explanation>,
    /// The raw reason, as recorded.
    pub raw: Option<String>,
    /// A problem met on a row that has not failed (a download that keeps failing, an
    /// unanswered creation), in plain words.
    pub note: Option<Explanation>,
    /// Its preview, verdict and step credits, for a row made as a preview first.
    pub review: Option<review::PreviewCard>,
}

impl Card {
    /// The card of `row`, with its scene `labels` (empty when the sheet gave none).
    pub fn of(row: &Row, labels: &[String]) -> Self {
        let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
        let scenes: Vec<SceneCard> = body
            .get("video_inputs")
            .and_then(Value::as_array)
            .map(|inputs| {
                inputs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| SceneCard {
                        label: labels.get(i).cloned().unwrap_or_default(),
                        script: text(s, &["voice", "input_text"]),
                        avatar: text(s, &["character", "avatar_id"]),
                        voice: text(s, &["voice", "voice_id"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let aspect = body
            .get("aspect_ratio")
            .and_then(Value::as_str)
            .unwrap_or("9x16")
            .to_owned();
        let shape = match aspect.as_str() {
            "16x9" => "landscape",
            "1x1" => "square",
            _ => "portrait",
        };
        let failed = matches!(row.state, RowState::Failed | RowState::Rejected);
        let raw = if failed {
            row.failed_reason.clone().or_else(|| row.last_error.clone())
        } else {
            row.last_error.clone()
        };
        let explained = raw.as_deref().map(|r| explain(r).for_stage(row.stage));
        let used = row.credits_total.or(row.credits_used);
        Self {
            key: row.key.clone(),
            name: row.name.clone().filter(|n| !n.trim().is_empty()),
            group: Group::of(row.state),
            state: state_words(row),
            changed: row.changed(),
            line: row.lines.first().copied(),
            lines: match (row.lines.first(), row.lines.last()) {
                (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
                (Some(a), _) => a.to_string(),
                _ => String::new(),
            },
            avatars: distinct(scenes.iter().map(|s| s.avatar.as_str())),
            voices: distinct(scenes.iter().map(|s| s.voice.as_str())),
            scenes,
            model: body
                .get("model_version")
                .and_then(Value::as_str)
                .unwrap_or("standard")
                .to_owned(),
            aspect,
            shape,
            seconds: row.duration.unwrap_or(row.est_seconds),
            seconds_estimated: row.duration.is_none(),
            cost: used.unwrap_or(row.est_credits),
            cost_estimated: used.is_none(),
            job_id: row.job_id.clone(),
            duplicates: row.duplicates.clone(),
            video: row.video.as_ref().map(|f| f.path.clone()),
            poster: row.thumbnail.as_ref().map(|f| f.path.clone()),
            failure: explained.clone().filter(|_| failed),
            note: explained.filter(|_| !failed),
            raw,
            review: None,
        }
    }

    /// With `row`'s preview, verdict and step credits as the batch's review says (a row made
    /// directly is left as it is).
    pub fn reviewed(mut self, row: &Row, about: &About) -> Self {
        self.review = review::PreviewCard::of(row, about);
        if let Some(words) = self
            .review
            .as_ref()
            .and_then(|c| review::state_words(row, c))
        {
            self.state = words;
        }
        self
    }
}

/// The sheet as the page names it: a link whole, a file by its name only (a page that is
/// shared from a bucket or a zip does not give away the folders of the machine it ran on).
fn shown_sheet(path: &str) -> String {
    if path.starts_with("https://") || path.starts_with("http://") {
        return path.to_owned();
    }
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// A string at `path` in a JSON value, or empty.
fn text(v: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The distinct non-empty values, in order, joined with `, `.
impl Card {
    /// The avatars and voices named as the catalogue names them (`Ava (edb9719c-…)`, the
    /// whole id kept for whoever copies it), where it does; an id it does not name stays.
    pub fn named(mut self, names: &std::collections::BTreeMap<String, String>) -> Self {
        let show = |id: &str| match names.get(id) {
            Some(name) => format!("{name} ({id})"),
            None => id.to_owned(),
        };
        for s in &mut self.scenes {
            s.avatar = show(&s.avatar);
            s.voice = show(&s.voice);
        }
        self.avatars = distinct(self.scenes.iter().map(|s| s.avatar.as_str()));
        self.voices = distinct(self.scenes.iter().map(|s| s.voice.as_str()));
        self
    }
}

fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values.filter(|v| !v.is_empty()) {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(", ")
}

/// Where a row stands, in a manager's words.
fn state_words(row: &Row) -> String {
    match row.state {
        RowState::Downloaded => "done".into(),
        RowState::Planned => "not started".into(),
        RowState::Submitting => "sending".into(),
        RowState::Unknown => "sent, outcome unknown".into(),
        RowState::Submitted => match row.job.as_deref().and_then(progress) {
            Some(p) => format!("rendering {p}%"),
            None => "rendering".into(),
        },
        RowState::Done => "made, downloading".into(),
        RowState::Failed => "failed".into(),
        RowState::Rejected => "rejected".into(),
        RowState::Previewing => "previewing".into(),
        RowState::PreviewReady => "preview ready".into(),
        RowState::RenderRequested => "render requested".into(),
        RowState::Rendering => match row.job.as_deref().and_then(progress) {
            Some(p) => format!("rendering {p}%"),
            None => "rendering".into(),
        },
    }
}

/// A job's progress in percent, read as the API may give it (0.45, 45, "45%").
fn progress(job: &str) -> Option<u8> {
    let v: Value = serde_json::from_str(job).ok()?;
    let p = match v.get("progress")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok()?,
        _ => return None,
    };
    let pct = if p <= 1.0 { p * 100.0 } else { p };
    pct.is_finite().then(|| pct.clamp(0.0, 100.0).round() as u8)
}

/// Seconds as people read them: `42 s`, `3 min 05 s`, `1 h 02 min`.
pub fn duration_words(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// A credit amount with its unit.
pub fn credit_words(x: f64) -> String {
    let n = credits(x);
    format!("{n} {}", if n == "1" { "credit" } else { "credits" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::FileRecord;

    pub(crate) fn row(key: &str, state: RowState) -> Row {
        let body = serde_json::json!({
            "video_inputs": [
                {"character": {"type": "avatar", "avatar_id": "a1"},
                 "voice": {"type": "text", "input_text": "Hello", "voice_id": "v1"}},
                {"character": {"type": "avatar", "avatar_id": "a2"},
                 "voice": {"type": "text", "input_text": "World", "voice_id": "v1"}}
            ],
            "aspect_ratio": "16x9",
            "model_version": "aurora_v1"
        });
        let mut r = Row::planned(
            key.into(),
            0,
            vec![4, 5],
            crate::sheet::Records::new(&[vec![key.into()]]),
            Some(format!("Video {key}")),
            "h".into(),
            body.to_string(),
            12.0,
            5.0,
        );
        r.state = state;
        r
    }

    #[test]
    fn a_card_reads_the_body_the_job_and_the_files() {
        let mut r = row("k", RowState::Submitted);
        r.job = Some(r#"{"id":"j","status":"running","progress":"45%"}"#.into());
        let c = Card::of(&r, &["intro".into(), "outro".into()]);
        assert_eq!(c.state, "rendering 45%");
        assert_eq!(c.group, Group::Rendering);
        assert_eq!(c.shape, "landscape");
        assert_eq!((c.avatars.as_str(), c.voices.as_str()), ("a1, a2", "v1"));
        assert_eq!(c.scenes[1].label, "outro");
        assert_eq!(c.scenes[1].script, "World");
        assert_eq!(c.lines, "4–5");
        assert!(c.cost_estimated && c.seconds_estimated);

        r.state = RowState::Downloaded;
        r.duration = Some(11.5);
        r.credits_total = Some(6.0);
        r.video = Some(FileRecord {
            path: "k/video.mp4".into(),
            sha256: String::new(),
            bytes: 1,
        });
        let c = Card::of(&r, &[]);
        assert_eq!((c.group, c.state.as_str()), (Group::Done, "done"));
        assert_eq!((c.seconds, c.cost), (11.5, 6.0));
        assert_eq!(c.video.as_deref(), Some("k/video.mp4"));
        assert!(c.poster.is_none() && c.scenes[0].label.is_empty());
    }

    #[test]
    fn an_unreadable_body_still_gives_a_card() {
        let mut r = row("k", RowState::Failed);
        r.body = "not json".into();
        r.failed_reason = Some("HTTP 500: oops".into());
        let c = Card::of(&r, &[]);
        assert!(c.scenes.is_empty());
        assert_eq!((c.model.as_str(), c.shape), ("standard", "portrait"));
        assert!(c.failure.is_some() && c.note.is_none());
        assert_eq!(c.raw.as_deref(), Some("HTTP 500: oops"));
    }

    #[test]
    fn the_target_is_named_without_what_its_url_may_hide() {
        let api = |u: &str| Target::Api {
            base_url: u.into(),
            api_id_fingerprint: "f".into(),
        };
        assert_eq!(
            target_words(&api("https://me:s3cret@api.creatify.ai/?key=s3cret")),
            "Live: https://api.creatify.ai"
        );
        assert_eq!(
            target_words(&api("http://127.0.0.1:8080")),
            "http://127.0.0.1:8080 (a server on this machine)"
        );
        assert!(target_words(&Target::Sandbox).starts_with("Sandbox"));
    }

    #[test]
    fn progress_is_read_in_any_form() {
        assert_eq!(progress(r#"{"progress":0.45}"#), Some(45));
        assert_eq!(progress(r#"{"progress":45}"#), Some(45));
        assert_eq!(progress(r#"{"progress":" 45 % "}"#), Some(45));
        assert_eq!(progress(r#"{"progress":null}"#), None);
        assert_eq!(progress("garbage"), None);
    }

    #[test]
    fn durations_read_like_clock_times() {
        assert_eq!(duration_words(42.4), "42 s");
        assert_eq!(duration_words(185.0), "3 min 05 s");
        assert_eq!(duration_words(3720.0), "1 h 02 min");
        assert_eq!(credit_words(1.0), "1 credit");
        assert_eq!(credit_words(2.5), "2.5 credits");
    }
}
