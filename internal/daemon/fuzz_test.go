package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jmake/jmake/internal/settings"
)

// FuzzCall sends arbitrary bodies to a function: every reply is one JSON
// object with "success", the status matches it, and nothing panics.
func FuzzCall(f *testing.F) {
	for _, seed := range []string{`{}`, `{"path":"/tmp"}`, `[1]`, `{"a":`, ``, `null`, `{"path":1}`, "\x00\xff"} {
		f.Add([]byte(seed))
	}
	s := settings.Default()
	s.MaxBody = 1 << 16
	d, err := New(Options{Name: "setup", Token: "t", Settings: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	d.Handle("echo", func(ctx context.Context, r *Request) (any, error) {
		var args struct {
			Path string `json:"path"`
		}
		if err := r.Decode(&args); err != nil {
			return nil, err
		}
		return map[string]any{"path": args.Path}, nil
	})
	h := d.routes()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/call/echo", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var reply map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
			t.Fatalf("reply is not JSON: %q", w.Body.Bytes())
		}
		ok, _ := reply["success"].(bool)
		if ok != (w.Code == http.StatusOK) {
			t.Fatalf("status %d with success=%v", w.Code, ok)
		}
		if !ok && reply["error"] == "" {
			t.Fatalf("failure without an error message: %v", reply)
		}
	})
}
