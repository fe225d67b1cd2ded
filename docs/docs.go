// Package docs carries the war-room file's JSON Schema
// (warroom.schema.json, generated from the config types and the
// reference, CONFIG.md: go test ./config -run Schema -update-schema) into
// the binary, so that `warroom init` can write the schema beside a new
// file.
package docs

import _ "embed"

// Schema is warroom.schema.json.
//
//go:embed warroom.schema.json
var Schema []byte
