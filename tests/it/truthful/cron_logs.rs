//! The README's cron line, run as written (through `sh -c`, with a stub `mail`): the log
//! file is all JSON lines, the summary is one of them, and the mail sees the real exit code.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use creatify_batch::sandbox::Faults;

use crate::support::*;

/// The command of the README's crontab line (the schedule's five fields dropped).
fn readme_cron_command() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let block = readme
        .split("```cron\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a ```cron block in README.md");
    let line = block
        .lines()
        .find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .expect("a crontab line in the cron block");
    let mut rest = line.trim_start();
    for _ in 0..5 {
        rest = rest
            .split_once(char::is_whitespace)
            .expect("five schedule fields")
            .1
            .trim_start();
    }
    rest.to_owned()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("the log file");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_cron_line_keeps_json_logs_and_mails_the_real_exit_code() {
    let h = Harness::start(Faults::default(), |_| {}).await;
    let root = h.dir.path();
    let command = readme_cron_command();
    assert!(command.contains("code=$?"), "{command}");
    let command = command.replacen("cd /srv/ads", &format!("cd '{}'", root.display()), 1);
    assert!(command.contains(&root.display().to_string()), "{command}");
    std::fs::create_dir_all(root.join("sheets")).unwrap();
    std::fs::create_dir_all(root.join("logs")).unwrap();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("creatify-batch")).unwrap();
    let mailed = root.join("mailed.txt");
    let stub = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\ncat >> '{}'\n",
        mailed.display(),
        mailed.display()
    );
    std::fs::write(bin.join("mail"), stub).unwrap();
    std::fs::set_permissions(bin.join("mail"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sheet = root.join("sheets/tonight.csv");
    let cron = |command: String| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .env("PATH", &path)
            .env("CREATIFY_BASE_URL", h.sandbox.base_url())
            .env("CREATIFY_API_ID", &h.id)
            .env("CREATIFY_API_KEY", &h.key)
            .stdin(std::process::Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().expect("sh runs"))
    };

    // A good night: exit 0, no mail.
    std::fs::write(&sheet, sheet_of(2)).unwrap();
    let out = cron(command.clone()).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        text(&out)
    );
    assert!(!mailed.exists(), "mailed on exit 0");
    let log = root.join("logs/creatify.jsonl");
    let lines = json_lines(&log);
    let summaries: Vec<_> = lines.iter().filter(|l| l["event"] == "summary").collect();
    assert_eq!(summaries.len(), 1, "{lines:?}");
    let s = summaries[0];
    assert_eq!(s["exit_code"], 0, "{s}");
    assert_eq!(s["counts"]["downloaded"], 2, "{s}");
    assert_eq!(s["credits_used"], 10.0, "{s}");
    assert_eq!(s["batch"], "tonight", "{s}");
    assert!(s["api_calls"].as_u64().is_some_and(|n| n > 0), "{s}");
    assert!(s["wall_secs"].is_number(), "{s}");

    // A row edited after its video was made: exit 6, and the mail says 6.
    std::fs::write(
        &sheet,
        sheet_of(2).replace("Hello number 1,", "Hey number 1,"),
    )
    .unwrap();
    let out = cron(command).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mail = std::fs::read_to_string(&mailed).expect("mail was sent");
    assert!(mail.contains("creatify-batch: exit 6"), "{mail}");
    let lines = json_lines(&log);
    let last = lines.iter().rfind(|l| l["event"] == "summary").unwrap();
    assert_eq!(last["exit_code"], 6, "{last}");
    assert_eq!(last["changed"], serde_json::json!(["v001"]), "{last}");
}
