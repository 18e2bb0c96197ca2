//! Stored failure reasons in words a person reads: what went wrong, in the sheet's terms
//! (its column, its value, its scene), and what to do about it.
//!
//! The journal, `job.json` and the manifest's `failure_reason` keep the raw text the run
//! recorded (`HTTP 400: video_inputs[0].character.avatar_id: Invalid pk "ava-studoi" -
//! object does not exist.`); this module only reads it. The raw forms it knows are the ones
//! the code writes: [`crate::api::ApiError`]'s `Display` (`HTTP n: detail`, `throttled
//! (HTTP 429) ...`, `network: ...`, `unreadable answer (HTTP n): ...`, `not sent: ...`), DRF's
//! field errors as [`crate::api::error::detail_of`] flattens them, the engine's own notes
//! (`download: ...`, `created or not: unknown. ...`) and a job's `failed_reason` as the API
//! words it. Anything else is passed on as it is, with a generic next step.

use std::fmt;

use crate::api::error::{speaks_of_concurrency, speaks_of_credits};
use crate::plan::columns::ALIASES;

/// A failure reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// What went wrong, in the sheet's terms.
    pub what: String,
    /// What to do about it.
    pub todo: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.what, self.todo)
    }
}

impl Explanation {
    /// The advice for a row made through a preview (`stage` not direct): retried without
    /// `--preview`, it would be made as a full-price video nobody reviewed.
    pub fn for_stage(mut self, stage: crate::journal::Stage) -> Self {
        if stage != crate::journal::Stage::Direct {
            self.todo = self.todo.replace(
                "--retry-failed",
                "--preview --retry-failed (previewed again, for review)",
            );
        }
        self
    }
}

/// What to do once a row's sheet cells are fixed.
const FIX_AND_RETRY: &str =
    "Fix the row in the sheet (or in failed.csv), then run again with --retry-failed.";
/// What to do when nothing is wrong with the row.
const RERUN: &str =
    "Nothing to fix in the sheet: run the same command again to resume; nothing is sent twice.";

/// `raw` in plain words.
pub fn explain(raw: &str) -> Explanation {
    let raw = raw.trim();
    if let Some((status, detail)) = http_status(raw) {
        return by_status(status, detail);
    }
    if let Some(rest) = raw.strip_prefix("throttled (HTTP 429)") {
        return throttled(rest);
    }
    if let Some(rest) = raw.strip_prefix("network: ") {
        return network(rest);
    }
    if let Some(rest) = raw.strip_prefix("unreadable answer (HTTP ") {
        let status = rest.split(')').next().unwrap_or("?");
        return Explanation {
            what: format!(
                "Creatify answered with something that is not its usual reply (HTTP {status}), \
                 often an error page from a proxy or an outage."
            ),
            todo: RERUN.into(),
        };
    }
    if raw.starts_with("not sent: ") {
        return Explanation {
            what: "Not sent: the run was stopping when this video's turn came.".into(),
            todo: "Run the same command again to send it.".into(),
        };
    }
    if let Some(rest) = raw.strip_prefix("download: ") {
        return Explanation {
            what: format!(
                "The video was made, but its file could not be downloaded ({}).",
                first_sentence(rest)
            ),
            todo: "Run the same command again to fetch it; it is not made or paid for again."
                .into(),
        };
    }
    if raw.starts_with("created or not: unknown") {
        return Explanation {
            what: "It was sent, and whether Creatify made it cannot be proven yet (its job list \
                   could not show it either way), so it is never sent again blindly."
                .into(),
            todo: "Run `creatify-batch resolve` on this batch folder: it looks again, or records \
                   what you found in your Creatify account."
                .into(),
        };
    }
    job_reason(raw)
}

/// `HTTP 400: detail` → (400, detail).
fn http_status(raw: &str) -> Option<(u16, &str)> {
    let rest = raw.strip_prefix("HTTP ")?;
    let (code, detail) = rest.split_once(':').unwrap_or((rest, ""));
    Some((code.trim().parse().ok()?, detail.trim()))
}

fn by_status(status: u16, detail: &str) -> Explanation {
    if status == 402 || ((400..500).contains(&status) && status != 401 && speaks_of_credits(detail))
    {
        return Explanation {
            what: "The Creatify account ran out of credits before this video was made.".into(),
            todo: "Top up the account, then run the same command again; nothing was charged \
                   for this video."
                .into(),
        };
    }
    if status == 429 {
        return throttled(detail);
    }
    match status {
        401 | 403 => Explanation {
            what: format!(
                "Creatify refused the API credentials (HTTP {status}); nothing was created."
            ),
            todo: "Check CREATIFY_API_ID and CREATIFY_API_KEY (the pair from your Creatify \
                   account's API settings), then run again."
                .into(),
        },
        404 => Explanation {
            what: "Creatify does not know this address (HTTP 404): the API's base URL may be \
                   wrong."
                .into(),
            todo: "Check [api] base_url in pipeline.toml or --base-url, then run again.".into(),
        },
        408 | 425 => Explanation {
            what: format!("Creatify did not finish answering in time (HTTP {status})."),
            todo: RERUN.into(),
        },
        500..=599 => Explanation {
            what: format!(
                "Creatify had a problem on its side (HTTP {status}); the row itself is fine."
            ),
            todo: RERUN.into(),
        },
        _ => refused(status, detail),
    }
}

/// A 400-class refusal of the row's body: DRF field errors, `; `-separated.
fn refused(status: u16, detail: &str) -> Explanation {
    let mut what = Vec::new();
    let mut todo = Vec::new();
    for part in detail.split("; ").map(str::trim).filter(|p| !p.is_empty()) {
        let (w, t) = field_error(part);
        what.push(w);
        if let Some(t) = t {
            if !todo.contains(&t) {
                todo.push(t);
            }
        }
    }
    if what.is_empty() {
        what.push(format!("Creatify refused this video (HTTP {status})."));
    }
    todo.push(FIX_AND_RETRY.into());
    Explanation {
        what: what.join(" "),
        todo: todo.join(" "),
    }
}

/// One `path: message` field error → a sentence about the sheet's column, and a next step
/// particular to it.
fn field_error(part: &str) -> (String, Option<String>) {
    let Some((path, message)) = part.split_once(": ").filter(|(p, _)| looks_like_path(p)) else {
        return (
            format!("Creatify refused this video: {}", sentence(part)),
            None,
        );
    };
    let (scene, field) = scene_and_field(path);
    let column = column_of(&field);
    let place = match scene {
        Some(n) => format!("Scene {n}, column {column}"),
        None => format!("Column {column}"),
    };
    let value = quoted(message);
    let shown = value.map(|v| format!(" \"{v}\"")).unwrap_or_default();
    let lower = message.to_lowercase();
    if lower.contains("object does not exist") || lower.contains("invalid pk") {
        return match field.as_str() {
            "character.avatar_id" => (
                format!("{place}:{shown} is not an avatar Creatify knows."),
                Some("Pick one from `creatify-batch avatars`.".into()),
            ),
            "voice.voice_id" => (
                format!(
                    "{place}:{shown} is not a voice Creatify knows (the voice column takes an \
                     accent's id, not the voice's own id)."
                ),
                Some("Pick an accent id from `creatify-batch voices`.".into()),
            ),
            _ => (format!("{place}:{shown} does not exist at Creatify."), None),
        };
    }
    if lower.contains("not a valid choice") {
        let allowed = match field.as_str() {
            "aspect_ratio" => Some("Use 9x16 (portrait), 16x9 (landscape) or 1x1 (square)."),
            "model_version" => Some("Use standard, aurora_v1 or aurora_v1_fast."),
            _ => None,
        };
        return (
            format!("{place}:{shown} is not one of the values it accepts."),
            allowed.map(str::to_owned),
        );
    }
    if lower.contains("may not be blank")
        || lower.contains("is required")
        || lower.contains("may not be null")
        || lower.contains("may not be empty")
    {
        return (
            format!("{place} is empty; Creatify needs a value there."),
            None,
        );
    }
    if let Some(max) = lower
        .strip_prefix("ensure this field has no more than ")
        .and_then(|r| r.split_whitespace().next())
    {
        return (
            format!("{place} is longer than the {max} characters Creatify accepts."),
            Some(format!("Shorten it to at most {max} characters.")),
        );
    }
    if lower.contains("valid url") {
        return (
            format!("{place} is not a web address Creatify can fetch."),
            Some("Use a full http:// or https:// link to the file.".into()),
        );
    }
    if lower.starts_with("ensure this value is") {
        return (
            format!("{place} is out of range: {}", sentence(&lower[7..])),
            None,
        );
    }
    if lower.contains("not allowed") {
        return (
            format!("{place} is not a setting Creatify takes."),
            Some("Remove the column (or start its header with # to keep it as a note).".into()),
        );
    }
    (format!("{place}: {}", sentence(message)), None)
}

/// A DRF field path (`aspect_ratio`, `video_inputs[0].voice.input_text`), not prose.
fn looks_like_path(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

/// `video_inputs[2].voice.voice_id` → (Some(3), "voice.voice_id").
fn scene_and_field(path: &str) -> (Option<usize>, String) {
    if let Some(rest) = path.strip_prefix("video_inputs[") {
        if let Some((n, field)) = rest.split_once(']') {
            let scene = n.parse::<usize>().ok().map(|n| n + 1);
            return (scene, field.trim_start_matches('.').to_owned());
        }
    }
    (None, path.to_owned())
}

/// The sheet's friendly name for a request field (`voice.input_text` → `script`), or the
/// field's own path, which the sheet may use as a header too.
fn column_of(field: &str) -> String {
    ALIASES
        .iter()
        .find(|(_, target)| *target == field)
        .map(|(name, _)| (*name).to_owned())
        .unwrap_or_else(|| {
            if field.is_empty() {
                "video_inputs".into()
            } else {
                field.to_owned()
            }
        })
}

/// The first double-quoted value in a message (`Invalid pk "x" - ...` → `x`).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

fn throttled(detail: &str) -> Explanation {
    if speaks_of_concurrency(detail) {
        return Explanation {
            what: "The Creatify account's limit of videos rendering at once was reached, so \
                   this one waited."
                .into(),
            todo: format!(
                "{RERUN} A lower [limits] max_in_flight in pipeline.toml avoids the wait."
            ),
        };
    }
    Explanation {
        what: "Creatify asked the tool to slow down (too many requests, HTTP 429).".into(),
        todo: format!("{RERUN} A lower [limits] requests_per_second avoids it."),
    }
}

fn network(detail: &str) -> Explanation {
    let lower = detail.to_lowercase();
    let what = if lower.contains("timed out") || lower.contains("timeout") {
        "Creatify did not answer in time (a timeout)."
    } else if lower.contains("refused") || lower.contains("dns") || lower.contains("resolve") {
        "Creatify could not be reached (no connection to its server)."
    } else {
        "The connection to Creatify broke before it answered."
    };
    Explanation {
        what: what.into(),
        todo: format!("Check the network if it keeps happening. {RERUN}"),
    }
}

/// A job's own `failed_reason`, as Creatify words it.
fn job_reason(raw: &str) -> Explanation {
    let lower = raw.to_lowercase();
    // What the sentence would repeat ("refused this video: Rejected by moderation: ...").
    let said = [
        "rendering failed:",
        "rejected by content moderation:",
        "rejected:",
        "error:",
    ]
    .iter()
    .find_map(|p| {
        lower
            .starts_with(p)
            .then(|| raw.get(p.len()..).unwrap_or("").trim())
    })
    .filter(|rest| !rest.is_empty())
    .unwrap_or(raw);
    if lower.contains("moderation") || lower.contains("policy") || lower.contains("rejected") {
        return Explanation {
            what: format!(
                "Creatify's content moderation refused this video: {}",
                sentence(said)
            ),
            todo: "Reword the script (or change the media) so it meets Creatify's usage policy, \
                   then run again with --retry-failed."
                .into(),
        };
    }
    if lower.contains("background") && (lower.contains("download") || lower.contains("fetch")) {
        return Explanation {
            what: "Creatify could not download the background media.".into(),
            todo: "Check that the background link opens in a browser without logging in, then \
                   run again with --retry-failed."
                .into(),
        };
    }
    if lower.contains("lip-sync") || lower.contains("lipsync") || lower.contains("lip sync") {
        return Explanation {
            what: "Creatify could not lip-sync the avatar to the voice.".into(),
            todo: "Try again with --retry-failed; if it fails again, try another avatar or \
                   voice for this row."
                .into(),
        };
    }
    if raw.is_empty() {
        return Explanation {
            what: "Creatify reported a failure without saying why.".into(),
            todo: "Try again with --retry-failed.".into(),
        };
    }
    Explanation {
        what: format!("Creatify could not make this video: {}", sentence(said)),
        todo: "Try again with --retry-failed; the raw message below says more.".into(),
    }
}

/// `s` with a capital first letter and a full stop.
fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(1).flat_map(char::to_uppercase).collect();
    out.extend(s.chars().skip(1));
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The first sentence of `s` (up to the first `: ` or `. `), for a short parenthesis.
fn first_sentence(s: &str) -> &str {
    let end = [s.find(". "), s.find(": ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(s.len());
    s[..end].trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_avatar_names_the_column_the_value_and_the_command() {
        let e = explain(
            "HTTP 400: video_inputs[0].character.avatar_id: Invalid pk \"ava-studoi\" - object does not exist.",
        );
        assert_eq!(
            e.what,
            "Scene 1, column avatar: \"ava-studoi\" is not an avatar Creatify knows."
        );
        assert!(e.todo.contains("`creatify-batch avatars`"), "{e}");
        assert!(e.todo.contains("--retry-failed"), "{e}");
    }

    #[test]
    fn an_unknown_voice_mentions_accents_and_the_voices_command() {
        let e = explain(
            "HTTP 400: video_inputs[1].voice.voice_id: Invalid pk \"voice-ava\" - object does not exist.",
        );
        assert!(
            e.what.starts_with("Scene 2, column voice: \"voice-ava\""),
            "{e}"
        );
        assert!(e.what.contains("accent"), "{e}");
        assert!(e.todo.contains("`creatify-batch voices`"), "{e}");
    }

    #[test]
    fn several_field_errors_are_each_told_once() {
        let e = explain(
            "HTTP 400: aspect_ratio: \"9:16\" is not a valid choice.; video_inputs[0].voice.input_text: This field may not be blank.; video_inputs[0].background.url: Enter a valid URL.",
        );
        assert!(
            e.what
                .contains("Column aspect: \"9:16\" is not one of the values"),
            "{e}"
        );
        assert!(e.what.contains("Scene 1, column script is empty"), "{e}");
        assert!(
            e.what
                .contains("Scene 1, column background is not a web address"),
            "{e}"
        );
        assert!(e.todo.contains("9x16"), "{e}");
        assert_eq!(e.todo.matches("--retry-failed").count(), 1, "{e}");
    }

    #[test]
    fn length_limits_say_the_limit() {
        let e = explain("HTTP 400: video_inputs[0].voice.input_text: Ensure this field has no more than 2000 characters.");
        assert!(e.what.contains("longer than the 2000 characters"), "{e}");
    }

    #[test]
    fn account_and_transport_problems_say_the_row_is_fine() {
        let credits =
            explain("HTTP 402: Insufficient credits: this video needs 5 credits, 0 remain.");
        assert!(credits.what.contains("ran out of credits"), "{credits}");
        let credits_403 = explain("HTTP 403: You do not have enough credits to create this video.");
        assert_eq!(credits_403, credits);
        assert!(explain("HTTP 401: Invalid API key.")
            .todo
            .contains("CREATIFY_API_KEY"));
        assert!(explain("HTTP 403: Forbidden").what.contains("credentials"));
        let rate = explain("throttled (HTTP 429), retry after 2s: Request was throttled.");
        assert!(rate.what.contains("slow down"), "{rate}");
        let cap = explain("throttled (HTTP 429), retry after 1s: Concurrent render limit reached");
        assert!(cap.what.contains("rendering at once"), "{cap}");
        for raw in [
            "HTTP 503: <html>",
            "network: error sending request: operation timed out",
            "network: connection refused",
            "network: connection reset by peer",
            "unreadable answer (HTTP 200): expected value at line 1",
        ] {
            let e = explain(raw);
            assert!(e.todo.contains("run the same command again"), "{raw}: {e}");
        }
        assert!(explain("network: operation timed out")
            .what
            .contains("in time"));
    }

    #[test]
    fn job_reasons_from_the_api_get_a_next_step() {
        let e = explain("Rejected by content moderation: the script violates the usage policy.");
        assert_eq!(
            e.what,
            "Creatify's content moderation refused this video: The script violates the usage policy."
        );
        assert!(e.todo.contains("Reword the script"), "{e}");
        let e = explain("Rendering failed: the background media could not be downloaded.");
        assert!(e.what.contains("background media"), "{e}");
        let e = explain("Rendering failed: internal error, please try again.");
        assert_eq!(
            e.what,
            "Creatify could not make this video: Internal error, please try again."
        );
        assert!(e.todo.contains("--retry-failed"), "{e}");
        assert!(explain("").what.contains("without saying why"));
    }

    #[test]
    fn the_engines_own_notes_are_explained() {
        assert!(explain("download: HTTP 404 from the output URL")
            .what
            .contains("could not be downloaded (HTTP 404 from the output URL)"));
        assert!(
            explain("created or not: unknown. The job list failed. It is not sent again")
                .todo
                .contains("creatify-batch resolve")
        );
        assert!(explain("not sent: the run is stopping")
            .todo
            .contains("again"));
    }

    #[test]
    fn prose_after_a_status_is_not_read_as_a_field() {
        let e = explain("HTTP 400: Something odd happened: try later");
        assert_eq!(
            e.what,
            "Creatify refused this video: Something odd happened: try later."
        );
    }

    #[test]
    fn a_reviewed_row_is_told_to_preview_again_not_to_retry_at_full_price() {
        use crate::journal::Stage;
        let raw = "job failed: render error";
        assert!(!explain(raw)
            .for_stage(Stage::Direct)
            .todo
            .contains("--preview"));
        for stage in [Stage::Preview, Stage::Render] {
            let e = explain(raw).for_stage(stage);
            assert!(e.todo.contains("--preview --retry-failed"), "{e}");
        }
    }
}
