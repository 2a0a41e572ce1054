//! Validation of the other generated contents: flashcards, distractors and skill trees
//! (SPEC section 2).

use serde::Serialize;
use serde_json::Value;

use crate::fields::{optional_text, required_str, required_text};
use crate::issues::Issues;
use crate::plan::{DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};

/// Longest flashcard question, in characters.
pub const QUESTION_MAX_CHARS: usize = 1_000;
/// Longest flashcard answer, in characters.
pub const ANSWER_MAX_CHARS: usize = 2_000;
/// Most cards one job may ask for.
pub const MAX_CARDS: u32 = 50;
/// Distractors per card.
pub const DISTRACTORS: usize = 3;
/// Deepest skill tree.
pub const MAX_SKILL_DEPTH: u32 = 3;
/// Most skills at the root of a tree and under any one skill.
pub const MAX_SKILLS_PER_LEVEL: usize = 8;

/// One question/answer card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flashcard {
    /// Trimmed, non-empty.
    pub question: String,
    /// Trimmed, non-empty.
    pub answer: String,
}

/// Validates a `flashcards` document; cards beyond `wanted` are dropped.
///
/// # Errors
/// Every issue found: no cards, a blank or too-long question or answer.
pub fn validate_flashcards(doc: &Value, wanted: u32) -> Result<Vec<Flashcard>, Issues> {
    let mut issues = Issues::default();
    let Some(cards) = doc.get("flashcards").and_then(Value::as_array) else {
        issues.push("flashcards", "must be an array of cards");
        return Err(issues);
    };
    if cards.is_empty() {
        issues.push("flashcards", "must hold at least one card");
    }
    let keep = usize::try_from(wanted).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (i, card) in cards.iter().take(keep).enumerate() {
        let path = format!("flashcards[{i}]");
        let question = required_text(
            card,
            "question",
            QUESTION_MAX_CHARS,
            path.as_str(),
            &mut issues,
        );
        let answer = required_text(card, "answer", ANSWER_MAX_CHARS, path.as_str(), &mut issues);
        if let (Some(question), Some(answer)) = (question, answer) {
            out.push(Flashcard { question, answer });
        }
    }
    issues.into_result(out)
}

/// Validates a `distractors` document: exactly three wrong answers, distinct from each other and
/// from `answer`, compared without case and whitespace differences.
///
/// # Errors
/// Every issue found.
pub fn validate_distractors(doc: &Value, answer: &str) -> Result<[String; DISTRACTORS], Issues> {
    let mut issues = Issues::default();
    let Some(items) = doc.get("distractors").and_then(Value::as_array) else {
        issues.push("distractors", "must be an array of strings");
        return Err(issues);
    };
    if items.len() != DISTRACTORS {
        issues.push(
            "distractors",
            format!(
                "must hold exactly {DISTRACTORS} strings, found {}",
                items.len()
            ),
        );
        return Err(issues);
    }
    let mut seen = vec![fold(answer)];
    let mut out = Vec::with_capacity(DISTRACTORS);
    for (i, item) in items.iter().enumerate() {
        let path = || format!("distractors[{i}]");
        let Some(s) = required_str(Some(item), ANSWER_MAX_CHARS, path, &mut issues) else {
            continue;
        };
        let key = fold(&s);
        if seen.contains(&key) {
            issues.push(
                path(),
                "must differ from the answer and the other distractors",
            );
        } else {
            seen.push(key);
            out.push(s);
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    match <[String; DISTRACTORS]>::try_from(out) {
        Ok(arr) => Ok(arr),
        Err(_) => {
            issues.push(
                "distractors",
                format!("must hold exactly {DISTRACTORS} strings"),
            );
            Err(issues)
        }
    }
}

/// Lower-cases and collapses whitespace, for the distinctness rule.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A node of a validated skill tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillNode {
    /// Trimmed, non-empty.
    pub title: String,
    /// Trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// 1 for roots, at most 3.
    pub depth: u32,
    /// Materialized path of 1-based positions: `"1.2.3"`.
    pub path: String,
    /// Children in order.
    pub children: Vec<SkillNode>,
}

/// A validated skill tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillTree {
    /// Root skills in order.
    pub roots: Vec<SkillNode>,
    /// Number of nodes.
    pub node_count: u32,
    /// Deepest level used (1–3).
    pub depth: u32,
}

/// Validates a `skill_tree` document: at least one node, depth at most 3, at most
/// [`MAX_SKILLS_PER_LEVEL`] roots and children per skill, titles non-empty.
///
/// # Errors
/// Every issue found.
pub fn validate_skill_tree(doc: &Value) -> Result<SkillTree, Issues> {
    let mut issues = Issues::default();
    let Some(skills) = doc.get("skills").and_then(Value::as_array) else {
        issues.push("skills", "must be an array of skills");
        return Err(issues);
    };
    if skills.is_empty() {
        issues.push("skills", "must hold at least one skill");
    }
    let mut stats = (0u32, 0u32);
    let roots = skill_nodes(skills, "skills", "", 1, &mut stats, &mut issues);
    issues.into_result(SkillTree {
        roots,
        node_count: stats.0,
        depth: stats.1,
    })
}

/// Validates the top-level skill at `index` of a `skill_tree` answer on its own (issue #24: a
/// tree streams in root by root): the rules [`validate_skill_tree`] applies to that root and its
/// subtree, with the same paths (`skills[index]…`), plus the roots' count. A tree whose every
/// root passes, with at least one root, is a valid tree with these very roots.
///
/// # Errors
/// Every issue found in this root.
pub fn validate_root_skill(item: &Value, index: usize) -> Result<SkillNode, Issues> {
    let mut issues = Issues::default();
    if index >= MAX_SKILLS_PER_LEVEL {
        issues.push(
            "skills",
            format!("must hold at most {MAX_SKILLS_PER_LEVEL} skills"),
        );
    }
    let mut stats = (0u32, 0u32);
    match skill_node(item, index, "skills", "", 1, &mut stats, &mut issues) {
        Some(node) => issues.into_result(node),
        None => Err(issues),
    }
}

fn skill_nodes(
    items: &[Value],
    json_path: &str,
    parent: &str,
    depth: u32,
    stats: &mut (u32, u32),
    issues: &mut Issues,
) -> Vec<SkillNode> {
    if items.len() > MAX_SKILLS_PER_LEVEL {
        issues.push(
            json_path,
            format!(
                "must hold at most {MAX_SKILLS_PER_LEVEL} skills, found {}",
                items.len()
            ),
        );
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| skill_node(item, i, json_path, parent, depth, stats, issues))
        .collect()
}

/// The skill `item` at position `i` (0-based) of the array at `json_path`, under the node at
/// `parent` (`""` for a root); `None` (with an issue) when its title is missing or invalid.
fn skill_node(
    item: &Value,
    i: usize,
    json_path: &str,
    parent: &str,
    depth: u32,
    stats: &mut (u32, u32),
    issues: &mut Issues,
) -> Option<SkillNode> {
    let here = format!("{json_path}[{i}]");
    let path = if parent.is_empty() {
        format!("{}", i + 1)
    } else {
        format!("{parent}.{}", i + 1)
    };
    let title = required_text(item, "title", TITLE_MAX_CHARS, here.as_str(), issues);
    let description = optional_text(
        item,
        "description",
        DESCRIPTION_MAX_CHARS,
        here.as_str(),
        issues,
    )
    .flatten();
    let children = match item.get("children") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(kids)) if kids.is_empty() => Vec::new(),
        Some(Value::Array(_)) if depth >= MAX_SKILL_DEPTH => {
            issues.push(
                format!("{here}.children"),
                format!("the tree must be at most {MAX_SKILL_DEPTH} levels deep"),
            );
            Vec::new()
        }
        Some(Value::Array(kids)) => skill_nodes(
            kids,
            &format!("{here}.children"),
            &path,
            depth + 1,
            stats,
            issues,
        ),
        Some(_) => {
            issues.push(format!("{here}.children"), "must be an array");
            Vec::new()
        }
    };
    stats.0 += 1;
    stats.1 = stats.1.max(depth);
    Some(SkillNode {
        title: title?,
        description,
        depth,
        path,
        children,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(issues: &Issues) -> Vec<String> {
        issues.as_slice().iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn nul_in_cards_and_distractors_is_a_validation_issue() {
        let doc = json!({"flashcards": [{"question": "Q\0", "answer": "A"}]});
        assert_eq!(
            paths(&validate_flashcards(&doc, 5).unwrap_err()),
            ["flashcards[0].question"]
        );
    }

    #[test]
    fn extra_flashcards_are_dropped() {
        let doc = json!({"flashcards": [
            {"question": "Q1", "answer": "A1"}, {"question": "Q2", "answer": "A2"}, {"question": "Q3", "answer": "A3"}
        ]});
        let cards = validate_flashcards(&doc, 2).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[1].question, "Q2");
    }

    #[test]
    fn placeholder_texts_without_a_letter_or_digit_are_invalid() {
        let doc = json!({"flashcards": [{"question": "…?", "answer": "42"}, {"question": "What is 6 × 7?", "answer": "—"}]});
        assert_eq!(
            paths(&validate_flashcards(&doc, 5).unwrap_err()),
            ["flashcards[0].question", "flashcards[1].answer"]
        );
        let tree = json!({"skills": [{"title": "…", "description": "…", "children": []}]});
        assert_eq!(
            paths(&validate_skill_tree(&tree).unwrap_err()),
            ["skills[0].title"],
            "descriptions may be anything short"
        );
    }

    #[test]
    fn blank_or_long_flashcards_are_invalid() {
        let doc = json!({"flashcards": [{"question": " ", "answer": "x".repeat(2_001)}]});
        assert_eq!(
            paths(&validate_flashcards(&doc, 5).unwrap_err()),
            ["flashcards[0].question", "flashcards[0].answer"]
        );
        assert_eq!(
            paths(&validate_flashcards(&json!({"flashcards": []}), 5).unwrap_err()),
            ["flashcards"]
        );
    }

    #[test]
    fn distractors_must_be_three_and_distinct() {
        let ok = json!({"distractors": ["Paris", "Rome", "Madrid"]});
        assert_eq!(
            validate_distractors(&ok, "Berlin").unwrap(),
            ["Paris", "Rome", "Madrid"]
        );
        let dup = json!({"distractors": ["Paris", " paris ", "Madrid"]});
        assert_eq!(
            paths(&validate_distractors(&dup, "Berlin").unwrap_err()),
            ["distractors[1]"]
        );
        let same_as_answer = json!({"distractors": ["Big   BERLIN", "Rome", "Madrid"]});
        assert_eq!(
            paths(&validate_distractors(&same_as_answer, "big berlin").unwrap_err()),
            ["distractors[0]"]
        );
        let placeholder = json!({"distractors": ["…", "Rome", "Madrid"]});
        assert_eq!(
            paths(&validate_distractors(&placeholder, "Paris").unwrap_err()),
            ["distractors[0]"]
        );
        let two = json!({"distractors": ["a", "b"]});
        assert_eq!(
            paths(&validate_distractors(&two, "c").unwrap_err()),
            ["distractors"]
        );
    }

    #[test]
    fn skill_trees_get_materialized_paths_and_counts() {
        let doc = json!({"skills": [
            {"title": "A", "description": null, "children": [
                {"title": "A1", "description": "d", "children": [{"title": "A1a", "description": null, "children": []}]},
                {"title": "A2", "description": null, "children": []}
            ]},
            {"title": "B", "description": null, "children": []}
        ]});
        let tree = validate_skill_tree(&doc).unwrap();
        assert_eq!(tree.node_count, 5);
        assert_eq!(tree.depth, 3);
        assert_eq!(tree.roots[0].children[0].children[0].path, "1.1.1");
        assert_eq!(tree.roots[0].children[1].path, "1.2");
        assert_eq!(tree.roots[1].path, "2");
    }

    #[test]
    fn skill_trees_deeper_than_three_wider_than_allowed_or_empty_are_invalid() {
        let deep = json!({"skills": [{"title": "A", "children": [{"title": "B", "children": [{"title": "C", "children": [{"title": "D"}]}]}]}]});
        assert_eq!(
            paths(&validate_skill_tree(&deep).unwrap_err()),
            ["skills[0].children[0].children[0].children"]
        );
        assert_eq!(
            paths(&validate_skill_tree(&json!({"skills": []})).unwrap_err()),
            ["skills"]
        );
        let leaf =
            |i: usize| json!({"title": format!("S{i}"), "description": null, "children": []});
        let wide_root = json!({"skills": (0..=MAX_SKILLS_PER_LEVEL).map(leaf).collect::<Vec<_>>()});
        assert_eq!(
            paths(&validate_skill_tree(&wide_root).unwrap_err()),
            ["skills"]
        );
        let wide_child = json!({"skills": [{"title": "A", "children": (0..=MAX_SKILLS_PER_LEVEL).map(leaf).collect::<Vec<_>>()}]});
        assert_eq!(
            paths(&validate_skill_tree(&wide_child).unwrap_err()),
            ["skills[0].children"]
        );
        let widest = json!({"skills": (0..MAX_SKILLS_PER_LEVEL).map(leaf).collect::<Vec<_>>()});
        assert!(validate_skill_tree(&widest).is_ok());
        let blank = json!({"skills": [{"title": "", "children": []}]});
        assert_eq!(
            paths(&validate_skill_tree(&blank).unwrap_err()),
            ["skills[0].title"]
        );
    }

    #[test]
    fn a_root_skill_alone_is_checked_as_in_its_tree() {
        let root = json!({"title": " A ", "description": "", "children": [
            {"title": "A1", "description": "d", "children": [{"title": "A1a", "children": []}]}
        ]});
        let node = validate_root_skill(&root, 1).unwrap();
        assert_eq!(node.title, "A");
        assert_eq!(node.description, None);
        assert_eq!(node.children[0].children[0].path, "2.1.1");
        let deep = json!({"title": "A", "children": [{"title": "B", "children": [{"title": "C", "children": [{"title": "D"}]}]}]});
        assert_eq!(
            paths(&validate_root_skill(&deep, 2).unwrap_err()),
            ["skills[2].children[0].children[0].children"]
        );
        let leaf = json!({"title": "Leaf", "children": []});
        assert!(validate_root_skill(&leaf, MAX_SKILLS_PER_LEVEL - 1).is_ok());
        assert_eq!(
            paths(&validate_root_skill(&leaf, MAX_SKILLS_PER_LEVEL).unwrap_err()),
            ["skills"]
        );
        assert_eq!(
            paths(&validate_root_skill(&json!({"title": " "}), 0).unwrap_err()),
            ["skills[0].title"]
        );
    }

    /// Skill-tree-like JSON `levels` deep below this node: titles sometimes blank, some trees
    /// deeper than allowed.
    fn arb_skill(levels: u32) -> proptest::strategy::BoxedStrategy<Value> {
        use proptest::prelude::*;
        let title = prop_oneof![6 => "[A-Z][a-z]{0,5}", 1 => Just(String::new()), 1 => Just("  ".to_owned())];
        let description = proptest::option::of("[a-z ]{0,8}");
        if levels == 0 {
            (title, description)
                .prop_map(|(t, d)| json!({"title": t, "description": d, "children": []}))
                .boxed()
        } else {
            let kids = prop_oneof![
                4 => proptest::collection::vec(arb_skill(levels - 1), 0..3),
                1 => Just(Vec::new()),
            ];
            (title, description, kids)
                .prop_map(|(t, d, k)| json!({"title": t, "description": d, "children": k}))
                .boxed()
        }
    }

    proptest::proptest! {
        /// Streaming a tree root by root decides as the whole tree does: the tree is valid iff
        /// it has roots and each passes alone, with the same nodes; the issues are the same,
        /// root by root (the roots' count aside).
        #[test]
        fn roots_checked_one_by_one_agree_with_the_whole_tree(
            roots in proptest::collection::vec(arb_skill(3), 0..11),
        ) {
            let whole = validate_skill_tree(&json!({"skills": roots}));
            let each: Vec<_> = roots
                .iter()
                .enumerate()
                .map(|(i, r)| validate_root_skill(r, i))
                .collect();
            proptest::prop_assert_eq!(
                whole.is_ok(),
                !roots.is_empty() && each.iter().all(Result::is_ok)
            );
            let not_count = |p: &String| p != "skills";
            let whole_paths: Vec<String> = match &whole {
                Ok(_) => Vec::new(),
                Err(issues) => paths(issues).into_iter().filter(not_count).collect(),
            };
            let each_paths: Vec<String> = each
                .iter()
                .filter_map(|r| r.as_ref().err())
                .flat_map(paths)
                .filter(not_count)
                .collect();
            proptest::prop_assert_eq!(whole_paths, each_paths);
            if let Ok(tree) = whole {
                let nodes: Vec<SkillNode> = each.into_iter().flatten().collect();
                proptest::prop_assert_eq!(tree.roots, nodes);
            }
        }
    }
}
