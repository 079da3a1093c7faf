//! The pre-flight checks that `validate` (and every `run`, before it sends anything)
//! makes on a plan that is well-formed: the registration mistakes people make when they
//! bring their own endpoint. Credentials that cannot be found, a credential sent over
//! plain http to another machine, a base_url whose host names another region than the
//! one declared, a feature that needs what its endpoint (or a fallback) does not
//! declare, residency that a fallback would leave, and conversations that outgrow the
//! context window.
//!
//! Each finding is located in the scenario and is an error (nothing may be sent) or a
//! warning (the run may go ahead). Nothing here reads a credential's value.

use super::{regions, Plan, Target};
use crate::scenario::{ScenarioError, Source};
use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub severity: Severity,
    pub at: ScenarioError,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{word}: {}", self.at)
    }
}

/// How a credential reference is looked up: the environment and the file system in real
/// use, a fake in tests.
pub trait Credentials {
    fn env_present(&self, name: &str) -> bool;
    /// `Err` says why the file cannot be read.
    fn file_readable(&self, path: &std::path::Path) -> Result<(), String>;
}

/// The real environment and file system.
pub struct System;

impl Credentials for System {
    fn env_present(&self, name: &str) -> bool {
        std::env::var_os(name).is_some_and(|v| !v.is_empty())
    }
    fn file_readable(&self, path: &std::path::Path) -> Result<(), String> {
        std::fs::File::open(path)
            .map(|_| ())
            .map_err(|e| e.kind().to_string())
    }
}

struct Findings<'a> {
    source: &'a Source,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn error(&mut self, path: &str, msg: String) {
        self.push(Severity::Error, path, msg);
    }
    fn warning(&mut self, path: &str, msg: String) {
        self.push(Severity::Warning, path, msg);
    }
    fn push(&mut self, severity: Severity, path: &str, msg: String) {
        self.out.push(Finding {
            severity,
            at: self.source.error(path, msg),
        });
    }
}

/// The endpoint's TLS files: each readable, and PEM of the right kind. The client key is
/// a secret: its errors never show it.
fn tls_files(e: &super::EndpointPlan, at: &dyn Fn(&str) -> String, f: &mut Findings) {
    for (path, key) in [
        (&e.tls.ca_file, "tls.ca_file"),
        (&e.tls.client_cert, "tls.client_cert"),
    ] {
        if let Some(p) = path {
            if let Err(why) = super::pem::certificates(p) {
                f.error(&at(key), why);
            }
        }
    }
    if let Some(r) = &e.tls.client_key {
        let text = match r {
            super::CredentialRef::Env(name) => {
                std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
            }
            super::CredentialRef::File(p) => std::fs::read_to_string(p)
                .map_err(|err| format!("cannot read {}: {}", p.display(), err.kind())),
            // Not run by validate: checked when the run starts.
            super::CredentialRef::Exec(_) => return,
            super::CredentialRef::Aws(_) | super::CredentialRef::Google => {
                Err(format!("{r} gives a cloud credential, not a private key"))
            }
        };
        match text.and_then(|t| super::pem::private_key(&t).map_err(|m| format!("{r} {m}"))) {
            Ok(_) => {}
            Err(why) => f.error(&at("tls.client_key_ref"), why),
        }
    }
}

/// Whether the program an `exec:` command starts with can be started: a path that is an
/// executable file, or a name found on `PATH`. Nothing is run.
fn program_found(cmd: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let program = cmd.split_whitespace().next().unwrap_or_default();
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        executable(std::path::Path::new(program))
    } else {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|d| executable(&d.join(program)))
        })
    };
    if found {
        Ok(())
    } else {
        Err(format!(
            "cannot start `{program}`: no such executable (on PATH or at that path)"
        ))
    }
}

/// Every finding for `plan`, errors first, each in file order.
pub fn check(plan: &Plan, source: &Source, creds: &dyn Credentials) -> Vec<Finding> {
    let mut f = Findings {
        source,
        out: Vec::new(),
    };
    endpoints(plan, creds, &mut f);
    features(plan, &mut f);
    spending(plan, &mut f);
    let mut out = f.out;
    out.sort_by_key(|x| (x.severity == Severity::Warning, x.at.line, x.at.column));
    out
}

fn endpoints(plan: &Plan, creds: &dyn Credentials, f: &mut Findings) {
    for e in &plan.endpoints {
        let at = |k: &str| format!("endpoints.{}.{k}", e.id);
        let mock_keys = e
            .mock_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (Some(&k.key), format!("mock.auth.keys.{i}.key_ref")));
        for (r, key) in [
            (e.auth.credential(), "credential_ref".to_string()),
            (
                e.proxy_credential.as_ref(),
                "proxy_credential_ref".to_string(),
            ),
        ]
        .into_iter()
        .chain(mock_keys)
        {
            let key = key.as_str();
            match r {
                Some(super::CredentialRef::Env(name)) if !creds.env_present(name) => f.error(
                    &at(key),
                    format!("environment variable {name} is not set (or empty): export it before the run"),
                ),
                Some(super::CredentialRef::Exec(cmd)) => match program_found(cmd) {
                    Ok(()) => f.warning(
                        &at(key),
                        format!("runs `{cmd}` when the run starts (and again before its token expires) to get the credential"),
                    ),
                    Err(why) => f.error(&at(key), why),
                },
                Some(super::CredentialRef::Google) => {
                    let var = super::auth::GOOGLE_CREDENTIALS_VAR;
                    match std::env::var_os(var).filter(|v| !v.is_empty()) {
                        None => f.error(
                            &at(key),
                            format!("google: reads the key file {var} names, and {var} is not set"),
                        ),
                        Some(p) => {
                            if let Err(why) = creds.file_readable(std::path::Path::new(&p)) {
                                f.error(
                                    &at(key),
                                    format!("cannot read the key file {var} names, {}: {why}", p.to_string_lossy()),
                                );
                            }
                        }
                    }
                }
                Some(super::CredentialRef::Aws(profile)) => {
                    let env = |k: &str| std::env::var(k).ok();
                    if let Err(why) =
                        mock_server::sigv4::AwsKeys::from_aws_config(profile.as_deref(), &env)
                    {
                        f.error(&at(key), why);
                    }
                }
                Some(super::CredentialRef::File(p)) => {
                    if let Err(why) = creds.file_readable(p) {
                        f.error(
                            &at(key),
                            format!("cannot read the credential file {}: {why}", p.display()),
                        );
                    }
                }
                _ => {}
            }
        }
        tls_files(e, &at, f);
        // Vertex AI serves from the location in its URL, whatever the region declared.
        if let (Some(location), Some(declared)) = (e.options.get("location"), &e.region) {
            if location != "global" && !regions::same(location, declared) {
                f.error(
                    &at("location"),
                    format!("`{location}` is where Vertex AI serves these calls, but the endpoint declares region: {declared}"),
                );
            }
        }
        let Target::Url(base) = &e.target else {
            continue;
        };
        let Ok(url) = url::Url::parse(base) else {
            continue;
        };
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == "http"
            && e.auth.credential().is_some()
            && !e.allow_insecure_http
            && !is_loopback(host)
        {
            f.error(
                &at("base_url"),
                format!("would send the credential over plain http to `{host}`, which is not this machine: use https, or set allow_insecure_http: true if the network is trusted"),
            );
        }
        if let (Some(declared), Some(named)) = (&e.region, regions::in_host(host)) {
            if !regions::same(declared, named) {
                let severity_known = regions::canonical(declared).is_some();
                let msg = format!(
                    "the host `{host}` names region {named}, but the endpoint declares region: {declared} — a URL pasted from another region's deployment?"
                );
                if severity_known {
                    f.error(&at("region"), msg);
                } else {
                    f.warning(
                        &at("region"),
                        format!("{msg} (`{declared}` is not a region name llm-drill knows)"),
                    );
                }
            }
        }
    }
}

/// Unpriced endpoints (counted as free) and paid traffic without a spend guard.
fn spending(plan: &Plan, f: &mut Findings) {
    let real = |e: &super::EndpointPlan| matches!(e.target, Target::Url(_));
    let costed = plan.cost.modeled_cost_per_call.is_some() || plan.cost.daily_calls.is_some();
    for e in &plan.endpoints {
        if e.price.is_none() && (real(e) || costed) {
            f.warning(
                &format!("endpoints.{}", e.id),
                "has no price or price_ref: its calls are counted as free in the cost report"
                    .into(),
            );
        }
    }
    let paid: Vec<&super::EndpointPlan> = plan
        .endpoints
        .iter()
        .filter(|e| real(e) && e.price.is_some_and(|p| p.input > 0.0 || p.output > 0.0))
        .collect();
    if paid.is_empty() || plan.cost.max_spend_usd.is_some() || plan.cost.max_calls.is_some() {
        return;
    }
    // The worst call: the largest typical first turn with the longest answer, at the
    // dearest price of any paid endpoint.
    let (pin, pout) = paid
        .iter()
        .filter_map(|e| e.price)
        .fold((0.0, 0.0), |(i, o), p| {
            (f64::max(i, p.input), f64::max(o, p.output))
        });
    let worst_call = plan
        .features
        .iter()
        .map(|ft| {
            let (input, _) = ft.typical_first_turn();
            (input * pin + ft.output_tokens.upper() * pout) * ft.session.turns.upper().max(1.0)
        })
        .fold(0.0, f64::max);
    let what = match &plan.load {
        super::LoadPlan::Open { stages, .. } => {
            let n = super::ArrivalSchedule::expected_count(stages);
            format!(
                "worst case about ${:.2} ({n:.0} sessions × ${worst_call:.4})",
                n * worst_call
            )
        }
        super::LoadPlan::Closed { .. } => format!(
            "${worst_call:.4} a session at worst, for as many sessions as the endpoint answers"
        ),
        super::LoadPlan::Replay { replay, .. } => format!(
            "one call per row of {}, each as large as its row",
            replay.trace.display()
        ),
    };
    f.warning(
        "load",
        format!(
            "sends paid traffic with no spend guard (cost.max_spend_usd or cost.max_calls): {what}"
        ),
    );
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn features(plan: &Plan, f: &mut Findings) {
    for feat in &plan.features {
        let at = |k: &str| format!("features.{}.{k}", feat.name);
        let primary = &plan.endpoints[feat.endpoint];
        let chain = primary.chain(&plan.endpoints);
        for need in &feat.needs {
            for (i, e) in chain.iter().enumerate() {
                if !e.capabilities.has(*need) {
                    let role = if i == 0 {
                        "its endpoint".to_string()
                    } else {
                        format!("its fallback (after `{}`)", chain[i - 1].id)
                    };
                    f.error(
                        &at("needs"),
                        format!(
                            "needs {} but {role} `{}` does not declare supports_{}: true",
                            need.key(),
                            e.id,
                            need.key()
                        ),
                    );
                }
            }
        }
        if feat.stream {
            if let Some(e) = chain.iter().find(|e| !e.capabilities.streaming) {
                f.error(
                    &at("stream"),
                    format!(
                        "is true but endpoint `{}` declares supports_streaming: false",
                        e.id
                    ),
                );
            }
        }
        // Side by side: each compared endpoint serves this feature's calls too.
        let compared = plan
            .side_by_side
            .iter()
            .filter(|s| s.endpoints[0] == feat.endpoint)
            .flat_map(|s| s.endpoints[1..].iter().map(|e| &plan.endpoints[*e]));
        for e in compared {
            for need in feat.needs.iter().filter(|n| !e.capabilities.has(**n)) {
                f.error(
                    &at("needs"),
                    format!(
                        "needs {} but `{}`, which side_by_side sends its calls to as well, does not declare supports_{}: true",
                        need.key(),
                        e.id,
                        need.key()
                    ),
                );
            }
            if feat.stream && !e.capabilities.streaming {
                f.error(
                    &at("stream"),
                    format!(
                        "is true but `{}`, which side_by_side sends its calls to as well, declares supports_streaming: false",
                        e.id
                    ),
                );
            }
        }
        if let Some(allowed) = &feat.residency {
            residency(feat, allowed, &chain, f);
        }
        context(feat, &chain, f);
    }
}

fn residency(
    feat: &super::FeaturePlan,
    allowed: &[String],
    chain: &[&super::EndpointPlan],
    f: &mut Findings,
) {
    let at = format!("features.{}.residency", feat.name);
    let list = allowed.join(", ");
    for e in chain {
        if e.options.get("location") == Some("global") {
            f.warning(
                &at,
                format!(
                    "endpoint `{}` calls Vertex AI's `global` location: Google may serve each call from any region; give a regional location to keep {} inside [{list}]",
                    e.id, feat.name
                ),
            );
        }
        if let (super::Provider::Bedrock, Some(geography)) =
            (e.provider, regions::inference_profile(&e.model_name))
        {
            f.warning(
                &at,
                format!(
                    "endpoint `{}` calls the cross-region inference profile `{}`: Bedrock may serve each call from any region of {geography}, not only {}; check that all of them are inside {}'s residency [{list}], or call a model id without the profile prefix",
                    e.id,
                    e.model_name,
                    e.region.as_deref().unwrap_or("the region it is sent to"),
                    feat.name
                ),
            );
        }
    }
    let inside = |region: &Option<String>| {
        region
            .as_deref()
            .is_some_and(|r| allowed.iter().any(|a| regions::same(a, r)))
    };
    let primary = chain[0];
    if !inside(&primary.region) {
        let where_ = primary
            .region
            .as_deref()
            .map_or("declares no region".to_string(), |r| format!("is in {r}"));
        f.error(
            &at,
            format!(
                "endpoint `{}` {where_}, outside {}'s residency [{list}]",
                primary.id, feat.name
            ),
        );
        return;
    }
    let outside: Vec<String> = chain[1..]
        .iter()
        .filter(|e| !inside(&e.region))
        .map(|e| {
            format!(
                "{} (endpoint `{}`)",
                e.region.as_deref().unwrap_or("an undeclared region"),
                e.id
            )
        })
        .collect();
    if !outside.is_empty() {
        let n = outside.len();
        f.warning(
            &at,
            format!(
                "during a failure of `{}`, {} would be served in {} — {n} region{} outside its residency [{list}]; fallback_policy: fail_closed on `{}` keeps it inside",
                primary.id,
                feat.name,
                outside.join(", then "),
                if n == 1 { "" } else { "s" },
                primary.id,
            ),
        );
    }
}

/// Prompt tokens of turn `k` (from 1), by the chat recipe's framing of about 4 tokens a
/// message, plus the answer asked for: what must fit the context window.
fn turn_tokens(feat: &super::FeaturePlan, k: u32, pick: &dyn Fn(&super::Sampler) -> f64) -> f64 {
    const FRAME: f64 = 4.0;
    let mut context = feat.context.as_ref().map_or(0.0, |c| pick(&c.start));
    for _ in 1..k {
        if let Some(c) = &feat.context {
            context = context * c.growth_factor + pick(&c.growth_per_turn);
        }
    }
    let (user, out) = (pick(&feat.user_tokens), pick(&feat.output_tokens));
    let system = pick(&feat.system_tokens);
    let framed = |n: f64| if n > 0.0 { n + FRAME } else { 0.0 };
    framed(system)
        + framed(context)
        + (k - 1) as f64 * (user + out + 2.0 * FRAME)
        + user
        + FRAME
        + 3.0
        + out
}

/// Conversations that outgrow the window. The plan already refuses a first turn that
/// cannot fit; later turns that outgrow it are warned about, since a run that measures
/// how a product handles overflow is legitimate: they end as `context_overflow`.
fn context(feat: &super::FeaturePlan, chain: &[&super::EndpointPlan], f: &mut Findings) {
    let at = format!("features.{}.prompt", feat.name);
    let typical_turns = feat.session.turns.typical().round().max(1.0) as u32;
    let most_turns = feat.session.turns.upper().round().clamp(1.0, 10_000.0) as u32;
    for e in chain {
        let Some(max) = e.max_context_tokens else {
            continue;
        };
        // A budget no larger than the window refuses a turn before it can overflow.
        if feat.token_budget.is_some_and(|b| b <= max as u64) {
            continue;
        }
        let max_f = max as f64;
        let first_over = |turns: u32, pick: &dyn Fn(&super::Sampler) -> f64| {
            (1..=turns).find_map(|k| {
                let n = turn_tokens(feat, k, pick);
                (n > max_f).then_some((k, n))
            })
        };
        if let Some((k, n)) = first_over(typical_turns, &|s| s.typical()) {
            f.warning(
                &at,
                format!(
                    "a typical conversation outgrows endpoint `{}`'s max_context_tokens: {max} at turn {k} (about {n:.0} tokens with history and answer): from there its turns will be refused as context_overflow",
                    e.id
                ),
            );
        } else if let Some((k, n)) = first_over(most_turns, &|s| s.upper()) {
            f.warning(
                &at,
                format!(
                    "the largest conversations the plan can build (sizes at their upper bounds) outgrow endpoint `{}`'s max_context_tokens: {max} at turn {k} (about {n:.0} tokens): such turns will be refused as context_overflow",
                    e.id
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    struct Fake;
    impl Credentials for Fake {
        fn env_present(&self, name: &str) -> bool {
            name != "MISSING"
        }
        fn file_readable(&self, _: &std::path::Path) -> Result<(), String> {
            Ok(())
        }
    }

    fn findings(yaml: &str) -> Vec<String> {
        let (sc, src) = scenario::parse("t.yaml", yaml.as_bytes().to_vec(), &[]).unwrap();
        let plan = Plan::from_scenario(&sc, &src).unwrap();
        check(&plan, &src, &Fake)
            .iter()
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("10.0.0.5"));
        assert!(!is_loopback("vllm.internal"));
    }

    #[test]
    fn a_clean_registration_has_no_findings() {
        let yaml = "name: t\nendpoints:\n  p:\n    provider: azure_openai\n    base_url: https://contoso-weu.openai.azure.com\n    deployment: d\n    auth_type: api_key\n    credential_ref: env:KEY\n    model_name: gpt-4o\n    price: { input_per_mtok: 2.5, output_per_mtok: 10 }\n    region: westeurope\n    supports_tools: true\n    max_context_tokens: 128000\ncost: { max_spend_usd: 1 }\nfeatures:\n  f:\n    endpoint: p\n    needs: [tools, streaming]\n    residency: [westeurope, northeurope]\n    prompt: { user_tokens: 10 }\nload: { rate: 1 }\nduration: 1s\n";
        assert_eq!(findings(yaml), Vec::<String>::new());
    }
}
