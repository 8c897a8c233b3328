-- Companion GIN indexes for FerretDB v1 on PostgreSQL (ADR 0165).
--
-- FerretDB v1 (checked: v1.24.2) pushes an equality filter down to PostgreSQL as
--   _jsonb->'field' @> '<json value>'          (dotted fields: _jsonb#>'{a,b}' @> ...)
-- but builds every MongoDB index (createIndex, and `_id`) as a btree expression index on
-- ((_jsonb->'field')), which `@>` cannot use: every find, update and delete scans its whole table.
-- This file installs two event triggers in FerretDB's PostgreSQL database:
--   * after a CREATE INDEX of a btree index whose keys are `_jsonb -> ...` expressions, a GIN index
--     (jsonb_ops, which serves `@>`) on each such expression of the table, unless the table has one;
--   * after a DROP INDEX (MongoDB dropIndexes), the companions whose expression no btree index of
--     their table has any more are dropped. (dropCollection and dropDatabase drop the table or the
--     schema, and the companions with it.)
-- The companions are invisible through the MongoDB protocol (FerretDB lists indexes from its own
-- metadata) and are named `<table>_<12 hex>_gin` (FerretDB's own end in `_idx`).
--
-- Apply it as a superuser (event triggers need one) to the database named in FerretDB's
-- --postgresql-url, before or after FerretDB created its collections:
--   psql -v ON_ERROR_STOP=1 -d ferretdb -f docs/operations/ferretdb-gin-indexes.sql
-- It is idempotent, and it ends with a backfill for the indexes that exist already (a GIN build
-- per indexed field: on large collections run it at a quiet time). Real MongoDB needs none of this.
-- Remove: DROP SCHEMA caas_ferretdb_gin CASCADE (the triggers go with their functions; the
-- companion indexes stay until dropped).

SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS caas_ferretdb_gin;

-- Every single-key GIN index of a table, companion or not, with its key as filter_expr prints it
-- (pg_get_indexdef adds a pair of parentheses around an expression key of a GIN index).
CREATE OR REPLACE VIEW caas_ferretdb_gin.gin_keys AS
SELECT i.indrelid AS table_oid, i.indexrelid AS index_oid, regexp_replace(pg_get_indexdef(i.indexrelid, 1, false), '^\((.*)\)$', '\1') AS key_def
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_am am ON am.oid = c.relam
 WHERE am.amname = 'gin' AND i.indnkeyatts = 1;

-- The `@>`-able form of a FerretDB index key: `_jsonb -> 'a'` stays as is; a nested key
-- `_jsonb -> 'a' -> 'b'` becomes `_jsonb #> '{a,b}'`, the form FerretDB filters dotted fields by.
-- NULL for a key that is not a FerretDB field expression.
CREATE OR REPLACE FUNCTION caas_ferretdb_gin.filter_expr(key_def text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  parts text[];
  m text[];
BEGIN
  -- pg_get_indexdef(index, k, false) prints a key as (_jsonb -> 'a'::text) or ((_jsonb -> 'a'::text) -> 'b'::text).
  IF key_def !~ '^\(*_jsonb -> ''' THEN
    RETURN NULL;
  END IF;
  FOR m IN SELECT regexp_matches(key_def, '-> ''((?:[^'']|'''')*)''::text', 'g') LOOP
    parts := parts || replace(m[1], '''''', '''');
  END LOOP;
  IF parts IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(parts) = 1 THEN
    RETURN format('(_jsonb -> %L::text)', parts[1]);
  END IF;
  RETURN format('(_jsonb #> %L::text[])', parts::text);
END
$$;

-- Creates the missing companions of one btree index.
CREATE OR REPLACE FUNCTION caas_ferretdb_gin.companions_of(index_oid oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ix record;
  k int;
  expr text;
  gin_name text;
BEGIN
  SELECT i.indexrelid, i.indrelid, i.indnkeyatts, n.nspname AS schema_name, t.relname AS table_name, am.amname
    INTO ix
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = c.relam
   WHERE i.indexrelid = index_oid;
  -- Only btree indexes: the GIN ones created below come back through the trigger and stop here.
  IF NOT FOUND OR ix.amname <> 'btree' THEN
    RETURN;
  END IF;
  FOR k IN 1..ix.indnkeyatts LOOP
    expr := caas_ferretdb_gin.filter_expr(pg_get_indexdef(ix.indexrelid, k, false));
    CONTINUE WHEN expr IS NULL;
    CONTINUE WHEN EXISTS (SELECT 1 FROM caas_ferretdb_gin.gin_keys g WHERE g.table_oid = ix.indrelid AND g.key_def = expr);
    gin_name := left(ix.table_name, 45) || '_' || left(md5(expr), 12) || '_gin';
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (%s)', gin_name, ix.schema_name, ix.table_name, expr);
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION caas_ferretdb_gin.on_create_index() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cmd record;
BEGIN
  FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
    PERFORM caas_ferretdb_gin.companions_of(cmd.objid);
  END LOOP;
END
$$;

-- Drops the companions (GIN, named *_gin, on a `_jsonb` key) of the tables in the schemas an index
-- was dropped from whose key no btree index of the table has any more.
CREATE OR REPLACE FUNCTION caas_ferretdb_gin.on_drop_index() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  orphan record;
BEGIN
  -- The companions' own DROP INDEX statements below fire this trigger again: nothing to do then.
  IF current_setting('caas_ferretdb_gin.dropping', true) = 'on' THEN
    RETURN;
  END IF;
  PERFORM set_config('caas_ferretdb_gin.dropping', 'on', true);
  FOR orphan IN
    SELECT n.nspname AS schema_name, c.relname AS index_name
      FROM caas_ferretdb_gin.gin_keys g
      JOIN pg_class c ON c.oid = g.index_oid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname LIKE '%\_gin'
       AND n.nspname IN (SELECT DISTINCT d.schema_name FROM pg_event_trigger_dropped_objects() d WHERE d.object_type = 'index')
       AND g.key_def ~ '^\(_jsonb (->|#>) '
       AND NOT EXISTS (
             SELECT 1
               FROM pg_index b
               JOIN pg_class bc ON bc.oid = b.indexrelid
               JOIN pg_am bam ON bam.oid = bc.relam
               CROSS JOIN LATERAL generate_series(1, b.indnkeyatts) AS k
              WHERE b.indrelid = g.table_oid AND bam.amname = 'btree'
                AND caas_ferretdb_gin.filter_expr(pg_get_indexdef(b.indexrelid, k, false)) = g.key_def)
  LOOP
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', orphan.schema_name, orphan.index_name);
  END LOOP;
  PERFORM set_config('caas_ferretdb_gin.dropping', 'off', true);
END
$$;

-- The functions run as the role whose statement fired them (FerretDB's, owner of its tables).
GRANT USAGE ON SCHEMA caas_ferretdb_gin TO PUBLIC;
GRANT SELECT ON caas_ferretdb_gin.gin_keys TO PUBLIC;

DROP EVENT TRIGGER IF EXISTS caas_ferretdb_gin_create;
CREATE EVENT TRIGGER caas_ferretdb_gin_create ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION caas_ferretdb_gin.on_create_index();

DROP EVENT TRIGGER IF EXISTS caas_ferretdb_gin_drop;
CREATE EVENT TRIGGER caas_ferretdb_gin_drop ON sql_drop WHEN TAG IN ('DROP INDEX')
  EXECUTE FUNCTION caas_ferretdb_gin.on_drop_index();

-- Backfill: companions for the btree indexes that exist already.
DO $$
BEGIN
  PERFORM caas_ferretdb_gin.companions_of(i.indexrelid)
     FROM pg_index i
     JOIN pg_class t ON t.oid = i.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast');
END
$$;
