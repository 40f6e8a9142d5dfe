//! Shared helpers for the benchmark drivers.
