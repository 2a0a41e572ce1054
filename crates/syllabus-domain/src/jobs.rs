//! Job types and job statuses: the closed sets the queue, the API and the handlers share.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::ids::{FlashcardId, PlanId};
use crate::input::string_enum;
use crate::issues::Issues;

string_enum!(
    /// What a background job does. The job runtime matches on it exhaustively, so a type cannot
    /// exist without a handler. `ALL` is the public contract (SPEC's Job type); the internal
    /// types are the runtime's own work, never listed, created or shown through the API.
    JobType {
        PlanGeneration => "plan_generation",
        Flashcards => "flashcards",
        Distractors => "distractors",
        SkillTree => "skill_tree",
        ModuleRegeneration => "module_regeneration",
    }
    internal {
        /// `webhook_delivery`: one webhook delivery's attempt (issue #23), queued by the
        /// database trigger on a job's end or by a test event.
        WebhookDelivery => "webhook_delivery",
    }
);

string_enum!(
    /// Where a job stands.
    JobStatus {
        Pending => "pending",
        Processing => "processing",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl JobStatus {
    /// Whether the job will not change any more (a `failed` job may still be retried, which
    /// creates a new job).
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

pub use crate::content::MAX_CARDS;
/// Cards per flashcards job when the request does not say.
pub const DEFAULT_CARDS: u32 = 10;
/// Bounds of a job's priority (higher runs first).
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -100..=100;

/// A job's validated payload: what its handler works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPayload {
    /// Generate a plan's modules and tasks.
    PlanGeneration {
        /// The plan.
        plan_id: PlanId,
    },
    /// Add up to `max_cards` question/answer cards to a plan's deck.
    Flashcards {
        /// The plan.
        plan_id: PlanId,
        /// Only this module, when given.
        module_id: Option<Uuid>,
        /// 1–50.
        max_cards: u32,
    },
    /// Three wrong answers for a card.
    Distractors {
        /// The card.
        flashcard_id: FlashcardId,
    },
    /// A plan's skill tree.
    SkillTree {
        /// The plan.
        plan_id: PlanId,
    },
    /// One module of a plan generated anew (issue #21), in place.
    ModuleRegeneration {
        /// The plan.
        plan_id: PlanId,
        /// The module.
        module_id: Uuid,
        /// The learner's instruction, trimmed, at most
        /// [`INSTRUCTION_MAX_CHARS`](crate::regen::INSTRUCTION_MAX_CHARS) characters.
        instruction: Option<String>,
    },
    /// Attempt one webhook delivery (issue #23; internal).
    WebhookDelivery {
        /// The delivery (`webhook_deliveries.id`, the `webhook-id` sent).
        delivery_id: Uuid,
    },
}

fn uuid_field(doc: &Map<String, Value>, name: &str, issues: &mut Issues) -> Option<Uuid> {
    match doc.get(name) {
        None | Some(Value::Null) => {
            issues.push(format!("payload.{name}"), "is required");
            None
        }
        Some(v) => {
            // Only the hyphenated form (the document's `format: uuid`); `Uuid::parse_str` also
            // takes simple, braced and URN forms.
            let parsed = v
                .as_str()
                .filter(|s| s.len() == 36)
                .and_then(|s| Uuid::parse_str(s).ok());
            if parsed.is_none() {
                issues.push(format!("payload.{name}"), "must be a UUID");
            }
            parsed
        }
    }
}

impl JobPayload {
    /// Validates `payload` for `job_type`, naming each bad field as `payload.<name>`.
    ///
    /// # Errors
    /// Every issue found: a missing or malformed id, `max_cards` outside 1–50, a payload that is
    /// not an object.
    pub fn parse(job_type: JobType, payload: &Value) -> Result<Self, Issues> {
        let mut issues = Issues::default();
        let Some(doc) = payload.as_object() else {
            issues.push("payload", "must be a JSON object");
            return Err(issues);
        };
        let parsed = match job_type {
            JobType::PlanGeneration => {
                uuid_field(doc, "plan_id", &mut issues).map(|id| Self::PlanGeneration {
                    plan_id: PlanId::from_uuid(id),
                })
            }
            JobType::Flashcards => {
                let plan_id = uuid_field(doc, "plan_id", &mut issues);
                let module_id = match doc.get("module_id") {
                    None | Some(Value::Null) => None,
                    Some(_) => uuid_field(doc, "module_id", &mut issues),
                };
                let max_cards = match doc.get("max_cards") {
                    None | Some(Value::Null) => Some(DEFAULT_CARDS),
                    Some(v) => {
                        let n = v
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .filter(|n| (1..=MAX_CARDS).contains(n));
                        if n.is_none() {
                            issues.push(
                                "payload.max_cards",
                                format!("must be an integer from 1 to {MAX_CARDS}"),
                            );
                        }
                        n
                    }
                };
                match (plan_id, max_cards) {
                    (Some(plan_id), Some(max_cards)) => Some(Self::Flashcards {
                        plan_id: PlanId::from_uuid(plan_id),
                        module_id,
                        max_cards,
                    }),
                    _ => None,
                }
            }
            JobType::Distractors => {
                uuid_field(doc, "flashcard_id", &mut issues).map(|id| Self::Distractors {
                    flashcard_id: FlashcardId::from_uuid(id),
                })
            }
            JobType::SkillTree => {
                uuid_field(doc, "plan_id", &mut issues).map(|id| Self::SkillTree {
                    plan_id: PlanId::from_uuid(id),
                })
            }
            JobType::ModuleRegeneration => {
                let plan_id = uuid_field(doc, "plan_id", &mut issues);
                let module_id = uuid_field(doc, "module_id", &mut issues);
                let instruction = crate::regen::parse_instruction(doc.get("instruction"))
                    .map_err(|m| issues.push("payload.instruction", m))
                    .ok();
                match (plan_id, module_id, instruction) {
                    (Some(plan_id), Some(module_id), Some(instruction)) => {
                        Some(Self::ModuleRegeneration {
                            plan_id: PlanId::from_uuid(plan_id),
                            module_id,
                            instruction,
                        })
                    }
                    _ => None,
                }
            }
            JobType::WebhookDelivery => uuid_field(doc, "delivery_id", &mut issues)
                .map(|delivery_id| Self::WebhookDelivery { delivery_id }),
        };
        match parsed {
            Some(p) if issues.is_empty() => Ok(p),
            _ => Err(issues),
        }
    }

    /// The type this payload belongs to.
    #[must_use]
    pub const fn job_type(&self) -> JobType {
        match self {
            Self::PlanGeneration { .. } => JobType::PlanGeneration,
            Self::Flashcards { .. } => JobType::Flashcards,
            Self::Distractors { .. } => JobType::Distractors,
            Self::SkillTree { .. } => JobType::SkillTree,
            Self::ModuleRegeneration { .. } => JobType::ModuleRegeneration,
            Self::WebhookDelivery { .. } => JobType::WebhookDelivery,
        }
    }

    /// The plan it concerns, when it names one.
    #[must_use]
    pub const fn plan_id(&self) -> Option<PlanId> {
        match self {
            Self::PlanGeneration { plan_id }
            | Self::Flashcards { plan_id, .. }
            | Self::SkillTree { plan_id }
            | Self::ModuleRegeneration { plan_id, .. } => Some(*plan_id),
            Self::Distractors { .. } | Self::WebhookDelivery { .. } => None,
        }
    }

    /// The canonical JSON stored in `jobs.payload` (defaults filled in).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::PlanGeneration { plan_id } | Self::SkillTree { plan_id } => {
                json!({ "plan_id": plan_id.as_uuid() })
            }
            Self::Flashcards {
                plan_id,
                module_id,
                max_cards,
            } => {
                json!({ "plan_id": plan_id.as_uuid(), "module_id": module_id, "max_cards": max_cards })
            }
            Self::Distractors { flashcard_id } => json!({ "flashcard_id": flashcard_id.as_uuid() }),
            Self::ModuleRegeneration {
                plan_id,
                module_id,
                instruction,
            } => {
                let mut doc = json!({ "plan_id": plan_id.as_uuid(), "module_id": module_id });
                if let Some(text) = instruction {
                    doc["instruction"] = json!(text);
                }
                doc
            }
            Self::WebhookDelivery { delivery_id } => json!({ "delivery_id": delivery_id }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in JobType::ALL {
            assert_eq!(t.as_str().parse::<JobType>(), Ok(*t));
        }
        assert_eq!(
            "plan_generation".parse::<JobType>(),
            Ok(JobType::PlanGeneration)
        );
        assert!("planGeneration".parse::<JobType>().is_err());
    }

    #[test]
    fn payloads_are_validated_per_type_and_name_their_fields() {
        let plan = Uuid::now_v7();
        let ok = JobPayload::parse(JobType::Flashcards, &json!({"plan_id": plan}));
        assert_eq!(
            ok,
            Ok(JobPayload::Flashcards {
                plan_id: PlanId::from_uuid(plan),
                module_id: None,
                max_cards: DEFAULT_CARDS
            })
        );
        let paths = |r: Result<JobPayload, Issues>| -> Vec<String> {
            r.err()
                .map(|i| i.as_slice().iter().map(|i| i.path.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            paths(JobPayload::parse(
                JobType::Flashcards,
                &json!({"plan_id": plan, "max_cards": 51})
            )),
            ["payload.max_cards"]
        );
        assert_eq!(
            paths(JobPayload::parse(
                JobType::Flashcards,
                &json!({"max_cards": 0, "module_id": "x"})
            )),
            ["payload.plan_id", "payload.module_id", "payload.max_cards"]
        );
        assert_eq!(
            paths(JobPayload::parse(
                JobType::Distractors,
                &json!({"flashcard_id": 7})
            )),
            ["payload.flashcard_id"]
        );
        for other in [
            plan.simple().to_string(),
            plan.braced().to_string(),
            plan.urn().to_string(),
        ] {
            assert_eq!(
                paths(JobPayload::parse(
                    JobType::SkillTree,
                    &json!({"plan_id": other})
                )),
                ["payload.plan_id"]
            );
        }
        assert_eq!(
            paths(JobPayload::parse(JobType::SkillTree, &json!([plan]))),
            ["payload"]
        );
        let tree = JobPayload::parse(JobType::SkillTree, &json!({"plan_id": plan}));
        assert_eq!(
            tree.as_ref().map(JobPayload::job_type),
            Ok(JobType::SkillTree)
        );
        assert_eq!(tree.map(|t| t.to_json()), Ok(json!({"plan_id": plan})));
    }

    #[test]
    fn a_module_regeneration_payload_names_its_module_and_bounds_its_instruction() {
        let (plan, module) = (Uuid::now_v7(), Uuid::now_v7());
        let parse = |doc: Value| JobPayload::parse(JobType::ModuleRegeneration, &doc);
        let ok =
            parse(json!({"plan_id": plan, "module_id": module, "instruction": "  more hands-on "}));
        let expected = JobPayload::ModuleRegeneration {
            plan_id: PlanId::from_uuid(plan),
            module_id: module,
            instruction: Some("more hands-on".into()),
        };
        assert_eq!(ok, Ok(expected.clone()));
        assert_eq!(
            expected.to_json(),
            json!({"plan_id": plan, "module_id": module, "instruction": "more hands-on"})
        );
        let blank = parse(json!({"plan_id": plan, "module_id": module, "instruction": "  "}));
        assert_eq!(
            blank.map(|p| p.to_json()),
            Ok(json!({"plan_id": plan, "module_id": module}))
        );
        let long = "é".repeat(crate::regen::INSTRUCTION_MAX_CHARS + 1);
        let paths = |r: Result<JobPayload, Issues>| -> Vec<String> {
            r.err()
                .map(|i| i.as_slice().iter().map(|i| i.path.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            paths(parse(
                json!({"plan_id": plan, "module_id": module, "instruction": long})
            )),
            ["payload.instruction"]
        );
        assert_eq!(
            paths(parse(json!({"plan_id": plan, "instruction": 3}))),
            ["payload.module_id", "payload.instruction"]
        );
        let at_max = "é".repeat(crate::regen::INSTRUCTION_MAX_CHARS);
        assert!(
            parse(json!({"plan_id": plan, "module_id": module, "instruction": at_max})).is_ok()
        );
    }

    #[test]
    fn the_delivery_type_is_internal() {
        assert!(!JobType::ALL.contains(&JobType::WebhookDelivery));
        assert!(!JobType::WebhookDelivery.is_public());
        assert!(JobType::ALL.iter().all(|t| t.is_public()));
        assert_eq!(
            "webhook_delivery".parse::<JobType>(),
            Ok(JobType::WebhookDelivery)
        );
        assert_eq!(
            <JobType as crate::input::StringEnum>::from_wire("webhook_delivery"),
            None
        );
        let id = Uuid::now_v7();
        let p = JobPayload::parse(JobType::WebhookDelivery, &json!({"delivery_id": id}));
        assert_eq!(
            p.clone().map(|p| p.to_json()),
            Ok(json!({"delivery_id": id}))
        );
        assert_eq!(p.map(|p| p.job_type()), Ok(JobType::WebhookDelivery));
    }

    #[test]
    fn only_finished_statuses_are_terminal() {
        let terminal: Vec<_> = JobStatus::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                &JobStatus::Completed,
                &JobStatus::Failed,
                &JobStatus::Cancelled
            ]
        );
    }
}
