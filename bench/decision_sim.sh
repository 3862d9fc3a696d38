#!/bin/sh
# Offline simulation of the controller's decisions (bench/decision_sim.c):
# 1,000 A/A and 1,000 A/B rollouts through the real exp_decide(), tick by tick,
# next to a Flagger-style fixed-threshold rule on the same scenarios.
#
#   bench/decision_sim.sh [-n RUNS] [-s SEED] [-t MAX_TICKS]
#
# Builds with cc straight from experiments/ (no build directory needed) into
# $TMPDIR and prints a markdown table; results go in docs/benchmarks.md,
# "Controller decisions".
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM

${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
    -Wmissing-prototypes -Wno-unused-parameter -Werror -I"$root" \
    -o "$out/decision_sim" "$root/bench/decision_sim.c" "$root"/experiments/*.c \
    $(pkg-config --cflags --libs jansson) -lm
"$out/decision_sim" "$@"
