//! A sheet planned once: its videos built and its problems found, then (optionally) its ids
//! checked against a catalogue, then judged into a [`Plan`] or every problem at once.
//!
//! The id check comes after the sheet's own planning because a sheet with problems of its
//! own asks no API anything: the caller plans first, then gets a catalogue only for a sheet
//! worth checking, and checks the same videos instead of planning the sheet a second time
//! (a 100k-row sheet is then read, typed and built once, and its rows never held twice).

use std::path::{Path, PathBuf};

use super::columns::Columns;
use super::{build, matrix, rows, Diagnostic, Plan, PlanError, PlannedVideo};
use crate::catalog::check::IdCheck;
use crate::config::{check_columns, split_defaults, ConfigError, Settings};
use crate::sheet::{self, delimiter_name, SheetFormat};

/// A sheet's videos and problems, before the id check and the verdict.
pub struct Draft {
    source: PathBuf,
    format: SheetFormat,
    columns: Columns,
    videos: Vec<PlannedVideo>,
    /// Every problem found so far (warnings of failed videos among them).
    errors: Vec<Diagnostic>,
    /// Notes the id check adds; they come first.
    check_notes: Vec<String>,
    /// Notes on how the sheet was read, after those.
    notes: Vec<String>,
    expanded: Option<matrix::Expanded>,
    /// The workbook tab read, with the headers as read (before `[matrix]` added any).
    tab: Option<(sheet::Tab, Vec<String>)>,
}

impl Draft {
    /// Plans `sheet` (tab `tab` of a workbook, if it came from one) with `settings`: every
    /// video built, every problem of the sheet's own found.
    pub fn new(
        source: &Path,
        sheet: sheet::Sheet,
        tab: Option<sheet::Tab>,
        settings: &Settings,
    ) -> Result<Draft, PlanError> {
        let column_problems = check_columns(&settings.columns);
        if !column_problems.is_empty() {
            return Err(PlanError::Config(ConfigError::Invalid {
                path: PathBuf::from("[columns]"),
                problems: column_problems,
            }));
        }
        let tab = tab.map(|t| (t, sheet.format.headers.clone()));
        let (sheet, expanded) = match &settings.matrix {
            Some(m) => {
                let (sheet, e) = matrix::expand(sheet, m, settings)?;
                (sheet, Some(e))
            }
            None => (sheet, None),
        };
        let (columns, mut errors) = super::columns::Columns::resolve(
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
        // One pass: type a row, place it, and build a video as soon as its last row is
        // read, so only one video's typed cells are alive at a time (a 100k-row sheet is
        // never held as typed values).
        let mut grouper = rows::Grouper::new(&columns, source_rows);
        let mut videos = Vec::with_capacity(source_rows);
        let mut current: Option<rows::Group> = None;
        let mut members: Vec<rows::TypedRow> = Vec::new();
        let mut finish = |group: rows::Group,
                          members: &mut Vec<rows::TypedRow>,
                          errors: &mut Vec<Diagnostic>| {
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
                // Its placement failed (reported); its own problems are still looked for.
                // The plan fails, so this video is never submitted.
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
        let notes = read_notes(
            settings,
            &columns,
            &videos,
            &sheet.format,
            sheet.empty_rows,
            source_rows,
            expanded.as_ref(),
        );
        Ok(Draft {
            source: source.to_path_buf(),
            format: sheet.format,
            columns,
            videos,
            errors,
            check_notes: Vec::new(),
            notes,
            expanded,
            tab,
        })
    }

    /// Whether the sheet has problems of its own (or ids found wrong): the plan fails.
    pub fn failed(&self) -> bool {
        self.errors.iter().any(|d| !d.warning)
    }

    /// The videos built so far (a failed sheet's too: their ids are worth checking).
    pub fn videos(&self) -> &[PlannedVideo] {
        &self.videos
    }

    /// Checks every avatar and voice id of the built videos: names replaced by ids, the
    /// check's problems joining the sheet's. Built videos are checked even when other rows
    /// failed: one kind of error never hides another.
    pub fn check(&mut self, ids: &mut IdCheck<'_>) {
        let errors = ids.run(&mut self.videos, &self.columns, &mut self.check_notes);
        self.errors.extend(errors);
    }

    /// The plan, or every problem found, in line order.
    pub fn finish(self) -> Result<Plan, PlanError> {
        let Draft {
            source,
            format,
            columns: _,
            mut videos,
            mut errors,
            mut check_notes,
            notes,
            expanded,
            tab,
        } = self;
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
            if let Some((tab, headers)) = &tab {
                for d in errors.iter_mut().filter(|d| d.at.is_none()) {
                    tab.place(d, headers);
                }
            }
            return Err(PlanError::Invalid(errors));
        }
        check_notes.extend(notes);
        let mut notes = check_notes;
        if let Some((tab, _)) = &tab {
            for d in videos.iter_mut().flat_map(|v| v.warnings.iter_mut()) {
                tab.place(d, &format.headers);
            }
            notes.insert(0, workbook_note(tab));
        }
        Ok(Plan {
            batch: source
                .file_stem()
                .map_or_else(|| "batch".to_owned(), |s| s.to_string_lossy().into_owned()),
            source,
            format,
            videos,
            notes,
        })
    }
}

/// The notes on how the sheet was read (for a plan that holds).
fn read_notes(
    settings: &Settings,
    columns: &Columns,
    videos: &[PlannedVideo],
    format: &SheetFormat,
    empty_rows: usize,
    source_rows: usize,
    expanded: Option<&matrix::Expanded>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(e) = expanded {
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
                expanded.map_or(source_rows, |e| e.source_rows),
                "row",
                "rows"
            ),
            crate::output::words::plural(videos.len(), "video", "videos")
        ));
    }
    if !columns.ignored.is_empty() {
        notes.push(format!("ignored columns: {}", columns.ignored.join(", ")));
    }
    if empty_rows > 0 {
        notes.push(format!("{empty_rows} empty rows skipped"));
    }
    if format.delimiter != b',' || format.sep_line {
        let how = if format.sep_line {
            "from the sep= line"
        } else {
            "detected"
        };
        notes.push(format!(
            "delimiter {} ({how})",
            delimiter_name(format.delimiter)
        ));
    }
    if !settings.defaults.is_empty() {
        let keys: Vec<&str> = settings.defaults.keys().map(String::as_str).collect();
        notes.push(format!(
            "[defaults] applied under every row: {}",
            keys.join(", ")
        ));
    }
    notes
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
