package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/config"
)

func validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration; print every error as file:line, or a summary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath(cmd), config.Options{})
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				if es, ok := config.AsErrors(err); ok {
					fmt.Fprintf(cmd.ErrOrStderr(), "%d error(s)\n", len(es))
				}
				return exitError{code: 1}
			}
			cfg.WriteSummary(cmd.OutOrStdout())
			return nil
		},
	}
}
