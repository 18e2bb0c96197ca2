//! The API's dialect (issue 11): the sandbox answers the way a real server might where the
//! docs are silent (`[api]` of the fault file), and the real binary must still be right.

mod error_classes;
mod rig;
mod statuses;
mod throttle;
