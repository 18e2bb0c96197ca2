//! The request body of `POST /api/lipsyncs_v2/` and the job object the API answers with.
//!
//! Request types are strict (`deny_unknown_fields`, closed sets as enums) because we build
//! them: a typo in a sheet header or a config key must fail before anything is sent. Unset
//! optional fields are omitted from the JSON, never sent as `null`.
//!
//! The job object is the opposite: it comes from a service whose docs type several fields
//! loosely, so every field but `id` and `status` is optional, numbers may arrive as strings,
//! and an unknown status is kept as [`JobStatus::Unknown`] rather than rejected.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[doc = concat!("`", $wire, "`")]
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every value the API accepts, as written on the wire.
            pub const ALL: &'static [&'static str] = &[$($wire),+];

            /// The value as written on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// The frame of the finished video.
    AspectRatio { Portrait = "9x16", Landscape = "16x9", Square = "1x1" }
);
closed_set!(
    /// The rendering model, which also decides the price.
    ModelVersion { Standard = "standard", Aurora = "aurora_v1", AuroraFast = "aurora_v1_fast" }
);
closed_set!(
    /// What kind of character a scene shows. Only avatars are documented.
    CharacterType { Avatar = "avatar" }
);
closed_set!(
    /// How the avatar is drawn.
    AvatarStyle { Normal = "normal", Circle = "circle" }
);
closed_set!(
    /// Where a scene's audio comes from.
    VoiceType { Text = "text", Silence = "silence" }
);
closed_set!(
    /// The media type of a background.
    BackgroundType { Image = "image", Video = "video" }
);
closed_set!(
    /// How a background fills the frame (`cover` is the older docs' name for `crop`).
    BackgroundFit { Crop = "crop", Contain = "contain", Cover = "cover" }
);
closed_set!(
    /// Motion applied to an image background.
    BackgroundEffect {
        SlideLeft = "imageSlideLeft",
        ZoomIn = "imageZoomIn",
        ZoomOut = "imageZoomOut",
        Wobbling = "imageWobbling",
        Throb = "imageThrob",
    }
);
closed_set!(
    /// Caption font decoration.
    FontStyle { Bold = "font-bold", Italic = "italic", Underline = "underline" }
);
closed_set!(
    /// A scene's entry or exit transition.
    Transition {
        Fade = "fade",
        LeftSwipe = "leftSwipe",
        RightSwipe = "rightSwipe",
        TopSwipe = "topSwipe",
        BottomSwipe = "bottomSwipe",
    }
);

/// Known caption styles. The set is open (the live list is longer): unknown values warn.
pub const CAPTION_STYLES: &[&str] = &[
    "normal-black",
    "normal-white",
    "normal-red",
    "normal-blue",
    "neo",
    "brick",
    "frenzy",
    "verana",
    "mustard",
    "glow",
    "mint",
    "coolers",
    "bilo",
    "toons",
    "deep-blue",
    "mystique",
    "caution",
    "duality",
    "shout-block",
    "karaoke-glow",
];

/// Known caption fonts. The set is open: unknown values warn.
pub const FONT_FAMILIES: &[&str] = &[
    "Montserrat",
    "Jockey One",
    "Lilita One",
    "Mclaren",
    "Corben",
    "Dela Gothic One",
    "Comfortaa",
    "Luckiest Guy",
    "Quantico",
    "Poppins",
];

/// Known visual styles. The set is open: unknown values warn.
pub const VISUAL_STYLES: &[&str] = &[
    "FullAvatar",
    "GreenScreenEffect",
    "FullAvatarScreenProductOverlay",
    "UpAndDown",
    "SideBySide",
    "FullProduct",
    "MagnifyingGlassCircle",
    "ReverseMagnifyingGlassCircle",
    "TwitterFrame",
    "DramaticFullProduct",
    "Dramatic",
    "Vanilla",
    "Vlog",
];

/// The body of `POST /api/lipsyncs_v2/` (and of `.../preview/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLipsync {
    /// The scenes, in order; at least one.
    pub video_inputs: Vec<Scene>,
    /// Frame shape; the API's default is `9x16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<AspectRatio>,
    /// Rendering model; the API's default is `standard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<ModelVersion>,
    /// Music under the whole video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_music: Option<BackgroundMusic>,
    /// A call to action at the end of the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_end: Option<Box<Cta>>,
    /// Where Creatify POSTs the job's outcome (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The job's name (at most 255 characters); creatify-batch embeds its reference here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl CreateLipsync {
    /// The model version the API will use: the given one or its default.
    pub fn model(&self) -> ModelVersion {
        self.model_version.unwrap_or(ModelVersion::Standard)
    }

    /// The aspect ratio the API will use: the given one or its default.
    pub fn aspect(&self) -> AspectRatio {
        self.aspect_ratio.unwrap_or(AspectRatio::Portrait)
    }
}

/// One scene of a video (`video_inputs[i]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// The avatar that speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character: Option<Character>,
    /// What is said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
    /// What is behind the avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Box<Background>>,
    /// How captions look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption_setting: Option<Box<CaptionSetting>>,
    /// How the scene enters and leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_effect: Option<TransitionEffect>,
    /// A layout preset (open set, see [`VISUAL_STYLES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_style: Option<String>,
    /// A call to action inside the scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta: Option<Box<Cta>>,
}

/// The avatar of a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Character {
    /// Always `avatar`; filled in when a sheet leaves it out.
    #[serde(rename = "type", default = "character_type_default")]
    pub kind: CharacterType,
    /// A persona id from `GET /api/personas/`.
    pub avatar_id: String,
    /// Position, as fractions of the frame (may be negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    /// Size factor (API default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// `normal` or `circle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_style: Option<AvatarStyle>,
    /// Hide the avatar (voice only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
}

fn character_type_default() -> CharacterType {
    CharacterType::Avatar
}

fn voice_type_default() -> VoiceType {
    VoiceType::Text
}

/// A position as fractions of the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offset {
    /// Horizontal offset.
    #[serde(default)]
    pub x: f64,
    /// Vertical offset.
    #[serde(default)]
    pub y: f64,
}

/// The audio of a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voice {
    /// `text` (spoken script) or `silence`; filled in as `text` when left out.
    #[serde(rename = "type", default = "voice_type_default")]
    pub kind: VoiceType,
    /// The script (1 to 2000 characters) for `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_text: Option<String>,
    /// An accent id from `GET /api/voices/`; the avatar's own voice when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// Seconds (required for `silence`, optional for `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// 0..=1 (API default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
}

/// The background of a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    /// `image` or `video`.
    #[serde(rename = "type")]
    pub kind: BackgroundType,
    /// Where the media is (http or https).
    pub url: String,
    /// `crop`, `contain` (or the older `cover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<BackgroundFit>,
    /// Motion for image backgrounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<BackgroundEffect>,
}

/// How captions look.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptionSetting {
    /// A caption preset (open set, see [`CAPTION_STYLES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Position, as fractions of the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    /// A font (open set, see [`FONT_FAMILIES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_family: Option<String>,
    /// Font size in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_size: Option<u32>,
    /// Bold, italic or underline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_style: Option<FontStyle>,
    /// `#RRGGBBAA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// `#RRGGBBAA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_color: Option<String>,
    /// `#RRGGBBAA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight_text_color: Option<String>,
    /// Maximum caption width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u32>,
    /// Line height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_height: Option<u32>,
    /// A CSS-like text shadow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_shadow: Option<String>,
    /// Hide captions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// Let these settings win over the visual style's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_visual_style: Option<bool>,
}

/// Entry and exit transitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionEffect {
    /// How the scene enters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_in: Option<Transition>,
    /// How the scene leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_out: Option<Transition>,
}

/// Music under the whole video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundMusic {
    /// Where the audio is (http or https).
    pub url: String,
    /// 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<f64>,
}

/// A call to action (`cta` in a scene, `cta_end` for the whole video).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cta {
    /// A logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_logo: Option<CtaLogo>,
    /// A caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_caption: Option<CtaCaption>,
    /// Blur what is behind the CTA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_background_blur: Option<bool>,
    /// How the CTA enters and leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_effect: Option<TransitionEffect>,
    /// Seconds the CTA stays (third-party clients: default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_duration: Option<u32>,
    /// A background behind the CTA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cta_background: Option<Background>,
}

/// The logo of a CTA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaLogo {
    /// Where the image is (http or https).
    pub url: String,
    /// Position, as fractions of the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    /// Size factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
}

/// The caption of a CTA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaCaption {
    /// The text.
    pub caption: String,
    /// How it looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption_setting: Option<CaptionSetting>,
}

/// Where a job stands. Terminal states are `done`, `failed` and `rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Accepted, not yet queued.
    Pending,
    /// Waiting for a renderer.
    InQueue,
    /// Rendering.
    Running,
    /// Finished; `output` holds the video.
    Done,
    /// Rendering failed; see `failed_reason`.
    Failed,
    /// Refused by moderation or validation after creation.
    Rejected,
    /// A status this client does not know; polled on until the job's deadline.
    Unknown(String),
}

impl JobStatus {
    /// The status as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::InQueue => "in_queue",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the job will change no more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Rejected)
    }
}

/// Read ignoring case, spaces and dashes (`DONE`, `In Queue`, `in-queue`), with the words
/// other APIs (and newer docs, which type `status` as a free string) use for the same
/// states: a finished job is `completed`, `succeeded` or `success`, a failed one `error` or
/// `failure`. Anything else is kept, as sent, in [`JobStatus::Unknown`].
impl From<&str> for JobStatus {
    fn from(s: &str) -> Self {
        let word: String = s
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match word.as_str() {
            "pending" => Self::Pending,
            "in_queue" | "queued" => Self::InQueue,
            "running" | "processing" | "in_progress" => Self::Running,
            "done" | "completed" | "complete" | "succeeded" | "success" | "successful" => {
                Self::Done
            }
            "failed" | "error" | "errored" | "failure" => Self::Failed,
            "rejected" => Self::Rejected,
            _ => Self::Unknown(s.trim().to_owned()),
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from(s.as_str()))
    }
}

/// A job as the API describes it (create, get and list answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's UUID.
    pub id: String,
    /// Where it stands.
    pub status: JobStatus,
    /// The name it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Completion as a fraction 0..=1 (the API sends a number or a numeric string, as a
    /// percentage or as a fraction; see [`lenient_progress`]).
    #[serde(
        default,
        deserialize_with = "lenient_progress",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress: Option<f64>,
    /// The video's URL once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The thumbnail's URL once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_thumbnail: Option<String>,
    /// A preview page link (not a video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// An editor link that expires after 24 h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editor_url: Option<String>,
    /// Credits charged.
    #[serde(
        default,
        deserialize_with = "lenient_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub credits_used: Option<f64>,
    /// Video length in seconds.
    #[serde(
        default,
        deserialize_with = "lenient_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<f64>,
    /// Why it failed or was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_reason: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last change (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Echo of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Echo of the request's scenes, kept as raw JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_inputs: Option<serde_json::Value>,
    /// An internal media job id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_job: Option<String>,
    /// Echo of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Echo of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

impl Job {
    /// The video's URL, when the job has a usable one (`""` and blanks are none).
    pub fn output_url(&self) -> Option<&str> {
        usable(self.output.as_deref())
    }

    /// The thumbnail's URL, when the job has a usable one (`""` and blanks are none).
    pub fn thumbnail_url(&self) -> Option<&str> {
        usable(self.video_thumbnail.as_deref())
    }
}

fn usable(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|u| !u.is_empty())
}

/// Accepts a number, a numeric string, or null.
fn lenient_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(f64),
        Str(String),
    }
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        None => None,
        Some(NumOrStr::Num(n)) => Some(n),
        // A string that is not a number is treated as absent, not as an error: a cosmetic
        // field must never make a job unreadable.
        Some(NumOrStr::Str(s)) => s.trim().trim_end_matches('%').trim().parse().ok(),
    })
}

/// Progress as a fraction: values above 1 are read as percentages (`"45"`, `45.0`, `"45%"`).
fn lenient_progress<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(lenient_number(d)?
        .filter(|p| p.is_finite())
        .map(|p| if p > 1.0 { p / 100.0 } else { p }.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_ignoring_case_and_in_other_vocabularies() {
        for (wire, want) in [
            ("DONE", JobStatus::Done),
            (" Done ", JobStatus::Done),
            ("completed", JobStatus::Done),
            ("SUCCEEDED", JobStatus::Done),
            ("success", JobStatus::Done),
            ("error", JobStatus::Failed),
            ("FAILURE", JobStatus::Failed),
            ("Failed", JobStatus::Failed),
            ("REJECTED", JobStatus::Rejected),
            ("IN_QUEUE", JobStatus::InQueue),
            ("in-queue", JobStatus::InQueue),
            ("Running", JobStatus::Running),
            ("PENDING", JobStatus::Pending),
        ] {
            assert_eq!(JobStatus::from(wire), want, "{wire:?}");
        }
        // Kept as sent, so the user is told the API's own word.
        assert_eq!(
            JobStatus::from("Moderating"),
            JobStatus::Unknown("Moderating".into())
        );
    }

    #[test]
    fn unknown_status_is_kept_not_rejected() {
        let job: Job = serde_json::from_str(r#"{"id":"x","status":"moderating"}"#).unwrap();
        assert_eq!(job.status, JobStatus::Unknown("moderating".into()));
        assert!(!job.status.is_terminal());
    }

    #[test]
    fn progress_accepts_numbers_strings_fractions_and_percentages() {
        for (raw, want) in [
            (r#"0.5"#, 0.5),
            (r#""0.5""#, 0.5),
            (r#"50"#, 0.5),
            (r#""50""#, 0.5),
            (r#""50%""#, 0.5),
            (r#"100"#, 1.0),
        ] {
            let job: Job = serde_json::from_str(&format!(
                r#"{{"id":"x","status":"running","progress":{raw}}}"#
            ))
            .unwrap();
            assert_eq!(job.progress, Some(want), "progress {raw}");
        }
    }

    #[test]
    fn missing_and_extra_fields_are_fine_in_a_job() {
        let job: Job = serde_json::from_str(
            r#"{"id":"x","status":"done","credits_used":"5","brand_new_field":{"a":1},"progress":null}"#,
        )
        .unwrap();
        assert_eq!(job.credits_used, Some(5.0));
        assert_eq!(job.progress, None);
    }

    #[test]
    fn unset_optionals_are_omitted_not_null() {
        let body = CreateLipsync {
            video_inputs: vec![Scene {
                character: Some(Character {
                    kind: CharacterType::Avatar,
                    avatar_id: "a".into(),
                    offset: None,
                    scale: None,
                    avatar_style: None,
                    hidden: None,
                }),
                ..Scene::default()
            }],
            aspect_ratio: None,
            model_version: None,
            background_music: None,
            cta_end: None,
            webhook_url: None,
            name: None,
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"a"}}]}"#
        );
    }
}
