//go:build unix

package content

import (
	"io/fs"
	"syscall"
)

// ReadFile is os.ReadFile in the three system calls the work needs
// (open, fstat, read until the end). os.ReadFile also offers the file to
// the network poller, which refuses regular files, and sets it blocking
// again: a content folder is thousands of small files, and those calls
// are then a large part of what reading them costs.
func ReadFile(name string) ([]byte, error) {
	fd, err := openRetry(name, syscall.O_RDONLY|syscall.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	// One more byte than the size, so the end is seen in one read when
	// the size is right; a file that grew is read on.
	data := make([]byte, 0, st.Size+1)
	for {
		n, err := syscall.Read(fd, data[len(data):cap(data)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

func openRetry(name string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(name, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
