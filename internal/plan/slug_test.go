package plan

import "testing"

func TestSlug(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"payments/api-canary.md", "payments-api-canary"},
		{"top.md", "top"},
		{"a/b/c.md", "a-b-c"},
		{"ops/db failover.md", "ops-db-failover"},
		{"/leading/slash.md", "leading-slash"},
		{".md", "plan"},
		{"", "plan"},
	} {
		if got := Slug(tt.path); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
