{{/* The six services, in one list for every template. */}}
{{- define "warden.services" -}}
registry policy budget approval trace killswitch
{{- end -}}

{{- define "warden.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource; call with (dict "root" $ "service" "policy"), service optional. */}}
{{- define "warden.labels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: warden
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .service }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "warden.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* A service's settings: the defaults overridden by services.<name>. */}}
{{- define "warden.serviceValues" -}}
{{- $own := index .root.Values.services .service | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) $own) -}}
{{- end -}}

{{- define "warden.image" -}}
{{- $v := .root.Values.image -}}
{{- $name := printf "%s-%s:%s" $v.repository .service ($v.tag | default .root.Chart.AppVersion) -}}
{{- if $v.registry }}{{ printf "%s/%s" $v.registry $name }}{{ else }}{{ $name }}{{ end -}}
{{- end -}}

{{- define "warden.kafkaUser" -}}
{{- printf "%s-%s" (include "warden.fullname" .root) .service -}}
{{- end -}}

{{- define "warden.bootstrapServers" -}}
{{- if .Values.kafka.bootstrapServers -}}
{{- .Values.kafka.bootstrapServers -}}
{{- else -}}
{{- printf "%s-kafka-bootstrap:9093" .Values.kafka.strimzi.clusterName -}}
{{- end -}}
{{- end -}}

{{- define "warden.kekSecret" -}}
{{- .Values.keyEncryptionKey.existingSecret | default (printf "%s-kek" (include "warden.fullname" .)) -}}
{{- end -}}

{{- define "warden.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "warden.fullname" .)) -}}
{{- end -}}

{{/*
The environment of a service's container: platform configuration, Kafka client security, the
database and, for registry and policy, the key-encryption key. Every Kafka client setting is
here, in one place. `optional` marks the Kafka password optional (the migrations Job runs before
Strimzi has created the user).
*/}}
{{- define "warden.env" -}}
{{- $root := .root -}}
{{- $v := .values -}}
- name: KAFKA_BROKERS
  value: {{ include "warden.bootstrapServers" $root | quote }}
- name: WARDEN_TOPIC_PREFIX
  value: {{ $root.Values.topicPrefix | quote }}
- name: WARDEN_PARTITIONS
  value: {{ $root.Values.partitions | quote }}
- name: WARDEN_REPLICATION_FACTOR
  value: {{ $root.Values.kafka.replicationFactor | quote }}
- name: WARDEN_MIN_INSYNC_REPLICAS
  value: {{ $root.Values.kafka.minInsyncReplicas | quote }}
- name: WARDEN_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: HTTP_HOST
  value: 0.0.0.0
- name: {{ upper .service }}_HTTP_PORT
  value: "8080"
{{- with $root.Values.auth }}
{{- if .issuer }}
- name: WARDEN_AUTH_ISSUER
  value: {{ .issuer | quote }}
{{- end }}
- name: WARDEN_AUTH_AUDIENCE
  value: {{ .audience | quote }}
{{- if .jwksUrl }}
- name: WARDEN_AUTH_JWKS_URL
  value: {{ .jwksUrl | quote }}
{{- end }}
{{- end }}
{{- if $root.Values.kafka.security.enabled }}
- name: KAFKA_SSL
  value: "true"
- name: KAFKA_SSL_CA_FILE
  value: /etc/warden/kafka-ca/{{ $root.Values.kafka.security.caKey }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $root.Values.kafka.security.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ include "warden.kafkaUser" . | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- if $root.Values.kafka.security.passwordsSecret }}
      name: {{ $root.Values.kafka.security.passwordsSecret }}
      key: {{ .service }}
      {{- else }}
      name: {{ include "warden.kafkaUser" . }}
      key: password
      {{- end }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "warden.databaseSecret" $root }}
      key: DATABASE_URL
{{- /* registry and policy open sealed token keys; approval, killswitch, registry and budget sign authority events, and all five verify them (ADR 0118) */}}
{{- if has .service (list "registry" "policy" "approval" "killswitch" "budget") }}
- name: WARDEN_KEY_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "warden.kekSecret" $root }}
      key: WARDEN_KEY_ENCRYPTION_KEY
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "warden.kafkaCaSecret" -}}
{{- .Values.kafka.security.caSecret | default (printf "%s-cluster-ca-cert" .Values.kafka.strimzi.clusterName) -}}
{{- end -}}

{{- define "warden.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "warden.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "warden.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.kafka.security.enabled }}
- name: kafka-ca
  secret:
    secretName: {{ include "warden.kafkaCaSecret" . }}
{{- end }}
{{- end -}}

{{- define "warden.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.security.enabled }}
- name: kafka-ca
  mountPath: /etc/warden/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}
