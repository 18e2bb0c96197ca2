//! `[matrix]`: rows expanded into their variants, exclude/include, keys that stay put when
//! a value is added, the guard, and problems that point at the row and the matrix entry.

use std::collections::BTreeMap;

use creatify_batch::plan::{plan_bytes, Plan, PlanError};

use super::*;

fn sheet() -> String {
    format!(
        "key,script,avatar\nspring,Spring is here.,{a}\nsummer,Summer is here.,\n",
        a = avatar()
    )
}

fn plan_csv(csv: &str, toml: &str) -> Result<Plan, PlanError> {
    plan_bytes(
        std::path::Path::new("s.csv"),
        csv.as_bytes(),
        &settings(toml),
    )
}

fn keys(p: &Plan) -> Vec<String> {
    p.videos.iter().map(|v| v.key.clone()).collect()
}

fn bodies(p: &Plan) -> BTreeMap<String, String> {
    p.videos
        .iter()
        .map(|v| (v.key.clone(), serde_json::to_string(&v.body).unwrap()))
        .collect()
}

fn matrix(avatars: &[&str], extra: &str) -> String {
    let list: Vec<String> = avatars.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[matrix]\navatar = [{}]\naspect_ratio = [\"9:16\", \"1:1\"]\n{extra}",
        list.join(", ")
    )
}

#[test]
fn each_row_expands_into_the_cross_product_with_keys_naming_the_values() {
    let p = plan_csv(&sheet(), &matrix(&[avatar(), avatar2()], "")).unwrap();
    let (a, b) = (avatar(), avatar2());
    assert_eq!(
        keys(&p),
        [
            format!("spring~aspect_ratio=9-16~avatar={a}"),
            format!("spring~aspect_ratio=1-1~avatar={a}"),
            format!("summer~aspect_ratio=9-16~avatar={a}"),
            format!("summer~aspect_ratio=9-16~avatar={b}"),
            format!("summer~aspect_ratio=1-1~avatar={a}"),
            format!("summer~aspect_ratio=1-1~avatar={b}"),
        ],
        "spring's avatar cell pins its avatar; summer's empty cell takes every value"
    );
    let v = &p.videos[3];
    assert_eq!(v.variant_of.as_deref(), Some("summer"));
    assert_eq!(v.lines, [3], "a variant keeps its row's line");
    assert_eq!(
        v.body.video_inputs[0].character.as_ref().unwrap().avatar_id,
        b
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("[matrix] aspect_ratio × avatar: 2 rows → 6 videos")),
        "{:?}",
        p.notes
    );
}

#[test]
fn adding_a_value_adds_variants_and_changes_no_other() {
    let before = plan_csv(&sheet(), &matrix(&[avatar()], "")).unwrap();
    let after = plan_csv(&sheet(), &matrix(&[avatar(), avatar2()], "")).unwrap();
    let (before, after) = (bodies(&before), bodies(&after));
    assert_eq!(before.len(), 4);
    assert_eq!(after.len(), 6);
    for (key, body) in &before {
        assert_eq!(after.get(key), Some(body), "{key} kept its key and body");
    }
}

#[test]
fn exclude_and_include_work_as_in_github_actions() {
    let extra = format!(
        "exclude = [{{ avatar = {b:?}, aspect_ratio = \"1:1\" }}]\n\
         include = [{{ aspect_ratio = \"1:1\", visual_style = \"Vlog\" }}, {{ aspect_ratio = \"16:9\", avatar = {b:?} }}]\n",
        b = avatar2()
    );
    let csv = "key,script\nk,Hello there.\n";
    let p = plan_csv(csv, &matrix(&[avatar(), avatar2()], &extra)).unwrap();
    let (a, b) = (avatar(), avatar2());
    assert_eq!(
        keys(&p),
        [
            format!("k~aspect_ratio=9-16~avatar={a}"),
            format!("k~aspect_ratio=9-16~avatar={b}"),
            format!("k~aspect_ratio=1-1~avatar={a}~visual_style=Vlog"),
            format!("k~aspect_ratio=16-9~avatar={b}"),
        ]
    );
    assert_eq!(
        serde_json::to_value(&p.videos[2].body.video_inputs[0].visual_style).unwrap(),
        "Vlog"
    );
}

#[test]
fn cells_can_list_several_values() {
    let csv = format!(
        "key,script,avatar\nk,Hello there.,{}|{}\n",
        avatar(),
        avatar2()
    );
    let p = plan_csv(&csv, "[matrix]\ncolumns = [\"avatar\"]\n").unwrap();
    assert_eq!(
        keys(&p),
        [
            format!("k~avatar={}", avatar()),
            format!("k~avatar={}", avatar2())
        ]
    );
}

#[test]
fn rows_without_keys_get_their_derived_key_and_the_values() {
    let csv = "script,avatar\nHello there.,\n";
    // The row as written (its avatar from [defaults]) has the key the variant starts with.
    let plain = plan_csv(
        csv,
        &format!("[defaults.character]\navatar_id = {:?}\n", avatar()),
    )
    .unwrap();
    let p = plan_csv(csv, &format!("[matrix]\navatar = [{:?}]\n", avatar())).unwrap();
    let base = &plain.videos[0].key;
    assert!(base.starts_with("row-"));
    assert_eq!(keys(&p), [format!("{base}~avatar={}", avatar())]);
}

#[test]
fn past_max_videos_the_plan_is_refused() {
    let err = plan_csv(
        &sheet(),
        &matrix(&[avatar(), avatar2()], "max_videos = 5\n"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PlanError::Unreadable { .. }), "{msg}");
    assert!(
        msg.contains("the matrix expands the sheet into more than 5 videos"),
        "{msg}"
    );
}

#[test]
fn a_bad_matrix_value_is_reported_once_per_row_naming_the_entry() {
    let p = problems(plan_csv(
        "key,script,avatar\na,Hello.,x\nb,Hi.,x\n",
        "[matrix]\naspect_ratio = [\"9x17\"]\nvisual_style = [\"FullAvatar\", \"Vlog\"]\n",
    ));
    let bad: Vec<&String> = p.iter().filter(|d| d.contains("9x17")).collect();
    assert_eq!(bad.len(), 2, "{p:#?}");
    assert!(
        bad[0].starts_with("line 2, column aspect_ratio: "),
        "{p:#?}"
    );
    assert!(
        bad[0].ends_with("(the value comes from [matrix] aspect_ratio)"),
        "{p:#?}"
    );
}

#[test]
fn a_matrix_name_that_is_not_a_field_is_a_clear_error() {
    let err = plan_csv(&sheet(), "[matrix]\navtar = [\"a\"]\n").unwrap_err();
    assert!(
        err.to_string().contains("[matrix] avtar: not a column"),
        "{err}"
    );
}

#[test]
fn a_multi_scene_video_varies_as_a_whole() {
    let csv = format!(
        "video,script,avatar\npromo,Scene one.,{a}\npromo,Scene two.,{a}\n",
        a = avatar()
    );
    let p = plan_csv(&csv, "[matrix]\naspect_ratio = [\"9:16\", \"1:1\"]\n").unwrap();
    let shape: Vec<(String, usize, Vec<u64>)> = p
        .videos
        .iter()
        .map(|v| (v.key.clone(), v.body.video_inputs.len(), v.lines.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            ("promo~aspect_ratio=9-16".to_owned(), 2, vec![2, 3]),
            ("promo~aspect_ratio=1-1".to_owned(), 2, vec![2, 3]),
        ]
    );
}

#[test]
fn rows_without_a_video_value_vary_by_their_own_key() {
    let csv = format!(
        "video,key,script,avatar\npromo,s1,Scene one.,{a}\npromo,s2,Scene two.,{a}\n,solo,Alone.,{a}\n",
        a = avatar()
    );
    let p = plan_csv(&csv, "[matrix]\naspect_ratio = [\"9:16\", \"1:1\"]\n").unwrap();
    assert_eq!(
        keys(&p),
        [
            "promo~aspect_ratio=9-16",
            "promo~aspect_ratio=1-1",
            "solo~aspect_ratio=9-16",
            "solo~aspect_ratio=1-1"
        ]
    );
    assert_eq!(p.videos[0].scene_labels, ["s1", "s2"]);
    let csv = format!("video,script,avatar\n,Alone.,{a}\n", a = avatar());
    let p = plan_csv(&csv, "[matrix]\naspect_ratio = [\"9:16\", \"1:1\"]\n").unwrap();
    assert!(
        p.videos.iter().all(|v| v.key.starts_with("row-")),
        "{:?}",
        keys(&p)
    );
    assert_eq!(p.videos.len(), 2);
}

#[test]
fn a_run_makes_every_variant_and_a_new_value_renders_only_its_own() {
    use crate::support::{code, manifest_rows, text, FAST_CONFIG};
    let dir = tempfile::tempdir().unwrap();
    let config = |avatars: &[&str]| {
        std::fs::write(
            dir.path().join("pipeline.toml"),
            format!("{FAST_CONFIG}\n{}", matrix(avatars, "")),
        )
        .unwrap();
    };
    std::fs::write(
        dir.path().join("ads.csv"),
        "key,script\nspring,Spring is here.\n",
    )
    .unwrap();
    let run = || {
        cli(
            dir.path(),
            &[
                "run",
                "ads.csv",
                "--sandbox",
                "--sandbox-time-scale",
                "1000",
                "--out",
                "out",
            ],
        )
    };
    let jobs = || -> BTreeMap<String, (String, String)> {
        manifest_rows(&dir.path().join("out/sandbox/ads"))
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_owned(),
                    (
                        r["status"].as_str().unwrap().to_owned(),
                        r["job_id"].as_str().unwrap_or("").to_owned(),
                    ),
                )
            })
            .collect()
    };
    config(&[avatar()]);
    let out = run();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 videos from 1 sheet row"),
        "{}",
        text(&out)
    );
    let first = jobs();
    assert_eq!(first.len(), 2);
    assert!(first.values().all(|(s, _)| s == "downloaded"), "{first:?}");

    config(&[avatar(), avatar2()]);
    let out = run();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let second = jobs();
    assert_eq!(second.len(), 4);
    for (key, job) in &first {
        assert_eq!(
            second.get(key),
            Some(job),
            "{key}: the same job, not rendered again"
        );
    }
    assert!(
        second.values().all(|(s, _)| s == "downloaded"),
        "{second:?}"
    );
}
