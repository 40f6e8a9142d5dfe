-- VEX statements (OpenVEX, CycloneDX) linked to the Rekor entries that log their attestations:
-- rekor_link_vex stores them, rekor_vex_evidence answers an auditor. A statement's time is what the
-- logged payload carries: a wrapper document that is not the payload vouches for nothing, its
-- timestamp neither orders the statement nor makes it newer.

-- One row per (vulnerability, product) pair of a VEX statement, linked to the attestation (a DSSE
-- envelope) that carries the statement and, once that envelope is logged, to its Rekor entry.
CREATE TABLE rekor_vex_links (
    link_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vulnerability         text NOT NULL CHECK (vulnerability <> ''),      -- CVE-…, GHSA-…: the statement's name for it
    vulnerability_aliases text[] NOT NULL DEFAULT '{}',                  -- other names the statement gives
    product               text NOT NULL CHECK (product <> ''),            -- product identifier (a purl)
    subcomponents         text[] NOT NULL DEFAULT '{}',                  -- the statement is about these parts of the product
    status                text NOT NULL CHECK (status IN ('not_affected', 'affected', 'fixed', 'under_investigation')),
    justification         text,                                          -- in the vocabulary of `format`
    impact_statement      text,
    action_statement      text,
    format                text NOT NULL CHECK (format IN ('openvex', 'cyclonedx')),
    statement_id          text,                                          -- OpenVEX statement @id / CycloneDX bom-ref
    statement_index       integer NOT NULL CHECK (statement_index >= 0), -- position in the document
    statement_time        timestamptz,                                   -- the statement's (or document's) timestamp
    statement             jsonb NOT NULL,                                -- the statement as given
    document_digest       bytea NOT NULL CHECK (length(document_digest) = 32),
    -- The attestation: SHA-256 of the DSSE envelope. For a queue item, its envelope_sha256 (canonical
    -- JSON); for an entry linked directly, the envelopeHash the entry logs.
    envelope_digest       bytea NOT NULL CHECK (length(envelope_digest) = 32),
    queue_id              bigint REFERENCES rekor_submission_queue (queue_id),
    entry_id              bigint REFERENCES rekor_entries (entry_id),
    -- Whether the envelope's payload carries this VEX document (the payload is the document, or an
    -- in-toto statement whose predicate is it or lists this statement); NULL: the envelope itself is
    -- not at hand (an entry linked directly by digest).
    attested              boolean,
    created_at            timestamptz NOT NULL DEFAULT now(),
    linked_at             timestamptz,                                   -- when entry_id was filled in
    CHECK ((entry_id IS NULL) = (linked_at IS NULL)),
    CHECK (queue_id IS NOT NULL OR entry_id IS NOT NULL),
    CHECK (status <> 'not_affected' OR justification IS NOT NULL OR impact_statement IS NOT NULL),
    CHECK (status <> 'affected' OR action_statement IS NOT NULL),
    CONSTRAINT rekor_vex_links_statement_key UNIQUE (envelope_digest, document_digest, statement_index, vulnerability, product)
);
CREATE INDEX rekor_vex_links_pair ON rekor_vex_links (product, vulnerability);
-- The links still waiting for their envelope to be logged (the queue trigger looks them up).
CREATE INDEX rekor_vex_links_pending ON rekor_vex_links (envelope_digest) WHERE entry_id IS NULL;
COMMENT ON TABLE rekor_vex_links IS 'VEX statements linked to the Rekor entry that logs their attestation (see rekor_link_vex, rekor_vex_evidence)';
SELECT pg_catalog.pg_extension_config_dump('rekor_vex_links', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_vex_links_link_id_seq', '');  -- so restored rows keep their ids and new ones follow

-- Raises 22023 for an invalid VEX document; `path` is the JSON path of the offending member.
CREATE FUNCTION rekor_vex_invalid(path text, problem text, detail text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Paths and details can carry document text: bounded, so an error never echoes a huge input.
    IF detail IS NULL THEN
        RAISE EXCEPTION 'invalid VEX document: % %', left(path, 200), left(problem, 500) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'invalid VEX document: % %', left(path, 200), left(problem, 500)
        USING ERRCODE = 'invalid_parameter_value', DETAIL = left(detail, 2000);
END
$$;

-- A JSON timestamp member (RFC 3339 string) or NULL when absent; 22023 naming `path` otherwise.
CREATE FUNCTION rekor_vex_time(v jsonb, path text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    t timestamptz;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'string' THEN
        PERFORM @extschema@.rekor_vex_invalid(path, 'must be an RFC 3339 timestamp string', format('got %s', v));
    END IF;
    BEGIN
        t := (v #>> '{}')::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format OR invalid_time_zone_displacement_value THEN
        PERFORM @extschema@.rekor_vex_invalid(path, 'is not a valid timestamp', format('got %s', v));
    END;
    RETURN t;
END
$$;

-- An optional string member: NULL when absent, 22023 when present but not a non-empty string.
CREATE FUNCTION rekor_vex_string(v jsonb, path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'string' OR v #>> '{}' = '' THEN
        PERFORM @extschema@.rekor_vex_invalid(path, 'must be a non-empty string', format('got %s', v));
    END IF;
    RETURN v #>> '{}';
END
$$;

-- The identifier of an OpenVEX product or subcomponent: a string, or an object with "@id" (or,
-- without one, identifiers.purl).
CREATE FUNCTION rekor_vex_component_id(v jsonb, path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    id text;
BEGIN
    IF jsonb_typeof(v) = 'string' THEN
        id := @extschema@.rekor_vex_string(v, path);
    ELSIF jsonb_typeof(v) = 'object' THEN
        id := coalesce(@extschema@.rekor_vex_string(v -> '@id', path || '.@id'),
                       @extschema@.rekor_vex_string(v #> '{identifiers,purl}', path || '.identifiers.purl'));
        IF id IS NULL THEN
            PERFORM @extschema@.rekor_vex_invalid(path, 'has neither "@id" nor identifiers.purl', format('got %s', left(v::text, 200)));
        END IF;
    ELSE
        PERFORM @extschema@.rekor_vex_invalid(path, 'must be a string or an object with "@id"', format('got %s', left(v::text, 200)));
    END IF;
    RETURN id;
END
$$;

-- CycloneDX VEX (a BOM whose vulnerabilities[] carry an analysis), one row per vulnerabilities[i]
-- and affects[j]: the analysis state maps to the OpenVEX status (not_affected and false_positive:
-- not_affected; exploitable: affected; resolved, resolved_with_pedigree: fixed; in_triage:
-- under_investigation); justification stays in CycloneDX's vocabulary; analysis.detail is the
-- impact statement (not_affected) and analysis.response with the detail the action statement
-- (affected); affects[].ref is resolved to the component's purl through the BOM's bom-refs.
CREATE FUNCTION rekor_parse_cyclonedx_vex(bom jsonb)
RETURNS TABLE (statement_index integer, vulnerability text, vulnerability_aliases text[], product text,
               subcomponents text[], status text, justification text, impact_statement text,
               action_statement text, format text, statement_id text, statement_time timestamptz, statement jsonb)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    vulns jsonb;
    v jsonb;
    a jsonb;
    affects jsonb;
    refs jsonb;
    path text;
    state text;
    detail text;
    responses text;
    doc_time timestamptz;
    ref text;
    local_ref text;
    i integer;
    j integer;
BEGIN
    IF bom ? 'bomFormat' AND bom -> 'bomFormat' IS DISTINCT FROM '"CycloneDX"'::jsonb THEN
        PERFORM @extschema@.rekor_vex_invalid('$.bomFormat', 'must be "CycloneDX"', format('got %s', bom -> 'bomFormat'));
    END IF;
    vulns := bom -> 'vulnerabilities';
    IF jsonb_typeof(vulns) IS DISTINCT FROM 'array' OR jsonb_array_length(vulns) = 0 THEN
        PERFORM @extschema@.rekor_vex_invalid('$.vulnerabilities', 'must be a non-empty array');
    END IF;
    IF jsonb_typeof(bom -> 'metadata') = 'object' THEN
        doc_time := @extschema@.rekor_vex_time(bom #> '{metadata,timestamp}', '$.metadata.timestamp');
    END IF;
    -- bom-ref -> purl of every component: metadata.component, components[] and their nested components[].
    WITH RECURSIVE c(comp) AS (
        SELECT x FROM jsonb_array_elements(
            CASE WHEN jsonb_typeof(bom -> 'components') = 'array' THEN bom -> 'components' ELSE '[]' END
            || CASE WHEN jsonb_typeof(bom #> '{metadata,component}') = 'object'
                    THEN jsonb_build_array(bom #> '{metadata,component}') ELSE '[]' END) AS x
        UNION ALL
        SELECT y FROM c, jsonb_array_elements(
            CASE WHEN jsonb_typeof(c.comp -> 'components') = 'array' THEN c.comp -> 'components' ELSE '[]' END) AS y
    )
    SELECT coalesce(jsonb_object_agg(c.comp ->> 'bom-ref', c.comp ->> 'purl')
                    FILTER (WHERE jsonb_typeof(c.comp -> 'bom-ref') = 'string' AND jsonb_typeof(c.comp -> 'purl') = 'string'),
                    '{}')
    INTO refs FROM c WHERE jsonb_typeof(c.comp) = 'object';

    FOR i IN 0 .. jsonb_array_length(vulns) - 1 LOOP
        v := vulns -> i;
        path := format('$.vulnerabilities[%s]', i);
        IF jsonb_typeof(v) <> 'object' THEN
            PERFORM @extschema@.rekor_vex_invalid(path, 'must be an object');
        END IF;
        vulnerability := @extschema@.rekor_vex_string(v -> 'id', path || '.id');
        IF vulnerability IS NULL THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.id', 'is required');
        END IF;
        vulnerability_aliases := ARRAY(
            SELECT r ->> 'id' FROM jsonb_array_elements(
                CASE WHEN jsonb_typeof(v -> 'references') = 'array' THEN v -> 'references' ELSE '[]' END) AS r
            WHERE jsonb_typeof(r -> 'id') = 'string' AND r ->> 'id' <> '');
        a := v -> 'analysis';
        IF jsonb_typeof(a) IS DISTINCT FROM 'object' THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.analysis', 'is required (a vulnerability without an analysis is not a VEX statement)');
        END IF;
        state := @extschema@.rekor_vex_string(a -> 'state', path || '.analysis.state');
        status := CASE state WHEN 'not_affected' THEN 'not_affected' WHEN 'false_positive' THEN 'not_affected'
                             WHEN 'exploitable' THEN 'affected' WHEN 'resolved' THEN 'fixed'
                             WHEN 'resolved_with_pedigree' THEN 'fixed' WHEN 'in_triage' THEN 'under_investigation' END;
        IF status IS NULL THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.analysis.state',
                'must be one of resolved, resolved_with_pedigree, exploitable, in_triage, false_positive, not_affected',
                format('got %s', coalesce((a -> 'state')::text, 'nothing')));
        END IF;
        justification := @extschema@.rekor_vex_string(a -> 'justification', path || '.analysis.justification');
        IF justification IS NOT NULL AND justification NOT IN ('code_not_present', 'code_not_reachable', 'requires_configuration',
                'requires_dependency', 'requires_environment', 'protected_by_compiler', 'protected_at_runtime',
                'protected_at_perimeter', 'protected_by_mitigating_control') THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.analysis.justification', 'is not a CycloneDX justification',
                format('got %L', justification));
        END IF;
        detail := @extschema@.rekor_vex_string(a -> 'detail', path || '.analysis.detail');
        IF a ? 'response' AND jsonb_typeof(a -> 'response') <> 'array' THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.analysis.response', 'must be an array of strings');
        END IF;
        responses := (SELECT string_agg(r #>> '{}', ', ') FROM jsonb_array_elements(coalesce(a -> 'response', '[]')) AS r);
        impact_statement := NULL;
        action_statement := NULL;
        IF status = 'not_affected' THEN
            impact_statement := coalesce(detail, CASE WHEN state = 'false_positive' THEN 'false_positive' END);
            IF justification IS NULL AND impact_statement IS NULL THEN
                PERFORM @extschema@.rekor_vex_invalid(path || '.analysis',
                    'must give a justification or a detail when the state is not_affected');
            END IF;
        ELSIF status = 'affected' THEN
            action_statement := nullif(concat_ws(': ', responses, detail), '');
            IF action_statement IS NULL THEN
                PERFORM @extschema@.rekor_vex_invalid(path || '.analysis',
                    'must give a response or a detail when the state is exploitable');
            END IF;
        ELSE
            impact_statement := detail;
        END IF;
        format := 'cyclonedx';
        statement_id := @extschema@.rekor_vex_string(v -> 'bom-ref', path || '.bom-ref');
        statement_time := coalesce(@extschema@.rekor_vex_time(a -> 'lastUpdated', path || '.analysis.lastUpdated'),
                                   @extschema@.rekor_vex_time(a -> 'firstIssued', path || '.analysis.firstIssued'),
                                   @extschema@.rekor_vex_time(v -> 'updated', path || '.updated'),
                                   @extschema@.rekor_vex_time(v -> 'published', path || '.published'),
                                   doc_time);
        statement := v;
        statement_index := i;
        subcomponents := '{}';
        affects := v -> 'affects';
        IF jsonb_typeof(affects) IS DISTINCT FROM 'array' OR jsonb_array_length(affects) = 0 THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.affects', 'must be a non-empty array');
        END IF;
        FOR j IN 0 .. jsonb_array_length(affects) - 1 LOOP
            ref := @extschema@.rekor_vex_string(affects -> j -> 'ref', format('%s.affects[%s].ref', path, j));
            IF ref IS NULL THEN
                PERFORM @extschema@.rekor_vex_invalid(format('%s.affects[%s].ref', path, j), 'is required');
            END IF;
            -- A BOM-Link (urn:cdx:<serial>/<version>#<bom-ref>) names a bom-ref of that BOM.
            local_ref := CASE WHEN starts_with(ref, 'urn:cdx:') AND strpos(ref, '#') > 0
                              THEN substr(ref, strpos(ref, '#') + 1) ELSE ref END;
            product := CASE WHEN starts_with(ref, 'pkg:') THEN ref
                            ELSE coalesce(refs ->> local_ref, refs ->> ref, ref) END;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;

-- Validates a VEX document and returns one row per (vulnerability, product) pair. Accepts an
-- OpenVEX document (statements[]), a single OpenVEX statement, or a CycloneDX BOM whose
-- vulnerabilities[] carry an analysis. 22023 naming the JSON path of the first problem.
CREATE FUNCTION rekor_parse_vex(document jsonb)
RETURNS TABLE (statement_index integer, vulnerability text, vulnerability_aliases text[], product text,
               subcomponents text[], status text, justification text, impact_statement text,
               action_statement text, format text, statement_id text, statement_time timestamptz, statement jsonb)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    stmts jsonb;
    s jsonb;
    v jsonb;
    prods jsonb;
    p jsonb;
    base text;
    path text;
    doc_time timestamptz;
    stmt_subs text[];
    i integer;
    j integer;
BEGIN
    IF jsonb_typeof(document) <> 'object' THEN
        PERFORM @extschema@.rekor_vex_invalid('$', 'must be a JSON object', format('got %s', left(document::text, 200)));
    END IF;
    IF document ? 'bomFormat' OR document ? 'vulnerabilities' THEN
        RETURN QUERY SELECT * FROM @extschema@.rekor_parse_cyclonedx_vex(document);
        RETURN;
    END IF;
    IF document ? 'statements' THEN
        IF document ? '@context' AND (jsonb_typeof(document -> '@context') <> 'string'
                                      OR NOT starts_with(document ->> '@context', 'https://openvex.dev/ns')) THEN
            PERFORM @extschema@.rekor_vex_invalid('$.@context', 'is not an OpenVEX context (https://openvex.dev/ns/…)',
                format('got %s', document -> '@context'));
        END IF;
        stmts := document -> 'statements';
        IF jsonb_typeof(stmts) <> 'array' OR jsonb_array_length(stmts) = 0 THEN
            PERFORM @extschema@.rekor_vex_invalid('$.statements', 'must be a non-empty array');
        END IF;
        doc_time := @extschema@.rekor_vex_time(document -> 'timestamp', '$.timestamp');
        base := '$.statements';
    ELSE
        stmts := jsonb_build_array(document);
    END IF;

    FOR i IN 0 .. jsonb_array_length(stmts) - 1 LOOP
        s := stmts -> i;
        path := CASE WHEN base IS NULL THEN '$' ELSE format('%s[%s]', base, i) END;
        IF jsonb_typeof(s) <> 'object' THEN
            PERFORM @extschema@.rekor_vex_invalid(path, 'must be an object');
        END IF;
        -- vulnerability: {"name": …, "@id": …, "aliases": […]} (OpenVEX 0.2) or a string (0.0.x)
        v := s -> 'vulnerability';
        IF jsonb_typeof(v) = 'string' THEN
            vulnerability := @extschema@.rekor_vex_string(v, path || '.vulnerability');
            vulnerability_aliases := '{}';
        ELSIF jsonb_typeof(v) = 'object' THEN
            vulnerability := coalesce(@extschema@.rekor_vex_string(v -> 'name', path || '.vulnerability.name'),
                                      @extschema@.rekor_vex_string(v -> '@id', path || '.vulnerability.@id'));
            IF vulnerability IS NULL THEN
                PERFORM @extschema@.rekor_vex_invalid(path || '.vulnerability', 'has neither "name" nor "@id"');
            END IF;
            IF v ? 'aliases' AND jsonb_typeof(v -> 'aliases') <> 'array' THEN
                PERFORM @extschema@.rekor_vex_invalid(path || '.vulnerability.aliases', 'must be an array of strings');
            END IF;
            vulnerability_aliases := ARRAY(
                SELECT @extschema@.rekor_vex_string(x.a, format('%s.vulnerability.aliases[%s]', path, x.o - 1))
                FROM jsonb_array_elements(coalesce(v -> 'aliases', '[]')) WITH ORDINALITY AS x(a, o) ORDER BY x.o);
        ELSE
            PERFORM @extschema@.rekor_vex_invalid(path || '.vulnerability',
                'is required: an object with "name" or "@id", or a string', format('got %s', coalesce(v::text, 'nothing')));
        END IF;

        status := @extschema@.rekor_vex_string(s -> 'status', path || '.status');
        IF status IS NULL OR status NOT IN ('not_affected', 'affected', 'fixed', 'under_investigation') THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.status',
                'must be one of not_affected, affected, fixed, under_investigation', format('got %s', coalesce((s -> 'status')::text, 'nothing')));
        END IF;
        justification := @extschema@.rekor_vex_string(s -> 'justification', path || '.justification');
        IF justification IS NOT NULL AND justification NOT IN ('component_not_present', 'vulnerable_code_not_present',
                'vulnerable_code_not_in_execute_path', 'vulnerable_code_cannot_be_controlled_by_adversary',
                'inline_mitigations_already_exist') THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.justification', 'is not an OpenVEX justification',
                format('got %L; one of component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist', justification));
        END IF;
        impact_statement := @extschema@.rekor_vex_string(s -> 'impact_statement', path || '.impact_statement');
        action_statement := @extschema@.rekor_vex_string(s -> 'action_statement', path || '.action_statement');
        IF status = 'not_affected' AND justification IS NULL AND impact_statement IS NULL THEN
            PERFORM @extschema@.rekor_vex_invalid(path, 'has status not_affected but neither a justification nor an impact_statement');
        END IF;
        IF status = 'affected' AND action_statement IS NULL THEN
            PERFORM @extschema@.rekor_vex_invalid(path, 'has status affected but no action_statement');
        END IF;
        format := 'openvex';
        statement_id := @extschema@.rekor_vex_string(s -> '@id', path || '.@id');
        statement_time := coalesce(@extschema@.rekor_vex_time(s -> 'timestamp', path || '.timestamp'), doc_time);
        statement := s;
        statement_index := i;
        -- OpenVEX 0.0.x put subcomponents on the statement; 0.2 on each product.
        IF s ? 'subcomponents' AND jsonb_typeof(s -> 'subcomponents') <> 'array' THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.subcomponents', 'must be an array');
        END IF;
        stmt_subs := ARRAY(
            SELECT @extschema@.rekor_vex_component_id(x.c, format('%s.subcomponents[%s]', path, x.o - 1))
            FROM jsonb_array_elements(coalesce(s -> 'subcomponents', '[]')) WITH ORDINALITY AS x(c, o) ORDER BY x.o);

        prods := s -> 'products';
        IF jsonb_typeof(prods) IS DISTINCT FROM 'array' OR jsonb_array_length(prods) = 0 THEN
            PERFORM @extschema@.rekor_vex_invalid(path || '.products', 'must be a non-empty array',
                format('got %s', coalesce(left(prods::text, 200), 'nothing')));
        END IF;
        FOR j IN 0 .. jsonb_array_length(prods) - 1 LOOP
            p := prods -> j;
            product := @extschema@.rekor_vex_component_id(p, format('%s.products[%s]', path, j));
            IF jsonb_typeof(p) = 'object' AND p ? 'subcomponents' AND jsonb_typeof(p -> 'subcomponents') <> 'array' THEN
                PERFORM @extschema@.rekor_vex_invalid(format('%s.products[%s].subcomponents', path, j), 'must be an array');
            END IF;
            subcomponents := stmt_subs || ARRAY(
                SELECT @extschema@.rekor_vex_component_id(x.c, format('%s.products[%s].subcomponents[%s]', path, j, x.o - 1))
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p) = 'object' THEN coalesce(p -> 'subcomponents', '[]') ELSE '[]' END)
                     WITH ORDINALITY AS x(c, o) ORDER BY x.o);
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;

-- Whether the DSSE envelope's payload carries the VEX document: the payload is the document, or an
-- in-toto statement whose predicate is the document or whose predicate's statements[] holds it.
-- NULL when the payload is not base64.
CREATE FUNCTION rekor_vex_attested(envelope jsonb, document jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    b64 text := translate(envelope ->> 'payload', '-_', '+/');
    raw bytea;
    payload jsonb;
BEGIN
    b64 := b64 || repeat('=', (4 - length(b64) % 4) % 4);
    BEGIN
        raw := decode(b64, 'base64');
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
    BEGIN
        payload := convert_from(raw, 'UTF8')::jsonb;
    EXCEPTION WHEN OTHERS THEN
        RETURN false;      -- not JSON: it cannot carry a JSON document
    END;
    RETURN payload = document
        OR payload -> 'predicate' = document
        OR (jsonb_typeof(payload #> '{predicate,statements}') = 'array'
            AND EXISTS (SELECT 1 FROM jsonb_array_elements(payload #> '{predicate,statements}') AS x WHERE x = document));
END
$$;

-- The timestamp of the VEX document the envelope's payload carries (the payload itself, or an
-- in-toto statement's predicate); NULL when there is none or it does not parse.
CREATE FUNCTION rekor_vex_payload_time(envelope jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    b64 text := translate(envelope ->> 'payload', '-_', '+/');
    payload jsonb;
    doc jsonb;
BEGIN
    b64 := b64 || repeat('=', (4 - length(b64) % 4) % 4);
    BEGIN
        payload := convert_from(decode(b64, 'base64'), 'UTF8')::jsonb;
        doc := CASE WHEN jsonb_typeof(payload -> 'predicate') = 'object' THEN payload -> 'predicate' ELSE payload END;
        RETURN (doc ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
END
$$;

-- The time a link may be ordered by: the parsed statement time when the whole document is the
-- logged payload; the statement's own timestamp, else the payload document's, when the statement
-- is carried by itself; NULL when nothing logged carries it.
CREATE FUNCTION rekor_vex_carried_time(envelope jsonb, statement jsonb, parsed_time timestamptz, document_attested boolean)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    own timestamptz;
BEGIN
    IF envelope IS NULL THEN
        RETURN NULL;
    END IF;
    IF document_attested THEN
        RETURN parsed_time;
    END IF;
    IF NOT coalesce(@extschema@.rekor_vex_attested(envelope, statement), false) THEN
        RETURN NULL;
    END IF;
    BEGIN
        own := (statement ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        own := NULL;
    END;
    RETURN coalesce(own, @extschema@.rekor_vex_payload_time(envelope));
END
$$;

-- BEFORE INSERT OR UPDATE on rekor_vex_links: a link names its attestation consistently. A queue
-- item must hold the same envelope and, once linked, have been logged as that entry; an entry linked
-- directly must log an envelope with that digest. Only the link to the entry may be filled in later;
-- only the extension owner may update (the queue trigger runs as the owner).
CREATE FUNCTION rekor_vex_links_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NOT @extschema@.rekor_is_extension_owner() THEN
            RAISE EXCEPTION 'rekor_meta evidence is append-only: UPDATE on rekor_vex_links is not allowed'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF (NEW.link_id, NEW.vulnerability, NEW.vulnerability_aliases, NEW.product, NEW.subcomponents, NEW.status,
            NEW.justification, NEW.impact_statement, NEW.action_statement, NEW.format, NEW.statement_id,
            NEW.statement_index, NEW.statement_time, NEW.statement, NEW.document_digest, NEW.envelope_digest, NEW.created_at)
           IS DISTINCT FROM
           (OLD.link_id, OLD.vulnerability, OLD.vulnerability_aliases, OLD.product, OLD.subcomponents, OLD.status,
            OLD.justification, OLD.impact_statement, OLD.action_statement, OLD.format, OLD.statement_id,
            OLD.statement_index, OLD.statement_time, OLD.statement, OLD.document_digest, OLD.envelope_digest, OLD.created_at) THEN
            RAISE EXCEPTION 'a VEX link''s statement and attestation cannot change; only its entry can be filled in'
                USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = format('link_id %s', OLD.link_id);
        END IF;
        IF OLD.entry_id IS NOT NULL AND NEW.entry_id IS DISTINCT FROM OLD.entry_id THEN
            RAISE EXCEPTION 'a linked VEX statement keeps its entry'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('link_id %s is linked to entry %s', OLD.link_id, OLD.entry_id);
        END IF;
    END IF;
    IF NEW.queue_id IS NOT NULL THEN
        SELECT x.envelope_sha256, x.state, x.entry_id INTO q
        FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = NEW.queue_id;
        IF FOUND AND q.envelope_sha256 <> NEW.envelope_digest THEN
            RAISE EXCEPTION 'the queue item holds another envelope than the link names' USING ERRCODE = 'check_violation',
                DETAIL = format('queue_id %s has envelope %s, the link names %s', NEW.queue_id,
                                encode(q.envelope_sha256, 'hex'), encode(NEW.envelope_digest, 'hex'));
        END IF;
        IF FOUND AND NEW.entry_id IS NOT NULL AND (q.state <> 'submitted' OR q.entry_id <> NEW.entry_id) THEN
            RAISE EXCEPTION 'the entry is not the one the queue item was logged as' USING ERRCODE = 'check_violation',
                DETAIL = format('queue_id %s is %s with entry %s; the link names entry %s', NEW.queue_id, q.state,
                                coalesce(q.entry_id::text, 'none'), NEW.entry_id);
        END IF;
    ELSIF NEW.entry_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM @extschema@.rekor_entries e, @extschema@.rekor_body_digests(e.body) d
                       WHERE e.entry_id = NEW.entry_id AND d.role = 'envelope' AND d.algorithm = 'sha256'
                         AND d.digest = NEW.envelope_digest) THEN
            RAISE EXCEPTION 'the entry does not log this envelope' USING ERRCODE = 'check_violation',
                DETAIL = format('entry %s logs no envelope with SHA-256 %s', NEW.entry_id, encode(NEW.envelope_digest, 'hex'));
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER rekor_vex_links_verify BEFORE INSERT OR UPDATE ON rekor_vex_links
    FOR EACH ROW EXECUTE FUNCTION rekor_vex_links_verify();
CREATE TRIGGER rekor_vex_links_append_only BEFORE DELETE ON rekor_vex_links
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_vex_links_no_truncate BEFORE TRUNCATE ON rekor_vex_links
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- AFTER UPDATE on rekor_submission_queue, when an item becomes submitted (rekor_mark_submitted):
-- every link still waiting for that envelope is linked to the entry it was logged as.
CREATE FUNCTION rekor_vex_link_submitted() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.rekor_vex_links l
    SET entry_id = NEW.entry_id, queue_id = NEW.queue_id, linked_at = now(),
        attested = coalesce(l.attested, @extschema@.rekor_vex_attested(NEW.envelope, l.statement))
    WHERE l.envelope_digest = NEW.envelope_sha256 AND l.entry_id IS NULL;
    RETURN NULL;
END
$$;

-- OF entry_id: an item becomes submitted only with its entry_id set in the same UPDATE (the queue's
-- CHECK ties the two), so updates that leave entry_id out (every dequeue and ack) skip the trigger
-- without its WHEN clause, which PostgreSQL would otherwise read back and plan in each of them.
CREATE TRIGGER rekor_vex_link_submitted AFTER UPDATE OF entry_id ON rekor_submission_queue
    FOR EACH ROW WHEN (NEW.state = 'submitted' AND OLD.state IS DISTINCT FROM 'submitted')
    EXECUTE FUNCTION rekor_vex_link_submitted();

-- Stores the links of one VEX document to one attestation (idempotent: the same document and
-- attestation again changes nothing) and returns all of them. A link's statement_time is the time
-- the logged payload carries (rekor_vex_carried_time).
CREATE FUNCTION rekor_vex_store(document jsonb, envelope_digest bytea, queue_id bigint, entry_id bigint, envelope jsonb)
RETURNS SETOF rekor_vex_links
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- SHA-256 of the document's jsonb text: PostgreSQL's normalized form (duplicate keys removed,
    -- keys ordered by length then bytes, ", " and ": " separators), so equal documents hash equally.
    doc_digest bytea := sha256(convert_to($1::text, 'UTF8'));
    doc_attested boolean := CASE WHEN $5 IS NULL THEN NULL ELSE @extschema@.rekor_vex_attested($5, $1) END;
BEGIN
    INSERT INTO @extschema@.rekor_vex_links AS l
        (vulnerability, vulnerability_aliases, product, subcomponents, status, justification, impact_statement,
         action_statement, format, statement_id, statement_index, statement_time, statement, document_digest,
         envelope_digest, queue_id, entry_id, attested, linked_at)
    SELECT p.vulnerability, p.vulnerability_aliases, p.product, p.subcomponents, p.status, p.justification,
           p.impact_statement, p.action_statement, p.format, p.statement_id, p.statement_index,
           @extschema@.rekor_vex_carried_time($5, p.statement, p.statement_time, coalesce(doc_attested, false)),
           p.statement, doc_digest, $2, $3, $4,
           -- a document is carried as a whole, or statement by statement (OpenVEX statements[])
           CASE WHEN $5 IS NULL THEN NULL
                ELSE doc_attested OR coalesce(@extschema@.rekor_vex_attested($5, p.statement), false) END,
           CASE WHEN $4 IS NULL THEN NULL ELSE now() END
    FROM @extschema@.rekor_parse_vex($1) AS p
    WHERE NOT EXISTS (SELECT 1 FROM @extschema@.rekor_vex_links x
                      WHERE x.envelope_digest = $2 AND x.document_digest = doc_digest
                        AND x.statement_index = p.statement_index AND x.vulnerability = p.vulnerability
                        AND x.product = p.product)
    ON CONFLICT ON CONSTRAINT rekor_vex_links_statement_key DO NOTHING;
    IF $4 IS NOT NULL THEN
        -- Links stored earlier while the envelope was not yet logged.
        UPDATE @extschema@.rekor_vex_links l SET entry_id = $4, queue_id = coalesce($3, l.queue_id), linked_at = now()
        WHERE l.envelope_digest = $2 AND l.document_digest = doc_digest AND l.entry_id IS NULL;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.rekor_vex_links l
                 WHERE l.envelope_digest = $2 AND l.document_digest = doc_digest
                 ORDER BY l.link_id;
END
$$;

-- Links a VEX document (or statement) to the attestation queued as `queue_id`: linked to its entry
-- now if the item is already submitted, otherwise automatically when rekor_mark_submitted completes.
CREATE FUNCTION rekor_link_vex(statement jsonb, queue_id bigint) RETURNS SETOF rekor_vex_links
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    q @extschema@.rekor_submission_queue;
BEGIN
    -- FOR SHARE: a concurrent rekor_mark_submitted of this item either completes first (and is seen
    -- here) or waits for these links to commit (and its trigger sees them).
    SELECT * INTO q FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = $2 FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown queue item' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('queue_id %s', $2);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.rekor_vex_store($1, q.envelope_sha256, q.queue_id,
                                                          CASE WHEN q.state = 'submitted' THEN q.entry_id END, q.envelope);
END
$$;

-- Links a VEX document (or statement) to the attestation whose envelope has SHA-256 `envelope_digest`:
-- a queue item with that envelope_sha256 (a submitted one first), else a stored entry that logs an
-- envelope with that hash (dsse envelopeHash); 22023 when neither exists.
CREATE FUNCTION rekor_link_vex(statement jsonb, envelope_digest bytea) RETURNS SETOF rekor_vex_links
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    q @extschema@.rekor_submission_queue;
    entry bigint;
BEGIN
    IF length($2) <> 32 THEN
        RAISE EXCEPTION 'envelope_digest must be a SHA-256 (32 bytes)' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('got %s bytes', length($2));
    END IF;
    -- Items are found through the insert-only key table (the queue itself has no envelope index).
    PERFORM 1 FROM @extschema@.rekor_submission_queue x
    WHERE x.queue_id IN (SELECT k.queue_id FROM @extschema@.rekor_submission_keys k WHERE k.envelope_sha256 = $2)
    FOR SHARE;
    SELECT * INTO q FROM @extschema@.rekor_submission_queue x
    WHERE x.queue_id IN (SELECT k.queue_id FROM @extschema@.rekor_submission_keys k WHERE k.envelope_sha256 = $2)
      AND x.envelope_sha256 = $2
    ORDER BY x.state = 'submitted' DESC, x.queue_id LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT * FROM @extschema@.rekor_vex_store($1, q.envelope_sha256, q.queue_id,
                                                              CASE WHEN q.state = 'submitted' THEN q.entry_id END, q.envelope);
        RETURN;
    END IF;
    SELECT e.entry_id INTO entry FROM @extschema@.rekor_entries e
    WHERE e.digest_keys @> ARRAY[@extschema@.rekor_digest_key('sha256', $2)]
      AND EXISTS (SELECT 1 FROM @extschema@.rekor_body_digests(e.body) d
                  WHERE d.role = 'envelope' AND d.algorithm = 'sha256' AND d.digest = $2)
    ORDER BY e.entry_id LIMIT 1;
    IF entry IS NULL THEN
        RAISE EXCEPTION 'no attestation with this envelope digest' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('no queue item has envelope_sha256 %s, and no stored entry logs an envelope with that hash',
                            encode($2, 'hex')),
            HINT = 'Enqueue the envelope (rekor_enqueue) or ingest its Rekor entry first, or link by queue_id.';
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.rekor_vex_store($1, $2, NULL, entry, NULL);
END
$$;

-- What an auditor asks: the VEX statements about `vulnerability` (its name or an alias) in `product`,
-- newest first by the time the logged payload carries (links whose time nothing logged carries come
-- after every timed one, newest link first), each with the entry that logs its attestation and
-- whether that entry verifies now (rekor_verify_inclusion, from scratch):
--   proven    the entry's inclusion proof, checkpoint and SET verify
--   unproven  the entry does not verify (proof_detail names the failed check)
--   pending   the attestation is not logged yet (proof_detail gives the queue item's state)
-- `attested` says whether the logged envelope's payload carries the statement (NULL: not known);
-- integrated_time is shown only where a SET signs it.
CREATE FUNCTION rekor_vex_evidence(vulnerability text, product text)
RETURNS TABLE (link_id bigint, status text, justification text, statement_id text, document_digest bytea,
               queue_id bigint, entry_id bigint, proof text, integrated_time timestamptz, log_id bytea,
               statement_time timestamptz, impact_statement text, action_statement text, subcomponents text[],
               envelope_digest bytea, attested boolean, proof_detail text, linked_at timestamptz)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    l record;
    q record;
    e record;
    eid bigint;
    ok boolean;
BEGIN
    FOR l IN
        SELECT x.* FROM @extschema@.rekor_vex_links x
        WHERE x.product = $2 AND (x.vulnerability = $1 OR $1 = ANY (x.vulnerability_aliases))
        -- Newest first by the time the logged payload carries; links whose time nothing logged
        -- carries come after every timed one, newest link first.
        ORDER BY x.statement_time DESC NULLS LAST, x.created_at DESC, x.link_id DESC
    LOOP
        link_id := l.link_id; status := l.status; justification := l.justification; statement_id := l.statement_id;
        document_digest := l.document_digest; queue_id := l.queue_id; statement_time := l.statement_time;
        impact_statement := l.impact_statement; action_statement := l.action_statement;
        subcomponents := l.subcomponents; envelope_digest := l.envelope_digest; attested := l.attested;
        linked_at := l.linked_at;
        integrated_time := NULL; log_id := NULL; proof_detail := NULL;
        eid := l.entry_id;
        IF eid IS NULL THEN
            -- Not linked yet; an item of this envelope may have been submitted meanwhile.
            SELECT x.queue_id, x.entry_id INTO q FROM @extschema@.rekor_submission_queue x
            WHERE x.queue_id IN (SELECT k.queue_id FROM @extschema@.rekor_submission_keys k
                                 WHERE k.envelope_sha256 = l.envelope_digest)
              AND x.envelope_sha256 = l.envelope_digest AND x.state = 'submitted' ORDER BY x.queue_id LIMIT 1;
            IF FOUND THEN
                queue_id := q.queue_id;
                eid := q.entry_id;
            END IF;
        END IF;
        entry_id := eid;
        IF eid IS NULL THEN
            proof := 'pending';
            SELECT x.state, x.attempts, x.max_attempts, x.last_error INTO q
            FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = l.queue_id;
            proof_detail := format('the attestation is not logged yet: queue item %s is %s after %s of %s attempts%s',
                                   l.queue_id, q.state, q.attempts, q.max_attempts,
                                   coalesce(' (last error: ' || q.last_error || ')', ''));
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT x.integrated_time, x.integrated_time_authenticated, x.log_id, x.tree_size INTO e
        FROM @extschema@.rekor_entries x WHERE x.entry_id = eid;
        integrated_time := CASE WHEN e.integrated_time_authenticated THEN e.integrated_time END;
        log_id := e.log_id;
        BEGIN
            ok := @extschema@.rekor_verify_inclusion(eid);
        EXCEPTION WHEN OTHERS THEN
            ok := false;
            IF SQLSTATE <> '23514' THEN  -- 23514: a failed check, which the report below names
                proof_detail := format('entry %s cannot be verified: %s', eid, SQLERRM);
            END IF;
        END;
        IF ok THEN
            proof := 'proven';
            proof_detail := format('entry %s verifies: inclusion proof to a signed checkpoint of tree size %s', eid, e.tree_size);
        ELSE
            proof := 'unproven';
            IF proof_detail IS NULL THEN
                BEGIN
                    SELECT format('entry %s does not verify: check %s (%s) failed: %s', eid, r.step, r."check", r.reason)
                    INTO proof_detail
                    FROM @extschema@.rekor_verify_inclusion_report(eid) r WHERE NOT r.passed ORDER BY r.step LIMIT 1;
                EXCEPTION WHEN OTHERS THEN
                    proof_detail := format('entry %s cannot be verified: %s', eid, SQLERRM);
                END;
                proof_detail := coalesce(proof_detail, format('entry %s does not verify', eid));
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The evidence a third party checks without this database (issue 14): for every statement
-- rekor_vex_evidence shows proven, the Sigstore bundle of the entry that logs its attestation
-- (rekor_export_bundle; verify it with cosign verify-blob-attestation or sigstore-go against the
-- same trusted root), in the same order. bundle is NULL, with bundle_error saying why, for an entry
-- a bundle cannot carry (55000 of rekor_export_bundle).
CREATE FUNCTION rekor_vex_evidence_bundles(vulnerability text, product text)
RETURNS TABLE (link_id bigint, status text, statement_id text, entry_id bigint, bundle jsonb, bundle_error text)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v record;
BEGIN
    FOR v IN SELECT x.link_id, x.status, x.statement_id, x.entry_id
             FROM @extschema@.rekor_vex_evidence($1, $2) x WHERE x.proof = 'proven'
    LOOP
        link_id := v.link_id; status := v.status; statement_id := v.statement_id; entry_id := v.entry_id;
        bundle_error := NULL;
        BEGIN
            bundle := @extschema@.rekor_export_bundle(v.entry_id);
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            bundle := NULL;
            bundle_error := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
