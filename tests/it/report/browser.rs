//! A sandbox batch with done rows, failed rows, a multi-scene video with scene labels,
//! portrait, landscape and square videos, and hostile, CJK, RTL and emoji text, opened in
//! headless Chromium: the DOM it builds is checked against `manifest.json` and the disk.

use std::collections::BTreeMap;

use creatify_batch::output::explain::explain;
use creatify_batch::sandbox::Faults;

use super::dom::Node;
use super::dump_dom;
use crate::support::*;

/// The hostile row's key, name and script: markup that must stay text.
pub const HOSTILE_KEY: &str = "<script>alert(1)</script>";
const HOSTILE_NAME: &str = "\"><img src=x onerror=\"document.title='pwned'\"> 春のセール";
const HOSTILE_SCRIPT: &str =
    "</span><script>document.body.dataset.pwned=1</script> مرحبا بكم 🎉 こんにちは";
const RTL_NAME: &str = "מבצע אביב 🎉";

/// An avatar and a voice the sandbox knows, from the sample sheet (the catalogue's ids are
/// not this test's business).
fn avatar_and_voice() -> (String, String) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/batch.csv");
    let mut r = csv::Reader::from_path(path).expect("samples/batch.csv");
    let headers = r.headers().expect("a header").clone();
    let row = r.records().next().expect("a row").expect("a readable row");
    let col = |name: &str| {
        let i = headers.iter().position(|h| h == name).expect(name);
        row[i].to_owned()
    };
    (col("avatar"), col("voice"))
}

/// A CSV cell, quoted.
fn cell(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The sheet: `f1` (failed in the first run), then everything else.
fn sheet(all: bool) -> String {
    let (a, v) = avatar_and_voice();
    let (a, v) = (a.as_str(), v.as_str());
    let mut s = String::from("key,video,name,script,avatar,voice,aspect\n");
    let mut line = |key: &str, video: &str, name: &str, script: &str, aspect: &str| {
        let cells = [key, video, name, script, a, v, aspect].map(cell);
        s.push_str(&cells.join(","));
        s.push('\n');
    };
    line("f1", "", "Failing one", "This one fails to render.", "9x16");
    if all {
        line("tall", "", "Portrait", "A portrait video.", "9x16");
        line("wide", "", RTL_NAME, "A landscape video.", "16x9");
        line("box", "", "春のセール", "春がやってきました。", "1x1");
        line("intro", "promo", "Promo", "First scene.", "9x16");
        line("outro", "promo", "", "Second scene.", "");
        line(HOSTILE_KEY, "", HOSTILE_NAME, HOSTILE_SCRIPT, "9x16");
    }
    s
}

/// Which chip a manifest row counts under.
fn group(status: &str) -> &'static str {
    match status {
        "downloaded" => "done",
        "submitting" | "submitted" | "done" => "rendering",
        "failed" | "rejected" => "failed",
        "planned" => "not-started",
        _ => "unknown",
    }
}

/// The card whose key (`code.k`) is `key`.
fn card<'a>(doc: &'a Node, key: &str) -> &'a Node {
    doc.find("article", "card")
        .into_iter()
        .find(|c| c.find("code", "k").first().map(|k| k.text()) == Some(key.to_owned()))
        .unwrap_or_else(|| panic!("no card for {key:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_batch_renders_in_chromium_with_a_card_per_row_and_counts_that_match() {
    // No browser: fail at once, saying how to get one.
    super::chromium();
    let state = tempfile::tempdir().unwrap();
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |c| {
        c.options.state_dir = Some(state.path().to_owned());
    })
    .await;
    let path = h.sheet("looks.csv", &sheet(false));
    let first = h.run(&path, &[]).await;
    assert_eq!(code(&first), 1, "{}", text(&first));
    let h = h.restart(Faults::default()).await;
    let path = h.sheet("looks.csv", &sheet(true));
    let second = h.run(&path, &[]).await;
    assert_eq!(code(&second), 1, "f1 stays failed: {}", text(&second));

    let dir = h.batch_dir("looks");
    let rows = manifest_rows(&dir);
    assert_eq!(rows.len(), 6);
    let report = dir.join("report.html");
    let doc = dump_dom(&report, "").await;

    // Every row has its card, and only one.
    let cards = doc.find("article", "card");
    let mut keys: Vec<String> = cards
        .iter()
        .map(|c| c.find("code", "k")[0].text())
        .collect();
    let mut want: Vec<String> = rows
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    want.sort();
    assert_eq!(keys, want);

    // The header answers where, when and how much.
    let facts = doc.find("dl", "facts")[0];
    let fact = |name: &str| -> String {
        facts
            .find("div", "")
            .into_iter()
            .find(|d| d.find("dt", "")[0].text() == name)
            .map(|d| d.find("dd", "")[0].text())
            .unwrap_or_else(|| panic!("no {name} in the header"))
    };
    // The sheet by its name: a shared page gives away no folder of this machine.
    let sheet_name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(fact("Sheet"), sheet_name);
    assert!(
        fact("API").contains(&h.sandbox.base_url()),
        "{}",
        fact("API")
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let spent = manifest["credits_used"].as_f64().unwrap();
    assert!(
        fact("Credits").starts_with(&format!("{spent} credits spent")),
        "{} vs {spent}",
        fact("Credits")
    );
    for name in ["First run", "Last activity"] {
        let time = facts
            .find("time", "")
            .into_iter()
            .any(|t| t.attr("datetime").is_some_and(|d| d.starts_with("20")));
        assert!(time, "{name}: a <time datetime>");
        assert!(!fact(name).is_empty());
    }

    // The chips count what the manifest says.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *counts
            .entry(group(r["status"].as_str().unwrap()))
            .or_default() += 1;
        if r["changed"] == true {
            *counts.entry("changed").or_default() += 1;
        }
    }
    for chip in doc.find("b", "") {
        let Some(g) = chip.attr("data-count") else {
            continue;
        };
        let want = counts.get(g).copied().unwrap_or(0);
        assert_eq!(chip.text(), want.to_string(), "chip {g}: {counts:?}");
    }
    assert_eq!((counts["done"], counts["failed"]), (5, 1), "{counts:?}");
    for c in &cards {
        let status = rows
            .iter()
            .find(|r| r["key"].as_str() == Some(&c.find("code", "k")[0].text()))
            .unwrap()["status"]
            .as_str()
            .unwrap();
        assert_eq!(c.attr("data-group"), Some(group(status)));
    }

    // The failed row says why in plain words, with the raw message behind a disclosure.
    let f1 = rows.iter().find(|r| r["key"] == "f1").unwrap();
    let raw = f1["failure_reason"].as_str().expect("a reason");
    let plain = explain(raw);
    let failed = card(&doc, "f1");
    // (Commands the advice quotes in backticks are shown as code.)
    assert_eq!(
        failed.find("p", "what")[0].text(),
        plain.what.replace('`', "")
    );
    assert_eq!(
        failed.find("p", "todo")[0].text(),
        plain.todo.replace('`', "")
    );
    assert_eq!(failed.find("details", "")[0].find("pre", "")[0].text(), raw);
    assert_eq!(
        f1["failure_explained"].as_str(),
        Some(plain.to_string().as_str())
    );

    // Every video plays a file on disk, with its thumbnail as poster; nothing is fetched
    // from the network.
    let videos = doc.find("video", "");
    assert_eq!(videos.len(), 5);
    for v in &videos {
        assert_eq!(v.attr("preload"), Some("none"));
        for attr in ["src", "poster"] {
            let rel = v
                .attr(attr)
                .unwrap_or_else(|| panic!("a video without {attr}"));
            assert!(dir.join(rel).is_file(), "{attr}={rel} is not a file");
        }
    }
    for e in doc.elements() {
        for attr in ["src", "href", "poster"] {
            if let Some(v) = e.attr(attr) {
                assert!(!v.contains("//") && !v.starts_with("data:"), "{attr}={v}");
            }
        }
        assert!(
            e.tag() != "link" && e.tag() != "img" && e.tag() != "iframe",
            "{e:?}"
        );
    }

    // Each video's card is shaped like it, and shows its settings and scenes.
    let shape = |k: &str| {
        card(&doc, k)
            .has_class("portrait")
            .then_some("portrait")
            .or(["landscape", "square"]
                .into_iter()
                .find(|s| card(&doc, k).has_class(s)))
    };
    assert_eq!(shape("tall"), Some("portrait"));
    assert_eq!(shape("wide"), Some("landscape"));
    assert_eq!(shape("box"), Some("square"));
    let promo = card(&doc, "promo");
    let labels: Vec<String> = promo.find("b", "label").iter().map(|b| b.text()).collect();
    assert_eq!(labels, ["intro", "outro"]);
    let scripts: Vec<String> = promo
        .find("span", "script")
        .iter()
        .map(|s| s.text())
        .collect();
    assert_eq!(scripts, ["First scene.", "Second scene."]);
    let promo_row = rows.iter().find(|r| r["key"] == "promo").unwrap();
    assert_eq!(
        promo_row["scene_labels"],
        serde_json::json!(["intro", "outro"])
    );
    let props = promo.find("dl", "props")[0].text();
    let (a, v) = avatar_and_voice();
    for want in [a.as_str(), v.as_str(), "standard", "9x16", "Sheet line"] {
        assert!(props.contains(want), "{want} in {props}");
    }

    // Hostile text stays text: no element came from it, and it reads as written.
    let hostile = card(&doc, HOSTILE_KEY);
    assert_eq!(hostile.find("h2", "n")[0].text(), HOSTILE_NAME);
    assert_eq!(hostile.find("span", "script")[0].text(), HOSTILE_SCRIPT);
    assert_eq!(
        doc.find("script", "").len(),
        1,
        "only the page's own script"
    );
    assert!(doc.elements().iter().all(|e| e.attr("onerror").is_none()));
    assert!(doc.find("body", "")[0].attr("data-pwned").is_none());
    assert!(!doc.find("title", "")[0].text().contains("pwned"));
    assert_eq!(card(&doc, "wide").find("h2", "n")[0].text(), RTL_NAME);
    assert_eq!(
        card(&doc, "wide").find("h2", "n")[0].attr("dir"),
        Some("auto")
    );
    assert_eq!(card(&doc, "box").find("h2", "n")[0].text(), "春のセール");

    // A finished batch's page does not reload itself.
    let html = &doc.find("html", "")[0];
    assert_eq!(html.attr("data-refresh"), None);
    assert!(
        !doc.text().contains("http-equiv"),
        "no refresh in a finished report"
    );

    // The script runs in the browser: a filter and a search in the address apply.
    let only_failed = dump_dom(&report, "#state=failed").await;
    for c in only_failed.find("article", "card") {
        let is_failed = c.attr("data-group") == Some("failed");
        assert_eq!(c.attr("hidden").is_none(), is_failed, "{:?}", c.attr("id"));
    }
    let found = dump_dom(&report, "#q=%E3%81%8C%E3%82%84%E3%81%A3%E3%81%A6").await; // がやって
    let shown: Vec<String> = found
        .find("article", "card")
        .into_iter()
        .filter(|c| c.attr("hidden").is_none())
        .map(|c| c.find("code", "k")[0].text())
        .collect();
    assert_eq!(shown, ["box"]);
}
