//! Shared helpers for the client-level tests live in tests/client/tests/common.
