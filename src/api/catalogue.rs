//! The account's catalogue over HTTP: the persona and voice lists, in whichever shape they
//! come (the documented plain array, or DRF pages whose `next` links are followed on the
//! API's own host), and one persona by id (the account's custom avatars, which the list may
//! not show). What the items mean is [`crate::catalog`]'s business; this reads JSON values.

use reqwest::Url;
use serde_json::Value;

use super::client::ApiClient;
use super::error::ApiError;
use super::listing;

/// The most pages one list is followed for: 1,500 personas in pages of 10 fit, a server
/// whose `next` never ends does not hang the tool.
const MAX_PAGES: usize = 500;

/// Which catalogue list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `GET /api/personas/` (fallback `/api/personas/paginated/`).
    Personas,
    /// `GET /api/voices/` (fallback `/api/voices/paginated/`).
    Voices,
}

impl List {
    fn paths(self) -> [&'static str; 2] {
        match self {
            Self::Personas => ["api/personas/", "api/personas/paginated/?page_size=100"],
            Self::Voices => ["api/voices/", "api/voices/paginated/?page_size=100"],
        }
    }
}

impl ApiClient {
    /// Every item of `list`, retried like any GET. The plain endpoint is asked first; when
    /// it is not there (404, 405) the paginated one is read instead.
    pub async fn catalogue(&self, list: List) -> Result<Vec<Value>, ApiError> {
        let [plain, paged] = list.paths();
        match self.all_pages(self.url(plain)).await {
            Err(ApiError::Status { status, .. }) if status == 404 || status == 405 => {
                self.all_pages(self.url(paged)).await
            }
            other => other,
        }
    }

    async fn all_pages(&self, first: Url) -> Result<Vec<Value>, ApiError> {
        let mut url = first;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer: Value = self.get_json(url.clone()).await?;
            let Some((page, next)) = listing::items_of(answer) else {
                return Err(ApiError::Decode {
                    status: 200,
                    message: format!(
                        "the answer to {} is neither a list nor a page of one",
                        url.path()
                    ),
                });
            };
            items.extend(page);
            match next.and_then(|n| self.same_origin(&n)) {
                Some(n) if n != url => url = n,
                _ => return Ok(items),
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            "the catalogue list did not end; using what was read"
        );
        Ok(items)
    }

    /// `GET /api/personas/{id}/`: the persona, or `None` when the API has no such id.
    pub async fn persona(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let mut url = self.url("api/personas/");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(id).push("");
        }
        match self.get_json::<Value>(url).await {
            Ok(v) if v.is_object() => Ok(Some(v)),
            Ok(_) => Ok(None),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
