package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/textsafe"
)

// maxAnswer bounds one typed answer.
const maxAnswer = 4 << 10

// errTooManyTries: the same question was answered badly three times.
var errTooManyTries = errors.New("no valid answer after 3 tries")

// askInit asks for what init's flags would say, when it runs on a
// terminal without them: the room's name, the commander, a Prometheus
// (and whether its jobs are the services), a Datadog site, services and
// a Slack channel. Each question shows its default in brackets and Enter
// takes it; a bad answer is explained and asked again, at most three
// times; the end of the input takes the defaults of the questions left.
// Prompts go to out; answers are bounded and made inert before use.
func askInit(ctx context.Context, in io.Reader, out io.Writer, o *initOptions) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 256), maxAnswer)
	ended := false
	// ask prints the question and returns the answer, or def for an empty
	// one; check says what is wrong with an answer ("" when none is).
	ask := func(question, def string, check func(string) string) (string, error) {
		for range 3 {
			if ended {
				return def, nil
			}
			if def != "" {
				fmt.Fprintf(out, "%s [%s]: ", question, def)
			} else {
				fmt.Fprintf(out, "%s: ", question)
			}
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return "", fmt.Errorf("reading the answer: %w", err)
				}
				ended = true
				fmt.Fprintln(out)
				return def, nil
			}
			a := strings.TrimSpace(textsafe.Line(sc.Text()))
			if a == "" {
				return def, nil
			}
			if why := check(a); why != "" {
				fmt.Fprintf(out, "  %s\n", why)
				continue
			}
			return a, nil
		}
		return "", fmt.Errorf("%s: %w", question, errTooManyTries)
	}
	anything := func(string) string { return "" }
	fmt.Fprintln(out, "A few questions for the starter war room (Enter takes the [default]; every answer can be edited in the file later).")

	var err error
	if o.name, err = ask("The war room's name", o.name, func(a string) string {
		if len([]rune(a)) > 100 {
			return "at most 100 characters"
		}
		return ""
	}); err != nil {
		return err
	}
	if o.commander, err = ask("Your roster handle (you are the commander)", o.commander, func(a string) string {
		if !handleRe.MatchString(a) {
			return "a handle is letters, digits, _ . - (e.g. rosa)"
		}
		return ""
	}); err != nil {
		return err
	}
	if o.prom, err = ask("Prometheus base URL (Enter for none)", "", func(a string) string {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "an http(s) URL, e.g. http://127.0.0.1:9090"
		}
		return ""
	}); err != nil {
		return err
	}
	if o.prom != "" {
		yes, err := ask("One service per job this Prometheus scrapes? (y/n)", "y", func(a string) string {
			if !slices.Contains([]string{"y", "yes", "n", "no"}, strings.ToLower(a)) {
				return "y or n"
			}
			return ""
		})
		if err != nil {
			return err
		}
		if strings.HasPrefix(strings.ToLower(yes), "y") {
			jobs, err := prometheusJobs(ctx, o.prom)
			if err != nil {
				fmt.Fprintf(out, "  could not list its jobs (%v): name the services below instead\n", textsafe.Line(err.Error()))
			} else {
				fmt.Fprintf(out, "  it scrapes %d job(s): %s\n", len(jobs), strings.Join(jobs, ", "))
				o.jobs, o.fetched = true, true
				o.services = append(o.services, jobs...)
			}
		}
	}
	if o.datadog, err = ask("Datadog site (Enter for none; e.g. datadoghq.com, datadoghq.eu)", "", func(a string) string {
		if !slices.Contains(config.DatadogSites, a) {
			return "one of " + strings.Join(config.DatadogSites, ", ")
		}
		return ""
	}); err != nil {
		return err
	}
	if o.prom == "" && o.datadog == "" {
		// A room needs a source: say which one the file gets.
		fmt.Fprintln(out, "  neither: the file gets a Prometheus at http://127.0.0.1:9090 for you to edit")
	}
	question, def := "Services, by id, separated by spaces or commas", "api"
	if len(o.services) > 0 {
		question, def = "More services (Enter for none)", ""
	}
	svcs, err := ask(question, def, anything)
	if err != nil {
		return err
	}
	for _, s := range strings.FieldsFunc(svcs, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if id := serviceID(s); id != "" && !slices.Contains(o.services, id) {
			o.services = append(o.services, id)
		}
	}
	if o.slackChannel, err = ask("Slack channel ID to mirror the timeline to (Enter for none)", "", func(a string) string {
		if !config.IsSlackChannelID(a) {
			return "the channel's ID (C0123ABCD, in the channel's details), not its name"
		}
		return ""
	}); err != nil {
		return err
	}
	return nil
}
