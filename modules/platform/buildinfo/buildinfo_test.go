package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestString(t *testing.T) {
	base := Info{Version: "(devel)", GoVersion: "go1.0", Platform: "linux/amd64"}
	tests := []struct {
		name string
		give *debug.BuildInfo
		want string
	}{
		{
			name: "go install of a tag: no VCS information",
			give: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			want: "v1.2.0 (go1.26.8 linux/amd64)",
		},
		{
			name: "build in a modified checkout",
			give: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Version: "v0.0.0-20260102150405-0891866abcde+dirty"},
				Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "0891866abcdef0123456789abcdef0123456789a"},
					{Key: "vcs.time", Value: "2026-01-02T15:04:05Z"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			want: "v0.0.0-20260102150405-0891866abcde+dirty (commit 0891866abcde, 2026-01-02T15:04:05Z, modified; go1.26.8 linux/amd64)",
		},
		{
			name: "clean checkout",
			give: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20260102150405-0891866abcde"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0891866"}, {Key: "vcs.modified", Value: "false"}},
			},
			want: "v0.0.0-20260102150405-0891866abcde (commit 0891866; go1.0 linux/amd64)",
		},
		{
			name: "nothing recorded",
			give: &debug.BuildInfo{},
			want: "(devel) (go1.0 linux/amd64)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fromBuildInfo(tt.give, base).String())
		})
	}
}

func TestReadNamesTheToolchain(t *testing.T) {
	i := Read()
	assert.NotEmpty(t, i.Version)
	assert.Contains(t, i.GoVersion, "go")
	assert.Contains(t, i.Platform, "/")
}
