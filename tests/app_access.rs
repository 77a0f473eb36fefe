//! App-only access against the emulator: one plan makes the registration with Exchange's
//! application permissions, its service principal and role assignments, Exchange's record of
//! it and each mailbox's rights; a no-op sends only reads; a right removed by hand is given
//! back; destroy removes in reverse; a kill at any write converges.

mod common;

use common::*;
use mailreg_emulator::MailboxSeed;

const HELPDESK: &str = "helpdesk@contoso.onmicrosoft.com";
const NOREPLY: &str = "noreply@contoso.onmicrosoft.com";

const SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
access = "app"
tenant = "contoso.onmicrosoft.com"
mailboxes = ["helpdesk@contoso.onmicrosoft.com", { address = "noreply@contoso.onmicrosoft.com", rights = ["send"] }]
"#;

fn harness() -> Harness {
    let h = Harness::new(SPEC);
    h.emu.with_state(|s| {
        s.add_mailbox(MailboxSeed::ready(HELPDESK));
        s.add_mailbox(MailboxSeed::ready(NOREPLY));
    });
    h
}

fn cmdlets(h: &Harness) -> Vec<String> {
    common::cmdlets(&h.emu)
}

/// (mailbox, right) held in Exchange, sorted.
fn rights(h: &Harness) -> Vec<(String, String)> {
    h.emu.with_state(|s| {
        let mut v: Vec<(String, String)> = s
            .exchange
            .app
            .rights
            .iter()
            .flat_map(|(m, rs)| rs.iter().map(move |r| (m.clone(), r.right.to_owned())))
            .collect();
        v.sort();
        v
    })
}

const APPLY: &[&str] = &["apply", "--env", "test", "--yes"];

#[test]
fn app_access_is_one_plan_from_registration_to_mailbox_rights() {
    let h = harness();
    let r = h.ok(APPLY);
    for line in [
        "  + microsoft.application",
        "  + microsoft.service_principal",
        "  + microsoft.app_roles[IMAP.AccessAsApp]",
        "  + microsoft.app_roles[POP.AccessAsApp]",
        "  + microsoft.app_roles[SMTP.SendAsApp]",
        "  + exchange.service_principal",
        &format!("  + exchange.mailbox_permission[{HELPDESK}]"),
        &format!("  + exchange.recipient_permission[{HELPDESK}]"),
        &format!("  + exchange.recipient_permission[{NOREPLY}]"),
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    assert!(
        !r.stdout
            .contains(&format!("exchange.mailbox_permission[{NOREPLY}]")),
        "{}",
        r.stdout
    );
    // The registration asks for Exchange's application permissions, by their ids.
    let app = h.emu.with_state(|s| s.graph.applications()[0].clone());
    let rra = &app["requiredResourceAccess"];
    assert_eq!(
        rra[0]["resourceAppId"],
        "00000002-0000-0ff1-ce00-000000000000"
    );
    let ids: Vec<&str> = rra[0]["resourceAccess"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["type"], "Role");
            a["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
            "cb842b43-da6e-4506-86fe-bb12199c656d",
            "7146a1f0-8703-45b3-9eae-527a64c00995"
        ]
    );
    // Consent: three assignments for the app's service principal, on Exchange's.
    let (sp_id, exchange_id, assigned, principals) = h.emu.with_state(|s| {
        let sp = s.graph.service_principals()[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (
            sp.clone(),
            s.graph.exchange_service_principal_id(),
            s.graph.exchange_roles_of(&sp),
            s.exchange.app.principals.clone(),
        )
    });
    assert_eq!(
        assigned,
        ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]
    );
    assert_ne!(sp_id, exchange_id);
    // Exchange's record names the enterprise application's object ID, not the app's.
    assert_eq!(principals.len(), 1);
    assert_eq!(principals[0].object_id, sp_id);
    assert_eq!(principals[0].app_id, app["appId"].as_str().unwrap());
    assert_ne!(principals[0].object_id, app["id"].as_str().unwrap());
    assert_eq!(
        rights(&h),
        [
            (HELPDESK.into(), "FullAccess".into()),
            (HELPDESK.into(), "SendAs".into()),
            (NOREPLY.into(), "SendAs".into())
        ]
    );
    let record = h.record("test");
    assert_eq!(record["microsoft"]["access"], "app");
    assert_eq!(record["microsoft"]["service_principal_id"], sp_id.as_str());
    assert_eq!(
        record["microsoft"]["scopes"],
        serde_json::json!(["https://outlook.office365.com/.default"])
    );

    // No-op: nothing to do, and Exchange gets only reads.
    h.clear();
    let again = h.ok(APPLY);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let sent = cmdlets(&h);
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|c| c.starts_with("Get-")), "{sent:?}");
    assert!(
        h.api_requests().iter().all(|r| r.method == "GET"
            || r.path.contains("/InvokeCommand")
            || r.path.contains("/token")),
        "{:?}",
        lines(&h.api_requests())
    );

    // Drift: a right removed by hand is given back, and only it.
    assert!(
        h.emu
            .with_state(|s| s.exchange.app.remove_right(HELPDESK, "FullAccess"))
    );
    h.clear();
    let fixed = h.ok(APPLY);
    assert!(
        fixed
            .stdout
            .contains(&format!("  + exchange.mailbox_permission[{HELPDESK}]")),
        "{}",
        fixed.stdout
    );
    assert!(
        fixed
            .stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        fixed.stdout
    );
    assert_eq!(
        cmdlets(&h)
            .iter()
            .filter(|c| !c.starts_with("Get-"))
            .collect::<Vec<_>>(),
        ["Add-MailboxPermission"]
    );
    assert_eq!(rights(&h).len(), 3);

    // Destroy: the rights, Exchange's record, the assignments, then the app.
    h.clear();
    let gone = h.ok(&["destroy", "--env", "test", "--yes"]);
    for l in [
        format!("  - exchange.mailbox_permission[{HELPDESK}]"),
        "  - exchange.service_principal".to_owned(),
        "  - microsoft.app_roles[IMAP.AccessAsApp]".to_owned(),
        "  - microsoft.application".to_owned(),
    ] {
        assert!(gone.stdout.contains(&l), "{l}\n{}", gone.stdout);
    }
    // Carried out in reverse: Exchange's writes, then the assignments, then the app.
    let reqs = h.emu.requests();
    let at = |f: &dyn Fn(&mailreg_emulator::LoggedRequest) -> bool| {
        reqs.iter().position(f).expect("request sent")
    };
    let last_exchange = reqs
        .iter()
        .rposition(|r| r.path.contains("/InvokeCommand"))
        .unwrap();
    let first_unassign = at(&|r| r.method == "DELETE" && r.path.contains("/appRoleAssignedTo/"));
    let delete_app = at(&|r| r.method == "DELETE" && r.path.contains("/applications/"));
    assert!(last_exchange < first_unassign && first_unassign < delete_app);
    let writes: Vec<String> = cmdlets(&h)
        .into_iter()
        .filter(|c| !c.starts_with("Get-"))
        .collect();
    assert_eq!(
        writes,
        [
            "Remove-MailboxPermission",
            "Remove-RecipientPermission",
            "Remove-RecipientPermission",
            "Remove-ServicePrincipal"
        ]
    );
    assert!(rights(&h).is_empty());
    h.emu.with_state(|s| {
        assert!(s.exchange.app.principals.is_empty());
        assert!(s.graph.app_role_assignments().is_empty());
    });
}

#[test]
fn exchange_lagging_behind_entra_is_waited_out() {
    let h = harness();
    h.emu.with_state(|s| s.exchange.app.sp_lag = 2);
    h.ok(APPLY);
    let news = cmdlets(&h)
        .into_iter()
        .filter(|c| c == "New-ServicePrincipal")
        .count();
    assert_eq!(news, 3);
    assert_eq!(h.emu.with_state(|s| s.exchange.app.principals.len()), 1);
}

#[test]
fn a_kill_at_any_write_converges_without_duplicates() {
    for k in 1..40 {
        let h = harness();
        if !run_killed_at(&h, APPLY, k) {
            break;
        }
        h.ok(APPLY);
        let again = h.ok(APPLY);
        assert!(
            again.stdout.contains("No changes."),
            "kill at {k}: {}",
            again.stdout
        );
        h.emu.with_state(|s| {
            assert_eq!(s.graph.applications().len(), 1, "kill at {k}");
            assert_eq!(s.graph.service_principals().len(), 1, "kill at {k}");
            assert_eq!(s.graph.app_role_assignments().len(), 3, "kill at {k}");
            assert_eq!(s.exchange.app.principals.len(), 1, "kill at {k}");
        });
        assert_eq!(rights(&h).len(), 3, "kill at {k}");
    }
}

#[test]
fn an_exchange_record_with_the_registrations_object_id_is_replaced() {
    let h = harness();
    h.ok(APPLY);
    // Someone registered the app in Exchange by hand with the wrong object ID.
    let (app_id, object_id) = h.emu.with_state(|s| {
        let app = s.graph.applications()[0].clone();
        let p = &mut s.exchange.app.principals[0];
        p.object_id = app["id"].as_str().unwrap().to_owned();
        (p.app_id.clone(), p.object_id.clone())
    });
    let r = h.ok(APPLY);
    assert!(
        r.stdout.contains("  -/+ exchange.service_principal")
            || r.stdout.contains("exchange.service_principal"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("the app registration's instead of the enterprise application's"),
        "{}",
        r.stdout
    );
    h.emu.with_state(|s| {
        let p = &s.exchange.app.principals;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].app_id, app_id);
        assert_ne!(p[0].object_id, object_id);
    });
}

/// The whole app-only path offline: `up` makes everything, then logs in with client
/// credentials as each mailbox, on the protocols its rights give.
#[test]
fn up_ends_in_app_only_logins_as_each_mailbox() {
    let h = harness();
    h.emu
        .with_state(|s| s.exchange.org_smtp_auth_disabled = false);
    let r = h.ok(&["-o", "json", "up", "--env", "test", "--yes"]);
    let doc: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let mut got: Vec<(String, String, bool)> = doc["verify"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| {
            let user = v["user"].as_str().unwrap().to_owned();
            v["results"].as_array().unwrap().iter().map(move |x| {
                (
                    user.clone(),
                    x["protocol"].as_str().unwrap().to_owned(),
                    x["ok"].as_bool().unwrap(),
                )
            })
        })
        .collect();
    got.sort();
    let want = |u: &str, p: &str| (u.to_owned(), p.to_owned(), true);
    assert_eq!(
        got,
        [
            want(HELPDESK, "imap"),
            want(HELPDESK, "pop3"),
            want(HELPDESK, "smtp"),
            want(NOREPLY, "smtp"),
        ]
    );

    // Without the right, Exchange refuses the app's login: verify exits 6.
    assert!(
        h.emu
            .with_state(|s| s.exchange.app.remove_right(HELPDESK, "FullAccess"))
    );
    let v = h.expect(6, &["verify", "--env", "test", "--user", HELPDESK]);
    assert!(
        v.stdout.contains("FullAccess") || v.stderr.contains("FullAccess"),
        "{}\n{}",
        v.stdout,
        v.stderr
    );
}

/// `mailbox check` with app access: Exchange's record of the app and each right beside the
/// protocol settings, each mailbox judged on what its own rights open.
#[test]
fn mailbox_check_reports_exchanges_record_and_each_right() {
    let h = harness();
    h.emu
        .with_state(|s| s.exchange.org_smtp_auth_disabled = false);
    h.ok(APPLY);
    let r = h.ok(&["-o", "json", "mailbox", "check", "--env", "test"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let checks = |user: &str| -> Vec<(String, bool)> {
        doc["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user"] == user)
            .unwrap()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["check"].as_str().unwrap().to_owned(),
                    c["ok"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let all_ok = |names: &[&str]| -> Vec<(String, bool)> {
        names.iter().map(|n| ((*n).to_owned(), true)).collect()
    };
    assert_eq!(
        checks(HELPDESK),
        all_ok(&[
            "user",
            "licence",
            "imap",
            "pop",
            "smtp_auth",
            "exchange_sp",
            "full_access",
            "send_as"
        ])
    );
    // noreply may only send: no IMAP/POP check, no FullAccess.
    assert_eq!(
        checks(NOREPLY),
        all_ok(&["user", "licence", "smtp_auth", "exchange_sp", "send_as"])
    );

    // A right removed by hand: that check fails with its fix, exit 6.
    assert!(
        h.emu
            .with_state(|s| s.exchange.app.remove_right(NOREPLY, "SendAs"))
    );
    let r = h.expect(6, &["mailbox", "check", "--env", "test"]);
    assert!(
        r.stdout
            .contains("  FAIL send_as    the app does not hold SendAs (SMTP)\n       fix: `mailreg apply` gives it (Add-RecipientPermission); Exchange honours it after up to 30 minutes\n"),
        "{}",
        r.stdout
    );
}
