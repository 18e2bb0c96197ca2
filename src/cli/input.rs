//! The sheet argument of `plan` and `run`: a file (CSV or workbook) or a link, read and
//! planned, with the batch name and identity that go with it.

use std::path::{Path, PathBuf};

use crate::batch::{Place, Source};
use crate::catalog::check::IdCheck;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::plan::{self, Draft, Plan};

use super::account::Account;
use crate::sheet::remote::{self, Fetched, Link};

/// A sheet's bytes, read from its file or fetched from its link, ready to be planned once.
pub(super) struct Loaded {
    /// What names the sheet in messages (its path, or its link).
    name: PathBuf,
    /// The file's bytes (empty for a link: they are in `fetched`).
    bytes: Vec<u8>,
    /// The extension that says a workbook's kind when its bytes do not.
    ext: Option<String>,
    /// The tab to read.
    tab: Option<String>,
    /// The link and its bytes, when the sheet was given by its link.
    pub fetched: Option<(Link, Fetched)>,
}

impl Loaded {
    /// The sheet planned once, its ids not checked yet ([`plan::Draft`]). A file's bytes are
    /// let go once read, so that a 100k-row plan does not also hold its file (a link's are
    /// kept: the run keeps a copy of what it fetched).
    pub fn draft(&mut self, settings: &Settings) -> Result<Draft, plan::PlanError> {
        let bytes = match &self.fetched {
            Some((_, f)) => &f.bytes,
            None => &self.bytes,
        };
        let (sheet, tab) =
            plan::read_sheet(&self.name, bytes, self.ext.as_deref(), self.tab.as_deref())?;
        self.bytes = Vec::new();
        Draft::new(&self.name, sheet, tab, settings)
    }

    /// The plan of `draft` (a link's batch named after its link), or its problems.
    pub fn finish(&self, draft: Draft) -> Result<Plan, plan::PlanError> {
        let mut plan = draft.finish()?;
        if let Some((link, _)) = &self.fetched {
            plan.batch = link.name.clone();
        }
        Ok(plan)
    }

    /// The problems of `draft`, if it has any ([`Loaded::finish`] of a failed draft).
    pub fn problems(&self, draft: Result<Draft, plan::PlanError>) -> Option<plan::PlanError> {
        match draft {
            Ok(d) if !d.failed() => None,
            Ok(d) => self.finish(d).err(),
            Err(e) => Some(e),
        }
    }
}

/// Checks the ids of `draft` against `catalog`; when the check would fail and `look_up`,
/// the API is asked first about the avatar ids the catalogue does not list (maybe the
/// account's own), so that the sheet is planned once and checked once.
pub(super) async fn check_ids(
    account: &Account,
    settings: &Settings,
    catalog: &mut Catalog,
    draft: &mut Draft,
    look_up: bool,
    shape: impl Fn(&mut IdCheck<'_>),
) {
    let mut ids = IdCheck::new(catalog, &settings.catalog.known_ids);
    shape(&mut ids);
    let fails = ids.judge(draft.videos()) || draft.failed();
    let unlisted = std::mem::take(&mut ids.unlisted);
    if look_up && fails && !unlisted.is_empty() {
        drop(ids);
        account.look_up(settings, catalog, &unlisted).await;
        let mut ids = IdCheck::new(catalog, &settings.catalog.known_ids);
        shape(&mut ids);
        draft.check(&mut ids);
    } else {
        draft.check(&mut ids);
    }
}

/// Reads `sheet` (a path or an `https://` link), tab `tab` of a workbook.
pub(super) async fn read(sheet: &Path, tab: Option<&str>) -> Result<Loaded, String> {
    let Some(url) = sheet.to_str().filter(|s| remote::is_url(s)) else {
        let bytes = std::fs::read(sheet).map_err(|source| {
            plan::PlanError::Io {
                path: sheet.to_path_buf(),
                source,
            }
            .to_string()
        })?;
        return Ok(Loaded {
            name: sheet.to_path_buf(),
            bytes,
            ext: sheet
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_owned),
            tab: tab.map(str::to_owned),
            fetched: None,
        });
    };
    let link = remote::parse(url, tab.is_some())?;
    let fetched = remote::fetch(&link).await?;
    Ok(Loaded {
        name: PathBuf::from(&link.original),
        bytes: Vec::new(),
        ext: Some(fetched.kind.extension().to_owned()),
        tab: tab.map(str::to_owned),
        fetched: Some((link, fetched)),
    })
}

/// The batch folder of `sheet` ([`crate::batch::locate`]), a link's named after it, and a
/// tab chosen with `--sheet` a batch of its own (`<stem>-<tab>`): two tabs of one workbook
/// are two batches.
pub(super) fn locate(
    out: &Path,
    sheet: &Path,
    tab: Option<&str>,
    batch: Option<&str>,
    sandbox: bool,
) -> Result<Place, String> {
    let mut place = crate::batch::locate(out, Some(sheet), batch, sandbox)?;
    if place.named || place.feedback {
        return Ok(place);
    }
    let mut name = match sheet.to_str().filter(|s| remote::is_url(s)) {
        Some(url) => remote::parse(url, tab.is_some())?.name,
        None => place.name.clone(),
    };
    if let Some(tab) = tab {
        // Tabs match in any case (`--sheet "SPRING ADS"` reads "Spring ads"): the batch must
        // not depend on how the name was typed, or one tab would be two batches, paid twice.
        name = crate::output::folder_name(&format!("{name}-{}", tab.trim().to_lowercase()));
    }
    if name != place.name {
        place.dir = place.dir.with_file_name(&name);
        place.name = name;
    }
    Ok(place)
}

/// The identity of the sheet: a link's is the link (and the fetched bytes' hash); a tab's
/// is its file and `#tab`.
pub(super) fn source(
    sheet: &Path,
    tab: Option<&str>,
    fetched: Option<&(Link, Fetched)>,
) -> Result<Source, String> {
    let mut source = match fetched {
        Some((link, f)) => Source {
            path: link.original.clone(),
            sha256: f.sha256.clone(),
        },
        None => Source::of(sheet).map_err(|e| format!("cannot read {}: {e}", sheet.display()))?,
    };
    if let (Some(tab), None) = (tab, fetched) {
        source.path = format!("{}#{}", source.path, tab.trim().to_lowercase());
    }
    Ok(source)
}
