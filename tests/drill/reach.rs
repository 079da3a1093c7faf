//! Reaching real endpoints as they are deployed (issue 12): where each call was really
//! served, from Azure's `x-ms-region`, counted as the mock counted it, and a call served
//! outside its feature's residency counted as an observed violation even when the
//! endpoint's declared region is inside.

use super::support::run;

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
