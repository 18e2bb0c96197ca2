//! Sheet headers → what each column sets.
//!
//! A header is trimmed, lower-cased and its inner spaces become `_` (`Caption Style` reads
//! as `caption_style`), then looked up in this order: ignored columns (`#...`, `notes`,
//! `note`, `comment`, `comments`, the config's `[columns] ignore`), the config's `[columns]` aliases, the built-in
//! [`ALIASES`], and finally the dotted request-field paths of [`fields`]. Anything else is
//! an error with the closest known name.

use std::collections::{BTreeMap, HashMap};

use super::fields::{self, Field};
use super::values::suggest;
use crate::sheet::{shorten, Diagnostic};

/// The friendly column names that work out of the box, and what they set. `key` and
/// `video` are not request fields: they name the row (see the crate's README).
pub const ALIASES: &[(&str, &str)] = &[
    ("key", "key"),
    ("video", "video"),
    ("script", "voice.input_text"),
    ("text", "voice.input_text"),
    ("avatar", "character.avatar_id"),
    ("avatar_id", "character.avatar_id"),
    ("avatar_style", "character.avatar_style"),
    ("voice", "voice.voice_id"),
    ("voice_id", "voice.voice_id"),
    ("voice_volume", "voice.volume"),
    ("duration", "voice.duration"),
    ("background", "background.url"),
    ("background_url", "background.url"),
    ("background_type", "background.type"),
    ("background_fit", "background.fit"),
    ("background_effect", "background.effect"),
    ("caption_style", "caption_setting.style"),
    ("caption_font", "caption_setting.font_family"),
    ("hide_captions", "caption_setting.hidden"),
    ("transition_in", "transition_effect.transition_in"),
    ("transition_out", "transition_effect.transition_out"),
    ("model", "model_version"),
    ("aspect", "aspect_ratio"),
    ("music", "background_music.url"),
    ("music_url", "background_music.url"),
    ("music_volume", "background_music.volume"),
    ("webhook", "webhook_url"),
];

/// Headers whose column is left out of the plan (besides any starting with `#`). `approve`
/// is the reviewer's verdict on a preview ([`crate::review::column`]): never in the request.
pub const IGNORED: &[&str] = &["notes", "note", "comment", "comments", "approve"];

/// What one column sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The row's key.
    Key,
    /// The multi-scene group: consecutive rows with the same value are one video.
    Video,
    /// A request field.
    Field(&'static Field),
    /// A comment column, or an unknown header already reported.
    Ignored,
    /// A blank header: its cells must be blank too.
    Unnamed,
}

/// A header in the canonical form used for lookups.
pub fn normalize(header: &str) -> String {
    header
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase()
}

/// What `name` (normalized) means without the config's aliases: `key`, `video`, a built-in
/// alias or a field path. The error says why not, with a did-you-mean.
pub fn builtin_target(name: &str) -> Result<Target, String> {
    target(name, &[])
}

/// Like [`builtin_target`], with `extra` names (the config's aliases) among the
/// did-you-mean candidates.
fn target(name: &str, extra: &[&str]) -> Result<Target, String> {
    let path = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, path)| *path);
    match path {
        "key" => return Ok(Target::Key),
        "video" => return Ok(Target::Video),
        _ => {}
    }
    if let Some(f) = fields::get(path) {
        return Ok(Target::Field(f));
    }
    if fields::is_group(path) {
        let example = fields::all()
            .iter()
            .find(|f| f.path.starts_with(&format!("{path}.")))
            .map_or(String::new(), |f| format!(", e.g. {}", f.path));
        return Err(format!(
            "{path:?} is a group of fields; name one of its fields{example}"
        ));
    }
    let mut candidates: Vec<&str> = extra.to_vec();
    candidates.extend(ALIASES.iter().map(|(a, _)| *a));
    candidates.extend(fields::all().iter().map(|f| f.path.as_str()));
    Err(unknown(name, &candidates))
}

fn unknown(name: &str, candidates: &[&str]) -> String {
    let mut msg = format!("unknown column {:?}", shorten(name, 60));
    if let Some(d) = [',', ';', '\t'].into_iter().find(|&d| name.contains(d)) {
        msg.push_str(&format!(
            ": it holds `{d}`, so the header seems to mix delimiters; use one delimiter in \
             the whole file (or put Excel's sep=; line first)"
        ));
        return msg;
    }
    match suggest(name, candidates) {
        Some(s) => msg.push_str(&format!(" (did you mean {s:?}?)")),
        None => msg.push_str(
            "; name a request field by its dotted path (voice.input_text) or a built-in \
             alias (script, avatar, voice, ...); if the sheet keeps this column for your \
             team, add it to [columns] ignore in pipeline.toml, or map it with [columns]",
        ),
    }
    msg
}

/// The field an unknown header's did-you-mean names, if it names one.
fn meant_path(name: &str, user: &HashMap<String, &str>) -> Option<&'static str> {
    let mut candidates: Vec<&str> = user.keys().map(String::as_str).collect();
    candidates.extend(ALIASES.iter().map(|(a, _)| *a));
    candidates.extend(fields::all().iter().map(|f| f.path.as_str()));
    let s = suggest(name, &candidates)?;
    let to = user.get(s).map_or_else(|| s.to_owned(), |to| normalize(to));
    match builtin_target(&to) {
        Ok(Target::Field(f)) => Some(f.path.as_str()),
        _ => None,
    }
}

/// One column of the sheet.
#[derive(Debug, Clone)]
pub struct Column {
    /// The header, trimmed.
    pub header: String,
    /// What it sets.
    pub target: Target,
}

/// The sheet's columns, resolved.
#[derive(Debug, Clone)]
pub struct Columns {
    /// One per header, in order.
    pub list: Vec<Column>,
    /// The `key` column.
    pub key: Option<usize>,
    /// The `video` column.
    pub video: Option<usize>,
    /// Headers left out on purpose (comment columns, `[columns] ignore`).
    pub ignored: Vec<String>,
    /// Unknown headers (already reported) and the field their did-you-mean names: a value
    /// missing from that field on a row that has a cell in the column is the same mistake,
    /// not another one per row.
    pub meant: Vec<(usize, &'static str)>,
    by_path: HashMap<&'static str, usize>,
}

impl Columns {
    /// Resolves every header; problems come back as diagnostics on the header line, and
    /// the columns they concern are ignored so that the rows can still be checked.
    ///
    /// `aliases` are the config's `[columns]` (already checked when the config loaded; an
    /// alias that does not resolve is reported here as well); `ignore` is `[columns]
    /// ignore`, headers a team keeps for itself, matched like headers.
    pub fn resolve(
        headers: &[String],
        line: u64,
        aliases: &BTreeMap<String, String>,
        ignore: &[String],
    ) -> (Columns, Vec<Diagnostic>) {
        let user: HashMap<String, &str> = aliases
            .iter()
            .map(|(k, v)| (normalize(k), v.as_str()))
            .collect();
        let ignore: Vec<String> = ignore.iter().map(|h| normalize(h)).collect();
        let mut problems = Vec::new();
        let mut cols = Columns {
            list: Vec::with_capacity(headers.len()),
            key: None,
            video: None,
            ignored: Vec::new(),
            meant: Vec::new(),
            by_path: HashMap::new(),
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, raw) in headers.iter().enumerate() {
            let header = raw.trim().to_owned();
            let name = normalize(&header);
            let target = if name.is_empty() {
                Target::Unnamed
            } else if name.starts_with('#')
                || IGNORED.contains(&name.as_str())
                || ignore.contains(&name)
            {
                cols.ignored.push(header.clone());
                Target::Ignored
            } else {
                let resolved = match user.get(&name) {
                    Some(to) => builtin_target(&normalize(to)).map_err(|e| {
                        format!("[columns] maps this header to {to:?}, which fails: {e}")
                    }),
                    None => {
                        let extra: Vec<&str> = user.keys().map(String::as_str).collect();
                        target(&name, &extra)
                    }
                };
                match resolved {
                    Ok(t) => t,
                    Err(mut msg) => {
                        let fixable = !user.contains_key(&name)
                            && !fields::is_group(&name)
                            && !name.contains([',', ';', '\t']);
                        if let Some(p) = meant_path(&name, &user).filter(|_| fixable) {
                            cols.meant.push((i, p));
                        }
                        // Without a did-you-mean, `unknown` already names the fixes.
                        if fixable && msg.contains("(did you mean") {
                            msg.push_str(
                                "; if the sheet keeps this column for your team, add it to \
                                 [columns] ignore in pipeline.toml, or map it with [columns]",
                            );
                        }
                        problems.push(Diagnostic::cell(line, &header, Some(&header), msg));
                        Target::Ignored
                    }
                }
            };
            let slot = match target {
                Target::Key => Some("key".to_owned()),
                Target::Video => Some("video".to_owned()),
                Target::Field(f) => Some(f.path.clone()),
                Target::Ignored | Target::Unnamed => None,
            };
            if let Some(slot) = slot {
                if let Some(&first) = seen.get(&slot) {
                    problems.push(Diagnostic::cell(
                        line,
                        &header,
                        Some(&header),
                        format!(
                            "sets {slot} like column {:?} (column {}) already does; keep one",
                            cols.list[first].header,
                            first + 1
                        ),
                    ));
                    cols.list.push(Column {
                        header,
                        target: Target::Ignored,
                    });
                    continue;
                }
                seen.insert(slot, i);
            }
            match target {
                Target::Key => cols.key = Some(i),
                Target::Video => cols.video = Some(i),
                Target::Field(f) => {
                    cols.by_path.insert(f.path.as_str(), i);
                }
                _ => {}
            }
            cols.list.push(Column { header, target });
        }
        (cols, problems)
    }

    /// The column that sets `path`, if any.
    pub fn for_path(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(headers: &[&str]) -> (Columns, Vec<String>) {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let mut aliases = BTreeMap::new();
        aliases.insert("Skript".to_owned(), "script".to_owned());
        aliases.insert("Ad ID".to_owned(), "key".to_owned());
        let (c, p) = Columns::resolve(&headers, 1, &aliases, &[]);
        (c, p.into_iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn aliases_paths_and_spacing_resolve() {
        let (c, p) = resolve(&[
            " Script ",
            "Caption Style",
            "character.offset.x",
            "AD  id",
            "# internal",
            "Notes",
            "",
        ]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(c.for_path("voice.input_text"), Some(0));
        assert_eq!(c.for_path("caption_setting.style"), Some(1));
        assert_eq!(c.for_path("character.offset.x"), Some(2));
        assert_eq!(c.key, Some(3));
        assert_eq!(c.ignored, ["# internal", "Notes"]);
        assert_eq!(c.list[6].target, Target::Unnamed);
        let (c, _) = resolve(&["skript"]);
        assert_eq!(c.for_path("voice.input_text"), Some(0));
    }

    #[test]
    fn ignored_headers_match_like_headers_and_typos_remember_their_field() {
        let headers: Vec<String> = ["STATUS", "approved  by", "scirpt", "kye"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let ignore = ["Status".to_owned(), "Approved by".to_owned()];
        let (c, p) = Columns::resolve(&headers, 1, &BTreeMap::new(), &ignore);
        assert_eq!(c.ignored, ["STATUS", "approved  by"]);
        assert_eq!(p.len(), 2, "{p:?}");
        // "kye" means `key`, not a field: nothing to stand in for.
        assert_eq!(c.meant, [(2, "voice.input_text")]);
    }

    #[test]
    fn unknown_group_and_duplicate_headers_are_reported() {
        let (_, p) = resolve(&["scirpt", "caption_setting", "script", "voice.input_text"]);
        assert_eq!(
            p,
            [
                r#"line 1, column scirpt: unknown column "scirpt" (did you mean "script"?); if the sheet keeps this column for your team, add it to [columns] ignore in pipeline.toml, or map it with [columns]"#,
                r#"line 1, column caption_setting: "caption_setting" is a group of fields; name one of its fields, e.g. caption_setting.style"#,
                r#"line 1, column voice.input_text: sets voice.input_text like column "script" (column 3) already does; keep one"#,
            ]
        );
    }
}
