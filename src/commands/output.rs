//! `mailreg output`: the credentials on record, or rendered with a template.

use std::io::IsTerminal;

use serde_json::json;

use super::{mask_stream, show};
use crate::cli::{Global, OutputFormat, Target};
use crate::credentials::Store;
use crate::error::{Error, ExitCode, Result};
use crate::secrets::github;
use crate::spec::Spec;

pub fn run(
    target: &Target,
    global: &Global,
    show_secrets: bool,
    format: Option<&str>,
    provider: Option<&str>,
    github_outputs: bool,
) -> Result<ExitCode> {
    let gh_file = github_outputs.then(github::check_env).transpose()?;
    let spec = Spec::load(&target.file, &target.env)?;
    let store = Store::for_spec(&spec.file);
    let record = store.load_required(&spec.name, &spec.env)?;
    if let Some(f) = &gh_file {
        github::emit(&record, f, mask_stream(global))?;
    }
    if let Some(format) = format {
        use crate::output::{Provider, Template, context};
        let complete: Vec<Provider> = [Provider::Microsoft, Provider::Google]
            .into_iter()
            .filter(|p| context::for_record(&record, *p, &Default::default(), false).is_some())
            .collect();
        let chosen = match provider {
            Some("google") => Provider::Google,
            Some(_) => Provider::Microsoft,
            // The spec decides, not what happens to be complete: with both declared, a
            // template is for one of them, and guessing would render the wrong mailbox.
            None if spec.microsoft.is_some() && spec.google.is_some() => {
                return Err(Error::bad_input(
                    "the spec declares both providers: choose one with --provider microsoft|google",
                ));
            }
            None if complete.len() == 1 => complete[0],
            None if complete.is_empty() => {
                return Err(
                    Error::bad_input("no provider has complete credentials on record yet")
                        .with_hint(
                            "run `mailreg apply` (and, for Google, `mailreg google import-client`)",
                        ),
                );
            }
            None => {
                return Err(Error::bad_input(
                    "the record holds credentials of both providers: choose one with --provider microsoft|google",
                ));
            }
        };
        // The spec's own `vars` for this provider (the mailbox address…), preferring an output
        // with the same template: what `apply` writes, `output` shows.
        let vars = spec
            .outputs
            .iter()
            .filter(|o| o.provider == chosen)
            .max_by_key(|o| o.template == format)
            .map(|o| o.vars.clone())
            .unwrap_or_default();
        let ctx =
            context::for_spec(&spec, &record, chosen, &vars, show_secrets).ok_or_else(|| {
                Error::bad_input(format!(
                    "no complete {} credentials on record",
                    chosen.as_str()
                ))
            })?;
        // A person at a terminal pastes into AgileApps' form: show its labels, not the JSON.
        let format = if format == "agileapps"
            && global.output == OutputFormat::Text
            && std::io::stdout().is_terminal()
        {
            crate::output::AGILEAPPS_SHEET
        } else {
            format
        };
        let tmpl = Template::resolve(format, std::path::Path::new("."))
            .map_err(|m| Error::bad_input(format!("--format: {m}")))?;
        let rendered = tmpl.render(&ctx)?;
        match global.output {
            // One JSON document, whatever the template renders: the text goes in a field.
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "provider": chosen.as_str(),
                    "format": format,
                    "rendered": rendered,
                }))
                .expect("json")
            ),
            OutputFormat::Text => print!("{rendered}"),
        }
        return Ok(ExitCode::Success);
    }
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&show::credentials_json(&record, show_secrets))
                .expect("json")
        ),
        OutputFormat::Text => print!(
            "{}",
            show::credentials_text(&record, show_secrets, &store.path(&spec.name, &spec.env))
        ),
    }
    Ok(ExitCode::Success)
}
