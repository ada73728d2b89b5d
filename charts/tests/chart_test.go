package charttests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestLint(t *testing.T) {
	helm := helmPath(t)
	for _, args := range [][]string{
		nil,
		{"-f", valuesFile("values-all.yaml")},
		{"-f", valuesFile("values-existing-policy.yaml")},
	} {
		all := append([]string{"lint", chartDir, "--strict", "--kube-version", kubeVersion}, args...)
		out, stderr, ok := run(t, helm, all...)
		if !ok {
			t.Errorf("helm %v failed:\n%s%s", all, out, stderr)
		}
	}
}

// TestDefaultValues renders the defaults with the example policy, which
// has the sections of purge and retention.
func TestDefaultValues(t *testing.T) {
	r := render(t, "r", "--set-file", "policy="+examplePolicy)
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"r-lethe-purge", "r-lethe-retention"}) {
		t.Fatalf("CronJobs %v, want purge and retention", got)
	}
	if len(r.ConfigMaps) != 1 {
		t.Errorf("want the policy ConfigMap only, got %v", keys(r.ConfigMaps))
	}
	if len(r.PrometheusRules) != 0 {
		t.Errorf("prometheusRule.enabled is auto and the cluster has no monitoring.coreos.com/v1, yet a PrometheusRule was rendered")
	}
	if _, ok := r.ServiceAccounts["r-lethe"]; !ok {
		t.Errorf("no ServiceAccount r-lethe: %v", keys(r.ServiceAccounts))
	}
	for _, job := range []string{"purge", "retention"} {
		cj := r.CronJobs[cronJobName("r", job)]
		if cj == nil {
			t.Fatalf("no CronJob for %s: %v", job, keys(r.CronJobs))
		}
		checkCronJob(t, cj, job)
		if got := cj.Spec.ConcurrencyPolicy; got != batchv1.ForbidConcurrent {
			t.Errorf("%s: concurrencyPolicy %q, want Forbid", job, got)
		}
		spec := cj.Spec.JobTemplate.Spec
		if spec.TTLSecondsAfterFinished == nil || *spec.TTLSecondsAfterFinished < 86400 {
			t.Errorf("%s: ttlSecondsAfterFinished %v: a failed Job must stay at least a day for its alert", job, spec.TTLSecondsAfterFinished)
		}
		if cj.Spec.FailedJobsHistoryLimit == nil || *cj.Spec.FailedJobsHistoryLimit < 3 {
			t.Errorf("%s: failedJobsHistoryLimit %v, want at least 3", job, cj.Spec.FailedJobsHistoryLimit)
		}
		checkPolicyMount(t, spec.Template.Spec, job, "r-lethe-policy", "policy.yaml")
	}
}

func TestAllValues(t *testing.T) {
	r := render(t, "prod", "-f", valuesFile("values-all.yaml"))
	if len(r.CronJobs) != len(jobNames()) {
		t.Fatalf("got %d CronJobs, want %d", len(r.CronJobs), len(jobNames()))
	}
	for _, job := range jobNames() {
		cj := r.CronJobs[cronJobName("prod", job)]
		checkCronJob(t, cj, job)
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		c := pod.Containers[0]
		if c.Image != "registry.example.com/gdpr/lethe:1.4.2" || c.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("%s: image %q %q", job, c.Image, c.ImagePullPolicy)
		}
		if pod.ServiceAccountName != "lethe-jobs" || pod.PriorityClassName != "batch-low" ||
			pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 ||
			pod.Affinity == nil || len(pod.ImagePullSecrets) != 1 {
			t.Errorf("%s: pod scheduling settings not applied: %+v", job, pod)
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "lethe-s3" {
			t.Errorf("%s: envFrom %+v", job, c.EnvFrom)
		}
		env := envMap(c.Env)
		if env["LETHE_PUSHGATEWAY_URL"].Value != "http://pushgateway.monitoring:9091" || env["AWS_REGION"].Value != "eu-central-1" {
			t.Errorf("%s: env %+v", job, c.Env)
		}
		if ref := env["LETHE_DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "app-db" || ref.SecretKeyRef.Key != "lethe-url" {
			t.Errorf("%s: LETHE_DATABASE_URL %+v", job, env["LETHE_DATABASE_URL"])
		}
		tmpl := cj.Spec.JobTemplate.Spec.Template
		if tmpl.Labels["example.com/cost-center"] != "legal" || tmpl.Annotations["example.com/team"] != "privacy" {
			t.Errorf("%s: podLabels/podAnnotations missing: %v %v", job, tmpl.Labels, tmpl.Annotations)
		}
		if tmpl.Annotations["checksum/policy"] == "" {
			t.Errorf("%s: no checksum/policy annotation", job)
		}
		checkPolicyMount(t, pod, job, "prod-lethe-policy", "policy.yaml")
	}
	purge := r.CronJobs["prod-lethe-purge"]
	if got := purge.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{"--job", "purge", "--dry-run"}) {
		t.Errorf("purge args %q, want --job purge --dry-run", got)
	}
	if got := purge.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); got != "512Mi" {
		t.Errorf("purge memory limit %s, want the job's own 512Mi", got)
	}
	if got := r.CronJobs["prod-lethe-orphans"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); got != "256Mi" {
		t.Errorf("orphans memory limit %s, want the chart-wide 256Mi", got)
	}
	ret := r.CronJobs["prod-lethe-retention"]
	if ret.Spec.Suspend == nil || !*ret.Spec.Suspend || ret.Spec.ConcurrencyPolicy != batchv1.ReplaceConcurrent {
		t.Errorf("retention: suspend %v concurrencyPolicy %q", ret.Spec.Suspend, ret.Spec.ConcurrencyPolicy)
	}
	sa := r.ServiceAccounts["lethe-jobs"]
	if sa == nil || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("ServiceAccount lethe-jobs with its IRSA annotation missing: %+v", r.ServiceAccounts)
	} else if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount mounts its token; lethe does not use the API")
	}
	cm := r.ConfigMaps["prod-lethe-policy"]
	if cm == nil || !strings.Contains(cm.Data["policy.yaml"], "requested_at: deleted_at") {
		t.Fatalf("policy ConfigMap missing or without the policy: %+v", r.ConfigMaps)
	}
	if len(r.PrometheusRules) != 1 {
		t.Errorf("prometheusRule.enabled is true, got %d PrometheusRules", len(r.PrometheusRules))
	}
}

func TestExistingPolicyConfigMap(t *testing.T) {
	r := render(t, "r", "-f", valuesFile("values-existing-policy.yaml"))
	if len(r.ConfigMaps) != 0 || len(r.ServiceAccounts) != 0 {
		t.Errorf("nothing but CronJobs expected: ConfigMaps %v, ServiceAccounts %v", keys(r.ConfigMaps), keys(r.ServiceAccounts))
	}
	// The chart cannot read this policy: enabled alone decides.
	if got := keys(r.CronJobs); !slices.Equal(got, []string{"r-lethe-inactivity", "r-lethe-purge"}) {
		t.Errorf("CronJobs %v, want only the enabled inactivity and purge", got)
	}
	if notes := renderNotes(t, "r", "-f", valuesFile("values-existing-policy.yaml")); !strings.Contains(notes, "enable only the jobs whose section that policy has") {
		t.Errorf("NOTES do not tell to enable only the jobs the external policy covers:\n%s", notes)
	}
	for name, cj := range r.CronJobs {
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		checkPolicyMount(t, pod, name, "company-lethe-policy", "lethe.yaml")
		if pod.ServiceAccountName != "lethe-prebuilt" {
			t.Errorf("%s: serviceAccountName %q", name, pod.ServiceAccountName)
		}
	}
}

// checkCronJob asserts what every lethe CronJob must have.
func checkCronJob(t *testing.T, cj *batchv1.CronJob, job string) {
	t.Helper()
	if cj == nil {
		t.Fatalf("no CronJob for %s", job)
	}
	name := cj.Name
	if len(name) > 52 {
		t.Errorf("%s: CronJob name is %d characters, more than 52", name, len(name))
	}
	tmpl := cj.Spec.JobTemplate
	for what, labels := range map[string]map[string]string{
		"CronJob": cj.Labels, "job template": tmpl.Labels, "pod": tmpl.Spec.Template.Labels,
	} {
		for _, key := range []string{
			"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
			"app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart",
		} {
			if labels[key] == "" {
				t.Errorf("%s: %s has no label %s", name, what, key)
			}
		}
		if labels["app.kubernetes.io/component"] != job {
			t.Errorf("%s: %s label app.kubernetes.io/component is %q, want %q", name, what, labels["app.kubernetes.io/component"], job)
		}
	}
	checkSchedule(t, cj)
	spec := tmpl.Spec
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never", name, pod.RestartPolicy)
	}
	checkPodFailurePolicy(t, name, spec.PodFailurePolicy)
	checkSecurity(t, name, pod)
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) < 2 || c.Args[0] != "--job" || c.Args[1] != job {
		t.Errorf("%s: args %q, want --job %s first", name, c.Args, job)
	}
	checkSecretEnv(t, name, c)
	var tmp bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && !m.ReadOnly {
			tmp = true
		}
	}
	for _, v := range pod.Volumes {
		if v.Name == "tmp" && v.EmptyDir == nil {
			t.Errorf("%s: /tmp is not an emptyDir", name)
		}
	}
	if !tmp {
		t.Errorf("%s: no writable /tmp mount: %+v", name, c.VolumeMounts)
	}
}

func checkSchedule(t *testing.T, cj *batchv1.CronJob) {
	t.Helper()
	spec := cj.Spec.Schedule
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			t.Errorf("%s: timeZone %q: %v", cj.Name, *cj.Spec.TimeZone, err)
		}
		spec = "CRON_TZ=" + *cj.Spec.TimeZone + " " + spec
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		t.Errorf("%s: schedule %q does not parse: %v", cj.Name, spec, err)
	}
}

func checkPodFailurePolicy(t *testing.T, name string, p *batchv1.PodFailurePolicy) {
	t.Helper()
	if p == nil {
		t.Errorf("%s: no podFailurePolicy", name)
		return
	}
	// actionFor returns the action of the first rule matching an exit code,
	// as the Job controller evaluates them.
	actionFor := func(code int32) batchv1.PodFailurePolicyAction {
		for _, r := range p.Rules {
			e := r.OnExitCodes
			if e == nil || (e.ContainerName != nil && *e.ContainerName != "lethe") {
				continue
			}
			in := slices.Contains(e.Values, code)
			if (e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (e.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return r.Action
			}
		}
		return batchv1.PodFailurePolicyActionCount
	}
	for code, want := range map[int32]batchv1.PodFailurePolicyAction{
		1: batchv1.PodFailurePolicyActionCount,
		2: batchv1.PodFailurePolicyActionFailJob,
		3: batchv1.PodFailurePolicyActionFailJob,
	} {
		if got := actionFor(code); got != want {
			t.Errorf("%s: exit code %d: action %s, want %s", name, code, got, want)
		}
	}
	var disruption bool
	for _, r := range p.Rules {
		for _, c := range r.OnPodConditions {
			if r.Action == batchv1.PodFailurePolicyActionIgnore && c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
				disruption = true
			}
		}
	}
	if !disruption {
		t.Errorf("%s: pod disruptions (DisruptionTarget) are not ignored", name)
	}
}

func checkSecurity(t *testing.T, name string, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v", name, psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted", name)
	}
	sc := pod.Containers[0].SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: no container securityContext", name)
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Errorf("%s: runAsNonRoot not set", name)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: root filesystem is writable", name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: privilege escalation allowed", name)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("%s: capabilities %+v, want drop ALL", name, sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: seccompProfile %+v", name, sc.SeccompProfile)
	}
}

// checkSecretEnv asserts that the secrets come from Secrets and that no env
// var holds a secret as a plain value.
func checkSecretEnv(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	env := envMap(c.Env)
	for _, key := range []string{"LETHE_DATABASE_URL", "LETHE_SUBJECT_HASH_KEY"} {
		e, ok := env[key]
		if !ok {
			t.Errorf("%s: no %s", name, key)
			continue
		}
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
			t.Errorf("%s: %s must come from a secretKeyRef, got %+v", name, key, e)
		}
	}
	for _, e := range c.Env {
		upper := strings.ToUpper(e.Name)
		for _, word := range []string{"PASSWORD", "SECRET", "TOKEN", "KEY", "DATABASE_URL"} {
			if strings.Contains(upper, word) && e.Value != "" {
				t.Errorf("%s: %s has a plain value; secrets belong in a Secret", name, e.Name)
			}
		}
	}
	if env["LETHE_POLICY"].Value != "/etc/lethe/policy.yaml" {
		t.Errorf("%s: LETHE_POLICY is %q", name, env["LETHE_POLICY"].Value)
	}
	if env["LETHE_LOG_FORMAT"].Value != "json" {
		t.Errorf("%s: LETHE_LOG_FORMAT is %q, want json", name, env["LETHE_LOG_FORMAT"].Value)
	}
}

func checkPolicyMount(t *testing.T, pod corev1.PodSpec, name, configMap, key string) {
	t.Helper()
	var mounted bool
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.Name == "policy" && m.MountPath == "/etc/lethe" && m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("%s: policy not mounted read-only at /etc/lethe: %+v", name, pod.Containers[0].VolumeMounts)
	}
	for _, v := range pod.Volumes {
		if v.Name != "policy" {
			continue
		}
		cm := v.ConfigMap
		if cm == nil || cm.Name != configMap || len(cm.Items) != 1 || cm.Items[0].Key != key || cm.Items[0].Path != "policy.yaml" {
			t.Errorf("%s: policy volume %+v, want ConfigMap %s key %s as policy.yaml", name, v, configMap, key)
		}
		return
	}
	t.Errorf("%s: no policy volume", name)
}

func TestPolicyChecksumFollowsPolicy(t *testing.T) {
	checksums := map[string]string{}
	for _, policy := range []string{"subject: {table: users}", "subject: {table: accounts}"} {
		r := render(t, "r", "--set-string", "policy="+policy)
		sums := map[string]bool{}
		for _, cj := range r.CronJobs {
			sums[cj.Spec.JobTemplate.Spec.Template.Annotations["checksum/policy"]] = true
		}
		if len(sums) != 1 {
			t.Fatalf("CronJobs disagree on checksum/policy: %v", sums)
		}
		for sum := range sums {
			if sum == "" {
				t.Fatalf("no checksum/policy annotation with policy %q", policy)
			}
			checksums[policy] = sum
		}
		if got := r.ConfigMaps["r-lethe-policy"].Data["policy.yaml"]; got != policy {
			t.Errorf("ConfigMap policy.yaml is %q, want %q", got, policy)
		}
	}
	if checksums["subject: {table: users}"] == checksums["subject: {table: accounts}"] {
		t.Errorf("checksum/policy did not change with the policy: %v", checksums)
	}
}

func TestLongReleaseName(t *testing.T) {
	release := strings.Repeat("a", 53)
	all := allJobs(t)
	r := render(t, release, all...)
	if len(r.CronJobs) != 5 {
		t.Fatalf("got %d CronJobs", len(r.CronJobs))
	}
	seen := map[string]bool{}
	for name, cj := range r.CronJobs {
		if len(name) > 52 {
			t.Errorf("CronJob %s is %d characters, more than 52", name, len(name))
		}
		if !strings.HasSuffix(name, "-"+cj.Labels["app.kubernetes.io/component"]) {
			t.Errorf("CronJob %s does not end with its job name", name)
		}
		seen[name] = true
	}
	if len(seen) != 5 {
		t.Errorf("CronJob names collide: %v", keys(r.CronJobs))
	}
	notes := renderNotes(t, release, all...)
	for name := range r.CronJobs {
		for _, line := range strings.Split(notes, "\n") {
			if !strings.Contains(line, "--from=cronjob/"+name+" ") {
				continue
			}
			fields := strings.Fields(line)
			jobName := strings.Replace(fields[4], "$(date +%s)", fmt.Sprint(time.Now().Unix()), 1)
			if len(jobName) > 63 {
				t.Errorf("one-off Job name %s is %d characters, more than 63", jobName, len(jobName))
			}
		}
	}
}

func TestNotes(t *testing.T) {
	notes := renderNotes(t, "r", "--set-file", "policy="+policyFile(t, allSections), "--set", "jobs.inactivity.enabled=true")
	for _, job := range []string{"purge", "retention", "inactivity"} {
		cj := cronJobName("r", job)
		want := fmt.Sprintf("kubectl create job --from=cronjob/%s %s-manual-$(date +%%s) -n gdpr", cj, cj)
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES lack %q:\n%s", want, notes)
		}
		if !strings.Contains(notes, want+" --dry-run=client -o json") {
			t.Errorf("NOTES lack the dry-run recipe for %s", job)
		}
	}
	if strings.Contains(notes, "cronjob/r-lethe-orphans") {
		t.Errorf("NOTES mention the disabled orphans job:\n%s", notes)
	}
	if !strings.Contains(notes, "orphans: not scheduled: jobs.orphans.enabled is false") {
		t.Errorf("NOTES do not say why orphans is not scheduled:\n%s", notes)
	}
	if !strings.Contains(notes, `"value":"--dry-run"`) {
		t.Errorf("NOTES dry-run recipe does not add --dry-run:\n%s", notes)
	}
	if notes := renderNotes(t, "r"); !strings.Contains(notes, "WARNING: no policy is set") {
		t.Errorf("NOTES do not warn that no policy is set:\n%s", notes)
	}
	if strings.Contains(renderNotes(t, "r", "--set-string", "policy=subject: {}"), "WARNING") {
		t.Errorf("NOTES warn although a policy is set")
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	helm := helmPath(t)
	for _, tc := range []struct {
		file  string
		field string // the schema error, which names the field
	}{
		{"bad-unknown-job.yaml", "at '/jobs': additional properties 'purgee' not allowed"},
		{"bad-concurrency-policy.yaml", "at '/jobs/purge/concurrencyPolicy'"},
		{"bad-backoff-limit.yaml", "at '/jobs/retention/backoffLimit'"},
		{"bad-parallelism.yaml", "at '/jobs/retention/parallelism'"},
		{"bad-empty-schedule.yaml", "at '/jobs/orphans/schedule'"},
		{"bad-null-schedule.yaml", "at '/jobs/inactivity': missing property 'schedule'"},
		// Replaced by purgeOverdueThresholdSeconds and monthLimitSeconds: an
		// old values file must not lose its threshold without a word.
		{"bad-old-deadline-threshold.yaml", "additional properties 'purgeDeadlineThresholdSeconds' not allowed"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, cmd := range [][]string{
				{"template", "r", chartDir, "--kube-version", kubeVersion, "-f", valuesFile(tc.file)},
				{"lint", chartDir, "--kube-version", kubeVersion, "-f", valuesFile(tc.file)},
			} {
				out, stderr, ok := run(t, helm, cmd...)
				if ok {
					t.Errorf("helm %s accepted %s", cmd[0], tc.file)
					continue
				}
				// helm reports schema violations with the JSON pointer of the value.
				if msg := out + stderr; !strings.Contains(msg, tc.field) {
					t.Errorf("helm %s rejected %s without the schema error %q:\n%s", cmd[0], tc.file, tc.field, msg)
				}
			}
		})
	}
}

func envMap(env []corev1.EnvVar) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range env {
		m[e.Name] = e
	}
	return m
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
