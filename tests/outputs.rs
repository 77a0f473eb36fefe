//! Mailbox config outputs: built-in templates for both providers, [[output]] files, errors.

mod common;

use common::*;

fn both_spec(outputs: &str) -> String {
    format!(
        "{SPEC}\n{}\n{outputs}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    )
}

fn secrets(h: &Harness) -> Vec<String> {
    let rec = h.record("test");
    vec![
        rec["microsoft"]["secret"]["value"]
            .as_str()
            .unwrap()
            .to_owned(),
        rec["google"]["client"]["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    ]
}

fn scrub(h: &Harness, text: &str) -> String {
    let mut out = normalise(text, h.dir.path());
    for s in secrets(h) {
        out = out.replace(&s, "[SECRET]");
    }
    let google_id =
        regex_lite::Regex::new(r"\d{12}-[a-z0-9]{32}\.apps\.googleusercontent\.com").unwrap();
    google_id
        .replace_all(&out, "[GOOGLE_CLIENT_ID]")
        .into_owned()
}

#[test]
fn every_builtin_template_renders_for_both_providers() {
    let h = Harness::new(&both_spec(""));
    applied_with_client(&h);
    for template in ["agileapps", "json", "env", "yaml"] {
        for provider in ["microsoft", "google"] {
            let r = h.ok(&[
                "output",
                "--env",
                "test",
                "--format",
                template,
                "--provider",
                provider,
                "--show-secrets",
            ]);
            if template == "json" || template == "agileapps" {
                serde_json::from_str::<serde_json::Value>(&r.stdout)
                    .unwrap_or_else(|e| panic!("{template}/{provider}: {e}\n{}", r.stdout));
            }
            insta::assert_snapshot!(
                format!("template_{template}_{provider}"),
                scrub(&h, &r.stdout)
            );
            // Without --show-secrets no secret appears.
            let masked = h.ok(&[
                "output",
                "--env",
                "test",
                "--format",
                template,
                "--provider",
                provider,
            ]);
            for s in secrets(&h) {
                assert!(
                    !masked.stdout.contains(&s),
                    "{template}/{provider} leaks a secret"
                );
            }
        }
    }
    // Both providers on record: --format needs --provider.
    let r = h.expect(3, &["output", "--env", "test", "--format", "json"]);
    assert!(
        r.stderr.contains("choose one with --provider"),
        "{}",
        r.stderr
    );
}

#[test]
fn outputs_in_the_spec_are_written_by_apply_with_mode_0600() {
    let outputs = r#"
[[output]]
provider = "microsoft"
template = "agileapps"
path = "out/{env}/outlook-mailbox.json"
vars = { email = "mailbox@contoso.com" }

[[output]]
provider = "google"
template = "env"
path = "out/{env}/gmail.env"
"#;
    let h = Harness::new(&both_spec(outputs));
    let r = h.expect(5, &["apply", "--env", "test", "--yes"]);
    let ms = h.dir.path().join("out/test/outlook-mailbox.json");
    let gm = h.dir.path().join("out/test/gmail.env");
    assert!(
        r.stdout.contains(&format!(
            "output  wrote {} (agileapps, microsoft)",
            ms.display()
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "output  pending (credentials not complete yet) {} (env, google)",
            gm.display()
        )),
        "{}",
        r.stdout
    );
    assert_eq!(mode(&ms), 0o600);
    assert!(!gm.exists());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ms).unwrap()).unwrap();
    assert_eq!(doc["emailAddress"], "mailbox@contoso.com");
    assert_eq!(doc["mailServer"], "outlook.office365.com");
    assert_eq!(doc["port"], 993);
    assert_eq!(
        doc["clientSecret"],
        serde_json::json!(h.record("test")["microsoft"]["secret"]["value"])
    );
    // Import, apply: the Google file appears; the Microsoft one is left alone.
    import_default_client(&h);
    let r = h.ok(&["apply", "--env", "test", "--yes", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let statuses: Vec<&str> = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    // The agileapps output and its paste sheet are left alone; the Google file is written.
    assert_eq!(statuses, ["unchanged", "unchanged", "written"]);
    assert_eq!(mode(&gm), 0o600);
    let env = std::fs::read_to_string(&gm).unwrap();
    assert!(
        env.contains("MAILREG_SCOPE=\"https://mail.google.com/\"\n"),
        "{env}"
    );
    assert!(
        env.contains("MAILREG_AUTH_PARAM_ACCESS_TYPE=\"offline\"\n"),
        "{env}"
    );
}

#[test]
fn template_and_output_errors_stop_before_any_request() {
    let h = Harness::new(SPEC);
    std::fs::write(
        h.dir.path().join("mine.j2"),
        "id={{ client_id }}\nmail={{ vars.emial }}\n",
    )
    .unwrap();
    h.write_spec(&format!(
        "{SPEC}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"mine.j2\"\npath = \"out.txt\"\n"
    ));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(&format!("mailreg.toml:11:12: output[0].template: template {}:2: undefined variable `vars.emial`", h.dir.path().join("mine.j2").display())),
        "{}",
        r.stderr
    );
    h.write_spec(&format!("{SPEC}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"agileaps\"\npath = \"out.txt\"\n"));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(r.stderr.contains("output[0].template: \"agileaps\" is not a built-in template (agileapps, json, env, yaml, agileapps-sheet)"), "{}", r.stderr);
    h.write_spec(&format!(
        "{SPEC}\n[[output]]\nprovider = \"google\"\ntemplate = \"json\"\npath = \"out.txt\"\n"
    ));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains(
            "mailreg.toml:10:12: output[0].provider: \"google\" is not applied by this spec"
        ),
        "{}",
        r.stderr
    );
    // An output that cannot be written: a folder path under a regular file.
    h.write_spec(&format!("{SPEC}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"json\"\npath = \"mailreg.toml/out.json\"\n"));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("output[0].path:") && r.stderr.contains("cannot be written"),
        "{}",
        r.stderr
    );
    assert!(
        h.api_requests().iter().all(|r| !r.is_write()),
        "no write request for bad outputs"
    );
}

// App-only access (client credentials): the outputs carry what such a client needs, and leave
// out the code flow (authorize URL, redirect URI, refresh-token parameters).

const APP_SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
access = "app"
tenant = "contoso.onmicrosoft.com"
mailboxes = ["helpdesk@contoso.com", { address = "noreply@contoso.com", rights = ["send"] }]

[[output]]
provider = "microsoft"
template = "agileapps"
path = "out/agileapps.json"
vars = { email = "helpdesk@contoso.com" }
"#;

const APP_SECRET: &str = "app~secret.Value-0123456789abcdefghij";

/// A spec with app access and the record `apply` writes for it.
fn app_harness() -> Harness {
    let h = Harness::new(APP_SPEC);
    std::fs::create_dir_all(h.state_dir()).unwrap();
    let record = serde_json::json!({"version": 1, "name": "agileapps-mail", "env": "test", "microsoft": {
        "access": "app",
        "tenant": "contoso.onmicrosoft.com", "object_id": "00000000-0000-0000-0000-0000000000a1",
        "client_id": "11111111-2222-3333-4444-555555555555",
        "audience": "AzureADMyOrg",
        "authorize_url": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "scopes": ["https://outlook.office365.com/.default"],
        "redirect_uris": [],
        "service_principal_id": "99999999-8888-7777-6666-555555555555",
        "secret": {"key_id": "k", "value": APP_SECRET,
                   "expires": "2027-01-01T00:00:00Z", "created": "2025-01-01T00:00:00Z"}}});
    std::fs::write(h.store_file("test"), record.to_string()).unwrap();
    h
}

fn app_output(h: &Harness, template: &str) -> String {
    let r = h.ok(&[
        "output",
        "--env",
        "test",
        "--format",
        template,
        "--show-secrets",
    ]);
    let masked = h.ok(&["output", "--env", "test", "--format", template]);
    assert!(!masked.stdout.contains(APP_SECRET), "{template} leaks");
    r.stdout
}

#[test]
fn every_builtin_template_renders_for_app_access() {
    let h = app_harness();
    for template in ["json", "env", "yaml", "agileapps", "agileapps-sheet"] {
        let text = app_output(&h, template);
        for gone in ["authorize", "redirect", "refresh", "offline", "AUTH_URL"] {
            assert!(
                !text.to_lowercase().contains(&gone.to_lowercase())
                    || template.starts_with("agileapps"),
                "{template} carries {gone}:\n{text}"
            );
        }
        insta::assert_snapshot!(
            format!("template_{template}_microsoft_app"),
            text.replace(APP_SECRET, "[SECRET]")
        );
    }
}

#[test]
fn the_app_json_output_has_exactly_what_a_client_credentials_client_needs() {
    let h = app_harness();
    let doc: serde_json::Value = serde_json::from_str(&app_output(&h, "json")).unwrap();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access",
            "client_id",
            "client_secret",
            "env",
            "grant_type",
            "mailboxes",
            "name",
            "provider",
            "scope",
            "secret_expires",
            "servers",
            "tenant",
            "token_url"
        ]
    );
    assert_eq!(doc["access"], "app");
    assert_eq!(doc["grant_type"], "client_credentials");
    assert_eq!(doc["client_id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(doc["client_secret"], APP_SECRET);
    assert_eq!(doc["tenant"], "contoso.onmicrosoft.com");
    assert_eq!(
        doc["token_url"],
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(doc["scope"], "https://outlook.office365.com/.default");
    assert_eq!(
        doc["mailboxes"],
        serde_json::json!([
            {"address": "helpdesk@contoso.com", "rights": ["read", "send"], "protocols": ["imap", "pop", "smtp"]},
            {"address": "noreply@contoso.com", "rights": ["send"], "protocols": ["smtp"]}
        ])
    );
    assert_eq!(doc["servers"]["imap"]["host"], "outlook.office365.com");
}

#[test]
fn the_app_env_output_has_exactly_what_a_client_credentials_client_needs() {
    let h = app_harness();
    let text = app_output(&h, "env");
    let vars: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), serde_json::from_str::<String>(v).unwrap())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("MAILREG_PROVIDER", "microsoft"),
        ("MAILREG_ACCESS", "app"),
        ("MAILREG_TENANT", "contoso.onmicrosoft.com"),
        ("MAILREG_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
        ("MAILREG_CLIENT_SECRET", APP_SECRET),
        ("MAILREG_GRANT_TYPE", "client_credentials"),
        (
            "MAILREG_TOKEN_URL",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        ),
        ("MAILREG_SCOPE", "https://outlook.office365.com/.default"),
        ("MAILREG_IMAP_SERVER", "outlook.office365.com:993"),
        ("MAILREG_POP_SERVER", "outlook.office365.com:995"),
        ("MAILREG_SMTP_SERVER", "smtp.office365.com:587"),
        ("MAILREG_SECRET_EXPIRES", "2027-01-01T00:00:00Z"),
        (
            "MAILREG_MAILBOXES",
            "helpdesk@contoso.com noreply@contoso.com",
        ),
        ("MAILREG_MAILBOX_1_ADDRESS", "helpdesk@contoso.com"),
        ("MAILREG_MAILBOX_1_RIGHTS", "read send"),
        ("MAILREG_MAILBOX_1_PROTOCOLS", "imap pop smtp"),
        ("MAILREG_MAILBOX_2_ADDRESS", "noreply@contoso.com"),
        ("MAILREG_MAILBOX_2_RIGHTS", "send"),
        ("MAILREG_MAILBOX_2_PROTOCOLS", "smtp"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(vars, expected);
}

#[test]
fn the_app_yaml_output_has_exactly_what_a_client_credentials_client_needs() {
    let h = app_harness();
    let text = app_output(&h, "yaml");
    // Top-level keys, in order; scalar values are JSON (the template writes them with tojson).
    let top: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
        .map(|l| l.split_once(':').map(|(k, v)| (k, v.trim())).unwrap())
        .collect();
    assert_eq!(
        top,
        [
            ("provider", "\"microsoft\""),
            ("access", "\"app\""),
            ("tenant", "\"contoso.onmicrosoft.com\""),
            ("client_id", "\"11111111-2222-3333-4444-555555555555\""),
            ("client_secret", &*format!("\"{APP_SECRET}\"")),
            ("secret_expires", "\"2027-01-01T00:00:00Z\""),
            ("grant_type", "\"client_credentials\""),
            (
                "token_url",
                "\"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token\""
            ),
            ("scope", "\"https://outlook.office365.com/.default\""),
            ("mailboxes", ""),
            ("servers", ""),
        ]
    );
    assert!(text.contains(
        "mailboxes:\n  - address: \"helpdesk@contoso.com\"\n    rights: [\"read\", \"send\"]\n    protocols: [\"imap\", \"pop\", \"smtp\"]\n  - address: \"noreply@contoso.com\"\n    rights: [\"send\"]\n    protocols: [\"smtp\"]\n"
    ), "{text}");
}

#[test]
fn the_agileapps_outputs_say_app_access_cannot_fill_the_form() {
    let h = app_harness();
    let doc: serde_json::Value = serde_json::from_str(&app_output(&h, "agileapps")).unwrap();
    assert_eq!(doc["supported"], false);
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .starts_with("AgileApps' mailbox form (Setup > Mailboxes, authentication type OAuth) signs in with the authorization-code flow only")
    );
    for form_field in [
        "clientSecret",
        "authUrl",
        "accessTokenUrl",
        "redirectUri",
        "mailServer",
    ] {
        assert!(doc.get(form_field).is_none(), "{form_field} in {doc}");
    }
    let sheet = app_output(&h, "agileapps-sheet");
    assert_eq!(
        sheet.lines().next().unwrap(),
        "AgileApps mailbox settings: microsoft (agileapps-mail, test): NOT POSSIBLE WITH APP ACCESS"
    );
    assert!(!sheet.contains(APP_SECRET));
}
