//go:build !unix

package script

import (
	"errors"
	"os"
	"os/exec"
	"time"
)

// supported reports that script jobs need process groups, a Unix facility.
func supported() error {
	return errors.New("script jobs need Unix process groups; this system has none")
}

func setProcessGroup(*exec.Cmd) {}

func startProcess(cmd *exec.Cmd) (func(), error) { return func() {}, cmd.Start() }

// procGroup is a stub: Run refuses to start on this system.
type procGroup struct{ grace time.Duration }

func (g *procGroup) interrupt(int) error  { return os.ErrProcessDone }
func (g *procGroup) finish(int)           {}
func (g *procGroup) wasInterrupted() bool { return false }

func waitAndReap(cmd *exec.Cmd, g *procGroup) error { return cmd.Wait() }

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
