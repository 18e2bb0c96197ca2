//! The end-of-run summary: what the batch is now, what this run did, and what to do next.
//! Text on stdout for people; with `--log-format json`, one JSON event on stderr (the logs'
//! stream) and nothing on stdout, so a cron job's `.jsonl` file stays all JSON.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::engine::Summary;
use crate::exit::ExitCode;

use super::LogFormat;
pub use crate::output::words::{credits, plural};

/// What the summary needs besides the engine's [`Summary`].
pub(super) struct Context<'a> {
    /// The batch's name.
    pub batch: &'a str,
    /// The batch folder.
    pub dir: &'a Path,
    /// Records of the sheet (a multi-scene video takes several).
    pub sheet_rows: usize,
    /// Estimated credits of the `unknown` rows: what they may have cost on top.
    pub unknown_estimate: f64,
    /// Rows changed in the sheet since their job was created (not rerendered): their keys.
    pub changed: &'a [String],
    /// The run's wall time.
    pub wall: Duration,
    /// Where the files went when not into `dir` (`s3://bucket/prefix/batch`).
    pub delivered: Option<&'a str>,
}

/// The exit code, after what the engine decided: changed rows turn a clean run into exit 6.
pub(super) fn exit_code(code: ExitCode, changed: usize) -> ExitCode {
    if code == ExitCode::Success && changed > 0 {
        ExitCode::Changed
    } else {
        code
    }
}

/// Prints the summary in `format`.
pub(super) fn print(s: &Summary, code: ExitCode, cx: &Context, format: LogFormat) {
    match format {
        LogFormat::Text => {
            for line in text(s, code, cx) {
                println!("{line}");
            }
        }
        LogFormat::Json => {
            let mut line = event(s, code, cx).to_string();
            line.push('\n');
            // Through the log writer, so it never lands inside a half-drawn bar.
            let _ =
                std::io::Write::write_all(&mut crate::progress::LogWriter::line(), line.as_bytes());
        }
    }
}

/// The summary as lines of text.
pub(super) fn text(s: &Summary, code: ExitCode, cx: &Context) -> Vec<String> {
    let c = &s.counts;
    let mut out = vec![format!(
        "{} from {}: {} downloaded, {} failed, {} rejected, {} rendering, {}{} not submitted",
        plural(c.total, "video", "videos"),
        plural(cx.sheet_rows, "sheet row", "sheet rows"),
        c.downloaded,
        c.failed,
        c.rejected,
        // Unsure renders are counted on the review line, not as rendering.
        c.submitted + c.submitting + c.rendering,
        if c.unknown > 0 {
            format!("{} unknown, ", c.unknown)
        } else {
            String::new()
        },
        c.planned
    )];
    out.extend(super::review::summary_line(c));
    if !cx.changed.is_empty() {
        let n = cx.changed.len();
        let mut keys: Vec<&str> = cx.changed.iter().take(5).map(String::as_str).collect();
        if n > 5 {
            keys.push("…");
        }
        out.push(format!(
            "{} in the sheet since {} made ({}): the files on disk are the old version; \
             --rerender changed renders {} again as {}",
            plural(n, "video changed", "videos changed"),
            if n == 1 {
                "its video was"
            } else {
                "their videos were"
            },
            keys.join(", "),
            if n == 1 { "it" } else { "them" },
            if n == 1 { "a new job" } else { "new jobs" },
        ));
    }
    out.push(format!(
        "credits: {} estimated for this run's submissions, {} used by the batch's jobs (failed and retried ones included)",
        credits(s.credits_estimated),
        credits(s.credits_used)
    ));
    out.push(format!(
        "{} ({}, {} throttled) in {:.1} s; output in {}",
        plural(s.api_calls as usize, "API call", "API calls"),
        plural(s.posts as usize, "creation", "creations"),
        s.throttled,
        cx.wall.as_secs_f64(),
        match cx.delivered {
            Some(to) => format!("{to} (journal in {})", cx.dir.display()),
            None => cx.dir.display().to_string(),
        }
    ));
    match code {
        ExitCode::Interrupted => out.push(
            "interrupted: the journal has everything; rerun the same command to resume".into(),
        ),
        // Throttled too long: the stop's own message says what happened and what to do.
        ExitCode::Unreachable if s.throttled_stop => {
            if let Some(why) = &s.stopped {
                out.push(format!("stopped submitting: {why}"));
            }
        }
        ExitCode::Unreachable => out.push(format!(
            "stopped: {}; nothing lost; rerun when it is reachable",
            s.stopped
                .as_deref()
                .unwrap_or("the API could not be reached")
        )),
        _ => {
            if let Some(why) = &s.stopped {
                out.push(format!("stopped submitting: {why}"));
            }
        }
    }
    for (status, n) in &s.unknown_statuses {
        out.push(format!(
            "{} in an unknown status '{status}': this client does not know that word; check \
             them in your Creatify account (a rerun polls them again)",
            plural(*n, "job", "jobs")
        ));
    }
    if c.done > 0 {
        out.push(format!(
            "{} rendered but not downloaded (the download failed; see `creatify-batch status`): \
             rerun to fetch {}",
            plural(c.done, "video", "videos"),
            if c.done == 1 { "it" } else { "them" }
        ));
    }
    if c.unknown > 0 {
        out.push(format!(
            "{} sent, but whether the API created {} cannot be proven (its job list could not \
             show it): never sent again blindly, and up to {} more credits may have been \
             charged for {}; see `creatify-batch status`, then `creatify-batch resolve {}`",
            plural(c.unknown, "video was", "videos were"),
            if c.unknown == 1 {
                "its job"
            } else {
                "their jobs"
            },
            credits(cx.unknown_estimate),
            if c.unknown == 1 { "it" } else { "them" },
            cx.dir.display()
        ));
    }
    if c.render_requested > 0 {
        out.push(format!(
            "{} asked for, but the job does not show {} taken yet: never asked for blindly \
             again; rerun with --render-approved, which reads {} first",
            plural(c.render_requested, "render was", "renders were"),
            if c.render_requested == 1 {
                "it"
            } else {
                "them"
            },
            if c.render_requested == 1 {
                "its job"
            } else {
                "their jobs"
            },
        ));
    }
    if s.past_deadline > 0 {
        out.push(format!(
            "{} still rendering past {} deadline; rerun to resume",
            plural(s.past_deadline, "job", "jobs"),
            if s.past_deadline == 1 { "its" } else { "their" }
        ));
    }
    let failed = c.failed + c.rejected;
    if failed > 0 {
        out.push(format!(
            "{} failed: report.html and `creatify-batch status` say why and what to do (failed.csv holds their rows)",
            plural(failed, "video", "videos")
        ));
    }
    if code != ExitCode::Success {
        out.push(format!("exit code {}", code.code()));
    }
    out
}

/// The summary as one JSON log event.
pub(super) fn event(s: &Summary, code: ExitCode, cx: &Context) -> serde_json::Value {
    json!({
        "timestamp": rfc3339(crate::journal::unix_now()),
        "level": "INFO",
        "message": "run finished",
        "event": "summary",
        "batch": cx.batch,
        "batch_dir": cx.dir,
        "exit_code": code.code(),
        "videos": s.counts.total,
        "sheet_rows": cx.sheet_rows,
        "counts": s.counts,
        "changed": cx.changed,
        "credits_estimated": round2(s.credits_estimated),
        "credits_used": round2(s.credits_used),
        "api_calls": s.api_calls,
        "creations": s.posts,
        "throttled": s.throttled,
        "past_deadline": s.past_deadline,
        "unknown_statuses": s.unknown_statuses,
        "stopped": s.stopped,
        "wall_secs": round2(cx.wall.as_secs_f64()),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

/// Unix seconds as `2026-12-01T21:47:31.123Z`, like the JSON log lines' timestamps.
fn rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let millis = ((unix - secs as f64) * 1000.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_798_753_651.5), "2026-12-31T21:47:31.500Z");
    }
}
