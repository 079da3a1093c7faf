//! The planner's token counting (tiktoken-rs): llm-drill sizes its prompts with it. The
//! mock measures what it receives with its own implementation (`count`), held equal to
//! this one by tests, so that `usage.prompt_tokens` checks the plan rather than echoing it.
//!
//! Counts follow OpenAI's published recipe for chat models: every message costs its
//! encoded role and content plus 3 framing tokens, and the reply is primed with 3 more.
//! This module only counts and encodes; it must not know about HTTP or scenarios.

use std::fmt;
use tiktoken_rs::CoreBPE;

/// Framing tokens OpenAI adds around each chat message.
pub const TOKENS_PER_MESSAGE: usize = 3;
/// Tokens OpenAI adds to prime the assistant's reply.
pub const REPLY_PRIMING_TOKENS: usize = 3;

/// A tiktoken encoding (its BPE ranks are embedded in the crate: no download).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Cl100kBase,
    O200kBase,
}

impl Encoding {
    /// The encoding OpenAI uses for a model name: o200k for the gpt-4o / gpt-4.1 / gpt-5 /
    /// o-series families, cl100k for everything else (gpt-4, gpt-3.5 and, as an
    /// approximation, non-OpenAI models).
    pub fn for_model(model_name: &str) -> Encoding {
        let m = model_name.to_ascii_lowercase();
        let o200k = [
            "gpt-4o",
            "gpt-4.1",
            "gpt-4.5",
            "gpt-5",
            "chatgpt-4o",
            "o1",
            "o3",
            "o4",
        ];
        if o200k.iter().any(|p| m.starts_with(p)) {
            Encoding::O200kBase
        } else {
            Encoding::Cl100kBase
        }
    }

    /// Parses a tokenizer name as written in a scenario.
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "cl100k_base" => Some(Encoding::Cl100kBase),
            "o200k_base" => Some(Encoding::O200kBase),
            _ => None,
        }
    }

    /// Its name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
        }
    }

    pub fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        }
    }

    /// Number of tokens in `text`, special tokens treated as ordinary text.
    pub fn count(self, text: &str) -> usize {
        self.bpe().encode_ordinary(text).len()
    }

    /// Prompt tokens of a chat request, by OpenAI's recipe.
    pub fn chat_prompt_tokens<'a>(
        self,
        messages: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> usize {
        chat_recipe(messages, |t| self.count(t))
    }
}

/// OpenAI's chat recipe over any counter: each message's role and content plus its
/// framing, and the reply's priming. The planner and the mock count with different
/// tokenizers and share this.
pub fn chat_recipe<'a>(
    messages: impl IntoIterator<Item = (&'a str, &'a str)>,
    count: impl Fn(&str) -> usize,
) -> usize {
    messages
        .into_iter()
        .map(|(role, content)| TOKENS_PER_MESSAGE + count(role) + count(content))
        .sum::<usize>()
        + REPLY_PRIMING_TOKENS
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
        })
    }
}

/// Words that are one token each in both encodings, so an answer of `n` of them is exactly
/// `n` completion tokens whichever encoding counts it (checked by a test below).
pub const ANSWER_WORDS: [&str; 16] = [
    " the", " service", " is", " running", " and", " all", " checks", " passed", " on", " time",
    " with", " no", " new", " errors", " in", " logs",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_words_are_single_tokens_in_both_encodings() {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            for w in ANSWER_WORDS {
                assert_eq!(enc.count(w), 1, "{w:?} in {enc}");
            }
            let answer: String = (0..500)
                .map(|i| ANSWER_WORDS[i % ANSWER_WORDS.len()])
                .collect();
            assert_eq!(enc.count(&answer), 500, "{enc}");
        }
    }

    #[test]
    fn chat_recipe_adds_framing() {
        let enc = Encoding::Cl100kBase;
        // "user" is one token, "hello" one token: 3 + 1 + 1, plus 3 priming.
        assert_eq!(enc.chat_prompt_tokens([("user", "hello")]), 8);
        assert_eq!(enc.chat_prompt_tokens([]), 3);
    }

    #[test]
    fn model_names_pick_encodings() {
        assert_eq!(Encoding::for_model("gpt-4o-mini"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("o3-mini"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("gpt-4"), Encoding::Cl100kBase);
        assert_eq!(Encoding::for_model("llama-3.1-8b"), Encoding::Cl100kBase);
    }
}
