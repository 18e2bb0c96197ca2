//! Workbooks read as the user sees them, named as the spreadsheet names its cells, and
//! planned exactly like the same sheet saved as CSV.

use std::io::{Read, Write};

use creatify_batch::config::Settings;
use creatify_batch::plan::{plan_sheet, PlanError};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula};

use super::*;
use crate::support::{code, manifest_rows, text, FAST_CONFIG};

/// A tab with every kind of cell in `#` columns (ignored by the planner, kept in the
/// records exactly as read).
fn kinds(ws: &mut rust_xlsxwriter::Worksheet) {
    write_rows(
        ws,
        &[
            &[
                "key", "script", "avatar", "#num", "#frac", "#date", "#bool", "#formula",
            ],
            &["007", "Hello there, this is a script.", avatar()],
        ],
    );
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_number(1, 3, 7.0).unwrap();
    ws.write_number(1, 4, 2.5).unwrap();
    ws.write_datetime_with_format(1, 5, ExcelDateTime::from_ymd(2026, 3, 1).unwrap(), &date)
        .unwrap();
    ws.write_boolean(1, 6, true).unwrap();
    ws.write_formula(1, 7, Formula::new("=1+1").set_result("2"))
        .unwrap();
}

#[test]
fn cells_read_as_the_user_sees_them() {
    let p = plan_book(&xlsx(kinds), None, &Settings::default()).unwrap();
    assert_eq!(p.videos.len(), 1);
    assert_eq!(p.videos[0].key, "007", "a key typed as text stays 007");
    assert_eq!(
        p.videos[0].records.to_vec()[0],
        [
            "007",
            "Hello there, this is a script.",
            avatar(),
            "7",
            "2.5",
            "2026-03-01",
            "true",
            "2"
        ]
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("workbook: read tab \"Sheet1\"")),
        "{:?}",
        p.notes
    );
}

/// `bytes` with every formula's saved value taken out, as a program that does not
/// calculate formulas writes them.
fn without_cached_values(bytes: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name.starts_with("xl/worksheets/") {
            let xml = String::from_utf8(data).unwrap();
            let xml = regex_free_strip(&xml);
            data = xml.into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// `<f>…</f><v>…</v>` → `<f>…</f>`.
fn regex_free_strip(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("</f><v>") {
        out.push_str(&rest[..i + 4]);
        let after = &rest[i + 4..];
        let end = after.find("</v>").unwrap() + 4;
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_formula_without_a_saved_value_is_an_error_naming_its_cell() {
    let bytes = without_cached_values(&xlsx(kinds));
    let p = problems(plan_book(&bytes, None, &Settings::default()));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("Sheet1!H2: holds the formula =1+1 but the file has no saved value"),
        "{p:?}"
    );
}

#[test]
fn problems_name_the_tab_and_cell_as_the_spreadsheet_does() {
    let bytes = xlsx(|ws| {
        ws.set_name("Spring ads").unwrap();
        write_rows(
            ws,
            &[
                &[],
                &["", "key", "script", "avatar", "aspect"],
                &["", "a", "Hello there.", avatar(), "9x16"],
                &["", "b", "Hi again.", avatar(), "9x17"],
            ],
        );
    });
    let p = problems(plan_book(&bytes, None, &Settings::default()));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("'Spring ads'!E4, column aspect: "),
        "the header starts at B2, the bad cell is E4: {p:?}"
    );
}

#[test]
fn several_tabs_the_first_by_default_another_by_name() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let first = book.add_worksheet();
    first.set_name("Scripts").unwrap();
    write_rows(
        first,
        &[&["key", "script", "avatar"], &["a", "First tab.", avatar()]],
    );
    let second = book.add_worksheet();
    second.set_name("Extra").unwrap();
    write_rows(
        second,
        &[
            &["key", "script", "avatar"],
            &["x", "Second tab.", avatar()],
            &["y", "Second tab again.", avatar()],
        ],
    );
    let bytes = book.save_to_buffer().unwrap();
    let s = Settings::default();
    let p = plan_book(&bytes, None, &s).unwrap();
    assert_eq!(
        p.videos.iter().map(|v| v.key.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert!(
        p.notes[0].contains("also in it: \"Extra\"; choose with --sheet NAME"),
        "{:?}",
        p.notes
    );
    let p = plan_book(&bytes, Some("extra"), &s).unwrap();
    assert_eq!(p.videos.len(), 2, "a tab is found in any case");
    match plan_book(&bytes, Some("Nope"), &s) {
        Err(e @ PlanError::Unreadable { .. }) => assert!(
            e.to_string()
                .contains("no tab named \"Nope\"; its tabs are \"Scripts\", \"Extra\""),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_rows_are_skipped_and_trailing_formatted_rows_ignored() {
    let bytes = xlsx(|ws| {
        write_rows(
            ws,
            &[
                &["key", "script", "avatar"],
                &["a", "One.", avatar()],
                &[],
                &["b", "Two.", avatar()],
            ],
        );
        let bold = Format::new().set_bold();
        for r in 4..40 {
            ws.write_blank(r, 0, &bold).unwrap();
            ws.write_string(r, 1, "  ").unwrap();
        }
    });
    let p = plan_book(&bytes, None, &Settings::default()).unwrap();
    assert_eq!(
        p.videos.iter().map(|v| v.lines.clone()).collect::<Vec<_>>(),
        [[2], [4]]
    );
    assert!(
        p.notes.iter().any(|n| n == "1 empty rows skipped"),
        "{:?}",
        p.notes
    );
}

#[test]
fn a_video_cell_merged_over_its_scene_rows_is_one_video() {
    let bytes = xlsx(|ws| {
        write_rows(
            ws,
            &[
                &["video", "script", "avatar"],
                &["", "Scene one.", avatar()],
                &["", "Scene two.", avatar()],
                &["solo", "Alone.", avatar()],
            ],
        );
        ws.merge_range(1, 0, 2, 0, "promo", &Format::new()).unwrap();
    });
    let p = plan_book(&bytes, None, &Settings::default()).unwrap();
    let shape: Vec<(&str, usize)> = p
        .videos
        .iter()
        .map(|v| (v.key.as_str(), v.body.video_inputs.len()))
        .collect();
    assert_eq!(shape, [("promo", 2), ("solo", 1)]);
}

/// The same rows as CSV text and as an xlsx workbook.
fn same_sheet() -> (String, Vec<u8>) {
    let rows: Vec<Vec<String>> = vec![
        vec![
            "key".into(),
            "script".into(),
            "avatar".into(),
            "aspect".into(),
            "voice.volume".into(),
        ],
        vec![
            "a".into(),
            "Spring is here, and so are our prices.".into(),
            avatar().into(),
            "9x16".into(),
            "0.5".into(),
        ],
        vec![
            "b".into(),
            "Second script, with a comma.".into(),
            avatar2().into(),
            "16:9".into(),
            "1".into(),
        ],
    ];
    let csv: String = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    if c.contains(',') {
                        format!("\"{c}\"")
                    } else {
                        c.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let book = xlsx(|ws| {
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(n) if r > 0 => ws.write_number(r as u32, c as u16, n).map(|_| ()),
                    _ => ws.write_string(r as u32, c as u16, cell).map(|_| ()),
                }
                .unwrap();
            }
        }
    });
    (csv, book)
}

#[test]
fn the_same_sheet_as_csv_and_as_xlsx_plans_identical_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, book) = same_sheet();
    std::fs::write(dir.path().join("s.csv"), csv).unwrap();
    std::fs::write(dir.path().join("s.xlsx"), book).unwrap();
    let from_csv = cli(dir.path(), &["plan", "s.csv", "--json"]);
    let from_xlsx = cli(dir.path(), &["plan", "s.xlsx", "--json"]);
    assert_eq!(code(&from_csv), 0, "{}", text(&from_csv));
    assert_eq!(code(&from_xlsx), 0, "{}", text(&from_xlsx));
    assert_eq!(String::from_utf8_lossy(&from_csv.stdout).lines().count(), 2);
    assert_eq!(from_csv.stdout, from_xlsx.stdout);
    // A workbook saved under a .csv name is read as the workbook it is.
    std::fs::copy(
        dir.path().join("s.xlsx"),
        dir.path().join("really-a-book.csv"),
    )
    .unwrap();
    let misnamed = cli(
        dir.path(),
        &["plan", "really-a-book.csv", "--json", "--batch", "s"],
    );
    assert_eq!(code(&misnamed), 0, "{}", text(&misnamed));
    assert_eq!(misnamed.stdout, from_csv.stdout);
}

/// Fixtures made with odfpy and xlwt (tests/it/sheets/): the same two rows as `.ods` and
/// `.xls`, a text `007`, numbers, booleans and dates in `#` columns.
#[test]
fn ods_and_xls_files_read_like_their_csv() {
    let s = settings(&format!(
        "[defaults.character]\navatar_id = \"{}\"\n",
        avatar()
    ));
    let csv = "key,script\n007,\"Hello there, this is the first script.\"\nb,And here is the second one.\n";
    let c = creatify_batch::plan::plan_bytes(std::path::Path::new("s.csv"), csv.as_bytes(), &s)
        .unwrap();
    for (file, ext) in [("scripts.ods", "ods"), ("scripts.xls", "xls")] {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/it/sheets")
                .join(file),
        )
        .unwrap();
        let p = plan_sheet(
            std::path::Path::new(file),
            &bytes,
            Some(ext),
            None,
            &s,
            None,
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let records: Vec<Vec<String>> = p
            .videos
            .iter()
            .map(|v| v.records.to_vec()[0].clone())
            .collect();
        assert_eq!(
            records,
            [
                [
                    "007",
                    "Hello there, this is the first script.",
                    "7",
                    "007",
                    "true",
                    "2026-03-01"
                ],
                [
                    "b",
                    "And here is the second one.",
                    "2.5",
                    "x",
                    "false",
                    "2026-12-31"
                ],
            ],
            "{file}"
        );
        let bodies = |p: &creatify_batch::plan::Plan| creatify_batch::plan::bodies_json(p);
        assert_eq!(bodies(&p), bodies(&c), "{file}");
    }
}

#[test]
fn an_xlsx_sheet_runs_end_to_end_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), FAST_CONFIG).unwrap();
    let (_, book) = same_sheet();
    std::fs::write(dir.path().join("tonight.xlsx"), book).unwrap();
    let out = cli(
        dir.path(),
        &[
            "run",
            "tonight.xlsx",
            "--sandbox",
            "--sandbox-time-scale",
            "1000",
            "--out",
            "out",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = manifest_rows(&dir.path().join("out/sandbox/tonight"));
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("a", "downloaded"), ("b", "downloaded")]);
    assert!(dir.path().join("out/sandbox/tonight/a/video.mp4").is_file());
}

#[test]
fn a_tab_chosen_with_sheet_is_a_batch_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), FAST_CONFIG).unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    for (tab, keys) in [("Scripts", &["a"][..]), ("Extra", &["x", "y"][..])] {
        let ws = book.add_worksheet();
        ws.set_name(tab).unwrap();
        let mut rows: Vec<Vec<String>> = vec![vec!["key".into(), "script".into(), "avatar".into()]];
        for k in keys {
            rows.push(vec![
                k.to_string(),
                format!("Script {k} from {tab}."),
                avatar().into(),
            ]);
        }
        let rows: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        write_rows(ws, &rows);
    }
    std::fs::write(dir.path().join("book.xlsx"), book.save_to_buffer().unwrap()).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "book.xlsx",
            "--sandbox",
            "--sandbox-time-scale",
            "1000",
            "--out",
            "out",
        ];
        args.extend(extra);
        cli(dir.path(), &args)
    };
    let out = run(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = run(&["--sheet", "Extra"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let keys = |batch: &str| -> Vec<String> {
        manifest_rows(&dir.path().join("out/sandbox").join(batch))
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["key"].as_str().unwrap(),
                    r["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(keys("book"), ["a:downloaded"]);
    assert_eq!(keys("book-extra"), ["x:downloaded", "y:downloaded"]);
    // The tab typed in another case is the same tab, so the same batch: nothing new is made
    // (it used to be a second batch, every row rendered and paid again).
    let out = run(&["--sheet", "EXTRA"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let batches = std::fs::read_dir(dir.path().join("out/sandbox"))
        .unwrap()
        .count();
    assert_eq!(batches, 2, "a second batch for the same tab");
    assert_eq!(keys("book-extra"), ["x:downloaded", "y:downloaded"]);
}
