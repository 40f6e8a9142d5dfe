//! RFC 6962 §2.1 / RFC 9162 §2.1 Merkle trees: hashing, reference tree construction, and
//! inclusion / consistency proof verification with the same semantics as transparency-dev/merkle.
//!
//! Every failure is a distinct [`MerkleError`] naming the check that failed.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Length of every hash in an RFC 6962 SHA-256 tree.
pub const HASH_LEN: usize = 32;
/// Longest proof accepted: a 2^64-leaf tree needs at most 64 hashes, so anything longer is abuse.
pub const MAX_PROOF_HASHES: usize = 64;
/// Largest leaf list the reference tree builder accepts (it is for tests and demos, not for logs).
pub const MAX_REFERENCE_LEAVES: usize = 1 << 20;

pub type Hash = [u8; HASH_LEN];

/// Which input a hash-length error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashRole {
    Leaf,
    Root,
    Root1,
    Root2,
    Left,
    Right,
    /// The proof element at this (0-based) position.
    Proof(usize),
}

impl fmt::Display for HashRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashRole::Leaf => f.write_str("leaf hash"),
            HashRole::Root => f.write_str("root hash"),
            HashRole::Root1 => f.write_str("root1"),
            HashRole::Root2 => f.write_str("root2"),
            HashRole::Left => f.write_str("left hash"),
            HashRole::Right => f.write_str("right hash"),
            HashRole::Proof(i) => write!(f, "proof hash [{}]", i + 1),
        }
    }
}

/// Exactly which check of a Merkle verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerkleError {
    /// Inclusion in a tree of size 0 is impossible.
    EmptyTree,
    IndexBeyondSize { index: u64, size: u64 },
    ProofTooLong { got: usize },
    WrongProofLength { got: usize, want: usize },
    BadHashLength { role: HashRole, got: usize },
    Size1GreaterThanSize2 { size1: u64, size2: u64 },
    /// Consistency from size 0 proves nothing; transparency-dev/merkle rejects it too.
    ConsistencyFromEmptyTree { size2: u64 },
    NonEmptyProofForEqualSizes { got: usize },
    EmptyConsistencyProof { size1: u64, size2: u64 },
    /// The recomputed root differs from the expected one: a well-formed proof that does not verify.
    RootMismatch { role: HashRole, expected: Hash, calculated: Hash },
    TooManyLeaves { got: usize },
}

impl MerkleError {
    /// True for a well-formed proof that simply does not lead to the expected root.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, MerkleError::RootMismatch { .. })
    }
}

impl fmt::Display for MerkleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MerkleError::*;
        match self {
            EmptyTree => f.write_str("tree size is 0: no leaf can be included in an empty tree"),
            IndexBeyondSize { index, size } => {
                write!(f, "leaf index is beyond tree size: {index} >= {size}")
            }
            ProofTooLong { got } => {
                write!(f, "proof has {got} hashes, more than the limit of {MAX_PROOF_HASHES}")
            }
            WrongProofLength { got, want } => {
                write!(f, "wrong proof length: got {got} hashes, want {want}")
            }
            BadHashLength { role, got } => {
                write!(f, "{role} is {got} bytes, want {HASH_LEN}")
            }
            Size1GreaterThanSize2 { size1, size2 } => {
                write!(f, "size1 is greater than size2: {size1} > {size2}")
            }
            ConsistencyFromEmptyTree { size2 } => write!(
                f,
                "consistency proof from an empty tree (size1 = 0, size2 = {size2}) is meaningless"
            ),
            NonEmptyProofForEqualSizes { got } => {
                write!(f, "size1 = size2 but the proof is not empty ({got} hashes)")
            }
            EmptyConsistencyProof { size1, size2 } => {
                write!(f, "empty consistency proof for size1 = {size1} < size2 = {size2}")
            }
            RootMismatch { role, expected, calculated } => write!(
                f,
                "calculated {role} {} does not match expected {role} {}",
                hex::encode(calculated),
                hex::encode(expected)
            ),
            TooManyLeaves { got } => write!(
                f,
                "{got} leaves is more than the reference tree limit of {MAX_REFERENCE_LEAVES}"
            ),
        }
    }
}

impl std::error::Error for MerkleError {}

/// SHA-256(0x00 || data): the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right): the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 1 + 2 * HASH_LEN];
    block[0] = 1;
    block[1..1 + HASH_LEN].copy_from_slice(left);
    block[1 + HASH_LEN..].copy_from_slice(right);
    Sha256::digest(block).into()
}

/// SHA-256(""): the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Converts a slice to a hash, or names which input had the wrong length.
pub fn to_hash(bytes: &[u8], role: HashRole) -> Result<Hash, MerkleError> {
    bytes
        .try_into()
        .map_err(|_| MerkleError::BadHashLength { role, got: bytes.len() })
}

/// Constant-time equality of two hashes (roots can be secrets of a sort: never leak where they differ).
pub fn hashes_equal(a: &Hash, b: &Hash) -> bool {
    a.ct_eq(b).into()
}

fn check_proof(proof: &[&[u8]]) -> Result<(), MerkleError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(MerkleError::ProofTooLong { got: proof.len() });
    }
    for (i, p) in proof.iter().enumerate() {
        if p.len() != HASH_LEN {
            return Err(MerkleError::BadHashLength { role: HashRole::Proof(i), got: p.len() });
        }
    }
    Ok(())
}

fn as_hash(p: &[u8]) -> Hash {
    // Lengths were checked by check_proof; a short slice would be zero-padded, never panic.
    let mut h = [0u8; HASH_LEN];
    let n = p.len().min(HASH_LEN);
    h[..n].copy_from_slice(&p[..n]);
    h
}

/// (inner, border) lengths of the inclusion proof for `index` in a tree of `size` (size > 0).
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = inner_proof_size(index, size);
    let border = if inner >= 64 { 0 } else { (index >> inner).count_ones() as usize };
    (inner, border)
}

fn inner_proof_size(index: u64, size: u64) -> usize {
    (64 - (index ^ (size - 1)).leading_zeros()) as usize
}

/// The number of hashes a correct inclusion proof for (index, size) has.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, MerkleError> {
    if size == 0 {
        return Err(MerkleError::EmptyTree);
    }
    if index >= size {
        return Err(MerkleError::IndexBeyondSize { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    Ok(inner + border)
}

fn chain_inner(mut seed: Hash, proof: &[&[u8]], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        let h = as_hash(h);
        seed = if (index >> i) & 1 == 0 { node_hash(&seed, &h) } else { node_hash(&h, &seed) };
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[&[u8]], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(&as_hash(h), &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[&[u8]]) -> Hash {
    for h in proof {
        seed = node_hash(&as_hash(h), &seed);
    }
    seed
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[&[u8]],
) -> Result<Hash, MerkleError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(MerkleError::ProofTooLong { got: proof.len() });
    }
    let want = inclusion_proof_len(index, size)?;
    let leaf = to_hash(leaf_hash, HashRole::Leaf)?;
    check_proof(proof)?;
    if proof.len() != want {
        return Err(MerkleError::WrongProofLength { got: proof.len(), want });
    }
    let (inner, _) = decomp_incl_proof(index, size);
    let (inner_part, border_part) = proof.split_at(inner.min(proof.len()));
    let res = chain_inner(leaf, inner_part, index);
    Ok(chain_border_right(res, border_part))
}

/// Verifies that `leaf_hash` is at `index` in the tree of `size` with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[&[u8]],
    root: &[u8],
) -> Result<(), MerkleError> {
    let calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)?;
    let expected = to_hash(root, HashRole::Root)?;
    if hashes_equal(&calculated, &expected) {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch { role: HashRole::Root, expected, calculated })
    }
}

/// Verifies an RFC 9162 §2.1.4.2 consistency proof between trees of size1 (root1) and size2 (root2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[&[u8]],
) -> Result<(), MerkleError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(MerkleError::ProofTooLong { got: proof.len() });
    }
    let r1 = to_hash(root1, HashRole::Root1)?;
    let r2 = to_hash(root2, HashRole::Root2)?;
    check_proof(proof)?;
    if size1 > size2 {
        return Err(MerkleError::Size1GreaterThanSize2 { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(MerkleError::NonEmptyProofForEqualSizes { got: proof.len() });
        }
        return if hashes_equal(&r1, &r2) {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch { role: HashRole::Root2, expected: r2, calculated: r1 })
        };
    }
    if size1 == 0 {
        return Err(MerkleError::ConsistencyFromEmptyTree { size2 });
    }
    if proof.is_empty() {
        return Err(MerkleError::EmptyConsistencyProof { size1, size2 });
    }

    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    let inner = inner.saturating_sub(shift); // shift < inner whenever size1 < size2
    // The proof starts with the root of the 2^shift subtree, unless size1 is that subtree itself.
    let (seed, rest): (Hash, &[&[u8]]) = if size1 == 1u64 << shift {
        (r1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (as_hash(first), rest),
            None => return Err(MerkleError::EmptyConsistencyProof { size1, size2 }),
        }
    };
    let start = proof.len() - rest.len();
    if rest.len() != inner + border {
        return Err(MerkleError::WrongProofLength { got: proof.len(), want: start + inner + border });
    }
    let (inner_part, border_part) = rest.split_at(inner);
    let mask = (size1 - 1) >> shift;

    let hash1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    if !hashes_equal(&hash1, &r1) {
        return Err(MerkleError::RootMismatch { role: HashRole::Root1, expected: r1, calculated: hash1 });
    }
    let hash2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    if !hashes_equal(&hash2, &r2) {
        return Err(MerkleError::RootMismatch { role: HashRole::Root2, expected: r2, calculated: hash2 });
    }
    Ok(())
}

// ---- Reference tree (RFC 6962 §2.1 MTH / PATH / PROOF, written as the RFC defines them) ----

/// Largest power of two strictly less than n (n > 1).
fn split_point(n: usize) -> usize {
    let mut k = 1usize;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over already-hashed leaves.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let (l, r) = leaves.split_at(split_point(n));
            node_hash(&root_from_leaf_hashes(l), &root_from_leaf_hashes(r))
        }
    }
}

/// MTH over raw leaf data (each is hashed with [`leaf_hash`]).
pub fn merkle_root<T: AsRef<[u8]>>(leaves: &[T]) -> Result<Hash, MerkleError> {
    if leaves.len() > MAX_REFERENCE_LEAVES {
        return Err(MerkleError::TooManyLeaves { got: leaves.len() });
    }
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    Ok(root_from_leaf_hashes(&hashes))
}

/// PATH(m, D[n]): the inclusion proof for leaf m.
pub fn inclusion_proof(leaves: &[Hash], m: usize) -> Result<Vec<Hash>, MerkleError> {
    if leaves.is_empty() {
        return Err(MerkleError::EmptyTree);
    }
    if m >= leaves.len() {
        return Err(MerkleError::IndexBeyondSize { index: m as u64, size: leaves.len() as u64 });
    }
    fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
        if d.len() <= 1 {
            return;
        }
        let k = split_point(d.len());
        let (l, r) = d.split_at(k);
        if m < k {
            path(m, l, out);
            out.push(root_from_leaf_hashes(r));
        } else {
            path(m - k, r, out);
            out.push(root_from_leaf_hashes(l));
        }
    }
    let mut out = Vec::new();
    path(m, leaves, &mut out);
    Ok(out)
}

/// PROOF(m, D[n]): the consistency proof from the first m leaves to all of them.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Result<Vec<Hash>, MerkleError> {
    let n = leaves.len();
    if m > n {
        return Err(MerkleError::Size1GreaterThanSize2 { size1: m as u64, size2: n as u64 });
    }
    if m == 0 {
        return Err(MerkleError::ConsistencyFromEmptyTree { size2: n as u64 });
    }
    fn subproof(m: usize, d: &[Hash], b: bool, out: &mut Vec<Hash>) {
        let n = d.len();
        if m == n {
            if !b {
                out.push(root_from_leaf_hashes(d));
            }
            return;
        }
        let k = split_point(n);
        let (l, r) = d.split_at(k);
        if m <= k {
            subproof(m, l, b, out);
            out.push(root_from_leaf_hashes(r));
        } else {
            subproof(m - k, r, false, out);
            out.push(root_from_leaf_hashes(l));
        }
    }
    let mut out = Vec::new();
    subproof(m, leaves, true, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests;
