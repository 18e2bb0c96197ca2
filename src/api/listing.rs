//! Reading job lists of any shape, one job at a time.
//!
//! The docs say `?ids=` answers with a plain array and are silent on the account's job list
//! (its order, size and paging). A list answer may be a plain array or a DRF page
//! (`{count, next, previous, results}`); either way its jobs are parsed one by one as the
//! body arrives, on a blocking thread fed by the network, and handed to a visitor that may
//! stop the walk (reconciliation stops once it has read past the attempt it looks for). So a
//! list of 20,000 jobs costs one job's memory, not the whole answer's, and no more of it is
//! read than needed.

use std::io::Read;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::error::ApiError;
use super::model::Job;

/// What is handed the jobs of a list, one at a time.
pub trait Visit: Send + 'static {
    /// Sees one job; says whether to read on.
    fn visit(&mut self, job: Job) -> Flow;
}

/// What a visitor wants after seeing a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read on.
    Continue,
    /// Enough: stop reading (the rest of the answer is dropped).
    Stop,
}

/// What one page of a list told, besides its jobs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageEnd {
    /// The page's `next` link (a DRF page), if any.
    pub next: Option<String>,
    /// The page's `count` (a DRF page): every job the list holds.
    pub count: Option<u64>,
    /// Whether it was a page envelope (not a plain array).
    pub paged: bool,
    /// Jobs handed to the visitor.
    pub items: u64,
    /// Entries that could not be read as a job (no `id` or `status`): they could be anyone's.
    pub unreadable: u64,
    /// The visitor stopped the walk.
    pub stopped: bool,
}

/// Reads a list answer's body, handing each job to `visit`; returns the visitor back, also
/// when the body failed half way (so the page can be read again: a visitor must take a job
/// it has seen before in its stride). `None` only if the reader itself died.
pub async fn read_page<V>(
    resp: reqwest::Response,
    visit: V,
) -> (Result<PageEnd, ApiError>, Option<V>)
where
    V: Visit,
{
    let status = resp.status().as_u16();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let parser = tokio::task::spawn_blocking(move || {
        parse(
            ChannelReader {
                rx,
                cur: Bytes::new(),
            },
            visit,
        )
    });
    let mut body = resp.bytes_stream();
    let mut cut = None;
    while let Some(chunk) = body.next().await {
        let item = chunk.map_err(|e| {
            let message = e.without_url().to_string();
            cut = Some(message.clone());
            std::io::Error::other(message)
        });
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            // The parser is done (stopped, or refused the body): read no more.
            break;
        }
    }
    drop(tx);
    match parser.await {
        Ok((result, visit)) => {
            let result = result.map_err(|message| match cut {
                // The connection broke: a network error, retried like one.
                Some(cut) => ApiError::Network {
                    message: format!("the job list was cut: {cut}"),
                    maybe_sent: true,
                },
                None => ApiError::Decode { status, message },
            });
            (result, Some(visit))
        }
        Err(e) => (
            Err(ApiError::Decode {
                status,
                message: format!("the list reader stopped: {e}"),
            }),
            None,
        ),
    }
}

fn parse<V: Visit>(reader: ChannelReader, mut visit: V) -> (Result<PageEnd, String>, V) {
    let mut end = PageEnd::default();
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(64 * 1024, reader));
    let r = Top {
        visit: &mut visit,
        end: &mut end,
    }
    .deserialize(&mut de);
    let result = match r {
        Ok(()) => Ok(end),
        Err(_) if end.stopped => Ok(end),
        Err(e) => Err(format!("not a job list: {e}")),
    };
    (result, visit)
}

/// Feeds the blocking parser from the network.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

struct Top<'a, V> {
    visit: &'a mut V,
    end: &'a mut PageEnd,
}

impl<'de, V: Visit> DeserializeSeed<'de> for Top<'_, V> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, V: Visit> Visitor<'de> for Top<'_, V> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of jobs or a page {count, next, results}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        items(seq, self.visit, self.end)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.end.paged = true;
        let mut results = false;
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                "results" | "data" | "items" | "jobs" if !results => {
                    results = true;
                    map.next_value_seed(Items {
                        visit: &mut *self.visit,
                        end: &mut *self.end,
                    })?;
                }
                "next" => {
                    self.end.next = match map.next_value::<Value>()? {
                        Value::String(s) if !s.trim().is_empty() => Some(s),
                        _ => None,
                    }
                }
                "count" | "total" => {
                    self.end.count = match map.next_value::<Value>()? {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !results {
            return Err(A::Error::custom("an object without a list of jobs"));
        }
        Ok(())
    }
}

struct Items<'a, V> {
    visit: &'a mut V,
    end: &'a mut PageEnd,
}

impl<'de, V: Visit> DeserializeSeed<'de> for Items<'_, V> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, V: Visit> Visitor<'de> for Items<'_, V> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of jobs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        items(seq, self.visit, self.end)
    }
}

fn items<'de, A: SeqAccess<'de>, V: Visit>(
    mut seq: A,
    visit: &mut V,
    end: &mut PageEnd,
) -> Result<(), A::Error> {
    while let Some(item) = seq.next_element::<Value>()? {
        match serde_json::from_value::<Job>(item) {
            Ok(job) => {
                end.items += 1;
                if visit.visit(job) == Flow::Stop {
                    end.stopped = true;
                    // Aborts the parse; `parse` reads `stopped` and calls it a success.
                    return Err(A::Error::custom("stopped"));
                }
            }
            Err(_) => end.unreadable += 1,
        }
    }
    Ok(())
}

/// The jobs of an answer already read whole (`?ids=`): a plain array or a page envelope.
/// `None` when it is neither.
pub fn items_of(answer: Value) -> Option<(Vec<Value>, Option<String>)> {
    match answer {
        Value::Array(items) => Some((items, None)),
        Value::Object(mut map) => {
            let next = match map.get("next") {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                _ => None,
            };
            ["results", "data", "items", "jobs"]
                .iter()
                .find_map(|k| match map.remove(*k) {
                    Some(Value::Array(items)) => Some(items),
                    _ => None,
                })
                .map(|items| (items, next))
        }
        _ => None,
    }
}
