//! Properties over arbitrary input: any bytes as a sheet, any text as a config, any text as a
//! key. Each case runs under a watchdog (a hang fails the test instead of stalling the
//! suite); 256 cases per property keep the whole file well under a second.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::keys::assert_safe_folder_name;
use super::within;
use creatify_batch::config::{ConfigError, Settings};
use creatify_batch::output::folder_name;
use creatify_batch::output::manifest::defuse;
use creatify_batch::plan::{plan_bytes, PlanError};
use creatify_batch::sheet::undefuse;

/// Far above what any case needs (milliseconds): only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

/// Lines in `bytes` as the sheet reader counts them.
fn line_count(bytes: &[u8]) -> u64 {
    1 + bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Plans `bytes` under the watchdog and checks that every line number it gives points into
/// the file.
fn plan_answers(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let lines = line_count(&bytes);
    let result = within(HANG, "planning arbitrary bytes", move || {
        plan_bytes(Path::new("fuzz.csv"), &bytes, &Settings::default())
    });
    let inside = |l: u64| (1..=lines).contains(&l);
    match result {
        Ok(plan) => {
            for v in &plan.videos {
                prop_assert!(
                    v.lines.iter().all(|&l| inside(l)),
                    "{:?} of {lines}",
                    v.lines
                );
                prop_assert!(!v.key.is_empty());
            }
        }
        Err(PlanError::Invalid(ds)) => {
            prop_assert!(ds.iter().any(|d| !d.warning), "no error among {ds:?}");
            for d in &ds {
                prop_assert!(inside(d.line), "{d} (the file has {lines} lines)");
            }
        }
        Err(PlanError::NotUtf8 { line, .. }) => prop_assert!(inside(line)),
        Err(PlanError::Empty { .. }) => {}
        Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other}"))),
    }
    Ok(())
}

/// Loads `text` as a config under the watchdog: an error with its position inside the file,
/// or settings every one of whose values is in range.
fn config_answers(text: String) -> Result<(), TestCaseError> {
    let lines = 1 + text.matches('\n').count();
    let result = within(HANG, "loading an arbitrary config", move || {
        Settings::from_toml(&text, Path::new("fuzz.toml"))
    });
    match result {
        Ok(s) => {
            let rate = s.limits.requests_per_second;
            prop_assert!(rate.is_finite() && rate > 0.0);
            prop_assert!(s.limits.burst >= 1 && s.limits.max_in_flight >= 1);
            prop_assert!((1..=100).contains(&s.poll.batch_size));
            prop_assert!(s.poll.min_interval <= s.poll.max_interval);
            prop_assert!(s.retry.min_delay <= s.retry.max_delay && s.retry.max_attempts >= 1);
            prop_assert!(s.output.max_download_bytes >= 1024 * 1024);
            prop_assert!(matches!(s.api.base_url.scheme(), "http" | "https"));
        }
        Err(ConfigError::Syntax { message, .. }) => {
            // `line L, column C: ...`, never the offending line itself.
            if let Some(rest) = message.strip_prefix("line ") {
                let line: usize = rest.split(',').next().unwrap().parse().unwrap();
                prop_assert!((1..=lines).contains(&line), "{message}");
            }
            prop_assert!(!message.contains('\n'), "{message}");
        }
        Err(ConfigError::Invalid { problems, .. }) => prop_assert!(!problems.is_empty()),
        Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other}"))),
    }
    Ok(())
}

/// Config-shaped text: known and unknown sections and keys, values of every TOML type,
/// broken syntax.
fn config_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        proptest::sample::select(vec![
            "[api]\n",
            "[limits]\n",
            "[retry]\n",
            "[poll]\n",
            "[output]\n",
            "[estimate]\n",
            "[defaults]\n",
            "[defaults.voice]\n",
            "[defaults.caption_setting]\n",
            "[columns]\n",
            "[[defaults.video_inputs]]\n",
            "[limits.extra]\n",
            "\n",
            "=",
            "[",
            "\"",
        ])
        .prop_map(str::to_owned),
        proptest::sample::select(vec![
            "base_url",
            "key_env",
            "burst",
            "requests_per_second",
            "batch_size",
            "min_interval_secs",
            "max_interval_secs",
            "min_delay_secs",
            "max_delay_secs",
            "dir",
            "max_download_mib",
            "words_per_second",
            "scene_allowance_secs",
            "aspect_ratio",
            "volume",
            "style",
            "url",
            "Skript",
            "unknown",
            "\"quoted key\"",
        ])
        .prop_map(|k| format!("{k} = ")),
        proptest::sample::select(vec![
            "0",
            "1",
            "-1",
            "101",
            "1.5",
            "inf",
            "nan",
            "-inf",
            "true",
            "\"5\"",
            "\"https://x.y\"",
            "\"file:///etc/passwd\"",
            "\"script\"",
            "\"16x9\"",
            "[1, 2]",
            "{ a = 1 }",
            "1979-05-27T07:32:00Z",
            "99999999999999999999",
            "\"\"",
            "'lit'",
        ])
        .prop_map(|v| format!("{v}\n")),
        "[ -~]{0,12}",
    ];
    proptest::collection::vec(token, 0..30).prop_map(|t| t.concat())
}

/// Key-shaped text: path pieces, reserved names, look-alikes, controls, long runs.
fn key_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        proptest::sample::select(vec![
            "..",
            ".",
            "/",
            "\\",
            "../",
            "..\\",
            "C:",
            "con",
            "CON",
            "nul",
            "com1",
            "lpt0",
            ".txt",
            "journal.sqlite",
            "-wal",
            ".partial",
            "manifest.json",
            "-",
            "_",
            "~",
            "$",
            "%",
            "\0",
            "\n",
            "\u{202e}",
            "\u{200b}",
            "\u{feff}",
            "．",
            "／",
            "＼",
            "ｃｏｎ",
            "∕",
            "⁄",
            "é",
            "日本",
            "🎬",
            " ",
            "\t",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9]{1,8}",
        "x{60,70}",
    ];
    proptest::collection::vec(token, 0..12).prop_map(|t| t.concat())
}

/// Pieces of CSV: headers, delimiters, quotes, line breaks, BOMs, controls, formulas,
/// garbled text, values, and raw bytes.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        proptest::sample::select(vec![
            "key",
            "script",
            "avatar",
            "video",
            "model",
            "aspect",
            "background",
            "music",
            "voice.volume",
            "sep=;\n",
            "sep=\"\n",
            ",",
            ";",
            "\t",
            "\"",
            "\"\"",
            "\n",
            "\r\n",
            "\r",
            "\u{feff}",
            "\0",
            "\u{1b}",
            "'=",
            "=HYPERLINK(\"x\")",
            "Ã©",
            "edb9719c-42af-5c7f-83d5-b7de95567b5e",
            "Hi there",
            "aurora_v1",
            "1.5",
            "50%",
            "file:///etc/passwd",
            "https://a.b/c.jpg",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(part, 0..80).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_as_a_sheet_give_a_plan_or_errors_on_lines_of_the_file(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        plan_answers(bytes)?;
    }

    #[test]
    fn any_csv_shaped_bytes_give_a_plan_or_errors_on_lines_of_the_file(bytes in csv_bytes()) {
        plan_answers(bytes)?;
    }

    #[test]
    fn any_bytes_as_a_config_give_settings_or_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..1024)
    ) {
        config_answers(String::from_utf8_lossy(&bytes).into_owned())?;
    }

    #[test]
    fn any_config_shaped_text_gives_settings_in_range_or_an_error(text in config_text()) {
        config_answers(text)?;
    }

    #[test]
    fn folder_names_are_safe_bounded_and_distinct(
        a in prop_oneof![key_text(), any::<String>()],
        b in prop_oneof![key_text(), any::<String>()],
    ) {
        let (fa, fb) = (folder_name(&a), folder_name(&b));
        assert_safe_folder_name(&a, &fa);
        assert_safe_folder_name(&b, &fb);
        prop_assert_eq!(&fa, &folder_name(&a));
        if a != b {
            prop_assert_ne!(fa, fb);
        }
    }

    #[test]
    fn failed_csv_cells_read_back_as_written(cell in prop_oneof![
        "['=+@\t\r -]{0,4}[ -~]{0,10}",
        any::<String>(),
    ]) {
        let written = defuse(&cell);
        prop_assert_eq!(undefuse(&written), cell.as_str());
    }
}
