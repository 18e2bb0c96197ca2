//! Friendlier sheets, same safety (issue 12): a misspelt header is one error, `16:9` is an
//! aspect ratio, `[columns] ignore` for a team's own columns, `key` beside `video` labels
//! scenes, and one kind of error never hides another. Through the library and through the
//! `plan` binary.

use std::path::Path;
use std::process::{Command, Output};

use super::{plan, plan_with, problems};
use crate::support::{code, BIN};
use creatify_batch::api::model::AspectRatio;
use creatify_batch::config::Settings;

/// `plan` run on `csv` in an empty folder, with `toml` as its config when given.
fn plan_command(csv: &str, toml: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("sheet.csv");
    std::fs::write(&sheet, csv).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path()).arg("plan").arg(&sheet);
    if let Some(toml) = toml {
        let config = dir.path().join("pipeline.toml");
        std::fs::write(&config, toml).unwrap();
        cmd.arg("-c").arg(&config);
    }
    cmd.output().unwrap()
}

/// The error lines `plan` printed (one per problem, warnings aside).
fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("line ") && !l.contains(": warning: "))
        .map(str::to_owned)
        .collect()
}

fn settings(toml: &str) -> Settings {
    Settings::from_toml(toml, Path::new("pipeline.toml")).unwrap()
}

fn config_problems(toml: &str) -> String {
    Settings::from_toml(toml, Path::new("pipeline.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_misspelt_header_is_one_error_not_one_per_row() {
    let mut csv = String::from("key,scirpt,avatar\n");
    for i in 0..200 {
        // Row 100 has nothing under the misspelt header: its missing script is its own
        // problem, not the header's, and is still reported.
        let script = if i == 100 { "" } else { "Hello there" };
        csv.push_str(&format!(
            "row-{i},{script},edb9719c-42af-5c7f-83d5-b7de95567b5e\n"
        ));
    }
    let header = r#"line 1, column scirpt: unknown column "scirpt" (did you mean "script"?); if the sheet keeps this column for your team, add it to [columns] ignore in pipeline.toml, or map it with [columns]"#;
    let row = "line 102: voice: every scene needs a voice (a script or silence) (no column sets it; add one, or set it in [defaults])";
    assert_eq!(problems(csv.as_bytes()), [header, row]);

    let out = plan_command(&csv, None);
    assert_eq!(code(&out), 2);
    assert_eq!(error_lines(&out), [header, row]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 errors in the sheet"));

    // The same for a misspelt avatar column and a misspelt required field of an object.
    let mut csv = String::from("script,avatr,music,music_volme\n");
    for i in 0..50 {
        csv.push_str(&format!(
            "Line {i},edb9719c-42af-5c7f-83d5-b7de95567b5e,,0.5\n"
        ));
    }
    let p = problems(csv.as_bytes());
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0]
        .starts_with(r#"line 1, column avatr: unknown column "avatr" (did you mean "avatar"?)"#));
    assert!(p[1].starts_with("line 1, column music_volme: unknown column"));
}

#[test]
fn colon_aspect_ratios_are_read_as_the_api_writes_them() {
    let csv = "key,script,avatar,aspect_ratio\n\
               a,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,16:9\n\
               b,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,9:16\n\
               c,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,1:1\n\
               d,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e, 16 : 9 \n";
    let p = plan(csv.as_bytes()).unwrap();
    let aspects: Vec<AspectRatio> = p.videos.iter().map(|v| v.body.aspect()).collect();
    assert_eq!(
        aspects,
        [
            AspectRatio::Landscape,
            AspectRatio::Portrait,
            AspectRatio::Square,
            AspectRatio::Landscape
        ]
    );
    let out = plan_command(csv, None);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // A scene's 16:9 and its video's 16x9 agree.
    let csv = "video,script,avatar,aspect\nv,One,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9\nv,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e,16:9\n";
    assert_eq!(plan(csv.as_bytes()).unwrap().videos.len(), 1);
    // Anything else is still an error, with a did-you-mean where one fits.
    let p = problems(b"key,script,avatar,aspect\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,4:3\nb,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,16/9\nc,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,16:9:1\n");
    assert_eq!(
        p,
        [
            r#"line 2, column aspect: unknown value "4:3"; expected one of 9x16, 16x9, 1x1"#,
            r#"line 3, column aspect: unknown value "16/9" (did you mean "16x9"?); expected one of 9x16, 16x9, 1x1"#,
            r#"line 4, column aspect: unknown value "16:9:1"; expected one of 9x16, 16x9, 1x1"#,
        ]
    );
    // In [defaults] too.
    let s = settings("[defaults]\naspect_ratio = \"9:16\"\n");
    let p = plan_with(
        b"script,avatar\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.videos[0].body.aspect(), AspectRatio::Portrait);
}

const IGNORE: &str = "[columns]\nignore = [\"Status\", \"Approved by\", \"Internal notes\"]\n";

#[test]
fn columns_ignore_leaves_a_teams_columns_out_and_unknown_headers_stay_errors() {
    let csv = "key,script,avatar,STATUS,approved  by, Internal Notes \n\
               a,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,done,Kim,call back\n";
    let p = plan_with(csv.as_bytes(), &settings(IGNORE)).unwrap();
    assert_eq!(p.videos.len(), 1);
    assert!(
        p.notes
            .iter()
            .any(|n| n == "ignored columns: STATUS, approved  by, Internal Notes"),
        "{:?}",
        p.notes
    );
    let out = plan_command(csv, Some(IGNORE));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));

    // Without the list, the same columns are errors naming the fix.
    let p = problems(csv.as_bytes());
    assert_eq!(p.len(), 3, "{p:#?}");
    for e in &p {
        assert!(
            e.contains("add it to [columns] ignore in pipeline.toml, or map it with [columns]"),
            "{e}"
        );
    }
    // A typo of an ignored column is not silently dropped.
    let csv = "key,script,avatar,Stauts\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e,done\n";
    let out = plan_command(csv, Some(IGNORE));
    assert_eq!(code(&out), 2);
    let lines = error_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(r#"line 1, column Stauts: unknown column "stauts""#));
    assert!(lines[0].contains("add it to [columns] ignore in pipeline.toml"));
}

#[test]
fn columns_ignore_is_a_list_of_headers_never_a_mapping() {
    let e = config_problems("[columns]\nignore = \"Status\"\n");
    assert!(
        e.contains(r#"[columns] ignore: must be a list of header names, like ignore = ["Status", "Approved by"], got string"#),
        "{e}"
    );
    let e = config_problems("[columns]\nignore = [\"Status\", 3]\n");
    assert!(e.contains("got a list holding integer"), "{e}");
    let e = config_problems("[columns]\nignore = [\" \"]\n");
    assert!(e.contains("a header to ignore may not be blank"), "{e}");
    let e = config_problems("[columns]\nignore = [\"Status\"]\n\"status \" = \"key\"\n");
    assert!(
        e.contains(r#""Status" is both ignored and mapped by "status " in [columns]; keep one"#),
        "{e}"
    );
    // A header named "Ignore" is still mapped, by its own spelling.
    let s = settings("[columns]\n\"Ignore\" = \"script\"\nignore = [\"Status\"]\n");
    let p = plan_with(
        b"ignore,avatar,status\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e,x\n",
        &s,
    )
    .unwrap();
    assert_eq!(p.videos[0].body.video_inputs.len(), 1);
    // Through the binary: a config error, exit 2.
    let out = plan_command(
        "script,avatar\nHi,edb9719c-42af-5c7f-83d5-b7de95567b5e\n",
        Some("[columns]\nignore = 1\n"),
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("[columns] ignore: must be a list"));
}

#[test]
fn key_beside_video_labels_the_scenes() {
    let csv = "key,video,script,avatar\n\
               1,launch,One,edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               2,launch,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               3,,Solo,edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               4,outro,Bye,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    let p = plan(csv.as_bytes()).unwrap();
    let got: Vec<(&str, Vec<&str>)> = p
        .videos
        .iter()
        .map(|v| {
            (
                v.key.as_str(),
                v.scene_labels.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("launch", vec!["1", "2"]),
            ("3", vec![]),
            ("outro", vec!["4"])
        ]
    );
    let out = plan_command(csv, None);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // A label repeated within a video names both lines; the same label in another video
    // is fine.
    let csv = "key,video,script,avatar\n\
               1,launch,One,edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               1,launch,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e\n\
               1,outro,Bye,edb9719c-42af-5c7f-83d5-b7de95567b5e\n";
    assert_eq!(
        problems(csv.as_bytes()),
        [
            r#"line 3, column key: scene label "1" is also on line 2, in the same video "launch": with a video column, the key names the scene within its video; make the labels differ"#
        ]
    );
}

#[test]
fn one_kind_of_error_never_hides_another() {
    // Numbered rows grouped by video, with a repeated scene label, a scene whose aspect
    // disagrees, a scene over the volume limit in that same video, a cell that cannot be
    // read, and a duplicate video whose row also lacks an avatar.
    let csv = "key,video,script,avatar,aspect,voice_volume\n\
               1,launch,One,edb9719c-42af-5c7f-83d5-b7de95567b5e,9x16,\n\
               2,launch,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,1.5\n\
               2,launch,Three,edb9719c-42af-5c7f-83d5-b7de95567b5e,,\n\
               4,outro,Bye,edb9719c-42af-5c7f-83d5-b7de95567b5e,,loud\n\
               5,promo,Hey,edb9719c-42af-5c7f-83d5-b7de95567b5e,,\n\
               6,launch,Again,,,\n";
    let want = [
        r#"line 3, column aspect: "16x9" differs from "9x16" on line 2; the rows of video "launch" must agree on video-level fields (or leave them empty after the first)"#,
        "line 3, column voice_volume: must be between 0 and 1, got 1.5",
        r#"line 4, column key: scene label "2" is also on line 3, in the same video "launch": with a video column, the key names the scene within its video; make the labels differ"#,
        r#"line 5, column voice_volume: "loud" is not a number"#,
        r#"line 7, column video: video "launch" already appeared on line 2; a video's scenes must be consecutive rows, and video values and keys must be unique"#,
        "line 7, column avatar: every scene needs an avatar",
    ];
    assert_eq!(problems(csv.as_bytes()), want);
    let out = plan_command(csv, None);
    assert_eq!(code(&out), 2);
    assert_eq!(error_lines(&out), want);

    // Without a key column: a disagreement does not hide the API's rules in that video.
    let csv = "video,script,avatar,aspect,voice_volume\n\
               v,One,edb9719c-42af-5c7f-83d5-b7de95567b5e,9x16,\n\
               v,Two,edb9719c-42af-5c7f-83d5-b7de95567b5e,16x9,1.5\n";
    assert_eq!(
        problems(csv.as_bytes()),
        [
            r#"line 3, column aspect: "16x9" differs from "9x16" on line 2; the rows of video "v" must agree on video-level fields (or leave them empty after the first)"#,
            "line 3, column voice_volume: must be between 0 and 1, got 1.5",
        ]
    );
    // A duplicate key does not hide the row's own problems.
    assert_eq!(
        problems(b"key,script,avatar\na,Hi,edb9719c-42af-5c7f-83d5-b7de95567b5e\na,Yo,\n"),
        [
            r#"line 3, column key: duplicate key "a": also on line 2; keys must be unique"#,
            "line 3, column avatar: every scene needs an avatar",
        ]
    );
}
