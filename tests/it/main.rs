//! The one integration-test binary (one link instead of many): one module per capability.

mod catalog;
mod commands;
mod corpus;
mod crash;
mod dialect;
mod faults;
mod plan;
mod rendercap;
mod report;
mod review;
mod run;
mod sandbox;
mod sheets;
mod storage;
mod support;
mod truthful;
mod webhooks;
