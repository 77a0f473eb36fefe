//! The order of a plan: every managed thing is a [`Resource`] that names the resources it needs
//! first; the engine derives the order from those needs and runs everything it can at once.
//!
//! - `plan`: every resource's reads start together. A resource that must know what its needs
//!   will change (a secret store delivers a new secret; an output is rewritten when the
//!   credentials change) waits for their *plans*, never for their writes, through [`Upstream`].
//! - `apply`: a resource's writes start once everything it needs has been carried out; a failed
//!   resource stops only what depends on it, and the run reports the first failure in plan
//!   order.
//! - `destroy`: the reverse: a resource is deleted once everything that needs it is gone (the
//!   outputs and secret-store items before the registration whose secret they hold).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::{ApplyPlan, Ctx, ProviderPlan};
use crate::error::{Error, Result};
use crate::plan::{Change, Plan};

/// One managed thing (or a family of them that one cloud call serves, such as a registration
/// with its secret and consent): how to read and diff it into a plan, and how to plan its
/// deletion. The plan values carry out the writes.
#[async_trait::async_trait]
pub trait Resource: Send + Sync {
    /// A stable key, unique in the graph: `microsoft`, `google`, `output[0]`, …
    fn key(&self) -> String;
    /// The keys this resource needs first. A key the graph does not hold is ignored (a
    /// provider the spec does not declare has nothing to wait for).
    fn needs(&self) -> Vec<String> {
        Vec::new()
    }
    /// Reads (read-only) and decides. `up` gives the plans of [`Resource::needs`].
    async fn plan<'a>(&'a self, ctx: &Ctx, up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>>;
    /// What `destroy` would delete, and the work to delete it.
    async fn plan_destroy<'a>(
        &'a self,
        ctx: &Ctx,
        up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>>;
}

pub type Resources = Vec<Arc<dyn Resource>>;

/// What a resource sees of the resources it needs while it plans: their changes, once decided.
pub struct Upstream {
    needs: Vec<(String, watch::Receiver<Slot>)>,
}

/// A resource's published plan: not yet decided, decided (its changes), or failed.
#[derive(Clone)]
enum Slot {
    Pending,
    Planned(Arc<Vec<Change>>),
    Failed,
}

impl Upstream {
    /// Everything the needed resources will change, in plan order. Waits for their plans; a
    /// need whose plan failed ends this plan too (its own error is the one reported).
    pub async fn changes(&self) -> Result<Vec<Change>> {
        let mut all = Vec::new();
        for (key, rx) in &self.needs {
            let mut rx = rx.clone();
            let slot = rx
                .wait_for(|s| !matches!(s, Slot::Pending))
                .await
                .map(|s| s.clone())
                .unwrap_or(Slot::Failed);
            match slot {
                Slot::Planned(changes) => all.extend(changes.iter().cloned()),
                _ => return Err(skipped(key)),
            }
        }
        Ok(all)
    }
}

/// The marker error of a resource that did not run because something it needs failed; never
/// the error a run reports while a real one exists.
fn skipped(key: &str) -> Error {
    let mut e = Error::internal(format!("not run: {key} failed"));
    e.code = Some(SKIPPED.into());
    e
}

const SKIPPED: &str = "mailreg.skipped";

/// The resources in the order the engine derives: each after everything it needs, otherwise in
/// the order given (which is the order plans are shown in). Refuses duplicate keys and cycles.
pub fn order(resources: &Resources) -> Result<Vec<usize>> {
    let keys: Vec<String> = resources.iter().map(|r| r.key()).collect();
    let index: BTreeMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    if index.len() != keys.len() {
        return Err(Error::internal("two resources share a key"));
    }
    let needs: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            r.needs()
                .iter()
                .filter_map(|k| index.get(k.as_str()).copied())
                .collect()
        })
        .collect();
    let mut done = vec![false; resources.len()];
    let mut out = Vec::with_capacity(resources.len());
    while out.len() < resources.len() {
        let next = (0..resources.len())
            .find(|&i| !done[i] && needs[i].iter().all(|&n| done[n]))
            .ok_or_else(|| Error::internal("the resources' needs form a cycle"))?;
        done[next] = true;
        out.push(next);
    }
    Ok(out)
}

/// The order as keys with what each needs (`mailreg graph`, and the README's picture of it).
pub fn describe(resources: &Resources) -> Result<Vec<(String, Vec<String>)>> {
    let present: Vec<String> = resources.iter().map(|r| r.key()).collect();
    Ok(order(resources)?
        .into_iter()
        .map(|i| {
            let r = &resources[i];
            let needs = r
                .needs()
                .into_iter()
                .filter(|k| present.contains(k))
                .collect();
            (r.key(), needs)
        })
        .collect())
}

/// Every resource's plan, shown and confirmed as one [`Plan`], in the engine's order.
pub struct Staged<'a, P: ?Sized> {
    pub plan: Plan,
    /// (key, plan) in the engine's order.
    parts: Vec<(String, Box<P>)>,
    /// For each part, the indices (in `parts`) of the parts it needs.
    needs: Vec<Vec<usize>>,
    _resources: std::marker::PhantomData<&'a ()>,
}

pub type ApplyStaged<'a> = Staged<'a, dyn ApplyPlan + 'a>;
pub type DestroyStaged<'a> = Staged<'a, dyn ProviderPlan + 'a>;

impl<P: ?Sized> Staged<'_, P> {
    pub fn parts(&self) -> impl Iterator<Item = (&str, &P)> {
        self.parts.iter().map(|(k, p)| (k.as_str(), p.as_ref()))
    }
}

/// Plans every resource: all start together, each waits only for the plans it needs.
pub async fn plan<'a>(ctx: &Ctx, resources: &'a Resources) -> Result<ApplyStaged<'a>> {
    let b = Board::new(resources)?;
    let futures = b.order.iter().map(|&i| resources[i].plan(ctx, &b.ups[i]));
    b.gather(ctx, futures).await
}

/// Plans the deletion of every resource (the reads are independent; the order reverses at
/// carry-out).
pub async fn plan_destroy<'a>(ctx: &Ctx, resources: &'a Resources) -> Result<DestroyStaged<'a>> {
    let b = Board::new(resources)?;
    let futures = b
        .order
        .iter()
        .map(|&i| resources[i].plan_destroy(ctx, &b.ups[i]));
    b.gather(ctx, futures).await
}

/// Where the resources of one plan publish their decisions for the resources that need them.
struct Board {
    order: Vec<usize>,
    keys: Vec<String>,
    /// For each resource (by index), the indices of the resources it needs.
    needs: Vec<Vec<usize>>,
    ups: Vec<Upstream>,
    senders: Vec<watch::Sender<Slot>>,
}

impl Board {
    fn new(resources: &Resources) -> Result<Board> {
        let order = order(resources)?;
        let keys: Vec<String> = resources.iter().map(|r| r.key()).collect();
        let (senders, receivers): (Vec<_>, Vec<_>) =
            keys.iter().map(|_| watch::channel(Slot::Pending)).unzip();
        let needs: Vec<Vec<usize>> = resources
            .iter()
            .map(|r| {
                r.needs()
                    .iter()
                    .filter_map(|k| keys.iter().position(|x| x == k))
                    .collect()
            })
            .collect();
        let ups = needs
            .iter()
            .map(|ns| Upstream {
                needs: ns
                    .iter()
                    .map(|&n| (keys[n].clone(), receivers[n].clone()))
                    .collect(),
            })
            .collect();
        Ok(Board {
            order,
            keys,
            needs,
            ups,
            senders,
        })
    }

    /// Runs the plans (given in the board's order) together, publishing each as it is
    /// decided, and assembles them.
    async fn gather<'a, P, F>(
        &self,
        ctx: &Ctx,
        futures: impl Iterator<Item = F>,
    ) -> Result<Staged<'a, P>>
    where
        P: ProviderPlan + ?Sized + 'a,
        F: std::future::Future<Output = Result<Box<P>>>,
    {
        let wrapped = self.order.iter().zip(futures).map(|(&i, f)| async move {
            let result = f.await;
            let slot = match &result {
                Ok(p) => Slot::Planned(Arc::new(p.changes().to_vec())),
                Err(_) => Slot::Failed,
            };
            self.senders[i].send_replace(slot);
            result
        });
        let results = futures::future::join_all(wrapped).await;
        let mut plan = Plan::new(&ctx.name, &ctx.env);
        let mut parts = Vec::new();
        let mut failure = None;
        for (&i, r) in self.order.iter().zip(results) {
            match r {
                Ok(p) => {
                    plan.changes.extend(p.changes().iter().cloned());
                    parts.push((self.keys[i].clone(), p));
                }
                Err(e) => keep_first(&mut failure, e),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let needs = self
            .order
            .iter()
            .map(|&i| {
                self.needs[i]
                    .iter()
                    .filter_map(|&n| self.order.iter().position(|&o| o == n))
                    .collect()
            })
            .collect();
        Ok(Staged {
            plan,
            parts,
            needs,
            _resources: std::marker::PhantomData,
        })
    }
}

/// The first real error wins; a "not run" marker only while there is none.
fn keep_first(slot: &mut Option<Error>, e: Error) {
    let is_skip = |e: &Error| e.code.as_deref() == Some(SKIPPED);
    match slot {
        None => *slot = Some(e),
        Some(old) if is_skip(old) && !is_skip(&e) => *slot = Some(e),
        Some(_) => {}
    }
}

/// Carries out every part once the parts it needs are done; independent parts run together.
pub async fn apply(ctx: &Ctx, staged: ApplyStaged<'_>) -> Result<()> {
    let Staged { parts, needs, .. } = staged;
    run(ctx, parts, needs).await
}

/// Carries out every destroy part once the parts that need it are done (the reverse order).
pub async fn destroy(ctx: &Ctx, staged: DestroyStaged<'_>) -> Result<()> {
    let Staged { parts, needs, .. } = staged;
    let mut reversed = vec![Vec::new(); parts.len()];
    for (i, ns) in needs.iter().enumerate() {
        for &n in ns {
            reversed[n].push(i);
        }
    }
    run(ctx, parts, reversed).await
}

async fn run<P: ProviderPlan + ?Sized>(
    ctx: &Ctx,
    parts: Vec<(String, Box<P>)>,
    after: Vec<Vec<usize>>,
) -> Result<()> {
    let (senders, receivers): (Vec<_>, Vec<_>) =
        parts.iter().map(|_| watch::channel(None::<bool>)).unzip();
    let senders = &senders;
    let futures = parts.into_iter().enumerate().map(|(i, (key, part))| {
        let waits: Vec<(String, watch::Receiver<Option<bool>>)> = after[i]
            .iter()
            .map(|&n| (n.to_string(), receivers[n].clone()))
            .collect();
        async move {
            for (_, rx) in &waits {
                let mut rx = rx.clone();
                let ok = rx
                    .wait_for(Option::is_some)
                    .await
                    .map(|v| *v == Some(true))
                    .unwrap_or(false);
                if !ok {
                    senders[i].send_replace(Some(false));
                    return Err(skipped(&key));
                }
            }
            let result = part.carry_out(ctx).await;
            senders[i].send_replace(Some(result.is_ok()));
            result
        }
    });
    let results = futures::future::join_all(futures).await;
    ctx.progress.finish();
    let mut failure = None;
    for r in results {
        if let Err(e) = r {
            keep_first(&mut failure, e);
        }
    }
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Carries, Observes, Planned, Progress, ProviderStatus};
    use crate::plan::Action;
    use std::sync::Mutex;

    /// A resource that records when it plans and carries out, and may fail.
    struct Probe {
        key: &'static str,
        needs: Vec<&'static str>,
        log: Arc<Mutex<Vec<String>>>,
        fail_apply: bool,
    }

    struct Work;

    #[async_trait::async_trait]
    impl Carries<Work> for Probe {
        async fn carry_out(&self, _ctx: &Ctx, _w: Work) -> Result<()> {
            // Yield first, so that a resource started too early would be seen interleaving.
            tokio::task::yield_now().await;
            self.log.lock().unwrap().push(format!("apply {}", self.key));
            match self.fail_apply {
                true => Err(Error::api(format!("{} broke", self.key))),
                false => Ok(()),
            }
        }
    }

    #[async_trait::async_trait]
    impl Observes<Work> for Probe {
        async fn status(&self, _ctx: &Ctx, _w: &Work) -> Result<Option<ProviderStatus>> {
            Ok(None)
        }
    }

    #[async_trait::async_trait]
    impl Resource for Probe {
        fn key(&self) -> String {
            self.key.into()
        }
        fn needs(&self) -> Vec<String> {
            self.needs.iter().map(|s| s.to_string()).collect()
        }
        async fn plan<'a>(&'a self, _ctx: &Ctx, up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
            let seen = up.changes().await?;
            self.log.lock().unwrap().push(format!(
                "plan {} after {}",
                self.key,
                seen.iter()
                    .map(|c| c.address.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            let changes =
                vec![Change::new("test", "thing", Action::Create).address(self.key.into())];
            Ok(Planned::new(self, changes, Work))
        }
        async fn plan_destroy<'a>(
            &'a self,
            _ctx: &Ctx,
            _up: &Upstream,
        ) -> Result<Box<dyn ProviderPlan + 'a>> {
            let changes =
                vec![Change::new("test", "thing", Action::Delete).address(self.key.into())];
            Ok(Planned::new(self, changes, Work))
        }
    }

    fn graph(log: &Arc<Mutex<Vec<String>>>, fail: &str) -> Resources {
        let p = |key, needs: Vec<&'static str>| -> Arc<dyn Resource> {
            Arc::new(Probe {
                key,
                needs,
                log: log.clone(),
                fail_apply: key == fail,
            })
        };
        // Given out of order on purpose: `output` before what it needs.
        vec![
            p("output", vec!["app", "store"]),
            p("app", vec![]),
            p("store", vec!["app", "absent"]),
            p("mailbox", vec![]),
        ]
    }

    fn ctx() -> (tempfile::TempDir, Ctx) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::credentials::Store::for_spec(&dir.path().join("mailreg.toml"));
        let ctx = Ctx::new("app", "test", store, Progress::new(false)).unwrap();
        (dir, ctx)
    }

    #[tokio::test]
    async fn plans_in_need_order_and_sees_the_needs_changes() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let resources = graph(&log, "");
        let (_d, ctx) = ctx();
        let staged = plan(&ctx, &resources).await.unwrap();
        let shown: Vec<_> = staged
            .plan
            .changes
            .iter()
            .map(|c| c.address.clone())
            .collect();
        assert_eq!(shown, ["app", "store", "output", "mailbox"]);
        let log = log.lock().unwrap().clone();
        assert!(log.contains(&"plan store after app".to_string()), "{log:?}");
        assert!(
            log.contains(&"plan output after app,store".to_string()),
            "{log:?}"
        );
        assert_eq!(
            describe(&resources).unwrap(),
            vec![
                ("app".to_string(), vec![]),
                ("store".to_string(), vec!["app".to_string()]),
                (
                    "output".to_string(),
                    vec!["app".to_string(), "store".to_string()]
                ),
                ("mailbox".to_string(), vec![]),
            ]
        );
    }

    #[tokio::test]
    async fn applies_after_needs_and_a_failure_stops_only_its_dependents() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let resources = graph(&log, "store");
        let (_d, ctx) = ctx();
        let staged = plan(&ctx, &resources).await.unwrap();
        log.lock().unwrap().clear();
        let err = apply(&ctx, staged).await.unwrap_err();
        assert_eq!(err.message, "store broke");
        let log = log.lock().unwrap().clone();
        // `output` needs `store`: not run. `mailbox` is independent: run.
        assert!(log.contains(&"apply app".to_string()), "{log:?}");
        assert!(log.contains(&"apply mailbox".to_string()), "{log:?}");
        assert!(!log.contains(&"apply output".to_string()), "{log:?}");
        let app = log.iter().position(|l| l == "apply app").unwrap();
        let store = log.iter().position(|l| l == "apply store").unwrap();
        assert!(app < store, "{log:?}");
    }

    #[tokio::test]
    async fn destroys_in_reverse() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let resources = graph(&log, "");
        let (_d, ctx) = ctx();
        let staged = plan_destroy(&ctx, &resources).await.unwrap();
        destroy(&ctx, staged).await.unwrap();
        let log = log.lock().unwrap().clone();
        let at = |k: &str| log.iter().position(|l| l == &format!("apply {k}")).unwrap();
        assert!(
            at("output") < at("store") && at("store") < at("app"),
            "{log:?}"
        );
    }

    #[test]
    fn cycles_and_duplicate_keys_are_refused() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let p = |key, needs: Vec<&'static str>| -> Arc<dyn Resource> {
            Arc::new(Probe {
                key,
                needs,
                log: log.clone(),
                fail_apply: false,
            })
        };
        let cycle: Resources = vec![p("a", vec!["b"]), p("b", vec!["a"])];
        assert!(order(&cycle).unwrap_err().message.contains("cycle"));
        let twice: Resources = vec![p("a", vec![]), p("a", vec![])];
        assert!(order(&twice).unwrap_err().message.contains("share a key"));
    }
}
