package check

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/rollbook/rollbook/internal/plan"
)

// gamedayService checks gameday.service and gameday.database (SPEC 3.1):
// what a drill of the team's own service needs to start at all.
func (c *checker) gamedayService() {
	s, db := c.p.Gameday.Service, c.p.Gameday.Database
	if !c.p.Has("gameday.service") {
		if c.p.Has("gameday.database") {
			c.at("gameday.database", "gameday-service", "gameday.database is set but there is no gameday.service to use it", "add gameday.service with the releases' images, or remove gameday.database")
		}
		return
	}
	const rule = "gameday-service"
	for _, r := range []struct {
		name string
		rel  plan.Release
	}{{"stable", s.Stable}, {"canary", s.Canary}} {
		p := "gameday.service." + r.name
		switch {
		case r.rel.Image == "" && r.rel.Build.Context == "":
			c.at(p, rule, fmt.Sprintf("the %s release has no image", r.name), fmt.Sprintf(`write %s: {image: "checkout:5.9.2"} or %s: {build: {context: ../../services/checkout}}`, r.name, r.name))
		case r.rel.Image != "" && r.rel.Build.Context != "":
			c.at(p, rule, fmt.Sprintf("the %s release has both image and build", r.name), "keep one: image names a built image, build builds one from a Dockerfile")
		case r.rel.Build.Context != "":
			c.buildContext(p+".build", r.rel.Build)
		}
	}
	if s.Port <= 0 || s.Port > 65535 {
		c.at("gameday.service.port", rule, "gameday.service.port is not set to the port the service listens on", "write port: 8080 (the container port, not a host port)")
	}
	for _, k := range []string{"ready", "metrics"} {
		v := map[string]string{"ready": s.Ready, "metrics": s.Metrics}[k]
		if v != "" && !strings.HasPrefix(v, "/") {
			c.at("gameday.service."+k, rule, fmt.Sprintf("gameday.service.%s %q is not a path", k, v), fmt.Sprintf("write a path on the service, for example %s: /health/ready", k))
		}
	}
	if s.Ready == "" {
		c.at("gameday.service", rule, "gameday.service has no ready path: the drill cannot tell when a release serves", "add ready: /health/ready (a path that answers 200 once the release serves)")
	}
	if len(s.Smoke) == 0 {
		c.at("gameday.service", rule, "gameday.service has no smoke checks: the migration guard cannot test the stable release against the migrated database", `add smoke: [{method: GET, path: "/orders?limit=1", expect: 200}]`)
	}
	for i, r := range s.Smoke {
		p := fmt.Sprintf("gameday.service.smoke[%d]", i)
		c.request(p, r)
		if r.Expect == 0 {
			c.at(p, rule, "a smoke check without expect passes on any answer", "add the status it must answer, for example expect: 200")
		} else if r.Expect < 100 || r.Expect > 599 {
			c.at(p+".expect", rule, fmt.Sprintf("expect %d is not an HTTP status", r.Expect), "write a status such as expect: 200")
		}
	}
	if len(s.Traffic) == 0 {
		c.at("gameday.service", rule, "gameday.service has no traffic: the load generator has nothing to send", `add traffic: [{method: GET, path: /orders, weight: 9}, {method: POST, path: /orders, body: '{"sku":"A-1"}', weight: 1}]`)
	}
	for i, r := range s.Traffic {
		p := fmt.Sprintf("gameday.service.traffic[%d]", i)
		c.request(p, r)
		if r.Weight < 0 {
			c.at(p+".weight", rule, "a traffic weight is negative", "write a weight of 1 or more")
		}
	}
	names := map[string]bool{}
	for i, d := range s.DependsOn {
		p := fmt.Sprintf("gameday.service.depends_on[%d]", i)
		switch {
		case d.Name == "" || strings.ContainsAny(d.Name, " /:"):
			c.at(p, rule, "a dependency needs a name (its host name on the drill network)", "write name: cache")
		case names[d.Name] || d.Name == "db" || d.Name == "stable" || d.Name == "canary":
			c.at(p+".name", rule, fmt.Sprintf("dependency name %q is taken", d.Name), "give each dependency its own name (db, stable and canary are the drill's)")
		}
		names[d.Name] = true
		if d.Image == "" {
			c.at(p, rule, fmt.Sprintf("dependency %s has no image", d.Name), `write image: "redis-local:7"`)
		}
		if d.Port <= 0 || d.Port > 65535 {
			c.at(p, rule, fmt.Sprintf("dependency %s has no port", d.Name), "write the port it listens on, for example port: 6379")
		}
	}
	for i, sc := range c.p.Gameday.Scenarios {
		if sc != "incompatible-migration" {
			continue
		}
		files, manual := 0, 0
		for _, m := range c.p.Migrations {
			if m.File != "" {
				files++
				if m.Runs == plan.RunsManual {
					manual++
				}
			}
		}
		switch {
		case files == 0:
			c.at(fmt.Sprintf("gameday.scenarios[%d]", i), rule, "scenario incompatible-migration on the team's own service runs the plan's own migrations, and the plan ships none with a file", "add migrations: [{id: ..., file: migrations/0042_x.sql}], or leave the scenario out")
		case manual == files:
			c.at(fmt.Sprintf("gameday.scenarios[%d]", i), "migration-manual", fmt.Sprintf("scenario incompatible-migration on the team's own service applies the plan's own migrations, and every one with a file is runs: manual (%s): a drill never applies a manual migration, so it can apply nothing", manualIDs(c.p.Migrations)), "give a migration a runs: the drill can follow (pre-deploy, during-deploy with at_step, or post-deploy), or leave the scenario out")
		}
	}
	data := plan.SampleEnvData(s.DependsOn)
	for k, v := range s.Env {
		if _, err := plan.RenderValue(k, v, data); err != nil {
			c.at("gameday.service.env."+k, rule, fmt.Sprintf("env %s: %v", k, unwrapTemplateErr(err)), "use one of "+plan.EnvFields)
		}
	}
	if db.Schema != "" {
		rel := path.Join(path.Dir(c.p.Path), db.Schema)
		if strings.HasPrefix(path.Clean(db.Schema), "/") || strings.HasPrefix(rel, "../") || rel == ".." {
			c.at("gameday.database.schema", rule, fmt.Sprintf("schema file %q is outside the content folder", db.Schema), "keep the schema SQL under content/, relative to the plan")
		} else if c.opts.ContentDir != "" {
			if _, err := os.Stat(filepath.Join(c.opts.ContentDir, filepath.FromSlash(rel))); err != nil {
				c.at("gameday.database.schema", rule, fmt.Sprintf("schema file %q does not exist", db.Schema), "fix the path (relative to the plan's folder) or add the SQL file")
			}
		}
	}
}

// manualIDs lists the ids of the manual migrations with a file.
func manualIDs(ms []plan.Migration) string {
	var ids []string
	for _, m := range ms {
		if m.File != "" && m.Runs == plan.RunsManual {
			ids = append(ids, m.ID)
		}
	}
	return strings.Join(ids, ", ")
}

func (c *checker) request(p string, r plan.Request) {
	if !strings.HasPrefix(r.Path, "/") {
		c.at(p, "gameday-service", fmt.Sprintf("request path %q does not start with /", r.Path), `write a path on the service, for example path: "/orders?limit=1"`)
	}
}

// buildContext checks that a build's context is a folder inside the
// repository (the folder holding the content folder) with its Dockerfile.
func (c *checker) buildContext(p string, b plan.Build) {
	if c.opts.ContentDir == "" {
		return
	}
	content, err := filepath.Abs(c.opts.ContentDir)
	if err != nil {
		return
	}
	repo := filepath.Dir(content)
	planDir := filepath.Join(content, filepath.FromSlash(path.Dir(c.p.Path)))
	dir := filepath.Join(planDir, filepath.FromSlash(b.Context))
	if filepath.IsAbs(filepath.FromSlash(b.Context)) {
		dir = filepath.Clean(b.Context)
	}
	if rel, err := filepath.Rel(repo, dir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		c.at(p+".context", "gameday-service", fmt.Sprintf("build context %q is outside the repository (%s)", b.Context, repo), "keep the service's source in this repository and give its folder relative to the plan, for example context: ../../services/checkout")
		return
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		c.at(p+".context", "gameday-service", fmt.Sprintf("build context %q is not a folder (looked for %s)", b.Context, filepath.ToSlash(dir)), "give the service's folder relative to the plan")
		return
	}
	df := b.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(df))); err != nil {
		c.at(p, "gameday-service", fmt.Sprintf("the build context has no %s", df), "add the Dockerfile, or set dockerfile: to its path inside the context")
	}
}

// unwrapTemplateErr keeps the part of a template error that names the field.
func unwrapTemplateErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "can't evaluate field "); i >= 0 {
		return strings.TrimSpace(msg[i:])
	}
	if i := strings.Index(msg, "error calling Host: "); i >= 0 {
		return strings.TrimSpace(msg[i+len("error calling Host: "):])
	}
	return msg
}
