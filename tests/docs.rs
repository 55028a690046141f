//! The README and the pages in docs/ lead only to places in this
//! repository that exist: every relative link names a file that is there
//! and, for a Markdown page, a heading that page has; no link leaves the
//! repository. Links in code are not links.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown page in docs/, as paths from the root.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| PathBuf::from("docs").join(path.file_name().expect("a file name")))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn read(page: &Path) -> String {
    std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("{}: {e}", page.display()))
}

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_HEADING_ATTRIBUTES)
}

/// The line `offset` falls on, counting from 1.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Where a link goes and the line it is written on.
struct Link {
    destination: String,
    line: usize,
}

/// The links of a Markdown text (images included), and the text outside
/// code that GitHub would turn into a link by itself (a bare `https://`).
fn links(text: &str) -> (Vec<Link>, Vec<Link>) {
    let (mut links, mut bare) = (Vec::new(), Vec::new());
    let (mut in_code_block, mut in_link) = (false, false);
    for (event, range) in parser(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => {
                in_link = true;
                links.push(Link { destination: dest_url.to_string(), line: line_of(text, range.start) })
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => in_link = false,
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(words)
                if !in_code_block && !in_link && (words.contains("http://") || words.contains("https://")) =>
            {
                bare.push(Link { destination: words.to_string(), line: line_of(text, range.start) })
            }
            _ => {}
        }
    }
    (links, bare)
}

/// GitHub's anchor for a heading: lower case, spaces as `-`, and every
/// character but letters, digits, `-` and `_` dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors a Markdown page's headings make; a repeated heading gets
/// `-1`, `-2`… as on GitHub.
fn anchors(text: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(words) | Event::Code(words) => {
                if let Some(heading) = heading.as_mut() {
                    heading.push_str(&words);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let mut anchor = base.clone();
                let mut repeat = 0;
                while anchors.contains(&anchor) {
                    repeat += 1;
                    anchor = format!("{base}-{repeat}");
                }
                anchors.insert(anchor);
            }
            _ => {}
        }
    }
    anchors
}

/// `path` with `.` and `..` resolved without touching the disk; `None`
/// when it climbs above the repository's root.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// A scheme (`https:`, `mailto:`) or `//host`: a link that leaves the
/// repository.
fn leaves_the_repository(destination: &str) -> bool {
    let scheme = destination.split_once(':').map(|(scheme, _)| scheme).unwrap_or_default();
    let has_scheme = !scheme.is_empty()
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && !destination.starts_with(['#', '/', '.']);
    has_scheme || destination.starts_with("//")
}

/// What is wrong with the links of `text`, the page at `page` (a path from
/// the root), each as `page:line: problem`.
fn problems(page: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (links, bare) = links(text);
    for link in bare {
        problems.push(format!(
            "{}:{}: a bare address outside code, which GitHub makes a link out of the repository: {:?}",
            page.display(),
            link.line,
            link.destination
        ));
    }
    for link in links {
        let at = format!("{}:{}", page.display(), link.line);
        let destination = link.destination.as_str();
        if leaves_the_repository(destination) {
            problems.push(format!("{at}: {destination} leaves the repository"));
            continue;
        }
        let (path, anchor) = match destination.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (destination, None),
        };
        if path.is_empty() {
            if let Some(anchor) = anchor.filter(|anchor| !anchors(text).contains(*anchor)) {
                problems.push(format!("{at}: {destination}: this page has no heading whose anchor is #{anchor}"));
            }
            continue;
        }
        let Some(target) = normalise(&page.parent().unwrap_or(Path::new("")).join(path)) else {
            problems.push(format!("{at}: {destination} leads out of the repository"));
            continue;
        };
        if !root().join(&target).exists() {
            problems.push(format!("{at}: {destination}: there is no {}", target.display()));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if target.extension().is_none_or(|ext| ext != "md") {
            problems.push(format!("{at}: {destination}: an anchor into a file that is not Markdown"));
        } else if !anchors(&read(&target)).contains(anchor) {
            problems
                .push(format!("{at}: {destination}: {} has no heading whose anchor is #{anchor}", target.display()));
        }
    }
    problems
}

#[test]
fn every_link_in_the_readme_and_in_docs_leads_to_a_file_and_heading_of_this_repository() {
    let found: Vec<String> = pages().iter().flat_map(|page| problems(page, &read(page))).collect();
    assert!(found.is_empty(), "links to fix:\n{}", found.join("\n"));
}

#[test]
fn the_readme_links_every_page_in_docs_and_so_does_the_index() {
    let readme = read(Path::new("README.md"));
    let index = read(Path::new("docs/README.md"));
    for page in pages().iter().skip(1) {
        let name = page.file_name().and_then(|name| name.to_str()).expect("a name");
        if name == "README.md" {
            assert!(readme.contains("](docs/README.md)"), "the README links the index docs/README.md");
            continue;
        }
        assert!(readme.contains(&format!("](docs/{name}")), "the README's Documentation list misses docs/{name}");
        assert!(index.contains(&format!("]({name})")), "docs/README.md misses {name}");
    }
}

#[test]
fn the_readme_is_at_most_250_lines_and_gives_the_test_command_ci_runs_in_its_first_screen() {
    let readme = read(Path::new("README.md"));
    assert!(readme.lines().count() <= 250, "README.md has {} lines; the manual goes in docs/", readme.lines().count());
    let first_screen: Vec<&str> = readme.lines().take(40).collect();
    assert!(
        first_screen.iter().any(|line| line.starts_with("cargo test")),
        "the README's first 40 lines give the test command:\n{}",
        first_screen.join("\n")
    );
    let ci = read(Path::new(".ci/run"));
    assert!(ci.lines().any(|line| line.trim() == "cargo test --locked"), ".ci/run runs the README's test command");
}

#[test]
fn headings_make_the_anchors_github_makes() {
    assert_eq!(slug("Reviewing a pull request: `plan --cluster`"), "reviewing-a-pull-request-plan---cluster");
    assert_eq!(slug("Gary Club (`gary.seqops.dev/v1alpha1`)"), "gary-club-garyseqopsdevv1alpha1");
    assert_eq!(slug("Who changed what, and why"), "who-changed-what-and-why");
    let made = anchors("# Title\n\n## Same\n\ntext\n\n## Same\n\n```sh\n# not a heading\n```\n");
    let expected: HashSet<String> = ["title", "same", "same-1"].map(String::from).into();
    assert_eq!(made, expected);
}

#[test]
fn missing_files_missing_headings_and_links_out_of_the_repository_are_each_reported_and_code_is_not() {
    let page = Path::new("docs/example.md");
    let text = "# Example\n\n\
        [fine](manifests.md#provider-seqopsdevv1alpha1) [here](#example) [up](../README.md#quick-start)\n\
        [gone](nothing.md)\n\
        [no heading](state.md#no-such-heading)\n\
        [web](https://example.com/) <https://example.org/>\n\
        [outside](../../shared/DESIGN.md)\n\
        see https://example.net/ for more\n\n\
        ```md\n[in code](missing.md) https://example.com/\n```\n\n\
        and `[in a span](missing.md)`\n";
    let found = problems(page, text);
    let expected = [
        "docs/example.md:8: a bare address outside code",
        "docs/example.md:4: nothing.md: there is no docs/nothing.md",
        "docs/example.md:5: state.md#no-such-heading: docs/state.md has no heading",
        "docs/example.md:6: https://example.com/ leaves the repository",
        "docs/example.md:6: https://example.org/ leaves the repository",
        "docs/example.md:7: ../../shared/DESIGN.md leads out of the repository",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (problem, start) in found.iter().zip(expected) {
        assert!(problem.starts_with(start), "{problem:?} should start with {start:?}\n{found:#?}");
    }
}
