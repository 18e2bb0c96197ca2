//! One group of rows → one request body, checked by the API's rules, with its estimate.
//!
//! The body is built as JSON: `[defaults]` first, then the rows' values on top (a cell
//! overrides a default, an empty cell keeps it). A background's `type` comes from its URL's
//! extension when the row gives a URL without a type. The JSON is then deserialized into
//! [`CreateLipsync`] (serde_path_to_error names the path of anything the field table let
//! through) and checked with [`validate`]; each violation is mapped back to the line and
//! column it came from.

use serde_json::{Map, Value};

use super::columns::Columns;
use super::fields::{self, Level, BACKGROUND_OBJECTS};
use super::rows::{Group, TypedRow};
use super::values::quoted;
use super::PlannedVideo;
use crate::api::credits::{credits, SpeakingRate};
use crate::api::validate::{is_http_url, validate, Severity};
use crate::api::CreateLipsync;
use crate::sheet::{Diagnostic, Records};

/// What a video is built from besides its rows.
pub struct Context<'a> {
    /// The sheet's columns.
    pub columns: &'a Columns,
    /// `[defaults]` for the video.
    pub video_defaults: &'a Map<String, Value>,
    /// `[defaults]` for every scene.
    pub scene_defaults: &'a Map<String, Value>,
    /// For the estimate.
    pub rate: SpeakingRate,
}

/// Builds and checks the video of `group`; on failure, every problem found.
pub fn video(
    cx: &Context<'_>,
    group: Group,
    rows: &mut [TypedRow],
) -> Result<PlannedVideo, Vec<Diagnostic>> {
    let members: Vec<&TypedRow> = group.rows.iter().map(|&i| &rows[i]).collect();
    let mut errors = Vec::new();
    let mut body = cx.video_defaults.clone();
    // Video-level values: the first row that gives one sets it; the others must agree.
    let mut first: Vec<(&str, &Value, u64)> = Vec::new();
    for row in &members {
        for (col, f, v) in row
            .values
            .iter()
            .filter(|(_, f, _)| f.level == Level::Video)
        {
            match first.iter().find(|(p, _, _)| *p == f.path) {
                Some((_, v0, line)) if *v0 != v => errors.push(Diagnostic::cell(
                    row.line,
                    &cx.columns.list[*col].header,
                    Some(&row.cells[*col]),
                    format!(
                        "{v} differs from {v0} on line {line}; the rows of video {} must agree \
                         on video-level fields (or leave them empty after the first)",
                        quoted(&group.key)
                    ),
                )),
                Some(_) => {}
                None => {
                    first.push((f.path.as_str(), v, row.line));
                    set(&mut body, &f.path, v.clone());
                }
            }
        }
    }
    let video_given: Vec<(&str, usize)> = members
        .iter()
        .flat_map(|r| r.values.iter())
        .filter(|(_, f, _)| f.level == Level::Video)
        .map(|(c, f, _)| (f.path.as_str(), *c))
        .collect();
    let line0 = members.first().map_or(0, |r| r.line);
    infer_backgrounds(
        cx,
        &mut body,
        Level::Video,
        &video_given,
        line0,
        &mut errors,
    );
    let meant_by_any = |p: &str| members.iter().any(|r| meant(cx, r, p));
    check_required(cx, &body, Level::Video, line0, &meant_by_any, &mut errors);

    let mut scenes = Vec::with_capacity(members.len());
    for row in &members {
        let mut scene = cx.scene_defaults.clone();
        let given: Vec<(&str, usize)> = row
            .values
            .iter()
            .filter(|(_, f, _)| f.level == Level::Scene)
            .map(|(c, f, v)| {
                set(&mut scene, &f.path, v.clone());
                (f.path.as_str(), *c)
            })
            .collect();
        infer_backgrounds(cx, &mut scene, Level::Scene, &given, row.line, &mut errors);
        let meant_here = |p: &str| meant(cx, row, p);
        check_required(cx, &scene, Level::Scene, row.line, &meant_here, &mut errors);
        scenes.push(Value::Object(scene));
    }
    body.insert("video_inputs".into(), Value::Array(scenes));
    let mut warnings: Vec<Diagnostic> = members.iter().flat_map(|r| r.warnings.clone()).collect();
    // A cell that could not be read is reported where it was read; that its value is then
    // missing is the same problem, not another one.
    let refused: Vec<(u64, &str)> = members
        .iter()
        .flat_map(|r| {
            r.refused
                .iter()
                .map(|&c| (r.line, cx.columns.list[c].header.as_str()))
        })
        .collect();
    let follows_refusal = |d: &Diagnostic| {
        d.column
            .as_deref()
            .is_some_and(|c| refused.contains(&(d.line, c)))
    };
    errors.retain(|d| !follows_refusal(d));

    // Problems found so far do not hide the API's rules: a body that still deserializes is
    // checked too, so that a sheet is fixed in one pass.
    let body: CreateLipsync = match serde_path_to_error::deserialize(Value::Object(body)) {
        Ok(b) => b,
        // What was reported (or the refused cell) is why the body is incomplete.
        Err(_) if !errors.is_empty() || !refused.is_empty() => {
            errors.append(&mut warnings);
            return Err(errors);
        }
        Err(e) => {
            return Err(vec![Diagnostic::line(
                line0,
                format!("cannot build the request: {}: {}", e.path(), e.inner()),
            )])
        }
    };
    for v in validate(&body) {
        let field = v.path.field();
        let is_meant = match v.path.scene().and_then(|i| members.get(i)) {
            Some(row) => meant(cx, row, &field),
            None => meant_by_any(&field),
        };
        if is_meant && matches!(v.severity, Severity::Error) {
            continue;
        }
        let d = locate(cx, &members, &v.path, v.message);
        match v.severity {
            Severity::Error if follows_refusal(&d) => {}
            Severity::Error => errors.push(d),
            Severity::Warning => warnings.push(d.warn()),
        }
    }
    if !refused.is_empty() && errors.is_empty() {
        // The plan fails on the refused cells; keep this video's warnings with them.
        return Err(warnings);
    }
    if !errors.is_empty() {
        // Warnings too: a sheet is fixed in one go.
        errors.extend(warnings);
        return Err(errors);
    }
    let seconds = cx.rate.video_seconds(&body);
    let lines = members.iter().map(|r| r.line).collect();
    // The rows are done with: move their cells out and free their values, so that a
    // 100k-row plan does not hold every cell twice.
    let records: Vec<Vec<String>> = group
        .rows
        .iter()
        .map(|&i| {
            rows[i].values = Vec::new();
            std::mem::take(&mut rows[i].cells)
        })
        .collect();
    let records = Records::new(&records);
    Ok(PlannedVideo {
        key: group.key,
        key_derived: group.derived,
        lines,
        records,
        credits: credits(body.model(), seconds),
        seconds,
        body,
        warnings,
        // Most videos have no labels: no allocation for them (100k empty lists of one).
        scene_labels: if group.labels.iter().all(String::is_empty) {
            Vec::new()
        } else {
            group.labels
        },
        variant_of: None,
    })
}

/// Sets a dotted path in a JSON object, creating the objects on the way.
fn set(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                set(m, rest, value);
            }
        }
    }
}

/// The value at a dotted path.
fn get<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => obj.get(path),
        Some((head, rest)) => get(obj.get(head)?.as_object()?, rest),
    }
}

/// `image` or `video` from a URL's extension.
pub fn media_type(url: &str) -> Option<&'static str> {
    let path = url::Url::parse(url).ok()?.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.')?.1;
    match ext {
        "jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp" | "avif" | "heic" | "tif" | "tiff" => {
            Some("image")
        }
        "mp4" | "mov" | "webm" | "m4v" | "mkv" | "avi" => Some("video"),
        _ => None,
    }
}

/// Fills in `type` of background objects that have a `url` but no `type`, and replaces a
/// default `type` when the row gives its own URL (the default type was for the default URL).
fn infer_backgrounds(
    cx: &Context<'_>,
    obj: &mut Map<String, Value>,
    level: Level,
    given: &[(&str, usize)],
    line: u64,
    errors: &mut Vec<Diagnostic>,
) {
    for (_, prefix) in BACKGROUND_OBJECTS.iter().filter(|(l, _)| *l == level) {
        let url_path = format!("{prefix}.url");
        let type_path = format!("{prefix}.type");
        let Some(url) = get(obj, &url_path)
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        let url_col = given.iter().find(|(p, _)| *p == url_path).map(|(_, c)| *c);
        let type_given = given.iter().any(|(p, _)| *p == type_path);
        let has_type = get(obj, &type_path).is_some();
        if type_given || (has_type && url_col.is_none()) {
            continue;
        }
        match media_type(&url) {
            Some(t) => set(obj, &type_path, Value::String(t.to_owned())),
            None if has_type => {}
            // Not a URL at all: the API's rules report that better than a type question,
            // and they need a complete object to run. The placeholder is never sent: the
            // URL error makes the plan invalid.
            None if !is_http_url(&url) => set(obj, &type_path, Value::String("image".into())),
            None => {
                let column = url_col.map(|c| cx.columns.list[c].header.clone());
                errors.push(Diagnostic {
                    line,
                    value: Some(url.clone()),
                    message: format!(
                        "cannot tell from {} whether it is an image or a video; add a \
                         {type_path} column (image or video) or set it in [defaults]",
                        quoted(&url)
                    ),
                    column: column.or_else(|| Some(format!("{url_path} (from [defaults])"))),
                    warning: false,
                    at: None,
                });
            }
        }
    }
}

/// What fills an object the API requires: a header meant for one of these fields (see
/// [`meant`]) explains the object's absence.
const FILLS: &[(&str, &str)] = &[
    ("character", "character.avatar_id"),
    ("voice", "voice.input_text"),
    ("voice", "voice.type"),
];

/// Whether `field` is missing on `row` because of an unknown header whose did-you-mean
/// names it, the row having a cell in that column: the header's error is the one to fix,
/// so that a misspelt header is one error, not one per row. A row with nothing in the
/// column still has its own problem, and it is still reported.
fn meant(cx: &Context<'_>, row: &TypedRow, field: &str) -> bool {
    cx.columns.meant.iter().any(|&(c, p)| {
        row.cells.get(c).is_some_and(|s| !s.trim().is_empty())
            && (p == field || FILLS.iter().any(|(g, f)| *g == field && *f == p))
    })
}

/// Objects that exist (some field set) must have their required fields.
fn check_required(
    cx: &Context<'_>,
    obj: &Map<String, Value>,
    level: Level,
    line: u64,
    meant: &dyn Fn(&str) -> bool,
    errors: &mut Vec<Diagnostic>,
) {
    for f in fields::all()
        .iter()
        .filter(|f| f.required && f.level == level)
    {
        let Some((parent, _)) = f.path.rsplit_once('.') else {
            continue;
        };
        // A background's type is inferred or reported by `infer_backgrounds`.
        if f.path.ends_with(".type") && BACKGROUND_OBJECTS.iter().any(|(_, p)| *p == parent) {
            continue;
        }
        if get(obj, parent).is_none() || get(obj, &f.path).is_some() || meant(&f.path) {
            continue;
        }
        let set_fields: Vec<String> = match get(obj, parent) {
            Some(Value::Object(m)) => m.keys().map(|k| format!("{parent}.{k}")).collect(),
            _ => Vec::new(),
        };
        let column = cx
            .columns
            .for_path(&f.path)
            .map_or_else(|| f.path.clone(), |c| cx.columns.list[c].header.clone());
        errors.push(Diagnostic {
            line,
            column: Some(column),
            value: None,
            warning: false,
            at: None,
            message: format!(
                "{} is required because {} is set; fill it in (a column or [defaults]) or \
                 clear the others",
                f.path,
                set_fields.join(", ")
            ),
        });
    }
}

/// A violation of the API's rules, placed at the line and column it came from.
fn locate(
    cx: &Context<'_>,
    members: &[&TypedRow],
    path: &crate::api::validate::FieldPath,
    message: String,
) -> Diagnostic {
    let field = path.field();
    let col = cx
        .columns
        .for_path(&field)
        .or_else(|| group_column(cx.columns, &field));
    let row = match (path.scene(), col) {
        (Some(i), _) => members.get(i).copied(),
        // A video-level value comes from the first row that gives it.
        (None, Some(c)) => members
            .iter()
            .find(|r| !r.cells[c].trim().is_empty())
            .copied(),
        (None, None) => None,
    }
    .or_else(|| members.first().copied());
    let line = row.map_or(0, |r| r.line);
    let cell = match (row, col) {
        (Some(r), Some(c)) if !r.cells[c].trim().is_empty() => Some(r.cells[c].as_str()),
        _ => None,
    };
    let defaults = match path.scene() {
        Some(_) => cx.scene_defaults,
        None => cx.video_defaults,
    };
    let from_defaults = get(defaults, &field).is_some();
    match (col, cell) {
        (Some(c), Some(value)) => {
            // The rules quote whole values; keep messages short.
            let long = format!("{:?}", value.trim());
            let message = if value.chars().count() > 60 {
                message.replace(&long, &quoted(value.trim()))
            } else {
                message
            };
            Diagnostic::cell(line, &cx.columns.list[c].header, Some(value), message)
        }
        (Some(c), None) if from_defaults => Diagnostic::cell(
            line,
            &cx.columns.list[c].header,
            None,
            format!("(empty, so [defaults] applies) {message}"),
        ),
        (Some(c), None) => Diagnostic::cell(line, &cx.columns.list[c].header, None, message),
        (None, _) if from_defaults => {
            Diagnostic::line(line, format!("{field} (from [defaults]): {message}"))
        }
        (None, _) => Diagnostic::line(
            line,
            format!("{field}: {message} (no column sets it; add one, or set it in [defaults])"),
        ),
    }
}

/// For a problem with a whole object (`character`: "every scene needs an avatar"), the
/// column of its required field, or else of any of its fields.
fn group_column(columns: &Columns, group: &str) -> Option<usize> {
    let prefix = format!("{group}.");
    let under = || fields::all().iter().filter(|f| f.path.starts_with(&prefix));
    under()
        .filter(|f| f.required)
        .chain(under())
        .find_map(|f| columns.for_path(&f.path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_builds_nested_objects_and_overrides_leaves() {
        let mut m = Map::new();
        set(&mut m, "voice.volume", json!(0.3));
        set(&mut m, "character.offset.x", json!(0.1));
        set(&mut m, "voice.volume", json!(0.9));
        set(&mut m, "aspect_ratio", json!("1x1"));
        assert_eq!(
            Value::Object(m.clone()),
            json!({"voice":{"volume":0.9},"character":{"offset":{"x":0.1}},"aspect_ratio":"1x1"})
        );
        assert_eq!(get(&m, "character.offset.x"), Some(&json!(0.1)));
        assert_eq!(get(&m, "character.offset.y"), None);
        assert_eq!(get(&m, "aspect_ratio.x"), None);
    }

    #[test]
    fn media_type_reads_the_extension_of_the_path_only() {
        assert_eq!(media_type("https://cdn.example.com/a/b.JPG"), Some("image"));
        assert_eq!(
            media_type("https://cdn.example.com/loop.webm?x=1.png"),
            Some("video")
        );
        assert_eq!(media_type("https://cdn.example.com/render"), None);
        assert_eq!(media_type("https://cdn.example.com.mp4/"), None);
        assert_eq!(media_type("not a url.mp4"), None);
    }
}
