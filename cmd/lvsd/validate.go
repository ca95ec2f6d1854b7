package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/config"
)

func validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration; print every error as file:line, or a summary",
		Long: `Check the main file and every service file, and print every error as
file:line: key: reason, or a summary of a valid configuration. With --json,
print the errors and warnings as a JSON list instead, for editors and CI.
The exit status is 0 for a valid configuration, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := config.Validate(configPath(cmd), config.Options{})
			asJSON, _ := cmd.Flags().GetBool("json")
			if asJSON {
				if err := writeDiagnostics(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else if rep.Config != nil {
				rep.Config.WriteSummary(cmd.OutOrStdout())
			} else {
				w := cmd.ErrOrStderr()
				fmt.Fprintln(w, rep.Errors)
				for _, warn := range rep.Warnings {
					fmt.Fprintf(w, "warning: %s\n", warn)
				}
				fmt.Fprintf(w, "%d error(s)\n", len(rep.Errors))
			}
			if len(rep.Errors) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().Bool("json", false, "print errors and warnings as a JSON list of {file, line, column, key, message, severity}")
	return cmd
}

// diagnostic is one entry of `lvsd validate --json`: the fields an editor
// or a CI annotation needs to point at the place. Line and column are
// 1-based and left out where unknown (a file that cannot be read).
type diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Key      string `json:"key,omitempty"`
	Message  string `json:"message"`
	Severity string `json:"severity"` // "error" or "warning"
}

// writeDiagnostics prints the errors, then the warnings, as one JSON list
// ([] for a valid configuration without warnings).
func writeDiagnostics(w io.Writer, rep config.Report) error {
	out := make([]diagnostic, 0, len(rep.Errors)+len(rep.Warnings))
	add := func(es config.Errors, severity string) {
		for _, e := range es {
			out = append(out, diagnostic{File: e.File, Line: e.Line, Column: e.Column, Key: e.Path, Message: e.Msg, Severity: severity})
		}
	}
	add(rep.Errors, "error")
	add(rep.Warnings, "warning")
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
