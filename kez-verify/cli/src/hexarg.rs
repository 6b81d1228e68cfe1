//! Hex arguments. For convenience on the command line both cases are accepted; lengths
//! are exact. Errors about secret arguments never show any of their characters.

use zeroize::Zeroizing;

use crate::error::CliError;

/// Decodes the hex value of `flag`, of exactly `expected` bytes when given.
pub(crate) fn decode(flag: &str, text: &str, expected: Option<usize>) -> Result<Vec<u8>, CliError> {
    check(flag, text, expected, false)?;
    hex::decode(text).map_err(|e| CliError::Malformed(format!("{flag}: not hex: {e}")))
}

/// Decodes exactly `N` bytes of hex for `flag`.
pub(crate) fn decode_array<const N: usize>(flag: &str, text: &str) -> Result<[u8; N], CliError> {
    check(flag, text, Some(N), false)?;
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|e| CliError::Malformed(format!("{flag}: not hex: {e}")))?;
    Ok(out)
}

/// Decodes a 32-byte secret for `flag` without ever echoing it.
pub(crate) fn decode_secret(flag: &str, text: &str) -> Result<Zeroizing<[u8; 32]>, CliError> {
    check(flag, text, Some(32), true)?;
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, out.as_mut())
        .map_err(|_| CliError::Malformed(format!("{flag}: not hex")))?;
    Ok(out)
}

fn check(flag: &str, text: &str, expected: Option<usize>, secret: bool) -> Result<(), CliError> {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(CliError::Malformed(if secret {
            format!(
                "{flag}: not hex (a character outside 0-9, a-f, A-F at position {})",
                i + 1
            )
        } else {
            format!(
                "{flag}: not hex: invalid character {c:?} at position {}",
                i + 1
            )
        }));
    }
    match expected {
        Some(n) if text.len() != 2 * n => Err(CliError::Malformed(format!(
            "{flag}: expected {} hex characters ({n} bytes), found {}",
            2 * n,
            text.len()
        ))),
        None if text.len() % 2 != 0 => Err(CliError::Malformed(format!(
            "{flag}: expected an even number of hex characters, found {}",
            text.len()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_cases_exact_lengths() {
        assert_eq!(decode("--msg", "aBcD", None).unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode("--msg", "", None).unwrap(), Vec::<u8>::new());
        assert!(decode("--msg", "abc", None).is_err());
        assert!(decode_array::<2>("--x", "abcdef").is_err());
        assert_eq!(decode_array::<2>("--x", "ABCD").unwrap(), [0xab, 0xcd]);
    }

    #[test]
    fn secret_errors_do_not_echo() {
        let text = format!("{}zz", "5a".repeat(31));
        let err = decode_secret("--secret", &text).unwrap_err().to_string();
        assert!(!err.contains("5a5a") && !err.contains("zz"), "{err}");
    }
}
