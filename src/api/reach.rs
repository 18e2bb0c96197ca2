//! Whether the API can be reached at all: the time since the first call that found no server
//! (connection refused, DNS or TLS failure) with no answer of any kind since. Any answer,
//! even an error status, resets it. The engine ends the run when this passes
//! `[api] unreachable_secs`, instead of using up every row's attempts on a dead address.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shared by every call of one client.
#[derive(Debug, Default)]
pub struct Reach {
    down_since: Mutex<Option<(Instant, String)>>,
}

impl Reach {
    /// A call found no server.
    pub fn unreachable(&self, error: &str) {
        let mut g = self.down_since.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some((_, last)) => *last = error.to_owned(),
            None => *g = Some((Instant::now(), error.to_owned())),
        }
    }

    /// The server answered.
    pub fn answered(&self) {
        *self.down_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How long no call has reached the server, and the last error; `None` while it answers.
    pub fn down_for(&self) -> Option<(Duration, String)> {
        self.down_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(t, e)| (t.elapsed(), e.clone()))
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
        let (_, e) = r.down_for().unwrap();
        assert_eq!(e, "dns error");
        r.answered();
        assert!(r.down_for().is_none());
    }
}
