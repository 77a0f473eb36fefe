//! `mailreg demo`, run as a newcomer would: a clean HOME, no cloud variables, no network.

use std::process::Command;

fn demo(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .arg("demo")
        .args(args)
        .current_dir(home.path())
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    // The demo works in a temporary folder of its own: nothing is left in HOME or the cwd.
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "demo left files behind"
    );
    out
}

#[test]
fn the_demo_runs_the_whole_flow_offline_and_cleans_up() {
    let out = demo(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "$ mailreg apply --yes -f mailreg.toml --env demo",
        "Plan: 7 to add, 0 to change, 0 to destroy.",
        "https://console.cloud.google.com/auth/clients/create?project=agileapps-mail-demo",
        "$ mailreg google import-client -f mailreg.toml --env demo client_secret_demo.json",
        "Destroy complete: 4 destroyed.",
        "Done: no application is left",
    ] {
        assert!(stdout.contains(want), "missing {want:?}");
    }
    // Secrets stay masked unless asked for.
    assert!(stdout.contains("client_secret   GOC…(hidden)"));
    assert!(
        stdout.contains("\"clientSecret\": \"GOC…(hidden)\""),
        "{stdout}"
    );
    // The transcript, with what varies normalised, is pinned.
    let guid =
        regex_lite::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            .unwrap();
    let date = regex_lite::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").unwrap();
    let port = regex_lite::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let gid = regex_lite::Regex::new(r"\d{12}-[a-z0-9]{32}\.apps\.googleusercontent\.com").unwrap();
    let mut t = guid.replace_all(&stdout, "[GUID]").into_owned();
    t = date.replace_all(&t, "[DATE]").into_owned();
    t = port.replace_all(&t, "127.0.0.1:[PORT]").into_owned();
    t = gid.replace_all(&t, "[GOOGLE_CLIENT_ID]").into_owned();
    // The Microsoft secret is random per run (the demo's emulator has no fixed seed): its
    // masked hint is normalised; Google's keep their fixed `GOCSPX-` prefix.
    let hint = regex_lite::Regex::new(r"[A-Za-z0-9~._-]{3}…\(hidden\)").unwrap();
    t = hint
        .replace_all(&t, |c: &regex_lite::Captures| match &c[0] {
            h if h.starts_with("GOC") => h.to_owned(),
            _ => "[HINT]…(hidden)".to_owned(),
        })
        .into_owned();
    insta::assert_snapshot!("demo_transcript", t);
}

#[test]
fn the_demo_in_json_reports_each_step() {
    let out = demo(&["-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<i64> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["exit_code"].as_i64())
        .collect();
    assert_eq!(codes, [5, 0, 0, 0, 0, 0]);
    let outputs = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("outputs").is_some())
        .unwrap();
    assert_eq!(
        outputs["outputs"][0]["path"],
        "out/demo/outlook-mailbox.json"
    );
    assert_eq!(
        v["steps"][0]["stdout"]["manual_steps"][0]["resource"],
        "google.oauth_client"
    );
    assert_eq!(
        v["left_behind"],
        serde_json::json!({"applications": 0, "active_projects": 0})
    );
}
