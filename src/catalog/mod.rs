//! The account's avatars and voices, known before a credit is spent.
//!
//! A [`Catalog`] is what `GET /api/personas/` and `GET /api/voices/` said, read tolerantly
//! (plain arrays or DRF pages, ids as strings or numbers, genders as `m`/`male`, unknown
//! fields ignored, an item that cannot be read left out and counted). Voices become one
//! [`Accent`] per accent, since the accent id is what `voice.voice_id` takes.
//!
//! The rooms: [`cache`] keeps a catalogue per API target with its fetch time; [`obtain`]
//! decides between the cache and a fetch; [`check`] holds a plan's avatar and voice ids
//! against the catalogue (unknown ids are plan errors with a did-you-mean, names resolve to
//! ids, inactive avatars are warnings); [`table`] prints it for the `avatars` and `voices`
//! commands.

pub mod cache;
pub mod check;
pub mod obtain;
pub mod table;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The journal's meta key of the names of a batch's avatar and accent ids (id → name), kept
/// by `run` after the id check for the report.
pub const NAMES_META: &str = "catalog_names";

/// The catalogue's names of every avatar and accent id `videos` use.
pub fn names_of(
    videos: &[crate::plan::PlannedVideo],
    catalog: &Catalog,
) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    for scene in videos.iter().flat_map(|v| &v.body.video_inputs) {
        if let Some(a) = scene
            .character
            .as_ref()
            .and_then(|c| catalog.avatar(&c.avatar_id))
        {
            names.insert(a.id.clone(), a.name.clone());
        }
        let voice = scene.voice.as_ref().and_then(|v| v.voice_id.as_deref());
        if let Some(a) = voice.and_then(|id| catalog.accent(id)) {
            names.insert(a.id.clone(), a.label());
        }
    }
    names
}

/// One avatar (persona); its `id` is `character.avatar_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Avatar {
    /// The persona id.
    pub id: String,
    /// The person's name (`creator_name`); several looks may share it.
    pub name: String,
    /// `male`, `female`, `non-binary`, or what the API said.
    pub gender: String,
    /// `age_range`.
    pub age: String,
    /// `style`.
    pub style: String,
    /// `location`.
    pub location: String,
    /// `is_active` (`None`: not said).
    pub active: Option<bool>,
    /// A status, when the API gives one (the account's own avatars: `processing`, `done`).
    pub status: Option<String>,
    /// A preview video or image.
    pub preview: Option<String>,
    /// Found by id (the account's own avatar), not in the list.
    #[serde(default)]
    pub own: bool,
}

impl Avatar {
    /// Why this avatar may not speak yet, when it may not.
    pub fn not_ready(&self) -> Option<String> {
        if let Some(s) = &self.status {
            let s = s.trim().to_ascii_lowercase();
            if !matches!(s.as_str(), "" | "done" | "ready" | "active" | "completed") {
                return Some(format!("its status is {s:?} (not ready yet)"));
            }
        }
        (self.active == Some(false)).then(|| "it is marked inactive".to_owned())
    }
}

/// One accent of a voice; its `id` is `voice.voice_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accent {
    /// The accent id.
    pub id: String,
    /// The voice's name.
    pub voice: String,
    /// The voice's gender, as for avatars.
    pub gender: String,
    /// The accent's name (`accent_name`).
    pub accent: String,
    /// `preview_url`.
    pub preview: Option<String>,
    /// The voice's own id, when the API gives one (it is not a valid `voice_id`).
    pub voice_id: Option<String>,
}

impl Accent {
    /// "Ava (British)".
    pub fn label(&self) -> String {
        if self.accent.is_empty() {
            self.voice.clone()
        } else {
            format!("{} ({})", self.voice, self.accent)
        }
    }
}

/// The avatars and accents of one API target, as fetched at one time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// When it was fetched (seconds since the Unix epoch).
    pub fetched_at: u64,
    /// The avatars, in the API's order; own avatars found by id at the end.
    pub avatars: Vec<Avatar>,
    /// The accents, voice by voice.
    pub accents: Vec<Accent>,
    /// Items the API sent that could not be read (no id).
    #[serde(default)]
    pub unreadable: usize,
}

impl Catalog {
    /// A catalogue from the two lists' items.
    pub fn from_items(personas: Vec<Value>, voices: Vec<Value>, fetched_at: u64) -> Self {
        let mut c = Catalog {
            fetched_at,
            ..Default::default()
        };
        for p in personas {
            match avatar_of(&p, false) {
                Some(a) => c.avatars.push(a),
                None => c.unreadable += 1,
            }
        }
        for v in voices {
            let before = c.accents.len();
            accents_of(&v, &mut c.accents);
            if c.accents.len() == before {
                c.unreadable += 1;
            }
        }
        c
    }

    /// The avatar with this id.
    pub fn avatar(&self, id: &str) -> Option<&Avatar> {
        self.avatars.iter().find(|a| a.id == id)
    }

    /// The accent with this id.
    pub fn accent(&self, id: &str) -> Option<&Accent> {
        self.accents.iter().find(|a| a.id == id)
    }
}

/// A string field, or a number written as one.
fn text(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `m`/`male`/`M` → `male`; other words kept as written.
fn gender(v: &Value) -> String {
    let g = text(v, &["gender"]).unwrap_or_default();
    match g.to_ascii_lowercase().as_str() {
        "m" | "male" | "man" => "male".into(),
        "f" | "female" | "woman" => "female".into(),
        "nb" | "non_binary" | "non-binary" | "nonbinary" => "non-binary".into(),
        _ => g,
    }
}

/// One persona item; `None` without an id.
pub fn avatar_of(p: &Value, own: bool) -> Option<Avatar> {
    Some(Avatar {
        id: text(p, &["id", "persona_id", "avatar_id"])?,
        name: text(p, &["creator_name", "name"]).unwrap_or_default(),
        gender: gender(p),
        age: text(p, &["age_range", "age"]).unwrap_or_default(),
        style: text(p, &["style"]).unwrap_or_default(),
        location: text(p, &["location", "video_scene"]).unwrap_or_default(),
        active: p.get("is_active").and_then(Value::as_bool),
        status: text(p, &["status"]),
        preview: text(
            p,
            &[
                "preview_video_9_16",
                "preview_video_16_9",
                "portrait_preview_video",
                "preview_image_9_16",
            ],
        ),
        own,
    })
}

/// The accents of one voice item (none when it has none that can be read).
fn accents_of(v: &Value, out: &mut Vec<Accent>) {
    let voice = text(v, &["name", "voice_name"]).unwrap_or_default();
    let g = gender(v);
    let voice_id = text(v, &["id", "voice_id"]);
    let Some(list) = v.get("accents").and_then(Value::as_array) else {
        return;
    };
    for a in list {
        let Some(id) = text(a, &["id", "accent_id", "voice_id"]) else {
            continue;
        };
        out.push(Accent {
            id,
            voice: voice.clone(),
            gender: g.clone(),
            accent: text(a, &["accent_name", "name"]).unwrap_or_default(),
            preview: text(a, &["preview_url"]),
            voice_id: voice_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_read_tolerantly() {
        let c = Catalog::from_items(
            vec![
                json!({"id": 7, "creator_name": "Ava", "gender": "F", "is_active": false}),
                json!({"creator_name": "no id"}),
                json!({"id": "p2", "name": "Bo", "gender": "nb", "status": "processing", "extra": [1]}),
            ],
            vec![
                json!({"name": "Ava", "gender": "female", "accents": [
                    {"id": "a1", "accent_name": "British", "preview_url": "u"},
                    {"accent_name": "no id"}]}),
                json!({"name": "Empty", "accents": []}),
            ],
            5,
        );
        assert_eq!(c.avatars.len(), 2);
        assert_eq!(c.avatars[0].id, "7");
        assert_eq!(c.avatars[0].gender, "female");
        assert!(c.avatars[0].not_ready().unwrap().contains("inactive"));
        assert!(c.avatars[1].not_ready().unwrap().contains("processing"));
        assert_eq!(c.accents.len(), 1);
        assert_eq!(c.accents[0].label(), "Ava (British)");
        assert_eq!(c.unreadable, 2);
    }
}
