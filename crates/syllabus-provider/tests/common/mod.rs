//! What the provider's test files share.

use syllabus_domain::{PlanRequest, RawPlanRequest};

/// A valid plan request.
pub fn request() -> PlanRequest {
    PlanRequest::parse(&RawPlanRequest {
        topic: "Distributed systems".into(),
        notes: None,
        skill_level: "advanced".into(),
        weekly_hours: 10,
        learning_style: "reading".into(),
        start_date: None,
        deadline_date: None,
    })
    .expect("valid request")
}
