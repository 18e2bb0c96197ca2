//! The API's dialects (issue 11): the real binary against a sandbox that answers in shapes
//! the public docs do not rule out (the `[api]` table of the fault file,
//! `sandbox::dialect`), one deviation at a time, and what the tool does about each. Whatever
//! the shape: never pays twice, never sticks on paid work.

mod error_classes;
mod ids_answers;
mod listing;
mod media;
mod output_delay;
mod rig;
mod statuses;
mod throttle;
mod tls;
