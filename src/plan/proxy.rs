//! Which proxy an endpoint's traffic goes through, decided as curl decides it: an
//! endpoint's own `proxy:` key first (`none` bypasses every proxy), else the environment
//! — `https_proxy` for https URLs, `http_proxy` for http, `all_proxy` for either, each
//! in either case, lowercase first — unless `no_proxy` names the host. The embedded mock
//! is always reached directly.
//!
//! Pure: the environment is passed in, so `validate` and the client decide alike.

use super::check::Checker;
use crate::scenario::ScenarioError;

/// An endpoint's `proxy:` key.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ProxySetting {
    /// Whatever the environment says.
    #[default]
    Environment,
    /// Never through a proxy.
    Bypass,
    /// This proxy, over the environment.
    Via(ProxyUrl),
}

/// An HTTP proxy, and the `user:password` it may carry (from the environment's URL).
#[derive(Clone, PartialEq)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    /// Credentials written in the URL (`http://user:pass@proxy:3128`): a secret.
    pub userinfo: Option<String>,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// As a person may see it: never with its credentials.
impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

impl ProxyUrl {
    /// `http://[user:pass@]host[:port]`; the port defaults to 1080 as curl's does.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| format!("is not a proxy URL ({e})"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "uses `{}://`: only http:// proxies are supported (HTTPS traffic goes through them in a CONNECT tunnel)",
                url.scheme()
            ));
        }
        let host = url.host_str().ok_or("names no host")?;
        let userinfo = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            match url.password() {
                Some(p) => format!("{user}:{}", percent_decode(p)),
                None => user,
            }
        });
        Ok(ProxyUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: url.port().unwrap_or(1080),
            userinfo,
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

/// How an endpoint is reached, and why.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Direct(&'static str),
    /// Through this proxy; `from` says where the setting came from.
    Via {
        proxy: ProxyUrl,
        from: String,
    },
}

/// Decides the proxy for `url` (`https://host:port/...`), with `env` the environment.
pub fn decide(
    setting: &ProxySetting,
    url: &url::Url,
    env: &dyn Fn(&str) -> Option<String>,
) -> Route {
    match setting {
        ProxySetting::Bypass => return Route::Direct("proxy: none"),
        ProxySetting::Via(p) => {
            return Route::Via {
                proxy: p.clone(),
                from: "the endpoint's proxy key".into(),
            }
        }
        ProxySetting::Environment => {}
    }
    let var = |name: &str| {
        [name.to_ascii_lowercase(), name.to_ascii_uppercase()]
            .into_iter()
            .find_map(|n| env(&n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
    };
    let scheme = if url.scheme() == "https" {
        "https_proxy"
    } else {
        "http_proxy"
    };
    let Some((name, value)) = var(scheme).or_else(|| var("all_proxy")) else {
        return Route::Direct("no proxy in the environment");
    };
    let host = url.host_str().unwrap_or_default();
    if let Some((_, list)) = var("no_proxy") {
        if no_proxy_matches(&list, host) {
            return Route::Direct("NO_PROXY names the host");
        }
    }
    match ProxyUrl::parse(value.trim()) {
        Ok(proxy) => Route::Via {
            proxy,
            from: format!("${name}"),
        },
        Err(_) => Route::Direct("the environment's proxy URL cannot be read"),
    }
}

/// Whether a `no_proxy` list (comma- or space-separated) names `host`: `*`, the host
/// itself, a domain it is in (`example.com` and `.example.com` both match
/// `api.example.com`), or an IP network (`10.0.0.0/8`) holding it.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip = host.parse::<std::net::IpAddr>().ok();
    list.split([',', ' '])
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
                return in_network(ip, net, bits);
            }
            let domain = entry.trim_start_matches('.');
            // A port in the entry is not compared.
            let domain = domain.split(':').next().unwrap_or(domain);
            host == domain || host.ends_with(&format!(".{domain}"))
        })
}

fn in_network(ip: std::net::IpAddr, net: &str, bits: &str) -> bool {
    use std::net::IpAddr;
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The endpoint's `proxy` and `proxy_credential_ref` keys, checked.
pub(crate) fn setting(
    c: &Checker,
    at: &dyn Fn(&str) -> String,
    proxy: Option<&str>,
) -> Result<ProxySetting, ScenarioError> {
    match proxy.map(str::trim) {
        None => Ok(ProxySetting::Environment),
        Some("none") => Ok(ProxySetting::Bypass),
        Some(text) => {
            let url = ProxyUrl::parse(text).map_err(|m| c.err(&at("proxy"), m))?;
            if url.userinfo.is_some() {
                // Never echo it: it holds a password.
                return Err(c.err(
                    &at("proxy"),
                    "carries credentials: give them by reference with proxy_credential_ref (env:NAME or file:PATH)",
                ));
            }
            Ok(ProxySetting::Via(url))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    }

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).unwrap()
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let e = [
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("no_proxy", "internal.corp, 10.0.0.0/8"),
        ];
        let via = decide(
            &ProxySetting::Environment,
            &url("https://contoso.openai.azure.com/"),
            &env(&e),
        );
        assert!(
            matches!(&via, Route::Via { proxy, from } if proxy.port == 3128 && from == "$HTTPS_PROXY"),
            "{via:?}"
        );
        // NO_PROXY: a domain and its subdomains, and an IP network.
        let e2 = &env(&e);
        assert_eq!(
            decide(
                &ProxySetting::Environment,
                &url("https://vllm.internal.corp/"),
                e2
            ),
            Route::Direct("NO_PROXY names the host")
        );
        assert_eq!(
            decide(
                &ProxySetting::Environment,
                &url("https://10.1.2.3:8000/"),
                e2
            ),
            Route::Direct("NO_PROXY names the host")
        );
        // http URLs take http_proxy, not HTTPS_PROXY; all_proxy serves both.
        assert_eq!(
            decide(&ProxySetting::Environment, &url("http://vllm:8000/"), e2),
            Route::Direct("no proxy in the environment")
        );
        let all = [("ALL_PROXY", "proxy:8080")];
        assert!(
            matches!(decide(&ProxySetting::Environment, &url("http://vllm:8000/"), &env(&all)), Route::Via { proxy, .. } if proxy.port == 8080)
        );
        // Lowercase wins over uppercase.
        let both = [("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:2")];
        assert!(
            matches!(decide(&ProxySetting::Environment, &url("https://x/"), &env(&both)), Route::Via { proxy, .. } if proxy.host == "a")
        );
        // The endpoint's key wins over the environment; `none` bypasses it.
        assert_eq!(
            decide(&ProxySetting::Bypass, &url("https://x/"), &env(&both)),
            Route::Direct("proxy: none")
        );
        assert!(no_proxy_matches("*", "anything"));
        assert!(!no_proxy_matches("example.com", "notexample.com"));
        assert!(no_proxy_matches(".example.com", "api.example.com"));
    }

    #[test]
    fn credentials_in_a_proxy_url_are_kept_apart_and_never_shown() {
        let p = ProxyUrl::parse("http://alice:s%40cret@proxy.corp:3128").unwrap();
        assert_eq!(p.userinfo.as_deref(), Some("alice:s@cret"));
        assert_eq!(p.to_string(), "http://proxy.corp:3128");
        assert_eq!(format!("{p:?}"), "http://proxy.corp:3128");
        assert!(ProxyUrl::parse("socks5://proxy:1080")
            .unwrap_err()
            .contains("only http://"));
    }
}
