//! `status` takes the sheet too, and finds its batch as `run` does (`--batch`, `--sandbox`).

use std::path::Path;
use std::process::{Command, Output};

use creatify_batch::sandbox::Faults;

use crate::support::*;

fn status(h: &Harness, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(h.dir.path())
        .arg("status")
        .args(args)
        .env("CREATIFY_BASE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(code(out), 0, "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn batch_of(doc: &serde_json::Value) -> String {
    let p = doc["batch"].as_str().unwrap();
    Path::new(p)
        .strip_prefix("out")
        .unwrap_or(Path::new(p))
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_finds_a_sheets_batch_its_rehearsal_and_a_named_batch() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let sheet = h.sheet("promo.csv", &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rehearsal = super::identity::sandbox_run(&h, &sheet, &["--batch", "dry"]);
    assert_eq!(code(&rehearsal), 0, "{}", text(&rehearsal));

    let doc = json(&status(&h, &["promo.csv", "--json"]));
    assert_eq!(batch_of(&doc), "promo");
    assert_eq!(doc["counts"]["downloaded"], 2);
    assert_eq!(doc["target"]["kind"], "api");
    assert!(doc["sheet"]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("promo.csv")));
    let doc = json(&status(&h, &["--batch", "promo", "--json"]));
    assert_eq!(batch_of(&doc), "promo");
    let doc = json(&status(&h, &["--batch", "dry", "--sandbox", "--json"]));
    assert_eq!(batch_of(&doc), "sandbox/dry");
    assert_eq!(doc["target"]["kind"], "sandbox");
    // A batch folder, as before.
    let doc = json(&status(&h, &["out/promo", "--json"]));
    assert_eq!(doc["counts"]["downloaded"], 2);
    // The text form names the sheet and the API.
    let plain = status(&h, &["promo.csv"]);
    assert_eq!(code(&plain), 0, "{}", text(&plain));
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(
        stdout.contains("sheet: ") && stdout.contains("api: "),
        "{stdout}"
    );

    // Another sheet of the same name does not get this batch's status.
    std::fs::create_dir_all(h.dir.path().join("other")).unwrap();
    h.sheet("other/promo.csv", &sheet_of(3));
    let other = status(&h, &["other/promo.csv"]);
    assert_eq!(code(&other), 2, "{}", text(&other));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("belongs to"),
        "{}",
        text(&other)
    );
    // A sheet with no batch yet says so.
    h.sheet("new.csv", &sheet_of(1));
    let none = status(&h, &["new.csv"]);
    assert_eq!(code(&none), 2, "{}", text(&none));
}
