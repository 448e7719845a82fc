{{- define "api-gateway.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
<repository>:<tag>@<digest> from this service's own values (<repository>:<tag> without a
digest); empty while no repository is set (the service is not deployed yet).
*/}}
{{- define "api-gateway.image" -}}
{{- $image := .Values.image | default dict -}}
{{- if $image.repository -}}
{{- if not $image.tag -}}{{- fail (printf "%s.image.tag is required with %s.image.repository (helmDeploy sets both)" .Chart.Name .Chart.Name) -}}{{- end -}}
{{- if $image.digest -}}
{{- printf "%s:%s@%s" $image.repository $image.tag $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository $image.tag -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "api-gateway.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ (.Values.image | default dict).tag | default "" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
