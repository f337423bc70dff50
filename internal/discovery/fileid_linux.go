package discovery

import (
	"os"
	"syscall"
)

// fileID is what a file's stat says about its identity: when any field
// differs, the file may have changed. ctime catches what mtime misses (a
// file rewritten in place and its mtime set back, as `cp -p` and tar do).
type fileID struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Dev     uint64 `json:"dev,omitempty"`
}

// idOf extracts a fileID from the result of os.Stat or os.Lstat.
func idOf(fi os.FileInfo) fileID {
	id := fileID{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Ino = st.Ino
		id.Dev = st.Dev
		id.CtimeNS = st.Ctim.Nano()
	}
	return id
}
