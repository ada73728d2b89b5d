{{/*
lethe.name is the chart name, or nameOverride.
*/}}
{{- define "lethe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
lethe.fullname is the prefix of every resource name. It is cut to 41
characters: a CronJob name may have at most 52 (the controller appends 11
characters to name its Jobs), and the longest job name, "-inactivity", takes
11 of them.
*/}}
{{- define "lethe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 41 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 41 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 41 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
lethe.chart is the chart label value.
*/}}
{{- define "lethe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
lethe.selectorLabels identify the release's objects.
*/}}
{{- define "lethe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lethe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
lethe.labels are the standard labels of every object.
*/}}
{{- define "lethe.labels" -}}
helm.sh/chart: {{ include "lethe.chart" . }}
{{ include "lethe.selectorLabels" . }}
app.kubernetes.io/version: {{ include "lethe.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lethe
{{- end }}

{{/*
lethe.imageTag is image.tag, or the chart's appVersion.
*/}}
{{- define "lethe.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
lethe.serviceAccountName is the ServiceAccount the jobs run as.
*/}}
{{- define "lethe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lethe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
lethe.policy is the policy file rendered from .Values.policy (a string as it
is, a map as YAML), or "" when there is none.
*/}}
{{- define "lethe.policy" -}}
{{- if kindIs "string" .Values.policy }}
{{- .Values.policy }}
{{- else if .Values.policy }}
{{- toYaml .Values.policy }}
{{- end }}
{{- end }}

{{/*
lethe.policyConfigMap is the name of the ConfigMap that holds the policy,
or "" when there is none.
*/}}
{{- define "lethe.policyConfigMap" -}}
{{- if .Values.existingPolicyConfigMap }}
{{- .Values.existingPolicyConfigMap }}
{{- else if include "lethe.policy" . }}
{{- printf "%s-policy" (include "lethe.fullname" .) }}
{{- end }}
{{- end }}

{{/*
lethe.policyKey is the key of the policy in its ConfigMap.
*/}}
{{- define "lethe.policyKey" -}}
{{- if .Values.existingPolicyConfigMap }}
{{- .Values.existingPolicyConfigMapKey }}
{{- else }}
{{- "policy.yaml" }}
{{- end }}
{{- end }}

{{/*
lethe.journal is the erasure journal's location (LETHE_JOURNAL), or "" for
none: journal.location when set ("none": none), else the first s3:// bucket
the policy names, with the prefix lethe-journal/.
*/}}
{{- define "lethe.journal" -}}
{{- $loc := .Values.journal.location | default "" }}
{{- if eq $loc "none" }}
{{- else if $loc }}
{{- $loc }}
{{- else if include "lethe.policy" . }}
{{- $policy := include "lethe.policy" . | fromYaml }}
{{- $buckets := list }}
{{- range $o := (get $policy "objects" | default list) }}
{{- if kindIs "map" $o }}
{{- $b := regexFind "^s3://[a-z0-9][a-z0-9.-]*[a-z0-9]" (toString (get $o "location")) }}
{{- if $b }}
{{- $buckets = append $buckets $b }}
{{- end }}
{{- end }}
{{- end }}
{{- with $buckets }}
{{- printf "%s/lethe-journal/" (first .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
lethe.manualJobPrefix is the name prefix of a one-off Job of a CronJob: cut
so that "<prefix>-<10-digit timestamp>" stays within the 63 characters a Job
name may have.
*/}}
{{- define "lethe.manualJobPrefix" -}}
{{- printf "%s-manual" (. | trunc 45 | trimSuffix "-") }}
{{- end }}

{{/*
lethe.jobSkip says why a job is not scheduled, or is "" when it is. Called
with (dict "root" $ "job" "<job>"). A job is scheduled when it is enabled
and the policy has its section: subject: for purge, retention: for
retention, inactivity: and orphans: for theirs. A job without its section
would exit with code 2 on every run and page on-call, so it is left out.
The chart cannot read a policy in existingPolicyConfigMap: there, enabled
alone decides. Without any policy nothing is scheduled.
*/}}
{{- define "lethe.jobSkip" -}}
{{- $root := .root }}
{{- $cfg := get $root.Values.jobs .job }}
{{- $section := get (dict "purge" "subject" "retention" "retention" "inactivity" "inactivity" "orphans" "orphans" "replay" "subject") .job }}
{{- if not (and $cfg $cfg.enabled) }}
{{- printf "jobs.%s.enabled is false" .job }}
{{- else if $root.Values.existingPolicyConfigMap }}
{{- else if not (include "lethe.policy" $root) }}
{{- "no policy is set" }}
{{- else }}
{{- $policy := include "lethe.policy" $root | fromYaml }}
{{- if hasKey $policy "Error" }}
{{- fail (printf "policy is not a YAML map: %s" (get $policy "Error")) }}
{{- end }}
{{- if not (get $policy $section) }}
{{- printf "the policy has no %s: section" $section }}
{{- end }}
{{- end }}
{{- end }}
