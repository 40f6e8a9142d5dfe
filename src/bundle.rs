//! SQL surface of Sigstore bundles out (rekor_meta_core::bundle_export): what an ingested bundle
//! carries besides its log entries (DSSE envelope, certificate, RFC 3161 tokens), the check that a
//! stored verifier is the body's, and a stored entry back out as a bundle v0.3.
use crate::args::{ByteaArray, Jsonb, Text};
use crate::error::{raise, INVALID_PARAMETER, LIMIT_EXCEEDED};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};
use rekor_meta_core::bundle_export::{bundle_material, export_bundle, ExportError, Material, StoredEntry};
use rekor_meta_core::dsse::parse_envelope;
use rekor_meta_core::entry::parse_body;
use rekor_meta_core::timestamp::{bundle_timestamps, TimestampError};
use rekor_meta_core::verifier::parse_verifier;

/// The DSSE envelope, the verifier's DER (a certificate; NULL for a public-key hint) and the RFC
/// 3161 tokens (DER, NULL when none) of a Sigstore bundle. 22023 naming what does not parse.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_bundle_material(
    bundle: Jsonb,
) -> TableIterator<
    'static,
    (name!(dsse_envelope, Option<JsonB>), name!(verifier, Option<Vec<u8>>), name!(rfc3161_timestamps, Option<Vec<Vec<u8>>>)),
> {
    let (env, verifier) = bundle_material(&bundle.0)
        .unwrap_or_else(|e| raise(INVALID_PARAMETER, format!("invalid Sigstore bundle: {e}"), ""));
    let tokens = match bundle_timestamps(&bundle.0) {
        Ok(t) => t,
        Err(e @ TimestampError::TooLong { .. }) => raise(LIMIT_EXCEEDED, format!("invalid Sigstore bundle: {e}"), ""),
        Err(e) => raise(
            INVALID_PARAMETER,
            format!("invalid Sigstore bundle: {e}"),
            "at $.verificationMaterial.timestampVerificationData.rfc3161Timestamps",
        ),
    };
    TableIterator::once((env.map(JsonB), verifier, (!tokens.is_empty()).then_some(tokens)))
}

/// Why a stored verifier is not the entry's, or NULL: it parses (PEM, base64 DER or DER of an SPKI
/// or X.509 certificate) and is a verifier the body records (same key), or, where the body records
/// none, signs the stored DSSE envelope.
#[pg_extern(immutable, parallel_safe)]
pub(crate) fn rekor_entry_verifier_mismatch(body: Option<&[u8]>, verifier: Option<&[u8]>, envelope: Option<Jsonb>) -> Option<String> {
    let (body, verifier) = (body?, verifier?);
    let v = match parse_verifier(verifier) {
        Ok(v) => v,
        Err(e) => return Some(format!("the stored verifier does not parse: {e}")),
    };
    let parsed = match parse_body(body) {
        Ok(p) => p,
        Err(e) => return Some(format!("the entry body does not parse: {e}")),
    };
    let recorded: Vec<&[u8]> = parsed
        .signatures
        .iter()
        .filter_map(|s| s.verifier.as_deref())
        .chain(parsed.public_key.as_deref())
        .collect();
    if !recorded.is_empty() {
        let same = recorded.iter().any(|r| parse_verifier(r).map(|b| b.spki == v.spki).unwrap_or(false));
        return (!same).then(|| {
            format!("the verifier ({} {}) is none of the {} the body records", v.kind.as_str(), v.key_type.as_str(), recorded.len())
        });
    }
    let Some(env) = envelope else {
        return Some("the body records no verifier and no DSSE envelope is stored for the verifier to sign".into());
    };
    match parse_envelope(&env.0) {
        Ok(e) if v.signs(&e).is_some() => None,
        Ok(_) => Some("the body records no verifier, and no signature of the stored envelope verifies under this one".into()),
        Err(e) => Some(format!("the stored envelope does not parse: {e}")),
    }
}

fn export_error(e: ExportError) -> ! {
    let code = match &e {
        // Nothing a bundle can carry: a dsse / intoto entry without its envelope, no verifier, or one
        // whose key type bundles do not carry here (RSA).
        ExportError::NoContent { .. } | ExportError::NoVerifier | ExportError::Verifier(_) => {
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
        }
        ExportError::TooManyTimestamps { .. } => LIMIT_EXCEEDED,
        // The values given are not an entry a bundle can hold (a body that does not parse, a bad field).
        _ => INVALID_PARAMETER,
    };
    raise(code, format!("the entry cannot be exported as a bundle: {e}"), "")
}

/// A stored entry (the columns of a rekor_entries row) and its material as a Sigstore bundle v0.3
/// (protobuf JSON). 55000 when the entry lacks what a bundle needs (a dsse / intoto entry without
/// its envelope; no verifier, or an unsupported one), 54000 over the timestamp limit, 22023 for a field a bundle
/// cannot hold. NULL when a required column is NULL.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn rekor_bundle_export(
    body: Option<&[u8]>,
    log_id: Option<&[u8]>,
    log_index: Option<i64>,
    integrated_time: Option<i64>,
    kind: Option<Text<'_>>,
    api_version: Option<Text<'_>>,
    signed_entry_timestamp: Option<&[u8]>,
    proof_log_index: Option<i64>,
    tree_size: Option<i64>,
    root_hash: Option<&[u8]>,
    proof_hashes: Option<ByteaArray<'_>>,
    checkpoint: Option<Text<'_>>,
    dsse_envelope: Option<Jsonb>,
    verifier: Option<&[u8]>,
    rfc3161_timestamps: Option<ByteaArray<'_>>,
) -> Option<JsonB> {
    // A rekor_entries row has every one of these: NULL in, NULL out.
    let (Some(body), Some(log_id), Some(log_index), Some(kind), Some(api_version), Some(proof_log_index), Some(tree_size), Some(root_hash), Some(proof_hashes), Some(checkpoint)) =
        (body, log_id, log_index, kind, api_version, proof_log_index, tree_size, root_hash, proof_hashes, checkpoint)
    else {
        return None;
    };
    fn field(f: &'static str, d: String) -> ! {
        export_error(ExportError::BadField { field: f, detail: d })
    }
    let index = |f: &'static str, v: i64| u64::try_from(v).unwrap_or_else(|_| field(f, format!("{v} is negative")));
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(proof_hashes.0.len());
    for (i, h) in proof_hashes.0.iter().enumerate() {
        match h.and_then(|h| <[u8; 32]>::try_from(h).ok()) {
            Some(h) => hashes.push(h),
            None => field("proof_hashes", format!("[{}] is NULL or not 32 bytes", i + 1)),
        }
    }
    let mut tokens: Vec<&[u8]> = Vec::new();
    if let Some(list) = rfc3161_timestamps.as_ref() {
        for t in list.0.iter().flatten() {
            tokens.push(t);
        }
    }
    let e = StoredEntry {
        body,
        log_id,
        log_index: index("log_index", log_index),
        integrated_time,
        kind: &kind,
        api_version: &api_version,
        signed_entry_timestamp,
        proof_log_index: index("proof_log_index", proof_log_index),
        tree_size: index("tree_size", tree_size),
        root_hash,
        proof_hashes: &hashes,
        checkpoint: &checkpoint,
    };
    let m = Material { dsse_envelope: dsse_envelope.as_ref().map(|j| &j.0), verifier, rfc3161_timestamps: tokens };
    match export_bundle(&e, &m) {
        Ok(b) => Some(JsonB(b)),
        Err(err) => export_error(err),
    }
}
