//! Where a command's catalogue comes from: the cache while it is fresh, else the API (and
//! the cache is rewritten); a stale cache when the API cannot be read; nothing but the
//! cache with `--offline`. Ids the lists do not show are asked for one by one
//! (`GET /api/personas/{id}/`: the account's own avatars) and kept in the cache too.

use std::time::Duration;

use super::{avatar_of, cache, Catalog};
use crate::api::catalogue::List;
use crate::api::{ApiClient, ApiError};
use crate::batch::Target;
use crate::config::CatalogSettings;

/// How a command wants its catalogue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// Fetch even if the cache is fresh (`--refresh`).
    pub refresh: bool,
    /// Never fetch (`--offline`).
    pub offline: bool,
}

/// Where the catalogue in hand came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Fetched now.
    Fetched,
    /// The cache, this old.
    Cached(Duration),
    /// The cache, this old, because the API could not be read (why).
    Stale(Duration, String),
}

impl Origin {
    /// A phrase for notes: "fetched now", "cached 3 h ago".
    pub fn words(&self) -> String {
        match self {
            Origin::Fetched => "fetched now".into(),
            Origin::Cached(age) => format!("cached {} ago", cache::age_words(*age)),
            Origin::Stale(age, why) => format!(
                "cached {} ago (the API could not be read: {why})",
                cache::age_words(*age)
            ),
        }
    }
}

/// Why there is no catalogue.
#[derive(Debug, thiserror::Error)]
pub enum ObtainError {
    /// `--offline` and nothing cached.
    #[error("no catalogue of {target} is cached yet; `creatify-batch avatars` (with credentials, or --sandbox) fetches and caches it")]
    NotCached {
        /// The target, as people read it.
        target: String,
    },
    /// The API could not be read and nothing is cached.
    #[error("cannot read the avatar and voice catalogue of {target}: {error}")]
    Api {
        /// The target, as people read it.
        target: String,
        /// What went wrong.
        error: ApiError,
    },
}

impl ObtainError {
    /// Whether the API was unreachable or refused the credentials (not a sheet problem).
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            ObtainError::Api { error, .. } => Some(error),
            ObtainError::NotCached { .. } => None,
        }
    }
}

/// The catalogue of `target` for `mode`; `client` is `None` when only the cache may be used.
pub async fn obtain(
    client: Option<&ApiClient>,
    target: &Target,
    settings: &CatalogSettings,
    mode: Mode,
) -> Result<(Catalog, Origin), ObtainError> {
    let dir = cache::dir(settings);
    let cached = dir.as_deref().and_then(|d| cache::load(d, target));
    let client = match client {
        Some(c) if !mode.offline => c,
        _ => {
            return cached
                .map(|c| {
                    let age = cache::age(c.fetched_at);
                    (c, Origin::Cached(age))
                })
                .ok_or_else(|| ObtainError::NotCached {
                    target: target.to_string(),
                })
        }
    };
    if let Some(c) = &cached {
        let age = cache::age(c.fetched_at);
        if !mode.refresh && age <= settings.max_age {
            return Ok((c.clone(), Origin::Cached(age)));
        }
    }
    match fetch(client).await {
        Ok(mut fresh) => {
            // The account's own avatars found by id before stay known.
            if let Some(old) = &cached {
                for own in old.avatars.iter().filter(|a| a.own) {
                    if fresh.avatar(&own.id).is_none() {
                        fresh.avatars.push(own.clone());
                    }
                }
            }
            store(dir.as_deref(), target, &fresh);
            Ok((fresh, Origin::Fetched))
        }
        Err(error) => match cached {
            // Refused credentials are not papered over with an old cache.
            Some(c) if error.class() != crate::api::ErrorClass::Auth => {
                let age = cache::age(c.fetched_at);
                tracing::warn!(%error, age = %cache::age_words(age), "cannot refresh the catalogue; using the cached one");
                Ok((c, Origin::Stale(age, error.to_string())))
            }
            _ => Err(ObtainError::Api {
                target: target.to_string(),
                error,
            }),
        },
    }
}

async fn fetch(client: &ApiClient) -> Result<Catalog, ApiError> {
    let personas = client.catalogue(List::Personas).await?;
    let voices = client.catalogue(List::Voices).await?;
    let c = Catalog::from_items(personas, voices, cache::now());
    if c.unreadable > 0 {
        tracing::warn!(
            items = c.unreadable,
            "some catalogue items have no id and were left out"
        );
    }
    Ok(c)
}

/// Asks the API for each avatar id of `ids` the catalogue does not know (the account's own
/// avatars); those found join the catalogue and its cache. Ids that are accents are not
/// asked about. A failed lookup leaves the id unknown (the check reports it).
pub async fn look_up_avatars(
    client: &ApiClient,
    target: &Target,
    settings: &CatalogSettings,
    catalog: &mut Catalog,
    ids: &[String],
) {
    let mut found = false;
    for id in ids {
        if catalog.avatar(id).is_some() || catalog.accent(id).is_some() {
            continue;
        }
        match client.persona(id).await {
            Ok(Some(p)) => {
                if let Some(mut a) = avatar_of(&p, true) {
                    if a.id == *id {
                        a.own = true;
                        catalog.avatars.push(a);
                        found = true;
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "looking up an avatar by id failed"),
        }
    }
    if found {
        store(cache::dir(settings).as_deref(), target, catalog);
    }
}

/// The cache entry of the last account used at `target`'s base URL: what `plan` checks
/// against when no credentials are set.
pub fn any_account(target: &Target) -> Option<Target> {
    match target {
        Target::Sandbox => None,
        Target::Api { base_url, .. } => Some(Target::Api {
            base_url: base_url.clone(),
            api_id_fingerprint: ANY_ACCOUNT.into(),
        }),
    }
}

/// The fingerprint part of [`any_account`] entries.
pub const ANY_ACCOUNT: &str = "any";

/// The cached catalogue of the last account used at `base_url`.
pub fn cached_for_url(
    base_url: &url::Url,
    settings: &CatalogSettings,
) -> Option<(Catalog, Origin)> {
    let target = any_account(&Target::api(base_url, ""))?;
    let c = cache::load(&cache::dir(settings)?, &target)?;
    let age = cache::age(c.fetched_at);
    Some((c, Origin::Cached(age)))
}

fn store(dir: Option<&std::path::Path>, target: &Target, catalog: &Catalog) {
    let Some(dir) = dir else {
        tracing::warn!(
            "no cache folder (set [catalog] cache_dir or HOME); the catalogue is not cached"
        );
        return;
    };
    let also = any_account(target);
    for t in std::iter::once(target).chain(also.as_ref()) {
        if let Err(e) = cache::save(dir, t, catalog) {
            tracing::warn!(folder = %dir.display(), error = %e, "cannot cache the catalogue");
            return;
        }
    }
}
