// Command lvsd is the LVS director daemon and its operator CLI.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/cmd/lvsd/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultConfig is where packages install the main file.
const defaultConfig = "/etc/lvsd/lvsd.yaml"

// exitError carries an exit status out of a command without printing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode is the process's exit status.
func (e exitError) ExitCode() int { return e.code }

func main() {
	root := &cobra.Command{
		Use:           "lvsd",
		Short:         "LVS director: VRRP, IPVS and health checks for a pair of load balancers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringP("config", "c", defaultConfig, "main configuration file")
	root.AddCommand(keepCapsToSelf(runCmd()), validateCmd(), versionCmd(), manCmd(), importCmd())
	root.AddCommand(realserverCmd())
	root.AddCommand(cli.Commands()...)
	if err := root.Execute(); err != nil {
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "lvsd:", err)
		os.Exit(1)
	}
}

func configPath(cmd *cobra.Command) string { return cli.ConfigPath(cmd) }
