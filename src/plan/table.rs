//! The `plan` command's table: one line per video, then totals, warnings and notes. Plain
//! text, no colors, so it reads the same in a terminal, a log and a cron mail. Columns are
//! aligned by display width, counting East Asian wide characters as two.

use super::Plan;
use crate::sheet::printable;

const KEY_WIDTH: usize = 24;
const NAME_WIDTH: usize = 32;

/// The plan as an aligned text table, with totals, warnings and notes.
pub fn render_table(plan: &Plan) -> String {
    let header = [
        "key",
        "name",
        "scenes",
        "model",
        "aspect",
        "est. s",
        "est. credits",
        "warnings",
    ];
    let mut rows: Vec<[String; 8]> = Vec::with_capacity(plan.videos.len());
    for v in &plan.videos {
        rows.push([
            printable(&v.key, KEY_WIDTH),
            printable(v.body.name.as_deref().unwrap_or("-"), NAME_WIDTH),
            v.body.video_inputs.len().to_string(),
            v.body.model().to_string(),
            v.body.aspect().to_string(),
            format!("{:.1}", v.seconds),
            number(v.credits),
            v.warnings.len().to_string(),
        ]);
    }
    let mut widths = header.map(width);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(cell));
        }
    }
    // Text columns align left, numbers right.
    let right = [false, false, true, false, false, true, true, true];
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(width(cell));
            if i > 0 {
                l.push_str("  ");
            }
            if right[i] {
                l.push_str(&" ".repeat(pad));
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned));
    for r in &rows {
        line(r);
    }
    let scenes: usize = plan.videos.iter().map(|v| v.body.video_inputs.len()).sum();
    let seconds = plan.total_seconds();
    out.push_str(&format!(
        "\n{} videos, {} scenes, est. {:.1} s ({}), est. {} credits\n",
        plan.videos.len(),
        scenes,
        seconds,
        clock(seconds),
        number(plan.total_credits()),
    ));
    let warnings: Vec<String> = plan
        .videos
        .iter()
        .flat_map(|v| v.warnings.iter().map(move |w| format!("  {}: {w}", v.key)))
        .collect();
    if !warnings.is_empty() {
        out.push_str(&format!("\nwarnings ({}):\n", warnings.len()));
        for w in warnings {
            out.push_str(&w);
            out.push('\n');
        }
    }
    if !plan.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &plan.notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
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
fn width(s: &str) -> usize {
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
