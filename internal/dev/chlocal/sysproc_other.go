//go:build !linux

package chlocal

import "syscall"

// childSysProcAttr puts the child in its own process group, so that a
// terminal's Ctrl-C reaches only the parent. Outside Linux there is no
// parent-death signal: the child ends when its stdin closes with the parent.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
