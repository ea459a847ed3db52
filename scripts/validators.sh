#!/usr/bin/env bash
# Installs the CloudFormation validators into a project-local virtualenv (.venv, ignored by git):
# cfn-lint and checkov, pinned. test/validators/templates.test.ts runs them on every synthesized environment.
# Idempotent: an existing .venv with the pinned versions is kept.
set -euo pipefail

CFN_LINT_VERSION="1.58.0"
CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${AUDIT_TRAIL_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

command -v "$PYTHON" >/dev/null 2>&1 || {
  echo "validators: $PYTHON not found; install Python 3.9+ (apt-get install python3 python3-venv)" >&2
  exit 1
}

installed_version() { # package
  "$VENV/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'
}

if [ -x "$VENV/bin/python" ] && [ "$(installed_version cfn-lint)" = "$CFN_LINT_VERSION" ] \
  && [ "$(installed_version checkov)" = "$CHECKOV_VERSION" ]; then
  echo "validators: cfn-lint $CFN_LINT_VERSION and checkov $CHECKOV_VERSION already in $VENV"
  exit 0
fi

"$PYTHON" -m venv "$VENV" || {
  echo "validators: could not create a virtualenv at $VENV; install the venv module (apt-get install python3-venv)" >&2
  exit 1
}
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "cfn-lint==$CFN_LINT_VERSION" "checkov==$CHECKOV_VERSION"
echo "validators: installed cfn-lint $("$VENV/bin/cfn-lint" --version) and checkov $("$VENV/bin/checkov" --version) in $VENV"
