//! Video length estimates and Creatify's price rules, shared by the planner (estimates) and
//! the sandbox (what it charges).
//!
//! Prices (creatify-api.md): `standard` 5 credits per started 30 s; `aurora_v1` 1 credit per
//! second, partial seconds rounded up; `aurora_v1_fast` 0.5 credit per started second.
//! Previews cost 1 and renders-from-preview 4 credits per started 30 s.

use super::model::{CreateLipsync, ModelVersion, Scene, VoiceType};

/// How a script's length turns into seconds of video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakingRate {
    /// Words spoken per second.
    pub words_per_second: f64,
    /// Seconds added to every scene for breathing room and transitions.
    pub scene_allowance_seconds: f64,
}

impl Default for SpeakingRate {
    fn default() -> Self {
        Self {
            words_per_second: 2.5,
            scene_allowance_seconds: 0.5,
        }
    }
}

impl SpeakingRate {
    /// Seconds one scene lasts: its `voice.duration` when given, else its script's words at
    /// this rate plus the allowance.
    pub fn scene_seconds(&self, scene: &Scene) -> f64 {
        let Some(voice) = &scene.voice else {
            return self.scene_allowance_seconds;
        };
        if let Some(d) = voice.duration {
            return d;
        }
        match voice.kind {
            VoiceType::Silence => self.scene_allowance_seconds,
            VoiceType::Text => {
                let words = count_words(voice.input_text.as_deref().unwrap_or(""));
                words / self.words_per_second + self.scene_allowance_seconds
            }
        }
    }

    /// Seconds the whole video lasts, rounded to a tenth.
    pub fn video_seconds(&self, body: &CreateLipsync) -> f64 {
        let s: f64 = body
            .video_inputs
            .iter()
            .map(|s| self.scene_seconds(s))
            .sum();
        (s * 10.0).round() / 10.0
    }
}

/// Words in a script. Scripts without spaces between words (Chinese, Japanese) count two
/// characters as a word, which matches their usual speaking speed of about five characters
/// per second at 2.5 words per second.
pub fn count_words(text: &str) -> f64 {
    let mut words = 0.0;
    for token in text.split_whitespace() {
        let cjk = token.chars().filter(|c| is_cjk(*c)).count();
        if cjk == 0 {
            words += 1.0;
        } else {
            let rest = token
                .chars()
                .filter(|c| c.is_alphanumeric() && !is_cjk(*c))
                .count();
            words += cjk as f64 / 2.0 + if rest > 0 { 1.0 } else { 0.0 };
        }
    }
    words
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF // hiragana, katakana
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // CJK ideographs
        | 0xAC00..=0xD7AF) // hangul syllables
}

/// Credits a video of `seconds` costs with `model`.
pub fn credits(model: ModelVersion, seconds: f64) -> f64 {
    let seconds = seconds.max(0.0);
    match model {
        ModelVersion::Standard => 5.0 * (seconds / 30.0).ceil().max(1.0),
        ModelVersion::Aurora => seconds.ceil().max(1.0),
        ModelVersion::AuroraFast => 0.5 * seconds.ceil().max(1.0),
    }
}

/// Credits a preview of `seconds` costs.
pub fn preview_credits(seconds: f64) -> f64 {
    (seconds.max(0.0) / 30.0).ceil().max(1.0)
}

/// Credits rendering a previewed video of `seconds` costs.
pub fn render_credits(seconds: f64) -> f64 {
    4.0 * (seconds.max(0.0) / 30.0).ceil().max(1.0)
}

/// What a render of a previewed video of `seconds` is budgeted at, when a direct creation of
/// it costs `direct`: the documented 4 per 30 s, or the rest of the direct price when that is
/// more. Render prices of the aurora models are undocumented; if Creatify bills them like
/// their creations, 4 per 30 s would let a render run past `--max-credits`, so the budget
/// takes the higher of the two (preview + render never below a direct creation).
pub fn render_budget(direct: f64, seconds: f64) -> f64 {
    render_credits(seconds).max(direct - preview_credits(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_is_budgeted_at_no_less_than_the_rest_of_a_direct_creation() {
        // Standard: the documented split, 1 + 4 = 5.
        let std = credits(ModelVersion::Standard, 21.0);
        assert_eq!(render_budget(std, 21.0), 4.0);
        // Aurora, 21 s: a direct creation costs 21; the render is budgeted at 20, not 4.
        let aurora = credits(ModelVersion::Aurora, 21.0);
        assert_eq!(render_budget(aurora, 21.0), 20.0);
        // Aurora fast, 4 s: 2 direct; the documented 4 is the higher.
        assert_eq!(
            render_budget(credits(ModelVersion::AuroraFast, 4.0), 4.0),
            4.0
        );
    }

    #[test]
    fn prices_follow_the_documented_rules() {
        use ModelVersion::*;
        assert_eq!(credits(Standard, 12.0), 5.0);
        assert_eq!(credits(Standard, 30.0), 5.0);
        assert_eq!(credits(Standard, 30.1), 10.0);
        assert_eq!(credits(Aurora, 12.2), 13.0);
        assert_eq!(credits(AuroraFast, 12.2), 6.5);
        assert_eq!(credits(AuroraFast, 12.0), 6.0);
        assert_eq!(preview_credits(31.0), 2.0);
        assert_eq!(render_credits(10.0), 4.0);
    }

    #[test]
    fn words_count_for_spaced_and_unspaced_scripts() {
        assert_eq!(count_words("Hola, ¿qué tal? Soy Ana."), 5.0);
        assert_eq!(count_words("こんにちは世界"), 3.5);
        assert_eq!(count_words(""), 0.0);
    }
}
