package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	"mailtrail/internal/corpus"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the table: per phase, each tool's median wall time and
// peak RSS over the rounds, and mailtrail's time as a ratio to each mbsync
// variant (the median of the per-round ratios: within a round the tools
// ran side by side, in like disk conditions).
func report(w io.Writer, o options, sum corpus.Summary, build string, tools []string, results []result) {
	type key struct {
		phase, tool string
		round       int
	}
	byKey := map[key]result{}
	var floor int64
	for _, r := range results {
		byKey[key{r.Phase, r.Tool, r.Round}] = r
		floor = max(floor, r.Sample.RunnerKiB)
	}
	fmt.Fprintf(w, "\nmailtrail-bench: %s (%d in folder Big), %d round(s); build %s\n", sum, o.big, o.rounds, build)
	if o.names == corpus.NamesDovecot {
		fmt.Fprintln(w, "the server's files named as Dovecot's deliveries name them (--names dovecot)")
	}
	if o.tls {
		fmt.Fprintln(w, "every tool reached the server over implicit TLS (IMAPS)")
	}
	if o.latency > 0 {
		fmt.Fprintf(w, "every tool reached the server through a proxy adding %v to each round trip\n", o.latency)
	}
	fmt.Fprintf(w, "median wall time and peak RSS per run; RSS floor (the runner) %.1f MB\n\n", mb(floor))
	var ratioTools []string
	for _, t := range tools {
		if t != "mailtrail" && strings.HasPrefix(t, "mbsync") && contains(tools, "mailtrail") {
			ratioTools = append(ratioTools, t)
		}
	}
	head := append([]string{"phase"}, tools...)
	for _, t := range ratioTools {
		head = append(head, "mailtrail ÷ "+t)
	}
	head = append(head, "floor: login + LIST-STATUS")
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, p := range phaseList(o.again, o.markAllRead) {
		row := []string{phaseTitle(p)}
		for _, t := range tools {
			var secs, rss []float64
			bad := 0
			for r := 1; r <= o.rounds; r++ {
				res, ok := byKey[key{p, t, r}]
				if !ok {
					continue
				}
				secs = append(secs, res.Sample.Wall.Seconds())
				rss = append(rss, mb(res.Sample.MaxRSSKiB))
				if res.Err != "" || len(res.Diffs) > 0 {
					bad++
				}
			}
			cell := fmt.Sprintf("%s, %.0f MB", fmtSecs(median(secs)), median(rss))
			if len(secs) > 1 {
				s := append([]float64(nil), secs...)
				sort.Float64s(s)
				cell = fmt.Sprintf("%s (%s–%s), %.0f MB", fmtSecs(median(secs)), strings.TrimSuffix(fmtSecs(s[0]), " s"), strings.TrimSuffix(fmtSecs(s[len(s)-1]), " s"), median(rss))
			}
			if bad > 0 {
				cell += fmt.Sprintf(" **%d failed**", bad)
			}
			row = append(row, cell)
		}
		for _, t := range ratioTools {
			var ratios []float64
			for r := 1; r <= o.rounds; r++ {
				a, ok1 := byKey[key{p, "mailtrail", r}]
				b, ok2 := byKey[key{p, t, r}]
				if ok1 && ok2 && b.Sample.Wall > 0 {
					ratios = append(ratios, a.Sample.Wall.Seconds()/b.Sample.Wall.Seconds())
				}
			}
			row = append(row, fmt.Sprintf("%.2f×", median(ratios)))
		}
		var floors []float64
		for _, r := range results {
			if r.Phase == p && r.Floor > 0 {
				floors = append(floors, r.Floor.Seconds())
			}
		}
		if len(floors) > 0 {
			row = append(row, fmtSecs(median(floors)))
		} else {
			row = append(row, "")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	// CPU time against wall time says whether a tool computes or waits
	// (on the disk, on the server).
	fmt.Fprintf(w, "\nmedian CPU time (user + sys) per run\n\n| phase | %s |\n|%s\n", strings.Join(tools, " | "), strings.Repeat(" --- |", len(tools)+1))
	for _, p := range phaseList(o.again, o.markAllRead) {
		row := []string{phaseTitle(p)}
		for _, t := range tools {
			var cpu []float64
			for r := 1; r <= o.rounds; r++ {
				if res, ok := byKey[key{p, t, r}]; ok {
					cpu = append(cpu, (res.Sample.User + res.Sample.Sys).Seconds())
				}
			}
			row = append(row, fmtSecs(median(cpu)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	// The whole machine's CPU time during the run says how much of it the
	// server and the kernel took beside the tool, and whether the run was
	// bound by the processors (near the wall time times the cores).
	fmt.Fprintf(w, "\nmedian CPU time of the whole machine during the run (tool, server, kernel; %d cores; in 10 ms ticks)\n\n| phase | %s |\n|%s\n", runtime.NumCPU(), strings.Join(tools, " | "), strings.Repeat(" --- |", len(tools)+1))
	for _, p := range phaseList(o.again, o.markAllRead) {
		row := []string{phaseTitle(p)}
		for _, t := range tools {
			var cpu []float64
			for r := 1; r <= o.rounds; r++ {
				if res, ok := byKey[key{p, t, r}]; ok && res.Sample.Machine > 0 {
					cpu = append(cpu, res.Sample.Machine.Seconds())
				}
			}
			if len(cpu) == 0 {
				row = append(row, "")
				continue
			}
			row = append(row, fmtSecs(median(cpu)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
}

func fmtSecs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.3f s", s)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.1f s", s)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
