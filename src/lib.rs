//! rekor_meta: Rekor transparency-log evidence verified inside PostgreSQL.
//!
//! This crate is the thin shell: `#[pg_extern]` wrappers that map SQL values to the plain-Rust
//! core (`rekor_meta_core`) and map core errors to PostgreSQL errors with chosen SQLSTATEs.
//! Schema objects (tables, triggers, grants) live in `sql/` and are loaded in order below.
::pgrx::pg_module_magic!(name, version);

mod error;
mod merkle;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
