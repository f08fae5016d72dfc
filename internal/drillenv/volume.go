package drillenv

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/moby/moby/client"

	"github.com/rollbook/rollbook/internal/diag"
)

// fillVersion changes whenever the generator writes other rows: it is
// part of the cached database's key.
const fillVersion = "fill-v1"

// fillBatch is how many rows one INSERT … SELECT generate_series writes:
// large enough that the statement, not the round trip, is the cost, small
// enough that a cancelled drill stops within a second or two.
const fillBatch = 250_000

// labelVolume marks a database image that holds a filled volume; its
// value is the key the image was made for.
const labelVolume = "rollbook.volume"

// VolumeError is data a drill cannot load: Field is the front-matter path
// of the value at fault (gameday.database.volume.items, or
// gameday.database.seed), so the caller can point at its line.
type VolumeError struct {
	Field string
	Msg   string
	Fix   string
}

func (e *VolumeError) Error() string {
	if e.Fix == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Field + ": " + e.Msg + "; " + e.Fix
}

// HasVolume reports whether the service asks for production-like data.
func (s *Service) HasVolume() bool { return len(s.Volume) > 0 || s.Seed != "" }

// volumeKey names the filled database: the database image, the stable
// release (its start-up migrations may make the tables), the schema, the
// seed and the rows asked for. Any of them changing fills again.
func (e *Env) volumeKey(ctx context.Context, c *client.Client, dbImage string, s *Service) (string, error) {
	h := sha256.New()
	img, err := c.ImageInspect(ctx, dbImage)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s\n", fillVersion, img.ID, s.Stable.ID, s.Stable.Ref, s.dbName())
	for _, f := range []string{s.Schema, s.Seed} {
		if f == "" {
			fmt.Fprintln(h, "-")
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%d\n%s\n", len(b), b)
	}
	for _, t := range slices.Sorted(maps.Keys(s.Volume)) {
		fmt.Fprintf(h, "%s=%d\n", t, s.Volume[t])
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// cachedVolume returns the key of the service's filled database, and
// notes in e.Fill when an earlier drill's image of it is on the engine.
func (e *Env) cachedVolume(ctx context.Context, dbImage string, s *Service) (string, error) {
	c, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	key, err := e.volumeKey(ctx, c, dbImage, s)
	if err != nil {
		return "", fmt.Errorf("naming the filled database: %w", err)
	}
	e.Fill.ImageRef = volumeRef(key)
	if imageExists(ctx, c, e.Fill.ImageRef) {
		e.Fill.Cached = true
		e.Fill.Rows = s.Volume
	}
	return key, nil
}

func volumeRef(key string) string { return "rollbook-pgdata:" + key }

// saveVolume commits the filled database container as an image, so the
// next drill with the same key starts from it. The container is paused
// while its files are copied, after a CHECKPOINT, so the copy is what a
// crash at that moment would leave: PostgreSQL starts from it after a
// short recovery.
func (e *Env) saveVolume(ctx context.Context, key string) error {
	c, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	e.mu.Lock()
	ct := e.containers["db"]
	e.mu.Unlock()
	_, err = c.ContainerCommit(ctx, ct.GetContainerID(), client.ContainerCommitOptions{
		Reference: volumeRef(key),
		Comment:   "rollbook drill database with its volume filled",
		Changes:   []string{"LABEL " + labelManaged + "=true", "LABEL " + labelVolume + "=" + key, "LABEL " + labelDrill + "=", "LABEL " + labelOwner + "="},
	})
	if err != nil {
		return fmt.Errorf("keeping the filled database as %s: %w", volumeRef(key), err)
	}
	return nil
}

// FillStats is what loading the volume took.
type FillStats struct {
	Rows     map[string]int64
	Took     time.Duration
	Cached   bool // started from a database filled by an earlier drill
	ImageRef string
}

// fill loads the seed file, then the generated rows, then gathers the
// planner's statistics (production has them) and checkpoints.
func (e *Env) fill(ctx context.Context, s *Service) (map[string]int64, error) {
	conn, err := e.dbConn(ctx, s.dbName(), "rollbook-fill")
	if err != nil {
		return nil, fmt.Errorf("connecting to database %s to fill it: %w", s.dbName(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if s.Seed != "" {
		if err := runSeed(ctx, conn, s.Seed, s.SeedName); err != nil {
			return nil, err
		}
	}
	rows := map[string]int64{}
	if len(s.Volume) > 0 {
		tables, err := readTables(ctx, conn)
		if err != nil {
			return nil, err
		}
		order, err := fillOrder(s.Volume, tables)
		if err != nil {
			return nil, err
		}
		for _, t := range order {
			if err := fillTable(ctx, conn, tables[t], s.Volume[t]); err != nil {
				return nil, err
			}
			rows[t] = s.Volume[t]
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return nil, fmt.Errorf("analyzing the filled database: %w", err)
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpointing the filled database: %w", err)
	}
	return rows, nil
}

// runSeed runs a seed file one statement at a time; an error is placed
// at its line and column in the file.
func runSeed(ctx context.Context, conn *pgx.Conn, file, name string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return &VolumeError{Field: "gameday.database.seed", Msg: fmt.Sprintf("seed file %s cannot be read: %v", name, err), Fix: "write a SQL file path relative to the plan"}
	}
	text := string(src)
	for _, st := range statements(text) {
		if _, err := conn.Exec(ctx, st.text); err != nil {
			line, col := st.line, 1
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Position > 0 {
				line, col = positionIn(st.text, int(pe.Position)-1, st.line)
			}
			return fmt.Errorf("%s:%d:%d: the seed file fails: %w", name, line, col, err)
		}
	}
	return nil
}

// positionIn turns a character offset into stmt (PostgreSQL counts
// characters) into a file line and column, stmt starting on line first.
func positionIn(stmt string, chars, first int) (line, col int) {
	line, col = first, 1
	for i, r := range []rune(stmt) {
		if i >= chars {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// table is one table of the schema as the generator needs it.
type table struct {
	name    string // as written in the volume (schema-qualified when not public)
	ident   string // quoted for SQL
	columns []column
}

type column struct {
	name     string
	typ      string // format_type: character varying(32), integer, …
	base     string // pg_type.typname of the column's type
	kind     byte   // pg_type.typtype: b base, e enum, d domain, …
	notNull  bool
	fill     bool // no default, not identity, not generated
	unique   bool
	maxLen   int    // varchar(n)/char(n); 0 none
	refTable string // foreign key (single column)
	refCol   string
}

const tablesSQL = `
SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END,
       c.oid, a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typtype::text,
       a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
       coalesce(CASE WHEN a.atttypmod > 4 AND t.typname IN ('varchar', 'bpchar') THEN a.atttypmod - 4 END, 0),
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('u', 'p') AND k.conkey = ARRAY[a.attnum]),
       coalesce((SELECT CASE WHEN rn.nspname = 'public' THEN r.relname ELSE rn.nspname || '.' || r.relname END
                 FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
                 WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1), ''),
       coalesce((SELECT ra.attname FROM pg_constraint k JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
                 WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1), '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, a.attnum`

func readTables(ctx context.Context, conn *pgx.Conn) (map[string]*table, error) {
	rows, err := conn.Query(ctx, tablesSQL)
	if err != nil {
		return nil, fmt.Errorf("reading the schema's tables: %w", err)
	}
	defer rows.Close()
	out := map[string]*table{}
	for rows.Next() {
		var name, kind string
		var oid uint32
		var c column
		var hasDef bool
		var maxLen int32
		if err := rows.Scan(&name, &oid, &c.name, &c.typ, &c.base, &kind, &c.notNull, &hasDef, &maxLen, &c.unique, &c.refTable, &c.refCol); err != nil {
			return nil, err
		}
		c.kind, c.fill, c.maxLen = kind[0], !hasDef, int(maxLen)
		t := out[name]
		if t == nil {
			t = &table{name: name, ident: pgx.Identifier(strings.Split(name, ".")).Sanitize()}
			out[name] = t
		}
		t.columns = append(t.columns, c)
	}
	return out, rows.Err()
}

// fillOrder checks every volume table exists and orders them so a table
// is filled after the tables its foreign keys point to.
func fillOrder(volume map[string]int64, tables map[string]*table) ([]string, error) {
	names := slices.Sorted(maps.Keys(tables))
	for _, t := range slices.Sorted(maps.Keys(volume)) {
		if tables[t] == nil {
			fix := "write one of: " + strings.Join(names, ", ")
			if len(names) == 0 {
				fix = "the database has no tables when the volume is loaded: give gameday.database.schema, or let the stable release migrate at start-up"
			} else if c := diag.Closest(t, names, 3); c != "" {
				fix = "did you mean " + c + "? (tables: " + strings.Join(names, ", ") + ")"
			}
			return nil, &VolumeError{Field: "gameday.database.volume." + t, Msg: fmt.Sprintf("table %q is not in the schema", t), Fix: fix}
		}
		if volume[t] <= 0 {
			return nil, &VolumeError{Field: "gameday.database.volume." + t, Msg: fmt.Sprintf("%d rows for %s", volume[t], t), Fix: "write a positive number of rows, for example 500000"}
		}
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return nil // a cycle: its keys must then be nullable or filled by a seed
		case 2:
			return nil
		}
		state[t] = 1
		for _, c := range tables[t].columns {
			if c.refTable != "" && c.refTable != t && volume[c.refTable] > 0 {
				if err := visit(c.refTable); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range slices.Sorted(maps.Keys(volume)) {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// fillTable writes rows generated rows into t, in batches, each an
// INSERT … SELECT over generate_series so the rows never cross the
// network. Values follow each column's type; unique columns get distinct
// values, foreign keys values the referenced table has.
func fillTable(ctx context.Context, conn *pgx.Conn, t *table, rows int64) error {
	var cols, exprs, ctes []string
	for _, c := range t.columns {
		if !c.fill {
			continue
		}
		var expr string
		if c.refTable != "" {
			var err error
			var cte string
			if expr, cte, err = foreignKey(ctx, conn, t, c, len(ctes)); err != nil {
				return err
			}
			if cte != "" {
				ctes = append(ctes, cte)
			}
		} else {
			var err error
			if expr, err = generate(c); err != nil {
				return &VolumeError{Field: "gameday.database.volume." + t.name, Msg: fmt.Sprintf("column %s.%s has type %s, which the volume generator does not know", t.name, c.name, c.typ), Fix: "load this table with gameday.database.seed (a SQL file), or give the column a default"}
			}
		}
		cols = append(cols, pgx.Identifier{c.name}.Sanitize())
		exprs = append(exprs, expr)
	}
	if len(cols) == 0 {
		return &VolumeError{Field: "gameday.database.volume." + t.name, Msg: "every column of " + t.name + " has a default, so generated rows would all be alike", Fix: "load it with gameday.database.seed"}
	}
	var base int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t.ident).Scan(&base); err != nil {
		return err
	}
	with := ""
	if len(ctes) > 0 {
		with = "WITH " + strings.Join(ctes, ", ") + " "
	}
	from := " FROM generate_series($1::bigint, $2::bigint) AS g"
	for i := range ctes {
		from += ", ref_" + strconv.Itoa(i)
	}
	q := with + "INSERT INTO " + t.ident + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") + from
	for from := base + 1; from <= base+rows; from += fillBatch {
		to := min(from+fillBatch-1, base+rows)
		if _, err := conn.Exec(ctx, q, from, to); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.ConstraintName != "" {
				var def string
				_ = conn.QueryRow(ctx, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1 LIMIT 1", pe.ConstraintName).Scan(&def)
				return &VolumeError{Field: "gameday.database.volume." + t.name, Msg: fmt.Sprintf("generated rows for %s break constraint %s (%s): %s", t.name, pe.ConstraintName, def, pe.Message), Fix: "a generator cannot know this rule: load " + t.name + " with gameday.database.seed"}
			}
			return fmt.Errorf("filling %s: %w", t.name, err)
		}
	}
	return nil
}

// foreignKey is the expression that fills a foreign-key column with keys
// the referenced table has: a range when its keys are dense integers (a
// serial key the generator filled), else one of its first thousand keys,
// from a CTE the caller adds as ref_N.
func foreignKey(ctx context.Context, conn *pgx.Conn, t *table, c column, n int) (expr, cte string, err error) {
	ref := pgx.Identifier(strings.Split(c.refTable, ".")).Sanitize()
	col := pgx.Identifier{c.refCol}.Sanitize()
	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+ref).Scan(&count); err != nil {
		return "", "", fmt.Errorf("reading %s for %s.%s: %w", c.refTable, t.name, c.name, err)
	}
	if count == 0 {
		return "", "", &VolumeError{Field: "gameday.database.volume." + t.name, Msg: fmt.Sprintf("%s.%s refers to %s, which has no rows to refer to", t.name, c.name, c.refTable), Fix: "add " + c.refTable + " to gameday.database.volume, or load it with gameday.database.seed"}
	}
	switch c.base {
	case "int2", "int4", "int8":
		var lo, hi int64
		if err := conn.QueryRow(ctx, "SELECT min("+col+")::bigint, max("+col+")::bigint FROM "+ref).Scan(&lo, &hi); err == nil && hi-lo+1 == count {
			return fmt.Sprintf("(%d + g %% %d)::%s", lo, count, c.typ), "", nil
		}
	}
	alias := "ref_" + strconv.Itoa(n)
	return fmt.Sprintf("%s.k[1 + (g %% cardinality(%s.k))]", alias, alias),
		fmt.Sprintf("%s AS (SELECT array_agg(%s) AS k FROM (SELECT %s FROM %s LIMIT 1000) s)", alias, col, col, ref), nil
}

// generate is the SQL expression, over the row number g, that fills a
// column of c's type.
func generate(c column) (string, error) {
	text := func() string {
		e := fmt.Sprintf("'%s-' || g", strings.ReplaceAll(c.name, "'", "''"))
		if c.maxLen > 0 {
			e = fmt.Sprintf("right(%s, %d)", e, c.maxLen)
		}
		return e
	}
	num := "(1 + g % 1000)"
	if c.unique {
		num = "g"
	}
	if c.kind == 'e' {
		return fmt.Sprintf("(enum_range(NULL::%s))[1 + (g %% cardinality(enum_range(NULL::%s)))]", c.typ, c.typ), nil
	}
	switch c.base {
	case "int2":
		return "(" + num + " % 32000)::smallint", nil
	case "int4", "int8", "oid":
		return num + "::" + c.typ, nil
	case "numeric", "float4", "float8", "money":
		return "(" + num + " / 100.0)::" + c.typ, nil
	case "text", "varchar", "bpchar", "name", "citext":
		return text() + "::" + c.typ, nil
	case "bool":
		return "(g % 2 = 0)", nil
	case "timestamptz", "timestamp":
		return "(now() - make_interval(secs => (g % 7776000)::float8))::" + c.typ, nil
	case "date":
		return "(current_date - (g % 3650)::int)", nil
	case "time", "timetz":
		return "(time '00:00' + make_interval(secs => (g % 86400)::float8))::" + c.typ, nil
	case "interval":
		return "make_interval(secs => (g % 86400)::float8)", nil
	case "uuid":
		return "md5('" + c.name + "' || g)::uuid", nil
	case "json", "jsonb":
		return "json_build_object('n', g)::" + c.typ, nil
	case "bytea":
		return "decode(md5(g::text), 'hex')", nil
	case "inet", "cidr":
		return "('10.0.0.0'::inet + (g % 16000000))::" + c.typ, nil
	}
	return "", fmt.Errorf("unknown type %s", c.typ)
}

// sortedRows is the volume for people: table=rows, largest first.
func sortedRows(rows map[string]int64) []string {
	ts := slices.SortedFunc(maps.Keys(rows), func(a, b string) int { return cmp.Or(cmp.Compare(rows[b], rows[a]), cmp.Compare(a, b)) })
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmt.Sprintf("%s=%d", t, rows[t])
	}
	return out
}
