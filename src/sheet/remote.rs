//! A sheet given by its link: a Google Sheets tab, or any `https://` URL of a CSV file or a
//! workbook, fetched into memory and handed to the readers like a file's bytes.
//!
//! - A Google Sheets link (`https://docs.google.com/spreadsheets/d/<id>/edit#gid=<n>`) is
//!   rewritten to its export: the tab's CSV (`/export?format=csv&gid=<n>`, the values as the
//!   sheet shows them), or the whole workbook as xlsx when a tab is named with `--sheet`. A
//!   published link (`/d/e/<id>/pubhtml`) becomes `/pub?output=csv`.
//! - Only `https://` is fetched, except plain `http://` to this machine (`127.0.0.1`,
//!   `localhost`, `[::1]`: a local file server, the tests). Redirects are followed at most
//!   [`MAX_REDIRECTS`] times, each under the same rule; the body is capped at
//!   [`MAX_BYTES`]; the connection and the whole fetch have timeouts.
//! - An HTML answer is never read as a sheet: for a Google sheet it is the sign-in page of a
//!   sheet that is not shared, and the error says how to share it.
//! - The kind of file comes from its bytes first, then the Content-Type, then the URL's
//!   extension ([`Kind::detect`]).
//!
//! The batch's identity is the link as given ([`Link::original`]), its name [`Link::name`]
//! (the sheet id and tab for Google, else the file's stem and a short hash of the link), and
//! the fetched bytes are kept in the batch folder ([`save`]) with their hash in the journal.

use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use super::Kind;
use crate::engine::reference::hex;

/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 5;
/// Largest sheet fetched.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Time allowed to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Time allowed for the whole fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// How to share a Google sheet so that the tool can read it.
const SHARE_HINT: &str = "share it: in Google Sheets, Share → General access → \"Anyone with \
     the link\" → Viewer (or File → Share → Publish to the web), then run again; or download \
     it (File → Download → .xlsx or .csv) and give the file";

/// Whether the sheet argument is a link rather than a file.
pub fn is_url(arg: &str) -> bool {
    let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A link to a sheet, checked, and what to fetch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link as given: the batch's identity.
    pub original: String,
    /// What is fetched.
    pub fetch: Url,
    /// The batch's default name (folder-safe).
    pub name: String,
    /// Whether it is a Google Sheets link.
    pub google: bool,
}

/// Checks `arg` and finds what to fetch; `whole_workbook` asks a Google sheet for its xlsx
/// export (all tabs, for `--sheet`) instead of one tab's CSV.
pub fn parse(arg: &str, whole_workbook: bool) -> Result<Link, String> {
    let url = Url::parse(arg.trim()).map_err(|e| format!("{arg:?} is not a usable link: {e}"))?;
    allowed(&url)?;
    if let Some((fetch, name)) = google(&url, whole_workbook) {
        return Ok(Link {
            original: arg.trim().to_owned(),
            fetch,
            name,
            google: true,
        });
    }
    let stem = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .map(|last| last.rsplit_once('.').map_or(last, |(s, _)| s))
        .filter(|s| !s.is_empty())
        .unwrap_or("sheet");
    let shown = redacted(&url);
    let hash = hex(&Sha256::digest(shown.as_bytes()));
    let name = crate::output::folder_name(&format!("{stem}-{}", &hash[..8]));
    Ok(Link {
        original: shown,
        fetch: url,
        name,
        google: false,
    })
}

/// The link as shown and recorded: without a user name or password, and with the values of
/// query parameters that carry credentials (a presigned link's signature, a token) hidden,
/// so that they never reach a log, an error or the journal. A presigned link signed again
/// is still the same batch.
fn redacted(url: &Url) -> String {
    let secret = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.starts_with("x-amz-")
            || n.starts_with("x-goog-")
            || [
                "sig",
                "signature",
                "token",
                "key",
                "auth",
                "secret",
                "password",
                "credential",
            ]
            .iter()
            .any(|s| n == *s || n.contains(s))
    };
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "…".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// `https://`, or `http://` to this machine only.
fn allowed(url: &Url) -> Result<(), String> {
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{} is plain http: a sheet is fetched over https only (http only from this \
             machine, 127.0.0.1 or localhost); use its https:// link",
            redacted(url)
        )),
        s => Err(format!(
            "{}: links to sheets must be https://, not {s}:",
            redacted(url)
        )),
    }
}

/// A Google Sheets link's export URL and batch name.
fn google(url: &Url, whole_workbook: bool) -> Option<(Url, String)> {
    if url.host_str() != Some("docs.google.com") {
        return None;
    }
    let parts: Vec<&str> = url.path_segments()?.collect();
    let gid = url
        .fragment()
        .into_iter()
        .flat_map(|f| f.split('&'))
        .chain(url.query().into_iter().flat_map(|q| q.split('&')))
        .find_map(|kv| kv.strip_prefix("gid="))
        .filter(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    let tab = gid
        .as_deref()
        .map_or(String::new(), |g| format!("&gid={g}"));
    let (base, id, published) = match parts.as_slice() {
        ["spreadsheets", "d", "e", id, ..] => (format!("spreadsheets/d/e/{id}"), *id, true),
        ["spreadsheets", "d", id, ..] => (format!("spreadsheets/d/{id}"), *id, false),
        _ => return None,
    };
    let format = if whole_workbook { "xlsx" } else { "csv" };
    let fetch = if published {
        format!("https://docs.google.com/{base}/pub?output={format}{tab}")
    } else {
        format!("https://docs.google.com/{base}/export?format={format}{tab}")
    };
    let name = match &gid {
        Some(g) if !whole_workbook => format!("gsheet-{id}-gid{g}"),
        _ => format!("gsheet-{id}"),
    };
    Some((Url::parse(&fetch).ok()?, crate::output::folder_name(&name)))
}

/// A fetched sheet.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// What they are.
    pub kind: Kind,
    /// SHA-256 of the bytes (hex).
    pub sha256: String,
}

/// Fetches the sheet at `link`.
pub async fn fetch(link: &Link) -> Result<Fetched, String> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if let Err(e) = allowed(attempt.url()) {
            attempt.error(e)
        } else {
            attempt.follow()
        }
    });
    let client = crate::api::tls::trusting(reqwest::Client::builder())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .redirect(policy)
        .user_agent(concat!("creatify-batch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let shown = &link.original;
    let mut response = client.get(link.fetch.clone()).send().await.map_err(|e| {
        // reqwest's message names the URL, which may carry a signature: never shown.
        let e = e.without_url();
        let why = std::error::Error::source(&e).map_or(e.to_string(), |s| format!("{e}: {s}"));
        format!("cannot fetch the sheet {shown}: {why}")
    })?;
    let status = response.status();
    if !status.is_success() {
        let hint = match status.as_u16() {
            401 | 403 if link.google => format!("the sheet is not shared; {SHARE_HINT}"),
            401 | 403 => "the server wants a login; give a link anyone can open, or download \
                          the file and give its path"
                .to_owned(),
            404 | 410 => "there is no sheet at this link; check it (copy it again from the \
                          browser's address bar)"
                .to_owned(),
            _ => "try again later, or download the file and give its path".to_owned(),
        };
        return Err(format!(
            "cannot fetch the sheet {shown}: the server answered {status}; {hint}"
        ));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(n) = response.content_length().filter(|&n| n > MAX_BYTES as u64) {
        return Err(too_big(shown, n));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        format!(
            "cannot fetch the sheet {shown}: the download broke off: {}",
            e.without_url()
        )
    })? {
        if bytes.len() + chunk.len() > MAX_BYTES {
            return Err(too_big(shown, (bytes.len() + chunk.len()) as u64));
        }
        bytes.extend_from_slice(&chunk);
    }
    if html(&content_type, &bytes) {
        let what = if link.google {
            format!("a Google sign-in page, not the sheet: the sheet is not shared; {SHARE_HINT}")
        } else {
            "a web page (HTML), not a sheet: give the link of the file itself (a download \
             link), or download it and give its path; if the page asks to sign in, the file \
             is not shared: share it so that anyone with the link can view it (Google \
             Sheets: Share → Anyone with the link → Viewer)"
                .to_owned()
        };
        return Err(format!("the link {shown} answered with {what}"));
    }
    let ext = extension(&content_type).or_else(|| {
        let path = response.url().path();
        path.rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| e.len() <= 4)
    });
    let kind = Kind::detect(ext, &bytes).map_err(|e| format!("the sheet at {shown}: {e}"))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(Fetched {
        bytes,
        kind,
        sha256,
    })
}

fn too_big(shown: &str, n: u64) -> String {
    format!(
        "the sheet at {shown} is larger than {} MiB ({n} bytes or more): it is not a sheet of \
         scripts; refused",
        MAX_BYTES / (1024 * 1024)
    )
}

/// Whether an answer is a web page: by its type, or by its first bytes.
fn html(content_type: &str, bytes: &[u8]) -> bool {
    if content_type.starts_with("text/html") || content_type.starts_with("application/xhtml") {
        return true;
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// The extension a Content-Type stands for.
fn extension(content_type: &str) -> Option<&'static str> {
    let t = content_type.split(';').next().unwrap_or("").trim();
    Some(match t {
        "text/csv" | "text/comma-separated-values" => "csv",
        "text/tab-separated-values" => "tsv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.ms-excel.sheet.macroenabled.12" => "xlsm",
        "application/vnd.ms-excel.sheet.binary.macroenabled.12" => "xlsb",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        _ => return None,
    })
}

/// Keeps the fetched bytes in the batch folder: `sheet/source.<ext>` (the latest) and
/// `sheet/<hash>.<ext>` (each version a run planned), so that what a run planned can always
/// be looked at again.
pub fn save(batch_dir: &std::path::Path, fetched: &Fetched) -> std::io::Result<()> {
    let dir = batch_dir.join("sheet");
    crate::output::ensure_real_dir(&dir)?;
    let ext = fetched.kind.extension();
    let version = dir.join(format!("{}.{ext}", &fetched.sha256[..16]));
    if !version.is_file() {
        crate::output::write_atomic(&version, &fetched.bytes)?;
    }
    crate::output::write_atomic(&dir.join(format!("source.{ext}")), &fetched.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_links_become_their_export() {
        let l = parse(
            "https://docs.google.com/spreadsheets/d/1AbC_dE-f/edit#gid=42",
            false,
        )
        .unwrap();
        assert!(l.google);
        assert_eq!(
            l.fetch.as_str(),
            "https://docs.google.com/spreadsheets/d/1AbC_dE-f/export?format=csv&gid=42"
        );
        assert_eq!(l.name, "gsheet-1AbC_dE-f-gid42");
        let l = parse(
            "https://docs.google.com/spreadsheets/d/1AbC/edit?usp=sharing",
            true,
        )
        .unwrap();
        assert_eq!(
            l.fetch.as_str(),
            "https://docs.google.com/spreadsheets/d/1AbC/export?format=xlsx"
        );
        let l = parse(
            "https://docs.google.com/spreadsheets/d/e/2PACX/pubhtml?gid=7",
            false,
        )
        .unwrap();
        assert_eq!(
            l.fetch.as_str(),
            "https://docs.google.com/spreadsheets/d/e/2PACX/pub?output=csv&gid=7"
        );
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(parse("http://example.com/a.csv", false).is_err());
        assert!(parse("ftp://example.com/a.csv", false).is_err());
        assert!(parse("http://127.0.0.1:8080/a.csv", false).is_ok());
        assert!(parse("http://localhost/a.csv", false).is_ok());
        let l = parse("https://example.com/x/tonight.csv", false).unwrap();
        assert!(l.name.starts_with("tonight-"), "{}", l.name);
        assert!(is_url("HTTPS://x") && !is_url("sheet.csv"));
    }

    #[test]
    fn credentials_in_a_link_are_never_shown_or_recorded() {
        let a = parse(
            "https://me:pw@bucket.s3.amazonaws.com/s.xlsx?X-Amz-Signature=abc123&X-Amz-Credential=AKIA&v=2",
            false,
        )
        .unwrap();
        assert!(
            !a.original.contains("abc123") && !a.original.contains("AKIA"),
            "{}",
            a.original
        );
        assert!(
            !a.original.contains("pw@") && a.original.contains("v=2"),
            "{}",
            a.original
        );
        assert!(
            a.fetch.as_str().contains("abc123"),
            "the real link is still fetched"
        );
        let b = parse(
            "https://bucket.s3.amazonaws.com/s.xlsx?X-Amz-Signature=zzz&X-Amz-Credential=AKIB&v=2",
            false,
        )
        .unwrap();
        assert_eq!(a.name, b.name, "signed again, the same batch");
    }

    #[test]
    fn html_is_recognised_by_type_or_content() {
        assert!(html("text/html; charset=utf-8", b"a,b"));
        assert!(html("", b"\n <!DOCTYPE html><html>"));
        assert!(!html("text/csv", b"a,b\n1,2"));
    }
}
