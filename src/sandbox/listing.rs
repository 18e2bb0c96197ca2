//! `GET /api/lipsyncs_v2/`: the account's job list and `?ids=` answers, shaped as the
//! [`Dialect`] says: a plain array (the sandbox's pick), or a DRF page
//! (`{count, next, previous, results}`, by `page`/`page_size` or `limit`/`offset`); newest
//! first, oldest first or in no order; all jobs or only the newest `list_cap`; and late by
//! `list_delay_seconds`. An `?ids=` answer may hold only the newest `ids_max` of the jobs
//! asked about, or (`ids_ignored`) be the job list itself. What a job's stored `name` looks
//! like (cut, rewritten, dropped) is applied here too, since every job object the sandbox
//! writes passes through [`stored_name`].

use std::sync::Arc;

use serde_json::{json, Value};

use super::app::{now_ms, App};
use super::dialect::{Dialect, ListOrder, ListStyle, NameMode};
use super::job::JobRecord;

/// The query a list call may carry; numbers are read leniently, as DRF does.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    /// `ids=a,b,c`.
    pub ids: Option<String>,
    /// PageNumberPagination.
    pub page: Option<String>,
    /// PageNumberPagination's `page_size_query_param`.
    pub page_size: Option<String>,
    /// LimitOffsetPagination.
    pub limit: Option<String>,
    /// LimitOffsetPagination.
    pub offset: Option<String>,
}

/// A list answer, or DRF's 404 for a page past the end.
pub enum Listed {
    /// The JSON to answer with.
    Body(Value),
    /// `{"detail": "Invalid page."}`.
    InvalidPage,
}

/// The job list (`ids` empty) or the jobs among `ids`, shaped by the dialect.
pub async fn list(app: &Arc<App>, q: &ListQuery, ids: &[&str]) -> Listed {
    let d = &app.faults.faults().api;
    // A server that ignores `ids` answers with its job list.
    let listed = ids.is_empty() || d.ids_ignored;
    let jobs = if listed {
        if d.list_delay_seconds > 0.0 {
            tokio::time::sleep(std::time::Duration::from_secs_f64(d.list_delay_seconds)).await;
        }
        let mut all = app.store().all();
        if let Some(cap) = d.list_cap {
            all.truncate(cap);
        }
        order(&mut all, d.list_order, app.settings.seed);
        all
    } else {
        let mut some = app.store().some(ids);
        if let Some(max) = d.ids_max {
            some.truncate(max);
        }
        some
    };
    let style = if listed { d.list } else { d.ids };
    let now = now_ms();
    let render = |jobs: &[Arc<JobRecord>]| -> Vec<Value> {
        jobs.iter().map(|j| app.job_json(j, now)).collect()
    };
    let number = |s: &Option<String>| s.as_deref().and_then(|v| v.trim().parse::<usize>().ok());
    let (start, size) = match style {
        ListStyle::Array => return Listed::Body(Value::Array(render(&jobs))),
        ListStyle::DrfPage => {
            let size = number(&q.page_size)
                .unwrap_or(d.page_size)
                .clamp(1, d.page_size);
            let page = number(&q.page).unwrap_or(1);
            if page == 0 || (page - 1) * size >= jobs.len().max(1) {
                return Listed::InvalidPage;
            }
            ((page - 1) * size, size)
        }
        ListStyle::LimitOffset => {
            let size = number(&q.limit)
                .unwrap_or(d.page_size)
                .clamp(1, d.page_size);
            (number(&q.offset).unwrap_or(0), size)
        }
    };
    let end = (start + size).min(jobs.len());
    let page = jobs.get(start.min(end)..end).unwrap_or_default();
    let link = |from: usize| -> Value {
        let mut query: Vec<String> = Vec::new();
        if let Some(ids) = &q.ids {
            query.push(format!("ids={ids}"));
        }
        match style {
            ListStyle::DrfPage => {
                query.push(format!("page={}", from / size + 1));
                query.push(format!("page_size={size}"));
            }
            _ => {
                query.push(format!("limit={size}"));
                query.push(format!("offset={from}"));
            }
        }
        let base = d.link_base.as_deref().unwrap_or(&app.base_url);
        json!(format!(
            "{}/api/lipsyncs_v2/?{}",
            base.trim_end_matches('/'),
            query.join("&")
        ))
    };
    Listed::Body(json!({
        "count": jobs.len(),
        "next": if end < jobs.len() { link(end) } else { Value::Null },
        "previous": if start > 0 { link(start.saturating_sub(size)) } else { Value::Null },
        "results": render(page),
    }))
}

fn order(jobs: &mut [Arc<JobRecord>], order: ListOrder, seed: u64) {
    match order {
        ListOrder::NewestFirst => {}
        ListOrder::OldestFirst => jobs.reverse(),
        ListOrder::Unordered => {
            jobs.sort_by(|a, b| {
                let h = |j: &JobRecord| super::faults::unit(seed, &["order", &j.id]);
                h(a).total_cmp(&h(b))
            });
        }
    }
}

/// The `name` a job object shows, after what the dialect does to stored names.
pub fn stored_name(name: Option<&str>, d: &Dialect) -> Value {
    let Some(name) = name else {
        return Value::Null;
    };
    let mut name = match d.name {
        NameMode::Keep => name.to_owned(),
        NameMode::Drop => return Value::Null,
        NameMode::RewriteBrackets => name.replace('[', "(").replace(']', ")"),
        NameMode::Strip => name.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if let Some(max) = d.name_max {
        name = name.chars().take(max).collect();
    }
    Value::String(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_rewritten_stripped_or_dropped() {
        let mut d = Dialect::default();
        assert_eq!(stored_name(Some("a [cb-1]"), &d), json!("a [cb-1]"));
        d.name = NameMode::RewriteBrackets;
        assert_eq!(stored_name(Some("a [cb-1]"), &d), json!("a (cb-1)"));
        d.name = NameMode::Strip;
        d.name_max = Some(3);
        assert_eq!(stored_name(Some("  a   b c"), &d), json!("a b"));
        d.name = NameMode::Drop;
        assert_eq!(stored_name(Some("x"), &d), Value::Null);
        assert_eq!(stored_name(None, &Dialect::default()), Value::Null);
    }
}
