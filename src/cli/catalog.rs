//! `creatify-batch avatars` and `voices`: the account's catalogue, filtered, as a table, CSV
//! or JSON. Filters apply to the whole catalogue (cached or fresh), so they work offline
//! too and mean the same as `GET /api/personas/`'s documented filters; a choice outside the
//! documented ones is refused with a did-you-mean.

use std::io::Write;

use crate::catalog::obtain::Mode;
use crate::catalog::table::{self, Format};
use crate::catalog::{Accent, Avatar};
use crate::config::Settings;
use crate::exit::ExitCode;

use super::account::{apply_base_url, exit_for, Account};
use super::{invalid, say_error, AccountArgs, AvatarsArgs, VoicesArgs};

/// The documented choices of a filter, with the words people also type for them.
const GENDERS: &[(&str, &[&str])] = &[
    ("male", &["m", "male", "man"]),
    ("female", &["f", "female", "woman"]),
    (
        "non-binary",
        &["nb", "non-binary", "non_binary", "nonbinary"],
    ),
];
const AGES: &[&str] = &["child", "teen", "adult", "senior"];
const STYLES: &[&str] = &["selfie", "presenter", "other"];
const LOCATIONS: &[&str] = &["outdoor", "fantasy", "indoor", "other"];

/// The canonical genders `asked` names.
fn genders(asked: &[String]) -> Result<Vec<&'static str>, String> {
    asked
        .iter()
        .map(|g| {
            let g = g.trim().to_lowercase();
            GENDERS
                .iter()
                .find(|(_, words)| words.contains(&g.as_str()))
                .map(|(canon, _)| *canon)
                .ok_or_else(|| format!("--gender: unknown gender {g:?}; use m, f or nb"))
        })
        .collect()
}

/// `asked`, each one of `choices` (any case).
fn choices(flag: &str, asked: &[String], choices: &[&str]) -> Result<Vec<String>, String> {
    asked
        .iter()
        .map(|a| {
            let a = a.trim().to_lowercase();
            if choices.contains(&a.as_str()) {
                return Ok(a);
            }
            let hint = crate::plan::values::suggest(&a, choices)
                .map(|c| format!(" (did you mean {c:?}?)"))
                .unwrap_or_default();
            Err(format!(
                "--{flag}: unknown choice {a:?}{hint}; the choices are {}",
                choices.join(", ")
            ))
        })
        .collect()
}

fn format_of(csv: bool, json: bool) -> Format {
    match (csv, json) {
        (true, _) => Format::Csv,
        (_, true) => Format::Json,
        _ => Format::Table,
    }
}

fn settings_for(account: &AccountArgs) -> Result<Settings, String> {
    let mut s = Settings::load(account.config.as_deref()).map_err(|e| e.to_string())?;
    apply_base_url(&mut s, account.base_url.as_deref())?;
    Ok(s)
}

/// Opens the account and gets its catalogue, or says why not (the exit code).
async fn load(account: &AccountArgs) -> anyhow::Result<Result<crate::catalog::Catalog, ExitCode>> {
    let settings = match settings_for(account) {
        Ok(s) => s,
        Err(e) => return invalid(e).map(Err),
    };
    let acc = Account::open(&settings, account.sandbox).await?;
    let mode = Mode {
        refresh: account.refresh,
        offline: false,
    };
    match acc.catalogue(&settings, mode).await {
        Ok((catalog, origin)) => {
            eprintln!(
                "catalogue {}{}",
                origin.words(),
                match origin {
                    crate::catalog::obtain::Origin::Cached(_) => "; --refresh fetches it again",
                    _ => "",
                }
            );
            Ok(Ok(catalog))
        }
        Err(e) => {
            say_error(&e);
            Ok(Err(exit_for(&e)))
        }
    }
}

fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.trim().to_lowercase())
}

pub(super) async fn avatars(args: AvatarsArgs) -> anyhow::Result<ExitCode> {
    let filters = (|| {
        Ok::<_, String>((
            genders(&args.list.gender)?,
            choices("age", &args.age, AGES)?,
            choices("style", &args.style, STYLES)?,
            choices("location", &args.location, LOCATIONS)?,
        ))
    })();
    let (gender, age, style, location) = match filters {
        Ok(f) => f,
        Err(e) => return invalid(e),
    };
    let catalog = match load(&args.account).await? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let keep = |wanted: &[String], actual: &str| {
        wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(actual))
    };
    let shown: Vec<&Avatar> = catalog
        .avatars
        .iter()
        .filter(|a| gender.is_empty() || gender.contains(&a.gender.as_str()))
        .filter(|a| keep(&age, &a.age) && keep(&style, &a.style) && keep(&location, &a.location))
        .filter(|a| {
            args.list
                .name
                .as_deref()
                .is_none_or(|n| contains(&a.name, n))
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    table::write_avatars(&shown, format_of(args.list.csv, args.list.json), &mut out)?;
    out.flush()?;
    eprintln!("{} of {} avatars", shown.len(), catalog.avatars.len());
    Ok(ExitCode::Success)
}

pub(super) async fn voices(args: VoicesArgs) -> anyhow::Result<ExitCode> {
    let gender = match genders(&args.list.gender) {
        Ok(g) => g,
        Err(e) => return invalid(e),
    };
    let catalog = match load(&args.account).await? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let shown: Vec<&Accent> = catalog
        .accents
        .iter()
        .filter(|a| gender.is_empty() || gender.contains(&a.gender.as_str()))
        .filter(|a| {
            args.accent.is_empty()
                || args
                    .accent
                    .iter()
                    .any(|t| contains(&a.accent, t) || contains(&a.voice, t))
        })
        .filter(|a| {
            args.list
                .name
                .as_deref()
                .is_none_or(|n| contains(&a.voice, n))
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    table::write_voices(&shown, format_of(args.list.csv, args.list.json), &mut out)?;
    out.flush()?;
    eprintln!(
        "{} of {} accents (the id column is what a sheet's voice column takes)",
        shown.len(),
        catalog.accents.len()
    );
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_words_are_read_as_people_type_them() {
        assert_eq!(
            genders(&["F".into(), "non_binary".into()]).unwrap(),
            ["female", "non-binary"]
        );
        assert!(genders(&["x".into()]).is_err());
        let e = choices("age", &["senor".into()], AGES).unwrap_err();
        assert!(e.contains(r#"did you mean "senior"?"#), "{e}");
    }
}
