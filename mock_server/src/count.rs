//! The mock's own token count: what `usage.prompt_tokens` reports.
//!
//! It must be a measurement, not the planner's arithmetic echoed back, so it encodes the
//! text it received with GitHub's `bpe-openai` (the same ranks as tiktoken, an
//! independent implementation) rather than with the tiktoken-rs the planner uses; a test
//! holds the two equal on the corpus and on random text.
//!
//! Prompts repeat their sentences (a corpus, the history each turn resends), so counts
//! are cached by sentence: a text splits after `.`, `?` or `!` before a space, where the
//! tokenizers' pre-splitting always cuts (no pre-token pattern of cl100k or o200k goes
//! from a non-space character on into a space, and none looks back), so the counts of
//! the pieces add up to the count of the whole. A 2.8k-token prompt of known sentences is
//! a hash per sentence instead of 0.2 µs per token.

use crate::tokens::Encoding;
use bpe_openai::Tokenizer;
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// Pieces longer than this are counted but not kept: text that long without a sentence
/// end is rarely sent twice.
const MAX_CACHED_PIECE: usize = 2048;
/// Bytes of cached text per thread and encoding before the cache starts over.
const CACHE_BYTES: usize = 8 << 20;

fn tokenizer(encoding: Encoding) -> &'static Tokenizer {
    match encoding {
        Encoding::Cl100kBase => bpe_openai::cl100k_base(),
        Encoding::O200kBase => bpe_openai::o200k_base(),
    }
}

struct Cache {
    counts: FxHashMap<Box<str>, u32>,
    bytes: usize,
    limit: usize,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::with_limit(CACHE_BYTES)
    }
}

impl Cache {
    fn with_limit(limit: usize) -> Cache {
        Cache {
            counts: FxHashMap::default(),
            bytes: 0,
            limit,
        }
    }

    fn count(&mut self, tokenizer: &Tokenizer, piece: &str) -> usize {
        if piece.len() > MAX_CACHED_PIECE {
            return tokenizer.count(piece);
        }
        if let Some(&n) = self.counts.get(piece) {
            return n as usize;
        }
        let n = tokenizer.count(piece);
        if self.bytes + piece.len() > self.limit {
            self.counts.clear();
            self.bytes = 0;
        }
        self.bytes += piece.len();
        self.counts.insert(piece.into(), n as u32);
        n
    }
}

thread_local! {
    static CACHES: RefCell<[Cache; 2]> = RefCell::default();
}

/// Tokens of `text` in `encoding`, special tokens treated as ordinary text.
pub fn count(encoding: Encoding, text: &str) -> usize {
    let tokenizer = tokenizer(encoding);
    CACHES.with_borrow_mut(|caches| {
        let cache = &mut caches[encoding as usize];
        sentences(text).map(|s| cache.count(tokenizer, s)).sum()
    })
}

/// Tokens of `text` by the encoder alone, without the cache (for benchmarks).
pub fn count_uncached(encoding: Encoding, text: &str) -> usize {
    tokenizer(encoding).count(text)
}

/// Prompt tokens of a chat request, by OpenAI's recipe (see `tokens`).
pub fn chat_prompt_tokens<'a>(
    encoding: Encoding,
    messages: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> usize {
    crate::tokens::chat_recipe(messages, |t| count(encoding, t))
}

/// `text` cut before each space that follows `.`, `?` or `!`; the pieces cover it.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut ends = memchr::memchr3_iter(b'.', b'?', b'!', bytes);
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        // ASCII bytes: every cut is a char boundary.
        let cut = ends
            .by_ref()
            .map(|i| i + 1)
            .find(|&i| i > start && bytes.get(i) == Some(&b' '))
            .unwrap_or(bytes.len());
        let piece = &text[start..cut];
        start = cut;
        Some(piece)
    })
}

/// Loads the encoding's ranks (a few tens of milliseconds), before the first request.
pub fn warm_up(encoding: Encoding) {
    count(encoding, "Warm up: the tokenizer's 1st pass, 2025-01-01.");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const ENCODINGS: [Encoding; 2] = [Encoding::Cl100kBase, Encoding::O200kBase];

    #[test]
    fn sentences_cover_the_text_and_cut_only_before_spaces() {
        let text = "One. Two? Three!  Four...five. 3.14 is pi.";
        let pieces: Vec<&str> = sentences(text).collect();
        assert_eq!(
            pieces,
            ["One.", " Two?", " Three!", "  Four...five.", " 3.14 is pi."]
        );
        assert_eq!(sentences("").count(), 0);
        assert_eq!(sentences("no end").collect::<Vec<_>>(), ["no end"]);
    }

    /// Text mixing what the pre-splitting treats differently: sentence ends before
    /// spaces, newlines and tabs, runs of spaces, digits, contractions, punctuation,
    /// capitals and non-ASCII letters and marks.
    fn random_text(rng: &mut ChaCha8Rng, len: usize) -> String {
        const PARTS: [&str; 24] = [
            "word",
            " ",
            "  ",
            ". ",
            "? ",
            "! ",
            ".",
            "\n",
            "\r\n",
            "\t",
            "'s",
            "'LL",
            "123",
            "4567",
            "Été",
            "naïve",
            "日本語",
            "🙂",
            "--",
            "/",
            "A",
            "é",
            "e\u{301}",
            " \n ",
        ];
        (0..len)
            .map(|_| PARTS[rng.random_range(0..PARTS.len())])
            .collect()
    }

    #[test]
    fn equals_tiktoken_on_the_corpus_and_on_random_text() {
        let corpus = include_str!("../../src/workload/corpus.txt");
        let mut rng = ChaCha8Rng::seed_from_u64(18);
        for enc in ENCODINGS {
            assert_eq!(count(enc, corpus), enc.count(corpus), "{enc}: the corpus");
            // Twice: the second pass answers from the cache.
            for pass in 0..2 {
                let mut rng = rng.clone();
                for case in 0..400 {
                    let t = random_text(&mut rng, case % 90);
                    assert_eq!(count(enc, &t), enc.count(&t), "{enc} pass {pass}: {t:?}");
                }
            }
            for case in 0..200 {
                let bytes: Vec<u8> = (0..case).map(|_| rng.random_range(0x20..0x7f)).collect();
                let t = String::from_utf8(bytes).expect("ASCII");
                assert_eq!(count(enc, &t), enc.count(&t), "{enc}: {t:?}");
            }
        }
    }

    #[test]
    fn chat_recipe_matches_the_planners() {
        let messages = [
            ("system", "Be brief. Answer in English."),
            ("user", "Why? Because."),
        ];
        for enc in ENCODINGS {
            assert_eq!(
                chat_prompt_tokens(enc, messages),
                enc.chat_prompt_tokens(messages)
            );
        }
    }

    #[test]
    fn a_full_cache_starts_over() {
        let mut cache = Cache::with_limit(1000);
        let tok = tokenizer(Encoding::Cl100kBase);
        for i in 0..100 {
            let p = format!(" Sentence number {i} of a hundred.");
            assert_eq!(cache.count(tok, &p), Encoding::Cl100kBase.count(&p));
            assert!(cache.bytes <= 1000, "{} bytes kept", cache.bytes);
            // Asked again, the answer is the same whether it was kept or not.
            assert_eq!(cache.count(tok, &p), Encoding::Cl100kBase.count(&p));
        }
        assert!(cache.counts.len() < 100);
    }
}
