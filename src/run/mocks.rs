//! The mocks a run talks to: the embedded mock started for each `base_url: mock`
//! endpoint, and a standalone llm-drill mock recognized by its answers, whose `/stats`
//! is read after the run.

use super::RunError;
use crate::client::Route;
use crate::plan::Target;
use std::time::Duration;

/// The embedded mock's configuration for endpoint `e` (none for a real endpoint), with
/// the keys it accepts resolved from their references.
pub fn mock_config(
    e: &crate::plan::EndpointPlan,
) -> Result<Option<mock_server::MockConfig>, RunError> {
    let Target::Mock(cfg) = &e.target else {
        return Ok(None);
    };
    let mut cfg = (**cfg).clone();
    for k in &e.mock_keys {
        let key = crate::client::resolve(&k.key, &e.id)
            .map_err(|err| RunError::Invalid(err.to_string()))?;
        cfg.auth_keys.push(mock_server::AuthKey {
            key: key.expose().to_string(),
            from: k.from,
            until: k.until,
        });
    }
    Ok(Some(cfg))
}

/// The route to endpoint `e`, and the embedded mock started for it when it has one.
pub async fn route_to(
    e: &crate::plan::EndpointPlan,
    secret: Option<crate::client::Secret>,
) -> Result<(Route, Option<mock_server::MockHandle>), RunError> {
    let mut mock = None;
    let base_url = match &e.target {
        Target::Mock(_) => {
            let cfg = mock_config(e)?.expect("a mock endpoint has a mock configuration");
            let h = mock_server::spawn_dedicated(cfg).await.map_err(|err| {
                RunError::Fatal(format!(
                    "cannot start the embedded mock for `{}`: {err}",
                    e.id
                ))
            })?;
            let url = h.base_url();
            mock = Some(h);
            url
        }
        Target::Url(u) => u.clone(),
    };
    let route =
        Route::new(e.clone(), base_url, secret).map_err(|err| RunError::Fatal(err.to_string()))?;
    Ok((route, mock))
}

/// The `/stats` of each standalone llm-drill mock that answered an endpoint (its figures
/// cover its life, not only this run); one that cannot be read is said on stderr.
pub(super) async fn standalone_stats(
    routes: &[Route],
) -> Vec<(String, mock_server::StatsSnapshot)> {
    let mut out = Vec::new();
    for r in routes.iter().filter(|r| r.answered_by_standalone_mock()) {
        let id = r.endpoint.id.clone();
        match tokio::time::timeout(Duration::from_secs(5), r.mock_stats()).await {
            Ok(Ok(stats)) => out.push((id, stats)),
            Ok(Err(why)) => eprintln!(
                "warning: endpoints.{id}: an llm-drill mock answered, but its /stats could not be read: {why}"
            ),
            Err(_) => eprintln!(
                "warning: endpoints.{id}: an llm-drill mock answered, but its /stats did not answer within 5 s"
            ),
        }
    }
    out
}
