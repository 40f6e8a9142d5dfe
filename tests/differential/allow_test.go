package main

import (
	"path/filepath"
	"testing"
)

func TestDeliberateParses(t *testing.T) {
	rules, err := loadAllow(filepath.Join(".", "deliberate.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
}

func TestRuleSyntax(t *testing.T) {
	for _, bad := range []string{
		`X * * accept accept both accept`,
		`X * * 23514 "m" /r/ both refuse`,
		`X * * 23514 accept no pattern`,
		`X * * accept reject a bare reject`,
		`X * v3 accept "m" bad log`,
		`X * * 2351 "m" accept bad sqlstate`,
		`X * * 23514 "m" accept`,
		`X * * accept /(/ bad regexp`,
	} {
		if _, err := parseRule(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	r, err := parseRule(`F2 a.*,original v1 23514 /origin "[a-z]+ - [0-9]+", x/ accept  why / and "so"`)
	if err != nil {
		t.Fatal(err)
	}
	if r.id != "F2" || r.log != "v1" || len(r.classes) != 2 || r.reason != `why / and "so"` || r.rmPat.re == nil {
		t.Fatalf("parsed %+v", r)
	}
	rej := Verdict{Reason: `23514 check 3 | origin "abc - 12", x`}
	acc := Verdict{Accept: true}
	cases := []struct {
		res  result
		want bool
	}{
		{result{Case: Case{Class: "original"}, Log: "v1", RM: rej, SG: acc}, true},
		{result{Case: Case{Class: "a.b"}, Log: "v1", RM: rej, SG: acc}, true},
		{result{Case: Case{Class: "b.a"}, Log: "v1", RM: rej, SG: acc}, false},                                                          // class
		{result{Case: Case{Class: "original"}, Log: "v2", RM: rej, SG: acc}, false},                                                     // log
		{result{Case: Case{Class: "original"}, Log: "v1", RM: Verdict{Reason: `22023 check 3 | origin "abc - 12", x`}, SG: acc}, false}, // SQLSTATE
		{result{Case: Case{Class: "original"}, Log: "v1", RM: Verdict{Reason: `23514 origin "ab:1 - 12", x`}, SG: acc}, false},          // pattern
		{result{Case: Case{Class: "original"}, Log: "v1", RM: rej, SG: Verdict{Reason: "no"}}, false},                                   // agreement
	}
	for i, c := range cases {
		if got := r.match(&c.res); got != c.want {
			t.Errorf("case %d: match = %v", i, got)
		}
	}
	s, err := parseRule(`B * * accept "did not verify" laxer`)
	if err != nil {
		t.Fatal(err)
	}
	if !s.match(&result{Case: Case{Class: "x"}, RM: acc, SG: Verdict{Reason: "sig did not verify"}}) ||
		s.match(&result{Case: Case{Class: "x"}, RM: acc, SG: Verdict{Reason: "other"}}) {
		t.Error("sigstore-go pattern")
	}
}
