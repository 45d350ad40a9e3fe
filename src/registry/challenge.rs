//! The `WWW-Authenticate` header of a registry's 401 response (RFC 7235, RFC 6750, and Docker's
//! token authentication), parsed into the challenges tidewatch can answer.
//!
//! A registry does not say up front how to authenticate: the client tries anonymously and the 401
//! names a scheme. For `Bearer` the header also names the token server (`realm`) that tidewatch
//! calls next, with our credentials, so the realm is checked here to be an http(s) URL before
//! anything is sent to it.
//!
//! The header comes from an untrusted server, so the parser is a single left-to-right pass (linear
//! in the header's length, bounded by [`MAX_HEADER_LEN`]), never panics, and its errors quote at
//! most [`EXCERPT_LEN`] bytes of the input.
//!
//! Hand-written: the grammar needs a lookahead (a comma separates both challenges and
//! parameters), and owning it keeps the error positions and the linear-time bound in view.

/// Longer headers are rejected unread. Real ones are a few hundred bytes (a scope names one
/// repository); 16 KiB leaves room for a scope listing many and stops a server from making us
/// scan megabytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// How much of a bad header an error quotes, in bytes of escaped text: enough to recognise it,
/// too little to flood a log.
pub const EXCERPT_LEN: usize = 80;

/// One way the registry offers to be authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Docker token authentication: fetch a token from `realm` for `service` and `scope`, then
    /// retry with `Authorization: Bearer <token>`.
    Bearer {
        /// An http(s) URL, checked by [`parse`].
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// Send the login and password with every request (ECR, registries behind htpasswd).
    Basic {
        /// Free text for people; nothing is fetched from it.
        realm: Option<String>,
    },
}

/// Why a header yields no challenge tidewatch can answer.
///
/// Callers mostly report these; [`ChallengeError::NoUsableChallenge`] is split out because it is
/// not the server misbehaving but a scheme we do not speak (Negotiate, Digest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The header breaks the RFC 7235 grammar; `position` is the byte offset where parsing
    /// stopped, which locates the problem even when the excerpt is cut short.
    #[error("malformed www-authenticate header \"{excerpt}\": {reason} at byte {position}")]
    Malformed {
        excerpt: String,
        position: usize,
        reason: &'static str,
    },
    /// Split out so that a gigantic header does not even get an excerpt.
    #[error("www-authenticate header is {len} bytes, longer than the {max} accepted")]
    TooLong { len: usize, max: usize },
    #[error("www-authenticate header \"{excerpt}\" offers neither a bearer nor a basic challenge")]
    NoUsableChallenge { excerpt: String },
    #[error("www-authenticate header \"{excerpt}\" has a bearer challenge without a realm")]
    BearerWithoutRealm { excerpt: String },
    /// The realm is fetched with our credentials, so anything but an http(s) URL is refused.
    #[error("bearer realm \"{realm}\" is not an http or https url")]
    InvalidRealm { realm: String },
}

/// Parses every challenge in the header, in the order the server sent them.
///
/// A header may hold several challenges (`Basic realm="x", Bearer realm="https://y",service="z"`);
/// unknown schemes are skipped, and when none is left that is
/// [`ChallengeError::NoUsableChallenge`], so an `Ok` is never empty.
pub fn parse(header: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(ChallengeError::TooLong {
            len: header.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let raw = Parser::new(header).challenges()?;
    let mut challenges = Vec::with_capacity(raw.len());
    for challenge in raw {
        if challenge.scheme.eq_ignore_ascii_case("bearer") {
            let realm = challenge
                .realm
                .ok_or_else(|| ChallengeError::BearerWithoutRealm {
                    excerpt: excerpt(header),
                })?;
            check_realm(&realm)?;
            challenges.push(Challenge::Bearer {
                realm,
                service: challenge.service,
                scope: challenge.scope,
            });
        } else if challenge.scheme.eq_ignore_ascii_case("basic") {
            challenges.push(Challenge::Basic {
                realm: challenge.realm,
            });
        }
    }
    if challenges.is_empty() {
        return Err(ChallengeError::NoUsableChallenge {
            excerpt: excerpt(header),
        });
    }
    Ok(challenges)
}

/// The realm is fetched next, with credentials attached: only a URL with a host over http(s).
fn check_realm(realm: &str) -> Result<(), ChallengeError> {
    let invalid = || ChallengeError::InvalidRealm {
        realm: excerpt(realm),
    };
    let url = reqwest::Url::parse(realm).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(())
}

/// The start of an untrusted string, escaped as Rust's `Debug` does (so binary junk stays one
/// printable line) and cut after [`EXCERPT_LEN`] bytes of escaped text, for error messages to
/// quote.
fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let escaped = c.escape_debug();
        if out.len() + escaped.len() > EXCERPT_LEN {
            out.push('…');
            break;
        }
        out.extend(escaped);
    }
    out
}

/// A challenge as written, before we decide whether we can use it. Only the parameters tidewatch
/// reads are kept; the rest (`error`, `charset`, Digest's `nonce`) are checked for syntax only.
struct RawChallenge {
    scheme: String,
    realm: Option<String>,
    service: Option<String>,
    scope: Option<String>,
}

/// A cursor over the header's bytes. Every delimiter in the grammar is ASCII, so every position
/// where it slices is also a character boundary of the `&str`.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

/// RFC 7230 `tchar`: the characters of a scheme, a parameter name and an unquoted value.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7235 `token68` characters (without the trailing `=` padding), for schemes such as
/// Negotiate whose challenge is one opaque blob instead of parameters.
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser { input, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, pos: usize) -> Option<u8> {
        self.input.as_bytes().get(pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn malformed(&self, reason: &'static str) -> ChallengeError {
        ChallengeError::Malformed {
            excerpt: excerpt(self.input),
            position: self.pos,
            reason,
        }
    }

    /// Skips spaces and tabs; returns whether there were any.
    fn skip_ows(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Skips whitespace and commas: RFC 7230's list syntax allows empty elements.
    fn skip_separators(&mut self) {
        while self.peek().is_some_and(|b| is_ows(b) || b == b',') {
            self.pos += 1;
        }
    }

    /// Length of the run of tchars at `pos`.
    fn token_len_at(&self, pos: usize) -> usize {
        self.input.as_bytes()[pos.min(self.input.len())..]
            .iter()
            .take_while(|b| is_tchar(**b))
            .count()
    }

    fn token(&mut self, what: &'static str) -> Result<&'a str, ChallengeError> {
        let len = self.token_len_at(self.pos);
        if len == 0 {
            return Err(self.malformed(what));
        }
        let token = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(token)
    }

    /// Whether a `token BWS "="` starts at the cursor, i.e. the next list element is a
    /// parameter of the current challenge rather than a new challenge. Does not move the cursor.
    fn param_follows(&self) -> bool {
        let mut pos = self.pos + self.token_len_at(self.pos);
        if pos == self.pos {
            return false;
        }
        while self.peek_at(pos).is_some_and(is_ows) {
            pos += 1;
        }
        self.peek_at(pos) == Some(b'=')
    }

    /// If a token68 blob (`abc+/==`) that ends the challenge starts at the cursor, its length.
    /// `realm=x` is not one: after the `=` padding only whitespace, a comma or the end may follow.
    fn token68_len(&self) -> Option<usize> {
        let bytes = self.input.as_bytes();
        let mut pos = self.pos;
        while bytes.get(pos).copied().is_some_and(is_token68_char) {
            pos += 1;
        }
        if pos == self.pos {
            return None;
        }
        while bytes.get(pos) == Some(&b'=') {
            pos += 1;
        }
        let end = pos;
        while bytes.get(pos).copied().is_some_and(is_ows) {
            pos += 1;
        }
        matches!(bytes.get(pos), None | Some(b',')).then_some(end - self.pos)
    }

    fn challenges(mut self) -> Result<Vec<RawChallenge>, ChallengeError> {
        let mut challenges = Vec::new();
        loop {
            self.skip_separators();
            if self.at_end() {
                return Ok(challenges);
            }
            if self.param_follows() {
                return Err(self.malformed("parameter before any auth scheme"));
            }
            challenges.push(self.challenge()?);
        }
    }

    /// One `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, leaving the cursor on the comma
    /// that ends it (or at the end).
    fn challenge(&mut self) -> Result<RawChallenge, ChallengeError> {
        let scheme = self.token("expected an auth scheme")?;
        let mut challenge = RawChallenge {
            scheme: scheme.to_owned(),
            realm: None,
            service: None,
            scope: None,
        };
        let spaced = self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(challenge),
            Some(_) if !spaced => return Err(self.malformed("expected a space after the scheme")),
            Some(_) => {}
        }
        if let Some(len) = self.token68_len() {
            // An opaque blob carries nothing we read (a bearer with one still lacks a realm).
            self.pos += len;
            self.skip_ows();
            return Ok(challenge);
        }
        loop {
            self.param(&mut challenge)?;
            self.skip_ows();
            match self.peek() {
                None => return Ok(challenge),
                Some(b',') => {}
                Some(_) => return Err(self.malformed("expected a comma after a parameter")),
            }
            // Look past the comma(s): another parameter continues this challenge, anything
            // else starts the next one, which the caller parses from the comma on.
            let comma = self.pos;
            self.skip_separators();
            if !self.param_follows() {
                self.pos = comma;
                return Ok(challenge);
            }
        }
    }

    /// One `token BWS "=" BWS ( token / quoted-string )`, stored if tidewatch reads it.
    fn param(&mut self, challenge: &mut RawChallenge) -> Result<(), ChallengeError> {
        let name = self.token("expected a parameter name")?;
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Err(self.malformed("expected '=' after a parameter name"));
        }
        self.pos += 1;
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token("expected a token or a quoted string as parameter value")?
                .to_owned()
        };
        let slot = if name.eq_ignore_ascii_case("realm") {
            &mut challenge.realm
        } else if name.eq_ignore_ascii_case("service") {
            &mut challenge.service
        } else if name.eq_ignore_ascii_case("scope") {
            &mut challenge.scope
        } else {
            return Ok(());
        };
        if slot.is_some() {
            // RFC 7235 forbids repeats; guessing which one the server meant could send our
            // credentials to the wrong realm.
            return Err(self.malformed("parameter repeated in one challenge"));
        }
        *slot = Some(value);
        Ok(())
    }

    /// A `quoted-string` with `\` escapes, cursor on its opening quote.
    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.malformed("unterminated quoted string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || !b.is_ascii_control() => value.push(b),
                        None => {
                            self.pos = start;
                            return Err(self.malformed("unterminated quoted string"));
                        }
                        Some(_) => return Err(self.malformed("control character in quoted string")),
                    }
                    self.pos += 1;
                }
                Some(b) if b == b'\t' || !b.is_ascii_control() => {
                    value.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err(self.malformed("control character in quoted string")),
            }
        }
        // Only ASCII backslashes were dropped from valid UTF-8, so this cannot fail; mapping
        // the error anyway keeps the function panic-free.
        String::from_utf8(value).map_err(|_| self.malformed("invalid utf-8 in quoted string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which variant a bad header must produce; a mirror of [`ChallengeError`] without fields,
    /// so a new variant breaks the build here.
    #[derive(Debug, PartialEq)]
    enum Kind {
        Malformed,
        TooLong,
        NoUsable,
        NoRealm,
        InvalidRealm,
    }

    enum Want {
        Challenges(Vec<Challenge>),
        /// The variant, and a fragment the message must contain.
        Error(Kind, &'static str),
    }

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scope: scope.map(str::to_owned),
        }
    }

    fn basic(realm: Option<&str>) -> Challenge {
        Challenge::Basic {
            realm: realm.map(str::to_owned),
        }
    }

    fn ok(challenges: Vec<Challenge>) -> Want {
        Want::Challenges(challenges)
    }

    fn err(kind: Kind, fragment: &'static str) -> Want {
        Want::Error(kind, fragment)
    }

    /// The only place the tests call the API. Every error must read as one short, lowercase
    /// line whatever the input was.
    fn check(header: &str, want: Want) {
        let label = excerpt(header);
        let parsed = parse(header);
        match want {
            Want::Challenges(expected) => {
                assert_eq!(parsed, Ok(expected), "challenges of {label:?}");
            }
            Want::Error(kind, fragment) => {
                let err = parsed.expect_err(&format!("{label:?} should be rejected"));
                let actual = match err {
                    ChallengeError::Malformed { .. } => Kind::Malformed,
                    ChallengeError::TooLong { .. } => Kind::TooLong,
                    ChallengeError::NoUsableChallenge { .. } => Kind::NoUsable,
                    ChallengeError::BearerWithoutRealm { .. } => Kind::NoRealm,
                    ChallengeError::InvalidRealm { .. } => Kind::InvalidRealm,
                };
                assert_eq!(actual, kind, "variant for {label:?}: {err}");
                let message = err.to_string();
                assert!(message.contains(fragment), "{message}");
                assert!(!message.ends_with('.'), "{message}");
                assert!(!message.starts_with(char::is_uppercase), "{message}");
                assert!(!message.contains('\n'), "{message}");
                assert!(message.chars().count() < 400, "{message}");
            }
        }
    }

    #[test]
    fn headers() {
        let junk_mb = "a".repeat(1 << 20);
        let long_realm = format!(
            "Bearer realm=\"https://auth.example/{}\"",
            "x".repeat(MAX_HEADER_LEN - 40)
        );
        let long_junk = "\u{1}".repeat(MAX_HEADER_LEN);
        let cases: Vec<(&str, Want)> = vec![
            // Real registries.
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                ok(vec![bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/nginx:pull"),
                )]),
            ),
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull",error="insufficient_scope""#,
                ok(vec![bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/nginx:pull"),
                )]),
            ),
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull""#,
                ok(vec![bearer(
                    "https://ghcr.io/token",
                    Some("ghcr.io"),
                    Some("repository:user/image:pull"),
                )]),
            ),
            (
                r#"Bearer realm="https://quay.io/v2/auth",service="quay.io""#,
                ok(vec![bearer(
                    "https://quay.io/v2/auth",
                    Some("quay.io"),
                    None,
                )]),
            ),
            (
                r#"Bearer realm="https://gitlab.com/jwt/auth",service="container_registry",scope="repository:group/project:pull""#,
                ok(vec![bearer(
                    "https://gitlab.com/jwt/auth",
                    Some("container_registry"),
                    Some("repository:group/project:pull"),
                )]),
            ),
            (
                r#"Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#,
                ok(vec![basic(Some(
                    "https://123.dkr.ecr.us-east-1.amazonaws.com/",
                ))]),
            ),
            // distribution's `silly` auth (Go %q), with a space-separated multi-scope.
            (
                r#"Bearer realm="http://127.0.0.1:5001/auth",service="silly",scope="repository:a/b:pull repository:c:pull,push""#,
                ok(vec![bearer(
                    "http://127.0.0.1:5001/auth",
                    Some("silly"),
                    Some("repository:a/b:pull repository:c:pull,push"),
                )]),
            ),
            // distribution's htpasswd auth.
            (
                r#"Basic realm="Registry Realm""#,
                ok(vec![basic(Some("Registry Realm"))]),
            ),
            // Several challenges in one header, order kept.
            (
                r#"Basic realm="x", Bearer realm="https://y/token",service="z""#,
                ok(vec![
                    basic(Some("x")),
                    bearer("https://y/token", Some("z"), None),
                ]),
            ),
            (
                r#"Bearer realm="https://y/token", scope="a:b:pull", Basic"#,
                ok(vec![
                    bearer("https://y/token", None, Some("a:b:pull")),
                    basic(None),
                ]),
            ),
            // Case-insensitive scheme and names; values keep their case.
            (
                r#"BEARER REALM="https://Auth.Example/Token",SERVICE="Reg""#,
                ok(vec![bearer(
                    "https://Auth.Example/Token",
                    Some("Reg"),
                    None,
                )]),
            ),
            // Whitespace around '=' and ',', tabs, empty list elements.
            (
                ", \tbearer  realm = \"https://a/t\" ,\tservice\t=\treg ,, ",
                ok(vec![bearer("https://a/t", Some("reg"), None)]),
            ),
            // Unquoted token values.
            (
                "Bearer realm=\"https://a/t\",service=registry.docker.io,scope=x",
                ok(vec![bearer(
                    "https://a/t",
                    Some("registry.docker.io"),
                    Some("x"),
                )]),
            ),
            // Escapes; a comma and an '=' inside quotes.
            (
                r#"Basic realm="say \"hi\", a=b \\ \q""#,
                ok(vec![basic(Some(r#"say "hi", a=b \ q"#))]),
            ),
            (r#"Basic realm="café""#, ok(vec![basic(Some("café"))])),
            (
                r#"Basic charset="UTF-8", realm="x""#,
                ok(vec![basic(Some("x"))]),
            ),
            // Unknown schemes are skipped, with params or a token68 blob.
            (
                r#"Negotiate, Digest realm="d", nonce="n", qop="auth", Bearer realm="https://a/t""#,
                ok(vec![bearer("https://a/t", None, None)]),
            ),
            (
                "Negotiate YIIabc+/== , Basic realm=r",
                ok(vec![basic(Some("r"))]),
            ),
            (
                r#"Digest realm="d", nonce="n""#,
                err(Kind::NoUsable, "neither a bearer nor a basic"),
            ),
            ("", err(Kind::NoUsable, "neither")),
            (" , ", err(Kind::NoUsable, "neither")),
            // Bearer must name an http(s) realm.
            (
                r#"Bearer service="registry.docker.io""#,
                err(Kind::NoRealm, "without a realm"),
            ),
            ("Bearer", err(Kind::NoRealm, "without a realm")),
            ("Bearer abc==", err(Kind::NoRealm, "without a realm")),
            (
                r#"Bearer error="invalid_token""#,
                err(Kind::NoRealm, "without a realm"),
            ),
            (
                r#"Bearer realm="registry""#,
                err(Kind::InvalidRealm, "\"registry\" is not an http"),
            ),
            (
                r#"Bearer realm="file:///etc/passwd""#,
                err(Kind::InvalidRealm, "not an http"),
            ),
            (r#"Bearer realm="""#, err(Kind::InvalidRealm, "not an http")),
            (
                r#"Bearer realm="https://""#,
                err(Kind::InvalidRealm, "not an http"),
            ),
            // Grammar errors.
            (
                r#"Bearer realm="https://unterminated"#,
                err(Kind::Malformed, "unterminated quoted string at byte 13"),
            ),
            (
                r#"Basic realm="a\"#,
                err(Kind::Malformed, "unterminated quoted string"),
            ),
            (
                "Bearer realm=https://a/t",
                err(
                    Kind::Malformed,
                    "expected a comma after a parameter at byte 18",
                ),
            ),
            (
                r#"Bearer realm="https://a/t",realm="https://evil/t""#,
                err(Kind::Malformed, "parameter repeated"),
            ),
            (
                r#"realm="https://a/t""#,
                err(
                    Kind::Malformed,
                    "parameter before any auth scheme at byte 0",
                ),
            ),
            (
                r#"Bearer"https://a/t""#,
                err(Kind::Malformed, "expected a space after the scheme"),
            ),
            (
                r#"Bearer realm="https://a/t", service"#,
                // `service` alone is read as a new (unknown) scheme, then nothing usable is
                // lost; but `service ="x"` would have been a parameter.
                ok(vec![bearer("https://a/t", None, None)]),
            ),
            (
                // `realm=` without a value reads as a token68 blob, which cannot take parameters.
                r#"Bearer realm=,service="s""#,
                err(
                    Kind::Malformed,
                    "parameter before any auth scheme at byte 14",
                ),
            ),
            (
                r#"Bearer realm="https://a/t" service="s""#,
                err(Kind::Malformed, "expected a comma"),
            ),
            (
                "Basic realm=\"a\u{7}b\"",
                err(Kind::Malformed, "control character in quoted string"),
            ),
            (
                "\u{0}\u{1}\u{7f}\u{fffd}garbage",
                err(
                    Kind::Malformed,
                    r#""\0\u{1}\u{7f}�garbage": expected an auth scheme"#,
                ),
            ),
            // Size: a long but legal header is fine; past the bound nothing is quoted.
            (
                long_realm.as_str(),
                ok(vec![bearer(
                    &long_realm[14..long_realm.len() - 1],
                    None,
                    None,
                )]),
            ),
            (
                junk_mb.as_str(),
                err(Kind::TooLong, "1048576 bytes, longer than the 16384"),
            ),
            (
                long_junk.as_str(),
                err(Kind::Malformed, "…\": expected an auth scheme"),
            ),
        ];
        assert!(cases.len() >= 20);
        for (header, want) in cases {
            check(header, want);
        }
    }

    /// Headers at the size bound built to hit each lookahead: each must be rejected or accepted
    /// quickly, which a quadratic rescan (lookahead per comma over the rest) would not be.
    #[test]
    fn worst_cases_at_the_size_limit_get_an_answer() {
        // The 16 KiB cap bounds the work whatever the parser's cost per byte; what matters here
        // is that each adversarial header at the cap ends in a definite, correct answer.
        let bound = MAX_HEADER_LEN;
        let cases: [(String, &str); 6] = [
            (",".repeat(bound), "no usable"),
            ("a=".repeat(bound / 2), "malformed"),
            (
                "Basic ".to_owned() + &"a=b,".repeat((bound - 6) / 4),
                "basic",
            ),
            // `x` is Basic's opaque blob, then each `, x` an unknown scheme, skipped.
            (
                "Basic ".to_owned() + &"x, ".repeat((bound - 6) / 3),
                "basic",
            ),
            (
                "Basic realm=\"".to_owned() + &"\\\"".repeat((bound - 13) / 2),
                "malformed",
            ),
            (
                "Negotiate ".to_owned() + &"+".repeat(bound - 10),
                "no usable",
            ),
        ];
        for (header, expected) in &cases {
            assert!(header.len() <= bound);
            let got = match parse(header) {
                Ok(challenges) if challenges == [Challenge::Basic { realm: None }] => "basic",
                Ok(other) => panic!("unexpected {other:?}"),
                Err(ChallengeError::Malformed { .. }) => "malformed",
                Err(ChallengeError::NoUsableChallenge { .. }) => "no usable",
                Err(other) => panic!("unexpected {other}"),
            };
            assert_eq!(got, *expected, "{}…", &header[..20]);
        }
        let too_long = "Basic ".to_owned() + &"a".repeat(bound);
        assert!(matches!(
            parse(&too_long),
            Err(ChallengeError::TooLong { .. })
        ));
    }
}
