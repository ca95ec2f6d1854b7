package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manCmd writes a man page per command into a directory, for packages
// (make deb). It is hidden: operators read the pages, they don't make them.
// The pages' date comes from SOURCE_DATE_EPOCH when set, so that a
// package built twice from one commit is the same.
func manCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages (section 8) into DIR",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			root.DisableAutoGenTag = true // the date is in the header already
			return doc.GenManTree(root, &doc.GenManHeader{
				Title:   "LVSD",
				Section: "8", // a daemon and its administration commands
				Source:  "lvsd " + version,
				Manual:  "lvsd manual",
			}, args[0])
		},
	}
}
