//! The `avatars` and `voices` commands' output: an aligned table for a terminal, CSV (to paste
//! into a sheet: the id column comes first), or JSON (for scripts). One row per avatar, and
//! one row per voice *accent*, since the accent id is what a sheet's voice column takes. Text
//! from the API is shown escaped where a terminal would act on it.

use std::io::{self, Write};

use serde_json::json;

use super::{Accent, Avatar};
use crate::plan::table::width;
use crate::sheet::printable;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array.
    Json,
}

const AVATAR_HEADER: [&str; 8] = [
    "id", "name", "gender", "age", "style", "location", "status", "preview",
];
const VOICE_HEADER: [&str; 5] = ["id", "name", "gender", "accent", "preview"];

fn avatar_cells(a: &Avatar) -> Vec<String> {
    let status = match (a.not_ready(), a.own) {
        (Some(_), _) if a.status.is_some() => a.status.clone().unwrap_or_default(),
        (Some(_), _) => "inactive".into(),
        (None, true) => "own".into(),
        (None, false) => "active".into(),
    };
    vec![
        a.id.clone(),
        a.name.clone(),
        a.gender.clone(),
        a.age.clone(),
        a.style.clone(),
        a.location.clone(),
        status,
        a.preview.clone().unwrap_or_default(),
    ]
}

fn voice_cells(a: &Accent) -> Vec<String> {
    vec![
        a.id.clone(),
        a.voice.clone(),
        a.gender.clone(),
        a.accent.clone(),
        a.preview.clone().unwrap_or_default(),
    ]
}

/// Prints `avatars` as `format`.
pub fn write_avatars(avatars: &[&Avatar], format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        let list: Vec<_> = avatars
            .iter()
            .map(|a| {
                json!({"id": a.id, "name": a.name, "gender": a.gender, "age": a.age,
                       "style": a.style, "location": a.location, "active": a.active,
                       "status": a.status, "own": a.own, "preview": a.preview})
            })
            .collect();
        return writeln!(out, "{}", serde_json::to_string_pretty(&list)?);
    }
    let rows: Vec<Vec<String>> = avatars.iter().map(|a| avatar_cells(a)).collect();
    write_rows(&AVATAR_HEADER, &rows, format, out)
}

/// Prints `accents` as `format`.
pub fn write_voices(accents: &[&Accent], format: Format, out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Json {
        let list: Vec<_> = accents
            .iter()
            .map(|a| {
                json!({"id": a.id, "name": a.voice, "gender": a.gender, "accent": a.accent,
                       "preview": a.preview})
            })
            .collect();
        return writeln!(out, "{}", serde_json::to_string_pretty(&list)?);
    }
    let rows: Vec<Vec<String>> = accents.iter().map(|a| voice_cells(a)).collect();
    write_rows(&VOICE_HEADER, &rows, format, out)
}

fn write_rows(
    header: &[&str],
    rows: &[Vec<String>],
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::Csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(header)?;
        for r in rows {
            // A cell a spreadsheet would run as a formula is written as text.
            w.write_record(
                r.iter()
                    .map(|c| crate::output::manifest::defuse(c).into_owned()),
            )?;
        }
        return w.flush();
    }
    let shown: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c, 300)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in &shown {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(widths[i].saturating_sub(width(c)) + 2));
            }
        }
        writeln!(out, "{}", l.trim_end())
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    line(out, &head)?;
    for r in &shown {
        line(out, r)?;
    }
    Ok(())
}
