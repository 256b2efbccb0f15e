#!/usr/bin/env bash
# Builds and fetches what the deployment checks need, once, into a cache (no network afterwards):
#   <dir>/bin/helm                  Helm 4, built from its Go module (helm.sh/helm/v4)
#   <dir>/bin/warden-deploy-check   manifests, rule files and PromQL checks (deploy/tools)
#   <dir>/crds/                     Strimzi's CRDs, generated from its Maven Central artifacts
#                                   by its own crd-generator, and nothing else
# Go modules and the Go build cache live under <dir>/go. Needs Go (1.26+), Maven and Java 21+
# (Strimzi's generator is built for 21; JAVA_HOME, java on PATH or /usr/lib/jvm/* is searched).
# Why: docs/adr/0096-chart-validation-offline.md
#
# Usage: deploy/tools/setup.sh [dir]   (default: $WARDEN_DEPLOY_TOOLS, else <repo>/.warden/tools)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
DIR="$(realpath -m -- "${1:-${WARDEN_DEPLOY_TOOLS:-$REPO_ROOT/.warden/tools}}")"
POM="$SCRIPT_DIR/strimzi/pom.xml"
STRIMZI_VERSION="$(sed -n 's:.*<strimzi.version>\([^<]*\)</strimzi.version>.*:\1:p;T;q' "$POM")"

log() { echo "setup.sh: $*" >&2; }
die() { log "$*"; exit 1; }

mkdir -p "$DIR/bin" "$DIR/go"
exec 9>"$DIR/.lock"
flock -w 600 9 || die "timed out waiting for $DIR/.lock"

export GOMODCACHE="$DIR/go/mod" GOCACHE="$DIR/go/cache" GOPATH="$DIR/go" GOFLAGS=-modcacherw GOTOOLCHAIN=local

go_tools() {
  command -v go >/dev/null || die "go not found: the deployment checks are built with Go 1.26+"
  local stamp
  stamp="$(cat "$SCRIPT_DIR/go.mod" "$SCRIPT_DIR/go.sum" "$SCRIPT_DIR"/cmd/*/*.go | sha256sum | cut -d' ' -f1) $(go env GOVERSION)"
  if [[ -x "$DIR/bin/helm" && -x "$DIR/bin/warden-deploy-check" && "$(cat "$DIR/bin/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    return 0
  fi
  log "building helm and warden-deploy-check (first time: downloads Go modules, several minutes)"
  [[ -z "$(cd "$SCRIPT_DIR" && gofmt -l .)" ]] || die "gofmt: $(cd "$SCRIPT_DIR" && gofmt -l .) not formatted"
  (cd "$SCRIPT_DIR" && go vet ./... && go build -trimpath -o "$DIR/bin/warden-deploy-check" ./cmd/warden-deploy-check &&
    go build -trimpath -o "$DIR/bin/helm" helm.sh/helm/v4/cmd/helm) || die "go build failed"
  echo "$stamp" >"$DIR/bin/.stamp"
}

java21() {
  local candidate v
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    v="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 21 ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

strimzi_crds() {
  local out="$DIR/crds" libs="$DIR/strimzi-$STRIMZI_VERSION" stamp java
  stamp="strimzi=$STRIMZI_VERSION pom=$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven fetches Strimzi's model from Maven Central"
  java="$(java21)" || die "Strimzi $STRIMZI_VERSION's crd-generator needs Java 21+; set JAVA_HOME to one"
  log "fetching Strimzi $STRIMZI_VERSION and generating its CRDs"
  rm -rf "$libs" "$out"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs" >"$DIR/strimzi-fetch.log" 2>&1 || { cat "$DIR/strimzi-fetch.log" >&2; die "mvn failed"; }
  mkdir -p "$out.tmp"
  local m=io.strimzi.api.kafka.model
  "$java" -cp "$libs/*" io.strimzi.crdgenerator.CrdGenerator --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    "$m.kafka.Kafka=$out.tmp/kafka.yaml" "$m.nodepool.KafkaNodePool=$out.tmp/kafkanodepool.yaml" \
    "$m.topic.KafkaTopic=$out.tmp/kafkatopic.yaml" "$m.user.KafkaUser=$out.tmp/kafkauser.yaml" \
    >"$DIR/strimzi-crds.log" 2>&1 || { cat "$DIR/strimzi-crds.log" >&2; die "Strimzi's CrdGenerator failed"; }
  echo "$stamp" >"$out.tmp/.stamp"
  mv "$out.tmp" "$out"
}

go_tools
strimzi_crds
echo "$DIR"
