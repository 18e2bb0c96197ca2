//! Rows → typed cells, and rows → videos (keys, multi-scene groups).
//!
//! Every cell is read by its field's type here, so that a video's body is built from values
//! only. Grouping is one pass as the rows come, with two hash maps (keys seen, output
//! folders taken), linear in the number of rows: a video is complete as soon as the next row
//! starts another one.
//!
//! # Keys
//! A key names the row's folder, its journal entry and its job, so it must read as what it
//! is: at most [`MAX_KEY`] characters, one line, no invisible characters (a right-to-left
//! override or a zero-width space would make two keys look alike, or one key look like
//! another). Anything else is accepted, path-like text included (`../x`, `C:\x`, `CON`):
//! [`output::folder_name`] makes every key a safe name inside the batch folder, and keys
//! whose folder names would collide (`Spring` and `spring` on a case-insensitive disk) are
//! refused here, so that no two rows ever share a folder.

use std::collections::HashMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::columns::{Columns, Target};
use super::fields::Field;
use super::values::{self, quoted};
use crate::output;
use crate::sheet::{Diagnostic, Row};

/// Longest key (or `video` value), in characters: the API's longest job name.
pub const MAX_KEY: usize = 255;

/// A row with its cells read.
pub struct TypedRow {
    /// Line where the record starts.
    pub line: u64,
    /// The cells as written.
    pub cells: Vec<String>,
    /// (column, value) for every non-empty field cell that could be read.
    pub values: Vec<(usize, &'static Field, Value)>,
    /// Things that look wrong but are sent as written.
    pub warnings: Vec<Diagnostic>,
    /// Columns whose cell could not be read (already reported): what is missing because of
    /// them is not reported again.
    pub refused: Vec<usize>,
}

/// Reads every field cell of `row`, adding problems to `errors`.
pub fn type_row(row: Row, columns: &Columns, errors: &mut Vec<Diagnostic>) -> TypedRow {
    let mut values = Vec::new();
    let mut warnings = Vec::new();
    let mut refused = Vec::new();
    for (i, (cell, col)) in row.cells.iter().zip(&columns.list).enumerate() {
        let text = cell.trim();
        if text.is_empty() {
            continue;
        }
        match col.target {
            Target::Field(f) => {
                if let Some(msg) = values::too_long(text) {
                    errors.push(Diagnostic::cell(row.line, &col.header, Some(cell), msg));
                    refused.push(i);
                    continue;
                }
                match values::from_cell(f.kind, text) {
                    Ok(v) => values.push((i, f, v)),
                    Err(msg) => {
                        errors.push(Diagnostic::cell(row.line, &col.header, Some(cell), msg));
                        refused.push(i);
                    }
                }
                if text.starts_with('=') {
                    warnings.push(
                        Diagnostic::cell(
                            row.line,
                            &col.header,
                            Some(cell),
                            format!(
                                "{} looks like a spreadsheet formula; it is sent as plain text, \
                             never evaluated (export values, not formulas)",
                                quoted(text)
                            ),
                        )
                        .warn(),
                    );
                }
            }
            Target::Unnamed => errors.push(Diagnostic::cell(
                row.line,
                &format!("#{}", i + 1),
                Some(cell),
                format!(
                    "{} is in a column without a header; name the column or clear it",
                    quoted(text)
                ),
            )),
            Target::Key | Target::Video | Target::Ignored => {}
        }
    }
    TypedRow {
        line: row.line,
        cells: row.cells,
        values,
        warnings,
        refused,
    }
}

/// The rows of one video, in scene order.
pub struct Group {
    /// The video's key.
    pub key: String,
    /// Whether the key was derived from the row's content.
    pub derived: bool,
    /// Indexes into the typed rows it is built from.
    pub rows: Vec<usize>,
    /// Each scene's label: its row's `key` when the video comes from a `video` value, else
    /// empty.
    pub labels: Vec<String>,
}

/// Where a row goes, as [`Grouper::place`] decides.
pub enum Placement {
    /// Another scene of the current group.
    Joins {
        /// The scene's label (see [`Group::labels`]).
        label: String,
    },
    /// The first row of a new group; the current group, if any, is complete.
    Starts {
        /// The new video's key.
        key: String,
        /// Whether the key was derived from the row's content.
        derived: bool,
        /// The scene's label (see [`Group::labels`]).
        label: String,
    },
    /// Part of no video (its problem was reported), but still built on its own, so that
    /// its other problems are reported in the same pass.
    Alone,
}

/// Groups rows into videos as they come and gives each its key, so a video can be built
/// (and its typed cells freed) as soon as its last row is read. Remembers every key and its
/// folder (for duplicates and collisions), the open video value and its scene labels,
/// nothing else.
pub struct Grouper<'a> {
    columns: &'a Columns,
    /// Lower-cased output folder → the row that has it. One map serves both checks: equal
    /// keys have equal folders. At 100k rows it is the planner's largest index, hence the
    /// compact entries.
    folders: HashMap<Box<str>, Taken>,
    /// The video value of the current group, if it came from a `video` cell.
    open: Option<String>,
    /// The scene labels of the open video and their lines.
    labels: HashMap<String, u64>,
}

impl<'a> Grouper<'a> {
    /// A grouper for a sheet of about `rows` rows.
    pub fn new(columns: &'a Columns, rows: usize) -> Self {
        Self {
            columns,
            folders: HashMap::with_capacity(rows),
            open: None,
            labels: HashMap::new(),
        }
    }

    /// Places the next row, adding problems to `errors`.
    ///
    /// When a sheet has both a `key` and a `video` column, a row with a `video` value
    /// belongs to that video (its key) and its `key` is the scene's label: distinct within
    /// the video, and a key's rules apply to it (it will be shown as the scene's name).
    pub fn place(&mut self, row: &TypedRow, errors: &mut Vec<Diagnostic>) -> Placement {
        let columns = self.columns;
        let header = |c: Option<usize>| c.map_or("", |c| columns.list[c].header.as_str());
        let cell = |c: Option<usize>| c.map_or("", |c| row.cells[c].trim());
        let key_cell = cell(columns.key);
        let video_cell = cell(columns.video);
        if !video_cell.is_empty() {
            let joins = self.open.as_deref() == Some(video_cell);
            if !joins {
                self.open = None;
                self.labels.clear();
            }
            let label = self.label(row, key_cell, video_cell, errors);
            if joins {
                return Placement::Joins { label };
            }
            let placed = self.start(row, video_cell.to_owned(), false, true, errors);
            return match placed {
                Some((key, derived)) => Placement::Starts {
                    key,
                    derived,
                    label,
                },
                None => Placement::Alone,
            };
        }
        self.open = None;
        self.labels.clear();
        let (key, derived) = if !key_cell.is_empty() {
            (key_cell.to_owned(), false)
        } else if let Some(c) = columns.key {
            errors.push(Diagnostic::cell(
                row.line,
                header(Some(c)),
                None,
                "is empty: with a key column, every row needs a key (its identity for \
                 folders and resuming)",
            ));
            return Placement::Alone;
        } else {
            (derived_key(row), true)
        };
        match self.start(row, key, derived, false, errors) {
            Some((key, derived)) => Placement::Starts {
                key,
                derived,
                label: String::new(),
            },
            None => Placement::Alone,
        }
    }

    /// The scene label of a row of video `video`, checked: empty when there is none.
    fn label(
        &mut self,
        row: &TypedRow,
        key_cell: &str,
        video: &str,
        errors: &mut Vec<Diagnostic>,
    ) -> String {
        let Some(c) = self.columns.key.filter(|_| !key_cell.is_empty()) else {
            return String::new();
        };
        let header = self.columns.list[c].header.as_str();
        if let Some(problem) = key_problem(key_cell) {
            errors.push(Diagnostic::cell(row.line, header, Some(key_cell), problem));
            return String::new();
        }
        if let Some(&first) = self.labels.get(key_cell) {
            errors.push(Diagnostic::cell(
                row.line,
                header,
                Some(key_cell),
                format!(
                    "scene label {} is also on line {first}, in the same video {}: with a \
                     video column, the key names the scene within its video; make the \
                     labels differ",
                    quoted(key_cell),
                    quoted(video)
                ),
            ));
        } else {
            self.labels.insert(key_cell.to_owned(), row.line);
        }
        key_cell.to_owned()
    }

    /// Takes `key`'s output folder for a new video; None (the problem reported) when the
    /// key is unusable or taken.
    fn start(
        &mut self,
        row: &TypedRow,
        key: String,
        derived: bool,
        video: bool,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<(String, bool)> {
        let columns = self.columns;
        let header = |c: Option<usize>| c.map_or("", |c| columns.list[c].header.as_str());
        let key_column = if video { columns.video } else { columns.key };
        if let Some(problem) = key_problem(&key) {
            errors.push(Diagnostic::cell(
                row.line,
                header(key_column),
                Some(&key),
                problem,
            ));
            return None;
        }
        let folder = output::folder_name(&key);
        let lower = folder.to_lowercase();
        if let Some(taken) = self.folders.get(lower.as_str()) {
            let (other, line) = (taken.key(&lower), taken.line);
            if other == key {
                errors.push(duplicate(row, &key, line, derived, video, columns));
                return None;
            }
            let why = if other.to_lowercase() == key.to_lowercase() {
                "folders on macOS and Windows do not tell upper from lower case; make the keys \
                 differ by more than case"
            } else {
                "rename one of them"
            };
            errors.push(Diagnostic::cell(
                row.line,
                header(key_column),
                Some(&key),
                format!(
                    "key {} would share the output folder {folder:?} with key {} on line \
                     {line}: {why}",
                    quoted(&key),
                    quoted(other)
                ),
            ));
            return None;
        }
        let taken = Taken {
            line: row.line,
            key: (key != lower).then(|| key.as_str().into()),
        };
        self.folders.insert(lower.into_boxed_str(), taken);
        if video {
            self.open = Some(key.clone());
        }
        Some((key, derived))
    }
}

/// The row that took an output folder.
struct Taken {
    /// Its line.
    line: u64,
    /// Its key, when it is not the lower-cased folder name itself (most keys are).
    key: Option<Box<str>>,
}

impl Taken {
    fn key<'a>(&'a self, lower_folder: &'a str) -> &'a str {
        self.key.as_deref().unwrap_or(lower_folder)
    }
}

/// Why `key` cannot name a row, if it cannot (see the module's header).
fn key_problem(key: &str) -> Option<String> {
    let n = key.chars().count();
    if n > MAX_KEY {
        return Some(format!(
            "key is {n} characters long; a key names the row's folder and job, at most \
             {MAX_KEY} characters (is this a script in the key column?)"
        ));
    }
    let (at, c) = key.chars().enumerate().find(|(_, c)| !visible(*c))?;
    let what = match c {
        '\n' | '\r' => "a line break".to_owned(),
        '\t' => "a tab".to_owned(),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            format!("the text-direction control U+{:04X}", u32::from(c))
        }
        c => format!("the invisible character U+{:04X}", u32::from(c)),
    };
    Some(format!(
        "key {} holds {what} at character {}: keys name folders and jobs and must read as \
         they are; use visible characters on one line",
        quoted(key),
        at + 1
    ))
}

/// Whether `c` shows as itself: not a control character, not a zero-width or
/// text-direction formatting character.
fn visible(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        ))
}

fn duplicate(
    row: &TypedRow,
    key: &str,
    first: u64,
    derived: bool,
    video: bool,
    columns: &Columns,
) -> Diagnostic {
    if derived {
        return Diagnostic::line(
            row.line,
            format!(
                "has the same content as line {first} (without a key column, a row's key \
                 comes from its content); remove the duplicate or add a key column"
            ),
        );
    }
    let (col, message) = if video {
        (
            columns.video,
            format!(
                "video {} already appeared on line {first}; a video's scenes must be \
                 consecutive rows, and video values and keys must be unique",
                quoted(key)
            ),
        )
    } else {
        (
            columns.key,
            format!(
                "duplicate key {}: also on line {first}; keys must be unique",
                quoted(key)
            ),
        )
    };
    let header = col.map_or("key", |c| columns.list[c].header.as_str());
    Diagnostic::cell(row.line, header, Some(key), message)
}

/// A key from the row's content: its fields and values, in field order, so that reordering
/// columns, renaming a header to an alias or adding an empty column keeps it. 48 bits of
/// SHA-256: a chance collision among 100 000 rows is about 1 in 50 000, and would be
/// reported as a duplicate, never merged silently.
pub(super) fn derived_key(row: &TypedRow) -> String {
    let mut fields: Vec<(&str, String)> = row
        .values
        .iter()
        .map(|(_, f, v)| (f.path.as_str(), v.to_string()))
        .collect();
    fields.sort();
    let mut h = Sha256::new();
    for (path, value) in fields {
        h.update(path.as_bytes());
        h.update([0x1f]);
        h.update(value.as_bytes());
        h.update([0x1e]);
    }
    let digest = h.finalize();
    let mut key = String::from("row-");
    for b in &digest[..6] {
        key.push_str(&format!("{b:02x}"));
    }
    key
}
