//! The layer order of `src/lib.rs`, checked against the sources: a module imports only
//! from the layers below its own, and only the plan (and the commands that load files)
//! reads the scenario's serde mirror. Issue 11: fourteen files used to form one import
//! circle.

use std::path::{Path, PathBuf};

/// Lowest first; `lib.rs` says the same in words.
const LAYERS: &[&str] = &[
    "outcome", "scenario", "plan", "workload", "client", "recorder", "cost", "engine", "report",
    "usage", "run", "merge", "capacity", "cli", "commands", "fuzzing",
];

/// Modules that may read `crate::scenario` besides the scenario itself.
const READ_SCENARIO: &[&str] = &["plan", "run", "commands", "fuzzing"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::<module>` names a file refers to, outside comments and test modules,
/// with line numbers. `use crate::{a, b}` groups count for each name.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push((n + 1, name));
            }
        }
    }
    out
}

#[test]
fn imports_run_one_way_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let layer = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut climbs = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&root).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let own = layer(&module).unwrap_or_else(|| {
            panic!(
                "src/{} is in no layer: add `{module}` to LAYERS and lib.rs",
                rel.display()
            )
        });
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line, name) in references(&text) {
            checked += 1;
            if name == module {
                continue;
            }
            let Some(theirs) = layer(&name) else { continue };
            if theirs > own {
                climbs.push(format!(
                    "src/{}:{line}: `{module}` imports `{name}`, a layer above it",
                    rel.display()
                ));
            }
            if name == "scenario" && !READ_SCENARIO.contains(&module.as_str()) {
                climbs.push(format!(
                    "src/{}:{line}: `{module}` reads the scenario's serde mirror; use the plan's types",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "the check found only {checked} references: is it reading src/?"
    );
    assert!(
        climbs.is_empty(),
        "imports against the layer order:\n{}",
        climbs.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_plain_imports() {
    let refs = references(
        "use crate::{plan::Plan, client};\nlet x = crate::report::y; // crate::engine\n",
    );
    let names: Vec<&str> = refs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["plan", "client", "report"]);
}
