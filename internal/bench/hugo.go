package bench

import (
	"os"
	"path/filepath"
)

const (
	hugoSingle = `<!doctype html><html><head><title>{{ .Title }}</title></head><body><h1>{{ .Title }}</h1>{{ .Content }}</body></html>`
	hugoList   = `<!doctype html><html><head><title>{{ .Title }}</title></head><body><h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul></body></html>`
)

// HugoSite makes a generated corpus a Hugo site as well: a config and a
// minimal layout, so the same Markdown can be built and served by Hugo to
// compare with.
func HugoSite(dir string) error {
	for f, body := range map[string]string{
		"layouts/_default/single.html": hugoSingle,
		"layouts/_default/list.html":   hugoList,
		"layouts/index.html":           hugoList,
		"hugo.toml":                    "baseURL = 'http://localhost/'\ntitle = 'Synthetic runbooks'\n[markup.highlight]\nnoClasses = false\n",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}
