//! The one integration-test binary (one link on a 2-core machine); one module per area.

mod plan;
