//! Mailbox readiness: `mailreg mailbox check [--fix]`, the spec's `mailboxes` in `status` and
//! `apply`, the consent-screen logo, `verify --wait` and Gmail's settings, all against the
//! emulator's Graph users, Exchange admin endpoint and Gmail settings.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use mailreg_emulator::graph::Licence;
use mailreg_emulator::{Cas, ExchangeAccess, MailboxSeed};
use serde_json::{Value, json};

const READY: &str = "ready@contoso.onmicrosoft.com";
const OFF: &str = "off@contoso.onmicrosoft.com";
const BLOCKED: &str = "blocked@contoso.onmicrosoft.com";

/// IMAP, POP and SMTP permissions: every Microsoft check runs.
fn spec(mailboxes: &[&str]) -> String {
    let list: Vec<String> = mailboxes.iter().map(|m| format!("{m:?}")).collect();
    format!(
        r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send", "offline_access"]
mailboxes = [{}]
"#,
        list.join(", ")
    )
}

/// A licensed mailbox with IMAP and POP as given; SMTP AUTH follows the organisation.
fn with_protocols(upn: &str, imap: bool, pop: bool) -> MailboxSeed {
    MailboxSeed {
        cas: Cas {
            imap,
            pop,
            smtp_auth_disabled: None,
        },
        ..MailboxSeed::ready(upn)
    }
}

fn harness(mailboxes: &[&str]) -> Harness {
    let h = Harness::new(&spec(mailboxes));
    h.emu.with_state(|s| {
        s.add_mailbox(MailboxSeed::ready(READY));
        s.add_mailbox(with_protocols(OFF, false, false));
        s.add_mailbox(MailboxSeed {
            account_enabled: false,
            licences: vec![Licence::with_plan("POWER_BI_PRO", "EXCHANGE_S_FOUNDATION")],
            ..MailboxSeed::ready(BLOCKED)
        });
    });
    h
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}:\n{}\n{}", r.stdout, r.stderr))
}

/// `check=ok …` of one mailbox in a JSON report.
fn oks(doc: &Value, user: &str) -> String {
    let m = doc["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"] == user)
        .unwrap_or_else(|| panic!("{user} in {doc}"));
    m["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c["check"].as_str().unwrap(), c["ok"]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn exchange_bodies(h: &Harness) -> Vec<Value> {
    h.api_requests()
        .into_iter()
        .filter(|r| r.path.contains("/adminapi/"))
        .map(|r| r.body.unwrap_or_default())
        .collect()
}

#[test]
fn a_ready_mailbox_passes_in_four_reads_sent_together() {
    let h = harness(&[]);
    h.emu
        .with_state(|s| s.exchange.org_smtp_auth_disabled = false);
    // Every read answers after two seconds: sent one after another, the last would arrive at
    // least six seconds after the first.
    for (method, path) in [("GET", "/v1.0/users/"), ("POST", "/adminapi/")] {
        h.emu.inject(
            Fault::new(FaultKind::Delay(Duration::from_millis(2000)))
                .on(method, path)
                .times(2),
        );
    }
    let r = h.ok(&["mailbox", "check", "--env", "test", "--user", READY]);
    assert_eq!(
        r.stdout,
        format!(
            "{READY} (microsoft): ready
  ok   user       {READY} exists and can sign in
  ok   licence    Exchange Online: EXCHANGE_S_STANDARD (O365_BUSINESS_PREMIUM)
  ok   imap       IMAP is enabled for the mailbox
  ok   pop        POP is enabled for the mailbox
  ok   smtp_auth  SMTP AUTH is enabled for the organisation, and the mailbox follows it
"
        )
    );
    let reqs = h.api_requests();
    let mut seen = lines(&reqs);
    seen.sort();
    let tid = "5f3b6c2e-8d1a-4e7b-9c40-2a6f1d3e8b75";
    assert_eq!(
        seen,
        [
            format!("GET /v1.0/users/{READY}"),
            format!("GET /v1.0/users/{READY}/licenseDetails"),
            format!("POST /adminapi/beta/{tid}/InvokeCommand"),
            format!("POST /adminapi/beta/{tid}/InvokeCommand"),
        ]
    );
    let mut cmdlets: Vec<Value> = exchange_bodies(&h);
    cmdlets.sort_by_key(|b| b.to_string());
    assert_eq!(
        cmdlets,
        [
            json!({"CmdletInput": {"CmdletName": "Get-CASMailbox", "Parameters": {"Identity": READY}}}),
            json!({"CmdletInput": {"CmdletName": "Get-TransportConfig", "Parameters": {}}}),
        ]
    );
    assert!(reqs.iter().all(|r| r.status == 200));
    // All four were received before the first answer (two seconds later) came back.
    let first = reqs.iter().map(|r| r.at).min().unwrap();
    let last = reqs.iter().map(|r| r.at).max().unwrap();
    assert!(
        last - first < time::Duration::milliseconds(2000),
        "sent one after another: {:?}",
        last - first
    );
}

#[test]
fn every_check_fails_clearly_and_the_organisation_is_read_once() {
    let h = harness(&[READY, OFF, BLOCKED, "nobody@contoso.onmicrosoft.com"]);
    let r = h.expect(6, &["mailbox", "check", "--env", "test", "-o", "json"]);
    let doc = json_of(&r);
    insta::assert_json_snapshot!("mailbox_check_json", doc);
    // The organisation disables SMTP AUTH (a new tenant's default) and READY follows it.
    assert_eq!(
        oks(&doc, READY),
        "user=true licence=true imap=true pop=true smtp_auth=false"
    );
    assert_eq!(
        oks(&doc, OFF),
        "user=true licence=true imap=false pop=false smtp_auth=false"
    );
    assert!(oks(&doc, BLOCKED).starts_with("user=false licence=false "));
    assert_eq!(
        oks(&doc, "nobody@contoso.onmicrosoft.com"),
        "user=false licence=null imap=null pop=null smtp_auth=null"
    );
    assert!(
        doc["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["ready"] == false)
    );
    let transport = exchange_bodies(&h)
        .iter()
        .filter(|b| b["CmdletInput"]["CmdletName"] == "Get-TransportConfig")
        .count();
    assert_eq!(transport, 1, "one transport-config read for four mailboxes");
    assert!(
        h.api_requests()
            .iter()
            .all(|r| !r.is_write() || r.path.contains("/adminapi/"))
    );
    assert!(
        exchange_bodies(&h)
            .iter()
            .all(|b| b["CmdletInput"]["CmdletName"] != "Set-CASMailbox")
    );
}

#[test]
fn text_names_the_fix_and_a_licence_is_never_assigned() {
    let h = harness(&[BLOCKED]);
    let r = h.expect(6, &["mailbox", "check", "--env", "test"]);
    assert!(
        r.stdout.starts_with(&format!(
            "{BLOCKED} (microsoft): NOT READY
  FAIL user       {BLOCKED} exists but sign-in is blocked (accountEnabled false)
       fix: unblock sign-in: az ad user update --id {BLOCKED} --account-enabled true
  FAIL licence    no mailbox licence (licences without Exchange Online: POWER_BI_PRO)
       fix: assign a licence that includes Exchange Online"
        )),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr.trim(), "error: 1 of 1 mailbox(es) not ready");
    // The request log names the calls, never a token or the operator's secret.
    let r = h.expect(6, &["mailbox", "check", "--env", "test", "-vv"]);
    assert!(r.stderr.contains("/adminapi/beta/"), "{}", r.stderr);
    let secret = h.operator_secret();
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains("eyJ") && !out.contains(&secret), "{out}");
    }
    // --fix has nothing it may change for this mailbox's licence and user.
    let r = h.expect(
        6,
        &[
            "mailbox",
            "check",
            "--env",
            "test",
            "--fix",
            "--yes",
            "--provider",
            "microsoft",
        ],
    );
    assert!(
        r.stdout.contains("\n  ~ microsoft.cas_mailbox["),
        "{}",
        r.stdout
    );
    let sets: Vec<Value> = exchange_bodies(&h)
        .into_iter()
        .filter(|b| b["CmdletInput"]["CmdletName"] == "Set-CASMailbox")
        .collect();
    assert_eq!(
        sets,
        [json!({"CmdletInput": {"CmdletName": "Set-CASMailbox",
            "Parameters": {"Identity": BLOCKED, "SmtpClientAuthenticationDisabled": false}}})]
    );
    assert!(
        h.api_requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("/adminapi/")),
        "nothing but Set-CASMailbox is written"
    );
}

#[test]
fn without_exchange_rights_the_protocol_checks_are_null_with_the_grant() {
    let h = harness(&[READY]);
    h.emu
        .with_state(|s| s.exchange.access = ExchangeAccess::NoPermission);
    let doc = json_of(&h.expect(6, &["mailbox", "check", "--env", "test", "-o", "json"]));
    let checks = doc["mailboxes"][0]["checks"].as_array().unwrap().clone();
    assert_eq!(checks[0]["ok"], true, "the Graph checks still run");
    assert_eq!(checks[1]["ok"], true);
    for c in &checks[2..] {
        assert_eq!(c["ok"], Value::Null, "{c}");
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.contains("HTTP 401")
                && detail.contains("Exchange.ManageAsApp")
                && detail.contains("Exchange Administrator"),
            "{detail}"
        );
        let fix = c["fix"].as_str().unwrap();
        assert!(fix.starts_with("az ad app permission add --id $AZURE_CLIENT_ID --api 00000002-0000-0ff1-ce00-000000000000 --api-permissions dc50a0fb-09a3-484d-be87-e023b12c6440=Role"), "{fix}");
        assert!(
            fix.contains("29232cdf-9323-42fd-ade2-1d097af3e4de"),
            "{fix}"
        );
    }

    h.emu
        .with_state(|s| s.exchange.access = ExchangeAccess::NoRole);
    let doc = json_of(&h.expect(6, &["mailbox", "check", "--env", "test", "-o", "json"]));
    let imap = &doc["mailboxes"][0]["checks"][2];
    assert_eq!(imap["ok"], Value::Null);
    assert!(
        imap["detail"].as_str().unwrap().contains("HTTP 403"),
        "{imap}"
    );
    assert!(imap["fix"].as_str().unwrap().starts_with("az rest --method POST --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments"), "{imap}");

    h.emu.with_state(|s| {
        s.exchange.access = ExchangeAccess::Admin;
        s.graph.deny_user_read(true);
    });
    let doc = json_of(&h.expect(6, &["mailbox", "check", "--env", "test", "-o", "json"]));
    let checks = doc["mailboxes"][0]["checks"].as_array().unwrap();
    for c in &checks[..2] {
        assert_eq!(c["ok"], Value::Null, "{c}");
        assert!(
            c["detail"].as_str().unwrap().contains("User.Read.All"),
            "{c}"
        );
        assert!(
            c["fix"]
                .as_str()
                .unwrap()
                .contains("df021288-bdef-4463-88db-98f22de89214=Role"),
            "{c}"
        );
    }
    assert_eq!(checks[2]["ok"], true, "Exchange still answers");
}

#[test]
fn fix_plans_asks_and_turns_imap_and_pop_on_in_one_write() {
    let h = Harness::new(&spec(&[OFF]).replace(", \"SMTP.Send\"", ""));
    h.emu.with_state(|s| {
        s.add_mailbox(with_protocols(OFF, false, false));
    });
    // Nobody to confirm with: refused, nothing written.
    let r = h.expect(7, &["mailbox", "check", "--env", "test", "--fix"]);
    assert!(
        r.stdout
            .contains("~ microsoft.cas_mailbox[off@contoso.onmicrosoft.com]"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert!(h.api_requests().iter().all(|r| {
        r.body
            .as_ref()
            .is_none_or(|b| b["CmdletInput"]["CmdletName"] != "Set-CASMailbox")
    }));
    h.clear();

    let r = h.ok(&["mailbox", "check", "--env", "test", "--fix", "--yes"]);
    let writes: Vec<_> = exchange_bodies(&h)
        .into_iter()
        .filter(|b| b["CmdletInput"]["CmdletName"] == "Set-CASMailbox")
        .collect();
    assert_eq!(
        writes,
        [json!({"CmdletInput": {"CmdletName": "Set-CASMailbox",
            "Parameters": {"Identity": OFF, "ImapEnabled": true, "PopEnabled": true}}})],
        "exactly one write"
    );
    assert_eq!(
        h.api_requests()
            .iter()
            .filter(|r| r
                .body
                .as_ref()
                .is_some_and(|b| b["CmdletInput"]["CmdletName"] == "Set-CASMailbox"))
            .count(),
        1
    );
    let plan_and_next = r
        .stdout
        .split_once("mailreg mailbox check --fix:")
        .unwrap()
        .1;
    assert_eq!(
        normalise(plan_and_next, h.dir.path()),
        " agileapps-mail (environment test) from [TMP]/mailreg.toml

  ~ microsoft.cas_mailbox[off@contoso.onmicrosoft.com] (off@contoso.onmicrosoft.com)
      ImapEnabled false -> true
      PopEnabled  false -> true

Plan: 0 to add, 1 to change, 0 to destroy.

Changed 1 mailbox(es). Exchange Online takes up to 30 minutes, sometimes more, to apply a change to every server. This proves it as soon as it works:
  mailreg verify -f [TMP]/mailreg.toml --env test --provider microsoft --user off@contoso.onmicrosoft.com --wait 45m
"
    );
    // The next check sees the change (the emulator applies it at once by default).
    h.ok(&["mailbox", "check", "--env", "test"]);
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let h = harness(&[]);
    let r = h.expect(
        3,
        &[
            "mailbox",
            "check",
            "--env",
            "test",
            "--user",
            "not-an-address",
        ],
    );
    assert!(
        r.stderr
            .contains("--user \"not-an-address\": not an email address"),
        "{}",
        r.stderr
    );
    let r = h.expect(3, &["mailbox", "check", "--env", "test"]);
    assert!(r.stderr.contains("no mailbox to check"), "{}", r.stderr);
    h.write_spec(&spec(&["support"]));
    let r = h.expect(3, &["mailbox", "check", "--env", "test"]);
    assert!(
        r.stderr.contains(
            "mailreg.toml:7:14: microsoft.mailboxes[0]: \"support\" is not an email address"
        ),
        "{}",
        r.stderr
    );
    assert!(h.emu.requests().is_empty(), "nothing was sent");
    // An unknown user is a finding, not bad input: exit 6, still nothing written.
    h.write_spec(&spec(&[]));
    let doc = json_of(&h.expect(
        6,
        &[
            "mailbox",
            "check",
            "--env",
            "test",
            "--user",
            "ghost@contoso.onmicrosoft.com",
            "-o",
            "json",
        ],
    ));
    let user = &doc["mailboxes"][0]["checks"][0];
    assert_eq!(user["detail"], "no such user in the directory");
    let imap = &doc["mailboxes"][0]["checks"][2];
    assert_eq!(
        (&imap["ok"], &imap["detail"]),
        (&Value::Null, &json!("the user does not exist"))
    );
    assert!(
        h.api_requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("/adminapi/"))
    );
}

#[test]
fn status_and_apply_report_the_spec_mailboxes_without_failing() {
    let h = harness(&[READY, OFF]);
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(
        r.stdout
            .contains(&format!("\nMailboxes:\n{READY} (microsoft): NOT READY\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("{OFF} (microsoft): NOT READY\n  ok   user")),
        "{}",
        r.stdout
    );
    let doc = json_of(&h.ok(&["status", "--env", "test", "-o", "json"]));
    let boxes = doc["mailboxes"].as_array().unwrap();
    assert_eq!(boxes.len(), 2);
    assert_eq!(boxes[1]["user"], OFF);
    assert_eq!(boxes[1]["checks"][2]["ok"], false);
    // No mailboxes listed: nothing is read and the documents keep their old shape.
    h.write_spec(&spec(&[]));
    h.clear();
    let doc = json_of(&h.ok(&["status", "--env", "test", "-o", "json"]));
    assert!(doc.get("mailboxes").is_none());
    assert!(
        h.api_requests()
            .iter()
            .all(|r| !r.path.contains("/users/") && !r.path.contains("/adminapi/"))
    );
}

// ---------------------------------------------------------------------------------------------
// Google: test users, the logo, Gmail's settings
// ---------------------------------------------------------------------------------------------

fn google_spec(extra: &str) -> String {
    format!(
        r#"name = "agileapps-mail"

[google]
project_id = "agileapps-mail-{{env}}"
support_email = "ops@example.com"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
{extra}
"#
    )
}

#[test]
fn google_mailboxes_must_be_test_users() {
    let h = Harness::new(&google_spec(
        "test_users = [\"mailbox@example.com\"]\nmailboxes = [\"mailbox@example.com\", \"other@example.com\"]",
    ));
    let r = h.expect(6, &["mailbox", "check", "--env", "test"]);
    assert_eq!(
        r.stdout,
        "mailbox@example.com (google): ready
  ok   test_user  listed in google.test_users
other@example.com (google): NOT READY
  FAIL test_user  not in google.test_users: while the app is in Testing it cannot sign in
       fix: add other@example.com to google.test_users, and under Audience > Test users in the console
"
    );
    h.write_spec(&google_spec("mailboxes = [\"mailbox@example.com\"]"));
    let doc = json_of(&h.expect(6, &["mailbox", "check", "--env", "test", "-o", "json"]));
    assert_eq!(
        doc["mailboxes"][0]["checks"][0]["detail"],
        "google.test_users is empty: while the app is in Testing nobody can sign in"
    );
    assert!(
        h.emu.requests().is_empty(),
        "the Google checks are the spec's"
    );
}

/// A complete PNG of `w` × `h` grey RGB pixels: IHDR, one IDAT (zlib with stored deflate
/// blocks, so no compressor is needed), IEND, with their CRCs.
fn png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    let mut raw = Vec::new();
    for _ in 0..h {
        raw.push(0); // filter: none
        raw.extend(std::iter::repeat_n(0x80u8, (w * 3) as usize));
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A 24-bit BMP of `w` × `h` pixels, pixels included.
fn bmp(w: u32, h: u32) -> Vec<u8> {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = b"BM".to_vec();
    b.extend(size.to_le_bytes());
    b.extend([0u8; 4]);
    b.extend(54u32.to_le_bytes());
    b.extend(40u32.to_le_bytes());
    b.extend(w.to_le_bytes());
    b.extend(h.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend([0u8; 24]);
    b.resize(size as usize, 0x7f);
    b
}

#[test]
fn the_logo_is_checked_by_content_before_anything_is_sent() {
    let h = Harness::new(&google_spec(
        "test_users = [\"mailbox@example.com\"]\nlogo = \"logo.png\"",
    ));
    let logo = h.dir.path().join("logo.png");
    let bad = |bytes: &[u8], why: &str| {
        std::fs::write(&logo, bytes).unwrap();
        let r = h.expect(3, &["plan", "--env", "test"]);
        let want = format!("mailreg.toml:8:8: google.logo: {}: {why}", logo.display());
        assert!(r.stderr.contains(&want), "{want}\n{}", r.stderr);
        assert!(h.emu.requests().is_empty(), "nothing sent for {why}");
    };
    bad(
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
        "is a PDF document, not a JPG, PNG or BMP image (the format is read from the content, not the name)",
    );
    bad(
        &png(120, 90),
        "is 120 × 90 px; the consent-screen logo must be square (120 × 120 px shows best)",
    );
    let mut big = png(512, 512);
    big.resize(1024 * 1024 + 1, 0);
    bad(
        &big,
        "is larger than 1 MB; the consent-screen logo takes at most 1 MB"
            .replace("consent-screen logo takes", "consent screen takes")
            .as_str(),
    );
    std::fs::remove_file(&logo).unwrap();
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains("google.logo") && r.stderr.contains("cannot read the logo"),
        "{}",
        r.stderr
    );

    // A good one (a BMP named .png: the content decides) is named in the console checklist.
    std::fs::write(&logo, bmp(120, 120)).unwrap();
    let r = h.expect(5, &["apply", "--env", "test", "--yes"]);
    let line = format!(
        "      App logo                   upload {} (BMP, 120 × 120 px)\n",
        logo.display()
    );
    assert!(
        r.stdout.contains(&line) || r.stderr.contains(&line),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    std::fs::write(&logo, png(256, 256)).unwrap();
    let r = h.expect(5, &["apply", "--env", "test", "--yes"]);
    let both = format!("{}{}", r.stdout, r.stderr);
    assert!(
        both.contains("(PNG; 256 × 256 px; Google shows 120 × 120 px best (it is scaled))"),
        "{both}"
    );
}

// ---------------------------------------------------------------------------------------------
// verify: Gmail's settings, and --wait through Exchange's propagation
// ---------------------------------------------------------------------------------------------

/// The emulator's Google principal (its ADC file), as an OAuth client with a refresh token.
fn principal(h: &Harness) -> Value {
    let env: std::collections::HashMap<_, _> = h.emu.env().into_iter().collect();
    serde_json::from_str(&std::fs::read_to_string(&env["GOOGLE_APPLICATION_CREDENTIALS"]).unwrap())
        .unwrap()
}

/// A credentials record whose token endpoint is the emulator's: `verify` refreshes the stored
/// token there instead of asking anyone to sign in.
fn write_record(h: &Harness, provider: &str, user: &str) {
    let p = principal(h);
    let token_url = format!("{}/token", h.emu.url());
    let refresh = json!({ user: p["refresh_token"] });
    let rec = match provider {
        "google" => json!({"version": 1, "name": "agileapps-mail", "env": "test", "google": {
            "project_id": "agileapps-mail-test",
            "authorize_url": format!("{}/o/oauth2/v2/auth", h.emu.url()), "token_url": token_url,
            "scopes": ["https://mail.google.com/"], "redirect_uris": ["http://127.0.0.1/cb"],
            "client": {"client_id": p["client_id"], "client_secret": p["client_secret"],
                       "redirect_uris": ["http://127.0.0.1/cb"], "imported": "2024-01-01T00:00:00Z"},
            "refresh_tokens": refresh}}),
        _ => json!({"version": 1, "name": "agileapps-mail", "env": "test", "microsoft": {
            "tenant": "contoso.onmicrosoft.com", "object_id": "o", "client_id": p["client_id"],
            "audience": "AzureADandPersonalMicrosoftAccount",
            "authorize_url": format!("{}/common/oauth2/v2.0/authorize", h.emu.url()), "token_url": token_url,
            "scopes": ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"],
            "redirect_uris": ["http://127.0.0.1/cb"],
            "secret": {"key_id": "k", "value": p["client_secret"], "expires": "2099-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z"},
            "refresh_tokens": refresh}}),
    };
    std::fs::create_dir_all(h.state_dir()).unwrap();
    std::fs::write(h.store_file("test"), rec.to_string()).unwrap();
}

#[test]
fn verify_says_when_gmail_has_imap_switched_off() {
    let h = Harness::new(&google_spec("test_users = [\"mailbox@example.com\"]"));
    write_record(&h, "google", "mailbox@example.com");
    h.emu.with_state(|s| s.gmail.imap_enabled = false);
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--env", "test", "--user", "mailbox@example.com"];
        args.extend_from_slice(extra);
        h.run(&args)
    };
    let r = verify(&["--wait", "2days"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("--wait 2days: at most 24h"),
        "{}",
        r.stderr
    );
    assert!(h.emu.requests().is_empty(), "refused before the sign-in");
    // Port 9 on loopback: nothing listens, and nothing is tried for a protocol Gmail refuses.
    let nowhere = "127.0.0.1:9";
    let r = verify(&[
        "--imap",
        "--pop",
        "--imap-server",
        nowhere,
        "--pop-server",
        nowhere,
        "--plain",
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let doc = json_of(&r);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results[0]["protocol"], "imap");
    assert_eq!(
        results[0]["reason"],
        "IMAP is disabled in the account's Gmail settings: turn it on in Gmail > Settings > Forwarding and POP/IMAP > IMAP access (in Google Workspace the administrator may also have to allow it: Admin console > Apps > Google Workspace > Gmail > End User Access)"
    );
    assert!(
        results[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("POP is disabled in the account's Gmail settings")
    );
    // Both settings are read together: sorted, the assertion does not depend on which won.
    let mut gmail: Vec<String> = lines(&h.api_requests())
        .into_iter()
        .filter(|l| l.contains("/gmail/"))
        .collect();
    gmail.sort();
    assert_eq!(
        gmail,
        [
            "GET /gmail/v1/users/me/settings/imap",
            "GET /gmail/v1/users/me/settings/pop"
        ]
    );
}

/// A loopback IMAP server that answers as Exchange does: the login passes only once the
/// emulator's Exchange has IMAP on for the mailbox (after its propagation delay).
fn exchange_like_imap(h: &Harness, listener: TcpListener, stop: &AtomicBool, user: &str) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        let Ok((sock, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        sock.set_nonblocking(false).unwrap();
        let mut out = sock.try_clone().unwrap();
        let mut lines = BufReader::new(sock).lines();
        let _ = out.write_all(b"* OK Exchange-like IMAP ready\r\n");
        while let Some(Ok(line)) = lines.next() {
            let (tag, cmd) = line.split_once(' ').unwrap_or((&line, ""));
            let answer = match cmd.split(' ').next().unwrap_or("") {
                "CAPABILITY" => {
                    format!("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\n{tag} OK done\r\n")
                }
                "AUTHENTICATE" => {
                    let on = h.emu.with_state(|s| {
                        s.exchange
                            .effective(user, time::OffsetDateTime::now_utc())
                            .is_some_and(|c| c.imap)
                    });
                    if on {
                        format!("{tag} OK authenticated\r\n")
                    } else {
                        format!("{tag} NO AUTHENTICATE failed.\r\n")
                    }
                }
                "EXAMINE" => format!("* 0 EXISTS\r\n{tag} OK [READ-ONLY] done\r\n"),
                _ => format!("* BYE\r\n{tag} OK bye\r\n"),
            };
            if out.write_all(answer.as_bytes()).is_err() || answer.contains("BYE") {
                break;
            }
        }
    }
}

/// Runs `f` with the arguments of an IMAP-only `verify` of `user` against
/// [`exchange_like_imap`], which serves until `f` returns.
fn with_exchange_imap<R>(h: &Harness, user: &str, f: impl FnOnce(Vec<String>) -> R) -> R {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| exchange_like_imap(h, listener, &stop, user));
        let args = [
            "verify",
            "--env",
            "test",
            "--provider",
            "microsoft",
            "--user",
            user,
            "--imap",
            "--imap-server",
            &server,
            "--plain",
        ];
        let out = f(args.map(String::from).to_vec());
        stop.store(true, Ordering::Relaxed);
        out
    })
}

/// A spec whose registration asks for IMAP only, and `user` with IMAP off and POP on, whose
/// changes take 1.5 s to show; a record that lets `verify` refresh a token at the emulator.
fn imap_off_with_propagation(user: &str) -> Harness {
    let h = Harness::new(&spec(&[user]).replace(", \"POP.AccessAsUser.All\", \"SMTP.Send\"", ""));
    h.emu.with_state(|s| {
        s.exchange.propagation = Duration::from_millis(1500);
        s.add_mailbox(with_protocols(user, false, true));
    });
    write_record(&h, "microsoft", user);
    h
}

#[test]
fn verify_wait_returns_once_the_change_has_propagated() {
    let h = imap_off_with_propagation(OFF);
    with_exchange_imap(&h, OFF, |args| {
        let verify = |extra: &[&str]| {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend_from_slice(&["-o", "json"]);
            all.extend_from_slice(extra);
            h.run(&all)
        };
        // IMAP is off: the login fails, as Exchange's does.
        let r = verify(&[]);
        assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
        let attempts = &json_of(&r)["results"][0]["attempts"];
        assert_eq!(attempts, &Value::Null, "no --wait, no attempts");
        h.ok(&["mailbox", "check", "--env", "test", "--fix", "--yes"]);
        // With --wait (4 hours at MAILREG_TIME_SCALE=0.001: 14 s), it returns once it works.
        let r = verify(&["--wait", "4h"]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let doc = json_of(&r);
        let imap = &doc["results"][0];
        assert_eq!(imap["ok"], true);
        assert!(imap["attempts"].as_u64().unwrap() > 1, "{imap}");
        let first = imap["first_success"].as_str().unwrap();
        assert!(first.ends_with('Z'), "{imap}");
    });
}

/// What a terminal shows: `--fix` asks (only "yes" changes anything), and `verify --wait` keeps
/// one progress line with the elapsed time, the next try and each protocol's state.
#[test]
fn on_a_terminal_fix_asks_and_wait_shows_progress() {
    let mut h = imap_off_with_propagation(OFF);
    h.extra_env.push(("TERM".into(), "xterm".into()));
    let fix = ["mailbox", "check", "--env", "test", "--fix"];
    let (code, screen) = finish_tty(h.tty(&fix), "no\n");
    assert_eq!(code, 7, "{screen}");
    let asked = "Change these mailboxes?\n  Only 'yes' will be accepted:";
    assert!(screen.contains(asked), "{screen}");
    let sets = exchange_bodies(&h)
        .into_iter()
        .filter(|b| b["CmdletInput"]["CmdletName"] == "Set-CASMailbox")
        .count();
    assert_eq!(sets, 0, "declined: nothing written");
    let (code, screen) = finish_tty(h.tty(&fix), "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Changed 1 mailbox(es)."), "{screen}");

    with_exchange_imap(&h, OFF, |mut args| {
        args.extend(["--wait".into(), "4h".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, screen) = finish_tty(h.tty(&args), "");
        assert_eq!(code, 0, "{screen}");
        assert!(
            screen.contains("waiting for the mailbox settings to apply: 0m")
                && screen.contains("elapsed of 240m00s, next try in ")
                && screen.contains("; imap waiting"),
            "{screen}"
        );
        let server = &args[args.iter().position(|a| *a == "--imap-server").unwrap() + 1];
        let passed = format!("imap  OK      {server} (XOAUTH2, plain): passed on try ");
        assert!(screen.contains(&passed), "{screen}");
    });
}
