//! The `[[secret]]` destinations as one resource of the plan: they need the registrations
//! whose credentials they deliver, so they are written after them and deleted before them.

use super::stage::{StorePlan, Stores, changing};
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource, Upstream,
};
use crate::error::Result;

/// The key of the secret stores in the resource graph.
pub const KEY: &str = "secrets";

/// What a store plan carries out: writes (apply) or deletions (destroy).
pub enum StoreWork {
    Write(StorePlan),
    Delete(StorePlan),
}

#[async_trait::async_trait]
impl Resource for Stores {
    fn key(&self) -> String {
        KEY.into()
    }

    fn needs(&self) -> Vec<String> {
        vec!["microsoft".into(), "google".into()]
    }

    /// Which providers' secrets change decides what is read: a store gets the new value after
    /// apply, so its plan waits for the registrations' plans (not their writes).
    async fn plan<'a>(&'a self, ctx: &Ctx, up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        let upstream = up.changes().await?;
        let record = ctx.record().await;
        let plan = self.plan(&record, &changing(&upstream)).await?;
        Ok(Planned::new(
            self,
            plan.changes.clone(),
            StoreWork::Write(plan),
        ))
    }

    async fn plan_destroy<'a>(
        &'a self,
        _ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        let plan = self.plan_destroy().await?;
        Ok(Planned::new(
            self,
            plan.changes.clone(),
            StoreWork::Delete(plan),
        ))
    }
}

#[async_trait::async_trait]
impl Carries<StoreWork> for Stores {
    async fn carry_out(&self, ctx: &Ctx, work: StoreWork) -> Result<()> {
        match work {
            StoreWork::Write(plan) => {
                // The credentials as the registrations just left them.
                let record = ctx.record().await;
                self.apply(&plan, &record, &ctx.progress).await.map(drop)
            }
            StoreWork::Delete(plan) => self.destroy(&plan, ctx.purge, &ctx.progress).await,
        }
    }
}

#[async_trait::async_trait]
impl Observes<StoreWork> for Stores {
    async fn status(&self, _ctx: &Ctx, _work: &StoreWork) -> Result<Option<ProviderStatus>> {
        Ok(None)
    }
}
