//! The Markdown fence encoding (SPEC.md §6.3).
//!
//! A claim is the content of a fenced code block (CommonMark §4.5, backticks or tildes)
//! whose info string's first word is exactly `kez`. The content is a claim in JSON or
//! compact form. A document may hold several such blocks; other blocks are ignored.
//! Blocks are found with a CommonMark parser, so fences inside block quotes and list
//! items count, and fence-like text inside other code blocks does not.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::claim::Claim;
use crate::encoding::{compact, DecodeError, Decoded, Located};

/// Encodes `claim` as a Markdown document of one `kez` fence holding its JCS form.
pub fn encode(claim: &Claim) -> String {
    format!("```kez\n{}\n```\n", String::from_utf8_lossy(claim.to_jcs()))
}

/// The content of every `kez` fence in `document`, with the 1-based line of its opening
/// fence.
pub fn extract(document: &str) -> Vec<Located<String>> {
    let mut found = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (event, range) in Parser::new(document).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if info.split_whitespace().next() == Some("kez") =>
            {
                let line = document[..range.start].matches('\n').count() + 1;
                current = Some((line, String::new()));
            }
            Event::Text(text) => {
                if let Some((_, content)) = current.as_mut() {
                    content.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((line, item)) = current.take() {
                    found.push(Located { line, item });
                }
            }
            _ => {}
        }
    }
    found
}

/// True if `document` holds at least one `kez` fence.
pub fn has_kez_fence(document: &str) -> bool {
    kez_fences(document).is_some()
}

/// The content of every `kez` fence in `document`, or `None` when it holds none. A document
/// with no fence marker at all is not parsed.
pub(crate) fn kez_fences(document: &str) -> Option<Vec<Located<String>>> {
    if !(document.contains("```") || document.contains("~~~")) {
        return None;
    }
    Some(extract(document)).filter(|blocks| !blocks.is_empty())
}

/// Decodes every `kez` fence in `document`.
pub fn decode_all(document: &str) -> Decoded {
    decode_blocks(extract(document))
}

/// Decodes the contents of `kez` fences.
pub(crate) fn decode_blocks(blocks: Vec<Located<String>>) -> Decoded {
    blocks
        .into_iter()
        .map(|block| Located {
            line: block.line,
            item: decode_block(block.item.trim()),
        })
        .collect()
}

fn decode_block(content: &str) -> Result<Claim, DecodeError> {
    if content.starts_with("kez:") {
        compact::decode(content)
    } else {
        Claim::from_json(content.as_bytes()).map_err(DecodeError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ClaimBuilder;
    use crate::key::{Algorithm, SecretKey};

    fn claim(subject: &str) -> Claim {
        let key = SecretKey::from_bytes(Algorithm::Ed25519, &[4; 32]).unwrap();
        ClaimBuilder::new(subject.parse().unwrap(), 1_767_225_600)
            .sign(&key, None)
            .unwrap()
    }

    #[test]
    fn finds_several_fences_and_ignores_others() {
        let a = claim("github:jason");
        let b = claim("dns:example.com");
        let doc = format!(
            "# My proofs\n\n```json\n{{}}\n```\n\n{}\nSome text.\n\n~~~~ kez extra words\n{}\n~~~~\n\n> ```kez\n> {}\n> ```\n\n    ```kez\n    indented code, not a fence\n    ```\n",
            encode(&a),
            compact::encode(&b),
            String::from_utf8_lossy(a.to_jcs()),
        );
        let found = decode_all(&doc);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].line, 7);
        assert_eq!(found[0].item.as_ref().unwrap().to_jcs(), a.to_jcs());
        assert_eq!(found[1].item.as_ref().unwrap().to_jcs(), b.to_jcs());
        assert_eq!(found[2].item.as_ref().unwrap().to_jcs(), a.to_jcs());
    }

    #[test]
    fn info_string_must_be_exactly_kez() {
        let a = claim("github:jason");
        let doc = format!(
            "```kezz\n{}\n```\n```KEZ\n{}\n```\n",
            String::from_utf8_lossy(a.to_jcs()),
            String::from_utf8_lossy(a.to_jcs())
        );
        assert!(decode_all(&doc).is_empty());
    }

    #[test]
    fn a_broken_block_does_not_hide_a_good_one() {
        let a = claim("github:jason");
        let doc = format!("```kez\n{{\"kez\":\"0.2\"}}\n```\n\n{}", encode(&a));
        let found = decode_all(&doc);
        assert_eq!(found.len(), 2);
        assert!(found[0].item.is_err());
        assert!(found[1].item.is_ok());
    }

    #[test]
    fn unterminated_fence_runs_to_end_of_document() {
        // CommonMark: an unclosed fence ends at the end of the document.
        let a = claim("github:jason");
        let doc = format!("```kez\n{}\n", String::from_utf8_lossy(a.to_jcs()));
        let found = decode_all(&doc);
        assert_eq!(found.len(), 1);
        assert!(found[0].item.is_ok());
    }
}
