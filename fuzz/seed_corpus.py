#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from tests/fixtures.

Every file is named after the fixture it comes from, so a rerun rewrites the same files. The seeds are
committed; `run.sh` keeps what the fuzzer finds in fuzz/target/corpus/ (git-ignored) instead.
Usage: python3 fuzz/seed_corpus.py   (from anywhere)
"""
import base64
import json
import pathlib
import re
import shutil
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
FIX = FUZZ.parent / "tests" / "fixtures"
OUT = FUZZ / "corpus"

TARGETS = ["checkpoint", "keys", "entry_body", "rest_response", "bundle", "dsse", "merkle", "canonical_json", "timestamp"]


def load(name):
    return json.loads((FIX / name).read_text(encoding="utf-8"))


def slug(s):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)[:80].strip("_")


class Corpus:
    def __init__(self, target):
        self.dir = OUT / target
        self.names = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = slug(name)
        base, i = name, 2
        while name in self.names:
            name = f"{base}-{i}"
            i += 1
        self.names.add(name)
        (self.dir / name).write_bytes(data)

    def add_json(self, name, value):
        self.add(name, json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def canonical(v):
    """RFC 8785 for the values the fixtures hold (strings, small integers, objects, arrays)."""
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(x) for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


KEYS = load("keys.json")["keys"]
CHECKPOINTS = load("checkpoints.json")
NOTES = load("signed_notes.json")
ENTRIES = load("rekor_entries.json")["entries"]
DEMO_BODIES = load("demo_bodies.json")
MERKLE = load("merkle_reference.json")
UPSTREAM = {p.name: p.read_bytes() for p in sorted((FIX / "upstream").glob("*.json"))}


def note_signatures(envelope):
    """(text, [(name, hint+sig bytes)]) of a signed note, or None."""
    i = envelope.rfind("\n\n")
    if i < 0:
        return None
    text, sigs = envelope[: i + 1], envelope[i + 2 :]
    out = []
    for line in sigs.split("\n"):
        if not line.startswith("\u2014 ") or " " not in line[2:]:
            continue
        name, b64 = line[2:].split(" ", 1)
        try:
            out.append((name, base64.b64decode(b64, validate=True)))
        except Exception:
            pass
    return text, out


def tree_id(envelope):
    if not envelope:
        return None
    origin = envelope.split("\n", 1)[0]
    m = re.search(r" - (\d+)$", origin)
    return int(m.group(1)) if m else None


def seed_checkpoint():
    c = Corpus("checkpoint")
    for cp in CHECKPOINTS["checkpoints"]:
        c.add(cp["id"], cp["envelope"])
    for v in CHECKPOINTS["body_parse_vectors"]["vectors"]:
        c.add("body-" + v["desc"], v["note_text"])
    for n in NOTES["notes"]:
        c.add("note-" + n["id"], n["message"])
    # A checkpoint with extension lines and a witness cosignature line, from a real one.
    real = CHECKPOINTS["checkpoints"][0]["envelope"]
    text, rest = real.split("\n\n", 1)
    c.add("synthetic-extensions", text + "\nTimestamp: 1700000000\nother ext\n\n" + rest)
    c.add("synthetic-cosigned", real + "\u2014 witness.example AAAAAQ==\n")


def seed_keys():
    c = Corpus("keys")
    for k in KEYS:
        kid = k["id"]
        c.add("pem-" + kid, k["public_key_pem"])
        der = base64.b64decode(k["spki_der_b64"])
        c.add("der-" + kid, der)
        c.add("b64der-" + kid, k["spki_der_b64"])
        c.add("raw-" + kid, bytes.fromhex(k["raw_public_key_hex"]))
        if k.get("note_vkey"):
            c.add("vkey-" + kid, k["note_vkey"])
    for vk in NOTES["vkeys"]:
        c.add("vkey-" + vk["name"], vk["vkey"])
    # verify layout: [signature length][signature][message], from real checkpoint signatures and SETs.
    seen = set()
    for cp in CHECKPOINTS["checkpoints"]:
        if not cp["expected"].get("signature_valid"):
            continue
        parsed = note_signatures(cp["envelope"])
        if not parsed:
            continue
        text, sigs = parsed
        for name, raw in sigs[:1]:
            sig = raw[4:]
            kind = "ed25519" if len(sig) == 64 else "ecdsa"
            if (kind, cp["log_key_ref"]) in seen or len(sig) > 255:
                continue
            seen.add((kind, cp["log_key_ref"]))
            c.add(f"verify-checkpoint-{kind}-{cp['id']}", bytes([len(sig)]) + sig + text.encode())
    n = 0
    for e in ENTRIES:
        if not e["signed_entry_timestamp_b64"] or n >= 3:
            continue
        sig = base64.b64decode(e["signed_entry_timestamp_b64"])
        payload = canonical({
            "body": e["canonicalized_body_b64"],
            "integratedTime": e["integrated_time"],
            "logID": e["log_id_hex"],
            "logIndex": e["log_index"],
        })
        c.add("verify-set-" + e["id"], bytes([len(sig)]) + sig + payload.encode())
        n += 1


def bodies():
    seen = {}
    for e in ENTRIES:
        seen.setdefault(e["canonicalized_body_b64"], e["kind"] + "-" + e["id"])
    for i, b in enumerate(DEMO_BODIES):
        seen.setdefault(b, f"demo-{i}")
    return [(name, base64.b64decode(b64)) for b64, name in seen.items()]


def seed_entry_body():
    c = Corpus("entry_body")
    for name, body in bodies():
        c.add(name, body)
    # The lenient kinds, which no fixture has: built by hand in the shapes Rekor writes.
    h = "ab" * 32
    pem = base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n").decode()
    sig = base64.b64encode(b"0E\x02\x20" + b"\x01" * 32).decode()
    hand = {
        "helm": {"chart": {"hash": {"algorithm": "sha256", "value": h}, "provenance": {"signature": {"content": sig}}}, "publicKey": {"content": pem}},
        "jar": {"archive": {"hash": {"algorithm": "sha256", "value": h}}, "signature": {"content": sig, "publicKey": {"content": pem}}},
        "rpm": {"package": {"hash": {"algorithm": "sha256", "value": h}}, "publicKey": {"content": pem}},
        "alpine": {"package": {"hash": {"algorithm": "sha512", "value": h * 2}}, "publicKey": {"content": pem}},
        "cose": {"data": {"payloadHash": {"algorithm": "sha256", "value": h}, "envelopeHash": {"algorithm": "sha256", "value": h}}, "publicKey": pem},
        "rekord": {"data": {"hash": {"algorithm": "sha256", "value": h}}, "signature": {"content": sig, "format": "x509", "publicKey": {"content": pem}}},
        "rfc3161": {"tsr": {"content": sig}},
        "tuf": {"metadata": {"content": {}}, "root": {"content": {}}},
    }
    for kind, spec in hand.items():
        c.add_json("hand-" + kind, {"apiVersion": "0.0.1", "kind": kind, "spec": spec})


def rest_v1(e):
    body = base64.b64decode(e["canonicalized_body_b64"])
    leaf = e["leaf_hash_hex"]
    tid = tree_id(e["checkpoint_envelope"])
    uuid = (f"{tid:016x}" + leaf) if tid is not None else leaf
    entry = {
        "body": e["canonicalized_body_b64"],
        "integratedTime": e["integrated_time"],
        "logID": e["log_id_hex"],
        "logIndex": e["log_index"],
    }
    ver = {}
    ip = e["inclusion_proof"]
    if ip:
        proof = {
            "hashes": ip["hashes_hex"],
            "logIndex": ip["log_index"],
            "rootHash": ip["root_hash_hex"],
            "treeSize": ip["tree_size"],
        }
        if e["checkpoint_envelope"]:
            proof["checkpoint"] = e["checkpoint_envelope"]
        ver["inclusionProof"] = proof
    if e["signed_entry_timestamp_b64"]:
        ver["signedEntryTimestamp"] = e["signed_entry_timestamp_b64"]
    if ver:
        entry["verification"] = ver
    assert len(body) > 0
    return {uuid: entry}


def tlog_entry(e):
    t = {
        "logIndex": str(e["log_index"]),
        "logId": {"keyId": e["log_id_b64"]},
        "kindVersion": {"kind": e["kind"], "version": e["kind_version"]},
    }
    if e["integrated_time"]:
        t["integratedTime"] = str(e["integrated_time"])
    if e["signed_entry_timestamp_b64"]:
        t["inclusionPromise"] = {"signedEntryTimestamp": e["signed_entry_timestamp_b64"]}
    ip = e["inclusion_proof"]
    if ip:
        p = {
            "logIndex": str(ip["log_index"]),
            "rootHash": base64.b64encode(bytes.fromhex(ip["root_hash_hex"])).decode(),
            "treeSize": str(ip["tree_size"]),
            "hashes": [base64.b64encode(bytes.fromhex(h)).decode() for h in ip["hashes_hex"]],
        }
        if e["checkpoint_envelope"]:
            p["checkpoint"] = {"envelope": e["checkpoint_envelope"]}
        t["inclusionProof"] = p
    t["canonicalizedBody"] = e["canonicalized_body_b64"]
    return t


def seed_rest_response():
    c = Corpus("rest_response")
    for name in ("rest-entry.json", "rest-entry-2.json"):
        c.add("upstream-" + name, UPSTREAM[name])
    for e in ENTRIES:
        if e["rekor_version"] == "v1":
            c.add_json("v1-" + e["id"], rest_v1(e))
        else:
            c.add_json("v2-" + e["id"], tlog_entry(e))
    # Two entries in one response, and a v2 entry from an upstream bundle.
    v1 = [e for e in ENTRIES if e["rekor_version"] == "v1"]
    both = {}
    for e in v1[:2]:
        both.update(rest_v1(e))
    c.add_json("v1-two-entries", both)
    b = json.loads(UPSTREAM["bundle-rekor-v2.sigstore.json"])
    c.add_json("v2-upstream-bundle-rekor-v2", b["verificationMaterial"]["tlogEntries"][0])


MEDIA = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
]


def seed_bundle():
    c = Corpus("bundle")
    for name in ("bundle-dsse.sigstore.json", "bundle-rekor-v2.sigstore.json", "bundle-v0.3-hashedrekord.sigstore.json"):
        c.add("upstream-" + name, UPSTREAM[name])
    for i, e in enumerate(ENTRIES):
        c.add_json("bundle-" + e["id"], {
            "mediaType": MEDIA[i % len(MEDIA)],
            "verificationMaterial": {"tlogEntries": [tlog_entry(e)]},
        })


def envelopes():
    """(name, envelope object) from the bundles and from in-toto entry bodies."""
    out = []
    b = json.loads(UPSTREAM["bundle-dsse.sigstore.json"])
    out.append(("bundle-dsse", b["dsseEnvelope"]))
    for name, body in bodies():
        try:
            v = json.loads(body)
        except ValueError:
            continue
        env = v.get("spec", {}).get("content", {}).get("envelope")
        if isinstance(env, dict):
            out.append(("intoto-" + name, env))
    return out


def seed_dsse():
    c = Corpus("dsse")
    envs = envelopes()
    for name, env in envs:
        c.add_json(name, env)
    base = envs[0][1]
    payload = base64.b64decode(base["payload"])
    sig = base["signatures"][0]["sig"]
    c.add_json("variant-keyid", {**base, "signatures": [{"sig": sig, "keyid": "key-1"}]})
    c.add_json("variant-empty-keyid", {**base, "signatures": [{"keyid": "", "sig": sig}]})
    c.add_json("variant-null-keyid", {**base, "signatures": [{"keyid": None, "sig": sig}]})
    c.add_json("variant-two-sigs", {**base, "signatures": [{"sig": sig, "keyid": "a<b>&c"}, {"sig": sig}]})
    c.add_json("variant-urlsafe-unpadded", {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.urlsafe_b64encode(payload).decode().rstrip("="),
        "signatures": [{"sig": sig.rstrip("=")}],
    })
    c.add_json("variant-go-escapes", {
        "payloadType": "text/<plain>&\u2028\u2029\u0001",
        "payload": base64.b64encode(b"hello").decode(),
        "signatures": [{"sig": "AQID", "keyid": "\u00e9\u2028\""}],
        "extra": {"z": 1, "a": [1.5, -0, 1e21]},
    })
    # Each way an envelope is rejected.
    c.add_json("bad-missing-payload-type", {"payload": base["payload"], "signatures": [{"sig": sig}]})
    c.add_json("bad-empty-payload-type", {**base, "payloadType": ""})
    c.add_json("bad-payload-base64", {**base, "payload": "not base64!"})
    c.add_json("bad-mixed-alphabets", {**base, "payload": "ab-+"})
    c.add_json("bad-no-signatures", {**base, "signatures": []})
    c.add_json("bad-signatures-object", {**base, "signatures": {"sig": sig}})
    c.add_json("bad-empty-sig", {**base, "signatures": [{"sig": ""}]})
    c.add_json("bad-keyid-number", {**base, "signatures": [{"sig": sig, "keyid": 7}]})
    c.add_json("bad-101-signatures", {**base, "signatures": [{"sig": "AQ=="}] * 101})
    c.add_json("bad-not-an-object", [base])
    # The pre-authentication example from the DSSE protocol document.
    c.add_json("variant-dsse-spec", {
        "payloadType": "http://example.com/HelloWorld",
        "payload": base64.b64encode(b"hello world").decode(),
        "signatures": [{"keyid": "66301bbf", "sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}],
    })


def seed_merkle():
    # The merkle target decodes its input with `arbitrary`, so these are raw material: the reference
    # tree's leaves and hashes, and real proofs, laid out as index, size, leaf hash, root, proof.
    c = Corpus("merkle")
    ref = MERKLE["reference_tree"]
    leaves = b"".join(bytes.fromhex(x) for x in ref["leaf_inputs_hex"])
    c.add("reference-leaf-inputs", leaves)
    nodes = b"".join(bytes.fromhex(h) for level in ref["node_hashes_by_level_hex"] for h in level)
    c.add("reference-node-hashes", nodes)
    for v in MERKLE["positive_inclusion"]:
        blob = struct.pack("<QQ", v["leaf_index"], v["tree_size"])
        blob += bytes.fromhex(v["leaf_hash_hex"] or "") + bytes.fromhex(v["root_hex"] or "")
        blob += b"".join(bytes.fromhex(h) for h in v["proof_hex"])
        c.add("inclusion-" + v["id"], blob)
    n = 0
    for e in ENTRIES:
        ip = e["inclusion_proof"]
        if not ip or n >= 6:
            continue
        blob = struct.pack("<QQ", ip["log_index"], ip["tree_size"]) + bytes.fromhex(e["leaf_hash_hex"])
        blob += bytes.fromhex(ip["root_hash_hex"]) + b"".join(bytes.fromhex(h) for h in ip["hashes_hex"])
        c.add("rekor-proof-" + e["id"], blob)
        n += 1
    # Small trees: enum tags and lengths of every byte value.
    for i in range(8):
        c.add(f"pattern-{i}", bytes((i * 37 + j * 11) & 0xFF for j in range(64 + 32 * i)))


def seed_canonical_json():
    c = Corpus("canonical_json")
    for name in ("rest-entry-2.json", "bundle-rekor-v2.sigstore.json", "bundle-v0.3-hashedrekord.sigstore.json"):
        c.add("upstream-" + name, UPSTREAM[name])
    for name, body in bodies()[:8]:
        c.add("body-" + name, body)
    for e in ENTRIES[:3]:
        c.add("set-payload-" + e["id"], canonical({
            "body": e["canonicalized_body_b64"],
            "integratedTime": e["integrated_time"],
            "logID": e["log_id_hex"],
            "logIndex": e["log_index"],
        }))
    # RFC 8785 §3.2.2 and appendix-style inputs: number formatting, member order, escapes.
    c.add("rfc8785-numbers", "[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, "
          "-0, 0, 1e21, 1e-7, 1e-6, 123456789012345680000, 5e-324, 1.7976931348623157e308, "
          "9007199254740993, -9007199254740993, 18446744073709551615, -9223372036854775808, 0.1, 100]")
    c.add("rfc8785-order", '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",'
          '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}')
    c.add("rfc8785-structures", '{"1":{"f":{"f":"hi","F":5},"\\n":56.0},"10":{},"":"empty","a":{},'
          '"111":[{"e":"yes","E":"no"}],"A":{}}')
    c.add("rfc8785-values", '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],'
          '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}')
    c.add("rfc8785-weird", '{"\\u20ac":"x","\\ud800\\udc00":"y","\\ue000":"z","\\t\\b\\f\\u0000\\u001f":"ctl"}')
    c.add("nested", "[[[[[[[[[[{\"a\":[{}]}]]]]]]]]]]")
    c.add("duplicate-keys", '{"a":1,"a":2,"b":{"x":[],"x":{}}}')
    c.add("scalars", '"just a string \\u2028"')
    # Regression: serde_json without float_roundtrip parsed this one ULP off (fixed in core/Cargo.toml).
    c.add("regression-float-roundtrip", "[1.234567890123456e+30,1234567890123456007199254740993]")


def seed_timestamp():
    # The target's layout: byte 0 = length n of the timestamped signature, bytes 1..=n the
    # signature, then the token. Every real bundle token with the signature it timestamps, and
    # alone (n = 0); the sigstore-python token without embedded certificates with its message.
    c = Corpus("timestamp")
    files = sorted(FIX.glob("conformance/bundle-verify/*/bundle.sigstore.json"))
    files += sorted(FIX.glob("conformance/sigstore-go/*.json")) + sorted(FIX.glob("upstream/*.json"))
    files += sorted(FIX.glob("timestamps/sigstore-python/*.sigstore*"))
    for f in files:
        try:
            b = json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(b, dict):
            continue
        ts = ((b.get("verificationMaterial") or {}).get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
        sig = (b.get("messageSignature") or {}).get("signature")
        if sig is None:
            sigs = (b.get("dsseEnvelope") or {}).get("signatures") or [{}]
            sig = sigs[0].get("sig")
        name = slug(str(f.relative_to(FIX)).replace("/bundle.sigstore.json", "").replace("/", "__"))
        for i, t in enumerate(ts):
            try:
                token = base64.b64decode(t["signedTimestamp"])
                sig_bytes = base64.b64decode(sig) if sig else b""
            except (ValueError, KeyError, TypeError):
                continue
            if len(sig_bytes) <= 255:
                c.add(f"{name}-{i}", bytes([len(sig_bytes)]) + sig_bytes + token)
            c.add(f"{name}-{i}-token", b"\x00" + token)
    msg = (FIX / "timestamps/sigstore-python/tsa__issue1482-message").read_bytes()
    tok = (FIX / "timestamps/sigstore-python/tsa__issue1482-timestamp-with-no-cert").read_bytes()
    if len(msg) <= 255:
        c.add("issue1482", bytes([len(msg)]) + msg + tok)
    c.add("issue1482-token", b"\x00" + tok)


def main():
    for t in TARGETS:
        d = OUT / t
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    seed_checkpoint()
    seed_keys()
    seed_entry_body()
    seed_rest_response()
    seed_bundle()
    seed_dsse()
    seed_merkle()
    seed_canonical_json()
    seed_timestamp()
    for t in TARGETS:
        files = list((OUT / t).iterdir())
        size = sum(f.stat().st_size for f in files)
        print(f"{t:15} {len(files):3} files {size:8} bytes")


if __name__ == "__main__":
    main()
