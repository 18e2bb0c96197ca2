//! The sandbox's fixed catalogue of avatars (personas) and voices with accents. The ids are
//! short readable slugs, stable forever: the sample sheets use them. The table lives in the
//! module docs of [`crate::sandbox`].

use std::collections::HashMap;

use serde_json::{json, Value};

use super::errors::{ApiError, FieldErrors};
use crate::api::validate::FieldPath;

/// One avatar of `GET /api/personas/`.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// The persona id, used as `character.avatar_id`.
    pub id: &'static str,
    /// The person's name.
    pub creator_name: &'static str,
    /// `m`, `f` or `nb`.
    pub gender: &'static str,
    /// `child`, `teen`, `adult` or `senior`.
    pub age_range: &'static str,
    /// `outdoor`, `fantasy`, `indoor` or `other`.
    pub location: &'static str,
    /// `selfie`, `presenter` or `other`.
    pub style: &'static str,
}

/// One voice of `GET /api/voices/`; requests name one of its accents, not the voice.
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// The voice's own id (not accepted as `voice_id`, as in the real API).
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// `m`, `f` or `nb`.
    pub gender: &'static str,
    /// `(accent id, accent name)`; the accent id is what `voice.voice_id` takes.
    pub accents: &'static [(&'static str, &'static str)],
}

const fn persona(
    id: &'static str,
    creator_name: &'static str,
    gender: &'static str,
    age_range: &'static str,
    location: &'static str,
    style: &'static str,
) -> Persona {
    Persona {
        id,
        creator_name,
        gender,
        age_range,
        location,
        style,
    }
}

/// Every persona the sandbox knows.
pub const PERSONAS: &[Persona] = &[
    persona("ava-studio", "Ava", "f", "adult", "indoor", "presenter"),
    persona("marco-street", "Marco", "m", "adult", "outdoor", "selfie"),
    persona("june-kitchen", "June", "f", "senior", "indoor", "other"),
    persona("sam-office", "Sam", "nb", "adult", "indoor", "presenter"),
    persona("theo-park", "Theo", "m", "teen", "outdoor", "selfie"),
    persona("nova-castle", "Nova", "f", "adult", "fantasy", "other"),
    persona("rosa-market", "Rosa", "f", "senior", "outdoor", "selfie"),
];

/// Every voice the sandbox knows.
pub const VOICES: &[Voice] = &[
    Voice {
        id: "voice-ava",
        name: "Ava",
        gender: "f",
        accents: &[("ava-en-us", "English (US)"), ("ava-en-gb", "English (UK)")],
    },
    Voice {
        id: "voice-marco",
        name: "Marco",
        gender: "m",
        accents: &[
            ("marco-en-us", "English (US)"),
            ("marco-es-es", "Spanish (Spain)"),
        ],
    },
    Voice {
        id: "voice-june",
        name: "June",
        gender: "f",
        accents: &[("june-en-au", "English (Australia)")],
    },
    Voice {
        id: "voice-sam",
        name: "Sam",
        gender: "nb",
        accents: &[("sam-en-us", "English (US)")],
    },
    Voice {
        id: "voice-theo",
        name: "Theo",
        gender: "m",
        accents: &[("theo-en-gb", "English (UK)")],
    },
    Voice {
        id: "voice-lina",
        name: "Lina",
        gender: "f",
        accents: &[("lina-de-de", "German"), ("lina-fr-fr", "French")],
    },
    Voice {
        id: "voice-haru",
        name: "Haru",
        gender: "m",
        accents: &[("haru-ja-jp", "Japanese")],
    },
];

/// Whether `id` names a persona.
pub fn is_avatar(id: &str) -> bool {
    PERSONAS.iter().any(|p| p.id == id)
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

/// The answer to `GET /api/personas/` with `query`'s filters; an unknown choice is a 400 in
/// django-filter's words. Other query parameters are ignored, as django-filter does.
pub fn personas(base: &str, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let mut errors = FieldErrors::default();
    for (name, choices) in FILTERS {
        if let Some(value) = query.get(*name).filter(|v| !v.is_empty()) {
            if !choices.contains(&value.as_str()) {
                errors.add(
                    &FieldPath::dotted(name),
                    format!("Select a valid choice. {value} is not one of the available choices."),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let wanted = |name: &str, actual: &str| {
        query
            .get(name)
            .filter(|v| !v.is_empty())
            .is_none_or(|v| v == actual)
    };
    Ok(PERSONAS
        .iter()
        .filter(|p| {
            wanted("gender", p.gender)
                && wanted("age_range", p.age_range)
                && wanted("location", p.location)
                && wanted("style", p.style)
        })
        .map(|p| {
            json!({
                "id": p.id,
                "creator_name": p.creator_name,
                "gender": p.gender,
                "age_range": p.age_range,
                "location": p.location,
                "style": p.style,
                "preview_image_9_16": format!("{base}/media/catalog/{}.jpg", p.id),
                "preview_video_9_16": format!("{base}/media/catalog/{}.mp4", p.id),
                "is_active": true,
            })
        })
        .collect())
}

/// The answer to `GET /api/voices/`.
pub fn voices(base: &str) -> Value {
    VOICES
        .iter()
        .map(|v| {
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
            json!({"id": v.id, "name": v.name, "gender": v.gender, "accents": accents})
        })
        .collect()
}

/// DRF's message for a related id that does not exist.
pub fn unknown_id(id: &str) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_accents_are_not_voice_ids() {
        let mut ids: Vec<&str> = PERSONAS.iter().map(|p| p.id).collect();
        ids.extend(VOICES.iter().map(|v| v.id));
        ids.extend(VOICES.iter().flat_map(|v| v.accents.iter().map(|a| a.0)));
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(is_accent("ava-en-us") && !is_accent("voice-ava"));
    }

    #[test]
    fn filters_combine_and_bad_choices_are_refused() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let found = personas("", &q(&[("gender", "f"), ("location", "outdoor")])).unwrap();
        let ids: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["rosa-market"]);
        assert!(personas("", &q(&[("gender", "x")])).is_err());
    }
}
