//! rekor_meta_core: everything rekor_meta verifies, as plain Rust with no PostgreSQL dependency,
//! so it can be unit-tested, fuzzed and benchmarked on its own.
#![forbid(unsafe_code)]

pub mod merkle;
pub mod keys;
pub mod checkpoint;
pub mod entry;
pub mod dsse;
pub mod evidence;
pub mod json;
pub mod verifier;
pub mod timestamp;
pub mod bundle_export;
