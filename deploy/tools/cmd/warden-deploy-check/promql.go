package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var promqlParser = parser.NewParser(parser.Options{})

// Selector is one vector selector of an expression: the metric it names and the labels it matches on.
type Selector struct {
	Metric string   `json:"metric"`
	Labels []string `json:"labels"`
}

// Expression is what an expression references, for comparison with what the services export.
type Expression struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error,omitempty"`
	Selectors []Selector `json:"selectors"`
	// Labels the expression groups or matches by (by/without, on/ignoring/group_left/group_right).
	Grouping []string `json:"grouping"`
}

func analyse(expr string) Expression {
	out := Expression{Expr: expr, Selectors: []Selector{}, Grouping: []string{}}
	tree, err := promqlParser.ParseExpr(expr)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	grouping := map[string]bool{}
	parser.Inspect(tree, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			s := Selector{Metric: n.Name, Labels: []string{}}
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					if s.Metric == "" {
						s.Metric = m.Value
					}
					continue
				}
				s.Labels = append(s.Labels, m.Name)
			}
			out.Selectors = append(out.Selectors, s)
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				grouping[l] = true
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range n.VectorMatching.MatchingLabels {
					grouping[l] = true
				}
				for _, l := range n.VectorMatching.Include {
					grouping[l] = true
				}
			}
		}
		return nil
	})
	for l := range grouping {
		out.Grouping = append(out.Grouping, l)
	}
	sort.Strings(out.Grouping)
	return out
}

// promqlCommand reads a JSON array of expressions and reports, for each, its parse error or
// the metrics and labels it references.
func promqlCommand(in io.Reader) (any, bool, error) {
	var exprs []string
	if err := json.NewDecoder(in).Decode(&exprs); err != nil {
		return nil, false, fmt.Errorf("stdin must be a JSON array of strings: %w", err)
	}
	ok := true
	report := make([]Expression, 0, len(exprs))
	for _, e := range exprs {
		a := analyse(e)
		ok = ok && a.Error == ""
		report = append(report, a)
	}
	return report, ok, nil
}

// Rule is one alerting or recording rule with what its expression references.
type Rule struct {
	Group  string `json:"group"`
	Alert  string `json:"alert,omitempty"`
	Record string `json:"record,omitempty"`
	For    string `json:"for,omitempty"`
	Expression
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// RulesReport is a rule file as Prometheus loads it, or why it would not load.
type RulesReport struct {
	Errors []string `json:"errors"`
	Rules  []Rule   `json:"rules"`
}

// rulesCommand checks a rule file exactly as Prometheus (and promtool check rules) loads it.
func rulesCommand(args []string) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, fmt.Errorf("rules takes one file")
	}
	report := RulesReport{Errors: []string{}, Rules: []Rule{}}
	groups, errs := rulefmt.ParseFile(args[0], false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
	for _, e := range errs {
		report.Errors = append(report.Errors, e.Error())
	}
	if groups != nil {
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				report.Rules = append(report.Rules, Rule{
					Group:       g.Name,
					Alert:       r.Alert,
					Record:      r.Record,
					For:         r.For.String(),
					Expression:  analyse(r.Expr),
					Labels:      r.Labels,
					Annotations: r.Annotations,
				})
			}
		}
	}
	return report, len(report.Errors) == 0, nil
}
