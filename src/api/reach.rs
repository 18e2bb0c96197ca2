//! Whether the API can be reached at all: the time since the first call that found no server
//! (connection refused, DNS or TLS failure) with no answer of any kind since. Any answer,
//! even an error status, resets it. The engine ends the run when this passes
//! `[api] unreachable_secs` with a few calls failed in it (one failed call followed by a
//! quiet wait proves little), instead of using up every row's attempts on a dead address.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shared by every call of one client.
#[derive(Debug, Default)]
pub struct Reach {
    down_since: Mutex<Option<Down>>,
}

/// Calls finding no server since the last answer.
#[derive(Debug, Clone)]
struct Down {
    since: Instant,
    calls: u32,
    error: String,
}

impl Reach {
    /// A call found no server.
    pub fn unreachable(&self, error: &str) {
        let mut g = self.down_since.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(d) => {
                d.calls = d.calls.saturating_add(1);
                d.error = error.to_owned();
            }
            None => {
                *g = Some(Down {
                    since: Instant::now(),
                    calls: 1,
                    error: error.to_owned(),
                })
            }
        }
    }

    /// The server answered.
    pub fn answered(&self) {
        *self.down_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How long no call has reached the server, how many calls failed so, and the last
    /// error; `None` while it answers.
    pub fn down_for(&self) -> Option<(Duration, u32, String)> {
        self.down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|d| (d.since.elapsed(), d.calls, d.error.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_answer_resets_the_window() {
        let r = Reach::default();
        assert!(r.down_for().is_none());
        r.unreachable("connection refused");
        r.unreachable("dns error");
        let (_, calls, e) = r.down_for().unwrap();
        assert_eq!((calls, e.as_str()), (2, "dns error"));
        r.answered();
        assert!(r.down_for().is_none());
    }
}
