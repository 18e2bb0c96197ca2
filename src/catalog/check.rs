//! A plan's avatar and voice ids held against the catalogue, before anything is sent.
//!
//! Each distinct value is judged once ([`judge_avatar`], [`judge_voice`]): a listed id is
//! fine (an inactive or unready avatar is a warning); a name that exactly one entry has
//! resolves to its id (the body changes, the sheet does not); an ambiguous name, an id of
//! the other kind (an accent in the avatar column, an avatar or a voice's own id in the
//! voice column) and an unknown value are errors, with a did-you-mean. `[catalog]
//! known_ids` pass unchecked. Errors on rows whose job already exists are only warnings:
//! their money is spent, and their polling and download must not wait on a sheet fix.

use std::collections::{HashMap, HashSet};

use super::{Accent, Avatar, Catalog};
use crate::plan::columns::Columns;
use crate::plan::values::suggest;
use crate::plan::{Diagnostic, PlannedVideo};

/// What to do with one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Known; nothing to say.
    Fine,
    /// A name: send this id instead (and this warning, if any).
    Resolved(String, Option<String>),
    /// Known, but may not work (why).
    Warn(String),
    /// Not usable (why, and what to do).
    Error(String),
}

/// Lower case, anything but letters and digits as one space: `Ava (British)` = `ava british`.
fn normal(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn short(id: &str) -> String {
    if id.chars().count() > 13 {
        format!("{}…", id.chars().take(8).collect::<String>())
    } else {
        id.to_owned()
    }
}

/// An id close to `value`: the same but for case, two edits away, or cut short.
fn near_id<'a>(value: &str, ids: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = value.to_lowercase();
    if lower.chars().count() > 100 {
        return None;
    }
    ids.map(|id| {
        let l = id.to_lowercase();
        let d = if l == lower {
            0
        } else if lower.len() >= 8 && l.starts_with(&lower) {
            1
        } else {
            strsim::levenshtein(&lower, &l)
        };
        (d, id)
    })
    .filter(|(d, _)| *d <= 2)
    .min_by_key(|(d, _)| *d)
    .map(|(_, id)| id)
}

fn avatar_words(a: &Avatar) -> String {
    let what: Vec<&str> = [a.location.as_str(), a.style.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if what.is_empty() {
        format!("{} ({})", a.id, a.name)
    } else {
        format!("{} ({}, {})", a.id, a.name, what.join(", "))
    }
}

/// The verdict on a `character.avatar_id` value.
pub fn judge_avatar(value: &str, catalog: &Catalog, known: &HashSet<String>) -> Verdict {
    if known.contains(value) {
        return Verdict::Fine;
    }
    if let Some(a) = catalog.avatar(value) {
        return match a.not_ready() {
            Some(why) => Verdict::Warn(format!(
                "avatar {value:?} ({}): {why}; the API may refuse it or the video may fail",
                a.name
            )),
            None => Verdict::Fine,
        };
    }
    if let Some(acc) = catalog.accent(value) {
        return Verdict::Error(format!(
            "{value:?} is a voice accent id ({}), not an avatar: it belongs in the voice \
             column; put an avatar id here (list them with `creatify-batch avatars`)",
            acc.label()
        ));
    }
    let n = normal(value);
    let named: Vec<&Avatar> = catalog
        .avatars
        .iter()
        .filter(|a| !n.is_empty() && normal(&a.name) == n)
        .collect();
    match named.as_slice() {
        [one] => {
            let warn = one.not_ready().map(|why| {
                format!(
                    "avatar {value:?} ({}): {why}; the API may refuse it or the video may fail",
                    one.id
                )
            });
            return Verdict::Resolved(one.id.clone(), warn);
        }
        [] => {}
        many => {
            let list: Vec<String> = many.iter().take(10).map(|a| avatar_words(a)).collect();
            return Verdict::Error(format!(
                "avatar name {value:?} is ambiguous: {} avatars have it: {}; put the id of \
                 the one you mean",
                many.len(),
                list.join("; ")
            ));
        }
    }
    let hint = near_id(value, catalog.avatars.iter().map(|a| a.id.as_str()))
        .map(|id| format!(" (did you mean {id:?}?)"))
        .or_else(|| {
            let names: Vec<&str> = catalog.avatars.iter().map(|a| a.name.as_str()).collect();
            suggest(value, &names).map(|name| {
                let ids: Vec<&str> = catalog
                    .avatars
                    .iter()
                    .filter(|a| a.name == name)
                    .map(|a| a.id.as_str())
                    .collect();
                match ids.as_slice() {
                    [id] => format!(" (did you mean {name:?}, {id}?)"),
                    _ => format!(
                        " (did you mean {name:?}? {} looks have that name)",
                        ids.len()
                    ),
                }
            })
        })
        .unwrap_or_default();
    Verdict::Error(format!(
        "unknown avatar {value:?}{hint}; list this account's avatars with `creatify-batch \
         avatars`"
    ))
}

/// The verdict on a `voice.voice_id` value.
pub fn judge_voice(value: &str, catalog: &Catalog, known: &HashSet<String>) -> Verdict {
    if known.contains(value) || catalog.accent(value).is_some() {
        return Verdict::Fine;
    }
    if let Some(a) = catalog.avatar(value) {
        return Verdict::Error(format!(
            "{value:?} is an avatar id ({}), not a voice: it belongs in the avatar column; \
             put a voice accent id here (list them with `creatify-batch voices`)",
            a.name
        ));
    }
    let of_voice: Vec<&Accent> = catalog
        .accents
        .iter()
        .filter(|a| a.voice_id.as_deref() == Some(value))
        .collect();
    if let Some(first) = of_voice.first() {
        let list: Vec<String> = of_voice
            .iter()
            .map(|a| format!("{} ({})", a.id, a.accent))
            .collect();
        return Verdict::Error(format!(
            "{value:?} is the id of the voice {:?}, but voice_id takes one of its accents: {}",
            first.voice,
            list.join(", ")
        ));
    }
    let n = normal(value);
    let named: Vec<&Accent> = catalog
        .accents
        .iter()
        .filter(|a| {
            !n.is_empty()
                && (normal(&a.voice) == n || normal(&format!("{} {}", a.voice, a.accent)) == n)
        })
        .collect();
    match named.as_slice() {
        [one] => return Verdict::Resolved(one.id.clone(), None),
        [] => {}
        many => {
            let list: Vec<String> = many
                .iter()
                .take(10)
                .map(|a| format!("{} ({})", a.id, a.label()))
                .collect();
            return Verdict::Error(format!(
                "voice name {value:?} is ambiguous: it has {} accents: {}; put the accent id \
                 you mean, or write the name with its accent (\"{} ({})\")",
                many.len(),
                list.join("; "),
                many[0].voice,
                many[0].accent
            ));
        }
    }
    let hint = near_id(value, catalog.accents.iter().map(|a| a.id.as_str()))
        .map(|id| format!(" (did you mean {id:?}?)"))
        .or_else(|| {
            let mut names: Vec<String> = catalog.accents.iter().map(Accent::label).collect();
            for a in &catalog.accents {
                if !names.contains(&a.voice) {
                    names.push(a.voice.clone());
                }
            }
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            suggest(value, &refs).map(|l| format!(" (did you mean {l:?}?)"))
        })
        .unwrap_or_default();
    Verdict::Error(format!(
        "unknown voice {value:?}{hint}; voice_id takes an accent id: list them with \
         `creatify-batch voices` (a cloned voice the list does not show goes in [catalog] \
         known_ids)"
    ))
}

/// Which field a scene's value sits in.
#[derive(Clone, Copy)]
enum Field {
    Avatar,
    Voice,
}

impl Field {
    fn path(self) -> &'static str {
        match self {
            Field::Avatar => "character.avatar_id",
            Field::Voice => "voice.voice_id",
        }
    }
}

/// A check to make while planning: the catalogue and what to spare; after it, what it
/// found that is worth asking the API about.
#[derive(Debug)]
pub struct IdCheck<'a> {
    /// The catalogue.
    pub catalog: &'a Catalog,
    /// `[catalog] known_ids`.
    pub known: HashSet<String>,
    /// Keys of videos whose job exists: their problems are warnings.
    pub spared: HashSet<String>,
    /// Out: avatar values the catalogue does not know that are not names and not accents
    /// (maybe the account's own avatars: worth `GET /api/personas/{id}/`).
    pub unlisted: Vec<String>,
    /// Out: cells whose name was replaced by an id.
    pub resolved: usize,
    /// The catalogue is the sandbox's: advice names `--sandbox`.
    pub sandbox: bool,
    /// Each distinct (field, value) judged so far.
    verdicts: HashMap<(u8, String), Verdict>,
}

impl<'a> IdCheck<'a> {
    /// A check against `catalog`, sparing nothing, knowing `known` ids.
    pub fn new(catalog: &'a Catalog, known: &[String]) -> Self {
        Self {
            catalog,
            known: known.iter().cloned().collect(),
            spared: HashSet::new(),
            unlisted: Vec::new(),
            resolved: 0,
            sandbox: false,
            verdicts: HashMap::new(),
        }
    }

    /// The verdict on `value` in `field`, judged once per distinct value (an unknown
    /// avatar that may be unlisted goes to `unlisted`).
    fn verdict(&mut self, field: Field, value: &str) -> Verdict {
        let key = (field as u8, value.to_owned());
        if let Some(v) = self.verdicts.get(&key) {
            return v.clone();
        }
        let verdict = match field {
            Field::Avatar => judge_avatar(value, self.catalog, &self.known),
            Field::Voice => judge_voice(value, self.catalog, &self.known),
        };
        if matches!(field, Field::Avatar)
            && matches!(verdict, Verdict::Error(_))
            && looks_unlisted(value, self.catalog)
        {
            self.unlisted.push(value.to_owned());
        }
        self.verdicts.insert(key, verdict.clone());
        verdict
    }

    /// Judges every avatar and voice of `videos` without changing them (`unlisted` filled
    /// as [`IdCheck::run`] fills it): whether [`IdCheck::run`] would find an error, so that
    /// a caller can learn more about unlisted ids first and check once.
    pub fn judge(&mut self, videos: &[PlannedVideo]) -> bool {
        let mut failed = false;
        for v in videos {
            for scene in &v.body.video_inputs {
                let avatar = scene.character.as_ref().map(|c| c.avatar_id.as_str());
                let voice = scene.voice.as_ref().and_then(|x| x.voice_id.as_deref());
                for (field, value) in [(Field::Avatar, avatar), (Field::Voice, voice)] {
                    let Some(value) = value.map(str::trim).filter(|s| !s.is_empty()) else {
                        continue;
                    };
                    if matches!(self.verdict(field, value), Verdict::Error(_))
                        && !self.spared.contains(&v.key)
                    {
                        failed = true;
                    }
                }
            }
        }
        failed
    }

    /// Checks every avatar and voice of `videos`, replacing names by ids; returns the
    /// errors (warnings go to the videos, a note on resolved names to `notes`).
    pub fn run(
        &mut self,
        videos: &mut [PlannedVideo],
        columns: &Columns,
        notes: &mut Vec<String>,
    ) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for v in videos.iter_mut() {
            let mut cells: Option<Vec<Vec<String>>> = None;
            for (i, scene) in v.body.video_inputs.iter_mut().enumerate() {
                for field in [Field::Avatar, Field::Voice] {
                    let slot: Option<&mut String> = match field {
                        Field::Avatar => scene.character.as_mut().map(|c| &mut c.avatar_id),
                        Field::Voice => scene.voice.as_mut().and_then(|x| x.voice_id.as_mut()),
                    };
                    let Some(slot) = slot else { continue };
                    let value = slot.trim().to_owned();
                    if value.is_empty() {
                        continue;
                    }
                    let verdict = self.verdict(field, &value);
                    let (message, warning) = match verdict {
                        Verdict::Fine => continue,
                        Verdict::Resolved(id, warn) => {
                            let kind = match field {
                                Field::Avatar => "avatar",
                                Field::Voice => "voice",
                            };
                            let note = format!("{kind} {value:?} → {}", short(&id));
                            if !names.contains(&note) {
                                names.push(note);
                            }
                            *slot = id;
                            self.resolved += 1;
                            match warn {
                                Some(w) => (w, true),
                                None => continue,
                            }
                        }
                        Verdict::Warn(m) => (m, true),
                        Verdict::Error(m) if self.spared.contains(&v.key) => (
                            format!("{m} (this row's job already exists; it is not sent again)"),
                            true,
                        ),
                        Verdict::Error(m) => (m, false),
                    };
                    let message = if self.sandbox {
                        message
                            .replace(
                                "`creatify-batch avatars`",
                                "`creatify-batch avatars --sandbox`",
                            )
                            .replace(
                                "`creatify-batch voices`",
                                "`creatify-batch voices --sandbox`",
                            )
                    } else {
                        message
                    };
                    let records = cells.get_or_insert_with(|| v.records.to_vec());
                    let column = columns
                        .for_path(field.path())
                        .filter(|&c| {
                            records.get(i).and_then(|r| r.get(c)).map(|s| s.trim())
                                == Some(value.as_str())
                        })
                        .map(|c| columns.list[c].header.clone());
                    let d = Diagnostic {
                        line: v.lines.get(i).copied().unwrap_or(0),
                        message: match &column {
                            Some(_) => message,
                            None => {
                                format!("{} (from [defaults]): {message}", field.path())
                            }
                        },
                        column,
                        value: Some(value.clone()),
                        warning,
                        at: None,
                    };
                    if warning {
                        v.warnings.push(d);
                    } else {
                        errors.push(d);
                    }
                }
            }
        }
        if !names.is_empty() {
            let more = names.len().saturating_sub(5);
            let mut shown: Vec<String> = names.into_iter().take(5).collect();
            if more > 0 {
                shown.push(format!("and {more} more"));
            }
            notes.push(format!(
                "names resolved to ids from the catalogue: {}",
                shown.join(", ")
            ));
        }
        errors
    }
}

/// An unknown avatar value that could be an id the list does not show: one word, not an
/// accent, not a name.
fn looks_unlisted(value: &str, catalog: &Catalog) -> bool {
    let n = normal(value);
    !value.contains(char::is_whitespace)
        && value.chars().count() <= 100
        && catalog.accent(value).is_none()
        && !catalog.avatars.iter().any(|a| normal(&a.name) == n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::from_items(
            vec![
                json!({"id": "ava-studio", "creator_name": "Ava"}),
                json!({"id": "ava-park", "creator_name": "Ava"}),
                json!({"id": "marco-1", "creator_name": "Marco"}),
                json!({"id": "old-1", "creator_name": "Tom", "is_active": false}),
            ],
            vec![json!({"id": "v-ava", "name": "Ava", "accents": [
                {"id": "ava-us", "accent_name": "American"},
                {"id": "ava-gb", "accent_name": "British"}]})],
            0,
        )
    }

    fn error(v: Verdict) -> String {
        match v {
            Verdict::Error(m) => m,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn every_kind_of_wrong_id_says_what_it_is() {
        let (c, k) = (catalog(), HashSet::new());
        assert_eq!(judge_avatar("ava-studio", &c, &k), Verdict::Fine);
        assert!(error(judge_avatar("AVA-STUDIO", &c, &k)).contains(r#"did you mean "ava-studio"?"#));
        assert!(error(judge_avatar("ava-studoi", &c, &k)).contains(r#"did you mean "ava-studio"?"#));
        assert!(
            error(judge_avatar("ava-gb", &c, &k)).contains("is a voice accent id (Ava (British))")
        );
        assert!(error(judge_voice("marco-1", &c, &k)).contains("is an avatar id (Marco)"));
        assert!(error(judge_voice("v-ava", &c, &k)).contains("ava-us (American), ava-gb (British)"));
        assert!(
            matches!(judge_avatar("old-1", &c, &k), Verdict::Warn(m) if m.contains("inactive"))
        );
        let known: HashSet<String> = ["cloned-voice".to_owned()].into();
        assert_eq!(judge_voice("cloned-voice", &c, &known), Verdict::Fine);
    }

    #[test]
    fn names_resolve_when_one_entry_has_them() {
        let (c, k) = (catalog(), HashSet::new());
        assert_eq!(
            judge_avatar("marco", &c, &k),
            Verdict::Resolved("marco-1".into(), None)
        );
        assert!(
            matches!(judge_avatar("tom", &c, &k), Verdict::Resolved(id, Some(w)) if id == "old-1" && w.contains("inactive"))
        );
        assert!(error(judge_avatar("Ava", &c, &k)).contains("ambiguous: 2 avatars"));
        assert_eq!(
            judge_voice("Ava (British)", &c, &k),
            Verdict::Resolved("ava-gb".into(), None)
        );
        assert_eq!(
            judge_voice("ava - american", &c, &k),
            Verdict::Resolved("ava-us".into(), None)
        );
        assert!(error(judge_voice("Ava", &c, &k)).contains("ambiguous: it has 2 accents"));
    }
    #[test]
    fn judging_changes_no_video_and_foretells_the_checks_errors() {
        use crate::plan::{read_sheet, Draft};
        let csv = b"key,script,avatar,voice\na,Hi,marco,ava-gb\nb,Hi,nobody-1,ava-us\n";
        let source = std::path::Path::new("s.csv");
        let settings = crate::config::Settings::default();
        let (sheet, tab) = read_sheet(source, csv, Some("csv"), None).unwrap();
        let mut draft = Draft::new(source, sheet, tab, &settings).unwrap();
        assert!(!draft.failed());
        let before = draft.videos().to_vec();
        let c = catalog();
        let mut ids = IdCheck::new(&c, &[]);
        assert!(ids.judge(draft.videos()));
        assert_eq!(draft.videos(), &before[..], "judging resolved a name");
        assert_eq!(ids.unlisted, ["nobody-1"]);
        // The row whose job exists only gets a warning: the check would not fail.
        let mut spared = IdCheck::new(&c, &[]);
        spared.spared = ["b".to_owned()].into();
        assert!(!spared.judge(draft.videos()));
        // The check made after judging finds what judging foretold, once.
        draft.check(&mut ids);
        assert_eq!(ids.unlisted, ["nobody-1"]);
        assert!(draft.failed());
        let e = draft.finish().unwrap_err().to_string();
        assert!(e.contains(r#"unknown avatar "nobody-1""#), "{e}");
        assert!(!e.contains("marco"), "{e}");
    }
}
