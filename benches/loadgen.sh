#!/usr/bin/env bash
# End-to-end load-generation benchmark for llm-drill, measured against sources that are
# not llm-drill: nginx's access log, the mock's /stats, and oha / wrk on the same server
# in the same session. Loopback only; every run is bounded in time.
#
#   benches/loadgen.sh [throughput|h2|ab|accuracy|capacity|streams|memory|sessions|replay|replay-day|side|mock|lag|streams10k|shards|all]    (default: all)
#   DURATION=10 CONNS=64 benches/loadgen.sh throughput
#   LLM_DRILL_BIN=/path/to/older/llm-drill benches/loadgen.sh throughput   (another build)
#   USERS=2000 STREAM_SECS=20 PEER=0 MOCK_BIN=/path/to/older/llm-drill-mock benches/loadgen.sh streams10k
#                                  (fewer streams, no nginx peer, another build of the mock)
#   BASE_BIN=/tmp/llm-drill-before benches/loadgen.sh ab   (that build against this one and
#                                  oha, alternated round by round: a change's cost)
#
# nginx (Debian's nginx + libnginx-mod-http-echo) is the reference server when installed;
# without it the mock stands in. oha and wrk are compared only where installed.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
PORT=${PORT:-18080}
H2PORT=$((PORT + 1))
cargo build --release -q
# Server and load generators on separate cores where the machine allows it: without
# pinning they fight over the same cores and a run-to-run spread of +-10% drowns the
# ratios. The reference server gets the last core, the load generators the others.
CORES=$(nproc)
if command -v taskset >/dev/null && [ "$CORES" -ge 2 ] && [ "${PIN:-1}" = 1 ]; then
  CLIENT="taskset -c 0-$((CORES - 2))"
  SERVER_PIN="taskset -c $((CORES - 1))"
  SERVER_WORKERS=1
  echo "(pinned: load generators on cores 0-$((CORES - 2)), the server on core $((CORES - 1)); PIN=0 to share)"
else
  CLIENT=""
  SERVER_PIN=""
  SERVER_WORKERS=$CORES
fi
BIN="$CLIENT ${LLM_DRILL_BIN:-target/release/llm-drill}"
WORK=$(mktemp -d)
NGINX_PID=""
MOCK_PID=""
PEER_PID=""
cleanup() {
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }

SERVER=""
if command -v nginx >/dev/null && [ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
  mkdir -p "$WORK/nginx"
  sed "s#@PREFIX@#$WORK/nginx#g; s#@PORT@#$PORT#g; s#@H2PORT@#$H2PORT#g; s#^worker_processes .*#worker_processes $SERVER_WORKERS;#" \
    benches/nginx/nginx.conf.in > "$WORK/nginx/nginx.conf"
  $SERVER_PIN nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' &
  NGINX_PID=$!
  SERVER=nginx
  ACCESS_LOG="$WORK/nginx/access.log"
else
  echo "(nginx with the echo module is not installed: using the mock as the reference server)"
  cargo build --release -q -p mock_server
  $SERVER_PIN target/release/llm-drill-mock --listen "127.0.0.1:$PORT" --ttft-ms 0 --ttft-stddev-ms 0 --jitter 0 --output-tokens 1 >/dev/null &
  MOCK_PID=$!
  SERVER=mock
fi
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
# h2c with prior knowledge: nginx's second server, or the mock (which speaks both).
if [ "$SERVER" = nginx ]; then H2URL="http://127.0.0.1:$H2PORT"; else H2URL="$URL"; fi

served() { # requests the reference server logged since the last reset
  if [ "$SERVER" = nginx ]; then wc -l < "$ACCESS_LOG"; else curl -s "$URL/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; fi
}
reset_log() { if [ "$SERVER" = nginx ]; then : > "$ACCESS_LOG"; kill -USR1 "$NGINX_PID"; sleep 0.2; fi; }

BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"The on-call engineer opened the incident at a quarter past two, after the"}],"max_tokens":1,"stream":false}'

throughput() {
  # The machine is shared and noisy: alternate the tools ROUNDS times and compare means.
  local rounds=${ROUNDS:-3} ours_sum=0 oha_sum=0 wrk_sum=0
  echo "== throughput: closed loop, $CONNS connections, ${DURATION}s x $rounds rounds, non-streaming, zero-delay $SERVER"
  printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$BODY" > "$WORK/post.lua"
  for round in $(seq "$rounds"); do
    reset_log
    $BIN run benches/scenarios/closed-64.yaml --no-progress --out "$WORK/closed-$round" \
      --set "endpoints.fast.base_url=$URL" --set endpoints.fast.mock=null \
      --set "load.concurrency=$CONNS" --set "duration=${DURATION}s" > /dev/null
    local ours calls served_n line
    ours=$(json "$WORK/closed-$round/summary.json" "d['totals']['throughput_rps']")
    calls=$(json "$WORK/closed-$round/summary.json" "d['totals']['attempts']")
    served_n=$(served)
    line="round $round: llm-drill $ours calls/s ($calls attempts, $SERVER served $served_n)"
    ours_sum=$(python3 -c "print($ours_sum + $ours)")
    if command -v oha >/dev/null; then
      local oha_rps
      oha_rps=$($CLIENT oha -z "${DURATION}s" -c "$CONNS" --no-tui -m POST -H 'content-type: application/json' -d "$BODY" \
        "$URL/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
      line="$line · oha $oha_rps"
      oha_sum=$(python3 -c "print($oha_sum + $oha_rps)")
    fi
    if command -v wrk >/dev/null; then
      local wrk_rps
      wrk_rps=$($CLIENT wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$URL/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
      line="$line · wrk $wrk_rps"
      wrk_sum=$(python3 -c "print($wrk_sum + $wrk_rps)")
    fi
    echo "$line"
  done
  python3 - "$ours_sum" "$oha_sum" "$wrk_sum" "$rounds" <<'PY'
import sys
ours, oha, wrk, n = (float(v) for v in sys.argv[1:])
print(f"mean llm-drill {ours / n:.0f} calls/s")
print(f"ratio llm-drill / oha = {ours / oha:.3f}" if oha else "oha: not installed (cargo install oha)")
print(f"ratio llm-drill / wrk = {ours / wrk:.3f}" if wrk else "wrk: not installed (apt-get install wrk)")
PY
}

# The same closed loop over h2c: llm-drill's 64 users share one connection per core
# (streams, not connections); oha is given the same shape, connections x streams.
h2() {
  local rounds=${ROUNDS:-3} ours_sum=0 oha_sum=0 shards=$(( $(nproc) - 1 > 0 ? $(nproc) - 1 : 1 ))
  [ -z "$CLIENT" ] && shards=$(nproc)
  echo "== h2: closed loop over h2c, $CONNS users, ${DURATION}s x $rounds rounds, zero-delay $SERVER"
  for round in $(seq "$rounds"); do
    reset_log
    $BIN run benches/scenarios/closed-64.yaml --no-progress --out "$WORK/h2-$round" \
      --set "endpoints.fast.base_url=$H2URL" --set endpoints.fast.mock=null \
      --set endpoints.fast.http_version=http2 \
      --set "load.concurrency=$CONNS" --set "duration=${DURATION}s" > /dev/null
    local ours calls versions served_n line
    ours=$(json "$WORK/h2-$round/summary.json" "d['totals']['throughput_rps']")
    calls=$(json "$WORK/h2-$round/summary.json" "d['totals']['attempts']")
    versions=$(json "$WORK/h2-$round/summary.json" "d['endpoints']['fast'].get('http_versions')")
    served_n=$(served)
    line="round $round: llm-drill $ours calls/s ($calls attempts $versions, $SERVER served $served_n)"
    ours_sum=$(python3 -c "print($ours_sum + $ours)")
    if command -v oha >/dev/null; then
      local oha_rps
      oha_rps=$($CLIENT oha -z "${DURATION}s" -c "$shards" -p $((CONNS / shards)) --http2 --no-tui -m POST \
        -H 'content-type: application/json' -d "$BODY" "$H2URL/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
      line="$line · oha $oha_rps (-c $shards -p $((CONNS / shards)))"
      oha_sum=$(python3 -c "print($oha_sum + $oha_rps)")
    fi
    echo "$line"
  done
  python3 - "$ours_sum" "$oha_sum" "$rounds" <<'PY'
import sys
ours, oha, n = (float(v) for v in sys.argv[1:])
print(f"mean llm-drill over h2c {ours / n:.0f} calls/s")
print(f"ratio llm-drill / oha over h2c = {ours / oha:.3f}" if oha else "oha: not installed (cargo install oha)")
PY
}

# A capacity search against a server whose capacity is its configuration: nginx answering
# in 50 ms and admitting 50 requests a second (limit_req). Each step's attempts and 429s
# are set against nginx's own log, cut at the step's wall-clock start and end.
capacity() {
  if [ "$SERVER" != nginx ]; then echo "(capacity: needs nginx with the echo module)"; return; fi
  echo "== capacity: nginx admitting 50 requests/s (limit_req), 50 ms answers, SLO rate_429 < 1%"
  : > "$WORK/nginx/capacity.log"
  local started=$SECONDS
  $BIN capacity benches/scenarios/capacity-nginx.yaml --no-progress --out "$WORK/cap" \
    --set "endpoints.gateway.base_url=$URL/cap50" > "$WORK/cap.txt" || true
  kill -USR1 "$NGINX_PID"; sleep 0.5
  echo "search took $((SECONDS - started)) s"
  python3 - "$WORK/cap/summary.json" "$WORK/nginx/capacity.log" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capacity"]
log = [line.split() for line in open(sys.argv[2])]
log = [(float(t) * 1000, s) for t, s in log]
ok = True
for st in c["steps"]:
    lines = [s for t, s in log if st["started_unix_ms"] <= t <= st["ended_unix_ms"] + 1]
    ours = st["attempts"] + st["warmup_attempts"]
    ours429 = st["attempts_429"] + st["warmup_attempts_429"]
    theirs429 = sum(1 for s in lines if s == "429")
    same = ours == len(lines) and ours429 == theirs429
    ok &= same
    print(f"step {st['step']}: offered {st['offered']}/s, achieved {st['achieved_rps']}/s, 429 rate {st['rate_429']}, "
          f"{'ok' if st['passed'] else 'FAIL'} · attempts {ours} (nginx logged {len(lines)}), 429s {ours429} (nginx {theirs429})"
          f"{'' if same else '  <-- MISMATCH'}")
m = c.get("max_sustainable")
print(c["verdict"])
if m:
    print(f"max sustainable {m['offered']}/s against a configured 50/s: {m['offered'] / 50:.3f}")
print("every step's counts equal nginx's" if ok else "COUNTS DIFFER")
PY
}

# Two builds of llm-drill and oha, alternated each round on the same server, so that a
# change's effect on throughput is not drowned by the machine's drift between runs.
ab() {
  local rounds=${ROUNDS:-5} base=${BASE_BIN:?BASE_BIN=path to the build to compare with}
  echo "== ab: $base against ${LLM_DRILL_BIN:-target/release/llm-drill}, closed loop, $CONNS connections, ${DURATION}s x $rounds rounds"
  local sums="0 0 0"
  for round in $(seq "$rounds"); do
    local rates=()
    for bin in "$CLIENT $base" "$BIN"; do
      $bin run benches/scenarios/closed-64.yaml --no-progress --out "$WORK/ab-$round-${#rates[@]}" \
        --set "endpoints.fast.base_url=$URL" --set endpoints.fast.mock=null \
        --set "load.concurrency=$CONNS" --set "duration=${DURATION}s" > /dev/null 2>&1
      rates+=("$(json "$WORK/ab-$round-${#rates[@]}/summary.json" "d['totals']['throughput_rps']")")
    done
    rates+=("$($CLIENT oha -z "${DURATION}s" -c "$CONNS" --no-tui -m POST -H 'content-type: application/json' -d "$BODY" \
      "$URL/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')")
    echo "round $round: base ${rates[0]} · this ${rates[1]} · oha ${rates[2]} calls/s"
    sums=$(python3 -c "a='$sums'.split(); print(' '.join(str(float(x) + float(y)) for x, y in zip(a, '${rates[*]}'.split())))")
  done
  python3 - $sums <<'PY'
import sys
base, this, oha = (float(v) for v in sys.argv[1:])
print(f"base/oha {base / oha:.3f} · this/oha {this / oha:.3f} · this/base {this / base:.3f}")
PY
}

accuracy() {
  echo "== accuracy: open loop 500/s for 10s, fixed 50 ms delay"
  $BIN run benches/scenarios/fixed-50ms.yaml --no-progress --out "$WORK/acc-mock" > /dev/null
  json "$WORK/acc-mock/summary.json" "'mock (embedded):  achieved %.2f/s of %.0f/s, latency p50 %.3f ms, service p50 %.3f ms, lag p99 %.3f ms; mock served %d of %d' % (d['totals']['achieved_rps'], d['totals']['target_rps'], d['latency_ms']['p50'], d['service_time_ms']['p50'], d['schedule_lag_ms']['p99'], d['mock_server']['mock']['requests'], d['totals']['attempts'])"
  $BIN run benches/scenarios/fixed-50ms.yaml --no-progress --out "$WORK/acc-mock-stream" \
    --set features.ping.stream=true --set features.ping.output_tokens=5 > /dev/null
  json "$WORK/acc-mock-stream/summary.json" "'mock streaming:   ttft p50 %.3f ms (first chunk after 50 ms), latency p50 %.3f ms' % (d['ttft_ms']['p50'], d['latency_ms']['p50'])"
  if [ "$SERVER" = nginx ]; then
    reset_log
    $BIN run benches/scenarios/fixed-50ms.yaml --no-progress --out "$WORK/acc-nginx" \
      --set "endpoints.mock.base_url=$URL/delay50" --set endpoints.mock.mock=null > /dev/null
    local n
    n=$(served)
    json "$WORK/acc-nginx/summary.json" "'nginx echo_sleep: achieved %.2f/s of %.0f/s, latency p50 %.3f ms, lag p99 %.3f ms; llm-drill counted %d calls, nginx logged $n' % (d['totals']['achieved_rps'], d['totals']['target_rps'], d['latency_ms']['p50'], d['schedule_lag_ms']['p99'], d['totals']['calls'])"
    reset_log
    $BIN run benches/scenarios/fixed-50ms.yaml --no-progress --out "$WORK/acc-429" \
      --set "endpoints.mock.base_url=$URL/limited" --set endpoints.mock.mock=null --set load.rate=40 --set duration=5s > /dev/null
    local ok429
    ok429=$(awk '{print $9}' "$ACCESS_LOG" | sort | uniq -c | tr '\n' ' ')
    json "$WORK/acc-429/summary.json" "'nginx limit_req:  llm-drill ok %d, http_429 %d; nginx logged by status: $ok429' % (d['totals']['by_outcome']['ok'], d['totals']['by_outcome']['http_429'])"
  fi
}

streams() {
  echo "== streams: 2,000 concurrent streams against the embedded mock"
  $BIN run benches/scenarios/streams-2000.yaml --no-progress --out "$WORK/streams" > /dev/null
  json "$WORK/streams/summary.json" "'calls %d, ok %d, failed %d; mock: streams completed %d, aborted %d, by status %s; ttft p99 %.1f ms, itl p99 %.1f ms' % (d['totals']['calls'], d['totals']['ok'], d['totals']['failed'], d['mock_server']['mock']['streams_completed'], d['mock_server']['mock']['streams_aborted'], d['mock_server']['mock']['by_status'], d['ttft_ms']['p99'], d['itl_ms']['p99'])"
}

memory() {
  echo "== memory: one million calls, open loop 10,000/s for 100 s against zero-delay $SERVER"
  reset_log
  $CLIENT /usr/bin/time -f "%M" -o "$WORK/rss" target/release/llm-drill run benches/scenarios/closed-64.yaml --no-progress --out "$WORK/million" \
    --set "endpoints.fast.base_url=$URL" --set endpoints.fast.mock=null \
    --set load.mode=open --set load.concurrency=null --set load.rate=10000 --set load.max_in_flight=256 --set duration=100s > /dev/null
  local rss
  rss=$(cat "$WORK/rss")
  json "$WORK/million/summary.json" "'calls %d (ok %d), achieved %.0f/s, peak RSS $((rss / 1024)) MiB; $SERVER served $(served)' % (d['totals']['calls'], d['totals']['ok'], d['totals']['achieved_rps'])"
}

side() {
  echo "== side: a known 10 ms gateway, measured side by side in one run, then as two separate runs"
  $BIN run benches/scenarios/side-by-side.yaml --no-progress --out "$WORK/side" > /dev/null || true
  json "$WORK/side/summary.json" "'mirror, one run:    paired B-A p50 %+.3f p95 %+.3f p99 %+.3f ms over %d pairs (slower on %.0f%%); mocks served %d and %d' % (d['side_by_side']['pairs']['gateway']['latency_ms']['p50'], d['side_by_side']['pairs']['gateway']['latency_ms']['p95'], d['side_by_side']['pairs']['gateway']['latency_ms']['p99'], d['side_by_side']['pairs']['gateway']['paired_calls'], 100 * d['side_by_side']['pairs']['gateway']['slower_share'], d['mock_server']['direct']['requests'], d['mock_server']['gateway']['requests'])"
  $BIN run benches/scenarios/side-by-side.yaml --no-progress --out "$WORK/side-a" --set side_by_side=null > /dev/null || true
  $BIN run benches/scenarios/side-by-side.yaml --no-progress --out "$WORK/side-b" --set side_by_side=null --set features.chat.endpoint=gateway > /dev/null || true
  python3 -c "
import json
a = json.load(open('$WORK/side-a/summary.json'))['latency_ms']
b = json.load(open('$WORK/side-b/summary.json'))['latency_ms']
print('two separate runs:  B-A p50 %+.3f p95 %+.3f p99 %+.3f ms (differences of the percentiles)' % (b['p50'] - a['p50'], b['p95'] - a['p95'], b['p99'] - a['p99']))"
}

replay() {
  echo "== replay: a 1,000-row log at 10x against the embedded mock (its /stats are the truth)"
  local truth
  truth=$(python3 benches/replay/trace.py "$WORK/trace.jsonl" 1000 1)
  $BIN run benches/scenarios/replay.yaml --no-progress --out "$WORK/replay" --set "load.trace=$WORK/trace.jsonl" > /dev/null
  json "$WORK/replay/summary.json" "'trace: rows and prompt tokens $truth; mock: requests %d, prompt tokens %d; llm-drill: calls %d ok %d, schedule lag p50 %.3f p99 %.3f max %.3f ms, held for history %d' % (d['mock_server']['mock']['requests'], d['mock_server']['mock']['prompt_tokens'], d['totals']['calls'], d['totals']['ok'], d['schedule_lag_ms']['p50'], d['schedule_lag_ms']['p99'], d['schedule_lag_ms']['max'], d['replay']['held_turns'])"
}

replay_day() {
  echo "== replay-day: a 24 h log (ROWS=${ROWS:-200000} rows) at 100x: must end within 15 minutes"
  local truth start end
  truth=$(python3 benches/replay/trace.py "$WORK/day.jsonl" "${ROWS:-200000}" 24)
  start=$(date +%s)
  $CLIENT /usr/bin/time -f "%M" -o "$WORK/rss" target/release/llm-drill run benches/scenarios/replay.yaml --no-progress --out "$WORK/day" \
    --set "load.trace=$WORK/day.jsonl" --set load.speed=100 > /dev/null
  end=$(date +%s)
  json "$WORK/day/summary.json" "'trace: rows and prompt tokens $truth; wall $((end - start)) s (log 86400 s / 100 = 864 s), peak RSS $(( $(cat "$WORK/rss") / 1024 )) MiB; mock: requests %d, prompt tokens %d; calls %d ok %d, lag p99 %.3f ms, held %d' % (d['mock_server']['mock']['requests'], d['mock_server']['mock']['prompt_tokens'], d['totals']['calls'], d['totals']['ok'], d['schedule_lag_ms']['p99'], d['replay']['held_turns'])"
}

overflows() { awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "ListenOverflows") c = i; n = 1 } else print $c }' /proc/net/netstat; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

streams10k() {
  # 10,000 users streaming at once against the standalone mock (20 tokens/s, TTFT 300 +-
  # 50 ms, 200 tokens), the mock and llm-drill each pinned to a core: every user starts
  # together, so the first second is a burst of 10,000 connections.
  local users=${USERS:-10000} secs=${STREAM_SECS:-60} port=$((PORT + 3)) pid run_pid
  cargo build --release -q -p mock_server
  echo "== streams10k: $users users, 20 tokens/s, TTFT 300 +- 50 ms, ${secs}s, mock and llm-drill each on one core"
  $SERVER_PIN "${MOCK_BIN:-target/release/llm-drill-mock}" --listen "127.0.0.1:$port" --ttft-ms 300 --ttft-stddev-ms 50 \
    --tokens-per-second 20 --output-tokens 200 > "$WORK/mock10k.log" &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/stats" && break; sleep 0.1; done
  local idle_kb over0 cpu0
  idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  over0=$(overflows)
  cpu0=$(cpu_s "$pid")
  $CLIENT /usr/bin/time -f "%M %U %S" -o "$WORK/time10k" target/release/llm-drill run benches/scenarios/streams-2000.yaml --no-progress \
    --out "$WORK/streams10k" --set "load.concurrency=$users" --set "duration=${secs}s" \
    --set "endpoints.mock.base_url=http://127.0.0.1:$port" --set endpoints.mock.mock=null \
    --set features.chat.output_tokens=200 > /dev/null &
  run_pid=$!
  # Half way, every user is mid-stream: the mock's memory per open stream.
  sleep $((secs / 2))
  local open_kb open_streams
  open_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  open_streams=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["in_flight"])')
  wait "$run_pid" || true
  curl -s "http://127.0.0.1:$port/stats" > "$WORK/stats10k.json"
  local over1 cpu1 peak_kb
  over1=$(overflows)
  cpu1=$(cpu_s "$pid")
  peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$WORK" "$idle_kb" "$open_kb" "$open_streams" "$peak_kb" "$over0" "$over1" "$cpu0" "$cpu1" "$secs" <<'PY'
import json, sys
work, idle, open_kb, open_n, peak, o0, o1, c0, c1, secs = sys.argv[1:]
s = json.load(open(f"{work}/streams10k/summary.json"))
m = json.load(open(f"{work}/stats10k.json"))
rss, user, sys_ = open(f"{work}/time10k").read().split()
t, ttft, itl = s["totals"], s["ttft_ms"], s["itl_ms"]
print(f"calls {t['calls']}, ok {t['ok']}, failed {t['failed']}; mock: streams completed {m['streams_completed']}, aborted {m['streams_aborted']}")
print(f"TTFT p50 {ttft['p50']:.1f} ms (configured median 300), p99 {ttft['p99']:.1f} ms (target < 600)")
print(f"ITL  p50 {itl['p50']:.2f} ms (configured 50), p99 {itl['p99']:.2f} ms (target < 80)")
l = m["emit_lag_ms"]
print(f"mock's own emission lag: p50 {l['p50']:.3f} ms, p99 {l['p99']:.3f} ms (target < 5), max {l['max']:.1f} ms over {l['count']} emissions")
print(f"listen-queue overflows (kernel TcpExt ListenOverflows) during the run: {int(o1) - int(o0)}; mock backlog {m['backlog']}, connections accepted {m['connections']}")
n = max(int(open_n), 1)
print(f"mock: CPU {float(c1) - float(c0):.1f} s in {secs} s, RSS idle {int(idle) / 1024:.1f} MiB, with {open_n} streams open {int(open_kb) / 1024:.1f} MiB ({(int(open_kb) - int(idle)) * 1024 / n:.0f} bytes per open stream beyond the socket buffers), peak {int(peak) / 1024:.1f} MiB")
print(f"llm-drill: CPU {float(user) + float(sys_):.1f} s, peak RSS {int(rss) / 1024:.1f} MiB; schedule lag p99 {s['schedule_lag_ms']['p99']:.1f} ms; generator_saturated {s['generator_saturated']}")
seen = s.get("mock_server", {}).get("mock")
warned = "WARNING: the mock `mock`" in open(f"{work}/streams10k/summary.txt").read()
print(f"llm-drill's own summary: the standalone mock {'recognized, its lag p99 %.1f ms' % seen['emit_lag_ms']['p99'] if seen else 'NOT recognized'}; lag warning {'said' if warned else 'not said'}")
PY
  if [ "${PEER:-1}" = 1 ]; then streams10k_nginx "$users" "$secs"; fi
}

streams10k_nginx() {
  # The same load against a third-party peer on the same core: nginx's echo module streaming
  # the same events (fixed 300 ms TTFT, 200 tokens 50 ms apart, each flushed). What one
  # core costs per streamed token, where the mock is not the one measuring itself.
  local users=$1 secs=$2 port=$((PORT + 4)) master worker
  [ "$SERVER" = nginx ] || { echo "(nginx with the echo module is not installed: no third-party peer for streams10k)"; return; }
  mkdir -p "$WORK/nginx10k"
  python3 benches/nginx/streaming.py "$WORK/nginx10k" "$port" 300 50 200 > "$WORK/nginx10k/nginx.conf"
  $SERVER_PIN nginx -c "$WORK/nginx10k/nginx.conf" -p "$WORK/nginx10k" -g 'daemon off;' &
  master=$!
  PEER_PID=$master
  worker=""
  for _ in $(seq 50); do worker=$(pgrep -P "$master" | head -1 || true); [ -n "$worker" ] && break; sleep 0.1; done
  local cpu0 cpu1 peak_kb
  cpu0=$(cpu_s "$worker")
  $CLIENT target/release/llm-drill run benches/scenarios/streams-2000.yaml --no-progress \
    --out "$WORK/nginx10k/run" --set "load.concurrency=$users" --set "duration=${secs}s" \
    --set "endpoints.mock.base_url=http://127.0.0.1:$port" --set endpoints.mock.mock=null \
    --set features.chat.output_tokens=200 > /dev/null 2>&1 || true
  cpu1=$(cpu_s "$worker")
  peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$worker/status")
  local logged
  logged=$(wc -l < "$WORK/nginx10k/access.log")
  kill "$master"; wait "$master" 2>/dev/null || true
  PEER_PID=""
  json "$WORK/nginx10k/run/summary.json" "'peer, nginx echo on the same core (fixed 300 ms TTFT, 50 ms gaps): calls %d (nginx logged $logged), TTFT p50 %.1f p99 %.1f ms, ITL p50 %.2f p99 %.2f ms, output tokens %d; nginx CPU %.1f s in $secs s, peak RSS %.1f MiB' % (d['totals']['calls'], d['ttft_ms']['p50'], d['ttft_ms']['p99'], d['itl_ms']['p50'], d['itl_ms']['p99'], d['totals']['output_tokens'], $cpu1 - $cpu0, $peak_kb / 1024)"
}

shards() {
  # The same 400 calls/s for 20 s from one process and from 4 shards (--start-at), merged:
  # against two mocks (request counts and order-independent digests: the same calls) and
  # against nginx's fixed 50 ms (its access log; the merged p50 against one process's).
  local n=${SHARDS:-4} port=$((PORT + 5)) at i m1 m2
  cargo build --release -q -p mock_server
  echo "== shards: 400 calls/s for 20 s, one process and $n shards merged"
  run_shards() { # $1 base URL, $2 output prefix: the shards, then the merge
    local pids=""
    at=$(( $(date +%s) + 2 ))
    for i in $(seq 0 $((n - 1))); do
      $BIN run benches/scenarios/sharded.yaml --no-progress --shard "$i/$n" --start-at "$at" \
        --out "$WORK/$2-$i" --set "endpoints.m.base_url=$1" > /dev/null 2>&1 &
      pids="$pids $!"
    done
    for i in $pids; do wait "$i" || true; done
    $BIN merge $(for i in $(seq 0 $((n - 1))); do echo "$WORK/$2-$i"; done) --out "$WORK/$2" > /dev/null
  }
  target/release/llm-drill-mock --listen "127.0.0.1:$port" > /dev/null & m1=$!
  target/release/llm-drill-mock --listen "127.0.0.1:$((port + 1))" > /dev/null & m2=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$((port + 1))/stats" && break; sleep 0.1; done
  $BIN run benches/scenarios/sharded.yaml --no-progress --out "$WORK/one" --set "endpoints.m.base_url=http://127.0.0.1:$port" > /dev/null 2>&1
  run_shards "http://127.0.0.1:$((port + 1))" split
  local d1 d2
  d1=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["request_digest"])')
  d2=$(curl -s "http://127.0.0.1:$((port + 1))/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["request_digest"])')
  kill "$m1" "$m2"; wait "$m1" "$m2" 2>/dev/null || true
  json "$WORK/split/summary.json" "'mock: merged calls %d, achieved %.2f/s of %.0f/s; mock of the shards: requests, digest $d2; mock of one process: $d1' % (d['totals']['calls'], d['totals']['achieved_rps'], d['totals']['target_rps'])"
  [ "$SERVER" = nginx ] || { echo "(nginx with the echo module is not installed: no fixed-delay comparison)"; return; }
  reset_log
  $BIN run benches/scenarios/sharded.yaml --no-progress --out "$WORK/one-ngx" --set "endpoints.m.base_url=$URL/delay50" > /dev/null 2>&1
  local l1 l2
  l1=$(served)
  reset_log
  run_shards "$URL/delay50" split-ngx
  l2=$(served)
  python3 - "$WORK" "$l1" "$l2" <<'PY'
import json, sys
w, l1, l2 = sys.argv[1:]
a = json.load(open(f"{w}/one-ngx/summary.json")); b = json.load(open(f"{w}/split-ngx/summary.json"))
print(f"nginx 50 ms: one process {a['totals']['calls']} calls (nginx logged {l1}), p50 {a['latency_ms']['p50']:.3f} ms; "
      f"shards merged {b['totals']['calls']} (nginx logged {l2}), p50 {b['latency_ms']['p50']:.3f} ms: "
      f"difference {b['latency_ms']['p50'] - a['latency_ms']['p50']:+.3f} ms (target within 1 ms)")
PY
}

lag() {
  # 30k-token prompts at 40/s against the embedded mock: the run's schedule lag, which the
  # mock's work must not add to. BASE_BIN=/path/to/older/llm-drill runs that build too.
  echo "== lag: 30k-token prompts, open loop 40/s for 20 s, embedded mock (schedule lag in ms)"
  local bin name
  for name in this base; do
    bin=target/release/llm-drill
    if [ "$name" = base ]; then [ -n "${BASE_BIN:-}" ] || continue; bin=$BASE_BIN; fi
    $CLIENT "$bin" run benches/scenarios/long-prompts.yaml --no-progress --out "$WORK/lag-$name" > /dev/null
    json "$WORK/lag-$name/summary.json" "'$name build: schedule lag p50 %.3f p99 %.3f max %.3f ms over %d calls; mock counted %.0f prompt tokens per request' % (d['schedule_lag_ms']['p50'], d['schedule_lag_ms']['p99'], d['schedule_lag_ms']['max'], d['totals']['calls'], d['mock_server']['llm']['prompt_tokens'] / max(1, d['mock_server']['llm']['requests']))"
  done
}

mock_rps() { # $1 mock binary, $2 body file: oha's req/s against it, pinned to the server core
  local port=$((PORT + 2)) rps served_n
  $SERVER_PIN "$1" --listen "127.0.0.1:$port" --ttft-ms 0 --ttft-stddev-ms 0 --jitter 0 --output-tokens 1 >/dev/null &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/stats" && break; sleep 0.1; done
  rps=$($CLIENT oha -z "${DURATION}s" -c "$CONNS" --no-tui -m POST -H 'content-type: application/json' -D "$2" \
    "http://127.0.0.1:$port/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
  served_n=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["prompt_tokens"] // max(d["requests"], 1))')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rps $served_n"
}

mock() {
  # The mock alone on one core, non-streaming, zero delay: how many requests it answers.
  # MOCK_BASE=/path/to/older/llm-drill-mock alternates that build with this one.
  command -v oha >/dev/null || { echo "mock: needs oha (cargo install oha)"; return; }
  cargo build --release -q -p mock_server
  echo "== mock: llm-drill-mock pinned to one core, oha closed loop $CONNS connections, ${DURATION}s each, non-streaming"
  python3 - "$WORK" <<'PY'
import json, random, re, sys
corpus = open("src/workload/corpus.txt").read()
sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", corpus) if s.strip()]
random.seed(18)
def body(text):
    return json.dumps({"model": "gpt-4o-mini", "max_tokens": 1, "stream": False,
                       "messages": [{"role": "user", "content": text}]})
long = []
while sum(len(s) + 1 for s in long) < 14_300:  # about 2.8k o200k tokens of corpus prose
    long.append(random.choice(sentences))
open(sys.argv[1] + "/short.json", "w").write(body("The on-call engineer opened the incident at a quarter past two."))
open(sys.argv[1] + "/long.json", "w").write(body(" ".join(long)))
PY
  local size out
  for size in short long; do
    for round in $(seq "${ROUNDS:-2}"); do
      out=$(mock_rps target/release/llm-drill-mock "$WORK/$size.json")
      echo "$size prompt, round $round: this build $(echo "$out" | awk '{print $1}') req/s (served $(echo "$out" | awk '{print $2}'), prompt $(echo "$out" | awk '{print $3}') tokens per request)"
      if [ -n "${MOCK_BASE:-}" ]; then
        out=$(mock_rps "$MOCK_BASE" "$WORK/$size.json")
        echo "$size prompt, round $round: base build $(echo "$out" | awk '{print $1}') req/s (served $(echo "$out" | awk '{print $2}'), prompt $(echo "$out" | awk '{print $3}') tokens per request)"
      fi
    done
  done
}

sessions() {
  echo "== sessions: 50,000 conversations in think time at once, against the standalone mock"
  cargo build --release -q -p mock_server
  local port=$((PORT + 1)) pid
  $SERVER_PIN target/release/llm-drill-mock --listen "127.0.0.1:$port" --ttft-ms 20 --ttft-stddev-ms 0 --tokens-per-second 5000 --jitter 0 >/dev/null &
  MOCK_PID=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/stats" && break; sleep 0.1; done
  $CLIENT /usr/bin/time -f "%M" -o "$WORK/rss-sessions" target/release/llm-drill run benches/scenarios/sessions-50k.yaml --no-progress --out "$WORK/sessions" \
    --set "endpoints.llm.base_url=http://127.0.0.1:$port" --set endpoints.llm.mock=null > /dev/null &
  pid=$!
  # All sessions are thinking from 40 s to 60 s into the run: sample the RSS at 55 s.
  sleep 55
  local thinking
  thinking=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$(pgrep -P "$pid" llm-drill || echo "$pid")/status" 2>/dev/null || echo "?")
  wait "$pid"
  local rss
  rss=$(cat "$WORK/rss-sessions")
  json "$WORK/sessions/summary.json" "'sessions %d, calls %d (ok %d) %s; RSS with all of them thinking $thinking MiB, peak RSS $((rss / 1024)) MiB; errors %s' % (d['totals']['sessions'], d['totals']['calls'], d['totals']['ok'], d['totals']['by_outcome'], [(e['outcome'], e['message'][:100], e['count']) for e in d['errors']])"
  echo "mock /stats: $(curl -s "http://127.0.0.1:$port/stats")"
  kill "$MOCK_PID" 2>/dev/null || true
  MOCK_PID=""
}

case "$WHAT" in
  throughput) throughput ;;
  h2) h2 ;;
  capacity) capacity ;;
  ab) ab ;;
  accuracy) accuracy ;;
  streams) streams ;;
  memory) memory ;;
  sessions) sessions ;;
  replay) replay ;;
  side) side ;;
  mock) mock ;;
  lag) lag ;;
  streams10k) streams10k ;;
  shards) shards ;;
  replay-day) replay_day ;;
  all) throughput; h2; accuracy; capacity; streams; memory; sessions; replay; side; mock; lag; shards ;;
  *) echo "usage: $0 [throughput|h2|ab|accuracy|capacity|streams|memory|sessions|replay|replay-day|side|mock|lag|streams10k|shards|all]" >&2; exit 2 ;;
esac
