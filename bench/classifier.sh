#!/bin/sh
# Classifier latency: `switchyard classifier bench` (median, p99, max and CPU time per
# classification of 2 KB prompts, a 100 KB prompt, and the rules alone), RUNS times, with
# the machine's load average before each run (the numbers move with it).
# Usage: bench/classifier.sh [path/to/switchyard] ; env RUNS (3), ITERATIONS (20000), MODEL.
set -eu
bin=${1:-build/switchyard}
runs=${RUNS:-3}
iterations=${ITERATIONS:-20000}
i=1
while [ "$i" -le "$runs" ]; do
    echo "run $i, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -n "${MODEL:-}" ]; then
        "$bin" classifier bench --iterations "$iterations" --model "$MODEL"
    else
        "$bin" classifier bench --iterations "$iterations"
    fi
    echo
    i=$((i + 1))
done
