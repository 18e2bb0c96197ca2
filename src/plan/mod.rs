//! Sheet + settings → a [`Plan`]: one exact, validated request body per video, with a
//! duration and credit estimate. Nothing here touches the network.
//!
//! The stages, one file each: [`columns`] resolves headers to request fields, [`values`]
//! reads cells by their field's type, `rows` gives each row its key and groups a
//! multi-scene video's rows, `build` turns a group into a body (defaults, then cells),
//! deserializes it into the API model and checks it with the API's rules, and [`table`]
//! prints the result. Every problem in every row is collected before giving up, so a user
//! fixes a sheet in one go: a row whose key is refused is still built on its own for its
//! other problems, and a video whose rows disagree is still checked with the API's rules.
//!
//! # The sheet
//! - **Headers** name request fields by dotted path below the scene or the video
//!   (`voice.input_text`, `caption_setting.style`, `character.offset.x`, `aspect_ratio`,
//!   `background_music.url`; the full list is [`fields::all`]), or a built-in alias
//!   ([`columns::ALIASES`]), or a `[columns]` alias. Headers are trimmed and match in any
//!   case, with spaces read as `_` (`Caption Style`). Columns headed `#...`, `notes`,
//!   `note`, `comment` or `comments`, or listed in `[columns] ignore`, are ignored. Anything
//!   else is an error with a did-you-mean and the fix; a blank header is fine as long as its
//!   cells are blank. A misspelt header is one error: a value missing on a row because its
//!   cell sits under that header is not reported again (see `build::meant`).
//! - **Aspect ratios** may be written `16:9`, `9:16`, `1:1` (spaces allowed).
//! - **Cells**: an empty cell means "use `[defaults]`". Values are read by the field's
//!   type: numbers (`0.5`, `0,5`, `50%`), whole numbers, booleans (`true/false`, `yes/no`,
//!   `y/n`, `1/0`), closed sets (any case, written canonically; anything else is an error
//!   with a did-you-mean), open sets (caption style, font, visual style: an unknown value is
//!   a warning), text. Cells are trimmed; nothing is ever evaluated (`=HYPERLINK(...)` is
//!   text, with a warning). A cell longer than [`values::MAX_CELL`] characters is refused.
//! - **Backgrounds**: a URL without a `type` gets `image` or `video` from its extension;
//!   an extension that says neither needs a `background.type` column or default.
//! - **Keys**: the `key` column names each row (every row then needs one). Without it, a
//!   key is derived from the row's fields and values (`row-` + 12 hex digits of SHA-256):
//!   stable across runs and column order, changed by editing the row. Duplicates are an
//!   error naming both lines; so are keys whose output folders would meet on a disk that
//!   ignores case. A key is visible text on one line, at most 255 characters (see `rows`).
//! - **Multi-scene videos**: consecutive rows with the same `video` value are the scenes of
//!   one video, in order, and that value is its key; a `key` cell on those rows is the
//!   scene's label ([`PlannedVideo::scene_labels`]), distinct within the video. Video-level
//!   fields (`aspect_ratio`, `model_version`, `name`,
//!   `webhook_url`, `background_music.*`, `cta_end.*`) may be left empty after the first
//!   row; values given must agree. A `video` value that reappears later is an error. Rows
//!   with an empty `video` cell are single-scene videos.
//! - **Estimate**: each scene lasts its `voice.duration`, or its words at
//!   `[estimate] words_per_second` plus `scene_allowance_secs` (CJK: two characters per
//!   word); credits by model (`standard` 5 per started 30 s, `aurora_v1` 1 per started
//!   second, `aurora_v1_fast` 0.5 per started second).
//!
//! The file rules (encodings, delimiters, quoting, line numbers) are in [`crate::sheet`].

pub mod columns;
pub mod fields;
pub mod matrix;
pub mod table;
pub mod values;

mod build;
mod error;
mod rows;

use std::path::{Path, PathBuf};

pub use error::PlanError;
pub use table::{render_table, write_table};

pub use crate::sheet::{Diagnostic, SheetFormat};

use crate::api::CreateLipsync;
use crate::catalog::check::IdCheck;
use crate::config::{check_columns, split_defaults, ConfigError, Settings};
use crate::sheet::{self, delimiter_name, Records};
use columns::Columns;

/// Every video of a sheet, ready to submit.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The CSV file's stem: the default output folder name (made filesystem-safe by the
    /// runner).
    pub batch: String,
    /// The sheet's path.
    pub source: PathBuf,
    /// How the sheet was written, to write `failed.csv` the same way.
    pub format: SheetFormat,
    /// The videos, in sheet order.
    pub videos: Vec<PlannedVideo>,
    /// Facts about how the sheet was read, for the user.
    pub notes: Vec<String>,
}

/// One video: its identity, where it came from, what will be sent, and what it may cost.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedVideo {
    /// The row's `key`, the `video` value of a multi-scene video, or a key derived from the
    /// row's content (`row-` and 12 hex digits).
    pub key: String,
    /// Whether `key` was derived from the content.
    pub key_derived: bool,
    /// The line each source record starts on, one per scene.
    pub lines: Vec<u64>,
    /// The raw cells of each source record, one per scene.
    pub records: Records,
    /// The exact request body, before the runner adds its reference to `name`.
    pub body: CreateLipsync,
    /// Estimated seconds of video.
    pub seconds: f64,
    /// Estimated credits.
    pub credits: f64,
    /// Values sent as written that look wrong (unknown open-set values, formulas).
    pub warnings: Vec<Diagnostic>,
    /// Each scene's label, in scene order: with both a `key` and a `video` column, the
    /// row's `key` (empty when the row has none); empty strings otherwise.
    pub scene_labels: Vec<String>,
    /// With `[matrix]`, the key of the row this video is a variant of (for grouping a
    /// row's variants side by side); `None` otherwise.
    pub variant_of: Option<String>,
}

impl Plan {
    /// Estimated credits of all videos.
    pub fn total_credits(&self) -> f64 {
        self.videos.iter().map(|v| v.credits).sum()
    }

    /// Estimated seconds of all videos.
    pub fn total_seconds(&self) -> f64 {
        self.videos.iter().map(|v| v.seconds).sum()
    }
}

/// Reads and plans the sheet at `path`.
pub fn plan_file(path: &Path, settings: &Settings) -> Result<Plan, PlanError> {
    let bytes = std::fs::read(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    plan_bytes(path, &bytes, settings)
}

/// Plans a sheet's bytes; `source` names it (its stem is the batch name, its extension
/// says a workbook's kind when its bytes do not).
pub fn plan_bytes(source: &Path, bytes: &[u8], settings: &Settings) -> Result<Plan, PlanError> {
    let ext = source.extension().and_then(|e| e.to_str());
    plan_sheet(source, bytes, ext, None, settings, None)
}

/// Plans a sheet's bytes: CSV, or tab `tab` (else the first) of a workbook, its kind told
/// by its bytes or `ext` ([`sheet::Kind::detect`]); with `ids`, its avatar and voice ids
/// are held against a catalogue and their errors join the sheet's, in one list.
pub fn plan_sheet(
    source: &Path,
    bytes: &[u8],
    ext: Option<&str>,
    tab: Option<&str>,
    settings: &Settings,
    ids: Option<&mut IdCheck<'_>>,
) -> Result<Plan, PlanError> {
    let kind = sheet::Kind::detect(ext, bytes).map_err(|e| PlanError::from_sheet(source, e))?;
    let (sheet, tab) =
        sheet::read_as(bytes, kind, tab).map_err(|e| PlanError::from_sheet(source, e))?;
    let headers = match &tab {
        Some(_) => sheet.format.headers.clone(),
        None => Vec::new(),
    };
    let mut plan = plan_read(source, sheet, settings, ids);
    if let Some(tab) = &tab {
        match &mut plan {
            Ok(p) => {
                for d in p.videos.iter_mut().flat_map(|v| v.warnings.iter_mut()) {
                    tab.place(d, &p.format.headers);
                }
                p.notes.insert(0, workbook_note(tab));
            }
            Err(PlanError::Invalid(ds)) => {
                for d in ds.iter_mut().filter(|d| d.at.is_none()) {
                    tab.place(d, &headers);
                }
            }
            Err(_) => {}
        }
    }
    plan
}

/// Which tab of the workbook was read.
fn workbook_note(tab: &sheet::Tab) -> String {
    let mut note = format!("workbook: read tab {:?}", tab.name);
    if tab.tabs.len() > 1 {
        let others: Vec<String> = tab
            .tabs
            .iter()
            .filter(|t| **t != tab.name)
            .map(|t| format!("{t:?}"))
            .collect();
        note.push_str(&format!(
            " (also in it: {}; choose with --sheet NAME)",
            others.join(", ")
        ));
    }
    if tab.merged_cells > 0 {
        note.push_str(&format!(
            "; {} taking the value of a merged cell above them",
            crate::output::words::plural(tab.merged_cells, "cell", "cells")
        ));
    }
    note
}

/// Plans a sheet already read.
fn plan_read(
    source: &Path,
    sheet: sheet::Sheet,
    settings: &Settings,
    ids: Option<&mut IdCheck<'_>>,
) -> Result<Plan, PlanError> {
    let column_problems = check_columns(&settings.columns);
    if !column_problems.is_empty() {
        return Err(PlanError::Config(ConfigError::Invalid {
            path: PathBuf::from("[columns]"),
            problems: column_problems,
        }));
    }
    let (sheet, expanded) = match &settings.matrix {
        Some(m) => {
            let (sheet, e) = matrix::expand(sheet, m, settings)?;
            (sheet, Some(e))
        }
        None => (sheet, None),
    };
    let (columns, mut errors) = Columns::resolve(
        &sheet.format.headers,
        sheet.header_line,
        &settings.columns,
        &settings.columns_ignore,
    );
    errors.extend(sheet.problems);
    let source_rows = sheet.rows.len();
    let (video_defaults, scene_defaults) = split_defaults(&settings.defaults);
    let cx = build::Context {
        columns: &columns,
        video_defaults: &video_defaults,
        scene_defaults: &scene_defaults,
        rate: settings.estimate,
    };
    // One pass: type a row, place it, and build a video as soon as its last row is read, so
    // only one video's typed cells are alive at a time (a 100k-row sheet is never held as
    // typed values).
    let mut grouper = rows::Grouper::new(&columns, source_rows);
    let mut videos = Vec::with_capacity(source_rows);
    let mut current: Option<rows::Group> = None;
    let mut members: Vec<rows::TypedRow> = Vec::new();
    let mut finish =
        |group: rows::Group, members: &mut Vec<rows::TypedRow>, errors: &mut Vec<Diagnostic>| {
            match build::video(&cx, group, members) {
                Ok(v) => videos.push(v),
                Err(d) => errors.extend(d),
            }
            members.clear();
        };
    for raw in sheet.rows {
        let row = rows::type_row(raw, &columns, &mut errors);
        match grouper.place(&row, &mut errors) {
            rows::Placement::Joins { label } => {
                if let Some(g) = current.as_mut() {
                    g.rows.push(members.len());
                    g.labels.push(label);
                    members.push(row);
                }
            }
            rows::Placement::Starts {
                key,
                derived,
                label,
            } => {
                if let Some(g) = current.take() {
                    finish(g, &mut members, &mut errors);
                }
                current = Some(rows::Group {
                    key,
                    derived,
                    rows: vec![0],
                    labels: vec![label],
                });
                members.push(row);
            }
            // Its placement failed (reported); its own problems are still looked for. The
            // plan fails, so this video is never submitted.
            rows::Placement::Alone => {
                if let Some(g) = current.take() {
                    finish(g, &mut members, &mut errors);
                }
                let alone = rows::Group {
                    key: String::new(),
                    derived: false,
                    rows: vec![0],
                    labels: vec![String::new()],
                };
                members.push(row);
                finish(alone, &mut members, &mut errors);
            }
        }
    }
    if let Some(g) = current.take() {
        finish(g, &mut members, &mut errors);
    }
    let mut notes = Vec::new();
    // Built videos are checked even when other rows failed: one kind of error never hides
    // another.
    if let Some(ids) = ids {
        errors.extend(ids.run(&mut videos, &columns, &mut notes));
    }
    if let Some(e) = &expanded {
        for v in &mut videos {
            v.variant_of = e.variant_of.get(&v.key).cloned();
            matrix::point_at_matrix(&mut v.warnings, &e.filled);
        }
        matrix::point_at_matrix(&mut errors, &e.filled);
    }
    if errors.iter().any(|d| !d.warning) {
        errors.extend(videos.into_iter().flat_map(|v| v.warnings));
        // Stable: problems of one line stay in column order.
        errors.sort_by_key(|d| d.line);
        return Err(PlanError::Invalid(errors));
    }
    if let Some(e) = &expanded {
        notes.push(e.note.clone());
    }
    if columns.key.is_none() && videos.iter().any(|v| v.key_derived) {
        notes.push(
            "no `key` column: keys derived from each row's content (stable across runs; \
             editing a row gives it a new key)"
                .to_owned(),
        );
    }
    if columns.video.is_some() {
        notes.push(format!(
            "`video` column: {} make {}",
            crate::output::words::plural(
                expanded.as_ref().map_or(source_rows, |e| e.source_rows),
                "row",
                "rows"
            ),
            crate::output::words::plural(videos.len(), "video", "videos")
        ));
    }
    if !columns.ignored.is_empty() {
        notes.push(format!("ignored columns: {}", columns.ignored.join(", ")));
    }
    if sheet.empty_rows > 0 {
        notes.push(format!("{} empty rows skipped", sheet.empty_rows));
    }
    if sheet.format.delimiter != b',' || sheet.format.sep_line {
        let how = if sheet.format.sep_line {
            "from the sep= line"
        } else {
            "detected"
        };
        notes.push(format!(
            "delimiter {} ({how})",
            delimiter_name(sheet.format.delimiter)
        ));
    }
    if !settings.defaults.is_empty() {
        let keys: Vec<&str> = settings.defaults.keys().map(String::as_str).collect();
        notes.push(format!(
            "[defaults] applied under every row: {}",
            keys.join(", ")
        ));
    }
    Ok(Plan {
        batch: source
            .file_stem()
            .map_or_else(|| "batch".to_owned(), |s| s.to_string_lossy().into_owned()),
        source: source.to_path_buf(),
        format: sheet.format,
        videos,
        notes,
    })
}

/// The exact request bodies, one compact JSON object per line (JSON Lines), in sheet order.
pub fn bodies_json(plan: &Plan) -> String {
    let mut out = String::new();
    for v in &plan.videos {
        // Serializing plain structs with string keys cannot fail.
        if let Ok(line) = serde_json::to_string(&v.body) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
