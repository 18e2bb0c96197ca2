//! Persistence: an append-only file of JSON lines in the state directory
//! (`sandbox-journal.jsonl`), one line per event, fsynced before the answer that depends on
//! it is sent. Replaying it on start rebuilds every job and the credit balance; since job
//! states derive from wall time, the jobs have moved on exactly as if the sandbox had never
//! stopped.
//!
//! Writes go through one writer thread that commits in groups: every line waiting when it
//! wakes is written, then one `fsync` covers them all, then each waiting request is told.
//! So a burst of creations costs one sync per group, not one per job, and a write never
//! rewrites what is already there.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::job::JobRecord;

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "sandbox-journal.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The first line: the account's starting balance. Later starts keep it and ignore
    /// `--credits`.
    Account {
        /// Starting credits.
        credits: f64,
    },
    /// A job was created and charged `job.credits_used`.
    Job {
        /// The whole job.
        job: JobRecord,
    },
    /// Credits were added to the account ([`super::Sandbox::add_credits`]).
    TopUp {
        /// How many.
        credits: f64,
    },
    /// A preview was sent to its final render, charging `credits`.
    Render {
        /// The job's id.
        id: String,
        /// When, Unix milliseconds.
        at_ms: i64,
        /// What it cost.
        credits: f64,
    },
}

/// Resolves once a line is durable (or failed to be written).
pub type Durable = oneshot::Receiver<Result<(), String>>;

type Pending = (Vec<u8>, oneshot::Sender<Result<(), String>>);

/// The open journal: send lines to the writer thread.
#[derive(Debug)]
pub struct Journal {
    tx: mpsc::Sender<Pending>,
    path: PathBuf,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, returning it and the events already in it. A
    /// torn last line (a write cut short by a crash, never acknowledged) is dropped and cut
    /// off the file; a bad line anywhere else is an error.
    pub fn open(dir: &Path) -> anyhow::Result<(Self, Vec<Event>)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let (events, good_len) = read_events(&file, &path)?;
        let len = file.metadata()?.len();
        if good_len < len {
            tracing::warn!(
                file = %path.display(),
                dropped_bytes = len - good_len,
                "sandbox journal ends with a torn line; dropping it"
            );
            file.set_len(good_len)?;
            file.seek(SeekFrom::End(0))?;
            file.sync_data()?;
        }
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("sandbox-journal".into())
            .spawn(move || write_loop(file, rx))
            .context("cannot start the journal writer")?;
        Ok((Self { tx, path }, events))
    }

    /// Queues `event`; the returned receiver resolves when it is on disk.
    pub fn append(&self, event: &Event) -> Durable {
        let (done_tx, done_rx) = oneshot::channel();
        match serde_json::to_vec(event) {
            Ok(mut line) => {
                line.push(b'\n');
                if let Err(mpsc::SendError((_, done_tx))) = self.tx.send((line, done_tx)) {
                    let _ = done_tx.send(Err("the journal writer has stopped".into()));
                }
            }
            Err(e) => {
                let _ = done_tx.send(Err(format!("cannot encode a journal line: {e}")));
            }
        }
        done_rx
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every complete, parseable line; returns the events and the byte length they span.
fn read_events(file: &File, path: &Path) -> anyhow::Result<(Vec<Event>, u64)> {
    let mut reader = BufReader::new(file);
    let mut events = Vec::new();
    let mut good_len = 0u64;
    let mut line = Vec::new();
    let mut number = 0usize;
    let mut torn: Option<usize> = None;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Some(bad) = torn {
            bail!(
                "{} line {bad} is corrupt and is not the last line; refusing to guess",
                path.display()
            );
        }
        let complete = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Event>(&line) {
            Ok(event) if complete => {
                events.push(event);
                good_len += n as u64;
            }
            _ => torn = Some(number),
        }
    }
    Ok((events, good_len))
}

fn write_loop(mut file: File, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while let Ok(more) = rx.try_recv() {
            group.push(more);
        }
        let mut buf = Vec::with_capacity(group.iter().map(|(l, _)| l.len()).sum());
        for (line, _) in &group {
            buf.extend_from_slice(line);
        }
        let result = file
            .write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write the sandbox journal: {e}"));
        if let Err(e) = &result {
            tracing::error!("{e}");
        }
        for (_, done) in group {
            let _ = done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_survive_a_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, events) = Journal::open(dir.path()).unwrap();
            assert!(events.is_empty());
            j.append(&Event::Account { credits: 10.0 })
                .await
                .unwrap()
                .unwrap();
        }
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"render\",\"id\":").unwrap();
        drop(f);
        let (j, events) = Journal::open(dir.path()).unwrap();
        assert_eq!(events, [Event::Account { credits: 10.0 }]);
        let render = Event::Render {
            id: "x".into(),
            at_ms: 5,
            credits: 4.0,
        };
        j.append(&render).await.unwrap().unwrap();
        drop(j);
        let (_, events) = Journal::open(dir.path()).unwrap();
        assert_eq!(events, [Event::Account { credits: 10.0 }, render]);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "garbage\n{\"event\":\"account\",\"credits\":1.0}\n",
        )
        .unwrap();
        assert!(Journal::open(dir.path()).is_err());
    }
}
