// Command sidebyside measures `warroom run` against grafterm v0.2.0 on the
// same terminal, the same Prometheus and the same queries:
//
//   - tmux at 200×50, both dashboards refreshing every 2 s;
//   - a real Prometheus (the Debian 2.42 package) scraping a real
//     node_exporter every second, both on free loopback ports in a
//     temporary directory;
//   - the same 16 queries on both sides (cycled for 4/40/100 panes), and
//     16 queries whose value never changes (vector(N)) for "constant data";
//   - runs interleaved (every configuration once per round, the order
//     rotating each round), medians over the rounds, and the load average
//     recorded before and after each run: the machine is shared.
//
// Per run it records the first frame (the first tmux capture with
// something drawn), the time until every pane shows data, CPU time from
// /proc/PID/stat (utime+stime) over the measuring window, and RssAnon,
// VmRSS and VmHWM from /proc/PID/status at its end.
//
// grafterm is built outside this repository from the module cache
// (`go mod download github.com/slok/grafterm@v0.2.0`), into a temporary
// directory: none of its code or binary is kept here.
//
// Usage (from the repository root):
//
//	go run ./bench/sidebyside -rounds 5 -dur 60s -o /tmp/sidebyside
//
// See bench/README.md for the configurations and how to read the table.
package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// queries are what both dashboards show: one series each, every one
// moving from scrape to scrape.
var queries = []struct{ title, expr, unit string }{
	{"cpu user", `sum(rate(node_cpu_seconds_total{mode="user"}[30s]))`, "s"},
	{"cpu system", `sum(rate(node_cpu_seconds_total{mode="system"}[30s]))`, "s"},
	{"cpu idle", `sum(rate(node_cpu_seconds_total{mode="idle"}[30s]))`, "s"},
	{"cpu iowait", `sum(rate(node_cpu_seconds_total{mode="iowait"}[30s]))`, "s"},
	{"load 1m", `node_load1`, ""},
	{"load 5m", `node_load5`, ""},
	{"mem available", `node_memory_MemAvailable_bytes`, "B"},
	{"mem cached", `node_memory_Cached_bytes`, "B"},
	{"net rx", `sum(rate(node_network_receive_bytes_total[30s]))`, "B/s"},
	{"net tx", `sum(rate(node_network_transmit_bytes_total[30s]))`, "B/s"},
	{"disk written", `sum(rate(node_disk_written_bytes_total[30s]))`, "B/s"},
	{"disk read", `sum(rate(node_disk_read_bytes_total[30s]))`, "B/s"},
	{"context switches", `sum(rate(node_context_switches_total[30s]))`, "/s"},
	{"interrupts", `sum(rate(node_intr_total[30s]))`, "/s"},
	{"procs running", `node_procs_running`, ""},
	{"exporter cpu", `sum(rate(process_cpu_seconds_total{job="node"}[30s]))`, "s"},
}

type config struct {
	name     string
	tool     string // warroom or grafterm
	panes    int
	constant bool
}

func (c config) String() string { return c.name }

var allConfigs = map[string]config{
	"grafterm-16":          {"grafterm-16", "grafterm", 16, false},
	"grafterm-16-constant": {"grafterm-16-constant", "grafterm", 16, true},
	"warroom-16":           {"warroom-16", "warroom", 16, false},
	"warroom-16-constant":  {"warroom-16-constant", "warroom", 16, true},
	"warroom-4":            {"warroom-4", "warroom", 4, false},
	"warroom-40":           {"warroom-40", "warroom", 40, false},
	"warroom-100":          {"warroom-100", "warroom", 100, false},
}

type result struct {
	cfg            config
	round          int
	firstFrame     time.Duration // -1: never
	allData        time.Duration // -1: never
	cpuPct         float64
	cpuMsPerCycle  float64
	rssAnonKB      int
	rssKB          int
	hwmKB          int
	writeBytes     int64 // /proc/PID/io write_bytes over the window
	load1Before    float64
	load1After     float64
	dataPanesFound int
}

func main() {
	rounds := flag.Int("rounds", 5, "rounds (every configuration once per round)")
	dur := flag.Duration("dur", 60*time.Second, "CPU measuring window per run")
	warm := flag.Duration("warm", 10*time.Second, "wait after every pane has data before measuring")
	which := flag.String("configs", "grafterm-16,warroom-16,warroom-16-constant,grafterm-16-constant", "comma-separated configurations ("+strings.Join(mapKeys(allConfigs), ", ")+")")
	out := flag.String("o", "", "directory for results.csv and summary.md (default: a temporary directory)")
	warroomBin := flag.String("warroom", "", "warroom binary (default: build ./cmd/warroom with CGO_ENABLED=0)")
	graftermBin := flag.String("grafterm", "", "grafterm binary (default: build v0.2.0 from the module cache into a temporary directory)")
	extraEnv := flag.String("warroom-env", "", "extra environment for warroom, comma-separated K=V")
	perfRec := flag.Bool("perf", false, "also record warroom with perf (cpu-clock, 499 Hz, call graphs) over the window, into -o (kernel time included)")
	profile := flag.Bool("profile", false, "also take warroom's CPU profile over the window and its heap profile at the end (WARROOM_PPROF), into -o")
	flag.Parse()
	log.SetFlags(log.Ltime)

	var cfgs []config
	for _, n := range strings.Split(*which, ",") {
		c, ok := allConfigs[strings.TrimSpace(n)]
		if !ok {
			log.Fatalf("unknown configuration %q", n)
		}
		cfgs = append(cfgs, c)
	}
	work, err := os.MkdirTemp("", "sidebyside-")
	must(err)
	defer os.RemoveAll(work)
	if *out == "" {
		*out = work + "-results"
	}
	must(os.MkdirAll(*out, 0o755))

	need := map[string]bool{}
	for _, c := range cfgs {
		need[c.tool] = true
	}
	if need["warroom"] && *warroomBin == "" {
		*warroomBin = filepath.Join(work, "warroom")
		log.Printf("building warroom (CGO_ENABLED=0)")
		run(exec.Command("go", "build", "-trimpath", "-o", *warroomBin, "./cmd/warroom"), "CGO_ENABLED=0")
	}
	if need["grafterm"] && *graftermBin == "" {
		*graftermBin = buildGrafterm(work)
	}
	// A missing binary is found now, before the servers start: log.Fatalf
	// later would leave them running.
	for tool, bin := range map[string]string{"warroom": *warroomBin, "grafterm": *graftermBin} {
		if need[tool] {
			if _, err := exec.LookPath(bin); err != nil {
				log.Fatalf("%s binary: %v", tool, err)
			}
		}
	}

	nodePort, promPort := freePort(), freePort()
	node := start(work, "node_exporter", "prometheus-node-exporter", "--web.listen-address=127.0.0.1:"+nodePort)
	defer stop(node)
	promDir := filepath.Join(work, "prom")
	must(os.MkdirAll(promDir, 0o755))
	must(os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:%s']
`, nodePort)), 0o644))
	prom := start(work, "prometheus", "prometheus", "--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"), "--web.listen-address=127.0.0.1:"+promPort)
	defer stop(prom)
	promURL := "http://127.0.0.1:" + promPort
	waitForData(promURL)

	socket := fmt.Sprintf("sidebyside-%d", os.Getpid())
	tm := tmux{socket: socket}
	tm.must("-f", "/dev/null", "new-session", "-d", "-s", "keep", "-x", "200", "-y", "50")
	defer tm.run("kill-server")

	var results []result
	for r := 0; r < *rounds; r++ {
		order := slices.Clone(cfgs)
		// Rotate the order each round, so no configuration always runs
		// first or right after the same neighbour.
		k := r % len(order)
		order = append(order[k:], order[:k]...)
		for _, c := range order {
			res := measure(tm, c, r, work, *out, promURL, *warroomBin, *graftermBin, *extraEnv, *profile, *perfRec, *warm, *dur)
			log.Printf("round %d %-22s first frame %6s  all data %6s  CPU %5.2f%%  RssAnon %5.1f MB  RSS %5.1f MB  load %.2f→%.2f",
				r+1, c.name, ms(res.firstFrame), ms(res.allData), res.cpuPct, float64(res.rssAnonKB)/1024, float64(res.rssKB)/1024, res.load1Before, res.load1After)
			results = append(results, res)
		}
	}
	writeCSV(filepath.Join(*out, "results.csv"), results)
	sum := summary(cfgs, results, *dur)
	must(os.WriteFile(filepath.Join(*out, "summary.md"), []byte(sum), 0o644))
	fmt.Print(sum)
	log.Printf("results in %s", *out)
}

func measure(tm tmux, c config, round int, work, out, promURL, warroomBin, graftermBin, extraEnv string, profile, perfRec bool, warm, dur time.Duration) result {
	dir := filepath.Join(work, fmt.Sprintf("%s-%d", c.name, round))
	must(os.MkdirAll(dir, 0o755))
	var argv []string
	var env []string
	var pprofAddr string
	switch c.tool {
	case "warroom":
		path := filepath.Join(dir, "warroom.yaml")
		must(os.WriteFile(path, []byte(warroomConfig(c, promURL)), 0o644))
		argv = []string{warroomBin, "run", "-c", path, "--as", "ic", "--journal", filepath.Join(dir, "warroom.db")}
		if extraEnv != "" {
			env = strings.Split(extraEnv, ",")
		}
		if profile {
			pprofAddr = "127.0.0.1:" + freePort()
			env = append(env, "WARROOM_PPROF="+pprofAddr)
		}
	case "grafterm":
		path := filepath.Join(dir, "dashboard.json")
		must(os.WriteFile(path, []byte(graftermConfig(c, promURL)), 0o644))
		argv = []string{graftermBin, "-c", path, "-r", "2s", "--log-path", filepath.Join(dir, "grafterm.log")}
	}
	res := result{cfg: c, round: round, firstFrame: -1, allData: -1}
	res.load1Before = loadavg()
	name := fmt.Sprintf("r%d-%s", round, c.name)
	cmd := "cd " + shq(dir) + " && exec env TERM=xterm-256color COLORTERM=truecolor " + strings.Join(env, " ") + " " + shqAll(argv)
	t0 := time.Now()
	tm.must("new-session", "-d", "-s", name, "-x", "200", "-y", "50", cmd)
	pid := 0
	deadline := t0.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if pid == 0 {
			pid, _ = strconv.Atoi(strings.TrimSpace(tm.out("display", "-p", "-t", name, "#{pane_pid}")))
		}
		screen := tm.out("capture-pane", "-p", "-t", name)
		el := time.Since(t0)
		if res.firstFrame < 0 && drawn(c, screen) {
			res.firstFrame = el
		}
		if res.firstFrame >= 0 {
			n := dataPanes(c, screen)
			res.dataPanesFound = n
			if n >= min(c.panes, visiblePanes(c)) {
				res.allData = el
				break
			}
		}
		time.Sleep(3 * time.Millisecond)
	}
	if pid == 0 {
		log.Fatalf("%s: no pid", name)
	}
	if res.allData < 0 {
		os.WriteFile(filepath.Join(out, name+".screen.txt"), []byte(tm.out("capture-pane", "-p", "-t", name)), 0o644)
		log.Printf("%s: not every pane had data after 20 s (%d found); screen saved", name, res.dataPanesFound)
	}
	time.Sleep(warm)
	cpu0, io0 := cpuTicks(pid), writeBytes(pid)
	w0 := time.Now()
	if perfRec && c.tool == "warroom" {
		pc := exec.Command("perf", "record", "-F", "499", "-g", "-e", "cpu-clock", "-p", strconv.Itoa(pid), "-o", filepath.Join(out, fmt.Sprintf("r%d-%s.perf.data", round, c.name)), "--", "sleep", strconv.Itoa(int(dur.Seconds())))
		pc.Stdout, pc.Stderr = io.Discard, io.Discard
		if err := pc.Start(); err != nil {
			log.Printf("perf: %v", err)
		} else {
			defer pc.Wait()
		}
	}
	if pprofAddr != "" {
		fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, int(dur.Seconds())), filepath.Join(out, fmt.Sprintf("r%d-%s.cpu.pprof", round, c.name)))
		fetch(fmt.Sprintf("http://%s/debug/pprof/heap", pprofAddr), filepath.Join(out, fmt.Sprintf("r%d-%s.heap.pprof", round, c.name)))
	}
	time.Sleep(dur - time.Since(w0))
	cpu1, io1 := cpuTicks(pid), writeBytes(pid)
	wall := time.Since(w0)
	res.cpuPct = 100 * float64(cpu1-cpu0) / clkTck / wall.Seconds()
	res.cpuMsPerCycle = res.cpuPct / 100 * 2000
	res.writeBytes = io1 - io0
	res.rssAnonKB, res.rssKB, res.hwmKB = status(pid, "RssAnon"), status(pid, "VmRSS"), status(pid, "VmHWM")
	res.load1After = loadavg()
	os.WriteFile(filepath.Join(out, name+".screen.txt"), []byte(tm.out("capture-pane", "-p", "-t", name)), 0o644)
	// End the program we started (by its pid), then its window.
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	tm.run("kill-session", "-t", name)
	os.RemoveAll(dir)
	return res
}

// drawn: the dashboard's frame is on screen (a pane's box for grafterm,
// the tab bar for warroom), not just a line printed before it started.
func drawn(c config, screen string) bool {
	if c.tool == "grafterm" {
		return strings.Contains(screen, "┌")
	}
	return strings.Contains(screen, "Overview")
}

// visiblePanes: how many panes can show data at once on 200×50 (warroom's
// overview scrolls beyond what fits; every pane's service cell shows its
// value, so 100 panes on 25 services fit).
func visiblePanes(c config) int { return c.panes }

var (
	waitingRE = regexp.MustCompile(`waiting for the first answer|NO DATA|connecting to the engine`)
	valueRE   = regexp.MustCompile(`[0-9]`)
)

// dataPanes counts the panes that show data. For grafterm, a graph with
// data has braille dots in its box; the 16 boxes are a 4×4 grid. For
// warroom, a pane without data says "waiting for the first answer" or
// NO DATA; once none does, every pane shows a value.
func dataPanes(c config, screen string) int {
	lines := strings.Split(screen, "\n")
	switch c.tool {
	case "grafterm":
		cols, rows := 4, (c.panes+3)/4
		n := 0
		for r := 0; r < rows; r++ {
			for col := 0; col < cols; col++ {
				if hasBraille(lines, col*200/cols, (col+1)*200/cols, r*50/rows, (r+1)*50/rows) {
					n++
				}
			}
		}
		return n
	default:
		if len(lines) < 3 || !valueRE.MatchString(screen) {
			return 0
		}
		return c.panes - len(waitingRE.FindAllStringIndex(screen, -1))
	}
}

func hasBraille(lines []string, x0, x1, y0, y1 int) bool {
	for y := y0; y < y1 && y < len(lines); y++ {
		rs := []rune(lines[y])
		for x := x0; x < x1 && x < len(rs); x++ {
			if rs[x] > 0x2800 && rs[x] <= 0x28FF {
				return true
			}
		}
	}
	return false
}

func paneQueries(c config) []struct{ title, expr, unit string } {
	out := make([]struct{ title, expr, unit string }, c.panes)
	for i := range out {
		q := queries[i%len(queries)]
		if c.constant {
			q.title, q.expr, q.unit = fmt.Sprintf("constant %d", i+1), fmt.Sprintf("vector(%d)", i+1), ""
		} else if i >= len(queries) {
			q.title = fmt.Sprintf("%s %d", q.title, i/len(queries)+1)
		}
		out[i] = q
	}
	return out
}

// warroomConfig: one service per pane up to 16 panes (a 4×4 grid of
// charts, like grafterm's), four panes per service beyond.
func warroomConfig(c config, promURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "incident:\n  name: side by side\nsources:\n  - id: prom\n    type: prometheus\n    url: %s\n    interval: 2s\n    timeout: 2s\nservices:\n", promURL)
	per := 1
	if c.panes > 16 {
		per = 4
	}
	for i, q := range paneQueries(c) {
		if i%per == 0 {
			fmt.Fprintf(&b, "  - id: svc%d\n    name: service %d\n    owner: ic\n    panes:\n", i/per+1, i/per+1)
		}
		fmt.Fprintf(&b, "      - id: p%d\n        title: %s\n        source: prom\n        query: %q\n", i+1, q.title, q.expr)
		if q.unit != "" {
			fmt.Fprintf(&b, "        unit: %q\n", q.unit)
		}
	}
	b.WriteString("roster:\n  - handle: ic\nroles:\n  commander: ic\n")
	return b.String()
}

// graftermConfig: 16 graph widgets, four to a row.
func graftermConfig(c config, promURL string) string {
	type query struct {
		DatasourceID string `json:"datasourceID"`
		Expr         string `json:"expr"`
		Legend       string `json:"legend"`
	}
	type widget struct {
		Title   string         `json:"title"`
		GridPos map[string]int `json:"gridPos"`
		Graph   map[string]any `json:"graph"`
	}
	var ws []widget
	for _, q := range paneQueries(c) {
		ws = append(ws, widget{Title: q.title, GridPos: map[string]int{"w": 25},
			Graph: map[string]any{"queries": []query{{DatasourceID: "prom", Expr: q.expr, Legend: q.title}}}})
	}
	doc := map[string]any{
		"version":     "v1",
		"datasources": map[string]any{"prom": map[string]any{"prometheus": map[string]string{"address": promURL}}},
		"dashboard":   map[string]any{"widgets": ws},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	must(err)
	return string(b)
}

// buildGrafterm builds grafterm v0.2.0 from the module cache in a
// temporary copy (the cache is read-only, and its go.mod predates
// go.sum checks of newer toolchains).
func buildGrafterm(work string) string {
	log.Printf("building grafterm v0.2.0 from the module cache")
	var info struct{ Dir string }
	outb, err := exec.Command("go", "mod", "download", "-json", "github.com/slok/grafterm@v0.2.0").Output()
	must(err)
	must(json.Unmarshal(outb, &info))
	src := filepath.Join(work, "grafterm-src")
	run(exec.Command("cp", "-r", info.Dir, src))
	run(exec.Command("chmod", "-R", "u+w", src))
	bin := filepath.Join(work, "grafterm")
	b := exec.Command("go", "build", "-o", bin, "./cmd/grafterm")
	b.Dir = src
	run(b, "GOFLAGS=-mod=mod", "GOWORK=off")
	return bin
}

type tmux struct{ socket string }

func (t tmux) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", t.socket}, args...)...)
}
func (t tmux) run(args ...string) error { return t.cmd(args...).Run() }
func (t tmux) out(args ...string) string {
	b, _ := t.cmd(args...).Output()
	return string(b)
}
func (t tmux) must(args ...string) {
	if b, err := t.cmd(args...).CombinedOutput(); err != nil {
		log.Fatalf("tmux %v: %v: %s", args, err, b)
	}
}

const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields after the command: state(0) … utime(11) stime(12)
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func writeBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func status(pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func loadavg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// fetch saves what url answers to path.
func fetch(url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		log.Printf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		log.Printf("profile %s: %v %s", url, err, resp.Status)
		return
	}
	must(os.WriteFile(path, b, 0o644))
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func start(work, name string, argv ...string) *exec.Cmd {
	c := exec.Command(argv[0], argv[1:]...)
	lf, err := os.Create(filepath.Join(work, name+".log"))
	must(err)
	c.Stdout, c.Stderr = lf, lf
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(c.Start())
	return c
}

func stop(c *exec.Cmd) {
	if c.Process != nil {
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
		}
	}
}

func waitForData(promURL string) {
	q := url.Values{"query": {`sum(rate(node_cpu_seconds_total[30s]))`}}
	for i := 0; i < 120; i++ {
		resp, err := http.Get(promURL + "/api/v1/query?" + q.Encode())
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, []byte(`"value"`)) {
				// Every query must answer, or a pane would wait forever.
				for _, qq := range queries {
					if !answers(promURL, qq.expr) {
						log.Fatalf("query %s returns no data here", qq.expr)
					}
				}
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	log.Fatal("prometheus has no data after 60 s")
}

func answers(promURL, expr string) bool {
	for i := 0; i < 60; i++ {
		resp, err := http.Get(promURL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, []byte(`"value"`)) {
				return true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func writeCSV(path string, rs []result) {
	f, err := os.Create(path)
	must(err)
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"config", "round", "first_frame_ms", "all_data_ms", "cpu_pct", "cpu_ms_per_2s", "rss_anon_kb", "rss_kb", "hwm_kb", "write_bytes", "load1_before", "load1_after"})
	for _, r := range rs {
		w.Write([]string{r.cfg.name, strconv.Itoa(r.round + 1), msf(r.firstFrame), msf(r.allData),
			fmt.Sprintf("%.3f", r.cpuPct), fmt.Sprintf("%.1f", r.cpuMsPerCycle), strconv.Itoa(r.rssAnonKB), strconv.Itoa(r.rssKB), strconv.Itoa(r.hwmKB),
			strconv.FormatInt(r.writeBytes, 10), fmt.Sprintf("%.2f", r.load1Before), fmt.Sprintf("%.2f", r.load1After)})
	}
	w.Flush()
	must(w.Error())
}

func summary(cfgs []config, rs []result, dur time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Side by side at 200×50, 2 s refresh, CPU over %s, medians of %d rounds (interleaved)\n\n", dur, len(rs)/max(len(cfgs), 1))
	b.WriteString("| configuration | CPU % of a core | CPU ms / 2 s | RssAnon MB | VmRSS MB | VmHWM MB | disk writes MB/h | first frame ms | all panes with data ms | load1 (min–max) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	cpu := map[string]float64{}
	for _, c := range cfgs {
		var sel []result
		for _, r := range rs {
			if r.cfg.name == c.name {
				sel = append(sel, r)
			}
		}
		med := func(f func(result) float64) float64 {
			v := make([]float64, len(sel))
			for i, r := range sel {
				v[i] = f(r)
			}
			return median(v)
		}
		lo, hi := 1e9, 0.0
		for _, r := range sel {
			lo, hi = min(lo, r.load1Before, r.load1After), max(hi, r.load1Before, r.load1After)
		}
		cpu[c.name] = med(func(r result) float64 { return r.cpuPct })
		fmt.Fprintf(&b, "| %s | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.2f–%.2f |\n", c.name,
			cpu[c.name], med(func(r result) float64 { return r.cpuMsPerCycle }),
			med(func(r result) float64 { return float64(r.rssAnonKB) / 1024 }),
			med(func(r result) float64 { return float64(r.rssKB) / 1024 }),
			med(func(r result) float64 { return float64(r.hwmKB) / 1024 }),
			med(func(r result) float64 { return float64(r.writeBytes) / 1e6 * 3600 / dur.Seconds() }),
			med(func(r result) float64 { return float64(r.firstFrame) / 1e6 }),
			med(func(r result) float64 { return float64(r.allData) / 1e6 }), lo, hi)
	}
	if g, ok := cpu["grafterm-16"]; ok && g > 0 {
		if w, ok := cpu["warroom-16"]; ok {
			fmt.Fprintf(&b, "\nwarroom-16 / grafterm-16 CPU: %.2f×\n", w/g)
		}
	}
	return b.String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func msf(d time.Duration) string {
	if d < 0 {
		return ""
	}
	return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64)
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shqAll(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = shq(s)
	}
	return strings.Join(q, " ")
}

func run(c *exec.Cmd, env ...string) {
	c.Env = append(os.Environ(), env...)
	c.Stderr = os.Stderr
	if err := c.Run(); err != nil {
		log.Fatalf("%v: %v", c.Args, err)
	}
}

func must(err error) {
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			log.Fatalf("%v: %s", err, ee.Stderr)
		}
		log.Fatal(err)
	}
}

func mapKeys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
