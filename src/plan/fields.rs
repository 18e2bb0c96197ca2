//! The table of request fields a sheet column or a `[defaults]` key can set: every leaf of
//! the `lipsyncs_v2` body by dotted path, with its type and whether it belongs to a scene or
//! to the whole video.
//!
//! Scene fields are named *below* the scene (`voice.input_text`, not
//! `video_inputs[0].voice.input_text`), the way [`FieldPath::field`] prints them, so a
//! violation found by [`validate`] maps straight back to a column. The table is built from
//! the model's own closed and open value lists, and a test checks that it covers every field
//! of [`CreateLipsync`] and nothing else.
//!
//! [`FieldPath::field`]: crate::api::validate::FieldPath::field
//! [`validate`]: crate::api::validate::validate
//! [`CreateLipsync`]: crate::api::CreateLipsync

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::api::model::{
    AspectRatio, AvatarStyle, BackgroundEffect, BackgroundFit, BackgroundType, CharacterType,
    FontStyle, ModelVersion, Transition, VoiceType, CAPTION_STYLES, FONT_FAMILIES, VISUAL_STYLES,
};

/// Whether a field belongs to one scene or to the whole video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Set once per video (`aspect_ratio`, `model_version`, `name`, `background_music.*`, ...).
    Video,
    /// Set per scene (`voice.*`, `character.*`, `caption_setting.*`, ...).
    Scene,
}

/// What values a field takes, and so how a cell is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// An http(s) URL (checked by the API rules, kept as text).
    Url,
    /// A `#RRGGBBAA` color (checked by the API rules, kept as text).
    Color,
    /// A number; `0,5` and `50%` are read as 0.5.
    Number,
    /// A whole number, 0 or more.
    Integer,
    /// `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`, in any case.
    Bool,
    /// A closed set: anything else is an error.
    Enum(&'static [&'static str]),
    /// An open set: an unknown value is a warning.
    OpenSet(&'static [&'static str]),
}

impl Kind {
    /// A few words for messages ("expected a number").
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Url => "an http(s) URL",
            Kind::Color => "a color like #RRGGBBAA",
            Kind::Number => "a number",
            Kind::Integer => "a whole number",
            Kind::Bool => "true or false",
            Kind::Enum(_) => "one of the listed values",
            Kind::OpenSet(_) => "text",
        }
    }
}

/// One settable leaf of the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Dotted path; scene fields are relative to the scene.
    pub path: String,
    /// Its values.
    pub kind: Kind,
    /// Scene or video.
    pub level: Level,
    /// Whether its object cannot exist without it (`character.avatar_id`, `background.url`).
    pub required: bool,
}

/// Where a background object sits; its `type` is inferred from its `url` when not given.
pub const BACKGROUND_OBJECTS: &[(Level, &str)] = &[
    (Level::Scene, "background"),
    (Level::Scene, "cta.cta_background"),
    (Level::Video, "cta_end.cta_background"),
];

struct Table {
    fields: Vec<Field>,
    by_path: HashMap<String, usize>,
    groups: HashSet<String>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let fields = build();
        let by_path = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let mut groups = HashSet::new();
        for f in &fields {
            let mut p = f.path.as_str();
            while let Some((parent, _)) = p.rsplit_once('.') {
                groups.insert(parent.to_owned());
                p = parent;
            }
        }
        Table {
            fields,
            by_path,
            groups,
        }
    })
}

/// Every settable field, video-level first.
pub fn all() -> &'static [Field] {
    &table().fields
}

/// The field at `path` (exact, lower-case dotted path).
pub fn get(path: &str) -> Option<&'static Field> {
    let t = table();
    t.by_path.get(path).map(|&i| &t.fields[i])
}

/// Whether `path` names an object that holds fields (`caption_setting`, `character.offset`).
pub fn is_group(path: &str) -> bool {
    table().groups.contains(path)
}

/// The level of a top-level key of the body (`voice` → scene, `aspect_ratio` → video).
pub fn root_level(root: &str) -> Option<Level> {
    all()
        .iter()
        .find(|f| f.path.split('.').next() == Some(root))
        .map(|f| f.level)
}

fn build() -> Vec<Field> {
    let mut b = Builder {
        fields: Vec::new(),
        level: Level::Video,
    };
    b.leaf("aspect_ratio", Kind::Enum(AspectRatio::ALL));
    b.leaf("model_version", Kind::Enum(ModelVersion::ALL));
    b.leaf("name", Kind::Text);
    b.leaf("webhook_url", Kind::Url);
    b.required("background_music.url", Kind::Url);
    b.leaf("background_music.volume", Kind::Number);
    b.cta("cta_end");

    b.level = Level::Scene;
    b.leaf("character.type", Kind::Enum(CharacterType::ALL));
    b.required("character.avatar_id", Kind::Text);
    b.offset("character.offset");
    b.leaf("character.scale", Kind::Number);
    b.leaf("character.avatar_style", Kind::Enum(AvatarStyle::ALL));
    b.leaf("character.hidden", Kind::Bool);
    b.leaf("voice.type", Kind::Enum(VoiceType::ALL));
    b.leaf("voice.input_text", Kind::Text);
    b.leaf("voice.voice_id", Kind::Text);
    b.leaf("voice.duration", Kind::Number);
    b.leaf("voice.volume", Kind::Number);
    b.background("background");
    b.caption_setting("caption_setting");
    b.transition("transition_effect");
    b.leaf("visual_style", Kind::OpenSet(VISUAL_STYLES));
    b.cta("cta");
    b.fields
}

struct Builder {
    fields: Vec<Field>,
    level: Level,
}

impl Builder {
    fn push(&mut self, path: &str, kind: Kind, required: bool) {
        self.fields.push(Field {
            path: path.to_owned(),
            kind,
            level: self.level,
            required,
        });
    }

    fn leaf(&mut self, path: &str, kind: Kind) {
        self.push(path, kind, false);
    }

    fn required(&mut self, path: &str, kind: Kind) {
        self.push(path, kind, true);
    }

    fn offset(&mut self, p: &str) {
        self.leaf(&format!("{p}.x"), Kind::Number);
        self.leaf(&format!("{p}.y"), Kind::Number);
    }

    fn background(&mut self, p: &str) {
        self.required(&format!("{p}.type"), Kind::Enum(BackgroundType::ALL));
        self.required(&format!("{p}.url"), Kind::Url);
        self.leaf(&format!("{p}.fit"), Kind::Enum(BackgroundFit::ALL));
        self.leaf(&format!("{p}.effect"), Kind::Enum(BackgroundEffect::ALL));
    }

    fn transition(&mut self, p: &str) {
        self.leaf(&format!("{p}.transition_in"), Kind::Enum(Transition::ALL));
        self.leaf(&format!("{p}.transition_out"), Kind::Enum(Transition::ALL));
    }

    fn caption_setting(&mut self, p: &str) {
        self.leaf(&format!("{p}.style"), Kind::OpenSet(CAPTION_STYLES));
        self.offset(&format!("{p}.offset"));
        self.leaf(&format!("{p}.font_family"), Kind::OpenSet(FONT_FAMILIES));
        self.leaf(&format!("{p}.font_size"), Kind::Integer);
        self.leaf(&format!("{p}.font_style"), Kind::Enum(FontStyle::ALL));
        for color in ["background_color", "text_color", "highlight_text_color"] {
            self.leaf(&format!("{p}.{color}"), Kind::Color);
        }
        self.leaf(&format!("{p}.max_width"), Kind::Integer);
        self.leaf(&format!("{p}.line_height"), Kind::Integer);
        self.leaf(&format!("{p}.text_shadow"), Kind::Text);
        self.leaf(&format!("{p}.hidden"), Kind::Bool);
        self.leaf(&format!("{p}.override_visual_style"), Kind::Bool);
    }

    fn cta(&mut self, p: &str) {
        self.required(&format!("{p}.cta_logo.url"), Kind::Url);
        self.offset(&format!("{p}.cta_logo.offset"));
        self.leaf(&format!("{p}.cta_logo.scale"), Kind::Number);
        self.required(&format!("{p}.cta_caption.caption"), Kind::Text);
        self.caption_setting(&format!("{p}.cta_caption.caption_setting"));
        self.leaf(&format!("{p}.cta_background_blur"), Kind::Bool);
        self.transition(&format!("{p}.transition_effect"));
        self.leaf(&format!("{p}.cta_duration"), Kind::Integer);
        self.background(&format!("{p}.cta_background"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::*;
    use serde_json::{Map, Value};

    /// A body with every field of the model set, written out so that a field added to the
    /// model breaks this test until the table knows it.
    fn maximal() -> CreateLipsync {
        let offset = Some(Offset { x: 0.1, y: -0.2 });
        let caption = CaptionSetting {
            style: Some("neo".into()),
            offset,
            font_family: Some("Poppins".into()),
            font_size: Some(70),
            font_style: Some(FontStyle::Bold),
            background_color: Some("#00000080".into()),
            text_color: Some("#FFFFFFFF".into()),
            highlight_text_color: Some("#FF0000FF".into()),
            max_width: Some(800),
            line_height: Some(80),
            text_shadow: Some("1px 1px #000".into()),
            hidden: Some(false),
            override_visual_style: Some(true),
        };
        let transition = TransitionEffect {
            transition_in: Some(Transition::Fade),
            transition_out: Some(Transition::LeftSwipe),
        };
        let background = Background {
            kind: BackgroundType::Image,
            url: "https://cdn.example.com/a.jpg".into(),
            fit: Some(BackgroundFit::Crop),
            effect: Some(BackgroundEffect::ZoomIn),
        };
        let cta = Cta {
            cta_logo: Some(CtaLogo {
                url: "https://cdn.example.com/logo.png".into(),
                offset,
                scale: Some(0.5),
            }),
            cta_caption: Some(CtaCaption {
                caption: "Buy".into(),
                caption_setting: Some(caption.clone()),
            }),
            cta_background_blur: Some(true),
            transition_effect: Some(transition.clone()),
            cta_duration: Some(2),
            cta_background: Some(background.clone()),
        };
        CreateLipsync {
            video_inputs: vec![Scene {
                character: Some(Character {
                    kind: CharacterType::Avatar,
                    avatar_id: "a".into(),
                    offset,
                    scale: Some(1.0),
                    avatar_style: Some(AvatarStyle::Circle),
                    hidden: Some(false),
                }),
                voice: Some(Voice {
                    kind: VoiceType::Text,
                    input_text: Some("Hi".into()),
                    voice_id: Some("v".into()),
                    duration: Some(3.0),
                    volume: Some(0.5),
                }),
                background: Some(Box::new(background)),
                caption_setting: Some(Box::new(caption)),
                transition_effect: Some(transition),
                visual_style: Some("FullAvatar".into()),
                cta: Some(Box::new(cta.clone())),
            }],
            aspect_ratio: Some(AspectRatio::Square),
            model_version: Some(ModelVersion::Aurora),
            background_music: Some(BackgroundMusic {
                url: "https://cdn.example.com/m.mp3".into(),
                volume: Some(0.2),
            }),
            cta_end: Some(Box::new(cta)),
            webhook_url: Some("https://hooks.example.com/x".into()),
            name: Some("n".into()),
        }
    }

    fn leaves(prefix: &str, v: &Map<String, Value>, out: &mut Vec<String>) {
        for (k, v) in v {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(m) => leaves(&p, m, out),
                _ => out.push(p),
            }
        }
    }

    #[test]
    fn table_covers_every_model_field_and_nothing_else() {
        let json = serde_json::to_value(maximal()).unwrap();
        let mut body = json.as_object().unwrap().clone();
        let scene = body.remove("video_inputs").unwrap()[0].clone();
        let mut paths = Vec::new();
        leaves("", &body, &mut paths);
        leaves("", scene.as_object().unwrap(), &mut paths);
        let mut table: Vec<String> = all().iter().map(|f| f.path.clone()).collect();
        paths.sort();
        table.sort();
        assert_eq!(paths, table);
    }

    #[test]
    fn levels_and_groups() {
        assert_eq!(get("voice.volume").unwrap().level, Level::Scene);
        assert_eq!(get("background_music.volume").unwrap().level, Level::Video);
        assert!(is_group("caption_setting"));
        assert!(is_group("cta_end.cta_logo.offset"));
        assert!(!is_group("voice.volume"));
        assert_eq!(root_level("cta_end"), Some(Level::Video));
        assert_eq!(root_level("cta"), Some(Level::Scene));
        assert_eq!(root_level("video_inputs"), None);
        for (_, p) in BACKGROUND_OBJECTS {
            assert_eq!(
                get(&format!("{p}.type")).unwrap().kind,
                Kind::Enum(BackgroundType::ALL)
            );
        }
    }
}
