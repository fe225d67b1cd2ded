package main

import (
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagHelpSurvivesTitleCase: fang title-cases the first word of each
// flag's description, lowercasing the rest of it and capitalising after
// a hyphen, so a description must not start with an acronym or a
// hyphenated word: "SSH" read "Ssh", "war-room" "War-Room".
func TestFlagHelpSurvivesTitleCase(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			word, _, _ := strings.Cut(strings.TrimSpace(f.Usage), " ")
			if word == "" {
				return
			}
			rest := []rune(word)[1:]
			if strings.ContainsRune(word, '-') || strings.IndexFunc(string(rest), unicode.IsUpper) >= 0 {
				t.Errorf("%s --%s: fang's help mangles %q: %s", c.CommandPath(), f.Name, word, f.Usage)
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot())
}
