//! Orchestration only: plan → confirm → apply, and destroy, over the providers of a spec.
//!
//! Providers know their resources (read, diff, create, update, delete); the engine runs them
//! concurrently, hands them the credentials store they write into, and reports progress. A provider
//! writes a secret to the store the moment it exists, so a run killed afterwards loses nothing.

use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use time::OffsetDateTime;

use crate::credentials::{Record, Store};
use crate::error::{Error, Result};
use crate::plan::{Action, Change, Plan};

/// One managed resource as `status` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ResourceStatus {
    pub resource: String,
    pub id: Option<String>,
    /// `present`, `absent`, `active`, `expired`, `enabled`, `disabled`, `DELETE_REQUESTED`, …
    pub state: String,
    pub details: serde_json::Value,
}

/// What one provider manages for a spec and environment, and what needs attention.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProviderStatus {
    pub provider: &'static str,
    pub resources: Vec<ResourceStatus>,
    pub warnings: Vec<String>,
}

/// One cloud's resources for a spec.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Reads the cloud (read-only) and returns the changes that would converge it to the spec.
    async fn plan(&self, ctx: &Ctx) -> Result<Vec<Change>>;
    /// Carries out the changes of the last [`Provider::plan`].
    async fn apply(&self, ctx: &Ctx) -> Result<()>;
    /// Reads the cloud and returns what `destroy` would delete.
    async fn plan_destroy(&self, ctx: &Ctx) -> Result<Vec<Change>>;
    /// Carries out the last [`Provider::plan_destroy`].
    async fn destroy(&self, ctx: &Ctx) -> Result<()>;
    /// Describes what the last [`Provider::plan`] observed (no further request).
    async fn status(&self, ctx: &Ctx) -> Result<ProviderStatus>;
}

/// Progress on a terminal (one spinner line per provider); `tracing` lines otherwise, which
/// `-v` shows and CI logs keep quiet by default.
pub struct Progress {
    multi: Option<MultiProgress>,
    bars: std::sync::Mutex<Vec<(String, ProgressBar)>>,
}

impl Progress {
    pub fn new(interactive: bool) -> Self {
        Progress {
            multi: interactive.then(MultiProgress::new),
            bars: Default::default(),
        }
    }

    pub fn step(&self, provider: &str, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(target: "mailreg::progress", "{provider}: {message}");
        let Some(multi) = &self.multi else { return };
        let mut bars = self.bars.lock().expect("progress lock");
        let bar = match bars.iter().find(|(p, _)| p == provider) {
            Some((_, b)) => b.clone(),
            None => {
                let b = multi.add(ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                        .expect("static template"),
                );
                b.set_prefix(provider.to_owned());
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                bars.push((provider.to_owned(), b.clone()));
                b
            }
        };
        bar.set_message(message);
    }

    pub fn finish(&self) {
        for (_, b) in self.bars.lock().expect("progress lock").drain(..) {
            b.finish_and_clear();
        }
    }
}

/// A step only a person can do (the Google console), reported by a provider during apply.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ManualStep {
    pub provider: &'static str,
    pub resource: String,
    /// The numbered checklist with links and values.
    pub instructions: String,
    /// The command that completes the step once done.
    pub complete_with: String,
}

/// What providers share during one run.
pub struct Ctx {
    pub name: String,
    pub env: String,
    pub now: OffsetDateTime,
    pub store: Store,
    pub progress: Progress,
    /// `apply --replace`: allowed to replace resources that cannot be updated in place.
    pub replace: bool,
    /// `destroy --purge`: also remove from deleted items.
    pub purge: bool,
    /// `apply --ttl`: new resources get an expiry mark that `gc --expired` honours.
    pub ttl: Option<std::time::Duration>,
    manual: std::sync::Mutex<Vec<ManualStep>>,
}

impl Ctx {
    /// Checks that the record can be read (a damaged file stops the run before any request);
    /// the record itself is read afresh by every [`Ctx::record`], never cached: another process
    /// may have changed it since. Writing commands build their `Ctx` after taking the run lock.
    pub fn new(name: &str, env: &str, store: Store, progress: Progress) -> Result<Self> {
        store.load(name, env)?;
        Ok(Ctx {
            name: name.to_owned(),
            env: env.to_owned(),
            now: OffsetDateTime::now_utc(),
            store,
            progress,
            replace: false,
            purge: false,
            ttl: None,
            manual: Default::default(),
        })
    }

    pub fn add_manual_step(&self, step: ManualStep) {
        self.manual.lock().expect("manual steps").push(step);
    }

    pub fn manual_steps(&self) -> Vec<ManualStep> {
        self.manual.lock().expect("manual steps").clone()
    }

    /// The record as it is on disk now (empty when there is none, or when it became unreadable
    /// after [`Ctx::new`] checked it).
    pub async fn record(&self) -> Record {
        self.store
            .load(&self.name, &self.env)
            .ok()
            .flatten()
            .unwrap_or_else(|| Record::new(&self.name, &self.env))
    }

    /// Changes the record through [`Store::update`]: `f` sees the record as it is on disk now
    /// and must change only the fields its provider owns, so a concurrent writer's fields
    /// survive.
    pub async fn update_record(&self, f: impl FnOnce(&mut Record)) -> Result<()> {
        self.store.update(&self.name, &self.env, f).map(drop)
    }
}

pub type Providers = Vec<Arc<dyn Provider>>;

/// Reads every provider concurrently and assembles the plan, in provider order.
pub async fn plan(ctx: &Ctx, providers: &Providers) -> Result<Plan> {
    let results = futures::future::join_all(providers.iter().map(|p| p.plan(ctx))).await;
    collect(ctx, results)
}

pub async fn plan_destroy(ctx: &Ctx, providers: &Providers) -> Result<Plan> {
    let results = futures::future::join_all(providers.iter().map(|p| p.plan_destroy(ctx))).await;
    collect(ctx, results)
}

fn collect(ctx: &Ctx, results: Vec<Result<Vec<Change>>>) -> Result<Plan> {
    let mut plan = Plan::new(&ctx.name, &ctx.env);
    for r in results {
        plan.changes.extend(r?);
    }
    Ok(plan)
}

/// Refuses replacements unless `--replace` was given: a replacement changes the client ID.
pub fn check_replacements(ctx: &Ctx, plan: &Plan) -> Result<()> {
    if let Some(c) = plan.changes.iter().find(|c| c.action == Action::Replace)
        && !ctx.replace
    {
        return Err(Error::refused(format!(
            "{} must be replaced: {}",
            c.address,
            c.reason.as_deref().unwrap_or("it cannot be updated in place")
        ))
        .with_hint("run `mailreg apply --replace` to delete it and create a new one (the client ID and secret change)"));
    }
    Ok(())
}

/// Plans (read-only), then asks each provider what it observed.
pub async fn status(ctx: &Ctx, providers: &Providers) -> Result<(Plan, Vec<ProviderStatus>)> {
    let plan = plan(ctx, providers).await?;
    let mut out = Vec::new();
    for p in providers {
        out.push(p.status(ctx).await?);
    }
    ctx.progress.finish();
    Ok((plan, out))
}

pub async fn apply(ctx: &Ctx, providers: &Providers) -> Result<()> {
    let results = futures::future::join_all(providers.iter().map(|p| p.apply(ctx))).await;
    ctx.progress.finish();
    results.into_iter().collect()
}

pub async fn destroy(ctx: &Ctx, providers: &Providers) -> Result<()> {
    let results = futures::future::join_all(providers.iter().map(|p| p.destroy(ctx))).await;
    ctx.progress.finish();
    results.into_iter().collect()
}
