//! Orchestration only: plan → confirm → apply, and destroy, over the resources of a spec.
//!
//! Resources ([`Resource`]: the registrations, the console step, the secret stores, each output
//! file, the mailbox settings) know how to read, diff, create, update and delete themselves; the
//! engine orders them by what each needs ([`graph`]), runs what is independent concurrently,
//! hands them the credentials store they write into, and reports progress. A provider writes a
//! secret to the store the moment it exists, so a run killed afterwards loses nothing.

use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use time::OffsetDateTime;

mod graph;
pub use graph::{Resource, Resources, Upstream, apply, describe, destroy, plan, plan_destroy};

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

/// A provider's decided plan: the changes it shows, carried out by consuming it.
#[async_trait::async_trait]
pub trait ProviderPlan: Send + Sync {
    fn changes(&self) -> &[Change];
    async fn carry_out(self: Box<Self>, ctx: &Ctx) -> Result<()>;
}

/// An apply plan also describes what its reads observed (`status`, no further request); a
/// resource with nothing to report for `status` says `None`.
#[async_trait::async_trait]
pub trait ApplyPlan: ProviderPlan {
    async fn status(&self, ctx: &Ctx) -> Result<Option<ProviderStatus>>;
}

/// How a provider carries out one kind of typed work (`W`: what its plan decided).
#[async_trait::async_trait]
pub trait Carries<W: Send + Sync + 'static>: Send + Sync {
    async fn carry_out(&self, ctx: &Ctx, work: W) -> Result<()>;
}

/// How a provider describes what the reads behind its apply work observed.
#[async_trait::async_trait]
pub trait Observes<W: Send + Sync + 'static>: Send + Sync {
    async fn status(&self, ctx: &Ctx, work: &W) -> Result<Option<ProviderStatus>>;
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
    async fn status(&self, ctx: &Ctx) -> Result<Option<ProviderStatus>> {
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
    /// Who performs a step only a person can do (the Google console); `None` when nobody can
    /// be asked (CI, `-o json`): the step is then reported as pending.
    pub console: Option<Arc<dyn Console>>,
    manual: std::sync::Mutex<Vec<ManualStep>>,
    /// Every manual step of this run was done by the person (see [`Ctx::manual_steps_done`]).
    manual_done: std::sync::atomic::AtomicBool,
}

/// The person at the console: shows a step only they can do and waits for it. Commands give
/// one to the run when there is a terminal to ask on; the engine never prompts by itself.
#[async_trait::async_trait]
pub trait Console: Send + Sync {
    /// True once the step is done; false when the person stopped (the step stays pending).
    async fn perform(&self, step: &ManualStep) -> Result<bool>;
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
            console: None,
            manual: Default::default(),
            manual_done: std::sync::atomic::AtomicBool::new(true),
        })
    }

    pub fn add_manual_step(&self, step: ManualStep) {
        self.manual.lock().expect("manual steps").push(step);
    }

    pub fn manual_steps(&self) -> Vec<ManualStep> {
        self.manual.lock().expect("manual steps").clone()
    }

    /// Whether every manual step reported so far was done (true when there was none).
    pub fn manual_steps_done(&self) -> bool {
        self.manual_steps().is_empty() || self.manual_done.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_manual_steps_done(&self, done: bool) {
        self.manual_done
            .store(done, std::sync::atomic::Ordering::SeqCst);
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

/// Plans (read-only), then asks each resource's plan what its reads observed.
pub async fn status(ctx: &Ctx, resources: &Resources) -> Result<(Plan, Vec<ProviderStatus>)> {
    let staged = plan(ctx, resources).await?;
    let mut out = Vec::new();
    for (_, p) in staged.parts() {
        out.extend(p.status(ctx).await?);
    }
    ctx.progress.finish();
    Ok((staged.plan, out))
}
