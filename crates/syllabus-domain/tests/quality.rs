//! The degenerate-answer rules (issue #21): each on real answers of the embedded local model
//! (SmolLM2-135M-Instruct, saved under `tests/fixtures/`, stripped to what the test needs), on a
//! few written by hand, and as properties.

use proptest::prelude::*;
use serde_json::{Value, json};
use syllabus_domain::content::{Flashcard, validate_flashcards, validate_skill_tree};
use syllabus_domain::quality::{
    ExampleTexts, check_distractors, check_flashcards, check_plan, check_skill_tree, fold,
    is_looping, minutes_far_apart,
};
use syllabus_domain::{Issues, validate_plan};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The example texts of the plan prompt before issue #21, which named the topic.
fn legacy_example(topic: &str) -> ExampleTexts {
    ExampleTexts::new([
        format!("Getting started with {topic}"),
        format!("The first ideas of {topic}."),
        format!("Read an introduction to {topic}"),
    ])
}

fn plan_issues(doc: &Value, example: &ExampleTexts) -> Vec<(String, String)> {
    let plan = validate_plan(doc).unwrap_or_else(|e| panic!("the schema's rules: {e}"));
    check_plan(doc, &plan, example)
        .err()
        .map(Issues::into_vec)
        .unwrap_or_default()
        .into_iter()
        .map(|i| (i.path, i.message))
        .collect()
}

fn paths(issues: &[(String, String)]) -> Vec<&str> {
    issues.iter().map(|(p, _)| p.as_str()).collect()
}

fn check(doc: Value, expected: &[&str]) {
    let issues = plan_issues(&doc, &ExampleTexts::default());
    assert_eq!(paths(&issues), expected, "{issues:?}");
}

/// A saved real answer: its topic and the answer.
fn real(name: &str) -> (String, Value) {
    let saved = fixture(name);
    (
        saved["topic"].as_str().unwrap_or_default().to_owned(),
        saved["answer"].clone(),
    )
}

#[test]
fn a_real_plan_that_is_the_prompts_example_is_refused_at_every_text() {
    // "Linear algebra for machine learning", issue #21: came back `ready` as the example.
    let (topic, answer) = real("plan-copy-of-the-example.json");
    let issues = plan_issues(&answer, &legacy_example(&topic));
    assert_eq!(
        paths(&issues),
        [
            "modules[0].title",
            "modules[0].description",
            "modules[0].tasks[0].title",
        ]
    );
    assert!(
        issues
            .iter()
            .all(|(_, m)| m.starts_with("copies the example"))
    );
}

#[test]
fn a_real_plan_that_copies_one_text_of_the_example_is_refused_there() {
    // Punctuation and case differ ("…biology exam." for "…biology exam"): folding sees the copy.
    let (topic, answer) = real("plan-copies-a-task-of-the-example.json");
    let issues = plan_issues(&answer, &legacy_example(&topic));
    assert_eq!(paths(&issues), ["modules[0].tasks[0].title"]);
}

/// The paths of the issues of one rule (by the start of its message) in a real answer.
fn real_paths(name: &str, rule: &str) -> Vec<String> {
    let (topic, answer) = real(name);
    plan_issues(&answer, &legacy_example(&topic))
        .into_iter()
        .filter(|(_, m)| m.starts_with(rule))
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn a_real_plan_repeating_its_task_titles_is_refused_at_the_repeat() {
    assert_eq!(
        real_paths("plan-repeated-task-titles.json", "is the same title"),
        ["modules[0].tasks[1].title"]
    );
    // Hiragana: "Learn and remember rules of …" three times, reported once with the count.
    let (topic, answer) = real("plan-rambling-not-looping.json");
    let issues = plan_issues(&answer, &legacy_example(&topic));
    let repeats: Vec<_> = issues
        .iter()
        .filter(|(_, m)| m.starts_with("is the same title"))
        .collect();
    assert_eq!(repeats.len(), 1, "{issues:?}");
    assert_eq!(repeats[0].0, "modules[0].tasks[2].title");
    assert!(repeats[0].1.contains("(3 tasks of this module share it)"));
}

#[test]
fn real_looping_descriptions_are_refused_and_a_rambling_one_is_not() {
    // Pandas: a description that says its passages again (3-gram share 0.62).
    assert_eq!(
        real_paths("plan-looping-description.json", "repeats the same words"),
        ["modules[1].tasks[0].description"]
    );
    // First aid: "Learn everything every day." three times in a task's description.
    assert_eq!(
        real_paths("plan-looping-sentences.json", "repeats the same words"),
        ["modules[0].tasks[1].description"]
    );
    // Hiragana: rambling and repetitive (share 0.38) but not a loop: kept by this rule.
    assert!(real_paths("plan-rambling-not-looping.json", "repeats the same words").is_empty());
}

#[test]
fn real_modules_far_from_their_tasks_minutes_are_refused() {
    // Git: 80 minutes for a 20-minute task (4x), 150 for 50 (3x, kept), 400 for 30 (13x).
    assert_eq!(
        real_paths(
            "plan-module-minutes-far-from-tasks.json",
            "is far from the sum"
        ),
        [
            "modules[0].estimated_minutes",
            "modules[2].estimated_minutes"
        ]
    );
}

#[test]
fn folding_ignores_case_whitespace_and_punctuation() {
    for (a, b) in [
        ("The first task in the list.", "the FIRST task  in the list"),
        ("  Git: branches!", "git branches"),
        ("A/B testing", "a b testing"),
        ("Ça   va?", "ça va"),
    ] {
        assert_eq!(fold(a), fold(b), "{a} / {b}");
    }
    assert_ne!(fold("Module 1"), fold("Module 2"));
    assert_eq!(fold("…"), "");
}

#[test]
fn a_good_plan_written_by_hand_passes_every_rule() {
    check(
        json!({"modules": [
            {"title": "Variables and types", "estimated_minutes": 60, "description": "What a value is and how Rust names it.",
             "tasks": [
                {"title": "Read chapter 3.1", "estimated_minutes": 20, "description": "Mutability and shadowing."},
                {"title": "Write a temperature converter", "estimated_minutes": 40, "description": null}]},
            {"title": "Ownership", "estimated_minutes": 90, "description": "Moves, copies and drops.",
             "tasks": [
                {"title": "Read chapter 4.1", "estimated_minutes": 30, "description": null},
                {"title": "Fix five borrow-checker errors", "estimated_minutes": 45, "description": "Use the compiler's hints."},
                {"title": "Explain a move to a friend", "estimated_minutes": 15, "description": null}]}
        ]}),
        &[],
    );
}

#[test]
fn sibling_titles_are_compared_folded_and_each_group_is_reported_once() {
    let task = |title: &str| json!({"title": title, "estimated_minutes": 10, "description": null});
    check(
        json!({"modules": [
            {"title": "Basics", "estimated_minutes": 40, "description": null,
             "tasks": [task("Read"), task("read."), task("Write"), task("READ"), task(" write ")]},
            {"title": "basics!", "estimated_minutes": 20, "description": null,
             "tasks": [task("Read"), task("Write")]},
        ]}),
        &[
            "modules[1].title",
            "modules[0].tasks[1].title",
            "modules[0].tasks[4].title",
        ],
    );
    // The message names the first sibling and the count, never the title itself.
    let issues = plan_issues(
        &json!({"modules": [{"title": "M", "estimated_minutes": 30, "description": null,
            "tasks": [task("Secret words"), task("secret words"), task("Secret Words")]}]}),
        &ExampleTexts::default(),
    );
    assert_eq!(
        issues[0].1,
        "is the same title as modules[0].tasks[0].title (3 tasks of this module share it): give each its own title"
    );
    assert!(!issues[0].1.to_lowercase().contains("secret"));
}

#[test]
fn a_module_far_from_its_tasks_minutes_is_refused_but_one_only_out_of_bounds_is_not() {
    let module = |minutes: f64, tasks: &[f64]| {
        json!({"modules": [{"title": "M", "estimated_minutes": minutes, "description": null,
            "tasks": tasks.iter().enumerate().map(|(i, m)| json!({"title": format!("T{i}"), "estimated_minutes": m, "description": null})).collect::<Vec<_>>()}]})
    };
    // The issue's cases: 15 minutes for 270 of tasks, 20 for 400.
    check(
        module(15.0, &[90.0, 90.0, 90.0]),
        &["modules[0].estimated_minutes"],
    );
    check(module(20.0, &[20.0; 20]), &["modules[0].estimated_minutes"]);
    check(
        module(480.0, &[10.0, 10.0]),
        &["modules[0].estimated_minutes"],
    );
    // Close enough: a module counting some review time, a rounding habit.
    check(module(60.0, &[20.0, 20.0]), &[]);
    check(module(60.0, &[30.0]), &[]);
    check(module(15.0, &[5.0]), &[]);
    // Only out of bounds (600 clamped to 480, tasks of 150 clamped to 120): consistent, kept.
    check(module(600.0, &[150.0, 150.0, 150.0, 150.0]), &[]);
    assert!(!minutes_far_apart(100.0, 300.0), "three times is the limit");
    assert!(minutes_far_apart(100.0, 301.0));
    assert!(minutes_far_apart(301.0, 100.0));
    assert!(!minutes_far_apart(10.0, 40.0), "within the slack");
}

#[test]
fn looping_texts_are_refused_and_ordinary_ones_are_not() {
    let looping = "The n-th ideas are the first ideas of the n-th ideas. ".repeat(3)
        + &"the first ideas of the n-th ideas are ".repeat(10);
    assert!(is_looping(&looping));
    assert!(is_looping(
        "Practice every day. Practice every day. Practice every day."
    ));
    for fine in [
        "Read the chapter on ownership, then rewrite the example without clones.",
        "Step by step, step by step: build a habit.",
        "Learn the present tense of ser, estar, tener and ir, then write ten sentences about your \
         last trip using each verb at least twice, and read them aloud to a partner or a recording.",
    ] {
        assert!(!is_looping(fine), "{fine}");
    }
}

#[test]
fn a_text_copied_from_the_example_is_refused_wherever_it_is() {
    let example = ExampleTexts::new(["Inside the hive", "Label the parts of a frame"]);
    let doc = json!({"modules": [{"title": "inside the HIVE", "estimated_minutes": 30, "description": "Label the parts of a frame.",
        "tasks": [{"title": "Label the parts of a frame", "estimated_minutes": 30, "description": null}]}]});
    let issues = plan_issues(&doc, &example);
    assert_eq!(
        paths(&issues),
        [
            "modules[0].title",
            "modules[0].description",
            "modules[0].tasks[0].title"
        ]
    );
    assert_eq!(
        issues[0].1,
        "copies the example of the prompt: write it for this topic"
    );
    // Sharing words with the example is not copying it.
    let own = json!({"modules": [{"title": "Inside the borrow checker", "estimated_minutes": 30, "description": null,
        "tasks": [{"title": "Label the parts of an error", "estimated_minutes": 30, "description": null}]}]});
    assert!(plan_issues(&own, &example).is_empty());
    assert!(!ExampleTexts::default().copied(""));
}

fn cards(pairs: &[(&str, &str)]) -> Vec<Flashcard> {
    pairs
        .iter()
        .map(|(q, a)| Flashcard {
            question: (*q).to_owned(),
            answer: (*a).to_owned(),
        })
        .collect()
}

fn issue_paths(result: Result<(), Issues>) -> Vec<String> {
    result
        .err()
        .map(Issues::into_vec)
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.path)
        .collect()
}

#[test]
fn a_card_that_answers_with_its_question_or_repeats_another_is_refused() {
    let none = ExampleTexts::default();
    assert_eq!(
        issue_paths(check_flashcards(
            &cards(&[
                ("What is a commit?", "A snapshot of the project."),
                ("What is a branch?", "What is a branch"),
                ("what is a COMMIT", "A saved state."),
            ]),
            &none
        )),
        ["flashcards[1].answer", "flashcards[2].question"]
    );
    assert!(
        check_flashcards(
            &cards(&[("Hola means?", "Hello"), ("Adiós means?", "Goodbye")]),
            &none
        )
        .is_ok()
    );
}

/// The flashcards example of the prompt before issue #21 (and after: it names the topic).
fn cards_example(topic: &str) -> ExampleTexts {
    ExampleTexts::new([
        format!("What is one key idea of {topic}?"),
        format!("A short, correct answer about {topic}."),
    ])
}

#[test]
fn real_cards_that_copy_the_example_and_ask_one_question_five_times_are_refused() {
    let saved = fixture("flashcards-copied-and-repeated.json");
    let topic = saved["topic"].as_str().unwrap_or_default();
    let cards = validate_flashcards(&saved["answer"], 5).unwrap();
    assert_eq!(
        issue_paths(check_flashcards(&cards, &cards_example(topic))),
        [
            "flashcards[0].question",
            "flashcards[0].answer",
            "flashcards[1].question",
            "flashcards[1].question",
            "flashcards[2].question",
            "flashcards[2].question",
            "flashcards[3].question",
            "flashcards[3].question",
            "flashcards[4].question",
            "flashcards[4].question",
        ]
    );
}

#[test]
fn real_cards_whose_answers_are_their_questions_are_refused() {
    // "1. Git for beginners." answered "1. Git for Beginners.", five times over.
    let saved = fixture("flashcards-answer-is-the-question.json");
    let cards = validate_flashcards(&saved["answer"], 5).unwrap();
    let issues = check_flashcards(&cards, &ExampleTexts::default()).unwrap_err();
    assert_eq!(issues.as_slice().len(), 5);
    assert!(
        issues
            .as_slice()
            .iter()
            .all(|i| i.path.ends_with(".answer") && i.message == "repeats the question: answer it")
    );
}

#[test]
fn real_distractors_copied_from_the_example_are_refused() {
    let saved = fixture("distractors-copied.json");
    let wrong: Vec<String> =
        serde_json::from_value(saved["distractors"]["distractors"].clone()).unwrap();
    let question = saved["question"].as_str().unwrap_or_default();
    assert_eq!(
        issue_paths(check_distractors(
            &wrong,
            question,
            &ExampleTexts::new(["Saturn", "Neptune", "Earth"])
        )),
        ["distractors[0]", "distractors[1]", "distractors[2]"]
    );
}

#[test]
fn a_distractor_equal_to_the_question_is_refused() {
    let wrong = [
        "What is a fork?".to_owned(),
        "A tag".into(),
        "A stash".into(),
    ];
    assert_eq!(
        issue_paths(check_distractors(
            &wrong,
            "what is a FORK",
            &ExampleTexts::default()
        )),
        ["distractors[0]"]
    );
    let copied = ["Saturn".to_owned(), "A tag".into(), "A stash".into()];
    assert_eq!(
        issue_paths(check_distractors(
            &copied,
            "What is a fork?",
            &ExampleTexts::new(["Saturn", "Neptune", "Earth"])
        )),
        ["distractors[0]"]
    );
}

#[test]
fn sibling_skills_must_differ_but_cousins_may_share_a_title() {
    let tree = validate_skill_tree(&json!({"skills": [
        {"title": "Verbs", "description": null, "children": [
            {"title": "Present tense", "description": null, "children": []},
            {"title": "present  tense", "description": null, "children": []}]},
        {"title": "Nouns", "description": null, "children": [
            {"title": "Present tense", "description": null, "children": []}]},
        {"title": "verbs", "description": null, "children": []}
    ]}))
    .unwrap();
    assert_eq!(
        issue_paths(check_skill_tree(&tree, &ExampleTexts::default())),
        ["skills[2].title", "skills[0].children[1].title"]
    );
}

/// A plan of distinct titles whose modules' minutes are their tasks' sums.
fn distinct_plan(shape: &[Vec<u32>]) -> Value {
    json!({"modules": shape.iter().enumerate().map(|(m, tasks)| json!({
        "title": format!("Module {m} of the plan"),
        "estimated_minutes": tasks.iter().sum::<u32>(),
        "description": format!("What module {m} covers."),
        "tasks": tasks.iter().enumerate().map(|(t, minutes)| json!({
            "title": format!("Task {t} of module {m}"),
            "estimated_minutes": minutes,
            "description": null,
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()})
}

proptest! {
    #[test]
    fn folding_is_idempotent(text in "\\PC{0,60}") {
        let once = fold(&text);
        prop_assert_eq!(fold(&once), once.clone());
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
    }

    #[test]
    fn a_plan_built_without_repeats_is_never_flagged(
        shape in prop::collection::vec(prop::collection::vec(5u32..=120, 1..=5), 1..=6)
    ) {
        let doc = distinct_plan(&shape);
        prop_assert_eq!(plan_issues(&doc, &legacy_example("Rust")), vec![]);
    }

    #[test]
    fn any_repeated_task_title_is_flagged(
        shape in prop::collection::vec(prop::collection::vec(5u32..=120, 2..=5), 1..=4),
        module_pick in any::<prop::sample::Index>(),
        pair in any::<(prop::sample::Index, prop::sample::Index)>(),
        noise in "[ .!?,]{0,3}",
        upper in any::<bool>(),
    ) {
        let mut doc = distinct_plan(&shape);
        let m = module_pick.index(shape.len());
        let n = shape[m].len();
        let (a, b) = (pair.0.index(n), pair.1.index(n));
        prop_assume!(a != b);
        let (first, second) = (a.min(b), a.max(b));
        let title = doc["modules"][m]["tasks"][first]["title"].as_str().unwrap_or_default().to_owned();
        let copy = if upper { title.to_uppercase() } else { title };
        doc["modules"][m]["tasks"][second]["title"] = json!(format!("{copy}{noise}"));
        let issues = plan_issues(&doc, &ExampleTexts::default());
        let expected = format!("modules[{m}].tasks[{second}].title");
        prop_assert!(paths(&issues).contains(&expected.as_str()), "{:?}", issues);
    }

    #[test]
    fn any_text_repeated_many_times_loops(sentence in "[a-z]{2,8}( [a-z]{2,8}){2,6}", times in 4usize..12) {
        let text = format!("{sentence}. ").repeat(times);
        prop_assert!(is_looping(&text));
    }

    #[test]
    fn cards_built_without_repeats_are_never_flagged(n in 1usize..=20) {
        let doc = json!({"flashcards": (0..n).map(|i| json!({
            "question": format!("What does step {i} do?"),
            "answer": format!("It prepares step {}.", i + 1),
        })).collect::<Vec<_>>()});
        let cards = validate_flashcards(&doc, 50).unwrap();
        prop_assert!(check_flashcards(&cards, &ExampleTexts::default()).is_ok());
    }
}
