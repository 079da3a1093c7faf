//! Reaching real endpoints as they are deployed (issue 12): where each call was really
//! served, from Azure's `x-ms-region`, counted as the mock counted it, and a call served
//! outside its feature's residency counted as an observed violation even when the
//! endpoint's declared region is inside.

use super::support::{assert_failed, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_regions_are_the_mocks_and_observed_residency_breaches_are_counted() {
    // A Global deployment declared in West Europe that answers from three regions.
    let yaml = "name: regions\nseed: 6\nduration: 4s\nendpoints:\n  p:\n    provider: azure_openai\n    base_url: mock\n    deployment: gpt4o-global\n    model_name: gpt-4o\n    region: westeurope\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0, served_regions: { West Europe: 0.8, swedencentral: 0.15, eastus: 0.05 } }\nfeatures:\n  f:\n    endpoint: p\n    stream: true\n    residency: [westeurope, swedencentral]\n    prompt: { user_tokens: 10 }\n    output_tokens: 5\nload: { rate: 25 }\n";
    let (s, _d) = run(yaml).await;
    assert_eq!(s.totals.calls, 100);
    let seen = &s.endpoints["p"].served_regions;
    let truth = &s.mock_server["p"].served_regions;
    // The mock says "West Europe" as Azure does; llm-drill reports the canonical name.
    assert_eq!(
        seen.get("westeurope"),
        truth.get("West Europe"),
        "{seen:?} {truth:?}"
    );
    assert_eq!(seen.get("swedencentral"), truth.get("swedencentral"));
    assert_eq!(seen.get("eastus"), truth.get("eastus"));
    assert_eq!(seen.values().sum::<u64>(), 100);
    // East US is outside the residency list though the declared region is inside.
    let east = truth["eastus"];
    assert!(east > 0, "{truth:?}");
    assert_eq!(s.totals.residency_violations, east);
    assert_eq!(
        s.totals.residency_violations_by_kind.get("observed"),
        Some(&east)
    );
    assert_eq!(s.totals.residency_violations_by_kind.get("declared"), None);
    // Without served_regions the mock says the declared region, and nothing breaches.
    let plain = yaml.replace(
        ", served_regions: { West Europe: 0.8, swedencentral: 0.15, eastus: 0.05 }",
        "",
    );
    let (s, _d) = run(&plain).await;
    assert_eq!(
        s.endpoints["p"].served_regions.get("westeurope"),
        Some(&100)
    );
    assert_eq!(s.totals.residency_violations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_is_auth_never_retried_never_sent_to_the_fallback() {
    use super::drills::{drill, ok, server};
    use super::support::outcome;
    for status in [401, 403] {
        let refused = wiremock::ResponseTemplate::new(status)
            .set_body_raw(r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}"#, "application/json");
        let p = server(None, refused).await;
        let b = server(None, ok()).await;
        let retry = "retry: { max_attempts: 3, backoff: { base: 10ms, max: 20ms } }\n";
        let (s, _d) = run(&drill(&p.uri(), &b.uri(), "", retry, 4)).await;
        assert_eq!(
            outcome(&s, "auth"),
            4,
            "{status}: {:?}",
            s.totals.by_outcome
        );
        assert_eq!(s.totals.attempts, 4, "{status}: not retried");
        assert_eq!(s.totals.fallbacks, 0, "{status}");
        assert_eq!(
            b.received_requests().await.unwrap().len(),
            0,
            "{status}: the fallback never sees it"
        );
    }
}

/// A CA made for the test, and certificates it signed: the server's (for `localhost`)
/// and a client's.
pub(super) struct Pki {
    pub(super) ca: String,
    pub(super) server: (String, String),
    pub(super) client: (String, String),
}

pub(super) fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "llm-drill test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf("localhost"),
        client: leaf("llm-drill-client"),
    }
}

/// An HTTPS endpoint on 127.0.0.1 answering every chat request with one OpenAI answer;
/// with `client_ca`, it requires a client certificate that CA signed. Counts the
/// requests it answered.
async fn tls_server(
    pki: &Pki,
    client_ca: bool,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::*};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server.0.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.server.1.as_bytes()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_ca {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
            .unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(AtomicU64::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    // One request: its head, then its body by Content-Length.
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap_or(0));
                    while buf.len() < end + 4 + len {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + len);
                    count.fetch_add(1, Ordering::Relaxed);
                    let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;
                    // One answer a connection: every call opens its own, so a proxy's
                    // tunnels count the calls.
                    let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                    let _ = tls.write_all(resp.as_bytes()).await;
                    let _ = tls.shutdown().await;
                    return;
                }
            });
        }
    });
    (port, served)
}

/// Four non-streaming calls to `url` with `tls` keys (a YAML flow mapping, or empty).
fn tls_scenario(url: &str, tls: &str) -> String {
    let tls = if tls.is_empty() {
        String::new()
    } else {
        format!("    tls: {tls}\n")
    };
    format!("name: tls\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: openai\n    base_url: {url}\n    model_name: gpt-4o\n    timeout: 5s\n{tls}features:\n  f:\n    endpoint: e\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_ca_is_trusted_only_when_given_and_failures_say_why() {
    use super::support::outcome;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();
    let (port, served) = tls_server(&pki, false).await;
    let url = format!("https://localhost:{port}");
    // Not trusted by Mozilla's roots nor the system's: refused as `tls`, unknown issuer.
    let (s, _d) = run(&tls_scenario(&url, "")).await;
    assert_failed(&s, "tls", 4, "unknown issuer");
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 0);
    // With its CA: served.
    let with_ca = format!("{{ ca_file: {} }}", ca.display());
    let (s, _d) = run(&tls_scenario(&url, &with_ca)).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 4);
    // Reached by IP, the certificate (for localhost) does not match...
    let by_ip = format!("https://127.0.0.1:{port}");
    let (s, _d) = run(&tls_scenario(&by_ip, &with_ca)).await;
    assert_failed(&s, "tls", 4, "name mismatch");
    // ...unless the name to verify is given.
    let named = format!("{{ ca_file: {}, server_name: localhost }}", ca.display());
    let (s, _d) = run(&tls_scenario(&by_ip, &named)).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_requires_a_client_certificate_gets_one() {
    use super::support::outcome;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = (
        dir.path().join("ca.pem"),
        dir.path().join("client.pem"),
        dir.path().join("client.key"),
    );
    std::fs::write(&ca, &pki.ca).unwrap();
    std::fs::write(&cert, &pki.client.0).unwrap();
    std::fs::write(&key, &pki.client.1).unwrap();
    let (port, served) = tls_server(&pki, true).await;
    let url = format!("https://localhost:{port}");
    let (s, _d) = run(&tls_scenario(
        &url,
        &format!("{{ ca_file: {} }}", ca.display()),
    ))
    .await;
    assert_failed(&s, "tls", 4, "client certificate");
    let mtls = format!(
        "{{ ca_file: {}, client_cert: {}, client_key_ref: file:{} }}",
        ca.display(),
        cert.display(),
        key.display()
    );
    let (s, _d) = run(&tls_scenario(&url, &mtls)).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 4);
}

#[test]
fn validate_refuses_unreadable_or_unparsable_pem_at_its_key() {
    use super::support::{llm_drill, scenario};
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    for (tls, expect) in [
        (
            format!("{{ ca_file: {} }}", bad.display()),
            "endpoints.e.tls.ca_file: ",
        ),
        (
            "{ ca_file: /nonexistent/ca.pem }".to_string(),
            "cannot read /nonexistent/ca.pem",
        ),
        (
            format!(
                "{{ client_cert: {0}, client_key_ref: file:{0} }}",
                bad.display()
            ),
            "endpoints.e.tls.client_cert: ",
        ),
    ] {
        let s = scenario(&tls_scenario("https://llm.internal.example", &tls));
        let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(expect), "expected `{expect}` in {err}");
    }
    let s = scenario(&tls_scenario(
        "https://llm.internal.example",
        &format!("{{ client_cert: {} }}", bad.display()),
    ));
    let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("needs both client_cert and client_key_ref"),
        "{err}"
    );
}

/// An HTTP proxy on 127.0.0.1 that opens `CONNECT` tunnels, counting them; with
/// `password`, it wants `Proxy-Authorization: Basic` for `alice:<password>` and answers
/// 407 without it.
pub(super) async fn connect_proxy(
    password: Option<&'static str>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use base64::Engine;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = std::sync::Arc::new(AtomicU64::new(0));
    let count = tunnels.clone();
    let expected = password.map(|p| {
        format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("alice:{p}"))
        )
    });
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (count, expected) = (count.clone(), expected.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                if let Some(rest) = target.strip_prefix("http://") {
                    // Plain http comes in absolute form: forward it, then close.
                    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    if client.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(authority).await else {
                        return;
                    };
                    count.fetch_add(1, Ordering::Relaxed);
                    let mut forwarded = format!("POST /{path} HTTP/1.1\r\n");
                    for line in head.lines().skip(1).filter(|l| !l.is_empty()) {
                        let lower = line.to_ascii_lowercase();
                        if !lower.starts_with("proxy-authorization")
                            && !lower.starts_with("connection")
                        {
                            forwarded.push_str(line);
                            forwarded.push_str("\r\n");
                        }
                    }
                    forwarded.push_str("connection: close\r\n\r\n");
                    let _ = upstream.write_all(forwarded.as_bytes()).await;
                    let _ = upstream.write_all(&body).await;
                    let mut answer = Vec::new();
                    let _ = upstream.read_to_end(&mut answer).await;
                    let _ = client.write_all(&answer).await;
                    return;
                }
                let auth = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("proxy-authorization:")
                        .map(|v| v.trim().to_string())
                });
                if expected.is_some()
                    && auth.as_ref().map(|a| a.to_ascii_lowercase())
                        != expected.as_ref().map(|e| e.to_ascii_lowercase())
                {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, tunnels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_the_proxy_in_a_connect_tunnel_and_its_refusals_are_its_own() {
    use super::support::outcome;
    use std::sync::atomic::Ordering;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();
    let (server, served) = tls_server(&pki, false).await;
    let (proxy, tunnels) = connect_proxy(None).await;
    let url = format!("https://localhost:{server}");
    let tls = format!(
        "{{ ca_file: {} }}\n    proxy: http://127.0.0.1:{proxy}",
        ca.display()
    );
    let (s, _d) = run(&tls_scenario(&url, &tls)).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    // TLS ran end to end through the tunnels: one a call, as the server closes each.
    assert_eq!(tunnels.load(Ordering::Relaxed), s.totals.attempts);
    assert_eq!(served.load(Ordering::Relaxed), 4);
    // A proxy that wants a password: 407 is the proxy's refusal, not the endpoint's.
    let (guarded, guarded_tunnels) = connect_proxy(Some("s3cret-proxy-pass")).await;
    let tls = format!(
        "{{ ca_file: {} }}\n    proxy: http://127.0.0.1:{guarded}",
        ca.display()
    );
    let (s, _d) = run(&tls_scenario(&url, &tls)).await;
    assert_failed(&s, "proxy", 4, "407");
    // With its credential, by reference.
    let pass = dir.path().join("proxy-pass");
    std::fs::write(&pass, "alice:s3cret-proxy-pass\n").unwrap();
    let tls = format!(
        "{{ ca_file: {} }}\n    proxy: http://127.0.0.1:{guarded}\n    proxy_credential_ref: file:{}",
        ca.display(),
        pass.display()
    );
    let (s, _d) = run(&tls_scenario(&url, &tls)).await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    assert_eq!(guarded_tunnels.load(Ordering::Relaxed), 4);
    // A proxy that is not there.
    let tls = format!(
        "{{ ca_file: {} }}\n    proxy: http://127.0.0.1:9",
        ca.display()
    );
    let (s, _d) = run(&tls_scenario(&url, &tls)).await;
    assert_eq!(outcome(&s, "proxy"), 4, "{:?}", s.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_proxy_is_honoured_no_proxy_bypasses_it_and_its_password_never_shows() {
    use std::sync::atomic::Ordering;
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();
    let (server, served) = tls_server(&pki, false).await;
    const PASSWORD: &str = "pr0xy-PASSWORD-never-printed";
    let (proxy, tunnels) = connect_proxy(Some(PASSWORD)).await;
    let s = super::support::scenario(&tls_scenario(
        &format!("https://localhost:{server}"),
        &format!("{{ ca_file: {} }}", ca.display()),
    ));
    let results = dir.path().join("out");
    let run = |no_proxy: &str| {
        let out = std::process::Command::new(super::support::BIN)
            .args(["run", "--no-progress", "--out"])
            .arg(&results)
            .arg(&s.path)
            .env(
                "HTTPS_PROXY",
                format!("http://alice:{PASSWORD}@127.0.0.1:{proxy}"),
            )
            .env("NO_PROXY", no_proxy)
            .output()
            .unwrap();
        let mut bytes = out.stdout.clone();
        bytes.extend(&out.stderr);
        for f in std::fs::read_dir(&results).unwrap() {
            bytes.extend(std::fs::read(f.unwrap().path()).unwrap());
        }
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "the proxy's password appeared in the output"
        );
        out
    };
    let out = tokio::task::block_in_place(|| run("example.com"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        tunnels.load(Ordering::Relaxed),
        4,
        "through the proxy, with its password"
    );
    let out = tokio::task::block_in_place(|| run("localhost"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tunnels.load(Ordering::Relaxed), 4, "NO_PROXY bypassed it");
    assert_eq!(served.load(Ordering::Relaxed), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_goes_through_the_proxy_in_absolute_form() {
    use super::support::outcome;
    use std::sync::atomic::Ordering;
    let upstream = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#,
            "application/json",
        ))
        .mount(&upstream)
        .await;
    let (proxy, forwarded) = connect_proxy(None).await;
    let (s, _d) = run(&tls_scenario(&upstream.uri(), "").replace(
        "    timeout: 5s\n",
        &format!("    timeout: 5s\n    proxy: http://127.0.0.1:{proxy}\n"),
    ))
    .await;
    assert_eq!(outcome(&s, "ok"), 4, "{:?}", s.errors);
    assert_eq!(forwarded.load(Ordering::Relaxed), 4);
    assert_eq!(upstream.received_requests().await.unwrap().len(), 4);
}

/// A mock that accepts key `old` until `old_until` and `new` from `new_from`, reached
/// with the key in `file`, 10 calls a second for 4 s.
fn rotation(file: &std::path::Path, old_until: &str, new_from: &str) -> String {
    format!("name: rotation\nseed: 3\nduration: 4s\ngraceful_stop: 10s\nendpoints:\n  g:\n    provider: azure_openai\n    base_url: mock\n    deployment: d\n    model_name: gpt-4o\n    auth_type: api_key\n    credential_ref: file:{}\n    mock:\n      ttft: 5ms\n      tokens_per_second: 2000\n      jitter: 0\n      auth:\n        keys:\n          - {{ key_ref: file:{dir}/old, until: {old_until} }}\n          - {{ key_ref: file:{dir}/new, from: {new_from} }}\nfeatures:\n  f:\n    endpoint: g\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 10 }}\n", file.display(), dir = file.parent().unwrap().display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_on_disk_takes_effect_and_the_overlap_is_what_saves_the_calls() {
    use super::support::outcome;
    let dir = tempfile::tempdir().unwrap();
    // The mock's keys, by reference like any secret.
    std::fs::write(dir.path().join("old"), "old-key-0001").unwrap();
    std::fs::write(dir.path().join("new"), "new-key-0002").unwrap();
    let key = dir.path().join("key");
    let rotate = |at_ms: u64| {
        let key = key.clone();
        std::fs::write(&key, "old-key-0001\n").unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(at_ms)).await;
            std::fs::write(&key, "new-key-0002\n").unwrap();
        })
    };
    // Both keys are valid for the whole run (old until 10 s, new from 0 s); the file is
    // rotated about halfway: no call fails, and every call made with the old key while
    // the new one was valid is one the overlap saved.
    let writer = rotate(2500);
    let (s, _d) = run(&rotation(&key, "10s", "0s")).await;
    writer.await.unwrap();
    let m = &s.mock_server["g"];
    assert_eq!(
        (s.totals.calls, outcome(&s, "ok")),
        (40, 40),
        "{:?}",
        s.errors
    );
    assert_eq!(m.auth_refused, 0);
    assert!(
        (1..40).contains(&m.auth_overlap),
        "both keys were used: {m:?}"
    );
    // No overlap: the old key ends when the new one starts, at 0.5 s, and the file
    // still changes later. The calls in between fail as `auth`, exactly the mock's 401s.
    let writer = rotate(2500);
    let (s, _d) = run(&rotation(&key, "500ms", "500ms")).await;
    writer.await.unwrap();
    let m = &s.mock_server["g"];
    let refused = outcome(&s, "auth");
    assert!(refused >= 5, "{:?}", s.totals.by_outcome);
    assert_eq!(refused, m.auth_refused);
    assert_eq!(m.by_status.get(&401), Some(&refused));
    assert_eq!(outcome(&s, "ok") + refused, 40);
    assert!(
        s.errors.iter().any(|e| e.message.contains("Access denied")),
        "{:?}",
        s.errors
    );
    assert_eq!(m.auth_overlap, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_that_expire_every_second_are_refreshed_before_they_do() {
    use super::support::outcome;
    // A standalone mock with its token endpoint: tokens live 1 s.
    let h = mock_server::spawn(mock_server::MockConfig {
        oauth2_token_lifetime: Some(std::time::Duration::from_secs(1)),
        latency: mock_server::LatencyModel {
            ttft: mock_server::Spread::fixed(std::time::Duration::from_millis(5)),
            tokens_per_second: 2000.0,
            jitter: 0.0,
            prefill_tokens_per_second: 0.0,
        },
        ..mock_server::MockConfig::default()
    })
    .await
    .unwrap();
    h.start_clock(std::time::Instant::now());
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "oauth-client-secret-0003\n").unwrap();
    let url = h.base_url();
    let yaml = format!("name: oauth\nseed: 2\nduration: 8s\nendpoints:\n  e:\n    provider: azure_openai\n    base_url: {url}\n    deployment: d\n    model_name: gpt-4o\n    auth_type: oauth2\n    oauth2: {{ token_url: {url}/oauth2/token, client_id: llm-drill, client_secret_ref: file:{}, scope: https://cognitiveservices.azure.com/.default }}\nfeatures:\n  f:\n    endpoint: e\n    stream: true\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 10 }}\n", secret.display());
    let (s, _d) = run(&yaml).await;
    let truth = h.stats();
    assert_eq!(
        (s.totals.calls, outcome(&s, "ok")),
        (80, 80),
        "{:?}",
        s.errors
    );
    assert_eq!((outcome(&s, "auth"), truth.auth_refused), (0, 0));
    // The first token, then one every 0.8 s of the 8 s: about 11.
    let auth = s.endpoints["e"]
        .auth
        .as_ref()
        .expect("an OAuth endpoint reports its tokens");
    assert!((9..=13).contains(&auth.token_requests), "{auth:?}");
    assert_eq!(auth.token_requests, truth.tokens_issued);
    assert_eq!(auth.token_failures, 0);
    h.shutdown().await;
}

#[test]
fn validate_refuses_an_oauth_endpoint_without_its_token_url() {
    use super::support::{llm_drill, scenario};
    let base = "name: o\nduration: 1s\nendpoints:\n  e:\n    provider: openai\n    base_url: https://llm.example.com\n    model_name: gpt-4o\n    auth_type: oauth2\nOAUTH\nfeatures:\n  f:\n    endpoint: e\n    prompt: { user_tokens: 8 }\nload: { rate: 1 }\n";
    for (oauth, expect) in [
        ("", "endpoints.e.auth_type: oauth2 needs an `oauth2:"),
        ("    oauth2: { token_url: not-a-url, client_id: x, client_secret_ref: env:S }", "endpoints.e.oauth2.token_url: expected an http(s) URL"),
        ("    oauth2: { token_url: https://login.example.com/t, client_id: x, client_secret_ref: hunter2 }", "oauth2.client_secret_ref: expected env:NAME, file:PATH or exec:COMMAND"),
    ] {
        let s = scenario(&base.replace("OAUTH\n", &format!("{oauth}\n")).replace("\n\n", "\n"));
        let (code, _, err) = llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(expect), "expected `{expect}` in {err}");
        assert!(!err.contains("hunter2"), "a secret written inline is never echoed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_credential_runs_its_command_and_again_before_the_token_expires() {
    use super::support::outcome;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The command prints a token that lives 1 s, as `az account get-access-token -o
    // json` prints one that lives an hour; each run is counted.
    std::fs::write(
        dir.path().join("token.sh"),
        format!("echo run >> {d}/runs\nprintf '{{\"accessToken\": \"exec-token-0004\", \"expires_in\": 1, \"tokenType\": \"Bearer\"}}'\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("accepted"), "exec-token-0004").unwrap();
    let yaml = format!("name: exec\nseed: 2\nduration: 4s\nendpoints:\n  e:\n    provider: azure_openai\n    base_url: mock\n    deployment: d\n    model_name: gpt-4o\n    auth_type: bearer\n    credential_ref: exec:sh {d}/token.sh\n    mock:\n      ttft: 5ms\n      auth: {{ keys: [ {{ key_ref: file:{d}/accepted }} ] }}\nfeatures:\n  f:\n    endpoint: e\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 5 }}\n");
    let (s, _d) = run(&yaml).await;
    assert_eq!(
        (s.totals.calls, outcome(&s, "ok")),
        (20, 20),
        "{:?}",
        s.errors
    );
    assert_eq!(s.mock_server["e"].auth_refused, 0);
    // Once at the start, then every 0.8 s of the 4 s run.
    let runs = std::fs::read_to_string(dir.path().join("runs"))
        .unwrap()
        .lines()
        .count();
    assert!((4..=7).contains(&runs), "{runs} runs of the command");
    // validate names the command it would run, and refuses one that cannot start.
    let s = super::support::scenario(&yaml);
    let (code, out, err) = super::support::llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("runs `sh "), "{out}");
    let s = super::support::scenario(&yaml.replace(
        &format!("exec:sh {d}/token.sh"),
        "exec:no-such-program-llm-drill --json",
    ));
    let (code, _, err) = super::support::llm_drill(&["validate".as_ref(), s.path.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("endpoints.e.credential_ref: cannot start `no-such-program-llm-drill`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_any_kind_appears_in_any_byte_of_output() {
    // An OAuth client secret and the tokens it buys, a client key, and an exec command's
    // token: none may show in stdout, stderr or the results folder, even in errors.
    const CLIENT_SECRET: &str = "oauth-client-SECRET-7731";
    const EXEC_TOKEN: &str = "exec-TOKEN-9120";
    let h = mock_server::spawn(mock_server::MockConfig {
        oauth2_token_lifetime: Some(std::time::Duration::from_millis(500)),
        ..mock_server::MockConfig::default()
    })
    .await
    .unwrap();
    h.start_clock(std::time::Instant::now());
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("secret"), CLIENT_SECRET).unwrap();
    std::fs::write(dir.path().join("exec-token"), EXEC_TOKEN).unwrap();
    std::fs::write(dir.path().join("client.key"), &pki.client.1).unwrap();
    std::fs::write(dir.path().join("client.pem"), &pki.client.0).unwrap();
    let url = h.base_url();
    let yaml = format!("name: leak\nseed: 2\nduration: 2s\nendpoints:\n  oauth:\n    provider: openai\n    base_url: {url}\n    model_name: gpt-4o\n    timeout: 5s\n    auth_type: oauth2\n    oauth2: {{ token_url: {url}/oauth2/token, client_id: c, client_secret_ref: file:{d}/secret }}\n  exec:\n    provider: openai\n    base_url: https://127.0.0.1:9\n    model_name: gpt-4o\n    timeout: 2s\n    auth_type: bearer\n    credential_ref: exec:cat {d}/exec-token\n    tls: {{ client_cert: {d}/client.pem, client_key_ref: file:{d}/client.key }}\nfeatures:\n  a:\n    endpoint: oauth\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\n  b:\n    endpoint: exec\n    stream: false\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 4\nload: {{ rate: 4 }}\n");
    let s = super::support::scenario(&yaml);
    let results = dir.path().join("out");
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(super::support::BIN)
            .args(["run", "--no-progress", "--out"])
            .arg(&results)
            .arg(&s.path)
            .output()
            .unwrap()
    });
    let mut bytes = out.stdout.clone();
    bytes.extend(&out.stderr);
    for f in std::fs::read_dir(&results).unwrap() {
        bytes.extend(std::fs::read(f.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("calls"), "the run wrote its results: {text}");
    let key_body: String = pki.client.1.lines().nth(1).unwrap().to_string();
    for (what, secret) in [
        ("the OAuth client secret", CLIENT_SECRET),
        ("an OAuth token", "mock-token-"),
        ("the exec command's token", EXEC_TOKEN),
        ("the client key", key_body.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} appeared in the output");
    }
    assert!(
        h.stats().tokens_issued >= 2,
        "tokens were bought and refreshed"
    );
    h.shutdown().await;
}
