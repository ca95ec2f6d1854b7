package main

import (
	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/privilege"
)

// keepCapsToSelf makes c clear, before it starts anything, the ambient and
// inheritable capabilities that the programs it runs (external checks,
// track scripts, notify commands) would otherwise inherit from a
// non-root lvsd started with AmbientCapabilities= (see the systemd unit).
func keepCapsToSelf(c *cobra.Command) *cobra.Command {
	c.PreRunE = func(*cobra.Command, []string) error { return privilege.KeepToSelf() }
	return c
}
