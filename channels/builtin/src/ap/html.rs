//! HTML to text for ActivityPub content (SPEC-ap §11.7): profile summaries, `PropertyValue`
//! values and note contents are HTML fragments.
//!
//! Tags are removed (quoted attribute values may hold `>`), `<br>` becomes a line feed and the
//! end of a block (`</p>`, `</div>`, `</li>`, `</pre>`, `</blockquote>`, headings) two, so that
//! proof tokens in separate paragraphs stay apart and a Markdown fence keeps its lines.
//! Comments and the contents of `<script>` and `<style>` are dropped. Character references are
//! decoded: the named ones servers write (`&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&nbsp;`) and
//! every decimal and hexadecimal one that names a Unicode scalar value; anything else is kept
//! as written.

/// The text of an HTML fragment.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with("<!--") {
            rest = rest[4..].find("-->").map_or("", |end| &rest[4 + end + 3..]);
        } else if rest.starts_with('<') {
            match tag(rest) {
                Some((name, closing, len)) => {
                    rest = &rest[len..];
                    if !closing && (name == "script" || name == "style") {
                        rest = skip_element(rest, &name);
                    } else if name == "br" {
                        out.push('\n');
                    } else if closing && is_block(&name) {
                        out.push_str("\n\n");
                    }
                }
                None => {
                    // A `<` that opens no tag is text.
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            let (text, len) = reference(rest);
            out.push_str(&text);
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

/// A tag at the start of `text`: its lowercase name, whether it closes, and its length.
fn tag(text: &str) -> Option<(String, bool, usize)> {
    let bytes = text.as_bytes();
    let mut i = 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric()) {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name = text[name_start..i].to_ascii_lowercase();
    let mut quote = None;
    while let Some(&b) = bytes.get(i) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some((name, closing, i + 1)),
            None => {}
        }
        i += 1;
    }
    None
}

/// What follows the end tag of a raw-text element.
fn skip_element<'a>(text: &'a str, name: &str) -> &'a str {
    let lower = text.to_ascii_lowercase();
    match lower.find(&format!("</{name}")) {
        Some(at) => match text[at..].find('>') {
            Some(end) => &text[at + end + 1..],
            None => "",
        },
        None => "",
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div" | "li" | "pre" | "blockquote" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
    )
}

/// A character reference at the start of `text` (which starts with `&`): its text and length.
fn reference(text: &str) -> (String, usize) {
    let end = text
        .char_indices()
        .skip(1)
        .take(12)
        .find(|(_, c)| *c == ';')
        .map(|(i, _)| i);
    let Some(end) = end else {
        return ("&".into(), 1);
    };
    let body = &text[1..end];
    let decoded = match body {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => body.strip_prefix('#').and_then(|number| {
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse::<u32>().ok(),
            };
            value.and_then(char::from_u32).filter(|c| *c != '\0')
        }),
    };
    match decoded {
        Some(c) => (c.to_string(), end + 1),
        None => ("&".into(), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn strips_tags_and_decodes_references() {
        assert_eq!(
            to_text(r#"<p>my proof: <a href="x" title="a>b">kez:z1:Ab-_</a> &amp; more</p>"#),
            "my proof: kez:z1:Ab-_ & more\n\n"
        );
        assert_eq!(
            to_text("a&lt;b&#62;c&#x41;&bogus;&#0;&"),
            "a<b>cA&bogus;&#0;&"
        );
    }

    #[test]
    fn keeps_lines_apart() {
        assert_eq!(
            to_text("<p>one</p><p>two<br>three<br/>four</p>"),
            "one\n\ntwo\nthree\nfour\n\n"
        );
    }

    #[test]
    fn drops_comments_scripts_and_styles() {
        assert_eq!(
            to_text("a<!-- kez:z1:hidden -->b<script>kez:z1:x</script>c<STYLE>p{}</style>d"),
            "abcd"
        );
        assert_eq!(to_text("1 < 2 <3"), "1 < 2 <3");
    }
}
