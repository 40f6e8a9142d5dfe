package main

// sigstore-conformance bundle-verify cases through rekor_ingest_bundle. Each case's own trusted root
// (trusted_root.json beside the bundle) or, as the conformance suite does, the production one.

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// What the transparency-log part of each case should give (the suite's expectation is for the whole
// bundle). "fail" only where the case's README puts the failure in the log entry, its proof,
// checkpoint, SET, log-key trust, or the bundle's parse/shape; everything else is "pass" here because
// a signature, certificate, TSA or artifact problem is outside what rekor_ingest_bundle verifies.
var tlogExpectFail = map[string]string{
	"bundle-from-wrong-instance_fail":              "entry from the staging log, production trust root",
	"bundle-malformed-json_fail":                   "not JSON",
	"bundle-negative-log-index_fail":               "negative logIndex",
	"bundle-unknown-version_fail":                  "unknown bundle media type",
	"checkpoint-bad-keyhint_fail":                  "checkpoint not signed by the entry's log",
	"checkpoint-wrong-roothash_fail":               "checkpoint root differs from the proof",
	"inclusion-proof-corrupted-hash_fail":          "bit flip in a proof hash",
	"invalid-checkpoint-signature_fail":            "checkpoint signature invalid",
	"invalid-inclusion-proof_fail":                 "inclusion proof invalid",
	"intoto-missing-inclusion-proof_fail":          "v0.2 bundle without inclusion proof",
	"rekor2-checkpoint-missing-log-signature_fail": "no log signature on the checkpoint",
	"rekor2-checkpoint-missing-origin_fail":        "checkpoint without origin",
	"rekor2-checkpoint-missing-root-hash_fail":     "checkpoint without root hash",
	"rekor2-checkpoint-missing-size_fail":          "checkpoint without size",
	"rekor2-checkpoint-no-matching-signature_fail": "no checkpoint signature by the log",
	"rekor2-no-inclusion-proof_fail":               "Rekor v2 entry without inclusion proof",
	"set-invalid-signature_fail":                   "SET signature invalid",
	"trust-root-tlog-missing-validity-start_fail":  "trust root: tlog validFor without start",
	// cases that fail elsewhere but whose log part is not verifiable either
	"bundle-empty-certificate-chain_fail":  "also: v1 inclusion proof without checkpoint",
	"bundle-with-root-cert_fail":           "also: v1 inclusion proof without checkpoint",
	"bundle-invalid-base64-signature_fail": "also: body altered, the proof no longer leads to the root",
	"incorrect-public-key_fail":            "also: body altered, the proof no longer leads to the root",
	// cases whose bundle material rekor_meta verifies at ingest (0.4.0, issue 14): the RFC 3161
	// timestamp (check 6), and the DSSE envelope and verifier it stores for export (check 5)
	"dsse-invalid-sig_fail":                                     "check 5: the envelope's signature is not the one the body logs",
	"dsse-mismatch-envelope_fail":                               "check 5: the envelope is not the one the body logs",
	"dsse-mismatch-sig_fail":                                    "check 5: the envelope's signature is not the one the body logs",
	"intoto-log-entry-mismatch_fail":                            "check 5: the envelope is not the one the body logs",
	"rekor2-dsse-invalid-sig_fail":                              "check 6: the timestamp's imprint is not over the logged signature",
	"rekor2-dsse-mismatch-envelope_fail":                        "check 5/6: the envelope or its timestamp is not the logged one",
	"rekor2-dsse-mismatch-sig_fail":                             "check 5/6: the signature or its timestamp is not the logged one",
	"rekor2-timestamp-outside-trust-root-tsa-validity_fail":     "check 6: genTime outside the TSA's validFor",
	"rekor2-timestamp-outside-tsa-cert-validity_fail":           "check 6: genTime outside the TSA certificate's validity",
	"rekor2-timestamp-payload-mismatch_fail":                    "check 6: imprint",
	"rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail":    "check 6: untrusted TSA",
	"rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": "check 6: untrusted TSA",
	"wrong-hashedrekord-cert-and-sig_fail":                      "check 5: the certificate is not the one the body records",
	"wrong-hashedrekord-entry_fail":                             "check 5: the certificate is not the one the body records",
}

func cmdConformance(args []string) (int, error) {
	fs := flag.NewFlagSet("conformance", flag.ExitOnError)
	var c common
	c.flags(fs)
	dir := fs.String("dir", "tests/fixtures/conformance/bundle-verify", "bundle-verify cases")
	dbName := fs.String("db", "rekor_conformance", "database name prefix")
	strict := fs.Bool("strict", false, "exit 1 when rekor_meta's tlog verdict differs from the expected tlog verdict")
	fs.Parse(args)
	c.init()
	if c.dsn == "" {
		return 2, fmt.Errorf("no -dsn / REKOR_TEST_DSN")
	}
	ctx := context.Background()
	defRoot := c.abs("tests/fixtures/trusted_root/production.trusted_root.json")
	ents, err := os.ReadDir(c.abs(*dir))
	if err != nil {
		return 2, err
	}
	type row struct {
		name, rootFile, expect, tlogExpect, why string
		rm, sg, sgFull                          Verdict
		rootNote                                string
	}
	var rows []*row
	byRoot := map[string][]*row{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(c.abs(*dir), e.Name())
		if _, err := os.Stat(filepath.Join(d, "bundle.sigstore.json")); err != nil {
			continue
		}
		r := &row{name: e.Name(), rootFile: defRoot, expect: "pass", tlogExpect: "pass"}
		if strings.HasSuffix(e.Name(), "_fail") {
			r.expect = "fail"
		}
		if why, ok := tlogExpectFail[e.Name()]; ok {
			r.tlogExpect, r.why = "fail", why
		}
		if _, err := os.Stat(filepath.Join(d, "trusted_root.json")); err == nil {
			r.rootFile = filepath.Join(d, "trusted_root.json")
		}
		rows = append(rows, r)
		byRoot[r.rootFile] = append(byRoot[r.rootFile], r)
	}
	target := pgTarget{adminDSN: c.dsn}
	// one database per distinct trusted root
	bySum := map[[32]byte]string{}
	n := 0
	for _, rf := range sortedKeys(byRoot) {
		rd, err := os.ReadFile(rf)
		if err != nil {
			return 2, err
		}
		sum := sha256.Sum256(rd)
		tr, trErr := root.NewTrustedRootFromJSON(rd)
		var conn *pgx.Conn
		var rootNote string
		if db, ok := bySum[sum]; ok {
			conn, err = pgx.Connect(ctx, target.dsn(db))
			if err != nil {
				return 2, err
			}
		} else {
			n++
			var db string
			conn, db, err = target.createDB(ctx, fmt.Sprintf("%s_%d", *dbName, n))
			if err != nil {
				return 2, err
			}
			notes, err := loadRoot(ctx, conn, rd)
			if err != nil {
				rootNote = "trust root refused: " + err.Error()
			}
			for _, nt := range notes {
				if strings.Contains(nt, "FAILED") {
					rootNote += nt + "; "
				}
			}
			bySum[sum] = db
		}
		var cases []Case
		for _, r := range byRoot[rf] {
			doc, _ := os.ReadFile(filepath.Join(c.abs(*dir), r.name, "bundle.sigstore.json"))
			cases = append(cases, Case{ID: r.name, Kind: "bundle", Doc: doc})
			r.rootNote = rootNote
			if trErr != nil {
				r.sg = rej("trusted root: %v", trErr)
				r.sgFull = r.sg
			} else {
				r.sg = sgVerifyBundle(doc, tr)
				r.sgFull = sgVerifyBundleFull(doc, tr)
			}
		}
		vs, err := runPG(ctx, conn, cases, nil)
		conn.Close(ctx)
		if err != nil {
			return 2, err
		}
		for i, r := range byRoot[rf] {
			r.rm = rmNorm(vs[i])
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	pf := func(v Verdict) string {
		if v.Accept {
			return "pass"
		}
		return "fail"
	}
	fmt.Printf("sigstore-conformance bundle-verify through rekor_ingest_bundle (sigstore-go %s)\n", sigstoreGoVersion())
	fmt.Printf("expected = the suite's verdict for the whole bundle; tlog = the expected verdict of its transparency-log part\n")
	fmt.Printf("rekor_meta = rekor_ingest_bundle; sg-tlog = sigstore-go tlog part; sg-full = sigstore-go verify.VerifyTlogEntry\n\n")
	fmt.Printf("%-58s %-8s %-5s %-10s %-7s %-7s %s\n", "case", "expected", "tlog", "rekor_meta", "sg-tlog", "sg-full", "")
	bad, badSG := 0, 0
	for _, r := range rows {
		mark := ""
		if pf(r.rm) != r.tlogExpect {
			mark = "<-- rekor_meta differs from tlog expectation"
			bad++
		}
		if pf(r.sg) != r.tlogExpect {
			badSG++
			if mark == "" {
				mark = "<-- sigstore-go tlog differs"
			} else {
				mark += "; sigstore-go too"
			}
		}
		fmt.Printf("%-58s %-8s %-5s %-10s %-7s %-7s %s\n", r.name, r.expect, r.tlogExpect, pf(r.rm), pf(r.sg), pf(r.sgFull), mark)
	}
	fmt.Printf("\nreasons:\n")
	for _, r := range rows {
		if !r.rm.Accept || pf(r.rm) != r.tlogExpect || r.rootNote != "" {
			fmt.Printf("  %s:\n", r.name)
			if r.why != "" {
				fmt.Printf("      tlog expectation: fail (%s)\n", r.why)
			}
			fmt.Printf("      rekor_meta:  %s\n", short(reasonOrAccept(r.rm), 260))
			fmt.Printf("      sigstore-go: %s\n", short(reasonOrAccept(r.sg), 260))
			if r.rootNote != "" {
				fmt.Printf("      trust root: %s\n", short(r.rootNote, 260))
			}
		}
	}
	fmt.Printf("\nconformance: %d cases; rekor_meta matches the tlog expectation on %d, differs on %d; sigstore-go tlog part differs on %d\n",
		len(rows), len(rows)-bad, bad, badSG)
	if *strict && bad > 0 {
		return 1, nil
	}
	return 0, nil
}
