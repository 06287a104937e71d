#!/usr/bin/env bash
# Creates one virtual environment per peer framework under benchmarks/.venvs/<peer> and installs the pinned
# version listed in benchmarks/peers/<peer>-requirements.txt. synthloom itself never depends on these.
#
#   bash benchmarks/setup_peer_venvs.sh                 # all peers, one after the other
#   bash benchmarks/setup_peer_venvs.sh curator         # only the named ones
#   PARALLEL=1 bash benchmarks/setup_peer_venvs.sh      # install all at once (more cores, more memory)
#   PYTHON=python3.11 bash benchmarks/setup_peer_venvs.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
all_peers=(curator distilabel datadesigner)
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then peers=("${all_peers[@]}"); fi

install_peer() {
    local peer="$1"
    local requirements="$here/peers/$peer-requirements.txt"
    local venv="$here/.venvs/$peer"
    if [ ! -f "$requirements" ]; then
        echo "setup_peer_venvs: unknown peer '$peer' (no $requirements); known: ${all_peers[*]}" >&2
        return 2
    fi
    echo "[$peer] creating $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$requirements"
    echo "[$peer] installed: $("$venv/bin/python" -m pip freeze | grep -iE '^(bespokelabs-curator|distilabel|data-designer)==' | tr '\n' ' ')"
}

mkdir -p "$here/.venvs"
if [ "${PARALLEL:-0}" = "1" ]; then
    pids=()
    for peer in "${peers[@]}"; do
        install_peer "$peer" > "$here/.venvs/$peer.install.log" 2>&1 &
        pids+=("$!")
    done
    status=0
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            echo "[${peers[$i]}] install failed; see $here/.venvs/${peers[$i]}.install.log" >&2
            status=1
        else
            tail -n 1 "$here/.venvs/${peers[$i]}.install.log"
        fi
    done
    exit "$status"
fi
for peer in "${peers[@]}"; do install_peer "$peer"; done
