package director

import (
	"context"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
)

// Diff loads the files on disk and returns the IPVS operations that
// reloading them would make now, without making them.
func (d *Director) Diff(ctx context.Context) (api.DiffResult, error) {
	res := api.DiffResult{Generation: d.Current().Generation}
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
