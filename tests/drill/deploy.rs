//! The container image and Kubernetes manifests under deploy/: they parse as the objects
//! they claim to be, the Job runs every shard at once with the scenario's shard count and
//! the merge reads each, no credential value is in any of them, the shipped scenario
//! validates, and the Grafana dashboard asks only for metrics llm-drill serves.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every YAML document under deploy/kubernetes, by file.
fn documents() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("deploy/kubernetes")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                for doc in text.split("\n---\n") {
                    let v: Value = serde_saphyr::from_str(doc)
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    out.push((p.clone(), v));
                }
            }
        }
    }
    out
}

fn kind<'a>(docs: &'a [(PathBuf, Value)], kind: &str, name: &str) -> &'a Value {
    &docs
        .iter()
        .find(|(_, v)| v["kind"] == kind && v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .1
}

#[test]
fn the_manifests_are_kubernetes_objects_that_run_every_shard_and_merge_them() {
    let docs = documents();
    for (p, v) in &docs {
        if p.ends_with("scenario.yaml") {
            continue;
        }
        let api = v["apiVersion"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no apiVersion", p.display()));
        let k = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no kind", p.display()));
        assert!(
            [
                ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
                ("batch/v1", "Job"),
                ("apps/v1", "Deployment"),
                ("v1", "Service"),
                ("v1", "PersistentVolumeClaim"),
            ]
            .contains(&(api, k)),
            "{}: {api} {k}",
            p.display()
        );
        if k == "Kustomization" {
            // Every file it names is there.
            let dir = p.parent().unwrap();
            let named = v["resources"].as_array().into_iter().flatten().chain(
                v["configMapGenerator"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g["files"].as_array().into_iter().flatten()),
            );
            for f in named {
                assert!(
                    dir.join(f.as_str().unwrap()).exists(),
                    "{}: {f}",
                    p.display()
                );
            }
        } else {
            assert!(v["metadata"]["name"].is_string(), "{}", p.display());
        }
    }
    let kustomization = &docs
        .iter()
        .find(|(p, _)| p.ends_with("deploy/kubernetes/kustomization.yaml"))
        .unwrap()
        .1;
    let literal = |key: &str| -> String {
        kustomization["configMapGenerator"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["literals"].as_array().into_iter().flatten())
            .filter_map(|l| {
                l.as_str()?
                    .strip_prefix(&format!("{key}="))
                    .map(str::to_string)
            })
            .next()
            .unwrap_or_else(|| panic!("no {key} literal"))
    };
    let shards: u64 = literal("SHARDS").parse().unwrap();
    assert!(llm_drill::run::parse_start_at(&literal("START_AT")).is_ok());

    let job = &kind(&docs, "Job", "llm-drill-shards")["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    assert_eq!(
        (job["completions"].as_u64(), job["parallelism"].as_u64()),
        (Some(shards), Some(shards))
    );
    let c = &job["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for want in [
        "run",
        "--shards=$(SHARDS)",
        "--start-at=$(START_AT)",
        "--out=/results/shard-$(JOB_COMPLETION_INDEX)",
    ] {
        assert!(args.contains(&want), "{want}: {args:?}");
    }
    assert!(args.iter().any(|a| a.starts_with("--metrics-listen=")));
    // The key comes from the Secret by reference.
    let key = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "LLM_DRILL_API_KEY")
        .unwrap();
    assert!(key.get("value").is_none());
    assert_eq!(
        key["valueFrom"]["secretKeyRef"]["name"],
        "llm-drill-credentials"
    );
    assert_eq!(
        job["template"]["spec"]["securityContext"]["runAsNonRoot"],
        true
    );

    let merge = &kind(&docs, "Job", "llm-drill-merge")["spec"]["template"]["spec"]["containers"][0];
    let margs: Vec<&str> = merge["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(margs[0], "merge");
    let read: Vec<String> = (0..shards).map(|i| format!("/results/shard-{i}")).collect();
    assert_eq!(
        margs[1..=shards as usize],
        read.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );

    // The shipped scenario validates, its key given as the Secret would give it.
    let (code, _, err) = {
        let out = std::process::Command::new(super::support::BIN)
            .args(["validate", "deploy/kubernetes/scenario.yaml"])
            .current_dir(root())
            .env("LLM_DRILL_API_KEY", "sk-from-the-secret")
            .output()
            .unwrap();
        (
            out.status.code(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn no_credential_value_is_in_the_manifests_or_the_image() {
    let docs = documents();
    assert!(
        !docs.iter().any(|(_, v)| v["kind"] == "Secret"),
        "credentials are the user's Secret, never shipped"
    );
    let mut files: Vec<PathBuf> = docs.iter().map(|(p, _)| p.clone()).collect();
    files.extend([
        root().join("Dockerfile"),
        root().join("deploy/grafana/llm-drill.json"),
    ]);
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        for looks_like_a_secret in [
            "sk-",
            "AKIA",
            "-----BEGIN",
            "Bearer ",
            "password:",
            "api-key:",
            "apiKey:",
        ] {
            assert!(
                !text.contains(looks_like_a_secret),
                "{}: `{looks_like_a_secret}`",
                p.display()
            );
        }
    }
    // No env entry whose name says key, token, secret or password has a literal value.
    for (p, v) in &docs {
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if let (Some(Value::String(n)), Some(_)) = (m.get("name"), m.get("value")) {
                        let n = n.to_ascii_uppercase();
                        assert!(
                            !["KEY", "TOKEN", "SECRET", "PASSWORD"]
                                .iter()
                                .any(|w| n.contains(w)),
                            "{}: env {n} has a literal value",
                            p.display()
                        );
                    }
                    stack.extend(m.values());
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    }
}

/// The metric names the Grafana dashboard's queries use.
pub fn dashboard_queries() -> Vec<String> {
    let d: Value = serde_json::from_slice(
        &std::fs::read(root().join("deploy/grafana/llm-drill.json")).unwrap(),
    )
    .unwrap();
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_dashboard_asks_only_for_metrics_llm_drill_serves() {
    let live = llm_drill::recorder::live::Live::new("s", "0/1", &["e".into()], &["f".into()]);
    let exposition = live.encode();
    let served: std::collections::BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let queries = dashboard_queries();
    assert!(queries.len() >= 8);
    for q in &queries {
        let mut rest = q.as_str();
        while let Some(i) = rest.find("llm_drill_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                served.contains(name.as_str()),
                "{name} (in `{q}`) is not served: {served:?}"
            );
            rest = &rest[i + name.len()..];
        }
    }
}
