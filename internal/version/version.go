// Package version holds jmake's version, which both programs (the small
// `jmake` client and `jmaked`) report; set at link time with
// -ldflags "-X github.com/jmake/jmake/internal/version.Version=...".
package version

// Version is jmake's version.
var Version = "0.1.0-dev"
