//! `creatify-batch init [DIR]`: a new project's two files, the commented `pipeline.toml`
//! (the repository's own, which documents every setting) and a starter `batch.csv` whose
//! avatar and voice ids are real: the account's when credentials are set, else the
//! sandbox's. Both files are checked first and written with `create_new`, so an existing
//! file is never overwritten; if the second cannot be written, the first is taken back.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::obtain::Mode;
use crate::catalog::{Accent, Avatar, Catalog};
use crate::config::Settings;
use crate::exit::ExitCode;

use super::account::{apply_base_url, exit_for, Account};
use super::{invalid, say_error, InitArgs};

/// The repository's `pipeline.toml`: every setting at its default, commented.
const PIPELINE_TOML: &str = include_str!("../../pipeline.toml");

/// The starter rows: (video, name, script, aspect ratio, note); rows with the same video
/// are its scenes.
const ROWS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "welcome",
        "Welcome",
        "Hi, and welcome! This video was made from one row of a spreadsheet.",
        "9x16",
        "one row, one video",
    ),
    (
        "spring-sale",
        "Spring sale",
        "Spring is here: everything is thirty percent off until Sunday. Tap the link and treat yourself.",
        "1x1",
        "",
    ),
    (
        "how-it-works",
        "How it works",
        "Making a video takes three steps. First, write your script in a sheet.",
        "16x9",
        "rows with the same video value are the scenes of one video",
    ),
    (
        "how-it-works",
        "",
        "Then pick an avatar and a voice. Finally, run creatify-batch and watch the videos arrive.",
        "",
        "",
    ),
];

/// Up to three avatars that can speak, different people first, each with an accent of the
/// same gender when there is one.
fn cast(catalog: &Catalog) -> Vec<(&Avatar, &Accent)> {
    let ready: Vec<&Avatar> = catalog
        .avatars
        .iter()
        .filter(|a| !a.own && a.not_ready().is_none())
        .collect();
    let mut picked: Vec<&Avatar> = Vec::new();
    for a in &ready {
        if picked.len() < 3 && !picked.iter().any(|p| p.name == a.name) {
            picked.push(a);
        }
    }
    let mut used: Vec<&str> = Vec::new();
    picked
        .into_iter()
        .filter_map(|a| {
            let accent = catalog
                .accents
                .iter()
                .find(|v| v.gender == a.gender && !used.contains(&v.voice.as_str()))
                .or_else(|| catalog.accents.iter().find(|v| v.gender == a.gender))
                .or_else(|| catalog.accents.first())?;
            used.push(&accent.voice);
            Some((a, accent))
        })
        .collect()
}

fn starter_sheet(catalog: &Catalog) -> Result<Vec<u8>, String> {
    let cast = cast(catalog);
    if cast.is_empty() {
        return Err(
            "the catalogue has no avatar that can speak and no voice to pair it with; \
             check `creatify-batch avatars` and `creatify-batch voices`"
                .into(),
        );
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "video",
        "name",
        "script",
        "avatar",
        "voice",
        "aspect_ratio",
        "notes",
    ];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    let mut people = cast.iter().cycle();
    let mut current = ("", cast[0]);
    for (video, name, script, aspect, note) in ROWS {
        if *video != current.0 {
            if let Some(next) = people.next() {
                current = (video, *next);
            }
        }
        let (avatar, accent) = current.1;
        rows.push(vec![
            video.to_string(),
            name.to_string(),
            script.to_string(),
            avatar.id.clone(),
            accent.id.clone(),
            aspect.to_string(),
            note.to_string(),
        ]);
    }
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Writes `bytes` to a new file at `path`; an existing file is an error.
fn create(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

pub(super) async fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone();
    let files: [PathBuf; 2] = [dir.join("pipeline.toml"), dir.join("batch.csv")];
    if let Some(there) = files.iter().find(|f| f.exists()) {
        return invalid(format!(
            "{} already exists; init never overwrites a file: move it away, or init another \
             folder (creatify-batch init DIR)",
            there.display()
        ));
    }
    let mut settings = Settings::default();
    if let Err(e) = apply_base_url(&mut settings, args.base_url.as_deref()) {
        return invalid(e);
    }
    let has_credentials =
        crate::api::Credentials::from_env(&settings.api.id_env, &settings.api.key_env).is_ok();
    let sandbox = args.sandbox || !has_credentials;
    let account = Account::open(&settings, sandbox).await?;
    let catalog = match account.catalogue(&settings, Mode::default()).await {
        Ok((c, _)) => c,
        Err(e) => {
            say_error(&e);
            return Ok(exit_for(&e));
        }
    };
    let sheet = match starter_sheet(&catalog) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return invalid(format!("cannot create {}: {e}", dir.display()));
    }
    if let Err(e) = create(&files[0], PIPELINE_TOML.as_bytes()) {
        return invalid(format!("cannot write {}: {e}", files[0].display()));
    }
    if let Err(e) = create(&files[1], &sheet) {
        let _ = std::fs::remove_file(&files[0]);
        return invalid(format!(
            "cannot write {}: {e}; nothing was left behind",
            files[1].display()
        ));
    }
    let whose = if sandbox {
        "the sandbox's catalogue"
    } else {
        "this account's catalogue"
    };
    println!(
        "wrote {} (every setting, commented) and {} (3 videos, ids from {whose})",
        files[0].display(),
        files[1].display()
    );
    println!("next:");
    if dir != Path::new(".") {
        println!("  cd {}", dir.display());
    }
    let flag = if sandbox { " --sandbox" } else { "" };
    println!("  creatify-batch plan batch.csv{flag}");
    println!("  creatify-batch run batch.csv{flag}");
    if sandbox {
        println!(
            "(--sandbox rehearses against a simulated API: no account, no credits. Other \
             ids: creatify-batch avatars --sandbox, creatify-batch voices --sandbox)"
        );
    } else {
        println!("(other ids: creatify-batch avatars, creatify-batch voices)");
    }
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_starter_sheet_casts_ready_avatars_with_voices_of_their_gender() {
        let c = Catalog::from_items(
            vec![
                json!({"id": "old", "creator_name": "Old", "gender": "m", "is_active": false}),
                json!({"id": "a1", "creator_name": "Ana", "gender": "f"}),
                json!({"id": "a2", "creator_name": "Ana", "gender": "f"}),
                json!({"id": "b1", "creator_name": "Bo", "gender": "m"}),
            ],
            vec![
                json!({"name": "Vi", "gender": "female", "accents": [{"id": "vf"}]}),
                json!({"name": "Max", "gender": "male", "accents": [{"id": "vm"}]}),
            ],
            0,
        );
        let text = String::from_utf8(starter_sheet(&c).unwrap()).unwrap();
        assert!(
            text.contains(",a1,vf,") && text.contains(",b1,vm,"),
            "{text}"
        );
        assert!(!text.contains("old") && !text.contains("a2"));
        assert!(starter_sheet(&Catalog::default()).is_err());
    }
}
