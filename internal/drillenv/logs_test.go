package drillenv

import (
	"reflect"
	"strings"
	"testing"
)

// TestLastLines: the one log reader keeps the last non-blank lines of
// whatever chunks the engine sends, a line cut across two writes whole,
// Windows line ends trimmed and a last line without a newline kept.
func TestLastLines(t *testing.T) {
	for _, tt := range []struct {
		name   string
		max    int
		chunks []string
		want   []string
	}{
		{"fewer than max", 20, []string{"a\nb\n"}, []string{"a", "b"}},
		{"the last max", 2, []string{"a\nb\nc\nd\n"}, []string{"c", "d"}},
		{"a line across writes", 5, []string{"pan", "ic: boom\ngorou", "tine 1\n"}, []string{"panic: boom", "goroutine 1"}},
		{"blank lines and CRLF", 5, []string{"a\r\n\r\n   \nb\r\n"}, []string{"a", "b"}},
		{"no final newline", 2, []string{"a\nb\nexit status 2"}, []string{"b", "exit status 2"}},
		{"nothing", 5, []string{"\n\n"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := &lastLines{max: tt.max}
			for _, c := range tt.chunks {
				if n, err := l.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := l.lines(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
			if got := l.String(); got != strings.Join(tt.want, "\n") {
				t.Errorf("String = %q", got)
			}
		})
	}
}
