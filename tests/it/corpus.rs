//! Hostile and broken input: the corpus of malformed sheets and configs under
//! `tests/corpus/` (each with the error it must produce, run through the real binary and the
//! library), keys that try to leave the output folder, formula cells, and properties over
//! arbitrary bytes, arbitrary configs, arbitrary keys and generated half-broken sheets.

mod cases;
mod formulas;
mod keys;
mod mixed;
mod props;
mod regressions;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// `tests/corpus/`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// Runs `f` on its own thread and returns its result, or fails the test when it has not
/// finished after `limit`: a hang is a failure, not a stuck suite. The limit is far above
/// what any input here needs (milliseconds); it is not a benchmark.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {limit:?}"),
        // The closure panicked: its own message is already printed.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}
