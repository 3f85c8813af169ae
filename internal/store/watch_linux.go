package store

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
)

// walWrites signals writes to the write-ahead log of the database at path,
// through inotify on its folder: nothing runs while nothing is written.
func walWrites(ctx context.Context, path string) (<-chan struct{}, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := syscall.InotifyAddWatch(fd, filepath.Dir(path), syscall.IN_MODIFY|syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Read waits in the poller, Close ends it
	stop := context.AfterFunc(ctx, func() { f.Close() })
	wal := filepath.Base(path) + "-wal"
	out := make(chan struct{}, 1)
	go func() {
		defer stop()
		defer close(out)
		buf := make([]byte, 16<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			// struct inotify_event: wd, mask, cookie, len (4 bytes each), name.
			for ev := buf[:n]; len(ev) >= syscall.SizeofInotifyEvent; {
				end := syscall.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(ev[12:16]))
				name := string(trimNUL(ev[syscall.SizeofInotifyEvent:end]))
				ev = ev[end:]
				if name == wal {
					select {
					case out <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return out, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
