use super::*;

const REFERENCE: &str = include_str!("../../../tests/fixtures/merkle_reference.json");

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn refs(v: &[Hash]) -> Vec<&[u8]> {
    v.iter().map(|x| x.as_slice()).collect()
}

fn reference_leaves() -> Vec<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_str(REFERENCE).expect("fixture json");
    v["reference_tree"]["leaf_inputs_hex"]
        .as_array()
        .expect("leaf inputs")
        .iter()
        .map(|x| h(x.as_str().expect("hex")))
        .collect()
}

/// Leaves used by the exhaustive tests: distinct data, so no two leaf hashes coincide.
fn test_leaf_hashes(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

/// Runs `f(size)` for sizes 1..=max on all cores (the exhaustive checks hash a few hundred million times).
fn for_sizes_parallel(max: u64, f: impl Fn(u64) + Sync) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let f = &f;
            s.spawn(move || {
                let mut size = 1 + t;
                while size <= max {
                    f(size);
                    size += threads;
                }
            });
        }
    });
}

#[test]
fn leaf_and_node_hashes_use_rfc6962_domain_separation() {
    // SHA-256(0x00) and the reference's first leaf (empty input) agree.
    assert_eq!(
        hex::encode(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
    let l = leaf_hash(b"");
    let r = leaf_hash(&[0u8]);
    let mut manual = Sha256::new();
    manual.update([1u8]);
    manual.update(l);
    manual.update(r);
    let manual: Hash = manual.finalize().into();
    assert_eq!(node_hash(&l, &r), manual);
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn reference_tree_roots_match_transparency_dev_for_every_size() {
    let v: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let leaves = reference_leaves();
    let roots = v["reference_tree"]["root_hashes_by_size_hex"].as_object().unwrap();
    assert_eq!(roots.len(), 9);
    for (size, root) in roots {
        let n: usize = size.parse().unwrap();
        assert_eq!(hex::encode(merkle_root(&leaves[..n]).unwrap()), root.as_str().unwrap(), "size {n}");
    }
    // Level-by-level node hashes of the full tree.
    let levels = v["reference_tree"]["node_hashes_by_level_hex"].as_array().unwrap();
    let mut level: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
    for want in levels {
        let want: Vec<String> = want.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        assert_eq!(level.iter().map(hex::encode).collect::<Vec<_>>(), want);
        if level.len() > 1 {
            level = level.chunks(2).map(|c| node_hash(&c[0], &c[1])).collect();
        }
    }
}

#[test]
fn reference_inclusion_vectors_verify_and_reproduce() {
    let v: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    let leaves: Vec<Hash> = reference_leaves().iter().map(|l| leaf_hash(l)).collect();
    let vectors = v["positive_inclusion"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for t in vectors {
        let id = t["id"].as_str().unwrap();
        let index = t["leaf_index"].as_u64().unwrap();
        let size = t["tree_size"].as_u64().unwrap();
        let leaf = h(t["leaf_hash_hex"].as_str().unwrap());
        let root = h(t["root_hex"].as_str().unwrap());
        let proof: Vec<Vec<u8>> =
            t["proof_hex"].as_array().unwrap().iter().map(|x| h(x.as_str().unwrap())).collect();
        let proof_refs: Vec<&[u8]> = proof.iter().map(|p| p.as_slice()).collect();
        let got = verify_inclusion(index, size, &leaf, &proof_refs, &root);
        assert_eq!(got.is_err(), t["want_error"].as_bool().unwrap(), "{id}: {got:?}");
        // Where the vector is over the 8-leaf reference tree, our PATH reproduces it exactly.
        if !t["want_error"].as_bool().unwrap() && size as usize <= leaves.len() {
            let ours = inclusion_proof(&leaves[..size as usize], index as usize).unwrap();
            if leaf.as_slice() == leaves[index as usize].as_slice() {
                assert_eq!(ours.iter().map(|x| x.to_vec()).collect::<Vec<_>>(), proof, "{id}");
            }
        }
    }
}

#[test]
fn transparency_dev_inclusion_and_consistency_paths_reproduce() {
    let leaves: Vec<Hash> = reference_leaves().iter().map(|l| leaf_hash(l)).collect();
    // (index, size, proof) from transparency-dev/merkle proof/verify_test.go (0-based index).
    let incl: &[(usize, usize, &[&str])] = &[
        (0, 8, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (5, 8, &["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (1, 5, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ];
    for (index, size, want) in incl {
        let ours: Vec<String> = inclusion_proof(&leaves[..*size], *index).unwrap().iter().map(hex::encode).collect();
        assert_eq!(ours, *want, "inclusion ({index}, {size})");
        let root = root_from_leaf_hashes(&leaves[..*size]);
        let p: Vec<Vec<u8>> = want.iter().map(|x| h(x)).collect();
        let pr: Vec<&[u8]> = p.iter().map(|x| x.as_slice()).collect();
        verify_inclusion(*index as u64, *size as u64, &leaves[*index], &pr, &root).unwrap();
    }
    let cons: &[(usize, usize, &[&str])] = &[
        (1, 8, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, &["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, &["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (6, 7, &["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                 "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ];
    for (m, n, want) in cons {
        let ours: Vec<String> = consistency_proof(&leaves[..*n], *m).unwrap().iter().map(hex::encode).collect();
        assert_eq!(ours, *want, "consistency ({m}, {n})");
        let p: Vec<Vec<u8>> = want.iter().map(|x| h(x)).collect();
        let pr: Vec<&[u8]> = p.iter().map(|x| x.as_slice()).collect();
        let r1 = root_from_leaf_hashes(&leaves[..*m]);
        let r2 = root_from_leaf_hashes(&leaves[..*n]);
        verify_consistency(*m as u64, *n as u64, &r1, &r2, &pr).unwrap();
    }
}

#[test]
fn inclusion_errors_name_the_failed_check() {
    let some = [7u8; 32];
    assert_eq!(verify_inclusion(0, 0, &some, &[], &some), Err(MerkleError::EmptyTree));
    assert_eq!(
        verify_inclusion(1, 1, &some, &[], &some),
        Err(MerkleError::IndexBeyondSize { index: 1, size: 1 })
    );
    assert_eq!(
        verify_inclusion(0, 1, b"WrongLeaf", &[], &some),
        Err(MerkleError::BadHashLength { role: HashRole::Leaf, got: 9 })
    );
    assert_eq!(
        verify_inclusion(0, 1, &some, &[], b""),
        Err(MerkleError::BadHashLength { role: HashRole::Root, got: 0 })
    );
    assert_eq!(
        verify_inclusion(0, 2, &some, &[&some[..31]], &some),
        Err(MerkleError::BadHashLength { role: HashRole::Proof(0), got: 31 })
    );
    assert_eq!(
        verify_inclusion(0, 4, &some, &[&some[..]], &some),
        Err(MerkleError::WrongProofLength { got: 1, want: 2 })
    );
    let long: Vec<&[u8]> = (0..65).map(|_| &some[..]).collect();
    assert_eq!(
        verify_inclusion(0, u64::MAX, &some, &long, &some),
        Err(MerkleError::ProofTooLong { got: 65 })
    );
    let err = verify_inclusion(0, 1, &some, &[], &[8u8; 32]).unwrap_err();
    assert!(err.is_mismatch());
    assert!(err.to_string().contains(&hex::encode([7u8; 32])), "{err}");
    assert!(err.to_string().contains(&hex::encode([8u8; 32])), "{err}");
}

#[test]
fn consistency_errors_name_the_failed_check() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    assert_eq!(
        verify_consistency(2, 1, &a, &b, &[]),
        Err(MerkleError::Size1GreaterThanSize2 { size1: 2, size2: 1 })
    );
    assert_eq!(
        verify_consistency(0, 5, &a, &b, &[]),
        Err(MerkleError::ConsistencyFromEmptyTree { size2: 5 })
    );
    assert_eq!(
        verify_consistency(0, 5, &a, &b, &[&a[..]]),
        Err(MerkleError::ConsistencyFromEmptyTree { size2: 5 })
    );
    assert_eq!(
        verify_consistency(3, 3, &a, &a, &[&a[..]]),
        Err(MerkleError::NonEmptyProofForEqualSizes { got: 1 })
    );
    assert_eq!(verify_consistency(3, 3, &a, &a, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 0, &a, &a, &[]), Ok(()));
    assert!(verify_consistency(3, 3, &a, &b, &[]).unwrap_err().is_mismatch());
    assert_eq!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(MerkleError::EmptyConsistencyProof { size1: 1, size2: 2 })
    );
    assert_eq!(
        verify_consistency(1, 2, &a[..5], &b, &[]),
        Err(MerkleError::BadHashLength { role: HashRole::Root1, got: 5 })
    );
    assert_eq!(
        verify_consistency(1, 2, &a, &b[..0], &[]),
        Err(MerkleError::BadHashLength { role: HashRole::Root2, got: 0 })
    );
    assert_eq!(
        verify_consistency(3, 4, &a, &b, &[&a[..]]),
        Err(MerkleError::WrongProofLength { got: 1, want: 3 })
    );
    let long: Vec<&[u8]> = (0..65).map(|_| &a[..]).collect();
    assert_eq!(verify_consistency(1, u64::MAX, &a, &b, &long), Err(MerkleError::ProofTooLong { got: 65 }));
}

#[test]
fn extreme_sizes_do_not_overflow() {
    let leaf = [3u8; 32];
    // A leaf in a tree of 2^64 - 1 leaves: proof length is 64 (63 inner + border).
    let size = u64::MAX;
    for index in [0, 1, size / 2, size - 2, size - 1] {
        let want = inclusion_proof_len(index, size).unwrap();
        assert!(want <= MAX_PROOF_HASHES, "{index}: {want}");
        let proof_data: Vec<Hash> = (0..want).map(|i| leaf_hash(&[i as u8])).collect();
        let root = root_from_inclusion_proof(index, size, &leaf, &refs(&proof_data)).unwrap();
        verify_inclusion(index, size, &leaf, &refs(&proof_data), &root).unwrap();
    }
    for (s1, s2) in [(1, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX), (3, 1 << 63)] {
        // Any garbage proof is rejected cleanly (length or mismatch), never a panic.
        for len in 0..=MAX_PROOF_HASHES {
            let p: Vec<Hash> = (0..len).map(|i| leaf_hash(&[i as u8])).collect();
            assert!(verify_consistency(s1, s2, &leaf, &[4u8; 32], &refs(&p)).is_err());
        }
    }
}

/// Everything the consistency verifier's computation depends on besides the hashes.
fn consistency_shape(size1: u64, size2: u64) -> Option<(usize, usize, usize, bool, u64)> {
    if size1 == 0 || size1 >= size2 {
        return None;
    }
    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    Some((inner - shift, border, shift, size1 == 1 << shift, (size1 - 1) >> shift))
}

/// Every single-bit flip of one 32-byte value.
fn bit_flips(x: &Hash) -> impl Iterator<Item = Hash> + '_ {
    (0..HASH_LEN * 8).map(move |bit| {
        let mut y = *x;
        y[bit / 8] ^= 1 << (bit % 8);
        y
    })
}

#[test]
fn exhaustive_inclusion_all_sizes_to_128_verify_and_every_corruption_is_rejected() {
    let leaves = test_leaf_hashes(128);
    for_sizes_parallel(128, |size| {
        let n = size as usize;
        let root = root_from_leaf_hashes(&leaves[..n]);
        for index in 0..n {
            let leaf = leaves[index];
            let proof = inclusion_proof(&leaves[..n], index).unwrap();
            let i = index as u64;
            assert_eq!(proof.len(), inclusion_proof_len(i, size).unwrap());
            verify_inclusion(i, size, &leaf, &refs(&proof), &root)
                .unwrap_or_else(|e| panic!("({index},{size}): {e}"));
            assert_eq!(root_from_inclusion_proof(i, size, &leaf, &refs(&proof)).unwrap(), root);

            for bad in bit_flips(&leaf) {
                assert!(verify_inclusion(i, size, &bad, &refs(&proof), &root).unwrap_err().is_mismatch());
            }
            for bad in bit_flips(&root) {
                assert!(verify_inclusion(i, size, &leaf, &refs(&proof), &bad).unwrap_err().is_mismatch());
            }
            for k in 0..proof.len() {
                for bad in bit_flips(&proof[k]) {
                    let mut p = proof.clone();
                    p[k] = bad;
                    assert!(verify_inclusion(i, size, &leaf, &refs(&p), &root).unwrap_err().is_mismatch());
                }
            }
            // Off-by-one in the index: always rejected.
            for j in [i.wrapping_sub(1), i + 1] {
                assert!(
                    verify_inclusion(j, size, &leaf, &refs(&proof), &root).is_err(),
                    "index {j} accepted for ({index},{size})"
                );
            }
            // Off-by-one in the size: rejected unless the path shape is identical, in which case the
            // computation is the same (why a checkpoint must bind the size; see FORMATS.md).
            for s in [size - 1, size + 1] {
                let res = verify_inclusion(i, s, &leaf, &refs(&proof), &root);
                let same_shape = i < s && decomp_incl_proof(i, s) == decomp_incl_proof(i, size);
                assert_eq!(res.is_ok(), same_shape, "size {s} for ({index},{size}): {res:?}");
            }
            // Off-by-one in the proof length: one hash missing or one extra is rejected.
            if !proof.is_empty() {
                let short = &proof[..proof.len() - 1];
                assert!(matches!(
                    verify_inclusion(i, size, &leaf, &refs(short), &root),
                    Err(MerkleError::WrongProofLength { .. })
                ));
                let mut front = proof.clone();
                front.remove(0);
                assert!(verify_inclusion(i, size, &leaf, &refs(&front), &root).is_err());
            }
            let mut long = proof.clone();
            long.push(root);
            assert!(matches!(
                verify_inclusion(i, size, &leaf, &refs(&long), &root),
                Err(MerkleError::WrongProofLength { .. })
            ));
            let mut pre = vec![root];
            pre.extend_from_slice(&proof);
            assert!(verify_inclusion(i, size, &leaf, &refs(&pre), &root).is_err());
        }
    });
}

#[test]
fn exhaustive_consistency_all_size_pairs_to_128_verify_and_every_corruption_is_rejected() {
    let leaves = test_leaf_hashes(128);
    let roots: Vec<Hash> = (0..=128).map(|n| root_from_leaf_hashes(&leaves[..n])).collect();
    for_sizes_parallel(128, |size2| {
        let n = size2 as usize;
        let r2 = roots[n];
        for m in 1..=n {
            let size1 = m as u64;
            let r1 = roots[m];
            let proof = if m == n { Vec::new() } else { consistency_proof(&leaves[..n], m).unwrap() };
            verify_consistency(size1, size2, &r1, &r2, &refs(&proof))
                .unwrap_or_else(|e| panic!("({m},{n}): {e}"));
            if m == n {
                assert!(verify_consistency(size1, size2, &r1, &roots[n - 1], &[]).is_err());
                continue;
            }
            for bad in bit_flips(&r1) {
                assert!(verify_consistency(size1, size2, &bad, &r2, &refs(&proof)).unwrap_err().is_mismatch());
            }
            for bad in bit_flips(&r2) {
                assert!(verify_consistency(size1, size2, &r1, &bad, &refs(&proof)).unwrap_err().is_mismatch());
            }
            for k in 0..proof.len() {
                for bad in bit_flips(&proof[k]) {
                    let mut p = proof.clone();
                    p[k] = bad;
                    assert!(
                        verify_consistency(size1, size2, &r1, &r2, &refs(&p)).unwrap_err().is_mismatch(),
                        "flip in proof[{k}] accepted for ({m},{n})"
                    );
                }
            }
            // Off-by-one sizes: rejected unless the verifier's computation has exactly the same shape,
            // in which case it is the same computation (the checkpoint, not the proof, binds the size).
            for (s1, s2) in [(size1 - 1, size2), (size1 + 1, size2), (size1, size2 - 1), (size1, size2 + 1)] {
                let res = verify_consistency(s1, s2, &r1, &r2, &refs(&proof));
                let same = consistency_shape(s1, s2).is_some() && consistency_shape(s1, s2) == consistency_shape(size1, size2);
                assert_eq!(res.is_ok(), same, "({s1},{s2}) with the proof for ({m},{n}): {res:?}");
            }
            assert!(verify_consistency(size1, size2, &r2, &r1, &refs(&proof)).is_err());
            // Off-by-one proof length.
            assert!(verify_consistency(size1, size2, &r1, &r2, &refs(&proof[..proof.len() - 1])).is_err());
            assert!(verify_consistency(size1, size2, &r1, &r2, &refs(&proof[1..])).is_err());
            let mut long = proof.clone();
            long.push(r2);
            assert!(verify_consistency(size1, size2, &r1, &r2, &refs(&long)).is_err());
            let mut pre = vec![proof[0]];
            pre.extend_from_slice(&proof);
            assert!(verify_consistency(size1, size2, &r1, &r2, &refs(&pre)).is_err());
        }
    });
}

#[test]
fn reference_builder_rejects_bad_requests() {
    let leaves = test_leaf_hashes(4);
    assert_eq!(inclusion_proof(&[], 0), Err(MerkleError::EmptyTree));
    assert_eq!(inclusion_proof(&leaves, 4), Err(MerkleError::IndexBeyondSize { index: 4, size: 4 }));
    assert_eq!(consistency_proof(&leaves, 0), Err(MerkleError::ConsistencyFromEmptyTree { size2: 4 }));
    assert_eq!(consistency_proof(&leaves, 5), Err(MerkleError::Size1GreaterThanSize2 { size1: 5, size2: 4 }));
    assert_eq!(consistency_proof(&leaves, 4), Ok(vec![]));
    assert_eq!(merkle_root::<&[u8]>(&[]).unwrap(), empty_root());
}
