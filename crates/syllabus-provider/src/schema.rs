//! The output schemas the model must follow (SPEC section 2), generated from Rust types.
//!
//! The types exist to describe the shape once; validation of the model's output is done by the
//! domain crate on the parsed JSON, which reports every problem with its path.
//! Field order is kept (`preserve_order`): short fields come first so that the first module is
//! complete as early as possible in the stream.

use schemars::{JsonSchema, schema_for};
use serde_json::Value;

/// `learning_plan`.
#[derive(Debug, JsonSchema)]
pub struct LearningPlan {
    /// Modules in the order to study them.
    pub modules: Vec<PlanModule>,
}

/// One module of a plan.
#[derive(Debug, JsonSchema)]
pub struct PlanModule {
    /// Short title.
    pub title: String,
    /// Effort in minutes (15–480).
    pub estimated_minutes: i64,
    /// What the module covers, or null.
    pub description: Option<String>,
    /// Tasks in order (1–20).
    pub tasks: Vec<PlanTask>,
}

/// One task of a module.
#[derive(Debug, JsonSchema)]
pub struct PlanTask {
    /// Short title.
    pub title: String,
    /// Effort in minutes (5–120).
    pub estimated_minutes: i64,
    /// What to do, or null.
    pub description: Option<String>,
}

/// `flashcards`.
#[derive(Debug, JsonSchema)]
pub struct Flashcards {
    /// Question/answer cards.
    pub flashcards: Vec<FlashcardItem>,
}

/// One card.
#[derive(Debug, JsonSchema)]
pub struct FlashcardItem {
    /// At most 1,000 characters.
    pub question: String,
    /// At most 2,000 characters.
    pub answer: String,
}

/// `distractors`.
#[derive(Debug, JsonSchema)]
pub struct Distractors {
    /// Exactly three plausible wrong answers.
    pub distractors: Vec<String>,
}

/// `skill_tree`.
#[derive(Debug, JsonSchema)]
pub struct SkillTreeOutput {
    /// Root skills.
    pub skills: Vec<SkillItem>,
}

/// A skill with its sub-skills (depth at most 3).
#[derive(Debug, JsonSchema)]
pub struct SkillItem {
    /// Short title.
    pub title: String,
    /// What the skill is, or null.
    pub description: Option<String>,
    /// Sub-skills.
    pub children: Vec<SkillItem>,
}

/// The JSON schema of `T` in the form strict structured outputs accept: every object closed
/// (`additionalProperties: false`) with every property required (optional ones are nullable), and
/// no `format` annotations.
#[must_use]
pub fn strict_schema<T: JsonSchema>() -> Value {
    let mut value = serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("$schema");
    }
    make_strict(&mut value);
    value
}

fn make_strict(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("format");
            if let Some(Value::Object(props)) = map.get("properties") {
                let names: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                map.insert("required".into(), Value::Array(names));
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in map.values_mut() {
                make_strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_strict),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_schema_is_strict_and_keeps_field_order() {
        let schema = strict_schema::<LearningPlan>();
        let text = schema.to_string();
        assert!(!text.contains("\"format\""), "{text}");
        let module = &schema["$defs"]["PlanModule"];
        assert_eq!(module["additionalProperties"], false);
        let keys: Vec<&str> = module["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["title", "estimated_minutes", "description", "tasks"]);
        assert_eq!(
            module["required"],
            serde_json::json!(["title", "estimated_minutes", "description", "tasks"])
        );
        assert_eq!(schema["required"], serde_json::json!(["modules"]));
    }

    #[test]
    fn the_skill_tree_schema_is_recursive() {
        let schema = strict_schema::<SkillTreeOutput>();
        assert!(
            schema["$defs"]["SkillItem"]["properties"]["children"]["items"]["$ref"].is_string()
        );
    }
}
