//! Shared helpers for the benchmark drivers.
pub mod testlog;
