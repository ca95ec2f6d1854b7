package web

import (
	"encoding/json"
	"net/http"
)

// json serves the snapshot the page shows, as `lvsd status --json`
// prints it.
func (s *Server) json(w http.ResponseWriter, r *http.Request) {
	st := s.snapshot(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		s.opts.Log.WithError(err).Debug("status.json: write")
	}
}
