package migrate

import "slices"

// LockMode is a table-level lock mode spelt as PostgreSQL's pg_locks.mode
// spells it ("AccessExclusiveLock"), so a drill's sampled pg_locks rows
// compare with a finding's Lock as they are; Name gives the name the
// PostgreSQL documentation and DBAs use ("ACCESS EXCLUSIVE").
type LockMode string

// The table-level lock modes, weakest first (PostgreSQL docs, "Explicit
// Locking").
const (
	AccessShare          LockMode = "AccessShareLock"
	RowShare             LockMode = "RowShareLock"
	RowExclusive         LockMode = "RowExclusiveLock"
	ShareUpdateExclusive LockMode = "ShareUpdateExclusiveLock"
	Share                LockMode = "ShareLock"
	ShareRowExclusive    LockMode = "ShareRowExclusiveLock"
	Exclusive            LockMode = "ExclusiveLock"
	AccessExclusive      LockMode = "AccessExclusiveLock"
)

// lockModes is the one table of lock modes: strength order, the
// documentation's name, and what of a service's traffic each one blocks
// (the conflict table, read for the queries a service runs).
var lockModes = []lockInfo{
	{AccessShare, "ACCESS SHARE", "only ACCESS EXCLUSIVE statements"},
	{RowShare, "ROW SHARE", "only EXCLUSIVE and ACCESS EXCLUSIVE statements"},
	{RowExclusive, "ROW EXCLUSIVE", "SHARE and stronger locks: index builds and schema changes"},
	{ShareUpdateExclusive, "SHARE UPDATE EXCLUSIVE", "other schema changes and VACUUM, not reads or writes"},
	{Share, "SHARE", "writes (INSERT, UPDATE, DELETE), not reads"},
	{ShareRowExclusive, "SHARE ROW EXCLUSIVE", "writes (INSERT, UPDATE, DELETE), not reads"},
	{Exclusive, "EXCLUSIVE", "writes and SELECT … FOR UPDATE, not plain reads"},
	{AccessExclusive, "ACCESS EXCLUSIVE", "every read and write"},
}

type lockInfo struct {
	mode   LockMode
	name   string
	blocks string
}

func (m LockMode) rank() int {
	return slices.IndexFunc(lockModes, func(l lockInfo) bool { return l.mode == m })
}

// Name is the mode as the PostgreSQL documentation writes it: "ACCESS
// EXCLUSIVE"; "" for no lock.
func (m LockMode) Name() string {
	if i := m.rank(); i >= 0 {
		return lockModes[i].name
	}
	return string(m)
}

// Blocks says what of a service's traffic waits while the lock is held,
// or queued for: "every read and write".
func (m LockMode) Blocks() string {
	if i := m.rank(); i >= 0 {
		return lockModes[i].blocks
	}
	return ""
}

// Stronger reports whether m conflicts with more than o does.
func (m LockMode) Stronger(o LockMode) bool { return m.rank() > o.rank() }

// BlocksReads reports whether plain SELECTs wait on the lock.
func (m LockMode) BlocksReads() bool { return m == AccessExclusive }
