//! The output schemas the model must follow (SPEC section 2), built from the domain's constants so
//! that the bounds the model is held to are the bounds the domain validates with.
//!
//! Every object is closed (`additionalProperties: false`) with every property required (optional
//! ones are nullable), as strict structured outputs demand. Field order is the order of
//! generation: short fields come first so that the first module is complete early in the stream.
//!
//! Two profiles differ only in the keywords they emit ([`SchemaProfile::allows`]):
//! - [`SchemaProfile::OpenAi`]: what OpenAI's strict mode accepts: integer `minimum`/`maximum`
//!   and array `minItems`/`maxItems`. OpenAI rejects `minLength`/`maxLength`, so text lengths are
//!   stated in the prompt and in `description`s, and enforced by the domain after the answer.
//! - [`SchemaProfile::Full`]: adds `minLength`/`maxLength` on every text, for servers that compile
//!   the schema into a grammar (llama.cpp, vLLM, Ollama), where a length bound stops a small model
//!   from repeating a sentence until the token budget runs out.

use serde_json::{Map, Value, json};
use syllabus_domain::content::{
    ANSWER_MAX_CHARS, DISTRACTORS, MAX_SKILL_DEPTH, MAX_SKILLS_PER_LEVEL, QUESTION_MAX_CHARS,
};
use syllabus_domain::plan::{
    Bounds, DESCRIPTION_MAX_CHARS, MAX_MODULES, MAX_TASKS, MIN_MODULES, MIN_TASKS, MODULE_MINUTES,
    TASK_MINUTES, TITLE_MAX_CHARS,
};

/// Which JSON-schema keywords the provider accepts in a strict schema (`LLM_SCHEMA_PROFILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaProfile {
    /// OpenAI's strict structured outputs (the default for remote endpoints).
    OpenAi,
    /// Every bound, text lengths included (the default for local servers).
    Full,
}

/// Keywords of the [`SchemaProfile::OpenAi`] profile.
const OPENAI_KEYWORDS: &[&str] = &[
    "type",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
];

/// What [`SchemaProfile::Full`] adds.
const LENGTH_KEYWORDS: &[&str] = &["minLength", "maxLength"];

impl SchemaProfile {
    /// The setting's value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Full => "full",
        }
    }

    /// Reads `openai` or `full`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(Self::OpenAi),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// The profile for an endpoint when none is configured: [`SchemaProfile::Full`] for a server
    /// on this machine or a private network (a loopback, private or link-local address,
    /// `localhost`, a single-label or `.local` host name), [`SchemaProfile::OpenAi`] otherwise, which
    /// every OpenAI-compatible server accepts.
    #[must_use]
    pub fn for_base_url(base_url: &str) -> Self {
        let local = match crate::endpoint::host(base_url) {
            Some(url::Host::Ipv4(ip)) => {
                ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
            }
            Some(url::Host::Ipv6(ip)) => {
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (ip.segments()[0] & 0xfe00) == 0xfc00
                    || (ip.segments()[0] & 0xffc0) == 0xfe80
            }
            Some(url::Host::Domain(host)) => {
                host == "localhost"
                    || host.ends_with(".localhost")
                    || host.ends_with(".local")
                    || host.ends_with(".internal")
                    || !host.contains('.')
            }
            None => false,
        };
        if local { Self::Full } else { Self::OpenAi }
    }

    /// Whether this profile may emit `keyword` (a test holds every schema to it).
    #[must_use]
    pub fn allows(self, keyword: &str) -> bool {
        OPENAI_KEYWORDS.contains(&keyword)
            || (self == Self::Full && LENGTH_KEYWORDS.contains(&keyword))
    }
}

/// Builds schema nodes for one profile.
#[derive(Debug, Clone, Copy)]
struct Builder(SchemaProfile);

impl Builder {
    /// A closed object whose properties are all required, in the given order.
    fn object(self, properties: Vec<(&str, Value)>) -> Value {
        let required: Vec<Value> = properties.iter().map(|(k, _)| json!(k)).collect();
        let properties: Map<String, Value> = properties
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    fn text(self, types: Value, min: usize, max: usize, description: String) -> Value {
        let mut node = json!({"type": types, "description": description});
        if self.0 == SchemaProfile::Full {
            if min > 0 {
                node["minLength"] = json!(min);
            }
            node["maxLength"] = json!(max);
        }
        node
    }

    /// A non-empty string of at most `max` characters.
    fn required_text(self, max: usize, what: &str) -> Value {
        self.text(
            json!("string"),
            1,
            max,
            format!("{what}, non-empty, at most {max} characters"),
        )
    }

    /// A string of at most `max` characters, or null.
    fn optional_text(self, max: usize, what: &str) -> Value {
        self.text(
            json!(["string", "null"]),
            0,
            max,
            format!("{what}, at most {max} characters, or null"),
        )
    }

    fn minutes(self, bounds: Bounds) -> Value {
        json!({
            "type": "integer",
            "minimum": bounds.min,
            "maximum": bounds.max,
            "description": format!("effort in whole minutes, {} to {}", bounds.min, bounds.max),
        })
    }

    fn array(self, items: Value, min: usize, max: usize) -> Value {
        json!({"type": "array", "items": items, "minItems": min, "maxItems": max})
    }

    fn module(self) -> Value {
        let task = self.object(vec![
            ("title", self.required_text(TITLE_MAX_CHARS, "short title")),
            ("estimated_minutes", self.minutes(TASK_MINUTES)),
            (
                "description",
                self.optional_text(DESCRIPTION_MAX_CHARS, "what to do, one sentence"),
            ),
        ]);
        self.object(vec![
            ("title", self.required_text(TITLE_MAX_CHARS, "short title")),
            ("estimated_minutes", self.minutes(MODULE_MINUTES)),
            (
                "description",
                self.optional_text(DESCRIPTION_MAX_CHARS, "what it covers, one sentence"),
            ),
            ("tasks", self.array(task, MIN_TASKS, MAX_TASKS)),
        ])
    }

    fn learning_plan(self) -> Value {
        self.object(vec![(
            "modules",
            self.array(self.module(), MIN_MODULES, MAX_MODULES),
        )])
    }

    fn flashcards(self, wanted: u32) -> Value {
        let card = self.object(vec![
            (
                "question",
                self.required_text(QUESTION_MAX_CHARS, "question"),
            ),
            ("answer", self.required_text(ANSWER_MAX_CHARS, "answer")),
        ]);
        let wanted = usize::try_from(wanted.max(1)).unwrap_or(1);
        self.object(vec![("flashcards", self.array(card, 1, wanted))])
    }

    fn distractors(self) -> Value {
        let item = self.required_text(ANSWER_MAX_CHARS, "a plausible wrong answer");
        self.object(vec![(
            "distractors",
            self.array(item, DISTRACTORS, DISTRACTORS),
        )])
    }

    /// A skill at `depth` (1 for roots); skills at the deepest level have no `children`, which is
    /// how the schema bounds the depth without recursion.
    fn skill(self, depth: u32) -> Value {
        let mut fields = vec![
            ("title", self.required_text(TITLE_MAX_CHARS, "short title")),
            (
                "description",
                self.optional_text(DESCRIPTION_MAX_CHARS, "what the skill is, one sentence"),
            ),
        ];
        if depth < MAX_SKILL_DEPTH {
            fields.push((
                "children",
                self.array(self.skill(depth + 1), 0, MAX_SKILLS_PER_LEVEL),
            ));
        }
        self.object(fields)
    }

    fn skill_tree(self) -> Value {
        self.object(vec![(
            "skills",
            self.array(self.skill(1), 1, MAX_SKILLS_PER_LEVEL),
        )])
    }
}

/// The `learning_plan` schema.
#[must_use]
pub fn learning_plan(profile: SchemaProfile) -> Value {
    Builder(profile).learning_plan()
}

/// The `learning_module` schema (issue #21): one module of a plan, exactly as a
/// `learning_plan`'s modules.
#[must_use]
pub fn learning_module(profile: SchemaProfile) -> Value {
    Builder(profile).module()
}

/// The `flashcards` schema for a call that asks for `wanted` cards (1 to `wanted` items).
#[must_use]
pub fn flashcards(profile: SchemaProfile, wanted: u32) -> Value {
    Builder(profile).flashcards(wanted)
}

/// The `distractors` schema: exactly three strings.
#[must_use]
pub fn distractors(profile: SchemaProfile) -> Value {
    Builder(profile).distractors()
}

/// The `skill_tree` schema: at most three levels.
#[must_use]
pub fn skill_tree(profile: SchemaProfile) -> Value {
    Builder(profile).skill_tree()
}

/// Characters per output token assumed when turning a document's size into a token budget: JSON
/// with short English texts runs at 3–4 characters per token on common tokenizers; the lower
/// figure keeps the budget on the generous side.
pub const CHARS_PER_TOKEN: u64 = 3;

/// The highest budget derived when `LLM_MAX_TOKENS` is not set.
pub const DEFAULT_MAX_TOKENS_CAP: u32 = 4_096;

/// The output token budget derived for a call with `schema` when `LLM_MAX_TOKENS` is not set:
/// the size of the largest document the schema's bounds admit (every array at `maxItems`, every
/// text at its length bound), in tokens, capped at `cap` ([`DEFAULT_MAX_TOKENS_CAP`]).
///
/// Lengths are counted from a [`SchemaProfile::Full`] schema (the only one that carries them),
/// so the budget is the same whichever profile is sent.
#[must_use]
pub fn token_budget(full_schema: &Value, cap: u32) -> u32 {
    let tokens = largest_document_chars(full_schema).div_ceil(CHARS_PER_TOKEN);
    u32::try_from(tokens).unwrap_or(u32::MAX).min(cap).max(1)
}

/// Characters of the largest compact JSON document `schema` admits.
fn largest_document_chars(schema: &Value) -> u64 {
    let count = |key: &str| schema.get(key).and_then(Value::as_u64).unwrap_or(0);
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"object") {
        let props = schema.get("properties").and_then(Value::as_object);
        let fields: u64 = props.map_or(0, |p| {
            p.iter()
                .map(|(k, v)| k.len() as u64 + 4 + largest_document_chars(v))
                .sum()
        });
        fields + 2
    } else if types.contains(&"array") {
        let item = schema.get("items").map_or(0, largest_document_chars);
        count("maxItems") * (item + 1) + 2
    } else if types.contains(&"string") {
        // Quotes, and room for a few escapes.
        count("maxLength") + 4
    } else if types.contains(&"integer") || types.contains(&"number") {
        count("maximum").max(1).to_string().len() as u64 + 1
    } else {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(profile: SchemaProfile) -> Vec<(&'static str, Value)> {
        vec![
            ("learning_module", learning_module(profile)),
            ("learning_plan", learning_plan(profile)),
            ("flashcards", flashcards(profile, 7)),
            ("distractors", distractors(profile)),
            ("skill_tree", skill_tree(profile)),
        ]
    }

    /// Every keyword used by `schema`, in subschemas and arrays of subschemas too (property
    /// names are not keywords).
    fn keywords(schema: &Value, out: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                for (key, value) in map {
                    out.push(key.clone());
                    if key == "properties" {
                        for prop in value.as_object().into_iter().flat_map(|p| p.values()) {
                            keywords(prop, out);
                        }
                    } else {
                        keywords(value, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| keywords(v, out)),
            _ => {}
        }
    }

    /// Deepest object nesting and number of properties of a schema.
    fn shape(schema: &Value) -> (usize, usize) {
        match schema {
            Value::Object(map) => {
                let own = usize::from(map.get("type") == Some(&json!("object")));
                let props = map.get("properties").and_then(Value::as_object);
                let mut depth = 0;
                let mut count = props.map_or(0, Map::len);
                for value in props
                    .into_iter()
                    .flat_map(|p| p.values())
                    .chain(map.get("items"))
                {
                    let (d, c) = shape(value);
                    depth = depth.max(d);
                    count += c;
                }
                (own + depth, count)
            }
            _ => (0, 0),
        }
    }

    #[test]
    fn each_profile_uses_only_its_documented_keywords() {
        // OpenAI's strict structured outputs, as documented ("Supported schemas"), minus what
        // these schemas have no use for (pattern, format, multipleOf, enum, anyOf, $ref, $defs):
        // written out here, not taken from the code under test.
        let openai_documented = [
            "type",
            "description",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minItems",
            "maxItems",
            "minimum",
            "maximum",
        ];
        for profile in [SchemaProfile::OpenAi, SchemaProfile::Full] {
            for (name, schema) in all(profile) {
                assert_eq!(
                    schema["type"], "object",
                    "{name}: the root must be an object"
                );
                let (depth, properties) = shape(&schema);
                assert!(
                    depth <= 10 && properties <= 5_000,
                    "{name}: {depth} levels, {properties} properties"
                );
                let mut used = Vec::new();
                keywords(&schema, &mut used);
                for keyword in &used {
                    assert!(
                        profile.allows(keyword),
                        "{name} ({}) uses `{keyword}`",
                        profile.as_str()
                    );
                    if profile == SchemaProfile::OpenAi {
                        assert!(
                            openai_documented.contains(&keyword.as_str()),
                            "{name} uses `{keyword}`"
                        );
                    } else {
                        assert!(
                            openai_documented.contains(&keyword.as_str())
                                || ["minLength", "maxLength"].contains(&keyword.as_str()),
                            "{name} uses `{keyword}`"
                        );
                    }
                }
                if profile == SchemaProfile::Full {
                    assert!(
                        used.iter().any(|k| k == "maxLength"),
                        "{name} bounds its texts"
                    );
                }
            }
        }
        assert!(!SchemaProfile::OpenAi.allows("maxLength"));
        assert!(SchemaProfile::Full.allows("maxLength"));
    }

    #[test]
    fn every_object_is_closed_with_all_properties_required_in_generation_order() {
        fn check(schema: &Value) {
            match schema {
                Value::Object(map) => {
                    if let Some(Value::Object(props)) = map.get("properties") {
                        let names: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                        assert_eq!(map["required"], Value::Array(names));
                        assert_eq!(map["additionalProperties"], false);
                    }
                    map.values().for_each(check);
                }
                Value::Array(items) => items.iter().for_each(check),
                _ => {}
            }
        }
        for profile in [SchemaProfile::OpenAi, SchemaProfile::Full] {
            all(profile).iter().for_each(|(_, s)| check(s));
        }
        let module = &learning_plan(SchemaProfile::OpenAi)["properties"]["modules"]["items"];
        let keys: Vec<&str> = module["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["title", "estimated_minutes", "description", "tasks"]);
    }

    #[test]
    fn a_learning_module_is_a_plans_module() {
        for profile in [SchemaProfile::OpenAi, SchemaProfile::Full] {
            assert_eq!(
                learning_module(profile),
                learning_plan(profile)["properties"]["modules"]["items"]
            );
        }
    }

    #[test]
    fn plan_bounds_are_the_domain_constants() {
        for profile in [SchemaProfile::OpenAi, SchemaProfile::Full] {
            let modules = &learning_plan(profile)["properties"]["modules"];
            assert_eq!(modules["minItems"], MIN_MODULES);
            assert_eq!(modules["maxItems"], MAX_MODULES);
            let module = &modules["items"]["properties"];
            assert_eq!(module["estimated_minutes"]["minimum"], MODULE_MINUTES.min);
            assert_eq!(module["estimated_minutes"]["maximum"], MODULE_MINUTES.max);
            assert_eq!(module["tasks"]["minItems"], MIN_TASKS);
            assert_eq!(module["tasks"]["maxItems"], MAX_TASKS);
            let task = &module["tasks"]["items"]["properties"];
            assert_eq!(task["estimated_minutes"]["minimum"], TASK_MINUTES.min);
            assert_eq!(task["estimated_minutes"]["maximum"], TASK_MINUTES.max);
            if profile == SchemaProfile::Full {
                assert_eq!(module["title"]["maxLength"], TITLE_MAX_CHARS);
                assert_eq!(module["title"]["minLength"], 1);
                assert_eq!(module["description"]["maxLength"], DESCRIPTION_MAX_CHARS);
                assert_eq!(task["title"]["maxLength"], TITLE_MAX_CHARS);
                assert_eq!(task["description"]["maxLength"], DESCRIPTION_MAX_CHARS);
            } else {
                assert!(module["title"].get("maxLength").is_none());
            }
        }
    }

    #[test]
    fn content_bounds_are_the_domain_constants() {
        for profile in [SchemaProfile::OpenAi, SchemaProfile::Full] {
            let cards = &flashcards(profile, 7)["properties"]["flashcards"];
            assert_eq!(
                (cards["minItems"].clone(), cards["maxItems"].clone()),
                (json!(1), json!(7))
            );
            let wrong = &distractors(profile)["properties"]["distractors"];
            assert_eq!(
                (wrong["minItems"].clone(), wrong["maxItems"].clone()),
                (json!(DISTRACTORS), json!(DISTRACTORS))
            );
            let roots = &skill_tree(profile)["properties"]["skills"];
            assert_eq!(roots["maxItems"], MAX_SKILLS_PER_LEVEL);
            assert_eq!(
                roots["items"]["properties"]["children"]["maxItems"],
                MAX_SKILLS_PER_LEVEL
            );
        }
        let full = SchemaProfile::Full;
        let cards = &flashcards(full, 7)["properties"]["flashcards"];
        assert_eq!(
            (cards["minItems"].clone(), cards["maxItems"].clone()),
            (json!(1), json!(7))
        );
        assert_eq!(
            cards["items"]["properties"]["question"]["maxLength"],
            QUESTION_MAX_CHARS
        );
        assert_eq!(
            cards["items"]["properties"]["answer"]["maxLength"],
            ANSWER_MAX_CHARS
        );

        let wrong = &distractors(full)["properties"]["distractors"];
        assert_eq!(wrong["minItems"], DISTRACTORS);
        assert_eq!(wrong["maxItems"], DISTRACTORS);
        assert_eq!(wrong["items"]["maxLength"], ANSWER_MAX_CHARS);

        let tree = skill_tree(full);
        let roots = &tree["properties"]["skills"];
        assert_eq!(roots["minItems"], 1);
        assert_eq!(roots["maxItems"], MAX_SKILLS_PER_LEVEL);
        let mut level = &roots["items"];
        let mut depth = 1;
        while let Some(children) = level["properties"].get("children") {
            assert_eq!(children["minItems"], 0);
            assert_eq!(children["maxItems"], MAX_SKILLS_PER_LEVEL);
            level = &children["items"];
            depth += 1;
        }
        assert_eq!(depth, MAX_SKILL_DEPTH, "the deepest level has no children");
    }

    #[test]
    fn local_endpoints_get_the_full_profile_and_remote_ones_openai() {
        for url in [
            "http://127.0.0.1:8091/v1",
            "http://localhost:11434/v1",
            "http://[::1]:8000/v1",
            "http://[fe80::1]:8000/v1",
            "http://10.0.0.5/v1",
            "http://192.168.1.2:8080/v1",
            "http://llama:8080/v1",
            "http://gpu.local/v1",
        ] {
            assert_eq!(
                SchemaProfile::for_base_url(url),
                SchemaProfile::Full,
                "{url}"
            );
        }
        for url in [
            "https://api.openai.com/v1",
            "https://my-gateway.openai.azure.com/openai/deployments/x",
            "https://8.8.8.8/v1",
            "https://user@api.example.com:443/v1",
        ] {
            assert_eq!(
                SchemaProfile::for_base_url(url),
                SchemaProfile::OpenAi,
                "{url}"
            );
        }
        assert_eq!(SchemaProfile::parse(" FULL "), Some(SchemaProfile::Full));
        assert_eq!(SchemaProfile::parse("openai"), Some(SchemaProfile::OpenAi));
        assert_eq!(SchemaProfile::parse("strict"), None);
    }

    #[test]
    fn budgets_follow_the_bounds_and_stop_at_the_cap() {
        let full = SchemaProfile::Full;
        let three = token_budget(&distractors(full), u32::MAX);
        assert_eq!(three, 2_012);
        // Three answers at their length bound, in tokens.
        let texts = u32::try_from(3 * ANSWER_MAX_CHARS).unwrap_or(0) / 3;
        assert!(three > texts && three < texts + 50, "{three}");
        assert!(
            token_budget(&flashcards(full, 2), u32::MAX)
                < token_budget(&flashcards(full, 3), u32::MAX)
        );
        assert_eq!(
            token_budget(&learning_plan(full), DEFAULT_MAX_TOKENS_CAP),
            DEFAULT_MAX_TOKENS_CAP
        );
        assert_eq!(token_budget(&distractors(full), 500), 500);
    }
}
