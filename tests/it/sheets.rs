//! Issue 15, "The sheet as teams keep it": workbooks (.xlsx made here with rust_xlsxwriter,
//! a committed .ods), sheets fetched by their link from a local server, and `[matrix]`
//! variants.

mod links;
mod matrix;
mod workbooks;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use creatify_batch::config::Settings;
use creatify_batch::plan::{plan_sheet, Plan, PlanError};
use creatify_batch::sandbox::PERSONAS;

use crate::support::BIN;

/// An avatar id the sandbox knows.
pub fn avatar() -> &'static str {
    PERSONAS[0].id
}

/// Another one.
pub fn avatar2() -> &'static str {
    PERSONAS[1].id
}

/// A workbook's bytes, its first tab filled by `fill`.
pub fn xlsx(fill: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    fill(book.add_worksheet());
    book.save_to_buffer().expect("workbook written")
}

/// Writes `rows` of text cells (a row per slice) from the top left.
pub fn write_rows(ws: &mut rust_xlsxwriter::Worksheet, rows: &[&[&str]]) {
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                ws.write_string(r as u32, c as u16, *cell).expect("cell");
            }
        }
    }
}

/// Plans workbook bytes (tab `tab`) with `settings`.
pub fn plan_book(bytes: &[u8], tab: Option<&str>, settings: &Settings) -> Result<Plan, PlanError> {
    plan_sheet(
        Path::new("sheet.xlsx"),
        bytes,
        Some("xlsx"),
        tab,
        settings,
        None,
    )
}

/// The problems of an invalid plan, displayed.
pub fn problems(r: Result<Plan, PlanError>) -> Vec<String> {
    match r {
        Err(PlanError::Invalid(d)) => d.iter().map(|d| d.to_string()).collect(),
        Ok(_) => panic!("expected problems, the sheet planned"),
        Err(e) => panic!("expected problems, got {e}"),
    }
}

/// Settings from a pipeline.toml's text.
pub fn settings(toml: &str) -> Settings {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("pipeline.toml");
    std::fs::write(&p, toml).expect("config written");
    Settings::load(Some(&p)).unwrap_or_else(|e| panic!("{e}"))
}

/// The binary with `args`, in `dir`, with sandbox-like credentials.
pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("CREATIFY_API_ID", "id")
        .env("CREATIFY_API_KEY", "key")
        .env_remove("CREATIFY_BASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}
