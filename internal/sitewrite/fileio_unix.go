//go:build unix

package sitewrite

import (
	"io/fs"
	"syscall"
)

// writeFile is os.WriteFile with mode 0644, in the three system calls
// the work needs (open, write, close). os.WriteFile also offers the file
// to the network poller, which refuses regular files, and sets it
// blocking again: a site is thousands of small files, and those calls
// are then a large part of what writing them costs.
func writeFile(name string, data []byte) error {
	fd, err := openRetry(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	for len(data) > 0 {
		n, err := syscall.Write(fd, data)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(fd)
			return &fs.PathError{Op: "write", Path: name, Err: err}
		}
		data = data[n:]
	}
	if err := syscall.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: name, Err: err}
	}
	return nil
}

func openRetry(name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(name, flags, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
