# bench/router_setup.bash (a library, not a benchmark: make bench runs bench/*.sh)
# Sourced by bench/router.sh, bench/router_redis.sh and bench/router_callgrind.sh: the
# experiment state and the router configuration they measure, the loadgen request body,
# and CPU time read from /proc.

# bench_router_setup FILE SIM_PORT: writes the experiment state "ramp" (half the eligible
# users routed, 5 % holdout) for $EXP into Redis with the caller's rcli, and the router
# configuration (three models on the simulator at SIM_PORT, a routing table, classifier
# rules with the code-fence rule and two patterns, API key $KEY) to FILE.
bench_router_setup() {
    local file=$1 sim_port=$2
    rcli HSET "sy:{$EXP}:state" phase ramp routed_bp 5000 holdout_bp 500 salt bench-salt \
        version 1 >/dev/null
    cat >"$file" <<EOF
{
  "default_model": "instant",
  "experiment": {"name": "$EXP", "salt": "bench-salt", "holdout_pct": 5},
  "providers": {"sim": {"base_url": "http://127.0.0.1:$sim_port/v1",
                        "connect_timeout_ms": 1000, "timeout_ms": 10000}},
  "models": {
    "instant":        {"provider": "sim", "upstream": "sim-instant", "tier": "premium",
                       "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0},
    "instant-code":   {"provider": "sim", "upstream": "sim-instant", "tier": "standard",
                       "input_usd_per_mtok": 0.4, "output_usd_per_mtok": 1.6},
    "instant-small":  {"provider": "sim", "upstream": "sim-instant", "tier": "economy",
                       "input_usd_per_mtok": 0.1, "output_usd_per_mtok": 0.4}
  },
  "routing": {
    "simple":    {"eco": "instant-small", "balanced": "instant-small", "sport": "instant"},
    "code":      {"eco": "instant-code", "balanced": "instant-code", "sport": "instant"},
    "reasoning": {"eco": "instant-code", "balanced": "instant", "sport": "instant"},
    "complex":   {"eco": "instant-code", "balanced": "instant", "sport": "instant"}
  },
  "classifier_rules": {
    "code_fence": true,
    "long_input_tokens": 8000, "long_input_task": "complex",
    "patterns": [{"regex": "\\\\bkubectl\\\\b", "task": "code"},
                 {"regex": "\\\\bprove\\\\b", "task": "reasoning"}]
  },
  "api_keys": [{"key": "$KEY", "project": "bench"}]
}
EOF
}

# The request bench/loadgen.c sends (wrk's come from bench/router.lua).
BENCH_BODY='{"model":"sim-instant","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the plot of Hamlet in two sentences."}]}'

# pid_tree PID: PID and its children (nginx and router workers)
pid_tree() {
    local p=$1
    echo "$p"
    cat /proc/"$p"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

# cpu_ticks PID...: utime + stime summed (clock ticks: getconf CLK_TCK a second)
cpu_ticks() {
    local t=0 p
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}
