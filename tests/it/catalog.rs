//! Know the account: the `avatars` and `voices` commands, the cached catalogue, ids checked
//! before a credit is spent (unknown ids, ids of the wrong kind, names, the account's own
//! avatars), and `init`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use creatify_batch::sandbox::{Faults, CUSTOM, PERSONAS, VOICES};
use serde_json::Value;

use crate::support::{calls_to, Harness, BIN};

/// The binary with `args`, in the harness's folder, with its credentials (unless `creds`
/// is false) and its own cache folder.
fn cli(h: &Harness, args: &[&str], creds: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(h.dir.path())
        .args(args)
        .env("XDG_CACHE_HOME", h.dir.path().join("cache"))
        .env_remove("CREATIFY_BASE_URL")
        .env_remove("CREATIFY_API_ID")
        .env_remove("CREATIFY_API_KEY")
        .stdin(Stdio::null());
    if creds {
        cmd.env("CREATIFY_API_ID", &h.id)
            .env("CREATIFY_API_KEY", &h.key);
    }
    cmd.output().expect("binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn persona_calls(h: &Harness) -> u64 {
    calls_to(h, "GET /api/personas/")
}

/// A harness whose catalogue is not cached yet.
async fn harness(faults: Faults) -> Harness {
    let h = Harness::start(faults, |_| {}).await;
    std::fs::remove_dir_all(h.dir.path().join("cache")).expect("cache removed");
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn avatars_and_voices_print_a_table_csv_and_json_with_filters() {
    let h = harness(Faults::default()).await;
    let url = h.sandbox.base_url();
    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &[
                "avatars",
                "--base-url",
                &url,
                "--gender",
                "f",
                "--age",
                "senior,adult",
                "--csv",
            ],
            true,
        )
    });
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let mut csv = csv::Reader::from_reader(o.stdout.as_slice());
    let ids: Vec<String> = csv.records().map(|r| r.unwrap()[0].to_owned()).collect();
    let expected: Vec<&str> = PERSONAS
        .iter()
        .filter(|p| p.gender == "f" && (p.age_range == "senior" || p.age_range == "adult"))
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, expected);

    let o =
        tokio::task::block_in_place(|| cli(&h, &["avatars", "--base-url", &url, "--json"], true));
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(all.len(), PERSONAS.len());
    assert_eq!(all.iter().filter(|a| a["active"] == false).count(), 1);

    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &["avatars", "--base-url", &url, "--style", "presenter"],
            true,
        )
    });
    let (table, _) = text(&o);
    assert!(table.starts_with("id "), "{table}");
    assert_eq!(
        table.lines().count() - 1,
        PERSONAS.iter().filter(|p| p.style == "presenter").count()
    );

    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &[
                "voices",
                "--base-url",
                &url,
                "--accent",
                "british",
                "--json",
            ],
            true,
        )
    });
    let british: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let expected = VOICES
        .iter()
        .flat_map(|v| v.accents)
        .filter(|a| a.1 == "British")
        .count();
    assert_eq!(british.len(), expected);
    assert!(british
        .iter()
        .all(|a| a["accent"] == "British" && a["preview"].is_string()));
    let o = tokio::task::block_in_place(|| {
        cli(&h, &["voices", "--base-url", &url, "--gender", "nb"], true)
    });
    let (table, _) = text(&o);
    assert!(
        table.lines().skip(1).all(|l| l.contains("non-binary")),
        "{table}"
    );

    let o = tokio::task::block_in_place(|| {
        cli(&h, &["avatars", "--base-url", &url, "--age", "senor"], true)
    });
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains(r#"did you mean "senior"?"#),
        "{:?}",
        text(&o)
    );
    // One fetch: the later commands read the cache.
    assert_eq!(persona_calls(&h), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn paginated_catalogue_answers_are_read_whole() {
    let faults: Faults = toml::from_str("[api]\ncatalog = \"drf_page\"\npage_size = 7\n").unwrap();
    let h = harness(faults).await;
    let url = h.sandbox.base_url();
    let o =
        tokio::task::block_in_place(|| cli(&h, &["avatars", "--base-url", &url, "--json"], true));
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(all.len(), PERSONAS.len());
    assert_eq!(persona_calls(&h), PERSONAS.len().div_ceil(7) as u64);
    let o =
        tokio::task::block_in_place(|| cli(&h, &["voices", "--base-url", &url, "--json"], true));
    let accents: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        accents.len(),
        VOICES.iter().map(|v| v.accents.len()).sum::<usize>()
    );
}

/// A sheet with every kind of wrong id, one per line (lines 2..).
fn bad_sheet() -> String {
    let ava = PERSONAS[0].id;
    let accent = VOICES[0].accents[0].0;
    let processing = CUSTOM[1].persona.id;
    format!(
        "key,script,avatar,voice\n\
         upper,Hello,{upper},{accent}\n\
         cut,Hello,{cut},{accent}\n\
         swapped,Hello,{accent},{ava}\n\
         ambiguous,Hello,Ava,{accent}\n\
         typo,Hello,Marcoo,{accent}\n\
         unready,Hello,{processing},{accent}\n",
        upper = ava.to_uppercase(),
        cut = &ava[..ava.len() - 1],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn run_refuses_unknown_ids_all_at_once_before_any_creation() {
    let h = harness(Faults::default()).await;
    let sheet = h.sheet("bad.csv", &bad_sheet());
    let o = h.run(&sheet, &[]).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let ava = PERSONAS[0].id;
    for line in [
        format!(
            "line 2, column avatar: unknown avatar \"{}\" (did you mean \"{ava}\"?)",
            ava.to_uppercase()
        ),
        format!(
            "line 3, column avatar: unknown avatar \"{}\" (did you mean \"{ava}\"?)",
            &ava[..ava.len() - 1]
        ),
        format!(
            "line 4, column avatar: \"{}\" is a voice accent id (Ava (American)), not an avatar",
            VOICES[0].accents[0].0
        ),
        format!("line 4, column voice: \"{ava}\" is an avatar id (Ava), not a voice"),
        "line 5, column avatar: avatar name \"Ava\" is ambiguous: 2 avatars have it".to_owned(),
        format!(
            "line 6, column avatar: unknown avatar \"Marcoo\" (did you mean \"Marco\", {}?)",
            PERSONAS[2].id
        ),
        "line 7, column avatar: warning: avatar".to_owned(),
    ] {
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    assert!(err.contains("nothing was submitted"));
    let stats = h.stats();
    assert_eq!(stats.jobs_created, 0);
    assert!(!stats.requests.contains_key("POST /api/lipsyncs_v2/"));
    assert!(
        !h.batch_dir("bad").exists(),
        "no batch folder for a refused sheet"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_checks_offline_from_the_cache_and_fetches_a_stale_one_again() {
    let h = harness(Faults::default()).await;
    let url = h.sandbox.base_url();
    std::fs::write(h.dir.path().join("bad.csv"), bad_sheet()).unwrap();
    // Nothing cached, offline: the plan says the ids went unchecked.
    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &["plan", "bad.csv", "--offline", "--base-url", &url],
            true,
        )
    });
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        text(&o).0.contains("ids not checked (--offline)"),
        "{:?}",
        text(&o)
    );
    assert_eq!(persona_calls(&h), 0);
    // With credentials, plan fetches and caches.
    let o = tokio::task::block_in_place(|| cli(&h, &["plan", "bad.csv", "--base-url", &url], true));
    assert_eq!(o.status.code(), Some(2));
    let calls = persona_calls(&h);
    assert!(calls >= 1);
    // Offline, and without credentials: the cache answers, the API is not asked.
    for (args, creds) in [
        (
            vec!["plan", "bad.csv", "--offline", "--base-url", &url],
            true,
        ),
        (vec!["plan", "bad.csv", "--base-url", &url], false),
    ] {
        let o = tokio::task::block_in_place(|| cli(&h, &args, creds));
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("is ambiguous") && err.contains("cached"),
            "{err}"
        );
    }
    assert_eq!(persona_calls(&h), calls);
    // A cache older than [catalog] max_age_hours is fetched again; --refresh too.
    std::fs::write(
        h.dir.path().join("stale.toml"),
        "[catalog]\nmax_age_hours = 0\n",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &["plan", "bad.csv", "-c", "stale.toml", "--base-url", &url],
            true,
        )
    });
    assert!(text(&o).1.contains("fetched now"), "{:?}", text(&o));
    assert!(persona_calls(&h) > calls);
    let before = persona_calls(&h);
    let o = tokio::task::block_in_place(|| {
        cli(&h, &["avatars", "--refresh", "--base-url", &url], true)
    });
    assert_eq!(o.status.code(), Some(0));
    assert!(persona_calls(&h) > before);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_resolve_to_ids_and_the_accounts_own_avatars_are_found_by_id() {
    let h = harness(Faults::default()).await;
    let sheet = h.sheet(
        "names.csv",
        &format!(
            "key,script,avatar,voice\nmarco,Hola,marco,Ava (British)\nown,Hello,{},theo\n",
            CUSTOM[0].persona.id
        ),
    );
    let url = h.sandbox.base_url();
    let o = tokio::task::block_in_place(|| {
        cli(
            &h,
            &["plan", "names.csv", "--json", "--base-url", &url],
            true,
        )
    });
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let bodies: Vec<Value> = text(&o)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scene = &bodies[0]["video_inputs"][0];
    assert_eq!(scene["character"]["avatar_id"], PERSONAS[2].id);
    assert_eq!(scene["voice"]["voice_id"], VOICES[0].accents[1].0);
    assert_eq!(
        bodies[1]["video_inputs"][0]["character"]["avatar_id"],
        CUSTOM[0].persona.id
    );
    let o = h.run(&sheet, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(h.stats().jobs_created, 2);
    // The report says who speaks, by the catalogue's names.
    let report = std::fs::read_to_string(h.batch_dir("names").join("report.html")).unwrap();
    let marco = format!("Marco ({})", PERSONAS[2].id);
    assert!(report.contains(&marco), "no {marco:?} in the report");
    assert!(
        report.contains("Ava (British)"),
        "no voice name in the report"
    );
}

fn bare(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env_remove("CREATIFY_API_ID")
        .env_remove("CREATIFY_API_KEY")
        .env_remove("CREATIFY_BASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

#[test]
fn init_then_a_sandbox_run_in_an_empty_folder_makes_its_videos() {
    let dir = tempfile::tempdir().unwrap();
    let o = bare(dir.path(), &["init", "new"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains("creatify-batch plan batch.csv --sandbox"),
        "{out}"
    );
    assert!(
        out.contains("creatify-batch run batch.csv --sandbox"),
        "{out}"
    );
    let project = dir.path().join("new");
    let sheet = std::fs::read_to_string(project.join("batch.csv")).unwrap();
    assert!(PERSONAS.iter().any(|p| sheet.contains(p.id)), "{sheet}");
    let o = bare(&project, &["run", "batch.csv", "--sandbox"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let videos = std::fs::read_dir(project.join("out/sandbox/batch"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("video.mp4").exists())
        .count();
    assert_eq!(videos, 3);
    // Never overwrites: a second init refuses and leaves the files as they were.
    std::fs::write(project.join("batch.csv"), "mine").unwrap();
    let o = bare(&project, &["init"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(project.join("batch.csv")).unwrap(),
        "mine"
    );
}

#[test]
fn a_sheet_with_its_own_errors_gets_its_id_errors_in_the_same_list() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/invalid.csv");
    let o = bare(dir.path(), &["plan", sample.to_str().unwrap(), "--sandbox"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for said in [
        "line 3, column script: may not be blank",
        "line 9, column avatar: \"52825997-e2f1-5148-a3f3-620a6cb2bacf\" is a voice accent id",
        "line 10, column avatar: unknown avatar \"Marcoo\" (did you mean \"Marco\"",
        "line 10, column voice: voice name \"Ava\" is ambiguous",
    ] {
        assert!(err.contains(said), "missing {said:?} in:\n{err}");
    }
    // Without the sandbox and with nothing cached, no API is asked: the ids wait.
    let o = bare(dir.path(), &["plan", sample.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("ids not checked yet"), "{err}");
    assert!(!err.contains("Marcoo"), "{err}");
}
