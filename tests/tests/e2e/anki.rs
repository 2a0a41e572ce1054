//! The Anki export (issue #24): the exact bytes of a small deck.

use diesel::sql_query;
use diesel_async::RunQueryDsl;
use syllabus_e2e::{App, Options};

use super::reviews::{admin, ready_plan};

type TestResult = Result<(), syllabus_e2e::Error>;

#[tokio::test(flavor = "multi_thread")]
async fn a_plans_deck_downloads_as_anki_text_with_headers_guids_and_tags() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana", "Rust :: async services").await?;
    let mut db = admin(&app).await?;
    let (one, two) = (
        "0190c4c2-0000-7000-8000-000000000a01",
        "0190c4c2-0000-7000-8000-000000000a02",
    );
    // A multiple-choice card of module 2 whose fields need quotes, then a plain card without a
    // module.
    for sql in [
        format!(
            "INSERT INTO flashcards (id, plan_id, module_id, user_id, job_id, question, answer, created_at)
             SELECT '{one}', '{plan}', m.id, 'ana', gen_random_uuid(), E'What does\\tawait do?',
                    E'It \"yields\"\\nuntil ready', now() - interval '2 hours'
             FROM modules m WHERE m.plan_id = '{plan}' AND m.position = 2"
        ),
        format!(
            "INSERT INTO distractors (id, flashcard_id, user_id, position, text) VALUES
             (gen_random_uuid(), '{one}', 'ana', 0, 'It blocks'),
             (gen_random_uuid(), '{one}', 'ana', 1, 'It spawns a thread'),
             (gen_random_uuid(), '{one}', 'ana', 2, 'It panics')"
        ),
        format!(
            "INSERT INTO flashcards (id, plan_id, user_id, job_id, question, answer, created_at)
             VALUES ('{two}', '{plan}', 'ana', gen_random_uuid(), 'What is a Future?',
                     'A value that may not be ready, yet', now() - interval '1 hour')"
        ),
    ] {
        sql_query(sql).execute(&mut db).await?;
    }

    let res = app
        .get(&format!("/api/v1/plans/{plan}/flashcards.txt"), "ana")
        .await?;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename=\"rust-async-services.txt\"")
    );
    let expected = format!(
        "#separator:tab\n\
         #html:false\n\
         #notetype:Syllabus\n\
         #deck:Rust : async services\n\
         #guid column:1\n\
         #tags column:5\n\
         {one}\t\"What does\tawait do?\"\t\"It \"\"yields\"\"\nuntil ready\"\tIt blocks | It spawns a thread | It panics\tsyllabus module-2\n\
         {two}\tWhat is a Future?\tA value that may not be ready, yet\t\tsyllabus\n"
    );
    assert_eq!(res.text, expected);

    // Owners only.
    let res = app
        .get(&format!("/api/v1/plans/{plan}/flashcards.txt"), "bob")
        .await?;
    assert_eq!(res.status, 404);
    app.stop().await;
    Ok(())
}
