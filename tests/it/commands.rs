//! The commands as a user types them: `plan`, `status`, `--help`.

use std::process::Command;

use creatify_batch::sandbox::Faults;

use crate::support::*;

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn plan_prints_a_table_and_exits_0_for_the_sample() {
    let out = Command::new(BIN)
        .arg("plan")
        .arg(repo("samples/batch.csv"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    for want in [
        "key",
        "est. credits",
        "spring-sale-ja",
        "aurora_v1_fast",
        "13 videos",
    ] {
        assert!(table.contains(want), "{want:?} missing from\n{table}");
    }
}

#[test]
fn plan_json_prints_the_exact_bodies_with_their_reference() {
    let out = Command::new(BIN)
        .args(["plan", "--json"])
        .arg(repo("samples/batch.csv"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let bodies: Vec<creatify_batch::api::CreateLipsync> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one request body"))
        .collect();
    assert_eq!(bodies.len(), 13);
    for b in &bodies {
        let name = b.name.as_deref().unwrap();
        assert!(name.starts_with("cb") && name.len() <= 255, "{name}");
        assert_eq!(
            creatify_batch::engine::reference::references_in(name).len(),
            1,
            "{name}"
        );
        assert!(creatify_batch::api::validate::validate(b)
            .iter()
            .all(|v| v.severity == creatify_batch::api::validate::Severity::Warning));
    }
}

#[test]
fn plan_of_the_invalid_sample_exits_2_naming_lines() {
    let out = Command::new(BIN)
        .arg("plan")
        .arg(repo("samples/invalid.csv"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3, column script: may not be blank"),
        "{err}"
    );
    assert!(err.contains("did you mean \"9x16\"?"), "{err}");
}

#[test]
fn help_lists_the_exit_codes_and_no_secret() {
    let out = Command::new(BIN)
        .args(["run", "--help"])
        .env("CREATIFY_API_ID", "help-id-SECRET")
        .env("CREATIFY_API_KEY", "help-key-SECRET")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for want in ["Exit codes:", "130", "--max-credits", "--retry-failed"] {
        assert!(help.contains(want), "{want:?} missing from --help");
    }
    assert!(!help.contains("SECRET"));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reads_the_journal_without_the_network() {
    let mut faults = Faults::default();
    faults.jobs.fail = 1.0;
    let h = Harness::start(faults, |_| {}).await;
    let sheet = h.sheet("st.csv", &sheet_of(2));
    let out = h.run(&sheet, &[]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    // The base URL points nowhere: status must not need the network.
    let out = Command::new(BIN)
        .current_dir(h.dir.path())
        .args(["status", "out/st", "--json"])
        .env("CREATIFY_BASE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["counts"]["failed"], 2);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 2);
    let raw = doc["problems"][0]["reason"].as_str().unwrap_or_default();
    assert!(!raw.is_empty(), "{doc}");
    let plain_words = creatify_batch::output::explain::explain(raw).to_string();
    assert_eq!(
        doc["problems"][0]["reason_text"].as_str(),
        Some(plain_words.as_str())
    );
    // And the default folder from the config, holding one batch.
    let plain = Command::new(BIN)
        .current_dir(h.dir.path())
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(code(&plain), 0, "{}", text(&plain));
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.contains("failed      2"), "{plain}");
    assert!(
        plain.contains(&plain_words) && plain.contains(&format!("raw: {raw}")),
        "{plain}"
    );
}
