#!/bin/sh
# fetch_and_verify.sh: init container of the TF Serving pod.
#
# Copies one model version from this region's S3 bucket into $TARGET_DIR/$MODEL_VERSION
# (TF Serving's model_base_path/<version>) and checks every file against the version's
# manifest.json (size + sha256) BEFORE TF Serving starts, so a region never serves a
# partial or corrupt model (e.g. replication not finished). The manifest itself must have
# the sha256 pinned in the stack file (MANIFEST_SHA256): whoever can write models/ can
# replace files and manifest together, but not the reviewed stack file, so a tampered
# version is refused before anything in its manifest is trusted. On any failure the staging
# dir is removed, the reason goes to stderr, and the exit code is non-zero: the pod
# stays in Init and the rolling update (maxUnavailable: 0) keeps the old pods serving.
#
# Runs in public.ecr.aws/aws-cli/aws-cli: POSIX sh, aws CLI, coreutils, grep, sed, awk
# (no find/cmp/jq/python are assumed).
# The manifest is parsed line by line, which works because publish writes
# it with json.dumps(indent=2, sort_keys=True) and paths are restricted to
# [A-Za-z0-9._+=@,-/] (see model/manifest.py and docs/artifacts.md).
#
# Env: MODEL_BUCKET, MODEL_NAME, MODEL_VERSION, MANIFEST_SHA256 (64 hex digits: sha256 of
#      the published manifest.json, pinned in the stack file as model.manifestSha256),
#      TARGET_DIR (absolute), AWS_REGION, MODEL_PREFIX (default "models").
#      AWS_ENDPOINT_URL is honoured by the CLI itself.

set -u

PROG="fetch_and_verify"
log() { printf '%s\n' "[$PROG] $*" >&2; }
fail() { log "ERROR: $*"; exit 1; }

STAGE=""     # staging dir, removed on any exit unless installed
OLD=""       # previous install moved aside during the swap
FINAL=""
# shellcheck disable=SC2329  # invoked by the EXIT trap below
cleanup() {
    rc=$?
    if [ -n "$STAGE" ] && [ -d "$STAGE" ]; then rm -rf -- "$STAGE"; fi
    # Swap interrupted after moving the old dir aside: put it back.
    if [ -n "$OLD" ] && [ -d "$OLD" ]; then
        if [ -e "$FINAL" ]; then rm -rf -- "$OLD"; else mv -- "$OLD" "$FINAL"; fi
    fi
    if [ "$rc" -ne 0 ]; then
        log "FAILED (exit $rc): model ${MODEL_NAME:-?} version ${MODEL_VERSION:-?} was NOT installed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# matches VALUE ERE: whole-string match. ENVIRON avoids awk's escape processing of -v.
matches() {
    _MATCH_VALUE="$1" awk -v re="$2" 'BEGIN { exit !(ENVIRON["_MATCH_VALUE"] ~ re) }'
}

# ---------------------------------------------------------------- 1. environment
MODEL_PREFIX="${MODEL_PREFIX:-models}"
missing=""
for name in MODEL_BUCKET MODEL_NAME MODEL_VERSION MANIFEST_SHA256 TARGET_DIR AWS_REGION; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || missing="$missing $name"
done
[ -z "$missing" ] || fail "missing required environment variable(s):$missing"

matches "$MODEL_BUCKET" '^[a-z0-9][a-z0-9.-]*[a-z0-9]$' && [ "${#MODEL_BUCKET}" -le 63 ] ||
    fail "MODEL_BUCKET='$MODEL_BUCKET' is not a valid S3 bucket name"
matches "$MODEL_NAME" '^[A-Za-z0-9][A-Za-z0-9_.-]*$' && [ "${#MODEL_NAME}" -le 63 ] ||
    fail "MODEL_NAME='$MODEL_NAME' must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\$"
matches "$MODEL_VERSION" '^[1-9][0-9]*$' && [ "${#MODEL_VERSION}" -le 18 ] ||
    fail "MODEL_VERSION='$MODEL_VERSION' must be a positive integer"
MODEL_PREFIX=$(printf '%s' "$MODEL_PREFIX" | sed 's|^/*||; s|/*$||')
matches "$MODEL_PREFIX" '^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$' ||
    fail "MODEL_PREFIX='$MODEL_PREFIX' must be '/'-separated segments of [A-Za-z0-9._-] not starting with '.'"
matches "$AWS_REGION" '^[a-z0-9-]+$' || fail "AWS_REGION='$AWS_REGION' is not a region name"
MANIFEST_SHA256=$(printf '%s' "$MANIFEST_SHA256" | tr 'A-F' 'a-f')  # sha256sum prints lowercase
matches "$MANIFEST_SHA256" '^[0-9a-f]+$' && [ "${#MANIFEST_SHA256}" -eq 64 ] ||
    fail "MANIFEST_SHA256='$MANIFEST_SHA256' must be 64 hex digits (the sha256 of the version's manifest.json)"
TARGET_DIR=$(printf '%s' "$TARGET_DIR" | sed 's|/*$||')
matches "$TARGET_DIR" '^(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$' ||
    fail "TARGET_DIR must be an absolute path other than / with segments of [A-Za-z0-9._-]"

SRC="s3://$MODEL_BUCKET/$MODEL_PREFIX/$MODEL_NAME/$MODEL_VERSION"
FINAL="$TARGET_DIR/$MODEL_VERSION"
PROG="fetch_and_verify $MODEL_NAME/$MODEL_VERSION"
log "source $SRC/ (region $AWS_REGION${AWS_ENDPOINT_URL:+, endpoint $AWS_ENDPOINT_URL}) -> $FINAL"

mkdir -p -- "$TARGET_DIR" || fail "cannot create TARGET_DIR $TARGET_DIR"
# In a container $$ is often 1, so a dir left by a killed earlier run has our name.
STAGE="$TARGET_DIR/.staging-$MODEL_VERSION-$$"
rm -rf -- "$STAGE"
mkdir -- "$STAGE" || fail "cannot create staging dir $STAGE"
MANIFEST="$STAGE/manifest.json"

# ---------------------------------------------------------------- 2. manifest first
# manifest.json is uploaded last, so its absence means "not (fully) published here yet".
if ! out=$(aws --region "$AWS_REGION" s3 cp --only-show-errors "$SRC/manifest.json" "$MANIFEST" 2>&1); then
    fail "manifest.json not found or unreadable at $SRC/manifest.json (version not published, or not replicated to $AWS_REGION yet): $out"
fi
# Before reading a byte of it: the manifest must be the one the stack file pins.
actual_manifest_sha=$(sha256sum < "$MANIFEST" | awk '{ print $1 }')
[ "$actual_manifest_sha" = "$MANIFEST_SHA256" ] ||
    fail "manifest.json at $SRC/ has sha256 $actual_manifest_sha but the stack pins MANIFEST_SHA256=$MANIFEST_SHA256: refusing a manifest that is not the published one (tampered, or republished without updating model.manifestSha256)"
log "manifest.json matches the pinned sha256 $MANIFEST_SHA256"

# Top-level scalars sit on their own 2-space-indented lines.
top_value() { sed -n "s/^  \"$1\": \(.*\)$/\1/p" "$MANIFEST" | sed 's/,$//; s/^"//; s/"$//'; }
[ "$(top_value format)" = "1" ] || fail "manifest.json: unsupported or missing \"format\" (expected 1)"
[ "$(top_value model_name)" = "$MODEL_NAME" ] ||
    fail "manifest.json: model_name is '$(top_value model_name)', expected '$MODEL_NAME'"
[ "$(top_value version)" = "$MODEL_VERSION" ] ||
    fail "manifest.json: version is '$(top_value version)', expected '$MODEL_VERSION'"

# Parse the top-level "files" array into lines "path sha256 size", validating each
# value. Any surprise prints "ERROR ..." so a format drift fails instead of passing.
ENTRIES=$(awk '
    function bad(msg) { print "ERROR line " NR ": " msg; failed = 1; exit 1 }
    function value(line,   v) {
        v = line
        sub(/^[ \t]*"[a-z0-9]+"[ \t]*:[ \t]*/, "", v)
        sub(/[ \t]*,?[ \t]*$/, "", v)
        return v
    }
    function safe_path(p,   n, i, seg) {
        if (p !~ /^[A-Za-z0-9._+=@,-]+(\/[A-Za-z0-9._+=@,-]+)*$/) return 0
        n = split(p, seg, "/")
        for (i = 1; i <= n; i++) if (seg[i] == "." || seg[i] == "..") return 0
        return p != "manifest.json"
    }
    /^  "files": \[/ { infiles = 1; next }
    infiles && /^  \]/ { infiles = 0; next }
    !infiles { next }
    /^[ \t]*"path"[ \t]*:/ {
        if (path != "") bad("\"path\" before the previous entry had sha256 and size")
        v = value($0)
        if (v !~ /^".*"$/) bad("path is not a string: " v)
        path = substr(v, 2, length(v) - 2)
        if (!safe_path(path)) bad("unsafe path \"" path "\"")
        next
    }
    /^[ \t]*"sha256"[ \t]*:/ {
        if (path == "" || sha != "") bad("\"sha256\" out of order (expected path, sha256, size)")
        v = value($0)
        sha = substr(v, 2, length(v) - 2)
        if (v !~ /^"[0-9a-f]+"$/ || length(sha) != 64) bad("bad sha256 for " path ": " v)
        next
    }
    /^[ \t]*"size"[ \t]*:/ {
        if (path == "" || sha == "") bad("\"size\" out of order (expected path, sha256, size)")
        v = value($0)
        if (v !~ /^[0-9]+$/) bad("bad size for " path ": " v)
        print path, sha, v
        path = ""; sha = ""
        next
    }
    END { if (!failed && path != "") { print "ERROR: incomplete entry for " path; exit 1 } }
' "$MANIFEST") || fail "manifest.json: cannot parse files: $(printf '%s\n' "$ENTRIES" | grep '^ERROR' | head -n 1)"

n_entries=$(printf '%s\n' "$ENTRIES" | grep -c .)
n_sha=$(grep -o '"sha256"' "$MANIFEST" | wc -l | tr -d ' ')
[ "$n_entries" -gt 0 ] || fail "manifest.json: no files listed"
[ "$n_entries" -eq "$n_sha" ] ||
    fail "manifest.json: parsed $n_entries file entries but found $n_sha \"sha256\" keys (unexpected layout)"
log "manifest lists $n_entries files"

# verify_dir DIR: check every listed file; log each problem; return the problem count
# (capped at 255 for the exit status). Also demands that DIR holds nothing else
# (listed files + manifest.json), so TF Serving only ever sees verified files.
verify_dir() {
    _dir="$1"
    _problems=0
    while read -r _path _sha _size; do
        _file="$_dir/$_path"
        if [ ! -f "$_file" ]; then
            log "MISSING: $_path"
            _problems=$((_problems + 1)); continue
        fi
        _actual_size=$(wc -c < "$_file" | tr -d ' ')
        if [ "$_actual_size" != "$_size" ]; then
            log "SIZE MISMATCH: $_path is $_actual_size bytes, manifest says $_size"
            _problems=$((_problems + 1)); continue
        fi
        _actual_sha=$(sha256sum < "$_file" | awk '{ print $1 }')
        if [ "$_actual_sha" != "$_sha" ]; then
            log "SHA256 MISMATCH: $_path is $_actual_sha, manifest says $_sha"
            _problems=$((_problems + 1))
        fi
    done <<EOF
$ENTRIES
EOF
    # Non-directory entries anywhere below (ls lines starting with a file-type letter
    # other than "d"); coreutils only, as the image may lack findutils. Manifest paths
    # are limited to [A-Za-z0-9._+=@,-/], so ls output cannot be ambiguous here.
    # shellcheck disable=SC2010
    _present=$(ls -AlR "$_dir" | grep -c '^[-lpscb]')
    if [ "$_present" -ne $((n_entries + 1)) ]; then
        log "UNEXPECTED CONTENT: $_dir holds $_present entries, expected $((n_entries + 1)) (listed files + manifest.json)"
        _problems=$((_problems + 1))
    fi
    [ "$_problems" -gt 255 ] && _problems=255
    return "$_problems"
}

# ---------------------------------------------------------------- 3. reuse?
# A pod restart on a persistent volume may find this version already installed.
if [ -d "$FINAL" ]; then
    if [ -f "$FINAL/manifest.json" ] &&
        [ "$(sha256sum < "$MANIFEST")" = "$(sha256sum < "$FINAL/manifest.json")" ] &&
        verify_dir "$FINAL"; then
        log "$FINAL already holds this verified version; reusing it"
        rm -rf -- "$STAGE"; STAGE=""
        reused=1
    else
        log "$FINAL exists but does not verify against the manifest; replacing it"
        reused=0
    fi
else
    reused=0
fi

if [ "$reused" -eq 0 ]; then
    # ------------------------------------------------------------ 4. download
    # Only the listed files: exclude everything, include each path (the allowed path
    # characters contain no glob metacharacters, so each pattern is literal).
    set -- --exclude '*'
    while read -r _path _rest; do set -- "$@" --include "$_path"; done <<EOF
$ENTRIES
EOF
    log "downloading $n_entries files"
    if ! out=$(aws --region "$AWS_REGION" s3 cp --recursive --only-show-errors "$@" "$SRC/" "$STAGE/" 2>&1); then
        fail "download from $SRC/ failed: $out"
    fi

    # ------------------------------------------------------------ 5. verify
    verify_dir "$STAGE" || fail "$? problem(s) in $SRC/ (see above); not installing"

    # ------------------------------------------------------------ 6. install atomically
    # rename(2) within one filesystem: TF Serving sees no version dir or a complete one.
    if [ -e "$FINAL" ]; then
        OLD="$TARGET_DIR/.old-$MODEL_VERSION-$$"
        rm -rf -- "$OLD"
        mv -- "$FINAL" "$OLD" || fail "cannot move the previous $FINAL aside"
    fi
    mv -- "$STAGE" "$FINAL" || fail "cannot rename $STAGE to $FINAL"
    STAGE=""
    if [ -n "$OLD" ]; then rm -rf -- "$OLD"; OLD=""; fi
    log "installed and verified $n_entries files in $FINAL"
fi

# ---------------------------------------------------------------- 7. prune
# TF Serving's default policy serves the HIGHEST version under model_base_path, so an
# older install of a higher version (e.g. before a rollback) must not stay next to ours.
for entry in "$TARGET_DIR"/* "$TARGET_DIR"/.staging-* "$TARGET_DIR"/.old-*; do
    [ -e "$entry" ] || continue
    base=${entry##*/}
    [ "$base" = "$MODEL_VERSION" ] && continue
    case "$base" in
        .staging-*|.old-*) ;;
        *) matches "$base" '^[0-9]+$' || continue ;;
    esac
    log "removing $entry (not the pinned version $MODEL_VERSION)"
    rm -rf -- "$entry"
done
exit 0
