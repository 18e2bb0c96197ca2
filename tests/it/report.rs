//! Issue 13: the HTML report, rendered by a real browser (headless Chromium) and checked on
//! the DOM it builds: cards, counts, plain-words failures, playable files, escaped hostile
//! text, and a page that reloads itself only while a run is writing it.

mod browser;
mod dom;
mod previews;
mod refresh;
mod variants;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::wait_bounded;

/// The Chromium to drive: `$CHROMIUM`, else `/usr/bin/chromium`, else `chromium` on the
/// PATH. None: the test fails, saying how to get one (it never passes without a browser).
pub fn chromium() -> PathBuf {
    if let Some(named) = std::env::var_os("CHROMIUM") {
        let named = PathBuf::from(named);
        assert!(
            named.is_file(),
            "CHROMIUM={} is not a file: point it at a Chromium or Chrome binary, or unset it \
             to use /usr/bin/chromium (`apt-get install -y chromium fonts-noto-cjk`)",
            named.display()
        );
        return named;
    }
    let candidates = [PathBuf::from("/usr/bin/chromium")].into_iter().chain(
        std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromium"))
                .collect::<Vec<_>>()
        }),
    );
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "the report tests need headless Chromium and it is not installed: install it with \
         `apt-get install -y chromium fonts-noto-cjk` (Debian/Ubuntu; .ci/run does this), or \
         point CHROMIUM at a Chromium or Chrome binary"
    );
}

/// The DOM Chromium builds from `page` (with its script run), opened as `file://` with
/// `fragment` (e.g. `#state=failed`) appended.
pub async fn dump_dom(page: &Path, fragment: &str) -> dom::Node {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!(
        "file://{}{fragment}",
        page.canonicalize().expect("page exists").display()
    );
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // It loads a local page in about two seconds; one that hangs may be showing a dialog
    // (an `alert()` that escaped into the page would).
    let out = wait_bounded(child, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("chromium on {url} (an injected alert() blocks it): {e}"));
    let html = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && html.contains("</html>"),
        "chromium --dump-dom {url} failed: {}",
        crate::support::text(&out)
    );
    dom::parse(&html)
}
