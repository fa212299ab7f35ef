package views

// htmxConfig keeps htmx within our CSP (no inline styles, no eval) and
// lets it swap 422 answers, which carry the form with its field errors.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScript":false,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},{"code":"[45]..","swap":false,"error":true}]}`
