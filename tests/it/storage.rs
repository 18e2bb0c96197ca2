//! Object storage and notifications, against a real S3-compatible server (SeaweedFS, started
//! once for the module on free ports of 127.0.0.1) and local listeners.

mod delivery;
mod notify;
mod refusals;
mod seaweed;
