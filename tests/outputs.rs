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
