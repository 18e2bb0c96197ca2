//! Spreadsheet reality: encodings, delimiters, line endings, quoting, and every way a file
//! can be broken, each with the right error and line.

use super::{plan, problems};
use creatify_batch::plan::PlanError;

const HEADER: &str = "key,script,avatar";

fn lines(csv: &[u8]) -> Vec<Vec<u64>> {
    plan(csv)
        .unwrap()
        .videos
        .iter()
        .map(|v| v.lines.clone())
        .collect()
}

#[test]
fn bom_crlf_and_multiline_cells_keep_line_numbers_right() {
    let csv = "\u{feff}key,script,avatar\r\n\
               a,\"one\r\ntwo\r\nthree\",edb9719c-42af-5c7f-83d5-b7de95567b5e\r\n\
               \r\n\
               b,\"four, five\",edb9719c-42af-5c7f-83d5-b7de95567b5e\r\n\
               c,six,edb9719c-42af-5c7f-83d5-b7de95567b5e\r\n";
    let p = plan(csv.as_bytes()).unwrap();
    assert!(p.format.bom && p.format.crlf);
    assert_eq!(lines(csv.as_bytes()), [[2], [6], [7]]);
    assert_eq!(
        p.videos[0].body.video_inputs[0]
            .voice
            .as_ref()
            .unwrap()
            .input_text
            .as_deref(),
        Some("one\r\ntwo\r\nthree")
    );
    assert_eq!(
        p.videos[1].records.to_vec()[0],
        ["b", "four, five", "edb9719c-42af-5c7f-83d5-b7de95567b5e"]
    );
}

#[test]
fn a_problem_after_a_multiline_cell_names_its_own_line() {
    let csv = "key,script,avatar\n\
               a,\"line one\nline two\",edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               b,,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    assert_eq!(
        problems(csv.as_bytes()),
        ["line 4, column script: every scene needs a voice (a script or silence)"]
    );
}

#[test]
fn semicolon_tab_and_sep_line_sheets_are_detected() {
    let semi = "key;script;avatar;voice.volume\na;Hola, ¿qué tal?;edb9719c-42af-5c7f-83d5-b7de95567b5e;0,5\n";
    let p = plan(semi.as_bytes()).unwrap();
    assert_eq!(p.format.delimiter, b';');
    assert_eq!(
        p.videos[0].body.video_inputs[0]
            .voice
            .as_ref()
            .unwrap()
            .volume,
        Some(0.5)
    );

    let tab = "key\tscript\tavatar\na\tHi, there\tedb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    assert_eq!(plan(tab.as_bytes()).unwrap().format.delimiter, b'\t');

    let sep = "sep=;\r\nkey;script;avatar\r\na;Hi;edb9719c-42af-5c7f-83d5-b7de95567b5e\r\nb;;edb9719c-42af-5c7f-83d5-b7de95567b5e\r\n";
    let err = problems(sep.as_bytes());
    assert_eq!(
        err,
        ["line 4, column script: every scene needs a voice (a script or silence)"]
    );
    let ok = "sep=;\nkey;script;avatar\na;Hi;edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    let p = plan(ok.as_bytes()).unwrap();
    assert!(p.format.sep_line);
    assert_eq!(p.videos[0].lines, [3]);
}

#[test]
fn stray_spaces_in_headers_and_trailing_empty_rows_are_fine() {
    let csv = " Key , Script ,AVATAR \na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n,,\n , ,\n\n";
    let p = plan(csv.as_bytes()).unwrap();
    assert_eq!(p.videos.len(), 1);
    assert_eq!(p.format.headers, [" Key ", " Script ", "AVATAR "]);
    assert!(
        p.notes.iter().any(|n| n == "2 empty rows skipped"),
        "{:?}",
        p.notes
    );
}

#[test]
fn windows_1252_is_an_error_with_its_line_and_the_fix() {
    let csv = b"key,script,avatar\na,Hello,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,Caf\xe9 cr\xe8me,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    match plan(csv) {
        Err(PlanError::NotUtf8 { line, hint, .. }) => {
            assert_eq!(line, 3);
            assert!(
                hint.contains("Windows-1252") && hint.contains("CSV UTF-8"),
                "{hint}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn utf16_is_an_error_that_says_so() {
    let mut csv = vec![0xFF, 0xFE];
    for u in "key,script\n".encode_utf16() {
        csv.extend(u.to_le_bytes());
    }
    match plan(&csv) {
        Err(PlanError::NotUtf8 { hint, .. }) => assert!(hint.contains("UTF-16"), "{hint}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nul_bytes_are_an_error_with_their_line() {
    let err = problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,H\0i,edb9719c-42af-5c7f-83d5-b7de95567b5e\n");
    assert_eq!(err.len(), 1);
    assert!(err[0].starts_with("line 3: NUL byte"), "{err:?}");
}

#[test]
fn ragged_rows_name_the_line_and_the_counts() {
    let err = problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,Hi, there,edb9719c-42af-5c7f-83d5-b7de95567b5e\nc,Hi\n");
    assert_eq!(
        err,
        [
            "line 3: has 4 cells but the header has 3; a cell is missing or a value contains an unquoted `,`",
            "line 4: has 2 cells but the header has 3; a cell is missing or a value contains an unquoted `,`",
        ]
    );
}

#[test]
fn an_unclosed_quote_names_the_line_where_it_opened() {
    let err = problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,\"Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nc,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n");
    assert_eq!(err.len(), 1);
    assert!(
        err[0].starts_with("line 3: a quoted cell opens here and is never closed"),
        "{err:?}"
    );
}

#[test]
fn empty_blank_and_header_only_files_are_clear_errors() {
    for csv in ["", "\n\n", "\u{feff}", " , \r\n"] {
        match plan(csv.as_bytes()) {
            Err(PlanError::Empty { reason, .. }) => assert!(reason.contains("empty"), "{reason}"),
            other => panic!("{csv:?}: {other:?}"),
        }
    }
    match plan(format!("{HEADER}\n\n,,\n").as_bytes()) {
        Err(e @ PlanError::Empty { .. }) => {
            assert_eq!(
                e.to_string(),
                "sheet.csv: line 1 is a header, but no rows follow it: add one row per video (or per scene)"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn formula_looking_cells_are_plain_text() {
    let csv = "key,script,avatar,name\na,=HYPERLINK(\"x\"),edb9719c-42af-5c7f-83d5-b7de95567b5e,+1 @me -x\n";
    let p = plan(csv.as_bytes()).unwrap();
    let body = &p.videos[0].body;
    assert_eq!(body.name.as_deref(), Some("+1 @me -x"));
    let voice = body.video_inputs[0].voice.as_ref().unwrap();
    assert_eq!(voice.input_text.as_deref(), Some("=HYPERLINK(\"x\")"));
    assert_eq!(p.videos[0].warnings.len(), 1);
    assert!(p.videos[0].warnings[0].message.contains("never evaluated"));
}

#[test]
fn a_value_in_a_column_without_header_is_an_error() {
    let err = problems(b"key,script,avatar,\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,\nb,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,oops\n");
    assert_eq!(
        err,
        ["line 3, column #4: \"oops\" is in a column without a header; name the column or clear it"]
    );
}
