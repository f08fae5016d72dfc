// Package migrate owns migration safety: it parses SQL with the real
// PostgreSQL parser (libpg_query, run as WebAssembly so no C compiler is
// needed) and classifies each statement as expand (the previous release
// keeps working against the new schema) or contract (it does not: rolling
// the code back after it runs is unsafe). It also applies the static lock
// rules (locks.go): statements that hold, or queue for, a lock that stops
// the service's queries, with the lock they take and the safe way to write
// them. The checks, the plan page and the game-day drill all use it.
package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgquery "github.com/wasilibs/go-pgquery"
	pgparser "github.com/wasilibs/go-pgquery/parser"
)

// Phase is a migration's place in an expand/contract change.
type Phase string

const (
	Expand   Phase = "expand"
	Contract Phase = "contract"
)

// Finding is one statement worth a reader's attention: in
// Result.Findings what it does to the previous release (Phase, Kind),
// in Result.Locks a lock rule it breaks (Kind is the rule's ID, with
// Lock, Rewrites, Scans and Fix).
type Finding struct {
	Line, Column int
	Phase        Phase  `json:",omitempty"`
	Kind         string // drop-column, rename-table, …; a lock rule's ID
	Object       string // table or table.column
	Statement    string
	Reason       string
	// Lock is the table lock the statement takes, as pg_locks.mode spells
	// it (Lock.Name() is the documentation's "ACCESS EXCLUSIVE"); "" when
	// the rule is not about a lock.
	Lock LockMode `json:",omitempty"`
	// Rewrites: the statement copies the table while holding Lock; Scans:
	// it reads every row while holding Lock.
	Rewrites bool `json:",omitempty"`
	Scans    bool `json:",omitempty"`
	// Fix is the safe way to write the statement.
	Fix string `json:",omitempty"`
}

// Result classifies a whole migration: contract if any statement is.
type Result struct {
	Phase    Phase
	Findings []Finding
	// Locks are the lock rules the statements break, in file order.
	Locks []Finding `json:",omitempty"`
}

// SyntaxError is SQL the PostgreSQL parser rejects.
type SyntaxError struct {
	Line, Column int
	Message      string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%d:%d: SQL syntax error: %s", e.Line, e.Column, e.Message)
}

// AnalyzeFile analyses the SQL file at path. Results are cached by the
// SQL's hash in the user's cache folder: starting the parser costs about a
// second (it compiles WebAssembly), which every build would otherwise pay.
func AnalyzeFile(path string) (Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Result{}, err
	}
	cacheFile := cachePath(src)
	if res, ok := readCache(cacheFile); ok {
		return res, nil
	}
	res, err := Analyze(src)
	if err == nil {
		writeCache(cacheFile, res)
	}
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return res, fmt.Errorf("%s:%d:%d: SQL syntax error: %s", path, se.Line, se.Column, se.Message)
		}
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// cacheVersion changes whenever the classification rules do.
const cacheVersion = "v2"

// CacheDir is where results are cached; "" turns caching off. Tests set it.
var CacheDir = func() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "rollbook", "migrate")
}()

func cachePath(src []byte) string {
	if CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256(src)
	return filepath.Join(CacheDir, cacheVersion+"-"+hex.EncodeToString(sum[:])+".json")
}

func readCache(file string) (Result, bool) {
	if file == "" {
		return Result{}, false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return Result{}, false
	}
	var res Result
	if json.Unmarshal(b, &res) != nil || res.Phase != Expand && res.Phase != Contract {
		return Result{}, false
	}
	return res, true
}

// writeCache stores a result atomically; a cache that cannot be written is
// only slower, never wrong.
func writeCache(file string, res Result) {
	if file == "" {
		return
	}
	b, err := json.Marshal(res)
	if err != nil || os.MkdirAll(filepath.Dir(file), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), file) != nil {
		os.Remove(tmp.Name())
	}
}

// Analyze classifies every statement of a SQL migration.
func Analyze(sql []byte) (Result, error) {
	res := Result{Phase: Expand}
	if !utf8.Valid(sql) {
		return res, &SyntaxError{Line: 1, Column: 1, Message: "file is not valid UTF-8"}
	}
	src := string(sql)
	tree, err := pgquery.Parse(src)
	if err != nil {
		var pe *pgparser.Error
		if errors.As(err, &pe) {
			line, col := position(src, int(pe.Cursorpos)-1)
			return res, &SyntaxError{Line: line, Column: col, Message: pe.Message}
		}
		return res, err
	}
	state := newFileState()
	for _, raw := range tree.GetStmts() {
		start := int(raw.GetStmtLocation())
		end := len(src)
		if l := int(raw.GetStmtLen()); l > 0 && start+l <= len(src) {
			end = start + l
		}
		// The statement's location includes comments and blank lines before it.
		text := src[start:end]
		trimmed := strings.TrimLeft(SkipComments(text), " \t\r\n")
		start += len(text) - len(trimmed)
		line, col := position(src, start)
		for _, f := range classify(raw.GetStmt()) {
			f.Line, f.Column = line, col
			f.Statement = OneLine(trimmed)
			if f.Phase == Contract {
				res.Phase = Contract
			}
			res.Findings = append(res.Findings, f)
		}
		for _, f := range state.lockFindings(raw.GetStmt()) {
			f.Line, f.Column = line, col
			f.Statement = OneLine(trimmed)
			res.Locks = append(res.Locks, f)
		}
		state.observe(raw.GetStmt())
	}
	return res, nil
}

// SkipComments returns s from its first character that is not in a
// leading comment or blank: where a statement written after its comments
// starts.
func SkipComments(s string) string {
	for {
		t := strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(t, "--"):
			i := strings.IndexByte(t, '\n')
			if i < 0 {
				return ""
			}
			s = t[i+1:]
		case strings.HasPrefix(t, "/*"):
			i := strings.Index(t, "*/")
			if i < 0 {
				return t
			}
			s = t[i+2:]
		default:
			return t
		}
	}
}

// position turns a byte offset into a 1-based line and column (in runes).
func position(src string, off int) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > len(src) {
		off = len(src)
	}
	line, col = 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// OneLine is a statement on one line, cut to what a finding shows.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func rel(rv *pg.RangeVar) string {
	if rv == nil {
		return "?"
	}
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

func contract(kind, object, reason string) Finding {
	return Finding{Phase: Contract, Kind: kind, Object: object, Reason: reason}
}

func expand(kind, object, reason string) Finding {
	return Finding{Phase: Expand, Kind: kind, Object: object, Reason: reason}
}

// classify returns what one statement does to the previous release.
func classify(n *pg.Node) []Finding {
	switch {
	case n.GetAlterTableStmt() != nil:
		return alterTable(n.GetAlterTableStmt())
	case n.GetDropStmt() != nil:
		return drop(n.GetDropStmt())
	case n.GetRenameStmt() != nil:
		return rename(n.GetRenameStmt())
	case n.GetCreateStmt() != nil:
		return []Finding{expand("create-table", rel(n.GetCreateStmt().GetRelation()), "creates a new table; the previous release does not use it")}
	case n.GetIndexStmt() != nil:
		s := n.GetIndexStmt()
		obj := rel(s.GetRelation())
		if s.GetConcurrent() {
			return []Finding{expand("create-index", obj, "builds an index concurrently, without blocking writes")}
		}
		// What the lock costs is the lock rule's to say (locks.go).
		return []Finding{expand("create-index-not-concurrently", obj, "builds an index on "+obj+"; the previous release ignores it")}
	case n.GetTruncateStmt() != nil:
		var names []string
		for _, r := range n.GetTruncateStmt().GetRelations() {
			names = append(names, rel(r.GetRangeVar()))
		}
		return []Finding{contract("truncate", strings.Join(names, ","), "deletes every row of "+strings.Join(names, ", ")+"; a rollback cannot bring the data back")}
	case n.GetDeleteStmt() != nil:
		s := n.GetDeleteStmt()
		if s.GetWhereClause() == nil {
			return []Finding{contract("delete-all", rel(s.GetRelation()), "deletes every row of "+rel(s.GetRelation())+" (no WHERE); a rollback cannot bring the data back")}
		}
	case n.GetUpdateStmt() != nil:
		s := n.GetUpdateStmt()
		if s.GetWhereClause() == nil {
			return []Finding{contract("update-all", rel(s.GetRelation()), "rewrites every row of "+rel(s.GetRelation())+" (no WHERE); the previous values are lost unless backfilled elsewhere")}
		}
	case n.GetAlterEnumStmt() != nil:
		s := n.GetAlterEnumStmt()
		if s.GetOldVal() != "" {
			return []Finding{contract("rename-enum-value", s.GetOldVal(), fmt.Sprintf("renames enum value %q to %q, which the previous release still writes", s.GetOldVal(), s.GetNewVal()))}
		}
		return []Finding{expand("add-enum-value", s.GetNewVal(), "adds an enum value")}
	}
	return nil
}

func alterTable(s *pg.AlterTableStmt) []Finding {
	table := rel(s.GetRelation())
	var out []Finding
	for _, c := range s.GetCmds() {
		cmd := c.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		col := table + "." + cmd.GetName()
		switch cmd.GetSubtype() {
		case pg.AlterTableType_AT_AddColumn:
			def := cmd.GetDef().GetColumnDef()
			name := table + "." + def.GetColname()
			notNull, hasDefault := def.GetIsNotNull(), def.GetRawDefault() != nil
			for _, cn := range def.GetConstraints() {
				switch cn.GetConstraint().GetContype() {
				case pg.ConstrType_CONSTR_NOTNULL:
					notNull = true
				case pg.ConstrType_CONSTR_DEFAULT:
					hasDefault = true
				case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE:
					notNull = notNull || cn.GetConstraint().GetContype() == pg.ConstrType_CONSTR_PRIMARY
				}
			}
			if notNull && !hasDefault {
				out = append(out, contract("add-column-not-null-no-default", name, "adds NOT NULL column "+name+" without a default: the previous release's INSERTs, which do not set it, fail; add it nullable or with a DEFAULT"))
			} else {
				out = append(out, expand("add-column", name, "adds column "+name+"; the previous release ignores it"))
			}
		case pg.AlterTableType_AT_DropColumn:
			out = append(out, contract("drop-column", col, "drops column "+col+", which the previous release still reads; drop it in a later release, after no running code uses it (expand/contract)"))
		case pg.AlterTableType_AT_AlterColumnType:
			out = append(out, contract("alter-column-type", col, "changes the type of "+col+"; the previous release may read or write the old type, and the rewrite locks the table; add a new column and backfill instead"))
		case pg.AlterTableType_AT_SetNotNull:
			out = append(out, contract("set-not-null", col, "makes "+col+" NOT NULL; the previous release may insert rows without it; add a NOT VALID CHECK constraint first and set NOT NULL in a later release"))
		case pg.AlterTableType_AT_DropNotNull:
			out = append(out, contract("drop-not-null", col, "drops NOT NULL on "+col+": the new release may write NULLs that the previous release does not expect"))
		case pg.AlterTableType_AT_ColumnDefault:
			if cmd.GetDef() == nil {
				out = append(out, contract("drop-default", col, "drops the default of "+col+"; the previous release's INSERTs that rely on it may fail"))
			} else {
				out = append(out, expand("set-default", col, "sets a default on "+col))
			}
		case pg.AlterTableType_AT_AddConstraint:
			cn := cmd.GetDef().GetConstraint()
			name := table
			if cn.GetConname() != "" {
				name = table + "." + cn.GetConname()
			}
			if cn.GetSkipValidation() {
				out = append(out, expand("add-constraint-not-valid", name, "adds a NOT VALID constraint: existing rows are not checked; validate it in a later step"))
				continue
			}
			switch cn.GetContype() {
			case pg.ConstrType_CONSTR_CHECK, pg.ConstrType_CONSTR_FOREIGN, pg.ConstrType_CONSTR_UNIQUE, pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_EXCLUSION:
				out = append(out, contract("add-constraint", name, "adds a validated constraint to "+table+": writes of the previous release that break it fail, and validation locks the table; add it NOT VALID, then VALIDATE later"))
			default:
				out = append(out, expand("add-constraint", name, "adds a constraint"))
			}
		case pg.AlterTableType_AT_DropConstraint:
			out = append(out, expand("drop-constraint", table+"."+cmd.GetName(), "drops a constraint; the previous release keeps working"))
		}
	}
	return out
}

func objectName(n *pg.Node) string {
	if l := n.GetList(); l != nil {
		var parts []string
		for _, it := range l.GetItems() {
			parts = append(parts, it.GetString_().GetSval())
		}
		return strings.Join(parts, ".")
	}
	if s := n.GetString_(); s != nil {
		return s.GetSval()
	}
	if tn := n.GetTypeName(); tn != nil {
		var parts []string
		for _, it := range tn.GetNames() {
			parts = append(parts, it.GetString_().GetSval())
		}
		return strings.Join(parts, ".")
	}
	return "?"
}

func drop(s *pg.DropStmt) []Finding {
	var names []string
	for _, o := range s.GetObjects() {
		names = append(names, objectName(o))
	}
	obj := strings.Join(names, ",")
	switch s.GetRemoveType() {
	case pg.ObjectType_OBJECT_TABLE:
		return []Finding{contract("drop-table", obj, "drops table "+obj+", which the previous release may still use; drop it in a later release")}
	case pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW:
		return []Finding{contract("drop-view", obj, "drops view "+obj+", which the previous release may still query")}
	case pg.ObjectType_OBJECT_TYPE, pg.ObjectType_OBJECT_DOMAIN:
		return []Finding{contract("drop-type", obj, "drops type "+obj+", which the previous release may still use")}
	case pg.ObjectType_OBJECT_SCHEMA:
		return []Finding{contract("drop-schema", obj, "drops schema "+obj+" and what it holds")}
	case pg.ObjectType_OBJECT_SEQUENCE:
		return []Finding{contract("drop-sequence", obj, "drops sequence "+obj+", which the previous release's inserts may use")}
	case pg.ObjectType_OBJECT_FUNCTION, pg.ObjectType_OBJECT_PROCEDURE, pg.ObjectType_OBJECT_TRIGGER:
		return []Finding{contract("drop-function", obj, "drops "+obj+", which the previous release may call or rely on")}
	case pg.ObjectType_OBJECT_INDEX:
		return []Finding{expand("drop-index", obj, "drops index "+obj+"; queries of the previous release that use it may slow down")}
	}
	return nil
}

func rename(s *pg.RenameStmt) []Finding {
	table := rel(s.GetRelation())
	switch s.GetRenameType() {
	case pg.ObjectType_OBJECT_COLUMN:
		col := table + "." + s.GetSubname()
		return []Finding{contract("rename-column", col, "renames column "+col+" to "+s.GetNewname()+": the previous release still uses the old name; add the new column, write both, and drop the old one later")}
	case pg.ObjectType_OBJECT_TABLE:
		return []Finding{contract("rename-table", table, "renames table "+table+" to "+s.GetNewname()+": the previous release still uses the old name; use a view or a later release")}
	case pg.ObjectType_OBJECT_TABCONSTRAINT, pg.ObjectType_OBJECT_INDEX:
		return []Finding{expand("rename", table, "renames an index or constraint")}
	}
	if s.GetNewname() != "" {
		return []Finding{contract("rename", table, "renames "+table+" to "+s.GetNewname()+", which the previous release may still use")}
	}
	return nil
}
