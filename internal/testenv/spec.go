package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Spec is one of WHAPI's OpenAPI documents (partner.json, gate.yaml),
// read from ../shared/whapi/openapi beside the repository, for checking
// that what the client sends and the simulator answers fit WHAPI's
// schemas. It checks type, required, properties, items, allOf, pattern,
// enum, nullable and $ref: enough to catch a wrong name or shape.
type Spec struct {
	doc map[string]any
}

// LoadSpec reads WHAPI's OpenAPI document name. It skips the test when the
// file is missing, except under CI=true, where it must be there.
func LoadSpec(t testing.TB, name string) *Spec {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "shared", "whapi", "openapi", name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skipf("WHAPI spec %s not found (it lives in ../shared/whapi/openapi beside the repository); skipping the schema check", path)
	}
	if err != nil {
		t.Fatalf("reading the WHAPI spec (needed under CI=true): %v", err)
	}
	s := &Spec{}
	if strings.HasSuffix(name, ".json") {
		err = json.Unmarshal(b, &s.doc)
	} else {
		err = yaml.Unmarshal(b, &s.doc)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func (s *Spec) get(path ...string) (any, error) {
	var cur any = s.doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an object", strings.Join(path, "/"))
		}
		if cur, ok = m[p]; !ok {
			return nil, fmt.Errorf("%s: no %q", strings.Join(path, "/"), p)
		}
	}
	return cur, nil
}

// Schema returns components/schemas/name.
func (s *Spec) Schema(t testing.TB, name string) map[string]any {
	t.Helper()
	v, err := s.get("components", "schemas", name)
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

// Validate checks the JSON document raw against schema and returns the
// violations (none: it fits).
func (s *Spec) Validate(schema map[string]any, raw []byte) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	return s.validate(schema, v, "$")
}

func (s *Spec) validate(schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		target, err := s.get(strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return s.validate(target.(map[string]any), v, at)
	}
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, s.validate(sub.(map[string]any), v, at)...)
		}
	}
	if v == nil {
		if schema["nullable"] == true || schema["type"] == nil {
			return errs
		}
		return append(errs, at+": null where "+fmt.Sprint(schema["type"])+" is required")
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, at+": not an object")
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, at+": missing required "+r.(string))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, sub := range props {
			if fv, ok := m[k]; ok {
				errs = append(errs, s.validate(sub.(map[string]any), fv, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, at+": not an array")
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range a {
				errs = append(errs, s.validate(items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(errs, at+": not a string")
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, str, p))
		}
		if enum, ok := schema["enum"].([]any); ok && !contains(enum, str) {
			errs = append(errs, fmt.Sprintf("%s: %q not in %v", at, str, enum))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			errs = append(errs, fmt.Sprintf("%s: %v is not an integer", at, v))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			errs = append(errs, fmt.Sprintf("%s: %v is not a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %v is not a boolean", at, v))
		}
	}
	return errs
}

func contains(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
