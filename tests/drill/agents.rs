//! Agentic playbooks (issue 21): a user turn that loops through tool calls. Against the
//! mock, every round is a call the mock counted, and each round's prompt grows by the
//! tool call and its result exactly; against wiremock, each provider's tool definitions,
//! tool calls and tool results are sent in its own format.

use super::support::{outcome, run};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One feature of `provider` on the mock with `rounds` per user turn and `turns` turns.
fn playbook(provider: &str, stream: bool, rounds: u32, turns: u32) -> String {
    let model = if provider == "anthropic" {
        "claude-sonnet-4-5"
    } else {
        "gpt-4o"
    };
    let deployment = if provider == "azure_openai" {
        "    deployment: agents\n"
    } else {
        ""
    };
    format!("name: agents\nseed: 8\nduration: 2s\ngraceful_stop: 20s\nendpoints:\n  m:\n    provider: {provider}\n    base_url: mock\n    model_name: {model}\n{deployment}    supports_tools: true\n    mock: {{ ttft: 5ms, tokens_per_second: 3000, jitter: 0 }}\nfeatures:\n  f:\n    endpoint: m\n    stream: {stream}\n    session: {{ turns: {turns} }}\n    tools: {{ rounds: {rounds}, result_tokens: 100, definitions_tokens: 50 }}\n    prompt: {{ system_tokens: 30, user_tokens: 20 }}\n    output_tokens: 12\nload: {{ rate: 2 }}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_round_is_a_call_the_mock_counted_and_prompts_grow_exactly() {
    for provider in ["openai", "azure_openai", "anthropic"] {
        for stream in [true, false] {
            let (s, _d) = run(&playbook(provider, stream, 3, 2)).await;
            let what = format!("{provider} stream {stream}");
            let truth = &s.mock_server["m"];
            let f = &s.features["f"];
            // 4 sessions x 2 user turns x 3 rounds.
            assert_eq!(
                (f.sessions, s.totals.calls),
                (4, 24),
                "{what}: {:?}",
                s.errors
            );
            assert_eq!(outcome(&s, "ok"), 24, "{what}");
            assert_eq!(truth.requests, 24, "{what}: the mock saw every round");
            assert_eq!(f.calls_per_user_turn, 3.0, "{what}");
            assert_eq!(
                f.finish_reasons.get("tool_calls"),
                Some(&16),
                "{what}: {:?}",
                f.finish_reasons
            );
            assert_eq!(f.finish_reasons.get("stop"), Some(&8), "{what}");
            assert_eq!(s.totals.input_tokens, truth.prompt_tokens, "{what}");
            assert_eq!(s.totals.output_tokens, truth.completion_tokens, "{what}");
            assert_eq!(
                s.totals.input_token_ratio,
                Some(1.0),
                "{what}: prompts as planned"
            );
            // By hand: round 1 is the system prompt (30 + 4), the user message (20 + 4),
            // the reply priming (3) and the tool's description (50): 111. Each later
            // round adds the tool call (4 framing + its 12-token arguments) and the
            // result (4 framing + 100): 120.
            let t1 = &f.turns[0];
            let prompts: Vec<f64> = t1.rounds.iter().map(|r| r.mean_input_tokens).collect();
            assert_eq!(prompts, [111.0, 231.0, 351.0], "{what}");
            // Turn 2 resends turn 1's request and final answer (20 + 4 and 12 + 4), not
            // its tool rounds.
            let t2: Vec<f64> = f.turns[1]
                .rounds
                .iter()
                .map(|r| r.mean_input_tokens)
                .collect();
            assert_eq!(t2, [151.0, 271.0, 391.0], "{what}");
        }
    }
}

const OPENAI_TOOL_CALL: &str = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function","function":{"name":"search_knowledge_base","arguments":"{\"query\":\"disk full\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":9}}"#;
const OPENAI_ANSWER: &str = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Clear the logs."},"finish_reason":"stop"}],"usage":{"prompt_tokens":90,"completion_tokens":4}}"#;
const ANTHROPIC_TOOL_USE: &str = r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"search_knowledge_base","input":{"query":"disk full"}}],"stop_reason":"tool_use","usage":{"input_tokens":50,"output_tokens":9}}"#;
const ANTHROPIC_ANSWER: &str = r#"{"id":"msg_2","type":"message","role":"assistant","content":[{"type":"text","text":"Clear the logs."}],"stop_reason":"end_turn","usage":{"input_tokens":90,"output_tokens":4}}"#;

/// The two requests of a two-round turn against an endpoint that calls the tool once.
async fn two_rounds(provider: &str, tool_call: &str, answer: &str) -> Vec<serde_json::Value> {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(tool_call, "application/json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(answer, "application/json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let model = if provider == "anthropic" {
        "claude-sonnet-4-5"
    } else {
        "gpt-4o"
    };
    let yaml = format!("name: a\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: {provider}\n    base_url: {}\n    model_name: {model}\n    supports_tools: true\nfeatures:\n  f:\n    endpoint: e\n    stream: false\n    tools: {{ rounds: 3, result_tokens: 20, definitions_tokens: 30 }}\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 16\nload: {{ rate: 1 }}\n", server.uri());
    let (s, _d) = run(&yaml).await;
    assert_eq!(
        (s.totals.calls, outcome(&s, "ok")),
        (2, 2),
        "{provider}: the answer ends the turn: {:?}",
        s.errors
    );
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_provider_gets_tools_calls_and_results_in_its_own_format() {
    let reqs = two_rounds("openai", OPENAI_TOOL_CALL, OPENAI_ANSWER).await;
    let tool = &reqs[0]["tools"][0];
    assert_eq!(tool["type"], "function", "{tool}");
    assert_eq!(tool["function"]["name"], "search_knowledge_base");
    assert_eq!(tool["function"]["parameters"]["required"][0], "query");
    let m = reqs[1]["messages"].as_array().unwrap();
    let (call, result) = (&m[m.len() - 2], &m[m.len() - 1]);
    assert_eq!(call["role"], "assistant", "{call}");
    assert!(call.get("content").is_none(), "{call}");
    assert_eq!(call["tool_calls"][0]["id"], "call_abc");
    assert_eq!(
        call["tool_calls"][0]["function"]["arguments"],
        r#"{"query":"disk full"}"#
    );
    assert_eq!(result["role"], "tool", "{result}");
    assert_eq!(result["tool_call_id"], "call_abc");
    assert!(!result["content"].as_str().unwrap().is_empty());
    assert_eq!(
        reqs[1]["tools"], reqs[0]["tools"],
        "every round offers the tool"
    );

    let reqs = two_rounds("anthropic", ANTHROPIC_TOOL_USE, ANTHROPIC_ANSWER).await;
    let tool = &reqs[0]["tools"][0];
    assert_eq!(tool["name"], "search_knowledge_base", "{tool}");
    assert_eq!(tool["input_schema"]["type"], "object");
    let m = reqs[1]["messages"].as_array().unwrap();
    let (call, result) = (&m[m.len() - 2], &m[m.len() - 1]);
    assert_eq!(call["role"], "assistant", "{call}");
    assert_eq!(
        call["content"][0],
        serde_json::json!({ "type": "tool_use", "id": "toolu_01", "name": "search_knowledge_base", "input": { "query": "disk full" } })
    );
    assert_eq!(result["role"], "user", "{result}");
    assert_eq!(result["content"][0]["type"], "tool_result");
    assert_eq!(result["content"][0]["tool_use_id"], "toolu_01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_endpoint_decides_when_the_loop_ends() {
    // An endpoint that answers at once: one call per user turn, whatever `rounds` allows.
    let (s, _d) = {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(OPENAI_ANSWER, "application/json"),
            )
            .mount(&server)
            .await;
        let yaml = format!("name: a\nseed: 1\nduration: 1s\nendpoints:\n  e:\n    provider: openai\n    base_url: {}\n    model_name: gpt-4o\n    supports_tools: true\nfeatures:\n  f:\n    endpoint: e\n    stream: false\n    tools: {{ rounds: 5, result_tokens: 20 }}\n    prompt: {{ user_tokens: 8 }}\n    output_tokens: 16\nload: {{ rate: 3 }}\n", server.uri());
        run(&yaml).await
    };
    assert_eq!(
        (s.totals.calls, s.features["f"].calls_per_user_turn),
        (3, 1.0)
    );
}
