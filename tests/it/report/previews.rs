//! A `run --preview` batch's report in headless Chromium: each preview linked beside its
//! script and settings (never loaded on open: the sandbox sees no request for a preview
//! page), its age, each step's credits, a verdict given by command on its card, and the
//! approve/reject ticks turned into the `approvals.csv` the page offers for download, which
//! `creatify_batch::review::file::read` and `run --approvals` accept, so `--render-approved`
//! renders exactly the ticked and commanded ones.

use std::path::Path;

use creatify_batch::review::file::{read, FileApproval};
use creatify_batch::sandbox::Faults;

use super::dom::Node;
use super::dump_dom;
use crate::support::*;

/// A key with a comma and quotes (its CSV cell must be quoted) that a spreadsheet would run
/// as a formula (its cell must start with `'`).
const ODD_KEY: &str = "=spring, \"big\" sale";

fn sheet() -> String {
    let mut s = sheet_of(3);
    s.push_str(&format!(
        "\"{}\",Odd one,\"An odd key, quoted.\",edb9719c-42af-5c7f-83d5-b7de95567b5e,52825997-e2f1-5148-a3f3-620a6cb2bacf,9x16\n",
        ODD_KEY.replace('"', "\"\"")
    ));
    s
}

/// Each row's reference, from the journal.
fn references(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let snap = creatify_batch::journal::Journal::open_read_only(dir)
        .expect("journal reads")
        .expect("a journal");
    snap.rows
        .into_iter()
        .map(|r| (r.key, r.reference.unwrap_or_default()))
        .collect()
}

fn card<'a>(doc: &'a Node, key: &str) -> &'a Node {
    doc.find("article", "card")
        .into_iter()
        .find(|c| c.find("code", "k").first().map(|k| k.text()) == Some(key.to_owned()))
        .unwrap_or_else(|| panic!("no card for {key:?}"))
}

/// The text of a `data:text/csv` link.
fn data_csv(href: &str) -> String {
    let body = href
        .strip_prefix("data:text/csv;charset=utf-8,")
        .unwrap_or_else(|| panic!("not a CSV data link: {href}"));
    let bytes: Vec<u8> = {
        let mut out = Vec::new();
        let b = body.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("percent-encoded byte"));
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    };
    String::from_utf8(bytes).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_batch_report_shows_previews_and_its_ticks_download_as_approvals_csv() {
    // No browser: fail at once, saying how to get one.
    super::chromium();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let path = h.sheet("review.csv", &sheet());
    let out = h.run(&path, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = h.batch_dir("review");
    let approve = std::process::Command::new(BIN)
        .current_dir(h.dir.path())
        .args(["approve"])
        .arg(&dir)
        .arg("v003")
        .output()
        .unwrap();
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve));
    // A rerun sends nothing and writes the report with the verdict.
    let out = h.run(&path, &["--preview"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let refs = references(&dir);
    assert_eq!(refs.len(), 4);

    let report = dir.join("report.html");
    let fragment = format!(
        "#yes={}&no={},{}",
        refs["v001"], refs["v002"], refs[ODD_KEY]
    );
    let doc = dump_dom(&report, &fragment).await;

    // Opening the page fetched no preview: nothing is loaded until a reader asks.
    let stats = h.stats();
    let pages: u64 = stats
        .requests
        .get("GET /preview/{id}/")
        .map(|m| m.values().sum())
        .unwrap_or(0);
    assert_eq!(
        pages, 0,
        "the report loaded a preview on open: {:?}",
        stats.requests
    );
    assert!(doc.find("iframe", "").is_empty());
    assert!(doc.find("video", "").is_empty(), "no final videos yet");

    let chip = doc
        .find("b", "")
        .into_iter()
        .find(|b| b.attr("data-count") == Some("preview-ready"))
        .expect("a preview-ready chip");
    assert_eq!(chip.text(), "4");
    let bar = doc
        .elements()
        .into_iter()
        .find(|e| e.attr("id") == Some("approvals"))
        .expect("the approvals bar");
    assert!(bar.attr("hidden").is_none(), "the script shows it");

    let rows = manifest_rows(&dir);
    for key in ["v001", "v002", "v003", ODD_KEY] {
        let c = card(&doc, key);
        assert_eq!(c.attr("data-group"), Some("preview-ready"), "{key}");
        let job = rows
            .iter()
            .find(|r| r["key"] == key)
            .and_then(|r| r["job_id"].as_str())
            .expect("a job id in the manifest")
            .to_owned();
        let link = format!("{}/preview/{job}/", h.sandbox.base_url());
        let a = &c.find("a", "pv-link")[0];
        assert_eq!(a.attr("href"), Some(link.as_str()), "{key}");
        assert_eq!(a.attr("target"), Some("_blank"));
        let frame = &c.find("div", "pv")[0];
        assert_eq!(frame.attr("data-src"), Some(link.as_str()));
        assert!(frame.find("button", "pv-load")[0].attr("hidden").is_none());
        assert!(!c.find("span", "age")[0].text().is_empty());
        let steps = c.find("div", "steps")[0].text();
        assert!(
            steps.contains("preview 1 credit") && steps.contains("render ≈ 4 credits"),
            "{key}: {steps}"
        );
        let tick = &c.find("fieldset", "tick")[0];
        assert_eq!(tick.attr("data-key"), Some(key));
        assert_eq!(tick.attr("data-reference"), Some(refs[key].as_str()));
        assert!(tick.attr("hidden").is_none());
    }
    assert_eq!(card(&doc, "v001").attr("data-tick"), Some("yes"));
    assert_eq!(card(&doc, "v002").attr("data-tick"), Some("no"));
    assert_eq!(card(&doc, "v003").attr("data-tick"), None);
    let v003 = card(&doc, "v003");
    assert_eq!(v003.attr("data-verdict"), Some("approved"));
    assert!(v003.find("p", "verdict")[0].text().starts_with("Approved"));
    assert!(v003.find("span", "badge")[0].text().contains("approved"));

    // The download is the ticked cards, in card order, as approvals.csv.
    let download = doc
        .elements()
        .into_iter()
        .find(|e| e.attr("id") == Some("download"))
        .expect("the download link");
    assert_eq!(download.attr("download"), Some("approvals.csv"));
    assert_eq!(download.attr("aria-disabled"), None);
    let csv = data_csv(download.attr("href").unwrap());
    assert_eq!(
        csv,
        format!(
            "key,reference,approve\r\nv001,{},yes\r\nv002,{},no\r\n\"'=spring, \"\"big\"\" sale\",{},no\r\n",
            refs["v001"], refs["v002"], refs[ODD_KEY]
        )
    );
    let file = h.dir.path().join("approvals.csv");
    std::fs::write(&file, &csv).unwrap();
    let read_back = read(&file).expect("the review's reader takes the page's file");
    let line = |key: &str, approve| FileApproval {
        key: key.into(),
        reference: refs[key].clone(),
        approve,
    };
    assert_eq!(
        read_back,
        [
            line("v001", true),
            line("v002", false),
            line(ODD_KEY, false)
        ]
    );

    // What a reader's clicks do, in a copy of the page with a script that clicks: the
    // preview's button frames it (sandboxed, no referrer), a tick changes the download
    // and is kept in the address.
    let html = std::fs::read_to_string(&report).unwrap();
    let clicks = "<script>\
        document.querySelector('.pv-load').click();\
        document.querySelectorAll('fieldset.tick')[3].querySelector('input[value=yes]').click();\
        document.body.setAttribute('data-hash', location.hash);\
        </script></body>";
    let clicked = dir.join("clicked.html");
    std::fs::write(&clicked, html.replacen("</body>", clicks, 1)).unwrap();
    let doc = dump_dom(&clicked, &fragment).await;
    let frames = doc.find("iframe", "");
    assert_eq!(frames.len(), 1, "one click, one preview framed");
    let first_job = rows[0]["job_id"].as_str().unwrap();
    let first_link = format!("{}/preview/{first_job}/", h.sandbox.base_url());
    assert_eq!(frames[0].attr("src"), Some(first_link.as_str()));
    assert_eq!(
        frames[0].attr("sandbox"),
        Some("allow-scripts allow-same-origin allow-presentation")
    );
    assert_eq!(frames[0].attr("referrerpolicy"), Some("no-referrer"));
    let hash = doc.find("body", "")[0]
        .attr("data-hash")
        .unwrap()
        .to_owned();
    assert!(
        hash.contains(&format!("yes={},{}", refs["v001"], refs[ODD_KEY])),
        "{hash}"
    );
    let download = doc
        .elements()
        .into_iter()
        .find(|e| e.attr("id") == Some("download"))
        .expect("the download link");
    let ticked = data_csv(download.attr("href").unwrap());
    assert!(
        ticked.ends_with(&format!(
            "\"'=spring, \"\"big\"\" sale\",{},yes\r\n",
            refs[ODD_KEY]
        )),
        "{ticked}"
    );
    std::fs::remove_file(&clicked).unwrap();

    // And the run takes it: the ticked approval and the commanded one are rendered, once.
    let approvals = file.to_str().unwrap();
    let out = h
        .run(&path, &["--approvals", approvals, "--render-approved"])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stats = h.stats();
    let rendered: Vec<&u64> = stats.renders_by_job.values().collect();
    assert_eq!(rendered, [&1, &1], "{:?}", stats.renders_by_job);
    let st = states(&dir);
    assert_eq!(
        (st["v001"].as_str(), st["v003"].as_str()),
        ("downloaded", "downloaded")
    );
    assert_eq!(st["v002"], "preview_ready");

    // The rendered cards play their files and say what each step cost.
    let doc = dump_dom(&report, "").await;
    let done = card(&doc, "v001");
    assert_eq!(done.find("video", "").len(), 1);
    let steps = done.find("div", "steps")[0].text();
    assert!(
        steps.contains("preview 1 credit") && steps.contains("render 4 credits"),
        "{steps}"
    );
    assert!(
        done.find("fieldset", "tick").is_empty(),
        "nothing left to tick"
    );
    let rejected = card(&doc, "v002");
    assert_eq!(rejected.attr("data-verdict"), Some("rejected"));
    assert!(rejected.find("div", "steps")[0]
        .text()
        .contains("render none"));
}
