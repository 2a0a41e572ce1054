//! The modules of a `learning_plan` answer watched as they stream: each valid one is sent as a
//! preview, and the first, when valid and on time, extends the call's deadline. The tasks of a
//! `learning_module` answer likewise: the module so far is sent as a draft each time a task
//! completes, and the first task, valid and on time, extends the deadline. The top-level skills
//! of a `skill_tree` answer (issue #24): each valid one is sent as a preview (no deadline change).

use serde_json::Value;
use syllabus_domain::content::{SkillNode, SkillTree, validate_root_skill};
use syllabus_domain::plan::validate_module;
use syllabus_domain::quality::{ExampleTexts, check_skill_tree};
use syllabus_domain::regen::{ModuleDraft, module_draft};
use tokio::time::Instant;

use crate::failure::AttemptFacts;
use crate::port::{DraftSender, ModulePreview, PreviewSender, SkillPreview, SkillSender};
use crate::scan::ElementScanner;

/// What a call watches as its answer streams.
pub(super) enum Watch {
    /// A plan's modules.
    Plan(ModuleWatch),
    /// A module's tasks.
    Module(TaskWatch),
    /// A skill tree's top-level skills.
    Skills(SkillWatch),
}

impl Watch {
    /// Looks at what completed since the last look; `true` (once) when the deadline extends.
    pub(super) fn look(
        &mut self,
        text: &str,
        started: Instant,
        on_time: bool,
        facts: &mut AttemptFacts,
    ) -> bool {
        match self {
            Self::Plan(w) => w.look(text, started, on_time, facts),
            Self::Module(w) => w.look(text, on_time, facts),
            Self::Skills(w) => {
                w.look(text);
                false
            }
        }
    }
}

/// The draft of a `learning_module` answer whose last complete task closes at byte `to` of
/// `text`: the prefix, closed, read by the domain's draft rules. `None` when it is not JSON.
pub(crate) fn draft_at(text: &str, to: usize) -> Option<ModuleDraft> {
    let head = text.get(..to)?;
    let closed = format!("{head}]}}");
    serde_json::from_str::<Value>(&closed)
        .ok()
        .map(|doc| module_draft(&doc))
}

/// For a `learning_module` call: watch the tasks as they stream, for the deadline and drafts.
pub(super) struct TaskWatch {
    scanner: ElementScanner,
    /// The next task's index.
    next: usize,
    /// Where drafts go; `None` once a task failed (nothing after it is shown) or when nobody
    /// listens.
    drafts: Option<DraftSender>,
}

impl TaskWatch {
    /// Watches an answer from its start, sending drafts to `drafts` when given.
    pub(super) fn new(drafts: Option<DraftSender>) -> Self {
        Self {
            scanner: ElementScanner::default(),
            next: 0,
            drafts,
        }
    }

    fn look(&mut self, text: &str, on_time: bool, facts: &mut AttemptFacts) -> bool {
        if self.next > 0 && self.drafts.is_none() {
            return false;
        }
        let mut extend = false;
        while let Some((_, to)) = self.scanner.next_element(text) {
            let index = self.next;
            self.next += 1;
            // Valid up to this task: every task so far is in the draft.
            let Some(draft) = draft_at(text, to).filter(|d| d.tasks.len() == index + 1) else {
                self.drafts = None;
                continue;
            };
            // As for a plan (SPEC section 1): the first complete, valid module, which is its
            // title and minutes with one complete task.
            if index == 0 && on_time && draft.title.is_some() && draft.estimated_minutes.is_some() {
                extend = true;
                facts.timeout_extended = true;
            }
            if let Some(tx) = &self.drafts
                && tx.send(draft).is_err()
            {
                self.drafts = None;
            }
        }
        extend
    }
}

/// For a `learning_plan` call: watch the modules as they stream, for the adaptive deadline and
/// for previews.
pub(super) struct ModuleWatch {
    scanner: ElementScanner,
    /// The next module's index.
    next: usize,
    /// Where valid modules go as previews; `None` once a module failed (the attempt will fail
    /// validation: its later modules are not shown) or when nobody listens.
    previews: Option<PreviewSender>,
}

impl ModuleWatch {
    /// Watches an answer from its start, sending previews to `previews` when given.
    pub(super) fn new(previews: Option<PreviewSender>) -> Self {
        Self {
            scanner: ElementScanner::default(),
            next: 0,
            previews,
        }
    }

    /// Looks at the modules completed since the last look: each valid one is sent as a preview;
    /// the first, when valid and `on_time`, extends the deadline (returns `true`, once).
    pub(super) fn look(
        &mut self,
        text: &str,
        started: Instant,
        on_time: bool,
        facts: &mut AttemptFacts,
    ) -> bool {
        if self.next > 0 && self.previews.is_none() {
            // The first module has decided the deadline and no preview is wanted any more: the
            // rest of the answer is not parsed twice.
            return false;
        }
        let mut extend = false;
        while let Some((from, to)) = self.scanner.next_element(text) {
            let index = self.next;
            self.next += 1;
            let module = text
                .get(from..to)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| validate_module(&v, index).ok());
            let Some(module) = module else {
                // An invalid module fails the attempt; nothing after it is shown.
                self.previews = None;
                continue;
            };
            if index == 0 {
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                facts.first_module_ms = Some(elapsed_ms);
                if on_time {
                    extend = true;
                    facts.timeout_extended = true;
                    tracing::debug!(elapsed_ms, "first module complete: deadline extended");
                }
            }
            if index >= syllabus_domain::plan::MAX_MODULES {
                self.previews = None;
            }
            if let Some(tx) = &self.previews
                && tx.send(ModulePreview { index, module }).is_err()
            {
                self.previews = None;
            }
        }
        extend
    }
}

/// For a `skill_tree` call: watch the top-level skills as they stream, for previews.
pub(super) struct SkillWatch {
    scanner: ElementScanner,
    /// The valid roots so far (the next one must differ from them).
    roots: Vec<SkillNode>,
    /// The quality rules' example texts (a copy of the example is refused).
    example: ExampleTexts,
    /// Where valid skills go; `None` once a skill failed (nothing after it is shown) or when
    /// nobody listens any more.
    skills: Option<SkillSender>,
}

impl SkillWatch {
    /// Watches an answer from its start, sending its skills to `skills`.
    pub(super) fn new(skills: SkillSender, example: ExampleTexts) -> Self {
        Self {
            scanner: ElementScanner::default(),
            roots: Vec::new(),
            example,
            skills: Some(skills),
        }
    }

    /// Looks at the top-level skills completed since the last look: each one valid by the
    /// tree's rules, as far as they can be told from the roots so far, is sent.
    pub(super) fn look(&mut self, text: &str) {
        while self.skills.is_some()
            && let Some((from, to)) = self.scanner.next_element(text)
        {
            let index = self.roots.len();
            let skill = text
                .get(from..to)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| validate_root_skill(&v, index).ok());
            let Some(skill) = skill else {
                self.skills = None;
                return;
            };
            self.roots.push(skill.clone());
            let so_far = SkillTree {
                roots: self.roots.clone(),
                node_count: 0,
                depth: 0,
            };
            if check_skill_tree(&so_far, &self.example).is_err() {
                self.skills = None;
                return;
            }
            if let Some(tx) = &self.skills
                && tx.send(SkillPreview { index, skill }).is_err()
            {
                self.skills = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> AttemptFacts {
        AttemptFacts {
            provider: "test".into(),
            model: "m".into(),
            duration_ms: 0,
            usage: None,
            timeout_extended: false,
            first_module_ms: None,
            prompt_hash: String::new(),
        }
    }

    /// The drafts a module's answer streamed in pieces of `piece` characters sends.
    fn drafts(text: &str, piece: usize) -> Vec<ModuleDraft> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watch = TaskWatch::new(Some(tx));
        let mut facts = facts();
        let mut buf = String::new();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece) {
            buf.extend(chunk);
            watch.look(&buf, true, &mut facts);
        }
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            out.push(d);
        }
        out
    }

    #[test]
    fn a_draft_is_sent_as_each_task_completes_and_none_after_an_invalid_one() {
        let text = json!({"title": "Borrowing", "estimated_minutes": 60, "description": null,
        "tasks": [
            {"title": "Read", "estimated_minutes": 20, "description": null},
            {"title": "Write", "estimated_minutes": 40, "description": "a } b"},
            {"title": "", "estimated_minutes": 5, "description": null},
            {"title": "After", "estimated_minutes": 5, "description": null},
        ]})
        .to_string();
        for piece in [1, 3, 17, 10_000] {
            let sent = drafts(&text, piece);
            let counts: Vec<usize> = sent.iter().map(|d| d.tasks.len()).collect();
            assert_eq!(counts, [1, 2], "piece {piece}");
            assert_eq!(sent[1].title.as_deref(), Some("Borrowing"));
            assert_eq!(sent[1].tasks[1].description.as_deref(), Some("a } b"));
        }
    }

    proptest::proptest! {
        /// A valid module streamed in any pieces sends one draft per task, the k-th holding the
        /// first k tasks as the whole module's validation gives them.
        #[test]
        fn drafts_grow_task_by_task_to_the_validated_module(
            titles in proptest::collection::btree_set("[a-z]{3,8}( [a-z]{1,5}){0,2}", 1..10),
            piece in 1usize..64,
        ) {
            let tasks: Vec<_> = titles
                .iter()
                .map(|t| json!({"title": t, "estimated_minutes": 10, "description": null}))
                .collect();
            let n = tasks.len();
            let doc = json!({"title": "Its own title", "estimated_minutes": 10 * n, "description": null, "tasks": tasks});
            let sent = drafts(&doc.to_string(), piece);
            let module = syllabus_domain::regen::validate_regenerated_module(
                &doc, 1, &[], &ExampleTexts::default(),
            );
            let module = module.map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(sent.len(), n);
            for (k, d) in sent.iter().enumerate() {
                proptest::prop_assert_eq!(&d.tasks[..], &module.tasks[..=k]);
            }
        }
    }

    /// The skills a tree's answer streamed in pieces of `piece` characters sends.
    fn skills(text: &str, piece: usize) -> Vec<SkillPreview> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watch = SkillWatch::new(tx, ExampleTexts::default());
        let mut buf = String::new();
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece) {
            buf.extend(chunk);
            watch.look(&buf);
        }
        let mut out = Vec::new();
        while let Ok(s) = rx.try_recv() {
            out.push(s);
        }
        out
    }

    #[test]
    fn each_valid_root_skill_is_sent_and_none_after_an_invalid_one() {
        let leaf = |t: &str| json!({"title": t, "description": null, "children": []});
        let text = json!({"skills": [
            {"title": "Ownership", "description": "a } ]", "children": [
                {"title": "Moves", "description": null, "children": [leaf("Copy types")]},
                leaf("Borrowing"),
            ]},
            leaf("Lifetimes"),
            leaf("ownership"),
            leaf("Traits"),
        ]})
        .to_string();
        for piece in [1, 3, 17, 10_000] {
            let sent = skills(&text, piece);
            let titles: Vec<&str> = sent.iter().map(|s| s.skill.title.as_str()).collect();
            // The third repeats the first (case aside): the tree fails, nothing more is shown.
            assert_eq!(titles, ["Ownership", "Lifetimes"], "piece {piece}");
            assert_eq!(sent[0].skill.children[0].children[0].path, "1.1.1");
            assert_eq!(sent[1].index, 1);
        }
        let deep = json!({"skills": [leaf("A"), {"title": "B", "children": [{"title": "C",
            "children": [{"title": "D", "children": [leaf("E")]}]}]}, leaf("F")]})
        .to_string();
        let sent = skills(&deep, 5);
        assert_eq!(sent.len(), 1);
    }
}
