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
///
/// `plan` reads the cloud (read-only) and decides; the value it returns is the *only* input of
/// the apply that follows. Nothing is kept on the provider between the two, so an apply cannot
/// run without its plan, nor carry out a plan other than the one that was shown.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The changes that would converge the cloud to the spec, and the work to carry them out.
    async fn plan<'a>(&'a self, ctx: &Ctx) -> Result<Box<dyn ApplyPlan + 'a>>;
    /// What `destroy` would delete, and the work to delete it.
    async fn plan_destroy<'a>(&'a self, ctx: &Ctx) -> Result<Box<dyn ProviderPlan + 'a>>;
}

/// A provider's decided plan: the changes it shows, carried out by consuming it.
#[async_trait::async_trait]
pub trait ProviderPlan: Send + Sync {
    fn changes(&self) -> &[Change];
    async fn carry_out(self: Box<Self>, ctx: &Ctx) -> Result<()>;
}

/// An apply plan also describes what its reads observed (`status`, no further request).
#[async_trait::async_trait]
pub trait ApplyPlan: ProviderPlan {
    async fn status(&self, ctx: &Ctx) -> Result<ProviderStatus>;
}

/// How a provider carries out one kind of typed work (`W`: what its plan decided).
#[async_trait::async_trait]
pub trait Carries<W: Send + Sync + 'static>: Send + Sync {
    async fn carry_out(&self, ctx: &Ctx, work: W) -> Result<()>;
}

/// How a provider describes what the reads behind its apply work observed.
#[async_trait::async_trait]
pub trait Observes<W: Send + Sync + 'static>: Send + Sync {
    async fn status(&self, ctx: &Ctx, work: &W) -> Result<ProviderStatus>;
}

/// The one implementation of [`ProviderPlan`]: a provider, the changes shown, and the typed work
/// that the provider's [`Carries`] implementation carries out.
pub struct Planned<'a, P: ?Sized, W> {
    provider: &'a P,
    changes: Vec<Change>,
    work: W,
}

impl<'a, P: ?Sized, W> Planned<'a, P, W> {
    pub fn new(provider: &'a P, changes: Vec<Change>, work: W) -> Box<Self> {
        Box::new(Planned {
            provider,
            changes,
            work,
        })
    }
}

#[async_trait::async_trait]
impl<P, W> ProviderPlan for Planned<'_, P, W>
where
    P: Carries<W> + ?Sized,
    W: Send + Sync + 'static,
{
    fn changes(&self) -> &[Change] {
        &self.changes
    }
    async fn carry_out(self: Box<Self>, ctx: &Ctx) -> Result<()> {
        self.provider.carry_out(ctx, self.work).await
    }
}

#[async_trait::async_trait]
impl<P, W> ApplyPlan for Planned<'_, P, W>
where
    P: Carries<W> + Observes<W> + ?Sized,
    W: Send + Sync + 'static,
{
    async fn status(&self, ctx: &Ctx) -> Result<ProviderStatus> {
        self.provider.status(ctx, &self.work).await
    }
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

/// Every provider's plan, and the assembled [`Plan`] that is shown and confirmed.
pub struct Staged<'a, P: ?Sized> {
    pub plan: Plan,
    parts: Vec<Box<P>>,
    _providers: std::marker::PhantomData<&'a ()>,
}

/// What `apply` carries out.
pub type ApplyStaged<'a> = Staged<'a, dyn ApplyPlan + 'a>;
/// What `destroy` carries out.
pub type DestroyStaged<'a> = Staged<'a, dyn ProviderPlan + 'a>;

/// Reads every provider concurrently and assembles the plan, in provider order.
pub async fn plan<'a>(ctx: &Ctx, providers: &'a Providers) -> Result<ApplyStaged<'a>> {
    let results = futures::future::join_all(providers.iter().map(|p| p.plan(ctx))).await;
    collect(ctx, results)
}

pub async fn plan_destroy<'a>(ctx: &Ctx, providers: &'a Providers) -> Result<DestroyStaged<'a>> {
    let results = futures::future::join_all(providers.iter().map(|p| p.plan_destroy(ctx))).await;
    collect(ctx, results)
}

fn collect<'a, P: ProviderPlan + ?Sized>(
    ctx: &Ctx,
    results: Vec<Result<Box<P>>>,
) -> Result<Staged<'a, P>> {
    let mut plan = Plan::new(&ctx.name, &ctx.env);
    let mut parts = Vec::new();
    for r in results {
        let part = r?;
        plan.changes.extend(part.changes().iter().cloned());
        parts.push(part);
    }
    Ok(Staged {
        plan,
        parts,
        _providers: std::marker::PhantomData,
    })
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

/// Plans (read-only), then asks each provider's plan what its reads observed.
pub async fn status(ctx: &Ctx, providers: &Providers) -> Result<(Plan, Vec<ProviderStatus>)> {
    let staged = plan(ctx, providers).await?;
    let mut out = Vec::new();
    for p in &staged.parts {
        out.push(p.status(ctx).await?);
    }
    ctx.progress.finish();
    Ok((staged.plan, out))
}

/// Carries out every provider's plan concurrently.
pub async fn apply(ctx: &Ctx, staged: ApplyStaged<'_>) -> Result<()> {
    carry_out(ctx, staged.parts).await
}

/// Carries out every provider's destroy plan concurrently.
pub async fn destroy(ctx: &Ctx, staged: DestroyStaged<'_>) -> Result<()> {
    carry_out(ctx, staged.parts).await
}

async fn carry_out<P: ProviderPlan + ?Sized>(ctx: &Ctx, parts: Vec<Box<P>>) -> Result<()> {
    let results = futures::future::join_all(parts.into_iter().map(|p| p.carry_out(ctx))).await;
    ctx.progress.finish();
    results.into_iter().collect()
}
