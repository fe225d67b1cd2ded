// Package docs carries the war-room file's reference (CONFIG.md) and its
// JSON Schema (warroom.schema.json, generated from the config types and
// the reference: go test ./config -run Schema -update) into the binary,
// so that `warroom init` can write the schema beside a new file.
package docs

import _ "embed"

// ConfigReference is CONFIG.md.
//
//go:embed CONFIG.md
var ConfigReference []byte

// Schema is warroom.schema.json.
//
//go:embed warroom.schema.json
var Schema []byte
