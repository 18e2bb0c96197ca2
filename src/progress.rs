//! Progress for people and for cron: bars on a terminal (submitted, rendering, downloaded,
//! with ETA), a log line every few seconds otherwise. While bars are on screen, log lines
//! ([`LogWriter`]) are printed above them, never through them.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::journal::RowState;

/// Rows of the batch by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Rows in the sheet.
    pub total: usize,
    /// Not sent yet.
    pub planned: usize,
    /// Being sent, or awaiting reconciliation.
    pub submitting: usize,
    /// Sent; whether the job was created cannot be proven.
    pub unknown: usize,
    /// Rendering.
    pub submitted: usize,
    /// Rendered, files not on disk yet.
    pub done: usize,
    /// Rendered and on disk.
    pub downloaded: usize,
    /// Failed.
    pub failed: usize,
    /// Rejected.
    pub rejected: usize,
    /// Previews being made (`run --preview`).
    pub previewing: usize,
    /// Previews made, waiting for a reviewer.
    pub preview_ready: usize,
    /// Renders of approved previews asked for, not yet known to be under way.
    pub render_requested: usize,
    /// Renders of approved previews under way.
    pub rendering: usize,
    /// Rows (in any state past `planned`) whose sheet body changed since their job was
    /// created: counted besides their state.
    pub changed: usize,
}

impl Counts {
    /// Counts one more row in `state`.
    pub fn add(&mut self, state: RowState) {
        self.add_n(state, 1);
    }

    /// Counts `n` more rows in `state`.
    pub fn add_n(&mut self, state: RowState, n: usize) {
        *match state {
            RowState::Planned => &mut self.planned,
            RowState::Submitting => &mut self.submitting,
            RowState::Unknown => &mut self.unknown,
            RowState::Submitted => &mut self.submitted,
            RowState::Done => &mut self.done,
            RowState::Downloaded => &mut self.downloaded,
            RowState::Failed => &mut self.failed,
            RowState::Rejected => &mut self.rejected,
            RowState::Previewing => &mut self.previewing,
            RowState::PreviewReady => &mut self.preview_ready,
            RowState::RenderRequested => &mut self.render_requested,
            RowState::Rendering => &mut self.rendering,
        } += n;
    }

    /// Rows the API has accepted (rendering or past it).
    pub fn accepted(&self) -> usize {
        self.submitted
            + self.done
            + self.downloaded
            + self.failed
            + self.rejected
            + self.previewing
            + self.preview_ready
            + self.render_requested
            + self.rendering
    }

    /// Rows whose render ended.
    pub fn rendered(&self) -> usize {
        self.done + self.downloaded + self.failed + self.rejected
    }
}

/// Something that shows the run's progress.
pub trait Reporter: Send {
    /// The latest counts; called often, so it decides itself when to draw.
    fn update(&mut self, counts: &Counts);
    /// The run is over: clear bars.
    fn finish(&mut self) {}
}

/// Shows nothing (`--quiet`, tests).
pub struct Silent;

impl Reporter for Silent {
    fn update(&mut self, _: &Counts) {}
}

/// One log line every `every` (for cron and CI logs).
pub struct LogLines {
    every: Duration,
    last: Option<Instant>,
    started: Instant,
}

impl LogLines {
    /// A line at most every `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            started: Instant::now(),
        }
    }
}

impl Reporter for LogLines {
    fn update(&mut self, c: &Counts) {
        if self.last.is_some_and(|t| t.elapsed() < self.every) {
            return;
        }
        self.last = Some(Instant::now());
        tracing::info!(
            total = c.total,
            submitted = c.accepted(),
            rendering = c.submitted + c.previewing + c.rendering,
            downloaded = c.downloaded,
            failed = c.failed + c.rejected,
            elapsed_s = self.started.elapsed().as_secs(),
            "progress"
        );
    }
}

/// The bars on screen, if any.
static SCREEN: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Where log lines go: stderr, with the bars (when shown) lifted while a line is printed, so
/// a warning during a run reads as a whole line above intact bars.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

impl LogWriter {
    /// A line of its own (e.g. the JSON summary), printed whole above any bars when dropped.
    pub fn line() -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log event, printed whole when it is dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let screen = SCREEN.lock().map(|s| s.clone()).unwrap_or_default();
        // Nowhere to report a failed write to stderr.
        let print = || drop(std::io::stderr().write_all(&self.0));
        match screen {
            Some(multi) => multi.suspend(print),
            None => print(),
        }
    }
}

/// Three bars on a terminal.
pub struct Bars {
    multi: MultiProgress,
    submitted: ProgressBar,
    rendered: ProgressBar,
    downloaded: ProgressBar,
}

impl Bars {
    /// Bars drawn on stderr.
    pub fn new(total: usize) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(5));
        let style = ProgressStyle::with_template(
            "{prefix:>11} [{bar:30}] {pos:>6}/{len:<6} {msg} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = |name: &str| {
            let b = multi.add(ProgressBar::new(total as u64));
            b.set_style(style.clone());
            b.set_prefix(name.to_owned());
            b
        };
        let bars = Self {
            submitted: bar("submitted"),
            rendered: bar("rendered"),
            downloaded: bar("downloaded"),
            multi,
        };
        if let Ok(mut screen) = SCREEN.lock() {
            *screen = Some(bars.multi.clone());
        }
        bars
    }
}

impl Reporter for Bars {
    fn update(&mut self, c: &Counts) {
        self.submitted.set_position(c.accepted() as u64);
        self.rendered.set_position(c.rendered() as u64);
        self.rendered.set_message(format!(
            "{} rendering",
            c.submitted + c.previewing + c.rendering
        ));
        self.downloaded.set_position(c.downloaded as u64);
        let failed = c.failed + c.rejected;
        if failed > 0 {
            self.downloaded.set_message(format!("{failed} failed"));
        }
    }

    fn finish(&mut self) {
        for b in [&self.submitted, &self.rendered, &self.downloaded] {
            b.abandon();
        }
        if let Ok(mut screen) = SCREEN.lock() {
            *screen = None;
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        // Unregistered only: the bars were left on screen by `finish` (or by a panic).
        if let Ok(mut screen) = SCREEN.lock() {
            *screen = None;
        }
    }
}
