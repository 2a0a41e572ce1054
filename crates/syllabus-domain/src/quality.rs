//! Degenerate answers: generated content that passes every bound of the schema and is still of no
//! use to a learner (issue #21). Each rule gives validation [`Issues`], so the model is re-asked
//! with the reasons and such an answer never becomes a `ready` plan or a stored card.
//!
//! | rule | where |
//! |---|---|
//! | sibling titles equal after [`fold`] (modules of a plan, tasks of a module, skills under one parent) | [`check_plan`], [`check_skill_tree`] |
//! | a text that loops: a sentence said [`LOOP_SENTENCE_REPEATS`] times, or most of its word [`LOOP_NGRAM`]-grams said before ([`is_looping`]) | every check |
//! | a text copied from the prompt's own example ([`ExampleTexts`], given by the caller: the domain knows no prompt) | every check but distractors |
//! | a module's minutes far from the sum of its tasks' ([`minutes_far_apart`]) | [`check_plan`] |
//! | a card whose answer is its question, a card that repeats another card's question | [`check_flashcards`] |
//! | a distractor equal to the question | [`check_distractors`] |
//!
//! A check runs on content that already passed its validator (`validate_plan`,
//! `validate_flashcards`…), so it can index what that validator accepted. Its messages name
//! places and numbers, never the model's text.

use std::collections::HashMap;

use serde_json::Value;

use crate::content::{Flashcard, SkillNode, SkillTree};
use crate::issues::Issues;
use crate::plan::NormalizedPlan;

/// Word n-grams compared by the loop rule.
pub const LOOP_NGRAM: usize = 3;
/// Fewest words a text needs before its n-grams are compared: a short text repeating a phrase
/// ("step by step, step by step") is a style, not a loop.
pub const LOOP_MIN_WORDS: usize = 24;
/// Share of a text's word n-grams already said earlier in it from which it loops.
pub const LOOP_REPEATED_SHARE: f64 = 0.5;
/// Times one sentence (of [`LOOP_SENTENCE_MIN_WORDS`] words or more) may appear in a text before
/// the text loops.
pub const LOOP_SENTENCE_REPEATS: usize = 3;
/// Fewest words of a sentence counted by the sentence rule.
pub const LOOP_SENTENCE_MIN_WORDS: usize = 3;
/// How far apart a module's minutes and its tasks' sum may be, as a factor either way: the
/// degenerate answers of issue #21 are 18 and 20 times apart, while a careful plan may give a
/// module some time beyond its tasks (reading, review), up to three times their sum.
pub const MINUTES_FACTOR: f64 = 3.0;
/// Minutes apart that are never "far", whatever the factor: 15 against 40 is a rounding habit.
pub const MINUTES_SLACK: f64 = 30.0;

/// Lower-cases a text and keeps only its words (letters and digits), one space apart: what two
/// titles are compared by. Idempotent.
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in words(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// The lower-cased words of a text: runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The texts of the example a prompt showed the model, folded; a generated text equal to one of
/// them after [`fold`] is a copy. Texts without a word are left out (they could never be told
/// from a placeholder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExampleTexts(Vec<String>);

impl ExampleTexts {
    /// The example's texts, as the prompt wrote them.
    pub fn new<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self(
            texts
                .into_iter()
                .map(|t| fold(t.as_ref()))
                .filter(|t| !t.is_empty())
                .collect(),
        )
    }

    /// Every string of a JSON example (keys left out), in document order.
    #[must_use]
    pub fn from_json(example: &Value) -> Self {
        fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                Value::Object(map) => map.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        strings(example, &mut out);
        Self::new(out)
    }

    /// Whether `text` is one of the example's texts once folded.
    #[must_use]
    pub fn copied(&self, text: &str) -> bool {
        !self.0.is_empty() && {
            let folded = fold(text);
            self.0.contains(&folded)
        }
    }
}

/// Whether a text loops: one sentence of [`LOOP_SENTENCE_MIN_WORDS`] words or more appears
/// [`LOOP_SENTENCE_REPEATS`] times, or, in a text of [`LOOP_MIN_WORDS`] words or more, at least
/// [`LOOP_REPEATED_SHARE`] of its word [`LOOP_NGRAM`]-grams were already said earlier in it.
#[must_use]
pub fn is_looping(text: &str) -> bool {
    let mut sentences: HashMap<String, usize> = HashMap::new();
    for sentence in text.split(['.', '!', '?', ';', '\n']) {
        let folded = fold(sentence);
        if folded.split(' ').count() >= LOOP_SENTENCE_MIN_WORDS {
            let seen = sentences.entry(folded).or_default();
            *seen += 1;
            if *seen >= LOOP_SENTENCE_REPEATS {
                return true;
            }
        }
    }
    repeated_ngram_share(text) >= LOOP_REPEATED_SHARE
}

/// Share of a text's word [`LOOP_NGRAM`]-grams that already appeared earlier in it; 0 for a text
/// of fewer than [`LOOP_MIN_WORDS`] words.
#[must_use]
pub fn repeated_ngram_share(text: &str) -> f64 {
    let all: Vec<String> = words(text).collect();
    if all.len() < LOOP_MIN_WORDS {
        return 0.0;
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0_u32;
    let mut repeated = 0_u32;
    for gram in all.windows(LOOP_NGRAM) {
        total += 1;
        if !seen.insert(gram) {
            repeated += 1;
        }
    }
    f64::from(repeated) / f64::from(total.max(1))
}

/// Whether a module's minutes and its tasks' sum are far apart: more than [`MINUTES_FACTOR`]
/// times apart either way and more than [`MINUTES_SLACK`] minutes apart. Compares the model's own
/// numbers (rounded, before clamping): a module of 600 minutes whose tasks add up to 600 is only
/// out of bounds, which clamping repairs (SPEC section 1), not a reason to re-ask.
#[must_use]
pub fn minutes_far_apart(module: f64, tasks_sum: f64) -> bool {
    let (low, high) = if module <= tasks_sum {
        (module, tasks_sum)
    } else {
        (tasks_sum, module)
    };
    high - low > MINUTES_SLACK && high > low * MINUTES_FACTOR
}

/// Collects the issues of one text: a copy of the example, or a loop.
fn check_text(
    text: &str,
    path: impl FnOnce() -> String,
    example: &ExampleTexts,
    issues: &mut Issues,
) {
    if example.copied(text) {
        issues.push(
            path(),
            "copies the example of the prompt: write it for this topic",
        );
    } else if is_looping(text) {
        issues.push(
            path(),
            "repeats the same words over and over: say it once, in one short sentence",
        );
    }
}

/// Reports, once per group, the items whose folded key repeats an earlier sibling's.
/// `path(i)` is the place of item `i`'s field; `what` names the items in the message.
fn check_siblings<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    path: impl Fn(usize) -> String,
    what: &str,
    issues: &mut Issues,
) {
    let mut first: HashMap<String, (usize, usize)> = HashMap::new();
    let mut order = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let folded = fold(key);
        let entry = first.entry(folded.clone()).or_insert((i, 0));
        entry.1 += 1;
        if entry.1 == 2 {
            order.push((folded, i));
        }
    }
    for (folded, at) in order {
        let (origin, count) = first.get(&folded).copied().unwrap_or((at, 2));
        issues.push(
            path(at),
            format!(
                "is the same title as {} ({count} {what} share it): give each its own title",
                path(origin)
            ),
        );
    }
}

/// The degenerate-answer rules on a plan that passed `validate_plan(doc)`: sibling titles, loops
/// and copies of the example in every title and description, and each module's minutes against
/// its tasks' (read from `doc`, before clamping).
///
/// # Errors
/// Every issue found, each with its path.
pub fn check_plan(
    doc: &Value,
    plan: &NormalizedPlan,
    example: &ExampleTexts,
) -> Result<(), Issues> {
    let mut issues = Issues::default();
    let raw_modules = doc.get("modules").and_then(Value::as_array);
    check_siblings(
        plan.modules.iter().map(|m| m.title.as_str()),
        |i| format!("modules[{i}].title"),
        "modules",
        &mut issues,
    );
    for (m, module) in plan.modules.iter().enumerate() {
        check_text(
            &module.title,
            || format!("modules[{m}].title"),
            example,
            &mut issues,
        );
        if let Some(d) = &module.description {
            check_text(
                d,
                || format!("modules[{m}].description"),
                example,
                &mut issues,
            );
        }
        check_siblings(
            module.tasks.iter().map(|t| t.title.as_str()),
            |t| format!("modules[{m}].tasks[{t}].title"),
            "tasks of this module",
            &mut issues,
        );
        for (t, task) in module.tasks.iter().enumerate() {
            check_text(
                &task.title,
                || format!("modules[{m}].tasks[{t}].title"),
                example,
                &mut issues,
            );
            if let Some(d) = &task.description {
                check_text(
                    d,
                    || format!("modules[{m}].tasks[{t}].description"),
                    example,
                    &mut issues,
                );
            }
        }
        let raw = raw_modules.and_then(|all| all.get(m));
        if let Some((own, sum)) = raw.and_then(raw_minutes)
            && minutes_far_apart(own, sum)
        {
            issues.push(
                format!("modules[{m}].estimated_minutes"),
                format!(
                    "is far from the sum of its tasks' minutes ({sum}): make the module's minutes about that sum, or its tasks fit them"
                ),
            );
        }
    }
    issues.into_result(())
}

/// A module's minutes and its tasks' sum as the model wrote them (rounded, not clamped).
fn raw_minutes(module: &Value) -> Option<(f64, f64)> {
    let minutes = |v: &Value| {
        v.get("estimated_minutes")
            .and_then(Value::as_f64)
            .map(f64::round)
    };
    let own = minutes(module)?;
    let sum = module
        .get("tasks")?
        .as_array()?
        .iter()
        .map(minutes)
        .sum::<Option<f64>>()?;
    Some((own, sum))
}

/// The degenerate-answer rules on validated flashcards: an answer that is the question, a
/// question another card already asks, loops and copies of the example.
///
/// # Errors
/// Every issue found, each with its path.
pub fn check_flashcards(cards: &[Flashcard], example: &ExampleTexts) -> Result<(), Issues> {
    let mut issues = Issues::default();
    let mut asked: HashMap<String, usize> = HashMap::new();
    for (i, card) in cards.iter().enumerate() {
        let question = fold(&card.question);
        if let Some(first) = asked.get(&question) {
            issues.push(
                format!("flashcards[{i}].question"),
                format!("asks the same as flashcards[{first}].question: ask something else"),
            );
        } else {
            asked.insert(question.clone(), i);
        }
        if fold(&card.answer) == question {
            issues.push(
                format!("flashcards[{i}].answer"),
                "repeats the question: answer it",
            );
        }
        check_text(
            &card.question,
            || format!("flashcards[{i}].question"),
            example,
            &mut issues,
        );
        check_text(
            &card.answer,
            || format!("flashcards[{i}].answer"),
            example,
            &mut issues,
        );
    }
    issues.into_result(())
}

/// The degenerate-answer rules on validated distractors: none may be the question (the
/// validator already refuses the answer and repeats), loop or copy the example.
///
/// # Errors
/// Every issue found, each with its path.
pub fn check_distractors(
    distractors: &[String],
    question: &str,
    example: &ExampleTexts,
) -> Result<(), Issues> {
    let mut issues = Issues::default();
    let question = fold(question);
    for (i, d) in distractors.iter().enumerate() {
        if fold(d) == question {
            issues.push(
                format!("distractors[{i}]"),
                "repeats the question: write a wrong answer to it",
            );
        } else {
            check_text(d, || format!("distractors[{i}]"), example, &mut issues);
        }
    }
    issues.into_result(())
}

/// The degenerate-answer rules on a validated skill tree: sibling titles, loops and copies of
/// the example in every title and description.
///
/// # Errors
/// Every issue found, each with its path.
pub fn check_skill_tree(tree: &SkillTree, example: &ExampleTexts) -> Result<(), Issues> {
    let mut issues = Issues::default();
    check_skills(&tree.roots, "skills", example, &mut issues);
    issues.into_result(())
}

fn check_skills(nodes: &[SkillNode], at: &str, example: &ExampleTexts, issues: &mut Issues) {
    check_siblings(
        nodes.iter().map(|n| n.title.as_str()),
        |i| format!("{at}[{i}].title"),
        "skills here",
        issues,
    );
    for (i, node) in nodes.iter().enumerate() {
        check_text(&node.title, || format!("{at}[{i}].title"), example, issues);
        if let Some(d) = &node.description {
            check_text(d, || format!("{at}[{i}].description"), example, issues);
        }
        check_skills(
            &node.children,
            &format!("{at}[{i}].children"),
            example,
            issues,
        );
    }
}
