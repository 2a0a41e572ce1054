//! What the provider's test files share.

use std::time::Duration;

use syllabus_domain::{PlanRequest, RawPlanRequest};
use syllabus_provider::{OpenAiProvider, ProviderConfig};

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
        study_days: None,
    })
    .expect("valid request")
}

/// A provider for the fake server at `base_url` with these deadlines.
pub fn provider_for(base_url: String, timeout: Duration, extended: Duration) -> OpenAiProvider {
    OpenAiProvider::new(ProviderConfig {
        base_url,
        api_key: Some("sk-test-key".into()),
        model: "fake-model".into(),
        timeout,
        extended_timeout: extended,
        ..ProviderConfig::default()
    })
    .expect("provider")
}
