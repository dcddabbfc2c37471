//! Snapshots of every shipped template's HTML on the tiny fixture, scored
//! by models trained on the demo data (the ones `reports` trains). What a
//! report shows changes only visibly: a change is a snapshot diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always` to accept).

use crate::common::*;
use std::path::Path;

/// Copies the trained model set (the manifest and the files it lists).
fn copy_models(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from.join("manifest.json")).unwrap())
            .unwrap();
    let files = manifest["files"].as_object().unwrap().keys();
    for name in files.map(String::as_str).chain(["manifest.json"]) {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

/// The HTML files under `dir`, by their path relative to it, sorted.
fn html_files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                found.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn shipped_templates_render_as_before() {
    let demo = crate::reports::demo();
    let dir = tiny_project();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    for entry in std::fs::read_dir(repo().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, templates.join(path.file_name().unwrap())).unwrap();
    }
    copy_models(&demo.join("models"), &dir.path().join("models"));
    let o = command(dir.path())
        .args(["build", "--format", "html"])
        .env("SOURCE_DATE_EPOCH", "1751241600")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pages = html_files(&dir.path().join("out"));
    assert!(
        pages.len() >= 5,
        "{:?}",
        pages.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    for (name, html) in pages {
        let snapshot = name.replace(['/', '.'], "_");
        insta::assert_snapshot!(snapshot, html);
    }
}
