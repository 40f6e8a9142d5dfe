//! SQL surface of RFC 3161 timestamps (rekor_meta_core::timestamp): the timestamp authorities of a
//! trusted root for rekor_import_trusted_root, and the check the rekor_entries trigger runs on an
//! entry's token. The check returns an error text instead of raising, so the trigger raises one
//! 23514 naming check 6 in the order of the checks.
use crate::args::Jsonb;
use crate::error::{raise, snippet, INVALID_PARAMETER, LIMIT_EXCEEDED};
use pgrx::prelude::*;
use rekor_meta_core::entry::parse_body;
use rekor_meta_core::json::Value;
use rekor_meta_core::timestamp::{
    parse_trusted_root_authorities, verify_for_signatures, Instant, TimestampAuthority, TimestampError, MAX_AUTHORITIES,
    MAX_CERT_BYTES, MAX_CHAIN_CERTS,
};

/// Microseconds since 1970 of an instant (PostgreSQL keeps microseconds: nanoseconds are cut).
fn micros(t: Instant) -> i64 {
    t.secs.saturating_mul(1_000_000).saturating_add(i64::from(t.nanos / 1000))
}

fn instant(us: i64) -> Instant {
    Instant { secs: us.div_euclid(1_000_000), nanos: u32::try_from(us.rem_euclid(1_000_000) * 1000).unwrap_or(0) }
}

/// The `timestampAuthorities[]` of a Sigstore trusted root, one row each: subject ("O=…, CN=…"),
/// uri, certificate chain (leaf first, DER), and validFor in microseconds since 1970 (end NULL:
/// open). 22023 naming the JSON path of a malformed authority, 54000 over the limits.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_trusted_root_tsas(
    trusted_root: Jsonb,
) -> TableIterator<
    'static,
    (
        name!(subject, String),
        name!(uri, Option<String>),
        name!(chain, Vec<Vec<u8>>),
        name!(valid_from_us, i64),
        name!(valid_until_us, Option<i64>),
    ),
> {
    match parse_trusted_root_authorities(&trusted_root.0) {
        Ok(list) => TableIterator::new(
            list.into_iter().map(|a| (a.subject, a.uri, a.chain, micros(a.valid_from), a.valid_until.map(micros))),
        ),
        Err(e @ TimestampError::TooLong { .. }) => raise(LIMIT_EXCEEDED, format!("invalid trusted root: {e}"), ""),
        Err(e) => raise(INVALID_PARAMETER, format!("invalid trusted root: {e}"), "in $.timestampAuthorities"),
    }
}

/// The stored authorities as rekor_timestamp_authorities_json() builds them:
/// `[{"tsa_id", "subject", "uri", "chain": [hex DER…], "valid_from_us", "valid_until_us"}]`.
pub(crate) fn stored_authorities(v: &Value) -> Result<(Vec<i64>, Vec<TimestampAuthority>), String> {
    let list = v.as_array().ok_or("the authorities are not a JSON array")?;
    if list.len() > MAX_AUTHORITIES {
        return Err(format!("{} timestamp authorities, over the limit of {MAX_AUTHORITIES}", list.len()));
    }
    let (mut ids, mut out) = (Vec::with_capacity(list.len()), Vec::with_capacity(list.len()));
    for (i, a) in list.iter().enumerate() {
        let bad = |what: &str| format!("authority [{i}]: {what}");
        let id = a.get("tsa_id").and_then(Value::as_i64).ok_or_else(|| bad("tsa_id is not an integer"))?;
        let certs = a.get("chain").and_then(Value::as_array).ok_or_else(|| bad("chain is not an array"))?;
        if certs.is_empty() || certs.len() > MAX_CHAIN_CERTS {
            return Err(bad(&format!("chain has {} certificates (1 to {MAX_CHAIN_CERTS})", certs.len())));
        }
        let mut chain = Vec::with_capacity(certs.len());
        for c in certs {
            let h = c.as_str().ok_or_else(|| bad("a certificate is not a hex string"))?;
            if h.len() > MAX_CERT_BYTES * 2 {
                return Err(bad(&format!("a certificate is over {MAX_CERT_BYTES} bytes")));
            }
            chain.push(hex::decode(h).map_err(|e| bad(&format!("a certificate is not hex: {e}")))?);
        }
        let from = a.get("valid_from_us").and_then(Value::as_i64).ok_or_else(|| bad("valid_from_us is not an integer"))?;
        let until = match a.get("valid_until_us") {
            None | Some(Value::Null) => None,
            Some(u) => Some(u.as_i64().ok_or_else(|| bad("valid_until_us is not an integer"))?),
        };
        ids.push(id);
        out.push(TimestampAuthority {
            subject: a.get("subject").and_then(Value::as_str).unwrap_or_default().to_string(),
            uri: a.get("uri").and_then(Value::as_str).map(str::to_string),
            chain,
            valid_from: instant(from),
            valid_until: until.map(instant),
        });
    }
    Ok((ids, out))
}

/// Check 6 of an entry: its RFC 3161 token (a TimeStampResp or TimeStampToken, DER) timestamps one
/// of the signatures the entry body records and verifies under one of the stored timestamp
/// authorities (`authorities`: rekor_timestamp_authorities_json()). One row: the authority's
/// tsa_id and genTime (microseconds since 1970), or the failed check (parse, imprint, chain,
/// signature, eku, validity, body, trusted root) and its message.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_timestamp_check(
    token: &[u8],
    body: &[u8],
    authorities: Jsonb,
) -> TableIterator<
    'static,
    (name!(tsa_id, Option<i64>), name!(gen_time_us, Option<i64>), name!(check, Option<String>), name!(error, Option<String>)),
> {
    let stored = stored_authorities(&authorities.0);
    let verdict = check_token(token, body, stored.as_ref().map(|(ids, tsas)| (ids.as_slice(), tsas.as_slice())).map_err(|e| e.as_str()));
    match verdict {
        Ok((tsa_id, gen_us)) => TableIterator::once((tsa_id, Some(gen_us), None, None)),
        Err((check, error)) => TableIterator::once((None, None, Some(check.to_string()), Some(error))),
    }
}

/// Check 6 of an entry against parsed authorities: the authority's tsa_id and the genTime
/// (microseconds since 1970), or the failed check's name and message.
pub(crate) fn check_token(
    token: &[u8],
    body: &[u8],
    authorities: Result<(&[i64], &[TimestampAuthority]), &str>,
) -> Result<(Option<i64>, i64), (&'static str, String)> {
    let parsed = match parse_body(body) {
        Ok(p) => p,
        Err(e) => return Err(("body", format!("the body does not parse, so no signature to timestamp: {e}"))),
    };
    let mut sigs: Vec<&[u8]> = parsed.signatures.iter().map(|s| s.signature.as_slice()).collect();
    if let Some(s) = parsed.signature.as_deref() {
        sigs.push(s);
    }
    if sigs.is_empty() {
        return Err(("imprint", format!("the {} body records no signature for the token to timestamp", snippet(&parsed.kind))));
    }
    let (ids, tsas) = authorities.map_err(|e| ("trusted root", e.to_string()))?;
    if tsas.is_empty() {
        return Err(("chain", "no timestamp authority is trusted (rekor_timestamp_authorities is empty; rekor_import_trusted_root fills it)".into()));
    }
    match verify_for_signatures(token, &sigs, tsas) {
        Ok(v) => Ok((ids.get(v.authority).copied(), micros(v.gen_time))),
        Err(e) => Err((e.check(), e.to_string())),
    }
}
