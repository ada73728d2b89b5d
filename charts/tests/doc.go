// Package charttests tests the lethe Helm chart (charts/lethe) and its alert
// rules with the real tools: helm renders and lints the chart, every rendered
// object is decoded strictly into the Kubernetes and prometheus-operator API
// types, and promtool checks and unit-tests the rules.
//
// It is its own module so that the Kubernetes API dependencies stay out of
// the lethe binary's module. The tests skip when helm or promtool is missing,
// unless LETHE_REQUIRE_TOOLS is set (CI sets it), where a missing tool fails.
// scripts/install-helm.sh and scripts/install-prometheus.sh install them.
package charttests
