# llm-drill's container image: the llm-drill and llm-drill-mock binaries and the example
# scenarios, on Debian slim, run as a non-root user.
#   docker build -t llm-drill .
#   docker run --rm llm-drill run scenarios/quickstart.yaml
# Kubernetes: deploy/kubernetes/ (README, "Scale out").

# --- build: the release binaries, from the lock file as committed.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p llm-drill -p mock_server \
 && strip target/release/llm-drill target/release/llm-drill-mock

# --- runtime: the binaries, the system's CA roots (for `tls.roots: system`), the
# scenarios. No shell tools beyond Debian slim's; uid 10001, not root.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --home-dir /home/drill drill
COPY --from=build /src/target/release/llm-drill /src/target/release/llm-drill-mock /usr/local/bin/
COPY --chown=10001:10001 scenarios /home/drill/scenarios
USER 10001:10001
WORKDIR /home/drill
# Results go to ./results (mount a volume there, or give --out).
ENTRYPOINT ["llm-drill"]
CMD ["--help"]
