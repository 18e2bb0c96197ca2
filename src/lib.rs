//! creatify-batch: a spreadsheet of ad scripts in, finished AI-avatar videos out, through
//! Creatify's `POST /api/lipsyncs_v2/`, each row rendered exactly once.
//!
//! The pipeline runs in one direction: [`sheet`] reads the CSV, [`plan`] turns rows into
//! validated request bodies with a credit estimate, [`engine`] submits, polls and fetches
//! through the [`journal`], and [`output`] lays out the files and the manifest ([`report`]
//! the HTML page). The [`sandbox`] is a faithful stand-in for the API.
#![deny(missing_docs)]

pub mod api;
pub mod batch;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod engine;
pub mod exit;
pub mod journal;
pub mod memory;
pub mod notify;
pub mod output;
pub mod plan;
pub mod progress;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod sheet;
pub mod storage;
