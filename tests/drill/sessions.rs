//! Conversations against the mock's own counts: every turn's prompt is exactly the plan's
//! arithmetic (system + context(k) + history + user), the same seed sends byte-identical
//! requests, and refused turns (budget, context window) send nothing and end the session.

use super::support::{outcome, run};
use llm_drill::report::Summary;
use mock_server::tokens::Encoding;

/// `sessions` six-turn conversations on gpt-4o (o200k_base) with fixed sizes: system 100,
/// context 300 growing by x1.5 + 200 per turn, user 20, answers of 10 tokens.
fn six_turns(seed: u64, stream: bool, extra_feature: &str, extra_endpoint: &str) -> String {
    format!(
        "name: turns\nseed: {seed}\nduration: 1s\ngraceful_stop: 20s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    mock: {{ ttft: 5ms, tokens_per_second: 2000, jitter: 0 }}\n{extra_endpoint}features:\n  rag:\n    endpoint: m\n    stream: {stream}\n    session: {{ turns: 6, think_time: {{ min: 5ms, max: 30ms }} }}\n    prompt:\n      system_tokens: 100\n      user_tokens: 20\n      context_tokens: {{ start: 300, growth_per_turn: 200, growth_factor: 1.5 }}\n    output_tokens: 10\n{extra_feature}load: {{ arrival: poisson, rate: 6 }}\n"
    )
}

/// The plan's arithmetic for turn `k`, by OpenAI's recipe: 3 tokens per message plus its
/// role, 3 to prime the reply; the context is a second system message.
fn expected_prompt(k: u32) -> u64 {
    let enc = Encoding::O200kBase;
    let frame = |role: &str| 3 + enc.count(role) as u64;
    let mut context = 300.0_f64;
    for _ in 1..k {
        context = context * 1.5 + 200.0;
    }
    let history = (k as u64 - 1) * (frame("user") + 20 + frame("assistant") + 10);
    (frame("system") + 100)
        + (frame("system") + context.round() as u64)
        + history
        + (frame("user") + 20)
        + 3
}

fn turn_rows(s: &Summary, feature: &str) -> Vec<(u32, u64, u64, f64)> {
    s.features[feature]
        .turns
        .iter()
        .map(|t| (t.turn, t.calls, t.ok, t.mean_input_tokens))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_sends_exactly_the_planned_prompt() {
    for stream in [true, false] {
        let (s, _dir) = run(&six_turns(3, stream, "", "")).await;
        let truth = &s.mock_server["m"];
        let sessions = s.totals.sessions;
        assert!(sessions >= 2, "{:?}", s.totals);
        assert_eq!(s.features["rag"].sessions, sessions);
        assert_eq!(
            s.totals.calls,
            6 * sessions,
            "every session ran its 6 turns"
        );
        assert_eq!(truth.requests, 6 * sessions);
        assert_eq!(outcome(&s, "ok"), 6 * sessions);
        let rows = turn_rows(&s, "rag");
        assert_eq!(rows.len(), 6);
        let mut total = 0;
        for (k, calls, ok, mean_input) in rows {
            // Every session's turn k has the same size, so the mean is exact.
            assert_eq!((calls, ok), (sessions, sessions), "turn {k}");
            assert_eq!(
                mean_input,
                expected_prompt(k) as f64,
                "turn {k}, stream {stream}"
            );
            total += sessions * expected_prompt(k);
        }
        // The mock counted what it received with its own tokenizer pass.
        assert_eq!(truth.prompt_tokens, total, "stream {stream}");
        assert_eq!(s.totals.input_tokens, total);
        assert_eq!(truth.completion_tokens, 10 * 6 * sessions);
        assert_eq!(s.totals.input_token_ratio, Some(1.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_sends_byte_identical_requests() {
    let digest = |s: &Summary| s.mock_server["m"].request_digest.clone();
    let (a, _d1) = run(&six_turns(11, true, "", "")).await;
    let (b, _d2) = run(&six_turns(11, true, "", "")).await;
    let (c, _d3) = run(&six_turns(12, true, "", "")).await;
    assert_eq!(a.mock_server["m"].requests, b.mock_server["m"].requests);
    assert!(a.mock_server["m"].requests > 0);
    assert_eq!(digest(&a), digest(&b), "same seed, same bodies");
    assert_ne!(digest(&a), digest(&c), "another seed, other bodies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_turns_send_nothing_and_end_their_session() {
    // Turn 3 of `budgeted` would pass its budget: turns 1-2 use 2 x (prompt + 10) of it.
    let budget = expected_prompt(1) + expected_prompt(2) + 20 + expected_prompt(3);
    // A second endpoint whose window turn 4's prompt and answer no longer fit.
    let window = expected_prompt(4) + 10 - 1;
    let extra_feature = format!(
        "  budgeted:\n    endpoint: m\n    stream: true\n    session: {{ turns: 6 }}\n    prompt:\n      system_tokens: 100\n      user_tokens: 20\n      context_tokens: {{ start: 300, growth_per_turn: 200, growth_factor: 1.5 }}\n    output_tokens: 10\n    token_budget: {budget}\n  windowed:\n    endpoint: small\n    stream: false\n    session: {{ turns: 6 }}\n    prompt:\n      system_tokens: 100\n      user_tokens: 20\n      context_tokens: {{ start: 300, growth_per_turn: 200, growth_factor: 1.5 }}\n    output_tokens: 10\n"
    );
    let small = format!(
        "  small:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    max_context_tokens: {window}\n    mock: {{ ttft: 5ms, tokens_per_second: 2000 }}\n"
    );
    let (s, _dir) = run(&six_turns(5, true, &extra_feature, &small)).await;

    let b = &s.features["budgeted"];
    assert!(b.sessions >= 1, "{:?}", s.totals);
    assert_eq!(b.turns.len(), 3, "no session went past its refused turn");
    assert_eq!(b.turns[2].calls, b.sessions);
    assert_eq!(b.turns[2].failed["budget_exceeded"], b.sessions);
    assert_eq!(b.by_outcome["budget_exceeded"], b.sessions);

    let w = &s.features["windowed"];
    assert!(w.sessions >= 1, "{:?}", s.totals);
    assert_eq!(w.turns.len(), 4);
    assert_eq!(w.turns[3].failed["context_overflow"], w.sessions);
    assert_eq!(s.endpoints["small"].attempts, 3 * w.sessions);

    // Nothing was sent for a refused turn: the mocks saw only the turns that went out.
    let rag = s.features["rag"].calls;
    assert_eq!(s.mock_server["m"].requests, rag + 2 * b.sessions);
    assert_eq!(s.mock_server["small"].requests, 3 * w.sessions);
    assert_eq!(
        outcome(&s, "budget_exceeded") + outcome(&s, "context_overflow"),
        b.sessions + w.sessions
    );
    assert_eq!(s.totals.attempts, s.totals.calls - b.sessions - w.sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_prefill_the_mock_starts_longer_prompts_later() {
    // 20,000 prompt tokens a second: turn k's first token comes input(k) / 20,000 s
    // after the mock's fixed 5 ms.
    let yaml = "name: prefill\nseed: 2\nduration: 1s\nendpoints:\n  m:\n    provider: openai\n    base_url: mock\n    model_name: gpt-4o\n    mock: { ttft: 5ms, tokens_per_second: 2000, jitter: 0, prefill_tokens_per_second: 20000 }\nfeatures:\n  rag:\n    endpoint: m\n    session: { turns: 3 }\n    prompt: { user_tokens: 20, context_tokens: { start: 2000, growth_per_turn: 4000 } }\n    output_tokens: 5\nload: { rate: 3 }\n";
    let (s, _dir) = run(yaml).await;
    let turns = &s.features["rag"].turns;
    assert_eq!(turns.len(), 3);
    // Never early; late only by what a shared machine adds, far less than the 200 ms
    // between one turn's prefill and the next one's (a bound of 15 ms over the floor for
    // the slowest call flaked on a loaded machine).
    for t in turns {
        let floor = 5.0 + t.mean_input_tokens / 20.0;
        assert!(
            t.ttft_ms.p50 >= floor
                && t.ttft_ms.p50 <= floor + 30.0
                && t.ttft_ms.max <= floor + 100.0,
            "turn {}: {} tokens, ttft {:?}",
            t.turn,
            t.mean_input_tokens,
            t.ttft_ms
        );
    }
}
