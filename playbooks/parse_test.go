package playbooks

import "github.com/warroom/warroom/config"

// LoadDir loads and validates every *.yaml and *.yml file in dir, without
// the cross-checks against a war-room file (LoadForConfig makes them).
func LoadDir(dir string) (*Catalog, error) { return load(dir, nil) }

// Parse validates one playbook held in memory (name is used in error
// positions). cfg, when not nil, enables the cross-checks.
func Parse(name string, data []byte, cfg *config.Config) (*Playbook, error) {
	errs := &config.Errors{}
	pb, _ := parseFile(name, data, cfg, errs)
	if len(errs.List) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return pb, nil
}
