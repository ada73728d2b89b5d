package charttests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// rendered holds the objects of one helm template run, decoded strictly.
type rendered struct {
	CronJobs        map[string]*batchv1.CronJob
	ConfigMaps      map[string]*corev1.ConfigMap
	ServiceAccounts map[string]*corev1.ServiceAccount
	PrometheusRules map[string]*monitoringv1.PrometheusRule
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// helmTemplate runs helm template with the given arguments (value files,
// --set, ...) and fails the test when helm fails.
func helmTemplate(t *testing.T, release string, args ...string) string {
	t.Helper()
	out, stderr, ok := helmTemplateResult(t, chartDir, release, args...)
	if !ok {
		t.Fatalf("helm template %v failed: %s", args, stderr)
	}
	return out
}

func helmTemplateResult(t *testing.T, chart, release string, args ...string) (string, string, bool) {
	t.Helper()
	all := append([]string{"template", release, chart, "--namespace", "gdpr", "--kube-version", kubeVersion}, args...)
	return run(t, helmPath(t), all...)
}

// render runs helm template and decodes every document into its API type,
// rejecting unknown fields and unknown kinds.
func render(t *testing.T, release string, args ...string) rendered {
	t.Helper()
	return decodeAll(t, helmTemplate(t, release, args...))
}

func decodeAll(t *testing.T, manifest string) rendered {
	t.Helper()
	r := rendered{
		CronJobs:        map[string]*batchv1.CronJob{},
		ConfigMaps:      map[string]*corev1.ConfigMap{},
		ServiceAccounts: map[string]*corev1.ServiceAccount{},
		PrometheusRules: map[string]*monitoringv1.PrometheusRule{},
	}
	for _, doc := range docSeparator.Split(manifest, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document is not YAML: %v\n%s", err, doc)
		}
		switch tm.APIVersion + "/" + tm.Kind {
		case "batch/v1/CronJob":
			obj := &batchv1.CronJob{}
			strict(t, doc, obj)
			r.CronJobs[obj.Name] = obj
		case "v1/ConfigMap":
			obj := &corev1.ConfigMap{}
			strict(t, doc, obj)
			r.ConfigMaps[obj.Name] = obj
		case "v1/ServiceAccount":
			obj := &corev1.ServiceAccount{}
			strict(t, doc, obj)
			r.ServiceAccounts[obj.Name] = obj
		case "monitoring.coreos.com/v1/PrometheusRule":
			obj := &monitoringv1.PrometheusRule{}
			strict(t, doc, obj)
			r.PrometheusRules[obj.Name] = obj
		default:
			t.Fatalf("unexpected object %s %s in the chart's output", tm.APIVersion, tm.Kind)
		}
	}
	return r
}

// strict decodes one YAML document; an unknown or duplicate field fails.
func strict(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("strict decoding into %T: %v\n%s", into, err, doc)
	}
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// renderNotes renders the chart's NOTES.txt, which helm template does not
// print and helm install --dry-run only prints with a cluster to talk to. It
// copies the chart, adds a template that runs the same NOTES.txt through tpl
// (the same engine, functions and named templates) into a ConfigMap, and
// returns its text.
func renderNotes(t *testing.T, release string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lethe")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatalf("copy chart: %v", err)
	}
	notes, err := os.ReadFile(filepath.Join(chartDir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatalf("read NOTES.txt: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files", "NOTES.txt"), notes, 0o644); err != nil {
		t.Fatal(err)
	}
	const tmpl = `apiVersion: v1
kind: ConfigMap
metadata:
  name: rendered-notes
data:
  notes: {{ tpl (.Files.Get "files/NOTES.txt") . | quote }}
`
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes-for-test.yaml"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, ok := helmTemplateResult(t, dir, release, append(args, "--show-only", "templates/zz-notes-for-test.yaml")...)
	if !ok {
		t.Fatalf("rendering NOTES.txt: %s", stderr)
	}
	r := decodeAll(t, out)
	cm, found := r.ConfigMaps["rendered-notes"]
	if !found {
		t.Fatalf("no rendered notes in:\n%s", out)
	}
	return cm.Data["notes"]
}

func valuesFile(name string) string {
	return filepath.Join("testdata", name)
}

func jobNames() []string {
	return []string{"purge", "retention", "inactivity", "orphans", "replay"}
}

func cronJobName(release, job string) string {
	return fmt.Sprintf("%s-lethe-%s", release, job)
}
