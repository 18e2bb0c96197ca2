//! `approvals.csv`: the verdicts a reviewer ticked in the report, read by
//! `run --approvals FILE`. A CSV with the header `key,reference,approve`, one preview a line,
//! `approve` = `yes`/`no`. The report writes it ([`write_csv`]); this reader is strict about
//! what matters (a key, a reference, a verdict on every line) and says where a line is wrong.
//! A key a spreadsheet would run as a formula is written with a `'` before it (as in
//! `manifest.csv`), which the reader takes off.

use std::path::{Path, PathBuf};

use super::Verdict;

/// One line of an `approvals.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileApproval {
    /// The row.
    pub key: String,
    /// The preview reference the verdict was given for.
    pub reference: String,
    /// `yes` (true) or `no` (false).
    pub approve: bool,
}

/// Why an `approvals.csv` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be opened or read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A line is wrong.
    #[error("{path}, line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// Its line number (1 is the header).
        line: u64,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The header, in order.
pub const HEADER: [&str; 3] = ["key", "reference", "approve"];

/// Reads an `approvals.csv`: every line, or the first problem found.
pub fn read(path: &Path) -> Result<Vec<FileApproval>, FileError> {
    Ok(read_lines(path)?.into_iter().map(|(_, l)| l).collect())
}

/// [`read`], with each verdict's line number (1 is the header), for messages.
pub fn read_lines(path: &Path) -> Result<Vec<(u64, FileApproval)>, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    parse_lines(path, &bytes)
}

#[cfg(test)]
fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<FileApproval>, FileError> {
    Ok(parse_lines(path, bytes)?
        .into_iter()
        .map(|(_, l)| l)
        .collect())
}

/// The delimiter of the header line: `,`, or `;` (Excel in much of Europe) or a tab when
/// the line has more of those than commas.
fn delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or(bytes);
    let count = |d: u8| header.iter().filter(|b| **b == d).count();
    [b';', b'\t']
        .into_iter()
        .filter(|d| count(*d) > count(b','))
        .max_by_key(|d| count(*d))
        .unwrap_or(b',')
}

fn parse_lines(path: &Path, bytes: &[u8]) -> Result<Vec<(u64, FileApproval)>, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter(bytes))
        .from_reader(bytes);
    let at = |line: u64, message: String| FileError::Line {
        path: path.to_owned(),
        line,
        message,
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| at(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut index = [0usize; 3];
    for (slot, name) in index.iter_mut().zip(HEADER) {
        *slot = headers.iter().position(|h| h == name).ok_or_else(|| {
            at(
                1,
                format!(
                    "no {name:?} column: an approvals file has the header key,reference,approve \
                     (download it from the report)"
                ),
            )
        })?;
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(index[i]).unwrap_or("").trim().to_owned();
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let (key, reference, verdict) = (cell(0), cell(1), cell(2));
        // The `'` the report puts before a formula-like key comes off again.
        let key = crate::sheet::undefuse(&key).to_owned();
        if key.is_empty() || reference.is_empty() {
            return Err(at(
                line,
                "a line needs both a key and the preview's reference".into(),
            ));
        }
        let approve = match Verdict::from_cell(&verdict) {
            Ok(Some(v)) => v == Verdict::Approved,
            Ok(None) => continue,
            Err(e) => return Err(at(line, format!("approve: {e}"))),
        };
        out.push((
            line,
            FileApproval {
                key,
                reference,
                approve,
            },
        ));
    }
    Ok(out)
}

/// Writes `lines` as an `approvals.csv` (the header, then one line each).
pub fn write_csv<W: std::io::Write>(out: W, lines: &[FileApproval]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for l in lines {
        w.write_record([
            crate::output::manifest::defuse(&l.key).as_ref(),
            l.reference.as_str(),
            if l.approve { "yes" } else { "no" },
        ])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_read_back_and_bad_lines_are_named() {
        let lines = vec![
            FileApproval {
                key: "a,1".into(),
                reference: "cb0123456789ab".into(),
                approve: true,
            },
            FileApproval {
                key: "b".into(),
                reference: "cbffffffffffff".into(),
                approve: false,
            },
        ];
        let mut buf = Vec::new();
        write_csv(&mut buf, &lines).unwrap();
        let p = Path::new("approvals.csv");
        assert_eq!(parse(p, &buf).unwrap(), lines);
        let e = parse(p, b"key,reference,approve\na,cb1,maybe\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse(p, b"key,approve\na,yes\n").unwrap_err();
        assert!(e.to_string().contains("\"reference\""), "{e}");
        // An empty verdict is no verdict.
        assert!(parse(p, b"key,reference,approve\na,cb1,\n")
            .unwrap()
            .is_empty());
    }

    /// Trial bug: a file saved by a European Excel (`;`) was refused with `no "key" column`.
    #[test]
    fn semicolon_and_tab_files_are_read_with_their_lines() {
        let p = Path::new("approvals.csv");
        for text in [
            &b"key;reference;approve\na,1;cb1;yes\nb;cb2;no\n"[..],
            b"key\treference\tapprove\na,1\tcb1\tyes\nb\tcb2\tno\n",
        ] {
            let got = parse_lines(p, text).unwrap();
            let keys: Vec<(u64, &str)> = got.iter().map(|(n, l)| (*n, l.key.as_str())).collect();
            assert_eq!(keys, [(2, "a,1"), (3, "b")]);
        }
    }

    #[test]
    fn a_formula_like_key_is_written_as_text_and_read_back_as_itself() {
        let lines: Vec<FileApproval> = ["=HYPERLINK(\"http://x\")", "+1", "'-2", "@a", "plain"]
            .into_iter()
            .map(|key| FileApproval {
                key: key.into(),
                reference: "cb0123456789ab".into(),
                approve: true,
            })
            .collect();
        let mut buf = Vec::new();
        write_csv(&mut buf, &lines).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        for cell in text.lines().skip(1).map(|l| l.trim_start_matches('"')) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "a spreadsheet would run {cell:?}"
            );
        }
        assert_eq!(parse(Path::new("approvals.csv"), &buf).unwrap(), lines);
    }
}
