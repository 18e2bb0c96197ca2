//! The sheet's rules: headers and aliases, typed cells, keys, multi-scene videos, defaults,
//! background types, estimates, and all problems reported at once.

use super::{plan, plan_with, problems};
use creatify_batch::api::credits::SpeakingRate;
use creatify_batch::config::Settings;
use std::path::Path;

fn settings(toml: &str) -> Settings {
    Settings::from_toml(toml, Path::new("pipeline.toml")).unwrap()
}

#[test]
fn unknown_header_and_bad_enum_come_with_did_you_mean() {
    // The missing script is the misspelt header's doing: one error, not one more per row.
    let err =
        problems(b"key,scirpt,avatar,aspect\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,16/9\n");
    assert_eq!(
        err,
        [
            r#"line 1, column scirpt: unknown column "scirpt" (did you mean "script"?); if the sheet keeps this column for your team, add it to [columns] ignore in pipeline.toml, or map it with [columns]"#,
            r#"line 2, column aspect: unknown value "16/9" (did you mean "16x9"?); expected one of 9x16, 16x9, 1x1"#,
        ]
    );
}

#[test]
fn every_problem_of_every_row_is_reported_at_once() {
    let csv = "key,script,avatar,model,caption_style,voice_volume,background\n\
               a,,edb9719c-42af-5c7f-83d5-b7de95567b5e,standard,normal-black,0.5,https://cdn.example.com/a.jpg\n\
               b,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,turbo,normal-blak,1.5,ftp://cdn.example.com/b.jpg\n\
               c,Hi,,standard,,x,https://cdn.example.com/c.jpg\n";
    // A cell that cannot be read does not hide the row's other problems.
    assert_eq!(
        problems(csv.as_bytes()),
        [
            "line 2, column script: may not be blank",
            r#"line 3, column model: unknown value "turbo"; expected one of standard, aurora_v1, aurora_v1_fast"#,
            "line 3, column voice_volume: must be between 0 and 1, got 1.5",
            r#"line 3, column background: must be an http:// or https:// URL, got "ftp://cdn.example.com/b.jpg""#,
            r#"line 3, column caption_style: warning: "normal-blak" is not a value this tool knows; the API may refuse it (did you mean "normal-black"?)"#,
            r#"line 4, column voice_volume: "x" is not a number"#,
            "line 4, column avatar: every scene needs an avatar",
        ]
    );
    // Rows with only rule violations (not typing errors) are all reported too.
    let csv = "key,script,avatar,caption_style,voice_volume,background\n\
               a,,edb9719c-42af-5c7f-83d5-b7de95567b5e,normal-black,0.5,https://cdn.example.com/a.jpg\n\
               b,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,normal-blak,1.5,ftp://cdn.example.com/b.jpg\n\
               c,Hi,,,0.2,https://cdn.example.com/c.jpg\n";
    let err = problems(csv.as_bytes());
    assert_eq!(
        err,
        [
            "line 2, column script: may not be blank",
            "line 3, column voice_volume: must be between 0 and 1, got 1.5",
            r#"line 3, column background: must be an http:// or https:// URL, got "ftp://cdn.example.com/b.jpg""#,
            r#"line 3, column caption_style: warning: "normal-blak" is not a value this tool knows; the API may refuse it (did you mean "normal-black"?)"#,
            "line 4, column avatar: every scene needs an avatar",
        ]
    );
}

#[test]
fn duplicate_keys_name_both_lines() {
    let err = problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nb,Yo,edb9719c-42af-5c7f-83d5-b7de95567b5e\na,Hey,edb9719c-42af-5c7f-83d5-b7de95567b5e\n");
    assert_eq!(
        err,
        [r#"line 4, column key: duplicate key "a": also on line 2; keys must be unique"#]
    );
    let err = problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n,Yo,edb9719c-42af-5c7f-83d5-b7de95567b5e\n");
    assert!(
        err[0].starts_with("line 3, column key: is empty"),
        "{err:?}"
    );
}

#[test]
fn derived_keys_are_stable_and_ignore_column_order_and_aliases() {
    let a = plan(b"script,avatar\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nYo,edb9719c-42af-5c7f-83d5-b7de95567b5e\n").unwrap();
    let b = plan(b"character.avatar_id,voice.input_text,notes\nedb9719c-42af-5c7f-83d5-b7de95567b5e,Hi,x\nedb9719c-42af-5c7f-83d5-b7de95567b5e,Yo,y\n")
        .unwrap();
    let keys =
        |p: &creatify_batch::plan::Plan| p.videos.iter().map(|v| v.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    assert!(a
        .videos
        .iter()
        .all(|v| v.key_derived && v.key.len() == 16 && v.key.starts_with("row-")));
    assert_ne!(a.videos[0].key, a.videos[1].key);
    assert!(
        a.notes[0].starts_with("no `key` column: keys derived"),
        "{:?}",
        a.notes
    );
    let err = problems(b"script,avatar\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e\nYo,edb9719c-42af-5c7f-83d5-b7de95567b5e\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n");
    assert!(
        err[0].starts_with("line 4: has the same content as line 2"),
        "{err:?}"
    );
}

#[test]
fn consecutive_rows_of_a_video_become_its_scenes() {
    let csv = "video,script,avatar,aspect,music\n\
               launch,One,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,https://cdn.example.com/m.mp3\n\
               launch,Two,bf43f4a8-3cf6-52d3-9e4e-f9716bdbc8aa,,\n\
               solo,Three,edb9719c-42af-5c7f-83d5-b7de95567b5e,1x1,\n\
               launch2,Four,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,\n\
               launch2,Five,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,\n";
    let p = plan(csv.as_bytes()).unwrap();
    let shape: Vec<(&str, usize, Vec<u64>)> = p
        .videos
        .iter()
        .map(|v| (v.key.as_str(), v.body.video_inputs.len(), v.lines.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            ("launch", 2, vec![2, 3]),
            ("solo", 1, vec![4]),
            ("launch2", 2, vec![5, 6])
        ]
    );
    assert_eq!(
        p.videos[0].body.background_music.as_ref().unwrap().url,
        "https://cdn.example.com/m.mp3"
    );
    assert_eq!(p.videos[0].records.to_vec().len(), 2);
}

#[test]
fn video_level_fields_must_agree_and_videos_be_consecutive() {
    let csv = "video,script,avatar,aspect\n\
               launch,One,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9\n\
               launch,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e,9x16\n\
               other,Three,edb9719c-42af-5c7f-83d5-b7de95567b5e,\n\
               launch,Four,edb9719c-42af-5c7f-83d5-b7de95567b5e,\n";
    assert_eq!(
        problems(csv.as_bytes()),
        [
            r#"line 3, column aspect: "9x16" differs from "16x9" on line 2; the rows of video "launch" must agree on video-level fields (or leave them empty after the first)"#,
            r#"line 5, column video: video "launch" already appeared on line 2; a video's scenes must be consecutive rows, and video values and keys must be unique"#,
        ]
    );
}

#[test]
fn defaults_apply_under_cells_and_empty_cells_keep_them() {
    let s = settings(
        "[defaults]\naspect_ratio = \"1x1\"\nmodel_version = \"aurora_v1\"\n\
         [defaults.voice]\nvolume = 0.3\nvoice_id = \"52825997-e2f1-5148-a3f3-620a6cb2bacf\"\n\
         [defaults.caption_setting]\nstyle = \"normal-black\"\n",
    );
    let csv =
        "key,script,avatar,aspect,voice_volume\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,,\nb,Yo,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,0.9\n";
    let p = plan_with(csv.as_bytes(), &s).unwrap();
    let json: Vec<String> = p
        .videos
        .iter()
        .map(|v| serde_json::to_string(&v.body).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"edb9719c-42af-5c7f-83d5-b7de95567b5e"},"voice":{"type":"text","input_text":"Hi","voice_id":"52825997-e2f1-5148-a3f3-620a6cb2bacf","volume":0.3},"caption_setting":{"style":"normal-black"}}],"aspect_ratio":"1x1","model_version":"aurora_v1"}"#,
            r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"edb9719c-42af-5c7f-83d5-b7de95567b5e"},"voice":{"type":"text","input_text":"Yo","voice_id":"52825997-e2f1-5148-a3f3-620a6cb2bacf","volume":0.9},"caption_setting":{"style":"normal-black"}}],"aspect_ratio":"16x9","model_version":"aurora_v1"}"#,
        ]
    );
}

#[test]
fn a_broken_default_is_reported_without_a_column() {
    let s = settings("[defaults.voice]\nvolume = 2.0\n");
    let err = match plan_with(
        b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n",
        &s,
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("planned"),
    };
    assert!(
        err.ends_with("line 2: voice.volume (from [defaults]): must be between 0 and 1, got 2"),
        "{err}"
    );
}

#[test]
fn config_columns_add_aliases() {
    let s = settings("[columns]\n\"Skript\" = \"script\"\n\"Ad ID\" = \"key\"\n");
    let p = plan_with(
        "Ad ID,Skript,Avatar\nx1,Hallo,edb9719c-42af-5c7f-83d5-b7de95567b5e\n".as_bytes(),
        &s,
    )
    .unwrap();
    assert_eq!(p.videos[0].key, "x1");
}

#[test]
fn background_type_follows_the_url_unless_given() {
    let csv = "key,script,avatar,background,background.type\n\
               a,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,https://cdn.example.com/loop.MP4?v=2,\n\
               b,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,https://cdn.example.com/still.webp,\n\
               c,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,https://cdn.example.com/render,video\n";
    let p = plan(csv.as_bytes()).unwrap();
    let kinds: Vec<String> = p
        .videos
        .iter()
        .map(|v| {
            v.body.video_inputs[0]
                .background
                .as_ref()
                .unwrap()
                .kind
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["video", "image", "video"]);
    let err =
        problems(b"key,script,avatar,background\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,https://cdn.example.com/render\n");
    assert!(err[0].starts_with(r#"line 2, column background: cannot tell from "https://cdn.example.com/render" whether it is an image or a video"#), "{err:?}");
}

#[test]
fn typed_cells_booleans_numbers_and_enums() {
    let csv = "key,script,avatar,character.hidden,caption_setting.font_size,model,transition_in,voice.duration\n\
               a,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,YES,70,Aurora_V1_Fast,FADE,12.5\n";
    let p = plan(csv.as_bytes()).unwrap();
    let json = serde_json::to_string(&p.videos[0].body).unwrap();
    assert_eq!(
        json,
        r#"{"video_inputs":[{"character":{"type":"avatar","avatar_id":"edb9719c-42af-5c7f-83d5-b7de95567b5e","hidden":true},"voice":{"type":"text","input_text":"Hi","duration":12.5},"caption_setting":{"font_size":70},"transition_effect":{"transition_in":"fade"}}],"model_version":"aurora_v1_fast"}"#
    );
    // voice.duration wins over the word count: 12.5 s on aurora_v1_fast = 13 started seconds.
    assert_eq!((p.videos[0].seconds, p.videos[0].credits), (12.5, 6.5));
}

#[test]
fn estimates_follow_the_speaking_rate_and_price_rules() {
    // 10 words at 2.5 w/s + 0.5 s allowance per scene, two scenes: 2 × 4.5 = 9 s.
    let script = "one two three four five six seven eight nine ten";
    let csv = format!(
        "video,script,avatar,model\nv,{script},edb9719c-42af-5c7f-83d5-b7de95567b5e,aurora_v1\nv,{script},edb9719c-42af-5c7f-83d5-b7de95567b5e,\n"
    );
    let p = plan(csv.as_bytes()).unwrap();
    assert_eq!((p.videos[0].seconds, p.videos[0].credits), (9.0, 9.0));
    let s = Settings {
        estimate: SpeakingRate {
            words_per_second: 1.0,
            scene_allowance_seconds: 0.0,
        },
        ..Settings::default()
    };
    let p = plan_with(csv.as_bytes(), &s).unwrap();
    assert_eq!((p.total_seconds(), p.total_credits()), (20.0, 20.0));
}

#[test]
fn a_silent_scene_needs_only_a_duration() {
    let csv = "video,script,avatar,voice.type,voice.duration\n\
               v,Hello there,edb9719c-42af-5c7f-83d5-b7de95567b5e,,\n\
               v,,edb9719c-42af-5c7f-83d5-b7de95567b5e,silence,1.5\n";
    let p = plan(csv.as_bytes()).unwrap();
    // 2 words / 2.5 + 0.5 = 1.3 s, then the silent 1.5 s.
    assert_eq!(p.videos[0].seconds, 2.8);
    let err = problems(
        b"key,script,avatar,voice.type\na,,edb9719c-42af-5c7f-83d5-b7de95567b5e,silence\n",
    );
    assert_eq!(
        err,
        ["line 2: voice.duration: a silent scene needs a duration in seconds (no column sets it; add one, or set it in [defaults])"]
    );
}

#[test]
fn a_default_background_gets_its_type_and_a_cell_url_replaces_it() {
    let s = settings("[defaults.background]\nurl = \"https://cdn.example.com/loop.mp4\"\n");
    let csv = "key,script,avatar,background\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,\nb,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,https://cdn.example.com/x.png\n";
    let p = plan_with(csv.as_bytes(), &s).unwrap();
    let bg: Vec<(String, String)> = p
        .videos
        .iter()
        .map(|v| {
            let b = v.body.video_inputs[0].background.as_ref().unwrap();
            (b.kind.to_string(), b.url.clone())
        })
        .collect();
    assert_eq!(
        bg,
        [
            (
                "video".to_owned(),
                "https://cdn.example.com/loop.mp4".to_owned()
            ),
            (
                "image".to_owned(),
                "https://cdn.example.com/x.png".to_owned()
            ),
        ]
    );
}
