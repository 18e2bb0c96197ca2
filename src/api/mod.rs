//! Creatify's API: the request and job types, the rules a request must follow, the price
//! rules, the error classes and the HTTP client.

pub mod catalogue;
pub mod client;
pub mod credits;
pub mod error;
pub mod listing;
pub mod model;
pub mod pace;
pub mod reach;
pub mod review;
pub mod statuses;
pub mod tls;
pub mod validate;

pub use client::{ApiClient, ClientConfig, CreateOutcome, Credentials};
pub use error::{ApiError, ErrorClass};
pub use model::{CreateLipsync, Job, JobStatus, ModelVersion};
