package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=v1.2.3 -X main.commit=…
// -X main.buildDate=…" for builds without build information of their own
// (a tree without .git, as in the Docker build); what the build info says
// wins.
var (
	version   string
	commit    string
	buildDate string
)

// appVersion is the version /status, /metrics and the logs report.
var appVersion string

// versionInfo is what `scheduler version` prints.
type versionInfo struct {
	// Version is the module version: the tag of `go install …@v1.2.3`, the
	// pseudo-version `go build` derives from the VCS, else -X main.version,
	// else "devel".
	Version string `json:"version"`
	// Commit is vcs.revision, else -X main.commit; "" when neither.
	Commit string `json:"commit,omitempty"`
	// Date is the commit's time, vcs.time, else -X main.buildDate.
	Date string `json:"date,omitempty"`
	// Modified reports uncommitted changes in the build (vcs.modified).
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// readVersion reads the build info, falling back to the ldflags variables
// for what it lacks.
func readVersion(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{GoVersion: runtime.Version(), Version: version, Commit: commit, Date: buildDate}
	if ok {
		v.GoVersion = bi.GoVersion
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.Version = mv
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.Date = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

// String is the one-line form: version, commit, date, toolchain.
func (v versionInfo) String() string {
	var extra []string
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += ", modified"
		}
		extra = append(extra, "commit "+c)
	}
	if v.Date != "" {
		extra = append(extra, v.Date)
	}
	extra = append(extra, v.GoVersion)
	return fmt.Sprintf("scheduler %s (%s)", v.Version, strings.Join(extra, ", "))
}

func init() {
	bi, ok := debug.ReadBuildInfo()
	info := readVersion(bi, ok)
	appVersion = info.Version
	rootCmd.Version = info.String()
	rootCmd.SetVersionTemplate("{{.Version}}\n")
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and commit time of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintln(cmd.OutOrStdout(), info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	rootCmd.AddCommand(cmd)
}
