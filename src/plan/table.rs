//! The `plan` command's table: one line per video, then totals, warnings and notes. Plain
//! text, no colors, so it reads the same in a terminal, a log and a cron mail. Columns are
//! aligned by display width, counting East Asian wide characters as two.

use std::io::{self, Write};

use super::{Plan, PlannedVideo};
use crate::output::words::plural;
use crate::sheet::printable;

const KEY_WIDTH: usize = 24;
/// A `[matrix]` variant's key (`row~avatar=x~visual_style=y`) differs from its siblings
/// only at its end: shown wider, so each variant can be told apart before anything is spent.
const VARIANT_KEY_WIDTH: usize = 72;
const NAME_WIDTH: usize = 32;

const HEADER: [&str; 8] = [
    "key",
    "name",
    "scenes",
    "model",
    "aspect",
    "est. s",
    "est. credits",
    "warnings",
];

/// Text columns align left, numbers right.
const RIGHT: [bool; 8] = [false, false, true, false, false, true, true, true];

/// The plan as an aligned text table, with totals, warnings and notes.
pub fn render_table(plan: &Plan) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every piece written is UTF-8.
    let _ = write_table(plan, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes [`render_table`]'s text to `out` line by line: two passes over the videos (widths,
/// then lines), so a 100k-row plan is never held as a second copy in text.
pub fn write_table(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let mut widths = HEADER.map(width);
    for v in &plan.videos {
        for (w, cell) in widths.iter_mut().zip(&cells(v)) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(width(cell));
            if i > 0 {
                l.push_str("  ");
            }
            if RIGHT[i] {
                l.push_str(&" ".repeat(pad));
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(pad));
            }
        }
        writeln!(out, "{}", l.trim_end())
    };
    line(out, &HEADER.map(str::to_owned))?;
    for v in &plan.videos {
        line(out, &cells(v))?;
    }
    let scenes: usize = plan.videos.iter().map(|v| v.body.video_inputs.len()).sum();
    let seconds = plan.total_seconds();
    writeln!(
        out,
        "\n{}, {}, est. {:.1} s ({}), est. {} credits",
        plural(plan.videos.len(), "video", "videos"),
        plural(scenes, "scene", "scenes"),
        seconds,
        clock(seconds),
        number(plan.total_credits()),
    )?;
    let warnings: usize = plan.videos.iter().map(|v| v.warnings.len()).sum();
    if warnings > 0 {
        writeln!(out, "\nwarnings ({warnings}):")?;
        for v in &plan.videos {
            for w in &v.warnings {
                writeln!(out, "  {}: {w}", v.key)?;
            }
        }
    }
    if !plan.notes.is_empty() {
        writeln!(out, "\nnotes:")?;
        for n in &plan.notes {
            writeln!(out, "  {n}")?;
        }
    }
    Ok(())
}

/// One video's cells, in [`HEADER`] order.
fn cells(v: &PlannedVideo) -> [String; 8] {
    [
        printable(
            &v.key,
            if v.key.contains('~') {
                VARIANT_KEY_WIDTH
            } else {
                KEY_WIDTH
            },
        ),
        printable(v.body.name.as_deref().unwrap_or("-"), NAME_WIDTH),
        v.body.video_inputs.len().to_string(),
        v.body.model().to_string(),
        v.body.aspect().to_string(),
        format!("{:.1}", v.seconds),
        number(v.credits),
        v.warnings.len().to_string(),
    ]
}

/// Credits without a useless `.0` (they are whole or halves).
fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `h:mm:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Terminal columns `s` takes: East Asian wide and fullwidth characters take two. A small
/// table of the common ranges rather than a dependency; combining marks count as one.
pub(crate) fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}
