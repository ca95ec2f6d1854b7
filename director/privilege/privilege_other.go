//go:build !linux

package privilege

// KeepToSelf does nothing where there are no Linux capabilities.
func KeepToSelf() error { return nil }
