//! Diesel table definitions, matching `migrations/`. Only this crate names them.

diesel::table! {
    users (id) {
        id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    plans (id) {
        id -> Uuid,
        user_id -> Text,
        topic -> Text,
        topic_truncated -> Bool,
        topic_original_length -> Int4,
        notes -> Nullable<Text>,
        notes_truncated -> Bool,
        notes_original_length -> Nullable<Int4>,
        skill_level -> Text,
        weekly_hours -> Int2,
        learning_style -> Text,
        start_date -> Nullable<Date>,
        deadline_date -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        study_days -> Int2,
        visibility -> Text,
        origin -> Text,
        forked_from -> Nullable<Uuid>,
    }
}

diesel::table! {
    modules (id) {
        id -> Uuid,
        plan_id -> Uuid,
        user_id -> Text,
        position -> Int4,
        title -> Text,
        description -> Nullable<Text>,
        estimated_minutes -> Int4,
        clamped -> Bool,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        module_id -> Uuid,
        user_id -> Text,
        position -> Int4,
        title -> Text,
        description -> Nullable<Text>,
        estimated_minutes -> Int4,
        clamped -> Bool,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        user_id -> Text,
        job_type -> Text,
        status -> Text,
        plan_id -> Nullable<Uuid>,
        payload -> Jsonb,
        result -> Nullable<Jsonb>,
        error_message -> Nullable<Text>,
        error_classification -> Nullable<Text>,
        attempts -> Int4,
        max_attempts -> Int4,
        priority -> Int2,
        run_at -> Timestamptz,
        lease_token -> Nullable<Uuid>,
        locked_by -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamptz>,
        request_id -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        rescues -> Int4,
        reask -> Nullable<Jsonb>,
    }
}

diesel::table! {
    generation_attempts (id) {
        id -> Uuid,
        plan_id -> Uuid,
        user_id -> Text,
        job_id -> Nullable<Uuid>,
        number -> Nullable<Int2>,
        status -> Text,
        classification -> Nullable<Text>,
        duration_ms -> Int4,
        modules_count -> Int4,
        tasks_count -> Int4,
        topic_truncated -> Bool,
        notes_truncated -> Bool,
        effort_normalized -> Bool,
        modules_clamped -> Int4,
        tasks_clamped -> Int4,
        timeout_extended -> Bool,
        provider -> Nullable<Text>,
        model -> Nullable<Text>,
        prompt_tokens -> Nullable<Int4>,
        completion_tokens -> Nullable<Int4>,
        total_tokens -> Nullable<Int4>,
        prompt_hash -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        issues -> Nullable<Jsonb>,
        times -> Int4,
        module_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    flashcards (id) {
        id -> Uuid,
        plan_id -> Uuid,
        module_id -> Nullable<Uuid>,
        user_id -> Text,
        job_id -> Uuid,
        question -> Text,
        answer -> Text,
        created_at -> Timestamptz,
        reviewed -> Bool,
    }
}

diesel::table! {
    distractors (id) {
        id -> Uuid,
        flashcard_id -> Uuid,
        user_id -> Text,
        position -> Int2,
        text -> Text,
    }
}

diesel::table! {
    skill_trees (id) {
        id -> Uuid,
        plan_id -> Uuid,
        user_id -> Text,
        job_id -> Uuid,
        node_count -> Int4,
        depth -> Int2,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    skill_nodes (id) {
        id -> Uuid,
        tree_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        user_id -> Text,
        depth -> Int2,
        path -> Text,
        title -> Text,
        description -> Nullable<Text>,
    }
}

diesel::joinable!(plans -> users (user_id));
diesel::joinable!(modules -> plans (plan_id));
diesel::joinable!(tasks -> modules (module_id));
diesel::joinable!(generation_attempts -> plans (plan_id));
diesel::joinable!(flashcards -> plans (plan_id));
diesel::joinable!(distractors -> flashcards (flashcard_id));
diesel::joinable!(skill_trees -> plans (plan_id));
diesel::joinable!(skill_nodes -> skill_trees (tree_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    plans,
    modules,
    tasks,
    jobs,
    generation_attempts,
    flashcards,
    distractors,
    skill_trees,
    skill_nodes,
);
