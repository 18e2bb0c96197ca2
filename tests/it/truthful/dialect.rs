//! Spreadsheet round-trip: `manifest.csv` and `failed.csv` are written in the sheet's own
//! dialect (delimiter, UTF-8 byte order mark, line ends), so they open correctly in the
//! spreadsheet the sheet came from, and `failed.csv` plans the same bodies again.

use creatify_batch::config::Settings;
use creatify_batch::plan::plan_file;
use creatify_batch::sandbox::Faults;

use crate::support::*;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[tokio::test(flavor = "multi_thread")]
async fn reports_keep_the_sheets_delimiter_and_bom_and_failed_csv_plans_the_same_bodies() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    // What Excel writes in a `;` locale as "CSV UTF-8": a BOM, `;`, CRLF.
    let csv = super::feedback::sheet_with_two_bad_rows()
        .replace(',', ";")
        .replace('\n', "\r\n");
    let mut bytes = BOM.to_vec();
    bytes.extend_from_slice(csv.as_bytes());
    let sheet = h.dir.path().join("excel.csv");
    std::fs::write(&sheet, &bytes).unwrap();
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let dir = h.batch_dir("excel");

    let manifest = std::fs::read(dir.join("manifest.csv")).unwrap();
    assert!(manifest.starts_with(BOM), "manifest.csv has no BOM");
    let manifest = String::from_utf8(manifest[BOM.len()..].to_vec()).unwrap();
    assert!(
        manifest.starts_with("key;name;status;changed;job_id;"),
        "{manifest}"
    );
    assert!(manifest.contains("\r\n"), "{manifest:?}");
    assert_eq!(manifest.lines().count(), 6, "{manifest}");

    let failed = std::fs::read(dir.join("failed.csv")).unwrap();
    assert!(failed.starts_with(BOM), "failed.csv has no BOM");
    let failed_text = String::from_utf8(failed[BOM.len()..].to_vec()).unwrap();
    assert!(
        failed_text.starts_with("key;name;script;avatar;voice;aspect;#reason\r\n"),
        "{failed_text:?}"
    );

    // Read back, failed.csv is the same dialect and plans the very bodies of its rows.
    let settings = Settings::default();
    let original = plan_file(&sheet, &settings).unwrap();
    let again = plan_file(&dir.join("failed.csv"), &settings).unwrap();
    assert_eq!(again.format.delimiter, b';');
    assert!(again.format.bom);
    let bodies = |p: &creatify_batch::plan::Plan, keys: &[&str]| {
        p.videos
            .iter()
            .filter(|v| keys.contains(&v.key.as_str()))
            .map(|v| (v.key.clone(), serde_json::to_value(&v.body).unwrap()))
            .collect::<Vec<_>>()
    };
    let keys = ["v004", "v005"];
    assert_eq!(again.videos.len(), 2);
    assert_eq!(bodies(&again, &keys), bodies(&original, &keys));
}
