use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const OPEN: AddressPolicy = AddressPolicy {
    allow_loopback: false,
    loopback_only: false,
};
const DEV: AddressPolicy = AddressPolicy {
    allow_loopback: true,
    loopback_only: false,
};
const DEV_HTTP: AddressPolicy = AddressPolicy {
    allow_loopback: true,
    loopback_only: true,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[test]
fn special_purpose_addresses_are_refused_and_public_ones_allowed() {
    let refused = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        // IPv4 inside IPv6: judged by the IPv4 address.
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::c0a8:0101",
        "2002:c0a8:0101::1",
        "64:ff9b:1::1",
        "::10.0.0.1",
    ];
    for a in refused {
        assert_eq!(OPEN.check(ip(a)), Err(Refusal::NotPublic), "{a}");
        assert_eq!(
            DEV.check(ip(a)),
            Err(Refusal::NotPublic),
            "{a} with loopback allowed"
        );
    }
    let public = [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:0808:0808::1",
    ];
    for a in public {
        assert_eq!(OPEN.check(ip(a)), Ok(()), "{a}");
        assert_eq!(DEV.check(ip(a)), Ok(()), "{a} with loopback allowed");
        assert_eq!(
            DEV_HTTP.check(ip(a)),
            Err(Refusal::NotLoopback),
            "{a} over http"
        );
    }
}

#[test]
fn loopback_is_allowed_only_with_the_setting_and_http_reaches_only_loopback() {
    for a in [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
    ] {
        assert_eq!(OPEN.check(ip(a)), Err(Refusal::Loopback), "{a}");
        assert_eq!(DEV.check(ip(a)), Ok(()), "{a}");
        assert_eq!(DEV_HTTP.check(ip(a)), Ok(()), "{a}");
    }
    assert_eq!(DEV_HTTP.check(ip("10.0.0.1")), Err(Refusal::NotLoopback));
}

proptest! {
    #[test]
    fn every_private_v4_address_is_refused_in_every_form(
        net in prop::sample::select(vec![
            (0x0a00_0000_u32, 8_u32), (0xac10_0000, 12), (0xc0a8_0000, 16),
            (0x6440_0000, 10), (0xa9fe_0000, 16), (0x0000_0000, 8), (0xe000_0000, 4),
            (0xf000_0000, 4),
        ]),
        host in any::<u32>(),
    ) {
        let (base, bits) = net;
        let v4 = Ipv4Addr::from(base | (host >> bits));
        let forms = [
            IpAddr::V4(v4),
            IpAddr::V6(v4.to_ipv6_mapped()),
            IpAddr::V6(Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(u32::from(v4)))),
            IpAddr::V6(Ipv6Addr::from(
                (0x2002_u128 << 112) | (u128::from(u32::from(v4)) << 80),
            )),
        ];
        for form in forms {
            prop_assert_eq!(OPEN.check(form), Err(Refusal::NotPublic), "{}", form);
            prop_assert_eq!(DEV.check(form), Err(Refusal::NotPublic), "{}", form);
        }
    }

    #[test]
    fn every_loopback_address_needs_the_setting(host in 0_u32..(1 << 24)) {
        let v4 = Ipv4Addr::from(0x7f00_0000 | host);
        for form in [IpAddr::V4(v4), IpAddr::V6(v4.to_ipv6_mapped())] {
            prop_assert_eq!(OPEN.check(form), Err(Refusal::Loopback));
            prop_assert_eq!(DEV_HTTP.check(form), Ok(()));
        }
    }

    #[test]
    fn an_ipv6_address_outside_global_unicast_is_refused(bits in any::<u128>()) {
        let v6 = Ipv6Addr::from(bits);
        let global = bits >> 125 == 0b001;
        let carries_v4 = v6.to_ipv4_mapped().is_some()
            || bits >> 32 == 0x0064_ff9b_u128 << 64
            || bits >> 112 == 0x2002;
        if !global && !carries_v4 && v6 != Ipv6Addr::LOCALHOST {
            prop_assert_eq!(DEV.check(IpAddr::V6(v6)), Err(Refusal::NotPublic));
        }
    }

    #[test]
    fn unique_local_link_local_and_multicast_are_always_refused(low in any::<u128>()) {
        for (prefix, bits) in [
            (0xfc00_u128 << 112, 7_u32),
            (0xfe80 << 112, 10),
            (0xff00 << 112, 8),
            (0x2001_0db8 << 96, 32),
        ] {
            let addr = Ipv6Addr::from(prefix | (low & (u128::MAX >> bits)));
            prop_assert_eq!(DEV.check(IpAddr::V6(addr)), Err(Refusal::NotPublic), "{}", addr);
        }
    }
}

#[test]
fn urls_must_be_https_without_user_information_and_to_allowed_hosts() {
    assert!(check_url("https://hooks.example.com/in?x=1", false).is_ok());
    assert!(check_url("https://8.8.8.8:8443/x", false).is_ok());
    let refused = [
        ("http://hooks.example.com/in", false, "must use https"),
        (
            "ftp://hooks.example.com/",
            false,
            "must be an absolute https URL",
        ),
        ("/relative", false, "must be an absolute https URL"),
        (
            "https://user:pw@hooks.example.com/",
            false,
            "must not contain user information",
        ),
        (
            "https://user@hooks.example.com/",
            false,
            "must not contain user information",
        ),
        (
            "https://127.0.0.1/",
            false,
            "must not point to a loopback address",
        ),
        (
            "https://[::1]/",
            false,
            "must not point to a loopback address",
        ),
        (
            "https://169.254.169.254/latest",
            false,
            "must point to a public address",
        ),
        (
            "https://[::ffff:10.0.0.1]/",
            false,
            "must point to a public address",
        ),
        ("http://127.0.0.1:9/", false, "must use https"),
        (
            "http://10.0.0.1/",
            true,
            "may use http only to a loopback address (WEBHOOK_ALLOW_LOOPBACK)",
        ),
        (
            "http://hooks.example.com/",
            true,
            "may use http only to a loopback address (WEBHOOK_ALLOW_LOOPBACK)",
        ),
    ];
    for (url, loopback, message) in refused {
        assert_eq!(
            check_url(url, loopback).map(|_| ()),
            Err(message.to_owned()),
            "{url}"
        );
    }
    assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
    assert!(check_url("http://localhost:8080/hook", true).is_ok());
    assert!(check_url("http://[::1]:8080/hook", true).is_ok());
    assert!(check_url("https://127.0.0.1/", true).is_ok());
    let long = format!("https://example.com/{}", "a".repeat(URL_MAX_CHARS));
    assert!(check_url(&long, false).is_err());
}

#[test]
fn events_are_known_names_without_duplicates() {
    assert_eq!(
        parse_events(&json!(["job.failed", "plan.ready", "job.failed"])),
        Ok(vec![WebhookEvent::JobFailed, WebhookEvent::PlanReady])
    );
    assert!(parse_events(&json!([])).is_err());
    assert!(parse_events(&json!("plan.ready")).is_err());
    assert_eq!(
        parse_events(&json!(["plan.ready", "plan.done"])),
        Err("must be one of: plan.ready, plan.failed, job.completed, job.failed".to_owned())
    );
    assert!(parse_events(&json!([TEST_EVENT])).is_err());
}

#[test]
fn descriptions_are_trimmed_and_bounded() {
    assert_eq!(parse_description(None), Ok(None));
    assert_eq!(parse_description(Some(&json!("  "))), Ok(None));
    assert_eq!(
        parse_description(Some(&json!(" ci "))),
        Ok(Some("ci".into()))
    );
    let at_max = "é".repeat(DESCRIPTION_MAX_CHARS);
    assert_eq!(
        parse_description(Some(&json!(at_max))),
        Ok(Some(at_max.clone()))
    );
    assert!(parse_description(Some(&json!(format!("{at_max}x")))).is_err());
    assert!(parse_description(Some(&json!(3))).is_err());
}

#[test]
fn job_ends_map_to_their_events() {
    use crate::jobs::{JobStatus as S, JobType as T};
    use WebhookEvent as E;
    assert_eq!(
        E::of_job_end(T::PlanGeneration, S::Completed),
        [E::JobCompleted, E::PlanReady]
    );
    assert_eq!(
        E::of_job_end(T::PlanGeneration, S::Failed),
        [E::JobFailed, E::PlanFailed]
    );
    assert_eq!(
        E::of_job_end(T::Flashcards, S::Completed),
        [E::JobCompleted]
    );
    assert_eq!(E::of_job_end(T::SkillTree, S::Failed), [E::JobFailed]);
    assert!(E::of_job_end(T::SkillTree, S::Cancelled).is_empty());
    assert!(E::of_job_end(T::WebhookDelivery, S::Failed).is_empty());
}

#[test]
fn the_default_schedule_grows_fourfold_to_an_hour_and_ends_within_a_day() {
    let s = RetrySchedule::default();
    let gaps: Vec<u64> = (1..=8).map(|n| s.gap(n).as_secs()).collect();
    assert_eq!(gaps, [5, 20, 80, 320, 1_280, 3_600, 3_600, 3_600]);
    let offsets = s.offsets();
    // 0, 5 s, 25 s, 105 s, 425 s, 1,705 s, then hourly until 24 h: 29 attempts.
    assert_eq!(offsets.len(), 29);
    assert_eq!(offsets[5], Duration::from_secs(1_705));
    assert!(offsets.last().is_some_and(|l| *l <= s.window));
    let created = Utc
        .with_ymd_and_hms(2026, 12, 5, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let late = created + chrono::Duration::hours(23) + chrono::Duration::minutes(30);
    assert_eq!(
        s.next_attempt(created, late, 20),
        None,
        "past the window: failed"
    );
    let early = created + chrono::Duration::seconds(5);
    assert_eq!(
        s.next_attempt(created, early, 2),
        Some(early + chrono::Duration::seconds(20))
    );
}

proptest! {
    #[test]
    fn gaps_never_shrink_and_never_pass_the_cap(base_ms in 1_u64..3_600_000, n in 1_u32..200) {
        let s = RetrySchedule { base: Duration::from_millis(base_ms), window: MAX_GAP };
        prop_assert!(s.gap(n + 1) >= s.gap(n));
        prop_assert!(s.gap(n) <= MAX_GAP);
        prop_assert!(s.gap(n) >= s.base);
    }

    #[test]
    fn no_attempt_is_scheduled_after_the_window(
        base_ms in 1_u64..100_000, window_ms in 1_u64..100_000_000, n in 1_u32..40,
        elapsed_ms in 0_i64..100_000_000,
    ) {
        let s = RetrySchedule {
            base: Duration::from_millis(base_ms),
            window: Duration::from_millis(window_ms),
        };
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let now = created + chrono::Duration::milliseconds(elapsed_ms);
        if let Some(at) = s.next_attempt(created, now, n) {
            prop_assert!(at <= s.deadline(created));
            prop_assert!(at > now);
        }
    }

    #[test]
    fn excerpts_are_short_and_free_of_control_characters(body in prop::collection::vec(any::<u8>(), 0..2_000)) {
        if let Some(e) = excerpt(&body) {
            prop_assert!(e.chars().count() <= EXCERPT_MAX_CHARS);
            prop_assert!(!e.chars().any(char::is_control));
        }
    }
}

#[test]
fn secrets_are_whsec_and_32_bytes_of_base64() {
    let s = secret_text(&[7; SECRET_BYTES]);
    assert!(s.starts_with("whsec_"));
    let decoded = base64::engine::general_purpose::STANDARD.decode(&s[6..]);
    assert_eq!(decoded.map(|b| b.len()), Ok(SECRET_BYTES));
}

#[test]
fn an_excerpt_keeps_text_and_drops_controls() {
    assert_eq!(excerpt(b"ok\r\n\x1b[31mred"), Some("ok[31mred".to_owned()));
    assert_eq!(excerpt(b"\n\t"), None);
    assert_eq!(excerpt(&[0xff, b'a']), Some("\u{fffd}a".to_owned()));
    let long = "x".repeat(1_000);
    assert_eq!(
        excerpt(long.as_bytes()).map(|e| e.len()),
        Some(EXCERPT_MAX_CHARS)
    );
}
