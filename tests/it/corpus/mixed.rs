//! Generated half-broken sheets: rows of valid cells with garbage mixed in (bad numbers and
//! enums, other URL schemes, blank required cells, over-long scripts, control characters,
//! garbled UTF-8, invisible characters in keys, rows one cell short or long), written in a
//! random dialect (delimiter, quoting, CRLF or LF, BOM, `sep=` line, blank lines). The
//! errors must land on exactly the lines of the broken rows: every broken row reported, no
//! sound row blamed, every line number right.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;

use creatify_batch::config::Settings;
use creatify_batch::plan::{plan_bytes, PlanError};

const HEADER: [&str; 6] = [
    "key",
    "script",
    "avatar",
    "voice.volume",
    "model",
    "background",
];

/// One cell: valid for its column, or garbage that must make its row fail.
#[derive(Debug, Clone)]
enum Cell {
    Valid(String),
    Garbage(String),
}

/// One row: its cells, whether it is one cell short or long, and blank lines before it.
#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    ragged: Option<bool>,
    blank_lines_before: usize,
}

fn valid(column: usize) -> BoxedStrategy<String> {
    let pick = |v: &[&'static str]| proptest::sample::select(v.to_vec()).prop_map(str::to_owned);
    match column {
        // The key is set per row (k0, k1, ...) when the row is written.
        0 => Just(String::new()).boxed(),
        // Letters, accents, CJK, the delimiters, quotes, line breaks, formula starts.
        1 => "[A-Za-zÀ-ÿ日本語][ -~À-ÿ日本語,;\t\"\r\n=+@'-]{0,40}".boxed(),
        2 => pick(&[
            "edb9719c-42af-5c7f-83d5-b7de95567b5e",
            "59a2f478-35aa-54dd-811f-d70078d765aa",
            "8e3e386c-c4cd-5641-b56b-e266ae745440",
        ])
        .boxed(),
        3 => pick(&["", "0.5", "0", "1", "50%", "0,25"]).boxed(),
        4 => pick(&["", "standard", "Aurora_V1", "aurora_v1_fast"]).boxed(),
        _ => pick(&[
            "",
            "https://cdn.example.com/a.jpg",
            "https://cdn.example.com/loop.MP4",
        ])
        .boxed(),
    }
}

fn garbage(column: usize) -> BoxedStrategy<String> {
    let pick = |v: &[&'static str]| proptest::sample::select(v.to_vec()).prop_map(str::to_owned);
    match column {
        0 => pick(&["\u{202e}x", "a\nb", "\u{200b}", "\tx"]).boxed(),
        1 => prop_oneof![
            pick(&[
                "",
                " ",
                "Hi\u{1b}[0m",
                "CafÃ© crÃ¨me",
                "\u{feff}Hi",
                "Hi\u{7f}"
            ]),
            Just("x".repeat(2001)),
        ]
        .boxed(),
        2 => pick(&["", "  "]).boxed(),
        3 => pick(&["loud", "1.5", "-1", "NaN", "inf"]).boxed(),
        4 => pick(&["turbo", "aurora", "=IF(1,2)"]).boxed(),
        _ => pick(&[
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "//evil.example.com/a.jpg",
            "https://cdn.example.com/render",
        ])
        .boxed(),
    }
}

fn cell(column: usize) -> BoxedStrategy<Cell> {
    prop_oneof![
        9 => valid(column).prop_map(Cell::Valid),
        1 => garbage(column).prop_map(Cell::Garbage),
    ]
    .boxed()
}

fn row() -> impl Strategy<Value = Row> {
    (
        (0..HEADER.len()).map(cell).collect::<Vec<_>>(),
        prop_oneof![18 => Just(None), 1 => Just(Some(true)), 1 => Just(Some(false))],
        prop_oneof![8 => Just(0usize), 1 => 1..3usize],
    )
        .prop_map(|(cells, ragged, blank_lines_before)| Row {
            cells,
            ragged,
            blank_lines_before,
        })
}

/// How the file is written.
#[derive(Debug, Clone)]
struct Dialect {
    delimiter: u8,
    crlf: bool,
    bom: bool,
    sep_line: bool,
    quote_all: bool,
}

fn dialect() -> impl Strategy<Value = Dialect> {
    (
        proptest::sample::select(vec![b',', b';', b'\t']),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(delimiter, crlf, bom, sep_line, quote_all)| Dialect {
            delimiter,
            crlf,
            bom,
            sep_line,
            quote_all,
        })
}

/// A cell as CSV: quoted when it must be (or always, in a quote-everything dialect).
fn field(text: &str, d: &Dialect) -> String {
    let must = text.contains(['"', '\r', '\n', char::from(d.delimiter)]);
    if must || d.quote_all {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The sheet's bytes and the lines of the rows that hold garbage.
fn write(rows: &[Row], d: &Dialect) -> (Vec<u8>, BTreeSet<u64>) {
    let eol = if d.crlf { "\r\n" } else { "\n" };
    let sep = char::from(d.delimiter).to_string();
    let mut out = String::new();
    if d.bom {
        out.push('\u{feff}');
    }
    if d.sep_line {
        out.push_str(&format!("sep={sep}{eol}"));
    }
    out.push_str(&HEADER.join(&sep));
    out.push_str(eol);
    let mut broken = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        for _ in 0..r.blank_lines_before {
            out.push_str(eol);
        }
        let line = 1 + out.matches('\n').count() as u64;
        let mut cells: Vec<String> = Vec::new();
        let mut bad = r.ragged.is_some();
        for (c, cell) in r.cells.iter().enumerate() {
            let text = match cell {
                Cell::Valid(_) if c == 0 => format!("k{i}"),
                Cell::Valid(t) => t.clone(),
                Cell::Garbage(t) if c == 0 => format!("k{i}{t}"),
                Cell::Garbage(t) => {
                    bad = true;
                    t.clone()
                }
            };
            if c == 0 && matches!(cell, Cell::Garbage(_)) {
                bad = true;
            }
            cells.push(field(&text, d));
        }
        match r.ragged {
            Some(true) => cells.push("oops".to_owned()),
            Some(false) => {
                cells.pop();
            }
            None => {}
        }
        if bad {
            broken.insert(line);
        }
        out.push_str(&cells.join(&sep));
        out.push_str(eol);
    }
    (out.into_bytes(), broken)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn errors_land_on_exactly_the_broken_rows(
        rows in proptest::collection::vec(row(), 1..12),
        d in dialect(),
    ) {
        let (bytes, broken) = write(&rows, &d);
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        match plan_bytes(Path::new("mixed.csv"), &bytes, &Settings::default()) {
            Ok(plan) => {
                prop_assert!(broken.is_empty(), "planned despite broken lines {broken:?}:\n{shown}");
                prop_assert_eq!(plan.videos.len(), rows.len());
                prop_assert_eq!(plan.format.delimiter, d.delimiter);
            }
            Err(PlanError::Invalid(ds)) => {
                let blamed: BTreeSet<u64> =
                    ds.iter().filter(|d| !d.warning).map(|d| d.line).collect();
                let list: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
                prop_assert_eq!(&blamed, &broken, "{:#?}\n{}", list, shown);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{shown}"))),
        }
    }
}
