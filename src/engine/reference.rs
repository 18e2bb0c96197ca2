//! The reference that makes submission exactly-once without an idempotency key.
//!
//! Each submission carries a short reference, derived from the batch, the row key, the body's
//! hash and the generation (bumped by `--retry-failed`), inside the job's `name`, so a job
//! whose 201 was lost can be found again by listing the account's jobs. The reference is
//! deterministic: a rerun after a crash computes the same one and looks for it before sending.
//!
//! What a server does to a stored name is undocumented, so the reference is made to survive
//! it: it comes **first** (a cut keeps the start), is **plain lower-case letters and digits**
//! (`cb` and 12 hex digits: nothing to escape, rewrite or collapse), and is matched
//! tolerantly (any case, with or without the `cb-` and brackets older versions wrote). A
//! server that drops names altogether is met by matching what a job echoes back
//! (`engine::search`).

use sha2::{Digest, Sha256};

use crate::api::validate::MAX_NAME;
use crate::api::CreateLipsync;

/// SHA-256 of the body as it would be sent without a reference, lowercase hex.
pub fn payload_hash(body: &CreateLipsync) -> String {
    // Serializing our own struct cannot fail (no maps with non-string keys, no foreign types).
    let json = serde_json::to_vec(body).unwrap_or_default();
    hex(&Sha256::digest(&json))
}

/// The reference for one submission of a row: `cb` and 12 hex digits.
pub fn reference(batch: &str, key: &str, payload_hash: &str, generation: u32) -> String {
    let mut h = Sha256::new();
    for part in [batch, key, payload_hash, &generation.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("cb{}", &hex(&h.finalize())[..12])
}

/// The job name that carries `reference`: the reference, a space, and the user's name (or the
/// row key), the user's part cut short so the whole fits in the API's 255 characters.
pub fn stamped_name(user_name: Option<&str>, key: &str, reference: &str) -> String {
    let user = user_name.filter(|n| !n.trim().is_empty()).unwrap_or(key);
    let mut name = format!("{reference} ");
    let room = MAX_NAME - name.chars().count();
    name.extend(user.chars().take(room));
    name
}

/// A reference in its one comparable form: lower case, `cb` and the hex digits (`cb-1A2B…`
/// and `cb1a2b…` are the same reference).
pub fn canonical(reference: &str) -> String {
    reference
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The references a job's name carries, canonical: every `cb` + 12 hex digits (optionally
/// `cb-`) standing as a word of its own, in any case, wherever it sits in the name.
pub fn references_in(name: &str) -> Vec<String> {
    let lower: Vec<char> = name.to_lowercase().chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 14 <= lower.len() {
        let starts_word = i == 0 || !lower[i - 1].is_ascii_alphanumeric();
        if starts_word && lower[i] == 'c' && lower[i + 1] == 'b' {
            let digits = if lower.get(i + 2) == Some(&'-') {
                i + 3
            } else {
                i + 2
            };
            let end = digits + 12;
            let hex_run =
                end <= lower.len() && lower[digits..end].iter().all(char::is_ascii_hexdigit);
            let ends_word = lower.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
            if hex_run && ends_word {
                found.push(format!(
                    "cb{}",
                    lower[digits..end].iter().collect::<String>()
                ));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// The user's part of a stamped name: without the leading reference (or the trailing
/// ` [cb-…]` older versions wrote).
pub fn user_part(name: &str) -> &str {
    if let Some((head, rest)) = name.split_once(' ') {
        if references_in(head).len() == 1 && head.len() == 14 {
            return rest;
        }
    }
    name.rsplit_once(" [cb-").map_or(name, |(user, _)| user)
}

/// Whether a job's name carries `reference`.
pub fn name_has(name: &str, reference: &str) -> bool {
    let want = canonical(reference);
    references_in(name).contains(&want)
}

/// The body to POST: `body` with its name stamped with `reference`.
pub fn stamped_body(body: &CreateLipsync, key: &str, reference: &str) -> CreateLipsync {
    let mut b = body.clone();
    b.name = Some(stamped_name(body.name.as_deref(), key, reference));
    b
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut_but_the_reference_never_is() {
        let r = reference("batch", "key", "hash", 0);
        let name = stamped_name(Some(&"é".repeat(400)), "key", &r);
        assert_eq!(name.chars().count(), MAX_NAME);
        assert!(name_has(&name, &r));
    }

    #[test]
    fn the_reference_survives_what_servers_do_to_names() {
        let r = reference("batch", "key", "hash", 0);
        let name = stamped_name(Some("Spring [sale]  ad"), "key", &r);
        assert!(name.starts_with(&r), "{name}");
        for mangled in [
            name.chars().take(20).collect::<String>(),
            name.replace('[', "(").replace(']', ")"),
            name.split_whitespace().collect::<Vec<_>>().join(" "),
            name.to_uppercase(),
            format!("  {name}"),
        ] {
            assert!(name_has(&mangled, &r), "{mangled}");
        }
        // Older versions wrote `name [cb-…]`: still found.
        assert!(name_has("spring [cb-0123456789ab]", "cb-0123456789ab"));
        assert!(name_has("spring (CB-0123456789AB)", "cb0123456789ab"));
        // Not a word of its own, or too short: not a reference.
        assert!(references_in("xcb0123456789ab").is_empty());
        assert!(references_in("cb0123456789a").is_empty());
        assert!(references_in("cb0123456789abc").is_empty());
        assert_eq!(
            references_in("a cb0123456789ab b [cb-ba9876543210]").len(),
            2
        );
    }

    #[test]
    fn references_are_stable_and_change_with_each_input() {
        let r = reference("b", "k", "h", 0);
        assert_eq!(r, reference("b", "k", "h", 0));
        assert_eq!(r.len(), 14);
        assert!(r
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        for other in [
            reference("b2", "k", "h", 0),
            reference("b", "k2", "h", 0),
            reference("b", "k", "h2", 0),
            reference("b", "k", "h", 1),
        ] {
            assert_ne!(r, other);
        }
    }

    #[test]
    fn the_key_names_a_job_without_a_name() {
        assert_eq!(
            stamped_name(None, "spring-01", "cb0123456789ab"),
            "cb0123456789ab spring-01"
        );
    }
}
