package chlocal

import "syscall"

// childSysProcAttr puts the child in its own process group, so that a
// terminal's Ctrl-C reaches only the parent (which then stops the child
// cleanly), and has the kernel kill it if the parent dies. Closing stdin,
// which also happens when the parent dies, stops it cleanly too.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
