//! The reference that makes submission exactly-once without an idempotency key.
//!
//! Each submission carries a short reference, derived from the batch, the row key, the body's
//! hash and the generation (bumped by `--retry-failed`), inside the job's `name`, so a job
//! whose 201 was lost can be found again by listing the account's jobs. The reference is
//! deterministic: a rerun after a crash computes the same one and looks for it before sending.

use sha2::{Digest, Sha256};

use crate::api::validate::MAX_NAME;
use crate::api::CreateLipsync;

/// SHA-256 of the body as it would be sent without a reference, lowercase hex.
pub fn payload_hash(body: &CreateLipsync) -> String {
    // Serializing our own struct cannot fail (no maps with non-string keys, no foreign types).
    let json = serde_json::to_vec(body).unwrap_or_default();
    hex(&Sha256::digest(&json))
}

/// The reference for one submission of a row: `cb-` and 12 hex digits.
pub fn reference(batch: &str, key: &str, payload_hash: &str, generation: u32) -> String {
    let mut h = Sha256::new();
    for part in [batch, key, payload_hash, &generation.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("cb-{}", &hex(&h.finalize())[..12])
}

/// The job name that carries `reference`: the user's name (or the row key) and the reference
/// in brackets, the user's part cut short so the whole fits in the API's 255 characters.
pub fn stamped_name(user_name: Option<&str>, key: &str, reference: &str) -> String {
    let user = user_name.filter(|n| !n.trim().is_empty()).unwrap_or(key);
    let suffix = format!(" [{reference}]");
    let room = MAX_NAME - suffix.chars().count();
    let mut name: String = user.chars().take(room).collect();
    name.push_str(&suffix);
    name
}

/// Whether a job's name carries `reference`.
pub fn name_has(name: &str, reference: &str) -> bool {
    name.ends_with(&format!("[{reference}]"))
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
    fn references_are_stable_and_change_with_each_input() {
        let r = reference("b", "k", "h", 0);
        assert_eq!(r, reference("b", "k", "h", 0));
        assert_eq!(r.len(), 15);
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
            stamped_name(None, "spring-01", "cb-abc"),
            "spring-01 [cb-abc]"
        );
    }
}
