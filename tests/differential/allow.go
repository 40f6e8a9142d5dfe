package main

// The allow-list of deliberate disagreements (deliberate.txt): one rule a line,
//
//	RULE  CLASSES  LOG  REKOR_META  SIGSTORE_GO  REASON...
//
// RULE         a short id (A, B, G1, ...), unique.
// CLASSES      comma-separated path.Match globs over the mutation class ("original", "ckpt.*", "*").
// LOG          v1 | v2 | *: the Rekor version of the case's base (v2: its checkpoint origin has no
//              " - <tree id>", or a Rekor v2 REST answer).
// REKOR_META   accept, or SQLSTATE PATTERN: rekor_meta refused the case with that SQLSTATE and a
//              "message | detail" text matching PATTERN.
// SIGSTORE_GO  accept, or PATTERN: sigstore-go refused it with a reason matching PATTERN.
// PATTERN      "a substring" (\" and \\ escape) or /a Go regexp/ (ends at a / before a space or
//              the end of the line; \/ also escapes).
// REASON       the rest of the line: why the disagreement is deliberate.
//
// Exactly one of REKOR_META and SIGSTORE_GO is accept (a line allows a disagreement, never an
// agreement), and the side that refuses always names its reason. A disagreement no line matches is
// unexplained, one that two lines match is ambiguous: both fail the run. A line no case matched is
// reported as unused.

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

type pattern struct {
	text string
	re   *regexp.Regexp
}

func (p pattern) match(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	return strings.Contains(s, p.text)
}

func (p pattern) String() string {
	if p.re != nil {
		return "/" + p.re.String() + "/"
	}
	return fmt.Sprintf("%q", p.text)
}

type allowRule struct {
	id      string
	classes []string
	log     string // v1, v2 or *
	rmAcc   bool
	rmState string
	rmPat   pattern
	sgAcc   bool
	sgPat   pattern
	reason  string
	line    int

	used     int
	perClass map[string]int
	example  string
}

// direction: which side refuses.
func (r *allowRule) direction() string {
	if r.rmAcc {
		return "laxer (rekor_meta accepts)"
	}
	return "stricter (rekor_meta rejects)"
}

func (r *allowRule) outcome() string {
	if r.rmAcc {
		return "rekor_meta accept / sigstore-go " + r.sgPat.String()
	}
	return "rekor_meta " + r.rmState + " " + r.rmPat.String() + " / sigstore-go accept"
}

// token reads one field of a rule line: a bare word, a "quoted string" or a /regexp/.
func token(s string) (tok, kind, rest string, err error) {
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return "", "", "", fmt.Errorf("missing field")
	}
	switch s[0] {
	case '"', '/':
		q := s[0]
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) && (s[i+1] == q || (q == '"' && s[i+1] == '\\')) {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			if c == q {
				end := i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t'
				if end {
					return b.String(), string(q), s[i+1:], nil
				}
				if q == '"' {
					return "", "", "", fmt.Errorf("no space after the closing %c", q)
				}
			}
			if q == '/' && c == '\\' && i+1 < len(s) {
				b.WriteByte(c) // a regexp escape, kept
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte(c)
		}
		return "", "", "", fmt.Errorf("unterminated %c", q)
	}
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "word", "", nil
	}
	return s[:i], "word", s[i:], nil
}

func toPattern(tok, kind string) (pattern, error) {
	switch kind {
	case `"`:
		if tok == "" {
			return pattern{}, fmt.Errorf("empty substring")
		}
		return pattern{text: tok}, nil
	case "/":
		re, err := regexp.Compile(tok)
		if err != nil {
			return pattern{}, err
		}
		return pattern{re: re}, nil
	}
	return pattern{}, fmt.Errorf("want a \"substring\" or /regexp/, got %q", tok)
}

var sqlstateRe = regexp.MustCompile(`^[0-9A-Z]{5}$`)

func parseRule(line string) (*allowRule, error) {
	r := &allowRule{perClass: map[string]int{}}
	var tok, kind string
	var err error
	rest := line
	next := func(what string) bool {
		tok, kind, rest, err = token(rest)
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
			return false
		}
		return true
	}
	if !next("RULE") {
		return nil, err
	}
	r.id = tok
	if !next("CLASSES") {
		return nil, err
	}
	for _, g := range strings.Split(tok, ",") {
		if _, e := path.Match(g, ""); e != nil || g == "" {
			return nil, fmt.Errorf("CLASSES: bad glob %q", g)
		}
		r.classes = append(r.classes, g)
	}
	if !next("LOG") {
		return nil, err
	}
	if tok != "v1" && tok != "v2" && tok != "*" {
		return nil, fmt.Errorf("LOG: want v1, v2 or *, got %q", tok)
	}
	r.log = tok
	if !next("REKOR_META") {
		return nil, err
	}
	if kind == "word" && tok == "accept" {
		r.rmAcc = true
	} else {
		if kind != "word" || !sqlstateRe.MatchString(tok) {
			return nil, fmt.Errorf("REKOR_META: want accept or a SQLSTATE and a pattern, got %q", tok)
		}
		r.rmState = tok
		if !next("REKOR_META pattern") {
			return nil, err
		}
		if r.rmPat, err = toPattern(tok, kind); err != nil {
			return nil, fmt.Errorf("REKOR_META pattern: %w", err)
		}
	}
	if !next("SIGSTORE_GO") {
		return nil, err
	}
	if kind == "word" && tok == "accept" {
		r.sgAcc = true
	} else if r.sgPat, err = toPattern(tok, kind); err != nil {
		return nil, fmt.Errorf("SIGSTORE_GO: %w", err)
	}
	if r.rmAcc == r.sgAcc {
		return nil, fmt.Errorf("exactly one of REKOR_META and SIGSTORE_GO must be accept")
	}
	r.reason = strings.TrimSpace(rest)
	if r.reason == "" {
		return nil, fmt.Errorf("REASON is missing")
	}
	return r, nil
}

func loadAllow(file string) ([]*allowRule, error) {
	raw, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*allowRule
	ids := map[string]int{}
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRule(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v (want `RULE CLASSES LOG REKOR_META SIGSTORE_GO REASON`)", file, n+1, err)
		}
		if p, dup := ids[r.id]; dup {
			return nil, fmt.Errorf("%s:%d: rule %s already on line %d", file, n+1, r.id, p)
		}
		r.line = n + 1
		ids[r.id] = n + 1
		out = append(out, r)
	}
	return out, nil
}

// rmState splits a rekor_meta reject reason ("SQLSTATE message | detail") into its parts.
func rmParts(v Verdict) (state, text string) {
	if len(v.Reason) > 6 && v.Reason[5] == ' ' && sqlstateRe.MatchString(v.Reason[:5]) {
		return v.Reason[:5], v.Reason[6:]
	}
	return "", v.Reason
}

func (r *allowRule) match(res *result) bool {
	if res.RM.Accept == res.SG.Accept || r.rmAcc != res.RM.Accept || r.sgAcc != res.SG.Accept {
		return false
	}
	okClass := false
	for _, g := range r.classes {
		if ok, _ := path.Match(g, res.Class); ok {
			okClass = true
			break
		}
	}
	if !okClass || (r.log != "*" && r.log != res.Log) {
		return false
	}
	if !r.rmAcc {
		st, text := rmParts(res.RM)
		if st != r.rmState || !r.rmPat.match(text) {
			return false
		}
	}
	if !r.sgAcc && !r.sgPat.match(res.SG.Reason) {
		return false
	}
	return true
}

// logVersion: "v1" or "v2" for a base document ("" when it has no checkpoint to tell).
func logVersion(kind string, doc []byte) string {
	switch kind {
	case "rest":
		return "v1"
	case "rest2":
		return "v2"
	}
	var b struct {
		VM struct {
			T []struct {
				SET *json.RawMessage `json:"inclusionPromise"`
				P   *struct {
					C struct {
						Envelope string `json:"envelope"`
					} `json:"checkpoint"`
				} `json:"inclusionProof"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if json.Unmarshal(doc, &b) != nil {
		return ""
	}
	v, set := "", false
	for _, t := range b.VM.T {
		set = set || t.SET != nil
		if t.P == nil || t.P.C.Envelope == "" {
			continue
		}
		origin, _, _ := strings.Cut(t.P.C.Envelope, "\n")
		w := "v2"
		if treeIDSuffixRegex.MatchString(origin) {
			w = "v1"
		}
		if v != "" && v != w {
			return "mixed"
		}
		v = w
	}
	if v == "" && set {
		return "v1" // no checkpoint, a SET: only Rekor v1 entries carry one
	}
	return v
}
