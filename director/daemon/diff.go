package daemon

import (
	"context"

	"github.com/lvsd/lvsd/director/config"
)

// DiffResult is what a reload would do to the IPVS table (`lvsd diff`).
type DiffResult struct {
	Generation int      `json:"generation"` // the configuration in service
	Ops        []string `json:"ops"`
	Errors     []string `json:"errors,omitempty"` // the files on disk do not validate
}

// Diff loads the files on disk and returns the IPVS operations that
// reloading them would make now, without making them.
func (d *Daemon) Diff(ctx context.Context) (DiffResult, error) {
	res := DiffResult{Generation: d.Current().Generation}
	cfg, err := config.Load(d.path, d.opts)
	if err != nil {
		res.Errors = errorLines(err)
		return res, nil
	}
	ops, err := d.dir.Plan(ctx, cfg.Services, d.stateFunc(cfg))
	if err != nil {
		return res, err
	}
	res.Ops = make([]string, len(ops))
	for i, op := range ops {
		res.Ops[i] = op.String()
	}
	return res, nil
}
