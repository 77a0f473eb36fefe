//! `mailreg gc`: removes test registrations that outlived their use.
//!
//! Candidates are the resources of the spec's name that carry all of mailreg's marks, live or
//! (Microsoft) in deleted items. gc runs unattended, so it never decides on its own that an
//! environment is disposable: by default only resources that `apply --ttl` marked are looked
//! at; an unmarked environment (production) only when named with --env, or with an explicit
//! --all-envs. A selected candidate goes if it is older than --older-than or past its expiry
//! mark; --dry-run prints both reasons for each.
//!
//! Each environment collected is locked like an `apply` (one that is busy is skipped and
//! reported). Deletions run four at a time; writes to Graph's `applications` path are paced by
//! the HTTP layer's adaptive pacer, which slows down on every 429, so a gc finishes whatever
//! the tenant's limit, or stops at --deadline. One failure does not stop the others: all are
//! reported, and the exit code says so.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;

use super::{Open, Session, confirm, open};
use crate::cli::{GcArgs, Global, OutputFormat, Target};
use crate::credentials::Store;
use crate::error::{Error, ExitCode, Result};
use crate::microsoft::GcCandidate;
use crate::output::Removal;
use crate::stack::Scope;

pub async fn run(args: &GcArgs, global: &Global) -> Result<ExitCode> {
    if args.older_than.is_none() && !args.expired {
        return Err(Error::bad_input(
            "say what to collect: --older-than <age>, --expired, or both",
        )
        .with_hint("e.g. `mailreg gc --older-than 2h --expired` (add --dry-run to look first)"));
    }
    let target = Target {
        file: args.file.clone(),
        env: args.env.clone().unwrap_or_else(|| "default".into()),
    };
    let how = Open {
        pace: Some((args.max_writes_per_minute, args.deadline)),
        ..Open::READ
    };
    let s: Session = open(&target, global, how)?;
    let now = s.ctx.now;
    let mut found = Vec::new();
    if let Some(ms) = &s.stack.microsoft {
        found.extend(ms.gc_candidates().await?);
    }
    if let Some(g) = &s.stack.google {
        found.extend(g.gc_candidates().await?);
    }
    s.ctx.progress.finish();
    let chosen: Vec<(GcCandidate, String)> = found
        .into_iter()
        .filter_map(|c| {
            let selected = selection(args, &c)?;
            let old = args
                .older_than
                .zip(c.created.or(c.deleted))
                .filter(|(age, created)| *created + *age <= now)
                .map(|(age, _)| format!("older than {}", humantime::format_duration(age)));
            let expired = (args.expired && c.expires.is_some_and(|e| e <= now))
                .then(|| "past its expiry".to_owned());
            let place = if c.deleted.is_some() {
                "in deleted items, "
            } else {
                ""
            };
            old.or(expired)
                .map(|why| (c, format!("{place}{why}; {selected}")))
        })
        .collect();
    if global.output == OutputFormat::Text && !global.quiet {
        println!(
            "mailreg gc: {} from {}\n",
            s.spec.name,
            s.spec.file.display()
        );
        if chosen.is_empty() {
            println!("Nothing to collect.");
        }
        for (c, why) in &chosen {
            println!(
                "  - {}.{} {} (environment {}): {why}",
                c.provider,
                if c.provider == "google" {
                    "project"
                } else {
                    "application"
                },
                c.id,
                c.env
            );
        }
    }
    if args.dry_run || chosen.is_empty() {
        if global.output == OutputFormat::Json {
            print_json(&chosen, &[], &[], args.dry_run);
        }
        return Ok(ExitCode::Success);
    }
    confirm(
        global,
        args.yes,
        "gc",
        &format!("Delete these {} resources?", chosen.len()),
    )?;
    // Each environment is locked like an apply would lock it; a busy one is left for next time.
    let store = Store::for_spec(&s.spec.file);
    let mut locks = std::collections::BTreeMap::new();
    for (c, _) in &chosen {
        if !locks.contains_key(&c.env) {
            let lock = crate::lock::Lock::acquire(&store, &s.spec.name, &c.env, "gc");
            locks.insert(c.env.clone(), lock.map_err(|e| e.message));
        }
    }
    let s = Arc::new(s);
    let results: Vec<(usize, Result<()>)> = futures::stream::iter(chosen.iter().enumerate())
        .map(|(i, (c, _))| {
            let s = s.clone();
            let c = c.clone();
            let busy = locks[&c.env].as_ref().err().cloned();
            async move {
                if let Some(why) = busy {
                    return (i, Err(Error::refused(format!("skipped: {why}"))));
                }
                s.ctx
                    .progress
                    .step("gc", format!("deleting {} {}", c.provider, c.id));
                let r = match c.provider {
                    "microsoft" => match &s.stack.microsoft {
                        Some(ms) => ms.gc_delete(&c).await,
                        None => Ok(()),
                    },
                    _ => match &s.stack.google {
                        Some(g) => g.gc_delete(&c).await,
                        None => Ok(()),
                    },
                };
                (i, r)
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    s.ctx.progress.finish();
    let mut errors = Vec::new();
    let mut collected: std::collections::BTreeMap<String, Vec<&'static str>> = Default::default();
    for (i, r) in &results {
        let (c, _) = &chosen[*i];
        match r {
            Ok(()) => collected.entry(c.env.clone()).or_default().push(c.provider),
            Err(e) => errors.push(format!("{} {}: {}", c.provider, c.id, e.message)),
        }
    }
    // What hangs on a collected registration goes as `destroy` removes it, from the record as
    // it was (outputs are compared with what it renders), and only then is the record dropped.
    let mut outputs = Vec::new();
    for (env, providers) in &collected {
        match cleanup(args, global, &s.spec.file, env, providers).await {
            Ok(removed) => outputs.extend(removed),
            Err(e) => errors.push(format!("outputs and stores of {env}: {}", e.message)),
        }
    }
    for (i, r) in &results {
        if r.is_ok() {
            forget(&store, &s.spec.name, &chosen[*i].0, now)?;
        }
    }
    match global.output {
        OutputFormat::Json => print_json(&chosen, &errors, &outputs, false),
        OutputFormat::Text if !global.quiet => {
            let deleted = results.iter().filter(|(_, r)| r.is_ok()).count();
            println!("\nDeleted {deleted} of {}.", chosen.len());
            print!("{}", super::apply::removals_text(&outputs));
            for e in &errors {
                eprintln!("error: {e}");
            }
        }
        OutputFormat::Text => {}
    }
    if errors.is_empty() {
        Ok(ExitCode::Success)
    } else {
        let mut e = Error::api(format!(
            "{} of {} deletions failed",
            errors.len(),
            chosen.len() + collected.len()
        ))
        .with_hint("run gc again: it picks up what is left");
        e.reported = true;
        Err(e)
    }
}

/// Why a candidate may be collected at all, or `None` when gc must leave it alone.
fn selection(args: &GcArgs, c: &GcCandidate) -> Option<&'static str> {
    if let Some(env) = &args.env {
        return (&c.env == env).then_some("environment named by --env");
    }
    if args.all_envs {
        return Some("every environment (--all-envs)");
    }
    c.expires
        .is_some()
        .then_some("marked disposable by `apply --ttl`")
}

/// Drops a collected resource's credentials from the store (only that provider's part). A
/// Google project is only pending deletion: its OAuth client is kept, marked, as `destroy`
/// keeps it, for `google undelete`.
fn forget(store: &Store, name: &str, c: &GcCandidate, now: time::OffsetDateTime) -> Result<()> {
    store
        .update(name, &c.env, |record| match c.provider {
            "microsoft" => record.microsoft = None,
            _ => match record.google.as_mut() {
                Some(g) if g.client.is_some() && g.project_id == c.key => {
                    g.deleting.get_or_insert(now);
                }
                _ => record.google = None,
            },
        })
        .map(drop)
}

/// Removes the outputs and secret-store items of `providers` in environment `env`, through
/// the engine's destroy of a stack without the registrations (already deleted).
async fn cleanup(
    args: &GcArgs,
    global: &Global,
    file: &std::path::Path,
    env: &str,
    providers: &[&str],
) -> Result<Vec<Removal>> {
    let target = Target {
        file: file.to_owned(),
        env: env.to_owned(),
    };
    let how = Open {
        scope: Scope {
            registrations: false,
            stores: !args.keep_secrets,
            outputs: !args.keep_outputs,
            mailboxes: false,
        },
        // Only what belongs to a collected provider: the other may still be alive.
        only: Some(providers),
        ..Open::READ
    };
    let s = open(&target, global, how)?;
    let staged = crate::engine::plan_destroy(&s.ctx, &s.stack.resources).await?;
    crate::engine::destroy(&s.ctx, staged).await?;
    s.ctx.progress.finish();
    Ok(s.stack.removals())
}

fn print_json(
    chosen: &[(GcCandidate, String)],
    errors: &[String],
    outputs: &[Removal],
    dry_run: bool,
) {
    let doc = json!({
        "dry_run": dry_run,
        "candidates": chosen.iter().map(|(c, why)| {
            let mut v = serde_json::to_value(c).expect("candidates serialise");
            v["reason"] = json!(why);
            v
        }).collect::<Vec<_>>(),
        "deleted": if dry_run { 0 } else { chosen.len() - errors.len() },
        "errors": errors,
        "outputs": outputs,
    });
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
}
