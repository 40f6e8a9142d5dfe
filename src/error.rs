//! Raising user-facing errors: every error leaves with a chosen SQLSTATE, a one-line message and a
//! DETAIL carrying the values, never as XX000 (a Rust panic) or 22000 (a bare `Err`).
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub use PgSqlErrorCode::{
    ERRCODE_INVALID_PARAMETER_VALUE as INVALID_PARAMETER, ERRCODE_INVALID_TEXT_REPRESENTATION as INVALID_TEXT,
    ERRCODE_PROGRAM_LIMIT_EXCEEDED as LIMIT_EXCEEDED,
};

/// Raises an ERROR and never returns.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>, detail: impl Into<String>) -> ! {
    raise_with_hint(code, message, detail, None)
}

/// The same with a HINT.
pub fn raise_with_hint(code: PgSqlErrorCode, message: impl Into<String>, detail: impl Into<String>, hint: Option<&str>) -> ! {
    let detail: String = detail.into();
    let mut report = ErrorReport::new(code, message.into(), "rekor_meta");
    if !detail.is_empty() {
        report = report.set_detail(detail);
    }
    if let Some(h) = hint {
        report = report.set_hint(h.to_string());
    }
    // ereport(ERROR) leaves by a Rust panic that pgrx turns into the ERROR at the function's boundary
    // (its SQLSTATE is `code`); it never returns, so the line below is never reached.
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// A user-supplied string shortened for a message: its first 80 characters.
pub fn snippet(s: &str) -> String {
    const LIMIT: usize = 80;
    match s.char_indices().nth(LIMIT) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &s[..cut], s.len()),
    }
}
