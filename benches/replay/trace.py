#!/usr/bin/env python3
"""Writes a per-call log (JSON Lines) for the replay benchmarks and prints its row count
and prompt-token sum: the figures the mock's /stats must show after the replay.

    trace.py OUT ROWS HOURS [SEED]

Conversations of 1-4 turns (their prompts grow with the history) and single calls,
arriving with a day's shape: quiet at night, busiest mid-afternoon.
"""
import json, math, random, sys

out, rows, hours = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
random.seed(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
span_ms = hours * 3600 * 1000
lines, prompt_sum = [], 0
t0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
c = 0
while len(lines) < rows:
    c += 1
    # Thinning: more arrivals at 15:00 than at 03:00.
    while True:
        at = random.random() * span_ms
        hour = (at / 3_600_000) % 24
        if random.random() < 0.25 + 0.75 * (1 + math.cos((hour - 15) / 24 * 2 * math.pi)) / 2:
            break
    chat = random.random() < 0.6
    turns = random.randint(1, 4) if chat else 1
    prompt = random.randint(200, 1500)
    for k in range(turns):
        if len(lines) == rows:
            break
        out_tokens = random.randint(20, 300)
        row = {"ts": int(t0 + at), "feature": "chat" if chat else "search",
               "in": prompt, "out": out_tokens, "ms": 300 + out_tokens * 10}
        if chat:
            row["conversation"] = f"c{c}"
        lines.append(row)
        prompt_sum += prompt
        prompt += out_tokens + 8 + random.randint(10, 120)
        at += row["ms"] + random.randint(5_000, 60_000)
lines.sort(key=lambda r: r["ts"])
with open(out, "w") as f:
    for r in lines:
        f.write(json.dumps(r) + "\n")
print(len(lines), prompt_sum)
