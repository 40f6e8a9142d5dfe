// Command rekor-differential: rekor_meta against sigstore-go on the transparency-log part of Sigstore
// bundles and Rekor REST responses: real fixtures, their seeded mutations, trust-root variants, and
// the sigstore-conformance bundle-verify cases.
//
//	rekor-differential diff        [flags]   differential run, table, exit 1 on a disagreement not allowed
//	rekor-differential conformance [flags]   the bundle-verify cases through rekor_ingest_bundle
//	rekor-differential gen         [flags]   write the generated cases as JSON lines (no database)
//	rekor-differential verify -root R FILE   sigstore-go's verdict on one bundle / REST response
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sigstore/sigstore-go/pkg/root"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rekor-differential diff|conformance|gen|verify|exported [flags]")
		os.Exit(2)
	}
	var err error
	code := 0
	switch os.Args[1] {
	case "diff":
		code, err = cmdDiff(os.Args[2:])
	case "conformance":
		code, err = cmdConformance(os.Args[2:])
	case "gen":
		code, err = cmdGen(os.Args[2:])
	case "verify":
		code, err = cmdVerify(os.Args[2:])
	case "exported":
		code, err = cmdExported(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rekor-differential:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

func sigstoreGoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/sigstore/sigstore-go" {
				return d.Version
			}
		}
	}
	return "unknown"
}

type common struct {
	repo, dsn, out string
	seed           uint64
	nRandom        int
	roots, inputs  string
	maxCases       int
}

func (c *common) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.repo, "repo", ".", "repository root")
	fs.StringVar(&c.dsn, "dsn", os.Getenv("REKOR_TEST_DSN"), "libpq key=value DSN of the cluster without dbname (host=DIR port=PORT user=postgres)")
	fs.StringVar(&c.out, "out", "target/differential", "output folder (relative to -repo)")
	fs.Uint64Var(&c.seed, "seed", 20261203, "mutation seed")
	fs.IntVar(&c.nRandom, "random", 20, "random string edits per base case")
	fs.StringVar(&c.roots, "roots", "", "colon-separated trusted_root.json files to merge (default: production, staging, the conformance and sigstore-go test roots)")
	fs.StringVar(&c.inputs, "inputs", "", "colon-separated extra files/folders of bundles and REST responses (cosign bundles from a local Rekor)")
	fs.IntVar(&c.maxCases, "max", 0, "only the first N cases (0: all)")
}

func (c *common) init() {
	if a, err := filepath.Abs(c.repo); err == nil {
		c.repo = a
	}
	repoRoot = c.repo
}

func (c *common) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.repo, p)
}

func (c *common) rootFiles() []string {
	if c.roots != "" {
		return splitList(c.roots)
	}
	files := []string{c.abs("tests/fixtures/trusted_root/production.trusted_root.json"), c.abs("tests/fixtures/trusted_root/staging.trusted_root.json")}
	// test logs that real fixture entries come from; the edited "trust-root-*" roots are left out
	ds, _ := filepath.Glob(c.abs("tests/fixtures/conformance/bundle-verify/*/trusted_root.json"))
	sort.Strings(ds)
	for _, d := range ds {
		if !strings.Contains(d, "/trust-root-") {
			files = append(files, d)
		}
	}
	files = append(files, c.abs("tests/fixtures/conformance/sigstore-go/trusted-roots__scaffolding.json"))
	if extra := os.Getenv("DIFF_EXTRA_ROOTS"); extra != "" {
		files = append(files, splitList(extra)...)
	}
	return files
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ":") {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// buildCases: bases (real files + synthesized), then mutations.
func (c *common) buildCases(trustedLogIDs []string) ([]Case, []Case, error) {
	paths := []string{c.abs("tests/fixtures/upstream"), c.abs("tests/fixtures/conformance"), "/work/shared/fixtures/upstream"}
	paths = append(paths, splitList(c.inputs)...)
	bases, err := loadBases(paths)
	if err != nil {
		return nil, nil, err
	}
	syn, err := synthesize(c.abs("tests/fixtures/rekor_entries.json"))
	if err != nil {
		return nil, nil, err
	}
	bases = append(bases, syn...)
	p := newPool(bases, trustedLogIDs)
	var all []Case
	for _, b := range bases {
		all = append(all, b)
		all = append(all, mutations(b, p, c.seed, c.nRandom)...)
	}
	if c.maxCases > 0 && len(all) > c.maxCases {
		all = all[:c.maxCases]
	}
	return bases, all, nil
}

func trustedLogIDs(rootDoc []byte) []string {
	var m struct {
		Tlogs []struct {
			LogID struct {
				KeyID string `json:"keyId"`
			} `json:"logId"`
		} `json:"tlogs"`
	}
	json.Unmarshal(rootDoc, &m)
	var out []string
	for _, t := range m.Tlogs {
		out = append(out, t.LogID.KeyID)
	}
	return out
}

func sgVerdict(cs Case, tr *root.TrustedRoot) Verdict {
	switch cs.Kind {
	case "rest":
		return sgVerifyREST(cs.Doc, tr)
	case "rest2":
		return sgVerifyREST2(cs.Doc, tr)
	}
	return sgVerifyBundle(cs.Doc, tr)
}

func sgAll(cases []Case, tr map[string]*root.TrustedRoot) []Verdict {
	out := make([]Verdict, len(cases))
	var wg sync.WaitGroup
	workers := 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cases); i += workers {
				out[i] = sgVerdict(cases[i], tr[cases[i].Root])
			}
		}(w)
	}
	wg.Wait()
	return out
}

func rmNorm(v Verdict) Verdict {
	if v.Accept && v.Rows == 0 {
		return Verdict{Accept: false, Reason: "no rows returned"}
	}
	return v
}

func word(v Verdict) string {
	if v.Accept {
		return "accept"
	}
	return "reject"
}

type result struct {
	Case
	Log  string  `json:"log,omitempty"` // v1 / v2: the Rekor version of the case's base
	RM   Verdict `json:"rekor_meta"`
	SG   Verdict `json:"sigstore_go"`
	Rule string  `json:"deliberate,omitempty"` // the deliberate.txt rule a disagreement matched
}

func cmdDiff(args []string) (int, error) {
	fs := flag.NewFlagSet("diff", flag.ExitOnError)
	var c common
	c.flags(fs)
	allowFile := fs.String("allow", "tests/differential/deliberate.txt", "allow-list of deliberate disagreements")
	dbName := fs.String("db", "rekor_differential", "database name prefix (dropped and created)")
	noVariants := fs.Bool("no-root-variants", false, "skip the trust-root variants")
	fs.Parse(args)
	c.init()
	if c.dsn == "" {
		return 2, fmt.Errorf("no -dsn / REKOR_TEST_DSN")
	}
	t0 := time.Now()
	ctx := context.Background()
	outDir := c.abs(c.out)
	os.MkdirAll(outDir, 0o755)

	merged, rootNotes, err := mergeRoots(c.rootFiles())
	if err != nil {
		return 2, err
	}
	os.WriteFile(filepath.Join(outDir, "merged_trusted_root.json"), merged, 0o644)
	trMerged, err := root.NewTrustedRootFromJSON(merged)
	if err != nil {
		return 2, fmt.Errorf("sigstore-go cannot load the merged trusted root: %w", err)
	}
	bases, cases, err := c.buildCases(trustedLogIDs(merged))
	if err != nil {
		return 2, err
	}
	roots := map[string]*root.TrustedRoot{"": trMerged}
	rootDocs := map[string][]byte{"": merged}
	if !*noVariants {
		for _, v := range rootVariants(merged) {
			tr, err := root.NewTrustedRootFromJSON(v.doc)
			if err != nil {
				fmt.Printf("trust-root variant %s: sigstore-go cannot load it (%v); skipped\n", v.name, err)
				continue
			}
			roots[v.name] = tr
			rootDocs[v.name] = v.doc
			for _, b := range bases {
				cases = append(cases, Case{ID: b.Base + "#" + v.name, Base: b.Base, Kind: b.Kind, Class: v.name, Doc: b.Doc, Root: v.name})
			}
		}
	}
	nBundle, nREST := 0, 0
	for _, b := range bases {
		if b.Kind != "bundle" {
			nREST++
		} else {
			nBundle++
		}
	}
	fmt.Printf("sigstore-go %s; %d base cases (%d bundles, %d REST responses), %d cases in all (seed %d)\n",
		sigstoreGoVersion(), len(bases), nBundle, nREST, len(cases), c.seed)
	fmt.Println("merged trusted root (tests/fixtures/trusted_root + conformance test logs):")
	for _, n := range rootNotes {
		fmt.Println("  ", n)
	}

	tsg := time.Now()
	sg := sgAll(cases, roots)
	dsg := time.Since(tsg)

	// rekor_meta: one database per trusted root, cases of that root on 2 connections.
	tpg := time.Now()
	rm := make([]Verdict, len(cases))
	target := pgTarget{adminDSN: c.dsn}
	for _, rname := range sortedKeys(rootDocs) {
		var idx []int
		for i, cs := range cases {
			if cs.Root == rname {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		db := *dbName
		if rname != "" {
			db += "_" + strings.TrimPrefix(rname, "root.")
		}
		conn, dbn, err := target.createDB(ctx, db)
		if err != nil {
			return 2, err
		}
		notes, err := loadRoot(ctx, conn, rootDocs[rname])
		if err != nil {
			if rname == "" {
				return 2, err
			}
			// a trust-root variant rekor_meta refuses to import: every case of it is a reject
			fmt.Printf("  [%s] trust root refused: %v\n", rname, err)
			why := "XXXXX trust root refused: " + err.Error()
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				why = pe.Code + " trust root refused: " + pe.Message
				if pe.Detail != "" {
					why += " | " + pe.Detail
				}
			}
			for _, i := range idx {
				rm[i] = Verdict{Accept: false, Reason: why}
			}
			conn.Close(ctx)
			continue
		}
		label := rname
		if label == "" {
			label = "merged"
		}
		for _, n := range notes {
			if rname == "" || strings.Contains(n, "FAILED") || strings.Contains(n, "import") {
				fmt.Printf("  [%s] %s\n", label, n)
			}
		}
		conns := []*pgx.Conn{conn}
		if len(idx) > 1000 {
			c2, err := pgx.Connect(ctx, target.dsn(dbn))
			if err != nil {
				return 2, err
			}
			conns = append(conns, c2)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for w, cn := range conns {
			var sub []Case
			var subIdx []int
			for k := w; k < len(idx); k += len(conns) {
				sub = append(sub, cases[idx[k]])
				subIdx = append(subIdx, idx[k])
			}
			wg.Add(1)
			go func(cn *pgx.Conn, sub []Case, subIdx []int) {
				defer wg.Done()
				vs, err := runPG(ctx, cn, sub, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for k, v := range vs {
					rm[subIdx[k]] = rmNorm(v)
				}
			}(cn, sub, subIdx)
		}
		wg.Wait()
		for _, cn := range conns {
			cn.Close(ctx)
		}
		if firstErr != nil {
			return 2, firstErr
		}
	}
	dpg := time.Since(tpg)

	// results, each disagreement with the deliberate rule it matches
	allow, err := loadAllow(c.abs(*allowFile))
	if err != nil {
		return 2, err
	}
	logOf := map[string]string{}
	for _, b := range bases {
		logOf[b.Base] = logVersion(b.Kind, b.Doc)
	}
	res := make([]result, len(cases))
	jf, _ := os.Create(filepath.Join(outDir, "results.jsonl"))
	for i := range cases {
		res[i] = result{Case: cases[i], Log: logOf[cases[i].Base], RM: rm[i], SG: sg[i]}
		res[i].Rule = matchRules(&res[i], allow)
		b, _ := json.Marshal(struct {
			result
			DocSHA256 string `json:"doc_sha256"`
		}{res[i], shaHex(cases[i].Doc)})
		jf.Write(append(b, '\n'))
	}
	jf.Close()
	// mutated documents of disagreements, to reproduce one by hand
	code, passed, failed := report(os.Stdout, res, allow, outDir)
	fmt.Printf("\ntimes: sigstore-go %.1fs, rekor_meta %.1fs, total %.1fs; results in %s/results.jsonl\n",
		dsg.Seconds(), dpg.Seconds(), time.Since(t0).Seconds(), relName(outDir))
	fmt.Printf("differential: %d passed, %d failed\n", passed, failed)
	return code, nil
}

func shaHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

type groupKey struct{ rm, sg, class string }

// matchRules: the id of the one rule a disagreement matches; "" when none does (unexplained),
// "A+B" when several do (ambiguous). Agreements match nothing.
func matchRules(r *result, allow []*allowRule) string {
	if r.RM.Accept == r.SG.Accept {
		return ""
	}
	var ids []string
	for _, a := range allow {
		if a.match(r) {
			ids = append(ids, a.id)
		}
	}
	return strings.Join(ids, "+")
}

// report prints the tables and returns the exit code and the passed / failed case counts
// (passed: agreements and deliberate disagreements; failed: unexplained, ambiguous, XX000).
func report(w *os.File, res []result, allow []*allowRule, outDir string) (int, int, int) {
	type sub struct {
		n       int
		example result
	}
	type group struct {
		n       int
		example result
		subs    map[[2]string]*sub
		rules   map[string]int
	}
	byID := map[string]*allowRule{}
	for _, a := range allow {
		byID[a.id] = a
	}
	groups := map[groupKey]*group{}
	agreeAA, agreeRR, dis, allowed, unexplained, ambiguous, internal := 0, 0, 0, 0, 0, 0, 0
	passed, failed := 0, 0
	perClass := map[string][3]int{}
	for _, r := range res {
		k := groupKey{word(r.RM), word(r.SG), r.Class}
		pc := perClass[r.Class]
		pc[0]++
		xx := strings.HasPrefix(r.RM.Reason, "XX000")
		if xx {
			internal++
		}
		if k.rm == k.sg {
			pc[1]++
			if r.RM.Accept {
				agreeAA++
			} else {
				agreeRR++
			}
			perClass[r.Class] = pc
			if xx {
				failed++
			} else {
				passed++
			}
			continue
		}
		pc[2]++
		perClass[r.Class] = pc
		dis++
		status := r.Rule
		switch {
		case r.Rule == "":
			unexplained++
			status = "NOT ALLOWED"
		case strings.Contains(r.Rule, "+"):
			ambiguous++
			status = "AMBIGUOUS " + r.Rule
		default:
			allowed++
			a := byID[r.Rule]
			a.used++
			a.perClass[r.Class]++
			if a.example == "" {
				a.example = r.ID
			}
		}
		if xx || r.Rule == "" || strings.Contains(r.Rule, "+") {
			failed++
		} else {
			passed++
		}
		g := groups[k]
		if g == nil {
			g = &group{example: r, subs: map[[2]string]*sub{}, rules: map[string]int{}}
			groups[k] = g
		}
		g.n++
		g.rules[status]++
		sk := [2]string{reasonCat(r.RM), reasonCat(r.SG)}
		if g.subs[sk] == nil {
			g.subs[sk] = &sub{example: r}
		}
		g.subs[sk].n++
	}
	fmt.Fprintf(w, "\n== cases %d: agreements %d (both accept %d, both reject %d), disagreements %d\n",
		len(res), agreeAA+agreeRR, agreeAA, agreeRR, dis)
	// the same disagreements by cause: (verdicts, rekor_meta reason, sigstore-go reason) across classes
	type rule struct {
		n       int
		classes map[string]int
		rules   map[string]int
		example result
	}
	rules := map[[4]string]*rule{}
	for _, r := range res {
		if r.RM.Accept == r.SG.Accept {
			continue
		}
		k := [4]string{word(r.RM), word(r.SG), reasonCat(r.RM), reasonCat(r.SG)}
		if rules[k] == nil {
			rules[k] = &rule{classes: map[string]int{}, rules: map[string]int{}, example: r}
		}
		rules[k].n++
		rules[k].classes[r.Class]++
		id := r.Rule
		if id == "" {
			id = "NOT ALLOWED"
		}
		rules[k].rules[id]++
	}
	rks := make([][4]string, 0, len(rules))
	for k := range rules {
		rks = append(rks, k)
	}
	sort.Slice(rks, func(i, j int) bool {
		if rules[rks[i]].n != rules[rks[j]].n {
			return rules[rks[i]].n > rules[rks[j]].n
		}
		return strings.Join(rks[i][:], "|") < strings.Join(rks[j][:], "|")
	})
	if len(rks) > 0 {
		fmt.Fprintf(w, "\n== disagreements by cause (rekor_meta reason x sigstore-go reason), biggest first\n")
	}
	countList := func(m map[string]int, max int) string {
		ks := sortedKeys(m)
		sort.SliceStable(ks, func(a, b int) bool { return m[ks[a]] > m[ks[b]] })
		var parts []string
		for i, k := range ks {
			if i == max {
				parts = append(parts, fmt.Sprintf("… %d more", len(ks)-max))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
		return strings.Join(parts, ", ")
	}
	for i, k := range rks {
		ru := rules[k]
		fmt.Fprintf(w, "R%-3d %5d cases  rekor_meta %s / sigstore-go %s  [%s]\n", i+1, ru.n, k[0], k[1], countList(ru.rules, 4))
		fmt.Fprintf(w, "       rekor_meta:  %s\n       sigstore-go: %s\n", k[2], k[3])
		fmt.Fprintf(w, "       classes: %s\n       e.g. %s (root %s)\n", countList(ru.classes, 6), ru.example.ID, orMerged(ru.example.Root))
	}
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].rm != keys[j].rm {
			return keys[i].rm < keys[j].rm
		}
		return keys[i].class < keys[j].class
	})
	os.MkdirAll(filepath.Join(outDir, "examples"), 0o755)
	if len(keys) > 0 {
		fmt.Fprintf(w, "\n== disagreements by (rekor_meta, sigstore-go, mutation class)\n")
		fmt.Fprintf(w, "%-8s %-8s %-52s %6s  %s\n", "rekor", "sg-go", "class", "cases", "deliberate rule")
	}
	for _, k := range keys {
		g := groups[k]
		fmt.Fprintf(w, "%-8s %-8s %-52s %6d  %s\n", k.rm, k.sg, k.class, g.n, countList(g.rules, 8))
		sks := make([][2]string, 0, len(g.subs))
		for sk := range g.subs {
			sks = append(sks, sk)
		}
		sort.Slice(sks, func(i, j int) bool {
			if g.subs[sks[i]].n != g.subs[sks[j]].n {
				return g.subs[sks[i]].n > g.subs[sks[j]].n
			}
			return sks[i][0]+sks[i][1] < sks[j][0]+sks[j][1]
		})
		for _, sk := range sks {
			sb := g.subs[sk]
			ex := sb.example
			fn := filepath.Join(outDir, "examples", safeName(ex.ID)+".json")
			os.WriteFile(fn, ex.Doc, 0o644)
			fmt.Fprintf(w, "  %5d x e.g. %s (root %s) -> %s\n", sb.n, ex.ID, orMerged(ex.Root), relName(fn))
			fmt.Fprintf(w, "          rekor_meta:  %s\n", short(reasonOrAccept(ex.RM), 260))
			fmt.Fprintf(w, "          sigstore-go: %s\n", short(reasonOrAccept(ex.SG), 260))
		}
	}
	fmt.Fprintf(w, "\n== per mutation class: cases / agree / disagree\n")
	for _, cl := range sortedKeys(perClass) {
		pc := perClass[cl]
		fmt.Fprintf(w, "  %-56s %6d %6d %6d\n", cl, pc[0], pc[1], pc[2])
	}
	if unexplained+ambiguous > 0 {
		fmt.Fprintf(w, "\n== disagreements no rule explains (unexplained) or several rules match (ambiguous)\n")
		shown := map[[3]string]int{}
		for _, r := range res {
			if r.RM.Accept == r.SG.Accept || (r.Rule != "" && !strings.Contains(r.Rule, "+")) {
				continue
			}
			k := [3]string{r.Rule, reasonCat(r.RM), reasonCat(r.SG)}
			shown[k]++
			if shown[k] > 3 {
				continue
			}
			what := "unexplained"
			if r.Rule != "" {
				what = "ambiguous: " + r.Rule
			}
			fmt.Fprintf(w, "  %s: %s [%s, log %s, root %s]\n      rekor_meta:  %s\n      sigstore-go: %s\n", what, r.ID, r.Class, r.Log,
				orMerged(r.Root), short(reasonOrAccept(r.RM), 300), short(reasonOrAccept(r.SG), 300))
		}
	}
	fmt.Fprintf(w, "\n== deliberate rules (tests/differential/deliberate.txt): cases matched\n")
	fmt.Fprintf(w, "  %-4s %-30s %6s  %s\n", "rule", "direction", "cases", "classes / reason")
	unused := []string{}
	for _, a := range allow {
		fmt.Fprintf(w, "  %-4s %-30s %6d  %s\n", a.id, a.direction(), a.used, countList(a.perClass, 5))
		fmt.Fprintf(w, "  %-4s %-30s %6s  %s\n", "", "", "", a.reason)
		if a.used == 0 {
			unused = append(unused, a.id)
		}
	}
	if len(unused) > 0 {
		fmt.Fprintf(w, "  unused on this run (matched no case; not a failure): %s\n", strings.Join(unused, ", "))
	}
	fmt.Fprintf(w, "\n== final\n")
	fmt.Fprintf(w, "  %-40s %6d\n", "cases", len(res))
	fmt.Fprintf(w, "  %-40s %6d  (both accept %d, both reject %d)\n", "agreements", agreeAA+agreeRR, agreeAA, agreeRR)
	fmt.Fprintf(w, "  %-40s %6d\n", "deliberate disagreements", allowed)
	for _, a := range allow {
		fmt.Fprintf(w, "  %-40s %6d\n", "  rule "+a.id, a.used)
	}
	fmt.Fprintf(w, "  %-40s %6d\n", "unexplained disagreements", unexplained)
	fmt.Fprintf(w, "  %-40s %6d\n", "ambiguous (matched by several rules)", ambiguous)
	fmt.Fprintf(w, "  %-40s %6d\n", "rekor_meta internal errors (XX000)", internal)
	code := 0
	if failed > 0 {
		code = 1
	}
	return code, passed, failed
}

func orMerged(s string) string {
	if s == "" {
		return "merged"
	}
	return s
}

func reasonOrAccept(v Verdict) string {
	if v.Accept {
		s := "accept"
		if v.Rows > 0 {
			s += fmt.Sprintf(" (%d rows)", v.Rows)
		}
		if len(v.Skipped) > 0 {
			s += " [skipped: " + strings.Join(v.Skipped, "; ") + "]"
		}
		return s
	}
	return "reject: " + v.Reason
}

func short(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", "\\n")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func cmdGen(args []string) (int, error) {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	var c common
	c.flags(fs)
	fs.Parse(args)
	c.init()
	merged, _, err := mergeRoots(c.rootFiles())
	if err != nil {
		return 2, err
	}
	os.MkdirAll(c.abs(c.out), 0o755)
	os.WriteFile(filepath.Join(c.abs(c.out), "merged_trusted_root.json"), merged, 0o644)
	_, cases, err := c.buildCases(trustedLogIDs(merged))
	if err != nil {
		return 2, err
	}
	enc := json.NewEncoder(os.Stdout)
	for _, cs := range cases {
		enc.Encode(struct {
			Case
			Doc json.RawMessage `json:"doc"`
		}{cs, cs.Doc})
	}
	fmt.Fprintf(os.Stderr, "%d cases\n", len(cases))
	return 0, nil
}

func cmdVerify(args []string) (int, error) {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	rootFile := fs.String("root", "tests/fixtures/trusted_root/production.trusted_root.json", "trusted_root.json")
	fs.Parse(args)
	rd, err := os.ReadFile(*rootFile)
	if err != nil {
		return 2, err
	}
	tr, err := root.NewTrustedRootFromJSON(rd)
	if err != nil {
		return 2, err
	}
	for _, f := range fs.Args() {
		doc, err := os.ReadFile(f)
		if err != nil {
			return 2, err
		}
		kind := classify(doc)
		if kind == "" {
			kind = "bundle"
		}
		v := sgVerdict(Case{Kind: kind, Doc: doc}, tr)
		full := ""
		if kind == "bundle" {
			full = " | full VerifyTlogEntry: " + reasonOrAccept(sgVerifyBundleFull(doc, tr))
		}
		fmt.Printf("%s [%s]: tlog part: %s%s\n", f, kind, reasonOrAccept(v), full)
	}
	return 0, nil
}

var (
	catHex   = regexp.MustCompile(`[0-9a-fA-F]{8,}`)
	catNum   = regexp.MustCompile(`[0-9]+`)
	catQuote = regexp.MustCompile(`"[^"]*"`)
	catBytes = regexp.MustCompile(`\[[0-9 ]+\]`)
)

// reasonCat: a verdict's reason with values taken out, to group examples.
func reasonCat(v Verdict) string {
	if v.Accept {
		return "accept"
	}
	r := v.Reason
	if i := strings.Index(r, " | "); i > 0 {
		r = r[:i] // rekor_meta's DETAIL
	}
	r = catBytes.ReplaceAllString(r, "[..]")
	r = catQuote.ReplaceAllString(r, `"…"`)
	r = catHex.ReplaceAllString(r, "<hex>")
	r = catNum.ReplaceAllString(r, "N")
	if len(r) > 110 {
		r = r[:110]
	}
	return r
}
