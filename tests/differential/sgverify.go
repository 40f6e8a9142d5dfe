package main

// The reference side: the transparency-log part of a bundle (or a Rekor v1 REST response) verified with
// sigstore-go's own exported functions, in the order and with the semantics of
// sigstore-go/pkg/verify.VerifyTlogEntry (v1.3.0, pkg/verify/tlog.go), minus the parts that compare the
// entry with the bundle's signed content (signature, key, digest, certificate validity), which are not
// the transparency-log part and which rekor_ingest_bundle does not claim to check.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	v1 "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	rekortle "github.com/sigstore/rekor/pkg/tle"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// Verdict of one side for one case.
type Verdict struct {
	Accept bool   `json:"accept"`
	Reason string `json:"reason,omitempty"` // reject reason (sigstore-go error text, or SQLSTATE + message)
	Rows   int64  `json:"rows,omitempty"`
	// sigstore-go only: entries skipped as sigstore-go skips them (unknown log, failed SET)
	Skipped []string `json:"skipped,omitempty"`
}

func rej(format string, a ...any) Verdict {
	return Verdict{Accept: false, Reason: fmt.Sprintf(format, a...)}
}

// sgVerifyBundle: the tlog part of a bundle.
func sgVerifyBundle(doc []byte, tr *root.TrustedRoot) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = rej("sigstore-go panic: %v", r)
		}
	}()
	var b bundle.Bundle
	if err := b.UnmarshalJSON(tlogOnly(doc)); err != nil {
		// bundle.UnmarshalJSON = protojson.Unmarshal + validate(): media type, content present, every
		// tlog entry parsed by tlog.ParseTransparencyLogEntry, v0.1 needs a promise, v0.2+ a proof.
		return rej("bundle: %v", err)
	}
	entries, err := b.TlogEntries()
	if err != nil {
		return rej("bundle tlog entries: %v", err)
	}
	return sgVerifyEntries(entries, tr)
}

// sgVerifyBundleFull: sigstore-go's own verify.VerifyTlogEntry on the whole bundle (threshold 1), which
// also binds the entry to the bundle's signature content. Informational.
func sgVerifyBundleFull(doc []byte, tr *root.TrustedRoot) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = rej("sigstore-go panic: %v", r)
		}
	}()
	var b bundle.Bundle
	if err := b.UnmarshalJSON(doc); err != nil {
		return rej("bundle: %v", err)
	}
	if _, err := verify.VerifyTlogEntry(&b, tr, 1, true); err != nil {
		return rej("VerifyTlogEntry: %v", err)
	}
	return Verdict{Accept: true}
}

// sgVerifyREST: a Rekor v1 REST response {uuid: LogEntryAnon}, validated with Rekor's generated
// OpenAPI model (as the Rekor Go client does) and converted with Rekor's own
// tle.GenerateTransparencyLogEntry (what cosign uses to put a REST answer into a bundle).
func sgVerifyREST(doc []byte, tr *root.TrustedRoot) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = rej("sigstore-go/rekor panic: %v", r)
		}
	}()
	var le models.LogEntry
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&le); err != nil {
		return rej("rest: decode: %v", err)
	}
	if len(le) == 0 {
		return rej("rest: no entries")
	}
	if err := le.Validate(strfmt.Default); err != nil {
		return rej("rest: openapi validate: %v", err)
	}
	var entries []*tlog.Entry
	for uuid, anon := range le {
		_ = uuid
		var pb *v1.TransparencyLogEntry
		var err error
		if anon.Verification != nil && anon.Verification.InclusionProof != nil {
			pb, err = rekortle.GenerateTransparencyLogEntry(anon)
		} else {
			pb, err = tleWithoutProof(anon)
		}
		if err != nil {
			return rej("rest: to TransparencyLogEntry: %v", err)
		}
		e, err := tlog.ParseTransparencyLogEntry(pb)
		if err != nil {
			return rej("rest: ParseTransparencyLogEntry: %v", err)
		}
		entries = append(entries, e)
	}
	return sgVerifyEntries(entries, tr)
}

// sgVerifyREST2: a Rekor v2 REST answer, one protobuf-JSON TransparencyLogEntry, parsed with protojson
// (as rekor-tiles' client does) and tlog.ParseTransparencyLogEntry.
func sgVerifyREST2(doc []byte, tr *root.TrustedRoot) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = rej("sigstore-go panic: %v", r)
		}
	}()
	var pb v1.TransparencyLogEntry
	if err := protojson.Unmarshal(doc, &pb); err != nil {
		return rej("rest2: protojson: %v", err)
	}
	e, err := tlog.ParseTransparencyLogEntry(&pb)
	if err != nil {
		return rej("rest2: ParseTransparencyLogEntry: %v", err)
	}
	return sgVerifyEntries([]*tlog.Entry{e}, tr)
}

// tleWithoutProof: the same conversion as rekor's tle.GenerateTransparencyLogEntry, for an answer
// without an inclusion proof (which that function dereferences unconditionally).
func tleWithoutProof(anon models.LogEntryAnon) (*v1.TransparencyLogEntry, error) {
	if anon.LogID == nil || anon.IntegratedTime == nil || anon.LogIndex == nil {
		return nil, errors.New("missing logID, integratedTime or logIndex")
	}
	logID, err := hex.DecodeString(*anon.LogID)
	if err != nil {
		return nil, fmt.Errorf("decoding logID string: %w", err)
	}
	s, ok := anon.Body.(string)
	if !ok {
		return nil, fmt.Errorf("body is not string: %T", anon.Body)
	}
	body, err := b64std(s)
	if err != nil {
		return nil, fmt.Errorf("base64 decoding body: %w", err)
	}
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtime.JSONConsumer())
	if err != nil {
		return nil, err
	}
	eimpl, err := types.UnmarshalEntry(pe)
	if err != nil {
		return nil, err
	}
	kind, version := pe.Kind(), eimpl.APIVersion()
	pb := &v1.TransparencyLogEntry{
		LogIndex:          *anon.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &v1.KindVersion{Kind: kind, Version: version},
		IntegratedTime:    *anon.IntegratedTime,
		CanonicalizedBody: body,
	}
	if anon.Verification != nil {
		pb.InclusionPromise = &v1.InclusionPromise{SignedEntryTimestamp: anon.Verification.SignedEntryTimestamp}
	}
	return pb, nil
}

var treeIDSuffixRegex = regexp.MustCompile(".* - [0-9]+$") // sigstore-go pkg/verify/tlog.go

func hasRekorV1STH(entry *tlog.Entry) bool { // sigstore-go pkg/verify/tlog.go (unexported there)
	tle := entry.TransparencyLogEntry()
	lines := strings.Split(tle.GetInclusionProof().GetCheckpoint().GetEnvelope(), "\n")
	if len(lines) < 4 {
		return false
	}
	return treeIDSuffixRegex.MatchString(lines[0])
}

// sgVerifyEntries: the loop of verify.VerifyTlogEntry with logThreshold = 1, for the log part only.
func sgVerifyEntries(entries []*tlog.Entry, tr *root.TrustedRoot) Verdict {
	if len(entries) == 0 {
		return rej("no tlog entries")
	}
	for i := range entries {
		for j := i + 1; j < len(entries); j++ {
			if entries[i].LogKeyID() == entries[j].LogKeyID() && entries[i].LogIndex() == entries[j].LogIndex() {
				return rej("duplicate tlog entries found")
			}
		}
	}
	rekorLogs := tr.RekorLogs()
	verified := 0
	var skipped []string
	for n, entry := range entries {
		if err := tlog.ValidateEntry(entry); err != nil {
			return rej("entry %d: ValidateEntry: %v", n, err)
		}
		hexKey := hex.EncodeToString([]byte(entry.LogKeyID()))
		tl, ok := rekorLogs[hexKey]
		if !ok {
			skipped = append(skipped, fmt.Sprintf("entry %d: log %s not in the trusted root", n, hexKey))
			continue
		}
		if !entry.HasInclusionPromise() && !entry.HasInclusionProof() {
			return rej("entry %d: entry must contain an inclusion proof and/or promise", n)
		}
		if entry.IsRekorV2() && !entry.HasInclusionProof() {
			return rej("entry %d: rekor v2 entries must have an inclusion proof", n)
		}
		if entry.HasInclusionPromise() {
			if err := tlog.VerifySET(entry, rekorLogs); err != nil {
				skipped = append(skipped, fmt.Sprintf("entry %d: SET: %v", n, err))
				continue
			}
		}
		if entry.HasInclusionProof() {
			verifier, err := signature.LoadVerifier(tl.PublicKey, tl.SignatureHashFunc)
			if err != nil {
				return rej("entry %d: log key: %v", n, err)
			}
			if hasRekorV1STH(entry) {
				if err := tlog.VerifyInclusion(entry, verifier); err != nil {
					return rej("entry %d: VerifyInclusion (v1): %v", n, err)
				}
			} else {
				if tl.BaseURL == "" {
					return rej("entry %d: cannot verify Rekor v2 entry without baseUrl", n)
				}
				u, err := url.Parse(tl.BaseURL)
				if err != nil {
					return rej("entry %d: baseUrl: %v", n, err)
				}
				if err := tlog.VerifyCheckpointAndInclusion(entry, verifier, u.Hostname()); err != nil {
					return rej("entry %d: VerifyCheckpointAndInclusion (v2): %v", n, err)
				}
			}
		}
		verified++
	}
	if verified < 1 {
		return Verdict{Accept: false, Reason: "not enough verified log entries: " + strings.Join(skipped, "; "), Skipped: skipped}
	}
	return Verdict{Accept: true, Skipped: skipped}
}

// tlogOnly keeps what the transparency-log part is made of: mediaType and
// verificationMaterial.tlogEntries, the signed content and key material replaced by a fixed
// placeholder, so that a problem outside the log part (a bad certificate, an invalid base64 TSA
// token, a missing envelope) does not decide the log part's verdict. A document that is not a JSON
// object goes through unchanged.
func tlogOnly(doc []byte) []byte {
	v, err := decodeJSON(doc)
	if err != nil {
		return doc
	}
	m, ok := v.(map[string]any)
	if !ok {
		return doc
	}
	out := map[string]any{
		"messageSignature": map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
			"signature":     "AA==",
		},
	}
	if mt, ok := m["mediaType"]; ok {
		out["mediaType"] = mt
	}
	vm := map[string]any{"publicKey": map[string]any{"hint": "placeholder"}}
	if x, ok := m["verificationMaterial"].(map[string]any); ok {
		if te, ok := x["tlogEntries"]; ok {
			vm["tlogEntries"] = te
		}
	} else if x, ok := m["verificationMaterial"]; ok {
		vm = nil
		out["verificationMaterial"] = x
	}
	if vm != nil {
		out["verificationMaterial"] = vm
	}
	return encodeJSON(out)
}
