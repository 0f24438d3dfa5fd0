use super::*;

const LIST: &str = "L1:\n  - org/one\nL2:\n  - org/two\nL3:\n  npu:\n    org/three: [alice]\nL4:\n  - Org/Four: [bob, org/team]\n";

fn list() -> Allowlist {
    Allowlist::parse("a.yml", LIST).unwrap()
}

fn claims(repo: &str) -> Claims {
    Claims {
        repository: repo.into(),
        repository_owner: None,
        run_id: None,
        run_attempt: None,
        workflow: None,
        sub: None,
        iss: "https://issuer.test".into(),
        exp: 0,
    }
}

fn reported(repo: &str) -> ReportedResult {
    ReportedResult {
        repository: repo.into(),
        upstream_repo: "Up/Stream".into(),
        pr_number: 12,
        head_sha: "A".repeat(40),
        workflow_name: "ci".into(),
        job_name: "test (npu)".into(),
        run_id: 5,
        run_attempt: 1,
        status: "completed".into(),
        conclusion: Some("failure".into()),
        log_url: Some("https://ci.example/log/5".into()),
        ..ReportedResult::default()
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn accepted(repo: &str) -> Accepted {
    accept(
        &reported(repo),
        Ok(&claims(repo)),
        &list(),
        "up/stream",
        now(),
    )
    .unwrap()
}

#[test]
fn the_token_repository_must_be_the_claimed_one_and_allowlisted() {
    let l = list();
    let r = reported("org/four");
    let a = accept(&r, Ok(&claims("ORG/FOUR")), &l, "up/stream", now()).unwrap();
    assert_eq!(a.repo, "Org/Four");
    assert_eq!(a.level, Level::L4);
    assert_eq!(a.head_sha, "a".repeat(40));
    assert!(matches!(
        accept(&r, Ok(&claims("org/two")), &l, "up/stream", now()),
        Err(Rejection::WrongRepository { .. })
    ));
    let r = reported("evil/repo");
    assert!(matches!(
        accept(&r, Ok(&claims("evil/repo")), &l, "up/stream", now()),
        Err(Rejection::NotAllowlisted(_))
    ));
    let r = reported("org/one");
    assert!(matches!(
        accept(&r, Ok(&claims("org/one")), &l, "up/stream", now()),
        Err(Rejection::DispatchOnly(_))
    ));
    let r = reported("org/two");
    assert_eq!(
        accept(&r, Err(&OidcError::Expired), &l, "up/stream", now()),
        Err(Rejection::Token(OidcError::Expired))
    );
    assert!(matches!(
        accept(&r, Ok(&claims("org/two")), &l, "other/upstream", now()),
        Err(Rejection::OtherUpstream(_))
    ));
}

#[test]
fn invalid_fields_are_refused() {
    let l = list();
    let c = claims("org/two");
    let mut r = reported("org/two");
    r.head_sha = "main".into();
    assert!(matches!(
        accept(&r, Ok(&c), &l, "up/stream", now()),
        Err(Rejection::Invalid {
            field: "head_sha",
            ..
        })
    ));
    let mut r = reported("org/two");
    r.conclusion = Some("exploded".into());
    assert!(matches!(
        accept(&r, Ok(&c), &l, "up/stream", now()),
        Err(Rejection::Invalid {
            field: "conclusion",
            ..
        })
    ));
    let mut r = reported("org/two");
    r.status = "done".into();
    assert!(accept(&r, Ok(&c), &l, "up/stream", now()).is_err());
}

#[test]
fn reported_text_is_sanitised() {
    let l = list();
    let mut r = reported("org/two");
    r.job_name = format!("build\n@everyone\u{202e}{}", "x".repeat(500));
    r.log_url = Some("javascript:alert(1)".into());
    r.artifact_url = Some("https://user:pw@example.com/a".into());
    let a = accept(&r, Ok(&claims("org/two")), &l, "up/stream", now()).unwrap();
    assert!(!a.reported.job_name.contains('\n'));
    assert!(!a.reported.job_name.contains('\u{202e}'));
    assert_eq!(a.reported.job_name.chars().count(), MAX_NAME);
    assert_eq!(a.reported.log_url, None);
    assert_eq!(a.reported.artifact_url, None);
    let check = check_run(&a);
    assert!(!check.summary.contains("\n@everyone"), "{}", check.summary);
}

#[test]
fn payloads_over_the_cap_or_malformed_are_refused() {
    let big = serde_json::json!({"crcr": 1, "token": "x".repeat(MAX_RESULT_BYTES), "result": {}});
    assert_eq!(check_size(&big), Err(Rejection::TooLarge));
    let bad = serde_json::json!({"crcr": 1, "token": "t", "result": {"pr_number": "twelve"}});
    assert!(matches!(parse_payload(&bad), Err(Rejection::Malformed(_))));
    let ok = serde_json::json!({"crcr": 1, "token": "t", "result": reported("org/two")});
    assert!(parse_payload(&ok).is_ok());
}

#[test]
fn the_row_carries_trusted_and_reported_fields() {
    let mut a = accepted("org/four");
    a.reported.started_at = Some(now());
    a.reported.completed_at = Some(now() + chrono::Duration::seconds(90));
    let row = a.row();
    assert_eq!(row.downstream_repo, "Org/Four");
    assert_eq!(row.level, "L4");
    assert_eq!(row.conclusion, "failure");
    assert_eq!(row.execution_time_s, Some(90));
    assert_eq!(row.queue_time_s, None);
    assert!(row.trusted);
    assert_eq!(row.updated_at, now());
}

#[test]
fn check_run_content_names_the_repository_and_verdict() {
    let a = accepted("org/four");
    let c = check_run(&a);
    assert_eq!(c.name, "crcr/Org/Four / test (npu)");
    assert_eq!(c.head_sha, "a".repeat(40));
    assert_eq!(c.status, "completed");
    assert_eq!(c.conclusion.as_deref(), Some("failure"));
    assert_eq!(c.title, "test (npu): failure");
    assert!(c.summary.contains("blocks merging"), "{}", c.summary);
    assert_eq!(c.details_url.as_deref(), Some("https://ci.example/log/5"));
    let l3 = accepted("org/three");
    assert!(check_run(&l3).summary.contains("non-blocking"));
}

#[test]
fn on_calls_are_pinged_once_per_head_and_repository() {
    let a = accepted("org/four");
    let (body, state) = ping(&a, true, &PingState::default()).unwrap();
    assert!(body.starts_with("<!-- ci-medic:crcr-oncall:12 -->"));
    assert!(body.contains("@bob @org/team"), "{body}");
    assert_eq!(read_ping_state(&body), state);
    // A re-run that fails again: no change.
    assert_eq!(ping(&a, true, &state), None);
    // A new head failing: the same comment, one more line.
    let mut b = a.clone();
    b.head_sha = "b".repeat(40);
    let (body2, state2) = ping(&b, true, &state).unwrap();
    assert_eq!(state2.pings.len(), 2);
    assert!(body2.starts_with("<!-- ci-medic:crcr-oncall:12 -->"));
    // Not shown on the PR, not a failure, or L2: no ping.
    assert_eq!(ping(&a, false, &PingState::default()), None);
    let mut ok = a.clone();
    ok.reported.conclusion = Some(Conclusion::Cancelled);
    assert_eq!(ping(&ok, true, &PingState::default()), None);
    assert_eq!(
        ping(&accepted("org/two"), true, &PingState::default()),
        None
    );
}

#[test]
fn hostile_job_names_stay_inert_in_the_ping() {
    let mut a = accepted("org/four");
    a.reported.job_name = text("x` @everyone <!-- --> [y](javascript:z)", MAX_NAME);
    let (body, _) = ping(&a, true, &PingState::default()).unwrap();
    let listed = body.lines().find(|l| l.starts_with("- ")).unwrap();
    // The name sits in one code span: no backtick of its own, no comment.
    assert!(listed.contains("`x' @everyone"), "{listed}");
    assert_eq!(listed.matches('`').count() % 2, 0, "{listed}");
    assert!(!listed.contains("<!--"), "{listed}");
    let state_line = body.lines().rev().find(|l| !l.is_empty()).unwrap();
    assert!(state_line.starts_with("<!-- ci-medic:crcr-oncall-state "));
    assert_eq!(state_line.matches("-->").count(), 1, "{state_line}");
}
