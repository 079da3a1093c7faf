#!/usr/bin/env bash
# A fuzzing campaign with cargo-fuzz (libFuzzer, AddressSanitizer) over the targets in
# fuzz/, which share their entry points with the property tests of tests/drill/fuzz.rs.
#
#   benches/fuzz.sh                 every target, RUNS=1000000 executions each
#   RUNS=200000 benches/fuzz.sh stream usage
#
# Needs cargo-fuzz (cargo install cargo-fuzz). Without a nightly toolchain, the stable
# one is asked to accept the sanitizer flags (RUSTC_BOOTSTRAP=1). Each target starts from
# a corpus seeded with real inputs (the shipped scenarios, recorded streams, usage logs,
# requests); an input that breaks an invariant is saved under fuzz/artifacts/TARGET/ and
# belongs in tests/drill/fuzz.rs `regressions` once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000000}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(scenario stream eventstream whole usage mock_request)
command -v cargo-fuzz >/dev/null || { echo "benches/fuzz.sh: needs cargo-fuzz (cargo install cargo-fuzz)"; exit 2; }
if ! rustc --version | grep -q nightly; then export RUSTC_BOOTSTRAP=1; fi

# Seeds: the first bytes of a stream, body, log or request pick its provider, format or
# wire, as in src/fuzzing.rs.
python3 - <<'PY'
import glob, os
def put(target, name, data):
    d = f"fuzz/corpus/{target}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/seed-{name}", "wb").write(data)
for p in sorted(glob.glob("scenarios/*.yaml") + glob.glob("tests/bad_scenarios/*.yaml")):
    put("scenario", os.path.basename(p), open(p, "rb").read())
put("scenario", "with-set", b"--set load.rate=5\n" + open("scenarios/quickstart.yaml", "rb").read())
# Providers as src/plan/provider.rs lists them: openai, azure_openai, anthropic,
# bedrock, vertex, gemini.
for i, p in enumerate(sorted(glob.glob("tests/fixtures/sse/*.txt") + glob.glob("tests/fixtures/vertex/stream*.txt"))):
    for provider in range(6):
        put("stream", f"{provider}-{os.path.basename(p)}", bytes([provider, 7 + i]) + open(p, "rb").read())
put("whole", "openai", b"\x00" + b'{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}')
put("whole", "anthropic", b"\x02" + b'{"type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}')
put("whole", "bedrock", b"\x03" + b'{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1},"metrics":{"latencyMs":40}}')
put("whole", "vertex", b"\x04" + b'{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1}}')
put("usage", "litellm", b"\x02" + open("scenarios/traces/support-desk-spend-logs.json", "rb").read()[:8000])
put("usage", "jsonl", b"\x00" + b'{"timestamp":"2026-11-23T09:00:00Z","feature":"kb","prompt_tokens":10,"completion_tokens":5,"latency":1.5,"status":200}\n')
put("usage", "csv", b"\x01timestamp,feature,prompt_tokens,completion_tokens\n2026-11-23T09:00:00Z,kb,10,5\n")
put("usage", "servicenow", b"\x03" + b'{"records":[{"sys_created_on":"2026-11-23 09:00:00","capability":"summarize","prompt_tokens":"10","completion_tokens":"5"}]}')
for p in sorted(glob.glob("tests/fixtures/eventstream/*.bin")):
    put("eventstream", os.path.basename(p), bytes([7]) + open(p, "rb").read())
put("mock_request", "openai", b"\x00" + b'{"model":"gpt-4o","messages":[{"role":"user","content":"Why? Because. Fine!"}],"max_tokens":5,"stream":true}')
put("mock_request", "anthropic", b"\x02" + b'{"model":"claude","system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi. There."}]}],"max_tokens":5}')
put("mock_request", "bedrock", b"\x03" + b'{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hi. There."}]}],"inferenceConfig":{"maxTokens":5}}')
put("mock_request", "vertex", b"\x04" + b'{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Hi. There."}]}],"generationConfig":{"maxOutputTokens":5}}')
PY

cd fuzz
for t in "${TARGETS[@]}"; do
  cargo fuzz build -O "$t" 2>&1 | grep -E "^error" && exit 1
done
for t in "${TARGETS[@]}"; do
  mkdir -p "artifacts/$t"
  start=$(date +%s)
  # A scenario is a few kilobytes: longer inputs only slow the loader's target down.
  max_len=65536; [ "$t" = scenario ] && max_len=8192
  if cargo fuzz run -O "$t" "corpus/$t" -- -runs="$RUNS" -max_len="$max_len" -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 > "artifacts/$t/log" 2>&1; then status=ok; else status="FOUND A FAILURE (fuzz/artifacts/$t/)"; fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "artifacts/$t/log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "artifacts/$t/log")
  cov=$(grep -oE 'cov: [0-9]+' "artifacts/$t/log" | tail -1)
  echo "$t: ${execs:-?} executions in $(( $(date +%s) - start )) s (${rate:-?}/s), $cov, corpus $(ls "corpus/$t" | wc -l) inputs: $status"
done
