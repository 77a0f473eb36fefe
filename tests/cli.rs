//! The CLI as a whole: status, help, completions, JSON document shapes.

mod common;

use common::*;

#[test]
fn status_lists_resources_expiry_and_warns_about_secrets_expiring_soon() {
    let spec = SPEC.replace("[microsoft]\n", "[microsoft]\nsecret_lifetime_days = 20\n");
    let h = Harness::new(&spec);
    let r = h.ok(&["status", "--env", "test"]);
    assert!(
        r.stdout
            .contains("application     -                                        absent"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Pending: 2 to add"), "{}", r.stdout);
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.clear();
    let r = h.ok(&["status", "--env", "test"]);
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert_eq!(h.api_requests().len(), 1, "status reads once");
    let text = normalise(&r.stdout, h.dir.path());
    assert!(text.contains("No pending changes."), "{text}");
    assert!(text.contains("  client_secret   [GUID]     active  expires [DATE]  (value on record)  \"mailreg test [DATE]\""), "{text}");
    assert!(text.contains("Warnings:\n  - microsoft: the client secret on record ([GUID]) expires in 19 days ([DATE]): mailboxes using it stop signing in then"), "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&h.ok(&["status", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        v["providers"][0]["resources"][1]["details"]["value_on_record"],
        true
    );
    assert_eq!(
        v["pending_changes"],
        serde_json::json!({"add": 0, "change": 0, "destroy": 0})
    );
    assert_eq!(v["providers"][0]["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn init_writes_a_valid_commented_spec_and_never_overwrites_without_force() {
    let h = Harness::new(SPEC);
    let path = h.dir.path().join("new.toml");
    let p = path.to_str().unwrap();
    // Without a terminal, missing answers are named.
    let r = h.expect(
        3,
        &["init", "-f", p, "--provider", "both", "--name", "shop-mail"],
    );
    assert!(
        r.stderr.contains(
            "these answers are missing: --email, --tenant, --redirect-uri, --support-email"
        ),
        "{}",
        r.stderr
    );
    assert!(!path.exists());
    // Bad answers are caught by the spec loader before anything is written.
    let r = h.expect(
        3,
        &[
            "init",
            "-f",
            p,
            "--provider",
            "microsoft",
            "--tenant",
            "common",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--email",
            "mailbox@shop.example.com",
        ],
    );
    assert!(
        r.stderr
            .contains("microsoft.tenant: \"common\" is a sign-in audience"),
        "{}",
        r.stderr
    );
    assert!(!path.exists());
    let args = [&["init", "-f", p][..], INIT_BOTH].concat();
    let r = h.ok(&args);
    assert!(r.stdout.starts_with("Wrote "), "{}", r.stdout);
    let text = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("init_spec", text);
    // The written spec plans (reads only) against the emulator.
    h.ok(&["plan", "-f", p, "--env", "test"]);
    let r = h.expect(7, &args);
    assert!(
        r.stderr.contains("already exists") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    let forced = [
        "init",
        "-f",
        p,
        "--name",
        "shop-mail",
        "--provider",
        "microsoft",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--redirect-uri",
        "https://shop.example.com/oauth/callback",
        "--email",
        "mailbox@shop.example.com",
        "--force",
    ];
    h.ok(&forced);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("[google]"));
}

#[test]
fn help_completions_and_man_page_come_from_one_definition() {
    let h = Harness::new(SPEC);
    insta::assert_snapshot!("help", h.ok(&["--help"]).stdout);
    insta::assert_snapshot!("help_apply", h.ok(&["apply", "--help"]).stdout);
    let bash = h.ok(&["completions", "bash"]).stdout;
    // The script registers mailreg as its own completer: the commands and values come from
    // the same definition at Tab time (tests/device_and_completions.rs).
    assert!(
        bash.contains("_clap_complete_mailreg()") && bash.contains("COMPLETE=\"bash\""),
        "bash completion: {bash}"
    );
    let zsh = h.ok(&["completions", "zsh"]).stdout;
    assert!(zsh.starts_with("#compdef mailreg"));
    let man = h.ok(&["man"]).stdout;
    assert!(
        man.contains(".TH mailreg 1") && man.contains("detailed\\-exitcode"),
        "{}",
        &man[..man.len().min(400)]
    );
    h.expect(3, &["completions", "tcsh"]);
    h.ok(&["--version"]);
}

/// The shape of a JSON document: leaves replaced by their type, arrays by their first item.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Null => Value::String("null".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::String(_) => Value::String("string".into()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

#[test]
fn json_documents_have_a_stable_shape() {
    let spec = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    let json = |code: i32, args: &[&str]| -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--env", "test", "-o", "json"]);
        let r = h.expect(code, &a);
        serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", r.stdout))
    };
    let mut shapes = serde_json::Map::new();
    shapes.insert("plan".into(), shape(&json(0, &["plan"])));
    shapes.insert(
        "apply (manual step pending)".into(),
        shape(&json(5, &["apply", "--yes"])),
    );
    let file = default_client(&h);
    shapes.insert(
        "google import-client".into(),
        shape(&json(
            0,
            &["google", "import-client", file.to_str().unwrap()],
        )),
    );
    shapes.insert("apply".into(), shape(&json(0, &["apply", "--yes"])));
    shapes.insert("output".into(), shape(&json(0, &["output"])));
    shapes.insert("status".into(), shape(&json(0, &["status"])));
    shapes.insert("destroy".into(), shape(&json(0, &["destroy", "--yes"])));
    shapes.insert("error".into(), shape(&json(3, &["output"])));
    insta::assert_json_snapshot!("json_shapes", serde_json::Value::Object(shapes));
}

#[test]
fn the_emulator_prints_one_json_line_for_scripts() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .args(["emulator", "--port", "0", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(v["env"]["MAILREG_GRAPH_URL"], url);
    assert_eq!(v["env"]["MAILREG_EXCHANGE_URL"], url);
    assert_eq!(v["env"]["MAILREG_GMAIL_URL"], url);
    assert_eq!(
        v["mailboxes"],
        serde_json::json!(["mailbox@contoso.onmicrosoft.com"])
    );
    assert!(
        v["env"]["GOOGLE_APPLICATION_CREDENTIALS"]
            .as_str()
            .unwrap()
            .ends_with("adc.json")
    );
}
