//! Just enough of an HTML reader for the DOM Chromium serialises with `--dump-dom`: its
//! output is canonical (lower-case tags, every attribute `name="value"` with `&`, `"`, `<`
//! and `>` escaped, text escaped, raw-text elements written as they are), so a small
//! tokenizer builds the tree the browser had.

/// One node of the tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// An element.
    Element {
        tag: String,
        attrs: Vec<(String, String)>,
        children: Vec<Node>,
    },
    /// Text, unescaped.
    Text(String),
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];
const RAW: &[&str] = &["script", "style", "noscript", "textarea", "title"];

/// The tree of `html`, under a root element named `#document`.
pub fn parse(html: &str) -> Node {
    let mut stack: Vec<Node> = vec![element("#document", Vec::new())];
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.split_once("-->").map_or("", |(_, r)| r);
        } else if rest.starts_with("<!") {
            rest = rest.split_once('>').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("</") {
            let (name, r) = after.split_once('>').unwrap_or((after, ""));
            close(&mut stack, name.trim());
            rest = r;
        } else if rest.starts_with('<') {
            let (tag, attrs, r) = open_tag(&rest[1..]);
            rest = r;
            if VOID.contains(&tag.as_str()) {
                push(&mut stack, element(&tag, attrs));
            } else if RAW.contains(&tag.as_str()) {
                let end = format!("</{tag}>");
                let (body, r) = rest.split_once(&end).unwrap_or((rest, ""));
                let mut e = element(&tag, attrs);
                if let Node::Element { children, .. } = &mut e {
                    children.push(Node::Text(body.to_owned()));
                }
                push(&mut stack, e);
                rest = r;
            } else {
                stack.push(element(&tag, attrs));
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            push(&mut stack, Node::Text(unescape(&rest[..end])));
            rest = &rest[end..];
        }
    }
    while stack.len() > 1 {
        let top = stack.pop().expect("non-empty");
        push(&mut stack, top);
    }
    stack.pop().expect("the document")
}

fn element(tag: &str, attrs: Vec<(String, String)>) -> Node {
    Node::Element {
        tag: tag.to_owned(),
        attrs,
        children: Vec::new(),
    }
}

fn push(stack: &mut [Node], node: Node) {
    if let Some(Node::Element { children, .. }) = stack.last_mut() {
        children.push(node);
    }
}

fn close(stack: &mut Vec<Node>, name: &str) {
    let Some(at) = stack
        .iter()
        .rposition(|n| matches!(n, Node::Element { tag, .. } if tag == name))
    else {
        return;
    };
    if at == 0 {
        return;
    }
    while stack.len() > at {
        let top = stack.pop().expect("non-empty");
        push(stack, top);
    }
}

/// `tag a="1" b>rest` → ("tag", [(a, 1), (b, "")], "rest").
fn open_tag(s: &str) -> (String, Vec<(String, String)>, &str) {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(s.len());
    let tag = s[..name_end].to_ascii_lowercase();
    let mut rest = &s[name_end..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/>").or_else(|| rest.strip_prefix('>')) {
            return (tag, attrs, r);
        }
        if rest.is_empty() {
            return (tag, attrs, rest);
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
            .unwrap_or(rest.len());
        let name = rest[..end].to_owned();
        rest = &rest[end..];
        let value = if let Some(r) = rest.strip_prefix("=\"") {
            let close = r.find('"').unwrap_or(r.len());
            let v = unescape(&r[..close]);
            rest = r.get(close + 1..).unwrap_or("");
            v
        } else {
            String::new()
        };
        attrs.push((name, value));
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

impl Node {
    /// Its tag (`""` for text).
    pub fn tag(&self) -> &str {
        match self {
            Node::Element { tag, .. } => tag,
            Node::Text(_) => "",
        }
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        match self {
            Node::Element { attrs, .. } => attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            Node::Text(_) => None,
        }
    }

    /// Whether its `class` has `class`.
    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|c| c == class))
    }

    /// Its direct children (none for text).
    pub fn children(&self) -> &[Node] {
        match self {
            Node::Element { children, .. } => children,
            Node::Text(_) => &[],
        }
    }

    /// Every element below (and including) it, in document order.
    pub fn elements(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        self.walk(&mut out);
        out
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        if let Node::Element { children, .. } = self {
            out.push(self);
            for c in children {
                c.walk(out);
            }
        }
    }

    /// The elements below it with tag `tag` (any when empty) and class `class` (any when
    /// empty).
    pub fn find(&self, tag: &str, class: &str) -> Vec<&Node> {
        self.elements()
            .into_iter()
            .filter(|e| {
                (tag.is_empty() || e.tag() == tag) && (class.is_empty() || e.has_class(class))
            })
            .collect()
    }

    /// Its text, as `textContent` gives it.
    pub fn text(&self) -> String {
        match self {
            Node::Text(t) => t.clone(),
            Node::Element { children, .. } => children.iter().map(Node::text).collect(),
        }
    }
}

#[test]
fn the_reader_builds_the_tree_chromium_serialises() {
    let doc = parse(
        "<!DOCTYPE html><html><head><style>a>b{}</style></head><body><p class=\"x y\" \
         data-a=\"&quot;&lt;\">a &lt;b&gt; <code>c</code><br>d</p><video src=\"v.mp4\"></video></body></html>",
    );
    let p = doc.find("p", "y")[0];
    assert_eq!(p.attr("data-a"), Some("\"<"));
    assert_eq!(p.text(), "a <b> cd");
    assert_eq!(doc.find("style", "")[0].text(), "a>b{}");
    assert_eq!(doc.find("video", "")[0].attr("src"), Some("v.mp4"));
    assert_eq!(doc.find("", "x").len(), 1);
}
