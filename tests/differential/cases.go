package main

// Base cases: every real bundle and Rekor v1 REST response found in the fixture folders, plus each
// normalised real entry of tests/fixtures/rekor_entries.json put back into both containers.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

type Case struct {
	ID    string `json:"id"`
	Base  string `json:"base"`
	Kind  string `json:"kind"`  // "bundle" | "rest" (Rekor v1 REST) | "rest2" (Rekor v2 REST: one TransparencyLogEntry)
	Class string `json:"class"` // mutation class; "original" for the unmutated base
	Doc   []byte `json:"-"`
	Root  string `json:"root,omitempty"` // trusted-root variant ("" = the merged root)
}

var restKeyRe = regexp.MustCompile(`^[0-9a-fA-F]{64}([0-9a-fA-F]{16})?$`)

// classify returns "bundle", "rest" or "".
func classify(doc []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return ""
	}
	if _, ok := m["canonicalizedBody"]; ok {
		if _, ok := m["logIndex"]; ok {
			return "rest2" // a Rekor v2 REST answer: one protobuf-JSON TransparencyLogEntry
		}
	}
	if _, ok := m["mediaType"]; ok {
		if _, ok := m["verificationMaterial"]; ok {
			return "bundle"
		}
		return ""
	}
	if len(m) >= 1 {
		for k := range m {
			if !restKeyRe.MatchString(k) && !regexp.MustCompile(`^[0-9a-fA-F]{80}$`).MatchString(k) {
				return ""
			}
		}
		return "rest"
	}
	return ""
}

// loadBases walks the given files/folders for JSON documents that are bundles or REST responses.
func loadBases(paths []string) ([]Case, error) {
	var out []Case
	seen := map[[32]byte]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		var files []string
		if st.IsDir() {
			filepath.WalkDir(p, func(f string, d os.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				if d.IsDir() {
					return nil
				}
				n := strings.ToLower(d.Name())
				if strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".sigstore") || strings.HasSuffix(n, ".bundle") {
					files = append(files, f)
				}
				return nil
			})
		} else {
			files = []string{p}
		}
		sort.Strings(files)
		for _, f := range files {
			doc, err := os.ReadFile(f)
			if err != nil || len(doc) > 4<<20 {
				continue
			}
			kind := classify(doc)
			if kind == "" {
				continue
			}
			h := sha256.Sum256(doc)
			if seen[h] {
				continue
			}
			seen[h] = true
			out = append(out, Case{ID: relName(f), Base: relName(f), Kind: kind, Class: "original", Doc: doc})
		}
	}
	return out, nil
}

var repoRoot string

func relName(f string) string {
	if repoRoot != "" {
		if r, err := filepath.Rel(repoRoot, f); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return f
}

// synthesize turns each entry of rekor_entries.json into a minimal bundle (v0.3 with a proof, v0.1
// without) and, for Rekor v1 entries, a REST response.
func synthesize(path string) ([]Case, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Entries []struct {
			ID             string `json:"id"`
			RekorVersion   string `json:"rekor_version"`
			Kind           string `json:"kind"`
			KindVersion    string `json:"kind_version"`
			LogIndex       int64  `json:"log_index"`
			LogIDB64       string `json:"log_id_b64"`
			LogIDHex       string `json:"log_id_hex"`
			IntegratedTime *int64 `json:"integrated_time"`
			Body           string `json:"canonicalized_body_b64"`
			LeafHex        string `json:"leaf_hash_hex"`
			Proof          *struct {
				LogIndex int64    `json:"log_index"`
				TreeSize int64    `json:"tree_size"`
				RootHex  string   `json:"root_hash_hex"`
				Hashes   []string `json:"hashes_hex"`
			} `json:"inclusion_proof"`
			Checkpoint *string `json:"checkpoint_envelope"`
			SET        *string `json:"signed_entry_timestamp_b64"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	var out []Case
	for _, e := range f.Entries {
		it := int64(0)
		if e.IntegratedTime != nil {
			it = *e.IntegratedTime
		}
		tle := map[string]any{
			"logIndex":          fmt.Sprint(e.LogIndex),
			"logId":             map[string]any{"keyId": e.LogIDB64},
			"kindVersion":       map[string]any{"kind": e.Kind, "version": e.KindVersion},
			"canonicalizedBody": e.Body,
		}
		if it != 0 {
			tle["integratedTime"] = fmt.Sprint(it)
		}
		if e.SET != nil && *e.SET != "" {
			tle["inclusionPromise"] = map[string]any{"signedEntryTimestamp": *e.SET}
		}
		media := "application/vnd.dev.sigstore.bundle+json;version=0.1"
		if e.Proof != nil {
			hs := []any{}
			for _, h := range e.Proof.Hashes {
				hs = append(hs, hexToB64(h))
			}
			p := map[string]any{
				"logIndex": fmt.Sprint(e.Proof.LogIndex),
				"rootHash": hexToB64(e.Proof.RootHex),
				"treeSize": fmt.Sprint(e.Proof.TreeSize),
				"hashes":   hs,
			}
			if e.Checkpoint != nil {
				p["checkpoint"] = map[string]any{"envelope": *e.Checkpoint}
			}
			tle["inclusionProof"] = p
			media = "application/vnd.dev.sigstore.bundle.v0.3+json"
		}
		b := map[string]any{
			"mediaType": media,
			"verificationMaterial": map[string]any{
				"publicKey":   map[string]any{"hint": "synthesized"},
				"tlogEntries": []any{tle},
			},
			"messageSignature": map[string]any{
				"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": base64.StdEncoding.EncodeToString(make([]byte, 32))},
				"signature":     "AA==",
			},
		}
		doc, _ := json.Marshal(b)
		out = append(out, Case{ID: "synth-bundle:" + e.ID, Base: "synth-bundle:" + e.ID, Kind: "bundle", Class: "original", Doc: doc})
		if e.RekorVersion != "v1" {
			// Rekor v2's REST answer (POST /api/v2/log/entries) is the TransparencyLogEntry itself
			doc, _ = json.Marshal(tle)
			out = append(out, Case{ID: "synth-rest2:" + e.ID, Base: "synth-rest2:" + e.ID, Kind: "rest2", Class: "original", Doc: doc})
			continue
		}
		anon := map[string]any{
			"body":           e.Body,
			"integratedTime": json.Number(fmt.Sprint(it)),
			"logID":          e.LogIDHex,
			"logIndex":       json.Number(fmt.Sprint(e.LogIndex)),
		}
		ver := map[string]any{}
		if e.SET != nil && *e.SET != "" {
			ver["signedEntryTimestamp"] = *e.SET
		}
		uuid := e.LeafHex
		if e.Proof != nil {
			p := map[string]any{
				"logIndex": json.Number(fmt.Sprint(e.Proof.LogIndex)),
				"rootHash": e.Proof.RootHex,
				"treeSize": json.Number(fmt.Sprint(e.Proof.TreeSize)),
				"hashes":   toAnySlice(e.Proof.Hashes),
			}
			if e.Checkpoint != nil {
				p["checkpoint"] = *e.Checkpoint
				if tid := treeIDOf(*e.Checkpoint); tid != "" {
					uuid = tid + e.LeafHex
				}
			}
			ver["inclusionProof"] = p
		}
		anon["verification"] = ver
		doc, _ = json.Marshal(map[string]any{uuid: anon})
		out = append(out, Case{ID: "synth-rest:" + e.ID, Base: "synth-rest:" + e.ID, Kind: "rest", Class: "original", Doc: doc})
	}
	return out, nil
}

var originTreeRe = regexp.MustCompile(` - ([0-9]+)$`)

// treeIDOf: the 16-hex tree id of a v1 checkpoint origin "<host> - <tree id>".
func treeIDOf(ckpt string) string {
	line := strings.SplitN(ckpt, "\n", 2)[0]
	m := originTreeRe.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	var id uint64
	fmt.Sscan(m[1], &id)
	return fmt.Sprintf("%016x", id)
}

func toAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func hexToB64(h string) string {
	b, _ := hex.DecodeString(h)
	return base64.StdEncoding.EncodeToString(b)
}

// ---- trusted roots --------------------------------------------------------------------------------

// mergeRoots: one trusted root whose tlogs are the union (by logId, the first file wins) of the given
// trusted_root.json files; the other sections come from the first file.
func mergeRoots(files []string) ([]byte, []string, error) {
	var base map[string]any
	var tlogs []any
	seen := map[string]bool{}
	var notes []string
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		if i == 0 {
			base = m
		}
		tl, _ := m["tlogs"].([]any)
		for _, t := range tl {
			id := jget(t, "logId", "keyId")
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			tlogs = append(tlogs, t)
			notes = append(notes, fmt.Sprintf("%s %s (from %s)", jget(t, "baseUrl"), id, relName(f)))
		}
	}
	if base == nil {
		return nil, nil, fmt.Errorf("no trusted root")
	}
	base["tlogs"] = tlogs
	out, err := json.MarshalIndent(base, "", "  ")
	return out, notes, err
}

func jget(v any, path ...string) string {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func decodeJSON(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
