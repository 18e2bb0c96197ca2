//! The API's dialects (issue 11): the real binary against a sandbox that deviates from its
//! own defaults one way at a time (the `[api]` table of the fault file), and what the tool
//! does about each deviation.

mod media;
mod output_delay;
mod tls;
