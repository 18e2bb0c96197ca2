//! Issue 10, truthful batches: a run never reports a video as made when it was not.

mod dialect;
mod feedback;
mod identity;
mod status_sheet;
