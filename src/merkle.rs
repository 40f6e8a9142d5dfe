//! SQL surface of the RFC 6962 / RFC 9162 Merkle core: hashing, reference roots and proofs, and
//! proof verification. A well-formed proof that does not reach the root returns false; malformed
//! input raises 22023 with a message naming the failed check.
use crate::args::ByteaArray;
use crate::error::{raise, INVALID_PARAMETER, LIMIT_EXCEEDED};
use pgrx::prelude::*;
use rekor_meta_core::merkle::{self as mk, Hash, HashRole, MerkleError, MAX_PROOF_HASHES};

/// Maps a core error to (message, detail) and raises it.
pub fn raise_merkle(err: &MerkleError) -> ! {
    use MerkleError::*;
    let (msg, detail) = match err {
        EmptyTree => ("tree size must be positive".to_string(), err.to_string()),
        IndexBeyondSize { .. } => ("leaf index is not less than tree size".to_string(), err.to_string()),
        ProofTooLong { .. } => ("proof is too long".to_string(), err.to_string()),
        WrongProofLength { .. } => ("proof has the wrong number of hashes".to_string(), err.to_string()),
        BadHashLength { role, .. } => (format!("{role} is not a 32-byte SHA-256 hash"), err.to_string()),
        Size1GreaterThanSize2 { .. } => ("size1 is greater than size2".to_string(), err.to_string()),
        ConsistencyFromEmptyTree { .. } => {
            ("consistency proof from an empty tree is not accepted".to_string(), err.to_string())
        }
        NonEmptyProofForEqualSizes { .. } => {
            ("consistency proof must be empty when size1 = size2".to_string(), err.to_string())
        }
        EmptyConsistencyProof { .. } => ("consistency proof is empty".to_string(), err.to_string()),
        RootMismatch { .. } => ("root hash mismatch".to_string(), err.to_string()),
        TooManyLeaves { .. } => raise(LIMIT_EXCEEDED, "too many leaves", err.to_string()),
    };
    raise(INVALID_PARAMETER, msg, detail)
}

/// A non-negative size or index from SQL.
pub fn non_negative(name: &str, v: i64) -> u64 {
    u64::try_from(v).unwrap_or_else(|_| raise(INVALID_PARAMETER, format!("{name} must not be negative"), format!("{name} = {v}")))
}

/// Copies a proof array into hashes, rejecting over-long proofs (before reading any element), NULL
/// elements and elements that are not 32 bytes.
pub fn proof_hashes(proof: &Array<'_, &[u8]>) -> Vec<Hash> {
    if proof.len() > MAX_PROOF_HASHES {
        raise_merkle(&MerkleError::ProofTooLong { got: proof.len() });
    }
    proof
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Some(bytes) => hash_arg(bytes, HashRole::Proof(i)),
            None => raise(INVALID_PARAMETER, "proof contains a NULL hash", format!("proof hash [{}] is NULL", i + 1)),
        })
        .collect()
}

/// Borrowed views of proof hashes, as the core takes them.
pub fn as_slices(hashes: &[Hash]) -> Vec<&[u8]> {
    hashes.iter().map(|h| h.as_slice()).collect()
}

fn hash_arg(bytes: &[u8], role: HashRole) -> Hash {
    mk::to_hash(bytes, role).unwrap_or_else(|e| raise_merkle(&e))
}

fn leaf_hashes_of(leaves: &Array<'_, &[u8]>) -> Vec<Hash> {
    if leaves.len() > mk::MAX_REFERENCE_LEAVES {
        raise_merkle(&MerkleError::TooManyLeaves { got: leaves.len() });
    }
    leaves
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Some(d) => mk::leaf_hash(d),
            None => raise(INVALID_PARAMETER, "leaves contain a NULL", format!("leaf [{}] is NULL", i + 1)),
        })
        .collect()
}

/// SHA-256(0x00 || data): the RFC 6962 hash of a leaf.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_leaf_hash(data: &[u8]) -> Vec<u8> {
    mk::leaf_hash(data).to_vec()
}

/// SHA-256(0x01 || left || right): the RFC 6962 hash of an interior node.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_node_hash(left: &[u8], right: &[u8]) -> Vec<u8> {
    let l = hash_arg(left, HashRole::Left);
    let r = hash_arg(right, HashRole::Right);
    mk::node_hash(&l, &r).to_vec()
}

/// The Merkle tree hash of raw leaf entries (each is leaf-hashed first). Empty array: SHA-256("").
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_merkle_root(leaves: ByteaArray<'_>) -> Vec<u8> {
    mk::root_from_leaf_hashes(&leaf_hashes_of(&leaves.0)).to_vec()
}

/// The inclusion proof (RFC 6962 PATH) for leaf `log_index` of the tree over raw `leaves`.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_merkle_inclusion_proof(leaves: ByteaArray<'_>, log_index: i64) -> Vec<Vec<u8>> {
    let hashes = leaf_hashes_of(&leaves.0);
    let index = non_negative("log_index", log_index);
    let index = usize::try_from(index).unwrap_or(usize::MAX);
    match mk::inclusion_proof(&hashes, index) {
        Ok(p) => p.iter().map(|h| h.to_vec()).collect(),
        Err(e) => raise_merkle(&e),
    }
}

/// The consistency proof (RFC 6962 PROOF) from the first `size1` of raw `leaves` to all of them.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_merkle_consistency_proof(leaves: ByteaArray<'_>, size1: i64) -> Vec<Vec<u8>> {
    let hashes = leaf_hashes_of(&leaves.0);
    let m = usize::try_from(non_negative("size1", size1)).unwrap_or(usize::MAX);
    match mk::consistency_proof(&hashes, m) {
        Ok(p) => p.iter().map(|h| h.to_vec()).collect(),
        Err(e) => raise_merkle(&e),
    }
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2); errors on malformed input.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_inclusion_root(leaf_hash: &[u8], log_index: i64, tree_size: i64, proof: ByteaArray<'_>) -> Vec<u8> {
    let index = non_negative("log_index", log_index);
    let size = non_negative("tree_size", tree_size);
    let hashes = proof_hashes(&proof.0);
    let p = as_slices(&hashes);
    match mk::root_from_inclusion_proof(index, size, leaf_hash, &p) {
        Ok(root) => root.to_vec(),
        Err(e) => raise_merkle(&e),
    }
}

/// True when the proof leads from `leaf_hash` at `log_index` to `root_hash` in a tree of `tree_size`.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_verify_inclusion_proof(
    leaf_hash: &[u8],
    log_index: i64,
    tree_size: i64,
    proof: ByteaArray<'_>,
    root_hash: &[u8],
) -> bool {
    let index = non_negative("log_index", log_index);
    let size = non_negative("tree_size", tree_size);
    let hashes = proof_hashes(&proof.0);
    let p = as_slices(&hashes);
    match mk::verify_inclusion(index, size, leaf_hash, &p, root_hash) {
        Ok(()) => true,
        Err(e) if e.is_mismatch() => false,
        Err(e) => raise_merkle(&e),
    }
}

/// True when `proof` shows the tree of `size2` (`root2`) extends the tree of `size1` (`root1`).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_verify_consistency(size1: i64, size2: i64, root1: &[u8], root2: &[u8], proof: ByteaArray<'_>) -> bool {
    let s1 = non_negative("size1", size1);
    let s2 = non_negative("size2", size2);
    let hashes = proof_hashes(&proof.0);
    let p = as_slices(&hashes);
    match mk::verify_consistency(s1, s2, root1, root2, &p) {
        Ok(()) => true,
        Err(e) if e.is_mismatch() => false,
        Err(e) => raise_merkle(&e),
    }
}
