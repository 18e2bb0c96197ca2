//! Sheet + settings → a [`Plan`]: one exact, validated request body per video, with a
//! duration and credit estimate. Nothing here touches the network.
//!
//! The stages, one file each: [`columns`] resolves headers to request fields, [`values`]
//! reads cells by their field's type, `rows` gives each row its key and groups a
//! multi-scene video's rows, `build` turns a group into a body (defaults, then cells),
//! deserializes it into the API model and checks it with the API's rules, [`Draft`] holds
//! the built videos and the problems found until the catalogue's id check has been made on
//! them and the plan is judged (the sheet is planned once), and [`table`] prints the result. Every problem in every row is collected before giving up, so a user
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
mod draft;
mod error;
mod rows;

use std::path::{Path, PathBuf};

pub use draft::Draft;
pub use error::PlanError;
pub use table::{render_table, write_table};

pub use crate::sheet::{Diagnostic, SheetFormat};

use crate::api::CreateLipsync;
use crate::catalog::check::IdCheck;
use crate::config::Settings;
use crate::sheet::{self, Records};

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
    /// row's `key` (empty when the row has none); an empty list when no scene has one.
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
    let (sheet, tab) = read_sheet(source, bytes, ext, tab)?;
    let mut draft = Draft::new(source, sheet, tab, settings)?;
    if let Some(ids) = ids {
        draft.check(ids);
    }
    draft.finish()
}

/// Reads a sheet's bytes as cells ([`plan_sheet`]), with the workbook tab they came from;
/// once read, the bytes are no longer needed.
pub fn read_sheet(
    source: &Path,
    bytes: &[u8],
    ext: Option<&str>,
    tab: Option<&str>,
) -> Result<(sheet::Sheet, Option<sheet::Tab>), PlanError> {
    let kind = sheet::Kind::detect(ext, bytes).map_err(|e| PlanError::from_sheet(source, e))?;
    sheet::read_as(bytes, kind, tab).map_err(|e| PlanError::from_sheet(source, e))
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
