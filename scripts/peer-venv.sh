# Sourced by scripts/bench-peer.sh and scripts/peer.sh: the git-ignored Python environment
# .peer/ at the repository root that holds the Python peers.
#
#   peer_venv NAME ROOT MODULE==VERSION...
#     makes sure ROOT/.peer/bin/python imports each MODULE at VERSION (torch's version may
#     carry a +cu… suffix), installing what is missing with pip; prints errors as "NAME: …"
#     and returns 1 when it cannot. Sets `py` to the environment's python.

peer_venv() {
  local name=$1 root=$2
  shift 2
  local peer="$root/.peer"
  py="$peer/bin/python"
  local checks="import sys"
  local spec module version
  for spec in "$@"; do
    module="${spec%%==*}"
    version="${spec#*==}"
    checks+="
import $module
v = $module.__version__
if not (v == '$version' or v.startswith('$version+')):
    sys.exit(1)"
  done
  if [ -x "$py" ] && "$py" -W ignore -c "$checks" >/dev/null 2>&1; then
    return 0
  fi
  local sys_py="" cand
  for cand in python3 python; do
    if command -v "$cand" >/dev/null 2>&1; then sys_py="$cand"; break; fi
  done
  if [ -z "$sys_py" ]; then
    echo "$name: python3 not found; it is needed for the Python side" >&2
    return 1
  fi
  echo "$name: installing $* into .peer/ (torch with its CUDA wheels, about 4.7 GB, once)" >&2
  [ -x "$py" ] || "$sys_py" -m venv "$peer"
  PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --disable-pip-version-check --quiet "$@"
  if ! "$py" -W ignore -c "$checks" >/dev/null 2>&1; then
    echo "$name: $* do not import from .peer/" >&2
    return 1
  fi
  echo "$name: installed ($(du -sh "$peer" | cut -f1))" >&2
}
