//! Which account a command's catalogue belongs to, and getting it: the sandbox's (an
//! in-process sandbox for the length of the command, read through the same client as a
//! real account), an account's by its credentials, or, without credentials, the last one
//! cached for the base URL.

use std::collections::HashSet;

use crate::api::{ApiClient, ErrorClass};
use crate::batch::Target;
use crate::catalog::obtain::{self, Mode, ObtainError, Origin};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::exit::ExitCode;
use crate::journal::{Journal, RowState};
use crate::sandbox::Sandbox;

/// `--base-url` over `[api] base_url`.
pub(super) fn apply_base_url(settings: &mut Settings, url: Option<&str>) -> Result<(), String> {
    if let Some(url) = url {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => settings.api.base_url = u,
            _ => return Err(format!("--base-url {url:?} is not an http(s) URL")),
        }
    }
    Ok(())
}

/// An account to read a catalogue from.
pub(super) struct Account {
    /// `None`: no credentials are set (only a cache can be read).
    pub target: Option<Target>,
    client: Option<ApiClient>,
    base_url: url::Url,
    _sandbox: Option<Sandbox>,
}

impl Account {
    /// The sandbox (`sandbox`), or the account of the environment's credentials at
    /// `settings`' base URL.
    pub async fn open(settings: &Settings, sandbox: bool) -> anyhow::Result<Self> {
        if sandbox {
            let sb = Sandbox::start(crate::sandbox::SandboxConfig::for_tests()).await?;
            let mut s = settings.clone();
            s.api.base_url = url::Url::parse(&sb.base_url())?;
            let creds = crate::api::Credentials::new(
                crate::sandbox::SANDBOX_API_ID,
                crate::sandbox::SANDBOX_API_KEY,
            );
            let client = ApiClient::new(super::run::client_config(&s), &creds)?;
            return Ok(Self {
                target: Some(Target::Sandbox),
                client: Some(client),
                base_url: s.api.base_url,
                _sandbox: Some(sb),
            });
        }
        let base_url = settings.api.base_url.clone();
        match crate::api::Credentials::from_env(&settings.api.id_env, &settings.api.key_env) {
            Ok(creds) => Ok(Self {
                target: Some(Target::api(&base_url, creds.secrets()[0])),
                client: Some(ApiClient::new(super::run::client_config(settings), &creds)?),
                base_url,
                _sandbox: None,
            }),
            Err(_) => Ok(Self {
                target: None,
                client: None,
                base_url,
                _sandbox: None,
            }),
        }
    }

    /// The catalogue, by `mode`.
    pub async fn catalogue(
        &self,
        settings: &Settings,
        mode: Mode,
    ) -> Result<(Catalog, Origin), ObtainError> {
        match &self.target {
            Some(t) => obtain::obtain(self.client.as_ref(), t, &settings.catalog, mode).await,
            None => obtain::cached_for_url(&self.base_url, &settings.catalog).ok_or_else(|| {
                ObtainError::NotCached {
                    target: format!(
                        "{} (no credentials: set {} and {}, or use --sandbox)",
                        self.base_url.as_str().trim_end_matches('/'),
                        settings.api.id_env,
                        settings.api.key_env
                    ),
                }
            }),
        }
    }

    /// Asks the API about `ids` the catalogue does not list (see
    /// [`obtain::look_up_avatars`]); nothing without credentials or offline.
    pub async fn look_up(&self, settings: &Settings, catalog: &mut Catalog, ids: &[String]) {
        if let (Some(client), Some(target)) = (&self.client, &self.target) {
            obtain::look_up_avatars(client, target, &settings.catalog, catalog, ids).await;
        }
    }
}

/// The exit code for a catalogue that cannot be had: refused credentials are 5, anything
/// else the API did is 7 (unreachable); nothing cached is bad input (2).
pub(super) fn exit_for(e: &ObtainError) -> ExitCode {
    match e.api_error().map(|a| a.class()) {
        Some(ErrorClass::Auth) => ExitCode::Auth,
        Some(_) => ExitCode::Unreachable,
        None => ExitCode::InvalidInput,
    }
}

/// Keys of the rows of the batch in `dir` that this run will not send (their job exists, or
/// they failed and `retry_failed` is off): their id problems are only warnings now. Empty
/// when there is no journal yet.
pub(super) fn spared_keys(dir: &std::path::Path, retry_failed: bool) -> HashSet<String> {
    match Journal::open_read_only(dir) {
        Ok(Some(snapshot)) => snapshot
            .rows
            .into_iter()
            .filter(|r| match r.state {
                RowState::Planned => false,
                RowState::Failed | RowState::Rejected => !retry_failed,
                _ => true,
            })
            .map(|r| r.key)
            .collect(),
        _ => HashSet::new(),
    }
}
