package main

// exported: the bundles rekor_export_bundle wrote (tests/client/tests/bundles.rs leaves each in
// target/exported-bundles/<case>/bundle.sigstore.json with the trusted_root.json it verifies under)
// verified offline by sigstore-go v1.3.0, without the database: the transparency-log part with
// verify.VerifyTlogEntry on the whole bundle (SET or checkpoint signature, inclusion proof, the entry
// bound to the bundle's signature content, the log key valid at the entry's time; for a public-key
// bundle, whose key is only hinted at, the tlog part as sgVerifyBundle checks it), and every RFC 3161
// timestamp with verify.VerifySignedTimestampWithThreshold (threshold: all of them).

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

func cmdExported(args []string) (int, error) {
	fs := flag.NewFlagSet("exported", flag.ExitOnError)
	dir := fs.String("dir", "target/exported-bundles", "one folder per case: bundle.sigstore.json, trusted_root.json")
	min := fs.Int("min", 1, "fail when fewer cases are found")
	fs.Parse(args)
	cases, err := filepath.Glob(filepath.Join(*dir, "*", "bundle.sigstore.json"))
	if err != nil {
		return 2, err
	}
	sort.Strings(cases)
	passed, failed, timestamps := 0, 0, 0
	for _, f := range cases {
		name := filepath.Base(filepath.Dir(f))
		reason, n := verifyExported(f, filepath.Join(filepath.Dir(f), "trusted_root.json"))
		timestamps += n
		if reason == "" {
			passed++
			fmt.Printf("exported %s: sigstore-go accepts (tlog entry, %d RFC 3161 timestamp(s))\n", name, n)
		} else {
			failed++
			fmt.Printf("exported %s: sigstore-go REJECTS: %s\n", name, reason)
		}
	}
	if len(cases) < *min {
		failed++
		fmt.Printf("exported: %d cases under %s, expected at least %d (run tests/client/tests/bundles.rs first)\n", len(cases), *dir, *min)
	}
	word := "ok"
	if failed > 0 {
		word = "FAILED"
	}
	fmt.Printf("exported: %d bundles verified by sigstore-go (%d RFC 3161 timestamps), %d rejected\n", passed, timestamps, failed)
	fmt.Printf("test result: %s. %d passed; %d failed; 0 ignored; 0 measured; 0 filtered out; finished in 0s (sigstore-go on exported bundles)\n", word, passed, failed)
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

// verifyExported: "" when sigstore-go accepts the bundle's tlog entry and all its timestamps.
func verifyExported(bundleFile, rootFile string) (reason string, timestamps int) {
	defer func() {
		if r := recover(); r != nil {
			reason = fmt.Sprintf("sigstore-go panic: %v", r)
		}
	}()
	rd, err := os.ReadFile(rootFile)
	if err != nil {
		return err.Error(), 0
	}
	tr, err := root.NewTrustedRootFromJSON(rd)
	if err != nil {
		return "trusted root: " + err.Error(), 0
	}
	doc, err := os.ReadFile(bundleFile)
	if err != nil {
		return err.Error(), 0
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(doc); err != nil {
		return "bundle: " + err.Error(), 0
	}
	if b.GetVerificationMaterial().GetPublicKey() != nil {
		// A public-key bundle names its key by a hint only (the key travels out of band, cosign
		// --key): VerifyTlogEntry cannot bind the entry to it, so the tlog part alone, as the
		// differential test checks it (sgVerifyBundle: sigstore-go's own functions).
		if v := sgVerifyBundle(doc, tr); !v.Accept {
			return "tlog part: " + v.Reason, 0
		}
	} else if _, err := verify.VerifyTlogEntry(&b, tr, 1, true); err != nil {
		return "VerifyTlogEntry: " + err.Error(), 0
	}
	if _, err := b.VerificationContent(); err != nil {
		return "verification content: " + err.Error(), 0
	}
	ts, err := b.Timestamps()
	if err != nil {
		return "timestamps: " + err.Error(), 0
	}
	if len(ts) > 0 {
		if _, err := verify.VerifySignedTimestampWithThreshold(&b, tr, len(ts)); err != nil {
			return "VerifySignedTimestampWithThreshold: " + err.Error(), len(ts)
		}
	}
	return "", len(ts)
}
