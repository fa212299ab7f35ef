// Package static holds the panel's stylesheets, scripts and images, embedded
// into the binary so that whapidesk works with no internet access.
//
// Paths inside FS are relative to this folder, e.g. "css/app.css",
// "js/htmx.min.js", "js/app.js" and "img/favicon.svg".
package static

import "embed"

// FS holds the css, js and img folders.
//
//go:embed css js img
var FS embed.FS
