//go:build !linux

package main

import "syscall"

// procAttr has nothing to add outside Linux: the load generator stops its servers itself.
func procAttr() *syscall.SysProcAttr {
	return nil
}
