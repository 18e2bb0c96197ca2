//! The first rows of a run refused with one and the same error: a bad default or a bad
//! column (an avatar id the account does not have, a voice that does not exist) fails every
//! row the same way, and sending the whole sheet only to read the same refusal thousands of
//! times helps nobody. Until the API has accepted one creation in this run, at most
//! `[retry] same_error_halt` creations are under way at once, fewer as the streak grows, so
//! that when the first N answers are all the same refusal, exactly N rows were sent and
//! submission halts with one message.
//!
//! Two refusals are "the same" once what is specific to a row is taken out: quoted values,
//! numbers (scene indexes, lengths, ids with digits).

/// The streak of identical row refusals at the start of a run.
#[derive(Debug)]
pub(super) struct SameError {
    /// N; 0 turns the check off.
    limit: u32,
    /// A creation was accepted in this run: the sheet can work, the check is over.
    proven: bool,
    /// The current streak: its normalised error, its first error as the API wrote it, and
    /// its length.
    streak: Option<(String, String, u32)>,
}

impl SameError {
    /// Halts after `limit` identical refusals in a row (0: never).
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            proven: false,
            streak: None,
        }
    }

    /// How many creations may be under way now, while the check lasts.
    pub fn cap(&self) -> Option<usize> {
        if self.limit == 0 || self.proven {
            return None;
        }
        let run = self.streak.as_ref().map_or(0, |s| s.2);
        Some(self.limit.saturating_sub(run).max(1) as usize)
    }

    /// The API accepted a creation.
    pub fn accepted(&mut self) {
        self.proven = true;
        self.streak = None;
    }

    /// The API refused a row with `error`; the halt message once the streak reaches N.
    pub fn refused(&mut self, error: &str) -> Option<String> {
        if self.limit == 0 || self.proven {
            return None;
        }
        let pattern = normalise(error);
        let n = match &mut self.streak {
            Some((p, _, n)) if *p == pattern => {
                *n += 1;
                *n
            }
            _ => {
                self.streak = Some((pattern, error.to_owned(), 1));
                1
            }
        };
        if n < self.limit {
            return None;
        }
        let first = self.streak.as_ref().map_or(error, |s| s.1.as_str());
        Some(format!(
            "the first {n} rows were all refused with the same error: {first}; fix the sheet or \
             the defaults ([retry] same_error_halt = {} stops here; 0 turns it off); the other \
             rows were not sent",
            self.limit
        ))
    }
}

/// `error` with what is specific to a row replaced: quoted text by `"…"`, runs of digits by
/// `N`.
pub fn normalise(error: &str) -> String {
    let mut out = String::with_capacity(error.len());
    let mut chars = error.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '"' => Some('"'),
            '\'' if out.ends_with(|p: char| !p.is_alphanumeric()) || out.is_empty() => Some('\''),
            '“' => Some('”'),
            '‘' => Some('’'),
            '`' => Some('`'),
            _ => None,
        };
        if let Some(close) = close {
            if chars.clone().any(|n| n == close) {
                for n in chars.by_ref() {
                    if n == close {
                        break;
                    }
                }
                out.push_str("\"…\"");
                continue;
            }
        }
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_digit() || *n == '.')
            {
                chars.next();
            }
            out.push('N');
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_specific_parts_are_taken_out() {
        let a = r#"HTTP 400: video_inputs[0].character.avatar_id: Invalid pk "ghost-1" - object does not exist."#;
        let b = r#"HTTP 400: video_inputs[2].character.avatar_id: Invalid pk "ghost-17" - object does not exist."#;
        assert_eq!(normalise(a), normalise(b));
        assert_eq!(
            normalise(a),
            r#"HTTP N: video_inputs[N].character.avatar_id: Invalid pk "…" - object does not exist."#
        );
        let c =
            "HTTP 400: video_inputs[0].voice.voice_id: Invalid pk \"x\" - object does not exist.";
        assert_ne!(normalise(a), normalise(c));
        // An apostrophe inside a word is not a quote.
        assert_eq!(normalise("don't 'x' it's"), "don't \"…\" it's");
    }

    #[test]
    fn a_streak_of_n_halts_a_different_error_restarts_it_an_accepted_row_ends_it() {
        let mut s = SameError::new(3);
        assert_eq!(s.cap(), Some(3));
        assert!(s.refused("bad \"a\"").is_none());
        assert_eq!(s.cap(), Some(2));
        assert!(s.refused("other").is_none());
        assert!(s.refused("bad \"b\"").is_none());
        assert!(s.refused("bad \"c\"").is_none());
        let halt = s.refused("bad \"d\"").expect("halts");
        assert!(
            halt.starts_with("the first 3 rows were all refused with the same error: bad \"b\";"),
            "{halt}"
        );
        let mut s = SameError::new(3);
        s.refused("bad \"a\"");
        s.accepted();
        assert_eq!(s.cap(), None);
        assert!(s.refused("bad \"b\"").is_none() && s.refused("bad \"c\"").is_none());
        assert!(s.refused("bad \"e\"").is_none());
        let mut off = SameError::new(0);
        assert_eq!(off.cap(), None);
        assert!((0..10).all(|_| off.refused("x").is_none()));
    }
}
