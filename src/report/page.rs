//! Renders the report with minijinja, streamed: the header (`head.html`) once, a card
//! (`card.html`) per row as the journal hands them over, then the footer (`foot.html`)
//! with the page's small script. Templates are compiled into the binary and parsed once per
//! process; autoescaping is on for every one of them (their names end in `.html`), so any
//! text from the sheet, the journal or the API is HTML-escaped wherever it lands. No data is
//! ever written inside the `<script>` element: the script reads the DOM.

use std::io::{self, Write};
use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use super::variants::{self, Grouper, Run};
use super::{credit_words, duration_words, About, Card, REFRESH_SECS};
use crate::journal::Row;
use crate::output::manifest::{Export, Manifest};
use crate::output::words::credits;

const HEAD: &str = include_str!("templates/head.html");
const CARD: &str = include_str!("templates/card.html");
const GROUP: &str = include_str!("templates/group.html");
const FOOT: &str = include_str!("templates/foot.html");
const CSS: &str = include_str!("templates/style.css");
const JS: &str = include_str!("templates/report.js");

/// `report.html`.
pub struct Html;

/// The templates, parsed once, or why one does not parse (a bug every test of the report
/// meets: each render reports it).
fn env() -> Result<&'static Environment<'static>, &'static str> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("code", code);
        for (name, source) in [
            ("head.html", HEAD),
            ("card.html", CARD),
            ("group.html", GROUP),
            ("foot.html", FOOT),
        ] {
            env.add_template(name, source)
                .map_err(|e| format!("report template {name}: {e:#}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(String::as_str)
}

/// Plain text (an [`crate::output::explain::Explanation`]'s) as HTML: escaped, with the
/// commands it quotes in backticks as `<code>`; an unpaired backtick stays as it is.
fn code(text: &str) -> minijinja::Value {
    let parts: Vec<&str> = text.split('`').collect();
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        let quoted = i % 2 == 1 && i + 1 < parts.len();
        if i % 2 == 1 && !quoted {
            out.push('`');
        }
        if quoted {
            out.push_str("<code>");
        }
        for c in part.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        if quoted {
            out.push_str("</code>");
        }
    }
    minijinja::Value::from_safe_string(out)
}

fn render(name: &str, ctx: impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    let t = env()
        .map_err(io::Error::other)?
        .get_template(name)
        .map_err(|e| io::Error::other(format!("report template {name}: {e:#}")))?;
    t.render_captured_to(
        minijinja::Value::from(minijinja::value::Serde(&ctx)),
        &mut *out,
    )
    .map(|_| ())
    .map_err(|e| io::Error::other(format!("report template {name}: {e:#}")))
}

/// A moment, for `<time datetime>` and as text (UTC; the script shows the reader's zone).
#[derive(Serialize)]
struct Stamp {
    unix: f64,
    iso: String,
    text: String,
}

impl Stamp {
    fn at(unix: f64) -> Option<Self> {
        use time::format_description::well_known::Rfc3339;
        let t = time::OffsetDateTime::from_unix_timestamp(unix.floor() as i64).ok()?;
        let text = format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        );
        Some(Self {
            unix,
            iso: t.format(&Rfc3339).ok()?,
            text,
        })
    }
}

#[derive(Serialize)]
struct Chip {
    group: &'static str,
    label: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct Counts {
    unknown: usize,
    changed: usize,
    preview_ready: usize,
}

#[derive(Serialize)]
struct Head<'a> {
    batch: &'a str,
    about: &'a About,
    total: usize,
    chips: Vec<Chip>,
    counts: Counts,
    credits_used: String,
    est_credits: String,
    made: String,
    planned: String,
    first: Option<Stamp>,
    last: Option<Stamp>,
    written: Option<Stamp>,
    refresh: Option<u32>,
    css: &'static str,
}

/// The header's chips: one per state group (unknown only when there is one), and changed.
fn chips(c: &crate::progress::Counts) -> Vec<Chip> {
    let mut out = vec![
        Chip {
            group: "done",
            label: "done",
            count: c.downloaded,
        },
        Chip {
            group: "rendering",
            label: "rendering",
            count: c.submitting + c.submitted + c.done + c.render_requested + c.rendering,
        },
        Chip {
            group: "failed",
            label: "failed",
            count: c.failed + c.rejected,
        },
        Chip {
            group: "changed",
            label: "changed",
            count: c.changed,
        },
        Chip {
            group: "not-started",
            label: "not started",
            count: c.planned,
        },
    ];
    if c.unknown > 0 {
        out.push(Chip {
            group: "unknown",
            label: "unknown",
            count: c.unknown,
        });
    }
    // A batch without previews keeps the chips it always had; the preview chips sit between
    // done and rendering, in the order a row goes through them.
    if c.preview_ready > 0 {
        out.insert(
            1,
            Chip {
                group: "preview-ready",
                label: "preview ready",
                count: c.preview_ready,
            },
        );
    }
    if c.previewing > 0 {
        out.insert(
            1,
            Chip {
                group: "previewing",
                label: "previewing",
                count: c.previewing,
            },
        );
    }
    out
}

/// Whether work remains that a run is doing now: rows not sent, being sent or rendering.
fn unfinished(c: &crate::progress::Counts) -> bool {
    // A ready preview waits for a person, not for the run: it does not keep the page
    // reloading.
    c.planned
        + c.submitting
        + c.submitted
        + c.done
        + c.previewing
        + c.render_requested
        + c.rendering
        > 0
}

#[derive(Serialize)]
struct CardView<'a> {
    #[serde(flatten)]
    card: &'a Card,
    index: usize,
    variant: Option<String>,
    seconds_text: String,
    cost_text: String,
}

/// A row's variants' heading.
#[derive(Serialize)]
struct GroupView<'a> {
    key: &'a str,
    count: usize,
    line: u64,
}

/// One rendered card, held while its row's variants are read.
struct Held {
    html: Vec<u8>,
    line: u64,
}

thread_local! {
    /// The cards of the row being written, until a card of another row comes. The page is
    /// written by one thread from `begin` to `end` ([`Export`] has no state of its own), and
    /// `begin` empties it, so a write that failed half-way leaves nothing behind.
    static HELD: std::cell::RefCell<Grouper<Held>> = std::cell::RefCell::default();
}

/// Writes what is complete: a lone card as it is, a row's variants inside their group.
fn write_runs(runs: impl IntoIterator<Item = Run<Held>>, out: &mut dyn Write) -> io::Result<()> {
    for run in runs {
        match run {
            Run::Lone(card) => out.write_all(&card.html)?,
            Run::Group { key, cards } => {
                let line = cards.first().map_or(0, |c| c.line);
                let view = GroupView {
                    key: &key,
                    count: cards.len(),
                    line,
                };
                render("group.html", view, out)?;
                for card in cards {
                    out.write_all(&card.html)?;
                }
                out.write_all(b"</div>\n</section>\n")?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Foot {
    written: Option<Stamp>,
    js: &'static str,
}

impl Export for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn begin(&self, m: &Manifest, out: &mut dyn Write) -> io::Result<()> {
        let a = &m.about;
        let head = Head {
            batch: m.batch,
            about: a,
            total: m.counts.total,
            chips: chips(&m.counts),
            counts: Counts {
                unknown: m.counts.unknown,
                changed: m.counts.changed,
                preview_ready: m.counts.preview_ready,
            },
            credits_used: credit_words(m.credits_used),
            est_credits: credits(a.est_credits),
            made: duration_words(a.seconds),
            planned: duration_words(a.est_seconds),
            first: a.first_at.and_then(Stamp::at),
            last: a.last_at.and_then(Stamp::at),
            written: Stamp::at(a.written_at),
            refresh: (a.live && unfinished(&m.counts)).then_some(REFRESH_SECS),
            css: CSS,
        };
        HELD.with(|h| *h.borrow_mut() = Grouper::default());
        render("head.html", head, out)
    }

    fn row(&self, m: &Manifest, row: &Row, index: usize, out: &mut dyn Write) -> io::Result<()> {
        let labels = m.labels.get(&row.key).map(Vec::as_slice).unwrap_or(&[]);
        let card = Card::of(row, labels)
            .named(&m.about.names)
            .reviewed(row, &m.about);
        let approx = |estimated: bool| if estimated { "≈ " } else { "" };
        let view = CardView {
            seconds_text: format!(
                "{}{}",
                approx(card.seconds_estimated),
                duration_words(card.seconds)
            ),
            cost_text: format!(
                "{}{}{}",
                approx(card.cost_estimated),
                credit_words(card.cost),
                if card.cost_estimated {
                    " (estimate)"
                } else {
                    ""
                }
            ),
            variant: variants::label(&card.key),
            card: &card,
            index,
        };
        let mut html = Vec::new();
        render("card.html", view, &mut html)?;
        let held = Held {
            html,
            line: card.line.unwrap_or(0),
        };
        let runs = HELD.with(|h| h.borrow_mut().push(&card.key, held));
        write_runs(runs, out)
    }

    fn end(&self, m: &Manifest, _: usize, out: &mut dyn Write) -> io::Result<()> {
        let rest = HELD.with(|h| h.borrow_mut().finish());
        write_runs(rest, out)?;
        let foot = Foot {
            written: Stamp::at(m.about.written_at),
            js: JS,
        };
        render("foot.html", foot, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RowState;
    use crate::output::manifest::SceneLabels;
    use crate::progress::Counts;

    fn page(rows: &[Row], counts: Counts, live: bool) -> String {
        let m = Manifest {
            batch: "spring <b>",
            counts,
            credits_used: 10.0,
            sheet: None,
            labels: SceneLabels::from([("k0".to_owned(), vec!["intro".to_owned()])]),
            verdicts: Default::default(),
            about: About {
                live,
                written_at: 1_800_000_000.0,
                ..About::default()
            },
        };
        let mut out = Vec::new();
        Html.begin(&m, &mut out).unwrap();
        for (i, r) in rows.iter().enumerate() {
            Html.row(&m, r, i, &mut out).unwrap();
        }
        Html.end(&m, rows.len(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_text_is_escaped_and_no_data_reaches_the_script() {
        let mut r = crate::report::tests::row("<script>alert(1)</script>", RowState::Failed);
        r.name = Some("\"><img src=x onerror=alert(2)>".into());
        r.failed_reason = Some("HTTP 400: video_inputs[0].character.avatar_id: Invalid pk \"<i>x</i>\" - object does not exist.".into());
        let html = page(&[r], Counts::default(), false);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<i>x"), "{html}");
        assert!(!html.contains("spring <b>") && html.contains("spring &lt;b&gt;"));
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        // The one script element is ours.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("is not an avatar Creatify knows"));
    }

    #[test]
    fn the_templates_parse_and_every_chip_is_a_cards_group() {
        assert!(env().is_ok(), "{:?}", env().err());
        let groups: Vec<serde_json::Value> = [
            crate::report::Group::Done,
            crate::report::Group::Rendering,
            crate::report::Group::Failed,
            crate::report::Group::NotStarted,
            crate::report::Group::Previewing,
            crate::report::Group::PreviewReady,
            crate::report::Group::Unknown,
        ]
        .iter()
        .map(|g| serde_json::to_value(g).unwrap())
        .collect();
        let all = Counts {
            unknown: 1,
            previewing: 1,
            preview_ready: 1,
            ..Counts::default()
        };
        for chip in chips(&all) {
            assert!(
                chip.group == "changed" || groups.contains(&chip.group.into()),
                "{}",
                chip.group
            );
        }
    }

    #[test]
    fn quoted_commands_become_code_and_the_rest_is_escaped() {
        let c = |s: &str| code(s).to_string();
        assert_eq!(c("Pick `a <b>` now"), "Pick <code>a &lt;b&gt;</code> now");
        assert_eq!(c("`x` and `y`"), "<code>x</code> and <code>y</code>");
        assert_eq!(c("odd ` one"), "odd ` one");
        assert_eq!(c("<i>"), "&lt;i&gt;");
    }

    #[test]
    fn only_a_live_report_of_an_unfinished_batch_reloads_itself() {
        let rows = [crate::report::tests::row("k0", RowState::Submitted)];
        let going = Counts {
            total: 1,
            submitted: 1,
            ..Counts::default()
        };
        let done = Counts {
            total: 1,
            downloaded: 1,
            ..Counts::default()
        };
        let refresh = "http-equiv=\"refresh\"";
        assert!(page(&rows, going.clone(), true).contains(refresh));
        assert!(page(&rows, going.clone(), true).contains("data-refresh=\"10\""));
        assert!(!page(&rows, going, false).contains(refresh));
        assert!(!page(&rows, done, true).contains(refresh));
    }

    #[test]
    fn cards_carry_their_video_scenes_and_sort_keys() {
        let mut r = crate::report::tests::row("k0", RowState::Downloaded);
        r.video = Some(crate::journal::FileRecord {
            path: "k0/video.mp4".into(),
            sha256: String::new(),
            bytes: 1,
        });
        r.thumbnail = Some(crate::journal::FileRecord {
            path: "k0/thumbnail.jpg".into(),
            sha256: String::new(),
            bytes: 1,
        });
        let html = page(&[r], Counts::default(), false);
        assert!(html.contains(
            "<video controls preload=\"none\" playsinline poster=\"k0&#x2f;thumbnail.jpg\" src=\"k0&#x2f;video.mp4\">"
        ), "{html}");
        assert!(
            html.contains("<b class=\"label\" dir=\"auto\">intro</b>"),
            "{html}"
        );
        assert!(
            html.contains("data-line=\"4\" data-cost=\"5.0\" data-duration=\"12.0\""),
            "{html}"
        );
        assert!(html.contains("class=\"card landscape g-done\""), "{html}");
    }

    #[test]
    fn a_rows_variants_are_written_in_one_group_with_their_count_and_values() {
        let keys = ["plain", "<b>~avatar=a&b", "<b>~avatar=c", "after"];
        let rows: Vec<Row> = keys
            .iter()
            .map(|k| crate::report::tests::row(k, RowState::Planned))
            .collect();
        let html = page(&rows, Counts::default(), false);
        assert_eq!(
            html.matches("<section class=\"variants\"").count(),
            1,
            "{html}"
        );
        let group = &html[html.find("<section").unwrap()..html.find("</section>").unwrap()];
        assert!(group.contains("<code class=\"vk\" dir=\"auto\">&lt;b&gt;</code> <span class=\"vn\">2 variants</span>"), "{group}");
        assert_eq!(group.matches("<article").count(), 2, "{group}");
        assert!(
            group.contains("<p class=\"variant\" dir=\"auto\">avatar=a&amp;b</p>"),
            "{group}"
        );
        assert!(
            !group.contains("plain") && !group.contains("Video after"),
            "{group}"
        );
        // Every card is written, once, in sheet order.
        let ids: Vec<usize> = (0..4)
            .map(|i| html.find(&format!("id=\"row-{i}\"")).unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }

    #[test]
    fn a_ready_preview_is_linked_escaped_and_tickable_but_never_framed_on_open() {
        let mut r = crate::report::tests::row("k\"><b>", RowState::PreviewReady);
        r.stage = crate::journal::Stage::Preview;
        r.reference = Some("cb0123456789ab".into());
        r.job = Some(r#"{"preview":"https://x.example/p?a=1&b=<i>\"x"}"#.into());
        let mut bad = crate::report::tests::row("bad", RowState::PreviewReady);
        bad.stage = crate::journal::Stage::Preview;
        bad.job = Some(r#"{"preview":"javascript:alert(1)"}"#.into());
        let counts = Counts {
            total: 2,
            preview_ready: 2,
            ..Counts::default()
        };
        let html = page(&[r, bad], counts, false);
        assert!(!html.contains("<iframe"), "nothing is framed on open");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("is not a web address"));
        assert!(
            html.contains("data-src=\"https:&#x2f;&#x2f;x.example&#x2f;p?a=1&amp;b=%3Ci%3E%22x\""),
            "{html}"
        );
        assert!(
            html.contains("data-key=\"k&quot;&gt;&lt;b&gt;\" data-reference=\"cb0123456789ab\""),
            "{html}"
        );
        assert!(html.contains("id=\"approvals\""), "the download bar");
        assert!(html.contains("data-group=\"preview-ready\""));
        assert_eq!(html.matches("<script").count(), 1);
        // A batch without ready previews has no download bar.
        let plain = page(
            &[crate::report::tests::row("k0", RowState::Planned)],
            Counts::default(),
            false,
        );
        assert!(!plain.contains("id=\"approvals\""));
    }
}
