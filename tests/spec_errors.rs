//! The newcomer's second hour: every spec mistake in one run, at its line, with the fix when
//! one is close; sign-in errors that say what is missing instead of blaming the spec.

mod common;

use common::*;

fn run_cmd(mut cmd: std::process::Command) -> Run {
    let out = cmd.output().expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// No ADC file and no gcloud login, off Google Cloud: the error names each source ADC tries,
/// in order, and the two fixes, with or without `google.parent`; exit 4, nothing sent.
#[test]
fn no_google_credential_names_every_source_and_the_fixes() {
    let h = Harness::new(GOOGLE_SPEC);
    for spec in [
        GOOGLE_SPEC.to_owned(),
        GOOGLE_SPEC.replace("[google]\n", "[google]\nparent = \"folders/123\"\n"),
    ] {
        h.write_spec(&spec);
        let mut cmd = h.command(&["plan", "--env", "test"]);
        cmd.env_remove("GOOGLE_APPLICATION_CREDENTIALS");
        let r = run_cmd(cmd);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert_eq!(
            normalise(&r.stderr, h.dir.path()),
            "error: no Google credential is configured; tried, in order: GOOGLE_APPLICATION_CREDENTIALS (not set), gcloud's application-default login ([TMP]/.config/gcloud/application_default_credentials.json: not found), the metadata server (not tried: this is not a Google Cloud machine; GCE_METADATA_HOST is not set and /sys/class/dmi/id/product_name does not name Google)\n  \
             hint: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file\n"
        );
    }
    assert!(h.emu.requests().is_empty(), "{:?}", h.emu.requests());
}

/// `GCE_METADATA_HOST` says there is a metadata server: mailreg uses it, and says so.
#[test]
fn a_metadata_host_is_used_and_named() {
    let h = Harness::new(GOOGLE_SPEC);
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env_remove("GOOGLE_APPLICATION_CREDENTIALS").env(
        "GCE_METADATA_HOST",
        h.emu.url().trim_start_matches("http://"),
    );
    let r = run_cmd(cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "mailreg signs in to Google as a service account (the metadata server (attached service account; GCE_METADATA_HOST=127.0.0.1:"
        ),
        "{}",
        r.stderr
    );
}

const MANY: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "common"
redirect_uris = "https://agileapps.example.com/oauth/callback"
secret_lifetime_days = "90"

[[output]]
provider = "microsoft"
template = "agilapps"
path = "out/agileapps.json"

[[output]]
provider = "microsoft"
template = "mine.j2"
path = "out/mine.txt"
vars = { email = "mailbox@example.com" }

[[output]]
provider = "microsoft"
template = "broken.j2"
path = "out/broken.txt"
"#;

/// Wrong types, a wrong value, an unknown template name, undefined template variables and a
/// template syntax error: one run, one line each, nothing sent.
#[test]
fn every_spec_and_template_error_is_reported_in_one_run() {
    let h = Harness::new(MANY);
    std::fs::write(
        h.dir.path().join("mine.j2"),
        "id={{ client_idd }}\nmail={{ vars.emial }}\n",
    )
    .unwrap();
    std::fs::write(h.dir.path().join("broken.j2"), "{% if %}\n").unwrap();
    let r = h.expect(3, &["plan", "--env", "test"]);
    insta::assert_snapshot!("all_at_once", normalise(&r.stderr, h.dir.path()));
    assert!(h.emu.requests().is_empty(), "{:?}", h.emu.requests());
}

/// `AZURE_CLIENT_ID` without a secret: the message names what is missing.
#[test]
fn a_client_id_without_a_secret_names_the_secret() {
    let h = Harness::new(SPEC);
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env_remove("AZURE_CLIENT_SECRET");
    let r = run_cmd(cmd);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let r = normalise(&r.stderr, h.dir.path());
    assert!(
        r.starts_with("error: AZURE_CLIENT_ID is set (")
            && r.contains("but nothing to sign in with it: AZURE_CLIENT_SECRET is not set\n  hint: set AZURE_CLIENT_SECRET to the client secret's Value, or AZURE_FEDERATED_TOKEN_FILE"),
        "{r}"
    );
    assert!(h.emu.requests().is_empty());
}

/// `--client-id` with nothing on standard input: the hint says how the secret is given.
#[test]
fn a_client_id_with_empty_stdin_says_how_to_give_the_secret() {
    let h = Harness::new(GOOGLE_SPEC);
    let r = h.expect(
        3,
        &[
            "google",
            "import-client",
            "--env",
            "test",
            "--client-id",
            "1-abc.apps.googleusercontent.com",
        ],
    );
    assert_eq!(
        r.stderr,
        "error: the client secret read from standard input is empty\n  hint: --client-id takes the secret on standard input: `mailreg google import-client --client-id 1-abc.apps.googleusercontent.com < client-secret.txt`, or run it at a terminal to be asked; or give the downloaded client JSON file instead\n"
    );
}

/// The AgileApps JSON writes `&` in the Google Auth URL as `&`, as serde_json would.
#[test]
fn agileapps_json_writes_urls_plainly() {
    let spec = format!(
        "{GOOGLE_SPEC}\n[[output]]\nprovider = \"google\"\ntemplate = \"agileapps\"\npath = \"out/agileapps.json\"\n"
    );
    let h = Harness::new(&spec);
    applied_with_client(&h);
    let text = std::fs::read_to_string(h.dir.path().join("out/agileapps.json")).unwrap();
    assert!(!text.contains("\\u0026"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let url = v["authUrl"].as_str().unwrap();
    assert!(
        url.ends_with("?access_type=offline&prompt=consent"),
        "{url}"
    );
    assert!(text.contains(&format!("\"authUrl\": \"{url}\"")), "{text}");
}

/// A tenant Entra does not know (AADSTS90002) is the spec's `microsoft.tenant`: the hint
/// gives its file:line:column.
#[test]
fn a_tenant_not_found_names_the_tenant_line() {
    let h = Harness::new(&SPEC.replace("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"));
    let r = h.expect(4, &["plan", "--env", "test"]);
    assert_eq!(
        normalise(&r.stderr, h.dir.path()),
        "error: signing in to Microsoft Entra ID with client secret (AZURE_CLIENT_ID + AZURE_CLIENT_SECRET) failed: AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found.\n  \
         hint: the tenant does not exist: check `microsoft.tenant` at [TMP]/mailreg.toml:4:10 (a tenant ID or a domain such as contoso.onmicrosoft.com)\n"
    );
}
