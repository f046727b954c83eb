// Package buildinfo describes the running binary from the build information the Go toolchain
// embeds in it: the module version, the commit it was built from and the Go version.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what the toolchain recorded about a build. Fields it did not record are empty.
type Info struct {
	// Version is the main module's version: a tag such as v1.2.0 for `go install …@v1.2.0`, a
	// pseudo-version (v0.0.0-20260102150405-abcdef123456, "+dirty" when modified) for a build in a
	// checkout, or "(devel)".
	Version string
	// Revision is the VCS commit the binary was built from (a build in a checkout only).
	Revision string
	// Time is the commit's time, RFC 3339.
	Time string
	// Modified tells whether the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain's version, e.g. go1.26.8.
	GoVersion string
	// Platform is GOOS/GOARCH.
	Platform string
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	return fromBuildInfo(bi, info)
}

func fromBuildInfo(bi *debug.BuildInfo, info Info) Info {
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line description `--version` prints after the program's name:
// "v1.2.0 (commit abcdef123456, 2026-01-02T15:04:05Z, modified; go1.26.8 linux/amd64)".
func (i Info) String() string {
	var details []string
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		details = append(details, "commit "+rev)
	}
	if i.Time != "" {
		details = append(details, i.Time)
	}
	if i.Modified {
		details = append(details, "modified")
	}
	toolchain := i.GoVersion + " " + i.Platform
	if len(details) == 0 {
		return i.Version + " (" + toolchain + ")"
	}
	return i.Version + " (" + strings.Join(details, ", ") + "; " + toolchain + ")"
}
