//! Properties over generated sheets: any sheet written from valid values plans, keeps every
//! script exactly, and its bodies round-trip through the API model; any bytes at all give
//! an answer, never a panic.

use proptest::prelude::*;

use super::{plan, plan_with};
use creatify_batch::api::model::{AspectRatio, ModelVersion, CAPTION_STYLES};
use creatify_batch::api::CreateLipsync;
use creatify_batch::config::Settings;

const AVATARS: &[&str] = &[
    "edb9719c-42af-5c7f-83d5-b7de95567b5e",
    "59a2f478-35aa-54dd-811f-d70078d765aa",
    "8e3e386c-c4cd-5641-b56b-e266ae745440",
    "bf43f4a8-3cf6-52d3-9e4e-f9716bdbc8aa",
];
const VOICES: &[&str] = &[
    "52825997-e2f1-5148-a3f3-620a6cb2bacf",
    "5fb80448-886f-590f-b323-8c40dbd48417",
    "c26f58fe-97ec-52b5-bc98-68d787ae7b3d",
    "d58b7892-f736-5092-8ab0-007020e8f6e8",
];

/// One scene's cells (None = empty cell).
#[derive(Debug, Clone)]
struct Scene {
    script: String,
    avatar: &'static str,
    voice: Option<&'static str>,
    caption: Option<&'static str>,
    volume: Option<f64>,
    background: Option<String>,
}

/// One video: its video-level cells and its scenes.
#[derive(Debug, Clone)]
struct Video {
    aspect: Option<&'static str>,
    model: Option<&'static str>,
    name: Option<String>,
    scenes: Vec<Scene>,
}

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(list)
}

fn scene() -> impl Strategy<Value = Scene> {
    (
        // Letters, accents, CJK, punctuation, the delimiters, quotes and line breaks.
        "[A-Za-zÀ-ÿ日本語][ -~À-ÿ日本語,;\t\"\r\n=+@-]{0,60}",
        pick(AVATARS),
        proptest::option::of(pick(VOICES)),
        proptest::option::of(pick(CAPTION_STYLES)),
        proptest::option::of(0.0..=1.0f64),
        proptest::option::of(("[a-z0-9-]{1,12}", pick(&["jpg", "png", "mp4", "webm"]))),
    )
        .prop_map(|(script, avatar, voice, caption, volume, bg)| Scene {
            script,
            avatar,
            voice,
            caption,
            volume,
            background: bg.map(|(name, ext)| format!("https://cdn.example.com/bg/{name}.{ext}")),
        })
}

fn video() -> impl Strategy<Value = Video> {
    (
        proptest::option::of(pick(AspectRatio::ALL)),
        proptest::option::of(pick(ModelVersion::ALL)),
        proptest::option::of("[ -~À-ÿ]{1,40}"),
        proptest::collection::vec(scene(), 1..4),
    )
        .prop_map(|(aspect, model, name, scenes)| Video {
            aspect,
            model,
            name,
            scenes,
        })
}

/// Writes the videos as a sheet with a `video` column, in a random dialect.
fn sheet(videos: &[Video], delimiter: u8, crlf: bool, bom: bool, repeat: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let header = [
        "video",
        "name",
        "aspect",
        "model",
        "script",
        "avatar",
        "voice",
        "caption_style",
        "voice.volume",
        "background",
    ];
    w.write_record(header).unwrap();
    for (i, v) in videos.iter().enumerate() {
        for (n, s) in v.scenes.iter().enumerate() {
            // Video-level cells on the first row only, or repeated on every row.
            let first = n == 0 || repeat;
            let opt = |x: Option<&str>| {
                if first {
                    x.unwrap_or("").to_owned()
                } else {
                    String::new()
                }
            };
            w.write_record([
                format!("v{i}"),
                opt(v.name.as_deref()),
                opt(v.aspect),
                opt(v.model),
                s.script.clone(),
                s.avatar.to_owned(),
                s.voice.unwrap_or("").to_owned(),
                s.caption.unwrap_or("").to_owned(),
                s.volume.map_or(String::new(), |x| x.to_string()),
                s.background.clone().unwrap_or_default(),
            ])
            .unwrap();
        }
    }
    let mut out = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    out.extend(w.into_inner().unwrap());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_sheet_of_valid_values_plans_and_round_trips(
        videos in proptest::collection::vec(video(), 1..6),
        delimiter in proptest::sample::select(vec![b',', b';', b'\t']),
        crlf: bool,
        bom: bool,
        repeat: bool,
    ) {
        let csv = sheet(&videos, delimiter, crlf, bom, repeat);
        let plan = match plan_with(&csv, &Settings::default()) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&csv)))),
        };
        prop_assert_eq!(plan.videos.len(), videos.len());
        prop_assert_eq!(plan.format.delimiter, delimiter);
        let mut last_line = 1;
        for (planned, v) in plan.videos.iter().zip(&videos) {
            let json = serde_json::to_string(&planned.body).unwrap();
            let back: CreateLipsync = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &planned.body);
            prop_assert_eq!(planned.body.video_inputs.len(), v.scenes.len());
            prop_assert_eq!(planned.body.aspect_ratio.map(|a| a.as_str()), v.aspect);
            prop_assert_eq!(planned.body.model_version.map(|m| m.as_str()), v.model);
            for (scene, s) in planned.body.video_inputs.iter().zip(&v.scenes) {
                let text = scene.voice.as_ref().and_then(|v| v.input_text.as_deref());
                prop_assert_eq!(text, Some(s.script.trim()));
                prop_assert_eq!(scene.voice.as_ref().and_then(|v| v.volume), s.volume);
            }
            for &line in &planned.lines {
                prop_assert!(line > last_line);
                last_line = line;
            }
            prop_assert!(planned.credits > 0.0 && planned.seconds > 0.0);
        }
    }

    #[test]
    fn any_bytes_give_an_answer_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = plan(&bytes);
    }

    #[test]
    fn any_text_sheet_gives_an_answer_never_a_panic(
        text in "(key|script|avatar|video|aspect|background|sep=;|[,;\t\"\r\n]|[ -~]{1,8}|日本|\u{feff}){0,60}"
    ) {
        let _ = plan(text.as_bytes());
    }
}
