//! Password redaction for every URL that is shown to a person.

const MASK: &str = "***";

/// `url` with its password replaced by `***`: `postgresql://nelo:***@host:5432/db`.
/// Also masks a `password=` query or key/value parameter. A URL without a password is
/// returned unchanged.
pub fn redact_url(url: &str) -> String {
    let redacted = match url.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = &url[rest_start..];
            let query_start = rest.find(['?', '#']).unwrap_or(rest.len());
            match rest[..query_start].rfind('@') {
                Some(at) => {
                    let userinfo = &rest[..at];
                    match userinfo.find(':') {
                        Some(colon) => format!(
                            "{}{}:{MASK}{}",
                            &url[..rest_start],
                            &userinfo[..colon],
                            &rest[at..]
                        ),
                        None => url.to_string(),
                    }
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    mask_password_parameters(&redacted)
}

/// Masks the value of every `password=` parameter (`?password=x&...` or `password=x host=...`).
fn mask_password_parameters(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    while let Some(found) = lower[cursor..].find("password=") {
        let key_start = cursor + found;
        let preceded_ok =
            key_start == 0 || matches!(text.as_bytes()[key_start - 1], b'?' | b'&' | b' ' | b'\t');
        let value_start = key_start + "password=".len();
        if !preceded_ok {
            out.push_str(&text[cursor..value_start]);
            cursor = value_start;
            continue;
        }
        let value_end = text[value_start..]
            .find(['&', ' ', '\t', '#'])
            .map_or(text.len(), |end| value_start + end);
        out.push_str(&text[cursor..value_start]);
        out.push_str(MASK);
        cursor = value_end;
    }
    out.push_str(&text[cursor..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn masks_password_in_userinfo() {
        assert_eq!(
            redact_url("postgresql://nelo:s3cret@localhost:5432/nelo"),
            "postgresql://nelo:***@localhost:5432/nelo"
        );
    }

    #[test]
    fn keeps_url_without_password() {
        let url = "postgres://nelo@localhost/nelo?sslmode=disable";
        assert_eq!(redact_url(url), url);
        assert_eq!(
            redact_url("postgres://localhost/db"),
            "postgres://localhost/db"
        );
    }

    #[test]
    fn password_with_at_sign_and_colon_is_fully_masked() {
        let redacted = redact_url("postgresql://nelo:p@ss:w0rd@db.example:5432/app");
        assert_eq!(redacted, "postgresql://nelo:***@db.example:5432/app");
    }

    #[test]
    fn masks_password_query_parameter() {
        assert_eq!(
            redact_url("postgres://db/app?user=nelo&password=hunter2&sslmode=require"),
            "postgres://db/app?user=nelo&password=***&sslmode=require"
        );
    }

    #[test]
    fn masks_key_value_form() {
        assert_eq!(
            redact_url("host=db user=nelo password=hunter2 dbname=app"),
            "host=db user=nelo password=*** dbname=app"
        );
    }

    #[test]
    fn at_sign_in_query_is_not_userinfo() {
        let url = "postgres://db/app?application_name=a@b";
        assert_eq!(redact_url(url), url);
    }
}
