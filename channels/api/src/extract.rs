//! Finding proof texts inside free text (SPEC.md §11.1): a post, a profile field, a note.
//!
//! Platforms wrap proofs in other text ("my KEZ proof: kez:z1:…"). [`proof_texts`] cuts out
//! what the KEZ decoders (SPEC.md §6.5) can read: a document holding a ```` ```kez ```` fence
//! is kept whole (Markdown); otherwise each `kez:` token is one compact text; otherwise text
//! that starts with `{` is kept whole (JSON). Anything else holds no proof.

/// The proof texts in `text`, in order of appearance.
pub fn proof_texts(text: &str) -> Vec<String> {
    if text.contains("```kez") || text.contains("~~~kez") {
        return vec![text.to_string()];
    }
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("kez:") {
        let at_boundary = rest[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_token_char(c));
        let token_len = rest[start..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(rest.len() - start);
        if at_boundary {
            found.push(rest[start..start + token_len].to_string());
        }
        rest = &rest[start + token_len.max(4)..];
    }
    if found.is_empty() && text.trim_start().starts_with('{') {
        found.push(text.to_string());
    }
    found
}

/// Characters of a compact text (`kez:z1:` and base64url).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_')
}

#[cfg(test)]
mod tests {
    use super::proof_texts;

    #[test]
    fn cuts_compact_tokens_out_of_prose() {
        assert_eq!(
            proof_texts("my proof: kez:z1:AbC-_9. and kez:z1:XyZ!"),
            ["kez:z1:AbC-_9", "kez:z1:XyZ"]
        );
    }

    #[test]
    fn a_token_glued_to_a_word_is_not_a_proof() {
        assert!(proof_texts("notkez:z1:abc").is_empty());
        assert!(proof_texts("no proof here").is_empty());
    }

    #[test]
    fn keeps_markdown_and_json_whole() {
        let md = "hello\n```kez\n{\"kez\":\"0.2\"}\n```\n";
        assert_eq!(proof_texts(md), [md]);
        let json = "  {\"kez\":\"0.2\"}";
        assert_eq!(proof_texts(json), [json]);
    }
}
