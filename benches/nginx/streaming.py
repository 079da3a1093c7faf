#!/usr/bin/env python3
"""An nginx config (Debian's nginx + echo module) that streams an OpenAI chat completion
the way the mock does in `benches/loadgen.sh streams10k`: the role chunk at once, the
first token after a fixed TTFT, then one SSE event per token at a fixed gap, each flushed.
It is the third-party peer for the mock's cost per streamed token on one core.

usage: streaming.py PREFIX PORT [TTFT_MS GAP_MS TOKENS]
"""
import sys

prefix, port = sys.argv[1], sys.argv[2]
ttft_ms, gap_ms, tokens = (int(v) for v in (sys.argv[3:6] or ["300", "50", "200"]))


def chunk(delta, finish="null", usage=""):
    return ('data: {"id":"chatcmpl-nginx","object":"chat.completion.chunk","created":0,'
            f'"model":"nginx","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]{usage}}}\\n\\n')


role = chunk('{"role":"assistant","content":""}')
token = chunk('{"content":" ok"}')
usage = f',"usage":{{"prompt_tokens":0,"completion_tokens":{tokens},"total_tokens":{tokens}}}'
end = chunk("{}", '"stop"', usage) + "data: [DONE]\\n\\n"
steps = [f"echo -n '{role}';", "echo_flush;", f"echo_sleep {ttft_ms / 1000};"]
for i in range(tokens):
    if i:
        steps.append(f"echo_sleep {gap_ms / 1000};")
    steps += [f"echo -n '{token}';", "echo_flush;"]
steps.append(f"echo -n '{end}';")
body = "\n            ".join(steps)
print(f"""load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=65535;
        location = /v1/chat/completions {{
            default_type text/event-stream;
            echo_read_request_body;
            {body}
        }}
    }}
}}""")
