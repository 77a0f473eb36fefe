//! The first hour of a new user (issue 13): spec errors they can act on, a mistyped `--env`,
//! exit codes and hints that fit, colour only on a terminal, one JSON document per command,
//! man pages, `init` for both providers, `rotate --provider`, the AgileApps paste sheet and
//! which sign-in URLs a rehearsal made.

mod common;

use common::*;

use common::finish_tty as finish;

/// The whole of stdout is one JSON document (nothing before or after it).
fn one_json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{stdout}"))
}

fn both_spec(outputs: &str) -> String {
    format!(
        "{SPEC}\n{}\n{outputs}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    )
}

#[test]
fn every_unknown_key_is_reported_in_one_run_in_file_order_with_suggestions() {
    let h = Harness::new(
        &SPEC
            .replace("tenant =", "tennant =")
            .replace("redirect_uris =", "redirect_uri =")
            .replace("permissions =", "secret_lifetime_day = 30\npermissions ="),
    );
    let r = h.expect(3, &["plan", "--env", "test"]);
    let spec = h.spec.display();
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: {spec}:4:1: microsoft.tennant: unknown key `tennant`; did you mean `tenant`?\n\
             {spec}:6:1: microsoft.redirect_uri: unknown key `redirect_uri`; did you mean `redirect_uris`?\n\
             {spec}:7:1: microsoft.secret_lifetime_day: unknown key `secret_lifetime_day`; did you mean `secret_lifetime_days`?"
        )
    );
    assert!(h.emu.requests().is_empty(), "a bad spec sends nothing");
}

const WITH_PROD: &str =
    "\n[env.prod]\nmicrosoft.display_name = \"AgileApps mailbox (production)\"\n";

#[test]
fn an_env_close_to_a_declared_one_needs_yes_or_a_typed_yes() {
    let h = Harness::new(&format!("{SPEC}{WITH_PROD}"));
    let spec = h.spec.display().to_string();
    let notice = format!(
        "environment `prdo` is not declared in {spec}, but `prod` is: did you mean `--env prod`?"
    );
    // plan has no --yes: declaring the environment is the way to mean it.
    let r = h.expect(3, &["plan", "--env", "prdo"]);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: {notice}\n  hint: pass --env prod; if a new environment `prdo` is meant, declare [env.prdo] in the spec"
        )
    );
    let r = h.expect(3, &["apply", "--env", "prdo"]);
    assert!(
        r.stderr
            .ends_with("declare [env.prdo] in the spec or pass --yes\n"),
        "{}",
        r.stderr
    );
    assert!(h.emu.requests().is_empty(), "nothing sent before going on");
    // Declared environments, and ones close to none, go on as before.
    h.ok(&["plan", "--env", "prod"]);
    let r = h.ok(&["plan", "--env", "test"]);
    assert!(!r.stderr.contains("not declared"), "{}", r.stderr);
    // --yes goes on, with the notice as a warning.
    let r = h.ok(&["apply", "--env", "prdo", "--yes"]);
    assert!(r.stderr.contains(&notice), "{}", r.stderr);
    assert!(h.store_file("prdo").exists());
    // At a terminal: asked first, and "no" stops before anything is written.
    h.clear();
    let (code, screen) = finish(h.tty(&["apply", "--env", "prodd"]), "no\n");
    assert_eq!(code, 7, "{screen}");
    assert!(
        screen.contains("Go on with environment `prodd`, a registration of its own?"),
        "{screen}"
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    let (code, screen) = finish(h.tty(&["apply", "--env", "prodd"]), "yes\nyes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(h.store_file("prodd").exists());
}

#[test]
fn yes_hints_name_their_own_command_and_an_empty_destroy_says_so() {
    let h = Harness::new(SPEC);
    for command in ["apply", "destroy", "rotate"] {
        if command != "apply" {
            h.ok(&["apply", "--env", "test", "--yes"]);
        }
        let r = h.expect(7, &[command, "--env", "test"]);
        assert!(
            r.stderr.ends_with(&format!(
                "  hint: pass --yes (`mailreg {command} --yes`) to go on without asking, as CI should\n"
            )),
            "{command}: {}",
            r.stderr
        );
    }
    h.ok(&["destroy", "--env", "test", "--yes"]);
    let r = h.ok(&["destroy", "--env", "test", "--yes"]);
    assert_eq!(
        normalise(&r.stdout, h.dir.path()),
        "mailreg destroy: agileapps-mail (environment test) from [TMP]/mailreg.toml\n\n\
         Nothing to destroy: no resource of agileapps-mail (test) exists.\n"
    );
}

#[test]
fn undelete_of_an_active_project_is_success() {
    let h = Harness::new(GOOGLE_SPEC);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    h.clear();
    let r = h.ok(&["google", "undelete", "--env", "test"]);
    assert_eq!(
        r.stdout,
        "Project agileapps-mail-test is already active: nothing to restore.\n"
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    let r = h.ok(&["google", "undelete", "--env", "test", "-o", "json"]);
    assert_eq!(
        one_json(&r.stdout),
        serde_json::json!({"undeleted": "agileapps-mail-test", "already_active": true})
    );
}

#[test]
fn a_taken_project_id_keeps_the_servers_code_and_status_in_json() {
    let mut config = EmulatorConfig::default();
    config.google.taken_project_ids = vec!["agileapps-mail-test".into()];
    let h = Harness::with_config(GOOGLE_SPEC, config);
    let r = h.expect(1, &["apply", "--env", "test", "--yes", "-o", "json"]);
    let doc = one_json(&r.stdout);
    assert_eq!(doc["error"]["code"], "ALREADY_EXISTS", "{doc}");
    assert_eq!(doc["error"]["status"], 409, "{doc}");
    assert_eq!(doc["error"]["exit_code"], 1, "{doc}");
}

#[test]
fn colour_only_on_a_terminal_or_when_forced() {
    let h = Harness::new(SPEC);
    let run = |env: &[(&str, &str)]| {
        let mut cmd = h.command(&["-v", "plan", "--env", "test"]);
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let piped = run(&[]);
    assert!(piped.contains("INFO"), "-v logs progress: {piped}");
    assert!(
        !piped.contains('\x1b'),
        "no escape codes into a pipe: {piped:?}"
    );
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.contains("\x1b["),
        "CLICOLOR_FORCE colours: {forced:?}"
    );
    let both = run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!both.contains('\x1b'), "NO_COLOR wins: {both:?}");
}

#[test]
fn a_refused_apply_creates_nothing() {
    let h = Harness::new(&format!(
        "{SPEC}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"json\"\npath = \"out/{{env}}/deep/ms.json\"\n"
    ));
    h.expect(7, &["apply", "--env", "test"]);
    assert!(!h.dir.path().join("out").exists(), "no empty output folder");
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    // An output path under a file is still refused before anything is sent.
    std::fs::write(h.dir.path().join("out"), "a file").unwrap();
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("output[0].path"), "{}", r.stderr);
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
}

#[test]
fn every_command_under_json_prints_one_json_document() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let r = h.ok(&["-o", "json", "output", "--env", "test", "--format", "env"]);
    let doc = one_json(&r.stdout);
    assert_eq!(doc["provider"], "microsoft");
    assert_eq!(doc["format"], "env");
    assert!(
        doc["rendered"]
            .as_str()
            .unwrap()
            .contains("MAILREG_CLIENT_SECRET=\"")
    );
    let doc = one_json(&h.ok(&["-o", "json", "man", "plan"]).stdout);
    assert_eq!(doc["page"], "mailreg-plan.1");
    assert!(doc["roff"].as_str().unwrap().contains(".TH mailreg-plan 1"));
    let doc = one_json(&h.ok(&["-o", "json", "completions", "bash"]).stdout);
    assert_eq!(doc["shell"], "bash");
    assert!(doc["script"].as_str().unwrap().contains("_mailreg()"));
    let dir = h.dir.path().join("man1");
    let doc = one_json(
        &h.ok(&["-o", "json", "man", "--dir", dir.to_str().unwrap()])
            .stdout,
    );
    assert!(doc["written"].as_array().unwrap().len() > 10, "{doc}");
    // A command line that does not parse still answers in JSON, with exit 3.
    let r = h.expect(3, &["-o", "json", "plan", "--bogus"]);
    let doc = one_json(&r.stdout);
    assert_eq!(doc["error"]["kind"], "bad_input");
    assert_eq!(
        doc["error"]["message"],
        "unexpected argument '--bogus' found"
    );
    let doc = one_json(&h.ok(&["-o", "json", "plan", "--help"]).stdout);
    assert!(
        doc["help"]
            .as_str()
            .unwrap()
            .contains("--detailed-exitcode"),
        "{doc}"
    );
    let doc = one_json(&h.ok(&["--output=json", "--version"]).stdout);
    // The text alone: no newline inside the value.
    assert_eq!(
        doc["version"],
        format!("mailreg {}", env!("MAILREG_VERSION"))
    );
    let r = h.expect(3, &["plan", "--bogus"]);
    assert!(r.stdout.is_empty() && r.stderr.contains("--bogus"));
}

#[test]
fn man_pages_exist_for_every_command_the_main_page_names() {
    let h = Harness::new(SPEC);
    let dir = h.dir.path().join("man");
    let r = h.ok(&["man", "--dir", dir.to_str().unwrap()]);
    let main = std::fs::read_to_string(dir.join("mailreg.1")).unwrap();
    // Every `mailreg-<command>(1)` the main page refers to was written.
    let refs = regex_lite::Regex::new(r"mailreg\\-([a-z\\-]+)\(1\)").unwrap();
    let named: Vec<String> = refs
        .captures_iter(&main)
        .map(|c| c[1].replace("\\-", "-"))
        .collect();
    assert!(
        named.len() >= 14 && named.contains(&"plan".to_owned()),
        "{named:?}"
    );
    for n in &named {
        let page = dir.join(format!("mailreg-{n}.1"));
        assert!(page.exists(), "{} missing", page.display());
        assert!(r.stdout.contains(&page.display().to_string()));
    }
    let nested = std::fs::read_to_string(dir.join("mailreg-google-import-client.1")).unwrap();
    assert!(nested.contains(".TH mailreg-google-import-client 1"));
    let plan = h.ok(&["man", "plan"]).stdout;
    assert_eq!(
        plan,
        std::fs::read_to_string(dir.join("mailreg-plan.1")).unwrap()
    );
    assert!(plan.contains("detailed\\-exitcode"));
    let nested = h.ok(&["man", "google", "import-client"]).stdout;
    assert!(nested.contains(".TH mailreg-google-import-client 1"));
    let r = h.expect(3, &["man", "plna"]);
    assert!(
        r.stderr.contains(
            "no man page for `plna`; pages exist for: plan, graph, apply, up, gc, destroy, down"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_google_app_without_test_users_is_warned_about() {
    let h = Harness::new(&GOOGLE_SPEC.replace("test_users = [\"mailbox@example.com\"]\n", ""));
    let warning = "google.test_users is empty: while the app is in Testing nobody can sign in; add the mailbox address";
    let r = h.ok(&["plan", "--env", "test"]);
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    let r = h.expect(5, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    let h = Harness::new(GOOGLE_SPEC);
    let r = h.ok(&["plan", "--env", "test"]);
    assert!(!r.stderr.contains("test_users"), "{}", r.stderr);
    // init warns too, when nobody was named.
    let (code, screen) = finish(
        h.tty(&["init", "-f", "new.toml"]),
        "shop-mail\ngoogle\n\nhttps://shop.example.com/cb\n\nops@example.com\n\n",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains(warning), "{screen}");
}

#[test]
fn init_for_both_providers_writes_both_outputs_and_the_test_users() {
    let h = Harness::new(SPEC);
    let path = h.dir.path().join("both.toml");
    let p = path.to_str().unwrap();
    let mut args = vec!["init", "-f", p];
    args.extend_from_slice(INIT_BOTH);
    args.extend([
        "--test-user",
        "mailbox@shop.example.com,carol@shop.example.com",
    ]);
    let r = h.ok(&args);
    assert!(!r.stderr.contains("test_users"), "{}", r.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("test_users = [\"mailbox@shop.example.com\", \"carol@shop.example.com\"]"),
        "{text}"
    );
    for provider in ["microsoft", "google"] {
        assert!(
            text.contains(&format!(
                "[[output]]\nprovider = \"{provider}\"\ntemplate = \"agileapps\"\npath = \"out/{{env}}/{provider}-mailbox.json\"\nvars = {{ email = \"mailbox@shop.example.com\" }}\n"
            )),
            "{text}"
        );
    }
    h.ok(&["plan", "-f", p, "--env", "test"]);
}

#[test]
fn rotate_one_provider_and_google_steps_laid_out_like_apply() {
    let h = Harness::new(&both_spec(""));
    let apply = h.expect(5, &["apply", "--env", "test", "--yes"]).stdout;
    import_default_client(&h);
    h.ok(&["apply", "--env", "test", "--yes"]);
    // A scheduled Microsoft rotation succeeds although the spec has Google too.
    let rotate_ms = [
        "rotate",
        "--env",
        "test",
        "--yes",
        "--provider",
        "microsoft",
    ];
    let r = h.ok(&rotate_ms);
    assert!(r.stdout.contains("Rotation complete"), "{}", r.stdout);
    assert!(!r.stdout.contains("Google"), "{}", r.stdout);
    let r = h.ok(&[&rotate_ms[..], &["-o", "json"]].concat());
    assert_eq!(one_json(&r.stdout)["manual_steps"], serde_json::json!([]));
    // Google alone: the console steps (exit 5), no Microsoft change.
    h.clear();
    let google = h
        .expect(
            5,
            &["rotate", "--env", "test", "--yes", "--provider", "google"],
        )
        .stdout;
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert!(!google.contains("Rotation complete"), "{google}");
    h.expect(5, &["rotate", "--env", "test", "--yes"]);
    // Steps at one space, details under them, "Then run:" and the command at two: as apply.
    let layout = |text: &str| -> Vec<usize> {
        let step = regex_lite::Regex::new(r"^( *)\d+\. ").unwrap();
        text.lines()
            .filter_map(|l| step.captures(l).map(|c| c[1].len()))
            .collect()
    };
    let (a, g) = (layout(&apply), layout(&google));
    assert!(!a.is_empty() && !g.is_empty(), "{apply}\n{google}");
    assert!(a.iter().chain(&g).all(|n| *n == 1), "{a:?} {g:?}\n{google}");
    let run = regex_lite::Regex::new(r"\nThen run:\n  mailreg google import-client ").unwrap();
    assert!(run.is_match(&apply) && run.is_match(&google), "{google}");
}

#[test]
fn rotate_refuses_a_provider_the_spec_does_not_have() {
    let h = Harness::new(SPEC);
    let r = h.expect(
        3,
        &["rotate", "--env", "test", "--yes", "--provider", "google"],
    );
    assert!(
        r.stderr.contains("--provider google: ") && r.stderr.contains("has no [google] section"),
        "{}",
        r.stderr
    );
}

#[test]
fn agileapps_outputs_come_with_a_paste_sheet_in_the_forms_order() {
    let h = Harness::new(&both_spec(
        "[[output]]\nprovider = \"google\"\ntemplate = \"agileapps\"\npath = \"out/{env}/gmail.json\"\nvars = { email = \"mailbox@example.com\" }\n",
    ));
    applied_with_client(&h);
    let sheet = h.dir.path().join("out/test/gmail.paste.txt");
    assert_eq!(mode(&sheet), 0o600);
    let text = std::fs::read_to_string(&sheet).unwrap();
    let labels = [
        "\nClient ID          ",
        "\nClient Secret      ",
        "\nAuth URL           ",
        "\nAccess Token URL   ",
        "\nScope              ",
    ];
    let at: Vec<usize> = labels
        .iter()
        .map(|l| {
            text.find(l)
                .unwrap_or_else(|| panic!("{l:?} missing:\n{text}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "form order:\n{text}");
    let secret = h.record("test")["google"]["client"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains(&format!("\nClient Secret      {secret}\n")));
    assert!(
        text.contains(
            "\nAuth URL           https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nScope              https://mail.google.com/\n"));
    // The JSON beside it carries the same Auth URL.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(h.dir.path().join("out/test/gmail.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["authUrl"],
        "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent"
    );
    // On a terminal `output --format agileapps` shows the sheet; into a pipe, the JSON.
    let sheet_args = [
        "output",
        "--env",
        "test",
        "--format",
        "agileapps",
        "--provider",
        "google",
    ];
    let (code, screen) = finish(h.tty(&sheet_args), "");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("\nClient ID          "), "{screen}");
    assert!(!screen.contains("\"clientId\""), "{screen}");
    assert!(!screen.contains(&secret), "masked without --show-secrets");
    let piped = h.ok(&sheet_args);
    assert!(one_json(&piped.stdout)["clientId"].is_string());
}

#[test]
fn output_says_which_sign_in_urls_are_the_emulators() {
    let h = Harness::new(&both_spec(""));
    applied_with_client(&h);
    let r = h.ok(&["output", "--env", "test"]);
    assert!(
        r.stdout.ends_with(
            "rehearsal\n  microsoft       authorize/token URLs are the emulator's: its rehearsal mailbox signs in by itself (verify, up); no real mailbox can\n  google          authorize/token URLs are Google's real ones (the emulator does not play this sign-in)\n"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn the_new_flags_are_pinned_in_help() {
    let h = Harness::new(SPEC);
    for command in ["init", "rotate", "man", "emulator"] {
        let help = h.ok(&[command, "--help"]).stdout;
        insta::assert_snapshot!(format!("help_{command}"), help);
    }
}

#[test]
fn first_hour_error_texts_are_pinned() {
    let h = Harness::new(&format!("{SPEC}{WITH_PROD}"));
    let mut texts = String::new();
    for args in [
        vec!["plan", "--env", "prdo"],
        vec!["apply", "--env", "test"],
        vec!["man", "plna"],
        vec!["rotate", "--env", "test", "--provider", "google"],
    ] {
        let r = h.run(&args);
        texts.push_str(&format!(
            "$ mailreg {}\nexit {}\n{}\n",
            args.join(" "),
            r.code,
            normalise(&r.stderr, h.dir.path())
        ));
    }
    h.write_spec(
        &SPEC
            .replace("tenant =", "tennant =")
            .replace("permissions =", "secret_lifetime_day = 30\npermissions ="),
    );
    let r = h.run(&["plan", "--env", "test"]);
    texts.push_str(&format!(
        "$ mailreg plan --env test\nexit {}\n{}",
        r.code,
        normalise(&r.stderr, h.dir.path())
    ));
    insta::assert_snapshot!("first_hour_errors", texts);
}

#[test]
fn a_detached_emulator_that_cannot_start_says_why() {
    let h = Harness::new(SPEC);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let r = h.expect(1, &["emulator", "--port", &port, "--detach"]);
    assert!(r.stdout.is_empty(), "no exports to eval: {}", r.stdout);
    assert!(
        r.stderr
            .starts_with("error: the emulator did not start (exit status ")
            && r.stderr
                .contains("hint: is the port in use? `--port 0` picks a free one"),
        "{}",
        r.stderr
    );
}
