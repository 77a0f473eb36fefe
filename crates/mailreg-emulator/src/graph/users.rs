//! Graph `users` and their `licenseDetails` (reference/exchange-admin.md, "Graph"): what
//! `mailreg mailbox check` reads to tell whether a mailbox user exists, can sign in and holds
//! a licence with an Exchange Online plan.
//!
//! Users are seeded by tests and by `mailreg emulator` ([`GraphState::add_user`]); the API is
//! read-only, as mailreg only reads them. Without `User.Read.All` (switched off with
//! [`GraphState::deny_user_read`]) every read is the 403 Graph answers then.

use super::*;

/// One licence of a user: a SKU and its service plans as (name, provisioningStatus).
#[derive(Clone, Debug)]
pub struct Licence {
    pub sku_part_number: String,
    pub plans: Vec<(String, String)>,
}

impl Licence {
    /// A licence with one plan in state `Success`, e.g. `("O365_BUSINESS_PREMIUM", "EXCHANGE_S_STANDARD")`.
    pub fn with_plan(sku: &str, plan: &str) -> Licence {
        Licence {
            sku_part_number: sku.into(),
            plans: vec![(plan.into(), "Success".into())],
        }
    }
}

/// A user as the directory holds it.
#[derive(Clone, Debug)]
pub struct UserSeed {
    pub upn: String,
    pub account_enabled: bool,
    pub licences: Vec<Licence>,
}

pub(super) struct UserRec {
    id: String,
    seed: UserSeed,
}

#[derive(Default)]
pub struct Users {
    list: Vec<UserRec>,
    /// The caller lacks `User.Read.All`: every read is 403.
    denied: bool,
}

/// Stable, readable ids: the n-th seeded user and its licences.
fn seeded_guid(kind: u16, n: usize) -> String {
    format!("7e1a{kind:04x}-0000-4000-8000-{n:012x}")
}

impl GraphState {
    /// Adds a user (a member with a mailbox's UPN); returns its object id.
    pub fn add_user(&mut self, seed: UserSeed) -> String {
        let id = seeded_guid(1, self.users.list.len() + 1);
        self.users.list.push(UserRec {
            id: id.clone(),
            seed,
        });
        id
    }

    /// Whether a user of the directory has this sign-in name (case-insensitive).
    pub(super) fn has_user(&self, upn: &str) -> bool {
        !upn.is_empty()
            && self
                .users
                .list
                .iter()
                .any(|u| u.seed.upn.eq_ignore_ascii_case(upn))
    }

    /// The rehearsal mailbox: the first user of the directory who may sign in (the one
    /// `mailreg emulator` seeds), for sign-ins that carry no user name (the device flow).
    pub(super) fn rehearsal_user(&self) -> Option<String> {
        self.users
            .list
            .iter()
            .find(|u| u.seed.account_enabled)
            .map(|u| u.seed.upn.clone())
    }

    /// Takes `User.Read.All` away from the operator (or gives it back).
    pub fn deny_user_read(&mut self, denied: bool) {
        self.users.denied = denied;
    }

    fn find_user(&self, key: &str) -> Option<&UserRec> {
        self.users
            .list
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(key) || u.seed.upn.eq_ignore_ascii_case(key))
    }

    /// `/users/{id|upn}` and `/users/{id|upn}/licenseDetails`; `None` for other paths.
    pub(super) fn users_route(&self, req: &EmuRequest, segs: &[&str]) -> Option<GResult> {
        let [first, rest @ ..] = segs else {
            return None;
        };
        if !first.eq_ignore_ascii_case("users") {
            return None;
        }
        Some(self.users_call(req, rest))
    }

    fn users_call(&self, req: &EmuRequest, rest: &[&str]) -> GResult {
        if req.method != "GET" {
            return Err(method_not_allowed("GET"));
        }
        if self.users.denied {
            return Err(GErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        let Some(key) = rest.first() else {
            return Err(bad_request("Listing users is not served by the emulator."));
        };
        let user = self.find_user(key).ok_or_else(|| not_found(key))?;
        match &rest[1..] {
            [] => {
                let full = json!({
                    "id": user.id,
                    "userPrincipalName": user.seed.upn,
                    "mail": user.seed.upn,
                    "accountEnabled": user.seed.account_enabled,
                    "userType": "Member",
                    "displayName": user.seed.upn.split('@').next().unwrap_or_default(),
                });
                let select = req.query_param("$select").map(|s| {
                    s.split(',')
                        .map(|f| f.trim().to_owned())
                        .collect::<Vec<_>>()
                });
                let mut body = Map::new();
                for (k, v) in full.as_object().expect("object") {
                    if select.as_ref().is_none_or(|s| s.iter().any(|f| f == k)) {
                        body.insert(k.clone(), v.clone());
                    }
                }
                Ok(Out::json(
                    200,
                    with_context(self.ctx("users", &select, true), &body),
                ))
            }
            [seg] if seg.eq_ignore_ascii_case("licenseDetails") => {
                let value: Vec<Value> = user
                    .seed
                    .licences
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let plans: Vec<Value> = l
                            .plans
                            .iter()
                            .enumerate()
                            .map(|(j, (name, status))| {
                                json!({"servicePlanId": seeded_guid(3, j + 1), "servicePlanName": name,
                                       "provisioningStatus": status, "appliesTo": "User"})
                            })
                            .collect();
                        json!({"id": format!("{}-{i}", user.id), "skuId": seeded_guid(2, i + 1),
                               "skuPartNumber": l.sku_part_number, "servicePlans": plans})
                    })
                    .collect();
                let ctx = format!(
                    "{}/v1.0/$metadata#users('{}')/licenseDetails",
                    self.base(),
                    user.id
                );
                Ok(Out::json(
                    200,
                    json!({"@odata.context": ctx, "value": value}),
                ))
            }
            [seg, ..] => Err(unknown_segment(seg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_get(g: &mut GraphState, path: &str, now: OffsetDateTime) -> EmuResponse {
        let (id, secret) = g.config().principals[0].clone();
        let token_req = EmuRequest {
            method: "POST".into(),
            path: "/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            body: format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=https://graph.microsoft.com/.default").into_bytes(),
            ..Default::default()
        };
        let token = g.handle(&token_req, now).unwrap().body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let req = EmuRequest {
            method: "GET".into(),
            path: path.into(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            ..Default::default()
        };
        g.handle(&req, now).unwrap()
    }

    #[test]
    fn users_and_licences_by_upn_select_and_denial() {
        let now = OffsetDateTime::now_utc();
        let mut g = GraphState::new(GraphConfig::default());
        let id = g.add_user(UserSeed {
            upn: "a@contoso.onmicrosoft.com".into(),
            account_enabled: true,
            licences: vec![Licence::with_plan("SPE_E3", "EXCHANGE_S_ENTERPRISE")],
        });
        let u = graph_get(
            &mut g,
            "/v1.0/users/A@contoso.onmicrosoft.com?$select=id,accountEnabled",
            now,
        );
        let body = u.body_json().unwrap();
        assert_eq!(
            (body["id"].as_str(), &body["accountEnabled"]),
            (Some(id.as_str()), &json!(true))
        );
        assert!(body.get("userPrincipalName").is_none(), "{body}");
        let l = graph_get(&mut g, &format!("/v1.0/users/{id}/licenseDetails"), now)
            .body_json()
            .unwrap();
        assert_eq!(
            l["value"][0]["servicePlans"][0]["servicePlanName"],
            "EXCHANGE_S_ENTERPRISE"
        );
        assert_eq!(
            l["value"][0]["servicePlans"][0]["provisioningStatus"],
            "Success"
        );
        let missing = graph_get(&mut g, "/v1.0/users/b@contoso.onmicrosoft.com", now);
        assert_eq!(missing.status, 404);
        assert!(missing.to_string().contains("Request_ResourceNotFound"));
        g.deny_user_read(true);
        let denied = graph_get(&mut g, "/v1.0/users/a@contoso.onmicrosoft.com", now);
        assert_eq!(denied.status, 403);
        assert!(denied.to_string().contains("Authorization_RequestDenied"));
    }
}
