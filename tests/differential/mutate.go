package main

// The case generator: deterministic (seeded) mutations of each base case, named by class.

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

type fieldEnc int

const (
	encB64 fieldEnc = iota
	encHex
	encInt
	encStr
	encB64List
	encHexList
)

type field struct {
	path []string
	enc  fieldEnc
}

type layout struct {
	body, logIndex, logID, itime, set, pIndex, pSize, pRoot, pHashes, ckpt, kind, version field
	proof                                                                                 []string
}

var bundleLayout = layout{
	body: field{[]string{"canonicalizedBody"}, encB64}, logIndex: field{[]string{"logIndex"}, encInt},
	logID: field{[]string{"logId", "keyId"}, encB64}, itime: field{[]string{"integratedTime"}, encInt},
	set:    field{[]string{"inclusionPromise", "signedEntryTimestamp"}, encB64},
	pIndex: field{[]string{"inclusionProof", "logIndex"}, encInt}, pSize: field{[]string{"inclusionProof", "treeSize"}, encInt},
	pRoot: field{[]string{"inclusionProof", "rootHash"}, encB64}, pHashes: field{[]string{"inclusionProof", "hashes"}, encB64List},
	ckpt: field{[]string{"inclusionProof", "checkpoint", "envelope"}, encStr},
	kind: field{[]string{"kindVersion", "kind"}, encStr}, version: field{[]string{"kindVersion", "version"}, encStr},
	proof: []string{"inclusionProof"},
}

var restLayout = layout{
	body: field{[]string{"body"}, encB64}, logIndex: field{[]string{"logIndex"}, encInt},
	logID: field{[]string{"logID"}, encHex}, itime: field{[]string{"integratedTime"}, encInt},
	set:    field{[]string{"verification", "signedEntryTimestamp"}, encB64},
	pIndex: field{[]string{"verification", "inclusionProof", "logIndex"}, encInt}, pSize: field{[]string{"verification", "inclusionProof", "treeSize"}, encInt},
	pRoot: field{[]string{"verification", "inclusionProof", "rootHash"}, encHex}, pHashes: field{[]string{"verification", "inclusionProof", "hashes"}, encHexList},
	ckpt:  field{[]string{"verification", "inclusionProof", "checkpoint"}, encStr},
	proof: []string{"verification", "inclusionProof"},
}

func layoutOf(kind string) layout {
	if kind == "rest" {
		return restLayout
	}
	return bundleLayout
}

// ---- JSON path helpers ------------------------------------------------------------------------------

func getP(m map[string]any, path []string) (any, bool) {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok = mm[p]
		if !ok {
			return nil, false
		}
	}
	return v, true
}

func setP(m map[string]any, path []string, val any) bool {
	for _, p := range path[:len(path)-1] {
		n, ok := m[p].(map[string]any)
		if !ok {
			return false
		}
		m = n
	}
	m[path[len(path)-1]] = val
	return true
}

func delP(m map[string]any, path []string) bool {
	for _, p := range path[:len(path)-1] {
		n, ok := m[p].(map[string]any)
		if !ok {
			return false
		}
		m = n
	}
	if _, ok := m[path[len(path)-1]]; !ok {
		return false
	}
	delete(m, path[len(path)-1])
	return true
}

func getBytes(m map[string]any, f field) ([]byte, bool) {
	v, ok := getP(m, f.path)
	if !ok {
		return nil, false
	}
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	var b []byte
	var err error
	if f.enc == encHex {
		b, err = hex.DecodeString(s)
	} else {
		b, err = b64std(s)
	}
	return b, err == nil
}

func encBytes(enc fieldEnc, b []byte) string {
	if enc == encHex || enc == encHexList {
		return hex.EncodeToString(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func setBytes(m map[string]any, f field, b []byte) bool { return setP(m, f.path, encBytes(f.enc, b)) }

func getInt(m map[string]any, f field) (int64, bool) {
	v, ok := getP(m, f.path)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// setInt keeps the JSON type the field had (bundle: int64 as a string; REST: a number).
func setInt(m map[string]any, f field, n int64) bool {
	v, ok := getP(m, f.path)
	if !ok {
		return false
	}
	if _, isStr := v.(string); isStr {
		return setP(m, f.path, strconv.FormatInt(n, 10))
	}
	return setP(m, f.path, json.Number(strconv.FormatInt(n, 10)))
}

func getList(m map[string]any, f field) ([][]byte, bool) {
	v, ok := getP(m, f.path)
	if !ok {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([][]byte, len(l))
	for i, x := range l {
		s, _ := x.(string)
		var err error
		if f.enc == encHexList {
			out[i], err = hex.DecodeString(s)
		} else {
			out[i], err = b64std(s)
		}
		if err != nil {
			return nil, false
		}
	}
	return out, true
}

func setList(m map[string]any, f field, l [][]byte) bool {
	out := make([]any, len(l))
	for i, b := range l {
		out[i] = encBytes(f.enc, b)
	}
	return setP(m, f.path, out)
}

func b64std(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func flip(r *rand.Rand, b []byte) []byte {
	c := append([]byte(nil), b...)
	if len(c) == 0 {
		return []byte{0x01}
	}
	i := r.IntN(len(c))
	c[i] ^= 1 << r.IntN(8)
	return c
}

// entries returns the tlog entry objects of a decoded document (pointers into it), in a stable order.
func entries(doc any, kind string) []map[string]any {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	if kind == "rest" {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []map[string]any
		for _, k := range keys {
			if e, ok := m[k].(map[string]any); ok {
				out = append(out, e)
			}
		}
		return out
	}
	if kind == "rest2" {
		return []map[string]any{m} // a Rekor v2 REST answer is one TransparencyLogEntry
	}
	l, _ := getP(m, []string{"verificationMaterial", "tlogEntries"})
	arr, _ := l.([]any)
	var out []map[string]any
	for _, x := range arr {
		if e, ok := x.(map[string]any); ok {
			out = append(out, e)
		}
	}
	return out
}

// ---- checkpoint text -------------------------------------------------------------------------------

type note struct {
	lines []string // body lines without their newline: origin, size, root, extensions
	sigs  []string // signature lines without newline
	ok    bool
}

func parseNote(s string) note {
	i := strings.Index(s, "\n\n")
	if i < 0 {
		return note{}
	}
	body, sigs := s[:i], strings.TrimSuffix(s[i+2:], "\n")
	n := note{lines: strings.Split(body, "\n"), ok: true}
	if sigs != "" {
		n.sigs = strings.Split(sigs, "\n")
	}
	return n
}

func (n note) String() string {
	return strings.Join(n.lines, "\n") + "\n\n" + strings.Join(n.sigs, "\n") + "\n"
}

func (n note) clone() note {
	return note{lines: append([]string(nil), n.lines...), sigs: append([]string(nil), n.sigs...), ok: n.ok}
}

// splitSig: "— name base64" -> name, decoded bytes.
func splitSig(line string) (string, []byte, bool) {
	if !strings.HasPrefix(line, "\u2014 ") {
		return "", nil, false
	}
	rest := strings.TrimPrefix(line, "\u2014 ")
	sp := strings.LastIndex(rest, " ")
	if sp < 0 {
		return "", nil, false
	}
	b, err := b64std(rest[sp+1:])
	if err != nil || len(b) < 5 {
		return "", nil, false
	}
	return rest[:sp], b, true
}

func joinSig(name string, b []byte) string {
	return "\u2014 " + name + " " + base64.StdEncoding.EncodeToString(b)
}

// ---- the generator ---------------------------------------------------------------------------------

type pool struct {
	// encoded entry objects by kind and log id (as encoded in that kind), from every base
	byLog  map[string]map[string][]string
	logIDs []string // every trusted log id, base64
}

func newPool(bases []Case, trustedLogIDs []string) *pool {
	p := &pool{byLog: map[string]map[string][]string{"bundle": {}, "rest": {}, "rest2": {}}, logIDs: trustedLogIDs}
	for _, b := range bases {
		doc, err := decodeJSON(b.Doc)
		if err != nil {
			continue
		}
		lay := layoutOf(b.Kind)
		for _, e := range entries(doc, b.Kind) {
			id, _ := getP(e, lay.logID.path)
			s, _ := id.(string)
			p.byLog[b.Kind][s] = append(p.byLog[b.Kind][s], string(encodeJSON(e)))
		}
	}
	return p
}

func (p *pool) others(kind, logID, self string) []map[string]any {
	var out []map[string]any
	for _, s := range p.byLog[kind][logID] {
		if s == self {
			continue
		}
		v, _ := decodeJSON([]byte(s))
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func seedFor(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// mutations generates the mutated cases of one base; nRandom extra random string edits.
func mutations(b Case, p *pool, seed uint64, nRandom int) []Case {
	r := seedFor(seed, b.Base)
	lay := layoutOf(b.Kind)
	var out []Case
	counter := map[string]int{}
	emit := func(class string, f func(doc map[string]any, es []map[string]any) bool) {
		v, err := decodeJSON(b.Doc)
		if err != nil {
			return
		}
		doc, ok := v.(map[string]any)
		if !ok {
			return
		}
		es := entries(doc, b.Kind)
		applied := func() (ok bool) {
			defer func() {
				if recover() != nil {
					ok = false // a mutator that does not apply to this document
				}
			}()
			return f(doc, es)
		}()
		if !applied {
			return
		}
		counter[class]++
		out = append(out, Case{ID: fmt.Sprintf("%s#%s.%d", b.Base, class, counter[class]), Base: b.Base, Kind: b.Kind, Class: class, Doc: encodeJSON(doc)})
	}
	first := func(f func(e map[string]any) bool) func(map[string]any, []map[string]any) bool {
		return func(doc map[string]any, es []map[string]any) bool {
			if len(es) == 0 {
				return false
			}
			return f(es[0])
		}
	}
	bytesMut := func(class string, fl field, g func([]byte) []byte) {
		emit(class, first(func(e map[string]any) bool {
			b, ok := getBytes(e, fl)
			if !ok {
				return false
			}
			return setBytes(e, fl, g(b))
		}))
	}
	intMut := func(class string, fl field, g func(e map[string]any, n int64) int64) {
		emit(class, first(func(e map[string]any) bool {
			n, ok := getInt(e, fl)
			if !ok {
				return false
			}
			m := g(e, n)
			if m == n {
				return false
			}
			return setInt(e, fl, m)
		}))
	}
	flipper := func(b []byte) []byte { return flip(r, b) }

	// --- body
	for i := 0; i < 4; i++ {
		bytesMut("body.bitflip", lay.body, flipper)
	}
	bytesMut("body.truncate", lay.body, func(b []byte) []byte { return b[:len(b)/2] })
	bytesMut("body.trailing_space", lay.body, func(b []byte) []byte { return append(append([]byte(nil), b...), ' ') })
	bytesMut("body.empty", lay.body, func(b []byte) []byte { return nil })

	// --- proof hashes
	emit0 := func(class string, g func(e map[string]any, l [][]byte) ([][]byte, bool)) {
		emit(class, first(func(e map[string]any) bool {
			l, ok := getList(e, lay.pHashes)
			if !ok {
				return false
			}
			n, ok := g(e, l)
			return ok && setList(e, lay.pHashes, n)
		}))
	}
	if es := entries(mustDecode(b.Doc), b.Kind); len(es) > 0 {
		if l, ok := getList(es[0], lay.pHashes); ok {
			for i := range l {
				i := i
				emit0("proof.hash_bitflip", func(e map[string]any, l [][]byte) ([][]byte, bool) {
					l[i] = flip(r, l[i])
					return l, true
				})
			}
		}
	}
	emit0("proof.hash_drop_last", func(e map[string]any, l [][]byte) ([][]byte, bool) { return l[:max(0, len(l)-1)], len(l) > 0 })
	emit0("proof.hash_drop_first", func(e map[string]any, l [][]byte) ([][]byte, bool) { return l[min(1, len(l)):], len(l) > 0 })
	emit0("proof.hash_append", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		x := make([]byte, 32)
		for i := range x {
			x[i] = byte(r.IntN(256))
		}
		return append(l, x), true
	})
	emit0("proof.hash_swap_adjacent", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		if len(l) < 2 {
			return nil, false
		}
		i := r.IntN(len(l) - 1)
		l[i], l[i+1] = l[i+1], l[i]
		return l, string(l[i]) != string(l[i+1])
	})
	emit0("proof.hash_reverse", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		if len(l) < 2 {
			return nil, false
		}
		for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
			l[i], l[j] = l[j], l[i]
		}
		return l, true
	})
	emit0("proof.hashes_empty", func(e map[string]any, l [][]byte) ([][]byte, bool) { return [][]byte{}, len(l) > 0 })
	emit0("proof.hash_short", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		if len(l) == 0 {
			return nil, false
		}
		l[0] = l[0][:31]
		return l, true
	})
	emit0("proof.hash_long", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		if len(l) == 0 {
			return nil, false
		}
		l[0] = append(l[0], 0)
		return l, true
	})
	emit0("proof.hash_duplicate_first", func(e map[string]any, l [][]byte) ([][]byte, bool) {
		if len(l) == 0 {
			return nil, false
		}
		return append([][]byte{l[0]}, l...), true
	})

	// --- root
	bytesMut("proof.root_bitflip", lay.pRoot, flipper)
	bytesMut("proof.root_bitflip", lay.pRoot, flipper)
	bytesMut("proof.root_short", lay.pRoot, func(b []byte) []byte { return b[:len(b)-1] })
	bytesMut("proof.root_empty", lay.pRoot, func(b []byte) []byte { return nil })

	// --- indexes and sizes
	intMut("proof.index_plus1", lay.pIndex, func(e map[string]any, n int64) int64 { return n + 1 })
	intMut("proof.index_minus1", lay.pIndex, func(e map[string]any, n int64) int64 { return n - 1 })
	intMut("proof.index_zero", lay.pIndex, func(e map[string]any, n int64) int64 { return 0 })
	intMut("proof.index_negative", lay.pIndex, func(e map[string]any, n int64) int64 { return -1 })
	intMut("proof.index_eq_size", lay.pIndex, func(e map[string]any, n int64) int64 { s, _ := getInt(e, lay.pSize); return s })
	intMut("proof.index_eq_global", lay.pIndex, func(e map[string]any, n int64) int64 { s, _ := getInt(e, lay.logIndex); return s })
	intMut("proof.size_plus1", lay.pSize, func(e map[string]any, n int64) int64 { return n + 1 })
	intMut("proof.size_minus1", lay.pSize, func(e map[string]any, n int64) int64 { return n - 1 })
	intMut("proof.size_double", lay.pSize, func(e map[string]any, n int64) int64 { return 2 * n })
	intMut("proof.size_zero", lay.pSize, func(e map[string]any, n int64) int64 { return 0 })
	intMut("proof.size_eq_index", lay.pSize, func(e map[string]any, n int64) int64 { s, _ := getInt(e, lay.pIndex); return s })
	intMut("proof.size_huge", lay.pSize, func(e map[string]any, n int64) int64 { return n + 1<<40 })
	intMut("entry.log_index_plus1", lay.logIndex, func(e map[string]any, n int64) int64 { return n + 1 })
	intMut("entry.log_index_minus1", lay.logIndex, func(e map[string]any, n int64) int64 { return n - 1 })
	intMut("entry.log_index_negative", lay.logIndex, func(e map[string]any, n int64) int64 { return -1 })
	intMut("entry.log_index_zero", lay.logIndex, func(e map[string]any, n int64) int64 { return 0 })
	intMut("entry.log_index_eq_proof", lay.logIndex, func(e map[string]any, n int64) int64 { s, _ := getInt(e, lay.pIndex); return s })
	intMut("entry.log_index_plus_2p32", lay.logIndex, func(e map[string]any, n int64) int64 { return n + 1<<32 })

	// --- integrated time
	intMut("time.plus1", lay.itime, func(e map[string]any, n int64) int64 { return n + 1 })
	intMut("time.minus1", lay.itime, func(e map[string]any, n int64) int64 { return n - 1 })
	intMut("time.zero", lay.itime, func(e map[string]any, n int64) int64 { return 0 })
	intMut("time.future_2099", lay.itime, func(e map[string]any, n int64) int64 { return 4070908800 })
	intMut("time.before_2021", lay.itime, func(e map[string]any, n int64) int64 { return 1577836800 })
	intMut("time.year_9999", lay.itime, func(e map[string]any, n int64) int64 { return 253402300799 })
	intMut("time.negative", lay.itime, func(e map[string]any, n int64) int64 { return -1 })

	// --- log id (keys swapped)
	bytesMut("logid.bitflip", lay.logID, flipper)
	for _, id := range p.logIDs {
		id := id
		emit("logid.swap_other_trusted_log", first(func(e map[string]any) bool {
			cur, _ := getBytes(e, lay.logID)
			nb, _ := b64std(id)
			if string(cur) == string(nb) {
				return false
			}
			return setBytes(e, lay.logID, nb)
		}))
	}

	// --- SET
	for i := 0; i < 3; i++ {
		bytesMut("set.bitflip", lay.set, flipper)
	}
	bytesMut("set.truncate", lay.set, func(b []byte) []byte { return b[:len(b)-1] })
	bytesMut("set.append_byte", lay.set, func(b []byte) []byte { return append(append([]byte(nil), b...), 0) })
	bytesMut("set.empty", lay.set, func(b []byte) []byte { return nil })
	emit("set.swap_same_log", first(func(e map[string]any) bool {
		self := string(encodeJSON(e))
		id, _ := getP(e, lay.logID.path)
		ids, _ := id.(string)
		mine, ok := getP(e, lay.set.path)
		if !ok {
			return false
		}
		for _, o := range p.others(b.Kind, ids, self) {
			if s, ok := getP(o, lay.set.path); ok && s != mine {
				return setP(e, lay.set.path, s)
			}
		}
		return false
	}))

	// --- checkpoint
	ckMut := func(class string, g func(n note) (note, bool)) {
		emit(class, first(func(e map[string]any) bool {
			v, ok := getP(e, lay.ckpt.path)
			if !ok {
				return false
			}
			s, _ := v.(string)
			n := parseNote(s)
			if !n.ok || len(n.lines) < 3 {
				return false
			}
			m, ok := g(n.clone())
			return ok && setP(e, lay.ckpt.path, m.String())
		}))
	}
	ckRaw := func(class string, g func(s string) string) {
		emit(class, first(func(e map[string]any) bool {
			v, ok := getP(e, lay.ckpt.path)
			if !ok {
				return false
			}
			s, _ := v.(string)
			t := g(s)
			return t != s && setP(e, lay.ckpt.path, t)
		}))
	}
	ckMut("ckpt.origin_char", func(n note) (note, bool) {
		o := []byte(n.lines[0])
		o[r.IntN(len(o))] ^= 0x01
		n.lines[0] = string(o)
		return n, true
	})
	ckMut("ckpt.origin_other_tree_id", func(n note) (note, bool) {
		m := originTreeRe.FindStringSubmatchIndex(n.lines[0])
		if m == nil {
			return n, false
		}
		n.lines[0] = n.lines[0][:m[2]] + "1" + n.lines[0][m[2]:]
		return n, true
	})
	ckMut("ckpt.size_plus1", func(n note) (note, bool) {
		s, err := strconv.ParseInt(n.lines[1], 10, 64)
		n.lines[1] = strconv.FormatInt(s+1, 10)
		return n, err == nil
	})
	ckMut("ckpt.size_leading_zero", func(n note) (note, bool) { n.lines[1] = "0" + n.lines[1]; return n, true })
	ckMut("ckpt.root_bitflip", func(n note) (note, bool) {
		b, err := b64std(n.lines[2])
		n.lines[2] = base64.StdEncoding.EncodeToString(flip(r, b))
		return n, err == nil
	})
	ckMut("ckpt.extension_line_added", func(n note) (note, bool) {
		n.lines = append(n.lines, "Timestamp: 1700000000000000000")
		return n, true
	})
	ckMut("ckpt.sig_bitflip", func(n note) (note, bool) {
		for i, l := range n.sigs {
			if name, b, ok := splitSig(l); ok {
				b = append([]byte(nil), b...)
				j := 4 + r.IntN(len(b)-4)
				b[j] ^= 1 << r.IntN(8)
				n.sigs[i] = joinSig(name, b)
				return n, true
			}
		}
		return n, false
	})
	ckMut("ckpt.keyhint_bitflip", func(n note) (note, bool) {
		for i, l := range n.sigs {
			if name, b, ok := splitSig(l); ok {
				b = append([]byte(nil), b...)
				b[r.IntN(4)] ^= 1 << r.IntN(8)
				n.sigs[i] = joinSig(name, b)
				return n, true
			}
		}
		return n, false
	})
	ckMut("ckpt.signer_name_changed", func(n note) (note, bool) {
		for i, l := range n.sigs {
			if name, b, ok := splitSig(l); ok {
				n.sigs[i] = joinSig("x"+name, b)
				return n, true
			}
		}
		return n, false
	})
	ckMut("ckpt.extra_sig_other_name_same_hint_bad_sig", func(n note) (note, bool) {
		if name, b, ok := splitSig(n.sigs[0]); ok {
			bad := append([]byte(nil), b...)
			bad[len(bad)-1] ^= 0x55
			n.sigs = append(n.sigs, joinSig("witness."+name, bad))
			return n, true
		}
		return n, false
	})
	ckMut("ckpt.extra_sig_other_name_same_hint_bad_sig_first", func(n note) (note, bool) {
		if name, b, ok := splitSig(n.sigs[0]); ok {
			bad := append([]byte(nil), b...)
			bad[len(bad)-1] ^= 0x55
			n.sigs = append([]string{joinSig("witness."+name, bad)}, n.sigs...)
			return n, true
		}
		return n, false
	})
	ckMut("ckpt.extra_sig_same_name_same_hint_bad_sig", func(n note) (note, bool) {
		if name, b, ok := splitSig(n.sigs[0]); ok {
			bad := append([]byte(nil), b...)
			bad[len(bad)-1] ^= 0x55
			n.sigs = append(n.sigs, joinSig(name, bad))
			return n, true
		}
		return n, false
	})
	ckMut("ckpt.extra_sig_same_name_same_hint_bad_sig_first", func(n note) (note, bool) {
		if name, b, ok := splitSig(n.sigs[0]); ok {
			bad := append([]byte(nil), b...)
			bad[len(bad)-1] ^= 0x55
			n.sigs = append([]string{joinSig(name, bad)}, n.sigs...)
			return n, true
		}
		return n, false
	})
	ckMut("ckpt.extra_sig_unknown_key_first", func(n note) (note, bool) {
		junk := make([]byte, 68)
		for i := range junk {
			junk[i] = byte(r.IntN(256))
		}
		n.sigs = append([]string{joinSig("witness.example.com", junk)}, n.sigs...)
		return n, true
	})
	ckMut("ckpt.extra_sig_unknown_key_last", func(n note) (note, bool) {
		junk := make([]byte, 68)
		for i := range junk {
			junk[i] = byte(r.IntN(256))
		}
		n.sigs = append(n.sigs, joinSig("witness.example.com", junk))
		return n, true
	})
	ckMut("ckpt.sig_line_duplicated", func(n note) (note, bool) { n.sigs = append(n.sigs, n.sigs[0]); return n, true })
	ckMut("ckpt.sigs_removed", func(n note) (note, bool) { n.sigs = nil; return n, true })
	ckMut("ckpt.sig_no_em_dash", func(n note) (note, bool) {
		n.sigs[0] = "-" + strings.TrimPrefix(n.sigs[0], "\u2014")
		return n, len(n.sigs) > 0
	})
	ckRaw("ckpt.no_trailing_newline", func(s string) string { return strings.TrimSuffix(s, "\n") })
	ckRaw("ckpt.crlf", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") })
	ckRaw("ckpt.blank_line_removed", func(s string) string { return strings.Replace(s, "\n\n", "\n", 1) })
	ckRaw("ckpt.extra_blank_line", func(s string) string { return strings.Replace(s, "\n\n", "\n\n\n", 1) })
	ckRaw("ckpt.trailing_garbage", func(s string) string { return s + "junk\n" })
	ckRaw("ckpt.empty", func(s string) string { return "" })
	emit("ckpt.removed", first(func(e map[string]any) bool {
		return delP(e, lay.ckpt.path[:len(lay.ckpt.path)-boolInt(b.Kind != "rest")])
	}))
	emit("shard.checkpoint_from_other_entry_same_log", first(func(e map[string]any) bool {
		self := string(encodeJSON(e))
		id, _ := getP(e, lay.logID.path)
		ids, _ := id.(string)
		mine, ok := getP(e, lay.ckpt.path)
		if !ok {
			return false
		}
		for _, o := range p.others(b.Kind, ids, self) {
			if s, ok := getP(o, lay.ckpt.path); ok && s != mine {
				return setP(e, lay.ckpt.path, s)
			}
		}
		return false
	}))
	emit("shard.proof_from_other_entry_same_log", first(func(e map[string]any) bool {
		self := string(encodeJSON(e))
		id, _ := getP(e, lay.logID.path)
		ids, _ := id.(string)
		mine, ok := getP(e, lay.proof)
		if !ok {
			return false
		}
		for _, o := range p.others(b.Kind, ids, self) {
			if s, ok := getP(o, lay.proof); ok && string(encodeJSON(s)) != string(encodeJSON(mine)) {
				return setP(e, lay.proof, s)
			}
		}
		return false
	}))
	emit("shard.body_from_other_entry_same_log", first(func(e map[string]any) bool {
		self := string(encodeJSON(e))
		id, _ := getP(e, lay.logID.path)
		ids, _ := id.(string)
		mine, _ := getP(e, lay.body.path)
		for _, o := range p.others(b.Kind, ids, self) {
			if s, ok := getP(o, lay.body.path); ok && s != mine {
				return setP(e, lay.body.path, s)
			}
		}
		return false
	}))

	// --- kind / version (only the protobuf-JSON shapes carry kindVersion)
	if b.Kind != "rest" {
		emit("kind.changed", first(func(e map[string]any) bool {
			v, ok := getP(e, lay.kind.path)
			if !ok {
				return false
			}
			if v == "rekord" {
				return setP(e, lay.kind.path, "hashedrekord")
			}
			return setP(e, lay.kind.path, "rekord")
		}))
		emit("kind.version_changed", first(func(e map[string]any) bool { return setP(e, lay.version.path, "9.9.9") }))
	}

	// --- fields removed
	for _, fl := range []field{lay.body, lay.logIndex, lay.logID, lay.itime, lay.set, lay.pIndex, lay.pSize, lay.pRoot, lay.pHashes} {
		fl := fl
		emit("removed."+strings.Join(fl.path, "."), first(func(e map[string]any) bool { return delP(e, fl.path) }))
	}
	if b.Kind != "rest" {
		emit("removed.kindVersion", first(func(e map[string]any) bool { return delP(e, []string{"kindVersion"}) }))
		emit("removed.inclusionPromise", first(func(e map[string]any) bool { return delP(e, []string{"inclusionPromise"}) }))
		emit("removed.logId", first(func(e map[string]any) bool { return delP(e, []string{"logId"}) }))
	}
	emit("removed.inclusionProof", first(func(e map[string]any) bool { return delP(e, lay.proof) }))
	if b.Kind == "rest" {
		emit("removed.verification", first(func(e map[string]any) bool { return delP(e, []string{"verification"}) }))
	}

	// --- encodings
	strMut := func(class string, fl field, g func(s string) string) {
		emit(class, first(func(e map[string]any) bool {
			v, ok := getP(e, fl.path)
			s, _ := v.(string)
			if !ok || s == "" {
				return false
			}
			t := g(s)
			return t != s && setP(e, fl.path, t)
		}))
	}
	wrap := func(s string) string {
		var sb strings.Builder
		for i := 0; i < len(s); i += 76 {
			sb.WriteString(s[i:min(len(s), i+76)])
			if i+76 < len(s) {
				sb.WriteString("\n")
			}
		}
		return sb.String()
	}
	strMut("enc.body_b64_wrapped_lf", lay.body, wrap)
	strMut("enc.body_b64_wrapped_crlf", lay.body, func(s string) string { return strings.ReplaceAll(wrap(s), "\n", "\r\n") })
	strMut("enc.body_b64_space", lay.body, func(s string) string { return s[:len(s)/2] + " " + s[len(s)/2:] })
	strMut("enc.body_b64_urlsafe", lay.body, func(s string) string { return strings.NewReplacer("+", "-", "/", "_").Replace(s) })
	strMut("enc.body_b64_unpadded", lay.body, func(s string) string { return strings.TrimRight(s, "=") })
	strMut("enc.set_b64_wrapped_lf", lay.set, func(s string) string { return s[:40] + "\n" + s[40:] })
	strMut("enc.set_b64_unpadded", lay.set, func(s string) string { return strings.TrimRight(s, "=") })
	strMut("enc.root_uppercase_hex", lay.pRoot, func(s string) string {
		if lay.pRoot.enc == encHex {
			return strings.ToUpper(s)
		}
		return s
	})
	strMut("enc.logid_uppercase_hex", lay.logID, func(s string) string {
		if lay.logID.enc == encHex {
			return strings.ToUpper(s)
		}
		return s
	})
	emit("enc.int_type_swapped", first(func(e map[string]any) bool {
		v, ok := getP(e, lay.logIndex.path)
		if !ok {
			return false
		}
		switch x := v.(type) {
		case string:
			return setP(e, lay.logIndex.path, json.Number(x))
		case json.Number:
			return setP(e, lay.logIndex.path, string(x))
		}
		return false
	}))
	emit("enc.int_leading_zero", first(func(e map[string]any) bool {
		v, ok := getP(e, lay.logIndex.path)
		if s, isStr := v.(string); ok && isStr {
			return setP(e, lay.logIndex.path, "0"+s)
		}
		return false
	}))
	emit("enc.unknown_field_in_entry", first(func(e map[string]any) bool { e["extraField"] = "x"; return true }))
	emit("enc.unknown_field_in_proof", first(func(e map[string]any) bool {
		pr, ok := getP(e, lay.proof)
		m, _ := pr.(map[string]any)
		if !ok || m == nil {
			return false
		}
		m["extraField"] = "x"
		return true
	}))

	// --- container level
	if b.Kind == "bundle" {
		for _, mt := range []string{"application/vnd.dev.sigstore.bundle+json;version=0.1", "application/vnd.dev.sigstore.bundle+json;version=0.2",
			"application/vnd.dev.sigstore.bundle.v0.3+json", "application/vnd.dev.sigstore.bundle.v0.4+json", "application/json"} {
			mt := mt
			emit("bundle.media_type_changed", func(doc map[string]any, es []map[string]any) bool {
				if doc["mediaType"] == mt {
					return false
				}
				doc["mediaType"] = mt
				return true
			})
		}
		emit("bundle.entries_empty", func(doc map[string]any, es []map[string]any) bool {
			return setP(doc, []string{"verificationMaterial", "tlogEntries"}, []any{})
		})
		emit("bundle.entries_removed", func(doc map[string]any, es []map[string]any) bool {
			return delP(doc, []string{"verificationMaterial", "tlogEntries"})
		})
		emit("bundle.entry_duplicated", func(doc map[string]any, es []map[string]any) bool {
			if len(es) == 0 {
				return false
			}
			return setP(doc, []string{"verificationMaterial", "tlogEntries"}, []any{es[0], mustDecode(encodeJSON(es[0]))})
		})
		emit("bundle.second_entry_other_log", func(doc map[string]any, es []map[string]any) bool {
			if len(es) == 0 {
				return false
			}
			id, _ := getP(es[0], lay.logID.path)
			for _, l := range sortedKeys(p.byLog["bundle"]) {
				if l != id && len(p.byLog["bundle"][l]) > 0 {
					return setP(doc, []string{"verificationMaterial", "tlogEntries"}, []any{es[0], mustDecode([]byte(p.byLog["bundle"][l][0]))})
				}
			}
			return false
		})
		emit("bundle.second_entry_broken", func(doc map[string]any, es []map[string]any) bool {
			if len(es) == 0 {
				return false
			}
			o := mustDecode(encodeJSON(es[0])).(map[string]any)
			bb, ok := getBytes(o, lay.body)
			if !ok {
				return false
			}
			setBytes(o, lay.body, flip(r, bb))
			return setP(doc, []string{"verificationMaterial", "tlogEntries"}, []any{es[0], o})
		})
	} else if b.Kind == "rest" {
		rekey := func(class string, g func(k string) string) {
			emit(class, func(doc map[string]any, es []map[string]any) bool {
				if len(doc) != 1 {
					return false
				}
				for k, v := range doc {
					nk := g(k)
					if nk == k {
						return false
					}
					delete(doc, k)
					doc[nk] = v
				}
				return true
			})
		}
		rekey("rest.uuid_bitflip", func(k string) string {
			b, _ := hex.DecodeString(k)
			return hex.EncodeToString(flip(r, b))
		})
		rekey("rest.uuid_leaf_flip", func(k string) string {
			b, _ := hex.DecodeString(k)
			b[len(b)-1] ^= 1
			return hex.EncodeToString(b)
		})
		rekey("rest.uuid_without_tree_id", func(k string) string { return k[max(0, len(k)-64):] })
		rekey("rest.uuid_other_tree_id", func(k string) string {
			if len(k) != 80 {
				return "0000000000000001" + k
			}
			return "0000000000000001" + k[16:]
		})
		rekey("rest.uuid_uppercase", strings.ToUpper)
		emit("rest.second_entry_other_log", func(doc map[string]any, es []map[string]any) bool {
			if len(es) == 0 {
				return false
			}
			id, _ := getP(es[0], lay.logID.path)
			for _, l := range sortedKeys(p.byLog["rest"]) {
				if l != id && len(p.byLog["rest"][l]) > 0 {
					doc[strings.Repeat("ab", 32)] = mustDecode([]byte(p.byLog["rest"][l][0]))
					return true
				}
			}
			return false
		})
		emit("rest.empty_object", func(doc map[string]any, es []map[string]any) bool {
			for k := range doc {
				delete(doc, k)
			}
			return true
		})
	}

	// --- random edits anywhere in the entry: a character of a string, or a bit of a decoded byte field
	for i := 0; i < nRandom; i++ {
		emit("random.string_char", first(func(e map[string]any) bool {
			var leaves [][]string
			walkStrings(e, nil, &leaves)
			if len(leaves) == 0 {
				return false
			}
			path := leaves[r.IntN(len(leaves))]
			v, _ := getPathAny(e, path)
			s := []byte(v.(string))
			if len(s) == 0 {
				return false
			}
			j := r.IntN(len(s))
			alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n"
			c := alphabet[r.IntN(len(alphabet))]
			if s[j] == c {
				return false
			}
			s[j] = c
			return setPathAny(e, path, string(s))
		}))
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustDecode(b []byte) any {
	v, _ := decodeJSON(b)
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// path elements: a map key, or "#<i>" for an array index.
func walkStrings(v any, path []string, out *[][]string) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], append(append([]string(nil), path...), k), out)
		}
	case []any:
		for i, y := range x {
			walkStrings(y, append(append([]string(nil), path...), fmt.Sprintf("#%d", i)), out)
		}
	case string:
		*out = append(*out, path)
	case json.Number:
		// numbers are edited as strings of digits too
		*out = append(*out, path)
	}
}

func getPathAny(v any, path []string) (any, bool) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			fmt.Sscanf(p, "#%d", &i)
			v = x[i]
		default:
			return nil, false
		}
	}
	if n, ok := v.(json.Number); ok {
		return string(n), true
	}
	return v, true
}

func setPathAny(v any, path []string, s string) bool {
	parent, _ := getPathAny(v, path[:len(path)-1])
	if len(path) == 1 {
		parent = v
	}
	last := path[len(path)-1]
	switch x := parent.(type) {
	case map[string]any:
		if _, isNum := x[last].(json.Number); isNum {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				x[last] = s // a number edited into a non-number becomes a string
				return true
			}
			x[last] = json.Number(s)
			return true
		}
		x[last] = s
	case []any:
		var i int
		fmt.Sscanf(last, "#%d", &i)
		x[i] = s
	default:
		return false
	}
	return true
}

// ---- trusted-root variants ("keys swapped" at the trust level) -------------------------------------

type rootVariant struct {
	name string
	doc  []byte
}

func rootVariants(merged []byte) []rootVariant {
	var out []rootVariant
	mk := func(name string, g func(tl []any) bool) {
		var m map[string]any
		json.Unmarshal(merged, &m)
		tl, _ := m["tlogs"].([]any)
		if !g(tl) {
			return
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		out = append(out, rootVariant{name, b})
	}
	byURL := func(tl []any, u string) map[string]any {
		for _, t := range tl {
			if jget(t, "baseUrl") == u {
				return t.(map[string]any)
			}
		}
		return nil
	}
	mk("root.v1_keys_swapped_prod_staging", func(tl []any) bool {
		a, b := byURL(tl, "https://rekor.sigstore.dev"), byURL(tl, "https://rekor.sigstage.dev")
		if a == nil || b == nil {
			return false
		}
		a["publicKey"], b["publicKey"] = b["publicKey"], a["publicKey"]
		return true
	})
	mk("root.v2_keys_swapped", func(tl []any) bool {
		a, b := byURL(tl, "https://log2025-alpha1.rekor.sigstage.dev"), byURL(tl, "https://log2025-alpha3.rekor.sigstage.dev")
		if a == nil || b == nil {
			return false
		}
		a["publicKey"], b["publicKey"] = b["publicKey"], a["publicKey"]
		return true
	})
	mk("root.windows_ended_2021", func(tl []any) bool {
		for _, t := range tl {
			pk := t.(map[string]any)["publicKey"].(map[string]any)
			vf, _ := pk["validFor"].(map[string]any)
			if vf == nil {
				continue
			}
			vf["start"] = "2020-01-01T00:00:00Z"
			vf["end"] = "2021-06-01T00:00:00Z"
		}
		return true
	})
	mk("root.windows_start_2099", func(tl []any) bool {
		for _, t := range tl {
			pk := t.(map[string]any)["publicKey"].(map[string]any)
			vf, _ := pk["validFor"].(map[string]any)
			if vf == nil {
				continue
			}
			vf["start"] = "2099-01-01T00:00:00Z"
			delete(vf, "end")
		}
		return true
	})
	mk("root.baseurl_hosts_changed", func(tl []any) bool {
		for _, t := range tl {
			m := t.(map[string]any)
			u, _ := m["baseUrl"].(string)
			m["baseUrl"] = strings.Replace(u, "://", "://mirror.", 1)
		}
		return true
	})
	return out
}
