//! Applications: create, upsert by uniqueName, read, patch, delete, add/removePassword, throttling.

use super::*;

impl GraphState {
    pub(super) fn push_app(&mut self, body: Map<String, Value>, lagged: bool) -> usize {
        self.seq += 1;
        let lag = if lagged {
            self.config.replication_lag
        } else {
            0
        };
        self.apps.push(AppRec {
            seq: self.seq,
            body,
            filter_lag: lag,
            addr_lag: lag,
        });
        self.apps.len() - 1
    }

    pub(super) fn find_app(&self, key: &Key) -> Option<usize> {
        self.apps.iter().position(|r| {
            let field = match key {
                Key::Id(_) => "id",
                Key::AppId(_) => "appId",
                Key::UniqueName(_) => "uniqueName",
            };
            r.body
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(key.value()))
        })
    }

    /// Resolves an addressed app: 400 for a malformed id, 404 when absent (not lag-aware).
    pub(super) fn resolve_app(&self, key: &Key) -> Result<usize, GErr> {
        if let Key::Id(v) | Key::AppId(v) = key
            && !is_guid(v)
        {
            return Err(invalid_object_id(v));
        }
        self.find_app(key).ok_or_else(|| not_found(key.value()))
    }

    /// INFERRED: uniqueName is an alternate key held by live and soft-deleted apps alike,
    /// compared case-insensitively.
    pub(super) fn unique_name_taken(&self, name: &str, except: Option<usize>) -> bool {
        let holds = |r: &AppRec| {
            r.body
                .get("uniqueName")
                .and_then(Value::as_str)
                .is_some_and(|u| u.eq_ignore_ascii_case(name))
        };
        self.apps
            .iter()
            .enumerate()
            .any(|(i, r)| Some(i) != except && holds(r))
            || self.deleted.iter().any(holds)
    }

    /// Fails (and counts down) while the app is still replicating (ref §4.3).
    pub(super) fn lag_check(
        &mut self,
        idx: usize,
        kind: LagKind,
        addressed: &str,
    ) -> Result<(), GErr> {
        let rec = &mut self.apps[idx];
        if rec.addr_lag == 0 {
            return Ok(());
        }
        rec.addr_lag -= 1;
        if kind == LagKind::MsaSensitive && is_personal(&rec.body) {
            Err(GErr::new(
                409,
                "Error_MsaAppDoesNotExist",
                "The corresponding MSA application does not exist.",
            ))
        } else {
            Err(not_found(addressed))
        }
    }

    /// Sliding-window write limit for personal-audience apps (ref §4.2).
    pub(super) fn throttle(&mut self, personal: bool, now: OffsetDateTime) -> Result<(), GErr> {
        let Some((limit, window)) = self.config.write_limit else {
            return Ok(());
        };
        if !personal {
            return Ok(());
        }
        while self.writes.front().is_some_and(|t| now - *t >= window) {
            self.writes.pop_front();
        }
        if (self.writes.len() as u64) < u64::from(limit) {
            self.writes.push_back(now);
            return Ok(());
        }
        let wait = match self.writes.front() {
            Some(oldest) => window - (now - *oldest),
            None => window,
        };
        let mut secs = wait.whole_seconds();
        if wait.subsec_nanoseconds() > 0 {
            secs += 1;
        }
        let mut e = GErr::new(429, "TooManyRequests", "Please retry again later.");
        if self.config.write_limit_retry_after {
            e = e.header("retry-after", secs.max(1).to_string());
        }
        let mut e = e
            .header(
                "x-ms-throttle-scope",
                format!("Tenant_Application/ReadWrite/{}", self.config.tenant_id),
            )
            .header("x-ms-throttle-information", "WriteLimitExceeded");
        e.throttled = true;
        Err(e)
    }

    pub(super) fn app_entity(&self, body: &Map<String, Value>, select: &Select) -> Value {
        with_context(
            self.ctx("applications", select, true),
            &project(body, select),
        )
    }

    pub(super) fn deleted_entity(&self, body: &Map<String, Value>) -> Value {
        let mut m = Map::new();
        m.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{}/v1.0/$metadata#directoryObjects/$entity",
                self.base()
            )),
        );
        m.insert(
            "@odata.type".into(),
            Value::String("#microsoft.graph.application".into()),
        );
        for (k, v) in body {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    pub(super) fn location(&self, id: &str, kind: &str) -> String {
        format!(
            "{}/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.{kind}",
            self.base(),
            self.config.tenant_id
        )
    }

    /// Builds a new app from a create body: checks, validates, assigns ids.
    pub(super) fn build_new_app(
        &mut self,
        body: Map<String, Value>,
        unique_name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Map<String, Value>, GErr> {
        let body = check_write_body(body)?;
        let mut app = app_template();
        if let (Some(name), Some(given)) = (unique_name, body.get("uniqueName"))
            && given.as_str() != Some(name)
        {
            return Err(bad_request(
                "Property 'uniqueName' does not match the key of the request.",
            ));
        }
        merge_into(&mut app, body);
        if let Some(name) = unique_name {
            app.insert("uniqueName".into(), Value::String(name.into()));
        }
        validate_app(&app)?;
        match app.get("uniqueName") {
            Some(Value::Null) | None => {}
            Some(Value::String(u)) if !u.trim().is_empty() => {
                if self.unique_name_taken(u, None) {
                    return Err(conflict_unique("uniqueName"));
                }
            }
            Some(_) => {
                return Err(invalid_value(
                    "uniqueName",
                    "uniqueName must be a non-empty string.",
                ));
            }
        }
        if let Some(Value::Array(keys)) = app.get_mut("keyCredentials") {
            for k in keys.iter_mut().filter_map(Value::as_object_mut) {
                k.remove("key");
            }
        }
        app.insert("id".into(), Value::String(self.uuid()));
        app.insert("appId".into(), Value::String(self.uuid()));
        app.insert("createdDateTime".into(), Value::String(iso(now)));
        app.insert(
            "publisherDomain".into(),
            Value::String(self.config.tenant_domain.clone()),
        );
        app.insert("deletedDateTime".into(), Value::Null);
        app.insert("passwordCredentials".into(), json!([]));
        Ok(app)
    }

    pub(super) fn created(&self, idx: usize) -> Out {
        let body = &self.apps[idx].body;
        let id = body["id"].as_str().unwrap_or_default();
        Out::json(201, self.app_entity(body, &None))
            .header("location", self.location(id, "Application"))
    }

    pub(super) fn create_app(&mut self, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let body = json_object(req)?;
        let personal = body
            .get("signInAudience")
            .and_then(Value::as_str)
            .is_some_and(is_personal_audience);
        self.throttle(personal, now)?;
        let app = self.build_new_app(body, None, now)?;
        let idx = self.push_app(app, true);
        Ok(self.created(idx))
    }

    /// ref §1.4: `PATCH /applications(uniqueName='X')`.
    pub(super) fn upsert_app(
        &mut self,
        name: &str,
        req: &EmuRequest,
        now: OffsetDateTime,
    ) -> GResult {
        let body = json_object(req)?;
        if body.get("displayName").is_none_or(Value::is_null) {
            return Err(invalid_value(
                "displayName",
                "The upsert body must contain displayName.",
            ));
        }
        if let Some(idx) = self.find_app(&Key::UniqueName(name.into())) {
            self.throttle(is_personal(&self.apps[idx].body), now)?;
            self.apply_patch(idx, body)?;
            return Ok(Out::empty(204));
        }
        let create = req.header("prefer").is_some_and(|p| {
            p.split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("create-if-missing"))
        });
        if !create {
            return Err(not_found(name));
        }
        if self.unique_name_taken(name, None) {
            // Held by a soft-deleted app (INFERRED): purge or restore it first.
            return Err(conflict_unique("uniqueName"));
        }
        let personal = body
            .get("signInAudience")
            .and_then(Value::as_str)
            .is_some_and(is_personal_audience);
        self.throttle(personal, now)?;
        let app = self.build_new_app(body, Some(name), now)?;
        let idx = self.push_app(app, true);
        Ok(self.created(idx))
    }

    pub(super) fn apply_patch(&mut self, idx: usize, body: Map<String, Value>) -> Result<(), GErr> {
        let mut body = check_write_body(body)?;
        let cur = self.apps[idx].body.clone();
        // ref §4.1: changing the audience by PATCH fails with a 500.
        if let Some(a) = body.get("signInAudience")
            && Some(a) != cur.get("signInAudience")
        {
            return Err(GErr::new(
                500,
                "Service_InternalServerError",
                "Encountered an internal server error.",
            ));
        }
        let mut new_unique = None;
        if let Some(u) = body.remove("uniqueName") {
            // ref §1.4 (unattributed): "Can be updated only if null and is immutable once set".
            match (cur.get("uniqueName").unwrap_or(&Value::Null), &u) {
                (c, u) if c == u => {}
                (Value::Null, Value::String(s)) if !s.trim().is_empty() => {
                    if self.unique_name_taken(s, Some(idx)) {
                        return Err(conflict_unique("uniqueName"));
                    }
                    new_unique = Some(u.clone());
                }
                _ => return Err(bad_request("Property 'uniqueName' is immutable once set.")),
            }
        }
        let mut next = cur;
        merge_into(&mut next, body);
        if let Some(u) = new_unique {
            next.insert("uniqueName".into(), u);
        }
        validate_app(&next)?;
        self.apps[idx].body = next;
        Ok(())
    }

    pub(super) fn get_app(&mut self, key: &Key, req: &EmuRequest) -> GResult {
        let idx = self.resolve_app(key)?;
        let select = parse_select(req, &app_template(), "application")?;
        self.lag_check(idx, LagKind::Plain, key.value())?;
        Ok(
            Out::json(200, self.app_entity(&self.apps[idx].body, &select))
                .ru(resource_units(req, 2)),
        )
    }

    pub(super) fn patch_app(
        &mut self,
        key: &Key,
        req: &EmuRequest,
        now: OffsetDateTime,
    ) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        self.lag_check(idx, LagKind::MsaSensitive, key.value())?;
        let body = json_object(req)?;
        self.apply_patch(idx, body)?;
        Ok(Out::empty(204))
    }

    /// Soft delete (ref §1.7); the app's service principals and their grants are removed.
    pub(super) fn delete_app(&mut self, key: &Key, now: OffsetDateTime) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        let mut rec = self.apps.remove(idx);
        rec.body
            .insert("deletedDateTime".into(), Value::String(iso(now)));
        let app_id = rec.body["appId"].as_str().unwrap_or_default().to_string();
        let sp_ids: Vec<String> = self
            .sps
            .iter()
            .filter(|s| s.body["appId"].as_str() == Some(app_id.as_str()))
            .filter_map(|s| s.body["id"].as_str().map(str::to_string))
            .collect();
        self.sps
            .retain(|s| s.body["appId"].as_str() != Some(app_id.as_str()));
        self.grants.retain(|g| {
            !sp_ids
                .iter()
                .any(|id| g.body["clientId"].as_str() == Some(id))
        });
        self.deleted.push(rec);
        Ok(Out::empty(204))
    }

    pub(super) fn list_app_records(&mut self, req: &EmuRequest, deleted: bool) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &APP_FILTERS))
            .transpose()?;
        let select = parse_select(req, &app_template(), "application")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        // Follow-up pages hide lagging objects without counting another filter request.
        let counting = filter.is_some() && after.is_none();
        let recs = if deleted {
            &mut self.deleted
        } else {
            &mut self.apps
        };
        let mut items = Vec::new();
        for rec in recs.iter_mut() {
            let hidden = filter.is_some() && rec.filter_lag > 0;
            if counting && rec.filter_lag > 0 {
                rec.filter_lag -= 1;
            }
            if hidden
                || after.is_some_and(|a| rec.seq <= a)
                || filter.as_ref().is_some_and(|f| !f.matches(&rec.body))
            {
                continue;
            }
            items.push((rec.seq, rec.body.clone()));
        }
        let (path, ru) = if deleted {
            ("directory/deletedItems/microsoft.graph.application", 1)
        } else {
            ("applications", 2)
        };
        // INFERRED: the deletedItems context names the cast path.
        let body = self.page(req, path, path, items, &select, top);
        Ok(Out::json(200, body).ru(resource_units(req, ru)))
    }

    /// ref §1.6.
    pub(super) fn add_password(
        &mut self,
        key: &Key,
        req: &EmuRequest,
        now: OffsetDateTime,
    ) -> GResult {
        let idx = self.resolve_app(key)?;
        let personal = is_personal(&self.apps[idx].body);
        self.throttle(personal, now)?;
        self.lag_check(idx, LagKind::MsaSensitive, key.value())?;
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            json_object(req)?
        };
        let pc = match body.get("passwordCredential") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(bad_request(
                    "Invalid value specified for property 'passwordCredential'.",
                ));
            }
        };
        let date = |name: &str| -> Result<Option<OffsetDateTime>, GErr> {
            match pc.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_dt(s)
                    .map(Some)
                    .ok_or_else(|| bad_request(format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
                Some(_) => Err(bad_request(format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
            }
        };
        let start = date("startDateTime")?.unwrap_or(now);
        let end = date("endDateTime")?.unwrap_or_else(|| add_years(start, 2));
        if end <= start {
            // INFERRED.
            return Err(bad_request(
                "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.",
            ));
        }
        let display = pc.get("displayName").cloned().unwrap_or(Value::Null);
        if let Some(days) = self.config.max_secret_lifetime_days
            && end - start > Duration::days(i64::from(days))
        {
            // ref §4.1, exact shape.
            let msg = format!(
                "Credential lifetime exceeds the max value allowed as per assigned policy '{}'.",
                self.policy_id
            );
            return Err(
                GErr::new(400, "CredentialInvalidLifetimeAsPerAppPolicy", msg.clone()).details(
                    json!([{"code": "InvalidKeyEndDate", "message": msg, "target": "EndDate"}]),
                ),
            );
        }
        let count = self.apps[idx].body["passwordCredentials"]
            .as_array()
            .map_or(0, Vec::len);
        if personal && count >= 2 {
            // ref §4.1, exact shape.
            return Err(GErr::new(
                400,
                "TooManyAppPasswords",
                format!(
                    "Not allowed to add {} passwords. You can only add a maximum of 2 passwords.",
                    count + 1
                ),
            )
            .details(json!([{"target": "passwordCredentials", "code": "TooManyAppPasswords"}])));
        }
        let secret = self.secret_text();
        let key_id = self.uuid();
        let mut cred = json!({
            "customKeyIdentifier": null,
            "displayName": display,
            "endDateTime": iso(end),
            "hint": secret.chars().take(3).collect::<String>(),
            "keyId": key_id,
            "secretText": null,
            "startDateTime": iso(start),
        });
        if let Some(Value::Array(creds)) = self.apps[idx].body.get_mut("passwordCredentials") {
            creds.insert(0, cred.clone()); // newest first (ref §1.6)
        } else {
            self.apps[idx]
                .body
                .insert("passwordCredentials".into(), json!([cred.clone()]));
        }
        if let Some(app_id) = self.apps[idx].body["appId"].as_str().map(str::to_owned) {
            self.remember_secret(&app_id, &key_id, &secret);
        }
        cred["secretText"] = Value::String(secret);
        cred["@odata.context"] = Value::String(format!(
            "{}/v1.0/$metadata#microsoft.graph.passwordCredential",
            self.base()
        ));
        Ok(Out::json(200, cred))
    }

    pub(super) fn remove_password(
        &mut self,
        key: &Key,
        req: &EmuRequest,
        now: OffsetDateTime,
    ) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        self.lag_check(idx, LagKind::Plain, key.value())?;
        let body = json_object(req)?;
        let key_id = body
            .get("keyId")
            .and_then(Value::as_str)
            .filter(|k| is_guid(k))
            .ok_or_else(|| bad_request("Invalid value specified for property 'keyId' of resource 'PasswordCredential'."))?
            .to_string();
        let creds = self.apps[idx]
            .body
            .get_mut("passwordCredentials")
            .and_then(Value::as_array_mut);
        let pos = creds.as_ref().and_then(|c| {
            c.iter().position(|p| {
                p["keyId"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(&key_id))
            })
        });
        match (creds, pos) {
            (Some(c), Some(p)) => {
                c.remove(p);
                Ok(Out::empty(204))
            }
            // INFERRED: status, code and text.
            _ => Err(bad_request(format!(
                "No password credential found with keyId '{key_id}'."
            ))),
        }
    }
}
