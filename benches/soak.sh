#!/usr/bin/env bash
# Soak: an hour of mixed traffic (${SOAK_SCENARIO:-benches/scenarios/soak.yaml}: conversations, streams,
# single calls, 429s, 5xx, cut streams, slow answers, outages with a fallback, retries)
# against standalone mocks, sampling llm-drill's and the mock's RSS every minute. At the
# end it prints the series per minute with the schedule lag of each minute (from the
# run's per-second series), RSS growth after the first 5 minutes (target: < 5 MB) and
# whether lag p99 stayed flat, and checks the mocks' request count against llm-drill's.
#
#   benches/soak.sh                       one hour
#   DURATION=600 SAMPLE=30 benches/soak.sh   a shorter rehearsal
#
# The series and the run's results folder are kept in OUT (default results/soak).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3600}
SAMPLE=${SAMPLE:-60}
PORT=${PORT:-18180}
OUT=${OUT:-results/soak}
cargo build --release -q -p llm-drill -p mock_server
rm -rf "$OUT"; mkdir -p "$OUT"
MOCK_PID=""; RUN_PID=""
cleanup() {
  [ -n "$RUN_PID" ] && kill -INT "$RUN_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
}
trap cleanup EXIT
# The mocks act out the scenario's faults themselves (real 429s with Retry-After, real
# cut streams, refused connections), so the run below injects none on the client side.
target/release/llm-drill mock --scenario ${SOAK_SCENARIO:-benches/scenarios/soak.yaml} --listen "127.0.0.1:$PORT" > "$OUT/mock.log" 2>&1 &
MOCK_PID=$!
# Each mock endpoint takes the next port, in the order the mock prints them.
url() { sed -n "s/^mock endpoint \`$1\` listening on \([^ ]*\).*/\1/p" "$OUT/mock.log"; }
for _ in $(seq 50); do [ -n "$(url primary)" ] && [ -n "$(url backup)" ] && break; sleep 0.1; done
PRIMARY=$(url primary); BACKUP=$(url backup)
if [ -z "$PRIMARY" ] || [ -z "$BACKUP" ]; then
  echo "soak: the mocks did not start (PORT=$PORT in use? set PORT):" >&2; cat "$OUT/mock.log" >&2; exit 2
fi
target/release/llm-drill run ${SOAK_SCENARIO:-benches/scenarios/soak.yaml} --no-progress --out "$OUT/run" \
  --set "duration=${DURATION}s" --set 'faults=[]' \
  --set "endpoints.primary.base_url=$PRIMARY" --set endpoints.primary.mock=null \
  --set "endpoints.backup.base_url=$BACKUP" --set endpoints.backup.mock=null \
  > "$OUT/run.log" 2>&1 &
RUN_PID=$!
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "elapsed_s,drill_rss_kb,mock_rss_kb" > "$OUT/samples.csv"
start=$(date +%s)
echo "== soak: ${DURATION}s of soak.yaml against standalone mocks; RSS every ${SAMPLE}s (series in $OUT)"
while kill -0 "$RUN_PID" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  echo "$now,$(rss "$RUN_PID"),$(rss "$MOCK_PID")" >> "$OUT/samples.csv"
  sleep "$SAMPLE"
done
wait "$RUN_PID" && code=0 || code=$?
RUN_PID=""
if [ ! -f "$OUT/run/summary.json" ]; then
  echo "soak: the run wrote no summary (exit $code):" >&2; tail -5 "$OUT/run.log" >&2; exit 2
fi
curl -s "$PRIMARY/stats" > "$OUT/stats-primary.json"; curl -s "$BACKUP/stats" > "$OUT/stats-backup.json"
python3 - "$OUT" "$code" <<'PY'
import csv, json, statistics, sys
out, code = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{out}/run/summary.json"))
samples = [(int(r["elapsed_s"]), int(r["drill_rss_kb"]), int(r["mock_rss_kb"])) for r in csv.DictReader(open(f"{out}/samples.csv"))]
minutes = {}
for row in s["timeseries"]:
    minutes.setdefault(row["second"] // 60, []).append(row)
print(f"run exit {code}: calls {s['totals']['calls']} (ok {s['totals']['ok']}), attempts {s['totals']['attempts']}, fallbacks {s['totals'].get('fallbacks')}, generator_saturated {s.get('generator_saturated')}")
print("minute  calls  lag p99 (worst second)  lag max   drill RSS  mock RSS")
per_minute_lag = []
for m in sorted(minutes):
    rows = minutes[m]
    lag99 = max(r.get("schedule_lag_p99_ms", 0) for r in rows)
    lagmax = max(r.get("schedule_lag_max_ms", 0) for r in rows)
    per_minute_lag.append((m, lag99))
    rss = [x for x in samples if x[0] // 60 == m]
    d = f"{rss[-1][1] / 1024:.1f} MiB" if rss else "-"
    k = f"{rss[-1][2] / 1024:.1f} MiB" if rss else "-"
    print(f"{m:6d} {sum(r['calls'] for r in rows):6d}  {lag99:10.3f} ms        {lagmax:8.3f}  {d:>10} {k:>9}")
after = [x for x in samples if x[0] >= 300]
if len(after) >= 2:
    grow = (after[-1][1] - after[0][1]) / 1024
    mgrow = (after[-1][2] - after[0][2]) / 1024
    print(f"RSS growth after minute 5: llm-drill {grow:+.1f} MiB ({'ok' if grow < 5 else 'OVER'} < 5 MB), mock {mgrow:+.1f} MiB")
lags = [l for m, l in per_minute_lag if m >= 5]
if len(lags) >= 4:
    half = len(lags) // 2
    a, b = statistics.median(lags[:half]), statistics.median(lags[half:])
    print(f"lag p99 per minute, median of each half after minute 5: {a:.3f} ms then {b:.3f} ms ({'flat' if b <= a * 1.5 + 1 else 'GROWING'})")
stats = {e: json.load(open(f"{out}/stats-{e}.json")) for e in ("primary", "backup")}
print("faults the primary mock acted out:", stats["primary"]["faults"], "· its statuses:", stats["primary"]["by_status"])
for e, v in stats.items():
    ep = s["endpoints"][e]
    by = ep["by_outcome"]
    connect = by.get("connect", 0)
    reached = ep["attempts"] - connect
    diff = v["requests"] - reached
    # During a `refuse` outage the mock's gate also cuts connections whose request it had
    # already read: llm-drill gets no response (`connect`), the mock has counted the
    # request. It counts those as `refused_mid_request`: the difference, exactly.
    cut = v.get("refused_mid_request", 0)
    verdict = "equal" if diff == cut else f"OFF BY {diff - cut:+d}"
    verdict += f", with {cut} requests read, then cut by a refuse outage" if cut else ""
    ok200 = v["by_status"].get("200", 0)
    ok, cut_here = by.get("ok", 0), by.get("stream_cut", 0)
    # A stream the client saw cut is one the mock cut (a stream_cut fault), or one a
    # refuse outage broke off mid-answer, which the mock counts as aborted.
    cuts = v.get("streams_cut", 0) + v.get("streams_aborted", 0)
    print(f"{e}: answers begun with 200: mock {ok200}, llm-drill ok {ok} + stream_cut {cut_here} ({'equal' if ok200 == ok + cut_here else 'DIFFERENT'}); stream_cut {cut_here} against the mock's cuts {v.get('streams_cut', 0)} + streams aborted {v.get('streams_aborted', 0)} ({'equal' if cut_here == cuts else 'DIFFERENT'})")
    print(f"{e}: mock served {v['requests']} requests and refused {v['refused']} connections at the socket; llm-drill made {ep['attempts']} attempts, {connect} failing to connect, so {reached} reached it; the mock's count less those cut mid-request: {verdict}")
PY
