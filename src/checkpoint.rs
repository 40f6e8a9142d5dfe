//! SQL surface of signed checkpoints (C2SP signed notes as Rekor writes them) and log keys.
//! Parsing errors raise 22P02 naming the line; key errors raise 22023. The tables, triggers, fork
//! evidence and the witness are PL/pgSQL in sql/ built on these functions.
use crate::args::Text;
use crate::error::{raise, snippet, INVALID_PARAMETER, INVALID_TEXT};
use pgrx::prelude::*;
use rekor_meta_core::checkpoint::{parse_checkpoint, Checkpoint};
use rekor_meta_core::keys::LogKey;

pub fn parse_note(note: &str) -> Checkpoint {
    parse_checkpoint(note.as_bytes()).unwrap_or_else(|e| {
        raise(INVALID_TEXT, format!("invalid checkpoint note: {e}"), format!("note begins {:?}", preview(note)))
    })
}

/// The first line of a note, shortened: enough to say which note was rejected.
fn preview(note: &str) -> String {
    let first = note.split('\n').next().unwrap_or("");
    first.chars().take(80).collect()
}

pub fn parse_key(key: &[u8]) -> LogKey {
    LogKey::parse(key).unwrap_or_else(|e| raise(INVALID_PARAMETER, format!("invalid public key: {e}"), format!("key is {} bytes", key.len())))
}

/// The fields of a checkpoint; `rekor_parse_checkpoint` (sql/) assembles them into a composite.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_checkpoint_fields(
    note: Text<'_>,
) -> TableIterator<
    'static,
    (
        name!(origin, String),
        name!(tree_size, i64),
        name!(root_hash, Vec<u8>),
        name!(extensions, Vec<String>),
        name!(signature_names, Vec<String>),
        name!(key_hints, Vec<Vec<u8>>),
        name!(signatures, Vec<Vec<u8>>),
    ),
> {
    let cp = parse_note(&note);
    // The parser bounds the size at 2^63 - 1, so the conversion cannot fail.
    let size = i64::try_from(cp.tree_size).unwrap_or(i64::MAX);
    let names = cp.signatures.iter().map(|s| s.name.clone()).collect();
    let hints = cp.signatures.iter().map(|s| s.key_hint.to_vec()).collect();
    let sigs = cp.signatures.iter().map(|s| s.signature.clone()).collect();
    TableIterator::once((cp.origin, size, cp.root_hash.to_vec(), cp.extensions, names, hints, sigs))
}

/// True when a signature line whose key hint matches `public_key` (DER SPKI or PEM) verifies.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_verify_checkpoint(note: Text<'_>, public_key: &[u8]) -> bool {
    let cp = parse_note(&note);
    cp.verify_any_name(&parse_key(public_key)).is_some()
}

/// As above, with the key as PEM or base64 DER text.
#[pg_extern(immutable, parallel_safe, strict, name = "rekor_verify_checkpoint")]
fn rekor_verify_checkpoint_text(note: Text<'_>, public_key: Text<'_>) -> bool {
    rekor_verify_checkpoint(note, public_key.as_bytes())
}

/// The C2SP signed-note rule for the verifier (signer_name, public_key): true when a signature line
/// with that name and the key's hint exists and every such line verifies. Lines of other names, even
/// with the same key hint, are other verifiers' and are ignored.
#[pg_extern(immutable, parallel_safe, strict, name = "rekor_verify_checkpoint")]
fn rekor_verify_checkpoint_named(note: Text<'_>, public_key: &[u8], signer_name: Text<'_>) -> bool {
    let cp = parse_note(&note);
    cp.verify(&parse_key(public_key), &signer_name)
}

#[pg_extern(immutable, parallel_safe, strict, name = "rekor_verify_checkpoint")]
fn rekor_verify_checkpoint_named_text(note: Text<'_>, public_key: Text<'_>, signer_name: Text<'_>) -> bool {
    rekor_verify_checkpoint_named(note, public_key.as_bytes(), signer_name)
}

/// The tree id a Rekor v1 checkpoint's origin names ("<host> - <tree id>"), NULL for a single-tree
/// log; reads the first line only.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_note_tree_id(note: Text<'_>) -> Option<i64> {
    let first = note.split('\n').next().unwrap_or("");
    let (_, id) = first.rsplit_once(" - ")?;
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<u64>().ok().and_then(|v| i64::try_from(v).ok())
}

/// Signed-note rule with a known signer: a line counts only if both its name and key hint match;
/// true when one counts and every one that counts verifies.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_checkpoint_signed_by(note: Text<'_>, public_key: &[u8], signer_name: Text<'_>) -> bool {
    let cp = parse_note(&note);
    cp.verify(&parse_key(public_key), &signer_name)
}

/// What `rekor_add_log` stores for a key: its type, canonical DER SPKI, and Rekor's log ID
/// (SHA-256 of the SPKI for ECDSA; the signed-note key hash of name and key for Ed25519).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_parse_log_key(
    public_key: Text<'_>,
    signer_name: Text<'_>,
) -> TableIterator<'static, (name!(key_type, String), name!(public_key, Vec<u8>), name!(log_id, Vec<u8>))> {
    if signer_name.len() > rekor_meta_core::keys::MAX_SIGNER_NAME_BYTES {
        raise(
            INVALID_PARAMETER,
            format!("invalid signer name: longer than {} bytes", rekor_meta_core::keys::MAX_SIGNER_NAME_BYTES),
            format!("signer name {:?}", snippet(&signer_name)),
        );
    }
    if !rekor_meta_core::keys::is_valid_note_name(&signer_name) {
        raise(
            INVALID_PARAMETER,
            "invalid signer name: it must be non-empty and contain no whitespace or '+'",
            format!("signer name {:?}", snippet(&signer_name)),
        );
    }
    let key = parse_key(public_key.as_bytes());
    TableIterator::once((key.key_type().as_str().to_string(), key.spki_der().to_vec(), key.log_id(&signer_name).to_vec()))
}
