//! The API's rules for a request body, in one place, used by both sides: the planner checks
//! every video before anything is sent, and the sandbox refuses what the real API would.
//!
//! A rule that the docs give as an open set (caption styles, fonts, visual styles) yields a
//! [`Severity::Warning`]; everything else is an [`Severity::Error`].

use std::fmt;

use super::model::{
    Background, CaptionSetting, CreateLipsync, Cta, Offset, VoiceType, CAPTION_STYLES,
    FONT_FAMILIES, VISUAL_STYLES,
};

/// Longest `name` the API accepts.
pub const MAX_NAME: usize = 255;
/// Longest `webhook_url` the API accepts.
pub const MAX_WEBHOOK_URL: usize = 200;
/// Longest `voice.input_text` the API accepts.
pub const MAX_INPUT_TEXT: usize = 2000;

/// One step of a path into a request body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Where in a request body a problem is, e.g. `video_inputs[0].voice.input_text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// A path made of object keys only, from a dotted string (`voice.input_text`).
    pub fn dotted(s: &str) -> Self {
        Self(s.split('.').map(|k| Segment::Key(k.to_owned())).collect())
    }

    /// This path with a key added.
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(k.to_owned()));
        p
    }

    /// This path with an index added.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    /// The scene index, when the path is inside `video_inputs[i]`.
    pub fn scene(&self) -> Option<usize> {
        match self.0.as_slice() {
            [Segment::Key(k), Segment::Index(i), ..] if k == "video_inputs" => Some(*i),
            _ => None,
        }
    }

    /// The path below the scene (`voice.input_text`), or the whole path for video-level
    /// fields, as dotted text: the way a sheet's headers name fields.
    pub fn field(&self) -> String {
        let rest = if self.scene().is_some() {
            &self.0[2..]
        } else {
            &self.0[..]
        };
        FieldPath(rest.to_vec()).to_string()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if n == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// How bad a [`Violation`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The API would refuse the body.
    Error,
    /// The API may accept it, but it looks like a mistake.
    Warning,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where.
    pub path: FieldPath,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, phrased for a person ("must be at most 2000 characters, got 2107").
    pub message: String,
}

/// Checks a body against every documented rule; an empty result means it is valid.
pub fn validate(body: &CreateLipsync) -> Vec<Violation> {
    let mut v = Checker::default();
    let root = FieldPath::default();
    if body.video_inputs.is_empty() {
        v.error(root.key("video_inputs"), "needs at least one scene".into());
    }
    if let Some(name) = &body.name {
        v.max_chars(root.key("name"), name, MAX_NAME);
    }
    if let Some(url) = &body.webhook_url {
        v.max_chars(root.key("webhook_url"), url, MAX_WEBHOOK_URL);
        v.url(root.key("webhook_url"), url);
    }
    if let Some(music) = &body.background_music {
        let p = root.key("background_music");
        v.url(p.key("url"), &music.url);
        v.unit(p.key("volume"), music.volume);
    }
    if let Some(cta) = &body.cta_end {
        v.cta(root.key("cta_end"), cta);
    }
    for (i, scene) in body.video_inputs.iter().enumerate() {
        let p = root.key("video_inputs").index(i);
        match &scene.character {
            None => v.error(p.key("character"), "every scene needs an avatar".into()),
            Some(c) => {
                let cp = p.key("character");
                if c.avatar_id.trim().is_empty() {
                    v.error(cp.key("avatar_id"), "may not be blank".into());
                }
                v.offset(cp.key("offset"), c.offset);
                v.positive(cp.key("scale"), c.scale);
            }
        }
        match &scene.voice {
            None => v.error(
                p.key("voice"),
                "every scene needs a voice (a script or silence)".into(),
            ),
            Some(voice) => {
                let vp = p.key("voice");
                let text = voice.input_text.as_deref().unwrap_or("");
                match voice.kind {
                    VoiceType::Text if text.trim().is_empty() => {
                        v.error(vp.key("input_text"), "may not be blank".into())
                    }
                    VoiceType::Text => v.max_chars(vp.key("input_text"), text, MAX_INPUT_TEXT),
                    VoiceType::Silence if voice.duration.is_none() => v.error(
                        vp.key("duration"),
                        "a silent scene needs a duration in seconds".into(),
                    ),
                    VoiceType::Silence => {}
                }
                if let Some(d) = voice.duration {
                    if !(d.is_finite() && d > 0.0) {
                        v.error(
                            vp.key("duration"),
                            format!("must be more than 0 seconds, got {d}"),
                        );
                    }
                }
                if let Some(id) = &voice.voice_id {
                    if id.trim().is_empty() {
                        v.error(
                            vp.key("voice_id"),
                            "may not be blank (leave it out for the avatar's own voice)".into(),
                        );
                    }
                }
                v.unit(vp.key("volume"), voice.volume);
            }
        }
        if let Some(bg) = &scene.background {
            v.background(p.key("background"), bg);
        }
        if let Some(cs) = &scene.caption_setting {
            v.caption(p.key("caption_setting"), cs);
        }
        if let Some(style) = &scene.visual_style {
            v.open_set(p.key("visual_style"), style, VISUAL_STYLES);
        }
        if let Some(cta) = &scene.cta {
            v.cta(p.key("cta"), cta);
        }
    }
    v.found
}

/// Whether `s` is an absolute http or https URL with a host.
pub fn is_http_url(s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

/// Whether `s` is a `#RRGGBBAA` color.
pub fn is_rgba_color(s: &str) -> bool {
    s.len() == 9 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The closest candidate to `value`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(value: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = value.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[derive(Default)]
struct Checker {
    found: Vec<Violation>,
}

impl Checker {
    fn error(&mut self, path: FieldPath, message: String) {
        self.found.push(Violation {
            path,
            severity: Severity::Error,
            message,
        });
    }

    fn warn(&mut self, path: FieldPath, message: String) {
        self.found.push(Violation {
            path,
            severity: Severity::Warning,
            message,
        });
    }

    fn max_chars(&mut self, path: FieldPath, s: &str, max: usize) {
        let n = s.chars().count();
        if n > max {
            self.error(path, format!("must be at most {max} characters, got {n}"));
        }
    }

    fn url(&mut self, path: FieldPath, s: &str) {
        if !is_http_url(s) {
            self.error(
                path,
                format!("must be an http:// or https:// URL, got {s:?}"),
            );
        }
    }

    fn unit(&mut self, path: FieldPath, x: Option<f64>) {
        if let Some(x) = x {
            if !(0.0..=1.0).contains(&x) {
                self.error(path, format!("must be between 0 and 1, got {x}"));
            }
        }
    }

    fn positive(&mut self, path: FieldPath, x: Option<f64>) {
        if let Some(x) = x {
            if !(x.is_finite() && x > 0.0) {
                self.error(path, format!("must be more than 0, got {x}"));
            }
        }
    }

    fn offset(&mut self, path: FieldPath, o: Option<Offset>) {
        if let Some(o) = o {
            for (axis, x) in [("x", o.x), ("y", o.y)] {
                if !x.is_finite() {
                    self.error(path.key(axis), format!("must be a number, got {x}"));
                }
            }
        }
    }

    fn color(&mut self, path: FieldPath, c: Option<&String>) {
        if let Some(c) = c {
            if !is_rgba_color(c) {
                self.error(path, format!("must be a color like #RRGGBBAA, got {c:?}"));
            }
        }
    }

    fn open_set(&mut self, path: FieldPath, value: &str, known: &[&str]) {
        if known.contains(&value) {
            return;
        }
        let hint = match did_you_mean(value, known) {
            Some(s) => format!(" (did you mean {s:?}?)"),
            None => String::new(),
        };
        self.warn(
            path,
            format!("{value:?} is not a value this tool knows; the API may refuse it{hint}"),
        );
    }

    fn background(&mut self, path: FieldPath, bg: &Background) {
        self.url(path.key("url"), &bg.url);
    }

    fn caption(&mut self, path: FieldPath, cs: &CaptionSetting) {
        if let Some(style) = &cs.style {
            self.open_set(path.key("style"), style, CAPTION_STYLES);
        }
        if let Some(font) = &cs.font_family {
            self.open_set(path.key("font_family"), font, FONT_FAMILIES);
        }
        self.offset(path.key("offset"), cs.offset);
        if cs.font_size == Some(0) {
            self.error(path.key("font_size"), "must be more than 0".into());
        }
        self.color(path.key("background_color"), cs.background_color.as_ref());
        self.color(path.key("text_color"), cs.text_color.as_ref());
        self.color(
            path.key("highlight_text_color"),
            cs.highlight_text_color.as_ref(),
        );
    }

    fn cta(&mut self, path: FieldPath, cta: &Cta) {
        if let Some(logo) = &cta.cta_logo {
            self.url(path.key("cta_logo").key("url"), &logo.url);
            self.offset(path.key("cta_logo").key("offset"), logo.offset);
            self.positive(path.key("cta_logo").key("scale"), logo.scale);
        }
        if let Some(caption) = &cta.cta_caption {
            let p = path.key("cta_caption");
            if caption.caption.trim().is_empty() {
                self.error(p.key("caption"), "may not be blank".into());
            }
            if let Some(cs) = &caption.caption_setting {
                self.caption(p.key("caption_setting"), cs);
            }
        }
        if let Some(bg) = &cta.cta_background {
            self.background(path.key("cta_background"), bg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> CreateLipsync {
        serde_json::from_value(json).unwrap()
    }

    fn errors(b: &CreateLipsync) -> Vec<String> {
        validate(b)
            .into_iter()
            .filter(|v| v.severity == Severity::Error)
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect()
    }

    #[test]
    fn a_minimal_body_is_valid() {
        let b = body(
            serde_json::json!({"video_inputs":[{"character":{"avatar_id":"a"},"voice":{"input_text":"Hi"}}]}),
        );
        assert!(validate(&b).is_empty());
    }

    #[test]
    fn every_limit_is_named_with_its_path() {
        let b = body(serde_json::json!({
            "video_inputs":[{"character":{"avatar_id":" "},
                "voice":{"input_text":"x".repeat(2001), "volume": 1.5},
                "background":{"type":"image","url":"file:///etc/passwd"},
                "caption_setting":{"text_color":"#fff","style":"normal-blak"}}],
            "name":"n".repeat(256),
            "webhook_url":"javascript:alert(1)",
        }));
        let e = errors(&b);
        for want in [
            "name: must be at most 255 characters, got 256",
            "webhook_url: must be an http:// or https:// URL",
            "video_inputs[0].character.avatar_id: may not be blank",
            "video_inputs[0].voice.input_text: must be at most 2000 characters, got 2001",
            "video_inputs[0].voice.volume: must be between 0 and 1, got 1.5",
            "video_inputs[0].background.url: must be an http:// or https:// URL",
            "video_inputs[0].caption_setting.text_color: must be a color like #RRGGBBAA",
        ] {
            assert!(
                e.iter().any(|m| m.starts_with(want)),
                "missing {want:?} in {e:#?}"
            );
        }
        let warn = validate(&b)
            .into_iter()
            .find(|v| v.severity == Severity::Warning)
            .unwrap();
        assert!(
            warn.message.contains("did you mean \"normal-black\""),
            "{}",
            warn.message
        );
    }

    #[test]
    fn empty_scene_list_is_refused() {
        let b = body(serde_json::json!({"video_inputs":[]}));
        assert_eq!(errors(&b), ["video_inputs: needs at least one scene"]);
    }
}
