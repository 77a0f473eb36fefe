//! Service Usage v1: enable, disable, get and list services.

use super::*;

impl GoogleState {
    // -----------------------------------------------------------------------------------------
    // Service Usage v1 (ref §2, discovery serviceusage.v1)
    // -----------------------------------------------------------------------------------------

    pub(super) fn service_usage(
        &mut self,
        req: &EmuRequest,
        rest: &str,
        now: OffsetDateTime,
    ) -> Handled {
        enum Route<'a> {
            Operation(&'a str),
            List(&'a str),
            Get(&'a str, &'a str),
            Enable(&'a str, &'a str),
            Disable(&'a str, &'a str),
        }
        let method = req.method.as_str();
        let route = if let Some(op) = rest.strip_prefix("operations/") {
            match method {
                "GET" if !op.is_empty() && !op.contains('/') => Route::Operation(rest),
                _ => return Err(unknown_path(req)),
            }
        } else {
            let segments: Vec<&str> = rest.split('/').collect();
            match (method, segments.as_slice()) {
                ("GET", ["projects", p, "services"]) if !p.is_empty() => Route::List(p),
                (m, ["projects", p, "services", svc]) if !p.is_empty() && !svc.is_empty() => {
                    match (m, svc.split_once(':')) {
                        ("GET", None) => Route::Get(p, svc),
                        ("POST", Some((s, "enable"))) if !s.is_empty() => Route::Enable(p, s),
                        ("POST", Some((s, "disable"))) if !s.is_empty() => Route::Disable(p, s),
                        _ => return Err(unknown_path(req)),
                    }
                }
                _ => return Err(unknown_path(req)),
            }
        };
        let caller = self.authenticate(req, now)?;
        self.check_user_project(req, "serviceusage.googleapis.com")?;
        match route {
            Route::Operation(name) => self.poll_operation(name, Api::ServiceUsage),
            Route::List(p) => self.list_services(req, p, &caller),
            Route::Get(p, svc) => {
                let i = self.su_project(
                    p,
                    &caller,
                    &format!("Permission denied to get service [{svc}]"),
                    "serviceusage.services.get",
                )?;
                known_service(svc)?;
                let p = &self.projects[i];
                Ok(EmuResponse::json(
                    200,
                    &service_json(p.number, svc, p.services.contains(svc)),
                ))
            }
            Route::Enable(p, svc) => self.enable_service(req, p, svc, &caller),
            Route::Disable(p, svc) => self.disable_service(req, p, svc, &caller),
        }
    }

    /// Project for a Service Usage call (inferred messages): unknown/foreign → 403
    /// PERMISSION_DENIED; DELETE_REQUESTED → 403 "has been deleted".
    pub(super) fn su_project(
        &self,
        key: &str,
        caller: &Caller,
        denied: &str,
        permission: &str,
    ) -> Result<usize, EmuResponse> {
        let Some(i) = self
            .find_project(key)
            .filter(|&i| self.projects[i].visible_to(caller))
        else {
            return Err(google_error(
                403,
                "PERMISSION_DENIED",
                denied,
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "AUTH_PERMISSION_DENIED",
                    "domain": "serviceusage.googleapis.com",
                    "metadata": {"permission": permission},
                })],
            ));
        };
        let p = &self.projects[i];
        if p.state == ProjectState::DeleteRequested {
            return Err(google_error(
                403,
                "PERMISSION_DENIED",
                &format!("Project #{} has been deleted.", p.number),
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "CONSUMER_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"consumer": format!("projects/{}", p.number), "service": "serviceusage.googleapis.com"},
                })],
            ));
        }
        Ok(i)
    }

    pub(super) fn enable_service(
        &mut self,
        req: &EmuRequest,
        key: &str,
        svc: &str,
        caller: &Caller,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            json_object(req)?; // EnableServiceRequest has no fields (ref §2)
        }
        let denied = format!("Permission denied to enable service [{svc}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.enable")?;
        // ref §2: right after project creation the first enable can fail transiently (403/404).
        let p = &mut self.projects[i];
        if p.enable_lag > 0 {
            p.enable_lag -= 1;
            p.enable_failures += 1;
            return Err(if p.enable_failures % 2 == 1 {
                google_error(
                    403,
                    "PERMISSION_DENIED",
                    &denied,
                    vec![json!({
                        "@type": T_ERROR_INFO,
                        "reason": "AUTH_PERMISSION_DENIED",
                        "domain": "serviceusage.googleapis.com",
                        "metadata": {"permission": "serviceusage.services.enable"},
                    })],
                )
            } else {
                google_error(
                    404,
                    "NOT_FOUND",
                    &format!("Project '{}' not found or permission denied.", p.project_id),
                    vec![],
                )
            });
        }
        known_service(svc)?;
        let p = &self.projects[i];
        let number = p.number;
        if p.services.contains(svc) {
            // ref §2: synchronous dummy operation, exactly this shape.
            return Ok(EmuResponse::json(
                200,
                &json!({
                    "name": NOOP_OPERATION,
                    "done": true,
                    "response": {"@type": T_ENABLE_RESP, "service": service_json(number, svc, true)},
                }),
            ));
        }
        let name = format!("operations/acf.p2-{number}-{}", self.new_uuid());
        let md = json!({"@type": T_SU_META, "resourceNames": [format!("services/{svc}/projectSettings/{number}")]});
        // ref §2's done form carries no metadata.
        Ok(self.new_operation(
            name,
            Api::ServiceUsage,
            Some(md),
            None,
            Outcome::Service {
                number,
                service: svc.to_owned(),
                enable: true,
            },
        ))
    }

    pub(super) fn disable_service(
        &mut self,
        req: &EmuRequest,
        key: &str,
        svc: &str,
        caller: &Caller,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            let body = json_object(req)?;
            for k in body.keys() {
                if k != "disableDependentServices" && k != "checkIfServiceHasUsage" {
                    return Err(unknown_field(k, "disable_service_request"));
                }
            }
        }
        let denied = format!("Permission denied to disable service [{svc}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.disable")?;
        known_service(svc)?;
        let p = &self.projects[i];
        let number = p.number;
        if !p.services.contains(svc) {
            // ref §2: disable of a non-enabled service → FAILED_PRECONDITION (wording inferred).
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!("Service {svc} is not enabled for consumer projects/{number}."),
                vec![],
            ));
        }
        // `acat.p2-` prefix (ref §2 lists it as an observed format; its use for disable is inferred).
        let name = format!("operations/acat.p2-{number}-{}", self.new_uuid());
        let md = json!({"@type": T_SU_META, "resourceNames": [format!("services/{svc}/projectSettings/{number}")]});
        Ok(self.new_operation(
            name,
            Api::ServiceUsage,
            Some(md),
            None,
            Outcome::Service {
                number,
                service: svc.to_owned(),
                enable: false,
            },
        ))
    }

    /// `services.list` with optional `filter=state:ENABLED|DISABLED` (ref §2); no paging (inferred).
    pub(super) fn list_services(&self, req: &EmuRequest, key: &str, caller: &Caller) -> Handled {
        let denied =
            format!("Permission denied to list services for consumer container [projects/{key}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.list")?;
        let p = &self.projects[i];
        let want = match req
            .query_param("filter")
            .map(|f| f.trim().to_ascii_uppercase())
        {
            None => None,
            Some(f) if f.is_empty() => None,
            Some(f) if f == "STATE:ENABLED" => Some(true),
            Some(f) if f == "STATE:DISABLED" => Some(false),
            Some(_) => return Err(invalid_argument("filter", "Invalid filter.")),
        };
        let services: Vec<Value> = SERVICE_CATALOG
            .iter()
            .map(|(name, _)| (*name, p.services.contains(*name)))
            .filter(|(_, enabled)| want.is_none_or(|w| w == *enabled))
            .map(|(name, enabled)| service_json(p.number, name, enabled))
            .collect();
        let body = if services.is_empty() {
            json!({})
        } else {
            json!({ "services": services })
        };
        Ok(EmuResponse::json(200, &body))
    }
}
