//! `mailreg destroy` and `mailreg down`: the plan of every resource's deletion, one
//! confirmation, the engine deletes in the reverse of the order it creates (outputs and
//! secret-store items first, the registrations last).

use serde_json::json;

use super::{Open, confirm, guard, header, open, print_plan};
use crate::cli::{DestroyArgs, Global, OutputFormat};
use crate::engine;
use crate::error::{ExitCode, Result};
use crate::stack::Scope;

pub async fn run(args: &DestroyArgs, global: &Global, verb: &str) -> Result<ExitCode> {
    let how = Open {
        lock_for: Some(verb),
        scope: Scope {
            registrations: true,
            stores: !args.keep_secrets,
            outputs: !args.keep_outputs,
            mailboxes: false,
        },
        ..Open::READ
    };
    let mut s = open(&args.target, global, how)?;
    guard::env_guard(&s.spec, global, Some(args.yes), verb)?;
    s.ctx.purge = args.purge;
    let staged = engine::plan_destroy(&s.ctx, &s.stack.resources).await;
    s.ctx.progress.finish();
    let staged = staged?;
    let plan = staged.plan.clone();
    let text = global.output == OutputFormat::Text && !global.quiet;
    if plan.is_empty() && text {
        // "No changes … matches the spec" would not say that nothing of this spec's exists.
        println!("{}\n", header(verb, &s.spec));
        println!(
            "Nothing to destroy: no resource of {} ({}) exists.",
            plan.name, plan.env
        );
    } else {
        print_plan(global, &header(verb, &s.spec), &plan);
    }
    if !plan.is_empty() {
        confirm(
            global,
            args.yes,
            verb,
            "Do you really want to destroy these resources?",
        )?;
    }
    // Runs even for an empty plan: it also clears a stale credentials record.
    engine::destroy(&s.ctx, staged).await?;
    let outputs = s.stack.removals();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plan": plan.to_json(),
                "destroyed": !plan.is_empty(),
                "outputs": outputs,
            }))
            .expect("json")
        ),
        OutputFormat::Text if !global.quiet => {
            if !plan.is_empty() {
                println!("\nDestroy complete: {} destroyed.", plan.summary().destroy);
            }
            print!("{}", super::apply::removals_text(&outputs));
        }
        OutputFormat::Text => {}
    }
    Ok(ExitCode::Success)
}
