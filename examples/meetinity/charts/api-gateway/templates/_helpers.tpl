{{- define "api-gateway.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The image block this service runs: its own (.Values.image, api-gateway.image in the umbrella)
when it names a repository, else the umbrella's global.image. Returned as YAML; empty when
neither names a repository (the service is not deployed yet).
*/}}
{{- define "api-gateway.imageValues" -}}
{{- $own := .Values.image | default dict -}}
{{- $global := (.Values.global | default dict).image | default dict -}}
{{- if $own.repository -}}
{{- toYaml (merge (dict "from" (printf "%s.image" .Chart.Name)) $own) -}}
{{- else if $global.repository -}}
{{- toYaml (merge (dict "from" "global.image") $global) -}}
{{- end -}}
{{- end -}}

{{/* <repository>:<tag>@<digest> (<repository>:<tag> without a digest), or empty: not deployed yet. */}}
{{- define "api-gateway.image" -}}
{{- $image := include "api-gateway.imageValues" . | fromYaml -}}
{{- if $image.repository -}}
{{- if not $image.tag -}}{{- fail (printf "%s.tag is required with %s.repository (helmDeploy sets both)" $image.from $image.from) -}}{{- end -}}
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
app.kubernetes.io/version: {{ (include "api-gateway.imageValues" . | fromYaml).tag | default "" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
