package migrate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// LockRule is one static lock rule: a statement that, while the service
// serves traffic, holds (or queues for) a lock that stops its queries,
// or that fails at run time. Rules read libpg_query's parse tree and what
// earlier statements of the same file did (transactions, lock_timeout,
// tables created, CHECK constraints validated).
//
// The rules assume PostgreSQL 12 or later (ADD COLUMN with a non-volatile
// default without a rewrite since 11, SET NOT NULL proved by a valid CHECK
// and REINDEX CONCURRENTLY since 12). A table the file creates is empty and
// unused, so no rule fires on it.
type LockRule struct {
	// ID is the rule's name in rollbook check's findings and rollbook.yaml's
	// rules: (registered in internal/check/rules.go).
	ID string
	// Lock is the table lock the flagged statement takes; "" when the rule
	// is not about a lock (a statement that fails).
	Lock LockMode
	// Rewrites: the statement copies the table and its indexes while it
	// holds Lock. Scans: it reads every row while it holds Lock. Either
	// way the lock lasts as long as the table is big.
	Rewrites, Scans bool
	// Fix is the safe way to write the statement.
	Fix string

	match func(*fileState, *pg.Node) []hit
}

// hit is one statement a rule matched: the object and what it does. A
// fix, when set, replaces the rule's with one naming the statement's
// objects.
type hit struct {
	object, table, what, fix string
}

// lockRules is the one table of lock rules.
var lockRules = []LockRule{
	{
		ID: "create-index-not-concurrently", Lock: Share, Scans: true,
		Fix: "write CREATE INDEX CONCURRENTLY, outside BEGIN … COMMIT (if it fails, DROP INDEX CONCURRENTLY the INVALID index it leaves and run it again)",
		match: func(f *fileState, n *pg.Node) []hit {
			s := n.GetIndexStmt()
			if s == nil || s.GetConcurrent() || f.created[rel(s.GetRelation())] {
				return nil
			}
			t := rel(s.GetRelation())
			return []hit{{object: t, table: t, what: "CREATE INDEX " + s.GetIdxname() + " on " + t + " builds the index without CONCURRENTLY"}}
		},
	},
	{
		ID: "drop-index-not-concurrently", Lock: AccessExclusive,
		Fix: "write DROP INDEX CONCURRENTLY, outside BEGIN … COMMIT",
		match: func(f *fileState, n *pg.Node) []hit {
			s := n.GetDropStmt()
			if s == nil || s.GetRemoveType() != pg.ObjectType_OBJECT_INDEX || s.GetConcurrent() {
				return nil
			}
			obj := dropNames(s)
			return []hit{{object: obj, table: "the table of " + obj, what: "DROP INDEX " + obj + " without CONCURRENTLY"}}
		},
	},
	{
		ID: "constraint-without-not-valid", Lock: AccessExclusive, Scans: true,
		Fix: "add it NOT VALID (brief lock, existing rows not read), then ALTER TABLE … VALIDATE CONSTRAINT in its own statement: validating takes SHARE UPDATE EXCLUSIVE, so reads and writes go on",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			cn := cmd.GetDef().GetConstraint()
			if cmd.GetSubtype() != pg.AlterTableType_AT_AddConstraint || cn.GetContype() != pg.ConstrType_CONSTR_CHECK || cn.GetSkipValidation() {
				return nil
			}
			name := constraintName(cn)
			return &hit{object: constraintObject(table, cn), table: table, what: words("ADD CHECK constraint", cn.GetConname(), "on", table, "is validated as it is added"),
				fix: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (…) NOT VALID; then, in its own statement, ALTER TABLE %s VALIDATE CONSTRAINT %s (SHARE UPDATE EXCLUSIVE: reads and writes go on)", table, name, table, name)}
		}),
	},
	{
		ID: "unique-constraint-without-index", Lock: AccessExclusive, Scans: true,
		Fix: "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … UNIQUE (or PRIMARY KEY) USING INDEX, which only takes a brief lock; an EXCLUDE constraint has no such form, so run it in a maintenance window",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			cn := cmd.GetDef().GetConstraint()
			if cmd.GetSubtype() != pg.AlterTableType_AT_AddConstraint {
				return nil
			}
			kind := indexConstraints[cn.GetContype()]
			if kind == "" || cn.GetIndexname() != "" {
				return nil
			}
			name := constraintName(cn)
			h := &hit{object: constraintObject(table, cn), table: table, what: words("ADD", kind, "constraint", cn.GetConname(), "on", table, "builds its index under the lock")}
			if kind != "EXCLUDE" {
				h.fix = fmt.Sprintf("CREATE UNIQUE INDEX CONCURRENTLY %s_idx ON %s (…); then ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s_idx", name, table, table, name, kind, name)
			}
			return h
		}),
	},
	{
		ID: "foreign-key-without-not-valid", Lock: ShareRowExclusive, Scans: true,
		Fix: "add it NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in its own statement (SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the referenced one: writes go on)",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			var fk *pg.Constraint
			switch cmd.GetSubtype() {
			case pg.AlterTableType_AT_AddConstraint:
				fk = cmd.GetDef().GetConstraint()
			case pg.AlterTableType_AT_AddColumn:
				for _, c := range cmd.GetDef().GetColumnDef().GetConstraints() {
					if c.GetConstraint().GetContype() == pg.ConstrType_CONSTR_FOREIGN {
						fk = c.GetConstraint()
					}
				}
			}
			if fk.GetContype() != pg.ConstrType_CONSTR_FOREIGN || fk.GetSkipValidation() {
				return nil
			}
			ref := rel(fk.GetPktable())
			name := constraintName(fk)
			return &hit{object: constraintObject(table, fk), table: table + " and " + ref, what: "a FOREIGN KEY from " + table + " to " + ref + " is validated as it is added",
				fix: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (…) REFERENCES %s (…) NOT VALID; then, in its own statement, ALTER TABLE %s VALIDATE CONSTRAINT %s", table, name, ref, table, name)}
		}),
	},
	{
		ID: "set-not-null-without-check", Lock: AccessExclusive, Scans: true,
		Fix: "first ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it; SET NOT NULL then uses the valid CHECK instead of reading the table (PostgreSQL 12+), and the CHECK can be dropped after",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			if cmd.GetSubtype() != pg.AlterTableType_AT_SetNotNull || f.provedNotNull(table, cmd.GetName()) {
				return nil
			}
			col := table + "." + cmd.GetName()
			c := cmd.GetName()
			return &hit{object: col, table: table, what: "SET NOT NULL on " + col + " has no validated CHECK (" + c + " IS NOT NULL) before it in this file",
				fix: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s_not_null CHECK (%s IS NOT NULL) NOT VALID; ALTER TABLE %s VALIDATE CONSTRAINT %s_not_null; then SET NOT NULL (no scan) and DROP CONSTRAINT %s_not_null", table, c, c, table, c, c)}
		}),
	},
	{
		ID: "column-type-rewrite", Lock: AccessExclusive, Rewrites: true,
		Fix: "add a column of the new type, backfill it in batches, write both from the application, then switch reads and drop the old column in a later release",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			if cmd.GetSubtype() != pg.AlterTableType_AT_AlterColumnType {
				return nil
			}
			col := table + "." + cmd.GetName()
			def := cmd.GetDef().GetColumnDef()
			why, rewrites := typeChangeRewrites(f.columns[col], typeOf(def.GetTypeName()), def.GetRawDefault() != nil)
			if !rewrites {
				return nil
			}
			return &hit{object: col, table: table, what: "ALTER COLUMN " + cmd.GetName() + " TYPE " + typeOf(def.GetTypeName()).String() + " on " + table + " " + why}
		}),
	},
	{
		ID: "volatile-default", Lock: AccessExclusive, Rewrites: true,
		Fix: "add the column without the default (or with a constant one), SET DEFAULT for new rows, and backfill existing rows in batches",
		match: alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
			if cmd.GetSubtype() != pg.AlterTableType_AT_AddColumn {
				return nil
			}
			def := cmd.GetDef().GetColumnDef()
			why := volatileColumn(def)
			if why == "" {
				return nil
			}
			col := table + "." + def.GetColname()
			return &hit{object: col, table: table, what: "ADD COLUMN " + def.GetColname() + " on " + table + " " + why + ", so PostgreSQL fills every existing row"}
		}),
	},
	{
		ID: "concurrently-in-transaction", Lock: "",
		Fix: "move it after the COMMIT (or into its own migration file that the migration tool does not wrap in a transaction)",
		match: func(f *fileState, n *pg.Node) []hit {
			if !f.inTx {
				return nil
			}
			var what, obj string
			switch {
			case n.GetIndexStmt().GetConcurrent():
				obj, what = rel(n.GetIndexStmt().GetRelation()), "CREATE INDEX CONCURRENTLY"
			case n.GetDropStmt().GetConcurrent():
				obj, what = dropNames(n.GetDropStmt()), "DROP INDEX CONCURRENTLY"
			case n.GetReindexStmt() != nil && reindexConcurrently(n.GetReindexStmt()):
				obj, what = reindexTarget(n.GetReindexStmt()), "REINDEX CONCURRENTLY"
			default:
				return nil
			}
			return []hit{{object: obj, what: what + " inside BEGIN … COMMIT fails at run time (ERROR: " + what + " cannot run inside a transaction block), and the transaction with it"}}
		},
	},
	{
		ID: "missing-lock-timeout", Lock: AccessExclusive,
		Fix: "SET lock_timeout = '2s' (or SET LOCAL inside the transaction) before it, and retry the migration when it times out",
		match: func(f *fileState, n *pg.Node) []hit {
			mode, table := statementLock(n)
			if mode != AccessExclusive || f.created[table] || f.lockTimeout() {
				return nil
			}
			return []hit{{object: table, table: table, what: "no lock_timeout is set before this ACCESS EXCLUSIVE statement: queued behind one long query (a report, pg_dump, an idle transaction) it waits without limit, and every query on " + table + " queues behind it"}}
		},
	},
	{
		ID: "table-rewrite", Lock: AccessExclusive, Rewrites: true,
		Fix: "leave it out of the deploy: reclaim space or reorder with pg_repack or pg_squeeze, which hold the heavy lock only for a moment, or run it in a maintenance window",
		match: func(f *fileState, n *pg.Node) []hit {
			switch {
			case n.GetVacuumStmt() != nil && vacuumFull(n.GetVacuumStmt()):
				var out []hit
				for _, r := range n.GetVacuumStmt().GetRels() {
					t := rel(r.GetVacuumRelation().GetRelation())
					out = append(out, hit{object: t, table: t, what: "VACUUM FULL rewrites " + t})
				}
				if len(out) == 0 {
					out = append(out, hit{object: "every table", table: "every table", what: "VACUUM FULL without a table rewrites every table of the database"})
				}
				return out
			case n.GetClusterStmt() != nil:
				t := rel(n.GetClusterStmt().GetRelation())
				return []hit{{object: t, table: t, what: "CLUSTER rewrites " + t + " in index order"}}
			}
			return alterCmds(func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit {
				what := rewritingAlters[cmd.GetSubtype()]
				if what == "" {
					return nil
				}
				return &hit{object: table, table: table, what: "ALTER TABLE " + table + " " + what + " rewrites the table"}
			})(f, n)
		},
	},
	{
		ID: "reindex-not-concurrently", Lock: Share, Scans: true,
		Fix: "write REINDEX … CONCURRENTLY (PostgreSQL 12+), outside BEGIN … COMMIT",
		match: func(f *fileState, n *pg.Node) []hit {
			s := n.GetReindexStmt()
			if s == nil || reindexConcurrently(s) {
				return nil
			}
			t := reindexTarget(s)
			return []hit{{object: t, table: t, what: "REINDEX " + t + " without CONCURRENTLY also takes ACCESS EXCLUSIVE on each index it rebuilds, so reads that use it wait too"}}
		},
	},
}

// indexConstraints are the constraints that build an index as they are added.
var indexConstraints = map[pg.ConstrType]string{pg.ConstrType_CONSTR_UNIQUE: "UNIQUE", pg.ConstrType_CONSTR_PRIMARY: "PRIMARY KEY", pg.ConstrType_CONSTR_EXCLUSION: "EXCLUDE"}

// rewritingAlters are the ALTER TABLE subcommands that copy the table.
var rewritingAlters = map[pg.AlterTableType]string{
	pg.AlterTableType_AT_SetTableSpace:   "SET TABLESPACE",
	pg.AlterTableType_AT_SetLogged:       "SET LOGGED",
	pg.AlterTableType_AT_SetUnLogged:     "SET UNLOGGED",
	pg.AlterTableType_AT_SetAccessMethod: "SET ACCESS METHOD",
}

// LockRules returns the lock rules, in the table's order.
func LockRules() []LockRule { return lockRules }

// finding is the Finding a rule makes of one hit: the hit's words, then
// what the rule's lock does to the service, so the check, the plan page
// and the drill read the same sentence.
func (r *LockRule) finding(h hit) Finding {
	f := Finding{Kind: r.ID, Object: h.object, Lock: r.Lock, Rewrites: r.Rewrites, Scans: r.Scans, Fix: h.fix}
	if f.Fix == "" {
		f.Fix = r.Fix
	}
	var b strings.Builder
	b.WriteString(h.what)
	switch {
	case r.Lock == "":
	case r.Rewrites:
		fmt.Fprintf(&b, ": it rewrites %s and its indexes while holding %s, which blocks %s, for as long as the copy takes", h.table, r.Lock.Name(), r.Lock.Blocks())
	case r.Scans:
		fmt.Fprintf(&b, ": it reads every row of %s while holding %s, which blocks %s", h.table, r.Lock.Name(), r.Lock.Blocks())
	case r.ID != "missing-lock-timeout":
		fmt.Fprintf(&b, ": it takes %s on %s, which blocks %s, and waits behind any long query", r.Lock.Name(), h.table, r.Lock.Blocks())
	}
	f.Reason = b.String()
	return f
}

// alterCmds adapts a rule about one ALTER TABLE subcommand to a statement.
func alterCmds(match func(f *fileState, table string, cmd *pg.AlterTableCmd) *hit) func(*fileState, *pg.Node) []hit {
	return func(f *fileState, n *pg.Node) []hit {
		s := n.GetAlterTableStmt()
		if s == nil || f.created[rel(s.GetRelation())] {
			return nil
		}
		table := rel(s.GetRelation())
		var out []hit
		for _, c := range s.GetCmds() {
			if cmd := c.GetAlterTableCmd(); cmd != nil {
				if h := match(f, table, cmd); h != nil {
					out = append(out, *h)
				}
			}
		}
		return out
	}
}

// alterLocks are the ALTER TABLE subcommands that take less than ACCESS
// EXCLUSIVE (PostgreSQL docs, ALTER TABLE); every other one takes it.
var alterLocks = map[pg.AlterTableType]LockMode{
	pg.AlterTableType_AT_ValidateConstraint: ShareUpdateExclusive,
	pg.AlterTableType_AT_SetStatistics:      ShareUpdateExclusive,
	pg.AlterTableType_AT_SetOptions:         ShareUpdateExclusive,
	pg.AlterTableType_AT_ResetOptions:       ShareUpdateExclusive,
	pg.AlterTableType_AT_ClusterOn:          ShareUpdateExclusive,
	pg.AlterTableType_AT_DropCluster:        ShareUpdateExclusive,
	pg.AlterTableType_AT_SetRelOptions:      ShareUpdateExclusive,
	pg.AlterTableType_AT_ResetRelOptions:    ShareUpdateExclusive,
	pg.AlterTableType_AT_AttachPartition:    ShareUpdateExclusive,
	pg.AlterTableType_AT_EnableTrig:         ShareRowExclusive,
	pg.AlterTableType_AT_EnableAlwaysTrig:   ShareRowExclusive,
	pg.AlterTableType_AT_EnableReplicaTrig:  ShareRowExclusive,
	pg.AlterTableType_AT_DisableTrig:        ShareRowExclusive,
	pg.AlterTableType_AT_EnableTrigAll:      ShareRowExclusive,
	pg.AlterTableType_AT_DisableTrigAll:     ShareRowExclusive,
	pg.AlterTableType_AT_EnableTrigUser:     ShareRowExclusive,
	pg.AlterTableType_AT_DisableTrigUser:    ShareRowExclusive,
}

// statementLock is the table lock a statement takes and the table it
// takes it on ("" when it takes none worth a rule).
func statementLock(n *pg.Node) (LockMode, string) {
	switch {
	case n.GetAlterTableStmt() != nil:
		s := n.GetAlterTableStmt()
		var mode LockMode
		for _, c := range s.GetCmds() {
			cmd := c.GetAlterTableCmd()
			m, ok := alterLocks[cmd.GetSubtype()]
			if !ok {
				m = AccessExclusive
			}
			if cmd.GetSubtype() == pg.AlterTableType_AT_AddConstraint && cmd.GetDef().GetConstraint().GetContype() == pg.ConstrType_CONSTR_FOREIGN {
				m = ShareRowExclusive
			}
			if m.Stronger(mode) {
				mode = m
			}
		}
		return mode, rel(s.GetRelation())
	case n.GetIndexStmt() != nil:
		if n.GetIndexStmt().GetConcurrent() {
			return ShareUpdateExclusive, rel(n.GetIndexStmt().GetRelation())
		}
		return Share, rel(n.GetIndexStmt().GetRelation())
	case n.GetDropStmt() != nil:
		s := n.GetDropStmt()
		switch s.GetRemoveType() {
		case pg.ObjectType_OBJECT_INDEX:
			if s.GetConcurrent() {
				return ShareUpdateExclusive, "the table of " + dropNames(s)
			}
			return AccessExclusive, "the table of " + dropNames(s)
		case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW:
			return AccessExclusive, dropNames(s)
		}
	case n.GetRenameStmt() != nil:
		if r := n.GetRenameStmt().GetRelation(); r != nil {
			return AccessExclusive, rel(r)
		}
	case n.GetTruncateStmt() != nil:
		var names []string
		for _, r := range n.GetTruncateStmt().GetRelations() {
			names = append(names, rel(r.GetRangeVar()))
		}
		return AccessExclusive, strings.Join(names, ", ")
	case n.GetVacuumStmt() != nil && vacuumFull(n.GetVacuumStmt()), n.GetClusterStmt() != nil:
		return AccessExclusive, lockTarget(n)
	case n.GetReindexStmt() != nil:
		if reindexConcurrently(n.GetReindexStmt()) {
			return ShareUpdateExclusive, reindexTarget(n.GetReindexStmt())
		}
		return Share, reindexTarget(n.GetReindexStmt())
	case n.GetCreateTrigStmt() != nil:
		return ShareRowExclusive, rel(n.GetCreateTrigStmt().GetRelation())
	}
	return "", ""
}

func lockTarget(n *pg.Node) string {
	if c := n.GetClusterStmt(); c != nil {
		return rel(c.GetRelation())
	}
	var names []string
	for _, r := range n.GetVacuumStmt().GetRels() {
		names = append(names, rel(r.GetVacuumRelation().GetRelation()))
	}
	if len(names) == 0 {
		return "every table"
	}
	return strings.Join(names, ", ")
}

func dropNames(s *pg.DropStmt) string {
	var names []string
	for _, o := range s.GetObjects() {
		names = append(names, objectName(o))
	}
	return strings.Join(names, ",")
}

// constraintName is the constraint's name for a finding and its fix,
// a placeholder a reader replaces when the statement gives none.
func constraintName(cn *pg.Constraint) string {
	if cn.GetConname() != "" {
		return cn.GetConname()
	}
	return "NAME"
}

func constraintObject(table string, cn *pg.Constraint) string {
	if cn.GetConname() == "" {
		return table
	}
	return table + "." + cn.GetConname()
}

// words joins the non-empty words with spaces.
func words(w ...string) string {
	return strings.Join(slices.DeleteFunc(w, func(s string) bool { return s == "" }), " ")
}

func hasOption(opts []*pg.Node, name string) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.GetDefname(), name) {
			continue
		}
		// VACUUM (FULL false) names the option and turns it off.
		if a := d.GetArg(); a != nil {
			if b := a.GetBoolean(); b != nil {
				return b.GetBoolval()
			}
			if s := a.GetString_(); s != nil {
				v := strings.ToLower(s.GetSval())
				return v != "false" && v != "off" && v != "0"
			}
			if i := a.GetInteger(); i != nil {
				return i.GetIval() != 0
			}
		}
		return true
	}
	return false
}

func vacuumFull(s *pg.VacuumStmt) bool {
	return s.GetIsVacuumcmd() && hasOption(s.GetOptions(), "full")
}

func reindexConcurrently(s *pg.ReindexStmt) bool { return hasOption(s.GetParams(), "concurrently") }

func reindexTarget(s *pg.ReindexStmt) string {
	if r := s.GetRelation(); r != nil {
		return rel(r)
	}
	return s.GetName()
}

// fileState is what the statements before the one being judged did.
type fileState struct {
	inTx bool
	// timeout: a session-level SET lock_timeout is in effect; localTimeout:
	// a SET LOCAL one, which lasts until the transaction ends.
	timeout, localTimeout bool
	// created holds the tables this file creates: empty, nobody waits on them.
	created map[string]bool
	// columns is each table.column's type as this file declared it.
	columns map[string]colType
	// notNull holds, per table, the CHECK constraints proving a column NOT
	// NULL: constraint name → column, and whether each is validated.
	notNull map[string]map[string]notNullCheck
}

type notNullCheck struct {
	column    string
	validated bool
}

func newFileState() *fileState {
	return &fileState{created: map[string]bool{}, columns: map[string]colType{}, notNull: map[string]map[string]notNullCheck{}}
}

func (f *fileState) lockTimeout() bool { return f.timeout || f.localTimeout }

func (f *fileState) provedNotNull(table, column string) bool {
	for _, c := range f.notNull[table] {
		if c.validated && c.column == column {
			return true
		}
	}
	return false
}

// lockFindings judges one statement against every rule.
func (f *fileState) lockFindings(n *pg.Node) []Finding {
	var out []Finding
	for i := range lockRules {
		for _, h := range lockRules[i].match(f, n) {
			out = append(out, lockRules[i].finding(h))
		}
	}
	return out
}

// observe records what a statement changes for the ones after it.
func (f *fileState) observe(n *pg.Node) {
	switch {
	case n.GetTransactionStmt() != nil:
		switch n.GetTransactionStmt().GetKind() {
		case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
			f.inTx = true
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg.TransactionStmtKind_TRANS_STMT_PREPARE:
			f.inTx, f.localTimeout = false, false
		}
	case n.GetVariableSetStmt() != nil:
		s := n.GetVariableSetStmt()
		if s.GetKind() == pg.VariableSetKind_VAR_RESET_ALL {
			f.timeout, f.localTimeout = false, false
			return
		}
		if !strings.EqualFold(s.GetName(), "lock_timeout") {
			return
		}
		on := s.GetKind() == pg.VariableSetKind_VAR_SET_VALUE && !zeroSetting(s.GetArgs())
		switch {
		case !s.GetIsLocal():
			f.timeout = on
		case f.inTx:
			// SET LOCAL outside a transaction block has no effect.
			f.localTimeout = on
		}
	case n.GetCreateStmt() != nil:
		s := n.GetCreateStmt()
		t := rel(s.GetRelation())
		f.created[t] = true
		for _, e := range s.GetTableElts() {
			if d := e.GetColumnDef(); d != nil {
				f.columns[t+"."+d.GetColname()] = typeOf(d.GetTypeName())
			}
		}
	case n.GetCreateTableAsStmt() != nil:
		f.created[rel(n.GetCreateTableAsStmt().GetInto().GetRel())] = true
	case n.GetAlterTableStmt() != nil:
		s := n.GetAlterTableStmt()
		t := rel(s.GetRelation())
		for _, c := range s.GetCmds() {
			f.observeAlter(t, c.GetAlterTableCmd())
		}
	}
}

func (f *fileState) observeAlter(table string, cmd *pg.AlterTableCmd) {
	switch cmd.GetSubtype() {
	case pg.AlterTableType_AT_AddColumn:
		d := cmd.GetDef().GetColumnDef()
		f.columns[table+"."+d.GetColname()] = typeOf(d.GetTypeName())
	case pg.AlterTableType_AT_AlterColumnType:
		f.columns[table+"."+cmd.GetName()] = typeOf(cmd.GetDef().GetColumnDef().GetTypeName())
	case pg.AlterTableType_AT_AddConstraint:
		cn := cmd.GetDef().GetConstraint()
		if cn.GetContype() != pg.ConstrType_CONSTR_CHECK {
			return
		}
		col := notNullColumn(cn.GetRawExpr())
		if col == "" {
			return
		}
		if f.notNull[table] == nil {
			f.notNull[table] = map[string]notNullCheck{}
		}
		f.notNull[table][cn.GetConname()] = notNullCheck{column: col, validated: !cn.GetSkipValidation()}
	case pg.AlterTableType_AT_ValidateConstraint:
		if c, ok := f.notNull[table][cmd.GetName()]; ok {
			c.validated = true
			f.notNull[table][cmd.GetName()] = c
		}
	case pg.AlterTableType_AT_DropConstraint:
		delete(f.notNull[table], cmd.GetName())
	}
}

// notNullColumn is the column a CHECK expression proves NOT NULL: "col IS
// NOT NULL", alone or as one term of an AND (PostgreSQL's proof accepts
// both).
func notNullColumn(e *pg.Node) string {
	if nt := e.GetNullTest(); nt != nil && nt.GetNulltesttype() == pg.NullTestType_IS_NOT_NULL {
		if fields := nt.GetArg().GetColumnRef().GetFields(); len(fields) > 0 {
			return fields[len(fields)-1].GetString_().GetSval()
		}
	}
	if b := e.GetBoolExpr(); b != nil && b.GetBoolop() == pg.BoolExprType_AND_EXPR {
		for _, a := range b.GetArgs() {
			if c := notNullColumn(a); c != "" {
				return c
			}
		}
	}
	return ""
}

// zeroSetting reports whether SET lock_timeout's value turns it off: 0,
// '0', '0s', '0ms'.
func zeroSetting(args []*pg.Node) bool {
	if len(args) != 1 {
		return false
	}
	c := args[0].GetAConst()
	switch {
	case c == nil:
		return false
	case c.GetIval() != nil:
		return c.GetIval().GetIval() == 0
	case c.GetSval() != nil:
		v := strings.TrimRight(strings.TrimSpace(c.GetSval().GetSval()), "msinh ")
		n, err := strconv.ParseFloat(v, 64)
		return err == nil && n == 0
	case c.GetFval() != nil:
		n, err := strconv.ParseFloat(c.GetFval().GetFval(), 64)
		return err == nil && n == 0
	}
	return false
}
