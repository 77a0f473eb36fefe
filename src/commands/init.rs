//! `mailreg init`: a commented starter spec, checked by the same loader as every other command
//! before it is written.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{Global, InitArgs, OutputFormat};
use crate::error::{Error, ExitCode, Result};
use crate::spec::Spec;

struct Answers {
    name: String,
    microsoft: bool,
    google: bool,
    tenant: String,
    redirect_uri: String,
    project_id: String,
    support_email: String,
    email: String,
    test_users: Vec<String>,
}

fn default_name() -> String {
    let dir = std::env::current_dir().ok();
    let raw = dir
        .as_ref()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_owned();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("mail-{name}").trim_end_matches('-').to_owned();
    }
    name.chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

fn ask(question: &str, default: Option<&str>) -> Result<String> {
    match default {
        Some(d) if !d.is_empty() => print!("{question} [{d}]: "),
        _ => print!("{question}: "),
    }
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim();
    Ok(if answer.is_empty() {
        default.unwrap_or("").to_owned()
    } else {
        answer.to_owned()
    })
}

fn answers(args: &InitArgs, interactive: bool) -> Result<Answers> {
    let mut missing = Vec::new();
    let mut get = |flag: &str,
                   value: &Option<String>,
                   question: &str,
                   default: Option<String>,
                   needed: bool|
     -> Result<String> {
        if let Some(v) = value {
            return Ok(v.clone());
        }
        if interactive {
            return ask(question, default.as_deref());
        }
        match default {
            Some(d) => Ok(d),
            None => {
                if needed {
                    missing.push(flag.to_owned());
                }
                Ok(String::new())
            }
        }
    };
    let name = get(
        "--name",
        &args.name,
        "Name of this spec (lowercase, digits, hyphens)",
        Some(default_name()),
        true,
    )?;
    let provider = get(
        "--provider",
        &args.provider,
        "Providers: microsoft, google or both",
        Some("both".into()),
        true,
    )?;
    let (microsoft, google) = match provider.as_str() {
        "microsoft" => (true, false),
        "google" => (false, true),
        "both" => (true, true),
        other => {
            return Err(Error::bad_input(format!(
                "--provider {other:?}: expected microsoft, google or both"
            )));
        }
    };
    let email = get(
        "--email",
        &args.email,
        "Mailbox address that will sign in (e.g. mailbox@example.com)",
        None,
        true,
    )?;
    let tenant = if microsoft {
        get(
            "--tenant",
            &args.tenant,
            "Microsoft tenant (GUID or domain, e.g. contoso.onmicrosoft.com)",
            None,
            true,
        )?
    } else {
        String::new()
    };
    let redirect_uri = get(
        "--redirect-uri",
        &args.redirect_uri,
        "Redirect URI of the mailbox application (OAuth callback)",
        None,
        true,
    )?;
    let (project_id, support_email) = if google {
        (
            get(
                "--project-id",
                &args.project_id,
                "Google project ID ({env} is replaced per environment)",
                Some(format!("{name}-{{env}}")),
                true,
            )?,
            get(
                "--support-email",
                &args.support_email,
                "Google consent screen support email",
                None,
                true,
            )?,
        )
    } else {
        (String::new(), String::new())
    };
    let test_users = if !google {
        Vec::new()
    } else if args.test_users.iter().any(|u| !u.trim().is_empty()) {
        args.test_users
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect()
    } else {
        let given = (!email.is_empty()).then(|| email.clone());
        let answer = get(
            "--test-user",
            &None,
            "Google test users, comma-separated (only they can sign in while the app is in Testing)",
            given,
            false,
        )?;
        answer
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if !missing.is_empty() {
        return Err(Error::bad_input(format!(
            "no terminal to ask on, and these answers are missing: {}",
            missing.join(", ")
        )));
    }
    Ok(Answers {
        name,
        microsoft,
        google,
        tenant,
        redirect_uri,
        project_id,
        support_email,
        email,
        test_users,
    })
}

fn render(a: &Answers) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = format!(
        "# mailreg spec: mailbox OAuth registrations as code.\n\
         # plan:   mailreg plan --env test\n\
         # apply:  mailreg apply --env test\n\
         # Reference: the README's \"The spec file\" section.\n\n\
         # Stable key: tags, labels, the Graph unique name and the credentials file derive from it.\n\
         name = {}\n",
        q(&a.name)
    );
    if a.microsoft {
        out.push_str(&format!(
            "\n[microsoft]\n\
             # The directory that holds the app registration.\n\
             tenant = {}\n\
             display_name = \"{} mailbox ({{env}})\"\n\
             # Work/school and personal accounts; or AzureADMultipleOrgs, AzureADMyOrg.\n\
             audience = \"AzureADandPersonalMicrosoftAccount\"\n\
             redirect_uris = [{}]\n\
             # The default set; add \"SMTP.Send\" to send through smtp.office365.com (SMTP AUTH).\n\
             permissions = [\"IMAP.AccessAsUser.All\", \"POP.AccessAsUser.All\", \"offline_access\"]\n\
             secret_lifetime_days = 180\n",
            q(&a.tenant),
            a.name,
            q(&a.redirect_uri)
        ));
    }
    if a.google {
        out.push_str(&format!(
            "\n[google]\n\
             # Project IDs are global; project_id_suffix = \"random\" appends a short suffix chosen once.\n\
             project_id = {}\n\
             # Needed when signing in to Google as a service account:\n\
             # parent = \"folders/123456789\"\n\
             support_email = {}\n\
             # Who may sign in while the app is in Testing (at most 100); nobody else can.\n\
             test_users = [{}]\n\
             redirect_uris = [{}]\n",
            q(&a.project_id),
            q(&a.support_email),
            a.test_users.iter().map(|u| q(u)).collect::<Vec<_>>().join(", "),
            q(&a.redirect_uri)
        ));
    }
    out.push_str(
        "\n# Mailbox config files written by apply (templates: agileapps, json, env, yaml, or a path).\n",
    );
    let providers = [("microsoft", a.microsoft), ("google", a.google)];
    for (provider, _) in providers.iter().filter(|(_, on)| *on) {
        out.push_str(&format!(
            "[[output]]\n\
             provider = \"{provider}\"\n\
             template = \"agileapps\"\n\
             path = \"out/{{env}}/{provider}-mailbox.json\"\n\
             vars = {{ email = {} }}\n\n",
            q(&a.email)
        ));
    }
    let first = if a.microsoft { "microsoft" } else { "google" };
    out.push_str(&format!(
        "# Per-environment overrides:\n\
         # [env.prod]\n\
         # {first}.redirect_uris = [\"https://mail.example.com/oauth/callback\"]\n"
    ));
    out
}

pub fn run(args: &InitArgs, global: &Global) -> Result<ExitCode> {
    if args.file.exists() && !args.force {
        return Err(
            Error::refused(format!("{} already exists", args.file.display()))
                .with_hint("pass --force to overwrite it"),
        );
    }
    let interactive = global.output == OutputFormat::Text && std::io::stdin().is_terminal();
    let a = answers(args, interactive)?;
    let text = render(&a);
    // The same loader as every command: what init writes is a valid spec.
    let spec = Spec::parse(&args.file, &text, "test")?;
    super::guard::warn_no_test_users(&spec);
    let dir = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(&args.file)
        .map_err(|e| Error::io(format!("{}: {}", args.file.display(), e.error)))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&args.file, std::fs::Permissions::from_mode(0o644))?;
    }
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"written": args.file.display().to_string()})
        ),
        OutputFormat::Text if !global.quiet => println!(
            "Wrote {}. Next: `mailreg plan -f {} --env test`.",
            args.file.display(),
            args.file.display()
        ),
        OutputFormat::Text => {}
    }
    Ok(ExitCode::Success)
}
