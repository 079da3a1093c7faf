//! Synthetic LLM traffic, all derived from the seed: which feature each conversation
//! belongs to, how many turns it has, prompts of exact token counts built from a shipped
//! corpus, context that grows turn by turn, and the history each turn resends.
//!
//! A `Session` is one conversation. Its turns are built one at a time by `next_call`,
//! before the turn's intended start (never inside the timed region), and each finished
//! turn is folded back with `answered`, which adds the answer the endpoint actually gave
//! to the history. Sessions hold sizes and answers only: texts that can be rebuilt from
//! the seed (the user's earlier messages, the context) are rebuilt per turn, so 50,000
//! conversations waiting in think time stay small.

pub mod text;

pub use text::PromptText;

use crate::plan::replay::Trace;
use crate::plan::{FeaturePlan, LoadPlan, Plan, Sampler};
use mock_server::tokens::{Encoding, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE};
use rand::{Rng, SeedableRng};
// PCG: seeding one per turn and stream costs nanoseconds, where ChaCha costs a block.
use rand_pcg::Pcg64Mcg as TurnRng;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, given back to the model.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    /// The text; for a tool call, its arguments (JSON).
    pub content: Arc<str>,
    /// The model's tool call (an assistant message), or the id of the call a tool
    /// message answers.
    pub tool: Option<ToolPart>,
}

impl Message {
    pub fn text(role: Role, content: Arc<str>) -> Message {
        Message {
            role,
            content,
            tool: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToolPart {
    /// The call the model made: its id and the tool's name.
    Call { id: Arc<str>, name: Arc<str> },
    /// The result of the call with this id.
    Result { id: Arc<str> },
}

/// A tool call as a model made it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON, as the model wrote it.
    pub arguments: String,
}

/// The one tool an agentic feature offers.
pub const TOOL_NAME: &str = "search_knowledge_base";

/// One call (one turn of a conversation), ready for a client to turn into a request.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    pub feature: usize,
    pub endpoint: usize,
    /// 1 for a conversation's first turn.
    pub turn: u32,
    /// System prompt, retrieved context (a second system message), the history, then
    /// the new user message.
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub stream: bool,
    /// Prompt tokens as the endpoint should count them (OpenAI's chat recipe).
    pub input_tokens: u32,
    /// The answer's text is needed: a later turn resends it.
    pub keep_answer: bool,
    /// Tokens the conversation may still use, when it has a budget.
    pub budget_left: Option<u64>,
    /// Seeds the jitter of this call's retries: the same scenario seed gives the same
    /// retry schedule against a deterministic endpoint.
    pub retry_seed: u64,
    /// What its feature asks a reasoning model for.
    pub reasoning: crate::plan::feature::Reasoning,
    /// Its round within its user turn, from 1 (an agentic feature's tool-calling loop).
    pub round: u32,
    /// Rounds the user turn may still take after this one (0: this answer is final).
    pub rounds_left: u32,
    /// The description of the tool offered (its size is `tools.definitions_tokens`),
    /// for agentic features.
    pub tools: Option<Arc<str>>,
    /// Side by side: which copy this is, and its pairing.
    pub pair: Option<Pair>,
}

/// Which copy of a side-by-side call this is, and what pairs it with the others: the
/// conversation, turn and round they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    pub key: u64,
    pub turn: u32,
    pub round: u32,
    /// Its endpoint's place in `side_by_side.endpoints` (0: the baseline).
    pub copy: u8,
}

/// What a finished turn gives back to its conversation.
#[derive(Debug, Default)]
pub struct Answer {
    pub ok: bool,
    /// The answer's text, when it was kept.
    pub text: Option<String>,
    /// Tokens the turn used, as the endpoint reported them (or as planned and counted).
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The tool the model called instead of answering.
    pub tool_call: Option<ToolCall>,
}

/// One conversation in progress.
#[derive(Debug)]
pub struct Session {
    pub feature: usize,
    pub endpoint: usize,
    key: u64,
    /// Turns the conversation will have if nothing ends it early.
    pub turns: u32,
    /// Turns started so far.
    pub started: u32,
    system_tokens: u32,
    /// Context tokens of the next turn (before drift), kept fractional so a growth
    /// factor compounds exactly.
    context: f64,
    /// The run's drift when the session began: prompt sizes are multiplied by it.
    drift: f64,
    history: Vec<Exchange>,
    /// Tokens of the history's messages, framing included.
    history_tokens: u32,
    /// Tokens used so far (prompts and answers), for the budget.
    pub used_tokens: u64,
    /// User tokens of the turn in flight.
    pending_user: u32,
    /// The user turn's rounds (agentic features), and the one in flight.
    rounds: u32,
    round: u32,
    /// The turn's tool calls and results so far, and their tokens, framing included.
    tool_messages: Vec<Message>,
    tool_tokens: u32,
    /// A replayed conversation (`key` is its index in the trace): its turns' sizes and
    /// times are the log's.
    replayed: bool,
    /// Side by side: its endpoint's place in `side_by_side.endpoints`.
    copy: Option<u8>,
}

impl Session {
    /// A conversation of `turns` turns before its first, with nothing sent yet.
    fn begin(feature: usize, endpoint: usize, key: u64, turns: u32) -> Session {
        Session {
            feature,
            endpoint,
            key,
            turns,
            started: 0,
            system_tokens: 0,
            context: 0.0,
            drift: 1.0,
            history: Vec::new(),
            history_tokens: 0,
            used_tokens: 0,
            pending_user: 0,
            rounds: 1,
            round: 1,
            tool_messages: Vec::new(),
            tool_tokens: 0,
            replayed: false,
            copy: None,
        }
    }
}

#[derive(Debug)]
struct Exchange {
    user_tokens: u32,
    answer: AnswerText,
    /// Its two messages' tokens, framing included.
    tokens: u32,
}

#[derive(Debug)]
enum AnswerText {
    /// What the endpoint returned.
    Text(Box<str>),
    /// The answer's text was not kept: corpus text of the same length stands in.
    Length(u32),
}

/// Per-role framing tokens of the chat recipe: 3 per message plus the role's own tokens.
#[derive(Clone, Copy, Debug)]
struct Framing {
    system: u32,
    user: u32,
    assistant: u32,
    /// A tool result's message: `tool` on OpenAI's wire, a user turn on Anthropic's.
    tool_result: u32,
}

struct FeatureWork {
    plan: FeaturePlan,
    encoding: Encoding,
    text: &'static PromptText,
    framing: Framing,
    /// Tokens the endpoint adds to every call (the reply's priming in OpenAI's recipe).
    priming: u32,
    /// The endpoint's count of text per token of the plan's tokenizer: 1 unless the
    /// endpoint was calibrated.
    ratio: f64,
    /// The description of the tool an agentic feature offers, built once.
    tools_text: Option<Arc<str>>,
    /// A fixed-size system prompt is the same text on every call of a feature, as a
    /// product's prompt template is; built once.
    fixed_system: Option<Arc<str>>,
}

/// Independent random streams of one conversation.
#[derive(Clone, Copy)]
enum Stream {
    Session = 1,
    Turn,
    UserText,
    AnswerText,
    Context,
    Think,
    Retry,
    Tools,
    ToolResult,
}

pub struct Workload {
    seed: u64,
    features: Vec<FeatureWork>,
    cumulative_weight: Vec<f64>,
    /// A replay's log: conversations come from it, not from the weights.
    trace: Option<Arc<Trace>>,
    /// Side by side: the endpoints compared, and whether every call goes to each.
    side: Option<crate::plan::SideBySidePlan>,
}

impl Workload {
    pub fn new(plan: &Plan) -> Workload {
        let mut total = 0.0;
        let cumulative_weight = plan
            .features
            .iter()
            .map(|f| {
                total += f.weight;
                total
            })
            .collect();
        let features = plan
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let endpoint = &plan.endpoints[f.endpoint];
                let encoding = endpoint.encoding;
                // Measures the corpus now, not on the first call of the run.
                let text = PromptText::get(encoding);
                let framing =
                    |role: Role| (TOKENS_PER_MESSAGE + encoding.count(role.as_str())) as u32;
                let mut work = FeatureWork {
                    plan: f.clone(),
                    encoding,
                    text,
                    framing: Framing {
                        system: framing(Role::System),
                        user: framing(Role::User),
                        assistant: framing(Role::Assistant),
                        tool_result: (TOKENS_PER_MESSAGE
                            + encoding.count(endpoint.provider.info().tool_result_role))
                            as u32,
                    },
                    priming: REPLY_PRIMING_TOKENS as u32,
                    ratio: 1.0,
                    fixed_system: None,
                    tools_text: None,
                };
                // A calibrated endpoint: its own overheads, and text sized so that its
                // count is the scenario's.
                if let Some(fit) = &endpoint.calibration {
                    let per_message = fit.per_message.round().max(0.0) as u32;
                    work.framing = Framing {
                        system: per_message,
                        user: per_message,
                        assistant: per_message,
                        tool_result: per_message,
                    };
                    work.priming = fit.per_call.round().max(0.0) as u32;
                    work.ratio = fit.ratio;
                }
                if let Some(t) = &f.tools {
                    let mut rng = TurnRng::seed_from_u64(mix(mix(plan.seed, 0x7001), i as u64));
                    work.tools_text =
                        Some(text.text(work.sized(t.definitions_tokens), &mut rng).into());
                }
                if let Sampler::Fixed(n) = f.system_tokens {
                    if n >= 1.0 {
                        work.fixed_system = Some(system_text(plan.seed, i, &work, n as u32));
                    }
                }
                work
            })
            .collect();
        Workload {
            seed: plan.seed,
            features,
            cumulative_weight,
            trace: match &plan.load {
                LoadPlan::Replay { replay, .. } => Some(replay.calls.clone()),
                _ => None,
            },
            side: plan.side_by_side.clone(),
        }
    }

    /// Copies of each arrival: one per compared endpoint in `mirror`, else one.
    pub fn copies(&self) -> usize {
        match &self.side {
            Some(s) if s.mirror => s.endpoints.len(),
            _ => 1,
        }
    }

    /// Conversation `key`, as copy `copy` (mirror) of it: the same conversation sent to
    /// the copy's endpoint. In `alternate` the key picks the endpoint, in turn.
    pub fn session_copy(&self, key: u64, since_start: Duration, copy: usize) -> Session {
        let mut s = self.session(key, since_start);
        if let Some(side) = &self.side {
            if s.endpoint == side.endpoints[0] {
                let copy = if side.mirror {
                    copy
                } else {
                    (key % side.endpoints.len() as u64) as usize
                };
                s.endpoint = side.endpoints[copy];
                s.copy = Some(copy as u8);
            }
        }
        s
    }

    /// The smallest prompt a request of feature `f` can have: a user message of one
    /// token, framed, and the reply's priming.
    pub fn min_prompt(encoding: Encoding) -> u32 {
        (REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE + encoding.count(Role::User.as_str()) + 1) as u32
    }

    /// Conversation `key` of a replayed log.
    fn replayed_session(&self, trace: &Trace, key: u64) -> Session {
        let c = &trace.conversations[key as usize];
        let endpoint = self.features[c.feature].plan.endpoint;
        Session {
            replayed: true,
            ..Session::begin(c.feature, endpoint, key, c.turns.len() as u32)
        }
    }

    /// A replayed conversation's next turn: how long after its first turn it starts
    /// (`None` for a synthetic conversation, whose turns follow think times).
    pub fn replay_offset(&self, s: &Session) -> Option<Duration> {
        let trace = self.trace.as_ref().filter(|_| s.replayed)?;
        let turns = &trace.conversations[s.key as usize].turns;
        Some(
            turns
                .get(s.started as usize)?
                .at
                .saturating_sub(turns[0].at),
        )
    }

    /// Conversation number `key` of the run (open mode: the arrival's index; closed
    /// mode: a per-worker sequence), begun `since_start` into the run. Identical for
    /// identical seeds, keys and start offsets.
    pub fn session(&self, key: u64, since_start: Duration) -> Session {
        if let Some(trace) = &self.trace {
            return self.replayed_session(trace, key);
        }
        let mut rng = self.rng(key, Stream::Session, 0);
        let total = *self.cumulative_weight.last().unwrap_or(&1.0);
        let pick = rng.random::<f64>() * total;
        let fi = self
            .cumulative_weight
            .iter()
            .position(|w| pick < *w)
            .unwrap_or(self.features.len() - 1);
        let f = &self.features[fi].plan;
        let drift = 1.0 + f.drift_per_minute * since_start.as_secs_f64() / 60.0;
        let turns = f.session.turns.sample_count(&mut rng).max(1);
        let system_tokens = f.system_tokens.sample_count(&mut rng);
        let context = f.context.as_ref().map_or(0.0, |c| c.start.sample(&mut rng));
        Session {
            system_tokens: scaled(system_tokens as f64, drift),
            context,
            drift,
            ..Session::begin(fi, f.endpoint, key, turns)
        }
    }

    /// Builds the session's next turn. Call only while `s.started < s.turns`.
    pub fn next_call(&self, s: &mut Session) -> CallSpec {
        let turn = s.started + 1;
        s.started = turn;
        s.tool_messages.clear();
        s.tool_tokens = 0;
        s.round = 1;
        if let Some(trace) = self.trace.as_ref().filter(|_| s.replayed) {
            return self.replay_call(trace, s, turn);
        }
        s.rounds = match &self.features[s.feature].plan.tools {
            Some(t) => t
                .rounds
                .sample_count(&mut self.rng(s.key, Stream::Tools, turn))
                .max(1),
            None => 1,
        };
        self.call(s, turn)
    }

    /// The next round of the user turn in flight, after the model called a tool: the
    /// call and a result of `tools.result_tokens` are added to the turn, and the model
    /// is called again. `None` when the turn has no round left.
    pub fn tool_round(&self, s: &mut Session, a: &Answer, call: ToolCall) -> Option<CallSpec> {
        if s.round >= s.rounds {
            return None;
        }
        s.used_tokens += a.input_tokens + a.output_tokens;
        let fw = &self.features[s.feature];
        let tools = fw.plan.tools.as_ref()?;
        let key = (s.started as u64) << 8 | s.round as u64;
        let mut rng = self.rng(s.key, Stream::ToolResult, key as u32);
        let result_tokens = tools.result_tokens.sample_count(&mut rng).max(1);
        let result = fw.text.text(fw.sized(result_tokens), &mut rng);
        let id: Arc<str> = call.id.into();
        s.tool_tokens += fw.framing.assistant
            + fw.counted(fw.encoding.count(&call.arguments))
            + fw.framing.tool_result
            + result_tokens;
        s.tool_messages.push(Message {
            role: Role::Assistant,
            content: call.arguments.into(),
            tool: Some(ToolPart::Call {
                id: id.clone(),
                name: call.name.into(),
            }),
        });
        s.tool_messages.push(Message {
            role: Role::Tool,
            content: result.into(),
            tool: Some(ToolPart::Result { id }),
        });
        s.round += 1;
        Some(self.call(s, s.started))
    }

    /// Turn `turn` of the session as it stands: its history, the turn's own messages
    /// and any tool rounds so far.
    fn call(&self, s: &mut Session, turn: u32) -> CallSpec {
        let fw = &self.features[s.feature];
        let f = &fw.plan;
        let (user_tokens, max_tokens) = self.turn_sizes(s, turn);
        let mut messages = Vec::with_capacity(3 + 2 * s.history.len());
        let mut input = fw.priming;
        if s.system_tokens > 0 {
            let text = match &fw.fixed_system {
                Some(t) if f.system_tokens.typical() as u32 == s.system_tokens => t.clone(),
                _ => system_text(self.seed, s.feature, fw, s.system_tokens),
            };
            messages.push(Message::text(Role::System, text));
            input += fw.framing.system + s.system_tokens;
        }
        let context_tokens = scaled(s.context, s.drift);
        if context_tokens > 0 {
            // The same stream every turn: a grown context extends the previous one, as
            // retrieval that adds documents does.
            let mut rng = self.rng(s.key, Stream::Context, 0);
            messages.push(Message::text(
                Role::System,
                fw.text.text(fw.sized(context_tokens), &mut rng).into(),
            ));
            input += fw.framing.system + context_tokens;
        }
        self.history(s, fw, 0, &mut messages);
        input += s.history_tokens;
        messages.push(Message::text(
            Role::User,
            self.user_text(s.key, turn, user_tokens, fw).into(),
        ));
        input += fw.framing.user + user_tokens;
        messages.extend(s.tool_messages.iter().cloned());
        input += s.tool_tokens;
        if fw.tools_text.is_some() {
            input += f.tools.as_ref().map_or(0, |t| t.definitions_tokens);
        }
        s.pending_user = user_tokens;
        CallSpec {
            feature: s.feature,
            endpoint: s.endpoint,
            turn,
            messages,
            max_tokens,
            stream: f.stream,
            input_tokens: input,
            keep_answer: turn < s.turns,
            budget_left: f.token_budget.map(|b| b.saturating_sub(s.used_tokens)),
            retry_seed: mix(
                mix(mix(self.seed, s.key), Stream::Retry as u64),
                turn as u64,
            ),
            reasoning: f.reasoning,
            round: s.round,
            rounds_left: s.rounds - s.round,
            tools: fw.tools_text.clone(),
            pair: pair(s, turn),
        }
    }

    /// The session's earlier exchanges from `from` on, in order: each user message
    /// rebuilt from the seed, each answer as returned (or corpus text of its length).
    fn history(&self, s: &Session, fw: &FeatureWork, from: usize, messages: &mut Vec<Message>) {
        for (j, ex) in s.history.iter().enumerate().skip(from) {
            let j = j as u32 + 1;
            messages.push(Message::text(
                Role::User,
                self.user_text(s.key, j, ex.user_tokens, fw).into(),
            ));
            let answer: Arc<str> = match &ex.answer {
                AnswerText::Text(t) => Arc::from(&**t),
                AnswerText::Length(n) => {
                    let mut rng = self.rng(s.key, Stream::AnswerText, j);
                    fw.text.text(fw.sized(*n), &mut rng).into()
                }
            };
            messages.push(Message::text(Role::Assistant, answer));
        }
    }

    /// Turn `turn` of a replayed conversation: the history resent in order, then a user
    /// message that brings the prompt to the row's count exactly. When the history alone
    /// is larger than the row's prompt (the product trimmed it), its oldest exchanges
    /// are left out until it fits.
    fn replay_call(&self, trace: &Trace, s: &mut Session, turn: u32) -> CallSpec {
        let row = trace.conversations[s.key as usize].turns[turn as usize - 1];
        let fw = &self.features[s.feature];
        let framed = fw.priming + fw.framing.user;
        let room = row.prompt_tokens.saturating_sub(framed + 1);
        let (mut from, mut history) = (0, s.history_tokens);
        while history > room && from < s.history.len() {
            history -= s.history[from].tokens;
            from += 1;
        }
        let user_tokens = row.prompt_tokens.saturating_sub(framed + history).max(1);
        let mut messages = Vec::with_capacity(1 + 2 * (s.history.len() - from));
        self.history(s, fw, from, &mut messages);
        messages.push(Message::text(
            Role::User,
            self.user_text(s.key, turn, user_tokens, fw).into(),
        ));
        s.pending_user = user_tokens;
        let f = &fw.plan;
        CallSpec {
            feature: s.feature,
            endpoint: s.endpoint,
            turn,
            messages,
            max_tokens: row.max_tokens,
            stream: f.stream,
            input_tokens: framed + history + user_tokens,
            keep_answer: turn < s.turns,
            budget_left: None,
            retry_seed: mix(
                mix(mix(self.seed, s.key), Stream::Retry as u64),
                turn as u64,
            ),
            reasoning: f.reasoning,
            round: 1,
            rounds_left: 0,
            tools: None,
            pair: pair(s, turn),
        }
    }

    /// Folds a finished turn into its session. Returns whether the conversation goes
    /// on: not after its last turn, and not after a turn that failed (the product's
    /// user saw an error).
    pub fn answered(&self, s: &mut Session, a: Answer) -> bool {
        s.used_tokens += a.input_tokens + a.output_tokens;
        if s.started >= s.turns {
            return false;
        }
        // A replayed conversation goes on as the log did, without the failed exchange.
        if !a.ok {
            return s.replayed;
        }
        let fw = &self.features[s.feature];
        let (answer, answer_tokens) = match a.text {
            Some(t) if !t.is_empty() => {
                let n = fw.encoding.count(&t) as u32;
                // A fresh, exact-size copy: the streamed text grew by doubling, and its
                // block would be kept whole through the think time.
                (AnswerText::Text(Box::from(t.as_str())), n)
            }
            _ => {
                let n = a.output_tokens.min(u32::MAX as u64) as u32;
                (AnswerText::Length(n), n)
            }
        };
        let tokens = (fw.framing.user + s.pending_user)
            .saturating_add(fw.framing.assistant)
            .saturating_add(answer_tokens);
        s.history_tokens = s.history_tokens.saturating_add(tokens);
        s.history.push(Exchange {
            user_tokens: s.pending_user,
            answer,
            tokens,
        });
        if let Some(c) = &fw.plan.context {
            let mut rng = self.rng(s.key, Stream::Context, s.started);
            s.context = (s.context * c.growth_factor + c.growth_per_turn.sample(&mut rng))
                .min(u32::MAX as f64);
        }
        true
    }

    /// The pause before the session's next turn.
    pub fn think_time(&self, s: &Session) -> Duration {
        let f = &self.features[s.feature].plan;
        let mut rng = self.rng(s.key, Stream::Think, s.started);
        Duration::from_secs_f64(f.session.think_time.sample(&mut rng).max(0.0))
    }

    /// User and answer sizes of a turn: drawn the same way whenever they are asked for.
    fn turn_sizes(&self, s: &Session, turn: u32) -> (u32, u32) {
        let f = &self.features[s.feature].plan;
        let mut rng = self.rng(s.key, Stream::Turn, turn);
        let user = f.user_tokens.sample_count(&mut rng).max(1);
        let max_tokens = f.output_tokens.sample_count(&mut rng).max(1);
        (user, max_tokens)
    }

    fn user_text(&self, key: u64, turn: u32, tokens: u32, fw: &FeatureWork) -> String {
        let mut rng = self.rng(key, Stream::UserText, turn);
        fw.text.text(fw.sized(tokens), &mut rng)
    }

    fn rng(&self, key: u64, stream: Stream, n: u32) -> TurnRng {
        TurnRng::seed_from_u64(mix(mix(mix(self.seed, key), stream as u64), n as u64))
    }
}

/// The feature's prompt template of `tokens` tokens: the same stream for every session,
/// so a template that drifts larger keeps its beginning.
fn system_text(seed: u64, feature: usize, fw: &FeatureWork, tokens: u32) -> Arc<str> {
    let mut rng = TurnRng::seed_from_u64(mix(mix(seed, 0x5157_E400), feature as u64));
    fw.text.text(fw.sized(tokens), &mut rng).into()
}

impl FeatureWork {
    /// Tokens of text, in the plan's tokenizer, that the endpoint counts as `tokens`.
    fn sized(&self, tokens: u32) -> usize {
        if self.ratio == 1.0 || tokens == 0 {
            return tokens as usize;
        }
        ((tokens as f64 / self.ratio).round() as usize).max(1)
    }

    /// What the endpoint counts for text of `tokens` tokens in the plan's tokenizer.
    fn counted(&self, tokens: usize) -> u32 {
        (tokens as f64 * self.ratio).round() as u32
    }
}

/// A side-by-side copy's pairing: its conversation, turn and round.
fn pair(s: &Session, turn: u32) -> Option<Pair> {
    Some(Pair {
        key: s.key,
        turn,
        round: s.round,
        copy: s.copy?,
    })
}

fn scaled(tokens: f64, factor: f64) -> u32 {
    (tokens * factor).round().clamp(0.0, u32::MAX as f64) as u32
}

/// SplitMix64 of `a` combined with `b`: well-spread seeds from small keys.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    const PROMPT: &str = "{ system_tokens: 50, user_tokens: { mean: 40, stddev: 10 }, context_tokens: { start: 100, growth_per_turn: { min: 10, max: 60 }, growth_factor: 1.1 } }";

    fn workload(seed: u64, prompt: &str) -> Workload {
        let yaml = format!(
            "name: w\nseed: {seed}\nduration: 1s\nendpoints:\n  a: {{ provider: openai, base_url: mock, model_name: gpt-4o }}\n  b: {{ provider: openai, base_url: mock, model_name: gpt-4 }}\nfeatures:\n  x: {{ endpoint: a, weight: 2, prompt: {prompt}, session: {{ turns: {{ min: 1, max: 6 }} }} }}\n  y: {{ endpoint: b, prompt: {{ system_tokens: {{ min: 0, max: 30 }}, user_tokens: 9 }}, output_tokens: {{ min: 5, max: 50 }} }}\nload: {{ rate: 1 }}\n"
        );
        let (sc, src) = scenario::parse("w.yaml", yaml.into_bytes(), &[]).unwrap();
        Workload::new(&Plan::from_scenario(&sc, &src).unwrap())
    }

    /// Every turn of `sessions` conversations, answered with `answer(turn)` tokens of
    /// filler text.
    fn conversations(w: &Workload, sessions: u64, minutes: u64) -> Vec<CallSpec> {
        let mut calls = vec![];
        for key in 0..sessions {
            let mut s = w.session(key, Duration::from_secs(60 * minutes));
            loop {
                let call = w.next_call(&mut s);
                let text = (call.turn % 3 != 0)
                    .then(|| " the service is running".repeat(call.turn as usize));
                let answer = Answer {
                    ok: true,
                    output_tokens: 4 * call.turn as u64,
                    input_tokens: call.input_tokens as u64,
                    text,
                    tool_call: None,
                };
                calls.push(call);
                if !w.answered(&mut s, answer) {
                    break;
                }
            }
        }
        calls
    }

    #[test]
    fn same_seed_same_calls_other_seed_other_calls() {
        let (a, b, c) = (
            workload(1, PROMPT),
            workload(1, PROMPT),
            workload(2, PROMPT),
        );
        assert_eq!(conversations(&a, 100, 0), conversations(&b, 100, 0));
        assert_ne!(conversations(&a, 100, 0), conversations(&c, 100, 0));
    }

    #[test]
    fn planned_prompt_tokens_match_a_full_count() {
        let w = workload(5, PROMPT);
        let calls = conversations(&w, 150, 0);
        let mut features = [0; 2];
        let mut later_turns = 0;
        for call in &calls {
            features[call.feature] += 1;
            later_turns += (call.turn > 1) as u32;
            let enc = w.features[call.feature].encoding;
            let messages = call.messages.iter().map(|m| (m.role.as_str(), &*m.content));
            assert_eq!(
                call.input_tokens as usize,
                enc.chat_prompt_tokens(messages),
                "feature {} turn {}",
                call.feature,
                call.turn
            );
        }
        assert!(later_turns > 100, "{later_turns}");
        assert!(
            features[0] > features[1] && features[1] > 30,
            "{features:?}"
        );
    }

    #[test]
    fn history_accumulates_and_context_grows() {
        let w = workload(3, PROMPT);
        let calls = conversations(&w, 40, 0);
        let long = calls
            .iter()
            .position(|c| c.turn == 4)
            .expect("a 4-turn session");
        let (t3, t4) = (&calls[long - 1], &calls[long]);
        // system, context, 3 earlier exchanges, the new user message.
        assert_eq!(t4.messages.len(), 2 + 6 + 1);
        let roles: Vec<Role> = t4.messages.iter().map(|m| m.role).collect();
        assert_eq!(&roles[2..5], &[Role::User, Role::Assistant, Role::User]);
        // Everything turn 3 sent but its new message is resent unchanged, but the context,
        // which grew and still starts the same.
        assert_eq!(t3.messages[0], t4.messages[0]);
        let (c3, c4) = (&t3.messages[1].content, &t4.messages[1].content);
        assert!(c4.len() > c3.len());
        assert_eq!(c3[..c3.len() / 2], c4[..c3.len() / 2]);
        assert_eq!(
            t3.messages[2..t3.messages.len()],
            t4.messages[2..t3.messages.len()]
        );
        // The answers turns 2 and 3 got are in turn 4's history: as returned, or (when
        // the text was not kept) corpus text of the returned length.
        assert_eq!(
            &*t4.messages[5].content,
            " the service is running".repeat(2)
        );
        let enc = w.features[t4.feature].encoding;
        assert_eq!(enc.count(&t4.messages[7].content), 12);
    }

    #[test]
    fn drift_grows_prompts_over_the_run() {
        let w = workload(
            4,
            "{ system_tokens: 100, user_tokens: 5, context_tokens: 1000, drift: { per_minute: 10% } }",
        );
        let at = |m: u64| {
            let mut s = w.session(7, Duration::from_secs(60 * m));
            while s.feature != 0 {
                s = w.session(s.key + 1000, Duration::from_secs(60 * m));
            }
            w.next_call(&mut s).input_tokens
        };
        let (t0, t10) = (at(0), at(10));
        // 100 system + 1000 context grow by 10% a minute: doubled after 10 minutes.
        assert_eq!(t10 - t0, 1100, "{t0} -> {t10}");
    }

    /// A replayed conversation: 4 rows whose prompts grow as the history does, then
    /// one smaller than the history (the product trimmed it).
    fn replayed() -> (Workload, Vec<u32>) {
        use crate::plan::replay::{LoggedCall, Trace};
        let yaml = "name: r\nendpoints:\n  a: { provider: openai, base_url: mock, model_name: gpt-4o }\nfeatures:\n  chat: { endpoint: a }\nload: { mode: replay, trace: t.jsonl, format: jsonl }\n";
        let (sc, src) = scenario::parse("r.yaml", yaml.as_bytes().to_vec(), &[]).unwrap();
        let mut plan = Plan::from_scenario(&sc, &src).unwrap();
        let prompts = vec![40, 60, 80, 100, 70];
        let calls = prompts.iter().enumerate().map(|(i, p)| LoggedCall {
            at_ms: 1000 * i as i64,
            feature: "chat",
            session: Some("c1"),
            prompt_tokens: *p as u64,
            completion_tokens: 30,
        });
        let min = Workload::min_prompt(Encoding::O200kBase);
        plan.set_trace(Trace::build(calls, &["chat"], 2.0, None, min).unwrap());
        (Workload::new(&plan), prompts)
    }

    #[test]
    fn a_replayed_turn_resends_its_history_and_has_the_rows_prompt_exactly() {
        let (w, prompts) = replayed();
        let mut s = w.session(0, Duration::ZERO);
        assert_eq!(s.turns, 5);
        let enc = w.features[0].encoding;
        for (i, want) in prompts.iter().enumerate() {
            let call = w.next_call(&mut s);
            let counted = enc
                .chat_prompt_tokens(call.messages.iter().map(|m| (m.role.as_str(), &*m.content)));
            assert_eq!(
                (call.input_tokens, counted),
                (*want, *want as usize),
                "turn {}",
                i + 1
            );
            assert_eq!(call.max_tokens, 30);
            let history = call.messages.len() - 1;
            if i < 4 {
                // Every earlier exchange, in order, then the new message.
                assert_eq!(history, 2 * i, "turn {}", i + 1);
                if i > 0 {
                    assert_eq!(&*call.messages[2 * i - 1].content, format!("answer {i}"));
                }
            } else {
                // The last row is smaller than the history: the oldest exchanges go.
                assert!((2..8).contains(&history) && history % 2 == 0, "{history}");
                assert_eq!(&*call.messages[history - 1].content, "answer 4");
            }
            let gap = w.replay_offset(&s);
            let answer = Answer {
                ok: true,
                text: Some(format!("answer {}", i + 1)),
                input_tokens: call.input_tokens as u64,
                output_tokens: 3,
                tool_call: None,
            };
            if i < 4 {
                // The next row starts 1 s later in the log: 0.5 s at speed 2.
                assert_eq!(gap, Some(Duration::from_millis(500 * (i as u64 + 1))));
            }
            assert_eq!(w.answered(&mut s, answer), i < 4);
        }
    }

    #[test]
    fn a_replayed_conversation_goes_on_after_a_failed_turn() {
        let (w, _) = replayed();
        let mut s = w.session(0, Duration::ZERO);
        let call = w.next_call(&mut s);
        let failed = Answer {
            ok: false,
            input_tokens: call.input_tokens as u64,
            ..Answer::default()
        };
        assert!(
            w.answered(&mut s, failed),
            "the log's next rows still happened"
        );
        let next = w.next_call(&mut s);
        assert_eq!(
            (next.turn, next.input_tokens, next.messages.len()),
            (2, 60, 1)
        );
    }
}
