//! What can be wrong with a config file, phrased as: file, key, what, what to do.

use std::fmt;
use std::path::PathBuf;

use crate::sheet::shorten;

/// One problem at one key of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The table holding the key, as in the file (`limits`, `defaults.voice`); empty for
    /// the top level.
    pub section: String,
    /// The key.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `section`.`key`.
    pub fn new(section: &str, key: &str, message: impl Into<String>) -> Self {
        Self {
            section: section.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are the file's own text: a pasted paragraph stays one short line.
        let key = shorten(&self.key, 60);
        if self.section.is_empty() {
            write!(f, "{key}: {}", self.message)
        } else {
            write!(f, "[{}] {key}: {}", self.section, self.message)
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not UTF-8 text (TOML files must be).
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
    /// Not valid TOML.
    #[error("{}: not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `line L, column C: ` and the parser's message, without the line's text (it may
        /// be huge, or hold a credential pasted in the wrong place).
        message: String,
    },
    /// Valid TOML with keys that are unknown, of the wrong type or out of range.
    #[error("{}: {}", path.display(), list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<ConfigProblem>,
    },
}

fn list(problems: &[ConfigProblem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} problems:", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}
