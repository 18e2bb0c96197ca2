//! `[matrix]` variants in the report, as Chromium builds it: a row's variants inside one
//! group naming the row and its count, each card labelled by its values; a row with one
//! variant stays a card of its own; a sort by cost lays every card out on its own; a filter
//! that hides a group's cards hides the group.

use creatify_batch::sandbox::catalog::PERSONAS;
use creatify_batch::sandbox::Faults;

use super::dom::Node;
use super::dump_dom;
use crate::support::*;

/// The groups shown (not hidden) among the page's sections.
fn shown_groups(doc: &Node) -> Vec<&Node> {
    doc.find("section", "variants")
        .into_iter()
        .filter(|s| s.attr("hidden").is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rows_variants_sit_side_by_side_in_one_group_with_their_count_and_values() {
    super::chromium();
    let h = Harness::start(Faults::default(), |_| {}).await;
    let (a, b) = (PERSONAS[0].id, PERSONAS[1].id);
    let config = h.dir.path().join("pipeline.toml");
    let base = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{base}\n[matrix]\navatar = [{a:?}, {b:?}]\n"),
    )
    .unwrap();
    // `spring` takes both avatars; `solo` pins its own, so it has one variant.
    let sheet = format!("key,script,avatar\nspring,Spring is here.,\nsolo,Alone here.,{a}\n");
    let path = h.sheet("variants.csv", &sheet);
    let out = h.run(&path, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = h.batch_dir("variants");
    let rows = manifest_rows(&dir);
    let keys: Vec<String> = rows
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let spring: Vec<&String> = keys.iter().filter(|k| k.starts_with("spring~")).collect();
    assert_eq!(spring.len(), 2, "{keys:?}");

    let page = dir.join("report.html");
    let doc = dump_dom(&page, "").await;
    let groups = shown_groups(&doc);
    assert_eq!(groups.len(), 1, "one group, spring's");
    let g = groups[0];
    assert_eq!(g.find("code", "vk")[0].text(), "spring");
    assert_eq!(g.find("span", "vn")[0].text(), "2 variants");
    let inside: Vec<(String, String)> = g
        .find("article", "card")
        .iter()
        .map(|c| {
            (
                c.find("code", "k")[0].text(),
                c.find("p", "variant")[0].text(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = spring
        .iter()
        .map(|k| ((*k).clone(), k["spring~".len()..].to_owned()))
        .collect();
    assert_eq!(
        inside, want,
        "spring's two cards, each labelled by its value"
    );
    assert!(
        want.iter().any(|(_, l)| l == &format!("avatar={a}")),
        "{want:?}"
    );
    // The single variant is a card of its own, still saying which variant it is.
    let main = doc.find("main", "cards")[0];
    let lone: Vec<&Node> = main
        .children()
        .iter()
        .filter(|n| n.tag() == "article")
        .collect();
    assert_eq!(lone.len(), 1);
    assert!(lone[0].find("code", "k")[0].text().starts_with("solo~"));
    assert_eq!(
        lone[0].find("p", "variant")[0].text(),
        format!("avatar={a}")
    );

    // Sorted by cost, every card takes its own place and the group steps aside.
    let doc = dump_dom(&page, "#state=all&sort=cost").await;
    assert!(shown_groups(&doc).is_empty());
    let main = doc.find("main", "cards")[0];
    let cards = main
        .children()
        .iter()
        .filter(|n| n.tag() == "article")
        .count();
    assert_eq!(cards, 3);

    // Filtered to failed (none here), the group of hidden cards hides with them.
    let doc = dump_dom(&page, "#state=failed").await;
    assert!(shown_groups(&doc).is_empty());
    assert_eq!(doc.find("section", "variants").len(), 1);
}
