package main

// The rekor_meta side: each case through rekor_ingest_bundle / rekor_ingest_entry inside a PL/pgSQL
// block whose subtransaction is always rolled back, so no case sees another's rows.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

type pgTarget struct {
	adminDSN string // libpq key=value DSN of the cluster, no dbname
}

var dbnameKV = regexp.MustCompile(`(^|\s)dbname=\S*`)

// dsn: the cluster DSN with dbname replaced.
func (t pgTarget) dsn(db string) string {
	return strings.TrimSpace(dbnameKV.ReplaceAllString(t.adminDSN, "")) + " dbname=" + db
}

var dbNameRe = regexp.MustCompile(`[^a-z0-9_]`)

// createDB drops and creates a database with the extension and the try function.
func (t pgTarget) createDB(ctx context.Context, name string) (*pgx.Conn, string, error) {
	name = dbNameRe.ReplaceAllString(strings.ToLower(name), "_")
	admin, err := pgx.Connect(ctx, t.dsn("postgres"))
	if err != nil {
		return nil, "", fmt.Errorf("connect %s: %w", t.dsn("postgres"), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return nil, "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, "", err
	}
	c, err := pgx.Connect(ctx, t.dsn(name))
	if err != nil {
		return nil, "", err
	}
	if _, err := c.Exec(ctx, "CREATE EXTENSION rekor_meta"); err != nil {
		c.Close(ctx)
		return nil, "", fmt.Errorf("CREATE EXTENSION rekor_meta: %w", err)
	}
	var schema string
	if err := c.QueryRow(ctx, "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'rekor_meta'").Scan(&schema); err != nil {
		return nil, "", err
	}
	fn := fmt.Sprintf(`
CREATE FUNCTION public.diff_try(kind text, doc text, OUT n bigint, OUT state text, OUT msg text, OUT detail text)
LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    IF kind = 'bundle' THEN
      SELECT count(*) INTO n FROM %[1]s.rekor_ingest_bundle(doc::jsonb);
    ELSE
      SELECT count(*) INTO n FROM %[1]s.rekor_ingest_entry(doc::jsonb);
    END IF;
    RAISE EXCEPTION 'diff_try: roll back' USING ERRCODE = 'DF000';
  EXCEPTION
    WHEN SQLSTATE 'DF000' THEN
      state := NULL;
    WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
      n := NULL;
  END;
END
$f$`, schema)
	if _, err := c.Exec(ctx, fn); err != nil {
		c.Close(ctx)
		return nil, "", err
	}
	return c, name, nil
}

// loadRoot trusts the logs of a trusted root: rekor_import_trusted_root(jsonb) when the extension has
// it, else one rekor_add_log per tlog. Returns notes (what was done, what failed).
func loadRoot(ctx context.Context, c *pgx.Conn, rootDoc []byte) ([]string, error) {
	var has bool
	if err := c.QueryRow(ctx, "SELECT to_regprocedure('rekor_import_trusted_root(jsonb)') IS NOT NULL").Scan(&has); err != nil {
		return nil, err
	}
	if has {
		rows, err := c.Query(ctx, "SELECT * FROM rekor_import_trusted_root($1::jsonb)", string(rootDoc))
		if err != nil {
			return nil, fmt.Errorf("rekor_import_trusted_root: %w", err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("rekor_import_trusted_root: %w", err)
		}
		var logs int
		c.QueryRow(ctx, "SELECT count(*) FROM rekor_logs").Scan(&logs)
		return []string{fmt.Sprintf("rekor_import_trusted_root: %d result rows, %d trusted logs", n, logs)}, nil
	}
	var root struct {
		Tlogs []struct {
			BaseURL   string `json:"baseUrl"`
			PublicKey struct {
				RawBytes   string `json:"rawBytes"`
				KeyDetails string `json:"keyDetails"`
				ValidFor   struct {
					Start *string `json:"start"`
					End   *string `json:"end"`
				} `json:"validFor"`
			} `json:"publicKey"`
			LogID struct {
				KeyID string `json:"keyId"`
			} `json:"logId"`
		} `json:"tlogs"`
	}
	if err := json.Unmarshal(rootDoc, &root); err != nil {
		return nil, err
	}
	var notes []string
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return nil, err
	}
	defer c.Exec(ctx, "COMMIT")
	for _, t := range root.Tlogs {
		if t.PublicKey.ValidFor.Start == nil {
			// protobuf-specs: TransparencyLogInstance.public_key.valid_for.start is required; a missing
			// bound is a malformed trust root, not an unbounded window (conformance
			// trust-root-tlog-missing-validity-start_fail).
			notes = append(notes, fmt.Sprintf("rekor_add_log %s FAILED: trust root has no validFor.start for it (not trusted)", t.BaseURL))
			continue
		}
		u, err := url.Parse(t.BaseURL)
		if err != nil {
			notes = append(notes, fmt.Sprintf("skip %s: %v", t.BaseURL, err))
			continue
		}
		// Rekor v1 (ECDSA): signer = host as configured (with port), origin prefix "<host> - ";
		// Ed25519 (Rekor v2): the note name is hashed into the log id; try host, then hostname.
		cands := []string{u.Host}
		if u.Hostname() != u.Host {
			cands = append(cands, u.Hostname())
		}
		want, _ := base64.StdEncoding.DecodeString(t.LogID.KeyID)
		var done bool
		var lastErr error
		for _, name := range cands {
			var id []byte
			_, err := c.Exec(ctx, "SAVEPOINT add_log")
			if err != nil {
				return nil, err
			}
			err = c.QueryRow(ctx, "SELECT rekor_add_log($1, $2, NULL, $3::timestamptz, $4::timestamptz)",
				t.PublicKey.RawBytes, name, t.PublicKey.ValidFor.Start, t.PublicKey.ValidFor.End).Scan(&id)
			if err != nil {
				c.Exec(ctx, "ROLLBACK TO SAVEPOINT add_log")
				lastErr = err
				continue
			}
			if string(id) != string(want) && strings.Contains(t.PublicKey.KeyDetails, "ED25519") && name != cands[len(cands)-1] {
				c.Exec(ctx, "ROLLBACK TO SAVEPOINT add_log")
				continue
			}
			c.Exec(ctx, "RELEASE SAVEPOINT add_log")
			m := ""
			if string(id) != string(want) {
				m = " (log id differs from the trusted root's logId)"
			}
			notes = append(notes, fmt.Sprintf("rekor_add_log %s as %q%s", t.BaseURL, name, m))
			done = true
			break
		}
		if !done {
			notes = append(notes, fmt.Sprintf("rekor_add_log %s (%s) FAILED: %v", t.BaseURL, t.PublicKey.KeyDetails, lastErr))
		}
	}
	return notes, nil
}

// runPG runs every case on the connection, pipelined in batches, and returns verdicts in case order.
func runPG(ctx context.Context, c *pgx.Conn, cases []Case, progress func(int)) ([]Verdict, error) {
	out := make([]Verdict, len(cases))
	const batchSize = 200
	if _, err := c.Exec(ctx, "SET statement_timeout = '20s'"); err != nil {
		return nil, err
	}
	for start := 0; start < len(cases); start += batchSize {
		end := min(len(cases), start+batchSize)
		b := &pgx.Batch{}
		for _, cs := range cases[start:end] {
			b.Queue("SELECT n, state, msg, detail FROM public.diff_try($1, $2)", cs.Kind, string(cs.Doc))
		}
		br := c.SendBatch(ctx, b)
		for i := start; i < end; i++ {
			var n *int64
			var state, msg, detail *string
			if err := br.QueryRow().Scan(&n, &state, &msg, &detail); err != nil {
				// a top-level error (e.g. a document PostgreSQL cannot carry as text: NUL bytes)
				out[i] = Verdict{Accept: false, Reason: "client: " + err.Error()}
				continue
			}
			if state == nil {
				out[i] = Verdict{Accept: true, Rows: deref(n)}
			} else {
				r := *state + " " + derefS(msg)
				if d := derefS(detail); d != "" {
					r += " | " + d
				}
				out[i] = Verdict{Accept: false, Reason: r}
			}
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(end)
		}
	}
	return out, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefS(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
