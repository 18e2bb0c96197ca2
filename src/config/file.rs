//! A config file's text → [`Settings`], with unknown keys named (section, key, closest
//! known key) and every range checked, all problems reported at once.

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{
    RawApi, RawCatalog, RawEstimate, RawLimits, RawOutput, RawPoll, RawRetry, RawStorage, SECTIONS,
};
use super::{defaults, ConfigError, ConfigProblem, Settings};
use crate::plan::values::suggest;

/// Parses and checks a whole file, reporting every problem at once.
pub fn parse(text: &str, origin: &Path) -> Result<Settings, ConfigError> {
    if let Some(at) = text.find('\0') {
        // TOML forbids it; the parser's own message would be about quoting.
        let (line, column) = position(text, at);
        return Err(ConfigError::Syntax {
            path: origin.to_path_buf(),
            message: format!(
                "line {line}, column {column}: a NUL byte, which no text file holds (is this \
                 a UTF-16 or binary file?); save the file as UTF-8 text"
            ),
        });
    }
    let mut table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: origin.to_path_buf(),
                message: syntax_message(text, &e),
            })?;
    let mut problems = Vec::new();
    remove_unknown(&mut table, &mut problems);
    let mut s = Settings::default();
    let mut ck = Checker {
        section: "",
        problems: &mut problems,
    };
    if let Some(raw) = ck.section::<RawApi>(&table, "api") {
        api(&mut ck, raw, &mut s);
    }
    if let Some(raw) = ck.section::<RawLimits>(&table, "limits") {
        let l = &mut s.limits;
        ck.positive(
            "requests_per_second",
            raw.requests_per_second,
            &mut l.requests_per_second,
        );
        ck.at_least("burst", raw.burst, 1, &mut l.burst);
        ck.at_least("max_in_flight", raw.max_in_flight, 1, &mut l.max_in_flight);
        if let Some(n) = raw.max_rendering {
            let mut cap = 1;
            ck.at_least("max_rendering", Some(n), 1, &mut cap);
            l.max_rendering = Some(cap);
        }
        ck.at_least(
            "download_concurrency",
            raw.download_concurrency,
            1,
            &mut l.download_concurrency,
        );
    }
    if let Some(raw) = ck.section::<RawRetry>(&table, "retry") {
        let r = &mut s.retry;
        ck.at_least("max_attempts", raw.max_attempts, 1, &mut r.max_attempts);
        ck.secs("min_delay_secs", raw.min_delay_secs, &mut r.min_delay);
        ck.secs("max_delay_secs", raw.max_delay_secs, &mut r.max_delay);
        ck.secs(
            "max_retry_after_secs",
            raw.max_retry_after_secs,
            &mut r.max_retry_after,
        );
        ck.secs(
            "reconcile_window_secs",
            raw.reconcile_window_secs,
            &mut r.reconcile_window,
        );
        ck.secs("clock_skew_secs", raw.clock_skew_secs, &mut r.clock_skew);
        ck.secs(
            "max_throttled_secs",
            raw.max_throttled_secs,
            &mut r.max_throttled,
        );
        if let Some(n) = raw.same_error_halt {
            r.same_error_halt = n;
        }
        if r.min_delay > r.max_delay {
            ck.problem("max_delay_secs", "must be at least min_delay_secs");
        }
    }
    if let Some(raw) = ck.section::<RawPoll>(&table, "poll") {
        let p = &mut s.poll;
        ck.secs(
            "min_interval_secs",
            raw.min_interval_secs,
            &mut p.min_interval,
        );
        ck.secs(
            "max_interval_secs",
            raw.max_interval_secs,
            &mut p.max_interval,
        );
        ck.secs(
            "job_deadline_secs",
            raw.job_deadline_secs,
            &mut p.job_deadline,
        );
        if let Some(n) = raw.batch_size {
            if (1..=100).contains(&n) {
                p.batch_size = n;
            } else {
                ck.problem(
                    "batch_size",
                    format!("must be from 1 to 100 (the API's limit for ?ids=), got {n}"),
                );
            }
        }
        if p.min_interval > p.max_interval {
            ck.problem("max_interval_secs", "must be at least min_interval_secs");
        }
        webhooks(&mut ck, raw.webhook_listen, raw.webhook_url, p);
    }
    if let Some(raw) = ck.section::<RawOutput>(&table, "output") {
        let o = &mut s.output;
        match raw.dir {
            Some(d) if d.as_os_str().is_empty() => ck.problem("dir", "may not be empty"),
            Some(d) => o.dir = d,
            None => {}
        }
        let mut mib = o.max_download_bytes / (1024 * 1024);
        ck.at_least("max_download_mib", raw.max_download_mib, 1, &mut mib);
        match mib.checked_mul(1024 * 1024) {
            Some(b) => o.max_download_bytes = b,
            None => ck.problem("max_download_mib", format!("is too large, got {mib}")),
        }
        ck.secs(
            "log_interval_secs",
            raw.log_interval_secs,
            &mut o.log_interval,
        );
    }
    if let Some(raw) = ck.section::<RawEstimate>(&table, "estimate") {
        let e = &mut s.estimate;
        ck.positive(
            "words_per_second",
            raw.words_per_second,
            &mut e.words_per_second,
        );
        if let Some(x) = raw.scene_allowance_secs {
            if x.is_finite() && x >= 0.0 {
                e.scene_allowance_seconds = x;
            } else {
                ck.problem(
                    "scene_allowance_secs",
                    format!("must be 0 or more, got {x}"),
                );
            }
        }
    }
    if let Some(raw) = ck.section::<RawCatalog>(&table, "catalog") {
        let c = &mut s.catalog;
        if let Some(h) = raw.max_age_hours {
            if (0.0..=24.0 * 365.0).contains(&h) {
                c.max_age = std::time::Duration::from_secs_f64(h * 3600.0);
            } else {
                ck.problem(
                    "max_age_hours",
                    format!("must be hours from 0 to 8760, got {h}"),
                );
            }
        }
        match raw.cache_dir {
            Some(d) if d.as_os_str().is_empty() => {}
            Some(d) => c.cache_dir = Some(d),
            None => {}
        }
        if let Some(ids) = raw.known_ids {
            c.known_ids = ids.into_iter().map(|i| i.trim().to_owned()).collect();
        }
    }
    if let Some(raw) = ck.section::<RawStorage>(&table, "storage") {
        let st = &mut s.storage;
        match raw.endpoint.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(e) => match url::Url::parse(e) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.username().is_empty()
                        && u.password().is_none() =>
                {
                    st.endpoint = Some(e.to_owned());
                    st.allow_http = Some(u.scheme() == "http");
                }
                _ => ck.problem(
                    "endpoint",
                    format!("must be an http(s) URL without credentials, got {e:?}"),
                ),
            },
        }
        st.region = raw.region.filter(|r| !r.trim().is_empty());
        match raw.url_style.as_deref() {
            None | Some("auto") => {}
            Some("path") => st.path_style = Some(true),
            Some("virtual") => st.path_style = Some(false),
            Some(other) => ck.problem(
                "url_style",
                format!("must be \"auto\", \"path\" or \"virtual\", got {other:?}"),
            ),
        }
    }
    if let Some(v) = table.get("defaults") {
        match v.as_table() {
            Some(t) => s.defaults = defaults::check_defaults(t, &mut problems),
            None => problems.push(not_a_table("defaults")),
        }
    }
    if let Some(v) = table.get("columns") {
        match v.as_table() {
            Some(t) => {
                let mut columns = std::collections::BTreeMap::new();
                for (header, to) in t {
                    if header == "ignore" {
                        s.columns_ignore = defaults::check_ignore(to, t, &mut problems);
                        continue;
                    }
                    match to.as_str() {
                        Some(to) => {
                            columns.insert(header.clone(), to.to_owned());
                        }
                        None => problems.push(ConfigProblem::new(
                            "columns",
                            header,
                            format!(
                                "must name what the column sets, as a string like \
                                 \"voice.input_text\", got {}",
                                to.type_str()
                            ),
                        )),
                    }
                }
                problems.extend(defaults::check_columns(&columns));
                s.columns = columns;
            }
            None => problems.push(not_a_table("columns")),
        }
    }
    if let Some(v) = table.get("matrix") {
        match v.as_table() {
            Some(t) => s.matrix = Some(super::check_matrix(t, &mut problems)),
            None => problems.push(not_a_table("matrix")),
        }
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(ConfigError::Invalid {
            path: origin.to_path_buf(),
            problems,
        })
    }
}

/// The parser's message after `line L, column C: `. Its own rendering quotes the whole
/// offending line, which may be megabytes long or hold a secret pasted unquoted
/// (`key_env = sk-live-...`); the position is all a reader needs to find it.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let (line, column) = position(text, span.start);
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// The 1-based line and column (in characters) of byte `at` of `text`.
fn position(text: &str, at: usize) -> (usize, usize) {
    // A span inside a character would make `get` fail: count the whole text then.
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let line = 1 + before.matches('\n').count();
    let column = 1 + before
        .rsplit_once('\n')
        .map_or(before, |(_, l)| l)
        .chars()
        .count();
    (line, column)
}

/// Longest `webhook_url` that leaves room for the path a run adds (`/` and 32 characters)
/// within the API's 200.
const WEBHOOK_URL_MAX: usize = 200 - 33;

/// `[poll] webhook_listen` and `webhook_url`.
fn webhooks(
    ck: &mut Checker<'_>,
    listen: Option<String>,
    url: Option<String>,
    p: &mut crate::config::PollSettings,
) {
    if let Some(l) = listen {
        match l.parse::<std::net::SocketAddr>() {
            Ok(addr) => p.webhook_listen = Some(addr),
            Err(_) => ck.problem(
                "webhook_listen",
                format!("must be an address and port like \"0.0.0.0:8787\", got {l:?}"),
            ),
        }
    }
    let url_given = url.is_some();
    if let Some(u) = url {
        match url::Url::parse(&u) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.as_str().len() <= WEBHOOK_URL_MAX =>
            {
                p.webhook_url = Some(url)
            }
            _ => ck.problem(
                "webhook_url",
                format!(
                    "must be an http(s) URL without a query, at most {WEBHOOK_URL_MAX} \
                     characters (the address the API calls to reach webhook_listen, like \
                     \"https://batch.example.com/creatify\"), got {u:?}"
                ),
            ),
        }
    }
    match (&p.webhook_listen, &p.webhook_url) {
        (None, Some(_)) => ck.problem(
            "webhook_url",
            "needs webhook_listen, the address and port this machine listens on",
        ),
        (Some(addr), None) if addr.ip().is_unspecified() && !url_given => ck.problem(
            "webhook_listen",
            format!(
                "listens on every address ({addr}), so the API cannot be told which one \
                 reaches it: add webhook_url"
            ),
        ),
        _ => {}
    }
}

fn api(ck: &mut Checker<'_>, raw: RawApi, s: &mut Settings) {
    let a = &mut s.api;
    if let Some(u) = raw.base_url {
        match url::Url::parse(&u) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                a.base_url = url
            }
            _ => ck.problem(
                "base_url",
                format!("must be an http(s) URL like \"https://api.creatify.ai\", got {u:?}"),
            ),
        }
    }
    for (key, value, into) in [
        ("id_env", raw.id_env, &mut a.id_env),
        ("key_env", raw.key_env, &mut a.key_env),
    ] {
        let Some(v) = value else { continue };
        let ok = !v.is_empty()
            && !v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            *into = v;
        } else {
            // Never echo the value: someone may have pasted the secret itself here.
            ck.problem(
                key,
                "must be the NAME of an environment variable (letters, digits, _), like \
                 CREATIFY_API_KEY; put the credential itself in that variable, never in this file",
            );
        }
    }
    ck.secs(
        "connect_timeout_secs",
        raw.connect_timeout_secs,
        &mut a.connect_timeout,
    );
    ck.secs(
        "request_timeout_secs",
        raw.request_timeout_secs,
        &mut a.request_timeout,
    );
    ck.secs(
        "list_timeout_secs",
        raw.list_timeout_secs,
        &mut a.list_timeout,
    );
    ck.secs("unreachable_secs", raw.unreachable_secs, &mut a.unreachable);
}

/// Drops unknown sections and keys from `table`, reporting each with a did-you-mean.
fn remove_unknown(table: &mut toml::Table, problems: &mut Vec<ConfigProblem>) {
    let names: Vec<&str> = SECTIONS.iter().map(|(n, _)| *n).collect();
    let mut drop = Vec::new();
    for (name, value) in table.iter_mut() {
        let Some((_, keys)) = SECTIONS.iter().find(|(n, _)| n == name) else {
            let hint =
                suggest(name, &names).map_or(String::new(), |s| format!(" (did you mean [{s}]?)"));
            problems.push(ConfigProblem::new(
                "",
                name,
                format!(
                    "unknown section{hint}; the sections are {}",
                    names.join(", ")
                ),
            ));
            drop.push(name.clone());
            continue;
        };
        if keys.is_empty() {
            continue;
        }
        let Some(t) = value.as_table_mut() else {
            problems.push(not_a_table(name));
            drop.push(name.clone());
            continue;
        };
        let unknown: Vec<String> = t
            .keys()
            .filter(|k| !keys.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let hint =
                suggest(&k, keys).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            problems.push(ConfigProblem::new(
                name,
                &k,
                format!(
                    "unknown key{hint}; the keys of [{name}] are {}",
                    keys.join(", ")
                ),
            ));
            t.remove(&k);
        }
    }
    for name in drop {
        table.remove(&name);
    }
}

fn not_a_table(name: &str) -> ConfigProblem {
    ConfigProblem::new(
        "",
        name,
        format!("must be a table: write it as [{name}] with keys below"),
    )
}

/// Checks values of one section, collecting problems.
struct Checker<'a> {
    section: &'static str,
    problems: &'a mut Vec<ConfigProblem>,
}

impl Checker<'_> {
    /// The section deserialized, or `None` (after reporting) when absent or mistyped.
    fn section<T: for<'de> Deserialize<'de>>(
        &mut self,
        table: &toml::Table,
        name: &'static str,
    ) -> Option<T> {
        self.section = name;
        let value = table.get(name)?.clone();
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(raw) => Some(raw),
            Err(e) => {
                let key = e.path().to_string();
                // serde quotes the value it met, which may be a pasted paragraph.
                self.problem(&key, crate::sheet::shorten(e.inner().message(), 200));
                None
            }
        }
    }

    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems
            .push(ConfigProblem::new(self.section, key, message));
    }

    fn secs(&mut self, key: &str, value: Option<f64>, into: &mut Duration) {
        let Some(x) = value else { return };
        match Duration::try_from_secs_f64(x) {
            Ok(d) if x > 0.0 => *into = d,
            _ => self.problem(key, format!("must be a number of seconds above 0, got {x}")),
        }
    }

    fn positive(&mut self, key: &str, value: Option<f64>, into: &mut f64) {
        let Some(x) = value else { return };
        if x.is_finite() && x > 0.0 {
            *into = x;
        } else {
            self.problem(key, format!("must be a number above 0, got {x}"));
        }
    }

    fn at_least<T: PartialOrd + Display + Copy>(
        &mut self,
        key: &str,
        value: Option<T>,
        min: T,
        into: &mut T,
    ) {
        let Some(x) = value else { return };
        if x >= min {
            *into = x;
        } else {
            self.problem(key, format!("must be at least {min}, got {x}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("p.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn webhooks_need_an_address_the_api_can_call() {
        let s = parse(
            "[poll]\nwebhook_listen = \"127.0.0.1:8787\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        assert_eq!(s.poll.webhook_listen, Some(([127, 0, 0, 1], 8787).into()));
        assert_eq!(s.poll.webhook_url, None);
        let one = |text: &str, says: &str| {
            let p = problems(text);
            assert!(p.len() == 1 && p[0].contains(says), "{text}: {p:?}");
        };
        one(
            "[poll]\nwebhook_listen = \"0.0.0.0:8787\"\n",
            "add webhook_url",
        );
        one(
            "[poll]\nwebhook_url = \"https://batch.example.com/h\"\n",
            "needs webhook_listen",
        );
        one(
            "[poll]\nwebhook_listen = \"localhost\"\n",
            "address and port",
        );
        one(
            "[poll]\nwebhook_listen = \"0.0.0.0:1\"\nwebhook_url = \"ftp://x.example\"\n",
            "http(s) URL",
        );
        let long = format!("https://x.example/{}", "a".repeat(200));
        one(
            &format!("[poll]\nwebhook_listen = \"0.0.0.0:1\"\nwebhook_url = \"{long}\"\n"),
            "at most 167",
        );
    }

    #[test]
    fn section_keys_match_the_repository_file() {
        let repo: toml::Table = include_str!("../../pipeline.toml").parse().unwrap();
        for (name, keys) in SECTIONS.iter().filter(|(_, k)| !k.is_empty()) {
            let mut in_file: Vec<&str> = repo[*name]
                .as_table()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            // A key without a default value is shown commented out (`# max_rendering = 5`).
            let text = include_str!("../../pipeline.toml");
            let mut listed: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| in_file.contains(k) || !text.contains(&format!("\n# {k} = ")))
                .collect();
            in_file.sort();
            listed.sort();
            assert_eq!(in_file, listed, "[{name}]");
        }
    }

    #[test]
    fn a_known_render_cap_is_read_and_checked() {
        let s = parse("[limits]\nmax_rendering = 5\n", Path::new("p.toml")).unwrap();
        assert_eq!(s.limits.max_rendering, Some(5));
        let p = problems("[limits]\nmax_rendering = 0\n");
        assert!(
            p.len() == 1 && p[0].contains("max_rendering") && p[0].contains("at least 1"),
            "{p:?}"
        );
    }

    #[test]
    fn unknown_keys_and_sections_are_named_with_a_suggestion() {
        let p = problems("[limits]\nburts = 3\n[limit]\nx = 1\n");
        assert_eq!(p.len(), 2, "{p:?}");
        // Sections come in alphabetical order (toml tables are sorted).
        assert!(
            p[0].starts_with("limit: unknown section (did you mean [limits]?)"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("[limits] burts: unknown key (did you mean `burst`?)"),
            "{p:?}"
        );
    }

    #[test]
    fn every_range_problem_is_reported_at_once() {
        let p = problems(
            "[limits]\nrequests_per_second = 0\nburst = 0\n[poll]\nbatch_size = 500\n\
             min_interval_secs = 10\nmax_interval_secs = 5\n[retry]\nmin_delay_secs = -1\n\
             [api]\nbase_url = \"ftp://x\"\nkey_env = \"sk-live-abc123-secret\"\n",
        );
        assert_eq!(p.len(), 7, "{p:#?}");
        assert!(
            p.iter().all(|m| !m.contains("secret")),
            "secret echoed: {p:#?}"
        );
        assert!(p
            .iter()
            .any(|m| m.contains("[poll] batch_size: must be from 1 to 100")));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let p = problems("[limits]\nburst = \"ten\"\n");
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("[limits] burst: invalid type: string \"ten\""),
            "{p:?}"
        );
    }

    #[test]
    fn syntax_errors_carry_the_position() {
        let e = parse("[limits\nburst = 1", Path::new("p.toml")).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse("[limits]\nburst = 1\nburst = 2\n", Path::new("p.toml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.toml: not valid TOML: line 3, column 1: duplicate key"
        );
    }

    #[test]
    fn values_convert_to_typed_settings() {
        let s = parse(
            "[retry]\nmin_delay_secs = 0.25\n[output]\nmax_download_mib = 1\ndir = \"videos\"\n",
            Path::new("p.toml"),
        )
        .unwrap();
        assert_eq!(s.retry.min_delay, Duration::from_millis(250));
        assert_eq!(s.output.max_download_bytes, 1024 * 1024);
        assert_eq!(s.output.dir, PathBuf::from("videos"));
    }
}
