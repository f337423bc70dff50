package project

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize is the largest jmake.toml read. A real one is a few hundred
// bytes to a few kilobytes; a mebibyte leaves room for long generated source
// lists. Past it, parsing cost tens of seconds and gigabytes (a 50 MB file:
// 59 s and 1.3 GB in the setup and compilation daemons) and the build would
// fail anyway once its flags reached the compiler's argument list.
const MaxFileSize = 1 << 20

// TooLargeError is a jmake.toml over MaxFileSize.
type TooLargeError struct {
	File string
	Size int64 // at least this many bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: %d bytes, over the limit of %d bytes (1 MiB) for a %s", e.File, e.Size, MaxFileSize, FileName)
}

// ReadFile reads a jmake.toml, refusing one over MaxFileSize without
// reading it: the size is checked before the read, and the read stops past
// the limit in case the file grew in between.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, &TooLargeError{File: path, Size: fi.Size()}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &TooLargeError{File: path, Size: int64(len(data))}
	}
	return data, nil
}

// IsTooLarge reports whether err is a jmake.toml over MaxFileSize.
func IsTooLarge(err error) bool {
	var e *TooLargeError
	return errors.As(err, &e)
}
