//! A plan's deck as an Anki text-import file with file headers (issue #24; Anki manual,
//! "Importing text files", "File Headers"): tab-separated, plain text, one note per line, the
//! card's id in the GUID column so that importing an edited deck again updates its notes.
//!
//! Columns: 1 the GUID (the card's id), 2 the question, 3 the answer, 4 the distractors joined
//! with ` | ` (empty for a question/answer card), 5 the tags (`syllabus` and `module-<n>`, the
//! card's module's position). The note type is [`NOTE_TYPE`], whose fields are Front, Back and
//! Distractors in that order: a `Basic` note has no third field, so its distractors would be
//! dropped on import.

use std::fmt::Write as _;

use uuid::Uuid;

/// The note type the file names: Front, Back, Distractors.
pub const NOTE_TYPE: &str = "Syllabus";
/// Between the distractors in their field.
pub const DISTRACTOR_SEPARATOR: &str = " | ";
/// The deck's name when the topic leaves nothing.
const FALLBACK: &str = "Syllabus";

/// One card of the file.
#[derive(Debug, Clone, Copy)]
pub struct AnkiCard<'a> {
    /// The card's id: the note's GUID.
    pub id: Uuid,
    /// Front.
    pub question: &'a str,
    /// Back.
    pub answer: &'a str,
    /// The wrong answers (0 or 3).
    pub distractors: &'a [String],
    /// The position of the card's module in its plan, when it was made for one.
    pub module_position: Option<u32>,
}

/// The deck's name from the plan's topic: control characters (tabs, newlines) become spaces,
/// runs of spaces one, `::` (Anki's subdeck separator) one `:`, trimmed.
#[must_use]
pub fn deck_name(topic: &str) -> String {
    let mut out = String::with_capacity(topic.len());
    for c in topic.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        let last = out.chars().last();
        if (c == ' ' && last == Some(' ')) || (c == ':' && last == Some(':')) {
            continue;
        }
        out.push(c);
    }
    let name = out.trim();
    if name.is_empty() {
        FALLBACK.to_owned()
    } else {
        name.to_owned()
    }
}

/// A file name stem from the topic: lowercase ASCII letters and digits, anything else one `-`,
/// at most 60 characters; `flashcards` when nothing is left.
#[must_use]
pub fn file_slug(topic: &str) -> String {
    let mut out = String::new();
    for c in topic.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let slug = out.trim_end_matches('-');
    if slug.is_empty() {
        "flashcards".to_owned()
    } else {
        slug.to_owned()
    }
}

/// A field as the format wants it: in double quotes (with `""` for a quote) when it holds a tab,
/// a line break or a quote; as it is otherwise.
#[must_use]
pub fn field(text: &str) -> String {
    if text.contains(['\t', '\n', '\r', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The whole file: headers, then one line per card, each ending in `\n`.
#[must_use]
pub fn deck_file(topic: &str, cards: &[AnkiCard<'_>]) -> String {
    let mut out = format!(
        "#separator:tab\n#html:false\n#notetype:{NOTE_TYPE}\n#deck:{}\n#guid column:1\n#tags column:5\n",
        deck_name(topic)
    );
    for c in cards {
        let tags = match c.module_position {
            Some(n) => format!("syllabus module-{n}"),
            None => "syllabus".to_owned(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            c.id,
            field(c.question),
            field(c.answer),
            field(&c.distractors.join(DISTRACTOR_SEPARATOR)),
            tags
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deck_names_keep_no_tabs_newlines_or_subdecks() {
        assert_eq!(deck_name("Rust\tfor\n\nservices"), "Rust for services");
        assert_eq!(
            deck_name("  C++ :: templates ::: x "),
            "C++ : templates : x"
        );
        assert_eq!(deck_name(" \t "), "Syllabus");
    }

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(file_slug("Rust for services!"), "rust-for-services");
        assert_eq!(file_slug("«»"), "flashcards");
        assert_eq!(file_slug(&"a".repeat(99)).len(), 60);
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain, text"), "plain, text");
        assert_eq!(field("a\tb"), "\"a\tb\"");
        assert_eq!(field("say \"hi\"\nthen"), "\"say \"\"hi\"\"\nthen\"");
    }

    #[test]
    fn a_deck_has_its_headers_and_one_line_per_card() {
        let wrong = vec!["x".to_owned(), "y".to_owned(), "z".to_owned()];
        let id = Uuid::nil();
        let file = deck_file(
            "Rust",
            &[
                AnkiCard {
                    id,
                    question: "Q",
                    answer: "A",
                    distractors: &wrong,
                    module_position: Some(2),
                },
                AnkiCard {
                    id,
                    question: "Q2",
                    answer: "A2",
                    distractors: &[],
                    module_position: None,
                },
            ],
        );
        let nil = "00000000-0000-0000-0000-000000000000";
        assert_eq!(
            file,
            format!(
                "#separator:tab\n#html:false\n#notetype:Syllabus\n#deck:Rust\n#guid column:1\n\
                 #tags column:5\n{nil}\tQ\tA\tx | y | z\tsyllabus module-2\n{nil}\tQ2\tA2\t\tsyllabus\n"
            )
        );
    }
}
