{{/*
Shared helpers: names, labels, images, ClearML connection settings, hardened security contexts.
*/}}

{{- define "occuloop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "occuloop.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", kept within the 63-character name limit. */}}
{{- define "occuloop.componentName" -}}
{{- printf "%s-%s" (include "occuloop.fullname" .root | trunc (sub 62 (len .component) | int) | trimSuffix "-") .component }}
{{- end }}

{{- define "occuloop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: name, instance, component (distinct per workload). */}}
{{- define "occuloop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "occuloop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "occuloop.labels" -}}
helm.sh/chart: {{ include "occuloop.chart" .root }}
{{ include "occuloop.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: occuloop
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image reference of one role (server, services, training, serving); a digest wins over the tag. */}}
{{- define "occuloop.image" -}}
{{- $img := index .root.Values.images .role }}
{{- $repo := $img.repository }}
{{- if .root.Values.imageRegistry }}{{ $repo = printf "%s/%s" .root.Values.imageRegistry $repo }}{{ end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "occuloop.secretName" -}}
{{- if .Values.clearml.existingSecret }}{{ .Values.clearml.existingSecret }}{{ else }}{{ include "occuloop.componentName" (dict "root" . "component" "credentials") }}{{ end }}
{{- end }}

{{- define "occuloop.configName" -}}
{{ include "occuloop.componentName" (dict "root" . "component" "config") }}
{{- end }}

{{- define "occuloop.serverHost" -}}
{{ include "occuloop.componentName" (dict "root" . "component" "server") }}
{{- end }}

{{- define "occuloop.apiHost" -}}
{{- if eq .Values.clearml.mode "embedded" }}http://{{ include "occuloop.serverHost" . }}:{{ .Values.server.service.apiPort }}{{ else }}{{ .Values.clearml.external.apiHost }}{{ end }}
{{- end }}

{{- define "occuloop.filesHost" -}}
{{- if eq .Values.clearml.mode "embedded" }}http://{{ include "occuloop.serverHost" . }}:{{ .Values.server.service.filesPort }}{{ else }}{{ .Values.clearml.external.filesHost }}{{ end }}
{{- end }}

{{/* The UI's URL: its Ingress when published, else its Service inside the cluster. */}}
{{- define "occuloop.uiUrl" -}}
{{- if .Values.ui.ingress.enabled }}http{{ if .Values.ui.ingress.tlsSecretName }}s{{ end }}://{{ .Values.ui.ingress.host }}{{ else }}http://{{ include "occuloop.componentName" (dict "root" . "component" "ui") }}:{{ .Values.ui.service.port }}{{ end }}
{{- end }}

{{/* CLEARML_WEB_HOST, where the SDK's "results page" links lead: an external server's own web app when given,
else occuloop's UI; without either, the API host (the SDK needs a web host it can derive). */}}
{{- define "occuloop.webHost" -}}
{{- if and (eq .Values.clearml.mode "external") .Values.clearml.external.webHost }}{{ .Values.clearml.external.webHost }}
{{- else if .Values.ui.enabled }}{{ include "occuloop.uiUrl" . }}
{{- else if eq .Values.clearml.mode "embedded" }}{{ include "occuloop.apiHost" . }}
{{- else }}{{ .Values.clearml.external.apiHost }}{{ end }}
{{- end }}

{{/* ClearML credentials: only ever through secretKeyRef. */}}
{{- define "occuloop.credentialsEnv" -}}
- name: CLEARML_API_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "occuloop.secretName" . }}
      key: {{ .Values.clearml.secretKeys.accessKey }}
- name: CLEARML_API_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "occuloop.secretName" . }}
      key: {{ .Values.clearml.secretKeys.secretKey }}
{{- end }}

{{- define "occuloop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.security.runAsUser }}
runAsGroup: {{ .Values.security.runAsUser }}
fsGroup: {{ .Values.security.runAsUser }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "occuloop.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.security.runAsUser }}
runAsGroup: {{ .Values.security.runAsUser }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Every pod gets a writable /tmp (HOME, the ClearML SDK cache) since the root filesystem is read-only. */}}
{{- define "occuloop.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.security.tmpSizeLimit }}
{{- end }}

{{- define "occuloop.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "occuloop.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod scheduling fields of one component (nodeSelector, tolerations, affinity), at pod level only. */}}
{{- define "occuloop.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when the configuration or the generated credentials change. */}}
{{- define "occuloop.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.clearml.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- end }}

{{/* A liveness/readiness exec probe that asks the ClearML server whether this agent's worker is registered. */}}
{{- define "occuloop.workerProbe" -}}
exec:
  command: ["python", "-m", "services.training_pods", "worker-alive", "--worker-id", {{ .workerId | quote }}]
initialDelaySeconds: 30
periodSeconds: 60
timeoutSeconds: 20
failureThreshold: 5
{{- end }}

{{/* Prometheus scrape annotations of a pod that serves GET /metrics on `port` (metrics.podAnnotations). */}}
{{- define "occuloop.metricsAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}
