//! Creatify's API: the request and job types, the rules a request must follow, the price
//! rules, and the HTTP client.

pub mod credits;
pub mod model;
pub mod validate;

pub use model::{CreateLipsync, Job, JobStatus, ModelVersion};
