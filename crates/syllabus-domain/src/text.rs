//! Trimming and grapheme-safe truncation of free text (topic, notes, titles).
//!
//! Lengths are counted in Unicode scalar values (`char`s), the unit a user-facing limit such as
//! "200 characters" means in this product.
//! A cut never splits a grapheme cluster: when the cluster that straddles the limit does not fit
//! whole, the cut happens before it, so the result may be a few characters shorter than the limit.

use unicode_segmentation::GraphemeCursor;

/// Text after trimming and truncation, with the facts the API reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    text: String,
    truncated: bool,
    original_length: usize,
}

impl Sanitized {
    /// The trimmed (and possibly truncated) text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the value and returns the text.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// Whether the text was cut to fit the limit.
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The length in characters after trimming and before truncation.
    #[must_use]
    pub fn original_length(&self) -> usize {
        self.original_length
    }

    /// The length in characters of the result.
    #[must_use]
    pub fn len_chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// Trims `input` and truncates it to at most `max_chars` characters without splitting a grapheme
/// cluster.
///
/// Whitespace that a cut leaves at the end is trimmed too, so sanitizing a sanitized text changes
/// nothing (the function is idempotent on its output text).
#[must_use]
pub fn sanitize(input: &str, max_chars: usize) -> Sanitized {
    let trimmed = input.trim();
    // A string of n bytes has at most n chars: short inputs need no counting beyond this.
    if trimmed.len() <= max_chars {
        return Sanitized {
            text: trimmed.to_owned(),
            truncated: false,
            original_length: trimmed.chars().count(),
        };
    }
    let original_length = trimmed.chars().count();
    if original_length <= max_chars {
        return Sanitized {
            text: trimmed.to_owned(),
            truncated: false,
            original_length,
        };
    }
    let end = cut_point(trimmed, max_chars);
    let text = trimmed.get(..end).unwrap_or_default().trim_end().to_owned();
    Sanitized {
        text,
        truncated: true,
        original_length,
    }
}

/// The byte offset of the longest prefix of whole grapheme clusters holding at most `max_chars`
/// characters.
///
/// Only the neighbourhood of the limit is segmented: find where character `max_chars` starts and,
/// if that is inside a cluster, step back to the cluster's start. The cursor sees the whole text as
/// context, so sequences that depend on what precedes them (regional-indicator pairs, ZWJ emoji)
/// are judged correctly.
fn cut_point(text: &str, max_chars: usize) -> usize {
    let Some((limit, _)) = text.char_indices().nth(max_chars) else {
        return text.len();
    };
    let mut cursor = GraphemeCursor::new(limit, text.len(), true);
    match cursor.is_boundary(text, 0) {
        Ok(true) => limit,
        Ok(false) => match cursor.prev_boundary(text, 0) {
            Ok(Some(boundary)) => boundary,
            _ => 0,
        },
        // With the whole text as one chunk the cursor never asks for more context.
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn check(input: &str, max: usize, expected: &str, truncated: bool) {
        let out = sanitize(input, max);
        assert_eq!(out.as_str(), expected, "input {input:?}");
        assert_eq!(out.truncated(), truncated, "input {input:?}");
    }

    #[test]
    fn short_text_is_only_trimmed() {
        check("  rust  ", 10, "rust", false);
        check("\n\tsql\u{3000}", 10, "sql", false);
    }

    #[test]
    fn text_at_the_limit_is_kept_whole() {
        check("abcde", 5, "abcde", false);
    }

    #[test]
    fn long_text_is_cut_at_the_limit() {
        let out = sanitize("abcdefgh", 5);
        assert_eq!(out.as_str(), "abcde");
        assert!(out.truncated());
        assert_eq!(out.original_length(), 8);
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        // 6 chars, 18 bytes: fits a 6-char limit even though it has more bytes.
        check("日本語の勉強", 6, "日本語の勉強", false);
        check("日本語の勉強", 3, "日本語", true);
    }

    #[test]
    fn a_grapheme_cluster_straddling_the_limit_is_dropped_whole() {
        // "e" + combining acute is one grapheme of two chars.
        check("abcde\u{301}", 5, "abcd", true);
        // A family emoji is 7 chars joined by ZWJ.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        check(&format!("ab{family}cd"), 5, "ab", true);
        check(&format!("ab{family}cd"), 9, &format!("ab{family}"), true);
    }

    #[test]
    fn whitespace_left_by_a_cut_is_trimmed() {
        check("abc   defgh", 5, "abc", true);
    }

    #[test]
    fn original_length_counts_trimmed_characters() {
        assert_eq!(sanitize("  héllo  ", 200).original_length(), 5);
    }

    proptest! {
        #[test]
        fn truncation_never_exceeds_the_limit(s in "\\PC{0,300}", max in 0usize..120) {
            let out = sanitize(&s, max);
            prop_assert!(out.len_chars() <= max);
            prop_assert_eq!(out.truncated(), s.trim().chars().count() > max);
        }

        #[test]
        fn truncation_never_splits_a_grapheme(s in "(\\PC|e\u{301}|\u{1F44D}\u{1F3FD}|\u{1F1EF}\u{1F1F5}){0,100}", max in 0usize..60) {
            let out = sanitize(&s, max);
            let full: Vec<&str> = s.trim().graphemes(true).collect();
            let kept: Vec<&str> = out.as_str().graphemes(true).collect();
            // The output is a prefix of the input's grapheme sequence.
            prop_assert!(kept.len() <= full.len());
            prop_assert_eq!(&full[..kept.len()], &kept[..]);
        }

        #[test]
        fn truncation_is_idempotent(s in "\\PC{0,300}", max in 0usize..120) {
            let once = sanitize(&s, max);
            let twice = sanitize(once.as_str(), max);
            prop_assert_eq!(once.as_str(), twice.as_str());
            prop_assert!(!twice.truncated());
        }
    }
}
