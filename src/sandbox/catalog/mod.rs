//! The sandbox's avatars (personas) and voices, answered as creatify-api.md documents them:
//! `GET /api/personas/` (filters `gender`, `age_range`, `location`, `style`, each taking
//! comma-separated choices), `GET /api/personas/paginated/`, `GET /api/personas/{id}/` (also
//! the account's custom avatars, which the list does not show), `GET /api/voices/` and
//! `GET /api/voices/paginated/` (`{count,next,previous,results}` by `page`/`page_size`).
//! The `[api] catalog` dialect makes the plain lists answer in pages too. The data is in
//! [`data`].

mod data;

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::dialect::ListStyle;
use super::errors::{ApiError, FieldErrors};
use crate::api::validate::FieldPath;

pub use data::{CUSTOM, PERSONAS, VOICES};

/// One avatar: the persona id is `character.avatar_id`.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// The persona id (a UUID), used as `character.avatar_id`.
    pub id: &'static str,
    /// The person's name (not unique: one person may have several looks).
    pub creator_name: &'static str,
    /// `m`, `f` or `nb`.
    pub gender: &'static str,
    /// `child`, `teen`, `adult` or `senior`.
    pub age_range: &'static str,
    /// `outdoor`, `fantasy`, `indoor` or `other`.
    pub location: &'static str,
    /// `selfie`, `presenter` or `other`.
    pub style: &'static str,
    /// `is_active`.
    pub active: bool,
}

/// One of the account's own avatars, with its training status (`done`, `processing`).
#[derive(Debug, Clone, Copy)]
pub struct Custom {
    /// The avatar.
    pub persona: Persona,
    /// Its status; only `done` can speak.
    pub status: &'static str,
}

/// One voice of `GET /api/voices/`; requests name one of its accents (the schema gives the
/// voice no id of its own).
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// Display name.
    pub name: &'static str,
    /// `male`, `female` or `non_binary`.
    pub gender: &'static str,
    /// `(accent id, accent name)`; the accent id is what `voice.voice_id` takes.
    pub accents: &'static [(&'static str, &'static str)],
}

pub(crate) const fn persona(
    id: &'static str,
    creator_name: &'static str,
    gender: &'static str,
    age_range: &'static str,
    location: &'static str,
    style: &'static str,
    active: bool,
) -> Persona {
    Persona {
        id,
        creator_name,
        gender,
        age_range,
        location,
        style,
        active,
    }
}

/// Whether `id` names an avatar a request may use (listed, or one of the account's own).
pub fn is_avatar(id: &str) -> bool {
    PERSONAS.iter().any(|p| p.id == id) || CUSTOM.iter().any(|c| c.persona.id == id)
}

/// Whether `id` is one of the account's avatars still being made.
pub fn is_unready_avatar(id: &str) -> bool {
    CUSTOM
        .iter()
        .any(|c| c.persona.id == id && c.status != "done")
}

/// Whether `id` names an accent (what `voice.voice_id` must be).
pub fn is_accent(id: &str) -> bool {
    VOICES
        .iter()
        .any(|v| v.accents.iter().any(|(accent, _)| *accent == id))
}

/// The filters `GET /api/personas/` accepts, with their choices.
const FILTERS: &[(&str, &[&str])] = &[
    ("gender", &["m", "f", "nb"]),
    ("age_range", &["child", "teen", "adult", "senior"]),
    ("location", &["outdoor", "fantasy", "indoor", "other"]),
    ("style", &["selfie", "presenter", "other"]),
];

fn persona_json(base: &str, p: &Persona, paginated: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "creator_name": p.creator_name,
        "gender": p.gender,
        "age_range": p.age_range,
        "location": p.location,
        "style": p.style,
        "preview_image_9_16": format!("{base}/media/catalog/{}.jpg", p.id),
        "preview_video_9_16": format!("{base}/media/catalog/{}.mp4", p.id),
        "is_active": p.active,
    });
    if paginated {
        v["suitable_industries"] = json!(["ecommerce", "saas"]);
        v["portrait_preview_video"] = json!(format!("{base}/media/catalog/{}.mp4", p.id));
    }
    v
}

/// The personas `query`'s filters keep (each filter takes comma-separated choices); an
/// unknown choice is a 400 in django-filter's words. Other parameters are ignored.
fn filtered(query: &HashMap<String, String>) -> Result<Vec<&'static Persona>, ApiError> {
    let mut errors = FieldErrors::default();
    let mut wanted: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, choices) in FILTERS {
        let Some(value) = query.get(*name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let picked: Vec<&str> = value.split(',').map(str::trim).collect();
        for one in &picked {
            if !choices.contains(one) {
                errors.add(
                    &FieldPath::dotted(name),
                    format!("Select a valid choice. {one} is not one of the available choices."),
                );
            }
        }
        wanted.push((name, picked));
    }
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let field = |p: &Persona, name: &str| match name {
        "gender" => p.gender,
        "age_range" => p.age_range,
        "location" => p.location,
        _ => p.style,
    };
    Ok(PERSONAS
        .iter()
        .filter(|p| wanted.iter().all(|(n, vs)| vs.contains(&field(p, n))))
        .collect())
}

/// The answer to `GET /api/personas/`: an array, or pages when the dialect says so.
pub fn personas(
    base: &str,
    query: &HashMap<String, String>,
    style: ListStyle,
    page_size: usize,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = filtered(query)?
        .into_iter()
        .map(|p| persona_json(base, p, false))
        .collect();
    shaped(items, base, "/api/personas/", query, style, page_size)
}

/// The answer to `GET /api/personas/paginated/`.
pub fn personas_paginated(base: &str, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let items = PERSONAS
        .iter()
        .map(|p| persona_json(base, p, true))
        .collect();
    page(items, base, "/api/personas/paginated/", query, 10)
}

/// The answer to `GET /api/personas/{id}/`: a listed persona, or one of the account's own
/// avatars with its `status`.
pub fn persona_by_id(base: &str, id: &str) -> Option<Value> {
    if let Some(p) = PERSONAS.iter().find(|p| p.id == id) {
        return Some(persona_json(base, p, false));
    }
    CUSTOM.iter().find(|c| c.persona.id == id).map(|c| {
        let mut v = persona_json(base, &c.persona, false);
        v["status"] = json!(c.status);
        v
    })
}

fn voice_json(base: &str, v: &Voice) -> Value {
    let accents: Vec<Value> = v
        .accents
        .iter()
        .map(|(id, accent_name)| {
            json!({
                "id": id,
                "accent_name": accent_name,
                "preview_url": format!("{base}/media/catalog/{id}.mp4"),
            })
        })
        .collect();
    json!({"name": v.name, "gender": v.gender, "accents": accents})
}

/// The answer to `GET /api/voices/`: an array, or pages when the dialect says so.
pub fn voices(
    base: &str,
    query: &HashMap<String, String>,
    style: ListStyle,
    page_size: usize,
) -> Result<Value, ApiError> {
    let items = VOICES.iter().map(|v| voice_json(base, v)).collect();
    shaped(items, base, "/api/voices/", query, style, page_size)
}

/// The answer to `GET /api/voices/paginated/`.
pub fn voices_paginated(base: &str, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let items = VOICES.iter().map(|v| voice_json(base, v)).collect();
    page(items, base, "/api/voices/paginated/", query, 10)
}

fn shaped(
    items: Vec<Value>,
    base: &str,
    path: &str,
    query: &HashMap<String, String>,
    style: ListStyle,
    page_size: usize,
) -> Result<Value, ApiError> {
    match style {
        ListStyle::Array => Ok(Value::Array(items)),
        ListStyle::DrfPage | ListStyle::LimitOffset => page(items, base, path, query, page_size),
    }
}

/// DRF's PageNumberPagination of `items`: `page` (from 1), `page_size` (capped at 100); a
/// page past the end is DRF's 404 "Invalid page.".
fn page(
    items: Vec<Value>,
    base: &str,
    path: &str,
    query: &HashMap<String, String>,
    default_size: usize,
) -> Result<Value, ApiError> {
    let number = |k: &str| query.get(k).and_then(|v| v.trim().parse::<usize>().ok());
    let size = number("page_size")
        .filter(|n| *n > 0)
        .unwrap_or(default_size.max(1))
        .min(100);
    let page = number("page").unwrap_or(1);
    let count = items.len();
    let pages = count.div_ceil(size).max(1);
    if page == 0 || page > pages {
        return Err(ApiError::detail(StatusCode::NOT_FOUND, "Invalid page."));
    }
    let link = |n: usize| json!(format!("{base}{path}?page={n}&page_size={size}"));
    let results: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Ok(json!({
        "count": count,
        "next": if page < pages { link(page + 1) } else { Value::Null },
        "previous": if page > 1 { link(page - 1) } else { Value::Null },
        "results": results,
    }))
}

/// DRF's message for a related id that does not exist.
pub fn unknown_id(id: &str) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ids_are_unique_uuids_and_accents_are_not_avatars() {
        let mut ids: Vec<&str> = PERSONAS.iter().map(|p| p.id).collect();
        ids.extend(CUSTOM.iter().map(|c| c.persona.id));
        ids.extend(VOICES.iter().flat_map(|v| v.accents.iter().map(|a| a.0)));
        let n = ids.len();
        assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(PERSONAS.len() >= 30 && VOICES.len() >= 20);
        assert!(is_accent(VOICES[0].accents[0].0) && !is_avatar(VOICES[0].accents[0].0));
        assert!(is_avatar(CUSTOM[0].persona.id) && is_unready_avatar(CUSTOM[1].persona.id));
    }

    #[test]
    fn filters_take_several_choices_and_bad_choices_are_refused() {
        let ids = |v: Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| p["creator_name"].as_str().unwrap().to_owned())
                .collect()
        };
        let f = q(&[("gender", "f"), ("age_range", "senior")]);
        let found = personas("", &f, ListStyle::Array, 10).unwrap();
        assert_eq!(ids(found), ["June", "Rosa", "Grace"]);
        let both = q(&[("gender", "f,nb"), ("age_range", "senior")]);
        assert_eq!(
            ids(personas("", &both, ListStyle::Array, 10).unwrap()).len(),
            3
        );
        assert!(personas("", &q(&[("gender", "f,x")]), ListStyle::Array, 10).is_err());
    }

    #[test]
    fn pages_link_onwards_and_refuse_past_the_end() {
        let first = voices_paginated("http://h", &q(&[("page_size", "8")])).unwrap();
        assert_eq!(first["count"], VOICES.len());
        assert_eq!(first["results"].as_array().unwrap().len(), 8);
        assert_eq!(
            first["next"],
            "http://h/api/voices/paginated/?page=2&page_size=8"
        );
        assert!(first["previous"].is_null());
        assert!(voices_paginated("", &q(&[("page", "9"), ("page_size", "8")])).is_err());
    }
}
