// Package themes embeds the default theme (templates and static assets) in
// the rollbook binary. A site's themes/NAME folder overrides it file by file.
package themes

import "embed"

// Default is the default theme: templates/*.html and static/*.
//
//go:embed default/templates default/static
var Default embed.FS
