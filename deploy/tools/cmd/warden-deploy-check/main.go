// Command warden-deploy-check validates Warden's deployment files offline (docs/adr/0096).
//
//	warden-deploy-check manifests --crds DIR [FILE]   rendered manifests (stdin without FILE)
//	warden-deploy-check rules FILE                    a Prometheus rule file, as promtool reads it
//	warden-deploy-check promql                        PromQL expressions (a JSON array on stdin)
//
// Every command prints a JSON report on stdout and exits 1 when it found a problem.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var report any
	var ok bool
	var err error
	switch os.Args[1] {
	case "manifests":
		report, ok, err = manifestsCommand(os.Args[2:])
	case "rules":
		report, ok, err = rulesCommand(os.Args[2:])
	case "promql":
		report, ok, err = promqlCommand(os.Stdin)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "warden-deploy-check %s: %v\n", os.Args[1], err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(report); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: warden-deploy-check manifests --crds DIR [FILE] | rules FILE | promql < expressions.json")
	os.Exit(64)
}

func readInput(args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(args[0])
}
