//go:build unix

package buildcache

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapPack maps a pack's file for reading: a cached build reads tens of
// thousands of entries, and a read call each was a sixth of its system
// time. nil (and the entries are read with ReadAt) when it cannot be
// mapped.
func mapPack(f *os.File, size int64) []byte {
	if size <= 0 || int64(int(size)) != size {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	return data
}

func unmapPack(data []byte) {
	if data != nil {
		_ = unix.Munmap(data)
	}
}
