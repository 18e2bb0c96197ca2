//! Why a sheet could not be planned.

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::sheet::{Diagnostic, SheetError};

/// Why a sheet could not be planned. Every variant means "invalid input, nothing sent"
/// (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be read.
    #[error("{}: cannot read the sheet: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{}: line {line} (byte {byte}) is not UTF-8 text: {hint}", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Line of the first byte that is not UTF-8.
        line: u64,
        /// Offset of that byte.
        byte: u64,
        /// What the file probably is and how to save it as UTF-8.
        hint: String,
    },
    /// Nothing to plan: an empty file, or a header with no rows.
    #[error("{}: {reason}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// Empty, or header only, and what a sheet needs.
        reason: String,
    },
    /// A workbook that cannot be read (damaged, too large, no such tab), or a file named
    /// like a workbook that is not one.
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Problems in the sheet, all of them, in line order: at least one error, and the
    /// warnings found along the way (flagged [`Diagnostic::warning`]).
    #[error("{}", list(.0))]
    Invalid(Vec<Diagnostic>),
    /// The settings cannot be used to read a sheet.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl PlanError {
    /// Places a sheet reader error in `path`.
    pub fn from_sheet(path: &Path, e: SheetError) -> Self {
        let path = path.to_path_buf();
        match e {
            SheetError::NotUtf8 { line, byte, hint } => PlanError::NotUtf8 {
                path,
                line,
                byte,
                hint,
            },
            SheetError::Malformed(d) => PlanError::Invalid(vec![d]),
            SheetError::Workbook(reason) => PlanError::Unreadable { path, reason },
            e @ (SheetError::Empty | SheetError::HeaderOnly { .. }) => PlanError::Empty {
                path,
                reason: e.to_string(),
            },
        }
    }

    /// The problems in the sheet, when that is what is wrong.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PlanError::Invalid(d) => d,
            _ => &[],
        }
    }
}

fn list(problems: &[Diagnostic]) -> String {
    let warnings = problems.iter().filter(|d| d.warning).count();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut s = plural(problems.len() - warnings, "error");
    if warnings > 0 {
        s.push_str(&format!(" and {}", plural(warnings, "warning")));
    }
    s.push_str(" in the sheet (nothing was submitted):");
    for d in problems {
        s.push_str("\n  ");
        s.push_str(&d.to_string());
    }
    s
}
