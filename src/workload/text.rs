//! Readable synthetic text of an exact token count, from a corpus shipped in the repo
//! (`corpus.txt`): no downloads, and the count the endpoint reports matches the plan.
//!
//! Exact by construction, without encoding the result: a text is whole corpus sentences
//! in a seeded random order, then the start of one more sentence cut at a word, then
//! one-token filler words. Every piece begins with a space and a letter, where the
//! tokenizers' pre-splitting always cuts, so the tokens of the pieces add up. Each piece's
//! count is measured once per encoding; building a 32k-token prompt is a string copy.

use mock_server::tokens::{Encoding, ANSWER_WORDS};
use rand::Rng;
use std::sync::OnceLock;

const CORPUS: &str = include_str!("corpus.txt");

/// One corpus sentence, with its token counts.
struct Sentence {
    /// Without a leading space.
    text: &'static str,
    /// Tokens of `text` at the very start of a prompt, and after a space mid-prompt.
    first: u32,
    after: u32,
    /// Cuts at word ends, shortest first: (byte length, tokens at the start, tokens mid).
    prefixes: Vec<(u32, u32, u32)>,
}

/// The corpus measured once per encoding.
pub struct PromptText {
    sentences: Vec<Sentence>,
}

static CL100K: OnceLock<PromptText> = OnceLock::new();
static O200K: OnceLock<PromptText> = OnceLock::new();

impl PromptText {
    pub fn get(encoding: Encoding) -> &'static PromptText {
        let cell = match encoding {
            Encoding::Cl100kBase => &CL100K,
            Encoding::O200kBase => &O200K,
        };
        cell.get_or_init(|| PromptText::measure(encoding))
    }

    fn measure(encoding: Encoding) -> PromptText {
        let sentences = sentences(CORPUS)
            .map(|text| {
                let spaced = |s: &str| encoding.count(&format!(" {s}")) as u32;
                let prefixes = text
                    .match_indices(' ')
                    .map(|(end, _)| {
                        let p = &text[..end];
                        (end as u32, encoding.count(p) as u32, spaced(p))
                    })
                    .collect();
                Sentence {
                    text,
                    first: encoding.count(text) as u32,
                    after: spaced(text),
                    prefixes,
                }
            })
            .collect();
        PromptText { sentences }
    }

    /// Text of exactly `n` tokens, drawn from `rng`.
    pub fn text<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> String {
        let mut out = String::with_capacity(n * 6);
        self.append(&mut out, n, rng);
        out
    }

    /// Appends exactly `n` tokens of text to `out` (after a space when `out` is not
    /// empty, which the count includes).
    pub fn append<R: Rng + ?Sized>(&self, out: &mut String, n: usize, rng: &mut R) {
        let mut left = n as u32;
        while left > 0 {
            let s = &self.sentences[rng.random_range(0..self.sentences.len())];
            let at_start = out.is_empty();
            let whole = if at_start { s.first } else { s.after };
            if whole <= left {
                push(out, s.text);
                left -= whole;
                continue;
            }
            // The longest start of this sentence that still fits, then filler words.
            let tokens = |p: &(u32, u32, u32)| if at_start { p.1 } else { p.2 };
            if let Some(p) = s.prefixes.iter().rev().find(|p| tokens(p) <= left) {
                push(out, &s.text[..p.0 as usize]);
                left -= tokens(p);
            }
            for i in 0..left {
                // Each word carries its own leading space and is one token anywhere.
                out.push_str(ANSWER_WORDS[(i as usize) % ANSWER_WORDS.len()]);
            }
            left = 0;
        }
    }
}

fn push(out: &mut String, piece: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(piece);
}

/// The corpus split into sentences: ends at `.`, `?` or `!` before white space.
fn sentences(corpus: &'static str) -> impl Iterator<Item = &'static str> {
    let mut rest = corpus;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, '.' | '?' | '!')
                    && rest[i + 1..].chars().next().is_none_or(char::is_whitespace)
            })
            .map_or(rest.len(), |(i, _)| i + 1);
        let (sentence, tail) = rest.split_at(end);
        rest = tail;
        let sentence = sentence.trim();
        if !sentence.is_empty() {
            return Some(sentence);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn texts_have_exact_token_counts() {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let p = PromptText::get(enc);
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            for n in (1..80).chain([127, 400, 1500, 5000, 32_000]) {
                for _ in 0..4 {
                    let t = p.text(n, &mut rng);
                    assert_eq!(enc.count(&t), n, "{enc} n={n}: {t:?}");
                }
            }
        }
    }

    #[test]
    fn appended_pieces_add_up() {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let p = PromptText::get(enc);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut t = String::new();
            let mut total = 0;
            for n in [3, 17, 1, 250, 64] {
                p.append(&mut t, n, &mut rng);
                total += n;
                assert_eq!(enc.count(&t), total, "{enc}");
            }
        }
    }

    #[test]
    fn corpus_splits_into_sentences() {
        let all: Vec<&str> = sentences(CORPUS).collect();
        assert!(all.len() >= 45, "{}", all.len());
        for s in &all {
            assert!(s.starts_with(|c: char| c.is_ascii_uppercase()), "{s:?}");
            assert!(s.ends_with(['.', '?', '!']), "{s:?}");
        }
    }

    #[test]
    fn text_is_readable_corpus_prose() {
        let t = PromptText::get(Encoding::Cl100kBase).text(200, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(t.split_whitespace().count() > 100);
        assert!(t.is_ascii());
        assert!(t.starts_with(|c: char| c.is_ascii_uppercase()), "{t:?}");
    }
}
