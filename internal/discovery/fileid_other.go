//go:build !linux

package discovery

import "os"

// fileID is what a file's stat says about its identity: when any field
// differs, the file may have changed. Off Linux only size and mtime are
// used, which misses a file replaced by another of the same size and mtime.
type fileID struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
}

// idOf extracts a fileID from the result of os.Stat or os.Lstat.
func idOf(fi os.FileInfo) fileID {
	return fileID{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
}
