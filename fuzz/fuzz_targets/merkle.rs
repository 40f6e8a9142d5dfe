//! Merkle proofs. Part 1: arbitrary index, sizes, leaf, roots and up to 80 proof hashes of any
//! length → verify_inclusion, root_from_inclusion_proof, inclusion_proof_len and verify_consistency
//! never panic and agree with each other. Part 2 (differential): for a small tree built from fuzz
//! bytes, every proof the reference builder generates verifies, and any one flipped bit fails.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rekor_meta_core::merkle::{
    consistency_proof, inclusion_proof, inclusion_proof_len, leaf_hash, merkle_root,
    root_from_inclusion_proof, root_from_leaf_hashes, verify_consistency, verify_inclusion, Hash,
    MerkleError, HASH_LEN, MAX_PROOF_HASHES,
};

const MAX_FUZZ_PROOF: usize = 80;
const MAX_TREE: usize = 300;

#[derive(Arbitrary, Debug)]
enum Size {
    /// Any u64, to reach the extremes.
    Any(u64),
    /// A small size, where correct proofs are short enough for the fuzzer to build.
    Small(u8),
    /// Near 2^64 or a power of two.
    NearTop(u8),
    Pow2(u8, i8),
}

impl Size {
    fn get(&self) -> u64 {
        match *self {
            Size::Any(n) => n,
            Size::Small(n) => u64::from(n),
            Size::NearTop(d) => u64::MAX - u64::from(d),
            Size::Pow2(k, d) => (1u64 << (k % 64)).wrapping_add_signed(i64::from(d)),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Bytes {
    /// A well-formed 32-byte hash.
    Hash([u8; 32]),
    /// Anything, usually of the wrong length.
    Raw(Vec<u8>),
}

impl Bytes {
    fn get(&self) -> &[u8] {
        match self {
            Bytes::Hash(h) => h,
            Bytes::Raw(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    index: Size,
    size1: Size,
    size2: Size,
    leaf: Bytes,
    root1: Bytes,
    root2: Bytes,
    proof: Vec<Bytes>,
    /// Leaf data of the differential tree (1..=MAX_TREE leaves).
    tree: Vec<Vec<u8>>,
    pick_leaf: u16,
    pick_size1: u16,
    pick_size2: u16,
    flip: u16,
}

fuzz_target!(|input: Input| {
    random_inputs(&input);
    differential(&input);
});

fn random_inputs(input: &Input) {
    let index = input.index.get();
    let (size1, size2) = (input.size1.get(), input.size2.get());
    let proof: Vec<&[u8]> = input
        .proof
        .iter()
        .take(MAX_FUZZ_PROOF)
        .map(Bytes::get)
        .collect();
    let leaf = input.leaf.get();
    let (root1, root2) = (input.root1.get(), input.root2.get());

    let want = inclusion_proof_len(index, size1);
    match &want {
        Ok(n) => assert!(*n <= 64, "proof length {n} over 64"),
        Err(e) => assert!(
            matches!(
                e,
                MerkleError::EmptyTree | MerkleError::IndexBeyondSize { .. }
            ),
            "{e}"
        ),
    }
    let from_proof = root_from_inclusion_proof(index, size1, leaf, &proof);
    let verified = verify_inclusion(index, size1, leaf, &proof, root1);
    match &from_proof {
        Ok(root) => {
            assert_eq!(want.as_ref().ok(), Some(&proof.len()));
            assert!(proof.len() <= MAX_PROOF_HASHES && proof.iter().all(|h| h.len() == HASH_LEN));
            // verify_inclusion is root_from_inclusion_proof plus a comparison.
            match &verified {
                Ok(()) => assert_eq!(root.as_slice(), root1),
                Err(MerkleError::RootMismatch { calculated, .. }) => assert_eq!(calculated, root),
                Err(MerkleError::BadHashLength { .. }) => assert_ne!(root1.len(), HASH_LEN),
                Err(e) => panic!("proof computed a root but verification failed with {e}"),
            }
        }
        Err(e) => {
            assert!(verified.is_err());
            assert!(!e.is_mismatch());
            let _ = e.to_string();
        }
    }
    if let Err(e) = &verified {
        let _ = e.to_string();
    }

    match verify_consistency(size1, size2, root1, root2, &proof) {
        Ok(()) => {
            assert!(size1 <= size2 && root1.len() == HASH_LEN && root2.len() == HASH_LEN);
            assert!(size1 != 0 || size2 == 0);
            if size1 == size2 {
                assert!(proof.is_empty() && root1 == root2);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The same with the arguments the other way round, and with the index as a size.
    let _ = verify_consistency(size2, size1, root2, root1, &proof);
    let _ = verify_consistency(index, size1, root1, root2, &proof);
}

fn pick(x: u16, n: usize) -> usize {
    usize::from(x) % n
}

fn differential(input: &Input) {
    if input.tree.is_empty() {
        return;
    }
    let data: Vec<&[u8]> = input
        .tree
        .iter()
        .take(MAX_TREE)
        .map(Vec::as_slice)
        .collect();
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    let n = leaves.len();
    let root_n = root_from_leaf_hashes(&leaves);
    assert_eq!(merkle_root(&data).expect("small tree"), root_n);

    // Inclusion of leaf m in the tree of size2 (a prefix of the leaves).
    let size2 = 1 + pick(input.pick_size2, n);
    let m = pick(input.pick_leaf, size2);
    let prefix2 = &leaves[..size2];
    let root2 = root_from_leaf_hashes(prefix2);
    let proof = inclusion_proof(prefix2, m).expect("m < size2");
    assert_eq!(inclusion_proof_len(m as u64, size2 as u64), Ok(proof.len()));
    let refs: Vec<&[u8]> = proof.iter().map(|h| h.as_slice()).collect();
    assert_eq!(
        root_from_inclusion_proof(m as u64, size2 as u64, &leaves[m], &refs),
        Ok(root2)
    );
    verify_inclusion(m as u64, size2 as u64, &leaves[m], &refs, &root2).unwrap_or_else(|e| {
        panic!("generated inclusion proof m={m} n={size2} does not verify: {e}")
    });
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let bit = pick(input.flip, bad.len() * 256);
        bad[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
        let bad_refs: Vec<&[u8]> = bad.iter().map(|h| h.as_slice()).collect();
        let err = verify_inclusion(m as u64, size2 as u64, &leaves[m], &bad_refs, &root2)
            .expect_err("a flipped proof bit still verifies");
        assert!(err.is_mismatch(), "{err}");
    }
    // A wrong leaf never verifies.
    let mut other = leaves[m];
    other[pick(input.flip, 32)] ^= 0x80;
    assert!(verify_inclusion(m as u64, size2 as u64, &other, &refs, &root2).is_err());

    // Consistency from size1 to size2 (1 <= size1 <= size2).
    let size1 = 1 + pick(input.pick_size1, size2);
    let root1 = root_from_leaf_hashes(&leaves[..size1]);
    let cproof = consistency_proof(prefix2, size1).expect("1 <= size1 <= size2");
    let crefs: Vec<&[u8]> = cproof.iter().map(|h| h.as_slice()).collect();
    verify_consistency(size1 as u64, size2 as u64, &root1, &root2, &crefs).unwrap_or_else(|e| {
        panic!("generated consistency proof {size1}->{size2} does not verify: {e}")
    });
    if !cproof.is_empty() {
        let mut bad = cproof.clone();
        let bit = pick(input.flip, bad.len() * 256);
        bad[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
        let bad_refs: Vec<&[u8]> = bad.iter().map(|h| h.as_slice()).collect();
        let err = verify_consistency(size1 as u64, size2 as u64, &root1, &root2, &bad_refs)
            .expect_err("a flipped consistency proof bit still verifies");
        assert!(err.is_mismatch(), "{err}");
        // Dropping the last hash is a length error, never a panic.
        let short = &crefs[..crefs.len() - 1];
        assert!(verify_consistency(size1 as u64, size2 as u64, &root1, &root2, short).is_err());
    }
    if size1 < size2 {
        // A different old root is always caught.
        let mut wrong = root1;
        wrong[0] ^= 1;
        assert!(verify_consistency(size1 as u64, size2 as u64, &wrong, &root2, &crefs).is_err());
    }
}
