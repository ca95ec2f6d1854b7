package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/keepalived"
	"github.com/lvsd/lvsd/director/migrate/ldirectord"
)

func importCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "import keepalived|ldirectord FILE",
		Short: "Translate a keepalived.conf or an ldirectord.cf into lvsd's files, listing what cannot be expressed",
		Long: `Translate a keepalived.conf or an ldirectord.cf into lvsd's main file and one
service file per virtual service, each block commented with its source line.
Every directive lvsd cannot express as written is listed as
FILE:LINE: directive: why; what lvsd does instead. The import exits 0 only
when nothing that changes traffic was dropped; otherwise it writes nothing
unless --force is given. The output is validated as lvsd validate would.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, _ := cmd.Flags().GetString("output")
			force, _ := cmd.Flags().GetBool("force")
			id, _ := cmd.Flags().GetString("config-id")
			var r migrate.Result
			var err error
			switch args[0] {
			case "keepalived":
				r, err = keepalived.Import(args[1], keepalived.Options{ConfigID: id})
			case "ldirectord":
				r, err = ldirectord.Import(args[1])
			default:
				return fmt.Errorf("import %q: want keepalived or ldirectord", args[0])
			}
			if err != nil {
				return err
			}
			return writeImport(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, args[1], out, force)
		},
	}
	c.Flags().StringP("output", "o", ".", "directory to write lvsd.yaml and services.d/ into")
	c.Flags().Bool("force", false, "write even when something that changes traffic could not be translated, and over existing files")
	c.Flags().String("config-id", "", "keepalived's config id for @ID lines (keepalived -i); default: the host name up to its first dot")
	return c
}

// writeImport reports r's findings, validates its files and writes them.
func writeImport(stdout, stderr io.Writer, r migrate.Result, from, dir string, force bool) error {
	for _, f := range r.Findings.Sorted() {
		fmt.Fprintln(stderr, f)
	}
	if len(r.Peer) > 0 {
		fmt.Fprintln(stderr, "while the pair runs half-migrated, both nodes must agree on:")
		for _, p := range r.Peer {
			fmt.Fprintln(stderr, "  "+p)
		}
	}
	if err := validateImport(r, from); err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "the translation does not validate; nothing written")
		return exitError{code: 1}
	}
	traffic := r.Findings.ChangesTraffic()
	if traffic && !force {
		fmt.Fprintln(stderr, "something that changes traffic was not translated (marked [changes traffic]); nothing written (--force writes anyway)")
		return exitError{code: 1}
	}
	if !force {
		if _, err := os.Stat(filepath.Join(dir, migrate.MainFile)); err == nil {
			return fmt.Errorf("%s already exists (--force overwrites)", filepath.Join(dir, migrate.MainFile))
		}
	}
	files, err := migrate.Write(dir, r, from)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, filepath.Join(dir, f))
	}
	fmt.Fprintf(stdout, "%d directives translated, %d findings\n", r.Translated, len(r.Findings))
	if traffic {
		return exitError{code: 1}
	}
	return nil
}

// validateImport loads the translation from a scratch directory, as lvsd
// validate would load it.
func validateImport(r migrate.Result, from string) error {
	dir, err := os.MkdirTemp("", "lvsd-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := migrate.Write(dir, r, from); err != nil {
		return err
	}
	_, err = config.Load(filepath.Join(dir, migrate.MainFile), config.Options{})
	return err
}
