package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImport drives lvsd import: a clean translation is written and
// validates; one that drops something traffic depends on writes nothing
// and exits 1, unless forced.
func TestImport(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.conf")
	lossy := filepath.Join(dir, "lossy.conf")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(clean, `virtual_server 192.0.2.10 80 {
  protocol TCP
  lb_kind DR
  real_server 198.51.100.1 80 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`)
	write(lossy, `virtual_server 192.0.2.10 80 {
  protocol TCP
  ops
  real_server 198.51.100.1 80 {
  }
}
`)
	out := filepath.Join(dir, "out")
	stdout, stderr, code := lvsd(t, "import", "keepalived", clean, "-o", out)
	if code != 0 || !strings.Contains(stdout, "services.d/tcp-192.0.2.10-80.yaml") {
		t.Fatalf("clean import: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := lvsd(t, "validate", "-c", filepath.Join(out, "lvsd.yaml")); code != 0 {
		t.Fatalf("the import does not validate: %s", stderr)
	}
	if _, _, code := lvsd(t, "import", "keepalived", clean, "-o", out); code == 0 {
		t.Error("an import over existing files succeeded without --force")
	}

	out2 := filepath.Join(dir, "out2")
	_, stderr, code = lvsd(t, "import", "keepalived", lossy, "-o", out2)
	if code != 1 || !strings.Contains(stderr, "lossy.conf:3: ops:") || !strings.Contains(stderr, "nothing written") {
		t.Fatalf("lossy import: exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote %s", out2)
	}
	if _, _, code = lvsd(t, "import", "keepalived", lossy, "-o", out2, "--force"); code != 1 {
		t.Errorf("forced lossy import: exit %d, want 1 (it still changes traffic)", code)
	}
	if _, err := os.Stat(filepath.Join(out2, "lvsd.yaml")); err != nil {
		t.Errorf("--force did not write: %v", err)
	}
}
