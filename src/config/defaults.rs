//! `[defaults]` and `[columns]`: checked against the table of request fields, so a typo in a
//! default is caught when the config loads, not when the first row is planned.
//!
//! `[defaults]` is nested like the request body, with one twist: scene fields (`voice`,
//! `character`, `caption_setting`, ...) sit at the top, next to the video fields, because
//! they apply to every scene of every video; `video_inputs` itself is refused.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ConfigProblem;
use crate::plan::columns::{builtin_target, normalize};
use crate::plan::fields::{self, Level};
use crate::plan::values;
use crate::plan::values::suggest;

/// Checks `[defaults]` and returns it as typed JSON in canonical form; problems are added
/// to `problems` and their keys left out.
pub fn check_defaults(
    table: &toml::Table,
    problems: &mut Vec<ConfigProblem>,
) -> Map<String, Value> {
    let mut out = Map::new();
    walk(table, "", &mut out, problems);
    out
}

fn walk(
    table: &toml::Table,
    prefix: &str,
    out: &mut Map<String, Value>,
    problems: &mut Vec<ConfigProblem>,
) {
    let section = if prefix.is_empty() {
        "defaults".to_owned()
    } else {
        format!("defaults.{prefix}")
    };
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let mut problem = |msg: String| problems.push(ConfigProblem::new(&section, key, msg));
        if path == "video_inputs" {
            problem(
                "scene fields go at the top of [defaults] ([defaults.voice], \
                 [defaults.caption_setting], ...) and apply to every scene"
                    .to_owned(),
            );
            continue;
        }
        match (value, fields::get(&path)) {
            (toml::Value::Table(t), None) if fields::is_group(&path) => {
                let mut inner = Map::new();
                walk(t, &path, &mut inner, problems);
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (toml::Value::Table(_), Some(f)) => problem(format!(
                "is a single value ({}), not a table",
                f.kind.describe()
            )),
            (v, Some(f)) => match values::from_toml(f.kind, v) {
                Ok(v) => {
                    out.insert(key.clone(), v);
                }
                Err(msg) => problem(msg),
            },
            (_, None) if fields::is_group(&path) => problem(format!(
                "is a group of fields: write it as a table [defaults.{path}]"
            )),
            (_, None) => {
                let candidates: Vec<&str> = fields::all().iter().map(|f| f.path.as_str()).collect();
                let hint = suggest(&path, &candidates)
                    .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
                problem(format!(
                    "unknown request field `{}`{hint}",
                    crate::sheet::shorten(&path, 80)
                ));
            }
        }
    }
}

/// Checks `[columns]`: every header names something a column can set.
pub fn check_columns(columns: &BTreeMap<String, String>) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (header, target) in columns {
        let name = normalize(header);
        if name.is_empty() {
            problems.push(ConfigProblem::new(
                "columns",
                header,
                "a header may not be blank",
            ));
            continue;
        }
        if let Some(other) = seen.insert(name, header) {
            problems.push(ConfigProblem::new(
                "columns",
                header,
                format!(
                    "is the same header as {other:?} (headers match ignoring case and spacing)"
                ),
            ));
        }
        if let Err(e) = builtin_target(&normalize(target)) {
            problems.push(ConfigProblem::new("columns", header, e));
        }
    }
    problems
}

/// Checks `[columns] ignore` (`value`): a list of header names, none blank, none also
/// mapped in `columns` (the rest of `[columns]`). The key `ignore` itself is never a
/// header mapping; a header named "Ignore" is mapped as `"Ignore" = ...`.
pub fn check_ignore(
    value: &toml::Value,
    columns: &toml::Table,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<String> {
    let bad = |got: &str| {
        ConfigProblem::new(
            "columns",
            "ignore",
            format!(
                "must be a list of header names, like ignore = [\"Status\", \"Approved by\"], \
                 got {got} (to map a header named \"Ignore\", write \"Ignore\" = \"...\")"
            ),
        )
    };
    let Some(list) = value.as_array() else {
        problems.push(bad(value.type_str()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in list {
        let Some(h) = item.as_str() else {
            problems.push(bad(&format!("a list holding {}", item.type_str())));
            continue;
        };
        let name = normalize(h);
        if name.is_empty() {
            problems.push(ConfigProblem::new(
                "columns",
                "ignore",
                "a header to ignore may not be blank",
            ));
            continue;
        }
        if let Some(mapped) = columns
            .keys()
            .find(|k| *k != "ignore" && normalize(k) == name)
        {
            problems.push(ConfigProblem::new(
                "columns",
                "ignore",
                format!("{h:?} is both ignored and mapped by {mapped:?} in [columns]; keep one"),
            ));
            continue;
        }
        out.push(h.to_owned());
    }
    out
}

/// `[defaults]` split into (video-level, scene-level) objects.
pub fn split_defaults(defaults: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut video = Map::new();
    let mut scene = Map::new();
    for (k, v) in defaults {
        match fields::root_level(k) {
            Some(Level::Scene) => scene.insert(k.clone(), v.clone()),
            _ => video.insert(k.clone(), v.clone()),
        };
    }
    (video, scene)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(text: &str) -> (Value, Vec<String>) {
        let t: toml::Table = text.parse().unwrap();
        let mut p = Vec::new();
        let out = check_defaults(&t, &mut p);
        (
            Value::Object(out),
            p.iter().map(|p| p.to_string()).collect(),
        )
    }

    #[test]
    fn defaults_are_typed_and_canonical() {
        let (v, p) = check(
            "aspect_ratio = \"16X9\"\n[voice]\nvolume = 0.5\n[caption_setting]\nstyle = \"Normal-Black\"\n[character.offset]\nx = 0.1\n",
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            v,
            json!({"aspect_ratio":"16x9","voice":{"volume":0.5},
                   "caption_setting":{"style":"normal-black"},"character":{"offset":{"x":0.1}}})
        );
    }

    #[test]
    fn defaults_problems_name_the_key() {
        let (_, p) = check(
            "model_version = \"turbo\"\n[voice]\nvolum = 0.5\n[video_inputs]\nx = 1\n[background_music]\nvolume = \"loud\"\n",
        );
        assert_eq!(p.len(), 4, "{p:#?}");
        // Keys come in alphabetical order (toml tables are sorted).
        assert_eq!(
            p[0],
            "[defaults.background_music] volume: expected a number, got string \"loud\""
        );
        assert!(
            p[1].starts_with("[defaults] model_version: unknown value \"turbo\""),
            "{p:?}"
        );
        assert!(
            p[2].starts_with("[defaults] video_inputs: scene fields go at the top"),
            "{p:?}"
        );
        assert_eq!(p[3], "[defaults.voice] volum: unknown request field `voice.volum` (did you mean `voice.volume`?)");
    }

    #[test]
    fn columns_must_resolve() {
        let mut c = BTreeMap::new();
        c.insert("Skript".into(), "script".into());
        c.insert("Ad ID".into(), "key".into());
        c.insert("Look".into(), "caption_setting.stlye".into());
        let p: Vec<String> = check_columns(&c).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            p,
            [
                r#"[columns] Look: unknown column "caption_setting.stlye" (did you mean "caption_setting.style"?)"#
            ]
        );
    }
}
