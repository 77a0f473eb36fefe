//! `mailreg gc`: removes test registrations that outlived their use.
//!
//! Candidates are the resources of the spec's name that carry all of mailreg's marks, in every
//! environment (or one, with --env); a candidate goes if it is older than --older-than or past
//! its expiry mark. Deletions run four at a time; writes to Graph's `applications` path are
//! paced under its 60 writes a minute by the HTTP layer (which also holds the pace on a 429),
//! so a gc of a hundred registrations finishes without a 429 storm. One failure does not stop the others: all are reported, and the exit code says so.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;

use super::{Session, confirm, paced_session};
use crate::cli::{GcArgs, Global, OutputFormat, Target};
use crate::credentials::Store;
use crate::error::{Error, ExitCode, Result};
use crate::microsoft::GcCandidate;

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
    let s: Session = paced_session(&target, global, args.max_writes_per_minute)?;
    let now = s.ctx.now;
    let mut found = Vec::new();
    if let Some(ms) = &s.microsoft {
        found.extend(ms.gc_candidates().await?);
    }
    if let Some(g) = &s.google {
        found.extend(g.gc_candidates().await?);
    }
    s.ctx.progress.finish();
    let chosen: Vec<(GcCandidate, String)> = found
        .into_iter()
        .filter(|c| args.env.as_ref().is_none_or(|e| &c.env == e))
        .filter_map(|c| {
            let old = args
                .older_than
                .zip(c.created)
                .filter(|(age, created)| *created + *age <= now)
                .map(|(age, _)| format!("older than {}", humantime::format_duration(age)));
            let expired = (args.expired && c.expires.is_some_and(|e| e <= now))
                .then(|| "past its expiry".to_owned());
            old.or(expired).map(|why| (c, why))
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
            print_json(&chosen, &[], args.dry_run);
        }
        return Ok(ExitCode::Success);
    }
    confirm(
        global,
        args.yes,
        "gc",
        &format!("Delete these {} resources?", chosen.len()),
    )?;
    let s = Arc::new(s);
    let results: Vec<(usize, Result<()>)> = futures::stream::iter(chosen.iter().enumerate())
        .map(|(i, (c, _))| {
            let s = s.clone();
            let c = c.clone();
            async move {
                s.ctx
                    .progress
                    .step("gc", format!("deleting {} {}", c.provider, c.id));
                let r = match c.provider {
                    "microsoft" => match &s.microsoft {
                        Some(ms) => ms.gc_delete(&c).await,
                        None => Ok(()),
                    },
                    _ => match &s.google {
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
    let store = Store::for_spec(&s.spec.file);
    let mut errors = Vec::new();
    for (i, r) in results {
        let (c, _) = &chosen[i];
        match r {
            Ok(()) => forget(&store, &s.spec.name, c)?,
            Err(e) => errors.push(format!("{} {}: {}", c.provider, c.id, e.message)),
        }
    }
    match global.output {
        OutputFormat::Json => print_json(&chosen, &errors, false),
        OutputFormat::Text if !global.quiet => {
            println!(
                "\nDeleted {} of {}.",
                chosen.len() - errors.len(),
                chosen.len()
            );
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
            chosen.len()
        ))
        .with_hint("run gc again: it picks up what is left");
        e.reported = true;
        Err(e)
    }
}

/// Drops a collected resource's credentials from the store.
fn forget(store: &Store, name: &str, c: &GcCandidate) -> Result<()> {
    let Some(mut record) = store.load(name, &c.env)? else {
        return Ok(());
    };
    match c.provider {
        "microsoft" => record.microsoft = None,
        _ => record.google = None,
    }
    if record.is_empty() {
        store.remove(name, &c.env)
    } else {
        store.save(&record).map(drop)
    }
}

fn print_json(chosen: &[(GcCandidate, String)], errors: &[String], dry_run: bool) {
    let doc = json!({
        "dry_run": dry_run,
        "candidates": chosen.iter().map(|(c, why)| {
            let mut v = serde_json::to_value(c).expect("candidates serialise");
            v["reason"] = json!(why);
            v
        }).collect::<Vec<_>>(),
        "deleted": if dry_run { 0 } else { chosen.len() - errors.len() },
        "errors": errors,
    });
    println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
}
