//! A PostgreSQL restart while plans are being created and generated: every plan the API accepted
//! (201) reaches `ready` exactly once; requests during the outage get a 5xx problem, never a
//! half-written plan.

use std::time::Duration;

use serde_json::Value;
use syllabus_e2e::{App, Options, plan_body, plan_json};
use syllabus_testkit::{PrivateCluster, Reply};

type TestResult = Result<(), syllabus_e2e::Error>;

async fn create_many(
    app: &App,
    from: usize,
    to: usize,
) -> Result<Vec<(u16, Value)>, syllabus_e2e::Error> {
    let creates = (from..to).map(|i| async move {
        let res = app
            .post(
                "/api/v1/plans",
                &format!("user-{}", i % 3),
                &plan_body(&format!("Outage topic {i}")),
            )
            .await?;
        Ok::<_, syllabus_e2e::Error>((res.status, res.body))
    });
    futures::future::try_join_all(creates).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_restart_under_load_loses_no_job() -> TestResult {
    let cluster = PrivateCluster::start()?;
    let port = cluster
        .url()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_owned))
        .ok_or("no port in the url")?;
    let url = cluster.app_url().await?;
    syllabus_testkit::migrate(&url).await?;
    let app = App::start_on(
        url,
        None,
        Options {
            concurrency: 4,
            stale_after: Duration::from_secs(2),
            ..Options::default()
        },
    )
    .await?;
    app.llm.set_default(Reply::stream(
        &plan_json(2, 2, 60),
        4,
        Duration::from_millis(60),
    ));

    let mut results = create_many(&app, 0, 12).await?;
    tokio::time::sleep(Duration::from_millis(150)).await; // some generations are in flight
    tokio::task::block_in_place(|| cluster.stop())?;
    let during = create_many(&app, 12, 15).await?;
    for (status, body) in &during {
        assert!(*status == 201 || *status == 503, "{status} {body}");
        if *status == 503 {
            no_internals(body, &port)?;
        }
    }
    results.extend(during);
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| cluster.start_again())?;
    results.extend(create_many(&app, 15, 24).await?);

    let accepted: Vec<(String, String)> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| {
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let topic = body["topic"].as_str().unwrap_or_default().to_owned();
            let n: usize = topic
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (format!("user-{}", n % 3), id)
        })
        .collect();
    assert!(
        accepted.len() >= 21,
        "only {} of 24 creations were accepted",
        accepted.len()
    );
    for (user, id) in &accepted {
        let plan = app.settle(user, id, Duration::from_secs(60)).await?;
        assert_eq!(plan["status"], "ready", "{plan}");
        assert_eq!(
            plan["modules"].as_array().map(Vec::len),
            Some(2),
            "no duplicate modules: {plan}"
        );
        assert_eq!(plan["attempts_used"], 1, "{plan}");
    }
    for u in 0..3 {
        let jobs = app
            .get("/api/v1/jobs?limit=100", &format!("user-{u}"))
            .await?;
        for job in jobs.body["items"].as_array().ok_or("items")? {
            assert_eq!(job["status"], "completed", "{job}");
        }
    }
    app.stop().await;
    Ok(())
}

/// A 503 during the outage is the fixed problem and nothing else: the documented members, the
/// fixed sentence, and none of the words, addresses or codes an error from the driver, the pool
/// or the server would carry.
fn no_internals(body: &Value, port: &str) -> Result<(), syllabus_e2e::Error> {
    let members: Vec<&str> = body
        .as_object()
        .ok_or("not an object")?
        .keys()
        .map(String::as_str)
        .collect();
    for m in &members {
        assert!(
            [
                "type",
                "title",
                "status",
                "detail",
                "code",
                "errors",
                "request_id"
            ]
            .contains(m),
            "undocumented member {m}: {body}"
        );
    }
    assert_eq!(body["code"], "INTERNAL_ERROR", "{body}");
    assert_eq!(
        body["detail"], "The service is temporarily unavailable; retry shortly.",
        "{body}"
    );
    let text = body.to_string().to_ascii_lowercase();
    for marker in [
        "postgres",
        "sql",
        "diesel",
        "deadpool",
        "pool",
        "connection",
        "connect",
        "socket",
        "refused",
        "tokio",
        "timed out",
        "127.0.0.1",
        "localhost",
        "57p",
        "08006",
        "error:",
        "panicked",
        ".rs:",
    ] {
        assert!(
            !text.contains(marker),
            "internals leaked ({marker}): {body}"
        );
    }
    assert!(!text.contains(port), "the database port leaked: {body}");
    Ok(())
}
