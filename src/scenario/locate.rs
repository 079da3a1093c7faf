//! Finds where a key path (`endpoints.primary.timeout`, `load.stages.1.rate`) sits in the
//! YAML source, so checks made after parsing can still point at a line and column.
//!
//! Reads YAML events only; it never interprets values.

use serde_saphyr::granit_parser::{Event, Parser, Span};

/// 1-based line and column of the node at `path`; when the path stops existing part way
/// (a missing key), the deepest node that does exist.
pub fn locate(src: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut events = Parser::new_from_str(src)
        .filter_map(|r| r.ok())
        .filter(|(e, _)| {
            !matches!(
                e,
                Event::StreamStart
                    | Event::DocumentStart(..)
                    | Event::Comment(..)
                    | Event::Anchor(..)
            )
        });
    let span = find(&mut events, path)?;
    Some((span.start.line(), span.start.col() + 1))
}

fn find<'a>(events: &mut impl Iterator<Item = (Event<'a>, Span)>, path: &[&str]) -> Option<Span> {
    let (event, span) = events.next()?;
    let Some((head, rest)) = path.split_first() else {
        return Some(span);
    };
    match event {
        Event::MappingStart(..) => loop {
            let (key, _) = events.next()?;
            match key {
                Event::MappingEnd => return Some(span),
                Event::Scalar(k, ..) if k == *head => return find(events, rest).or(Some(span)),
                other => {
                    skip_rest(events, &other);
                    skip_node(events)?;
                }
            }
        },
        Event::SequenceStart(..) => {
            let index: usize = head.parse().ok()?;
            for _ in 0..index {
                if skip_node(events)? {
                    return Some(span);
                }
            }
            find(events, rest).or(Some(span))
        }
        _ => Some(span),
    }
}

/// Skips one whole node; `Some(true)` when what came was the end of the enclosing collection.
fn skip_node<'a>(events: &mut impl Iterator<Item = (Event<'a>, Span)>) -> Option<bool> {
    let (event, _) = events.next()?;
    if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
        return Some(true);
    }
    skip_rest(events, &event);
    Some(false)
}

/// Having read `first`, skips the rest of its node if it opened a collection.
fn skip_rest<'a>(events: &mut impl Iterator<Item = (Event<'a>, Span)>, first: &Event<'a>) {
    if !matches!(first, Event::MappingStart(..) | Event::SequenceStart(..)) {
        return;
    }
    let mut depth = 1usize;
    for (e, _) in events.by_ref() {
        match e {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    const SRC: &str = "name: x\nendpoints:\n  a: { model_name: m }\n  b:\n    timeout: 3s  # c\nload:\n  stages:\n    - { duration: 1s, rate: 2 }\n    - duration: 2s\n      rate: -1\n";

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        assert_eq!(locate(SRC, &["name"]), Some((1, 7)));
        assert_eq!(locate(SRC, &["endpoints", "b", "timeout"]), Some((5, 14)));
        assert_eq!(
            locate(SRC, &["load", "stages", "1", "rate"]),
            Some((10, 13))
        );
        assert_eq!(locate(SRC, &["load", "stages", "0", "rate"]), Some((8, 29)));
    }

    #[test]
    fn missing_key_points_at_the_deepest_parent() {
        assert_eq!(locate(SRC, &["endpoints", "b", "nope"]), Some((5, 5)));
        assert_eq!(locate(SRC, &["load", "stages", "7"]), Some((8, 5)));
    }
}
