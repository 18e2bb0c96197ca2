//! Measures writing the batch's reports (`report.html` alone, then all four) for a made-up
//! batch of N rows: two-scene videos, every state, a tenth failed with an API reason.
//!
//! ```text
//! cargo run --release --example report_bench -- 5000            # timings
//! cargo run --release --example report_bench -- 5000 page.html  # and the page, to open
//! ```
//! A benchmark, not a test: it prints timings and sizes and never asserts on them.

use std::time::Instant;

use creatify_batch::journal::{FileRecord, Row, RowState};
use creatify_batch::output::manifest::{write_all, Export, Manifest, SceneLabels};
use creatify_batch::progress::Counts;
use creatify_batch::report::{About, Html};

fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let key = format!("video-{i:05}");
            let body = serde_json::json!({
                "video_inputs": [
                    {"character": {"type": "avatar", "avatar_id": "ava-studio"},
                     "voice": {"type": "text", "input_text": format!("Spring is here, number {i}: thirty percent off everything until Sunday."), "voice_id": "ava-en-us"}},
                    {"character": {"type": "avatar", "avatar_id": "ava-studio"},
                     "voice": {"type": "text", "input_text": "Tap the link and treat yourself. 春のセール 🎉", "voice_id": "ava-en-us"}}
                ],
                "aspect_ratio": (["9x16", "16x9", "1x1"][i % 3]),
                "model_version": "aurora_v1"
            });
            let mut r = Row::planned(
                key.clone(),
                i as i64,
                vec![2 * i as u64 + 2, 2 * i as u64 + 3],
                creatify_batch::sheet::Records::new(&[vec![key.clone()]]),
                Some(format!("Spring sale {i}")),
                "h".into(),
                body.to_string(),
                14.0,
                14.0,
            );
            r.state = RowState::ALL[i % RowState::ALL.len()];
            if i % 10 == 0 {
                r.state = RowState::Failed;
                r.failed_reason = Some("HTTP 400: video_inputs[0].character.avatar_id: Invalid pk \"ava-studoi\" - object does not exist.".into());
            }
            if r.state == RowState::Downloaded {
                r.video = Some(FileRecord { path: format!("{key}/video.mp4"), sha256: "0".repeat(64), bytes: 1 << 20 });
                r.thumbnail = Some(FileRecord { path: format!("{key}/thumbnail.jpg"), sha256: "0".repeat(64), bytes: 1 << 14 });
                r.duration = Some(13.2);
                r.credits_used = Some(14.0);
            }
            r
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5000);
    let rows = rows(n);
    let mut counts = Counts::default();
    for r in &rows {
        counts.total += 1;
        counts.add(r.state);
    }
    let m = Manifest {
        batch: "bench",
        counts,
        credits_used: 0.0,
        sheet: None,
        labels: SceneLabels::new(),
        about: About::default(),
        verdicts: Default::default(),
    };
    // The first render parses the templates; time a warm one too.
    for round in ["cold", "warm"] {
        let started = Instant::now();
        let mut out = Vec::new();
        Html.begin(&m, &mut out)?;
        for (i, r) in rows.iter().enumerate() {
            Html.row(&m, r, i, &mut out)?;
        }
        Html.end(&m, rows.len(), &mut out)?;
        println!(
            "report.html, {n} rows ({round}): {:.0} ms, {:.1} MB",
            started.elapsed().as_secs_f64() * 1000.0,
            out.len() as f64 / 1e6
        );
    }
    if let Some(path) = std::env::args().nth(2) {
        let mut out = Vec::new();
        Html.begin(&m, &mut out)?;
        for (i, r) in rows.iter().enumerate() {
            Html.row(&m, r, i, &mut out)?;
        }
        Html.end(&m, rows.len(), &mut out)?;
        std::fs::write(&path, out)?;
    }
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    write_all::<std::io::Error>(dir.path(), &m, |f| rows.iter().try_for_each(f))?;
    println!(
        "all four reports to disk (fsynced), {n} rows: {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
