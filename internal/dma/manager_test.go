package dma

import (
	"strings"
	"testing"

	"ferry/internal/node"
)

// TestDeviceBusyHint: the hint names the serve's password, not a file
// that may not be it.
func TestDeviceBusyHint(t *testing.T) {
	m := NewManager(nil, ManagerConfig{Layout: node.Layout{Root: "/var/lib/ferry"}})
	h := m.deviceBusyHint("tape0", "/srv/data")
	for _, want := range []string{
		"drive tape0",
		"ndmp://USER@HOST:PORT/srv/data",
		"the password of the ferry serve holding the drive (its --ndmp-password-file, default /var/lib/ferry/ndmp-password",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("hint %q lacks %q", h, want)
		}
	}
	if strings.Contains(h, "--password-file /var/lib/ferry/ndmp-password") {
		t.Errorf("hint %q still gives the state directory's file as the password", h)
	}
}
