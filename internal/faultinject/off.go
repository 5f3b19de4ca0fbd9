//go:build !faultinject

package faultinject

// Step marks a completed step; without the faultinject build tag it does
// nothing.
func Step(kind, what string) {}

// Enabled reports whether fault injection is compiled in.
const Enabled = false
