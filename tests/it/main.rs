//! The one integration-test binary (one link instead of many): one module per capability.

mod commands;
mod corpus;
mod crash;
mod dialect;
mod faults;
mod plan;
mod run;
mod sandbox;
mod storage;
mod support;
mod truthful;
