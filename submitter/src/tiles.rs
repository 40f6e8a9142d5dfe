//! Rekor v2 (rekor-tiles): the hashedrekord request the submitter sends for a DSSE envelope, and
//! the C2SP tlog-tiles read side it needs after an AlreadyExists answer: the entry at an index
//! (entry bundles) and its RFC 6962 inclusion proof built from the hash tiles, against a checkpoint.
use base64::Engine;
use rekor_meta_core::dsse::Envelope;
use rekor_meta_core::merkle::{leaf_hash, node_hash, Hash};
use rekor_meta_core::verifier::{Verifier, VerifierKeyType, VerifierKind};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::HashMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Hashes per full tile and entries per full entry bundle (tlog-tiles: width 256).
const WIDTH: u64 = 256;

/// What Rekor v2 wants for a DSSE envelope: hashedrekord over the envelope's PAE with the digest of
/// the signing algorithm (sigstore's algorithm registry, the hash cosign uses for v2): P-256 →
/// SHA-256, P-384 → SHA-384, Ed25519 → Ed25519ph over SHA-512. `sig` is the index of the envelope
/// signature that verifies under `verifier` (hashedrekord logs one signature).
pub fn hashedrekord_request(env: &Envelope, sig: usize, verifier: &Verifier) -> Result<String, String> {
    let s = env.signatures.get(sig).ok_or("no such envelope signature")?;
    let pae = env.pae();
    let (details, digest) = match verifier.key_type {
        VerifierKeyType::EcdsaP256 => ("PKIX_ECDSA_P256_SHA_256", sha2::Sha256::digest(&pae).to_vec()),
        VerifierKeyType::EcdsaP384 => ("PKIX_ECDSA_P384_SHA_384", sha2::Sha384::digest(&pae).to_vec()),
        VerifierKeyType::Ed25519 => ("PKIX_ED25519_PH", sha2::Sha512::digest(&pae).to_vec()),
    };
    let key = match verifier.kind {
        VerifierKind::PublicKey => json!({"publicKey": {"rawBytes": B64.encode(&verifier.der)}}),
        VerifierKind::Certificate => json!({"x509Certificate": {"rawBytes": B64.encode(&verifier.der)}}),
    };
    let mut v = key;
    v["keyDetails"] = Value::String(details.to_string());
    Ok(json!({"hashedRekordRequestV002": {
        "digest": B64.encode(digest),
        "signature": {"content": B64.encode(&s.sig), "verifier": v},
    }})
    .to_string())
}

/// A checkpoint (C2SP tlog-checkpoint): origin, size, root hash; the whole signed note is kept.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub note: String,
    /// The 4-byte key hints of the signature lines (a Rekor v2 log's hint is its log ID's prefix).
    pub key_hints: Vec<[u8; 4]>,
}

pub fn parse_checkpoint(note: &str) -> Result<Checkpoint, String> {
    let (body, sigs) = note.split_once("\n\n").ok_or("checkpoint has no signature block")?;
    let mut lines = body.lines();
    let origin = lines.next().filter(|o| !o.is_empty()).ok_or("checkpoint has no origin")?.to_string();
    let size = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or("checkpoint size is not a decimal number")?;
    let root = lines
        .next()
        .and_then(|r| B64.decode(r).ok())
        .and_then(|r| <Hash>::try_from(r.as_slice()).ok())
        .ok_or("checkpoint root hash is not 32 bytes of base64")?;
    let key_hints = sigs
        .lines()
        .filter_map(|l| l.strip_prefix("— "))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(_, sig)| B64.decode(sig).ok())
        .filter_map(|raw| raw.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()))
        .collect();
    Ok(Checkpoint { origin, size, root, note: note.to_string(), key_hints })
}

/// The tlog-tiles path of tile `index` at `level` ("entries" for entry bundles) with `width` items:
/// the index in zero-padded 3-digit groups, all but the last prefixed "x"; ".p/<width>" when partial.
pub fn tile_path(level: &str, index: u64, width: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = format!("tile/{level}");
    for (i, g) in groups.iter().rev().enumerate() {
        let last = i + 1 == groups.len();
        out.push_str(&format!("/{}{g:03}", if last { "" } else { "x" }));
    }
    if width < WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
    out
}

/// The entries of an entry bundle: each a big-endian u16 length and that many bytes.
pub fn parse_entry_bundle(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(2).ok_or("entry bundle ends inside a length")?;
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (entry, tail) = tail.split_at_checked(n).ok_or("entry bundle ends inside an entry")?;
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

/// Reads tiles: `fetch(path)` returns the file's bytes, `Ok(None)` when it does not exist.
pub trait TileSource {
    fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String>;
}

/// Node hashes of the tree of `size` leaves, read from the hash tiles (cached per tile).
pub struct TileTree<'a, S: TileSource> {
    src: &'a mut S,
    size: u64,
    tiles: HashMap<(u64, u64), Vec<Hash>>,
}

impl<'a, S: TileSource> TileTree<'a, S> {
    pub fn new(src: &'a mut S, size: u64) -> Self {
        TileTree { src, size, tiles: HashMap::new() }
    }

    /// The hashes of tile (level, index) as the tree of `size` has them; a partial tile missing
    /// (Tessera may drop partial tiles once the full one exists) is read from the full tile.
    fn tile(&mut self, level: u64, index: u64) -> Result<&Vec<Hash>, String> {
        if !self.tiles.contains_key(&(level, index)) {
            let nodes = self.size >> (8 * level);
            let width = nodes.saturating_sub(index * WIDTH).min(WIDTH);
            if width == 0 {
                return Err(format!("tile {level}/{index} is beyond the tree of size {}", self.size));
            }
            let lvl = level.to_string();
            let raw = match self.src.fetch(&tile_path(&lvl, index, width))? {
                Some(r) => r,
                None if width < WIDTH => self
                    .src
                    .fetch(&tile_path(&lvl, index, WIDTH))?
                    .ok_or_else(|| format!("neither {} nor the full tile exists", tile_path(&lvl, index, width)))?,
                None => return Err(format!("{} does not exist", tile_path(&lvl, index, width))),
            };
            let need = usize::try_from(width).unwrap_or(usize::MAX).saturating_mul(32);
            if raw.len() < need || raw.len() % 32 != 0 {
                return Err(format!("tile {level}/{index} has {} bytes, {need} needed", raw.len()));
            }
            let hashes = raw[..need].chunks_exact(32).filter_map(|c| <Hash>::try_from(c).ok()).collect();
            self.tiles.insert((level, index), hashes);
        }
        self.tiles.get(&(level, index)).ok_or_else(|| "tile cache".to_string())
    }

    /// The root of the perfect subtree of height `h` whose first leaf is `j << h`.
    fn node(&mut self, h: u32, j: u64) -> Result<Hash, String> {
        let level = u64::from(h / 8);
        let r = h % 8;
        let start = j << r;
        let (index, off) = (start / WIDTH, usize::try_from(start % WIDTH).unwrap_or(0));
        let count = 1usize << r;
        let tile = self.tile(level, index)?;
        let mut layer: Vec<Hash> = tile
            .get(off..off + count)
            .ok_or_else(|| format!("tile {level}/{index} lacks hashes {off}..{}", off + count))?
            .to_vec();
        while layer.len() > 1 {
            layer = layer.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
        }
        layer.first().copied().ok_or_else(|| "empty subtree".to_string())
    }

    /// MTH(D[lo:hi]) (RFC 9162 §2.1.1) from perfect subtrees.
    pub fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash, String> {
        let n = hi.checked_sub(lo).filter(|n| *n > 0).ok_or("empty range")?;
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            return self.node(n.trailing_zeros(), lo >> n.trailing_zeros());
        }
        let k = largest_power_of_two_below(n);
        let left = self.range_hash(lo, lo + k)?;
        let right = self.range_hash(lo + k, hi)?;
        Ok(node_hash(&left, &right))
    }

    /// PATH(m, D[0:size]) (RFC 9162 §2.1.3.1), leaf side first.
    pub fn inclusion_proof(&mut self, m: u64) -> Result<Vec<Hash>, String> {
        if m >= self.size {
            return Err(format!("index {m} is not in the tree of size {}", self.size));
        }
        let (mut lo, mut hi) = (0u64, self.size);
        let mut top_down = Vec::new();
        while hi - lo > 1 {
            let k = largest_power_of_two_below(hi - lo);
            if m < lo + k {
                top_down.push(self.range_hash(lo + k, hi)?);
                hi = lo + k;
            } else {
                top_down.push(self.range_hash(lo, lo + k)?);
                lo += k;
            }
        }
        top_down.reverse();
        Ok(top_down)
    }
}

impl<'a, S: TileSource> TileTree<'a, S> {
    /// PROOF(m, D[0:size]) (RFC 9162 §2.1.4.1): the consistency proof from size `m` to this tree.
    pub fn consistency_proof(&mut self, m: u64) -> Result<Vec<Hash>, String> {
        if m == 0 || m > self.size {
            return Err(format!("no consistency proof from size {m} to {}", self.size));
        }
        self.subproof(m, 0, self.size, true)
    }

    /// SUBPROOF(m, D[lo:hi], b), `m` counted from `lo`.
    fn subproof(&mut self, m: u64, lo: u64, hi: u64, b: bool) -> Result<Vec<Hash>, String> {
        let n = hi - lo;
        if m == n {
            return Ok(if b { Vec::new() } else { vec![self.range_hash(lo, hi)?] });
        }
        let k = largest_power_of_two_below(n);
        let mut p;
        if m <= k {
            p = self.subproof(m, lo, lo + k, b)?;
            p.push(self.range_hash(lo + k, hi)?);
        } else {
            p = self.subproof(m - k, lo + k, hi, false)?;
            p.push(self.range_hash(lo, lo + k)?);
        }
        Ok(p)
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The TransparencyLogEntry (protojson, as rekor-tiles answers a create) of the entry at `index`,
/// read from the tiles against checkpoint `cp`: its logged bytes, kind and version, and an inclusion
/// proof that is checked here against the checkpoint's root before it is handed on.
pub fn entry_at<S: TileSource>(src: &mut S, cp: &Checkpoint, index: u64, log_id: &[u8]) -> Result<Value, String> {
    if index >= cp.size {
        return Err(format!("index {index} is not covered by the checkpoint of size {}", cp.size));
    }
    let bundle = index / WIDTH;
    let width = (cp.size - bundle * WIDTH).min(WIDTH);
    let raw = match src.fetch(&tile_path("entries", bundle, width))? {
        Some(r) => r,
        None if width < WIDTH => src
            .fetch(&tile_path("entries", bundle, WIDTH))?
            .ok_or_else(|| format!("entry bundle {bundle} does not exist"))?,
        None => return Err(format!("entry bundle {bundle} does not exist")),
    };
    let entries = parse_entry_bundle(&raw)?;
    let pos = usize::try_from(index % WIDTH).unwrap_or(usize::MAX);
    let data = *entries
        .get(pos)
        .ok_or_else(|| format!("entry bundle {bundle} has {} entries, not {}", entries.len(), pos + 1))?;
    let body: Value = serde_json::from_slice(data).map_err(|e| format!("entry {index} is not JSON: {e}"))?;
    let kind = body.get("kind").and_then(Value::as_str).ok_or("entry has no kind")?;
    let version = body.get("apiVersion").and_then(Value::as_str).ok_or("entry has no apiVersion")?;
    let leaf = leaf_hash(data);
    let mut tree = TileTree::new(src, cp.size);
    let proof = tree.inclusion_proof(index)?;
    let refs: Vec<&[u8]> = proof.iter().map(|h| h.as_slice()).collect();
    rekor_meta_core::merkle::verify_inclusion(index, cp.size, &leaf, &refs, &cp.root)
        .map_err(|e| format!("the tiles' inclusion proof for {index} does not reach the checkpoint's root: {e}"))?;
    Ok(json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": B64.encode(log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "inclusionProof": {
            "logIndex": index.to_string(),
            "rootHash": B64.encode(cp.root),
            "treeSize": cp.size.to_string(),
            "hashes": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": cp.note},
        },
        "canonicalizedBody": B64.encode(data),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekor_meta_core::merkle::{inclusion_proof, root_from_leaf_hashes};

    /// An in-memory tlog-tiles store of a tree, with the partial tiles Tessera writes.
    struct Mem {
        files: HashMap<String, Vec<u8>>,
        drop_partials: bool,
    }

    impl TileSource for Mem {
        fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
            // Tessera may drop a partial tile once the full one exists (level 0 and entry bundles here).
            if self.drop_partials && path.contains(".p/") && (path.starts_with("tile/0/") || path.starts_with("tile/entries/")) {
                return Ok(None);
            }
            Ok(self.files.get(path).cloned())
        }
    }

    fn store(entries: &[Vec<u8>]) -> Mem {
        let mut files = HashMap::new();
        let mut level: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        for (b, chunk) in entries.chunks(256).enumerate() {
            let mut raw = Vec::new();
            for e in chunk {
                raw.extend_from_slice(&(e.len() as u16).to_be_bytes());
                raw.extend_from_slice(e);
            }
            files.insert(tile_path("entries", b as u64, chunk.len() as u64), raw);
        }
        let mut l = 0u64;
        while !level.is_empty() {
            for (t, chunk) in level.chunks(256).enumerate() {
                let raw: Vec<u8> = chunk.iter().flatten().copied().collect();
                // Every width the tile had while the log grew (older checkpoints read those).
                for w in 1..=chunk.len() {
                    files.insert(tile_path(&l.to_string(), t as u64, w as u64), raw[..w * 32].to_vec());
                }
            }
            // The next level: roots of the full 256-leaf groups only.
            level = level
                .chunks_exact(256)
                .map(root_from_leaf_hashes)
                .collect();
            l += 1;
        }
        Mem { files, drop_partials: false }
    }

    #[test]
    fn tile_paths_follow_tlog_tiles() {
        assert_eq!(tile_path("0", 0, 256), "tile/0/000");
        assert_eq!(tile_path("0", 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path("entries", 5, 7), "tile/entries/005.p/7");
        assert_eq!(tile_path("2", 1000, 256), "tile/2/x001/000");
    }

    #[test]
    fn proofs_from_tiles_equal_proofs_from_all_leaves() {
        let entries: Vec<Vec<u8>> = (0..70_000u32).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let mut mem = store(&entries);
        for size in [1u64, 2, 3, 255, 256, 257, 511, 65_536, 65_537, 70_000] {
            let root = root_from_leaf_hashes(&leaves[..size as usize]);
            let mut tree = TileTree::new(&mut mem, size);
            assert_eq!(tree.range_hash(0, size).unwrap(), root, "size {size}");
            for m in [0u64, 1, size / 2, size.saturating_sub(2), size - 1] {
                if m >= size {
                    continue;
                }
                let want = inclusion_proof(&leaves[..size as usize], m as usize).unwrap();
                assert_eq!(tree.inclusion_proof(m).unwrap(), want, "size {size} index {m}");
            }
        }
    }

    #[test]
    fn consistency_proofs_from_tiles_equal_proofs_from_all_leaves() {
        let entries: Vec<Vec<u8>> = (0..1000u32).map(|i| format!("{i}").into_bytes()).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let mut mem = store(&entries);
        for (m, size) in [(1u64, 1u64), (1, 2), (3, 7), (4, 8), (255, 256), (256, 257), (300, 1000), (999, 1000), (1000, 1000)] {
            let mut tree = TileTree::new(&mut mem, size);
            let want = rekor_meta_core::merkle::consistency_proof(&leaves[..size as usize], m as usize).unwrap();
            assert_eq!(tree.consistency_proof(m).unwrap(), want, "{m} -> {size}");
        }
        assert!(TileTree::new(&mut mem, 5).consistency_proof(0).is_err());
        assert!(TileTree::new(&mut mem, 5).consistency_proof(6).is_err());
    }

    #[test]
    fn the_entry_at_an_index_comes_with_a_proof_to_the_checkpoint_and_partials_fall_back_to_full_tiles() {
        let entries: Vec<Vec<u8>> =
            (0..600u32).map(|i| format!("{{\"apiVersion\":\"0.0.2\",\"kind\":\"hashedrekord\",\"n\":{i}}}").into_bytes()).collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        for (size, drop) in [(600u64, false), (512, true), (300, false), (300, true)] {
            let mut mem = store(&entries);
            mem.drop_partials = drop;
            let root = root_from_leaf_hashes(&leaves[..size as usize]);
            let note = format!("log.test\n{size}\n{}\n\n— log.test AAAAAAAA\n", B64.encode(root));
            let cp = parse_checkpoint(&note).unwrap();
            let tle = entry_at(&mut mem, &cp, 257, &[7u8; 32]).unwrap();
            assert_eq!(tle["canonicalizedBody"], B64.encode(&entries[257]));
            assert_eq!(tle["kindVersion"]["kind"], "hashedrekord");
            assert_eq!(tle["inclusionProof"]["treeSize"], size.to_string());
            assert!(entry_at(&mut mem, &cp, size, &[7u8; 32]).is_err(), "beyond the checkpoint");
            // A checkpoint whose root the tiles do not reach is refused.
            let mut bad = cp.clone();
            bad.root[0] ^= 1;
            assert!(entry_at(&mut mem, &bad, 3, &[7u8; 32]).unwrap_err().contains("does not reach"));
        }
    }

    #[test]
    fn entry_bundles_parse_and_truncation_is_an_error() {
        let raw = [0u8, 2, b'{', b'}', 0, 1, b'x'];
        assert_eq!(parse_entry_bundle(&raw).unwrap(), vec![&b"{}"[..], &b"x"[..]]);
        assert!(parse_entry_bundle(&raw[..5]).is_err());
        assert!(parse_entry_bundle(&raw[..1]).is_err());
    }

    #[test]
    fn checkpoints_parse_with_their_key_hints() {
        let cp = parse_checkpoint("rekor-v2.local\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— rekor-v2.local lGd9sqHruXS48RIWrTPz2+poCFvlufIDEeQHqhIZ7jiT4gE0GlndpMOvGDhogBArdSbk1dH5udMyuXeNe4f/tRPnKAU=\n").unwrap();
        assert_eq!((cp.origin.as_str(), cp.size), ("rekor-v2.local", 3));
        assert_eq!(cp.key_hints, vec![[0x94, 0x67, 0x7d, 0xb2]]);
        assert!(parse_checkpoint("o\nx\nAAAA\n\n").is_err());
    }
}
