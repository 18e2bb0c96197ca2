//! Regression tests for what the corpus found, each named after what it guards (the others
//! are corpus cases, named the same way: `sheets/32-keys-differing-only-in-case.csv`, ...).

use std::path::Path;
use std::time::Duration;

use creatify_batch::config::{ConfigError, Settings};
use creatify_batch::output::folder_name;
use creatify_batch::plan::{plan_bytes, PlanError};

use super::within;

/// Generous: the fixed code answers in well under a second; before the fix these inputs
/// took half a minute and more.
const LIMIT: Duration = Duration::from_secs(10);

fn errors(csv: Vec<u8>) -> Vec<String> {
    match plan_bytes(Path::new("r.csv"), &csv, &Settings::default()) {
        Err(PlanError::Invalid(ds)) => ds
            .iter()
            .filter(|d| !d.warning)
            .map(|d| d.to_string())
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_megabyte_header_is_refused_without_a_did_you_mean_search() {
    // Comparing a 4 MiB header with every field name took about 35 s.
    let csv = format!(
        "key,{},avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n",
        "h".repeat(4 << 20)
    )
    .into_bytes();
    let e = within(LIMIT, "planning a 4 MiB header", move || errors(csv));
    assert!(
        e[0].contains("unknown column \"hhhh") && !e[0].contains("did you mean"),
        "{e:?}"
    );
    assert!(
        e[0].len() < 600,
        "the error quotes the whole header: {} bytes",
        e[0].len()
    );
}

#[test]
fn a_megabyte_config_key_is_refused_without_a_did_you_mean_search() {
    let text = format!("[defaults]\n{} = 1\n", "k".repeat(4 << 20));
    let e = within(LIMIT, "loading a 4 MiB key", move || {
        Settings::from_toml(&text, Path::new("p.toml"))
            .unwrap_err()
            .to_string()
    });
    assert!(
        e.contains("unknown request field") && e.len() < 600,
        "{}",
        &e[..e.len().min(600)]
    );
}

#[test]
fn a_toml_syntax_error_never_echoes_the_offending_line() {
    // The parser's own rendering quotes the line: a pasted key, or a megabyte of it.
    let long = "x".repeat(100_000);
    for (text, place) in [
        (
            "[api]\nkey_env = sk-live-4f9a8b7c6d5e\n".to_owned(),
            "line 2, column 11",
        ),
        (format!("[limits]\nburst = {long}\n"), "line 2, column 9"),
    ] {
        let e = Settings::from_toml(&text, Path::new("p.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("p.toml: not valid TOML: {place}: ")),
            "{shown}"
        );
        assert!(
            !shown.contains("sk-live") && !shown.contains("xxxx") && !shown.contains('\n'),
            "{shown}"
        );
    }
}

#[test]
fn row_folders_never_take_the_batch_files_or_a_device_name() {
    for key in [
        "journal.sqlite-wal",
        "journal.sqlite-shm",
        "manifest.json.partial",
        "failed.csv.partial",
        "report.html.partial",
        "con.mp4",
        "CON.txt.partial",
        "lpt0",
        "-rf",
    ] {
        let f = folder_name(key);
        assert_ne!(f, key);
        super::keys::assert_safe_folder_name(key, &f);
    }
    // Names that were safe stay as they were: existing batches keep their folders.
    for key in [
        "spring-01",
        "Video_2",
        "a.b",
        "report",
        "journal",
        "con-test",
        "x-",
    ] {
        assert_eq!(folder_name(key), key);
    }
}

#[test]
fn a_refused_cell_is_not_reported_again_as_missing() {
    // A duration that is not a number is the one problem of a silent scene, not two.
    let e = errors(
        b"key,script,avatar,voice.type,voice.duration\na,,edb9719c-42af-5c7f-83d5-b7de95567b5e,silence,abc\n".to_vec(),
    );
    assert_eq!(
        e,
        [r#"line 2, column voice.duration: "abc" is not a number"#]
    );
    // Nor is a script too long to read also a scene without a voice.
    let csv = format!(
        "key,script,avatar\na,{},edb9719c-42af-5c7f-83d5-b7de95567b5e\n",
        "w".repeat(20_000)
    )
    .into_bytes();
    let e = errors(csv);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("line 2, column script: is 20000 characters long"),
        "{e:?}"
    );
}

#[test]
fn a_quote_before_formula_text_is_read_the_way_failed_csv_writes_it() {
    // failed.csv writes `'=x` for `=x`; a hand-typed `'=x` reads as `=x` too (the price of
    // the round trip), and a `'` before anything else stays.
    let csv =
        b"key,script,avatar\na,'=1+1,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,'tis the season,edb9719c-42af-5c7f-83d5-b7de95567b5e\nc,''-5,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    let plan = plan_bytes(Path::new("r.csv"), csv, &Settings::default()).unwrap();
    let scripts: Vec<&str> = plan
        .videos
        .iter()
        .map(|v| {
            v.body.video_inputs[0]
                .voice
                .as_ref()
                .unwrap()
                .input_text
                .as_deref()
                .unwrap()
        })
        .collect();
    assert_eq!(scripts, ["=1+1", "'tis the season", "'-5"]);
}

#[test]
fn text_from_a_sheet_never_reaches_the_terminal_raw() {
    // A header's text is printed as the column of its errors; a name, in the plan's table.
    let csv = b"key,\x1b[2J\x1b[31mscript,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    let shown = match plan_bytes(Path::new("r.csv"), csv, &Settings::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("planned"),
    };
    assert!(
        shown.contains("column \\u{1b}[2J\\u{1b}[31mscript"),
        "{shown}"
    );
    let csv = "key,script,avatar,name\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,Sale \u{202e}3202 ends\tsoon\n";
    let plan = plan_bytes(Path::new("r.csv"), csv.as_bytes(), &Settings::default()).unwrap();
    let table = creatify_batch::plan::render_table(&plan);
    assert!(table.contains("Sale \\u{202e}3202 ends\\tsoon"), "{table}");
    assert!(!table.contains(['\u{1b}', '\u{202e}', '\t']), "{table}");
}
