//! `mailreg rotate`: a new Microsoft client secret, delivered to the stores and outputs before
//! the old ones are retired; Google's console steps for its client secret.

use serde_json::json;

use super::{confirm, guard, header, print_plan};
use crate::cli::{Global, OutputFormat, Target};
use crate::error::{Error, ExitCode, Result};
use crate::plan::Plan;

pub async fn run(
    target: &Target,
    global: &Global,
    yes: bool,
    keep_old: bool,
    only: Option<&str>,
) -> Result<ExitCode> {
    let s = super::open(
        target,
        global,
        super::Open {
            lock_for: Some("rotate"),
            ..super::Open::READ
        },
    )?;
    guard::env_guard(&s.spec, global, Some(yes), "rotate")?;
    let wanted = |p: &str| only.is_none_or(|o| o == p);
    if let Some(p) = only {
        let declared = if p == "google" {
            s.stack.google.is_some()
        } else {
            s.stack.microsoft.is_some()
        };
        if !declared {
            return Err(Error::bad_input(format!(
                "--provider {p}: {} has no [{p}] section",
                s.spec.file.display()
            )));
        }
    }
    let mut plan = Plan::new(&s.spec.name, &s.spec.env);
    let mut rotation = None;
    if let Some(ms) = s.stack.microsoft.as_ref().filter(|_| wanted("microsoft")) {
        let planned = ms.plan_rotate(&s.ctx, keep_old).await;
        s.ctx.progress.finish();
        let (changes, r) = planned?;
        plan.changes.extend(changes);
        // Every store is read and checked before the new secret exists.
        let record = s.ctx.record().await;
        let stores = s
            .stack
            .stores
            .plan(&record, &[crate::spec::Provider::Microsoft])
            .await;
        s.ctx.progress.finish();
        let stores = stores?;
        plan.changes.extend(stores.changes.iter().cloned());
        rotation = Some((ms.clone(), r, stores));
    }
    print_plan(global, &header("rotate", &s.spec), &plan);
    let mut written = Vec::new();
    if let Some((ms, r, stores)) = &rotation {
        confirm(global, yes, "rotate", "Rotate the client secret?")?;
        ms.rotate_add(&s.ctx, r).await?;
        // The stores and the mailboxes' files get the new secret before the old one stops
        // working.
        let record = s.ctx.record().await;
        s.stack
            .stores
            .apply(stores, &record, &s.ctx.progress)
            .await?;
        written = crate::output::write_all(&s.spec, &record)?;
        ms.rotate_retire(&s.ctx, r).await?;
        s.ctx.progress.finish();
    }
    let google_steps = s
        .stack
        .google
        .as_ref()
        .filter(|_| wanted("google"))
        .map(|_| super::google::rotate_steps(&s.spec));
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plan": plan.to_json(),
                "outputs": written,
                "manual_steps": google_steps.iter().collect::<Vec<_>>(),
            }))
            .expect("json")
        ),
        OutputFormat::Text if !global.quiet => {
            if rotation.is_some() {
                println!("\nRotation complete: the new secret is stored and rendered.");
                // The same lines as apply's report.
                print!("{}", super::apply::outputs_text(&written));
            }
            if let Some(steps) = &google_steps {
                println!("\n{}", steps.instructions);
            }
        }
        // `-q`: the console steps still have to reach the person; as part of the outcome.
        OutputFormat::Text if google_steps.is_some() => {
            eprintln!(
                "\n{}",
                google_steps
                    .as_ref()
                    .map(|s| s.instructions.as_str())
                    .unwrap_or_default()
            );
        }
        OutputFormat::Text => {}
    }
    match google_steps {
        Some(steps) => {
            let mut e = super::google::manual_step_error(std::slice::from_ref(&steps));
            e.reported = global.output == OutputFormat::Json;
            Err(e)
        }
        None => Ok(ExitCode::Success),
    }
}
