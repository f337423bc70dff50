package supervisor

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// Claims are names, not ports: a base of this process's own keeps two
// test binaries apart.
func claimBase() int { return 40000 + os.Getpid()%20000 }

func TestPortClaims(t *testing.T) {
	p := claimBase()
	ctx := context.Background()
	a, err := claimPorts(ctx, "/state/a", []int{p + 2, p, p + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Overlapping sets: the second fails on the shared port, names the
	// holder, and keeps none of its own.
	_, err = claimPorts(ctx, "/state/b", []int{p + 3, p + 2})
	if !errors.Is(err, errPortClaimed) || !strings.Contains(err.Error(), "port ") || !strings.Contains(err.Error(), "state dir /state/a, pid ") {
		t.Fatalf("second claim: %v", err)
	}
	c, err := claimPorts(ctx, "/state/c", []int{p + 3})
	if err != nil {
		t.Fatalf("a port a failed claim took was kept: %v", err)
	}
	c.Close()

	// A supervisor of the same state dir path waits for the holder to go.
	go func() {
		time.Sleep(100 * time.Millisecond)
		a.Close()
	}()
	d, err := claimPorts(ctx, "/state/a", []int{p})
	if err != nil {
		t.Fatalf("same state dir, holder going: %v", err)
	}
	d.Close()
}
