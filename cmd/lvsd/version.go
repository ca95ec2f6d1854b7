package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			mod := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				mod = " " + bi.Main.Path
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lvsd %s%s %s %s/%s\n", version, mod, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
